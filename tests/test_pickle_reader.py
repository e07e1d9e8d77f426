"""Tests of deap_lib.data.pickle_reader: a pickle interpreter that reads arrays as data, never runs code."""

import json
import os
import pickle
import struct
import subprocess
import sys
import textwrap

import helpers
import numpy as np
import pytest

from deap_lib.data import deap_format
from deap_lib.data.pickle_reader import ALLOWED_DTYPES, DEAPFormatError, array_data_offset, load_arrays

NAME = "s01.dat"


def _small(dtype="<f4", seed=0):
    rng = np.random.default_rng(seed)
    data = rng.standard_normal((2, 3, 5)).astype(dtype)
    labels = rng.uniform(1, 9, (2, 4)).astype(dtype)
    return {"data": data, "labels": labels}


def _py2_bytes(arrays):
    """A Python 2 cPickle protocol-2 stream, opcode by opcode, with deap_format's own writer helpers."""
    ops = [pickle.PROTO + bytes([2]), pickle.EMPTY_DICT, pickle.MARK]
    for key, value in arrays.items():
        little = np.ascontiguousarray(value, dtype=value.dtype.newbyteorder("<"))
        ops += [*deap_format._py2_str(key.encode("ascii")), *deap_format._py2_array(little)]
    ops += [pickle.SETITEMS, pickle.STOP]
    return b"".join(bytes(op) for op in ops)


def _assert_same(got, expected):
    assert set(got) == set(expected)
    for key, value in expected.items():
        assert got[key].dtype == value.dtype.newbyteorder("="), key
        assert got[key].dtype.isnative and got[key].flags.c_contiguous and got[key].flags.writeable
        np.testing.assert_array_equal(got[key], value)


# ---------------------------------------------------------------------------------------------
# Round trips
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", range(6))
@pytest.mark.parametrize("dtype", ["<f4", ">f4", "<f8", ">f8"])
@pytest.mark.parametrize("fortran", [False, True], ids=["C", "F"])
def test_round_trip_pickle_dumps(protocol, dtype, fortran):
    arrays = _small(dtype)
    if fortran:
        arrays["data"] = np.asfortranarray(arrays["data"])
    got = load_arrays(pickle.dumps(arrays, protocol=protocol), name=NAME)
    _assert_same(got, arrays)


@pytest.mark.parametrize("dtype", ["<i1", "u1", ">i2", "<u4", "<i8", ">u8", "<f2"])
def test_round_trip_integer_and_half_dtypes(dtype):
    arrays = {"x": np.arange(24).reshape(2, 3, 4).astype(dtype), "empty": np.zeros((0, 3), dtype)}
    for protocol in (0, 2, 5):
        _assert_same(load_arrays(pickle.dumps(arrays, protocol=protocol), name=NAME), arrays)


def test_plain_values_memo_and_shared_arrays():
    a = _small()["data"]
    obj = {"a": a, "b": a, "meta": [1, -2**70, 2.5, "text", b"raw", None, True, (1, (2, 3))], "d": {"k": 1}}
    for protocol in range(6):
        got = load_arrays(pickle.dumps(obj, protocol=protocol), name=NAME)
        np.testing.assert_array_equal(got["a"], a)
        np.testing.assert_array_equal(got["b"], a)
        assert got["meta"] == obj["meta"] and got["d"] == {"k": 1}


def test_memoryview_input_and_arrays_own_their_memory():
    arrays = _small("<f8")
    raw = bytearray(pickle.dumps(arrays, protocol=5))
    got = load_arrays(memoryview(raw), name=NAME)
    _assert_same(got, arrays)
    raw[:] = b"\0" * len(raw)  # the arrays are copies, not views of the file
    _assert_same(got, arrays)


@pytest.mark.parametrize("dtype", ["<f4", "<f8"])
def test_python2_writer_helpers(dtype):
    arrays = _small(dtype, seed=3)
    _assert_same(load_arrays(_py2_bytes(arrays), name=NAME), arrays)


# ---------------------------------------------------------------------------------------------
# copy=False: arrays as views of the buffer where numpy can use its bytes as they are
# ---------------------------------------------------------------------------------------------


def _placed(raw, misalign=0):
    """``raw`` in a writable uint8 buffer, its first long array aligned (plus ``misalign`` bytes),
    as deap_lib.data.deap_format places a file it reads."""
    start = array_data_offset(raw[:4096]) or 0
    buf = np.empty(len(raw) + 128, dtype=np.uint8)
    shift = -(buf.ctypes.data + start) % 64 + misalign
    buf[shift : shift + len(raw)] = np.frombuffer(raw, dtype=np.uint8)
    return buf[shift : shift + len(raw)]


def _big(dtype="<f8", order="C"):
    """Arrays whose bytes are long enough (> 4 KiB) to stay in the file rather than be copied, and
    (> 64 KiB) to be written outside protocol 4's frames, as a DEAP file's are."""
    rng = np.random.default_rng(5)
    data = np.asarray(rng.standard_normal((4, 8, 300)), dtype=dtype, order=order)
    return {"data": data, "labels": rng.uniform(1, 9, (4, 4)).astype(dtype)}


def _shares(array, buf):
    return np.shares_memory(array, buf)


@pytest.mark.parametrize("protocol", [2, 3, 4, 5, "py2"])
def test_no_copy_views_for_native_c_order(protocol):
    arrays = _big()
    raw = _py2_bytes(arrays) if protocol == "py2" else pickle.dumps(arrays, protocol=protocol)
    buf = _placed(raw)
    got = load_arrays(buf, name=NAME, copy=False)
    _assert_same(got, arrays)
    # Python 3's protocol 2 stores bytes as latin-1 text, which has to be re-encoded: a copy.
    assert _shares(got["data"], buf) == (protocol != 2)
    assert not _shares(got["labels"], buf)  # 128 bytes: built at once, never a view
    assert got["data"].flags.aligned
    got["data"][0, 0, 0] = 123.0  # writable, and a view: the buffer holds the change
    if protocol != 2:
        assert np.frombuffer(buf, dtype=np.uint8).tobytes().count(np.float64(123.0).tobytes()) == 1


@pytest.mark.parametrize(
    ("protocol", "dtype", "order"),
    [(p, d, o) for p in (2, 4, 5, "py2") for d, o in ((">f8", "C"), ("<f8", "F"), (">f4", "F"))
     if not (p == "py2" and o == "F")],  # the Python 2 writer helper writes C order only
)
def test_no_copy_copies_big_endian_and_fortran(protocol, dtype, order):
    arrays = _big(dtype, order)
    raw = _py2_bytes(arrays) if protocol == "py2" else pickle.dumps(arrays, protocol=protocol)
    buf = _placed(raw)
    got = load_arrays(buf, name=NAME, copy=False)
    _assert_same(got, arrays)
    native_c = dtype.startswith("<") and order == "C" or protocol == "py2"  # py2 writes little-endian
    if not native_c:
        assert not _shares(got["data"], buf)


@pytest.mark.parametrize("protocol", [4, 5, "py2"])
def test_no_copy_unaligned_data_is_copied_aligned(protocol):
    arrays = _big()
    raw = _py2_bytes(arrays) if protocol == "py2" else pickle.dumps(arrays, protocol=protocol)
    for misalign in (1, 4):
        buf = _placed(raw, misalign)
        got = load_arrays(buf, name=NAME, copy=False)
        _assert_same(got, arrays)
        assert got["data"].flags.aligned and not _shares(got["data"], buf)


def test_no_copy_with_read_only_buffer_copies():
    raw = pickle.dumps(_big(), protocol=5)
    for buf in (raw, memoryview(raw)):  # bytes: arrays of it would be read-only
        got = load_arrays(buf, name=NAME, copy=False)
        _assert_same(got, _big())
        assert got["data"].flags.owndata


def test_no_copy_bytes_used_twice_give_independent_arrays():
    """A memoized bytes object rebuilt into two arrays: the second is a copy, as unpickling makes."""
    a = _big()["data"]
    first = deap_format._py2_array(a)
    second = deap_format._py2_array(a * 0 + 1)
    # first[-4:-2] is the data string (opcode + length, then the bytes): memoize it, reuse it.
    ops = [pickle.PROTO + bytes([2]), pickle.EMPTY_DICT, pickle.MARK]
    ops += [*deap_format._py2_str(b"a"), *first[:-2], pickle.BINPUT + bytes([200]), *first[-2:]]
    ops += [*deap_format._py2_str(b"b"), *second[:-4], pickle.BINGET + bytes([200]), *second[-2:]]
    ops += [pickle.SETITEMS, pickle.STOP]
    raw = b"".join(bytes(op) for op in ops)
    buf = _placed(raw)
    got = load_arrays(buf, name=NAME, copy=False)
    np.testing.assert_array_equal(got["a"], a)
    np.testing.assert_array_equal(got["b"], a)
    got["a"][:] = 0
    np.testing.assert_array_equal(got["b"], a)


@pytest.mark.parametrize("copy", [True, False])
def test_buffer_is_released_with_the_arrays(copy):
    import gc
    import weakref

    buf = _placed(pickle.dumps(_big(), protocol=5))
    gc.disable()
    try:
        ref = weakref.ref(buf.base)
        got = load_arrays(buf, name=NAME, copy=copy)
        del buf
        assert (ref() is None) == copy  # a copy holds nothing of the buffer
        del got
        assert ref() is None  # no reference cycle left for the garbage collector
    finally:
        gc.enable()


@pytest.mark.parametrize("protocol", [2, 3, 4, 5, "py2"])
def test_array_data_offset_points_at_the_first_long_array(protocol):
    arrays = _big()
    raw = _py2_bytes(arrays) if protocol == "py2" else pickle.dumps(arrays, protocol=protocol)
    start = array_data_offset(raw[:4096])
    if protocol == 2:  # Python 3's protocol 2: text, not bytes
        assert start is None
    else:
        assert raw[start : start + 64] == arrays["data"].tobytes()[:64]


def test_array_data_offset_inside_a_frame():
    raw = pickle.dumps({"data": np.arange(2000.0)}, protocol=4)  # 16 KB: inside a 64 KiB FRAME
    start = array_data_offset(raw[:4096])
    assert raw[start : start + 80] == np.arange(10.0).tobytes()


def test_array_data_offset_without_long_arrays():
    assert array_data_offset(pickle.dumps(_small(), protocol=4)) is None  # read whole: nothing runs past
    assert array_data_offset(b"") is None
    assert array_data_offset(b"\x80\x02cos\nsystem\n" + b"T" + struct.pack("<i", 10**6)) is None


# ---------------------------------------------------------------------------------------------
# Refusals
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
@pytest.mark.parametrize(
    "payload", ["os.system", "builtins.eval", "subprocess.call", "subprocess.Popen", "functools.partial"]
)
@pytest.mark.parametrize("nested", [False, True], ids=["top", "in dict"])
def test_code_is_refused(tmp_path, protocol, payload, nested):
    marker = tmp_path / "MARKER"
    evil, _ = helpers.code_payloads(marker)[payload]
    obj = {"labels": _small()["labels"], "data": evil} if nested else evil
    buf = pickle.dumps(obj, protocol=protocol)
    # the payload's callable is what is refused (at protocols < 3 by its Python 2 name: commands.Popen)
    callable_name = payload.split(".")[1]
    with pytest.raises(DEAPFormatError, match=rf"^{NAME}: refused global \S+\.{callable_name} at byte \d+"):
        load_arrays(buf, name=NAME)
    assert not marker.exists()


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
@pytest.mark.parametrize(
    ("obj", "key"),
    [({"labels": np.array([1, "a"], dtype=object)}, "labels"),
     ({**_small(), "notes": np.array([{"x": 1}, "y"], dtype=object)}, "notes")],  # beside valid arrays
    ids=["labels", "another key"],
)
def test_object_array_is_refused(protocol, obj, key):
    with pytest.raises(DEAPFormatError, match=rf"^{NAME}: '{key}' is an array of Python objects"):
        load_arrays(pickle.dumps(obj, protocol=protocol), name=NAME)


@pytest.mark.parametrize("protocol", [2, 5])
def test_structured_and_other_dtypes_are_refused(protocol):
    for array in (
        np.zeros(3, dtype=[("a", "<f4"), ("b", "<i4")]),
        np.zeros(3, dtype="U4"),
        np.zeros(3, dtype="c16"),
        np.zeros(3, dtype=bool),
        np.zeros(3, dtype="M8[s]"),
    ):
        with pytest.raises(DEAPFormatError, match=rf"^{NAME}: refused dtype"):
            load_arrays(pickle.dumps({"data": array}, protocol=protocol), name=NAME)


def _with_shape(shape_ops):
    """A valid protocol-2 pickle of a (2, 3, 5) float32 array whose shape opcodes are replaced."""
    buf = pickle.dumps({"data": _small()["data"]}, protocol=2)
    assert buf.count(b"K\x02K\x03K\x05\x87") == 1
    return buf.replace(b"K\x02K\x03K\x05\x87", shape_ops)


def test_huge_shapes_are_refused_before_allocating():
    j = lambda n: b"J" + struct.pack("<i", n)  # noqa: E731
    cases = {
        j(2000) + j(100_000) + b"K\x01\x87": "claims 200000000 elements",  # 2e8 elements, 120-byte buffer
        j(1000) + j(1000) + b"K\x28\x87": "bytes of data, expected 160000000",  # in bounds, short buffer
        j(200_000) + b"K\x01K\x01\x87": "expected a tuple of at most 3 ints",
        j(-1) + b"K\x01K\x01\x87": "expected a tuple of at most 3 ints",
        b"(K\x01K\x01K\x01K\x01K\x1et": "expected a tuple of at most 3 ints",  # 4 dims
        b"K\x02K\x03\x88\x87": "expected a tuple of at most 3 ints",  # a bool as a dim
    }
    for ops, fragment in cases.items():
        with pytest.raises(DEAPFormatError, match=rf"^{NAME}: 'data' .*{fragment}"):
            load_arrays(_with_shape(ops), name=NAME)


@pytest.mark.parametrize("protocol", [0, 2, 4, 5, "py2"])
def test_truncation_is_refused(protocol):
    arrays = _small()
    buf = _py2_bytes(arrays) if protocol == "py2" else pickle.dumps(arrays, protocol=protocol)
    for end in range(0, len(buf), 7):
        with pytest.raises(DEAPFormatError, match=rf"^{NAME}: "):
            load_arrays(buf[:end], name=NAME)


@pytest.mark.parametrize("protocol", [0, 2, 5])
def test_trailing_garbage_is_refused(protocol):
    buf = pickle.dumps(_small(), protocol=protocol)
    for tail in (b".", b"\0", b"N.", b"junk"):
        with pytest.raises(DEAPFormatError, match=rf"^{NAME}: \d+ bytes of trailing garbage after STOP"):
            load_arrays(buf + tail, name=NAME)


@pytest.mark.parametrize(
    ("buf", "fragment"),
    [
        (b"", "truncated"),
        (b"N", "truncated"),
        (b"\x80\x05(N.", "MARK is never closed"),
        (b"NN.", "2 items on the stack"),
        (b"t.", "TUPLE without a MARK"),
        (b"\x85.", "stack underflow in TUPLE1"),
        (b"h\x07.", "memo index 7 was never stored"),
        (b"\x80\x06N.", "protocol 6"),
        (b"\x80\x05\x97.", "refused opcode NEXT_BUFFER: out-of-band"),
        (b"\x80\x05C\x01x\x98.", "refused opcode READONLY_BUFFER: out-of-band"),
        (b"\x80\x02cos\nsystem\n.", "refused global os.system at byte 2"),
        (b"\x80\x02N\x81.", "refused opcode NEWOBJ"),
        (b"(iposix\nsystem\n.", "refused opcode INST"),
        (b"\x80\x02cnumpy\ndtype\n}b.", "refused BUILD on a _Global"),  # would mutate numpy
        (b"\x80\x02cnumpy\ndtype\n)R.", "refused call of numpy.dtype"),
        (b"\x80\x02cnumpy\nndarray\n)R.", "refused call of numpy.ndarray"),
        (b"\x80\x02cnumpy\nndarray\n.", "refused global numpy.ndarray left as a value"),
        (b"\x80\x02](h\x00a.", "memo index 0"),
        (b"\x80\x02]q\x00h\x00a.", "self-referencing"),
        (b"\x80\x02}]Ns.", "refused dict key of type list"),
        (b"\x80\x02" + b"]" * 100 + b"a" * 99 + b".", "nested deeper than 64"),
        (b"\x80\x02\x8b\xff\xff\x00\x00" + b"\0" * 65535 + b".", "LONG4 of 65535 bytes"),
        (b"\x80\x02T\xff\xff\xff\x7fabc.", "truncated: BINSTRING needs 2147483647 bytes"),
        (b"\x80\x04\x95\xff\xff\xff\xff\x00\x00\x00\x00N.", "FRAME of 4294967295 bytes"),
    ],
)
def test_malformed_streams_are_refused(buf, fragment):
    with pytest.raises(DEAPFormatError, match=rf"^{NAME}: .*{fragment}"):
        load_arrays(buf, name=NAME)


def test_codecs_encode_is_latin1_only():
    import codecs

    class Zlib:
        def __reduce__(self):
            return codecs.encode, ("x" * 100, "zlib_codec")

    with pytest.raises(DEAPFormatError, match=rf"^{NAME}: refused call of _codecs.encode\(.*'zlib_codec'\).*latin1"):
        load_arrays(pickle.dumps({"data": Zlib()}, protocol=4), name=NAME)


def test_top_level_must_be_a_dict():
    with pytest.raises(DEAPFormatError, match=rf"^{NAME}: holds a list, expected a dict"):
        load_arrays(pickle.dumps([1, 2], protocol=4), name=NAME)


# ---------------------------------------------------------------------------------------------
# Mutation fuzzer, in a subprocess so that a crash shows as an exit code, not a dead pytest
# ---------------------------------------------------------------------------------------------

FUZZ_SCRIPT = textwrap.dedent(
    r"""
    import json, pickle, pickletools, resource, sys, time, traceback
    import numpy as np
    from deap_lib.data.pickle_reader import ALLOWED_DTYPES, DEAPFormatError, array_data_offset, load_arrays

    seeds = [bytes.fromhex(h) for h in json.loads(sys.argv[1])]
    n_cases = int(sys.argv[2])
    originals = [pickle.loads(s, encoding="latin1") for s in seeds]
    starts = [[pos for _, _, pos in pickletools.genops(s)] for s in seeds]  # trusted seeds only
    rng = np.random.default_rng(12)

    def opcode_run(i):
        s, st = seeds[i], starts[i]
        a = int(rng.integers(len(st)))
        b = min(len(st) - 1, a + int(rng.integers(1, 6)))
        return s[st[a] : st[b]] if b > a else s[st[a] :]

    def mutate(buf, i):
        buf = bytearray(buf)
        for _ in range(int(rng.integers(1, 4))):
            kind = int(rng.integers(6))
            pos = int(rng.integers(len(buf) + 1))
            if kind == 0 and buf:  # flip a byte
                pos = min(pos, len(buf) - 1)
                buf[pos] = int(rng.integers(256))
            elif kind == 1:  # insert random bytes
                buf[pos:pos] = rng.bytes(int(rng.integers(1, 9)))
            elif kind == 2:  # delete a run
                del buf[pos : pos + int(rng.integers(1, 9))]
            elif kind == 3 and buf:  # duplicate a run
                k = int(rng.integers(1, 17))
                buf[pos:pos] = buf[max(0, pos - k) : pos]
            elif kind == 4:  # splice opcodes from any seed at an opcode boundary of this one
                at = starts[i][int(rng.integers(len(starts[i])))]
                buf[at:at] = opcode_run(int(rng.integers(len(seeds))))
            else:  # replace opcodes by others
                at = starts[i][int(rng.integers(len(starts[i])))]
                buf[at : at + int(rng.integers(1, 12))] = opcode_run(int(rng.integers(len(seeds))))
        return bytes(buf)

    def same(got, expected):
        if not isinstance(got, dict) or set(got) != set(expected):
            return False
        return all(
            isinstance(got[k], np.ndarray) and got[k].dtype == v.dtype.newbyteorder("=") and np.array_equal(got[k], v)
            for k, v in expected.items()
        )

    def check_arrays(value, owned=True):
        if isinstance(value, np.ndarray):
            assert value.dtype.str in ALLOWED_DTYPES and value.dtype.isnative, value.dtype
            assert value.flags.c_contiguous and value.flags.writeable and value.flags.aligned
            assert value.flags.owndata or not owned
        elif isinstance(value, (list, tuple)):
            for v in value:
                check_arrays(v, owned)
        elif isinstance(value, dict):
            for v in value.values():
                check_arrays(v, owned)

    def no_copy(buf):  # load_arrays(copy=False) on the bytes placed as deap_lib.data.deap_format places a file
        start = array_data_offset(buf[:4096]) or 0
        placed = np.empty(len(buf) + 64, dtype=np.uint8)
        shift = -(placed.ctypes.data + start) % 64
        placed[shift : shift + len(buf)] = np.frombuffer(buf, dtype=np.uint8)
        return load_arrays(placed[shift : shift + len(buf)], name="s01.dat", copy=False)

    def equal(a, b):
        if isinstance(a, np.ndarray):
            return isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True)
        if isinstance(a, (list, tuple)):
            return type(a) is type(b) and len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b))
        if isinstance(a, dict):
            return type(b) is dict and a.keys() == b.keys() and all(equal(a[k], b[k]) for k in a)
        return a == b or (a != a and b != b)

    counts = {"same": 0, "changed": 0, "refused": 0, "other_exception": 0}
    t0 = time.perf_counter()
    for case in range(n_cases):
        i = case % len(seeds)
        buf = mutate(seeds[i], i)
        try:
            got = load_arrays(buf, name="s01.dat")
        except DEAPFormatError as exc:
            assert str(exc).startswith("s01.dat: "), exc
            counts["refused"] += 1
            try:  # the same refusal without copies
                no_copy(buf)
                raise AssertionError(f"case {case}: copy=False read what copy=True refused")
            except DEAPFormatError as again:
                assert str(again) == str(exc), (str(again), str(exc))
            continue
        except Exception:
            counts["other_exception"] += 1
            print(f"case {case}: {buf.hex()}", file=sys.stderr)
            traceback.print_exc()
            continue
        check_arrays(got)
        viewed = no_copy(buf)
        check_arrays(viewed, owned=False)
        assert equal(got, viewed), f"case {case}: copy=False read other values"
        counts["same" if same(got, originals[i]) else "changed"] += 1
    counts["seconds"] = time.perf_counter() - t0
    # ru_maxrss of a process forked from pytest includes pytest's own peak; VmHWM is this program's.
    counts["maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    try:
        with open("/proc/self/status") as f:
            counts["peak_rss_mb"] = next(int(l.split()[1]) for l in f if l.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration):
        counts["peak_rss_mb"] = counts["maxrss_mb"]
    print(json.dumps(counts))
    """
)


def _fuzz(n_cases):
    arrays = _small("<f4", seed=1)
    arrays["labels"] = arrays["labels"].astype("<f8")
    seeds = [pickle.dumps(arrays, protocol=p) for p in (2, 4, 5)] + [_py2_bytes(arrays)]
    # Arrays of more than 4 KiB stay in the buffer, where copy=False makes views of them.
    long = {"labels": arrays["labels"], "data": np.linspace(-1, 1, 2 * 4 * 128).reshape(2, 4, 128)}
    seeds += [pickle.dumps(long, protocol=5), _py2_bytes(long)]
    proc = subprocess.run(
        [sys.executable, "-c", FUZZ_SCRIPT, json.dumps([s.hex() for s in seeds]), str(n_cases)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )
    assert proc.returncode == 0, f"fuzzer exited with {proc.returncode}\n{proc.stderr[-4000:]}"
    counts = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"\nfuzz: {n_cases} cases {counts}")
    assert counts["other_exception"] == 0, proc.stderr[-4000:]
    assert counts["same"] + counts["changed"] + counts["refused"] == n_cases
    assert counts["refused"] > n_cases // 2 and counts["same"] > 0
    assert counts["peak_rss_mb"] < 300
    assert ALLOWED_DTYPES  # the subprocess checked every array's dtype against it


def test_mutation_fuzzer_small():
    """The fast subset's fuzz: the first few hundred cases of the large one."""
    _fuzz(400)


@pytest.mark.slow
def test_mutation_fuzzer_never_crashes_nor_raises_other_errors():
    _fuzz(40_000)  # about 15 s on 2 cores
