"""The report's two classifiers: a fully connected DNN and a small CNN.

Both take reduced trials of shape ``(B, n_channels, n_features)`` (32 x 99 by default) and return one
logit per trial (high vs low), shape ``(B,)``. Constructor defaults reproduce the report exactly
(18,847,501 and 4,021,777 trainable parameters).

The layer order is the report's; four things are written for speed on a CPU and are numerically
the same model:

- Dropout masks are drawn with ``uniform_`` and a comparison instead of ``bernoulli_``: the same
  Bernoulli(1 - p) mask scaled by 1 / (1 - p), multiplied the way ``nn.Dropout`` does (``noise`` of
  0 and 1 / (1 - p), then ``x * noise``). On the 2-core CPUs this project runs on ``bernoulli_``
  was 3-4x slower than ``uniform_`` and took about 11 % of a DNN epoch.
- ReLU runs in place on the output of a Linear or a convolution (their backward passes do not need
  that output).
- In the CNN, ``ReLU -> Dropout2d -> MaxPool2d`` after the second convolution is computed as
  ``MaxPool2d -> ReLU -> Dropout2d``, which is exact (see ``pool_relu_dropout2d``) and does the
  element-wise work on a map four times smaller.
- The CNN's convolution weights are stored channels-last (NHWC), which makes oneDNN run the
  convolutions and the pooling in that layout (the flattened features keep the report's C, H, W
  order).

Dropout masks come from ``dropout_generator`` when one is given, otherwise from PyTorch's global
generator, as ``nn.Dropout``'s do.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = [
    "CNN",
    "DNN",
    "MODEL_NAMES",
    "build_model",
    "count_parameters",
    "dropout_noise",
    "pool_relu_dropout2d",
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
    noise : Tensor, shape ``shape``
        Zeros and ``1 / (1 - p)`` (the value ``nn.Dropout`` uses: ``1.0`` divided by ``1 - p`` in
        the activation's dtype).

    Notes
    -----
    ``u < 1 - p`` for ``u`` uniform on [0, 1) is Bernoulli(1 - p), exactly so for the report's
    probabilities (0.25, 0.5 are multiples of 2**-24, the resolution of float32 ``uniform_``) and
    within 2**-24 otherwise.
    """
    keep = 1.0 - p
    noise = torch.empty(shape, dtype=like.dtype, device=like.device).uniform_(generator=generator)
    return noise.lt_(keep).div_(keep)


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


class _Classifier(nn.Module):
    """Shared plumbing: shape checks, dropout, parameter initialisation."""

    n_channels: int
    n_features: int

    def __init__(self, dropout_generator: torch.Generator | None) -> None:
        super().__init__()
        self.dropout_generator = dropout_generator

    def _check_input(self, x: torch.Tensor) -> None:
        if x.ndim != 3 or tuple(x.shape[1:]) != (self.n_channels, self.n_features):
            raise ValueError(
                f"expected input of shape (B, {self.n_channels}, {self.n_features}), "
                f"got {tuple(x.shape)}"
            )

    def _dropout(self, x: torch.Tensor, p: float, shape: tuple[int, ...] | None = None) -> torch.Tensor:
        if not self.training or p == 0.0:
            return x
        shape = x.shape if shape is None else shape
        return x * dropout_noise(shape, p, like=x, generator=self.dropout_generator)

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

    ``Dropout(p_input) -> [Linear -> ReLU -> Dropout(p_hidden)] x len(hidden) -> Linear(., 1)``;
    with the defaults: 3168 -> 5000 -> 500 -> 1000 -> 1, 18,847,501 trainable parameters.

    Parameters
    ----------
    n_channels, n_features : int
        Input trial shape (EEG channels x reduced features per channel).
    hidden : tuple of int
        Widths of the hidden layers.
    p_input, p_hidden : float
        Dropout probabilities on the input and after each hidden ReLU.
    generator : torch.Generator or None
        Source of the initial weights; None uses the global generator.
    dropout_generator : torch.Generator or None
        Source of the dropout masks in training mode; None uses the global generator.

    Notes
    -----
    ``forward`` maps trials ``x`` of shape (B, n_channels, n_features) to logits of shape (B,);
    a logit ``>= 0`` predicts the high class.
    """

    def __init__(
        self,
        n_channels: int = 32,
        n_features: int = 99,
        hidden: tuple[int, ...] = (5000, 500, 1000),
        p_input: float = 0.25,
        p_hidden: float = 0.5,
        *,
        generator: torch.Generator | None = None,
        dropout_generator: torch.Generator | None = None,
    ) -> None:
        super().__init__(dropout_generator)
        if len(hidden) == 0:
            raise ValueError("hidden must name at least one layer width")
        _check_probability("p_input", p_input)
        _check_probability("p_hidden", p_hidden)
        self.n_channels = n_channels
        self.n_features = n_features
        self.p_input = p_input
        self.p_hidden = p_hidden
        widths = (n_channels * n_features, *hidden)
        self.hidden = nn.ModuleList(
            nn.Linear(n_in, n_out, device="meta") for n_in, n_out in zip(widths[:-1], widths[1:])
        )
        self.output = nn.Linear(widths[-1], 1, device="meta")
        self._materialize(generator)

    def extra_repr(self) -> str:
        return f"p_input={self.p_input}, p_hidden={self.p_hidden}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits for a batch of trials.

        Parameters
        ----------
        x : Tensor, shape (B, n_channels, n_features)

        Returns
        -------
        Tensor, shape (B,)
        """
        self._check_input(x)
        x = x.flatten(1)  # (B, C * F)
        x = self._dropout(x, self.p_input)
        for layer in self.hidden:
            x = self._dropout(layer(x).relu_(), self.p_hidden)
        return self.output(x).squeeze(-1)  # (B,)


class CNN(_Classifier):
    """Two-convolution network on the trial seen as a one-channel image (the report's CNN).

    ``Dropout(p_input) -> Conv2d(1, c1, k) -> ReLU -> Dropout2d(p_conv) -> Conv2d(c1, c2, k) -> ReLU
    -> Dropout2d(p_conv) -> MaxPool2d(2) -> Flatten -> Dropout(p_fc) -> Linear(., hidden) -> ReLU
    -> Dropout(p_hidden) -> Linear(hidden, 1)``, convolutions with 'same' padding; with the
    defaults: 1 x 32 x 99 -> 20 x 32 x 99 -> 40 x 32 x 99 -> 40 x 16 x 49 = 31,360 -> 128 -> 1,
    4,021,777 trainable parameters.

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
    generator : torch.Generator or None
        Source of the initial weights; None uses the global generator.
    dropout_generator : torch.Generator or None
        Source of the dropout masks in training mode; None uses the global generator.

    Notes
    -----
    ``forward`` maps trials ``x`` of shape (B, n_channels, n_features) to logits of shape (B,);
    a logit ``>= 0`` predicts the high class.
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
        *,
        generator: torch.Generator | None = None,
        dropout_generator: torch.Generator | None = None,
    ) -> None:
        super().__init__(dropout_generator)
        if len(conv_channels) != 2:
            raise ValueError(f"conv_channels must hold two numbers, got {conv_channels}")
        if kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd to keep the map size, got {kernel_size}")
        for name, p in [("p_input", p_input), ("p_conv", p_conv), ("p_fc", p_fc), ("p_hidden", p_hidden)]:
            _check_probability(name, p)
        self.n_channels = n_channels
        self.n_features = n_features
        self.p_input = p_input
        self.p_conv = p_conv
        self.p_fc = p_fc
        self.p_hidden = p_hidden
        c1, c2 = conv_channels
        padding = kernel_size // 2
        self.conv1 = nn.Conv2d(1, c1, kernel_size, padding=padding, device="meta")
        self.conv2 = nn.Conv2d(c1, c2, kernel_size, padding=padding, device="meta")
        self.pool = nn.MaxPool2d(2)
        n_flat = c2 * (n_channels // 2) * (n_features // 2)
        self.fc = nn.Linear(n_flat, hidden, device="meta")
        self.output = nn.Linear(hidden, 1, device="meta")
        self._materialize(generator)
        # Channels-last convolution weights make oneDNN run both convolutions and the pooling in
        # NHWC layout: about 20-25 % off a CPU training epoch. Values and shapes are unchanged.
        self.to(memory_format=torch.channels_last)

    def extra_repr(self) -> str:
        return f"p_input={self.p_input}, p_conv={self.p_conv}, p_fc={self.p_fc}, p_hidden={self.p_hidden}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits for a batch of trials.

        Parameters
        ----------
        x : Tensor, shape (B, n_channels, n_features)

        Returns
        -------
        Tensor, shape (B,)
        """
        self._check_input(x)
        x = x.unsqueeze(1)  # (B, 1, H, W)
        x = self._dropout(x, self.p_input)
        x = self.conv1(x).relu_()  # (B, C1, H, W)
        x = self._dropout(x, self.p_conv, shape=(x.shape[0], x.shape[1], 1, 1))
        x = pool_relu_dropout2d(self.pool, self.conv2(x), self._conv2_noise(x))  # (B, C2, H/2, W/2)
        x = x.flatten(1)  # (B, C2 * H/2 * W/2)
        x = self._dropout(x, self.p_fc)
        x = self._dropout(self.fc(x).relu_(), self.p_hidden)
        return self.output(x).squeeze(-1)  # (B,)

    def _conv2_noise(self, x: torch.Tensor) -> torch.Tensor | None:
        if not self.training or self.p_conv == 0.0:
            return None
        shape = (x.shape[0], self.conv2.out_channels, 1, 1)
        return dropout_noise(shape, self.p_conv, like=x, generator=self.dropout_generator)


def pool_relu_dropout2d(pool: nn.Module, x: torch.Tensor, noise: torch.Tensor | None) -> torch.Tensor:
    """``pool(relu(x) * noise)`` computed as ``relu(pool(x)) * noise``, on the pooled map.

    ``noise`` is a ``Dropout2d`` multiplier of shape (B, C, 1, 1) with values 0 and ``s > 0`` (None:
    no dropout). The two orders give the same forward values bit for bit: max pooling commutes with
    any non-decreasing element-wise map, and both ``max(0, .)`` and multiplication by a
    non-negative constant are non-decreasing, also after float rounding, so
    ``max_i(max(0, x_i) * s) == max(0, max_i x_i) * s``. The gradient goes to the same element of
    each pooling window, with the same value, unless rounding ``x_i * s`` makes two different
    elements of a window equal (a tie that ``x`` itself does not have): the literal order then
    routes the gradient by its tie-break, this one to the element that really is the largest.

    Parameters
    ----------
    pool : nn.Module
        A max-pooling layer.
    x : Tensor, shape (B, C, H, W)
        Convolution output, before ReLU.
    noise : Tensor, shape (B, C, 1, 1), or None

    Returns
    -------
    Tensor, shape (B, C, H', W')
        The pooled map.
    """
    x = pool(x).relu_()  # (B, C, H', W')
    return x if noise is None else x * noise


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
