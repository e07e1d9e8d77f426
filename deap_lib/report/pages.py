"""The chapters' words and tables, computed from the numbers (:mod:`deap_lib.report.chapters` computes
them, :mod:`deap_lib.report.plotting` draws them): text or IPython ``Markdown``; nothing here trains.

``fixed`` is ``{(model, target): [FixedRun per training seed]}``; ``runs`` of a cross-validation
``{(model, target): [fold Record]}``; ``seeds`` is :func:`deap_lib.evaluation.summaries.seed_figures`.
"""

from __future__ import annotations

import math
import re

import numpy as np
import scipy.stats
import torch
from IPython.display import Markdown
from myst_nb import glue

from deap_lib.data import deap_format, features
from deap_lib.evaluation import stats
from deap_lib.evaluation.results import Protocol
from deap_lib.evaluation.summaries import HONEST_EPOCH, compare_over_seeds, folds, seed_figures, steadier
from deap_lib.experiment import splits
from deap_lib.experiment.engine import LAST_K, default_device, resolve_precision, versions
from deap_lib.report import paper
from deap_lib.report.plotting import SEED_FIGURE_LABELS


def glue_all(numbers: dict) -> None:
    """Glue every ``{name: value}`` for the prose's ``{glue:text}`` roles (nothing is displayed)."""
    for name, value in numbers.items():
        glue(name, value, display=False)


def reduced_note(values: dict, what: str, ran: list, of: list, why: str) -> "Markdown | None":
    """A note saying which part of a scheme this build ran, when it ran less than all of it."""
    if len(ran) == len(of):
        return None
    return Markdown(f":::{{admonition}} Reduced: {len(ran)} of the {len(of)} {what}\n:class: note\n"
                    f"The `{values['profile']}` profile runs {', '.join(map(str, ran))}. {why}\n:::")


def arithmetic(values: dict) -> str:
    """The precision a chapter's runs train in, on the device they use, said for its header."""
    device = values.get("device") or default_device().type
    asked = values.get("precision", "float32")
    resolved = resolve_precision(asked, device)
    how = {"float32": "float32, the report's arithmetic",
           "bfloat16": "bfloat16 (float32 master weights and loss; see [How to reproduce](../reproduce))"}[resolved]
    return f"{how}, {'on a CUDA GPU' if device == 'cuda' else 'on the CPU'}" + \
        (f" (precision `auto`: {'native' if resolved == 'bfloat16' else 'no native'} bf16 here)." if asked == "auto" else ".")


def page_header(values: dict, data) -> "Markdown":
    """The box at the top of every chapter: data source, profile, arithmetic, library versions."""
    profile = values.get("profile")
    reduced = {
        "smoke": " **Smoke profile: a tiny run that only shows the chapter executes; its numbers mean nothing.**",
        "quick": " Quick profile: fewer epochs, folds and participants than the report, chosen from measured "
                 "learning curves so that the models learn within the build's time (see "
                 "[How to reproduce](../reproduce)); every reduction is stated where it matters.",
        "paper": " Paper profile: the report's settings.",
    }.get(profile, "")
    v = versions()
    describe = re.sub(r"not (DEAP|MAHNOB-HCI) results", r"**not \1 results**", data.source.describe())
    nonfinite = data.nonfinite_note()
    nonfinite = f" **{nonfinite}**" if nonfinite else ""
    rows = "sessions" if data.source.dataset == "mahnob" else "trials"
    used = f" {data.data_note()}." if data.data_note() else ""
    return Markdown(
        f":::{{note}}\n**Data:** {describe}; {len(data.features)} {rows}, "
        f"identity `{data.identity}`.{used}{nonfinite}\n\n**Profile:** `{profile}`.{reduced}\n\n"
        f"**Arithmetic:** {arithmetic(values)}\n\n"
        f"**Versions:** deap_lib {v['deap_lib']}, torch {v['torch']}, numpy {v['numpy']}, "
        f"scikit-learn {v['scikit-learn']}, Python {v['python']}.\n:::"
    )


def md_table(rows: list[dict], columns: list[str] | None = None) -> "Markdown":
    """A list of dicts as a Markdown table (renders in the notebook and in the book)."""
    columns = columns or list(rows[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(r.get(c, "")) for c in columns) + " |" for r in rows]
    return Markdown("\n".join(lines))


def layer_rows(nets: dict, input_shape=(1, 32, 99)) -> list[dict]:
    """Each leaf layer of each model in ``nets`` (``{name: nn.Module}``) with its output shape for
    one trial and its trainable parameters (from a forward pass in eval mode)."""
    rows = []
    for model_name, model in nets.items():
        hooks = []
        for name, module in model.named_modules():
            if not list(module.children()):
                def hook(mod, _inp, out, name=name):
                    rows.append({
                        "model": model_name.upper(), "layer": name, "type": type(mod).__name__,
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


def config_rows(configs: dict) -> list[dict]:
    """The hyperparameters of experiments (``{name: ExperimentConfig}``) side by side, one row each."""
    keys = ["target", "seed", "epochs", "batch_size", "optimizer", "lr", "momentum", "n_test", "val_fraction"]
    keys += sorted({k for c in configs.values() for k in c.model_kwargs})
    return [{"parameter": k, **{name.upper(): getattr(c, k, c.model_kwargs.get(k, "")) for name, c in configs.items()}}
            for k in keys]


def _pct(x) -> str:
    return "" if x is None else f"{x:.1%}"


def fixed_split_rows(fixed: dict, reported: tuple[str, dict] | None = None) -> list[dict]:
    """One row per experiment on the fixed split (training seed 0): the report's best-on-test figure
    beside the honest ones with their Wilson 95 % intervals (a maximum over epochs chosen on the test
    trials has no valid interval). ``reported``: the last column's heading and ``{key: text}``
    (default the report's DEAP figures)."""
    if reported is None:
        reported = ("report (DEAP)", {k: _pct(v["as_reported"]) for k, v in paper.FIXED_SPLIT.items()})

    def with_ci(fig, n):
        if fig is None:
            return "not run"
        low, high = stats.accuracy_ci(fig.accuracy, n)
        return f"{fig.accuracy:.1%} ({low:.0%}-{high:.0%}), ep. {fig.epoch}"

    rows = []
    for (model, target), runs in fixed.items():
        s = runs[0].summary
        rows.append({
            "experiment": f"{model.upper()} {target}",
            "best on test": f"{s.as_reported.accuracy:.1%}, ep. {s.as_reported.epoch}",
            "last epoch": with_ci(s.last, s.n_test), "validation-chosen": with_ci(s.val_chosen, s.n_test),
            "majority": _pct(s.majority_baseline), reported[0]: reported[1].get((model, target), "-"),
        })
    return rows


def headline_fixed(fixed: dict) -> str:
    """The fixed-split figures as plain text lines: what a notebook executed outside the book shows."""
    lines = []
    for (model, target), runs in fixed.items():
        s = runs[0].summary
        vc = f"{s.val_chosen.accuracy:.1%} (epoch {s.val_chosen.epoch})" if s.val_chosen else "not run"
        lines.append(f"{model.upper()} {target}, fixed split, {runs[0].config.epochs} epochs: best on test "
                     f"{s.as_reported.accuracy:.1%} (epoch {s.as_reported.epoch}; optimistic), last epoch "
                     f"{s.last.accuracy:.1%}, validation-chosen {vc}, majority baseline {s.majority_baseline:.1%}")
    seeds = seed_figures(fixed)
    w = seed_headline(seeds)
    lines += [f"{m.upper()} {t}, over {v[w].n} training seeds, {SEED_FIGURE_LABELS[w]}: {_pm(v[w])}; "
              f"{_seed_clause(v[w])}" for (m, t), v in seeds.items()]
    return "\n".join(lines)


def headline_folds(runs: dict, which: str, scheme: str) -> str:
    """Cross-validation figures (mean and range of the folds' ``which`` figure) as plain text lines."""
    lines = []
    for (model, target), recs in runs.items():
        f = folds(recs, which)
        lines.append(f"{model.upper()} {target}, {scheme}, {f.n} folds of {f.epochs} epochs: mean {f.mean:.1%} "
                     f"(folds {f.min:.1%}-{f.max:.1%}), majority baseline {f.baseline:.1%}")
    return "\n".join(lines)


def balance_rows(data, records: list) -> list[dict]:
    """Class balance (high / low) of the training and test trials of each run's split (each split
    and target once), as the report printed it."""
    rows, seen = [], set()
    for r in records:
        target = r.config.target
        if (r.split.name, target) in seen:
            continue
        seen.add((r.split.name, target))
        b = splits.split_balance(data.labels(target), r.split)
        rows.append({"split": r.split.name, "target": target,
                     **{f"{part}: high / low": f"{b[part]['high']} / {b[part]['low']} "
                                               f"({b[part]['share_high']:.1%} high)" for part in ("train", "test")}})
    return rows


def skipped_rows(data) -> list[dict]:
    """MAHNOB-HCI: the sessions left out, by kind, with how many and the first of them."""
    by_kind: dict = {}
    for session, subject, kind, reason in data.skipped:
        by_kind.setdefault(kind, []).append((session, subject, reason))
    return [{"left out": kind, "sessions": len(items),
             "first of them": f"session {items[0][0]}" + (f" (subject {items[0][1]})" if items[0][1] else "")
             + f": {_literal(items[0][2])}"}
            for kind, items in sorted(by_kind.items(), key=lambda kv: -len(kv[1]))]


def _literal(text: str) -> str:
    """``text`` shown as written in a Markdown table cell (a reader's message names files and tags)."""
    for char, escaped in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("*", "\\*"), ("|", "\\|"), ("`", "\\`")):
        text = text.replace(char, escaped)
    return text


def mahnob_numbers(values: dict, mahnob: dict) -> dict:
    """The MAHNOB-HCI chapter's numbers: what was read, the epochs, the test size and the half-width
    of a Wilson interval on it (at 60 % correct)."""
    first = next(iter(mahnob["fixed"].values()))[0]
    n = first.summary.n_test
    low, high = stats.accuracy_ci(round(0.6 * n) / n, n)
    return {"mahnob_note": mahnob["data"].data_note() + ".", "mahnob_n_test": n, "epochs": first.config.epochs,
            "mahnob_ci_width": (high - low) / 2}


def mahnob_verdicts(mahnob: dict) -> Markdown:
    """Each experiment's headline honest fixed-split figure over its training seeds against its majority
    baseline (as the fixed-split chapter judges it), and the k-fold means against theirs: a sentence each."""
    seeds = seed_figures(mahnob["fixed"])
    w = seed_headline(seeds)
    lines = [f"- {m.upper()} {t}, fixed split, {SEED_FIGURE_LABELS[w]} over {v[w].n} training seeds: "
             f"{_said(v[w])}: {_seed_clause(v[w])}." for (m, t), v in seeds.items()]
    for (model, target), recs in mahnob["kfold"].items():
        f = folds(recs, "last")
        lines.append("- " + verdict(f"{model.upper()} {target}, {f.n} of the folds, mean of the last epochs",
                                    f.mean, f.low, f.high, f.baseline))
    low, high = paper.MAHNOB["range"]
    where = ("These are numbers on the synthetic MAHNOB-HCI twin, not MAHNOB-HCI results: they show that "
             "the pipeline runs on MAHNOB-HCI's format and recovers the effects planted in the twin."
             if mahnob["data"].source.kind == "mahnob-twin" else "These are numbers on real MAHNOB-HCI.")
    return Markdown("\n".join(lines) + f"\n\nThe report stated {low:.0%}-{high:.0%} on real MAHNOB-HCI, "
                    f"without baselines or intervals. {where}")


def mahnob_reported(keys) -> tuple[str, dict]:
    """The last column of the MAHNOB-HCI tables: the report's stated range, for every experiment key."""
    low, high = paper.MAHNOB["range"]
    return ("report (MAHNOB-HCI)", {key: f"{low:.0%}-{high:.0%} (stated over all)" for key in keys})


def honest_run_sentences(fixed: dict, profile: str) -> dict:
    """The models chapter's sentences ``honest_run`` and ``honest_result``: whether the profile made
    honest runs (``val_fraction`` > 0) beside the report's, and what they chose."""
    first = next(iter(fixed.values()))[0]
    if first.honest is None:
        return {"honest_run": f"The {profile} profile runs no separate honest run (val_fraction is 0): the honest "
                              "figure is the last epoch of the report's run, on which nothing was chosen.",
                "honest_result": "no validation-chosen figure was computed (val_fraction is 0)"}
    chosen = [f"{runs[0].summary.val_chosen.accuracy:.1%} for the {m.upper()} (epoch "
              f"{runs[0].summary.val_chosen.epoch})" for (m, _), runs in fixed.items()]
    return {"honest_run": f"An honest run of its own holds {len(first.honest.val)} of the training trials out as a "
                          f"validation set (fitting the other {len(first.honest.fit)}), so that an epoch can be "
                          "chosen without looking at the test set.",
            "honest_result": "the honest runs' epochs with the best validation accuracy give " + " and ".join(chosen)}


def fixed_split_numbers(fixed: dict) -> dict:
    """The fixed-split chapter's numbers: epochs, test size, the DNN's valence figures and the
    report's, the half-width of a Wilson interval on this test set, and McNemar from the report's counts."""
    run = fixed["dnn", "valence"][0]
    s = run.summary
    low, high = stats.accuracy_ci(s.last.accuracy, s.n_test)
    r = paper.MCNEMAR
    return {
        "epochs": run.config.epochs, "n_test": s.n_test, "dnn_best": s.as_reported.accuracy,
        "honest_clause": f"the same run's last epoch {s.last.accuracy:.1%}" + (
            f", and the epoch chosen on validation data in the honest run {s.val_chosen.accuracy:.1%}"
            if s.val_chosen else " (this profile makes no separate validation run)"),
        "ci_width": (high - low) / 2, "report_dnn_best": paper.FIXED_SPLIT["dnn", "valence"]["as_reported"],
        "report_only_dnn": r["only_dnn"], "report_only_cnn": r["only_cnn"],
        "report_p": stats.mcnemar_exact_from_counts(r["only_dnn"], r["only_cnn"])["p_value"],
    }


def kfold_numbers(values: dict, cv: dict) -> dict:
    """The k-fold chapter's numbers: folds run and their size, epochs, and the fold range of the
    first experiment beside the report's DNN valence range on DEAP."""
    (m, t), first = next(iter(cv.items()))
    f = folds(first, "last")
    return {"n_folds": values["n_folds"], "n_run": f.n, "n_fit": len(first[0].fit), "cv_epochs": f.epochs,
            "range_of": f"{m.upper()}'s {t}", "dnn_min": f.min, "dnn_max": f.max,
            "report_min": paper.KFOLD32_DNN_FOLD_RANGE[0], "report_max": paper.KFOLD32_DNN_FOLD_RANGE[1]}


def honest_numbers(values: dict, data, runs: dict) -> dict:
    """The honest-evaluation chapter's numbers about leave-one-subject-out: folds run, participants,
    epochs, and how the epoch is chosen (``runs``: :func:`deap_lib.report.chapters.protocol_runs`)."""
    f = folds(next(iter(runs["loso"].values())), "val_chosen")
    rule = ("the epoch is chosen on a validation set of other participants held out of training, never on the "
            "test participant" if values["val_fraction"] > 0 else "the last epoch is taken (this profile holds "
            "no validation set out: val_fraction is 0), so nothing is chosen on the test participant")
    return {"n_loso": f.n, "n_participants": len(np.unique(data.participant)), "loso_epochs": f.epochs,
            "loso_rule": rule, "honest_epoch": HONEST_EPOCH}


def permutation_numbers(perm: dict) -> dict:
    """Observed score, mean of the null and p of each target's permutation test."""
    numbers = {}
    for t, result in perm.items():
        numbers.update({f"perm_p_{t}": result["p_value"], f"perm_null_{t}": float(np.mean(result["null"])),
                        f"perm_obs_{t}": result["observed"]})
    return numbers


def mcnemar_rows(dnn: list, cnn: list) -> list[dict]:
    """McNemar's exact test between two experiments' fixed split (training seed 0: the same test
    trials) at each figure's epochs, and the report's own counts as the last row."""
    dnn, cnn = dnn[0], cnn[0]
    rows = []
    for which, label in (("val_chosen", "validation-chosen"), ("last", "last"),
                         ("as_reported", "best on test (as the report)")):
        if getattr(dnn.summary, which) is None:
            continue
        m = stats.mcnemar_exact(dnn.report.y_test, dnn.predictions(which), cnn.predictions(which))
        rows.append({"epochs used": label, "both right": m["both_right"], "both wrong": m["both_wrong"],
                     "only DNN right": m["n01"], "only CNN right": m["n10"], "exact p": f"{m['p_value']:.3f}"})
    r = paper.MCNEMAR
    rows.append({"epochs used": "the report (DEAP, best epochs)", "both right": r["both_right"],
                 "both wrong": r["both_wrong"], "only DNN right": r["only_dnn"], "only CNN right": r["only_cnn"],
                 "exact p": f"{stats.mcnemar_exact_from_counts(r['only_dnn'], r['only_cnn'])['p_value']:.3f}"})
    return rows


def standardization_rows(trial: np.ndarray, channel: str) -> list[dict]:
    """One raw trial's (shape (32, n_samples)) whole-channel mean, std and variance of ``channel``
    under each standardization."""
    names, c = features.feature_names(), deap_format.EEG_CHANNELS.index(channel)
    rows = []
    for method in features.STANDARDIZATIONS:
        f = features.extract_features(trial[None], standardization=method)[0, c]
        rows.append({"standardization": method,
                     **{n: f"{f[names.index(n)]:.3g}" for n in ("all_mean", "all_std", "all_var")}})
    return rows


def balance_numbers(balance: list[dict]) -> dict:
    """The data chapter's numbers: this build's share of high ratings per target, and DEAP's counts
    (at >= 5 and strictly above 5) and majority shares as the report gives them."""
    numbers = {f"share_high_{row['target']}": row["share_high"] for row in balance}
    for t in ("valence", "arousal"):
        numbers.update({f"deap_high_{t}": paper.DEAP_HIGH[t], f"deap_strict_{t}": paper.DEAP_HIGH_STRICT[t],
                        f"deap_majority_{t}": paper.DEAP_MAJORITY[t]})
    return numbers


def class_balance_rows(balance: list[dict]) -> list[dict]:
    """Rows of :func:`deap_lib.data.labels.class_balance`, shares as percentages."""
    columns = ("target", "n_trials", "high", "low", "share_high", "at_threshold", "high_if_strict")
    return [{c: f"{row[c]:.1%}" if c == "share_high" else row[c] for c in columns} for row in balance]


def classical_rows(table: dict) -> list[dict]:
    """Rows of :func:`deap_lib.report.chapters.classical_baselines`: each method's mean accuracy per scheme."""
    return [{"method": method, "target": t, **{scheme: f"{v.mean:.1%}" for scheme, v in by_scheme.items()}}
            for (method, t), by_scheme in table.items()]


def control_rows(control: dict | None) -> list[dict]:
    """Rows of :func:`deap_lib.evaluation.summaries.judge_control`: each figure against chance."""
    if control is None:
        return [{"negative control": "not run in this build"}]
    return [{"figure": name, "accuracy": f"{v.mean:.1%} ({v.low:.1%}-{v.high:.1%})",
             "majority baseline": f"{v.baseline:.1%}",
             "at chance": ("yes" if v.at_chance() else "NO") if judged else "(not judged)"}
            for name, v, judged in control["figures"]]


def conclusions(summary: dict, control: dict | None) -> Markdown:
    """What holds and what does not, one sentence per finding, written from this build's numbers."""
    lines = []
    for (m, t), by in summary.items():
        best, honest = by[Protocol.BEST_ON_TEST].mean, by[Protocol.FIXED].mean
        lines.append(f"- {m.upper()} {t}: this build's best-on-test figure (the report's protocol, {best:.1%}) "
                     f"minus its honest-epoch one ({honest:.1%}) on the same test trials: "
                     f"{100 * (best - honest):+.1f} points.")
        v, k = by[Protocol.LOSO], by[Protocol.KFOLD]
        lines.append("  " + verdict(f"Across participants (LOSO, {v.n} folds)", v.mean, v.low, v.high, v.baseline))
        lines.append(f"  Random k-fold (participants mixed) says {k.mean:.1%}: "
                     f"{100 * (k.mean - v.mean):+.1f} points against LOSO.")
    if control:
        lines.append("- Negative control (null twin): every honest figure at chance: "
                     f"{'yes' if control['all_at_chance'] else 'NO, investigate'}.")
    return Markdown("\n".join(lines))


def not_learned(name: str, figures: dict[str, float], baseline: float, n: int, epochs: int) -> str | None:
    """A sentence naming the honest ``figures`` (``{label: accuracy}``) inside the majority baseline's
    Wilson 95 % interval on the same ``n`` test trials, or None when none is."""
    low, high = stats.accuracy_ci(baseline, n)
    inside = [f"{label} {acc:.1%}" for label, acc in figures.items() if acc is not None and acc <= high]
    if not inside:
        return None
    return (f"{name}: {', '.join(inside)}, inside the majority baseline's 95 % interval "
            f"({low:.1%}-{high:.1%} on {n} test trials) after {epochs} epochs")


def _seeds_not_learned(name: str, v) -> str | None:
    """:func:`not_learned` for a figure over training seeds (:meth:`Estimate.above_chance`)."""
    if v.above_chance():
        return None
    why = (f"the t-interval of their mean ({100 * v.low:.1f}-{100 * v.high:.1f} %) reaching the baseline {v.baseline:.1%}"
           if v.n > 1 else f"inside the majority baseline's 95 % interval (up to {v.baseline_high:.1%})")
    return f"{name}, {_pm(v)} over {v.n} training seed{'s' if v.n > 1 else ''}, {why}, after {v.epochs} epochs"


def fixed_split_warning(fixed: dict, *, profile: str | None = None) -> Markdown | None:
    """:func:`budget_warning` for the headline honest fixed-split figure over the training seeds."""
    seeds = seed_figures(fixed)
    w = seed_headline(seeds)
    return budget_warning([_seeds_not_learned(f"{m.upper()} {t}: {SEED_FIGURE_LABELS[w]}", v[w])
                           for (m, t), v in seeds.items()], profile=profile)


def folds_warning(runs: dict, which: str, *, profile: str | None = None) -> Markdown | None:
    """:func:`budget_warning` for cross-validations: the mean of the folds' ``which`` figure against
    the baseline's interval on all their test trials."""
    items = []
    for (model, target), recs in runs.items():
        f = folds(recs, which)
        items.append(not_learned(f"{model.upper()} {target}", {f"mean of {f.n} folds": f.mean}, f.baseline,
                                 f.n_test, f.epochs))
    return budget_warning(items, profile=profile)


def protocols_warning(summary: dict, *, profile: str | None = None) -> Markdown | None:
    """:func:`budget_warning` for the honest protocols of :func:`~deap_lib.evaluation.summaries.protocol_summary`
    results; when an experiment is at chance under leave-one-subject-out but above it where
    participants are mixed, it says so: with the same budget, the models did learn."""
    items, learned_elsewhere = [], []
    for (model, target), by in summary.items():
        flags = {}
        for protocol, v in by.items():
            if protocol is Protocol.BEST_ON_TEST:
                continue
            name = f"{model.upper()} {target}"
            flags[protocol] = (_seeds_not_learned(f"{name}: {protocol.value}", v) if v.interval == "t over seeds"
                               else not_learned(name, {protocol.value: v.mean}, v.baseline, v.n_test, v.epochs))
            items.append(flags[protocol])
        learned = [p.value for p, f in flags.items() if f is None and p is not Protocol.LOSO]
        if flags[Protocol.LOSO] and learned:
            learned_elsewhere.append(f"{model.upper()} {target} ({'; '.join(learned)})")
    context = ""
    if learned_elsewhere:
        context = ("With the same epochs, these models are above chance where participants are mixed: "
                   + ", ".join(learned_elsewhere) + ". Leave-one-subject-out at chance then also says that what "
                   "they learned does not carry over to a new participant.")
    return budget_warning(items, profile=profile, context=context)


def budget_warning(items: list[str | None], *, profile: str | None = None, context: str = "") -> Markdown | None:
    """An admonition listing the honest figures not distinguishable from the majority baseline (None,
    so no output at all, when there are none). ``context``: a sentence computed by the caller."""
    items = [i for i in items if i]
    if not items:
        return None
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


def cv_rows(runs: dict, reported: tuple[str, dict] | None = None) -> list[dict]:
    """One row per cross-validation: last-epoch mean over folds with its spread. ``reported``: the
    last column's heading and ``{key: text}``; default the report's DEAP 32-fold figures, its arousal
    ones marked "(a)" (its arousal run used valence labels)."""
    if reported is None:
        reported = ("report, DEAP (32 folds)", {key: _pct(v) + (" (a)" if key in paper.KFOLD32_CAVEAT else "")
                                                for key, v in paper.KFOLD32.items()})
    rows = []
    for (model, target), recs in runs.items():
        f = folds(recs, "last")
        rows.append({
            "experiment": f"{model.upper()} {target}", "folds x seeds": f"{f.n} x {f.seeds}",
            "mean (t over folds)": f"{f.mean:.1%} ({f.low:.0%}-{f.high:.0%})",
            "fold range": f"{f.min:.0%}-{f.max:.0%}", "sd: folds / seeds": spread_text(f),
            "majority": _pct(f.baseline), reported[0]: reported[1].get((model, target), "not reported"),
        })
    return rows


def _points(sd: float) -> str:
    return "-" if math.isnan(sd) else f"{100 * sd:.1f}"


def spread_text(f) -> str:
    """A cross-validation's spread in two (:func:`~deap_lib.evaluation.summaries.folds`): the folds'
    means and one fold's seeds, in percentage points."""
    return f"{_points(f.fold_sd)} / {_points(f.seed_sd)} pts"


def spread_note(runs: dict, which: str = "last") -> Markdown:
    """How much of each cross-validation's spread is the folds and how much the training seeds."""
    parts = []
    for (m, t), recs in runs.items():
        f = folds(recs, which)
        if math.isnan(f.seed_sd):
            parts.append(f"{m.upper()} {t}: one training seed per fold, so the spread of its {f.n} folds "
                         "mixes the fold and the seed")
            continue
        fold = "cannot be measured from one fold" if math.isnan(f.fold_sd) else f"{_points(f.fold_sd)} points"
        parts.append(f"{m.upper()} {t}: the {f.n} folds' means (each over {f.seeds} training seeds) spread by "
                     f"{fold} (sd), one fold's seeds by {_points(f.seed_sd)} points")
    return Markdown("**Folds and seeds** (standard deviations of the test accuracy):\n\n"
                    + "\n".join(f"- {part}." for part in parts))


def protocol_rows(summary: dict) -> list[dict]:
    """Table rows of :func:`~deap_lib.evaluation.summaries.protocol_summary` results, one per experiment."""
    rows = []
    for (m, t), by in summary.items():
        row = {"experiment": f"{m.upper()} {t}"}
        for protocol, v in by.items():
            row[protocol.heading] = f"{v.mean:.1%}" + ("" if v.interval == "none" else f" ({v.low:.1%}-{v.high:.1%})")
        row["majority, LOSO"] = _pct(by[Protocol.LOSO].baseline)
        rows.append(row)
    return rows


def verdict(name: str, mean: float, low: float, high: float, baseline: float) -> str:
    """One sentence comparing an accuracy and its interval with its chance level."""
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


def five_by_two_section(values: dict, five: dict | None) -> "Markdown":
    """The 5x2cv comparison of the DNN and the CNN on valence (``five``:
    :func:`deap_lib.report.chapters.five_by_two`) as a table and sentences, or why it was not run."""
    r = paper.FIVE_BY_TWO
    report_p = float(2 * scipy.stats.t.sf(abs(r["t"]), df=5))  # the report gave t only
    said = (f"The report found t = {r['t']:.3f} on DEAP at {r['epochs']} epochs, which with 5 degrees of freedom "
            f"is a two-sided p of {report_p:.3f}.")
    e = values["five_by_two_epochs"]
    if five is None:
        return Markdown(f":::{{admonition}} Not run in the `{values['profile']}` profile\n:class: note\n{said} The test trains each "
                        "model ten times (on 640 trials each); within this profile's time those models would not "
                        "learn, and a test between two untrained models says nothing. The `paper` profile runs it "
                        f"at {r['epochs']} epochs.\n:::")
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


def seed_headline(seeds: dict) -> str:
    """The headline honest figure: of the last epoch and the mean of the last k epochs, the one
    whose spread over seeds is smaller here (:func:`deap_lib.evaluation.summaries.steadier`)."""
    return steadier(seeds)["choice"]


def _pm(v) -> str:
    """"58.7 ± 1.7 % (55.9-60.2)": mean, sd and range over seeds, in percent."""
    sd = "" if math.isnan(v.sd) else f" ± {100 * v.sd:.1f}"
    return f"{100 * v.mean:.1f}{sd} % ({100 * v.min:.1f}-{100 * v.max:.1f})"


def _seed_clause(v) -> str:
    """"3 of 5 seeds above the baseline's interval; the t-interval over seeds (55-66 %) includes
    the baseline 53.0 %"."""
    clause = f"{v.n_above} of {v.n} seeds above the majority baseline's 95 % interval (> {v.baseline_high:.1%})"
    if v.n < 2:
        return clause
    side = "excludes" if v.low > v.baseline else "includes"
    return clause + f"; the t-interval of the mean over seeds ({v.low:.1%}-{v.high:.1%}) {side} the baseline {v.baseline:.1%}"


def _said(v) -> str:
    return "above chance" if v.above_chance() else "not told from chance"


def seed_rows(seeds: dict) -> list[dict]:
    """One row per fixed-split experiment over its training seeds: each figure's mean ± sd (range),
    the baseline, how many seeds beat its interval, and the verdict on the headline figure."""
    w = seed_headline(seeds)
    other = "last" if w == "last_k" else "last_k"
    rows = []
    for (m, t), v in seeds.items():
        h = v[w]
        rows.append({
            "experiment": f"{m.upper()} {t}", f"{SEED_FIGURE_LABELS[w]} (headline)": _pm(h),
            SEED_FIGURE_LABELS[other]: _pm(v[other]), "best on test (optimistic)": _pm(v["as_reported"]),
            "majority (95 % upper)": f"{100 * h.baseline:.1f} % ({100 * h.baseline_high:.1f})",
            "seeds above it": f"{h.n_above} of {h.n}",
            "verdict (t-interval over seeds)": _said(h) + ("" if h.n < 2 else f" ({100 * h.low:.1f}-{100 * h.high:.1f} %)"),
        })
    return rows


def seed_numbers(seeds: dict) -> dict:
    """The numbers the seeds section quotes: the number of seeds, k, both honest figures' spreads
    (root mean of the experiments' seed variances), the headline choice, and the best-on-test spread."""
    choice = steadier(seeds)
    first = next(iter(seeds.values()))["last"]
    best_sd = float(np.sqrt(np.mean([v["as_reported"].sd ** 2 for v in seeds.values()])))
    return {"n_seeds": first.n, "last_k": min(LAST_K, first.epochs), "sd_last": choice["sd"]["last"],
            "sd_last_k": choice["sd"]["last_k"], "sd_best": best_sd,
            "headline_figure": SEED_FIGURE_LABELS[choice["choice"]],
            "other_figure": SEED_FIGURE_LABELS["last" if choice["choice"] == "last_k" else "last_k"]}


def seed_verdicts(seeds: dict) -> Markdown:
    """One line per experiment, computed from the distribution over seeds of the headline figure."""
    w = seed_headline(seeds)
    lines = [f"- **{m.upper()} {t}**: {_said(v[w])}: {_seed_clause(v[w])}." for (m, t), v in seeds.items()]
    return Markdown(f":::{{admonition}} Verdicts over training seeds ({SEED_FIGURE_LABELS[w]})\n:class: note\n"
                    + "\n".join(lines) + "\n:::")


def model_comparison_rows(seeds: dict) -> list[dict]:
    """DNN against CNN per target over training seeds, on the headline honest figure: both means,
    their difference beside the seed spreads, Welch's t-test and the share of seed pairs the DNN wins."""
    w = seed_headline(seeds)
    rows = []
    for t in dict.fromkeys(t for _, t in seeds):
        if ("dnn", t) not in seeds or ("cnn", t) not in seeds:
            continue
        a, b = seeds["dnn", t][w], seeds["cnn", t][w]
        c = compare_over_seeds(a.values, b.values)
        rows.append({
            "target": t, "DNN mean": f"{a.mean:.1%}", "CNN mean": f"{b.mean:.1%}",
            "DNN - CNN": f"{100 * c['difference']:+.1f} points",
            "seed sd (DNN / CNN)": f"{100 * c['sd_a']:.1f} / {100 * c['sd_b']:.1f} points",
            "Welch's t (p)": "-" if math.isnan(c["t"]) else f"{c['t']:.2f} ({c['p_value']:.2f})",
            "seed pairs the DNN wins": f"{c['share_a_wins']:.0%}",
        })
    return rows
