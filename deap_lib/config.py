"""Where things live: the cache folder and the data source, from arguments or environment.

No literal data paths anywhere else in the library: every folder is resolved here.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

CACHE_ENV = "DEAP_LIB_CACHE"


def cache_dir(path: str | os.PathLike | None = None) -> Path:
    """Return the cache root: ``path``, else ``$DEAP_LIB_CACHE``, else ``~/.cache/deap_lib``."""
    if path is None:
        path = os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "deap_lib"
    root = Path(path).expanduser()
    root.mkdir(parents=True, exist_ok=True)
    return root


def stable_hash(obj: Any, *, length: int = 16) -> str:
    """Hex digest of the canonical JSON of ``obj`` (sorted keys): a cache key."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def _umask() -> int:
    mask = os.umask(0)  # the only way to read it is to set it: put it back at once
    os.umask(mask)
    return mask


def atomic_write_bytes(path: Path, write) -> None:
    """Call ``write(fileobj)`` on a temporary file beside ``path``, then rename it over ``path``.

    A run killed half-way leaves at most a stray ``.tmp`` file, never a truncated ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; the file gets the user's usual mode
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write_bytes(path, lambda f: f.write(text.encode("utf-8")))


#: What the cache holds, by kind: (folder under the cache root, file pattern).
CACHE_KINDS = {
    "features": ("features", "*.npz"),  # prepared 32 x 99 features, one file per participant
    "records": ("results", "*.json"),  # one run's record: config, history, split, predictions
    "weights": ("results", "*.pt"),  # one run's final weights (75 MB for a DNN, 16 MB for a CNN)
}


def cache_usage(path: str | os.PathLike | None = None) -> dict[str, tuple[int, int]]:
    """``{kind: (number of files, bytes)}`` for each of :data:`CACHE_KINDS` under the cache root."""
    root = cache_dir(path)
    out = {}
    for kind, (folder, pattern) in CACHE_KINDS.items():
        files = [p for p in (root / folder).rglob(pattern) if p.is_file()]
        out[kind] = (len(files), sum(p.stat().st_size for p in files))
    return out


def clear_cache(kinds, path: str | os.PathLike | None = None) -> int:
    """Delete the cached files of ``kinds`` (see :data:`CACHE_KINDS`); return how many were deleted.

    Deleting records deletes their weights too (a run is complete only with both).
    """
    root = cache_dir(path)
    kinds = set(kinds) | ({"weights"} if "records" in kinds else set())
    n = 0
    for kind in kinds:
        folder, pattern = CACHE_KINDS[kind]
        for p in list((root / folder).rglob(pattern)):
            p.unlink(missing_ok=True)
            n += 1
    return n
