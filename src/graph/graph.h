// graph: a Python repository as a queryable code graph in SQLite.
//
//   IndexOptions options;
//   options.root = "/path/to/repo";                     // store: /path/to/repo/.yantra/graph.db
//   IndexReport report = index_repository(real_file_system(), options).take();
//   printf("%zu parsed, %zu unchanged\n", report.files_parsed, report.files_unchanged);
//
//   GraphReader graph = GraphReader::open(report.db_path).take();
//   NodeInfo dumps = graph.find_one("json.dumps").take();   // qname, suffix or name
//   for (const EdgeInfo& e : graph.callees(dumps.id)) puts(e.node.qname.c_str());
//
// Nodes: module, class, function, method, test (a test function or method), external (a
// name the repository uses but does not define, such as `os.path.join`). Edges: contains,
// imports, calls, inherits, tests (a test -> the function it exercises).
// A second index_repository() re-parses only files whose content changed, removes deleted
// ones, re-resolves names across the repository from stored per-file facts, and writes
// only the difference, in one transaction.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/base.h"
#include "source/source.h"

namespace yantra::graph {

enum class NodeKind : uint8_t { kModule, kClass, kFunction, kMethod, kTest, kExternal };
// Alphabetical, so edges sorted by kind are also sorted as the store's primary key.
enum class EdgeKind : uint8_t { kCalls, kContains, kImports, kInherits, kTests };
std::string_view to_string(NodeKind kind);
std::string_view to_string(EdgeKind kind);

struct IndexOptions {
  std::string root;
  std::string store_dir;  // default: ROOT/.yantra
  unsigned threads = 0;   // 0: every core
  bool progress = true;   // a progress bar when stderr is a terminal
  // For a process that exits right after indexing (the CLI): leave the run's parse and
  // resolution structures to the OS rather than free them one by one, as clang's
  // -disable-free does. Library users keep the default.
  bool leave_memory_to_exit = false;
  SourceOptions sources;
};

struct IndexReport {
  std::string db_path;
  size_t files_seen = 0;       // Python files found (not ignored)
  size_t files_parsed = 0;     // parsed this run (new or changed content)
  size_t files_unchanged = 0;  // facts reused from the store
  size_t files_removed = 0;    // gone since the last run
  size_t files_failed = 0;     // could not be read or decoded (see problems)
  size_t files_with_syntax_errors = 0;
  size_t syntax_errors = 0;
  uint64_t bytes_parsed = 0;
  size_t nodes = 0, edges = 0;
  std::map<std::string, size_t> nodes_by_kind, edges_by_kind;
  size_t calls_resolved = 0;  // call edges whose callee is defined in the repository
  size_t nodes_written = 0, nodes_deleted = 0, edges_written = 0, edges_deleted = 0;
  double seconds = 0, scan_seconds = 0, parse_seconds = 0, resolve_seconds = 0, write_seconds = 0;
  bool up_to_date = false;      // nothing changed: the store was not touched
  std::vector<Error> problems;  // one line per file that was skipped or parsed with errors
};

// Indexes options.root into its store. Per-file problems go to report.problems and the
// run goes on; an Error means the run could not happen (store refused, locked...).
Result<IndexReport> index_repository(FileSystem& fs, const IndexOptions& options);

struct NodeInfo {
  int64_t id = 0;
  std::string kind, qname, name, file;  // file: relative path; empty for externals
  uint32_t line = 0, end_line = 0, col = 0, n_lines = 0, complexity = 0;
  int32_t n_params = -1;
  std::string signature, decorators, docstring, flags;
  bool is_async = false;
};

struct EdgeInfo {
  NodeInfo node;  // the node at the other end
  std::string kind;
  uint32_t n = 1, line = 0;
  bool resolved = true;
};

struct GraphStats {
  std::string root;
  int64_t files = 0, files_with_syntax_errors = 0, syntax_errors = 0, lines = 0, bytes = 0;
  std::map<std::string, int64_t> nodes_by_kind, edges_by_kind;
  int64_t nodes = 0, edges = 0, calls_resolved = 0, calls_external = 0;
  std::string indexed_at;  // UTC, ISO 8601
};

// Read-only access to an existing graph.db.
class GraphReader {
 public:
  static Result<GraphReader> open(const std::string& db_path);
  GraphReader(GraphReader&&) noexcept;
  GraphReader& operator=(GraphReader&&) noexcept;
  ~GraphReader();

  GraphStats stats() const;
  // Exact qualified name first, then a dotted suffix ("JSONEncoder.encode") or a bare
  // name; several matches are all returned. Repository nodes hide externals of the same
  // name, which are returned only when nothing in the repository matches.
  std::vector<NodeInfo> find(std::string_view name) const;
  // One node, or an error that lists the candidates when the name is ambiguous, or
  // suggests the nearest name (a typo) when nothing matches.
  Result<NodeInfo> find_one(std::string_view name) const;
  std::vector<EdgeInfo> callers(int64_t id) const;
  std::vector<EdgeInfo> callees(int64_t id) const;
  std::vector<EdgeInfo> tests_of(int64_t id) const;        // tests that exercise `id`
  std::vector<EdgeInfo> tested_by_this(int64_t id) const;  // what test `id` exercises
  std::vector<EdgeInfo> out_edges(int64_t id, EdgeKind kind) const;

 private:
  explicit GraphReader(void* db) : db_(db) {}
  std::vector<EdgeInfo> edges(int64_t id, std::string_view kind, bool outgoing) const;
  std::optional<std::string> near_name(std::string_view name) const;
  void* db_ = nullptr;  // sqlite3*
};

}  // namespace yantra::graph
