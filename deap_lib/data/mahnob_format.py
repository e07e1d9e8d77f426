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
middle samples) and ``session.xml`` with :mod:`xml.etree.ElementTree`, after refusing any
DOCTYPE or ENTITY declaration (ElementTree has no switch against entity expansion).
"""

from __future__ import annotations

import logging
import os
import re
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deap_lib.data import deap_format
from deap_lib.data.folders import resolve_folder

__all__ = [
    "CHANNEL_NAMES",
    "EEG_CHANNELS",
    "MAHNOBFormatError",
    "MAHNOB_DIR_ENV",
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

    def __init__(self, message: str, kind: str | None = None):
        super().__init__(message)
        self.kind = kind


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


def _declares(raw: bytes) -> str | None:
    """The DOCTYPE or ENTITY declaration ``raw`` holds, if any (in UTF-8/ASCII or UTF-16 text)."""
    text = raw.decode("utf-16") if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else raw.decode("latin-1")
    upper = text.upper()
    return next((d for d in ("<!DOCTYPE", "<!ENTITY") if d in upper), None)


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
        (kind ``"malformed session.xml"``) If it cannot be read, declares a DOCTYPE or ENTITY
        (refused, never expanded), is not well-formed XML, its root is not ``session``, or it has no
        ``<subject id="...">`` with an integer id.
    """
    path = Path(path)

    def fail(what: str) -> MAHNOBFormatError:
        return MAHNOBFormatError(f"{path}: {what}", "malformed session.xml")

    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise
    except OSError as err:
        raise fail(f"cannot be read ({type(err).__name__}: {err.strerror or err})") from None

    declared = _declares(raw)
    if declared:
        raise fail(f"declares {declared} (refused: expected a plain <session> element without DTD or entities)")
    try:
        root = ET.fromstring(raw)
    except ET.ParseError as err:
        raise fail(f"is not well-formed XML ({err}); expected a <session> element") from None
    if root.tag != "session":
        raise fail(f"root element is <{root.tag}>, expected <session>")
    subject = root.find("subject")
    sid = None if subject is None else subject.get("id", "").strip()
    if not sid or not sid.isdigit():
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


def _check_size(path: Path) -> None:
    """Refuse a BDF shorter than its header declares.

    MNE and edfio both read a truncated recording as a shorter one (its last records missing),
    which would shift "the middle samples": only the header's own numbers tell.
    """

    def fail(what: str) -> MAHNOBFormatError:
        return MAHNOBFormatError(f"{path}: {what}", "unreadable recording")

    try:
        with open(path, "rb") as f:
            head = f.read(256)
            # the fixed header's numbers, then each signal's "samples per record" (8 bytes each);
            # int(b"") fails for a file cut inside its header
            header_bytes, n_records, n_signals = int(head[184:192]), int(head[236:244]), int(head[252:256])
            if n_signals < 1:
                raise ValueError("no signal")
            f.seek(256 + 216 * n_signals)
            fields = f.read(8 * n_signals)
            per_record = [int(fields[8 * i : 8 * i + 8]) for i in range(n_signals)]
            size = os.fstat(f.fileno()).st_size
    except ValueError:
        raise fail("has no valid BDF header (expected a Biosemi 24-bit BDF file)") from None
    except OSError as err:
        raise fail(f"cannot be read ({type(err).__name__}: {err.strerror or err})") from None
    expected = header_bytes + 3 * n_records * sum(per_record)
    if n_records >= 0 and size < expected:  # -1: a recording still being written, size unknown
        raise fail(f"is truncated: {size} bytes, its header declares {expected} ({n_records} records)")


def _open(path: Path):
    """The recording's MNE Raw (header only) and the indices of :data:`EEG_CHANNELS` in it."""
    import mne  # here: only MAHNOB users pay for importing MNE

    _check_size(path)
    try:
        raw = mne.io.read_raw_bdf(path, preload=False, verbose="error")
    except Exception as err:  # noqa: BLE001 - MNE raises many types on a damaged header
        raise MAHNOBFormatError(f"{path}: cannot be read as BDF ({type(err).__name__}: {err})",
                                "unreadable recording") from None
    missing = [name for name in EEG_CHANNELS if name not in raw.ch_names]
    if missing:
        raise MAHNOBFormatError(f"{path}: lacks EEG channel(s) {', '.join(missing)}", "missing EEG channels")
    if raw.info["sfreq"] != SFREQ:
        raise MAHNOBFormatError(f"{path}: sampled at {raw.info['sfreq']:g} Hz, expected {SFREQ} Hz",
                                "wrong sampling rate")
    if raw.n_times < N_USED:
        raise MAHNOBFormatError(
            f"{path}: {raw.n_times} samples ({raw.n_times / SFREQ:.1f} s), expected at least {N_USED} "
            f"({N_USED / SFREQ:g} s at {SFREQ} Hz)", "too short",
        )
    return raw, np.array([raw.ch_names.index(name) for name in EEG_CHANNELS])


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
    """The usable session in ``folder``, or the first :class:`MAHNOBFormatError` (kind in :data:`SKIP_KINDS`)."""
    xml = folder / XML_NAME
    if not xml.is_file():
        raise MAHNOBFormatError(f"{folder}: no {XML_NAME}, expected the session's ratings there", "no session.xml")
    subject, attributes = read_session_xml(xml)
    ratings = _ratings(xml, attributes)
    bdfs = sorted(p for p in folder.iterdir() if _BDF_PATTERN.fullmatch(p.name))
    if not bdfs:
        raise MAHNOBFormatError(f"{folder}: no recording Part_<p>_S_Trial<t>_emotion.bdf", "no recording")
    if len(bdfs) > 1:
        raise MAHNOBFormatError(f"{folder}: {len(bdfs)} recordings ({', '.join(p.name for p in bdfs)}), expected one",
                                "several recordings")
    _open(bdfs[0])
    trial = int(_BDF_PATTERN.fullmatch(bdfs[0].name).group(2))
    return Session(session_id, subject, trial, bdfs[0], xml, ratings)


def _subject_hint(folder: Path) -> int | None:
    """The subject of a session whose ``session.xml`` is unusable, from its recording's name."""
    try:
        return read_session_xml(folder / XML_NAME)[0]
    except (OSError, MAHNOBFormatError):
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
            subject = _subject_hint(session_folder)
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
