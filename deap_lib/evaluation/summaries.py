"""What stored runs say, as numbers: a run's honest figure, summaries over folds, the comparison of
protocols, the negative control's verdict. (:mod:`deap_lib.report.pages` puts them in words and tables.)

A run's record carries three figures (:func:`deap_lib.experiment.engine.summarize`): ``as_reported`` (the
best test epoch, chosen on the test set: optimistic), ``last`` and ``val_chosen`` (the epoch with
the best validation accuracy; None when no validation set was held out).
"""

from __future__ import annotations

import math

import numpy as np
import scipy.stats

from deap_lib.evaluation import stats

#: The four ways the report's question is evaluated, in the book's order.
PROTOCOLS = (
    "best epoch on test (report's protocol)",
    "fixed split, honest epoch",
    "random k-fold, last epoch",
    "leave-one-subject-out, honest epoch",
)
#: What "honest epoch" means in :data:`PROTOCOLS`.
HONEST_EPOCH = ("the epoch chosen on a validation set held out of the training trials (whole participants "
                "under leave-one-subject-out) when the profile holds one out (val_fraction > 0), else the last epoch; "
                "on the fixed split with several training seeds, the mean over the seeds of the fixed-split "
                "chapter's headline honest figure")


def figure(summary: dict, which: str = "val_chosen") -> dict:
    """A run's ``which`` figure (``{"accuracy", "epoch"}``), or its last epoch when it has none
    (no validation set was held out, so nothing was chosen)."""
    return summary[which] or summary["last"]


def folds(records: list[dict], which: str = "last") -> dict:
    """The folds of a cross-validation summarised (:func:`deap_lib.evaluation.stats.fold_summary`) on their
    ``which`` figure (:func:`figure`), with the epochs they were trained for.

    A fold trained with several training seeds counts once, with the mean of its seeds (so the
    t-interval is over folds, never over seeds taken for folds). ``fold_sd`` is the spread of the
    folds' means, ``seed_sd`` the spread of one fold's seeds (pooled over folds; nan with one
    seed per fold), ``seeds`` the training seeds per fold.
    """
    by_fold: dict[str, list[dict]] = {}
    for r in records:
        by_fold.setdefault(r["split"]["name"], []).append(r)
    runs = list(by_fold.values())
    per_fold = [[figure(r["summary"], which)["accuracy"] for r in fold] for fold in runs]
    means = [float(np.mean(v)) for v in per_fold]
    spread = [np.var(v, ddof=1) for v in per_fold if len(v) > 1]
    return {
        **stats.fold_summary(means, [fold[0]["summary"]["majority_baseline"] for fold in runs],
                             [fold[0]["summary"]["n_test"] for fold in runs]),
        "epochs": records[0]["config"]["epochs"],
        "seeds": min(len(v) for v in per_fold),
        "fold_sd": float(np.std(means, ddof=1)) if len(means) > 1 else math.nan,
        "seed_sd": float(np.sqrt(np.mean(spread))) if spread else math.nan,
    }


#: The figures of a fixed-split experiment summarised over its training seeds.
SEED_FIGURES = ("last", "last_k", "as_reported")


def over_seeds(pairs: list[dict], which: str) -> dict:
    """One fixed-split experiment's ``which`` figure over its training seeds.

    ``pairs``: the experiment's :func:`deap_lib.experiment.protocols.run_fixed` items, one per
    training seed, all on one split (one test set, one majority baseline). Returns the seeds'
    ``values``, ``mean``, ``sd``, ``min``, ``max``, the t-interval over seeds (``low``-``high``:
    where the mean of such runs lies, not one run's accuracy), the ``baseline`` with the upper end
    of its Wilson interval on the test set (``baseline_high``), and ``n_above``: how many seeds
    lie above that end. ``which`` "val_chosen" falls back to the last epoch (:func:`figure`).
    """
    summaries = [p["summary"] for p in pairs]
    values = [figure(s, which)["accuracy"] for s in summaries]
    baseline, n_test = summaries[0]["majority_baseline"], summaries[0]["n_test"]
    if any((s["majority_baseline"], s["n_test"]) != (baseline, n_test) for s in summaries):
        raise ValueError("over_seeds takes the runs of one split (one test set, one baseline)")
    mean, low, high = stats.mean_ci(values)
    _, baseline_high = stats.accuracy_ci(baseline, n_test)
    return {"values": values, "seeds": [p["report"]["seed"]["train"] for p in pairs], "mean": mean,
            "sd": float(np.std(values, ddof=1)) if len(values) > 1 else math.nan,
            "min": min(values), "max": max(values), "low": max(low, 0.0), "high": min(high, 1.0),
            "baseline": baseline, "baseline_high": baseline_high, "n": len(values), "n_test": n_test,
            "n_above": sum(v > baseline_high for v in values), "interval": "t over seeds",
            "epochs": pairs[0]["report"]["config"]["epochs"]}


def steadier(by_experiment: dict) -> dict:
    """Which honest figure varies less over seeds: ``by_experiment`` is ``{key: {figure:
    over_seeds(...)}}`` holding "last" and "last_k"; each figure's spread is the root mean of the
    experiments' seed variances. Returns ``{"choice": "last" | "last_k", "sd": {figure: spread}}``
    (the last epoch on a tie: the simpler figure). nan spreads (one seed) choose the last epoch."""
    sd = {w: float(np.sqrt(np.mean([v[w]["sd"] ** 2 for v in by_experiment.values()]))) for w in ("last", "last_k")}
    return {"choice": "last_k" if sd["last_k"] < sd["last"] else "last", "sd": sd}


def compare_over_seeds(a: list[float], b: list[float]) -> dict:
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


def single(accuracy: float, baseline: float, n_test: int, epochs: int) -> dict:
    """One test figure in the shape of :func:`folds`, with its Wilson 95 % interval."""
    low, high = stats.accuracy_ci(accuracy, n_test)
    return {"mean": accuracy, "low": low, "high": high, "baseline": baseline, "n": 1, "n_test": n_test,
            "values": [accuracy], "interval": "Wilson", "epochs": epochs}


def protocol_summary(fixed: dict, kfold: list[dict], loso: list[dict], *, seeds_figure: str = "last_k") -> dict:
    """How the number moves with the protocol, for one model and target.

    ``fixed``: the fixed split's pair (:func:`deap_lib.experiment.protocols.run_fixed`); ``kfold`` and ``loso``:
    their fold records. Returns ``{protocol: summary}`` in the order of :data:`PROTOCOLS`, each as
    :func:`folds` gives. ``interval`` says what ``low``-``high`` is: a Wilson interval for the
    honest figure on the single split (when the pair holds several training seeds,
    ``fixed["seeds"]``: the mean over seeds of ``seeds_figure``, the headline honest figure, with
    its t-interval over seeds); a t-interval over folds for the cross-validations; "none"
    for the best-on-test figure (a maximum over epochs chosen on the test trials has no valid
    interval: ``low`` and ``high`` are nan).
    """
    s, epochs = fixed["summary"], fixed["report"]["config"]["epochs"]
    seeds = fixed.get("seeds", [fixed])
    if len(seeds) > 1:  # the mean over training seeds, with its t-interval over seeds
        best, honest = over_seeds(seeds, "as_reported"), over_seeds(seeds, seeds_figure)
    else:
        best = single(s["as_reported"]["accuracy"], s["majority_baseline"], s["n_test"], epochs)
        honest = single(figure(s)["accuracy"], s["majority_baseline"], s["n_test"], epochs)
    return {
        PROTOCOLS[0]: {**best, "low": math.nan, "high": math.nan, "interval": "none"},
        PROTOCOLS[1]: honest,
        PROTOCOLS[2]: folds(kfold, "last"),
        PROTOCOLS[3]: folds(loso, "val_chosen"),
    }


def at_chance(summary: dict) -> bool:
    """Whether a figure's interval reaches its majority baseline (it cannot be told from chance)."""
    return summary["low"] <= summary["baseline"]


def judge_control(summaries: dict, baseline_runs: dict) -> dict:
    """Check that every honest figure on a null twin sits at chance (:func:`at_chance`).

    ``summaries``: ``{(model, target): protocol_summary(...)}`` on the null twin;
    ``baseline_runs``: ``{target: run_baseline("logreg", ..., LOSO splits)}`` on the null twin.
    Random k-fold is listed but not judged: it is not an honest figure (participants leak).
    Returns ``{"figures": [(name, summary, judged)], "all_at_chance": bool}``.
    """
    figures = [(f"{m.upper()} {t}, {protocol}", v, protocol in (PROTOCOLS[1], PROTOCOLS[3]))
               for (m, t), by_protocol in summaries.items() for protocol, v in by_protocol.items()]
    for t, recs in baseline_runs.items():
        v = stats.fold_summary([r["accuracy"] for r in recs], [r["majority_baseline"] for r in recs],
                               [r["n_test"] for r in recs])
        figures.append((f"logistic regression {t}, LOSO", v, True))
    return {"figures": figures, "all_at_chance": all(at_chance(v) for _, v, judged in figures if judged)}


def several_seeds(pairs: dict) -> bool:
    """Whether any fixed-split pair of ``pairs`` (``{key: pair}``) holds more than one training seed."""
    return max(len(p.get("seeds", [p])) for p in pairs.values()) > 1


def seed_figures(pairs: dict) -> dict:
    """:func:`over_seeds` of every figure in :data:`SEED_FIGURES` for each fixed-split experiment:
    ``pairs`` is ``{key: pair}`` whose pairs hold their seeds' pairs under ``"seeds"`` (a pair
    without is one seed); returns ``{key: {figure: over_seeds(...)}}``."""
    return {key: {w: over_seeds(pair.get("seeds", [pair]), w) for w in SEED_FIGURES} for key, pair in pairs.items()}


def above_chance(summary: dict) -> bool:
    """Whether a figure over seeds is told from chance: the t-interval of its mean over seeds lies
    above the majority baseline (with one seed: the seed lies above the baseline's Wilson interval)."""
    if summary["n"] < 2:
        return summary["n_above"] == 1
    return summary["low"] > summary["baseline"]
