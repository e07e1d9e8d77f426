"""The book's figures: legible at the book's width (100 dpi, shrunk to about 800 px), labelled, and
honest about their intervals."""

import io
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402
from matplotlib.container import ErrorbarContainer  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from deap_lib.data import deap_format  # noqa: E402
from deap_lib.evaluation import results  # noqa: E402
from deap_lib.evaluation.results import Estimate, Protocol, RunSummary  # noqa: E402
from deap_lib.experiment.records import FixedRun  # noqa: E402
from deap_lib.report import plotting  # noqa: E402

MIN_PT = 9
BOOK_WIDTH_PX = 800
SHORT_PROTOCOLS = ("best on test (report's protocol)", "fixed, honest epoch", "random k-fold", "LOSO")


# --------------------------------------------------------------------------------------------
# Fake inputs with the shapes the book's notebooks pass


def fake_history(n_epochs=30, seed=0, val=True):
    rng = np.random.default_rng(seed)
    e = np.arange(1, n_epochs + 1)
    test = np.clip(0.5 + 0.15 * (1 - np.exp(-e / 8)) + rng.normal(0, 0.03, n_epochs), 0, 1)
    return {
        "loss": list(0.7 * np.exp(-e / 15) + 0.05),
        "train_acc": list(np.clip(0.5 + 0.45 * (1 - np.exp(-e / 10)), 0, 1)),
        "val_acc": list(np.clip(test + rng.normal(0, 0.03, n_epochs), 0, 1)) if val else [None] * n_epochs,
        "test_acc": list(test),
    }


def fake_record(model="dnn", split="fixed", acc=0.6, baseline=0.55, val=True, n_epochs=30, seed=0):
    h = fake_history(n_epochs, seed, val)
    best = int(np.argmax(h["test_acc"]))
    chosen = results.Figure(acc + 0.01, int(np.argmax(h["val_acc"])) + 1) if val else None
    summary = RunSummary(40, baseline, results.Figure(h["test_acc"][best], best + 1), results.Figure(acc, n_epochs),
                         results.Figure(acc, n_epochs, k=10), chosen)
    return SimpleNamespace(history=SimpleNamespace(**h), split=SimpleNamespace(name=split),
                           config=SimpleNamespace(model=model, epochs=n_epochs), summary=summary)


def fake_pair(honest=True):
    return FixedRun(None, fake_record(val=False, seed=1), fake_record(val=True, seed=2) if honest else None)


def fake_loso(n_participants=32, models=("dnn", "cnn"), targets=("valence", "arousal"), val=True):
    rng = np.random.default_rng(3)
    return {
        (m, t): [fake_record(m, f"loso-s{p:02d}", acc=float(rng.uniform(0.3, 0.8)),
                             baseline=float(rng.uniform(0.4, 0.8)), val=val, n_epochs=3, seed=p)
                 for p in range(1, n_participants + 1)]
        for t in targets for m in models
    }


def fake_groups(n_groups=4, n_folds=32):
    rng = np.random.default_rng(4)
    labels = [f"{m} {t}" for t in ("valence", "arousal") for m in ("DNN", "CNN")][:n_groups]
    groups = {lab: list(rng.uniform(0.4, 0.8, n_folds)) for lab in labels}
    baselines = {lab: float(rng.uniform(0.5, 0.6)) for lab in labels}
    reported = {lab: (0.59 if "valence" in lab else None) for lab in labels}
    return groups, baselines, reported


def fake_protocol_summary(keys=(("dnn", "valence"), ("cnn", "valence"), ("dnn", "arousal"), ("cnn", "arousal"))):
    def est(mean, low, high, baseline):
        return Estimate(mean, low, high, baseline, 2, 100, (mean,), "t over folds", 2)

    return {key: {Protocol.BEST_ON_TEST: est(0.70, float("nan"), float("nan"), 0.56),
                  Protocol.FIXED: est(0.58, 0.48, 0.67, 0.56), Protocol.KFOLD: est(0.60 + 0.01 * k, 0.55, 0.65, 0.57),
                  Protocol.LOSO: est(0.52, 0.45, 0.59, 0.58)} for k, key in enumerate(keys)}


def fake_permutation(targets=("valence", "arousal")):
    rng = np.random.default_rng(5)
    return {t: {"null": list(rng.normal(0.55, 0.02, 100)), "observed": 0.6, "p_value": 0.0099} for t in targets}


def fake_maps():
    rng = np.random.default_rng(6)
    return {(t, k): rng.normal(0, 0.3, deap_format.N_EEG)
            for t in ("valence", "arousal") for k in ("effect", "occlusion")}


def fake_feature_map(standardized=True):
    rng = np.random.default_rng(7)
    f = rng.normal(0, 1, (deap_format.N_EEG, 99))
    f[:, 5::9] *= 4  # the variance columns dominate, as in the book
    if standardized:
        f = (f - f.mean()) / f.std()
    else:
        f = f * 30 + 5
    return f


def fake_raw(n_channels=deap_format.N_EEG, seconds=10):
    rng = np.random.default_rng(8)
    return rng.normal(0, 20, (n_channels, seconds * deap_format.SFREQ)).cumsum(axis=1) * 0.1


def fake_seeds():
    rng = np.random.default_rng(9)
    return {key: {w: Estimate(0.6, 0.55, 0.65, 0.55, 5, 100, tuple(rng.uniform(0.5, 0.7, 5)), "t over seeds", 30,
                              baseline_high=0.65)
                  for w in ("as_reported", "last", "last_k")} for key in (("dnn", "valence"), ("cnn", "valence"))}


def _folds(n_groups, n_folds):
    groups, baselines, reported = fake_groups(n_groups, n_folds)
    return plotting.plot_fold_accuracies(groups, baselines=baselines, reported=reported)


# Every public figure with book-like inputs: name -> a call returning the Figure.
FIGURES = {
    "montage": lambda: plotting.plot_montage(),
    "raw": lambda: plotting.plot_raw(fake_raw()),
    "windows": lambda: plotting.plot_windows(fake_raw(1, 63)[0]),
    "feature_map": lambda: plotting.plot_feature_map(fake_feature_map(),
                                                     title="trial 1 of s01, standardization 'trial'"),
    "history": lambda: plotting.plot_history(fake_pair()),
    "history_no_honest": lambda: plotting.plot_history(fake_pair(honest=False)),
    "test_curves": lambda: plotting.plot_test_curves(
        {"DNN": fake_record("dnn", seed=1), "CNN": fake_record("cnn", seed=2)}, title="valence"),
    "test_curves_by_target": lambda: plotting.plot_test_curves_by_target(
        {(m, t): [fake_pair()] for m in ("dnn", "cnn") for t in ("valence", "arousal")}, prefix="MAHNOB-HCI "),
    "seed_spread": lambda: plotting.plot_seed_spread(fake_seeds(), title="fixed split"),
    "folds_4x32": lambda: _folds(4, 32),
    "folds_1x2": lambda: _folds(1, 2),
    "loso_32": lambda: plotting.plot_loso(fake_loso()),
    "loso_2": lambda: plotting.plot_loso(fake_loso(2, models=("dnn",), targets=("valence",), val=False)),
    "protocols_4": lambda: plotting.plot_protocols(fake_protocol_summary()),
    "protocols_1": lambda: plotting.plot_protocols(fake_protocol_summary(keys=(("cnn", "arousal"),))),
    "permutation": lambda: plotting.plot_permutation(fake_permutation()),
    "topomaps": lambda: plotting.plot_topomaps(fake_maps()),
    "topomap": lambda: plotting.plot_topomap(fake_maps()["valence", "effect"], title="valence", label="d"),
}


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _png_width(fig: Figure) -> int:
    """Width in pixels of the figure as the book's inline backend writes it (100 dpi, tight box)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    buf.seek(0)
    return int(plt.imread(buf).shape[1])


def _visible_texts(fig: Figure) -> list[Text]:
    fig.canvas.draw()
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()
            and (t.axes is None or t.axes.get_visible())]


# --------------------------------------------------------------------------------------------
# Every figure


@pytest.mark.parametrize("name", list(FIGURES))
def test_returns_a_figure_with_text_at_least_9_pt_at_book_width(name):
    fig = FIGURES[name]()
    assert isinstance(fig, Figure)
    scale = min(1.0, BOOK_WIDTH_PX / _png_width(fig))  # the book shrinks wider figures to its width
    texts = _visible_texts(fig)
    assert texts, "a figure without any text"
    small = [(t.get_text(), round(t.get_fontsize() * scale, 1)) for t in texts
             if t.get_fontsize() * scale < MIN_PT - 1e-6]
    assert not small, f"text smaller than {MIN_PT} pt as displayed (scale {scale:.2f}): {small[:10]}"


@pytest.mark.parametrize("name", ["raw", "feature_map"])
def test_every_channel_is_labelled_without_overlap(name):
    fig = FIGURES[name]()
    fig.canvas.draw()
    ticks = fig.axes[0].get_yticklabels()
    assert [t.get_text() for t in ticks] == list(deap_format.EEG_CHANNELS)
    boxes = sorted((t.get_window_extent(fig.canvas.get_renderer()) for t in ticks), key=lambda b: b.y0)
    for lower, upper in zip(boxes, boxes[1:]):
        assert upper.y0 >= lower.y1 - 0.5, "channel labels overlap"


def test_montage_names_every_channel_where_the_scalp_maps_put_it():
    names = {t.get_text(): t.get_position() for t in plotting.plot_montage().axes[0].texts if t.get_text()}
    assert list(names) == list(deap_format.EEG_CHANNELS)
    topomap = plotting.plot_topomap(np.zeros(deap_format.N_EEG)).axes[0]
    [sensors] = [c for c in topomap.collections if len(c.get_offsets()) == deap_format.N_EEG]
    np.testing.assert_allclose(list(names.values()), sensors.get_offsets(), atol=1e-12)


# --------------------------------------------------------------------------------------------
# Colour bars


def _colorbar_labels(fig):
    return [ax.get_ylabel() for ax in fig.axes if ax.get_label() == "<colorbar>"]


@pytest.mark.parametrize("standardized", [True, False])
def test_feature_map_colorbar_is_labelled(standardized):
    fig = plotting.plot_feature_map(fake_feature_map(standardized))
    labels = _colorbar_labels(fig)
    assert len(labels) == 1 and labels[0].strip()
    assert ("standardized" in labels[0]) == standardized


def test_topomap_colorbars_keep_their_labels():
    labels = _colorbar_labels(plotting.plot_topomaps(fake_maps()))
    assert sorted(labels) == sorted(["Cohen's d (high - low)", "test-loss increase when blanked"] * 2)


# --------------------------------------------------------------------------------------------
# Protocols: intervals only where they exist


def _errorbars(ax):
    return [c for c in ax.containers if isinstance(c, ErrorbarContainer)]


@pytest.mark.parametrize("n_keys", [1, 2, 4])
def test_protocols_best_on_test_has_no_error_bar(n_keys):
    keys = list(fake_protocol_summary())[:n_keys]
    summary = fake_protocol_summary(keys)
    fig = plotting.plot_protocols(summary)
    panels = [ax for ax in fig.axes if ax.get_visible() and ax.has_data()]
    assert len(panels) == n_keys
    for ax, key in zip(panels, keys):
        bars = _errorbars(ax)
        assert len(bars) == 3, "one interval per protocol that has one"
        xs = sorted(float(np.asarray(c.lines[0].get_xdata())[0]) for c in bars)
        assert xs == [1.0, 2.0, 3.0]  # never at x=0, the best-on-test protocol
        for c in bars:  # the interval drawn is the stored one
            x = int(round(float(np.asarray(c.lines[0].get_xdata())[0])))
            v = summary[key][list(Protocol)[x]]
            (seg,) = c.lines[2][0].get_segments()
            assert np.allclose(sorted(seg[:, 1]), [v.low, v.high])
        # the best-on-test figure is still drawn, as a bare marker at x=0
        best = summary[key][Protocol.BEST_ON_TEST].mean
        bare = [line for line in ax.lines if line.get_linestyle() == "None"
                and np.allclose(line.get_xdata(), [0]) and np.allclose(line.get_ydata(), [best])]
        assert bare, "the best-on-test point is missing"
        # one dotted baseline per protocol
        dotted = [c for c in ax.collections if isinstance(c, LineCollection) and c.get_linestyle()[0][1] is not None]
        assert sum(len(c.get_segments()) for c in dotted) == 4


def test_protocols_single_key_is_not_tiny_and_its_labels_are_wrapped():
    fig = plotting.plot_protocols(fake_protocol_summary(keys=(("dnn", "valence"),)))
    assert fig.get_size_inches()[0] >= 5
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert len(labels) == 4 and "\n" in labels[0]
    assert [" ".join(lab.split()) for lab in labels] == list(SHORT_PROTOCOLS)


# --------------------------------------------------------------------------------------------
# Fold accuracies and LOSO: every value drawn, baselines shown and explained


@pytest.mark.parametrize("n_groups,n_folds", [(1, 2), (2, 5), (4, 32)])
def test_fold_accuracies_draws_every_fold(n_groups, n_folds):
    groups, baselines, reported = fake_groups(n_groups, n_folds)
    fig = plotting.plot_fold_accuracies(groups, baselines=baselines, reported=reported, title="k-fold")
    ax = fig.axes[0]
    fig.canvas.draw()
    ys = np.sort(np.concatenate([c.get_offsets()[:, 1] for c in ax.collections if len(c.get_offsets())
                                 and not isinstance(c, LineCollection)]))
    assert np.allclose(ys, np.sort(np.concatenate(list(groups.values()))))
    assert [t.get_text() for t in ax.get_xticklabels()] == list(groups)
    legend = " ".join(t.get_text() for t in ax.get_legend().get_texts())
    assert "mean" in legend and "majority baseline" in legend and "report" in legend
    assert ax.get_ylim()[0] <= 0 + 1e-9 and ax.get_ylim()[1] >= 1 - 1e-9


def test_fold_accuracies_without_baselines_or_report():
    groups, _, _ = fake_groups(2, 4)
    fig = plotting.plot_fold_accuracies(groups)
    legend = " ".join(t.get_text() for t in fig.axes[0].get_legend().get_texts())
    assert "majority baseline" not in legend and "report" not in legend


@pytest.mark.parametrize("n", [2, 32])
def test_loso_labels_every_participant(n):
    loso = fake_loso(n)
    fig = plotting.plot_loso(loso)
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert len(panels) == 2
    fig.canvas.draw()
    for ax in panels:
        labels = [t.get_text() for t in ax.get_xticklabels() if t.get_visible() and t.get_text()]
        assert labels == [f"s{p:02d}" for p in range(1, n + 1)]
    legend = " ".join(t.get_text() for t in panels[0].get_legend().get_texts())  # one legend, outside the data
    assert "majority baseline" in legend and "DNN" in legend and "CNN" in legend


def test_loso_draws_each_participants_baseline_and_accuracy():
    loso = fake_loso(5, models=("dnn",), targets=("valence",), val=False)
    fig = plotting.plot_loso(loso)
    ax = fig.axes[0]
    recs = loso["dnn", "valence"]
    heights = [p.get_height() for p in ax.patches]
    assert np.allclose(heights, [r.summary.majority_baseline for r in recs])
    fig.canvas.draw()
    ys = np.concatenate([c.get_offsets()[:, 1] for c in ax.collections if len(c.get_offsets())])
    assert np.allclose(np.sort(ys), np.sort([r.summary.last.accuracy for r in recs]))


def test_no_global_style_change():
    before = dict(matplotlib.rcParams)
    for make in FIGURES.values():
        make()
    import seaborn  # noqa: F401  # importing seaborn must not restyle either

    after = dict(matplotlib.rcParams)
    assert {k: v for k, v in after.items() if before.get(k) != v} == {}


def test_seed_spread_is_the_same_picture_each_time_and_leaves_the_callers_generator():
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    dots = []
    for _ in range(2):
        fig = plotting.plot_seed_spread(fake_seeds())
        dots.append(np.concatenate([c.get_offsets() for c in fig.axes[0].collections if len(c.get_offsets())]))
        plt.close(fig)
    assert np.array_equal(dots[0], dots[1])
    assert np.array_equal(np.random.get_state()[1], before)
