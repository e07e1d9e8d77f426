"""Every setting of the report in one place: its type, range and the report's value (:data:`SETTINGS`).

A value from YAML, ``--set KEY=VALUE`` or papermill's ``-p`` is typed and checked alike (:func:`coerce`). Profiles
(``profiles/*.yml``) set the chapters' settings; ``configs/*.yml`` name the report's four experiments."""

from __future__ import annotations

import dataclasses
import inspect
import math
import numbers as numbers_
import os
import sys
from pathlib import Path
from typing import Any

import yaml

from deap_lib.data.dataset import DATASETS, NONFINITE_POLICIES, DataSource, Prepared, prepare, resolve_source
from deap_lib.data.deap_format import N_PARTICIPANTS, N_TRIALS
from deap_lib.data.features import STANDARDIZATIONS
from deap_lib.data.labels import TARGETS
from deap_lib.experiment.executor import check_device
from deap_lib.models import MODELS
from deap_lib.store import IDENTITIES

_PACKAGE = Path(__file__).parents[1]  # holding configs/ and profiles/
#: Profile of a chapter whose ``profile`` parameter is None (nbval cannot pass parameters).
PROFILE_ENV = "DEAP_LIB_PROFILE"
_ALL_TRIALS = N_PARTICIPANTS * N_TRIALS  # 1280 in DEAP
#: The arithmetic a run may train in (:func:`deap_lib.experiment.engine.resolve_precision` decides ``auto``).
PRECISIONS = ("float32", "bfloat16", "auto")
#: The (model, target) experiments of the report, in the book's order.
EXPERIMENTS = (("dnn", "valence"), ("cnn", "valence"), ("dnn", "arousal"), ("cnn", "arousal"))
#: The report's hyperparameters per model (its training table); the upstream CNN code's lr: ``--set lr=1e-3``.
MODEL_DEFAULTS = {
    "dnn": {"batch_size": 310, "optimizer": "rmsprop", "lr": 1e-4, "momentum": 0.0},
    "cnn": {"batch_size": 50, "optimizer": "sgd", "lr": 1e-4, "momentum": 0.9},
}
_INT_MAX = 2**32 - 1
_EPOCHS = 100_000
_OPTIMIZERS = ("rmsprop", "sgd", "adam")
_KIND_WORDS = {"participants": f"a non-empty list of distinct participant numbers in 1-{N_PARTICIPANTS}",
               "experiments": f"a non-empty list from {[f'{m} {t}' for m, t in EXPERIMENTS]}",
               dict: "a mapping of name: value", str: "a text (a path or a name)"}
_BUILT: set = set()  # (model, model_kwargs) known to build: each built once per process


class ParameterError(ValueError):
    """A setting that is not allowed: one line naming the key, the value and what was expected."""


@dataclasses.dataclass(frozen=True)
class Setting:
    """One setting: its kind (a type, ``"participants"`` or ``"experiments"``), inclusive range
    (``open_low``/``open_high`` exclude that end) or choices."""

    kind: Any
    doc: str
    low: float | None = None
    high: float | None = None
    choices: tuple | None = None
    none: bool = False
    open_low: bool = False
    open_high: bool = False

    def expected(self) -> str:
        if self.choices is not None:
            what = f"one of {list(self.choices)}"
        elif self.kind in _KIND_WORDS:
            what = _KIND_WORDS[self.kind]
        else:
            what = "a whole number" if self.kind is int else "a finite number"
            if self.low is not None and self.high is not None:
                left, right = "(" if self.open_low else "[", ")" if self.open_high else "]"
                what += f" in {left}{self.low:g}, {self.high:g}{right}"
            elif self.low is not None:
                what += f" {'>' if self.open_low else '>='} {self.low:g}"
        return f"{what} or null" if self.none else what


def _field(default, kind, doc: str, **limits):
    """A field of :class:`ExperimentConfig` carrying its :class:`Setting` (None allowed where it is the default)."""
    metadata = {"setting": Setting(kind, doc, none=default is None, **limits)}
    if kind is dict:
        return dataclasses.field(default_factory=dict, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


@dataclasses.dataclass(frozen=True)
class ExperimentConfig:
    """Everything that defines an experiment: each field's default is the report's value, its :class:`Setting`
    types and checks it on construction; ``None`` hyperparameters take the model's :data:`MODEL_DEFAULTS`."""

    model: str = _field("dnn", str, "dnn or cnn", choices=tuple(MODELS))
    target: str = _field("valence", str, "the rating to classify (high >= 5)", choices=tuple(TARGETS))
    seed: int = _field(12, int, "chooses the split; with train_seed, each run's training draw", low=0, high=_INT_MAX)
    train_seed: int = _field(0, int, "a run's draw: initialisation, order, dropout masks", low=0, high=_INT_MAX)
    epochs: int = _field(250, int, "training epochs of a fixed-split run", low=1, high=_EPOCHS)
    batch_size: int | None = _field(None, int, "None: the report's (DNN 310, CNN 50)", low=1, high=_ALL_TRIALS)
    optimizer: str | None = _field(None, str, "None: the report's (DNN rmsprop, CNN sgd)", choices=_OPTIMIZERS)
    lr: float | None = _field(None, float, "learning rate; None: the report's 1e-4", low=0, open_low=True)
    momentum: float | None = _field(None, float, "None: the report's (DNN 0, CNN 0.9)", low=0, high=1, open_high=True)
    n_test: int = _field(100, int, "test trials of the fixed split", low=1, high=_ALL_TRIALS - 1)
    val_fraction: float = _field(0.1, float, "held out to choose an epoch; 0: none", low=0, high=1, open_high=True)
    train_accuracy: str = _field("running", str, "running (free) or eval (the report's)", choices=("running", "eval"))
    model_kwargs: dict = _field({}, dict, "keyword arguments of the model's constructor (sizes, dropout)")
    precision: str = _field("float32", str, "float32 (the report's), bfloat16 or auto (see engine)", choices=PRECISIONS)
    deap_dir: str | None = _field(None, str, "DEAP's data_preprocessed_python folder; None: $DEAP_DIR, else the twin")
    dataset: str = _field("deap", str, "deap, or mahnob (MAHNOB-HCI's sessions, same pipeline)", choices=DATASETS)
    mahnob_dir: str | None = _field(None, str, "MAHNOB-HCI folder (with Sessions/); None: $MAHNOB_DIR, else its twin")
    participants: tuple[int, ...] | None = _field(None, "participants", "None: all 32")
    twin_seed: int = _field(12, int, "seed of the synthetic twin", low=0, high=_INT_MAX)
    twin_effect: float = _field(1.0, float, "planted effect size of the twin; 0: the null twin", low=0, high=100)
    standardization: str = _field("trial", str, "trial: the report's code", choices=STANDARDIZATIONS)
    nonfinite: str = _field("error", str, "trials with NaN/inf features", choices=NONFINITE_POLICIES)
    data_identity: str = _field("stat", str, "DEAP files known by stat (free) or content (SHA-256)", choices=IDENTITIES)

    def __post_init__(self):
        for f in dataclasses.fields(self):
            object.__setattr__(self, f.name, coerce(f.name, getattr(self, f.name)))
        for name, value in MODEL_DEFAULTS[self.model].items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)
        _check_model_kwargs(self.model, self.model_kwargs)

    @classmethod
    def from_dict(cls, values: dict) -> "ExperimentConfig":
        """Build from a dict (a YAML file, papermill parameters); unknown keys are an error."""
        if unknown := sorted(set(values) - _CONFIG_FIELDS):
            raise ParameterError(f"unknown experiment parameter(s) {unknown}; allowed: {sorted(_CONFIG_FIELDS)}")
        return cls(**values)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self) | {"participants": list(self.participants) if self.participants else None}

    def replace(self, **changes) -> "ExperimentConfig":
        return self.from_dict({**self.to_dict(), **changes})

    def source(self) -> DataSource:
        """The :class:`~deap_lib.data.dataset.DataSource` this config reads."""
        return resolve_source(self.deap_dir, participants=self.participants, twin_seed=self.twin_seed,
                              twin_effect=self.twin_effect, dataset=self.dataset, mahnob_dir=self.mahnob_dir)

    def prepare(self, **kwargs) -> Prepared:
        """The prepared features this config trains on (cached; see :func:`deap_lib.data.dataset.prepare`)."""
        return prepare(self.source(), standardization=self.standardization, nonfinite=self.nonfinite,
                       data_identity=self.data_identity, **kwargs)

    def run_key(self) -> dict:
        """The parts of the config that change a run's result (the data's identity stands for the rest)."""
        return {k: v for k, v in self.to_dict().items() if k not in _DATA_FIELDS}


_CONFIG_FIELDS = {f.name for f in dataclasses.fields(ExperimentConfig)}
_DEFAULTS = {f.name: f.default for f in dataclasses.fields(ExperimentConfig)
             if f.default is not None and f.default is not dataclasses.MISSING}
_DATA_FIELDS = ("deap_dir", "dataset", "mahnob_dir", "participants", "twin_seed", "twin_effect", "standardization",
                "nonfinite", "data_identity")
#: Every setting by name: those of :class:`ExperimentConfig`, then those only profiles and chapters have.
SETTINGS: dict[str, Setting] = {f.name: f.metadata["setting"] for f in dataclasses.fields(ExperimentConfig)} | {
    "profile": Setting(str, "smoke, quick, paper or a YAML; None: $DEAP_LIB_PROFILE, else quick", none=True),
    "cv_experiments": Setting("experiments", "experiments under k-fold and LOSO; None: all four", none=True),
    "cv_epochs": Setting(int, "epochs per k-fold fold", low=1, high=_EPOCHS),
    "n_folds": Setting(int, "folds of the random k-fold (the report: 32)", low=2, high=_ALL_TRIALS),
    "kfold_holdout": Setting(int, "a seeded choice of this many folds; None: all", low=1, high=_ALL_TRIALS, none=True),
    "five_by_two_epochs": Setting(int, "epochs of each 5x2cv run; None: not run", low=1, high=_EPOCHS, none=True),
    "n_jobs": Setting(int, "runs trained in parallel", low=1, high=1024),
    "train_seeds": Setting(int, "training seeds (0, 1, ...) of each fixed-split experiment", low=1, high=1000),
    "fold_seeds": Setting(int, "training seeds of each k-fold, LOSO and MAHNOB-HCI fold", low=1, high=1000),
    "loso_epochs": Setting(int, "epochs per leave-one-subject-out fold", low=1, high=_EPOCHS),
    "loso_holdout": Setting(int, "a seeded choice of held-out participants; None: all", low=1, high=N_PARTICIPANTS,
                            none=True),
    "n_permutations": Setting(int, "label permutations of the permutation test", low=1, high=100_000),
    "control_effect": Setting(float, "twin effect of the negative control; None: not run", low=0, high=100, none=True),
    "mahnob_experiments": Setting("experiments", "experiments of MAHNOB-HCI's fixed split; None: all four", none=True),
    "mahnob_epochs": Setting(int, "epochs of every run of the MAHNOB-HCI chapter", low=1, high=_EPOCHS),
    # Where runs execute (chapters and the CLI; not in profiles): never changes a result beyond float tolerance.
    "scheduler": Setting(str, "a Dask scheduler's address; None: $DASK_SCHEDULER_ADDRESS, else here", none=True),
    "device": Setting(str, "None: CUDA where runs execute has it, else the CPU", choices=("cpu", "cuda"), none=True),
}
#: The parameters a profile may set: the chapters' (not where runs execute) and these of an experiment.
PROFILE_KEYS = ("participants", "n_test", "epochs", "precision", "val_fraction",
                *(k for k in SETTINGS if k not in _CONFIG_FIELDS and k not in ("scheduler", "device")))


def _typed(value: Any, setting: Setting) -> Any:
    """``value`` in the kind of ``setting``, or None when it is not allowed."""
    if setting.kind in (int, float):
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            return None
        try:
            number = float(value)  # YAML reads "1e-3" as text; papermill may give 40.0 for 40
        except ValueError:
            return None
        low, high = setting.low, setting.high
        if (not math.isfinite(number) or (setting.kind is int and not number.is_integer())
                or low is not None and (number < low or (setting.open_low and number == low))
                or high is not None and (number > high or (setting.open_high and number == high))):
            return None
        return int(number) if setting.kind is int else number
    if setting.choices is not None:
        return value if isinstance(value, str) and value in setting.choices else None
    if setting.kind is str:
        return str(value) if isinstance(value, (str, os.PathLike)) and str(value) else None
    if setting.kind is dict:
        return dict(value) if isinstance(value, dict) and all(isinstance(k, str) for k in value) else None
    if not isinstance(value, (list, tuple)) or not value:
        return None
    if setting.kind == "participants":
        numbers = [int(v) for v in value
                   if isinstance(v, numbers_.Integral) and not isinstance(v, bool) and 1 <= v <= N_PARTICIPANTS]
        return tuple(sorted(numbers)) if len(numbers) == len(value) == len(set(numbers)) else None
    keys = {tuple(v.split()) if isinstance(v, str) else None for v in value}  # "experiments"
    return [f"{m} {t}" for m, t in EXPERIMENTS if (m, t) in keys] if keys <= set(EXPERIMENTS) else None


def coerce(name: str, value: Any) -> Any:
    """``value`` of setting ``name`` in its type, checked; :class:`ParameterError` when not allowed."""
    if (setting := SETTINGS.get(name)) is None:
        raise ParameterError(f"unknown setting {name!r}; allowed: {sorted(SETTINGS)}")
    typed = _typed(value, setting)
    if typed is None and not (value is None and setting.none):
        shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
        raise ParameterError(f"{name} must be {setting.expected()}, got {shown}")
    return typed


def check(values: dict, *, allowed=None, where: str = "") -> dict:
    """Every value coerced; keys outside ``allowed`` (default: :data:`SETTINGS`) refused; ``where`` starts errors."""
    allowed = set(SETTINGS if allowed is None else allowed)
    prefix = f"{where}: " if where else ""
    if unknown := sorted(set(values) - allowed):
        raise ParameterError(f"{prefix}unknown setting(s) {unknown}; allowed: {sorted(allowed)}")
    try:
        return {name: coerce(name, value) for name, value in values.items()}
    except ParameterError as err:
        raise ParameterError(f"{prefix}{err}") from None


def _check_model_kwargs(model: str, model_kwargs: dict) -> None:
    """Refuse, as one :class:`ParameterError`, ``model_kwargs`` the model does not take or its constructor
    refuses (``hidden: [-5]``), by building it once with a private generator (the global one draws nothing)."""
    import torch

    known = set(inspect.signature(MODELS[model]).parameters) - {"generator", "dropout_generator"}
    if unknown := sorted(set(model_kwargs) - known):
        raise ParameterError(f"model_kwargs has {unknown}, which the {model.upper()} does not take; "
                             f"allowed: {sorted(known)}")
    key = (model, repr(sorted(model_kwargs.items())))
    if key not in _BUILT:
        try:
            MODELS[model](**model_kwargs, generator=torch.Generator())
        except Exception as err:  # noqa: BLE001 - whatever the constructor refuses, said in one line
            text = " ".join(str(err).split()) or type(err).__name__
            raise ParameterError(f"model_kwargs {model_kwargs} do not make a {model.upper()}: {text}") from None
        _BUILT.add(key)


def _read_yaml(name: str | os.PathLike, folder: str, what: str) -> tuple[Path, dict]:
    """The mapping in the YAML file ``name`` (a path, else a name packaged in ``folder``)."""
    folder = _PACKAGE / folder
    path = Path(name) if Path(name).is_file() else folder / f"{name}.yml"
    if not path.is_file():
        raise FileNotFoundError(f"no {what} {str(name)!r}; packaged: {sorted(p.stem for p in folder.glob('*.yml'))}")
    values = yaml.safe_load(path.read_text()) or {}
    if not isinstance(values, dict):
        raise ParameterError(f"{path}: expected a mapping of setting: value, got {type(values).__name__}")
    return path, values


def load_config(path_or_name: str | os.PathLike, **overrides) -> ExperimentConfig:
    """Read an experiment YAML (a path, or a packaged name like ``"deap_dnn_valence"``), with ``overrides``."""
    return ExperimentConfig.from_dict({**_read_yaml(path_or_name, "configs", "experiment config")[1], **overrides})


def load_profile(name: str) -> dict:
    """The checked parameters of a profile (``smoke``, ``quick``, ``paper``, or a YAML path)."""
    path, values = _read_yaml(name, "profiles", "profile")
    return check(values, allowed=PROFILE_KEYS, where=str(path))


def chapter_settings(namespace: dict) -> dict:
    """A chapter's settings: its parameters cell (the notebook's ``globals()``: only names of :data:`SETTINGS`),
    ``None`` filled from its profile, then the report's defaults; checked before any work (:class:`ParameterError`)."""
    ipython = sys.modules.get("IPython")  # in a notebook (papermill): a ParameterError is one line, not a traceback
    if ipython and (shell := ipython.get_ipython()) is not None:
        shell.set_custom_exc((ParameterError,), _one_line)
    try:
        values = load_profile(namespace.get("profile") or os.environ.get(PROFILE_ENV) or "quick")
        values.update(check({k: v for k, v in namespace.items() if k in SETTINGS and v is not None}))
        values |= {k: v for k, v in _DEFAULTS.items() if k not in values}
        _check_model_kwargs(values["model"], values.get("model_kwargs", {}))
        check_device(values.get("device"), values.get("scheduler"))
    except (ValueError, FileNotFoundError) as err:
        raise ParameterError(f"{err} (chapter parameters: see the notebook's parameters cell)") from None
    return values


def experiment(values: dict, **changes) -> ExperimentConfig:
    """The :class:`ExperimentConfig` that a chapter's ``values`` (and ``changes``) name."""
    return ExperimentConfig.from_dict({**{k: v for k, v in values.items() if k in _CONFIG_FIELDS}, **changes})


def cv_experiments(values: dict, key: str = "cv_experiments") -> list[tuple[str, str]]:
    """The (model, target) experiments ``values[key]`` names (``["dnn valence"]``), in the book's order; None: all."""
    chosen = values.get(key)
    return list(EXPERIMENTS) if chosen is None else [k for k in EXPERIMENTS if " ".join(k) in chosen]


def _one_line(shell, etype, value, tb, tb_offset=None):
    text = f"{etype.__name__}: {value}"
    shell._showtraceback(etype, value, [text])
    return [text]
