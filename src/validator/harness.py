# Yantra's sandbox harness. Runs as PID 1 of a bubblewrap sandbox (no network, read-only
# system, private /tmp) and serves runs forever: read a request frame on stdin, fork a
# fresh child that loads the candidate and runs the tests, watch it from outside, kill
# everything it left behind, wipe /tmp, reply with raw facts on stdout. The host decides
# the verdict from those facts; this file never says "passed".
#
# Frames: 4-byte big-endian length, then UTF-8 JSON.
# Child -> zygote markers: one line each, "NONCE JSON". The nonce is fresh per run and
# lives only in a frame-local variable of the child; an audit hook that cannot be removed
# denies the frame and object introspection that could reach it. Lines without the nonce
# are counted as forged. Only the child's own PID emits markers, so forked copies of the
# harness cannot report twice.
import os, sys, json, struct, signal, _signal, resource, time, select, shutil, io, builtins, gc

# Warm modules: children are forks, so what is imported here costs nothing per run. The
# set is what generated code imports most (measured on recorded HumanEval answers); every
# module more makes each fork dearer, so it stays short.
import typing, math, hashlib, collections, heapq, datetime, re, functools, itertools  # noqa: F401,E401
import string  # noqa: F401
import importlib.machinery

CTL_IN, CTL_OUT = 200, 201
# The builtins tests run with, copied once here: copying them in each child would touch
# (and so copy-on-write) every page that holds a builtin object.
CLEAN_BUILTINS = dict(builtins.__dict__)
RUN_ROOT = "/tmp"
FRAME_ATTRS = {"tb_frame", "gi_frame", "cr_frame", "ag_frame", "f_back", "f_locals"}
DENIED_EVENTS = {"gc.get_objects", "gc.get_referrers", "gc.get_referents",
                 "sys._current_frames", "sys.settrace", "sys.setprofile",
                 "sys.addaudithook", "ctypes.dlopen", "ctypes.dlsym", "ctypes.cdata",
                 "ctypes.addressof", "ctypes.string_at", "ctypes.wstring_at"}


def read_exact(fd, n):
    chunks = []
    while n:
        b = os.read(fd, n)
        if not b:
            return None
        chunks.append(b)
        n -= len(b)
    return b"".join(chunks)


def read_frame(fd):
    head = read_exact(fd, 4)
    if head is None:
        return None
    body = read_exact(fd, struct.unpack(">I", head)[0])
    return None if body is None else json.loads(body)


def write_frame(fd, obj):
    body = json.dumps(obj).encode()
    data = struct.pack(">I", len(body)) + body
    while data:
        data = data[os.write(fd, data):]


def make_undumpable():
    # A child of the same user could otherwise ptrace this process or read its memory.
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    PR_SET_DUMPABLE = 4
    libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)


def audit_hook_for(strict):
    def hook(event, args):
        if event in DENIED_EVENTS:
            raise RuntimeError("sandbox policy: %s is not allowed in a validated run" % event)
        if not strict:
            return
        if event == "sys._getframe":
            # ValueError is what namedtuple, typing, enum and logging already tolerate.
            raise ValueError("sandbox policy: frame introspection is not allowed")
        if event == "object.__getattr__" and len(args) > 1 and args[1] in FRAME_ATTRS:
            raise AttributeError("sandbox policy: %s is not allowed" % args[1])
        if event == "object.__setattr__" and len(args) > 1 and args[1] == "__code__":
            raise RuntimeError("sandbox policy: replacing __code__ is not allowed")
    return hook


class NoTraceSys:
    """What doctest sees as `sys` in a run. doctest.testmod() restores the trace function
    it found (None) when it finishes; this lets that restore happen while a real tracer,
    which could read the harness's frames, stays forbidden."""

    def __getattr__(self, name):
        return getattr(sys, name)

    def __setattr__(self, name, value):
        setattr(sys, name, value)

    @staticmethod
    def settrace(function):
        if function is not None:
            raise RuntimeError("sandbox policy: sys.settrace is not allowed in a validated run")


class PatchDoctestOnImport:
    """A meta-path finder that gives doctest a NoTraceSys when a run (or pytest) imports it.
    doctest is not kept warm: with the 35 modules it pulls in, it made every fork copy
    3 MB more of page tables and cost 0.15 ms a run, for the rare run that uses it."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        if name != "doctest":
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        load = spec.loader.exec_module

        def load_and_patch(module):
            load(module)
            module.sys = NoTraceSys()
        spec.loader.exec_module = load_and_patch
        return spec


def set_limits(limits):
    cpu = int(limits["cpu_seconds"])
    # SIGXCPU at the soft limit ends the run (Python keeps its default action for it).
    pairs = [(resource.RLIMIT_CPU, (cpu, cpu + 1)),
             (resource.RLIMIT_AS, (limits["address_space_bytes"],) * 2),
             (resource.RLIMIT_NPROC, (limits["processes"],) * 2),
             (resource.RLIMIT_FSIZE, (limits["file_size_bytes"],) * 2),
             (resource.RLIMIT_NOFILE, (limits["open_files"],) * 2),
             (resource.RLIMIT_CORE, (0, 0))]
    for which, value in pairs:
        resource.setrlimit(which, value)


def describe(exc):
    text = "%s: %s" % (type(exc).__name__, exc)
    return text[:2000]


def where(exc):
    """The innermost line of candidate or test code, read from the traceback without
    touching frames (tb_lineno and tb_next are not introspection)."""
    tb, line = exc.__traceback__, 0
    while tb is not None:
        line = tb.tb_lineno
        tb = tb.tb_next
    return line


# Compiled tests by source: a suite is validated against many candidates (every sample of a
# task), and code objects are immutable, so the children can share one.
TESTS_COMPILED = collections.OrderedDict()
TESTS_COMPILED_MAX = 256


def compile_tests(text, name):
    key = (name, text)
    code = TESTS_COMPILED.get(key)
    if code is None:
        code = compile(text, name, "exec")
        TESTS_COMPILED[key] = code
        if len(TESTS_COMPILED) > TESTS_COMPILED_MAX:
            TESTS_COMPILED.popitem(last=False)
    else:
        TESTS_COMPILED.move_to_end(key)
    return code


def compile_all(req):
    """Compiles candidate and tests in the zygote, before the fork: compiling executes
    nothing, and the warm parent does it without the child's copy-on-write faults.
    Returns (code objects, None) or (None, load_error marker)."""
    compiled = {}
    try:
        compiled["code"] = compile(req["code"], "<candidate>", "exec")
    except BaseException as e:  # SyntaxError, or RecursionError/MemoryError on nesting
        return None, {"k": "load_error", "msg": describe(e), "line": getattr(e, "lineno", 0)}
    parts = [("source", "<tests>"), ("setup", "<setup>")]
    for key, name in parts:
        if req.get(key) and req["form"] != "pytest":
            try:
                compiled[key] = compile_tests(req[key], name)
            except BaseException as e:
                return None, {"k": "test_error", "msg": describe(e),
                              "line": getattr(e, "lineno", 0)}
    return compiled, None


def encode_marker(fields):
    """key=value pairs built only from methods of builtin types, which a candidate cannot
    patch (a module such as json it can): s:HEX for text, i:N, b:0/1, n for None."""
    parts = []
    for key, value in fields.items():
        if value is None:
            parts.append(key + "=n")
        elif value is True or value is False:
            parts.append(key + ("=b:1" if value else "=b:0"))
        elif type(value) is int:
            parts.append(key + "=i:" + int.__repr__(value))
        else:
            parts.append(key + "=s:" + str.encode(str(value), "utf-8", "replace").hex())
    return " ".join(parts)


def decode_marker(text):
    fields = {}
    for part in text.split(" "):
        key, _, value = part.partition("=")
        if value == "n":
            fields[key] = None
        elif value.startswith("b:"):
            fields[key] = value == "b:1"
        elif value.startswith("i:"):
            fields[key] = int(value[2:])
        elif value.startswith("s:"):
            fields[key] = bytes.fromhex(value[2:]).decode("utf-8", "replace")
        else:
            raise ValueError(part)
    return fields


# sys changes legitimately (stdout, recursion limit); builtins are protected apart.
UNWATCHED = {"sys", "builtins", "__main__"}


IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Top-level name -> modules under it, rebuilt when sys.modules grows (pytest loads late).
MODULES_BY_TOP = {}
MODULES_INDEXED = [0]


def modules_named(words):
    if MODULES_INDEXED[0] != len(sys.modules):
        MODULES_BY_TOP.clear()
        for name in list(sys.modules):
            MODULES_BY_TOP.setdefault(name.split(".")[0], []).append(name)
        MODULES_INDEXED[0] = len(sys.modules)
    return [name for word in words if word not in UNWATCHED
            for name in MODULES_BY_TOP.get(word, ())]


IMPORT_LINE = re.compile(r"^[ \t]*(?:from[ \t]+([\w.]+)[ \t]+import|import[ \t]+([\w., \t]+))",
                         re.M)


def imported_by(text):
    """Absolute module names in the import statements of `text`."""
    names = []
    for source, listed in IMPORT_LINE.findall(text):
        for part in [source] if source else listed.split(","):
            words = part.split()
            if words and not words[0].startswith("."):
                names.append(words[0])
    return names


def test_text(req):
    return " ".join([req.get("source", ""), req.get("setup", "")] +
                    [c.get("code", "") for c in req.get("cases", [])])


def snapshot(names):
    """(label, namespace, copy) for each loaded module in `names` and each of its classes."""
    spaces = []
    for name in names:
        module = sys.modules.get(name)
        if module is None:
            continue
        spaces.append((name, vars(module)))
        for value in list(vars(module).values()):
            if isinstance(value, type) and value.__module__ == name:
                spaces.append((name + "." + value.__name__, value.__dict__))
    return [(label, ns, dict(ns)) for label, ns in spaces]


def watched_namespaces(req):
    """Modules the tests name (and their classes): a candidate that patches one of them,
    say math.isclose or unittest.TestCase.run, could make the tests lie. Taken in the
    zygote before the fork, where the modules are the child's as of its birth: walking
    every module in the child copied (copy-on-write) each page the walk touched, 0.7 ms
    a run. Returns the snapshot and the modules the tests import that are not loaded
    yet; the child imports and snapshots those before the candidate runs."""
    text = test_text(req)
    loaded = modules_named(set(IDENTIFIER.findall(text)))
    missing = [name for name in imported_by(text)
               if name not in sys.modules and name.split(".")[0] not in UNWATCHED]
    return snapshot(loaded), missing


def import_for_tests(names):
    """In the child, before the candidate runs: the real modules, as the tests will get
    them. One that fails to import is left to fail in the tests themselves."""
    for name in names:
        try:
            importlib.import_module(name)
        except BaseException:
            pass
    return snapshot(modules_named({name.split(".")[0] for name in names}))


def tampered(watched):
    for label, ns, before in watched:
        if len(ns) != len(before):
            return label
        for key, value in before.items():
            if ns.get(key, before) is not value:
                return "%s.%s" % (label, key)
    return None


def child_main(req, compiled, watched, missing, nonce, marker_fd):
    me = os.getpid()
    real_repr, real_exec, real_compile, real_eval = repr, exec, compile, eval

    def emit(**fields):
        if os.getpid() != me:  # a fork of the candidate continuing through the harness
            os._exit(0)
        os.write(marker_fd, (nonce + " " + encode_marker(fields) + "\n").encode())

    form = req["form"]
    strict = form != "pytest"  # pytest's reporting needs frames; see run_pytest
    sys.addaudithook(audit_hook_for(strict))
    clean_builtins = CLEAN_BUILTINS

    if form == "pytest":
        return run_pytest(req, emit)

    watched = watched + import_for_tests(missing)
    ns = {"__name__": "solution", "__builtins__": builtins}
    try:
        real_exec(compiled["code"], ns)
    except BaseException as e:
        emit(k="load_error", msg=describe(e), line=where(e))
        return
    # Tests see the candidate's names but the real builtins: a candidate cannot make
    # `abs`, `len` or `isinstance` lie to the tests by shadowing or patching them.
    test_ns = {"__name__": "__test__", "__builtins__": clean_builtins}
    for name, value in ns.items():
        if not name.startswith("__") and name not in clean_builtins:
            test_ns[name] = value
    if form == "check":
        run_check(req, compiled, ns, test_ns, emit, real_exec)
    else:
        run_cases(req, compiled, test_ns, emit, real_exec, real_compile, real_eval, real_repr)
    what = tampered(watched)
    if what is not None:
        emit(k="tamper", what="%s was replaced" % what)
    emit(k="done")


def run_check(req, compiled, ns, test_ns, emit, real_exec):
    try:
        real_exec(compiled["source"], test_ns)
    except BaseException as e:
        emit(k="test_error", msg=describe(e), line=where(e))
        return
    check = test_ns.get("check")
    code = getattr(check, "__code__", None)
    if code is None or code.co_filename != "<tests>":
        emit(k="test_error", msg="the tests define no function check(candidate)", line=0)
        return
    entry = req["entry_point"]
    if entry not in ns:
        emit(k="load_error", msg="the candidate defines no %r" % entry, line=0)
        return
    emit(k="start", i=0)
    try:
        check(ns[entry])
    except AssertionError as e:
        emit(k="fail", i=0, msg=describe(e), line=where(e))
    except BaseException as e:
        emit(k="error", i=0, type=type(e).__name__, msg=describe(e), line=where(e))
    else:
        emit(k="pass", i=0)


def run_cases(req, compiled, test_ns, emit, real_exec, real_compile, real_eval, real_repr):
    if "setup" in compiled:
        try:
            real_exec(compiled["setup"], test_ns)
        except BaseException as e:
            emit(k="test_error", msg=describe(e), line=where(e))
            return
    for i, case in enumerate(req["cases"]):
        emit(k="start", i=i)
        try:
            if case.get("doctest"):
                got, eq = run_example(case, test_ns, real_exec, real_compile, real_eval,
                                      real_repr)
                emit(k="got", i=i, out=got, eq=eq)
                continue
            real_exec(real_compile(case["code"], "<test %d>" % (i + 1), "exec"), test_ns)
        except AssertionError as e:
            emit(k="fail", i=i, msg=describe(e), line=where(e))
        except BaseException as e:
            emit(k="error", i=i, type=type(e).__name__, msg=describe(e), line=where(e))
        else:
            emit(k="pass", i=i)


def run_example(case, test_ns, real_exec, real_compile, real_eval, real_repr):
    """Runs one doctest example; returns its output text and whether the value equals
    the expected value parsed as Python (None when that does not apply). The host
    compares the text, so a candidate cannot bend the comparison."""
    source, want = case["code"], case.get("want", "")
    captured = io.StringIO()
    saved = sys.stdout
    sys.stdout = captured
    value, is_expr = None, True
    try:
        try:
            code = real_compile(source, "<example>", "eval")
        except SyntaxError:
            is_expr = False
            real_exec(real_compile(source, "<example>", "exec"), test_ns)
        else:
            value = real_eval(code, test_ns)
    except BaseException as e:
        sys.stdout = saved
        return (captured.getvalue() + "Traceback (most recent call last):\n" +
                describe(e) + "\n"), None
    sys.stdout = saved
    out = captured.getvalue()
    if is_expr and value is not None:
        out += real_repr(value) + "\n"
    eq = None
    if is_expr and want.strip() and not captured.getvalue():
        try:
            eq = bool(value == real_eval(real_compile(want, "<want>", "eval"), {}))
        except BaseException:
            eq = None
    return out, eq


def run_pytest(req, emit):
    # pytest imports the candidate as module `solution` while collecting the tests.
    import pytest
    import _pytest.runner, _pytest.python, _pytest.reports
    watched = [(_pytest.runner, "call_and_report"), (_pytest.runner, "runtestprotocol"),
               (_pytest.runner, "call_runtest_hook"),
               (_pytest.reports.TestReport, "from_item_and_call"),
               (_pytest.python, "pytest_pyfunc_call"), (_pytest.python.Function, "runtest"),
               (pytest, "skip"), (pytest, "fail")]
    before = [vars(obj).get(name) for obj, name in watched]

    class Reporter:
        def pytest_runtest_logreport(self, report):
            if report.when == "call" or report.outcome != "passed":
                msg = str(report.longrepr)[-2000:] if report.longrepr else ""
                emit(k="case", name=report.nodeid, when=report.when,
                     outcome=report.outcome, msg=msg)

        def pytest_collectreport(self, report):
            if report.outcome != "passed":
                emit(k="test_error", msg=str(report.longrepr)[-2000:], line=0)

    args = ["-q", "-p", "no:cacheprovider", "-p", "no:pastebin", "-p", "no:stepwise",
            "-p", "no:faulthandler", "test_solution.py"]
    try:
        pytest.main(args, plugins=[Reporter()])
    except BaseException as e:
        emit(k="test_error", msg=describe(e), line=where(e))
        return
    for (obj, name), was in zip(watched, before):
        if vars(obj).get(name) is not was:
            emit(k="tamper", what="%s.%s was replaced" % (getattr(obj, "__name__", obj), name))
    emit(k="done")


def flush_and_exit(code):
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass
    os._exit(code)


def start_child(req, compiled, watched, missing, run_dir, out_path, err_path, marker_w,
                nonce):
    os.close(CTL_IN)
    os.close(CTL_OUT)
    out = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    err = os.open(err_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(out, 1)
    os.dup2(err, 2)
    os.close(out)
    os.close(err)
    os.chdir(run_dir)
    _signal.signal(_signal.SIGPIPE, _signal.SIG_DFL)  # C level: no enum conversions
    set_limits(req["limits"])
    try:
        child_main(req, compiled, watched, missing, nonce, marker_w)
    except BaseException as e:
        try:
            sys.stderr.write("harness: %s\n" % describe(e))
        except BaseException:
            pass
    flush_and_exit(0)


def kill_everything_else():
    """PID 1 of the sandbox: SIGKILL every other process in it, reap them all, and
    count them. Orphans re-parent to us, so nothing escapes."""
    killed = 0
    try:
        os.kill(-1, signal.SIGKILL)
    except ProcessLookupError:
        pass
    while True:
        try:
            pid, _ = os.waitpid(-1, 0)
        except ChildProcessError:
            return killed
        except InterruptedError:
            continue
        killed += 1


def wipe(path):
    for entry in os.scandir(path):
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            try:
                os.unlink(entry.path)
            except OSError:
                pass


def read_capped(path, cap):
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            head = f.read(cap)
            if size > cap:  # keep the head and the tail: tracebacks end there
                f.seek(max(cap, size - cap))
                head += b"\n[... %d bytes ...]\n" % (size - cap) + f.read(cap)
            return head.decode("utf-8", "replace"), size
    except OSError:
        return "", 0


def watch(pid, marker_r, nonce, wall_seconds):
    """Collects markers until the child exits or the deadline passes."""
    prefix = (nonce + " ").encode()
    pidfd = os.pidfd_open(pid)
    deadline = time.monotonic() + wall_seconds
    buf, timed_out, exited = b"", False, False
    poller = select.poll()
    poller.register(marker_r, select.POLLIN)
    poller.register(pidfd, select.POLLIN)
    marker_open = True
    while not exited:
        left = deadline - time.monotonic()
        if left <= 0:
            timed_out = True
            break
        for fd, _ in poller.poll(left * 1000):
            if fd == pidfd:
                exited = True
            elif marker_open:
                chunk = os.read(marker_r, 65536)
                if not chunk:
                    marker_open = False
                    poller.unregister(marker_r)
                buf += chunk
    os.close(pidfd)
    return buf, timed_out, prefix


def parse_markers(buf, prefix):
    markers, forged = [], 0
    lines = buf.split(b"\n")
    for line in lines[:-1]:
        if line.startswith(prefix):
            try:
                markers.append(decode_marker(line[len(prefix):].decode()))
                continue
            except ValueError:
                pass
        forged += 1
    if lines[-1]:
        forged += 1
    return markers, forged


def serve_run(req, serial):
    compiled, failure = compile_all(req)
    if failure is not None:
        return {"id": req["id"], "markers": [failure], "forged": 0, "timed_out": False,
                "wall": 0.0, "cpu": 0.0, "leftover": 0, "stdout": "", "stderr": "",
                "exit_code": 0}
    watched, missing = watched_namespaces(req) if req["form"] != "pytest" else ([], [])
    run_dir = "%s/run-%d" % (RUN_ROOT, serial)
    os.mkdir(run_dir, 0o700)
    if req["form"] == "pytest":
        for name, text in (("solution.py", req["code"]), ("test_solution.py", req["source"])):
            with open(os.path.join(run_dir, name), "w") as f:
                f.write(text)
    out_path = "%s/.stdout-%d" % (RUN_ROOT, serial)
    err_path = "%s/.stderr-%d" % (RUN_ROOT, serial)
    marker_r, marker_w = os.pipe()
    nonce = os.urandom(16).hex()
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(marker_r)
            start_child(req, compiled, watched, missing, run_dir, out_path, err_path,
                        marker_w, nonce)
        finally:
            os._exit(70)
    os.close(marker_w)
    buf, timed_out, prefix = watch(pid, marker_r, nonce, req["limits"]["wall_seconds"])
    wall = time.monotonic() - started
    if timed_out:
        os.kill(pid, signal.SIGKILL)
    _, status, usage = os.wait4(pid, 0)
    leftover = kill_everything_else()
    while True:  # every writer is dead now: drain what is left
        chunk = os.read(marker_r, 65536)
        if not chunk:
            break
        buf += chunk
    os.close(marker_r)
    markers, forged = parse_markers(buf, prefix)
    cap = req["limits"]["excerpt_bytes"]
    out, out_size = read_capped(out_path, cap)
    err, err_size = read_capped(err_path, cap)
    for path in (out_path, err_path):
        try:
            os.unlink(path)
        except FileNotFoundError:  # the run may delete its own output
            pass
    try:
        os.rmdir(run_dir)  # the common case: the run left nothing behind
    except OSError:
        shutil.rmtree(run_dir, ignore_errors=True)
    if os.listdir(RUN_ROOT):
        wipe(RUN_ROOT)
    if os.listdir("/dev/shm"):
        wipe("/dev/shm")
    reply = {"id": req["id"], "markers": markers, "forged": forged, "timed_out": timed_out,
             "wall": wall, "cpu": usage.ru_utime + usage.ru_stime,
             "max_rss_kb": usage.ru_maxrss, "leftover": leftover,
             "stdout": out, "stderr": err, "stdout_bytes": out_size, "stderr_bytes": err_size}
    if os.WIFSIGNALED(status):
        reply["signal"] = os.WTERMSIG(status)
    else:
        reply["exit_code"] = os.WEXITSTATUS(status)
    return reply


def main():
    if os.getpid() != 1:
        # kill(-1) below would otherwise reach every process of the calling user.
        sys.exit("harness: refusing to run outside a PID namespace of its own (not PID 1)")
    os.dup2(0, CTL_IN)
    os.dup2(1, CTL_OUT)
    null = os.open("/dev/null", os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.close(null)
    make_undumpable()
    # What every run needs, set once here rather than in each child: the child copies
    # (copy-on-write) each page it writes.
    sys.meta_path.insert(0, PatchDoctestOnImport)
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 3000))
    # Children would otherwise copy every page the collector touches (copy-on-write).
    gc.freeze()
    write_frame(CTL_OUT, {"ready": True, "pid": os.getpid(), "python": sys.version.split()[0]})
    serial = 0
    while True:
        req = read_frame(CTL_IN)
        if req is None:
            return
        serial += 1
        if req["form"] == "pytest" and "pytest" not in sys.modules:
            import pytest  # noqa: F401  (once per sandbox; later forks inherit it warm)
            gc.freeze()
        try:
            reply = serve_run(req, serial)
        except Exception as e:  # a harness bug: report it instead of dying silently
            reply = {"id": req.get("id"), "harness_error": describe(e)}
            kill_everything_else()
        write_frame(CTL_OUT, reply)


if __name__ == "__main__":
    main()
