"""Every setting typed and range-checked in one place, from YAML, --set and papermill alike; profiles."""

import re
import shlex
from pathlib import Path

import pytest
import yaml

from deap_lib import cli
from deap_lib.experiment import settings
from deap_lib.experiment.settings import (
    MODEL_DEFAULTS,
    SETTINGS,
    ExperimentConfig,
    ParameterError,
    check,
    coerce,
    load_config,
)

ROOT = Path(__file__).resolve().parents[1]

# (setting, a good value as text, its typed value, bad values)
CASES = [
    ("model", "cnn", "cnn", ["rnn", 1, None]),
    ("target", "arousal", "arousal", ["dominance", ""]),
    ("seed", "7", 7, [-1, 2.5, "x", True, 2**40]),
    ("epochs", "40.0", 40, [0, "2.7", float("inf")]),
    ("batch_size", "50", 50, [0, "2.5", 5000]),
    ("optimizer", "adam", "adam", ["lbfgs"]),
    ("lr", "1e-3", 1e-3, [0, -1, "abc", float("nan")]),
    ("momentum", "0.9", 0.9, [1, -0.1, "abc"]),
    ("n_test", "100", 100, [0, 1280]),
    ("val_fraction", "0.1", 0.1, [1.0, -0.1, "x"]),
    ("train_accuracy", "eval", "eval", ["both"]),
    ("twin_seed", "3", 3, [-3]),
    ("twin_effect", "0", 0.0, [-1, "big"]),
    ("standardization", "none", "none", ["zscore"]),
    ("nonfinite", "drop", "drop", ["ignore"]),
    ("data_identity", "content", "content", ["mtime"]),
    ("cv_epochs", "2", 2, [0]),
    ("n_folds", "32", 32, [1, 1281]),
    ("kfold_holdout", "2", 2, [0]),
    ("five_by_two_epochs", "150", 150, [0, "x"]),
    ("n_jobs", "2", 2, [0, -1, 1.5]),
    ("loso_epochs", "60", 60, [0]),
    ("loso_holdout", "32", 32, [33, 0]),
    ("n_permutations", "19", 19, [0]),
    ("control_effect", "0.0", 0.0, [-0.5]),
    ("dataset", "mahnob", "mahnob", ["seed", 1]),
    ("device", "cuda", "cuda", ["gpu", 0]),
    ("precision", "bfloat16", "bfloat16", ["float16", "fp32", 16]),
    ("train_seed", "3", 3, [-1, 1.5]),
    ("train_seeds", "5", 5, [0, 1001, "x"]),
    ("fold_seeds", "3", 3, [0, 2.5]),
    ("mahnob_experiments", "[cnn arousal]", ["cnn arousal"], [["cnn dominance"], []]),
    ("mahnob_epochs", "40", 40, [0, 2.5]),
]


def test_every_setting_has_a_case():
    assert {c[0] for c in CASES} | {"model_kwargs", "deap_dir", "mahnob_dir", "scheduler", "participants", "profile",
                                        "cv_experiments"} == set(SETTINGS)


@pytest.mark.parametrize("name, text, value, bad", CASES, ids=[c[0] for c in CASES])
def test_values_are_coerced_and_bad_ones_named_in_one_line(name, text, value, bad):
    assert coerce(name, yaml.safe_load(text)) == value and type(coerce(name, yaml.safe_load(text))) is type(value)
    for b in bad:
        with pytest.raises(ParameterError) as err:
            coerce(name, b)
        msg = str(err.value)
        assert msg.startswith(f"{name} must be ") and repr(b) in msg and "\n" not in msg


def test_lists_paths_and_mappings():
    assert coerce("participants", [3, 1]) == (1, 3)
    for bad in ([], [0], [1, 1], [33], ["a"], 5, [True]):
        with pytest.raises(ParameterError, match="participants must be a non-empty list"):
            coerce("participants", bad)
    assert coerce("cv_experiments", ["cnn arousal", "dnn valence"]) == ["dnn valence", "cnn arousal"]
    with pytest.raises(ParameterError, match="cv_experiments must be"):
        coerce("cv_experiments", ["dnn dominance"])
    assert coerce("deap_dir", Path("/data")) == "/data" and coerce("deap_dir", None) is None
    with pytest.raises(ParameterError, match="deap_dir must be"):
        coerce("deap_dir", 3)
    with pytest.raises(ParameterError, match="model_kwargs must be"):
        coerce("model_kwargs", [1, 2])
    with pytest.raises(ParameterError, match=r"unknown setting\(s\) \['learning_rate'\]"):
        check({"learning_rate": 1})


def test_experiment_config_goes_through_the_schema():
    c = ExperimentConfig.from_dict({"model": "cnn", "lr": "1e-3", "epochs": 40.0, "participants": [2, 1]})
    assert (c.lr, c.epochs, c.participants, c.batch_size) == (1e-3, 40, (1, 2), MODEL_DEFAULTS["cnn"]["batch_size"])
    with pytest.raises(ParameterError, match=r"^model_kwargs has \['hiden'\], which the DNN does not take"):
        ExperimentConfig(model="dnn", model_kwargs={"hiden": (8,)})
    assert set(SETTINGS["model"].choices) == set(MODEL_DEFAULTS)


def test_packaged_profiles_and_configs_pass_and_a_bad_profile_is_named(tmp_path):
    for name in ("smoke", "quick", "paper"):
        values = settings.load_profile(name)
        assert set(values) <= set(settings.PROFILE_KEYS)
    defaults = ExperimentConfig()
    for path in (ROOT / "deap_lib" / "configs").glob("*.yml"):
        config = load_config(path.stem)
        assert path.stem == f"deap_{config.model}_{config.target}"
        # a config states only the report's values: never a second, diverging copy of them
        stated = yaml.safe_load(path.read_text())
        assert all(getattr(defaults, k) == v for k, v in stated.items() if k not in ("model", "target"))
    bad = tmp_path / "mine.yml"
    bad.write_text("profile: mine\nepochs: lots\n")
    with pytest.raises(ParameterError, match=r"mine.yml: epochs must be a whole number .*got 'lots'"):
        settings.load_profile(str(bad))
    with pytest.raises(ParameterError, match=r"n_jobs must be a whole number in \[1, 1024\], got 0"):
        settings.chapter_settings({"profile": "smoke", "n_jobs": 0})


def _readme_commands() -> list[str]:
    """Every ``python -m deap_lib ...`` line of the README, optional parts included, alternatives expanded."""
    lines = re.findall(r"^python -m deap_lib (.*?)(?:\s+#.*)?$", (ROOT / "README.md").read_text(), re.M)
    out = []
    for line in lines:
        line = line.replace("[", "").replace("]", "")
        alternatives = re.search(r"(\S+)\|(\S+)", line)
        for alt in alternatives.groups() if alternatives else [None]:
            out.append(line.replace(alternatives.group(0), alt) if alt else line)
    return out


def test_readme_commands_parse_and_validate_before_any_work(tmp_path, monkeypatch):
    commands = _readme_commands()
    assert len(commands) >= 7 and any("--set lr=1e-3" in c for c in commands)
    parser = cli.build_parser()
    for command in commands:
        args = parser.parse_args(shlex.split(command.replace("DIR", str(tmp_path))))
        if args.command in ("train", "cv"):
            config = cli._config(args)  # what train/cv build before preparing anything
            assert config.epochs == (40 if "--epochs 40" in command else 250)
            if "lr=1e-3" in command:
                assert config.lr == 1e-3
    monkeypatch.setenv("DEAP_LIB_CACHE", str(tmp_path / "cache"))
    for command in commands:
        if command.startswith("cache"):
            assert cli.main(shlex.split(command)) == 0


def test_bad_set_values_stop_before_any_work(capsys, monkeypatch):
    import deap_lib.data.dataset

    monkeypatch.setattr(deap_lib.data.dataset, "prepare", lambda *a, **k: pytest.fail("prepared before checking"))
    for item, expected in (("lr=abc", "lr must be a finite number > 0"), ("epochs=2.7", "epochs must be a whole"),
                           ("batch_size=2.5", "batch_size must be"), ("val_fraction=abc", "val_fraction must be"),
                           ("momentum=abc", "momentum must be"), ("participants=[0]", "participants must be")):
        assert cli.main(["train", "--config", "deap_dnn_valence", "--set", item]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: {expected}") and err.count("\n") == 1


def test_settings_fill_none_from_profile(monkeypatch):
    monkeypatch.delenv(settings.PROFILE_ENV, raising=False)
    values = settings.chapter_settings({"profile": "smoke", "epochs": None, "target": "arousal", "unrelated": 1})
    assert values["epochs"] == settings.load_profile("smoke")["epochs"] and values["target"] == "arousal"
    assert "unrelated" not in values
    monkeypatch.setenv(settings.PROFILE_ENV, "paper")
    assert settings.chapter_settings({"profile": None})["epochs"] == 250
    config = settings.experiment(settings.chapter_settings({"profile": "quick"}), model="cnn")
    assert config.batch_size == 50 and config.epochs == settings.load_profile("quick")["epochs"]


def test_bad_profiles(tmp_path):
    with pytest.raises(FileNotFoundError, match="smoke"):
        settings.load_profile("fastest")
    bad = tmp_path / "mine.yml"
    bad.write_text("epochs: 3\nlearning_rate: 1\n")
    with pytest.raises(ValueError, match="learning_rate"):
        settings.load_profile(str(bad))


def test_cv_experiments_parameter():
    assert settings.cv_experiments({"cv_experiments": None}) == list(settings.EXPERIMENTS)
    chosen = {"cv_experiments": ["cnn arousal", "dnn valence"], "mahnob_experiments": ["cnn valence"]}
    assert settings.cv_experiments(chosen) == [("dnn", "valence"), ("cnn", "arousal")]
    assert settings.cv_experiments(chosen, "mahnob_experiments") == [("cnn", "valence")]
