"""Channel, frame and joint attention of ResGCN as the reference uses them (gcn_reference A.7).

Each returns act(BN(x · a) + x) for attention weights a; channel and joint weights are a softmax (over
channels, over joints), frame weights are unsquashed. Inputs are channels-last (N, T, V, C). Unlike the
reference, no bare ``squeeze()`` is applied, so a batch of one behaves like any other batch. BatchNorm follows the
PyTorch convention (``nn.norm``); ``dtype`` is the compute dtype (parameters float32).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from infantjax.nn.norm import batch_norm
from infantjax.nn.rows import mean_rows, scale_rows
from infantjax.nn.temporal import TemporalConv
from infantjax.nn.torch_compat import LINEAR_GAIN, RELU_GAIN, he_fan_out, torch_bias

__all__ = ["ChannelAttention", "FrameAttention", "JointAttention"]


def _fc(features: int, fan_in: int, gain: float, name: str, dtype: Any) -> nn.Dense:
    return nn.Dense(features, kernel_init=he_fan_out(gain), bias_init=torch_bias(fan_in), dtype=dtype, name=name)


def _bn(train: bool, name: str, dtype: Any, numerics: str) -> nn.Module:
    return batch_norm(train, name, convention="torch", dtype=dtype, numerics=numerics)


def _softmax(logits):
    """Softmax over the last axis computed in float32 (mixed precision), returned in the logits' dtype."""
    return jax.nn.softmax(logits.astype(jnp.promote_types(logits.dtype, jnp.float32)), axis=-1).astype(logits.dtype)


def _residual(module: nn.Module, weighted, x, train: bool):
    """An attention module's output: its activation of BN (``bn``) of the weighted input, plus the input. Called
    inside ``module``'s compact ``__call__``."""
    return module.activation(_bn(train, "bn", module.dtype, module.bn_numerics)(weighted) + x)


class _SoftmaxAttention(nn.Module):
    """What :class:`ChannelAttention` and :class:`JointAttention` share: their fields, and the softmax weights
    they compute from the pooled input."""

    activation: Callable = jax.nn.relu
    dtype: Any = jnp.float32
    bn_numerics: str = "flax"  # BatchNorm training numerics (infantjax.nn.norm.batch_norm)

    def _weights(self, a, hidden: int, train: bool):
        """The weights of the pooled ``a`` (N, W): 1×1 conv W → ``hidden`` (``fc1``) → BN (``fc1_bn``) → act →
        1×1 conv ``hidden`` → W (``fc2``) → softmax (called inside the compact ``__call__``)."""
        width = a.shape[-1]
        a = _fc(hidden, width, RELU_GAIN, "fc1", self.dtype)(a)
        a = self.activation(_bn(train, "fc1_bn", self.dtype, self.bn_numerics)(a))
        return _softmax(_fc(width, hidden, LINEAR_GAIN, "fc2", self.dtype)(a))


class ChannelAttention(_SoftmaxAttention):
    """Pool over (T, V) → 1×1 conv C → C/4 → BN → act → 1×1 conv C/4 → C → softmax over channels."""

    @nn.compact
    def __call__(self, x: Float[Array, "N T V C"], train: bool = False) -> Float[Array, "N T V C"]:
        c = x.shape[-1]
        a = mean_rows(x, 1)  # the mean over (T, V): x.mean(axis=(1, 2)), grouped where the policy says so (as the
        # product below, x * a[:, None, None, :], whose gradient in a is also a sum over (T, V))
        return _residual(self, scale_rows(x, self._weights(a, c // 4, train), 1), x, train)


def _max_over_joints_and_channels(x: Float[Array, "N T V C"]) -> Float[Array, "N T"]:
    """Max over (V, C) whose gradient goes to one element (the first maximum in (V, C) order), as PyTorch's
    max pooling sends it to its recorded index; the value is exactly ``x.max(axis=(2, 3))``.

    ``x.max`` is not used because JAX differentiates it as ``(x == max) / count(x == max)``: when XLA evaluates
    x twice with different rounding (seen on CPU at ``xla_backend_optimization_level=0``, where 189 of the 195
    gradient leaves of a frame-attention GCN became NaN or inf), no element equals the max, the count is 0 and
    ``1/0 · 0`` poisons every upstream gradient. A gather at the argmax has no division. NaN input gives NaN as
    ``x.max`` does (argmax picks the NaN).
    """
    flat = x.reshape(*x.shape[:2], -1)
    index = jnp.argmax(jax.lax.stop_gradient(flat), axis=-1)
    return jnp.take_along_axis(flat, index[..., None], axis=-1)[..., 0]


class FrameAttention(nn.Module):
    """Mean and max over (V, C) → (k×1) conv 2 → 1 along time (with bias, padded); no squashing function.
    ``conv_impl`` chooses how the conv is computed (:mod:`infantjax.nn.temporal`)."""

    kernel_size: int
    activation: Callable = jax.nn.relu
    conv_impl: str = "auto"
    dtype: Any = jnp.float32
    bn_numerics: str = "flax"  # BatchNorm training numerics (infantjax.nn.norm.batch_norm)

    @nn.compact
    def __call__(self, x: Float[Array, "N T V C"], train: bool = False) -> Float[Array, "N T V C"]:
        pooled = jnp.stack([x.mean(axis=(2, 3)), _max_over_joints_and_channels(x)], axis=-1)  # (N, T, 2): [mean, max]
        # the variables of an nn.Conv(1, (k,), padding (k-1)//2) named conv (kernel (k, 2, 1), bias (1,))
        a = TemporalConv(1, self.kernel_size, gain=RELU_GAIN, impl=self.conv_impl, dtype=self.dtype,
                         name="conv")(pooled)
        return _residual(self, x * a[:, :, None, :], x, train)


class JointAttention(_SoftmaxAttention):
    """Pool over (T, C) → 1×1 conv V → V/2 → BN → act → 1×1 conv V/2 → V → softmax over joints."""

    @nn.compact
    def __call__(self, x: Float[Array, "N T V C"], train: bool = False) -> Float[Array, "N T V C"]:
        v = x.shape[2]
        a = x.mean(axis=(1, 3))
        return _residual(self, x * self._weights(a, v // 2, train)[:, None, :, None], x, train)
