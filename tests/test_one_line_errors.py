"""Every mistake is one line before any work: a device this machine lacks, model_kwargs the model refuses."""

import pytest
import torch

from deap_lib.cli import main
from deap_lib.experiment import executor, settings
from deap_lib.experiment.settings import ExperimentConfig, ParameterError

NO_CUDA = "device 'cuda' asked for, but this torch has no CUDA (torch.cuda.is_available() is False)"


@pytest.fixture
def no_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.delenv(executor.SCHEDULER_ENV, raising=False)


def _no_work(monkeypatch):
    def prepare(self, **kwargs):
        raise AssertionError("data was prepared before the mistake was reported")

    monkeypatch.setattr(ExperimentConfig, "prepare", prepare)


@pytest.mark.parametrize("command", [["train", "--config", "deap_dnn_valence"], ["cv", "--config", "deap_cnn_arousal"],
                                     ["book", "--chapters", "02_models", "--no-build"]])
def test_cuda_without_cuda_is_one_line_before_any_work(no_cuda, monkeypatch, capsys, command):
    _no_work(monkeypatch)
    assert main([*command, "--device", "cuda"]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(f"error: {NO_CUDA}; use --device cpu")


def test_a_chapter_asking_for_cuda_without_cuda_is_a_parameter_error(no_cuda):
    with pytest.raises(ParameterError, match=r"device 'cuda' asked for.*-p device cpu.*parameters cell"):
        settings.chapter_settings({"profile": "smoke", "device": "cuda"})
    assert settings.chapter_settings({"profile": "smoke", "device": "cpu"})["device"] == "cpu"


def test_with_a_scheduler_the_device_is_the_workers_business(no_cuda, monkeypatch):
    executor.check_device("cuda", "tcp://10.0.0.1:8786")  # not checked here: the workers run the runs
    monkeypatch.setenv(executor.SCHEDULER_ENV, "tcp://10.0.0.1:8786")
    executor.check_device("cuda")


def test_model_kwargs_the_model_refuses_are_one_parameter_error(monkeypatch, capsys):
    refused = r"^model_kwargs \{'hidden': \[-5\]\} do not make a DNN: .*negative dimension"
    with pytest.raises(ParameterError, match=refused):
        ExperimentConfig(model_kwargs={"hidden": [-5]})
    with pytest.raises(ParameterError, match=r"model_kwargs .* do not make a CNN.*parameters cell"):
        settings.chapter_settings({"profile": "smoke", "model": "cnn", "model_kwargs": {"hidden": -3}})
    _no_work(monkeypatch)
    assert main(["train", "--config", "deap_dnn_valence", "--set", "model_kwargs={hidden: [-5]}"]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("error: model_kwargs {'hidden': [-5]} do not make a DNN: ")


def test_checking_model_kwargs_draws_nothing_from_the_global_generator():
    state = torch.random.get_rng_state()
    ExperimentConfig(model_kwargs={"hidden": [7, 3]})
    assert torch.equal(torch.random.get_rng_state(), state)
