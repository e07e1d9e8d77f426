"""Fingerprints of deap_lib's own code, so that stored results follow the code that made them.

A fingerprint hashes the syntax tree of some of the package's modules, with docstrings dropped
(comments never reach the tree), so an edit of words leaves it as it was and any edit of code
changes it. :data:`PRODUCERS` names the code behind each kind of stored entry; the store puts
that code's fingerprint into every key of the kind (:func:`deap_lib.store.entry_key`), so an
edit of the models retrains, and an edit of the report layer does not. The book driver stamps
each executed chapter with the fingerprint of the whole package, so any edit re-executes the
chapters (which then read their stored runs).
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
    # the models, the training loop and its stacked form, the splits, a run's summary figures
    "records": ("models.py", "experiment/engine.py", "experiment/stacked.py", "experiment/splits.py",
                "evaluation/stats.py"),
    "baselines": ("experiment/baselines.py", "experiment/splits.py", "evaluation/stats.py"),
}
PRODUCERS["weights"] = PRODUCERS["records"]  # a run's weights come with its record


def _without_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
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
