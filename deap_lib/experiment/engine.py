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
"""

from __future__ import annotations

import platform
import time
import zlib

import numpy as np
import torch
from tqdm import tqdm

import deap_lib
from deap_lib.data.dataset import Prepared
from deap_lib.evaluation import stats
from deap_lib.experiment import splits
from deap_lib.experiment.settings import ExperimentConfig
from deap_lib.models import build_model


class NonFiniteError(ValueError):
    """A run met non-finite inputs or a non-finite loss: it stops instead of reporting an accuracy."""


def default_device() -> torch.device:
    """CUDA when present, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def versions() -> dict:
    import sklearn

    return {
        "deap_lib": deap_lib.__version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "scikit-learn": sklearn.__version__,
    }


def _make_optimizer(config: ExperimentConfig, params):
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


def _run_seed(seed: int, split_name: str) -> int:
    """Seed of one run: the experiment seed and the split's name, so folds differ reproducibly."""
    return int(np.random.SeedSequence([seed, zlib.crc32(split_name.encode())]).generate_state(1)[0])


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
    y = data.labels(config.target)
    run_seed = _run_seed(config.seed, split.name)
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

    def tensor(rows, dtype=torch.float32):
        return torch.as_tensor(np.ascontiguousarray(data.features[rows]), dtype=dtype, device=device)

    x_fit, x_val, x_test = tensor(fit), tensor(val), tensor(split.test)
    for name, x in (("training", x_fit), ("validation", x_val), ("test", x_test)):
        if not torch.isfinite(x).all():
            raise NonFiniteError(f"non-finite {name} features ({data.source.describe()}): re-run prepare "
                                 "with nonfinite='drop' or 'impute' (CLI: --nonfinite)")
    y_fit = torch.as_tensor(y[fit], dtype=torch.float32, device=device)
    y_val, y_test = y[val], y[split.test]

    g_init = torch.Generator().manual_seed(run_seed)
    g_shuffle = torch.Generator().manual_seed(run_seed + 1)
    history = {"loss": [], "train_acc": [], "val_acc": [], "test_acc": [], "test_pred": []}
    seconds = []  # wall time per epoch, kept apart from the (deterministic) history
    g_dropout = torch.Generator(device=device).manual_seed(run_seed + 2)
    model = build_model(config.model, generator=g_init, dropout_generator=g_dropout, **config.model_kwargs)
    model = model.to(device)
    optimizer = _make_optimizer(config, model.parameters())
    loss_fn = torch.nn.BCEWithLogitsLoss()
    bar = tqdm(range(config.epochs), desc=f"{config.model} {config.target} {split.name}", disable=not progress, leave=False)
    for epoch in bar:
        start_time = time.perf_counter()
        model.train()
        order = torch.randperm(len(fit), generator=g_shuffle).to(device)
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), device=device)
        for start in range(0, len(fit), config.batch_size):
            idx = order[start : start + config.batch_size]
            xb, yb = x_fit[idx], y_fit[idx]
            optimizer.zero_grad(set_to_none=True)
            logits = model(xb)
            loss = loss_fn(logits, yb)
            loss.backward()
            optimizer.step()
            loss_sum += loss.detach() * len(idx)
            correct += ((logits.detach() >= 0) == (yb >= 0.5)).sum()
        if config.train_accuracy == "eval":
            train_acc = float(((predict_logits(model, x_fit) >= 0).cpu().numpy() == y[fit]).mean())
        else:
            train_acc = correct.item() / len(fit)
        val_pred = (predict_logits(model, x_val) >= 0).cpu().numpy()
        test_pred = (predict_logits(model, x_test) >= 0).cpu().numpy().astype(np.int64)
        mean_loss = loss_sum.item() / len(fit)
        if not np.isfinite(mean_loss):
            raise NonFiniteError(f"{config.model} {config.target} {split.name}: the training loss became "
                                 f"{mean_loss} at epoch {epoch + 1}; no accuracy is reported for a diverged run")
        history["loss"].append(mean_loss)
        history["train_acc"].append(train_acc)
        history["val_acc"].append(float((val_pred == y_val).mean()) if len(val) else None)
        history["test_acc"].append(float((test_pred == y_test).mean()))
        history["test_pred"].append("".join(map(str, test_pred)))
        seconds.append(time.perf_counter() - start_time)
        bar.set_postfix(loss=f"{history['loss'][-1]:.3f}", test=f"{history['test_acc'][-1]:.2f}")
    test_logits = predict_logits(model, x_test).cpu().numpy()

    record = {
        "config": config.to_dict(),
        "scheme": scheme,
        "split": {**split.to_dict(), "fit": fit.tolist(), "val": val.tolist()},
        "seed": {"experiment": config.seed, "run": run_seed},
        "data": data.describe(),
        "versions": versions(),
        "device": str(device),
        "history": history,
        "epoch_seconds": seconds,
        "test_logits": test_logits.tolist(),
        "y_test": y_test.tolist(),
        "summary": summarize(history, y[split.train], y_test),
    }
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    return record, state


def summarize(history: dict, y_train: np.ndarray, y_test: np.ndarray) -> dict:
    """The three test figures of a run, the majority baseline, and the test size."""
    test = np.asarray(history["test_acc"])
    best = int(np.argmax(test))  # first epoch reaching the maximum
    out = {
        "n_test": int(len(y_test)),
        "majority_baseline": stats.majority_baseline(y_train, y_test),
        "as_reported": {"accuracy": float(test[best]), "epoch": best + 1, "note": "epoch chosen on the test set (optimistic)"},
        "last": {"accuracy": float(test[-1]), "epoch": len(test)},
        "val_chosen": None,
    }
    if history["val_acc"] and history["val_acc"][0] is not None:
        chosen = int(np.argmax(history["val_acc"]))
        out["val_chosen"] = {"accuracy": float(test[chosen]), "epoch": chosen + 1}
    return out


# --------------------------------------------------------------------------------------------
# Stored runs
