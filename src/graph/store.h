// Internal to the graph part: the SQLite store (.yantra/graph.db).
//
// Tables: meta (key/value), files (one row per indexed file, with its encoded facts),
// nodes, edges. The store is refused, never overwritten, when it is not a SQLite file,
// belongs to another program, or was written by a newer schema.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/base.h"
#include "graph/resolve.h"

namespace yantra::graph {

constexpr int kSchemaVersion = 1;
constexpr int32_t kApplicationId = 0x59414e54;  // "YANT"

// A prepared statement, finalized by the destructor.
class Statement {
 public:
  Statement(sqlite3* db, std::string_view sql);
  Statement(const Statement&) = delete;
  ~Statement();
  Statement& bind(int i, int64_t v);
  Statement& bind(int i, std::string_view v);
  Statement& bind_blob(int i, std::string_view v);
  Statement& bind_null(int i);
  bool step();  // true while a row is available; throws FatalError on a database error
  void run();   // step() to completion, then reset for reuse
  void reset();
  int64_t int64(int col) const;
  std::string_view text(int col) const;
  std::string_view blob(int col) const;
  bool is_null(int col) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

struct StoredFile {
  int64_t id = 0;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  uint64_t hash = 0;
};

// A file's row as the indexer wants it stored.
struct FileRow {
  std::string path;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  uint64_t hash = 0;
  uint32_t n_lines = 0, syntax_errors = 0;
  std::string status;   // "ok", "syntax_errors", "failed"
  std::string message;  // first problem, for `graph stats`
  enum class Change : uint8_t { kNone, kStat, kContent };
  Change change = Change::kNone;  // kContent writes `facts`; kStat only size and mtime
  std::string facts;
};

struct WriteStats {
  size_t nodes_written = 0, nodes_deleted = 0, edges_written = 0, edges_deleted = 0;
};

class Store {
 public:
  // Opens (creating if absent) the store at `path`; refuses foreign, newer or damaged files.
  static Result<Store> open(const std::string& path, bool create);
  // A new store at PATH.new with no journal, for a first index: writing everything through
  // the WAL would write it twice. publish() renames it over `path` atomically; until then
  // readers see the old file.
  static Result<Store> create_scratch(const std::string& path);
  Result<void> publish(Store& replaced);
  bool empty() const;
  Store(Store&& other) noexcept;
  Store& operator=(Store&&) = delete;
  // Removes an unpublished scratch file.
  void discard();
  ~Store();
  sqlite3* db() const { return db_; }

  std::string meta(std::string_view key) const;
  std::unordered_map<std::string, StoredFile> files() const;
  // Decoded facts of the given stored files (by id); false entries could not be decoded.
  std::unordered_map<int64_t, std::string> facts_blobs(const std::vector<int64_t>& ids) const;

  // Makes the store equal to a resolved graph in one transaction, touching only what
  // changed. Three steps, so that files and repository nodes are written (on another
  // thread) while the resolver still works on the edges:
  //
  //   store.begin_write(files, removed);
  //   store.write_nodes(fact_paths, resolution.repository_nodes());  // may run on a thread
  //   store.finish_write(resolution.edges(), meta);  // externals, edges, deletions, COMMIT
  //
  // The steps never overlap. `fact_paths[i]` is the path of the i-th FileFacts resolved.
  // A failed step leaves the store as it was (rollback()).
  Result<void> begin_write(const std::vector<FileRow>& files,
                           const std::vector<std::string>& removed);
  Result<void> write_nodes(const std::vector<std::string>& fact_paths,
                           const std::vector<NodeRecord>& repository_nodes);
  Result<WriteStats> finish_write(const ResolvedGraph& graph,
                                  const std::vector<std::pair<std::string, std::string>>& meta);
  void rollback();
  // Commits a write that only changed file rows (begin_write without nodes or edges).
  Result<void> finish_files();

 private:
  explicit Store(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  Result<void> check_identity();
  void exec(const char* sql);
  void write_files(const std::vector<FileRow>& files, const std::vector<std::string>& removed);
  // What the write steps hand each other.
  struct Pending {
    struct Existing {
      int64_t id;
      uint64_t fp, edges_fp;
      bool seen;
    };
    std::unordered_map<std::string, Existing> existing;  // nodes stored before this write
    int64_t max_id = 0;
    std::unordered_map<std::string, int64_t> file_ids;
    std::vector<int64_t> db_id;          // per graph node
    std::vector<uint64_t> old_edges_fp;  // per graph node; 0 for new nodes
    size_t repository_nodes = 0;
    WriteStats stats;
  };
  void write_node_rows(const std::vector<NodeRecord>& nodes, size_t first, size_t end,
                       const std::vector<std::string>* fact_paths);
  void write_edges(const ResolvedGraph& graph);
  Result<void> failed(const FatalError& e);
  void create_indexes(bool nodes, bool edges);
  void close();
  sqlite3* db_ = nullptr;
  std::string path_;
  std::string final_path_;  // scratch stores: where publish() puts them
  std::unique_ptr<Pending> pending_;
};

}  // namespace yantra::graph
