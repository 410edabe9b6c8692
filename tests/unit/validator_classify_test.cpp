// The host side of the validator without a sandbox: how raw harness facts become a
// verdict, which tests a suite must complete, and doctest's output comparison. The
// sandbox itself is exercised for real in tests/e2e/validator_test.cpp and
// tests/e2e/sandbox_adversarial_test.cpp.
#include <gtest/gtest.h>
#include <signal.h>

#include "validator/internal.h"

namespace yantra::validator {
namespace {

using nlohmann::json;

Job check_job() {
  Job job;
  job.code = "def f(x):\n    return x\n";
  job.tests = TestSuite::check("def check(c):\n    assert c(1) == 1\n", "f");
  return job;
}

json reply(json markers) {
  return {{"id", 1}, {"markers", std::move(markers)}, {"forged", 0}, {"timed_out", false},
          {"exit_code", 0}, {"stdout", ""}, {"stderr", ""}, {"leftover", 0}};
}

TEST(Classify, PassesOnlyWhenEveryExpectedTestReportedCompletion) {
  RunResult r = classify(check_job(), reply({{{"k", "start"}, {"i", 0}},
                                             {{"k", "pass"}, {"i", 0}},
                                             {{"k", "done"}}}));
  EXPECT_EQ(r.status, Status::passed) << r.reason;
  ASSERT_EQ(r.tests.size(), 1u);
  EXPECT_EQ(r.tests[0].outcome, Outcome::passed);
}

TEST(Classify, ExitZeroWithoutMarkersIsNotAPass) {
  json j = reply(json::array());
  j["stdout"] = "All tests passed\n";
  RunResult r = classify(check_job(), j);
  EXPECT_EQ(r.status, Status::error);
  EXPECT_NE(r.reason.find("before the tests completed"), std::string::npos) << r.reason;
  EXPECT_EQ(r.tests[0].outcome, Outcome::not_run);
}

TEST(Classify, PassWithoutTheEndMarkerIsNotAPass) {
  RunResult r = classify(check_job(), reply({{{"k", "pass"}, {"i", 0}}}));
  EXPECT_EQ(r.status, Status::error);
}

TEST(Classify, ACandidateGoneMidRunIsAnErrorEvenAfterPasses) {
  // The judge reports the candidate's process gone (exited, killed, or sending what is
  // not a frame of plain data) and ends without `done`: nothing before it counts.
  json j = reply({{{"k", "start"}, {"i", 0}},
                  {{"k", "pass"}, {"i", 0}},
                  {{"k", "gone"}, {"msg", "the candidate process ended during a call of f()"}}});
  j["candidate_exit"] = 3;
  RunResult r = classify(check_job(), j);
  EXPECT_EQ(r.status, Status::error);
  EXPECT_NE(r.reason.find("during a call of f()"), std::string::npos) << r.reason;
  EXPECT_NE(r.reason.find("exited with code 3"), std::string::npos) << r.reason;

  json cpu = reply({{{"k", "start"}, {"i", 0}}, {{"k", "gone"}, {"msg", "gone"}}});
  cpu["signal"] = SIGXCPU;  // the zygote reports the candidate's own end
  EXPECT_EQ(classify(check_job(), cpu).status, Status::timeout);
}

TEST(Classify, ForgedLinesMakeTheRunAnError) {
  json j = reply({{{"k", "pass"}, {"i", 0}}, {{"k", "done"}}});
  j["forged"] = 2;
  RunResult r = classify(check_job(), j);
  EXPECT_EQ(r.status, Status::error);
  EXPECT_NE(r.reason.find("forged"), std::string::npos);
}

TEST(Classify, LimitsAndSignals) {
  json timed = reply(json::array());
  timed["timed_out"] = true;
  EXPECT_EQ(classify(check_job(), timed).status, Status::timeout);

  json xcpu = reply(json::array());
  xcpu.erase("exit_code");
  xcpu["signal"] = SIGXCPU;
  EXPECT_EQ(classify(check_job(), xcpu).status, Status::timeout);

  json segv = reply({{{"k", "start"}, {"i", 0}}});
  segv["signal"] = SIGSEGV;
  RunResult crashed = classify(check_job(), segv);
  EXPECT_EQ(crashed.status, Status::crashed);
  EXPECT_NE(crashed.reason.find("SIGSEGV"), std::string::npos) << crashed.reason;

  RunResult memory = classify(check_job(), reply({{{"k", "error"}, {"i", 0}, {"type", "MemoryError"},
                                                   {"msg", "MemoryError: "}},
                                                  {{"k", "done"}}}));
  EXPECT_EQ(memory.status, Status::memory);
}

TEST(Classify, AssertionFailureAndLoadErrors) {
  RunResult failed = classify(check_job(), reply({{{"k", "fail"}, {"i", 0}, {"msg", "AssertionError: "},
                                                   {"line", 2}},
                                                  {{"k", "done"}}}));
  EXPECT_EQ(failed.status, Status::failed);
  EXPECT_EQ(failed.tests[0].outcome, Outcome::failed);
  EXPECT_NE(failed.tests[0].message.find(":2: AssertionError"), std::string::npos)
      << failed.tests[0].message;

  RunResult load = classify(check_job(), reply({{{"k", "load_error"}, {"msg", "SyntaxError: bad"},
                                                 {"line", 3}}}));
  EXPECT_EQ(load.status, Status::error);
  EXPECT_NE(load.reason.find("candidate:3: SyntaxError"), std::string::npos) << load.reason;
}

TEST(Classify, DoctestOutputIsComparedByTheHost) {
  Job job;
  job.tests.form = TestForm::doctest;
  job.tests.cases = {{"example 1", "f(2)", "4", true, "request:3:9"}};
  RunResult same = classify(job, reply({{{"k", "got"}, {"i", 0}, {"out", "4\n"}, {"eq", nullptr}},
                                        {{"k", "done"}}}));
  EXPECT_EQ(same.status, Status::passed) << same.reason;
  // The harness's own equality claim does not override different text unless it holds.
  RunResult different = classify(job, reply({{{"k", "got"}, {"i", 0}, {"out", "5\n"}, {"eq", false}},
                                             {{"k", "done"}}}));
  EXPECT_EQ(different.status, Status::failed);
  EXPECT_NE(different.tests[0].message.find("expected 4"), std::string::npos);
}

TEST(Classify, PytestNeedsEveryTestTheHostFound) {
  Job job;
  job.tests = TestSuite::pytest(
      "from solution import f\n\ndef test_a():\n    assert f(1) == 1\n\n"
      "class TestB:\n    def test_b(self):\n        assert f(2) == 2\n");
  json only_a = reply({{{"k", "case"}, {"name", "test_solution.py::test_a"}, {"when", "call"},
                        {"outcome", "passed"}},
                       {{"k", "done"}}});
  RunResult r = classify(job, only_a);
  EXPECT_EQ(r.status, Status::failed) << "a deleted test must not shrink the suite";
  EXPECT_EQ(r.tests[1].name, "TestB::test_b");
  EXPECT_EQ(r.tests[1].outcome, Outcome::not_run);

  json skipped = reply({{{"k", "case"}, {"name", "test_solution.py::test_a"}, {"when", "setup"},
                         {"outcome", "skipped"}},
                        {{"k", "case"}, {"name", "test_solution.py::TestB::test_b"}, {"when", "call"},
                         {"outcome", "passed"}},
                        {{"k", "done"}}});
  EXPECT_EQ(classify(job, skipped).status, Status::failed);
}

TEST(Suites, ExpectedTestsComeFromTheHostsReading) {
  TestSuite s = TestSuite::pytest(
      "import pytest\n"
      "def helper(): pass\n"
      "def test_one(): pass\n"
      "@pytest.mark.parametrize('x', [1, 2])\n"
      "def test_two(x): pass\n"
      "class TestThing:\n"
      "    def test_three(self): pass\n"
      "    def helper(self): pass\n"
      "class Other:\n"
      "    def test_not_collected(self): pass\n");
  EXPECT_EQ(expected_tests(s),
            (std::vector<std::string>{"test_one", "test_two", "TestThing::test_three"}));
  EXPECT_EQ(expected_tests(TestSuite::check("def check(c): pass", "f")),
            std::vector<std::string>{"check"});
}

TEST(Suites, AssertsFileSplitsCasesFromSetup) {
  TestSuite s = TestSuite::asserts_file("import math\n# a comment\nassert f(1) == 1\n\nassert f(2) == 2\n");
  ASSERT_EQ(s.cases.size(), 2u);
  EXPECT_EQ(s.cases[0].code, "assert f(1) == 1");
  EXPECT_EQ(s.cases[1].origin, "tests:5");
  EXPECT_EQ(s.setup, "import math\n");
}

TEST(Suites, GuessForm) {
  EXPECT_EQ(TestSuite::guess_form("def check(candidate):\n    pass\n"), TestForm::check);
  EXPECT_EQ(TestSuite::guess_form("def test_x():\n    pass\n"), TestForm::pytest);
  EXPECT_EQ(TestSuite::guess_form(">>> f(1)\n1\n"), TestForm::doctest);
  EXPECT_EQ(TestSuite::guess_form("assert f(1) == 1\n"), TestForm::asserts);
}

TEST(Doctest, OutputComparison) {
  EXPECT_TRUE(doctest_output_matches("4", "4\n"));
  EXPECT_TRUE(doctest_output_matches("a  \nb", "a\nb\n"));
  EXPECT_TRUE(doctest_output_matches("a\n<BLANKLINE>\nb", "a\n\nb\n"));
  EXPECT_FALSE(doctest_output_matches("[1,2]", "[1, 2]\n"));
  EXPECT_FALSE(doctest_output_matches("4", "5\n"));
}

TEST(Request, JsonCarriesLimitsAndCases) {
  Job job = check_job();
  job.limits.cpu_seconds = 7;
  json j = request_json(job, 42);
  EXPECT_EQ(j["id"], 42);
  EXPECT_EQ(j["form"], "check");
  EXPECT_EQ(j["limits"]["cpu_seconds"], 7);
  EXPECT_EQ(j["entry_point"], "f");
}

}  // namespace
}  // namespace yantra::validator
