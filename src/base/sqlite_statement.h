// A prepared SQLite statement for the parts that keep their own store (ledger, library, labels):
// binds by index, steps, reads columns; errors come back as Result values naming the
// file and the part.
//
//   SqliteStatement s(db, "SELECT cost FROM calls WHERE provider = ?", path, "ledger");
//   s.bind(1, "openai");
//   if (auto ok = s.for_each_row([&] { total += s.real(0); }); !ok) return ok.error();
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

#include "base/base.h"

namespace yantra {

// A prepared statement; errors surface as Result values naming the store.
class SqliteStatement {
 public:
  // `part` names who holds the store in errors: "ledger: database is locked".
  SqliteStatement(sqlite3* db, std::string_view sql, const std::string& path, std::string_view part)
      : db_(db), path_(path), part_(part) {
    if (sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &stmt_, nullptr) !=
        SQLITE_OK)
      error_ = sqlite3_errmsg(db);
  }
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;
  ~SqliteStatement() { sqlite3_finalize(stmt_); }

  SqliteStatement& bind(int i, std::string_view v) {
    if (stmt_) sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  SqliteStatement& bind(int i, int64_t v) {
    if (stmt_) sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  SqliteStatement& bind(int i, double v) {
    if (stmt_) sqlite3_bind_double(stmt_, i, v);
    return *this;
  }
  SqliteStatement& bind_blob(int i, const void* data, size_t bytes) {
    if (stmt_) sqlite3_bind_blob64(stmt_, i, data, bytes, SQLITE_TRANSIENT);
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
  // Calls fn() on each row in turn. fn returns nothing, or a Result<void> whose error ends
  // the walk; that error, or SQLite's, comes back.
  template <class Fn>
  Result<void> for_each_row(Fn&& fn) {
    for (;;) {
      auto row = step();
      if (!row) return row.error();
      if (!*row) return {};
      if constexpr (std::is_void_v<std::invoke_result_t<Fn&>>) {
        fn();
      } else if (Result<void> stop = fn(); !stop) {
        return stop;
      }
    }
  }
  // Steps once (a write) and resets, so the statement runs again with new bindings.
  Result<void> run() {
    auto r = step();
    reset();
    if (!r) return r.error();
    return {};
  }
  // Ready to step again from the first row; bindings are cleared.
  void reset() {
    if (stmt_) sqlite3_reset(stmt_), sqlite3_clear_bindings(stmt_);
  }
  std::string text(int col) const {
    const auto* p = sqlite3_column_text(stmt_, col);
    return p ? std::string(reinterpret_cast<const char*>(p),
                           static_cast<size_t>(sqlite3_column_bytes(stmt_, col)))
             : std::string();
  }
  int64_t int64(int col) const { return sqlite3_column_int64(stmt_, col); }
  double real(int col) const { return sqlite3_column_double(stmt_, col); }
  std::span<const unsigned char> blob(int col) const {
    const auto* p = static_cast<const unsigned char*>(sqlite3_column_blob(stmt_, col));
    return {p, p ? static_cast<size_t>(sqlite3_column_bytes(stmt_, col)) : 0};
  }

 private:
  Error failure() const { return Error::in(path_, std::string(part_).append(": ").append(error_)); }
  sqlite3* db_;
  std::string path_;
  std::string_view part_;
  sqlite3_stmt* stmt_ = nullptr;
  std::string error_;
};

// PRAGMA application_id of every Yantra store ("YANT"); graph/store.h sets the same value.
constexpr int64_t kYantraApplicationId = 0x59414e54;

// Refuses a file that SQLite cannot read (`if_unusable` says what to do) or that another
// program owns (an application id that is neither unset nor Yantra's).
inline Result<void> check_yantra_store(sqlite3* db, const std::string& path, std::string_view part,
                                       std::string_view if_unusable) {
  SqliteStatement app(db, "PRAGMA application_id", path, part);
  auto row = app.step();
  if (!row)
    return Error::in(path, std::string("not a usable SQLite store (")
                               .append(row.error().message)
                               .append("); ")
                               .append(if_unusable));
  if (*row && app.int64(0) != 0 && app.int64(0) != kYantraApplicationId)
    return Error::in(path,
                     "this SQLite file belongs to another program, not Yantra; it was "
                     "left untouched");
  return {};
}

}  // namespace yantra
