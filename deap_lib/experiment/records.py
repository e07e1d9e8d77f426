"""A trained run's record and a fixed split's runs, as typed values; ``to_json`` / ``from_json``
are the stored JSON (:class:`deap_lib.store.Store`), read back field for field."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from deap_lib.evaluation.results import RunSummary
from deap_lib.experiment.settings import ExperimentConfig
from deap_lib.experiment.splits import Split


@dataclass(frozen=True)
class History:
    """Per epoch: mean training loss, training, validation (None without a validation set) and test
    accuracy, and the test predictions as a string of 0/1 in the split's test order."""

    loss: tuple
    train_acc: tuple
    val_acc: tuple
    test_acc: tuple
    test_pred: tuple

    def predictions(self, epoch: int) -> np.ndarray:
        """The test predictions (0/1) at the 1-based ``epoch``."""
        return np.fromiter(map(int, self.test_pred[epoch - 1]), dtype=np.int64)


@dataclass(frozen=True, eq=False)
class Record:
    """One trained run: what made it (config, scheme, split with its fit and validation rows, seeds,
    data, versions, device, precision), what it did (history, per-epoch seconds, test logits) and
    its figures (``summary``). ``stack_size`` runs were trained together (1: on its own); ``id``
    is its store key and ``ran_on`` the worker and device (set when it comes back from training)."""

    config: ExperimentConfig
    scheme: str
    split: Split
    fit: np.ndarray
    val: np.ndarray
    run_seed: int
    data: dict
    versions: dict
    device: str
    precision: str
    stack_size: int
    history: History
    epoch_seconds: tuple
    test_logits: tuple
    y_test: np.ndarray
    summary: RunSummary
    id: str = ""
    ran_on: dict | None = None

    @property
    def name(self) -> str:
        return f"{self.config.model} {self.config.target} {self.split.name}"

    def predictions(self, which: str = "last") -> np.ndarray:
        """Test predictions at the epoch of the ``which`` figure (see :meth:`RunSummary.figure`)."""
        figure = getattr(self.summary, which)
        if figure is None:
            raise ValueError(f"this run has no {which!r} figure (val_fraction was 0?)")
        return self.history.predictions(figure.epoch)

    def replace(self, **changes) -> Record:
        return dataclasses.replace(self, **changes)

    def to_json(self) -> dict:
        c = self.config
        out = {
            "config": c.to_dict(), "scheme": self.scheme,
            "split": {**self.split.to_dict(), "fit": self.fit.tolist(), "val": self.val.tolist()},
            "seed": {"experiment": c.seed, "train": c.train_seed, "run": self.run_seed},
            "data": self.data, "versions": self.versions, "device": self.device, "precision": self.precision,
            "stacked": self.stack_size > 1, "stack_size": self.stack_size,
            "history": {k: list(v) for k, v in dataclasses.asdict(self.history).items()},
            "epoch_seconds": list(self.epoch_seconds), "test_logits": list(self.test_logits),
            "y_test": self.y_test.tolist(), "summary": self.summary.to_json(),
        }
        return {**out, **({"id": self.id} if self.id else {}), **({"ran_on": self.ran_on} if self.ran_on else {})}

    @classmethod
    def from_json(cls, d: dict) -> Record:
        h = d["history"]
        return cls(
            config=ExperimentConfig.from_dict(d["config"]), scheme=d["scheme"], split=Split.from_dict(d["split"]),
            fit=np.asarray(d["split"]["fit"], dtype=np.int64), val=np.asarray(d["split"]["val"], dtype=np.int64),
            run_seed=d["seed"]["run"], data=d["data"], versions=d["versions"], device=d["device"],
            precision=d["precision"], stack_size=d["stack_size"],
            history=History(*(tuple(h[k]) for k in ("loss", "train_acc", "val_acc", "test_acc", "test_pred"))),
            epoch_seconds=tuple(d["epoch_seconds"]), test_logits=tuple(d["test_logits"]),
            y_test=np.asarray(d["y_test"], dtype=np.int64), summary=RunSummary.from_json(d["summary"]),
            id=d.get("id", ""), ran_on=d.get("ran_on"))


@dataclass(frozen=True, eq=False)
class FixedRun:
    """A fixed split's runs for one config: the report's protocol (``report``: every training trial
    fitted) and the honest run that holds a validation set out (None when ``val_fraction`` is 0);
    ``summary``: the report's figures with the honest run's ``val_chosen``."""

    config: ExperimentConfig
    report: Record
    honest: Record | None

    @property
    def summary(self) -> RunSummary:
        chosen = self.honest.summary.val_chosen if self.honest is not None else None
        return dataclasses.replace(self.report.summary, val_chosen=chosen)

    def predictions(self, which: str = "last") -> np.ndarray:
        """Test predictions at the ``which`` figure's epoch (the honest run gives "val_chosen")."""
        run = self.honest if which == "val_chosen" and self.honest is not None else self.report
        return run.predictions(which)
