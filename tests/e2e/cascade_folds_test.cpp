// Cross-fitted routing end to end: the router's per-rung stopping thresholds against two
// real OpenAI-compatible servers on loopback, and `bench cascade --folds` on the replay
// server, whose ladder trace, routed offline by each fold's fit, must predict the routed
// round 1 answer for answer, without a hidden test reaching anything the router holds.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "../unit/test_support.h"
#include "bench/bench.h"
#include "config/config.h"
#include "fixed_answer_server.h"
#include "recording_support.h"
#include "router/router.h"
#include "validator/validator.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using yantra::testing::contains;
using yantra::testing::FixedAnswerServer;
using yantra::testing::read_bytes;
using yantra::testing::RecordingTransport;
using yantra::testing::RecordingValidator;

const std::string kData = yantra::testing::shared_path("shared/data/humaneval") + "/";

fs::path fresh_dir(const std::string& name) {
  fs::path dir =
      fs::temp_directory_path() / ("yantra-folds-" + std::to_string(::getpid()) + "-" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

yantra::config::ProviderSettings teacher(const std::string& name, int port,
                                         yantra::config::Tier tier) {
  yantra::config::ProviderSettings p;
  p.name = name;
  p.kind = yantra::config::ProviderKind::openai;
  p.base_url = "http://127.0.0.1:" + std::to_string(port) + "/v1";
  p.tier = tier;
  p.models = {name + "-model"};
  p.price_in_per_1k = tier == yantra::config::Tier::premium ? 0.03 : 0;
  p.price_out_per_1k = tier == yantra::config::Tier::premium ? 0.06 : 0;
  return p;
}

// One request through a free teacher then a premium one, the ladder stopping by `stops`.
struct Routed {
  yantra::router::Answer answer;
  int premium_requests = 0;
};
Routed route_with_stops(std::vector<double> stops) {
  FixedAnswerServer open("def total(xs):\n    return sum(xs)\n");
  FixedAnswerServer paid("def total(xs):\n    return sum(xs)\n");
  yantra::config::Settings settings;
  settings.providers = {teacher("local", open.port(), yantra::config::Tier::open_local),
                        teacher("paid", paid.port(), yantra::config::Tier::premium)};
  settings.router.premium_consent = yantra::config::Consent::always;
  yantra::router::TeacherOptions to;
  to.lookup_key = [](const yantra::config::ProviderSettings&) {
    return yantra::Result<std::optional<std::string>>(std::optional<std::string>());
  };
  auto teachers = yantra::router::Teachers::from_settings(settings, to);
  EXPECT_TRUE(teachers) << teachers.error().message;
  auto validator = yantra::validator::Validator::start({.workers = 1});
  EXPECT_TRUE(validator) << validator.error().message;
  yantra::router::RouterOptions ro;
  ro.settings = settings.router;
  ro.calibration = yantra::router::Calibration::none();
  ro.stop_confidence = std::move(stops);
  ro.learn = false;
  yantra::router::Router router(validator->get(), &*teachers, nullptr, nullptr, ro);
  auto answer = router.generate(
      {.text = "Return the sum of the numbers in xs. For example total([1, 2, 3]) == 6 and "
               "total([]) == 0",
       .signature = "def total(xs):"});
  EXPECT_TRUE(answer) << answer.error().message;
  return {answer ? *answer : yantra::router::Answer{}, paid.requests()};
}

TEST(LadderStops, EachRungStopsAtItsOwnThreshold) {
  if (auto why = yantra::validator::sandbox_unavailable()) GTEST_FAIL() << *why;
  // Nothing is sure before the first teacher; any answer at all is enough before the second.
  Routed cheap = route_with_stops({2.0, 0.0});
  ASSERT_TRUE(cheap.answer.answered);
  EXPECT_EQ(cheap.premium_requests, 0);
  EXPECT_EQ(cheap.answer.tier, "open_local");
  ASSERT_EQ(cheap.answer.ladder.size(), 1u);
  EXPECT_EQ(cheap.answer.ladder[0].step, "local/local-model");
  EXPECT_TRUE(cheap.answer.ladder[0].has_best);
  EXPECT_EQ(cheap.answer.ladder[0].cost_usd, 0.0);
  EXPECT_TRUE(contains(cheap.answer.ladder[0].code, "return sum(xs)"));
  // Never sure enough before the second: it is asked, and the ladder shows what it cost.
  Routed dear = route_with_stops({2.0, 2.0});
  ASSERT_TRUE(dear.answer.answered);
  EXPECT_EQ(dear.premium_requests, 1);
  ASSERT_EQ(dear.answer.ladder.size(), 2u);
  EXPECT_EQ(dear.answer.ladder[1].step, "paid/paid-model");
  EXPECT_GT(dear.answer.ladder[1].cost_usd, 0.0);
  EXPECT_DOUBLE_EQ(dear.answer.ladder[1].cost_usd, dear.answer.cost_usd);
  // The last threshold stands for the rungs past the end of the list; a threshold of 0
  // with no answer yet still asks the first teacher.
  Routed any = route_with_stops({0.0});
  EXPECT_TRUE(any.answer.answered);
  EXPECT_EQ(any.premium_requests, 0);
  EXPECT_EQ(route_with_stops({2.0}).premium_requests, 1);
}

yantra::bench::CascadeBenchOptions slice(const fs::path& dir, size_t tasks, int rounds) {
  yantra::bench::CascadeBenchOptions o;
  o.problems = kData + "HumanEval-dev.jsonl.gz";
  o.runs = kData + "recorded-runs-dev.jsonl.gz";
  o.plus = kData + "HumanEvalPlus-dev.jsonl.gz";
  o.tasks = tasks;
  o.rounds = rounds;
  o.work_dir = (dir / "repo").string();
  o.progress = false;
  return o;
}

TEST(CascadeFolds, TheTraceRoutedOfflinePredictsRoundOneAndSeesNoHiddenTest) {
  if (auto why = yantra::validator::sandbox_unavailable()) GTEST_FAIL() << *why;
  fs::path dir = fresh_dir("bench");
  auto o = slice(dir, 10, 1);
  o.folds = 2;
  auto pool = yantra::validator::Validator::start({.workers = 2});
  ASSERT_TRUE(pool) << pool.error().message;
  RecordingValidator validator(std::move(pool).value());
  auto transport = std::make_shared<RecordingTransport>();
  o.router_validator = &validator;
  o.transport = transport;
  auto r = yantra::bench::run_cascade_bench(o);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->folds, 2u);
  ASSERT_EQ(r->fold_fits.size(), 2u);
  EXPECT_EQ(r->fold_fits[0].tasks + r->fold_fits[1].tasks, 10u);
  EXPECT_EQ(r->fold_fits[0].train_tasks, r->fold_fits[1].tasks);
  // The whole ladder asks every teacher: it costs more than gpt-4 alone.
  EXPECT_EQ(r->full_ladder.requests, 10u);
  EXPECT_GT(r->full_ladder.cost_usd, r->full_ladder.gpt4_cost_usd) << r->table;
  // Stopping earlier is a prefix of the same ladder on the same recorded answers, so the
  // offline routing is round 1 as the routers ran it.
  EXPECT_EQ(r->simulated_round1.passed, r->round1.passed) << r->table;
  EXPECT_NEAR(r->simulated_round1.cost_usd, r->round1.cost_usd, 1e-9) << r->table;
  EXPECT_LE(r->round1.cost_usd, r->full_ladder.cost_usd + 1e-12) << r->table;
  EXPECT_TRUE(contains(r->table, "cross-fitted: 2 folds")) << r->table;
  json j = json::parse(r->json_line);
  EXPECT_EQ(j["folds"], 2);
  EXPECT_EQ(j["fold_fits"].size(), 2u);
  EXPECT_TRUE(j.contains("simulated_round1")) << r->json_line;

  // The trace wrote a line per task. No hidden test reached the router's sandbox or a
  // teacher (the trace's and the folds' alike, one pool and one transport) or the trace's
  // stores: the scorer alone ran them.
  fs::path trace = dir / "repo/ladder-trace";
  std::string text = read_bytes(trace / "ladder-trace.jsonl");
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 10) << text;
  std::string stores;
  for (const char* f : {"library.db", "library.db-wal", "ledger.db", "ledger.db-wal"})
    stores += read_bytes(trace / ".yantra" / f);
  std::string ran = validator.seen(), sent = transport->seen();
  ASSERT_FALSE(stores.empty());
  ASSERT_FALSE(ran.empty());
  ASSERT_FALSE(sent.empty());
  const auto problems = yantra::testing::read_gz_lines(o.problems);
  for (size_t i = 0; i < 10; ++i) {
    std::string test = problems[i]["test"];
    size_t assert_at = test.find("assert");
    ASSERT_NE(assert_at, std::string::npos);
    std::string line = test.substr(assert_at, test.find('\n', assert_at) - assert_at);
    EXPECT_FALSE(contains(stores, line)) << "the trace's stores hold a hidden test: " << line;
    EXPECT_FALSE(contains(ran, line)) << "the router's sandbox ran a hidden test: " << line;
    EXPECT_FALSE(contains(sent, line)) << "a teacher was sent a hidden test: " << line;
  }
  EXPECT_FALSE(contains(ran, "def check(candidate)"));
  fs::remove_all(dir);
}

TEST(CascadeFolds, AGivenCalibrationNeedsAnInSampleRun) {
  if (auto why = yantra::validator::sandbox_unavailable()) GTEST_FAIL() << *why;
  fs::path dir = fresh_dir("in-sample");
  auto o = slice(dir, 3, 1);
  o.calibration = "none";
  auto refused = yantra::bench::run_cascade_bench(o);
  ASSERT_FALSE(refused);
  EXPECT_TRUE(contains(refused.error().message, "--folds 0")) << refused.error().message;
  o.folds = 0;
  auto r = yantra::bench::run_cascade_bench(o);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->folds, 0u);
  EXPECT_TRUE(contains(r->table, "in-sample")) << r->table;
  EXPECT_FALSE(fs::exists(dir / "repo/ladder-trace"));
  fs::remove_all(dir);
}

}  // namespace
