// Internal to the graph part: the resolver shared by resolve.cpp (nodes and edges) and
// resolve_names.cpp (name lookup: scopes, re-exports, classes and their MRO).
#pragma once

#include <algorithm>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "base/base.h"
#include "graph/resolve.h"

namespace yantra::graph {
namespace resolver {

inline uint64_t name_hash(std::string_view s) {
  return hash64(s);
}

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
  ImportMap values;           // name -> dotted expression it was assigned
  ImportMap instances;        // name -> dotted constructor it was assigned a call of
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
  uint32_t node = 0;        // kDef, kSelf and kInstance (the class)
  std::string_view target;  // kImport
};

inline std::string join_tail(std::string_view head, const std::vector<std::string>& parts,
                             size_t from) {
  std::string out(head);
  for (size_t i = from; i < parts.size(); ++i) out.append(".").append(parts[i]);
  return out;
}

inline std::vector<std::string_view> split_dots(std::string_view s) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    out.push_back(s.substr(start, dot == s.npos ? s.npos : dot - start));
    if (dot == s.npos) return out;
    start = dot + 1;
  }
}

}  // namespace resolver

class Resolution::Resolver {
  using Scope = resolver::Scope;
  using Lookup = resolver::Lookup;
  using How = resolver::How;

 public:
  explicit Resolver(const std::vector<const FileFacts*>& files);
  const std::vector<NodeRecord>& nodes();
  void edges();
  ResolvedGraph take();

 private:
  static std::vector<std::string_view> split_lines(std::string_view text);

  // Pass 1: one node per module, class and def; "#2", "#3"... for a repeated qname.
  void create_nodes();
  NodeRecord make_node(const FileFacts& f, size_t fi, const ScopeFacts& sf, const Scope& s);
  uint32_t add_node(NodeRecord n, std::string qname);

  // A method's first parameter names its class (unless @staticmethod); closures inside a
  // method see the same receiver unless they rebind that name as a parameter.
  void set_method_receiver(Scope& s);

  // Replays each scope's bindings in source order; the first binding of a name wins, and
  // `a = b` copies b's binding at that point, as the reference graph does.
  void bind_names();
  static void bind_alias(Scope& s, const BindingFact& b);
  Lookup lookup_name(const Scope& scope, std::string_view name);

  // A name bound by assignment to something that resolves (see the file comment).
  Lookup assigned(const Scope& s, std::string_view name);

  // Each binding's value is resolved once: keyed by the address of its text, which is
  // unique per binding. The -1 written first also stops `x = x.y` from looping.
  int64_t resolve_value_once(const Scope& s, std::string_view dotted);

  // A dotted expression evaluated in `scope` to a repository node, or -1.
  int64_t resolve_value(const Scope& scope, std::string_view dotted);

  // obj.parts[1].parts[2]... where obj is an instance of `cls`.
  int64_t member(uint32_t cls, const std::vector<std::string>& parts, bool may_be_subclass);

  // A mixin's `self.x` where x is defined only by classes that inherit the mixin: the
  // first such class (in source order) decides.
  int64_t subclass_lookup(uint32_t cls, std::string_view name);

  // A dotted name to a repository node, following re-exports; -1 if it leaves the repo.
  int64_t resolve_global(const std::string& dotted, int depth = 0);

  // A base-class expression to a class node, or -1.
  int64_t resolve_class_expr(const Scope& scope, const std::vector<std::string>& parts);
  const std::vector<uint32_t>& class_bases(uint32_t cls);
  const std::vector<uint32_t>& mro(uint32_t cls);
  int64_t class_lookup(uint32_t cls, std::string_view name, bool skip_self);
  int64_t class_lookup_uncached(uint32_t cls, std::string_view name, bool skip_self);
  void freeze_mros();
  const Scope* class_scope(uint32_t node) const;
  struct Target {
    int64_t node = -1;
    std::string external;
  };
  Target resolve_call(const Scope& scope, const CallFact& call);
  void resolve_calls();

  // `import a.b` -> module a.b; `from a.b import c` -> a.b.c if that is a module, else a.b.
  void resolve_imports();
  bool is_module(std::string_view qname) const;
  void resolve_inheritance();
  std::string base_name(const Scope& scope, const std::vector<std::string>& parts);

  // pytest and unittest conventions: in a test file, `test*` functions at module level and
  // `test*` methods of classes named Test* or deriving from a *TestCase class.
  void classify_tests();
  bool is_test_class(uint32_t cls);
  void add_tests_edges();
  uint32_t external(std::string_view name);
  EdgeRecord& edge(uint32_t src, uint32_t dst, EdgeKind kind);
  void add_edge(uint32_t src, uint32_t dst, EdgeKind kind) { edge(src, dst, kind); }
  void add_call(uint32_t src, uint32_t dst, uint32_t line, bool resolved);

  // Externals get ids after the repository nodes, in name order, and edges are sorted.
  // The node vector itself is left alone: the store may be reading it (see take()).
  void finish();

  // By (src, kind, dst): a counting sort on the source, then each node's few edges.
  void sort_edges(size_t node_count);
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

}  // namespace yantra::graph
