"""Squeeze-and-excitation, the one implementation for skeleton sequences and images.

Global average pool over every axis between the batch and the channels → reduce to ``reduced`` channels →
activation → expand back → sigmoid → channel scaling (Hu et al.). Two parameter layouts, so that each family keeps
the variables its weights were made for:

* ``layout="dense"``: two Linear layers without bias on the pooled (N, C) vector, kernels (C, r) and (r, C) —
  senet.pytorch as the reference GCN code uses it (seed 002 Table A.1 "SE"; gcn_reference A.6);
* ``layout="conv"``: two 1×1 convolutions with bias on the pooled (N, 1, 1, C) map, kernels (1, 1, C, r) —
  the Keras EfficientNet/EfficientPose blocks, whose official weights map onto them by layer name (seed 002,
  Paper I Fig. 3; data/efficientpose/README.md §2.1).

:func:`squeeze_excite` creates its two layers in the *calling* module (call it inside a compact method), so the
layer names are exactly the ones the caller gives (``block2b_se_reduce``, ``pass1_..._se_se_squeeze_conv``);
:class:`SqueezeExcitation` is the same block as a module with layers ``fc1`` and ``fc2`` (the GCN's ``se``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import flax.linen as nn
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from infantjax.errors import ConfigError
from infantjax.nn.torch_compat import LINEAR_GAIN, RELU_GAIN, he_fan_out

__all__ = ["SqueezeExcitation", "squeeze_excite"]


def squeeze_excite(x: Float[Array, "N *S C"], reduced: int, activation: Callable, *, names: tuple[str, str],
                   layout: Literal["dense", "conv"], use_bias: bool,
                   kernel_init: tuple[Callable, Callable] | None = None, dtype: Any = jnp.float32,
                   ) -> Float[Array, "N *S C"]:
    """Squeeze-and-excitation of a channels-last array; call inside a compact method (module docstring).

    Arguments:
        x: (N, ..., C); the mean is taken over every axis between N and C.
        reduced: channels of the squeeze.
        activation: the nonlinearity after the squeeze.
        names: names of the reducing and the expanding layer.
        layout: ``"dense"`` (Linear layers on (N, C)) or ``"conv"`` (1×1 convolutions on (N, 1, ..., 1, C)).
        use_bias: biases in both layers.
        kernel_init: initialisers of the two kernels; None = Flax's default (LeCun normal).
        dtype: compute dtype (parameters are float32).

    Returns:
        x scaled channel-wise by the sigmoid gate, same shape and dtype.
    """
    if layout not in ("dense", "conv"):
        raise ConfigError(f"squeeze-excitation layout must be 'dense' or 'conv', got {layout!r}")
    channels = x.shape[-1]
    spatial = tuple(range(1, x.ndim - 1))
    inits = kernel_init or (nn.initializers.lecun_normal(), nn.initializers.lecun_normal())
    if layout == "conv":
        def layer(features, name, init):
            return nn.Conv(features, (1,) * len(spatial), use_bias=use_bias, kernel_init=init, dtype=dtype,
                           name=name)
        s = jnp.mean(x, axis=spatial, keepdims=True)
    else:
        def layer(features, name, init):
            return nn.Dense(features, use_bias=use_bias, kernel_init=init, dtype=dtype, name=name)
        s = jnp.mean(x, axis=spatial)
    s = activation(layer(reduced, names[0], inits[0])(s))
    s = layer(channels, names[1], inits[1])(s)
    gate = jax.nn.sigmoid(s)
    if layout == "dense":
        gate = gate.reshape(gate.shape[0], *(1,) * len(spatial), channels)
    return x * gate


class SqueezeExcitation(nn.Module):
    """The GCN's SE (senet.pytorch as the reference uses it): pool over (T, V) → Linear(C → C//ratio, no bias)
    → activation → Linear(C//ratio → C, no bias) → sigmoid → channel scaling. Layers ``fc1`` and ``fc2``, He
    normal fan-out kernels (gain √2, 1)."""

    ratio: int
    activation: Callable = jax.nn.relu
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: Float[Array, "N T V C"]) -> Float[Array, "N T V C"]:
        return squeeze_excite(x, x.shape[-1] // self.ratio, self.activation, names=("fc1", "fc2"), layout="dense",
                              use_bias=False, kernel_init=(he_fan_out(RELU_GAIN), he_fan_out(LINEAR_GAIN)),
                              dtype=self.dtype)
