"""Read a pickled dict of numpy arrays without running anything from the file.

:func:`load_arrays` is a small interpreter of the pickle opcode stream (protocols 0-5). It builds
plain values itself (ints, floats, bools, None, str, bytes, tuples, lists, dicts) and recognises
numpy's array reconstruction as *data*:

- ``numpy.core.multiarray._reconstruct(numpy.ndarray, (0,), b'b')`` (or ``numpy._core...``)
  followed by ``BUILD`` with ``(1, shape, dtype, is_fortran, raw bytes)`` (protocols 0-4 and
  Python 2 files);
- ``numpy._core.numeric._frombuffer(buffer, dtype, shape, order)`` (protocol 5, in-band buffers);
- ``numpy.dtype(code, False, True)`` followed by ``BUILD`` with
  ``(3, byteorder, None, None, None, -1, -1, 0)``, for ``code`` in a fixed allow-list of float, int
  and uint codes;
- ``_codecs.encode(text, 'latin1')``, how Python 3 writes bytes at protocols 0-2.

No global is ever resolved or called, no ``__setstate__`` / ``__reduce__`` runs, and
``np.dtype`` is only called on strings of the allow-list. Shapes and buffer lengths are checked
before anything is allocated, so memory stays bounded by the file plus the output arrays. Anything
else raises :class:`deap_lib.data.deap_format.DEAPFormatError` naming the file, the construct and its byte offset.

With ``copy=False`` and a writable buffer, an array whose bytes lie in the buffer as numpy wants
them (native byte order, C order, aligned for its dtype) is returned as a view of the buffer, so
a 100 MB DEAP file is read without copying its samples; :func:`array_data_offset` tells a reader
where to place the file in memory so that the first long array is aligned.
"""

from __future__ import annotations

import codecs
import math
import pickletools
import struct
import warnings
from typing import Any

import numpy as np

from deap_lib.data.deap_format import DEAPFormatError

__all__ = ["ALLOWED_DTYPES", "MAX_DIM", "MAX_ELEMENTS", "MAX_NDIM", "array_data_offset", "load_arrays"]

MAX_NDIM = 3
MAX_DIM = 100_000
MAX_ELEMENTS = 40 * 40 * 2 * 8064 * 2  # generous: twice a DEAP file's data, twice over
MAX_DEPTH = 64  # nesting of lists / tuples / dicts in the result
MAX_STACK = 1_000_000
MAX_NUMBER_LINE = 256  # text ints, floats, memo indices, global names (protocol 0)
MAX_LONG_BYTES = 64  # LONG1 / LONG4 payload
_SMALL = 4096  # strings / bytes below this are built at once; longer ones stay views of the file

_CODES = ("f2", "f4", "f8", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8")
ALLOWED_DTYPES = frozenset(order + code for order in "<>|=" for code in _CODES)
_OBJECT_CODES = frozenset({"O", "O4", "O8"})
_LATIN1_NAMES = frozenset({"latin1", "latin-1", "latin_1", "iso-8859-1", "iso8859-1", "iso_8859_1", "l1"})

_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): "reconstruct",
    ("numpy._core.multiarray", "_reconstruct"): "reconstruct",
    ("numpy.core.numeric", "_frombuffer"): "frombuffer",
    ("numpy._core.numeric", "_frombuffer"): "frombuffer",
    ("numpy", "ndarray"): "ndarray",
    ("numpy", "dtype"): "dtype",
    ("_codecs", "encode"): "encode",
    ("builtins", "bytes"): "bytes",  # bytes() -- how protocols 0-2 write an empty bytes
    ("__builtin__", "bytes"): "bytes",
}
_WHY = "(only numpy's array reconstruction is read, as data)"


# --- placeholders: values of the file that are not plain data -----------------------------


class _Global:
    __slots__ = ("kind", "qualname")

    def __init__(self, kind: str, qualname: str):
        self.kind, self.qualname = kind, qualname


class _DtypeSpec:
    """``numpy.dtype(code, False, True)`` before / after its BUILD; ``dtype`` set once validated."""

    __slots__ = ("code", "dtype", "pos")

    def __init__(self, code: str, pos: int):
        self.code, self.pos, self.dtype = code, pos, None

    @property
    def is_object(self) -> bool:
        return self.code in _OBJECT_CODES


class _PendingArray:
    """``_reconstruct(ndarray, (0,), b'b')`` waiting for its BUILD; ``array`` set by it."""

    __slots__ = ("array", "key", "pos")

    def __init__(self, key: str | None, pos: int):
        self.key, self.pos, self.array = key, pos, None


class _Blob:
    """A long bytes / bytearray / Python 2 str of the file, kept as a view (no copy).

    ``shared`` is set once an array is returned as a view of these bytes: a second array
    rebuilt from the same (memoized) bytes is then a copy, as unpickling would make it.
    """

    __slots__ = ("kind", "shared", "view")

    def __init__(self, view: memoryview, kind: str):
        self.view, self.kind = view, kind  # kind: "bytes", "bytearray" or "str" (latin-1 text)
        self.shared = False

    def materialize(self):
        if self.kind == "str":
            return bytes(self.view).decode("latin-1")
        return bytes(self.view) if self.kind == "bytes" else bytearray(self.view)


class _Mark:
    __slots__ = ()


_MARK = _Mark()
_PLACEHOLDERS = (_Global, _DtypeSpec, _PendingArray, _Mark)


# --- the interpreter ------------------------------------------------------------------------


def _opname(code: int) -> str:
    info = pickletools.code2op.get(chr(code))
    return info.name if info is not None else f"byte 0x{code:02x} (not a pickle opcode)"


class _Reader:
    def __init__(self, buf: bytes | memoryview, name: str, share: bool = False, head: bool = False):
        view = memoryview(buf)
        if view.ndim != 1 or view.itemsize != 1 or not view.c_contiguous:
            view = view.cast("B") if view.c_contiguous else memoryview(bytes(view))
        self.buf = view
        # Arrays may be views of the buffer only where it is writable: the arrays returned are
        # always writable, as unpickled ones are.
        self.share = share and not view.readonly
        self.head = head  # only the start of a file: a FRAME may run past it
        self.n = len(view)
        self.name = name
        self.pos = 0
        self.op_pos = 0
        self.stack: list[Any] = []
        self.marks: list[list[Any]] = []
        self.memo: dict[int, Any] = {}

    # errors
    def fail(self, what: str, pos: int | None = None, why: str = "") -> DEAPFormatError:
        at = self.op_pos if pos is None else pos
        return DEAPFormatError(f"{self.name}: {what} at byte {at}" + (f" {why}" if why else ""))

    # raw reads
    def read(self, k: int) -> memoryview:
        if k < 0 or self.pos + k > self.n:
            raise self.fail(
                f"truncated: {_opname(self.buf[self.op_pos])} needs {k} bytes, {self.n - self.pos} left"
                if k >= 0
                else f"negative length {k} for {_opname(self.buf[self.op_pos])}"
            )
        out = self.buf[self.pos : self.pos + k]
        self.pos += k
        return out

    def unpack(self, fmt: str) -> Any:
        size = struct.calcsize(fmt)
        return struct.unpack(fmt, self.read(size))[0]

    def readline(self, limit: int | None) -> bytes:
        """The bytes up to the next newline (excluded); ``limit`` bounds the length (None: file)."""
        start = self.pos
        end_max = self.n if limit is None else min(self.n, start + limit + 1)
        chunk = 1 << 20
        i = start
        while i < end_max:
            j = min(end_max, i + chunk)
            k = bytes(self.buf[i:j]).find(b"\n")
            if k >= 0:
                line = bytes(self.buf[start : i + k])
                self.pos = i + k + 1
                return line
            i = j
        op = _opname(self.buf[self.op_pos])
        if end_max == self.n:
            raise self.fail(f"truncated: {op} argument has no closing newline")
        raise self.fail(f"{op} argument longer than {limit} bytes")

    # stack
    def push(self, value: Any) -> None:
        if len(self.stack) >= MAX_STACK:
            raise self.fail(f"stack deeper than {MAX_STACK} items")
        self.stack.append(value)

    def pop(self) -> Any:
        if not self.stack:
            raise self.fail(f"stack underflow in {_opname(self.buf[self.op_pos])}")
        return self.stack.pop()

    def pop_mark(self) -> list[Any]:
        if not self.marks:
            raise self.fail(f"{_opname(self.buf[self.op_pos])} without a MARK")
        items = self.stack
        self.stack = self.marks.pop()
        return items

    def top(self) -> Any:
        if not self.stack:
            raise self.fail(f"stack underflow in {_opname(self.buf[self.op_pos])}")
        return self.stack[-1]

    # values
    def py2_str(self, raw: memoryview | bytes) -> Any:
        if len(raw) < _SMALL:
            return bytes(raw).decode("latin-1")
        return _Blob(memoryview(raw), "str")

    def blob(self, raw: memoryview, kind: str) -> Any:
        if len(raw) < _SMALL:
            return bytes(raw) if kind == "bytes" else bytearray(raw)
        return _Blob(raw, kind)

    def utf8(self, raw: memoryview) -> str:
        try:
            return str(raw, "utf-8", "surrogatepass")
        except UnicodeDecodeError as exc:
            raise self.fail(f"invalid UTF-8 in {_opname(self.buf[self.op_pos])} ({exc.reason})") from None

    def text_int(self, line: bytes, what: str) -> int:
        try:
            return int(line, 0) if what == "int" else int(line)
        except ValueError:
            raise self.fail(f"invalid {what} {line[:40]!r}") from None

    def memo_put(self, index: int) -> None:
        if index < 0:
            raise self.fail(f"negative memo index {index}")
        self.memo[index] = self.top()

    def memo_get(self, index: int) -> None:
        try:
            value = self.memo[index]
        except KeyError:
            raise self.fail(f"memo index {index} was never stored") from None
        if isinstance(value, _PendingArray) and value.array is not None:
            value = value.array
        self.push(value)

    def dict_key(self, key: Any) -> Any:
        if isinstance(key, _Blob) and key.kind == "str":
            key = key.materialize()
        if key is None or isinstance(key, (str, bytes, int, float)):
            return key
        raise self.fail(f"refused dict key of type {type(key).__name__} (only str, bytes, numbers, None)")

    def set_items(self, target: Any, items: list[Any]) -> None:
        if not isinstance(target, dict):
            raise self.fail(f"{_opname(self.buf[self.op_pos])} on a {type(target).__name__}, expected a dict")
        if len(items) % 2:
            raise self.fail(f"{_opname(self.buf[self.op_pos])} with an odd number of items")
        for i in range(0, len(items), 2):
            target[self.dict_key(items[i])] = items[i + 1]

    def append_items(self, target: Any, items: list[Any]) -> None:
        if not isinstance(target, list):
            raise self.fail(f"{_opname(self.buf[self.op_pos])} on a {type(target).__name__}, expected a list")
        target.extend(items)

    def global_(self, module: Any, qualname: Any) -> _Global:
        if not isinstance(module, str) or not isinstance(qualname, str):
            raise self.fail("STACK_GLOBAL with non-str module or name")
        kind = _GLOBALS.get((module, qualname))
        if kind is None:
            shown = f"{module[:100]}.{qualname[:100]}"
            raise self.fail(f"refused global {shown}", why=_WHY)
        return _Global(kind, f"{module}.{qualname}")

    # the main loop
    def run(self) -> Any:
        buf = self.buf
        while True:
            if self.pos >= self.n:
                raise self.fail("truncated: the pickle ends before its STOP opcode", self.pos)
            self.op_pos = self.pos
            code = buf[self.pos]
            self.pos += 1
            handler = _HANDLERS.get(code)
            if handler is None:
                if code in (0x97, 0x98):
                    raise self.fail(
                        f"refused opcode {_opname(code)}: out-of-band buffers cannot be stored in a file", why=_WHY
                    )
                raise self.fail(f"refused opcode {_opname(code)}", why=_WHY)
            if handler(self):  # STOP
                break
        if self.pos != self.n:
            raise self.fail(f"{self.n - self.pos} bytes of trailing garbage after STOP", self.pos)
        if self.marks:
            raise self.fail("a MARK is never closed")
        if len(self.stack) != 1:
            raise self.fail(f"STOP with {len(self.stack)} items on the stack, expected 1")
        return self.stack[0]

    # --- REDUCE / BUILD: only numpy's reconstruction and latin-1 encoding, as data ---
    def reduce(self) -> None:
        args = self.pop()
        func = self.pop()
        if not isinstance(func, _Global):
            raise self.fail(f"refused REDUCE of a {type(func).__name__}", why=_WHY)
        if not isinstance(args, tuple):
            raise self.fail(f"refused REDUCE of {func.qualname} with non-tuple arguments", why=_WHY)
        key = self.stack[-1] if self.stack and isinstance(self.stack[-1], str) else None
        if func.kind == "reconstruct":
            self.check_reconstruct_args(args)
            self.push(_PendingArray(key, self.op_pos))
        elif func.kind == "dtype":
            self.push(self.dtype_spec(args))
        elif func.kind == "encode":
            self.push(self.latin1_encode(args))
        elif func.kind == "bytes" and args == ():
            self.push(b"")
        elif func.kind == "frombuffer":
            self.push(self.frombuffer(args, key))
        else:
            raise self.fail(f"refused call of {func.qualname}", why=_WHY)

    def check_reconstruct_args(self, args: tuple) -> None:
        ok = (
            len(args) == 3
            and isinstance(args[0], _Global)
            and args[0].kind == "ndarray"
            and isinstance(args[1], tuple)
            and len(args[1]) == 1
            and type(args[1][0]) is int
            and args[1][0] == 0
            and type(args[2]) in (bytes, str)
            and args[2] in (b"b", "b")
        )
        if not ok:
            raise self.fail("refused _reconstruct with arguments other than (numpy.ndarray, (0,), b'b')", why=_WHY)

    def dtype_spec(self, args: tuple) -> _DtypeSpec:
        ok = (
            len(args) == 3
            and type(args[0]) is str
            and type(args[1]) in (int, bool)
            and args[1] == 0
            and type(args[2]) in (int, bool)
            and args[2] == 1
        )
        if not ok:
            raise self.fail("refused numpy.dtype call other than dtype(code, False, True)", why=_WHY)
        code = args[0]
        if code not in _OBJECT_CODES and ("<" + code) not in ALLOWED_DTYPES:
            raise self.fail(
                f"refused dtype {code[:40]!r} (only float16/32/64, int8-64 and uint8-64 are read; "
                "no object, structured, string or other dtypes)"
            )
        return _DtypeSpec(code, self.op_pos)

    def latin1_encode(self, args: tuple) -> bytes:
        if len(args) != 2:
            raise self.fail("refused _codecs.encode call other than encode(str, 'latin1')", why=_WHY)
        text, encoding = args
        if isinstance(text, _Blob) and text.kind == "str":
            text = text.materialize()
        if type(text) is not str or type(encoding) is not str or encoding.lower() not in _LATIN1_NAMES:
            shown = repr(encoding[:40]) if isinstance(encoding, str) else type(encoding).__name__
            raise self.fail(f"refused _codecs.encode with encoding {shown}: only encode(str, 'latin1') is read")
        try:
            return text.encode("latin-1")
        except UnicodeEncodeError:
            raise self.fail("_codecs.encode(str, 'latin1') of text outside latin-1") from None

    def build(self) -> None:
        state = self.pop()
        target = self.top()
        if isinstance(target, _DtypeSpec) and target.dtype is None:
            self.build_dtype(target, state)
        elif isinstance(target, _PendingArray) and target.array is None:
            target.array = self.build_array(target, state)
            self.stack[-1] = target.array
        else:
            raise self.fail(f"refused BUILD on a {type(target).__name__}", why=_WHY)

    def build_dtype(self, spec: _DtypeSpec, state: Any) -> None:
        if spec.is_object:  # refused when an array uses it, where its key is known
            spec.dtype = "object"
            return
        ok = (
            isinstance(state, tuple)
            and len(state) == 8
            and type(state[0]) is int
            and state[0] == 3
            and type(state[1]) is str
            and state[2] is None
            and state[3] is None
            and state[4] is None
            and all(type(v) is int for v in state[5:])
            and state[5:] == (-1, -1, 0)
        )
        if not ok:
            raise self.fail(
                "refused dtype state other than (3, byteorder, None, None, None, -1, -1, 0) "
                "(structured or otherwise unusual dtypes are not read)"
            )
        descr = state[1] + spec.code
        if descr not in ALLOWED_DTYPES:  # checked before np.dtype sees it
            raise self.fail(f"refused dtype {descr[:40]!r}")
        spec.dtype = np.dtype(descr)

    def check_dtype(self, spec: Any, key: str | None) -> np.dtype:
        what = f"{key!r}" if key is not None else "an array"
        if not isinstance(spec, _DtypeSpec):
            raise self.fail(f"{what} has a {type(spec).__name__} as its dtype, expected numpy.dtype")
        if spec.is_object:
            raise self.fail(
                f"{what} is an array of Python objects (dtype object); refused "
                "(only float16/32/64, int and uint arrays are read, as data)"
            )
        if spec.dtype is None:
            raise self.fail(f"{what} has a dtype without its state (BUILD)")
        return spec.dtype

    def raw_view(self, raw: Any, what: str) -> Any:
        if isinstance(raw, _Blob):
            return raw.view
        if isinstance(raw, (bytes, bytearray)):
            return raw
        if type(raw) is str:  # a Python 2 str read as latin-1 text
            try:
                return raw.encode("latin-1")
            except UnicodeEncodeError:
                raise self.fail(f"{what} has text data outside latin-1") from None
        raise self.fail(f"{what} has its data as a {type(raw).__name__}, expected bytes")

    def make_array(self, dtype: np.dtype, shape: Any, fortran: bool, raw: Any, what: str) -> np.ndarray:
        if (
            not isinstance(shape, tuple)
            or len(shape) > MAX_NDIM
            or not all(type(s) is int and 0 <= s <= MAX_DIM for s in shape)
        ):
            raise self.fail(
                f"{what} has shape {_short(shape)}; expected a tuple of at most {MAX_NDIM} ints in 0-{MAX_DIM}"
            )
        count = math.prod(shape)
        if count > MAX_ELEMENTS:
            raise self.fail(f"{what} claims {count} elements, more than the {MAX_ELEMENTS} allowed")
        data = self.raw_view(raw, what)
        if len(data) != count * dtype.itemsize:
            raise self.fail(
                f"{what} has {len(data)} bytes of data, expected {count * dtype.itemsize} "
                f"for shape {shape} and dtype {dtype}"
            )
        native = dtype.newbyteorder("=")
        if count == 0:
            return np.empty(shape, dtype=native)
        array = np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C")
        if (
            self.share
            and isinstance(raw, _Blob)  # bytes of the buffer itself, not built by the interpreter
            and not raw.shared
            and dtype.isnative
            and array.flags.c_contiguous
            and array.flags.aligned
            and array.flags.writeable
        ):
            raw.shared = True
            return array
        return array.astype(native, order="C", copy=True)

    def build_array(self, pending: _PendingArray, state: Any) -> np.ndarray:
        what = f"{pending.key!r}" if pending.key is not None else "an array"
        if not isinstance(state, tuple) or len(state) != 5:
            raise self.fail(f"refused array state for {what}: expected (1, shape, dtype, is_fortran, data)")
        version, shape, spec, fortran, raw = state
        if type(version) is not int or version != 1 or type(fortran) not in (int, bool) or fortran not in (0, 1):
            raise self.fail(f"refused array state for {what}: expected (1, shape, dtype, is_fortran, data)")
        dtype = self.check_dtype(spec, pending.key)
        if isinstance(raw, list):
            raise self.fail(f"{what} stores its data as a list (only object arrays do that), refused")
        return self.make_array(dtype, shape, bool(fortran), raw, what)

    def frombuffer(self, args: tuple, key: str | None) -> np.ndarray:
        what = f"{key!r}" if key is not None else "an array"
        if len(args) != 4:
            raise self.fail("refused _frombuffer call other than _frombuffer(buffer, dtype, shape, order)", why=_WHY)
        raw, spec, shape, order = args
        dtype = self.check_dtype(spec, key)
        if type(order) is not str or order not in ("C", "F"):
            raise self.fail(f"{what} has order {_short(order)}, expected 'C' or 'F'")
        if isinstance(raw, _Blob) and raw.kind == "str" or type(raw) is str:
            raise self.fail(f"{what} has text as its _frombuffer buffer, expected bytes")
        return self.make_array(dtype, shape, order == "F", raw, what)


def _short(value: Any) -> str:
    if isinstance(value, tuple) and len(value) <= 8 and all(type(v) in (int, bool) for v in value):
        return repr(value)
    if type(value) is str:
        return repr(value[:40])
    return f"a {type(value).__name__}"


# --- opcode handlers; each returns True for STOP ---------------------------------------------


def _op(code: bytes, table: dict):
    def deco(func):
        table[code[0]] = func
        return func

    return deco


_HANDLERS: dict[int, Any] = {}
H = _HANDLERS


@_op(b"\x80", H)
def _proto(r: _Reader):
    version = r.read(1)[0]
    if version > 5:
        raise r.fail(f"unsupported pickle protocol {version}")


@_op(b"\x95", H)
def _frame(r: _Reader):
    length = r.unpack("<Q")
    if length > r.n - r.pos and not r.head:
        raise r.fail(f"truncated: FRAME of {length} bytes, {r.n - r.pos} left")


@_op(b".", H)
def _stop(r: _Reader):
    return True


@_op(b"(", H)
def _mark(r: _Reader):
    if len(r.marks) >= MAX_STACK:
        raise r.fail("too many open MARKs")
    r.marks.append(r.stack)
    r.stack = []


@_op(b"0", H)
def _popop(r: _Reader):
    if r.stack:
        r.stack.pop()
    else:
        r.pop_mark()


@_op(b"1", H)
def _pop_mark(r: _Reader):
    r.pop_mark()


# numbers
@_op(b"I", H)
def _int(r: _Reader):
    line = r.readline(MAX_NUMBER_LINE)
    if line == b"00":
        r.push(False)
    elif line == b"01":
        r.push(True)
    else:
        r.push(r.text_int(line, "int"))


@_op(b"L", H)
def _long(r: _Reader):
    line = r.readline(MAX_NUMBER_LINE)
    if line.endswith(b"L"):
        line = line[:-1]
    r.push(r.text_int(line, "int"))


@_op(b"J", H)
def _binint(r: _Reader):
    r.push(r.unpack("<i"))


@_op(b"K", H)
def _binint1(r: _Reader):
    r.push(r.read(1)[0])


@_op(b"M", H)
def _binint2(r: _Reader):
    r.push(r.unpack("<H"))


@_op(b"\x8a", H)
def _long1(r: _Reader):
    n = r.read(1)[0]
    r.push(int.from_bytes(r.read(n), "little", signed=True))


@_op(b"\x8b", H)
def _long4(r: _Reader):
    n = r.unpack("<i")
    if n > MAX_LONG_BYTES:
        raise r.fail(f"LONG4 of {n} bytes, more than {MAX_LONG_BYTES}")
    r.push(int.from_bytes(r.read(n), "little", signed=True))


@_op(b"F", H)
def _float(r: _Reader):
    line = r.readline(MAX_NUMBER_LINE)
    try:
        r.push(float(line))
    except ValueError:
        raise r.fail(f"invalid float {line[:40]!r}") from None


@_op(b"G", H)
def _binfloat(r: _Reader):
    r.push(r.unpack(">d"))


@_op(b"N", H)
def _none(r: _Reader):
    r.push(None)


@_op(b"\x88", H)
def _true(r: _Reader):
    r.push(True)


@_op(b"\x89", H)
def _false(r: _Reader):
    r.push(False)


# strings and bytes
@_op(b"S", H)
def _string(r: _Reader):
    line = r.readline(None)
    if len(line) < 2 or line[0] != line[-1] or line[:1] not in (b"'", b'"'):
        raise r.fail("STRING argument is not quoted")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            raw = codecs.escape_decode(line[1:-1])[0]
    except (ValueError, Warning) as exc:
        raise r.fail(f"invalid STRING escape ({exc})") from None
    r.push(r.py2_str(raw))


@_op(b"V", H)
def _unicode(r: _Reader):
    line = r.readline(None)
    try:
        r.push(line.decode("raw-unicode-escape"))
    except UnicodeDecodeError as exc:
        raise r.fail(f"invalid UNICODE escape ({exc.reason})") from None


# strings with their length in front: opcode -> (how the length is stored, what the bytes become)
_LENGTH = {"byte": lambda r: r.read(1)[0], "int32": lambda r: r.unpack("<i"),
           "uint32": lambda r: r.unpack("<I"), "uint64": lambda r: r.unpack("<Q")}
_VALUE = {"py2 str": lambda r, raw: r.py2_str(raw), "unicode": lambda r, raw: r.utf8(raw),
          "bytes": lambda r, raw: r.blob(raw, "bytes"), "bytearray": lambda r, raw: r.blob(raw, "bytearray")}
_SIZED = {
    b"T": ("int32", "py2 str"), b"U": ("byte", "py2 str"),  # BINSTRING, SHORT_BINSTRING
    b"X": ("uint32", "unicode"), b"\x8c": ("byte", "unicode"), b"\x8d": ("uint64", "unicode"),  # BINUNICODE(8), SHORT_
    b"B": ("uint32", "bytes"), b"C": ("byte", "bytes"), b"\x8e": ("uint64", "bytes"),  # BINBYTES(8), SHORT_
    b"\x96": ("uint64", "bytearray"),  # BYTEARRAY8
}
for _code, (_length, _value) in _SIZED.items():
    _op(_code, H)(lambda r, n=_LENGTH[_length], v=_VALUE[_value]: r.push(v(r, r.read(n(r)))))


# containers
@_op(b")", H)
def _empty_tuple(r: _Reader):
    r.push(())


@_op(b"t", H)
def _tuple(r: _Reader):
    r.push(tuple(r.pop_mark()))


def _tuple_n(n: int):
    def handler(r: _Reader):
        if len(r.stack) < n:
            raise r.fail(f"stack underflow in {_opname(r.buf[r.op_pos])}")
        items = tuple(r.stack[-n:])
        del r.stack[-n:]
        r.push(items)

    return handler


H[0x85], H[0x86], H[0x87] = _tuple_n(1), _tuple_n(2), _tuple_n(3)


@_op(b"]", H)
def _empty_list(r: _Reader):
    r.push([])


@_op(b"l", H)
def _list(r: _Reader):
    r.push(list(r.pop_mark()))


@_op(b"a", H)
def _append(r: _Reader):
    item = r.pop()
    r.append_items(r.top(), [item])


@_op(b"e", H)
def _appends(r: _Reader):
    items = r.pop_mark()
    r.append_items(r.top(), items)


@_op(b"}", H)
def _empty_dict(r: _Reader):
    r.push({})


@_op(b"d", H)
def _dict(r: _Reader):
    items = r.pop_mark()
    d: dict = {}
    r.set_items(d, items)
    r.push(d)


@_op(b"s", H)
def _setitem(r: _Reader):
    value = r.pop()
    key = r.pop()
    r.set_items(r.top(), [key, value])


@_op(b"u", H)
def _setitems(r: _Reader):
    items = r.pop_mark()
    r.set_items(r.top(), items)


# memo: PUT and GET with the index as a text line, one byte or four bytes; MEMOIZE puts at the end
_MEMO_INDEX = {
    "line": lambda r: r.text_int(r.readline(MAX_NUMBER_LINE), "memo index"),
    "byte": lambda r: r.read(1)[0],
    "uint32": lambda r: r.unpack("<I"),
}
for _put_code, _get_code, _index in ((b"p", b"g", "line"), (b"q", b"h", "byte"), (b"r", b"j", "uint32")):
    _op(_put_code, H)(lambda r, read=_MEMO_INDEX[_index]: r.memo_put(read(r)))
    _op(_get_code, H)(lambda r, read=_MEMO_INDEX[_index]: r.memo_get(read(r)))


@_op(b"\x94", H)
def _memoize(r: _Reader):
    r.memo_put(len(r.memo))


# globals, as names only
@_op(b"c", H)
def _global(r: _Reader):
    module = r.readline(MAX_NUMBER_LINE)
    qualname = r.readline(MAX_NUMBER_LINE)
    try:
        r.push(r.global_(module.decode("utf-8"), qualname.decode("utf-8")))
    except UnicodeDecodeError:
        raise r.fail(f"refused global with non-UTF-8 name {(module + b'.' + qualname)[:80]!r}", why=_WHY) from None


@_op(b"\x93", H)
def _stack_global(r: _Reader):
    qualname = r.pop()
    module = r.pop()
    r.push(r.global_(module, qualname))


@_op(b"R", H)
def _reduce(r: _Reader):
    r.reduce()


@_op(b"b", H)
def _build(r: _Reader):
    r.build()


del H


# --- the result -------------------------------------------------------------------------------


class _Finish:
    """Replace views by bytes / str, pending arrays by arrays; refuse any placeholder left.

    A class rather than a recursive closure: a closure that calls itself is a reference cycle,
    which would keep the reader, and so the whole file's buffer, alive until the garbage
    collector runs.
    """

    def __init__(self, r: _Reader):
        self.r = r
        self.done: dict[int, Any] = {}
        self.busy: set[int] = set()

    def walk(self, v: Any, depth: int) -> Any:
        r, done, busy = self.r, self.done, self.busy
        if v is None or type(v) in (bool, int, float, str, bytes, bytearray):
            return v
        if isinstance(v, np.ndarray):
            return v
        if isinstance(v, _Blob):
            return v.materialize()
        if isinstance(v, _PendingArray):
            if v.array is None:
                raise r.fail("an array reconstruction without its state (BUILD)", v.pos)
            return v.array
        if isinstance(v, _PLACEHOLDERS):
            raise r.fail(f"refused {_describe(v)} left as a value", getattr(v, "pos", r.op_pos), why=_WHY)
        if type(v) not in (list, tuple, dict):
            raise r.fail(f"unexpected {type(v).__name__} in the result")
        if id(v) in done:
            return done[id(v)]
        if id(v) in busy:
            raise r.fail("refused self-referencing container (not data of a DEAP file)")
        if depth >= MAX_DEPTH:
            raise r.fail(f"containers nested deeper than {MAX_DEPTH}")
        busy.add(id(v))
        if type(v) is dict:
            out: Any = {k: self.walk(x, depth + 1) for k, x in v.items()}
        elif type(v) is list:
            out = [self.walk(x, depth + 1) for x in v]
        else:
            out = tuple(self.walk(x, depth + 1) for x in v)
        busy.discard(id(v))
        done[id(v)] = out
        return out


def _finish(r: _Reader, value: Any) -> Any:
    """Replace views by bytes / str, pending arrays by arrays; refuse any placeholder left."""
    return _Finish(r).walk(value, 0)


def _describe(v: Any) -> str:
    if isinstance(v, _Global):
        return f"global {v.qualname}"
    if isinstance(v, _DtypeSpec):
        return "numpy.dtype"
    return "MARK" if isinstance(v, _Mark) else type(v).__name__


def load_arrays(buf: bytes | memoryview, *, name: str, copy: bool = True) -> dict[str, Any]:
    """Interpret a pickle of a dict of numpy arrays as data, never running anything from it.

    Parameters
    ----------
    buf : bytes or memoryview
        The whole file (a memory map works: with ``copy=True`` arrays are copied out of it,
        nothing else is).
    name : str
        The file's name, used in error messages.
    copy : bool, optional
        True (default): every array owns its memory. False: where ``buf`` is writable (a
        ``bytearray``, a writable ``memoryview`` or numpy ``uint8`` array), an array whose bytes
        lie in ``buf`` in native byte order, C order and aligned for its dtype is a view of
        ``buf`` (it keeps ``buf`` alive, and writing to one changes the other); any other array
        is copied, so that all are still C-contiguous, native and writable. With a read-only
        ``buf`` (``bytes``) everything is copied.

    Returns
    -------
    dict
        The top-level dict, keys ``str``. Arrays come back as writable C-contiguous ndarrays in
        native byte order, owning their memory unless ``copy=False`` (see above); other values
        (lists, numbers, ...) as the plain Python values they are, for the caller to validate.

    Raises
    ------
    deap_lib.data.deap_format.DEAPFormatError
        On any opcode, global, call, dtype or structure outside what a dict of numeric arrays needs,
        on truncation or trailing bytes, or when the top-level value is not a dict with str keys.
        The message names the file, the construct refused and its byte offset.
    """
    r = _Reader(buf, name, share=not copy)
    result = _finish(r, r.run())
    if not isinstance(result, dict):
        raise DEAPFormatError(f"{name}: holds a {type(result).__name__}, expected a dict with keys 'data' and 'labels'")
    bad = [k for k in result if not isinstance(k, str)]
    if bad:
        raise DEAPFormatError(f"{name}: has a {type(bad[0]).__name__} key, expected str keys")
    return result


#: Opcodes whose argument is a long run of raw bytes, with the size of their length field.
_LONG_BYTES_OPS = {ord("T"): 4, ord("B"): 4, 0x8E: 8, 0x96: 8}  # BINSTRING, BINBYTES, BINBYTES8, BYTEARRAY8


def array_data_offset(head: bytes | memoryview) -> int | None:
    """Offset in the file of the first raw-bytes argument that runs past ``head``.

    A reader that reads a pickle into memory can place the file so that this offset falls on an
    aligned address: the array whose bytes start there (the samples of a DEAP file, which come
    after a header of about 200 bytes) can then be used in place by ``load_arrays(...,
    copy=False)``. Only a hint: a wrong or missing one costs a copy, never a wrong result.

    Parameters
    ----------
    head : bytes or memoryview
        The first bytes of the file (4 KiB is plenty for DEAP's files).

    Returns
    -------
    int or None
        The offset of the argument's first byte, or None when ``head`` holds no such argument
        (a small file read whole, or a stream the interpreter refuses before it).
    """
    r = _Reader(head, "(header)", head=True)
    try:
        r.run()
    except DEAPFormatError:
        # The interpreter stops where an argument runs past ``head``, having read its length.
        size = _LONG_BYTES_OPS.get(r.buf[r.op_pos]) if r.op_pos < r.n else None
        if size is not None and r.pos == r.op_pos + 1 + size:
            return r.pos
    return None
