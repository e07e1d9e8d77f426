"""Reduction of raw EEG channels to the report's 99 statistics, and its standardizations.

Each channel of ``n_samples`` samples becomes 99 numbers (the report's preparation, step 2; the book's data chapter): the channel
is cut into 10 consecutive windows, nine of ``window`` samples and a last one holding the rest;
each window gives nine statistics (:data:`STAT_NAMES`, in that order), window ``w`` filling columns
``9 * w`` to ``9 * w + 8``; the same nine statistics over the whole channel fill columns 90-98.
For DEAP's 8064 samples the windows are nine of 807 samples and a last one of 801.

The computation is vectorized over trials and channels and processed in chunks, on a pool of
threads (numpy releases the GIL), so that all of DEAP (1280 trials x 32 channels x 8064 samples)
takes a few seconds and little extra memory. Medians, the costly part, are selected among the
few samples near each channel's window middles, found by counting in one pass over the samples,
and are exact. The result equals the plain per-channel loop (``np.median``, ``np.std``,
``scipy.stats.skew`` ... on each window) to about 1e-12 relative; ``tests/test_features.py``
holds that loop and checks it.

Only numpy is needed; ``tqdm`` is imported when a progress bar is asked for.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

#: The nine statistics of every window, in column order.
STAT_NAMES = ("mean", "median", "max", "min", "std", "var", "range", "skew", "kurtosis")
#: Number of consecutive windows each channel is cut into.
N_WINDOWS = 10
#: Columns per channel: nine statistics for each of the 10 windows and for the whole channel.
N_FEATURES = (N_WINDOWS + 1) * len(STAT_NAMES)
#: Window length the report uses for one DEAP trial.
DEAP_WINDOW = 807
#: Samples per DEAP channel (63 s at 128 Hz).
DEAP_SAMPLES = 8064
#: Standardization methods of :func:`extract_features`; the first is the report's code.
STANDARDIZATIONS = ("trial", "report-prose", "none")

_N_STATS = len(STAT_NAMES)
#: Samples per chunk when ``chunk_trials`` is None: about 4 DEAP trials (4 MB of float32), so
#: that one participant's 40 trials make 10 chunks to share between threads.
_CHUNK_SAMPLES = 2**20
#: Most threads used by default, a cap for large machines: each thread holds one chunk and a few
#: MB of working arrays (on 2 CPUs, 3 or 4 threads were no faster than 2).
_MAX_THREADS = 8
#: Samples per call of the kernel: 64 DEAP channels, so that its many small numpy calls (which
#: hold the GIL) are few per sample: measured on a 2-core AMD EPYC, 64 rows beat 16, 32 and 128
#: with 2 threads.
_BLOCK_SAMPLES = 2**19
#: Rows whose moments are computed at once: their float64 working arrays (about 2 MB for 16 DEAP
#: channels) then stay in cache.
_MOMENT_ROWS = 16


def feature_names() -> list[str]:
    """Names of the 99 feature columns, in column order.

    Returns
    -------
    names : list of str, length 99
        ``"w0_mean", "w0_median", ..., "w9_kurtosis"`` for the windows, then ``"all_mean", ...,
        "all_kurtosis"`` for the whole channel.
    """
    prefixes = [f"w{w}" for w in range(N_WINDOWS)] + ["all"]
    return [f"{prefix}_{stat}" for prefix in prefixes for stat in STAT_NAMES]


def default_window(n_samples: int) -> int:
    """Window length used when ``window=None``.

    Parameters
    ----------
    n_samples : int
        Samples per channel.

    Returns
    -------
    window : int
        ``807 * (n_samples // 8064)`` when ``n_samples`` is a positive multiple of 8064 (807 for
        DEAP, 1614 for the 2 x 8064 samples of a MAHNOB-HCI recording), else
        ``ceil(n_samples / 10)``.
    """
    if n_samples > 0 and n_samples % DEAP_SAMPLES == 0:
        return DEAP_WINDOW * (n_samples // DEAP_SAMPLES)
    return math.ceil(n_samples / N_WINDOWS)


def _check_window(window: int | None, n_samples: int) -> int:
    if window is None:
        window = default_window(n_samples)
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)):
        raise TypeError(f"window must be an int or None, got {window!r}")
    window = int(window)
    if window < 1 or (N_WINDOWS - 1) * window >= n_samples:
        raise ValueError(
            f"window={window} does not fit a channel of {n_samples} samples: the last of the "
            f"{N_WINDOWS} windows must be non-empty, so 1 <= window and "
            f"{N_WINDOWS - 1} * window < n_samples; pass a smaller window"
        )
    return window


def default_threads() -> int:
    """Threads used when ``n_threads=None``: the CPUs this process may run on, at most 8."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        n = os.cpu_count() or 1
    return max(1, min(n, _MAX_THREADS))


def _check_threads(n_threads: int | None) -> int:
    if n_threads is None:
        return default_threads()
    if isinstance(n_threads, bool) or not isinstance(n_threads, (int, np.integer)) or n_threads < 1:
        raise ValueError(f"n_threads must be a positive int or None, got {n_threads!r}")
    return int(n_threads)


def _with_progress(items: Iterable, total: int, progress: bool, desc: str) -> Iterable:
    if not progress:
        return items
    from tqdm import tqdm  # plain tqdm: tqdm.auto warns in kernels without ipywidgets

    return tqdm(items, total=total, desc=desc, unit="chunk")


def _median(part: np.ndarray) -> np.ndarray:
    """The fallback of :func:`_medians`: ``np.median`` along the last axis, in float64."""
    return np.median(part.astype(np.float64), axis=-1)


#: Half-width, in standard deviations, of the range where a window's median is looked for first
#: (around Pearson's estimate mean - skew * std / 6): about 8 % of a normal window's samples.
#: Each channel is searched in the union of its windows' ranges, which then holds their medians
#: and so its own; on EEG-like data the median lies outside for fewer than 1 in 1000 windows,
#: which are then partitioned whole.
_MEDIAN_HALF_WIDTH = 0.1


def _count(mask: np.ndarray, starts) -> np.ndarray:
    """True values of ``mask`` (r, n) in each window starting at ``starts``, as int64, shape
    (r, len(starts)) (summing bytes is several times faster than ``np.count_nonzero``)."""
    dtype = np.uint16 if mask.shape[-1] < 2**16 else np.int64
    return np.add.reduceat(mask.view(np.uint8), starts, axis=-1, dtype=dtype).astype(np.int64)


def _sorted_runs(values: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Run ``i`` of ``values`` (consecutive runs of ``counts[i]``) sorted in row ``i``, then the
    dtype's largest value; and where the runs' values are. Measured with numpy 2.4 on AVX-512,
    sorting rows is faster than partitioning them, several times so up to 512 float32 or 256
    float64 values a row (sorting networks), as in the windows' runs."""
    width = max(int(counts.max(initial=0)), 1)
    valid = np.arange(width) < counts[:, None]
    high = np.inf if np.issubdtype(values.dtype, np.floating) else np.iinfo(values.dtype).max
    runs = np.full((counts.size, width), high, dtype=values.dtype)
    runs[valid] = values
    runs.sort(axis=-1)
    return runs, valid


def _middles(runs, counts, below, size, skip) -> tuple[np.ndarray, np.ndarray]:
    """Medians of groups of ``size`` samples, ``below`` of them below the candidates, whose
    ``counts`` candidates are the sorted rows of ``runs``; nan where the counts do not place the
    middle samples among them (or ``skip``), and where they do."""
    upper, lower = size // 2 - below, (size - 1) // 2 - below  # ranks among the candidates
    ok = (lower >= 0) & (upper < counts) & ~skip
    i = np.arange(runs.shape[0])
    top, bottom = (runs[i, np.where(ok, rank, 0)].astype(np.float64) for rank in (upper, lower))
    return np.where(ok, np.where(upper == lower, top, (bottom + top) / 2), np.nan), ok


def _medians(rows: np.ndarray, window: int, lo: np.ndarray, hi: np.ndarray, skip: np.ndarray) -> np.ndarray:
    """Medians of the ten windows and of the whole of each row, selected among its samples in ``[lo, hi]``.

    One pass over the samples: those in a row's range, and the counts below it per window, give
    the ranks of every window's middle samples among those candidates. The row's middle lies
    between its windows' smallest and largest medians: its rank among the candidates there
    follows from the same counts. The counts prove the ranks, so any bounds give the exact
    median: a window (or row) whose middle they do not place among its candidates is partitioned
    whole. The result equals ``np.median``'s to the bit; only the time depends on the bounds.

    Parameters
    ----------
    rows : ndarray, shape (r, n), C-contiguous
        Samples, not modified; window ``w < 9`` is ``rows[:, w * window : (w + 1) * window]``,
        the tenth holds the rest.
    window : int
    lo, hi : ndarray of float64, shape (r,)
        Bounds of the range looked in, per row.
    skip : ndarray of bool, shape (r, 11)
        Windows (then the whole row) holding a nan: their median is nan.

    Returns
    -------
    median : ndarray of float64, shape (r, 11)
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
    # The whole row's middle lies between its windows' smallest and largest medians, and nearly
    # always between the third and the eighth (half as many candidates, so that a row's fit the
    # sorting networks): looked for there first, among the candidates counted in the runs.
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


def _fill(out: np.ndarray, mean, median, vmax, vmin, m2, m3, m4) -> None:
    """Write the nine statistics into ``out[..., 0:9]`` from central moments ``m2, m3, m4``."""
    out[..., 0] = mean
    out[..., 1] = median
    out[..., 2] = vmax
    out[..., 3] = vmin
    out[..., 4] = np.sqrt(m2)
    out[..., 5] = m2
    out[..., 6] = vmax - vmin
    with np.errstate(divide="ignore", invalid="ignore"):
        # scipy.stats.skew/kurtosis return nan where the variance is zero to within rounding of
        # the mean (m2 <= (eps * mean)**2), e.g. for a constant window; so do we.
        flat = m2 <= (np.finfo(np.float64).eps * mean) ** 2
        out[..., 7] = np.where(flat, np.nan, m3 / m2**1.5)
        out[..., 8] = np.where(flat, np.nan, m4 / m2**2 - 3.0)


def _reduce_rows(rows: np.ndarray, window: int, out: np.ndarray) -> None:
    """Kernel: the 99 statistics of every row of ``rows`` (r, n_samples) into ``out`` (r, 99)."""
    rows = np.ascontiguousarray(rows)  # a no-op for the rows of a chunk
    r, n = rows.shape
    head = (N_WINDOWS - 1) * window
    # Per row, one column per window and a last one for the whole channel.
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
        # The moments a few rows at a time, so that the float64 working arrays stay in cache.
        for sub in (slice(i, i + _MOMENT_ROWS) for i in range(0, r, _MOMENT_ROWS)):
            block = rows[sub, start:stop].reshape(-1, k, m)
            # Sums and centred values are computed in float64 straight from the input dtype (no
            # float64 copy of the input); vecdot is faster than a (pairwise) sum of d * d.
            sums[sub, cols] = s = np.add.reduce(block, axis=-1, dtype=np.float64)
            d = np.subtract(block, (s / m)[..., None], dtype=float)
            d2 = d * d
            c2[sub, cols] = np.vecdot(d, d)
            c3[sub, cols] = np.vecdot(d2, d)
            c4[sub, cols] = np.vecdot(d2, d2)

    # Whole channel. Sum, max and min combine exactly from the windows. Its central moments
    # follow from each window's central moments and the shift delta = window mean - channel
    # mean (the exact pairwise update of Chan, Golub & LeVeque; Pebay): no raw power sums, so
    # no cancellation, and no second pass over the samples.
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
    # Each window's median is looked for near Pearson's estimate mean - skew * std / 6, where
    # skew * std = c3 / c2 (a constant window at its mean), the channel's in the union of its
    # windows' ranges (nan windows left out).
    with np.errstate(divide="ignore", invalid="ignore"):
        centre = mean[:, w] - np.where(c2[:, w] > 0, c3[:, w] / (6 * c2[:, w]), 0.0)
    half = _MEDIAN_HALF_WIDTH * np.sqrt(c2[:, w] / size)
    lo, hi = np.fmin.reduce(centre - half, axis=-1), np.fmax.reduce(centre + half, axis=-1)
    median = _medians(rows, window, lo, hi, np.isnan(vmax))
    out3 = out.reshape(r, N_WINDOWS + 1, _N_STATS)
    _fill(out3, mean, median, vmax, vmin, c2 / counts, c3 / counts, c4 / counts)


def _check_real(x: np.ndarray, name: str) -> None:
    if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
        raise TypeError(f"{name} must hold real numbers, got dtype {x.dtype}")


def _reduce(x: np.ndarray, *, transform: Callable[[np.ndarray], np.ndarray] | None = None, window: int | None = None,
            chunk_trials: int | None = None, progress: bool = False, n_threads: int | None = None) -> np.ndarray:
    """:func:`reduce_dim`, with ``transform`` applied to each chunk of trials first (for "report-prose")."""
    x = np.asarray(x)
    _check_real(x, "x")
    if x.ndim == 0:
        raise ValueError("x must have at least one axis (samples)")
    n = x.shape[-1]
    window = _check_window(window, n)
    stack = x[None] if x.ndim == 1 else x  # chunks run along the first axis
    per_entry = math.prod(stack.shape[1:])  # samples in one entry of the first axis
    if chunk_trials is None:
        chunk_trials = max(1, _CHUNK_SAMPLES // max(per_entry, 1))
    elif (
        isinstance(chunk_trials, bool)
        or not isinstance(chunk_trials, (int, np.integer))
        or chunk_trials < 1
    ):
        raise ValueError(f"chunk_trials must be a positive int or None, got {chunk_trials!r}")
    n_threads = _check_threads(n_threads)
    out = np.empty(stack.shape[:-1] + (N_FEATURES,))
    step = max(1, _BLOCK_SAMPLES // n)  # rows per kernel call
    local = threading.local()  # a copy buffer per thread, reused by all the chunks it reduces

    def reduce_chunk(sl: slice) -> None:
        chunk = stack[sl] if transform is None else transform(stack[sl])
        if not chunk.flags.c_contiguous:  # e.g. EEG channels sliced out of DEAP's 40
            # Copied into this thread's buffer: a fresh copy per chunk costs more in page faults
            # than in copying.
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

    # The chunks do not depend on the number of threads and each row's statistics do not depend
    # on the other rows, so any n_threads gives the same bits. Each thread holds one chunk.
    size = int(chunk_trials)
    chunks = [slice(start, min(start + size, stack.shape[0])) for start in range(0, stack.shape[0], size)]
    n_threads = min(n_threads, len(chunks))
    if n_threads <= 1:
        for sl in _with_progress(chunks, len(chunks), progress, "reducing"):
            reduce_chunk(sl)
    else:
        with ThreadPoolExecutor(n_threads, thread_name_prefix="reduce") as pool:
            for _ in _with_progress(pool.map(reduce_chunk, chunks), len(chunks), progress, "reducing"):
                pass
    return out[0] if x.ndim == 1 else out


def reduce_dim(
    x: np.ndarray,
    *,
    window: int | None = None,
    chunk_trials: int | None = None,
    progress: bool = False,
    n_threads: int | None = None,
) -> np.ndarray:
    """Reduce every channel to the report's 99 window statistics.

    Parameters
    ----------
    x : ndarray, shape (..., n_samples)
        Signals, e.g. (n_trials, n_channels, n_samples) raw EEG; float32 or float64 (any real
        dtype is accepted). The statistics are computed in float64 whatever the input dtype.
    window : int or None, optional
        Length of each of the first nine windows; the tenth holds the remaining
        ``n_samples - 9 * window`` samples. None (default) gives 807 for 8064 samples,
        ``807 * k`` for ``k * 8064`` samples, else ``ceil(n_samples / 10)``
        (see :func:`default_window`).
    chunk_trials : int or None, optional
        Entries along the first axis of ``x`` (trials, for 3-D input) processed at once; it
        is the step of the progress bar and, where ``x`` is not contiguous, the size of the
        copies made (one chunk per thread at a time). The kernel itself works on 64 channels
        at a time whatever the chunk, so the extra memory stays a few MB per thread. None
        (default) picks about 1 million samples per chunk (4 DEAP trials). A 1-D ``x`` is one
        chunk. The result does not depend on it.
    progress : bool, optional
        Show a ``tqdm`` progress bar over the chunks.
    n_threads : int or None, optional
        Threads that reduce chunks side by side (numpy releases the GIL); None (default) uses
        :func:`default_threads` (the CPUs available, at most 8). The result does not depend on
        it, to the bit.

    Returns
    -------
    features : ndarray of float64, shape (..., 99)
        Column ``9 * w + j`` holds statistic ``STAT_NAMES[j]`` of window ``w`` (w = 0..9);
        columns 90-98 the same statistics over the whole channel (see :func:`feature_names`).
        The statistics: mean, median (mean of the two middle values for an even length),
        max, min, std (population, ddof=0), var (ddof=0), range (max - min), skewness (biased
        Fisher-Pearson, as ``scipy.stats.skew``) and excess kurtosis (biased, as
        ``scipy.stats.kurtosis``).

    Raises
    ------
    ValueError
        If ``window`` leaves the last window empty (``9 * window >= n_samples``) or is < 1, or
        if ``chunk_trials`` or ``n_threads`` is not a positive int.

    Notes
    -----
    Where a window (or channel) is constant, or its variance is zero to within rounding of its
    mean, skewness and kurtosis are nan, as ``scipy.stats.skew`` and ``scipy.stats.kurtosis``
    return by default (std and var are then 0). A nan sample makes every statistic of its
    window and of its channel nan, as the numpy and scipy functions do.

    Equal to the per-window ``np.mean, np.median, np.max, np.min, np.std, np.var,
    scipy.stats.skew, scipy.stats.kurtosis`` to about 1e-12 relative; the central moments are
    accumulated about each window's exact mean, and the whole channel's are combined from the
    windows' with the exact pairwise update (Chan, Golub & LeVeque 1979; Pebay 2008).

    Examples
    --------
    >>> x = np.random.default_rng(0).standard_normal((2, 32, 8064), dtype=np.float32)
    >>> reduce_dim(x).shape
    (2, 32, 99)
    """
    return _reduce(x, window=window, chunk_trials=chunk_trials, progress=progress, n_threads=n_threads)


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
    """Standardize each trial by its own global mean and std (over its last two axes).

    Used twice by the report: on each reduced (n_channels, 99) map (its code; the ``"trial"``
    method of :func:`extract_features`), and on each raw trial before the reduction (the first
    step of its prose, ``"report-prose"``).

    Parameters
    ----------
    x : ndarray, shape (..., n_channels, n)
        E.g. reduced features (n_trials, 32, 99) or raw EEG (n_trials, 32, 8064).

    Returns
    -------
    z : ndarray, shape (..., n_channels, n)
        ``(x - mean) / std`` with mean and population std (ddof=0) over the last two axes of each
        trial, computed in float64. Floating input keeps its dtype (float32 stays float32), other
        input gives float64. Where std is 0 (a constant trial) it is divided by 1, giving zeros
        instead of nan. A nan anywhere in a trial makes the whole trial nan.

    Notes
    -----
    ``np.std`` holds a float64 copy of the input while it runs: for all of DEAP's raw EEG at once
    that is 2.6 GB. :func:`extract_features` applies it to raw EEG one chunk of trials at a time.
    """
    x = np.asarray(x)
    if x.ndim < 2:
        raise ValueError(f"x must have shape (..., n_channels, n), got {x.shape}")
    return _standardize(x, (-2, -1))


def standardize_rows(f: np.ndarray) -> np.ndarray:
    """Standardize each row (last axis) by its own mean and std.

    The per-channel step of the report's prose.

    Parameters
    ----------
    f : ndarray, shape (..., n_features)
        E.g. (n_trials, 32, 99) features: each channel's 99 numbers are standardized.

    Returns
    -------
    z : ndarray, shape (..., n_features)
        ``(f - mean) / std`` along the last axis (population std, ddof=0), computed in float64;
        floating input keeps its dtype, other input gives float64. Where std is 0 the row is
        divided by 1 (giving zeros) instead of producing nan.
    """
    return _standardize(f, -1)


def extract_features(x: np.ndarray, *, standardization: str = "trial", **reduce_options) -> np.ndarray:
    """Raw EEG trials to standardized (n_channels, 99) feature maps.

    Parameters
    ----------
    x : ndarray, shape (n_trials, n_channels, n_samples)
        Raw EEG (the 32 EEG channels of DEAP: ``data[:, :32]``); float32 or float64. A single
        trial of shape (n_channels, n_samples) is accepted too.
    standardization : {"trial", "report-prose", "none"}, optional
        ``"trial"`` (default, the report's code): :func:`reduce_dim`, then
        :func:`standardize_trials`. ``"report-prose"`` (the three steps the report's prose
        describes): :func:`standardize_trials`, :func:`reduce_dim`, :func:`standardize_rows`, then
        :func:`standardize_trials`. ``"none"``: :func:`reduce_dim` only.
    **reduce_options
        ``window``, ``chunk_trials``, ``progress``, ``n_threads``: as :func:`reduce_dim`. With
        ``"report-prose"``, ``chunk_trials`` also bounds the memory of the raw standardization,
        which is applied one chunk of trials at a time.

    Returns
    -------
    features : ndarray of float64, shape (n_trials, n_channels, 99)

    Raises
    ------
    ValueError
        For an unknown ``standardization``, an input with fewer than two axes, or a ``window``
        that does not fit (see :func:`reduce_dim`).
    """
    if standardization not in STANDARDIZATIONS:
        raise ValueError(f"standardization must be one of {STANDARDIZATIONS}, got {standardization!r}")
    x = np.asarray(x)
    if x.ndim < 2:
        raise ValueError(f"x must have shape (n_trials, n_channels, n_samples), got {x.shape}")
    if standardization != "report-prose":
        return standardize_reduced(reduce_dim(x, **reduce_options), standardization)
    # report-prose. With 3-D input the chunks are whole trials, so standardizing chunk by chunk
    # is exact; a single 2-D trial is standardized at once.
    if x.ndim == 2:
        feats = reduce_dim(standardize_trials(x), **reduce_options)
    else:
        feats = _reduce(x, transform=standardize_trials, **reduce_options)
    return standardize_reduced(feats, standardization)


def standardize_reduced(reduced: np.ndarray, standardization: str) -> np.ndarray:
    """The steps of :func:`extract_features` that follow the reduction, same shape.

    ``"trial"``: :func:`standardize_trials`; ``"report-prose"``: :func:`standardize_rows`, then
    :func:`standardize_trials`; ``"none"``: unchanged.

    Parameters
    ----------
    reduced : ndarray, shape (n_trials, n_channels, 99)
        Output of :func:`reduce_dim` (for "report-prose", of the raw-standardized trials).
    standardization : {"trial", "report-prose", "none"}
    """
    if standardization == "trial":
        return standardize_trials(reduced)
    if standardization == "report-prose":
        return standardize_trials(standardize_rows(reduced))
    return reduced
