// Soft examples through `yantra generate`: two real OpenAI-compatible servers on loopback
// (an open-source and a premium teacher), the real sandbox. When the models agree with
// each other on every probe and against one example of the request, their consensus
// answers, less sure, the example named, and is not learned; when the example is right and
// one model disagrees with it, the example wins; one model alone never outvotes it.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "../unit/test_support.h"
#include "base/base.h"
#include "fixed_answer_server.h"
#include "validator/validator.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using yantra::testing::contains;
using yantra::testing::FixedAnswerServer;

// HumanEval/47 (MIT, held out of the dev data): its second example's median is 8.0.
const char* kMedianPrompt = R"py(

def median(l: list):
    """Return median of elements in the list l.
    >>> median([3, 1, 2, 4, 5])
    3
    >>> median([-10, 4, 6, 1000, 10, 20])
    15.0
    """
)py";
const char* kMedianOpen =
    "def median(l: list):\n    s = sorted(l)\n    n = len(s)\n"
    "    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2.0\n";
const char* kMedianPremium =
    "def median(l: list):\n    l = sorted(l)\n    if len(l) % 2 == 1:\n"
    "        return l[len(l) // 2]\n    return (l[len(l) // 2 - 1] + l[len(l) // 2]) / 2.0\n";

class SoftExamples : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto why = yantra::validator::sandbox_unavailable()) GTEST_FAIL() << *why;
    dir_ = fs::temp_directory_path() /
           ("yantra-soft-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "repo/.yantra");
    fs::create_directories(dir_ / "home");
  }
  void TearDown() override { fs::remove_all(dir_); }

  // An open-source teacher `coder` at `open`, and a premium one `big` at `premium` (if any),
  // asked without a prompt.
  void configure(const FixedAnswerServer& open, const FixedAnswerServer* premium) {
    std::string config = "[providers.local]\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:" +
                         std::to_string(open.port()) +
                         "/v1\"\ntier = \"open_local\"\nmodels = [\"coder\"]\n";
    if (premium)
      config += "[providers.paid]\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:" +
                std::to_string(premium->port()) + "/v1\"\ntier = \"premium\"\nmodels = [\"big\"]\n";
    config += "[router]\npremium_consent = \"always\"\npremium_confidence = 0.9\n";
    ASSERT_TRUE(
        yantra::write_file_atomic((dir_ / "repo/.yantra/config.toml").string(), config).ok());
  }

  // `yantra generate --json`, which exits 1 when nothing passed.
  json generate(const std::string& prompt, int expected_status = 0) {
    fs::path file = dir_ / "request.py";
    EXPECT_TRUE(yantra::write_file_atomic(file.string(), prompt).ok());
    int status = 0;
    std::string out =
        yantra::testing::run_capture("YANTRA_CONFIG_HOME=" + (dir_ / "home").string() + " " +
                                         YANTRA_BINARY + " generate --file " + file.string() +
                                         " --json --repo " + (dir_ / "repo").string() + " 2>&1",
                                     &status);
    EXPECT_EQ(status, expected_status) << out;
    size_t brace = out.find('{');
    EXPECT_NE(brace, std::string::npos) << out;
    return brace == std::string::npos ? json() : json::parse(out.substr(brace));
  }

  fs::path dir_;
};

TEST_F(SoftExamples, ModelsAgreeingAgainstAWrongExampleAnswerAndNameIt) {
  FixedAnswerServer open(kMedianOpen), premium(kMedianPremium);
  configure(open, &premium);
  json a = generate(kMedianPrompt);
  ASSERT_TRUE(a["answered"]) << a.dump(2);
  // Every model was asked (the premium one also to repair its answer) before the example
  // was doubted.
  EXPECT_GE(premium.requests(), 1);
  EXPECT_GE(open.requests(), 1);
  ASSERT_EQ(a["suspect_examples"].size(), 1u) << a.dump(2);
  const json& s = a["suspect_examples"][0];
  // The example as the request wrote it, expected value included.
  EXPECT_TRUE(contains(s["example"].get<std::string>(), "median([-10, 4, 6, 1000, 10, 20])")) << s;
  EXPECT_TRUE(contains(s["example"].get<std::string>(), "15.0")) << s;
  EXPECT_EQ(s["consensus"], "8.0") << s;
  EXPECT_EQ(s["models"], json::array({"big", "coder"})) << s;
  // Less sure than an answer that passes its examples, not learned, and the tests it is
  // shipped with leave the wrong example out.
  EXPECT_LT(a["confidence"].get<double>(), 0.9) << a.dump(2);
  EXPECT_GT(a["confidence"].get<double>(), 0.0) << a.dump(2);
  EXPECT_FALSE(a["learned"]) << a.dump(2);
  for (const json& t : a["tests"]) EXPECT_FALSE(contains(t.get<std::string>(), "15.0")) << t;
  EXPECT_TRUE(contains(a["tests"].dump(), "median([3, 1, 2, 4, 5])")) << a["tests"];
  EXPECT_TRUE(contains(a["route"].dump(), "suspect example")) << a["route"];
  // Kept as evidence for the next asking, where the same consensus forms again.
  EXPECT_TRUE(contains(a["route"].dump(), "kept as evidence")) << a["route"];
  json again = generate(kMedianPrompt);
  ASSERT_TRUE(again["answered"]) << again.dump(2);
  ASSERT_EQ(again["suspect_examples"].size(), 1u) << again.dump(2);
  EXPECT_FALSE(again["learned"]) << again.dump(2);
}

TEST_F(SoftExamples, WhenTheExampleIsRightTheModelThatPassesItWins) {
  // The open model reads "median" as the lower middle for even lengths: it fails the
  // second example (3.5); the premium model passes both.
  const char* prompt = R"py(
def median(l: list):
    """Return median of elements in the list l.
    >>> median([3, 1, 2, 4, 5])
    3
    >>> median([1, 2, 3, 4, 5, 6])
    3.5
    """
)py";
  FixedAnswerServer open("def median(l: list):\n    return sorted(l)[(len(l) - 1) // 2]\n");
  FixedAnswerServer premium(kMedianPremium);
  configure(open, &premium);
  json a = generate(prompt);
  ASSERT_TRUE(a["answered"]) << a.dump(2);
  EXPECT_EQ(a["model"], "big") << a.dump(2);
  EXPECT_TRUE(a["suspect_examples"].empty()) << a.dump(2);
  EXPECT_TRUE(contains(a["tests"].dump(), "3.5")) << a["tests"];
}

TEST_F(SoftExamples, OneModelAloneNeverOutvotesAnExample) {
  // Three samples of the same model agree against the example: one opinion, not three.
  FixedAnswerServer open(kMedianOpen);
  configure(open, nullptr);
  json a = generate(kMedianPrompt, 1);
  EXPECT_FALSE(a["answered"]) << a.dump(2);
  EXPECT_TRUE(a["suspect_examples"].empty()) << a.dump(2);
}

}  // namespace
