// Facts of one Python file from one run of queries/python.scm over its tree-sitter tree.
//
// The query yields events (a def, an import, a call, a bound name...). Each event belongs
// to the innermost scope whose *body* contains it, so decorators, default values,
// annotations and base classes land in the enclosing scope, as Python evaluates them.
// Events are sorted by position and swept with a stack of open scopes.
#include <algorithm>
#include <cassert>
#include <cstring>
#include <string>
#include <unordered_map>

#include "graph/extractor.h"
#include "graph/parse_arena.h"

namespace yantra::graph {

Extractor::Extractor(std::string_view src, const ModuleName& module, bool is_test_file)
    : src_(src), module_(module) {
  facts_.module_qname = module.qname;
  facts_.is_package = module.is_package;
  facts_.is_test_file = is_test_file;
  package_ = module.is_package ? module.qname : parent_of(module.qname);
}

FileFacts Extractor::run(TSTree* tree, TSQueryCursor* cursor) {
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

std::string_view Extractor::text(TSNode n) const {
  return src_.substr(ts_node_start_byte(n), ts_node_end_byte(n) - ts_node_start_byte(n));
}

void Extractor::collect_events(TSNode root, TSQueryCursor* cursor) {
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

void Extractor::add_match(const PythonQuery& q, const TSQueryMatch& match) {
  PendingDef def{};
  bool is_def = false;
  TSNode alias_target{}, alias_value{};
  for (uint16_t i = 0; i < match.capture_count; ++i) {
    const TSQueryCapture& c = match.captures[i];
    auto cap = static_cast<Cap>(q.capture_kind[c.index]);
    switch (cap) {
      case Cap::kFunction:
        def.node = c.node, def.is_class = false, is_def = true;
        break;
      case Cap::kClass:
        def.node = c.node, def.is_class = true, is_def = true;
        break;
      case Cap::kFunctionName:
      case Cap::kClassName:
        def.name = c.node;
        break;
      case Cap::kFunctionParameters:
        def.params = c.node;
        break;
      case Cap::kFunctionBody:
      case Cap::kClassBody:
        def.body = c.node;
        break;
      case Cap::kAliasTarget:
        alias_target = c.node;
        break;
      case Cap::kAliasValue:
        alias_value = c.node;
        break;
      case Cap::kDecorated:
        push(EventType::kDecorated, c.node);
        break;
      case Cap::kImport:
        push(EventType::kImport, c.node);
        break;
      case Cap::kImportFrom:
        push(EventType::kImportFrom, c.node);
        break;
      case Cap::kImportFuture:
        push(EventType::kImportFuture, c.node);
        break;
      case Cap::kCallFunction:
        push(EventType::kCall, c.node);
        break;
      case Cap::kBind:
        push(EventType::kBind, c.node);
        break;
      case Cap::kGlobal:
        push(EventType::kGlobal, c.node);
        break;
      case Cap::kBranch:
        push(EventType::kBranch, c.node);
        break;
      case Cap::kRaise:
        push(EventType::kRaise, c.node);
        break;
      case Cap::kAssert:
        push(EventType::kAssert, c.node);
        break;
      case Cap::kSyntaxError:
        push(EventType::kSyntaxError, c.node);
        break;
      case Cap::kUnknown:
        break;
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

void Extractor::push(EventType type, TSNode node) {
  events_.push_back({ts_node_start_byte(node), type, 0, node, {}});
}

// Walks the sorted events, keeping the stack of scopes whose bodies are open.
void Extractor::sweep() {
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
      case EventType::kDef:
        on_def(defs_[e.def], scope);
        break;
      case EventType::kDecorated:
        on_decorated(e.node);
        break;
      case EventType::kImport:
        on_import(e.node, scope);
        break;
      case EventType::kImportFrom:
        on_import_from(e.node, scope, false);
        break;
      case EventType::kImportFuture:
        on_import_from(e.node, scope, true);
        break;
      case EventType::kCall:
        on_call(e.node, scope);
        break;
      case EventType::kBind:
        facts_.scopes[scope].locals.emplace_back(text(e.node));
        break;
      case EventType::kGlobal:
        facts_.scopes[scope].globals.emplace_back(text(e.node));
        break;
      case EventType::kAlias:
        on_alias(e.node, e.extra, scope);
        break;
      case EventType::kBranch:
        facts_.scopes[scope].complexity++;
        break;
      case EventType::kRaise:
        on_raise(e.node, scope);
        break;
      case EventType::kAssert:
        facts_.scopes[scope].flags |= kFlagValidation;
        break;
      case EventType::kSyntaxError:
        on_syntax_error(e.node);
        break;
    }
  }
}

void Extractor::on_def(PendingDef& def, uint32_t parent) {
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
    s.is_static =
        std::find(s.decorators.begin(), s.decorators.end(), "staticmethod") != s.decorators.end();
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

void Extractor::on_decorated(TSNode node) {
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

void Extractor::read_parameters(TSNode params, ScopeFacts& s) {
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

bool Extractor::is_positional(TSNode p) {
  const char* type = ts_node_type(p);
  if (!std::strcmp(type, "typed_parameter")) {
    TSNode inner = ts_node_named_child(p, 0);
    return !ts_node_is_null(inner) && !std::strcmp(ts_node_type(inner), "identifier");
  }
  return !std::strcmp(type, "identifier") || !std::strcmp(type, "default_parameter") ||
         !std::strcmp(type, "typed_default_parameter");
}

// The bound name of one entry of a parameter list ("" for `*` and `/` markers).
std::string Extractor::parameter_name(TSNode p) const {
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

void Extractor::read_bases(TSNode class_node, ScopeFacts& s) {
  TSNode args = ts_node_child_by_field_id(class_node, fields().superclasses);
  if (ts_node_is_null(args)) return;
  uint32_t n = ts_node_named_child_count(args);
  for (uint32_t i = 0; i < n; ++i) {
    CallFact rep;
    if (decode_callee(ts_node_named_child(args, i), rep) && rep.kind == CalleeKind::kDotted)
      s.bases.push_back(std::move(rep.parts));
  }
}

void Extractor::set_docstring(ScopeFacts& s, TSNode body) {
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
bool Extractor::append_plain_string(TSNode str, std::string& out) const {
  std::string_view literal = text(str);
  for (char c : literal) {
    if (c == '\'' || c == '"') break;
    if (c == 'f' || c == 'F' || c == 'b' || c == 'B') return false;
  }
  out += python_string_value(literal);
  return true;
}

void Extractor::on_syntax_error(TSNode node) {
  facts_.syntax_errors++;
  error_nodes_.push_back(node);
}

// An ERROR node can span most of a file (tree-sitter wraps what it could not fit); the
// useful locations are the innermost ones, which contain no other ERROR node.
void Extractor::locate_errors() {
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
void Extractor::count_missing(TSNode node) {
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

void Extractor::finish_scopes() {
  for (const CallFact& c : facts_.calls) facts_.scopes[c.scope].flags |= call_flags(c.parts);
  for (ScopeFacts& s : facts_.scopes) {
    std::sort(s.locals.begin(), s.locals.end());
    s.locals.erase(std::unique(s.locals.begin(), s.locals.end()), s.locals.end());
    if (s.kind == ScopeKind::kFunction)
      s.flags |= name_flags(s.name, s.params);
    else
      s.flags = 0, s.complexity = 1;  // metrics describe functions only
  }
}

namespace {

// Python refuses brackets nested over 200 deep; libtree-sitter 0.20.7 crashes (a double
// free) on some 66,000. Sources past this limit are reported, not parsed.
constexpr uint32_t kMaxBracketDepth = 1000;

// Byte offset where bracket nesting first exceeds the limit, skipping strings and
// comments; npos when it never does.
size_t excessive_nesting_at(std::string_view s) {
  uint32_t depth = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '#') {
      i = s.find('\n', i);
      if (i == s.npos) break;
    } else if (c == '\'' || c == '"') {
      bool triple = i + 2 < s.size() && s[i + 1] == c && s[i + 2] == c;
      size_t j = i + (triple ? 3 : 1);
      for (; j < s.size(); ++j) {
        if (s[j] == '\\') {
          ++j;
          continue;
        }
        if (s[j] == c && (!triple || (j + 2 < s.size() && s[j + 1] == c && s[j + 2] == c))) break;
        if (!triple && s[j] == '\n') break;
      }
      i = triple ? j + 2 : j;
    } else if (c == '(' || c == '[' || c == '{') {
      if (++depth > kMaxBracketDepth) return i;
    } else if ((c == ')' || c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return std::string_view::npos;
}

FileFacts too_deep(std::string_view source, size_t offset, const ModuleName& module,
                   bool is_test_file) {
  FileFacts f;
  f.module_qname = module.qname;
  f.is_package = module.is_package;
  f.is_test_file = is_test_file;
  f.n_lines = count_lines(source);
  f.syntax_errors = 1;
  std::string_view before = source.substr(0, offset);
  auto line = static_cast<uint32_t>(std::count(before.begin(), before.end(), '\n') + 1);
  size_t nl = before.rfind('\n');
  auto col = static_cast<uint32_t>(nl == before.npos ? offset + 1 : offset - nl);
  f.first_errors.push_back({line, col,
                            "brackets nested over " + std::to_string(kMaxBracketDepth) +
                                " deep (Python allows 200); the file was not parsed"});
  ScopeFacts m;
  m.name = last_part(module.qname);
  m.end_line = f.n_lines;
  f.scopes.push_back(std::move(m));
  return f;
}

}  // namespace

FileFacts extract_facts(std::string_view source, const ModuleName& module, bool is_test_file) {
  if (size_t at = excessive_nesting_at(source); at != source.npos)
    return too_deep(source, at, module, is_test_file);
  python_query();  // compiled outside the arena: it outlives the file
  thread_local ParseArena arena;
  ArenaScope scope(arena);
  // Parser and cursor are made per file in the arena (cheap there), and the tree is never
  // deleted: the scope drops all three at once (see parse_arena.h).
  TSParser* parser = ts_parser_new();
  ts_parser_set_language(parser, tree_sitter_python());
  TSQueryCursor* cursor = ts_query_cursor_new();
  TSTree* tree =
      ts_parser_parse_string(parser, nullptr, source.data(), static_cast<uint32_t>(source.size()));
  FileFacts facts = Extractor(source, module, is_test_file).run(tree, cursor);
  ts_query_cursor_delete(cursor);
  ts_parser_delete(parser);  // runs the grammar scanner's destructor: its state is libc's
  return facts;
}

}  // namespace yantra::graph
