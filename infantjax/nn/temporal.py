"""Temporal and pointwise convolutions on channels-last skeleton sequences (N, T, V, C).

A (k×1) temporal convolution is computed by XLA's convolution (``impl="conv"``), as a sum over the k kernel taps
of shifted, strided slices of the padded input times the tap's (C/groups, F) weight (``impl="shift"``: an einsum per
tap, or a per-channel product for a depthwise kernel), or, under differentiation, with the k shifted slices laid
side by side once, (N·T'·V, k·C), so that the forward and both gradients are single deep products
(``impl="im2col"``; without a gradient it runs XLA's convolution for one set of weights and the batched tap
products under a ``vmap`` over weights, whichever is faster on CPU; grouped and depthwise kernels take the
``shift`` form).
All give the same result up to float32 summation order. The matmul forms matter on CPU: under ``jax.vmap`` over
parameters a convolution whose kernel and input both carry the instance axis becomes a batch-grouped convolution,
which XLA:CPU runs several times slower than a loop over instances, while the products become batched matmuls
(benchmarks/ensemble.py); and XLA:CPU's convolution backward passes are slow. ``im2col`` is the fastest of the
three in a GCN training step on CPU and in inference (docs/performance.md), so ``impl="auto"`` picks ``im2col`` on CPU and ``conv`` elsewhere
(:func:`infantjax.backend.form`).

:class:`TemporalConv` is the layer: a drop-in for ``flax.linen.Conv`` with a (k, 1, ...) kernel (same variables,
initial values included), computed by :func:`temporal_conv`. With ``dtype=jnp.bfloat16`` it computes in bfloat16
(the matmul forms accumulate in float32 on CPU: :func:`infantjax.nn.dense.matmul`); its parameters stay float32.
"""

from __future__ import annotations

import functools
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax
from jaxtyping import Array, Float

from infantjax.errors import ConfigError
from infantjax.nn.dense import FlatDense, low_precision_cpu, matmul
from infantjax.backend import current, form
from infantjax.nn.fusion import own_buffer
from infantjax.nn.rows import add_bias
from infantjax.nn.torch_compat import LINEAR_GAIN, he_fan_out, torch_bias

__all__ = ["CONV_IMPLS", "Pointwise", "TemporalConv", "resolve_impl", "temporal_conv"]

CONV_IMPLS = ("auto", "conv", "shift", "im2col")


def resolve_impl(impl: str) -> str:
    """``conv``, ``shift`` or ``im2col``: ``auto`` is ``im2col`` on CPU and ``conv`` elsewhere."""
    if impl not in CONV_IMPLS:
        raise ConfigError(f"temporal conv impl must be one of {CONV_IMPLS}, got {impl!r}")
    return form(impl, cpu="im2col", other="conv") if impl == "auto" else impl


def temporal_conv(x: Float[Array, "N T *S C"], kernel: Float[Array, "k *O Cg F"], *, stride: int = 1,
                  dilation: int = 1, padding: int = 0, groups: int = 1, impl: str = "auto"
                  ) -> Float[Array, "N T2 *S F"]:
    """Convolution along axis 1 of a channels-last array with a kernel that is 1 along every other spatial axis.

    Arguments:
        x: (N, T, ..., C); the axes between T and C (e.g. joints V) are not convolved.
        kernel: (k, 1, ..., C/groups, F), the ``flax.linen.Conv`` layout (one 1 per axis between T and C).
        stride, dilation: temporal stride and dilation.
        padding: zero frames added at both ends.
        groups: feature groups (``groups`` = C for a depthwise convolution).
        impl: ``conv`` (``lax.conv_general_dilated``), ``shift`` (sum over taps), ``im2col`` (one product over
            the taps side by side; ``shift`` for grouped kernels) or ``auto``.

    Returns:
        (N, ⌊(T + 2·padding − dilation·(k−1) − 1)/stride⌋ + 1, ..., F).
    """
    k, cg, f = kernel.shape[0], kernel.shape[-2], kernel.shape[-1]
    c = x.shape[-1]
    if c != cg * groups or f % groups:
        raise ConfigError(f"temporal conv: {c} input channels and {f} outputs do not fit a kernel of shape "
                          f"{tuple(kernel.shape)} with {groups} groups")
    kernel = kernel.astype(x.dtype)
    impl = resolve_impl(impl)
    if impl == "conv":
        if current().stacked_conv == "per instance":
            return _per_instance(stride, dilation, padding, groups)(x, kernel)
        return _plain_conv(x, kernel, stride, dilation, padding, groups)
    w = kernel.reshape(k, cg, f)
    t_out = (x.shape[1] + 2 * padding - dilation * (k - 1) - 1) // stride + 1
    if padding:
        x = jnp.pad(x, [(0, 0), (padding, padding)] + [(0, 0)] * (x.ndim - 2))

    if impl == "im2col" and groups == 1 and k > 1:
        return _taps_deep_backward(x, w, stride, dilation, t_out)

    def tap(j):
        return _tap(x, j, stride, dilation, t_out)

    out = None
    for j in range(k):
        xs = tap(j)
        if groups == 1:
            term = matmul(xs.reshape(-1, c), w[j]).reshape(*xs.shape[:-1], f)  # 2-D: see infantjax.nn.dense
        elif cg == 1 and f == groups:  # depthwise: one weight per channel
            term = xs * w[j, 0]
        else:  # output o = g·(F/G) + i reads the input channels of group g
            wg = w[j].reshape(cg, groups, f // groups)
            term = jnp.einsum("...gc,cgf->...gf", xs.reshape(*xs.shape[:-1], groups, cg), wg)
            term = term.reshape(*xs.shape[:-1], f)
        out = term if out is None else out + term
    return out


def _plain_conv(x, kernel, stride: int, dilation: int, padding: int, groups: int):
    """XLA's convolution along axis 1 of a channels-last array (``impl="conv"``)."""
    spatial = x.ndim - 2
    return lax.conv_general_dilated(
        x, kernel, (stride,) + (1,) * (spatial - 1), [(padding, padding)] + [(0, 0)] * (spatial - 1),
        rhs_dilation=(dilation,) + (1,) * (spatial - 1), dimension_numbers=_dimension_numbers(x.ndim),
        feature_group_count=groups)


@functools.lru_cache(maxsize=None)
def _per_instance(stride: int, dilation: int, padding: int, groups: int):
    """XLA's convolution that, vmapped over per-instance kernels, stays one plain convolution per instance
    (``Policy.stacked_conv == "per instance"``) instead of one convolution with the instances as feature groups.

    JAX batches a convolution whose kernel carries the vmapped axis into a grouped convolution; on a GPU, cuDNN runs
    one of a GCN's 10–48 channels a group far below its plain convolutions, and XLA transposes the activations into
    and out of the instance-interleaved layout around each (docs/performance.md). Here the forward and both
    gradients (a ``custom_vjp``) are ``custom_vmap`` functions whose batching rule, when the kernel is batched,
    applies the plain convolution to each instance's slice and stacks the results; with a shared kernel they batch
    as JAX does (the vmapped axis joins the convolution's batch). The same values as XLA's convolution.
    """

    def conv(x, w):
        return _plain_conv(x, w, stride, dilation, padding, groups)

    def grads(x, w, g):
        return jax.vjp(conv, x, w)[1](g)

    @jax.custom_batching.custom_vmap
    def forward(x, w):
        return conv(x, w)

    @forward.def_vmap
    def _forward_rule(axis_size, in_batched, x, w):
        x_batched, w_batched = in_batched
        if not w_batched:
            return jax.vmap(conv, in_axes=(0, None))(x, w), True
        return jnp.stack([forward(x[i] if x_batched else x, w[i]) for i in range(axis_size)]), True

    @jax.custom_batching.custom_vmap
    def backward(x, w, g):
        return grads(x, w, g)

    @backward.def_vmap
    def _backward_rule(axis_size, in_batched, x, w, g):
        x_batched, w_batched, g_batched = in_batched
        if not w_batched:
            axes = (0 if x_batched else None, None, 0 if g_batched else None)
            return jax.vmap(grads, in_axes=axes)(x, w, g), (True, True)
        parts = [backward(x[i] if x_batched else x, w[i], g[i] if g_batched else g) for i in range(axis_size)]
        return (jnp.stack([dx for dx, _ in parts]), jnp.stack([dw for _, dw in parts])), (True, True)

    @jax.custom_vjp
    def per_instance(x, w):
        return forward(x, w)

    def fwd(x, w):
        return forward(x, w), (x, w)

    def bwd(residuals, g):
        x, w = residuals
        return backward(x, w, g)

    per_instance.defvjp(fwd, bwd)
    return per_instance


def _tap(x, j: int, stride: int, dilation: int, t_out: int):
    """Tap j's input frames: x[:, j·d :: s][:, :t_out] of the padded input."""
    return lax.slice_in_dim(x, j * dilation, j * dilation + (t_out - 1) * stride + 1, stride, axis=1)


def _sum_of_taps(x, w, stride: int, dilation: int, t_out: int):
    k, c, f = w.shape
    out = None
    for j in range(k):
        xs = _tap(x, j, stride, dilation, t_out)
        term = matmul(xs.reshape(-1, c), w[j]).reshape(*xs.shape[:-1], f)
        out = term if out is None else out + term
    return out


def _xla_conv(x, w, stride: int, dilation: int):
    """XLA's convolution of the padded input by a (k, C, F) kernel along axis 1 (no padding)."""
    k, c, f = w.shape
    spatial = x.ndim - 2
    return lax.conv_general_dilated(x, w.reshape((k,) + (1,) * (spatial - 1) + (c, f)), (stride,) + (1,) * (spatial - 1),
                                    [(0, 0)] * spatial, rhs_dilation=(dilation,) + (1,) * (spatial - 1),
                                    dimension_numbers=_dimension_numbers(x.ndim))


@functools.lru_cache(maxsize=None)
def _inference_conv(stride: int, dilation: int, t_out: int):
    """The forward without a gradient: XLA's convolution for one set of weights, the sum of tap products when the
    weights carry a ``vmap`` axis (ensemble instances).

    XLA:CPU runs a plain convolution 2–3× faster than the k tap products on AVX-512 cores, but a ``vmap`` over
    weights turns it into a batch-grouped convolution that runs 1.3–1.4× slower than the (batched) tap products
    (docs/changelog.md, "Inference convolutions"); a custom batching rule picks per case, so every caller gets
    the faster form without knowing how it is vmapped.
    """

    @jax.custom_batching.custom_vmap
    def conv(x, w):
        return _xla_conv(x, w, stride, dilation)

    @conv.def_vmap
    def _rule(axis_size, in_batched, x, w):
        x_batched, w_batched = in_batched
        if w_batched:  # per-instance weights: batched tap products (batch axes are at 0)
            x = x if x_batched else jnp.broadcast_to(x, (axis_size,) + x.shape)
            return jax.vmap(lambda a, b: _sum_of_taps(a, b, stride, dilation, t_out))(x, w), True
        # shared weights: the vmap axis joins the batch axis of one plain convolution
        lead = x.shape[:2]
        y = conv(x.reshape((lead[0] * lead[1],) + x.shape[2:]), w)
        return y.reshape(lead + y.shape[1:]), True

    return conv


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3, 4))
def _taps_deep_backward(x, w, stride: int, dilation: int, t_out: int):
    """A dense temporal convolution of the padded input (``impl="im2col"``). Evaluated without a gradient
    (inference, evaluation) it is XLA's convolution, or the sum of k tap products under a ``vmap`` over weights
    (:func:`_inference_conv`) or in bfloat16/float16 on CPU (ST-GCN's forward 3.6 → 1.5 s at batch 32); under differentiation the k taps are laid side by side once, (N·T'·V, k·C), and
    the forward and both gradients are deep products over them (a training step 0.92× the sum of taps' time:
    docs/performance.md)."""
    if low_precision_cpu(x, w):  # XLA:CPU's bfloat16 convolution is slow; the tap products accumulate in float32
        return _sum_of_taps(x, w, stride, dilation, t_out)
    return _inference_conv(stride, dilation, t_out)(x, w)


def _taps_fwd(x, w, stride, dilation, t_out):
    k, c, f = w.shape
    cols = jnp.concatenate([_tap(x, j, stride, dilation, t_out) for j in range(k)], axis=-1)  # (..., k·C)
    out = matmul(cols.reshape(-1, k * c), w.reshape(k * c, f)).reshape(*cols.shape[:-1], f)
    return out, (cols, w, x.shape[1])


def _taps_bwd(stride, dilation, t_out, residuals, g):
    cols, w, t_in = residuals
    k, c, f = w.shape
    g2 = g.reshape(-1, f)
    dw = matmul(cols.reshape(-1, k * c).T, g2).reshape(k, c, f)
    dcols = matmul(g2, w.reshape(k * c, f).T).reshape(cols.shape)
    dx = None
    for j in range(k):  # each tap's gradient back to its frames: interior padding undoes the stride
        lo = j * dilation
        hi = t_in - (lo + (t_out - 1) * stride + 1)
        config = [(0, 0, 0), (lo, hi, stride - 1)] + [(0, 0, 0)] * (cols.ndim - 2)
        part = lax.pad(dcols[..., j * c:(j + 1) * c], jnp.zeros((), dcols.dtype), config)
        dx = part if dx is None else dx + part
    return dx.astype(cols.dtype), dw.astype(w.dtype)


_taps_deep_backward.defvjp(_taps_fwd, _taps_bwd)


def _dimension_numbers(ndim: int) -> tuple[str, str, str]:
    """Channels-last layouts for ``lax.conv_general_dilated`` (N, T, ..., C) and kernel (T, ..., I, O)."""
    if not 3 <= ndim <= 5:
        raise ConfigError(f"temporal conv needs an input of rank 3 to 5 (N, T, ..., C), got rank {ndim}")
    spatial = "THW"[:ndim - 2]
    return "N" + spatial + "C", spatial + "IO", "N" + spatial + "C"


class Pointwise(nn.Module):
    """A 1×1 convolution (a Dense layer over channels), optionally with temporal stride (s×1 in the reference).

    Attributes:
        features: output channels.
        stride: temporal stride; a 1×1 conv with stride s keeps frames 0, s, 2s, ...
        use_bias: add a bias (PyTorch default init).
        gain: He-normal (fan-out) gain of the kernel.
        dtype: compute dtype (parameters are float32).
    """

    features: int
    stride: int = 1
    use_bias: bool = True
    gain: float = LINEAR_GAIN
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: Float[Array, "N T V C"]) -> Float[Array, "N T2 V F"]:
        if self.stride != 1:
            # XLA:GPU's Triton GEMM fusion pulls a strided slice of an array that has other users into the
            # product's operand and then aborts the process while tiling it (jax 0.10.2 and 0.11.2,
            # triton_tiling_propagation.cc: "Check failed: subdim_size_accumulator == dim_size (2400 vs. 150)", the
            # merged N·T' rows against the T frames): the slice gets a buffer of its own in the accelerator forms
            # (written once, as it is with cuBLAS GEMMs)
            x = own_buffer(x[:, :: self.stride])
        return FlatDense(self.features, use_bias=self.use_bias, kernel_init=he_fan_out(self.gain),
                         bias_init=torch_bias(x.shape[-1]), dtype=self.dtype, name="conv")(x)


class TemporalConv(nn.Module):
    """A (k×1) convolution along time with dilation d, padding ((k−1)//2)·d and temporal stride s, on
    (N, T, ..., C).

    A drop-in for ``flax.linen.Conv(features, (k, 1, ...), strides (s, 1, ...), padding ((k−1)//2)·d,
    kernel_dilation (d, 1, ...), feature_group_count=groups)``: the same parameters (``kernel``
    (k, 1, ..., C/groups, F) — a PyTorch (F, C/groups, k, 1) weight transposed, so fan-out = F·k as in PyTorch —
    then ``bias`` (F,)), the same initialisers and initial values, so variables and checkpoints are
    interchangeable. With odd k the output has ⌊(T−1)/s⌋+1 frames; ``groups`` = C gives a depthwise convolution.
    ``impl`` chooses how it is computed (module docstring); the variables are the same for every choice.

    Attributes:
        features: output channels F.
        kernel_size: k.
        stride, dilation, groups: temporal stride, dilation and feature groups.
        use_bias: add a bias (PyTorch's default initialisation U(±1/√fan_in)).
        gain: He-normal (fan-out) gain of the kernel.
        impl: ``"auto"``, ``"conv"``, ``"shift"`` or ``"im2col"``.
        dtype: compute dtype (parameters are float32).
    """

    features: int
    kernel_size: int
    stride: int = 1
    dilation: int = 1
    groups: int = 1
    use_bias: bool = True
    gain: float = LINEAR_GAIN
    impl: str = "auto"
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: Float[Array, "N T *S C"]) -> Float[Array, "N T2 *S F"]:
        c = x.shape[-1]
        if c % self.groups:
            raise ConfigError(f"temporal conv: {c} input channels are not divisible into {self.groups} groups")
        fan_in = c // self.groups * self.kernel_size
        shape = (self.kernel_size,) + (1,) * (x.ndim - 3) + (c // self.groups, self.features)
        kernel = self.param("kernel", he_fan_out(self.gain), shape, jnp.float32)
        pad = (self.kernel_size - 1) // 2 * self.dilation
        x = jnp.asarray(x, self.dtype)
        y = temporal_conv(x, kernel, stride=self.stride, dilation=self.dilation, padding=pad, groups=self.groups,
                          impl=self.impl)
        if self.use_bias:
            y = add_bias(y, self.param("bias", torch_bias(fan_in), (self.features,), jnp.float32))
        return y
