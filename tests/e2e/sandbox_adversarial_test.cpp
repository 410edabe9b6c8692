// Hostile candidates against the real bubblewrap sandbox. Each test asserts the exact
// status a run gets, that nothing of the run is left on the host afterwards (no process,
// no sandbox temp file) and, where the candidate tries to do harm, that the harm did not
// happen. A machine that cannot sandbox fails every test: CI installs bubblewrap, and a
// skipped adversarial suite would hide exactly what it exists to catch.
//
// Candidates are wrong on purpose wherever the trick is meant to fake a pass: the tests
// want f(x) == x + 1 and the candidate returns x, so only the trick can make it pass.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
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

#include "sandbox_support.h"

namespace {

using namespace yantra::testing::sandbox;
using yantra::testing::contains;
using yantra::testing::read_bytes;

constexpr const char* kPytestPlusOne =
    "from solution import f\n\n\n"
    "def test_one():\n    assert f(1) == 2\n\n\n"
    "def test_two():\n    assert f(2) == 3\n";

Job pytest_job(std::string solution) {
  Job job;
  job.code = std::move(solution);
  job.tests = v::TestSuite::pytest(kPytestPlusOne);
  return job;
}

// A temp directory on the host, removed with everything in it.
struct HostTempDir {
  fs::path path;
  HostTempDir() {
    std::string pattern = (fs::temp_directory_path() / "yantra-adv-XXXXXX").string();
    if (::mkdtemp(pattern.data())) path = pattern;
  }
  ~HostTempDir() {
    std::error_code ec;
    if (!path.empty()) fs::remove_all(path, ec);
  }
};

std::string home_dir() {
  if (const char* home = std::getenv("HOME"); home && *home) return home;
  const passwd* pw = ::getpwuid(::getuid());
  return pw ? pw->pw_dir : "/tmp";
}

class Adversarial : public WarmSandbox {};

// ---- 1. fork bomb ----------------------------------------------------------------------

constexpr const char* kBoundedBomb = R"PY(
import os, time
def f(limit):
    made = 0
    try:
        for _ in range(limit + 16):
            if os.fork() == 0:
                time.sleep(30)  # @M@: killed with the sandbox's other leftovers
                os._exit(0)
            made += 1
    except OSError:
        pass
    return made
)PY";

TEST_F(Adversarial, ForkBombIsContained) {
  // A bounded bomb first: the unbounded one runs only where forks are really capped, so
  // that a broken cap fails this test instead of taking the host down with it.
  Job probe = check_job(code(kBoundedBomb));
  std::string cap = std::to_string(probe.limits.processes);
  probe.tests.source = "def check(candidate):\n    assert candidate(" + cap + ") < " + cap + "\n";
  RunResult capped = run(probe);
  ASSERT_EQ(capped.status, Status::passed)
      << "forks are not capped at Limits::processes (RLIMIT_NPROC is not enforced, as for "
         "host uid 0); the unbounded fork bomb was not run"
      << describe(capped);
  EXPECT_GE(capped.leftover_processes, 16);

  std::string bomb = code("import os\ndef f(x):\n    while True:\n        os.fork()  # @M@\n");
  RunResult r = run(check_job(bomb, kCheckPlusOne, kWall));
  // The first fork past the cap raises BlockingIOError in the function under test.
  EXPECT_EQ(r.status, Status::failed) << describe(r);
  ASSERT_EQ(r.tests.size(), 1u);
  EXPECT_EQ(r.tests[0].outcome, Outcome::error) << describe(r);
  EXPECT_GE(r.leftover_processes, 1) << describe(r);
  EXPECT_LT(r.seconds, kWall + 3) << describe(r);
}

// ---- 2. memory bomb -------------------------------------------------------------------

TEST_F(Adversarial, MemoryBombOneAllocation) {
  std::string hog = code("def f(x):\n    blob = bytearray(8 << 30)  # @M@\n    return x + 1\n");
  RunResult r = run(check_job(hog));
  EXPECT_EQ(r.status, Status::memory) << describe(r);
}

TEST_F(Adversarial, MemoryBombGrowingList) {
  std::string hog = code(
      "def f(x):\n    hoard = []  # @M@\n    while True:\n        hoard.append(' ' * (1 << 20))\n");
  // Touching a gigabyte takes 0.6 s to 3 s on a busy machine: room to reach the limit.
  Job job = check_job(hog, kCheckPlusOne, 10.0);
  job.limits.cpu_seconds = 10;
  RunResult r = run(job);
  EXPECT_EQ(r.status, Status::memory) << describe(r);
}

// ---- 3. infinite loop -----------------------------------------------------------------

TEST_F(Adversarial, InfiniteLoopTimesOut) {
  std::string loop = code("def f(x):\n    while True:  # @M@\n        pass\n");
  RunResult r = run(check_job(loop, kCheckPlusOne, kWall));
  EXPECT_EQ(r.status, Status::timeout) << describe(r);
  EXPECT_GE(r.seconds, kWall * 0.9) << describe(r);
  EXPECT_LT(r.seconds, kWall + 3) << describe(r);
}

// ---- 4. spinning threads --------------------------------------------------------------

constexpr const char* kSpinner = R"PY(
import threading
def _spin():
    while True:  # @M@
        pass
_spinner = threading.Thread(target=_spin)
_spinner.start()
)PY";

TEST_F(Adversarial, SpinningThreadBesideACorrectFunction) {
  // The tests really complete while the thread spins: passed is the right verdict.
  std::string spinner = code(std::string(kSpinner) + "def f(x):\n    return x + 1\n");
  RunResult r = run(check_job(spinner));
  EXPECT_EQ(r.status, Status::passed) << describe(r);
  ASSERT_EQ(r.tests.size(), 1u);
  EXPECT_EQ(r.tests[0].outcome, Outcome::passed) << describe(r);
}

TEST_F(Adversarial, FunctionJoiningASpinningThreadTimesOut) {
  std::string joiner =
      code(std::string(kSpinner) + "def f(x):\n    _spinner.join()\n    return x + 1\n");
  RunResult r = run(check_job(joiner, kCheckPlusOne, kWall));
  EXPECT_EQ(r.status, Status::timeout) << describe(r);
  EXPECT_LT(r.seconds, kWall + 3) << describe(r);
}

// ---- 5. a gigabyte of output ----------------------------------------------------------

TEST_F(Adversarial, GigabyteOfOutputIsCutOff) {
  std::string chatter = code(R"PY(
import sys
def f(x):
    for _ in range(1024):  # @M@
        sys.stdout.write("x" * (1 << 20))
    return x + 1
)PY");
  RunResult r = run(check_job(chatter));
  // RLIMIT_FSIZE stops the output at 16 MiB: Python ignores SIGXFSZ, so the write raises
  // EFBIG in the function under test.
  EXPECT_EQ(r.status, Status::failed) << describe(r);
  EXPECT_LT(r.seconds, 2.0) << describe(r);
  EXPECT_LT(r.stdout_excerpt.size(), 64u << 10);
  EXPECT_LT(r.stderr_excerpt.size(), 64u << 10);
}

// ---- 6. network -----------------------------------------------------------------------

TEST_F(Adversarial, NetworkConnectToTheHostFails) {
  // CLOEXEC: the listener must not reach a sandbox started during this test.
  int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener, 8), 0);
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  std::string port = std::to_string(ntohs(addr.sin_port));

  std::string caller = code(R"PY(
import socket
def f(x):
    with socket.create_connection(("127.0.0.1", @PORT@), timeout=1) as s:  # @M@
        s.sendall(b"@M@")
    return x + 1
)PY",
                            {{"PORT", port}});
  RunResult r = run(check_job(caller));
  EXPECT_EQ(r.status, Status::failed) << describe(r);
  EXPECT_TRUE(contains(r.reason, "ConnectionRefusedError")) << describe(r);

  pollfd p{listener, POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 0), 0) << "the host listener has a pending connection";
  EXPECT_LT(::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC), 0)
      << "the sandbox connected to 127.0.0.1:" << port << " on the host";
  ::close(listener);
}

// ---- 7. writes outside the run's directory --------------------------------------------

TEST_F(Adversarial, WritesOutsideTheTempDirDoNotReachTheHost) {
  HostTempDir dir;
  ASSERT_FALSE(dir.path.empty());
  ASSERT_FALSE(fs::exists("/usr/yantra_evil")) << "left over from elsewhere; remove it first";
  std::string writer = code(R"PY(
def f(x):
    failures = []
    for path in ("@DIR@/evil.txt", "/usr/yantra_evil"):
        try:
            with open(path, "w") as out:
                out.write("@M@")
        except OSError as e:
            failures.append(e)
    if failures:
        raise failures[0]
    return x + 1
)PY",
                            {{"DIR", dir.path.string()}});
  RunResult r = run(check_job(writer));
  EXPECT_EQ(r.status, Status::failed) << describe(r);
  EXPECT_FALSE(fs::exists(dir.path / "evil.txt"));
  EXPECT_FALSE(fs::exists("/usr/yantra_evil"));
  std::error_code ec;
  fs::remove("/usr/yantra_evil", ec);
}

TEST_F(Adversarial, RemountingUsrWritableDoesNotReachTheHost) {
  // /usr is a read-only bind of the host's; a sandbox that keeps capabilities in its user
  // namespace can remount it read-write and write through to the host.
  fs::path evil = "/usr/yantra_evil-" + marker_;
  std::string remounter = code(R"PY(
import subprocess
def f(x):
    subprocess.run(["mount", "-o", "remount,bind,rw", "/usr"], capture_output=True)
    with open("@EVIL@", "w") as out:
        out.write("@M@")
    return x + 1
)PY",
                               {{"EVIL", evil.string()}});
  RunResult r = run(check_job(remounter));
  bool written = fs::exists(evil);
  std::error_code ec;
  fs::remove(evil, ec);
  validator_->reset();  // a remount would otherwise outlive this test in the warm sandbox
  EXPECT_FALSE(written) << "the candidate wrote " << evil << " on the host" << describe(r);
  EXPECT_EQ(r.status, Status::failed) << describe(r);
}

// ---- 8. reading the user's files ------------------------------------------------------

TEST_F(Adversarial, FilesUnderHomeAreNotReadable) {
  fs::path secret_file = fs::path(home_dir()) / (".yantra-adversarial-" + random_hex());
  std::string secret = "secret-" + random_hex() + random_hex();
  std::ofstream(secret_file) << secret << "\n";
  ASSERT_EQ(read_bytes(secret_file), secret + "\n");
  std::map<std::string, std::string> where = {{"PATH", secret_file.string()},
                                              {"NAME", secret_file.filename().string()}};
  std::string reader = code(R"PY(
import os
def f(x):
    for path in ("@PATH@", os.path.expanduser("~/@NAME@")):  # @M@
        try:
            with open(path) as secret:
                print(secret.read())
        except OSError:
            pass
    with open("@PATH@") as secret:
        return secret.read()
)PY",
                            where);
  RunResult r = run(check_job(reader));
  std::error_code ec;
  fs::remove(secret_file, ec);
  EXPECT_EQ(r.status, Status::failed) << describe(r);
  EXPECT_FALSE(contains(r.stdout_excerpt, secret)) << describe(r);
  EXPECT_FALSE(contains(r.stderr_excerpt, secret)) << describe(r);
  EXPECT_FALSE(contains(r.reason, secret)) << describe(r);
}

// ---- 9. killing the harness -----------------------------------------------------------

TEST_F(Adversarial, KillingTheParentAndInitLeavesTheSandboxServing) {
  std::string killer = code(R"PY(
import os
def f(x):
    os.kill(os.getppid(), 9)  # @M@
    os.kill(1, 9)
    return x + 1
)PY");
  RunResult r = run(check_job(killer));
  EXPECT_NE(r.status, Status::sandbox_error) << describe(r);
  // PID 1 of a PID namespace ignores SIGKILL from inside it: the tests complete.
  EXPECT_EQ(r.status, Status::passed) << describe(r);
  ASSERT_EQ(r.tests.size(), 1u);
  EXPECT_EQ(r.tests[0].outcome, Outcome::passed) << describe(r);

  RunResult next = run(check_job("def f(x):\n    return x + 1\n"));
  EXPECT_EQ(next.status, Status::passed) << describe(next);
}

// ---- 10. orphans and daemons ----------------------------------------------------------

TEST_F(Adversarial, OrphansAndDaemonsAreKilled) {
  std::string spawner = code(R"PY(
import os, subprocess
def f(x):
    subprocess.Popen(["sleep", "987.6543"], start_new_session=True)
    child = os.fork()
    if child == 0:  # the classic daemon: new session, fork again, parent exits
        os.setsid()
        if os.fork() == 0:
            os.execv("/usr/bin/sleep", ["@M@", "987.6543"])
        os._exit(0)
    os.waitpid(child, 0)
    return x + 1
)PY");
  RunResult r = run(check_job(spawner));
  EXPECT_EQ(r.status, Status::passed) << describe(r);
  EXPECT_GE(r.leftover_processes, 1) << describe(r);
  auto sleepers = within_two_seconds([] { return processes_with("987.6543"); });
  EXPECT_TRUE(sleepers.empty()) << "orphans outlived the run:" << show(sleepers);
}

// ---- 11. sleeping past the limit ------------------------------------------------------

TEST_F(Adversarial, SleepPastTheWallLimitTimesOut) {
  std::string sleeper = code("import time\ndef f(x):\n    time.sleep(60)  # @M@\n");
  RunResult r = run(check_job(sleeper, kCheckPlusOne, kWall));
  EXPECT_EQ(r.status, Status::timeout) << describe(r);
  EXPECT_LT(r.seconds, kWall + 3) << describe(r);
}

// ---- 12. recursion --------------------------------------------------------------------

TEST_F(Adversarial, UnboundedRecursionWithARaisedLimit) {
  std::string diver = code(R"PY(
import sys
sys.setrecursionlimit(10 ** 6)
def down(n):  # @M@
    return down(n + 1) + 1
def f(x):
    return down(x)
)PY");
  Job job = check_job(diver, kCheckPlusOne, 10.0);
  job.limits.cpu_seconds = 10;  // a million frames take about 3 s to build and unwind
  RunResult r = run(job);
  // Python 3.11 calls Python functions without growing the C stack: the raised limit is
  // reached first, and RecursionError fails the test rather than SIGSEGV killing the run.
  EXPECT_EQ(r.status, Status::failed) << describe(r);
  EXPECT_TRUE(contains(r.reason, "RecursionError")) << describe(r);
}

TEST_F(Adversarial, UnboundedRecursionThroughCWithARaisedLimit) {
  // repr() recursion goes through C on every level: the C stack overflows first.
  std::string diver = code(R"PY(
import sys
sys.setrecursionlimit(10 ** 6)
class Loop:  # @M@
    def __repr__(self):
        return repr(self)
def f(x):
    return repr(Loop())
)PY");
  RunResult r = run(check_job(diver));
  EXPECT_EQ(r.status, Status::crashed) << describe(r);
  EXPECT_TRUE(contains(r.reason, "SIGSEGV")) << describe(r);
}

TEST_F(Adversarial, UnboundedRecursionAtTheDefaultLimit) {
  RunResult r = run(check_job(code("def f(x):  # @M@\n    return f(x + 1) + 1\n")));
  EXPECT_EQ(r.status, Status::failed) << describe(r);
  EXPECT_TRUE(contains(r.reason, "RecursionError")) << describe(r);
}

// ---- 13. early exits and fake passes --------------------------------------------------

TEST_F(Adversarial, SysExitAtImport) {
  RunResult r = run(check_job(code("import sys  # @M@\nsys.exit(0)\ndef f(x):\n    return x\n")));
  EXPECT_EQ(r.status, Status::error) << describe(r);
  EXPECT_TRUE(contains(r.reason, "SystemExit")) << describe(r);
}

TEST_F(Adversarial, SysExitInTheFunction) {
  RunResult r = run(check_job(code("import sys  # @M@\ndef f(x):\n    sys.exit(0)\n")));
  EXPECT_EQ(r.status, Status::failed) << describe(r);
  ASSERT_EQ(r.tests.size(), 1u);
  EXPECT_EQ(r.tests[0].outcome, Outcome::error) << describe(r);
}

TEST_F(Adversarial, OsExitAtImport) {
  RunResult r = run(check_job(code("import os  # @M@\nos._exit(0)\ndef f(x):\n    return x\n")));
  EXPECT_EQ(r.status, Status::error) << describe(r);
  EXPECT_TRUE(contains(r.reason, "before the tests completed")) << describe(r);
}

TEST_F(Adversarial, OsExitInTheFunction) {
  RunResult r = run(check_job(code("import os  # @M@\ndef f(x):\n    os._exit(0)\n")));
  EXPECT_EQ(r.status, Status::error) << describe(r);
  EXPECT_TRUE(contains(r.reason, "before the tests completed")) << describe(r);
}

TEST_F(Adversarial, SystemExitFromAFinaliser) {
  std::string exiter = code(R"PY(
class Exit:  # @M@
    def __del__(self):
        raise SystemExit(0)
def f(x):
    Exit()  # dropped at once: __del__ runs here, and its exception is only printed
    return x
)PY");
  RunResult r = run(check_job(exiter));
  EXPECT_EQ(r.status, Status::failed) << describe(r);
}

TEST_F(Adversarial, SystemExitFromAnAtexitHandler) {
  std::string exiter = code(R"PY(
import atexit, sys  # @M@
atexit.register(lambda: sys.exit(0))
def f(x):
    return x
)PY");
  RunResult r = run(check_job(exiter));
  EXPECT_EQ(r.status, Status::failed) << describe(r);
}

TEST_F(Adversarial, PrintingSuccessThenExiting) {
  std::string liar = code(R"PY(
import os, sys  # @M@
def f(x):
    print("All tests passed")
    print("OK")
    print("1 passed in 0.01s")
    sys.stdout.flush()
    os._exit(0)
)PY");
  RunResult r = run(check_job(liar));
  EXPECT_EQ(r.status, Status::error) << describe(r);
  EXPECT_TRUE(contains(r.stdout_excerpt, "All tests passed")) << describe(r);
}

TEST_F(Adversarial, RedefiningCheckInTheCandidate) {
  std::string forger = code("def check(candidate):  # @M@\n    pass\ndef f(x):\n    return x\n");
  RunResult r = run(check_job(forger));
  EXPECT_EQ(r.status, Status::failed) << describe(r);
}

TEST_F(Adversarial, ShadowingAbsWithADefinition) {
  std::string shadow = code("def abs(x):  # @M@\n    return 0\ndef f(x):\n    return 0\n");
  RunResult r = run(asserts_job(shadow, "assert abs(f(1) - 2) < 1e-6"));
  EXPECT_EQ(r.status, Status::failed) << describe(r);
}

TEST_F(Adversarial, PatchingBuiltinsAbs) {
  std::string patcher =
      code("import builtins  # @M@\nbuiltins.abs = lambda x: 0\ndef f(x):\n    return 0\n");
  RunResult r = run(asserts_job(patcher, "assert abs(f(1) - 2) < 1e-6"));
  EXPECT_EQ(r.status, Status::failed) << describe(r);
}

TEST_F(Adversarial, PatchingAssertionError) {
  std::string patcher = code(R"PY(
import builtins  # @M@
class Harmless(Exception):
    pass
builtins.AssertionError = Harmless
AssertionError = Harmless
def f(x):
    return x
)PY");
  RunResult r = run(check_job(patcher));
  EXPECT_EQ(r.status, Status::failed) << describe(r);
  ASSERT_EQ(r.tests.size(), 1u);
  // `error` today, not `failed`: the harness's own `except AssertionError` looks the name
  // up in the builtins the candidate replaced. Either way the test did not pass.
  EXPECT_NE(r.tests[0].outcome, Outcome::passed) << describe(r);
}

TEST_F(Adversarial, PatchingAModuleTheTestsUse) {
  // math.isclose is a favourite of MBPP-style asserts. The candidate patches its own
  // process's math; the tests run in the judge's, with the judge's math.
  std::string patcher =
      code("import math  # @M@\nmath.isclose = lambda *a, **k: True\ndef f(x):\n    return 0.0\n");
  RunResult r = run(asserts_job(patcher, "assert math.isclose(f(1), 2.5)", "import math\n"));
  EXPECT_EQ(r.status, Status::failed) << describe(r);
  ASSERT_EQ(r.tests.size(), 1u);
  EXPECT_EQ(r.tests[0].outcome, Outcome::failed) << describe(r);
}

TEST_F(Adversarial, PatchingUnittestInTheAssertsForm) {
  constexpr const char* kSetup = R"PY(
import unittest
class T(unittest.TestCase):
    def test_f(self):
        self.assertEqual(f(1), 2)
def unittest_ok():
    suite = unittest.defaultTestLoader.loadTestsFromTestCase(T)
    with open("/dev/null", "w") as quiet:
        return unittest.TextTestRunner(stream=quiet).run(suite).wasSuccessful()
)PY";
  std::string patcher = code(
      "import unittest  # @M@\nunittest.TestCase.run = lambda *a, **k: None\n"
      "def f(x):\n    return x\n");
  RunResult r = run(asserts_job(patcher, "assert unittest_ok()", kSetup));
  // The judge's unittest is its own: the patched TestCase.run never reaches the tests.
  EXPECT_EQ(r.status, Status::failed) << describe(r);
  ASSERT_EQ(r.tests.size(), 1u);
  EXPECT_EQ(r.tests[0].outcome, Outcome::failed) << describe(r);
}

TEST_F(Adversarial, ForgedMarkersOnEveryDescriptor) {
  std::string forger = code(R"PY(
import os  # @M@
FORGED = [b'deadbeef {"k": "start", "i": 0}\n', b'deadbeef {"k": "pass", "i": 0}\n',
          b'deadbeef {"k": "done"}\n', b'{"k": "pass", "i": 0}\n', b'{"k": "done"}\n']
def f(x):
    for fd in range(3, 101):
        for line in FORGED:
            try:
                os.write(fd, line)
            except OSError:
                pass
    os._exit(0)
)PY");
  RunResult r = run(check_job(forger));
  // The candidate holds no marker pipe: its one pipe leads to the judge, which reads
  // the forged lines as a broken reply.
  EXPECT_EQ(r.status, Status::error) << describe(r);
  EXPECT_TRUE(contains(r.reason, "candidate process")) << describe(r);
}

TEST_F(Adversarial, FrameIntrospectionCannotReachTheNonce) {
  // Walks up from the function under test looking for the harness's emit(), the only
  // holder of the run's nonce; there it would report a pass and leave.
  std::string thief = code(R"PY(
import os, sys  # @M@
def frames():
    try:
        yield sys._getframe(1)
    except BaseException:
        pass
    try:
        raise ValueError
    except ValueError as e:
        try:
            yield e.__traceback__.tb_frame
        except BaseException:
            pass
    try:
        yield (i for i in ()).gi_frame
    except BaseException:
        pass
def f(x):
    for frame in frames():
        try:
            while frame is not None:
                emit = frame.f_locals.get("emit")
                if emit is not None:
                    emit(k="pass", i=0)
                    emit(k="done")
                    os._exit(0)
                frame = frame.f_back
        except BaseException:
            pass
    return x
)PY");
  RunResult r = run(check_job(thief));
  EXPECT_EQ(r.status, Status::failed) << describe(r);
  ASSERT_EQ(r.tests.size(), 1u);
  EXPECT_EQ(r.tests[0].outcome, Outcome::failed) << describe(r);
}

TEST_F(Adversarial, NonceCannotBeReadFromTheProcessMemory) {
  // The nonce is a str in the child's own heap, and a process may read its own memory
  // through /proc/self/mem where that file is its user's. The marker pipe is the one
  // descriptor Python made non-inheritable.
  std::string thief = code(R"PY(
import os, re  # @M@
HEX = re.compile(rb"(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])")
def nonces():
    found = set()
    with open("/proc/self/maps") as maps, open("/proc/self/mem", "rb", 0) as mem:
        for line in maps:
            parts = line.split()
            if "r" not in parts[1] or (len(parts) > 5 and not parts[5].startswith("[")):
                continue
            lo, hi = (int(a, 16) for a in parts[0].split("-"))
            if hi - lo > (256 << 20):
                continue
            try:
                mem.seek(lo)
                data = mem.read(hi - lo)
            except OSError:
                continue
            for m in HEX.finditer(data):
                at = m.start()  # a str object of length 32 has its length 32 bytes ahead
                if at >= 32 and int.from_bytes(data[at - 32:at - 24], "little") == 32:
                    found.add(m.group())
    return found
def marker_fds():
    fds = []
    for name in os.listdir("/proc/self/fd"):
        try:
            if os.readlink("/proc/self/fd/" + name).startswith("pipe:"):
                if not os.get_inheritable(int(name)):
                    fds.append(int(name))
        except OSError:
            pass
    return fds
def f(x):
    try:
        found = nonces()
    except OSError:
        return x
    fds = marker_fds()
    if len(found) == 1 and len(fds) == 1:
        nonce = found.pop()
        os.write(fds[0], nonce + b' {"k": "pass", "i": 0}\n' + nonce + b' {"k": "done"}\n')
        os._exit(0)
    return x
)PY");
  RunResult r = run(check_job(thief));
  EXPECT_EQ(r.status, Status::failed) << describe(r);
}

// ---- 13, pytest form ------------------------------------------------------------------

TEST_F(Adversarial, PytestSkipAtImport) {
  std::string skipper = code(
      "import pytest  # @M@\npytest.skip('nothing to see', allow_module_level=True)\n"
      "def f(x):\n    return x\n");
  RunResult r = run(pytest_job(skipper));
  EXPECT_EQ(r.status, Status::error) << describe(r);
  EXPECT_TRUE(contains(r.reason, "Skipped")) << describe(r);
}

constexpr const char* kFakeCallAndReport = R"PY(
import _pytest.runner  # @M@
from _pytest.reports import TestReport
real = _pytest.runner.call_and_report
def fake(item, when, log=True, **kwds):
    report = TestReport(item.nodeid, item.location, {}, "passed", None, when, [])
    if log:
        item.ihook.pytest_runtest_logreport(report=report)
    if RESTORE and when == "teardown" and item.nodeid.endswith("test_two"):
        _pytest.runner.call_and_report = real
    return report
_pytest.runner.call_and_report = fake
def f(x):
    return x
)PY";

TEST_F(Adversarial, PytestCallAndReportReplaced) {
  RunResult r = run(pytest_job(code("RESTORE = False\n" + std::string(kFakeCallAndReport))));
  EXPECT_EQ(r.status, Status::error) << describe(r);
  EXPECT_TRUE(contains(r.reason, "tampered")) << describe(r);
}

TEST_F(Adversarial, PytestFunctionRuntestReplaced) {
  std::string patcher = code(
      "import _pytest.python  # @M@\n_pytest.python.Function.runtest = lambda self: None\n"
      "def f(x):\n    return x\n");
  RunResult r = run(pytest_job(patcher));
  EXPECT_EQ(r.status, Status::error) << describe(r);
  EXPECT_TRUE(contains(r.reason, "tampered")) << describe(r);
}

TEST_F(Adversarial, PytestTestsDeletedFromTheTestModule) {
  // The test module is still importing the candidate; a module __getattr__ planted in it
  // runs on pytest's first lookup of a missing name (setUpModule, before collection) and
  // deletes the tests. Tests the host expects that never ran cannot pass.
  std::string deleter = code(R"PY(
import sys  # @M@
module = sys.modules["test_solution"]
def reap(name):
    for test in [n for n in list(vars(module)) if n.startswith("test_")]:
        vars(module).pop(test, None)
    raise AttributeError(name)
module.__getattr__ = reap
def f(x):
    return x
)PY");
  RunResult r = run(pytest_job(deleter));
  EXPECT_EQ(r.status, Status::failed) << describe(r);
  for (const auto& t : r.tests) EXPECT_EQ(t.outcome, Outcome::not_run) << describe(r);
}

// ---- isolation between runs and from the host -----------------------------------------

TEST_F(Adversarial, ConsecutiveRunsCannotSeeEachOthersFiles) {
  auto single = own_validator();
  ASSERT_TRUE(single);
  std::string writer = code(R"PY(
import os
def f(x):
    for where in (os.getcwd(), "/tmp", "/dev/shm"):
        with open(os.path.join(where, "secret.txt"), "w") as out:
            out.write("@M@")
    print("cwd=" + os.getcwd())
    return x + 1
)PY");
  RunResult first = run_on(*single, check_job(writer));
  ASSERT_EQ(first.status, Status::passed) << describe(first);
  size_t at = first.stdout_excerpt.find("cwd=");
  ASSERT_NE(at, std::string::npos) << describe(first);
  std::string cwd = first.stdout_excerpt.substr(at + 4);
  cwd = cwd.substr(0, cwd.find('\n'));

  std::string looker = fill(R"PY(
def check(candidate):
    import os
    for path in ("@CWD@/secret.txt", "/tmp/secret.txt", "/dev/shm/secret.txt"):
        assert not os.path.exists(path), path
    for top in ("/tmp", "/dev/shm"):
        for _, _, files in os.walk(top):
            assert "secret.txt" not in files, top
    assert candidate(1) == 2
)PY",
                            {{"CWD", cwd}});
  RunResult second = run_on(*single, check_job("def f(x):\n    return x + 1\n", looker));
  EXPECT_EQ(second.status, Status::passed) << describe(second);
}

TEST_F(Adversarial, SandboxRootIsNotSharedBetweenRuns) {
  // Besides /tmp and /dev/shm, the sandbox's own root, /dev and /etc are writable tmpfs
  // directories; what one job leaves there must not reach the next job.
  auto single = own_validator();
  ASSERT_TRUE(single);
  std::map<std::string, std::string> paths = {
      {"PATHS", code(R"PY(("/@M@.txt", "/dev/@M@.txt", "/etc/@M@.txt"))PY")}};
  std::string writer = code(R"PY(
def f(x):
    for path in @PATHS@:
        try:
            with open(path, "w") as out:
                out.write("from the previous job")
        except OSError:
            pass
    return x + 1
)PY",
                            paths);
  RunResult first = run_on(*single, check_job(writer));
  ASSERT_EQ(first.status, Status::passed) << describe(first);
  std::string looker = fill(R"PY(
def check(candidate):
    import os
    left = [p for p in @PATHS@ if os.path.exists(p)]
    assert not left, left
    assert candidate(1) == 2
)PY",
                            paths);
  RunResult second = run_on(*single, check_job("def f(x):\n    return x + 1\n", looker));
  EXPECT_EQ(second.status, Status::passed) << describe(second);
}

TEST_F(Adversarial, ConftestLeftByOneJobCannotPassTheNext) {
  // pytest loads conftest.py from every parent of the test file when no ini file stops it:
  // a job that writes /conftest.py would decide the verdict of every later pytest job.
  auto single = own_validator();
  ASSERT_TRUE(single);
  std::string poisoner = code(R"PY(
CONFTEST = '''
import pytest
@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    report.outcome, report.longrepr = "passed", None
'''
def f(x):  # @M@
    try:
        with open("/conftest.py", "w") as out:
            out.write(CONFTEST)
    except OSError:
        pass
    return x + 1
)PY");
  RunResult first = run_on(*single, check_job(poisoner));
  ASSERT_EQ(first.status, Status::passed) << describe(first);
  RunResult second = run_on(*single, pytest_job("def f(x):\n    return x\n"));
  EXPECT_EQ(second.status, Status::failed) << describe(second);
}

TEST_F(Adversarial, HostDescriptorsAreNotInherited) {
  // Descriptors the host process holds without O_CLOEXEC (fopen and std::fstream open them
  // so) must not be reachable from the sandbox, neither for reading nor for writing.
  HostTempDir dir;
  ASSERT_FALSE(dir.path.empty());
  fs::path secret_file = dir.path / ("secret-" + random_hex());
  std::string secret = "secret-" + random_hex() + random_hex();
  int fd = ::open(secret_file.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);  // no O_CLOEXEC
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, secret.data(), secret.size()), static_cast<ssize_t>(secret.size()));
  auto fresh = own_validator();  // its sandbox starts while the descriptor is open
  ASSERT_TRUE(fresh);
  std::string snooper = code(R"PY(
import os
def f(x):  # @M@
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd <= 2:
            continue
        try:
            print(fd, os.pread(fd, 4096, 0))
            if os.readlink("/proc/self/fd/" + name).endswith("@NAME@"):
                os.pwrite(fd, b"overwritten by the sandbox", 0)
        except OSError:
            pass
    return x + 1
)PY",
                             {{"NAME", secret_file.filename().string()}});
  RunResult r = run_on(*fresh, check_job(snooper));
  fresh.reset();
  ::close(fd);
  EXPECT_EQ(r.status, Status::passed) << describe(r);
  EXPECT_FALSE(contains(r.stdout_excerpt, secret)) << "the sandbox read a host file" << describe(r);
  EXPECT_EQ(read_bytes(secret_file), secret) << "the sandbox wrote a host file";
}

}  // namespace
