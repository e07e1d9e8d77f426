"""What each chapter computes from its settings: the runs, baselines and maps behind its pages.

Numbers and records only: :mod:`deap_lib.report.pages` words and tables them, :mod:`deap_lib.report.plotting`
draws them. ``values`` is a chapter's settings (:func:`deap_lib.experiment.settings.chapter_settings`). Each
chapter asks for the runs it shows (stored ones are read, missing ones trained), so chapters run in any
order, or alone, with the same numbers.
"""

from __future__ import annotations

from sklearn.model_selection import KFold

from deap_lib import models
from deap_lib.data import deap_format, synthetic
from deap_lib.data.dataset import Prepared
from deap_lib.data.labels import TARGETS
from deap_lib.evaluation import summaries
from deap_lib.experiment import baselines, importance, protocols
from deap_lib.experiment.settings import EXPERIMENTS, ParameterError, cv_experiments, experiment
from deap_lib.report import paper


def where(values: dict, *, device: bool = True) -> dict:
    """Where a chapter's runs execute: ``n_jobs`` local processes, or the Dask cluster at ``scheduler``
    (None: ``$DASK_SCHEDULER_ADDRESS``), on ``device`` (None: CUDA where the runs execute has it)."""
    out = {"n_jobs": values["n_jobs"], "scheduler": values.get("scheduler")}
    return {**out, "device": values.get("device")} if device else out


def prepared(values: dict) -> Prepared:
    """The prepared features a chapter's settings name (cached)."""
    return experiment(values).prepare(progress=False)


def fixed_runs(values: dict, data: Prepared, experiments=EXPERIMENTS) -> dict:
    """The fixed split of each (model, target) experiment with each of the profile's ``train_seeds``
    training seeds (0, 1, ...), all on the one split ``seed`` chooses: ``{(model, target): [FixedRun
    per training seed]}``, seed 0 (the report's one run) first."""
    n = values.get("train_seeds", 1)
    configs = [experiment(values, model=m, target=t, train_seed=i) for m, t in experiments for i in range(n)]
    runs = protocols.run_fixed(configs, data, **where(values), progress=False)
    return {key: runs[j * n:(j + 1) * n] for j, key in enumerate(experiments)}


def _seeded(run, values: dict, config, data: Prepared, **kwargs) -> list:
    """``run`` (a protocol of :mod:`deap_lib.experiment.protocols`) with each of the profile's
    ``fold_seeds`` training seeds on the same folds: every fold record, seed after seed."""
    return [r for i in range(values.get("fold_seeds", 1))
            for r in run(config.replace(train_seed=i), data, **kwargs, **where(values), progress=False)]


def models_chapter(values: dict) -> dict:
    """The models chapter: the data, both models and their fixed-split runs on the chapter's target,
    and the numbers its prose quotes. Returns ``{"data", "configs": {model: config}, "nets": {model:
    nn.Module}, "fixed": {(model, target): [FixedRun]}, "numbers"}``."""
    data = prepared(values)
    target = values["target"]
    fixed = fixed_runs(values, data, [(m, target) for m in models.MODEL_NAMES])
    configs = {m: fixed[m, target][0].config for m in models.MODEL_NAMES}
    nets = {m: models.build_model(m, **c.model_kwargs) for m, c in configs.items()}
    first = fixed["dnn", target][0]
    numbers = {"epochs": values["epochs"], "n_fit_report": len(first.report.fit),
               "majority": first.summary.majority_baseline}
    for m in models.MODEL_NAMES:
        s = fixed[m, target][0].summary
        numbers.update({f"n_params_{m}": models.count_parameters(nets[m]), f"n_params_report_{m}": paper.N_PARAMS[m],
                        **{f"acc_{k}_{m}": getattr(s, k).accuracy for k in ("as_reported", "last")},
                        **{f"epoch_{k}_{m}": getattr(s, k).epoch for k in ("as_reported", "last")}})
    return {"data": data, "configs": configs, "nets": nets, "numbers": numbers, "fixed": fixed}


def kfold_runs(values: dict, data: Prepared, experiments=None) -> dict:
    """The report's random k-fold of each of the :func:`~deap_lib.experiment.settings.cv_experiments`
    (or of ``experiments``), each fold with the profile's ``fold_seeds``: ``{(model, target): [fold records]}``."""
    return {(m, t): _seeded(protocols.run_kfold, values, experiment(values, model=m, target=t, epochs=values["cv_epochs"]),
                            data, n_folds=values["n_folds"], holdout=values["kfold_holdout"])
            for m, t in (experiments or cv_experiments(values))}


def loso_runs(values: dict, data: Prepared) -> dict:
    """Leave-one-subject-out of each of the :func:`~deap_lib.experiment.settings.cv_experiments`, each
    fold with the profile's ``fold_seeds``: ``{(model, target): [fold records]}``."""
    return {(m, t): _seeded(protocols.run_loso, values, experiment(values, model=m, target=t, epochs=values["loso_epochs"]),
                            data, holdout=values["loso_holdout"])
            for m, t in cv_experiments(values)}


def protocol_runs(values: dict, data: Prepared) -> dict:
    """Every protocol of the report's question: ``{"fixed": {key: pair}, "kfold": {key: records},
    "loso": {key: records}, "summary": {key: protocol_summary}}`` (k-fold and LOSO, and so the
    summary, for the :func:`~deap_lib.experiment.settings.cv_experiments`)."""
    fixed = fixed_runs(values, data)
    kfold, loso = kfold_runs(values, data), loso_runs(values, data)
    headline = summaries.steadier(summaries.seed_figures(fixed))["choice"]  # the fixed-split chapter's
    summary = {key: summaries.protocol_summary(fixed[key], kfold[key], loso[key], seeds_figure=headline)
               for key in loso}
    return {"fixed": fixed, "kfold": kfold, "loso": loso, "summary": summary}


def five_by_two(values: dict, data: Prepared) -> dict | None:
    """The report's 5x2cv test of the DNN against the CNN on valence; None when the profile does not run it."""
    epochs = values["five_by_two_epochs"]
    if epochs is None:
        return None
    return protocols.five_by_two(experiment(values, model="dnn", target="valence", epochs=epochs),
                                 experiment(values, model="cnn", target="valence", epochs=epochs),
                                 data, **where(values), progress=False)


def classical_baselines(values: dict, data: Prepared, runs: dict) -> dict:
    """Classical classifiers and the deep models on exactly the deep models' splits.

    ``runs``: :func:`protocol_runs`. Returns ``{(method, target): {scheme: fold summary}}`` for
    the three scikit-learn classifiers, each deep model of the cross-validation experiments (last
    epoch) and the majority baseline, on "fixed split", "random k-fold" and "LOSO".
    """
    key = next(iter(runs["loso"]))
    schemes = {"fixed split": [runs["fixed"][key][0].report], "random k-fold": runs["kfold"][key],
               "LOSO": runs["loso"][key]}
    out = {}
    for t in TARGETS:
        for name in baselines.CLASSIFIERS:
            fitted = {s: baselines.run_baseline(name, data, t, protocols.tested_splits(recs), seed=values["seed"],
                                                **where(values, device=False)) for s, recs in schemes.items()}
            out[baselines.LABELS[name], t] = {s: summaries.baseline_folds(recs) for s, recs in fitted.items()}
        for m in [m for m, tt in runs["loso"] if tt == t]:
            deep = {"fixed split": [runs["fixed"][m, t][0].report], "random k-fold": runs["kfold"][m, t],
                    "LOSO": runs["loso"][m, t]}
            out[f"{m.upper()} (last epoch)", t] = {s: summaries.folds(recs, "last") for s, recs in deep.items()}
        logreg = out[baselines.LABELS["logreg"], t]
        out["majority baseline", t] = {s: v.replace(mean=v.baseline) for s, v in logreg.items()}
    return out


def permutation_tests(values: dict, data: Prepared) -> dict:
    """A linear SVM's random 3-fold accuracy against labels shuffled within participants, per target."""
    return {t: baselines.permutation_null(
        "linear_svm", data, t, cv=KFold(3, shuffle=True, random_state=values["seed"]), groups=data.participant,
        n_permutations=values["n_permutations"], seed=values["seed"], **where(values, device=False)) for t in TARGETS}


def scalp_maps(runs: dict, data: Prepared) -> dict:
    """Per channel and target: the effect size of the windowed standard deviation, and the
    fixed-split CNN's occlusion importance (test-loss increase when the channel is blanked).
    Returns ``{(target, "effect" | "occlusion"): ndarray, shape (32,)}``."""
    maps = {}
    for t in TARGETS:
        maps[t, "effect"] = importance.channel_effects(data.features, data.labels(t), stat="std")
        record = runs["fixed"]["cnn", t][0].report
        test = record.split.test
        maps[t, "occlusion"] = importance.channel_occlusion(
            protocols.load_weights(record), data.features[test].astype("float32"), data.labels(t)[test], metric="loss")
    return maps


def planted_effects(maps: dict) -> dict:
    """How the effect maps compare with what the twin plants (:data:`deap_lib.data.synthetic.REGIONS`):
    the arousal effect over posterior channels against the others, and the valence effect's
    right-minus-left frontal asymmetry."""
    index = {name: [deap_format.EEG_CHANNELS.index(c) for c in chans] for name, chans in synthetic.REGIONS.items()}
    arousal, valence = maps["arousal", "effect"], maps["valence", "effect"]
    posterior = float(arousal[index["posterior"]].mean())
    others = float(arousal[[i for i in range(len(arousal)) if i not in index["posterior"]]].mean())
    asymmetry = float(valence[index["right frontal"]].mean() - valence[index["left frontal"]].mean())
    return {"posterior_d": posterior, "other_d": others, "asym_d": asymmetry,
            "recovered": posterior < others and asymmetry > 0}


def negative_control(values: dict, data: Prepared) -> dict | None:
    """The honest figures again on a null twin (effect ``control_effect``), judged against chance
    (:func:`deap_lib.evaluation.summaries.judge_control`); None on real DEAP or without a control."""
    if values["control_effect"] is None or data.source.kind != "twin":
        return None
    null_data = experiment(values, twin_effect=values["control_effect"]).prepare(progress=False)
    null_runs = protocol_runs(values, null_data)
    loso = protocols.tested_splits(next(iter(null_runs["loso"].values())))
    logreg = {t: baselines.run_baseline("logreg", null_data, t, loso, seed=values["seed"], **where(values, device=False))
              for t in TARGETS}
    return summaries.judge_control(null_runs["summary"], logreg)


def mahnob_chapter(values: dict) -> dict:
    """The same models on MAHNOB-HCI: the prepared sessions, the fixed split of the profile's
    ``mahnob_experiments`` (all four when None) and the random k-fold of those whose model
    :func:`~deap_lib.experiment.settings.cv_experiments` cross-validates (``{"data", "fixed", "kfold"}``),
    every run for ``mahnob_epochs`` epochs.
    ``values["dataset"]`` must be "mahnob"."""
    if values.get("dataset") != "mahnob":
        raise ParameterError(f"this chapter runs on MAHNOB-HCI: dataset must be 'mahnob', got {values.get('dataset')!r}")
    values = {**values, "epochs": values["mahnob_epochs"], "cv_epochs": values["mahnob_epochs"]}
    data = prepared(values)
    chosen = cv_experiments(values, "mahnob_experiments")
    cv_models = {m for m, _ in cv_experiments(values)}
    fixed = fixed_runs(values, data, chosen)
    return {"data": data, "fixed": fixed, "kfold": kfold_runs(values, data, [(m, t) for m, t in chosen if m in cv_models])}

