// `yantra stats` (the cost ledger) and `yantra replay serve` (recorded LLM answers).
#include <pthread.h>

#include <csignal>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "ledger/ledger.h"
#include "replay/replay.h"

namespace yantra::cli {
namespace {

using nlohmann::json;
namespace lg = yantra::ledger;

// ---- yantra stats ----

struct StatsArgs {
  std::string repo = ".";
  bool json_out = false;
};

json bucket_json(const lg::Bucket& b) {
  return {{"calls", b.calls},
          {"prompt_tokens", b.prompt_tokens},
          {"completion_tokens", b.completion_tokens},
          {"estimated_calls", b.estimated_calls},
          {"spend_usd", b.spend_usd},
          {"avoided_calls", b.avoided_calls},
          {"avoided_usd", b.avoided_usd}};
}

json buckets_json(const std::map<std::string, lg::Bucket>& m) {
  json out = json::object();
  for (const auto& [key, b] : m) out[key] = bucket_json(b);
  return out;
}

json summary_json(const lg::Summary& s) {
  json models = json::array();
  for (const auto& [key, b] : s.by_provider_model) {
    json row = bucket_json(b);
    row["provider"] = key.first;
    row["model"] = key.second;
    models.push_back(std::move(row));
  }
  return {{"ledger", s.db_path},
          {"empty", s.empty()},
          {"total", bucket_json(s.total)},
          {"by_tier", buckets_json(s.by_tier)},
          {"by_outcome", buckets_json(s.by_outcome)},
          {"by_provider_model", models},
          {"by_day", buckets_json(s.by_day)},
          {"by_month", buckets_json(s.by_month)}};
}

using Rows = std::vector<std::pair<std::vector<std::string>, lg::Bucket>>;

// Outcomes belong to calls only: that table has no avoided columns.
void print_table(std::string_view title, std::vector<std::string> columns, const Rows& rows,
                 bool with_avoided = true) {
  for (const char* c : {"calls", "tokens in", "tokens out", "spend $"}) columns.emplace_back(c);
  if (with_avoided) columns.insert(columns.end(), {"avoided", "saved $"});
  Table t(std::move(columns));
  for (const auto& [keys, b] : rows) {
    std::vector<std::string> cells = keys;
    cells.insert(cells.end(), {std::to_string(b.calls), std::to_string(b.prompt_tokens),
                               std::to_string(b.completion_tokens), format_fixed(b.spend_usd, 4)});
    if (with_avoided)
      cells.insert(cells.end(), {std::to_string(b.avoided_calls), format_fixed(b.avoided_usd, 4)});
    t.add(std::move(cells));
  }
  std::cout << "\n" << title << "\n" << t.render();
}

template <class Map>
Rows rows_of(const Map& m) {
  Rows rows;
  for (const auto& [key, b] : m) {
    if constexpr (std::is_same_v<std::decay_t<decltype(key)>, std::string>)
      rows.push_back({{key}, b});
    else
      rows.push_back({{key.first, key.second}, b});
  }
  return rows;
}

void print_summary(const lg::Summary& s) {
  const lg::Bucket& t = s.total;
  std::cout << "ledger: " << s.db_path << "\n"
            << "teacher calls: " << t.calls << " (" << t.estimated_calls
            << " with estimated tokens), " << t.prompt_tokens << " prompt + " << t.completion_tokens
            << " completion tokens, spend $" << format_fixed(t.spend_usd, 4) << "\n"
            << "avoided: " << t.avoided_calls << " teacher calls (answered without a teacher), $"
            << format_fixed(t.avoided_usd, 4) << " not spent\n";
  print_table("by tier", {"tier"}, rows_of(s.by_tier));
  print_table("by provider and model", {"provider", "model"}, rows_of(s.by_provider_model));
  print_table("by outcome", {"outcome"}, rows_of(s.by_outcome), false);
  print_table("by day (UTC)", {"day"}, rows_of(s.by_day));
  print_table("by month (UTC)", {"month"}, rows_of(s.by_month));
}

int run_stats(const StatsArgs& a) {
  std::error_code ec;
  if (!std::filesystem::is_directory(a.repo, ec))
    throw FatalError("--repo " + a.repo + ": no such directory");
  std::string path = lg::Ledger::db_path_for(a.repo);
  lg::Summary s;
  s.db_path = path;
  if (std::filesystem::exists(path, ec)) {
    lg::Ledger ledger = lg::Ledger::open_db(path, {.create = false}).take();
    s = ledger.summary().take();
  }
  if (a.json_out) {
    std::cout << summary_json(s).dump() << "\n";
  } else if (s.empty()) {
    std::cout << "no teacher calls recorded yet in " << path
              << "\n(calls and the calls the student saves are recorded there as Yantra "
                 "answers requests)\n";
  } else {
    print_summary(s);
  }
  return 0;
}

// ---- yantra replay serve ----

struct ReplayArgs {
  std::string runs, problems, host = "127.0.0.1";
  int port = 8089;
  bool sleep = false;
  double sleep_scale = 1.0;
};

// SIGINT and SIGTERM blocked in this thread and every thread it starts, so that only
// sigwait() sees them; the old mask comes back when the command ends.
class BlockedStopSignals {
 public:
  BlockedStopSignals() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set_, &old_);
  }
  ~BlockedStopSignals() { pthread_sigmask(SIG_SETMASK, &old_, nullptr); }
  int wait() const {
    int sig = 0;
    sigwait(&set_, &sig);
    return sig;
  }

 private:
  sigset_t set_{}, old_{};
};

std::string url_host(const std::string& host) {
  if (host.empty() || host == "0.0.0.0" || host == "::") return "127.0.0.1";
  return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

int run_replay_serve(const ReplayArgs& a) {
  auto server = replay::ReplayServer::load(a.runs, a.problems).take();
  BlockedStopSignals signals;
  int port = server.start(a.host, a.port, {.sleep = a.sleep, .sleep_scale = a.sleep_scale}).take();
  std::cerr << "replaying " << server.run_count() << " recorded runs of " << server.models().size()
            << " models on " << server.task_count() << " tasks"
            << (a.sleep ? ", sleeping the recorded latency" : "") << "\n";
  std::cout << "listening on http://" << url_host(a.host) << ":" << port << "/v1" << std::endl;
  int sig = signals.wait();
  server.stop();
  std::cerr << "stopped by " << (sig == SIGINT ? "SIGINT" : "SIGTERM") << " after "
            << server.requests_served() << " completions\n";
  return 0;
}

}  // namespace

Handler declare_stats(CLI::App& app) {
  auto a = std::make_shared<StatsArgs>();
  app.add_option("--repo", a->repo,
                 "repository whose ledger to read (default: the current directory)")
      ->envname("YANTRA_REPO");
  app.add_flag("--json", a->json_out, "print the numbers as one JSON object")
      ->envname("YANTRA_STATS_JSON");
  return [a] { return run_stats(*a); };
}

Handler declare_replay(CLI::App& app) {
  auto a = std::make_shared<ReplayArgs>();
  app.require_subcommand(1);
  CLI::App* serve = app.add_subcommand(
      "serve", "answer POST /v1/chat/completions with the recorded runs, run 1, 2, ... per prompt");
  serve
      ->add_option("--runs", a->runs, "recorded runs, gzip JSON lines (recorded-runs-dev.jsonl.gz)")
      ->envname("YANTRA_REPLAY_RUNS")
      ->required();
  serve
      ->add_option("--problems", a->problems,
                   "the prompts, gzip JSON lines (default: HumanEval-dev.jsonl.gz beside --runs)")
      ->envname("YANTRA_REPLAY_PROBLEMS");
  serve->add_option("--host", a->host, "address to listen on (default 127.0.0.1)")
      ->envname("YANTRA_REPLAY_HOST");
  serve->add_option("--port", a->port, "port to listen on; 0 picks a free one (default 8089)")
      ->envname("YANTRA_REPLAY_PORT")
      ->check(CLI::Range(0, 65535));
  serve->add_flag("--sleep", a->sleep, "wait each answer's recorded latency before replying")
      ->envname("YANTRA_REPLAY_SLEEP");
  serve
      ->add_option("--sleep-scale", a->sleep_scale,
                   "multiply the recorded latency by this when sleeping (default 1)")
      ->envname("YANTRA_REPLAY_SLEEP_SCALE")
      ->check(CLI::Range(0.0, 100.0));
  return [a] { return run_replay_serve(*a); };
}

}  // namespace yantra::cli
