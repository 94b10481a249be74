"""The train-state pytree and its stacked (ensemble) form.

A :class:`TrainState` holds everything a training run needs to continue bit-for-bit: parameters, BatchNorm
statistics, optimizer state, the step counter and the RNG key. A *stack* of I instances is the same pytree with a
leading axis of size I on every leaf (``jax.vmap`` over :func:`init_state`), so one jitted, vmapped step trains all
of them and each keeps its own BatchNorm statistics and RNG (DESIGN.md §3).
"""

from __future__ import annotations

from typing import Any

import flax
import jax
import jax.numpy as jnp
import optax

from infantjax.train.config import TrainConfig

__all__ = ["BN_DECAY", "TrainState", "debiased_batch_stats", "init_stack", "init_state", "make_optimizer",
           "variables_of", "zeroed_batch_stats"]


@flax.struct.dataclass
class TrainState:
    """Parameters, BatchNorm statistics, optimizer state, step and RNG of one instance (or a stack of them).

    ``rng`` is a raw ``uint32[2]`` key (``jax.random.PRNGKey``), so the state saves with Orbax as plain arrays;
    the key of a step is ``fold_in(rng, step)`` (big_vision), which makes a resumed run identical to an
    uninterrupted one.
    """

    params: Any
    batch_stats: Any
    opt_state: Any
    step: jax.Array
    rng: jax.Array

    @property
    def variables(self) -> dict:
        """The Flax variables ``{"params", "batch_stats"}`` (the eval view)."""
        return variables_of(self)


def variables_of(state: TrainState, debias: bool = False) -> dict:
    """The Flax variables of one instance's state (vmap it for a stack).

    Arguments:
        state: a (single-instance) :class:`TrainState`.
        debias: bias-correct the BatchNorm running averages for the steps taken (``TrainConfig.debias_batch_stats``;
            :func:`debiased_batch_stats`).
    """
    stats = debiased_batch_stats(state.batch_stats, state.step) if debias else state.batch_stats
    return {"params": state.params, "batch_stats": stats}


#: BatchNorm running-average decay of the GCNs (PyTorch momentum 0.1; ``infantjax.nn.torch_compat.batch_norm``).
BN_DECAY = 0.9


def _is_var(path) -> bool:
    return getattr(path[-1], "key", None) == "var"


def zeroed_batch_stats(batch_stats):
    """BatchNorm running averages all set to 0 (the start of a debiased average; see :func:`debiased_batch_stats`)."""
    return jax.tree_util.tree_map(jnp.zeros_like, batch_stats)


def debiased_batch_stats(batch_stats, step: jax.Array, decay: float = BN_DECAY):
    """Bias-corrected BatchNorm running averages after ``step`` updates from zero (:func:`zeroed_batch_stats`).

    A running average started at 0, r_n = (1 − d)·Σ_k d^(n−k)·b_k, is divided by 1 − dⁿ: the normalised weighted
    mean of the batch statistics b_k (Adam's bias correction). Starting from 0 rather than from the usual (mean 0,
    variance 1) keeps tiny variances (≈ 1e-6 for velocities) exact in float32. At step 0 the usual initial values
    (mean 0, variance 1) are returned.
    """
    step = jnp.asarray(step)
    started = step > 0
    denom = jnp.where(started, 1.0 - jnp.asarray(decay, jnp.float32) ** step.astype(jnp.float32), 1.0)

    def fix(path, x):
        initial = 1.0 if _is_var(path) else 0.0
        return jnp.where(started, x / denom, initial).astype(x.dtype)

    return jax.tree_util.tree_map_with_path(fix, batch_stats)


def make_optimizer(config: TrainConfig) -> optax.GradientTransformation:
    """SGD with (Nesterov) momentum and optional weight decay, constant learning rate (gcn_reference A.9); or Adam
    (``config.optimizer == "adam"``, an infantjax option for short runs)."""
    if config.optimizer == "adam":
        adam = optax.adam(config.learning_rate)
        if config.weight_decay:
            return optax.chain(optax.add_decayed_weights(config.weight_decay), adam)
        return adam
    sgd = optax.sgd(config.learning_rate, momentum=config.momentum or None, nesterov=config.nesterov)
    if config.weight_decay:
        # torch.optim.SGD adds weight_decay · w to the gradient before momentum
        return optax.chain(optax.add_decayed_weights(config.weight_decay), sgd)
    return sgd


def init_state(model, tx: optax.GradientTransformation, key: jax.Array, sample: jax.Array) -> TrainState:
    """Initialise one instance.

    Arguments:
        model: a Flax module called as ``model.apply(variables, x, train=...)``.
        tx: the optimizer.
        key: raw PRNG key (``jax.random.PRNGKey``); split into the init key and the training key.
        sample: an input of the right shape (N, T, V, C) used only for shapes.

    Returns:
        the :class:`TrainState` at step 0.
    """
    init_key, train_key = jax.random.split(key)
    variables = model.init(init_key, sample, train=False)
    params = variables["params"]
    batch_stats = variables.get("batch_stats", {})
    return TrainState(params=params, batch_stats=batch_stats, opt_state=tx.init(params),
                      step=jnp.zeros((), jnp.int32), rng=train_key)


def init_stack(model, tx: optax.GradientTransformation, keys: jax.Array, sample: jax.Array) -> TrainState:
    """Initialise I instances at once: every leaf gets a leading axis of size I = ``keys.shape[0]``."""
    return jax.vmap(lambda k: init_state(model, tx, k, sample))(keys)
