import json

import helpers
import numpy as np
import pytest
import torch

from deap_lib import training
from deap_lib.splits import fixed_split, kfold_splits, loso_splits
from deap_lib.training import ExperimentConfig, load_config, run_experiment, run_splits

SMALL_DNN = {"hidden": (64, 32), "p_input": 0.1, "p_hidden": 0.2}
SMALL_CNN = {"conv_channels": (2, 4), "hidden": 8}


def fake_data(n_participants=4, seed=0, signal=1.0):
    return helpers.fake_data(n_participants, seed, signal, tag="fake")


def config(**kw):
    base = dict(model="dnn", epochs=3, batch_size=16, n_test=20, model_kwargs=SMALL_DNN)
    return ExperimentConfig(**{**base, **kw})


def test_report_defaults_and_configs():
    dnn, cnn = ExperimentConfig(model="dnn"), ExperimentConfig(model="cnn")
    assert (dnn.batch_size, dnn.optimizer, dnn.lr, dnn.momentum, dnn.epochs) == (310, "rmsprop", 1e-4, 0.0, 250)
    assert (cnn.batch_size, cnn.optimizer, cnn.lr, cnn.momentum) == (50, "sgd", 1e-4, 0.9)
    for model in ("dnn", "cnn"):
        for target in ("valence", "arousal"):
            c = load_config(f"deap_{model}_{target}")
            assert (c.model, c.target, c.seed, c.n_test, c.epochs) == (model, target, 12, 100, 250)
    assert load_config("deap_cnn_valence", lr=1e-3).lr == 1e-3
    with pytest.raises(ValueError, match="unknown experiment parameter"):
        ExperimentConfig.from_dict({"model": "dnn", "learning_rate": 1})
    with pytest.raises(ValueError, match="model must be"):
        ExperimentConfig(model="rnn")
    with pytest.raises(FileNotFoundError, match="deap_dnn_valence"):
        load_config("no_such_config")


def test_same_seed_same_history_other_seed_different(cache):
    data = fake_data()
    split = fixed_split(len(data.features), n_test=20, seed=12)
    a, _ = training.train_run(config(), data, split, progress=False)
    b, _ = training.train_run(config(), data, split, progress=False)
    c, _ = training.train_run(config(seed=13), data, split, progress=False)
    assert a["history"] == b["history"] and a["test_logits"] == b["test_logits"]
    assert a["history"]["loss"] != c["history"]["loss"]
    global_state = torch.get_rng_state()
    training.train_run(config(model="cnn", model_kwargs=SMALL_CNN), data, split, progress=False)
    assert torch.equal(global_state, torch.get_rng_state())  # the caller's RNG is untouched


def test_overfits_a_tiny_set(cache):
    data = fake_data(n_participants=1, signal=0.0)  # pure noise labels: only memorisation helps
    split = fixed_split(40, n_test=5, seed=1)
    cfg = config(epochs=60, lr=1e-3, optimizer="adam", val_fraction=0.0, train_accuracy="eval",
                 model_kwargs={"hidden": (128,), "p_input": 0.0, "p_hidden": 0.0})
    record, _ = training.train_run(cfg, data, split, progress=False)
    assert record["history"]["train_acc"][-1] == 1.0
    assert record["history"]["loss"][-1] < 0.05 < record["history"]["loss"][0]


def test_learns_a_planted_signal(cache):
    data = fake_data(signal=1.5)
    split = fixed_split(len(data.features), n_test=40, seed=3)
    record, _ = training.train_run(config(epochs=30, lr=1e-3, optimizer="adam"), data, split, progress=False)
    assert record["summary"]["last"]["accuracy"] >= 0.85


def test_record_contents_and_weights(cache):
    data = fake_data()
    split = fixed_split(len(data.features), n_test=20, seed=12)
    [record] = run_splits(config(), data, [split], progress=False)
    s = record["split"]
    assert set(s["fit"]) | set(s["val"]) == set(s["train"]) and not set(s["train"]) & set(s["test"])
    assert len(s["val"]) == 14  # 10 % of 140 training trials, taken from the training rows only
    h, summ = record["history"], record["summary"]
    assert len(h["test_pred"]) == 3 and all(len(p) == 20 for p in h["test_pred"])
    assert summ["as_reported"]["accuracy"] == max(h["test_acc"])
    assert summ["as_reported"]["accuracy"] >= summ["last"]["accuracy"]
    chosen = summ["val_chosen"]["epoch"]
    assert h["val_acc"][chosen - 1] == max(h["val_acc"])
    assert summ["val_chosen"]["accuracy"] == h["test_acc"][chosen - 1]
    assert record["data"]["identity"] == data.identity and "torch" in record["versions"]
    path = training.results_dir() / f"{record['id']}.pt"
    model = training.load_weights(path)
    x = torch.as_tensor(data.features[s["test"]], dtype=torch.float32)
    np.testing.assert_allclose(model(x).detach().numpy(), record["test_logits"], rtol=1e-5, atol=1e-5)
    json.dumps(record)


def test_stored_runs_are_reused_unless_forced(cache, monkeypatch):
    data = fake_data()
    split = fixed_split(len(data.features), n_test=20, seed=12)
    first = run_splits(config(), data, [split], progress=False)
    monkeypatch.setattr(training, "train_run", lambda *a, **k: pytest.fail("trained twice"))
    assert run_splits(config(), data, [split], progress=False) == first
    with pytest.raises(pytest.fail.Exception):
        run_splits(config(), data, [split], progress=False, force=True)


def test_n_jobs_does_not_change_results(tmp_path):
    data = fake_data()
    folds = kfold_splits(len(data.features), n_folds=4, seed=12)
    one = run_splits(config(), data, folds, scheme="kfold", n_jobs=1, cache=tmp_path / "a", progress=False)
    two = run_splits(config(), data, folds, scheme="kfold", n_jobs=2, cache=tmp_path / "b", progress=False)
    for r1, r2 in zip(one, two):
        assert r1["split"] == r2["split"]
        assert r1["history"]["test_pred"] == r2["history"]["test_pred"]
        np.testing.assert_allclose(r1["history"]["loss"], r2["history"]["loss"], rtol=1e-5)
    assert len({tuple(r["split"]["test"]) for r in one}) == 4


def test_loso_validation_is_subject_independent(cache):
    data = fake_data(n_participants=5)
    records = run_experiment(config(epochs=1), "loso", data=data, progress=False)
    assert [r["split"]["name"] for r in records] == [f"loso-s{p:02d}" for p in range(1, 6)]
    for r in records:
        part = lambda rows: set(data.participant[rows].tolist())  # noqa: E731
        test_p, val_p, fit_p = part(r["split"]["test"]), part(r["split"]["val"]), part(r["split"]["fit"])
        assert len(test_p) == 1 and not test_p & (val_p | fit_p) and not val_p & fit_p
