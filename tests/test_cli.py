import subprocess
import sys

from deap_lib.cli import main


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
