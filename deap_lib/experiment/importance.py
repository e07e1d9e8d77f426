"""Where on the scalp: one number per channel, for a topographic map (:func:`deap_lib.report.plotting.plot_topomap`).

:func:`channel_effects`: Cohen's d between high and low trials in the data, model-free (on the twin it must
recover the planted effects); pass training rows to leave a test set untouched. :func:`channel_occlusion`:
what a trained model uses, the drop in its test score when one channel's features are replaced by 0.
"""

from __future__ import annotations

import itertools

import numpy as np

from deap_lib.data import features as features_mod

#: Metrics of :func:`channel_occlusion`.
OCCLUSION_METRICS = ("accuracy", "loss")


def effect_sizes(features, y) -> np.ndarray:
    """Cohen's d (high minus low, pooled sample SD) of every channel and feature column; 0 where the pooled SD is 0.

    ``features``: shape (n_trials, n_channels, n_features); ``y``: 0/1 labels, shape (n_trials,), both classes
    and at least 3 trials. Returns shape (n_channels, n_features), positive where high trials are larger.
    """
    x, high = np.asarray(features, dtype=np.float64), np.asarray(y) == 1
    a, b = x[high], x[~high]
    n_a, n_b = len(a), len(b)
    if n_a < 1 or n_b < 1 or n_a + n_b < 3:
        raise ValueError(f"y needs both classes and at least 3 rows for a pooled SD, got {n_a} high and {n_b} low")
    var_a = a.var(axis=0, ddof=1) if n_a > 1 else np.zeros(x.shape[1:])
    var_b = b.var(axis=0, ddof=1) if n_b > 1 else np.zeros(x.shape[1:])
    pooled = np.sqrt(((n_a - 1) * var_a + (n_b - 1) * var_b) / (n_a + n_b - 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(pooled > 0, (a.mean(axis=0) - b.mean(axis=0)) / pooled, 0.0)


def stat_columns(stat: str, *, whole_channel: bool = True) -> list[int]:
    """The feature columns of statistic ``stat`` (:data:`deap_lib.data.features.STAT_NAMES`): the whole
    channel's (``[90 + i]``), or with ``whole_channel=False`` the ten windows' (``9 * w + i``) and then it."""
    i = features_mod.STAT_NAMES.index(stat)
    n_stats = len(features_mod.STAT_NAMES)
    whole = features_mod.N_WINDOWS * n_stats + i
    return [whole] if whole_channel else [n_stats * w + i for w in range(features_mod.N_WINDOWS)] + [whole]


def channel_effects(features, y, stat: str = "std") -> np.ndarray:
    """Per channel, the mean over the ten windows of ``stat``'s :func:`effect_sizes` (``"std"`` follows
    amplitude, where the twin's alpha effects live): shape (n_channels,) from features (n_trials, n_channels, 99)."""
    windows = stat_columns(stat, whole_channel=False)[:-1]
    return effect_sizes(np.asarray(features)[:, :, windows], y).mean(axis=1)


def channel_occlusion(model, x, y, *, batch_size: int = 1024, metric: str = "accuracy") -> np.ndarray:
    """How much a trained model relies on each channel: the score lost when its features are set to 0 (the mean
    of standardized features) in every trial, evaluated in eval mode under :func:`torch.inference_mode`; the
    model's parameters and mode are left as they were.

    ``model`` maps a float32 batch (B, n_channels, n_features) to logits (B,); ``x``: ndarray or tensor, shape
    (n_trials, n_channels, n_features); ``y``: 0/1 labels, shape (n_trials,). ``metric``: ``"accuracy"``
    (intact minus occluded, prediction = logit >= 0) or ``"loss"`` (occluded minus intact mean BCE-with-logits).
    Returns shape (n_channels,), float64: positive where occluding hurts, 0 for a channel the model ignores.
    """
    import torch
    import torch.nn.functional as F

    if metric not in OCCLUSION_METRICS:
        raise ValueError(f"metric must be one of {OCCLUSION_METRICS}, got {metric!r}")
    device = next((t.device for t in itertools.chain(model.parameters(), model.buffers())), None)
    x = torch.as_tensor(x, dtype=torch.float32, device=device)
    y = torch.as_tensor(np.asarray(y.cpu() if isinstance(y, torch.Tensor) else y), dtype=torch.float32,
                        device=x.device)
    n_channels = x.shape[1]

    def score(logits, target):  # summed over the batch; divided by n at the end
        if metric == "accuracy":
            return ((logits >= 0) == (target >= 0.5)).sum(dtype=torch.float64)
        return F.binary_cross_entropy_with_logits(logits, target, reduction="sum").double()

    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            intact = torch.zeros((), dtype=torch.float64, device=x.device)
            occluded = torch.zeros(n_channels, dtype=torch.float64, device=x.device)
            for start in range(0, len(x), batch_size):
                xb, yb = x[start : start + batch_size], y[start : start + batch_size]
                intact += score(model(xb).reshape(-1), yb)
                masked = xb.clone()
                for c in range(n_channels):
                    masked[:, c] = 0.0
                    occluded[c] += score(model(masked).reshape(-1), yb)
                    masked[:, c] = xb[:, c]
    finally:
        model.train(was_training)
    intact, occluded = intact.item() / len(x), occluded.cpu().numpy() / len(x)
    return intact - occluded if metric == "accuracy" else occluded - intact
