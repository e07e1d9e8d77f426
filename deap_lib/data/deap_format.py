"""Read (and, for synthetic twins, write) DEAP's ``data_preprocessed_python`` files.

One file per participant, ``s01.dat`` ... ``s32.dat``: a Python 2 pickle of a dict of two arrays, ``data``
(40 trials, 40 channels, 8064 samples at 128 Hz: 3 s of pre-trial baseline, then 60 s; channels 0-31 EEG in
DEAP's Geneva order, :data:`EEG_CHANNELS`, then 8 peripheral signals) and ``labels`` (40 trials, 4 ratings
in 1-9: valence, arousal, dominance, liking). A pickle can run code while it loads, so the files are never
unpickled: :func:`deap_lib.data.pickle_reader.load_arrays` reads their opcodes as data. DEAP is licensed per
user: its folder is an argument or ``$DEAP_DIR`` (:func:`resolve_deap_dir`), never assumed.
"""

from __future__ import annotations

import os
import pickle
import struct
import warnings
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from deap_lib.data.folders import NotABoundedFile, file_kind, open_regular, resolve_folder
from deap_lib.data.pickle_reader import DEAPFormatError, array_data_offset, load_arrays
from deap_lib.store import atomic_write_bytes

__all__ = ["BASELINE_S", "CHANNEL_NAMES", "DATA_SHAPE", "DEAPFormatError", "DEAP_DIR_ENV", "EEG_CHANNELS",
           "LABELS_SHAPE", "MAX_FILE_BYTES", "N_CHANNELS", "N_EEG", "N_PARTICIPANTS", "N_SAMPLES", "N_TRIALS",
           "PERIPHERAL_CHANNELS", "RATING_NAMES", "RATING_RANGE", "SFREQ", "find_participants", "participant_path",
           "read_participant", "resolve_deap_dir", "write_participant"]

N_PARTICIPANTS, N_TRIALS, N_CHANNELS, N_EEG, N_SAMPLES, SFREQ, BASELINE_S = 32, 40, 40, 32, 8064, 128, 3
EEG_CHANNELS = (
    "Fp1", "AF3", "F3", "F7", "FC5", "FC1", "C3", "T7", "CP5", "CP1", "P3", "P7", "PO3", "O1", "Oz", "Pz",
    "Fp2", "AF4", "Fz", "F4", "F8", "FC6", "FC2", "Cz", "C4", "T8", "CP6", "CP2", "P4", "P8", "PO4", "O2",
)  # fmt: skip
PERIPHERAL_CHANNELS = ("hEOG", "vEOG", "zEMG", "tEMG", "GSR", "Respiration", "Plethysmograph", "Temperature")
CHANNEL_NAMES = EEG_CHANNELS + PERIPHERAL_CHANNELS
RATING_NAMES = ("valence", "arousal", "dominance", "liking")
RATING_RANGE = (1.0, 9.0)
DEAP_DIR_ENV = "DEAP_DIR"
DATA_SHAPE = (N_TRIALS, N_CHANNELS, N_SAMPLES)  # one file's 'data': (n_trials, n_channels, n_samples)
LABELS_SHAPE = (N_TRIALS, len(RATING_NAMES))  # one file's 'labels': (n_trials, n_ratings)
#: The largest file read: twice a float64 file's arrays (a real file is about 103 MB; Python 3's protocol 2
#: stores each byte >= 0x80 in two), plus 1 MiB of framing. Anything larger is refused before a byte is read.
MAX_FILE_BYTES = 2 * 8 * (N_TRIALS * N_CHANNELS * N_SAMPLES + N_TRIALS * len(RATING_NAMES)) + 2**20
_ALIGN = 64  # the samples are placed at a multiple of this address (a cache line): numpy uses them in place
_HEAD = 4096  # bytes read first to find where the samples start (a DEAP file's header is about 200 bytes)


def _fail(path: Path, what: str) -> DEAPFormatError:
    return DEAPFormatError(f"{path}: {what}")


def _read_aligned(f, size: int) -> np.ndarray:
    """The file (``size`` bytes at open) as a uint8 array placed so that its first long array is aligned: one
    ``readinto`` into one buffer, whose arrays ``load_arrays(copy=False)`` returns as views. Read, not mapped (a
    mapped file truncated by another process kills this one: SIGBUS); a file that grew since it was opened is
    read to its end, never past :data:`MAX_FILE_BYTES`."""
    head = f.read(min(size, _HEAD)) if size else b""
    start = array_data_offset(head)
    buf = np.empty(size + _ALIGN, dtype=np.uint8)
    shift = 0 if start is None else -(buf.ctypes.data + start) % _ALIGN
    view = memoryview(buf)[shift : shift + size]
    view[: len(head)] = head
    got = len(head)
    while got < size:
        if not (k := f.readinto(view[got:])):  # the file shrank since fstat: what was read is parsed (truncated)
            return buf[shift : shift + got]
        got += k
    rest = f.read(1)  # (FileIO.read(n) allocates n bytes: first look for one more byte)
    rest += f.read(MAX_FILE_BYTES - size) if rest else b""
    if size + len(rest) > MAX_FILE_BYTES:
        raise NotABoundedFile(f"grew past {MAX_FILE_BYTES} bytes while read")
    if rest:  # the file grew since fstat: read it whole (copies, but stays correct)
        return np.concatenate([buf[shift : shift + size], np.frombuffer(rest, dtype=np.uint8)])
    return buf[shift : shift + size]


def _unpickle(path: Path) -> dict:
    """The dict a regular file of at most :data:`MAX_FILE_BYTES` holds (checked on the open file, before
    reading: a FIFO, a device or a huge sparse file is refused unread), read as data, never executed."""
    expected = f"expected a DEAP participant file (sNN.dat, a regular file of at most {MAX_FILE_BYTES} bytes)"
    try:
        f, size = open_regular(path, MAX_FILE_BYTES)
    except FileNotFoundError:
        raise
    except NotABoundedFile as exc:
        raise _fail(path, f"{exc}; {expected}") from None
    except OSError as exc:
        raise _fail(path, f"cannot be opened ({type(exc).__name__}: {exc.strerror or exc})") from exc
    with f:
        try:
            raw = _read_aligned(f, size)
        except NotABoundedFile as exc:
            raise _fail(path, f"{exc}; {expected}") from None
        except OSError as exc:
            raise _fail(path, f"cannot be read ({type(exc).__name__}: {exc.strerror or exc})") from exc
    return load_arrays(raw, name=str(path), copy=False)


def _check_arrays(path: Path, data: object, labels: object) -> tuple[np.ndarray, np.ndarray]:
    """``data`` and ``labels`` checked against DEAP's format, in native byte order (not copied if they are).

    Shared by the reader and the writer, so that both accept exactly the same content.
    """
    for key, value, shape in (("data", data, DATA_SHAPE), ("labels", labels, LABELS_SHAPE)):
        if not isinstance(value, np.ndarray):
            raise _fail(path, f"{key!r} is a {type(value).__name__}, expected a numpy ndarray of shape {shape}")
        if value.dtype.hasobject:
            raise _fail(path, f"{key!r} has dtype {value.dtype} (Python objects), expected float32 or float64")
        if value.shape != shape:
            raise _fail(path, f"{key!r} has shape {value.shape}, expected {shape}")
        if value.dtype.kind != "f" or value.dtype.itemsize not in (4, 8):
            raise _fail(path, f"{key!r} has dtype {value.dtype}, expected float32 or float64")
    data, labels = (a.astype(a.dtype.newbyteorder("="), copy=False) for a in (data, labels))
    if any(not np.isfinite(trial).all() for trial in data):  # one trial at a time: no full-size temporary
        bad = ~np.isfinite(data)  # only now the full mask, to count and locate them
        trial, channel, sample = (int(i) for i in np.argwhere(bad)[0])
        raise _fail(path, f"'data' has {int(bad.sum())} non-finite samples (NaN or inf), expected none; the first is "
                          f"data[{trial}, {channel}, {sample}] = {data[trial, channel, sample]} (trial {trial}, "
                          f"channel {channel} {CHANNEL_NAMES[channel]}, sample {sample}; 0-based)")
    low, high = RATING_RANGE
    with np.errstate(invalid="ignore"):
        bad = ~((labels >= low) & (labels <= high))  # NaN fails both comparisons, so it is caught too
    if bad.any():
        trial, column = (int(i) for i in np.argwhere(bad)[0])
        raise _fail(path, f"'labels' has {int(bad.sum())} ratings outside {low:g}-{high:g}; the first is "
                          f"{RATING_NAMES[column]} = {labels[trial, column]} at labels[{trial}, {column}] "
                          f"(trial {trial}, 0-based)")
    return data, labels


def read_participant(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read and validate one DEAP participant file (``sNN.dat``).

    Returns ``data`` (40, 40, 8064), ``(n_trials, n_channels, n_samples)`` in the stored float dtype (float64
    in the real release; float32 accepted), native byte order, C order, writable (for a file stored as numpy
    wants it, as DEAP's are, a view of the one buffer the file was read into: the samples are not copied), and
    ``labels`` (40, 4), the :data:`RATING_NAMES` ratings in 1-9.

    Raises FileNotFoundError if ``path`` does not exist, and :class:`DEAPFormatError` naming the file and what
    was wrong if it is not a regular file of at most :data:`MAX_FILE_BYTES`, cannot be read, is not a pickle,
    is truncated, asks for anything a dict of arrays does not need (no code from the file is ever run), is not a
    dict with float ndarrays ``'data'`` and ``'labels'`` of the shapes above, has non-finite samples or ratings
    outside 1-9.
    """
    path = Path(path)
    obj = _unpickle(path)
    if missing := [key for key in ("data", "labels") if key not in obj]:
        found = ", ".join(repr(k) for k in obj) or "none"
        raise _fail(path, f"lacks key(s) {', '.join(map(repr, missing))}; expected 'data' and 'labels', found {found}")
    data, labels = _check_arrays(path, obj["data"], obj["labels"])
    return data, labels.copy()  # a few bytes: never keep the file's buffer alive through the labels


def participant_path(root: str | os.PathLike, pid: int) -> Path:
    """Return the path of participant ``pid``'s file: ``root / "sNN.dat"`` (``s01.dat`` for 1)."""
    return Path(root) / f"s{pid:02d}.dat"


def resolve_deap_dir(root: str | os.PathLike | None = None, *, required: bool = True) -> Path | None:
    """The folder holding DEAP's ``s01.dat`` ... ``s32.dat``: ``root``, else ``$DEAP_DIR``; None with
    ``required=False`` when neither names one (errors: :func:`deap_lib.data.folders.resolve_folder`)."""
    return resolve_folder(root, env=DEAP_DIR_ENV, dataset="DEAP", required=required,
                          holding="s01.dat ... s32.dat (DEAP's data_preprocessed_python)")


def _kind(path: Path) -> str:
    """What ``path`` is, in words, following links: "a directory", "a FIFO", "a dangling link" ..."""
    try:
        return file_kind(path.stat().st_mode)
    except FileNotFoundError:
        return "a dangling link"
    except OSError as exc:  # a link loop, a folder that cannot be searched
        return f"cannot be examined: {exc.strerror or exc}"


def find_participants(root: str | os.PathLike | None, participants: Iterable[int] | None = None) -> list[tuple[int, Path]]:
    """``(participant id, file path)`` of a DEAP folder's files, sorted by id.

    ``root`` is the folder (None: ``$DEAP_DIR``); ``participants`` ids in 1-32, each of whose files must exist
    (None: those of ``s01.dat`` ... ``s32.dat`` present, a warning naming the missing ones). Raises
    FileNotFoundError if the folder does not exist, holds none of the files, lacks a requested one (all are
    listed) or has an ``sNN.dat`` that is not a regular file (each named with what it is: a directory, a FIFO,
    a dangling link ...); TypeError or ValueError for ids that are not distinct ints in 1-32.
    """
    folder = resolve_deap_dir(root)
    if participants is None:
        wanted = list(range(1, N_PARTICIPANTS + 1))
    else:  # the public entry to a user's folder: its ids are checked here
        if isinstance(participants, (str, bytes)) or not isinstance(participants, Iterable):
            raise TypeError(f"participants must be a list of ints 1-{N_PARTICIPANTS}, got {participants!r}")
        wanted = list(participants)
        if any(isinstance(p, bool) or not isinstance(p, (int, np.integer)) for p in wanted):
            raise TypeError(f"participant ids must be ints 1-{N_PARTICIPANTS}, got {wanted!r}")
        wanted = sorted(int(p) for p in wanted)
        if not wanted or len(set(wanted)) < len(wanted) or not 1 <= wanted[0] <= wanted[-1] <= N_PARTICIPANTS:
            raise ValueError(f"participants must be distinct ids in 1-{N_PARTICIPANTS} (None: all), got {wanted}")
    paths = [(pid, participant_path(folder, pid)) for pid in wanted]
    # a folder, a FIFO, a device or a dangling link named sNN.dat is a broken copy, not a missing participant
    if broken := [(p, _kind(p)) for _, p in paths if (p.exists() or p.is_symlink()) and not p.is_file()]:
        raise FileNotFoundError(f"DEAP folder {folder}: " + "; ".join(
            f"{p.name} is not a readable file ({kind}, expected a regular file)" for p, kind in broken))
    present = [(pid, p) for pid, p in paths if p.is_file()]
    missing = [p.name for _, p in paths if not p.is_file()]
    if participants is not None and missing:
        raise FileNotFoundError(f"DEAP folder {folder} lacks the requested file(s): {', '.join(missing)}")
    if not present:
        nested = folder / "data_preprocessed_python"
        raise FileNotFoundError(f"DEAP folder {folder} holds none of s01.dat ... s32.dat"
                                + (f"; did you mean {nested}?" if nested.is_dir() else ""))
    if missing:
        warnings.warn(f"DEAP folder {folder} lacks {len(missing)} of {N_PARTICIPANTS} participant files "
                      f"({', '.join(missing)}); using the {len(present)} present", stacklevel=2)
    return present


def _py2_str(raw: bytes | memoryview) -> list[bytes | memoryview]:
    """Pickle opcodes for a Python 2 ``str`` (Python 3 reads it back with ``encoding='latin1'``)."""
    if len(raw) < 256:
        return [pickle.SHORT_BINSTRING + bytes([len(raw)]), raw]
    if len(raw) >= 2**31:
        raise ValueError(f"a Python 2 string holds less than 2 GiB, got {len(raw)} bytes")
    return [pickle.BINSTRING + struct.pack("<i", len(raw)), raw]


def _py2_int(value: int) -> bytes:
    return (pickle.BININT1 + bytes([value]) if 0 <= value < 256 else pickle.BININT2 + struct.pack("<H", value)
            if 0 <= value < 65536 else pickle.BININT + struct.pack("<i", value))


def _py2_array(a: np.ndarray) -> list[bytes | memoryview]:
    """Opcodes that rebuild ``a`` (C-contiguous, little-endian float) as numpy 1.x on Python 2 pickled it.

    ``numpy.core.multiarray._reconstruct(numpy.ndarray, (0,), 'b')`` then ``__setstate__((1, shape, dtype,
    is_fortran, raw bytes))``, the dtype as ``numpy.dtype('f8', 0, 1)`` and its state.
    """
    return [
        pickle.GLOBAL + b"numpy.core.multiarray\n_reconstruct\n", pickle.GLOBAL + b"numpy\nndarray\n",
        _py2_int(0), pickle.TUPLE1, *_py2_str(b"b"), pickle.TUPLE3, pickle.REDUCE,
        pickle.MARK, _py2_int(1), pickle.MARK, *(_py2_int(s) for s in a.shape), pickle.TUPLE,
        pickle.GLOBAL + b"numpy\ndtype\n", *_py2_str(f"f{a.dtype.itemsize}".encode("ascii")), _py2_int(0), _py2_int(1),
        pickle.TUPLE3, pickle.REDUCE,
        pickle.MARK, _py2_int(3), *_py2_str(b"<"), pickle.NONE, pickle.NONE, pickle.NONE,
        _py2_int(-1), _py2_int(-1), _py2_int(0), pickle.TUPLE, pickle.BUILD,
        pickle.NEWFALSE, *_py2_str(memoryview(a.reshape(-1).view(np.uint8))), pickle.TUPLE, pickle.BUILD,
    ]  # fmt: skip


def write_participant(path: str | os.PathLike, data: np.ndarray, labels: np.ndarray) -> Path:
    """Write a participant file in DEAP's exact format, atomically; return ``path``.

    The protocol-2 pickle Python 2 with numpy 1.x writes for ``{'data': data, 'labels': labels}`` (strings and
    array bytes as Python 2 ``str``, arrays through ``numpy.core.multiarray._reconstruct``): it loads like the
    real files, with Python 3's unpickler and ``encoding="latin1"`` (or :func:`read_participant`) and in Python 2.
    Written to a temporary file in the same folder, then renamed over ``path`` (parent folders created).
    ``data`` (40, 40, 8064) and ``labels`` (40, 4) are float32 or float64 (kept); DEAPFormatError, nothing
    written, if they would not pass :func:`read_participant`'s checks.
    """
    path = Path(path)
    data, labels = _check_arrays(path, data, labels)
    ops: list[bytes | memoryview] = [pickle.PROTO + bytes([2]), pickle.EMPTY_DICT, pickle.MARK]
    for key, value in (("data", data), ("labels", labels)):
        little = np.ascontiguousarray(value, dtype=value.dtype.newbyteorder("<"))
        ops += [*_py2_str(key.encode("ascii")), *_py2_array(little)]
    ops += [pickle.SETITEMS, pickle.STOP]
    atomic_write_bytes(path, lambda f: [f.write(op) for op in ops])
    return path
