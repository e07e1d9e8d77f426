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
# # The two models: a deep fully connected network and a CNN
#
# Both models take a trial's reduced 32 x 99 map and give one logit: high or low.
#
# - The **DNN** flattens the map into 3168 inputs and passes it through three hidden layers
#   (5000, 500 and 1000 units, ReLU) with dropout (0.25 on the input, 0.5 after each hidden layer).
#   It is trained with RMSprop (learning rate 1e-4) in batches of 310.
# - The **CNN** sees the map as a one-channel image: dropout 0.25 on the input, two 3 x 3
#   convolutions (20 and 40 filters, padding 1, ReLU, channel dropout 0.15 after each), 2 x 2 max
#   pooling to 40 x 16 x 49, then dropout 0.5, a dense layer of 128 units (ReLU, dropout 0.25) and
#   the logit. It is trained with SGD (learning rate 1e-4, momentum 0.9) in batches of 50. The
#   upstream configuration it derives from used a learning rate of 1e-3 for DEAP.
#
# Linear weights are Xavier-normal with zero biases; the convolutions keep PyTorch's default
# initialisation. Both are trained on the same seeded 1180/100 split.

# %% tags=["parameters", "hide-cell"]
profile = None  # smoke | quick | paper; None: $DEAP_LIB_PROFILE, else quick. Fills every None below
dataset = None  # deap (default) or mahnob: this chapter on MAHNOB-HCI ($MAHNOB_DIR, else its twin)
deap_dir = None  # DEAP's data_preprocessed_python folder; None: $DEAP_DIR, else the twin
participants = None
twin_effect = None
target = "valence"  # or "arousal"
seed = None  # 12 as in the report
epochs = None  # the profile's (the report: 250)
lr = None  # None: the report's 1e-4 for both models (the upstream CNN configuration: 1e-3)
n_test = None
val_fraction = None  # share of the training trials held out in the honest run (0: no honest run)
nonfinite = None  # trials with NaN/inf features: "error" (default), "drop" or "impute"
n_jobs = None  # parallel processes; with 2 or more both models also train on the other target alongside
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
chapter = chapters.models_chapter(values)
pages.glue_all({**chapter["numbers"], **pages.honest_run_sentences(chapter["fixed"], values["profile"])})
pages.page_header(values, chapter["data"])

# %% [markdown]
# ## Architecture
#
# Layer by layer, with the output shape of one trial and the parameters counted from the models
# themselves. The DNN has {glue:text}`n_params_dnn:,` parameters (the report states
# {glue:text}`n_params_report_dnn:,`), almost all in its first layer; the CNN has
# {glue:text}`n_params_cnn:,` (the report: {glue:text}`n_params_report_cnn:,`), almost all in the
# dense layer after the flattened feature maps. The CNN's second convolution is followed in the
# report by ReLU, channel dropout and max pooling; it pools first, which gives the same values on a
# map four times smaller, so the table lists the layers in the order they run.

# %% tags=["remove-input"]
pages.md_table(pages.layer_rows(chapter["nets"]))

# %% [markdown]
# ## Hyperparameters

# %% tags=["remove-input"]
pages.md_table(pages.config_rows(chapter["configs"]))

# %% [markdown]
# ## Training on the fixed split
#
# Each **report's run** follows the report's protocol exactly: it fits all
# {glue:text}`n_fit_report` training trials for {glue:text}`epochs` epochs (the report trained 250)
# and evaluates the test set after every epoch. {glue:text}`honest_run`

# %% tags=["remove-input"] mystnb={"figure": {"caption": "The DNN: mean training loss per epoch (top) and accuracies per epoch (bottom): the report's run on the training and test trials, with its best test epoch (triangle); the honest run's validation accuracy, with the test accuracy at the epoch it chose (circle), when the profile makes an honest run. The dotted line is the majority-class baseline of the test set.", "name": "fig-dnn-history"}}
fig = plotting.plot_history(chapter["fixed"]["dnn", values["target"]][0])

# %% tags=["remove-input"] mystnb={"figure": {"caption": "The CNN, drawn as the DNN above.", "name": "fig-cnn-history"}}
fig = plotting.plot_history(chapter["fixed"]["cnn", values["target"]][0])

# %% [markdown]
# These curves are one run of each model, training seed 0, as the report ran one. The same split
# was trained with every training seed of the profile; over them (each figure's mean, standard
# deviation and range; the verdict from the t-interval of the mean over seeds, see the
# [fixed-split results](03_fixed_split) chapter for the figure of every seed):

# %% tags=["remove-input"]
pages.md_table(pages.seed_rows(summaries.seed_figures(chapter["fixed"])))

# %% tags=["remove-input"]
pages.fixed_split_warning(chapter["fixed"], profile=values["profile"])

# %% tags=["remove-cell"]
# The headline numbers as plain output, for this notebook executed outside the book (papermill, Jupyter)
print(pages.headline_fixed(chapter["fixed"]))

# %% [markdown]
# For seed 0, the best test accuracy over the epochs, which the report quotes, is
# {glue:text}`acc_as_reported_dnn:.1%` for the DNN (epoch {glue:text}`epoch_as_reported_dnn`) and
# {glue:text}`acc_as_reported_cnn:.1%` for the CNN (epoch {glue:text}`epoch_as_reported_cnn`), but
# those epochs were chosen by looking at the test set: the figures are optimistic. Without looking
# at it, the same runs' last epochs give {glue:text}`acc_last_dnn:.1%` and
# {glue:text}`acc_last_cnn:.1%`; {glue:text}`honest_result`. Predicting the training set's majority
# class for every test trial scores {glue:text}`majority:.1%`. The
# [fixed-split results](03_fixed_split) chapter compares the two models on both targets.
