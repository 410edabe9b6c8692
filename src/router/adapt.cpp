// adapt_code: validated library code renamed to a new request's function and parameters.
//
// queries/rename.scm finds every identifier and what binds names. Each candidate
// occurrence is resolved to the scope that binds it, as Python resolves names: a def or
// lambda whose parameter list holds the name (for its body and its parameter names, not
// its defaults, annotations or decorators, which Python evaluates outside), a class body
// that binds it (for code directly in that body, not in its methods), else the module.
// The function's name is renamed where the module binds it, a parameter where the
// function binds it; shadowing definitions keep their names, since their parameter
// names are part of their own interface (callers may pass them by keyword).
#include <tree_sitter/api.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "router/router.h"

extern "C" const TSLanguage* tree_sitter_python();

namespace yantra::router {
namespace {

constexpr std::string_view kPath = "code";  // how errors name the text being adapted

// Python's hard keywords; soft ones (match, case, type, _) are valid names.
constexpr std::string_view kKeywords[] = {
    "False", "None",     "True",  "and",    "as",   "assert", "async",  "await",    "break",
    "class", "continue", "def",   "del",    "elif", "else",   "except", "finally",  "for",
    "from",  "global",   "if",    "import", "in",   "is",     "lambda", "nonlocal", "not",
    "or",    "pass",     "raise", "return", "try",  "while",  "with",   "yield"};

// What a capture of queries/rename.scm means.
enum class Cap : uint8_t {
  kName,
  kField,
  kKeyword,
  kImport,
  kCallFunction,
  kCallKeyword,
  kParam,
  kParamScope,
  kClassBinds,
  kClass,
  kTopName,
  kTop,
  kUnknown,
};

constexpr std::pair<std::string_view, Cap> kCaptureNames[] = {
    {"name", Cap::kName},
    {"field", Cap::kField},
    {"keyword", Cap::kKeyword},
    {"import", Cap::kImport},
    {"call.function", Cap::kCallFunction},
    {"call.keyword", Cap::kCallKeyword},
    {"param", Cap::kParam},
    {"param.scope", Cap::kParamScope},
    {"class.binds", Cap::kClassBinds},
    {"class", Cap::kClass},
    {"top.name", Cap::kTopName},
    {"top", Cap::kTop},
};

struct ParserDeleter {
  void operator()(TSParser* p) const { ts_parser_delete(p); }
};
struct TreeDeleter {
  void operator()(TSTree* t) const { ts_tree_delete(t); }
};
struct CursorDeleter {
  void operator()(TSQueryCursor* c) const { ts_query_cursor_delete(c); }
};
using ParserPtr = std::unique_ptr<TSParser, ParserDeleter>;
using TreePtr = std::unique_ptr<TSTree, TreeDeleter>;
using CursorPtr = std::unique_ptr<TSQueryCursor, CursorDeleter>;

// ---- the query ------------------------------------------------------------------------

struct RenameQuery {
  TSQuery* query = nullptr;  // compiled once, kept for the life of the program
  std::vector<Cap> kinds;    // by capture id
};

std::string_view query_error_name(TSQueryError e) {
  switch (e) {
    case TSQueryErrorSyntax:
      return "syntax error";
    case TSQueryErrorNodeType:
      return "unknown node type";
    case TSQueryErrorField:
      return "unknown field";
    case TSQueryErrorCapture:
      return "unknown capture";
    case TSQueryErrorStructure:
      return "impossible pattern";
    case TSQueryErrorLanguage:
      return "language mismatch";
    case TSQueryErrorNone:
      break;
  }
  return "error";
}

Cap capture_kind(std::string_view name) {
  for (const auto& [cap_name, cap] : kCaptureNames)
    if (cap_name == name) return cap;
  return Cap::kUnknown;
}

Result<RenameQuery> compile_query() {
  std::string_view text = embedded_file("rename.scm");
  if (text.empty()) return Error::in("rename.scm", "not embedded in this binary");
  uint32_t offset = 0;
  TSQueryError type = TSQueryErrorNone;
  TSQuery* query = ts_query_new(tree_sitter_python(), text.data(),
                                static_cast<uint32_t>(text.size()), &offset, &type);
  if (!query)
    return Error{"rename.scm:" + std::to_string(offset) + ": " +
                 std::string(query_error_name(type))};
  RenameQuery q;
  q.query = query;
  uint32_t n = ts_query_capture_count(query);
  for (uint32_t i = 0; i < n; ++i) {
    uint32_t len = 0;
    const char* name = ts_query_capture_name_for_id(query, i, &len);
    q.kinds.push_back(capture_kind(std::string_view(name, len)));
  }
  return q;
}

const Result<RenameQuery>& rename_query() {
  static const Result<RenameQuery> query = compile_query();
  return query;
}

// ---- what the query found ---------------------------------------------------------------

using NodeId = const void*;

// The parameters one def or lambda binds.
struct Params {
  std::vector<TSNode> nodes;            // the parameter names, in source order
  std::vector<std::string_view> names;  // their text, parallel to nodes
};

struct Module {
  std::string_view src;
  std::vector<TSNode> names;                             // every identifier, by position
  std::unordered_set<uint32_t> not_variables;            // start bytes: fields, keyword names
  std::vector<std::pair<uint32_t, uint32_t>> imports;    // byte ranges of import statements
  std::vector<std::pair<TSNode, TSNode>> call_keywords;  // (callee, keyword name)
  std::unordered_map<NodeId, Params> params;             // by def or lambda
  std::unordered_map<NodeId, std::vector<std::string_view>> class_binds;  // by class
  std::vector<std::pair<TSNode, TSNode>> top;  // (def, its name) of top-level functions

  std::string_view text(TSNode n) const {
    return src.substr(ts_node_start_byte(n), ts_node_end_byte(n) - ts_node_start_byte(n));
  }
  bool in_import(uint32_t pos) const {
    return std::any_of(imports.begin(), imports.end(),
                       [pos](const auto& r) { return r.first <= pos && pos < r.second; });
  }
  // A name that may stand for a variable: not x.field, not a keyword name, not in an import.
  bool is_renamable(TSNode n) const {
    uint32_t pos = ts_node_start_byte(n);
    return !not_variables.contains(pos) && !in_import(pos);
  }
};

// The captures of one match, by meaning (a null node where the match has none).
struct MatchNodes {
  TSNode of[static_cast<size_t>(Cap::kUnknown) + 1] = {};
  TSNode operator[](Cap c) const { return of[static_cast<size_t>(c)]; }
  bool has(Cap c) const { return !ts_node_is_null((*this)[c]); }
};

void add_match(const RenameQuery& q, const TSQueryMatch& match, Module& m) {
  MatchNodes n;
  for (uint16_t i = 0; i < match.capture_count; ++i)
    n.of[static_cast<size_t>(q.kinds[match.captures[i].index])] = match.captures[i].node;
  if (n.has(Cap::kName)) m.names.push_back(n[Cap::kName]);
  if (n.has(Cap::kField)) m.not_variables.insert(ts_node_start_byte(n[Cap::kField]));
  if (n.has(Cap::kKeyword)) m.not_variables.insert(ts_node_start_byte(n[Cap::kKeyword]));
  if (n.has(Cap::kImport))
    m.imports.emplace_back(ts_node_start_byte(n[Cap::kImport]), ts_node_end_byte(n[Cap::kImport]));
  if (n.has(Cap::kCallFunction) && n.has(Cap::kCallKeyword))
    m.call_keywords.emplace_back(n[Cap::kCallFunction], n[Cap::kCallKeyword]);
  if (n.has(Cap::kParam) && n.has(Cap::kParamScope))
    m.params[n[Cap::kParamScope].id].nodes.push_back(n[Cap::kParam]);
  if (n.has(Cap::kClassBinds) && n.has(Cap::kClass))
    m.class_binds[n[Cap::kClass].id].push_back(m.text(n[Cap::kClassBinds]));
  if (n.has(Cap::kTop) && n.has(Cap::kTopName)) m.top.emplace_back(n[Cap::kTop], n[Cap::kTopName]);
}

bool before(TSNode a, TSNode b) {
  return ts_node_start_byte(a) < ts_node_start_byte(b);
}

Result<Module> collect(const RenameQuery& q, TSNode root, std::string_view src) {
  Module m;
  m.src = src;
  CursorPtr cursor(ts_query_cursor_new());
  ts_query_cursor_exec(cursor.get(), q.query, root);
  TSQueryMatch match;
  while (ts_query_cursor_next_match(cursor.get(), &match)) add_match(q, match, m);
  if (ts_query_cursor_did_exceed_match_limit(cursor.get()))
    return Error::in(kPath, "too complex for rename.scm (query match limit exceeded)");
  std::sort(m.names.begin(), m.names.end(), before);
  std::sort(m.top.begin(), m.top.end(),
            [](const auto& a, const auto& b) { return before(a.first, b.first); });
  for (auto& [scope, p] : m.params) {  // in source order: the order of the parameter list
    std::sort(p.nodes.begin(), p.nodes.end(), before);
    for (TSNode node : p.nodes) p.names.push_back(m.text(node));
  }
  return m;
}

// ---- scopes -----------------------------------------------------------------------------

TSFieldId body_field() {
  static const TSFieldId id = ts_language_field_id_for_name(tree_sitter_python(), "body", 4);
  return id;
}

bool is_body_of(TSNode parent, TSNode child) {
  return ts_node_eq(ts_node_child_by_field_id(parent, body_field()), child);
}

bool contains(const std::vector<std::string_view>& names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

bool is_param_node(const Params* p, TSNode n) {
  return p &&
         std::any_of(p->nodes.begin(), p->nodes.end(), [n](TSNode x) { return ts_node_eq(x, n); });
}

// The def, lambda or class that binds `name` where `occ` uses it; nullptr for the module.
NodeId binding_scope(const Module& m, TSNode occ, std::string_view name) {
  bool in_function = false;  // class bodies are invisible from functions nested in them
  TSNode child = occ;
  for (TSNode a = ts_node_parent(occ); !ts_node_is_null(a); child = a, a = ts_node_parent(a)) {
    std::string_view type = ts_node_type(a);
    if (type == "function_definition" || type == "lambda") {
      auto found = m.params.find(a.id);
      const Params* p = found == m.params.end() ? nullptr : &found->second;
      // Defaults, annotations and the def's own name belong to the enclosing scope.
      if (!is_body_of(a, child) && !is_param_node(p, occ)) continue;
      if (p && contains(p->names, name)) return a.id;
      in_function = true;
    } else if (type == "class_definition" && !in_function && is_body_of(a, child)) {
      auto found = m.class_binds.find(a.id);
      if (found != m.class_binds.end() && contains(found->second, name)) return a.id;
    }
  }
  return nullptr;
}

// ---- checks -----------------------------------------------------------------------------

Error error_at(TSNode n, std::string_view what) {
  TSPoint p = ts_node_start_point(n);
  return Error::at(kPath, p.row + 1, p.column + 1, what);
}

std::string quoted(std::string_view s) {
  return std::string("'").append(s).append("'");  // not "'" + ...: GCC 12's false -Wrestrict
}

// The first innermost ERROR node or MISSING token, in source order.
std::optional<TSNode> first_syntax_error(TSNode n) {
  if (!ts_node_has_error(n)) return std::nullopt;
  if (ts_node_is_missing(n)) return n;
  uint32_t count = ts_node_child_count(n);
  for (uint32_t i = 0; i < count; ++i)
    if (auto e = first_syntax_error(ts_node_child(n, i))) return e;
  if (std::strcmp(ts_node_type(n), "ERROR") == 0) return n;
  return std::nullopt;
}

Result<void> check_syntax(TSNode root) {
  auto bad = first_syntax_error(root);
  if (!bad) return {};
  if (ts_node_is_missing(*bad))
    return error_at(*bad, "syntax error: missing " + quoted(ts_node_type(*bad)));
  return error_at(*bad, "syntax error");
}

// Spelled out rather than std::isalnum, whose answer depends on the locale.
bool is_ascii_digit(unsigned char c) {
  return c >= '0' && c <= '9';
}

bool is_ascii_name_char(unsigned char c) {
  return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_ascii_digit(c);
}

// Non-ASCII names (PEP 3131) are left to the grammar, which knows XID_Start/XID_Continue.
bool grammar_reads_one_identifier(TSParser* parser, std::string_view name) {
  TreePtr tree(
      ts_parser_parse_string(parser, nullptr, name.data(), static_cast<uint32_t>(name.size())));
  if (!tree) return false;
  TSNode root = ts_tree_root_node(tree.get());
  if (ts_node_has_error(root) || ts_node_named_child_count(root) != 1) return false;
  TSNode statement = ts_node_named_child(root, 0);
  if (ts_node_named_child_count(statement) != 1) return false;
  TSNode id = ts_node_named_child(statement, 0);
  return std::strcmp(ts_node_type(id), "identifier") == 0 && ts_node_start_byte(id) == 0 &&
         ts_node_end_byte(id) == name.size();
}

bool is_identifier(TSParser* parser, std::string_view name) {
  if (name.empty() || is_ascii_digit(static_cast<unsigned char>(name[0]))) return false;
  if (std::find(std::begin(kKeywords), std::end(kKeywords), name) != std::end(kKeywords))
    return false;
  bool ascii = true;
  for (unsigned char c : name) {
    if (c >= 0x80)
      ascii = false;
    else if (!is_ascii_name_char(c))
      return false;
  }
  return ascii || grammar_reads_one_identifier(parser, name);
}

struct ParamRename {
  std::string_view from, to;
};

// The pairs that change something, after checking the request itself.
Result<std::vector<ParamRename>> param_renames(const Rename& r, TSParser* parser) {
  if (r.from_params.size() != r.to_params.size())
    return Error{"cannot adapt " + quoted(r.from_name) + ": parameter counts differ (" +
                 std::to_string(r.from_params.size()) + " to rename from, " +
                 std::to_string(r.to_params.size()) + " to rename to)"};
  if (!is_identifier(parser, r.to_name))
    return Error{"cannot rename " + quoted(r.from_name) + " to " + quoted(r.to_name) +
                 ": not a valid Python identifier"};
  std::vector<ParamRename> out;
  for (size_t i = 0; i < r.from_params.size(); ++i) {
    const std::string& from = r.from_params[i];
    const std::string& to = r.to_params[i];
    if (!is_identifier(parser, to))
      return Error{"cannot rename parameter " + quoted(from) + " to " + quoted(to) +
                   ": not a valid Python identifier"};
    if (from == to) continue;
    for (const ParamRename& earlier : out)
      if (earlier.from == from)
        return Error{"parameter " + quoted(from) + " is renamed twice (to " + quoted(earlier.to) +
                     " and " + quoted(to) + ")"};
    out.push_back({from, to});
  }
  return out;
}

std::optional<std::string_view> renamed_to(const std::vector<ParamRename>& renames,
                                           std::string_view name) {
  for (const ParamRename& p : renames)
    if (p.from == name) return p.to;
  return std::nullopt;
}

struct Target {
  TSNode def, name;
  const Params* params = nullptr;  // null for a def without parameters
};

// The last top-level def of that name: the one Python keeps.
Result<Target> find_function(const Module& m, std::string_view name) {
  std::vector<std::string> defined;
  std::optional<Target> found;
  for (const auto& [def, def_name] : m.top) {
    defined.emplace_back(m.text(def_name));
    if (m.text(def_name) == name) found = Target{def, def_name, nullptr};
  }
  if (!found) {
    std::string what = "no top-level function " + quoted(name);
    if (auto close = closest_match(name, defined)) what += "; did you mean " + quoted(*close) + "?";
    return Error::in(kPath, what);
  }
  auto p = m.params.find(found->def.id);
  if (p != m.params.end()) found->params = &p->second;
  return *found;
}

// Every renamed parameter exists, and no two parameters (nor a parameter and the function)
// end up with one name.
Result<void> check_parameters(const Module& m, const Target& f, const Rename& r,
                              const std::vector<ParamRename>& renames) {
  std::vector<std::string_view> old_names =
      f.params ? f.params->names : std::vector<std::string_view>{};
  for (const ParamRename& p : renames)
    if (!contains(old_names, p.from))
      return error_at(f.name, quoted(m.text(f.name)) + " has no parameter " + quoted(p.from));
  std::vector<std::string_view> final_names;
  for (size_t i = 0; i < old_names.size(); ++i) {
    std::string_view name = renamed_to(renames, old_names[i]).value_or(old_names[i]);
    TSNode node = f.params->nodes[i];
    if (contains(final_names, name))
      return error_at(
          node, "two parameters of " + quoted(r.from_name) + " would be named " + quoted(name));
    if (name == r.to_name)
      return error_at(node, "parameter " + quoted(old_names[i]) + " would be named " +
                                quoted(name) + ", the function's new name");
    final_names.push_back(name);
  }
  return {};
}

// ---- edits ------------------------------------------------------------------------------

struct Edit {
  uint32_t start, end;
  std::string_view text;
};

struct Plan {
  std::unordered_map<uint32_t, Edit> function_edits;  // by start byte
  std::unordered_map<uint32_t, Edit> param_edits;     // names in the function
  std::vector<Edit> keyword_edits;                    // keyword names in its calls
  std::unordered_set<uint32_t> function_refs;         // names that stand for the function
};

Edit edit_of(TSNode n, std::string_view text) {
  return {ts_node_start_byte(n), ts_node_end_byte(n), text};
}

Plan plan_edits(const Module& m, const Target& f, const Rename& r,
                const std::vector<ParamRename>& renames) {
  Plan plan;
  for (TSNode n : m.names) {
    if (!m.is_renamable(n)) continue;
    std::string_view name = m.text(n);
    auto param_to = renamed_to(renames, name);
    if (name != r.from_name && !param_to) continue;
    NodeId scope = binding_scope(m, n, name);
    if (scope == nullptr && name == r.from_name) {
      plan.function_refs.insert(ts_node_start_byte(n));
      if (r.from_name != r.to_name)
        plan.function_edits.emplace(ts_node_start_byte(n), edit_of(n, r.to_name));
    } else if (scope == f.def.id && param_to) {
      plan.param_edits.emplace(ts_node_start_byte(n), edit_of(n, *param_to));
    }
  }
  for (const auto& [callee, keyword] : m.call_keywords) {
    if (!plan.function_refs.contains(ts_node_start_byte(callee))) continue;
    if (auto to = renamed_to(renames, m.text(keyword)))
      plan.keyword_edits.push_back(edit_of(keyword, *to));
  }
  return plan;
}

std::string_view final_text(const Module& m, const Plan& plan, TSNode n) {
  uint32_t pos = ts_node_start_byte(n);
  if (auto e = plan.function_edits.find(pos); e != plan.function_edits.end()) return e->second.text;
  if (auto e = plan.param_edits.find(pos); e != plan.param_edits.end()) return e->second.text;
  return m.text(n);
}

// A new name must not meet a name that already means something else where it lands: the
// function's new name anywhere in the module, a parameter's anywhere in the function.
Result<void> check_collisions(const Module& m, const Target& f, const Rename& r,
                              const std::vector<ParamRename>& renames, const Plan& plan) {
  uint32_t f_start = ts_node_start_byte(f.def), f_end = ts_node_end_byte(f.def);
  for (TSNode n : m.names) {
    uint32_t pos = ts_node_start_byte(n);
    if (m.not_variables.contains(pos)) continue;
    std::string_view name = final_text(m, plan, n);
    if (r.from_name != r.to_name && name == r.to_name && !plan.function_edits.contains(pos))
      return error_at(n, "cannot rename " + quoted(r.from_name) + " to " + quoted(r.to_name) +
                             ": " + quoted(r.to_name) + " is already used here");
    if (pos < f_start || pos >= f_end || plan.param_edits.contains(pos)) continue;
    for (const ParamRename& p : renames)
      if (name == p.to)
        return error_at(n, "cannot rename parameter " + quoted(p.from) + " of " +
                               quoted(r.from_name) + " to " + quoted(p.to) + ": " + quoted(p.to) +
                               " is already used here");
  }
  return {};
}

// Edits never overlap (each is one identifier); applied from the end, earlier byte
// offsets stay valid.
std::string apply_edits(std::string_view code, const Plan& plan) {
  std::vector<Edit> edits = plan.keyword_edits;
  for (const auto& [pos, e] : plan.function_edits) edits.push_back(e);
  for (const auto& [pos, e] : plan.param_edits) edits.push_back(e);
  std::sort(edits.begin(), edits.end(),
            [](const Edit& a, const Edit& b) { return a.start > b.start; });
  std::string out(code);
  for (const Edit& e : edits) out.replace(e.start, e.end - e.start, e.text);
  return out;
}

}  // namespace

Result<std::string> adapt_code(std::string_view code, const Rename& rename) {
  ParserPtr parser(ts_parser_new());
  ts_parser_set_language(parser.get(), tree_sitter_python());
  auto renames = param_renames(rename, parser.get());
  if (!renames) return renames.error();
  const Result<RenameQuery>& query = rename_query();
  if (!query) return query.error();
  if (code.size() > UINT32_MAX) return Error::in(kPath, "too large to parse");
  TreePtr tree(ts_parser_parse_string(parser.get(), nullptr, code.data(),
                                      static_cast<uint32_t>(code.size())));
  if (!tree) return Error::in(kPath, "tree-sitter could not parse it");
  TSNode root = ts_tree_root_node(tree.get());
  if (auto ok = check_syntax(root); !ok) return ok.error();
  auto module = collect(*query, root, code);
  if (!module) return module.error();
  auto target = find_function(*module, rename.from_name);
  if (!target) return target.error();
  if (auto ok = check_parameters(*module, *target, rename, *renames); !ok) return ok.error();
  Plan plan = plan_edits(*module, *target, rename, *renames);
  if (auto ok = check_collisions(*module, *target, rename, *renames, plan); !ok) return ok.error();
  return apply_edits(code, plan);
}

}  // namespace yantra::router
