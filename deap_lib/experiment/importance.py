"""Where on the scalp: which channels and statistics separate high from low ratings.

Two views, both one number per channel so they can be drawn as a topographic map
(:func:`deap_lib.report.plotting.plot_topomap`):

- **Effect sizes in the data** (:func:`effect_sizes`, :func:`channel_effects`): Cohen's d of every
  feature between high and low trials, model-free. On the synthetic twin they must recover the
  planted effects (lower posterior alpha with higher arousal, right-minus-left frontal alpha
  rising with valence), which checks the whole pipeline from raw signal to features.
- **What a trained model uses** (:func:`channel_occlusion`): the drop in test accuracy (or rise in
  loss) when one channel's 99 features are replaced by 0, the mean of standardized features.

Effect sizes are computed on whatever rows they are given: to describe a test set without
touching it in training, pass the training rows.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np

from deap_lib.data import features as features_mod

#: Metrics of :func:`channel_occlusion`.
OCCLUSION_METRICS = ("accuracy", "loss")


def _check_features_labels(features, y) -> tuple[np.ndarray, np.ndarray]:
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 3:
        raise ValueError(
            f"features must have shape (n_trials, n_channels, n_features), got {features.shape}"
        )
    y = np.asarray(y)
    if y.shape != (features.shape[0],):
        raise ValueError(f"y must have shape ({features.shape[0]},) to match features, got {y.shape}")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("y must hold binary labels 0 (low) and 1 (high)")
    high = y == 1
    n_high, n_low = int(high.sum()), int((~high).sum())
    if n_high < 1 or n_low < 1 or n_high + n_low < 3:
        raise ValueError(
            f"y needs both classes and at least 3 rows for a pooled SD, got {n_high} high and {n_low} low"
        )
    return features, high


def effect_sizes(features, y) -> np.ndarray:
    """Cohen's d (high minus low) of every channel and feature column.

    ``d = (mean_high - mean_low) / s_pooled`` with
    ``s_pooled = sqrt(((n_high - 1) s_high^2 + (n_low - 1) s_low^2) / (n_high + n_low - 2))`` and
    sample variances (ddof=1). A column with zero pooled SD (constant) gets ``d = 0``.

    Parameters
    ----------
    features : array-like, shape (n_trials, n_channels, n_features)
        E.g. :attr:`deap_lib.data.dataset.Prepared.features`, (n_trials, 32, 99).
    y : array-like of {0, 1}, shape (n_trials,)
        Binary labels (1 = high), e.g. ``data.labels("arousal")``.

    Returns
    -------
    d : ndarray of float64, shape (n_channels, n_features)
        Positive where high-rated trials have larger values.
    """
    x, high = _check_features_labels(features, y)
    a, b = x[high], x[~high]
    n_a, n_b = len(a), len(b)
    var_a = a.var(axis=0, ddof=1) if n_a > 1 else np.zeros(x.shape[1:])
    var_b = b.var(axis=0, ddof=1) if n_b > 1 else np.zeros(x.shape[1:])
    pooled = np.sqrt(((n_a - 1) * var_a + (n_b - 1) * var_b) / (n_a + n_b - 2))
    diff = a.mean(axis=0) - b.mean(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        d = np.where(pooled > 0, diff / pooled, 0.0)
    return d


def stat_columns(stat: str, *, whole_channel: bool = True) -> list[int]:
    """Feature columns holding one statistic (see :func:`deap_lib.data.features.feature_names`).

    Parameters
    ----------
    stat : str
        One of :data:`deap_lib.data.features.STAT_NAMES` (``"mean"``, ..., ``"std"``, ...).
    whole_channel : bool
        True: only the column of the statistic over the whole channel (``90 + i``).
        False: the ten window columns (``9 * w + i``, w = 0..9) followed by the whole-channel one.

    Returns
    -------
    columns : list of int
        Length 1 or 11.
    """
    if stat not in features_mod.STAT_NAMES:
        raise ValueError(f"stat must be one of {features_mod.STAT_NAMES}, got {stat!r}")
    i = features_mod.STAT_NAMES.index(stat)
    n_stats = len(features_mod.STAT_NAMES)
    whole = features_mod.N_WINDOWS * n_stats + i
    if whole_channel:
        return [whole]
    return [n_stats * w + i for w in range(features_mod.N_WINDOWS)] + [whole]


def channel_effects(features, y, stat: str = "std") -> np.ndarray:
    """One statistic's effect size per channel, averaged over the ten windows: a topomap.

    Parameters
    ----------
    features : array-like, shape (n_trials, n_channels, 99)
        Prepared features.
    y : array-like of {0, 1}, shape (n_trials,)
        Binary labels (1 = high).
    stat : str
        One of :data:`deap_lib.data.features.STAT_NAMES`; "std" follows amplitude, where the twin's
        planted alpha effects live.

    Returns
    -------
    d : ndarray of float64, shape (n_channels,)
        Mean over windows ``w = 0..9`` of Cohen's d (:func:`effect_sizes`) of column ``9 * w + i``.
    """
    windows = stat_columns(stat, whole_channel=False)[:-1]
    x = np.asarray(features)
    if x.ndim != 3 or x.shape[2] != features_mod.N_FEATURES:
        raise ValueError(
            f"features must have shape (n_trials, n_channels, {features_mod.N_FEATURES}), got {x.shape}"
        )
    return effect_sizes(x[:, :, windows], y).mean(axis=1)


def _model_device(model):
    for tensor in list(model.parameters()) + list(model.buffers()):
        return tensor.device
    return None


def channel_occlusion(model, x, y, *, batch_size: int = 1024, metric: str = "accuracy") -> np.ndarray:
    """How much a trained model relies on each channel: occlude one channel at a time.

    Each channel's features are replaced by 0 (the mean of standardized features) in every trial,
    the others left as they are, and the model is evaluated (eval mode, in order, under
    :func:`torch.inference_mode`). The model's parameters and its train/eval mode are left as
    they were.

    Parameters
    ----------
    model : torch.nn.Module
        Maps a float32 batch (B, n_channels, n_features) to one logit per trial (B,).
    x : ndarray or torch.Tensor, shape (n_trials, n_channels, n_features)
        Test inputs, e.g. (n_test, 32, 99).
    y : array-like of {0, 1}, shape (n_trials,)
        Test labels.
    batch_size : int
        Trials evaluated at once.
    metric : {"accuracy", "loss"}
        ``"accuracy"``: intact accuracy minus occluded accuracy (prediction = logit >= 0).
        ``"loss"``: occluded mean BCE-with-logits loss minus intact loss.

    Returns
    -------
    importance : ndarray of float64, shape (n_channels,)
        Positive where occluding the channel hurts; 0 for a channel the model ignores.
    """
    import torch
    import torch.nn.functional as F

    if metric not in OCCLUSION_METRICS:
        raise ValueError(f"metric must be one of {OCCLUSION_METRICS}, got {metric!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, Integral) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    device = _model_device(model)
    x = torch.as_tensor(x, dtype=torch.float32, device=device)
    if x.ndim != 3 or len(x) == 0:
        raise ValueError(f"x must have shape (n_trials, n_channels, n_features), n_trials >= 1, got {tuple(x.shape)}")
    y_np = np.asarray(y.cpu() if isinstance(y, torch.Tensor) else y)
    if y_np.shape != (len(x),) or not np.isin(y_np, (0, 1)).all():
        raise ValueError(f"y must hold 0/1 labels with shape ({len(x)},), got shape {y_np.shape}")
    y_t = torch.as_tensor(y_np, dtype=torch.float32, device=x.device)
    n_channels = x.shape[1]

    def score(logits, target):
        # Sums over a batch; divided by n at the end.
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
                xb, yb = x[start : start + batch_size], y_t[start : start + batch_size]
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
