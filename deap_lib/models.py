"""The report's two classifiers: a fully connected DNN and a small CNN.

Both take reduced trials of shape ``(B, n_channels, n_features)`` (32 x 99 by default) and return one
logit per trial (high vs low), shape ``(B,)``. Constructor defaults reproduce the report exactly
(18,847,501 and 4,021,777 trainable parameters).

Every layer of the report's tables is a module of the model, registered in the report's order, so
``print(model)`` lists the architecture and forward hooks see every layer (as in braindecode, whose
models are built from standard layers). Three things are written for speed on a CPU and compute
the same numbers as the literal layers:

- :class:`Dropout` and :class:`Dropout2d` are ``nn.Dropout`` and ``nn.Dropout2d`` whose masks are
  drawn with ``uniform_`` and a comparison instead of ``bernoulli_``: the same Bernoulli(1 - p)
  mask scaled by 1 / (1 - p), multiplied the way ``nn.Dropout`` does (``noise`` of 0 and
  1 / (1 - p), then ``x * noise``), from the model's ``dropout_generator``. On the 2-core CPUs this
  project runs on ``bernoulli_`` was 3-4x slower than ``uniform_`` and took about 11 % of a DNN
  epoch.
- ReLUs are ``nn.ReLU(inplace=True)``: each follows a Linear or a convolution (or, in the CNN, the
  max pooling), whose backward passes do not need their output.
- The CNN's convolution weights are stored channels-last (NHWC), which makes oneDNN run the
  convolutions and the pooling in that layout (about 20-25 % off a training epoch; the flattened
  features keep the report's C, H, W order).

One more is the CNN's and changes the order in which two layers run, not what they compute: the
report's ``ReLU -> Dropout2d -> MaxPool2d`` after the second convolution runs as
``MaxPool2d -> ReLU -> Dropout2d``, on a map four times smaller (about 19 % off a training epoch;
see :class:`CNN`). ``print(model)`` lists the report's order; forward hooks see the order run.

Dropout masks come from ``dropout_generator`` when one is given, otherwise from PyTorch's global
generator, as ``nn.Dropout``'s do; they are drawn in the order of the layers, one draw per layer.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = [
    "CNN",
    "DNN",
    "MODEL_NAMES",
    "Dropout",
    "Dropout2d",
    "build_model",
    "count_parameters",
    "dropout_noise",
]


def dropout_noise(
    shape: tuple[int, ...],
    p: float,
    *,
    like: torch.Tensor,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Draw an inverted-dropout multiplier: ``1 / (1 - p)`` with probability ``1 - p``, else 0.

    Parameters
    ----------
    shape : tuple of int
        Shape of the multiplier; it broadcasts against the activation (``(B, C, 1, 1)`` gives
        ``Dropout2d``'s one draw per sample and channel).
    p : float
        Probability of dropping, in [0, 1).
    like : Tensor
        The activation; gives dtype and device.
    generator : torch.Generator or None
        Source of randomness; None uses PyTorch's global generator.

    Returns
    -------
    noise : Tensor, shape ``shape``, the activation's dtype
        Zeros and ``1 / (1 - p)`` (the value ``nn.Dropout`` uses: ``1.0`` divided by ``1 - p``,
        in float32, then rounded to the activation's dtype).

    Notes
    -----
    ``u < 1 - p`` for ``u`` uniform on [0, 1) is Bernoulli(1 - p), exactly so for the report's
    probabilities (0.25, 0.5 are multiples of 2**-24, the resolution of float32 ``uniform_``) and
    within 2**-24 otherwise.
    """
    keep = 1.0 - p
    # Drawn in float32 whatever the activation's dtype: a bfloat16 run gets the masks of the
    # float32 run with the same generator (and bf16 ``uniform_`` is several times slower).
    noise = torch.empty(shape, dtype=torch.float32, device=like.device).uniform_(generator=generator)
    noise = noise.lt_(keep).div_(keep)
    return noise if noise.dtype == like.dtype else noise.to(like.dtype)


def _check_probability(name: str, p: float) -> None:
    if not 0.0 <= p < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {p}")


def _init_linear(layer: nn.Linear, generator: torch.Generator | None) -> None:
    # The report's initialisation: Xavier-normal weights, zero biases.
    nn.init.xavier_normal_(layer.weight, generator=generator)
    nn.init.zeros_(layer.bias)


def _init_conv(layer: nn.Conv2d, generator: torch.Generator | None) -> None:
    # PyTorch's default (nn.Conv2d.reset_parameters), re-run so that it can take a generator. Drawn
    # in the standard (contiguous) layout, so a channels-last weight gets the same values.
    weight = torch.empty(layer.weight.shape, dtype=layer.weight.dtype, device=layer.weight.device)
    nn.init.kaiming_uniform_(weight, a=math.sqrt(5), generator=generator)
    layer.weight.copy_(weight)
    fan_in, _ = nn.init._calculate_fan_in_and_fan_out(layer.weight)
    bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
    nn.init.uniform_(layer.bias, -bound, bound, generator=generator)


class _UniformDropout(nn.Module):
    """The forward pass of :class:`Dropout` and :class:`Dropout2d`: masks from :func:`dropout_noise`."""

    p: float

    def __init__(self, p: float = 0.5, *, generator: torch.Generator | None = None) -> None:
        _check_probability("p", p)
        super().__init__(p)  # nn.Dropout's or nn.Dropout2d's, next in the subclass's MRO
        self.generator = generator

    def _noise_shape(self, x: torch.Tensor) -> tuple[int, ...]:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        return x * dropout_noise(self._noise_shape(x), self.p, like=x, generator=self.generator)


class Dropout(_UniformDropout, nn.Dropout):
    """``nn.Dropout`` with masks from :func:`dropout_noise` (``uniform_``, faster than ``bernoulli_``).

    ``p`` must be in [0, 1); ``generator`` is the source of the masks (None: PyTorch's global
    generator). In eval mode, or with ``p == 0``, the input is returned as it is.
    """

    def _noise_shape(self, x: torch.Tensor) -> tuple[int, ...]:
        return tuple(x.shape)


class Dropout2d(_UniformDropout, nn.Dropout2d):
    """``nn.Dropout2d`` (whole feature maps) with masks from :func:`dropout_noise`.

    Takes ``x`` of shape (B, C, H, W) and draws one multiplier per sample and channel, shape
    (B, C, 1, 1); ``p`` and ``generator`` as for :class:`Dropout`.
    """

    def _noise_shape(self, x: torch.Tensor) -> tuple[int, ...]:
        return (x.shape[0], x.shape[1], *([1] * (x.ndim - 2)))


class _Classifier(nn.Module):
    """Shared plumbing: shape checks, the dropout generator, parameter initialisation."""

    n_channels: int
    n_features: int

    @property
    def dropout_generator(self) -> torch.Generator | None:
        """Source of every dropout mask in training mode (None: PyTorch's global generator)."""
        return self._dropout_generator

    @dropout_generator.setter
    def dropout_generator(self, generator: torch.Generator | None) -> None:
        self._dropout_generator = generator
        for module in self.modules():
            if isinstance(module, _UniformDropout):
                module.generator = generator

    def _check_input(self, x: torch.Tensor) -> None:
        if x.ndim != 3 or tuple(x.shape[1:]) != (self.n_channels, self.n_features):
            raise ValueError(
                f"expected input of shape (B, {self.n_channels}, {self.n_features}), "
                f"got {tuple(x.shape)}"
            )

    def _materialize(self, generator: torch.Generator | None) -> None:
        # Layers are created on the meta device so that building a model draws nothing from the
        # global generator (and skips PyTorch's default init, which would be overwritten anyway).
        self.to_empty(device="cpu")
        self.reset_parameters(generator=generator)

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """(Re-)initialise every layer: Xavier-normal Linear weights, zero Linear biases, PyTorch's
        default for convolutions; draws come from ``generator`` (None: the global generator)."""
        with torch.no_grad():
            for module in self.modules():
                if isinstance(module, nn.Linear):
                    _init_linear(module, generator)
                elif isinstance(module, nn.Conv2d):
                    _init_conv(module, generator)


class DNN(_Classifier):
    """Fully connected network on the flattened trial (the report's DNN).

    ``Flatten -> Dropout(p_input) -> [Linear -> ReLU -> Dropout(p_hidden)] x len(hidden) ->
    Linear(., 1)``; with the defaults: 3168 -> 5000 -> 500 -> 1000 -> 1, 18,847,501 trainable
    parameters.

    Parameters
    ----------
    n_channels, n_features : int
        Input trial shape (EEG channels x reduced features per channel).
    hidden : tuple of int
        Widths of the hidden layers.
    p_input, p_hidden : float
        Dropout probabilities on the input and after each hidden ReLU.
    generator, dropout_generator : torch.Generator or None
        Sources of the initial weights and of the dropout masks in training mode (None: the global
        generator).

    Notes
    -----
    A logit ``>= 0`` predicts the high class.

    The hidden layers form the ``nn.Sequential`` ``hidden``: layer ``i``'s Linear is named ``"i"``
    (so its weights are stored as ``hidden.i.weight``), followed by ``relu{i}`` and
    ``dropout{i}``. Get a Linear by name, ``model.hidden.get_submodule("1")``: ``model.hidden[1]``
    counts positions and is the first ReLU.
    """

    def __init__(
        self,
        n_channels: int = 32,
        n_features: int = 99,
        hidden: tuple[int, ...] = (5000, 500, 1000),
        p_input: float = 0.25,
        p_hidden: float = 0.5,
        *, generator: torch.Generator | None = None, dropout_generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if len(hidden) == 0:
            raise ValueError("hidden must name at least one layer width")
        _check_probability("p_input", p_input)
        _check_probability("p_hidden", p_hidden)
        self.n_channels = n_channels
        self.n_features = n_features
        widths = (n_channels * n_features, *hidden)
        self.flatten = nn.Flatten()
        self.input_dropout = Dropout(p_input)
        self.hidden = nn.Sequential()
        for i, (n_in, n_out) in enumerate(zip(widths[:-1], widths[1:])):
            self.hidden.add_module(str(i), nn.Linear(n_in, n_out, device="meta"))
            self.hidden.add_module(f"relu{i}", nn.ReLU(inplace=True))
            self.hidden.add_module(f"dropout{i}", Dropout(p_hidden))
        self.output = nn.Linear(widths[-1], 1, device="meta")
        self.dropout_generator = dropout_generator
        self._materialize(generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of a batch of trials: ``x`` (B, n_channels, n_features) -> (B,)."""
        self._check_input(x)
        x = self.flatten(x)  # (B, C * F)
        x = self.hidden(self.input_dropout(x))  # (B, hidden[-1])
        return self.output(x).squeeze(-1)  # (B,)


class CNN(_Classifier):
    """Two-convolution network on the trial seen as a one-channel image (the report's CNN).

    ``Unflatten -> Dropout(p_input) -> Conv2d(1, c1, k) -> ReLU -> Dropout2d(p_conv) -> Conv2d(c1,
    c2, k) -> ReLU -> Dropout2d(p_conv) -> MaxPool2d(2) -> Flatten -> Dropout(p_fc) -> Linear(.,
    hidden) -> ReLU -> Dropout(p_hidden) -> Linear(hidden, 1)``, convolutions with 'same' padding;
    with the defaults: 1 x 32 x 99 -> 20 x 32 x 99 -> 40 x 32 x 99 -> 40 x 16 x 49 = 31,360 -> 128
    -> 1, 4,021,777 trainable parameters.

    Parameters
    ----------
    n_channels, n_features : int
        Input trial shape, the image's height and width.
    conv_channels : tuple of two int
        Output channels of the two convolutions.
    kernel_size : int
        Odd square kernel size of both convolutions (padding ``kernel_size // 2``).
    hidden : int
        Width of the fully connected hidden layer.
    p_input, p_conv, p_fc, p_hidden : float
        Dropout probabilities: on the input image, per feature map after each convolution
        (``Dropout2d``), on the flattened pooled maps, and after the hidden layer.
    generator, dropout_generator : torch.Generator or None
        As for :class:`DNN`.

    Notes
    -----
    ``relu2 -> dropout2 -> pool`` runs as ``pool -> relu2 -> dropout2``. The forward values are the
    same bit for bit: max pooling commutes with any non-decreasing element-wise map, and both
    ``max(0, .)`` and multiplication by ``Dropout2d``'s non-negative per-map constant ``s`` are
    non-decreasing, also after float rounding, so ``max_i(max(0, x_i) * s) == max(0, max_i x_i) *
    s``. The gradient goes to the same element of each pooling window, with the same value, unless
    rounding ``x_i * s`` makes two different elements of a window equal (a tie that ``x`` itself
    does not have): the literal order then routes the gradient by its tie-break, this one to the
    element that really is the largest. The masks are drawn in the report's order all the same.
    """

    def __init__(
        self,
        n_channels: int = 32,
        n_features: int = 99,
        conv_channels: tuple[int, int] = (20, 40),
        kernel_size: int = 3,
        hidden: int = 128,
        p_input: float = 0.25,
        p_conv: float = 0.15,
        p_fc: float = 0.5,
        p_hidden: float = 0.25,
        *, generator: torch.Generator | None = None, dropout_generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if len(conv_channels) != 2:
            raise ValueError(f"conv_channels must hold two numbers, got {conv_channels}")
        if kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd to keep the map size, got {kernel_size}")
        for name, p in [("p_input", p_input), ("p_conv", p_conv), ("p_fc", p_fc), ("p_hidden", p_hidden)]:
            _check_probability(name, p)
        self.n_channels = n_channels
        self.n_features = n_features
        c1, c2 = conv_channels
        padding = kernel_size // 2
        self.unflatten = nn.Unflatten(1, (1, n_channels))
        self.input_dropout = Dropout(p_input)
        self.conv1 = nn.Conv2d(1, c1, kernel_size, padding=padding, device="meta")
        self.relu1 = nn.ReLU(inplace=True)
        self.dropout1 = Dropout2d(p_conv)
        self.conv2 = nn.Conv2d(c1, c2, kernel_size, padding=padding, device="meta")
        self.relu2 = nn.ReLU(inplace=True)
        self.dropout2 = Dropout2d(p_conv)
        self.pool = nn.MaxPool2d(2)
        self.flatten = nn.Flatten()
        self.fc_dropout = Dropout(p_fc)
        self.fc = nn.Linear(c2 * (n_channels // 2) * (n_features // 2), hidden, device="meta")
        self.fc_relu = nn.ReLU(inplace=True)
        self.hidden_dropout = Dropout(p_hidden)
        self.output = nn.Linear(hidden, 1, device="meta")
        self.dropout_generator = dropout_generator
        self._materialize(generator)
        # Channels-last convolution weights make oneDNN run both convolutions and the pooling in
        # NHWC layout: about 20-25 % off a CPU training epoch. Values and shapes are unchanged.
        self.to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of a batch of trials: ``x`` (B, n_channels, n_features) -> (B,)."""
        self._check_input(x)
        x = self.unflatten(x)  # (B, 1, H, W)
        x = self.input_dropout(x)
        x = self.dropout1(self.relu1(self.conv1(x)))  # (B, C1, H, W)
        x = self.conv2(x)  # (B, C2, H, W)
        # The report's relu2 -> dropout2 -> pool, pooled first (the same values; class docstring).
        x = self.dropout2(self.relu2(self.pool(x)))  # (B, C2, H/2, W/2)
        x = self.flatten(x)  # (B, C2 * H/2 * W/2)
        x = self.hidden_dropout(self.fc_relu(self.fc(self.fc_dropout(x))))  # (B, hidden)
        return self.output(x).squeeze(-1)  # (B,)


#: The models by name (the names are the schema's choices of ``model``: deap_lib.schema).
MODELS: dict[str, type[_Classifier]] = {"dnn": DNN, "cnn": CNN}
MODEL_NAMES = tuple(MODELS)


def build_model(name: str, **sizes) -> nn.Module:
    """Build a model by name.

    Parameters
    ----------
    name : {"dnn", "cnn"}
        Case-insensitive.
    **sizes
        Keyword arguments of the model's constructor (sizes, dropout probabilities, ``generator``,
        ``dropout_generator``).

    Returns
    -------
    nn.Module
        ``DNN`` or ``CNN``, in training mode.
    """
    try:
        cls = MODELS[name.lower()]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; allowed: {', '.join(MODEL_NAMES)}") from None
    return cls(**sizes)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters (``requires_grad``) of ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
