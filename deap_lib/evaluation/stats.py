"""Chance levels, confidence intervals and tests for comparing classifiers.

The report's stated aim was to compare the models with statistical tests, not only
accuracies. This module gives what that needs: the majority-class baseline (chance
level), binomial intervals on a test accuracy, McNemar's exact test on paired
predictions, Dietterich's 5x2cv paired t-test, label-permutation tests of a
cross-validated score, and a t-interval over folds. Scipy and scikit-learn do the
distribution work; only the glue and Dietterich's statistic are written here.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np
from scipy import stats
from sklearn import model_selection
from sklearn.base import is_classifier


def _binary(y, *, name):
    """Return ``y`` as a 1-D array of 0/1 or raise."""
    array = np.asarray(y)
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {array.shape}")
    if not np.isin(array, (0, 1)).all():
        raise ValueError(f"{name} must be binary, holding only 0 (low) and 1 (high)")
    return array.astype(np.int64)


def _check_confidence(confidence):
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must satisfy 0 < confidence < 1, got {confidence!r}")


def majority_baseline(y_train, y_test):
    """Accuracy on ``y_test`` of always predicting the majority class of ``y_train``.

    The chance level a classifier must beat: on DEAP (rating >= 5) it is 56.6 % for
    valence and 58.9 % for arousal. The class is chosen on training labels only.

    Parameters
    ----------
    y_train : array-like of {0, 1}, shape (n_train,)
        Training labels; their majority class is the prediction (1 on a tie).
    y_test : array-like of {0, 1}, shape (n_test,)
        Labels the constant prediction is scored on.

    Returns
    -------
    accuracy : float
        Share of ``y_test`` equal to the training majority class.
    """
    y_train = _binary(y_train, name="y_train")
    y_test = _binary(y_test, name="y_test")
    if y_train.size == 0 or y_test.size == 0:
        raise ValueError("y_train and y_test must not be empty")
    majority = 1 if 2 * y_train.sum() >= y_train.size else 0
    return float(np.mean(y_test == majority))


def _check_counts(n_correct, n):
    for name, value in (("n_correct", n_correct), ("n", n)):
        if isinstance(value, bool) or not isinstance(value, Integral):
            raise ValueError(f"{name} must be an integer, got {value!r}")
    if n <= 0:
        raise ValueError(f"n must be positive, got {n}")
    if not 0 <= n_correct <= n:
        raise ValueError(f"n_correct must satisfy 0 <= n_correct <= n={n}, got {n_correct}")


def wilson_interval(n_correct, n, *, confidence=0.95):
    """Wilson score interval of a binomial proportion (e.g. a test accuracy).

    Computed by :meth:`scipy.stats.binomtest` ``(...).proportion_ci(method="wilson")``,
    which is the closed form without continuity correction.

    Parameters
    ----------
    n_correct : int
        Number of successes (correct predictions), ``0 <= n_correct <= n``.
    n : int
        Number of trials, ``n > 0``.
    confidence : float
        Confidence level.

    Returns
    -------
    low, high : float
        Interval bounds, within [0, 1].
    """
    _check_counts(n_correct, n)
    _check_confidence(confidence)
    ci = stats.binomtest(int(n_correct), int(n)).proportion_ci(
        confidence_level=confidence, method="wilson"
    )
    return float(ci.low), float(ci.high)


def accuracy_ci(acc, n, *, confidence=0.95, method="wilson"):
    """Confidence interval of an accuracy measured on ``n`` test trials.

    Parameters
    ----------
    acc : float
        Accuracy in [0, 1]; ``acc * n`` must be a whole number of correct trials.
    n : int
        Number of test trials.
    confidence : float
        Confidence level.
    method : {"wilson", "normal"}
        ``"wilson"``: :func:`wilson_interval`. ``"normal"``: the Wald interval
        ``acc +/- z * sqrt(acc * (1 - acc) / n)`` clipped to [0, 1], which is what the
        report's 71.0 % (62.1-79.9) on 100 trials is; it is too narrow near 0 and 1.

    Returns
    -------
    low, high : float
        Interval bounds, within [0, 1].
    """
    if not 0.0 <= acc <= 1.0:
        raise ValueError(f"acc must be an accuracy in [0, 1], got {acc!r}")
    n_correct_float = acc * n
    n_correct = int(round(n_correct_float))
    if abs(n_correct_float - n_correct) > 1e-6 * max(n, 1):
        raise ValueError(f"acc={acc!r} is not a whole number of correct trials out of n={n}")
    _check_counts(n_correct, n)
    _check_confidence(confidence)
    if method == "wilson":
        return wilson_interval(n_correct, n, confidence=confidence)
    if method == "normal":
        p = n_correct / n
        half = stats.norm.ppf(0.5 + confidence / 2) * np.sqrt(p * (1 - p) / n)
        return float(max(p - half, 0.0)), float(min(p + half, 1.0))
    raise ValueError(f"unknown method {method!r}; allowed: 'wilson', 'normal'")


def mcnemar_exact_from_counts(n01, n10):
    """McNemar's exact test from the two discordant counts.

    Under the null hypothesis that both classifiers have the same error rate, each
    discordant trial is equally likely to favour either, so the smaller count is
    tested against Binomial(n01 + n10, 1/2), two-sided (:func:`scipy.stats.binomtest`).

    Parameters
    ----------
    n01 : int
        Trials only classifier A got right.
    n10 : int
        Trials only classifier B got right.

    Returns
    -------
    result : dict
        ``n01``, ``n10``, ``n_discordant`` (ints) and ``p_value`` (float; 1.0 when
        there are no discordant trials).
    """
    for name, value in (("n01", n01), ("n10", n10)):
        if isinstance(value, bool) or not isinstance(value, Integral) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    n_discordant = int(n01) + int(n10)
    if n_discordant == 0:
        p_value = 1.0
    else:
        p_value = float(stats.binomtest(min(int(n01), int(n10)), n_discordant, 0.5).pvalue)
    return {"n01": int(n01), "n10": int(n10), "n_discordant": n_discordant, "p_value": p_value}


def mcnemar_exact(y_true, pred_a, pred_b):
    """McNemar's exact test comparing two classifiers on the same test trials.

    Parameters
    ----------
    y_true : array-like, shape (n_test,)
        True labels.
    pred_a : array-like, shape (n_test,)
        Predictions of classifier A.
    pred_b : array-like, shape (n_test,)
        Predictions of classifier B.

    Returns
    -------
    result : dict
        ``n01`` (only A right), ``n10`` (only B right), ``both_right``,
        ``both_wrong``, ``n_discordant``, ``n`` (ints) and ``p_value`` (float), see
        :func:`mcnemar_exact_from_counts`.
    """
    y_true = np.asarray(y_true)
    pred_a = np.asarray(pred_a)
    pred_b = np.asarray(pred_b)
    if y_true.ndim != 1 or pred_a.shape != y_true.shape or pred_b.shape != y_true.shape:
        raise ValueError(
            "y_true, pred_a and pred_b must be 1-D of the same length, got shapes "
            f"{y_true.shape}, {pred_a.shape}, {pred_b.shape}"
        )
    right_a = pred_a == y_true
    right_b = pred_b == y_true
    result = mcnemar_exact_from_counts(
        int(np.count_nonzero(right_a & ~right_b)), int(np.count_nonzero(~right_a & right_b))
    )
    result["both_right"] = int(np.count_nonzero(right_a & right_b))
    result["both_wrong"] = int(np.count_nonzero(~right_a & ~right_b))
    result["n"] = int(y_true.shape[0])
    return result


def paired_t_5x2cv(diffs):
    """Dietterich's (1998) 5x2 cross-validated paired t-test.

    With ``p_ij`` the difference in accuracy (A - B) on fold ``j`` of replication
    ``i``, ``pbar_i = (p_i1 + p_i2) / 2`` and
    ``s_i^2 = (p_i1 - pbar_i)^2 + (p_i2 - pbar_i)^2``, the statistic is
    ``t = p_11 / sqrt(sum_i s_i^2 / 5)``, compared with Student's t with 5 degrees of
    freedom (two-sided).

    Parameters
    ----------
    diffs : array-like of float, shape (5, 2)
        Accuracy differences (A - B) per replication (row) and fold (column), e.g.
        from models trained on :func:`deap_lib.experiment.splits.five_by_two_splits`.

    Returns
    -------
    result : dict
        ``t`` (float), ``p_value`` (float), ``dof`` (5) and ``mean_difference`` (the
        mean of the ten differences, for reporting only: the statistic uses ``p_11``).
    """
    diffs = np.asarray(diffs, dtype=float)
    if diffs.shape != (5, 2):
        raise ValueError(f"diffs must have shape (5, 2), got {diffs.shape}")
    if not np.isfinite(diffs).all():
        raise ValueError("diffs must be finite")
    s2 = ((diffs - diffs.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)  # (5,)
    denominator = np.sqrt(s2.mean())
    if denominator == 0:
        raise ValueError(
            "the two folds of every replication have equal differences: the 5x2cv "
            "variance estimate is 0 and t is undefined"
        )
    t = diffs[0, 0] / denominator
    dof = 5
    return {
        "t": float(t),
        "p_value": float(2 * stats.t.sf(abs(t), dof)),
        "dof": dof,
        "mean_difference": float(diffs.mean()),
    }


def permutation_test_estimator(
    estimator, X, y, *, cv, n_permutations=100, seed=12, groups=None, scoring=None, n_jobs=1
):
    """Label-permutation test of a scikit-learn estimator's cross-validated score.

    A thin wrapper around :func:`sklearn.model_selection.permutation_test_score`. With
    ``groups``, labels are permuted only within each group, so each participant keeps their
    label prevalence and a model cannot beat the null merely by learning who is who.

    Parameters
    ----------
    estimator : sklearn estimator
        Refitted on every training fold of every permutation.
    X : array-like, shape (n_rows, n_features)
        Inputs.
    y : array-like, shape (n_rows,)
        True labels.
    cv : int, cross-validation generator or iterable
        As for :func:`sklearn.model_selection.cross_val_score`, e.g. a
        :class:`~sklearn.model_selection.LeaveOneGroupOut` or a list of
        ``(split.train, split.test)`` pairs.
    n_permutations : int
        Number of permuted label vectors.
    seed : int
        Random state of the permutations.
    groups : array-like, shape (n_rows,) or None
        Group (participant) ids: labels are permuted within groups, and a grouped
        ``cv`` also receives them to split on.
    scoring : str, callable or None
        Scorer; ``None`` uses the estimator's ``score`` (accuracy for classifiers).
    n_jobs : int
        Number of parallel jobs.

    Returns
    -------
    result : dict
        ``observed`` (float), ``null`` (ndarray, shape (n_permutations,)),
        ``p_value`` (float) and ``n_permutations``.
    """
    observed, null, p_value = model_selection.permutation_test_score(
        estimator,
        X,
        y,
        groups=groups,
        cv=cv if groups is None or _uses_groups(cv) else _WithoutGroups(model_selection.check_cv(cv, y, classifier=is_classifier(estimator))),
        n_permutations=n_permutations,
        n_jobs=n_jobs,
        random_state=seed,
        scoring=scoring,
    )
    return {
        "observed": float(observed),
        "null": np.asarray(null, dtype=float),
        "p_value": float(p_value),
        "n_permutations": int(n_permutations),
    }


#: scikit-learn's splitters that split on groups (the others only receive them to ignore them).
_GROUP_SPLITTERS = tuple(getattr(model_selection, name) for name in (
    "GroupKFold", "GroupShuffleSplit", "LeaveOneGroupOut", "LeavePGroupsOut", "StratifiedGroupKFold"))


def _uses_groups(cv) -> bool:
    return isinstance(cv, _GROUP_SPLITTERS)


class _WithoutGroups:
    """A splitter that ignores ``groups``: they only say where to shuffle labels, not how to split."""

    def __init__(self, cv):
        self.cv = cv

    def split(self, X, y=None, groups=None):
        return self.cv.split(X, y)

    def get_n_splits(self, X=None, y=None, groups=None):
        return self.cv.get_n_splits(X, y)


def mean_ci(values, *, confidence=0.95):
    """Mean of per-fold scores with a Student t interval.

    Folds of one cross-validation share training data and are not independent, so
    this interval describes the spread of the fold scores rather than guaranteeing
    coverage of the true accuracy.

    Parameters
    ----------
    values : array-like of float, shape (n_values,)
        E.g. the accuracy of each fold.
    confidence : float
        Confidence level.

    Returns
    -------
    mean, low, high : float
        The mean and the interval bounds; ``low`` and ``high`` are nan for one value,
        and equal the mean when all values are equal.
    """
    values = np.asarray(values, dtype=float)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"values must be 1-D and non-empty, got shape {values.shape}")
    _check_confidence(confidence)
    mean = float(values.mean())
    if values.size == 1:
        return mean, float("nan"), float("nan")
    sem = float(stats.sem(values))
    if sem == 0.0:
        return mean, mean, mean
    low, high = stats.t.interval(confidence, values.size - 1, loc=mean, scale=sem)
    return mean, float(low), float(high)


def fold_summary(accuracies, baselines, n_tests, *, confidence=0.95):
    """What a cross-validation says: the folds' mean accuracy with its t-interval, and chance.

    Parameters
    ----------
    accuracies, baselines : array-like of float, shape (n_folds,)
        Each fold's test accuracy and its majority-class baseline.
    n_tests : array-like of int, shape (n_folds,)
        Each fold's number of test trials.

    Returns
    -------
    summary : dict
        ``mean``, ``low``, ``high`` (:func:`mean_ci`, clipped to [0, 1]: an accuracy's interval
        stays within it; nan for one fold), ``baseline`` (the majority baselines' share of all
        the folds' test trials: their mean weighted by test size, so a whole number of trials),
        ``n`` (folds), ``n_test`` (test trials over all folds), ``values`` (the accuracies) and
        ``interval`` ("t over folds": the folds share training data, so it describes their
        spread, not a confidence interval of the accuracy).
    """
    values = [float(a) for a in accuracies]
    mean, low, high = mean_ci(values, confidence=confidence)
    baseline = float(np.round(np.dot(baselines, n_tests)) / np.sum(n_tests))
    return {"mean": mean, "low": max(low, 0.0), "high": min(high, 1.0), "baseline": baseline,
            "n": len(values), "n_test": int(np.sum(n_tests)), "values": values, "interval": "t over folds"}
