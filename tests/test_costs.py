import numpy as np
import pytest

from deap_lib.experiment import splits
from deap_lib.experiment.settings import ExperimentConfig, load_profile
from deap_lib.report import costs


def profile(name):
    return {**ExperimentConfig().to_dict(), **load_profile(name)}


def test_paper_profile_runs_follow_the_profile_and_the_split_functions():
    values = profile("paper")
    rows = costs.profile_runs(values)
    by_step = {}
    for r in rows:
        by_step[r["step"]] = by_step.get(r["step"], 0) + r["runs"]
    n_exp = 4  # cv_experiments None: all four
    seeds, fold_seeds = values["train_seeds"], values["fold_seeds"]
    assert (seeds, fold_seeds) == (10, 3)
    assert by_step["random k-fold"] == n_exp * values["n_folds"] * fold_seeds
    assert by_step["leave-one-subject-out"] == n_exp * 32 * fold_seeds
    assert by_step["fixed split, report's protocol"] == by_step["fixed split, validation run"] == n_exp * seeds
    assert by_step["5x2cv"] == 20
    assert by_step["MAHNOB-HCI fixed split"] == 2 * n_exp * seeds
    assert by_step["MAHNOB-HCI 6-fold"] == n_exp * 6 * fold_seeds
    assert all(by_step[f"null-twin control: {s}"] == by_step[s] for s in by_step
               if not s.startswith(("null", "5x2", "MAHNOB")))
    kfold = next(r for r in rows if r["step"] == "random k-fold")
    assert (kfold["fit"], kfold["test"], kfold["epochs"]) == (1240, 40, 250)
    honest = next(r for r in rows if r["step"] == "fixed split, validation run")
    fixed = splits.fixed_split(1280, n_test=100, seed=12)
    fit, val = splits.validation_split(fixed.train, fraction=0.1, seed=12)
    assert (honest["fit"], honest["val"]) == (len(fit), len(val))
    # Without the control, or with the quick profile's choices, fewer runs.
    assert sum(r["runs"] for r in costs.profile_runs(values, control=False)) == sum(r["runs"] for r in rows) - sum(
        v for s, v in by_step.items() if s.startswith("null"))
    quick = costs.profile_runs(profile("quick"))
    assert {r["step"] for r in quick} == {"fixed split, report's protocol", "random k-fold", "leave-one-subject-out",
                                          "MAHNOB-HCI fixed split", "MAHNOB-HCI 6-fold"}
    q = profile("quick")
    assert sum(r["runs"] for r in quick if r["step"] in ("random k-fold", "leave-one-subject-out")) == \
        (q["kfold_holdout"] + q["loso_holdout"]) * q["fold_seeds"]
    # the quick MAHNOB chapter: the DNN on arousal, its fixed split and 2 of the 6 folds
    assert [(r["model"], r["runs"]) for r in quick if r["step"].startswith("MAHNOB")] == [
        ("dnn", q["train_seeds"]), ("dnn", 2 * q["fold_seeds"])]


def test_epoch_model_recovers_known_costs_and_projection_schedules_longest_first():
    true = {"dnn": (1.2e-3, 0.5e-3), "cnn": (3.3e-3, 1.6e-3)}
    measured = []
    for model, (a, b) in true.items():
        for fit, other in ((1180, 100), (1062, 218), (640, 640), (1240, 40)):
            measured.append({"model": model, "n_train": fit, "n_val": 0, "n_test": other,
                             "seconds": [a * fit + b * other] * 3})
    fitted = costs.epoch_model(measured)
    for model in true:
        np.testing.assert_allclose(fitted[model], true[model], rtol=1e-9)
    rows = [dict(model="dnn", runs=3, epochs=10, fit=1000, val=0, test=100),
            dict(model="cnn", runs=1, epochs=10, fit=1000, val=0, test=100)]
    each = {m: costs.run_seconds(rows[i], fitted) for i, m in enumerate(("dnn", "cnn"))}
    assert costs.projected_hours(rows, fitted, 1) == pytest.approx((3 * each["dnn"] + each["cnn"]) / 3600)
    assert costs.projected_hours(rows, fitted, 4) == pytest.approx(each["cnn"] / 3600)  # one run per slot
    # two slots: the CNN run on one, the three DNN runs on the other (longest first)
    assert costs.projected_hours(rows, fitted, 2) == pytest.approx(max(each["cnn"], 3 * each["dnn"]) / 3600)
    assert costs.total_steps(rows, {"dnn": 310, "cnn": 50}) == 3 * 10 * 4 + 10 * 20
