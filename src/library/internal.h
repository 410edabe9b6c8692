// Internal to the library part: its SQLite statement, a transaction guard, the
// hnswlib index behind a small interface, and the state a Library holds.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/base.h"
#include "base/sqlite_statement.h"
#include "library/library.h"

namespace yantra::library {

constexpr int kSchemaVersion = 1;

// A statement that names the library in its errors.
class Statement : public SqliteStatement {
 public:
  Statement(sqlite3* db, std::string_view sql, const std::string& path)
      : SqliteStatement(db, sql, path, "library") {}
};

Result<void> exec(sqlite3* db, const char* sql, const std::string& path);

// BEGIN IMMEDIATE ... COMMIT; rolled back when left without commit().
class Transaction {
 public:
  static Result<Transaction> begin(sqlite3* db, const std::string& path);
  Result<void> commit();
  Transaction(Transaction&& o) noexcept
      : db_(std::exchange(o.db_, nullptr)), path_(std::move(o.path_)) {}
  Transaction& operator=(Transaction&&) = delete;
  ~Transaction();

 private:
  Transaction(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  sqlite3* db_ = nullptr;  // null once committed
  std::string path_;
};

// The unit vector along `v`; empty when v has no length.
std::vector<float> normalised(std::span<const float> v);
// "embedding has 3 values, ..." when `v` is not a usable `dim`-dimensional vector.
Result<void> check_vector(std::span<const float> v, int dim, std::string_view what,
                          const std::string& path);

// One hnswlib graph (inner product over unit vectors) whose labels are entry ids.
// hnswlib's exceptions are caught here and returned as Errors.
class VectorIndex {
 public:
  explicit VectorIndex(int dim);
  VectorIndex(VectorIndex&&) noexcept;
  VectorIndex& operator=(VectorIndex&&) noexcept;
  ~VectorIndex();

  Result<void> add(int64_t id, std::span<const float> unit);
  Result<void> remove(int64_t id);
  size_t size() const;  // live (not deleted) points
  // Up to n (similarity, id) pairs, best first.
  Result<std::vector<std::pair<float, int64_t>>> search(std::span<const float> unit, size_t n);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct Library::State {
  sqlite3* db = nullptr;
  std::string path;
  int dim = 0;
  std::mutex mutex;
  VectorIndex kept, avoided;        // valid entries, and valid avoid entries
  std::map<int64_t, bool> indexed;  // id -> avoid, for every id in kept or avoided
  int64_t data_version = -1;        // -1: not in step with the store; sync() rebuilds
  State(sqlite3* d, std::string p, int n)
      : db(d), path(std::move(p)), dim(n), kept(n), avoided(n) {}
  ~State();
};

// Brings the in-memory index in step with the rows (after other connections' writes).
Result<void> sync(Library::State& s);
// Takes a valid id out of the index (after invalidation).
void unindex(Library::State& s, int64_t id);

// Row <-> Entry.
extern const char* const kEntryColumns;  // the SELECT list read_entry() expects
Result<Entry> read_entry(const Statement& row, int dim, const std::string& path);
Result<Entry> load_entry(Library::State& s, int64_t id);
Result<std::string> to_json(const std::vector<std::string>& list, std::string_view what);
Result<std::string> to_json(const std::map<std::string, std::string>& map);

std::string utc_now();

}  // namespace yantra::library
