// request_tests: examples written in a request (">>> f(2)\n4", "f(2) ==> 4", "Input: n = 2
// Output: 4") turned into test cases that record where in the request they came from.
//
// All scanning is by hand with bounded look-ahead: requests are untrusted text of any size,
// and libstdc++'s std::regex backtracks and recurses on long inputs. Every test is parsed
// with tree-sitter before it is returned, so a heuristic that misreads prose costs a dropped
// example, never a syntax error in the harness.
#include <tree_sitter/api.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "validator/validator.h"

extern "C" const TSLanguage* tree_sitter_python();

namespace yantra::validator {
namespace {

constexpr size_t kNone = std::string_view::npos;
// A call or literal longer than this is prose that happened to open a bracket; the cap also
// keeps the scan linear on inputs like "f(f(f(f(...".
constexpr size_t kMaxSpan = 1000;

// Plain ASCII classes: bytes of UTF-8 text are never letters here, whatever the locale.
constexpr auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; };
constexpr auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
constexpr auto is_number_char = [](char c) { return is_digit(c) || c == '_'; };
constexpr auto is_ident_start = [](char c) {
  return (lower(c) >= 'a' && lower(c) <= 'z') || c == '_';
};
constexpr auto is_ident_char = [](char c) { return is_ident_start(c) || is_digit(c); };
constexpr auto is_blank = [](char c) { return c == ' ' || c == '\t' || c == '\r'; };
constexpr auto is_space = [](char c) { return is_blank(c) || c == '\n'; };
// Look-ahead past the end reads '\0', so scanners need no bounds checks.
constexpr auto at = [](std::string_view s, size_t i) { return i < s.size() ? s[i] : '\0'; };

template <class Pred>
size_t skip_while(std::string_view s, size_t i, Pred pred) {
  while (i < s.size() && pred(s[i])) ++i;
  return i;
}
// skip_blanks stays on the line; skip_space crosses lines.
size_t skip_blanks(std::string_view s, size_t i) {
  return skip_while(s, i, is_blank);
}
size_t skip_space(std::string_view s, size_t i) {
  return skip_while(s, i, is_space);
}
size_t ident_end(std::string_view s, size_t i) {
  return is_ident_start(at(s, i)) ? skip_while(s, i, is_ident_char) : i;
}
std::string_view rtrim(std::string_view s) {
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}
std::string_view trim(std::string_view s) {
  return rtrim(s.substr(std::min(s.size(), skip_space(s, 0))));
}
// Case-insensitive: does `s` hold the word `word` at `i` (not followed by a letter)?
bool word_at(std::string_view s, size_t i, std::string_view word) {
  for (size_t k = 0; k < word.size(); ++k)
    if (lower(at(s, i + k)) != word[k]) return false;
  return !is_ident_char(at(s, i + word.size()));
}

// Where the quote of a string literal starting at `i` is (after r/b/u/f prefixes), or kNone.
size_t string_quote(std::string_view s, size_t i) {
  for (size_t k = i; k < s.size() && k < i + 3; ++k) {
    if (s[k] == '"' || s[k] == '\'') return k;
    if (std::string_view("rRbBuUfF").find(s[k]) == kNone) return kNone;
  }
  return kNone;
}
// End of the string literal whose quote is at `q`, or kNone. Single-quoted strings end at
// the line's end, as in Python.
size_t skip_string(std::string_view s, size_t q) {
  std::string_view delim = s.substr(q, at(s, q + 1) == s[q] && at(s, q + 2) == s[q] ? 3 : 1);
  for (size_t j = q + delim.size(); j < s.size() && j - q < kMaxSpan; ++j) {
    if (s[j] == '\n' && delim.size() == 1) return kNone;
    if (s.substr(j, delim.size()) == delim) return j + delim.size();
    j += s[j] == '\\';
  }
  return kNone;
}
// End of the balanced bracket group opening at `open`, or kNone.
size_t match_brackets(std::string_view s, size_t open) {
  std::string closers;
  for (size_t i = open; i < s.size() && i - open < kMaxSpan; ++i) {
    char c = s[i];
    if (c == '"' || c == '\'') {
      size_t end = skip_string(s, i);
      if (end == kNone) return kNone;
      i = end - 1;
    } else if (c == '(' || c == '[' || c == '{') {
      closers.push_back(c == '(' ? ')' : c == '[' ? ']' : '}');
    } else if (c == ')' || c == ']' || c == '}') {
      if (closers.empty() || closers.back() != c) return kNone;
      closers.pop_back();
      if (closers.empty()) return i + 1;
    }
  }
  return kNone;
}

// One operand of an expected value: a number, string, bracketed literal, constant or call
// like float('inf'). Bare words are prose, not values.
size_t scan_atom(std::string_view s, size_t i) {
  for (size_t signs = 0; (at(s, i) == '-' || at(s, i) == '+') && signs < 4; ++signs)
    i = skip_blanks(s, i + 1);
  char c = at(s, i);
  if (is_digit(c) || (c == '.' && is_digit(at(s, i + 1)))) {
    i = skip_while(s, i, is_number_char);
    // "16." ends a sentence; "16.5" is a float.
    if (at(s, i) == '.' && is_digit(at(s, i + 1))) i = skip_while(s, i + 1, is_number_char);
    size_t exponent = i + 1 + (at(s, i + 1) == '-' || at(s, i + 1) == '+');
    if (lower(at(s, i)) == 'e' && is_digit(at(s, exponent))) i = skip_while(s, exponent, is_digit);
    i += lower(at(s, i)) == 'j';
    return is_ident_char(at(s, i)) ? kNone : i;
  }
  if (size_t q = string_quote(s, i); q != kNone) return skip_string(s, q);
  if (c == '(' || c == '[' || c == '{') return match_brackets(s, i);
  size_t end = ident_end(s, i);
  if (end == i) return kNone;
  for (std::string_view word : {"True", "False", "None", "true", "false", "null", "none"})
    if (s.substr(i, end - i) == word) return end;
  return at(s, end) == '(' ? match_brackets(s, end) : kNone;
}
// The end of an expected value at `i`: atoms joined by arithmetic ("1 + 9 + 0"), stopping
// before the first thing that is not ("16. because ...", "'No' (the name ...)").
size_t scan_value(std::string_view s, size_t i) {
  size_t end = scan_atom(s, i);
  while (end != kNone) {
    if (end - i > kMaxSpan) return kNone;  // cut short, a sum would mean something else
    size_t op = skip_blanks(s, end);
    size_t len = s.substr(op, 2) == "**" || s.substr(op, 2) == "//" ? 2 : 1;
    if (op >= s.size() || std::string_view("+-*/%").find(s[op]) == kNone) break;
    size_t next = scan_atom(s, skip_blanks(s, op + len));
    if (next == kNone) break;
    end = next;
  }
  return end;
}

// Whether `code` names anything the test could not define: "fib4(n)" or "the" is prose.
// Calls, attributes, keyword arguments and the three constants are fine.
bool has_free_names(std::string_view code) {
  for (size_t i = 0; i < code.size();) {
    if (size_t q = string_quote(code, i);
        q != kNone && (q == i || !is_ident_char(at(code, i - 1)))) {
      i = skip_string(code, q);
      if (i == kNone) return true;
    } else if (is_digit(code[i])) {
      while (i < code.size() && (is_ident_char(code[i]) || code[i] == '.')) ++i;
    } else if (is_ident_start(code[i])) {
      size_t end = ident_end(code, i);
      std::string_view name = code.substr(i, end - i);
      size_t next = skip_blanks(code, end);
      bool call = at(code, next) == '(';
      bool keyword = at(code, next) == '=' && at(code, next + 1) != '=';
      bool attribute = i > 0 && code[i - 1] == '.';
      bool constant = name == "True" || name == "False" || name == "None";
      if (!call && !keyword && !attribute && !constant) return true;
      i = end;
    } else {
      ++i;
    }
  }
  return false;
}

bool is_float_literal(std::string_view v) {
  return v.find_first_not_of("+-0123456789._eE") == kNone && v.find_first_of(".eE") != kNone &&
         v.find_first_of("0123456789") != kNone && scan_atom(v, 0) == v.size();
}

// Prose and JSON spell Python's constants "true", "null", "none".
std::string_view python_constant(std::string_view value) {
  if (value == "true") return "True";
  if (value == "false") return "False";
  if (value == "null" || value == "none") return "None";
  return value;
}

std::string make_assert(std::string_view call, std::string_view value) {
  bool close = is_float_literal(value);  // 0.1 + 0.2 is not 0.3
  return std::string(close ? "assert abs((" : "assert (")
      .append(call)
      .append(close ? ") - (" : ") == (")
      .append(value)
      .append(close ? ")) < 1e-6" : ")");
}

// The request with line lookup and the byte ranges doctest blocks have claimed.
class Request {
 public:
  explicit Request(std::string_view text) : text_(text) {
    starts_.push_back(0);
    for (size_t i = 0; i < text.size(); ++i)
      if (text[i] == '\n') starts_.push_back(i + 1);
  }
  std::string_view text() const { return text_; }
  size_t lines() const { return starts_.size(); }
  size_t start(size_t line) const { return line < starts_.size() ? starts_[line] : text_.size(); }
  std::string_view line(size_t i) const {  // without its newline
    size_t end = start(i + 1);
    return text_.substr(start(i), end - start(i) - (end > start(i) && text_[end - 1] == '\n'));
  }
  size_t line_of(size_t offset) const {
    return std::upper_bound(starts_.begin(), starts_.end(), offset) - starts_.begin() - 1;
  }
  std::string origin(size_t offset) const {
    size_t line = line_of(offset);
    return std::string("request:")
        .append(std::to_string(line + 1))
        .append(":")
        .append(std::to_string(offset - starts_[line] + 1));
  }
  void claim(size_t begin, size_t end) { claimed_.emplace_back(begin, end); }
  bool claimed(size_t offset) const {  // claims are made in text order
    auto it = std::upper_bound(claimed_.begin(), claimed_.end(), std::make_pair(offset, kNone));
    return it != claimed_.begin() && offset < std::prev(it)->second;
  }

 private:
  std::string_view text_;
  std::vector<size_t> starts_;
  std::vector<std::pair<size_t, size_t>> claimed_;
};

struct Found {
  size_t offset;  // where the example starts: orders the tests and names their origin
  TestCase test;
};

void add_assert(const Request& req, size_t offset, std::string code, std::vector<Found>& out) {
  out.push_back({offset, TestCase{{}, std::move(code), {}, false, req.origin(offset)}});
}

// Whether the name at `i` is being defined: "def f(x)".
bool after_def(std::string_view s, size_t i) {
  size_t before = i;
  while (before > 0 && (s[before - 1] == ' ' || s[before - 1] == '\t')) --before;
  return before < i && before >= 3 && s.substr(before - 3, 3) == "def" &&
         (before == 3 || !is_ident_char(s[before - 4]));
}

struct Example {
  std::string code;
  size_t end = 0;       // just past the expected value
  bool assign = false;  // "f(x) = y": needs an example context
};

// "CALL <op> VALUE" where the call spans [begin, end): the operators people write between an
// example call and its result.
std::optional<Example> example_after_call(std::string_view s, size_t begin, size_t end) {
  size_t i = skip_blanks(s, end);
  if (at(s, i) == '#') i = skip_blanks(s, i + 1);  // "f(15)   # returns 3"
  size_t op = kNone;
  for (std::string_view arrow : {"==>", "==", "=>", "->", "\xE2\x9E\x9E" /* U+279E */, "="})
    if (op == kNone && s.substr(i, arrow.size()) == arrow) op = i + arrow.size();
  bool assign = op == i + 1;        // "f(x) = y"
  size_t k = skip_space(s, i + 6);  // "should\n    return 15" wraps in prose
  if (op == kNone && word_at(s, i, "should") && (word_at(s, k, "return") || word_at(s, k, "be")))
    op = k + (lower(s[k]) == 'r' ? 6 : 2);
  if (op == kNone && word_at(s, i, "returns")) op = i + 7;
  if (op == kNone) return std::nullopt;
  size_t value = skip_blanks(s, op);
  size_t value_end = scan_value(s, value);
  if (value_end == kNone) return std::nullopt;
  // "f(x) -> 19 - 5 - 6 = 8" worked the answer out: the last term is the value.
  for (size_t eq = skip_blanks(s, value_end); at(s, eq) == '=' && at(s, eq + 1) != '=';
       eq = skip_blanks(s, value_end)) {
    if (assign) return std::nullopt;
    value = skip_blanks(s, eq + 1);
    value_end = scan_value(s, value);
    if (value_end == kNone) return std::nullopt;
  }
  // "f(x) ==> 1, 2" is a tuple without its parentheses; "f(1) == 2, f(2) == 3" is a list.
  size_t comma = skip_blanks(s, value_end), after = skip_blanks(s, comma + 1);
  if (at(s, comma) == ',' && !is_ident_start(at(s, after)) && scan_atom(s, after) != kNone)
    return std::nullopt;
  std::string_view call = s.substr(begin, end - begin);
  std::string_view expected = python_constant(s.substr(value, value_end - value));
  if (has_free_names(call) || has_free_names(expected)) return std::nullopt;
  return Example{make_assert(call, expected), value_end, assign};
}

// The example whose call of `entry` (any function if empty) starts at `begin`. A definition
// ("def f(x) -> None") or a method ("x.f(2)") is not a call of it.
std::optional<Example> example_at(std::string_view s, size_t begin, std::string_view entry) {
  size_t name_end = ident_end(s, begin);
  std::string_view name = s.substr(begin, name_end - begin);
  bool method = begin > 0 && (is_ident_char(s[begin - 1]) || s[begin - 1] == '.');
  if (name.empty() || (!entry.empty() && name != entry) || method || after_def(s, begin))
    return std::nullopt;
  size_t end = at(s, name_end) == '(' ? match_brackets(s, name_end) : kNone;
  return end == kNone ? std::nullopt : example_after_call(s, begin, end);
}

bool mentions_example(std::string_view text) {
  std::string_view word = "example";
  auto same = [](char a, char b) { return lower(a) == b; };
  return std::search(text.begin(), text.end(), word.begin(), word.end(), same) != text.end();
}

// "f(x) = y" is too loose in prose ("tri(n) = 1 + n / 2, if n is even"): take it only as a
// whole line under an example heading, after a blank line, or after another such example.
bool assign_in_context(const Request& req, size_t begin, size_t end, size_t last_line) {
  std::string_view s = req.text();
  size_t line = req.line_of(begin);
  size_t tail = skip_blanks(s, end);
  if (at(s, tail) == '.' || at(s, tail) == ',') tail = skip_blanks(s, tail + 1);
  if (tail < s.size() && s[tail] != '\n') return false;
  std::string_view prefix = trim(s.substr(req.start(line), begin - req.start(line)));
  if (!prefix.empty() && prefix != "*" && prefix != "-") return mentions_example(prefix);
  if (line == 0) return false;
  std::string_view previous = trim(req.line(line - 1));
  return previous.empty() || line - 1 == last_line || mentions_example(previous);
}

void find_informal(const Request& req, std::string_view entry, std::vector<Found>& out) {
  std::string_view s = req.text();
  size_t last_assign_line = kNone;
  for (size_t i = 0; i < s.size();) {
    i = entry.empty() ? i : s.find(entry, i);
    if (i == kNone) break;
    size_t next = std::max(i + 1, ident_end(s, i));
    // value_or: g++ 12 warns falsely (-Wmaybe-uninitialized) on members read through the
    // optional here.
    Example ex = example_at(s, i, entry).value_or(Example{});
    if (!ex.code.empty() && !req.claimed(i)) {
      if (!ex.assign || assign_in_context(req, i, ex.end, last_assign_line)) {
        last_assign_line = ex.assign ? req.line_of(i) : last_assign_line;
        next = ex.end;
        add_assert(req, i, std::move(ex.code), out);
      }
    }
    i = next;
  }
}

bool mentions_name(std::string_view code, std::string_view name) {
  for (size_t k = code.find(name); k != kNone; k = code.find(name, k + 1))
    if ((k == 0 || !is_ident_char(code[k - 1])) && !is_ident_char(at(code, k + name.size())))
      return true;
  return false;
}

// Setup lines print nothing and matter to the examples after them: "xs = [1]", "d = make()",
// "import m".
bool is_setup(std::string_view source) {
  size_t eq = source.find('=');
  bool assigns = eq != kNone && eq < source.find('(') && at(source, eq + 1) != '=' &&
                 std::string_view("=!<>").find(at(source, eq - 1)) == kNone;
  return assigns || source.find('(') == kNone || source.starts_with("import ") ||
         source.starts_with("from ");
}

void add_doctest(const Request& req, size_t offset, std::string source, std::string want,
                 std::string_view entry, std::vector<Found>& out) {
  std::string_view s = req.text();
  if (trim(source).empty()) return;
  // ">>> f(x) == y" with no output prints True and would fail; as an assert it checks y.
  std::optional<Example> ex = want.empty() ? example_at(s, offset, entry) : std::nullopt;
  if (ex && !ex->assign && skip_blanks(s, ex->end) >= offset + source.size())
    return add_assert(req, offset, std::move(ex->code), out);
  // Examples of other functions are skipped, but not the setup they may need.
  if (entry.empty() || (want.empty() && is_setup(source)) || mentions_name(source, entry))
    out.push_back(
        {offset, TestCase{{}, std::move(source), std::move(want), true, req.origin(offset)}});
}

// ">>> source" lines with "... " continuations, then the expected output up to a blank
// line, the next ">>>" or the end of the docstring; the common indentation is stripped.
void find_doctests(Request& req, std::string_view entry, std::vector<Found>& out) {
  for (size_t i = 0; i < req.lines(); ++i) {
    std::string_view line = req.line(i);
    size_t indent = skip_blanks(line, 0);
    if (line.substr(indent, 3) != ">>>") continue;
    size_t col = std::min(line.size(), indent + 3 + (at(line, indent + 3) == ' '));
    std::string source(rtrim(line.substr(col)));
    size_t j = i + 1;
    for (; j < req.lines(); ++j) {
      std::string_view next = req.line(j);
      size_t k = skip_blanks(next, 0);
      if (next.substr(k, 3) != "..." || (k + 3 < next.size() && next[k + 3] != ' ')) break;
      source.append("\n").append(rtrim(next.substr(std::min(next.size(), k + 4))));
    }
    std::string want;
    for (; j < req.lines(); ++j) {
      std::string_view next = rtrim(req.line(j));
      size_t k = skip_blanks(next, 0);
      if (k == next.size() || next.substr(k, 3) == ">>>") break;
      size_t quotes = std::min(next.find("\"\"\""), next.find("'''"));
      std::string_view text = rtrim(next.substr(0, quotes).substr(std::min(k, indent)));
      if (!text.empty()) want.append(want.empty() ? "" : "\n").append(text);
      if (quotes != kNone) {
        ++j;
        break;
      }
    }
    req.claim(req.start(i), req.start(j));
    add_doctest(req, req.start(i) + col, std::move(source), std::move(want), entry, out);
    i = j - 1;
  }
}

struct Param {
  std::string name;
  bool required;
};

// The parameters of `def entry(...)` in the request that a caller can name.
std::vector<Param> parameters(std::string_view s, std::string_view entry) {
  for (size_t i = s.find(entry); i != kNone && !entry.empty(); i = s.find(entry, i + 1)) {
    size_t open = skip_blanks(s, i + entry.size());
    if (at(s, open) != '(' || !after_def(s, i) || is_ident_char(at(s, i + entry.size()))) continue;
    size_t close = match_brackets(s, open);
    if (close == kNone) continue;
    std::string_view list = s.substr(open + 1, close - open - 2);
    std::vector<Param> params;
    int depth = 0;
    for (size_t k = 0, from = 0; k <= list.size(); ++k) {
      char c = at(list, k);
      if (c == '"' || c == '\'') {
        size_t e = skip_string(list, k);
        if (e == kNone) return {};
        k = e - 1;
        continue;
      }
      depth += (c == '(' || c == '[' || c == '{') - (c == ')' || c == ']' || c == '}');
      if (k < list.size() && !(c == ',' && depth == 0)) continue;
      std::string_view param = trim(list.substr(from, k - from));
      from = k + 1;
      size_t name_end = ident_end(param, 0);  // "*args", "**kw" and "/" are not nameable
      if (name_end > 0 && param.substr(0, name_end) != "self")
        params.push_back({std::string(param.substr(0, name_end)), param.find('=') == kNone});
    }
    return params;
  }
  return {};
}

struct Binding {
  std::string_view name;
  std::string_view value;
};

// "grid : [[0, 1]]  capacity : 1" or "arr = [1, 2], k = 3": names bound to values, across
// lines if `multiline`. Returns the end of the last value, or kNone.
size_t parse_bindings(std::string_view s, size_t i, bool multiline, std::vector<Binding>& out) {
  size_t end = kNone;
  while (out.size() < 32) {
    size_t k = multiline ? skip_space(s, i) : skip_blanks(s, i);
    size_t name_end = ident_end(s, k);
    if (name_end == k || word_at(s, k, "output")) break;
    size_t sep = skip_blanks(s, name_end);
    if (at(s, sep) != ':' && !(at(s, sep) == '=' && at(s, sep + 1) != '=')) break;
    size_t value = skip_blanks(s, sep + 1);
    size_t value_end = scan_value(s, value);
    if (value_end == kNone) return kNone;
    out.push_back({s.substr(k, name_end - k), python_constant(s.substr(value, value_end - value))});
    end = i = value_end;
    if (size_t comma = skip_blanks(s, i); at(s, comma) == ',') i = comma + 1;
  }
  return end;
}

// Where the expected value of a block starts: after "Output:" (Input blocks) or after
// "should be" later on the same line ("For lst = [1] the output should be 1").
size_t block_value(std::string_view s, size_t end, bool input) {
  if (input) {
    size_t k = skip_space(s, end);
    if (!word_at(s, k, "output")) return kNone;
    k = skip_blanks(s, k + 6);
    return at(s, k) == ':' ? skip_blanks(s, k + 1) : kNone;
  }
  size_t limit = std::min({s.find('\n', end), s.size(), end + 200});
  for (size_t k = end; k < limit; ++k)
    if (!is_ident_char(s[k - 1]) && word_at(s, k, "should")) {
      size_t be = skip_blanks(s, k + 6);
      return word_at(s, be, "be") ? skip_blanks(s, be + 2) : kNone;
    }
  return kNone;
}

// "Input: a = 1, b = 2  Output: 3" and "For a = 1 the output should be 3" as a call with
// keyword arguments: only when every name is a parameter and every required one is given.
std::optional<std::string> block_test(std::string_view s, size_t i, bool input,
                                      std::string_view entry, const std::vector<Param>& params) {
  std::vector<Binding> bindings;
  size_t end = parse_bindings(s, i, input, bindings);
  size_t value = end == kNone ? kNone : block_value(s, end, input);
  size_t value_end = value == kNone ? kNone : scan_value(s, value);
  if (value_end == kNone) return std::nullopt;
  std::string call(entry);
  std::set<std::string_view> given;
  for (const Binding& b : bindings) {
    bool known =
        std::any_of(params.begin(), params.end(), [&](const Param& p) { return p.name == b.name; });
    if (!known || !given.insert(b.name).second || has_free_names(b.value)) return std::nullopt;
    call.append(given.size() == 1 ? "(" : ", ").append(b.name).append("=").append(b.value);
  }
  call.append(")");
  for (const Param& p : params)
    if (p.required && !given.count(p.name)) return std::nullopt;
  std::string_view expected = python_constant(s.substr(value, value_end - value));
  if (has_free_names(expected)) return std::nullopt;
  return make_assert(call, expected);
}

void find_blocks(const Request& req, std::string_view entry, std::vector<Found>& out) {
  std::string_view s = req.text();
  std::vector<Param> params = parameters(s, entry);
  if (params.empty()) return;
  for (size_t i = 0; i < s.size(); ++i) {
    if (!is_ident_start(s[i]) || (i > 0 && is_ident_char(s[i - 1])) || req.claimed(i)) continue;
    std::optional<std::string> code;
    if (size_t colon = skip_blanks(s, i + 5); word_at(s, i, "input") && at(s, colon) == ':')
      code = block_test(s, colon + 1, true, entry, params);
    else if (word_at(s, i, "for"))
      code = block_test(s, i + 3, false, entry, params);
    if (code) add_assert(req, i, std::move(*code), out);
  }
}

// Whether a generated test is Python at all, by tree-sitter's grammar.
bool parses(TSParser* parser, std::string_view code) {
  if (code.size() > UINT32_MAX) return false;
  std::unique_ptr<TSTree, void (*)(TSTree*)> tree(
      ts_parser_parse_string(parser, nullptr, code.data(), static_cast<uint32_t>(code.size())),
      ts_tree_delete);
  return tree && !ts_node_has_error(ts_tree_root_node(tree.get()));  // ERROR or MISSING
}

}  // namespace

std::vector<TestCase> extract_request_tests(std::string_view request,
                                            std::string_view entry_point) {
  Request req(request);
  std::vector<Found> found;
  find_doctests(req, entry_point, found);
  find_informal(req, entry_point, found);
  find_blocks(req, entry_point, found);
  std::stable_sort(found.begin(), found.end(),
                   [](const Found& a, const Found& b) { return a.offset < b.offset; });

  std::unique_ptr<TSParser, void (*)(TSParser*)> parser(ts_parser_new(), ts_parser_delete);
  if (!ts_parser_set_language(parser.get(), tree_sitter_python())) return {};
  std::set<std::pair<std::string, std::string>> seen;
  std::vector<TestCase> tests;
  for (Found& f : found) {
    if (!seen.emplace(f.test.code, f.test.want).second || !parses(parser.get(), f.test.code))
      continue;
    f.test.name = std::string("example ").append(std::to_string(tests.size() + 1));
    tests.push_back(std::move(f.test));
  }
  return tests;
}

}  // namespace yantra::validator
