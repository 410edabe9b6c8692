// Internal to the graph part: the whole-repository graph computed from every file's facts.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "graph/facts.h"
#include "graph/graph.h"

namespace yantra::graph {

struct NodeRecord {
  NodeKind kind = NodeKind::kExternal;
  std::string qname, name;
  int32_t file = -1;  // index into the `files` given to resolve_graph; -1 for externals
  uint32_t line = 0, end_line = 0, col = 0, n_lines = 0;
  int32_t n_params = -1;  // -1: not a function
  // Views into the FileFacts given to resolve_graph(), which must outlive the graph.
  std::string_view signature, docstring;
  std::string decorators;
  bool has_docstring = false, is_async = false, in_test_file = false;
  uint32_t complexity = 0, flags = 0;
};

struct EdgeRecord {
  uint32_t src = 0, dst = 0;
  EdgeKind kind = EdgeKind::kContains;
  uint32_t n = 1;     // call sites (calls, tests)
  uint32_t line = 0;  // first call-site line (calls, tests)
  bool resolved = true;
  bool toplevel = false;  // imports: at least one import outside any def/class
};

struct ResolvedGraph {
  std::vector<NodeRecord> nodes;  // corpus nodes in file order, then externals by name
  std::vector<EdgeRecord> edges;  // sorted by (src, kind, dst)
  uint64_t call_sites = 0, call_sites_resolved = 0, call_sites_unnamed = 0;
};

// Resolution in two phases, so that the store can write the repository's nodes while the
// calls are being resolved:
//
//   Resolution r(files);                      // `files` in SourceScan order; must outlive r
//   const auto& nodes = r.repository_nodes();  // modules, classes, functions... final kinds
//   r.edges();                                 // reads the nodes, never changes them
//   ResolvedGraph graph = r.take();            // the same nodes, then externals; all edges
//
// So another thread may read `nodes` during edges(), and must be done before take().
// Deterministic: same facts, same graph.
class Resolution {
 public:
  explicit Resolution(const std::vector<const FileFacts*>& files);
  ~Resolution();
  Resolution(const Resolution&) = delete;
  const std::vector<NodeRecord>& repository_nodes();
  void edges();
  ResolvedGraph take();

 private:
  class Resolver;
  std::unique_ptr<Resolver> resolver_;
};

ResolvedGraph resolve_graph(const std::vector<const FileFacts*>& files);

}  // namespace yantra::graph
