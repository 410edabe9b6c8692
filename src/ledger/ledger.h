// ledger: what the teachers cost, what the student saved, and the monthly budgets.
//
//   Ledger ledger = Ledger::open("/path/to/repo").take();   // REPO/.yantra/ledger.db
//   Price gpt4{.in_per_1k = 0.03, .out_per_1k = 0.06};
//   if (auto ok = ledger.check_budget("openai", Tier::premium, gpt4.free(), 5.00, 0.02); !ok)
//     return ok.error();   // "provider openai has spent $4.99 of its $5.00 budget for ..."
//   ledger.record_call({.provider = "openai", .model = "gpt-4", .tier = Tier::premium,
//                       .prompt_tokens = 180, .completion_tokens = 150, .price = gpt4,
//                       .latency_s = 7.4, .outcome = Outcome::passed});   // $0.0144
//   ledger.record_avoided({.provider = "openai", .model = "gpt-3.5-turbo",
//                          .tier = Tier::premium, .prompt_tokens = 180,
//                          .completion_tokens = 150, .price = {0.0015, 0.002}});
//   Summary s = ledger.summary().take();   // totals per tier, provider/model, day, month
//
// The rows live in the repository's SQLite store beside the code graph, in tables of
// their own (ledger_calls, ledger_avoided, ledger_info), opened in WAL mode with a busy
// timeout so the graph store and other ledgers may write at the same time. Times are UTC
// from a Clock, which tests replace to place rows on chosen days and months. Costs are
// prompt/1000 * price_in + completion/1000 * price_out, summed with compensation.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/base.h"

struct sqlite3;

namespace yantra::ledger {

enum class Tier { open_local, open_cloud, premium };
// unvalidated: the reply went back to the caller without being run against tests.
enum class Outcome { passed, failed, error, http_error, budget_refused, unvalidated };
std::string_view to_string(Tier tier);
std::string_view to_string(Outcome outcome);
std::optional<Tier> tier_from_string(std::string_view s);
std::optional<Outcome> outcome_from_string(std::string_view s);

// Configured price of a model, US dollars per 1,000 tokens.
struct Price {
  double in_per_1k = 0;
  double out_per_1k = 0;
  bool free() const { return in_per_1k == 0 && out_per_1k == 0; }
};
double cost_usd(int64_t prompt_tokens, int64_t completion_tokens, const Price& price);

class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::chrono::system_clock::time_point now() const = 0;
};
std::shared_ptr<const Clock> system_clock();

// A clock that says what it is told: for tests and for replays of recorded dates.
class ManualClock : public Clock {
 public:
  explicit ManualClock(std::chrono::system_clock::time_point t) : t_(t) {}
  std::chrono::system_clock::time_point now() const override { return t_; }
  void set(std::chrono::system_clock::time_point t) { t_ = t; }

 private:
  std::chrono::system_clock::time_point t_;
};

// "2026-11-30T23:59:59.250Z" and "2026-11".
std::string utc_timestamp(std::chrono::system_clock::time_point t);
std::string utc_month(std::chrono::system_clock::time_point t);

struct CallRecord {
  std::string provider, model;
  Tier tier = Tier::open_local;
  int64_t prompt_tokens = 0, completion_tokens = 0;
  bool tokens_estimated = false;  // counted from text length, not reported by the API
  Price price;
  double latency_s = 0;
  Outcome outcome = Outcome::passed;
  std::string request_id;
};

// A request the student answered (validated) that a teacher would otherwise have got:
// priced at the cheapest teacher that would have been asked, with estimated tokens.
struct AvoidedRecord {
  std::string provider, model;
  Tier tier = Tier::open_local;
  int64_t prompt_tokens = 0, completion_tokens = 0;
  Price price;
  std::string answered_by = "student";
  std::string request_id;
};

// One step of a request's route (the router's choice and its reason).
struct DecisionRecord {
  std::string request_id, step, action, reason;
};

struct Bucket {
  int64_t calls = 0, prompt_tokens = 0, completion_tokens = 0, estimated_calls = 0;
  double spend_usd = 0;
  int64_t avoided_calls = 0;
  double avoided_usd = 0;
};

struct Summary {
  std::string db_path;
  Bucket total;
  std::map<std::string, Bucket> by_tier, by_outcome, by_day, by_month;  // keys sort in order
  std::map<std::pair<std::string, std::string>, Bucket> by_provider_model;
  bool empty() const { return total.calls == 0 && total.avoided_calls == 0; }
};

struct OpenOptions {
  std::shared_ptr<const Clock> clock;  // default: the system clock
  bool create = true;  // false: read an existing store only (nothing created: `yantra stats`)
};

class Ledger {
 public:
  static std::string db_path_for(const std::string& repo_dir);  // REPO/.yantra/ledger.db
  static Result<Ledger> open(const std::string& repo_dir, OpenOptions options = {});
  static Result<Ledger> open_db(const std::string& db_path, OpenOptions options = {});

  Result<void> record_call(const CallRecord& call);  // cost 0 when budget_refused
  Result<void> record_avoided(const AvoidedRecord& avoided);
  Result<void> record_decision(const DecisionRecord& decision);
  // The route of one request, in the order it was taken.
  Result<std::vector<DecisionRecord>> decisions(std::string_view request_id);
  Result<Summary> summary();
  // Spend of one provider in a UTC month "YYYY-MM".
  Result<double> month_spend(std::string_view provider, std::string_view year_month);
  // Fails closed: refuses a paid call that would take the provider past its budget for
  // the current month, or a paid premium call with no budget set. Free is never refused.
  Result<void> check_budget(std::string_view provider, Tier tier, bool price_is_free,
                            std::optional<double> budget_month_usd, double estimated_cost);

  std::string current_month() const;
  const std::string& path() const { return path_; }

  Ledger(Ledger&& other) noexcept;
  Ledger& operator=(Ledger&& other) noexcept;
  ~Ledger();

 private:
  Ledger(sqlite3* db, std::string path, std::shared_ptr<const Clock> clock, bool has_tables);
  sqlite3* db_ = nullptr;
  std::string path_;
  std::shared_ptr<const Clock> clock_;
  bool has_tables_ = false;  // a store opened without create may have no ledger yet
};

}  // namespace yantra::ledger
