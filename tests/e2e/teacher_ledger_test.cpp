// The teacher path end to end, on the real recorded runs: a repository's config.toml names
// three providers on a replay server, the real OpenAI-compatible client fetches all 3,300
// recorded answers, the ledger prices every call, and `yantra stats` reads the rows. The
// expected dollars are summed here from the data file, independently of the server.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "../unit/test_support.h"
#include "config/config.h"
#include "ledger/ledger.h"
#include "replay/replay.h"
#include "router/router.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using yantra::testing::read_gz_lines;

const std::string kData = yantra::testing::shared_path("shared/data/humaneval") + "/";

// 2023 list prices, USD per 1K tokens.
constexpr double kGpt4In = 0.03, kGpt4Out = 0.06, kGpt35In = 0.0015, kGpt35Out = 0.002;

class TeacherLedger : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("yantra-teacher-ledger-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_ / "repo/.yantra");
    fs::create_directories(root_ / "home");
    ::setenv("YANTRA_CONFIG_HOME", (root_ / "home").c_str(), 1);
    auto server = yantra::replay::ReplayServer::load(kData + "recorded-runs-dev.jsonl.gz");
    ASSERT_TRUE(server) << server.error().message;
    server_ = std::make_unique<yantra::replay::ReplayServer>(std::move(server).value());
    auto port = server_->start("127.0.0.1", 0);
    ASSERT_TRUE(port) << port.error().message;
    port_ = *port;
  }
  void TearDown() override {
    if (server_) server_->stop();
    ::unsetenv("YANTRA_CONFIG_HOME");
    fs::remove_all(root_);
  }

  std::string repo() const { return (root_ / "repo").string(); }

  void write_config(const std::string& gpt4_budget) {
    std::string url = "http://127.0.0.1:" + std::to_string(port_) + "/v1";
    std::string text = "[providers.codellama]\nkind = \"openai\"\nbase_url = \"" + url +
                       "\"\ntier = \"open_cloud\"\nmodels = [\"codellama-34b-instruct\"]\n"
                       "price_in_per_1k = 0\nprice_out_per_1k = 0\n\n"
                       "[providers.gpt35]\nkind = \"openai\"\nbase_url = \"" +
                       url +
                       "\"\ntier = \"premium\"\nmodels = [\"gpt-3.5-turbo\"]\n"
                       "price_in_per_1k = 0.0015\nprice_out_per_1k = 0.002\n"
                       "budget_month_usd = 100\n\n"
                       "[providers.gpt4]\nkind = \"openai\"\nbase_url = \"" +
                       url +
                       "\"\ntier = \"premium\"\nmodels = [\"gpt-4\"]\n"
                       "price_in_per_1k = 0.03\nprice_out_per_1k = 0.06\n"
                       "budget_month_usd = " +
                       gpt4_budget + "\n";
    ASSERT_TRUE(yantra::write_file_atomic((root_ / "repo/.yantra/config.toml").string(), text));
  }

  yantra::router::Teachers teachers() {
    auto settings = yantra::config::load_settings(repo());
    EXPECT_TRUE(settings) << settings.error().message;
    auto t = yantra::router::Teachers::from_settings(*settings);
    EXPECT_TRUE(t) << t.error().message;
    return std::move(t).value();
  }

  fs::path root_;
  std::unique_ptr<yantra::replay::ReplayServer> server_;
  int port_ = 0;
};

size_t index_of(const yantra::router::Teachers& t, const std::string& provider) {
  for (size_t i = 0; i < t.ladder().size(); ++i)
    if (t.ladder()[i].provider == provider) return i;
  ADD_FAILURE() << "no teacher " << provider;
  return 0;
}

TEST_F(TeacherLedger, AllRecordedAnswersArePricedAsRecorded) {
  write_config("1000");
  auto t = teachers();
  ASSERT_EQ(t.ladder().size(), 3u);
  EXPECT_EQ(t.ladder()[0].provider, "codellama");  // cheapest first
  EXPECT_EQ(t.ladder()[1].provider, "gpt35");
  EXPECT_EQ(t.ladder()[2].provider, "gpt4");

  // Expected spend and latency, summed from the recordings.
  std::map<std::string, double> expected_usd, expected_latency;
  std::map<std::string, int64_t> expected_prompt_tokens;
  for (const json& r : read_gz_lines(kData + "recorded-runs-dev.jsonl.gz")) {
    std::string model = r["model"];
    expected_latency[model] += r["duration_s"].get<double>();
    if (model == "codellama-34b-instruct") continue;
    int64_t in = r["prompt_tokens"], out = r["completion_tokens"];
    expected_prompt_tokens[model] += in;
    expected_usd[model] += model == "gpt-4" ? in / 1000.0 * kGpt4In + out / 1000.0 * kGpt4Out
                                            : in / 1000.0 * kGpt35In + out / 1000.0 * kGpt35Out;
  }
  ASSERT_EQ(expected_usd.size(), 2u);

  auto ledger = yantra::ledger::Ledger::open(repo());
  ASSERT_TRUE(ledger) << ledger.error().message;
  size_t answers = 0, with_code = 0;
  const auto problems = read_gz_lines(kData + "HumanEval-dev.jsonl.gz");
  ASSERT_EQ(problems.size(), 110u);
  for (const json& p : problems)
    for (const char* provider : {"codellama", "gpt35", "gpt4"})
      for (int run = 1; run <= 10; ++run) {
        size_t i = index_of(t, provider);
        auto answer = t.generate(i, p["prompt"].get<std::string>(),
                                 p["entry_point"].get<std::string>(), 1, &*ledger);
        ASSERT_TRUE(answer) << p["task_id"] << " " << provider << ": " << answer.error().message;
        ++answers;
        with_code += answer->candidates.size();
        ASSERT_TRUE(answer->recorded_latency_s.has_value());
        ASSERT_TRUE(t.record(*answer, yantra::ledger::Outcome::unvalidated, *ledger));
      }
  EXPECT_EQ(answers, 3300u);
  EXPECT_GE(with_code, 3200u);  // a few recorded answers hold no code at all

  auto summary = ledger->summary();
  ASSERT_TRUE(summary) << summary.error().message;
  EXPECT_EQ(summary->total.calls, 3300);
  const auto& gpt4 = summary->by_provider_model.at({"gpt4", "gpt-4"});
  const auto& gpt35 = summary->by_provider_model.at({"gpt35", "gpt-3.5-turbo"});
  const auto& codellama = summary->by_provider_model.at({"codellama", "codellama-34b-instruct"});
  EXPECT_EQ(gpt4.calls, 1100);
  EXPECT_EQ(gpt4.prompt_tokens, expected_prompt_tokens["gpt-4"]);
  EXPECT_NEAR(gpt4.spend_usd, expected_usd["gpt-4"], 1e-9);
  EXPECT_NEAR(gpt35.spend_usd, expected_usd["gpt-3.5-turbo"], 1e-9);
  EXPECT_EQ(gpt4.estimated_calls, 0);
  EXPECT_EQ(codellama.estimated_calls, 1100);  // no recorded tokens: counted from text
  EXPECT_EQ(codellama.spend_usd, 0.0);
  EXPECT_NEAR(summary->total.spend_usd, expected_usd["gpt-4"] + expected_usd["gpt-3.5-turbo"],
              1e-9);
  // The gpt-4 dev runs cost about $0.0145 a generation (the data's README).
  EXPECT_NEAR(gpt4.spend_usd / 1100, 0.0145, 0.001);

  // `yantra stats --json` reads the same rows from the file.
  int status = 0;
  std::string out = yantra::testing::run_capture(
      std::string(YANTRA_BINARY) + " stats --json --repo " + repo(), &status);
  ASSERT_EQ(status, 0) << out;
  json stats = json::parse(out);
  EXPECT_EQ(stats["total"]["calls"], 3300) << out;
  EXPECT_NEAR(stats["total"]["spend_usd"].get<double>(), summary->total.spend_usd, 1e-6) << out;
  EXPECT_EQ(stats["by_tier"]["premium"]["calls"], 2200) << out;
  std::string table =
      yantra::testing::run_capture(std::string(YANTRA_BINARY) + " stats --repo " + repo(), &status);
  ASSERT_EQ(status, 0) << table;
  EXPECT_TRUE(yantra::testing::contains(table, "gpt-4")) << table;
}

TEST_F(TeacherLedger, PaidTeacherOverBudgetFailsClosedAndFreeOneGoesOn) {
  write_config("0.05");  // about three gpt-4 generations
  auto t = teachers();
  auto ledger = yantra::ledger::Ledger::open(repo());
  ASSERT_TRUE(ledger) << ledger.error().message;
  const auto problems = read_gz_lines(kData + "HumanEval-dev.jsonl.gz");
  const std::string prompt = problems.at(0)["prompt"], entry = problems.at(0)["entry_point"];
  size_t gpt4 = index_of(t, "gpt4"), codellama = index_of(t, "codellama");
  int served = 0;
  std::string refusal;
  for (int i = 0; i < 10 && refusal.empty(); ++i) {
    auto answer = t.generate(gpt4, prompt, entry, 1, &*ledger);
    if (!answer) {
      refusal = answer.error().message;
      break;
    }
    ++served;
    ASSERT_TRUE(t.record(*answer, yantra::ledger::Outcome::unvalidated, *ledger));
  }
  EXPECT_GE(served, 1);
  EXPECT_LE(served, 4);
  EXPECT_TRUE(yantra::testing::contains(refusal, "gpt4")) << refusal;
  EXPECT_TRUE(yantra::testing::contains(refusal, "budget")) << refusal;
  auto month = ledger->month_spend("gpt4", ledger->current_month());
  ASSERT_TRUE(month);
  EXPECT_LE(*month, 0.05);
  for (int i = 0; i < 12; ++i) {  // free: never refused
    auto answer = t.generate(codellama, prompt, entry, 1, &*ledger);
    ASSERT_TRUE(answer) << answer.error().message;
    ASSERT_TRUE(t.record(*answer, yantra::ledger::Outcome::unvalidated, *ledger));
  }
  auto summary = ledger->summary();
  ASSERT_TRUE(summary);
  EXPECT_EQ(summary->by_outcome.at("budget_refused").calls, 1);
  EXPECT_EQ(summary->by_provider_model.at({"codellama", "codellama-34b-instruct"}).calls, 12);
}

TEST_F(TeacherLedger, UnreachableTeacherIsRecordedAsHttpError) {
  write_config("1000");
  server_->stop();  // the configured URL now refuses connections
  auto settings = yantra::config::load_settings(repo());
  ASSERT_TRUE(settings);
  for (auto& p : settings->providers) p.timeout_s = 2;
  struct NoSleep : yantra::teacher::Sleeper {
    void sleep(double) override {}
  };
  yantra::router::TeacherOptions options;
  options.sleeper = std::make_shared<NoSleep>();
  auto t = yantra::router::Teachers::from_settings(*settings, options);
  ASSERT_TRUE(t);
  auto ledger = yantra::ledger::Ledger::open(repo());
  ASSERT_TRUE(ledger);
  auto answer = t->generate(index_of(*t, "codellama"), "def f():\n    pass\n", "f", 1, &*ledger);
  ASSERT_FALSE(answer);
  EXPECT_TRUE(yantra::testing::contains(answer.error().message, "codellama"))
      << answer.error().message;
  auto summary = ledger->summary();
  ASSERT_TRUE(summary);
  EXPECT_EQ(summary->by_outcome.at("http_error").calls, 1);
}

}  // namespace
