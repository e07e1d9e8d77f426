"""The report's two classifiers, a fully connected DNN and a small CNN: trials (B, 32, 99) -> logits (B,).

The defaults reproduce the report (18,847,501 and 4,021,777 trainable parameters); each layer of its
tables is a module, in its order (``print(model)``, forward hooks). Fast on CPUs with the literal
layers' numbers: masks drawn with ``uniform_`` (``bernoulli_`` was 3-4x slower), in-place ReLUs,
channels-last convolution weights (oneDNN's NHWC kernels), and the CNN pools early (see :class:`CNN`).
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["CNN", "DNN", "MODEL_NAMES", "Dropout", "Dropout2d", "build_model", "count_parameters"]


def _check_probability(name: str, p: float) -> None:
    if not 0.0 <= p < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {p}")


class _UniformDropout(nn.Module):
    """Inverted dropout whose masks come from ``generator`` (None: PyTorch's global generator)."""

    def __init__(self, p: float = 0.5, *, generator: torch.Generator | None = None) -> None:
        _check_probability("p", p)
        super().__init__(p)  # nn.Dropout's or nn.Dropout2d's, next in the subclass's MRO
        self.generator = generator

    def noise(self, x: torch.Tensor) -> torch.Tensor:
        """The multiplier of ``x``, in ``x``'s dtype: ``1 / (1 - p)`` with probability ``1 - p``, else 0.
        Drawn as ``u < 1 - p``, ``u`` uniform on [0, 1) in float32 whatever ``x``'s dtype (a bf16 run gets
        the float32 run's masks): Bernoulli(1 - p) exactly for multiples of 2**-24 (the report's p)."""
        keep = 1.0 - self.p
        noise = torch.empty(self._noise_shape(x), dtype=torch.float32, device=x.device)
        noise = noise.uniform_(generator=self.generator).lt_(keep).div_(keep)
        return noise if noise.dtype == x.dtype else noise.to(x.dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        return x * self.noise(x)


class Dropout(_UniformDropout, nn.Dropout):
    """``nn.Dropout`` with masks from :meth:`noise`; ``p`` in [0, 1)."""

    def _noise_shape(self, x: torch.Tensor) -> tuple[int, ...]:
        return tuple(x.shape)


class Dropout2d(_UniformDropout, nn.Dropout2d):
    """``nn.Dropout2d``: ``x`` (B, C, H, W), one multiplier per sample and channel, (B, C, 1, 1)."""

    def _noise_shape(self, x: torch.Tensor) -> tuple[int, ...]:
        return (x.shape[0], x.shape[1], *([1] * (x.ndim - 2)))


class _Classifier(nn.Module):
    """Shared plumbing: the input check, the dropout generator, parameter initialisation."""

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
            raise ValueError(f"expected input of shape (B, {self.n_channels}, {self.n_features}), got {tuple(x.shape)}")

    def _materialize(self, generator: torch.Generator | None, dropout_generator: torch.Generator | None) -> None:
        # The layers are created on the meta device: building draws nothing from the global generator.
        self.dropout_generator = dropout_generator
        self.to_empty(device="cpu")
        self.reset_parameters(generator=generator)

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """(Re-)initialise every layer, drawing from ``generator`` (None: the global generator): Linear
        weights Xavier-normal and biases zero (the report's), convolutions PyTorch's default."""
        with torch.no_grad():
            for layer in self.modules():
                if isinstance(layer, nn.Linear):
                    nn.init.xavier_normal_(layer.weight, generator=generator)
                    nn.init.zeros_(layer.bias)
                elif isinstance(layer, nn.Conv2d):
                    # nn.Conv2d.reset_parameters with a generator, drawn in the contiguous layout, so that
                    # a channels-last weight gets the same values.
                    weight = torch.empty(layer.weight.shape, dtype=layer.weight.dtype, device=layer.weight.device)
                    nn.init.kaiming_uniform_(weight, a=math.sqrt(5), generator=generator)
                    layer.weight.copy_(weight)
                    fan_in, _ = nn.init._calculate_fan_in_and_fan_out(layer.weight)
                    bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
                    nn.init.uniform_(layer.bias, -bound, bound, generator=generator)


class DNN(_Classifier):
    """Fully connected network on the flattened trial (the report's DNN).

    ``Flatten -> Dropout(p_input) -> [Linear -> ReLU -> Dropout(p_hidden)] x len(hidden) -> Linear(., 1)``;
    the defaults: 3168 -> 5000 -> 500 -> 1000 -> 1. In the ``nn.Sequential`` ``hidden`` layer ``i`` is
    Linear ``"i"`` (``model.hidden.get_submodule("1")``; ``hidden[1]`` is a ReLU), ``relu{i}``, ``dropout{i}``.

    Parameters
    ----------
    n_channels, n_features : int
        Input trial shape (EEG channels x reduced features per channel).
    hidden : tuple of int
        Widths of the hidden layers (at least one).
    p_input, p_hidden : float
        Dropout probabilities, in [0, 1), on the input and after each hidden ReLU.
    generator, dropout_generator : torch.Generator or None
        Sources of the initial weights and of the dropout masks (None: the global generator).
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
        self.n_channels, self.n_features = n_channels, n_features
        widths = (n_channels * n_features, *hidden)
        self.flatten = nn.Flatten()
        self.input_dropout = Dropout(p_input)
        self.hidden = nn.Sequential()
        for i, (n_in, n_out) in enumerate(zip(widths[:-1], widths[1:])):
            self.hidden.add_module(str(i), nn.Linear(n_in, n_out, device="meta"))
            self.hidden.add_module(f"relu{i}", nn.ReLU(inplace=True))
            self.hidden.add_module(f"dropout{i}", Dropout(p_hidden))
        self.output = nn.Linear(widths[-1], 1, device="meta")
        self._materialize(generator, dropout_generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of a batch of trials: ``x`` (B, n_channels, n_features) -> (B,)."""
        self._check_input(x)
        x = self.flatten(x)  # (B, C * F)
        x = self.hidden(self.input_dropout(x))  # (B, hidden[-1])
        return self.output(x).squeeze(-1)  # (B,)


class CNN(_Classifier):
    """Two-convolution network on the trial seen as a one-channel image (the report's CNN).

    ``Unflatten -> Dropout(p_input) -> Conv2d(1, c1, k) -> ReLU -> Dropout2d(p_conv) -> Conv2d(c1, c2, k)
    -> ReLU -> Dropout2d(p_conv) -> MaxPool2d(2) -> Flatten -> Dropout(p_fc) -> Linear(., hidden) -> ReLU
    -> Dropout(p_hidden) -> Linear(hidden, 1)``, 'same' padding; the defaults: 1 x 32 x 99 -> 20 x 32 x 99
    -> 40 x 32 x 99 -> 40 x 16 x 49 = 31,360 -> 128 -> 1.

    Parameters
    ----------
    n_channels, n_features : int
        Input trial shape, the image's height and width.
    conv_channels : tuple of two int
        Output channels of the two convolutions.
    kernel_size : int
        Odd square kernel size of both convolutions.
    hidden : int
        Width of the fully connected hidden layer.
    p_input, p_conv, p_fc, p_hidden : float
        Dropout probabilities, in [0, 1): on the input, per feature map after each convolution, on the
        flattened pooled maps, after the hidden layer.
    generator, dropout_generator : torch.Generator or None
        As for :class:`DNN`.

    Notes
    -----
    ``relu2 -> dropout2 -> pool`` runs as ``pool -> relu2 -> dropout2`` (a map four times smaller), with
    the same values: max pooling commutes with ``max(0, .)`` and with Dropout2d's non-negative per-map
    factor, also after rounding. The gradient takes the same path unless rounding ties two elements of a
    window (then it goes to the truly largest). Hooks see the order run, ``print`` the report's.
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
        self.n_channels, self.n_features = n_channels, n_features
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
        self._materialize(generator, dropout_generator)
        self.to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of a batch of trials: ``x`` (B, n_channels, n_features) -> (B,)."""
        self._check_input(x)
        x = self.input_dropout(self.unflatten(x))  # (B, 1, H, W)
        x = self.dropout1(self.relu1(self.conv1(x)))  # (B, C1, H, W)
        x = self.conv2(x)  # (B, C2, H, W)
        x = self.dropout2(self.relu2(self.pool(x)))  # (B, C2, H/2, W/2): pooled first (class Notes)
        x = self.flatten(x)  # (B, C2 * H/2 * W/2)
        x = self.hidden_dropout(self.fc_relu(self.fc(self.fc_dropout(x))))  # (B, hidden)
        return self.output(x).squeeze(-1)  # (B,)


#: The models by name (the schema's choices of ``model``).
MODELS: dict[str, type[_Classifier]] = {"dnn": DNN, "cnn": CNN}
MODEL_NAMES = tuple(MODELS)


def build_model(name: str, **sizes) -> nn.Module:
    """The model ``name`` ("dnn" or "cnn", any case), in training mode; ``sizes``: its constructor's
    keyword arguments (sizes, dropout probabilities, ``generator``, ``dropout_generator``)."""
    try:
        cls = MODELS[name.lower()]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; allowed: {', '.join(MODEL_NAMES)}") from None
    return cls(**sizes)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters (``requires_grad``) of ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
