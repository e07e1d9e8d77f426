"""Ending a command ends its work: local worker processes die with their parent, even when it is
SIGKILLed; Ctrl-C on ``python -m deap_lib book`` is one line saying what is stored."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"  # a zombie has ended (its new parent reaps it when it can)


def _wait_for(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
def test_local_workers_end_when_their_parent_is_killed(tmp_path):
    script = tmp_path / "parent.py"
    script.write_text(textwrap.dedent(f"""
        import os, time
        from deap_lib.experiment import executor

        def work(shared, i):
            open(os.path.join({str(tmp_path)!r}, f"worker{{os.getpid()}}"), "w").close()
            time.sleep(120)

        list(executor.run_tasks(work, [(0,), (1,)], n_jobs=2))
    """))
    parent = subprocess.Popen([sys.executable, str(script)], cwd=ROOT, stderr=subprocess.DEVNULL)
    try:
        assert _wait_for(lambda: len(list(tmp_path.glob("worker*"))) == 2, 60), "the workers did not start"
        workers = [int(p.name.removeprefix("worker")) for p in tmp_path.glob("worker*")]
        assert all(_alive(pid) for pid in workers)
        parent.kill()
        parent.wait()
        assert _wait_for(lambda: not any(_alive(pid) for pid in workers), 10), "workers outlived their parent"
    finally:
        parent.kill()
        for pid in [int(p.name.removeprefix("worker")) for p in tmp_path.glob("worker*")]:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat_file.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(stat_file.parent.name))
    found, todo = [], [pid]
    while todo:
        kids = children.get(todo.pop(), [])
        found += kids
        todo += kids
    return found


# as in a terminal, even if SIGINT is ignored here
_DEFAULT_CTRL_C = ("import runpy, signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
                   "runpy.run_module('deap_lib', run_name='__main__')")


@pytest.mark.slow  # starts a notebook kernel
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
def test_ctrl_c_on_book_is_one_line_and_ends_the_kernel(tmp_path):
    log = tmp_path / "out.txt"
    env = {**os.environ, "DEAP_LIB_CACHE": str(tmp_path / "cache")}
    cmd = [sys.executable, "-c", _DEFAULT_CTRL_C, "book", "--profile", "smoke", "--out", str(tmp_path / "b"),
           "--no-build", "--chapters", "01_data"]
    with open(log, "w") as out:
        book = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        assert _wait_for(lambda: _descendants(book.pid), 60), "no kernel started"
        time.sleep(2.0)  # the kernel is running the chapter's cells
        kernel_and_workers = _descendants(book.pid)
        os.killpg(book.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole foreground group
        assert book.wait(30) == 130
    finally:
        book.kill()
    lines = log.read_text().splitlines()
    assert lines[-1] == ("interrupted: no chapter finished; 01_data stopped (its finished runs are stored); "
                         "run the same command again to resume")
    assert [line for line in lines[:-1] if not line.startswith(("[1/1] executing 01_data", "  01_data: "))] == []
    assert _wait_for(lambda: not any(_alive(pid) for pid in kernel_and_workers), 10)


def test_the_interrupted_line_names_what_is_stored():
    from deap_lib.report.driver import ChaptersInterrupted

    assert str(ChaptersInterrupted(["01_data", "02_models"], "03_fixed_split")) == (
        "chapter(s) 01_data, 02_models done and stored; 03_fixed_split stopped (its finished runs are stored); "
        "run the same command again to resume")


def test_the_dead_kernel_log_line_is_dropped_and_other_lines_kept():
    import logging

    from deap_lib.report import driver

    f = driver._NoDeadKernelLine()

    def record(msg):
        return logging.LogRecord("papermill", logging.ERROR, __file__, 1, msg, None, None)

    assert not f.filter(record("Kernel died while waiting for execute reply."))
    assert f.filter(record("Executing notebook with kernel: python3"))
