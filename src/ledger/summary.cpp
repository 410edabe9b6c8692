// Ledger::summary: every row folded into totals per tier, outcome, provider/model, day
// and month. Folded here rather than with SQL SUM so the money is summed with
// compensation (SQLite's SUM adds doubles naively).
#include <map>

#include "ledger/internal.h"
#include "ledger/ledger.h"

namespace yantra::ledger {
namespace {

// A bucket while it fills: money kept as compensated sums until the end.
struct Filling {
  Bucket bucket;
  Sum spend, avoided;
};

struct Fold {
  Filling total;
  std::map<std::string, Filling> by_tier, by_outcome, by_day, by_month;
  std::map<std::pair<std::string, std::string>, Filling> by_provider_model;
};

struct CallRow {
  std::string at, provider, model, tier, outcome;
  int64_t prompt = 0, completion = 0;
  bool estimated = false;
  double cost = 0;
};

void add_call(Filling& f, const CallRow& r) {
  f.bucket.calls++;
  f.bucket.prompt_tokens += r.prompt;
  f.bucket.completion_tokens += r.completion;
  f.bucket.estimated_calls += r.estimated;
  f.spend.add(r.cost);
}

void add_avoided(Filling& f, double cost) {
  f.bucket.avoided_calls++;
  f.avoided.add(cost);
}

// The buckets a row counts in, outcome aside (avoided rows have none).
template <class F>
void each_bucket(Fold& fold, const CallRow& r, F&& f) {
  f(fold.total);
  f(fold.by_tier[r.tier]);
  f(fold.by_day[r.at.substr(0, 10)]);
  f(fold.by_month[r.at.substr(0, 7)]);
  f(fold.by_provider_model[{r.provider, r.model}]);
}

template <class Key>
std::map<Key, Bucket> finish(std::map<Key, Filling>& in) {
  std::map<Key, Bucket> out;
  for (auto& [key, f] : in) {
    f.bucket.spend_usd = f.spend.value();
    f.bucket.avoided_usd = f.avoided.value();
    out.emplace(key, f.bucket);
  }
  return out;
}

Result<void> fold_calls(sqlite3* db, const std::string& path, Fold& fold) {
  Statement s(db,
              "SELECT at_utc, provider, model, tier, outcome, prompt_tokens, completion_tokens, "
              "tokens_estimated, cost_usd FROM ledger_calls ORDER BY id",
              path);
  for (;;) {
    auto row = s.step();
    if (!row) return row.error();
    if (!*row) return {};
    CallRow r{s.text(0),  s.text(1),  s.text(2),       s.text(3), s.text(4),
              s.int64(5), s.int64(6), s.int64(7) != 0, s.real(8)};
    each_bucket(fold, r, [&r](Filling& f) { add_call(f, r); });
    add_call(fold.by_outcome[r.outcome], r);
  }
}

Result<void> fold_avoided(sqlite3* db, const std::string& path, Fold& fold) {
  Statement s(db, "SELECT at_utc, provider, model, tier, cost_usd FROM ledger_avoided ORDER BY id",
              path);
  for (;;) {
    auto row = s.step();
    if (!row) return row.error();
    if (!*row) return {};
    CallRow r{s.text(0), s.text(1), s.text(2), s.text(3)};
    double cost = s.real(4);
    each_bucket(fold, r, [cost](Filling& f) { add_avoided(f, cost); });
  }
}

}  // namespace

Result<Summary> Ledger::summary() {
  Summary out;
  out.db_path = path_;
  if (!has_tables_) return out;
  Fold fold;
  // One read transaction: calls and avoided rows from the same moment.
  if (auto ok = exec(db_, "BEGIN", path_); !ok) return ok.error();
  auto calls = fold_calls(db_, path_, fold);
  auto avoided = calls ? fold_avoided(db_, path_, fold) : Result<void>();
  exec(db_, "COMMIT", path_).ok();
  if (!calls) return calls.error();
  if (!avoided) return avoided.error();
  fold.total.bucket.spend_usd = fold.total.spend.value();
  fold.total.bucket.avoided_usd = fold.total.avoided.value();
  out.total = fold.total.bucket;
  out.by_tier = finish(fold.by_tier);
  out.by_outcome = finish(fold.by_outcome);
  out.by_day = finish(fold.by_day);
  out.by_month = finish(fold.by_month);
  out.by_provider_model = finish(fold.by_provider_model);
  return out;
}

}  // namespace yantra::ledger
