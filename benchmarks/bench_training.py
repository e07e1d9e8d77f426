"""How fast do the report's models train on this CPU, against its measured fp32 matmul peak?

Builds the DNN and the CNN of ``deap_lib.models`` on random data shaped like the task (1180 training
trials and 100 test trials of 32 x 99), trains each for a few epochs with the report's optimizer and
batch size, and prints per epoch: seconds, achieved GFLOP/s, percentage of the matmul peak, the share
of the epoch spent in ``optimizer.step()``, and the cost of one evaluation pass (accuracy on the
training and the test set, eval mode, ``torch.inference_mode``, batched, unshuffled) as a share of the
epoch.

FLOPs are counted analytically from the layer shapes, for the Linear and Conv2d layers only (biases,
activations, dropout, pooling, the loss and the optimizer are not counted)::

    MAC(layer)  = multiply-adds of its forward pass for one trial
                  (Linear: in x out; Conv2d: out_channels x in_channels x kh x kw x out_h x out_w)
    train FLOPs = sum over layers of 2 x MAC x k,   k = 3 (forward, weight gradient, input gradient),
                  except k = 2 for the first layer, whose input is data and needs no gradient
    eval FLOPs  = sum over layers of 2 x MAC

per trial, times the number of trials. (For the defaults: DNN 81.4 MFLOP and CNN 163.2 MFLOP per
training trial.) The peak is the best of a few large square fp32 matmuls. These machines are shared
and their load drifts within a minute, so the peak is measured again right before each round of
epochs and each epoch is compared with the peak measured next to it (column ``peak``).

Column ``cores`` is the process's CPU time over the epoch's wall time: well below the thread count,
other work shared the cores. Column ``faults`` counts minor page faults during the epoch: memory the
allocator had to get fresh from the kernel.

``--baseline`` also times the same architecture written with plain ``torch.nn`` layers in the
literal order (``nn.Dropout``, ``nn.ReLU``, ``nn.Dropout2d`` before ``nn.MaxPool2d``), interleaved
epoch by epoch with the library's model, so both see the same machine load.

This script imports only ``deap_lib.models``: its small training loop mirrors the loop of the
training engine (``deap_lib.training``): shuffle, then per batch ``zero_grad(set_to_none=True)``,
forward, ``BCEWithLogitsLoss``, backward, ``step``.

Usage::

    PYTHONPATH=. python benchmarks/bench_training.py --epochs 3 [--threads 2] [--models dnn,cnn]
        [--optimizer-impl foreach|forloop|fused] [--eval-batch 1024] [--baseline]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time

import torch
from torch import nn

from deap_lib.models import CNN, DNN, build_model

#: The report's training settings (its training table).
REPORT_SETTINGS = {
    "dnn": {"batch_size": 310, "optimizer": "rmsprop", "lr": 1e-4, "momentum": 0.0},
    "cnn": {"batch_size": 50, "optimizer": "sgd", "lr": 1e-4, "momentum": 0.9},
}
N_TRAIN, N_TEST, N_CHANNELS, N_FEATURES = 1180, 100, 32, 99
EVAL_BATCH = 1024  # deap_lib.training.predict_logits's default


def matmul_peak(n: int = 2048, repeats: int = 7) -> float:
    """Best fp32 GFLOP/s of ``repeats`` n x n @ n x n products (after one warm-up product)."""
    g = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=g)
    b = torch.randn(n, n, generator=g)
    out = torch.empty(n, n)
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
    """The same network (sharing nothing, weights copied) in plain torch.nn layers, literal order."""
    if isinstance(model, DNN):
        layers: list[nn.Module] = [nn.Flatten(), nn.Dropout(model.p_input)]
        for layer in model.hidden:
            layers += [nn.Linear(layer.in_features, layer.out_features), nn.ReLU(), nn.Dropout(model.p_hidden)]
        layers.append(nn.Linear(model.output.in_features, 1))
        linears = [*model.hidden, model.output]
    elif isinstance(model, CNN):
        c1, c2 = model.conv1, model.conv2
        layers = [
            nn.Unflatten(1, (1, model.n_channels)),
            nn.Dropout(model.p_input),
            nn.Conv2d(1, c1.out_channels, c1.kernel_size, padding=c1.padding),
            nn.ReLU(),
            nn.Dropout2d(model.p_conv),
            nn.Conv2d(c1.out_channels, c2.out_channels, c2.kernel_size, padding=c2.padding),
            nn.ReLU(),
            nn.Dropout2d(model.p_conv),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Dropout(model.p_fc),
            nn.Linear(model.fc.in_features, model.fc.out_features),
            nn.ReLU(),
            nn.Dropout(model.p_hidden),
            nn.Linear(model.output.in_features, 1),
        ]
        linears = [c1, c2, model.fc, model.output]
    else:
        raise TypeError(f"no literal version of {type(model).__name__}")
    ordered = [m for m in layers if isinstance(m, (nn.Linear, nn.Conv2d))]
    with torch.no_grad():
        for mine, theirs in zip(ordered, linears):
            mine.weight.copy_(theirs.weight)
            mine.bias.copy_(theirs.bias)
    return _Squeeze(nn.Sequential(*layers))


class _Squeeze(nn.Module):
    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body = body

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x).squeeze(-1)  # (B,)


def make_optimizer(name: str, params, *, lr: float, momentum: float, impl: str) -> torch.optim.Optimizer:
    """The report's optimizer; ``impl`` picks PyTorch's implementation (fused: SGD only)."""
    kwargs = {"fused": True} if impl == "fused" else {"foreach": impl == "foreach"}
    if name == "rmsprop":
        if impl == "fused":
            raise ValueError("torch has no fused RMSprop")
        return torch.optim.RMSprop(params, lr=lr, momentum=momentum, **kwargs)
    return torch.optim.SGD(params, lr=lr, momentum=momentum, **kwargs)


def train_epoch(model, optimizer, loss_fn, x, y, batch_size, generator) -> tuple[float, float]:
    """One training epoch, mirroring deap_lib.training's loop; returns (seconds, seconds in step)."""
    start = time.perf_counter()
    in_step = 0.0
    model.train()
    order = torch.randperm(len(x), generator=generator)
    loss_sum = torch.zeros(())
    for first in range(0, len(x), batch_size):
        idx = order[first : first + batch_size]
        xb, yb = x[idx], y[idx]
        optimizer.zero_grad(set_to_none=True)
        logits = model(xb)
        loss = loss_fn(logits, yb)
        loss.backward()
        step_start = time.perf_counter()
        optimizer.step()
        in_step += time.perf_counter() - step_start
        loss_sum += loss.detach() * len(idx)
    loss_sum.item()
    return time.perf_counter() - start, in_step


def evaluation_pass(model, x_train, y_train, x_test, y_test, batch_size: int) -> float:
    """Seconds for train and test accuracy: eval mode, inference mode, batched, unshuffled."""
    start = time.perf_counter()
    model.eval()
    with torch.inference_mode():
        for x, y in ((x_train, y_train), (x_test, y_test)):
            logits = torch.cat([model(x[i : i + batch_size]) for i in range(0, len(x), batch_size)])
            ((logits >= 0) == (y >= 0.5)).float().mean().item()
    model.train()
    return time.perf_counter() - start


def _minor_faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def bench_model(name: str, args, data) -> None:
    x_train, y_train, x_test, y_test = data
    settings = REPORT_SETTINGS[name]
    model = build_model(name, generator=torch.Generator().manual_seed(args.seed))
    variants = {"deap_lib": model}
    if args.baseline:
        variants["literal"] = literal_model(model)
    train_flops, eval_flops = flops_per_trial(model)
    epoch_flops = train_flops * len(x_train)
    print(
        f"\n{name.upper()}: batch {settings['batch_size']}, {settings['optimizer']} lr {settings['lr']}"
        f" momentum {settings['momentum']} ({args.optimizer_impl}); {train_flops / 1e6:.1f} MFLOP per"
        f" training trial, {epoch_flops / 1e9:.1f} GFLOP per epoch"
    )
    print(f"{'variant':9s} {'epoch':>5s} {'s/epoch':>8s} {'GFLOP/s':>8s} {'peak':>6s} {'% peak':>7s}"
          f" {'cores':>6s} {'step %':>7s} {'eval s':>7s} {'eval %':>7s} {'faults':>7s}")
    runs = {}
    for label, net in variants.items():
        opt = make_optimizer(settings["optimizer"], net.parameters(), lr=settings["lr"],
                             momentum=settings["momentum"], impl=args.optimizer_impl)
        runs[label] = (net, opt, torch.Generator().manual_seed(args.seed + 1))
        torch.manual_seed(args.seed + 2)  # dropout masks (global generator, as in deap_lib.training)
        train_epoch(net, opt, nn.BCEWithLogitsLoss(), x_train, y_train, settings["batch_size"], runs[label][2])
    results = {label: [] for label in runs}
    shares = {label: [] for label in runs}
    for epoch in range(1, args.epochs + 1):
        peak = matmul_peak(args.peak_size, repeats=3)
        for label, (net, opt, g) in runs.items():  # interleaved: both variants see the same load
            faults, cpu = _minor_faults(), time.process_time()
            seconds, in_step = train_epoch(net, opt, nn.BCEWithLogitsLoss(), x_train, y_train,
                                           settings["batch_size"], g)
            faults, cpu = _minor_faults() - faults, time.process_time() - cpu
            eval_seconds = evaluation_pass(net, x_train, y_train, x_test, y_test, args.eval_batch)
            rate = epoch_flops / seconds / 1e9
            results[label].append(seconds)
            shares[label].append(rate / peak)
            print(f"{label:9s} {epoch:5d} {seconds:8.3f} {rate:8.1f} {peak:6.1f} {100 * rate / peak:6.1f}%"
                  f" {cpu / seconds:6.2f} {100 * in_step / seconds:6.1f}% {eval_seconds:7.3f}"
                  f" {100 * eval_seconds / seconds:6.1f}% {faults:7d}")
    for label, times in results.items():
        median = statistics.median(times)
        print(f"{label:9s} median {median:.3f} s/epoch ({epoch_flops / median / 1e9:.1f} GFLOP/s),"
              f" median {100 * statistics.median(shares[label]):.0f} % of the peak measured beside it"
              f" (best epoch {min(times):.3f} s)")
    if args.baseline:
        ratio = statistics.median(results["literal"]) / statistics.median(results["deap_lib"])
        print(f"speed-up of deap_lib over the literal torch.nn version (median epochs): {ratio:.2f}x")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per model (after one warm-up)")
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    parser.add_argument("--models", default="dnn,cnn", help="comma-separated: dnn, cnn")
    parser.add_argument("--optimizer-impl", choices=["foreach", "forloop", "fused"], default="foreach",
                        help="PyTorch optimizer implementation (deap_lib.training uses foreach)")
    parser.add_argument("--baseline", action="store_true",
                        help="also time the literal torch.nn version, interleaved")
    parser.add_argument("--eval-batch", type=int, default=EVAL_BATCH, help="batch size of the evaluation pass")
    parser.add_argument("--peak-size", type=int, default=2048, help="side of the square matmuls")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    g = torch.Generator().manual_seed(args.seed)
    x_train = torch.randn(N_TRAIN, N_CHANNELS, N_FEATURES, generator=g)
    y_train = (torch.rand(N_TRAIN, generator=g) < 0.5).float()
    x_test = torch.randn(N_TEST, N_CHANNELS, N_FEATURES, generator=g)
    y_test = (torch.rand(N_TEST, generator=g) < 0.5).float()

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; fp32 matmul peak"
          f" ({args.peak_size}^2, best of 7): {matmul_peak(args.peak_size):.1f} GFLOP/s")
    for name in args.models.split(","):
        bench_model(name.strip().lower(), args, (x_train, y_train, x_test, y_test))
    print(f"\nfp32 matmul peak after the runs: {matmul_peak(args.peak_size):.1f} GFLOP/s")


if __name__ == "__main__":
    main()
