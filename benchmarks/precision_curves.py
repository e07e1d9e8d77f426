"""Does bfloat16 change what the book concludes? The four fixed-split experiments in float32 and in bfloat16.

For each model and target, on the default twin (seed 12, effect 1, all 32 participants), with the
report's hyperparameters and protocol (all 1180 training trials; the test set evaluated every
epoch), this trains the same training seeds (0, 1, ... ``--seeds``; the same initial weights,
batch order and dropout masks in both precisions) in float32 and in bfloat16 (the library's
``precision`` setting: bf16 weights, activations and gradients, float32 master weights and loss).
Runs are shared out over ``--jobs`` processes of one thread each, as the book runs them; their
per-epoch times are kept (one core with the other busy). ``--plot`` draws the curves side by side
with the seeds' spread, prints the Markdown table of the reproduce page and the verdict, and trains
nothing::

    .venv/bin/python benchmarks/precision_curves.py --epochs 60 --seeds 3 --out benchmarks/results/precision_curves.json
    .venv/bin/python benchmarks/precision_curves.py --plot benchmarks/results/precision_curves.json \
        --figure book/figures/precision_curves.png --table book/figures/precision_curves.md
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

EXPERIMENTS = (("dnn", "valence"), ("cnn", "valence"), ("dnn", "arousal"), ("cnn", "arousal"))
PRECISIONS = ("float32", "bfloat16")


def _run(job: dict) -> dict:
    import torch

    torch.set_num_threads(1)
    from deap_lib.experiment import splits
    from deap_lib.experiment.engine import train_run
    from deap_lib.experiment.settings import load_config

    config = load_config(f"deap_{job['model']}_{job['target']}", epochs=job["epochs"], val_fraction=0.0,
                         precision=job["precision"], train_seed=job["seed"])
    data = config.prepare(progress=False)
    split = splits.fixed_split(len(data.features), n_test=config.n_test, seed=config.seed)
    start = time.perf_counter()
    record, _ = train_run(config, data, split, device="cpu", progress=False)
    s = record.summary
    return {**job, "test_acc": list(record.history.test_acc), "loss": list(record.history.loss),
            "seconds": list(record.epoch_seconds), "wall_s": time.perf_counter() - start,
            "majority": s.majority_baseline, "n_test": s.n_test,
            "last_k": s.last_k.to_json(), "precision_run": record.precision}


def machine() -> str:
    """The processor's name and its native-bf16 flags (Linux), else what ``platform`` knows."""
    from deap_lib.experiment import engine

    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            name = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), name)
    except OSError:
        pass
    flags = sorted(engine._cpu_flags() & engine._BF16_CPU_FLAGS)
    return f"{name}, bf16 flags: {', '.join(flags) or 'none'}"


def measure(args) -> None:
    from joblib import Parallel, delayed

    from deap_lib.experiment.settings import load_config

    load_config("deap_dnn_valence").prepare()  # once, before the workers read the cache
    jobs = [{"model": m, "target": t, "precision": p, "seed": s, "epochs": args.epochs}
            for m, t in EXPERIMENTS for p in PRECISIONS for s in range(args.seeds)]
    jobs.sort(key=lambda j: (j["model"] != "cnn", j["precision"] != "float32"))  # longest first
    start = time.perf_counter()
    results = []
    for r in Parallel(n_jobs=args.jobs, return_as="generator_unordered")(delayed(_run)(j) for j in jobs):
        results.append(r)
        print(f"{r['model']} {r['target']} {r['precision']} seed {r['seed']}: {r['wall_s']:.0f} s "
              f"({np.median(r['seconds']):.2f} s/epoch), last {r['test_acc'][-1]:.1%}, "
              f"last-{r['last_k']['k']} mean {r['last_k']['accuracy']:.1%}, majority {r['majority']:.1%}", flush=True)
        out = {"machine": machine(), "jobs": args.jobs,
               "wall_s": time.perf_counter() - start, "runs": results}
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(args.out).with_suffix(".tmp")
        tmp.write_text(json.dumps(out))
        tmp.replace(args.out)  # after every run: a killed measurement keeps what it finished
    print(f"wrote {args.out} ({time.perf_counter() - start:.0f} s)")


def summary(runs: list[dict]) -> list[dict]:
    """Per experiment and precision: the seeds' last-epoch and last-k figures and best-on-test."""
    from deap_lib.evaluation import summaries

    rows = []
    for m, t in EXPERIMENTS:
        by = {p: [r for r in runs if (r["model"], r["target"], r["precision"]) == (m, t, p)] for p in PRECISIONS}
        if not all(by.values()):
            continue
        for p in PRECISIONS:
            rs = sorted(by[p], key=lambda r: r["seed"])
            last = [r["test_acc"][-1] for r in rs]
            last_k = [r["last_k"]["accuracy"] for r in rs]
            best = [max(r["test_acc"]) for r in rs]
            rows.append({"model": m, "target": t, "precision": p, "seeds": len(rs), "last": last, "last_k": last_k,
                         "best": best, "majority": rs[0]["majority"], "s_per_epoch": float(np.median([np.median(r["seconds"]) for r in rs]))})
        a, b = rows[-2], rows[-1]  # float32, bfloat16
        c = summaries.compare_over_seeds(b["last_k"], a["last_k"])
        b["vs_fp32"] = c
    return rows


def plot(args) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from deap_lib.evaluation import stats

    data = json.loads(Path(args.plot).read_text())
    runs = data["runs"]
    fig, grid = plt.subplots(2, 2, figsize=(7.8, 5.8), layout="constrained", sharex=True, sharey=True)
    colors = {"float32": "tab:blue", "bfloat16": "tab:red"}
    for ax, (m, t) in zip(grid.ravel(), EXPERIMENTS):
        majority = None
        for p in PRECISIONS:
            rs = [r for r in runs if (r["model"], r["target"], r["precision"]) == (m, t, p)]
            if not rs:
                continue
            majority = rs[0]["majority"]
            acc = 100 * np.array([r["test_acc"] for r in rs])
            epochs = np.arange(1, acc.shape[1] + 1)
            ax.fill_between(epochs, acc.min(0), acc.max(0), color=colors[p], alpha=0.18, lw=0)
            ax.plot(epochs, acc.mean(0), color=colors[p], lw=1.6, label=f"{p}, mean of {len(rs)} seeds (band: range)")
        if majority is not None:
            ax.axhline(100 * majority, color="k", ls=":", lw=1)
        ax.set_title(f"{m.upper()} {t}", fontsize=10)
        ax.grid(alpha=0.3)
    for ax in grid[1]:
        ax.set_xlabel("epoch")
    for ax in grid[:, 0]:
        ax.set_ylabel("test accuracy (%)")
    grid[0, 0].legend(fontsize=8.5, loc="lower right")
    Path(args.figure).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.figure, dpi=100)
    print(f"wrote {args.figure}")

    rows = summary(runs)

    def pm(v):
        if len(v) < 2:
            return f"{100 * v[0]:.1f} %"
        return f"{100 * np.mean(v):.1f} ± {100 * np.std(v, ddof=1):.1f} ({100 * min(v):.0f}-{100 * max(v):.0f})"

    n_seeds = sorted({r["seeds"] for r in rows})
    lines = [f"Over {'/'.join(map(str, n_seeds))} training seeds each (mean ± sd (range), percent):", "",
             "| experiment | precision | last 10 epochs' mean | last epoch | best on test (optimistic) | "
             "majority: above it? | bf16 - fp32 (Welch p) |",
             "|---|---|---|---|---|---|---|"]
    same = []
    for r in rows:
        mean, low, _ = stats.mean_ci(r["last_k"])
        above = low > r["majority"]
        c = r.get("vs_fp32")
        diff = "" if c is None else f"{100 * c['difference']:+.1f} ({c['p_value']:.2f})"
        short = {"float32": "fp32", "bfloat16": "bf16"}[r["precision"]]
        lines.append(f"| {r['model'].upper()} {r['target']} | {short} | {pm(r['last_k'])} | "
                     f"{pm(r['last'])} | {pm(r['best'])} | {100 * r['majority']:.1f}: {'yes' if above else 'no'} | {diff} |")
        same.append((r["model"], r["target"], above))
    verdicts = {}
    for m, t, above in same:
        verdicts.setdefault((m, t), []).append(above)
    changed = [f"{m.upper()} {t}" for (m, t), v in verdicts.items() if len(set(v)) > 1]
    if not rows:
        raise SystemExit(f"{args.plot}: no experiment has runs in both precisions yet")
    speed = {m: [r["s_per_epoch"] for r in rows if r["model"] == m] for m in ("dnn", "cnn")}
    lines += ["", ("Verdict: bfloat16 changes no above-chance verdict (t-interval over seeds of the last 10 epochs' "
                   "mean against the majority baseline)." if not changed else
                   "Verdict: bfloat16 changes the above-chance verdict of " + ", ".join(changed) + ".")]
    lines.append("Median epoch, one core: " + "; ".join(
        f"{m.upper()} {np.mean(v[0::2]):.2f} s in float32, {np.mean(v[1::2]):.2f} s in bfloat16"
        for m, v in speed.items() if v) + f" ({data.get('machine')}, {data.get('jobs')} runs at a time).")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.table:
        Path(args.table).write_text(text)
        print(f"wrote {args.table}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--out", default="benchmarks/results/precision_curves.json")
    p.add_argument("--plot", help="a JSON written by a previous run: draw and tabulate it, train nothing")
    p.add_argument("--figure", default="book/figures/precision_curves.png")
    p.add_argument("--table", help="also write the Markdown table here")
    args = p.parse_args()
    plot(args) if args.plot else measure(args)


if __name__ == "__main__":
    main()
