"""Binary labels from DEAP's 1-9 self-assessment ratings.

The report's code labels a trial "high" when its rating is >= 5 (its prose quotes counts for > 5;
16 valence and 17 arousal ratings in DEAP are exactly 5.0, which explains the difference).
"""

from __future__ import annotations

import numpy as np

TARGETS = {"valence": 0, "arousal": 1}
THRESHOLD = 5.0


def check_target(target: str) -> int:
    """Return the ratings column of ``target``; a clear error for anything else."""
    try:
        return TARGETS[target]
    except KeyError:
        raise ValueError(f"target must be one of {sorted(TARGETS)}, got {target!r}") from None


def binarize(ratings: np.ndarray, target: str, *, threshold: float = THRESHOLD) -> np.ndarray:
    """Labels (int64, 1 = rating ``>= threshold``) of ``target`` from ``ratings`` (n_trials, 4):
    valence, arousal, dominance, liking."""
    ratings = np.asarray(ratings)
    if ratings.ndim != 2 or ratings.shape[1] < 2:
        raise ValueError(f"ratings must have shape (n_trials, 4), got {ratings.shape}")
    return (ratings[:, check_target(target)] >= threshold).astype(np.int64)


def class_balance(ratings: np.ndarray, *, threshold: float = THRESHOLD) -> list[dict]:
    """One row per target: trials, high, low, share high, ratings exactly at the threshold.

    ``high_if_strict`` counts ``rating > threshold``: the convention behind the report's prose.
    """
    rows = []
    for target, col in TARGETS.items():
        r = np.asarray(ratings)[:, col]
        high = int((r >= threshold).sum())
        rows.append({"target": target, "n_trials": int(r.size), "high": high, "low": int(r.size - high),
                     "share_high": high / r.size if r.size else float("nan"),
                     "at_threshold": int((r == threshold).sum()), "high_if_strict": int((r > threshold).sum())})
    return rows
