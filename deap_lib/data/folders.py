"""A licensed dataset's folder, named by an argument or an environment variable, never assumed."""

from __future__ import annotations

import os
from pathlib import Path


def resolve_folder(root: str | os.PathLike | None, *, env: str, dataset: str, holding: str,
                   required: bool = True) -> Path | None:
    """The folder ``root``, else the one ``$env`` names, checked to exist.

    ``dataset`` names the data in messages ("DEAP"), ``holding`` says what the folder holds
    ("s01.dat ... s32.dat (DEAP's data_preprocessed_python)"). With ``required=False``, None is
    returned when neither names a folder (the caller then uses the synthetic twin).

    Returns
    -------
    Path or None
        The folder, with ``~`` expanded.

    Raises
    ------
    FileNotFoundError
        If neither ``root`` nor ``$env`` is given (and ``required``), or the folder does not exist.
    NotADirectoryError
        If the path exists but is not a folder.
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
