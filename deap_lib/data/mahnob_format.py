"""Read (and, for synthetic twins, write) MAHNOB-HCI's emotion-elicitation sessions.

The folder (an argument or ``$MAHNOB_DIR``: MAHNOB-HCI is licensed per user) holds ``Sessions/<id>/``,
each with ``session.xml`` (``<session>``, the felt ratings :data:`RATING_ATTRIBUTES` among its
attributes, and a child ``<subject id="<p>"/>``) and ``Part_<p>_S_Trial<t>_emotion.bdf`` (Biosemi BDF,
256 Hz, :data:`CHANNEL_NAMES`). :func:`read_eeg` gives the report's EEG, :func:`scan_sessions` the
usable sessions and why each other one is left out. Recordings are read with MNE, ``session.xml`` with
defusedxml (``forbid_dtd=True``: no DOCTYPE, hence no entity, in any encoding); each only as a regular
file of bounded size, opened without blocking (:func:`deap_lib.data.folders.open_regular`), a BDF's
header checked before MNE reads it.
"""

from __future__ import annotations

import logging
import math
import os
import re
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deap_lib.data import deap_format
from deap_lib.data.folders import NotABoundedFile, open_regular, read_regular, resolve_folder

__all__ = ["CHANNEL_NAMES", "EEG_CHANNELS", "MAHNOBFormatError", "MAHNOB_DIR_ENV", "MAX_BDF_BYTES", "MAX_RECORD_BYTES",
           "MAX_RECORD_SECONDS", "MAX_SIGNALS", "MAX_XML_BYTES", "N_EEG", "N_SUBJECTS", "N_USED", "RATING_ATTRIBUTES",
           "RATING_RANGE", "SFREQ", "SKIP_KINDS", "Scan", "Session", "Skipped", "read_eeg", "read_session_xml",
           "recording_name", "resolve_mahnob_dir", "scan_sessions", "write_recording"]

SFREQ = 256
#: Samples used from the middle of each recording: 2 x DEAP's 8064 (63 s at 256 Hz).
N_USED = 2 * deap_format.N_SAMPLES
N_SUBJECTS = 30
EEG_CHANNELS = deap_format.EEG_CHANNELS
N_EEG = len(EEG_CHANNELS)  # 32
STATUS_CHANNEL = "Status"
#: Biosemi's 47 channels, in its order.
CHANNEL_NAMES = (EEG_CHANNELS + tuple(f"EXG{i}" for i in range(1, 9)) + ("GSR1", "GSR2", "Erg1", "Erg2", "Resp", "Temp")
                 + (STATUS_CHANNEL,))
#: The ratings read, in :class:`deap_lib.data.dataset.Prepared`'s column order (the two targets first).
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
#: The largest recording opened, about 200 MAHNOB-HCI sessions; only the middle samples are read.
MAX_BDF_BYTES = 2**30
#: Signals a BDF header may declare (MAHNOB-HCI's have 47).
MAX_SIGNALS = 256
#: The longest data record accepted (Biosemi writes 1 s records).
MAX_RECORD_SECONDS = 60
#: The largest data record accepted (MNE reads whole records); 47 channels at 256 Hz for 60 s is 2.2 MB.
MAX_RECORD_BYTES = 4 * 2**20
#: Why a session is left out, in the order the checks run (the first failing check names it).
SKIP_KINDS = ("no session.xml", "malformed session.xml", "no ratings", "ratings out of range", "no recording",
              "several recordings", "unreadable recording", "missing EEG channels", "wrong sampling rate", "too short")
_BDF_PATTERN = re.compile(r"Part_(\d+)_S_Trial(\d+)_emotion\.bdf")

log = logging.getLogger("deap_lib.data.mahnob")


class MAHNOBFormatError(ValueError):
    """A MAHNOB-HCI folder, session or file is not usable; the message names it and what was expected.
    :attr:`kind`: one of :data:`SKIP_KINDS` for one session, else None; :attr:`subject`: its subject if known."""

    def __init__(self, message: str, kind: str | None = None, subject: int | None = None):
        super().__init__(message)
        self.kind, self.subject = kind, subject


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
    order = {k: i for i, k in enumerate(SKIP_KINDS)}
    return dict(sorted(Counter(kinds).items(), key=lambda kv: (-kv[1], order.get(kv[0], len(order)), kv[0])))


def skip_summary(n_usable: int, n_subjects: int, counts: dict[str, int]) -> str:
    """The one-line summary of :meth:`Scan.summary` from its numbers."""
    n_skipped, kinds = sum(counts.values()), ", ".join(f"{n} {kind}" for kind, n in counts.items())
    return (f"{n_usable} usable session{'s' * (n_usable != 1)} of {n_subjects} subject{'s' * (n_subjects != 1)}, "
            + (f"{n_skipped} skipped: {kinds}" if n_skipped else "none skipped"))


def resolve_mahnob_dir(root: str | os.PathLike | None = None, *, required: bool = True) -> Path | None:
    """The folder holding MAHNOB-HCI's ``Sessions/<id>/``: ``root``, else ``$MAHNOB_DIR``; None with
    ``required=False`` when neither names one (errors: :func:`deap_lib.data.folders.resolve_folder`)."""
    return resolve_folder(root, env=MAHNOB_DIR_ENV, dataset="MAHNOB-HCI", holding="Sessions/<id>/", required=required)


def recording_name(subject: int, trial: int) -> str:
    """The file name of a session's recording: ``Part_<subject>_S_Trial<trial>_emotion.bdf``."""
    return f"Part_{subject}_S_Trial{trial}_emotion.bdf"


def _failure(path: Path, kind: str):
    """``fail(what)``: the :class:`MAHNOBFormatError` of kind ``kind`` saying ``"<path>: <what>"``."""
    return lambda what: MAHNOBFormatError(f"{path}: {what}", kind)


def read_session_xml(path: str | os.PathLike) -> tuple[int, dict[str, str]]:
    """A ``session.xml``'s subject (``<subject id>``) and ``<session>``'s attributes as written; FileNotFoundError,
    else :class:`MAHNOBFormatError` (kind "malformed session.xml") when it is not a regular file of at most
    :data:`MAX_XML_BYTES`, cannot be read or decoded, declares a DOCTYPE, or has no integer subject id."""
    import defusedxml.ElementTree as DET  # here: only MAHNOB users need it
    from defusedxml import DefusedXmlException

    path = Path(path)
    fail = _failure(path, "malformed session.xml")
    try:
        root = DET.fromstring(read_regular(path, MAX_XML_BYTES), forbid_dtd=True)
    except FileNotFoundError:
        raise
    except NotABoundedFile as err:
        raise fail(f"{err}; expected a session.xml, a regular file of at most {MAX_XML_BYTES} bytes") from None
    except OSError as err:
        raise fail(f"cannot be read ({type(err).__name__}: {err.strerror or err})") from None
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
    for name in RATING_ATTRIBUTES:
        text = attributes[name].strip()
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not low <= value <= high:  # NaN fails too
            raise MAHNOBFormatError(f"{path}: {name}={text!r}, expected a rating {low}-{high}", "ratings out of range")
    return tuple(float(attributes[name].strip()) for name in RATING_ATTRIBUTES)


#: A header number as plain ASCII digits: no "nan", "1_0" or "٣", which Python reads and MNE may not.
_NUMBER = {int: re.compile(rb" *[+-]?[0-9]+ *"),
           float: re.compile(rb" *[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)? *")}


def _number(field: bytes, kind: type, name: str, fail):
    if not _NUMBER[kind].fullmatch(field):  # also a field cut short by the end of the file
        raise fail(f"has no valid BDF header ({name} {field.decode('latin-1')!r} is not "
                   f"{'an integer' if kind is int else 'a number'}; expected a Biosemi 24-bit BDF file)")
    return kind(field.decode("ascii"))


def _open(path: Path):
    """The recording's MNE Raw (header only) and the indices of :data:`EEG_CHANNELS` in it. The header is checked
    first: MNE goes by the file's size (shifting "the middle samples") and only warns on degenerate fields."""
    import mne  # here: only MAHNOB users pay for importing MNE

    fail = _failure(path, "unreadable recording")
    try:
        f, size = open_regular(path, MAX_BDF_BYTES)
    except NotABoundedFile as err:
        raise fail(f"{err}; expected a BDF recording, a regular file of at most {MAX_BDF_BYTES} bytes") from None
    except OSError as err:
        raise fail(f"cannot be opened ({type(err).__name__}: {err.strerror or err})") from None
    try:
        with f:
            head = f.read(256)
            header_bytes, n_records, n_signals = (_number(head[i:j], int, name, fail) for i, j, name in (
                (184, 192, "header size"), (236, 244, "number of records"), (252, 256, "number of signals")))
            duration = _number(head[244:252], float, "record duration", fail)
            if not 1 <= n_signals <= MAX_SIGNALS:
                raise fail(f"declares {n_signals} signals, expected 1-{MAX_SIGNALS}")
            fields = f.read(256 * n_signals)
    except OSError as err:
        raise fail(f"cannot be read ({type(err).__name__}: {err.strerror or err})") from None
    if len(fields) < 256 * n_signals:
        raise fail(f"is truncated inside its header ({size} bytes, the header declares {n_signals} signals)")

    def column(offset: int, width: int, kind: type | None = None, name: str = "") -> list:  # one field per signal
        raw = [fields[offset * n_signals + width * i : offset * n_signals + width * (i + 1)] for i in range(n_signals)]
        if kind is None:
            return [field.decode("latin-1").strip() for field in raw]
        return [_number(field, kind, f"signal {i + 1}'s {name}", fail) for i, field in enumerate(raw)]

    labels, units = column(0, 16), column(96, 8)
    p_min, p_max = column(104, 8, float, "physical minimum"), column(112, 8, float, "physical maximum")
    d_min, d_max = column(120, 8, int, "digital minimum"), column(128, 8, int, "digital maximum")
    per_record = column(216, 8, int, "samples per record")

    if header_bytes != 256 * (n_signals + 1):
        raise fail(f"declares a {header_bytes}-byte header, expected 256 x (1 + {n_signals} signals)")
    if n_records < 1:
        raise fail(f"declares {n_records} data records, expected a positive number")
    if not 0 < duration <= MAX_RECORD_SECONDS:
        raise fail(f"declares records of {duration:g} s, expected more than 0 and at most {MAX_RECORD_SECONDS} s")
    for label, n in zip(labels, per_record):
        if n < 1:
            raise fail(f"signal {label!r} declares {n} samples per record, expected a positive number")
    record_bytes = 3 * sum(per_record)
    if record_bytes > MAX_RECORD_BYTES:
        raise fail(f"declares data records of {record_bytes} bytes, expected at most {MAX_RECORD_BYTES}")
    for label, lo, hi, p_lo, p_hi in zip(labels, d_min, d_max, p_min, p_max):
        if lo >= hi or not (math.isfinite(p_lo) and math.isfinite(p_hi)) or p_lo == p_hi:
            raise fail(f"signal {label!r} declares digital range {lo}..{hi} and physical range {p_lo:g}..{p_hi:g}, "
                       "expected digital minimum < maximum and distinct finite physical bounds")
    if size < header_bytes + record_bytes * n_records:
        raise fail(f"is truncated: {size} bytes, its header declares {header_bytes + record_bytes * n_records} "
                   f"({n_records} records)")

    try:
        raw = mne.io.read_raw_bdf(path, preload=False, verbose="error")
    except Exception as err:  # noqa: BLE001 - MNE raises many types on a damaged header
        raise fail(f"cannot be read as BDF ({type(err).__name__}: {err})") from None
    missing = [name for name in EEG_CHANNELS if name not in raw.ch_names]
    if missing:
        raise _failure(path, "missing EEG channels")(f"lacks EEG channel(s) {', '.join(missing)}")
    picks = np.array([raw.ch_names.index(name) for name in EEG_CHANNELS])  # MNE keeps the file's order
    wrong = next(((name, units[i]) for name, i in zip(EEG_CHANNELS, picks) if units[i] != "uV"), None)
    if wrong:
        raise fail(f"EEG channel {wrong[0]} is in {wrong[1]!r}, expected microvolts ('uV')")
    # MNE resamples a channel slower than the fastest one: an EEG channel must be at 256 Hz itself
    slow = next(((name, per_record[i] / duration) for name, i in zip(EEG_CHANNELS, picks)
                 if per_record[i] / duration != SFREQ), None)
    if slow or raw.info["sfreq"] != SFREQ:
        where, rate = (f"channel {slow[0]} ", slow[1]) if slow else ("", raw.info["sfreq"])
        raise _failure(path, "wrong sampling rate")(f"{where}sampled at {rate:g} Hz, expected {SFREQ} Hz")
    if raw.n_times != n_records * per_record[picks[0]]:  # MNE goes by the file's size, not the header
        raise fail(f"MNE reads {raw.n_times} samples per channel, its header declares "
                   f"{n_records * per_record[picks[0]]}")
    if raw.n_times < N_USED:
        raise _failure(path, "too short")(f"{raw.n_times} samples ({raw.n_times / SFREQ:.1f} s), expected at least "
                                          f"{N_USED} ({N_USED / SFREQ:g} s at {SFREQ} Hz)")
    return raw, picks


def read_eeg(path: str | os.PathLike) -> np.ndarray:
    """The report's EEG of a recording, float64 (32, 16128): :data:`EEG_CHANNELS` in microvolts, the middle
    16128 samples only (from ``(n_times - 16128) // 2``), average referenced over the 32 channels.
    :class:`MAHNOBFormatError` (its kind says why) when the file is not a usable recording."""
    raw, picks = _open(Path(path))
    start = (raw.n_times - N_USED) // 2
    eeg = raw.get_data(picks=picks, start=start, stop=start + N_USED, units="uV")
    return eeg - eeg.mean(axis=0, keepdims=True)


def _check_session(session_id: int, folder: Path) -> Session:
    """The usable session in ``folder``, or its first :class:`MAHNOBFormatError` (with the subject when known)."""
    xml = folder / XML_NAME
    bdfs = sorted(p for p in folder.iterdir() if _BDF_PATTERN.fullmatch(p.name))
    subject = int(_BDF_PATTERN.fullmatch(bdfs[0].name).group(1)) if len(bdfs) == 1 else None
    try:
        subject, attributes = read_session_xml(xml)
        ratings = _ratings(xml, attributes)
        if not bdfs:
            raise MAHNOBFormatError(f"{folder}: no recording Part_<p>_S_Trial<t>_emotion.bdf", "no recording")
        if len(bdfs) > 1:
            raise MAHNOBFormatError(f"{folder}: {len(bdfs)} recordings ({', '.join(p.name for p in bdfs)}), "
                                    "expected one", "several recordings")
        _open(bdfs[0])
    except FileNotFoundError:  # no session.xml (or a dangling link): nothing else raises it
        raise MAHNOBFormatError(f"{folder}: no {XML_NAME}, expected the session's ratings there", "no session.xml",
                                subject) from None
    except MAHNOBFormatError as err:
        err.subject = subject
        raise
    return Session(session_id, subject, int(_BDF_PATTERN.fullmatch(bdfs[0].name).group(2)), bdfs[0], xml, ratings)


def scan_sessions(root: str | os.PathLike | None = None, *, subjects=None, required: bool = True) -> Scan:
    """The usable sessions of ``root`` (holding ``Sessions/``, or it; None: ``$MAHNOB_DIR``) and why each other
    is left out: its first failing check in :data:`SKIP_KINDS` order (only headers are read), logged in one line
    (logger ``deap_lib.data.mahnob``, INFO), then the summary. ``subjects`` keeps theirs (and skipped sessions of
    unknown subject); with ``required``, no usable session is one :class:`MAHNOBFormatError` saying why."""
    folder = resolve_mahnob_dir(root)
    wanted = None if subjects is None else {int(s) for s in subjects}
    parent = folder / SESSIONS_DIR if (folder / SESSIONS_DIR).is_dir() else folder
    sessions, skipped = [], []
    for session_id, session_folder in sorted((int(p.name), p) for p in parent.iterdir()
                                             if p.name.isdigit() and p.is_dir()):
        try:
            session = _check_session(session_id, session_folder)
        except MAHNOBFormatError as err:
            if wanted is not None and err.subject is not None and err.subject not in wanted:
                continue
            reason = str(err).removeprefix(f"{session_folder}: ").removeprefix(f"{session_folder}{os.sep}")
            skipped.append(Skipped(session_id, session_folder, err.subject, err.kind, reason))
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
            f"Part_<p>_S_Trial<t>_emotion.bdf of at least {N_USED} samples with the 32 EEG channels (found: "
            f"{scan.summary()})")
    return scan


def write_recording(path: str | os.PathLike, data: np.ndarray, channel_names, *, sfreq: float = SFREQ) -> Path:
    """Write a Biosemi-style BDF with edfio: ``data`` (n_channels, n_samples, a whole number of
    seconds: 1 s records) in microvolts in Biosemi's ranges (:data:`PHYSICAL_RANGE`, 1/32 uV per
    step), but ``Status``'s integer codes; one of ``channel_names`` per row, all at ``sfreq`` Hz."""
    import edfio  # here: only writing twins needs it

    status = {"physical_dimension": "Boolean", "physical_range": DIGITAL_RANGE}
    eeg = {"physical_dimension": "uV", "physical_range": PHYSICAL_RANGE, "transducer_type": "Active Electrode"}
    signals = [edfio.BdfSignal(row, sfreq, label=name, digital_range=DIGITAL_RANGE,
                               **(status if name == STATUS_CHANNEL else eeg))
               for row, name in zip(np.asarray(data, dtype=np.float64), channel_names, strict=True)]
    path = Path(path)
    edfio.Bdf(signals, data_record_duration=1).write(path)  # not synced: twins are written to be read at once
    return path


def write_session_xml(path: str | os.PathLike, attributes: dict, subject: int) -> Path:
    """Write a ``session.xml``: ``<session **attributes>`` with a ``<subject id=...>`` child."""
    session = ET.Element("session", {k: str(v) for k, v in attributes.items()})
    ET.SubElement(session, "subject", {"id": str(subject)})
    Path(path).write_text(f'<?xml version="1.0" encoding="utf-8"?>\n{ET.tostring(session, encoding="unicode")}\n',
                          encoding="utf-8")
    return Path(path)
