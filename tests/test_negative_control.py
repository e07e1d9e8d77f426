"""The null twin (effect 0) as a negative control: every honest figure sits at chance.

Runs the honest-evaluation chapter's computation with the smoke profile's settings. It uses the
session's result cache ($DEAP_LIB_CACHE), so the chapters executed afterwards read these runs.
"""

import pytest

from deap_lib import baselines, book, training
from deap_lib.dataset import prepare, resolve_source


@pytest.fixture(scope="module")
def null_summary():
    values = book.settings({"profile": "smoke"})
    data = prepare(resolve_source(participants=values["participants"], twin_effect=0.0), progress=False)
    runs = book.protocol_runs(values, data)
    summaries = {k: book.protocol_summary(runs["fixed"][k], runs["kfold"][k], runs["loso"][k]) for k in runs["loso"]}
    loso = training.loso_holdout_splits(data, values["loso_holdout"], seed=12)
    logreg = {t: baselines.run_baseline("logreg", data, t, loso, seed=12) for t in ("valence", "arousal")}
    return summaries, logreg


def test_null_twin_honest_figures_at_chance(null_summary):
    summaries, logreg = null_summary
    control = book.negative_control(summaries, logreg)
    assert control["all_at_chance"], control["rows"]
    judged = [r for r in control["rows"] if r["at chance"] != "(not judged)"]
    assert len(judged) == 2 * 4 + 2  # two honest protocols x 4 (model, target) + logistic regression x 2


def test_negative_control_flags_an_above_chance_figure(null_summary):
    summaries, logreg = null_summary
    key = next(iter(summaries))
    loso = book.PROTOCOLS[3]
    rigged = {**summaries, key: {**summaries[key], loso: {**summaries[key][loso], "low": 0.99, "mean": 1.0}}}
    assert not book.negative_control(rigged, logreg)["all_at_chance"]
