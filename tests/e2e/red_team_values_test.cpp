// Red team: hostile candidates by an attacker who has read the harness, each a WRONG
// function plus a trick meant to fake `passed`. Each test fails exactly when its trick
// works (the run or one of its tests passes), with the host checks of sandbox_support.h
// on top: nothing of the run is left behind.
//
// The design they meet: the judge (tests, nonce, marker pipe) and the candidate run in two
// processes and only plain data of exact builtin types crosses; anything else is an opaque
// value. Each test says what the harness before it (520eb51: candidate and tests in one
// process) made of the attack. The pytest form keeps a weaker, documented guarantee
// (README, "The sandbox") and is left out.
//
// This file: values that lie (equality, order, truth, size, type), the doctest form,
// iterators, exceptions and in-place mutation. red_team_harness_test.cpp: the harness.
#include <gtest/gtest.h>

#include <string>

#include "sandbox_support.h"

namespace {

using namespace yantra::testing::sandbox;
using yantra::testing::contains;

class RedTeamValues : public WarmSandbox {};

// Shared by candidates below: a value equal to anything (and less than nothing).
constexpr const char* kAnything = R"PY(class Anything:  # @M@
    def __eq__(self, other): return True
    def __lt__(self, other): return False
    __hash__ = object.__hash__
)PY";

// ---- 1. values that lie about equality, order, truth, size and type ---------------------

// An object whose __eq__ says yes to any expected value.
// Old harness (520eb51): passed -- let through.
TEST_F(RedTeamValues, ObjectEqualToEverything) {
  expect_caught(run(check_job(code(R"PY(class Liar:  # @M@
    def __eq__(self, other): return True
def f(x): return Liar()
)PY"))));
}

// int, list and str subclasses whose __eq__ says yes (isinstance holds for each).
// Old harness (520eb51): passed -- let through.
TEST_F(RedTeamValues, BuiltinSubclassesEqualToEverything) {
  const std::pair<const char*, const char*> attacks[] = {
      {"assert f(2) == 3", R"PY(class Int(int):  # @M@
    def __eq__(self, other): return True
    __hash__ = int.__hash__
def f(x): return Int(x)
)PY"},
      {"assert f(3) == [1, 2, 3]", R"PY(class Agreeable(list):  # @M@
    def __eq__(self, other): return True
def f(n): return Agreeable()
)PY"},
      {"assert f(\"abc\") == \"cba\"", R"PY(class Text(str):  # @M@
    def __eq__(self, other): return True
    __hash__ = str.__hash__
def f(s): return Text(s)
)PY"},
  };
  for (auto [assertion, candidate] : attacks)
    expect_caught(run(asserts_job(code(candidate), assertion)));
}

// __eq__ answers a non-empty str, or an object whose __bool__ is True.
// Old harness (520eb51): passed -- let through.
TEST_F(RedTeamValues, TruthyNonBoolFromEq) {
  expect_caught(run(check_job(code(R"PY(class Verdict:  # @M@
    def __bool__(self): return True
class Liar:
    def __init__(self, x):
        self.x = x
    def __eq__(self, other): return "not equal at all" if self.x % 2 else Verdict()
def f(x): return Liar(x)
)PY"))));
}

// The honest value is 0 where the answer must not be 0; the value says it differs from
// everything: !=, not ==, not in.
// Old harness (520eb51): passed -- let through.
// The judge's first build let it through (an opaque value answered != with True); now every
// comparison with an opaque value raises.
TEST_F(RedTeamValues, NotEqualThatSaysDifferent) {
  const char* tests = R"PY(def check(candidate):
    assert candidate(0) != 0
    assert not candidate(5) == 0
    assert candidate(7) not in (0, None)
)PY";
  std::string candidate = code(R"PY(class Zero(int):  # @M@
    def __eq__(self, other): return False
    def __ne__(self, other): return True
    __hash__ = int.__hash__
def f(x): return Zero(0)
)PY");
  expect_caught(run(check_job(candidate, tests)));
}

// A __class__ property makes isinstance(v, int) true for a non-int.
// Old harness (520eb51): passed -- let through.
TEST_F(RedTeamValues, ClassPropertyFoolsIsinstance) {
  const char* tests = R"PY(def check(candidate):
    assert isinstance(candidate(2), int)
    assert candidate(2) == 4
)PY";
  std::string candidate = code(R"PY(class Impostor:  # @M@
    @property
    def __class__(self): return int
    def __eq__(self, other): return True
    __hash__ = object.__hash__
def f(x): return Impostor()
)PY");
  expect_caught(run(check_job(candidate, tests)));
}

// Hashes as 4 and equals anything: a dict lookup finds the expected key's value.
// Old harness (520eb51): passed -- let through.
TEST_F(RedTeamValues, KeyThatHashesLikeTheAnswer) {
  const char* tests = R"PY(def check(candidate):
    names = {4: "four", 9: "nine"}
    assert names[candidate(2)] == "four"
)PY";
  std::string candidate = code(R"PY(class Key:  # @M@
    def __init__(self, honest):
        self.honest = honest
    def __hash__(self): return hash(4)
    def __eq__(self, other): return True
def f(x): return Key(x + 1)
)PY");
  expect_caught(run(check_job(candidate, tests)));
}

// __len__ says 3 and __iter__ yields values equal to anything: len, sorted, list agree.
// Old harness (520eb51): passed -- let through.
TEST_F(RedTeamValues, LenAndIterLie) {
  const char* tests = R"PY(def check(candidate):
    got = candidate(3)
    assert len(got) == 3
    assert sorted(got) == [1, 2, 3]
    assert list(got) == [1, 2, 3]
)PY";
  std::string candidate = code(std::string(kAnything) + R"PY(
class Crowd:
    def __len__(self): return 3
    def __iter__(self): return iter([Anything(), Anything(), Anything()])
def f(n): return Crowd()
)PY");
  expect_caught(run(check_job(candidate, tests)));
}

// A float subclass whose differences are 0.0; __abs__, __round__, __lt__/__gt__ liars.
// Old harness (520eb51): passed -- let through.
TEST_F(RedTeamValues, ArithmeticDundersLie) {
  const std::pair<const char*, const char*> attacks[] = {
      {"assert abs(f(1) - 2.5) < 1e-6", R"PY(class Float(float):  # @M@
    def __sub__(self, other): return 0.0
    def __rsub__(self, other): return 0.0
def f(x): return Float(0)
)PY"},
      {"assert abs(f(2) - 4) < 1e-9", R"PY(class Gap:  # @M@
    def __sub__(self, other): return self
    def __abs__(self): return 0.0
def f(x): return Gap()
)PY"},
      {"assert round(f(2), 2) == 4.0", R"PY(class Rounder:  # @M@
    def __round__(self, ndigits=None): return 4.0
def f(x): return Rounder()
)PY"},
      {"assert 3.99 < f(2) < 4.01", R"PY(class Between:  # @M@
    def __lt__(self, other): return True
    def __gt__(self, other): return True
def f(x): return Between()
)PY"},
  };
  for (auto [assertion, candidate] : attacks)
    expect_caught(run(asserts_job(code(candidate), assertion)));
}

// Expected value on the left: int.__eq__ gives up, the value's reflected __eq__ decides.
// Old harness (520eb51): passed -- let through.
TEST_F(RedTeamValues, ReflectedEqOnTheRight) {
  std::string candidate = code(R"PY(class Liar:  # @M@
    def __eq__(self, other): return True
def f(x): return Liar()
)PY");
  expect_caught(
      run(asserts_job(candidate, "assert 4 == f(2) and [4, \"four\"] == [f(2), \"four\"]")));
}

// A real list whose elements lie: the container is a builtin, its contents are not.
// Old harness (520eb51): passed -- let through.
TEST_F(RedTeamValues, LiarsInsideARealList) {
  const char* tests = R"PY(def check(candidate):
    assert candidate(3) == [1, 2, 3]
)PY";
  std::string candidate = code(std::string(kAnything) + R"PY(
def f(n): return [Anything() for _ in range(n)]
)PY");
  expect_caught(run(check_job(candidate, tests)));
}

// is_even answered backwards, in a value whose __bool__ alternates yes, no, yes.
// Old harness (520eb51): passed -- let through.
TEST_F(RedTeamValues, BoolThatAnswersWhatTheAssertWants) {
  const char* tests = R"PY(def check(candidate):
    assert candidate(4)
    assert not candidate(3)
    assert candidate(10)
)PY";
  std::string candidate = code(R"PY(calls = [0]
class Flip:  # @M@
    def __init__(self, honest):
        self.honest = honest
    def __bool__(self):
        calls[0] += 1
        return calls[0] % 2 == 1
def f(x): return Flip(x % 2 == 1)
)PY");
  expect_caught(run(check_job(candidate, tests)));
}

// ---- 2. the doctest form ----------------------------------------------------------------

// __repr__ prints what the example expects.
// Old harness (520eb51): passed -- let through.
TEST_F(RedTeamValues, DoctestReprPrintsTheExpectedText) {
  expect_caught(run(doctest_job(code(R"PY(class Four:  # @M@
    def __repr__(self): return "4"
def f(x): return Four()
)PY"))));
}

// Prints its honest 0, but __eq__ says yes when compared with the expected value.
// Old harness (520eb51): passed -- let through.
TEST_F(RedTeamValues, DoctestValueEqualToTheExpected) {
  expect_caught(run(doctest_job(code(R"PY(class Zero:  # @M@
    def __eq__(self, other): return True
    def __repr__(self): return "0"
def f(x): return Zero()
)PY"))));
}

// Writes the expected text to sys.__stdout__, to the saved stdout and to fd 1, past the
// example's capture, and returns None.
// Old harness (520eb51): failed -- caught.
TEST_F(RedTeamValues, DoctestWritesPastTheCapture) {
  expect_caught(run(doctest_job(code(R"PY(import os, sys  # @M@
saved = sys.stdout
def f(x):
    for stream in (sys.__stdout__, saved):
        stream.write("4\n")
        stream.flush()
    os.write(1, b"4\n")
)PY"))));
}

// run_example computes eq with bool(), looked up in the builtins the candidate shares.
// Old harness (520eb51): passed -- let through.
TEST_F(RedTeamValues, DoctestBuiltinsBoolReplaced) {
  expect_caught(run(doctest_job(code(R"PY(import builtins  # @M@
builtins.bool = lambda *value: True
def f(x): return 0
)PY"))));
}

// run_example replaced through sys.modules['__main__'].__dict__: it reports the wanted text.
// Old harness (520eb51): passed -- let through.
TEST_F(RedTeamValues, DoctestRunExampleReplaced) {
  expect_caught(run(doctest_job(code(R"PY(import sys  # @M@
def run_example(case, *rest): return case["want"] + "\n", True
sys.modules["__main__"].__dict__["run_example"] = run_example
def f(x): return 0
)PY"))));
}

// ---- 5. generators and iterators --------------------------------------------------------

// Yields 0s the first time it is iterated and the answer the second time: the tests' second
// look sees the answer.
// Old harness (520eb51): passed -- let through.
TEST_F(RedTeamValues, IterableRightOnlyTheSecondTime) {
  const char* tests = R"PY(def check(candidate):
    got = candidate(3)
    assert sum(1 for _ in got) == 3
    assert list(got) == [1, 2, 3]
)PY";
  std::string candidate = code(R"PY(class Twice:  # @M@
    def __init__(self):
        self.rounds = 0
    def __iter__(self):
        self.rounds += 1
        return iter([0, 0, 0] if self.rounds == 1 else [1, 2, 3])
def f(n): return Twice()
)PY");
  expect_caught(run(check_job(candidate, tests)));
}

// A generator that never ends where a list is expected.
// Old harness (520eb51): timeout -- caught.
TEST_F(RedTeamValues, InfiniteGenerator) {
  const char* tests = R"PY(def check(candidate):
    assert list(candidate(3)) == [1, 2, 3]
)PY";
  std::string candidate = code(R"PY(import itertools  # @M@
def f(n): return (i for i in itertools.count(1))
)PY");
  expect_caught(run(check_job(candidate, tests)));
}

// ---- 6. exceptions ----------------------------------------------------------------------

// StopIteration raised inside map() looks like the end of the iterable to all().
// Old harness (520eb51): passed -- let through.
// The judge's first build let it through (it re-raised the builtin StopIteration); now it
// crosses under RuntimeError, as PEP 479 does for generators.
TEST_F(RedTeamValues, StopIterationEndsTheTestsMapEarly) {
  const char* tests = R"PY(def check(candidate):
    assert all(map(lambda x: candidate(x) == x + 1, range(5)))
)PY";
  std::string candidate = code(R"PY(def f(x): raise StopIteration  # @M@)PY");
  expect_caught(run(check_job(candidate, tests)));
}

// A class named ValueError that is not one: `except ValueError` must not catch it.
// Old harness (520eb51): failed -- caught.
TEST_F(RedTeamValues, ExceptionNamedValueErrorIsNotAValueError) {
  const char* tests = R"PY(def check(candidate):
    try:
        candidate(-1)
    except ValueError:
        pass
    else:
        raise AssertionError('no ValueError')
    assert candidate(2) == 4
)PY";
  std::string candidate = code(R"PY(class ValueError(Exception):  # @M@
    pass
def f(x):
    if x < 0:
        raise ValueError("negative")
    return x * x
)PY");
  expect_caught(run(check_job(candidate, tests)));
}

// A fake AssertionError, a lying AssertionError subclass, KeyboardInterrupt, SystemExit,
// GeneratorExit and StopIteration raised from the function: none is a pass.
// Old harness (520eb51): failed -- caught.
TEST_F(RedTeamValues, RaisingPastTheAssert) {
  for (const char* candidate : {
           R"PY(class AssertionError(Exception):  # @M@
    pass
def f(x):
    raise AssertionError("passed")
)PY",
           R"PY(class Quiet(AssertionError):  # @M@
    def __str__(self): return "passed"
    def __repr__(self): return "passed"
def f(x):
    raise Quiet()
)PY",
           R"PY(def f(x): raise KeyboardInterrupt  # @M@)PY",
           R"PY(def f(x): raise SystemExit(0)  # @M@)PY",
           R"PY(def f(x): raise GeneratorExit  # @M@)PY",
           R"PY(def f(x): raise StopIteration(x + 1)  # @M@)PY"})
    expect_caught(run(check_job(code(candidate))));
}

// ---- 7. in-place mutation ---------------------------------------------------------------

// Sorts nothing: tries to retype the caller's list, returns a list subclass equal to
// anything.
// Old harness (520eb51): failed -- caught.
TEST_F(RedTeamValues, InPlaceSortOnlyPretended) {
  const char* tests = R"PY(def check(candidate):
    data = [3, 1, 2]
    result = candidate(data)
    assert result is None or result == [1, 2, 3]
    assert data == [1, 2, 3]
)PY";
  std::string candidate = code(R"PY(class Sorted(list):  # @M@
    def __eq__(self, other): return True
def f(data):
    try:
        data.__class__ = Sorted
    except TypeError:
        pass
    return Sorted(data)
)PY");
  expect_caught(run(check_job(candidate, tests)));
}

}  // namespace
