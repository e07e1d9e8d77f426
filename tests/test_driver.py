"""The book driver: stamps decide what a plain `jupyter-book build book` executes; copies leave the user's
book alone; progress, Jupyter Book 2 and kernel shutdowns."""

import json
import os
from types import SimpleNamespace

from deap_lib.experiment import protocols
from deap_lib.report import driver


def _fake_chapters(folder, profile="quick", parameters=None, changes=None):
    folder.mkdir(parents=True, exist_ok=True)
    stamps = {}
    for name in driver.CHAPTERS:
        (folder / f"{name}.ipynb").write_text("{}")
        stamps[name] = {**driver._wanted(profile, parameters),
                        "source": driver._source_hash(name, driver.ROOT / "notebooks"),
                        "seconds": 3.0, **(changes or {}).get(name, {})}
    (folder / driver.STAMP).write_text(json.dumps(stamps))


def test_stale_chapters_follow_profile_parameters_source_and_missing_files(tmp_path):
    chapters = tmp_path / "chapters"
    assert driver.stale_chapters(chapters, "quick") == list(driver.CHAPTERS)  # nothing executed yet
    _fake_chapters(chapters)
    assert driver.stale_chapters(chapters, "quick") == []  # the recorded time does not matter
    assert driver.stale_chapters(chapters, "smoke") == list(driver.CHAPTERS)
    assert driver.stale_chapters(chapters, "quick", {"deap_dir": "/data"}) == list(driver.CHAPTERS)
    assert driver.stale_chapters(chapters, "quick", {"mahnob_dir": "/m", "device": "cuda"}) == list(driver.CHAPTERS)
    # where runs execute changes no result: a cluster's address never makes a chapter stale
    assert driver.stale_chapters(chapters, "quick", {"scheduler": "tcp://10.0.0.1:8786"}) == []
    _fake_chapters(chapters, changes={"03_fixed_split": {"source": "edited"}})
    assert driver.stale_chapters(chapters, "quick") == ["03_fixed_split"]
    (chapters / "02_models.ipynb").unlink()
    assert driver.stale_chapters(chapters, "quick") == ["02_models", "03_fixed_split"]
    # an edited profile file makes every chapter stale, though its name is the same
    mine = tmp_path / "mine.yml"
    mine.write_text((driver.ROOT / "deap_lib/profiles/quick.yml").read_text())
    _fake_chapters(chapters, profile=str(mine))
    assert driver.stale_chapters(chapters, str(mine)) == []
    mine.write_text(mine.read_text().replace("epochs: 60", "epochs: 61"))
    assert driver.stale_chapters(chapters, str(mine)) == list(driver.CHAPTERS)
    (chapters / driver.STAMP).write_text("not json")
    assert driver.stale_chapters(chapters, "quick") == list(driver.CHAPTERS)


def test_prepare_book_copies_sources_not_chapters(tmp_path):
    book = driver.prepare_book(tmp_path / "smoke")
    assert (book / "_config.yml").read_text() == (driver.ROOT / "_config.yml").read_text()
    assert (book / "_toc.yml").is_file() and not (book / "_toc.yml").is_symlink()
    assert (book / "intro.md").exists() and (book / "figures" / "learning_curves.png").exists()
    assert not (book / "chapters").exists()
    (book / "stray.md").write_text("x")
    assert not (driver.prepare_book(tmp_path / "smoke") / "stray.md").exists()  # a fresh copy each time


def _record(model, split, epoch_seconds):
    """What the training engine's progress line reads of a run's record."""
    return SimpleNamespace(config=SimpleNamespace(model=model, target="valence", epochs=60),
                           split=SimpleNamespace(name=split), epoch_seconds=[epoch_seconds] * 60)


def test_progress_lines_only_when_asked_with_what_is_left(tmp_path, monkeypatch):
    record = _record("dnn", "kfold32-fold09", 1.5)
    monkeypatch.delenv(driver.PROGRESS_ENV, raising=False)
    protocols._report_progress(record, 1, 2, 90.0)  # no file named: nothing written anywhere
    path = tmp_path / "progress"
    monkeypatch.setenv(driver.PROGRESS_ENV, str(path))
    protocols._report_progress(record, 1, 2, 90.0)  # one at a time: the other run is still to come
    protocols._report_progress(record, 2, 2, 180.0)
    protocols._report_progress(record, 1, 2, 91.0, n_jobs=2)  # two at a time: the other is finishing too
    protocols._report_progress(record, 1, 4, 91.0, n_jobs=2)  # two more to come after these
    # two CNN runs first, then two DNN runs that cost 1 / 2.7 of one each: 240 * (2 + 2 / 2.7) / 2 - 240 = 89
    protocols._report_progress(_record("cnn", "fixed", 4.0), 1, 4, 240.0, n_jobs=2, like_this=2 + 2 / 2.7)
    first, second, third, fourth, fifth = path.read_text().splitlines()
    assert first == "run 1/2 trained: dnn valence kfold32-fold09, 60 epochs, 90 s, about 90 s left for this step"
    assert second.startswith("run 2/2") and "left" not in second
    assert "left" not in third and fourth.endswith("about 89 s left for this step")
    assert fifth.startswith("run 1/4 trained: cnn") and fifth.endswith("about 89 s left for this step")


def test_progress_of_a_chapter_is_printed_and_its_file_removed(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(driver.PROGRESS_ENV, raising=False)
    path = tmp_path / ".01_data.progress"
    with driver._progress(path, "01_data"):
        assert os.environ[driver.PROGRESS_ENV] == str(path.resolve())
        path.write_text("run 1/2 trained\nrun 2/2 trained\n")
    assert capsys.readouterr().err == "  01_data: run 1/2 trained\n  01_data: run 2/2 trained\n"
    assert not path.exists() and driver.PROGRESS_ENV not in os.environ


def test_jupyter_book_2_is_refused_with_what_to_install(monkeypatch):
    from importlib import metadata

    import pytest

    monkeypatch.setattr(metadata, "version", lambda name: "2.0.1")
    with pytest.raises(driver.JupyterBookVersionError,
                       match=r"^Jupyter Book 2.0.1 is installed.*pip install 'jupyter-book<2'"):
        driver.build()
    assert isinstance(driver.JupyterBookVersionError("x"), OSError)  # the CLI's one-line errors


def test_chapter_kernels_are_shut_down_without_an_interrupt():
    # jupyter_client interrupts (SIGINT) before every shutdown: an idle kernel then logs
    # "[IPKernelApp] ERROR | KeyboardInterrupt caught in kernel" into the build's output
    import asyncio
    import signal

    km = driver.QuietKernelManager(kernel_name="python3")
    sent = []

    async def start_and_shut_down():
        await km.start_kernel()
        signal_kernel = km._async_signal_kernel

        async def spy(signum):
            sent.append(signum)
            await signal_kernel(signum)

        km._async_signal_kernel = spy
        await km.shutdown_kernel()

    asyncio.run(start_and_shut_down())
    assert signal.SIGINT not in sent and not km.has_kernel
