"""The report's evaluation protocols, run through the one loop (:mod:`deap_lib.experiment.engine`) and stored.

- :func:`run_fixed`: the seeded fixed split, in the report's protocol (every training trial
  fitted, the test set evaluated every epoch) and, beside it, an honest run that holds a
  validation set out to choose the epoch.
- :func:`run_kfold`: the report's random k-fold (participants mixed; its protocol).
- :func:`run_loso`: leave-one-subject-out.
- :func:`five_by_two`: Dietterich's 5x2cv paired t-test between two models.

Every run is stored (:class:`deap_lib.store.Store`: a JSON record with the config, seeds, data
identity, versions, history, split and test predictions, and the final weights), keyed by
everything that determines it; an identical run is read instead of trained, a damaged or missing
one is trained again. Independent runs go to ``n_jobs`` local processes or to a Dask cluster
(:mod:`deap_lib.experiment.executor`); their results come back here and only this process writes
the store.
"""

from __future__ import annotations

import io as _bytesio
import os
import time

import numpy as np
import torch
from tqdm import tqdm

from deap_lib.data.dataset import Prepared
from deap_lib.evaluation import stats
from deap_lib.experiment import executor, splits
from deap_lib.experiment.engine import resolve_precision, stack_groups, train_runs
from deap_lib.experiment.settings import ExperimentConfig
from deap_lib.models import build_model
from deap_lib.store import Store, entry_key, stable_hash


def run_id(config: ExperimentConfig, data: Prepared, split: splits.Split, scheme: str, device: str = "cpu") -> str:
    """Key of a run: the result-changing config, the data's identity, the scheme, the split, the
    kind of device ("cpu" / "cuda") and the arithmetic (``config.precision`` resolved on that kind:
    ``auto`` and the precision it stands for share their runs). Runs on two kinds or in two
    precisions differ beyond float tolerance, so their records never mix."""
    key = config.run_key()
    key["precision"] = resolve_precision(config.precision, device)
    return entry_key(
        "records",
        {
            "config": key,
            "data": data.identity,
            "scheme": scheme,
            "split": [split.name, stable_hash([split.train.tolist(), split.test.tolist()])],
            "device": str(device),
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


def _train(data: Prepared, config: ExperimentConfig, folds: list[splits.Split], scheme: str, kind: str,
           device: str | None, slot: int, stacked: bool | None, progress: bool) -> list[tuple[dict, bytes]]:
    """One task, wherever it runs: train ``config`` on ``folds`` (together when stacked) and return
    each run's record and weights (``torch.save`` bytes) to the caller, which stores them."""
    asked = None if device is None else torch.device(device)
    # "cuda" without an index: each worker (or local slot) takes its own GPU
    where = asked if asked is not None and (asked.type != "cuda" or asked.index is not None) \
        else executor.task_device(kind, slot)
    out = []
    for record, state in train_runs(config, data, folds, scheme=scheme, device=where, progress=progress,
                                    stacked=stacked):
        record["ran_on"] = {"worker": executor.worker_name(), "device": str(where)}
        buf = _bytesio.BytesIO()
        torch.save(state, buf)
        out.append((record, buf.getvalue()))
    return out


def run_splits(
    config: ExperimentConfig,
    data: Prepared,
    folds: list[splits.Split],
    *,
    scheme: str = "fixed",
    **kwargs,
) -> list[dict]:
    """Run ``config`` on every split of ``folds`` (see :func:`run_jobs` for the keyword arguments)."""
    return run_jobs([(config, s, scheme) for s in folds], data, **kwargs)


def run_jobs(
    jobs: list[tuple[ExperimentConfig, splits.Split, str]],
    data: Prepared,
    *,
    n_jobs: int = 1,
    scheduler: str | None = None,
    device: str | torch.device | None = None,
    stacked: bool | None = None,
    cache: str | os.PathLike | None = None,
    force: bool = False,
    progress: bool = True,
    desc: str | None = None,
) -> list[dict]:
    """Run each ``(config, split, scheme)``: stored runs are read, the others trained and stored.

    Each run is an independent task (:func:`deap_lib.experiment.executor.run_tasks`): in this
    process, in ``n_jobs`` local processes, or on the Dask cluster at ``scheduler`` (default
    ``$DASK_SCHEDULER_ADDRESS``; then ``n_jobs`` is ignored). Tasks return their records and
    weights, and this process writes them to the store (the record last: with it a run is
    complete), so workers need no cache. ``device``: None trains on CUDA where the runs execute
    has it (each worker its own GPU), else on the CPU; its kind is part of each run's identity.
    ``stacked``: train the runs of one config whose shapes agree as one stacked model
    (:func:`deap_lib.experiment.engine.train_runs`; None: on CUDA only). Results do not depend
    on ``n_jobs`` or the scheduler: every run seeds itself from its config's seed and its split.
    Records come back in the order of ``jobs``; one progress bar advances as runs finish.
    """
    store = Store(cache)
    scheduler = executor.resolve_scheduler(scheduler)
    kind = executor.device_kind(device, scheduler)
    ids = [run_id(config, data, split, scheme, kind) for config, split, scheme in jobs]
    records: dict[str, dict] = {}
    for rid in dict.fromkeys(ids) if not force else ():
        record = store.read_json("records", rid) if store.intact("weights", rid) else None
        if record is not None:
            records[rid] = record
    todo = [(job, rid) for job, rid in zip(jobs, ids) if rid not in records]
    todo = list({rid: (job, rid) for job, rid in todo}.values())  # the same run asked twice trains once
    if not todo:
        return [records[rid] for rid in ids]
    # Longest first, so that parallel workers finish together (records come back keyed, in any order).
    todo.sort(key=lambda item: -_cost(*item[0]))
    costs = {rid: _cost(*job) for job, rid in todo}
    capacity = executor.parallelism(n_jobs, scheduler, len(todo))
    groups = _groups(todo, stacked if stacked is not None else kind == "cuda", -(-len(todo) // capacity))
    slots = executor.parallelism(n_jobs, scheduler, len(groups))
    inner_progress = progress and len(todo) == 1 and scheduler is None
    # "auto" decided here, on the kind of device the runs use, as in their keys (not again by each worker).
    tasks = [(config.replace(precision=resolve_precision(config.precision, kind)), [split for _, split in members],
              scheme, kind, None if device is None else str(device), i,
              stacked, inner_progress) for i, (config, scheme, members) in enumerate(groups)]
    if desc is None:
        config, _, scheme = todo[0][0]
        desc = f"{config.model} {config.target} {scheme}"
    total_cost = sum(costs.values())
    start, done = time.perf_counter(), 0
    with tqdm(total=len(todo), desc=desc, unit="run", disable=not progress or len(todo) == 1) as bar:
        for i, results in executor.run_tasks(_train, tasks, shared=data, n_jobs=n_jobs, scheduler=scheduler):
            for (rid, _), (record, weights) in zip(groups[i][2], results):
                record["id"] = rid
                store.write("weights", rid, weights)
                records[rid] = store.write_json("records", rid, record)
                done += 1
                bar.update()
                _report_progress(record, done, len(todo), time.perf_counter() - start, slots,
                                 like_this=total_cost / costs[rid])
    return [records[rid] for rid in ids]


def _groups(todo: list, stacked: bool, size: int) -> list[tuple[ExperimentConfig, str, list[tuple[str, splits.Split]]]]:
    """The tasks: one per run, or (``stacked``) runs of one config and scheme whose splits have equal
    sizes together, at most ``size`` each (so that every worker gets a share), each as
    ``(config, scheme, [(run id, split), ...])``, in the order of ``todo``."""
    keys = [(stable_hash(config.to_dict()), scheme, len(split.train), len(split.test)) if stacked else rid
            for (config, split, scheme), rid in todo]
    tasks = []
    for group in stack_groups(keys, max_stack=size):
        (config, _, scheme), _ = todo[group[0]]
        tasks.append((config, scheme, [(todo[i][1], todo[i][0][1]) for i in group]))
    return tasks


#: What an epoch costs per training trial, relative to the DNN's (measured on 2-core CPUs: DNN 1.5 s,
#: CNN 3.6-4.2 s per epoch of 1180 trials; see the reproduce page). Only orders the work.
_EPOCH_COST = {"dnn": 1.0, "cnn": 2.7}


def _cost(config: ExperimentConfig, split: splits.Split, scheme: str) -> float:
    """A run's expected training time, up to a factor."""
    return _EPOCH_COST[config.model] * config.epochs * len(split.train)


def _report_progress(record: dict, done: int, total: int, elapsed: float, n_jobs: int = 1,
                     like_this: float | None = None) -> None:
    """One line per finished run to ``$DEAP_LIB_PROGRESS_FILE`` when set (the book driver prints it:
    a notebook's own output would land in the book). The estimate scales this run's time to the
    whole step, ``like_this`` runs of its cost (default ``total``: all alike), ``n_jobs`` at a time."""
    path = os.environ.get("DEAP_LIB_PROGRESS_FILE")
    if not path:
        return
    c, seconds = record["config"], sum(record["epoch_seconds"])
    left = seconds * (total if like_this is None else like_this) / n_jobs - elapsed
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
        split = splits.fixed_split(len(data.features), n_test=config.n_test, seed=config.seed)
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


def run_kfold(config: ExperimentConfig, data: Prepared, *, n_folds: int = 32, holdout: int | None = None,
              **kwargs) -> list[dict]:
    """The report's random k-fold, in its protocol: folds over all trials (participants mixed),
    each trained on every other fold's trials (:func:`report_protocol`: nothing held out).

    ``holdout``: run a seeded choice of that many of the ``n_folds`` folds (each still trains on
    all the others: a 32-fold fold trains on 1240 trials whichever folds are chosen). Keyword
    arguments as :func:`run_jobs`. Returns one record per fold run.
    """
    folds = splits.kfold_splits(len(data.features), n_folds=n_folds, seed=config.seed)
    folds = splits.seeded_subset(folds, holdout, seed=config.seed)
    return run_splits(report_protocol(config), data, folds, scheme="kfold", **kwargs)


def run_loso(config: ExperimentConfig, data: Prepared, *, holdout: int | None = None, **kwargs) -> list[dict]:
    """Leave-one-subject-out: each held-out participant tested by a model trained on all others.

    With ``config.val_fraction`` > 0, whole training participants are held out as the validation
    set that chooses the epoch. ``holdout``: a seeded choice of that many participants (all when
    None). Keyword arguments as :func:`run_jobs`. Returns one record per held-out participant.
    """
    folds = splits.loso_splits(data.participant, holdout=holdout, seed=config.seed)
    return run_splits(config, data, folds, scheme="loso", **kwargs)


def tested_splits(records: list[dict]) -> list[splits.Split]:
    """The splits stored runs were tested on (each once, in order: runs of several training seeds
    share their split), so that anything else can use exactly those."""
    unique = {r["split"]["name"]: r["split"] for r in records}
    return [splits.Split.from_dict(split) for split in unique.values()]


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
    **kwargs,
) -> dict:
    """Dietterich's 5x2cv paired t-test between two configs (last-epoch test accuracies), each run
    in the report's protocol (:func:`report_protocol`); keyword arguments as :func:`run_jobs`.

    Both configs must have the same target and seed (the same five 50/50 splits).
    ``identical_first``: whether both models made the same test predictions on the first fold
    of the first replication (the fold whose difference is the statistic's numerator). ``t`` and
    ``p_value`` are nan when the statistic is undefined (no variance between paired folds).
    """
    if (config_a.target, config_a.seed) != (config_b.target, config_b.seed):
        raise ValueError("5x2cv compares two models on the same splits: use the same target and seed")
    pairs = splits.five_by_two_splits(len(data.features), seed=config_a.seed)
    flat = [s for pair in pairs for s in pair]
    acc, first = {}, {}
    for name, config in (("a", config_a), ("b", config_b)):
        records = run_splits(report_protocol(config), data, flat, scheme="5x2", **kwargs)
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
