"""Stored results follow the code: run keys change with the training code, chapter stamps with any code.

The edits are made in temporary copies of one snapshot of the package, imported in a subprocess, so that
the repository's own files are never touched (and edits made meanwhile elsewhere do not count).
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from deap_lib import fingerprint

ROOT = Path(__file__).resolve().parents[1]

PROBE = r"""
import json
import numpy as np
from deap_lib import fingerprint
from deap_lib.data.dataset import DataSource, Prepared
from deap_lib.experiment import protocols
from deap_lib.experiment.settings import ExperimentConfig
from deap_lib.experiment.splits import fixed_split
from deap_lib.report import driver
from deap_lib.store import entry_key

n = 80
data = Prepared(features=np.zeros((n, 32, 99)), ratings=np.ones((n, 4)), participant=np.repeat([1, 2], 40),
                trial=np.tile(np.arange(40), 2), source=DataSource(), standardization="trial", identity="probe")
split = fixed_split(n, n_test=20, seed=12)
print(json.dumps({
    "run": protocols.run_id(ExperimentConfig(), data, split, "fixed", "cpu"),
    "features": entry_key("features", ["probe"]),
    "package": fingerprint.package(),
    "stamp": driver._wanted("smoke", {})["code"],
}))
"""


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory):
    where = tmp_path_factory.mktemp("snapshot")
    shutil.copytree(ROOT / "deap_lib", where / "deap_lib", ignore=shutil.ignore_patterns("__pycache__"))
    return where


@pytest.fixture(scope="module")
def baseline(snapshot):
    return _probe(snapshot)


def _copy(snapshot: Path, where: Path) -> Path:
    shutil.copytree(snapshot / "deap_lib", where / "deap_lib")
    return where


def _probe(where: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=where, env={"PYTHONPATH": str(where), "PATH": ""},
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_the_subprocess_computes_the_fingerprint_of_its_copy(snapshot, baseline):
    assert baseline["package"] == fingerprint.fingerprint(("**/*.py",), root=snapshot / "deap_lib")


@pytest.mark.parametrize("module, changed", [
    ("models.py", {"run", "package", "stamp"}),  # the training code: runs are trained again
    ("data/features.py", {"features", "package", "stamp"}),  # the reduction: features computed again
    ("report/pages.py", {"package", "stamp"}),  # the words: runs kept, chapters executed again
])
def test_an_edit_of_code_changes_the_keys_of_what_it_produces(snapshot, baseline, tmp_path, module, changed):
    where = _copy(snapshot, tmp_path)
    path = where / "deap_lib" / module
    path.write_text(path.read_text() + "\n_PROBE = 1\n")
    after = _probe(where)
    assert {k for k in baseline if after[k] != baseline[k]} == changed


def test_docstrings_and_comments_do_not_count(snapshot, baseline, tmp_path):
    where = _copy(snapshot, tmp_path)
    path = where / "deap_lib" / "experiment" / "engine.py"
    text = path.read_text()
    assert text.startswith('"""')
    path.write_text("# a new comment\n" + text.replace('"""', '"""An edited docstring. ', 1))
    assert _probe(where) == baseline


def test_fingerprint_names_missing_modules(tmp_path):
    with pytest.raises(FileNotFoundError, match="matches"):
        fingerprint.fingerprint(("nothing/*.py",), root=tmp_path)
