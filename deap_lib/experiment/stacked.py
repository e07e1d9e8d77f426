"""K copies of one model trained as one, :class:`StackedModel`: the folds of a protocol together on a GPU.

The folds' parameters are stacked along a leading dimension: a ``Linear`` is one batched matmul, a ``Conv2d``
one grouped convolution on the folds' maps side by side as channels, (B, K * C, H, W); fold k's dropout masks
are its own layers' draws. With the engine's loss (the folds' mean losses summed) and element-wise optimizers
each fold gets its own update: the plain runs', within float tolerance."""

from __future__ import annotations

import functools
import itertools
from typing import Iterable, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from deap_lib.models import Dropout, Dropout2d


class _Act(NamedTuple):  # the folds' activation (K, B, ...), or grouped: their maps as channels (B, K * C, H, W)
    t: torch.Tensor
    grouped: bool


def _folds(a: _Act, k: int) -> torch.Tensor:  # (K, B, ...): a view when grouped
    return a.t.unflatten(1, (k, -1)).transpose(0, 1) if a.grouped else a.t


def _grouped(a: _Act) -> torch.Tensor:  # (B, K * C, H, W): a copy when per fold
    return a.t if a.grouped else a.t.transpose(0, 1).flatten(1, 2)


def _linear(net: StackedModel, a: _Act, *, weight: int, bias: int | None) -> _Act:
    x = _folds(a, net.k)  # (K, B, ..., in)
    x3 = x if x.dim() == 3 else x.reshape(net.k, -1, x.shape[-1])  # (K, N, in)
    w = net.stacked[weight].transpose(1, 2)  # (K, in, out)
    y = torch.bmm(x3, w) if bias is None else torch.baddbmm(net.stacked[bias].unsqueeze(1), x3, w)  # (K, N, out)
    return _Act(y if x.dim() == 3 else y.reshape(*x.shape[:-1], y.shape[-1]), False)


def _conv2d(net: StackedModel, a: _Act, *, weight: int, bias: int | None, stride, padding, dilation, groups) -> _Act:
    b = None if bias is None else net.stacked[bias]
    y = F.conv2d(_grouped(a), net.stacked[weight], b, stride, padding, dilation, groups * net.k)
    return _Act(y, True)  # (B, K * C_out, H', W')


def _on_maps(net: StackedModel, a: _Act, *, layer: nn.Module) -> _Act:  # MaxPool2d: K * C maps
    return _Act(layer(_grouped(a)), True)


def _elementwise(net: StackedModel, a: _Act, *, layer: nn.Module) -> _Act:  # ReLU
    return _Act(layer(a.t), a.grouped)


def _per_sample(net: StackedModel, a: _Act, *, layer: nn.Module) -> _Act:  # Flatten, Unflatten: K * B samples
    return _Act(layer(_folds(a, net.k).flatten(0, 1)).unflatten(0, (net.k, -1)), False)


def _dropout(net: StackedModel, a: _Act, *, name: str, layers: list) -> _Act:
    if not net.training or layers[0].p == 0.0:
        return a
    if any(layer.generator is None for layer in layers):  # the global generator: not the plain runs' masks
        raise ValueError(f"layer {name!r}: training stacked folds needs each fold's own dropout generator "
                         "(build the models with dropout_generator=...)")
    x = _folds(a, net.k)  # (K, B, ...)
    noise = torch.stack([layer.noise(x[i]) for i, layer in enumerate(layers)])  # (K, B, ...) or (K, B, C, 1, 1)
    if a.grouped:
        noise = noise.transpose(0, 1).flatten(1, 2)  # (B, K * C, 1, 1)
    return _Act(a.t * noise, a.grouped)


def _step(name: str, m: nn.Module, index: dict[str, int], dropouts: dict[str, list]):
    """Layer ``name`` of the stacked forward pass: a function ``(net, activation) -> activation``."""
    kind = type(m)
    if name in dropouts:
        return functools.partial(_dropout, name=name, layers=dropouts[name])
    if kind is nn.Linear:
        return functools.partial(_linear, weight=index[f"{name}.weight"], bias=index.get(f"{name}.bias"))
    if kind is nn.Conv2d and m.padding_mode == "zeros":
        return functools.partial(_conv2d, weight=index[f"{name}.weight"], bias=index.get(f"{name}.bias"),
                                 stride=m.stride, padding=m.padding, dilation=m.dilation, groups=m.groups)
    if kind is nn.MaxPool2d and not m.return_indices:
        return functools.partial(_on_maps, layer=m)
    if kind is nn.ReLU:
        return functools.partial(_elementwise, layer=m)
    if kind in (nn.Flatten, nn.Unflatten):
        return functools.partial(_per_sample, layer=m)
    # nn.Dropout among them: its bernoulli_ masks are not the plain runs' masks.
    raise TypeError(f"stacking does not know layer {name!r} of type {kind.__name__}; known: Linear, Conv2d "
                    "(padding_mode='zeros'), MaxPool2d (no return_indices), ReLU, Flatten, Unflatten, "
                    "deap_lib.models.Dropout, Dropout2d")


def _leaves(model: nn.Module) -> dict[str, nn.Module]:
    return {name: m for name, m in model.named_modules() if not list(m.children())}


def _call_order(model: nn.Module, sample_shape: tuple[int, ...]) -> tuple[list[str], tuple[int, ...]]:
    """The leaf layers in their call order (one eval-mode pass on zeros) and one sample's output shape;
    ValueError unless each layer takes the previous layer's output and keeps its batch dimension."""
    calls: list = []
    hooks = [m.register_forward_hook(lambda mod, inp, out, name=name: calls.append((name, inp, out)))
             for name, m in _leaves(model).items()]
    was_training = model.training
    try:
        model.eval()
        with torch.inference_mode():
            x = torch.zeros((2, *sample_shape), device=next(model.parameters()).device)
            y = model(x)
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    previous = x
    for name, inp, out in calls:
        if len(inp) != 1 or inp[0] is not previous or not isinstance(out, torch.Tensor) or out.shape[0] != 2:
            raise ValueError(f"the forward pass of {type(model).__name__} is not a chain of layers at {name!r}: "
                             "stacking needs each layer to take the previous layer's output, batch kept")
        previous = out
    if not isinstance(y, torch.Tensor) or y.shape[0] != 2 or y.numel() != previous.numel():
        raise ValueError(f"the output of {type(model).__name__} is not its last layer's output reshaped")
    return [name for name, _, _ in calls], tuple(y.shape[1:])


class StackedModel(nn.Module):
    """K models of one architecture, trained as one; their forward pass must be a chain of known layers
    (another layer: TypeError; another pass: ValueError).

    Parameters
    ----------
    models : iterable of nn.Module
        The K folds' models as built (each its own weights and dropout generator), consumed one at a time.
    sample_shape : tuple of int
        One input sample's shape, e.g. ``(32, 99)``: the forward pass is probed with it once.
    device : str or torch.device or None
        Where the stacked parameters live (None: the models' device).
    """

    def __init__(self, models: Iterable[nn.Module], *, sample_shape: tuple[int, ...],
                 device: str | torch.device | None = None) -> None:
        super().__init__()
        models = iter(models)
        template = next(models)
        order, self._out_shape = _call_order(template, tuple(sample_shape))
        leaves = _leaves(template)
        self._keys = [key for key, _ in template.named_parameters()]  # the plain model's state_dict keys
        # Convolution weights are stored as the grouped convolution takes them: (K * C_out, ...).
        conv = {f"{name}.{key}" for name, m in leaves.items() if isinstance(m, nn.Conv2d) for key, _ in
                m.named_parameters()}
        self._grouped = [key in conv for key in self._keys]
        parts: list[list[torch.Tensor]] = [[] for _ in self._keys]
        dropouts: dict[str, list] = {name: [] for name, m in leaves.items() if isinstance(m, (Dropout, Dropout2d))}
        self.k = 0
        for model in itertools.chain([template], models):
            self.k += 1
            for part, p in zip(parts, model.parameters()):
                part.append(p.detach() if device is None else p.detach().to(device))
            for name, layers in dropouts.items():
                layers.append(model.get_submodule(name))
        # torch.cat keeps the parts' memory format: the CNN's convolution weights stay channels-last.
        self.stacked = nn.ParameterList([
            nn.Parameter(torch.cat(part) if grouped else torch.stack(part), requires_grad=p.requires_grad)
            for part, grouped, p in zip(parts, self._grouped, template.parameters())
        ])
        index = {key: i for i, key in enumerate(self._keys)}
        self._steps = [_step(name, leaves[name], index, dropouts) for name in order]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Outputs of the K folds: ``x`` (K, B, *sample_shape), fold k's batch ``x[k]`` -> (K, B, *out shape)."""
        a = _Act(x, False)
        for step in self._steps:
            a = step(self, a)
        return _folds(a, self.k).reshape(self.k, x.shape[1], *self._out_shape)

    def fold_state_dict(self, k: int) -> dict[str, torch.Tensor]:
        """Fold ``k``'s weights as the plain model's ``state_dict``: the same keys, copied to the CPU."""
        return {key: (param.unflatten(0, (self.k, -1))[k] if grouped else param[k]).detach().to("cpu", copy=True)
                for key, param, grouped in zip(self._keys, self.stacked, self._grouped)}
