"""What stored runs say, as numbers: summaries over folds and over training seeds, the comparison
of protocols, the negative control's verdict (:mod:`deap_lib.report.pages` puts them in words).

Runs come in as records (:class:`deap_lib.experiment.records.Record`) or a fixed split's runs
(:class:`~deap_lib.experiment.records.FixedRun`, one per training seed); results go out as
:class:`~deap_lib.evaluation.results.Estimate`.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.stats

from deap_lib.evaluation import stats
from deap_lib.evaluation.results import Estimate, Protocol

#: What "honest epoch" means in :class:`Protocol`.
HONEST_EPOCH = ("the epoch chosen on a validation set held out of the training trials (whole participants "
                "under leave-one-subject-out) when the profile holds one out (val_fraction > 0), else the last epoch; "
                "on the fixed split with several training seeds, the mean over the seeds of the fixed-split "
                "chapter's headline honest figure")

#: The figures of a fixed-split experiment summarised over its training seeds.
SEED_FIGURES = ("last", "last_k", "as_reported")


def fold_estimate(accuracies, baselines, n_tests, epochs: int) -> Estimate:
    """:func:`deap_lib.evaluation.stats.fold_summary` as an :class:`Estimate`."""
    s = stats.fold_summary(accuracies, baselines, n_tests)
    return Estimate(**{**s, "values": tuple(s["values"])}, epochs=epochs)


def baseline_folds(records: list[dict]) -> Estimate:
    """A classical baseline's folds (:func:`deap_lib.experiment.baselines.run_baseline` records)."""
    return fold_estimate([r["accuracy"] for r in records], [r["majority_baseline"] for r in records],
                         [r["n_test"] for r in records], 0)


def folds(records: list, which: str = "last") -> Estimate:
    """The folds of a cross-validation on their ``which`` figure (t-interval over folds).

    A fold trained with several training seeds counts once, with the mean of its seeds: the interval
    is over folds, never over seeds taken for folds. ``fold_sd``: spread of the folds' means;
    ``seed_sd``: spread of one fold's seeds, pooled (nan with one seed per fold).
    """
    by_fold: dict[str, list] = {}
    for r in records:
        by_fold.setdefault(r.split.name, []).append(r)
    runs = list(by_fold.values())
    per_fold = [[r.summary.figure(which).accuracy for r in fold] for fold in runs]
    means = [float(np.mean(v)) for v in per_fold]
    spread = [np.var(v, ddof=1) for v in per_fold if len(v) > 1]
    return fold_estimate(means, [f[0].summary.majority_baseline for f in runs], [f[0].summary.n_test for f in runs],
                         records[0].config.epochs).replace(
        seeds=min(len(v) for v in per_fold),
        fold_sd=float(np.std(means, ddof=1)) if len(means) > 1 else math.nan,
        seed_sd=float(np.sqrt(np.mean(spread))) if spread else math.nan)


def over_seeds(runs: list, which: str) -> Estimate:
    """One fixed-split experiment's ``which`` figure over its training seeds (``runs``: its
    :class:`~deap_lib.experiment.records.FixedRun` per seed, all on one split).

    ``low``-``high`` is the t-interval over seeds (where the mean of such runs lies, not one run's
    accuracy); ``n_above`` counts the seeds above the baseline's Wilson upper end ``baseline_high``.
    """
    summaries = [r.summary for r in runs]
    values = tuple(s.figure(which).accuracy for s in summaries)
    baseline, n_test = summaries[0].majority_baseline, summaries[0].n_test
    if any((s.majority_baseline, s.n_test) != (baseline, n_test) for s in summaries):
        raise ValueError("over_seeds takes the runs of one split (one test set, one baseline)")
    mean, low, high = stats.mean_ci(values)
    _, baseline_high = stats.accuracy_ci(baseline, n_test)
    return Estimate(mean, max(low, 0.0), min(high, 1.0), baseline, len(values), n_test, values, "t over seeds",
                    runs[0].config.epochs, sd=float(np.std(values, ddof=1)) if len(values) > 1 else math.nan,
                    seeds=len(values), baseline_high=baseline_high, n_above=sum(v > baseline_high for v in values),
                    seed_ids=tuple(r.config.train_seed for r in runs))


def single(accuracy: float, baseline: float, n_test: int, epochs: int) -> Estimate:
    """One test figure with its Wilson 95 % interval."""
    low, high = stats.accuracy_ci(accuracy, n_test)
    return Estimate(accuracy, low, high, baseline, 1, n_test, (accuracy,), "Wilson", epochs)


def seed_figures(fixed: dict) -> dict:
    """``{key: {figure: over_seeds(...)}}`` for every figure of :data:`SEED_FIGURES`; ``fixed`` is
    ``{key: [FixedRun per training seed]}``."""
    return {key: {w: over_seeds(runs, w) for w in SEED_FIGURES} for key, runs in fixed.items()}


def steadier(seeds: dict) -> dict:
    """Which honest figure varies less over seeds (``seeds``: :func:`seed_figures`): each figure's
    spread is the root mean of the experiments' seed variances. Returns ``{"choice": "last" |
    "last_k", "sd": {figure: spread}}``; a tie or nan spreads (one seed) choose the last epoch."""
    sd = {w: float(np.sqrt(np.mean([v[w].sd ** 2 for v in seeds.values()]))) for w in ("last", "last_k")}
    return {"choice": "last_k" if sd["last_k"] < sd["last"] else "last", "sd": sd}


def compare_over_seeds(a, b) -> dict:
    """Two models' seed values on one split: the difference of means, Welch's t-test (nan with
    fewer than two seeds a side), and the share of seed pairs that ``a`` wins (ties count half)."""
    a_, b_ = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a_) > 1 and len(b_) > 1 and (a_.std() > 0 or b_.std() > 0):
        t, p = scipy.stats.ttest_ind(a_, b_, equal_var=False)
    else:
        t = p = math.nan
    wins = (a_[:, None] > b_[None, :]).mean() + 0.5 * (a_[:, None] == b_[None, :]).mean()
    return {"difference": float(a_.mean() - b_.mean()), "t": float(t), "p_value": float(p),
            "share_a_wins": float(wins), "sd_a": float(a_.std(ddof=1)) if len(a_) > 1 else math.nan,
            "sd_b": float(b_.std(ddof=1)) if len(b_) > 1 else math.nan}


def protocol_summary(fixed: list, kfold: list, loso: list, *, seeds_figure: str = "last_k") -> dict:
    """``{Protocol: Estimate}`` for one model and target, in the order of :class:`Protocol`.

    ``fixed``: the experiment's FixedRun per training seed (several: the mean over seeds of
    ``seeds_figure``, the headline honest figure, with its t-interval; one: the honest figure with
    its Wilson interval); ``kfold``, ``loso``: their fold records. The best-on-test figure gets no
    interval (a maximum over epochs chosen on the test trials has no valid one).
    """
    if len(fixed) > 1:
        best, honest = over_seeds(fixed, "as_reported"), over_seeds(fixed, seeds_figure)
    else:
        s, epochs = fixed[0].summary, fixed[0].config.epochs
        best = single(s.as_reported.accuracy, s.majority_baseline, s.n_test, epochs)
        honest = single(s.figure().accuracy, s.majority_baseline, s.n_test, epochs)
    return {Protocol.BEST_ON_TEST: best.replace(low=math.nan, high=math.nan, interval="none"),
            Protocol.FIXED: honest, Protocol.KFOLD: folds(kfold, "last"), Protocol.LOSO: folds(loso, "val_chosen")}


def judge_control(summaries: dict, baseline_runs: dict) -> dict:
    """Check that every honest figure on a null twin sits at chance (:meth:`Estimate.at_chance`).

    ``summaries``: ``{(model, target): protocol_summary(...)}`` on the null twin; ``baseline_runs``:
    ``{target: run_baseline("logreg", ..., LOSO splits)}`` on it. Random k-fold is listed, not judged
    (participants leak). Returns ``{"figures": [(name, Estimate, judged)], "all_at_chance": bool}``.
    """
    figures = [(f"{m.upper()} {t}, {protocol.value}", v, protocol.honest)
               for (m, t), by_protocol in summaries.items() for protocol, v in by_protocol.items()]
    for t, recs in baseline_runs.items():
        figures.append((f"logistic regression {t}, LOSO", baseline_folds(recs), True))
    return {"figures": figures, "all_at_chance": all(v.at_chance() for _, v, judged in figures if judged)}
