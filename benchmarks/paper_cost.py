"""The paper profile's cost: its training runs and their projected wall time, from measured epoch times.

    .venv/bin/python benchmarks/paper_cost.py [--measured benchmarks/results/learning_curves.json]
                                              [--profile paper] [--write book/figures/paper_cost.md]

Epoch times come from ``benchmarks/learning_curves.py`` (one core per run, two runs side by side
on a 2-core machine), so one such machine is counted as two slots; N Dask workers of that kind
are 2N slots. Prints a Markdown table (``--write`` also saves it for the reproduce page).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from deap_lib.experiment.settings import MODEL_DEFAULTS, ExperimentConfig, load_profile  # noqa: E402
from deap_lib.report import costs  # noqa: E402

MACHINES = (1, 4, 16, 64)


def table(values: dict, measured: dict) -> str:
    model = costs.epoch_model(measured["runs"])
    rows = costs.profile_runs(values)
    steps: dict[str, list[dict]] = {}
    for row in rows:
        steps.setdefault(row["step"], []).append(row)
    batch = {m: MODEL_DEFAULTS[m]["batch_size"] for m in MODEL_DEFAULTS}
    out = ["| step | runs | epochs | trials fitted per run | optimizer steps | hours on one 2-core machine |",
           "|---|---|---|---|---|---|"]
    for step, group in steps.items():
        runs = sum(r["runs"] for r in group)
        epochs = "/".join(sorted({str(r["epochs"]) for r in group}))
        fit = "/".join(sorted({str(r["fit"]) for r in group}))
        out.append(f"| {step} | {runs} | {epochs} | {fit} | {costs.total_steps(group, batch):,} | "
                   f"{costs.projected_hours(group, model, 2):.1f} |")
    n_runs = sum(r["runs"] for r in rows)
    out.append(f"| **all** | **{n_runs}** | | | **{costs.total_steps(rows, batch):,}** | "
               f"**{costs.projected_hours(rows, model, 2):.1f}** |")
    out += ["", "| where | projected wall time |", "|---|---|"]
    for n in MACHINES:
        hours = costs.projected_hours(rows, model, 2 * n)
        what = "this CPU (one 2-core machine)" if n == 1 else f"{n} Dask workers, each such a machine"
        out.append(f"| {what} | {hours:.1f} h |")
    out.append("| one GPU | not measured (no GPU was available when this table was made) |")
    fit = "; ".join(f"{m.upper()} {a * 1000:.2f} ms per fitted trial and {b * 1000:.2f} ms per evaluated trial"
                    for m, (a, b) in model.items())
    out += ["", f"Epoch model fitted to {len(measured['runs'])} measured runs ({measured.get('machine', '?')}, "
                f"{measured.get('jobs', '?')} runs at a time): {fit}."]
    return "\n".join(out) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--measured", default=str(ROOT / "benchmarks/results/learning_curves.json"))
    p.add_argument("--profile", default="paper")
    p.add_argument("--write", help="also write the table to this file")
    args = p.parse_args(argv)
    defaults = {k: v for k, v in ExperimentConfig().to_dict().items()}
    values = {**defaults, **load_profile(args.profile)}
    text = table(values, json.loads(Path(args.measured).read_text()))
    print(text)
    if args.write:
        Path(args.write).write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
