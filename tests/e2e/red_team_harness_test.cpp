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
// This file: patching the harness and what it relies on; processes, signals and
// descriptors. red_team_values_test.cpp: values that lie.
#include <gtest/gtest.h>

#include <string>

#include "sandbox_support.h"

namespace {

using namespace yantra::testing::sandbox;
using yantra::testing::contains;

class RedTeamHarness : public WarmSandbox {};

// Shared by the nonce thieves below: nonces(read, pid) finds the live 32-hex str
// objects in a heap read through `read`; report_pass(found) writes pass and done markers
// under the one nonce found to the process's marker pipe, and leaves.
constexpr const char* kNonceThief = R"PY(import os, re  # @M@
HEX = re.compile(rb"[0-9a-f]{32}")
def nonces(read, pid="self"):  # live 32-hex str objects in a heap: refcount, type, length
    found = set()
    for line in open("/proc/%s/maps" % pid):
        parts = line.split()
        lo, hi = (int(a, 16) for a in parts[0].split("-"))
        if parts[1].startswith("rw") and parts[5:] in ([], ["[heap]"]) and hi - lo < 1 << 28:
            data = read(lo, hi - lo)
            for m in HEX.finditer(data, 48):
                head = [int.from_bytes(data[m.start() - k:m.start() - k + 8], "little")
                        for k in (48, 40, 32)]
                if 0 < head[0] < 1000 and head[2] == 32 and (pid != "self" or head[1] == id(str)):
                    found.add(m.group())
    return found
def passing(nonce):
    return nonce + b" k=s:70617373 i=i:0\n" + nonce + b" k=s:646f6e65\n"
def pipe(fd):
    try:
        return os.readlink("/proc/self/fd/%d" % fd).startswith("pipe:")
    except OSError:
        return False
def report_pass(found):  # on the pipes Python made non-inheritable: the marker pipe is one
    pipes = [fd for fd in range(3, 64) if pipe(fd) and not os.get_inheritable(fd)]
    if len(found) == 1 and pipes:
        nonce = found.pop()
        for fd in pipes:
            os.write(fd, passing(nonce))
        os._exit(0)
)PY";

// ---- 3. patching the harness and what it relies on --------------------------------------

// run_check replaced: the harness hands it emit(), which reports a pass.
// Old harness (520eb51): passed -- let through.
TEST_F(RedTeamHarness, PatchingRunCheck) {
  expect_caught(run(check_job(code(R"PY(import __main__  # @M@
def run_check(req, compiled, ns, test_ns, emit, *rest):
    emit(k="start", i=0)
    emit(k="pass", i=0)
__main__.run_check = run_check
def f(x): return x
)PY"))));
}

// run_cases replaced for the asserts form.
// Old harness (520eb51): passed -- let through.
TEST_F(RedTeamHarness, PatchingRunCases) {
  std::string candidate = code(R"PY(import sys  # @M@
def run_cases(req, compiled, test_ns, emit, *rest):
    for i in range(len(req["cases"])):
        emit(k="start", i=i)
        emit(k="pass", i=i)
sys.modules["__main__"].__dict__["run_cases"] = run_cases
def f(x): return x
)PY");
  expect_caught(run(asserts_job(candidate, "assert f(1) == 2")));
}

// encode_marker rewrites the fail marker into a pass before the nonce is prepended.
// Old harness (520eb51): passed -- let through.
TEST_F(RedTeamHarness, PatchingEncodeMarker) {
  expect_caught(run(check_job(code(R"PY(import __main__  # @M@
real = __main__.encode_marker
def encode_marker(fields):
    if fields.get("k") in ("fail", "error"):
        fields = {"k": "pass", "i": fields.get("i", 0)}
    return real(fields)
__main__.encode_marker = encode_marker
def f(x): return x
)PY"))));
}

// tampered() silenced, then math.isclose patched for the tests.
// Old harness (520eb51): passed -- let through.
TEST_F(RedTeamHarness, PatchingTamperedThenMath) {
  std::string candidate = code(R"PY(import __main__, math  # @M@
__main__.tampered = lambda watched: None
math.isclose = lambda *args, **kwargs: True
def f(x): return 0.0
)PY");
  expect_caught(run(asserts_job(candidate, "assert math.isclose(f(1), 2.5)", "import math\n")));
}

// The tests' 'clean' builtins are the harness's CLEAN_BUILTINS dict, reachable and writable.
// Old harness (520eb51): passed -- let through.
TEST_F(RedTeamHarness, PatchingCleanBuiltins) {
  std::string candidate = code(R"PY(import __main__  # @M@
__main__.CLEAN_BUILTINS["abs"] = lambda x: 0
def f(x): return 0
)PY");
  expect_caught(run(asserts_job(candidate, "assert abs(f(1) - 2) < 1e-6")));
}

// describe, where, decode_marker, parse_markers, flush_and_exit and a global emit replaced:
// none of them decides a marker in the run's process.
// Old harness (520eb51): failed -- caught.
TEST_F(RedTeamHarness, PatchingHarnessNamesThatCannotHelp) {
  expect_caught(run(check_job(code(R"PY(import __main__  # @M@
__main__.describe = lambda e: "passed"
__main__.where = lambda e: 0
__main__.emit = lambda **fields: None
__main__.decode_marker = lambda text: {"k": "pass", "i": 0}
__main__.parse_markers = lambda buf, prefix: ([{"k": "pass", "i": 0}, {"k": "done"}], 0)
__main__.flush_and_exit = lambda code: None
def f(x): return x
)PY"))));
}

// Replaces PatchingTheHarnessJsonEncoder: emit() writes markers with os.write, which the
// candidate shares; a wrapper rewrites each fail or error marker into a pass.
// Old harness (520eb51): passed -- let through.
TEST_F(RedTeamHarness, PatchingTheMarkerWriter) {
  expect_caught(run(check_job(code(R"PY(import os  # @M@
real_write = os.write
BAD = [" k=s:%s " % word.encode().hex() for word in ("fail", "error")]
def write(fd, data):
    line = bytes(data).decode("latin-1")
    if any(bad in line for bad in BAD) and " i=i:" in line:
        nonce, i = line.split(" ")[0], line.split(" i=i:")[1].split(" ")[0].strip()
        real_write(fd, ("%s k=s:%s i=i:%s\n" % (nonce, b"pass".hex(), i)).encode())
        return len(data)
    return real_write(fd, data)
os.write = write
def f(x): return x
)PY"))));
}

// encode_marker calls str() and str.encode through the builtins module the candidate shares:
// a str subclass turns 'fail' into 'pass'.
// Old harness (520eb51): passed -- let through.
TEST_F(RedTeamHarness, PatchingBuiltinsStrSeenByTheHarness) {
  expect_caught(run(check_job(code(R"PY(import builtins  # @M@
_str = str
class Str(_str):
    def encode(self, *args):
        text = _str.__str__(self)
        return _str.encode("pass" if text in ("fail", "error") else text, *args)
builtins.str = Str
def f(x): return x
)PY"))));
}

// run_cases loops with enumerate(), looked up in the shared builtins: each case's code
// becomes `pass`.
// Old harness (520eb51): passed -- let through.
TEST_F(RedTeamHarness, PatchingBuiltinsEnumerate) {
  std::string candidate = code(R"PY(import builtins  # @M@
_enumerate = enumerate
def enumerate(items, start=0):
    if type(items) is list and items and type(items[0]) is dict and "code" in items[0]:
        items = [dict(case, code="pass") for case in items]
    return _enumerate(items, start)
builtins.enumerate = enumerate
def f(x): return x
)PY");
  expect_caught(run(asserts_job(candidate, "assert f(1) == 2")));
}

// sys.modules['math'] swapped for a copy with a lying isclose: the real module, the one the
// tamper check watches, is untouched.
// Old harness (520eb51): passed -- let through.
TEST_F(RedTeamHarness, ReplacingSysModulesMath) {
  std::string candidate = code(R"PY(import math, sys, types  # @M@
fake = types.ModuleType("math")
fake.__dict__.update(vars(math))
fake.isclose = lambda *args, **kwargs: True
sys.modules["math"] = fake
def f(x): return 0.0
)PY");
  expect_caught(run(asserts_job(candidate, "assert math.isclose(f(1), 2.5)", "import math\n")));
}

// The tamper check compares module and class namespaces; random's hidden Random instance is
// neither: all the test's random data become 0, which an identity 'sort' sorts.
// Old harness (520eb51): passed -- let through.
TEST_F(RedTeamHarness, PatchingTheRandomInstanceNotItsModule) {
  const char* tests = R"PY(import random

def check(candidate):
    random.seed(7)
    for _ in range(5):
        xs = [random.randint(0, 99) for _ in range(6)]
        assert candidate(xs) == sorted(xs)
)PY";
  std::string candidate = code(R"PY(import random  # @M@
random._inst._randbelow = lambda n: 0
def f(xs): return list(xs)
)PY");
  expect_caught(run(check_job(candidate, tests)));
}

// copy._deepcopy_dispatch is the same dict object after the patch: deepcopy returns its
// input, and a function that sorts its argument in place passes 'input unchanged'.
// Old harness (520eb51): passed -- let through.
TEST_F(RedTeamHarness, PatchingCopysDispatchTable) {
  const char* tests = R"PY(import copy

def check(candidate):
    data = [3, 1, 2]
    saved = copy.deepcopy(data)
    assert candidate(data) == [1, 2, 3]
    assert data == saved, 'the input was modified'
)PY";
  std::string candidate = code(R"PY(import copy  # @M@
copy._deepcopy_dispatch[list] = lambda x, memo, *rest: x
def f(data):
    data.sort()
    return data
)PY");
  expect_caught(run(check_job(candidate, tests)));
}

// statistics.py in the run's directory and /tmp, both put on sys.path; the tests import
// statistics lazily (across processes only the files are shared).
// Old harness (520eb51): passed -- let through.
TEST_F(RedTeamHarness, ModulePlantedOnSysPath) {
  const char* tests = R"PY(def check(candidate):
    stats = __import__('statistics')
    assert stats.mean([candidate(2), candidate(2)]) == 4
)PY";
  std::string candidate = code(R"PY(import os, sys  # @M@
for where in (os.getcwd(), "/tmp"):
    try:
        with open(os.path.join(where, "statistics.py"), "w") as out:
            out.write("def mean(values):\n    return 4\n")
    except OSError:
        pass
    sys.path.insert(0, where)
def f(x): return 0
)PY");
  expect_caught(run(check_job(candidate, tests)));
}

// math.isclose patched at load; the returned value's __del__ restores it once the assert is
// done, before the tamper check looks.
// Old harness (520eb51): passed -- let through.
TEST_F(RedTeamHarness, PatchUndoneByDelBeforeTheTamperCheck) {
  std::string candidate = code(R"PY(import math  # @M@
real_isclose = math.isclose
class Token(float):
    def __del__(self):
        math.isclose = real_isclose
math.isclose = lambda *args, **kwargs: True
def f(x): return Token(0)
)PY");
  expect_caught(run(asserts_job(candidate, "assert math.isclose(f(1), 2.5)", "import math\n")));
}

// A signal handler receives the interrupted frame with no audit event; f_back and f_locals
// are not audited either: up the stack to emit().
// Old harness (520eb51): passed -- let through.
TEST_F(RedTeamHarness, SignalHandlerFrameReachesEmit) {
  expect_caught(run(check_job(code(R"PY(import os, signal, time  # @M@
caught = []
signal.signal(signal.SIGALRM, lambda signum, frame: caught.append(frame))
def f(x):
    signal.setitimer(signal.ITIMER_REAL, 0.001)
    deadline = time.monotonic() + 1
    while not caught and time.monotonic() < deadline:
        pass
    frame = caught[0] if caught else None
    while frame is not None:
        emit = frame.f_locals.get("emit")
        if emit is not None:
            emit(k="pass", i=0), emit(k="done"), os._exit(0)
        frame = frame.f_back
    return x
)PY"))));
}

// In-place sort that sorts nothing: through the interrupted frame it makes the test's
// expected list equal to the unsorted input.
// Old harness (520eb51): passed -- let through.
TEST_F(RedTeamHarness, SignalHandlerFrameRewritesTheTestsData) {
  const char* tests = R"PY(def check(candidate):
    data = [3, 1, 2]
    expected = [1, 2, 3]
    candidate(data)
    assert data == expected
)PY";
  std::string candidate = code(R"PY(import signal  # @M@
caught = []
signal.signal(signal.SIGUSR1, lambda signum, frame: caught.append(frame))
def f(data):
    signal.raise_signal(signal.SIGUSR1)
    frame = caught.pop() if caught else None
    while frame is not None and type(frame.f_locals.get("expected")) is not list:
        frame = frame.f_back
    if frame is not None:
        frame.f_locals["expected"][:] = data
)PY");
  expect_caught(run(check_job(candidate, tests)));
}

// ctypes is warm in the zygote and ctypes.memmove is not audited: it reads the process's own
// heap, where the nonce is a live 32-character str.
// Old harness (520eb51): passed -- let through.
TEST_F(RedTeamHarness, CtypesMemmoveReadsTheNonce) {
  expect_caught(run(check_job(code(std::string(kNonceThief) + R"PY(
import ctypes
def read(address, size):
    buf = ctypes.create_string_buffer(size)
    ctypes.memmove(buf, address, size)
    return buf.raw
def f(x):
    report_pass(nonces(read))
    return x
)PY"))));
}

// gc, sys._getframe, traceback and generator frames, _current_frames, settrace, setprofile,
// threading.settrace, addaudithook: each one, had it worked, leads to emit().
// Old harness (520eb51): failed -- caught.
TEST_F(RedTeamHarness, DeniedIntrospection) {
  expect_caught(run(check_job(code(R"PY(import gc, os, sys, threading  # @M@
seen = []
def tracer(frame, event, arg):
    seen.append(frame)
def traceback_frame():
    try:
        raise ValueError
    except ValueError as e:
        return [e.__traceback__.tb_frame]
def traced_thread():
    threading.settrace(tracer)
    worker = threading.Thread(target=len, args=((),))
    worker.start()
    worker.join()
    return list(seen)
ATTEMPTS = [lambda: gc.get_referrers(sys.modules["__main__"].run_check), gc.get_objects,
            lambda: [sys._getframe(1)], lambda: list(sys._current_frames().values()),
            lambda: [(lambda: (yield))().gi_frame], traceback_frame, traced_thread,
            lambda: sys.settrace(tracer) or list(seen),
            lambda: sys.setprofile(tracer) or list(seen),
            lambda: sys.addaudithook(lambda *args: None) or []]
def use(found):  # emit() itself, or a frame to climb from to the one that holds it
    for item in found:
        if getattr(item, "__name__", "") == "emit":
            item(k="pass", i=0), item(k="done"), os._exit(0)
        while type(item).__name__ == "frame":
            use([item.f_locals.get("emit")])
            item = item.f_back
def f(x):
    for attempt in ATTEMPTS:
        try:
            use(attempt())
        except Exception:
            pass
    return x
)PY"))));
}

// ---- 4. processes, signals and descriptors ----------------------------------------------

// A child outlives the function and writes pass markers under guessed nonces to every
// descriptor it has.
// Old harness (520eb51): failed -- caught.
TEST_F(RedTeamHarness, ForkedChildWritesMarkersLater) {
  expect_caught(run(check_job(code(R"PY(import os, time  # @M@
LINES = b"0" * 32 + b" k=s:70617373 i=i:0\n" + b"0" * 32 + b" k=s:646f6e65\n"
def f(x):
    if x == 0 and os.fork() == 0:
        for _ in range(50):
            time.sleep(0.05)
            for fd in range(64):
                try:
                    os.write(fd, LINES)
                except OSError:
                    pass
        os._exit(0)
    return x
)PY"))));
}

// SIGSTOP to the process group and to every pid in /proc.
// Old harness (520eb51): timeout -- caught.
TEST_F(RedTeamHarness, StoppingEveryProcess) {
  std::string candidate = code(R"PY(import os, signal  # @M@
def f(x):
    for pid in [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) != os.getpid()]:
        try:
            os.kill(pid, signal.SIGSTOP)
        except OSError:
            pass
    os.kill(0, signal.SIGSTOP)
    return x
)PY");
  expect_caught(run(check_job(candidate, kCheckPlusOne, kWall)));
}

// Pass and done markers in the key=value format, on fds 0-200, then a clean exit.
// Old harness (520eb51): error -- caught.
TEST_F(RedTeamHarness, ForgedMarkersInTheCurrentFormatOnEveryFd) {
  expect_caught(run(check_job(code(R"PY(import os  # @M@
LINES = [nonce + b" k=s:" + word.encode().hex().encode() + tail
         for nonce in (b"0" * 32, b"")
         for word, tail in (("start", b" i=i:0\n"), ("pass", b" i=i:0\n"), ("done", b"\n"))]
def f(x):
    for fd, line in ((fd, line) for fd in range(201) for line in LINES):
        try:
            os.write(fd, line)
        except OSError:
            pass
    os._exit(0)
)PY"))));
}

// Every other process in /proc: the nonce from its memory, pass markers on its pipes.
// Old harness (520eb51): failed -- caught.
TEST_F(RedTeamHarness, OtherProcessesThroughProc) {
  expect_caught(run(check_job(code(std::string(kNonceThief) + R"PY(
def f(x):
    for pid in [p for p in os.listdir("/proc") if p.isdigit() and int(p) != os.getpid()]:
        def read(address, size):
            with open("/proc/%s/mem" % pid, "rb", 0) as mem:
                mem.seek(address)
                return mem.read(size)
        try:
            found, fds = nonces(read, pid), os.listdir("/proc/%s/fd" % pid)
        except OSError:
            continue
        for fd in fds if len(found) == 1 else []:  # its marker pipe is among them
            try:
                out = os.open("/proc/%s/fd/%s" % (pid, fd), os.O_WRONLY | os.O_NONBLOCK)
                os.write(out, passing(next(iter(found))))
            except OSError:
                pass
    return x
)PY"))));
}

// prctl(PR_SET_DUMPABLE, 1) through ctypes would make /proc/self/mem readable again, and the
// nonce with it.
// Old harness (520eb51): failed -- caught.
TEST_F(RedTeamHarness, CtypesPrctlReopensTheMemory) {
  expect_caught(run(check_job(code(std::string(kNonceThief) + R"PY(
import ctypes
def read(address, size):
    with open("/proc/self/mem", "rb", 0) as mem:
        mem.seek(address)
        return mem.read(size)
def f(x):
    for libc in ("libc.so.6", None):
        try:
            ctypes.CDLL(libc).prctl(4, 1, 0, 0, 0)
        except BaseException:
            pass
    try:
        report_pass(nonces(read))
    except OSError:
        pass
    return x
)PY"))));
}

}  // namespace
