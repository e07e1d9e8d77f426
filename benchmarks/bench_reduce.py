"""Time deap_lib.data.features.reduce_dim on a DEAP-sized array against the plain per-channel loop.

Run from the repository root::

    python benchmarks/bench_reduce.py              # 1280 trials x 32 channels x 8064 float32
    python benchmarks/bench_reduce.py --trials 128 --oracle-channels 32

The loop (the reference of ``tests/test_features.py``, imported from there) is far too slow to
run on all 40,960 channels: it is timed on a random sample of channels and extrapolated per
channel. Timings vary on shared machines: the load average is printed with them.
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

from deap_lib.data.features import reduce_dim  # noqa: E402


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
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    x = eeg_like(rng, args.trials)
    n_channels = x.shape[1]
    print(f"data: {x.shape} {x.dtype} ({x.nbytes / 1e9:.2f} GB); numpy {np.__version__}; "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs")

    loop_reduce = load_oracle()
    picks = rng.choice(x.shape[0] * n_channels, size=args.oracle_channels, replace=False)
    sample = x.reshape(-1, x.shape[-1])[picks]
    t0 = time.perf_counter()
    expected = loop_reduce(sample, 807)
    loop_per_channel = (time.perf_counter() - t0) / len(sample)
    loop_per_trial = loop_per_channel * n_channels
    print(f"loop (oracle) on {len(sample)} channels: {loop_per_trial:.3f} s per trial, "
          f"{loop_per_trial * args.trials:.0f} s for {args.trials} trials (extrapolated); "
          f"load average {os.getloadavg()[0]:.2f}")

    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        got = reduce_dim(x)
        times.append(time.perf_counter() - t0)
    best = min(times)
    print(f"reduce_dim: {best:.2f} s for {args.trials} trials (best of {args.repeat}: "
          f"{', '.join(f'{t:.2f}' for t in times)}), {best / args.trials * 1e3:.2f} ms per trial; "
          f"load average {os.getloadavg()[0]:.2f}")
    print(f"speed-up: {loop_per_trial * args.trials / best:.0f}x")
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
