"""Read (and, for synthetic twins, write) MAHNOB-HCI's emotion-elicitation sessions.

MAHNOB-HCI is licensed per user: the folder is never assumed; it is given as an argument or
through the ``MAHNOB_DIR`` environment variable (:func:`resolve_mahnob_dir`). It holds one folder
per session, ``Sessions/<id>/`` (``<id>`` an integer), with

- ``session.xml``: a root element ``session`` whose attributes hold the felt ratings
  (``feltVlnc``, ``feltArsl``, ``feltCtrl``, ``feltPred``, integers 1-9, and ``feltEmo``) among
  others, and a child ``<subject id="<p>" .../>`` naming the subject;
- ``Part_<p>_S_Trial<t>_emotion.bdf``: the recording, a Biosemi ActiveTwo BDF at 256 Hz with the
  32 EEG channels of DEAP's 10-20 set (:data:`EEG_CHANNELS`), EXG1-EXG8, GSR1, GSR2, Erg1, Erg2,
  Resp, Temp and ``Status`` (:data:`CHANNEL_NAMES`).

The report's processing (:func:`read_eeg`): the 32 EEG channels only, the middle
:data:`N_USED` = 2 x 8064 samples of the recording, in microvolts, average referenced over the 32
EEG channels. :func:`scan_sessions` lists the usable sessions and says why each other one is left
out (one log line each on the ``deap_lib.data.mahnob`` logger, at INFO, and a summary).

The recordings are read with MNE (``mne.io.read_raw_bdf``, header only, then just the EEG channels'
middle samples) and ``session.xml`` with :mod:`defusedxml.ElementTree` (``forbid_dtd=True``: any
DOCTYPE, hence any entity, is refused whatever the file's encoding). Every file is bounded before
it is read: only a regular file is opened (never a FIFO or a device, and without blocking:
:func:`deap_lib.data.folders.open_regular`), a ``session.xml`` of at most :data:`MAX_XML_BYTES`
(1 MiB; MAHNOB-HCI's are under 1 kB), a BDF of at most :data:`MAX_BDF_BYTES` whose header is
checked field by field first: 1-:data:`MAX_SIGNALS` signals, a positive number of records of
positive duration up to :data:`MAX_RECORD_SECONDS`, positive samples per record summing to at most
:data:`MAX_RECORD_BYTES` per record (so reading the middle samples reads a few MB at most),
non-degenerate digital and physical ranges, the EEG channels at 256 Hz, and the file as long as
the header says.
"""

from __future__ import annotations

import logging
import os
import re
import math
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from deap_lib.data import deap_format
from deap_lib.data.folders import NotABoundedFile, open_regular, read_regular, resolve_folder

__all__ = [
    "CHANNEL_NAMES",
    "EEG_CHANNELS",
    "MAHNOBFormatError",
    "MAHNOB_DIR_ENV",
    "MAX_BDF_BYTES",
    "MAX_RECORD_BYTES",
    "MAX_RECORD_SECONDS",
    "MAX_SIGNALS",
    "MAX_XML_BYTES",
    "N_EEG",
    "N_SUBJECTS",
    "N_USED",
    "RATING_ATTRIBUTES",
    "RATING_RANGE",
    "SFREQ",
    "SKIP_KINDS",
    "Scan",
    "Session",
    "Skipped",
    "read_eeg",
    "read_session_xml",
    "recording_name",
    "resolve_mahnob_dir",
    "scan_sessions",
    "write_recording",
]

SFREQ = 256
#: Samples used from the middle of each recording: 2 x DEAP's 8064 (63 s at 256 Hz).
N_USED = 2 * deap_format.N_SAMPLES
N_SUBJECTS = 30
EEG_CHANNELS = deap_format.EEG_CHANNELS
N_EEG = len(EEG_CHANNELS)  # 32
EXG_CHANNELS = tuple(f"EXG{i}" for i in range(1, 9))
OTHER_CHANNELS = ("GSR1", "GSR2", "Erg1", "Erg2", "Resp", "Temp")
STATUS_CHANNEL = "Status"
CHANNEL_NAMES = EEG_CHANNELS + EXG_CHANNELS + OTHER_CHANNELS + (STATUS_CHANNEL,)  # 47, Biosemi's order
#: The ratings read, in :class:`deap_lib.data.dataset.Prepared`'s column order: valence, arousal
#: (the targets), then control (dominance) and predictability.
RATING_ATTRIBUTES = ("feltVlnc", "feltArsl", "feltCtrl", "feltPred")
RATING_RANGE = (1, 9)
MAHNOB_DIR_ENV = "MAHNOB_DIR"
SESSIONS_DIR = "Sessions"
XML_NAME = "session.xml"
#: Biosemi's ranges: 24-bit samples, 1/32 uV each.
PHYSICAL_RANGE = (-262144.0, 262143.0)
DIGITAL_RANGE = (-8388608, 8388607)
#: The largest ``session.xml`` read (MAHNOB-HCI's are under 1 kB); larger ones are refused unread.
MAX_XML_BYTES = 2**20
#: The largest recording opened: about 200 times a MAHNOB-HCI session (47 channels at 256 Hz, 24
#: bits, a few minutes: 5 MB or so). Only the middle samples are read, so this bounds no memory.
MAX_BDF_BYTES = 2**30
#: Signals a BDF header may declare (MAHNOB-HCI's have 47).
MAX_SIGNALS = 256
#: The longest data record accepted (Biosemi writes 1 s records).
MAX_RECORD_SECONDS = 60
#: The largest data record accepted: 47 channels x 256 Hz x 3 bytes x 60 s is 2.2 MB. MNE reads
#: whole records, so this bounds what reading the middle 16128 samples costs.
MAX_RECORD_BYTES = 4 * 2**20
#: Why a session is left out, in the order the checks run (the first failing check names it).
SKIP_KINDS = (
    "no session.xml",
    "malformed session.xml",
    "no ratings",
    "ratings out of range",
    "no recording",
    "several recordings",
    "unreadable recording",
    "missing EEG channels",
    "wrong sampling rate",
    "too short",
)
_BDF_PATTERN = re.compile(r"Part_(\d+)_S_Trial(\d+)_emotion\.bdf")

log = logging.getLogger("deap_lib.data.mahnob")


class MAHNOBFormatError(ValueError):
    """A MAHNOB-HCI folder, session or file is not usable.

    The message names the folder or file and what was expected. :attr:`kind` is one of
    :data:`SKIP_KINDS` when the error is about one session, else None.
    """

    def __init__(self, message: str, kind: str | None = None, subject: int | None = None):
        super().__init__(message)
        self.kind = kind
        self.subject = subject  # the session's subject, when its session.xml told it


@dataclass(frozen=True)
class Session:
    """One usable session: ``Sessions/<session_id>/`` of subject ``subject``."""

    session_id: int
    subject: int
    trial: int  # <t> of the recording's name Part_<p>_S_Trial<t>_emotion.bdf
    path: Path  # the BDF recording
    xml: Path
    ratings: tuple[float, float, float, float]  # RATING_ATTRIBUTES, each in 1-9


@dataclass(frozen=True)
class Skipped:
    """One session left out: its folder, its subject when known, and why (one of :data:`SKIP_KINDS`)."""

    session_id: int
    folder: Path
    subject: int | None
    kind: str
    reason: str


@dataclass(frozen=True)
class Scan:
    """What :func:`scan_sessions` found: usable sessions by subject then session id; skipped ones by id."""

    root: Path
    sessions: tuple[Session, ...]
    skipped: tuple[Skipped, ...]

    def counts(self) -> dict[str, int]:
        """``{kind: number of sessions skipped for it}``, most frequent first."""
        return skip_counts(s.kind for s in self.skipped)

    def summary(self) -> str:
        """One line, e.g. ``"546 usable sessions of 29 subjects, 54 skipped: 23 no recording, ..."``."""
        return skip_summary(len(self.sessions), len({s.subject for s in self.sessions}), self.counts())


def skip_counts(kinds) -> dict[str, int]:
    """Count skip kinds, most frequent first (ties in :data:`SKIP_KINDS` order)."""
    counts = Counter(kinds)
    order = {k: i for i, k in enumerate(SKIP_KINDS)}
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], order.get(kv[0], len(order)), kv[0])))


def skip_summary(n_usable: int, n_subjects: int, counts: dict[str, int]) -> str:
    """The one-line summary of :meth:`Scan.summary` from its numbers."""
    head = f"{n_usable} usable session{'s' if n_usable != 1 else ''} of {n_subjects} subject{'s' if n_subjects != 1 else ''}"
    n_skipped = sum(counts.values())
    if not n_skipped:
        return f"{head}, none skipped"
    return f"{head}, {n_skipped} skipped: " + ", ".join(f"{n} {kind}" for kind, n in counts.items())


# --------------------------------------------------------------------------------------------
# Finding the folder
# --------------------------------------------------------------------------------------------


def resolve_mahnob_dir(root: str | os.PathLike | None = None, *, required: bool = True) -> Path | None:
    """The folder holding MAHNOB-HCI's ``Sessions/<id>/``: ``root``, else ``$MAHNOB_DIR``; None with
    ``required=False`` when neither names one (errors: :func:`deap_lib.data.folders.resolve_folder`)."""
    return resolve_folder(root, env=MAHNOB_DIR_ENV, dataset="MAHNOB-HCI", holding="Sessions/<id>/", required=required)


def _session_folders(root: Path) -> list[tuple[int, Path]]:
    """``(session id, folder)`` of every integer-named folder of ``root/Sessions`` (or ``root``)."""
    folder = root / SESSIONS_DIR if (root / SESSIONS_DIR).is_dir() else root
    found = [(int(p.name), p) for p in folder.iterdir() if p.name.isdigit() and p.is_dir()]
    return sorted(found)


def recording_name(subject: int, trial: int) -> str:
    """The file name of a session's recording: ``Part_<subject>_S_Trial<trial>_emotion.bdf``."""
    return f"Part_{subject}_S_Trial{trial}_emotion.bdf"


# --------------------------------------------------------------------------------------------
# session.xml
# --------------------------------------------------------------------------------------------


def read_session_xml(path: str | os.PathLike) -> tuple[int, dict[str, str]]:
    """Read a ``session.xml``: its subject id and the root element's attributes.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    subject : int
        The ``id`` of the ``<subject>`` child.
    attributes : dict of str
        The ``<session>`` element's attributes as written (``feltVlnc``, ``sessionId`` ...).

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    MAHNOBFormatError
        (kind ``"malformed session.xml"``) If it is not a regular file (a FIFO, a device), is
        larger than :data:`MAX_XML_BYTES` or cannot be read, declares a DOCTYPE (refused with
        defusedxml, whatever the encoding, so no entity is ever expanded), cannot be decoded or is
        not well-formed XML, its root is not ``session``, or it has no ``<subject id="...">`` with
        an integer id.
    """
    import defusedxml.ElementTree as DET  # here: only MAHNOB users need it
    from defusedxml import DefusedXmlException

    path = Path(path)

    def fail(what: str) -> MAHNOBFormatError:
        return MAHNOBFormatError(f"{path}: {what}", "malformed session.xml")

    try:
        raw = read_regular(path, MAX_XML_BYTES)
    except FileNotFoundError:
        raise
    except NotABoundedFile as err:
        raise fail(f"{err}; expected a session.xml, a regular file of at most {MAX_XML_BYTES} bytes") from None
    except OSError as err:
        raise fail(f"cannot be read ({type(err).__name__}: {err.strerror or err})") from None

    try:
        root = DET.fromstring(raw, forbid_dtd=True)
    except DefusedXmlException:
        raise fail("declares <!DOCTYPE (refused: expected a plain <session> element without DTD or entities)") from None
    except ET.ParseError as err:
        raise fail(f"is not well-formed XML ({err}); expected a <session> element") from None
    except (ValueError, LookupError) as err:  # an encoding expat cannot decode, or one it does not know
        raise fail(f"cannot be decoded ({type(err).__name__}: {err}); expected a <session> element") from None
    if root.tag != "session":
        raise fail(f"root element is <{root.tag}>, expected <session>")
    subject = root.find("subject")
    sid = None if subject is None else subject.get("id", "").strip()
    if not sid or not re.fullmatch(r"[0-9]{1,9}", sid):
        raise fail(f"has no <subject id=\"...\"> with an integer id (found {sid!r})")
    return int(sid), dict(root.attrib)


def _ratings(path: Path, attributes: dict[str, str]) -> tuple[float, ...]:
    """The :data:`RATING_ATTRIBUTES` of a session as numbers in 1-9, or :class:`MAHNOBFormatError`."""
    absent = [name for name in RATING_ATTRIBUTES if not attributes.get(name, "").strip()]
    if absent:
        raise MAHNOBFormatError(f"{path}: no {', '.join(absent)} attribute(s), expected ratings 1-9", "no ratings")
    low, high = RATING_RANGE
    values = []
    for name in RATING_ATTRIBUTES:
        text = attributes[name].strip()
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not low <= value <= high:  # NaN fails too
            raise MAHNOBFormatError(f"{path}: {name}={text!r}, expected a rating {low}-{high}", "ratings out of range")
        values.append(value)
    return tuple(values)


# --------------------------------------------------------------------------------------------
# The BDF recording
# --------------------------------------------------------------------------------------------


_INTEGER = re.compile(rb" *[+-]?[0-9]+ *")
_DECIMAL = re.compile(rb" *[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)? *")


def _number(field: bytes, kind: type, name: str):
    """The ``int`` or ``float`` a header field writes in plain ASCII digits (ValueError otherwise:
    no "nan", "1_0" or non-ASCII digits, which Python would read and another reader might not)."""
    if not (_INTEGER if kind is int else _DECIMAL).fullmatch(field):
        raise ValueError(f"{name} {field.decode('latin-1')!r} is not {'an integer' if kind is int else 'a number'}")
    return kind(field.decode("ascii"))


def _numbers(fields: bytes, n: int, width: int, kind: type, name: str) -> list:
    """``n`` numbers of ``kind`` from ``fields``, ``width`` characters each (ValueError if one is not)."""
    return [_number(fields[width * i : width * (i + 1)], kind, f"signal {i + 1}'s {name}") for i in range(n)]


class _Header(NamedTuple):
    """What :func:`_check_header` read: per signal (in the file's order) and the record duration."""

    per_record: list[int]  # samples per data record
    units: list[str]  # physical dimension ("uV")
    duration: float  # seconds per data record
    n_records: int


def _check_header(path: Path) -> _Header:
    """Check a BDF's header against what a MAHNOB-HCI recording can hold, before MNE reads it.

    Returns the signals' samples per record and units, and the record duration. MNE and
    edfio both read a truncated recording as a shorter one (its last records missing), which
    would shift "the middle samples", and read a header with degenerate or negative fields into
    wrong samples or huge reads: only the header's own numbers, checked here, tell.
    """

    def fail(what: str) -> MAHNOBFormatError:
        return MAHNOBFormatError(f"{path}: {what}", "unreadable recording")

    try:
        f, size = open_regular(path, MAX_BDF_BYTES)
    except NotABoundedFile as err:
        raise fail(f"{err}; expected a BDF recording, a regular file of at most {MAX_BDF_BYTES} bytes") from None
    except OSError as err:
        raise fail(f"cannot be opened ({type(err).__name__}: {err.strerror or err})") from None
    try:
        with f:
            head = f.read(256)
            header_bytes, n_records, n_signals = (_number(head[i : i + n], int, name) for i, n, name in
                                                  ((184, 8, "header size"), (236, 8, "number of records"),
                                                   (252, 4, "number of signals")))
            duration = _number(head[244:252], float, "record duration")
            fields = f.read(256 * n_signals) if 1 <= n_signals <= MAX_SIGNALS else b""
    except ValueError as err:  # a field that is no number, or a file cut inside its header
        raise fail(f"has no valid BDF header ({err}; expected a Biosemi 24-bit BDF file)") from None
    except OSError as err:
        raise fail(f"cannot be read ({type(err).__name__}: {err.strerror or err})") from None
    if not 1 <= n_signals <= MAX_SIGNALS:
        raise fail(f"declares {n_signals} signals, expected 1-{MAX_SIGNALS}")
    if len(fields) < 256 * n_signals:
        raise fail(f"is truncated inside its header ({size} bytes, the header declares {n_signals} signals)")
    try:
        labels, units = ([fields[k * n_signals + w * i : k * n_signals + w * (i + 1)].decode("latin-1").strip()
                          for i in range(n_signals)] for k, w in ((0, 16), (96, 8)))
        p_min, p_max = (_numbers(fields[k * n_signals :], n_signals, 8, float, name)
                        for k, name in ((104, "physical minimum"), (112, "physical maximum")))
        d_min, d_max = (_numbers(fields[k * n_signals :], n_signals, 8, int, name)
                        for k, name in ((120, "digital minimum"), (128, "digital maximum")))
        per_record = _numbers(fields[216 * n_signals :], n_signals, 8, int, "samples per record")
    except ValueError as err:
        raise fail(f"has no valid BDF header ({err}; expected a Biosemi 24-bit BDF file)") from None

    if header_bytes != 256 * (n_signals + 1):
        raise fail(f"declares a {header_bytes}-byte header, expected 256 x (1 + {n_signals} signals)")
    if n_records < 1:
        raise fail(f"declares {n_records} data records, expected a positive number")
    if not 0 < duration <= MAX_RECORD_SECONDS:
        raise fail(f"declares records of {duration:g} s, expected more than 0 and at most {MAX_RECORD_SECONDS} s")
    bad = next((i for i, n in enumerate(per_record) if n < 1), None)
    if bad is not None:
        raise fail(f"signal {labels[bad]!r} declares {per_record[bad]} samples per record, expected a positive number")
    record_bytes = 3 * sum(per_record)
    if record_bytes > MAX_RECORD_BYTES:
        raise fail(f"declares data records of {record_bytes} bytes, expected at most {MAX_RECORD_BYTES}")
    for i, label in enumerate(labels):
        if d_min[i] >= d_max[i] or not (math.isfinite(p_min[i]) and math.isfinite(p_max[i])) or p_min[i] == p_max[i]:
            raise fail(f"signal {label!r} declares digital range {d_min[i]}..{d_max[i]} and physical range "
                       f"{p_min[i]:g}..{p_max[i]:g}, expected digital minimum < maximum and distinct finite "
                       "physical bounds")
    expected = header_bytes + record_bytes * n_records
    if size < expected:
        raise fail(f"is truncated: {size} bytes, its header declares {expected} ({n_records} records)")
    return _Header(per_record, units, duration, n_records)


def _open(path: Path):
    """The recording's MNE Raw (header only) and the indices of :data:`EEG_CHANNELS` in it."""
    import mne  # here: only MAHNOB users pay for importing MNE

    header = _check_header(path)
    try:
        raw = mne.io.read_raw_bdf(path, preload=False, verbose="error")
    except Exception as err:  # noqa: BLE001 - MNE raises many types on a damaged header
        raise MAHNOBFormatError(f"{path}: cannot be read as BDF ({type(err).__name__}: {err})",
                                "unreadable recording") from None
    missing = [name for name in EEG_CHANNELS if name not in raw.ch_names]
    if missing:
        raise MAHNOBFormatError(f"{path}: lacks EEG channel(s) {', '.join(missing)}", "missing EEG channels")
    picks = np.array([raw.ch_names.index(name) for name in EEG_CHANNELS])  # MNE keeps the file's order
    wrong = [(name, header.units[i]) for name, i in zip(EEG_CHANNELS, picks) if header.units[i] != "uV"]
    if wrong:
        raise MAHNOBFormatError(f"{path}: EEG channel {wrong[0][0]} is in {wrong[0][1]!r}, expected microvolts ('uV')",
                                "unreadable recording")
    # MNE resamples a channel slower than the fastest one: an EEG channel must be at 256 Hz itself
    rates = {name: header.per_record[i] / header.duration for name, i in zip(EEG_CHANNELS, picks)}
    slow = next((name for name, rate in rates.items() if rate != SFREQ), None)
    if raw.info["sfreq"] != SFREQ or slow is not None:
        rate = raw.info["sfreq"] if slow is None else rates[slow]
        raise MAHNOBFormatError(f"{path}: {'' if slow is None else f'channel {slow} '}sampled at {rate:g} Hz, "
                                f"expected {SFREQ} Hz", "wrong sampling rate")
    declared = header.n_records * header.per_record[picks[0]]
    if raw.n_times != declared:  # MNE read the header otherwise than checked here
        raise MAHNOBFormatError(f"{path}: MNE reads {raw.n_times} samples per channel, its header declares "
                                f"{declared}", "unreadable recording")
    if raw.n_times < N_USED:
        raise MAHNOBFormatError(
            f"{path}: {raw.n_times} samples ({raw.n_times / SFREQ:.1f} s), expected at least {N_USED} "
            f"({N_USED / SFREQ:g} s at {SFREQ} Hz)", "too short",
        )
    return raw, picks


def read_eeg(path: str | os.PathLike) -> np.ndarray:
    """The report's EEG of one recording: 32 channels, the middle 16128 samples, average referenced.

    Only the EEG channels' middle samples are read (MNE ``get_data`` with ``start``/``stop``).

    Parameters
    ----------
    path : str or path-like
        A session's BDF recording.

    Returns
    -------
    eeg : ndarray of float64, shape (32, 16128)
        :data:`EEG_CHANNELS` in microvolts (MNE reads volts; ``units="uV"``), samples
        ``start = (n_times - 16128) // 2`` to ``start + 16128``, minus their mean over the 32
        channels at each sample (the average reference, as ``set_eeg_reference("average")``).

    Raises
    ------
    MAHNOBFormatError
        If the file is truncated or not BDF, lacks an EEG channel, is not at 256 Hz or is shorter
        than 16128 samples (:attr:`MAHNOBFormatError.kind` says which).
    """
    raw, picks = _open(Path(path))
    start = (raw.n_times - N_USED) // 2
    eeg = raw.get_data(picks=picks, start=start, stop=start + N_USED, units="uV")
    eeg -= eeg.mean(axis=0, keepdims=True)
    return eeg


# --------------------------------------------------------------------------------------------
# Scanning a folder
# --------------------------------------------------------------------------------------------


def _check_session(session_id: int, folder: Path) -> Session:
    """The usable session in ``folder``, or the first :class:`MAHNOBFormatError` (kind in :data:`SKIP_KINDS`;
    its :attr:`~MAHNOBFormatError.subject` set once ``session.xml`` told it)."""
    xml = folder / XML_NAME
    try:
        subject, attributes = read_session_xml(xml)
    except FileNotFoundError:  # also a dangling link
        raise MAHNOBFormatError(f"{folder}: no {XML_NAME}, expected the session's ratings there",
                                "no session.xml") from None
    try:
        ratings = _ratings(xml, attributes)
        bdfs = sorted(p for p in folder.iterdir() if _BDF_PATTERN.fullmatch(p.name))
        if not bdfs:
            raise MAHNOBFormatError(f"{folder}: no recording Part_<p>_S_Trial<t>_emotion.bdf", "no recording")
        if len(bdfs) > 1:
            raise MAHNOBFormatError(f"{folder}: {len(bdfs)} recordings ({', '.join(p.name for p in bdfs)}), "
                                    "expected one", "several recordings")
        _open(bdfs[0])
    except MAHNOBFormatError as err:
        err.subject = subject
        raise
    trial = int(_BDF_PATTERN.fullmatch(bdfs[0].name).group(2))
    return Session(session_id, subject, trial, bdfs[0], xml, ratings)


def _subject_hint(folder: Path, err: MAHNOBFormatError) -> int | None:
    """The subject of a skipped session: from its ``session.xml`` when it was read, else from
    its recording's name (nothing is opened again)."""
    if err.subject is not None:
        return err.subject
    names = [m for p in folder.iterdir() if (m := _BDF_PATTERN.fullmatch(p.name))]
    return int(names[0].group(1)) if len(names) == 1 else None


def scan_sessions(
    root: str | os.PathLike | None = None, *, subjects=None, required: bool = True
) -> Scan:
    """List the usable sessions of a MAHNOB-HCI folder and why each other one is left out.

    A session is usable when its ``session.xml`` is well-formed with a subject id and the four
    :data:`RATING_ATTRIBUTES` in 1-9, and its folder holds exactly one recording
    ``Part_<p>_S_Trial<t>_emotion.bdf`` that is complete, has the 32 EEG channels, is sampled at
    256 Hz and holds at least 16128 samples. The checks run in the order of :data:`SKIP_KINDS`;
    the first failing one names the reason. Only headers are read. Each skipped session is
    logged in one line (logger ``deap_lib.data.mahnob``, INFO), then the summary.

    Parameters
    ----------
    root : str or path-like, optional
        The folder holding ``Sessions/`` (or ``Sessions`` itself); None: ``$MAHNOB_DIR``.
        Folders whose name is not an integer are ignored.
    subjects : iterable of int, optional
        Keep only these subjects' sessions (skipped sessions whose subject cannot be told are
        kept in :attr:`Scan.skipped`).
    required : bool
        Raise when no session is usable (default); with False, return the empty scan.

    Returns
    -------
    Scan
        Usable sessions sorted by subject, then session id; skipped ones by session id.

    Raises
    ------
    MAHNOBFormatError
        With ``required``, when no session is usable; the message names the folder, what was
        expected and why sessions were skipped.
    FileNotFoundError, NotADirectoryError
        As :func:`resolve_mahnob_dir`.
    """
    folder = resolve_mahnob_dir(root)
    wanted = None if subjects is None else {int(s) for s in subjects}
    sessions, skipped = [], []
    for session_id, session_folder in _session_folders(folder):
        try:
            session = _check_session(session_id, session_folder)
        except MAHNOBFormatError as err:
            subject = _subject_hint(session_folder, err)
            if wanted is not None and subject is not None and subject not in wanted:
                continue
            reason = str(err).removeprefix(f"{session_folder}: ").removeprefix(f"{session_folder}{os.sep}")
            skipped.append(Skipped(session_id, session_folder, subject, err.kind, reason))
            log.info("MAHNOB-HCI session %s skipped (%s): %s", session_folder, err.kind, reason)
            continue
        if wanted is None or session.subject in wanted:
            sessions.append(session)
    scan = Scan(folder, tuple(sorted(sessions, key=lambda s: (s.subject, s.session_id))), tuple(skipped))
    log.info("MAHNOB-HCI folder %s: %s", folder, scan.summary())
    if required and not sessions:
        who = "" if wanted is None else f" of subject(s) {sorted(wanted)}"
        raise MAHNOBFormatError(
            f"MAHNOB-HCI folder {folder}: no usable session{who}; expected Sessions/<id>/ folders each "
            f"holding session.xml with ratings {'/'.join(RATING_ATTRIBUTES)} in 1-9 and a 256 Hz BDF "
            f"Part_<p>_S_Trial<t>_emotion.bdf of at least {N_USED} samples with the 32 EEG channels"
            + f" (found: {scan.summary()})"
        )
    return scan


# --------------------------------------------------------------------------------------------
# Writing (for synthetic twins)
# --------------------------------------------------------------------------------------------


def write_recording(
    path: str | os.PathLike, data: np.ndarray, channel_names, *, sfreq: float = SFREQ
) -> Path:
    """Write a Biosemi-style BDF recording with edfio.

    Parameters
    ----------
    path : str or path-like
    data : ndarray, shape (n_channels, n_samples)
        Microvolts for every channel but ``Status`` (written in Biosemi's ranges,
        :data:`PHYSICAL_RANGE`, 1/32 uV per step); ``Status`` holds integer codes. ``n_samples``
        must be a whole number of seconds (1 s data records, as Biosemi writes).
    channel_names : sequence of str
        One label per row, e.g. :data:`CHANNEL_NAMES`.
    sfreq : float
        Sampling rate in Hz declared for every channel.

    Returns
    -------
    Path
    """
    import edfio  # here: only writing twins needs it

    signals = [
        edfio.BdfSignal(row, sfreq, label=name, physical_dimension="Boolean",
                        physical_range=DIGITAL_RANGE, digital_range=DIGITAL_RANGE)
        if name == STATUS_CHANNEL else
        edfio.BdfSignal(row, sfreq, label=name, physical_dimension="uV", physical_range=PHYSICAL_RANGE,
                        digital_range=DIGITAL_RANGE, transducer_type="Active Electrode")
        for row, name in zip(np.asarray(data, dtype=np.float64), channel_names, strict=True)
    ]
    path = Path(path)
    edfio.Bdf(signals, data_record_duration=1).write(path)  # not synced: twins are written to be read at once
    return path


def write_session_xml(path: str | os.PathLike, attributes: dict, subject: int) -> Path:
    """Write a ``session.xml``: ``<session **attributes>`` with a ``<subject id=...>`` child."""
    session = ET.Element("session", {k: str(v) for k, v in attributes.items()})
    ET.SubElement(session, "subject", {"id": str(subject)})
    text = ET.tostring(session, encoding="unicode", xml_declaration=False)
    path = Path(path)
    path.write_text(f'<?xml version="1.0" encoding="utf-8"?>\n{text}\n', encoding="utf-8")
    return path
