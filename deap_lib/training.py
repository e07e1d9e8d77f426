"""The one training/evaluation engine, used by every experiment (DNN and CNN; fixed, k-fold, LOSO).

A *run* trains one model on one :class:`~deap_lib.splits.Split` of the prepared features. Per epoch
it records the mean training loss, the training accuracy, and the accuracy on a validation set
carved from the training rows and on the test rows. From that history it reports:

- ``as_reported``: the best test accuracy over epochs, as the report did. The epoch is chosen on
  the test set, so this figure is optimistic (biased upwards) and labelled so everywhere.
- ``last``: the test accuracy after the last epoch (no selection at all).
- ``val_chosen``: the test accuracy at the epoch with the best validation accuracy
  (the test set is never used to choose).

Every run stores a JSON record (config, seeds, data identity, library versions, history, split
indices, test predictions) and its final weights (``state_dict``) in the cache
(:class:`deap_lib.store.Store`, kinds ``records`` and ``weights``), keyed by everything that
determines them; an identical run reads the record instead of training again, and a damaged or
missing entry is trained again.
"""

from __future__ import annotations

import dataclasses
import inspect
import io as _bytesio
import json
import math
import os
import platform
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import yaml
from joblib import Parallel, delayed
from tqdm import tqdm

import deap_lib
from deap_lib import schema, stats
from deap_lib import splits as splits_mod
from deap_lib.dataset import Prepared, prepare, resolve_source
from deap_lib.models import MODELS, build_model
from deap_lib.store import Store, entry_key, stable_hash

#: The report's hyperparameters per model (its training table, shown in the model chapters).
MODEL_DEFAULTS = {
    "dnn": {"batch_size": 310, "optimizer": "rmsprop", "lr": 1e-4, "momentum": 0.0},
    "cnn": {"batch_size": 50, "optimizer": "sgd", "lr": 1e-4, "momentum": 0.9},
}
CONFIG_DIR = Path(__file__).parent / "configs"


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
    epochs: int = 250
    batch_size: int | None = None
    optimizer: str | None = None
    lr: float | None = None
    momentum: float | None = None
    n_test: int = 100
    val_fraction: float = 0.1
    train_accuracy: str = "running"
    model_kwargs: dict = field(default_factory=dict)
    # Data: real DEAP when deap_dir (or $DEAP_DIR) is set, else the twin.
    deap_dir: str | None = None
    participants: tuple[int, ...] | None = None
    twin_seed: int = 12
    twin_effect: float = 1.0
    standardization: str = "trial"
    nonfinite: str = "error"  # trials with non-finite features: "error", "drop" or "impute" (see dataset.prepare)
    data_identity: str = "stat"  # DEAP files known by path, size, inode and times, or "content" (SHA-256)

    def __post_init__(self):
        # Typed and checked by the one schema (YAML and --set give "1e-3" as text, papermill 40.0 for 40).
        for f in dataclasses.fields(self):
            object.__setattr__(self, f.name, schema.coerce(f.name, getattr(self, f.name)))
        for name, value in MODEL_DEFAULTS[self.model].items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)
        known = set(inspect.signature(MODELS[self.model]).parameters) - {"generator", "dropout_generator"}
        unknown = sorted(set(self.model_kwargs) - known)
        if unknown:
            raise schema.ParameterError(f"model_kwargs has {unknown}, which the {self.model.upper()} does not take; "
                                        f"allowed: {sorted(known)}")

    @classmethod
    def from_dict(cls, values: dict) -> "ExperimentConfig":
        """Build from a dict (a YAML file, papermill parameters); unknown keys are an error."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise schema.ParameterError(f"unknown experiment parameter(s) {unknown}; allowed: {sorted(names)}")
        return cls(**values)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["participants"] = None if self.participants is None else list(self.participants)
        return d

    def replace(self, **changes) -> "ExperimentConfig":
        return self.from_dict({**self.to_dict(), **changes})

    def source(self):
        """The :class:`~deap_lib.dataset.DataSource` this config reads."""
        return resolve_source(
            self.deap_dir, participants=self.participants, twin_seed=self.twin_seed, twin_effect=self.twin_effect
        )

    def prepare(self, **kwargs) -> Prepared:
        """The prepared features this config trains on (cached; see :func:`deap_lib.dataset.prepare`)."""
        return prepare(self.source(), standardization=self.standardization, nonfinite=self.nonfinite,
                       data_identity=self.data_identity, **kwargs)

    def run_key(self) -> dict:
        """The parts of the config that change a run's result (not where the data lives)."""
        d = self.to_dict()
        for name in ("deap_dir", "participants", "twin_seed", "twin_effect", "standardization", "nonfinite",
                     "data_identity"):
            d.pop(name)  # the data's identity stands for these
        return d


def load_config(path_or_name: str | os.PathLike, **overrides) -> ExperimentConfig:
    """Read an experiment YAML (a path, or a name like ``"deap_dnn_valence"`` from the package)."""
    path = Path(path_or_name)
    if not path.exists():
        path = CONFIG_DIR / f"{path_or_name}.yml"
    if not path.exists():
        names = sorted(p.stem for p in CONFIG_DIR.glob("*.yml"))
        raise FileNotFoundError(f"no experiment config {str(path_or_name)!r}; packaged configs: {names}")
    values = yaml.safe_load(path.read_text()) or {}
    if not isinstance(values, dict):
        raise ValueError(f"{path}: expected a mapping of parameter: value, got {type(values).__name__}")
    return ExperimentConfig.from_dict({**values, **overrides})


class NonFiniteError(ValueError):
    """A run met non-finite inputs or a non-finite loss: it stops instead of reporting an accuracy."""


def default_device() -> torch.device:
    """CUDA when present, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def versions() -> dict:
    import sklearn

    return {
        "deap_lib": deap_lib.__version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "scikit-learn": sklearn.__version__,
    }


def _make_optimizer(config: ExperimentConfig, params):
    if config.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=config.lr, momentum=config.momentum, foreach=True)
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, foreach=True)
    return torch.optim.Adam(params, lr=config.lr, foreach=True)


@torch.inference_mode()
def predict_logits(model: torch.nn.Module, x: torch.Tensor, *, batch_size: int = 1024) -> torch.Tensor:
    """Logits of ``model`` on ``x`` (n, 32, 99) in eval mode, in order (never shuffled): (n,)."""
    was_training = model.training
    model.eval()
    out = torch.cat([model(x[i : i + batch_size]) for i in range(0, len(x), batch_size)]) if len(x) else x.new_empty(0)
    model.train(was_training)
    return out


def _run_seed(seed: int, split_name: str) -> int:
    """Seed of one run: the experiment seed and the split's name, so folds differ reproducibly."""
    return int(np.random.SeedSequence([seed, zlib.crc32(split_name.encode())]).generate_state(1)[0])


def train_run(
    config: ExperimentConfig,
    data: Prepared,
    split: splits_mod.Split,
    *,
    scheme: str = "fixed",
    device: str | torch.device | None = None,
    progress: bool = True,
) -> tuple[dict, dict]:
    """Train and evaluate one model on one split; return ``(record, state_dict)``.

    The validation rows come from ``split.train`` only (whole participants under LOSO).
    """
    device = torch.device(device) if device is not None else default_device()
    y = data.labels(config.target)
    run_seed = _run_seed(config.seed, split.name)
    if config.val_fraction > 0:
        train_rows = split.train
        fit, val = splits_mod.validation_split(
            train_rows,
            fraction=config.val_fraction,
            seed=run_seed % 2**32,
            labels=None if scheme == "loso" else y[train_rows],
            groups=data.participant[train_rows] if scheme == "loso" else None,
        )
    else:
        fit, val = split.train, np.empty(0, dtype=np.int64)

    def tensor(rows, dtype=torch.float32):
        return torch.as_tensor(np.ascontiguousarray(data.features[rows]), dtype=dtype, device=device)

    x_fit, x_val, x_test = tensor(fit), tensor(val), tensor(split.test)
    for name, x in (("training", x_fit), ("validation", x_val), ("test", x_test)):
        if not torch.isfinite(x).all():
            raise NonFiniteError(f"non-finite {name} features ({data.source.describe()}): re-run prepare "
                                 "with nonfinite='drop' or 'impute' (CLI: --nonfinite)")
    y_fit = torch.as_tensor(y[fit], dtype=torch.float32, device=device)
    y_val, y_test = y[val], y[split.test]

    g_init = torch.Generator().manual_seed(run_seed)
    g_shuffle = torch.Generator().manual_seed(run_seed + 1)
    history = {"loss": [], "train_acc": [], "val_acc": [], "test_acc": [], "test_pred": []}
    seconds = []  # wall time per epoch, kept apart from the (deterministic) history
    g_dropout = torch.Generator(device=device).manual_seed(run_seed + 2)
    model = build_model(config.model, generator=g_init, dropout_generator=g_dropout, **config.model_kwargs)
    model = model.to(device)
    optimizer = _make_optimizer(config, model.parameters())
    loss_fn = torch.nn.BCEWithLogitsLoss()
    bar = tqdm(range(config.epochs), desc=f"{config.model} {config.target} {split.name}", disable=not progress, leave=False)
    for epoch in bar:
        start_time = time.perf_counter()
        model.train()
        order = torch.randperm(len(fit), generator=g_shuffle).to(device)
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), device=device)
        for start in range(0, len(fit), config.batch_size):
            idx = order[start : start + config.batch_size]
            xb, yb = x_fit[idx], y_fit[idx]
            optimizer.zero_grad(set_to_none=True)
            logits = model(xb)
            loss = loss_fn(logits, yb)
            loss.backward()
            optimizer.step()
            loss_sum += loss.detach() * len(idx)
            correct += ((logits.detach() >= 0) == (yb >= 0.5)).sum()
        if config.train_accuracy == "eval":
            train_acc = float(((predict_logits(model, x_fit) >= 0).cpu().numpy() == y[fit]).mean())
        else:
            train_acc = correct.item() / len(fit)
        val_pred = (predict_logits(model, x_val) >= 0).cpu().numpy()
        test_pred = (predict_logits(model, x_test) >= 0).cpu().numpy().astype(np.int64)
        mean_loss = loss_sum.item() / len(fit)
        if not np.isfinite(mean_loss):
            raise NonFiniteError(f"{config.model} {config.target} {split.name}: the training loss became "
                                 f"{mean_loss} at epoch {epoch + 1}; no accuracy is reported for a diverged run")
        history["loss"].append(mean_loss)
        history["train_acc"].append(train_acc)
        history["val_acc"].append(float((val_pred == y_val).mean()) if len(val) else None)
        history["test_acc"].append(float((test_pred == y_test).mean()))
        history["test_pred"].append("".join(map(str, test_pred)))
        seconds.append(time.perf_counter() - start_time)
        bar.set_postfix(loss=f"{history['loss'][-1]:.3f}", test=f"{history['test_acc'][-1]:.2f}")
    test_logits = predict_logits(model, x_test).cpu().numpy()

    record = {
        "config": config.to_dict(),
        "scheme": scheme,
        "split": {**split.to_dict(), "fit": fit.tolist(), "val": val.tolist()},
        "seed": {"experiment": config.seed, "run": run_seed},
        "data": data.describe(),
        "versions": versions(),
        "device": str(device),
        "history": history,
        "epoch_seconds": seconds,
        "test_logits": test_logits.tolist(),
        "y_test": y_test.tolist(),
        "summary": summarize(history, y[split.train], y_test),
    }
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    return record, state


def summarize(history: dict, y_train: np.ndarray, y_test: np.ndarray) -> dict:
    """The three test figures of a run, the majority baseline, and the test size."""
    test = np.asarray(history["test_acc"])
    best = int(np.argmax(test))  # first epoch reaching the maximum
    out = {
        "n_test": int(len(y_test)),
        "majority_baseline": stats.majority_baseline(y_train, y_test),
        "as_reported": {"accuracy": float(test[best]), "epoch": best + 1, "note": "epoch chosen on the test set (optimistic)"},
        "last": {"accuracy": float(test[-1]), "epoch": len(test)},
        "val_chosen": None,
    }
    if history["val_acc"] and history["val_acc"][0] is not None:
        chosen = int(np.argmax(history["val_acc"]))
        out["val_chosen"] = {"accuracy": float(test[chosen]), "epoch": chosen + 1}
    return out


# --------------------------------------------------------------------------------------------
# Stored runs


def run_id(config: ExperimentConfig, data: Prepared, split: splits_mod.Split, scheme: str) -> str:
    """Key of a run: the result-changing config, the data's identity, the scheme and the split."""
    return entry_key(
        "records",
        {
            "config": config.run_key(),
            "data": data.identity,
            "scheme": scheme,
            "split": [split.name, stable_hash([split.train.tolist(), split.test.tolist()])],
        },
    )


def load_weights(record: dict, *, cache: str | os.PathLike | None = None) -> torch.nn.Module:
    """The model of a stored run (``record`` as returned by :func:`run_jobs`), in eval mode.

    The weights are verified against their checksum and read with ``weights_only=True``.

    Raises
    ------
    LookupError
        If the weights are missing or damaged; a damaged entry is deleted, with its record, so
        that the next run of the same experiment trains it again.
    """
    store = Store(cache)
    state = store.read_as("weights", record["id"], lambda b: torch.load(_bytesio.BytesIO(b), map_location="cpu", weights_only=True))
    if state is None:
        store.delete("records", record["id"])
        raise LookupError(f"the weights of run {record['id']} are missing or damaged (deleted with the record: "
                          "running the same experiment again trains it again)")
    config = ExperimentConfig.from_dict(record["config"])
    model = build_model(config.model, **config.model_kwargs)
    model.load_state_dict(state)
    return model.eval()


def _job(config, data, split, scheme, device, threads, cache, rid, progress):
    if threads:
        torch.set_num_threads(threads)
    record, state = train_run(config, data, split, scheme=scheme, device=device, progress=progress)
    record["id"] = rid
    store = Store(cache)
    buf = _bytesio.BytesIO()
    torch.save(state, buf)
    store.write("weights", rid, buf.getvalue())
    return store.write_json("records", rid, record)  # the record last: with it the run is complete


def run_splits(
    config: ExperimentConfig,
    data: Prepared,
    splits: list[splits_mod.Split],
    *,
    scheme: str = "fixed",
    **kwargs,
) -> list[dict]:
    """Run ``config`` on every split (see :func:`run_jobs` for the keyword arguments)."""
    return run_jobs([(config, s, scheme) for s in splits], data, **kwargs)


def run_jobs(
    jobs: list[tuple[ExperimentConfig, splits_mod.Split, str]],
    data: Prepared,
    *,
    n_jobs: int = 1,
    device: str | torch.device | None = None,
    cache: str | os.PathLike | None = None,
    force: bool = False,
    progress: bool = True,
    desc: str | None = None,
) -> list[dict]:
    """Run each ``(config, split, scheme)``; stored runs are read, the others dispatched through joblib.

    Each run is an independent job (``n_jobs`` workers, the machine's threads shared out
    between them); any joblib backend (e.g. Dask's) scales it out without code changes. Results
    do not depend on ``n_jobs``: every run seeds itself from its config's seed and its split.
    Records come back in the order of ``jobs``.
    """
    store = Store(cache)
    ids = [run_id(config, data, split, scheme) for config, split, scheme in jobs]
    records: dict[str, dict] = {}
    for rid in dict.fromkeys(ids) if not force else ():
        record = store.read_json("records", rid) if store.intact("weights", rid) else None
        if record is not None:
            records[rid] = record
    todo = [(job, rid) for job, rid in zip(jobs, ids) if rid not in records]
    todo = list({rid: (job, rid) for job, rid in todo}.values())  # the same run asked twice trains once
    if todo:
        n_jobs = max(1, min(n_jobs, len(todo)))
        threads = max(1, (os.cpu_count() or 1) // n_jobs) if n_jobs > 1 else None
        inner_progress = progress and n_jobs == 1 and len(todo) == 1
        calls = (
            delayed(_job)(config, data, split, scheme, device, threads, store.cache, rid, inner_progress)
            for (config, split, scheme), rid in todo
        )
        if n_jobs == 1:
            results = (call[0](*call[1], **call[2]) for call in calls)
        else:
            results = Parallel(n_jobs=n_jobs, return_as="generator_unordered")(calls)
        if desc is None:
            config, _, scheme = todo[0][0]
            desc = f"{config.model} {config.target} {scheme}"
        start, done = time.perf_counter(), 0
        for record in tqdm(results, total=len(todo), desc=desc, disable=not progress or len(todo) == 1):
            records[record["id"]] = record
            done += 1
            _report_progress(record, done, len(todo), time.perf_counter() - start, n_jobs)
    return [records[rid] for rid in ids]


def _report_progress(record: dict, done: int, total: int, elapsed: float, n_jobs: int = 1) -> None:
    """One line per finished run to ``$DEAP_LIB_PROGRESS_FILE`` when set (the book driver prints it:
    a notebook's own output would land in the book). The estimate assumes runs like this one,
    ``n_jobs`` at a time."""
    path = os.environ.get("DEAP_LIB_PROGRESS_FILE")
    if not path:
        return
    c, seconds = record["config"], sum(record["epoch_seconds"])
    left = seconds * math.ceil(total / n_jobs) - elapsed
    left = f", about {left:.0f} s left for this step" if done < total and left >= 5 else ""
    line = (f"run {done}/{total} trained: {c['model']} {c['target']} {record['split']['name']}, "
            f"{c['epochs']} epochs, {seconds:.0f} s{left}\n")
    with open(path, "a") as f:
        f.write(line)


def report_protocol(config: ExperimentConfig) -> ExperimentConfig:
    """``config`` as the report ran it: every training trial is fitted (no validation set held out)."""
    return config.replace(val_fraction=0.0)


def fixed_split_figures(report: dict, honest: dict | None) -> dict:
    """The figures of the fixed split from its two runs.

    ``report``: the run of the report's protocol (all training trials; the test set evaluated
    every epoch): its best-on-test epoch (``as_reported``, optimistic) and its last epoch
    (``last``, honest: nothing was chosen). ``honest``: a run of its own with a validation set
    carved from the training trials, which chooses the epoch (``val_chosen``); None when
    ``val_fraction`` is 0.
    """
    summary = dict(report["summary"])
    summary["val_chosen"] = honest["summary"]["val_chosen"] if honest is not None else None
    return summary


def run_fixed(configs: list[ExperimentConfig], data: Prepared, **kwargs) -> list[dict]:
    """The fixed split of each config: the report's run and, beside it, an honest run.

    For each config the report's protocol (:func:`report_protocol`) is run on the seeded split,
    and, when ``config.val_fraction > 0``, a second run with that share of the training trials
    held out for choosing the epoch. All runs go to one pool of workers (keyword arguments as
    :func:`run_jobs`: ``n_jobs``, ``device``, ``cache``, ``force``, ``progress``).

    Returns one dict per config: ``{"config", "report": record, "honest": record or None,
    "summary": fixed_split_figures(...)}``.
    """
    jobs, slots = [], []
    for config in configs:
        split = splits_mod.fixed_split(len(data.features), n_test=config.n_test, seed=config.seed)
        jobs.append((report_protocol(config), split, "fixed"))
        if config.val_fraction > 0:
            jobs.append((config, split, "fixed"))
        slots.append(config.val_fraction > 0)
    records = iter(run_jobs(jobs, data, desc="fixed-split runs", **kwargs))
    out = []
    for config, has_honest in zip(configs, slots):
        report = next(records)
        honest = next(records) if has_honest else None
        out.append({"config": config, "report": report, "honest": honest,
                    "summary": fixed_split_figures(report, honest)})
    return out


def run_experiment(
    config: ExperimentConfig,
    scheme: str = "fixed",
    *,
    data: Prepared | None = None,
    n_folds: int = 32,
    holdout: int | None = None,
    n_jobs: int = 1,
    device: str | torch.device | None = None,
    cache: str | os.PathLike | None = None,
    force: bool = False,
    progress: bool = True,
) -> list[dict]:
    """Prepare the data (cached), make the scheme's splits, and run them all.

    ``scheme``: "fixed" (seeded 1180/100), "kfold" (random folds over all trials, participants
    mixed, as the report), or "loso" (leave-one-subject-out). Splits follow the report: seeded,
    unstratified. ``holdout`` tests a seeded choice of that many folds (k-fold) or participants
    (LOSO) instead of all of them; each is still trained on everything else, exactly as in the
    full scheme (a 32-fold fold trains on 1240 trials whichever folds are chosen).
    """
    if data is None:
        data = config.prepare(cache=cache, progress=progress)
    if scheme == "loso":
        splits = loso_holdout_splits(data, holdout, seed=config.seed)
    else:
        splits = splits_mod.make_splits(
            scheme, n_rows=len(data.features), participant=data.participant, seed=config.seed,
            n_folds=n_folds, n_test=config.n_test,
        )
        if scheme == "kfold":
            splits = seeded_subset(splits, holdout, seed=config.seed)
    return run_splits(config, data, splits, scheme=scheme, n_jobs=n_jobs, device=device, cache=cache, force=force, progress=progress)


def seeded_subset(items: list, k: int | None, *, seed: int = 12) -> list:
    """A seeded choice of ``k`` of ``items``, in their original order (all of them when ``k`` is None)."""
    if k is None or k >= len(items):
        return list(items)
    if k < 1:
        raise ValueError(f"holdout must be >= 1, got {k}")
    chosen = np.sort(np.random.default_rng(seed).choice(len(items), size=k, replace=False))
    return [items[i] for i in chosen]


def loso_holdout_splits(data: Prepared, holdout: int | None = None, *, seed: int = 12) -> list[splits_mod.Split]:
    """Leave-one-subject-out folds, for all participants or a seeded choice of ``holdout`` of them."""
    pids = seeded_subset(np.unique(data.participant).tolist(), holdout, seed=seed)
    return splits_mod.loso_splits(data.participant, participants=pids)


def summary_table(records: list[dict]) -> dict:
    """Mean and 95 % t-interval over runs of each figure, plus the mean majority baseline."""
    out = {}
    for name in ("as_reported", "last", "val_chosen"):
        values = [r["summary"][name]["accuracy"] for r in records if r["summary"][name] is not None]
        if values:
            mean, low, high = stats.mean_ci(values)
            out[name] = {"mean": mean, "low": low, "high": high, "n_runs": len(values), "values": values}
    out["majority_baseline"] = float(np.mean([r["summary"]["majority_baseline"] for r in records]))
    return out


def test_predictions(record: dict, which: str = "last") -> np.ndarray:
    """Test-set predictions (0/1, in the split's test order) at the epoch a figure uses.

    ``which``: "last", "val_chosen" or "as_reported" (the test-chosen epoch: optimistic).
    ``record``: one run's record, or a fixed split's pair from :func:`run_fixed` (the honest
    run gives "val_chosen", the report's run the others).
    """
    if "report" in record:
        record = record["honest"] if which == "val_chosen" and record["honest"] is not None else record["report"]
    figure = record["summary"].get(which)
    if figure is None:
        raise ValueError(f"this run has no {which!r} figure (val_fraction was 0?)")
    return np.array([int(c) for c in record["history"]["test_pred"][figure["epoch"] - 1]])


def five_by_two(
    config_a: ExperimentConfig,
    config_b: ExperimentConfig,
    data: Prepared,
    *,
    n_jobs: int = 1,
    cache: str | os.PathLike | None = None,
    progress: bool = True,
) -> dict:
    """Dietterich's 5x2cv paired t-test between two configs (last-epoch test accuracies).

    Both configs must have the same target and seed (the same five 50/50 splits).
    ``identical_first``: whether both models made the same test predictions on the first fold
    of the first replication (the fold whose difference is the statistic's numerator). ``t`` and
    ``p_value`` are nan when the statistic is undefined (no variance between paired folds).
    """
    if (config_a.target, config_a.seed) != (config_b.target, config_b.seed):
        raise ValueError("5x2cv compares two models on the same splits: use the same target and seed")
    pairs = splits_mod.five_by_two_splits(len(data.features), seed=config_a.seed)
    flat = [s for pair in pairs for s in pair]
    acc, first = {}, {}
    for name, config in (("a", config_a), ("b", config_b)):
        records = run_splits(config, data, flat, scheme="5x2", n_jobs=n_jobs, cache=cache, progress=progress)
        acc[name] = np.array([r["summary"]["last"]["accuracy"] for r in records]).reshape(5, 2)
        first[name] = records[0]["history"]["test_pred"][-1]
    try:
        result = stats.paired_t_5x2cv(acc["a"] - acc["b"])
    except ValueError:  # equal differences in both folds of every replication: t is undefined
        result = {"t": float("nan"), "p_value": float("nan"), "dof": 5,
                  "mean_difference": float((acc["a"] - acc["b"]).mean())}
    return {**result, "accuracy_a": acc["a"].tolist(), "accuracy_b": acc["b"].tolist(),
            "mean_a": float(acc["a"].mean()), "mean_b": float(acc["b"].mean()),
            "identical_first": first["a"] == first["b"]}
