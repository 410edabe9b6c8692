// Facts of one Python file from one run of queries/python.scm over its tree-sitter tree.
//
// The query yields events (a def, an import, a call, a bound name...). Each event belongs
// to the innermost scope whose *body* contains it, so decorators, default values,
// annotations and base classes land in the enclosing scope, as Python evaluates them.
// Events are sorted by position and swept with a stack of open scopes.
#include <tree_sitter/api.h>

#include <algorithm>
#include <cassert>
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_map>

#include "graph/extract_internal.h"
#include "graph/facts.h"

extern "C" const TSLanguage* tree_sitter_python();

namespace yantra::graph {
namespace {

enum class Cap : uint8_t {
  kFunction, kFunctionName, kFunctionParameters, kFunctionBody,
  kClass, kClassName, kClassBody, kDecorated,
  kImport, kImportFrom, kImportFuture, kCallFunction,
  kBind, kGlobal, kAliasTarget, kAliasValue,
  kBranch, kRaise, kAssert, kSyntaxError, kUnknown,
};

constexpr std::pair<const char*, Cap> kCaptureNames[] = {
    {"function", Cap::kFunction}, {"function.name", Cap::kFunctionName},
    {"function.parameters", Cap::kFunctionParameters}, {"function.body", Cap::kFunctionBody},
    {"class", Cap::kClass}, {"class.name", Cap::kClassName}, {"class.body", Cap::kClassBody},
    {"decorated", Cap::kDecorated}, {"import", Cap::kImport}, {"import.from", Cap::kImportFrom},
    {"import.future", Cap::kImportFuture}, {"call.function", Cap::kCallFunction},
    {"bind", Cap::kBind}, {"global", Cap::kGlobal}, {"assign.target", Cap::kAliasTarget},
    {"assign.value", Cap::kAliasValue}, {"branch", Cap::kBranch}, {"raise", Cap::kRaise},
    {"assert", Cap::kAssert}, {"syntax_error", Cap::kSyntaxError},
};

}  // namespace

const PythonQuery& python_query() {
  static const PythonQuery query = [] {
    PythonQuery q;
    std::string_view text = embedded_file("python.scm");
    uint32_t error_offset = 0;
    TSQueryError error_type = TSQueryErrorNone;
    q.query = ts_query_new(tree_sitter_python(), text.data(), static_cast<uint32_t>(text.size()),
                           &error_offset, &error_type);
    // The query is compiled into the binary; a broken one is a bug, caught by every test.
    assert(q.query && "queries/python.scm does not compile");
    if (!q.query) std::abort();
    uint32_t n = ts_query_capture_count(q.query);
    q.capture_kind.assign(n, static_cast<uint8_t>(Cap::kUnknown));
    for (uint32_t i = 0; i < n; ++i) {
      uint32_t len = 0;
      const char* name = ts_query_capture_name_for_id(q.query, i, &len);
      for (auto& [cap_name, cap] : kCaptureNames)
        if (std::string_view(name, len) == cap_name) q.capture_kind[i] = static_cast<uint8_t>(cap);
    }
    return q;
  }();
  return query;
}

namespace {

// Field ids looked up once: ts_node_child_by_field_name compares strings on every call.
struct Fields {
  TSFieldId name, definition, return_type, superclasses, module_name, alias, attribute, object,
      function, arguments;
  Fields() {
    const TSLanguage* l = tree_sitter_python();
    auto id = [l](const char* f) {
      return ts_language_field_id_for_name(l, f, static_cast<uint32_t>(std::strlen(f)));
    };
    name = id("name"), definition = id("definition"), return_type = id("return_type");
    superclasses = id("superclasses"), module_name = id("module_name"), alias = id("alias");
    attribute = id("attribute"), object = id("object"), function = id("function");
    arguments = id("arguments");
  }
};
const Fields& fields() {
  static const Fields f;
  return f;
}

// Per-thread parser and cursor: creating them per file would cost allocations.
struct ThreadTools {
  TSParser* parser = ts_parser_new();
  TSQueryCursor* cursor = ts_query_cursor_new();
  ThreadTools() { ts_parser_set_language(parser, tree_sitter_python()); }
  ~ThreadTools() {
    ts_query_cursor_delete(cursor);
    ts_parser_delete(parser);
  }
};

enum class EventType : uint8_t {
  kOpenScope, kDef, kDecorated, kImport, kImportFrom, kImportFuture, kCall,
  kBind, kGlobal, kAlias, kBranch, kRaise, kAssert, kSyntaxError,
};

struct Event {
  uint32_t pos;
  EventType type;
  uint32_t def = 0;  // for kDef / kOpenScope: index into `defs`
  TSNode node;
  TSNode extra;  // alias value
};

// A def/class statement seen by the query, before it gets its scope index.
struct PendingDef {
  bool is_class;
  TSNode node, name, params, body;
  uint32_t scope_index = 0;
};

class Extractor {
 public:
  Extractor(std::string_view src, const ModuleName& module, bool is_test_file)
      : src_(src), module_(module) {
    facts_.module_qname = module.qname;
    facts_.is_package = module.is_package;
    facts_.is_test_file = is_test_file;
    package_ = module.is_package ? module.qname : parent_of(module.qname);
  }

  FileFacts run(TSTree* tree, TSQueryCursor* cursor) {
    TSNode root = ts_tree_root_node(tree);
    facts_.n_lines = count_lines(src_);
    ScopeFacts module;
    module.kind = ScopeKind::kModule;
    module.name = last_part(module_.qname);
    module.end_line = facts_.n_lines;
    set_docstring(module, root);
    facts_.scopes.push_back(std::move(module));

    collect_events(root, cursor);
    sweep();
    finish_scopes();
    if (ts_node_has_error(root)) count_missing(root), locate_errors();
    return std::move(facts_);
  }

 private:
  std::string_view text(TSNode n) const {
    return src_.substr(ts_node_start_byte(n), ts_node_end_byte(n) - ts_node_start_byte(n));
  }
  static uint32_t line_of(TSNode n) { return ts_node_start_point(n).row + 1; }

  void collect_events(TSNode root, TSQueryCursor* cursor) {
    const PythonQuery& q = python_query();
    ts_query_cursor_exec(cursor, q.query, root);
    TSQueryMatch match;
    events_.reserve(256);
    while (ts_query_cursor_next_match(cursor, &match)) add_match(q, match);
    std::sort(events_.begin(), events_.end(), [](const Event& a, const Event& b) {
      if (a.pos != b.pos) return a.pos < b.pos;
      return static_cast<int>(a.type) < static_cast<int>(b.type);  // open scopes first
    });
  }

  void add_match(const PythonQuery& q, const TSQueryMatch& match) {
    PendingDef def{};
    bool is_def = false;
    TSNode alias_target{}, alias_value{};
    for (uint16_t i = 0; i < match.capture_count; ++i) {
      const TSQueryCapture& c = match.captures[i];
      auto cap = static_cast<Cap>(q.capture_kind[c.index]);
      switch (cap) {
        case Cap::kFunction: def.node = c.node, def.is_class = false, is_def = true; break;
        case Cap::kClass: def.node = c.node, def.is_class = true, is_def = true; break;
        case Cap::kFunctionName: case Cap::kClassName: def.name = c.node; break;
        case Cap::kFunctionParameters: def.params = c.node; break;
        case Cap::kFunctionBody: case Cap::kClassBody: def.body = c.node; break;
        case Cap::kAliasTarget: alias_target = c.node; break;
        case Cap::kAliasValue: alias_value = c.node; break;
        case Cap::kDecorated: push(EventType::kDecorated, c.node); break;
        case Cap::kImport: push(EventType::kImport, c.node); break;
        case Cap::kImportFrom: push(EventType::kImportFrom, c.node); break;
        case Cap::kImportFuture: push(EventType::kImportFuture, c.node); break;
        case Cap::kCallFunction: push(EventType::kCall, c.node); break;
        case Cap::kBind: push(EventType::kBind, c.node); break;
        case Cap::kGlobal: push(EventType::kGlobal, c.node); break;
        case Cap::kBranch: push(EventType::kBranch, c.node); break;
        case Cap::kRaise: push(EventType::kRaise, c.node); break;
        case Cap::kAssert: push(EventType::kAssert, c.node); break;
        case Cap::kSyntaxError: push(EventType::kSyntaxError, c.node); break;
        case Cap::kUnknown: break;
      }
    }
    if (is_def) {
      uint32_t k = static_cast<uint32_t>(defs_.size());
      defs_.push_back(def);
      events_.push_back({ts_node_start_byte(def.node), EventType::kDef, k, def.node, {}});
      events_.push_back({ts_node_start_byte(def.body), EventType::kOpenScope, k, def.body, {}});
    }
    if (!ts_node_is_null(alias_target) && !ts_node_is_null(alias_value))
      events_.push_back(
          {ts_node_start_byte(alias_target), EventType::kAlias, 0, alias_target, alias_value});
  }

  void push(EventType type, TSNode node) {
    events_.push_back({ts_node_start_byte(node), type, 0, node, {}});
  }

  // Walks the sorted events, keeping the stack of scopes whose bodies are open.
  void sweep() {
    struct Open {
      uint32_t scope;
      uint32_t end;
    };
    std::vector<Open> stack;
    stack.push_back({0, UINT32_MAX});
    for (const Event& e : events_) {
      while (stack.back().end <= e.pos) stack.pop_back();
      uint32_t scope = stack.back().scope;
      switch (e.type) {
        case EventType::kOpenScope:
          stack.push_back({defs_[e.def].scope_index, ts_node_end_byte(e.node)});
          break;
        case EventType::kDef: on_def(defs_[e.def], scope); break;
        case EventType::kDecorated: on_decorated(e.node); break;
        case EventType::kImport: on_import(e.node, scope); break;
        case EventType::kImportFrom: on_import_from(e.node, scope, false); break;
        case EventType::kImportFuture: on_import_from(e.node, scope, true); break;
        case EventType::kCall: on_call(e.node, scope); break;
        case EventType::kBind: facts_.scopes[scope].locals.emplace_back(text(e.node)); break;
        case EventType::kGlobal: facts_.scopes[scope].globals.emplace_back(text(e.node)); break;
        case EventType::kAlias: on_alias(e.node, e.extra, scope); break;
        case EventType::kBranch: facts_.scopes[scope].complexity++; break;
        case EventType::kRaise: on_raise(e.node, scope); break;
        case EventType::kAssert: facts_.scopes[scope].flags |= kFlagValidation; break;
        case EventType::kSyntaxError: on_syntax_error(e.node); break;
      }
    }
  }

  void on_def(PendingDef& def, uint32_t parent) {
    ScopeFacts s;
    s.kind = def.is_class ? ScopeKind::kClass : ScopeKind::kFunction;
    s.parent = static_cast<int32_t>(parent);
    s.name = std::string(text(def.name));
    TSPoint start = ts_node_start_point(def.node);
    s.line = start.row + 1;
    s.col = start.column + 1;
    s.end_line = ts_node_end_point(def.node).row + 1;
    auto decorated = decorators_.find(ts_node_start_byte(def.node));
    if (decorated != decorators_.end()) s.decorators = std::move(decorated->second);
    if (def.is_class) {
      read_bases(def.node, s);
    } else {
      s.is_async = text(def.node).starts_with("async");
      s.is_static = std::find(s.decorators.begin(), s.decorators.end(), "staticmethod") !=
                    s.decorators.end();
      read_parameters(def.params, s);
      TSNode returns = ts_node_child_by_field_id(def.node, fields().return_type);
      s.signature = fold_whitespace(text(def.params));
      if (!ts_node_is_null(returns)) s.signature += " -> " + fold_whitespace(text(returns));
    }
    set_docstring(s, def.body);
    def.scope_index = static_cast<uint32_t>(facts_.scopes.size());
    BindingFact b;
    b.kind = BindingFact::Kind::kDef;
    b.name = s.name;
    b.def_scope = def.scope_index;
    facts_.scopes[parent].bindings.push_back(std::move(b));
    facts_.scopes.push_back(std::move(s));
  }

  void on_decorated(TSNode node) {
    TSNode definition = ts_node_child_by_field_id(node, fields().definition);
    if (ts_node_is_null(definition)) return;
    std::vector<std::string> list;
    uint32_t n = ts_node_named_child_count(node);
    for (uint32_t i = 0; i < n; ++i) {
      TSNode child = ts_node_named_child(node, i);
      if (std::strcmp(ts_node_type(child), "decorator") != 0) continue;
      std::string_view t = text(child);
      if (t.starts_with("@")) t.remove_prefix(1);
      list.push_back(fold_whitespace(t));
    }
    decorators_[ts_node_start_byte(definition)] = std::move(list);
  }

  void read_parameters(TSNode params, ScopeFacts& s) {
    uint32_t n = ts_node_named_child_count(params);
    for (uint32_t i = 0; i < n; ++i) {
      TSNode p = ts_node_named_child(params, i);
      std::string name = parameter_name(p);
      if (name.empty()) continue;
      if (i == 0 && is_positional(p)) s.self_param = name;
      s.params.push_back(std::move(name));
    }
    s.locals.insert(s.locals.end(), s.params.begin(), s.params.end());
  }

  static bool is_positional(TSNode p) {
    const char* type = ts_node_type(p);
    if (!std::strcmp(type, "typed_parameter")) {
      TSNode inner = ts_node_named_child(p, 0);
      return !ts_node_is_null(inner) && !std::strcmp(ts_node_type(inner), "identifier");
    }
    return !std::strcmp(type, "identifier") || !std::strcmp(type, "default_parameter") ||
           !std::strcmp(type, "typed_default_parameter");
  }

  // The bound name of one entry of a parameter list ("" for `*` and `/` markers).
  std::string parameter_name(TSNode p) const {
    const char* type = ts_node_type(p);
    if (!std::strcmp(type, "identifier")) return std::string(text(p));
    if (!std::strcmp(type, "default_parameter") || !std::strcmp(type, "typed_default_parameter")) {
      TSNode name = ts_node_child_by_field_id(p, fields().name);
      return ts_node_is_null(name) ? "" : std::string(text(name));
    }
    if (!std::strcmp(type, "typed_parameter") || !std::strcmp(type, "list_splat_pattern") ||
        !std::strcmp(type, "dictionary_splat_pattern")) {
      TSNode inner = ts_node_named_child(p, 0);
      if (ts_node_is_null(inner)) return "";
      if (!std::strcmp(ts_node_type(inner), "identifier")) return std::string(text(inner));
      return parameter_name(inner);
    }
    return "";
  }

  void read_bases(TSNode class_node, ScopeFacts& s) {
    TSNode args = ts_node_child_by_field_id(class_node, fields().superclasses);
    if (ts_node_is_null(args)) return;
    uint32_t n = ts_node_named_child_count(args);
    for (uint32_t i = 0; i < n; ++i) {
      CallFact rep;
      if (decode_callee(ts_node_named_child(args, i), rep) && rep.kind == CalleeKind::kDotted)
        s.bases.push_back(std::move(rep.parts));
    }
  }

  void set_docstring(ScopeFacts& s, TSNode body) {
    TSNode first = ts_node_named_child(body, 0);
    while (!ts_node_is_null(first) && !std::strcmp(ts_node_type(first), "comment"))
      first = ts_node_next_named_sibling(first);
    if (ts_node_is_null(first) || std::strcmp(ts_node_type(first), "expression_statement")) return;
    if (ts_node_named_child_count(first) != 1) return;
    TSNode str = ts_node_named_child(first, 0);
    const char* type = ts_node_type(str);
    std::string value;
    if (!std::strcmp(type, "string")) {
      if (!append_plain_string(str, value)) return;
    } else if (!std::strcmp(type, "concatenated_string")) {
      uint32_t n = ts_node_named_child_count(str);
      for (uint32_t i = 0; i < n; ++i)
        if (!append_plain_string(ts_node_named_child(str, i), value)) return;
    } else {
      return;
    }
    s.has_docstring = true;
    s.docstring = clean_docstring(value);
  }

  // Appends a string literal's value; false for f-strings and bytes (never docstrings).
  bool append_plain_string(TSNode str, std::string& out) const {
    std::string_view literal = text(str);
    for (char c : literal) {
      if (c == '\'' || c == '"') break;
      if (c == 'f' || c == 'F' || c == 'b' || c == 'B') return false;
    }
    out += python_string_value(literal);
    return true;
  }

  void on_import(TSNode node, uint32_t scope) {
    uint32_t n = ts_node_named_child_count(node);
    for (uint32_t i = 0; i < n; ++i) {
      TSNode item = ts_node_named_child(node, i);
      const char* type = ts_node_type(item);
      if (!std::strcmp(type, "dotted_name")) {
        std::string name = dotted_text(item);
        add_import(scope, false, name, "");
        bind_import(scope, first_part(name), first_part(name));
      } else if (!std::strcmp(type, "aliased_import")) {
        std::string name = dotted_text(ts_node_child_by_field_id(item, fields().name));
        TSNode alias = ts_node_child_by_field_id(item, fields().alias);
        add_import(scope, false, name, "");
        if (!ts_node_is_null(alias)) bind_import(scope, std::string(text(alias)), name);
      }
    }
  }

  void on_import_from(TSNode node, uint32_t scope, bool future) {
    std::string base = "__future__";
    TSNode module_node{};
    if (!future) {
      module_node = ts_node_child_by_field_id(node, fields().module_name);
      if (ts_node_is_null(module_node)) return;
      base = module_base(module_node);
    }
    uint32_t n = ts_node_named_child_count(node);
    for (uint32_t i = 0; i < n; ++i) {
      TSNode item = ts_node_named_child(node, i);
      if (!future && ts_node_eq(item, module_node)) continue;
      const char* type = ts_node_type(item);
      if (!std::strcmp(type, "wildcard_import")) {
        add_import(scope, false, base, "");
        if (scope == 0) facts_.scopes[0].stars.push_back(base);
        continue;
      }
      std::string name, bound;
      if (!std::strcmp(type, "dotted_name")) {
        name = bound = dotted_text(item);
      } else if (!std::strcmp(type, "aliased_import")) {
        name = dotted_text(ts_node_child_by_field_id(item, fields().name));
        TSNode alias = ts_node_child_by_field_id(item, fields().alias);
        bound = ts_node_is_null(alias) ? name : std::string(text(alias));
      } else {
        continue;
      }
      std::string full = base.empty() ? name : base + "." + name;
      add_import(scope, true, base, full);
      bind_import(scope, bound, full);
    }
  }

  // `a.b` or a relative `..a.b`, made absolute against this module's package.
  std::string module_base(TSNode module_node) const {
    if (std::strcmp(ts_node_type(module_node), "relative_import")) return dotted_text(module_node);
    uint32_t level = 0;
    std::string rest;
    uint32_t n = ts_node_named_child_count(module_node);
    for (uint32_t i = 0; i < n; ++i) {
      TSNode c = ts_node_named_child(module_node, i);
      if (!std::strcmp(ts_node_type(c), "import_prefix"))
        level = static_cast<uint32_t>(std::count(text(c).begin(), text(c).end(), '.'));
      else if (!std::strcmp(ts_node_type(c), "dotted_name"))
        rest = dotted_text(c);
    }
    return resolve_relative(package_, rest, level);
  }

  std::string dotted_text(TSNode dotted) const {
    if (ts_node_is_null(dotted)) return "";
    std::string out;
    uint32_t n = ts_node_named_child_count(dotted);
    for (uint32_t i = 0; i < n; ++i) {
      if (!out.empty()) out += '.';
      out += text(ts_node_named_child(dotted, i));
    }
    return n ? out : std::string(text(dotted));
  }

  void add_import(uint32_t scope, bool is_from, std::string module, std::string full) {
    facts_.imports.push_back({scope, is_from, std::move(module), std::move(full)});
  }

  void bind_import(uint32_t scope, std::string name, std::string target) {
    add_binding(scope, BindingFact::Kind::kImport, std::move(name), std::move(target));
  }

  // `name = value`: see queries/python.scm for the forms that bind something resolvable.
  void on_alias(TSNode target, TSNode value, uint32_t scope) {
    std::string name(text(target));
    value = unwrap_parens(value);
    const char* type = ts_node_type(value);
    bool in_function = facts_.scopes[scope].kind == ScopeKind::kFunction;
    if (!std::strcmp(type, "identifier") && !in_function)  // the reference graph's alias rule
      add_binding(scope, BindingFact::Kind::kAlias, name, std::string(text(value)));
    CallFact dotted;
    if (decode_callee(value, dotted) && dotted.kind == CalleeKind::kDotted) {
      add_binding(scope, BindingFact::Kind::kValue, name, join(dotted.parts));
      return;
    }
    if (std::strcmp(type, "call")) return;
    CallFact callee;
    if (!decode_callee(ts_node_child_by_field_id(value, fields().function), callee) ||
        callee.kind != CalleeKind::kDotted)
      return;
    const std::string& fn = callee.parts.back();
    TSNode args = ts_node_child_by_field_id(value, fields().arguments);
    TSNode first = ts_node_is_null(args) ? TSNode{} : ts_node_named_child(args, 0);
    if (fn == "staticmethod" || fn == "classmethod") {
      CallFact wrapped;
      if (!ts_node_is_null(first) && decode_callee(first, wrapped) &&
          wrapped.kind == CalleeKind::kDotted)
        add_binding(scope, BindingFact::Kind::kValue, name, join(wrapped.parts));
    } else if (fn == "import_module" || fn == "import_fresh_module" || fn == "__import__") {
      if (ts_node_is_null(first) || std::strcmp(ts_node_type(first), "string")) return;
      std::string module = python_string_value(text(first));
      add_import(scope, false, module, "");
      add_binding(scope, BindingFact::Kind::kImport, name, std::move(module));
    } else {
      add_binding(scope, BindingFact::Kind::kInstance, name, join(callee.parts));
    }
  }

  void add_binding(uint32_t scope, BindingFact::Kind kind, std::string name, std::string target) {
    BindingFact b;
    b.kind = kind;
    b.name = std::move(name);
    b.target = std::move(target);
    facts_.scopes[scope].bindings.push_back(std::move(b));
  }

  static std::string join(const std::vector<std::string>& parts) {
    std::string out;
    for (const auto& p : parts) out.append(out.empty() ? "" : ".").append(p);
    return out;
  }

  void on_call(TSNode function, uint32_t scope) {
    CallFact call;
    if (!decode_callee(function, call)) {
      facts_.unnamed_calls++;
      return;
    }
    call.scope = scope;
    call.line = line_of(function);
    facts_.calls.push_back(std::move(call));
  }

  // f / a.b.c / super().m / expr.m; false for callees with no name (f()(), x[0]()).
  bool decode_callee(TSNode fn, CallFact& out) const {
    fn = unwrap_parens(fn);
    const char* type = ts_node_type(fn);
    if (!std::strcmp(type, "identifier")) {
      out.kind = CalleeKind::kDotted;
      out.parts.emplace_back(text(fn));
      return true;
    }
    if (std::strcmp(type, "attribute")) return false;
    std::vector<std::string> chain;
    TSNode cur = fn;
    while (!std::strcmp(ts_node_type(cur), "attribute")) {
      chain.emplace_back(text(ts_node_child_by_field_id(cur, fields().attribute)));
      cur = unwrap_parens(ts_node_child_by_field_id(cur, fields().object));
      if (ts_node_is_null(cur)) return false;
    }
    if (!std::strcmp(ts_node_type(cur), "identifier")) {
      chain.emplace_back(text(cur));
      std::reverse(chain.begin(), chain.end());
      out.kind = CalleeKind::kDotted;
      out.parts = std::move(chain);
      return true;
    }
    out.kind = chain.size() == 1 && is_super_call(cur) ? CalleeKind::kSuper : CalleeKind::kOther;
    out.parts = {std::move(chain.front())};
    return true;
  }

  bool is_super_call(TSNode n) const {
    if (std::strcmp(ts_node_type(n), "call")) return false;
    TSNode f = ts_node_child_by_field_id(n, fields().function);
    return !ts_node_is_null(f) && !std::strcmp(ts_node_type(f), "identifier") && text(f) == "super";
  }

  static TSNode unwrap_parens(TSNode n) {
    while (!ts_node_is_null(n) && !std::strcmp(ts_node_type(n), "parenthesized_expression") &&
           ts_node_named_child_count(n) == 1)
      n = ts_node_named_child(n, 0);
    return n;
  }

  void on_raise(TSNode node, uint32_t scope) {
    ScopeFacts& s = facts_.scopes[scope];
    s.flags |= kFlagRaises;
    std::string_view t = text(node);
    if (t.find("ValueError") != t.npos || t.find("TypeError") != t.npos) s.flags |= kFlagValidation;
  }

  void on_syntax_error(TSNode node) {
    facts_.syntax_errors++;
    error_nodes_.push_back(node);
  }

  // An ERROR node can span most of a file (tree-sitter wraps what it could not fit); the
  // useful locations are the innermost ones, which contain no other ERROR node.
  void locate_errors() {
    std::vector<SyntaxIssue> found;
    for (size_t i = 0; i < error_nodes_.size(); ++i) {
      bool innermost = i + 1 == error_nodes_.size() ||
                       ts_node_start_byte(error_nodes_[i + 1]) >= ts_node_end_byte(error_nodes_[i]);
      if (!innermost) continue;
      TSPoint p = ts_node_start_point(error_nodes_[i]);
      found.push_back({p.row + 1, p.column + 1, "syntax error"});
    }
    found.insert(found.end(), facts_.first_errors.begin(), facts_.first_errors.end());  // MISSING
    std::sort(found.begin(), found.end(), [](const SyntaxIssue& a, const SyntaxIssue& b) {
      return a.line != b.line ? a.line < b.line : a.col < b.col;
    });
    if (found.size() > 3) found.resize(3);
    facts_.first_errors = std::move(found);
  }

  // MISSING nodes (an absent ')' or ':') are not ERROR nodes: descend where errors are.
  void count_missing(TSNode node) {
    if (ts_node_is_missing(node)) {
      facts_.syntax_errors++;
      if (facts_.first_errors.size() < 3) {  // merged with ERROR locations in locate_errors()
        TSPoint p = ts_node_start_point(node);
        facts_.first_errors.push_back(
            {p.row + 1, p.column + 1, std::string("missing '") + ts_node_type(node) + "'"});
      }
      return;
    }
    uint32_t n = ts_node_child_count(node);
    for (uint32_t i = 0; i < n; ++i) {
      TSNode c = ts_node_child(node, i);
      if (ts_node_has_error(c)) count_missing(c);
    }
  }

  void finish_scopes() {
    for (const CallFact& c : facts_.calls) facts_.scopes[c.scope].flags |= call_flags(c.parts);
    for (ScopeFacts& s : facts_.scopes) {
      std::sort(s.locals.begin(), s.locals.end());
      s.locals.erase(std::unique(s.locals.begin(), s.locals.end()), s.locals.end());
      if (s.kind == ScopeKind::kFunction) s.flags |= name_flags(s.name, s.params);
      else s.flags = 0, s.complexity = 1;  // metrics describe functions only
    }
  }

  std::string_view src_;
  const ModuleName& module_;
  std::string package_;
  FileFacts facts_;
  std::vector<Event> events_;
  std::vector<PendingDef> defs_;
  std::vector<TSNode> error_nodes_;  // in source order (events are sorted)
  std::unordered_map<uint32_t, std::vector<std::string>> decorators_;
};

}  // namespace

FileFacts extract_facts(std::string_view source, const ModuleName& module, bool is_test_file) {
  thread_local ThreadTools tools;
  TSTree* tree = ts_parser_parse_string(tools.parser, nullptr, source.data(),
                                        static_cast<uint32_t>(source.size()));
  Extractor extractor(source, module, is_test_file);
  FileFacts facts = extractor.run(tree, tools.cursor);
  ts_tree_delete(tree);
  return facts;
}

}  // namespace yantra::graph
