"""Graph convolutions on channels-last skeleton sequences (N, T, V, C) with adjacency stacks (K, V, V).

``A[k, v, w]`` is the weight with which joint v feeds joint w in partition k (the ST-GCN einsum
``nkctv,kvw->nctw``; :mod:`infantjax.skeleton`). The adjacency is cast to the compute dtype of the features.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from infantjax.nn.dense import FlatDense, matmul
from infantjax.backend import form
from infantjax.nn.torch_compat import LINEAR_GAIN, he_fan_out, torch_bias

__all__ = ["AGGREGATE_IMPLS", "DepthwiseGraphConv", "GraphConv", "aggregate", "mbconv_source_channels"]

AGGREGATE_IMPLS = ("auto", "einsum", "matmul")


def aggregate(x: Float[Array, "N T V K C"], a: Float[Array, "K V V"], impl: str = "auto") -> Float[Array, "N T V C"]:
    """Sum over partitions and source joints: out[..., w, c] = Σ_k Σ_v x[..., v, k, c] · A[k, v, w].

    On CPU the contraction is written as one explicit (N·T·C, V·K) × (V·K, V) matmul between transposes, which
    XLA:CPU runs faster than the equivalent einsum: 1.15–1.8× forward and 1.4–1.8× forward + backward, vmapped over
    3 or 7 instances at 12 or 48 channels (``benchmarks/gcn.py --layers``). Other backends get the einsum. Both
    give the same values to float32 rounding. ``impl`` = ``"matmul"`` or ``"einsum"`` forces one;
    ``"auto"`` decides by backend (:func:`infantjax.backend.form`).
    """
    a = a.astype(x.dtype)
    if form(impl, cpu="matmul", other="einsum", what="graph aggregation impl") == "einsum":
        return jnp.einsum("ntvkc,kvw->ntwc", x, a)
    *lead, v, k, c = x.shape
    rows = x.reshape(-1, v, k, c).transpose(0, 3, 1, 2).reshape(-1, v * k)  # (N·T·C, V·K)
    out = matmul(rows, a.transpose(1, 0, 2).reshape(v * k, a.shape[-1]))  # (N·T·C, W)
    return out.reshape(-1, c, a.shape[-1]).transpose(0, 2, 1).reshape(*lead, a.shape[-1], c)


class GraphConv(nn.Module):
    """ST-GCN graph convolution: a 1×1 conv to K·features channels, then aggregation over the graph.

    The bias is added before aggregation, as in ST-GCN (reference quirk: bias before aggregation), so after A is
    applied it becomes joint-dependent: joint w receives b_k · Σ_v A[k, v, w] for each partition. Output channel
    o = k·features + c of the conv belongs to partition k, channel c (PyTorch ``view(n, K, C, t, v)``), so a
    PyTorch weight (K·C, C_in, 1, 1) maps onto the Flax kernel (C_in, K·C) unchanged.
    """

    features: int
    partitions: int
    use_bias: bool = True
    gain: float = LINEAR_GAIN
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: Float[Array, "N T V C"], a: Float[Array, "K V V"]) -> Float[Array, "N T V F"]:
        y = FlatDense(self.partitions * self.features, use_bias=self.use_bias, kernel_init=he_fan_out(self.gain),
                      bias_init=torch_bias(x.shape[-1]), dtype=self.dtype, name="conv")(x)
        y = y.reshape(*y.shape[:-1], self.partitions, self.features)
        return aggregate(y, a)


def mbconv_source_channels(channels: int, partitions: int, mode: str = "reference") -> np.ndarray:
    """Input channel read by each output (partition k, channel c), flattened as o = k·channels + c.

    ``reference``: the MBConv "depthwise" graph conv is a grouped 1×1 conv (groups = channels, K outputs per
    group) laid out by group and then viewed as (K, channels), so output o reads input ⌊o / K⌋ — a fixed channel
    scramble (reference quirk: MBConv channel scramble; gcn_reference A.6). ``corrected``: a true depthwise
    filter, partition k channel c reads channel c.
    """
    o = np.arange(channels * partitions)
    return o // partitions if mode == "reference" else o % channels


class DepthwiseGraphConv(nn.Module):
    """The MBConv graph convolution: one weight per (partition, channel), no bias, then aggregation.

    ``mode`` chooses the reference channel scramble or a true depthwise filter (:func:`mbconv_source_channels`).
    The kernel has shape (1, K·C) and PyTorch's (K·C, 1, 1, 1) weight maps onto it in order.
    """

    partitions: int
    mode: str = "reference"
    gain: float = LINEAR_GAIN
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: Float[Array, "N T V C"], a: Float[Array, "K V V"]) -> Float[Array, "N T V C"]:
        c = x.shape[-1]
        kernel = self.param("kernel", he_fan_out(self.gain), (1, self.partitions * c), jnp.float32)
        src = mbconv_source_channels(c, self.partitions, self.mode)
        x = jnp.asarray(x, self.dtype)
        y = jnp.take(x, src, axis=-1) * kernel[0].astype(self.dtype)
        y = y.reshape(*y.shape[:-1], self.partitions, c)
        return aggregate(y, a)
