// Teacher-written tests through `yantra generate`: a scripted OpenAI-compatible teacher on
// loopback answers the request for code with code and the request for tests with asserts,
// one of them wrong. The tests run on every candidate in the real sandbox; the wrong one,
// which no candidate passes, weighs nothing and is not shipped; the answer ships with the
// written tests it passes; router.teacher_tests = false asks for none.
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

const char* kRequest =
    "'Return the largest number in xs, or None when xs is empty. For example "
    "biggest([1, 3, 2]) == 3 and biggest([4]) == 4' --signature 'def biggest(xs):'";
const char* kNaive = "def biggest(xs):\n    return max(xs)\n";
const char* kCareful = "def biggest(xs):\n    return max(xs) if xs else None\n";
// The third is wrong: no implementation of the request passes it.
const char* kWritten =
    "assert biggest([]) is None\nassert biggest([5, -1]) == 5\nassert biggest([1, 2]) == 3\n";

class WrittenTests : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto why = yantra::validator::sandbox_unavailable()) GTEST_FAIL() << *why;
    dir_ = fs::temp_directory_path() /
           ("yantra-written-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "repo/.yantra");
    fs::create_directories(dir_ / "home");
  }
  void TearDown() override { fs::remove_all(dir_); }

  // An open-source teacher at `open`, a premium one at `premium`, both always asked.
  void configure(const FixedAnswerServer& open, const FixedAnswerServer& premium,
                 bool teacher_tests) {
    auto provider = [](const std::string& name, int port, const std::string& tier) {
      return "[providers." + name +
             "]\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:" + std::to_string(port) +
             "/v1\"\ntier = \"" + tier + "\"\nmodels = [\"" + name + "-model\"]\n";
    };
    std::string config = provider("local", open.port(), "open_local") +
                         provider("paid", premium.port(), "premium") +
                         "[router]\npremium_consent = \"always\"\npremium_confidence = 0.99\n" +
                         "teacher_tests = " + (teacher_tests ? "true" : "false") + "\n";
    ASSERT_TRUE(
        yantra::write_file_atomic((dir_ / "repo/.yantra/config.toml").string(), config).ok());
  }

  json generate() {
    int status = 0;
    std::string out = yantra::testing::run_capture(
        "YANTRA_CONFIG_HOME=" + (dir_ / "home").string() + " " + YANTRA_BINARY + " generate " +
            kRequest + " --json --repo " + (dir_ / "repo").string() + " 2>&1",
        &status);
    EXPECT_EQ(status, 0) << out;
    size_t brace = out.find('{');
    EXPECT_NE(brace, std::string::npos) << out;
    return brace == std::string::npos ? json() : json::parse(out.substr(brace));
  }

  fs::path dir_;
};

TEST_F(WrittenTests, TheCheapestTeacherWritesTestsThatRunOnEveryCandidate) {
  FixedAnswerServer open(kNaive, kWritten), premium(kCareful, "assert biggest([]) == 0\n");
  configure(open, premium, true);
  json a = generate();
  ASSERT_TRUE(a["answered"]) << a.dump(2);
  // Asked once, of the first (cheapest) teacher only.
  EXPECT_EQ(open.test_requests(), 1);
  EXPECT_EQ(premium.test_requests(), 0);
  // When they were written only the naive answers had run: they fail the empty list and
  // the wrong test alike.
  EXPECT_TRUE(contains(a["route"].dump(), "3 assert(s) written, 2 passed by no candidate"))
      << a["route"];
  // The careful answer passes both right tests, the naive one fails the empty list.
  EXPECT_TRUE(contains(a["code"].get<std::string>(), "if xs else None")) << a.dump(2);
  std::string tests = a["tests"].dump();
  EXPECT_TRUE(contains(tests, "biggest([]) is None")) << tests;
  EXPECT_TRUE(contains(tests, "biggest([5, -1]) == 5")) << tests;
  EXPECT_FALSE(contains(tests, "biggest([1, 2]) == 3")) << tests;
  // The call was paid for like any other (free here) and counted.
  EXPECT_EQ(a["teacher_calls"].get<int>(), 3) << a.dump(2);  // code, tests, premium code

  int status = 0;
  std::string out = yantra::testing::run_capture("YANTRA_CONFIG_HOME=" + (dir_ / "home").string() +
                                                     " " + YANTRA_BINARY + " stats --json --repo " +
                                                     (dir_ / "repo").string(),
                                                 &status);
  ASSERT_EQ(status, 0) << out;
  EXPECT_EQ(json::parse(out)["total"]["calls"], 3) << out;
}

TEST_F(WrittenTests, TurnedOffNoTestsAreAskedFor) {
  FixedAnswerServer open(kNaive, kWritten), premium(kCareful);
  configure(open, premium, false);
  json a = generate();
  ASSERT_TRUE(a["answered"]) << a.dump(2);
  EXPECT_EQ(open.test_requests(), 0);
  EXPECT_FALSE(contains(a["tests"].dump(), "biggest([]) is None")) << a["tests"];
  EXPECT_FALSE(contains(a["route"].dump(), "assert(s) written")) << a["route"];
}

TEST_F(WrittenTests, AReplyWithoutAssertsIsSaidAndChangesNothing) {
  FixedAnswerServer open(kNaive), premium(kCareful);  // asked for tests, it sends code
  configure(open, premium, true);
  json a = generate();
  ASSERT_TRUE(a["answered"]) << a.dump(2);
  EXPECT_EQ(open.test_requests(), 1);
  EXPECT_TRUE(contains(a["route"].dump(), "held no assert statement calling biggest"))
      << a["route"];
}

}  // namespace
