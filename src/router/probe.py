# Probe inputs for dual execution (CodeT-style agreement between candidates).
#
# Run inside the validator's sandbox as the setup of a doctest-style case; the host asks
# for yantra_probe_calls(), whose repr is the list of call expressions every candidate is
# then run on. The inputs come only from the request: the calls in its examples, each
# argument varied one at a time (empty, reversed, off by one, ...), and, for parameters
# with type hints, a few typical values. Deterministic: the same request always gives the
# same probes, so candidates asked in different rounds are compared on the same inputs.
import ast
import itertools
import json

MAX_PROBES = 24
MAX_LITERAL = 2000  # characters of one argument's repr: keep probes cheap to run


def _vary(value):
    if isinstance(value, bool):
        return [not value]
    if isinstance(value, int):
        out = [value + 1, value - 1, 0, -value, value * 2 + 1]
        return [v for v in out if abs(v) < 10 ** 6]
    if isinstance(value, float):
        return [value + 0.5, -value, 0.0, value * 2]
    if isinstance(value, str):
        return ["", value[::-1], value + value, value[: len(value) // 2], value.upper(),
                value.replace(" ", "  ")]
    if isinstance(value, list):
        out = [[], value[::-1], value[:1], value + value[:2]]
        try:
            out.append(sorted(value))
        except TypeError:
            pass
        return out
    if isinstance(value, tuple):
        return [(), value[::-1]]
    if isinstance(value, dict):
        return [{}, dict(list(value.items())[:1])]
    return []


_TYPICAL = {
    "int": [0, 1, 7, -3],
    "float": [0.0, 1.5, -2.25],
    "str": ["", "a", "Hello World", "abcba"],
    "bool": [True, False],
    "List[int]": [[], [1], [3, 1, 2], [5, 5, -1, 0]],
    "List[float]": [[], [1.0], [1.0, 2.5, -0.5]],
    "List[str]": [[], ["a"], ["abc", "b", "xyz"]],
    "list": [[], [1, 2, 3]],
}


def _literal_args(call):
    args = []
    for node in call.args:
        args.append(ast.literal_eval(node))
    kwargs = {}
    for kw in call.keywords:
        if kw.arg is None:
            raise ValueError("**kwargs")
        kwargs[kw.arg] = ast.literal_eval(kw.value)
    return args, kwargs


def _render(entry, args, kwargs):
    parts = [repr(a) for a in args] + ["%s=%r" % (k, v) for k, v in kwargs.items()]
    # repr must read back as a literal (not so for inf, nan, objects): else no probe
    for value in list(args) + list(kwargs.values()):
        ast.literal_eval(repr(value))
    return "%s(%s)" % (entry, ", ".join(parts))


def _example_calls(entry, examples):
    calls = []
    for text in examples:
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id == entry):
                try:
                    calls.append(_literal_args(node))
                except (ValueError, SyntaxError, TypeError):
                    pass
    return calls


def _hinted_calls(signature):
    try:
        fn = ast.parse(signature.strip().rstrip(":") + ":\n    pass\n").body[0]
    except (SyntaxError, IndexError):
        return []
    if not isinstance(fn, ast.FunctionDef):
        return []
    pools = []
    for a in fn.args.args:
        hint = ast.unparse(a.annotation).replace("typing.", "") if a.annotation else ""
        if hint not in _TYPICAL:
            return []
        pools.append(_TYPICAL[hint])
    if not pools:
        return []
    return [(list(combo), {}) for combo in itertools.islice(itertools.product(*pools), 12)]


def probe_calls(entry, examples, signature):
    """Call expressions of `entry` to run every candidate on."""
    seen, out = set(), []

    def add(args, kwargs):
        if len(out) >= MAX_PROBES:
            return
        try:
            text = _render(entry, args, kwargs)
        except (ValueError, SyntaxError, TypeError, RecursionError):
            return
        if len(text) <= MAX_LITERAL * max(1, len(args)) and text not in seen:
            seen.add(text)
            out.append(text)

    base = _example_calls(entry, examples)
    for args, kwargs in base:
        add(args, kwargs)
    for args, kwargs in base:
        for i, value in enumerate(args):
            for varied in _vary(value):
                add(args[:i] + [varied] + args[i + 1:], kwargs)
    for args, kwargs in _hinted_calls(signature):
        add(args, kwargs)
    return out
