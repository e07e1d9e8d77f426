"""Stored results follow the code: run keys change with the training code, chapter stamps with any code.

The edits are made in a temporary copy of the package, imported in a subprocess, so that the
repository's own files are never touched.
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
import json, sys
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
def baseline(tmp_path_factory):
    return _probe(_copy(tmp_path_factory.mktemp("pkg")))


def _copy(where: Path) -> Path:
    shutil.copytree(ROOT / "deap_lib", where / "deap_lib", ignore=shutil.ignore_patterns("__pycache__"))
    return where


def _probe(where: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=where, env={"PYTHONPATH": str(where), "PATH": ""},
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def _edit(where: Path, module: str, old: str, new: str) -> None:
    path = where / "deap_lib" / module
    text = path.read_text()
    assert old in text, (module, old)
    path.write_text(text.replace(old, new, 1))


def test_the_copy_reproduces_the_repository_keys(baseline):
    assert baseline["package"] == fingerprint.package()


def test_an_edit_of_the_models_changes_the_run_key(tmp_path, baseline):
    where = _copy(tmp_path)
    _edit(where, "models.py", "nn.init.zeros_(layer.bias)", "nn.init.constant_(layer.bias, 0.01)")
    after = _probe(where)
    assert after["run"] != baseline["run"]
    assert after["features"] == baseline["features"]  # the features' code did not change
    assert after["stamp"] != baseline["stamp"]


def test_an_edit_of_the_pages_keeps_the_runs_and_makes_the_chapters_stale(tmp_path, baseline):
    where = _copy(tmp_path)
    _edit(where, "report/pages.py", "def md_table(", "def _unused():\n    return 1\n\n\ndef md_table(")
    after = _probe(where)
    assert after["run"] == baseline["run"] and after["features"] == baseline["features"]
    assert after["stamp"] != baseline["stamp"] and after["package"] != baseline["package"]


def test_an_edit_of_the_features_changes_features_keys(tmp_path, baseline):
    where = _copy(tmp_path)
    path = where / "deap_lib" / "data" / "features.py"
    path.write_text(path.read_text() + "\n_PROBE = 1\n")
    after = _probe(where)
    assert after["features"] != baseline["features"]


def test_docstrings_and_comments_do_not_count(tmp_path, baseline):
    where = _copy(tmp_path)
    path = where / "deap_lib" / "experiment" / "engine.py"
    text = path.read_text()
    text = text.replace('"""The one training loop', '"""An edited docstring. The one training loop', 1)
    path.write_text("# a new comment\n" + text)
    after = _probe(where)
    assert after == baseline


def test_fingerprint_names_missing_modules(tmp_path):
    with pytest.raises(FileNotFoundError, match="matches"):
        fingerprint.fingerprint(("nothing/*.py",), root=tmp_path)
