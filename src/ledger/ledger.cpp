// Ledger: opening the store, writing rows, monthly spend and the budget check.
#include "ledger/ledger.h"

#include <sqlite3.h>

#include <array>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>

#include "ledger/internal.h"

namespace yantra::ledger {
namespace {

constexpr int kSchemaVersion = 1;
constexpr int kBusyTimeoutMs = 10000;
// Rounding slack when comparing a sum of costs with a budget.
constexpr double kBudgetSlackUsd = 1e-12;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS ledger_calls(
  id INTEGER PRIMARY KEY,
  at_utc TEXT NOT NULL,
  provider TEXT NOT NULL,
  model TEXT NOT NULL,
  tier TEXT NOT NULL,
  prompt_tokens INTEGER NOT NULL,
  completion_tokens INTEGER NOT NULL,
  tokens_estimated INTEGER NOT NULL,
  price_in_per_1k REAL NOT NULL,
  price_out_per_1k REAL NOT NULL,
  cost_usd REAL NOT NULL,
  latency_s REAL NOT NULL,
  outcome TEXT NOT NULL,
  request_id TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS ledger_calls_by_provider ON ledger_calls(provider, at_utc);
CREATE TABLE IF NOT EXISTS ledger_avoided(
  id INTEGER PRIMARY KEY,
  at_utc TEXT NOT NULL,
  provider TEXT NOT NULL,
  model TEXT NOT NULL,
  tier TEXT NOT NULL,
  prompt_tokens INTEGER NOT NULL,
  completion_tokens INTEGER NOT NULL,
  price_in_per_1k REAL NOT NULL,
  price_out_per_1k REAL NOT NULL,
  cost_usd REAL NOT NULL,
  answered_by TEXT NOT NULL,
  request_id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ledger_decisions(
  id INTEGER PRIMARY KEY,
  at_utc TEXT NOT NULL,
  request_id TEXT NOT NULL,
  step TEXT NOT NULL,
  action TEXT NOT NULL,
  reason TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS ledger_decisions_by_request ON ledger_decisions(request_id, id);
CREATE TABLE IF NOT EXISTS ledger_info(key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO ledger_info VALUES('schema_version', '1');
)sql";

constexpr std::array<std::string_view, 3> kTiers = {"open_local", "open_cloud", "premium"};
constexpr std::array<std::string_view, 6> kOutcomes = {
    "passed", "failed", "error", "http_error", "budget_refused", "unvalidated"};

class SystemClock : public Clock {
 public:
  std::chrono::system_clock::time_point now() const override {
    return std::chrono::system_clock::now();
  }
};

std::string money(double usd) {
  return std::string("$").append(format_fixed(usd, std::fabs(usd) >= 1 ? 2 : 4));
}

bool valid_price(const Price& p) {
  return std::isfinite(p.in_per_1k) && std::isfinite(p.out_per_1k) && p.in_per_1k >= 0 &&
         p.out_per_1k >= 0;
}

Result<void> check_row(std::string_view provider, std::string_view model, int64_t prompt,
                       int64_t completion, const Price& price) {
  if (provider.empty() || model.empty()) return Error{"ledger: a row needs a provider and model"};
  if (prompt < 0 || completion < 0) return Error{"ledger: token counts cannot be negative"};
  if (!valid_price(price)) return Error{"ledger: prices must be finite and >= 0"};
  return {};
}

// Whether the store already has the ledger's tables (a read-only open must not add them).
Result<bool> has_ledger_tables(sqlite3* db, const std::string& path) {
  Statement s(db, "SELECT count(*) FROM sqlite_master WHERE name='ledger_calls'", path);
  auto row = s.step();
  if (!row) return row.error();
  return *row && s.int64(0) > 0;
}

Result<void> check_store(sqlite3* db, const std::string& path) {
  return check_yantra_store(db, path, "ledger", "move it aside and run `yantra index` again");
}

Result<void> check_version(sqlite3* db, const std::string& path) {
  Statement s(db, "SELECT value FROM ledger_info WHERE key='schema_version'", path);
  auto row = s.step();
  if (!row) return row.error();
  if (*row && std::atoi(s.text(0).c_str()) > kSchemaVersion)
    return Error::in(path, "ledger written by a newer Yantra (schema " + s.text(0) +
                               "); upgrade yantra to read it");
  return {};
}

Result<void> create_schema(sqlite3* db, const std::string& path) {
  // WAL lets the graph store and other ledgers read and write beside this connection.
  if (auto ok = exec(db, "PRAGMA journal_mode=WAL", path); !ok) return ok;
  if (auto ok = exec(db, "PRAGMA synchronous=NORMAL", path); !ok) return ok;
  if (auto ok = exec(db, "BEGIN IMMEDIATE", path); !ok) return ok;
  if (auto ok = exec(db, kSchema, path); !ok) {
    exec(db, "ROLLBACK", path).ok();
    return ok;
  }
  return exec(db, "COMMIT", path);
}

}  // namespace

Result<void> exec(sqlite3* db, const char* sql, const std::string& path) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) == SQLITE_OK) return {};
  std::string why = err ? err : sqlite3_errmsg(db);
  sqlite3_free(err);
  return Error::in(path, "ledger: " + why);
}

std::string_view to_string(Tier tier) {
  return kTiers[static_cast<size_t>(tier)];
}
std::string_view to_string(Outcome outcome) {
  return kOutcomes[static_cast<size_t>(outcome)];
}
std::optional<Tier> tier_from_string(std::string_view s) {
  for (size_t i = 0; i < kTiers.size(); ++i)
    if (kTiers[i] == s) return static_cast<Tier>(i);
  return std::nullopt;
}
std::optional<Outcome> outcome_from_string(std::string_view s) {
  for (size_t i = 0; i < kOutcomes.size(); ++i)
    if (kOutcomes[i] == s) return static_cast<Outcome>(i);
  return std::nullopt;
}

double cost_usd(int64_t prompt_tokens, int64_t completion_tokens, const Price& price) {
  return static_cast<double>(prompt_tokens) / 1000.0 * price.in_per_1k +
         static_cast<double>(completion_tokens) / 1000.0 * price.out_per_1k;
}

std::shared_ptr<const Clock> system_clock() {
  static const auto clock = std::make_shared<const SystemClock>();
  return clock;
}

std::string utc_timestamp(std::chrono::system_clock::time_point t) {
  using namespace std::chrono;
  int64_t ms = duration_cast<milliseconds>(t.time_since_epoch()).count();
  int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
  time_t whole = static_cast<time_t>(secs);
  std::tm tm{};
  gmtime_r(&whole, &tm);
  char text[64];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms - secs * 1000));
  return text;
}

std::string utc_month(std::chrono::system_clock::time_point t) {
  return utc_timestamp(t).substr(0, 7);
}

// A file of its own beside graph.db: a first index builds its store from scratch and
// renames it into place, which would drop anything else kept in graph.db.
std::string Ledger::db_path_for(const std::string& repo_dir) {
  return repo_dir + "/.yantra/ledger.db";
}

Ledger::Ledger(sqlite3* db, std::string path, std::shared_ptr<const Clock> clock, bool has_tables)
    : db_(db), path_(std::move(path)), clock_(std::move(clock)), has_tables_(has_tables) {}

Ledger::Ledger(Ledger&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)),
      path_(std::move(other.path_)),
      clock_(std::move(other.clock_)),
      has_tables_(other.has_tables_) {}

Ledger& Ledger::operator=(Ledger&& other) noexcept {
  if (this != &other) {
    if (db_) sqlite3_close(db_);
    db_ = std::exchange(other.db_, nullptr);
    path_ = std::move(other.path_);
    clock_ = std::move(other.clock_);
    has_tables_ = other.has_tables_;
  }
  return *this;
}

Ledger::~Ledger() {
  if (db_) sqlite3_close(db_);
}

Result<Ledger> Ledger::open(const std::string& repo_dir, OpenOptions options) {
  std::string dir = repo_dir + "/.yantra";
  if (options.create) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return Error::in(dir, "cannot create the store directory: " + ec.message());
  }
  return open_db(db_path_for(repo_dir), std::move(options));
}

Result<Ledger> Ledger::open_db(const std::string& db_path, OpenOptions options) {
  std::error_code ec;
  if (!options.create && !std::filesystem::exists(db_path, ec))
    return Error::in(db_path, "no store here yet; nothing has been recorded");
  sqlite3* db = nullptr;
  int flags =
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX | (options.create ? SQLITE_OPEN_CREATE : 0);
  if (sqlite3_open_v2(db_path.c_str(), &db, flags, nullptr) != SQLITE_OK) {
    std::string why = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return Error::in(db_path, "cannot open the ledger store: " + why);
  }
  sqlite3_busy_timeout(db, kBusyTimeoutMs);
  Ledger ledger(db, db_path, options.clock ? options.clock : system_clock(), false);
  if (auto ok = check_store(db, db_path); !ok) return ok.error();
  if (options.create) {
    if (auto ok = create_schema(db, db_path); !ok) return ok.error();
    ledger.has_tables_ = true;
  } else {
    auto has = has_ledger_tables(db, db_path);
    if (!has) return has.error();
    ledger.has_tables_ = *has;
  }
  if (ledger.has_tables_) {
    if (auto ok = check_version(db, db_path); !ok) return ok.error();
  }
  return ledger;
}

std::string Ledger::current_month() const {
  return utc_month(clock_->now());
}

Result<void> Ledger::record_call(const CallRecord& c) {
  if (!has_tables_) return Error::in(path_, "ledger: opened to read only");
  if (auto ok = check_row(c.provider, c.model, c.prompt_tokens, c.completion_tokens, c.price); !ok)
    return ok;
  if (!std::isfinite(c.latency_s) || c.latency_s < 0)
    return Error{"ledger: latency must be finite and >= 0"};
  // A refused call never reached the provider: it cost nothing.
  double cost = c.outcome == Outcome::budget_refused
                    ? 0.0
                    : cost_usd(c.prompt_tokens, c.completion_tokens, c.price);
  Statement s(db_,
              "INSERT INTO ledger_calls(at_utc, provider, model, tier, prompt_tokens, "
              "completion_tokens, tokens_estimated, price_in_per_1k, price_out_per_1k, cost_usd, "
              "latency_s, outcome, request_id) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)",
              path_);
  s.bind(1, utc_timestamp(clock_->now())).bind(2, c.provider).bind(3, c.model);
  s.bind(4, to_string(c.tier)).bind(5, c.prompt_tokens).bind(6, c.completion_tokens);
  s.bind(7, int64_t{c.tokens_estimated}).bind(8, c.price.in_per_1k).bind(9, c.price.out_per_1k);
  s.bind(10, cost).bind(11, c.latency_s).bind(12, to_string(c.outcome)).bind(13, c.request_id);
  return s.run();
}

Result<void> Ledger::record_avoided(const AvoidedRecord& a) {
  if (!has_tables_) return Error::in(path_, "ledger: opened to read only");
  if (auto ok = check_row(a.provider, a.model, a.prompt_tokens, a.completion_tokens, a.price); !ok)
    return ok;
  Statement s(db_,
              "INSERT INTO ledger_avoided(at_utc, provider, model, tier, prompt_tokens, "
              "completion_tokens, price_in_per_1k, price_out_per_1k, cost_usd, answered_by, "
              "request_id) VALUES(?,?,?,?,?,?,?,?,?,?,?)",
              path_);
  s.bind(1, utc_timestamp(clock_->now())).bind(2, a.provider).bind(3, a.model);
  s.bind(4, to_string(a.tier)).bind(5, a.prompt_tokens).bind(6, a.completion_tokens);
  s.bind(7, a.price.in_per_1k).bind(8, a.price.out_per_1k);
  s.bind(9, cost_usd(a.prompt_tokens, a.completion_tokens, a.price));
  s.bind(10, a.answered_by).bind(11, a.request_id);
  return s.run();
}

Result<void> Ledger::record_decision(const DecisionRecord& d) {
  if (!has_tables_) return Error::in(path_, "ledger: opened to read only");
  if (d.request_id.empty() || d.step.empty() || d.action.empty())
    return Error::in(path_, "ledger: a decision needs a request id, a step and an action");
  Statement s(db_,
              "INSERT INTO ledger_decisions(at_utc, request_id, step, action, reason) "
              "VALUES(?,?,?,?,?)",
              path_);
  s.bind(1, utc_timestamp(clock_->now())).bind(2, d.request_id).bind(3, d.step);
  s.bind(4, d.action).bind(5, d.reason);
  return s.run();
}

Result<std::vector<DecisionRecord>> Ledger::decisions(std::string_view request_id) {
  std::vector<DecisionRecord> out;
  if (!has_tables_) return out;
  Statement s(db_,
              "SELECT request_id, step, action, reason FROM ledger_decisions WHERE request_id = ? "
              "ORDER BY id",
              path_);
  s.bind(1, request_id);
  for (;;) {
    auto row = s.step();
    if (!row) return row.error();
    if (!*row) break;
    out.push_back({s.text(0), s.text(1), s.text(2), s.text(3)});
  }
  return out;
}

Result<double> Ledger::month_spend(std::string_view provider, std::string_view year_month) {
  bool well_formed = year_month.size() == 7 && year_month[4] == '-';
  for (size_t i : {0u, 1u, 2u, 3u, 5u, 6u})
    well_formed = well_formed && std::isdigit(static_cast<unsigned char>(year_month[i]));
  if (!well_formed)
    return Error{"ledger: a month is written YYYY-MM, not '" + std::string(year_month) + "'"};
  if (!has_tables_) return 0.0;
  // Timestamps sort as text; every one of the month lies in [YYYY-MM-, YYYY-MM-~).
  Statement s(db_,
              "SELECT cost_usd FROM ledger_calls WHERE provider=? AND at_utc >= ? AND at_utc < ?",
              path_);
  std::string month(year_month);
  s.bind(1, provider).bind(2, month + "-").bind(3, month + "-~");
  Sum spent;
  for (;;) {
    auto row = s.step();
    if (!row) return row.error();
    if (!*row) break;
    spent.add(s.real(0));
  }
  return spent.value();
}

Result<void> Ledger::check_budget(std::string_view provider, Tier tier, bool price_is_free,
                                  std::optional<double> budget_month_usd, double estimated_cost) {
  if (price_is_free) return {};
  std::string name(provider);
  std::string raise = "`yantra config set providers." + name + ".budget_month_usd N`";
  if (!budget_month_usd) {
    if (tier != Tier::premium) return {};
    return Error{"provider " + name +
                 " is a paid premium provider with no monthly budget; set "
                 "one with " +
                 raise + " before it is used"};
  }
  if (!std::isfinite(*budget_month_usd) || *budget_month_usd < 0)
    return Error{"provider " + name + " has an invalid monthly budget; set it with " + raise};
  if (!std::isfinite(estimated_cost) || estimated_cost < 0)
    return Error{"provider " + name + ": the call's estimated cost is invalid; refusing it"};
  std::string month = current_month();
  auto spent = month_spend(provider, month);
  if (!spent)
    return Error{"provider " + name +
                 ": cannot read this month's spend, so the call is "
                 "refused (" +
                 spent.error().message + ")"};
  if (*spent + estimated_cost <= *budget_month_usd + kBudgetSlackUsd) return {};
  return Error{"provider " + name + " has spent " + money(*spent) + " of its " +
               money(*budget_month_usd) + " budget for " + month + "; this call (about " +
               money(estimated_cost) + ") would exceed it; raise it with " + raise +
               " or wait until next month"};
}

}  // namespace yantra::ledger
