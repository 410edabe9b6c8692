// The learning loop end to end: `yantra generate` against a configured OpenAI-compatible
// endpoint, and the cascade benchmark on the replay server (repeated requests answered by
// the student from the library) proving that hidden tests never reach the router,
// its validator, the teachers, the library or the ledger.
#include <gtest/gtest.h>
#include <httplib.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "../unit/test_support.h"
#include "bench/bench.h"
#include "fixed_answer_server.h"
#include "recording_support.h"
#include "replay/replay.h"
#include "router/router.h"
#include "teacher/teacher.h"
#include "validator/validator.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using yantra::testing::contains;
using yantra::testing::FixedAnswerServer;
using yantra::testing::read_bytes;
using yantra::testing::RecordingTransport;
using yantra::testing::RecordingValidator;
using yantra::testing::run_capture;

const std::string kData = yantra::testing::shared_path("shared/data/humaneval") + "/";

fs::path fresh_dir(const std::string& name) {
  fs::path dir =
      fs::temp_directory_path() / ("yantra-router-" + std::to_string(::getpid()) + "-" + name);
  fs::remove_all(dir);
  fs::create_directories(dir / "repo/.yantra");
  fs::create_directories(dir / "home");
  return dir;
}

std::string yantra(const fs::path& dir, const std::string& args, int* status) {
  return run_capture(
      "YANTRA_CONFIG_HOME=" + (dir / "home").string() + " " + YANTRA_BINARY + " " + args + " 2>&1",
      status);
}

// The repository's config: one open-source teacher, `coder` at the local server on `port`.
bool write_local_teacher(const fs::path& dir, int port, const std::string& more = "") {
  std::string config = "[providers.local]\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:" +
                       std::to_string(port) +
                       "/v1\"\ntier = \"open_local\"\nmodels = [\"coder\"]\n" + more;
  return yantra::write_file_atomic((dir / "repo/.yantra/config.toml").string(), config).ok();
}

TEST(Generate, AnswersFromAConfiguredEndpointAndShowsTheRoute) {
  if (auto why = yantra::validator::sandbox_unavailable()) GTEST_FAIL() << *why;
  fs::path dir = fresh_dir("endpoint");
  FixedAnswerServer server("def total(xs):\n    return sum(xs)\n");
  ASSERT_TRUE(write_local_teacher(dir, server.port()));
  const std::string request =
      "'Return the sum of the numbers in xs. For example total([1, 2, 3]) == 6 and total([]) == 0'"
      " --signature 'def total(xs):' --repo " +
      (dir / "repo").string();
  int status = 0;
  std::string out = yantra(dir, "generate " + request + " --json", &status);
  ASSERT_EQ(status, 0) << out;
  json first = json::parse(out.substr(out.find('{')));
  EXPECT_TRUE(first["answered"]) << out;
  EXPECT_EQ(first["tier"], "open_local") << out;
  EXPECT_TRUE(contains(first["code"].get<std::string>(), "return sum(xs)")) << out;
  EXPECT_GE(first["tests"].size(), 2u) << out;  // the two examples of the request
  EXPECT_EQ(server.requests(), 1);
  // Three samples of one model agree with each other, which is one opinion: below what the
  // library learns. The route starts at the student, which had nothing yet.
  EXPECT_LT(first["confidence"].get<double>(), 0.95) << out;
  EXPECT_EQ(first["score_kind"], "agreement") << out;
  EXPECT_FALSE(first["learned"]) << out;
  auto route = first["route"];
  ASSERT_FALSE(route.empty());
  EXPECT_EQ(route[0]["step"], "student") << out;
  EXPECT_TRUE(contains(route[0]["reason"].get<std::string>(), "novel")) << out;
  // One teacher asked: the ladder stood there, free, with the answer it gave.
  ASSERT_EQ(first["ladder"].size(), 1u) << out;
  EXPECT_EQ(first["ladder"][0]["step"], "local/coder") << out;
  EXPECT_EQ(first["ladder"][0]["cost_usd"], 0.0) << out;
  EXPECT_TRUE(first["ladder"][0]["answer"]) << out;
  EXPECT_DOUBLE_EQ(first["ladder"][0]["confidence"].get<double>(),
                   first["confidence"].get<double>())
      << out;
  // The student's pass head learned from the three outcomes and kept what it learned.
  auto head = yantra::student::OnlineLearner::open(
      (dir / "repo/.yantra/student/pass_head.pt").string(), {});
  ASSERT_TRUE(head.ok()) << head.error().message;
  EXPECT_EQ(head->steps(), 3u);

  // --dry-run shows the route and calls no one.
  out = yantra(dir, "generate " + request + " --dry-run", &status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_TRUE(contains(out, "local/coder: ask")) << out;
  EXPECT_EQ(server.requests(), 1);

  out = yantra(dir, "stats --json --repo " + (dir / "repo").string(), &status);
  ASSERT_EQ(status, 0) << out;
  // Two calls: the code, and the tests the same teacher wrote for the request.
  EXPECT_EQ(json::parse(out)["total"]["calls"], 2) << out;
  fs::remove_all(dir);
}

TEST(Generate, AnEarlierAnswerPickedAfterATeacherWasCalledIsNotTheStudents) {
  // Three samples of one model are one opinion: the first answer is kept as evidence, not
  // learned. Asked again, that answer rejoins the candidates, and (wanting 0.99) the router
  // pays the teacher again; whichever wins, the teacher was called, so the answer is not
  // the student's and nothing was avoided. (Before the fix the earlier answer won and
  // read "student".)
  if (auto why = yantra::validator::sandbox_unavailable()) GTEST_FAIL() << *why;
  fs::path dir = fresh_dir("honest-label");
  FixedAnswerServer server("def total(xs):\n    return sum(xs)\n");
  ASSERT_TRUE(write_local_teacher(dir, server.port(), "[router]\npremium_confidence = 0.99\n"));
  const std::string request =
      "'Return the sum of the numbers in xs. For example total([1, 2, 3]) == 6' "
      "--signature 'def total(xs):' --json --repo " +
      (dir / "repo").string();
  int status = 0;
  std::string out = yantra(dir, "generate " + request, &status);
  ASSERT_EQ(status, 0) << out;
  ASSERT_FALSE(json::parse(out.substr(out.find('{')))["learned"]) << out;
  out = yantra(dir, "generate " + request, &status);
  ASSERT_EQ(status, 0) << out;
  json second = json::parse(out.substr(out.find('{')));
  ASSERT_EQ(server.requests(), 2) << out;
  EXPECT_TRUE(second["answered"]) << out;
  EXPECT_EQ(second["tier"], "open_local") << out;
  out = yantra(dir, "stats --json --repo " + (dir / "repo").string(), &status);
  ASSERT_EQ(status, 0) << out;
  json stats = json::parse(out);
  EXPECT_EQ(stats["total"]["calls"], 4) << out;  // each request: the code and its tests
  EXPECT_EQ(stats["total"]["avoided_calls"], 0) << out;
  fs::remove_all(dir);
}

TEST(Generate, AnUnconfirmedEarlierAnswerIsNotServedWithoutATeacher) {
  // Two teachers whose answers pass the examples but disagree on other inputs: the premium
  // one is sure enough to serve (0.7 here), but no other model confirms it, so both answers are
  // kept as evidence, not learned. Asked again, the earlier premium answer must not come back as
  // the student's with no teacher in the request: the cheapest teacher is asked, and the answer is
  // credited to a teacher. (Before the fix: no call, and "student".)
  if (auto why = yantra::validator::sandbox_unavailable()) GTEST_FAIL() << *why;
  fs::path dir = fresh_dir("unconfirmed");
  FixedAnswerServer open(
      "def total(xs):\n    ok = len(xs) <= 3 and all(-9 < x < 9 for x in xs)\n"
      "    return sum(xs) if ok else sum(xs) + 1\n");
  FixedAnswerServer paid("def total(xs):\n    return sum(xs)\n");
  ASSERT_TRUE(
      write_local_teacher(dir, open.port(),
                          "[providers.paid]\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:" +
                              std::to_string(paid.port()) +
                              "/v1\"\ntier = \"premium\"\nmodels = "
                              "[\"big\"]\n[router]\npremium_confidence = 0.7\npremium_consent = "
                              "\"always\"\n"));
  const std::string request =
      "'Return the sum of the numbers in xs. For example total([1, 2, 3]) == 6, "
      "total([]) == 0, total([5]) == 5 and total([2, 2]) == 4' "
      "--signature 'def total(xs):' --json --repo " +
      (dir / "repo").string();
  int status = 0;
  std::string out = yantra(dir, "generate " + request, &status);
  ASSERT_EQ(status, 0) << out;
  json first = json::parse(out.substr(out.find('{')));
  ASSERT_FALSE(first["learned"]) << out;
  ASSERT_GE(first["confidence"].get<double>(), 0.7) << out;
  ASSERT_EQ(open.requests(), 1) << out;
  out = yantra(dir, "generate " + request, &status);
  ASSERT_EQ(status, 0) << out;
  json second = json::parse(out.substr(out.find('{')));
  EXPECT_EQ(open.requests(), 2) << out;
  EXPECT_TRUE(second["answered"]) << out;
  EXPECT_NE(second["tier"], "student") << out;
  fs::remove_all(dir);
}

TEST(Generate, WithoutTeachersSaysHowToConfigureOne) {
  if (auto why = yantra::validator::sandbox_unavailable()) GTEST_FAIL() << *why;
  fs::path dir = fresh_dir("none");
  int status = 0;
  std::string out = yantra(
      dir,
      "generate 'Add two numbers.' --signature 'def add(a, b):' --repo " + (dir / "repo").string(),
      &status);
  EXPECT_EQ(status, 1) << out;
  EXPECT_TRUE(contains(out, "no teacher is configured")) << out;
  EXPECT_TRUE(contains(out, "yantra config set")) << out;
  fs::remove_all(dir);
}

TEST(CascadeBench, HiddenTestsNeverReachTheRouterAndRepeatsComeFromTheStudent) {
  if (auto why = yantra::validator::sandbox_unavailable()) GTEST_FAIL() << *why;
  fs::path dir = fresh_dir("cascade");
  auto pool = yantra::validator::Validator::start({.workers = 2});
  ASSERT_TRUE(pool) << pool.error().message;
  RecordingValidator validator(std::move(pool).value());
  auto transport = std::make_shared<RecordingTransport>();
  yantra::bench::CascadeBenchOptions o;
  o.problems = kData + "HumanEval-dev.jsonl.gz";
  o.runs = kData + "recorded-runs-dev.jsonl.gz";
  o.tasks = 8;
  o.rounds = 2;
  // In-sample: the built-in calibration, so 8 tasks learn enough to answer round 2 (the
  // cross-fitted trace is checked in cascade_folds_test.cpp).
  o.folds = 0;
  o.work_dir = (dir / "repo").string();
  o.progress = false;
  o.router_validator = &validator;
  o.transport = transport;
  auto r = yantra::bench::run_cascade_bench(o);
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->rounds.size(), 2u);
  EXPECT_EQ(r->all.requests, 16u);
  EXPECT_GE(r->round1.passed, 5u) << r->table;
  EXPECT_GT(r->round1.teacher_calls, 0u) << r->table;
  EXPECT_GE(r->learned, 1u) << r->table;
  // What was learned in round 1 answers round 2 without a teacher.
  EXPECT_GE(3 * r->rounds[1].by_tier["student"], r->rounds[1].requests) << r->table;
  EXPECT_EQ(r->rounds[1].avoided_calls, r->rounds[1].by_tier["student"]) << r->table;
  // The student's answers keep the confidence they were given, calibrated from the
  // student's own score, which cleared the 0.7 it needed to answer alone.
  ASSERT_GT(r->student_calibration.answers, 0u) << r->table;
  EXPECT_GE(r->student_calibration.mean_confidence, o.student_confidence) << r->table;
  EXPECT_LT(r->rounds[1].cost_usd, r->rounds[0].cost_usd + 1e-12) << r->table;
  EXPECT_TRUE(contains(r->json_line, "\"learned_precision\"")) << r->json_line;

  // The hidden tests: every assert line of every task's `test`, and the check() header.
  std::vector<std::string> hidden;
  const auto problems = yantra::testing::read_gz_lines(kData + "HumanEval-dev.jsonl.gz");
  for (size_t i = 0; i < 8; ++i) {
    std::string test = problems[i]["test"];
    for (size_t start = 0, nl; start < test.size(); start = nl + 1) {
      nl = test.find('\n', start);
      if (nl == std::string::npos) nl = test.size();
      std::string line = test.substr(start, nl - start);
      if (contains(line, "assert")) hidden.push_back(line.substr(line.find("assert")));
    }
  }
  ASSERT_GT(hidden.size(), 20u);
  std::string ran = validator.seen(), sent = transport->seen();
  std::string stores;
  for (const char* f : {"library.db", "library.db-wal", "ledger.db", "ledger.db-wal"})
    stores += read_bytes(dir / "repo/.yantra" / f);
  ASSERT_FALSE(ran.empty());
  ASSERT_FALSE(sent.empty());
  for (const std::string& h : hidden) {
    EXPECT_FALSE(contains(ran, h)) << "the router's validator ran a hidden test: " << h;
    EXPECT_FALSE(contains(sent, h)) << "a teacher was sent a hidden test: " << h;
    EXPECT_FALSE(contains(stores, h)) << "a store holds a hidden test: " << h;
  }
  EXPECT_FALSE(contains(ran, "def check(candidate)"));
  EXPECT_FALSE(contains(sent, "def check(candidate)"));
  fs::remove_all(dir);
}

}  // namespace
