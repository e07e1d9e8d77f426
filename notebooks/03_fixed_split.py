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
# # Fixed-split results: DNN against CNN
#
# The report's headline comparison: both models trained on the same seeded 1180/100 split, for
# valence (as in the report) and arousal. It quoted the best test accuracy over all epochs of a
# run on all 1180 training trials; here that figure stands beside two honest ones (the same run's
# last epoch, and the epoch chosen on a validation set in a run of its own), each with a Wilson
# 95 % interval, and beside the majority-class baseline that the report did not state.

# %% tags=["parameters", "hide-cell"]
profile = None  # smoke | quick | paper; None: $DEAP_LIB_PROFILE, else quick. Fills every None below
dataset = None  # deap (default) or mahnob: this chapter on MAHNOB-HCI ($MAHNOB_DIR, else its twin)
deap_dir = None  # DEAP's data_preprocessed_python folder; None: $DEAP_DIR, else the twin
participants = None
twin_effect = None
seed = None
epochs = None  # the profile's (the report: 250)
n_test = None
val_fraction = None  # held out of the training trials in the honest run (0: no honest run)
nonfinite = None  # trials with NaN/inf features: "error" (default), "drop" or "impute"
n_jobs = None
scheduler = None  # a Dask scheduler's address (tcp://host:8786): runs go to that cluster; None: $DASK_SCHEDULER_ADDRESS, else here
device = None  # "cpu" or "cuda"; None: CUDA where the runs execute has it
train_seeds = None  # training seeds per fixed-split experiment, all on its one split (the report: 1)
fold_seeds = None  # training seeds per fold of the cross-validations
precision = None  # float32 (the report's), bfloat16, or auto (bf16 where the hardware does it natively); None: the profile's

# %% tags=["remove-input"]
from deap_lib.evaluation import summaries
from deap_lib.experiment import settings
from deap_lib.report import chapters, pages, plotting

values = settings.chapter_settings(globals())
data = chapters.prepared(values)
fixed = chapters.fixed_runs(values, data)
seeds = summaries.seed_figures(fixed)
pages.glue_all({**pages.fixed_split_numbers(fixed), **pages.seed_numbers(seeds)})
pages.page_header(values, data)

# %% [markdown]
# ## The split
#
# The report's code printed the class balance of both parts of its split; so does this chapter.

# %% tags=["remove-input"]
pages.md_table(pages.balance_rows(data, [runs[0].report for runs in fixed.values()]))

# %% [markdown]
# ## Test accuracy, epoch by epoch
#
# Each model was trained on all training trials for {glue:text}`epochs` epochs (the report: 250)
# and tested on the same {glue:text}`n_test` trials after every epoch, as the report did. A
# triangle marks the best epoch: the one the report quoted.

# %% tags=["remove-input"] mystnb={"figure": {"caption": "Valence: test accuracy per epoch of the DNN and the CNN on the same test trials; triangles mark the best epoch (chosen on the test set), the dotted line the majority-class baseline.", "name": "fig-fixed-valence"}}
fig = plotting.plot_test_curves({"DNN": fixed["dnn", "valence"][0].report, "CNN": fixed["cnn", "valence"][0].report}, title="valence")

# %% tags=["remove-input"] mystnb={"figure": {"caption": "Arousal: the same for the arousal target.", "name": "fig-fixed-arousal"}}
fig = plotting.plot_test_curves({"DNN": fixed["dnn", "arousal"][0].report, "CNN": fixed["cnn", "arousal"][0].report}, title="arousal")

# %% [markdown]
# ## The report's figure beside honest ones, for one training seed
#
# This section shows one run per experiment, training seed 0, as the report ran one (the next
# section shows what other seeds give on the same split). Each honest cell gives the test accuracy, its Wilson 95 % interval and the epoch it comes from.
# The best-on-test figure has no interval: it is the maximum over epochs chosen on these very
# test trials, and an interval computed as if it were one pre-chosen measurement would not cover
# what it claims. The last column is what the report stated on real DEAP; on the twin the two are
# not comparable.

# %% tags=["remove-input"]
pages.md_table(pages.fixed_split_rows(fixed))

# %% [markdown]
# ## Over training seeds: the verdicts
#
# One run is one draw of the training randomness: the initial weights, the order of the batches
# and the dropout masks. Each experiment was trained with {glue:text}`n_seeds` training seeds
# (the `train_seeds` parameter; the report ran one) on the same split, tested on the same
# {glue:text}`n_test` trials, so the spread below is the training randomness alone.
#
# Two honest figures are computed per run, neither chosen on the test set: the last epoch, and
# the mean test accuracy of the last {glue:text}`last_k` epochs. Over these seeds the last epoch's
# standard deviation is {glue:text}`sd_last:.1%` and that of the mean of the last
# {glue:text}`last_k` epochs {glue:text}`sd_last_k:.1%` (each the root mean of the four
# experiments' seed variances). The steadier one, the **{glue:text}`headline_figure`**, is this
# book's headline honest figure; the choice is computed again at every build.

# %% tags=["remove-input"] mystnb={"figure": {"caption": "Each training seed's figures for each experiment on the same split and test trials: the best epoch on the test set (grey, optimistic), the last epoch and the mean of the last k epochs; bars are means over seeds, the dotted line the majority baseline and the dashed line the upper end of its 95 % interval.", "name": "fig-fixed-seeds"}}
fig = plotting.plot_seed_spread(seeds)

# %% tags=["remove-input"]
pages.md_table(pages.seed_rows(seeds))

# %% tags=["remove-input"]
pages.seed_verdicts(seeds)

# %% tags=["remove-input"]
pages.fixed_split_warning(fixed, profile=values["profile"])

# %% [markdown]
# A verdict is "above chance" when the t-interval of the mean over seeds lies above the majority
# baseline; the count of seeds above the baseline's own 95 % interval says how often a single run,
# like the report's, would have shown it.
#
# The best-on-test figure varies less over seeds (standard deviation {glue:text}`sd_best:.1%`). That
# steadiness is no reassurance: it is the maximum over every epoch on these very test trials, so
# each seed finds some lucky epoch, and what it measures is the selection, not the model.

# %% tags=["remove-cell"]
# The headline numbers as plain output, for this notebook executed outside the book (papermill, Jupyter)
print(pages.headline_fixed(fixed))

# %% [markdown]
# On valence, the DNN's best epoch scores {glue:text}`dnn_best:.1%`; {glue:text}`honest_clause`.
# The gap between the best epoch and the honest figures is the optimism of choosing the epoch on the test set. With {glue:text}`n_test` test trials, a 95 % interval
# spans about +/-{glue:text}`ci_width:.1%`: differences of a few points between models or epochs
# are noise.
# (The report's best DNN epoch on DEAP: {glue:text}`report_dnn_best:.1%`.)
#
# ## Are the two models different? McNemar's exact test
#
# On the same test trials, count the trials only one model gets right. Under no difference, each
# such trial is a coin flip; the exact (binomial) McNemar test asks how surprising the split is.
# Predictions are taken at the honest epochs (validation-chosen, last) and, as the report did, at
# each model's best test epoch.

# %% tags=["remove-input"]
pages.md_table(pages.mcnemar_rows(fixed["dnn", "valence"], fixed["cnn", "valence"]))

# %% [markdown]
# McNemar's test compares one pair of runs (training seed 0 of each model), as the report did.
# Over the training seeds, the comparison below takes each model's headline honest figure on every
# seed: the difference of the means beside one model's seed spread, Welch's t-test on the seeds'
# values, and the share of (DNN seed, CNN seed) pairs the DNN wins.

# %% tags=["remove-input"]
pages.md_table(pages.model_comparison_rows(seeds))

# %% [markdown]
# The report's own counts (only the DNN right on {glue:text}`report_only_dnn` trials, only the
# CNN on {glue:text}`report_only_cnn`, as its best epochs of 71 % and 66 % with 52 trials both
# right imply) give p = {glue:text}`report_p:.3f`: no evidence that either model is better on its
# split, whatever the best epochs suggested.
