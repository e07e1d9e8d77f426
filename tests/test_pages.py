from pathlib import Path

import jupytext
import pytest

from deap_lib import models
from deap_lib.evaluation import stats
from deap_lib.evaluation.results import Estimate, Protocol
from deap_lib.report import driver, pages, paper

ROOT = Path(__file__).resolve().parents[1]
CHAPTER_SOURCES = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))


def test_every_chapter_is_in_the_toc_and_the_driver():
    toc = (ROOT / "_toc.yml").read_text()
    names = [p.stem for p in CHAPTER_SOURCES]
    assert names == list(driver.CHAPTERS)
    assert all(f"chapters/{n}" in toc for n in names)
    assert (ROOT / "book" / "_toc.yml").resolve() == (ROOT / "_toc.yml").resolve()


@pytest.mark.parametrize("src", CHAPTER_SOURCES, ids=lambda p: p.stem)
def test_pairs_in_sync_with_parameters_and_no_outputs(src):
    py, ipynb = jupytext.read(src), jupytext.read(src.with_suffix(".ipynb"))
    assert [c.source for c in py.cells] == [c.source for c in ipynb.cells], f"run: jupytext --to ipynb {src}"
    tagged = [c for c in ipynb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and "profile = None" in tagged[0].source
    assert all(not c.get("outputs") for c in ipynb.cells if c.cell_type == "code")
    assert ipynb.cells[0].source.startswith("# "), "the first cell is the chapter title"


def test_layer_rows_count_the_report_parameters():
    rows = pages.layer_rows({m: models.build_model(m) for m in ("dnn", "cnn")})
    for m in ("DNN", "CNN"):
        mine = [r for r in rows if r["model"] == m]
        assert sum(int(r["parameters"].replace(",", "")) for r in mine) == paper.N_PARAMS[m.lower()]
        assert mine[-1]["output"] == "1"


def test_config_rows_put_experiments_side_by_side():
    from deap_lib.experiment.settings import ExperimentConfig

    rows = pages.config_rows({m: ExperimentConfig(model=m) for m in ("dnn", "cnn")})
    by = {r["parameter"]: r for r in rows}
    assert (by["batch_size"]["DNN"], by["batch_size"]["CNN"]) == (310, 50)
    assert (by["optimizer"]["DNN"], by["optimizer"]["CNN"]) == ("rmsprop", "sgd")


def test_report_mcnemar_counts_match_its_best_epochs():
    r = paper.MCNEMAR
    assert r["both_right"] + r["only_dnn"] == round(100 * paper.FIXED_SPLIT["dnn", "valence"]["as_reported"])
    assert r["both_right"] + r["only_cnn"] == round(100 * paper.FIXED_SPLIT["cnn", "valence"]["as_reported"])
    assert r["both_right"] + r["both_wrong"] + r["only_dnn"] + r["only_cnn"] == 100
    assert round(stats.mcnemar_exact_from_counts(r["only_dnn"], r["only_cnn"])["p_value"], 3) == r["p_value"]


def test_not_learned_follows_the_baseline_interval():
    # 100 test trials, majority 53 %: its Wilson interval reaches about 62.5 %
    assert pages.not_learned("DNN valence", {"last": 0.60}, 0.53, 100, 8) is not None
    assert pages.not_learned("DNN valence", {"last": 0.53}, 0.53, 100, 8) is not None
    assert pages.not_learned("DNN valence", {"last": 0.70, "validation-chosen": None}, 0.53, 100, 80) is None
    # the same accuracy is inside the interval on few trials and outside it on many
    assert pages.not_learned("x", {"last": 0.60}, 0.53, 1000, 8) is None
    text = pages.not_learned("CNN arousal", {"last epoch": 0.55, "validation-chosen": 0.70}, 0.53, 100, 8)
    assert "CNN arousal" in text and "last epoch 55.0%" in text and "70.0%" not in text and "8 epochs" in text
    assert pages.budget_warning([None, None]) is None  # no output, not an empty Markdown
    shown = pages.budget_warning([text, None], profile="quick").data
    assert "Not distinguishable" in shown and ":class: warning" in shown and "CNN arousal" in shown and "`quick` profile" in shown


def test_protocols_warning_says_when_loso_alone_is_at_chance():
    def summary(*means):
        return {("dnn", "valence"): {p: Estimate(m, m, m, 0.55, 1, 100, (m,), "Wilson", 60) for p, m in zip(Protocol, means)}}

    shown = pages.protocols_warning(summary(0.80, 0.75, 0.74, 0.56), profile="quick").data
    assert "leave-one-subject-out, honest epoch 56.0%" in shown and "random k-fold" in shown.split("mixed:")[1]
    assert "does not carry over to a new participant" in shown
    shown = pages.protocols_warning(summary(0.80, 0.56, 0.56, 0.56)).data  # nothing learned anywhere
    assert "carry over" not in shown and shown.count("- DNN valence") == 3
    assert pages.protocols_warning(summary(0.9, 0.9, 0.9, 0.9)) is None
    rows = pages.protocol_rows(summary(0.80, 0.75, 0.74, 0.56))
    assert list(rows[0]) == ["experiment", *(p.heading for p in Protocol), "majority, LOSO"]


def test_reduced_note_only_when_something_was_left_out():
    values = {"profile": "quick"}
    assert pages.reduced_note(values, "folds", list(range(32)), range(32), "why") is None
    shown = pages.reduced_note(values, "folds", ["kfold32-fold09", "kfold32-fold19"], range(32), "Because.").data
    assert "Reduced: 2 of the 32 folds" in shown and "kfold32-fold09" in shown and "Because." in shown
