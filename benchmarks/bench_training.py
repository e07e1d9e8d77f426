"""How fast does the library's training loop train the report's models, in float32 and bfloat16, against this CPU's matmul peaks?

Trains the DNN and the CNN of ``deap_lib.models`` with the library's one training loop,
:func:`deap_lib.experiment.engine.train_run` (the report's optimizer and batch size, every training row
fitted as in the report; with ``--train-accuracy eval`` the training set re-evaluated after each epoch
as the report did), on random data shaped like the task (1180 training trials and 100 test trials of
32 x 99), and prints per epoch, after one warm-up epoch: the seconds of the training pass, its achieved
GFLOP/s and percentage of the matmul peak, the share of it spent in ``optimizer.step()``, the seconds
of the evaluation that follows it (eval mode: the test set, and the training set with
``--train-accuracy eval``) as a share of the training pass, and the whole epoch as ``train_run``
records it (``epoch_seconds``: training, evaluation and bookkeeping).

The loop is not copied here: ``train_run`` builds its model through ``build_model``, which this
script wraps (while ``train_run`` runs) to put a forward pre-hook and a forward hook on the model;
``optimizer.step()`` is timed with PyTorch's global optimizer step hooks. From these events each
epoch is cut into its training pass (first training forward to the end of the last step) and its
evaluation (first to last eval-mode forward).

FLOPs are counted analytically from the layer shapes, for the Linear and Conv2d layers only (biases,
activations, dropout, pooling, the loss and the optimizer are not counted)::

    MAC(layer)  = multiply-adds of its forward pass for one trial
                  (Linear: in x out; Conv2d: out_channels x in_channels x kh x kw x out_h x out_w)
    train FLOPs = sum over layers of 2 x MAC x k,   k = 3 (forward, weight gradient, input gradient),
                  except k = 2 for the first layer, whose input is data and needs no gradient
    eval FLOPs  = sum over layers of 2 x MAC

per trial, times the number of trials. (For the defaults: DNN 81.4 MFLOP and CNN 163.2 MFLOP per
training trial.) A peak is the best of a few large square matmuls, in fp32 and in bf16. These
machines are shared and their load drifts within a minute, so both peaks are measured again right
before each run, and each epoch is compared with the **fp32** peak (columns ``fp32 pk`` and ``%
fp32``: a bf16 epoch at 100 % takes the time the fp32 peak would need for its FLOPs) and with the
peak of its own precision (``% own``).

``--precisions float32,bfloat16`` (the default) runs each model in both, in this one process, with
the library's ``precision`` setting (:mod:`deap_lib.experiment.engine`: bf16 weights and activations,
float32 master weights and loss); the last lines print the bf16 over fp32 speed-up per model.

Column ``cores`` is the process's CPU time over the training pass's wall time: well below the
thread count, other work shared the cores. Column ``faults`` counts minor page faults during the
training pass: memory the allocator had to get fresh from the kernel. They come and go between runs
of the same code (glibc's malloc returns freed memory to the kernel depending on its history): a CNN
epoch with about 300,000 of them took 2.3-2.6 s here, one with a few thousand 1.9-2.0 s. Running
with ``MALLOC_MMAP_THRESHOLD_=4294967296 MALLOC_TRIM_THRESHOLD_=17179869184`` in the environment
removed them (CNN 1.9 s, DNN 0.68 s instead of 0.8-0.9 s): compare runs with similar counts.

``--baseline`` also runs ``train_run`` on the same architecture written with plain ``torch.nn``
layers in the order ``print(model)`` lists them (the report's literal order: ``nn.Dropout``,
``nn.ReLU``, ``nn.Dropout2d`` before ``nn.MaxPool2d``, contiguous convolution weights), right after
the library's model, each with its own peak.

Usage::

    PYTHONPATH=. python benchmarks/bench_training.py --epochs 3 [--threads 2] [--models dnn,cnn]
        [--train-accuracy running|eval] [--precisions float32,bfloat16] [--baseline]
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import math
import resource
import statistics
import time
from unittest import mock

import numpy as np
import torch
from torch import nn
from torch.optim.optimizer import register_optimizer_step_post_hook, register_optimizer_step_pre_hook

from deap_lib.data.dataset import DataSource, Prepared
from deap_lib.experiment import engine
from deap_lib.experiment.settings import ExperimentConfig
from deap_lib.experiment.splits import Split
from deap_lib.models import build_model

N_TRAIN, N_TEST, N_CHANNELS, N_FEATURES = 1180, 100, 32, 99


def matmul_peak(n: int = 2048, repeats: int = 7, dtype: torch.dtype = torch.float32) -> float:
    """Best GFLOP/s of ``repeats`` n x n @ n x n products in ``dtype`` (after one warm-up product)."""
    g = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=g).to(dtype)
    b = torch.randn(n, n, generator=g).to(dtype)
    out = torch.empty(n, n, dtype=dtype)
    torch.mm(a, b, out=out)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b, out=out)
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def flops_per_trial(model: nn.Module) -> tuple[float, float]:
    """(training, evaluation) FLOPs per trial by the formula of the module docstring."""
    macs = []

    def record(module, inputs, output):
        per_trial = output.numel() // output.shape[0]
        if isinstance(module, nn.Linear):
            macs.append(per_trial * module.in_features)
        else:
            kh, kw = module.kernel_size
            macs.append(per_trial * (module.in_channels // module.groups) * kh * kw)

    hooks = [m.register_forward_hook(record) for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        model(torch.zeros(1, N_CHANNELS, N_FEATURES))
    model.train(was_training)
    for hook in hooks:
        hook.remove()
    train = 2 * (2 * macs[0] + 3 * sum(macs[1:]))  # macs is in execution order
    return float(train), float(2 * sum(macs))


def literal_model(model: nn.Module) -> nn.Module:
    """The same network (sharing nothing, weights copied) in plain torch.nn layers, run in the order
    ``print(model)`` lists them."""

    def plain(module: nn.Module) -> list[nn.Module]:
        if isinstance(module, nn.Sequential):
            return [layer for child in module for layer in plain(child)]
        if isinstance(module, nn.Dropout2d):
            return [nn.Dropout2d(module.p)]
        if isinstance(module, nn.Dropout):
            return [nn.Dropout(module.p)]
        if isinstance(module, nn.ReLU):
            return [nn.ReLU()]
        return [copy.deepcopy(module).to(memory_format=torch.contiguous_format)]

    return _Squeeze(nn.Sequential(*[layer for child in model.children() for layer in plain(child)]))


class _Squeeze(nn.Module):
    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body = body

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x).squeeze(-1)  # (B,)


def random_data(n: int, seed: int, *, dtype=np.float64, tag: str = "bench-random") -> Prepared:
    """``n`` random trials shaped like the task (32 x 99), as ``Prepared`` features."""
    rng = np.random.default_rng(seed)
    return Prepared(
        features=rng.standard_normal((n, N_CHANNELS, N_FEATURES)).astype(dtype, copy=False),
        ratings=rng.uniform(1, 9, size=(n, 4)),
        participant=np.repeat(np.arange(1, 33), math.ceil(n / 32))[:n],
        trial=np.tile(np.arange(40), math.ceil(n / 40))[:n],
        source=DataSource(),
        standardization="trial",
        identity=f"{tag}-{n}-{seed}",
    )


def random_task(seed: int) -> tuple[Prepared, Split]:
    """Random trials shaped like the task, as ``Prepared`` features, and their train/test split."""
    n = N_TRAIN + N_TEST
    return random_data(n, seed), Split("bench", np.arange(N_TRAIN), np.arange(N_TRAIN, n))


def _clock() -> tuple[float, float, int]:
    return time.perf_counter(), time.process_time(), resource.getrusage(resource.RUSAGE_SELF).ru_minflt


@contextlib.contextmanager
def recording(events: list, convert=None):
    """While ``train_run`` runs: log its model's forward calls and the optimizer steps in ``events``.

    ``convert`` replaces the model ``train_run`` builds (None: the library's model as it is).
    """

    def build(name, **kwargs):
        model = build_model(name, **kwargs)
        model = model if convert is None else convert(model)
        model.register_forward_pre_hook(lambda m, _: events.append(("forward", m.training, *_clock())))
        model.register_forward_hook(lambda m, _, __: events.append(("forward_end", m.training, *_clock())))
        return model

    pre = register_optimizer_step_pre_hook(lambda *_: events.append(("step", True, *_clock())))
    post = register_optimizer_step_post_hook(lambda *_: events.append(("step_end", True, *_clock())))
    try:
        with mock.patch.object(engine, "build_model", build):
            yield
    finally:
        pre.remove()
        post.remove()


def epoch_phases(events: list) -> list[dict]:
    """Cut the event log of one run into epochs: each epoch's training pass and evaluation."""
    epochs = []
    for kind, training, t, cpu, faults in events:
        if kind == "forward" and training and (not epochs or epochs[-1]["evals"]):
            epochs.append({"start": (t, cpu, faults), "step": 0.0, "evals": []})
        current = epochs[-1]
        if kind == "step":
            step_start = t
        elif kind == "step_end":
            current["step"] += t - step_start
            current["end"] = (t, cpu, faults)
        elif kind == "forward" and not training:
            current["evals"].append([t, None])
        elif kind == "forward_end" and not training:
            current["evals"][-1][1] = t
    # Every eval-mode forward belongs to the epoch it follows: train_run evaluates after each epoch's
    # training pass and nothing after the last one (the record's test logits are the last epoch's).
    phases = []
    for epoch in epochs:
        (t0, cpu0, faults0), (t1, cpu1, faults1) = epoch["start"], epoch["end"]
        evals = epoch["evals"]
        phases.append({
            "seconds": t1 - t0,
            "cores": (cpu1 - cpu0) / (t1 - t0),
            "faults": faults1 - faults0,
            "step": epoch["step"],
            "eval": evals[-1][1] - evals[0][0] if evals else 0.0,
        })
    return phases


def bench_model(name: str, args, data: Prepared, split: Split, precision: str = "float32") -> dict:
    """Time ``name`` in ``precision`` (and, with ``--baseline`` in float32, the literal version);
    return each variant's median epoch seconds."""
    config = ExperimentConfig(model=name, seed=args.seed, epochs=1 + args.epochs, val_fraction=0.0,
                              n_test=N_TEST, train_accuracy=args.train_accuracy, precision=precision)
    dtype = getattr(torch, precision)
    train_flops, _ = flops_per_trial(build_model(name, generator=torch.Generator().manual_seed(args.seed)))
    epoch_flops = train_flops * N_TRAIN
    print(
        f"\n{name.upper()} in {precision}: batch {config.batch_size}, {config.optimizer} lr {config.lr} momentum {config.momentum}"
        f" (deap_lib.experiment.engine.train_run, train_accuracy={config.train_accuracy}); {train_flops / 1e6:.1f} MFLOP"
        f" per training trial, {epoch_flops / 1e9:.1f} GFLOP per training pass"
    )
    print(f"{'variant':9s} {'epoch':>5s} {'s/epoch':>8s} {'GFLOP/s':>8s} {'fp32 pk':>7s} {'% fp32':>7s} {'own pk':>7s}"
          f" {'% own':>6s} {'cores':>6s} {'step %':>7s} {'eval s':>7s} {'eval %':>7s} {'faults':>7s} {'run s':>6s}")
    variants = {"deap_lib": None}
    if args.baseline and precision == "float32":
        variants["literal"] = literal_model
    results, shares = {}, {}
    for label, convert in variants.items():
        peak = matmul_peak(args.peak_size, repeats=3)
        own = peak if dtype == torch.float32 else matmul_peak(args.peak_size, repeats=3, dtype=dtype)
        events: list = []
        torch.manual_seed(args.seed + 2)  # the literal model's dropout masks (global generator)
        with recording(events, convert):
            record, _ = engine.train_run(config, data, split, device="cpu", progress=False)
        phases = epoch_phases(events)
        assert len(phases) == config.epochs, (len(phases), config.epochs)
        results[label], shares[label] = [], []
        for epoch, (phase, seconds) in enumerate(zip(phases, record.epoch_seconds)):
            if epoch == 0:
                continue  # warm-up: allocations, oneDNN's kernel choices
            rate = epoch_flops / phase["seconds"] / 1e9
            results[label].append(phase["seconds"])
            shares[label].append(rate / peak)
            print(f"{label:9s} {epoch:5d} {phase['seconds']:8.3f} {rate:8.1f} {peak:7.1f} {100 * rate / peak:6.1f}%"
                  f" {own:7.1f} {100 * rate / own:5.1f}% {phase['cores']:6.2f} {100 * phase['step'] / phase['seconds']:6.1f}% {phase['eval']:7.3f}"
                  f" {100 * phase['eval'] / phase['seconds']:6.1f}% {phase['faults']:7d} {seconds:6.3f}")
    for label, times in results.items():
        median = statistics.median(times)
        print(f"{label:9s} median {median:.3f} s/epoch ({epoch_flops / median / 1e9:.1f} GFLOP/s),"
              f" median {100 * statistics.median(shares[label]):.0f} % of the fp32 peak measured beside it"
              f" (best epoch {min(times):.3f} s; the fp32 peak needs {epoch_flops / peak / 1e9:.3f} s for its FLOPs)")
    if "literal" in results:
        ratio = statistics.median(results["literal"]) / statistics.median(results["deap_lib"])
        print(f"speed-up of deap_lib over the literal torch.nn version (median epochs): {ratio:.2f}x")
    return {label: statistics.median(times) for label, times in results.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per model (after one warm-up)")
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    parser.add_argument("--models", default="dnn,cnn", help="comma-separated: dnn, cnn")
    parser.add_argument("--train-accuracy", choices=["eval", "running"], default="running",
                        help="ExperimentConfig.train_accuracy (running: the batches' own predictions, the library's "
                             "default; eval: the training set re-evaluated after each epoch, as the report)")
    parser.add_argument("--precisions", default="float32,bfloat16",
                        help="comma-separated: float32, bfloat16 (each model in each, in this one process)")
    parser.add_argument("--baseline", action="store_true", help="also time the literal torch.nn version")
    parser.add_argument("--peak-size", type=int, default=2048, help="side of the square matmuls")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    data, split = random_task(args.seed)
    precisions = [p.strip() for p in args.precisions.split(",")]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; CPU flags for native bf16:"
          f" {sorted(engine._cpu_flags() & engine._BF16_CPU_FLAGS) or 'none'} (precision auto ->"
          f" {engine.resolve_precision('auto', 'cpu')}); matmul peaks ({args.peak_size}^2, best of 7):"
          f" fp32 {matmul_peak(args.peak_size):.1f}, bf16 {matmul_peak(args.peak_size, dtype=torch.bfloat16):.1f} GFLOP/s")
    medians = {}
    for name in args.models.split(","):
        for precision in precisions:
            medians[name.strip().lower(), precision] = bench_model(name.strip().lower(), args, data, split, precision)
    print(f"\nmatmul peaks after the runs: fp32 {matmul_peak(args.peak_size):.1f},"
          f" bf16 {matmul_peak(args.peak_size, dtype=torch.bfloat16):.1f} GFLOP/s")
    for name in dict.fromkeys(m for m, _ in medians):
        if (name, "float32") in medians and (name, "bfloat16") in medians:
            fp32, bf16 = medians[name, "float32"]["deap_lib"], medians[name, "bfloat16"]["deap_lib"]
            print(f"{name.upper()}: bf16 {bf16:.3f} s/epoch against fp32 {fp32:.3f} s/epoch: {fp32 / bf16:.2f}x")


if __name__ == "__main__":
    main()
