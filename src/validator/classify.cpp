// From the harness's raw facts to a verdict.
//
// A run is `passed` only when every test the host expects reported completion with the
// run's nonce, the harness reached its end marker, nothing was forged or tampered with,
// and no limit was hit. Exit codes and stdout never count: a candidate that exits 0
// early or prints "All tests passed" has simply not completed its tests.
#include <signal.h>

#include <algorithm>
#include <map>

#include "validator/internal.h"

namespace yantra::validator {
namespace {

using nlohmann::json;

// A MemoryError reported by the harness, or, when the harness could not report (no
// memory left to do it), one in the run's stderr.
bool mentions_memory_error(const json& reply, bool done) {
  for (const auto& m : reply["markers"]) {
    if (m.value("type", "") == "MemoryError") return true;
    if (m.value("msg", "").rfind("MemoryError", 0) == 0) return true;
  }
  return !done && reply.value("stderr", "").find("MemoryError") != std::string::npos;
}

std::string signal_name(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

std::string with_line(const json& m, std::string_view where) {
  std::string msg = m.value("msg", "");
  int line = m.value("line", 0);
  if (line > 0) return std::string(where).append(":").append(std::to_string(line)).append(": ").append(msg);
  return msg;
}

// Per-test outcomes from markers, for the forms numbered by the harness.
void fill_numbered(const Job& job, const json& markers, RunResult& r) {
  for (const auto& m : markers) {
    if (!m.contains("i")) continue;
    size_t i = m.value("i", size_t{0});
    if (i >= r.tests.size()) continue;
    TestOutcome& t = r.tests[i];
    std::string k = m.value("k", "");
    if (k == "pass") {
      t.outcome = Outcome::passed;
    } else if (k == "fail") {
      t.outcome = Outcome::failed;
      t.message = with_line(m, "test");
    } else if (k == "error") {
      t.outcome = Outcome::error;
      t.message = with_line(m, "test");
    } else if (k == "got" && job.tests.form != TestForm::check && i < job.tests.cases.size()) {
      const TestCase& c = job.tests.cases[i];
      std::string got = m.value("out", "");
      bool equal = m.contains("eq") && m["eq"].is_boolean() && m["eq"].get<bool>();
      bool same_text = doctest_output_matches(c.want, got);
      t.outcome = same_text || equal ? Outcome::passed : Outcome::failed;
      t.got = got;
      if (t.outcome == Outcome::failed) {
        t.message = "expected " + c.want + (c.want.ends_with('\n') ? "" : "\n") + "got " + got;
      }
    }
  }
}

// pytest reports node ids; an expected test function passes when all of its nodes
// (parametrised or not) passed and at least one ran.
void fill_pytest(const json& markers, RunResult& r) {
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < r.tests.size(); ++i) index[r.tests[i].name] = i;
  std::vector<int> seen(r.tests.size(), 0);
  for (const auto& m : markers) {
    if (m.value("k", "") != "case") continue;
    std::string node = m.value("name", "");
    size_t sep = node.find("::");
    std::string name = sep == node.npos ? node : node.substr(sep + 2);
    if (size_t bracket = name.find('['); bracket != name.npos) name.resize(bracket);
    auto it = index.find(name);
    if (it == index.end()) continue;  // a test the host did not expect cannot help
    TestOutcome& t = r.tests[it->second];
    std::string outcome = m.value("outcome", "");
    Outcome o = outcome == "passed"    ? Outcome::passed
                : outcome == "skipped" ? Outcome::skipped
                : m.value("when", "") == "call" ? Outcome::failed
                                                : Outcome::error;
    if (seen[it->second]++ == 0 || o != Outcome::passed) {
      if (t.outcome == Outcome::not_run || t.outcome == Outcome::passed) t.outcome = o;
    }
    if (o != Outcome::passed && t.message.empty()) t.message = m.value("msg", "");
  }
}

// Why a run that neither hit a limit nor crashed did not complete its tests. The judge
// says when the candidate's process went away mid-run (a `gone` marker); the zygote
// says how that process ended.
std::string unfinished_reason(const json& reply) {
  for (const auto& m : reply["markers"]) {
    if (m.value("k", "") != "gone") continue;
    std::string why = m.value("msg", "");
    if (reply.contains("candidate_exit"))
      why += "; it exited with code " + std::to_string(reply.value("candidate_exit", 0));
    return why + ", before the tests completed";
  }
  return "the process exited (code " + std::to_string(reply.value("exit_code", 0)) +
         ") before the tests completed";
}

// Limits, crashes and broken harness contracts, in order of precedence; empty if none.
std::optional<std::pair<Status, std::string>> abnormal_end(const json& reply, bool done) {
  int sig = reply.value("signal", 0);
  if (reply.value("timed_out", false))
    return std::pair{Status::timeout, std::string("wall-clock limit reached; the run was killed")};
  if (sig == SIGXCPU)
    return std::pair{Status::timeout, std::string("CPU-time limit reached (SIGXCPU)")};
  if (mentions_memory_error(reply, done))
    return std::pair{Status::memory, std::string("address-space limit reached (MemoryError)")};
  if (sig != 0)
    return std::pair{Status::crashed, "the run was killed by " + signal_name(sig)};
  if (int forged = reply.value("forged", 0); forged > 0)
    return std::pair{Status::error, std::to_string(forged) +
                                        " forged or malformed harness marker(s): not counted"};
  if (!done) return std::pair{Status::error, unfinished_reason(reply)};
  return std::nullopt;
}

}  // namespace

RunResult classify(const Job& job, const json& reply) {
  RunResult r;
  for (auto& name : expected_tests(job.tests)) r.tests.push_back({name, Outcome::not_run, ""});
  const json& markers = reply["markers"];
  r.stdout_excerpt = reply.value("stdout", "");
  r.stderr_excerpt = reply.value("stderr", "");
  r.leftover_processes = reply.value("leftover", 0);

  bool done = false;
  for (const auto& m : markers) {
    std::string k = m.value("k", "");
    if (k == "done") done = true;
    if (k == "load_error") {
      r.status = mentions_memory_error(reply, false) ? Status::memory : Status::error;
      r.reason = "the candidate failed to load: " + with_line(m, "candidate");
      return r;
    }
    if (k == "test_error") {
      r.status = Status::error;
      r.reason = "the tests failed to load: " + with_line(m, "tests");
      return r;
    }
    if (k == "tamper") {
      r.status = Status::error;
      r.reason = "the candidate tampered with the test framework: " + m.value("what", "");
      return r;
    }
  }
  if (job.tests.form == TestForm::pytest) {
    fill_pytest(markers, r);
  } else {
    fill_numbered(job, markers, r);
  }
  if (auto end = abnormal_end(reply, done)) {
    r.status = end->first;
    r.reason = end->second;
    return r;
  }
  if (r.tests.empty()) {
    r.status = Status::error;
    r.reason = "no tests to run: a run passes only by completing at least one test";
    return r;
  }
  auto not_passed = std::count_if(r.tests.begin(), r.tests.end(),
                                  [](const TestOutcome& t) { return t.outcome != Outcome::passed; });
  if (not_passed == 0) {
    r.status = Status::passed;
    r.reason = std::to_string(r.tests.size()) + " of " + std::to_string(r.tests.size()) +
               " tests completed and passed";
    return r;
  }
  auto first = std::find_if(r.tests.begin(), r.tests.end(),
                            [](const TestOutcome& t) { return t.outcome != Outcome::passed; });
  r.status = Status::failed;
  r.reason = std::to_string(not_passed) + " of " + std::to_string(r.tests.size()) +
             " tests did not pass; first: " + first->name + " (" +
             std::string(to_string(first->outcome)) +
             (first->message.empty() ? "" : ": " + first->message.substr(0, 300)) + ")";
  return r;
}

bool doctest_output_matches(std::string_view want, std::string_view got) {
  auto normalise = [](std::string_view text) {
    std::vector<std::string> lines;
    size_t start = 0;
    while (start <= text.size()) {
      size_t end = text.find('\n', start);
      if (end == text.npos) end = text.size();
      std::string line(text.substr(start, end - start));
      while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r'))
        line.pop_back();
      if (line == "<BLANKLINE>") line.clear();
      lines.push_back(std::move(line));
      start = end + 1;
    }
    while (!lines.empty() && lines.back().empty()) lines.pop_back();
    return lines;
  };
  return normalise(want) == normalise(got);
}

}  // namespace yantra::validator
