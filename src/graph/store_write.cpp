// Store::write: makes the stored graph equal to a freshly resolved one by writing only the
// difference. Nodes are matched by qualified name and rewritten only when their fingerprint
// changed; a node's outgoing edges are rewritten only when the fingerprint of the whole set
// changed, so an incremental index never reads the 300,000 edges of a large repository.
// A cold index is the same diff against an empty store.
#include <unordered_map>

#include "graph/store.h"

namespace yantra::graph {
namespace {

uint64_t fingerprint(const NodeRecord& n, int64_t file_id) {
  uint64_t h = hash64(n.qname);
  std::string numbers;
  for (int64_t v : {static_cast<int64_t>(n.kind), file_id, static_cast<int64_t>(n.line),
                    static_cast<int64_t>(n.end_line), static_cast<int64_t>(n.col),
                    static_cast<int64_t>(n.n_lines), static_cast<int64_t>(n.n_params),
                    static_cast<int64_t>(n.is_async), static_cast<int64_t>(n.complexity),
                    static_cast<int64_t>(n.flags), static_cast<int64_t>(n.has_docstring)})
    numbers.append(reinterpret_cast<const char*>(&v), sizeof v);
  h = hash64_combine(h, numbers);
  h = hash64_combine(h, n.name);
  h = hash64_combine(h, n.signature);
  h = hash64_combine(h, n.decorators);
  return hash64_combine(h, n.docstring);
}

// Order-independent (a sum of per-edge hashes), never 0 for a node with edges.
uint64_t edge_hash(const EdgeRecord& e, int64_t dst) {
  uint64_t v[4] = {static_cast<uint64_t>(e.kind), static_cast<uint64_t>(dst),
                   (static_cast<uint64_t>(e.n) << 32) | e.line,
                   (e.resolved ? 2u : 0u) | (e.toplevel ? 1u : 0u)};
  return hash64(std::string_view(reinterpret_cast<const char*>(v), sizeof v)) | 1;
}

}  // namespace

Result<WriteStats> Store::write(const std::vector<FileRow>& files,
                                const std::vector<std::string>& removed,
                                const std::vector<std::string>& fact_paths,
                                const ResolvedGraph& graph,
                                const std::vector<std::pair<std::string, std::string>>& meta) {
  WriteStats stats;
  try {
    exec("BEGIN IMMEDIATE");
    write_files(files, removed);
    NodeIds ids = write_nodes(fact_paths, graph, stats);
    write_edges(ids, graph, stats);
    Statement m(db_, "INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)");
    for (const auto& [k, v] : meta) m.bind(1, k).bind(2, v).run();
    exec("COMMIT");
  } catch (const FatalError& e) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    return Error::in(path_, std::string("writing the graph failed, nothing was changed: ") + e.what());
  }
  return stats;
}

void Store::write_files(const std::vector<FileRow>& files, const std::vector<std::string>& removed) {
  Statement del(db_, "DELETE FROM files WHERE path=?");
  for (const auto& p : removed) del.bind(1, p).run();
  Statement upsert(db_,
                   "INSERT INTO files(path, size, mtime_ns, hash, n_lines, syntax_errors, status, "
                   "message, facts) VALUES(?,?,?,?,?,?,?,?,?) ON CONFLICT(path) DO UPDATE SET "
                   "size=excluded.size, mtime_ns=excluded.mtime_ns, hash=excluded.hash, "
                   "n_lines=excluded.n_lines, syntax_errors=excluded.syntax_errors, "
                   "status=excluded.status, message=excluded.message, facts=excluded.facts");
  Statement touch(db_, "UPDATE files SET size=?, mtime_ns=? WHERE path=?");
  for (const FileRow& f : files) {
    if (f.change == FileRow::Change::kStat) {
      touch.bind(1, static_cast<int64_t>(f.size)).bind(2, f.mtime_ns).bind(3, f.path).run();
    } else if (f.change == FileRow::Change::kContent) {
      upsert.bind(1, f.path).bind(2, static_cast<int64_t>(f.size)).bind(3, f.mtime_ns);
      upsert.bind(4, static_cast<int64_t>(f.hash)).bind(5, f.n_lines).bind(6, f.syntax_errors);
      upsert.bind(7, f.status).bind(8, f.message);
      if (f.facts.empty()) upsert.bind_null(9);
      else upsert.bind_blob(9, f.facts);
      upsert.run();
    }
  }
}

Store::NodeIds Store::write_nodes(const std::vector<std::string>& fact_paths,
                                 const ResolvedGraph& graph, WriteStats& stats) {
  std::unordered_map<std::string_view, int64_t> file_ids;
  std::vector<std::string> paths;  // owns the views above
  {
    Statement s(db_, "SELECT id, path FROM files");
    std::vector<std::pair<int64_t, std::string>> rows;
    while (s.step()) rows.emplace_back(s.int64(0), std::string(s.text(1)));
    paths.reserve(rows.size());
    for (auto& [id, p] : rows) file_ids.emplace(paths.emplace_back(std::move(p)), id);
  }
  struct Existing {
    int64_t id;
    uint64_t fp, edges_fp;
    bool seen;
  };
  // Keyed by qname, plus a marker for externals (see the nodes_by_qname index).
  auto identity = [](std::string_view qname, bool external) {
    std::string key(qname);
    if (external) key += '\x01';
    return key;
  };
  std::unordered_map<std::string, Existing> existing;
  int64_t max_id = 0;
  {
    Statement s(db_, "SELECT id, qname, fp, kind = 'external', edges_fp FROM nodes");
    while (s.step()) {
      existing.emplace(identity(s.text(1), s.int64(3) != 0),
                       Existing{s.int64(0), static_cast<uint64_t>(s.int64(2)),
                                static_cast<uint64_t>(s.int64(4)), false});
      max_id = std::max(max_id, s.int64(0));
    }
  }
  Statement insert(db_,
                   "INSERT INTO nodes(id, kind, qname, name, file_id, line, end_line, col, "
                   "n_lines, n_params, signature, decorators, docstring, is_async, complexity, "
                   "flags, fp, edges_fp) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
  Statement update(db_,
                   "UPDATE nodes SET id=?1, kind=?2, qname=?3, name=?4, file_id=?5, line=?6, "
                   "end_line=?7, col=?8, n_lines=?9, n_params=?10, signature=?11, decorators=?12, "
                   "docstring=?13, is_async=?14, complexity=?15, flags=?16, fp=?17, edges_fp=?18 "
                   "WHERE id=?1");
  NodeIds ids;
  ids.db_id.resize(graph.nodes.size());
  ids.old_edges_fp.resize(graph.nodes.size());
  ids.new_edges_fp.resize(graph.nodes.size());
  std::vector<int64_t>& db_ids = ids.db_id;
  std::vector<uint64_t> old_fp(graph.nodes.size(), 0);
  std::vector<bool> is_new(graph.nodes.size(), false);
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const NodeRecord& n = graph.nodes[i];
    auto it = existing.find(identity(n.qname, n.kind == NodeKind::kExternal));
    if (it != existing.end()) {
      it->second.seen = true;
      db_ids[i] = it->second.id;
      old_fp[i] = it->second.fp;
      ids.old_edges_fp[i] = it->second.edges_fp;
    } else {
      db_ids[i] = ++max_id;
      is_new[i] = true;
    }
  }
  for (const EdgeRecord& e : graph.edges) ids.new_edges_fp[e.src] += edge_hash(e, db_ids[e.dst]);
  Statement set_edges_fp(db_, "UPDATE nodes SET edges_fp=? WHERE id=?");
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const NodeRecord& n = graph.nodes[i];
    int64_t file_id = n.file >= 0 ? file_ids.at(fact_paths[static_cast<size_t>(n.file)]) : 0;
    uint64_t fp = fingerprint(n, file_id);
    auto edges_fp = static_cast<int64_t>(ids.new_edges_fp[i]);
    Statement* s = is_new[i] ? &insert : &update;
    if (!is_new[i] && old_fp[i] == fp) {
      if (ids.new_edges_fp[i] != ids.old_edges_fp[i]) set_edges_fp.bind(1, edges_fp).bind(2, db_ids[i]).run();
      continue;
    }
    s->bind(1, db_ids[i]).bind(2, to_string(n.kind)).bind(3, n.qname).bind(4, n.name);
    if (n.file >= 0) {
      s->bind(5, file_id).bind(6, n.line).bind(7, n.end_line).bind(8, n.col).bind(9, n.n_lines);
    }
    if (n.n_params >= 0) {
      s->bind(10, n.n_params).bind(11, n.signature).bind(15, n.complexity);
    }
    if (!n.decorators.empty()) s->bind(12, n.decorators);
    if (n.has_docstring) s->bind(13, n.docstring);
    s->bind(14, n.is_async ? 1 : 0).bind(16, n.flags).bind(17, static_cast<int64_t>(fp));
    s->bind(18, edges_fp);
    s->run();
    stats.nodes_written++;
  }
  Statement del(db_, "DELETE FROM nodes WHERE id=?");
  for (const auto& [qname, e] : existing) {
    if (e.seen) continue;
    del.bind(1, e.id).run();
    ids.deleted.push_back(e.id);
    stats.nodes_deleted++;
  }
  return ids;
}

void Store::write_edges(const NodeIds& ids, const ResolvedGraph& graph, WriteStats& stats) {
  Statement count(db_, "SELECT count(*) FROM edges WHERE src=?");
  Statement del(db_, "DELETE FROM edges WHERE src=?");
  Statement insert(db_,
                   "INSERT INTO edges(src, kind, dst, n, line, resolved, toplevel) "
                   "VALUES(?,?,?,?,?,?,?)");
  auto drop_edges_of = [&](int64_t src) {
    count.bind(1, src);
    if (count.step()) stats.edges_deleted += static_cast<size_t>(count.int64(0));
    count.reset();
    del.bind(1, src).run();
  };
  for (int64_t gone : ids.deleted) drop_edges_of(gone);
  // graph.edges is sorted by source: one run of edges per source node.
  size_t i = 0;
  const std::vector<uint64_t>& new_fp = ids.new_edges_fp;
  for (uint32_t node = 0; node < graph.nodes.size(); ++node) {
    size_t end = i;
    while (end < graph.edges.size() && graph.edges[end].src == node) ++end;
    if (new_fp[node] != ids.old_edges_fp[node]) {
      int64_t src = ids.db_id[node];
      if (ids.old_edges_fp[node] != 0) drop_edges_of(src);
      for (size_t k = i; k < end; ++k) {
        const EdgeRecord& e = graph.edges[k];
        insert.bind(1, src).bind(2, to_string(e.kind)).bind(3, ids.db_id[e.dst]).bind(4, e.n);
        if (e.line) insert.bind(5, e.line);
        insert.bind(6, e.resolved ? 1 : 0).bind(7, e.toplevel ? 1 : 0).run();
        stats.edges_written++;
      }
    }
    i = end;
  }
}

}  // namespace yantra::graph
