"""Read a pickled dict of numpy arrays as data: nothing from the file is ever run, resolved or called.

:func:`pickletools.genops` decodes the opcodes and their arguments, executing nothing; :func:`load_arrays` keeps
the pickle machine's stack over them. A global is a name from a fixed allow-list (numpy's ``_reconstruct``,
``_frombuffer``, ``ndarray``, ``dtype``; ``_codecs.encode``, ``bytes``) whose REDUCE / BUILD arguments must be what
numpy writes (DEAP's files: Python 2, protocol 2, the arrays' bytes a latin-1 ``str``), read by our constructors as
data. Reads, shapes and sizes are checked before anything is allocated; anything else raises
:class:`DEAPFormatError` naming the file, what was expected and the byte offset.
"""

from __future__ import annotations

import math
import pickletools
import reprlib
from typing import Any

import numpy as np

__all__ = ["ALLOWED_DTYPES", "DEAPFormatError", "MAX_DIM", "MAX_ELEMENTS", "MAX_NDIM", "array_data_offset",
           "load_arrays"]

MAX_NDIM, MAX_DIM, MAX_ELEMENTS = 3, 100_000, 40 * 40 * 2 * 8064 * 2  # generous: twice a DEAP file's data, twice
MAX_DEPTH, MAX_STACK = 64, 1_000_000  # nesting of containers in the result; stack items, open MARKs, memo entries
MAX_LINE, MAX_LONG_BYTES = 256, 64  # a protocol-0 text argument but UNICODE's (a number, a name); a LONG4's bytes
_SMALL = 4096  # raw arguments this long or longer stay views of the buffer, not copied

ALLOWED_DTYPES = frozenset(o + c for o in "<>|=" for c in ("f2", "f4", "f8", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8"))
_OBJECT_CODES = frozenset({"O", "O4", "O8"})  # read up to the array that uses one, refused there (its key known)
_LATIN1 = frozenset({"latin1", "latin-1", "latin_1", "iso-8859-1", "iso8859-1", "iso_8859_1", "l1"})
_GLOBALS = {"numpy.core.multiarray _reconstruct": "reconstruct", "numpy._core.multiarray _reconstruct": "reconstruct",
            "numpy.core.numeric _frombuffer": "frombuffer", "numpy._core.numeric _frombuffer": "frombuffer",
            "numpy ndarray": "ndarray", "numpy dtype": "dtype", "_codecs encode": "encode",
            "builtins bytes": "bytes", "__builtin__ bytes": "bytes"}  # as genops names them: "module name"
_CALLS = {"reconstruct": "_reconstruct(numpy.ndarray, (0,), b'b')", "dtype": "dtype(code, False, True)",
          "encode": "encode(str, 'latin1')", "bytes": "bytes()", "frombuffer": "_frombuffer(bytes, dtype, shape, order)"}
_RAW = {"SHORT_BINSTRING": "str", "BINSTRING": "str", "SHORT_BINBYTES": "bytes", "BINBYTES": "bytes",
        "BINBYTES8": "bytes", "BYTEARRAY8": "bytearray"}  # what their bytes are (a Python 2 str: latin-1 text)
_VALUES = {"INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4", "FLOAT", "BINFLOAT", "STRING",
           "UNICODE", "SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", *_RAW}  # the argument is the value
_NEW = {"NONE": lambda: None, "NEWTRUE": lambda: True, "NEWFALSE": lambda: False, "EMPTY_TUPLE": tuple,
        "EMPTY_LIST": list, "EMPTY_DICT": dict}
_OPS = {*_VALUES, *_NEW, "MARK", "TUPLE", "TUPLE1", "TUPLE2", "TUPLE3", "LIST", "DICT", "APPEND", "APPENDS",
        "SETITEM", "SETITEMS", "POP", "POP_MARK", "PUT", "BINPUT", "LONG_BINPUT", "MEMOIZE", "GET", "BINGET",
        "LONG_BINGET", "GLOBAL", "STACK_GLOBAL", "REDUCE", "BUILD", "PROTO", "FRAME", "STOP"}  # all others refused
_LONG_BYTES_OPS = {ord("T"): 4, ord("B"): 4, 0x8E: 8, 0x96: 8}  # raw bytes after a length of 4 or 8 bytes
#: Per opcode, as pickletools describes its stack effect: whether it takes the items above a MARK, and the others.
_TAKES = {op.name: (pickletools.markobject in op.stack_before,
                    [s for s in op.stack_before if s not in (pickletools.markobject, pickletools.stackslice)])
          for op in pickletools.opcodes}


class DEAPFormatError(ValueError):
    """A file is not a valid DEAP participant file (re-exported by :mod:`deap_lib.data.deap_format`)."""


class _Placeholder:  # not data: a _Global (kind: what it makes), a _Dtype (kind: its code), a _Pending array
    __slots__ = ("kind", "name", "pos", "value")  # name: the global's, the array's dict key; value: from its BUILD

    def __init__(self, kind: str, pos: int, name: Any = None):
        self.kind, self.pos, self.name, self.value = kind, pos, name, None

    def __repr__(self) -> str:
        return str(self.name or self.kind)


_Global, _Dtype, _Pending = (type(n, (_Placeholder,), {"__slots__": ()}) for n in ("_Global", "_Dtype", "_Pending"))


class _Blob:  # a long raw argument: a view of the buffer; shared once an array is that view
    __slots__ = ("kind", "shared", "view")

    def __init__(self, view: memoryview, kind: str):
        self.view, self.kind, self.shared = view, kind, False

    def __repr__(self) -> str:  # (messages must not vary with addresses)
        return f"<{len(self.view)} bytes of {self.kind}>"

    def materialize(self) -> Any:
        raw = bytes(self.view)
        return raw.decode("latin-1") if self.kind == "str" else raw if self.kind == "bytes" else bytearray(raw)


class _Stub(bytes):  # what genops gets for a long raw argument: empty but as long (genops checks that only)
    def __new__(cls, n: int):
        stub = super().__new__(cls)
        stub.n = n
        return stub

    def __len__(self) -> int:
        return self.n


class _Reader:
    """The stack machine over one buffer, and the file genops reads it through (tell, read, readline)."""

    def __init__(self, buf: bytes | memoryview, name: str, share: bool = False, head: bool = False):
        view = memoryview(buf)
        if view.ndim != 1 or view.itemsize != 1 or not view.c_contiguous:
            view = view.cast("B") if view.c_contiguous else memoryview(bytes(view))
        self.view, self.n, self.name, self.head = view, len(view), name, head  # head: a file's first bytes only
        self.share = share and not view.readonly  # arrays are writable: views only of a writable buffer
        self.pos = self.op = 0
        self.long = self.cut = None  # the opcode's long raw argument (a view); where a read ran past the end
        self.stack: list = []

    def fail(self, what: str, pos: int | None = None) -> DEAPFormatError:
        why = " (only numpy's array reconstruction is read, as data)" if what.startswith("refused") else ""
        return DEAPFormatError(f"{self.name}: {what} at byte {self.op if pos is None else pos}{why}")

    @property
    def opname(self) -> str:
        info = pickletools.code2op.get(chr(self.view[self.op]))
        return info.name if info is not None else f"byte 0x{self.view[self.op]:02x} (not a pickle opcode)"

    def tell(self) -> int:  # genops asks before each opcode
        self.op, self.long = self.pos, None
        return self.pos

    def read(self, n: int) -> bytes | memoryview:
        start, self.pos = self.pos, self.pos + n
        if self.pos > self.n:
            self.cut = start
            raise self.fail("truncated: the pickle ends before its STOP opcode" if start == self.op
                            else f"truncated: {self.opname} needs {n} bytes, {self.n - start} left")
        if n > MAX_LONG_BYTES and self.view[self.op] == 0x8B:
            raise self.fail(f"LONG4 of {n} bytes, more than {MAX_LONG_BYTES}")
        if n < _SMALL or self.view[self.op] in b"X\x8d":  # short, or UTF-8 that genops decodes from the view
            return self.view[start : self.pos].tobytes() if n < _SMALL else self.view[start : self.pos]
        self.long = self.view[start : self.pos]
        return _Stub(n)

    def readline(self) -> bytes:
        end = min(self.n, self.pos + (self.n if self.view[self.op] == ord("V") else MAX_LINE) + 1)
        start = i = self.pos
        while i < end:  # in windows doubling in size: a line costs its length, not what follows it
            j = min(end, 2 * i - start + 256)
            if (k := bytes(self.view[i:j]).find(b"\n")) >= 0:
                self.pos = i + k + 1
                return bytes(self.view[start : self.pos])
            i = j
        raise self.fail(f"truncated: {self.opname} argument has no closing newline" if end == self.n
                        else f"{self.opname} argument longer than {MAX_LINE} bytes")

    def take(self, before: list) -> list:
        """The items ``before`` describes (pickletools' StackObjects), their types checked."""
        if len(self.stack) < len(before):
            raise self.fail(f"stack underflow in {self.opname}")
        items = self.stack[len(self.stack) - len(before) :]
        del self.stack[len(self.stack) - len(before) :]
        for item, kind in zip(items, before):
            if kind.obtype in (list, dict, str) and type(item) is not kind.obtype:
                raise self.fail(f"{self.opname} on a {type(item).__name__}, expected a {kind.name}")
        return items

    def run(self) -> Any:
        """The value STOP finds, its placeholders not yet replaced (:meth:`finish`)."""
        marks, memo, ops = [], {}, pickletools.genops(self)
        while True:
            try:
                op, arg, _ = next(ops)
            except DEAPFormatError:
                raise
            except (ValueError, Warning) as exc:  # genops's checks of an argument, or an unknown opcode
                known = chr(self.view[self.op]) in pickletools.code2op
                raise self.fail(f"invalid {self.opname} argument ({str(exc)[:200]})" if known
                                else f"refused opcode {self.opname}") from None
            if op.name == "POP" and not self.stack and marks:
                op = pickletools.code2op["1"]  # POP of an empty stack pops its MARK, as pickle does
            if (name := op.name) not in _OPS:
                raise self.fail(f"refused opcode {name}"
                                + (": out-of-band buffers cannot be stored in a file" if name.endswith("_BUFFER") else ""))
            if max(len(self.stack), len(marks), len(memo)) >= MAX_STACK:
                raise self.fail(f"more than {MAX_STACK} items on the stack, open MARKs or memo entries")
            marked, before = _TAKES[name]
            sliced = None
            if marked:  # the items above the last MARK
                if not marks:
                    raise self.fail(f"{name} without a MARK")
                sliced, self.stack = self.stack, marks.pop()
            taken = self.take(before) if before else []
            items = taken if sliced is None else sliced  # (APPEND(S) / SETITEM(S): taken[0] is their target)
            if name in _VALUES:
                self.stack.append(arg if self.long is None else _Blob(self.long, _RAW[name]))
            elif name in _NEW:
                self.stack.append(_NEW[name]())
            elif name == "MARK":
                marks.append(self.stack)
                self.stack = []
            elif name in ("TUPLE", "TUPLE1", "TUPLE2", "TUPLE3", "LIST", "DICT"):
                self.stack.append(self.set_items({}, items) if name == "DICT" else items if name == "LIST" else tuple(items))
            elif name in ("APPEND", "APPENDS"):
                taken[0].extend(items[1:] if sliced is None else items)
                self.stack.append(taken[0])
            elif name in ("SETITEM", "SETITEMS"):
                self.stack.append(self.set_items(taken[0], items[1:] if sliced is None else items))
            elif name in ("PUT", "BINPUT", "LONG_BINPUT", "MEMOIZE"):  # the top, into the memo
                taken = taken or self.take([pickletools.anyobject])
                memo[len(memo) if name == "MEMOIZE" else arg] = taken[0]
                self.stack += taken
            elif name in ("GET", "BINGET", "LONG_BINGET"):
                if arg not in memo:
                    raise self.fail(f"memo index {arg} was never stored")
                self.stack.append(memo[arg])
            elif name in ("GLOBAL", "STACK_GLOBAL"):
                arg = arg if name == "GLOBAL" else " ".join(taken)
                if arg not in _GLOBALS:  # (each allowed "module name" has one space: no other split matches)
                    raise self.fail(f"refused global {arg[:200].replace(' ', '.', 1)}")
                self.stack.append(_Global(_GLOBALS[arg], self.op, arg.replace(" ", ".")))
            elif name in ("REDUCE", "BUILD"):  # for REDUCE, a str below names the array in messages
                key = self.stack[-1] if name == "REDUCE" and self.stack and type(self.stack[-1]) is str else None
                self.stack.append(self.construct(name, *taken, key))
            elif name == "PROTO" and arg > 5:
                raise self.fail(f"unsupported pickle protocol {arg}")
            elif name == "FRAME" and arg > self.n - self.pos and not self.head:
                raise self.fail(f"truncated: FRAME of {arg} bytes, {self.n - self.pos} left")
            elif name == "STOP":
                break
        if self.pos != self.n:
            raise self.fail(f"{self.n - self.pos} bytes of trailing garbage after STOP", self.pos)
        if marks or self.stack:
            raise self.fail("a MARK is never closed" if marks else f"STOP with {len(self.stack) + 1} items on the stack, expected 1")
        return taken[0]

    def set_items(self, target: dict, items: list) -> dict:
        if len(items) % 2:
            raise self.fail(f"{self.opname} with an odd number of items")
        for key, value in zip(items[::2], items[1::2]):
            key = key.materialize() if type(key) is _Blob and key.kind == "str" else key
            if key is not None and type(key) not in (str, bytes, int, float, bool):
                raise self.fail(f"refused dict key of type {type(key).__name__} (only str, bytes, numbers, None)")
            target[key] = value
        return target

    def construct(self, name: str, target: Any, args: Any, key: str | None) -> Any:
        """What our own constructor makes of an allowed REDUCE or BUILD, if its arguments are what numpy writes."""
        key = target.name if type(target) is _Pending else key
        what = "an array" if key is None else repr(key)
        match name, target, args:
            case "REDUCE", _Global(kind="reconstruct"), (_Global(kind="ndarray"), (int(0),), bytes(b"b") | str("b")):
                return _Pending("array", self.op, key)
            case "REDUCE", _Global(kind="dtype"), (str(code), int(0), int(1)):
                if code not in _OBJECT_CODES and "<" + code not in ALLOWED_DTYPES:
                    raise self.fail(f"refused dtype {code[:40]!r} (only float16/32/64, int8-64 and uint8-64 are read; "
                                    "no object, structured, string or other dtypes)")
                return _Dtype(code, self.op)
            case "REDUCE", _Global(kind="encode"), (str() | _Blob(kind="str") as text, str(codec)) if codec.lower() in _LATIN1:
                return self.latin1(text.materialize() if type(text) is _Blob else text, "_codecs.encode of text")
            case "REDUCE", _Global(kind="bytes"), ():
                return b""
            case "REDUCE", _Global(kind="frombuffer"), (bytes() | bytearray() | _Blob(kind="bytes" | "bytearray") as raw,
                                                        spec, shape, str("C" | "F") as order):
                return self.make_array(self.dtype_of(spec, what), shape, order == "F", raw, what)
            case "REDUCE", _Global(), tuple():
                raise self.fail(f"refused call of {target}({', '.join(map(reprlib.repr, args[:5]))})"
                                + (f", expected {_CALLS[target.kind]}" if target.kind in _CALLS else ""))
            case "BUILD", _Dtype(kind="O" | "O4" | "O8", value=None), _:
                target.value = "object"  # refused where an array uses it
            case "BUILD", _Dtype(kind=code, value=None), (int(3), str(order), None, None, None, int(-1), int(-1), int(0)):
                if order + code not in ALLOWED_DTYPES:  # checked before np.dtype sees it
                    raise self.fail(f"refused dtype {(order + code)[:40]!r}")
                target.value = np.dtype(order + code)
            case "BUILD", _Pending(value=None), (int(1), shape, spec, int(0) | int(1) as fortran, raw):
                target.value = self.make_array(self.dtype_of(spec, what), shape, bool(fortran), raw, what)
            case "BUILD", _Dtype(value=None), _:
                raise self.fail("refused dtype state other than (3, byteorder, None, None, None, -1, -1, 0)")
            case "BUILD", _Pending(value=None), _:
                raise self.fail(f"refused array state for {what}: expected (1, shape, dtype, is_fortran, data)")
            case _:
                raise self.fail(f"refused {name} on a {type(target).__name__} ({reprlib.repr(target)})")
        return target

    def latin1(self, text: str, what: str) -> bytes:  # a Python 2 str's bytes
        try:
            return text.encode("latin-1")
        except UnicodeEncodeError:
            raise self.fail(f"{what} outside latin-1") from None

    def dtype_of(self, spec: Any, what: str) -> np.dtype:
        if type(spec) is _Dtype and spec.kind in _OBJECT_CODES:
            raise self.fail(f"{what} is an array of Python objects (dtype object); refused "
                            "(only float16/32/64, int and uint arrays are read, as data)")
        if type(spec) is not _Dtype or spec.value is None:
            raise self.fail(f"{what} has {reprlib.repr(spec)} as its dtype, expected a numpy.dtype and its state (BUILD)")
        return spec.value

    def make_array(self, dtype: np.dtype, shape: Any, fortran: bool, raw: Any, what: str) -> np.ndarray:
        """The array of ``raw``'s bytes, its shape and size checked first; a view of the buffer where allowed."""
        if type(shape) is not tuple or len(shape) > MAX_NDIM or not all(type(s) is int and 0 <= s <= MAX_DIM for s in shape):
            raise self.fail(f"{what} has shape {reprlib.repr(shape)}; expected a tuple of at most {MAX_NDIM} ints in 0-{MAX_DIM}")
        if (count := math.prod(shape)) > MAX_ELEMENTS:
            raise self.fail(f"{what} claims {count} elements, more than the {MAX_ELEMENTS} allowed")
        if type(raw) not in (_Blob, bytes, bytearray, str):
            raise self.fail(f"{what} has its data as a {type(raw).__name__}, expected bytes")
        data = raw.view if type(raw) is _Blob else self.latin1(raw, f"{what} has text data") if type(raw) is str else raw
        if len(data) != count * dtype.itemsize:
            raise self.fail(f"{what} has {len(data)} bytes of data, expected {count * dtype.itemsize} "
                            f"for shape {shape} and dtype {dtype}")
        array = np.frombuffer(data, dtype=dtype, count=count).reshape(shape, order="F" if fortran else "C")
        if self.share and type(raw) is _Blob and not raw.shared and dtype.isnative and array.flags.c_contiguous \
                and array.flags.aligned and array.flags.writeable:  # (a second array of the same bytes: a copy)
            raw.shared = True
            return array
        return array.astype(dtype.newbyteorder("="), order="C", copy=True)

    def finish(self, v: Any, depth: int, done: dict, busy: set) -> Any:
        """``v`` with blobs as bytes / str and arrays in place of their placeholders; other placeholders refused."""
        if type(v) is _Blob or type(v) is _Pending and v.value is not None:
            return v.materialize() if type(v) is _Blob else v.value
        if isinstance(v, _Placeholder):
            raise self.fail("an array reconstruction without its state (BUILD)" if type(v) is _Pending else
                            f"refused {'global ' + v.name if type(v) is _Global else 'numpy.dtype'} left as a value", v.pos)
        if type(v) not in (list, tuple, dict):
            return v  # None, numbers, str, bytes, arrays
        if id(v) in done:
            return done[id(v)]
        if id(v) in busy or depth >= MAX_DEPTH:
            raise self.fail("refused self-referencing container (not data of a DEAP file)" if id(v) in busy
                            else f"containers nested deeper than {MAX_DEPTH}")
        busy.add(id(v))
        items = [self.finish(x, depth + 1, done, busy) for x in (v.values() if type(v) is dict else v)]
        done[id(v)] = dict(zip(v, items)) if type(v) is dict else type(v)(items)
        busy.discard(id(v))
        return done[id(v)]


def load_arrays(buf: bytes | memoryview, *, name: str, copy: bool = True) -> dict[str, Any]:
    """Read a pickle of a dict of numpy arrays (``buf``, the whole file; ``name`` names it in messages) as data.

    With ``copy=False`` and a writable ``buf``, an array whose bytes lie in ``buf`` in native byte order, C order
    and aligned is a view of ``buf`` (keeping it alive); any other array is a copy, as all are with ``copy=True``.
    Arrays come back writable, C-contiguous and native, other values as plain values, in the top-level dict (str
    keys). Raises :class:`DEAPFormatError` on anything a dict of numeric arrays does not need, on truncation.
    """
    reader = _Reader(buf, name, share=not copy)
    result = reader.finish(reader.run(), 0, {}, set())
    if type(result) is not dict:
        raise DEAPFormatError(f"{name}: holds a {type(result).__name__}, expected a dict with keys 'data' and 'labels'")
    if bad := [k for k in result if type(k) is not str]:
        raise DEAPFormatError(f"{name}: has a {type(bad[0]).__name__} key, expected str keys")
    return result


def array_data_offset(head: bytes | memoryview) -> int | None:
    """Offset of the first raw-bytes argument that runs past ``head``, a file's first bytes (4 KiB is plenty).

    A reader places the file so that this offset is aligned: the array there (a DEAP file's samples, after a
    header of about 200 bytes) is then used in place by ``load_arrays(..., copy=False)``. Only a hint: None
    (no such argument, or a stream refused before it) costs a copy.
    """
    reader = _Reader(head, "(header)", head=True)
    try:
        reader.run()
    except DEAPFormatError:  # the machine stops where an argument runs past head, its length read
        size = _LONG_BYTES_OPS.get(reader.view[reader.op]) if reader.op < reader.n else None
        if size is not None and reader.cut == reader.op + 1 + size:
            return reader.cut
    return None
