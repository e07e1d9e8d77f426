import math
import warnings

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold

from deap_lib.evaluation.stats import (
    accuracy_ci,
    fold_summary,
    majority_baseline,
    mcnemar_exact,
    mcnemar_exact_from_counts,
    mean_ci,
    paired_t_5x2cv,
    permutation_test_estimator,
    wilson_interval,
)

Z_95 = 1.959963984540054  # standard normal 0.975 quantile

# %% majority baseline


def test_majority_baseline_hand_examples():
    assert majority_baseline([1, 1, 0], [1, 0, 0, 0]) == 0.25
    assert majority_baseline([0, 0, 1], [1, 0, 0, 0]) == 0.75


def test_majority_baseline_tie_predicts_high():
    assert majority_baseline([0, 1, 1, 0], [1, 1, 0]) == pytest.approx(2 / 3)


def test_wilson_interval_matches_closed_form():
    k, n = 71, 100
    p = k / n
    z2 = Z_95**2
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z_95 / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n**2))
    low, high = wilson_interval(k, n)
    assert low == pytest.approx(centre - half, abs=1e-12)
    assert high == pytest.approx(centre + half, abs=1e-12)
    assert (round(low, 4), round(high, 4)) == (0.6146, 0.7899)


@pytest.mark.parametrize("k", [0, 100])
def test_wilson_interval_stays_in_unit_interval(k):
    low, high = wilson_interval(k, 100)
    assert 0.0 <= low < high <= 1.0
    bound_at_edge = low if k == 0 else high
    assert bound_at_edge == pytest.approx(k / 100, abs=1e-12)


@pytest.mark.parametrize("k, n", [(1, 0), (-1, 10), (11, 10), (0.5, 10)])
def test_wilson_interval_refuses_impossible_counts(k, n):
    with pytest.raises((ValueError, TypeError)):  # scipy's binomtest checks the counts
        wilson_interval(k, n)


def test_accuracy_ci():
    assert accuracy_ci(0.71, 100) == wilson_interval(71, 100)
    # the report's "71.0 % (95 % CI 62.1-79.9)" is the normal (Wald) interval
    low, high = accuracy_ci(0.71, 100, method="normal")
    assert (round(100 * low, 1), round(100 * high, 1)) == (62.1, 79.9)
    with pytest.raises(ValueError, match="whole number"):
        accuracy_ci(0.715, 100)


# %% McNemar


def test_mcnemar_from_report_counts():
    result = mcnemar_exact_from_counts(14, 19)
    assert round(result["p_value"], 3) == 0.487
    assert result["n_discordant"] == 33
    assert mcnemar_exact_from_counts(19, 14)["p_value"] == result["p_value"]
    assert mcnemar_exact_from_counts(0, 0)["p_value"] == 1.0


def test_mcnemar_full_arrays_match_counts():
    # both right 52, both wrong 15, only A right 14, only B right 19: the report's table
    right_a = np.array([True] * 52 + [False] * 15 + [True] * 14 + [False] * 19)
    right_b = np.array([True] * 52 + [False] * 15 + [False] * 14 + [True] * 19)
    y_true = np.random.default_rng(0).integers(0, 2, size=100)
    pred_a = np.where(right_a, y_true, 1 - y_true)
    pred_b = np.where(right_b, y_true, 1 - y_true)
    result = mcnemar_exact(y_true, pred_a, pred_b)
    assert (result["both_right"], result["both_wrong"]) == (52, 15)
    assert (result["n01"], result["n10"], result["n"]) == (14, 19, 100)
    assert result["p_value"] == mcnemar_exact_from_counts(14, 19)["p_value"]


# %% 5x2cv paired t-test


def test_paired_t_5x2cv_hand_example():
    diffs = np.array(
        [
            [0.04, 0.02],  # mean 0.03, s^2 = 0.01^2 + 0.01^2 = 0.0002
            [0.01, 0.03],  # mean 0.02, s^2 = 0.0002
            [-0.02, 0.02],  # mean 0.00, s^2 = 0.02^2 + 0.02^2 = 0.0008
            [0.05, 0.01],  # mean 0.03, s^2 = 0.0008
            [0.00, 0.04],  # mean 0.02, s^2 = 0.0008
        ]
    )
    # sum s^2 = 0.0028, / 5 = 0.00056; t = 0.04 / sqrt(0.00056), so t^2 = 0.0016 / 0.00056 = 20 / 7
    expected_t = math.sqrt(20 / 7)
    result = paired_t_5x2cv(diffs)
    assert result["t"] == pytest.approx(expected_t, rel=1e-12)
    assert result["dof"] == 5
    # two-sided p from Student t(5): t ~ 1.690 lies between its 0.90 (1.476) and 0.95 (2.015)
    # quantiles, so 0.10 < p < 0.20
    assert 0.10 < result["p_value"] < 0.20
    assert result["mean_difference"] == pytest.approx(0.02)  # row means sum to 0.10
    swapped = paired_t_5x2cv(-diffs)
    assert swapped["t"] == pytest.approx(-expected_t)
    assert swapped["p_value"] == pytest.approx(result["p_value"])


def test_paired_t_5x2cv_validates():
    with pytest.raises(ValueError, match="shape"):
        paired_t_5x2cv(np.zeros((2, 5)))
    with pytest.raises(ValueError, match="variance"):
        paired_t_5x2cv(np.full((5, 2), 0.01))


# %% permutation tests


def test_permutation_test_estimator_returns_same_shape():
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, size=80)
    X = np.column_stack([y + rng.normal(scale=0.5, size=80), rng.normal(size=80)])
    result = permutation_test_estimator(
        LogisticRegression(), X, y, cv=3, n_permutations=9, seed=0
    )
    assert set(result) == {"observed", "null", "p_value", "n_permutations"}
    assert result["null"].shape == (9,)
    assert result["observed"] > 0.8
    assert result["p_value"] == pytest.approx(1 / 10)


# %% mean over folds


def test_mean_ci_hand_example():
    mean, low, high = mean_ci([0.5, 0.6, 0.7])
    # sd = 0.1, sem = 0.1 / sqrt(3), t(0.975, dof 2) = 4.3027 from a t table
    half = 4.302652729911275 * 0.1 / math.sqrt(3)
    assert mean == pytest.approx(0.6)
    assert low == pytest.approx(0.6 - half)
    assert high == pytest.approx(0.6 + half)


def test_mean_ci_edge_cases():
    mean, low, high = mean_ci([0.7])
    assert mean == 0.7 and math.isnan(low) and math.isnan(high)
    assert mean_ci([0.5, 0.5]) == (0.5, 0.5, 0.5)


def test_permutation_estimator_groups_only_shuffle_for_plain_splitters():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 3))
    y = (X[:, 0] > 0).astype(int)
    groups = np.repeat(np.arange(6), 10)
    folds = list(KFold(3).split(X))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # KFold would warn that it ignores groups
        for cv in (KFold(3, shuffle=True, random_state=0), folds):
            out = permutation_test_estimator(LogisticRegression(), X, y, cv=cv, n_permutations=9, seed=1, groups=groups)
            assert out["observed"] > 0.8 and out["p_value"] == 0.1


def test_fold_summary_clips_the_interval_and_averages_the_baseline():
    out = fold_summary([0.9, 1.0, 1.0], [0.5, 0.6, 0.7], [40, 40, 40])
    mean, low, high = mean_ci([0.9, 1.0, 1.0])
    assert high > 1 and out["high"] == 1.0 and out["low"] == low and out["mean"] == mean
    assert out["baseline"] == pytest.approx(0.6) and (out["n"], out["n_test"]) == (3, 120)
    one = fold_summary([0.7], [0.55], [40])
    assert math.isnan(one["low"]) and math.isnan(one["high"]) and one["mean"] == 0.7
