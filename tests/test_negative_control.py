"""The null twin (effect 0) as a negative control: every honest figure sits at chance.

Runs the honest-evaluation chapter's negative control (chapters.negative_control) with the smoke
profile's settings, exactly as the chapter does. It uses the
session's result cache ($DEAP_LIB_CACHE), so the chapters executed afterwards read these runs.
"""

import pytest

from deap_lib.evaluation import summaries
from deap_lib.evaluation.results import Protocol
from deap_lib.experiment import settings
from deap_lib.report import chapters, pages

pytestmark = pytest.mark.slow  # trains every protocol on the null twin


@pytest.fixture(scope="module")
def smoke():
    return settings.chapter_settings({"profile": "smoke"})


def test_null_twin_honest_figures_at_chance(smoke):
    control = chapters.negative_control(smoke, chapters.prepared(smoke))
    assert control["all_at_chance"], pages.control_rows(control)
    judged = [name for name, _, judged in control["figures"] if judged]
    assert len(judged) == 2 * 4 + 2  # two honest protocols x 4 (model, target) + logistic regression x 2
    rows = pages.control_rows(control)
    assert len(rows) == 4 * 4 + 2 and sum(r["at chance"] == "(not judged)" for r in rows) == 2 * 4


def test_negative_control_flags_an_above_chance_figure(smoke):
    control = chapters.negative_control(smoke, chapters.prepared(smoke))
    name, v, _ = next(f for f in control["figures"] if Protocol.LOSO.value in f[0])
    rigged = {("dnn", "valence"): {Protocol.LOSO: v.replace(low=0.99, mean=1.0)}}
    assert not summaries.judge_control(rigged, {})["all_at_chance"]
    assert chapters.negative_control({**smoke, "control_effect": None}, chapters.prepared(smoke)) is None
