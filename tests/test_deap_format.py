"""Tests of deap_lib.data.deap_format: DEAP's file format, its validation, reading files, finding them.

How a pickle is read as data (code payloads, crafted streams, the fuzzer) is tested in test_pickle_reader.py."""

import os
import pickle
import pickletools
import struct
import warnings

import helpers
import numpy as np
import pytest

from deap_lib.data import deap_format
from deap_lib.data.deap_format import DEAPFormatError


@pytest.fixture(scope="module")
def valid():
    """A valid participant in float32: data (40, 40, 8064), labels (40, 4) with both rating bounds."""
    rng = np.random.default_rng(0)
    data = rng.standard_normal(deap_format.DATA_SHAPE, dtype=np.float32)
    labels = rng.uniform(1, 9, deap_format.LABELS_SHAPE).astype(np.float32)
    labels[0, 0], labels[1, 1] = 1.0, 9.0  # the bounds are allowed
    data.flags.writeable = labels.flags.writeable = False  # tests copy before changing
    return data, labels


def _dump(path, obj, protocol=4):
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=protocol)
    return path


def _py2_dump(path, arrays):
    """Write ``arrays`` as Python 2.7's cPickle.dump(d, f, 2) with numpy 1.x does.

    Written opcode by opcode, independently of deap_format.write_participant: keys and array bytes are
    Python 2 ``str`` (SHORT_BINSTRING / BINSTRING), globals are memoized (BINPUT) and reused (BINGET),
    shapes use the short TUPLE2/TUPLE3 opcodes.
    """
    memo = {}

    def glob(module, name):
        if (module, name) in memo:
            return b"h" + bytes([memo[module, name]])
        memo[module, name] = len(memo) + 1
        return b"c" + f"{module}\n{name}\n".encode() + b"q" + bytes([memo[module, name]])

    def py2str(raw):
        return b"U" + bytes([len(raw)]) + raw if len(raw) < 256 else b"T" + struct.pack("<i", len(raw)) + raw

    def small_int(n):
        return b"K" + bytes([n]) if n < 256 else b"M" + struct.pack("<H", n)

    out = [b"\x80\x02}q\x00("]
    for key, a in arrays.items():
        shape = b"".join(small_int(n) for n in a.shape) + {2: b"\x86", 3: b"\x87"}[a.ndim]
        out += [
            py2str(key.encode()),
            glob("numpy.core.multiarray", "_reconstruct"),
            glob("numpy", "ndarray"),
            b"K\x00\x85" + py2str(b"b") + b"\x87R(K\x01" + shape,
            glob("numpy", "dtype"),
            py2str(f"f{a.itemsize}".encode()) + b"K\x00K\x01\x87R",
            b"(K\x03" + py2str(b"<") + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89",
            py2str(a.astype(a.dtype.newbyteorder("<")).tobytes()),
            b"tb",
        ]
    out.append(b"u.")
    path.write_bytes(b"".join(out))
    return path


# ---------------------------------------------------------------------------------------------
# Constants
# ---------------------------------------------------------------------------------------------


def test_constants_describe_deap():
    assert len(set(deap_format.EEG_CHANNELS)) == deap_format.N_EEG == 32
    assert deap_format.EEG_CHANNELS[:3] == ("Fp1", "AF3", "F3") and deap_format.EEG_CHANNELS[-1] == "O2"
    assert len(deap_format.CHANNEL_NAMES) == deap_format.N_CHANNELS == deap_format.N_EEG + len(deap_format.PERIPHERAL_CHANNELS)
    assert deap_format.N_SAMPLES == (deap_format.BASELINE_S + 60) * deap_format.SFREQ
    assert deap_format.RATING_NAMES == ("valence", "arousal", "dominance", "liking")
    assert deap_format.DEAP_DIR_ENV == "DEAP_DIR"


# ---------------------------------------------------------------------------------------------
# Writing and reading back
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_round_trip_keeps_values_and_dtype(tmp_path, valid, dtype):
    data, labels = (a.astype(dtype) for a in valid)
    path = deap_format.write_participant(tmp_path / "s01.dat", data, labels)

    got_data, got_labels = deap_format.read_participant(path)
    assert got_data.dtype == got_labels.dtype == dtype
    np.testing.assert_array_equal(got_data, data)
    np.testing.assert_array_equal(got_labels, labels)
    assert got_data.flags.writeable

    with open(path, "rb") as f:  # how everyone reads the real files
        plain = pickle.load(f, encoding="latin1")
    assert isinstance(plain, dict) and sorted(plain) == ["data", "labels"]
    np.testing.assert_array_equal(plain["data"], data)
    np.testing.assert_array_equal(plain["labels"], labels)
    assert os.listdir(tmp_path) == ["s01.dat"]  # no temporary file left behind


def test_written_file_is_a_python2_pickle(tmp_path, valid):
    path = deap_format.write_participant(tmp_path / "s01.dat", *(a.astype(np.float64) for a in valid))
    ops = list(pickletools.genops(path.read_bytes()))
    assert ops[0][0].name == "PROTO" and ops[0][1] == 2
    assert max(op.proto for op, _, _ in ops) <= 2
    names = {op.name for op, _, _ in ops}
    assert not names & {"BINUNICODE", "SHORT_BINUNICODE", "UNICODE"}  # Python 2 str only
    assert {arg for op, arg, _ in ops if op.name == "GLOBAL"} == {
        "numpy.core.multiarray _reconstruct",  # the name numpy 1.x on Python 2 resolves
        "numpy ndarray",
        "numpy dtype",
    }
    raw = 8 * (np.prod(deap_format.DATA_SHAPE) + np.prod(deap_format.LABELS_SHAPE))
    assert raw < path.stat().st_size < raw + 1000  # raw bytes, not utf-8-inflated text


def test_write_creates_folders_and_overwrites(tmp_path, valid):
    path = tmp_path / "a" / "b" / "s02.dat"
    deap_format.write_participant(path, *valid)
    labels = valid[1].copy()
    labels[:, 0] = 5.0
    deap_format.write_participant(path, valid[0], labels)
    np.testing.assert_array_equal(deap_format.read_participant(path)[1], labels)


def test_failed_write_keeps_the_old_file(tmp_path, valid, monkeypatch):
    path = deap_format.write_participant(tmp_path / "s01.dat", *valid)
    before = path.read_bytes()

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(deap_format.os, "replace", broken_replace)
    labels = valid[1].copy()
    labels[:] = 2.0
    with pytest.raises(OSError, match="disk full"):
        deap_format.write_participant(path, valid[0], labels)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["s01.dat"]


def test_reads_handcrafted_python2_pickle(tmp_path, valid):
    data = valid[0].astype(np.float64)  # the real files hold float64
    labels = valid[1].astype(np.float64)
    path = _py2_dump(tmp_path / "s01.dat", {"labels": labels, "data": data})

    got_data, got_labels = deap_format.read_participant(path)
    assert got_data.dtype == np.float64
    np.testing.assert_array_equal(got_data, data)
    np.testing.assert_array_equal(got_labels, labels)
    with pytest.raises(UnicodeDecodeError):  # why encoding="latin1" is needed at all
        with open(path, "rb") as f:
            pickle.load(f)


@pytest.mark.parametrize("protocol", [2, 3, 4])
def test_reads_python3_pickles(tmp_path, valid, protocol):
    # Protocol 2 from Python 3 stores array bytes through _codecs.encode(str, "latin1").
    path = _dump(tmp_path / "s01.dat", {"data": valid[0], "labels": valid[1]}, protocol)
    got_data, got_labels = deap_format.read_participant(path)
    np.testing.assert_array_equal(got_data, valid[0])
    np.testing.assert_array_equal(got_labels, valid[1])


def test_reads_big_endian_as_native(tmp_path, valid):
    data, labels = (a.astype(">f8") for a in valid)
    path = _dump(tmp_path / "s01.dat", {"data": data, "labels": labels})
    got_data, got_labels = deap_format.read_participant(path)
    assert got_data.dtype == np.dtype("=f8")
    np.testing.assert_array_equal(got_data, valid[0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_read_uses_the_file_buffer_in_place(tmp_path, valid, dtype):
    """The samples are a view of the one buffer the file is read into: no copy, no full-size
    temporary (the non-finite check goes one trial at a time)."""
    import tracemalloc

    data, labels = (a.astype(dtype) for a in valid)
    path = deap_format.write_participant(tmp_path / "s01.dat", data, labels)
    tracemalloc.start()
    try:
        got_data, got_labels = deap_format.read_participant(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < path.stat().st_size + 2 * data[0].nbytes  # the buffer, plus less than 2 trials
    assert not got_data.flags.owndata  # a view of the buffer
    assert got_data.flags.aligned and got_data.flags.c_contiguous and got_data.flags.writeable
    np.testing.assert_array_equal(got_data, data)
    np.testing.assert_array_equal(got_labels, labels)
    got_data[0, 0, 0] = -1.0  # writable, as the callers that standardize in place need
    assert got_labels.flags.writeable


def test_read_frees_the_file_buffer_at_once(tmp_path, valid):
    """Nothing but the arrays holds the buffer: no reference cycle waits for the garbage collector
    (which let several 100 MB buffers pile up and made reading 5x slower)."""
    import gc
    import weakref

    path = deap_format.write_participant(tmp_path / "s01.dat", *valid)
    gc.disable()
    try:
        data, labels = deap_format.read_participant(path)
        base = data
        while isinstance(base.base, np.ndarray):
            base = base.base
        buffer = weakref.ref(base)
        del data, labels, base
        assert buffer() is None
    finally:
        gc.enable()


@pytest.mark.parametrize("change", [-4096, -1, 1, 4096])
def test_read_while_the_file_changes_size(tmp_path, valid, monkeypatch, change):
    """The size taken at open may be stale: the file is read to its end all the same."""
    import types

    path = deap_format.write_participant(tmp_path / "s01.dat", *valid)
    real_fstat = os.fstat
    def stale(fd):
        st = real_fstat(fd)
        return types.SimpleNamespace(st_mode=st.st_mode, st_size=st.st_size + change)

    monkeypatch.setattr(os, "fstat", stale)
    got_data, got_labels = deap_format.read_participant(path)
    np.testing.assert_array_equal(got_data, valid[0])
    np.testing.assert_array_equal(got_labels, valid[1])


# ---------------------------------------------------------------------------------------------
# Bad files
# ---------------------------------------------------------------------------------------------


def _bad_arrays(valid, change):
    """``(data, labels, expected message fragments)`` for one kind of invalid content."""
    data, labels = valid[0].copy(), valid[1].copy()
    if change == "data shape":
        return data[:, :32], labels, ["'data'", "(40, 32, 8064)", "expected (40, 40, 8064)"]
    if change == "labels shape":
        return data, labels[:, :2], ["'labels'", "(40, 2)", "expected (40, 4)"]
    if change == "int dtype":
        return data.astype(np.int32), labels, ["'data'", "int32", "float32 or float64"]
    if change == "float16 dtype":
        return data, labels.astype(np.float16), ["'labels'", "float16", "float32 or float64"]
    if change == "object dtype":
        return data, labels.astype(object), ["'labels'", "object"]
    if change == "nan sample":
        data[3, 5, 100] = np.nan
        data[7, 0, 0] = np.inf
        return data, labels, ["2 non-finite", "data[3, 5, 100]", "trial 3", "channel 5 FC1"]
    if change == "rating 0":
        labels[2, 0] = 0.0
        return data, labels, ["valence", "0.0", "labels[2, 0]", "1-9"]
    if change == "rating 9.5":
        labels[4, 1] = 9.5
        return data, labels, ["arousal", "9.5", "labels[4, 1]", "1-9"]
    if change == "nan rating":
        labels[0, 3] = np.nan
        return data, labels, ["liking", "nan"]
    if change == "data is a list":
        return data[0, 0, :3].tolist(), labels, ["'data'", "list", "ndarray"]
    raise AssertionError(change)


BAD_ARRAYS = [
    "data shape",
    "labels shape",
    "int dtype",
    "float16 dtype",
    "object dtype",
    "nan sample",
    "rating 0",
    "rating 9.5",
    "nan rating",
    "data is a list",
]


@pytest.mark.parametrize("change", BAD_ARRAYS)
def test_read_rejects_bad_content(tmp_path, valid, change):
    data, labels, fragments = _bad_arrays(valid, change)
    path = _dump(tmp_path / "s01.dat", {"data": data, "labels": labels})
    with pytest.raises(DEAPFormatError) as info:
        deap_format.read_participant(path)
    for fragment in [str(path), *fragments]:
        assert fragment in str(info.value)


@pytest.mark.parametrize("change", BAD_ARRAYS)
def test_write_rejects_what_read_rejects(tmp_path, valid, change):
    data, labels, fragments = _bad_arrays(valid, change)
    path = tmp_path / "s01.dat"
    with pytest.raises(DEAPFormatError) as info:
        deap_format.write_participant(path, data, labels)
    for fragment in [str(path), *fragments]:
        assert fragment in str(info.value)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        (lambda valid: [valid[0], valid[1]], ["holds a list", "expected a dict"]),
        (lambda valid: {"data": valid[0]}, ["lacks key(s) 'labels'", "found 'data'"]),
        (lambda valid: {}, ["lacks key(s) 'data', 'labels'", "found none"]),
    ],
    ids=["list", "no labels", "empty dict"],
)
def test_read_rejects_wrong_structure(tmp_path, valid, content, fragments):
    path = _dump(tmp_path / "s01.dat", content(valid))
    with pytest.raises(DEAPFormatError) as info:
        deap_format.read_participant(path)
    for fragment in [str(path), *fragments]:
        assert fragment in str(info.value)


@pytest.mark.parametrize("damage", ["truncated", "random bytes", "empty", "text"])
def test_read_rejects_damaged_files(tmp_path, valid, damage):
    path = tmp_path / "s01.dat"
    if damage == "truncated":
        deap_format.write_participant(path, *valid)
        raw = path.read_bytes()
        path.write_bytes(raw[: len(raw) // 2])
    elif damage == "random bytes":
        path.write_bytes(np.random.default_rng(1).bytes(4096))
    elif damage == "empty":
        path.write_bytes(b"")
    else:
        path.write_text("subject,trial,valence\n1,1,5.0\n")
    with pytest.raises(DEAPFormatError, match="s01.dat") as info:
        deap_format.read_participant(path)
    assert str(path) in str(info.value)


def test_read_missing_file_directory_and_unreadable(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError):
        deap_format.read_participant(tmp_path / "s01.dat")
    with pytest.raises(DEAPFormatError, match=r"is not a regular file \(a directory\); expected a DEAP"):
        deap_format.read_participant(tmp_path)

    path = tmp_path / "s02.dat"
    path.write_bytes(b"")
    real_open = os.open

    def denied(name, *args, **kwargs):  # chmod 000 does not stop root, so refuse the open itself
        if os.fspath(name) == str(path):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(name, *args, **kwargs)

    monkeypatch.setattr(os, "open", denied)
    with pytest.raises(DEAPFormatError, match="cannot be opened.*Permission denied") as info:
        deap_format.read_participant(path)
    assert str(path) in str(info.value)


# ---------------------------------------------------------------------------------------------
# Security: the files are read as data, never unpickled (the payloads: test_pickle_reader.py)
# ---------------------------------------------------------------------------------------------


def test_read_never_unpickles(tmp_path, valid, monkeypatch):
    path = _py2_dump(tmp_path / "s01.dat", {"labels": valid[1].astype(np.float64), "data": valid[0]})

    def refuse(*args, **kwargs):
        raise AssertionError("read_participant unpickled the file")

    for name in ("load", "loads", "Unpickler", "_Unpickler"):
        monkeypatch.setattr(pickle, name, refuse)
    data, labels = deap_format.read_participant(path)
    np.testing.assert_array_equal(data, valid[0])
    np.testing.assert_array_equal(labels, valid[1])


# ---------------------------------------------------------------------------------------------
# Finding and loading several participants
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def deap_dir(tmp_path_factory, valid):
    """A DEAP folder with s10, s03, s01 (written in that order); s01 in float64, its labels shifted."""
    root = tmp_path_factory.mktemp("deap")
    for pid in (10, 3, 1):
        data, labels = valid[0].copy(), valid[1].copy()
        data[0, 0, 0] = pid
        labels[0, 3] = pid / 10 + 1
        if pid == 1:
            data, labels = data.astype(np.float64), labels.astype(np.float64)
        deap_format.write_participant(deap_format.participant_path(root, pid), data, labels)
    (root / "notes.txt").write_text("not a participant")
    return root


def test_participant_path():
    assert deap_format.participant_path("/x", 1).as_posix() == "/x/s01.dat"
    assert deap_format.participant_path("/x", 32).name == "s32.dat"


def test_find_all_sorted_and_warns_missing(deap_dir):
    with pytest.warns(UserWarning, match=r"lacks 29 of 32.*s02\.dat.*s32\.dat") as record:
        found = deap_format.find_participants(deap_dir)
    assert "s01.dat" not in str(record[0].message)
    assert found == [(1, deap_dir / "s01.dat"), (3, deap_dir / "s03.dat"), (10, deap_dir / "s10.dat")]


def test_find_explicit_list(deap_dir):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        found = deap_format.find_participants(str(deap_dir), [10, np.int64(1)])
    assert [pid for pid, _ in found] == [1, 10]


def test_find_explicit_missing_is_an_error(deap_dir):
    with pytest.raises(FileNotFoundError, match=r"s02\.dat, s04\.dat") as info:
        deap_format.find_participants(deap_dir, [1, 2, 4])
    assert "s01.dat" not in str(info.value)


@pytest.mark.parametrize(
    ("participants", "error"),
    [([0], ValueError), ([1, 33], ValueError), ([1, 1], ValueError), ([], ValueError), ([True], TypeError),
     ([1.0], TypeError), ("1", TypeError), (3, TypeError)],
)  # fmt: skip
def test_find_rejects_bad_participant_ids(deap_dir, participants, error):
    with pytest.raises(error):
        deap_format.find_participants(deap_dir, participants)


def test_find_empty_folder(tmp_path):
    (tmp_path / "data_preprocessed_python").mkdir()
    with pytest.raises(FileNotFoundError, match="none of s01.dat.*data_preprocessed_python"):
        deap_format.find_participants(tmp_path)


def test_resolve_deap_dir(tmp_path, monkeypatch):
    monkeypatch.delenv(deap_format.DEAP_DIR_ENV, raising=False)
    with pytest.raises(FileNotFoundError, match="DEAP_DIR"):
        deap_format.resolve_deap_dir()
    assert deap_format.resolve_deap_dir(tmp_path) == tmp_path

    monkeypatch.setenv(deap_format.DEAP_DIR_ENV, str(tmp_path))
    assert deap_format.resolve_deap_dir() == tmp_path

    gone = tmp_path / "nowhere"
    monkeypatch.setenv(deap_format.DEAP_DIR_ENV, str(gone))
    with pytest.raises(FileNotFoundError, match="nowhere.*DEAP_DIR"):
        deap_format.resolve_deap_dir()
    with pytest.raises(FileNotFoundError, match="nowhere"):
        deap_format.find_participants(gone)

    (tmp_path / "file").write_text("")
    with pytest.raises(NotADirectoryError, match="file"):
        deap_format.resolve_deap_dir(tmp_path / "file")


def test_written_files_follow_the_umask(tmp_path, valid):
    import stat

    old = os.umask(0o022)
    try:
        assert stat.S_IMODE(deap_format.write_participant(tmp_path / "s01.dat", *valid).stat().st_mode) == 0o644
        os.umask(0o077)
        assert stat.S_IMODE(deap_format.write_participant(tmp_path / "s02.dat", *valid).stat().st_mode) == 0o600
    finally:
        os.umask(old)


# ---------------------------------------------------------------------------------------------
# Files that are not regular files of a participant's size are refused before they are read
# ---------------------------------------------------------------------------------------------


def test_max_file_bytes_is_twice_a_float64_file():
    float64_file = 8 * (40 * 40 * 8064 + 40 * 4)  # the samples and ratings of a real (float64) file
    assert float64_file < deap_format.MAX_FILE_BYTES <= 2 * float64_file + 2**20


def test_huge_sparse_file_is_refused_unread(tmp_path):
    import time
    import tracemalloc

    path = tmp_path / "s01.dat"
    with open(path, "wb") as f:
        f.truncate(20 * 10**9)  # 20 GB, sparse: no disk used
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        with pytest.raises(DEAPFormatError) as info:
            deap_format.read_participant(path)
        seconds = time.perf_counter() - t0
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert str(info.value) == (
        f"{path}: is 20000000000 bytes, more than {deap_format.MAX_FILE_BYTES}; expected a "
        f"DEAP participant file (sNN.dat, a regular file of at most {deap_format.MAX_FILE_BYTES} bytes)"
    )
    assert seconds < 1 and peak < 10**6


def test_file_growing_past_the_bound_while_read_is_refused(tmp_path, valid, monkeypatch):
    """The bound holds for the bytes read, not only for the size at open."""
    path = deap_format.write_participant(tmp_path / "s01.dat", *valid)
    size = path.stat().st_size
    real_fstat = os.fstat
    monkeypatch.setattr(deap_format, "MAX_FILE_BYTES", size - 10)

    def smaller(fd):  # the size at open said it fit
        st = real_fstat(fd)
        return os.stat_result((st.st_mode, *st[1:6], size - 100, *st[7:]))

    monkeypatch.setattr(os, "fstat", smaller)
    with pytest.raises(DEAPFormatError, match=rf"grew past {size - 10} bytes while read"):
        deap_format.read_participant(path)


@pytest.mark.parametrize("kind", ["fifo", "dev/zero"])
def test_fifo_and_device_are_refused_without_blocking(tmp_path, kind):
    path = tmp_path / "s01.dat"
    what = helpers.special_file(path, kind)
    with pytest.raises(DEAPFormatError, match=rf"^{path}: is not a regular file \({what}\); expected a DEAP"):
        deap_format.read_participant(path)
    with pytest.raises(FileNotFoundError) as info:
        deap_format.find_participants(tmp_path)
    assert str(info.value) == (f"DEAP folder {tmp_path}: s01.dat is not a readable file "
                               f"({what}, expected a regular file)")


def test_broken_entries_are_each_named_with_what_they_are(tmp_path):
    (tmp_path / "s01.dat").mkdir()
    (tmp_path / "s02.dat").symlink_to(tmp_path / "gone")
    (tmp_path / "s03.dat").symlink_to(tmp_path / "s03.dat")  # a link loop
    with pytest.raises(FileNotFoundError) as info:
        deap_format.find_participants(tmp_path)
    assert str(info.value) == (
        f"DEAP folder {tmp_path}: s01.dat is not a readable file (a directory, expected a regular file); "
        "s02.dat is not a readable file (a dangling link, expected a regular file); "
        "s03.dat is not a readable file (cannot be examined: Too many levels of symbolic links, "
        "expected a regular file)"
    )
    with pytest.raises(DEAPFormatError, match=r"s03.dat: cannot be opened \(OSError: Too many levels"):
        deap_format.read_participant(tmp_path / "s03.dat")
