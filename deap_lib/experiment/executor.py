"""Where independent tasks run: in this process, in local worker processes, or on a Dask cluster.

Every protocol is a list of independent runs (folds, experiments, held-out participants, 5x2
repetitions) and every baseline a list of independent fits. :func:`run_tasks` sends them to

- this process, one after the other (``n_jobs=1``, no scheduler: the default);
- ``n_jobs`` local worker processes (joblib), the machine's threads shared out between them;
- an existing Dask cluster when a scheduler address is given (:func:`resolve_scheduler`: an
  argument, else ``$DASK_SCHEDULER_ADDRESS``), whatever ``n_jobs`` says. The data every task
  needs (``shared``) is sent once per worker (``Client.scatter(..., broadcast=True)``), tasks
  return their results to the client, and a worker lost mid-task has its task retried elsewhere
  by Dask. Workers need ``deap_lib`` (the same source as the client) but no cache and no data
  folder: :func:`connect` checks them first and fails with one clear error otherwise.

Results come back as ``(index, result)`` pairs in the order they finish; callers store them
(only the client writes to the store, so nothing is half-written when a worker dies).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import platform
import signal
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import deap_lib

#: Dask's own environment variable for the scheduler's address (``dask.config``'s ``scheduler-address``).
SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"
#: How long :func:`connect` waits for the scheduler and for at least one worker, in seconds
#: (``$DEAP_LIB_SCHEDULER_TIMEOUT`` overrides it).
CONNECT_TIMEOUT_S = 5
TIMEOUT_ENV = "DEAP_LIB_SCHEDULER_TIMEOUT"


class ClusterError(RuntimeError):
    """The Dask cluster cannot run this project's tasks (unreachable, no workers, wrong environment)."""


def check_device(name: str | None, scheduler: str | None = None) -> None:
    """Refuse, before any work, a device this machine cannot train on (``"cuda"`` without CUDA).

    With a Dask scheduler (an argument or ``$DASK_SCHEDULER_ADDRESS``) the runs execute on its
    workers, not here: nothing is checked (:func:`device_kind` asks them).
    """
    if name is None or resolve_scheduler(scheduler) is not None:
        return
    import torch

    device = torch.device(name)
    if device.type != "cuda":
        return
    if not torch.cuda.is_available():
        raise ValueError(f"device {name!r} asked for, but this torch has no CUDA (torch.cuda.is_available() is False); "
                         "use --device cpu (papermill: -p device cpu)")
    if device.index is not None and device.index >= torch.cuda.device_count():
        raise ValueError(f"device {name!r} asked for, but this machine has {torch.cuda.device_count()} CUDA device(s)")


def connect_timeout() -> float:
    """Seconds to wait for a scheduler and its first worker: ``$DEAP_LIB_SCHEDULER_TIMEOUT``, else
    :data:`CONNECT_TIMEOUT_S`."""
    text = os.environ.get(TIMEOUT_ENV, "").strip()
    if not text:
        return CONNECT_TIMEOUT_S
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0 or value == float("inf"):
        raise ValueError(f"${TIMEOUT_ENV} must be a number of seconds > 0, got {text!r}")
    return value


def resolve_scheduler(address: str | None = None) -> str | None:
    """The Dask scheduler to use: ``address``, else ``$DASK_SCHEDULER_ADDRESS``, else None (local)."""
    address = address or os.environ.get(SCHEDULER_ENV) or None
    return None if address is None else str(address).strip() or None


def source_fingerprint() -> str:
    """SHA-256 of ``deap_lib``'s Python sources: equal on two machines when they run the same code."""
    root = Path(deap_lib.__file__).parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def worker_facts() -> dict:
    """What a process can run: the project's version and sources, torch, and its GPUs."""
    import torch

    return {
        "deap_lib": deap_lib.__version__,
        "source": source_fingerprint(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda_devices": torch.cuda.device_count() if torch.cuda.is_available() else 0,
        "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1,
    }


_CLIENTS: dict[str, Any] = {}
_SHARES: dict[str, dict] = {}  # scheduler address -> {worker address: torch threads per task}
_FACTS: dict[str, dict] = {}  # scheduler address -> {worker address: worker_facts()} when connected


def connect(address: str):
    """A ``distributed.Client`` for ``address`` whose workers were checked (once per process).

    Raises
    ------
    ClusterError
        When the scheduler cannot be reached, has no worker within :func:`connect_timeout`,
        or a worker cannot import ``deap_lib`` or runs other sources, Python or torch than here.
    """
    client = _CLIENTS.get(address)
    if client is not None and client.status == "running":
        return client
    try:
        from distributed import Client
    except ImportError:  # pragma: no cover - distributed is in requirements.txt
        raise ClusterError("a Dask scheduler was given but the 'distributed' package is not installed") from None
    timeout = connect_timeout()
    try:
        client = Client(address, timeout=timeout, set_as_default=False)
    except Exception as err:  # noqa: BLE001 - refused, timed out, or something else answering there
        raise ClusterError(f"cannot reach the Dask scheduler at {address!r} within {timeout:g} s "
                           f"(argument or ${SCHEDULER_ENV}; wait longer with ${TIMEOUT_ENV}=SECONDS): "
                           f"{_first_line(err)}") from None
    try:
        client.wait_for_workers(1, timeout=timeout)
    except TimeoutError:
        client.close()
        raise ClusterError(f"the Dask scheduler at {address!r} has no worker after {timeout:g} s "
                           f"(wait longer with ${TIMEOUT_ENV}=SECONDS)") from None
    facts = _check_workers(client, address)
    _FACTS[address] = facts
    workers = client.scheduler_info()["workers"]
    _SHARES[address] = _thread_shares(facts, client.nthreads(), {w: info["host"] for w, info in workers.items()})
    _CLIENTS[address] = client
    return client


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


def _check_workers(client, address: str) -> dict:
    here = worker_facts()
    try:
        facts = client.run(worker_facts)
    except Exception as err:  # a worker that cannot unpickle the check lacks deap_lib
        client.close()
        raise ClusterError(f"a worker of the Dask cluster at {address!r} cannot run deap_lib ({err}); "
                           "install this project in the workers' environment (pip install -e <this repository>)") from None
    for worker, theirs in sorted(facts.items()):
        differ = [f"{k} {theirs[k]!r} (here {here[k]!r})" for k in ("deap_lib", "source", "python", "torch")
                  if theirs[k] != here[k]]
        if differ:
            client.close()
            what = "; ".join(d if not d.startswith("source") else "other deap_lib sources" for d in differ)
            raise ClusterError(f"worker {worker} of the Dask cluster at {address!r} differs from this machine: "
                               f"{what}; results would not be comparable: install the same version on every worker")
    return facts


def cluster_facts(address: str) -> dict[str, dict]:
    """:func:`worker_facts` of every worker of the cluster at ``address``, by worker address (as
    checked when connecting)."""
    connect(address)
    return _FACTS[address]


def device_kind(device, scheduler: str | None) -> str:
    """The kind of device runs will train on ("cpu" or "cuda"): part of every run's identity.

    ``device`` given: its kind. Otherwise CUDA where the runs execute has it: this machine, or
    every worker of the cluster (workers that disagree are an error: name a device).
    """
    import torch

    if device is not None:
        return torch.device(device).type
    if scheduler is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    counts = [f["cuda_devices"] for f in cluster_facts(scheduler).values()]
    with_gpu = sum(c > 0 for c in counts)
    if 0 < with_gpu < len(counts):
        raise ClusterError(f"{with_gpu} of the {len(counts)} Dask workers have a GPU and the others do not: "
                           "runs on them would differ; pass a device (--device cpu or cuda)")
    return "cuda" if with_gpu else "cpu"


def task_device(kind: str, slot: int = 0):
    """The device of one task of ``kind``: each Dask worker on a many-GPU machine uses its own GPU.

    ``slot`` tells local tasks apart (their index); in a Dask worker its name does (a worker
    started with one GPU visible, as dask-cuda does, always uses ``cuda:0``).
    """
    import torch

    if kind != "cuda":
        return torch.device(kind)
    count = torch.cuda.device_count()
    name = worker_name()
    if name is not None:
        slot = int(name) if str(name).isdigit() else zlib.crc32(str(name).encode())
    return torch.device("cuda", slot % max(count, 1))


def parallelism(n_jobs: int, scheduler: str | None, n_tasks: int) -> int:
    """How many tasks run at once: the cluster's worker threads, else ``n_jobs`` (at most ``n_tasks``)."""
    if scheduler is not None:
        return max(1, min(sum(connect(scheduler).nthreads().values()), n_tasks))
    return max(1, min(n_jobs, n_tasks))


def worker_name():
    """The name of the Dask worker running this code (an int on a LocalCluster), else None."""
    try:
        from distributed import get_worker

        return get_worker().name
    except (ImportError, ValueError):
        return None


def _call(index: int, fn: Callable, shared: Any, args: tuple, threads: int | dict | None):
    """Run one task; ``threads``: torch's threads here, or ``{Dask worker address: threads}``."""
    torch = sys.modules.get("torch")  # only where a task trains a model (the baselines need no torch)
    if isinstance(threads, dict):
        from distributed import get_worker

        threads = threads.get(get_worker().address)
    if torch is not None and threads:
        torch.set_num_threads(threads)
    return index, fn(shared, *args)


_WATCHED: list = []  # the parent this worker process watches (set once, by its first task)


def _call_in_worker(parent: int, index: int, fn: Callable, shared: Any, args: tuple, threads: int):
    """:func:`_call` in a local worker process, which ends with the process ``parent`` that started
    it, however that one ends (even SIGKILL), and leaves Ctrl-C to it (it stops the workers)."""
    if not _WATCHED and os.getpid() != parent:
        _WATCHED.append(parent)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        threading.Thread(target=_end_with, args=(parent,), daemon=True, name="deap_lib-parent-watch").start()
    return _call(index, fn, shared, args, threads)


def _end_with(parent: int, every_s: float = 0.5) -> None:
    while os.getppid() == parent:  # a parent that dies leaves this process to another (init, a subreaper)
        time.sleep(every_s)
    os._exit(1)


def _thread_shares(facts: dict, nthreads: dict, hosts: dict) -> dict:
    """Torch threads per task on each worker: its host's cores shared by every task slot there."""
    slots: dict = {}
    for worker, n in nthreads.items():
        slots[hosts[worker]] = slots.get(hosts[worker], 0) + n
    return {w: max(1, facts[w]["cpus"] // slots[hosts[w]]) for w in nthreads if w in facts}


def run_tasks(
    fn: Callable,
    tasks: list[tuple],
    *,
    shared: Any = None,
    n_jobs: int = 1,
    scheduler: str | None = None,
    retries: int = 2,
) -> Iterator[tuple[int, Any]]:
    """Call ``fn(shared, *task)`` for every task; yield ``(index, result)`` as each finishes.

    ``fn`` must be a module-level function (it travels to worker processes by reference).
    ``scheduler``: a Dask scheduler address (see :func:`resolve_scheduler`; the caller resolves
    the environment variable); with one, ``n_jobs`` is ignored and ``shared`` is sent once to
    every worker. ``retries``: how often Dask retries a task that raised (a worker lost mid-task
    is retried by Dask in any case).
    """
    if not tasks:
        return
    if scheduler is not None:
        yield from _run_dask(fn, tasks, shared, connect(scheduler), _SHARES.get(scheduler), retries)
        return
    n_jobs = parallelism(n_jobs, None, len(tasks))
    if n_jobs == 1:
        for i, args in enumerate(tasks):
            yield _call(i, fn, shared, args, None)
        return
    from joblib import Parallel, delayed

    threads = max(1, (os.cpu_count() or 1) // n_jobs)
    calls = (delayed(_call_in_worker)(os.getpid(), i, fn, shared, args, threads) for i, args in enumerate(tasks))
    yield from Parallel(n_jobs=n_jobs, return_as="generator_unordered")(calls)


def _run_dask(fn: Callable, tasks: list[tuple], shared: Any, client, threads: dict | None,
              retries: int) -> Iterator[tuple[int, Any]]:
    from distributed import as_completed

    [shared_future] = client.scatter([shared], broadcast=True, hash=False)  # a list: a tuple would be split
    futures = [client.submit(_call, i, fn, shared_future, args, threads, pure=False, retries=retries)
               for i, args in enumerate(tasks)]
    try:
        for future in as_completed(futures, loop=client.loop):
            yield future.result()
            future.release()
    finally:
        for future in futures:
            future.cancel()
        shared_future.release()


@contextlib.contextmanager
def joblib_backend(scheduler: str | None, n_jobs: int, scatter: list | None = None):
    """For library calls that parallelise through joblib (scikit-learn's ``n_jobs``): yields the
    ``n_jobs`` to pass. With a scheduler, joblib's Dask backend sends the calls to the cluster
    (``scatter``: large arguments sent once) and every worker thread is used (``n_jobs=-1``)."""
    if scheduler is None:
        yield n_jobs
        return
    from joblib import parallel_config

    with parallel_config(backend="dask", client=connect(scheduler), scatter=scatter):
        yield -1
