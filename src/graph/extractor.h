// Internal to the graph part: the extractor of one file's facts (extract.cpp: scopes,
// definitions, metrics, damage; extract_bindings.cpp: imports, assignments, calls).
#pragma once

#include <tree_sitter/api.h>

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "graph/extract_internal.h"
#include "graph/facts.h"

extern "C" const TSLanguage* tree_sitter_python();

namespace yantra::graph {

// What a capture of queries/python.scm means (PythonQuery::capture_kind holds these).
enum class Cap : uint8_t {
  kFunction,
  kFunctionName,
  kFunctionParameters,
  kFunctionBody,
  kClass,
  kClassName,
  kClassBody,
  kDecorated,
  kImport,
  kImportFrom,
  kImportFuture,
  kCallFunction,
  kBind,
  kGlobal,
  kAliasTarget,
  kAliasValue,
  kBranch,
  kRaise,
  kAssert,
  kSyntaxError,
  kUnknown,
};

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
const Fields& fields();

enum class EventType : uint8_t {
  kOpenScope,
  kDef,
  kDecorated,
  kImport,
  kImportFrom,
  kImportFuture,
  kCall,
  kBind,
  kGlobal,
  kAlias,
  kBranch,
  kRaise,
  kAssert,
  kSyntaxError,
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
  Extractor(std::string_view src, const ModuleName& module, bool is_test_file);
  FileFacts run(TSTree* tree, TSQueryCursor* cursor);

 private:
  std::string_view text(TSNode n) const;
  static uint32_t line_of(TSNode n) { return ts_node_start_point(n).row + 1; }
  void collect_events(TSNode root, TSQueryCursor* cursor);
  void add_match(const PythonQuery& q, const TSQueryMatch& match);
  void push(EventType type, TSNode node);

  // Walks the sorted events, keeping the stack of scopes whose bodies are open.
  void sweep();
  void on_def(PendingDef& def, uint32_t parent);
  void on_decorated(TSNode node);
  void read_parameters(TSNode params, ScopeFacts& s);
  static bool is_positional(TSNode p);

  // The bound name of one entry of a parameter list ("" for `*` and `/` markers).
  std::string parameter_name(TSNode p) const;
  void read_bases(TSNode class_node, ScopeFacts& s);
  void set_docstring(ScopeFacts& s, TSNode body);

  // Appends a string literal's value; false for f-strings and bytes (never docstrings).
  bool append_plain_string(TSNode str, std::string& out) const;
  void on_import(TSNode node, uint32_t scope);
  void on_import_from(TSNode node, uint32_t scope, bool future);

  // `a.b` or a relative `..a.b`, made absolute against this module's package.
  std::string module_base(TSNode module_node) const;
  std::string dotted_text(TSNode dotted) const;
  void add_import(uint32_t scope, bool is_from, std::string module, std::string full);
  void bind_import(uint32_t scope, std::string name, std::string target);

  // `name = value`: see queries/python.scm for the forms that bind something resolvable.
  void on_alias(TSNode target, TSNode value, uint32_t scope);
  void add_binding(uint32_t scope, BindingFact::Kind kind, std::string name, std::string target);
  static std::string join(const std::vector<std::string>& parts);
  void on_call(TSNode function, uint32_t scope);

  // f / a.b.c / super().m / expr.m; false for callees with no name (f()(), x[0]()).
  bool decode_callee(TSNode fn, CallFact& out) const;
  bool is_super_call(TSNode n) const;
  static TSNode unwrap_parens(TSNode n);
  void on_raise(TSNode node, uint32_t scope);
  void on_syntax_error(TSNode node);

  // An ERROR node can span most of a file (tree-sitter wraps what it could not fit); the
  // useful locations are the innermost ones, which contain no other ERROR node.
  void locate_errors();

  // MISSING nodes (an absent ')' or ':') are not ERROR nodes: descend where errors are.
  void count_missing(TSNode node);
  void finish_scopes();

  std::string_view src_;
  const ModuleName& module_;
  std::string package_;
  FileFacts facts_;
  std::vector<Event> events_;
  std::vector<PendingDef> defs_;
  std::vector<TSNode> error_nodes_;  // in source order (events are sorted)
  std::unordered_map<uint32_t, std::vector<std::string>> decorators_;
};

}  // namespace yantra::graph
