# Yantra's sandbox harness, the zygote. Runs as PID 1 of a bubblewrap sandbox (no
# network, read-only system, private /tmp) and serves runs forever: read a request frame
# on stdin, fork the run's processes, watch them from outside, kill everything they left
# behind, wipe /tmp, reply with raw facts on stdout. The host decides the verdict from
# those facts; this file never says "passed".
#
# A run of the check, asserts or doctest form is two processes (judge.py): the judge
# runs the tests and reports, the candidate answers its calls with plain data
# (codec.py). A pytest run is one process (pytest_form.py). run_processes.py makes them.
# The program is these five files, joined in that order by the host.
#
# Frames: 4-byte big-endian length, then UTF-8 JSON.
# Judge -> zygote markers: one line each, "NONCE key=value...". The nonce is fresh per
# run and only the judge has it and the marker pipe; lines without it are counted as
# forged. Only the judge's own PID emits markers, so forked copies cannot report twice.
import os, sys, json, struct, signal, _signal, resource, time, select, shutil, socket, gc  # noqa: E401,E501

# Warm modules: children are forks, so what is imported here costs nothing per run. The
# set is what generated code imports most (measured on recorded HumanEval answers); every
# module more makes each fork dearer, so it stays short.
import typing, math, hashlib, collections, heapq, datetime, re, functools, itertools  # noqa: F401,E401
import string  # noqa: F401

CTL_IN, CTL_OUT = 200, 201
RUN_ROOT = "/tmp"
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


HARNESS_FILE = "<string>"  # what `python -c` names this program's code


def where(exc):
    """The innermost line of candidate or test code in the traceback: the harness's own
    lines (a Remote call raising what the candidate raised) are not where it happened."""
    tb, line = exc.__traceback__, 0
    while tb is not None:
        if tb.tb_frame.f_code.co_filename != HARNESS_FILE:
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


def compile_candidate(req):
    """Compiles the candidate in the zygote, before the fork: compiling executes nothing,
    and the warm parent does it without the child's copy-on-write faults. Returns (code
    object, None) or (None, load_error marker)."""
    try:
        return compile(req["code"], "<candidate>", "exec"), None
    except BaseException as e:  # SyntaxError, or RecursionError/MemoryError on nesting
        return None, {"k": "load_error", "msg": describe(e), "line": getattr(e, "lineno", 0)}


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


def kill_everything_else(spare=None):
    """PID 1 of the sandbox: SIGKILL every other process in it but `spare` (the warm
    judge), reap them all, and count them. Orphans re-parent to us, so nothing escapes:
    each sweep kills every process /proc lists, and the next sweep finds what they
    forked meanwhile. A process only the judge could reap ends the judge too. Returns
    (count, whether `spare` died)."""
    killed, spare_died, idle = 0, False, 0
    while True:
        others = [int(n) for n in os.listdir("/proc") if n.isdigit() and int(n) not in (1, spare)]
        if not others:
            return killed, spare_died
        if idle > 1000 and spare is not None:
            others.append(spare)
        for pid in others:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        reaped = 0
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                pid = 0
            if pid == 0:
                break
            reaped += 1
            if pid == spare:
                spare_died, spare = True, None
            else:
                killed += 1
        if not reaped:
            idle += 1
            time.sleep(0.0001)


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


def watch(marker_r, nonce, wall_seconds, pid=None):
    """Collects markers until the deadline passes or the run ends: when `pid` exits (a
    pytest run), or else when the marker pipe closes (the judge closes it after a run,
    and it is the only writer)."""
    prefix = (nonce + " ").encode()
    pidfd = os.pidfd_open(pid) if pid is not None else None
    deadline = time.monotonic() + wall_seconds
    buf, timed_out, ended = b"", False, False
    poller = select.poll()
    poller.register(marker_r, select.POLLIN)
    if pidfd is not None:
        poller.register(pidfd, select.POLLIN)
    marker_open = True
    while not ended:
        left = deadline - time.monotonic()
        if left <= 0:
            timed_out = True
            break
        for fd, _ in poller.poll(left * 1000):
            if fd == pidfd:
                ended = True
            elif marker_open:
                chunk = os.read(marker_r, 65536)
                if not chunk:
                    marker_open = False
                    poller.unregister(marker_r)
                    ended = ended or pidfd is None
                buf += chunk
    if pidfd is not None:
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
    code, failure = compile_candidate(req)
    if failure is not None:
        return {"id": req["id"], "markers": [failure], "forged": 0, "timed_out": False,
                "wall": 0.0, "cpu": 0.0, "leftover": 0, "stdout": "", "stderr": "",
                "exit_code": 0}
    run_dir = "%s/run-%d" % (RUN_ROOT, serial)
    os.mkdir(run_dir, 0o700)
    out_path = "%s/.stdout-%d" % (RUN_ROOT, serial)
    err_path = "%s/.stderr-%d" % (RUN_ROOT, serial)
    started = time.monotonic()
    wall_limit = req["limits"]["wall_seconds"]
    if req["form"] == "pytest":
        for name, text in (("solution.py", req["code"]), ("test_solution.py", req["source"])):
            with open(os.path.join(run_dir, name), "w") as f:
                f.write(text)
        marker_r, marker_w = os.pipe()
        nonce = os.urandom(16).hex()
        child = start_pytest(req, run_dir, out_path, err_path, marker_w, nonce)
        os.close(marker_w)
        buf, timed_out, prefix = watch(marker_r, nonce, wall_limit, pid=child)
        if timed_out:
            os.kill(child, signal.SIGKILL)
        _, status, usage = os.wait4(child, 0)
        cpu, candidate_end = usage.ru_utime + usage.ru_stime, None
    else:
        candidate, marker_r, nonce = start_judged_run(req, code, run_dir, out_path, err_path)
        buf, timed_out, prefix = watch(marker_r, nonce, wall_limit)
        candidate_end, cpu = end_candidate(candidate)
        # The judge's own end, if it died during the run (the candidate may kill it); one
        # that timed out may be stuck holding the marker pipe, and goes now.
        status = JUDGE.stop() if timed_out else JUDGE.reap_if_dead()
    wall = time.monotonic() - started
    leftover, judge_died = kill_everything_else(JUDGE.pid)
    if judge_died:
        JUDGE.forget()
        status = status if status is not None else int(signal.SIGKILL)  # a wait status
    while True:  # every writer is dead or done now: drain what is left
        chunk = os.read(marker_r, 65536)
        if not chunk:
            break
        buf += chunk
    os.close(marker_r)
    markers, forged = parse_markers(buf, prefix)
    if not any(m.get("k") == "done" for m in markers):
        JUDGE.stop()  # it may hold what a broken run left: a fresh one for the next run
    reply = {"id": req["id"], "markers": markers, "forged": forged, "timed_out": timed_out,
             "wall": wall, "cpu": cpu, "leftover": leftover}
    reply.update(run_output(req, out_path, err_path, run_dir))
    reply.update(end_status(status) if status is not None else {"exit_code": 0})
    if candidate_end is not None:  # the candidate ended on its own, before the judge did
        ended = end_status(candidate_end)
        if "signal" in ended:
            reply.setdefault("signal", ended["signal"])
        else:
            reply["candidate_exit"] = ended["exit_code"]
    return reply


def end_status(status):
    if os.WIFSIGNALED(status):
        return {"signal": os.WTERMSIG(status)}
    return {"exit_code": os.WEXITSTATUS(status)}


def run_output(req, out_path, err_path, run_dir):
    """The run's stdout and stderr excerpts; then its files are wiped."""
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
    return {"stdout": out, "stderr": err, "stdout_bytes": out_size, "stderr_bytes": err_size}


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
    # Python raises KeyboardInterrupt on SIGINT, and PID 1 gets the signals of its
    # namespace for which it has a handler: a candidate could interrupt the zygote.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
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
            JUDGE.stop()
            kill_everything_else()
        write_frame(CTL_OUT, reply)


if __name__ == "__main__":
    main()
