"""The prepared feature set: raw participants (real DEAP or the twin) -> (n_trials, 32, 99).

``prepare`` reduces one participant at a time and caches each as ``.npz`` (no pickles) under
``<cache>/features/<key>/``, where the key holds the data's identity and every preparation
parameter. Files are written atomically, so a killed run leaves only finished participants and a
re-run resumes from them; a complete second call only loads the cache.
"""

from __future__ import annotations

import hashlib
import io as _bytesio
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from deap_lib import features, io, synthetic
from deap_lib.config import atomic_write_bytes, cache_dir, stable_hash
from deap_lib.labels import binarize

#: Bump when the reduction or the cache layout changes: part of every feature cache key.
FEATURES_VERSION = 1


@dataclass(frozen=True)
class DataSource:
    """Which data a run reads: the synthetic twin (default) or a real DEAP folder."""

    kind: str = "twin"  # "twin" or "deap"
    root: str | None = None  # the DEAP folder when kind == "deap"
    participants: tuple[int, ...] | None = None  # None: all (s01..s32)
    twin_seed: int = synthetic.DEFAULT_SEED
    twin_effect: float = synthetic.DEFAULT_EFFECT

    def describe(self) -> str:
        """One line for a page header: what data this is, said plainly."""
        who = "all participants" if self.participants is None else f"participants {list(self.participants)}"
        if self.kind == "deap":
            return f"real DEAP from {self.root} ({who})"
        return (
            f"synthetic DEAP twin (seed {self.twin_seed}, effect {self.twin_effect}, {who}); "
            "numbers on it are not DEAP results"
        )

    def key(self) -> dict:
        """What identifies the data for caching (the DEAP files' own identity is added per file)."""
        if self.kind == "deap":
            return {"kind": "deap"}
        return {
            "kind": "twin",
            "seed": self.twin_seed,
            "effect": self.twin_effect,
            "twin_version": synthetic.TWIN_VERSION,
        }


def resolve_source(
    deap_dir: str | os.PathLike | None = None,
    *,
    participants: list[int] | tuple[int, ...] | None = None,
    twin_seed: int = synthetic.DEFAULT_SEED,
    twin_effect: float = synthetic.DEFAULT_EFFECT,
) -> DataSource:
    """Real DEAP when ``deap_dir`` (or ``$DEAP_DIR``) names a folder, else the twin."""
    deap_dir = deap_dir or os.environ.get(io.DEAP_DIR_ENV) or None
    pids = None if participants is None else tuple(sorted(int(p) for p in participants))
    if pids is not None:
        bad = [p for p in pids if not 1 <= p <= io.N_PARTICIPANTS]
        if bad or len(set(pids)) != len(pids):
            raise ValueError(f"participants must be distinct numbers in 1..32, got {list(participants)}")
    if deap_dir:
        root = io.resolve_deap_dir(deap_dir)
        return DataSource(kind="deap", root=str(root), participants=pids)
    return DataSource(participants=pids, twin_seed=int(twin_seed), twin_effect=float(twin_effect))


@dataclass(frozen=True)
class Prepared:
    """Reduced features of every trial, with what identifies each row.

    Attributes
    ----------
    features : ndarray of float64, shape (n_trials, 32, 99)
    ratings : ndarray of float64, shape (n_trials, 4)
        Valence, arousal, dominance, liking on 1-9.
    participant : ndarray of int64, shape (n_trials,)
        1-based participant number of each row (rows ordered by participant, then trial).
    trial : ndarray of int64, shape (n_trials,)
        0-based trial number within the participant.
    source : DataSource
    standardization : str
    identity : str
        Hash of the data actually read (file contents for DEAP, generator settings for the twin)
        and of the preparation parameters.
    """

    features: np.ndarray
    ratings: np.ndarray
    participant: np.ndarray
    trial: np.ndarray
    source: DataSource
    standardization: str
    identity: str
    files: dict = field(default_factory=dict)

    def labels(self, target: str) -> np.ndarray:
        """Binary labels (1 = rating >= 5) of ``target`` for every row, shape (n_trials,)."""
        return binarize(self.ratings, target)

    def describe(self) -> dict:
        """JSON-ready description stored with every result computed on these features."""
        return {
            "source": asdict(self.source),
            "description": self.source.describe(),
            "standardization": self.standardization,
            "identity": self.identity,
            "n_trials": int(self.features.shape[0]),
            "files": self.files,
        }


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def _save(path: Path, feats: np.ndarray, ratings: np.ndarray, meta: dict) -> None:
    buf = _bytesio.BytesIO()
    np.savez(buf, features=feats, ratings=ratings, meta=np.array(json.dumps(meta)))
    atomic_write_bytes(path, lambda f: f.write(buf.getvalue()))


def _load(path: Path) -> tuple[np.ndarray, np.ndarray, dict] | None:
    """A cached participant, or None when missing or unreadable (then it is recomputed)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            return z["features"], z["ratings"], json.loads(str(z["meta"]))
    except (OSError, ValueError, KeyError):
        return None


def prepare(
    source: DataSource | None = None,
    *,
    standardization: str = "trial",
    window: int | None = None,
    cache: str | os.PathLike | None = None,
    force: bool = False,
    progress: bool = True,
) -> Prepared:
    """Reduce every trial of ``source`` to (32, 99) features, with caching.

    Parameters
    ----------
    source : DataSource, optional
        From :func:`resolve_source`; default: real DEAP if ``$DEAP_DIR`` is set, else the twin.
    standardization : {"trial", "report-prose", "none"}
        See :func:`deap_lib.features.extract_features`; "trial" is the report's code.
    window : int, optional
        Window length of the reduction (default 807 for DEAP's 8064 samples).
    cache : path, optional
        Cache root (default: :func:`deap_lib.config.cache_dir`).
    force : bool
        Recompute even when cached.

    Returns
    -------
    Prepared
    """
    if standardization not in features.STANDARDIZATIONS:
        raise ValueError(
            f"standardization must be one of {features.STANDARDIZATIONS}, got {standardization!r}"
        )
    source = source or resolve_source()
    params = {
        "features_version": FEATURES_VERSION,
        "standardization": standardization,
        "window": window,
        "data": source.key(),
    }
    folder = cache_dir(cache) / "features" / stable_hash(params)

    if source.kind == "deap":
        todo = io.find_participants(source.root, None if source.participants is None else list(source.participants))
        # A file's size and modification time name its cache entry; its content hash is recorded.
        entries = [
            (pid, folder / f"s{pid:02d}-{stable_hash([p.stat().st_size, p.stat().st_mtime_ns], length=12)}.npz", p)
            for pid, p in todo
        ]
    else:
        pids = source.participants or tuple(range(1, io.N_PARTICIPANTS + 1))
        entries = [(pid, folder / f"s{pid:02d}.npz", None) for pid in pids]

    parts = {}
    for pid, path, _ in entries:
        loaded = None if force else _load(path)
        if loaded is not None:
            parts[pid] = loaded
    missing = [e for e in entries if e[0] not in parts]
    for pid, path, raw_path in tqdm(
        missing, desc="preparing features", unit="participant", disable=not progress or not missing
    ):
        if raw_path is None:
            data, ratings = synthetic.twin_participant(pid, seed=source.twin_seed, effect=source.twin_effect)
            meta = {"pid": pid, "content": stable_hash([source.key(), pid], length=64)}
        else:
            data, ratings = io.read_participant(raw_path)
            meta = {"pid": pid, "file": raw_path.name, "content": _sha256(raw_path)}
        feats = features.extract_features(data[:, : io.N_EEG], standardization=standardization, window=window)
        ratings = np.asarray(ratings, dtype=np.float64)
        _save(path, feats, ratings, meta)
        parts[pid] = (feats, ratings, meta)

    order = [pid for pid, _, _ in entries]
    feats = np.concatenate([parts[p][0] for p in order])
    ratings = np.concatenate([parts[p][1] for p in order])
    participant = np.repeat(np.array(order, dtype=np.int64), [len(parts[p][1]) for p in order])
    trial = np.concatenate([np.arange(len(parts[p][1]), dtype=np.int64) for p in order])
    contents = {f"s{p:02d}": parts[p][2]["content"] for p in order}
    identity = stable_hash({"params": params, "contents": contents})
    return Prepared(
        features=feats,
        ratings=ratings,
        participant=participant,
        trial=trial,
        source=source,
        standardization=standardization,
        identity=identity,
        files=contents if source.kind == "deap" else {},
    )


def raw_participant(source: DataSource, pid: int) -> tuple[np.ndarray, np.ndarray]:
    """The raw arrays of one participant of ``source``: data (40, 40, 8064), labels (40, 4)."""
    if source.kind == "deap":
        return io.read_participant(io.participant_path(source.root, pid))
    return synthetic.twin_participant(pid, seed=source.twin_seed, effect=source.twin_effect)
