# Plain data across the boundary between the candidate's process and the judge's.
#
# The judge never holds an object the candidate made: it holds values it built itself
# from bytes, and only of exact builtin types (None, bool, int, float, complex, str,
# bytes, tuple, list, dict, set, frozenset, range). Anything else crosses as an Opaque
# that equals nothing; an iterator crosses as its first ITER_MAX_ITEMS items; an
# exception as its type name, its nearest builtin base and its message.
#
# Candidate -> judge: a frame of JSON. Arrays are lists, strings str, numbers int or
# float, true/false/null; every other type is an object {"t": TAG, "v": ...}, rebuilt by
# decode_plain's object hook. Judge -> candidate: marshal, which the candidate decodes
# (the candidate trusts nothing of ours anyway, and marshal refuses what is not plain).
#
# Frames: 4-byte big-endian length, then the body.
import json, marshal, os, struct, itertools  # noqa: E401

FRAME_MAX_BYTES = 64 << 20
PLAIN_MAX_DEPTH = 200
ITER_MAX_ITEMS = 100000
SAFE_INT = 1 << 53
LIST_TAGS = {"t", "s", "S", "d", "c", "r", "g"}
NON_FINITE = {"nan": float("nan"), "inf": float("inf"), "-inf": float("-inf")}


class ProtocolError(Exception):
    """What came through the pipe is not a frame of plain data."""


class Channel:
    """Frames over a pair of pipe descriptors, read through one buffer."""

    def __init__(self, read_fd, write_fd):
        self.read_fd, self.write_fd, self.buf = read_fd, write_fd, bytearray()

    def send(self, body):
        data = memoryview(struct.pack(">I", len(body)) + body)
        while data:
            data = data[os.write(self.write_fd, data):]

    def _fill(self, size):
        while len(self.buf) < size:
            chunk = os.read(self.read_fd, max(65536, size - len(self.buf)))
            if not chunk:
                raise EOFError("the other process closed the pipe")
            self.buf += chunk

    def recv(self, limit=FRAME_MAX_BYTES):
        self._fill(4)
        size = struct.unpack(">I", self.buf[:4])[0]
        if size > limit:
            raise ProtocolError("a frame of %d bytes, over the limit of %d" % (size, limit))
        self._fill(4 + size)
        body = bytes(self.buf[4:4 + size])
        del self.buf[:4 + size]
        return body


# ---- candidate side: any value -> a JSON tree --------------------------------------------

def is_iterator(value):
    kind = type(value)
    return hasattr(kind, "__next__") and hasattr(kind, "__iter__")


def encode_plain(value, depth=0):
    kind = type(value)
    if value is None or kind is bool or kind is str:
        return value
    if kind is int:
        return value if -SAFE_INT < value < SAFE_INT else {"t": "I", "v": format(value, "x")}
    if kind is float:
        return value if value - value == 0 else {"t": "F", "v": repr(value)}
    if depth >= PLAIN_MAX_DEPTH:
        return {"t": "o", "v": "value nested deeper than %d" % PLAIN_MAX_DEPTH}
    depth += 1
    if kind is list:
        return [encode_plain(x, depth) for x in value]
    if kind is tuple or kind is set or kind is frozenset:
        tag = "t" if kind is tuple else "s" if kind is set else "S"
        return {"t": tag, "v": [encode_plain(x, depth) for x in value]}
    if kind is dict:
        return {"t": "d", "v": [[encode_plain(k, depth), encode_plain(v, depth)]
                                for k, v in value.items()]}
    if kind is bytes:
        return {"t": "b", "v": value.hex()}
    if kind is complex:
        return {"t": "c", "v": [encode_plain(value.real), encode_plain(value.imag)]}
    if kind is range:
        return {"t": "r", "v": [encode_plain(value.start), encode_plain(value.stop),
                                encode_plain(value.step)]}
    if is_iterator(value):
        items = list(itertools.islice(value, ITER_MAX_ITEMS + 1))
        more = len(items) > ITER_MAX_ITEMS
        return {"t": "g", "v": [encode_plain(x, depth) for x in items[:ITER_MAX_ITEMS]],
                "m": more}
    return {"t": "o", "v": "%s.%s" % (getattr(kind, "__module__", "?"), kind.__qualname__)}


def dump_plain(tree):
    return json.dumps(tree, separators=(",", ":")).encode()


# ---- judge side: bytes -> values of exact builtin types ----------------------------------

class Opaque:
    """A value of the candidate's that is not plain data. Every comparison with it raises
    (`==` and `!=` alike: a test that asserts inequality must not pass either), it has no
    truth value and no order, and its repr never matches another's."""
    __slots__ = ("type_name", "tag")

    def __init__(self, type_name):
        self.type_name, self.tag = type_name, os.urandom(4).hex()

    def _refuse(self, *_):
        raise TypeError("the candidate returned a %s, which is not plain data: it cannot be "
                        "compared or tested here" % self.type_name)

    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = __bool__ = _refuse
    __hash__ = object.__hash__

    def __repr__(self):
        return "<%s object, not plain data #%s>" % (self.type_name, self.tag)


class CandidateIterator:
    """What a generator or iterator of the candidate's yielded, replayed once."""

    def __init__(self, items, more):
        self._items, self._more, self._next = items, more, 0

    def __iter__(self):
        return self

    def __next__(self):
        if self._next < len(self._items):
            self._next += 1
            return self._items[self._next - 1]
        if self._more:
            raise RuntimeError("the candidate's iterator yielded more than %d items"
                               % ITER_MAX_ITEMS)
        raise StopIteration


def _decode_tagged(obj):
    tag, value = obj.get("t"), obj.get("v")
    if len(obj) != (3 if tag == "g" else 2):
        raise ProtocolError("unexpected keys %r" % sorted(obj)[:4])
    if tag in LIST_TAGS and type(value) is not list:
        raise ProtocolError("not plain data: tag %r without a list" % (tag,))
    if tag == "t":
        return tuple(value)
    if tag == "s":
        return set(value)
    if tag == "S":
        return frozenset(value)
    if tag == "d":
        if not all(type(pair) is list and len(pair) == 2 for pair in value):
            raise ProtocolError("not plain data: a dict item is not a pair")
        return {k: v for k, v in value}
    if tag == "I" and type(value) is str:
        return int(value, 16)
    if tag == "F" and value in NON_FINITE:
        return NON_FINITE[value]
    if tag == "b" and type(value) is str:
        return bytes.fromhex(value)
    if tag == "c" and all(type(x) in (int, float) for x in value) and len(value) == 2:
        return complex(value[0], value[1])
    if tag == "r" and all(type(x) is int for x in value) and len(value) == 3:
        return range(*value)
    if tag == "g" and type(value) is list and type(obj["m"]) is bool:
        return CandidateIterator(value, obj["m"])
    if tag == "o" and type(value) is str:
        return Opaque(value[:200])
    raise ProtocolError("not plain data: tag %r" % (tag,))


def load_plain(body):
    """The judge's decoder: its own json module, so nothing the candidate patched."""
    try:
        return json.loads(body, object_hook=_decode_tagged)
    except ProtocolError:
        raise
    except (ValueError, TypeError, RecursionError, MemoryError) as e:
        raise ProtocolError("not plain data: %s: %s" % (type(e).__name__, e))


def dump_call(name, args, kwargs, capture):
    """The judge's call of the candidate: only plain data can be marshalled."""
    try:
        return marshal.dumps((name, args, kwargs, capture))
    except ValueError:
        kinds = sorted({type(a).__name__ for a in list(args) + list(kwargs.values())})
        raise TypeError("an argument of %s() is not plain data (%s): only None, bool, int, "
                        "float, complex, str, bytes and containers of them reach the "
                        "candidate" % (name, ", ".join(kinds)))
