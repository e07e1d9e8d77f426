"""Read (and, for synthetic twins, write) DEAP's ``data_preprocessed_python`` files.

DEAP's preprocessed Python release holds one file per participant, ``s01.dat`` ... ``s32.dat``.
Each is a Python 2 pickle of a dict with two arrays:

- ``data``: shape (40 trials, 40 channels, 8064 samples), 128 Hz, 63 s per trial (3 s pre-trial
  baseline, then 60 s). Channels 0-31 are EEG in DEAP's Geneva order (:data:`EEG_CHANNELS`),
  channels 32-39 peripheral signals (:data:`PERIPHERAL_CHANNELS`).
- ``labels``: shape (40 trials, 4): valence, arousal, dominance, liking, each rated 1-9.

A pickle can run arbitrary code while it loads, so the files are never unpickled: their opcode stream
is interpreted as data by :func:`deap_lib.data.pickle_reader.load_arrays`, which recognises numpy's array
reconstruction and nothing else; anything else raises :class:`DEAPFormatError`, and no code of the
file ever runs. DEAP is licensed per user: the folder is never assumed; it is given as an argument
or through the ``DEAP_DIR`` environment variable (:func:`resolve_deap_dir`).
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
from deap_lib.store import atomic_write_bytes

__all__ = [
    "BASELINE_S",
    "CHANNEL_NAMES",
    "DEAPFormatError",
    "DATA_SHAPE",
    "DEAP_DIR_ENV",
    "EEG_CHANNELS",
    "LABELS_SHAPE",
    "MAX_FILE_BYTES",
    "N_CHANNELS",
    "N_EEG",
    "N_PARTICIPANTS",
    "N_SAMPLES",
    "N_TRIALS",
    "PERIPHERAL_CHANNELS",
    "RATING_NAMES",
    "RATING_RANGE",
    "SFREQ",
    "find_participants",
    "participant_path",
    "read_participant",
    "resolve_deap_dir",
    "write_participant",
]

N_PARTICIPANTS = 32
N_TRIALS = 40
N_CHANNELS = 40
N_EEG = 32
N_SAMPLES = 8064
SFREQ = 128
BASELINE_S = 3

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


class DEAPFormatError(ValueError):
    """A file is not a valid DEAP ``data_preprocessed_python`` participant file.

    The message names the file and what was expected versus found.
    """


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------

def _fail(path: Path, what: str) -> DEAPFormatError:
    return DEAPFormatError(f"{path}: {what}")


#: Where the samples of a file are placed in memory: a multiple of this address (a cache line),
#: so that numpy can use them in place for any dtype.
_ALIGN = 64
#: Bytes read first to find where the samples start (a DEAP file's header is about 200 bytes).
_HEAD = 4096
#: The largest participant file read: twice a float64 file's samples and ratings (a real DEAP
#: file, Python 2 pickle of float64, is 103,222,000 bytes or so; a Python 3 protocol-2 pickle
#: stores each byte >= 0x80 in two, so at most twice that), plus 1 MiB for the pickle's framing.
#: Anything larger is refused before a byte is read.
MAX_FILE_BYTES = 2 * 8 * (N_TRIALS * N_CHANNELS * N_SAMPLES + N_TRIALS * len(RATING_NAMES)) + 2**20


def _read_aligned(f, size: int) -> np.ndarray:
    """The file (``size`` bytes at open) as a uint8 array, placed so that its first long array starts aligned.

    One ``readinto`` into one preallocated buffer: no intermediate ``bytes``, and the arrays
    :func:`deap_lib.data.pickle_reader.load_arrays` builds with ``copy=False`` are views of it. Read,
    not memory-mapped: a mapped file truncated by another process would kill this one (SIGBUS),
    and mapping measured slower than reading here. A file that grew since it was opened is read
    to its end, but never past :data:`MAX_FILE_BYTES`.
    """
    from deap_lib.data.pickle_reader import array_data_offset

    head = f.read(min(size, _HEAD)) if size else b""
    start = array_data_offset(head)
    buf = np.empty(size + _ALIGN, dtype=np.uint8)  # numpy's allocator: huge pages where it can
    shift = 0 if start is None else -(buf.ctypes.data + start) % _ALIGN
    view = memoryview(buf)[shift : shift + size]
    view[: len(head)] = head
    got = len(head)
    while got < size:
        k = f.readinto(view[got:])
        if not k:  # the file shrank since fstat: what was read is parsed (and found truncated)
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
    """Read the pickle at ``path`` as data with :func:`deap_lib.data.pickle_reader.load_arrays`.

    Nothing of the file is executed: the opcode stream is interpreted, numpy's array
    reconstruction is recognised as data, and anything else raises :class:`DEAPFormatError`.
    Only a regular file of at most :data:`MAX_FILE_BYTES` is read (checked on the open file,
    before reading: a FIFO, a device or a huge sparse file is refused unread). The file is read
    once into one buffer; arrays stored as numpy wants them (native byte order, C order) are
    views of it, so a DEAP file's samples are never copied.
    """
    from deap_lib.data.pickle_reader import load_arrays  # here: pickle_reader imports DEAPFormatError from io

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


def _has_nonfinite(data: np.ndarray) -> bool:
    """Whether ``data`` holds a NaN or inf, one trial at a time (no full-size temporary)."""
    return any(not np.isfinite(trial).all() for trial in data)


def _check_arrays(path: Path, data: object, labels: object) -> tuple[np.ndarray, np.ndarray]:
    """Validate ``data`` and ``labels`` against DEAP's format; return them in native byte order.

    Shared by the reader and the writer so both accept exactly the same content. Arrays already in
    native byte order are returned as they are (not copied).
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

    if _has_nonfinite(data):  # only then the full mask, to count and locate them
        bad = ~np.isfinite(data)
        trial, channel, sample = (int(i) for i in np.argwhere(bad)[0])
        raise _fail(
            path,
            f"'data' has {int(bad.sum())} non-finite samples (NaN or inf), expected none; the first is "
            f"data[{trial}, {channel}, {sample}] = {data[trial, channel, sample]} "
            f"(trial {trial}, channel {channel} {CHANNEL_NAMES[channel]}, sample {sample}; 0-based)",
        )
    low, high = RATING_RANGE
    with np.errstate(invalid="ignore"):
        bad = ~((labels >= low) & (labels <= high))  # NaN fails both comparisons, so it is caught too
    if bad.any():
        trial, column = (int(i) for i in np.argwhere(bad)[0])
        raise _fail(
            path,
            f"'labels' has {int(bad.sum())} ratings outside {low:g}-{high:g}; the first is "
            f"{RATING_NAMES[column]} = {labels[trial, column]} at labels[{trial}, {column}] (trial {trial}, 0-based)",
        )
    return data, labels


def read_participant(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read and validate one DEAP participant file (``sNN.dat``).

    Parameters
    ----------
    path : str or path-like
        A file of DEAP's ``data_preprocessed_python`` release, e.g. ``.../s01.dat``.

    Returns
    -------
    data : ndarray, shape (40, 40, 8064)
        ``(n_trials, n_channels, n_samples)`` in the stored float dtype (float64 in the real release;
        float32 is accepted), native byte order, C order, writable. Channels are
        :data:`CHANNEL_NAMES`: 32 EEG channels then 8 peripheral ones; samples at :data:`SFREQ` Hz,
        the first :data:`BASELINE_S` s are the pre-trial baseline. For a file stored as numpy
        wants it (DEAP's are) this is a view of the one buffer the file was read into: the samples
        are not copied, and the buffer (the file's size) lives as long as the array.
    labels : ndarray, shape (40, 4)
        ``(n_trials, n_ratings)``: the :data:`RATING_NAMES` ratings, each in 1-9.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    DEAPFormatError
        If ``path`` is not a regular file (a directory, a FIFO, a device), is larger than
        :data:`MAX_FILE_BYTES` (refused unread) or unreadable, not a pickle or truncated, asks for any global a
        dict of arrays does not need (no code from the file is run), is not a dict with ndarrays
        ``'data'`` and ``'labels'`` of the shapes above and a float dtype, has non-finite samples,
        or has ratings outside 1-9. The message names the file and what was wrong.
    """
    path = Path(path)
    obj = _unpickle(path)
    if not isinstance(obj, dict):
        raise _fail(path, f"holds a {type(obj).__name__}, expected a dict with keys 'data' and 'labels'")
    missing = [key for key in ("data", "labels") if key not in obj]
    if missing:
        found = ", ".join(repr(k) for k in obj) or "none"
        raise _fail(path, f"lacks key(s) {', '.join(map(repr, missing))}; expected 'data' and 'labels', found {found}")
    for key, value in obj.items():
        if isinstance(value, np.ndarray) and value.dtype.hasobject:
            raise _fail(path, f"{key!r} is an array of Python objects (dtype {value.dtype}), expected float32 or float64")
    data, labels = _check_arrays(path, obj["data"], obj["labels"])
    return data, labels.copy()  # a few bytes: never keep the file's buffer alive through the labels


# --------------------------------------------------------------------------------------------
# Finding the files
# --------------------------------------------------------------------------------------------


def participant_path(root: str | os.PathLike, pid: int) -> Path:
    """Return the path of participant ``pid``'s file: ``root / "sNN.dat"`` (``s01.dat`` for 1)."""
    return Path(root) / f"s{pid:02d}.dat"


def resolve_deap_dir(root: str | os.PathLike | None = None, *, required: bool = True) -> Path | None:
    """The folder holding DEAP's ``s01.dat`` ... ``s32.dat``: ``root``, else ``$DEAP_DIR``; None with
    ``required=False`` when neither names one (errors: :func:`deap_lib.data.folders.resolve_folder`)."""
    return resolve_folder(root, env=DEAP_DIR_ENV, dataset="DEAP", required=required,
                          holding="s01.dat ... s32.dat (DEAP's data_preprocessed_python)")


def _check_participants(participants: Iterable[int]) -> list[int]:
    if isinstance(participants, (str, bytes)) or not isinstance(participants, Iterable):
        raise TypeError(f"participants must be a list of ints 1-{N_PARTICIPANTS}, got {participants!r}")
    pids = []
    for p in participants:
        if isinstance(p, bool) or not isinstance(p, (int, np.integer)):
            raise TypeError(f"participant ids must be ints 1-{N_PARTICIPANTS}, got {p!r}")
        pids.append(int(p))
    if not pids:
        raise ValueError("participants is empty; pass None for all of s01 ... s32")
    bad = [p for p in pids if not 1 <= p <= N_PARTICIPANTS]
    if bad:
        raise ValueError(f"participant ids must be in 1-{N_PARTICIPANTS}, got {bad}")
    duplicated = sorted({p for p in pids if pids.count(p) > 1})
    if duplicated:
        raise ValueError(f"participant ids given more than once: {duplicated}")
    return sorted(pids)


def _kind(path: Path) -> str:
    """What ``path`` is, in words, following links: "a directory", "a FIFO", "a dangling link" ..."""
    try:
        return file_kind(path.stat().st_mode)
    except FileNotFoundError:
        return "a dangling link"
    except OSError as exc:  # a link loop, a folder that cannot be searched
        return f"cannot be examined: {exc.strerror or exc}"


def find_participants(
    root: str | os.PathLike | None, participants: Iterable[int] | None = None
) -> list[tuple[int, Path]]:
    """List the participant files of a DEAP folder.

    Parameters
    ----------
    root : str or path-like or None
        The DEAP folder; None means the ``DEAP_DIR`` environment variable (:func:`resolve_deap_dir`).
    participants : iterable of int, optional
        Participant ids in 1-32. If None, all of ``s01.dat`` ... ``s32.dat`` that are present are
        returned and a warning names the missing ones. If given, every file must exist.

    Returns
    -------
    list of (int, Path)
        ``(participant id, file path)`` pairs sorted by id.

    Raises
    ------
    FileNotFoundError
        If the folder does not exist, if ``participants`` is None and no file is present, or if
        ``participants`` names files that are missing (all are listed), or if an ``sNN.dat`` is
        there but not a regular file (each is named with what it is: a directory, a FIFO, a
        character device, a dangling link).
    ValueError, TypeError
        If ``participants`` holds ids outside 1-32, duplicates, or non-integers.
    """
    folder = resolve_deap_dir(root)
    wanted = list(range(1, N_PARTICIPANTS + 1)) if participants is None else _check_participants(participants)
    paths = [(pid, participant_path(folder, pid)) for pid in wanted]
    # a folder, a FIFO, a device or a dangling link named sNN.dat is a broken copy, not a missing participant
    broken = [(p, _kind(p)) for _, p in paths if (p.exists() or p.is_symlink()) and not p.is_file()]
    if broken:
        raise FileNotFoundError(
            f"DEAP folder {folder}: "
            + "; ".join(f"{p.name} is not a readable file ({kind}, expected a regular file)" for p, kind in broken)
        )
    present = [(pid, p) for pid, p in paths if p.is_file()]
    missing = [p.name for _, p in paths if not p.is_file()]
    if participants is not None and missing:
        raise FileNotFoundError(f"DEAP folder {folder} lacks the requested file(s): {', '.join(missing)}")
    if not present:
        hint = ""
        if (folder / "data_preprocessed_python").is_dir():
            hint = f"; did you mean {folder / 'data_preprocessed_python'}?"
        raise FileNotFoundError(f"DEAP folder {folder} holds none of s01.dat ... s32.dat{hint}")
    if missing:
        warnings.warn(
            f"DEAP folder {folder} lacks {len(missing)} of {N_PARTICIPANTS} participant files "
            f"({', '.join(missing)}); using the {len(present)} present",
            stacklevel=2,
        )
    return present


# --------------------------------------------------------------------------------------------
# Writing (for synthetic twins and tests)
# --------------------------------------------------------------------------------------------


def _py2_str(raw: bytes | memoryview) -> list[bytes | memoryview]:
    """Pickle opcodes for a Python 2 ``str`` (Python 3 reads it back with ``encoding='latin1'``)."""
    n = len(raw)
    if n < 256:
        return [pickle.SHORT_BINSTRING + bytes([n]), raw]
    if n >= 2**31:
        raise ValueError(f"a Python 2 string holds less than 2 GiB, got {n} bytes")
    return [pickle.BINSTRING + struct.pack("<i", n), raw]


def _py2_int(value: int) -> bytes:
    if 0 <= value < 256:
        return pickle.BININT1 + bytes([value])
    if 0 <= value < 65536:
        return pickle.BININT2 + struct.pack("<H", value)
    return pickle.BININT + struct.pack("<i", value)


def _py2_array(a: np.ndarray) -> list[bytes | memoryview]:
    """Opcodes that rebuild ``a`` (C-contiguous, little-endian float) as numpy 1.x on Python 2 pickled it.

    ``numpy.core.multiarray._reconstruct(numpy.ndarray, (0,), 'b')`` then ``__setstate__((1, shape,
    dtype, is_fortran, raw bytes))``, with the dtype as ``numpy.dtype('f8', 0, 1)`` and its state.
    """
    descr = f"f{a.dtype.itemsize}".encode("ascii")
    ops: list[bytes | memoryview] = [
        pickle.GLOBAL + b"numpy.core.multiarray\n_reconstruct\n",
        pickle.GLOBAL + b"numpy\nndarray\n",
        _py2_int(0), pickle.TUPLE1,
        *_py2_str(b"b"), pickle.TUPLE3,
        pickle.REDUCE,
        pickle.MARK, _py2_int(1),
        pickle.MARK, *(_py2_int(s) for s in a.shape), pickle.TUPLE,
        pickle.GLOBAL + b"numpy\ndtype\n", *_py2_str(descr), _py2_int(0), _py2_int(1), pickle.TUPLE3, pickle.REDUCE,
        pickle.MARK, _py2_int(3), *_py2_str(b"<"), pickle.NONE, pickle.NONE, pickle.NONE,
        _py2_int(-1), _py2_int(-1), _py2_int(0), pickle.TUPLE, pickle.BUILD,
        pickle.NEWFALSE,
        *_py2_str(memoryview(a.reshape(-1).view(np.uint8))),
        pickle.TUPLE, pickle.BUILD,
    ]  # fmt: skip
    return ops


def write_participant(path: str | os.PathLike, data: np.ndarray, labels: np.ndarray) -> Path:
    """Write a participant file in DEAP's exact format, atomically.

    The file is the protocol-2 pickle Python 2 with numpy 1.x writes for ``{'data': data, 'labels':
    labels}``: strings and array bytes are Python 2 ``str``, arrays rebuilt through
    ``numpy.core.multiarray._reconstruct``. So it loads like the real files, with
    Python 3's unpickler with ``encoding="latin1"`` (or :func:`read_participant`), and in Python 2. It is
    written to a temporary file in the same folder, then renamed over ``path``, so a reader never
    sees half a file. Missing parent folders are created.

    Parameters
    ----------
    path : str or path-like
        Destination, normally ``participant_path(root, pid)``.
    data : ndarray, shape (40, 40, 8064)
        ``(n_trials, n_channels, n_samples)``, float32 or float64 (kept), all finite.
    labels : ndarray, shape (40, 4)
        ``(n_trials, n_ratings)``, float32 or float64 (kept), each in 1-9.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    DEAPFormatError
        If ``data`` or ``labels`` would not pass :func:`read_participant`'s checks; nothing is written.
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
