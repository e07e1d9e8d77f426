"""Shared test data."""

import functools
import os
import subprocess

import numpy as np

from deap_lib.data.dataset import DataSource, Prepared


def fake_data(n_participants=4, seed=0, signal=1.0, tag="fake"):
    """A tiny Prepared set whose valence label is planted in channel 13: fast, learnable."""
    rng = np.random.default_rng(seed)
    n = 40 * n_participants
    ratings = rng.uniform(1, 9, size=(n, 4))
    x = rng.standard_normal((n, 32, 99))
    x[:, 13, :] += signal * (2 * (ratings[:, :1] >= 5) - 1)
    return Prepared(
        features=x, ratings=ratings, participant=np.repeat(np.arange(1, n_participants + 1), 40),
        trial=np.tile(np.arange(40), n_participants), source=DataSource(), standardization="trial",
        identity=f"{tag}-{n_participants}-{seed}-{signal}",
    )


def code_payloads(marker):
    """Objects whose unpickling would create ``marker``: ``{name: (object, globals a refusal may name)}``.

    At protocols < 3 Python 3 writes Python 2 names (``__builtin__.eval``, ``commands.call``).
    """

    class OsSystem:
        def __reduce__(self):
            return os.system, (f"touch {marker}",)

    class Eval:
        def __reduce__(self):
            return eval, (f"open({str(marker)!r}, 'w').close()",)

    class Call:
        def __reduce__(self):
            return subprocess.call, (["touch", str(marker)],)

    class Popen:
        def __reduce__(self):
            return subprocess.Popen, (["touch", str(marker)],)

    return {
        "os.system": (OsSystem(), (f"{os.system.__module__}.system",)),
        "builtins.eval": (Eval(), ("builtins.eval", "__builtin__.eval")),
        "subprocess.call": (Call(), ("subprocess.call", "commands.call")),
        "subprocess.Popen": (Popen(), ("subprocess.Popen",)),
        "functools.partial": (functools.partial(os.system, f"touch {marker}"), ("functools.partial",)),
    }


def special_file(path, kind):
    """Make ``path`` a FIFO (``kind`` "fifo": opening it to read waits for a writer forever) or a
    link to /dev/zero (reading it never ends); return what the readers call it."""
    if kind == "fifo":
        os.mkfifo(path)
        return "a FIFO"
    path.symlink_to("/dev/zero")
    return "a character device"
