// extract_request_tests: the examples a request writes (doctests, "f(x) ==> y" and its
// cousins, Input/Output blocks) become test cases, checked exactly on hand-written requests
// and on the real HumanEval dev prompts; hostile input must not crash or stall it.
#include <gtest/gtest.h>
#include <zlib.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "../unit/test_support.h"
#include "validator/validator.h"

namespace yantra::validator {
namespace {

struct Expected {
  std::string code;
  std::string want;
  bool doctest_style;
  std::string origin;
};

std::string describe(const std::vector<TestCase>& tests) {
  std::string out;
  for (const TestCase& t : tests)
    out.append(t.name)
        .append(" @")
        .append(t.origin)
        .append(t.doctest_style ? " doctest\n" : "\n")
        .append(t.code)
        .append("\n--- want: ")
        .append(t.want)
        .append("\n");
  return out;
}

void expect_tests(const std::vector<TestCase>& got, const std::vector<Expected>& expected) {
  ASSERT_EQ(got.size(), expected.size()) << describe(got);
  for (size_t i = 0; i < got.size(); ++i) {
    SCOPED_TRACE("test " + std::to_string(i + 1));
    EXPECT_EQ(got[i].name, "example " + std::to_string(i + 1));
    EXPECT_EQ(got[i].code, expected[i].code);
    EXPECT_EQ(got[i].want, expected[i].want);
    EXPECT_EQ(got[i].doctest_style, expected[i].doctest_style);
    EXPECT_EQ(got[i].origin, expected[i].origin);
  }
}

Expected check(std::string code, std::string origin) {
  return {std::move(code), "", false, std::move(origin)};
}
Expected doctest(std::string code, std::string want, std::string origin) {
  return {std::move(code), std::move(want), true, std::move(origin)};
}

// The byte offset that "request:LINE:COL" names, or npos if it names no position.
size_t offset_of(std::string_view request, const std::string& origin) {
  unsigned line = 0, col = 0;
  if (std::sscanf(origin.c_str(), "request:%u:%u", &line, &col) != 2 || line == 0 || col == 0)
    return std::string_view::npos;
  size_t offset = 0;
  for (unsigned l = 1; l < line; ++l) {
    offset = request.find('\n', offset);
    if (offset == std::string_view::npos) return offset;
    ++offset;
  }
  return offset + col - 1 <= request.size() ? offset + col - 1 : std::string_view::npos;
}

// Every test's origin points at its source in the request: the ">>>" source, the call an
// assert checks, or the "Input"/"For" that starts a block (whose call is rebuilt with
// keyword arguments). `exact` also finds the whole call there, which needs calls and values
// free of ") == (" (true of real prompts, not of random soup).
void expect_origins_point_at_sources(std::string_view request, std::string_view entry,
                                     const std::vector<TestCase>& tests, bool exact = true) {
  for (const TestCase& t : tests) {
    size_t at = offset_of(request, t.origin);
    ASSERT_NE(at, std::string_view::npos) << t.origin;
    std::string_view there = request.substr(at);
    if (t.doctest_style) {
      EXPECT_TRUE(there.starts_with(t.code.substr(0, t.code.find('\n')))) << t.origin;
      continue;
    }
    std::string_view code = t.code;
    bool close = code.starts_with("assert abs((");
    size_t open = close ? 12 : 8;
    std::string_view call = code.substr(open, code.find(close ? ") - (" : ") == (", open) - open);
    std::string name = std::string(entry) + "(";
    ASSERT_TRUE(call.starts_with(name)) << t.code;
    bool keywords = call.find('=') != std::string_view::npos;
    if (keywords && (there.starts_with("Input") || there.starts_with("For"))) continue;
    EXPECT_TRUE(exact ? there.starts_with(call) : there.starts_with(name))
        << t.origin << " " << t.code;
  }
}

// ---- doctest examples ----------------------------------------------------------------

TEST(RequestTestsTest, DoctestExamplesWithContinuationsAndMultiLineOutput) {
  std::string request = R"(def total(xs):
    """Sums xs.
    >>> total([1, 2])
    3
    >>> for x in [1, 2]:
    ...     print(total([x]))
    1
    2

    >>> total([])
    0""")";
  expect_tests(extract_request_tests(request, "total"),
               {doctest("total([1, 2])", "3", "request:3:9"),
                doctest("for x in [1, 2]:\n    print(total([x]))", "1\n2", "request:5:9"),
                doctest("total([])", "0", "request:10:9")});
}

TEST(RequestTestsTest, DoctestSkipsOtherFunctionsKeepsSetupAndAssertsComparisons) {
  std::string request = R"(    >>> helper(2)
    4
    >>> helper(3)
    >>> 1 + 1
    2
    >>> import math
    >>> xs = [1, 2]
    >>> ys = list(xs)
    >>> first(xs)
    1
    >>> first([5, 6]) == 5
    >>> first([])

    >>> first(xs
)";
  // helper(3) prints nothing but is no setup, and "1 + 1" is no example of first.
  // "first([5, 6]) == 5" prints True, so it becomes an assert; "first([])" prints nothing
  // (None); the unclosed call is not Python and is dropped.
  expect_tests(
      extract_request_tests(request, "first"),
      {doctest("import math", "", "request:6:9"), doctest("xs = [1, 2]", "", "request:7:9"),
       doctest("ys = list(xs)", "", "request:8:9"), doctest("first(xs)", "1", "request:9:9"),
       check("assert (first([5, 6])) == (5)", "request:11:9"),
       doctest("first([])", "", "request:12:9")});
}

// ---- informal examples ----------------------------------------------------------------

TEST(RequestTestsTest, EveryArrowAndPhraseBecomesAnAssert) {
  std::string request =
      "Examples:\n"
      "    f([1, [2, 3]], \"a,b)\") ==> [1, 2]\n"
      "    f('x') \xE2\x9E\x9E true\n"
      "    f(2) -> None\n"
      "    f(3) => 'ok'\n"
      "    f(4) == {'a': (1, 2)}\n"
      "    f(5) should return 16.\n"
      "    f(6) returns -1 because the list is empty\n"
      "    f(7)   # returns \"db\"\n"
      "    f(8) ==> 0.5\n"
      "    * f(9) => false, since 9 is odd\n"
      "for f(10) == null\n";
  expect_tests(
      extract_request_tests(request, "f"),
      {check(R"py(assert (f([1, [2, 3]], "a,b)")) == ([1, 2]))py", "request:2:5"),
       check("assert (f('x')) == (True)", "request:3:5"),
       check("assert (f(2)) == (None)", "request:4:5"),
       check("assert (f(3)) == ('ok')", "request:5:5"),
       check("assert (f(4)) == ({'a': (1, 2)})", "request:6:5"),
       check("assert (f(5)) == (16)", "request:7:5"), check("assert (f(6)) == (-1)", "request:8:5"),
       check(R"(assert (f(7)) == ("db"))", "request:9:5"),
       check("assert abs((f(8)) - (0.5)) < 1e-6", "request:10:5"),
       check("assert (f(9)) == (False)", "request:11:7"),
       check("assert (f(10)) == (None)", "request:12:5")});
}

TEST(RequestTestsTest, CallsSpanLinesAndHoldStringsWithBrackets) {
  std::string request =
      "get_row([\n"
      "  [1, 2],\n"
      "  [')', '(']\n"
      "], 1) == [(0, 0)]\n"
      "For example closest(\"14.5\") should\n"
      "return 15 and closest(\"-14.5\") should return -15.\n";
  expect_tests(
      extract_request_tests(request, "get_row"),
      {check("assert (get_row([\n  [1, 2],\n  [')', '(']\n], 1)) == ([(0, 0)])", "request:1:1")});
  expect_tests(extract_request_tests(request, "closest"),
               {check(R"(assert (closest("14.5")) == (15))", "request:5:13"),
                check(R"(assert (closest("-14.5")) == (-15))", "request:6:15")});
}

TEST(RequestTestsTest, WorkedOutAnswersAndProseAfterTheValue) {
  std::string request = R"(    fruit("5 apples", 19) -> 19 - 5 - 6 = 8
    fruit("1 apples", 3) ==> 'No' (the name should start with a letter)
    fruit("2 apples", 4) returns the sum of all the fruit
    fruit("3 apples", 5) ==> 2. The rest are mangoes.
    fruit("4 apples", 6) ==> 1, 2
    fruit("5 apples", 7) == 3, fruit("6 apples", 8) == 4, and so on
)";
  expect_tests(extract_request_tests(request, "fruit"),
               {check(R"(assert (fruit("5 apples", 19)) == (8))", "request:1:5"),
                check(R"(assert (fruit("1 apples", 3)) == ('No'))", "request:2:5"),
                check(R"(assert (fruit("3 apples", 5)) == (2))", "request:4:5"),
                check(R"(assert (fruit("5 apples", 7)) == (3))", "request:6:5"),
                check(R"(assert (fruit("6 apples", 8)) == (4))", "request:6:32")});
}

TEST(RequestTestsTest, OnlyCallsOfTheEntryPointWithKnownArguments) {
  std::string request = R"(def fib4(n) -> None:
    fib4(0) -> 0
    helper(1) -> 1
    obj.fib4(2) -> 2
    fib4(n) -> fib4(n-1) + fib4(n-2)
    myfib4(3) -> 3
    fib4(4) -> fib4(3) + fib4(2)
)";
  // The last one is a real expectation: its value calls fib4 with literals only.
  expect_tests(extract_request_tests(request, "fib4"),
               {check("assert (fib4(0)) == (0)", "request:2:5"),
                check("assert (fib4(4)) == (fib4(3) + fib4(2))", "request:7:5")});
  // With no entry point, any function's examples count.
  expect_tests(extract_request_tests("helper(1) -> 1\nobj.fib4(2) -> 2\n", ""),
               {check("assert (helper(1)) == (1)", "request:1:1")});
}

TEST(RequestTestsTest, EqualsSignOnlyUnderAnExampleHeading) {
  std::string request = R"(    tri(1) = 3
    tri(n) = 1 + n / 2, if n is even.
    For example:
    tri(2) = 1 + (2 / 2) = 2
    tri(4) = 3
    Examples:
    tri(3) = [1, 3, 2, 8]
    tri(0) = [1]

    pick(12, 15) = 14
    Example: pick(13, 12) = -1
    the answer is pick(1, 2) = 0 here
)";
  // tri(4) = 3 follows a line that is not an example, so the list ends there.
  expect_tests(extract_request_tests(request, "tri"),
               {check("assert (tri(3)) == ([1, 3, 2, 8])", "request:7:5"),
                check("assert (tri(0)) == ([1])", "request:8:5")});
  expect_tests(extract_request_tests(request, "pick"),
               {check("assert (pick(12, 15)) == (14)", "request:10:5"),
                check("assert (pick(13, 12)) == (-1)", "request:11:14")});
}

TEST(RequestTestsTest, DuplicatesAreDroppedAndNumberingStaysDense) {
  std::string request =
      "f(1) ==> 2\nf(1) ==> 2\nf(1 2) ==> 3\nf(a=) ==> 4\nf(2) ==> [1, 2\n"
      "f(3) ==> 4\n";
  // "f(1 2)" and "f(a=)" pass the scanner but are not Python; "[1, 2" never closes.
  expect_tests(extract_request_tests(request, "f"), {check("assert (f(1)) == (2)", "request:1:1"),
                                                     check("assert (f(3)) == (4)", "request:6:1")});
}

TEST(RequestTestsTest, CarriageReturnLineEndings) {
  std::string request = "    >>> f(1)\r\n    2\r\n\r\n    f(2) ==> 3\r\n";
  expect_tests(extract_request_tests(request, "f"),
               {doctest("f(1)", "2", "request:1:9"), check("assert (f(2)) == (3)", "request:4:5")});
}

// ---- Input/Output blocks ------------------------------------------------------------------

TEST(RequestTestsTest, InputOutputBlocksMapNamesToParameters) {
  std::string request = R"(def maximum(arr, k, reverse=False):
    """
    Example 1:
        Input: arr = [-3, -4, 5], k = 3
        Output: [-4, -3, 5]
    Example 2:
        Input: arr = [1], k = 1, size = 1
        Output: [1]
    Example 3:
        Input: arr = [2]
        Output: [2]
    Example 4:
        Input:
            arr : [[0, 1], [1, 0]]
            k : 1
        Output: true
    For arr = [1, 2], k = 1 the output should be [2].
    For k = 2, the result should be 7
    """
)";
  // "size" is not a parameter and Example 3 leaves out k, so both are skipped; reverse has
  // a default and may be left out.
  expect_tests(extract_request_tests(request, "maximum"),
               {check("assert (maximum(arr=[-3, -4, 5], k=3)) == ([-4, -3, 5])", "request:4:9"),
                check("assert (maximum(arr=[[0, 1], [1, 0]], k=1)) == (True)", "request:13:9"),
                check("assert (maximum(arr=[1, 2], k=1)) == ([2])", "request:17:5")});
}

// ---- hostile input ----------------------------------------------------------------------

TEST(RequestTestsTest, GarbageAndHugeInputsDoNotCrashOrStall) {
  EXPECT_TRUE(extract_request_tests("", "f").empty());
  EXPECT_TRUE(extract_request_tests("", "").empty());
  for (std::string_view text :
       {"f(", "f(((((", "f(1) ==>", "f(1) ==> [", ">>>", ">>> ", ">>> f(1)\n...", "f('1) ==> 2",
        "\"\"\"\n>>> f(1)\n'''", "Input: a =", "For a = 1 the output should be", "def f(a, b",
        "f(1) -> 2 = ", "f(1) = = 2", "f(1)\xE2\x9E", "\xE2\x9E\x9E f(1) \xE2\x9E\x9E"}) {
    SCOPED_TRACE(std::string(text));
    auto tests = extract_request_tests(text, "f");
    EXPECT_LE(tests.size(), 1u);
  }
  std::string with_nul("f(1) ==> 2\0f(2) ==> 3\n", 22);
  EXPECT_EQ(extract_request_tests(with_nul, "f").size(), 2u);

  std::mt19937 rng(7);
  std::string noise(1 << 20, '\0');
  for (char& c : noise) c = static_cast<char>(rng());
  std::string alphabet = "f(),[]'\"\\ \n>.=-#:0123456789abcdef\xE2\x9E\x9E";
  std::string soup(1 << 20, '\0');
  for (char& c : soup) c = alphabet[rng() % alphabet.size()];
  std::string nested;
  for (int i = 0; i < (1 << 19); ++i) nested.append("f(");
  std::string chain = "f(1) ==> 1";
  for (int i = 0; i < (1 << 18); ++i) chain.append(" + 1");
  std::string doctests;
  for (int i = 0; i < (1 << 15); ++i) doctests.append(">>> f(1)\n... \nInput: a = 1\nOutput: 2\n");
  std::string unbalanced = std::string(1 << 20, '[') + " f(1) ==> 2\n";

  for (const std::string* text : {&noise, &soup, &nested, &chain, &doctests, &unbalanced}) {
    for (std::string_view entry : {"f", ""}) {
      auto start = std::chrono::steady_clock::now();
      auto tests = extract_request_tests(*text, entry);
      double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      EXPECT_LT(seconds, 10.0) << "input " << (text - &noise) << " entry '" << entry << "'";
      if (!entry.empty()) expect_origins_point_at_sources(*text, entry, tests, false);
    }
  }
  EXPECT_EQ(extract_request_tests(unbalanced, "f").size(), 1u);
}

// ---- HumanEval dev prompts ----------------------------------------------------------------

struct Task {
  std::string id;
  std::string prompt;
  std::string entry_point;
};

std::vector<Task> read_humaneval() {
  std::vector<Task> tasks;
  std::string path = yantra::testing::shared_path("shared/data/humaneval/HumanEval-dev.jsonl.gz");
  gzFile file = gzopen(path.c_str(), "rb");
  if (file == nullptr) return tasks;
  std::string line;
  char buffer[1 << 16];
  while (gzgets(file, buffer, sizeof buffer) != nullptr) {
    line.append(buffer);
    if (line.back() != '\n') continue;
    auto row = nlohmann::json::parse(line);
    tasks.push_back({row.at("task_id"), row.at("prompt"), row.at("entry_point")});
    line.clear();
  }
  gzclose(file);
  return tasks;
}

const std::vector<Task>& humaneval() {
  static const std::vector<Task> tasks = read_humaneval();
  return tasks;
}

std::vector<TestCase> extract(std::string_view id) {
  for (const Task& task : humaneval())
    if (task.id == id) return extract_request_tests(task.prompt, task.entry_point);
  ADD_FAILURE() << id << " is not in the HumanEval dev set";
  return {};
}

TEST(HumanEvalTest, DoctestPrompt) {
  expect_tests(
      extract("HumanEval/0"),
      {doctest("has_close_elements([1.0, 2.0, 3.0], 0.5)", "False", "request:7:9"),
       doctest("has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)", "True", "request:9:9")});
}

TEST(HumanEvalTest, HeavyArrowPromptWithCommentsBetweenExamples) {
  expect_tests(extract("HumanEval/72"),
               {check("assert (will_it_fly([1, 2], 5)) == (False)", "request:8:5"),
                check("assert (will_it_fly([3, 2, 3], 1)) == (False)", "request:11:5"),
                check("assert (will_it_fly([3, 2, 3], 9)) == (True)", "request:14:5"),
                check("assert (will_it_fly([3], 5)) == (True)", "request:17:5")});
}

TEST(HumanEvalTest, FatArrowWithLowerCaseBooleans) {
  expect_tests(extract("HumanEval/76"),
               {check("assert (is_simple_power(1, 4)) == (True)", "request:7:5"),
                check("assert (is_simple_power(2, 2)) == (True)", "request:8:5"),
                check("assert (is_simple_power(8, 2)) == (True)", "request:9:5"),
                check("assert (is_simple_power(3, 2)) == (False)", "request:10:5"),
                check("assert (is_simple_power(3, 1)) == (False)", "request:11:5"),
                check("assert (is_simple_power(5, 3)) == (False)", "request:12:5")});
}

TEST(HumanEvalTest, ShouldReturnWithSentencePeriods) {
  expect_tests(extract("HumanEval/97"),
               {check("assert (multiply(148, 412)) == (16)", "request:7:5"),
                check("assert (multiply(19, 28)) == (72)", "request:8:5"),
                check("assert (multiply(2020, 1851)) == (0)", "request:9:5"),
                check("assert (multiply(14,-15)) == (20)", "request:10:5")});
}

TEST(HumanEvalTest, InputOutputBlocks) {
  expect_tests(
      extract("HumanEval/120"),
      {check("assert (maximum(arr=[-3, -4, 5], k=3)) == ([-4, -3, 5])", "request:9:9"),
       check("assert (maximum(arr=[4, -4, 4], k=2)) == ([4, 4])", "request:14:9"),
       check("assert (maximum(arr=[-3, 2, 1, 2, -1, -2, 1], k=1)) == ([2])", "request:19:9")});
  // "bucket_capacity" is not a parameter of max_fill(grid, capacity).
  EXPECT_TRUE(extract("HumanEval/115").empty());
}

TEST(HumanEvalTest, MostPromptsYieldTestsAndEveryOriginPointsAtItsSource) {
  const std::vector<Task>& tasks = humaneval();
  ASSERT_EQ(tasks.size(), 110u) << "cannot read the HumanEval dev set";
  size_t with_tests = 0, total = 0;
  for (const Task& task : tasks) {
    SCOPED_TRACE(task.id);
    auto tests = extract_request_tests(task.prompt, task.entry_point);
    with_tests += !tests.empty();
    total += tests.size();
    expect_origins_point_at_sources(task.prompt, task.entry_point, tests);
  }
  std::printf("HumanEval dev: %zu of %zu prompts yield tests, %zu tests in all\n", with_tests,
              tasks.size(), total);
  // Measured: 106 prompts, 324 tests.
  EXPECT_GE(with_tests, 102u);
  EXPECT_GE(total, 310u);
}

}  // namespace
}  // namespace yantra::validator
