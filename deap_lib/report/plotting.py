"""Figures of the book. Every function takes ``ax=None`` (or ``axes``) and returns the Figure.

The book shows figures at 100 dpi within about 800 px, so none is wider than :data:`BOOK_WIDTH` inches
and no text is smaller than 9 points. Nothing here changes matplotlib's global settings.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.lines import Line2D

from deap_lib.data import deap_format, features
from deap_lib.evaluation.results import Protocol
from deap_lib.evaluation.summaries import folds
from deap_lib.experiment.engine import LAST_K

REPORT_COLOR = "0.45"
#: MNE's template 10-20 positions (named "standard_1020" before MNE 1.13); ships with MNE, no download.
MONTAGE = "colin27_1020"
MODEL_COLORS = {"dnn": "tab:blue", "cnn": "tab:orange"}
#: Width (inches) of a full-width figure.
BOOK_WIDTH = 7.8
#: Size of legends, tick labels of dense axes and annotations.
SMALL_FONT = 9.5
#: Short, wrapped x labels of the protocols.
PROTOCOL_LABELS = {Protocol.BEST_ON_TEST: "best on test\n(report's\nprotocol)", Protocol.FIXED: "fixed,\nhonest\nepoch",
                   Protocol.KFOLD: "random\nk-fold", Protocol.LOSO: "LOSO"}
#: How the seed figures are named in figures and tables (``summaries.SEED_FIGURES``).
SEED_FIGURE_LABELS = {"as_reported": "best on test (optimistic)", "last": "last epoch",
                      "last_k": f"mean of the last {LAST_K} epochs"}


def _point(summary, which: str) -> tuple[int, float] | None:
    """(epoch, accuracy) of a :class:`~deap_lib.evaluation.results.RunSummary`'s ``which`` figure; None
    when the run has none."""
    f = getattr(summary, which)
    return None if f is None else (f.epoch, f.accuracy)


def _participant(record) -> str:
    return record.split.name.replace("loso-", "")


def _ax(ax, figsize):
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax.figure, ax


def _grid(n: int, width_one: float, row_height: float, pad: float, **share):
    """Axes for ``n`` panels, two per row (``width_one`` inches wide when alone); extras hidden."""
    ncols = min(n, 2)
    nrows = -(-n // ncols)
    fig, grid = plt.subplots(nrows, ncols, figsize=(BOOK_WIDTH if ncols == 2 else width_one, pad + row_height * nrows),
                             layout="constrained", squeeze=False, **share)
    for ax in grid.ravel()[n:]:
        ax.set_visible(False)
    return grid.ravel()


def _legend(ax, above=False, **kwargs):
    """A legend outside the axes, to their right (or above them), where it hides no data."""
    where = dict(loc="lower right", bbox_to_anchor=(1.0, 1.0), borderaxespad=0.2) if above else \
        dict(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    return ax.legend(**where, fontsize=SMALL_FONT, frameon=False, **kwargs)


def _ygrid(ax):
    ax.grid(axis="y", color="0.9", lw=0.8, zorder=0)
    ax.set_axisbelow(True)


def _info():
    """MNE's measurement info of DEAP's 32 EEG channels at the :data:`MONTAGE` positions."""
    import mne

    info = mne.create_info(list(deap_format.EEG_CHANNELS), deap_format.SFREQ, "eeg")
    return info.set_montage(mne.channels.make_standard_montage(MONTAGE), verbose=False)


def plot_montage(*, ax=None):
    """DEAP's 32 EEG channels seen from above, projected as :func:`plot_topomap` projects them."""
    import mne

    fig, ax = _ax(ax, (5.8, 6.0))
    # one channel group coloured by cmap(0): white markers with black edges, large enough to hold a name
    mne.viz.plot_sensors(_info(), kind="topomap", ch_groups=[np.arange(deap_format.N_EEG)], cmap="Greys",
                         pointsize=820, linewidth=1.0, axes=ax, show=False)
    sensors = ax.collections[-1]
    sensors.set_zorder(3)  # above the head outline
    for (x, y), name in zip(sensors.get_offsets(), deap_format.EEG_CHANNELS):
        ax.text(x, y, name, ha="center", va="center", fontsize=SMALL_FONT, fontweight="bold", zorder=4)
    ax.set_title("32 EEG channels, DEAP order (front at top)")
    return fig


def plot_raw(data: np.ndarray, *, channels=deap_format.EEG_CHANNELS, seconds: float = 8.0, ax=None):
    """The first ``seconds`` of one trial, shape (n_channels, n_samples) in µV, as stacked traces."""
    fig, ax = _ax(ax, (BOOK_WIDTH, 1.4 + 0.19 * len(data)))
    n = int(seconds * deap_format.SFREQ)
    t = np.arange(min(n, data.shape[1])) / deap_format.SFREQ
    spacing = 4 * np.median(data[:, :n].std(axis=1))
    spacing = spacing if spacing > 0 else 1.0
    offsets = -np.arange(len(data)) * spacing
    ax.plot(t, (data[:, :n] + offsets[:, None]).T, lw=0.5, color="k")
    ax.axvline(deap_format.BASELINE_S, color="tab:red", lw=1.2, ls="--", label="end of the 3 s baseline")
    ax.set_yticks(offsets, list(channels)[: len(data)])
    ax.tick_params(axis="y", labelsize=SMALL_FONT, length=2)
    ax.set(ylim=(-(len(data) - 0.3) * spacing, 0.9 * spacing), xlim=(0, t[-1] if t.size else seconds),
           xlabel="time (s)", ylabel=f"channel (traces {spacing:.0f} µV apart)")
    _legend(ax, above=True)
    return fig


def plot_windows(signal: np.ndarray, *, ax=None):
    """One channel, shape (n_samples,), with the reduction's 10 windows and each window's mean +/- std."""
    fig, ax = _ax(ax, (BOOK_WIDTH, 3.2))
    sfreq, window = deap_format.SFREQ, features.default_window(signal.size)
    ax.plot(np.arange(signal.size) / sfreq, signal, lw=0.3, color="0.5", label="signal")
    stats = features.reduce_dim(signal).reshape(-1, len(features.STAT_NAMES))  # (window, statistic)
    for w in range(features.N_WINDOWS):
        start, stop = w * window / sfreq, min((w + 1) * window, signal.size) / sfreq
        mean, std = stats[w, 0], stats[w, features.STAT_NAMES.index("std")]
        ax.axvline(start, color="k", lw=0.6, label="window start" if w == 0 else None)
        ax.fill_between([start, stop], mean - std, mean + std, color="tab:blue", alpha=0.3,
                        label="window mean ± std" if w == 0 else None)
        ax.hlines(mean, start, stop, color="tab:blue", lw=1.5)
    ax.set(xlim=(0, signal.size / sfreq), xlabel="time (s)", ylabel="µV")
    _legend(ax, above=True, ncol=3)
    return fig


def plot_feature_map(f: np.ndarray, *, title: str = "", ax=None):
    """A reduced trial, shape (32, 99), as an image; the colour bar says whether it is standardized."""
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
    ax.set(ylabel="channel", title=title)
    standardized = np.isfinite(f).all() and abs(f.mean()) < 0.05 and abs(f.std() - 1) < 0.05
    fig.colorbar(im, ax=ax, fraction=0.04, pad=0.02,
                 label="standardized value (z)" if standardized else "raw statistic (µV, µV² or unitless)")
    return fig


def plot_history(fixed, *, axes=None):
    """Loss (top) and accuracies (bottom) per epoch of a fixed split's two runs (a
    :class:`~deap_lib.experiment.records.FixedRun`): the report's run with its best-on-test epoch, the
    honest run with its validation-chosen epoch."""
    stacked = axes is None
    if stacked:
        fig, axes = plt.subplots(2, 1, figsize=(BOOK_WIDTH, 5.6), layout="constrained", sharex=True,
                                 height_ratios=(1, 1.5))
    loss, acc = axes
    report, summary = fixed.report.history, fixed.summary
    epochs = np.arange(1, len(report.loss) + 1)
    loss.plot(epochs, report.loss, color="k", label="report's run")
    acc.plot(epochs, report.train_acc, label="train (report's run)", color="0.55")
    acc.plot(epochs, report.test_acc, label="test (report's run)", color="tab:red")
    acc.plot(*_point(summary, "as_reported"), "v", color="tab:red", ms=9, ls="none", label="best on test (optimistic)")
    shown = [*report.train_acc, *report.test_acc]
    if fixed.honest is not None:
        honest = fixed.honest.history
        loss.plot(epochs, honest.loss, color="tab:green", ls="--", label="honest run")
        acc.plot(epochs, honest.val_acc, label="validation (honest run)", color="tab:green")
        shown += [v for v in honest.val_acc if v is not None]
        if (chosen := _point(summary, "val_chosen")) is not None:
            acc.plot(*chosen, "o", color="tab:green", mec="k", ms=8, ls="none",
                     label="test at the validation-\nchosen epoch (honest)")
    baseline = summary.majority_baseline
    acc.axhline(baseline, ls=":", color="k", lw=1.5, label="majority baseline (test)")
    low = min([0.3, baseline - 0.05, *(np.asarray(shown, dtype=float) - 0.05)])
    loss.set(ylabel="mean training loss\n(BCE)", xlabel="" if stacked else "epoch")  # side by side: both labelled
    acc.set(xlabel="epoch", ylabel="accuracy", ylim=(max(0.0, low), 1.0), xlim=(0.5, len(epochs) + 0.5))
    _legend(loss)
    _legend(acc)
    return loss.figure


def plot_test_curves(records: dict, *, ax=None, title: str = ""):
    """Test accuracy per epoch of several runs on one split, ``{label: record}`` (e.g. DNN vs CNN)."""
    fig, ax = _ax(ax, (BOOK_WIDTH, 3.4))
    for label, record in records.items():
        acc = record.history.test_acc
        color = MODEL_COLORS.get(record.config.model)
        ax.plot(np.arange(1, len(acc) + 1), acc, label=label, color=color)
        ax.plot(*_point(record.summary, "as_reported"), "v", color=color, ms=9)
    baseline = next(iter(records.values())).summary.majority_baseline
    ax.axhline(baseline, ls=":", color="k", lw=1.5, label="majority baseline")
    ax.set(xlabel="epoch", ylabel="test accuracy", title=title)
    handles, labels = ax.get_legend_handles_labels()
    handles.append(Line2D([], [], marker="v", ls="none", color="0.3", ms=9))
    _legend(ax, handles=handles, labels=[*labels, "best epoch on test\n(optimistic)"])
    return fig


def plot_test_curves_by_target(fixed: dict, *, prefix: str = ""):
    """:func:`plot_test_curves` of the report's runs (training seed 0) of ``{(model, target): [FixedRun]}``,
    one panel per target."""
    targets = list(dict.fromkeys(t for _, t in fixed))
    fig, axes = plt.subplots(len(targets), 1, figsize=(BOOK_WIDTH, 3.2 * len(targets)), layout="constrained",
                             squeeze=False)
    for ax, target in zip(axes[:, 0], targets):
        plot_test_curves({m.upper(): runs[0].report for (m, t), runs in fixed.items() if t == target}, ax=ax,
                         title=f"{prefix}{target}")
    return fig


def plot_fold_accuracies(groups: dict[str, list[float]], *, baselines: dict[str, float] | None = None,
                         reported: dict[str, float | None] | None = None, ax=None, title: str = ""):
    """One dot per fold for each group (a seaborn swarm), with the mean (bar), the majority baseline
    (dotted) and the report's figure (grey cross)."""
    import seaborn as sns

    labels = list(groups)
    baselines, reported = baselines or {}, {k: v for k, v in (reported or {}).items() if v is not None}
    fig, ax = _ax(ax, (min(BOOK_WIDTH, 3.6 + 1.2 * len(labels)), 3.6))
    x = [lab for lab in labels for _ in groups[lab]]
    # a label starting with a model's name ("DNN valence") takes the model's colour
    palette = {lab: MODEL_COLORS.get(str(lab).lower().partition(" ")[0], f"C{i % 10}") for i, lab in enumerate(labels)}
    ax.set_ylim(0, 1)  # before the swarm, which is laid out for the final limits
    sns.swarmplot(x=x, y=[float(v) for lab in labels for v in groups[lab]], hue=x, order=labels, hue_order=labels,
                  palette=palette, size=5.5, alpha=0.85, edgecolor="white", linewidth=0.4, legend=False, ax=ax,
                  zorder=2)
    cross = dict(marker="x", color=REPORT_COLOR, ms=9, mew=2.2)
    for i, label in enumerate(labels):
        ax.hlines(np.mean(groups[label]), i - 0.3, i + 0.3, color="k", lw=2.5, zorder=3)
        if label in baselines:
            ax.hlines(baselines[label], i - 0.4, i + 0.4, color="k", ls=":", lw=1.5, zorder=1)
        if label in reported:
            ax.plot(i + 0.42, reported[label], **cross, zorder=4)
    handles = [Line2D([], [], marker="o", ls="none", color="0.4", ms=6, label="one fold"),
               Line2D([], [], color="k", lw=2.5, label="mean over folds")]
    if baselines.keys() & set(labels):
        handles.append(Line2D([], [], color="k", ls=":", lw=1.5, label="majority baseline\n(folds' average)"))
    if reported.keys() & set(labels):
        handles.append(Line2D([], [], ls="none", **cross, label="report's mean on DEAP"))
    ax.set(xlim=(-0.6, len(labels) - 0.4), xlabel="", ylabel="test accuracy per fold", title=title)
    _ygrid(ax)
    _legend(ax, handles=handles)
    return fig


def plot_kfold(runs: dict, *, reported: dict | None = None, ax=None):
    """:func:`plot_fold_accuracies` of cross-validations ``{(model, target): [fold records]}`` at their
    last epoch; ``reported``: ``{(model, target): the report's mean}``."""
    labels = {key: f"{key[0].upper()} {key[1]}" for key in runs}
    summary = {labels[key]: folds(recs, "last") for key, recs in runs.items()}
    return plot_fold_accuracies({k: list(v.values) for k, v in summary.items()},
                                baselines={k: v.baseline for k, v in summary.items()},
                                reported={labels[key]: (reported or {}).get(key) for key in runs}, ax=ax)


def plot_loso(loso: dict, *, axes=None):
    """Leave-one-subject-out accuracy per held-out participant, ``{(model, target): [fold records]}``: one
    panel per target, each participant's majority baseline a grey bar, each seed's honest accuracy a dot."""
    targets = sorted({t for _, t in loso}, reverse=True)
    if axes is None:
        n = max(len({_participant(r) for r in recs}) for recs in loso.values())
        fig, axes = plt.subplots(len(targets), 1, figsize=(min(BOOK_WIDTH, 3.4 + 0.22 * n), 0.6 + 2.7 * len(targets)),
                                 layout="constrained", squeeze=False, sharey=True)
        axes = axes[:, 0]
    for ax, target in zip(axes, targets):
        models = [m for m, t in loso if t == target]
        baseline = {_participant(r): r.summary.majority_baseline for r in loso[models[0], target]}
        where = {name: i for i, name in enumerate(baseline)}
        ax.bar(range(len(where)), list(baseline.values()), color="0.85", width=0.8, label="majority baseline",
               zorder=1)
        for model, dx in zip(models, np.linspace(-0.17, 0.17, len(models)) if len(models) > 1 else [0.0]):
            recs = [r for r in loso[model, target] if _participant(r) in where]
            ax.scatter([where[_participant(r)] + dx for r in recs], [r.summary.figure().accuracy for r in recs],
                       s=36, color=MODEL_COLORS.get(model), edgecolors="white", linewidths=0.5, label=model.upper(),
                       zorder=3)
        many = len(where) > 16
        ax.set_xticks(range(len(where)), list(where), rotation=90 if many else 0)
        ax.tick_params(axis="x", labelsize=SMALL_FONT if many else 10, length=2)
        ax.set(xlim=(-0.6, len(where) - 0.4), title=target, ylim=(0, 1), ylabel="test accuracy")
        _ygrid(ax)
    axes[len(targets) - 1].set_xlabel("held-out participant")
    _legend(axes[0])
    return axes[0].figure


def plot_protocols(summary: dict, *, axes=None):
    """Accuracy with its 95 % interval (none where nan: a bare triangle) and majority baseline (dotted)
    under each protocol, one panel per key of ``{(model, target): {Protocol: Estimate}}``."""
    keys = list(summary)
    if axes is None:
        axes = _grid(len(keys), 5.2, 2.7, 1.4, sharex=True, sharey=True)
    fig = axes[0].figure
    for ax, key in zip(axes, keys):
        protocols = list(summary[key])
        for i, v in enumerate(summary[key].values()):
            color = REPORT_COLOR if i == 0 else MODEL_COLORS.get(key[0])
            if np.isnan(v.low) or np.isnan(v.high):
                ax.plot(i, v.mean, "v", color=color, ms=9, ls="none")
            else:
                ax.errorbar(i, v.mean, yerr=[[v.mean - v.low], [v.high - v.mean]], fmt="o",
                            color=color, ms=7, capsize=4, lw=1.5)
            ax.hlines(v.baseline, i - 0.3, i + 0.3, color="k", ls=":", lw=1.5)
        names = [PROTOCOL_LABELS[p] for p in protocols]
        ax.set_xticks(range(len(protocols)), names)
        ax.tick_params(axis="x", labelsize=SMALL_FONT, length=0)
        ax.set(xlim=(-0.5, len(protocols) - 0.5), title=f"{key[0].upper()} {key[1]}", ylim=(0, 1))
        _ygrid(ax)
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
    """Null distribution of a permutation test (histogram) and the observed score (red), per key of
    ``results`` (``{name: {"null", "observed", "p_value"}}``)."""
    if axes is None:
        axes = _grid(len(results), 4.8, 2.8, 0.9)
    for ax, (name, r) in zip(axes, results.items()):
        ax.hist(r["null"], bins=15, color="0.7", label="labels shuffled\nwithin participants")
        ax.axvline(r["observed"], color="tab:red", lw=2, label=f"real labels\n(p = {r['p_value']:.3f})")
        ax.set(title=str(name), xlabel="cross-validated accuracy", ylabel="permutations")
        ax.margins(x=0.08)
        ax.set_ylim(0, 1.55 * ax.get_ylim()[1])  # head room: the legend hides no bar
        ax.legend(fontsize=SMALL_FONT, loc="upper left", frameon=True, framealpha=0.85)
    return axes[0].figure


def plot_topomaps(maps: dict, *, axes=None):
    """A grid of scalp maps: rows = targets, columns = kinds, from ``{(target, kind): values (32,)}``."""
    rows = list(dict.fromkeys(t for t, _ in maps))
    cols = list(dict.fromkeys(k for _, k in maps))
    if axes is None:
        width = min(BOOK_WIDTH, 3.9 * len(cols))
        fig, axes = plt.subplots(len(rows), len(cols), figsize=(width, 3.3 * len(rows) * width / (3.9 * len(cols))),
                                 layout="constrained", squeeze=False)
    labels = {"effect": "Cohen's d (high - low)", "occlusion": "test-loss increase when blanked"}
    for i, target in enumerate(rows):
        for j, kind in enumerate(cols):
            plot_topomap(maps[target, kind], ax=axes[i][j], title=f"{target}: {kind}", label=labels.get(kind, kind))
    return axes[0][0].figure


def plot_topomap(values, *, ax=None, title: str = "", cmap: str = "RdBu_r", vlim=None, label: str = ""):
    """A scalp map of ``values``, shape (32,), one per channel in DEAP's order (MNE's template positions).

    ``vlim``: colour limits, by default symmetric about 0; ``label``: the colour bar's. Raises ValueError
    when ``values`` is not one value per channel or ``vlim`` not a (low, high) pair.
    """
    import mne

    values = np.asarray(values, dtype=float)
    if values.shape != (deap_format.N_EEG,):
        raise ValueError(f"values must have shape ({deap_format.N_EEG},), one per EEG channel, got {values.shape}")
    if vlim is None:
        top = float(np.nanmax(np.abs(values))) if np.isfinite(values).any() else 0.0
        vlim = (-top, top) if top > 0 else (-1.0, 1.0)  # an all-zero map still needs a colour range
    elif len(vlim) != 2:
        raise ValueError(f"vlim must be a (low, high) pair or None, got {vlim!r}")
    fig, ax = _ax(ax, (4.2, 3.6))
    im, _ = mne.viz.plot_topomap(values, _info(), axes=ax, show=False, cmap=cmap, vlim=tuple(vlim))
    cbar = fig.colorbar(im, ax=ax, shrink=0.8)
    cbar.set_label(label, fontsize=10)
    cbar.ax.tick_params(labelsize=SMALL_FONT)
    ax.set_title(title)
    return fig


def plot_seed_spread(seeds: dict, *, ax=None, title: str = ""):
    """Each training seed's figures for each fixed-split experiment, ``{(model, target): {figure:
    over_seeds(...)}}``: one dot per seed and figure (seaborn strip, dodged by figure), the mean over
    seeds (bar), the majority baseline (dotted) and the upper end of its Wilson 95 % interval (dashed)."""
    import seaborn as sns

    keys = list(seeds)
    labels = [f"{m.upper()} {t}" for m, t in keys]
    figures = [w for w in SEED_FIGURE_LABELS if w in seeds[keys[0]]]
    fig, ax = _ax(ax, (BOOK_WIDTH, 3.8))
    x, y, hue = zip(*[(label, v, SEED_FIGURE_LABELS[w]) for label, key in zip(labels, keys) for w in figures
                      for v in seeds[key][w].values])
    hue_order = [SEED_FIGURE_LABELS[w] for w in figures]
    caller = np.random.get_state()  # seaborn jitters with numpy's global generator: seeded here, then restored
    np.random.seed(0)
    sns.stripplot(x=list(x), y=list(y), hue=list(hue), order=labels, hue_order=hue_order,
                  palette=dict(zip(hue_order, ("0.6", "tab:blue", "tab:green"))), dodge=True, jitter=0.12,
                  size=5, alpha=0.85, edgecolor="white", linewidth=0.4, ax=ax, zorder=2)
    np.random.set_state(caller)
    width = 0.8 / len(figures)
    for i, key in enumerate(keys):
        for j, w in enumerate(figures):
            centre = i - 0.4 + width * (j + 0.5)
            ax.hlines(seeds[key][w].mean, centre - width * 0.4, centre + width * 0.4, color="k", lw=2, zorder=3)
        first = seeds[key][figures[0]]
        ax.hlines(first.baseline, i - 0.45, i + 0.45, color="k", ls=":", lw=1.4, zorder=1)
        ax.hlines(first.baseline_high, i - 0.45, i + 0.45, color="0.35", ls="--", lw=1.0, zorder=1)
    handles = ax.get_legend_handles_labels()[0][: len(figures)] + [
        Line2D([], [], color="k", lw=2, label="mean over seeds"),
        Line2D([], [], color="k", ls=":", lw=1.4, label="majority baseline"),
        Line2D([], [], color="0.35", ls="--", lw=1.0, label="its 95 % upper end")]
    low = min(min(y), *(v[figures[0]].baseline for v in seeds.values()))
    ax.set(ylim=(max(0.0, low - 0.05), 1.0), xlabel="", ylabel="test accuracy (one dot per seed)", title=title)
    _ygrid(ax)
    _legend(ax, handles=handles)
    return fig
