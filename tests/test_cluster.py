"""Runs on a Dask cluster: a LocalCluster of 2 worker processes stands in for a real one."""

import os
import signal
import stat
import threading
import time

import helpers
import numpy as np
import pytest
import torch

import deap_lib
from deap_lib.experiment import baselines, executor, protocols, splits
from deap_lib.experiment.settings import ExperimentConfig
from deap_lib.store import Store

distributed = pytest.importorskip("distributed")

SMALL_DNN = {"hidden": (64, 32), "p_input": 0.1, "p_hidden": 0.2}
SMALL_CNN = {"conv_channels": (2, 4), "hidden": 8}
#: Fields that say where and how fast a run went, not what it computed.
VOLATILE = ("epoch_seconds", "ran_on")


def config(**kw):
    return ExperimentConfig(**{**dict(model="dnn", epochs=3, batch_size=16, n_test=20, model_kwargs=SMALL_DNN), **kw})


def _cluster(tmp_path_factory, **kwargs):
    # The workers' cache is a folder they cannot write to: results must come home to the client.
    locked = tmp_path_factory.mktemp("worker_cache")
    os.chmod(locked, stat.S_IRUSR | stat.S_IXUSR)
    env = {"DEAP_LIB_CACHE": str(locked / "cache"), "DEAP_LIB_PROGRESS_FILE": ""}
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                       worker_dashboard_address=None, env=env, **kwargs)
    return cluster, locked


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cluster, locked = _cluster(tmp_path_factory)
    try:
        yield cluster.scheduler_address, locked
    finally:
        for client, _, _ in executor._CLUSTERS.values():
            client.close()
        executor._CLUSTERS.clear()
        cluster.close()


def _comparable(records):
    return [{k: v for k, v in r.to_json().items() if k not in VOLATILE} for r in records]


def _assert_same_runs(got, want):
    assert len(got) == len(want)
    for g, w in zip(_comparable(got), _comparable(want)):
        assert g.keys() == w.keys()
        assert g["id"] == w["id"] and g["split"] == w["split"] and g["config"] == w["config"]
        assert g["history"]["test_pred"] == w["history"]["test_pred"]
        np.testing.assert_allclose(g["history"]["loss"], w["history"]["loss"], rtol=1e-5)
        np.testing.assert_allclose(g["test_logits"], w["test_logits"], rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_kfold_and_loso_on_the_cluster_equal_the_serial_runs(cluster, tmp_path):
    address, locked = cluster
    data = helpers.fake_data(3)
    cfg = config()
    serial_cache, cluster_cache = tmp_path / "serial", tmp_path / "client"
    want = protocols.run_kfold(cfg, data, n_folds=4, cache=serial_cache, progress=False)
    want += protocols.run_loso(cfg.replace(model="cnn", model_kwargs=SMALL_CNN), data, holdout=2,
                               cache=serial_cache, progress=False)
    got = protocols.run_kfold(cfg, data, n_folds=4, cache=cluster_cache, progress=False, scheduler=address)
    got += protocols.run_loso(cfg.replace(model="cnn", model_kwargs=SMALL_CNN), data, holdout=2,
                              cache=cluster_cache, progress=False, scheduler=address)
    _assert_same_runs(got, want)
    assert {r.ran_on["worker"] for r in got} <= {0, 1}  # trained on the workers (which ones: Dask decides)
    assert all(r.ran_on["worker"] is None for r in want)
    # ... and stored by the client: the workers' cache stayed empty (it is not even writable).
    client_store = Store(cluster_cache)
    for r, w in zip(got, want):
        assert client_store.intact("weights", r.id) and client_store.read_json("records", r.id) is not None
        theirs, ours = (protocols.load_weights(x, cache=c).state_dict()
                        for x, c in ((r, cluster_cache), (w, serial_cache)))
        assert theirs.keys() == ours.keys()
        for name in ours:
            torch.testing.assert_close(theirs[name], ours[name], rtol=1e-4, atol=1e-5)
    assert list(locked.iterdir()) == []


@pytest.mark.slow
def test_stored_runs_are_not_sent_again_and_the_env_variable_selects_the_cluster(cluster, tmp_path, monkeypatch):
    address, _ = cluster
    data = helpers.fake_data(2, seed=3)
    folds = splits.kfold_splits(len(data.features), n_folds=3, seed=12)
    monkeypatch.setenv(executor.SCHEDULER_ENV, address)
    first = protocols.run_splits(config(), data, folds, scheme="kfold", cache=tmp_path, progress=False)
    assert all(r.ran_on["worker"] is not None for r in first)

    def no_work(*args, **kwargs):
        raise AssertionError("a stored run was trained again")
        yield

    monkeypatch.setattr(executor, "run_tasks", no_work)
    again = protocols.run_splits(config(), data, folds, scheme="kfold", cache=tmp_path, progress=False)
    assert [r.to_json() for r in again] == [r.to_json() for r in first]


@pytest.mark.slow
def test_a_worker_killed_mid_run_still_gives_the_complete_identical_result(tmp_path_factory, tmp_path):
    cluster, _ = _cluster(tmp_path_factory)
    try:
        address = cluster.scheduler_address
        data = helpers.fake_data(3, seed=5)
        cfg = config(epochs=30, batch_size=8)
        folds = splits.kfold_splits(len(data.features), n_folds=4, seed=12)
        client = executor.connect(address)
        pids = client.run(os.getpid)
        killed = threading.Event()

        def kill_when_busy():
            deadline = time.time() + 60
            while time.time() < deadline:  # wait until a worker has runs, let it start, kill it
                busy = [w for w, tasks in client.processing().items() if tasks]
                if busy:
                    time.sleep(1.0)
                    os.kill(pids[busy[0]], signal.SIGKILL)
                    killed.set()
                    return
                time.sleep(0.05)

        killer = threading.Thread(target=kill_when_busy, daemon=True)
        killer.start()
        got = protocols.run_splits(cfg, data, folds, scheme="kfold", cache=tmp_path / "c", progress=False,
                                   scheduler=address)
        killer.join()
        assert killed.is_set()
        want = protocols.run_splits(cfg, data, folds, scheme="kfold", cache=tmp_path / "s", progress=False)
        _assert_same_runs(got, want)
    finally:
        executor._CLUSTERS.pop(cluster.scheduler_address)[0].close()
        cluster.close()


@pytest.mark.slow
def test_baselines_and_permutations_go_to_the_cluster(cluster, tmp_path):
    address, _ = cluster
    data = helpers.fake_data(3, seed=7)
    folds = splits.loso_splits(data.participant, seed=12)
    want = baselines.run_baseline("logreg", data, "valence", folds, cache=tmp_path / "s")
    got = baselines.run_baseline("logreg", data, "valence", folds, cache=tmp_path / "c", scheduler=address)
    assert got == want
    kw = dict(cv=folds, groups=data.participant, n_permutations=5, seed=3)
    assert (baselines.permutation_null("logreg", data, "valence", scheduler=address, **kw)
            == baselines.permutation_null("logreg", data, "valence", **kw))


@pytest.mark.slow
def test_a_worker_without_deap_lib_or_with_other_sources_is_one_clear_error(tmp_path_factory, tmp_path, monkeypatch):
    hide = tmp_path / "hide_deap_lib.py"
    hide.write_text("import sys\nsys.modules['deap_lib'] = None  # as if it were not installed\n")
    cluster, _ = _cluster(tmp_path_factory, preload=[str(hide)])
    try:
        with pytest.raises(executor.ClusterError, match="cannot run deap_lib.*install this project"):
            executor.connect(cluster.scheduler_address)
        data = helpers.fake_data(2)
        with pytest.raises(executor.ClusterError, match="cannot run deap_lib"):
            protocols.run_kfold(config(), data, n_folds=2, cache=tmp_path, progress=False,
                                scheduler=cluster.scheduler_address)
    finally:
        cluster.close()


@pytest.mark.slow
def test_workers_of_another_version_are_refused(cluster, monkeypatch):
    address, _ = cluster
    if address in executor._CLUSTERS:
        executor._CLUSTERS.pop(address)[0].close()
    monkeypatch.setattr(deap_lib, "__version__", "0.0.dev-other")  # here only: the workers keep theirs
    differs = r"differs from this machine: deap_lib '.*' \(here '0.0.dev-other'\)"
    with pytest.raises(executor.ClusterError, match=differs):
        executor.connect(address)


def test_an_unreachable_scheduler_is_one_clear_error_in_a_few_seconds(monkeypatch):
    assert executor.connect_timeout() == executor.CONNECT_TIMEOUT_S <= 5
    monkeypatch.setenv(executor.TIMEOUT_ENV, "1.5")
    start = time.perf_counter()
    with pytest.raises(executor.ClusterError) as err:
        executor.connect("tcp://127.0.0.1:9")
    assert time.perf_counter() - start < 5
    message = str(err.value)
    assert message.startswith("cannot reach the Dask scheduler at 'tcp://127.0.0.1:9' within 1.5 s")
    assert "\n" not in message
    assert executor.TIMEOUT_ENV in message
    monkeypatch.setenv(executor.TIMEOUT_ENV, "soon")
    with pytest.raises(ValueError, match=f"{executor.TIMEOUT_ENV} must be a number of seconds > 0, got 'soon'"):
        executor.connect("tcp://127.0.0.1:9")


def test_the_device_is_part_of_a_run_and_each_gpu_worker_uses_its_own(monkeypatch):
    data = helpers.fake_data(2)
    split = splits.fixed_split(len(data.features), n_test=20, seed=12)
    assert (protocols.run_id(config(), data, split, "fixed", "cpu")
            != protocols.run_id(config(), data, split, "fixed", "cuda"))
    assert executor.device_kind("cpu", None) == "cpu" and executor.device_kind("cuda:1", None) == "cuda"
    monkeypatch.setattr(executor, "cluster_facts", lambda address: {"a": {"cuda_devices": 1}, "b": {"cuda_devices": 0}})
    with pytest.raises(executor.ClusterError, match="1 of the 2 Dask workers have a GPU"):
        executor.device_kind(None, "tcp://x:1")
    monkeypatch.setattr(executor, "cluster_facts", lambda address: {"a": {"cuda_devices": 4}, "b": {"cuda_devices": 4}})
    assert executor.device_kind(None, "tcp://x:1") == "cuda"
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    monkeypatch.setattr(executor, "worker_name", lambda: 6)
    assert executor.task_device("cuda") == torch.device("cuda", 2)
    assert executor.task_device("cpu") == torch.device("cpu")
    monkeypatch.setattr(executor, "worker_name", lambda: None)
    assert [executor.task_device("cuda", slot).index for slot in range(5)] == [0, 1, 2, 3, 0]


def test_scheduler_resolution(monkeypatch):
    monkeypatch.delenv(executor.SCHEDULER_ENV, raising=False)
    assert executor.resolve_scheduler(None) is None
    monkeypatch.setenv(executor.SCHEDULER_ENV, "tcp://10.0.0.1:8786")
    assert executor.resolve_scheduler(None) == "tcp://10.0.0.1:8786"
    assert executor.resolve_scheduler("tcp://h:1") == "tcp://h:1"
    monkeypatch.setenv(executor.SCHEDULER_ENV, "  ")
    assert executor.resolve_scheduler(None) is None


@pytest.mark.slow
def test_stacked_folds_on_the_cluster_are_shared_out_and_equal_the_plain_runs(cluster, tmp_path):
    address, _ = cluster
    data = helpers.fake_data(3, seed=11)
    cfg = config(epochs=3)
    plain = protocols.run_kfold(cfg, data, n_folds=4, cache=tmp_path / "plain", progress=False)
    got = protocols.run_kfold(cfg, data, n_folds=4, cache=tmp_path / "stacked", progress=False, scheduler=address,
                              stacked=True)
    assert all(r.stack_size == 2 for r in got)  # 4 folds, 2 workers: two stacks of two
    assert {r.ran_on["worker"] for r in got} <= {0, 1}
    assert all(r.stack_size == 1 for r in plain)
    _assert_same_runs(got, plain)
