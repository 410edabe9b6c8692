// What the sandbox tests share: candidates and suites for hostile runs, the checks of what
// a run may leave on the host (processes, temp files), and a fixture holding one warm
// validator per suite. Used by sandbox_adversarial_test.cpp and the red-team tests.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "../unit/test_support.h"
#include "validator/validator.h"

namespace yantra::testing::sandbox {

namespace fs = std::filesystem;
namespace v = yantra::validator;
using v::Job;
using v::Outcome;
using v::RunResult;
using v::Status;

inline constexpr double kWall = 1.0;  // the wall limit of runs that are meant to time out

inline constexpr const char* kCheckPlusOne =
    "def check(candidate):\n"
    "    for x in range(5):\n"
    "        assert candidate(x) == x + 1\n";

inline std::string random_hex() {
  std::random_device rd;
  std::ostringstream out;
  out << std::hex << rd() << rd();
  return out.str();
}

// Unique per test and per test process: concurrent runs of this suite cannot collide.
inline std::string fresh_marker() {
  static std::atomic<int> counter{0};
  return "yantra-sbx-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" +
         random_hex();
}

// `text` with each @KEY@ replaced: Python's own braces stay untouched.
inline std::string fill(std::string text, const std::map<std::string, std::string>& values) {
  for (const auto& [key, value] : values) {
    std::string token = "@" + key + "@";
    for (size_t at = text.find(token); at != text.npos; at = text.find(token, at + value.size()))
      text.replace(at, token.size(), value);
  }
  return text;
}

inline Job check_job(std::string code, std::string tests = kCheckPlusOne, double wall = 3.0) {
  Job job;
  job.code = std::move(code);
  job.tests = v::TestSuite::check(std::move(tests), "f");
  job.limits.wall_seconds = wall;
  return job;
}

inline Job asserts_job(std::string code, std::string assertion, std::string setup = {}) {
  Job job;
  job.code = std::move(code);
  job.tests = v::TestSuite::asserts({std::move(assertion)}, std::move(setup));
  return job;
}

// One doctest example that wants f(2) to show 4.
inline Job doctest_job(std::string code) {
  Job job;
  job.code = std::move(code);
  job.tests = v::TestSuite::doctest(">>> f(2)\n4\n");
  return job;
}

inline std::string describe(const RunResult& r) {
  return "\nresult: " + v::to_json(r);
}

// A hostile candidate's trick failed: neither the run nor any of its tests passed.
inline void expect_caught(const RunResult& r) {
  EXPECT_NE(r.status, Status::passed) << "the attack got a pass" << describe(r);
  ASSERT_FALSE(r.tests.empty()) << describe(r);
  for (const auto& t : r.tests) EXPECT_NE(t.outcome, Outcome::passed) << t.name << describe(r);
}

// ---- what a run may leave on the host ------------------------------------------------

struct HostProcess {
  int pid = 0;
  int ppid = 0;
  std::vector<std::string> nspid;  // from /proc/PID/status: host pid first, innermost last
  std::string cmdline;             // NULs as spaces
  std::string comm;                // the name in /proc/PID/stat
};

inline std::vector<HostProcess> host_processes() {
  std::vector<HostProcess> out;
  std::error_code ec;
  for (fs::directory_iterator it("/proc", ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != name.npos) continue;
    HostProcess p;
    p.pid = std::stoi(name);
    std::string stat = read_bytes(it->path() / "stat");
    size_t paren = stat.rfind(')');    // the command name may hold spaces and parentheses
    if (paren == stat.npos) continue;  // gone meanwhile
    if (size_t open = stat.find('('); open < paren)
      p.comm = stat.substr(open + 1, paren - open - 1);
    std::istringstream fields(stat.substr(paren + 1));
    std::string state;
    fields >> state >> p.ppid;
    std::istringstream status(read_bytes(it->path() / "status"));
    for (std::string line; std::getline(status, line);) {
      if (!line.starts_with("NSpid:")) continue;
      std::istringstream ids(line.substr(6));
      for (std::string id; ids >> id;) p.nspid.push_back(id);
    }
    p.cmdline = read_bytes(it->path() / "cmdline");
    for (char& c : p.cmdline) c = c == '\0' ? ' ' : c;
    out.push_back(std::move(p));
  }
  return out;
}

inline std::string show(const std::vector<HostProcess>& procs) {
  std::string out;
  for (const auto& p : procs)  // the harness's command line is its whole source: cut it
    out += "\n  pid " + std::to_string(p.pid) + ": " + p.cmdline.substr(0, 160);
  return out;
}

// Every process on the host whose command line holds `needle`, except this one.
inline std::vector<HostProcess> processes_with(std::string_view needle) {
  std::vector<HostProcess> found;
  for (auto& p : host_processes())
    if (p.pid != ::getpid() && contains(p.cmdline, needle)) found.push_back(std::move(p));
  return found;
}

// Processes inside one of this test process's sandboxes other than their harness (PID 1
// there) and its warm judge (one child of that PID 1 named yantra-judge, at most): between
// runs a sandbox holds nothing else, whatever the last run started. Orphans re-parent to
// that PID 1, so they stay descendants of this process.
inline std::vector<HostProcess> stray_sandbox_processes() {
  auto all = host_processes();
  std::set<int> ours = {::getpid()};
  std::set<int> harnesses;  // host pids of the sandboxes' PID 1
  for (bool grew = true; grew;) {
    grew = false;
    for (const auto& p : all)
      if (ours.contains(p.ppid) && ours.insert(p.pid).second) grew = true;
  }
  for (const auto& p : all)
    if (ours.contains(p.pid) && p.nspid.size() > 1 && p.nspid.back() == "1")
      harnesses.insert(p.pid);
  std::vector<HostProcess> stray;
  std::set<int> judged;  // harnesses whose one judge was seen
  for (const auto& p : all) {
    if (!ours.contains(p.pid) || p.nspid.size() < 2 || p.nspid.back() == "1") continue;
    bool judge = p.comm == "yantra-judge" && harnesses.contains(p.ppid);
    if (judge && judged.insert(p.ppid).second) continue;
    stray.push_back(p);
  }
  return stray;
}

// `probe()` until it finds nothing, for up to two seconds; what it found last.
template <class Probe>
inline auto within_two_seconds(Probe probe) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  auto found = probe();
  while (!found.empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    found = probe();
  }
  return found;
}

// The names the harness gives its per-run files, as they would show in the host's /tmp if
// the sandbox's private /tmp leaked.
inline std::set<std::string> host_run_files() {
  std::set<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it("/tmp", ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name.starts_with("run-") || name.starts_with(".stdout-") || name.starts_with(".stderr-"))
      names.insert(name);
  }
  return names;
}

// Runs `job` and checks what it left on the host: no process holding `marker`, nothing but
// the harness in the sandbox, no new sandbox temp file in the host's /tmp.
inline RunResult run_and_check_host(v::Validator& validator, const Job& job,
                                    std::string_view marker) {
  auto before = host_run_files();
  RunResult r = validator.run(job);
  auto left = within_two_seconds([&] { return processes_with(marker); });
  EXPECT_TRUE(left.empty()) << "processes of the run survived it:" << show(left) << describe(r);
  auto stray = within_two_seconds(stray_sandbox_processes);
  EXPECT_TRUE(stray.empty()) << "processes left in the sandbox:" << show(stray) << describe(r);
  std::string fresh;
  for (const auto& name : host_run_files())
    if (!before.contains(name)) fresh += " /tmp/" + name;
  EXPECT_TRUE(fresh.empty()) << "sandbox temp files on the host:" << fresh;
  return r;
}

// ---- the fixture: one warm validator for the suite -----------------------------------

class WarmSandbox : public ::testing::Test {
 protected:
  // Set-up problems fail every test: an assertion in SetUpTestSuite would only skip them.
  static void SetUpTestSuite() {
    if (auto why = v::sandbox_unavailable()) {
      setup_error_ = *why;
      return;
    }
    auto pool = v::Validator::start({.workers = 2});
    if (!pool) {
      setup_error_ = pool.error().message;
      return;
    }
    validator_ = std::move(pool).value();
  }
  static void TearDownTestSuite() { validator_.reset(); }

  void SetUp() override {
    ASSERT_TRUE(validator_) << "the sandbox cannot run here: " << setup_error_;
    marker_ = fresh_marker();
  }

  // One run on the shared validator, with the host checks of run_and_check_host.
  RunResult run(const Job& job) { return run_and_check_host(*validator_, job, marker_); }
  RunResult run_on(v::Validator& validator, const Job& job) {
    return run_and_check_host(validator, job, marker_);
  }
  // `text` with @M@ standing for this test's marker, and @KEY@ for the `more` values.
  std::string code(std::string text, std::map<std::string, std::string> more = {}) const {
    more["M"] = marker_;
    return fill(std::move(text), more);
  }
  // A validator of its own, for tests that need a fresh or a single sandbox.
  static std::unique_ptr<v::Validator> own_validator() {
    auto pool = v::Validator::start({.workers = 1});
    return pool ? std::move(pool).value() : nullptr;
  }

  static inline std::unique_ptr<v::Validator> validator_;
  static inline std::string setup_error_;
  std::string marker_;
};

}  // namespace yantra::testing::sandbox
