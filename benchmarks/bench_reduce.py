"""Time deap_lib.data.features.reduce_dim on a DEAP-sized array against the plain per-channel loop.

Run from the repository root::

    python benchmarks/bench_reduce.py              # 1280 trials x 32 channels x 8064 float32
    python benchmarks/bench_reduce.py --trials 128 --oracle-channels 32

The loop (the reference of ``tests/test_features.py``, imported from there) is far too slow to
run on all 40,960 channels: it is timed on a random sample of channels and extrapolated per
channel. ``reduce_dim`` is timed with its default threads and with one, after one untimed run
(which pays for the threads' first working arrays); every timing is the best of ``--repeat``,
the loop's too. Timings vary on shared machines: the load average is printed with them.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import resource
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from deap_lib.data.features import default_threads, reduce_dim  # noqa: E402


def load_oracle():
    """The loop reference ``loop_reduce`` from tests/test_features.py (kept in one place)."""
    spec = importlib.util.spec_from_file_location("test_features", ROOT / "tests" / "test_features.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.loop_reduce


def eeg_like(
    rng: np.random.Generator, n_trials: int, n_channels: int = 32, n_samples: int = 8064
) -> np.ndarray:
    """Float32 noise in microvolts with a 10 Hz rhythm of random amplitude and phase per channel."""
    x = rng.standard_normal((n_trials, n_channels, n_samples), dtype=np.float32)
    x *= 10.0
    t = np.arange(n_samples, dtype=np.float32) / 128.0
    amp = rng.uniform(0.0, 15.0, (n_trials, n_channels, 1)).astype(np.float32)
    phase = rng.uniform(0.0, 2 * np.pi, (n_trials, n_channels, 1)).astype(np.float32)
    for i in range(n_trials):  # one trial at a time keeps the temporaries small
        x[i] += amp[i] * np.sin(2 * np.pi * 10.0 * t + phase[i])
    return x


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1280)
    parser.add_argument("--oracle-channels", type=int, default=64, help="channels the loop is timed on")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs (best kept)")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32",
                        help="dtype of the samples (real DEAP's files hold float64)")
    args = parser.parse_args()

    def best_of(func):
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            result = func()
            times.append(time.perf_counter() - t0)
        return min(times), times, result

    rng = np.random.default_rng(args.seed)
    x = eeg_like(rng, args.trials).astype(args.dtype, copy=False)
    n_channels = x.shape[1]
    print(f"data: {x.shape} {x.dtype} ({x.nbytes / 1e9:.2f} GB); numpy {np.__version__}; "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; "
          f"load average {os.getloadavg()[0]:.2f}")

    loop_reduce = load_oracle()
    picks = rng.choice(x.shape[0] * n_channels, size=args.oracle_channels, replace=False)
    sample = x.reshape(-1, x.shape[-1])[picks]
    loop_best, loop_times, expected = best_of(lambda: loop_reduce(sample, 807))
    loop_total = loop_best / len(sample) * n_channels * args.trials
    print(f"loop (oracle) on {len(sample)} channels: {loop_best / len(sample) * n_channels:.3f} s per trial, "
          f"{loop_total:.0f} s for {args.trials} trials (extrapolated; best of {args.repeat}: "
          f"{', '.join(f'{t:.2f}' for t in loop_times)} s); load average {os.getloadavg()[0]:.2f}")

    reduce_dim(x)  # untimed: the threads' first working arrays
    for n_threads in (default_threads(), 1):
        best, times, got = best_of(lambda: reduce_dim(x, n_threads=n_threads))
        print(f"reduce_dim, {n_threads} thread{'s' if n_threads > 1 else ''}: {best:.2f} s for {args.trials} "
              f"trials (best of {args.repeat}: {', '.join(f'{t:.2f}' for t in times)}), "
              f"{best / args.trials * 1e3:.2f} ms per trial; load average {os.getloadavg()[0]:.2f}")
        print(f"speed-up, {n_threads} thread{'s' if n_threads > 1 else ''}: {loop_total / best:.0f}x")
        np.testing.assert_allclose(got.reshape(-1, got.shape[-1])[picks], expected, rtol=1e-9, atol=1e-9)
    print("check: reduce_dim equals the loop on the sampled channels (rtol 1e-9)")

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    tracemalloc.start()
    reduce_dim(x)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak extra memory during reduce_dim: {peak / 2**20:.0f} MiB traced by tracemalloc "
          f"(the {got.nbytes / 2**20:.0f} MiB output included); process max RSS {rss_before:.0f} MiB "
          f"before, {rss_after:.0f} MiB after")


if __name__ == "__main__":
    main()
