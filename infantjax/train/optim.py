"""Optimizers and learning-rate schedules from a :class:`~infantjax.train.config.TrainConfig` (optax).

* SGD with (Nesterov) momentum, the recipe of seed 002's GCNs (constant 5e-4) and of seed 004's regression CNN;
  Adam, seed 002 Paper II's fine-tuning and seed 004's detection CNN.
* Weight decay is added to the gradient before the optimizer, as ``torch.optim.SGD(weight_decay=...)`` does.
* Schedules: constant; cosine decay to 0 over the run; seed 004's staircase ("a learning decay of 10 % every 10
  epochs"); seed 002 Paper I's decaying triangular cyclical rate (:func:`cyclical_schedule`).
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import optax

from infantjax.errors import ConfigError
from infantjax.train.config import TrainConfig

__all__ = ["cyclical_schedule", "learning_rate_schedule", "make_optimizer"]


def cyclical_schedule(lr_max: float, steps_per_epoch: int, cycle_epochs: int = 3, limit_scale: float = 1.0):
    """Paper I's decaying triangular cyclical learning rate (seed 002, App. B, Eq. 5) as an optax schedule.

    Each cycle of ``cycle_epochs`` epochs rises from λ_min = λ_max/3000 to its peak and back. The peaks converge
    to λ_∞ = 10^((log λ_max + log λ_min)/2) · ``limit_scale`` (Eq. 5 with ``limit_scale`` = 2^(σ_0 − σ_∞)). The paper
    does not give the decay rate of the peaks; we halve the distance of the peak to λ_∞ every cycle (our choice).
    """
    lr_min = lr_max / 3000.0
    lr_inf = min(10 ** ((math.log10(lr_max) + math.log10(lr_min)) / 2) * limit_scale, lr_max)
    cycle = max(1, int(cycle_epochs) * int(steps_per_epoch))

    def schedule(step):
        step = jnp.asarray(step, jnp.float32)
        c = jnp.floor(step / cycle)
        phase = (step - c * cycle) / cycle  # 0..1 within a cycle
        tri = 1.0 - jnp.abs(2.0 * phase - 1.0)  # 0 -> 1 -> 0
        peak = lr_inf + (lr_max - lr_inf) * 0.5 ** c
        return lr_min + (peak - lr_min) * tri

    return schedule


def learning_rate_schedule(config: TrainConfig, steps_per_epoch: int):
    """The learning rate as a function of the step (a float for the constant schedule).

    Arguments:
        config: the training configuration (``learning_rate``, ``schedule`` and its parameters, ``epochs``).
        steps_per_epoch: training steps in one epoch (the schedules count epochs in steps).
    """
    steps_per_epoch = max(1, int(steps_per_epoch))
    lr = float(config.learning_rate)
    if config.schedule == "constant":
        return lr
    if config.schedule == "cosine":
        return optax.cosine_decay_schedule(lr, max(1, config.epochs * steps_per_epoch))
    if config.schedule == "staircase":
        return optax.exponential_decay(lr, transition_steps=config.decay_every * steps_per_epoch,
                                       decay_rate=config.decay_rate, staircase=True)
    if config.schedule == "cyclical":
        return cyclical_schedule(lr, steps_per_epoch, config.cycle_epochs, config.cycle_limit_scale)
    raise ConfigError(f"unknown learning-rate schedule {config.schedule!r}")


def make_optimizer(config: TrainConfig, steps_per_epoch: int = 1) -> optax.GradientTransformation:
    """SGD (momentum, Nesterov) or Adam with the configured schedule and weight decay.

    Arguments:
        config: the training configuration.
        steps_per_epoch: training steps in one epoch (only the non-constant schedules use it).
    """
    lr = learning_rate_schedule(config, steps_per_epoch)
    if config.optimizer == "adam":
        tx = optax.adam(lr)
    elif config.optimizer == "sgd":
        tx = optax.sgd(lr, momentum=config.momentum or None, nesterov=config.nesterov)
    else:
        raise ConfigError(f"unknown optimizer {config.optimizer!r}")
    if config.weight_decay:
        return optax.chain(optax.add_decayed_weights(config.weight_decay), tx)
    return tx
