"""Figures of the book. Every function takes ``ax=None`` (or ``axes``) and returns the Figure."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from deap_lib import features, io

REPORT_COLOR = "0.45"
#: MNE's template 10-20 positions (named "standard_1020" before MNE 1.13); ships with MNE, no download.
MONTAGE = "colin27_1020"
MODEL_COLORS = {"dnn": "tab:blue", "cnn": "tab:orange"}


def _ax(ax, figsize=(7, 3.5)):
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax.figure, ax


def plot_montage(*, ax=None):
    """DEAP's 32 EEG channels on the standard 10-20 montage (MNE's positions, seen from above)."""
    import mne

    fig, ax = _ax(ax, (4.5, 4.5))
    pos = mne.channels.make_standard_montage(MONTAGE).get_positions()["ch_pos"]
    xy = np.array([pos[name][:2] for name in io.EEG_CHANNELS])
    ax.add_patch(plt.Circle((0, 0), 0.095, fill=False, color="0.6"))
    ax.scatter(xy[:, 0], xy[:, 1], s=260, c="white", edgecolors="k", zorder=2)
    for (x, y), name in zip(xy, io.EEG_CHANNELS):
        ax.text(x, y, name, ha="center", va="center", fontsize=6.5, zorder=3)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title("32 EEG channels, DEAP order (front at top)")
    return fig


def plot_raw(data: np.ndarray, *, channels=io.EEG_CHANNELS, seconds: float = 8.0, ax=None):
    """Stacked traces of one trial, data shape (n_channels, n_samples) in microvolts."""
    fig, ax = _ax(ax, (8, 5))
    n = int(seconds * io.SFREQ)
    t = np.arange(n) / io.SFREQ
    spacing = 4 * np.median(data[:, :n].std(axis=1))
    for i, trace in enumerate(data[:, :n]):
        ax.plot(t, trace - i * spacing, lw=0.5, color="k")
    ax.axvline(io.BASELINE_S, color="tab:red", lw=1, ls="--", label="end of the 3 s baseline")
    ax.set_yticks(-np.arange(len(data)) * spacing, channels, fontsize=6)
    ax.set_xlabel("time (s)")
    ax.legend(loc="upper right", fontsize=8)
    return fig


def plot_windows(signal: np.ndarray, *, ax=None):
    """One channel with the reduction's 10 windows and each window's mean +/- std."""
    fig, ax = _ax(ax, (8, 3))
    t = np.arange(signal.size) / io.SFREQ
    window = features.default_window(signal.size)
    ax.plot(t, signal, lw=0.3, color="0.5")
    stats = features.reduce_dim(signal)
    for w in range(features.N_WINDOWS):
        start, stop = w * window, min((w + 1) * window, signal.size)
        mean, std = stats[9 * w], stats[9 * w + 4]
        ax.axvline(start / io.SFREQ, color="k", lw=0.5)
        ax.fill_between([start / io.SFREQ, stop / io.SFREQ], mean - std, mean + std, color="tab:blue", alpha=0.3)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("µV")
    return fig


def plot_feature_map(f: np.ndarray, *, title: str = "", ax=None):
    """A reduced trial (32, 99) as an image: channels by window x statistic."""
    fig, ax = _ax(ax, (8, 4))
    im = ax.imshow(f, aspect="auto", cmap="RdBu_r", vmin=-np.abs(f).max(), vmax=np.abs(f).max())
    ax.set_yticks(range(len(f)), io.EEG_CHANNELS[: len(f)], fontsize=5)
    ax.set_xticks(np.arange(4, 99, 9), [f"w{w}" for w in range(10)] + ["all"], fontsize=7)
    for edge in np.arange(8.5, 98, 9):
        ax.axvline(edge, color="k", lw=0.3)
    ax.set_xlabel("window (9 statistics each: " + ", ".join(features.STAT_NAMES) + ")", fontsize=7)
    ax.set_title(title)
    fig.colorbar(im, ax=ax)
    return fig


def plot_history(pair: dict, *, axes=None):
    """Loss and accuracies per epoch of a fixed split's two runs (from ``training.run_fixed``).

    Left: the mean training loss. Right: the report's run (all training trials; training and test
    accuracy, its best-on-test epoch marked) and the honest run (validation accuracy, and the test
    accuracy at the epoch the validation set chose).
    """
    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), layout="constrained")
    fig = axes[0].figure
    report, honest = pair["report"], pair["honest"]
    h = report["history"]
    epochs = np.arange(1, len(h["loss"]) + 1)
    axes[0].plot(epochs, h["loss"], color="k", label="report's run")
    if honest is not None:
        axes[0].plot(epochs, honest["history"]["loss"], color="tab:green", ls="--", label="honest run")
    axes[0].set(xlabel="epoch", ylabel="mean training loss (BCE)")
    axes[0].legend(fontsize=8)
    axes[1].plot(epochs, h["train_acc"], label="train (report's run)", color="0.55")
    axes[1].plot(epochs, h["test_acc"], label="test (report's run)", color="tab:red")
    best = pair["summary"]["as_reported"]
    axes[1].plot(best["epoch"], best["accuracy"], "v", color="tab:red", ms=8, label="best on test (optimistic)")
    if honest is not None:
        axes[1].plot(epochs, honest["history"]["val_acc"], label="validation (honest run)", color="tab:green")
        chosen = pair["summary"]["val_chosen"]
        axes[1].plot(chosen["epoch"], chosen["accuracy"], "o", color="tab:green", mec="k", ms=7,
                     label="test at the validation-chosen epoch")
    axes[1].axhline(pair["summary"]["majority_baseline"], ls=":", color="k", label="majority baseline (test)")
    axes[1].set(xlabel="epoch", ylabel="accuracy", ylim=(0.3, 1.0))
    axes[1].legend(fontsize=7, loc="lower right", ncol=2)
    return fig


def plot_test_curves(records: dict[str, dict], *, ax=None, title: str = ""):
    """Test accuracy per epoch of several runs on the same split (e.g. DNN vs CNN)."""
    fig, ax = _ax(ax)
    for label, record in records.items():
        acc = record["history"]["test_acc"]
        color = MODEL_COLORS.get(record["config"]["model"])
        ax.plot(np.arange(1, len(acc) + 1), acc, label=label, color=color)
        best = record["summary"]["as_reported"]
        ax.plot(best["epoch"], best["accuracy"], "v", color=color, ms=8)
    baseline = next(iter(records.values()))["summary"]["majority_baseline"]
    ax.axhline(baseline, ls=":", color="k", label="majority baseline")
    ax.set(xlabel="epoch", ylabel="test accuracy", title=title)
    ax.legend(fontsize=8)
    return fig


def plot_fold_accuracies(groups: dict[str, list[float]], *, baselines: dict[str, float] | None = None,
                         reported: dict[str, float] | None = None, ax=None, title: str = ""):
    """One dot per fold for each group, with the mean; dashes for baselines, crosses for the report."""
    fig, ax = _ax(ax, (8, 3.5))
    rng = np.random.default_rng(0)  # jitter only
    for i, (label, values) in enumerate(groups.items()):
        values = np.asarray(values)
        ax.scatter(i + rng.uniform(-0.12, 0.12, values.size), values, s=12, alpha=0.7)
        ax.hlines(values.mean(), i - 0.3, i + 0.3, color="k", lw=2)
        if baselines and label in baselines:
            ax.hlines(baselines[label], i - 0.35, i + 0.35, color="k", ls=":", lw=1.5)
        if reported and label in reported and reported[label] is not None:
            ax.plot(i + 0.38, reported[label], "x", color=REPORT_COLOR, ms=8, mew=2)
    ax.set_xticks(range(len(groups)), list(groups), fontsize=8)
    ax.set(ylabel="test accuracy per fold", title=title, ylim=(0, 1))
    return fig


def _figure_accuracy(record: dict) -> float:
    """The honest figure of a run: the validation-chosen epoch, else the last."""
    return (record["summary"]["val_chosen"] or record["summary"]["last"])["accuracy"]


def plot_loso(loso: dict, *, axes=None):
    """Leave-one-subject-out accuracy per held-out participant, one panel per target.

    ``loso``: ``{(model, target): [fold records]}``; each participant's majority baseline is a grey bar.
    """
    targets = sorted({t for _, t in loso}, reverse=True)
    if axes is None:
        fig, axes = plt.subplots(1, len(targets), figsize=(9, 3.2), layout="constrained", squeeze=False)
        axes = axes[0]
    fig = axes[0].figure
    for ax, target in zip(axes, targets):
        models = [m for m, t in loso if t == target]
        for i, model in enumerate(models):
            recs = loso[model, target]
            x = np.arange(len(recs))
            if i == 0:
                ax.bar(x, [r["summary"]["majority_baseline"] for r in recs], color="0.85", width=0.8, label="majority baseline")
            ax.plot(x + (i - 0.5) * 0.25, [_figure_accuracy(r) for r in recs], "o", ms=5,
                    color=MODEL_COLORS.get(model), label=model.upper())
        names = [r["split"]["name"].replace("loso-", "") for r in loso[models[0], target]]
        ax.set_xticks(range(len(names)), names, fontsize=7, rotation=90 if len(names) > 12 else 0)
        ax.set(title=target, ylim=(0, 1), ylabel="test accuracy", xlabel="held-out participant")
        ax.legend(fontsize=7, loc="lower right")
    return fig


def plot_protocols(summary: dict, *, axes=None):
    """Accuracy with its 95 % interval under each protocol, one panel per (model, target)."""
    keys = list(summary)
    if axes is None:
        fig, axes = plt.subplots(1, len(keys), figsize=(3 * len(keys), 3.6), layout="constrained", sharey=True, squeeze=False)
        axes = axes[0]
    fig = axes[0].figure
    for ax, key in zip(axes, keys):
        protocols = list(summary[key])
        for i, p in enumerate(protocols):
            v = summary[key][p]
            color = REPORT_COLOR if i == 0 else MODEL_COLORS.get(key[0])
            if np.isnan(v["low"]):  # a best-on-test figure: no valid interval, drawn as a bare point
                ax.plot(i, v["mean"], "v", color=color, ms=8)
            else:
                ax.errorbar(i, v["mean"], yerr=[[v["mean"] - v["low"]], [v["high"] - v["mean"]]], fmt="o",
                            color=color, capsize=3)
            ax.hlines(v["baseline"], i - 0.3, i + 0.3, color="k", ls=":", lw=1.5)
        ax.set_xticks(range(len(protocols)), ["best on test\n(report's\nprotocol)", "fixed,\nhonest\nepoch", "random\nk-fold", "LOSO"], fontsize=8)
        ax.set(title=f"{key[0].upper()} {key[1]}", ylim=(0, 1))
    axes[0].set_ylabel("test accuracy")
    return fig


def plot_permutation(results: dict, *, axes=None):
    """Null distribution of a permutation test (histogram) and the observed score (red), per key."""
    if axes is None:
        fig, axes = plt.subplots(1, len(results), figsize=(4 * len(results), 3), layout="constrained", squeeze=False)
        axes = axes[0]
    fig = axes[0].figure
    for ax, (name, r) in zip(axes, results.items()):
        ax.hist(r["null"], bins=15, color="0.7", label="labels shuffled within participants")
        ax.axvline(r["observed"], color="tab:red", lw=2, label=f"real labels (p = {r['p_value']:.3f})")
        ax.set(title=str(name), xlabel="cross-validated accuracy", ylabel="permutations")
        ax.legend(fontsize=7)
    return fig


def plot_topomaps(maps: dict, *, axes=None):
    """A grid of scalp maps: rows = targets, columns = kinds, from ``{(target, kind): values (32,)}``."""
    rows = list(dict.fromkeys(t for t, _ in maps))
    cols = list(dict.fromkeys(k for _, k in maps))
    if axes is None:
        fig, axes = plt.subplots(len(rows), len(cols), figsize=(4 * len(cols), 3.3 * len(rows)), layout="constrained", squeeze=False)
    fig = axes[0][0].figure
    labels = {"effect": "Cohen's d (high - low)", "occlusion": "test-loss increase when blanked"}
    for i, target in enumerate(rows):
        for j, kind in enumerate(cols):
            plot_topomap(maps[target, kind], ax=axes[i][j], title=f"{target}: {kind}", label=labels.get(kind, kind))
    return fig


def plot_topomap(values, *, ax=None, title: str = "", cmap: str = "RdBu_r", vlim=None, label: str = ""):
    """A scalp map of one value per EEG channel (MNE's 10-20 template positions, front at top).

    Parameters
    ----------
    values : array-like of float, shape (32,)
        One value per channel in DEAP's order (:data:`deap_lib.io.EEG_CHANNELS`), e.g. from
        :func:`deap_lib.importance.channel_effects`.
    ax : matplotlib Axes, optional
        Where to draw; a new figure when None.
    title : str
        Axes title.
    cmap : str
        Matplotlib colormap; the default diverges around 0.
    vlim : (float, float), optional
        Colour limits; default symmetric about 0, ``(-max|values|, max|values|)``.
    label : str
        Colorbar label.

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    import mne

    values = np.asarray(values, dtype=float)
    if values.shape != (len(io.EEG_CHANNELS),):
        raise ValueError(f"values must have shape ({len(io.EEG_CHANNELS)},), one per EEG channel, got {values.shape}")
    if vlim is None:
        top = float(np.nanmax(np.abs(values))) if np.isfinite(values).any() else 0.0
        top = top if top > 0 else 1.0  # an all-zero map still needs a colour range
        vlim = (-top, top)
    elif len(vlim) != 2:
        raise ValueError(f"vlim must be a (low, high) pair or None, got {vlim!r}")
    fig, ax = _ax(ax, (4, 3.5))
    info = mne.create_info(list(io.EEG_CHANNELS), io.SFREQ, "eeg")
    info.set_montage(mne.channels.make_standard_montage(MONTAGE), verbose=False)
    im, _ = mne.viz.plot_topomap(values, info, axes=ax, show=False, cmap=cmap, vlim=tuple(vlim))
    fig.colorbar(im, ax=ax, label=label, shrink=0.8)
    ax.set_title(title)
    return fig
