"""Figures of the book. Every function takes ``ax=None`` (or ``axes``) and returns the Figure.

The book renders each figure inline at matplotlib's default 100 dpi and shrinks it to its
content width (about 800 px) when wider, so the figures made here are at most
:data:`BOOK_WIDTH` inches wide and use no text smaller than :data:`MIN_FONT` points. Nothing
here changes matplotlib's global settings; text sizes are set per artist.
"""

from __future__ import annotations

import textwrap

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.lines import Line2D

from deap_lib.data import deap_format, features
from deap_lib.evaluation.summaries import figure, folds
from deap_lib.experiment.engine import LAST_K

REPORT_COLOR = "0.45"
#: MNE's template 10-20 positions (named "standard_1020" before MNE 1.13); ships with MNE, no download.
MONTAGE = "colin27_1020"
MODEL_COLORS = {"dnn": "tab:blue", "cnn": "tab:orange"}
#: Width (inches) of a full-width figure: about 780 px at 100 dpi, within the book's content width.
BOOK_WIDTH = 7.8
#: The smallest text (points) in any figure.
MIN_FONT = 9
#: Size of legends, tick labels of dense axes and annotations.
SMALL_FONT = 9.5
#: Head radius (m) of MNE's scalp maps: channels on the head's equator lie on this circle.
HEAD_RADIUS = 0.095
#: Short, wrapped x labels of :data:`deap_lib.evaluation.summaries.PROTOCOLS`, in that order.
PROTOCOL_LABELS = ("best on test\n(report's\nprotocol)", "fixed,\nhonest\nepoch", "random\nk-fold", "LOSO")


def _ax(ax, figsize=(BOOK_WIDTH, 3.5)):
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax.figure, ax


def _legend_outside(ax, **kwargs):
    """A legend to the right of the axes, where it hides no data."""
    return ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, fontsize=SMALL_FONT,
                     frameon=False, **kwargs)


def _group_color(label: str, i: int):
    """A model's colour for a label starting with the model's name ("DNN valence"), else the i-th default."""
    words = str(label).split()
    return MODEL_COLORS.get(words[0].lower() if words else "", f"C{i % 10}")


def _scalp_xy() -> np.ndarray:
    """2-D positions (m) of DEAP's 32 channels, projected as MNE's scalp maps project them.

    MNE's template positions in head coordinates, flattened about the head's centre: each channel
    keeps its direction from the vertex and lies at ``|r| * polar angle / 90 deg`` from the centre,
    so the channels on the head's equator (Fp, T7/T8, O) lie on the head circle. These are the
    positions :func:`mne.viz.plot_topomap` uses in :func:`plot_topomap`.
    """
    import mne

    info = mne.create_info(list(deap_format.EEG_CHANNELS), deap_format.SFREQ, "eeg")
    info.set_montage(mne.channels.make_standard_montage(MONTAGE), verbose=False)
    pos = info.get_montage().get_positions()["ch_pos"]
    xyz = np.array([pos[name] for name in deap_format.EEG_CHANNELS])
    r = np.linalg.norm(xyz, axis=1)
    polar = np.arccos(np.clip(xyz[:, 2] / r, -1, 1))
    azimuth = np.arctan2(xyz[:, 1], xyz[:, 0])
    return np.c_[np.cos(azimuth), np.sin(azimuth)] * (r * polar / (np.pi / 2))[:, None]


def plot_montage(*, ax=None):
    """DEAP's 32 EEG channels on the standard 10-20 montage (MNE's positions, seen from above).

    Projected as the scalp maps of :func:`plot_topomap` are, so the two kinds of figure agree.
    """
    fig, ax = _ax(ax, (5.8, 6.0))
    xy = _scalp_xy()
    ax.add_patch(plt.Circle((0, 0), HEAD_RADIUS, fill=False, color="0.5", lw=1.2))
    nose = HEAD_RADIUS * np.array([[-0.12, 0.993], [0.0, 1.12], [0.12, 0.993]])
    ax.plot(nose[:, 0], nose[:, 1], color="0.5", lw=1.2)
    ax.scatter(xy[:, 0], xy[:, 1], s=820, c="white", edgecolors="k", linewidths=1.0, zorder=2)
    for (x, y), name in zip(xy, deap_format.EEG_CHANNELS):
        ax.text(x, y, name, ha="center", va="center", fontsize=SMALL_FONT, fontweight="bold", zorder=3)
    ax.set_aspect("equal")
    ax.set(xlim=(-1.06 * HEAD_RADIUS, 1.06 * HEAD_RADIUS), ylim=(-1.04 * HEAD_RADIUS, 1.2 * HEAD_RADIUS))
    ax.axis("off")
    ax.set_title("32 EEG channels, DEAP order (front at top)")
    return fig


def plot_raw(data: np.ndarray, *, channels=deap_format.EEG_CHANNELS, seconds: float = 8.0, ax=None):
    """Stacked traces of one trial, data shape (n_channels, n_samples) in microvolts.

    The traces are a fixed distance apart (four times the channels' median standard deviation);
    the y label gives it in microvolts.
    """
    fig, ax = _ax(ax, (BOOK_WIDTH, 1.4 + 0.19 * len(data)))
    n = int(seconds * deap_format.SFREQ)
    t = np.arange(min(n, data.shape[1])) / deap_format.SFREQ
    spacing = 4 * np.median(data[:, :n].std(axis=1))
    spacing = spacing if spacing > 0 else 1.0
    for i, trace in enumerate(data[:, :n]):
        ax.plot(t, trace - i * spacing, lw=0.5, color="k")
    ax.axvline(deap_format.BASELINE_S, color="tab:red", lw=1.2, ls="--", label="end of the 3 s baseline")
    ax.set_yticks(-np.arange(len(data)) * spacing, list(channels)[: len(data)])
    ax.tick_params(axis="y", labelsize=SMALL_FONT, length=2)
    ax.set_ylim(-(len(data) - 0.3) * spacing, 0.9 * spacing)
    ax.set_xlim(0, t[-1] if t.size else seconds)
    ax.set_xlabel("time (s)")
    ax.set_ylabel(f"channel (traces {spacing:.0f} µV apart)")
    ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), borderaxespad=0.2, fontsize=SMALL_FONT, frameon=False)
    return fig


def plot_windows(signal: np.ndarray, *, ax=None):
    """One channel with the reduction's 10 windows and each window's mean +/- std."""
    fig, ax = _ax(ax, (BOOK_WIDTH, 3.2))
    t = np.arange(signal.size) / deap_format.SFREQ
    window = features.default_window(signal.size)
    ax.plot(t, signal, lw=0.3, color="0.5", label="signal")
    stats = features.reduce_dim(signal)
    for w in range(features.N_WINDOWS):
        start, stop = w * window, min((w + 1) * window, signal.size)
        mean, std = stats[9 * w], stats[9 * w + 4]
        ax.axvline(start / deap_format.SFREQ, color="k", lw=0.6, label="window start" if w == 0 else None)
        ax.fill_between([start / deap_format.SFREQ, stop / deap_format.SFREQ], mean - std, mean + std, color="tab:blue", alpha=0.3,
                        label="window mean ± std" if w == 0 else None)
        ax.hlines(mean, start / deap_format.SFREQ, stop / deap_format.SFREQ, color="tab:blue", lw=1.5)
    ax.set_xlim(0, signal.size / deap_format.SFREQ)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("µV")
    ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), borderaxespad=0.2, ncol=3, fontsize=SMALL_FONT,
              frameon=False)
    return fig


def _is_standardized(f: np.ndarray) -> bool:
    """Whether a map has mean 0 and standard deviation 1 overall, as both book standardizations leave it."""
    f = np.asarray(f, dtype=float)
    return bool(np.isfinite(f).all() and abs(f.mean()) < 0.05 and abs(f.std() - 1) < 0.05)


def plot_feature_map(f: np.ndarray, *, title: str = "", ax=None):
    """A reduced trial (32, 99) as an image: channels by window x statistic.

    The colour bar says whether the map is standardized (overall mean 0 and standard deviation 1)
    or raw statistics in their own units.
    """
    fig, ax = _ax(ax, (BOOK_WIDTH, 1.9 + 0.15 * len(f)))
    top = float(np.nanmax(np.abs(f))) or 1.0
    im = ax.imshow(f, aspect="auto", cmap="RdBu_r", vmin=-top, vmax=top, interpolation="nearest")
    ax.set_yticks(range(len(f)), deap_format.EEG_CHANNELS[: len(f)])
    ax.tick_params(axis="y", labelsize=SMALL_FONT, length=2)
    n_stats = len(features.STAT_NAMES)
    ax.set_xticks(np.arange(n_stats // 2, features.N_FEATURES, n_stats),
                  [f"w{w}" for w in range(features.N_WINDOWS)] + ["all"])
    ax.tick_params(axis="x", length=0)
    for edge in np.arange(n_stats - 0.5, features.N_FEATURES - 1, n_stats):
        ax.axvline(edge, color="k", lw=0.6)
    ax.set_xlabel("window w0-w9, then the whole trial (all); in each, 9 columns:\n"
                  + ", ".join(features.STAT_NAMES), fontsize=SMALL_FONT)
    ax.set_ylabel("channel")
    ax.set_title(title)
    label = ("standardized value (z)" if _is_standardized(f)
             else "raw statistic (µV, µV² or unitless)")
    fig.colorbar(im, ax=ax, label=label, fraction=0.04, pad=0.02)
    return fig


def plot_history(pair: dict, *, axes=None):
    """Loss and accuracies per epoch of a fixed split's two runs (from :func:`deap_lib.experiment.protocols.run_fixed`).

    Top (or left, when ``axes`` are given side by side): the mean training loss. Bottom: the
    report's run (all training trials; training and test accuracy, its best-on-test epoch marked)
    and the honest run (validation accuracy, and the test accuracy at the epoch the validation set
    chose).
    """
    stacked = axes is None
    if stacked:
        fig, axes = plt.subplots(2, 1, figsize=(BOOK_WIDTH, 5.6), layout="constrained", sharex=True,
                                 height_ratios=(1, 1.5))
    fig = axes[0].figure
    report, honest = pair["report"], pair["honest"]
    h = report["history"]
    epochs = np.arange(1, len(h["loss"]) + 1)
    axes[0].plot(epochs, h["loss"], color="k", label="report's run")
    if honest is not None:
        axes[0].plot(epochs, honest["history"]["loss"], color="tab:green", ls="--", label="honest run")
    axes[0].set(ylabel="mean training loss\n(BCE)")
    if not stacked:  # the caller's axes: each gets its own x label
        axes[0].set_xlabel("epoch")
    _legend_outside(axes[0])
    axes[1].plot(epochs, h["train_acc"], label="train (report's run)", color="0.55")
    axes[1].plot(epochs, h["test_acc"], label="test (report's run)", color="tab:red")
    best = pair["summary"]["as_reported"]
    axes[1].plot(best["epoch"], best["accuracy"], "v", color="tab:red", ms=9, ls="none",
                 label="best on test (optimistic)")
    shown = [*h["train_acc"], *h["test_acc"]]
    if honest is not None:
        val = honest["history"]["val_acc"]
        axes[1].plot(epochs, val, label="validation (honest run)", color="tab:green")
        shown += [v for v in val if v is not None]
        chosen = pair["summary"]["val_chosen"]
        if chosen is not None:
            axes[1].plot(chosen["epoch"], chosen["accuracy"], "o", color="tab:green", mec="k", ms=8, ls="none",
                         label="test at the validation-\nchosen epoch (honest)")
    baseline = pair["summary"]["majority_baseline"]
    axes[1].axhline(baseline, ls=":", color="k", lw=1.5, label="majority baseline (test)")
    low = min([0.3, baseline - 0.05, *(np.asarray(shown, dtype=float) - 0.05)])
    axes[1].set(xlabel="epoch", ylabel="accuracy", ylim=(max(0.0, low), 1.0), xlim=(0.5, len(epochs) + 0.5))
    _legend_outside(axes[1])
    return fig


def plot_test_curves(records: dict[str, dict], *, ax=None, title: str = ""):
    """Test accuracy per epoch of several runs on the same split (e.g. DNN vs CNN)."""
    fig, ax = _ax(ax, (BOOK_WIDTH, 3.4))
    for label, record in records.items():
        acc = record["history"]["test_acc"]
        color = MODEL_COLORS.get(record["config"]["model"])
        ax.plot(np.arange(1, len(acc) + 1), acc, label=label, color=color)
        best = record["summary"]["as_reported"]
        ax.plot(best["epoch"], best["accuracy"], "v", color=color, ms=9)
    baseline = next(iter(records.values()))["summary"]["majority_baseline"]
    ax.axhline(baseline, ls=":", color="k", lw=1.5, label="majority baseline")
    ax.set(xlabel="epoch", ylabel="test accuracy", title=title)
    handles, labels = ax.get_legend_handles_labels()
    handles.append(Line2D([], [], marker="v", ls="none", color="0.3", ms=9))
    labels.append("best epoch on test\n(optimistic)")
    _legend_outside(ax, handles=handles, labels=labels)
    return fig


def plot_test_curves_by_target(pairs: dict, *, prefix: str = ""):
    """:func:`plot_test_curves` of the report's runs of ``pairs`` (``{(model, target): run_fixed
    item}``), one panel per target, the models of each target together."""
    targets = list(dict.fromkeys(t for _, t in pairs))
    fig, axes = plt.subplots(len(targets), 1, figsize=(BOOK_WIDTH, 3.2 * len(targets)), layout="constrained",
                             squeeze=False)
    for ax, target in zip(axes[:, 0], targets):
        plot_test_curves({m.upper(): pair["report"] for (m, t), pair in pairs.items() if t == target}, ax=ax,
                         title=f"{prefix}{target}")
    return fig


def plot_fold_accuracies(groups: dict[str, list[float]], *, baselines: dict[str, float] | None = None,
                         reported: dict[str, float] | None = None, ax=None, title: str = ""):
    """One dot per fold for each group (a seaborn swarm), with the mean (bar), the majority
    baseline (dotted) and the report's figure (grey cross); a legend says which is which.
    """
    import seaborn as sns

    labels = list(groups)
    fig, ax = _ax(ax, (min(BOOK_WIDTH, 3.6 + 1.2 * len(labels)), 3.6))
    values = [np.asarray(groups[lab], dtype=float) for lab in labels]
    x = [lab for lab, v in zip(labels, values) for _ in v]
    y = np.concatenate(values) if values else np.array([])
    palette = {lab: _group_color(lab, i) for i, lab in enumerate(labels)}
    ax.set_ylim(0, 1)  # before the swarm, which is laid out for the final limits
    sns.swarmplot(x=x, y=y, hue=x, order=labels, hue_order=labels, palette=palette, size=5.5, alpha=0.85,
                  edgecolor="white", linewidth=0.4, legend=False, ax=ax, zorder=2)
    handles = [Line2D([], [], marker="o", ls="none", color="0.4", ms=6, label="one fold")]
    for i, (label, v) in enumerate(zip(labels, values)):
        ax.hlines(v.mean(), i - 0.3, i + 0.3, color="k", lw=2.5, zorder=3)
        if baselines and label in baselines:
            ax.hlines(baselines[label], i - 0.4, i + 0.4, color="k", ls=":", lw=1.5, zorder=1)
        if reported and reported.get(label) is not None:
            ax.plot(i + 0.42, reported[label], "x", color=REPORT_COLOR, ms=9, mew=2.2, zorder=4)
    handles.append(Line2D([], [], color="k", lw=2.5, label="mean over folds"))
    if baselines and any(lab in baselines for lab in labels):
        handles.append(Line2D([], [], color="k", ls=":", lw=1.5, label="majority baseline\n(folds' average)"))
    if reported and any(reported.get(lab) is not None for lab in labels):
        handles.append(Line2D([], [], marker="x", ls="none", color=REPORT_COLOR, ms=9, mew=2.2,
                              label="report's mean on DEAP"))
    ax.set_xlim(-0.6, len(labels) - 0.4)
    ax.set(xlabel="", ylabel="test accuracy per fold", title=title)
    ax.grid(axis="y", color="0.9", lw=0.8, zorder=0)
    ax.set_axisbelow(True)
    _legend_outside(ax, handles=handles)
    return fig


def plot_kfold(runs: dict, *, reported: dict | None = None, ax=None):
    """:func:`plot_fold_accuracies` of cross-validations ``{(model, target): [fold records]}`` at their
    last epoch; ``reported``: ``{(model, target): the report's mean}``."""
    labels = {key: f"{key[0].upper()} {key[1]}" for key in runs}
    summary = {labels[key]: folds(recs, "last") for key, recs in runs.items()}
    return plot_fold_accuracies({k: v["values"] for k, v in summary.items()},
                                baselines={k: v["baseline"] for k, v in summary.items()},
                                reported={labels[key]: (reported or {}).get(key) for key in runs}, ax=ax)


def _figure_accuracy(record: dict) -> float:
    """The honest figure of a run: the validation-chosen epoch, else the last."""
    return figure(record["summary"])["accuracy"]


def plot_loso(loso: dict, *, axes=None):
    """Leave-one-subject-out accuracy per held-out participant, one panel per target.

    ``loso``: ``{(model, target): [fold records]}``; each participant's majority baseline is a
    grey bar, each model's accuracy on that participant a dot (one per training seed). Panels are stacked, so that every
    participant keeps a legible label.
    """
    targets = sorted({t for _, t in loso}, reverse=True)
    if axes is None:
        n = max(len({r["split"]["name"] for r in recs}) for recs in loso.values())
        fig, axes = plt.subplots(len(targets), 1, figsize=(min(BOOK_WIDTH, 3.4 + 0.22 * n), 0.6 + 2.7 * len(targets)),
                                 layout="constrained", squeeze=False, sharey=True)
        axes = axes[:, 0]
    fig = axes[0].figure
    for k, (ax, target) in enumerate(zip(axes, targets)):
        models = [m for m, t in loso if t == target]
        # one bar per participant; several training seeds of a fold are several dots above it
        baseline = {r["split"]["name"].replace("loso-", ""): r["summary"]["majority_baseline"]
                    for r in loso[models[0], target]}
        names = list(baseline)
        where = {name: i for i, name in enumerate(names)}
        ax.bar(range(len(names)), list(baseline.values()), color="0.85", width=0.8, label="majority baseline", zorder=1)
        offsets = np.linspace(-0.17, 0.17, len(models)) if len(models) > 1 else [0.0]
        for model, dx in zip(models, offsets):
            recs = [r for r in loso[model, target] if r["split"]["name"].replace("loso-", "") in where]
            xs = [where[r["split"]["name"].replace("loso-", "")] + dx for r in recs]
            ax.scatter(xs, [_figure_accuracy(r) for r in recs], s=36, color=MODEL_COLORS.get(model),
                       edgecolors="white", linewidths=0.5, label=model.upper(), zorder=3)
        many = len(names) > 16
        ax.set_xticks(range(len(names)), names, rotation=90 if many else 0)
        ax.tick_params(axis="x", labelsize=SMALL_FONT if many else 10, length=2)
        ax.set_xlim(-0.6, len(names) - 0.4)
        ax.set(title=target, ylim=(0, 1), ylabel="test accuracy")
        ax.grid(axis="y", color="0.9", lw=0.8, zorder=0)
        ax.set_axisbelow(True)
        if k == len(targets) - 1:
            ax.set_xlabel("held-out participant")
        if k == 0:
            _legend_outside(ax)
    return fig


def plot_protocols(summary: dict, *, axes=None):
    """Accuracy with its 95 % interval under each protocol, one panel per (model, target).

    An interval is drawn only where ``low``/``high`` are numbers: the best-on-test figure (nan)
    is a bare triangle. The dotted line is each protocol's majority baseline. The intervals come
    precomputed (Wilson, t over folds), so this is plain matplotlib rather than a seaborn estimate.
    """
    keys = list(summary)
    if axes is None:
        ncols = min(len(keys), 2)
        nrows = -(-len(keys) // ncols)
        width = BOOK_WIDTH if ncols == 2 else 5.2
        fig, grid = plt.subplots(nrows, ncols, figsize=(width, 1.4 + 2.7 * nrows), layout="constrained",
                                 sharex=True, sharey=True, squeeze=False)
        axes = grid.ravel()
        for ax in axes[len(keys):]:
            ax.set_visible(False)
    fig = axes[0].figure
    for ax, key in zip(axes, keys):
        protocols = list(summary[key])
        for i, p in enumerate(protocols):
            v = summary[key][p]
            color = REPORT_COLOR if i == 0 else MODEL_COLORS.get(key[0])
            if np.isnan(v["low"]) or np.isnan(v["high"]):  # no valid interval: a bare point
                ax.plot(i, v["mean"], "v", color=color, ms=9, ls="none")
            else:
                ax.errorbar(i, v["mean"], yerr=[[v["mean"] - v["low"]], [v["high"] - v["mean"]]], fmt="o",
                            color=color, ms=7, capsize=4, lw=1.5)
            ax.hlines(v["baseline"], i - 0.3, i + 0.3, color="k", ls=":", lw=1.5)
        names = (PROTOCOL_LABELS if len(protocols) == len(PROTOCOL_LABELS)
                 else [textwrap.fill(str(p), 12) for p in protocols])
        ax.set_xticks(range(len(protocols)), names)
        ax.tick_params(axis="x", labelsize=SMALL_FONT, length=0)
        ax.set_xlim(-0.5, len(protocols) - 0.5)
        ax.set(title=f"{key[0].upper()} {key[1]}", ylim=(0, 1))
        ax.grid(axis="y", color="0.9", lw=0.8, zorder=0)
        ax.set_axisbelow(True)
        if ax.get_subplotspec() is None or ax.get_subplotspec().is_first_col():
            ax.set_ylabel("test accuracy")
    handles = [Line2D([], [], marker="v", ls="none", color=REPORT_COLOR, ms=9,
                      label="best on test (no valid interval)"),
               Line2D([], [], marker="o", color="0.3", ms=7, label="mean with 95 % interval"),
               Line2D([], [], color="k", ls=":", lw=1.5, label="majority baseline")]
    fig.legend(handles=handles, loc="outside lower center", ncol=3 if fig.get_size_inches()[0] >= 7 else 2,
               fontsize=SMALL_FONT, frameon=False)
    return fig


def plot_permutation(results: dict, *, axes=None):
    """Null distribution of a permutation test (histogram) and the observed score (red), per key."""
    if axes is None:
        n = len(results)
        ncols = min(n, 2)
        nrows = -(-n // ncols)
        fig, grid = plt.subplots(nrows, ncols, figsize=(BOOK_WIDTH if ncols == 2 else 4.8, 0.9 + 2.8 * nrows),
                                 layout="constrained", squeeze=False)
        axes = grid.ravel()
        for ax in axes[n:]:
            ax.set_visible(False)
    fig = axes[0].figure
    for ax, (name, r) in zip(axes, results.items()):
        ax.hist(r["null"], bins=15, color="0.7", label="labels shuffled\nwithin participants")
        ax.axvline(r["observed"], color="tab:red", lw=2, label=f"real labels\n(p = {r['p_value']:.3f})")
        ax.set(title=str(name), xlabel="cross-validated accuracy", ylabel="permutations")
        ax.margins(x=0.08)
        ax.set_ylim(0, 1.55 * ax.get_ylim()[1])  # head room: the legend hides no bar
        ax.legend(fontsize=SMALL_FONT, loc="upper left", frameon=True, framealpha=0.85)
    return fig


def plot_topomaps(maps: dict, *, axes=None):
    """A grid of scalp maps: rows = targets, columns = kinds, from ``{(target, kind): values (32,)}``."""
    rows = list(dict.fromkeys(t for t, _ in maps))
    cols = list(dict.fromkeys(k for _, k in maps))
    if axes is None:
        width = min(BOOK_WIDTH, 3.9 * len(cols))
        fig, axes = plt.subplots(len(rows), len(cols), figsize=(width, 3.3 * len(rows) * width / (3.9 * len(cols))),
                                 layout="constrained", squeeze=False)
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
        One value per channel in DEAP's order (:data:`deap_lib.data.deap_format.EEG_CHANNELS`), e.g. from
        :func:`deap_lib.experiment.importance.channel_effects`.
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
    if values.shape != (len(deap_format.EEG_CHANNELS),):
        raise ValueError(f"values must have shape ({len(deap_format.EEG_CHANNELS)},), one per EEG channel, got {values.shape}")
    if vlim is None:
        top = float(np.nanmax(np.abs(values))) if np.isfinite(values).any() else 0.0
        top = top if top > 0 else 1.0  # an all-zero map still needs a colour range
        vlim = (-top, top)
    elif len(vlim) != 2:
        raise ValueError(f"vlim must be a (low, high) pair or None, got {vlim!r}")
    fig, ax = _ax(ax, (4.2, 3.6))
    info = mne.create_info(list(deap_format.EEG_CHANNELS), deap_format.SFREQ, "eeg")
    info.set_montage(mne.channels.make_standard_montage(MONTAGE), verbose=False)
    im, _ = mne.viz.plot_topomap(values, info, axes=ax, show=False, cmap=cmap, vlim=tuple(vlim))
    cbar = fig.colorbar(im, ax=ax, shrink=0.8)
    cbar.set_label(label, fontsize=10)
    cbar.ax.tick_params(labelsize=SMALL_FONT)
    ax.set_title(title)
    return fig


#: How the seed figures are named in figures and tables (``summaries.SEED_FIGURES``).
SEED_FIGURE_LABELS = {"as_reported": "best on test (optimistic)", "last": "last epoch",
                      "last_k": f"mean of the last {LAST_K} epochs"}


def plot_seed_spread(seeds: dict, *, ax=None, title: str = ""):
    """Each training seed's figures for each fixed-split experiment: ``seeds`` is ``{(model,
    target): {figure: over_seeds(...)}}``. One dot per seed and figure (seaborn strip, dodged by
    figure), the mean over seeds (bar), the majority baseline (dotted) and the upper end of its
    Wilson 95 % interval (dashed)."""
    import seaborn as sns

    keys = list(seeds)
    labels = [f"{m.upper()} {t}" for m, t in keys]
    figures = [w for w in ("as_reported", "last", "last_k") if w in next(iter(seeds.values()))]
    fig, ax = _ax(ax, (BOOK_WIDTH, 3.8))
    x, y, hue = [], [], []
    for label, key in zip(labels, keys):
        for w in figures:
            for v in seeds[key][w]["values"]:
                x.append(label), y.append(v), hue.append(SEED_FIGURE_LABELS[w])
    hue_order = [SEED_FIGURE_LABELS[w] for w in figures]
    palette = dict(zip(hue_order, ("0.6", "tab:blue", "tab:green")))
    sns.stripplot(x=x, y=y, hue=hue, order=labels, hue_order=hue_order, palette=palette, dodge=True, jitter=0.12,
                  size=5, alpha=0.85, edgecolor="white", linewidth=0.4, ax=ax, zorder=2)
    width = 0.8 / len(figures)
    for i, key in enumerate(keys):
        for j, w in enumerate(figures):
            centre = i - 0.4 + width * (j + 0.5)
            ax.hlines(seeds[key][w]["mean"], centre - width * 0.4, centre + width * 0.4, color="k", lw=2, zorder=3)
        first = seeds[key][figures[0]]
        ax.hlines(first["baseline"], i - 0.45, i + 0.45, color="k", ls=":", lw=1.4, zorder=1)
        ax.hlines(first["baseline_high"], i - 0.45, i + 0.45, color="0.35", ls="--", lw=1.0, zorder=1)
    handles, _ = ax.get_legend_handles_labels()
    handles = handles[: len(figures)] + [
        Line2D([], [], color="k", lw=2, label="mean over seeds"),
        Line2D([], [], color="k", ls=":", lw=1.4, label="majority baseline"),
        Line2D([], [], color="0.35", ls="--", lw=1.0, label="its 95 % upper end"),
    ]
    ax.legend_.remove() if ax.legend_ else None
    low = min(min(min(v[w]["values"]) for w in figures) for v in seeds.values())
    ax.set_ylim(max(0.0, min(low, min(v[figures[0]]["baseline"] for v in seeds.values())) - 0.05), 1.0)
    ax.set(xlabel="", ylabel="test accuracy (one dot per seed)", title=title)
    ax.grid(axis="y", color="0.9", lw=0.8, zorder=0)
    ax.set_axisbelow(True)
    _legend_outside(ax, handles=handles)
    return fig
