// adapt_code on real Python: every case compares the exact text that comes back (or the
// exact error), so a rename that touches one byte too many or too few fails.
#include <gtest/gtest.h>
#include <tree_sitter/api.h>

#include <memory>
#include <string>
#include <string_view>

#include "router/router.h"

extern "C" const TSLanguage* tree_sitter_python();

namespace {

using yantra::router::adapt_code;
using yantra::router::Rename;

std::string adapted(std::string_view code, const Rename& rename) {
  auto out = adapt_code(code, rename);
  EXPECT_TRUE(out.ok()) << out.error().message;
  return out ? *out : std::string();
}

std::string error_of(std::string_view code, const Rename& rename) {
  auto out = adapt_code(code, rename);
  EXPECT_FALSE(out.ok()) << "adapted to:\n" << *out;
  return out ? std::string() : out.error().message;
}

// Whether tree-sitter reads `code` without ERROR or MISSING nodes.
bool parses_cleanly(std::string_view code) {
  std::unique_ptr<TSParser, decltype(&ts_parser_delete)> parser(ts_parser_new(), ts_parser_delete);
  ts_parser_set_language(parser.get(), tree_sitter_python());
  std::unique_ptr<TSTree, decltype(&ts_tree_delete)> tree(
      ts_parser_parse_string(parser.get(), nullptr, code.data(),
                             static_cast<uint32_t>(code.size())),
      ts_tree_delete);
  return tree && !ts_node_has_error(ts_tree_root_node(tree.get()));
}

TEST(AdaptCode, RenamesFunctionAndParameters) {
  EXPECT_EQ(
      adapted("def add(x, y):\n    return x + y\n", {"add", "sum_two", {"x", "y"}, {"a", "b"}}),
      "def sum_two(a, b):\n    return a + b\n");
}

TEST(AdaptCode, RenamesRecursiveCallsAndTheirKeywordsButNotTheDocstring) {
  const char* code = R"py(def fib(n):
    """Return fib(n), the n-th Fibonacci number."""
    if n < 2:
        return n
    return fib(n - 1) + fib(n=n - 2)
)py";
  EXPECT_EQ(adapted(code, {"fib", "fibonacci", {"n"}, {"k"}}), R"py(def fibonacci(k):
    """Return fib(n), the n-th Fibonacci number."""
    if k < 2:
        return k
    return fibonacci(k - 1) + fibonacci(k=k - 2)
)py");
}

TEST(AdaptCode, LeavesStringsCommentsAttributesAndOtherCallsKeywordsAlone) {
  const char* code = R"py(def area(w, h):
    # w and h are the sides
    label = f"{w}x{h} (w, h)"
    shape = Rect(w=w, h=h)
    return shape.w * shape.h, label, 'w'
)py";
  // An f-string's interpolations are code: they follow the parameters.
  EXPECT_EQ(adapted(code, {"area", "area", {"w", "h"}, {"width", "height"}}),
            R"py(def area(width, height):
    # w and h are the sides
    label = f"{width}x{height} (w, h)"
    shape = Rect(w=width, h=height)
    return shape.w * shape.h, label, 'w'
)py");
}

TEST(AdaptCode, RenamesParametersButNotTheirDefaultValues) {
  const char* code = R"py(limit = 10


def clip(values, limit=limit, *rest, scale: float = 1.0, **options):
    return [min(v, limit) * scale for v in values], rest, options
)py";
  EXPECT_EQ(
      adapted(
          code,
          {"clip", "clip", {"values", "limit", "rest", "options"}, {"xs", "cap", "extra", "kw"}}),
      R"py(limit = 10


def clip(xs, cap=limit, *extra, scale: float = 1.0, **kw):
    return [min(v, cap) * scale for v in xs], extra, kw
)py");
}

TEST(AdaptCode, LeavesNestedDefinitionsThatShadowAParameterAlone) {
  const char* code = R"py(def outer(a, b):
    def inner(a, c=a):
        return a + c + b
    square = lambda a: a * a
    late = lambda x=a: x + a
    return inner(a=b) + square(a) + late()
)py";
  // inner's and square's own `a` stay; defaults, closures and inner's keyword stay right.
  EXPECT_EQ(adapted(code, {"outer", "outer", {"a", "b"}, {"p", "q"}}), R"py(def outer(p, q):
    def inner(a, c=p):
        return a + c + q
    square = lambda a: a * a
    late = lambda x=p: x + p
    return inner(a=q) + square(p) + late()
)py");
}

TEST(AdaptCode, RenamesCallsFromOtherFunctionsButNotShadowsMethodsOrAttributes) {
  const char* code = R"py(def is_even(n):
    return n % 2 == 0


def count_evens(numbers):
    return sum(1 for n in numbers if is_even(n=n))


def apply(items, key=is_even):
    return [key(n) for n in items]


def run(is_even, x):
    return is_even(x)


class Checker:
    def is_even(self, n):
        return is_even(n)


print(Checker().is_even(4), run(is_even, 3))
)py";
  EXPECT_EQ(adapted(code, {"is_even", "even", {"n"}, {"value"}}), R"py(def even(value):
    return value % 2 == 0


def count_evens(numbers):
    return sum(1 for n in numbers if even(value=n))


def apply(items, key=even):
    return [key(n) for n in items]


def run(is_even, x):
    return is_even(x)


class Checker:
    def is_even(self, n):
        return even(n)


print(Checker().is_even(4), run(even, 3))
)py");
}

TEST(AdaptCode, AdaptsHumanEvalStyleCodeAndTheResultStillParses) {
  const char* code = R"py(from typing import List


def has_close_elements(numbers: List[float], threshold: float) -> bool:
    """ Check if in given list of numbers, are any two numbers closer to each other than
    given threshold.
    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)
    False
    """
    for idx, elem in enumerate(numbers):
        for idx2, elem2 in enumerate(numbers):
            if idx != idx2:
                distance = abs(elem - elem2)
                if distance < threshold:
                    return True

    return False
)py";
  std::string out = adapted(
      code,
      {"has_close_elements", "any_pair_closer", {"numbers", "threshold"}, {"values", "limit"}});
  EXPECT_EQ(out, R"py(from typing import List


def any_pair_closer(values: List[float], limit: float) -> bool:
    """ Check if in given list of numbers, are any two numbers closer to each other than
    given threshold.
    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)
    False
    """
    for idx, elem in enumerate(values):
        for idx2, elem2 in enumerate(values):
            if idx != idx2:
                distance = abs(elem - elem2)
                if distance < limit:
                    return True

    return False
)py");
  EXPECT_TRUE(parses_cleanly(out));
}

TEST(AdaptCode, RenamesADecoratedFunctionAndLeavesTheDecoratorAlone) {
  const char* code = "@cache\ndef f(n):\n    return n and f(n - 1)\n";
  EXPECT_EQ(adapted(code, {"f", "g", {"n"}, {"m"}}),
            "@cache\ndef g(m):\n    return m and g(m - 1)\n");
}

TEST(AdaptCode, SwapsParametersWithoutSeeingACollision) {
  EXPECT_EQ(adapted("def f(a, b):\n    return a - b\n", {"f", "f", {"a", "b"}, {"b", "a"}}),
            "def f(b, a):\n    return b - a\n");
}

TEST(AdaptCode, EqualPairsChangeNothing) {
  const char* code = "def f(a, b):\n    return a - b  # a\n";
  EXPECT_EQ(adapted(code, {"f", "f", {"a", "b"}, {"a", "b"}}), code);
}

TEST(AdaptCode, AcceptsNonAsciiIdentifiers) {
  EXPECT_EQ(adapted("def f(a):\n    return a\n", {"f", "größe", {"a"}, {"länge"}}),
            "def größe(länge):\n    return länge\n");
}

TEST(AdaptCode, RefusesAParameterNameALocalAlreadyUses) {
  EXPECT_EQ(error_of("def f(a):\n    b = a * 2\n    return b\n", {"f", "f", {"a"}, {"b"}}),
            "code:2:5: cannot rename parameter 'a' of 'f' to 'b': 'b' is already used here");
}

TEST(AdaptCode, RefusesAParameterNameAGlobalAlreadyUses) {
  EXPECT_EQ(
      error_of("SCALE = 3\n\n\ndef f(a):\n    return a * SCALE\n", {"f", "f", {"a"}, {"SCALE"}}),
      "code:5:16: cannot rename parameter 'a' of 'f' to 'SCALE': 'SCALE' is already "
      "used here");
}

TEST(AdaptCode, RefusesAParameterNameANestedLambdaWouldCapture) {
  EXPECT_EQ(error_of("def f(a):\n    return (lambda b: a + b)(1)\n", {"f", "f", {"a"}, {"b"}}),
            "code:2:20: cannot rename parameter 'a' of 'f' to 'b': 'b' is already used here");
}

TEST(AdaptCode, RefusesAFunctionNameTheModuleAlreadyUses) {
  const char* code = "def g(x):\n    return x\n\n\ndef f(x):\n    return g(x)\n";
  EXPECT_EQ(error_of(code, {"f", "g", {}, {}}),
            "code:1:5: cannot rename 'f' to 'g': 'g' is already used here");
}

TEST(AdaptCode, RefusesTwoParametersWithOneName) {
  EXPECT_EQ(error_of("def f(a, b):\n    return a\n", {"f", "f", {"a"}, {"b"}}),
            "code:1:10: two parameters of 'f' would be named 'b'");
  EXPECT_EQ(error_of("def f(a):\n    return a\n", {"f", "g", {"a"}, {"g"}}),
            "code:1:7: parameter 'a' would be named 'g', the function's new name");
}

TEST(AdaptCode, ReportsASyntaxErrorWithItsLineAndColumn) {
  // Where tree-sitter's innermost ERROR node starts: the statement it could not read.
  EXPECT_EQ(error_of("def f(a):\n    return a +* 2\n", {"f", "g", {}, {}}),
            "code:2:5: syntax error");
  EXPECT_EQ(
      error_of("def f(a):\n    return a\n\n\ndef g(b):\n    return b +\n", {"f", "h", {}, {}}),
      "code:6:5: syntax error");
  EXPECT_EQ(error_of("def f(a):\n    return \"abc\n", {"f", "g", {}, {}}),
            "code:2:12: syntax error");
  EXPECT_EQ(error_of("def f(a)\n    return a\n", {"f", "g", {}, {}}), "code:1:1: syntax error");
}

TEST(AdaptCode, ReportsAMissingFunction) {
  EXPECT_EQ(error_of("def fibo(n):\n    return n\n", {"fib", "f", {}, {}}),
            "code: no top-level function 'fib'; did you mean 'fibo'?");
  // Only a top-level def counts: a nested one is not the module's function.
  EXPECT_EQ(error_of("def outer():\n    def fib(n):\n        return n\n", {"fib", "f", {}, {}}),
            "code: no top-level function 'fib'");
}

TEST(AdaptCode, ReportsAParameterTheFunctionDoesNotHave) {
  EXPECT_EQ(error_of("def f(a):\n    return a\n", {"f", "f", {"x"}, {"y"}}),
            "code:1:5: 'f' has no parameter 'x'");
}

TEST(AdaptCode, RefusesBadRequests) {
  const char* code = "def f(a):\n    return a\n";
  EXPECT_EQ(error_of(code, {"f", "g", {"a"}, {}}),
            "cannot adapt 'f': parameter counts differ (1 to rename from, 0 to rename to)");
  EXPECT_EQ(error_of(code, {"f", "2g", {}, {}}),
            "cannot rename 'f' to '2g': not a valid Python identifier");
  EXPECT_EQ(error_of(code, {"f", "class", {}, {}}),
            "cannot rename 'f' to 'class': not a valid Python identifier");
  EXPECT_EQ(error_of(code, {"f", "f", {"a"}, {"a-b"}}),
            "cannot rename parameter 'a' to 'a-b': not a valid Python identifier");
  EXPECT_EQ(error_of(code, {"f", "€uro", {}, {}}),
            "cannot rename 'f' to '€uro': not a valid Python identifier");
  EXPECT_EQ(error_of(code, {"f", "f", {"a"}, {""}}),
            "cannot rename parameter 'a' to '': not a valid Python identifier");
}

}  // namespace
