# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Honest evaluation: emotion in a person the model has never seen?
#
# The report's own conclusion is that its accuracies are fragile, and audits of DEAP papers find
# most published figures inflated by evaluation choices. This chapter asks the question readers
# actually have: does the method recognise high or low valence and arousal **in a participant it
# was not trained on**, better than chance? It answers with leave-one-subject-out (LOSO)
# evaluation, the same question under every protocol side by side, classical baselines on the same
# features, a permutation test, and maps of where on the scalp the information is.

# %% tags=["parameters", "hide-cell"]
profile = None  # smoke | quick | paper; None: $DEAP_LIB_PROFILE, else quick. Fills every None below
deap_dir = None  # DEAP's data_preprocessed_python folder; None: $DEAP_DIR, else the twin
participants = None
twin_effect = None
seed = None
epochs = None  # fixed split (as in the fixed-split chapter)
val_fraction = None  # held out for choosing an epoch honestly (fixed split, LOSO); 0: the last epoch
cv_epochs = None  # random k-fold (as in the k-fold chapter)
n_folds = None
kfold_holdout = None
loso_epochs = None  # epochs per LOSO fold
loso_holdout = None  # how many participants are held out (None: all)
n_permutations = None
n_jobs = None
control_effect = None  # effect size of the negative-control twin (0: null); None: no control
nonfinite = None  # trials with NaN/inf features: "error" (default), "drop" or "impute"

# %% tags=["remove-input"]
import numpy as np
from myst_nb import glue
from sklearn.model_selection import KFold

from deap_lib import baselines, book, importance, io, plotting, splits, training
from deap_lib.dataset import prepare, resolve_source

values = book.settings(globals())
base = book.experiment_config(values)
data = base.prepare(progress=False)
MODELS, TARGETS = ("dnn", "cnn"), ("valence", "arousal")
runs = book.protocol_runs(values, data)
keys = list(runs["loso"])
n_loso = len(runs["loso"][keys[0]])
glue("n_loso", n_loso, display=False)
glue("n_participants", len(np.unique(data.participant)), display=False)
glue("loso_epochs", values["loso_epochs"], display=False)
glue("loso_rule", "the epoch is chosen on a validation set of other participants held out of training, never on "
     "the test participant" if values["val_fraction"] > 0 else "the last epoch is taken (this profile holds no "
     "validation set out: val_fraction is 0), so nothing is chosen on the test participant", display=False)
glue("honest_epoch", book.HONEST_EPOCH, display=False)
book.page_header(values, data)

# %% [markdown]
# ## Leave-one-subject-out
#
# Each fold trains on every participant but one and tests on that one's 40 trials;
# {glue:text}`loso_rule`. Here {glue:text}`n_loso` of the {glue:text}`n_participants` participants are tested, with
# {glue:text}`loso_epochs` epochs per fold. Each dot is one participant; the grey bar is what
# predicting the training participants' majority class would score on that participant.

# %% tags=["remove-input"] mystnb={"figure": {"caption": "Leave-one-subject-out test accuracy per held-out participant (honest epoch: validation-chosen when a validation set is held out, else the last), with each participant's majority-class baseline (grey bars).", "name": "fig-loso"}}
fig = plotting.plot_loso(runs["loso"])

# %% tags=["remove-input"]
book.folds_warning(runs["loso"], "val_chosen", profile=values["profile"])

# %% tags=["remove-cell"]
# The headline numbers as plain output, for this notebook executed outside the book (papermill, Jupyter)
print(book.headline_folds(runs["loso"], "val_chosen", "leave-one-subject-out (honest epoch)"))

# %% [markdown]
# The class balance of each held-out participant's trials and of the participants trained on:

# %% tags=["remove-input"]
book.md_table(book.balance_rows(data, [r for recs in runs["loso"].values() for r in recs]))

# %% tags=["remove-input"]
book.reduced_note(values, "experiments", [f"{m.upper()} {t}" for m, t in keys], book.EXPERIMENTS,
                  "Leave-one-subject-out and random k-fold run only these, to give them enough epochs within "
                  "the build's time; the `paper` profile runs all four.")

# %% [markdown]
# ## One question, four protocols
#
# The same models on the same data, evaluated four ways: the report's best epoch on a fixed test
# set (chosen on that test set), the fixed split at its honest epoch, the report's random k-fold
# (participants mixed), and leave-one-subject-out. The honest epoch is {glue:text}`honest_epoch`.
# Bars are 95 % intervals
# (Wilson for the single split; for the cross-validations a t-interval over folds, which share
# training data, so it shows the folds' spread rather than a confidence interval); the best-on-test
# figure has none, since no valid interval exists for a maximum chosen on the test trials. The
# dotted line is the majority baseline.

# %% tags=["remove-input"] mystnb={"figure": {"caption": "How the accuracy moves with the evaluation protocol, for each model and target, against the majority-class baseline (dotted).", "name": "fig-protocols"}}
summary = {key: book.protocol_summary(runs["fixed"][key], runs["kfold"][key], runs["loso"][key]) for key in keys}
fig = plotting.plot_protocols(summary)

# %% tags=["remove-input"]
book.md_table(book.protocol_rows(summary))

# %% tags=["remove-input"]
book.protocols_warning(summary, profile=values["profile"])

# %% [markdown]
# ## Classical baselines on the same features and splits
#
# A deep model is only interesting if it beats something simple. Logistic regression, a linear SVM
# and a random forest (features standardized on the training rows only) on exactly the same
# splits: the fixed split, the same random k-fold folds, and the same LOSO participants.

# %% tags=["remove-input"]
# exactly the deep models' splits, read from their stored records
schemes = {
    name: [splits.Split.from_dict(r["split"]) for r in recs]
    for name, recs in (("fixed split", [runs["fixed"][keys[0]]["report"]]),
                       ("random k-fold", runs["kfold"][keys[0]]), ("LOSO", runs["loso"][keys[0]]))
}
classical = {
    (name, t, scheme): baselines.run_baseline(name, data, t, sp, seed=base.seed, n_jobs=values["n_jobs"])
    for name in baselines.CLASSIFIERS for t in TARGETS for scheme, sp in schemes.items()
}
rows = []
for t in TARGETS:
    for name in baselines.CLASSIFIERS:
        rows.append({"method": baselines.LABELS[name], "target": t, **{s: f"{np.mean([r['accuracy'] for r in classical[name, t, s]]):.1%}" for s in schemes}})
    for m in [m for m in MODELS if (m, t) in keys]:
        rows.append({"method": f"{m.upper()} (last epoch)", "target": t, **{
            s: f"{np.mean([r['summary']['last']['accuracy'] for r in recs]):.1%}"
            for s, recs in zip(schemes, ([runs["fixed"][m, t]], runs["kfold"][m, t], runs["loso"][m, t]))}})
    rows.append({"method": "majority baseline", "target": t, **{s: f"{np.mean([r['majority_baseline'] for r in classical['logreg', t, s]]):.1%}" for s in schemes}})
book.md_table(rows)

# %% [markdown]
# ## Chance, done properly
#
# The majority class is one chance level. A stricter one asks what the same classifier scores
# when the link between signal and label is destroyed. Shuffling labels **within each
# participant** keeps every participant's share of high ratings, so the null distribution below
# includes what random k-fold gains just from recognising the participant; only a signal that
# varies from trial to trial within a participant can beat it. (Linear SVM, 3 random folds.)

# %% tags=["remove-input"] mystnb={"figure": {"caption": "Random 3-fold accuracy of a linear SVM with labels shuffled within participants (histogram) and with the real labels (red line), per target.", "name": "fig-permutation"}}
perm = {
    t: baselines.permutation_null("linear_svm", data, t, cv=KFold(3, shuffle=True, random_state=base.seed),
                                  groups=data.participant, n_permutations=values["n_permutations"],
                                  seed=base.seed, n_jobs=values["n_jobs"])
    for t in TARGETS
}
fig = plotting.plot_permutation(perm)
for t in TARGETS:
    glue(f"perm_p_{t}", perm[t]["p_value"], display=False)
    glue(f"perm_null_{t}", float(np.mean(perm[t]["null"])), display=False)
    glue(f"perm_obs_{t}", perm[t]["observed"], display=False)

# %% [markdown]
# For valence the real labels give {glue:text}`perm_obs_valence:.1%` against a within-participant
# null averaging {glue:text}`perm_null_valence:.1%` (permutation p = {glue:text}`perm_p_valence:.3f`);
# for arousal {glue:text}`perm_obs_arousal:.1%` against {glue:text}`perm_null_arousal:.1%`
# (p = {glue:text}`perm_p_arousal:.3f`). The smallest p this test can give is 1 / (1 + number of
# permutations).
#
# ## Where on the scalp
#
# Left: the effect size (Cohen's d, high minus low) of each channel's standard deviation,
# averaged over the ten windows: how much the signal's amplitude differs between high and low
# trials. Right: how much a model's test loss grows when that channel's 99 features are blanked
# out (occlusion; the loss is more sensitive than the accuracy on 100 trials), for the
# fixed-split CNN.

# %% tags=["remove-input"] mystnb={"figure": {"caption": "Per-channel effect size of the windowed standard deviation (left) and the fixed-split CNN's occlusion importance, the test-loss increase when a channel is blanked (right), for valence (top) and arousal (bottom), on the 10-20 montage.", "name": "fig-topomaps"}}
maps = {}
for t in TARGETS:
    maps[t, "effect"] = importance.channel_effects(data.features, data.labels(t), stat="std")
    record = runs["fixed"]["cnn", t]["report"]
    model = training.load_weights(record)
    test = np.array(record["split"]["test"])
    maps[t, "occlusion"] = importance.channel_occlusion(
        model, data.features[test].astype(np.float32), data.labels(t)[test], metric="loss")
fig = plotting.plot_topomaps(maps)
posterior = [io.EEG_CHANNELS.index(c) for c in ("P3", "P7", "PO3", "O1", "Oz", "Pz", "P4", "P8", "PO4", "O2")]
right = [io.EEG_CHANNELS.index(c) for c in ("Fp2", "AF4", "F4", "F8", "FC6")]
left = [io.EEG_CHANNELS.index(c) for c in ("Fp1", "AF3", "F3", "F7", "FC5")]
glue("posterior_d", float(maps["arousal", "effect"][posterior].mean()), display=False)
glue("other_d", float(np.delete(maps["arousal", "effect"], posterior).mean()), display=False)
asym_d = float(maps["valence", "effect"][right].mean() - maps["valence", "effect"][left].mean())
glue("asym_d", asym_d, display=False)
posterior_lower = maps["arousal", "effect"][posterior].mean() < np.delete(maps["arousal", "effect"], posterior).mean()
glue("recovered", "recover both" if posterior_lower and asym_d > 0 else "do not clearly recover both", display=False)

# %% [markdown]
# On this build's data, the arousal effect over parieto-occipital channels averages
# d = {glue:text}`posterior_d:.2f` (elsewhere {glue:text}`other_d:.2f`), and the valence effect is
# {glue:text}`asym_d:.2f` larger on the right frontal channels than on the left. On the synthetic
# twin the planted effects are exactly these (higher arousal lowers posterior alpha; higher valence
# lowers left-frontal and raises right-frontal alpha), and this build's maps
# {glue:text}`recovered`.
# What the maps show on real DEAP is unknown until someone runs this chapter on it.

# %% tags=["remove-input"]
control = None
if values.get("control_effect") is not None and data.source.kind == "twin":
    null_data = prepare(resolve_source(participants=base.participants, twin_seed=base.twin_seed,
                                       twin_effect=values["control_effect"]), progress=False)
    null_runs = book.protocol_runs(values, null_data)
    null_summary = {key: book.protocol_summary(null_runs["fixed"][key], null_runs["kfold"][key], null_runs["loso"][key])
                    for key in null_runs["loso"]}
    null_logreg = {t: baselines.run_baseline("logreg", null_data, t, training.loso_holdout_splits(null_data, values["loso_holdout"], seed=base.seed), seed=base.seed) for t in TARGETS}
    control = book.negative_control(null_summary, null_logreg)
    glue("control_effect", values["control_effect"], display=False)
    glue("control_ok", "yes" if control["all_at_chance"] else "**no**", display=False)

# %% [markdown]
# ## Negative control: the null twin
#
# The same honest figures on a twin whose ratings are independent of the signal
# (effect size 0; run in the smoke profile and whenever `control_effect` is set). Every honest
# figure must sit at chance. Skipped when this chapter runs on real DEAP or without a control.

# %% tags=["remove-input"]
book.md_table(control["rows"]) if control else book.md_table([{"negative control": "not run in this build"}])

# %% [markdown]
# ## What holds and what does not
#
# Each sentence below is written from this build's numbers.

# %% tags=["remove-input"]
from IPython.display import Markdown

lines = []
for (m, t), by_protocol in summary.items():
    best = by_protocol[book.PROTOCOLS[0]]["mean"]
    honest = by_protocol[book.PROTOCOLS[1]]["mean"]
    lines.append(f"- {m.upper()} {t}: this build's best-on-test figure (the report's protocol, {best:.1%}) minus its honest-epoch one ({honest:.1%}) on the same test trials: {100 * (best - honest):+.1f} points.")
    v = by_protocol[book.PROTOCOLS[3]]
    lines.append("  " + book.verdict(f"Across participants (LOSO, {v['n']} folds)", v["mean"], v["low"], v["high"], v["baseline"]))
    k = by_protocol[book.PROTOCOLS[2]]
    lines.append(f"  Random k-fold (participants mixed) says {k['mean']:.1%}: {100 * (k['mean'] - v['mean']):+.1f} points against LOSO.")
if control:
    lines.append(f"- Negative control (null twin): every honest figure at chance: {'yes' if control['all_at_chance'] else 'NO, investigate'}.")
Markdown("\n".join(lines))
