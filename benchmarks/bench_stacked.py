"""How long does an epoch of K folds take, trained one by one or stacked into one model?

Trains K folds of a k-fold over random data shaped like the task (``--rows`` trials of 32 x 99,
``kfold_splits(rows, n_folds=--kfold)``, the first ``--folds`` of them) with the library's own
:func:`deap_lib.experiment.engine.train_runs`, once with ``stacked=False`` (one run after the other,
what a CPU does) and once with ``stacked=True`` (the K runs as one
:class:`deap_lib.experiment.stacked.StackedModel`, what a GPU does by default), for the report's DNN
and CNN at their full size and training table (optimizer, batch size; a validation tenth held
out as the honest protocol does; the training accuracy counted while training).

Printed per model: the seconds of one epoch of all K runs (the median over the epochs after the
first, a warm-up; from the records' ``epoch_seconds``: training, evaluation and bookkeeping), the
same per model-epoch, and the speed-up of stacking. On the 2-core CPUs of this project stacking was
measured slower; the point of this script is a GPU.

Usage::

    PYTHONPATH=. python benchmarks/bench_stacked.py [--device cpu|cuda] [--folds 4] [--epochs 3]
        [--models dnn,cnn] [--kfold 32] [--rows 1280] [--threads N] [--precision float32|bfloat16|auto]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from bench_training import random_data  # this folder is on sys.path when run as a script

from deap_lib.experiment import engine
from deap_lib.experiment.settings import ExperimentConfig
from deap_lib.experiment.splits import kfold_splits


def epoch_seconds(results: list, stacked: bool) -> float:
    """Median seconds of one epoch of all the runs, the first (warm-up) epoch left out."""
    if stacked:  # every run of a stack records the stack's epoch
        per_epoch = results[0][0].epoch_seconds
    else:
        per_epoch = [sum(epoch) for epoch in zip(*(record.epoch_seconds for record, _ in results))]
    return statistics.median(per_epoch[1:] or per_epoch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--folds", type=int, default=4, help="runs trained together (K)")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per run, the first a warm-up")
    parser.add_argument("--models", default="dnn,cnn")
    parser.add_argument("--kfold", type=int, default=32, help="folds of the k-fold the runs come from")
    parser.add_argument("--rows", type=int, default=1280, help="trials of the random data set")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (CPU)")
    parser.add_argument("--precision", default="float32", choices=("float32", "bfloat16", "auto"))
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    data = random_data(args.rows, 0, dtype=np.float32, tag="bench-stacked")
    folds = kfold_splits(args.rows, n_folds=args.kfold, seed=12)[: args.folds]
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"{len(folds)} folds of a {args.kfold}-fold over {args.rows} random trials, {args.epochs} epochs, "
          f"on {device} ({name}); torch {torch.__version__}")
    print(f"{'model':<6}{'plain s/epoch':>15}{'stacked s/epoch':>17}{'plain s/model-epoch':>21}"
          f"{'stacked s/model-epoch':>23}{'speed-up':>10}")
    for model in args.models.split(","):
        config = ExperimentConfig(model=model, epochs=args.epochs, precision=args.precision)
        seconds = {}
        for stacked in (False, True):
            start = time.perf_counter()
            results = engine.train_runs(config, data, folds, scheme="kfold", device=device, progress=False,
                                        stacked=stacked)
            assert all((record.stack_size > 1) == stacked for record, _ in results)
            seconds[stacked] = epoch_seconds(results, stacked)
            del results
            if device.type == "cuda":
                torch.cuda.empty_cache()
            print(f"  ({model} {'stacked' if stacked else 'plain'}: {time.perf_counter() - start:.1f} s in all)",
                  flush=True)
        k = len(folds)
        print(f"{model:<6}{seconds[False]:>15.3f}{seconds[True]:>17.3f}{seconds[False] / k:>21.3f}"
              f"{seconds[True] / k:>23.3f}{seconds[False] / seconds[True]:>9.2f}x", flush=True)


if __name__ == "__main__":
    main()
