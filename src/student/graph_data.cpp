// Loading the code graph for the student: node attributes and edges by kind, from the
// graph store's SQLite file (read-only, so an index may run beside training).
#include <sqlite3.h>

#include <algorithm>
#include <unordered_map>

#include "student/student.h"

namespace yantra::student {
namespace {

Kind kind_from(std::string_view s) {
  if (s == "module") return Kind::kModule;
  if (s == "class") return Kind::kClass;
  if (s == "function") return Kind::kFunction;
  if (s == "method") return Kind::kMethod;
  if (s == "test") return Kind::kTest;
  return Kind::kExternal;
}

std::string text_column(sqlite3_stmt* s, int i) {
  const unsigned char* t = sqlite3_column_text(s, i);
  return t ? std::string(reinterpret_cast<const char*>(t)) : std::string();
}

class Db {
 public:
  ~Db() { sqlite3_close(db_); }
  Result<void> open(const std::string& path) {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK)
      return Error::in(path, std::string("cannot open the graph store: ") + sqlite3_errmsg(db_) +
                                 "; run `yantra index` first");
    sqlite3_busy_timeout(db_, 5000);
    return {};
  }
  // Runs `sql`, calling `row` for each result row.
  template <class F>
  Result<void> each(const std::string& path, const char* sql, F row) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db_, sql, -1, &s, nullptr) != SQLITE_OK)
      return Error::in(path, std::string("not a Yantra graph store (") + sqlite3_errmsg(db_) +
                                 "); run `yantra index` to rebuild it");
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) row(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) return Error::in(path, std::string("read failed: ") + sqlite3_errmsg(db_));
    return {};
  }

 private:
  sqlite3* db_ = nullptr;
};

}  // namespace

Result<GraphData> load_graph(const std::string& db_path) {
  Db db;
  if (auto ok = db.open(db_path); !ok) return ok.error();
  GraphData g;
  g.db_path = db_path;
  std::unordered_map<int64_t, int32_t> index;
  auto nodes = db.each(db_path,
                       "SELECT id, kind, qname, name, coalesce(signature,''), "
                       "coalesce(docstring,''), coalesce(file_id,-1), coalesce(n_params,0), "
                       "coalesce(n_lines,0), coalesce(complexity,0), flags FROM nodes ORDER BY id",
                       [&](sqlite3_stmt* s) {
                         index.emplace(sqlite3_column_int64(s, 0), int32_t(g.db_id.size()));
                         g.db_id.push_back(sqlite3_column_int64(s, 0));
                         g.kind.push_back(kind_from(text_column(s, 1)));
                         g.qname.push_back(text_column(s, 2));
                         g.name.push_back(text_column(s, 3));
                         g.signature.push_back(text_column(s, 4));
                         g.docstring.push_back(text_column(s, 5));
                         g.file.push_back(int32_t(sqlite3_column_int64(s, 6)));
                         g.n_params.push_back(float(sqlite3_column_double(s, 7)));
                         g.n_lines.push_back(float(sqlite3_column_double(s, 8)));
                         g.complexity.push_back(float(sqlite3_column_double(s, 9)));
                         g.flags.push_back(uint32_t(sqlite3_column_int64(s, 10)));
                       });
  if (!nodes) return nodes.error();
  if (g.size() == 0)
    return Error::in(db_path, "the graph is empty; index a repository with Python files first");
  g.parent.assign(g.size(), -1);
  auto edges = db.each(
      db_path, "SELECT src, kind, dst, resolved FROM edges ORDER BY src, kind, dst",
      [&](sqlite3_stmt* s) {
        auto src = index.find(sqlite3_column_int64(s, 0));
        auto dst = index.find(sqlite3_column_int64(s, 2));
        if (src == index.end() || dst == index.end()) return;  // dangling: store mid-write
        int32_t u = src->second, v = dst->second;
        std::string kind = text_column(s, 1);
        if (kind == "calls") {
          if (u == v) return;
          if (g.kind[v] == Kind::kExternal || g.kind[v] == Kind::kModule)
            g.calls_external.emplace_back(u, v);
          else
            g.calls_resolved.emplace_back(u, v);
        } else if (kind == "contains") {
          g.contains.emplace_back(u, v);
          g.parent[v] = u;
        } else if (kind == "imports") {
          g.imports.emplace_back(u, v);
        } else if (kind == "inherits") {
          g.inherits.emplace_back(u, v);
        } else if (kind == "tests") {
          g.tests.emplace_back(u, v);
        }
      });
  if (!edges) return edges.error();
  return g;
}

bool GraphData::is_candidate(int32_t node) const {
  Kind k = kind[node];
  return k == Kind::kFunction || k == Kind::kMethod || k == Kind::kClass || k == Kind::kTest;
}

int32_t GraphData::find(const std::string& wanted) const {
  int32_t by_suffix = -1, suffix_matches = 0;
  for (size_t i = 0; i < size(); ++i) {
    if (qname[i] == wanted && kind[i] != Kind::kExternal) return int32_t(i);
    bool suffix = qname[i].size() > wanted.size() && qname[i].ends_with(wanted) &&
                  qname[i][qname[i].size() - wanted.size() - 1] == '.';
    if (suffix && kind[i] != Kind::kExternal) by_suffix = int32_t(i), ++suffix_matches;
  }
  return suffix_matches == 1 ? by_suffix : -1;
}

}  // namespace yantra::student
