// The pass-probability head learned online, on real data: the 3,300 recorded HumanEval
// answers of three models, streamed once. Each answer is predicted before it is learned
// from (prequential), so the score is honest. Checkpoints every N steps, with the replay
// buffer, and resumes exactly.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>

#include "../unit/test_support.h"
#include "model_support.h"

namespace yantra::student {
namespace {

struct Answer {
  std::vector<float> features;
  std::string model;
  bool passed = false;
};

// The recorded answers as the head sees them: the request's embedding and who answered.
std::vector<Answer> recorded_answers() {
  const std::string dir = std::string(YANTRA_SHARED_DIR) + "/data/humaneval/";
  std::map<std::string, std::vector<float>> embedding;
  for (const auto& p : testing::read_gz_lines(dir + "HumanEval-dev.jsonl.gz"))
    embedding[p["task_id"]] = text_embedding(p["entry_point"].get<std::string>(), {},
                                             p["prompt"].get<std::string>());
  std::vector<Answer> out;
  for (const auto& r : testing::read_gz_lines(dir + "recorded-runs-dev.jsonl.gz")) {
    std::string model = r["model"];
    std::string tier = model.starts_with("codellama") ? "open_local" : "premium";
    out.push_back({pass_features(embedding.at(r["task_id"]), tier, model), model,
                   r["recorded_result"] == "Pass"});
  }
  std::shuffle(out.begin(), out.end(), std::mt19937_64(7));
  return out;
}

TEST(OnlineLearner, PredictsRecordedOutcomesBetterThanEachModelsPassRate) {
  std::vector<Answer> answers = recorded_answers();
  ASSERT_EQ(answers.size(), 3300u) << "shared data missing: " << YANTRA_SHARED_DIR;
  TempDir dir;
  OnlineLearner head = OnlineLearner::open((dir.path / "head.pt").string(), {}).take();
  std::map<std::string, std::pair<double, double>> rate;  // model -> (passes, answers)
  double brier_head = 0, brier_rate = 0, brier_all = 0, sum_p = 0, sum_y = 0;
  double bin_n[10] = {}, bin_p[10] = {}, bin_y[10] = {};
  size_t scored = 0;
  for (size_t i = 0; i < answers.size(); ++i) {
    const Answer& a = answers[i];
    auto& [passes, seen] = rate[a.model];
    double p_head = head.predict(a.features), p_rate = (passes + 1) / (seen + 2);
    double y = a.passed ? 1 : 0;
    int b = std::min(9, int(p_head * 10));
    bin_n[b] += 1, bin_p[b] += p_head, bin_y[b] += y;
    brier_all += (p_head - y) * (p_head - y), sum_p += p_head, sum_y += y;
    if (i >= answers.size() / 3) {  // after a warm-up both have had
      brier_head += (p_head - y) * (p_head - y), brier_rate += (p_rate - y) * (p_rate - y);
      ++scored;
    }
    passes += y, seen += 1;
    ASSERT_TRUE(head.observe({a.features, float(y)}).ok());
  }
  brier_head /= double(scored), brier_rate /= double(scored);
  // The request tells which tasks are hard: knowing it must beat knowing only the model.
  std::printf("prequential Brier: head %.4f, per-model rate %.4f\n", brier_head, brier_rate);
  EXPECT_LT(brier_head, 0.8 * brier_rate) << "head " << brier_head << ", per-model rate " << brier_rate;
  // The head keeps the same prequential score itself, for `yantra eval`.
  PassCalibration c = head.calibration();
  double ece = 0;
  for (int b = 0; b < 10; ++b) ece += std::abs(bin_p[b] - bin_y[b]);
  EXPECT_EQ(c.outcomes, 3300u);
  EXPECT_NEAR(c.brier, brier_all / 3300, 1e-6);
  EXPECT_NEAR(c.ece, ece / 3300, 1e-6);
  EXPECT_NEAR(c.mean_p, sum_p / 3300, 1e-6);
  EXPECT_NEAR(c.pass_rate, sum_y / 3300, 1e-9);
  EXPECT_EQ(head.steps(), 3300u);
  EXPECT_EQ(head.replay_size(), 3300u);  // under the default capacity of 4096
  EXPECT_TRUE(fs::exists(dir.path / "head.pt"));  // checkpointed every 100
}

TEST(OnlineLearner, CheckpointsEveryNStepsAndResumesWhereItWas) {
  std::vector<Answer> answers = recorded_answers();
  TempDir dir;
  const std::string path = (dir.path / "head.pt").string();
  OnlineOptions o;
  o.checkpoint_every = 50, o.replay_capacity = 64;
  OnlineLearner a = OnlineLearner::open(path, o).take();
  for (size_t i = 0; i < 49; ++i) ASSERT_TRUE(a.observe({answers[i].features, 1.f}).ok());
  EXPECT_FALSE(fs::exists(path));
  for (size_t i = 49; i < 150; ++i)
    ASSERT_TRUE(a.observe({answers[i].features, answers[i].passed ? 1.f : 0.f, 0.7f}).ok());
  EXPECT_EQ(a.replay_size(), 64u);  // the reservoir holds its capacity, no more
  // Saved at step 150: a reopened head predicts exactly as this one and knows its state.
  OnlineLearner b = OnlineLearner::open(path, OnlineOptions{}).take();
  EXPECT_EQ(b.steps(), 150u);
  EXPECT_EQ(b.replay_size(), 64u);
  EXPECT_EQ(b.calibration().outcomes, 150u);
  EXPECT_DOUBLE_EQ(b.calibration().brier, a.calibration().brier);
  for (size_t i = 200; i < 210; ++i)
    EXPECT_DOUBLE_EQ(a.predict(answers[i].features), b.predict(answers[i].features));
  // A wrong width is an error, not a crash; a damaged file names itself.
  EXPECT_FALSE(b.observe({std::vector<float>(3, 0.f), 1.f}).ok());
  std::ofstream(path, std::ios::trunc) << "not a checkpoint";
  auto bad = OnlineLearner::open(path, {});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("head.pt"), std::string::npos) << bad.error().message;
}

TEST(OnlineLearner, SoftLabelsPullPredictionsTowardTheTeacher) {
  std::vector<Answer> answers = recorded_answers();
  TempDir dir;
  auto train = [&](double alpha) {
    OnlineOptions o;
    o.alpha = alpha, o.checkpoint_every = 0;
    OnlineLearner head = OnlineLearner::open((dir.path / "unused.pt").string(), o).take();
    // Every answer passed, but the teacher was only 10 % sure of each.
    for (size_t i = 0; i < 300; ++i) EXPECT_TRUE(head.observe({answers[i].features, 1.f, 0.1f}).ok());
    double mean = 0;
    for (size_t i = 300; i < 400; ++i) mean += head.predict(answers[i].features) / 100;
    return mean;
  };
  double hard_only = train(0.0), distilled = train(4.0);
  EXPECT_GT(hard_only, 0.9);
  EXPECT_LT(distilled, hard_only - 0.1) << "hard only " << hard_only << ", distilled " << distilled;
  EXPECT_FALSE(fs::exists(dir.path / "unused.pt"));  // checkpoint_every 0: never written
}

}  // namespace
}  // namespace yantra::student
