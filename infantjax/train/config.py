"""The one configuration tree of training: :class:`TrainConfig` holds what the engine reads (run and optimizer);
each task's config subclasses it and adds the task's own fields (``CPConfig``, ``PoseConfig``, ``DepthConfig``).

Every field is either *compiled* (it changes a jitted program: the optimizer, augmentation, feature mode, ...) or
*host-only* (it changes what the host does around the programs: epochs, progress bars, copy counts, ...). Host-only
fields are declared with :func:`host_field`; :func:`compile_key` drops them, so the engine's program cache keys on
what the programs compile and two runs that differ only in epochs or copy counts share one compilation.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from infantjax._jsonconfig import JsonConfig, check_positive_ints
from infantjax.errors import ConfigError

__all__ = ["OPTIMIZERS", "SCHEDULES", "TrainConfig", "compile_key", "host_field"]

OPTIMIZERS = ("sgd", "adam")
SCHEDULES = ("constant", "cosine", "staircase", "cyclical")


def host_field(default: Any = dataclasses.MISSING, **kwargs) -> Any:
    """A dataclass field that only the host reads (never part of a compiled program's cache key)."""
    metadata = {**kwargs.pop("metadata", {}), "host": True}
    return dataclasses.field(default=default, metadata=metadata, **kwargs)


def compile_key(config) -> tuple:
    """The values of ``config``'s compiled fields (its type first): the part of a config a program depends on."""
    return (type(config),) + tuple((f.name, getattr(config, f.name)) for f in dataclasses.fields(config)
                                   if not f.metadata.get("host", False))


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@dataclasses.dataclass(frozen=True)
class TrainConfig(JsonConfig):
    """What every training run shares: how long, in which batches, with which optimizer and schedule.

    Task configs subclass this (``infantjax.train.CPConfig``, ``PoseConfig``, ``DepthConfig``) and set their own
    defaults (each paper's recipe).

    Arguments:
        epochs: passes over the training data.
        batch_size: examples per step and instance (the last incomplete batch of an epoch is dropped).
        optimizer: ``"sgd"`` (with ``momentum``/``nesterov``) or ``"adam"`` (betas 0.9/0.999).
        learning_rate: the initial (or constant) learning rate; the peak of a cyclical schedule.
        momentum: SGD momentum (0 turns it off).
        nesterov: Nesterov momentum for SGD.
        weight_decay: L2 weight decay added to the gradient before the optimizer (PyTorch ``SGD(weight_decay)``).
        schedule: ``"constant"``; ``"cosine"`` (annealed to 0 over the run); ``"staircase"`` (× ``decay_rate``
            every ``decay_every`` epochs, seed 004); ``"cyclical"`` (the decaying triangular cycles of seed 002
            Paper I, ``cycle_epochs`` long, λ_min = λ_max/3000, converging to λ_∞ scaled by ``cycle_limit_scale``).
        decay_rate, decay_every: the staircase (0.9 every 10 epochs = "a learning decay of 10 % every 10 epochs").
        cycle_epochs: length of one cycle of the cyclical schedule (3 in Paper I).
        cycle_limit_scale: factor on λ_∞ of the cyclical schedule (Paper I Eq. 5: 2^(σ_0 − σ_∞)).
        eval_batch_size: examples per evaluation call, at most: the engine lowers it (halving) until XLA's memory
            analysis of the evaluation program fits ``memory_budget``, and never pads beyond the largest
            evaluation set.
        memory_budget: bytes one compiled call may use (a training step, an evaluation chunk, an ensemble scoring
            call); ``None`` = a quarter of the device's memory (physical RAM on CPU, there at most 1.5 GB,
            :data:`infantjax.parallel.CPU_BUDGET`; :func:`infantjax.parallel.memory_budget`). A vmapped training step of many instances on one device
            that XLA's memory analysis puts above it runs the instances in sequential groups inside the step
            (``jax.lax.map``), which needs a fraction of the memory and gives the same updates.
        sync_every: training steps between host synchronisations (progress bar, loss log, divergence check,
            step hooks); the host never waits for the device in between.
        progress: show a tqdm progress bar.
    """

    epochs: int = host_field(100)
    batch_size: int = host_field(32)
    optimizer: str = "sgd"
    learning_rate: float = 1e-3
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 0.0
    schedule: str = "constant"
    decay_rate: float = 0.9
    decay_every: int = 10
    cycle_epochs: int = 3
    cycle_limit_scale: float = 1.0
    eval_batch_size: int = host_field(256)
    memory_budget: int | None = host_field(None)
    sync_every: int = host_field(50)
    progress: bool = host_field(True)

    def __post_init__(self):
        name = type(self).__name__
        check_positive_ints(self, ("epochs", "batch_size", "eval_batch_size", "sync_every", "decay_every",
                                   "cycle_epochs"), name)
        budget = self.memory_budget
        if budget is not None and (isinstance(budget, bool) or not isinstance(budget, int) or budget < 1):
            raise ConfigError(f"{name}.memory_budget must be a positive number of bytes or None, got {budget!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"{name}.optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if self.schedule not in SCHEDULES:
            raise ConfigError(f"{name}.schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        for field in ("learning_rate", "momentum", "weight_decay", "decay_rate", "cycle_limit_scale"):
            value = getattr(self, field)
            if not _is_number(value) or value < 0:
                raise ConfigError(f"{name}.{field} must be a finite number >= 0, got {value!r}")
        if self.learning_rate <= 0:
            raise ConfigError(f"{name}.learning_rate must be > 0, got {self.learning_rate!r}")
        if not self.momentum < 1:
            raise ConfigError(f"{name}.momentum must be < 1, got {self.momentum!r}")
        if not 0 < self.decay_rate <= 1:
            raise ConfigError(f"{name}.decay_rate must be in (0, 1], got {self.decay_rate!r}")
        if not isinstance(self.nesterov, bool) or not isinstance(self.progress, bool):
            raise ConfigError(f"{name}.nesterov and .progress must be true or false")
