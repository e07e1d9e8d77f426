"""Tests of deap_lib.pickle_reader: a pickle interpreter that reads arrays as data, never runs code."""

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

from deap_lib import io
from deap_lib.io import DEAPFormatError
from deap_lib.pickle_reader import ALLOWED_DTYPES, load_arrays

NAME = "s01.dat"


def _small(dtype="<f4", seed=0):
    rng = np.random.default_rng(seed)
    data = rng.standard_normal((2, 3, 5)).astype(dtype)
    labels = rng.uniform(1, 9, (2, 4)).astype(dtype)
    return {"data": data, "labels": labels}


def _py2_bytes(arrays):
    """A Python 2 cPickle protocol-2 stream, opcode by opcode, with io's own writer helpers."""
    ops = [pickle.PROTO + bytes([2]), pickle.EMPTY_DICT, pickle.MARK]
    for key, value in arrays.items():
        little = np.ascontiguousarray(value, dtype=value.dtype.newbyteorder("<"))
        ops += [*io._py2_str(key.encode("ascii")), *io._py2_array(little)]
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


@pytest.fixture(scope="module")
def participant_bytes(tmp_path_factory):
    """write_participant's output for a real-shaped float32 participant (~50 MB)."""
    rng = np.random.default_rng(7)
    data = rng.standard_normal(io.DATA_SHAPE, dtype=np.float32)
    labels = rng.uniform(1, 9, io.LABELS_SHAPE).astype(np.float32)
    path = io.write_participant(tmp_path_factory.mktemp("deap") / NAME, data, labels)
    return path.read_bytes(), data, labels


def test_write_participant_round_trip(participant_bytes):
    raw, data, labels = participant_bytes
    _assert_same(load_arrays(raw, name=NAME), {"data": data, "labels": labels})


# ---------------------------------------------------------------------------------------------
# Refusals
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
@pytest.mark.parametrize("payload", ["os.system", "builtins.eval", "subprocess.Popen", "functools.partial"])
@pytest.mark.parametrize("nested", [False, True], ids=["top", "in dict"])
def test_code_is_refused(tmp_path, protocol, payload, nested):
    marker = tmp_path / "MARKER"
    evil, _ = helpers.code_payloads(marker)[payload]
    obj = {"labels": _small()["labels"], "data": evil} if nested else evil
    buf = pickle.dumps(obj, protocol=protocol)
    with pytest.raises(DEAPFormatError, match=rf"^{NAME}: refused global \S+ at byte \d+") as info:
        load_arrays(buf, name=NAME)
    assert payload.split(".")[1] in str(info.value)
    assert not marker.exists()


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_object_array_is_refused(protocol):
    buf = pickle.dumps({"labels": np.array([1, "a"], dtype=object)}, protocol=protocol)
    with pytest.raises(DEAPFormatError, match=rf"^{NAME}: 'labels' is an array of Python objects"):
        load_arrays(buf, name=NAME)


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
        (b"\x80\x02cnumpy\ndtype\n)R.", "refused numpy.dtype call"),
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

    with pytest.raises(DEAPFormatError, match="encoding 'zlib_codec'.*latin1"):
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
    from deap_lib.io import DEAPFormatError
    from deap_lib.pickle_reader import ALLOWED_DTYPES, load_arrays

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

    def check_arrays(value, depth=0):
        if isinstance(value, np.ndarray):
            assert value.dtype.str in ALLOWED_DTYPES and value.dtype.isnative, value.dtype
            assert value.flags.c_contiguous and value.flags.owndata
        elif isinstance(value, (list, tuple)):
            for v in value:
                check_arrays(v, depth + 1)
        elif isinstance(value, dict):
            for v in value.values():
                check_arrays(v, depth + 1)

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
            continue
        except Exception:
            counts["other_exception"] += 1
            print(f"case {case}: {buf.hex()}", file=sys.stderr)
            traceback.print_exc()
            continue
        check_arrays(got)
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


def test_mutation_fuzzer_never_crashes_nor_raises_other_errors():
    arrays = _small("<f4", seed=1)
    arrays["labels"] = arrays["labels"].astype("<f8")
    seeds = [pickle.dumps(arrays, protocol=p) for p in (2, 4, 5)] + [_py2_bytes(arrays)]
    n_cases = 2000
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
