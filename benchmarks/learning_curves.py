"""Learning curves on the default twin: how many epochs do the models need before they have learned?

The quick profile (``deap_lib/profiles/quick.yml``) is chosen from these curves, not from the clock
alone. For each model and target this trains, on the default twin (seed 12, effect 1, all 32
participants), with the report's hyperparameters:

- ``fixed/report``: the report's protocol on the fixed split (all 1180 training trials, the test set
  evaluated every epoch): the best-on-test and last-epoch figures come from this run;
- ``fixed/honest``: the same with 10 % of the training trials held out as a validation set, which
  chooses the epoch without looking at the test set;
- (valence only) one fold of each cross-validation scheme the book uses: a fold of the report's
  32-fold random k-fold (1240 training trials), one leave-one-subject-out fold (participant chosen
  with the profile's seed, validation participants held out), and one half of the 5x2cv design
  (640 training trials).

Runs are shared out over ``--jobs`` processes of one thread each (as the book's cross-validation
runs them), so the per-epoch times are those of one core with the other core busy. Everything is
written to a JSON file; ``--plot`` then draws the figure and prints the Markdown table used on the
book's reproduce page without training again::

    .venv/bin/python benchmarks/learning_curves.py --dnn-epochs 100 --cnn-epochs 80 \
        --out benchmarks/results/learning_curves.json
    .venv/bin/python benchmarks/learning_curves.py --plot benchmarks/results/learning_curves.json \
        --figure book/figures/learning_curves.png
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np


def _jobs(dnn_epochs: int, cnn_epochs: int) -> list[dict]:
    jobs = []
    for model, epochs in (("dnn", dnn_epochs), ("cnn", cnn_epochs)):
        for target in ("valence", "arousal"):
            for kind, val in (("report", 0.0), ("honest", 0.1)):
                jobs.append({"model": model, "target": target, "scheme": "fixed", "kind": kind, "val": val, "epochs": epochs})
        for scheme, val in (("kfold32", 0.0), ("loso", 0.1), ("5x2", 0.0)):
            jobs.append({"model": model, "target": "valence", "scheme": scheme, "kind": "report" if val == 0 else "honest",
                         "val": val, "epochs": epochs})
    return jobs


def _run(job: dict) -> dict:
    import torch

    torch.set_num_threads(1)
    from deap_lib.experiment import splits
    from deap_lib.experiment.engine import train_run
    from deap_lib.experiment.settings import load_config

    config = load_config(f"deap_{job['model']}_{job['target']}", epochs=job["epochs"], val_fraction=job["val"])
    data = config.prepare(progress=False)
    n = len(data.features)
    if job["scheme"] == "fixed":
        split = splits.fixed_split(n, n_test=config.n_test, seed=config.seed)
    elif job["scheme"] == "kfold32":
        split = splits.kfold_splits(n, n_folds=32, seed=config.seed)[0]
    elif job["scheme"] == "loso":
        split = splits.loso_splits(data.participant, holdout=1, seed=config.seed)[0]
    else:
        split = splits.five_by_two_splits(n, seed=config.seed)[0][0]
    start = time.perf_counter()
    record, _ = train_run(config, data, split, scheme=job["scheme"], device="cpu", progress=False)
    h = record.history
    return {**job, "n_train": len(record.fit), "n_val": len(record.val),
            "n_test": len(record.y_test), "test_acc": list(h.test_acc), "val_acc": list(h.val_acc),
            "seconds": list(record.epoch_seconds), "wall_s": time.perf_counter() - start,
            "majority": record.summary.majority_baseline}


def measure(args) -> None:
    from joblib import Parallel, delayed

    from deap_lib.experiment.settings import load_config

    load_config("deap_dnn_valence").prepare()  # once, before the workers read the cache
    jobs = sorted(_jobs(args.dnn_epochs, args.cnn_epochs), key=lambda j: -j["epochs"] * (2 if j["model"] == "cnn" else 1))
    start = time.perf_counter()
    results = []
    for r in Parallel(n_jobs=args.jobs, return_as="generator_unordered")(delayed(_run)(j) for j in jobs):
        results.append(r)
        print(f"{r['model']} {r['target']} {r['scheme']}/{r['kind']}: {r['wall_s']:.0f} s "
              f"({np.median(r['seconds']):.2f} s/epoch), last {r['test_acc'][-1]:.1%}, majority {r['majority']:.1%}",
              flush=True)
    out = {"machine": platform.processor() or platform.machine(), "jobs": args.jobs,
           "wall_s": time.perf_counter() - start, "runs": results}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out))
    print(f"wrote {args.out} ({out['wall_s']:.0f} s)")


def smooth(values, width: int = 5) -> np.ndarray:
    """Trailing moving average (what a reader sees through the epoch-to-epoch jumps)."""
    v = np.asarray(values, dtype=float)
    return np.array([v[max(0, i - width + 1) : i + 1].mean() for i in range(len(v))])


def plot(args) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = json.loads(Path(args.plot).read_text())
    runs = data["runs"]
    schemes = [("fixed", "report"), ("fixed", "honest"), ("kfold32", "report"), ("loso", "honest"), ("5x2", "report")]
    titles = {("fixed", "report"): "fixed split, report's protocol\n(1180 trials)",
              ("fixed", "honest"): "fixed split,\n10 % validation held out",
              ("kfold32", "report"): "one fold of the 32-fold\nk-fold (1240 trials)",
              ("loso", "honest"): "one leave-one-subject-out\nfold",
              ("5x2", "report"): "one half of 5x2cv\n(640 trials)"}
    fig, grid = plt.subplots(2, 3, figsize=(7.8, 6.4), layout="constrained")
    axes = grid.ravel()[: len(schemes)]
    colors = {("dnn", "valence"): "tab:blue", ("dnn", "arousal"): "tab:cyan",
              ("cnn", "valence"): "tab:orange", ("cnn", "arousal"): "tab:red"}
    for ax, key in zip(axes, schemes):
        for r in runs:
            if (r["scheme"], r["kind"]) != key:
                continue
            c = colors[r["model"], r["target"]]
            epochs = np.arange(1, len(r["test_acc"]) + 1)
            ax.plot(epochs, 100 * smooth(r["test_acc"]), color=c, lw=1.6, label=f"{r['model'].upper()} {r['target']}")
            ax.axhline(100 * r["majority"], color=c, ls=":", lw=1)
        if args.chosen:
            ax.axvline(args.chosen, color="k", lw=0.8, ls="--")
        ax.set_title(titles[key], fontsize=9.5)
        ax.set_xlabel("epoch")
        ax.set_ylim(20, 90)
        ax.grid(alpha=0.3)
    for ax in grid[:, 0]:
        ax.set_ylabel("test accuracy (%), 5-epoch mean")
    axes[0].legend(fontsize=9, loc="lower right")
    cost = grid.ravel()[-1]  # what an epoch costs, per run
    fixed = [r for r in runs if (r["scheme"], r["kind"]) == ("fixed", "report")]
    names = [f"{r['model'].upper()} {r['target']}" for r in fixed]
    cost.barh(names, [np.median(r["seconds"]) for r in fixed], color=[colors[r["model"], r["target"]] for r in fixed])
    cost.set_xlabel("s per epoch, one core")
    cost.set_title("cost of an epoch", fontsize=9.5)
    cost.grid(alpha=0.3, axis="x")
    Path(args.figure).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.figure, dpi=100)
    print(f"wrote {args.figure}")
    print("| model | target | run | training trials | s/epoch (1 core) | epochs | majority | last epoch | best (on test) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in sorted(runs, key=lambda r: (r["model"], r["target"], r["scheme"], r["kind"])):
        print(f"| {r['model'].upper()} | {r['target']} | {r['scheme']} / {r['kind']} | {r['n_train']} | "
              f"{np.median(r['seconds']):.2f} | {len(r['test_acc'])} | {r['majority']:.1%} | "
              f"{r['test_acc'][-1]:.1%} | {max(r['test_acc']):.1%} |")
    print(f"\nall runs: {data['wall_s']:.0f} s wall over {data['jobs']} processes")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dnn-epochs", type=int, default=100)
    p.add_argument("--cnn-epochs", type=int, default=80)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--out", default="benchmarks/results/learning_curves.json")
    p.add_argument("--plot", help="a JSON written by a previous run: draw and tabulate it, train nothing")
    p.add_argument("--figure", default="book/figures/learning_curves.png")
    p.add_argument("--chosen", type=int, default=60, help="mark the quick profile's epochs (0: no mark)")
    args = p.parse_args()
    plot(args) if args.plot else measure(args)


if __name__ == "__main__":
    main()
