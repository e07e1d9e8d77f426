"""The one training loop, used by every run of every protocol (DNN and CNN; fixed, k-fold, LOSO, 5x2).

A *run* trains one model on one :class:`~deap_lib.experiment.splits.Split` of the prepared features
(:func:`train_run`). Per epoch it records the mean training loss, the training accuracy, and the
accuracy on a validation set carved from the training rows and on the test rows. From that history
:func:`summarize` gives a run's three figures:

- ``as_reported``: the best test accuracy over epochs, as the report did. The epoch is chosen on
  the test set, so this figure is optimistic (biased upwards) and labelled so everywhere.
- ``last``: the test accuracy after the last epoch (no selection at all).
- ``val_chosen``: the test accuracy at the epoch with the best validation accuracy
  (the test set is never used to choose).

:func:`train_runs` trains one config on several splits (the folds of a protocol): one by one, or
on a GPU together as one stacked model (:mod:`deap_lib.experiment.stacked`), each run equal to
its :func:`train_run` within float tolerance.
"""

from __future__ import annotations

import platform
import time
import zlib
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

import deap_lib
from deap_lib.data.dataset import Prepared
from deap_lib.evaluation import stats
from deap_lib.experiment import splits
from deap_lib.experiment import stacked as stacked_
from deap_lib.experiment.settings import ExperimentConfig
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
    """Whether ``device`` does bfloat16 matmuls natively: CUDA's own answer (emulation excluded), or
    on a CPU the flags :data:`_BF16_CPU_FLAGS` (never guessed from the processor's name). Elsewhere
    bf16 still runs, emulated and slower, which is why ``auto`` then means float32."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported(including_emulation=False)
    return device.type == "cpu" and bool(_cpu_flags() & _BF16_CPU_FLAGS)


def resolve_precision(precision: str, device: str | torch.device) -> str:
    """``"float32"`` or ``"bfloat16"``: ``precision`` itself, or for ``"auto"`` bfloat16 where
    :func:`native_bf16` holds on ``device`` (its kind: ``"cpu"``, ``"cuda"``), else float32."""
    if precision == "auto":
        return "bfloat16" if native_bf16(device) else "float32"
    if precision not in ("float32", "bfloat16"):
        raise ValueError(f"precision must be float32, bfloat16 or auto, got {precision!r}")
    return precision


class _Weights:
    """A model's weights and its optimizer, in the run's arithmetic.

    float32: the optimizer updates the model's own parameters. bfloat16: the model holds bf16
    weights and computes in bf16 (activations and gradients too); the optimizer keeps float32
    master weights, updates them from the bf16 gradients, and refreshes the bf16 weights once per
    step (instead of casting float32 weights in every forward pass, as autocast does). Initial
    weights are drawn in float32, so both arithmetics start from the same values.
    """

    def __init__(self, config: ExperimentConfig, model: torch.nn.Module, dtype: torch.dtype):
        self.model, self.dtype = model, dtype
        if dtype == torch.float32:
            self.master = None
            self.optimizer = _make_optimizer(config, model.parameters())
            return
        self.master = [p.detach().clone() for p in model.parameters()]  # float32, before the cast
        for m in self.master:
            m.grad = torch.zeros_like(m)
        model.to(dtype)
        self.low = list(model.parameters())
        self.optimizer = _make_optimizer(config, self.master)

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
    """``torch.optim.RMSprop`` without momentum (the report's DNN), computing the same bits with
    its square-root buffer kept from step to step: PyTorch allocates a parameter-sized tensor for
    it every step, which for the DNN's first layer (63 MB) is fresh memory from the kernel, page
    faults and all, 4 times an epoch."""

    def __init__(self, params, **kwargs):
        super().__init__(params, **kwargs)
        self._root: dict = {}  # param -> buffer of sqrt(square_avg) + eps; not state: state_dicts stay torch's

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
def predict_logits(model: torch.nn.Module, x: torch.Tensor, *, batch_size: int = 1024) -> torch.Tensor:
    """Logits of ``model`` on ``x`` (n, 32, 99) in eval mode, in order (never shuffled): (n,)."""
    was_training = model.training
    model.eval()
    out = torch.cat([model(x[i : i + batch_size]) for i in range(0, len(x), batch_size)]) if len(x) else x.new_empty(0)
    model.train(was_training)
    return out


def _run_seed(seed: int, split_name: str, train_seed: int) -> int:
    """Seed of one run's training draw (initial weights, order, dropout masks, validation rows):
    the experiment's seed, the split's name (so folds differ reproducibly) and the training seed."""
    return int(np.random.SeedSequence([seed, zlib.crc32(split_name.encode()), train_seed]).generate_state(1)[0])


@dataclass(eq=False)
class _Run:
    """One run in the making, the same for both paths (one by one or stacked): its rows, labels,
    seed, shuffle generator, and the history filled epoch by epoch."""

    config: ExperimentConfig
    data: Prepared
    split: splits.Split
    scheme: str
    device: torch.device
    y: np.ndarray  # labels of every row of data
    dtype: torch.dtype  # the arithmetic (resolve_precision of the config's precision on the device)
    run_seed: int
    fit: np.ndarray
    val: np.ndarray
    g_shuffle: torch.Generator
    history: dict = field(default_factory=lambda: {"loss": [], "train_acc": [], "val_acc": [], "test_acc": [], "test_pred": []})
    seconds: list = field(default_factory=list)  # wall time per epoch, kept apart from the (deterministic) history

    @property
    def name(self) -> str:
        return f"{self.config.model} {self.config.target} {self.split.name}"

    @property
    def shape(self) -> tuple[int, int, int]:
        """Fit, validation and test rows: runs of one config with the same shape can be stacked."""
        return len(self.fit), len(self.val), len(self.split.test)

    def new_model(self) -> torch.nn.Module:
        """The run's model as built, on the CPU: initial weights from the run's seed, dropout masks
        from the run's own generator (on the run's device)."""
        g_init = torch.Generator().manual_seed(self.run_seed)
        g_dropout = torch.Generator(device=self.device).manual_seed(self.run_seed + 2)
        return build_model(self.config.model, generator=g_init, dropout_generator=g_dropout,
                           **self.config.model_kwargs)


def _start_run(config: ExperimentConfig, data: Prepared, split: splits.Split, scheme: str,
               device: torch.device) -> _Run:
    """The rows of a run: the validation rows come from ``split.train`` only (whole participants
    under LOSO)."""
    y = data.labels(config.target)
    run_seed = _run_seed(config.seed, split.name, config.train_seed)
    if config.val_fraction > 0:
        train_rows = split.train
        fit, val = splits.validation_split(
            train_rows,
            fraction=config.val_fraction,
            seed=run_seed % 2**32,
            labels=None if scheme == "loso" else y[train_rows],
            groups=data.participant[train_rows] if scheme == "loso" else None,
        )
    else:
        fit, val = split.train, np.empty(0, dtype=np.int64)
    dtype = getattr(torch, resolve_precision(config.precision, device))
    return _Run(config, data, split, scheme, device, y, dtype, run_seed, fit, val,
                g_shuffle=torch.Generator().manual_seed(run_seed + 1))


def _check_finite(run: _Run, finite) -> None:
    """Raise :class:`NonFiniteError` unless ``finite(name, rows)`` holds for the run's fit
    (``"training"``), validation and test rows: whether those rows' float32 features are all finite."""
    for name, rows in (("training", run.fit), ("validation", run.val), ("test", run.split.test)):
        if not finite(name, rows):
            raise NonFiniteError(f"non-finite {name} features ({run.data.source.describe()}): re-run prepare "
                                 "with nonfinite='drop' or 'impute' (CLI: --nonfinite)")


def _end_epoch(run: _Run, epoch: int, *, loss_sum: float, correct: float, fit_logits: torch.Tensor | None,
               val_logits: torch.Tensor, test_logits: torch.Tensor) -> None:
    """Add an epoch to the run's history.

    ``loss_sum``: the batches' mean losses times their sizes, summed; ``correct``: the training
    batches' correct predictions (counted while training); ``*_logits``: eval-mode logits, shape
    ``(n,)``, of the fit rows (only with ``train_accuracy="eval"``), the validation and the test rows.
    """
    y, n_fit = run.y, len(run.fit)
    if run.config.train_accuracy == "eval":
        train_acc = float(((fit_logits >= 0).cpu().numpy() == y[run.fit]).mean())
    else:
        train_acc = correct / n_fit
    val_pred = (val_logits >= 0).cpu().numpy()
    test_pred = (test_logits >= 0).cpu().numpy().astype(np.int64)
    mean_loss = loss_sum / n_fit
    if not np.isfinite(mean_loss):
        raise NonFiniteError(f"{run.name}: the training loss became {mean_loss} at epoch {epoch + 1}; "
                             "no accuracy is reported for a diverged run")
    history = run.history
    history["loss"].append(mean_loss)
    history["train_acc"].append(train_acc)
    history["val_acc"].append(float((val_pred == y[run.val]).mean()) if len(run.val) else None)
    history["test_acc"].append(float((test_pred == y[run.split.test]).mean()))
    history["test_pred"].append("".join(map(str, test_pred)))


def _record(run: _Run, test_logits: np.ndarray, *, stack_size: int) -> dict:
    """The record of a finished run; ``stack_size`` runs were trained together (1: on its own)."""
    y, split = run.y, run.split
    y_test = y[split.test]
    return {
        "config": run.config.to_dict(),
        "scheme": run.scheme,
        "split": {**split.to_dict(), "fit": run.fit.tolist(), "val": run.val.tolist()},
        "seed": {"experiment": run.config.seed, "train": run.config.train_seed, "run": run.run_seed},
        "data": run.data.describe(),
        "versions": versions(),
        "device": str(run.device),
        "precision": str(run.dtype).removeprefix("torch."),
        # Stacked runs share each epoch's wall time (epoch_seconds: the whole stack's epoch).
        "stacked": stack_size > 1,
        "stack_size": stack_size,
        "history": run.history,
        "epoch_seconds": run.seconds,
        "test_logits": test_logits.tolist(),
        "y_test": y_test.tolist(),
        "summary": summarize(run.history, y[split.train], y_test),
    }


def _show(bar, run: _Run) -> None:
    bar.set_postfix(loss=f"{run.history['loss'][-1]:.3f}", test=f"{run.history['test_acc'][-1]:.2f}")


def train_run(
    config: ExperimentConfig,
    data: Prepared,
    split: splits.Split,
    *,
    scheme: str = "fixed",
    device: str | torch.device | None = None,
    progress: bool = True,
) -> tuple[dict, dict]:
    """Train and evaluate one model on one split; return ``(record, state_dict)``.

    The validation rows come from ``split.train`` only (whole participants under LOSO).
    """
    device = torch.device(device) if device is not None else default_device()
    return _train_plain(_start_run(config, data, split, scheme, device), progress=progress)


def _train_plain(run: _Run, *, progress: bool) -> tuple[dict, dict]:
    config, data, device = run.config, run.data, run.device

    def tensor(rows):
        return torch.as_tensor(np.ascontiguousarray(data.features[rows]), dtype=torch.float32, device=device)

    x_fit, x_val, x_test = tensor(run.fit), tensor(run.val), tensor(run.split.test)
    x_of = {"training": x_fit, "validation": x_val, "test": x_test}
    _check_finite(run, lambda name, rows: bool(torch.isfinite(x_of[name]).all()))
    x_fit, x_val, x_test = x_fit.to(run.dtype), x_val.to(run.dtype), x_test.to(run.dtype)
    y_fit = torch.as_tensor(run.y[run.fit], dtype=torch.float32, device=device)

    model = run.new_model().to(device)
    weights = _Weights(config, model, run.dtype)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    bar = tqdm(range(config.epochs), desc=run.name, disable=not progress, leave=False)
    for epoch in bar:
        start_time = time.perf_counter()
        model.train()
        order = torch.randperm(len(run.fit), generator=run.g_shuffle).to(device)
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), device=device)
        for start in range(0, len(run.fit), config.batch_size):
            idx = order[start : start + config.batch_size]
            xb, yb = x_fit[idx], y_fit[idx]
            logits = model(xb).float()  # the loss in float32 whatever the arithmetic
            loss = loss_fn(logits, yb)
            loss.backward()
            weights.step()
            loss_sum += loss.detach() * len(idx)
            correct += ((logits.detach() >= 0) == (yb >= 0.5)).sum()
        _end_epoch(run, epoch, loss_sum=loss_sum.item(), correct=correct.item(),
                   fit_logits=predict_logits(model, x_fit) if config.train_accuracy == "eval" else None,
                   val_logits=predict_logits(model, x_val), test_logits=predict_logits(model, x_test))
        run.seconds.append(time.perf_counter() - start_time)
        _show(bar, run)
    test_logits = predict_logits(model, x_test).float().cpu().numpy()
    # The weights that made the predictions, as float32 (bf16 values are exact in float32).
    state = {k: v.detach().float().cpu() for k, v in model.state_dict().items()}
    return _record(run, test_logits, stack_size=1), state


def train_runs(
    config: ExperimentConfig,
    data: Prepared,
    splits_list: list[splits.Split],
    *,
    scheme: str = "fixed",
    device: str | torch.device | None = None,
    progress: bool = True,
    stacked: bool | None = None,
    max_stack: int | None = None,
) -> list[tuple[dict, dict]]:
    """Train ``config`` on each split of ``splits_list``; return ``(record, state_dict)`` per split, in order.

    Each run is the run :func:`train_run` trains on its split (same initial weights, shuffles,
    dropout masks, validation rows, record), either one by one or, ``stacked``, together as one
    stacked model (:mod:`deap_lib.experiment.stacked`): K copies of the model in one, one forward,
    backward and optimizer step per batch for all K runs, which keeps a GPU busy where one small
    run leaves it idle between kernels. Stacked runs equal the one-by-one runs within float
    tolerance (a batched matmul or grouped convolution sums in another order); their records say
    ``"stacked": true``.

    Parameters
    ----------
    config : ExperimentConfig
    data : Prepared
    splits_list : list of Split
        Runs whose fit, validation and test sizes agree are stacked together; a run alone in its
        size is trained on its own.
    scheme : str
        As for :func:`train_run` (``"loso"`` takes whole participants for validation).
    device : str or torch.device or None
        None: :func:`default_device`.
    progress : bool
        Show a progress bar per run (per stack when stacked).
    stacked : bool or None
        None: stacked on CUDA, one by one elsewhere (on the 2-core CPUs stacking was slower).
    max_stack : int or None
        At most this many runs in one stack (memory: a stack holds K copies of the weights, their
        gradients and optimizer state); None: no limit.

    Returns
    -------
    list of (dict, dict)
        Each run's record and its ``state_dict`` (loadable into the plain model of ``config``).
    """
    device = torch.device(device) if device is not None else default_device()
    if stacked is None:
        stacked = device.type == "cuda"
    if max_stack is not None and max_stack < 1:
        raise ValueError(f"max_stack must be >= 1 or None, got {max_stack}")
    runs = [_start_run(config, data, split, scheme, device) for split in splits_list]
    if not stacked:
        return [_train_plain(run, progress=progress) for run in runs]
    out: list = [None] * len(runs)
    for group in stack_groups([run.shape for run in runs], max_stack=max_stack):
        if len(group) == 1:
            out[group[0]] = _train_plain(runs[group[0]], progress=progress)
            continue
        for i, result in zip(group, _train_stacked([runs[i] for i in group], progress=progress)):
            out[i] = result
    return out


def stack_groups(shapes: list, *, max_stack: int | None = None) -> list[list[int]]:
    """Positions of ``shapes`` grouped by equal shape (in order of first appearance), each group
    cut into pieces of at most ``max_stack``: ``[(9, 1, 2), (8, 1, 3), (9, 1, 2)]`` -> ``[[0, 2], [1]]``."""
    by_shape: dict = {}
    for i, shape in enumerate(shapes):
        by_shape.setdefault(shape, []).append(i)
    size = max_stack or max(len(shapes), 1)
    return [group[j : j + size] for group in by_shape.values() for j in range(0, len(group), size)]


def _train_stacked(runs: list[_Run], *, progress: bool) -> list[tuple[dict, dict]]:
    """Train runs of one config and one shape together as one :class:`~deap_lib.experiment.stacked.StackedModel`."""
    first = runs[0]
    config, data, device, k = first.config, first.data, first.device, len(runs)
    x_all = torch.as_tensor(np.ascontiguousarray(data.features), dtype=torch.float32, device=device)
    finite_rows = torch.isfinite(x_all).flatten(1).all(1).cpu().numpy()
    x_all = x_all.to(first.dtype)
    for run in runs:
        _check_finite(run, lambda name, rows: bool(finite_rows[rows].all()))

    def rows_of(which):  # (K, n): each run's rows, one run per line
        return torch.as_tensor(np.stack([which(run) for run in runs]), dtype=torch.int64, device=device)

    fit_rows, val_rows, test_rows = rows_of(lambda r: r.fit), rows_of(lambda r: r.val), rows_of(lambda r: r.split.test)
    y_fit = torch.as_tensor(np.stack([run.y[run.fit] for run in runs]), dtype=torch.float32, device=device)

    net = stacked_.StackedModel((run.new_model() for run in runs), sample_shape=tuple(x_all.shape[1:]), device=device)
    weights = _Weights(config, net, first.dtype)
    n_fit = len(first.fit)
    bar = tqdm(range(config.epochs), desc=f"{config.model} {config.target} {k} runs stacked ({first.split.name}, ...)",
               disable=not progress, leave=False)
    for epoch in bar:
        start_time = time.perf_counter()
        net.train()
        order = torch.stack([torch.randperm(n_fit, generator=run.g_shuffle) for run in runs]).to(device)
        rows, y_order = fit_rows.gather(1, order), y_fit.gather(1, order)  # each run in its own order
        loss_sum = torch.zeros(k, device=device)
        correct = torch.zeros(k, device=device)
        for start in range(0, n_fit, config.batch_size):
            xb = x_all[rows[:, start : start + config.batch_size]]  # (K, B, C, F)
            yb = y_order[:, start : start + config.batch_size]  # (K, B)
            logits = net(xb).float()  # (K, B), the loss in float32 whatever the arithmetic
            # Each run's own mean loss; their sum gives each run's weights exactly that run's gradient.
            losses = F.binary_cross_entropy_with_logits(logits, yb, reduction="none").mean(dim=1)  # (K,)
            losses.sum().backward()
            weights.step()
            loss_sum += losses.detach() * yb.shape[1]
            correct += ((logits.detach() >= 0) == (yb >= 0.5)).sum(dim=1)
        fit_logits = stacked_.predict_logits(net, x_all, fit_rows) if config.train_accuracy == "eval" else None
        val_logits = stacked_.predict_logits(net, x_all, val_rows)
        test_logits = stacked_.predict_logits(net, x_all, test_rows)
        for i, (run, run_loss, run_correct) in enumerate(zip(runs, loss_sum.tolist(), correct.tolist())):
            _end_epoch(run, epoch, loss_sum=run_loss, correct=run_correct,
                       fit_logits=None if fit_logits is None else fit_logits[i],
                       val_logits=val_logits[i], test_logits=test_logits[i])
        seconds = time.perf_counter() - start_time
        for run in runs:
            run.seconds.append(seconds)
        _show(bar, first)
    test_logits = stacked_.predict_logits(net, x_all, test_rows).float().cpu().numpy()
    return [(_record(run, test_logits[i], stack_size=k), {key: v.float() for key, v in net.fold_state_dict(i).items()})
            for i, run in enumerate(runs)]


#: Epochs averaged by a run's ``last_k`` figure (fewer when the run is shorter).
LAST_K = 10


def summarize(history: dict, y_train: np.ndarray, y_test: np.ndarray) -> dict:
    """The test figures of a run, the majority baseline, and the test size: ``as_reported`` (best
    on test: optimistic), ``last``, ``last_k`` (the mean test accuracy of the last :data:`LAST_K`
    epochs: nothing is chosen, and one epoch's luck weighs a k-th) and ``val_chosen``."""
    test = np.asarray(history["test_acc"])
    best = int(np.argmax(test))  # first epoch reaching the maximum
    k = min(LAST_K, len(test))
    out = {
        "n_test": int(len(y_test)),
        "majority_baseline": stats.majority_baseline(y_train, y_test),
        "as_reported": {"accuracy": float(test[best]), "epoch": best + 1, "note": "epoch chosen on the test set (optimistic)"},
        "last": {"accuracy": float(test[-1]), "epoch": len(test)},
        "last_k": {"accuracy": float(test[-k:].mean()), "epoch": len(test), "k": k},
        "val_chosen": None,
    }
    if history["val_acc"] and history["val_acc"][0] is not None:
        chosen = int(np.argmax(history["val_acc"]))
        out["val_chosen"] = {"accuracy": float(test[chosen]), "epoch": chosen + 1}
    return out


# --------------------------------------------------------------------------------------------
# Stored runs
