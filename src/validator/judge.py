# The judge and the candidate: two processes of one run (the check, asserts and doctest
# forms). The candidate is forked from the warm zygote for each run; the judge is forked
# once and kept (run_processes.py).
#
# Inside one Python process code cannot protect objects from other code: a candidate
# could return an object whose __eq__ says yes, or replace the harness's own functions.
# So the tests run in the *judge*, which holds the run's nonce and the marker pipe, and
# the candidate runs in a process of its own that holds neither. In the judge, the
# function under test is a Remote: each call sends its arguments as plain data and gets
# back the return value (and the arguments after the call, for in-place functions) as
# plain data built by the judge itself (codec.py). Nothing the candidate can reach
# decides: its stdout, exit code and whatever it writes are not evidence.
import builtins, io, errno, importlib, json, marshal, os, re, resource, signal, socket, struct, sys  # noqa: E401,E501

JUDGE_NAME = "yantra-judge"
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
IDENTIFIER_ONLY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}")
MUTABLE_ARGS = (list, dict, set)


class CandidateGone(BaseException):
    """The candidate's process ended or broke the protocol in the middle of a call. A
    BaseException, so a test's `except Exception` cannot swallow it."""


# ---- the candidate's process -------------------------------------------------------------

class CappedText(io.StringIO):
    """A call's captured output (doctest-style cases), as capped as a run's stdout."""

    def __init__(self, cap):
        super().__init__()
        self.cap = cap

    def write(self, text):
        if self.tell() + len(text) > self.cap:
            raise OSError(errno.EFBIG, "File too large")
        return super().write(text)


def builtin_base(kind):
    for base in kind.__mro__:
        if getattr(builtins, base.__name__, None) is base:
            return base.__name__
    return "Exception"


def exception_reply(e):
    try:
        message = str(e)[:2000]
    except BaseException:
        message = "<the exception's message could not be read>"
    return ["e", type(e).__name__[:100], builtin_base(type(e)), message]


def export(name, value):
    if callable(value):
        return [name, "f"]
    module = getattr(value, "__name__", None) if type(value) is type(sys) else None
    if module is not None:
        return [name, "m", module]
    return [name, "v", encode_plain(value)]


def candidate_main(code, channel, cap):
    """Loads the candidate, says what it defines, then serves calls until killed."""
    ns = {"__name__": "solution", "__builtins__": builtins}
    try:
        exec(code, ns)
    except BaseException as e:
        flush_output()
        channel.send(dump_plain(["load_error", describe(e), where(e)]))
        return
    names = []
    for name, value in list(ns.items()):
        if not name.startswith("__"):
            try:
                names.append(export(name, value))
            except BaseException:
                names.append([name, "v", {"t": "o", "v": "unreadable"}])
    flush_output()
    channel.send(dump_plain(["names", names]))
    me = os.getpid()
    while True:
        reply = serve_call(ns, marshal.loads(channel.recv()), cap)
        if os.getpid() != me:  # a fork the candidate made, returning through this loop
            os._exit(0)
        flush_output()
        channel.send(dump_plain(reply))


def flush_output():
    """What the candidate printed reaches the run's output files before its reply does:
    the zygote kills it once the judge is done, with no exit to flush its buffers."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass


def serve_call(ns, message, cap):
    name, args, kwargs, capture = message
    args = list(args)
    mutable = [(i, a, marshal.dumps(a)) for i, a in enumerate(args) if type(a) in MUTABLE_ARGS]
    mutable += [(k, a, marshal.dumps(a)) for k, a in kwargs.items() if type(a) in MUTABLE_ARGS]
    saved, out = sys.stdout, CappedText(cap) if capture else None
    try:
        if out is not None:
            sys.stdout = out
        reply = ["r", encode_plain(ns[name](*args, **kwargs))]
        changed = []
        for where_, value, before in mutable:
            try:
                same = marshal.dumps(value) == before
            except ValueError:
                same = False
            if not same:
                changed.append([where_, encode_plain(value)])
        reply.append(changed)
    except BaseException as e:
        reply = exception_reply(e)
    finally:
        sys.stdout = saved
    reply.append(out.getvalue() if out is not None else "")
    return reply


# ---- the judge's process -----------------------------------------------------------------

class Link:
    """The judge's end of the pipe to the candidate."""

    def __init__(self, channel):
        self.channel, self.broken, self.capture = channel, None, False
        self.exceptions = {}

    def hello(self):
        """The candidate's first frame: what it defines, or why it did not load."""
        try:
            frame = load_plain(self.channel.recv())
        except (OSError, EOFError, ProtocolError) as e:
            self.broken = "the candidate process ended before it loaded (%s)" % e
            return None
        if type(frame) is list and frame[:1] == ["load_error"] and len(frame) == 3:
            return frame
        if type(frame) is list and frame[:1] == ["names"] and len(frame) == 2:
            return frame
        self.broken = "the candidate process sent a malformed greeting"
        return None

    def call(self, name, args, kwargs):
        if self.broken:
            raise CandidateGone(self.broken)
        payload = dump_call(name, args, kwargs, self.capture)
        try:
            self.channel.send(payload)
            reply = load_plain(self.channel.recv())
            outcome = self.unpack(reply, args, kwargs)
        except (OSError, EOFError, ProtocolError) as e:
            self.broken = "the candidate process ended during a call of %s() (%s)" % (name, e)
            raise CandidateGone(self.broken)
        if isinstance(outcome, BaseException):  # what the candidate raised, rebuilt here
            raise outcome
        return outcome

    def unpack(self, reply, args, kwargs):
        """The call's return value, or the exception to raise in its place."""
        if type(reply) is not list or not reply or reply[0] not in ("r", "e"):
            raise ProtocolError("a reply that is neither a value nor an exception")
        out = reply[-1]
        if type(out) is not str:
            raise ProtocolError("a reply without its output")
        if out and self.capture:
            sys.stdout.write(out)
        if reply[0] == "e":
            if len(reply) != 5 or not all(type(x) is str for x in reply[1:4]):
                raise ProtocolError("a malformed exception")
            return self.rebuild(reply[1], reply[2], reply[3])
        if len(reply) != 4 or type(reply[2]) is not list:
            raise ProtocolError("a malformed return")
        for item in reply[2]:
            write_back(item, args, kwargs)
        return reply[1]

    def rebuild(self, name, base, message):
        """The candidate's exception as one of the judge's own: the builtin of that name,
        or a class of the candidate's name under its nearest builtin base."""
        if not IDENTIFIER_ONLY.fullmatch(name) or not IDENTIFIER_ONLY.fullmatch(base):
            raise ProtocolError("an exception name that is not an identifier")
        parent = getattr(builtins, base, None)
        if not (isinstance(parent, type) and issubclass(parent, Exception)):
            parent = Exception  # SystemExit and the like end nothing here: a test error
        elif issubclass(parent, (StopIteration, StopAsyncIteration)):
            parent = RuntimeError  # as PEP 479 does: it must not end the tests' own loops
        kind = parent if name == base and parent.__name__ == name else \
            self.exceptions.setdefault((name, parent), type(name, (parent,), {}))
        try:
            return kind(message)
        except BaseException:
            return self.exceptions.setdefault((name, Exception), type(name, (Exception,), {}))(
                message)


def write_back(item, args, kwargs):
    """An argument the candidate changed in place, changed the same way here."""
    if type(item) is not list or len(item) != 2:
        raise ProtocolError("a malformed argument update")
    where_, value = item
    if type(where_) is int and 0 <= where_ < len(args):
        target = args[where_]
    elif type(where_) is str and where_ in kwargs:
        target = kwargs[where_]
    else:
        raise ProtocolError("an update of an argument that was not passed")
    if type(target) is not type(value):
        return
    if type(target) is list:
        target[:] = value
    else:
        target.clear()
        target.update(value)


class Remote:
    """A function of the candidate's, as the tests see it in the judge."""
    __slots__ = ("_name", "_link")

    def __init__(self, name, link):
        self._name, self._link = name, link

    def __call__(self, *args, **kwargs):
        return self._link.call(self._name, args, kwargs)

    @property
    def __name__(self):
        return self._name

    def __repr__(self):
        return "<function %s of the candidate>" % self._name


def test_namespace(names, link, test_words):
    """The tests' globals: the real builtins, a Remote for each function the candidate
    defines, a decoded copy of its plain constants, and the standard modules it imported
    under their own names (imported again here, the judge's own copies)."""
    ns = {"__name__": "__test__", "__builtins__": builtins}
    callables = set()
    for entry in names if type(names) is list else ():
        if type(entry) is not list or len(entry) < 2 or type(entry[0]) is not str:
            continue
        name, kind = entry[0], entry[1]
        if name.startswith("__") or name in builtins.__dict__:
            continue
        if kind == "f":
            ns[name] = Remote(name, link)
            callables.add(name)
        elif kind == "v" and len(entry) == 3:
            ns[name] = entry[2]
        elif kind == "m" and len(entry) == 3 and name in test_words:
            module = import_as(name, entry[2])
            if module is not None:
                ns[name] = module
    return ns, callables


def import_as(name, module):
    """A standard module the candidate bound to `name`, when `name` is its own last
    component (math as math, os.path as path): the tests may lean on that import."""
    if type(module) is not str or module.rpartition(".")[2] != name:
        return None
    if module.partition(".")[0] not in sys.stdlib_module_names:
        return None
    try:
        return importlib.import_module(module)
    except BaseException:
        return None


def name_process(name):
    import ctypes
    PR_SET_NAME = 15  # /proc/self/comm is root's in an undumpable process: prctl it is
    ctypes.CDLL(None).prctl(PR_SET_NAME, name.encode(), 0, 0, 0)


def judge_serve(control):
    """The judge's process: takes run after run from the zygote over `control`, each with
    its pipes to the candidate, its marker pipe and its output files, and runs the tests.
    Each run starts from the random module's state at the judge's start, as a run forked
    from the zygote would: tests that draw inputs unseeded draw the same ones for every
    candidate."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a candidate could interrupt a test
    name_process(JUDGE_NAME)  # how the host's tests tell it from a leftover
    os.chdir("/")
    null = os.open("/dev/null", os.O_RDWR)
    import random
    random_state = random.getstate()
    while True:
        head, fds, _, _ = socket.recv_fds(control, 4, 8)
        if not head:
            return
        while len(head) < 4:
            head += control.recv(4 - len(head))
        size = struct.unpack(">I", head)[0]
        body = b""
        while len(body) < size:
            chunk = control.recv(size - len(body))
            if not chunk:
                return
            body += chunk
        message = json.loads(body)
        to_judge_r, to_candidate_w, marker_w, out, err = fds
        os.dup2(out, 1)
        os.dup2(err, 2)
        req = message["req"]
        random.setstate(random_state)
        resource.setrlimit(resource.RLIMIT_AS, (req["limits"]["address_space_bytes"],
                                                resource.RLIM_INFINITY))
        try:
            judge_main(req, Link(Channel(to_judge_r, to_candidate_w)),
                       marker_writer(marker_w, message["nonce"]))
        finally:
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except BaseException:
                    pass
            os.dup2(null, 1)
            os.dup2(null, 2)
            for fd in fds:
                os.close(fd)


def judge_main(req, link, emit):
    compiled = {}
    for key, name in (("source", "<tests>"), ("setup", "<setup>")):
        if req.get(key):
            try:
                compiled[key] = compile_tests(req[key], name)
            except BaseException as e:
                emit(k="test_error", msg=describe(e), line=getattr(e, "lineno", 0))
                emit(k="done")  # a clean end for the judge: the tests are what failed
                return
    hello = link.hello()
    if hello is None:
        emit(k="gone", msg=link.broken)
        return
    if hello[0] == "load_error":
        line = hello[2] if type(hello[2]) is int else 0
        emit(k="load_error", msg=str(hello[1])[:2000], line=line)
        emit(k="done")
        return
    words = set(IDENTIFIER.findall(test_text(req)))
    test_ns, callables = test_namespace(hello[1], link, words)
    if req["form"] == "check":
        judge_check(req, compiled, test_ns, callables, link, emit)
    else:
        judge_cases(req, compiled, test_ns, link, emit)
    if link.broken:
        emit(k="gone", msg=link.broken)
        return
    emit(k="done")


def test_text(req):
    return " ".join([req.get("source", ""), req.get("setup", "")] +
                    [c.get("code", "") for c in req.get("cases", [])])


def judge_check(req, compiled, test_ns, callables, link, emit):
    try:
        exec(compiled["source"], test_ns)
    except BaseException as e:
        emit(k="test_error", msg=describe(e), line=where(e))
        return
    check = test_ns.get("check")
    code = getattr(check, "__code__", None)
    if code is None or code.co_filename != "<tests>":
        emit(k="test_error", msg="the tests define no function check(candidate)", line=0)
        return
    entry = req["entry_point"]
    if entry not in callables:
        emit(k="load_error", msg="the candidate defines no function %r" % entry, line=0)
        return
    emit(k="start", i=0)
    try:
        check(Remote(entry, link))
    except AssertionError as e:
        emit(k="fail", i=0, msg=describe(e), line=where(e))
    except BaseException as e:
        emit(k="error", i=0, type=type(e).__name__, msg=describe(e), line=where(e))
    else:
        emit(k="pass", i=0)


def judge_cases(req, compiled, test_ns, link, emit):
    if "setup" in compiled:
        try:
            exec(compiled["setup"], test_ns)
        except BaseException as e:
            emit(k="test_error", msg=describe(e), line=where(e))
            return
    for i, case in enumerate(req["cases"]):
        if link.broken:
            return
        emit(k="start", i=i)
        try:
            if case.get("doctest"):
                got, eq = judge_example(case, test_ns, link)
                emit(k="got", i=i, out=got, eq=eq)
                continue
            exec(compile(case["code"], "<test %d>" % (i + 1), "exec"), test_ns)
        except AssertionError as e:
            emit(k="fail", i=i, msg=describe(e), line=where(e))
        except BaseException as e:
            emit(k="error", i=i, type=type(e).__name__, msg=describe(e), line=where(e))
        else:
            emit(k="pass", i=i)


def judge_example(case, test_ns, link):
    """One doctest example: its output text (what the candidate printed, then the repr of
    the value, computed here on plain data) and whether that value equals the expected
    value parsed as Python (None when that does not apply). The host compares the text."""
    source, want = case["code"], case.get("want", "")
    captured = io.StringIO()
    saved = sys.stdout
    sys.stdout, link.capture = captured, True
    value, is_expr = None, True
    try:
        try:
            code = compile(source, "<example>", "eval")
        except SyntaxError:
            is_expr = False
            exec(compile(source, "<example>", "exec"), test_ns)
        else:
            value = eval(code, test_ns)
    except BaseException as e:
        sys.stdout, link.capture = saved, False
        if isinstance(e, CandidateGone):
            raise
        return (captured.getvalue() + "Traceback (most recent call last):\n" +
                describe(e) + "\n"), None
    sys.stdout, link.capture = saved, False
    out = captured.getvalue()
    if is_expr and value is not None:
        out += repr(value) + "\n"
    eq = None
    if is_expr and want.strip() and not captured.getvalue():
        try:
            eq = bool(value == eval(compile(want, "<want>", "eval"), {}))
        except BaseException:
            eq = None
    return out, eq
