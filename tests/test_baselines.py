import helpers
import numpy as np
import pytest

from deap_lib.experiment import baselines
from deap_lib.experiment.baselines import CLASSIFIERS, make_classifier, permutation_null, run_baseline
from deap_lib.experiment.splits import kfold_splits


def fake_data(n_participants=3, seed=0, signal=1.0):
    return helpers.fake_data(n_participants, seed, signal, tag="fake-baselines")


def folds(data, n_folds=3):
    return kfold_splits(len(data.features), n_folds=n_folds, seed=12)


def mean_of(records, key):
    return float(np.mean([r[key] for r in records]))


def test_make_classifier_pipelines_and_errors():
    for name in CLASSIFIERS:
        pipe = make_classifier(name, seed=3)
        assert [step for step, _ in pipe.steps] == ["scale", "clf"]
    assert make_classifier("random_forest", seed=3).named_steps["clf"].random_state == 3
    with pytest.raises(ValueError, match=r"name must be one of .*logreg.*linear_svm.*random_forest"):
        make_classifier("xgboost")


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_beats_majority_with_signal_and_chance_without(name, cache):
    signal = fake_data(signal=1.0)
    records = run_baseline(name, signal, "valence", folds(signal))
    assert mean_of(records, "accuracy") >= mean_of(records, "majority_baseline") + 0.25

    noise = fake_data(signal=0.0, seed=1)
    records = run_baseline(name, noise, "valence", folds(noise))
    accuracy = mean_of(records, "accuracy")
    # 120 test predictions in all: chance accuracy has an SD of about 0.046.
    assert abs(accuracy - 0.5) < 0.14
    assert accuracy < mean_of(records, "majority_baseline") + 0.14


def test_record_layout(cache):
    data = fake_data()
    splits = folds(data)
    records = run_baseline("logreg", data, "valence", splits)
    y = data.labels("valence")
    assert [r["split"] for r in records] == [s.name for s in splits]
    for r, s in zip(records, splits):
        assert {"split", "accuracy", "majority_baseline", "n_test", "pred", "y_test"} <= set(r)
        assert r["n_test"] == len(s.test) == len(r["pred"])
        assert r["y_test"] == y[s.test].tolist() and set(r["pred"]) <= {0, 1}
        assert r["accuracy"] == pytest.approx(np.mean(np.array(r["pred"]) == y[s.test]))
    with pytest.raises(ValueError, match="target"):
        run_baseline("logreg", data, "dominance", splits)


def test_stored_results_are_reused_unless_forced(cache, monkeypatch):
    data = fake_data()
    splits = folds(data)
    first = run_baseline("logreg", data, "valence", splits)
    assert len(list((cache / "store" / "baselines").iterdir())) == 1
    monkeypatch.setattr(baselines, "_fit_split", lambda *a, **k: pytest.fail("fitted twice"))
    assert run_baseline("logreg", data, "valence", splits) == first
    for changed in ({"force": True}, {"seed": 13}):
        with pytest.raises(pytest.fail.Exception):
            run_baseline("logreg", data, "valence", splits, **changed)
    with pytest.raises(pytest.fail.Exception):
        run_baseline("logreg", data, "valence", splits[:2])


def test_n_jobs_does_not_change_results(tmp_path):
    data = fake_data(n_participants=2, signal=0.3)
    splits = folds(data, n_folds=2)
    one = run_baseline("random_forest", data, "valence", splits, n_jobs=1, cache=tmp_path / "a")
    two = run_baseline("random_forest", data, "valence", splits, n_jobs=2, cache=tmp_path / "b")
    assert one == two


def test_permutation_null(cache):
    data = fake_data(n_participants=2, signal=1.0)
    # n_jobs=2 reuses the worker processes test_n_jobs_does_not_change_results started (if run).
    with_signal = permutation_null(
        "linear_svm", data, "valence", cv=folds(data), n_permutations=19, seed=12, n_jobs=2
    )
    assert isinstance(with_signal["null"], list) and len(with_signal["null"]) == 19
    assert with_signal["p_value"] == pytest.approx(1 / 20)  # the smallest p 19 permutations allow
    assert with_signal["observed"] > max(with_signal["null"])

    noise = fake_data(n_participants=2, signal=0.0, seed=1)
    without = permutation_null(
        "linear_svm", noise, "valence", cv=folds(noise), groups=noise.participant, n_permutations=19, seed=12
    )
    assert without["p_value"] > 0.2
