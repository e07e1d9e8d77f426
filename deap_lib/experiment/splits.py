"""Train/test splits of the prepared dataset, computed once from an integer seed and kept with the results.

A :class:`Split` holds sorted row indices into the prepared dataset (rows ordered by participant, then
trial: row ``40 * (p - 1) + t`` for DEAP). Schemes: the report's seeded random 1180/100 split
(:func:`fixed_split`); its random k-fold, participants mixed, so subject-dependent (:func:`kfold_splits`);
leave-one-subject-out (:func:`loso_splits`); Dietterich's 5x2cv (:func:`five_by_two_splits`).
:func:`validation_split` holds validation rows out of the training rows only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import GroupShuffleSplit, KFold, LeaveOneGroupOut, StratifiedKFold, train_test_split


def _index_array(values, *, name):
    """``values`` as a sorted, read-only, 1-D int64 array of distinct non-negative indices, or ValueError."""
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {array.shape}")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise TypeError(f"{name} must hold integer row indices, got dtype {array.dtype}")
    array = np.sort(array.astype(np.int64))
    if array.size and array[0] < 0:
        raise ValueError(f"{name} must hold non-negative row indices")
    if np.any(np.diff(array) == 0):
        raise ValueError(f"{name} holds repeated row indices")
    array.setflags(write=False)
    return array


@dataclass(frozen=True, eq=False)
class Split:
    """One train/test split: ``name`` (e.g. ``"fixed"``, ``"kfold32-fold03"``, ``"loso-s01"``) and the
    disjoint row indices ``train``, shape (n_train,), and ``test``, shape (n_test,), stored sorted as
    read-only int64."""

    name: str
    train: np.ndarray
    test: np.ndarray

    def __post_init__(self):
        train, test = _index_array(self.train, name="train"), _index_array(self.test, name="test")
        overlap = np.intersect1d(train, test)
        if overlap.size:
            raise ValueError(f"split {self.name!r}: {overlap.size} rows are in both train and test "
                             f"(first: {overlap[:5].tolist()})")
        object.__setattr__(self, "train", train)
        object.__setattr__(self, "test", test)

    def __eq__(self, other):
        if not isinstance(other, Split):
            return NotImplemented
        return (self.name == other.name and np.array_equal(self.train, other.train)
                and np.array_equal(self.test, other.test))

    __hash__ = None

    def to_dict(self):
        """``{"name": str, "train": list of int, "test": list of int}``, ready for ``json.dump``."""
        return {"name": self.name, "train": self.train.tolist(), "test": self.test.tolist()}

    @classmethod
    def from_dict(cls, data):
        """The split that :meth:`to_dict` wrote."""
        return cls(name=str(data["name"]), train=np.asarray(data["train"], dtype=np.int64),
                   test=np.asarray(data["test"], dtype=np.int64))


def fixed_split(n_rows, *, n_test=100, seed=12, stratify=None):
    """The report's seeded random split of ``np.arange(n_rows)`` (1180/100 for DEAP), named ``"fixed"``.

    ``stratify``: labels, shape (n_rows,), to stratify on; None (the report's) draws a plain split.
    :func:`sklearn.model_selection.train_test_split` draws it (and refuses ``n_test`` outside
    ``(0, n_rows)``). The report's own split cannot be recovered: it shuffled an unsorted file listing.
    """
    train, test = train_test_split(np.arange(n_rows), test_size=n_test, random_state=seed, stratify=stratify)
    return Split(name="fixed", train=train, test=test)


def kfold_splits(n_rows, *, n_folds=32, seed=12, labels=None):
    """The report's shuffled k-fold over all rows, participants mixed (subject-dependent), seeded here.

    ``labels`` (shape (n_rows,)): :class:`~sklearn.model_selection.StratifiedKFold` keeps each fold's
    class balance; None: :class:`~sklearn.model_selection.KFold` (the report's). Returns ``n_folds``
    splits named ``"kfold{n_folds}-fold{i:02d}"``, ``i`` from 1.
    """
    rows = np.arange(n_rows)
    if labels is None:
        folds = KFold(n_splits=n_folds, shuffle=True, random_state=seed).split(rows)
    else:
        folds = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed).split(rows, labels)
    return [Split(name=f"kfold{n_folds}-fold{i:02d}", train=train, test=test)
            for i, (train, test) in enumerate(folds, start=1)]


def _participant_tag(participant_id):
    """``3 -> "s03"``; a text id that already starts with ``"s"`` is kept."""
    if isinstance(participant_id, (int, np.integer)):
        return f"s{int(participant_id):02d}"
    text = str(participant_id)
    return text if text.startswith("s") else f"s{text}"


def seeded_subset(items: list, k: int | None, *, seed: int = 12) -> list:
    """A seeded choice of ``k`` of ``items``, in their original order (all of them when ``k`` is None)."""
    if k is None or k >= len(items):
        return list(items)
    chosen = np.sort(np.random.default_rng(seed).choice(len(items), size=k, replace=False))
    return [items[i] for i in chosen]


def loso_splits(participant, *, holdout=None, seed=12):
    """Leave-one-subject-out: one split per held-out participant, each trained on all the others.

    ``participant``: the id of each row, shape (n_rows,) (integer ids name folds as DEAP's ``s01``).
    ``holdout``: a :func:`seeded_subset` of this many participants is held out; None: every one.
    Returns the splits in increasing id order, named ``"loso-s01"`` etc.
    """
    participant = np.asarray(participant)
    held_out = set(seeded_subset(np.unique(participant).tolist(), holdout, seed=seed))
    return [Split(name=f"loso-{_participant_tag(participant[test[0]])}", train=train, test=test)
            for train, test in LeaveOneGroupOut().split(participant, groups=participant)
            if participant[test[0]] in held_out]


def validation_split(train_idx, *, fraction=0.1, seed=12, labels=None, groups=None):
    """Hold a validation set out of a split's training rows ``train_idx`` (shape (n_train,)) only, to choose an epoch.

    ``fraction`` of the rows (with ``groups``, of the participants, rounded up) is held out, in ``(0, 1)``.
    ``labels`` (``y[train_idx]``) stratify it; ``groups`` (participant ids of the rows) make it whole
    participants (:class:`~sklearn.model_selection.GroupShuffleSplit`), subject-independent under LOSO;
    not both. Returns sorted int64 ``fit_idx, val_idx``, a partition of ``train_idx``.
    """
    train_idx = np.asarray(train_idx)
    if labels is not None and groups is not None:
        raise ValueError("pass labels (stratified validation) or groups (whole participants), not both")
    positions = np.arange(train_idx.shape[0])
    if groups is not None:
        splitter = GroupShuffleSplit(n_splits=1, test_size=fraction, random_state=seed)
        fit_pos, val_pos = next(splitter.split(positions, groups=groups))
    else:
        fit_pos, val_pos = train_test_split(positions, test_size=fraction, random_state=seed, stratify=labels)
    return np.sort(train_idx[fit_pos]), np.sort(train_idx[val_pos])


def five_by_two_splits(n_rows, *, seed=12, labels=None):
    """The splits of Dietterich's (1998) 5x2 cross-validation: 5 pairs ``(Split, Split)``.

    Replication ``i`` (its seed spawned from ``seed`` by :class:`numpy.random.SeedSequence`) halves the
    rows (stratified on ``labels`` when given); its second split swaps the first's train and test.
    Named ``"5x2-rep{i}-fold{j}"``, ``i`` and ``j`` from 1.
    """
    pairs = []
    for rep, child in enumerate(np.random.SeedSequence(seed).spawn(5), start=1):
        rep_seed = int(child.generate_state(1)[0])
        half_a, half_b = train_test_split(np.arange(n_rows), test_size=0.5, random_state=rep_seed, stratify=labels)
        pairs.append((Split(name=f"5x2-rep{rep}-fold1", train=half_a, test=half_b),
                      Split(name=f"5x2-rep{rep}-fold2", train=half_b, test=half_a)))
    return pairs


def split_balance(y, split):
    """High (1) and low (0) labels of ``y`` (shape (n_rows,)) in a split's train and test rows:
    ``{"train": {"n", "high", "low", "share_high"}, "test": {...}}`` (counts, and the share of high)."""
    balance = {}
    for part, rows in (("train", split.train), ("test", split.test)):
        n, high = int(rows.shape[0]), int(np.count_nonzero(np.asarray(y)[rows] == 1))
        balance[part] = {"n": n, "high": high, "low": n - high, "share_high": high / n if n else float("nan")}
    return balance
