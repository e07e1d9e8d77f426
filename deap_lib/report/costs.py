"""What a profile costs: its training runs, and their wall time projected from measured epoch times.

:func:`profile_runs` lists every training run a whole book executes under a profile's settings
(each chapter's protocols, the 5x2cv test and, on the twin, the null-twin control), with the
sizes the real split functions give. :func:`epoch_model` fits, per model, the seconds of one
epoch against the trials it fits and those it evaluates, from measured runs
(``benchmarks/learning_curves.py``), and :func:`projected_hours` schedules the runs longest first
on a number of parallel slots, as :func:`deap_lib.experiment.protocols.run_jobs` does.
"""

from __future__ import annotations

import heapq

import numpy as np

from deap_lib.data.deap_format import N_PARTICIPANTS, N_TRIALS
from deap_lib.experiment import splits
from deap_lib.experiment.settings import cv_experiments


def _fit_rows(train: np.ndarray, val_fraction: float, seed: int, groups: np.ndarray | None = None) -> tuple[int, int]:
    """(fitted, validation) rows of a run on ``train`` (the engine's validation split)."""
    if val_fraction <= 0:
        return len(train), 0
    fit, val = splits.validation_split(train, fraction=val_fraction, seed=seed,
                                       groups=None if groups is None else groups[train])
    return len(fit), len(val)


def profile_runs(values: dict, *, n_participants: int = N_PARTICIPANTS, control: bool = True,
                 mahnob_sessions: int = 546) -> list[dict]:
    """Every training run of a book under ``values`` (a profile with the report's defaults), as
    ``{"step", "model", "target", "runs", "epochs", "fit", "val", "test"}`` rows (``runs`` alike:
    the fixed splits' runs times ``train_seeds``, the folds times ``fold_seeds``).

    ``control``: count the null-twin negative control (it runs the fixed split, k-fold and LOSO
    again) when the profile has one. ``mahnob_sessions``: the usable sessions of the MAHNOB-HCI
    chapter (its 86 test sessions and 6 folds, as the chapter's parameters; 0: not counted). The validation rows' sizes come from
    :func:`deap_lib.experiment.splits.validation_split` on the real layout (the exact seeds per
    run do not change a size by more than a trial).
    """
    n = n_participants * N_TRIALS
    seed = values.get("seed", 12)
    seeds, fold_seeds = values.get("train_seeds", 1), values.get("fold_seeds", 1)
    participant = np.repeat(np.arange(1, n_participants + 1), N_TRIALS)
    every = [(m, t) for m in ("dnn", "cnn") for t in ("valence", "arousal")]
    rows = []
    fixed = splits.fixed_split(n, n_test=values["n_test"], seed=seed)
    for model, target in every:
        rows.append(dict(step="fixed split, report's protocol", model=model, target=target, runs=seeds,
                         epochs=values["epochs"], fit=len(fixed.train), val=0, test=len(fixed.test)))
        if values["val_fraction"] > 0:
            fit, val = _fit_rows(fixed.train, values["val_fraction"], seed)
            rows.append(dict(step="fixed split, validation run", model=model, target=target, runs=seeds,
                             epochs=values["epochs"], fit=fit, val=val, test=len(fixed.test)))
    folds = splits.seeded_subset(splits.kfold_splits(n, n_folds=values["n_folds"], seed=seed),
                                 values["kfold_holdout"], seed=seed)
    loso = splits.loso_splits(participant, holdout=values["loso_holdout"], seed=seed)
    loso_fit, loso_val = _fit_rows(loso[0].train, values["val_fraction"], seed, participant)
    for model, target in cv_experiments(values):
        rows.append(dict(step="random k-fold", model=model, target=target, runs=len(folds) * fold_seeds,
                         epochs=values["cv_epochs"],
                         fit=len(folds[0].train), val=0, test=len(folds[0].test)))
        rows.append(dict(step="leave-one-subject-out", model=model, target=target, runs=len(loso) * fold_seeds,
                         epochs=values["loso_epochs"], fit=loso_fit, val=loso_val, test=len(loso[0].test)))
    if control and values.get("control_effect") is not None:
        rows += [{**row, "step": f"null-twin control: {row['step']}"} for row in list(rows)]
    if mahnob_sessions:
        rows += _mahnob_runs(values, mahnob_sessions, seed, seeds, fold_seeds)
    if values.get("five_by_two_epochs") is not None:
        half = n // 2
        for model in ("dnn", "cnn"):
            rows.append(dict(step="5x2cv", model=model, target="valence", runs=10, epochs=values["five_by_two_epochs"],
                             fit=half, val=0, test=n - half))
    return rows


def _mahnob_runs(values: dict, n: int, seed: int, seeds: int, fold_seeds: int, n_test: int = 86,
                 n_folds: int = 6) -> list[dict]:
    """The MAHNOB-HCI chapter's runs (:func:`deap_lib.report.chapters.mahnob_chapter`)."""
    chosen = cv_experiments(values, "mahnob_experiments")
    cv_models = {m for m, _ in cv_experiments(values)}
    epochs = values["mahnob_epochs"]
    fixed = splits.fixed_split(n, n_test=n_test, seed=seed)
    folds = splits.seeded_subset(splits.kfold_splits(n, n_folds=n_folds, seed=seed), values["kfold_holdout"], seed=seed)
    rows = []
    for model, target in chosen:
        rows.append(dict(step="MAHNOB-HCI fixed split", model=model, target=target, runs=seeds, epochs=epochs,
                         fit=len(fixed.train), val=0, test=len(fixed.test)))
        if values["val_fraction"] > 0:
            fit, val = _fit_rows(fixed.train, values["val_fraction"], seed)
            rows.append(dict(step="MAHNOB-HCI fixed split", model=model, target=target, runs=seeds, epochs=epochs,
                             fit=fit, val=val, test=len(fixed.test)))
        if model in cv_models:
            rows.append(dict(step="MAHNOB-HCI 6-fold", model=model, target=target, runs=len(folds) * fold_seeds, epochs=epochs,
                             fit=len(folds[0].train), val=0, test=len(folds[0].test)))
    return rows


def epoch_model(measured: list[dict]) -> dict[str, tuple[float, float]]:
    """Per model, ``(seconds per fitted trial, seconds per evaluated trial)`` of one epoch, fitted by
    least squares to measured runs (``{"model", "n_train", "n_val", "n_test", "seconds": [per
    epoch]}``, as ``benchmarks/learning_curves.py`` writes them; the median epoch of each run).
    ``n_train`` counts the fitted trials (the validation trials are apart); validation and test
    trials are evaluated once per epoch."""
    out = {}
    for model in sorted({r["model"] for r in measured}):
        runs = [r for r in measured if r["model"] == model]
        rows = np.array([[r["n_train"], r["n_val"] + r["n_test"]] for r in runs], dtype=float)
        seconds = np.array([np.median(r["seconds"]) for r in runs])
        (fit, evaluate), *_ = np.linalg.lstsq(rows, seconds, rcond=None)
        out[model] = (float(fit), float(evaluate))
    return out


def run_seconds(row: dict, model: dict[str, tuple[float, float]]) -> float:
    """Seconds of one run of ``row`` under the fitted epoch ``model``."""
    fit, evaluate = model[row["model"]]
    return row["epochs"] * (fit * row["fit"] + evaluate * (row["val"] + row["test"]))


def projected_hours(rows: list[dict], model: dict[str, tuple[float, float]], slots: int) -> float:
    """Wall hours of every run of ``rows`` on ``slots`` parallel slots, longest runs first."""
    durations = sorted((run_seconds(r, model) for r in rows for _ in range(r["runs"])), reverse=True)
    finish = [0.0] * max(1, slots)
    for d in durations:
        heapq.heapreplace(finish, finish[0] + d)
    return max(finish) / 3600


def total_steps(rows: list[dict], batch_size: dict[str, int]) -> int:
    """Optimizer steps of every run of ``rows`` (``batch_size`` per model)."""
    return int(sum(r["runs"] * r["epochs"] * -(-r["fit"] // batch_size[r["model"]]) for r in rows))
