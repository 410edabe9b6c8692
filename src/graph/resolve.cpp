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
#include "graph/resolve.h"

#include <algorithm>
#include <deque>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "base/base.h"
#include "graph/extract_internal.h"

namespace yantra::graph {
namespace {

uint64_t name_hash(std::string_view s) { return hash64(s); }

// A scope's names: appended in source order while bindings are replayed, then frozen
// (ordered by hash, first binding of a name wins) for binary search on integers. Most
// scopes bind a handful of names; a hash map per scope cost more to build and free than
// the lookups saved.
template <class V>
class FlatMap {
  struct Item {
    uint64_t hash;
    std::string_view key;
    V value;
  };

 public:
  bool empty() const { return items_.empty(); }
  void add(std::string_view key, V value) { items_.push_back({name_hash(key), key, value}); }
  // Before freeze(): the first binding of `key` so far (a linear scan; aliases need it).
  const V* find_so_far(std::string_view key) const {
    for (const Item& i : items_)
      if (i.key == key) return &i.value;
    return nullptr;
  }
  void freeze() {
    std::stable_sort(items_.begin(), items_.end(), [](const Item& a, const Item& b) {
      return a.hash != b.hash ? a.hash < b.hash : a.key < b.key;
    });
    items_.erase(std::unique(items_.begin(), items_.end(),
                             [](const Item& a, const Item& b) { return a.key == b.key; }),
                 items_.end());
  }
  const V* find(std::string_view key, uint64_t hash) const {
    auto it = std::lower_bound(items_.begin(), items_.end(), hash,
                               [](const Item& i, uint64_t h) { return i.hash < h; });
    for (; it != items_.end() && it->hash == hash; ++it)
      if (it->key == key) return &it->value;
    return nullptr;
  }
  const V* find(std::string_view key) const { return find(key, name_hash(key)); }

 private:
  std::vector<Item> items_;
};

using NameMap = FlatMap<uint32_t>;            // name -> node
using ImportMap = FlatMap<std::string_view>;  // name -> dotted

struct Scope {
  ScopeKind kind = ScopeKind::kModule;
  uint32_t node = 0;
  Scope* parent = nullptr;
  Scope* module = nullptr;
  const ScopeFacts* facts = nullptr;
  NameMap defs;
  ImportMap imports;
  ImportMap values;     // name -> dotted expression it was assigned
  ImportMap instances;  // name -> dotted constructor it was assigned a call of
  uint32_t cls = UINT32_MAX;  // methods (and closures in them): the class node
  std::string_view self_name;

  bool has_local(std::string_view name) const {
    return std::binary_search(facts->locals.begin(), facts->locals.end(), name);
  }
  bool has_global_decl(std::string_view name) const {
    return std::find(facts->globals.begin(), facts->globals.end(), name) != facts->globals.end();
  }
};

enum class How { kSelf, kInstance, kDef, kImport, kLocal, kGlobal, kBuiltin, kUnknown };
struct Lookup {
  How how = How::kUnknown;
  uint32_t node = 0;         // kDef, kSelf and kInstance (the class)
  std::string_view target;  // kImport
};

std::string join_tail(std::string_view head, const std::vector<std::string>& parts, size_t from) {
  std::string out(head);
  for (size_t i = from; i < parts.size(); ++i) out.append(".").append(parts[i]);
  return out;
}

std::vector<std::string_view> split_dots(std::string_view s) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    out.push_back(s.substr(start, dot == s.npos ? s.npos : dot - start));
    if (dot == s.npos) return out;
    start = dot + 1;
  }
}

}  // namespace

class Resolution::Resolver {
 public:
  explicit Resolver(const std::vector<const FileFacts*>& files) : files_(files) {
    for (auto name : split_lines(embedded_file("python-builtins.txt"))) builtins_.insert(name);
  }

  const std::vector<NodeRecord>& nodes() {
    create_nodes();
    bind_names();
    freeze_mros();
    classify_tests();
    return out_.nodes;
  }

  void edges() {
    resolve_imports();
    resolve_calls();
    resolve_inheritance();
    add_tests_edges();
    finish();
  }

  ResolvedGraph take() {
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


 private:
  static std::vector<std::string_view> split_lines(std::string_view text) {
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
  void create_nodes() {
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

  NodeRecord make_node(const FileFacts& f, size_t fi, const ScopeFacts& sf, const Scope& s) {
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
      case ScopeKind::kModule: n.kind = NodeKind::kModule; break;
      case ScopeKind::kClass: n.kind = NodeKind::kClass; break;
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

  uint32_t add_node(NodeRecord n, std::string qname) {
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
  void set_method_receiver(Scope& s) {
    if (s.kind != ScopeKind::kFunction) return;
    const ScopeFacts& sf = *s.facts;
    if (s.parent->kind == ScopeKind::kClass) {
      if (!sf.is_static && !sf.self_param.empty()) s.cls = s.parent->node, s.self_name = sf.self_param;
    } else if (s.parent->kind == ScopeKind::kFunction && s.parent->cls != UINT32_MAX) {
      auto& p = sf.params;
      if (std::find(p.begin(), p.end(), s.parent->self_name) == p.end())
        s.cls = s.parent->cls, s.self_name = s.parent->self_name;
    }
  }

  // Replays each scope's bindings in source order; the first binding of a name wins, and
  // `a = b` copies b's binding at that point, as the reference graph does.
  void bind_names() {
    for (auto& scopes : scopes_) {
      for (Scope& s : scopes) {
        for (const BindingFact& b : s.facts->bindings) {
          switch (b.kind) {
            case BindingFact::Kind::kDef: s.defs.add(b.name, scopes[b.def_scope].node); break;
            case BindingFact::Kind::kImport: s.imports.add(b.name, b.target); break;
            case BindingFact::Kind::kAlias: bind_alias(s, b); break;
            case BindingFact::Kind::kValue: s.values.add(b.name, b.target); break;
            case BindingFact::Kind::kInstance: s.instances.add(b.name, b.target); break;
          }
        }
        s.defs.freeze(), s.imports.freeze(), s.values.freeze(), s.instances.freeze();
      }
    }
  }

  static void bind_alias(Scope& s, const BindingFact& b) {
    if (s.defs.find_so_far(b.name) || s.imports.find_so_far(b.name)) return;
    if (const uint32_t* d = s.defs.find_so_far(b.target)) {
      s.defs.add(b.name, *d);
    } else if (const std::string_view* i = s.imports.find_so_far(b.target)) {
      s.imports.add(b.name, *i);
    }
  }

  Lookup lookup_name(const Scope& scope, std::string_view name) {
    const uint64_t h = name_hash(name);
    const Scope* s = &scope;
    bool first = true;
    while (s->kind != ScopeKind::kModule) {
      if (s->kind == ScopeKind::kClass && !first) {
        s = s->parent;
        continue;
      }
      if (s->has_global_decl(name)) break;
      if (s->cls != UINT32_MAX && name == s->self_name) return {How::kSelf, s->cls, {}};
      if (auto d = s->defs.find(name, h)) return {How::kDef, *d, {}};
      if (auto i = s->imports.find(name, h)) return {How::kImport, 0, *i};
      if (Lookup a = assigned(*s, name); a.how != How::kUnknown) return a;
      if (s->has_local(name)) return {How::kLocal, 0, {}};
      first = false;
      s = s->parent;
    }
    const Scope& m = *scope.module;
    if (auto d = m.defs.find(name, h)) return {How::kDef, *d, {}};
    if (auto i = m.imports.find(name, h)) return {How::kImport, 0, *i};
    if (Lookup a = assigned(m, name); a.how != How::kUnknown) return a;
    if (m.has_local(name)) return {How::kGlobal, 0, {}};
    for (const auto& star : m.facts->stars) {
      int64_t r = resolve_global(star + "." + std::string(name));
      if (r >= 0) return {How::kDef, static_cast<uint32_t>(r), {}};
    }
    if (builtins_.count(name)) return {How::kBuiltin, 0, {}};
    return {How::kUnknown, 0, {}};
  }

  // A name bound by assignment to something that resolves (see the file comment).
  Lookup assigned(const Scope& s, std::string_view name) {
    if (s.values.empty() && s.instances.empty()) return {};
    if (auto v = s.values.find(name)) {
      int64_t r = resolve_value_once(s, *v);
      if (r >= 0) return {How::kDef, static_cast<uint32_t>(r), {}};
    }
    if (auto i = s.instances.find(name)) {
      int64_t r = resolve_value_once(s, *i);
      if (r >= 0 && out_.nodes[static_cast<size_t>(r)].kind == NodeKind::kClass)
        return {How::kInstance, static_cast<uint32_t>(r), {}};
    }
    return {};
  }

  // Each binding's value is resolved once: keyed by the address of its text, which is
  // unique per binding. The -1 written first also stops `x = x.y` from looping.
  int64_t resolve_value_once(const Scope& s, std::string_view dotted) {
    auto [it, inserted] = value_memo_.try_emplace(dotted.data(), -1);
    if (!inserted) return it->second;
    int64_t r = resolve_value(s, dotted);
    value_memo_[dotted.data()] = r;
    return r;
  }

  // A dotted expression evaluated in `scope` to a repository node, or -1.
  int64_t resolve_value(const Scope& scope, std::string_view dotted) {
    std::vector<std::string> parts;
    for (auto p : split_dots(dotted)) parts.emplace_back(p);
    Lookup l = lookup_name(scope, parts[0]);
    int64_t r = -1;
    if (l.how == How::kDef) r = resolve_global(join_tail(out_.nodes[l.node].qname, parts, 1));
    if (l.how == How::kImport) r = resolve_global(join_tail(l.target, parts, 1));
    if ((l.how == How::kSelf || l.how == How::kInstance) && parts.size() > 1)
      r = member(l.node, parts, l.how == How::kSelf);
    return r;
  }

  // obj.parts[1].parts[2]... where obj is an instance of `cls`.
  int64_t member(uint32_t cls, const std::vector<std::string>& parts, bool may_be_subclass) {
    int64_t m = class_lookup(cls, parts[1], false);
    if (m < 0 && may_be_subclass) m = subclass_lookup(cls, parts[1]);
    if (m < 0 || parts.size() == 2) return m;
    return resolve_global(join_tail(out_.nodes[static_cast<size_t>(m)].qname, parts, 2));
  }

  // A mixin's `self.x` where x is defined only by classes that inherit the mixin: the
  // first such class (in source order) decides.
  int64_t subclass_lookup(uint32_t cls, std::string_view name) {
    if (!mro_frozen_) return -1;  // needs every class's MRO (base lists are resolved before)
    if (subclasses_.empty()) {
      for (uint32_t c = 0; c < class_scope_of_.size(); ++c) {
        if (!class_scope_of_[c]) continue;
        const std::vector<uint32_t>& order = mro_.at(c);
        for (uint32_t ancestor : order)
          if (ancestor != c) subclasses_[ancestor].push_back(c);
      }
      for (auto& [c, list] : subclasses_) std::sort(list.begin(), list.end());
      subclasses_[UINT32_MAX];  // built, even if no class has a subclass
    }
    auto it = subclasses_.find(cls);
    if (it == subclasses_.end()) return -1;
    std::vector<uint32_t> candidates = it->second;
    for (uint32_t d : candidates) {
      int64_t m = class_lookup(d, name, false);
      if (m >= 0) return m;
    }
    return -1;
  }

  // A dotted name to a repository node, following re-exports; -1 if it leaves the repo.
  int64_t resolve_global(const std::string& dotted, int depth = 0) {
    if (auto q = qindex_.find(dotted); q != qindex_.end()) return q->second;
    if (auto m = memo_.find(dotted); m != memo_.end()) return m->second;
    if (depth > 40) return -1;
    memo_[dotted] = -1;  // cycle guard
    int64_t res = -1;
    std::vector<std::string_view> parts = split_dots(dotted);
    for (size_t i = parts.size() - 1; i > 0; --i) {
      size_t prefix_len = static_cast<size_t>(parts[i - 1].data() + parts[i - 1].size() - dotted.data());
      std::string_view prefix(dotted.data(), prefix_len);
      auto q = qindex_.find(prefix);
      if (q == qindex_.end()) continue;
      std::string_view rest = std::string_view(dotted).substr(prefix_len + 1);
      std::string_view name = parts[i];
      std::string_view tail = rest.substr(name.size());  // "" or ".x.y"
      const NodeRecord& node = out_.nodes[q->second];
      if (node.kind == NodeKind::kModule) {
        auto ms = modules_.find(prefix);
        if (ms == modules_.end()) break;
        const Scope& mod = *ms->second;
        if (auto d = mod.defs.find(name)) {
          res = resolve_global(out_.nodes[*d].qname + std::string(tail), depth + 1);
        } else if (auto im = mod.imports.find(name)) {
          res = resolve_global(std::string(*im) + std::string(tail), depth + 1);
        } else {
          for (const auto& star : mod.facts->stars) {
            res = resolve_global(star + "." + std::string(rest), depth + 1);
            if (res >= 0) break;
          }
        }
      } else if (node.kind == NodeKind::kClass) {
        int64_t m = class_lookup(q->second, name, false);
        if (m >= 0)
          res = tail.empty() ? m
                             : resolve_global(out_.nodes[static_cast<size_t>(m)].qname +
                                                  std::string(tail), depth + 1);
      }
      break;
    }
    memo_[dotted] = res;
    return res;
  }

  // A base-class expression to a class node, or -1.
  int64_t resolve_class_expr(const Scope& scope, const std::vector<std::string>& parts) {
    Lookup l = lookup_name(scope, parts[0]);
    int64_t r = -1;
    if (l.how == How::kDef) r = resolve_global(join_tail(out_.nodes[l.node].qname, parts, 1));
    if (l.how == How::kImport) r = resolve_global(join_tail(l.target, parts, 1));
    return r >= 0 && out_.nodes[static_cast<size_t>(r)].kind == NodeKind::kClass ? r : -1;
  }

  const std::vector<uint32_t>& class_bases(uint32_t cls) {
    auto it = bases_.find(cls);
    if (it != bases_.end()) return it->second;
    bases_[cls] = {};  // cycle guard
    std::vector<uint32_t> out;
    if (const Scope* cs = class_scope(cls)) {
      for (const auto& parts : cs->facts->bases) {
        int64_t r = resolve_class_expr(*cs->parent, parts);
        if (r >= 0 && r != cls && std::find(out.begin(), out.end(), r) == out.end())
          out.push_back(static_cast<uint32_t>(r));
      }
    }
    return bases_[cls] = std::move(out);
  }

  const std::vector<uint32_t>& mro(uint32_t cls) {
    auto it = mro_.find(cls);
    if (it != mro_.end()) return it->second;
    mro_[cls] = {cls};  // cycle guard
    std::vector<uint32_t> out = {cls};
    std::vector<uint32_t> bases = class_bases(cls);
    for (uint32_t b : bases)
      for (uint32_t c : mro(b))
        if (std::find(out.begin(), out.end(), c) == out.end()) out.push_back(c);
    return mro_[cls] = std::move(out);
  }

  int64_t class_lookup(uint32_t cls, std::string_view name, bool skip_self) {
    if (!mro_frozen_) return class_lookup_uncached(cls, name, skip_self);
    // The same (class, name) is asked for at every self.x() site: remember the answer.
    std::string key(name);
    key.append(reinterpret_cast<const char*>(&cls), sizeof cls).push_back(skip_self ? 1 : 0);
    auto [it, inserted] = class_memo_.try_emplace(std::move(key), -1);
    if (!inserted) return it->second;
    int64_t r = class_lookup_uncached(cls, name, skip_self);
    class_memo_[std::string(name).append(reinterpret_cast<const char*>(&cls), sizeof cls) +
                static_cast<char>(skip_self ? 1 : 0)] = r;
    return r;
  }

  int64_t class_lookup_uncached(uint32_t cls, std::string_view name, bool skip_self) {
    // Until every MRO is computed (freeze_mros), a lookup may add to mro_: iterate a copy.
    std::vector<uint32_t> copy;
    const std::vector<uint32_t>& order = mro_frozen_ ? mro_.at(cls) : (copy = mro(cls));
    for (uint32_t c : order) {
      if (skip_self && c == cls) continue;
      const Scope* cs = class_scope(c);
      if (!cs) continue;
      if (auto d = cs->defs.find(name)) return *d;
      if (Lookup a = assigned(*cs, name); a.how == How::kDef) return a.node;
    }
    return -1;
  }

  void freeze_mros() {
    for (uint32_t c = 0; c < class_scope_of_.size(); ++c)
      if (class_scope_of_[c]) mro(c);
    mro_frozen_ = true;
  }

  const Scope* class_scope(uint32_t node) const {
    return node < class_scope_of_.size() ? class_scope_of_[node] : nullptr;
  }

  struct Target {
    int64_t node = -1;
    std::string external;
  };

  Target resolve_call(const Scope& scope, const CallFact& call) {
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
      case How::kBuiltin: return {-1, join_tail("builtins." + parts[0], parts, 1)};
      default:
        if (parts.size() == 1) return {-1, parts[0]};
        return {-1, "*." + parts.back()};
    }
  }

  void resolve_calls() {
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
  void resolve_imports() {
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

  bool is_module(std::string_view qname) const {
    auto q = qindex_.find(qname);
    return q != qindex_.end() && out_.nodes[q->second].kind == NodeKind::kModule;
  }

  void resolve_inheritance() {
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

  std::string base_name(const Scope& scope, const std::vector<std::string>& parts) {
    Lookup l = lookup_name(scope, parts[0]);
    if (l.how == How::kImport) return join_tail(l.target, parts, 1);
    if (l.how == How::kBuiltin) return join_tail("builtins." + parts[0], parts, 1);
    return join_tail(parts[0], parts, 1);
  }

  // pytest and unittest conventions: in a test file, `test*` functions at module level and
  // `test*` methods of classes named Test* or deriving from a *TestCase class.
  void classify_tests() {
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

  bool is_test_class(uint32_t cls) {
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

  void add_tests_edges() {
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

  uint32_t external(std::string_view name) {
    auto it = externals_.find(name);
    if (it != externals_.end()) return it->second;
    // Provisional ids above every corpus node; renumbered by name in finish().
    auto id = static_cast<uint32_t>(out_.nodes.capacity() + external_names_.size());
    external_names_.emplace_back(name);
    externals_.emplace(external_names_.back(), id);
    return id;
  }

  EdgeRecord& edge(uint32_t src, uint32_t dst, EdgeKind kind) {
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

  void add_edge(uint32_t src, uint32_t dst, EdgeKind kind) { edge(src, dst, kind); }

  void add_call(uint32_t src, uint32_t dst, uint32_t line, bool resolved) {
    size_t before = out_.edges.size();
    EdgeRecord& e = edge(src, dst, EdgeKind::kCalls);
    if (out_.edges.size() > before) {
      e.n = 1, e.line = line, e.resolved = resolved;
    } else {
      e.n++;
      e.line = std::min(e.line, line);
    }
  }

  // Externals get ids after the corpus nodes, in name order; edges are sorted.
  // Externals get ids after the repository nodes, in name order, and edges are sorted.
  // The node vector itself is left alone: the store may be reading it (see take()).
  void finish() {
    auto base = static_cast<uint32_t>(out_.nodes.capacity());
    std::vector<uint32_t> order(external_names_.size());
    for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(),
              [&](uint32_t a, uint32_t b) { return external_names_[a] < external_names_[b]; });
    std::vector<uint32_t> final_id(order.size());
    auto first_external = static_cast<uint32_t>(out_.nodes.size());
    for (uint32_t rank = 0; rank < order.size(); ++rank) final_id[order[rank]] = first_external + rank;
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
  void sort_edges(size_t node_count) {
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

  const std::vector<const FileFacts*>& files_;
  ResolvedGraph out_;
  std::vector<std::vector<Scope>> scopes_;
  std::unordered_map<std::string_view, uint32_t> qindex_;
  std::unordered_map<std::string_view, Scope*> modules_;
  std::unordered_map<std::string, int64_t> memo_;
  std::unordered_map<uint32_t, std::vector<uint32_t>> bases_, mro_, subclasses_;
  std::unordered_map<const char*, int64_t> value_memo_;
  std::unordered_map<std::string, int64_t> class_memo_;
  std::vector<Scope*> class_scope_of_;  // by node id; null for non-classes
  bool mro_frozen_ = false;
  std::unordered_set<std::string_view> builtins_;
  std::deque<std::string> external_names_;
  std::vector<std::string> sorted_externals_;
  std::unordered_map<std::string_view, uint32_t> externals_;
  std::unordered_map<uint64_t, size_t> edge_index_;
};

Resolution::Resolution(const std::vector<const FileFacts*>& files)
    : resolver_(std::make_unique<Resolver>(files)) {}
Resolution::~Resolution() = default;
const std::vector<NodeRecord>& Resolution::repository_nodes() { return resolver_->nodes(); }
void Resolution::edges() { resolver_->edges(); }
ResolvedGraph Resolution::take() { return resolver_->take(); }

ResolvedGraph resolve_graph(const std::vector<const FileFacts*>& files) {
  Resolution r(files);
  r.repository_nodes();
  r.edges();
  return r.take();
}

}  // namespace yantra::graph
