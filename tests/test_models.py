"""Tests of deap_lib.models: sizes, shapes, initialisation, reproducibility, that the models list the
report's layers, and that their fast forward passes compute the report's literal layer order bit
for bit (against a plain re-implementation)."""

import math
import re

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from deap_lib.models import CNN, DNN, Dropout, Dropout2d, build_model, count_parameters


def _gen(seed):
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="module")
def dnn():
    return DNN(generator=_gen(0))


@pytest.fixture(scope="module")
def cnn():
    return CNN(generator=_gen(0))


def test_parameter_counts_match_the_report(dnn, cnn):
    assert count_parameters(dnn) == 18_847_501
    assert count_parameters(cnn) == 4_021_777


def test_count_parameters_skips_frozen(cnn):
    small = CNN(conv_channels=(2, 3), hidden=4, generator=_gen(0))
    total = count_parameters(small)
    small.conv1.weight.requires_grad_(False)
    assert count_parameters(small) == total - small.conv1.weight.numel()


@pytest.mark.parametrize("name", ["dnn", "cnn"])
@pytest.mark.parametrize("batch", [1, 7])
@pytest.mark.parametrize("training", [True, False])
def test_forward_shape(name, batch, training, dnn, cnn):
    model = {"dnn": dnn, "cnn": cnn}[name]
    model.train(training)
    out = model(torch.randn(batch, 32, 99, generator=_gen(1)))
    model.train()
    assert out.shape == (batch,)
    assert out.dtype == torch.float32
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("shape", [(7, 99, 32), (7, 32 * 99), (32, 99)])
def test_wrong_input_shape_is_rejected(shape, dnn):
    with pytest.raises(ValueError, match=r"\(B, 32, 99\)"):
        dnn(torch.zeros(shape))


def test_linear_init_is_xavier_normal_with_zero_bias(dnn, cnn):
    linears = [m for model in (dnn, cnn) for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert len(linears) == 6
    for layer in linears:
        assert torch.count_nonzero(layer.bias) == 0
    # The big layers hold millions of draws: their spread pins the distribution down to ~1 %.
    for layer in (dnn.hidden.get_submodule("0"), dnn.hidden.get_submodule("1"), cnn.fc):
        fan_out, fan_in = layer.weight.shape
        expected = math.sqrt(2.0 / (fan_in + fan_out))
        w = layer.weight.detach()
        assert w.std().item() == pytest.approx(expected, rel=0.01)
        assert abs(w.mean().item()) < 0.01 * expected


def test_conv_init_is_pytorch_default(cnn):
    # kaiming_uniform_(a=sqrt(5)) and the bias rule both give U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
    for layer in (cnn.conv1, cnn.conv2):
        bound = 1.0 / math.sqrt(layer.weight[0].numel())
        for tensor in (layer.weight, layer.bias):
            assert tensor.abs().max().item() <= bound
        assert layer.weight.abs().max().item() > 0.9 * bound
        assert layer.weight.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.1)


@pytest.mark.parametrize("cls", [DNN, CNN])
def test_same_seed_same_weights_other_seed_other_weights(cls):
    sizes = {DNN: {"hidden": (64, 32)}, CNN: {"conv_channels": (4, 8), "hidden": 16}}[cls]
    a = cls(**sizes, generator=_gen(12)).state_dict()
    b = cls(**sizes, generator=_gen(12)).state_dict()
    c = cls(**sizes, generator=_gen(13)).state_dict()
    assert a.keys() == b.keys() == c.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not any(torch.equal(a[k], c[k]) for k in a if not k.endswith("bias") or k.startswith("conv"))


@pytest.mark.parametrize("cls", [DNN, CNN])
def test_building_with_a_generator_leaves_the_global_rng_alone(cls):
    state = torch.get_rng_state()
    cls(generator=_gen(0))
    assert torch.equal(torch.get_rng_state(), state)


def test_reset_parameters_reproduces_construction():
    model = CNN(conv_channels=(4, 8), hidden=16, generator=_gen(5))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.reset_parameters(generator=_gen(5))
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_build_model_by_name():
    assert isinstance(build_model("dnn", hidden=(8,)), DNN)
    assert isinstance(build_model("CNN", conv_channels=(2, 3), hidden=4), CNN)
    with pytest.raises(ValueError, match="allowed: dnn, cnn"):
        build_model("lstm")
    with pytest.raises(TypeError):
        build_model("dnn", no_such_size=3)


@pytest.mark.parametrize(
    "kwargs",
    [{"p_input": 1.0}, {"p_hidden": -0.1}, {"hidden": ()}],
)
def test_dnn_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        DNN(**kwargs)


@pytest.mark.parametrize("kwargs", [{"kernel_size": 4}, {"conv_channels": (1, 2, 3)}, {"p_fc": 1.5}])
def test_cnn_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        CNN(**kwargs)


def test_sizes_change_the_count_as_expected():
    dnn = DNN(n_channels=4, n_features=10, hidden=(16, 8))
    assert count_parameters(dnn) == (40 * 16 + 16) + (16 * 8 + 8) + (8 + 1)
    cnn = CNN(n_channels=8, n_features=11, conv_channels=(3, 5), kernel_size=5, hidden=6)
    n_flat = 5 * 4 * 5  # pooled 8 x 11 -> 4 x 5
    assert count_parameters(cnn) == (3 * 25 + 3) + (5 * 3 * 25 + 5) + (n_flat * 6 + 6) + (6 + 1)
    out = cnn(torch.randn(3, 8, 11))
    assert out.shape == (3,)


@pytest.mark.parametrize("name", ["dnn", "cnn"])
def test_eval_mode_is_deterministic_and_training_mode_is_not(name, dnn, cnn):
    model = {"dnn": dnn, "cnn": cnn}[name]
    x = torch.randn(5, 32, 99, generator=_gen(2))
    model.eval()
    with torch.inference_mode():
        assert torch.equal(model(x), model(x))
    model.train()
    with torch.no_grad():
        assert not torch.equal(model(x), model(x))


def test_dropout_generator_makes_training_mode_reproducible():
    x = torch.randn(4, 32, 99, generator=_gen(3))
    outs = []
    for _ in range(2):
        model = CNN(conv_channels=(4, 8), hidden=16, generator=_gen(0), dropout_generator=_gen(9))
        state = torch.get_rng_state()
        outs.append(model(x))
        assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(outs[0], outs[1])


@pytest.mark.parametrize("p", [0.15, 0.25, 0.5])
def test_dropout_noise_is_nn_dropouts_multiplier(p):
    noise = Dropout(p, generator=_gen(4)).noise(torch.empty(200_000))
    scale = torch.ones(()).div_(1 - p)  # the value nn.Dropout multiplies kept units by
    kept = noise != 0
    assert torch.equal(noise[kept], scale.expand(int(kept.sum())))
    # Binomial(200000, 1 - p) has a standard deviation below 0.12 % of the mean.
    assert kept.float().mean().item() == pytest.approx(1 - p, abs=0.005)


# The report's layers in its order: what print(model) must list, as (type, start of its arguments).
REPORT_LAYERS = {
    "dnn": [
        ("Flatten", ""), ("Dropout", "p=0.25"),
        ("Linear", "in_features=3168, out_features=5000"), ("ReLU", ""), ("Dropout", "p=0.5"),
        ("Linear", "in_features=5000, out_features=500"), ("ReLU", ""), ("Dropout", "p=0.5"),
        ("Linear", "in_features=500, out_features=1000"), ("ReLU", ""), ("Dropout", "p=0.5"),
        ("Linear", "in_features=1000, out_features=1"),
    ],
    "cnn": [
        ("Unflatten", "dim=1, unflattened_size=(1, 32)"), ("Dropout", "p=0.25"),
        ("Conv2d", "1, 20, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1)"),
        ("ReLU", ""), ("Dropout2d", "p=0.15"),
        ("Conv2d", "20, 40, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1)"),
        ("ReLU", ""), ("Dropout2d", "p=0.15"),
        ("MaxPool2d", "kernel_size=2, stride=2"), ("Flatten", ""), ("Dropout", "p=0.5"),
        ("Linear", "in_features=31360, out_features=128"), ("ReLU", ""), ("Dropout", "p=0.25"),
        ("Linear", "in_features=128, out_features=1"),
    ],
}

# The names of the stored weights (runs' state_dicts in the cache are loaded with these keys).
STATE_DICT_KEYS = {
    "dnn": ["hidden.0.weight", "hidden.0.bias", "hidden.1.weight", "hidden.1.bias", "hidden.2.weight",
            "hidden.2.bias", "output.weight", "output.bias"],
    "cnn": ["conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "fc.weight", "fc.bias", "output.weight",
            "output.bias"],
}


@pytest.mark.parametrize("name", ["dnn", "cnn"])
def test_print_lists_the_report_layers_in_order(name, dnn, cnn):
    model = {"dnn": dnn, "cnn": cnn}[name]
    # Each leaf line of print(model): "(name): Type(arguments)"; containers end with "(".
    printed = re.findall(r"^\s*\(\w+\): (\w+)\((.*)\)$", str(model), flags=re.MULTILINE)
    expected = REPORT_LAYERS[name]
    assert [kind for kind, _ in printed] == [kind for kind, _ in expected]
    for (kind, args), (_, start) in zip(printed, expected):
        assert args.startswith(start), (kind, args)


@pytest.mark.parametrize("name", ["dnn", "cnn"])
def test_the_listed_layers_are_torch_nn_layers(name, dnn, cnn):
    model = {"dnn": dnn, "cnn": cnn}[name]
    standard = (nn.Flatten, nn.Unflatten, nn.Dropout, nn.Dropout2d, nn.Linear, nn.Conv2d, nn.ReLU, nn.MaxPool2d)
    leaves = [m for m in model.modules() if not list(m.children())]
    assert len(leaves) == len(REPORT_LAYERS[name])
    assert all(isinstance(m, standard) for m in leaves)


@pytest.mark.parametrize("name", ["dnn", "cnn"])
@pytest.mark.parametrize("training", [True, False])
def test_forward_runs_every_listed_layer_once(name, training, dnn, cnn):
    # What the chapters' architecture tables (forward hooks on every leaf module) rely on.
    model = {"dnn": dnn, "cnn": cnn}[name].train(training)
    leaves = [(n, m) for n, m in model.named_modules() if not list(m.children())]
    ran = []
    hooks = [m.register_forward_hook(lambda *_, n=n: ran.append(n)) for n, m in leaves]
    try:
        with torch.no_grad():
            model(torch.zeros(2, 32, 99))
    finally:
        for hook in hooks:
            hook.remove()
        model.train()
    listed = [n for n, _ in leaves]
    if name == "cnn":  # relu2 -> dropout2 -> pool runs pooled first (the same values: see CNN)
        at = listed.index("relu2")
        assert listed[at : at + 3] == ["relu2", "dropout2", "pool"]
        listed[at : at + 3] = ["pool", "relu2", "dropout2"]
    assert ran == listed


@pytest.mark.parametrize("name", ["dnn", "cnn"])
def test_state_dict_keys_are_those_of_the_stored_weights(name, dnn, cnn):
    model = {"dnn": dnn, "cnn": cnn}[name]
    assert list(model.state_dict()) == STATE_DICT_KEYS[name]


@pytest.mark.parametrize("layer", [Dropout, Dropout2d])
def test_dropout_layers_are_nn_dropouts_and_reject_p_one(layer):
    assert isinstance(layer(0.1), nn.Dropout if layer is Dropout else nn.Dropout2d)
    with pytest.raises(ValueError):
        layer(1.0)


def test_dropout_generator_reaches_every_dropout_layer():
    model = DNN(hidden=(8, 4), generator=_gen(0), dropout_generator=_gen(1))
    g = _gen(2)
    model.dropout_generator = g
    layers = [m for m in model.modules() if isinstance(m, nn.Dropout)]
    assert len(layers) == 3 and all(m.generator is g for m in layers)


def test_dropout2d_draws_one_multiplier_per_map():
    x = torch.ones(4, 6, 5, 7)
    out = Dropout2d(0.5, generator=_gen(3))(x)
    assert torch.equal(out, out[:, :, :1, :1].expand_as(out))
    assert (out == 0).any() and (out == 2).any()


# A plain re-implementation of the report's layers, written without deap_lib.models: the models must
# give the same numbers bit for bit, with the same dropout masks drawn in the same order.


def _reference_masks(seed, shapes_and_p):
    """Dropout multipliers as nn.Dropout defines them (0, or 1 / (1 - p) kept with probability
    1 - p), drawn layer after layer from one generator as ``u < 1 - p``, ``u`` uniform on [0, 1)."""
    g = _gen(seed)
    return [(torch.empty(shape).uniform_(generator=g) < 1 - p).float().div_(1 - p) for shape, p in shapes_and_p]


def _mask_shapes(name, batch):
    if name == "dnn":
        return [((batch, 3168), 0.25), ((batch, 5000), 0.5), ((batch, 500), 0.5), ((batch, 1000), 0.5)]
    return [((batch, 1, 32, 99), 0.25), ((batch, 20, 1, 1), 0.15), ((batch, 40, 1, 1), 0.15),
            ((batch, 31360), 0.5), ((batch, 128), 0.25)]


def _reference_dnn(w, x, masks):
    """The report's DNN in its literal layer order; ``w``: weights by state_dict key."""
    h = x.flatten(1) * masks[0]
    for i, mask in enumerate(masks[1:]):
        h = F.relu(F.linear(h, w[f"hidden.{i}.weight"], w[f"hidden.{i}.bias"])) * mask
    return F.linear(h, w["output.weight"], w["output.bias"]).squeeze(-1)


def _reference_cnn(w, x, masks):
    """The report's CNN in its literal layer order; ``w``: weights by state_dict key."""
    m_input, m_conv1, m_conv2, m_fc, m_hidden = masks
    h = x.unsqueeze(1) * m_input
    h = F.relu(F.conv2d(h, w["conv1.weight"], w["conv1.bias"], padding=1)) * m_conv1
    h = F.relu(F.conv2d(h, w["conv2.weight"], w["conv2.bias"], padding=1)) * m_conv2
    h = F.max_pool2d(h, 2).flatten(1) * m_fc
    h = F.relu(F.linear(h, w["fc.weight"], w["fc.bias"])) * m_hidden
    return F.linear(h, w["output.weight"], w["output.bias"]).squeeze(-1)


@pytest.mark.parametrize("name", ["dnn", "cnn"])
def test_training_matches_a_plain_reimplementation_bit_for_bit(name):
    # The report's sizes, two SGD steps: outputs, gradients and updated weights are identical.
    model = build_model(name, generator=_gen(0), dropout_generator=_gen(9))
    reference = {"dnn": _reference_dnn, "cnn": _reference_cnn}[name]
    # clone() keeps the convolutions' channels-last layout, so oneDNN runs the same kernels.
    w = {k: p.detach().clone().requires_grad_() for k, p in model.named_parameters()}
    opt_model = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    opt_reference = torch.optim.SGD(w.values(), lr=0.1, momentum=0.9)
    x = torch.randn(3, 32, 99, generator=_gen(10))
    y = torch.tensor([0.0, 1.0, 1.0])
    shapes = _mask_shapes(name, 3)
    masks = _reference_masks(9, 2 * shapes)  # the model's dropout_generator draws the same
    for step_masks in (masks[: len(shapes)], masks[len(shapes) :]):
        opt_model.zero_grad()
        opt_reference.zero_grad()
        fast, literal = model(x), reference(w, x, step_masks)
        F.binary_cross_entropy_with_logits(fast, y).backward()
        F.binary_cross_entropy_with_logits(literal, y).backward()
        assert torch.equal(fast, literal)
        for k, p in model.named_parameters():
            # Bit-identical here; in general a tie created by rounding inside a pooling window
            # could route one gradient differently (see CNN), which this seed does not hit.
            assert torch.equal(p.grad, w[k].grad), k
        opt_model.step()
        opt_reference.step()
    for k, p in model.named_parameters():
        assert torch.equal(p, w[k]), k


def test_cnn_pools_before_relu_and_dropout2d_with_the_literal_values_and_gradients(cnn):
    # Literal order: ReLU -> Dropout2d (a per-map multiplier) -> MaxPool2d(2); the CNN pools first.
    x = torch.randn(6, 40, 16, 49, generator=_gen(6))
    (noise,) = _reference_masks(7, [((6, 40, 1, 1), 0.15)])
    assert (noise == 0).any() and (noise != 0).any()
    grad_out = torch.randn(6, 40, 8, 24, generator=_gen(8))

    x_literal = x.clone().requires_grad_()
    literal = F.max_pool2d(F.relu(x_literal) * noise, 2)
    literal.backward(grad_out)

    x_fast = x.clone().requires_grad_()
    cnn.dropout2.generator = _gen(7)
    cnn.train()
    fast = cnn.dropout2(cnn.relu2(cnn.pool(x_fast)))
    cnn.dropout2.generator = cnn.dropout_generator
    fast.backward(grad_out)

    assert torch.equal(fast, literal)
    assert torch.equal(x_fast.grad, x_literal.grad)


def _plain_torch_nn(name, model):
    """The report's layers as standard torch.nn modules in one nn.Sequential, with ``model``'s weights."""
    if name == "dnn":
        layers = [nn.Flatten(), nn.Dropout(0.25)]
        for n_in, n_out in [(3168, 5000), (5000, 500), (500, 1000)]:
            layers += [nn.Linear(n_in, n_out), nn.ReLU(), nn.Dropout(0.5)]
        layers.append(nn.Linear(1000, 1))
    else:
        layers = [
            nn.Unflatten(1, (1, 32)), nn.Dropout(0.25),
            nn.Conv2d(1, 20, 3, padding=1), nn.ReLU(), nn.Dropout2d(0.15),
            nn.Conv2d(20, 40, 3, padding=1), nn.ReLU(), nn.Dropout2d(0.15), nn.MaxPool2d(2),
            nn.Flatten(), nn.Dropout(0.5), nn.Linear(31360, 128), nn.ReLU(), nn.Dropout(0.25), nn.Linear(128, 1),
        ]
    plain = nn.Sequential(*layers, nn.Flatten(0))
    # The model keeps its convolution weights channels-last; the same layout runs the same kernels.
    plain.to(memory_format=torch.channels_last)
    with torch.no_grad():
        weighted = [p for m in plain if isinstance(m, (nn.Linear, nn.Conv2d)) for p in (m.weight, m.bias)]
        for mine, theirs in zip(weighted, model.state_dict().values(), strict=True):
            mine.copy_(theirs)
    return plain.eval()


@pytest.mark.parametrize("name", ["dnn", "cnn"])
def test_eval_mode_matches_plain_torch_nn_layers_bit_for_bit(name, dnn, cnn):
    model = {"dnn": dnn, "cnn": cnn}[name].eval()
    x = torch.randn(4, 32, 99, generator=_gen(11))
    with torch.inference_mode():
        assert torch.equal(model(x), _plain_torch_nn(name, model)(x))
    model.train()


def test_building_and_training_draw_the_same_numbers_from_the_global_generator():
    # Without generators, weights and masks come from PyTorch's global generator, in the same
    # order and number as with them.
    x = torch.randn(3, 32, 99, generator=_gen(12))
    torch.manual_seed(5)
    model = CNN()
    out = model(x)
    after = torch.get_rng_state()
    torch.manual_seed(5)
    same = CNN(generator=torch.default_generator, dropout_generator=torch.default_generator)
    assert torch.equal(same(x), out)
    assert torch.equal(torch.get_rng_state(), after)
