"""K copies of one model trained as one: the folds of a protocol together on a GPU.

The folds of a protocol (k-fold, leave-one-subject-out, 5x2) are small runs of one config. On a
GPU one such run leaves the device idle between small kernels; :class:`StackedModel` holds the K
runs' models as one, whose parameters are the K models' parameters stacked along a leading
dimension, so that one forward, backward and optimizer step trains all K:

- ``Linear``: weights ``(K, out, in)``, one batched matmul (``torch.baddbmm``).
- ``Conv2d``: the K folds' feature maps side by side as the channels of one map, ``(B, K * C, H,
  W)``, and one grouped convolution (``groups=K``) whose weights are the K weights concatenated,
  ``(K * C_out, C_in, kh, kw)``; ``MaxPool2d``, ``ReLU`` and ``Dropout2d`` work on that layout too.
- ``Dropout``/``Dropout2d`` (:mod:`deap_lib.models`' uniform-mask layers): fold k's mask is drawn
  from fold k's own model's dropout generator, with the shape the plain model draws, in the order
  of the plain forward pass; the K masks are stacked.
- ``Flatten``/``Unflatten``/``ReLU``: per fold, on the stacked tensor.

The optimizers of the engine (RMSprop, SGD, Adam) are element-wise, and the engine's loss is the
sum over folds of each fold's mean loss, so each fold gets exactly its own gradient and update; the
results equal K plain runs within float tolerance (the batched kernels add in another order).

The layers are read from the built model: the order in which its forward pass calls them is
recorded once (forward hooks, one eval-mode pass on zeros), and the pass must be a chain (each
layer takes the output of the one before; the model's output is the last layer's, reshaped). A
layer of another type raises :class:`TypeError`.
"""

from __future__ import annotations

import itertools
from typing import Iterable, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from deap_lib.models import Dropout, Dropout2d, dropout_noise

__all__ = ["StackedModel", "predict_logits"]


class _Act(NamedTuple):
    """An activation of the K folds: ``t`` is ``(K, B, *per-sample shape)``, or with ``grouped`` the
    folds' feature maps side by side as channels, ``(B, K * C, H, W)`` (fold-major)."""

    t: torch.Tensor
    grouped: bool


def _folds(a: _Act, k: int) -> torch.Tensor:
    """``(K, B, ...)``: a view when ``a`` is grouped."""
    return a.t.unflatten(1, (k, -1)).transpose(0, 1) if a.grouped else a.t


def _grouped(a: _Act, k: int, name: str) -> torch.Tensor:
    """``(B, K * C, H, W)``: a copy when ``a`` is per fold."""
    if a.grouped:
        return a.t
    if a.t.dim() != 5:
        raise ValueError(f"layer {name!r} needs feature maps (B, C, H, W) per fold, got {tuple(a.t.shape[1:])}")
    return a.t.transpose(0, 1).flatten(1, 2)


def _batch_dim_kept(dim: int, ndim: int, layer: str) -> int:
    """Dimension ``dim`` of a per-fold tensor with ``ndim`` dimensions, in the stacked tensor."""
    d = dim % ndim
    if d == 0:
        raise ValueError(f"layer {layer!r} acts on the batch dimension, which stacking cannot follow")
    return d + 1


class _Linear:
    def __init__(self, name: str, module: nn.Linear, weight: int, bias: int | None):
        self.name, self.weight, self.bias = name, weight, bias

    def __call__(self, net: "StackedModel", a: _Act) -> _Act:
        x = _folds(a, net.k)  # (K, B, ..., in)
        x3 = x if x.dim() == 3 else x.reshape(net.k, -1, x.shape[-1])  # (K, N, in)
        w = net.stacked[self.weight].transpose(1, 2)  # (K, in, out)
        if self.bias is None:
            y = torch.bmm(x3, w)
        else:
            y = torch.baddbmm(net.stacked[self.bias].unsqueeze(1), x3, w)  # (K, N, out)
        return _Act(y if x.dim() == 3 else y.reshape(*x.shape[:-1], y.shape[-1]), False)


class _Conv2d:
    def __init__(self, name: str, module: nn.Conv2d, weight: int, bias: int | None):
        if module.padding_mode != "zeros":
            raise TypeError(f"layer {name!r}: stacking knows Conv2d with padding_mode='zeros' only, "
                            f"got {module.padding_mode!r}")
        self.name, self.weight, self.bias = name, weight, bias
        self.stride, self.padding, self.dilation, self.groups = module.stride, module.padding, module.dilation, module.groups

    def __call__(self, net: "StackedModel", a: _Act) -> _Act:
        x = _grouped(a, net.k, self.name)  # (B, K * C_in, H, W)
        b = None if self.bias is None else net.stacked[self.bias]
        y = F.conv2d(x, net.stacked[self.weight], b, self.stride, self.padding, self.dilation, self.groups * net.k)
        return _Act(y, True)  # (B, K * C_out, H', W')


class _MaxPool2d:
    def __init__(self, name: str, module: nn.MaxPool2d):
        if module.return_indices:
            raise TypeError(f"layer {name!r}: stacking knows MaxPool2d without return_indices only")
        self.name, self.module = name, module

    def __call__(self, net: "StackedModel", a: _Act) -> _Act:
        m = self.module
        y = F.max_pool2d(_grouped(a, net.k, self.name), m.kernel_size, m.stride, m.padding, m.dilation,
                         ceil_mode=m.ceil_mode)
        return _Act(y, True)


class _ReLU:
    def __init__(self, name: str, module: nn.ReLU):
        self.inplace = module.inplace

    def __call__(self, net: "StackedModel", a: _Act) -> _Act:
        return _Act(F.relu(a.t, inplace=self.inplace), a.grouped)


class _Flatten:
    def __init__(self, name: str, module: nn.Flatten):
        self.name, self.start, self.end = name, module.start_dim, module.end_dim

    def __call__(self, net: "StackedModel", a: _Act) -> _Act:
        x = _folds(a, net.k)
        ndim = x.dim() - 1
        start = _batch_dim_kept(self.start, ndim, self.name)
        end = _batch_dim_kept(self.end, ndim, self.name)
        return _Act(x.flatten(start, end), False)


class _Unflatten:
    def __init__(self, name: str, module: nn.Unflatten):
        self.name, self.dim, self.sizes = name, module.dim, module.unflattened_size

    def __call__(self, net: "StackedModel", a: _Act) -> _Act:
        x = _folds(a, net.k)
        return _Act(x.unflatten(_batch_dim_kept(self.dim, x.dim() - 1, self.name), self.sizes), False)


class _Dropout:
    """:mod:`deap_lib.models`' Dropout/Dropout2d: fold k's mask from fold k's generator."""

    def __init__(self, name: str, module: nn.Module, generators: list[torch.Generator | None]):
        self.name, self.module, self.generators = name, module, generators
        self.shared = any(g is None for g in generators)

    def __call__(self, net: "StackedModel", a: _Act) -> _Act:
        p = self.module.p
        if not net.training or p == 0.0:
            return a
        if self.shared:  # the global generator: the folds' masks would not be the plain runs' masks
            raise ValueError(f"layer {self.name!r}: training stacked folds needs each fold's own dropout "
                             "generator (build the models with dropout_generator=...)")
        x = _folds(a, net.k)  # (K, B, ...)
        # The plain model's draw for each fold: the same shape (its _noise_shape), the fold's generator.
        noise = torch.stack([dropout_noise(self.module._noise_shape(x[i]), p, like=x, generator=g)
                             for i, g in enumerate(self.generators)])  # (K, B, ...) or (K, B, C, 1, 1)
        if a.grouped:
            noise = noise.transpose(0, 1).flatten(1, 2)  # (B, K * C, ., .)
        return _Act(a.t * noise, a.grouped)


_STEPS = {nn.Linear: _Linear, nn.Conv2d: _Conv2d, nn.MaxPool2d: _MaxPool2d, nn.ReLU: _ReLU, nn.Flatten: _Flatten,
          nn.Unflatten: _Unflatten}


def _leaves(model: nn.Module) -> dict[str, nn.Module]:
    return {name: m for name, m in model.named_modules() if not list(m.children())}


def _call_order(model: nn.Module, sample_shape: tuple[int, ...]) -> tuple[list[str], tuple[int, ...]]:
    """The leaf layers in the order the forward pass calls them, and the shape of one sample's output.

    One eval-mode pass on zeros (no dropout draw, no gradient); raises ValueError unless each layer
    takes exactly the previous layer's output (the first: the input).
    """
    leaves = _leaves(model)
    calls: list = []
    hooks = [m.register_forward_hook(lambda mod, inp, out, name=name: calls.append((name, inp, out)))
             for name, m in leaves.items()]
    was_training = model.training
    device = next(model.parameters()).device
    try:
        model.eval()
        with torch.inference_mode():
            x = torch.zeros((2, *sample_shape), device=device)
            y = model(x)
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    previous = x
    for name, inp, out in calls:
        if len(inp) != 1 or inp[0] is not previous:
            raise ValueError(f"the forward pass of {type(model).__name__} is not a chain of layers at {name!r}: "
                             "stacking needs each layer to take the previous layer's output")
        previous = out
    if not isinstance(y, torch.Tensor) or y.shape[0] != 2 or y.numel() != previous.numel():
        raise ValueError(f"the output of {type(model).__name__} is not its last layer's output reshaped")
    return [name for name, _, _ in calls], tuple(y.shape[1:])


class StackedModel(nn.Module):
    """K models of one architecture, trained as one (see the module docstring).

    Parameters
    ----------
    models : iterable of nn.Module
        The K folds' models as built (same architecture; each its own weights and, where dropout is
        active, its own ``dropout_generator``). Consumed one at a time (a generator keeps one built
        model in memory at once).
    sample_shape : tuple of int
        Shape of one input sample, e.g. ``(32, 99)``: the forward pass is probed with it once.
    device : str or torch.device or None
        Where the stacked parameters live (None: the models' device).

    Notes
    -----
    ``forward`` takes ``x`` of shape ``(K, B, *sample_shape)``, fold k's batch in ``x[k]``, and
    returns ``(K, B, *output shape)``: ``(K, B)`` for the report's models. :meth:`fold_state_dict`
    gives fold k's weights as the plain model's ``state_dict``.
    """

    def __init__(self, models: Iterable[nn.Module], *, sample_shape: tuple[int, ...],
                 device: str | torch.device | None = None) -> None:
        super().__init__()
        iterator = iter(models)
        template = next(iterator, None)
        if template is None:
            raise ValueError("no models to stack")
        order, self._out_shape = _call_order(template, tuple(sample_shape))
        leaves = _leaves(template)
        params = dict(template.named_parameters())
        if set(template.state_dict()) != set(params):
            extra = sorted(set(template.state_dict()) - set(params))
            raise TypeError(f"stacking knows models without buffers; {type(template).__name__} has {extra}")
        self._keys = list(template.state_dict())  # the plain model's keys, in its order
        owner = {f"{name}.{p}" if name else p: (name, m) for name, m in leaves.items() for p, _ in m.named_parameters(recurse=False)}
        # Convolution weights are stored as the grouped convolution takes them: (K * C_out, ...).
        self._grouped = [isinstance(owner[key][1], nn.Conv2d) for key in self._keys]
        self._formats = [_memory_format(params[key]) for key in self._keys]
        signature = _signature(template)
        parts: list[list[torch.Tensor]] = [[] for _ in self._keys]
        generators: dict[str, list] = {name: [] for name, m in leaves.items() if _is_dropout(m)}
        self.k = 0
        for model in itertools.chain([template], iterator):
            self.k += 1
            if _signature(model) != signature:
                raise ValueError("the models to stack differ in architecture: "
                                 f"{type(template).__name__} and {type(model).__name__}")
            fold_params = dict(model.named_parameters())
            for part, key in zip(parts, self._keys):
                part.append(fold_params[key].detach().to(device) if device is not None else fold_params[key].detach())
            for name in generators:
                generators[name].append(model.get_submodule(name).generator)
        self.stacked = nn.ParameterList([
            nn.Parameter((torch.cat(part) if grouped else torch.stack(part)).contiguous(memory_format=fmt),
                         requires_grad=params[key].requires_grad)
            for key, part, grouped, fmt in zip(self._keys, parts, self._grouped, self._formats)
        ])
        index = {key: i for i, key in enumerate(self._keys)}
        self._steps = []
        for name in order:
            m = leaves[name]
            if _is_dropout(m):
                self._steps.append(_Dropout(name, m, generators[name]))
            elif type(m) in (nn.Linear, nn.Conv2d):
                bias = index.get(f"{name}.bias") if m.bias is not None else None
                self._steps.append(_STEPS[type(m)](name, m, index[f"{name}.weight"], bias))
            elif type(m) in _STEPS:
                self._steps.append(_STEPS[type(m)](name, m))
            else:
                raise TypeError(f"stacking does not know layer {name!r} of type {type(m).__name__}; known: "
                                f"{', '.join(t.__name__ for t in _STEPS)}, deap_lib.models.Dropout, Dropout2d")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Outputs of the K folds: ``x`` (K, B, *sample_shape) -> (K, B, *output shape)."""
        if x.shape[0] != self.k:
            raise ValueError(f"expected the inputs of {self.k} folds along dimension 0, got shape {tuple(x.shape)}")
        a = _Act(x, False)
        for step in self._steps:
            a = step(self, a)
        return _folds(a, self.k).reshape(self.k, x.shape[1], *self._out_shape)

    def fold_state_dict(self, k: int) -> dict[str, torch.Tensor]:
        """Fold ``k``'s weights as the plain model's ``state_dict``: the same keys, on the CPU, copied."""
        out = {}
        for key, param, grouped in zip(self._keys, self.stacked, self._grouped):
            fold = param.unflatten(0, (self.k, -1))[k] if grouped else param[k]
            out[key] = fold.detach().to("cpu", copy=True)
        return out


def _is_dropout(m: nn.Module) -> bool:
    """Whether ``m`` is one of :mod:`deap_lib.models`' dropout layers (whose masks stacking reproduces)."""
    if isinstance(m, (Dropout, Dropout2d)):
        return True
    if isinstance(m, nn.modules.dropout._DropoutNd):
        raise TypeError(f"stacking cannot reproduce {type(m).__name__}'s bernoulli_ masks: use "
                        "deap_lib.models.Dropout / Dropout2d")
    return False


def _memory_format(t: torch.Tensor) -> torch.memory_format:
    if t.dim() == 4 and t.is_contiguous(memory_format=torch.channels_last):
        return torch.channels_last
    return torch.contiguous_format


def _signature(model: nn.Module) -> list:
    """What must agree between stacked models: each layer's name and repr, each parameter's shape."""
    return ([(name, repr(m)) for name, m in _leaves(model).items()]
            + [(key, tuple(p.shape), _memory_format(p)) for key, p in model.named_parameters()])


@torch.inference_mode()
def predict_logits(net: StackedModel, x_all: torch.Tensor, rows: torch.Tensor, *, batch_size: int = 1024) -> torch.Tensor:
    """Eval-mode outputs of the K folds on their own rows, in order (never shuffled).

    ``x_all``: every sample, ``(N, *sample_shape)``; ``rows``: ``(K, n)`` indices into it, fold k's
    in line k. Returns ``(K, n)`` (for the report's models). About ``batch_size`` samples (of all
    folds together) go through the model at once.
    """
    was_training = net.training
    net.eval()
    n = rows.shape[1]
    if n:
        step = max(1, batch_size // net.k)
        out = torch.cat([net(x_all[rows[:, i : i + step]]) for i in range(0, n, step)], dim=1)
    else:
        out = x_all.new_empty((net.k, 0))
    net.train(was_training)
    return out
