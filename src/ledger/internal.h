// Internal to the ledger part: its SQLite statement and exact-enough sums.
#pragma once

#include <sqlite3.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/base.h"
#include "base/sqlite_statement.h"

namespace yantra::ledger {

// A statement that names the ledger in its errors.
class Statement : public SqliteStatement {
 public:
  Statement(sqlite3* db, std::string_view sql, const std::string& path)
      : SqliteStatement(db, sql, path, "ledger") {}
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
