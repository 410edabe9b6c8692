# The processes of a run, as the zygote makes them: the candidate (forked per run, holding
# nothing of the zygote's), the warm judge (forked once, fed each run's pipes over a Unix
# socket) and, for the pytest form, the one process that runs both. Part of the harness
# program (see harness.py); the zygote's loop is there.


def flush_and_exit(code):
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass
    os._exit(code)


def close_all_but(keep):
    """Closes every descriptor from 3 up except those in `keep`: a process of a run holds
    nothing of the zygote's (the host's pipes, the judge's control socket)."""
    low = 3
    for fd in sorted(k for k in keep if k >= 3):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, resource.getrlimit(resource.RLIMIT_NOFILE)[0])


def enter_child(req, run_dir, out_path, err_path, keep):
    """What the candidate (or a pytest run) does first: let go of every descriptor it
    does not own, write to the run's output files, take the limits."""
    close_all_but(keep)
    for path, target in ((out_path, 1), (err_path, 2)):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(run_dir)
    set_limits(req["limits"])


def marker_writer(marker_fd, nonce):
    me = os.getpid()

    def emit(**fields):
        if os.getpid() != me:  # a fork continuing through the harness
            os._exit(0)
        os.write(marker_fd, (nonce + " " + encode_marker(fields) + "\n").encode())
    return emit


def run_child(body):
    """Runs one process of a run to its end: a harness fault is written to its stderr."""
    try:
        body()
    except EOFError:  # the other process of the run is gone: nothing more to do
        pass
    except BaseException as e:
        try:
            sys.stderr.write("harness: %s\n" % describe(e))
        except BaseException:
            pass
    flush_and_exit(0)


def fork_run_process(body):
    pid = os.fork()
    if pid == 0:
        try:
            run_child(body)
        finally:
            os._exit(70)
    return pid


def start_pytest(req, run_dir, out_path, err_path, marker_w, nonce):
    def pytest_body():
        enter_child(req, run_dir, out_path, err_path, {marker_w})
        _signal.signal(_signal.SIGPIPE, _signal.SIG_DFL)  # C level: no enum conversions
        pytest_child_main(req, nonce, marker_w)
    return fork_run_process(pytest_body)


def start_candidate(req, code, run_dir, out_path, err_path):
    """Forks the run's candidate; returns its pid and the judge's ends of its pipes."""
    to_judge_r, to_judge_w = os.pipe()
    to_candidate_r, to_candidate_w = os.pipe()

    def candidate_body():
        enter_child(req, run_dir, out_path, err_path, {to_candidate_r, to_judge_w})
        # A closed stdout ends the candidate as it ends a program; the judge, which keeps
        # Python's default, sees a gone candidate as a BrokenPipeError instead.
        _signal.signal(_signal.SIGPIPE, _signal.SIG_DFL)
        candidate_main(code, Channel(to_candidate_r, to_judge_w),
                       req["limits"]["file_size_bytes"])

    pid = fork_run_process(candidate_body)
    os.close(to_candidate_r)
    os.close(to_judge_w)
    return pid, to_judge_r, to_candidate_w


def end_candidate(pid):
    """Kills the candidate unless it ended first; its own end (a wait status, or None
    when our SIGKILL ended it) and its CPU seconds. A process already on its way out
    (SIGXCPU, a crash, an exit: its pipe closes before it can be reaped) keeps the end
    it had: the first fatal signal wins."""
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    _, status, usage = os.wait4(pid, 0)
    # SIGPIPE: it wrote to the pipe of a judge that had given up on it, a consequence.
    killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) in (signal.SIGKILL, signal.SIGPIPE)
    return (None if killed else status), usage.ru_utime + usage.ru_stime


class WarmJudge:
    """The zygote's judge process: forked once and kept for run after run (forking one per
    run doubled what a run costs here, and one per test suite cost half as much again on
    the recorded HumanEval runs), each run in a fresh test namespace. It is replaced after
    any run that did not end cleanly (the candidate may have stopped, starved or killed
    it) and every JUDGE_RUNS runs. Tests of one suite share it with the next suite's: they
    are the host's (hidden tests, the request's own examples, the user's test file), not
    the candidate's. Every run's pipes reach it over a Unix socket (SCM_RIGHTS); no
    candidate ever holds that socket."""

    def __init__(self):
        self.pid, self.sock, self.runs = None, None, 0

    def ready(self):
        if self.pid is not None and self.runs < JUDGE_RUNS:
            self.runs += 1
            return
        self.stop()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)

        def judge_body():
            close_all_but({theirs.fileno()})
            judge_serve(theirs)
        self.pid = fork_run_process(judge_body)
        theirs.close()
        self.sock, self.runs = ours, 1

    def start_run(self, message, fds):
        body = json.dumps(message).encode()
        socket.send_fds(self.sock, [struct.pack(">I", len(body))], fds)
        self.sock.sendall(body)

    def forget(self):
        """The judge died and was reaped already."""
        if self.sock is not None:
            self.sock.close()
        self.pid, self.sock, self.runs = None, None, 0

    def reap_if_dead(self):
        """Its wait status if it has died, else None (it lives on)."""
        if self.pid is None:
            return None
        pid, status = os.waitpid(self.pid, os.WNOHANG)
        if pid == 0:
            return None
        self.forget()
        return status

    def stop(self):
        """Kills it; returns its wait status had it died already, else None."""
        if self.pid is None:
            return None
        status = self.reap_if_dead()
        if status is not None:
            return status
        os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)
        self.forget()
        return None


JUDGE_RUNS = 1000
JUDGE = WarmJudge()


def start_judged_run(req, code, run_dir, out_path, err_path):
    """The candidate forked, the judge told to run the tests against it. Returns the
    candidate's pid, the marker pipe's read end and the run's nonce, made after the fork:
    the candidate's memory never held it."""
    candidate, to_judge_r, to_candidate_w = start_candidate(req, code, run_dir, out_path,
                                                            err_path)
    nonce = os.urandom(16).hex()
    JUDGE.ready()
    marker_r, marker_w = os.pipe()
    out = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    err = os.open(err_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    fds = [to_judge_r, to_candidate_w, marker_w, out, err]
    try:
        JUDGE.start_run({"req": {k: v for k, v in req.items() if k != "code"}, "nonce": nonce},
                        fds)
    except OSError:  # the judge died before it took the run: the run ends with no marker
        pass
    for fd in fds:
        os.close(fd)
    return candidate, marker_r, nonce
