"""Every setting of the report in one place: its type, range and the report's value.

- :data:`SETTINGS`: each setting's type and range (or choices). A value may come from a YAML file,
  a ``--set KEY=VALUE`` on the command line or a papermill ``-p``; :func:`coerce` turns it into the
  setting's type (``"1e-3"`` -> 0.001, ``40.0`` -> 40) and checks it, or raises
  :class:`ParameterError` with one line naming the key, the value and what was expected.
- :class:`ExperimentConfig`: one experiment, whose defaults are the report's values (with
  :data:`MODEL_DEFAULTS`, its training table, and the models' constructor defaults, its
  architecture tables).
- Profiles (``smoke``, ``quick``, ``paper``; ``deap_lib/profiles/*.yml``) set the chapters'
  settings; :func:`chapter_settings` fills a chapter's parameters cell from its profile.
- Experiment files (``deap_lib/configs/*.yml``) name the report's four experiments
  (:func:`load_config`).
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import numbers as numbers_
import os
from dataclasses import dataclass, field
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

CONFIG_DIR = Path(__file__).parents[1] / "configs"
PROFILE_DIR = Path(__file__).parents[1] / "profiles"
#: Profile of a chapter whose ``profile`` parameter is None (nbval cannot pass parameters).
PROFILE_ENV = "DEAP_LIB_PROFILE"

_ALL_TRIALS = N_PARTICIPANTS * N_TRIALS  # 1280 in DEAP
#: The arithmetic a run may train in (:func:`deap_lib.experiment.engine.resolve_precision` decides ``auto``).
PRECISIONS = ("float32", "bfloat16", "auto")
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
#: Every setting by name. Experiment settings (:class:`ExperimentConfig`) first,
#: then those only profiles and chapters have.
SETTINGS: dict[str, Setting] = {
    "model": Setting(str, "dnn or cnn", choices=tuple(MODELS)),
    "target": Setting(str, "the rating to classify (high >= 5)", choices=tuple(TARGETS)),
    "seed": Setting(int, "chooses the split (with train_seed, also seeds each run's training draw)", low=0, high=_INT_MAX),
    "train_seed": Setting(int, "a run's training draw: initialisation, order, dropout masks (0: the first)",
                          low=0, high=_INT_MAX),
    "epochs": Setting(int, "training epochs of a fixed-split run", low=1, high=100_000),
    "batch_size": Setting(int, "None: the report's (DNN 310, CNN 50)", low=1, high=_ALL_TRIALS, none=True),
    "optimizer": Setting(str, "None: the report's (DNN rmsprop, CNN sgd)", choices=("rmsprop", "sgd", "adam"), none=True),
    "lr": Setting(float, "learning rate; None: the report's 1e-4", low=0, open_low=True, none=True),
    "momentum": Setting(float, "None: the report's (DNN 0, CNN 0.9)", low=0, high=1, open_high=True, none=True),
    "n_test": Setting(int, "test trials of the fixed split (the report: 100)", low=1, high=_ALL_TRIALS - 1),
    "val_fraction": Setting(float, "training trials held out to choose an epoch; 0: the report's protocol",
                            low=0, high=1, open_high=True),
    "train_accuracy": Setting(str, "running: the batches' own predictions; eval: re-evaluated (the report)",
                              choices=("running", "eval")),
    "model_kwargs": Setting(dict, "keyword arguments of the model's constructor (sizes, dropout)"),
    "precision": Setting(str, "arithmetic of training: float32 (the report's), bfloat16 (fp32 master weights), "
                              "or auto (bfloat16 where the device does bf16 matmuls natively, else float32)",
                         choices=PRECISIONS),
    "deap_dir": Setting(str, "DEAP's data_preprocessed_python folder; None: $DEAP_DIR, else the twin", none=True),
    "dataset": Setting(str, "deap, or mahnob (MAHNOB-HCI's sessions through the same pipeline)", choices=DATASETS),
    "mahnob_dir": Setting(str, "MAHNOB-HCI folder (holding Sessions/); None: $MAHNOB_DIR, else its twin", none=True),
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
    "n_folds": Setting(int, "folds of the random k-fold (the report: 32)", low=2, high=_ALL_TRIALS),
    "kfold_holdout": Setting(int, "a seeded choice of this many folds is run; None: all", low=1, high=_ALL_TRIALS, none=True),
    "five_by_two_epochs": Setting(int, "epochs of each 5x2cv run; None: not run", low=1, high=100_000, none=True),
    "n_jobs": Setting(int, "runs trained in parallel", low=1, high=1024),
    "train_seeds": Setting(int, "training seeds (0, 1, ...) of each fixed-split experiment on its one split "
                                "(the report: 1)", low=1, high=1000),
    "fold_seeds": Setting(int, "training seeds of each fold of the k-fold, LOSO and MAHNOB-HCI CV runs", low=1, high=1000),
    "loso_epochs": Setting(int, "epochs per leave-one-subject-out fold", low=1, high=100_000),
    "loso_holdout": Setting(int, "a seeded choice of this many held-out participants; None: all",
                            low=1, high=N_PARTICIPANTS, none=True),
    "n_permutations": Setting(int, "label permutations of the permutation test", low=1, high=100_000),
    "control_effect": Setting(float, "twin effect of the negative control; None: not run", low=0, high=100, none=True),
    "mahnob_experiments": Setting("experiments", "experiments of the MAHNOB-HCI chapter's fixed split; None: all four",
                                  none=True),
    "mahnob_epochs": Setting(int, "epochs of every run of the MAHNOB-HCI chapter (fixed split and folds)",
                             low=1, high=100_000),
    # Where runs execute (chapters and the CLI; not in profiles): never changes a result beyond float tolerance.
    "scheduler": Setting(str, "a Dask scheduler's address; None: $DASK_SCHEDULER_ADDRESS, else this machine", none=True),
    "device": Setting(str, "None: CUDA where the runs execute has it, else the CPU", choices=("cpu", "cuda"), none=True),
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


#: The report's hyperparameters per model (its training table, shown in the model chapters). The
#: upstream DEAP CNN code used lr 1e-3 for the CNN: ``--set lr=1e-3`` (or ``-p lr 0.001``) runs that.
MODEL_DEFAULTS = {
    "dnn": {"batch_size": 310, "optimizer": "rmsprop", "lr": 1e-4, "momentum": 0.0},
    "cnn": {"batch_size": 50, "optimizer": "sgd", "lr": 1e-4, "momentum": 0.9},
}


@dataclass(frozen=True)
class ExperimentConfig:
    """Everything that defines an experiment; also the notebooks' papermill parameters.

    ``None`` hyperparameters take the report's value for the model (:data:`MODEL_DEFAULTS`).
    ``val_fraction`` of the training rows is held out to choose an epoch honestly; 0 trains on
    every training row as the report did (then there is no ``val_chosen`` figure).
    ``train_accuracy``: "running" counts the training batches' own predictions during the epoch
    (free); "eval" re-evaluates the training rows in eval mode after each epoch, as the report
    did (costs about a third of a DNN epoch).
    """

    model: str = "dnn"
    target: str = "valence"
    seed: int = 12
    train_seed: int = 0  # the training draw on the split that seed chose (train_seeds runs 0, 1, ...)
    epochs: int = 250
    batch_size: int | None = None
    optimizer: str | None = None
    lr: float | None = None
    momentum: float | None = None
    n_test: int = 100
    val_fraction: float = 0.1
    train_accuracy: str = "running"
    model_kwargs: dict = field(default_factory=dict)
    precision: str = "float32"  # the report's arithmetic; "bfloat16" or "auto" (see engine.resolve_precision)
    # Data: real DEAP when deap_dir (or $DEAP_DIR) is set, else the twin.
    deap_dir: str | None = None
    dataset: str = "deap"  # "mahnob": MAHNOB-HCI from mahnob_dir (or $MAHNOB_DIR), else its twin
    mahnob_dir: str | None = None
    participants: tuple[int, ...] | None = None
    twin_seed: int = 12
    twin_effect: float = 1.0
    standardization: str = "trial"
    nonfinite: str = "error"  # trials with non-finite features: "error", "drop" or "impute" (see dataset.prepare)
    data_identity: str = "stat"  # DEAP files known by path, size, inode and times, or "content" (SHA-256)

    def __post_init__(self):
        # Typed and checked by the one schema (YAML and --set give "1e-3" as text, papermill 40.0 for 40).
        for f in dataclasses.fields(self):
            object.__setattr__(self, f.name, coerce(f.name, getattr(self, f.name)))
        for name, value in MODEL_DEFAULTS[self.model].items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)
        known = set(inspect.signature(MODELS[self.model]).parameters) - {"generator", "dropout_generator"}
        unknown = sorted(set(self.model_kwargs) - known)
        if unknown:
            raise ParameterError(f"model_kwargs has {unknown}, which the {self.model.upper()} does not take; "
                                        f"allowed: {sorted(known)}")
        check_model_kwargs(self)

    @classmethod
    def from_dict(cls, values: dict) -> "ExperimentConfig":
        """Build from a dict (a YAML file, papermill parameters); unknown keys are an error."""
        unknown = sorted(set(values) - _CONFIG_FIELDS)
        if unknown:
            raise ParameterError(f"unknown experiment parameter(s) {unknown}; allowed: {sorted(_CONFIG_FIELDS)}")
        return cls(**values)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["participants"] = None if self.participants is None else list(self.participants)
        return d

    def replace(self, **changes) -> "ExperimentConfig":
        return self.from_dict({**self.to_dict(), **changes})

    def source(self) -> DataSource:
        """The :class:`~deap_lib.data.dataset.DataSource` this config reads."""
        return resolve_source(
            self.deap_dir, participants=self.participants, twin_seed=self.twin_seed, twin_effect=self.twin_effect,
            dataset=self.dataset, mahnob_dir=self.mahnob_dir,
        )

    def prepare(self, **kwargs) -> Prepared:
        """The prepared features this config trains on (cached; see :func:`deap_lib.data.dataset.prepare`)."""
        return prepare(self.source(), standardization=self.standardization, nonfinite=self.nonfinite,
                       data_identity=self.data_identity, **kwargs)

    def run_key(self) -> dict:
        """The parts of the config that change a run's result (not where the data lives)."""
        d = self.to_dict()
        for name in ("deap_dir", "dataset", "mahnob_dir", "participants", "twin_seed", "twin_effect",
                     "standardization", "nonfinite", "data_identity"):
            d.pop(name)  # the data's identity stands for these
        return d


def _read_yaml(path: Path) -> dict:
    values = yaml.safe_load(path.read_text()) or {}
    if not isinstance(values, dict):
        raise ParameterError(f"{path}: expected a mapping of setting: value, got {type(values).__name__}")
    return values


_CONFIG_FIELDS = {f.name for f in dataclasses.fields(ExperimentConfig)}


def load_config(path_or_name: str | os.PathLike, **overrides) -> ExperimentConfig:
    """Read an experiment YAML (a path, or a name like ``"deap_dnn_valence"`` from the package)."""
    path = Path(path_or_name)
    if not path.exists():
        path = CONFIG_DIR / f"{path_or_name}.yml"
    if not path.exists():
        names = sorted(p.stem for p in CONFIG_DIR.glob("*.yml"))
        raise FileNotFoundError(f"no experiment config {str(path_or_name)!r}; packaged configs: {names}")
    return ExperimentConfig.from_dict({**_read_yaml(path), **overrides})




#: The parameters a profile may set (anything else in a profile file is an error).
PROFILE_KEYS = (
    "profile", "participants", "n_test", "epochs", "precision", "train_seeds", "fold_seeds", "val_fraction", "cv_experiments", "cv_epochs", "n_folds", "kfold_holdout",
    "five_by_two_epochs", "n_jobs", "loso_epochs", "loso_holdout", "n_permutations", "control_effect",
    "mahnob_experiments", "mahnob_epochs",
)


def load_profile(name: str) -> dict:
    """The parameters of a profile (``smoke``, ``quick``, ``paper``, or a YAML path)."""
    path = Path(name) if str(name).endswith((".yml", ".yaml")) else PROFILE_DIR / f"{name}.yml"
    if not path.exists():
        names = sorted(p.stem for p in PROFILE_DIR.glob("*.yml"))
        raise FileNotFoundError(f"no profile {name!r}; available: {names}")
    return check(_read_yaml(path), allowed=PROFILE_KEYS, where=str(path))


def chapter_settings(namespace: dict) -> dict:
    """A chapter's settings: its parameters cell, with ``None`` filled in from its profile.

    ``namespace`` is the notebook's ``globals()``; only names of :data:`SETTINGS` are read, so a
    chapter's other variables never leak in. Every value is checked here, before any work: a bad
    one raises :class:`ParameterError`, which a notebook shows as one line naming the parameter
    and what is allowed.
    """
    _one_line_errors()
    try:
        values = load_profile(namespace.get("profile") or os.environ.get(PROFILE_ENV) or "quick")
        values.update(check({k: v for k, v in namespace.items() if k in SETTINGS and v is not None}))
        for f in dataclasses.fields(ExperimentConfig):  # the report's values where nothing else is set
            if f.default is not dataclasses.MISSING and f.default is not None:
                values.setdefault(f.name, f.default)
        experiment(values)  # the experiment's own checks (model_kwargs against the model)
        check_device(values.get("device"), values.get("scheduler"))  # where the runs execute has it
    except (ValueError, FileNotFoundError) as err:
        raise ParameterError(f"{err} (chapter parameters: see the notebook's parameters cell)") from None
    return values


def experiment(values: dict, **changes) -> ExperimentConfig:
    """The :class:`ExperimentConfig` that a chapter's ``values`` (and ``changes``) name."""
    return ExperimentConfig.from_dict({**{k: v for k, v in values.items() if k in _CONFIG_FIELDS}, **changes})


def cv_experiments(values: dict, key: str = "cv_experiments") -> list[tuple[str, str]]:
    """The (model, target) experiments the cross-validation chapters run: the profile's
    ``cv_experiments`` (e.g. ``["dnn valence", "cnn valence"]``), or all four when it is None
    (``key``: another setting of the same kind, e.g. ``mahnob_experiments``)."""
    chosen = values.get(key)
    return list(EXPERIMENTS) if chosen is None else [k for k in EXPERIMENTS if " ".join(k) in chosen]


def _one_line_errors() -> None:
    """In IPython (a notebook, papermill), show a :class:`ParameterError` as one line, not a traceback."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return

    def one_line(shell, etype, value, tb, tb_offset=None):
        text = f"{etype.__name__}: {value}"
        shell._showtraceback(etype, value, [text])
        return [text]

    shell.set_custom_exc((ParameterError,), one_line)


_BUILT: set = set()  # (model, model_kwargs) that build: checked once per process


def check_model_kwargs(config: ExperimentConfig) -> None:
    """Build ``config``'s model once (a private generator: the global one draws nothing) so that
    ``model_kwargs`` the constructor refuses (``hidden: [-5]``) are one :class:`ParameterError`
    before any work, not a traceback from the first training run."""
    import torch

    key = (config.model, repr(sorted(config.model_kwargs.items())))
    if key in _BUILT:
        return
    try:
        MODELS[config.model](**config.model_kwargs, generator=torch.Generator())
    except Exception as err:  # noqa: BLE001 - whatever the constructor refuses, said in one line
        text = " ".join(str(err).split()) or type(err).__name__
        raise ParameterError(f"model_kwargs {config.model_kwargs} do not make a {config.model.upper()}: {text}") from None
    _BUILT.add(key)
