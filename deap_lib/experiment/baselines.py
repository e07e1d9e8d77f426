"""Classical scikit-learn baselines on the deep models' inputs (the 32 x 99 features, flattened to 3168) and
splits: the level a simple classifier reaches on the same test trials.

Each baseline is a pipeline of a :class:`~sklearn.preprocessing.StandardScaler` and a classifier, fitted on a
split's training rows only. :func:`run_baseline` stores its per-split records as one ``baselines`` entry of
the store; :func:`permutation_null` tests a baseline's cross-validated accuracy against permuted labels.
"""

from __future__ import annotations

import os

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import check_cv
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from deap_lib.data.dataset import Prepared
from deap_lib.evaluation import stats
from deap_lib.experiment import executor
from deap_lib.experiment.splits import Split
from deap_lib.store import Store, entry_key, stable_hash

#: The classifiers :func:`make_classifier` builds.
CLASSIFIERS = ("logreg", "linear_svm", "random_forest")
#: How the classifiers are named on the book's pages.
LABELS = {"logreg": "logistic regression", "linear_svm": "linear SVM", "random_forest": "random forest"}


def make_classifier(name: str, *, seed: int = 12) -> Pipeline:
    """An unfitted pipeline, steps ``"scale"`` (StandardScaler) and ``"clf"``, strongly regularised (features
    far outnumber trials).

    ``name``: ``"logreg"`` (L2 logistic regression, C = 0.01), ``"linear_svm"`` (:class:`~sklearn.svm.LinearSVC`,
    C = 1e-3, solved in the primal: about 3x faster than the dual on 1280 x 3168, same accuracy) or
    ``"random_forest"`` (100 trees, ``max_features="sqrt"``, one core: parallelism is over splits).
    ``seed``: the forest's random state (the other two solvers are deterministic).
    """
    if name == "logreg":
        clf = LogisticRegression(C=0.01, max_iter=2000)
    elif name == "linear_svm":
        clf = LinearSVC(C=1e-3, dual=False, max_iter=5000, random_state=seed)
    elif name == "random_forest":
        clf = RandomForestClassifier(n_estimators=100, max_features="sqrt", random_state=seed, n_jobs=1)
    else:
        raise ValueError(f"name must be one of {CLASSIFIERS}, got {name!r}")
    return Pipeline([("scale", StandardScaler()), ("clf", clf)])


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
    """Store key of :func:`run_baseline`: classifier, target, seed, data and splits."""
    splits_id = [[s.name, stable_hash([s.train.tolist(), s.test.tolist()])] for s in splits]
    return entry_key("baselines", {"classifier": name, "target": target, "seed": int(seed), "data": data.identity,
                                   "splits": splits_id})


def run_baseline(name: str, data: Prepared, target: str, splits: list[Split], *, seed: int = 12,
                 cache: str | os.PathLike | None = None, force: bool = False, n_jobs: int = 1,
                 scheduler: str | None = None) -> list[dict]:
    """Fit classifier ``name`` (:func:`make_classifier`, ``seed``) on the training rows of every split (those
    the deep models ran on) and score it on the test rows; stored (``cache``: the store's root), read back
    unless ``force``. ``n_jobs`` local processes or the Dask ``scheduler`` (default
    ``$DASK_SCHEDULER_ADDRESS``) fit the splits; the results do not depend on it.

    Returns one record per split, in order: ``split`` (name), ``accuracy``, ``majority_baseline``
    (:func:`deap_lib.evaluation.stats.majority_baseline`), ``n_test``, ``pred`` (0/1 in the split's test
    order) and ``y_test``.
    """
    from deap_lib.experiment.engine import versions  # the engine imports torch: only here

    params = make_classifier(name, seed=seed).named_steps["clf"].get_params()
    key = baseline_key(name, data, target, splits, seed=seed)
    store = Store(cache)
    stored = None if force else store.read_json("baselines", key)
    if stored is not None:
        return stored["records"]
    xy = (data.features.reshape(len(data.features), -1), data.labels(target))
    records = [None] * len(splits)
    tasks = [(name, seed, s) for s in splits]
    for i, record in executor.run_tasks(_fit_split, tasks, shared=xy, n_jobs=n_jobs,
                                        scheduler=executor.resolve_scheduler(scheduler)):
        records[i] = record
    stored = {"id": key, "classifier": name, "params": params, "target": target, "seed": int(seed),
              "data": data.describe(), "versions": versions(), "splits": [s.to_dict() for s in splits],
              "records": records}
    return store.write_json("baselines", key, stored)["records"]  # exactly what a later read gives


def permutation_null(name: str, data: Prepared, target: str, *, cv, groups=None, n_permutations: int = 100,
                     seed: int = 12, n_jobs: int = 1, scheduler: str | None = None) -> dict:
    """Label-permutation test of classifier ``name``'s cross-validated accuracy on ``data``
    (:func:`deap_lib.evaluation.stats.permutation_test_estimator`; ``seed`` seeds the classifier and the
    permutations).

    ``cv``: as for :func:`sklearn.model_selection.cross_val_score`, or a list of
    :class:`~deap_lib.experiment.splits.Split`. ``groups`` (e.g. ``data.participant``): labels are permuted
    within each participant. ``scheduler``: the permutations run on that Dask cluster (the features sent
    once to every worker). Returns ``observed``, ``null`` (a list of ``n_permutations`` floats), ``p_value``
    ``= (1 + #(null >= observed)) / (1 + n_permutations)`` and ``n_permutations``.
    """
    if isinstance(cv, (list, tuple)):  # a splitter, so that a wrapper (groups for the permutations only) can split
        cv = check_cv([(s.train, s.test) if isinstance(s, Split) else s for s in cv])
    x = data.features.reshape(len(data.features), -1)
    with executor.joblib_backend(executor.resolve_scheduler(scheduler), n_jobs, scatter=[x]) as n_jobs:
        result = stats.permutation_test_estimator(make_classifier(name, seed=seed), x, data.labels(target), cv=cv,
                                                  n_permutations=n_permutations, seed=seed, groups=groups,
                                                  n_jobs=n_jobs)
    result["null"] = np.asarray(result["null"], dtype=float).tolist()
    return result
