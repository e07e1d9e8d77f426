"""Executing the chapters and building the book: the one driver behind ``make book``, ``make test``
and a plain ``jupyter-book build book``.

- :func:`execute_chapters` runs each chapter notebook with papermill into ``<book>/chapters/`` and
  records, per chapter, what it was executed with (profile, parameters, the source's hash) in
  ``<book>/chapters/.executed.json``. While a chapter runs, the training engine reports each
  finished run to a progress file that the driver prints to the terminal.
- :func:`build` runs ``jupyter-book build`` with warnings as errors.
- :func:`prepare_book` copies the book's sources to another folder, so that a build (the smoke
  build of ``make test``) never touches the user's ``book/chapters`` and ``_build/html``.
- As a Sphinx extension (listed in ``_config.yml``), :func:`setup` executes, before a plain
  ``jupyter-book build book``, every chapter that is missing or was executed with other
  parameters or another source. The profile is ``$DEAP_LIB_PROFILE`` if set, else the one the
  chapters were last executed with, else ``quick``; the data is ``$DEAP_DIR`` if set, else the
  one last used (the twin when never set), and likewise ``$MAHNOB_DIR`` for the MAHNOB-HCI chapter.
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
from pathlib import Path

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


def _source_hash(name: str, notebooks: Path) -> str:
    src = notebooks / f"{name}.py"
    return hashlib.sha256(src.read_bytes()).hexdigest()[:16] if src.exists() else ""


#: Parameters that say where runs execute, not what they compute: a change never makes a chapter stale.
WHERE_ONLY = ("scheduler",)


def _wanted(profile: str, parameters: dict | None) -> dict:
    """What a chapter's execution depends on: the profile (its name and its values: an edited
    profile file makes the chapters stale), the parameters that change results, and the code of
    all of deap_lib (an edit of the pages re-executes the chapters; their runs are read from the
    store unless the code that trains them changed)."""
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

    return [
        name for name in CHAPTERS
        if not (Path(chapters_dir) / f"{name}.ipynb").exists()
        or executed_with(name) != {**wanted, "source": _source_hash(name, Path(notebooks))}
    ]


def _sync_pair(name: str, notebooks: Path) -> Path:
    """The chapter's ``.ipynb``, rewritten from its jupytext ``.py`` only when their cells differ."""
    import jupytext

    src, ipynb = notebooks / f"{name}.py", notebooks / f"{name}.ipynb"
    if src.exists():
        text = jupytext.read(src)
        if not ipynb.exists() or [c.source for c in jupytext.read(ipynb).cells] != [c.source for c in text.cells]:
            jupytext.write(text, ipynb)  # only when the sources differ: no churn of cell ids
    return ipynb


class _Progress:
    """Prints the lines the training engine appends to the progress file, while a chapter runs."""

    def __init__(self, path: Path, name: str):
        self.path, self.name, self.stop = path, name, threading.Event()
        path.write_text("")
        self.thread = threading.Thread(target=self._follow, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()
        self.path.unlink(missing_ok=True)

    def _follow(self):
        seen = 0
        while True:
            stopping = self.stop.wait(2.0)
            lines = self.path.read_text().splitlines() if self.path.exists() else []
            for line in lines[seen:]:
                print(f"  {self.name}: {line}", file=sys.stderr, flush=True)
            seen = len(lines)
            if stopping:
                return


def execute_chapters(
    profile: str = "quick",
    *,
    notebooks: str | os.PathLike = ROOT / "notebooks",
    out: str | os.PathLike = ROOT / "book" / "chapters",
    chapters: tuple[str, ...] = CHAPTERS,
    parameters: dict | None = None,
) -> dict[str, float]:
    """Execute the chapters in order with papermill; return each one's wall time in seconds.

    Only the parameters a notebook declares are passed to it. Progress (each chapter, each
    finished training run with its time, and an estimate from the previous build when there was
    one) goes to the terminal. A failing chapter raises papermill's error; chapters executed
    before it keep their stamps, so a re-run starts again where it stopped. Ctrl-C raises
    :class:`ChaptersInterrupted`, whose message says what was finished and stored.
    """
    import papermill

    load_profile(profile)  # fail early on a bad name
    if str(profile).endswith((".yml", ".yaml")):
        profile = str(Path(profile).resolve())  # the kernels run in the output folder
    notebooks, out = Path(notebooks), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    stamps = read_stamps(out)
    times = {}
    for i, name in enumerate(chapters, 1):
        ipynb = _sync_pair(name, notebooks)
        declared = papermill.inspect_notebook(str(ipynb))
        params = {k: v for k, v in {"profile": profile, **(parameters or {})}.items() if k in declared}
        before = stamps.get(name, {})
        estimate = (f", about {before['seconds']:.0f} s last time with these parameters"
                    if before.get("seconds") and before.get("profile") == str(profile) else "")
        print(f"[{i}/{len(chapters)}] executing {name} (profile {Path(str(profile)).stem}{estimate}) ...",
              file=sys.stderr, flush=True)
        start = time.perf_counter()
        progress_file = out / f".{name}.progress"
        os.environ[PROGRESS_ENV] = str(progress_file.resolve())
        logger = logging.getLogger("papermill")
        if not any(isinstance(f, _NoDeadKernelLine) for f in logger.filters):
            logger.addFilter(_NoDeadKernelLine())
        try:
            with _Progress(progress_file, name):
                papermill.execute_notebook(
                    str(ipynb), str(out / f"{name}.ipynb"), parameters=params, progress_bar=False,
                    cwd=str(out), kernel_manager_class="deap_lib.report.driver.QuietKernelManager",
                )
        except KeyboardInterrupt:
            _forget_abandoned_cell()
            raise ChaptersInterrupted(list(times), name) from None
        finally:
            os.environ.pop(PROGRESS_ENV, None)
        _hide_injected_parameters(out / f"{name}.ipynb")
        times[name] = time.perf_counter() - start
        stamps[name] = {**_wanted(profile, parameters), "source": _source_hash(name, notebooks),
                        "seconds": round(times[name], 1)}
        atomic_write_text(out / STAMP, json.dumps(stamps, indent=1))
        print(f"[{i}/{len(chapters)}] {name}: {times[name]:.0f} s", file=sys.stderr, flush=True)
    return times


class ChaptersInterrupted(KeyboardInterrupt):
    """Ctrl-C while chapters execute; its message says which were finished and stored."""

    def __init__(self, done: list[str], stopped: str):
        finished = f"chapter(s) {', '.join(done)} done and stored" if done else "no chapter finished"
        super().__init__(f"{finished}; {stopped} stopped (its finished runs are stored); "
                         "run the same command again to resume")


class _NoDeadKernelLine(logging.Filter):
    """Drops nbclient's log line "Kernel died while waiting for execute reply." (on papermill's
    logger). After Ctrl-C, which reaches the kernel too, it came before the one-line message, depending
    on timing; a kernel that really dies still fails its chapter with papermill's ``DeadKernelError``."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Kernel died while waiting for execute reply")


def _forget_abandoned_cell() -> None:
    """After Ctrl-C, papermill's task for the interrupted cell ends with an error that nobody reads:
    asyncio would print its traceback at exit. The kernel is shut down already; say nothing of it."""
    from jupyter_core.utils import ensure_event_loop

    def handler(loop, context):
        if context.get("message") != "Task exception was never retrieved":
            loop.default_exception_handler(context)

    ensure_event_loop().set_exception_handler(handler)


def _kernel_manager_class():
    from jupyter_client.manager import AsyncKernelManager

    class QuietKernelManager(AsyncKernelManager):
        """Kernels over local sockets (IPC), not TCP: no network port, and no warning about one; shut
        down without the interrupt that makes an idle kernel log an error."""

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.transport = "ipc"
            # the socket files live in a private temporary folder, not in the working directory
            self.ip = str(Path(tempfile.mkdtemp(prefix="deap-lib-kernel-")) / "kernel")

        async def _async_interrupt_kernel(self):
            # jupyter_client sends SIGINT before every shutdown; at a chapter's end the kernel is idle and
            # logs "KeyboardInterrupt caught in kernel", and after Ctrl-C the cell's traceback comes back
            # too: a shutdown request (then SIGTERM, SIGKILL) ends it alone, and its workers with it.
            if not self.shutting_down:
                await super()._async_interrupt_kernel()

        interrupt_kernel = _async_interrupt_kernel

        async def _async_cleanup_resources(self, restart=False):
            await super()._async_cleanup_resources(restart=restart)
            if not restart:
                shutil.rmtree(Path(self.ip).parent, ignore_errors=True)

        cleanup_resources = _async_cleanup_resources

    return QuietKernelManager


def __getattr__(name):  # the kernel manager class is built lazily (jupyter_client is a heavy import)
    if name == "QuietKernelManager":
        return _kernel_manager_class()
    raise AttributeError(name)


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
    """Copy the book's sources (pages, figures, ``_config.yml``, ``_toc.yml``) to ``dest``/book.

    Returns the new book folder; its chapters go to ``<dest>/book/chapters`` and its HTML, when
    built, to ``<dest>/_build/html``.
    """
    book = Path(dest) / "book"
    if book.exists():
        shutil.rmtree(book)
    shutil.copytree(ROOT / "book", book, ignore=shutil.ignore_patterns("chapters", "_toc.yml"))
    shutil.copy(ROOT / "_config.yml", book / "_config.yml")
    shutil.copy(ROOT / "_toc.yml", book / "_toc.yml")
    return book


def build(book_dir: str | os.PathLike = ROOT / "book", *, out: str | os.PathLike | None = None,
          profile: str | None = None) -> None:
    """``jupyter-book build`` with warnings as errors (a missing chapter is otherwise only a warning).

    ``profile`` goes to the Sphinx extension through ``$DEAP_LIB_PROFILE``, so that it finds the
    chapters just executed up to date instead of executing them with another profile.
    """
    _check_jupyter_book()
    exe = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(exe) if exe.exists() else "jupyter-book", "build", str(book_dir), "-W", "-n", "--keep-going"]
    if out is not None:
        cmd += ["--path-output", str(out)]
    env = {**os.environ, **({PROFILE_ENV: str(profile)} if profile else {})}
    subprocess.run(cmd, check=True, env=env, cwd=ROOT)


class JupyterBookVersionError(OSError):
    """The installed Jupyter Book cannot build this book (Jupyter Book 2 builds nothing and exits 0)."""


def _check_jupyter_book() -> None:
    from importlib import metadata

    try:
        version = metadata.version("jupyter-book")
    except metadata.PackageNotFoundError:
        return  # not in this environment: the one on PATH runs (or its absence is the error)
    if int(version.split(".")[0]) >= 2:
        raise JupyterBookVersionError(
            f"Jupyter Book {version} is installed, but this book is a Jupyter Book 1 project (_config.yml, "
            "_toc.yml, glue), which Jupyter Book 2 ignores (it builds nothing and exits 0): "
            "pip install 'jupyter-book<2' (make setup installs the pinned 1.0.4.post1)")


# --------------------------------------------------------------------------------------------
# Sphinx extension: a plain `jupyter-book build book` executes what is missing or stale first.


def _on_builder_inited(app) -> None:
    from sphinx.errors import ExtensionError

    chapters_dir = Path(app.srcdir) / "chapters"
    stamps = read_stamps(chapters_dir)
    last = next(iter(stamps.values()), {})
    profile = os.environ.get(PROFILE_ENV) or last.get("profile") or "quick"
    parameters = dict(last.get("parameters") or {})
    for env, name in ((DEAP_DIR_ENV, "deap_dir"), (MAHNOB_DIR_ENV, "mahnob_dir")):
        if os.environ.get(env):  # the chapters read it too; here it only makes their stamps stale
            parameters[name] = os.environ[env]
    todo = stale_chapters(chapters_dir, profile, parameters)
    if not todo:
        return
    # A chapter reads the runs of the ones before it: once one is stale, execute it and all after it.
    run = CHAPTERS[CHAPTERS.index(todo[0]):]
    print(f"deap_lib: {', '.join(todo)} missing or executed with other parameters or source; executing "
          f"{', '.join(run)} first (profile {Path(profile).stem}); set {PROFILE_ENV}=smoke|quick|paper to choose",
          file=sys.stderr, flush=True)
    try:
        execute_chapters(profile, out=chapters_dir, chapters=run, parameters=parameters)
    except Exception as err:  # one line for the build's log; the notebook holds the traceback
        raise ExtensionError(f"deap_lib: executing the chapters failed ({type(err).__name__}); run "
                             f"`python -m deap_lib book --profile {Path(profile).stem}` to see why") from err


def setup(app):
    app.connect("builder-inited", _on_builder_inited)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
