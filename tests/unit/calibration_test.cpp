// The router's calibration: isotonic fits against known curves, the JSON it is kept in,
// and the map built into the binary.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "router/router.h"

namespace {

using yantra::router::Calibration;
using yantra::router::kAgreementScore;
using yantra::router::kStudentScore;
using yantra::router::LabelledScore;
namespace fs = std::filesystem;

// Answers whose true pass probability is `truth(score)`, scores uniform in (0, 1).
template <class Truth>
std::vector<LabelledScore> sample(std::string kind, Truth truth, size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<LabelledScore> out;
  for (size_t i = 0; i < n; ++i) {
    double s = u(rng);
    out.push_back({kind, s, u(rng) < truth(s)});
  }
  return out;
}

// Expected calibration error in ten bins of predicted probability.
double ece(const Calibration& c, const std::vector<LabelledScore>& data) {
  double n[10] = {}, p[10] = {}, y[10] = {};
  for (const LabelledScore& d : data) {
    double q = c.probability(d.kind, d.score);
    int b = std::min(9, int(q * 10));
    n[b] += 1, p[b] += q, y[b] += d.passed;
  }
  double e = 0;
  for (int b = 0; b < 10; ++b)
    if (n[b] > 0) e += n[b] / double(data.size()) * std::abs(p[b] / n[b] - y[b] / n[b]);
  return e;
}

TEST(Calibration, FitRecoversAKnownCurveAndCalibratesFreshAnswers) {
  auto truth = [](double s) { return 0.5 + 0.45 * s * s; };  // far from the identity
  auto train = sample("agreement", truth, 4000, 1);
  auto fresh = sample("agreement", truth, 4000, 2);
  Calibration fitted = Calibration::fit(train);
  for (double s : {0.2, 0.5, 0.8}) {
    EXPECT_NEAR(fitted.probability(kAgreementScore, s), truth(s), 0.06) << "score " << s;
  }
  double last = 0;
  for (double s = 0.0; s <= 1.0; s += 0.01) {
    double p = fitted.probability(kAgreementScore, s);
    EXPECT_GE(p, last - 1e-12) << "not monotone at " << s;
    last = p;
  }
  EXPECT_LT(ece(fitted, fresh), 0.03);
  EXPECT_GT(ece(Calibration::none(), fresh), 0.15);  // the raw score is far off
}

TEST(Calibration, KindsAreFittedApartAndUnknownKindsPassThrough) {
  auto sure = sample(
      "student", [](double) { return 0.95; }, 2000, 3);
  auto doubtful = sample(
      "agreement", [](double) { return 0.4; }, 2000, 4);
  sure.insert(sure.end(), doubtful.begin(), doubtful.end());
  Calibration c = Calibration::fit(sure);
  EXPECT_NEAR(c.probability(kStudentScore, 0.6), 0.95, 0.05);
  EXPECT_NEAR(c.probability(kAgreementScore, 0.6), 0.4, 0.06);
  EXPECT_DOUBLE_EQ(c.probability("premium_head", 0.37), 0.37);
  EXPECT_DOUBLE_EQ(Calibration::none().probability(kStudentScore, 1.7), 1.0);
}

TEST(Calibration, SmallBlocksAreNotCertaintiesAndWeakScoresFallToZero) {
  // Three answers, all passed, at the top: a pool of three is shrunk towards the kind's rate.
  std::vector<LabelledScore> few = {{"agreement", 0.2, false}, {"agreement", 0.3, true},
                                    {"agreement", 0.5, false}, {"agreement", 0.9, true},
                                    {"agreement", 0.95, true}, {"agreement", 0.99, true}};
  Calibration c = Calibration::fit(few);
  EXPECT_LT(c.probability(kAgreementScore, 0.99), 1.0);
  EXPECT_GT(c.probability(kAgreementScore, 0.99), c.probability(kAgreementScore, 0.2));
  // Below the lowest score seen, no evidence: linear to 0 at 0.
  double lowest = c.probability(kAgreementScore, 0.2);
  EXPECT_NEAR(c.probability(kAgreementScore, 0.1), lowest / 2, 1e-9);
  EXPECT_DOUBLE_EQ(c.probability(kAgreementScore, 0.0), 0.0);
}

TEST(Calibration, EqualScoresAreOneKnot) {
  std::vector<LabelledScore> tied;
  for (int i = 0; i < 30; ++i) tied.push_back({"student", 0.1, i % 3 == 0});
  for (int i = 0; i < 30; ++i) tied.push_back({"student", 0.7, i % 3 != 0});
  Calibration c = Calibration::fit(tied);
  auto again = Calibration::parse(c.to_json("ties"), "ties.json");
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_NEAR(again->probability(kStudentScore, 0.1), c.probability(kStudentScore, 0.1), 1e-6);
  EXPECT_LT(c.probability(kStudentScore, 0.1), c.probability(kStudentScore, 0.7));
}

TEST(Calibration, RoundTripsThroughItsFile) {
  Calibration c = Calibration::fit(sample(
      "agreement", [](double s) { return s; }, 500, 5));
  std::string text = c.to_json("500 made-up answers");
  EXPECT_NE(text.find("\"fitted_on\": \"500 made-up answers\""), std::string::npos) << text;
  fs::path path = fs::temp_directory_path() / ("yantra-cal-" + std::to_string(getpid()) + ".json");
  ASSERT_TRUE(yantra::write_file_atomic(path.string(), text));
  auto loaded = Calibration::load(path.string());
  ASSERT_TRUE(loaded) << loaded.error().message;
  for (double s : {0.05, 0.33, 0.5, 0.77, 0.99})
    EXPECT_NEAR(loaded->probability(kAgreementScore, s), c.probability(kAgreementScore, s), 1e-6);
  fs::remove(path);
}

TEST(Calibration, BadFilesAreErrorsThatNameTheFileAndWhere) {
  auto broken =
      Calibration::parse("{\n  \"kinds\": {\n    \"agreement\": [[0.1, 0.2],,]\n", "cal.json");
  ASSERT_FALSE(broken);
  EXPECT_EQ(broken.error().message.rfind("cal.json:3:", 0), 0u) << broken.error().message;
  auto falling =
      Calibration::parse(R"({"kinds": {"agreement": [[0.1, 0.9], [0.5, 0.4]]}})", "f.json");
  ASSERT_FALSE(falling);
  EXPECT_NE(falling.error().message.find("f.json"), std::string::npos);
  EXPECT_NE(falling.error().message.find("never fall"), std::string::npos)
      << falling.error().message;
  auto out_of_range = Calibration::parse(R"({"kinds": {"student": [[0.5, 1.5]]}})", "r.json");
  ASSERT_FALSE(out_of_range);
  EXPECT_NE(out_of_range.error().message.find("[0, 1]"), std::string::npos);
  EXPECT_FALSE(Calibration::parse(R"({"agreement": []})", "k.json"));
  auto missing = Calibration::load("/nonexistent/calibration.json");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("/nonexistent/calibration.json"), std::string::npos);
}

// The map shipped in the binary was fitted (it is not the pass-through) and keeps the
// order of scores for both kinds.
TEST(Calibration, TheBuiltInMapIsFittedAndMonotone) {
  const Calibration& c = Calibration::builtin();
  ASSERT_FALSE(c.empty());
  for (std::string_view kind : {kStudentScore, kAgreementScore}) {
    double last = 0;
    bool moved = false;
    for (double s = 0.01; s <= 1.0; s += 0.01) {
      double p = c.probability(kind, s);
      EXPECT_GE(p, last - 1e-12) << kind << " at " << s;
      EXPECT_LE(p, 1.0);
      moved |= std::abs(p - s) > 0.02;
      last = p;
    }
    EXPECT_TRUE(moved) << kind << " is the identity";
  }
}

}  // namespace
