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

from infantjax import backend
from infantjax.backend import form
from infantjax.errors import ConfigError
from infantjax.nn.dense import FlatDense, matmul
from infantjax.nn.torch_compat import LINEAR_GAIN, he_fan_out, torch_bias

__all__ = ["AGGREGATE_IMPLS", "DENSE_MAX", "GRAPH_IMPLS", "DepthwiseGraphConv", "GraphConv", "aggregate",
           "aggregate_first", "combined_weight", "mbconv_source_channels"]

AGGREGATE_IMPLS = ("auto", "einsum", "matmul")
#: How :class:`GraphConv` computes: ``auto`` (the backend policy's ``graph_product``), ``matmul`` and ``einsum``
#: (1×1 convolution, then :func:`aggregate`), ``dense`` (one product with :func:`combined_weight`).
GRAPH_IMPLS = ("auto", "matmul", "einsum", "dense")
#: The ``dense`` form is used where V·C_in and V·F are at most this (a combined weight of at most DENSE_MAX² entries);
#: wider layers fall back to ``einsum``.
DENSE_MAX = 2048


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


def aggregate_first(x: Float[Array, "N T V C"], a: Float[Array, "K V W"], kernel: Float[Array, "C KF"],
                    bias: Float[Array, " KF"] | None, impl: str = "auto") -> Float[Array, "N T W F"]:
    """The graph convolution of :class:`GraphConv` with its two steps swapped: each partition's aggregation of the
    *input*, z[..., w, c, k] = Σ_v A[k, v, w] · x[..., v, c], then one product over (C, K) with the kernel,
    out[..., w, f] = Σ_{c,k} z[..., w, c, k] · kernel[c, k·F + f]; the bias, which :class:`GraphConv` adds before
    the aggregation, becomes b[w, f] = Σ_k (Σ_v A[k, v, w]) · bias[k·F + f]. The same linear map, so the same values
    to rounding; it aggregates K·C values a joint instead of K·F, fewer where the layer widens (C < F: a network's
    first layers read 2 channels and write 40–96).

    ``impl``: ``"matmul"`` (the aggregation as one (N·T·C, V) × (V, W·K) product between transposes) or
    ``"einsum"``; ``"auto"`` decides by backend (:func:`infantjax.backend.form`).
    """
    *lead, v, c = x.shape
    k, _, w = a.shape
    f = kernel.shape[1] // k
    a = a.astype(x.dtype)
    if form(impl, cpu="matmul", other="einsum", what="graph aggregation impl") == "einsum":
        z = jnp.einsum("...vc,kvw->...wck", x, a)
    else:
        rows = x.reshape(-1, v, c).transpose(0, 2, 1).reshape(-1, v)  # (N·T·C, V)
        z = matmul(rows, a.transpose(1, 2, 0).reshape(v, w * k))  # (N·T·C, W·K)
        z = z.reshape(-1, c, w, k).transpose(0, 2, 1, 3)  # (N·T, W, C, K)
    y = matmul(z.reshape(-1, c * k), kernel.astype(x.dtype).reshape(c * k, f))  # kernel rows c·K + k
    y = y.reshape(*lead, w, f)
    if bias is None:
        return y
    return y + jnp.einsum("kw,kf->wf", a.sum(axis=1), bias.astype(x.dtype).reshape(k, f))


def combined_weight(kernel: Float[Array, "C KF"], bias: Float[Array, "KF"] | None, a: Float[Array, "K V W"],
                    form: str = "einsum") -> tuple[Float[Array, "VC WF"], Float[Array, "WF"] | None]:
    """The graph convolution as one linear map of a frame's (V·C) features: weight[v·C + c, w·F + f] =
    Σ_k A[k, v, w] · kernel[c, k·F + f] and bias[w·F + f] = Σ_k b[k·F + f] · Σ_v A[k, v, w] (the bias added before
    aggregation, as :class:`GraphConv`). Computed in float32 (the weights' dtype, at least).

    ``form``: ``"einsum"`` (one product contracting the K partitions) or ``"outer"`` (the sum of K outer products,
    no product kernel: XLA:GPU gives a contraction of 2 or 3 partitions a GEMM of its own, whose default Triton
    tiling it refuses without a device to autotune; ``Policy.combined_weight``). The same values to rounding."""
    k, v, w = a.shape
    c = kernel.shape[0]
    f = kernel.shape[1] // k
    dt = jnp.promote_types(kernel.dtype, jnp.float32)
    a = a.astype(dt)
    per_partition = kernel.astype(dt).reshape(c, k, f)
    if form == "outer":
        weight = sum(a[i][:, None, :, None] * per_partition[:, i][None, :, None, :] for i in range(k))
        weight = weight.reshape(v * c, w * f)
    else:
        weight = jnp.einsum("kvw,ckf->vcwf", a, per_partition).reshape(v * c, w * f)
    if bias is None:
        return weight, None
    per_partition_bias = bias.astype(dt).reshape(k, f)
    if form == "outer":
        into = a.sum(axis=1)  # (K, W): Σ_v A[k, v, w]
        return weight, sum(into[i][:, None] * per_partition_bias[i][None, :] for i in range(k)).reshape(w * f)
    return weight, jnp.einsum("kvw,kf->wf", a, per_partition_bias).reshape(w * f)


class _Linear(nn.Module):
    """The variables of ``FlatDense(features)`` (``kernel`` (C_in, features), ``bias``; the same initialisers, so
    the same initial values), returned instead of applied."""

    features: int
    use_bias: bool
    gain: float

    @nn.compact
    def __call__(self, c_in: int):
        kernel = self.param("kernel", he_fan_out(self.gain), (c_in, self.features), jnp.float32)
        bias = self.param("bias", torch_bias(c_in), (self.features,), jnp.float32) if self.use_bias else None
        return kernel, bias


class GraphConv(nn.Module):
    """ST-GCN graph convolution: a 1×1 conv to K·features channels, then aggregation over the graph.

    The bias is added before aggregation, as in ST-GCN (reference quirk: bias before aggregation), so after A is
    applied it becomes joint-dependent: joint w receives b_k · Σ_v A[k, v, w] for each partition. Output channel
    o = k·features + c of the conv belongs to partition k, channel c (PyTorch ``view(n, K, C, t, v)``), so a
    PyTorch weight (K·C, C_in, 1, 1) maps onto the Flax kernel (C_in, K·C) unchanged.

    ``impl`` (:data:`GRAPH_IMPLS`; ``auto``: the backend policy's ``graph_product``): ``matmul`` / ``einsum`` run the
    conv and then :func:`aggregate`, or, where the layer widens (C < F) under a policy whose ``graph_order`` is
    ``"narrow first"`` (CPU), the aggregation of the input and then the conv (:func:`aggregate_first`); ``dense``
    runs both as one (N·T, V·C) × (V·C, V·F) product with :func:`combined_weight` (the accelerator form: one GEMM
    instead of three kernels on a GPU, joints and channels sharing the lane axis on a TPU; V·C ≤ :data:`DENSE_MAX`,
    else ``einsum``). The same variables and, to rounding, the same values.
    """

    features: int
    partitions: int
    use_bias: bool = True
    gain: float = LINEAR_GAIN
    dtype: Any = jnp.float32
    impl: str = "auto"

    @nn.compact
    def __call__(self, x: Float[Array, "N T V C"], a: Float[Array, "K V V"]) -> Float[Array, "N T V F"]:
        if self.impl not in GRAPH_IMPLS:
            raise ConfigError(f"graph conv impl must be one of {GRAPH_IMPLS}, got {self.impl!r}")
        impl = backend.current().graph_product if self.impl == "auto" else self.impl
        v, c = x.shape[-2:]
        if impl == "dense" and max(v * c, v * self.features) <= DENSE_MAX:
            kernel, bias = _Linear(self.partitions * self.features, self.use_bias, self.gain, name="conv")(c)
            weight, bias = combined_weight(kernel, bias, a, backend.current().combined_weight)
            # (N, T, V·C) @ (V·C, V·F) as it is: merging N·T into one 2-D product made XLA:TPU write the
            # (N·T, V·C) operand and relay it out, 33.4 → 41.7 GB a chip in the v5e-8 scoring (docs/performance.md)
            y = jnp.asarray(x, self.dtype).reshape(*x.shape[:-2], v * c) @ weight.astype(self.dtype)
            if bias is not None:
                y = y + bias.astype(self.dtype)
            return y.reshape(*x.shape[:-2], a.shape[-1], self.features)
        if impl != "dense" and c < self.features and backend.current().graph_order == "narrow first":
            kernel, bias = _Linear(self.partitions * self.features, self.use_bias, self.gain, name="conv")(c)
            return aggregate_first(jnp.asarray(x, self.dtype), a, kernel, bias, impl)
        y = FlatDense(self.partitions * self.features, use_bias=self.use_bias, kernel_init=he_fan_out(self.gain),
                      bias_init=torch_bias(x.shape[-1]), dtype=self.dtype, name="conv")(x)
        y = y.reshape(*y.shape[:-1], self.partitions, self.features)
        return aggregate(y, a, "einsum" if impl == "dense" else impl)


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
