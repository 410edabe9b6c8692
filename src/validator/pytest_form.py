# The pytest form: tests that import the candidate's module and its classes cannot reach
# it through plain data, so they run in the candidate's own process, as one run did
# before the judge moved out. Its guarantee is weaker, and says so (README, "The
# sandbox"): the tests, pytest and the reporting hook share the process with the
# candidate. An audit hook that cannot be removed denies frame, gc, ctypes and tracing
# introspection (which could reach the nonce), and the pytest functions that decide a
# report are compared before and after. `yantra generate` never learns from this form.
import importlib.machinery

DENIED_EVENTS = {"gc.get_objects", "gc.get_referrers", "gc.get_referents",
                 "sys._current_frames", "sys.settrace", "sys.setprofile",
                 "sys.addaudithook", "ctypes.dlopen", "ctypes.dlsym", "ctypes.cdata",
                 "ctypes.addressof", "ctypes.string_at", "ctypes.wstring_at"}


def audit_hook(event, args):
    if event in DENIED_EVENTS:
        raise RuntimeError("sandbox policy: %s is not allowed in a validated run" % event)


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


def pytest_child_main(req, nonce, marker_fd):
    me = os.getpid()

    def emit(**fields):
        if os.getpid() != me:  # a fork of the candidate continuing through the harness
            os._exit(0)
        os.write(marker_fd, (nonce + " " + encode_marker(fields) + "\n").encode())

    sys.addaudithook(audit_hook)  # frames stay: pytest's reporting needs them
    run_pytest(req, emit)


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
