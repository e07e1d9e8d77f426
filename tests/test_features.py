"""Tests of deap_lib.data.features against a plain loop written from the report's description of the reduction (the book's data chapter).

``loop_reduce`` below is the reference ("oracle"): one channel at a time, one window at a time,
with the numpy/scipy function for each statistic. ``benchmarks/bench_reduce.py`` imports it from
here, so it exists once.
"""

import warnings

import numpy as np
import pytest
import scipy.stats

from deap_lib.data import features
from deap_lib.data.features import (
    N_FEATURES,
    STAT_NAMES,
    extract_features,
    feature_names,
    reduce_dim,
    standardize_trials,
    standardize_rows,
)

RTOL = 1e-9
# Statistics near 0 (a window's mean or skewness) are compared in absolute terms too: their
# rounding error scales with the data's spread, not with their own size.
ATOL = 1e-12


def _loop_stats(v):
    """The nine statistics of one 1-D window, in the report's order."""
    return [
        np.mean(v),
        np.median(v),
        np.max(v),
        np.min(v),
        np.std(v),  # population, ddof=0
        np.var(v),  # ddof=0
        np.max(v) - np.min(v),
        scipy.stats.skew(v),  # biased Fisher-Pearson
        scipy.stats.kurtosis(v),  # excess (Fisher), biased
    ]


def loop_reduce(x, window=807):
    """Reference: reduce (..., n_samples) to (..., 99), one channel and one window at a time.

    Nine windows of ``window`` samples and a last one with the rest, then the whole channel.
    Input is upcast to float64 first, so float32 input is compared on the same values.
    """
    x = np.asarray(x, dtype=np.float64)
    flat = x.reshape(-1, x.shape[-1])
    out = np.empty((flat.shape[0], 99))
    for i, channel in enumerate(flat):
        windows = [channel[w * window : (w + 1) * window] for w in range(9)] + [channel[9 * window :]]
        row = []
        for v in windows + [channel]:
            row.extend(_loop_stats(v))
        out[i] = row
    return out.reshape(x.shape[:-1] + (99,))


def _eeg(rng, shape, dtype=np.float64):
    """EEG-like test signal: a random walk (slow drift, like low frequencies) plus white noise,
    so windows differ in mean and spread and the whole-channel moments are not trivial."""
    drift = np.cumsum(rng.standard_normal(shape), axis=-1) * 0.05
    x = 10 * (drift + rng.standard_normal(shape) * rng.uniform(0.5, 2.0, shape[:-1] + (1,)))
    return x.astype(dtype)


@pytest.fixture
def rng():
    return np.random.default_rng(20240612)


def test_constants_and_names():
    names = feature_names()
    assert N_FEATURES == 99 == len(names) == len(set(names))
    assert names[:9] == [f"w0_{s}" for s in STAT_NAMES]
    assert names[9 * 9 + 8] == "w9_kurtosis"
    assert names[90:] == [f"all_{s}" for s in STAT_NAMES]
    assert STAT_NAMES == ("mean", "median", "max", "min", "std", "var", "range", "skew", "kurtosis")
    assert features.STANDARDIZATIONS[0] == "trial"


def test_default_window():
    assert features.default_window(8064) == 807
    assert features.default_window(2 * 8064) == 1614
    assert features.default_window(1000) == 100
    assert features.default_window(1001) == 101


def test_matches_loop_mahnob_length(rng):
    # 2 x 8064 samples: windows of 1614 (even: the median averages the two middle values),
    # a last window of 1602 and a whole channel of 16128 (even too).
    x = _eeg(rng, (2, 3, 2 * 8064))
    np.testing.assert_allclose(reduce_dim(x), loop_reduce(x, 1614), rtol=RTOL, atol=ATOL)


def test_matches_loop_float32(rng):
    x = _eeg(rng, (2, 4, 8064), dtype=np.float32)
    got = reduce_dim(x)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, loop_reduce(x.astype(np.float64), 807), rtol=RTOL, atol=ATOL)


def test_integer_input(rng):
    x = rng.integers(-200, 200, (2, 8064)).astype(np.int16)
    np.testing.assert_allclose(reduce_dim(x), loop_reduce(x, 807), rtol=RTOL, atol=1e-9)


def test_matches_loop_with_offset(rng):
    # A DC offset large against the spread: the moments must be taken about the exact mean.
    x = _eeg(rng, (2, 8064)) + 1e4
    np.testing.assert_allclose(reduce_dim(x), loop_reduce(x, 807), rtol=RTOL, atol=1e-9)


@pytest.mark.parametrize("shape", [(3, 5, 8064), (8064,), (2, 8064), (2, 1, 2, 8064), (0, 32, 8064)])
def test_leading_shapes(rng, shape):
    x = _eeg(rng, shape)
    got = reduce_dim(x)
    assert got.shape == shape[:-1] + (99,)
    np.testing.assert_allclose(got, loop_reduce(x, 807), rtol=RTOL, atol=ATOL)


def test_chunking_and_noncontiguous_input(rng, monkeypatch):
    # DEAP's EEG channels are a slice of its 40 channels: not contiguous.
    data = _eeg(rng, (3, 5, 8064), dtype=np.float32)
    eeg = data[:, :2]
    expected = loop_reduce(eeg, 807)
    # Kernel blocks of 3 channels, so that chunks of 2 trials (4 channels) span two blocks.
    monkeypatch.setattr(features, "_BLOCK_SAMPLES", 3 * 8064)
    for chunk_trials in (1, 2, 100, None):
        got = reduce_dim(eeg, chunk_trials=chunk_trials)
        np.testing.assert_allclose(got, expected, rtol=RTOL, atol=ATOL)


def test_explicit_and_odd_windows(rng):
    x = _eeg(rng, (2, 1000))
    np.testing.assert_allclose(reduce_dim(x), loop_reduce(x, 100), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(reduce_dim(x, window=110), loop_reduce(x, 110), rtol=RTOL, atol=ATOL)
    x = _eeg(rng, (2, 8065))  # not a multiple of 8064: ceil(8065 / 10) = 807, last window 802
    np.testing.assert_allclose(reduce_dim(x), loop_reduce(x, 807), rtol=RTOL, atol=ATOL)


def test_column_order():
    # Window 3 holds 1, 2, ..., 807 (window w fills columns 9w..9w+8); the rest is zeros.
    x = np.zeros(8064)
    x[3 * 807 : 4 * 807] = np.arange(1, 808)
    got = reduce_dim(x)
    w3 = got[27:36]
    expected = [404.0, 404.0, 807.0, 1.0, np.sqrt((807**2 - 1) / 12), (807**2 - 1) / 12, 806.0, 0.0]
    np.testing.assert_allclose(w3[:8], expected, rtol=1e-12, atol=1e-9)
    # Excess kurtosis of a discrete uniform on n points: -6 (n^2 + 1) / (5 (n^2 - 1)).
    np.testing.assert_allclose(w3[8], -6 * (807**2 + 1) / (5 * (807**2 - 1)), rtol=1e-12)
    # The other windows are constant zeros: zero spread, and skew/kurtosis nan as scipy gives.
    for w in (0, 1, 2, 4, 9):
        cols = got[9 * w : 9 * w + 9]
        np.testing.assert_array_equal(cols[:7], 0.0)
        assert np.isnan(cols[7]) and np.isnan(cols[8])
    # The whole channel: 807 * 808 / 2 over 8064 samples.
    assert got[90] == pytest.approx(807 * 808 / 2 / 8064, rel=1e-14)
    assert got[91] == 0.0 and got[92] == 807.0 and got[93] == 0.0 and got[96] == 807.0


def test_constant_windows_like_scipy():
    x = np.full((2, 8064), 3.0)
    x[1, :807] = np.linspace(-1, 1, 807)
    got = reduce_dim(x)
    with warnings.catch_warnings():  # scipy warns of precision loss on constant input
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = loop_reduce(x, 807)
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=ATOL)  # nan where scipy gives nan
    assert np.isnan(got[0, 7]) and np.isnan(got[0, 8]) and got[0, 4] == 0.0


def test_nan_propagates(rng):
    x = _eeg(rng, (8064,))
    x[5] = np.nan
    got = reduce_dim(x)
    assert np.isnan(got[:9]).all() and np.isnan(got[90:]).all()
    assert np.isfinite(got[9:90]).all()


@pytest.mark.parametrize("n, window", [(8064, 0), (8064, -3), (8064, 896), (8064, 1000), (81, None)])
def test_window_validation(n, window):
    # 81 samples: the default ceil(81 / 10) = 9 leaves nothing for the last window.
    with pytest.raises(ValueError, match="window"):
        reduce_dim(np.zeros((2, n)), window=window)


def test_bad_chunk_and_dtype():
    with pytest.raises(ValueError, match="chunk_trials"):
        reduce_dim(np.zeros((2, 8064)), chunk_trials=0)
    with pytest.raises(TypeError):
        reduce_dim(np.zeros((2, 8064), dtype=complex))


def test_progress_bar(rng, capsys):
    x = _eeg(rng, (3, 2, 8064))
    np.testing.assert_array_equal(reduce_dim(x, progress=True, chunk_trials=1), reduce_dim(x))
    assert "reducing" in capsys.readouterr().err


# ---------------------------------------------------------------- threads


def test_threads_give_identical_bits(rng):
    x = _eeg(rng, (12, 5, 8064))[:, :4]  # not contiguous, as DEAP's EEG slice
    x[2, 1, 100] = np.nan
    x[5, 3] = 7.0  # a constant channel: nan skewness and kurtosis
    one = reduce_dim(x, n_threads=1, chunk_trials=1)
    for n_threads in (2, 3, None):
        got = reduce_dim(x, n_threads=n_threads, chunk_trials=1)
        assert got.tobytes() == one.tobytes(), n_threads
    assert reduce_dim(x, n_threads=2).tobytes() == one.tobytes()  # default chunks too
    for method in ("trial", "report-prose"):
        a = extract_features(x.astype(np.float32), standardization=method, n_threads=1)
        b = extract_features(x.astype(np.float32), standardization=method, n_threads=2, chunk_trials=1)
        assert a.tobytes() == b.tobytes(), method


def test_thread_errors_reach_the_caller(rng):
    def broken(chunk):
        raise RuntimeError("transform failed")

    with pytest.raises(RuntimeError, match="transform failed"):
        reduce_dim(_eeg(rng, (4, 2, 8064)), chunk_trials=1, transform=broken, n_threads=2)


@pytest.mark.parametrize("n_threads", [0, -1, 1.5, True, "2"])
def test_bad_n_threads(n_threads):
    with pytest.raises(ValueError, match="n_threads"):
        reduce_dim(np.zeros((2, 8064)), n_threads=n_threads)


def test_default_threads():
    assert 1 <= features.default_threads() <= 8


# ---------------------------------------------------------------- medians by selection


def _window_medians(rows, m):
    """np.median of the ten windows (nine of ``m`` samples, the rest) and of the whole of each row."""
    rows = rows.astype(np.float64)
    parts = [rows[:, w * m : (w + 1) * m] for w in range(9)] + [rows[:, 9 * m :], rows]
    return np.stack([np.median(p, axis=-1) for p in parts], axis=-1)


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int16])
@pytest.mark.parametrize("m", [1, 2, 7, 8, 801, 807])
def test_median_selection_is_exact_for_any_bounds(rng, dtype, m):
    """The counts decide, so any bounds give np.median to the bit (only the time differs)."""
    r, n = 5, 9 * m + m + 3  # the last window is 3 longer: of the other parity
    rows = (rng.standard_normal((r, n)) * 100).astype(dtype)
    rows[:, ::3] = rows[0, 0]  # ties
    rows[1] = rows[1, 0]  # constant windows
    rows[2, : 5 * m] += 500  # a jump: the windows' medians lie far apart
    expected = _window_medians(rows, m)
    exact = expected[:, -1]
    skip = np.zeros((r, 11), dtype=bool)
    spread = np.ptp(rows.astype(np.float64), axis=-1) + 1.0
    bounds = [
        (exact, exact),  # as tight as can be
        (exact - spread * 0.05, exact + spread * 0.05),
        (np.full(r, -np.inf), np.full(r, np.inf)),  # everything
        (exact + 1e9, exact + 2e9),  # above everything: each window falls back
        (exact + 1.0, exact - 1.0),  # empty range
        (rng.uniform(-300, 300, r), rng.uniform(-300, 300, r)),  # anything
    ]
    for lo, hi in bounds:
        got = features._medians(np.ascontiguousarray(rows), m, lo, hi, skip)
        assert got.tobytes() == expected.tobytes()


def test_median_selection_skips_nan_windows(rng):
    rows = rng.standard_normal((2, 30))
    skip = np.zeros((2, 11), dtype=bool)
    skip[0, [1, 10]] = True
    got = features._medians(rows, 3, np.full(2, -1.0), np.full(2, 1.0), skip)
    expected = _window_medians(rows, 3)
    expected[0, [1, 10]] = np.nan
    np.testing.assert_array_equal(got, expected)


def _count_fallbacks(monkeypatch):
    calls = []
    whole = features._median

    def counted(part):
        calls.append(part.shape[0])
        return whole(part)

    monkeypatch.setattr(features, "_median", counted)
    return calls


def test_medians_of_eeg_are_selected_and_exact(rng, monkeypatch):
    x = _eeg(rng, (4, 8, 8064))
    calls = _count_fallbacks(monkeypatch)
    got = reduce_dim(x)
    expected = loop_reduce(x, 807)
    np.testing.assert_array_equal(got[..., 1::9], expected[..., 1::9])  # medians: exact
    assert sum(calls) <= 2  # of the 352 windows and 32 channels, nearly none is partitioned whole


@pytest.mark.parametrize("signal", ["exponential", "random walk", "two levels", "even windows"])
def test_medians_where_selection_falls_back(rng, monkeypatch, signal):
    """Skewed, drifting or two-level windows defeat the first guess: still the exact median."""
    n, window = 8064, 807
    if signal == "exponential":
        x = rng.exponential(size=(6, n))
        # The union of a channel's ten ranges holds its exponential windows' medians; without
        # the margin around each guess, two do not.
        monkeypatch.setattr(features, "_MEDIAN_HALF_WIDTH", 0.0)
    elif signal == "random walk":
        x = np.cumsum(rng.standard_normal((6, n)), axis=-1)
    elif signal == "two levels":
        x = np.where(rng.random((6, n)) < 0.3, 0.0, 100.0) + rng.standard_normal((6, n)) * 1e-3
    else:  # windows of 2: {1, 3} in every window, so the channel's middle pair is (1, 3), off the window medians
        n, window = 20, 2
        x = np.tile([1.0, 3.0], (3, 10))
    calls = _count_fallbacks(monkeypatch)
    got = reduce_dim(x, window=window)
    expected = loop_reduce(x, window)
    np.testing.assert_array_equal(got[..., 1::9], expected[..., 1::9])
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=1e-9)
    assert calls  # the fallback ran


def test_channel_median_outside_its_middle_window_medians(rng, monkeypatch):
    """A channel's median is looked for between its third and eighth window medians first, then
    between the extremes: here it lies below the third (two low windows, eight two-level ones)."""
    x = np.where(rng.random((3, 8064)) < 0.45, -100.0, 100.0) + rng.standard_normal((3, 8064))
    x[:, : 2 * 807] = -100.0 + rng.standard_normal((3, 2 * 807))
    lengths = []
    whole = features._median
    monkeypatch.setattr(features, "_median", lambda part: lengths.append(part.shape[-1]) or whole(part))
    got = reduce_dim(x)
    expected = loop_reduce(x, 807)
    np.testing.assert_array_equal(got[..., 1::9], expected[..., 1::9])
    window_medians = np.sort(expected[:, 1:90:9], axis=-1)
    assert (window_medians[:, 0] < expected[:, 91]).all() and (expected[:, 91] < window_medians[:, 2]).all()
    assert 8064 not in lengths  # selected the second time, not partitioned whole


# ---------------------------------------------------------------- standardization


def test_standardize_trials(rng):
    f = rng.normal(5.0, 3.0, (4, 32, 99))
    z = standardize_trials(f)
    np.testing.assert_allclose(z.mean(axis=(-2, -1)), 0.0, atol=1e-12)
    np.testing.assert_allclose(z.std(axis=(-2, -1)), 1.0, rtol=1e-12)
    # Each map on its own: changing one trial leaves the others as they were.
    g = f.copy()
    g[0] *= 7
    np.testing.assert_allclose(standardize_trials(g)[1:], z[1:])


def test_standardize_rows(rng):
    f = rng.normal(5.0, 3.0, (4, 32, 99))
    z = standardize_rows(f)
    np.testing.assert_allclose(z.mean(axis=-1), 0.0, atol=1e-12)
    np.testing.assert_allclose(z.std(axis=-1), 1.0, rtol=1e-12)


def test_standardize_trials_keeps_raw_float32(rng):
    x = _eeg(rng, (3, 4, 8064), dtype=np.float32) + 50
    z = standardize_trials(x)
    assert z.dtype == np.float32
    np.testing.assert_allclose(z.mean(axis=(-2, -1), dtype=np.float64), 0.0, atol=1e-6)
    np.testing.assert_allclose(z.std(axis=(-2, -1), dtype=np.float64), 1.0, rtol=1e-6)


@pytest.mark.parametrize("func", [standardize_trials, standardize_rows])
def test_zero_std_is_safe(func):
    f = np.ones((2, 3, 5))
    f[1] = np.arange(15).reshape(3, 5)
    with np.errstate(all="raise"):  # no division by zero, no invalid value
        z = func(f)
    assert np.isfinite(z).all()
    np.testing.assert_array_equal(z[0], 0.0)


def test_extract_features_methods(rng):
    x = _eeg(rng, (3, 4, 8064), dtype=np.float32)
    reduced = loop_reduce(x, 807)
    none = extract_features(x, standardization="none")
    trial = extract_features(x)  # the report's code is the default
    prose = extract_features(x, standardization="report-prose")
    assert none.shape == trial.shape == prose.shape == (3, 4, 99)
    assert trial.dtype == prose.dtype == np.float64
    np.testing.assert_allclose(none, reduced, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(trial, standardize_trials(reduced), rtol=1e-9, atol=1e-9)
    expected_prose = standardize_trials(standardize_rows(loop_reduce(standardize_trials(x), 807)))
    np.testing.assert_allclose(prose, expected_prose, rtol=1e-9, atol=1e-9)
    assert not np.allclose(prose, trial)
    # Chunking does not change the raw standardization of report-prose (it is per trial).
    one_by_one = extract_features(x, standardization="report-prose", chunk_trials=1)
    np.testing.assert_allclose(one_by_one, prose, rtol=1e-12, atol=1e-12)
    # A single 2-D trial gives the same as that trial in a batch.
    np.testing.assert_allclose(
        extract_features(x[1], standardization="report-prose"), prose[1], rtol=1e-12, atol=1e-12
    )


def test_extract_features_unknown_method(rng):
    with pytest.raises(ValueError, match="standardization.*trial.*report-prose.*none"):
        extract_features(np.zeros((1, 2, 8064)), standardization="global")
