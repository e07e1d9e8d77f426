import subprocess
import sys

import numpy as np

from deap_lib.cli import main
from deap_lib.store import Store


def test_help_runs():
    out = subprocess.run([sys.executable, "-m", "deap_lib", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "synth" in out.stdout and "prepare" in out.stdout


def test_synth_then_prepare(tmp_path, cache, capsys, monkeypatch):
    monkeypatch.delenv("DEAP_DIR", raising=False)
    assert main(["synth", "--out", str(tmp_path / "twin"), "--participants", "1", "--seed", "3"]) == 0
    assert (tmp_path / "twin" / "s01.dat").exists()
    assert main(["prepare", "--deap-dir", str(tmp_path / "twin"), "--participants", "1"]) == 0
    out = capsys.readouterr().out
    assert "real DEAP from" in out and "(40, 32, 99)" in out and "valence" in out


def test_bad_folder_is_a_clear_error(tmp_path, capsys):
    assert main(["prepare", "--deap-dir", str(tmp_path / "missing")]) == 2
    assert "missing" in capsys.readouterr().err


def test_train_and_cv_commands(cache, capsys, monkeypatch):
    monkeypatch.delenv("DEAP_DIR", raising=False)
    small = ["--participants", "1", "2", "3", "--epochs", "1",
             "--set", "model_kwargs={hidden: [8], p_input: 0.1, p_hidden: 0.1}"]
    assert main(["train", "--config", "deap_dnn_arousal", *small, "--set", "n_test=20"]) == 0
    out = capsys.readouterr().out
    assert "synthetic DEAP twin" in out and "as reported; optimistic" in out and "majority" in out
    assert main(["cv", "--config", "deap_dnn_valence", "--scheme", "loso", *small]) == 0
    assert "3 run(s)" in capsys.readouterr().out
    assert main(["train", "--config", "deap_dnn_valence", "--set", "lr"]) == 2
    assert "KEY=VALUE" in capsys.readouterr().err


def test_cache_command_shows_and_clears(tmp_path, capsys):
    store = Store(tmp_path)
    store.write_arrays("features", "k", features=np.zeros((2, 3)))
    store.write_json("records", "a", {"id": "a"})
    store.write("weights", "a", b"w" * 4096)
    (tmp_path / "results").mkdir()  # the layout of deap_lib 0.1: counted, and cleared by "all"
    (tmp_path / "results" / "a.pt").write_bytes(b"w" * 4096)
    assert main(["cache", "--cache", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "features       1 file(s)" in out and "weights        1 file(s)" in out and "old layout" in out
    assert main(["cache", "--cache", str(tmp_path), "--clear", "records"]) == 0
    out = capsys.readouterr().out
    assert "deleted 2 file(s)" in out and "records        0 file(s)" in out and "features       1 file(s)" in out
    assert store.read_arrays("features", "k") is not None and store.read_json("records", "a") is None
    assert main(["cache", "--cache", str(tmp_path), "--clear", "all"]) == 0
    out = capsys.readouterr().out
    assert "deleted 2 file(s)" in out and "old layout" not in out and not (tmp_path / "results").exists()


def test_cache_clear_removes_what_is_not_an_entry(tmp_path, capsys):
    (tmp_path / "store" / "features" / "k").mkdir(parents=True)  # a directory where an entry belongs
    (tmp_path / "store" / "features" / "k" / "x").write_bytes(b"x")
    assert main(["cache", "--cache", str(tmp_path), "--clear", "features"]) == 0
    assert "deleted 1 file(s)" in capsys.readouterr().out and not (tmp_path / "store" / "features" / "k").exists()
