"""The one store of everything cached: ``<cache>/store/<kind>/<key>`` files, a header line (the payload's length
and SHA-256) then the payload. Written atomically, verified on every read: a damaged entry, or anything but a
regular file at its path, is logged in one line, removed and read as missing. Keys (:func:`entry_key`) hash
everything that determines an entry, the fingerprint of the code producing its kind included."""

from __future__ import annotations

import errno
import hashlib
import io
import json
import logging
import os
import secrets
import shutil
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from deap_lib import fingerprint

CACHE_ENV = "DEAP_LIB_CACHE"
#: Kinds of entry and what each holds.
KINDS = {
    "features": "one participant's prepared features and ratings (.npz)",
    "records": "one run's record: config, history, split, predictions (JSON)",
    "weights": "one run's final weights (torch state_dict; 75 MB for a DNN, 16 MB for a CNN)",
    "baselines": "one classical baseline over a list of splits (JSON)",
}
#: What a file's identity is made of (see :func:`file_identity`).
IDENTITIES = ("stat", "content")
_MAGIC = b"deap_lib-store"
_FORMAT = 1
_HEADER_MAX = 128
#: Folders of the layout before this store (deap_lib 0.1): still counted and cleared.
_OLD_LAYOUT = ("features", "results")
_SPECIAL = ((stat.S_ISDIR, "a directory"), (stat.S_ISLNK, "a symbolic link"), (stat.S_ISFIFO, "a FIFO"),
            (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))
log = logging.getLogger("deap_lib.store")


class CacheFullError(OSError):
    """No space left (or quota exceeded) in the cache folder: one line naming it and the size."""


class _Damaged(Exception):
    """An entry that cannot be used (its message says why)."""


def _regular(mode: int) -> None:
    """Refuse (:class:`_Damaged`) anything but a regular file, naming what it is."""
    if not stat.S_ISREG(mode):
        raise _Damaged(next((f"{what}, not a file" for test, what in _SPECIAL if test(mode)), "not a regular file"))


def remove_path(path: str | os.PathLike) -> None:
    """Remove whatever is at ``path`` (a file, a link itself, a special file, a directory tree); nothing when
    missing (another process may have removed it first)."""
    path = Path(path)
    if (st := _lstat(path)) is None or not stat.S_ISDIR(st.st_mode):
        path.unlink(missing_ok=True)
        return

    def gone_already_or_raise(function, name, exc_info):
        if not isinstance(exc_info[1], FileNotFoundError):
            raise exc_info[1]

    shutil.rmtree(path, onerror=gone_already_or_raise)


def cache_dir(path: str | os.PathLike | None = None) -> Path:
    """The cache root, created: ``path``, else ``$DEAP_LIB_CACHE``, else ``~/.cache/deap_lib``."""
    if path is None:
        path = os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "deap_lib"
    root = Path(path).expanduser()
    root.mkdir(parents=True, exist_ok=True)
    return root


def stable_hash(obj: Any, *, length: int = 16) -> str:
    """Hex digest of the canonical JSON of ``obj`` (sorted keys)."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def entry_key(kind: str, parts: Any) -> str:
    """Key of an entry of ``kind`` determined by ``parts`` (any JSON-able value) and the code producing ``kind``."""
    return stable_hash({"kind": kind, "code": fingerprint.code_of(kind), "parts": parts}, length=24)


def atomic_write_bytes(path: str | os.PathLike, write: Callable) -> None:
    """Call ``write(fileobj)`` on a temporary file beside ``path``, then rename it over ``path``: a run killed
    half-way leaves at most a stray ``.tmp`` file, never a truncated ``path``. The file's mode follows the umask."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666)  # 0o666 less the umask
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.replace(tmp, path)
        except OSError as err:
            if err.errno not in (errno.EISDIR, errno.ENOTEMPTY, errno.EEXIST):
                raise
            remove_path(path)  # a directory where the file goes: it is not the file, replace it
            os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write_bytes(path, lambda f: f.write(text.encode("utf-8")))


def file_identity(path: str | os.PathLike, how: str = "stat") -> dict:
    """What identifies a data file's content for caching: ``how="stat"`` (free, as git's index: the resolved path,
    size, inode, device, and mtime and ctime in ns: a rewrite moves ``ctime`` even when ``mtime`` is put back, as
    ``cp -p`` does), or ``"content"``: the file's SHA-256 (a full read)."""
    path = Path(path)
    if how == "content":
        with open(path, "rb") as f:
            return {"sha256": hashlib.file_digest(f, "sha256").hexdigest()}
    if how != "stat":
        raise ValueError(f"identity must be one of {IDENTITIES}, got {how!r}")
    st = path.stat()
    return {"path": str(path.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns,
            "ctime_ns": st.st_ctime_ns, "inode": st.st_ino, "device": st.st_dev}


class Store:
    """Entries under ``<root>/store/<kind>/<key>`` (``root``: the cache root, default :func:`cache_dir`)."""

    def __init__(self, root: str | os.PathLike | None = None):
        self.cache = cache_dir(root)
        self.root = self.cache / "store"

    def path(self, kind: str, key: str) -> Path:
        if kind not in KINDS:
            raise ValueError(f"unknown cache kind {kind!r}; kinds: {sorted(KINDS)}")
        return self.root / kind / key

    def write(self, kind: str, key: str, payload: bytes) -> Path:
        """Store ``payload`` as the entry ``(kind, key)``, atomically; return its file (CacheFullError: disk full)."""
        path = self.path(kind, key)
        header = b"%s %d %d %s\n" % (_MAGIC, _FORMAT, len(payload), hashlib.sha256(payload).hexdigest().encode())
        try:
            atomic_write_bytes(path, lambda f: f.writelines((header, payload)))
        except OSError as err:
            if err.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
            raise CacheFullError(
                f"no space left in the cache folder {self.root} ({err.strerror}): a {kind} entry needs "
                f"{_size(len(header) + len(payload))}; free some space (python -m deap_lib cache --clear ...) "
                f"or point ${CACHE_ENV} at another folder") from None
        return path

    def _payload(self, path: Path, *, verify: bool = True) -> bytes | None:
        """The payload at ``path``, length and checksum verified (without ``verify``: b"", length only); None when
        missing or damaged (then discarded). A symbolic link is never followed, a FIFO never waited on."""
        try:
            _regular(os.lstat(path).st_mode)
            with open(path, "rb", opener=lambda name, flags: os.open(name, flags | os.O_NOFOLLOW | os.O_NONBLOCK)) as f:
                _regular(os.fstat(f.fileno()).st_mode)  # swapped since the lstat: still no blocking read
                line = f.readline(_HEADER_MAX)
                parts = line.split()
                if (len(parts) != 4 or parts[0] != _MAGIC or not line.endswith(b"\n") or parts[1] != b"%d" % _FORMAT
                        or not parts[2].isdigit() or len(parts[3]) != 64):
                    raise _Damaged("no valid header")
                length = int(parts[2])
                payload = f.read(length + 1) if verify else b""
                size = len(payload) if verify else os.fstat(f.fileno()).st_size - f.tell()
            if size != length:
                raise _Damaged(f"{size} payload bytes, {length} recorded at write")
            if verify and hashlib.sha256(payload).hexdigest() != parts[3].decode("ascii", "replace"):
                raise _Damaged("its checksum does not match the one recorded at write")
            return payload
        except FileNotFoundError:
            return None
        except OSError as err:
            return self._discard(path, f"cannot be read ({err.strerror or err})")
        except _Damaged as err:
            return self._discard(path, str(err))

    def read(self, kind: str, key: str) -> bytes | None:
        """The payload of ``(kind, key)``, verified; None when missing or damaged (then deleted)."""
        return self._payload(self.path(kind, key))

    def read_as(self, kind: str, key: str, decode: Callable[[bytes], Any]) -> Any:
        """``decode(payload)`` of a verified entry; None when missing, damaged or undecodable."""
        if (payload := self.read(kind, key)) is None:
            return None
        try:
            return decode(payload)
        except Exception as err:  # noqa: BLE001 - any decoding failure means the entry is unusable
            return self._discard(self.path(kind, key), f"cannot be decoded ({type(err).__name__}: {err})")

    def intact(self, kind: str, key: str) -> bool:
        """Whether ``(kind, key)`` exists with a valid header and the recorded length (no checksum: cheap for a
        75 MB entry; :meth:`read` verifies the content)."""
        return self._payload(self.path(kind, key), verify=False) is not None

    def delete(self, kind: str, key: str) -> None:
        remove_path(self.path(kind, key))

    def _discard(self, path: Path, why: str) -> None:
        try:
            remove_path(path)
        except OSError as err:  # a read-only cache: the entry stays, and is computed again each time
            log.warning("cache entry %s is damaged (%s) and cannot be removed (%s): it will be computed again",
                        path, why, err.strerror or err)
        else:
            log.warning("cache entry %s is damaged (%s): deleted, it will be computed again", path, why)

    def write_json(self, kind: str, key: str, obj: Any) -> Any:
        """Store ``obj`` as JSON; return exactly what a later :meth:`read_json` gives."""
        text = json.dumps(obj, default=str)
        self.write(kind, key, text.encode("utf-8"))
        return json.loads(text)

    def read_json(self, kind: str, key: str) -> Any:
        return self.read_as(kind, key, lambda b: json.loads(b.decode("utf-8")))

    def write_arrays(self, kind: str, key: str, **arrays: np.ndarray) -> None:
        """Store numeric arrays as an ``.npz`` payload (never pickled)."""
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        self.write(kind, key, buf.getvalue())

    def read_arrays(self, kind: str, key: str) -> dict[str, np.ndarray] | None:
        return self.read_as(kind, key, lambda payload: dict(np.load(io.BytesIO(payload), allow_pickle=False)))

    def usage(self) -> dict[str, tuple[int, int]]:
        """``{kind: (number of entries, bytes)}``; ``"old layout"`` when files of deap_lib 0.1 remain."""
        out = {}
        for kind in KINDS:
            sizes = [st.st_size for st in map(_lstat, (self.root / kind).glob("*")) if st and stat.S_ISREG(st.st_mode)]
            out[kind] = (len(sizes), sum(sizes))
        old = [p for name in _OLD_LAYOUT for p in (self.cache / name).rglob("*") if p.is_file()]
        if old:
            out["old layout"] = (len(old), sum(p.stat().st_size for p in old))
        return out

    def clear(self, kinds) -> int:
        """Delete every entry of ``kinds`` (``"all"``: every kind and the old layout; records take their weights
        with them: a run is stored only with both); return how many."""
        kinds = set(KINDS) | {"old layout"} if "all" in kinds else set(kinds)
        kinds |= {"weights"} if "records" in kinds else set()
        entries = [p for kind in sorted(kinds - {"old layout"}) for p in (self.root / kind).glob("*")]
        for p in entries:
            remove_path(p)  # whatever it is: a stray directory or link goes too
        n = len(entries)
        if "old layout" in kinds:
            n += self.usage().get("old layout", (0, 0))[0]
            for name in _OLD_LAYOUT:
                shutil.rmtree(self.cache / name, ignore_errors=True)
        return n


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except FileNotFoundError:  # removed by another process meanwhile
        return None


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n / 2**10:.1f} KiB" if n >= 2**10 else f"{n} bytes"
