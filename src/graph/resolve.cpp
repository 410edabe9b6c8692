// Whole-repository name resolution: nodes and edges from every file's facts.
//
// Static and best effort, with Python's rules where they can be applied without running
// code: LEGB lookup through enclosing function scopes, module globals (defs, imports,
// re-exports, `from x import *`) and builtins; dotted chains through module symbol tables
// and re-export chains; `self.m()`/`cls.m()` and `super().m()` through the class and its
// bases (depth-first MRO approximation). These are the rules of the reference graph
// (../shared/peers/gold_graph.py). Beyond them, names bound by assignment resolve when the
// value does: `enc = JSONEncoder()` types `enc.encode()`, `dumps = staticmethod(m.dumps)`
// and `json = importlib.import_module("json")` alias what they name, and `self.x` in a
// mixin that lacks x is looked up in the classes that inherit the mixin.
// What cannot be resolved becomes an external node ("builtins.len", "numpy.linalg.norm",
// a bare "f", or "*.attr" for an unknown receiver).
#include "graph/extract_internal.h"
#include "graph/resolver.h"

namespace yantra::graph {

using resolver::How;
using resolver::join_tail;
using resolver::Lookup;
using resolver::Scope;

Resolution::Resolver::Resolver(const std::vector<const FileFacts*>& files) : files_(files) {
  for (auto name : split_lines(embedded_file("python-builtins.txt"))) builtins_.insert(name);
}

const std::vector<NodeRecord>& Resolution::Resolver::nodes() {
  create_nodes();
  bind_names();
  freeze_mros();
  classify_tests();
  return out_.nodes;
}

void Resolution::Resolver::edges() {
  resolve_imports();
  resolve_calls();
  resolve_inheritance();
  add_tests_edges();
  finish();
}

ResolvedGraph Resolution::Resolver::take() {
  qindex_.clear();  // views into the node vector, which grows now
  for (std::string& name : sorted_externals_) {
    NodeRecord n;
    n.kind = NodeKind::kExternal;
    n.name = last_part(name);
    n.qname = std::move(name);
    out_.nodes.push_back(std::move(n));
  }
  return std::move(out_);
}

std::vector<std::string_view> Resolution::Resolver::split_lines(std::string_view text) {
  std::vector<std::string_view> out;
  for (size_t start = 0; start < text.size();) {
    size_t nl = text.find('\n', start);
    if (nl == text.npos) nl = text.size();
    if (nl > start) out.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return out;
}

// Pass 1: one node per module, class and def; "#2", "#3"... for a repeated qname.
void Resolution::Resolver::create_nodes() {
  size_t total = 0;
  for (const FileFacts* f : files_) total += f->scopes.size();
  out_.nodes.reserve(total);  // qindex_ holds views into these strings: never reallocate
  qindex_.reserve(total);
  class_scope_of_.assign(total, nullptr);
  edge_index_.reserve(total * 4);
  scopes_.resize(files_.size());
  for (size_t fi = 0; fi < files_.size(); ++fi) {
    const FileFacts& f = *files_[fi];
    std::vector<Scope>& scopes = scopes_[fi];
    scopes.resize(f.scopes.size());
    for (size_t si = 0; si < f.scopes.size(); ++si) {
      const ScopeFacts& sf = f.scopes[si];
      Scope& s = scopes[si];
      s.kind = sf.kind;
      s.facts = &sf;
      s.parent = sf.parent >= 0 ? &scopes[static_cast<size_t>(sf.parent)] : nullptr;
      s.module = &scopes[0];
      std::string qname =
          s.parent ? out_.nodes[s.parent->node].qname + "." + sf.name : f.module_qname;
      s.node = add_node(make_node(f, fi, sf, s), std::move(qname));
      if (s.parent) add_edge(s.parent->node, s.node, EdgeKind::kContains);
      if (sf.kind == ScopeKind::kModule) modules_.try_emplace(out_.nodes[s.node].qname, &s);
      if (sf.kind == ScopeKind::kClass) class_scope_of_[s.node] = &s;
      set_method_receiver(s);
    }
  }
}

NodeRecord Resolution::Resolver::make_node(const FileFacts& f, size_t fi, const ScopeFacts& sf,
                                           const Scope& s) {
  NodeRecord n;
  n.file = static_cast<int32_t>(fi);
  n.name = sf.name;
  n.line = sf.line;
  n.col = sf.col;
  n.end_line = sf.end_line;
  n.n_lines = sf.kind == ScopeKind::kModule ? f.n_lines : sf.end_line - sf.line + 1;
  n.docstring = sf.docstring;
  n.has_docstring = sf.has_docstring;
  n.in_test_file = f.is_test_file;
  switch (sf.kind) {
    case ScopeKind::kModule:
      n.kind = NodeKind::kModule;
      break;
    case ScopeKind::kClass:
      n.kind = NodeKind::kClass;
      break;
    case ScopeKind::kFunction:
      n.kind = s.parent->kind == ScopeKind::kClass ? NodeKind::kMethod : NodeKind::kFunction;
      n.n_params = static_cast<int32_t>(sf.params.size());
      n.signature = sf.signature;
      n.is_async = sf.is_async;
      n.complexity = sf.complexity;
      n.flags = sf.flags;
      break;
  }
  for (const auto& d : sf.decorators) n.decorators.append(n.decorators.empty() ? "" : "\n") += d;
  return n;
}

uint32_t Resolution::Resolver::add_node(NodeRecord n, std::string qname) {
  std::string q = qname;
  for (int k = 2; qindex_.count(q); ++k) q = qname + "#" + std::to_string(k);
  n.qname = std::move(q);
  auto id = static_cast<uint32_t>(out_.nodes.size());
  out_.nodes.push_back(std::move(n));
  qindex_.emplace(out_.nodes.back().qname, id);
  return id;
}

// A method's first parameter names its class (unless @staticmethod); closures inside a
// method see the same receiver unless they rebind that name as a parameter.
void Resolution::Resolver::set_method_receiver(Scope& s) {
  if (s.kind != ScopeKind::kFunction) return;
  const ScopeFacts& sf = *s.facts;
  if (s.parent->kind == ScopeKind::kClass) {
    if (!sf.is_static && !sf.self_param.empty())
      s.cls = s.parent->node, s.self_name = sf.self_param;
  } else if (s.parent->kind == ScopeKind::kFunction && s.parent->cls != UINT32_MAX) {
    auto& p = sf.params;
    if (std::find(p.begin(), p.end(), s.parent->self_name) == p.end())
      s.cls = s.parent->cls, s.self_name = s.parent->self_name;
  }
}

// Replays each scope's bindings in source order; the first binding of a name wins, and
// `a = b` copies b's binding at that point, as the reference graph does.
void Resolution::Resolver::bind_names() {
  for (auto& scopes : scopes_) {
    for (Scope& s : scopes) {
      for (const BindingFact& b : s.facts->bindings) {
        switch (b.kind) {
          case BindingFact::Kind::kDef:
            s.defs.add(b.name, scopes[b.def_scope].node);
            break;
          case BindingFact::Kind::kImport:
            s.imports.add(b.name, b.target);
            break;
          case BindingFact::Kind::kAlias:
            bind_alias(s, b);
            break;
          case BindingFact::Kind::kValue:
            s.values.add(b.name, b.target);
            break;
          case BindingFact::Kind::kInstance:
            s.instances.add(b.name, b.target);
            break;
        }
      }
      s.defs.freeze(), s.imports.freeze(), s.values.freeze(), s.instances.freeze();
    }
  }
}

void Resolution::Resolver::bind_alias(Scope& s, const BindingFact& b) {
  if (s.defs.find_so_far(b.name) || s.imports.find_so_far(b.name)) return;
  if (const uint32_t* d = s.defs.find_so_far(b.target)) {
    s.defs.add(b.name, *d);
  } else if (const std::string_view* i = s.imports.find_so_far(b.target)) {
    s.imports.add(b.name, *i);
  }
}

Resolution::Resolver::Target Resolution::Resolver::resolve_call(const Scope& scope,
                                                                const CallFact& call) {
  const auto& parts = call.parts;
  if (call.kind == CalleeKind::kSuper) {
    const Scope* s = &scope;
    while (s && s->cls == UINT32_MAX) s = s->parent;
    if (s) {
      int64_t m = class_lookup(s->cls, parts[0], true);
      if (m >= 0) return {m, {}};
    }
    return {-1, "*." + parts[0]};
  }
  if (call.kind == CalleeKind::kOther) return {-1, "*." + parts[0]};
  Lookup l = lookup_name(scope, parts[0]);
  switch (l.how) {
    case How::kSelf:
    case How::kInstance: {
      if (parts.size() == 1) return {-1, parts[0]};
      int64_t r = member(l.node, parts, l.how == How::kSelf);
      if (r >= 0) return {r, {}};
      return {-1, "*." + parts.back()};
    }
    case How::kDef:
    case How::kImport: {
      std::string dotted = l.how == How::kDef ? join_tail(out_.nodes[l.node].qname, parts, 1)
                                              : join_tail(l.target, parts, 1);
      int64_t r = resolve_global(dotted);
      if (r >= 0) return {r, {}};
      return {-1, std::move(dotted)};
    }
    case How::kBuiltin:
      return {-1, join_tail("builtins." + parts[0], parts, 1)};
    default:
      if (parts.size() == 1) return {-1, parts[0]};
      return {-1, "*." + parts.back()};
  }
}

void Resolution::Resolver::resolve_calls() {
  for (size_t fi = 0; fi < files_.size(); ++fi) {
    const FileFacts& f = *files_[fi];
    out_.call_sites_unnamed += f.unnamed_calls;
    for (const CallFact& call : f.calls) {
      const Scope& scope = scopes_[fi][call.scope];
      Target t = resolve_call(scope, call);
      out_.call_sites++;
      if (t.node >= 0) out_.call_sites_resolved++;
      uint32_t dst = t.node >= 0 ? static_cast<uint32_t>(t.node) : external(t.external);
      add_call(scope.node, dst, call.line, t.node >= 0);
    }
  }
}

// `import a.b` -> module a.b; `from a.b import c` -> a.b.c if that is a module, else a.b.
void Resolution::Resolver::resolve_imports() {
  for (size_t fi = 0; fi < files_.size(); ++fi) {
    const FileFacts& f = *files_[fi];
    uint32_t src = scopes_[fi][0].node;
    for (const ImportFact& imp : f.imports) {
      std::string_view target = imp.module;
      if (imp.is_from && is_module(imp.full)) target = imp.full;
      uint32_t dst = is_module(target) ? qindex_.find(target)->second : external(target);
      bool resolved = is_module(target);
      if (dst == src) continue;
      EdgeRecord& e = edge(src, dst, EdgeKind::kImports);
      e.resolved = resolved;
      e.toplevel = e.toplevel || imp.scope == 0;
    }
  }
}

bool Resolution::Resolver::is_module(std::string_view qname) const {
  auto q = qindex_.find(qname);
  return q != qindex_.end() && out_.nodes[q->second].kind == NodeKind::kModule;
}

void Resolution::Resolver::resolve_inheritance() {
  for (auto& scopes : scopes_) {
    for (Scope& s : scopes) {
      if (s.kind != ScopeKind::kClass) continue;
      for (const auto& parts : s.facts->bases) {
        int64_t r = resolve_class_expr(*s.parent, parts);
        uint32_t dst = r >= 0 ? static_cast<uint32_t>(r) : external(base_name(*s.parent, parts));
        if (dst == s.node) continue;
        edge(s.node, dst, EdgeKind::kInherits).resolved = r >= 0;
      }
    }
  }
}

std::string Resolution::Resolver::base_name(const Scope& scope,
                                            const std::vector<std::string>& parts) {
  Lookup l = lookup_name(scope, parts[0]);
  if (l.how == How::kImport) return join_tail(l.target, parts, 1);
  if (l.how == How::kBuiltin) return join_tail("builtins." + parts[0], parts, 1);
  return join_tail(parts[0], parts, 1);
}

// pytest and unittest conventions: in a test file, `test*` functions at module level and
// `test*` methods of classes named Test* or deriving from a *TestCase class.
void Resolution::Resolver::classify_tests() {
  for (auto& scopes : scopes_) {
    for (Scope& s : scopes) {
      NodeRecord& n = out_.nodes[s.node];
      if (!n.in_test_file || s.kind != ScopeKind::kFunction || !n.name.starts_with("test"))
        continue;
      if (s.parent->kind == ScopeKind::kModule ||
          (s.parent->kind == ScopeKind::kClass && is_test_class(s.parent->node)))
        n.kind = NodeKind::kTest;
    }
  }
}

bool Resolution::Resolver::is_test_class(uint32_t cls) {
  if (out_.nodes[cls].name.starts_with("Test")) return true;
  const std::vector<uint32_t>& order = mro_.at(cls);
  for (uint32_t c : order)
    if (out_.nodes[c].name.ends_with("TestCase")) return true;
  for (uint32_t c : order) {
    const Scope* cs = class_scope(c);
    if (!cs) continue;
    for (const auto& parts : cs->facts->bases)
      if (parts.back().ends_with("TestCase")) return true;
  }
  return false;
}

void Resolution::Resolver::add_tests_edges() {
  std::vector<EdgeRecord> tests;
  for (const EdgeRecord& e : out_.edges) {
    if (e.kind != EdgeKind::kCalls || !e.resolved) continue;
    const NodeRecord& src = out_.nodes[e.src];
    const NodeRecord& dst = out_.nodes[e.dst];
    bool callable = dst.kind == NodeKind::kFunction || dst.kind == NodeKind::kMethod;
    if (src.kind == NodeKind::kTest && callable && !dst.in_test_file) {
      EdgeRecord t = e;
      t.kind = EdgeKind::kTests;
      tests.push_back(t);
    }
  }
  for (const auto& t : tests) edge(t.src, t.dst, EdgeKind::kTests) = t;
}

uint32_t Resolution::Resolver::external(std::string_view name) {
  auto it = externals_.find(name);
  if (it != externals_.end()) return it->second;
  // Provisional ids above every corpus node; renumbered by name in finish().
  auto id = static_cast<uint32_t>(out_.nodes.capacity() + external_names_.size());
  external_names_.emplace_back(name);
  externals_.emplace(external_names_.back(), id);
  return id;
}

EdgeRecord& Resolution::Resolver::edge(uint32_t src, uint32_t dst, EdgeKind kind) {
  uint64_t key = (static_cast<uint64_t>(src) << 34) | (static_cast<uint64_t>(dst) << 3) |
                 static_cast<uint64_t>(kind);
  auto [it, inserted] = edge_index_.try_emplace(key, out_.edges.size());
  if (inserted) {
    EdgeRecord e;
    e.src = src, e.dst = dst, e.kind = kind;
    out_.edges.push_back(e);
  }
  return out_.edges[it->second];
}

void Resolution::Resolver::add_call(uint32_t src, uint32_t dst, uint32_t line, bool resolved) {
  size_t before = out_.edges.size();
  EdgeRecord& e = edge(src, dst, EdgeKind::kCalls);
  if (out_.edges.size() > before) {
    e.n = 1, e.line = line, e.resolved = resolved;
  } else {
    e.n++;
    e.line = std::min(e.line, line);
  }
}

// Externals get ids after the repository nodes, in name order, and edges are sorted.
// The node vector itself is left alone: the store may be reading it (see take()).
void Resolution::Resolver::finish() {
  auto base = static_cast<uint32_t>(out_.nodes.capacity());
  std::vector<uint32_t> order(external_names_.size());
  for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](uint32_t a, uint32_t b) { return external_names_[a] < external_names_[b]; });
  std::vector<uint32_t> final_id(order.size());
  auto first_external = static_cast<uint32_t>(out_.nodes.size());
  for (uint32_t rank = 0; rank < order.size(); ++rank)
    final_id[order[rank]] = first_external + rank;
  sorted_externals_.clear();
  for (uint32_t rank = 0; rank < order.size(); ++rank)
    sorted_externals_.push_back(std::move(external_names_[order[rank]]));
  for (EdgeRecord& e : out_.edges) {
    if (e.src >= base) e.src = final_id[e.src - base];
    if (e.dst >= base) e.dst = final_id[e.dst - base];
  }
  sort_edges(first_external + order.size());
}

// By (src, kind, dst): a counting sort on the source, then each node's few edges.
void Resolution::Resolver::sort_edges(size_t node_count) {
  std::vector<uint32_t> start(node_count + 1, 0);
  for (const EdgeRecord& e : out_.edges) start[e.src + 1]++;
  for (size_t i = 1; i < start.size(); ++i) start[i] += start[i - 1];
  std::vector<EdgeRecord> sorted(out_.edges.size());
  std::vector<uint32_t> next(start.begin(), start.end() - 1);
  for (const EdgeRecord& e : out_.edges) sorted[next[e.src]++] = e;
  for (size_t n = 0; n + 1 < start.size(); ++n)
    std::sort(sorted.begin() + start[n], sorted.begin() + start[n + 1],
              [](const EdgeRecord& a, const EdgeRecord& b) {
                return a.kind != b.kind ? a.kind < b.kind : a.dst < b.dst;
              });
  out_.edges = std::move(sorted);
}

Resolution::Resolution(const std::vector<const FileFacts*>& files)
    : resolver_(std::make_unique<Resolver>(files)) {}
Resolution::~Resolution() = default;
const std::vector<NodeRecord>& Resolution::repository_nodes() {
  return resolver_->nodes();
}
void Resolution::edges() {
  resolver_->edges();
}
ResolvedGraph Resolution::take() {
  return resolver_->take();
}

ResolvedGraph resolve_graph(const std::vector<const FileFacts*>& files) {
  Resolution r(files);
  r.repository_nodes();
  r.edges();
  return r.take();
}

}  // namespace yantra::graph
