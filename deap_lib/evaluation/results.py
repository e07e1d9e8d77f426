"""Typed results: a run's figures and summary, estimates over folds or seeds, and the protocols.

Frozen dataclasses; ``to_json`` / ``from_json`` are the stored JSON (used only at the store's edge).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from enum import Enum


class Protocol(Enum):
    """The four ways the report's question is evaluated, in the book's order."""

    BEST_ON_TEST = "best epoch on test (report's protocol)"
    FIXED = "fixed split, honest epoch"
    KFOLD = "random k-fold, last epoch"
    LOSO = "leave-one-subject-out, honest epoch"

    @property
    def heading(self) -> str:
        """The short column heading of tables."""
        return {"BEST_ON_TEST": "best on test", "FIXED": "fixed, honest epoch", "KFOLD": "random k-fold",
                "LOSO": "LOSO"}[self.name]

    @property
    def honest(self) -> bool:
        """Whether nothing is chosen on the test trials and participants do not leak (judged against chance)."""
        return self in (Protocol.FIXED, Protocol.LOSO)


@dataclass(frozen=True)
class Figure:
    """One test accuracy of a run and the (1-based) epoch it is read at; ``k``: epochs averaged
    (``last_k``); ``note``: why a figure is optimistic (``as_reported``)."""

    accuracy: float
    epoch: int
    k: int | None = None
    note: str | None = None

    def to_json(self) -> dict:
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}


@dataclass(frozen=True)
class RunSummary:
    """A run's test figures: ``as_reported`` (best on test: optimistic), ``last``, ``last_k`` (mean of
    the last k epochs) and ``val_chosen`` (None without a validation set), with chance and test size."""

    n_test: int
    majority_baseline: float
    as_reported: Figure
    last: Figure
    last_k: Figure
    val_chosen: Figure | None = None

    def figure(self, which: str = "val_chosen") -> Figure:
        """The ``which`` figure, or the last epoch when it was not computed (nothing was chosen)."""
        return getattr(self, which) or self.last

    def to_json(self) -> dict:
        return {"n_test": self.n_test, "majority_baseline": self.majority_baseline,
                **{w: None if f is None else f.to_json() for w, f in self.figures().items()}}

    def figures(self) -> dict:
        return {w: getattr(self, w) for w in ("as_reported", "last", "last_k", "val_chosen")}

    @classmethod
    def from_json(cls, d: dict) -> RunSummary:
        return cls(d["n_test"], d["majority_baseline"],
                   **{w: None if d.get(w) is None else Figure(**d[w]) for w in ("as_reported", "last", "last_k",
                                                                             "val_chosen")})


@dataclass(frozen=True)
class Estimate:
    """An accuracy with its interval and chance level.

    ``interval`` says what ``low``-``high`` is: "Wilson" (one split), "t over folds" (folds share
    training data: their spread, not a confidence interval), "t over seeds" (where the mean of such
    runs lies) or "none" (a maximum chosen on the test trials: ``low``, ``high`` nan). ``n``: folds or
    seeds behind ``values``; over folds, ``fold_sd``, ``seed_sd`` (pooled within folds) and
    ``seeds`` (per fold); over seeds, ``sd``, the baseline's Wilson upper end ``baseline_high`` and
    ``n_above`` (seeds above it), ``seed_ids`` (the training seeds).
    """

    mean: float
    low: float
    high: float
    baseline: float
    n: int
    n_test: int
    values: tuple
    interval: str
    epochs: int
    sd: float = math.nan
    fold_sd: float = math.nan
    seed_sd: float = math.nan
    seeds: int = 1
    baseline_high: float = math.nan
    n_above: int = 0
    seed_ids: tuple = ()

    @property
    def min(self) -> float:
        return min(self.values)

    @property
    def max(self) -> float:
        return max(self.values)

    def at_chance(self) -> bool:
        """Whether the interval reaches the majority baseline (it cannot be told from chance)."""
        return self.low <= self.baseline

    def above_chance(self) -> bool:
        """Over seeds: the t-interval of the mean lies above the baseline (one seed: it lies above
        the baseline's Wilson interval)."""
        return self.n_above == 1 if self.n < 2 else self.low > self.baseline

    def replace(self, **changes) -> Estimate:
        return dataclasses.replace(self, **changes)
