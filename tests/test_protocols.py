import json
from types import SimpleNamespace

import helpers
import numpy as np
import pytest
import torch

from deap_lib.experiment import engine, protocols
from deap_lib.experiment.protocols import run_kfold, run_loso, run_splits
from deap_lib.experiment.records import Record
from deap_lib.experiment.settings import ExperimentConfig, load_config
from deap_lib.experiment.splits import fixed_split, kfold_splits
from deap_lib.store import Store

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
    a, _ = engine.train_run(config(), data, split, progress=False)
    b, _ = engine.train_run(config(), data, split, progress=False)
    c, _ = engine.train_run(config(seed=13), data, split, progress=False)
    assert a.history == b.history and a.test_logits == b.test_logits
    assert a.history.loss != c.history.loss
    global_state = torch.get_rng_state()
    engine.train_run(config(model="cnn", model_kwargs=SMALL_CNN), data, split, progress=False)
    assert torch.equal(global_state, torch.get_rng_state())  # the caller's RNG is untouched


@pytest.mark.slow
def test_overfits_a_tiny_set(cache):
    data = fake_data(n_participants=1, signal=0.0)  # pure noise labels: only memorisation helps
    split = fixed_split(40, n_test=5, seed=1)
    cfg = config(epochs=60, lr=1e-3, optimizer="adam", val_fraction=0.0, train_accuracy="eval",
                 model_kwargs={"hidden": (128,), "p_input": 0.0, "p_hidden": 0.0})
    record, _ = engine.train_run(cfg, data, split, progress=False)
    assert record.history.train_acc[-1] == 1.0
    assert record.history.loss[-1] < 0.05 < record.history.loss[0]


@pytest.mark.slow
def test_learns_a_planted_signal(cache):
    data = fake_data(signal=1.5)
    split = fixed_split(len(data.features), n_test=40, seed=3)
    record, _ = engine.train_run(config(epochs=30, lr=1e-3, optimizer="adam"), data, split, progress=False)
    assert record.summary.last.accuracy >= 0.85


def test_record_contents_and_weights(cache):
    data = fake_data()
    split = fixed_split(len(data.features), n_test=20, seed=12)
    [record] = run_splits(config(), data, [split], progress=False)
    s = record.split
    assert set(record.fit) | set(record.val) == set(s.train) and not set(s.train) & set(s.test)
    assert len(record.val) == 14  # 10 % of 140 training trials, taken from the training rows only
    h, summ = record.history, record.summary
    assert len(h.test_pred) == 3 and all(len(p) == 20 for p in h.test_pred)
    assert summ.as_reported.accuracy == max(h.test_acc) >= summ.last.accuracy
    chosen = summ.val_chosen.epoch
    assert h.val_acc[chosen - 1] == max(h.val_acc)
    assert summ.val_chosen.accuracy == h.test_acc[chosen - 1]
    assert np.array_equal(record.predictions("val_chosen"), [int(c) for c in h.test_pred[chosen - 1]])
    assert record.data["identity"] == data.identity and "torch" in record.versions
    model = protocols.load_weights(record)
    x = torch.as_tensor(data.features[s.test], dtype=torch.float32)
    np.testing.assert_allclose(model(x).detach().numpy(), record.test_logits, rtol=1e-5, atol=1e-5)
    # the stored JSON reads back as the same record, field for field
    stored = Store().read_json("records", record.id)
    assert Record.from_json(json.loads(json.dumps(stored))).to_json() == stored == record.to_json()


def test_stored_runs_are_reused_unless_forced(cache, monkeypatch):
    data = fake_data()
    split = fixed_split(len(data.features), n_test=20, seed=12)
    first = run_splits(config(), data, [split], progress=False)
    monkeypatch.setattr(protocols, "train_runs", lambda *a, **k: pytest.fail("trained twice"))
    assert [r.to_json() for r in run_splits(config(), data, [split], progress=False)] == [r.to_json() for r in first]
    with pytest.raises(pytest.fail.Exception):
        run_splits(config(), data, [split], progress=False, force=True)


def test_damaged_run_entries_are_trained_again(cache, caplog):
    data = fake_data()
    split = fixed_split(len(data.features), n_test=20, seed=12)
    [first] = run_splits(config(), data, [split], progress=False)
    store = Store()
    weights = store.path("weights", first.id)
    # A truncated weights file is noticed before its record is trusted: the run is trained again.
    weights.write_bytes(weights.read_bytes()[:-100])
    [again] = run_splits(config(), data, [split], progress=False)
    assert again.history == first.history and "is damaged" in caplog.text and str(weights) in caplog.text
    # A bit flipped in the record: one line naming the file, then trained again.
    caplog.clear()
    path = store.path("records", first.id)
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x04
    path.write_bytes(bytes(raw))
    [third] = run_splits(config(), data, [split], progress=False)
    assert third.history == first.history and "checksum" in caplog.text and str(path) in caplog.text
    # Flipped weights are caught when loaded: deleted with the record, and the error says what to do.
    raw = bytearray(weights.read_bytes())
    raw[-10] ^= 0x01
    weights.write_bytes(bytes(raw))
    with pytest.raises(LookupError, match="missing or damaged"):
        protocols.load_weights(third)
    assert not weights.exists() and not path.exists()
    protocols.load_weights(run_splits(config(), data, [split], progress=False)[0])


@pytest.mark.slow
def test_n_jobs_does_not_change_results(tmp_path):
    data = fake_data()
    folds = kfold_splits(len(data.features), n_folds=4, seed=12)
    one = run_splits(config(), data, folds, scheme="kfold", n_jobs=1, cache=tmp_path / "a", progress=False)
    two = run_splits(config(), data, folds, scheme="kfold", n_jobs=2, cache=tmp_path / "b", progress=False)
    for r1, r2 in zip(one, two):
        assert r1.split == r2.split
        assert r1.history.test_pred == r2.history.test_pred
        np.testing.assert_allclose(r1.history.loss, r2.history.loss, rtol=1e-5)
    assert len({tuple(r.split.test) for r in one}) == 4


def test_loso_validation_is_subject_independent(cache):
    data = fake_data(n_participants=5)
    records = run_loso(config(epochs=1), data, progress=False)
    assert [r.split.name for r in records] == [f"loso-s{p:02d}" for p in range(1, 6)]
    for r in records:
        part = lambda rows: set(data.participant[rows].tolist())  # noqa: E731
        test_p, val_p, fit_p = part(r.split.test), part(r.val), part(r.fit)
        assert len(test_p) == 1 and not test_p & (val_p | fit_p) and not val_p & fit_p


def test_report_protocol_fits_the_full_training_sets(cache):
    """The report's runs fit all 1180 (fixed) and 1240 (32-fold) training trials; the honest run holds out 10 %."""
    data = fake_data(n_participants=32)  # 1280 trials, as DEAP
    tiny = dict(epochs=1, model_kwargs={"hidden": (8,), "p_input": 0.1, "p_hidden": 0.1})
    [pair] = protocols.run_fixed([load_config("deap_dnn_valence", **tiny)], data, progress=False)
    store = Store()
    stored = store.read_json("records", pair.report.id)
    assert len(stored["split"]["fit"]) == 1180 and stored["split"]["val"] == [] and len(stored["y_test"]) == 100
    assert stored["config"]["val_fraction"] == 0.0
    honest = store.read_json("records", pair.honest.id)
    assert (len(honest["split"]["fit"]), len(honest["split"]["val"])) == (1062, 118)
    assert honest["split"]["test"] == stored["split"]["test"]
    s = pair.summary.to_json()
    assert s["as_reported"] == stored["summary"]["as_reported"] and s["last"] == stored["summary"]["last"]
    assert s["val_chosen"] == honest["summary"]["val_chosen"] is not None
    folds = run_kfold(load_config("deap_dnn_valence", **tiny), data, n_folds=32, holdout=2, progress=False)
    assert len(folds) == 2 and all(len(r.fit) == 1240 and len(r.y_test) == 40 for r in folds)
    all_names = [s.name for s in kfold_splits(1280, n_folds=32, seed=12)]
    assert {r.split.name for r in folds} <= set(all_names)


def test_val_fraction_zero_gives_no_honest_run(cache):
    data = fake_data()
    [pair] = protocols.run_fixed([config(val_fraction=0.0)], data, progress=False)
    assert pair.honest is None and pair.summary.val_chosen is None
    assert pair.predictions("last").shape == (20,)
    with pytest.raises(ValueError, match="no 'val_chosen' figure"):
        pair.predictions("val_chosen")


def test_non_finite_inputs_and_loss_are_refused(cache):
    data = fake_data()
    split = fixed_split(len(data.features), n_test=20, seed=12)
    data.features[5, 3, 7] = np.nan
    with pytest.raises(engine.NonFiniteError, match="non-finite"):
        engine.train_run(config(), data, split, progress=False)
    diverging = config(optimizer="sgd", lr=1e30)  # finite inputs, but the weights blow up
    with pytest.raises(engine.NonFiniteError, match="loss became nan at epoch 1"):
        engine.train_run(diverging, fake_data(), split, progress=False)


def _fake_5x2_records(accuracies, first_pred):
    return [SimpleNamespace(summary=SimpleNamespace(last=SimpleNamespace(accuracy=a)),
                            history=SimpleNamespace(test_pred=["0101", first_pred if i == 0 else "1111"]))
            for i, a in enumerate(accuracies)]


def test_five_by_two_flags_identical_first_fold_and_undefined_t(monkeypatch):
    data = fake_data(n_participants=2)
    acc_a = [0.5, 0.6, 0.7, 0.5, 0.6, 0.6, 0.55, 0.5, 0.6, 0.7]
    acc_b = [0.5, 0.5, 0.6, 0.6, 0.5, 0.7, 0.6, 0.5, 0.5, 0.6]
    fake = {"dnn": _fake_5x2_records(acc_a, "0011"), "cnn": _fake_5x2_records(acc_b, "0011")}
    monkeypatch.setattr(protocols, "run_splits", lambda config, *a, **k: fake[config.model])
    a, b = config(model="dnn", val_fraction=0.0), config(model="cnn", model_kwargs=SMALL_CNN, val_fraction=0.0)
    result = protocols.five_by_two(a, b, data, progress=False)
    assert result["t"] == 0.0 and result["identical_first"] is True
    fake["cnn"] = _fake_5x2_records(acc_b, "0010")
    assert protocols.five_by_two(a, b, data, progress=False)["identical_first"] is False
    fake["cnn"] = _fake_5x2_records(acc_a, "0011")  # the same accuracies everywhere: no variance
    result = protocols.five_by_two(a, b, data, progress=False)
    assert np.isnan(result["t"]) and np.isnan(result["p_value"]) and result["mean_difference"] == 0.0


def test_longest_runs_are_dispatched_first_and_records_keep_the_jobs_order(cache, monkeypatch):
    data = fake_data()
    split = fixed_split(len(data.features), n_test=20, seed=12)
    jobs = [(config(epochs=1), split, "fixed"), (config(model="cnn", model_kwargs=SMALL_CNN, epochs=1), split, "fixed"),
            (config(epochs=2), split, "fixed")]
    started = []
    real = protocols._train
    monkeypatch.setattr(protocols, "_train", lambda d, c, *a: started.append((c.model, c.epochs)) or real(d, c, *a))
    records = protocols.run_jobs(jobs, data, progress=False)
    assert started == [("cnn", 1), ("dnn", 2), ("dnn", 1)]  # CNN epochs cost about 2.7 DNN epochs
    assert [(r.config.model, r.config.epochs) for r in records] == [("dnn", 1), ("cnn", 1), ("dnn", 2)]
