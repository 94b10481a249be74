"""Initial variables of the depth CNNs (seed 004), compiled cheaply: an initialisation runs once."""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from infantjax.models._registry import init_module

__all__ = ["init_network", "init_variables"]


def init_network(model: nn.Module, rng: jax.Array, input_shape: tuple[int, ...]) -> dict[str, Any]:
    """``model.init`` (inference mode) on a zero float32 batch of one clip of ``input_shape[1:]``:
    ``{"params", "batch_stats"}``.

    The variables of these convolutional networks do not depend on the batch size. Jitted — one compilation
    instead of one per operation — with the batch as an argument (a closed-over constant would be constant-folded
    through every convolution by XLA, which takes minutes), and compiled with XLA's backend optimisation level 0:
    it runs once, and the compilation then takes ~40 % less CPU. Inside a transformation (``jax.eval_shape``) it
    calls ``init`` directly.
    """
    x = jnp.zeros((1, *tuple(input_shape)[1:]), jnp.float32)
    # the models' one construction rule (infantjax.models.init_module), with the option these CNNs always used
    return init_module(model, rng, x, options={"xla_backend_optimization_level": 0})


def init_variables(model: nn.Module, rng: jax.Array, sample: np.ndarray) -> dict[str, Any]:
    """:func:`init_network` for the shape of a sample batch (its values are not used)."""
    return init_network(model, rng, tuple(np.shape(sample)))
