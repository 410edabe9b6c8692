// Store writes: make the stored graph equal to a freshly resolved one by writing only the
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

// Keyed by qname, plus a marker for externals (see the nodes_by_qname index).
std::string identity(std::string_view qname, bool external) {
  std::string key(qname);
  if (external) key += '\x01';
  return key;
}

}  // namespace

Result<void> Store::failed(const FatalError& e) {
  rollback();
  return Error::in(path_,
                   std::string("writing the graph failed, nothing was changed: ") + e.what());
}

void Store::rollback() {
  if (!pending_) return;
  sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  pending_.reset();
}

Result<void> Store::begin_write(const std::vector<FileRow>& files,
                                const std::vector<std::string>& removed) {
  try {
    exec("BEGIN IMMEDIATE");
    pending_ = std::make_unique<Pending>();
    write_files(files, removed);
  } catch (const FatalError& e) {
    return failed(e);
  }
  return {};
}

void Store::write_files(const std::vector<FileRow>& files,
                        const std::vector<std::string>& removed) {
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
      if (f.facts.empty())
        upsert.bind_null(9);
      else
        upsert.bind_blob(9, f.facts);
      upsert.run();
    }
  }
}

Result<void> Store::finish_files() {
  try {
    exec("COMMIT");
  } catch (const FatalError& e) {
    return failed(e);
  }
  pending_.reset();
  return {};
}

Result<void> Store::write_nodes(const std::vector<std::string>& fact_paths,
                                const std::vector<NodeRecord>& repository_nodes) {
  try {
    Statement f(db_, "SELECT id, path FROM files");
    while (f.step()) pending_->file_ids.emplace(std::string(f.text(1)), f.int64(0));
    Statement s(db_, "SELECT id, qname, fp, kind = 'external', edges_fp FROM nodes");
    while (s.step()) {
      pending_->existing.emplace(identity(s.text(1), s.int64(3) != 0),
                                 Pending::Existing{s.int64(0), static_cast<uint64_t>(s.int64(2)),
                                                   static_cast<uint64_t>(s.int64(4)), false});
      pending_->max_id = std::max(pending_->max_id, s.int64(0));
    }
    pending_->repository_nodes = repository_nodes.size();
    write_node_rows(repository_nodes, 0, repository_nodes.size(), &fact_paths);
    // A new store indexes its nodes now, while the resolver still works on the edges.
    if (!final_path_.empty()) create_indexes(true, false);
  } catch (const FatalError& e) {
    return failed(e);
  }
  return {};
}

// Inserts new nodes and rewrites changed ones among nodes[first, end).
void Store::write_node_rows(const std::vector<NodeRecord>& nodes, size_t first, size_t end,
                            const std::vector<std::string>* fact_paths) {
  Pending& p = *pending_;
  p.db_id.resize(end);
  p.old_edges_fp.resize(end);
  Statement insert(db_,
                   "INSERT INTO nodes(id, kind, qname, name, file_id, line, end_line, col, "
                   "n_lines, n_params, signature, decorators, docstring, is_async, complexity, "
                   "flags, fp, edges_fp) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
  Statement update(db_,
                   "UPDATE nodes SET id=?1, kind=?2, qname=?3, name=?4, file_id=?5, line=?6, "
                   "end_line=?7, col=?8, n_lines=?9, n_params=?10, signature=?11, decorators=?12, "
                   "docstring=?13, is_async=?14, complexity=?15, flags=?16, fp=?17, edges_fp=?18 "
                   "WHERE id=?1");
  for (size_t i = first; i < end; ++i) {
    const NodeRecord& n = nodes[i];
    int64_t file_id = n.file >= 0 ? p.file_ids.at((*fact_paths)[static_cast<size_t>(n.file)]) : 0;
    uint64_t fp = fingerprint(n, file_id);
    auto it = p.existing.find(identity(n.qname, n.kind == NodeKind::kExternal));
    Statement* s = &insert;
    if (it != p.existing.end()) {
      it->second.seen = true;
      p.db_id[i] = it->second.id;
      p.old_edges_fp[i] = it->second.edges_fp;
      if (it->second.fp == fp) continue;
      s = &update;
    } else {
      p.db_id[i] = ++p.max_id;
    }
    s->bind(1, p.db_id[i]).bind(2, to_string(n.kind)).bind(3, n.qname).bind(4, n.name);
    if (n.file >= 0) {
      s->bind(5, file_id).bind(6, n.line).bind(7, n.end_line).bind(8, n.col).bind(9, n.n_lines);
    }
    if (n.n_params >= 0) s->bind(10, n.n_params).bind(11, n.signature).bind(15, n.complexity);
    if (!n.decorators.empty()) s->bind(12, n.decorators);
    if (n.has_docstring) s->bind(13, n.docstring);
    s->bind(14, n.is_async ? 1 : 0).bind(16, n.flags).bind(17, static_cast<int64_t>(fp));
    s->bind(18, static_cast<int64_t>(p.old_edges_fp[i]));  // edges come in finish_write()
    s->run();
    p.stats.nodes_written++;
  }
}

Result<WriteStats> Store::finish_write(
    const ResolvedGraph& graph, const std::vector<std::pair<std::string, std::string>>& meta) {
  try {
    Pending& p = *pending_;
    write_node_rows(graph.nodes, p.repository_nodes, graph.nodes.size(), nullptr);  // externals
    write_edges(graph);
    Statement del(db_, "DELETE FROM nodes WHERE id=?");
    Statement del_edges(db_, "DELETE FROM edges WHERE src=?");
    for (const auto& [key, e] : p.existing) {
      if (e.seen) continue;
      del.bind(1, e.id).run();
      del_edges.bind(1, e.id).run();
      p.stats.edges_deleted += static_cast<size_t>(sqlite3_changes(db_));
      p.stats.nodes_deleted++;
    }
    Statement m(db_, "INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)");
    for (const auto& [k, v] : meta) m.bind(1, k).bind(2, v).run();
    exec("COMMIT");
  } catch (const FatalError& e) {
    return failed(e).error();
  }
  WriteStats stats = pending_->stats;
  pending_.reset();
  return stats;
}

// graph.edges is sorted by source: one run of edges per node, rewritten when its
// fingerprint changed.
void Store::write_edges(const ResolvedGraph& graph) {
  Pending& p = *pending_;
  std::vector<uint64_t> new_fp(graph.nodes.size(), 0);
  for (const EdgeRecord& e : graph.edges) new_fp[e.src] += edge_hash(e, p.db_id[e.dst]);
  Statement count(db_, "SELECT count(*) FROM edges WHERE src=?");
  Statement del(db_, "DELETE FROM edges WHERE src=?");
  Statement insert(db_,
                   "INSERT INTO edges(src, kind, dst, n, line, resolved, toplevel) "
                   "VALUES(?,?,?,?,?,?,?)");
  Statement set_fp(db_, "UPDATE nodes SET edges_fp=? WHERE id=?");
  size_t i = 0;
  for (uint32_t node = 0; node < graph.nodes.size(); ++node) {
    size_t end = i;
    while (end < graph.edges.size() && graph.edges[end].src == node) ++end;
    if (new_fp[node] != p.old_edges_fp[node]) {
      int64_t src = p.db_id[node];
      if (p.old_edges_fp[node] != 0) {
        count.bind(1, src);
        if (count.step()) p.stats.edges_deleted += static_cast<size_t>(count.int64(0));
        count.reset();
        del.bind(1, src).run();
      }
      for (size_t k = i; k < end; ++k) {
        const EdgeRecord& e = graph.edges[k];
        insert.bind(1, src).bind(2, to_string(e.kind)).bind(3, p.db_id[e.dst]).bind(4, e.n);
        if (e.line) insert.bind(5, e.line);
        insert.bind(6, e.resolved ? 1 : 0).bind(7, e.toplevel ? 1 : 0).run();
        p.stats.edges_written++;
      }
      set_fp.bind(1, static_cast<int64_t>(new_fp[node])).bind(2, src).run();
    }
    i = end;
  }
}

}  // namespace yantra::graph
