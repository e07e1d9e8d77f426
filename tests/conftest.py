import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
# Kernels started by nbval/papermill import deap_lib from the repository too.
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A private cache root, so tests never read or write the user's cache."""
    path = tmp_path / "cache"
    monkeypatch.setenv("DEAP_LIB_CACHE", str(path))
    return path
