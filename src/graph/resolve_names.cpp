// Name lookup for the resolver: Python's scope rules (LEGB), module symbol tables and
// re-export chains, classes with their bases and MRO, and the names bound by assignment
// (see resolve.cpp for the rules as a whole).
#include "graph/resolver.h"

namespace yantra::graph {

using resolver::How;
using resolver::join_tail;
using resolver::Lookup;
using resolver::name_hash;
using resolver::Scope;
using resolver::split_dots;

Lookup Resolution::Resolver::lookup_name(const Scope& scope, std::string_view name) {
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
Lookup Resolution::Resolver::assigned(const Scope& s, std::string_view name) {
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
int64_t Resolution::Resolver::resolve_value_once(const Scope& s, std::string_view dotted) {
  auto [it, inserted] = value_memo_.try_emplace(dotted.data(), -1);
  if (!inserted) return it->second;
  int64_t r = resolve_value(s, dotted);
  value_memo_[dotted.data()] = r;
  return r;
}

// A dotted expression evaluated in `scope` to a repository node, or -1.
int64_t Resolution::Resolver::resolve_value(const Scope& scope, std::string_view dotted) {
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
int64_t Resolution::Resolver::member(uint32_t cls, const std::vector<std::string>& parts,
                                     bool may_be_subclass) {
  int64_t m = class_lookup(cls, parts[1], false);
  if (m < 0 && may_be_subclass) m = subclass_lookup(cls, parts[1]);
  if (m < 0 || parts.size() == 2) return m;
  return resolve_global(join_tail(out_.nodes[static_cast<size_t>(m)].qname, parts, 2));
}

// A mixin's `self.x` where x is defined only by classes that inherit the mixin: the
// first such class (in source order) decides.
int64_t Resolution::Resolver::subclass_lookup(uint32_t cls, std::string_view name) {
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
int64_t Resolution::Resolver::resolve_global(const std::string& dotted, int depth) {
  if (auto q = qindex_.find(dotted); q != qindex_.end()) return q->second;
  if (auto m = memo_.find(dotted); m != memo_.end()) return m->second;
  if (depth > 40) return -1;
  memo_[dotted] = -1;  // cycle guard
  int64_t res = -1;
  std::vector<std::string_view> parts = split_dots(dotted);
  for (size_t i = parts.size() - 1; i > 0; --i) {
    size_t prefix_len =
        static_cast<size_t>(parts[i - 1].data() + parts[i - 1].size() - dotted.data());
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
        res = tail.empty()
                  ? m
                  : resolve_global(out_.nodes[static_cast<size_t>(m)].qname + std::string(tail),
                                   depth + 1);
    }
    break;
  }
  memo_[dotted] = res;
  return res;
}

// A base-class expression to a class node, or -1.
int64_t Resolution::Resolver::resolve_class_expr(const Scope& scope,
                                                 const std::vector<std::string>& parts) {
  Lookup l = lookup_name(scope, parts[0]);
  int64_t r = -1;
  if (l.how == How::kDef) r = resolve_global(join_tail(out_.nodes[l.node].qname, parts, 1));
  if (l.how == How::kImport) r = resolve_global(join_tail(l.target, parts, 1));
  return r >= 0 && out_.nodes[static_cast<size_t>(r)].kind == NodeKind::kClass ? r : -1;
}

const std::vector<uint32_t>& Resolution::Resolver::class_bases(uint32_t cls) {
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

const std::vector<uint32_t>& Resolution::Resolver::mro(uint32_t cls) {
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

int64_t Resolution::Resolver::class_lookup(uint32_t cls, std::string_view name, bool skip_self) {
  if (!mro_frozen_) return class_lookup_uncached(cls, name, skip_self);
  // The same (class, name) is asked for at every self.x() site: remember the answer.
  std::string key(name);
  key.append(reinterpret_cast<const char*>(&cls), sizeof cls).push_back(skip_self ? 1 : 0);
  auto [it, inserted] = class_memo_.try_emplace(key, -1);  // -1 meanwhile: cycles stop
  if (!inserted) return it->second;
  int64_t r = class_lookup_uncached(cls, name, skip_self);
  class_memo_[key] = r;  // `it` may be stale: the lookup can grow the memo
  return r;
}

int64_t Resolution::Resolver::class_lookup_uncached(uint32_t cls, std::string_view name,
                                                    bool skip_self) {
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

void Resolution::Resolver::freeze_mros() {
  for (uint32_t c = 0; c < class_scope_of_.size(); ++c)
    if (class_scope_of_[c]) mro(c);
  mro_frozen_ = true;
}

const Scope* Resolution::Resolver::class_scope(uint32_t node) const {
  return node < class_scope_of_.size() ? class_scope_of_[node] : nullptr;
}

}  // namespace yantra::graph
