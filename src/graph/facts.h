// Internal to the graph part: what one Python file says on its own, before any
// cross-file resolution. Extraction (extract.cpp) produces FileFacts from source text;
// they are stored per file (facts_codec.cpp) so an incremental index re-parses only changed
// files and re-resolves the whole graph from stored facts (resolve.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace yantra::graph {

enum class ScopeKind : uint8_t { kModule = 0, kClass = 1, kFunction = 2 };

// Pattern flags of a function (bit set), see pattern_flags() in extract.cpp.
enum PatternFlag : uint32_t {
  kFlagRaises = 1u << 0,
  kFlagValidation = 1u << 1,
  kFlagDb = 1u << 2,
  kFlagHttp = 1u << 3,
  kFlagIo = 1u << 4,
  kFlagAuth = 1u << 5,
};
std::string pattern_flags_text(uint32_t flags);  // "raises,validation"

// How a call names its callee.
enum class CalleeKind : uint8_t {
  kDotted = 0,  // f(), a.b.c(): parts = {"a","b","c"}
  kSuper = 1,   // super().m(): parts = {"m"}
  kOther = 2,   // expr.m() on an unnamed receiver: parts = {"m"}
};

struct CallFact {
  uint32_t scope = 0;  // index into FileFacts::scopes
  uint32_t line = 0;   // 1-based line of the call expression
  CalleeKind kind = CalleeKind::kDotted;
  std::vector<std::string> parts;
};

// One name binding in a scope, in source order (the order matters for aliases).
struct BindingFact {
  enum class Kind : uint8_t {
    kDef = 0,       // name -> scopes[def_scope] (a def or class statement)
    kImport = 1,    // name -> target (absolute dotted name)
    kAlias = 2,     // name -> whatever `target` (another name) is bound to at that point
    kValue = 3,     // name -> the dotted expression `target`, resolved when looked up
    kInstance = 4,  // name -> an instance of the class that dotted `target` names
  };
  Kind kind = Kind::kDef;
  std::string name;
  std::string target;
  uint32_t def_scope = 0;
};

// `import a.b` (is_from=false, module="a.b") or `from a.b import c` (module="a.b",
// full="a.b.c"); relative imports are already made absolute.
struct ImportFact {
  uint32_t scope = 0;
  bool is_from = false;
  std::string module;
  std::string full;
};

struct ScopeFacts {
  ScopeKind kind = ScopeKind::kModule;
  int32_t parent = -1;  // enclosing scope; -1 for the module
  std::string name;
  uint32_t line = 1, end_line = 1, col = 1;
  // functions
  bool is_async = false;
  bool is_static = false;               // decorated with @staticmethod
  std::vector<std::string> params;      // every declared name, self and *args included
  std::string self_param;               // first positional parameter: `self`/`cls` candidate
  std::string signature;                // parameter list as written, whitespace folded
  std::vector<std::string> decorators;  // as written, without '@'
  uint32_t complexity = 1;
  uint32_t flags = 0;
  // classes: base class expressions that are dotted names (evaluated in `parent`)
  std::vector<std::vector<std::string>> bases;
  std::string docstring;  // cleaned (inspect.cleandoc); empty when there is none
  bool has_docstring = false;
  // names
  std::vector<BindingFact> bindings;
  std::vector<std::string> locals;   // other bound names: params, targets, loop vars
  std::vector<std::string> globals;  // `global` / `nonlocal` declarations
  std::vector<std::string> stars;    // `from X import *` (module scope only)
};

struct SyntaxIssue {
  uint32_t line = 0, col = 0;
  std::string what;
};

struct FileFacts {
  std::string module_qname;
  bool is_package = false;  // an __init__.py
  bool is_test_file = false;
  uint32_t n_lines = 0;
  uint32_t syntax_errors = 0;             // ERROR and MISSING nodes
  std::vector<SyntaxIssue> first_errors;  // a few, for messages
  std::vector<ScopeFacts> scopes;         // scopes[0] is the module; pre-order (source order)
  std::vector<CallFact> calls;
  uint32_t unnamed_calls = 0;  // f()(), x[0]()
  std::vector<ImportFact> imports;
};

// Where a file sits in the Python namespace.
struct ModuleName {
  std::string qname;
  bool is_package = false;
};
// "pkg/sub/mod.py" -> "pkg.sub.mod"; "pkg/__init__.py" -> "pkg"; `prefix` (the root's own
// package name when the root holds an __init__.py) is prepended.
ModuleName module_name_for(std::string_view rel_path, std::string_view prefix);
// pytest/unittest conventions: a "test"/"tests" directory, test_*.py, *_test.py, tests.py,
// conftest.py.
bool is_test_path(std::string_view rel_path);

// Extracts the facts of one file. `source` must be UTF-8 (see decode_source()).
FileFacts extract_facts(std::string_view source, const ModuleName& module, bool is_test_file);

// Source bytes as UTF-8, honouring a PEP 263 coding cookie; an error names the first bad
// byte and what to do. Binary files (a NUL byte) are refused.
struct DecodedSource {
  std::string text;
  std::string error;  // empty on success; "line:col: message" otherwise
};
DecodedSource decode_source(std::string bytes);

std::string encode_facts(const FileFacts& facts);
// False if the blob is damaged or from another format version.
bool decode_facts(std::string_view blob, FileFacts& out);

// String-literal helpers (extract_strings.cpp).
std::string python_string_value(std::string_view literal);  // 'a\tb' -> a<TAB>b
std::string clean_docstring(std::string_view text);         // inspect.cleandoc
std::string fold_whitespace(std::string_view text);

}  // namespace yantra::graph
