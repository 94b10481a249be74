"""The train-state pytree and its stacked (ensemble) form, and BatchNorm running-average helpers.

A :class:`TrainState` holds everything a training run needs to continue bit-for-bit: parameters, the other variable
collections (BatchNorm statistics, fixed layers), optimizer state, the step counter and the RNG key. A *stack* of I
instances is the same pytree with a leading axis of size I on every leaf (``jax.vmap`` over the initialisation), so
one jitted, vmapped step trains all of them and each keeps its own BatchNorm statistics and RNG (DESIGN.md §3).
"""

from __future__ import annotations

from typing import Any

import flax
import jax
import jax.numpy as jnp

from infantjax.nn.norm import CONVENTIONS

__all__ = ["BN_DECAY", "TrainState", "debiased_batch_stats", "zeroed_batch_stats"]


@flax.struct.dataclass
class TrainState:
    """Parameters, other variable collections, optimizer state, step and RNG of one instance (or a stack).

    ``rng`` is a raw ``uint32[2]`` key (``jax.random.PRNGKey``), so the state saves with Orbax as plain arrays;
    the key of a step is ``fold_in(rng, step)`` (big_vision), which makes a resumed run identical to an
    uninterrupted one. ``collections`` holds every Flax variable collection but ``params`` (``batch_stats``,
    EfficientPose's ``fixed`` upscaling, ...).
    """

    params: Any
    collections: Any
    opt_state: Any
    step: jax.Array
    rng: jax.Array

    @property
    def variables(self) -> dict:
        """The Flax variables ``{"params", **collections}``."""
        return {**self.collections, "params": self.params}


#: BatchNorm running-average decay of the GCNs (PyTorch momentum 0.1; :func:`infantjax.nn.norm.batch_norm`).
BN_DECAY = CONVENTIONS["torch"].momentum


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
