"""Stacked training (deap_lib.experiment.stacked, engine.train_runs) equals training the runs one by one."""

import helpers
import numpy as np
import pytest
import torch
from torch import nn

from deap_lib.experiment import engine
from deap_lib.experiment.settings import ExperimentConfig
from deap_lib.experiment.splits import fixed_split, kfold_splits, loso_splits
from deap_lib.experiment.stacked import StackedModel
from deap_lib.models import build_model

SMALL = {"dnn": {"hidden": (64, 32), "p_input": 0.1, "p_hidden": 0.2},  # dropout active everywhere
         "cnn": {"conv_channels": (2, 4), "hidden": 8}}
#: Stacked kernels (a batched matmul, a grouped convolution) add in another order than the plain
#: ones, so the runs agree to rounding, except where RMSprop and Adam divide by a gradient's own
#: scale: a weight whose gradient is rounding noise (about 1e-9, e.g. behind a ReLU input at 0) on
#: one path and 0 on the other moves by about lr * g / eps = 1e-5 at lr 1e-4 (measured here: up
#: to 8.6e-6, the CNN's fc weights under RMSprop; SGD: 3e-8).
WEIGHT_ATOL, LOSS_RTOL = 2e-5, 1e-4


@pytest.fixture(scope="module")
def data():
    return helpers.fake_data(n_participants=3, tag="stacked")  # 120 trials


def config(model="dnn", **kw):
    base = dict(model=model, epochs=3, batch_size=16, val_fraction=0.1, model_kwargs=SMALL[model])
    return ExperimentConfig(**{**base, **kw})


def assert_same_runs(plain, stacked):
    """Each stacked run equals its plain run within float tolerance; returns the largest differences."""
    assert len(plain) == len(stacked)
    worst_w = worst_loss = 0.0
    for (rec_p, state_p), (rec_s, state_s) in zip(plain, stacked):
        assert rec_p.split == rec_s.split and rec_p.run_seed == rec_s.run_seed and rec_p.config == rec_s.config
        assert np.array_equal(rec_p.y_test, rec_s.y_test) and np.array_equal(rec_p.fit, rec_s.fit)
        hp, hs = rec_p.history, rec_s.history
        np.testing.assert_allclose(hs.loss, hp.loss, rtol=LOSS_RTOL)
        worst_loss = max(worst_loss, max(abs(a - b) for a, b in zip(hp.loss, hs.loss)))
        preds_p, preds_s = "".join(hp.test_pred), "".join(hs.test_pred)
        assert sum(a != b for a, b in zip(preds_p, preds_s)) <= len(preds_p) // 100  # a logit at 0 may flip
        if preds_p == preds_s:
            assert hp.test_acc == hs.test_acc
        assert hp.val_acc == hs.val_acc and hp.train_acc == hs.train_acc
        assert state_p.keys() == state_s.keys()
        for key in state_p:
            assert state_s[key].shape == state_p[key].shape and state_s[key].device.type == "cpu"
            torch.testing.assert_close(state_s[key], state_p[key], rtol=0, atol=WEIGHT_ATOL)
            worst_w = max(worst_w, (state_s[key] - state_p[key]).abs().max().item())
        np.testing.assert_allclose(rec_s.test_logits, rec_p.test_logits, rtol=1e-4, atol=1e-4)
        assert (rec_p.stack_size, rec_s.to_json()["stacked"]) == (1, True)
    return worst_w, worst_loss


@pytest.mark.parametrize("model", ["dnn", "cnn"])
@pytest.mark.parametrize("optimizer,momentum", [("rmsprop", 0.0), ("sgd", 0.9), ("adam", None)])
def test_stacked_folds_equal_plain_folds(data, model, optimizer, momentum):
    cfg = config(model, optimizer=optimizer, momentum=momentum, lr=1e-3 if optimizer == "sgd" else 1e-4)
    folds = kfold_splits(len(data.features), n_folds=3, seed=3)
    plain = engine.train_runs(cfg, data, folds, scheme="kfold", progress=False, stacked=False)
    stacked = engine.train_runs(cfg, data, folds, scheme="kfold", progress=False, stacked=True)
    assert_same_runs(plain, stacked)
    assert [r.stack_size for r, _ in stacked] == [3] * 3
    record, state = stacked[2]
    plain_model = build_model(cfg.model, **cfg.model_kwargs)
    plain_model.load_state_dict(state)  # an ordinary state_dict of the plain model
    x = torch.as_tensor(data.features[record.split.test], dtype=torch.float32)
    with torch.no_grad():
        logits = plain_model.eval()(x)
    np.testing.assert_allclose(logits.numpy(), record.test_logits, rtol=1e-5, atol=1e-5)


def test_loso_eval_accuracy_and_no_validation(data):
    # LOSO validation holds whole participants out; "eval" re-evaluates the fit rows each epoch.
    folds = loso_splits(data.participant)
    cfg = config("cnn", train_accuracy="eval")
    plain = engine.train_runs(cfg, data, folds, scheme="loso", progress=False, stacked=False)
    assert_same_runs(plain, engine.train_runs(cfg, data, folds, scheme="loso", progress=False, stacked=True))
    cfg = config("dnn", val_fraction=0.0, train_accuracy="eval", epochs=2)
    plain = engine.train_runs(cfg, data, folds, scheme="loso", progress=False, stacked=False)
    stacked = engine.train_runs(cfg, data, folds, scheme="loso", progress=False, stacked=True)
    assert_same_runs(plain, stacked)
    assert stacked[0][0].summary.val_chosen is None


def test_unequal_shapes_are_grouped_and_singletons_trained_plain(data, monkeypatch):
    n = len(data.features)
    folds = kfold_splits(n, n_folds=7, seed=1)  # test folds of 18, then 17 trials
    mixed = [fixed_split(n, n_test=20, seed=2), folds[1], folds[2], folds[0], folds[3]]
    assert [len(s.test) for s in mixed] == [20, 17, 17, 18, 17]
    cfg = config("dnn", epochs=2)
    calls = []
    train = engine._train
    monkeypatch.setattr(engine, "_train", lambda runs, **kw: calls.append([r.split.name for r in runs]) or train(runs, **kw))
    out = engine.train_runs(cfg, data, mixed, scheme="kfold", progress=False, stacked=True)
    assert calls == [[mixed[0].name], [s.name for s in (mixed[1], mixed[2], mixed[4])], [mixed[3].name]]
    assert [r.split.name for r, _ in out] == [s.name for s in mixed]  # in the order given
    assert [r.stack_size > 1 for r, _ in out] == [False, True, True, False, True]
    for (rec, state), split in zip(out, mixed):
        reference = engine.train_run(cfg, data, split, scheme="kfold", progress=False)
        if rec.stack_size == 1:
            assert rec.history == reference[0].history
        else:
            assert_same_runs([reference], [(rec, state)])
    # At most two runs per stack: the three equal shapes make a stack of two and one plain run.
    calls.clear()
    engine.train_runs(cfg, data, folds[1:4], scheme="kfold", progress=False, stacked=True, max_stack=2)
    assert calls == [[s.name for s in folds[1:3]], [folds[3].name]]


def test_stacked_none_is_plain_on_cpu(data, monkeypatch):
    train = engine._train
    monkeypatch.setattr(engine, "_train", lambda runs, **kw: train(runs, **kw) if len(runs) == 1 else pytest.fail("stacked"))
    folds = kfold_splits(len(data.features), n_folds=3, seed=1)
    out = engine.train_runs(config(epochs=1), data, folds, scheme="kfold", device="cpu", progress=False)
    assert [r.stack_size for r, _ in out] == [1] * 3


def test_stack_groups():
    assert engine.stack_groups([(9, 1, 2), (8, 1, 3), (9, 1, 2)]) == [[0, 2], [1]]
    assert engine.stack_groups([(1,)] * 5, max_stack=2) == [[0, 1], [2, 3], [4]]
    assert engine.stack_groups([]) == []


def test_nonfinite_features_refused_before_training(data):
    bad = helpers.fake_data(n_participants=3, tag="stacked-nan")
    bad.features[5, 0, 0] = np.nan
    folds = kfold_splits(len(bad.features), n_folds=3, seed=1)
    with pytest.raises(engine.NonFiniteError, match="non-finite"):
        engine.train_runs(config(epochs=1), bad, folds, scheme="kfold", progress=False, stacked=True)


@pytest.mark.parametrize("model", ["dnn", "cnn"])
def test_stacked_model_starts_from_each_models_weights(model):
    models = [build_model(model, generator=torch.Generator().manual_seed(i), **SMALL[model]) for i in range(3)]
    net = StackedModel(models, sample_shape=(32, 99))
    # The CNN's convolution weights stay channels-last (oneDNN's NHWC kernels), stacked as (K * C_out, ...).
    assert [p.is_contiguous(memory_format=torch.channels_last) for p in net.stacked if p.dim() == 4] == \
        [True] * (2 if model == "cnn" else 0)
    x = torch.randn(3, 5, 32, 99, generator=torch.Generator().manual_seed(0))
    net.eval()
    out = net(x)
    assert out.shape == (3, 5)
    for k, m in enumerate(models):
        state = net.fold_state_dict(k)
        assert list(state) == list(m.state_dict())
        assert all(torch.equal(state[key], value) for key, value in m.state_dict().items())
        torch.testing.assert_close(out[k], m.eval()(x[k]), rtol=1e-5, atol=1e-6)


def test_unknown_layers_are_refused():
    class WithNorm(nn.Module):
        def __init__(self):
            super().__init__()
            self.flatten, self.norm, self.out = nn.Flatten(), nn.LayerNorm(6), nn.Linear(6, 1)

        def forward(self, x):
            return self.out(self.norm(self.flatten(x))).squeeze(-1)

    with pytest.raises(TypeError, match="does not know layer 'norm' of type LayerNorm"):
        StackedModel([WithNorm(), WithNorm()], sample_shape=(2, 3))

    class Bernoulli(WithNorm):
        def __init__(self):
            super().__init__()
            self.norm = nn.Dropout(0.5)

    with pytest.raises(TypeError, match="does not know layer 'norm' of type Dropout;.*deap_lib.models.Dropout"):
        StackedModel([Bernoulli(), Bernoulli()], sample_shape=(2, 3))

    class Residual(WithNorm):
        def forward(self, x):
            h = self.flatten(x)
            return self.out(h + self.norm(h)).squeeze(-1)

    with pytest.raises(ValueError, match="not a chain"):
        StackedModel([Residual(), Residual()], sample_shape=(2, 3))

    class MixesSamples(WithNorm):
        def __init__(self):
            super().__init__()
            self.flatten, self.norm, self.out = nn.Flatten(0), nn.ReLU(), nn.Linear(12, 1)

    with pytest.raises(ValueError, match="not a chain of layers at 'flatten'"):
        StackedModel([MixesSamples(), MixesSamples()], sample_shape=(2, 3))
