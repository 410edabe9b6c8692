// Test helper: a graph.db as sorted text lines, one per node and edge (the format of the
// golden files in tests/golden).
#pragma once

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <string>
#include <vector>

namespace yantra::testing {

inline std::string query_lines(sqlite3* db, const char* sql) {
  sqlite3_stmt* s = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql, -1, &s, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  std::vector<std::string> rows;
  while (sqlite3_step(s) == SQLITE_ROW) {
    auto t = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
    rows.emplace_back(t ? t : "");
  }
  sqlite3_finalize(s);
  std::sort(rows.begin(), rows.end());
  std::string out;
  for (auto& r : rows) out += r + "\n";
  return out;
}

// The graph as sorted text: what a reviewer reads in the golden file.
inline std::string dump_graph(const std::string& db_path) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  std::string nodes = query_lines(db, R"sql(
    SELECT 'node ' || n.kind || ' ' || n.qname
      || coalesce('  ' || f.path || ':' || n.line, '')
      || CASE WHEN n.n_params IS NOT NULL THEN ' sig=' || n.signature || ' cx=' || n.complexity
              ELSE '' END
      || CASE WHEN n.flags != 0 THEN ' flags=' || rtrim(
           CASE WHEN n.flags & 1 THEN 'raises,' ELSE '' END ||
           CASE WHEN n.flags & 2 THEN 'validation,' ELSE '' END ||
           CASE WHEN n.flags & 4 THEN 'db,' ELSE '' END ||
           CASE WHEN n.flags & 8 THEN 'http,' ELSE '' END ||
           CASE WHEN n.flags & 16 THEN 'io,' ELSE '' END ||
           CASE WHEN n.flags & 32 THEN 'auth,' ELSE '' END, ',') ELSE '' END
      || CASE WHEN n.is_async THEN ' async' ELSE '' END
      || coalesce(' @' || replace(n.decorators, char(10), ' @'), '')
      || CASE WHEN n.docstring IS NOT NULL THEN ' doc=' || quote(n.docstring) ELSE '' END
    FROM nodes n LEFT JOIN files f ON f.id = n.file_id)sql");
  std::string edges = query_lines(db, R"sql(
    SELECT 'edge ' || e.kind || ' ' || s.qname || ' -> ' || d.qname
      || CASE WHEN e.n > 1 THEN ' n=' || e.n ELSE '' END
      || CASE WHEN e.resolved = 0 THEN ' unresolved' ELSE '' END
      || CASE WHEN e.kind = 'imports' AND e.toplevel = 0 THEN ' local' ELSE '' END
    FROM edges e JOIN nodes s ON s.id = e.src JOIN nodes d ON d.id = e.dst)sql");
  sqlite3_close(db);
  return nodes + edges;
}

}  // namespace yantra::testing
