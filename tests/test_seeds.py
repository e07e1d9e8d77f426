"""Training seeds apart from the split seed, and figures summarised over seeds."""

import dataclasses
import math
from types import SimpleNamespace

import helpers
import numpy as np
import pytest
import scipy.stats

from deap_lib.evaluation import stats, summaries
from deap_lib.evaluation.results import Estimate, Protocol
from deap_lib.experiment import engine, protocols
from deap_lib.experiment import settings
from deap_lib.experiment.settings import ExperimentConfig
from deap_lib.experiment.splits import Split, fixed_split
from deap_lib.report import chapters, pages

SMALL_DNN = {"hidden": (32,), "p_input": 0.1, "p_hidden": 0.2}


def config(**kw):
    return ExperimentConfig(**{**dict(model="dnn", epochs=3, batch_size=16, n_test=20, model_kwargs=SMALL_DNN), **kw})


def test_train_seed_changes_the_training_draw_not_the_split(cache):
    data = helpers.fake_data()
    split = fixed_split(len(data.features), n_test=20, seed=12)
    a, _ = engine.train_run(config(train_seed=0), data, split, progress=False)
    b, _ = engine.train_run(config(train_seed=1), data, split, progress=False)
    again, _ = engine.train_run(config(train_seed=1), data, split, progress=False)
    assert a.split == b.split and a.history.loss != b.history.loss
    assert b.history == again.history
    assert (a.config.train_seed, b.config.train_seed) == (0, 1) and a.run_seed != b.run_seed
    assert a.to_json()["seed"] == {"experiment": 12, "train": 0, "run": a.run_seed}
    assert protocols.run_id(config(train_seed=0), data, split, "fixed") != protocols.run_id(config(train_seed=1), data, split, "fixed")


def _summary(test_acc, n_test=20):
    return engine.summarize({"test_acc": test_acc, "val_acc": [None]}, np.array([0, 1]), np.array([0, 1] * (n_test // 2)))


def _run(test_acc, baseline=0.5, n_test=20, train_seed=0):
    """A fixed split's run of one training seed, as summaries read it."""
    summary = dataclasses.replace(_summary(test_acc, n_test), majority_baseline=baseline)
    return SimpleNamespace(summary=summary, config=SimpleNamespace(epochs=len(test_acc), train_seed=train_seed))


def test_last_k_is_the_mean_of_the_last_epochs():
    s = _summary(list(np.linspace(0.5, 0.8, 25)), n_test=2)
    assert s.last_k.k == engine.LAST_K and s.last_k.accuracy == pytest.approx(np.linspace(0.5, 0.8, 25)[-10:].mean())
    short = _summary([0.4, 0.6], n_test=2)
    assert short.last_k.to_json() == {"accuracy": pytest.approx(0.5), "epoch": 2, "k": 2}
    assert short.val_chosen is None and short.figure("val_chosen") == short.last


def test_over_seeds_counts_seeds_above_the_baselines_interval_and_takes_a_t_interval():
    lasts = [0.9, 0.85, 0.6, 0.95, 0.8]
    runs = [_run([0.5, v], n_test=100, train_seed=i) for i, v in enumerate(lasts)]
    v = summaries.over_seeds(runs, "last")
    _, high = stats.accuracy_ci(0.5, 100)
    assert v.n_above == sum(x > high for x in lasts) and v.seed_ids == (0, 1, 2, 3, 4)
    t_low, t_high = scipy.stats.t.interval(0.95, 4, loc=np.mean(lasts), scale=scipy.stats.sem(lasts))
    assert (v.low, v.high) == pytest.approx((t_low, t_high))
    assert v.sd == pytest.approx(np.std(lasts, ddof=1)) and v.above_chance()
    with pytest.raises(ValueError, match="one split"):
        summaries.over_seeds([_run([0.5], baseline=0.5), _run([0.5], baseline=0.6)], "last")


def test_steadier_picks_the_figure_with_the_smaller_spread():
    sd = lambda x: SimpleNamespace(sd=x)  # noqa: E731
    noisy_last = {key: {"last": sd(0.1), "last_k": sd(0.03)} for key in ("a", "b")}
    assert summaries.steadier(noisy_last) == {"choice": "last_k", "sd": {"last": pytest.approx(0.1), "last_k": pytest.approx(0.03)}}
    assert summaries.steadier({"a": {"last": sd(0.02), "last_k": sd(0.05)}})["choice"] == "last"


def test_compare_over_seeds_matches_scipy_welch():
    a, b = [0.7, 0.72, 0.65, 0.69], [0.6, 0.66, 0.64]
    c = summaries.compare_over_seeds(a, b)
    t, p = scipy.stats.ttest_ind(a, b, equal_var=False)
    assert (c["t"], c["p_value"]) == pytest.approx((t, p))
    assert c["share_a_wins"] == pytest.approx(np.mean([x > y for x in a for y in b]))
    assert math.isnan(summaries.compare_over_seeds([0.7], [0.6])["t"])


def test_folds_average_seeds_within_a_fold_and_split_the_spread():
    def rec(fold, acc):
        summary = dataclasses.replace(_summary([acc], n_test=10), majority_baseline=0.5)
        return SimpleNamespace(split=SimpleNamespace(name=fold), config=SimpleNamespace(epochs=2), summary=summary)

    records = [rec("f0", 0.6), rec("f1", 0.8), rec("f0", 0.7), rec("f1", 0.9)]  # seed 0 then seed 1
    f = summaries.folds(records, "val_chosen")  # no validation set: the last epoch
    assert f.n == 2 and f.values == pytest.approx([0.65, 0.85]) and f.seeds == 2 and f.n_test == 20
    assert f.fold_sd == pytest.approx(np.std([0.65, 0.85], ddof=1))
    assert f.seed_sd == pytest.approx(np.sqrt(np.mean([np.var([0.6, 0.7], ddof=1), np.var([0.8, 0.9], ddof=1)])))
    assert math.isnan(summaries.folds(records[:2], "last").seed_sd)


def test_tested_splits_lists_each_split_once():
    records = [SimpleNamespace(split=Split(n, [0], [i + 1])) for i, n in enumerate(("a", "b", "a"))]
    assert [(s.name, s.test.tolist()) for s in protocols.tested_splits(records)] == [("a", [3]), ("b", [2])]


def test_a_chapter_trains_every_seed_on_one_split(cache):
    data = helpers.fake_data(signal=1.5)
    values = {**config(epochs=2).to_dict(), "train_seeds": 3, "n_jobs": 1, "profile": "smoke"}
    fixed = chapters.fixed_runs(values, data, [("dnn", "valence")])
    seeds = fixed["dnn", "valence"]
    assert [r.report.config.train_seed for r in seeds] == [0, 1, 2]
    assert len({tuple(r.report.split.test) for r in seeds}) == 1
    rows = pages.seed_rows(summaries.seed_figures(fixed))
    assert rows[0]["seeds above it"].endswith("of 3") and "±" in rows[0]["best on test (optimistic)"]


def test_the_protocols_chapter_judges_seeds_as_the_fixed_split_chapter():
    # Five seeds steadily 6 points over a 53 % baseline: each seed is inside the baseline's Wilson
    # interval on 100 trials (upper end 62.6 %), but the mean over seeds is told from chance.
    runs = [_run([0.5, v], baseline=0.53, n_test=100, train_seed=i) for i, v in enumerate([0.58, 0.59, 0.6, 0.58, 0.59])]
    v = summaries.over_seeds(runs, "last")
    assert v.n_above == 0 and v.above_chance()
    fold = Estimate(0.5, 0.4, 0.6, 0.5, 2, 80, (0.45, 0.55), "t over folds", 2)
    summary = {("dnn", "valence"): {Protocol.BEST_ON_TEST: v, Protocol.FIXED: v, Protocol.KFOLD: fold, Protocol.LOSO: fold}}
    text = pages.protocols_warning(summary).data
    assert "training seeds" not in text and "leave-one-subject-out, honest epoch 50.0%" in text
    assert "above chance where participants are mixed: DNN valence (fixed split" in text


@pytest.mark.slow
def test_chapters_compute_what_they_show_in_any_order(tmp_path, monkeypatch):
    """The fixed-split chapter alone gives the same runs as after the models chapter (which trains
    only its own target's runs): no chapter relies on another having run."""
    data = helpers.fake_data(signal=1.5)
    monkeypatch.setattr(chapters, "prepared", lambda values: data)
    values = settings.chapter_settings({"profile": "smoke", "epochs": 2, "train_seeds": 2, "n_jobs": 1})

    def runs(fixed):
        return {key: [(r.report.id, r.report.history, r.honest and r.honest.history) for r in seeds]
                for key, seeds in fixed.items()}

    monkeypatch.setenv("DEAP_LIB_CACHE", str(tmp_path / "in order"))
    shown = chapters.models_chapter({**values, "target": "arousal"})["fixed"]
    assert list(shown) == [("dnn", "arousal"), ("cnn", "arousal")]
    in_order = runs(chapters.fixed_runs(values, data))
    monkeypatch.setenv("DEAP_LIB_CACHE", str(tmp_path / "alone"))
    alone = runs(chapters.fixed_runs(values, data))
    assert alone == in_order and len(alone) == 4
    assert {k: in_order[k] for k in shown} == runs(shown)
