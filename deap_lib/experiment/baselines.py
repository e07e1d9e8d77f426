"""Classical scikit-learn baselines on the same 32 x 99 features and the same splits as the deep models.

A deep network's accuracy means little without the level a simple, fast classifier reaches on the
same inputs and the same test trials. Every baseline here is a :class:`~sklearn.pipeline.Pipeline`
of a :class:`~sklearn.preprocessing.StandardScaler` and a classifier, so the scaler is fitted on
the training rows of each split only. Inputs are the prepared features flattened to
(n_trials, 32 * 99 = 3168).

:func:`run_baseline` fits one classifier on every :class:`~deap_lib.experiment.splits.Split` and stores the
per-split records as one JSON file under ``<cache>/results/baselines``, keyed by everything that
determines them (like :func:`deap_lib.experiment.protocols.run_id`); an identical call reads the file.
:func:`permutation_null` asks whether a baseline's cross-validated accuracy beats what it scores
when the labels are permuted.
"""

from __future__ import annotations

import os
from numbers import Integral

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import check_cv
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from deap_lib.data.dataset import Prepared
from deap_lib.data.labels import check_target
from deap_lib.evaluation import stats
from deap_lib.experiment import executor
from deap_lib.experiment.splits import Split
from deap_lib.store import Store, entry_key, stable_hash

#: The classifiers :func:`make_classifier` builds.
CLASSIFIERS = ("logreg", "linear_svm", "random_forest")
#: How the classifiers are named on the book's pages.
LABELS = {"logreg": "logistic regression", "linear_svm": "linear SVM", "random_forest": "random forest"}


def _check_name(name: str) -> str:
    if name not in CLASSIFIERS:
        raise ValueError(f"name must be one of {CLASSIFIERS}, got {name!r}")
    return name


def _check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, Integral):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    return int(seed)


def _check_n_jobs(n_jobs) -> int:
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, Integral) or n_jobs == 0:
        raise ValueError(f"n_jobs must be a non-zero integer (joblib's convention), got {n_jobs!r}")
    return int(n_jobs)


def make_classifier(name: str, *, seed: int = 12) -> Pipeline:
    """A standardizing scikit-learn pipeline for one baseline classifier.

    Defaults are chosen to be fast and stable on DEAP-sized inputs (1280 x 3168), with strong
    regularization since features far outnumber trials.

    Parameters
    ----------
    name : {"logreg", "linear_svm", "random_forest"}
        ``"logreg"``: L2 logistic regression, C = 0.01 (the twin's calibration classifier).
        ``"linear_svm"``: linear support vector machine (:class:`~sklearn.svm.LinearSVC`,
        squared hinge loss), C = 1e-3, solved in the primal: on 1280 x 3168 twin features it
        converges in a few Newton steps, about three times faster than the dual coordinate
        descent that ``dual="auto"`` picks when features outnumber trials, to the same accuracy.
        ``"random_forest"``: 200 trees, ``max_features="sqrt"``, one core (parallelism is over
        splits).
    seed : int
        Random state of the forest (bootstrap and feature draws); the logistic regression and
        the primal SVM solvers are deterministic.

    Returns
    -------
    pipeline : sklearn.pipeline.Pipeline
        Steps ``"scale"`` (StandardScaler) and ``"clf"`` (the classifier), unfitted.
    """
    _check_name(name)
    seed = _check_seed(seed)
    if name == "logreg":
        clf = LogisticRegression(C=0.01, max_iter=2000)
    elif name == "linear_svm":
        clf = LinearSVC(C=1e-3, dual=False, max_iter=5000, random_state=seed)
    else:
        clf = RandomForestClassifier(
            n_estimators=100, max_features="sqrt", random_state=seed, n_jobs=1
        )
    return Pipeline([("scale", StandardScaler()), ("clf", clf)])


def _flat(features: np.ndarray) -> np.ndarray:
    """(n, 32, 99) -> (n, 3168), the classifiers' input."""
    features = np.asarray(features)
    return features.reshape(len(features), -1)


def _fit_split(xy: tuple[np.ndarray, np.ndarray], name: str, seed: int, split: Split) -> dict:
    x, y = xy
    model = make_classifier(name, seed=seed)
    model.fit(x[split.train], y[split.train])
    pred = model.predict(x[split.test]).astype(np.int64)
    y_test = y[split.test]
    return {
        "split": split.name,
        "accuracy": float(np.mean(pred == y_test)),
        "majority_baseline": stats.majority_baseline(y[split.train], y_test),
        "n_test": int(len(split.test)),
        "pred": pred.tolist(),
        "y_test": y_test.tolist(),
    }


def baseline_key(name: str, data: Prepared, target: str, splits: list[Split], *, seed: int = 12) -> str:
    """Cache key of :func:`run_baseline`: classifier, target, seed, data, splits.

    Returns
    -------
    key : str
        A :func:`deap_lib.store.entry_key` hex digest.
    """
    return entry_key(
        "baselines",
        {
            "classifier": name,
            "target": target,
            "seed": int(seed),
            "data": data.identity,
            "splits": [
                [s.name, stable_hash([s.train.tolist(), s.test.tolist()])] for s in splits
            ],
        }
    )


def run_baseline(
    name: str,
    data: Prepared,
    target: str,
    splits: list[Split],
    *,
    seed: int = 12,
    cache: str | os.PathLike | None = None,
    force: bool = False,
    n_jobs: int = 1,
    scheduler: str | None = None,
) -> list[dict]:
    """Fit one baseline on the training rows of every split and score it on the test rows.

    Parameters
    ----------
    name : {"logreg", "linear_svm", "random_forest"}
        See :func:`make_classifier`.
    data : Prepared
        Features of shape (n_trials, 32, 99), flattened to (n_trials, 3168).
    target : {"valence", "arousal"}
    splits : list of Split
        E.g. from :func:`deap_lib.experiment.splits.kfold_splits` or :func:`deap_lib.experiment.splits.loso_splits`:
        the same splits the deep models ran on.
    seed : int
        Seed of every classifier (the same for all splits).
    cache : path, optional
        Cache root (default: :func:`deap_lib.store.cache_dir`); the records are stored as one
        entry of kind ``baselines`` (see :func:`baseline_key`).
    force : bool
        Refit even when stored.
    n_jobs : int
        Splits fitted in parallel local processes; results do not depend on it.
    scheduler : str, optional
        A Dask scheduler's address (default ``$DASK_SCHEDULER_ADDRESS``): the splits are fitted
        on that cluster instead (:func:`deap_lib.experiment.executor.run_tasks`).

    Returns
    -------
    records : list of dict, one per split, in the order of ``splits``
        ``split`` (name), ``accuracy``, ``majority_baseline`` (the training majority class
        scored on the test labels, :func:`deap_lib.evaluation.stats.majority_baseline`), ``n_test``,
        ``pred`` (list of 0/1 predictions in the split's test order) and ``y_test``.
    """
    from deap_lib.experiment.engine import versions  # the engine imports torch: only here

    _check_name(name)
    check_target(target)
    seed = _check_seed(seed)
    n_jobs = _check_n_jobs(n_jobs)
    splits = list(splits)
    if not splits or not all(isinstance(s, Split) for s in splits):
        raise ValueError("splits must be a non-empty list of deap_lib.experiment.splits.Split")
    key = baseline_key(name, data, target, splits, seed=seed)
    store = Store(cache)
    stored = None if force else store.read_json("baselines", key)
    if stored is not None:
        return stored["records"]

    xy = (_flat(data.features), data.labels(target))
    records = [None] * len(splits)
    tasks = [(name, seed, s) for s in splits]
    for i, record in executor.run_tasks(_fit_split, tasks, shared=xy, n_jobs=n_jobs,
                                        scheduler=executor.resolve_scheduler(scheduler)):
        records[i] = record
    stored = {
        "id": key,
        "classifier": name,
        "params": make_classifier(name, seed=seed).named_steps["clf"].get_params(),
        "target": target,
        "seed": int(seed),
        "data": data.describe(),
        "versions": versions(),
        "splits": [s.to_dict() for s in splits],
        "records": records,
    }
    return store.write_json("baselines", key, stored)["records"]  # exactly what a later read gives


def summary(records: list[dict]) -> dict:
    """:func:`deap_lib.evaluation.stats.fold_summary` of :func:`run_baseline`'s records."""
    return stats.fold_summary([r["accuracy"] for r in records], [r["majority_baseline"] for r in records],
                              [r["n_test"] for r in records])


def permutation_null(
    name: str,
    data: Prepared,
    target: str,
    *,
    cv,
    groups=None,
    n_permutations: int = 100,
    seed: int = 12,
    n_jobs: int = 1,
    scheduler: str | None = None,
) -> dict:
    """Label-permutation test of a baseline's cross-validated accuracy.

    A thin wrapper of :func:`deap_lib.evaluation.stats.permutation_test_estimator` with
    :func:`make_classifier` and the flattened features.

    Parameters
    ----------
    name : {"logreg", "linear_svm", "random_forest"}
    data : Prepared
        Features of shape (n_trials, 32, 99).
    target : {"valence", "arousal"}
    cv : int, cross-validation generator, iterable of (train, test), or list of Split
        As for :func:`sklearn.model_selection.cross_val_score`; a list of
        :class:`~deap_lib.experiment.splits.Split` is turned into ``(split.train, split.test)`` pairs.
    groups : array-like, shape (n_trials,) or None
        Group (participant) ids, e.g. ``data.participant``: labels are then permuted within
        each participant, and a grouped ``cv`` splits on them.
    n_permutations : int
        Number of permuted label vectors.
    seed : int
        Seed of the classifier and of the permutations.
    n_jobs : int
        Parallel jobs.
    scheduler : str, optional
        A Dask scheduler's address (default ``$DASK_SCHEDULER_ADDRESS``): the permutations run on
        that cluster (joblib's Dask backend; the features are sent once to every worker).

    Returns
    -------
    result : dict
        ``observed`` (mean accuracy over the folds on the true labels), ``null`` (list of
        ``n_permutations`` floats), ``p_value`` ``= (1 + #(null >= observed)) /
        (1 + n_permutations)`` and ``n_permutations``.
    """
    _check_name(name)
    check_target(target)
    seed = _check_seed(seed)
    n_jobs = _check_n_jobs(n_jobs)
    if isinstance(cv, (list, tuple)):
        # A splitter object rather than a bare list, so that any wrapping of ``cv`` (e.g. to keep
        # ``groups`` for the permutations only) can call ``cv.split``.
        cv = check_cv([(s.train, s.test) if isinstance(s, Split) else s for s in cv])
    x = _flat(data.features)
    with executor.joblib_backend(executor.resolve_scheduler(scheduler), n_jobs, scatter=[x]) as n_jobs:
        result = stats.permutation_test_estimator(
            make_classifier(name, seed=seed),
            x,
            data.labels(target),
            cv=cv,
            n_permutations=n_permutations,
            seed=seed,
            groups=groups,
            n_jobs=n_jobs,
        )
    result["null"] = np.asarray(result["null"], dtype=float).tolist()
    return result
