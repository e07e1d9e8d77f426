"""What the chapters compute and show: profiles, chapter parameters, page headers, tables, notes.

A *profile* (``smoke``, ``quick``, ``paper``; YAML files in ``deap_lib/profiles``) sets every
chapter parameter a notebook leaves at ``None``. Executing the chapters and building the book is
:mod:`deap_lib.driver`'s job.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import yaml

from deap_lib.schema import EXPERIMENTS, SETTINGS, ParameterError, check

PROFILE_DIR = Path(__file__).parent / "profiles"
#: Profile of a chapter whose ``profile`` parameter is None (nbval cannot pass parameters).
PROFILE_ENV = "DEAP_LIB_PROFILE"
CHAPTERS = ("01_data", "02_dnn", "03_cnn", "04_fixed_split", "05_kfold", "06_honest")
#: The parameters a profile may set (anything else in a profile file is an error).
PROFILE_KEYS = (
    "profile", "participants", "n_test", "epochs", "val_fraction", "cv_experiments", "cv_epochs", "n_folds", "kfold_holdout",
    "five_by_two_epochs", "n_jobs", "loso_epochs", "loso_holdout", "n_permutations", "control_effect",
)


def load_profile(name: str) -> dict:
    """The parameters of a profile (``smoke``, ``quick``, ``paper``, or a YAML path)."""
    path = Path(name) if str(name).endswith((".yml", ".yaml")) else PROFILE_DIR / f"{name}.yml"
    if not path.exists():
        names = sorted(p.stem for p in PROFILE_DIR.glob("*.yml"))
        raise FileNotFoundError(f"no profile {name!r}; available: {names}")
    values = yaml.safe_load(path.read_text()) or {}
    if not isinstance(values, dict):
        raise ParameterError(f"{path}: expected a mapping of setting: value, got {type(values).__name__}")
    return check(values, allowed=PROFILE_KEYS, where=str(path))


def settings(namespace: dict) -> dict:
    """A chapter's settings: its parameters cell, with ``None`` filled in from its profile.

    ``namespace`` is the notebook's ``globals()``; only names that are profile keys or
    experiment-config fields are read, so a chapter's other variables never leak in. Every value
    is checked here, before any work: a bad one raises :class:`ParameterError`, which a notebook
    shows as one line naming the parameter and what is allowed.
    """
    from deap_lib.training import ExperimentConfig

    _one_line_errors()
    fields = set(SETTINGS)
    try:
        profile = load_profile(namespace.get("profile") or os.environ.get(PROFILE_ENV) or "quick")
        out = {k: v for k, v in profile.items()}
        out.update(check({k: v for k, v in namespace.items() if k in fields and v is not None}))
        experiment_config(out)  # the experiment's own checks (model_kwargs against the model)
    except (ValueError, FileNotFoundError) as err:
        raise ParameterError(f"{err} (chapter parameters: see the notebook's parameters cell)") from None
    return out


def _one_line_errors() -> None:
    """In IPython (a notebook, papermill), show a :class:`ParameterError` as one line, not a traceback."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return

    def one_line(shell, etype, value, tb, tb_offset=None):
        text = f"{etype.__name__}: {value}"
        shell._showtraceback(etype, value, [text])
        return [text]

    shell.set_custom_exc((ParameterError,), one_line)


def cv_experiments(values: dict) -> list[tuple[str, str]]:
    """The (model, target) experiments the cross-validation chapters run: the profile's
    ``cv_experiments`` (e.g. ``["dnn valence", "cnn valence"]``), or all four when it is None."""
    chosen = check({"cv_experiments": values.get("cv_experiments")})["cv_experiments"]
    return list(EXPERIMENTS) if chosen is None else [tuple(e.split()) for e in chosen]


def reduced_note(values: dict, what: str, ran: list, of: list, why: str) -> "object | None":
    """A note saying which part of a scheme this build ran, when it ran less than all of it."""
    from IPython.display import Markdown

    if len(ran) == len(of):
        return None
    return Markdown(f":::{{admonition}} Reduced: {len(ran)} of the {len(of)} {what}\n:class: note\n"
                    f"The `{values['profile']}` profile runs {', '.join(map(str, ran))}. {why}\n:::")


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
        "quick": " Quick profile: fewer epochs, folds and participants than the report, chosen from measured "
                 "learning curves so that the models learn within the build's time (see "
                 "[How to reproduce](../reproduce)); every reduction is stated where it matters.",
        "paper": " Paper profile: the report's settings.",
    }.get(profile, "")
    v = versions()
    describe = data.source.describe().replace("not DEAP results", "**not DEAP results**")
    nonfinite = data.nonfinite_note()
    nonfinite = f" **{nonfinite}**" if nonfinite else ""
    return Markdown(
        f":::{{note}}\n**Data:** {describe}; {len(data.features)} trials, "
        f"identity `{data.identity}`.{nonfinite}\n\n**Profile:** `{profile}`.{reduced}\n\n"
        f"**Versions:** deap_lib {v['deap_lib']}, torch {v['torch']}, numpy {v['numpy']}, "
        f"scikit-learn {v['scikit-learn']}, Python {v['python']}.\n:::"
    )


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


def fixed_split_rows(pairs: dict) -> list[dict]:
    """One row per (model, target) on the fixed split: the report's figure beside honest ones.

    ``pairs``: ``{(model, target): run_fixed(...) item}``. Honest figures carry a Wilson 95 %
    interval; the best-on-test figure does not, because an interval around a maximum over epochs
    chosen on the same trials is not a valid confidence interval.
    """
    from deap_lib import report, stats

    rows = []
    for (model, target), pair in pairs.items():
        s = pair["summary"]
        n = s["n_test"]

        def with_ci(fig):
            if fig is None:
                return "not run"
            low, high = stats.wilson_interval(round(fig["accuracy"] * n), n)
            return f"{fig['accuracy']:.1%} ({low:.0%}-{high:.0%}), ep. {fig['epoch']}"

        rep = report.FIXED_SPLIT.get((model, target))
        rows.append({
            "experiment": f"{model.upper()} {target}",
            "best on test": f"{s['as_reported']['accuracy']:.1%}, ep. {s['as_reported']['epoch']}",
            "last epoch": with_ci(s["last"]),
            "validation-chosen": with_ci(s["val_chosen"]),
            "majority": _pct(s["majority_baseline"]),
            "report (DEAP)": _pct(rep["as_reported"]) if rep else "-",
        })
    return rows


def headline_fixed(pairs: dict) -> str:
    """The fixed-split figures as plain text lines: what a notebook executed outside the book shows."""
    lines = []
    for (model, target), pair in pairs.items():
        s = pair["summary"]
        vc = f"{s['val_chosen']['accuracy']:.1%} (epoch {s['val_chosen']['epoch']})" if s["val_chosen"] else "not run"
        lines.append(f"{model.upper()} {target}, fixed split, {pair['config'].epochs} epochs: best on test "
                     f"{s['as_reported']['accuracy']:.1%} (epoch {s['as_reported']['epoch']}; optimistic), last epoch "
                     f"{s['last']['accuracy']:.1%}, validation-chosen {vc}, majority baseline {s['majority_baseline']:.1%}")
    return "\n".join(lines)


def headline_folds(runs: dict, which: str, scheme: str) -> str:
    """Cross-validation figures (mean and range of the folds' ``which`` figure) as plain text lines."""
    import numpy as np

    lines = []
    for (model, target), recs in runs.items():
        acc = np.array([(r["summary"][which] or r["summary"]["last"])["accuracy"] for r in recs])
        base = float(np.mean([r["summary"]["majority_baseline"] for r in recs]))
        lines.append(f"{model.upper()} {target}, {scheme}, {len(recs)} folds of {recs[0]['config']['epochs']} epochs: "
                     f"mean {acc.mean():.1%} (folds {acc.min():.1%}-{acc.max():.1%}), majority baseline {base:.1%}")
    return "\n".join(lines)


def balance_rows(data, records: list[dict]) -> list[dict]:
    """Class balance (high / low) of the training and test trials of each run's split, as the report printed."""
    from deap_lib import splits

    rows, seen = [], set()
    for r in records:
        target = r["config"]["target"]
        if (r["split"]["name"], target) in seen:  # the same split and labels (another model): shown once
            continue
        seen.add((r["split"]["name"], target))
        split = splits.Split.from_dict(r["split"])
        b = splits.class_balance(data.labels(target), split)
        rows.append({
            "split": split.name, "target": target,
            "train: high / low": f"{b['train']['high']} / {b['train']['low']} ({b['train']['share_high']:.1%} high)",
            "test: high / low": f"{b['test']['high']} / {b['test']['low']} ({b['test']['share_high']:.1%} high)",
        })
    return rows


def not_learned(name: str, figures: dict[str, float], baseline: float, n: int, epochs: int) -> str | None:
    """A sentence naming the honest ``figures`` (``{label: accuracy}``) that lie inside the majority
    baseline's 95 % interval, or None when none does.

    The baseline's interval is the Wilson interval of its accuracy on the same ``n`` test trials.
    """
    from deap_lib import stats

    low, high = stats.wilson_interval(round(baseline * n), n)
    inside = [f"{label} {acc:.1%}" for label, acc in figures.items() if acc is not None and acc <= high]
    if not inside:
        return None
    return (f"{name}: {', '.join(inside)}, inside the majority baseline's 95 % interval "
            f"({low:.1%}-{high:.1%} on {n} test trials) after {epochs} epochs")


def fixed_split_warning(pairs: dict, *, profile: str | None = None) -> "object":
    """:func:`budget_warning` for the honest figures (last, validation-chosen) of fixed-split pairs."""
    items = []
    for (model, target), pair in pairs.items():
        s = pair["summary"]
        figures = {"last epoch": s["last"]["accuracy"],
                   "validation-chosen": s["val_chosen"]["accuracy"] if s["val_chosen"] else None}
        items.append(not_learned(f"{model.upper()} {target}", figures, s["majority_baseline"], s["n_test"],
                                 pair["config"].epochs))
    return budget_warning(items, profile=profile)


def folds_warning(runs: dict, which: str, *, profile: str | None = None) -> "object":
    """:func:`budget_warning` for cross-validations: ``runs`` is ``{(model, target): [fold records]}``;
    the mean of the folds' ``which`` figure against the baseline's interval on all their test trials."""
    import numpy as np

    items = []
    for (model, target), recs in runs.items():
        acc = [(r["summary"][which] or r["summary"]["last"])["accuracy"] for r in recs]
        items.append(not_learned(
            f"{model.upper()} {target}", {f"mean of {len(recs)} folds": float(np.mean(acc))},
            float(np.mean([r["summary"]["majority_baseline"] for r in recs])),
            sum(r["summary"]["n_test"] for r in recs), recs[0]["config"]["epochs"]))
    return budget_warning(items, profile=profile)


def protocols_warning(summary: dict, *, profile: str | None = None) -> "object":
    """:func:`budget_warning` for the honest protocols of :func:`protocol_summary` results.

    When an experiment is at chance under leave-one-subject-out but above it under a protocol that
    mixes participants, the admonition says so: with the same budget, the models did learn.
    """
    items, learned_elsewhere = [], []
    for (model, target), by_protocol in summary.items():
        honest = {p: v for p, v in by_protocol.items() if p != PROTOCOLS[0]}
        flags = {}
        for protocol, v in honest.items():  # baselines and test sizes differ by protocol
            flags[protocol] = not_learned(f"{model.upper()} {target}", {protocol: v["mean"]}, v["baseline"],
                                          v["n_test"], v["epochs"])
            items.append(flags[protocol])
        learned = [p for p, f in flags.items() if f is None and p != PROTOCOLS[3]]
        if flags[PROTOCOLS[3]] and learned:
            learned_elsewhere.append(f"{model.upper()} {target} ({'; '.join(learned)})")
    context = ""
    if learned_elsewhere:
        context = ("With the same epochs, these models are above chance where participants are mixed: "
                   + ", ".join(learned_elsewhere) + ". Leave-one-subject-out at chance then also says that what "
                   "they learned does not carry over to a new participant.")
    return budget_warning(items, profile=profile, context=context)


def budget_warning(items: list[str | None], *, profile: str | None = None, context: str = "") -> "object | None":
    """An admonition listing the honest figures that are not distinguishable from the majority
    baseline (nothing when there are none). ``context``: a sentence computed by the caller."""
    from IPython.display import Markdown

    items = [i for i in items if i]
    if not items:
        return None  # no output at all (an empty Markdown would render as its repr)
    which = f"the `{profile}` profile's" if profile else "this build's"
    return Markdown(
        ":::{admonition} Not distinguishable from the majority baseline\n:class: warning\n"
        + "\n".join(f"- {i}." for i in items) + "\n\n"
        "On these test trials, these figures cannot be told apart from always predicting the majority "
        f"class. That is not a finding about the architecture: with {which} training budget (the report "
        "trained for 250 epochs) a model may be under-trained, or its gain may be too small for this "
        "many test trials to show. " + (context + " " if context else "") + "Re-run with more epochs (the "
        "`epochs`, `cv_epochs` or `loso_epochs` parameters, or the `paper` profile) and more test trials "
        "before drawing conclusions about the models.\n:::"
    )


def cv_rows(records: dict, reported: dict | None = None) -> list[dict]:
    """One row per (model, target) cross-validation: last-epoch mean over folds with its spread.

    The report's arousal figures are marked "(a)": its arousal run used valence labels.
    """
    import numpy as np

    from deap_lib import report, stats

    rows = []
    for (model, target), recs in records.items():
        acc = np.array([r["summary"]["last"]["accuracy"] for r in recs])
        mean, low, high = stats.mean_ci(acc)
        base = np.mean([r["summary"]["majority_baseline"] for r in recs])
        rep = (reported or {}).get((model, target))
        caveat = " (a)" if (model, target) in report.KFOLD32_CAVEAT else ""
        rows.append({
            "experiment": f"{model.upper()} {target}", "folds": len(acc),
            "mean (t-interval over folds)": f"{mean:.1%} ({low:.1%}-{high:.1%})",
            "fold range": f"{acc.min():.1%}-{acc.max():.1%}",
            "majority": _pct(base),
            "report, DEAP (32 folds)": (_pct(rep) + caveat) if rep is not None else "not reported",
        })
    return rows


PROTOCOLS = (
    "best epoch on test (report's protocol)",
    "fixed split, honest epoch",
    "random k-fold, last epoch",
    "leave-one-subject-out, honest epoch",
)
#: What "honest epoch" means in :data:`PROTOCOLS`.
HONEST_EPOCH = ("the epoch chosen on a validation set held out of the training trials (whole participants "
                "under leave-one-subject-out) when the profile holds one out (val_fraction > 0), else the last epoch")


def protocol_summary(fixed: dict, kfold: list, loso: list) -> dict:
    """How the number moves with the protocol, for one model and target.

    ``fixed``: the fixed split's pair from :func:`deap_lib.training.run_fixed`; ``kfold`` and
    ``loso``: their fold records. Returns ``{protocol: {"mean", "low", "high", "baseline", "n",
    "interval"}}``. ``interval`` says what ``low``-``high`` is: a Wilson interval for an honest
    figure on the single split; a t-interval over folds for the cross-validations (folds share
    training data, so it describes the spread of the folds, not a confidence interval of the
    accuracy); none for the best-on-test figure (a maximum over epochs chosen on the test trials
    has no valid interval: ``low`` and ``high`` are nan).
    """
    import numpy as np

    from deap_lib import stats

    out = {}
    s, epochs = fixed["summary"], fixed["report"]["config"]["epochs"]
    common = {"baseline": s["majority_baseline"], "n": 1, "n_test": s["n_test"], "epochs": epochs}
    out[PROTOCOLS[0]] = {"mean": s["as_reported"]["accuracy"], "low": float("nan"), "high": float("nan"),
                         "interval": "none", **common}
    honest = s["val_chosen"] or s["last"]
    low, high = stats.wilson_interval(round(honest["accuracy"] * s["n_test"]), s["n_test"])
    out[PROTOCOLS[1]] = {"mean": honest["accuracy"], "low": low, "high": high, "interval": "Wilson", **common}
    for protocol, recs, which in ((PROTOCOLS[2], kfold, "last"), (PROTOCOLS[3], loso, "val_chosen")):
        acc = [(r["summary"][which] or r["summary"]["last"])["accuracy"] for r in recs]
        mean, low, high = stats.mean_ci(acc)
        low, high = max(low, 0.0), min(high, 1.0)  # an accuracy's interval stays within [0, 1]
        base = float(np.mean([r["summary"]["majority_baseline"] for r in recs]))
        out[protocol] = {"mean": mean, "low": low, "high": high, "baseline": base, "n": len(acc),
                         "interval": "t over folds", "n_test": sum(r["summary"]["n_test"] for r in recs),
                         "epochs": recs[0]["config"]["epochs"]}
    return out


#: Short column headings for :data:`PROTOCOLS` in tables.
PROTOCOL_HEADINGS = ("best on test", "fixed, honest epoch", "random k-fold", "LOSO")


def protocol_rows(summary: dict) -> list[dict]:
    """Table rows of :func:`protocol_summary` results, one per (model, target)."""
    rows = []
    for (m, t), by_protocol in summary.items():
        row = {"experiment": f"{m.upper()} {t}"}
        for heading, (protocol, v) in zip(PROTOCOL_HEADINGS, by_protocol.items()):
            spread = "" if v["interval"] == "none" else f" ({v['low']:.1%}-{v['high']:.1%})"
            row[heading] = f"{v['mean']:.1%}{spread}"
        row["majority, LOSO"] = _pct(by_protocol[PROTOCOLS[3]]["baseline"])
        rows.append(row)
    return rows


def verdict(name: str, mean: float, low: float, high: float, baseline: float) -> str:
    """One sentence comparing an accuracy and its interval with its chance level, driven by the numbers."""
    import math

    if math.isnan(low):
        where = "a single number without an interval"
    elif low > baseline:
        where = "above chance"
    elif high < baseline:
        where = "below chance"
    else:
        where = "not distinguishable from chance"
    return (f"{name}: {mean:.1%} (95 % interval {low:.1%}-{high:.1%}) against a majority baseline of "
            f"{baseline:.1%}: **{where}**.")


def protocol_runs(values: dict, data, *, models=("dnn", "cnn"), targets=("valence", "arousal")) -> dict:
    """Fixed-split runs of every experiment, random k-fold and LOSO runs of the :func:`cv_experiments`.

    Stored runs are read (the fixed-split and k-fold chapters made most of them). K-fold runs
    follow the report's protocol (no validation set); LOSO runs hold out validation participants
    when ``val_fraction`` > 0. Returns ``{"fixed": {(model, target): pair}, "kfold": {...: [records]},
    "loso": {...}}``.
    """
    from deap_lib import training

    fixed = fixed_runs(values, data, models=models, targets=targets)
    out = {"fixed": fixed, "kfold": {}, "loso": {}}
    for m, t in [k for k in cv_experiments(values) if k in fixed]:
        out["kfold"][m, t] = kfold_runs(values, data, m, t)
        out["loso"][m, t] = training.run_experiment(
            experiment_config(values, model=m, target=t, epochs=values["loso_epochs"]), "loso",
            data=data, holdout=values["loso_holdout"], n_jobs=values["n_jobs"], progress=False)
    return out


def fixed_runs(values: dict, data, *, models=("dnn", "cnn"), targets=("valence", "arousal")) -> dict:
    """The fixed split of each experiment (:func:`deap_lib.training.run_fixed`), ``{(model, target): pair}``."""
    from deap_lib import training

    keys = [(m, t) for m, t in EXPERIMENTS if m in models and t in targets]
    pairs = training.run_fixed([experiment_config(values, model=m, target=t) for m, t in keys], data,
                               n_jobs=values["n_jobs"], progress=False)
    return dict(zip(keys, pairs))


def kfold_runs(values: dict, data, model: str, target: str) -> list[dict]:
    """The report's random k-fold for one model and target (its protocol: no validation set held out)."""
    from deap_lib import training

    config = training.report_protocol(experiment_config(values, model=model, target=target, epochs=values["cv_epochs"]))
    return training.run_experiment(config, "kfold", data=data, n_folds=values["n_folds"],
                                   holdout=values["kfold_holdout"], n_jobs=values["n_jobs"], progress=False)


def five_by_two_section(values: dict, data) -> "object":
    """The 5x2cv comparison of the DNN and the CNN on valence, as a table and sentences (or why it was not run)."""
    import scipy.stats
    from IPython.display import Markdown

    from deap_lib import report, training

    r = report.FIVE_BY_TWO
    report_p = float(2 * scipy.stats.t.sf(abs(r["t"]), df=5))  # the report gave t only
    said = (f"The report found t = {r['t']:.3f} on DEAP at {r['epochs']} epochs, which with 5 degrees of freedom "
            f"is a two-sided p of {report_p:.3f}.")
    e = values["five_by_two_epochs"]
    if e is None:
        return Markdown(f":::{{admonition}} Not run in the `{values['profile']}` profile\n:class: note\n{said} The test trains each "
                        "model ten times (on 640 trials each); within this profile's time those models would not "
                        "learn, and a test between two untrained models says nothing. The `paper` profile runs it "
                        f"at {r['epochs']} epochs.\n:::")
    five = training.five_by_two(
        training.report_protocol(experiment_config(values, model="dnn", target="valence", epochs=e)),
        training.report_protocol(experiment_config(values, model="cnn", target="valence", epochs=e)),
        data, n_jobs=values["n_jobs"], progress=False,
    )
    if math.isnan(five["t"]):
        note = (" Here t is undefined: in every replication both folds gave the same difference between the "
                "models (as when both predict one class for every trial), so the variance estimate is 0.")
    elif five["t"] == 0:
        note = (" A t of exactly 0 is not a finding of equal models: the statistic's numerator is the difference "
                "on the first fold of the first replication alone, and there both models scored "
                f"{five['accuracy_a'][0][0]:.1%}"
                + (" with identical predictions (both predicting one class for every trial, as untrained models "
                   "do)." if five["identical_first"] else "."))
    else:
        note = ""
    table = md_table([
        {"": "this build", "epochs": e, "DNN mean": _pct(five["mean_a"]), "CNN mean": _pct(five["mean_b"]),
         "t (5 dof)": f"{five['t']:.3f}", "p": f"{five['p_value']:.3f}"},
        {"": "report (DEAP)", "epochs": r["epochs"], "DNN mean": _pct(r["dnn"]), "CNN mean": _pct(r["cnn"]),
         "t (5 dof)": f"{r['t']:.3f}", "p": f"{report_p:.3f}"},
    ]).data
    return Markdown(
        f"{table}\n\nHere t = {five['t']:.3f} (p = {five['p_value']:.3f}) at {e} epochs. {said}{note} The "
        "statistic divides one fold's difference by a variance estimated from five replications: read it "
        "together with the fold distributions above, not as a verdict."
    )


def negative_control(summaries: dict, baseline_runs: dict) -> dict:
    """Check that every honest figure sits at chance (its 95 % interval reaches the baseline).

    ``summaries``: ``{(model, target): protocol_summary(...)}`` on the null twin;
    ``baseline_runs``: ``{target: run_baseline("logreg", ..., LOSO splits)}`` on the null twin.
    Random k-fold is shown but not judged: it is not an honest figure (participants leak).
    """
    from deap_lib import stats

    rows, ok = [], True
    honest = (PROTOCOLS[1], PROTOCOLS[3])
    for (m, t), by_protocol in summaries.items():
        for protocol, v in by_protocol.items():
            judged = protocol in honest
            at_chance = v["low"] <= v["baseline"]
            ok &= at_chance or not judged
            rows.append({"figure": f"{m.upper()} {t}, {protocol}", "accuracy": f"{v['mean']:.1%} ({v['low']:.1%}-{v['high']:.1%})",
                         "majority baseline": f"{v['baseline']:.1%}",
                         "at chance": ("yes" if at_chance else "NO") if judged else "(not judged)"})
    for t, recs in baseline_runs.items():
        mean, low, high = stats.mean_ci([r["accuracy"] for r in recs])
        low, high = max(low, 0.0), min(high, 1.0)
        base = sum(r["majority_baseline"] for r in recs) / len(recs)
        at_chance = low <= base
        ok &= at_chance
        rows.append({"figure": f"logistic regression {t}, LOSO", "accuracy": f"{mean:.1%} ({low:.1%}-{high:.1%})",
                     "majority baseline": f"{base:.1%}", "at chance": "yes" if at_chance else "NO"})
    return {"rows": rows, "all_at_chance": bool(ok)}


def model_chapter(values: dict) -> dict:
    """The computation behind a model chapter (DNN or CNN): data, model, fixed-split runs, glued numbers.

    With ``n_jobs`` > 1 the same model's run on the other target is trained alongside (the
    fixed-split chapter reads it from the store), which on two cores costs no extra wall time.

    Returns ``{"config", "data", "net", "pair", "pairs"}`` (``pair``: from :func:`deap_lib.training.run_fixed`;
    ``pairs``: ``{(model, target): pair}``, what the fixed-split helpers take);
    glues ``n_params``, ``n_params_report``, ``epochs``, ``majority``, ``n_fit_report``,
    ``acc_*`` / ``epoch_*`` for the best-on-test and last figures, and the sentences ``honest_run`` and
    ``honest_result`` (which depend on whether an honest run was made).
    """
    from myst_nb import glue

    from deap_lib import models, report, training

    config = experiment_config(values)
    data = config.prepare(progress=False)
    net = models.build_model(config.model, **config.model_kwargs)
    n_jobs = values.get("n_jobs") or 1
    configs = [config]
    if n_jobs > 1:  # the fixed-split chapter needs the other target too: alongside, it costs no extra wall time
        configs.append(config.replace(target="arousal" if config.target == "valence" else "valence"))
    pair = training.run_fixed(configs, data, n_jobs=n_jobs, progress=False)[0]
    glue("n_params", models.count_parameters(net), display=False)
    glue("n_params_report", report.N_PARAMS[config.model], display=False)
    glue("epochs", config.epochs, display=False)
    glue("n_fit_report", len(pair["report"]["split"]["fit"]), display=False)
    s, honest = pair["summary"], pair["honest"]
    if honest is not None:
        glue("honest_run", f"An honest run of its own holds {len(honest['split']['val'])} of the training trials "
             f"out as a validation set (fitting the other {len(honest['split']['fit'])}), so that an epoch can be "
             "chosen without looking at the test set.", display=False)
        glue("honest_result", f"and the honest run's epoch with the best validation accuracy (epoch "
             f"{s['val_chosen']['epoch']}) gives {s['val_chosen']['accuracy']:.1%}", display=False)
    else:
        glue("honest_run", f"The {values.get('profile')} profile runs no separate honest run (val_fraction is 0): "
             "the honest figure is the last epoch of the report's run, on which nothing was chosen.", display=False)
        glue("honest_result", "and no validation-chosen figure was computed (val_fraction is 0)", display=False)
    glue("majority", s["majority_baseline"], display=False)
    for name in ("as_reported", "last"):
        glue(f"acc_{name}", s[name]["accuracy"], display=False)
        glue(f"epoch_{name}", s[name]["epoch"], display=False)
    return {"config": config, "data": data, "net": net, "pair": pair, "pairs": {(config.model, config.target): pair}}
