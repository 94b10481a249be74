"""The one BatchNorm factory: PyTorch or Keras conventions for ε and the running-average momentum.

The networks of infantjax come from two code bases, and their BatchNorm defaults differ:

* ``"torch"`` — PyTorch ``BatchNorm{1,2}d``: ε = 1e-5 and running-average momentum 0.1, i.e. the new statistics
  weigh 0.1, which is Flax ``momentum=0.9`` (Flax's momentum is the weight of the *old* average). The skeleton
  GCNs of seed 002 (the reference is PyTorch).
* ``"keras"`` — Keras ``BatchNormalization``: ε = 1e-3, momentum 0.99 (the same meaning as Flax's). The
  EfficientPose family, whose official Keras weights were trained with ε = 1e-3 (data/efficientpose/README.md
  §2.1: "Every BN: epsilon 1e-3"), and the depth networks of seed 004 (Keras-style code).

Scale and offset are on; the statistics (``batch_stats``: ``mean``, ``var``) stay float32 whatever the compute
``dtype``.

Numerics in training (``numerics``): ``"flax"`` (the default, the fastest) is Flax's ``BatchNorm``: one-pass
variance E[x²] − E[x]² and a running variance that averages the *biased* batch variance. ``"torch"`` computes what
PyTorch does: the two-pass variance E[(x − E[x])²] and a running variance that averages the *unbiased* batch variance
(× n/(n − 1), n values per channel) — what a network trained by the reference code has in its state dict, and what
matters for BatchNorms over few values (the GCN attention's ``fc1_bn`` normalises over N only). ``"keras"`` computes
what Keras's *fused* kernel does (TensorFlow's ``FusedBatchNorm``, which ``tf.keras`` 2 ``BatchNormalization`` runs
on 4-D float32 input, e.g. the Conv1D outputs of seed 003's per-clip network): the same two-pass variance and the
same unbiased moving variance as ``"torch"`` (the fused op returns the Bessel-corrected batch variance and Keras
averages that). All give the same variables and the same evaluation.

Evaluation in low precision (``bn_inference`` of the backend policy, :mod:`infantjax.backend`). With the running
averages a BatchNorm is a per-channel affine map, y = x·m + s with m = γ/√(σ²+ε) and s = β − μ·m: the BatchNorm
folded into the product before it. Under the accelerator policy a network that computes in bfloat16 or float16
evaluates its BatchNorms in that form (:class:`AffineBatchNorm`): m and s are computed in float32 from the float32
variables, rounded to the compute dtype, and applied as one multiply-add in it, which XLA fuses into the preceding
product's output. The exact form normalises in float32 and rounds once; on XLA:TPU that upcast reached back into the
products, whose results XLA then kept in float32 (measured on the 70-instance CP scoring compiled for a v5e-8:
docs/performance.md). The two differ by a few roundings of the compute dtype. Float32 networks, training, and the
CPU policy (the reference's numerics) keep the exact form.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from infantjax import backend
from infantjax.errors import ConfigError
from infantjax.nn import rows

__all__ = ["CONVENTIONS", "NUMERICS", "AffineBatchNorm", "BatchNormConvention", "TorchBatchNorm", "batch_norm"]

_LOW_PRECISION = (jnp.dtype(jnp.bfloat16), jnp.dtype(jnp.float16))


@dataclasses.dataclass(frozen=True)
class BatchNormConvention:
    """ε and Flax momentum (weight of the old running average) of a framework's BatchNorm defaults."""

    epsilon: float
    momentum: float


CONVENTIONS: dict[str, BatchNormConvention] = {
    "torch": BatchNormConvention(epsilon=1e-5, momentum=0.9),  # PyTorch momentum 0.1
    "keras": BatchNormConvention(epsilon=1e-3, momentum=0.99),
}


#: How a BatchNorm computes in training (module docstring).
NUMERICS = ("flax", "torch", "keras")


class TorchBatchNorm(nn.Module):
    """BatchNorm over the last axis with PyTorch's training numerics (which are also Keras's fused kernel's): two-pass
    batch variance for normalising and the unbiased batch variance in the running average. Variables as Flax's
    ``BatchNorm`` (``params`` ``scale``/``bias``, ``batch_stats`` ``mean``/``var``, float32), so checkpoints are
    interchangeable.

    Attributes:
        use_running_average: normalise with the running averages (evaluation) instead of the batch statistics.
        momentum: Flax momentum, the weight of the old running average.
        epsilon: added to the variance.
        dtype: compute dtype of the output (statistics are computed in at least float32).
    """

    use_running_average: bool
    momentum: float = 0.9
    epsilon: float = 1e-5
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x):
        c = x.shape[-1]
        axes = tuple(range(x.ndim - 1))
        mean_v = self.variable("batch_stats", "mean", lambda: jnp.zeros((c,), jnp.float32))
        var_v = self.variable("batch_stats", "var", lambda: jnp.ones((c,), jnp.float32))
        scale = self.param("scale", nn.initializers.ones, (c,), jnp.float32)
        bias = self.param("bias", nn.initializers.zeros, (c,), jnp.float32)
        stat_dtype = jnp.promote_types(x.dtype, jnp.float32)
        xs = x.astype(stat_dtype)
        if self.use_running_average:
            mean, var = mean_v.value.astype(stat_dtype), var_v.value.astype(stat_dtype)
        else:
            mean = xs.mean(axis=axes)
            var = jnp.square(xs - mean).mean(axis=axes)
            if not self.is_initializing():
                n = x.size // c
                unbiased = var * (n / max(n - 1, 1))
                m = self.momentum
                mean_v.value = (m * mean_v.value + (1 - m) * mean).astype(jnp.float32)
                var_v.value = (m * var_v.value + (1 - m) * unbiased).astype(jnp.float32)
        y = (xs - mean) * (jax.lax.rsqrt(var + self.epsilon) * scale.astype(stat_dtype)) + bias.astype(stat_dtype)
        return y.astype(self.dtype)


class GroupedBatchNorm(nn.Module):
    """A BatchNorm in training (batch statistics) over the last axis whose reductions run over the rows grouped g
    at a time (:mod:`infantjax.nn.rows`): the statistics, the normalisation and the scale and shift are computed on
    the (rows/g, g·C) view of the input, so that the forward statistics and the backward pass's sums for the scale,
    the shift and the statistics are column reductions g·C wide instead of C. The values of Flax's ``BatchNorm``
    (``numerics="flax"``: E[x²] − E[x]², clipped at 0, and the biased running variance) or of
    :class:`TorchBatchNorm` (``"torch"``, ``"keras"``: two-pass, unbiased running variance) up to the order of the
    float additions, and the same variables.

    Attributes:
        numerics: ``"flax"``, ``"torch"`` or ``"keras"`` (:data:`NUMERICS`).
        momentum: Flax momentum, the weight of the old running average.
        epsilon: added to the variance.
        dtype: compute dtype of the output (statistics are computed in at least float32).
        use_fast_variance: with ``numerics="flax"``, E[x²] − E[x]² (Flax's default) or the two-pass variance.
        use_running_average: always False (Flax's attribute; this module is the training form).
    """

    numerics: str = "flax"
    momentum: float = 0.9
    epsilon: float = 1e-5
    dtype: Any = jnp.float32
    use_fast_variance: bool = True
    use_running_average: bool = False

    @nn.compact
    def __call__(self, x):
        from infantjax.nn.rows import sum_groups, tile, view

        if self.use_running_average:
            raise ConfigError("GroupedBatchNorm normalises with the batch statistics (training); evaluation with the "
                              "running averages is batch_norm(train=False)")
        c = x.shape[-1]
        mean_v = self.variable("batch_stats", "mean", lambda: jnp.zeros((c,), jnp.float32))
        var_v = self.variable("batch_stats", "var", lambda: jnp.ones((c,), jnp.float32))
        scale = self.param("scale", nn.initializers.ones, (c,), jnp.float32)
        bias = self.param("bias", nn.initializers.zeros, (c,), jnp.float32)
        stat_dtype = jnp.promote_types(x.dtype, jnp.float32)
        n = x.size // c
        grouped, g, axes = view(x)  # (N, T·V/g, g·C): the batch axis kept whole (infantjax.nn.rows)
        xs = grouped.astype(stat_dtype)
        mean = sum_groups(xs.sum(axis=axes), g, c) / n
        if self.numerics == "flax" and self.use_fast_variance:
            mean2 = sum_groups(jnp.square(xs).sum(axis=axes), g, c) / n
            var = jnp.maximum(0.0, mean2 - jnp.square(mean))
        else:
            var = sum_groups(jnp.square(xs - tile(mean, g)).sum(axis=axes), g, c) / n
        running = var if self.numerics == "flax" else var * (n / max(n - 1, 1))
        if not self.is_initializing():
            m = self.momentum
            mean_v.value = (m * mean_v.value + (1 - m) * mean).astype(jnp.float32)
            var_v.value = (m * var_v.value + (1 - m) * running).astype(jnp.float32)
        mul = jax.lax.rsqrt(var + self.epsilon) * scale.astype(stat_dtype)
        y = (grouped - tile(mean, g)) * tile(mul, g) + tile(bias.astype(stat_dtype), g)
        return jnp.asarray(y, self.dtype).reshape(x.shape)


class AffineBatchNorm(nn.Module):
    """A BatchNorm evaluated with its running averages as one multiply-add in the compute dtype: y = x·m + s,
    m = γ/√(σ²+ε) and s = β − μ·m computed in float32 and rounded to ``dtype`` (module docstring, "Evaluation in low
    precision"). The variables are Flax ``BatchNorm``'s (``params`` ``scale``/``bias``, ``batch_stats``
    ``mean``/``var``, float32, the same initial values), so it evaluates what the other forms train.

    Attributes:
        epsilon: added to the variance.
        dtype: the compute dtype: the input is cast to it and the output is in it.
    """

    epsilon: float = 1e-5
    dtype: Any = jnp.bfloat16

    @nn.compact
    def __call__(self, x):
        c = x.shape[-1]
        mean = self.variable("batch_stats", "mean", lambda: jnp.zeros((c,), jnp.float32)).value
        var = self.variable("batch_stats", "var", lambda: jnp.ones((c,), jnp.float32)).value
        scale = self.param("scale", nn.initializers.ones, (c,), jnp.float32)
        bias = self.param("bias", nn.initializers.zeros, (c,), jnp.float32)
        m = jax.lax.rsqrt(var.astype(jnp.float32) + self.epsilon) * scale.astype(jnp.float32)
        s = bias.astype(jnp.float32) - mean.astype(jnp.float32) * m
        return jnp.asarray(x, self.dtype) * m.astype(self.dtype) + s.astype(self.dtype)


def batch_norm(train: bool, name: str | None = None, *, convention: str, momentum: float | None = None,
               epsilon: float | None = None, dtype: Any = jnp.float32, use_fast_variance: bool = True,
               numerics: str = "flax") -> nn.Module:
    """A BatchNorm over the last (channel) axis.

    In training it normalises with the batch statistics and updates ``batch_stats`` (call ``apply`` with
    ``mutable=["batch_stats"]``); otherwise it uses the running averages.

    Arguments:
        train: batch statistics (True) or running averages (False).
        name: the layer's name (its variables' path).
        convention: ``"torch"`` or ``"keras"`` (module docstring): the default ε and momentum.
        momentum: Flax momentum (weight of the old average, in [0, 1)) instead of the convention's.
        epsilon: ε instead of the convention's.
        dtype: compute dtype of the output; parameters and statistics stay float32.
        use_fast_variance: Flax's E[x²] − E[x]² (True, Flax's default) or the two-pass E[(x − E[x])²], which is what
            PyTorch computes and is more accurate when the mean is large against the spread.
        numerics: ``"flax"`` (``flax.linen.BatchNorm`` with ``use_fast_variance``), ``"torch"`` or ``"keras"``
            (both :class:`TorchBatchNorm`: two-pass variance, unbiased running variance, as PyTorch and Keras's
            fused kernel compute; module docstring).

    Returns:
        an unbound ``flax.linen.BatchNorm`` (or :class:`TorchBatchNorm`); in evaluation with a bfloat16 or float16
        ``dtype`` under a policy whose ``bn_inference`` is ``"affine"`` (accelerators), an :class:`AffineBatchNorm`
        (module docstring); in training where the reductions are grouped (:func:`infantjax.nn.rows.grouped`), a
        :class:`GroupedBatchNorm`. All have the same variables.
    """
    try:
        conv = CONVENTIONS[convention]
    except KeyError:
        raise ConfigError(f"BatchNorm convention must be one of {tuple(CONVENTIONS)}, got {convention!r}") from None
    momentum = conv.momentum if momentum is None else float(momentum)
    if not 0.0 <= momentum < 1.0:
        raise ConfigError(f"BatchNorm momentum (the weight of the old running average) must be in [0, 1), "
                          f"got {momentum}")
    epsilon = conv.epsilon if epsilon is None else float(epsilon)
    if not epsilon > 0.0:
        raise ConfigError(f"BatchNorm epsilon must be positive, got {epsilon}")
    if numerics not in NUMERICS:
        raise ConfigError(f"BatchNorm numerics must be one of {NUMERICS}, got {numerics!r}")
    if not train and jnp.dtype(dtype) in _LOW_PRECISION and backend.current().bn_inference == "affine":
        return AffineBatchNorm(epsilon=epsilon, dtype=dtype, name=name)
    if train and rows.grouped():
        return GroupedBatchNorm(numerics=numerics, momentum=momentum, epsilon=epsilon, dtype=dtype,
                                use_fast_variance=use_fast_variance, name=name)
    if numerics in ("torch", "keras"):
        return TorchBatchNorm(use_running_average=not train, momentum=momentum, epsilon=epsilon, dtype=dtype,
                              name=name)
    return nn.BatchNorm(use_running_average=not train, momentum=momentum, epsilon=epsilon, dtype=dtype,
                        param_dtype=jnp.float32, use_fast_variance=use_fast_variance, name=name)
