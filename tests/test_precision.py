"""The ``precision`` setting: bfloat16 runs learn, "auto" decides from the hardware, keys never mix."""

import helpers
import numpy as np
import pytest
import torch

from deap_lib.experiment import engine, protocols, settings
from deap_lib.experiment.settings import ExperimentConfig, ParameterError
from deap_lib.experiment.splits import fixed_split
from deap_lib.models import Dropout

SMALL_DNN = {"hidden": (64, 32), "p_input": 0.1, "p_hidden": 0.2}
SMALL_CNN = {"conv_channels": (2, 4), "hidden": 8}


def config(**kw):
    base = dict(model="dnn", epochs=25, batch_size=16, n_test=40, lr=1e-3, optimizer="adam", model_kwargs=SMALL_DNN)
    return ExperimentConfig(**{**base, **kw})


@pytest.mark.parametrize("model, kwargs, optimizer", [("dnn", SMALL_DNN, "rmsprop"), ("cnn", SMALL_CNN, "sgd")])
def test_bfloat16_runs_learn_an_easy_twin(cache, model, kwargs, optimizer):
    data = helpers.fake_data(signal=1.5)
    split = fixed_split(len(data.features), n_test=40, seed=3)
    cfg = config(model=model, model_kwargs=kwargs, precision="bfloat16", optimizer=optimizer,
                 lr=1e-3 if optimizer == "rmsprop" else 1e-2, momentum=0.9 if optimizer == "sgd" else 0.0)
    record, state = engine.train_run(cfg, data, split, device="cpu", progress=False)
    loss, summary = record.history.loss, record.summary
    assert record.precision == "bfloat16"
    assert np.mean(loss[-3:]) < 0.8 * loss[0]
    assert summary.last.accuracy > summary.majority_baseline + 0.2
    # The stored weights are the bf16 weights that predicted, in float32 (exactly representable).
    assert all(v.dtype == torch.float32 for v in state.values() if v.is_floating_point())
    w = next(v for v in state.values() if v.is_floating_point())
    assert torch.equal(w, w.to(torch.bfloat16).float())


def test_bfloat16_starts_from_the_float32_weights_and_masks(cache):
    data = helpers.fake_data()
    split = fixed_split(len(data.features), n_test=40, seed=3)
    fp32, _ = engine.train_run(config(epochs=2), data, split, device="cpu", progress=False)
    bf16, _ = engine.train_run(config(epochs=2, precision="bfloat16"), data, split, device="cpu", progress=False)
    assert fp32.precision == "float32" and fp32.split == bf16.split
    # Same initial weights, order and masks: the first epoch's loss differs by rounding only.
    assert fp32.history.loss[0] == pytest.approx(bf16.history.loss[0], rel=0.02)
    assert fp32.history.loss != bf16.history.loss


def test_dropout_masks_are_drawn_in_float32_whatever_the_activation():
    like = torch.zeros(1000, dtype=torch.bfloat16)
    a = Dropout(0.25, generator=torch.Generator().manual_seed(1)).noise(like)
    b = Dropout(0.25, generator=torch.Generator().manual_seed(1)).noise(like.float())
    assert a.dtype == torch.bfloat16 and b.dtype == torch.float32
    assert torch.equal(a == 0, b == 0)


def test_stacked_bfloat16_equals_one_by_one(cache):
    data = helpers.fake_data()
    splits_ = [fixed_split(len(data.features), n_test=40, seed=s) for s in (3, 4)]
    splits_ = [type(s)(f"s{i}", s.train, s.test) for i, s in enumerate(splits_)]
    cfg = config(epochs=2, precision="bfloat16")
    alone = engine.train_runs(cfg, data, splits_, device="cpu", progress=False, stacked=False)
    together = engine.train_runs(cfg, data, splits_, device="cpu", progress=False, stacked=True)
    for (a, _), (b, _) in zip(alone, together):
        assert b.precision == "bfloat16" and b.stack_size > 1
        # bf16 rounding of other summation orders: the losses agree to bf16's resolution.
        np.testing.assert_allclose(a.history.loss, b.history.loss, rtol=0.03)


def test_auto_follows_the_hardware_flags(monkeypatch):
    monkeypatch.setattr(engine, "_cpu_flags", lambda: frozenset({"avx512f", "avx512_bf16"}))
    assert engine.resolve_precision("auto", "cpu") == "bfloat16"
    monkeypatch.setattr(engine, "_cpu_flags", lambda: frozenset({"amx_bf16", "amx_tile"}))
    assert engine.resolve_precision("auto", "cpu") == "bfloat16"
    monkeypatch.setattr(engine, "_cpu_flags", lambda: frozenset({"avx2", "avx512f"}))  # bf16 only emulated
    assert engine.resolve_precision("auto", "cpu") == "float32"
    assert engine.resolve_precision("bfloat16", "cpu") == "bfloat16"  # asked for: runs, emulated
    assert engine.resolve_precision("float32", "cuda") == "float32"


def test_cpu_flags_are_read_from_cpuinfo(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: fpu avx512f avx512_bf16 amx_tile\n\n"
                    "processor\t: 1\nflags\t\t: fpu\n")
    assert engine._cpu_flags(str(info)) == {"fpu", "avx512f", "avx512_bf16", "amx_tile"}
    assert engine._cpu_flags(str(tmp_path / "missing")) == frozenset()


def test_precision_is_part_of_the_run_key_and_auto_shares_its_resolution(monkeypatch):
    data = helpers.fake_data()
    split = fixed_split(len(data.features), n_test=40, seed=3)
    key = {p: protocols.run_id(config(precision=p), data, split, "fixed", "cpu") for p in settings.PRECISIONS}
    assert key["float32"] != key["bfloat16"]
    monkeypatch.setattr(engine, "_cpu_flags", lambda: frozenset({"avx512_bf16"}))
    assert protocols.run_id(config(precision="auto"), data, split, "fixed", "cpu") == key["bfloat16"]
    monkeypatch.setattr(engine, "_cpu_flags", lambda: frozenset())
    assert protocols.run_id(config(precision="auto"), data, split, "fixed", "cpu") == key["float32"]


def test_precision_setting_is_checked_and_profiles_choose_it():
    with pytest.raises(ParameterError, match="precision must be one of"):
        ExperimentConfig(precision="float16")
    assert ExperimentConfig().precision == "float32"  # the report's arithmetic
    assert settings.load_profile("paper")["precision"] == "float32"
    assert settings.load_profile("quick")["precision"] == "auto"


def test_records_in_two_precisions_are_stored_apart(cache):
    data = helpers.fake_data()
    cfgs = [config(epochs=1, precision=p) for p in ("float32", "bfloat16")]
    pairs = protocols.run_fixed(cfgs, data, progress=False)
    a, b = (p.report for p in pairs)
    assert a.id != b.id and (a.precision, b.precision) == ("float32", "bfloat16")
    assert (a.config.precision, b.config.precision) == ("float32", "bfloat16")


def test_rmsprop_with_its_buffer_kept_computes_torchs_bits():
    g = torch.Generator().manual_seed(0)
    shapes = [(300, 200), (200,), (1, 200)]
    ours = [torch.randn(s, generator=g).requires_grad_() for s in shapes]
    theirs = [p.detach().clone().requires_grad_() for p in ours]
    a, b = engine._RMSprop(ours, lr=1e-3), torch.optim.RMSprop(theirs, lr=1e-3, foreach=True)
    for _ in range(4):
        grads = [torch.randn(s, generator=g) for s in shapes]
        for p, q, grad in zip(ours, theirs, grads):
            p.grad, q.grad = grad.clone(), grad.clone()
        a.step(), b.step()
    assert all(torch.equal(p, q) for p, q in zip(ours, theirs))
    assert all(torch.equal(a.state[p]["square_avg"], b.state[q]["square_avg"]) for p, q in zip(ours, theirs))
    assert a.state_dict()["state"][0].keys() == b.state_dict()["state"][0].keys()
    assert isinstance(engine._make_optimizer(ExperimentConfig(model="dnn"), ours), engine._RMSprop)
    assert type(engine._make_optimizer(ExperimentConfig(model="dnn", momentum=0.5), ours)) is torch.optim.RMSprop
