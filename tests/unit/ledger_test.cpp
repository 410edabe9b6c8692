// The cost ledger on real SQLite files in temporary directories: cost arithmetic against
// hand-computed values, grouping by UTC day and month across a month boundary, budgets
// that fail closed, avoided spend, two writers at once, and `yantra stats` of the real
// binary on a ledger filled here.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "graph/graph.h"
#include "ledger/ledger.h"
#include "test_support.h"

namespace {

namespace fs = std::filesystem;
using namespace yantra::ledger;
using nlohmann::json;
using yantra::testing::contains;

constexpr Price kGpt4{0.03, 0.06};
constexpr Price kGpt35{0.0015, 0.002};
constexpr Price kFree{0, 0};

std::chrono::system_clock::time_point utc(int y, unsigned m, unsigned d, int hh, int mm, int ss,
                                          int ms = 0) {
  using namespace std::chrono;
  return sys_days{year{y} / month{m} / day{d}} + hours{hh} + minutes{mm} + seconds{ss} +
         milliseconds{ms};
}

CallRecord call(std::string provider, std::string model, Tier tier, int64_t in, int64_t out,
                Price price, Outcome outcome = Outcome::passed) {
  return {.provider = std::move(provider),
          .model = std::move(model),
          .tier = tier,
          .prompt_tokens = in,
          .completion_tokens = out,
          .price = price,
          .latency_s = 1.5,
          .outcome = outcome};
}

class LedgerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "yantra-ledger-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    repo_ = pattern;
  }
  void TearDown() override { fs::remove_all(repo_); }

  Ledger open(std::shared_ptr<const Clock> clock = nullptr) {
    auto l = Ledger::open(repo_.string(), {.clock = std::move(clock)});
    if (!l) throw std::runtime_error(l.error().message);
    return std::move(l).value();
  }
  fs::path repo_;
};

#define ASSERT_OK(expr)                                            \
  do {                                                             \
    auto ok_ = (expr);                                             \
    ASSERT_TRUE(ok_.ok()) << #expr << ": " << ok_.error().message; \
  } while (0)

TEST(LedgerCost, MatchesHandArithmetic) {
  EXPECT_NEAR(cost_usd(1000, 1000, kGpt4), 0.09, 1e-15);
  EXPECT_NEAR(cost_usd(180, 150, kGpt4), 0.0054 + 0.009, 1e-15);
  EXPECT_NEAR(cost_usd(1234, 567, kGpt35), 0.001851 + 0.001134, 1e-15);
  EXPECT_EQ(cost_usd(5000, 5000, kFree), 0.0);
  EXPECT_TRUE(kFree.free());
  EXPECT_FALSE(kGpt35.free());
  EXPECT_EQ(to_string(Tier::open_cloud), "open_cloud");
  EXPECT_EQ(outcome_from_string("budget_refused"), Outcome::budget_refused);
  EXPECT_FALSE(tier_from_string("gold").has_value());
  EXPECT_EQ(utc_timestamp(utc(2026, 11, 30, 23, 59, 59, 250)), "2026-11-30T23:59:59.250Z");
  EXPECT_EQ(utc_month(utc(2026, 12, 1, 0, 0, 0)), "2026-12");
}

TEST_F(LedgerTest, SummaryAddsTheHandValues) {
  Ledger ledger = open();
  ASSERT_OK(ledger.record_call(call("openai", "gpt-4", Tier::premium, 180, 150, kGpt4)));
  ASSERT_OK(ledger.record_call(
      call("openai", "gpt-3.5-turbo", Tier::premium, 1234, 567, kGpt35, Outcome::failed)));
  CallRecord local = call("ollama", "codellama:34b", Tier::open_local, 300, 200, kFree);
  local.tokens_estimated = true;
  ASSERT_OK(ledger.record_call(local));
  // Refused before it was sent: counted as a call, costs nothing.
  ASSERT_OK(ledger.record_call(
      call("openai", "gpt-4", Tier::premium, 180, 0, kGpt4, Outcome::budget_refused)));

  Summary s = std::move(ledger.summary()).take();
  EXPECT_EQ(s.total.calls, 4);
  EXPECT_EQ(s.total.estimated_calls, 1);
  EXPECT_EQ(s.total.prompt_tokens, 180 + 1234 + 300 + 180);
  EXPECT_EQ(s.total.completion_tokens, 150 + 567 + 200);
  EXPECT_NEAR(s.total.spend_usd, 0.0144 + 0.002985, 1e-12);
  EXPECT_EQ(s.by_tier.at("premium").calls, 3);
  EXPECT_NEAR(s.by_tier.at("premium").spend_usd, 0.0144 + 0.002985, 1e-12);
  EXPECT_EQ(s.by_tier.at("open_local").spend_usd, 0.0);
  EXPECT_NEAR(s.by_provider_model.at({"openai", "gpt-4"}).spend_usd, 0.0144, 1e-12);
  EXPECT_EQ(s.by_provider_model.at({"openai", "gpt-4"}).calls, 2);
  EXPECT_EQ(s.by_outcome.at("budget_refused").spend_usd, 0.0);
  EXPECT_EQ(s.by_outcome.at("failed").calls, 1);
  EXPECT_FALSE(s.empty());
}

TEST_F(LedgerTest, GroupsByUtcDayAndMonthAcrossTheBoundary) {
  auto clock = std::make_shared<ManualClock>(utc(2026, 10, 31, 23, 59, 59, 500));
  Ledger ledger = open(clock);
  ASSERT_OK(ledger.record_call(call("openai", "gpt-4", Tier::premium, 1000, 1000, kGpt4)));
  ASSERT_OK(ledger.record_call(call("openai", "gpt-4", Tier::premium, 1000, 0, kGpt4)));
  clock->set(utc(2026, 11, 1, 0, 0, 0, 250));  // three quarters of a second later
  ASSERT_OK(ledger.record_call(call("openai", "gpt-4", Tier::premium, 0, 1000, kGpt4)));
  ASSERT_OK(ledger.record_avoided({.provider = "openai",
                                   .model = "gpt-3.5-turbo",
                                   .tier = Tier::premium,
                                   .prompt_tokens = 2000,
                                   .completion_tokens = 1000,
                                   .price = kGpt35}));
  clock->set(utc(2026, 11, 15, 12, 0, 0));
  ASSERT_OK(ledger.record_call(
      call("deepseek", "deepseek-coder", Tier::open_cloud, 10000, 10000, {0.00014, 0.00028})));

  Summary s = std::move(ledger.summary()).take();
  ASSERT_EQ(s.by_day.size(), 3u);
  EXPECT_EQ(s.by_day.at("2026-10-31").calls, 2);
  EXPECT_NEAR(s.by_day.at("2026-10-31").spend_usd, 0.09 + 0.03, 1e-12);
  EXPECT_EQ(s.by_day.at("2026-11-01").calls, 1);
  EXPECT_EQ(s.by_day.at("2026-11-01").avoided_calls, 1);
  EXPECT_NEAR(s.by_day.at("2026-11-01").avoided_usd, 0.003 + 0.002, 1e-12);
  ASSERT_EQ(s.by_month.size(), 2u);
  EXPECT_NEAR(s.by_month.at("2026-10").spend_usd, 0.12, 1e-12);
  EXPECT_NEAR(s.by_month.at("2026-11").spend_usd, 0.06 + 0.0014 + 0.0028, 1e-12);
  EXPECT_EQ(s.by_month.at("2026-11").calls, 2);

  EXPECT_NEAR(std::move(ledger.month_spend("openai", "2026-10")).take(), 0.12, 1e-12);
  EXPECT_NEAR(std::move(ledger.month_spend("openai", "2026-11")).take(), 0.06, 1e-12);
  EXPECT_EQ(std::move(ledger.month_spend("openai", "2026-12")).take(), 0.0);
  EXPECT_NEAR(std::move(ledger.month_spend("deepseek", "2026-11")).take(), 0.0042, 1e-12);
  auto bad = ledger.month_spend("openai", "Nov 2026");
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(contains(bad.error().message, "YYYY-MM"));
}

TEST_F(LedgerTest, BudgetFailsClosedForPaidProviders) {
  auto clock = std::make_shared<ManualClock>(utc(2026, 10, 20, 9, 0, 0));
  Ledger ledger = open(clock);
  // October's spend does not count against November's budget.
  ASSERT_OK(ledger.record_call(call("openai", "gpt-4", Tier::premium, 10000, 10000, kGpt4)));
  clock->set(utc(2026, 11, 3, 9, 0, 0));
  for (int i = 0; i < 3; ++i)  // 3 x $0.015 = $0.045
    ASSERT_OK(ledger.record_call(call("openai", "gpt-4", Tier::premium, 100, 200, kGpt4)));

  EXPECT_TRUE(ledger.check_budget("openai", Tier::premium, false, 0.05, 0.004).ok());
  EXPECT_TRUE(ledger.check_budget("openai", Tier::premium, false, 0.05, 0.005).ok());  // exactly
  auto refused = ledger.check_budget("openai", Tier::premium, false, 0.05, 0.01);
  ASSERT_FALSE(refused.ok());
  const std::string& m = refused.error().message;
  EXPECT_TRUE(contains(m, "provider openai has spent $0.0450 of its $0.0500 budget for 2026-11"))
      << m;
  EXPECT_TRUE(contains(m, "yantra config set providers.openai.budget_month_usd")) << m;
  EXPECT_TRUE(contains(m, "wait until next month")) << m;

  // Another provider has its own month; a paid premium one needs a budget at all.
  EXPECT_TRUE(ledger.check_budget("anthropic", Tier::premium, false, 0.05, 0.01).ok());
  auto unset = ledger.check_budget("anthropic", Tier::premium, false, std::nullopt, 0.01);
  ASSERT_FALSE(unset.ok());
  EXPECT_TRUE(contains(unset.error().message, "budget_month_usd")) << unset.error().message;
  EXPECT_TRUE(ledger.check_budget("deepseek", Tier::open_cloud, false, std::nullopt, 0.01).ok());
  EXPECT_FALSE(ledger.check_budget("openai", Tier::premium, false, -1.0, 0.0).ok());

  clock->set(utc(2026, 12, 1, 0, 0, 0));  // a new month: the budget is whole again
  EXPECT_TRUE(ledger.check_budget("openai", Tier::premium, false, 0.05, 0.01).ok());
}

TEST_F(LedgerTest, FreeProvidersAreNeverBlocked) {
  Ledger ledger = open();
  for (int i = 0; i < 5; ++i)
    ASSERT_OK(ledger.record_call(call("ollama", "codellama", Tier::open_local, 1e6, 1e6, kFree)));
  EXPECT_TRUE(ledger.check_budget("ollama", Tier::open_local, true, 0.0, 0.0).ok());
  EXPECT_TRUE(ledger.check_budget("ollama", Tier::premium, true, std::nullopt, 100.0).ok());
  EXPECT_EQ(std::move(ledger.summary()).take().total.spend_usd, 0.0);
}

TEST_F(LedgerTest, AvoidedSpendIsPricedAtTheTeacherThatWasSpared) {
  Ledger ledger = open();
  double expected = 0;
  for (int i = 1; i <= 40; ++i) {
    AvoidedRecord a{.provider = "openai",
                    .model = "gpt-3.5-turbo",
                    .tier = Tier::premium,
                    .prompt_tokens = 100 + i,
                    .completion_tokens = 7 * i,
                    .price = kGpt35};
    expected += (100.0 + i) / 1000 * 0.0015 + 7.0 * i / 1000 * 0.002;
    ASSERT_OK(ledger.record_avoided(a));
  }
  Summary s = std::move(ledger.summary()).take();
  EXPECT_EQ(s.total.calls, 0);
  EXPECT_EQ(s.total.avoided_calls, 40);
  EXPECT_NEAR(s.total.avoided_usd, expected, 1e-12);
  EXPECT_NEAR(s.by_provider_model.at({"openai", "gpt-3.5-turbo"}).avoided_usd, expected, 1e-12);
  EXPECT_EQ(s.total.spend_usd, 0.0);
  EXPECT_FALSE(s.empty());
}

TEST_F(LedgerTest, TwoWritersAtOnceLoseNothing) {
  constexpr int kEach = 400;
  Ledger a = open(), b = open();
  // A reader holding a snapshot, as the graph store's connection might.
  sqlite3* reader = nullptr;
  ASSERT_EQ(sqlite3_open(Ledger::db_path_for(repo_.string()).c_str(), &reader), SQLITE_OK);
  ASSERT_EQ(
      sqlite3_exec(reader, "BEGIN; SELECT count(*) FROM ledger_calls;", nullptr, nullptr, nullptr),
      SQLITE_OK);
  std::atomic<int> failures{0};
  auto write = [&failures](Ledger& l, const char* model, int salt) {
    for (int i = 0; i < kEach; ++i)
      if (!l.record_call(call("openai", model, Tier::premium, 100 + i * salt, 50 + i, kGpt4)).ok())
        failures++;
  };
  std::thread ta(write, std::ref(a), "gpt-4", 3), tb(write, std::ref(b), "gpt-4o", 5);
  ta.join();
  tb.join();
  sqlite3_exec(reader, "COMMIT", nullptr, nullptr, nullptr);
  sqlite3_close(reader);
  EXPECT_EQ(failures.load(), 0);

  double expected = 0;
  for (int salt : {3, 5})
    for (int i = 0; i < kEach; ++i) expected += cost_usd(100 + i * salt, 50 + i, kGpt4);
  Summary s = std::move(open().summary()).take();
  EXPECT_EQ(s.total.calls, 2 * kEach);
  EXPECT_NEAR(s.total.spend_usd, expected, 1e-9);
  EXPECT_EQ(s.by_provider_model.at({"openai", "gpt-4o"}).calls, kEach);
}

TEST_F(LedgerTest, LivesBesideTheGraphStoreThroughFirstAndLaterIndexes) {
  std::ofstream(repo_ / "mod.py") << "def f(x):\n    return g(x)\n\ndef g(x):\n    return x\n";
  {
    Ledger ledger = open();  // before the repository was ever indexed
    ASSERT_OK(ledger.record_call(call("openai", "gpt-4", Tier::premium, 1000, 1000, kGpt4)));
  }
  yantra::graph::IndexOptions options;
  options.root = repo_.string();
  options.progress = false;
  ASSERT_OK(yantra::graph::index_repository(yantra::real_file_system(), options));
  std::ofstream(repo_ / "mod.py", std::ios::app) << "\ndef h():\n    return f(1)\n";
  auto again = yantra::graph::index_repository(yantra::real_file_system(), options);
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->files_parsed, 1u);
  auto graph = yantra::graph::GraphReader::open(again->db_path);
  ASSERT_TRUE(graph.ok()) << graph.error().message;
  EXPECT_TRUE(graph->find_one("h").ok());
  Summary s = std::move(open().summary()).take();
  EXPECT_EQ(s.total.calls, 1);
  EXPECT_NEAR(s.total.spend_usd, 0.09, 1e-12);
}

TEST_F(LedgerTest, RefusesAnotherProgramsDatabase) {
  fs::create_directories(repo_ / ".yantra");
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(Ledger::db_path_for(repo_.string()).c_str(), &db), SQLITE_OK);
  sqlite3_exec(db, "PRAGMA application_id=1234; CREATE TABLE t(x);", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  auto l = Ledger::open(repo_.string());
  ASSERT_FALSE(l.ok());
  EXPECT_TRUE(contains(l.error().message, "another program")) << l.error().message;
}

TEST_F(LedgerTest, RefusesBadRowsWithoutWritingThem) {
  Ledger ledger = open();
  EXPECT_FALSE(ledger.record_call(call("", "gpt-4", Tier::premium, 1, 1, kGpt4)).ok());
  EXPECT_FALSE(ledger.record_call(call("openai", "gpt-4", Tier::premium, -1, 1, kGpt4)).ok());
  EXPECT_FALSE(ledger.record_call(call("openai", "gpt-4", Tier::premium, 1, 1, {-0.1, 0})).ok());
  EXPECT_FALSE(
      ledger.record_avoided({.provider = "openai", .model = "gpt-4", .price = {std::nan(""), 0}})
          .ok());
  EXPECT_TRUE(std::move(ledger.summary()).take().empty());
}

// ---- `yantra stats`, the real binary ----

struct Printed {
  int status = -1;
  std::string out;
};

// Runs YANTRA_BINARY with `args` (already shell-quoted), YANTRA_* settings of the caller's
// shell removed; stdout only.
Printed yantra_stats(const std::string& args) {
  std::string command = "env -u YANTRA_REPO -u YANTRA_STATS_JSON '" + std::string(YANTRA_BINARY) +
                        "' stats " + args + " 2>/dev/null";
  Printed p;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) return p;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, pipe)) > 0;) p.out.append(buf, n);
  int status = ::pclose(pipe);
  p.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return p;
}

TEST_F(LedgerTest, StatsJsonOfTheRealBinaryHasTheSameNumbers) {
  auto clock = std::make_shared<ManualClock>(utc(2026, 10, 30, 8, 0, 0));
  Ledger ledger = open(clock);
  double spend = 0, avoided = 0;
  int64_t premium_calls = 0;
  for (int i = 0; i < 60; ++i) {
    clock->set(utc(2026, 10, 30, 8, 0, 0) + std::chrono::hours(20 * i));  // Oct 30 .. Dec 18
    bool gpt4 = i % 3 == 0;
    Price price = gpt4 ? kGpt4 : kGpt35;
    CallRecord c = call("openai", gpt4 ? "gpt-4" : "gpt-3.5-turbo", Tier::premium, 150 + 13 * i,
                        90 + 7 * i, price, i % 4 ? Outcome::passed : Outcome::failed);
    ASSERT_OK(ledger.record_call(c));
    spend += cost_usd(c.prompt_tokens, c.completion_tokens, price);
    premium_calls++;
    ASSERT_OK(ledger.record_call(call("ollama", "codellama", Tier::open_local, 400, 300, kFree)));
    if (i % 5 == 0) {
      AvoidedRecord a{.provider = "ollama",
                      .model = "codellama",
                      .tier = Tier::open_local,
                      .prompt_tokens = 400,
                      .completion_tokens = 300,
                      .price = kFree};
      AvoidedRecord b{.provider = "openai",
                      .model = "gpt-3.5-turbo",
                      .tier = Tier::premium,
                      .prompt_tokens = 400 + i,
                      .completion_tokens = 300,
                      .price = kGpt35};
      ASSERT_OK(ledger.record_avoided(i % 2 ? a : b));
      avoided += i % 2 ? 0.0 : cost_usd(b.prompt_tokens, b.completion_tokens, kGpt35);
    }
  }
  Printed p = yantra_stats("--json --repo '" + repo_.string() + "'");
  ASSERT_EQ(p.status, 0) << p.out;
  json j = json::parse(p.out);
  EXPECT_FALSE(j["empty"].get<bool>());
  EXPECT_EQ(j["total"]["calls"], 120);
  EXPECT_NEAR(j["total"]["spend_usd"].get<double>(), spend, 1e-9);
  EXPECT_NEAR(j["total"]["avoided_usd"].get<double>(), avoided, 1e-9);
  EXPECT_EQ(j["total"]["avoided_calls"], 12);
  EXPECT_EQ(j["by_tier"]["premium"]["calls"], premium_calls);
  EXPECT_EQ(j["by_tier"]["open_local"]["spend_usd"], 0.0);
  std::vector<std::string> months;
  double month_sum = 0;
  for (const auto& [month, bucket] : j["by_month"].items()) {
    months.push_back(month);
    month_sum += bucket["spend_usd"].get<double>();
  }
  EXPECT_EQ(months, (std::vector<std::string>{"2026-10", "2026-11", "2026-12"}));
  EXPECT_NEAR(month_sum, spend, 1e-9);
  double day_sum = 0;
  for (const auto& [day, bucket] : j["by_day"].items())
    day_sum += bucket["spend_usd"].get<double>();
  EXPECT_NEAR(day_sum, spend, 1e-9);
  EXPECT_EQ(j["by_provider_model"].size(), 3u);

  Printed text = yantra_stats("--repo '" + repo_.string() + "'");
  ASSERT_EQ(text.status, 0);
  for (const char* part : {"by tier", "by provider and model", "by day (UTC)", "by month (UTC)",
                           "2026-11-01", "gpt-3.5-turbo", "premium"})
    EXPECT_TRUE(contains(text.out, part)) << part << " in\n" << text.out;
}

TEST_F(LedgerTest, StatsWithNoLedgerSaysSoAndCreatesNothing) {
  Printed text = yantra_stats("--repo '" + repo_.string() + "'");
  EXPECT_EQ(text.status, 0);
  EXPECT_TRUE(contains(text.out, "no teacher calls recorded yet")) << text.out;
  EXPECT_FALSE(contains(text.out, "by tier"));
  Printed j = yantra_stats("--json --repo '" + repo_.string() + "'");
  ASSERT_EQ(j.status, 0);
  EXPECT_TRUE(json::parse(j.out)["empty"].get<bool>());
  EXPECT_EQ(json::parse(j.out)["total"]["calls"], 0);
  EXPECT_FALSE(fs::exists(repo_ / ".yantra"));
}

}  // namespace
