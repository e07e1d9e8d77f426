"""The one training loop (:func:`_train`), used by every run of every protocol, alone or stacked.

A run trains one model on one :class:`~deap_lib.experiment.splits.Split`, recording per epoch the mean
training loss and the accuracies on the training rows, on validation rows carved from them and on the
test rows; :func:`summarize` gives its figures (``as_reported``: the best test accuracy over epochs, as
the report did, chosen on the test set, so optimistic and labelled so).
"""

from __future__ import annotations

import platform
import time
import zlib

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

import deap_lib
from deap_lib.data.dataset import Prepared
from deap_lib.evaluation import stats
from deap_lib.evaluation.results import Figure, RunSummary
from deap_lib.experiment import splits
from deap_lib.experiment.records import History, Record
from deap_lib.experiment.settings import ExperimentConfig
from deap_lib.experiment.stacked import StackedModel
from deap_lib.models import build_model


class NonFiniteError(ValueError):
    """A run met non-finite inputs or a non-finite loss: it stops instead of reporting an accuracy."""


def default_device() -> torch.device:
    """CUDA when present, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


#: CPU flags (Linux ``/proc/cpuinfo``) of native bf16 matmuls: AMX tiles, or AVX-512's bf16 dot products.
_BF16_CPU_FLAGS = frozenset({"amx_bf16", "avx512_bf16"})


def _cpu_flags(path: str = "/proc/cpuinfo") -> frozenset:
    """The first CPU's feature flags; empty where they cannot be read (not Linux)."""
    try:
        with open(path, "rb") as f:
            text = f.read(1 << 20).decode("ascii", "replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name.strip() == "flags":
            return frozenset(value.split())
    return frozenset()


def native_bf16(device: str | torch.device) -> bool:
    """Whether ``device`` does bfloat16 matmuls natively: CUDA's own answer (emulation excluded), or on a
    CPU the flags :data:`_BF16_CPU_FLAGS` (never guessed from the processor's name)."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported(including_emulation=False)
    return device.type == "cpu" and bool(_cpu_flags() & _BF16_CPU_FLAGS)


def resolve_precision(precision: str, device: str | torch.device) -> str:
    """``"float32"`` or ``"bfloat16"``: ``precision`` itself, or for ``"auto"`` bfloat16 where
    :func:`native_bf16` holds on ``device``, else float32 (bf16 would run emulated, slower)."""
    if precision == "auto":
        return "bfloat16" if native_bf16(device) else "float32"
    return precision


class _Weights:
    """A model's weights and optimizer in the run's arithmetic. bfloat16: the model holds and computes in
    bf16, the optimizer updates float32 master weights (the initial float32 ones) from its gradients, and
    the bf16 weights are refreshed once per step (autocast would cast them in every forward pass)."""

    def __init__(self, config: ExperimentConfig, model: torch.nn.Module, dtype: torch.dtype):
        self.model, self.master = model, None
        if dtype != torch.float32:
            self.master = [p.detach().clone() for p in model.parameters()]  # float32, before the cast
            for m in self.master:
                m.grad = torch.zeros_like(m)
            model.to(dtype)
        self.low = list(model.parameters())
        self.optimizer = _make_optimizer(config, self.low if self.master is None else self.master)

    def step(self) -> None:
        """One optimizer step from the gradients of the last backward pass; clears them."""
        if self.master is None:
            self.optimizer.step()
        else:
            with torch.no_grad():
                for m, p in zip(self.master, self.low):
                    m.grad.copy_(p.grad)
                self.optimizer.step()
                for m, p in zip(self.master, self.low):
                    p.copy_(m)
        self.model.zero_grad(set_to_none=True)


def versions() -> dict:
    import sklearn

    return {
        "deap_lib": deap_lib.__version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "scikit-learn": sklearn.__version__,
    }


class _RMSprop(torch.optim.RMSprop):
    """``torch.optim.RMSprop`` without momentum, the same bits, keeping its ``sqrt(square_avg) + eps``
    buffer from step to step (torch allocates it every step: 63 MB of fresh pages for the DNN)."""

    def __init__(self, params, **kwargs):
        super().__init__(params, **kwargs)
        self._root: dict = {}  # param -> buffer; not state, so that state_dicts stay torch's

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            alpha, eps, lr = group["alpha"], group["eps"], group["lr"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = torch.zeros((), dtype=torch.float32)
                    state["square_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["step"] += 1
                square_avg = state["square_avg"]
                square_avg.mul_(alpha).addcmul_(p.grad, p.grad, value=1 - alpha)
                root = self._root.get(p)
                if root is None:
                    root = self._root[p] = torch.empty_like(square_avg)
                torch.sqrt(square_avg, out=root).add_(eps)
                p.addcdiv_(p.grad, root, value=-lr)


def _make_optimizer(config: ExperimentConfig, params):
    if config.optimizer == "rmsprop" and config.momentum == 0:
        return _RMSprop(params, lr=config.lr)
    if config.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=config.lr, momentum=config.momentum, foreach=True)
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, foreach=True)
    return torch.optim.Adam(params, lr=config.lr, foreach=True)


@torch.inference_mode()
def _predict(net: torch.nn.Module, batches, k: int) -> torch.Tensor:
    """Eval-mode outputs of ``net`` on input ``batches`` (of one run, or a stack of ``k``), in order: (k, n)."""
    was_training = net.training
    net.eval()
    out = torch.cat([net(xb).reshape(k, -1) for xb in batches], dim=1) if len(batches) else torch.empty(k, 0)
    net.train(was_training)
    return out


class _Run:
    """One run in the making: its rows, labels, seed and shuffle generator, and its history so far."""

    def __init__(self, config: ExperimentConfig, data: Prepared, split: splits.Split, scheme: str,
                 device: torch.device):
        self.config, self.data, self.split, self.scheme, self.device = config, data, split, scheme, device
        self.name = f"{config.model} {config.target} {split.name}"
        self.y = data.labels(config.target)  # of every row of data
        self.dtype = getattr(torch, resolve_precision(config.precision, device))
        # The seed of initial weights, order, dropout masks and validation rows: the folds of a split differ.
        self.run_seed = int(np.random.SeedSequence([config.seed, zlib.crc32(split.name.encode()),
                                                    config.train_seed]).generate_state(1)[0])
        self.fit, self.val = split.train, np.empty(0, dtype=np.int64)
        if config.val_fraction > 0:  # from split.train only, whole participants under LOSO
            loso, train = scheme == "loso", split.train
            self.fit, self.val = splits.validation_split(
                train, fraction=config.val_fraction, seed=self.run_seed % 2**32,
                labels=None if loso else self.y[train], groups=data.participant[train] if loso else None)
        self.g_shuffle = torch.Generator().manual_seed(self.run_seed + 1)
        self.history = {"loss": [], "train_acc": [], "val_acc": [], "test_acc": [], "test_pred": []}
        self.seconds: list = []  # wall time per epoch, apart from the (deterministic) history

    @property
    def rows(self) -> dict[str, np.ndarray]:
        """Fit, validation and test rows: runs of one config whose sizes agree can be stacked."""
        return {"training": self.fit, "validation": self.val, "test": self.split.test}

    def new_model(self) -> torch.nn.Module:
        """The run's model, on the CPU: initial weights and (on the run's device) dropout masks from its seed."""
        g_init = torch.Generator().manual_seed(self.run_seed)
        g_dropout = torch.Generator(device=self.device).manual_seed(self.run_seed + 2)
        return build_model(self.config.model, generator=g_init, dropout_generator=g_dropout,
                           **self.config.model_kwargs)

    def end_epoch(self, epoch: int, *, loss_sum: float, correct: float, fit_logits: torch.Tensor | None,
                  val_logits: torch.Tensor, test_logits: torch.Tensor) -> None:
        """Add an epoch to the history: ``loss_sum``, the batches' mean losses times their sizes, summed;
        ``correct``, the training batches' correct predictions; ``*_logits`` (n,), eval-mode, of the fit
        rows (None unless ``train_accuracy="eval"``), the validation and the test rows."""
        y, n_fit, history = self.y, len(self.fit), self.history
        mean_loss = loss_sum / n_fit
        if not np.isfinite(mean_loss):
            raise NonFiniteError(f"{self.name}: the training loss became {mean_loss} at epoch {epoch + 1}; "
                                 "no accuracy is reported for a diverged run")
        history["loss"].append(mean_loss)
        if fit_logits is None:
            history["train_acc"].append(correct / n_fit)
        else:
            history["train_acc"].append(float(((fit_logits >= 0).cpu().numpy() == y[self.fit]).mean()))
        val_pred = (val_logits >= 0).cpu().numpy()
        history["val_acc"].append(float((val_pred == y[self.val]).mean()) if len(self.val) else None)
        test_pred = (test_logits >= 0).cpu().numpy().astype(np.int64)
        history["test_acc"].append(float((test_pred == y[self.split.test]).mean()))
        history["test_pred"].append("".join(map(str, test_pred)))


def _stack(tensors: list[torch.Tensor]) -> torch.Tensor:  # one run's tensor as it is, a stack's (K, ...)
    return tensors[0] if len(tensors) == 1 else torch.stack(tensors)


def _train(runs: list[_Run], *, progress: bool) -> list[tuple[Record, dict]]:
    """The one training loop: one run on its own model, or runs of one config and shape as one
    :class:`StackedModel` (the runs' tensors then lead with K); each run's ``(record, state_dict)``."""
    first, k = runs[0], len(runs)
    config, device = first.config, first.device
    # a copy: the prepared features are read-only, and a tensor sharing their memory would warn
    x_all = torch.tensor(first.data.features, dtype=torch.float32, device=device)
    finite = torch.isfinite(x_all).flatten(1).all(1).cpu().numpy()
    for run in runs:
        for name, rows in run.rows.items():
            if not finite[rows].all():
                raise NonFiniteError(f"non-finite {name} features ({run.data.source.describe()}): re-run prepare "
                                     "with nonfinite='drop' or 'impute' (CLI: --nonfinite)")
    x_all = x_all.to(first.dtype)
    fit_rows, val_rows, test_rows = (_stack([torch.tensor(run.rows[name], dtype=torch.int64) for run in runs])
                                     .to(device) for name in ("training", "validation", "test"))
    y_fit = _stack([torch.tensor(run.y[run.fit], dtype=torch.float32) for run in runs]).to(device)
    step = max(1, 1024 // k)  # eval-mode samples (of all the runs) at once

    def batches(rows):  # the eval-mode inputs of rows, gathered once
        return [x_all[rows[..., i : i + step]] for i in range(0, rows.shape[-1], step)]

    x_fit = batches(fit_rows) if config.train_accuracy == "eval" else None
    x_val, x_test = batches(val_rows), batches(test_rows)
    if k == 1:
        net = first.new_model().to(device)
    else:
        net = StackedModel((run.new_model() for run in runs), sample_shape=tuple(x_all.shape[1:]), device=device)
    weights = _Weights(config, net, first.dtype)
    ones = torch.ones(fit_rows.shape[:-1], device=device)  # () or (K,)
    n_fit = len(first.fit)
    desc = first.name if k == 1 else f"{config.model} {config.target} {k} runs stacked ({first.split.name}, ...)"
    bar = tqdm(range(config.epochs), desc=desc, disable=not progress, leave=False)
    for epoch in bar:
        start_time = time.perf_counter()
        net.train()
        order = _stack([torch.randperm(n_fit, generator=run.g_shuffle) for run in runs]).to(device)
        rows, y_order = fit_rows.gather(-1, order), y_fit.gather(-1, order)  # each run in its own order
        loss_sum, correct = torch.zeros_like(ones), torch.zeros_like(ones)
        for start in range(0, n_fit, config.batch_size):
            xb = x_all[rows[..., start : start + config.batch_size]]  # (B, C, F); stacked (K, B, C, F)
            yb = y_order[..., start : start + config.batch_size]  # (B,); stacked (K, B)
            logits = net(xb).float()  # the loss in float32 whatever the arithmetic
            # Each run's mean loss, () or (K,) (one run: torch's mean reduction, whose backward has other bits).
            if k == 1:
                losses = F.binary_cross_entropy_with_logits(logits, yb)
            else:
                losses = F.binary_cross_entropy_with_logits(logits, yb, reduction="none").mean(dim=1)
            losses.backward(ones)  # each run's weights get exactly that run's gradient
            weights.step()
            loss_sum += losses.detach() * yb.shape[-1]
            correct += ((logits.detach() >= 0) == (yb >= 0.5)).sum(-1)
        fit_logits = _predict(net, x_fit, k) if x_fit is not None else [None] * k
        val_logits, test_logits = _predict(net, x_val, k), _predict(net, x_test, k)
        for i, run in enumerate(runs):
            run.end_epoch(epoch, loss_sum=loss_sum.view(k)[i].item(), correct=correct.view(k)[i].item(),
                          fit_logits=fit_logits[i], val_logits=val_logits[i], test_logits=test_logits[i])
        seconds = time.perf_counter() - start_time
        for run in runs:
            run.seconds.append(seconds)
        bar.set_postfix(loss=f"{first.history['loss'][-1]:.3f}", test=f"{first.history['test_acc'][-1]:.2f}")
    test_logits = test_logits.float().cpu().numpy()
    states = [net.state_dict()] if k == 1 else [net.fold_state_dict(i) for i in range(k)]
    # The weights that made the predictions, as float32 (bf16 values are exact in float32).
    return [(_record(run, test_logits[i], stack_size=k), {key: v.detach().float().cpu() for key, v in state.items()})
            for i, (run, state) in enumerate(zip(runs, states))]


def _record(run: _Run, test_logits: np.ndarray, *, stack_size: int) -> Record:
    """The record of a finished run; ``stack_size`` runs were trained together (1: on its own; a
    stack's ``epoch_seconds`` are the whole stack's)."""
    y_test = run.y[run.split.test]
    history = History(*(tuple(run.history[k]) for k in ("loss", "train_acc", "val_acc", "test_acc", "test_pred")))
    return Record(config=run.config, scheme=run.scheme, split=run.split, fit=run.fit, val=run.val,
                  run_seed=run.run_seed, data=run.data.describe(), versions=versions(), device=str(run.device),
                  precision=str(run.dtype).removeprefix("torch."), stack_size=stack_size, history=history,
                  epoch_seconds=tuple(run.seconds), test_logits=tuple(test_logits.tolist()), y_test=y_test,
                  summary=summarize(run.history, run.y[run.split.train], y_test))


def train_run(config: ExperimentConfig, data: Prepared, split: splits.Split, *, scheme: str = "fixed",
              device: str | torch.device | None = None, progress: bool = True) -> tuple[Record, dict]:
    """Train and evaluate one model on one split; return ``(record, state_dict)``. The validation rows
    come from ``split.train`` only (whole participants under LOSO: ``scheme="loso"``)."""
    return train_runs(config, data, [split], scheme=scheme, device=device, progress=progress, stacked=False)[0]


def train_runs(config: ExperimentConfig, data: Prepared, splits_list: list[splits.Split], *, scheme: str = "fixed",
               device: str | torch.device | None = None, progress: bool = True, stacked: bool | None = None,
               max_stack: int | None = None) -> list[tuple[Record, dict]]:
    """Train ``config`` on each split; return each run's ``(record, state_dict)``, in order.

    Each run is :func:`train_run`'s on its split, one by one or, ``stacked`` (None: on CUDA; on 2-core
    CPUs it was slower), runs whose fit, validation and test sizes agree as one
    :class:`~deap_lib.experiment.stacked.StackedModel` of at most ``max_stack`` runs (None: no limit; a
    stack holds K copies of weights, gradients and optimizer state), equal to the one-by-one runs within
    float tolerance (their records say ``"stacked": true``). ``device`` None: :func:`default_device`.
    """
    device = torch.device(device) if device is not None else default_device()
    stacked = device.type == "cuda" if stacked is None else stacked
    runs = [_Run(config, data, split, scheme, device) for split in splits_list]
    shapes = [tuple(map(len, run.rows.values())) for run in runs]
    groups = stack_groups(shapes, max_stack=max_stack) if stacked else [[i] for i in range(len(runs))]
    out: list = [None] * len(runs)
    for group in groups:
        for i, result in zip(group, _train([runs[i] for i in group], progress=progress)):
            out[i] = result
    return out


def stack_groups(shapes: list, *, max_stack: int | None = None) -> list[list[int]]:
    """Positions of ``shapes`` grouped by equal shape (in order of first appearance), each group cut into
    pieces of at most ``max_stack``: ``[(9, 1, 2), (8, 1, 3), (9, 1, 2)]`` -> ``[[0, 2], [1]]``."""
    by_shape: dict = {}
    for i, shape in enumerate(shapes):
        by_shape.setdefault(shape, []).append(i)
    size = max_stack or max(len(shapes), 1)
    return [group[j : j + size] for group in by_shape.values() for j in range(0, len(group), size)]


#: Epochs averaged by a run's ``last_k`` figure (fewer when the run is shorter).
LAST_K = 10


def summarize(history: dict, y_train: np.ndarray, y_test: np.ndarray) -> RunSummary:
    """A run's test figures: ``as_reported`` (best on test: optimistic), ``last``, ``last_k`` (the mean
    test accuracy of the last :data:`LAST_K` epochs: nothing is chosen, one epoch's luck weighs a k-th)
    and ``val_chosen`` (None without validation accuracies), with the majority baseline and test size."""
    test = np.asarray(history["test_acc"])
    best = int(np.argmax(test))  # first epoch reaching the maximum
    k = min(LAST_K, len(test))
    val_chosen = None
    if history["val_acc"] and history["val_acc"][0] is not None:
        chosen = int(np.argmax(history["val_acc"]))
        val_chosen = Figure(float(test[chosen]), chosen + 1)
    return RunSummary(n_test=int(len(y_test)), majority_baseline=stats.majority_baseline(y_train, y_test),
                      as_reported=Figure(float(test[best]), best + 1, note="epoch chosen on the test set (optimistic)"),
                      last=Figure(float(test[-1]), len(test)), last_k=Figure(float(test[-k:].mean()), len(test), k=k),
                      val_chosen=val_chosen)
