"""Every setting's type and range, stated once: experiment configs, profiles and chapter parameters.

A value may come from a YAML file, a ``--set KEY=VALUE`` on the command line or a papermill
``-p``; :func:`coerce` turns it into the setting's type (``"1e-3"`` -> 0.001, ``40.0`` -> 40) and
checks it, or raises :class:`ParameterError` with one line naming the key, the value and what was
expected. :func:`check` does that for a whole mapping, refusing unknown keys.
"""

from __future__ import annotations

import math
import numbers as numbers_
import os
from dataclasses import dataclass
from typing import Any

from deap_lib.dataset import NONFINITE_POLICIES
from deap_lib.features import STANDARDIZATIONS
from deap_lib.labels import TARGETS
from deap_lib.store import IDENTITIES

N_PARTICIPANTS = 32
N_TRIALS = 1280  # DEAP: 32 participants x 40 trials
#: The (model, target) experiments of the report, in the book's order.
EXPERIMENTS = (("dnn", "valence"), ("cnn", "valence"), ("dnn", "arousal"), ("cnn", "arousal"))


class ParameterError(ValueError):
    """A setting that is not allowed: one line naming the key, the value and what was expected."""


@dataclass(frozen=True)
class Setting:
    """One setting: its type (``int``, ``float``, ``str``, ``dict``, ``"participants"``,
    ``"experiments"``), its inclusive range or its choices, whether None is allowed, and what it is."""

    kind: Any
    doc: str
    low: float | None = None
    high: float | None = None
    choices: tuple | None = None
    none: bool = False
    open_low: bool = False  # low itself excluded
    open_high: bool = False  # high itself excluded

    def expected(self) -> str:
        if self.choices is not None:
            what = f"one of {list(self.choices)}"
        elif self.kind == "participants":
            what = f"a non-empty list of distinct participant numbers in 1-{N_PARTICIPANTS}"
        elif self.kind == "experiments":
            what = f"a non-empty list from {[f'{m} {t}' for m, t in EXPERIMENTS]}"
        elif self.kind is dict:
            what = "a mapping of name: value"
        elif self.kind is str:
            what = "a text (a path or a name)"
        else:
            what = "a whole number" if self.kind is int else "a finite number"
            if self.low is not None and self.high is not None:
                what += f" in {'(' if self.open_low else '['}{self.low:g}, {self.high:g}{')' if self.open_high else ']'}"
            elif self.low is not None:
                what += f" {'>' if self.open_low else '>='} {self.low:g}"
        return f"{what} or null" if self.none else what


_INT_MAX = 2**32 - 1
#: Every setting by name. Experiment settings (:class:`deap_lib.training.ExperimentConfig`) first,
#: then those only profiles and chapters have.
SETTINGS: dict[str, Setting] = {
    "model": Setting(str, "dnn or cnn", choices=("dnn", "cnn")),
    "target": Setting(str, "the rating to classify (high >= 5)", choices=tuple(TARGETS)),
    "seed": Setting(int, "drives every split, initialisation and shuffle", low=0, high=_INT_MAX),
    "epochs": Setting(int, "training epochs of a fixed-split run", low=1, high=100_000),
    "batch_size": Setting(int, "None: the report's (DNN 310, CNN 50)", low=1, high=N_TRIALS, none=True),
    "optimizer": Setting(str, "None: the report's (DNN rmsprop, CNN sgd)", choices=("rmsprop", "sgd", "adam"), none=True),
    "lr": Setting(float, "learning rate; None: the report's 1e-4", low=0, open_low=True, none=True),
    "momentum": Setting(float, "None: the report's (DNN 0, CNN 0.9)", low=0, high=1, open_high=True, none=True),
    "n_test": Setting(int, "test trials of the fixed split (the report: 100)", low=1, high=N_TRIALS - 1),
    "val_fraction": Setting(float, "training trials held out to choose an epoch; 0: the report's protocol",
                            low=0, high=1, open_high=True),
    "train_accuracy": Setting(str, "running: the batches' own predictions; eval: re-evaluated (the report)",
                              choices=("running", "eval")),
    "model_kwargs": Setting(dict, "keyword arguments of the model's constructor (sizes, dropout)"),
    "deap_dir": Setting(str, "DEAP's data_preprocessed_python folder; None: $DEAP_DIR, else the twin", none=True),
    "participants": Setting("participants", "None: all 32", none=True),
    "twin_seed": Setting(int, "seed of the synthetic twin", low=0, high=_INT_MAX),
    "twin_effect": Setting(float, "planted effect size of the twin; 0: the null twin", low=0, high=100),
    "standardization": Setting(str, "trial: the report's code", choices=STANDARDIZATIONS),
    "nonfinite": Setting(str, "trials with NaN/inf features", choices=NONFINITE_POLICIES),
    "data_identity": Setting(str, "how DEAP files are identified in the cache: stat (free) or content (SHA-256)",
                             choices=IDENTITIES),
    # Profiles and chapters only.
    "profile": Setting(str, "smoke, quick, paper or a profile YAML; None: $DEAP_LIB_PROFILE, else quick", none=True),
    "cv_experiments": Setting("experiments", "experiments under k-fold and LOSO; None: all four", none=True),
    "cv_epochs": Setting(int, "epochs per k-fold fold", low=1, high=100_000),
    "n_folds": Setting(int, "folds of the random k-fold (the report: 32)", low=2, high=N_TRIALS),
    "kfold_holdout": Setting(int, "a seeded choice of this many folds is run; None: all", low=1, high=N_TRIALS, none=True),
    "five_by_two_epochs": Setting(int, "epochs of each 5x2cv run; None: not run", low=1, high=100_000, none=True),
    "n_jobs": Setting(int, "runs trained in parallel", low=1, high=1024),
    "loso_epochs": Setting(int, "epochs per leave-one-subject-out fold", low=1, high=100_000),
    "loso_holdout": Setting(int, "a seeded choice of this many held-out participants; None: all",
                            low=1, high=N_PARTICIPANTS, none=True),
    "n_permutations": Setting(int, "label permutations of the permutation test", low=1, high=100_000),
    "control_effect": Setting(float, "twin effect of the negative control; None: not run", low=0, high=100, none=True),
}


def _fail(name: str, value: Any, setting: Setting) -> ParameterError:
    shown = repr(value)
    shown = shown if len(shown) <= 80 else shown[:77] + "..."
    return ParameterError(f"{name} must be {setting.expected()}, got {shown}")


def _number(name: str, value: Any, setting: Setting) -> int | float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise _fail(name, value, setting)
    try:
        number = float(value)  # YAML reads "1e-3" as text; papermill may give 40.0 for 40
    except ValueError:
        raise _fail(name, value, setting) from None
    if not math.isfinite(number) or (setting.kind is int and not number.is_integer()):
        raise _fail(name, value, setting)
    number = int(number) if setting.kind is int else number
    low, high = setting.low, setting.high
    if low is not None and (number < low or (setting.open_low and number == low)):
        raise _fail(name, value, setting)
    if high is not None and (number > high or (setting.open_high and number == high)):
        raise _fail(name, value, setting)
    return number


def coerce(name: str, value: Any) -> Any:
    """``value`` of setting ``name`` in its type, checked; :class:`ParameterError` when not allowed."""
    setting = SETTINGS.get(name)
    if setting is None:
        raise ParameterError(f"unknown setting {name!r}; allowed: {sorted(SETTINGS)}")
    if value is None:
        if setting.none:
            return None
        raise _fail(name, value, setting)
    if setting.kind in (int, float):
        return _number(name, value, setting)
    if setting.choices is not None:
        if not isinstance(value, str) or value not in setting.choices:
            raise _fail(name, value, setting)
        return value
    if setting.kind is str:
        if not isinstance(value, (str, os.PathLike)) or not str(value):
            raise _fail(name, value, setting)
        return str(value)
    if setting.kind is dict:
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            raise _fail(name, value, setting)
        return dict(value)
    if not isinstance(value, (list, tuple)) or not value:
        raise _fail(name, value, setting)
    if setting.kind == "participants":
        numbers = [int(v) for v in value
                   if isinstance(v, numbers_.Integral) and not isinstance(v, bool) and 1 <= v <= N_PARTICIPANTS]
        if len(numbers) != len(value) or len(set(numbers)) != len(numbers):
            raise _fail(name, value, setting)
        return tuple(sorted(numbers))
    keys = [tuple(v.split()) if isinstance(v, str) else None for v in value]  # "experiments"
    if any(k not in EXPERIMENTS for k in keys):
        raise _fail(name, value, setting)
    return [f"{m} {t}" for m, t in EXPERIMENTS if (m, t) in keys]


def check(values: dict, *, allowed=None, where: str = "") -> dict:
    """Every value of ``values`` coerced and checked; unknown keys (or keys outside ``allowed``)
    are refused. ``where`` (a file name) starts each error message."""
    allowed = set(SETTINGS if allowed is None else allowed)
    prefix = f"{where}: " if where else ""
    unknown = sorted(set(values) - allowed)
    if unknown:
        raise ParameterError(f"{prefix}unknown setting(s) {unknown}; allowed: {sorted(allowed)}")
    try:
        return {name: coerce(name, value) for name, value in values.items()}
    except ParameterError as err:
        raise ParameterError(f"{prefix}{err}") from None
