"""What one search trial is: TrainEval of seed 002 A.2, its budget and early-stopping checkpoints, and the contract
between a worker and an objective.

A trial trains a candidate on paper folds 1, 3, 4, 5, 6 and reports the subject-level AUC on folds 2 ∪ 7 after
every epoch, up to 100 epochs; its performance is the best AUC over the epochs. At epochs 10, 20, …, 90 it is
stopped if the best AUC so far is below 0.75, 0.775, …, 0.95 (gcn_reference C, "One trial"). Folds here are
0-based: paper fold f is index f − 1.

An *objective* (:mod:`infantjax.nas.objectives`) is any callable ``objective(spec, context) -> TrialOutcome``: the
worker (:mod:`infantjax.nas.worker`) hands it a :class:`TrialContext` and records the :class:`TrialOutcome`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from infantjax._jsonconfig import JsonConfig
from infantjax.errors import ConfigError

__all__ = [
    "PAPER_CHECKPOINTS",
    "LeaseLost",
    "TrialConfig",
    "TrialContext",
    "TrialOutcome",
    "parse_checkpoints",
    "should_stop",
]

# Early-stopping checkpoints of the search (seed 002 A.2): (epoch, minimum best AUC so far).
PAPER_CHECKPOINTS: tuple[tuple[int, float], ...] = (
    (10, 0.75), (20, 0.775), (30, 0.8), (40, 0.825), (50, 0.85), (60, 0.875), (70, 0.9), (80, 0.925), (90, 0.95),
)


def parse_checkpoints(text: str) -> tuple[tuple[int, float], ...]:
    """Early-stopping checkpoints from text: ``"paper"`` (:data:`PAPER_CHECKPOINTS`), ``"none"``, or
    ``"EPOCH:AUC,EPOCH:AUC"`` (the CLI's ``--checkpoints``).

    Raises:
        ConfigError: other text.
    """
    if text == "paper":
        return PAPER_CHECKPOINTS
    if text in ("none", ""):
        return ()
    try:
        return tuple((int(e), float(a)) for e, a in (item.split(":") for item in text.split(",")))
    except ValueError:
        raise ConfigError(f"--checkpoints {text!r}: expected 'paper', 'none' or 'EPOCH:AUC,EPOCH:AUC'") from None


@dataclasses.dataclass(frozen=True)
class TrialConfig(JsonConfig):
    """Budget and data of one trial.

    Attributes:
        epochs: training epochs (100 in the paper's search).
        checkpoints: ``(epoch, minimum best AUC)`` early-stopping checkpoints; ``()`` disables pruning.
        train_folds: 0-based folds trained on (paper folds 1, 3, 4, 5, 6).
        val_folds: 0-based folds validated on (paper folds 2 and 7).
        train: overrides of :class:`infantjax.train.CPConfig` fields (e.g. ``{"batch_size": 8}``).
    """

    epochs: int = 100
    checkpoints: tuple[tuple[int, float], ...] = PAPER_CHECKPOINTS
    train_folds: tuple[int, ...] = (0, 2, 3, 4, 5)
    val_folds: tuple[int, ...] = (1, 6)
    train: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        if int(self.epochs) != self.epochs or self.epochs < 1:
            raise ConfigError(f"TrialConfig.epochs must be an integer >= 1, got {self.epochs!r}")
        cps = tuple((int(e), float(a)) for e, a in self.checkpoints)
        if any(e < 1 for e, _ in cps) or list(cps) != sorted(cps):
            raise ConfigError(f"TrialConfig.checkpoints must be (epoch >= 1, auc) pairs in order, got {cps}")
        object.__setattr__(self, "checkpoints", cps)
        object.__setattr__(self, "train_folds", tuple(int(f) for f in self.train_folds))
        object.__setattr__(self, "val_folds", tuple(int(f) for f in self.val_folds))
        object.__setattr__(self, "train", dict(self.train))
        if not self.train_folds or not self.val_folds or set(self.train_folds) & set(self.val_folds):
            raise ConfigError(
                f"TrialConfig needs non-empty, disjoint train_folds and val_folds, got {self.train_folds} and "
                f"{self.val_folds}"
            )

    def scaled_checkpoints(self) -> tuple[tuple[int, float], ...]:
        """The checkpoints that fall inside ``epochs``."""
        return tuple((e, a) for e, a in self.checkpoints if e < self.epochs)
def should_stop(checkpoints: tuple[tuple[int, float], ...], epoch: int, best_auc: float) -> bool:
    """True if ``epoch`` is a checkpoint and the best AUC so far is below its criterion (gcn_reference C)."""
    for cp_epoch, criterion in checkpoints:
        if epoch == cp_epoch:
            return not (best_auc >= criterion)
    return False


class LeaseLost(Exception):
    """Raised inside a trial when another worker has taken it over (this worker was presumed dead)."""


@dataclasses.dataclass
class TrialContext:
    """What a running trial gets from the worker.

    Attributes:
        number: the trial number (its identity).
        seed: training seed, derived from (search seed, number): a re-run trial is the same trial.
        checkpoint_dir: where this trial checkpoints (keyed by the trial number), or None.
        report: ``report(epoch, metrics)`` after each epoch (1-based); ``metrics["best_auc"]`` is required.
            Returns True when the trial must stop (an early-stopping checkpoint failed).
        device_index: run the trial on this local device only (one trial per device); None: the objective's
            default (all devices).
    """

    number: int
    seed: int
    checkpoint_dir: str | None
    report: Callable[[int, Mapping[str, float]], bool]
    device_index: int | None = None


@dataclasses.dataclass(frozen=True)
class TrialOutcome:
    """Result of a trial: performance = best validation AUC; ``pruned`` if an early-stopping checkpoint failed."""

    performance: float
    epochs: int
    pruned: bool = False
    info: Mapping[str, Any] = dataclasses.field(default_factory=dict)
