"""Executing the chapters with papermill and building the book (``make book``, ``make test``).

Each chapter is stamped with what it was executed with in ``<book>/chapters/.executed.json``. As a
Sphinx extension (:func:`setup`, in ``_config.yml``), a plain ``jupyter-book build book`` first executes
the stale chapters, with ``$DEAP_LIB_PROFILE`` (else the last profile, else ``quick``) and the data of
``$DEAP_DIR`` / ``$MAHNOB_DIR`` when set (else the last used).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import ensure_event_loop

from deap_lib import fingerprint
from deap_lib.data.deap_format import DEAP_DIR_ENV
from deap_lib.data.mahnob_format import MAHNOB_DIR_ENV
from deap_lib.experiment.settings import PROFILE_ENV, load_profile
from deap_lib.store import atomic_write_text, stable_hash

#: The chapters in reading order (notebooks/NN_topic.py).
CHAPTERS = ("01_data", "02_models", "03_fixed_split", "04_kfold", "05_honest", "06_mahnob")
ROOT = Path(__file__).resolve().parents[2]
#: Where the training engine appends one line per finished run while a chapter executes.
PROGRESS_ENV = "DEAP_LIB_PROGRESS_FILE"
STAMP = ".executed.json"
#: Parameters that say where runs execute, not what they compute: a change never makes a chapter stale.
WHERE_ONLY = ("scheduler",)


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _source_hash(name: str, notebooks: Path) -> str:
    src = notebooks / f"{name}.py"
    return hashlib.sha256(src.read_bytes()).hexdigest()[:16] if src.exists() else ""


def _wanted(profile: str, parameters: dict | None) -> dict:
    """What a chapter's execution depends on: the profile's name and values, the parameters that
    change results, and the code of all of deap_lib."""
    kept = {k: v for k, v in (parameters or {}).items() if k not in WHERE_ONLY}
    try:
        values = stable_hash(load_profile(profile))
    except (OSError, ValueError):  # a profile that cannot be read now: only its name is compared
        values = None
    return {"profile": str(profile), "profile_values": values, "parameters": dict(sorted(kept.items())),
            "code": fingerprint.package()}


def read_stamps(chapters_dir: Path) -> dict:
    """What each chapter in ``chapters_dir`` was executed with (empty when never)."""
    try:
        return json.loads((Path(chapters_dir) / STAMP).read_text())
    except (OSError, ValueError):
        return {}


def stale_chapters(chapters_dir: Path, profile: str, parameters: dict | None = None, *,
                   notebooks: Path = ROOT / "notebooks") -> list[str]:
    """The chapters that are missing, or were executed with other parameters or another source."""
    stamps, wanted = read_stamps(chapters_dir), _wanted(profile, parameters)

    def executed_with(name):
        return {k: v for k, v in stamps.get(name, {}).items() if k != "seconds"}

    return [name for name in CHAPTERS if not (Path(chapters_dir) / f"{name}.ipynb").exists()
            or executed_with(name) != {**wanted, "source": _source_hash(name, Path(notebooks))}]


def _sync_pair(name: str, notebooks: Path) -> Path:
    """The chapter's ``.ipynb``, rewritten from its jupytext ``.py`` only when their cells differ."""
    import jupytext

    src, ipynb = notebooks / f"{name}.py", notebooks / f"{name}.ipynb"
    if src.exists():
        text = jupytext.read(src)
        if not ipynb.exists() or [c.source for c in jupytext.read(ipynb).cells] != [c.source for c in text.cells]:
            jupytext.write(text, ipynb)
    return ipynb


@contextmanager
def _progress(path: Path, name: str):
    """Prints the lines the training engine appends to ``path`` (named in ``$DEAP_LIB_PROGRESS_FILE``)."""
    path.write_text("")
    os.environ[PROGRESS_ENV] = str(path.resolve())
    stop = threading.Event()

    def follow():
        seen, stopping = 0, False
        while not stopping:
            stopping = stop.wait(2.0)
            lines = path.read_text().splitlines() if path.exists() else []
            for line in lines[seen:]:
                _say(f"  {name}: {line}")
            seen = len(lines)

    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        path.unlink(missing_ok=True)
        os.environ.pop(PROGRESS_ENV, None)


def execute_chapters(profile: str = "quick", *, notebooks: str | os.PathLike = ROOT / "notebooks",
                     out: str | os.PathLike = ROOT / "book" / "chapters", chapters: tuple[str, ...] = CHAPTERS,
                     parameters: dict | None = None) -> dict[str, float]:
    """Execute ``chapters`` in order with papermill into ``out``, each with the parameters it declares;
    return each one's wall time (s). A failing chapter raises papermill's error (those before it keep
    their stamps); Ctrl-C raises :class:`ChaptersInterrupted`."""
    import papermill

    load_profile(profile)  # fail early on a bad name
    if str(profile).endswith((".yml", ".yaml")):
        profile = str(Path(profile).resolve())  # the kernels run in the output folder
    notebooks, out = Path(notebooks), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    logging.getLogger("papermill").addFilter(_DEAD_KERNEL_LINE)  # added once: the same filter
    stamps, times = read_stamps(out), {}
    for i, name in enumerate(chapters, 1):
        ipynb = _sync_pair(name, notebooks)
        declared = papermill.inspect_notebook(str(ipynb))
        params = {k: v for k, v in {"profile": profile, **(parameters or {})}.items() if k in declared}
        before = stamps.get(name, {})
        estimate = (f", about {before['seconds']:.0f} s last time with these parameters"
                    if before.get("seconds") and before.get("profile") == str(profile) else "")
        _say(f"[{i}/{len(chapters)}] executing {name} (profile {Path(str(profile)).stem}{estimate}) ...")
        start = time.perf_counter()
        try:
            with _progress(out / f".{name}.progress", name):
                papermill.execute_notebook(str(ipynb), str(out / f"{name}.ipynb"), parameters=params,
                                           progress_bar=False, cwd=str(out),
                                           kernel_manager_class="deap_lib.report.driver.QuietKernelManager")
        except KeyboardInterrupt:
            ensure_event_loop().set_exception_handler(_quiet_abandoned_cell)
            raise ChaptersInterrupted(list(times), name) from None
        _hide_injected_parameters(out / f"{name}.ipynb")
        times[name] = time.perf_counter() - start
        stamps[name] = {**_wanted(profile, parameters), "source": _source_hash(name, notebooks),
                        "seconds": round(times[name], 1)}
        atomic_write_text(out / STAMP, json.dumps(stamps, indent=1))
        _say(f"[{i}/{len(chapters)}] {name}: {times[name]:.0f} s")
    return times


class ChaptersInterrupted(KeyboardInterrupt):
    """Ctrl-C while chapters execute; its message says which were finished and stored."""

    def __init__(self, done: list[str], stopped: str):
        finished = f"chapter(s) {', '.join(done)} done and stored" if done else "no chapter finished"
        super().__init__(f"{finished}; {stopped} stopped (its finished runs are stored); "
                         "run the same command again to resume")


class _NoDeadKernelLine(logging.Filter):
    """Drops nbclient's "Kernel died while waiting for execute reply." (after Ctrl-C, which reaches the
    kernel too, it could come before the one-line message); a kernel that really dies still fails its
    chapter with papermill's ``DeadKernelError``."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Kernel died while waiting for execute reply")


_DEAD_KERNEL_LINE = _NoDeadKernelLine()


def _quiet_abandoned_cell(loop, context) -> None:
    """asyncio's exception handler after Ctrl-C: papermill's task for the interrupted cell fails unread."""
    if context.get("message") != "Task exception was never retrieved":
        loop.default_exception_handler(context)


class QuietKernelManager(AsyncKernelManager):
    """Kernels over local sockets (IPC) in a private temporary folder, not TCP ports; shut down
    without the interrupt that makes an idle kernel log an error."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.transport = "ipc"
        self.ip = str(Path(tempfile.mkdtemp(prefix="deap-lib-kernel-")) / "kernel")

    async def _async_interrupt_kernel(self):
        # jupyter_client sends SIGINT before every shutdown: an idle kernel logs "KeyboardInterrupt caught in
        # kernel" (and after Ctrl-C the cell's traceback); the shutdown request alone ends it and its workers
        if not self.shutting_down:
            await super()._async_interrupt_kernel()

    interrupt_kernel = _async_interrupt_kernel

    async def _async_cleanup_resources(self, restart=False):
        await super()._async_cleanup_resources(restart=restart)
        if not restart:
            shutil.rmtree(Path(self.ip).parent, ignore_errors=True)

    cleanup_resources = _async_cleanup_resources


def _hide_injected_parameters(path: Path) -> None:
    """Collapse papermill's injected-parameters cell in the book (shown on click)."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        tags = cell.metadata.setdefault("tags", [])
        if "injected-parameters" in tags and "hide-cell" not in tags:
            tags.append("hide-cell")
    nbformat.write(nb, path)


def prepare_book(dest: str | os.PathLike) -> Path:
    """A fresh copy of the book's sources (pages, figures, ``_config.yml``, ``_toc.yml``) in ``<dest>/book``,
    returned; its chapters go to ``<dest>/book/chapters`` and its HTML to ``<dest>/_build/html``."""
    book = Path(dest) / "book"
    if book.exists():
        shutil.rmtree(book)
    shutil.copytree(ROOT / "book", book, ignore=shutil.ignore_patterns("chapters", "_toc.yml"))
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(ROOT / name, book / name)
    return book


class JupyterBookVersionError(OSError):
    """The installed Jupyter Book cannot build this book (Jupyter Book 2 builds nothing and exits 0)."""


def build(book_dir: str | os.PathLike = ROOT / "book", *, out: str | os.PathLike | None = None,
          profile: str | None = None) -> None:
    """``jupyter-book build`` with warnings as errors (a missing chapter is otherwise only a warning);
    ``profile`` reaches the Sphinx extension (``$DEAP_LIB_PROFILE``) so that it finds the chapters just
    executed up to date. Raises :class:`JupyterBookVersionError` under Jupyter Book 2."""
    try:
        version = metadata.version("jupyter-book")
    except metadata.PackageNotFoundError:  # not in this environment: the one on PATH runs (or is missing)
        version = "1"
    if int(version.split(".")[0]) >= 2:
        raise JupyterBookVersionError(
            f"Jupyter Book {version} is installed, but this book is a Jupyter Book 1 project (_config.yml, "
            "_toc.yml, glue), which Jupyter Book 2 ignores (it builds nothing and exits 0): "
            "pip install 'jupyter-book<2' (make setup installs the pinned 1.0.4.post1)")
    exe = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(exe) if exe.exists() else "jupyter-book", "build", str(book_dir), "-W", "-n", "--keep-going"]
    if out is not None:
        cmd += ["--path-output", str(out)]
    env = {**os.environ, **({PROFILE_ENV: str(profile)} if profile else {})}
    subprocess.run(cmd, check=True, env=env, cwd=ROOT)


def _on_builder_inited(app) -> None:
    """Before a plain ``jupyter-book build``: execute the first stale chapter and every one after it."""
    from sphinx.errors import ExtensionError

    chapters_dir = Path(app.srcdir) / "chapters"
    last = next(iter(read_stamps(chapters_dir).values()), {})
    profile = os.environ.get(PROFILE_ENV) or last.get("profile") or "quick"
    parameters = dict(last.get("parameters") or {})
    for env, name in ((DEAP_DIR_ENV, "deap_dir"), (MAHNOB_DIR_ENV, "mahnob_dir")):
        if os.environ.get(env):  # the chapters read it too; here it only makes their stamps stale
            parameters[name] = os.environ[env]
    todo = stale_chapters(chapters_dir, profile, parameters)
    if not todo:
        return
    run = CHAPTERS[CHAPTERS.index(todo[0]):]  # a chapter reads the runs of the ones before it
    _say(f"deap_lib: {', '.join(todo)} missing or executed with other parameters or source; executing "
         f"{', '.join(run)} first (profile {Path(profile).stem}); set {PROFILE_ENV}=smoke|quick|paper to choose")
    try:
        execute_chapters(profile, out=chapters_dir, chapters=run, parameters=parameters)
    except Exception as err:  # one line for the build's log; the notebook holds the traceback
        raise ExtensionError(f"deap_lib: executing the chapters failed ({type(err).__name__}); run "
                             f"`python -m deap_lib book --profile {Path(profile).stem}` to see why") from err


def setup(app):
    app.connect("builder-inited", _on_builder_inited)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
