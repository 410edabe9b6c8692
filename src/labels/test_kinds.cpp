// Test kinds from a test's source: queries/test_kinds.scm over the test function (its
// decorators included) and over its class's decorators, plus the fixtures its parameter
// list asks for.
//
// The whole file is parsed once, not the test's lines alone: a method's lines do not
// parse by themselves (indented), and the class around it is needed for its decorators.
// Tree-sitter 0.20's C API returns matches without checking predicates; they are
// evaluated here (#eq?, #not-eq?, #match?, #not-match?, #any-of?).
#include <tree_sitter/api.h>

#include <algorithm>
#include <memory>
#include <regex>
#include <unordered_set>

#include "labels/internal.h"

extern "C" const TSLanguage* tree_sitter_python();

namespace yantra::labels {
namespace {

// Bump when the C++ rules below change: cached test kinds are recomputed.
constexpr std::string_view kRulesVersion = "test-kinds-rules-2";

// Parameters that are pytest fixtures of a kind of their own (the query marks that kind
// from the parameter's name): they are not counted as needs_fixture too.
const std::unordered_set<std::string_view> kKindFixtures = {
    "monkeypatch", "mocker", "tmp_path", "tmpdir", "tmp_path_factory", "tmpdir_factory", "recwarn"};

struct Predicate {
  enum Op { kEq, kNotEq, kMatch, kNotMatch, kAnyOf } op = kEq;
  uint32_t capture = 0;
  std::optional<uint32_t> other_capture;  // #eq? @a @b
  std::string value;
  std::optional<std::regex> regex;
  std::unordered_set<std::string> any_of;
};

struct CompiledQuery {
  TSQuery* query = nullptr;
  std::vector<int> capture_kind;   // TestKind per capture id, -1 for helpers (`_name`)
  std::optional<uint32_t> target;  // id of `@_target`: the callee a match's kinds aim at
  std::vector<std::vector<Predicate>> predicates;  // per pattern
};

std::string_view query_string(const TSQuery* q, uint32_t id) {
  uint32_t len = 0;
  const char* s = ts_query_string_value_for_id(q, id, &len);
  return {s, len};  // a separate statement: `len` is set before it is read
}

std::vector<Predicate> compile_predicates(const TSQuery* q, uint32_t pattern) {
  uint32_t count = 0;
  const TSQueryPredicateStep* steps = ts_query_predicates_for_pattern(q, pattern, &count);
  std::vector<Predicate> out;
  for (uint32_t i = 0; i < count;) {
    uint32_t end = i;
    while (end < count && steps[end].type != TSQueryPredicateStepTypeDone) ++end;
    auto fail = [&](std::string_view why) {
      // The query is compiled into the binary: a bad predicate is a build defect.
      throw FatalError(std::string("test_kinds.scm: pattern ")
                           .append(std::to_string(pattern))
                           .append(": ")
                           .append(why));
    };
    if (end - i < 3 || steps[i].type != TSQueryPredicateStepTypeString ||
        steps[i + 1].type != TSQueryPredicateStepTypeCapture)
      fail("a predicate needs a name, a capture and a value");
    std::string_view name = query_string(q, steps[i].value_id);
    Predicate p;
    p.capture = steps[i + 1].value_id;
    if (name == "eq?" || name == "not-eq?") {
      p.op = name == "eq?" ? Predicate::kEq : Predicate::kNotEq;
      if (steps[i + 2].type == TSQueryPredicateStepTypeCapture)
        p.other_capture = steps[i + 2].value_id;
      else
        p.value = query_string(q, steps[i + 2].value_id);
    } else if (name == "match?" || name == "not-match?") {
      p.op = name == "match?" ? Predicate::kMatch : Predicate::kNotMatch;
      p.regex.emplace(std::string(query_string(q, steps[i + 2].value_id)),
                      std::regex::ECMAScript | std::regex::optimize);
    } else if (name == "any-of?") {
      p.op = Predicate::kAnyOf;
      for (uint32_t j = i + 2; j < end; ++j) p.any_of.emplace(query_string(q, steps[j].value_id));
    } else {
      fail(std::string("unknown predicate #").append(name));
    }
    out.push_back(std::move(p));
    i = end + 1;
  }
  return out;
}

const CompiledQuery& test_kinds_query() {
  static const CompiledQuery compiled = [] {
    CompiledQuery c;
    std::string_view text = embedded_file("test_kinds.scm");
    uint32_t offset = 0;
    TSQueryError error = TSQueryErrorNone;
    c.query = ts_query_new(tree_sitter_python(), text.data(), static_cast<uint32_t>(text.size()),
                           &offset, &error);
    if (!c.query)
      throw FatalError("test_kinds.scm: invalid query at offset " + std::to_string(offset));
    for (uint32_t i = 0; i < ts_query_capture_count(c.query); ++i) {
      uint32_t len = 0;
      const char* text = ts_query_capture_name_for_id(c.query, i, &len);  // sets len first
      std::string_view name(text, len);
      int kind = -1;
      for (int k = 0; k < kTestKinds; ++k)
        if (kTestKindNames[k] == name) kind = k;
      if (kind < 0 && !name.starts_with("_"))
        throw FatalError(std::string("test_kinds.scm: capture @")
                             .append(name)
                             .append(" names no test kind (helpers start with `_`)"));
      c.capture_kind.push_back(kind);
      if (name == "_target") c.target = i;
    }
    for (uint32_t p = 0; p < ts_query_pattern_count(c.query); ++p)
      c.predicates.push_back(compile_predicates(c.query, p));
    return c;
  }();
  return compiled;
}

std::string_view node_text(TSNode node, std::string_view source) {
  uint32_t begin = ts_node_start_byte(node), end = ts_node_end_byte(node);
  return source.substr(begin, end - begin);
}

bool holds(const Predicate& p, std::string_view text, const TSQueryMatch& m,
           std::string_view source) {
  switch (p.op) {
    case Predicate::kEq:
    case Predicate::kNotEq: {
      bool equal = text == p.value;
      if (p.other_capture)
        for (uint16_t i = 0; i < m.capture_count; ++i)
          if (m.captures[i].index == *p.other_capture)
            equal = text == node_text(m.captures[i].node, source);
      return equal == (p.op == Predicate::kEq);
    }
    case Predicate::kMatch:
    case Predicate::kNotMatch:
      return std::regex_search(text.begin(), text.end(), *p.regex) == (p.op == Predicate::kMatch);
    case Predicate::kAnyOf:
      return p.any_of.contains(std::string(text));
  }
  return false;
}

// A match counts when every node of every predicate's capture satisfies it.
bool predicates_hold(const CompiledQuery& q, const TSQueryMatch& m, std::string_view source) {
  for (const Predicate& p : q.predicates[m.pattern_index])
    for (uint16_t i = 0; i < m.capture_count; ++i)
      if (m.captures[i].index == p.capture &&
          !holds(p, node_text(m.captures[i].node, source), m, source))
        return false;
  return true;
}

std::string_view type_of(TSNode n) {
  return ts_node_type(n);
}

// The name a call target is known by in the graph: `f` for f, `dumps` for json.dumps.
// Empty for what names no function (a call's result, a subscript).
std::string_view target_name(TSNode target, std::string_view source) {
  if (type_of(target) == "identifier") return node_text(target, source);
  if (type_of(target) == "attribute")
    return node_text(ts_node_child_by_field_name(target, "attribute", 9), source);
  return {};
}

// The bit of the kind called `name`; 0 for a name that is no kind.
uint32_t kind_bit(std::string_view name) {
  for (int k = 0; k < kTestKinds; ++k)
    if (kTestKindNames[k] == name) return 1u << k;
  return 0;
}

void add_aimed(TestKinds& kinds, std::string_view name, uint32_t bits) {
  for (auto& [aimed_name, aimed_bits] : kinds.aimed)
    if (aimed_name == name) {
      aimed_bits |= bits;
      return;
    }
  kinds.aimed.emplace_back(name, bits);
}

void add_kinds(const CompiledQuery& q, const TSQueryMatch& m, std::string_view source,
               TestKinds& kinds) {
  uint32_t bits = 0;
  std::string_view aimed_at;
  bool has_target = false;
  for (uint16_t i = 0; i < m.capture_count; ++i) {
    const TSQueryCapture& c = m.captures[i];
    if (int kind = q.capture_kind[c.index]; kind >= 0) bits |= 1u << kind;
    if (q.target && c.index == *q.target) has_target = true, aimed_at = target_name(c.node, source);
  }
  if (!bits) return;
  if (has_target && !aimed_at.empty())
    add_aimed(kinds, aimed_at, bits);
  else
    kinds.everywhere |= bits;
}

void query_kinds(TSNode node, std::string_view source, TestKinds& kinds) {
  const CompiledQuery& q = test_kinds_query();
  std::unique_ptr<TSQueryCursor, decltype(&ts_query_cursor_delete)> cursor(ts_query_cursor_new(),
                                                                           ts_query_cursor_delete);
  ts_query_cursor_exec(cursor.get(), q.query, node);
  TSQueryMatch m;
  while (ts_query_cursor_next_match(cursor.get(), &m))
    if (predicates_hold(q, m, source)) add_kinds(q, m, source, kinds);
}

// The text inside a string literal's quotes.
std::string string_content(TSNode s, std::string_view source) {
  std::string out;
  for (uint32_t i = 0; i < ts_node_named_child_count(s); ++i)
    if (TSNode c = ts_node_named_child(s, i); type_of(c) == "string_content")
      out.append(node_text(c, source));
  return out;
}

// What decorators tell about parameters: the names @pytest.mark.parametrize binds, and how
// many mocks @mock.patch(...) passes in positionally.
struct DecoratorFacts {
  std::unordered_set<std::string> parametrized;
  size_t patch_mocks = 0;
};

void read_decorator(TSNode decorator, std::string_view source, DecoratorFacts& facts) {
  TSNode call = ts_node_named_child(decorator, 0);
  if (ts_node_is_null(call) || type_of(call) != "call") return;
  std::string_view callee = node_text(ts_node_child_by_field_name(call, "function", 8), source);
  TSNode args = ts_node_child_by_field_name(call, "arguments", 9);
  if (ts_node_is_null(args)) return;
  size_t positional = 0;
  bool has_new = false;
  for (uint32_t i = 0; i < ts_node_named_child_count(args); ++i) {
    TSNode a = ts_node_named_child(args, i);
    if (type_of(a) == "keyword_argument")
      has_new |= node_text(ts_node_child_by_field_name(a, "name", 4), source) == "new";
    else if (type_of(a) != "comment")
      ++positional;
  }
  auto ends_with_word = [&](std::string_view word) {
    return callee == word ||
           (callee.ends_with(word) && callee[callee.size() - word.size() - 1] == '.');
  };
  if (ends_with_word("parametrize") && positional > 0) {
    TSNode names = ts_node_named_child(args, 0);
    auto add = [&](std::string_view text) {
      for (size_t start = 0; start <= text.size();) {
        size_t comma = text.find(',', start);
        if (comma == std::string_view::npos) comma = text.size();
        std::string_view name = text.substr(start, comma - start);
        while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
        while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
        if (!name.empty()) facts.parametrized.emplace(name);
        start = comma + 1;
      }
    };
    if (type_of(names) == "string") add(string_content(names, source));
    if (type_of(names) == "list" || type_of(names) == "tuple")
      for (uint32_t i = 0; i < ts_node_named_child_count(names); ++i)
        if (TSNode s = ts_node_named_child(names, i); type_of(s) == "string")
          add(string_content(s, source));
  }
  // patch(target) and patch.object(target, attribute) pass a mock; given `new`, they do not.
  if (!has_new && ((ends_with_word("patch") && positional == 1) ||
                   (ends_with_word("object") && callee.find("patch") != std::string_view::npos &&
                    positional == 2)))
    ++facts.patch_mocks;
}

// needs_fixture from the parameter list: a pytest fixture is a parameter without a default
// that is not self/cls, not a mock @patch passes in, not a name @parametrize binds, and not
// one of kKindFixtures.
bool asks_for_fixture(TSNode function, std::string_view source, const DecoratorFacts& facts) {
  TSNode params = ts_node_child_by_field_name(function, "parameters", 10);
  if (ts_node_is_null(params)) return false;
  size_t mocks_left = facts.patch_mocks;
  for (uint32_t i = 0; i < ts_node_named_child_count(params); ++i) {
    TSNode p = ts_node_named_child(params, i);
    if (type_of(p) == "typed_parameter") p = ts_node_named_child(p, 0);
    if (type_of(p) != "identifier") continue;  // defaults, *args, **kwargs, separators
    std::string name(node_text(p, source));
    if ((i == 0 && (name == "self" || name == "cls")) || facts.parametrized.contains(name) ||
        kKindFixtures.contains(name))
      continue;
    if (mocks_left > 0) {
      --mocks_left;
      continue;
    }
    return true;
  }
  return false;
}

// The decorators of a function or class definition (none when it is not decorated).
std::vector<TSNode> decorators_of(TSNode definition) {
  std::vector<TSNode> out;
  TSNode parent = ts_node_parent(definition);
  if (ts_node_is_null(parent) || type_of(parent) != "decorated_definition") return out;
  for (uint32_t i = 0; i < ts_node_named_child_count(parent); ++i)
    if (TSNode d = ts_node_named_child(parent, i); type_of(d) == "decorator") out.push_back(d);
  return out;
}

TestKinds kinds_of_test(TSNode function, std::string_view source) {
  TSNode parent = ts_node_parent(function);
  bool decorated = !ts_node_is_null(parent) && type_of(parent) == "decorated_definition";
  TestKinds kinds;
  query_kinds(decorated ? parent : function, source, kinds);
  DecoratorFacts facts;
  for (TSNode d : decorators_of(function)) read_decorator(d, source, facts);
  // The class's decorators apply to every test method in it (mock.patch, parametrize...).
  TSNode block = ts_node_parent(decorated ? parent : function);
  TSNode cls = ts_node_is_null(block) ? block : ts_node_parent(block);
  if (!ts_node_is_null(cls) && type_of(block) == "block" && type_of(cls) == "class_definition")
    for (TSNode d : decorators_of(cls)) {
      query_kinds(d, source, kinds);
      read_decorator(d, source, facts);
    }
  if (asks_for_fixture(function, source, facts)) kinds.everywhere |= 1u << kNeedsFixture;
  // Where the test aims a kind, its unaimed matches (a bare `raises`, parametrized values)
  // are taken to mean the same callee.
  kinds.everywhere &= ~kinds.aimed_kinds();
  return kinds;
}

// Every function_definition that starts on one of `rows` (0-based, sorted).
void find_functions(TSNode root, const std::vector<uint32_t>& rows,
                    std::unordered_map<uint32_t, TSNode>& found) {
  TSTreeCursor cursor = ts_tree_cursor_new(root);
  for (bool more = true; more;) {
    TSNode n = ts_tree_cursor_current_node(&cursor);
    uint32_t first = ts_node_start_point(n).row, last = ts_node_end_point(n).row;
    auto row = std::lower_bound(rows.begin(), rows.end(), first);
    // Only a node whose lines hold a wanted row can hold a wanted function.
    bool spans = row != rows.end() && *row <= last;
    if (spans && *row == first && type_of(n) == "function_definition") found.emplace(first, n);
    if (spans && ts_tree_cursor_goto_first_child(&cursor)) continue;
    while (!(more = ts_tree_cursor_goto_next_sibling(&cursor)))
      if (!ts_tree_cursor_goto_parent(&cursor)) break;
  }
  ts_tree_cursor_delete(&cursor);
}

}  // namespace

std::unordered_map<uint32_t, TestKinds> source_test_kinds(std::string_view source,
                                                          const std::vector<uint32_t>& test_lines) {
  std::unordered_map<uint32_t, TestKinds> out;
  if (test_lines.empty()) return out;
  std::unique_ptr<TSParser, decltype(&ts_parser_delete)> parser(ts_parser_new(), ts_parser_delete);
  ts_parser_set_language(parser.get(), tree_sitter_python());
  std::unique_ptr<TSTree, decltype(&ts_tree_delete)> tree(
      ts_parser_parse_string(parser.get(), nullptr, source.data(),
                             static_cast<uint32_t>(source.size())),
      ts_tree_delete);
  if (!tree) return out;
  std::vector<uint32_t> rows;
  for (uint32_t line : test_lines)
    if (line > 0) rows.push_back(line - 1);
  std::sort(rows.begin(), rows.end());
  std::unordered_map<uint32_t, TSNode> functions;
  find_functions(ts_tree_root_node(tree.get()), rows, functions);
  for (auto [row, function] : functions) out[row + 1] = kinds_of_test(function, source);
  return out;
}

uint64_t test_kinds_version() {
  return hash64_combine(hash64(embedded_file("test_kinds.scm")), kRulesVersion);
}

std::string test_kinds_text(uint32_t bits) {
  std::string out;
  for (int k = 0; k < kTestKinds; ++k)
    if (bits >> k & 1) out.append(out.empty() ? "" : ",").append(kTestKindNames[k]);
  return out;
}

uint32_t TestKinds::for_function(std::string_view name, std::string_view class_name) const {
  bool constructor = name == "__init__" || name == "__new__";
  uint32_t bits = everywhere;
  for (const auto& [aimed_name, aimed_bits] : aimed)
    if (aimed_name == name || (constructor && aimed_name == class_name)) bits |= aimed_bits;
  return bits;
}

uint32_t TestKinds::aimed_kinds() const {
  uint32_t bits = 0;
  for (const auto& [name, aimed_bits] : aimed) bits |= aimed_bits;
  return bits;
}

std::string test_kinds_text(const TestKinds& kinds) {
  std::string out = test_kinds_text(kinds.everywhere);
  for (const auto& [name, bits] : kinds.aimed)
    for (int k = 0; k < kTestKinds; ++k)
      if (bits >> k & 1)
        out.append(out.empty() ? "" : ",").append(kTestKindNames[k]).append("@").append(name);
  return out;
}

TestKinds parse_test_kinds(std::string_view text) {
  TestKinds kinds;
  for (size_t start = 0; start < text.size();) {
    size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    std::string_view item = text.substr(start, comma - start);
    size_t at = item.find('@');
    uint32_t bits = kind_bit(item.substr(0, at));
    if (at == std::string_view::npos)
      kinds.everywhere |= bits;
    else if (bits && at + 1 < item.size())
      add_aimed(kinds, item.substr(at + 1), bits);
    start = comma + 1;
  }
  return kinds;
}

}  // namespace yantra::labels
