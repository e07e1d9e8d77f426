"""The prepared feature set: raw participants (real DEAP or the twin) -> (n_trials, 32, 99).

MAHNOB-HCI goes through the same pipeline (``dataset="mahnob"``): one row per usable session, the
32 EEG channels' middle 16128 samples (average referenced; :mod:`deap_lib.data.mahnob_format`)
reduced with windows of 1614, cached one subject per entry; without a MAHNOB-HCI folder, its twin
is written to a temporary folder one subject at a time and read back with the same reader.

``prepare`` reduces one participant at a time and stores each in the cache
(:class:`deap_lib.store.Store`, kind ``features``), keyed by the data's identity and every
preparation parameter. Entries are written atomically and verified when read, so a killed run
leaves only finished participants, a re-run resumes from them, a damaged entry is computed again,
and a complete second call only loads the cache. A DEAP file is identified by its path, size,
inode and times (:func:`deap_lib.store.file_identity`), or by its SHA-256 with
``data_identity="content"``.

A constant EEG channel (or window) has undefined skewness and kurtosis (NaN), and the per-trial
standardization spreads that NaN over the whole trial. ``prepare`` checks every participant,
computed or cached, and by default raises :class:`NonFiniteFeaturesError` naming the trials and
channels; ``nonfinite="drop"`` or ``"impute"`` proceed (see :func:`prepare`).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
from tqdm import tqdm

from deap_lib.data import deap_format, features, mahnob_format, synthetic
from deap_lib.data.labels import binarize
from deap_lib.store import IDENTITIES, Store, entry_key, file_identity, stable_hash

#: What :func:`prepare` does with trials whose features are not finite; the first is the default.
NONFINITE_POLICIES = ("error", "drop", "impute")
#: How many (participant, trial, channel) places an error message lists before "and N more".
_MAX_LISTED = 5
#: The datasets a source can be of, and the dataset of each kind of source.
DATASETS = ("deap", "mahnob")
SOURCE_KINDS = {"twin": "deap", "deap": "deap", "mahnob": "mahnob", "mahnob-twin": "mahnob"}


#: Skipped MAHNOB-HCI sessions listed in :meth:`Prepared.describe` (all are counted by kind).
SKIPPED_DESCRIBED = 5


class NonFiniteFeaturesError(ValueError):
    """Some trials' features are NaN or inf (``prepare(..., nonfinite="error")``, the default).

    The message names the participant(s) and file(s), the trial(s) (0-based, as
    :attr:`Prepared.trial`) and EEG channel(s), what was non-finite, and the ``nonfinite``
    options. :attr:`where` holds every ``(participant, trial, channel_name)``.
    """

    def __init__(self, message: str, where: tuple = ()):
        super().__init__(message)
        self.where = where


@dataclass(frozen=True)
class DataSource:
    """Which data a run reads: the synthetic DEAP twin (default), a real DEAP folder, a real
    MAHNOB-HCI folder or the MAHNOB-HCI twin (kinds "twin", "deap", "mahnob", "mahnob-twin")."""

    kind: str = "twin"  # "twin", "deap", "mahnob" or "mahnob-twin"
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
        if self.dataset == "mahnob":
            return self._describe_mahnob()
        who = "all participants" if self.participants is None else f"participants {list(self.participants)}"
        if self.kind == "deap":
            return f"real DEAP from {self.root} ({who})"
        return (
            f"synthetic DEAP twin (seed {self.twin_seed}, effect {self.twin_effect}, {who}); "
            "numbers on it are not DEAP results"
        )

    def _describe_mahnob(self) -> str:
        if self.kind == "mahnob":
            who = "all subjects" if self.participants is None else f"subjects {list(self.participants)}"
            return f"real MAHNOB-HCI from {self.root} ({who})"
        n = sum(fault is None for *_, fault in synthetic.mahnob_twin_plan(self.participants))
        who = "" if self.participants is None else f", subjects {list(self.participants)}"
        return (
            f"synthetic MAHNOB-HCI twin (seed {self.twin_seed}, effect {self.twin_effect}{who}, {n} sessions); "
            "numbers on it are not MAHNOB-HCI results"
        )

    def key(self) -> dict:
        """What identifies the data for caching (the data files' own identity is added per file;
        the twins' generative model is in the code fingerprint of every features key)."""
        if self.kind in ("deap", "mahnob"):
            return {"kind": self.kind}
        if self.kind == "mahnob-twin":
            return {
                "kind": "mahnob-twin",
                "seed": self.twin_seed,
                "effect": self.twin_effect,
            }
        return {
            "kind": "twin",
            "seed": self.twin_seed,
            "effect": self.twin_effect,
        }


def resolve_source(
    deap_dir: str | os.PathLike | None = None,
    *,
    participants: list[int] | tuple[int, ...] | None = None,
    twin_seed: int = synthetic.DEFAULT_SEED,
    twin_effect: float = synthetic.DEFAULT_EFFECT,
    dataset: str = "deap",
    mahnob_dir: str | os.PathLike | None = None,
) -> DataSource:
    """Real DEAP when ``deap_dir`` (or ``$DEAP_DIR``) names a folder, else the twin.

    With ``dataset="mahnob"``: real MAHNOB-HCI when ``mahnob_dir`` (or ``$MAHNOB_DIR``) names a
    folder, else the MAHNOB-HCI twin; ``participants`` are then subject ids in 1..30.
    """
    if dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {DATASETS}, got {dataset!r}")
    if dataset == "mahnob":
        if deap_dir:
            raise ValueError(f"deap_dir ({deap_dir}) names a DEAP folder but dataset is 'mahnob'; "
                             f"pass mahnob_dir or set ${mahnob_format.MAHNOB_DIR_ENV} instead")
        return _resolve_mahnob(mahnob_dir, participants, twin_seed, twin_effect)
    if mahnob_dir:
        raise ValueError(f"mahnob_dir ({mahnob_dir}) names a MAHNOB-HCI folder but dataset is 'deap'; "
                         "pass dataset='mahnob' (CLI: --dataset mahnob)")
    root = deap_format.resolve_deap_dir(deap_dir or None, required=False)  # its errors name $DEAP_DIR
    pids = None if participants is None else tuple(sorted(int(p) for p in participants))
    if pids is not None:
        bad = [p for p in pids if not 1 <= p <= deap_format.N_PARTICIPANTS]
        if bad or len(set(pids)) != len(pids):
            raise ValueError(f"participants must be distinct numbers in 1..32, got {list(participants)}")
    if root is not None:
        if pids is None:  # name exactly the participants present, so a gap is never "all participants"
            pids = tuple(pid for pid, _ in deap_format.find_participants(root))
            pids = None if len(pids) == deap_format.N_PARTICIPANTS else pids
        return DataSource(kind="deap", root=str(root), participants=pids)
    return DataSource(participants=pids, twin_seed=int(twin_seed), twin_effect=float(twin_effect))


def _resolve_mahnob(mahnob_dir, participants, twin_seed, twin_effect) -> DataSource:
    """:func:`resolve_source` for ``dataset="mahnob"``."""
    root = mahnob_format.resolve_mahnob_dir(mahnob_dir or None, required=False)  # its errors name $MAHNOB_DIR
    subjects = None if participants is None else tuple(sorted(int(p) for p in participants))
    if subjects is not None:
        bad = [s for s in subjects if not 1 <= s <= mahnob_format.N_SUBJECTS]
        if bad or not subjects or len(set(subjects)) != len(subjects):
            raise ValueError(f"participants (MAHNOB-HCI subject ids) must be distinct numbers in "
                             f"1..{mahnob_format.N_SUBJECTS}, got {list(participants)}")
    if root is not None:
        return DataSource(kind="mahnob", root=str(root), participants=subjects)
    return DataSource(kind="mahnob-twin", participants=subjects, twin_seed=int(twin_seed),
                      twin_effect=float(twin_effect))


@dataclass(frozen=True)
class Prepared:
    """Reduced features of every trial, with what identifies each row.

    Attributes
    ----------
    features : ndarray of float64, shape (n_trials, 32, 99)
    ratings : ndarray of float64, shape (n_trials, 4)
        Valence, arousal, dominance, liking on 1-9 (MAHNOB-HCI: feltVlnc, feltArsl, feltCtrl,
        feltPred).
    participant : ndarray of int64, shape (n_trials,)
        1-based participant number of each row (rows ordered by participant, then trial);
        MAHNOB-HCI: the subject id.
    trial : ndarray of int64, shape (n_trials,)
        0-based trial number within the participant; MAHNOB-HCI: the session id (the
        ``Sessions/<id>`` folder; rows ordered by subject, then session id).
    source : DataSource
    standardization : str
    identity : str
        Hash of what identifies the data read (each DEAP file's identity, see ``identified_by``;
        the generator settings for the twin) and of the preparation parameters; also of ``nonfinite_policy`` and ``nonfinite`` when
        trials were dropped or imputed (only then, so it is unchanged for clean data).
    files : dict
        ``{"sNN": identity of the file}`` for real DEAP (:func:`deap_lib.store.file_identity`);
        ``{"subject N": [[session id, BDF identity, session.xml identity], ...]}`` for real
        MAHNOB-HCI; else empty.
    nonfinite_policy : {"error", "drop", "impute"}
        The ``nonfinite`` argument of :func:`prepare`.
    identified_by : {"stat", "content"}
        How DEAP (or MAHNOB-HCI) files were identified (the ``data_identity`` argument of :func:`prepare`).
    nonfinite : tuple of (int, int, str or None)
        ``(participant, trial, channel_name)`` of every EEG channel whose features were non-finite,
        trial 0-based as in ``trial``; those trials were dropped or imputed per
        ``nonfinite_policy``. Channel None: no channel's unstandardized statistics were
        non-finite (the standardization itself was). Empty when every feature was finite.
    skipped : tuple of (int, int or None, str, str)
        MAHNOB-HCI: ``(session id, subject or None, kind, reason)`` of every session left out,
        kind one of :data:`deap_lib.data.mahnob_format.SKIP_KINDS` (see :meth:`data_note`).
        Empty for DEAP.
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
        """JSON-ready description stored with every result computed on these features.

        MAHNOB-HCI's skipped sessions are summarised (``"skipped"``): their number, counts by kind,
        the first :data:`SKIPPED_DESCRIBED` by session id and the :meth:`data_note` line; the
        whole list stays in :attr:`skipped`.
        """
        described = {
            "source": asdict(self.source),
            "description": self.source.describe(),
            "standardization": self.standardization,
            "identity": self.identity,
            "n_trials": int(self.features.shape[0]),
            "files": self.files,
            "identified_by": self.identified_by,
            "nonfinite": {
                "policy": self.nonfinite_policy,
                "n_trials": len(self._nonfinite_trials()),
                "where": [{"participant": p, "trial": t, "channel": c} for p, t, c in self.nonfinite],
            },
        }
        if self.source.dataset == "mahnob":  # counts and the first few: a folder may hold 1000s of bad sessions
            described["skipped"] = {
                "n_sessions": len(self.skipped),
                "counts": mahnob_format.skip_counts(kind for *_, kind, _ in self.skipped),
                "first_sessions": [{"session": sid, "subject": subject, "kind": kind, "reason": reason}
                                   for sid, subject, kind, reason in self.skipped[:SKIPPED_DESCRIBED]],
                "note": self.data_note(),
            }
        return described

    def data_note(self) -> str:
        """One line on which recordings were used, for a page or the CLI; "" for DEAP.

        MAHNOB-HCI: e.g. ``"546 usable sessions of 29 subjects, 54 skipped: 23 no recording, 14 too
        short, ..."`` (sessions dropped for non-finite features count as usable here; see
        :meth:`nonfinite_note`).
        """
        if self.source.dataset != "mahnob":
            return ""
        dropped = self._nonfinite_trials() if self.nonfinite_policy == "drop" else []
        subjects = set(self.participant.tolist()) | {p for p, _ in dropped}
        counts = mahnob_format.skip_counts(kind for *_, kind, _ in self.skipped)
        return mahnob_format.skip_summary(len(self.trial) + len(dropped), len(subjects), counts)

    def _nonfinite_trials(self) -> list[tuple[int, int]]:
        return sorted({(p, t) for p, t, _ in self.nonfinite})

    def nonfinite_note(self) -> str:
        """One sentence for a page or the CLI on dropped/imputed trials; "" when there were none.

        E.g. ``"1 trial dropped for non-finite features (trials 0-based): s02 trial 7 (Fz)."``;
        MAHNOB-HCI: ``"... (sessions by id): subject 3 session 1234 (Fz)."``.
        """
        trials = self._nonfinite_trials()
        if not trials:
            return ""
        done = {"drop": "dropped", "impute": "imputed"}.get(self.nonfinite_policy, self.nonfinite_policy)
        channels = {}
        for p, t, c in self.nonfinite:
            channels.setdefault((p, t), []).append(c or "standardization")
        places = "; ".join(f"{_place(self.source.dataset, p, t)} ({', '.join(channels[p, t])})" for p, t in trials)
        return (
            f"{len(trials)} trial{'s' if len(trials) != 1 else ''} {done} for non-finite features "
            f"({_NUMBERED[self.source.dataset]}): {places}."
        )


#: How :attr:`Prepared.trial` numbers a dataset's rows, as the messages say it.
_NUMBERED = {"deap": "trials 0-based", "mahnob": "sessions by id"}


def _place(dataset: str, participant: int, trial: int) -> str:
    """A row's name in messages: "s02 trial 7" (DEAP) or "subject 3 session 1234" (MAHNOB-HCI)."""
    if dataset == "mahnob":
        return f"subject {participant} session {trial}"
    return f"s{participant:02d} trial {trial}"


def _reduction(eeg: np.ndarray, standardization: str, window: int | None) -> np.ndarray:
    """The unstandardized reduction that ``standardization`` goes on to standardize.

    :func:`deap_lib.data.features.extract_features` up to its last step: "report-prose" standardizes
    the raw trials before reducing them, the other methods reduce the raw trials.

    Parameters
    ----------
    eeg : ndarray, shape (n_trials, 32, n_samples)

    Returns
    -------
    reduced : ndarray of float64, shape (n_trials, 32, 99)
    """
    if standardization == "report-prose":
        eeg = features.standardize_trials(eeg)
    return features.extract_features(eeg, standardization="none", window=window)


def _what(stats: np.ndarray, samples: np.ndarray) -> str:
    """What is non-finite in one channel's 99 statistics, e.g. "constant: NaN skew, kurtosis".

    Parameters
    ----------
    stats : ndarray, shape (99,)
        The channel's unstandardized statistics.
    samples : ndarray, shape (n_samples,)
        The channel's raw samples.
    """
    grid = stats.reshape(features.N_WINDOWS + 1, len(features.STAT_NAMES))  # windows, then all
    bad = ~np.isfinite(grid)
    names = ", ".join(features.STAT_NAMES[j] for j in np.flatnonzero(bad.any(axis=0)))
    kinds = "/".join(k for k, hit in (("NaN", np.isnan(grid)), ("inf", np.isinf(grid))) if hit.any())
    if np.ptp(samples) == 0:
        return f"constant: {kinds} {names}"
    n = int(bad[: features.N_WINDOWS].any(axis=1).sum())
    whole = " and over the whole channel" if bad[-1].any() else ""
    return f"{kinds} {names} in {n} of its {features.N_WINDOWS} windows{whole}"


def _locate(
    reduced: np.ndarray, eeg: np.ndarray, trials: np.ndarray
) -> list[tuple[int, int | None, str]]:
    """``(trial, channel, what)`` of every channel with non-finite unstandardized statistics.

    The standardized features cannot tell the channel: a NaN in one channel makes its whole
    trial NaN. A trial whose statistics are all finite (its standardization alone gave a
    non-finite value) appears once with channel None.

    Parameters
    ----------
    reduced : ndarray, shape (n, 32, 99)
        Unstandardized reduction (:func:`_reduction`) of the affected trials.
    eeg : ndarray, shape (n, 32, n_samples)
        Their raw EEG.
    trials : ndarray of int, shape (n,)
        Their 0-based trial numbers in the participant's file.
    """
    out = []
    for row, trial in enumerate(trials):
        channels = np.flatnonzero(~np.isfinite(reduced[row]).all(axis=1))
        if not len(channels):
            out.append((int(trial), None, "finite statistics, non-finite after standardization"))
        out += [(int(trial), int(c), _what(reduced[row, c], eeg[row, c])) for c in channels]
    return out


def _settle(
    feats: np.ndarray,
    ratings: np.ndarray,
    eeg_of: Callable[[], np.ndarray],
    policy: str,
    standardization: str,
    window: int | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[tuple[int, int | None, str]]]:
    """Find one participant's non-finite trials and apply ``policy`` to them.

    Parameters
    ----------
    feats : ndarray, shape (40, 32, 99)
        The participant's features as computed or cached.
    ratings : ndarray, shape (40, 4)
    eeg_of : callable
        Returns the participant's raw data (40, 40, n_samples); called only when some feature
        is non-finite (it may read the file again).
    policy, standardization, window
        As in :func:`prepare`.

    Returns
    -------
    feats : ndarray, shape (n_kept, 32, 99)
    ratings : ndarray, shape (n_kept, 4)
    trial : ndarray of int64, shape (n_kept,)
        0-based trial numbers of the rows kept.
    found : list of (trial, channel or None, what)
        Empty when every feature is finite; with ``policy="error"`` the data come back unchanged.
    """
    trial = np.arange(len(ratings), dtype=np.int64)
    if np.isfinite(feats).all():  # the usual case costs one pass over the features
        return feats, ratings, trial, []
    bad = np.flatnonzero(~np.isfinite(feats.reshape(len(feats), -1)).all(axis=1))
    eeg = eeg_of()[bad, : deap_format.N_EEG]
    reduced = _reduction(eeg, standardization, window)
    found = _locate(reduced, eeg, bad)
    if policy == "drop":
        keep = np.setdiff1d(trial, bad)
        return feats[keep], ratings[keep], keep, found
    if policy == "impute":
        # Skewness and kurtosis of a constant are undefined; 0 is their value for a symmetric,
        # normal-like signal, and it lets the trial's standardization run as usual.
        reduced[~np.isfinite(reduced)] = 0.0
        feats = feats.copy()
        feats[bad] = features.standardize_reduced(reduced, standardization)
    return feats, ratings, trial, found


def _nonfinite_message(found: dict, who: dict, dataset: str = "deap") -> str:
    """The one-line message of :class:`NonFiniteFeaturesError` (no newline: the CLI prints it)."""
    places = [
        f"{_place(dataset, pid, trial)}{'' if c is None else f' channel {deap_format.EEG_CHANNELS[c]}'} ({what})"
        for pid in sorted(found)
        for trial, c, what in found[pid]
    ]
    listed = "; ".join(places[:_MAX_LISTED])
    if len(places) > _MAX_LISTED:
        listed += f"; and {len(places) - _MAX_LISTED} more"
    n_trials = sum(len({t for t, _, _ in found[pid]}) for pid in found)
    return (
        f"non-finite features in {n_trials} trial{'s' if n_trials != 1 else ''} of "
        f"{', '.join(who[pid] for pid in sorted(found))}: {listed} ({_NUMBERED[dataset]}, as Prepared.trial). "
        "A constant (flat) channel or window has undefined skewness and kurtosis (NaN, as scipy.stats "
        "gives), and the per-trial standardization spreads that NaN over the whole trial. "
        'Pass nonfinite="drop" to leave these trials out, or nonfinite="impute" to set the undefined '
        "statistics to 0 before standardizing (CLI: --nonfinite drop|impute)."
    )


def prepare(
    source: DataSource | None = None,
    *,
    standardization: str = "trial",
    window: int | None = None,
    cache: str | os.PathLike | None = None,
    force: bool = False,
    progress: bool = True,
    nonfinite: str = "error",
    data_identity: str = "stat",
) -> Prepared:
    """Reduce every trial of ``source`` to (32, 99) features, with caching.

    For MAHNOB-HCI a trial is a usable session (its EEG as
    :func:`deap_lib.data.mahnob_format.read_eeg` gives it), cached one subject per entry; a real
    folder is scanned every time (headers only), its skipped sessions recorded in
    :attr:`Prepared.skipped`. The MAHNOB-HCI twin is written one subject at a time to a temporary
    folder (deleted after) and read back with the same reader, only for subjects not cached.

    Parameters
    ----------
    source : DataSource, optional
        From :func:`resolve_source`; default: real DEAP if ``$DEAP_DIR`` is set, else the twin.
    standardization : {"trial", "report-prose", "none"}
        See :func:`deap_lib.data.features.extract_features`; "trial" is the report's code.
    window : int, optional
        Window length of the reduction (default 807 for DEAP's 8064 samples, 1614 for
        MAHNOB-HCI's 16128).
    cache : path, optional
        Cache root (default: :func:`deap_lib.store.cache_dir`).
    force : bool
        Recompute even when cached.
    progress : bool
        Show a progress bar over the participants computed.
    nonfinite : {"error", "drop", "impute"}
        What to do with trials whose features are NaN or inf, as a constant EEG channel (or
        window) gives: its skewness and kurtosis are undefined (NaN, as ``scipy.stats``), and the
        trial's standardization spreads the NaN over the whole trial. Every participant is
        checked, cached ones too. ``"error"`` (default): raise :class:`NonFiniteFeaturesError`.
        ``"drop"``: leave those trials out (features, ratings and ``trial`` rows).
        ``"impute"``: set the trial's non-finite unstandardized statistics to 0 (the skewness
        and excess kurtosis of a symmetric, normal-like signal), then standardize as usual.
        Either way the trials and channels are recorded in :attr:`Prepared.nonfinite`. The
        cache holds the features as computed, before this step, so the policy is not part of
        its key.
    data_identity : {"stat", "content"}
        How a real DEAP (or MAHNOB-HCI) file is identified in the cache and in :attr:`Prepared.identity` (which
        keys every stored run): "stat" (default) by its path, size, inode and times, free and
        changed by any rewrite; "content" by its SHA-256 (reads every file; copies of the data in
        other folders then share results). See :func:`deap_lib.store.file_identity`.

    Returns
    -------
    Prepared

    Raises
    ------
    NonFiniteFeaturesError
        With ``nonfinite="error"``, when some feature is not finite; the message names the
        participants (and files), trials (0-based) and channels.
    ValueError
        For an unknown ``nonfinite`` or ``standardization``.
    deap_lib.data.mahnob_format.MAHNOBFormatError
        MAHNOB-HCI: when no session (of the chosen subjects) is usable.
    """
    if nonfinite not in NONFINITE_POLICIES:
        raise ValueError(f"nonfinite must be one of {NONFINITE_POLICIES}, got {nonfinite!r}")
    if standardization not in features.STANDARDIZATIONS:
        raise ValueError(
            f"standardization must be one of {features.STANDARDIZATIONS}, got {standardization!r}"
        )
    if data_identity not in IDENTITIES:
        raise ValueError(f"data_identity must be one of {IDENTITIES}, got {data_identity!r}")
    source = source or resolve_source()
    params = {"standardization": standardization, "window": window, "data": source.key()}
    store = Store(cache)
    settle = dict(policy=nonfinite, standardization=standardization, window=window)
    collect = _collect_mahnob if source.dataset == "mahnob" else _collect_deap
    parts, found, who, contents, skipped = collect(
        source, params, store, settle, force=force, progress=progress, data_identity=data_identity
    )

    found = {pid: places for pid, places in found.items() if places}
    where = tuple(
        (pid, trial, None if c is None else deap_format.EEG_CHANNELS[c])
        for pid in sorted(found)
        for trial, c, _ in found[pid]
    )
    if found and nonfinite == "error":
        raise NonFiniteFeaturesError(_nonfinite_message(found, who, source.dataset), where)
    order = list(parts)
    feats = np.concatenate([parts[p][0] for p in order])
    if nonfinite == "impute" and where and not np.isfinite(feats).all():
        # Only possible where the standardization itself overflowed: never hand on a NaN.
        raise NonFiniteFeaturesError(
            f"nonfinite=\"impute\" left non-finite features in "
            f"{', '.join(who[p] for p in sorted(found))}; use nonfinite=\"drop\"",
            where,
        )
    ratings = np.concatenate([parts[p][1] for p in order])
    participant = np.repeat(np.array(order, dtype=np.int64), [len(parts[p][1]) for p in order])
    trial = np.concatenate([parts[p][2] for p in order])
    key = {"params": params, "contents": contents}
    if where:  # only then: clean data keep the identity (and the cached results) they had
        key["nonfinite"] = {"policy": nonfinite, "where": where}
    return Prepared(
        features=feats,
        ratings=ratings,
        participant=participant,
        trial=trial,
        source=source,
        standardization=standardization,
        identity=stable_hash(key),
        files=contents if source.kind in ("deap", "mahnob") else {},
        identified_by=data_identity,
        nonfinite_policy=nonfinite,
        nonfinite=where,
        skipped=skipped,
    )


def _features_per_unit(
    units: list, keys: dict, compute: Callable, store: Store, settle: dict, *, force: bool, progress: bool,
    unit: str,
) -> tuple[dict, dict, dict]:
    """The features of each cache unit (a DEAP participant, a MAHNOB-HCI subject), read from the
    cache or computed and stored, each checked by :func:`_settle`.

    ``compute(u)`` gives ``(eeg (n, 32, n_samples), ratings (n, 4), trial (n,), extra)``: the
    unit's EEG, ratings, each row's :attr:`Prepared.trial` and arrays stored with the features
    (``extra``; a stored ``trial`` replaces ``0 .. n-1``). Cached entries hold the features as
    computed (before the nonfinite policy), so each unit, cached or not, is checked here.

    Returns ``parts`` (``{u: [features, ratings, trial]}``, kept rows, in the order of ``units``),
    ``found`` (``{u: [(trial, channel, what)]}``) and ``stored`` (``{u: the entry's arrays}``).
    """
    parts, found, stored = {}, {}, {}

    def settled(u, arrays, eeg_of):
        trial = arrays.get("trial", np.arange(len(arrays["ratings"])))
        feats, ratings, rows, places = _settle(arrays["features"], arrays["ratings"], eeg_of, **settle)
        parts[u], stored[u] = [feats, ratings, trial[rows]], arrays
        found[u] = [(int(trial[row]), c, what) for row, c, what in places]

    for u in units:
        arrays = None if force else store.read_arrays("features", keys[u])
        if arrays is not None:
            settled(u, arrays, lambda: compute(u)[0])
    missing = [u for u in units if u not in parts]
    for u in tqdm(missing, desc="preparing features", unit=unit, disable=not progress or not missing):
        eeg, ratings, trial, extra = compute(u)
        if len(eeg):
            feats = features.extract_features(eeg, standardization=settle["standardization"], window=settle["window"])
        else:
            feats = np.empty((0, deap_format.N_EEG, features.N_FEATURES))
        arrays = {"features": feats, "ratings": np.asarray(ratings, dtype=np.float64), **extra}
        store.write_arrays("features", keys[u], **arrays)
        settled(u, arrays, lambda: eeg)
    return {u: parts[u] for u in units}, found, stored


def _collect_deap(
    source: DataSource, params: dict, store: Store, settle: dict, *, force: bool, progress: bool, data_identity: str
) -> tuple[dict, dict, dict, dict, tuple]:
    """Every DEAP participant's features, from the cache or computed (and stored).

    Returns
    -------
    parts : dict
        ``{pid: [features, ratings, trial]}`` after :func:`_settle`, in participant order.
    found : dict
        ``{pid: _settle's found}``.
    who : dict
        ``{pid: how messages name the participant}``.
    contents : dict
        ``{"sNN": what identifies the participant's data}`` (part of :attr:`Prepared.identity`).
    skipped : tuple
        Empty: DEAP has no sessions to skip.
    """
    if source.kind == "deap":
        found_files = deap_format.find_participants(
            source.root, None if source.participants is None else list(source.participants)
        )
        # (pid, what identifies the participant's data, its file)
        entries = [(pid, file_identity(p, data_identity), p) for pid, p in found_files]
    else:
        pids = source.participants or tuple(range(1, deap_format.N_PARTICIPANTS + 1))
        entries = [(pid, {"twin": source.key(), "pid": pid}, None) for pid in pids]
    keys = {pid: entry_key("features", [params, ident]) for pid, ident, _ in entries}
    who = {pid: f"s{pid:02d} ({raw})" if raw else f"s{pid:02d} of the twin" for pid, _, raw in entries}

    def compute(pid):
        data, ratings = raw_participant(source, pid)
        return data[:, : deap_format.N_EEG], ratings, np.arange(len(ratings), dtype=np.int64), {}

    parts, found, _ = _features_per_unit([pid for pid, _, _ in entries], keys, compute, store, settle,
                                         force=force, progress=progress, unit="participant")
    contents = {f"s{pid:02d}": ident for pid, ident, _ in entries}
    return parts, found, who, contents, ()


# --------------------------------------------------------------------------------------------
# MAHNOB-HCI: one cache entry per subject
# --------------------------------------------------------------------------------------------


def _read_sessions(sessions) -> np.ndarray:
    """The report's EEG of ``sessions`` (:func:`deap_lib.data.mahnob_format.read_eeg`), shape (n, 32, 16128)."""
    eeg = np.empty((len(sessions), mahnob_format.N_EEG, mahnob_format.N_USED))
    for row, session in enumerate(sessions):
        eeg[row] = mahnob_format.read_eeg(session.path)
    return eeg


def _session_arrays(sessions) -> tuple[np.ndarray, np.ndarray]:
    """Ratings (n, 4) and session ids (n,) of ``sessions``."""
    ratings = np.array([s.ratings for s in sessions], dtype=np.float64).reshape(len(sessions), 4)
    return ratings, np.array([s.session_id for s in sessions], dtype=np.int64)


def _mahnob_twin_subject(source: DataSource, subject: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """One subject of the MAHNOB-HCI twin, written to a temporary folder and read back as real data:
    its EEG (n_usable, 32, 16128), ratings, session ids, and its skipped sessions as arrays."""
    with tempfile.TemporaryDirectory(prefix="deap_lib-mahnob-twin-") as tmp:
        synthetic.write_mahnob_twin(
            tmp, seed=source.twin_seed, effect=source.twin_effect, subjects=[subject], progress=False
        )
        scan = mahnob_format.scan_sessions(tmp, required=False)
        eeg = _read_sessions(scan.sessions)
    ratings, sessions = _session_arrays(scan.sessions)
    return eeg, ratings, sessions, {"trial": sessions, **_skips_to_arrays(scan.skipped)}


def _collect_mahnob(
    source: DataSource, params: dict, store: Store, settle: dict, *, force: bool, progress: bool, data_identity: str
) -> tuple[dict, dict, dict, dict, tuple]:
    """Every MAHNOB-HCI subject's features, from the cache or computed (and stored); as :func:`_collect_deap`.

    A real folder is scanned every time (headers only): its sessions' files identify each
    subject's entry. The twin's entries are keyed by its parameters and hold the subject's
    skipped sessions too, so a complete second call writes nothing. Rows are sessions; the
    ``trial`` of each is its session id.
    """
    if source.kind == "mahnob":
        scan = mahnob_format.scan_sessions(source.root, subjects=source.participants)
        by_subject: dict[int, list] = {}
        for session in scan.sessions:
            by_subject.setdefault(session.subject, []).append(session)
        idents = {
            subject: [[s.session_id, file_identity(s.path, data_identity), file_identity(s.xml, data_identity)]
                      for s in sessions]
            for subject, sessions in by_subject.items()
        }
        who = {subject: f"subject {subject} ({scan.root})" for subject in by_subject}
        skipped = [(k.session_id, k.subject, k.kind, k.reason) for k in scan.skipped]

        def compute(subject):
            ratings, sessions = _session_arrays(by_subject[subject])
            return _read_sessions(by_subject[subject]), ratings, sessions, {"trial": sessions}
    else:
        subjects = source.participants or tuple(range(1, mahnob_format.N_SUBJECTS + 1))
        idents = {subject: {"twin": source.key(), "subject": subject} for subject in subjects}
        who = {subject: f"subject {subject} of the MAHNOB-HCI twin" for subject in subjects}
        skipped = []

        def compute(subject):
            return _mahnob_twin_subject(source, subject)

    keys = {subject: entry_key("features", [params, ident]) for subject, ident in idents.items()}
    subjects = sorted(idents)
    parts, found, stored = _features_per_unit(subjects, keys, compute, store, settle, force=force,
                                              progress=progress, unit="subject")
    for subject in subjects:
        skipped += _skips_from_arrays(subject, stored[subject])
    if not any(len(part[1]) for part in parts.values()):  # a real folder's scan has raised already
        raise mahnob_format.MAHNOBFormatError(f"{source.describe()}: no usable session")
    contents = {f"subject {subject}": idents[subject] for subject in subjects}
    return parts, found, who, contents, tuple(sorted(skipped))


def _skips_to_arrays(skips) -> dict[str, np.ndarray]:
    """Skipped sessions (:class:`~deap_lib.data.mahnob_format.Skipped`) as arrays a cache entry can
    hold (never pickled)."""
    return {
        "skipped_session": np.array([k.session_id for k in skips], dtype=np.int64),
        "skipped_kind": np.array([k.kind for k in skips], dtype=str),
        "skipped_reason": np.array([k.reason for k in skips], dtype=str),
    }


def _skips_from_arrays(subject: int, stored: dict) -> list[tuple[int, int, str, str]]:
    """The skipped sessions an entry holds (none for a real folder's: its scan lists them)."""
    if "skipped_session" not in stored:
        return []
    return [
        (int(sid), subject, str(kind), str(reason))
        for sid, kind, reason in zip(stored["skipped_session"], stored["skipped_kind"], stored["skipped_reason"])
    ]


def raw_participant(source: DataSource, pid: int) -> tuple[np.ndarray, np.ndarray]:
    """The raw arrays of one participant of a DEAP ``source``: data (40, 40, 8064), labels (40, 4)."""
    if source.dataset != "deap":
        raise ValueError(f"raw_participant reads DEAP participants; {source.describe()} has sessions "
                         "(see deap_lib.data.mahnob_format.read_eeg)")
    if source.kind == "deap":
        return deap_format.read_participant(deap_format.participant_path(source.root, pid))
    return synthetic.twin_participant(pid, seed=source.twin_seed, effect=source.twin_effect)
