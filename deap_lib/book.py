"""Building the book: profiles, chapter parameters, page headers, papermill execution.

A *profile* (``smoke``, ``quick``, ``paper``; YAML files in ``deap_lib/profiles``) sets every
chapter parameter a notebook leaves at ``None``. ``python -m deap_lib book --profile quick``
executes every chapter in order with papermill into ``book/chapters/`` and then runs
``jupyter-book build book -W -n --keep-going``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

PROFILE_DIR = Path(__file__).parent / "profiles"
#: Profile of a chapter whose ``profile`` parameter is None (nbval cannot pass parameters).
PROFILE_ENV = "DEAP_LIB_PROFILE"
CHAPTERS = ("01_data", "02_dnn", "03_cnn", "04_fixed_split", "05_kfold")
#: The parameters a profile may set (anything else in a profile file is an error).
PROFILE_KEYS = ("profile", "participants", "n_test", "epochs", "cv_epochs", "n_folds", "five_by_two_epochs", "n_jobs")


def load_profile(name: str) -> dict:
    """The parameters of a profile (``smoke``, ``quick``, ``paper``, or a YAML path)."""
    path = Path(name) if str(name).endswith((".yml", ".yaml")) else PROFILE_DIR / f"{name}.yml"
    if not path.exists():
        names = sorted(p.stem for p in PROFILE_DIR.glob("*.yml"))
        raise FileNotFoundError(f"no profile {name!r}; available: {names}")
    values = yaml.safe_load(path.read_text()) or {}
    unknown = sorted(set(values) - set(PROFILE_KEYS))
    if unknown:
        raise ValueError(f"{path}: unknown profile key(s) {unknown}; allowed: {list(PROFILE_KEYS)}")
    return values


def settings(namespace: dict) -> dict:
    """A chapter's settings: its parameters cell, with ``None`` filled in from its profile.

    ``namespace`` is the notebook's ``globals()``; only names that are profile keys or
    experiment-config fields are read, so a chapter's other variables never leak in.
    """
    from deap_lib.training import ExperimentConfig

    fields = set(ExperimentConfig.__dataclass_fields__) | set(PROFILE_KEYS)
    profile = load_profile(namespace.get("profile") or os.environ.get(PROFILE_ENV) or "quick")
    out = {k: v for k, v in profile.items()}
    out.update({k: v for k, v in namespace.items() if k in fields and v is not None})
    return out


def experiment_config(values: dict, **changes):
    """The :class:`~deap_lib.training.ExperimentConfig` named by a chapter's settings."""
    from deap_lib.training import ExperimentConfig

    fields = ExperimentConfig.__dataclass_fields__
    return ExperimentConfig.from_dict({**{k: v for k, v in values.items() if k in fields}, **changes})


def page_header(values: dict, data) -> "object":
    """The box at the top of every chapter: data source, profile, library versions."""
    from IPython.display import Markdown

    from deap_lib.training import versions

    profile = values.get("profile")
    reduced = {
        "smoke": " **Smoke profile: a tiny run that only shows the chapter executes; its numbers mean nothing.**",
        "quick": " Quick profile: fewer epochs and folds than the report (stated where they matter).",
        "paper": " Paper profile: the report's settings.",
    }.get(profile, "")
    v = versions()
    describe = data.source.describe().replace("not DEAP results", "**not DEAP results**")
    return Markdown(
        f":::{{note}}\n**Data:** {describe}; {len(data.features)} trials, "
        f"identity `{data.identity}`.\n\n**Profile:** `{profile}`.{reduced}\n\n"
        f"**Versions:** deap_lib {v['deap_lib']}, torch {v['torch']}, numpy {v['numpy']}, "
        f"scikit-learn {v['scikit-learn']}, Python {v['python']}.\n:::"
    )


def execute_chapters(
    profile: str = "quick",
    *,
    notebooks: str | os.PathLike = "notebooks",
    out: str | os.PathLike = "book/chapters",
    chapters: tuple[str, ...] = CHAPTERS,
    parameters: dict | None = None,
) -> dict[str, float]:
    """Execute the chapters in order with papermill; return each one's wall time in seconds.

    Only the parameters a notebook declares are passed to it. ``.ipynb`` files are made from
    the jupytext ``.py`` sources when missing or older.
    """
    import jupytext
    import papermill

    load_profile(profile)  # fail early on a bad name
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    times = {}
    for name in chapters:
        src = Path(notebooks) / f"{name}.py"
        ipynb = Path(notebooks) / f"{name}.ipynb"
        if src.exists() and (not ipynb.exists() or ipynb.stat().st_mtime < src.stat().st_mtime):
            jupytext.write(jupytext.read(src), ipynb)
        declared = papermill.inspect_notebook(str(ipynb))
        params = {"profile": profile, **(parameters or {})}
        params = {k: v for k, v in params.items() if k in declared}
        start = time.perf_counter()
        print(f"executing {name} (profile {profile}) ...", file=sys.stderr, flush=True)
        papermill.execute_notebook(
            str(ipynb), str(out / f"{name}.ipynb"), parameters=params, progress_bar=False,
            cwd=str(out),
        )
        _hide_injected_parameters(out / f"{name}.ipynb")
        times[name] = time.perf_counter() - start
        print(f"  {name}: {times[name]:.0f} s", file=sys.stderr, flush=True)
    return times


def _hide_injected_parameters(path: Path) -> None:
    """Collapse papermill's injected-parameters cell in the book (shown on click)."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        tags = cell.metadata.setdefault("tags", [])
        if "injected-parameters" in tags and "hide-cell" not in tags:
            tags.append("hide-cell")
    nbformat.write(nb, path)


def build(book_dir: str | os.PathLike = "book") -> None:
    """``jupyter-book build`` with warnings as errors (a missing chapter is otherwise only a warning)."""
    exe = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(exe) if exe.exists() else "jupyter-book", "build", str(book_dir), "-W", "-n", "--keep-going"]
    subprocess.run(cmd, check=True)


def md_table(rows: list[dict], columns: list[str] | None = None) -> "object":
    """A list of dicts as a Markdown table (renders in the notebook and in the book)."""
    from IPython.display import Markdown

    columns = columns or list(rows[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(r.get(c, "")) for c in columns) + " |" for r in rows]
    return Markdown("\n".join(lines))


def layer_rows(model, input_shape=(1, 32, 99)) -> list[dict]:
    """Each leaf layer of ``model`` with its output shape and trainable parameters (from a forward pass)."""
    import torch

    rows, hooks = [], []
    for name, module in model.named_modules():
        if not list(module.children()):
            def hook(mod, _inp, out, name=name):
                rows.append({
                    "layer": name, "type": type(mod).__name__,
                    "output": "x".join(map(str, tuple(out.shape)[1:])),
                    "parameters": f"{sum(p.numel() for p in mod.parameters() if p.requires_grad):,}",
                })
            hooks.append(module.register_forward_hook(hook))
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(input_shape))
    finally:
        for h in hooks:
            h.remove()
    return rows


def config_rows(config) -> list[dict]:
    """The hyperparameters of an experiment as table rows."""
    keys = ("model", "target", "seed", "epochs", "batch_size", "optimizer", "lr", "momentum", "n_test", "val_fraction")
    rows = [{"parameter": k, "value": getattr(config, k)} for k in keys]
    rows += [{"parameter": k, "value": v} for k, v in config.model_kwargs.items()]
    return rows


def _pct(x) -> str:
    return "" if x is None else f"{x:.1%}"


def fixed_split_rows(records: dict) -> list[dict]:
    """One row per (model, target) run on the fixed split: the report's figure beside honest ones."""
    from deap_lib import report, stats

    rows = []
    for (model, target), record in records.items():
        s = record["summary"]
        n = s["n_test"]

        def with_ci(fig):
            if fig is None:
                return ""
            low, high = stats.wilson_interval(round(fig["accuracy"] * n), n)
            return f"{fig['accuracy']:.1%} ({low:.1%}-{high:.1%}) @{fig['epoch']}"

        rep = report.FIXED_SPLIT.get((model, target))
        rows.append({
            "model": model.upper(), "target": target,
            "best epoch on test (as reported, optimistic)": with_ci(s["as_reported"]),
            "last epoch": with_ci(s["last"]),
            "validation-chosen epoch": with_ci(s["val_chosen"]),
            "majority baseline": _pct(s["majority_baseline"]),
            "report (DEAP, best epoch)": _pct(rep["as_reported"]) if rep else "not reported",
        })
    return rows


def cv_rows(records: dict, reported: dict | None = None) -> list[dict]:
    """One row per (model, target) cross-validation: last-epoch mean over folds with its interval."""
    import numpy as np

    from deap_lib import stats

    rows = []
    for (model, target), recs in records.items():
        acc = np.array([r["summary"]["last"]["accuracy"] for r in recs])
        mean, low, high = stats.mean_ci(acc)
        base = np.mean([r["summary"]["majority_baseline"] for r in recs])
        rep = (reported or {}).get((model, target))
        rows.append({
            "model": model.upper(), "target": target, "folds": len(acc),
            "mean accuracy (95 % CI)": f"{mean:.1%} ({low:.1%}-{high:.1%})",
            "fold range": f"{acc.min():.1%}-{acc.max():.1%}",
            "majority baseline": _pct(base),
            "report (DEAP, 32 folds)": _pct(rep) if rep is not None else "not reported",
        })
    return rows
