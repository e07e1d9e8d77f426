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
dataset = None  # deap (default) or mahnob: this chapter on MAHNOB-HCI ($MAHNOB_DIR, else its twin)
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
scheduler = None  # a Dask scheduler's address (tcp://host:8786): runs go to that cluster; None: $DASK_SCHEDULER_ADDRESS, else here
device = None  # "cpu" or "cuda"; None: CUDA where the runs execute has it
train_seeds = None  # training seeds per fixed-split experiment, all on its one split (the report: 1)
fold_seeds = None  # training seeds per fold of the cross-validations
precision = None  # float32 (the report's), bfloat16, or auto (bf16 where the hardware does it natively); None: the profile's
control_effect = None  # effect size of the negative-control twin (0: null); None: no control
nonfinite = None  # trials with NaN/inf features: "error" (default), "drop" or "impute"

# %% tags=["remove-input"]
from deap_lib.experiment import settings
from deap_lib.report import chapters, pages, plotting

values = settings.chapter_settings(globals())
data = chapters.prepared(values)
runs = chapters.protocol_runs(values, data)
pages.glue_all(pages.honest_numbers(values, data, runs))
pages.page_header(values, data)

# %% [markdown]
# ## Leave-one-subject-out
#
# Each fold trains on every participant but one and tests on that one's 40 trials;
# {glue:text}`loso_rule`. Here {glue:text}`n_loso` of the {glue:text}`n_participants` participants are tested, with
# {glue:text}`loso_epochs` epochs per fold. Each dot is one training seed on one participant (seeds that agree overlap); the grey bar is what
# predicting the training participants' majority class would score on that participant.

# %% tags=["remove-input"] mystnb={"figure": {"caption": "Leave-one-subject-out test accuracy per held-out participant (honest epoch: validation-chosen when a validation set is held out, else the last), with each participant's majority-class baseline (grey bars).", "name": "fig-loso"}}
fig = plotting.plot_loso(runs["loso"])

# %% tags=["remove-input"]
pages.folds_warning(runs["loso"], "val_chosen", profile=values["profile"])

# %% tags=["remove-input"]
pages.spread_note(runs["loso"], "val_chosen")

# %% tags=["remove-cell"]
# The headline numbers as plain output, for this notebook executed outside the book (papermill, Jupyter)
print(pages.headline_folds(runs["loso"], "val_chosen", "leave-one-subject-out (honest epoch)"))

# %% [markdown]
# The class balance of each held-out participant's trials and of the participants trained on:

# %% tags=["remove-input"]
pages.md_table(pages.balance_rows(data, [r for recs in runs["loso"].values() for r in recs]))

# %% tags=["remove-input"]
pages.reduced_note(values, "experiments", [f"{m.upper()} {t}" for m, t in runs["loso"]], settings.EXPERIMENTS,
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
fig = plotting.plot_protocols(runs["summary"])

# %% tags=["remove-input"]
pages.md_table(pages.protocol_rows(runs["summary"]))

# %% tags=["remove-input"]
pages.protocols_warning(runs["summary"], profile=values["profile"])

# %% [markdown]
# ## Classical baselines on the same features and splits
#
# A deep model is only interesting if it beats something simple. Logistic regression, a linear SVM
# and a random forest (features standardized on the training rows only) on exactly the same
# splits: the fixed split, the same random k-fold folds, and the same LOSO participants.

# %% tags=["remove-input"]
pages.md_table(pages.classical_rows(chapters.classical_baselines(values, data, runs)))

# %% [markdown]
# ## Chance, done properly
#
# The majority class is one chance level. A stricter one asks what the same classifier scores
# when the link between signal and label is destroyed. Shuffling labels **within each
# participant** keeps every participant's share of high ratings, so the null distribution below
# includes what random k-fold gains just from recognising the participant; only a signal that
# varies from trial to trial within a participant can beat it. (Linear SVM, 3 random folds.)

# %% tags=["remove-input"] mystnb={"figure": {"caption": "Random 3-fold accuracy of a linear SVM with labels shuffled within participants (histogram) and with the real labels (red line), per target.", "name": "fig-permutation"}}
perm = chapters.permutation_tests(values, data)
fig = plotting.plot_permutation(perm)
pages.glue_all(pages.permutation_numbers(perm))

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
maps = chapters.scalp_maps(runs, data)
fig = plotting.plot_topomaps(maps)
effects = chapters.planted_effects(maps)
pages.glue_all({**effects, "recovered": "recover both" if effects["recovered"] else "do not clearly recover both"})

# %% [markdown]
# On this build's data, the arousal effect over parieto-occipital channels averages
# d = {glue:text}`posterior_d:.2f` (elsewhere {glue:text}`other_d:.2f`), and the valence effect is
# {glue:text}`asym_d:.2f` larger on the right frontal channels than on the left. On the synthetic
# twin the planted effects are exactly these (higher arousal lowers posterior alpha; higher valence
# lowers left-frontal and raises right-frontal alpha), and this build's maps
# {glue:text}`recovered`.
# What the maps show on real DEAP is unknown until someone runs this chapter on it.

# %% tags=["remove-input"]
control = chapters.negative_control(values, data)

# %% [markdown]
# ## Negative control: the null twin
#
# The same honest figures on a twin whose ratings are independent of the signal
# (effect size 0; run in the smoke profile and whenever `control_effect` is set). Every honest
# figure must sit at chance. Skipped when this chapter runs on real DEAP or without a control.

# %% tags=["remove-input"]
pages.md_table(pages.control_rows(control))

# %% [markdown]
# ## What holds and what does not
#
# Each sentence below is written from this build's numbers.

# %% tags=["remove-input"]
pages.conclusions(runs["summary"], control)
