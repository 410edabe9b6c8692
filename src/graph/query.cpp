// GraphReader: the read side of graph.db, behind `yantra graph ...`.
#include <sqlite3.h>

#include <algorithm>
#include <cstdint>

#include "graph/graph.h"
#include "graph/store.h"

namespace yantra::graph {

std::string_view to_string(NodeKind kind) {
  switch (kind) {
    case NodeKind::kModule:
      return "module";
    case NodeKind::kClass:
      return "class";
    case NodeKind::kFunction:
      return "function";
    case NodeKind::kMethod:
      return "method";
    case NodeKind::kTest:
      return "test";
    case NodeKind::kExternal:
      return "external";
  }
  return "?";
}

std::string_view to_string(EdgeKind kind) {
  switch (kind) {
    case EdgeKind::kContains:
      return "contains";
    case EdgeKind::kImports:
      return "imports";
    case EdgeKind::kCalls:
      return "calls";
    case EdgeKind::kInherits:
      return "inherits";
    case EdgeKind::kTests:
      return "tests";
  }
  return "?";
}

namespace {

sqlite3* as_db(void* p) {
  return static_cast<sqlite3*>(p);
}

constexpr const char* kNodeColumns =
    "n.id, n.kind, n.qname, n.name, coalesce(f.path, ''), coalesce(n.line, 0), "
    "coalesce(n.end_line, 0), coalesce(n.col, 0), coalesce(n.n_lines, 0), "
    "coalesce(n.complexity, 0), coalesce(n.n_params, -1), coalesce(n.signature, ''), "
    "coalesce(n.decorators, ''), coalesce(n.docstring, ''), n.flags, n.is_async";

NodeInfo read_node(const Statement& s, int first) {
  NodeInfo n;
  n.id = s.int64(first);
  n.kind = s.text(first + 1);
  n.qname = s.text(first + 2);
  n.name = s.text(first + 3);
  n.file = s.text(first + 4);
  n.line = static_cast<uint32_t>(s.int64(first + 5));
  n.end_line = static_cast<uint32_t>(s.int64(first + 6));
  n.col = static_cast<uint32_t>(s.int64(first + 7));
  n.n_lines = static_cast<uint32_t>(s.int64(first + 8));
  n.complexity = static_cast<uint32_t>(s.int64(first + 9));
  n.n_params = static_cast<int32_t>(s.int64(first + 10));
  n.signature = s.text(first + 11);
  n.decorators = s.text(first + 12);
  n.docstring = s.text(first + 13);
  n.flags = pattern_flags_text(static_cast<uint32_t>(s.int64(first + 14)));
  n.is_async = s.int64(first + 15) != 0;
  return n;
}

}  // namespace

Result<GraphReader> GraphReader::open(const std::string& db_path) {
  auto store = Store::open(db_path, false);
  if (!store) return store.error();
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    std::string why = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return Error::in(db_path, "cannot open graph store: " + why);
  }
  sqlite3_busy_timeout(db, 5000);
  return GraphReader(db);
}

GraphReader::GraphReader(GraphReader&& o) noexcept : db_(std::exchange(o.db_, nullptr)) {}
GraphReader& GraphReader::operator=(GraphReader&& o) noexcept {
  std::swap(db_, o.db_);
  return *this;
}
GraphReader::~GraphReader() {
  if (db_) sqlite3_close(as_db(db_));
}

GraphStats GraphReader::stats() const {
  sqlite3* db = as_db(db_);
  GraphStats st;
  {
    Statement s(db, "SELECT key, value FROM meta WHERE key IN ('root', 'indexed_at')");
    while (s.step()) (s.text(0) == "root" ? st.root : st.indexed_at) = s.text(1);
  }
  {
    Statement s(
        db,
        "SELECT count(*), coalesce(sum(syntax_errors > 0), 0), coalesce(sum(syntax_errors), 0), "
        "coalesce(sum(n_lines), 0), coalesce(sum(size), 0) FROM files WHERE status != 'failed'");
    if (s.step()) {
      st.files = s.int64(0), st.files_with_syntax_errors = s.int64(1);
      st.syntax_errors = s.int64(2), st.lines = s.int64(3), st.bytes = s.int64(4);
    }
  }
  {
    Statement s(db, "SELECT kind, count(*) FROM nodes GROUP BY kind");
    while (s.step()) st.nodes += st.nodes_by_kind[std::string(s.text(0))] = s.int64(1);
  }
  {
    Statement s(db, "SELECT kind, count(*), sum(resolved) FROM edges GROUP BY kind");
    while (s.step()) {
      st.edges += st.edges_by_kind[std::string(s.text(0))] = s.int64(1);
      if (s.text(0) == "calls")
        st.calls_resolved = s.int64(2), st.calls_external = s.int64(1) - s.int64(2);
    }
  }
  return st;
}

std::vector<NodeInfo> GraphReader::find(std::string_view name) const {
  sqlite3* db = as_db(db_);
  std::string base = std::string("SELECT ") + kNodeColumns +
                     " FROM nodes n LEFT JOIN files f ON f.id = n.file_id WHERE ";
  auto run = [&](const std::string& where, std::string_view a, std::string_view b) {
    std::vector<NodeInfo> out;
    Statement s(db, base + where + " ORDER BY n.kind = 'external', n.qname LIMIT 50");
    s.bind(1, a).bind(2, b);
    while (s.step()) out.push_back(read_node(s, 0));
    return out;
  };
  auto in_repository = [](const std::vector<NodeInfo>& found) {
    return !found.empty() && found.front().kind != "external";  // externals sort last
  };
  std::vector<NodeInfo> exact = run("n.qname = ?1 AND ?2 = ?2", name, "");
  if (in_repository(exact)) return exact;
  // A dotted suffix ("JSONEncoder.encode") or a bare name, through the name index.
  size_t dot = name.rfind('.');
  std::string last(dot == name.npos ? name : name.substr(dot + 1));
  std::string suffix(1, '.');
  suffix.append(name);
  std::vector<NodeInfo> named =
      dot == name.npos ? run("n.name = ?1 AND ?2 = ?2", last, "")
                       : run("n.name = ?1 AND substr(n.qname, -length(?2)) = ?2", last, suffix);
  // The repository's own nodes before externals: an unresolved bare call `dedent()`
  // leaves an external named "dedent" that must not hide textwrap.dedent.
  if (in_repository(named)) {
    std::erase_if(named, [](const NodeInfo& n) { return n.kind == "external"; });
    return named;
  }
  return exact.empty() ? named : exact;
}

std::optional<std::string> GraphReader::near_name(std::string_view name) const {
  sqlite3* db = as_db(db_);
  size_t dot = name.rfind('.');
  std::string_view last = dot == name.npos ? name : name.substr(dot + 1);
  std::vector<std::string> names;
  {
    Statement s(db, "SELECT DISTINCT name FROM nodes");
    while (s.step()) names.emplace_back(s.text(0));
  }
  std::optional<std::string> near = closest_match(last, names);
  if (!near) return std::nullopt;
  // Of the nodes with that name, the one whose last parts are nearest what was typed
  // ("JSONEncoder.encodee" against "JSONEncoder.encode", not the whole qualified name).
  size_t parts = static_cast<size_t>(std::count(name.begin(), name.end(), '.')) + 1;
  auto tail = [parts](std::string_view qname) {
    size_t start = qname.size();
    for (size_t seen = 0; seen < parts && start != qname.npos && start > 0; ++seen)
      start = qname.rfind('.', start - 1);
    return start == qname.npos ? qname : qname.substr(start + 1);
  };
  Statement s(db, "SELECT qname FROM nodes WHERE name = ?1 ORDER BY kind = 'external', qname");
  s.bind(1, *near);
  std::optional<std::string> best;
  size_t best_distance = SIZE_MAX;
  while (s.step()) {
    std::string_view qname = s.text(0);
    size_t d = edit_distance(name, tail(qname));
    if (d < best_distance) best_distance = d, best = std::string(qname);
  }
  return best;
}

Result<NodeInfo> GraphReader::find_one(std::string_view name) const {
  std::vector<NodeInfo> found = find(name);
  if (found.empty()) {
    std::string msg = std::string("no node named '").append(name).append("' in the graph; ");
    if (auto near = near_name(name))
      msg.append("did you mean '").append(*near).append("'? (re-run yantra index if it is new)");
    else
      msg.append(
          "give a qualified name (json.dumps) or a dotted suffix (JSONEncoder.encode), or "
          "re-run yantra index if it is new");
    return Error{msg};
  }
  if (found.size() == 1) return found.front();
  std::string msg = std::string("'").append(name).append("' is ambiguous; use one of:");
  for (size_t i = 0; i < found.size() && i < 10; ++i) msg += "\n  " + found[i].qname;
  if (found.size() > 10) msg += "\n  ... (" + std::to_string(found.size() - 10) + " more)";
  return Error{msg};
}

std::vector<EdgeInfo> GraphReader::edges(int64_t id, std::string_view kind, bool outgoing) const {
  std::string sql =
      std::string("SELECT ") + kNodeColumns +
      ", e.kind, e.n, coalesce(e.line, 0), e.resolved FROM edges e JOIN nodes n ON n.id = " +
      (outgoing ? "e.dst" : "e.src") + " LEFT JOIN files f ON f.id = n.file_id WHERE " +
      (outgoing ? "e.src" : "e.dst") + " = ?1 AND e.kind = ?2 ORDER BY n.qname";
  Statement s(as_db(db_), sql);
  s.bind(1, id).bind(2, kind);
  std::vector<EdgeInfo> out;
  while (s.step()) {
    EdgeInfo e;
    e.node = read_node(s, 0);
    e.kind = s.text(16);
    e.n = static_cast<uint32_t>(s.int64(17));
    e.line = static_cast<uint32_t>(s.int64(18));
    e.resolved = s.int64(19) != 0;
    out.push_back(std::move(e));
  }
  return out;
}

std::vector<EdgeInfo> GraphReader::callers(int64_t id) const {
  return edges(id, "calls", false);
}
std::vector<EdgeInfo> GraphReader::callees(int64_t id) const {
  return edges(id, "calls", true);
}
std::vector<EdgeInfo> GraphReader::tests_of(int64_t id) const {
  return edges(id, "tests", false);
}
std::vector<EdgeInfo> GraphReader::tested_by_this(int64_t id) const {
  return edges(id, "tests", true);
}
std::vector<EdgeInfo> GraphReader::out_edges(int64_t id, EdgeKind kind) const {
  return edges(id, to_string(kind), true);
}

}  // namespace yantra::graph
