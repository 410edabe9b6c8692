// Internal to the graph part: the whole-repository graph computed from every file's facts.
#pragma once

#include <cstdint>
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

// `files` in SourceScan order. Deterministic: same facts, same graph.
ResolvedGraph resolve_graph(const std::vector<const FileFacts*>& files);

}  // namespace yantra::graph
