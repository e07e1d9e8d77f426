"""Chance levels, confidence intervals and tests for comparing classifiers (scipy and scikit-learn do the
distributions; Dietterich's 5x2cv statistic is written here)."""

from __future__ import annotations

import numpy as np
from scipy import stats
from sklearn import model_selection
from sklearn.base import is_classifier


def majority_baseline(y_train, y_test):
    """Accuracy on ``y_test`` (0/1, shape (n_test,)) of always predicting the majority class of ``y_train``
    (0/1, shape (n_train,); 1 on a tie): the chance level, chosen on training labels only."""
    y_train, y_test = np.asarray(y_train), np.asarray(y_test)
    majority = 1 if 2 * y_train.sum() >= y_train.size else 0
    return float(np.mean(y_test == majority))


def wilson_interval(n_correct, n, *, confidence=0.95):
    """Wilson score interval (no continuity correction) of ``n_correct`` successes out of ``n``:
    ``(low, high)`` within [0, 1], by :meth:`scipy.stats.binomtest` (which refuses impossible counts)."""
    ci = stats.binomtest(n_correct, n).proportion_ci(confidence_level=confidence, method="wilson")
    return float(ci.low), float(ci.high)


def accuracy_ci(acc, n, *, confidence=0.95, method="wilson"):
    """Confidence interval ``(low, high)`` of an accuracy ``acc`` on ``n`` test trials (``acc * n`` whole).

    ``method``: ``"wilson"`` (:func:`wilson_interval`) or ``"normal"``, the Wald interval
    ``acc +/- z * sqrt(acc * (1 - acc) / n)`` clipped to [0, 1]: the report's 71.0 % (62.1-79.9) on 100
    trials, too narrow near 0 and 1.
    """
    if not 0.0 <= acc <= 1.0:
        raise ValueError(f"acc must be an accuracy in [0, 1], got {acc!r}")
    n_correct = int(round(acc * n))
    if abs(acc * n - n_correct) > 1e-6 * max(n, 1):
        raise ValueError(f"acc={acc!r} is not a whole number of correct trials out of n={n}")
    if method == "wilson":
        return wilson_interval(n_correct, n, confidence=confidence)
    if method == "normal":
        p = n_correct / n
        half = stats.norm.ppf(0.5 + confidence / 2) * np.sqrt(p * (1 - p) / n)
        return float(max(p - half, 0.0)), float(min(p + half, 1.0))
    raise ValueError(f"unknown method {method!r}; allowed: 'wilson', 'normal'")


def mcnemar_exact_from_counts(n01, n10):
    """McNemar's exact test from the discordant counts (``n01``: trials only classifier A got right,
    ``n10``: only B): the smaller against Binomial(n01 + n10, 1/2), two-sided.

    Returns ``{"n01", "n10", "n_discordant", "p_value"}`` (p 1.0 without discordant trials).
    """
    n01, n10 = int(n01), int(n10)
    n_discordant = n01 + n10
    p_value = 1.0 if n_discordant == 0 else float(stats.binomtest(min(n01, n10), n_discordant, 0.5).pvalue)
    return {"n01": n01, "n10": n10, "n_discordant": n_discordant, "p_value": p_value}


def mcnemar_exact(y_true, pred_a, pred_b):
    """McNemar's exact test of two classifiers' predictions (each shape (n_test,)) on the same test trials:
    :func:`mcnemar_exact_from_counts` with ``both_right``, ``both_wrong`` and ``n`` added."""
    y_true = np.asarray(y_true)
    right_a, right_b = np.asarray(pred_a) == y_true, np.asarray(pred_b) == y_true
    result = mcnemar_exact_from_counts(np.count_nonzero(right_a & ~right_b), np.count_nonzero(~right_a & right_b))
    result["both_right"] = int(np.count_nonzero(right_a & right_b))
    result["both_wrong"] = int(np.count_nonzero(~right_a & ~right_b))
    result["n"] = int(y_true.shape[0])
    return result


def paired_t_5x2cv(diffs):
    """Dietterich's (1998) 5x2cv paired t-test of accuracy differences (A - B), shape (5, 2)
    (replication, fold): ``t = p_11 / sqrt(mean_i s_i^2)``, ``s_i^2`` the variance of replication i's two
    differences, against Student's t with 5 dof, two-sided.

    Returns ``{"t", "p_value", "dof": 5, "mean_difference"}`` (the mean of all ten, for reporting only).
    Raises ValueError when every replication's two differences are equal (t undefined).
    """
    diffs = np.asarray(diffs, dtype=float)
    if diffs.shape != (5, 2):
        raise ValueError(f"diffs must have shape (5, 2), got {diffs.shape}")
    s2 = ((diffs - diffs.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)  # (5,)
    denominator = np.sqrt(s2.mean())
    if denominator == 0:
        raise ValueError("the two folds of every replication have equal differences: the 5x2cv "
                         "variance estimate is 0 and t is undefined")
    t = diffs[0, 0] / denominator
    return {"t": float(t), "p_value": float(2 * stats.t.sf(abs(t), 5)), "dof": 5,
            "mean_difference": float(diffs.mean())}


def permutation_test_estimator(estimator, X, y, *, cv, n_permutations=100, seed=12, groups=None, scoring=None,
                               n_jobs=1):
    """Label-permutation test of an estimator's cross-validated score
    (:func:`sklearn.model_selection.permutation_test_score`; ``X`` shape (n_rows, n_features)).

    With ``groups`` (participant ids), labels are permuted within each group, so a model cannot beat the
    null by learning who is who; only a grouped ``cv`` also splits on them. Returns ``{"observed",
    "null"`` (ndarray, shape (n_permutations,)), ``"p_value", "n_permutations"}``.
    """
    if groups is not None and not isinstance(cv, _GROUP_SPLITTERS):
        cv = _WithoutGroups(model_selection.check_cv(cv, y, classifier=is_classifier(estimator)))
    observed, null, p_value = model_selection.permutation_test_score(
        estimator, X, y, groups=groups, cv=cv, n_permutations=n_permutations, n_jobs=n_jobs, random_state=seed,
        scoring=scoring)
    return {"observed": float(observed), "null": np.asarray(null, dtype=float), "p_value": float(p_value),
            "n_permutations": int(n_permutations)}


#: scikit-learn's splitters that split on groups (the others only receive them to ignore them).
_GROUP_SPLITTERS = (model_selection.GroupKFold, model_selection.GroupShuffleSplit, model_selection.LeaveOneGroupOut,
                    model_selection.LeavePGroupsOut, model_selection.StratifiedGroupKFold)


class _WithoutGroups:
    """A splitter that ignores ``groups``: they only say where to shuffle labels, not how to split."""

    def __init__(self, cv):
        self.cv = cv

    def split(self, X, y=None, groups=None):
        return self.cv.split(X, y)

    def get_n_splits(self, X=None, y=None, groups=None):
        return self.cv.get_n_splits(X, y)


def mean_ci(values, *, confidence=0.95):
    """Mean of per-fold scores (shape (n_values,)) with a Student t interval: ``(mean, low, high)``;
    nan bounds for one value, the mean for equal values. Folds share training data: the interval
    describes their spread, it does not guarantee coverage of the true accuracy."""
    values = np.asarray(values, dtype=float)
    mean = float(values.mean())
    if values.size == 1:
        return mean, float("nan"), float("nan")
    sem = float(stats.sem(values))
    if sem == 0.0:
        return mean, mean, mean
    low, high = stats.t.interval(confidence, values.size - 1, loc=mean, scale=sem)
    return mean, float(low), float(high)


def fold_summary(accuracies, baselines, n_tests, *, confidence=0.95):
    """What a cross-validation says, from each fold's accuracy, majority baseline and test size (shape (n_folds,)).

    Returns ``mean``, ``low``, ``high`` (:func:`mean_ci`, clipped to [0, 1]), ``baseline`` (the baselines'
    mean weighted by test size: a whole number of trials), ``n`` (folds), ``n_test`` (all test trials),
    ``values`` (the accuracies) and ``interval`` ("t over folds").
    """
    values = [float(a) for a in accuracies]
    mean, low, high = mean_ci(values, confidence=confidence)
    baseline = float(np.round(np.dot(baselines, n_tests)) / np.sum(n_tests))
    return {"mean": mean, "low": max(low, 0.0), "high": min(high, 1.0), "baseline": baseline,
            "n": len(values), "n_test": int(np.sum(n_tests)), "values": values, "interval": "t over folds"}
