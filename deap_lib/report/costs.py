"""What a profile costs: every training run of a book (:func:`profile_runs`) and their wall time,
projected from measured epoch times (:func:`epoch_model`, :func:`projected_hours`)."""

from __future__ import annotations

import heapq

import numpy as np

from deap_lib.data.deap_format import N_PARTICIPANTS, N_TRIALS
from deap_lib.experiment import splits
from deap_lib.experiment.settings import cv_experiments


def _row(step: str, model: str, target: str, runs: int, epochs: int, split, val_fraction: float = 0.0,
         seed: int = 12, groups: np.ndarray | None = None) -> dict:
    """A row of ``runs`` runs on ``split``; ``val_fraction`` > 0: the engine's validation split held out."""
    fit, val = split.train, []
    if val_fraction > 0:
        fit, val = splits.validation_split(split.train, fraction=val_fraction, seed=seed,
                                           groups=None if groups is None else groups[split.train])
    return dict(step=step, model=model, target=target, runs=runs, epochs=epochs, fit=len(fit), val=len(val),
                test=len(split.test))


def profile_runs(values: dict, *, n_participants: int = N_PARTICIPANTS, control: bool = True,
                 mahnob_sessions: int = 546) -> list[dict]:
    """Every training run of a book under ``values`` (a profile with the report's defaults), with the sizes
    the real splits give, as rows ``{"step", "model", "target", "runs", "epochs", "fit", "val", "test"}``.
    ``control``: count the null-twin control when the profile has one; ``mahnob_sessions``: the MAHNOB-HCI
    chapter's usable sessions (0: not counted)."""
    n = n_participants * N_TRIALS
    seed, fraction = values.get("seed", 12), values["val_fraction"]
    seeds, fold_seeds = values.get("train_seeds", 1), values.get("fold_seeds", 1)
    participant = np.repeat(np.arange(1, n_participants + 1), N_TRIALS)
    fixed, rows = splits.fixed_split(n, n_test=values["n_test"], seed=seed), []
    for model, target in [(m, t) for m in ("dnn", "cnn") for t in ("valence", "arousal")]:
        rows.append(_row("fixed split, report's protocol", model, target, seeds, values["epochs"], fixed))
        if fraction > 0:
            rows.append(_row("fixed split, validation run", model, target, seeds, values["epochs"], fixed,
                             fraction, seed))
    folds = splits.seeded_subset(splits.kfold_splits(n, n_folds=values["n_folds"], seed=seed),
                                 values["kfold_holdout"], seed=seed)
    loso = splits.loso_splits(participant, holdout=values["loso_holdout"], seed=seed)
    for model, target in cv_experiments(values):
        rows.append(_row("random k-fold", model, target, len(folds) * fold_seeds, values["cv_epochs"], folds[0]))
        rows.append(_row("leave-one-subject-out", model, target, len(loso) * fold_seeds, values["loso_epochs"],
                         loso[0], fraction, seed, participant))
    if control and values.get("control_effect") is not None:
        rows += [{**row, "step": f"null-twin control: {row['step']}"} for row in list(rows)]
    if mahnob_sessions:
        rows += _mahnob_runs(values, mahnob_sessions, seed, seeds, fold_seeds)
    if values.get("five_by_two_epochs") is not None:
        for model in ("dnn", "cnn"):
            rows.append(dict(step="5x2cv", model=model, target="valence", runs=10, epochs=values["five_by_two_epochs"],
                             fit=n // 2, val=0, test=n - n // 2))
    return rows


def _mahnob_runs(values: dict, n: int, seed: int, seeds: int, fold_seeds: int, n_test: int = 86,
                 n_folds: int = 6) -> list[dict]:
    """The MAHNOB-HCI chapter's runs (:func:`deap_lib.report.chapters.mahnob_chapter`)."""
    cv_models = {m for m, _ in cv_experiments(values)}
    epochs, fraction = values["mahnob_epochs"], values["val_fraction"]
    fixed = splits.fixed_split(n, n_test=n_test, seed=seed)
    folds = splits.seeded_subset(splits.kfold_splits(n, n_folds=n_folds, seed=seed), values["kfold_holdout"], seed=seed)
    rows = []
    for model, target in cv_experiments(values, "mahnob_experiments"):
        rows.append(_row("MAHNOB-HCI fixed split", model, target, seeds, epochs, fixed))
        if fraction > 0:
            rows.append(_row("MAHNOB-HCI fixed split", model, target, seeds, epochs, fixed, fraction, seed))
        if model in cv_models:
            rows.append(_row("MAHNOB-HCI 6-fold", model, target, len(folds) * fold_seeds, epochs, folds[0]))
    return rows


def epoch_model(measured: list[dict]) -> dict[str, tuple[float, float]]:
    """Per model, ``(seconds per fitted trial, per evaluated trial)`` of one epoch: least squares over the median
    epochs of measured runs (``{"model", "n_train" (fitted), "n_val", "n_test", "seconds": per epoch}``)."""
    out = {}
    for model in sorted({r["model"] for r in measured}):
        runs = [r for r in measured if r["model"] == model]
        rows = np.array([[r["n_train"], r["n_val"] + r["n_test"]] for r in runs], dtype=float)
        (fit, evaluate), *_ = np.linalg.lstsq(rows, [np.median(r["seconds"]) for r in runs], rcond=None)
        out[model] = (float(fit), float(evaluate))
    return out


def run_seconds(row: dict, model: dict[str, tuple[float, float]]) -> float:
    """Seconds of one run of ``row`` under the fitted epoch ``model``."""
    fit, evaluate = model[row["model"]]
    return row["epochs"] * (fit * row["fit"] + evaluate * (row["val"] + row["test"]))


def projected_hours(rows: list[dict], model: dict[str, tuple[float, float]], slots: int) -> float:
    """Wall hours of every run of ``rows`` on ``slots`` parallel slots, longest runs first."""
    finish = [0.0] * max(1, slots)
    for d in sorted((run_seconds(r, model) for r in rows for _ in range(r["runs"])), reverse=True):
        heapq.heapreplace(finish, finish[0] + d)
    return max(finish) / 3600


def total_steps(rows: list[dict], batch_size: dict[str, int]) -> int:
    """Optimizer steps of every run of ``rows`` (``batch_size`` per model)."""
    return int(sum(r["runs"] * r["epochs"] * -(-r["fit"] // batch_size[r["model"]]) for r in rows))
