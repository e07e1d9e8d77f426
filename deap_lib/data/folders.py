"""A licensed dataset's folder, named by an argument or an environment variable, never assumed; and
its files opened only when they are regular files of a bounded size (never a FIFO or a device)."""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path


def resolve_folder(root: str | os.PathLike | None, *, env: str, dataset: str, holding: str,
                   required: bool = True) -> Path | None:
    """The folder ``root``, else the one ``$env`` names, checked to exist, with ``~`` expanded.

    ``dataset`` names the data in messages ("DEAP"), ``holding`` says what the folder holds
    ("s01.dat ... s32.dat (DEAP's data_preprocessed_python)"). With ``required=False``, None is
    returned when neither names a folder (the caller then uses the synthetic twin). Raises
    FileNotFoundError when no folder is named (and ``required``) or it does not exist,
    NotADirectoryError when the path is not a folder.
    """
    if root is not None and str(root) != "":
        source = "the given folder"
    else:
        root = os.environ.get(env) or None
        if root is None and not required:
            return None
        if root is None:
            raise FileNotFoundError(f"no {dataset} folder given: pass the folder holding {holding} "
                                    f"or set the {env} environment variable to it")
        source = f"the {env} environment variable"
    path = Path(root).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"{dataset} folder {path} (from {source}) does not exist")
    if not path.is_dir():
        raise NotADirectoryError(f"{dataset} folder {path} (from {source}) is not a folder")
    return path


class NotABoundedFile(ValueError):
    """A path :func:`open_regular` refuses: not a regular file, or larger than allowed. The message
    says what was found and expected, without the path (the caller names it)."""


_KINDS = ((stat.S_ISREG, "a regular file"), (stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def file_kind(mode: int) -> str:
    """What a file of ``st_mode`` ``mode`` is, in words: "a regular file", "a FIFO", "a directory" ..."""
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def open_regular(path: str | os.PathLike, max_bytes: int) -> tuple[io.FileIO, int]:
    """``path`` opened for reading (unbuffered, at its start; the caller closes it) and its size at
    open, refusing anything but a regular file of at most ``max_bytes``.

    Opened with ``O_NONBLOCK`` (a FIFO opens at once instead of waiting for a writer), checked with
    ``fstat`` on the open descriptor (no race between check and read), then put back in blocking
    mode. Links are followed: one to ``/dev/zero`` is refused as a character device. Raises what
    ``os.open`` raises (missing file, dangling link, permission), and :class:`NotABoundedFile`
    ("is not a regular file (a FIFO)", "is 20000000000 bytes, more than 207489536").
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotABoundedFile(f"is not a regular file ({file_kind(st.st_mode)})")
        if st.st_size > max_bytes:
            raise NotABoundedFile(f"is {st.st_size} bytes, more than {max_bytes}")
        os.set_blocking(fd, True)
        f = os.fdopen(fd, "rb", buffering=0)
    except BaseException:
        os.close(fd)
        raise
    return f, st.st_size


def read_regular(path: str | os.PathLike, max_bytes: int) -> bytes:
    """The bytes of the regular file ``path``, refused (:class:`NotABoundedFile`) beyond ``max_bytes``.

    Opened as :func:`open_regular`; at most ``max_bytes + 1`` bytes are read, so a file that grows
    after the check is refused too, never read whole.
    """
    f, _ = open_regular(path, max_bytes)
    raw = bytearray()
    with f:
        while len(raw) <= max_bytes and (chunk := f.read(min(max_bytes + 1 - len(raw), 1 << 16))):
            raw += chunk
    if len(raw) > max_bytes:
        raise NotABoundedFile(f"grew past {max_bytes} bytes while read")
    return bytes(raw)
