"""Initialisers that reproduce the PyTorch reference code's layers (its BatchNorm: ``nn.norm.batch_norm`` with
``convention="torch"``).

The reference (DeepInMotion/MovementOutcome) initialises every conv and linear *weight* with
``kaiming_normal_(mode='fan_out', nonlinearity=...)`` — He normal, backward (fan-out) case (seed 002, Paper III
eAppendix 3: "He initialization") — with gain √2 where ``nonlinearity='relu'`` and gain 1 where it is ``'conv2d'``,
``'linear'`` or ``'sigmoid'``. It leaves *biases* at PyTorch's default, U(−1/√fan_in, 1/√fan_in), and BatchNorm at
scale 1, offset 0.

Flax kernels are laid out (..., in/groups, out); ``variance_scaling`` with ``"fan_out"`` then computes
fan_out = out × receptive field, the same number PyTorch computes from its (out, in/groups, kh, kw) weights.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

__all__ = ["LINEAR_GAIN", "RELU_GAIN", "he_fan_out", "torch_bias"]

RELU_GAIN = math.sqrt(2.0)
LINEAR_GAIN = 1.0


def he_fan_out(gain: float = RELU_GAIN):
    """Normal(0, gain / √fan_out): PyTorch ``kaiming_normal_(mode='fan_out')`` with the given gain."""
    return jax.nn.initializers.variance_scaling(gain * gain, "fan_out", "normal")


def torch_bias(fan_in: int):
    """U(−1/√fan_in, 1/√fan_in): PyTorch's default bias of a conv/linear layer with ``fan_in`` inputs
    (in_channels / groups × kernel size)."""
    bound = 1.0 / math.sqrt(max(int(fan_in), 1))

    def init(key, shape, dtype=jnp.float32):
        return jax.random.uniform(key, shape, dtype, -bound, bound)

    return init

