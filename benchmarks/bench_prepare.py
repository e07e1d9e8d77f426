"""Time the 32 raw float64 DEAP-format files to cached features, side by side with TorchEEG.

Run from the repository root::

    python benchmarks/bench_prepare.py                          # deap_lib only
    python benchmarks/bench_prepare.py --torcheeg-python /tmp/teeg/bin/python --repeat 3

The first run writes the 32 float64 twin files (real DEAP's dtype, about 103 MB each, 3.3 GB in
all) into ``--data`` (default: a folder in the system's temporary folder) and later runs reuse them.
The files are then read from the operating system's page cache (as after DEAP's first read); the
feature cache of (d) is a fresh, empty folder each time. Printed, each the median of ``--repeat``
runs:

(a) the floor: reading every byte of the 32 files once (``readinto`` a preallocated buffer);
(b) reading and validating the 32 files with ``deap_lib.data.deap_format.read_participant``;
(c) the reduction alone: ``deap_lib.data.features.extract_features`` (standardization "trial") on each
    participant's EEG, summed, with the default threads and with one (after one untimed call);
    and its speed-up over the report's per-call loop (``loop_reduce`` of ``tests/test_features.py``,
    timed on ``--oracle-channels`` channels, best of ``--repeat``, and extrapolated to all 40,960,
    as ``bench_reduce.py`` does);
(d) the whole ``deap_lib.data.dataset.prepare`` with a cold feature cache;
(e) with ``--torcheeg-python``, the python of a separate environment with TorchEEG installed
    (``python3 -m venv /tmp/teeg && /tmp/teeg/bin/pip install torcheeg==1.1.3 'numpy<2'
    scipy==1.10.1 'mne<1.9' 'pandas<3' torch==2.13.0``): the same statistics through TorchEEG's
    ``DEAPDataset`` on the same folder, each trial's 32 x 8064 EEG samples whole (``chunk_size=-1``,
    ``num_baseline=0``) reduced by an offline transform to the same 99 statistics per channel
    (numpy and scipy along the samples axis, then the trial's standardization), cached in a fresh
    ``io_path`` each run, with ``num_worker`` 1 and 2. This script itself runs there, in a
    subprocess (``--torcheeg-worker``), and hands back its timings and one trial's features, which
    are checked against (d)'s.

The machine is shared: the load average is printed before and after; repeat when it is high.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
N_FILES = 32
FLOAT64_FILE_BYTES = 100_000_000  # a float64 file is 103 MB, a float32 one half that
WINDOW = 807


# --------------------------------------------------------------------------------------------
# TorchEEG side: runs in the TorchEEG environment (numpy < 2, no deap_lib imported)
# --------------------------------------------------------------------------------------------


def window_statistics(eeg: np.ndarray, window: int = WINDOW) -> np.ndarray:
    """The report's 99 statistics of each channel of one trial, standardized over the trial.

    Plain numpy and scipy calls along the samples axis, vectorized over the channels, as a
    TorchEEG transform would be written.

    Parameters
    ----------
    eeg : ndarray, shape (n_channels, n_samples)

    Returns
    -------
    features : ndarray, shape (n_channels, 99)
    """
    import scipy.stats

    n = eeg.shape[-1]
    spans = [(w * window, (w + 1) * window) for w in range(9)] + [(9 * window, n), (0, n)]
    out = np.empty((eeg.shape[0], len(spans), 9))
    for i, (a, b) in enumerate(spans):
        v = eeg[:, a:b]
        vmax, vmin = v.max(axis=-1), v.min(axis=-1)
        out[:, i] = np.stack(
            [
                v.mean(axis=-1),
                np.median(v, axis=-1),
                vmax,
                vmin,
                v.std(axis=-1),
                v.var(axis=-1),
                vmax - vmin,
                scipy.stats.skew(v, axis=-1),
                scipy.stats.kurtosis(v, axis=-1),
            ],
            axis=-1,
        )
    f = out.reshape(eeg.shape[0], -1)
    return (f - f.mean()) / f.std()


def torcheeg_worker(data: Path, workers: int, repeat: int) -> dict:
    """Build TorchEEG's DEAPDataset with the statistics as offline transform ``repeat`` times."""
    t0 = time.perf_counter()
    from torcheeg.datasets import DEAPDataset
    from torcheeg.transforms import EEGTransform

    import_s = time.perf_counter() - t0

    class WindowStatistics(EEGTransform):
        def apply(self, eeg: np.ndarray, **kwargs) -> np.ndarray:
            return window_statistics(eeg)

    times, sample = [], None
    for _ in range(repeat):
        io_path = Path(tempfile.mkdtemp(prefix="torcheeg_bench_")) / "io"
        try:
            t0 = time.perf_counter()
            dataset = DEAPDataset(
                root_path=str(data),
                chunk_size=-1,  # the whole trial ...
                num_baseline=0,  # ... all 8064 samples, none set aside as baseline
                offline_transform=WindowStatistics(),
                io_path=str(io_path),
                num_worker=workers,
                verbose=False,
            )
            times.append(time.perf_counter() - t0)
            info = dataset.info
            index = info.index[(info["subject_id"] == "s01.dat") & (info["trial_id"] == 0)][0]
            sample = np.asarray(dataset[int(index)][0]).tolist()
        finally:
            shutil.rmtree(io_path.parent, ignore_errors=True)
    import torcheeg

    return {"times": times, "import_s": import_s, "sample": sample, "version": torcheeg.__version__}


# --------------------------------------------------------------------------------------------
# deap_lib side
# --------------------------------------------------------------------------------------------


def ensure_data(folder: Path) -> list[Path]:
    """The 32 float64 twin files in ``folder``, written once."""
    from deap_lib.data import deap_format, synthetic

    paths = [deap_format.participant_path(folder, pid) for pid in range(1, N_FILES + 1)]
    if not all(p.is_file() and p.stat().st_size > FLOAT64_FILE_BYTES for p in paths):
        print(f"writing {N_FILES} float64 twin files to {folder} (once) ...", flush=True)
        t0 = time.perf_counter()
        synthetic.write_twin(folder, N_FILES, dtype="float64", progress=False)
        print(f"  written in {time.perf_counter() - t0:.0f} s", flush=True)
    return paths


def read_floor(paths: list[Path]) -> None:
    """Every byte of every file, read once into a preallocated buffer."""
    for path in paths:
        with open(path, "rb", buffering=0) as f:
            buf = np.empty(os.fstat(f.fileno()).st_size, dtype=np.uint8)
            view, got = memoryview(buf), 0
            while got < len(buf):
                k = f.readinto(view[got:])
                if not k:
                    break
                got += k


def timed(func, repeat: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        func()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times


def load_oracle():
    """The loop reference ``loop_reduce`` from tests/test_features.py (kept in one place)."""
    spec = importlib.util.spec_from_file_location("test_features", ROOT / "tests" / "test_features.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.loop_reduce


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "deap_lib_bench_float64",
                        help="folder of the 32 float64 files (written there once)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement (median kept)")
    parser.add_argument("--oracle-channels", type=int, default=64, help="channels the loop is timed on")
    parser.add_argument("--torcheeg-python", help="python of an environment with TorchEEG 1.1.3")
    parser.add_argument("--torcheeg-workers", default="1,2", help="num_worker values (default 1,2)")
    parser.add_argument("--torcheeg-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=12)
    args = parser.parse_args()

    if args.torcheeg_worker:  # in the TorchEEG environment: JSON on the last line
        print(json.dumps(torcheeg_worker(args.data, args.workers, args.repeat)))
        return

    sys.path.insert(0, str(ROOT))
    from deap_lib.data import dataset, deap_format, features

    paths = ensure_data(args.data)
    print(f"{N_FILES} float64 files in {args.data} ({sum(p.stat().st_size for p in paths) / 1e9:.2f} GB); "
          f"numpy {np.__version__}; {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"reduction threads {features.default_threads()}; {load()}")
    rows = []  # (label, median seconds, runs)

    def record(label, func):
        median, times = timed(func, args.repeat)
        rows.append((label, median, times))
        print(f"  {label}: {median:.2f} s ({', '.join(f'{t:.2f}' for t in times)}); {load()}", flush=True)
        return median

    floor = record("(a) read every byte (floor)", lambda: read_floor(paths))

    def read_all():
        for path in paths:  # one participant in memory at a time, as prepare holds them
            deap_format.read_participant(path)

    validated = record("(b) deap_format.read_participant x 32", read_all)

    def reduction(n_threads):
        total = 0.0
        for path in paths:
            eeg = deap_format.read_participant(path)[0][:, : deap_format.N_EEG]
            t0 = time.perf_counter()
            features.extract_features(eeg, standardization="trial", n_threads=n_threads)
            total += time.perf_counter() - t0
        return total

    reduced = {}
    features.extract_features(deap_format.read_participant(paths[0])[0][:, : deap_format.N_EEG])  # untimed warm-up
    for label, n_threads in ((f"(c) reduction, {features.default_threads()} threads", None), ("(c) reduction, 1 thread", 1)):
        times = [reduction(n_threads) for _ in range(args.repeat)]
        reduced[n_threads] = statistics.median(times)
        rows.append((label, reduced[n_threads], times))
        print(f"  {label}: {reduced[n_threads]:.2f} s ({', '.join(f'{t:.2f}' for t in times)}); {load()}", flush=True)

    rng = np.random.default_rng(args.seed)
    loop_reduce = load_oracle()
    eeg = deap_format.read_participant(paths[0])[0][:, : deap_format.N_EEG].reshape(-1, deap_format.N_SAMPLES)
    sample = eeg[rng.choice(len(eeg), size=args.oracle_channels, replace=False)]
    loop_times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        expected = loop_reduce(sample, WINDOW)
        loop_times.append(time.perf_counter() - t0)
    loop_total = min(loop_times) / len(sample) * N_FILES * len(eeg)
    np.testing.assert_allclose(features.reduce_dim(sample), expected, rtol=1e-9, atol=1e-9)
    print(f"  loop (oracle) on {len(sample)} channels: {loop_total:.0f} s for {N_FILES} participants "
          f"(extrapolated from the best of {args.repeat}: {', '.join(f'{t:.2f}' for t in loop_times)} s); "
          f"equal to reduce_dim there (rtol 1e-9); {load()}", flush=True)

    prepared = None

    def prepare():
        nonlocal prepared
        with tempfile.TemporaryDirectory(prefix="bench_prepare_cache_") as cache:
            prepared = dataset.prepare(dataset.resolve_source(args.data), cache=cache, progress=False)

    whole = record("(d) dataset.prepare, cold feature cache", prepare)

    teeg = {}
    if args.torcheeg_python:
        for workers in (int(w) for w in args.torcheeg_workers.split(",")):
            cmd = [args.torcheeg_python, str(Path(__file__).resolve()), "--torcheeg-worker", "--data",
                   str(args.data), "--workers", str(workers), "--repeat", str(args.repeat)]
            proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tempfile.gettempdir())
            if proc.returncode != 0:
                raise SystemExit(f"TorchEEG run failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
            result = json.loads(proc.stdout.strip().splitlines()[-1])
            label = f"(e) TorchEEG {result['version']} DEAPDataset, num_worker={workers}"
            teeg[workers] = statistics.median(result["times"])
            rows.append((label, teeg[workers], result["times"]))
            got = np.asarray(result["sample"])
            same = np.allclose(got, prepared.features[0], rtol=1e-9, atol=1e-9)
            print(f"  {label}: {teeg[workers]:.2f} s ({', '.join(f'{t:.2f}' for t in result['times'])}; "
                  f"importing TorchEEG {result['import_s']:.1f} s not counted); s01 trial 0 "
                  f"{'equals' if same else 'DIFFERS FROM'} prepare's (rtol 1e-9); {load()}", flush=True)

    print(f"\nmedian of {args.repeat} runs, {N_FILES} float64 files:")
    width = max(len(label) for label, _, _ in rows)
    for label, median, _ in rows:
        print(f"  {label:<{width}}  {median:7.2f} s")
    print(f"  {'loop (oracle), extrapolated':<{width}}  {loop_total:7.0f} s")
    print(f"reduction: {loop_total / reduced[None]:.0f}x the per-call loop ({loop_total / reduced[1]:.0f}x "
          f"on 1 thread; threads {reduced[1] / reduced[None]:.2f}x)")
    print(f"prepare: {whole / floor:.1f}x the read floor; reading and validating {validated / whole:.0%} of it")
    if teeg:
        best = min(teeg, key=teeg.get)
        print(f"TorchEEG best (num_worker={best}) {teeg[best]:.2f} s / prepare {whole:.2f} s = "
              f"{teeg[best] / whole:.1f}x")
    print(load())


if __name__ == "__main__":
    main()
