// The test-kind query's rules on test sources directly: which kinds each test body shows,
// and which callee a kind is aimed at (src/labels/test_kinds.cpp, queries/test_kinds.scm).
#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "labels/internal.h"
#include "labels/labels.h"

using namespace yantra::labels;

namespace {

uint32_t bits(std::initializer_list<TestKind> kinds) {
  uint32_t b = 0;
  for (TestKind k : kinds) b |= 1u << k;
  return b;
}

// The query's rules on test sources directly, one kind at a time.
TEST(LabelsTestKinds, QueryRulesOnSources) {
  auto kinds = [](const std::string& source, uint32_t line) {
    auto found = source_test_kinds(source, {line});
    return found.contains(line) ? found.at(line).all() : ~0u;
  };
  // An empty list given to assertEqual is the expected value, not an input.
  EXPECT_EQ(kinds("def test_a(self):\n    self.assertEqual(f(x), [])\n", 1), 0u);
  EXPECT_EQ(kinds("def test_a():\n    assert f([]) == 0\n", 1), bits({kEmptyInput}));
  EXPECT_EQ(kinds("def test_a():\n    f(key=None)\n", 1), bits({kNoneInput}));
  EXPECT_EQ(kinds("def test_a():\n    f(sys.maxsize)\n", 1), bits({kBoundary}));
  EXPECT_EQ(kinds("def test_a():\n    f(float('inf'))\n", 1), bits({kBoundary}));
  EXPECT_EQ(kinds("def test_a():\n    f(7)\n", 1), 0u);
  EXPECT_EQ(kinds("def test_a():\n    f('ab' * 5000)\n", 1), bits({kLargeInput}));
  EXPECT_EQ(kinds("def test_a():\n    f(10 ** 6)\n", 1), bits({kLargeInput}));
  EXPECT_EQ(kinds("def test_a(self):\n    with self.assertRaisesRegex(E, 'x'):\n        f(2)\n", 1),
            bits({kException}));
  EXPECT_EQ(
      kinds("def test_a(self):\n    with self.assertWarns(DeprecationWarning):\n        f(2)\n", 1),
      bits({kWarning}));
  EXPECT_EQ(kinds("def test_a(self):\n    for x in (2, 3):\n        with self.subTest(x=x):\n"
                  "            f(x)\n",
                  1),
            bits({kParametrized}));
  EXPECT_EQ(
      kinds("def test_a(self):\n    with tempfile.TemporaryDirectory() as d:\n        f(d)\n", 1),
      bits({kTempFiles}));
  // Fixtures: a plain parameter is one; defaults, *args and parametrized names are not.
  EXPECT_EQ(kinds("def test_a(db):\n    f(db)\n", 1), bits({kNeedsFixture}));
  EXPECT_EQ(kinds("def test_a(n=2, *args, **kw):\n    f(n)\n", 1), 0u);
  EXPECT_EQ(
      kinds("@pytest.mark.parametrize('a, b', [(2, 3)])\ndef test_a(a, b):\n    f(a, b)\n", 2),
      bits({kParametrized}));
  EXPECT_EQ(kinds("@pytest.mark.parametrize('a', [[], None])\ndef test_a(a):\n    f(a)\n", 2),
            bits({kParametrized, kEmptyInput, kNoneInput}));
  // A class decorator applies to the methods, and the mocks it passes in are not fixtures.
  EXPECT_EQ(
      kinds("@mock.patch('m.x')\nclass TestA:\n    def test_a(self, fake):\n        f(2)\n", 3),
      bits({kNeedsMock}));
  // Only the test's own lines count: the next function's raises does not leak in.
  EXPECT_EQ(kinds("def test_a():\n    f(2)\n\ndef test_b():\n    pytest.raises(E, f)\n", 1), 0u);
  // A line that starts no function gives no entry.
  EXPECT_FALSE(source_test_kinds("x = 1\n", {1}).contains(1));
}

// Which callee each kind is aimed at, how a function picks its kinds, and the text
// labels.db keeps them as.
TEST(LabelsTestKinds, KindsAreAimedAtTheCalleeThatGotThem) {
  auto kinds = [](const std::string& source) {
    auto found = source_test_kinds(source, {1});
    return found.contains(1) ? found.at(1) : TestKinds{{~0u}, {}};
  };
  using Aimed = std::vector<std::pair<std::string, uint32_t>>;
  // Arguments: the callee that receives them, by its last name part.
  TestKinds k = kinds("def test_a():\n    json.dumps([], default=None)\n    g(0)\n");
  EXPECT_EQ(k.everywhere, 0u);
  EXPECT_EQ(k.aimed, (Aimed{{"dumps", bits({kEmptyInput, kNoneInput})}, {"g", bits({kBoundary})}}));
  // The callable given to assertRaises / assertRaisesRegex / raises, or what a lambda calls.
  EXPECT_EQ(kinds("def test_a(self):\n    self.assertRaises(E, json.loads, 'x')\n").aimed,
            (Aimed{{"loads", bits({kException})}}));
  EXPECT_EQ(kinds("def test_a(self):\n    self.assertRaisesRegex(E, 'm', f, 2)\n").aimed,
            (Aimed{{"f", bits({kException})}}));
  EXPECT_EQ(kinds("def test_a():\n    pytest.raises(E, lambda: obj.g(2))\n").aimed,
            (Aimed{{"g", bits({kException})}}));
  // What the block under `with raises` calls, `as` or not; not the checks after it.
  k = kinds(
      "def test_a(self):\n    with self.assertRaises(E) as cm:\n        x = p.parse(7)\n"
      "    self.assertIn('x', str(cm.exception))\n");
  EXPECT_EQ(k.everywhere, 0u);
  EXPECT_EQ(k.aimed, (Aimed{{"parse", bits({kException})}}));
  // No callee to aim at: every tested function gets the kind, as before.
  k = kinds("def test_a():\n    with pytest.raises(E):\n        del d['k']\n");
  EXPECT_EQ(k.everywhere, bits({kException}));
  EXPECT_TRUE(k.aimed.empty());
  // Aimed where the test aims it; test-wide kinds stay test-wide.
  k = kinds("def test_a(monkeypatch):\n    f([])\n");
  EXPECT_EQ(k.everywhere, bits({kNeedsMock}));
  EXPECT_EQ(k.for_function("f", ""), bits({kNeedsMock, kEmptyInput}));
  EXPECT_EQ(k.for_function("g", ""), bits({kNeedsMock}));
  // Calling a class aims at its constructor.
  k = kinds("def test_a():\n    Store([])\n");
  EXPECT_EQ(k.for_function("__init__", "Store"), bits({kEmptyInput}));
  EXPECT_EQ(k.for_function("__init__", "Other"), 0u);
  EXPECT_EQ(k.for_function("put", "Store"), 0u);
  // labels.db's text, both ways.
  TestKinds t{bits({kNeedsMock}),
              {{"dumps", bits({kEmptyInput, kNoneInput})}, {"f", bits({kException})}}};
  EXPECT_EQ(test_kinds_text(t), "needs_mock,empty_input@dumps,none_input@dumps,exception@f");
  EXPECT_EQ(parse_test_kinds(test_kinds_text(t)), t);
  EXPECT_EQ(parse_test_kinds("bogus@f,exception@,needs_mock"), (TestKinds{bits({kNeedsMock}), {}}));
}

}  // namespace
