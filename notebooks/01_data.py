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
# # The data: DEAP, its twin, and the reduction to 32 x 99
#
# DEAP (part 2) holds 32 participants who each watched 40 one-minute music videos: 1280 trials.
# The preprocessed Python release stores one file per participant, `sNN.dat`, with `data`
# (40 trials x 40 channels x 8064 samples at 128 Hz: a 3 s baseline and 60 s of video) and
# `labels` (40 x 4 self-assessments on 1-9: valence, arousal, dominance, liking). Channels 0-31
# are EEG on the 10-20 system, 32-39 are peripheral signals that the report does not use.
#
# DEAP is licensed per user: this book never downloads it. By default it runs on the **synthetic
# DEAP twin**, written in DEAP's exact format, with planted effects whose strength is one knob;
# set `deap_dir` (or `DEAP_DIR`) to your `data_preprocessed_python` folder and every chapter runs
# on real DEAP instead. The box below says which data this build used.

# %% tags=["parameters", "hide-cell"]
profile = None  # smoke | quick | paper; None: $DEAP_LIB_PROFILE, else quick. Fills every None below
deap_dir = None  # DEAP's data_preprocessed_python folder; None: $DEAP_DIR, else the twin
participants = None  # e.g. [1, 2, 3]; None: the profile's choice (all 32 outside smoke)
twin_effect = None  # the twin's effect size (default 1.0); 0 gives the null twin
standardization = None  # "trial" (the report's code), "report-prose", or "none"

# %% tags=["remove-input"]
from deap_lib.data.dataset import raw_participant
from deap_lib.data.deap_format import EEG_CHANNELS, N_EEG
from deap_lib.data.labels import class_balance
from deap_lib.experiment import settings
from deap_lib.report import chapters, pages, plotting

values = settings.chapter_settings(globals())
data = chapters.prepared(values)
pages.page_header(values, data)

# %% [markdown]
# ## Channels
#
# The 32 EEG channels in DEAP's (Geneva) order, placed with MNE's standard 10-20 montage:

# %% tags=["remove-input"] mystnb={"figure": {"caption": "DEAP's 32 EEG channels on the 10-20 system (MNE's standard montage).", "name": "fig-montage"}}
fig = plotting.plot_montage()

# %% [markdown]
# ## One trial
#
# The first seconds of one trial of the first participant in this build: the dashed line ends
# the 3 s pre-trial baseline.

# %% tags=["remove-input"] mystnb={"figure": {"caption": "The first 8 s of trial 1 of the first participant, 32 EEG channels (µV).", "name": "fig-raw"}}
first = int(data.participant[0])
trial = raw_participant(data.source, first)[0][0, :N_EEG]  # (32, 8064)
fig = plotting.plot_raw(trial)
pages.glue_all({"first_participant": f"s{first:02d}"})

# %% [markdown]
# ## The reduction: 8064 samples to 99 numbers per channel
#
# Each channel is cut into 10 windows (nine of 807 samples, the last of 801). In each window, and
# then over the whole channel, nine statistics are computed in this order: mean, median, max,
# min, standard deviation, variance, range, skewness and kurtosis. That gives 10 x 9 + 9 = 99
# numbers per channel and a 32 x 99 map per trial. The figure shows one channel with each
# window's mean +/- one standard deviation.

# %% tags=["remove-input"] mystnb={"figure": {"caption": "Channel Oz of trial 1, its 10 windows (vertical lines) and each window's mean +/- std (shaded).", "name": "fig-windows"}}
fig = plotting.plot_windows(trial[EEG_CHANNELS.index("Oz")])

# %% [markdown]
# The map of one trial after the report's standardization (each trial's 32 x 99 map by its own
# mean and standard deviation). The variance columns dominate: they are squared microvolts while
# the others are microvolts or unitless.

# %% tags=["remove-input"] mystnb={"figure": {"caption": "The reduced, standardized 32 x 99 map of trial 1.", "name": "fig-map"}}
fig = plotting.plot_feature_map(data.features[0], title=f"trial 1 of s{first:02d}, standardization '{data.standardization}'")

# %% [markdown]
# ### Standardization variants
#
# The report's code standardizes each reduced trial by its own mean and standard deviation
# (`"trial"`, the default here). Its prose describes three steps instead: the raw EEG of a trial
# globally, then each reduced channel, then the whole map (`"report-prose"`). `"none"` keeps the
# raw statistics. The table shows, for trial 1, what each variant gives for three columns of
# channel Oz.

# %% tags=["remove-input"]
pages.md_table(pages.standardization_rows(trial, "Oz"))

# %% [markdown]
# ## Labels and class balance
#
# A trial is "high" when its rating is >= 5, as in the report's code.

# %% tags=["remove-input"]
balance = class_balance(data.ratings)
pages.glue_all(pages.balance_numbers(balance))
pages.md_table(pages.class_balance_rows(balance))

# %% [markdown]
# In this build, {glue:text}`share_high_valence:.1%` of trials are high valence and
# {glue:text}`share_high_arousal:.1%` high arousal. On real DEAP the counts at >= 5 are
# {glue:text}`deap_high_valence` and {glue:text}`deap_high_arousal` of 1280; the report's prose
# quotes {glue:text}`deap_strict_valence` and {glue:text}`deap_strict_arousal`, which count
# ratings strictly above 5 (the column `high_if_strict`; the column `at_threshold` counts the
# ratings of exactly 5.0). The majority class alone therefore scores
# {glue:text}`deap_majority_valence:.1%` (valence) and {glue:text}`deap_majority_arousal:.1%`
# (arousal) on DEAP: every accuracy in this book must be read against that chance level, which
# the report never stated.
