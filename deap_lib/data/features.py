"""Reduction of raw EEG channels to the report's 99 statistics, and its standardizations.

Each channel is cut into 10 windows, nine of ``window`` samples and a last one holding the rest
(807 and 801 for DEAP's 8064). The kernel is vectorized over channels and run on chunks of trials
by threads; medians are selected exactly among the samples near each window's middle. Equal to the
loop of ``tests/test_features.py`` to about 1e-12 relative, and to the bit whatever chunks and threads.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from tqdm import tqdm  # plain tqdm: tqdm.auto warns in kernels without ipywidgets

#: The nine statistics of every window, in column order.
STAT_NAMES = ("mean", "median", "max", "min", "std", "var", "range", "skew", "kurtosis")
N_WINDOWS = 10
N_FEATURES = (N_WINDOWS + 1) * len(STAT_NAMES)
DEAP_WINDOW = 807
DEAP_SAMPLES = 8064  # 63 s at 128 Hz
#: Standardization methods of :func:`extract_features`; the first is the report's code.
STANDARDIZATIONS = ("trial", "report-prose", "none")

_CHUNK_SAMPLES = 2**20  # default chunk: about 4 DEAP trials, so a participant makes 10 chunks
_MAX_THREADS = 8  # each thread holds one chunk and a few MB of working arrays
_BLOCK_SAMPLES = 2**19  # samples per kernel call (64 DEAP channels: few GIL-holding numpy calls)
_MOMENT_ROWS = 16  # rows whose float64 moment arrays are computed at once (they stay in cache)
#: Half-width, in standard deviations, of the range around Pearson's estimate of a window's median
#: where it is looked for first (a channel's: the union of its windows'); outside, it is partitioned.
_MEDIAN_HALF_WIDTH = 0.1


def feature_names() -> list[str]:
    """The 99 column names: ``"w0_mean", ..., "w9_kurtosis", "all_mean", ..., "all_kurtosis"``."""
    return [f"{prefix}_{stat}" for prefix in [f"w{w}" for w in range(N_WINDOWS)] + ["all"] for stat in STAT_NAMES]


def default_window(n_samples: int) -> int:
    """``807 * k`` for ``k * 8064`` samples (DEAP 807, MAHNOB-HCI 1614), else ``ceil(n_samples / 10)``."""
    if n_samples > 0 and n_samples % DEAP_SAMPLES == 0:
        return DEAP_WINDOW * (n_samples // DEAP_SAMPLES)
    return math.ceil(n_samples / N_WINDOWS)


def default_threads() -> int:
    """Threads used when ``n_threads=None``: the CPUs this process may run on, at most 8."""
    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(n, _MAX_THREADS))


def _positive(value, name: str, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive int or None, got {value!r}")
    return int(value)


def _check_real(x: np.ndarray, name: str) -> None:
    if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
        raise TypeError(f"{name} must hold real numbers, got dtype {x.dtype}")


def _median(part: np.ndarray) -> np.ndarray:
    """The fallback of :func:`_medians`: ``np.median`` along the last axis, in float64."""
    return np.median(part.astype(np.float64), axis=-1)


def _count(mask: np.ndarray, starts) -> np.ndarray:
    """True values of ``mask`` (r, n) in each window starting at ``starts``, int64 (r, len(starts));
    summing bytes is several times faster than ``np.count_nonzero``."""
    dtype = np.uint16 if mask.shape[-1] < 2**16 else np.int64
    return np.add.reduceat(mask.view(np.uint8), starts, axis=-1, dtype=dtype).astype(np.int64)


def _sorted_runs(values: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Run ``i`` of ``values`` (consecutive runs of ``counts[i]``) sorted in row ``i``, padded with
    the dtype's largest value, and where the runs' values are (sorting short rows beats partitioning)."""
    width = max(int(counts.max(initial=0)), 1)
    valid = np.arange(width) < counts[:, None]
    high = np.inf if np.issubdtype(values.dtype, np.floating) else np.iinfo(values.dtype).max
    runs = np.full((counts.size, width), high, dtype=values.dtype)
    runs[valid] = values
    runs.sort(axis=-1)
    return runs, valid


def _middles(runs, counts, below, size, skip) -> tuple[np.ndarray, np.ndarray]:
    """Medians of groups of ``size`` samples, ``below`` of them below their ``counts`` candidates (the
    sorted rows of ``runs``), nan where the middle is not among the candidates (or ``skip``); and where it is."""
    upper, lower = size // 2 - below, (size - 1) // 2 - below  # ranks among the candidates
    ok = (lower >= 0) & (upper < counts) & ~skip
    i = np.arange(runs.shape[0])
    top, bottom = (runs[i, np.where(ok, rank, 0)].astype(np.float64) for rank in (upper, lower))
    return np.where(ok, np.where(upper == lower, top, (bottom + top) / 2), np.nan), ok


def _medians(rows: np.ndarray, window: int, lo: np.ndarray, hi: np.ndarray, skip: np.ndarray) -> np.ndarray:
    """Medians (r, 11) of the ten windows and the whole of each row of ``rows`` (r, n), C-contiguous.

    The samples below each row's range ``[lo, hi]`` and in it, counted per window, rank the middle
    samples among those candidates; a window (or row) whose middle they do not place there is
    partitioned whole, so any bounds give ``np.median``'s bits. ``skip`` (r, 11): nan windows.
    """
    r, n = rows.shape
    starts = np.arange(N_WINDOWS) * window
    sizes = np.diff(starts, append=n)
    if np.issubdtype(rows.dtype, np.floating):  # compared in the samples' dtype: several times faster
        lo, hi = lo.astype(rows.dtype), hi.astype(rows.dtype)
    inside = rows >= lo[:, None]
    below = sizes - _count(inside, starts)  # (r, 10)
    np.logical_and(inside, rows <= hi[:, None], out=inside)
    count = _count(inside, starts)
    # Row by row, window by window (np.compress is several times faster than rows[inside]).
    runs, valid = _sorted_runs(np.compress(inside.reshape(-1), rows), count.reshape(-1))
    median = np.empty((r, N_WINDOWS + 1))
    windows, ok = _middles(runs, count.reshape(-1), below.reshape(-1), np.tile(sizes, r), skip[:, :-1].reshape(-1))
    median[:, :-1] = windows.reshape(r, N_WINDOWS)
    rest = ~ok.reshape(r, N_WINDOWS) & ~skip[:, :-1]
    for j in np.flatnonzero(rest.any(axis=0)):
        median[rest[:, j], j] = _median(rows[rest[:, j], starts[j] : starts[j] + sizes[j]])
    # The whole row's middle: looked for between its third and eighth window medians first (nearly
    # always there, half the candidates), then between the extremes, among the runs' candidates.
    order = np.sort(median[:, :-1], axis=-1)
    runs, valid = runs.reshape(r, -1), valid.reshape(r, -1)  # a row's ten runs side by side
    below, median[:, -1], todo = below.sum(axis=-1), np.nan, ~skip[:, -1]
    for first, last in ((2, 7), (0, N_WINDOWS - 1)):
        at = np.flatnonzero(todo)
        if not at.size:
            break
        some = runs[at]
        a, b = np.maximum(lo[at], order[at, first])[:, None], np.minimum(hi[at], order[at, last])[:, None]
        inside = (some >= a) & (some <= b) & valid[at]
        count = _count(inside, [0])[:, 0]
        middle, ok = _middles(_sorted_runs(np.compress(inside.reshape(-1), some), count)[0], count,
                              below[at] + _count(some < a, [0])[:, 0], n, np.zeros(at.size, dtype=bool))
        median[at[ok], -1], todo[at[ok]] = middle[ok], False
    if todo.any():
        median[todo, -1] = _median(rows[todo])
    return median


def _reduce_rows(rows: np.ndarray, window: int, out: np.ndarray) -> None:
    """Kernel: the 99 statistics of every row of ``rows`` (r, n_samples) into ``out`` (r, 99)."""
    rows = np.ascontiguousarray(rows)  # a no-op for the rows of a chunk
    r, n = rows.shape
    head = (N_WINDOWS - 1) * window
    # Per row, a column per window and a last one for the whole channel.
    counts = np.array([window] * (N_WINDOWS - 1) + [n - head, n], dtype=np.float64)  # (11,)
    sums, vmax, vmin, c2, c3, c4 = np.empty((6, r, N_WINDOWS + 1))  # c2: sum of d**2 ...
    starts = np.arange(N_WINDOWS) * window
    w = slice(0, N_WINDOWS)
    vmax[:, w] = np.maximum.reduceat(rows, starts, axis=-1)
    vmin[:, w] = np.minimum.reduceat(rows, starts, axis=-1)

    # Nine equal windows as one (r, 9, window) block, then the last window as an (r, 1, m) block.
    for first, k, start, stop in ((0, N_WINDOWS - 1, 0, head), (N_WINDOWS - 1, 1, head, n)):
        cols = slice(first, first + k)
        m = (stop - start) // k
        for sub in (slice(i, i + _MOMENT_ROWS) for i in range(0, r, _MOMENT_ROWS)):
            block = rows[sub, start:stop].reshape(-1, k, m)
            # float64 straight from the input dtype (no float64 copy); vecdot beats a sum of d * d
            sums[sub, cols] = s = np.add.reduce(block, axis=-1, dtype=np.float64)
            d = np.subtract(block, (s / m)[..., None], dtype=float)
            d2 = d * d
            c2[sub, cols] = np.vecdot(d, d)
            c3[sub, cols] = np.vecdot(d2, d)
            c4[sub, cols] = np.vecdot(d2, d2)

    # Whole channel from the windows: central moments by the exact pairwise update (Chan, Golub &
    # LeVeque; Pebay) with delta = window mean - channel mean: no power sums, no second pass.
    sums[:, N_WINDOWS] = sums[:, w].sum(axis=-1)
    mean = sums / counts
    delta = mean[:, w] - mean[:, N_WINDOWS : N_WINDOWS + 1]
    delta2 = delta * delta
    size = counts[w]
    c2w, c3w, c4w = c2[:, w], c3[:, w], c4[:, w]
    c4[:, N_WINDOWS] = (c4w + 4 * delta * c3w + 6 * delta2 * c2w + size * delta2 * delta2).sum(axis=-1)
    c3[:, N_WINDOWS] = (c3w + 3 * delta * c2w + size * delta2 * delta).sum(axis=-1)
    c2[:, N_WINDOWS] = (c2w + size * delta2).sum(axis=-1)
    vmax[:, N_WINDOWS] = vmax[:, w].max(axis=-1)
    vmin[:, N_WINDOWS] = vmin[:, w].min(axis=-1)
    # Medians near Pearson's estimate mean - skew * std / 6 (skew * std = c3 / c2; a constant's: its mean).
    with np.errstate(divide="ignore", invalid="ignore"):
        centre = mean[:, w] - np.where(c2[:, w] > 0, c3[:, w] / (6 * c2[:, w]), 0.0)
    half = _MEDIAN_HALF_WIDTH * np.sqrt(c2[:, w] / size)
    lo, hi = np.fmin.reduce(centre - half, axis=-1), np.fmax.reduce(centre + half, axis=-1)
    median = _medians(rows, window, lo, hi, np.isnan(vmax))
    out3 = out.reshape(r, N_WINDOWS + 1, len(STAT_NAMES))
    m2, m3, m4 = c2 / counts, c3 / counts, c4 / counts
    out3[..., 0], out3[..., 1], out3[..., 2], out3[..., 3] = mean, median, vmax, vmin
    out3[..., 4], out3[..., 5], out3[..., 6] = np.sqrt(m2), m2, vmax - vmin
    with np.errstate(divide="ignore", invalid="ignore"):
        # nan where the variance is zero to within rounding of the mean, as scipy.stats gives
        flat = m2 <= (np.finfo(np.float64).eps * mean) ** 2
        out3[..., 7] = np.where(flat, np.nan, m3 / m2**1.5)
        out3[..., 8] = np.where(flat, np.nan, m4 / m2**2 - 3.0)


def reduce_dim(x: np.ndarray, *, window: int | None = None, chunk_trials: int | None = None, progress: bool = False,
               n_threads: int | None = None, transform: Callable[[np.ndarray], np.ndarray] | None = None) -> np.ndarray:
    """The 99 statistics (..., 99), float64, of every channel of ``x`` (..., n_samples), any real dtype.

    ``window``: the first nine windows' length (None: :func:`default_window`); the tenth must not be
    empty. ``chunk_trials``: entries of the first axis reduced at once (None: about 1 million
    samples). ``n_threads``: None: :func:`default_threads`. ``progress``: a tqdm bar over the chunks.
    ``transform``: applied to each chunk first (the raw standardization of "report-prose").
    Column ``9 * w + j`` holds ``STAT_NAMES[j]`` of window ``w``: mean, median, max, min, std and var
    (ddof=0), range, skewness and excess kurtosis (biased, as ``scipy.stats``; nan where the variance
    is zero to within rounding of the mean). A nan sample makes its window's and channel's nan.
    """
    x = np.asarray(x)
    _check_real(x, "x")
    if x.ndim == 0:
        raise ValueError("x must have at least one axis (samples)")
    n = x.shape[-1]
    window = default_window(n) if window is None else window
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)):
        raise TypeError(f"window must be an int or None, got {window!r}")
    window = int(window)
    if window < 1 or (N_WINDOWS - 1) * window >= n:
        raise ValueError(f"window={window} does not fit a channel of {n} samples: the last of the {N_WINDOWS} "
                         f"windows must be non-empty, so 1 <= window and {N_WINDOWS - 1} * window < n_samples; "
                         "pass a smaller window")
    stack = x[None] if x.ndim == 1 else x  # chunks run along the first axis
    size = _positive(chunk_trials, "chunk_trials", max(1, _CHUNK_SAMPLES // max(math.prod(stack.shape[1:]), 1)))
    n_threads = _positive(n_threads, "n_threads", default_threads())
    out = np.empty(stack.shape[:-1] + (N_FEATURES,))
    step = max(1, _BLOCK_SAMPLES // n)  # rows per kernel call
    local = threading.local()  # a copy buffer per thread, reused by all the chunks it reduces

    def reduce_chunk(sl: slice) -> None:
        chunk = stack[sl] if transform is None else transform(stack[sl])
        if not chunk.flags.c_contiguous:  # e.g. DEAP's EEG channels: copied into this thread's buffer
            buf = getattr(local, "chunk", None)
            if buf is None or buf.size < chunk.size or buf.dtype != chunk.dtype:
                buf = local.chunk = np.empty(chunk.size, dtype=chunk.dtype)
            view = buf[: chunk.size].reshape(chunk.shape)
            np.copyto(view, chunk)
            chunk = view
        rows = chunk.reshape(-1, n)
        rows_out = out[sl].reshape(-1, N_FEATURES)
        for start in range(0, rows.shape[0], step):
            _reduce_rows(rows[start : start + step], window, rows_out[start : start + step])

    # Each row's statistics depend on that row alone: any chunks and threads give the same bits.
    chunks = [slice(start, min(start + size, stack.shape[0])) for start in range(0, stack.shape[0], size)]
    n_threads = min(n_threads, len(chunks))
    with ThreadPoolExecutor(max(n_threads, 1), thread_name_prefix="reduce") as pool:
        done = (map if n_threads <= 1 else pool.map)(reduce_chunk, chunks)
        for _ in tqdm(done, total=len(chunks), desc="reducing", unit="chunk", disable=not progress):
            pass
    return out[0] if x.ndim == 1 else out


def _standardize(a: np.ndarray, axis: int | tuple[int, ...]) -> np.ndarray:
    a = np.asarray(a)
    _check_real(a, "the input")
    dtype = a.dtype if np.issubdtype(a.dtype, np.floating) else np.dtype(np.float64)
    mean = np.mean(a, axis=axis, keepdims=True, dtype=np.float64)
    std = np.std(a, axis=axis, keepdims=True, dtype=np.float64)
    std[std == 0] = 1.0  # a constant block becomes zeros rather than nan
    out = np.subtract(a, mean, dtype=np.float64, out=np.empty(a.shape, dtype), casting="same_kind")
    return np.divide(out, std, out=out, casting="same_kind")


def standardize_trials(x: np.ndarray) -> np.ndarray:
    """``(x - mean) / std`` (ddof=0) over the last two axes of each trial (..., n_channels, n), in
    float64; floating input keeps its dtype. A constant trial gives zeros (std taken as 1)."""
    x = np.asarray(x)
    if x.ndim < 2:
        raise ValueError(f"x must have shape (..., n_channels, n), got {x.shape}")
    return _standardize(x, (-2, -1))


def standardize_rows(f: np.ndarray) -> np.ndarray:
    """``(f - mean) / std`` along the last axis (the prose's per-channel step), as :func:`standardize_trials`."""
    return _standardize(f, -1)


def extract_features(x: np.ndarray, *, standardization: str = "trial", **reduce_options) -> np.ndarray:
    """Raw EEG (n_trials, n_channels, n_samples), or one trial, to (..., n_channels, 99) float64 maps.

    "trial" (the report's code): :func:`reduce_dim`, :func:`standardize_trials`. "report-prose":
    :func:`standardize_trials` (a chunk of trials at a time), :func:`reduce_dim`, :func:`standardize_rows`,
    :func:`standardize_trials`. "none": :func:`reduce_dim`. ``reduce_options`` go to :func:`reduce_dim`.
    """
    if standardization not in STANDARDIZATIONS:
        raise ValueError(f"standardization must be one of {STANDARDIZATIONS}, got {standardization!r}")
    x = np.asarray(x)
    if x.ndim < 2:
        raise ValueError(f"x must have shape (n_trials, n_channels, n_samples), got {x.shape}")
    if standardization == "report-prose" and x.ndim > 2:  # chunks of whole trials: standardized exactly
        reduced = reduce_dim(x, transform=standardize_trials, **reduce_options)
    else:
        reduced = reduce_dim(standardize_trials(x) if standardization == "report-prose" else x, **reduce_options)
    return standardize_reduced(reduced, standardization)


def standardize_reduced(reduced: np.ndarray, standardization: str) -> np.ndarray:
    """What :func:`extract_features` does after the reduction: "trial": :func:`standardize_trials`;
    "report-prose": :func:`standardize_rows` then :func:`standardize_trials`; "none": nothing."""
    if standardization == "report-prose":
        reduced = standardize_rows(reduced)
    return reduced if standardization == "none" else standardize_trials(reduced)
