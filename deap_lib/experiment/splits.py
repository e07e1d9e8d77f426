"""Train/test splits of the prepared dataset, computed once and kept with the results.

Every split is a :class:`Split`: a name and two sorted arrays of row indices into the
prepared dataset, whose rows are the trials ordered by participant then trial
(row ``40 * (p - 1) + t`` for DEAP participant ``p`` in 1..32 and trial ``t`` in
0..39). Splits are reproducible from their arguments alone (an integer seed, never
global random state), and :meth:`Split.to_dict` turns one into plain lists for JSON, so
every result can be traced to the exact trials it was tested on.

Schemes
-------
``"fixed"``
    The report's seeded random 1180/100 split (:func:`fixed_split`).
``"kfold"``
    The report's random k-fold over all trials, participants mixed
    (:func:`kfold_splits`). Subject-dependent: a participant's trials are in both
    train and test.
``"loso"``
    Leave-one-subject-out (:func:`loso_splits`): subject-independent.

:func:`validation_split` carves a validation set out of training rows only, so an epoch
can be chosen without looking at the test set; :func:`five_by_two_splits` gives the
splits of Dietterich's 5x2 cross-validated paired t-test
(:func:`deap_lib.evaluation.stats.paired_t_5x2cv`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import (
    GroupShuffleSplit,
    KFold,
    LeaveOneGroupOut,
    StratifiedKFold,
    train_test_split,
)


def _as_index_array(values, *, name):
    """Return ``values`` as a sorted, read-only, 1-D int64 array of unique indices."""
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
    """One train/test split of the prepared dataset.

    Parameters
    ----------
    name : str
        Identifies the split, e.g. ``"fixed"``, ``"kfold32-fold03"``, ``"loso-s01"``.
    train : array-like of int, shape (n_train,)
        Row indices of the training trials. Stored sorted, as read-only int64.
    test : array-like of int, shape (n_test,)
        Row indices of the test trials, disjoint from ``train``. Stored sorted, as
        read-only int64.
    """

    name: str
    train: np.ndarray
    test: np.ndarray

    def __post_init__(self):
        # frozen: the normalised arrays replace the given ones through object.__setattr__.
        train = _as_index_array(self.train, name="train")
        test = _as_index_array(self.test, name="test")
        overlap = np.intersect1d(train, test)
        if overlap.size:
            raise ValueError(
                f"split {self.name!r}: {overlap.size} rows are in both train and test "
                f"(first: {overlap[:5].tolist()})"
            )
        object.__setattr__(self, "train", train)
        object.__setattr__(self, "test", test)

    def __eq__(self, other):
        if not isinstance(other, Split):
            return NotImplemented
        return (
            self.name == other.name
            and np.array_equal(self.train, other.train)
            and np.array_equal(self.test, other.test)
        )

    __hash__ = None

    def to_dict(self):
        """Return the split as plain Python types, ready for ``json.dump``.

        Returns
        -------
        split : dict
            ``{"name": str, "train": list of int, "test": list of int}``.
        """
        return {"name": self.name, "train": self.train.tolist(), "test": self.test.tolist()}

    @classmethod
    def from_dict(cls, data):
        """Rebuild a split written by :meth:`to_dict`.

        Parameters
        ----------
        data : dict
            With keys ``"name"``, ``"train"`` and ``"test"``.

        Returns
        -------
        split : Split
        """
        return cls(
            name=str(data["name"]),
            train=np.asarray(data["train"], dtype=np.int64),
            test=np.asarray(data["test"], dtype=np.int64),
        )


def _check_n_rows(n_rows):
    if isinstance(n_rows, bool) or not isinstance(n_rows, (int, np.integer)) or n_rows < 2:
        raise ValueError(f"n_rows must be an integer >= 2, got {n_rows!r}")
    return int(n_rows)


def _check_aligned(values, n, *, name, length_name):
    """Return ``values`` as a 1-D array of length ``n`` or raise."""
    array = np.asarray(values)
    if array.ndim != 1 or array.shape[0] != n:
        raise ValueError(f"{name} must have shape ({n},) to match {length_name}, got {array.shape}")
    return array


def fixed_split(n_rows, *, n_test=100, seed=12, stratify=None):
    """Return the report's seeded random train/test split (1180/100 for DEAP).

    Rows are drawn by :func:`sklearn.model_selection.train_test_split` on
    ``np.arange(n_rows)``, so the split depends only on ``n_rows``, ``n_test``, ``seed``
    (and ``stratify``). The report's own split cannot be recovered exactly: it shuffled
    a file listing whose order was not sorted.

    Parameters
    ----------
    n_rows : int
        Number of rows (trials) in the prepared dataset; 1280 for DEAP.
    n_test : int
        Number of test rows, ``0 < n_test < n_rows``.
    seed : int
        Random state of the shuffle; the report's configs used 12.
    stratify : array-like, shape (n_rows,) or None
        Binary labels to stratify on. ``None`` (the report's behaviour) draws a plain
        random split.

    Returns
    -------
    split : Split
        Named ``"fixed"``, with ``n_rows - n_test`` train and ``n_test`` test rows.
    """
    n_rows = _check_n_rows(n_rows)
    if isinstance(n_test, bool) or not isinstance(n_test, (int, np.integer)):
        raise ValueError(f"n_test must be an integer, got {n_test!r}")
    if not 0 < n_test < n_rows:
        raise ValueError(f"n_test must satisfy 0 < n_test < n_rows={n_rows}, got {n_test}")
    if stratify is not None:
        stratify = _check_aligned(stratify, n_rows, name="stratify", length_name="n_rows")
    train, test = train_test_split(
        np.arange(n_rows), test_size=int(n_test), random_state=seed, stratify=stratify
    )
    return Split(name="fixed", train=train, test=test)


def kfold_splits(n_rows, *, n_folds=32, seed=12, labels=None):
    """Return the report's shuffled k-fold over all rows, participants mixed.

    Each participant's trials fall in both train and test folds, so this measures
    subject-dependent accuracy; use :func:`loso_splits` for subject-independent.
    The report's k-fold was not seeded; here the shuffle is.

    Parameters
    ----------
    n_rows : int
        Number of rows (trials); 1280 for DEAP, giving 32 test folds of 40 trials.
    n_folds : int
        Number of folds, ``2 <= n_folds <= n_rows``.
    seed : int
        Random state of the shuffle.
    labels : array-like, shape (n_rows,) or None
        Binary labels. When given, :class:`~sklearn.model_selection.StratifiedKFold`
        keeps each fold's class balance close to the whole; otherwise
        :class:`~sklearn.model_selection.KFold` (the report's behaviour).

    Returns
    -------
    splits : list of Split, length n_folds
        Named ``"kfold{n_folds}-fold{i:02d}"`` with ``i`` counted from 1.
    """
    n_rows = _check_n_rows(n_rows)
    if isinstance(n_folds, bool) or not isinstance(n_folds, (int, np.integer)):
        raise ValueError(f"n_folds must be an integer, got {n_folds!r}")
    if not 2 <= n_folds <= n_rows:
        raise ValueError(f"n_folds must satisfy 2 <= n_folds <= n_rows={n_rows}, got {n_folds}")
    rows = np.arange(n_rows)
    if labels is None:
        folds = KFold(n_splits=n_folds, shuffle=True, random_state=seed).split(rows)
    else:
        labels = _check_aligned(labels, n_rows, name="labels", length_name="n_rows")
        folds = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed).split(
            rows, labels
        )
    return [
        Split(name=f"kfold{n_folds}-fold{i:02d}", train=train, test=test)
        for i, (train, test) in enumerate(folds, start=1)
    ]


def _participant_tag(participant_id):
    """``3 -> "s03"``; a string id that already starts with ``"s"`` is kept."""
    if isinstance(participant_id, (int, np.integer)):
        return f"s{int(participant_id):02d}"
    text = str(participant_id)
    return text if text.startswith("s") else f"s{text}"


def seeded_subset(items: list, k: int | None, *, seed: int = 12) -> list:
    """A seeded choice of ``k`` of ``items``, in their original order (all of them when ``k`` is None)."""
    if k is None or k >= len(items):
        return list(items)
    if k < 1:
        raise ValueError(f"holdout must be >= 1, got {k}")
    chosen = np.sort(np.random.default_rng(seed).choice(len(items), size=k, replace=False))
    return [items[i] for i in chosen]


def loso_splits(participant, *, holdout=None, seed=12):
    """Return leave-one-subject-out splits: one test fold per held-out participant.

    Parameters
    ----------
    participant : array-like, shape (n_rows,)
        Participant id of each row. Integer ids are taken as DEAP's numbers
        (1 for ``s01.dat``) when naming the folds.
    holdout : int or None
        Hold out a seeded choice of this many participants (:func:`seeded_subset`), one fold
        each; ``None`` holds out every participant in turn. Training folds always use all
        other participants.
    seed : int
        Seed of the choice.

    Returns
    -------
    splits : list of Split
        In increasing participant id order, named ``"loso-s01"`` etc.
    """
    participant = np.asarray(participant)
    if participant.ndim != 1:
        raise ValueError(f"participant must be 1-D, got shape {participant.shape}")
    known = np.unique(participant)
    if known.size < 2:
        raise ValueError("leave-one-subject-out needs at least 2 participants")
    held_out = set(seeded_subset(known.tolist(), holdout, seed=seed))
    splits = []
    for train, test in LeaveOneGroupOut().split(participant, groups=participant):
        if participant[test[0]] in held_out:
            splits.append(Split(name=f"loso-{_participant_tag(participant[test[0]])}", train=train, test=test))
    return splits


def validation_split(train_idx, *, fraction=0.1, seed=12, labels=None, groups=None):
    """Carve a validation set out of training rows, for choosing an epoch honestly.

    Only rows of ``train_idx`` are used, so the test set stays untouched.

    Parameters
    ----------
    train_idx : array-like of int, shape (n_train,)
        Training row indices of a :class:`Split`.
    fraction : float
        Share of the training rows (or, with ``groups``, of the training participants,
        rounded up) that goes to validation; ``0 < fraction < 1``.
    seed : int
        Random state of the draw.
    labels : array-like, shape (n_train,) or None
        Binary labels of the rows ``train_idx`` (i.e. ``y[train_idx]``), to stratify
        the validation set. Cannot be combined with ``groups``.
    groups : array-like, shape (n_train,) or None
        Participant ids of the rows ``train_idx``. When given, the validation set holds
        whole participants (:class:`~sklearn.model_selection.GroupShuffleSplit`), so
        that under leave-one-subject-out the validation is subject-independent too.

    Returns
    -------
    fit_idx : ndarray of int64, shape (n_fit,)
        Sorted rows to fit on.
    val_idx : ndarray of int64, shape (n_val,)
        Sorted rows to validate on; ``fit_idx`` and ``val_idx`` partition ``train_idx``.
    """
    train_idx = _as_index_array(train_idx, name="train_idx")
    n_train = train_idx.shape[0]
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction must satisfy 0 < fraction < 1, got {fraction!r}")
    if labels is not None and groups is not None:
        raise ValueError(
            "pass labels (stratified validation) or groups (whole participants), not both"
        )
    positions = np.arange(n_train)
    if groups is not None:
        groups = _check_aligned(groups, n_train, name="groups", length_name="train_idx")
        if np.unique(groups).size < 2:
            raise ValueError("a grouped validation split needs at least 2 groups in train_idx")
        splitter = GroupShuffleSplit(n_splits=1, test_size=fraction, random_state=seed)
        fit_pos, val_pos = next(splitter.split(positions, groups=groups))
    else:
        if labels is not None:
            labels = _check_aligned(labels, n_train, name="labels", length_name="train_idx")
        fit_pos, val_pos = train_test_split(
            positions, test_size=fraction, random_state=seed, stratify=labels
        )
    return np.sort(train_idx[fit_pos]), np.sort(train_idx[val_pos])


def five_by_two_splits(n_rows, *, seed=12, labels=None):
    """Return the splits of Dietterich's (1998) 5x2 cross-validation.

    Five replications; each shuffles the rows into two halves and uses them both ways
    (train on one half, test on the other, then swap). Replication ``i`` draws with
    its own seed, spawned from ``seed`` by :class:`numpy.random.SeedSequence`.

    Parameters
    ----------
    n_rows : int
        Number of rows (trials).
    seed : int
        Root seed of the five replications.
    labels : array-like, shape (n_rows,) or None
        Binary labels to stratify each half on.

    Returns
    -------
    pairs : list of (Split, Split), length 5
        ``pairs[i][1]`` is ``pairs[i][0]`` with train and test swapped; named
        ``"5x2-rep{i}-fold{j}"`` with ``i`` and ``j`` counted from 1.
    """
    n_rows = _check_n_rows(n_rows)
    if labels is not None:
        labels = _check_aligned(labels, n_rows, name="labels", length_name="n_rows")
    children = np.random.SeedSequence(seed).spawn(5)
    pairs = []
    for rep, child in enumerate(children, start=1):
        rep_seed = int(child.generate_state(1)[0])
        half_a, half_b = train_test_split(
            np.arange(n_rows), test_size=0.5, random_state=rep_seed, stratify=labels
        )
        pairs.append(
            (
                Split(name=f"5x2-rep{rep}-fold1", train=half_a, test=half_b),
                Split(name=f"5x2-rep{rep}-fold2", train=half_b, test=half_a),
            )
        )
    return pairs


def split_balance(y, split):
    """Count high (1) and low (0) labels in the train and test parts of a split.

    Parameters
    ----------
    y : array-like of {0, 1}, shape (n_rows,)
        Binary labels of all rows.
    split : Split

    Returns
    -------
    balance : dict
        ``{"train": {"n", "high", "low", "share_high"}, "test": {...}}`` with integer
        counts and the float share of high labels.
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D, got shape {y.shape}")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("y must be binary, holding only 0 (low) and 1 (high)")
    largest = max(split.train.max(initial=-1), split.test.max(initial=-1))
    if largest >= y.shape[0]:
        raise ValueError(f"split {split.name!r} indexes row {largest}, but y has {y.shape[0]} rows")
    balance = {}
    for part, rows in (("train", split.train), ("test", split.test)):
        high = int(np.count_nonzero(y[rows] == 1))
        n = int(rows.shape[0])
        balance[part] = {
            "n": n,
            "high": high,
            "low": n - high,
            "share_high": high / n if n else float("nan"),
        }
    return balance
