"""The report's evaluation protocols (fixed split, random k-fold, leave-one-subject-out, 5x2cv), trained
by :mod:`deap_lib.experiment.engine` and stored.

Every run is stored (:class:`deap_lib.store.Store`: its :class:`~deap_lib.experiment.records.Record` as
JSON and its weights), keyed by everything that determines it, code included: an identical run is read,
a damaged or missing one trained again. Independent runs go to ``n_jobs`` local processes or a Dask
cluster (:mod:`deap_lib.experiment.executor`); only this process writes the store.
"""

from __future__ import annotations

import io
import math
import os
import time

import numpy as np
import torch
from tqdm import tqdm

from deap_lib.data.dataset import Prepared
from deap_lib.evaluation import stats
from deap_lib.experiment import executor, splits
from deap_lib.experiment.engine import resolve_precision, stack_groups, train_runs
from deap_lib.experiment.records import FixedRun, Record
from deap_lib.experiment.settings import ExperimentConfig
from deap_lib.models import build_model
from deap_lib.store import Store, entry_key, stable_hash


def run_id(config: ExperimentConfig, data: Prepared, split: splits.Split, scheme: str, device: str = "cpu") -> str:
    """Key of a run: the result-changing config, the data's identity, the scheme, the split, the kind
    of device ("cpu" / "cuda") and the precision resolved on it (``auto`` shares the runs of what it
    resolves to). Runs on two kinds or in two precisions differ beyond float tolerance: never mixed."""
    key = {**config.run_key(), "precision": resolve_precision(config.precision, device)}
    split_key = [split.name, stable_hash([split.train.tolist(), split.test.tolist()])]
    return entry_key("records", {"config": key, "data": data.identity, "scheme": scheme, "split": split_key,
                                 "device": str(device)})


def load_weights(record: Record, *, cache: str | os.PathLike | None = None) -> torch.nn.Module:
    """The model of a stored run, in eval mode (weights verified, read with ``weights_only=True``).

    Raises LookupError when they are missing or damaged: the entry is deleted with its record, so
    that running the same experiment again trains it again.
    """
    store = Store(cache)
    state = store.read_as("weights", record.id,
                          lambda b: torch.load(io.BytesIO(b), weights_only=True, map_location="cpu"))
    if state is None:
        store.delete("records", record.id)
        raise LookupError(f"the weights of run {record.id} are missing or damaged (deleted with the record: "
                          "running the same experiment again trains it again)")
    model = build_model(record.config.model, **record.config.model_kwargs)
    model.load_state_dict(state)
    return model.eval()


def _train(data: Prepared, config: ExperimentConfig, folds: list[splits.Split], scheme: str, kind: str,
           device: str | None, slot: int, stacked: bool | None, progress: bool) -> list[tuple[Record, bytes]]:
    """One task, wherever it runs: train ``config`` on ``folds`` (together when stacked); return each
    run's record and its weights as ``torch.save`` bytes, for the caller to store."""
    asked = None if device is None else torch.device(device)
    # "cuda" without an index: each worker (or local slot) takes its own GPU
    where = asked if asked is not None and (asked.type != "cuda" or asked.index is not None) \
        else executor.task_device(kind, slot)
    out = []
    for record, state in train_runs(config, data, folds, scheme=scheme, device=where, progress=progress,
                                    stacked=stacked):
        buf = io.BytesIO()
        torch.save(state, buf)
        out.append((record.replace(ran_on={"worker": executor.worker_name(), "device": str(where)}), buf.getvalue()))
    return out


def run_splits(config: ExperimentConfig, data: Prepared, folds: list[splits.Split], *, scheme: str = "fixed",
               **kwargs) -> list[Record]:
    """Run ``config`` on every split of ``folds`` (keyword arguments as :func:`run_jobs`)."""
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
) -> list[Record]:
    """Run each ``(config, split, scheme)``: stored runs are read, the others trained and stored.

    Tasks run here, in ``n_jobs`` local processes or on the Dask cluster at ``scheduler`` (default
    ``$DASK_SCHEDULER_ADDRESS``; then ``n_jobs`` is ignored); this process stores what they return
    (the record last: with it a run is complete). ``device``: None trains on CUDA where the tasks run
    has it, else on the CPU; its kind is part of each run's key. ``stacked``: train the runs of one
    config whose shapes agree as one stacked model (None: on CUDA only). Results do not depend on
    ``n_jobs`` or the scheduler. Records come back in the order of ``jobs``.
    """
    store = Store(cache)
    scheduler = executor.resolve_scheduler(scheduler)
    kind = executor.device_kind(device, scheduler)
    ids = [run_id(config, data, split, scheme, kind) for config, split, scheme in jobs]
    records: dict[str, Record] = {}
    for rid in dict.fromkeys(ids) if not force else ():
        stored = store.read_json("records", rid) if store.intact("weights", rid) else None
        if stored is not None:
            records[rid] = Record.from_json(stored)
    todo = list({rid: (job, rid) for job, rid in zip(jobs, ids) if rid not in records}.values())  # asked twice: once
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
              scheme, kind, None if device is None else str(device), i, stacked, inner_progress)
             for i, (config, scheme, members) in enumerate(groups)]
    if desc is None:
        config, _, scheme = todo[0][0]
        desc = f"{config.model} {config.target} {scheme}"
    total_cost = sum(costs.values())
    start, done = time.perf_counter(), 0
    with tqdm(total=len(todo), desc=desc, unit="run", disable=not progress or len(todo) == 1) as bar:
        for i, results in executor.run_tasks(_train, tasks, shared=data, n_jobs=n_jobs, scheduler=scheduler):
            for (rid, _), (record, weights) in zip(groups[i][2], results):
                store.write("weights", rid, weights)
                # what a later read gives, exactly (the stored JSON read back)
                records[rid] = Record.from_json(store.write_json("records", rid, record.replace(id=rid).to_json()))
                done += 1
                bar.update()
                _report_progress(records[rid], done, len(todo), time.perf_counter() - start, slots,
                                 like_this=total_cost / costs[rid])
    return [records[rid] for rid in ids]


def _groups(todo: list, stacked: bool, size: int) -> list[tuple[ExperimentConfig, str, list[tuple[str, splits.Split]]]]:
    """The tasks, each ``(config, scheme, [(run id, split), ...])`` in the order of ``todo``: one per
    run, or (``stacked``) runs of one config and scheme with equal split sizes, at most ``size`` each."""
    keys = [(stable_hash(config.to_dict()), scheme, len(split.train), len(split.test)) if stacked else rid
            for (config, split, scheme), rid in todo]
    tasks = []
    for group in stack_groups(keys, max_stack=size):
        (config, _, scheme), _ = todo[group[0]]
        tasks.append((config, scheme, [(todo[i][1], todo[i][0][1]) for i in group]))
    return tasks


#: What an epoch costs per training trial, relative to the DNN's (measured on 2-core CPUs; see the
#: reproduce page). Only orders the work.
_EPOCH_COST = {"dnn": 1.0, "cnn": 2.7}


def _cost(config: ExperimentConfig, split: splits.Split, scheme: str) -> float:
    """A run's expected training time, up to a factor."""
    return _EPOCH_COST[config.model] * config.epochs * len(split.train)


def _report_progress(record: Record, done: int, total: int, elapsed: float, n_jobs: int = 1,
                     like_this: float | None = None) -> None:
    """One line per finished run to ``$DEAP_LIB_PROGRESS_FILE`` when set (the book driver prints it).
    The estimate scales this run's time to ``like_this`` runs of its cost (default ``total``), ``n_jobs``
    at a time."""
    path = os.environ.get("DEAP_LIB_PROGRESS_FILE")
    if not path:
        return
    c, seconds = record.config, sum(record.epoch_seconds)
    left = seconds * (total if like_this is None else like_this) / n_jobs - elapsed
    left = f", about {left:.0f} s left for this step" if done < total and left >= 5 else ""
    with open(path, "a") as f:
        f.write(f"run {done}/{total} trained: {c.model} {c.target} {record.split.name}, {c.epochs} epochs, "
                f"{seconds:.0f} s{left}\n")


def report_protocol(config: ExperimentConfig) -> ExperimentConfig:
    """``config`` as the report ran it: every training trial is fitted (no validation set held out)."""
    return config.replace(val_fraction=0.0)


def run_fixed(configs: list[ExperimentConfig], data: Prepared, **kwargs) -> list[FixedRun]:
    """The fixed split of each config: the report's run (:func:`report_protocol`) on the seeded
    split and, when ``config.val_fraction > 0``, an honest run holding that share of the training
    trials out to choose the epoch. All runs go to one pool (keyword arguments as :func:`run_jobs`)."""
    jobs = []
    for config in configs:
        split = splits.fixed_split(len(data.features), n_test=config.n_test, seed=config.seed)
        jobs.append((report_protocol(config), split, "fixed"))
        if config.val_fraction > 0:
            jobs.append((config, split, "fixed"))
    records = iter(run_jobs(jobs, data, desc="fixed-split runs", **kwargs))
    return [FixedRun(c, next(records), next(records) if c.val_fraction > 0 else None) for c in configs]


def run_kfold(config: ExperimentConfig, data: Prepared, *, n_folds: int = 32, holdout: int | None = None,
              **kwargs) -> list[Record]:
    """The report's random k-fold in its protocol: folds over all trials (participants mixed), each
    trained on every other fold (nothing held out). ``holdout``: a seeded choice of that many folds
    to run (each still trains on all the others). Keyword arguments as :func:`run_jobs`."""
    folds = splits.kfold_splits(len(data.features), n_folds=n_folds, seed=config.seed)
    folds = splits.seeded_subset(folds, holdout, seed=config.seed)
    return run_splits(report_protocol(config), data, folds, scheme="kfold", **kwargs)


def run_loso(config: ExperimentConfig, data: Prepared, *, holdout: int | None = None, **kwargs) -> list[Record]:
    """Leave-one-subject-out: each held-out participant tested by a model trained on all others (with
    ``val_fraction`` > 0, whole training participants are the validation set that chooses the epoch).
    ``holdout``: a seeded choice of that many participants (None: all)."""
    folds = splits.loso_splits(data.participant, holdout=holdout, seed=config.seed)
    return run_splits(config, data, folds, scheme="loso", **kwargs)


def tested_splits(records: list[Record]) -> list[splits.Split]:
    """The splits stored runs were tested on, each once, in order (seeds of a fold share it)."""
    return list({r.split.name: r.split for r in records}.values())


def five_by_two(config_a: ExperimentConfig, config_b: ExperimentConfig, data: Prepared, **kwargs) -> dict:
    """Dietterich's 5x2cv paired t-test between two configs (last-epoch test accuracies, report's
    protocol; keyword arguments as :func:`run_jobs`), on the same target and seed.

    ``identical_first``: whether both models made the same test predictions on the first fold of the
    first replication (the statistic's numerator); ``t``, ``p_value`` nan when it is undefined.
    """
    if (config_a.target, config_a.seed) != (config_b.target, config_b.seed):
        raise ValueError("5x2cv compares two models on the same splits: use the same target and seed")
    flat = [s for pair in splits.five_by_two_splits(len(data.features), seed=config_a.seed) for s in pair]
    acc, first = {}, {}
    for name, config in (("a", config_a), ("b", config_b)):
        records = run_splits(report_protocol(config), data, flat, scheme="5x2", **kwargs)
        acc[name] = np.array([r.summary.last.accuracy for r in records]).reshape(5, 2)
        first[name] = records[0].history.test_pred[-1]
    try:
        result = stats.paired_t_5x2cv(acc["a"] - acc["b"])
    except ValueError:  # equal differences in both folds of every replication: t is undefined
        result = {"t": math.nan, "p_value": math.nan, "dof": 5, "mean_difference": float((acc["a"] - acc["b"]).mean())}
    return {**result, "accuracy_a": acc["a"].tolist(), "accuracy_b": acc["b"].tolist(),
            "mean_a": float(acc["a"].mean()), "mean_b": float(acc["b"].mean()),
            "identical_first": first["a"] == first["b"]}
