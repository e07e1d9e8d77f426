"""The paper profile's cost: its training runs and their projected wall time, from measured epoch times, in each precision.

    .venv/bin/python benchmarks/paper_cost.py [--measured benchmarks/results/learning_curves.json]
        [--precision-runs benchmarks/results/precision_curves.json] [--profile paper]
        [--write book/figures/paper_cost.md]

float32 epoch times come from ``benchmarks/learning_curves.py`` (one core per run, two runs side by
side on a 2-core machine), so one such machine is counted as two slots; N Dask workers of that
kind are 2N slots. bfloat16 epochs are the float32 ones times the ratio of median bf16 to fp32
epochs measured per model by ``benchmarks/precision_curves.py`` (the same experiments and seeds,
one core per run; its file says on which machine). Prints a Markdown table (``--write`` also saves
it for the reproduce page).
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from deap_lib.experiment.settings import MODEL_DEFAULTS, ExperimentConfig, load_profile  # noqa: E402
from deap_lib.report import costs  # noqa: E402

MACHINES = (1, 4, 16, 64)


def bf16_ratio(precision_runs: dict) -> dict[str, float]:
    """Per model, the median bf16 epoch over the median fp32 epoch of the same runs."""
    out = {}
    for m in ("dnn", "cnn"):
        med = {p: np.median([np.median(r["seconds"]) for r in precision_runs["runs"]
                             if r["model"] == m and r["precision"] == p]) for p in ("float32", "bfloat16")}
        out[m] = float(med["bfloat16"] / med["float32"])
    return out


def table(values: dict, measured: dict, ratio: dict[str, float] | None = None, machine: str = "") -> str:
    model = costs.epoch_model(measured["runs"])
    bf16 = None if ratio is None else {m: (a * ratio[m], b * ratio[m]) for m, (a, b) in model.items()}
    rows = costs.profile_runs(values)
    steps: dict[str, list[dict]] = {}
    for row in rows:
        steps.setdefault(row["step"], []).append(row)
    batch = {m: MODEL_DEFAULTS[m]["batch_size"] for m in MODEL_DEFAULTS}
    hours_bf16 = " bf16 hours |" if bf16 else ""
    out = [f"| step | runs | epochs | trials fitted per run | optimizer steps | fp32 hours on one 2-core machine |{hours_bf16}",
           "|---|---|---|---|---|---|" + ("---|" if bf16 else "")]
    for step, group in steps.items():
        runs = sum(r["runs"] for r in group)
        epochs = "/".join(sorted({str(r["epochs"]) for r in group}))
        fit = "/".join(sorted({str(r["fit"]) for r in group}))
        extra = f" {costs.projected_hours(group, bf16, 2):.1f} |" if bf16 else ""
        out.append(f"| {step} | {runs} | {epochs} | {fit} | {costs.total_steps(group, batch):,} | "
                   f"{costs.projected_hours(group, model, 2):.1f} |{extra}")
    n_runs = sum(r["runs"] for r in rows)
    extra = f" **{costs.projected_hours(rows, bf16, 2):.1f}** |" if bf16 else ""
    out.append(f"| **all** | **{n_runs}** | | | **{costs.total_steps(rows, batch):,}** | "
               f"**{costs.projected_hours(rows, model, 2):.1f}** |{extra}")
    out += ["", "| where | projected wall time, float32 |" + (" bfloat16 |" if bf16 else ""),
            "|---|---|" + ("---|" if bf16 else "")]
    for n in MACHINES:
        hours = costs.projected_hours(rows, model, 2 * n)
        what = "one 2-core machine" if n == 1 else f"{n} Dask workers, each such a machine"
        extra = f" {costs.projected_hours(rows, bf16, 2 * n):.1f} h |" if bf16 else ""
        out.append(f"| {what} | {hours:.1f} h |{extra}")
    out.append("| one GPU | not measured (no GPU was available when this table was made; "
               "`benchmarks/gpu_paper_parts.py` measures it) |" + (" not measured |" if bf16 else ""))
    fit = "; ".join(f"{m.upper()} {a * 1000:.2f} ms per fitted trial and {b * 1000:.2f} ms per evaluated trial"
                    for m, (a, b) in model.items())
    out += ["", f"float32 epoch model fitted to {len(measured['runs'])} measured runs ({measured.get('machine', '?')}, "
                f"{measured.get('jobs', '?')} runs at a time): {fit}."]
    if ratio:
        out.append("bfloat16: those epochs times the measured bf16/fp32 ratio of median epochs, "
                   + ", ".join(f"{m.upper()} {r:.2f}" for m, r in ratio.items()) + f" ({machine}).")
    return "\n".join(out) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--measured", default=str(ROOT / "benchmarks/results/learning_curves.json"))
    p.add_argument("--precision-runs", default=str(ROOT / "benchmarks/results/precision_curves.json"),
                   help="benchmarks/precision_curves.py's file, for the bf16/fp32 ratio (none: fp32 only)")
    p.add_argument("--profile", default="paper")
    p.add_argument("--write", help="also write the table to this file")
    args = p.parse_args(argv)
    defaults = {k: v for k, v in ExperimentConfig().to_dict().items()}
    values = {**defaults, **load_profile(args.profile)}
    ratio, machine = None, ""
    if args.precision_runs and Path(args.precision_runs).exists():
        runs = json.loads(Path(args.precision_runs).read_text())
        ratio, machine = bf16_ratio(runs), f"{runs.get('machine', '?')}, {runs.get('jobs', '?')} runs at a time"
    text = table(values, json.loads(Path(args.measured).read_text()), ratio, machine)
    print(text)
    if args.write:
        Path(args.write).write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
