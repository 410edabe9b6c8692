// Internal to the ledger part: a small SQLite statement wrapper and exact-enough sums.
#pragma once

#include <sqlite3.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/base.h"

namespace yantra::ledger {

// A prepared statement; errors surface as Result values naming the store.
class Statement {
 public:
  Statement(sqlite3* db, std::string_view sql, const std::string& path) : db_(db), path_(path) {
    if (sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &stmt_, nullptr) !=
        SQLITE_OK)
      error_ = sqlite3_errmsg(db);
  }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement() { sqlite3_finalize(stmt_); }

  Statement& bind(int i, std::string_view v) {
    if (stmt_) sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Statement& bind(int i, int64_t v) {
    if (stmt_) sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  Statement& bind(int i, double v) {
    if (stmt_) sqlite3_bind_double(stmt_, i, v);
    return *this;
  }
  // true: a row is ready; false: done. An error ends the statement and is returned.
  Result<bool> step() {
    if (!stmt_) return failure();
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    error_ = sqlite3_errmsg(db_);
    return failure();
  }
  Result<void> run() {
    auto r = step();
    if (!r) return r.error();
    return {};
  }
  std::string text(int col) const {
    const auto* p = sqlite3_column_text(stmt_, col);
    return p ? std::string(reinterpret_cast<const char*>(p)) : std::string();
  }
  int64_t int64(int col) const { return sqlite3_column_int64(stmt_, col); }
  double real(int col) const { return sqlite3_column_double(stmt_, col); }

 private:
  Error failure() const { return Error::in(path_, "ledger: " + error_); }
  sqlite3* db_;
  std::string path_;
  sqlite3_stmt* stmt_ = nullptr;
  std::string error_;
};

// Neumaier's compensated sum: many small costs add up without drifting.
class Sum {
 public:
  void add(double x) {
    double t = sum_ + x;
    comp_ += std::fabs(sum_) >= std::fabs(x) ? (sum_ - t) + x : (x - t) + sum_;
    sum_ = t;
  }
  double value() const { return sum_ + comp_; }

 private:
  double sum_ = 0, comp_ = 0;
};

Result<void> exec(sqlite3* db, const char* sql, const std::string& path);

}  // namespace yantra::ledger
