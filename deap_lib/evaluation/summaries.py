"""What stored runs say, as numbers: a run's honest figure, summaries over folds, the comparison of
protocols, the negative control's verdict. (:mod:`deap_lib.report.pages` puts them in words and tables.)

A run's record carries three figures (:func:`deap_lib.experiment.engine.summarize`): ``as_reported`` (the
best test epoch, chosen on the test set: optimistic), ``last`` and ``val_chosen`` (the epoch with
the best validation accuracy; None when no validation set was held out).
"""

from __future__ import annotations

import math

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
                "under leave-one-subject-out) when the profile holds one out (val_fraction > 0), else the last epoch")


def figure(summary: dict, which: str = "val_chosen") -> dict:
    """A run's ``which`` figure (``{"accuracy", "epoch"}``), or its last epoch when it has none
    (no validation set was held out, so nothing was chosen)."""
    return summary[which] or summary["last"]


def folds(records: list[dict], which: str = "last") -> dict:
    """The folds of a cross-validation summarised (:func:`deap_lib.evaluation.stats.fold_summary`) on their
    ``which`` figure (:func:`figure`), with the epochs they were trained for."""
    summaries = [r["summary"] for r in records]
    return {
        **stats.fold_summary([figure(s, which)["accuracy"] for s in summaries],
                             [s["majority_baseline"] for s in summaries], [s["n_test"] for s in summaries]),
        "epochs": records[0]["config"]["epochs"],
    }


def single(accuracy: float, baseline: float, n_test: int, epochs: int) -> dict:
    """One test figure in the shape of :func:`folds`, with its Wilson 95 % interval."""
    low, high = stats.accuracy_ci(accuracy, n_test)
    return {"mean": accuracy, "low": low, "high": high, "baseline": baseline, "n": 1, "n_test": n_test,
            "values": [accuracy], "interval": "Wilson", "epochs": epochs}


def protocol_summary(fixed: dict, kfold: list[dict], loso: list[dict]) -> dict:
    """How the number moves with the protocol, for one model and target.

    ``fixed``: the fixed split's pair (:func:`deap_lib.experiment.protocols.run_fixed`); ``kfold`` and ``loso``:
    their fold records. Returns ``{protocol: summary}`` in the order of :data:`PROTOCOLS`, each as
    :func:`folds` gives. ``interval`` says what ``low``-``high`` is: a Wilson interval for the
    honest figure on the single split; a t-interval over folds for the cross-validations; "none"
    for the best-on-test figure (a maximum over epochs chosen on the test trials has no valid
    interval: ``low`` and ``high`` are nan).
    """
    s, epochs = fixed["summary"], fixed["report"]["config"]["epochs"]
    best = single(s["as_reported"]["accuracy"], s["majority_baseline"], s["n_test"], epochs)
    return {
        PROTOCOLS[0]: {**best, "low": math.nan, "high": math.nan, "interval": "none"},
        PROTOCOLS[1]: single(figure(s)["accuracy"], s["majority_baseline"], s["n_test"], epochs),
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
