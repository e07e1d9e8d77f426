"""Where independent tasks (runs, baseline fits) execute: here, in local worker processes, or on a Dask cluster
whose workers have ``deap_lib`` (the same code) but no cache and no data folder; only the client stores results."""

from __future__ import annotations

import contextlib
import functools
import math
import os
import platform
import signal
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import deap_lib
from deap_lib import fingerprint

#: Dask's own environment variable for the scheduler's address.
SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"
#: Seconds :func:`connect` waits for the scheduler and for a first worker (``$DEAP_LIB_SCHEDULER_TIMEOUT``).
CONNECT_TIMEOUT_S = 5
TIMEOUT_ENV = "DEAP_LIB_SCHEDULER_TIMEOUT"


class ClusterError(RuntimeError):
    """The Dask cluster cannot run this project's tasks (unreachable, no workers, another environment)."""


def check_device(name: str | None, scheduler: str | None = None) -> None:
    """Refuse, before any work, a device this machine lacks (``"cuda"`` without CUDA); with a scheduler
    (argument or ``$DASK_SCHEDULER_ADDRESS``), its workers run the runs: nothing is checked."""
    if name is None or resolve_scheduler(scheduler) is not None:
        return
    import torch

    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} asked for, but this torch has no CUDA (torch.cuda.is_available() is False); "
                         "use --device cpu (papermill: -p device cpu)")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ValueError(f"device {name!r} asked for, but this machine has {torch.cuda.device_count()} CUDA device(s)")


def connect_timeout() -> float:
    """Seconds to wait for a scheduler and its first worker: ``$DEAP_LIB_SCHEDULER_TIMEOUT`` or the default."""
    text = os.environ.get(TIMEOUT_ENV, "").strip()
    try:
        value = float(text) if text else CONNECT_TIMEOUT_S
    except ValueError:
        value = math.nan
    if not 0 < value < math.inf:
        raise ValueError(f"${TIMEOUT_ENV} must be a number of seconds > 0, got {text!r}")
    return value


def resolve_scheduler(address: str | None = None) -> str | None:
    """The Dask scheduler to use: ``address``, else ``$DASK_SCHEDULER_ADDRESS``, else None (this machine)."""
    return str(address or os.environ.get(SCHEDULER_ENV) or "").strip() or None


def worker_facts() -> dict:
    """What a process runs: deap_lib's version and code fingerprint, Python, torch, its GPUs and CPUs."""
    import torch

    return {"deap_lib": deap_lib.__version__, "source": fingerprint.package(), "python": platform.python_version(),
            "torch": torch.__version__, "cuda_devices": torch.cuda.device_count() if torch.cuda.is_available() else 0,
            "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1}


#: Scheduler address -> (its checked client, {worker: worker_facts()}, {worker: torch threads per task}).
_CLUSTERS: dict[str, tuple[Any, dict, dict]] = {}


def connect(address: str):
    """A ``distributed.Client`` for ``address`` whose workers were checked (once per process); ClusterError when
    no scheduler or worker answers in time or a worker lacks deap_lib or runs other code, Python or torch."""
    if address in _CLUSTERS and _CLUSTERS[address][0].status == "running":
        return _CLUSTERS[address][0]
    from distributed import Client

    timeout = connect_timeout()
    try:
        client = Client(address, timeout=timeout, set_as_default=False)
    except Exception as err:  # noqa: BLE001 - refused, timed out, or something else answering there
        raise ClusterError(f"cannot reach the Dask scheduler at {address!r} within {timeout:g} s "
                           f"(argument or ${SCHEDULER_ENV}; wait longer with ${TIMEOUT_ENV}=SECONDS): "
                           f"{(str(err).strip().splitlines() or [type(err).__name__])[0]}") from None
    try:
        client.wait_for_workers(1, timeout=timeout)
    except TimeoutError:
        client.close()
        raise ClusterError(f"the Dask scheduler at {address!r} has no worker after {timeout:g} s "
                           f"(wait longer with ${TIMEOUT_ENV}=SECONDS)") from None
    here = worker_facts()
    try:
        facts = client.run(worker_facts)
    except Exception as err:  # a worker that cannot unpickle the check lacks deap_lib
        client.close()
        raise ClusterError(f"a worker of the Dask cluster at {address!r} cannot run deap_lib ({err}); install this "
                           "project in the workers' environment (pip install -e <this repository>)") from None
    for worker, theirs in sorted(facts.items()):
        differ = [f"{k} {theirs[k]!r} (here {here[k]!r})" if k != "source" else "other deap_lib sources"
                  for k in ("deap_lib", "source", "python", "torch") if theirs[k] != here[k]]
        if differ:
            client.close()
            raise ClusterError(f"worker {worker} of the Dask cluster at {address!r} differs from this machine: "
                               f"{'; '.join(differ)}; results would not be comparable: install the same version "
                               "on every worker")
    nthreads = client.nthreads()
    hosts = {w: info["host"] for w, info in client.scheduler_info()["workers"].items()}
    slots = {host: sum(n for w, n in nthreads.items() if hosts[w] == host) for host in hosts.values()}
    threads = {w: max(1, facts[w]["cpus"] // slots[hosts[w]]) for w in nthreads if w in facts}
    _CLUSTERS[address] = (client, facts, threads)
    return client


def cluster_facts(address: str) -> dict[str, dict]:
    """:func:`worker_facts` of every worker of the cluster at ``address``, by worker address."""
    connect(address)
    return _CLUSTERS[address][1]


def device_kind(device, scheduler: str | None) -> str:
    """The kind of device runs train on ("cpu" or "cuda"), part of every run's identity: ``device``'s, else
    CUDA where the runs execute has it (here, or every worker: workers that disagree are a ClusterError)."""
    import torch

    if device is not None:
        return torch.device(device).type
    if scheduler is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    with_gpu = [f["cuda_devices"] > 0 for f in cluster_facts(scheduler).values()]
    if any(with_gpu) and not all(with_gpu):
        raise ClusterError(f"{sum(with_gpu)} of the {len(with_gpu)} Dask workers have a GPU and the others do not: "
                           "runs on them would differ; pass a device (--device cpu or cuda)")
    return "cuda" if any(with_gpu) else "cpu"


def task_device(kind: str, slot: int = 0):
    """The device of one task of ``kind``: a GPU per local ``slot`` (the task's index), or per Dask worker
    name (a worker started with one GPU visible, as dask-cuda does, uses ``cuda:0``)."""
    import torch

    if kind != "cuda":
        return torch.device(kind)
    if (name := worker_name()) is not None:
        slot = int(name) if str(name).isdigit() else zlib.crc32(str(name).encode())
    return torch.device("cuda", slot % max(torch.cuda.device_count(), 1))


def parallelism(n_jobs: int, scheduler: str | None, n_tasks: int) -> int:
    """How many tasks run at once: the cluster's worker threads, else ``n_jobs`` (at most ``n_tasks``)."""
    slots = n_jobs if scheduler is None else sum(connect(scheduler).nthreads().values())
    return max(1, min(slots, n_tasks))


def worker_name():
    """The name of the Dask worker running this code (an int on a LocalCluster), else None."""
    with contextlib.suppress(ImportError, ValueError):  # no distributed, or not in a Dask worker
        from distributed import get_worker

        return get_worker().name
    return None


def _call(index: int, fn: Callable, shared: Any, args: tuple, threads: int | dict | None, parent: int | None = None):
    """Run one task; ``threads``: torch's threads here, or ``{Dask worker address: threads}``. In a local worker
    process (of ``parent``, a process id), first make it end with its parent (even SIGKILLed) and leave Ctrl-C to it."""
    if parent is not None and os.getpid() != parent:
        _watch(parent)
    torch = sys.modules.get("torch")  # only where a task trains a model (the baselines need no torch)
    if isinstance(threads, dict):
        from distributed import get_worker

        threads = threads.get(get_worker().address)
    if torch is not None and threads:
        torch.set_num_threads(threads)
    return index, fn(shared, *args)


@functools.cache  # once per worker process
def _watch(parent: int) -> None:
    def end_with_parent():
        while os.getppid() == parent:  # a parent that dies leaves this process to another (init, a subreaper)
            time.sleep(0.5)
        os._exit(1)

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=end_with_parent, daemon=True, name="deap_lib-parent-watch").start()


def run_tasks(fn: Callable, tasks: list[tuple], *, shared: Any = None, n_jobs: int = 1, scheduler: str | None = None,
              retries: int = 2) -> Iterator[tuple[int, Any]]:
    """Call ``fn(shared, *task)`` (a module-level ``fn``) for every task; yield ``(index, result)`` as each finishes:
    here, in ``n_jobs`` processes, or on the cluster at ``scheduler`` (resolved; ``shared`` sent once per worker, a
    task that raised retried ``retries`` times, one of a lost worker by Dask)."""
    if not tasks:
        return
    n_jobs = parallelism(n_jobs, None, len(tasks))
    if scheduler is not None:
        from distributed import as_completed

        client = connect(scheduler)
        [shared_future] = client.scatter([shared], broadcast=True, hash=False)  # a list: a tuple would be split
        futures = [client.submit(_call, i, fn, shared_future, args, _CLUSTERS[scheduler][2], pure=False,
                                 retries=retries) for i, args in enumerate(tasks)]
        try:
            for future in as_completed(futures, loop=client.loop):
                yield future.result()
                future.release()
        finally:
            client.cancel(futures)
            shared_future.release()
    elif n_jobs == 1:
        yield from (_call(i, fn, shared, args, None) for i, args in enumerate(tasks))
    else:
        from joblib import Parallel, delayed

        threads = max(1, (os.cpu_count() or 1) // n_jobs)
        calls = (delayed(_call)(i, fn, shared, args, threads, os.getpid()) for i, args in enumerate(tasks))
        yield from Parallel(n_jobs=n_jobs, return_as="generator_unordered")(calls)


@contextlib.contextmanager
def joblib_backend(scheduler: str | None, n_jobs: int, scatter: list | None = None):
    """Yield the ``n_jobs`` for a library call that parallelises through joblib (scikit-learn's): ``n_jobs``
    here; with a scheduler, -1 inside joblib's Dask backend (``scatter``: large arguments sent once)."""
    if scheduler is None:
        yield n_jobs
        return
    from joblib import parallel_config

    with parallel_config(backend="dask", client=connect(scheduler), scatter=scatter):
        yield -1
