// Reading graph.db for labels: files with their content hashes, the repository's nodes
// with their line ranges, and the tests / contains / inherits edges. Read-only, so labels
// can be extracted while an index or a training run has the store open.
#include <sqlite3.h>
#include <sys/stat.h>

#include <unordered_map>

#include "base/sqlite_statement.h"
#include "labels/internal.h"

namespace yantra::labels {
namespace {

constexpr std::string_view kPart = "graph store";
constexpr int kBusyTimeoutMs = 5000;

std::optional<NodeKind> node_kind(std::string_view s) {
  if (s == "module") return NodeKind::kModule;
  if (s == "class") return NodeKind::kClass;
  if (s == "function") return NodeKind::kFunction;
  if (s == "method") return NodeKind::kMethod;
  if (s == "test") return NodeKind::kTest;
  return std::nullopt;  // externals have no source to label
}

struct ReadOnlyDb {
  sqlite3* db = nullptr;
  ~ReadOnlyDb() { sqlite3_close(db); }
};

Error not_a_graph(const std::string& path, std::string_view why) {
  return Error::in(path, std::string("not a Yantra graph store (")
                             .append(why)
                             .append("); run `yantra index` on the repository to rebuild it"));
}

}  // namespace

Result<GraphInput> read_graph(const std::string& db_path) {
  struct stat st {};
  if (::stat(db_path.c_str(), &st) != 0)
    return Error::in(db_path, "no graph store here; run `yantra index` on the repository first");
  ReadOnlyDb handle;
  if (sqlite3_open_v2(db_path.c_str(), &handle.db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK)
    return Error::in(db_path, std::string("cannot open the graph store: ")
                                  .append(handle.db ? sqlite3_errmsg(handle.db) : "out of memory")
                                  .append("; run `yantra index` first"));
  sqlite3* db = handle.db;
  sqlite3_busy_timeout(db, kBusyTimeoutMs);
  {
    // graph.db always carries Yantra's id: an unset one is some other SQLite file.
    SqliteStatement app(db, "PRAGMA application_id", db_path, kPart);
    auto row = app.step();
    if (!row) return not_a_graph(db_path, row.error().message);
    if (!*row || app.int64(0) != kYantraApplicationId)
      return not_a_graph(db_path, "its SQLite application id is not Yantra's");
  }
  GraphInput g;
  std::unordered_map<int64_t, int32_t> file_index, node_index;
  {
    SqliteStatement s(db, "SELECT id, path, hash FROM files ORDER BY id", db_path, kPart);
    auto read = s.for_each_row([&] {
      file_index.emplace(s.int64(0), static_cast<int32_t>(g.files.size()));
      g.files.push_back({s.int64(0), s.text(1), static_cast<uint64_t>(s.int64(2))});
    });
    if (!read) return not_a_graph(db_path, read.error().message);
  }
  {
    SqliteStatement s(db,
                      "SELECT id, kind, qname, name, coalesce(file_id, -1), coalesce(line, 0), "
                      "coalesce(end_line, 0) FROM nodes WHERE kind != 'external' ORDER BY id",
                      db_path, kPart);
    auto read = s.for_each_row([&] {
      auto kind = node_kind(s.text(1));
      auto file = file_index.find(s.int64(4));
      if (!kind || file == file_index.end()) return;
      GraphNode n;
      n.id = s.int64(0);
      n.kind = *kind;
      n.qname = s.text(2);
      n.name = s.text(3);
      n.file = file->second;
      n.line = static_cast<uint32_t>(s.int64(5));
      n.end_line = static_cast<uint32_t>(s.int64(6));
      node_index.emplace(n.id, static_cast<int32_t>(g.nodes.size()));
      g.nodes.push_back(std::move(n));
    });
    if (!read) return not_a_graph(db_path, read.error().message);
  }
  SqliteStatement s(db,
                    "SELECT src, kind, dst FROM edges WHERE kind IN ('tests', 'contains', "
                    "'inherits') ORDER BY src, kind, dst",
                    db_path, kPart);
  auto read = s.for_each_row([&] {
    auto src = node_index.find(s.int64(0)), dst = node_index.find(s.int64(2));
    if (src == node_index.end() || dst == node_index.end()) return;  // an external end
    std::string kind = s.text(1);
    if (kind == "contains")
      g.nodes[dst->second].parent = src->second;
    else if (kind == "tests")
      g.tests.emplace_back(src->second, dst->second);
    else
      g.inherits.emplace_back(src->second, dst->second);
  });
  if (!read) return not_a_graph(db_path, read.error().message);
  return g;
}

}  // namespace yantra::labels
