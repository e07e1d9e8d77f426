"""The prepared feature set: raw participants (real DEAP, MAHNOB-HCI or their twins) -> (n_trials, 32, 99).

:func:`prepare` caches one participant (MAHNOB-HCI: subject) per :class:`deap_lib.store.Store` entry, keyed by
the data's identity and every parameter: a killed run leaves only finished participants, a damaged entry is
computed again, a complete second call only loads the cache. It checks every trial for non-finite features.
"""

from __future__ import annotations

import functools
import os
import tempfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

import numpy as np
from tqdm import tqdm

from deap_lib.data import deap_format, features, mahnob_format, synthetic
from deap_lib.data.labels import binarize
from deap_lib.store import IDENTITIES, Store, entry_key, file_identity, stable_hash

#: What :func:`prepare` does with trials whose features are not finite; the first is the default.
NONFINITE_POLICIES = ("error", "drop", "impute")
#: The datasets a source can be of, and the dataset of each kind of source.
DATASETS = ("deap", "mahnob")
SOURCE_KINDS = {"twin": "deap", "deap": "deap", "mahnob": "mahnob", "mahnob-twin": "mahnob"}
#: Skipped MAHNOB-HCI sessions listed in :meth:`Prepared.describe` (all are counted by kind).
SKIPPED_DESCRIBED = 5
_MAX_LISTED = 5  # places an error message lists before "and N more"
_NUMBERED = {"deap": "trials 0-based", "mahnob": "sessions by id"}  # how Prepared.trial numbers rows


class NonFiniteFeaturesError(ValueError):
    """Non-finite features (``nonfinite="error"``); :attr:`where`: every ``(participant, trial, channel)``."""

    def __init__(self, message: str, where: tuple = ()):
        super().__init__(message)
        self.where = where


@dataclass(frozen=True)
class DataSource:
    """Which data a run reads: the synthetic DEAP twin (default), a real DEAP folder, a real
    MAHNOB-HCI folder or the MAHNOB-HCI twin (kinds "twin", "deap", "mahnob", "mahnob-twin")."""

    kind: str = "twin"
    root: str | None = None  # the DEAP (kind "deap") or MAHNOB-HCI (kind "mahnob") folder
    participants: tuple[int, ...] | None = None  # None: all (DEAP s01..s32; MAHNOB-HCI subjects 1-30)
    twin_seed: int = synthetic.DEFAULT_SEED
    twin_effect: float = synthetic.DEFAULT_EFFECT

    @property
    def dataset(self) -> str:
        """"deap" or "mahnob": which dataset (real or twin) the source is."""
        return SOURCE_KINDS[self.kind]

    def describe(self) -> str:
        """One line for a page header: what data this is, said plainly."""
        chosen = None if self.participants is None else list(self.participants)
        if self.kind == "mahnob":
            return f"real MAHNOB-HCI from {self.root} ({'all subjects' if chosen is None else f'subjects {chosen}'})"
        if self.kind == "mahnob-twin":
            n = sum(fault is None for *_, fault in synthetic.mahnob_twin_plan(self.participants))
            return (f"synthetic MAHNOB-HCI twin (seed {self.twin_seed}, effect {self.twin_effect}"
                    f"{'' if chosen is None else f', subjects {chosen}'}, {n} sessions); "
                    "numbers on it are not MAHNOB-HCI results")
        who = "all participants" if chosen is None else f"participants {chosen}"
        if self.kind == "deap":
            return f"real DEAP from {self.root} ({who})"
        return (f"synthetic DEAP twin (seed {self.twin_seed}, effect {self.twin_effect}, {who}); "
                "numbers on it are not DEAP results")

    def key(self) -> dict:
        """What identifies the data for caching (files add their own; the twins' model is in the code fingerprint)."""
        if self.kind in ("deap", "mahnob"):
            return {"kind": self.kind}
        return {"kind": self.kind, "seed": self.twin_seed, "effect": self.twin_effect}


def resolve_source(deap_dir: str | os.PathLike | None = None, *, participants: Iterable[int] | None = None,
                   twin_seed: int = synthetic.DEFAULT_SEED, twin_effect: float = synthetic.DEFAULT_EFFECT,
                   dataset: str = "deap", mahnob_dir: str | os.PathLike | None = None) -> DataSource:
    """Real DEAP when ``deap_dir`` (or ``$DEAP_DIR``) names a folder, else the twin; with ``dataset="mahnob"``,
    real MAHNOB-HCI when ``mahnob_dir`` (or ``$MAHNOB_DIR``) does, else its twin (``participants``: subject
    ids in 1..30). Values come checked by the settings' schema; a folder's participants by its reader."""
    if dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {DATASETS}, got {dataset!r}")
    pids = None if participants is None else tuple(sorted(int(p) for p in participants))
    if dataset == "mahnob":
        if deap_dir:
            raise ValueError(f"deap_dir ({deap_dir}) names a DEAP folder but dataset is 'mahnob'; "
                             f"pass mahnob_dir or set ${mahnob_format.MAHNOB_DIR_ENV} instead")
        root = mahnob_format.resolve_mahnob_dir(mahnob_dir or None, required=False)  # its errors name $MAHNOB_DIR
        if pids is not None and not set(pids) <= set(range(1, mahnob_format.N_SUBJECTS + 1)):  # the schema allows 1-32
            raise ValueError(f"participants (MAHNOB-HCI subject ids) must be distinct numbers in "
                             f"1..{mahnob_format.N_SUBJECTS}, got {list(participants)}")
        if root is not None:
            return DataSource(kind="mahnob", root=str(root), participants=pids)
        return DataSource("mahnob-twin", participants=pids, twin_seed=int(twin_seed), twin_effect=float(twin_effect))
    if mahnob_dir:
        raise ValueError(f"mahnob_dir ({mahnob_dir}) names a MAHNOB-HCI folder but dataset is 'deap'; "
                         "pass dataset='mahnob' (CLI: --dataset mahnob)")
    root = deap_format.resolve_deap_dir(deap_dir or None, required=False)  # its errors name $DEAP_DIR
    if root is None:
        return DataSource(participants=pids, twin_seed=int(twin_seed), twin_effect=float(twin_effect))
    if pids is None:  # name exactly the participants present, so a gap is never "all participants"
        pids = tuple(pid for pid, _ in deap_format.find_participants(root))
        pids = None if len(pids) == deap_format.N_PARTICIPANTS else pids
    return DataSource(kind="deap", root=str(root), participants=pids)


@dataclass(frozen=True)
class Prepared:
    """Reduced features of every trial, with what identifies each row.

    ``features`` (n, 32, 99); ``ratings`` (n, 4): valence, arousal, dominance, liking (MAHNOB-HCI: felt
    Vlnc, Arsl, Ctrl, Pred); ``participant`` 1-based (MAHNOB-HCI: subject id) and ``trial`` 0-based
    (MAHNOB-HCI: session id), rows by participant then trial. ``identity``: hash of the data's identity
    (each file's, by ``identified_by``), the parameters, and the non-finite trials if any. ``nonfinite``:
    ``(participant, trial, channel or None: only the standardization)`` of every non-finite channel,
    dropped or imputed per ``nonfinite_policy``. ``skipped``: MAHNOB-HCI's ``(session id, subject, kind,
    reason)`` left out.
    """

    features: np.ndarray
    ratings: np.ndarray
    participant: np.ndarray
    trial: np.ndarray
    source: DataSource
    standardization: str
    identity: str
    files: dict = field(default_factory=dict)
    nonfinite_policy: str = "error"
    nonfinite: tuple = ()
    identified_by: str = "stat"
    skipped: tuple = ()

    def labels(self, target: str) -> np.ndarray:
        """Binary labels (1 = rating >= 5) of ``target`` for every row, shape (n_trials,)."""
        return binarize(self.ratings, target)

    def describe(self) -> dict:
        """JSON-ready description stored with every result computed on these features."""
        nonfinite = {"policy": self.nonfinite_policy, "n_trials": len(self._nonfinite_trials()),
                     "where": [{"participant": p, "trial": t, "channel": c} for p, t, c in self.nonfinite]}
        described = {"source": asdict(self.source), "description": self.source.describe(),
                     "standardization": self.standardization, "identity": self.identity,
                     "n_trials": int(self.features.shape[0]), "files": self.files, "identified_by": self.identified_by,
                     "nonfinite": nonfinite}
        if self.source.dataset == "mahnob":  # counts and the first few: a folder may hold 1000s of bad sessions
            described["skipped"] = {
                "n_sessions": len(self.skipped), "counts": mahnob_format.skip_counts(k for *_, k, _ in self.skipped),
                "first_sessions": [{"session": sid, "subject": subject, "kind": kind, "reason": reason}
                                   for sid, subject, kind, reason in self.skipped[:SKIPPED_DESCRIBED]],
                "note": self.data_note()}
        return described

    def data_note(self) -> str:
        """MAHNOB-HCI's recordings used, e.g. ``"546 usable sessions of 29 subjects, 54 skipped: 23 no
        recording, ..."`` (sessions dropped for non-finite features count as usable); "" for DEAP."""
        if self.source.dataset != "mahnob":
            return ""
        dropped = self._nonfinite_trials() if self.nonfinite_policy == "drop" else []
        subjects = set(self.participant.tolist()) | {p for p, _ in dropped}
        return mahnob_format.skip_summary(len(self.trial) + len(dropped), len(subjects),
                                          mahnob_format.skip_counts(kind for *_, kind, _ in self.skipped))

    def _nonfinite_trials(self) -> list[tuple[int, int]]:
        return sorted({(p, t) for p, t, _ in self.nonfinite})

    def nonfinite_note(self) -> str:
        """E.g. ``"1 trial dropped for non-finite features (trials 0-based): s02 trial 7 (Fz)."``; "" if none."""
        trials = self._nonfinite_trials()
        if not trials:
            return ""
        done = {"drop": "dropped", "impute": "imputed"}.get(self.nonfinite_policy, self.nonfinite_policy)
        places = "; ".join(f"{_place(self.source.dataset, p, t)} "
                           f"({', '.join(c or 'standardization' for q, s, c in self.nonfinite if (q, s) == (p, t))})"
                           for p, t in trials)
        return (f"{len(trials)} trial{'s' if len(trials) != 1 else ''} {done} for non-finite features "
                f"({_NUMBERED[self.source.dataset]}): {places}.")


def _place(dataset: str, participant: int, trial: int) -> str:
    """A row's name in messages: "s02 trial 7" (DEAP) or "subject 3 session 1234" (MAHNOB-HCI)."""
    return f"subject {participant} session {trial}" if dataset == "mahnob" else f"s{participant:02d} trial {trial}"


def _reduction(eeg: np.ndarray, standardization: str, window: int | None) -> np.ndarray:
    """The unstandardized reduction (n, 32, 99) of raw ``eeg`` that ``standardization`` standardizes."""
    if standardization == "report-prose":
        eeg = features.standardize_trials(eeg)
    return features.extract_features(eeg, standardization="none", window=window)


def _locate(reduced: np.ndarray, eeg: np.ndarray, trials: np.ndarray) -> list[tuple[int, str | None, str]]:
    """``(trial, channel, what)`` of every channel of ``reduced`` (:func:`_reduction` of raw ``eeg``) with
    non-finite statistics, e.g. "constant: NaN skew, kurtosis"; channel None: only the standardization."""
    out = []
    for trial, stats, samples in zip(trials, reduced, eeg):
        channels = np.flatnonzero(~np.isfinite(stats).all(axis=1))
        if not len(channels):
            out.append((int(trial), None, "finite statistics, non-finite after standardization"))
        for c in channels:
            grid = stats[c].reshape(features.N_WINDOWS + 1, len(features.STAT_NAMES))  # windows, then all
            bad = ~np.isfinite(grid)
            names = ", ".join(features.STAT_NAMES[j] for j in np.flatnonzero(bad.any(axis=0)))
            kinds = "/".join(k for k, hit in (("NaN", np.isnan(grid)), ("inf", np.isinf(grid))) if hit.any())
            whole = " and over the whole channel" if bad[-1].any() else ""
            what = (f"constant: {kinds} {names}" if np.ptp(samples[c]) == 0 else
                    f"{kinds} {names} in {int(bad[:-1].any(axis=1).sum())} of its {features.N_WINDOWS} windows{whole}")
            out.append((int(trial), deap_format.EEG_CHANNELS[c], what))
    return out


def _settle(arrays: dict, eeg: np.ndarray | None, compute, policy: str, standardization: str, window: int | None):
    """A cache entry's features, ratings and trials after ``policy``, and its non-finite places
    (:func:`_locate`); ``eeg``: its raw EEG, None to read it again with ``compute`` (only if needed)."""
    feats, ratings = arrays["features"], arrays["ratings"]
    trial = arrays.get("trial", np.arange(len(ratings)))
    bad = np.flatnonzero(~np.isfinite(feats).all(axis=(1, 2)))
    if not len(bad):
        return feats, ratings, trial, []
    eeg = (compute()[0] if eeg is None else eeg)[bad]
    reduced = _reduction(eeg, standardization, window)
    places = _locate(reduced, eeg, trial[bad])
    if policy == "drop":
        keep = np.setdiff1d(np.arange(len(feats)), bad)
        return feats[keep], ratings[keep], trial[keep], places
    if policy == "impute":
        reduced[~np.isfinite(reduced)] = 0.0
        feats = feats.copy()
        feats[bad] = features.standardize_reduced(reduced, standardization)
    return feats, ratings, trial, places


def _nonfinite_message(found: dict, who: dict, dataset: str) -> str:
    """The one-line message of :class:`NonFiniteFeaturesError` (no newline: the CLI prints it)."""
    places = [f"{_place(dataset, u, t)}{'' if c is None else f' channel {c}'} ({what})"
              for u in sorted(found) for t, c, what in found[u]]
    more = f"; and {len(places) - _MAX_LISTED} more" if len(places) > _MAX_LISTED else ""
    n_trials = sum(len({t for t, _, _ in found[u]}) for u in found)
    return (f"non-finite features in {n_trials} trial{'s' if n_trials != 1 else ''} of "
            f"{', '.join(who[u] for u in sorted(found))}: {'; '.join(places[:_MAX_LISTED])}{more} "
            f"({_NUMBERED[dataset]}, as Prepared.trial). A constant (flat) channel or window has undefined "
            "skewness and kurtosis (NaN, as scipy.stats gives), and the per-trial standardization spreads that "
            'NaN over the whole trial. Pass nonfinite="drop" to leave these trials out, or nonfinite="impute" to '
            "set the undefined statistics to 0 before standardizing (CLI: --nonfinite drop|impute).")


def prepare(source: DataSource | None = None, *, standardization: str = "trial", window: int | None = None,
            cache: str | os.PathLike | None = None, force: bool = False, progress: bool = True,
            nonfinite: str = "error", data_identity: str = "stat") -> Prepared:
    """Reduce every trial of ``source`` (default :func:`resolve_source`'s) to (32, 99) features, with caching.

    ``standardization``: see :func:`deap_lib.data.features.extract_features`; ``window``: default 807
    (DEAP), 1614 (MAHNOB-HCI); ``cache``: default :func:`deap_lib.store.cache_dir`. ``data_identity``:
    a real file is known by its path, size, inode and times ("stat": free, changed by any rewrite) or
    SHA-256 ("content": copies share results). ``nonfinite``: trials with NaN or inf features raise
    :class:`NonFiniteFeaturesError` ("error"), are left out ("drop"), or have their non-finite
    statistics set to 0 (the skewness and kurtosis of a symmetric, normal-like signal) and are
    standardized as usual ("impute"); the cache holds the features before this step.
    """
    for name, value, allowed in (("nonfinite", nonfinite, NONFINITE_POLICIES),
                                 ("standardization", standardization, features.STANDARDIZATIONS),
                                 ("data_identity", data_identity, IDENTITIES)):
        if value not in allowed:
            raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
    source = source or resolve_source()
    params = {"standardization": standardization, "window": window, "data": source.key()}
    units, skipped = (_mahnob_units if source.dataset == "mahnob" else _deap_units)(source, data_identity)
    store, parts, found = Store(cache), {}, {}
    keys = {u: entry_key("features", [params, ident]) for u, _, ident, _, _ in units}
    stored = {u: None if force else store.read_arrays("features", keys[u]) for u in keys}
    missing = sum(arrays is None for arrays in stored.values())
    with tqdm(total=missing, desc="preparing features", unit="subject" if source.dataset == "mahnob" else
              "participant", disable=not progress or not missing) as bar:
        for u, _, _, _, compute in units:
            eeg = None
            if stored[u] is None:  # computed and stored as computed, before the nonfinite policy
                eeg, ratings, extra = compute()
                feats = (features.extract_features(eeg, standardization=standardization, window=window) if len(eeg)
                         else np.empty((0, deap_format.N_EEG, features.N_FEATURES)))
                stored[u] = {"features": feats, "ratings": np.asarray(ratings, dtype=np.float64), **extra}
                store.write_arrays("features", keys[u], **stored[u])
                bar.update()
            *parts[u], found[u] = _settle(stored[u], eeg, compute, nonfinite, standardization, window)
            if "skipped_session" in stored[u]:  # a MAHNOB twin's entry holds the subject's skipped sessions
                a = stored[u]
                skipped += [(int(sid), u, str(kind), str(reason)) for sid, kind, reason in
                            zip(a["skipped_session"], a["skipped_kind"], a["skipped_reason"])]
    if source.dataset == "mahnob" and not any(len(ratings) for _, ratings, _ in parts.values()):  # the twin's
        raise mahnob_format.MAHNOBFormatError(f"{source.describe()}: no usable session")  # (a folder's scan raises)
    who = {u: name for u, _, _, name, _ in units}
    found = {u: places for u, places in found.items() if places}
    where = tuple((u, t, c) for u in sorted(found) for t, c, _ in found[u])
    if found and nonfinite == "error":
        raise NonFiniteFeaturesError(_nonfinite_message(found, who, source.dataset), where)
    feats, ratings, trial = (np.concatenate(column) for column in zip(*parts.values()))
    if nonfinite == "impute" and where and not np.isfinite(feats).all():
        # Only possible where the standardization itself overflowed: never hand on a NaN.
        raise NonFiniteFeaturesError(f"nonfinite=\"impute\" left non-finite features in "
                                     f"{', '.join(who[u] for u in sorted(found))}; use nonfinite=\"drop\"", where)
    contents = {label: ident for _, label, ident, _, _ in units}
    key = {"params": params, "contents": contents}
    if where:  # only then: clean data keep the identity (and the cached results) they had
        key["nonfinite"] = {"policy": nonfinite, "where": where}
    participant = np.repeat(np.array(list(parts), dtype=np.int64), [len(part[1]) for part in parts.values()])
    return Prepared(feats, ratings, participant, trial, source, standardization, stable_hash(key),
                    files=contents if source.kind in ("deap", "mahnob") else {}, nonfinite_policy=nonfinite,
                    nonfinite=where, identified_by=data_identity, skipped=tuple(sorted(skipped)))


def _deap_units(source: DataSource, data_identity: str) -> tuple[list, list]:
    """``(participant, contents key, identity, name in messages, compute)`` of every DEAP participant,
    and no skipped session; ``compute()``: EEG (40, 32, 8064), ratings, arrays stored with them (none)."""
    if source.kind == "deap":
        entries = [(pid, file_identity(path, data_identity), f"s{pid:02d} ({path})")
                   for pid, path in deap_format.find_participants(source.root, source.participants)]
    else:
        pids = source.participants or tuple(range(1, deap_format.N_PARTICIPANTS + 1))
        entries = [(pid, {"twin": source.key(), "pid": pid}, f"s{pid:02d} of the twin") for pid in pids]

    def compute(pid):
        data, ratings = raw_participant(source, pid)
        return data[:, : deap_format.N_EEG], ratings, {}

    return [(pid, f"s{pid:02d}", ident, who, functools.partial(compute, pid)) for pid, ident, who in entries], []


def _mahnob_units(source: DataSource, data_identity: str) -> tuple[list, list]:
    """As :func:`_deap_units` for MAHNOB-HCI subjects (``trial``: session ids), and the sessions a real
    folder's scan skipped; the twin's entries hold the skipped sessions too (a second call writes nothing)."""
    if source.kind == "mahnob":
        scan = mahnob_format.scan_sessions(source.root, subjects=source.participants)
        by_subject: dict[int, list] = {}
        for session in scan.sessions:
            by_subject.setdefault(session.subject, []).append(session)
        units = [(subject, f"subject {subject}",
                  [[s.session_id, file_identity(s.path, data_identity), file_identity(s.xml, data_identity)]
                   for s in sessions],
                  f"subject {subject} ({scan.root})", functools.partial(_read_sessions, sessions))
                 for subject, sessions in sorted(by_subject.items())]
        return units, [(k.session_id, k.subject, k.kind, k.reason) for k in scan.skipped]
    subjects = sorted(source.participants or range(1, mahnob_format.N_SUBJECTS + 1))
    return [(subject, f"subject {subject}", {"twin": source.key(), "subject": subject},
             f"subject {subject} of the MAHNOB-HCI twin", functools.partial(_mahnob_twin_subject, source, subject))
            for subject in subjects], []


def _read_sessions(sessions) -> tuple[np.ndarray, np.ndarray, dict]:
    """EEG (n, 32, 16128) (``mahnob_format.read_eeg``), ratings (n, 4), ``{"trial": session ids}`` of ``sessions``."""
    eeg = np.empty((len(sessions), mahnob_format.N_EEG, mahnob_format.N_USED))
    for row, session in enumerate(sessions):
        eeg[row] = mahnob_format.read_eeg(session.path)
    ratings = np.array([s.ratings for s in sessions], dtype=np.float64).reshape(len(sessions), 4)
    return eeg, ratings, {"trial": np.array([s.session_id for s in sessions], dtype=np.int64)}


def _mahnob_twin_subject(source: DataSource, subject: int) -> tuple[np.ndarray, np.ndarray, dict]:
    """A MAHNOB-HCI twin subject written to a temporary folder and read back, its skips as arrays (never pickled)."""
    with tempfile.TemporaryDirectory(prefix="deap_lib-mahnob-twin-") as tmp:
        synthetic.write_mahnob_twin(tmp, seed=source.twin_seed, effect=source.twin_effect, subjects=[subject],
                                    progress=False)
        scan = mahnob_format.scan_sessions(tmp, required=False)
        eeg, ratings, extra = _read_sessions(scan.sessions)
    return eeg, ratings, {**extra, "skipped_session": np.array([k.session_id for k in scan.skipped], dtype=np.int64),
                          "skipped_kind": np.array([k.kind for k in scan.skipped], dtype=str),
                          "skipped_reason": np.array([k.reason for k in scan.skipped], dtype=str)}


def raw_participant(source: DataSource, pid: int) -> tuple[np.ndarray, np.ndarray]:
    """The raw arrays of one participant of a DEAP ``source``: data (40, 40, 8064), labels (40, 4)."""
    if source.dataset != "deap":
        raise ValueError(f"raw_participant reads DEAP participants; {source.describe()} has sessions "
                         "(see deap_lib.data.mahnob_format.read_eeg)")
    if source.kind == "deap":
        return deap_format.read_participant(deap_format.participant_path(source.root, pid))
    return synthetic.twin_participant(pid, seed=source.twin_seed, effect=source.twin_effect)
