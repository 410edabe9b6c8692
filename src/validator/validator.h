// validator: runs untrusted Python against tests in a bubblewrap sandbox, honestly.
//
//   auto pool = Validator::start({.workers = 2});         // warm sandboxes, one per core
//   if (!pool) return pool.error();                        // e.g. bubblewrap is missing
//   Job job;
//   job.code = "def add(a, b):\n    return a + b\n";
//   job.tests = TestSuite::check("def check(c):\n    assert c(1, 2) == 3\n", "add");
//   RunResult r = (*pool)->run(job);
//   r.status   // Status::passed only if every expected test reported completion
//              // to the harness outside the untrusted process
//
//   auto examples = extract_request_tests(prompt_text, "add");  // ">>> add(1, 2)\n3"
//
// Each run gets a fresh process (forked from a warm interpreter inside a long-lived
// sandbox), its own empty temp directory, rlimits and a wall-clock timeout. Exit codes
// and stdout never decide a verdict: only per-test markers the harness sends on a
// private channel, checked against the tests the host expects.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/base.h"

namespace yantra::validator {

enum class Status { passed, failed, error, timeout, memory, crashed, sandbox_error };
std::string_view to_string(Status s);
std::optional<Status> status_from_string(std::string_view s);

enum class TestForm {
  check,    // HumanEval: `source` defines check(candidate); called with entry_point
  asserts,  // MBPP: each case is statements (asserts), `setup` runs first
  pytest,   // `source` is a pytest file importing the candidate module `solution`
  doctest,  // each case is a doctest example: code + expected output
};
std::string_view to_string(TestForm f);
std::optional<TestForm> form_from_string(std::string_view s);

// One test. For doctest-style cases `want` holds the expected output (compared like
// doctest does); otherwise `code` is statements that raise on failure.
struct TestCase {
  std::string name;    // "check", "assert 2", "example 3", "test_parse"
  std::string code;
  std::string want;
  bool doctest_style = false;
  std::string origin;  // where it came from, e.g. "request:12:9" or "tests.py:3:1"
};

struct TestSuite {
  TestForm form = TestForm::asserts;
  std::string entry_point;  // the function under test (check form, request examples)
  std::string source;       // check / pytest forms: the test file's text
  std::string setup;        // asserts form: code run before the cases
  std::vector<TestCase> cases;

  static TestSuite check(std::string source, std::string entry_point);
  static TestSuite asserts(std::vector<std::string> asserts, std::string setup = {});
  // A Python file: each top-level assert is a case, every other statement is setup.
  static TestSuite asserts_file(std::string_view source);
  // The form a test file most likely has: check if it defines check(), pytest if it
  // defines test_* functions, doctest if it holds >>> examples, else asserts.
  static TestForm guess_form(std::string_view source);
  static TestSuite pytest(std::string source);  // expected tests found with tree-sitter
  static TestSuite doctest(std::string_view text, std::string_view origin_name = "doctest");
};

// The tests a run must complete to pass, by name, as the host reads them from the
// suite (pytest files: with tree-sitter), never as the untrusted process reports them.
std::vector<std::string> expected_tests(const TestSuite& suite);

// Tests written in a request ("Example: f(2) ==> 4", ">>> f(2)\n4", "should return"),
// each recording where in the request it came from. Only calls of `entry_point` are
// taken when it is non-empty.
std::vector<TestCase> extract_request_tests(std::string_view request,
                                            std::string_view entry_point);

// CPU time is the limit that decides `timeout` for busy code: it does not depend on how
// loaded the machine is. The wall-clock limit catches code that sleeps or blocks.
struct Limits {
  double wall_seconds = 6.0;
  int cpu_seconds = 3;
  uint64_t address_space_bytes = 1ull << 30;
  int processes = 32;
  uint64_t file_size_bytes = 16ull << 20;  // also caps captured stdout/stderr
  int open_files = 128;
  uint32_t excerpt_bytes = 4096;           // how much stdout/stderr a result keeps
};

struct Job {
  std::string code;  // the candidate: module `solution` for the pytest form
  TestSuite tests;
  Limits limits;
};

enum class Outcome { passed, failed, error, skipped, not_run };
std::string_view to_string(Outcome o);

struct TestOutcome {
  std::string name;
  Outcome outcome = Outcome::not_run;
  std::string message;  // "AssertionError: ...", "expected 3, got 4"
  std::string got;      // doctest-style cases: what the example printed and evaluated to
};

struct RunResult {
  Status status = Status::sandbox_error;
  std::string reason;  // one line: why this status
  std::vector<TestOutcome> tests;
  double seconds = 0;
  std::string stdout_excerpt;
  std::string stderr_excerpt;
  int leftover_processes = 0;  // killed after the run: orphans, daemons, fork bombs
};
std::string to_json(const RunResult& r);

// Starts a sandbox process and gives back its pipes. The real one runs bubblewrap;
// tests inject failing ones.
struct SandboxProcess {
  int pid = -1;
  int to_child = -1;    // requests go here
  int from_child = -1;  // replies come from here
};
class Launcher {
 public:
  virtual ~Launcher() = default;
  virtual Result<SandboxProcess> launch() = 0;
};
// bubblewrap + /usr/bin/python3 running the embedded harness. `python` is for tests.
std::unique_ptr<Launcher> bubblewrap_launcher(std::string python = "/usr/bin/python3");
// Why this machine cannot sandbox (bubblewrap missing, user namespaces disabled), or
// nullopt if it can.
std::optional<std::string> sandbox_unavailable();

struct PoolOptions {
  int workers = 0;  // 0: one per core
  std::function<std::unique_ptr<Launcher>()> make_launcher;  // default: bubblewrap
};

class Validator {
 public:
  static Result<std::unique_ptr<Validator>> start(PoolOptions options = {});
  virtual ~Validator() = default;

  virtual RunResult run(const Job& job) = 0;
  // Runs jobs on all workers; results in job order. `on_done` is called from worker
  // threads, serialised, after each job.
  virtual std::vector<RunResult> run_all(
      std::span<const Job> jobs,
      const std::function<void(size_t index, const RunResult&)>& on_done = {}) = 0;
  virtual int workers() const = 0;
  // Stops every sandbox now (they restart on the next run): frees the cores.
  virtual void reset() = 0;
};

}  // namespace yantra::validator
