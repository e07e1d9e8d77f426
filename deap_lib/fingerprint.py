"""Fingerprints of deap_lib's own code, so that stored results follow the code that made them.

A fingerprint hashes the syntax tree of some modules without docstrings (comments never reach it): edited
words keep it, edited code changes it. :data:`PRODUCERS` names the code behind each kind of stored entry,
whose fingerprint is part of every key of the kind (:func:`deap_lib.store.entry_key`); the book driver stamps
each chapter with the whole package's (:func:`package`).
"""

from __future__ import annotations

import ast
import functools
import hashlib
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent

#: The modules (globs relative to the package) whose code produces each kind of stored entry.
PRODUCERS = {
    # the readers, the twins, the reduction, the labels and the prepared dataset
    "features": ("data/*.py",),
    # the models, the training loop and its stacked form, the splits, a run's figures, the stored record's form
    "records": ("models.py", "experiment/engine.py", "experiment/stacked.py", "experiment/splits.py",
                "evaluation/stats.py", "evaluation/results.py", "experiment/records.py"),
    "baselines": ("experiment/baselines.py", "experiment/splits.py", "evaluation/stats.py"),
}
PRODUCERS["weights"] = PRODUCERS["records"]  # a run's weights come with its record
_DOCUMENTED = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


def _without_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        if isinstance(node, _DOCUMENTED) and ast.get_docstring(node, clean=False) is not None:
            node.body = node.body[1:] or [ast.Pass()]
    return tree


@functools.lru_cache(maxsize=None)
def _module_hash(path: Path, mtime_ns: int, size: int) -> str:
    tree = _without_docstrings(ast.parse(path.read_bytes(), filename=str(path)))
    return hashlib.sha256(ast.dump(tree, include_attributes=False).encode()).hexdigest()


def fingerprint(globs: tuple[str, ...] | list[str], *, root: Path = PACKAGE) -> str:
    """Hash of the code (docstrings and comments excluded) of the modules matching ``globs``
    under ``root``, each named by its path relative to ``root``."""
    h = hashlib.sha256()
    paths = sorted({p for g in globs for p in root.glob(g) if p.is_file()})
    if not paths:
        raise FileNotFoundError(f"no module of {root} matches {list(globs)}")
    for path in paths:
        st = path.stat()
        h.update(f"{path.relative_to(root).as_posix()}\0{_module_hash(path, st.st_mtime_ns, st.st_size)}\0".encode())
    return h.hexdigest()[:16]


def code_of(kind: str) -> str:
    """The fingerprint of the code producing stored entries of ``kind`` (:data:`PRODUCERS`)."""
    return fingerprint(PRODUCERS[kind])


def package() -> str:
    """The fingerprint of every module of deap_lib."""
    return fingerprint(("**/*.py",))
