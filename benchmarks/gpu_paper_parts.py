"""Time the paper profile's parts on one GPU in one call (a few minutes), and project the whole profile from them.

Run on a machine with CUDA, from the repository root::

    .venv/bin/python benchmarks/gpu_paper_parts.py [--device cuda] [--epochs 3] [--out benchmarks/results/gpu_parts.json]

For each model (DNN, CNN) and precision (float32; bfloat16 where :func:`deap_lib.experiment.engine.native_bf16`
holds, or asked for with ``--precisions``), on random data shaped like the task, it times with the library's
one loop (:func:`deap_lib.experiment.engine.train_runs`):

- one fixed-split run (1180 fitted trials, 100 tested; the report's batch sizes);
- one stack of ``--stack`` 32-fold folds (1240 fitted trials each) trained as one stacked model, the
  engine's default on CUDA.

Each is the median of ``--epochs`` epochs after one warm-up epoch. From them the paper profile's
runs (:func:`deap_lib.report.costs.profile_runs`) are scheduled as the engine would run them on this
one device, stacked where their shapes agree. The projection is printed as such, never as a
measurement of the whole profile. ``--device cpu --epochs 1 --stack 2 --tiny`` runs the same script on a
CPU, on tiny models: a check that the script still works, not a measurement.

Precision on CUDA: the same ``precision`` setting as on the CPU (bf16 weights and activations,
float32 master weights and loss), not TF32: one bf16 arithmetic on both kinds of device, and
float32 stays IEEE float32 (PyTorch leaves TF32 matmuls off by default).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from bench_training import random_data  # noqa: E402
from deap_lib.experiment import engine  # noqa: E402
from deap_lib.experiment.settings import ExperimentConfig, load_profile  # noqa: E402
from deap_lib.experiment.splits import Split  # noqa: E402
from deap_lib.report import costs  # noqa: E402


def time_part(model: str, precision: str, splits: list[Split], data, args, model_kwargs: dict) -> float:
    """Median seconds of one epoch of ``len(splits)`` runs trained together (stacked when more than one)."""
    config = ExperimentConfig(model=model, epochs=1 + args.epochs, val_fraction=0.0, n_test=len(splits[0].test),
                              precision=precision, model_kwargs=model_kwargs)
    out = engine.train_runs(config, data, splits, device=args.device, progress=False, stacked=len(splits) > 1)
    if args.device.startswith("cuda"):
        torch.cuda.synchronize()
    return statistics.median(out[0][0].epoch_seconds[1:])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cuda")
    p.add_argument("--epochs", type=int, default=3, help="timed epochs per part (after one warm-up)")
    p.add_argument("--stack", type=int, default=8, help="folds in the timed stack")
    p.add_argument("--precisions", default=None, help="comma-separated; default float32 and, where native, bfloat16")
    p.add_argument("--profile", default="paper")
    p.add_argument("--tiny", action="store_true", help="tiny models (a smoke test of this script, e.g. on a CPU)")
    p.add_argument("--out", default=None, help="also write the figures as JSON")
    args = p.parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("error: --device cuda, but this torch sees no CUDA device (torch.cuda.is_available() is False); "
              "run on a GPU machine, or pass --device cpu", file=sys.stderr)
        return 2
    precisions = args.precisions.split(",") if args.precisions else \
        ["float32"] + (["bfloat16"] if engine.native_bf16(args.device) else [])
    kwargs = {"dnn": {"hidden": (64, 32)}, "cnn": {"conv_channels": (2, 4), "hidden": 8}} if args.tiny else {"dnn": {}, "cnn": {}}
    name = torch.cuda.get_device_name(args.device) if args.device.startswith("cuda") else platform.processor() or "cpu"
    print(f"torch {torch.__version__} on {name} ({args.device}); precisions {precisions}")
    data = random_data(1280, 0)
    fixed = Split("fixed", np.arange(1180), np.arange(1180, 1280))
    folds = [Split(f"fold {i}", np.delete(np.arange(1280), np.arange(40 * i, 40 * i + 40)), np.arange(40 * i, 40 * i + 40))
             for i in range(args.stack)]
    start = time.perf_counter()
    measured = {}
    for model in ("dnn", "cnn"):
        for precision in precisions:
            one = time_part(model, precision, [fixed], data, args, kwargs[model])
            stack = time_part(model, precision, folds, data, args, kwargs[model])
            measured[model, precision] = {"fixed_epoch_s": one, "stack_epoch_s": stack, "stack": args.stack}
            print(f"{model.upper()} {precision}: fixed-split epoch {one:.3f} s; a stack of {args.stack} folds "
                  f"{stack:.3f} s per epoch ({stack / args.stack:.3f} s per fold)", flush=True)
    values = load_profile(args.profile)
    rows = costs.profile_runs(values)
    print(f"\nmeasured in {time.perf_counter() - start:.0f} s. Projection of the {args.profile} profile "
          f"({sum(r['runs'] for r in rows)} runs) from these epochs, on this one device:")
    for precision in precisions:
        seconds = 0.0
        for r in rows:
            m = measured[r["model"], precision]
            # per fitted trial, from the fixed run (alone) or the stack's share (many runs of one shape)
            per_trial = (m["stack_epoch_s"] / m["stack"] / 1240) if r["runs"] > 1 else m["fixed_epoch_s"] / 1180
            seconds += r["runs"] * r["epochs"] * per_trial * r["fit"]
        print(f"  {precision}: about {seconds / 3600:.1f} h (projected, not measured)")
    if args.out:
        Path(args.out).write_text(json.dumps({"device": name, "torch": torch.__version__,
                                              "parts": {f"{m} {p}": v for (m, p), v in measured.items()}}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
