"""The network of seed 003 as coded (``get_model`` with ``config.yaml``; other_seeds_reference §1.5).

Per clip: 3 × [causal Conv1D 64, kernel 3, no bias → ReLU → BatchNorm (Keras: after the ReLU, ε 1e-3, momentum
0.99, the fused kernel's unbiased moving variance) → max-pool 4 over time], a time-major flatten (t·64 + f),
dropout 0.5, Dense 64 ReLU, dropout 0.5; over the clips of a video: sigmoid-gated attention (the mean of the
gated clip features, no normalisation by Σa), dropout 0.5, Dense 1 (a logit). Every kernel is he-uniform (fan-in; Conv1D fan-in = 3 · C_in), as Keras ``he_uniform``.

46,721 parameters: 46,337 trainable + 384 BatchNorm moving statistics (:data:`PARAMETERS`,
:data:`TRAINABLE_PARAMETERS`; ``tests/test_passmore_model.py``).

The options the code carries but ``config.yaml`` switches off are spec fields: ``attention="softmax"`` (the unused
softmax branch of the attention layer: ``exp(e) / (Σ exp(e) + ε)`` and a sum over clips) is implemented;
squeeze-excitation, residual blocks, multi-head attention and the metadata branch raise a
:class:`~infantjax.errors.ConfigError` when switched on (their coded forms are not described in enough detail to
reproduce them faithfully).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

import flax.linen as nn
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from infantjax._jsonconfig import JsonConfig, check_positive_ints
from infantjax.errors import ConfigError
from infantjax.models._registry import register
from infantjax.nn.norm import batch_norm
from infantjax.nn.precision import dtype_name, resolve
from infantjax.nn.temporal import temporal_conv

__all__ = ["PARAMETERS", "TRAINABLE_PARAMETERS", "ClipAttention", "PassmoreNet", "PassmoreSpec", "l2_kernels",
           "video_probability"]

PARAMETERS = 46_721  # seed 003 as coded, BatchNorm moving statistics included (other_seeds_reference §1.5)
TRAINABLE_PARAMETERS = 46_337

he_uniform = nn.initializers.he_uniform()  # Keras he_uniform: variance_scaling(2, fan_in, uniform)


def _he_uniform_vector(key, shape, dtype=jnp.float32):
    """Keras ``he_uniform`` of a 1-D weight (the attention context u): Keras takes fan-in = the vector length."""
    limit = jnp.sqrt(6.0 / shape[0])
    return jax.random.uniform(key, shape, dtype, -limit, limit)


class CausalConv1D(nn.Module):
    """Keras ``Conv1D(features, kernel_size, padding="causal", use_bias=False)`` on (N, L, C): the variables of
    ``flax.linen.Conv`` (``kernel`` (k, C, F), he-uniform), computed by :func:`infantjax.nn.temporal.temporal_conv`
    on the input left-padded with k − 1 zeros. On CPU that is one deep product per pass (``impl="auto"``), which a
    ``vmap`` over the stacked split instances turns into batched matmuls, where XLA's convolution would become a
    batch-grouped convolution (several times slower on XLA:CPU; ``benchmarks/passmore.py``)."""

    features: int
    kernel_size: int
    dtype: Any = jnp.float32
    impl: str = "auto"

    @nn.compact
    def __call__(self, x: Float[Array, "N L C"]) -> Float[Array, "N L F"]:
        kernel = self.param("kernel", he_uniform, (self.kernel_size, x.shape[-1], self.features), jnp.float32)
        x = jnp.pad(jnp.asarray(x, self.dtype), ((0, 0), (self.kernel_size - 1, 0), (0, 0)))
        return temporal_conv(x, kernel, impl=self.impl)


class ClipAttention(nn.Module):
    """``AttentionWithContext`` of the reference (the Kaggle HAN layer, as adapted).

    ``u_s = tanh(W x_s + b)``, ``e_s = u · u_s``; ``"sigmoid"``: ``a_s = σ(e_s)`` and ``h = (1/S) Σ a_s x_s``;
    ``"softmax"``: ``a_s = exp(e_s) / (Σ exp(e) + 1e-7)`` and ``h = Σ a_s x_s``.

    Arguments:
        units: width of W, b and u (64).
        mode: ``"sigmoid"`` (as coded) or ``"softmax"`` (the unused branch).
    """

    units: int = 64
    mode: Literal["sigmoid", "softmax"] = "sigmoid"
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: Float[Array, "B S F"]) -> tuple[Float[Array, "B F"], Float[Array, "B S"]]:
        """Pooled features (B, F) and the attention weight of every clip (B, S)."""
        w = self.param("W", he_uniform, (x.shape[-1], self.units))
        b = self.param("b", nn.initializers.zeros, (self.units,))
        u = self.param("u", _he_uniform_vector, (self.units,))
        hidden = jnp.tanh(jnp.einsum("bsf,fu->bsu", x, w.astype(self.dtype)) + b.astype(self.dtype))
        e = jnp.einsum("bsu,u->bs", hidden, u.astype(self.dtype))
        if self.mode == "sigmoid":
            a = jax.nn.sigmoid(e)
            return jnp.mean(a[..., None] * x, axis=1), a
        e = e.astype(jnp.float32)  # the softmax in float32 whatever the compute dtype (mixed precision)
        a = jnp.exp(e - jax.lax.stop_gradient(jnp.max(e, axis=1, keepdims=True)))  # stable exp; same ratios
        a = a / (jnp.sum(a, axis=1, keepdims=True) + 1e-7)
        return jnp.sum(a.astype(x.dtype)[..., None] * x, axis=1), a


class PassmoreNet(nn.Module):
    """The 1D causal CNN with clip attention (module docstring). Built from a :class:`PassmoreSpec`."""

    spec: PassmoreSpec

    @nn.compact
    def __call__(self, x: Float[Array, "B S F L"], train: bool = False
                 ) -> tuple[Float[Array, " B"], Float[Array, "B S"]]:
        """Logits of the videos and the attention weights of their clips.

        Arguments:
            x: (videos, clips, features, time) float input (the reference's ``b s point time``).
            train: dropout on (needs the ``"dropout"`` rng) and batch statistics (``mutable=["batch_stats"]``).

        Returns:
            (B,) float32 logits; (B, S) float32 attention weights.
        """
        spec, dtype = self.spec, resolve(self.spec.dtype)
        B, S, F, L = x.shape
        h = jnp.swapaxes(jnp.asarray(x, dtype), -1, -2).reshape(B * S, L, F)  # b s point time → (b s) time point
        for i in range(spec.num_blocks):
            # causal: left pad kernel_size − 1 (Keras padding='causal'), inside CausalConv1D
            h = CausalConv1D(spec.filters, spec.kernel_size, dtype=dtype, name=f"conv{i + 1}")(h)
            h = nn.relu(h)  # reference order: ReLU, then BatchNorm
            h = batch_norm(train, f"bn{i + 1}", convention="keras", dtype=dtype, numerics=spec.bn_numerics)(h)
            h = nn.max_pool(h, window_shape=(spec.pool,), strides=(spec.pool,), padding="VALID")
        h = h.reshape(B, S, -1)  # time-major flatten: index t·filters + f
        h = nn.Dropout(spec.dropout, deterministic=not train)(h)
        for i in range(spec.num_dense):
            h = nn.relu(nn.Dense(spec.dense_units, kernel_init=he_uniform, dtype=dtype, name=f"dense{i + 1}")(h))
            h = nn.Dropout(spec.dropout, deterministic=not train)(h)
        h, attention = ClipAttention(spec.attention_units, spec.attention, dtype, name="attention")(h)
        h = nn.Dropout(spec.dropout, deterministic=not train)(h)
        logit = nn.Dense(1, kernel_init=he_uniform, dtype=dtype, name="logit")(h)[:, 0]
        return logit.astype(jnp.float32), attention.astype(jnp.float32)


def _sample_input(spec: PassmoreSpec) -> tuple[int, ...]:
    return (1, 1, spec.num_features, spec.clip_length)


@register(build=lambda spec: PassmoreNet(spec), sample_input=_sample_input)
@dataclasses.dataclass(frozen=True)
class PassmoreSpec(JsonConfig):
    """Configuration of the seed 003 network; the defaults are ``config.yaml``'s values.

    Arguments:
        num_features: features per time step (46: 36 coordinates + 10 joint angles).
        clip_length: samples per clip (128).
        filters, kernel_size, num_blocks, pool: the convolution blocks (64, 3, 3, 4).
        dense_units, num_dense: the clip-level dense layers (64, 1).
        attention_units: width of the attention layer (64).
        attention: ``"sigmoid"`` (as coded) or ``"softmax"`` (the unused branch of the layer).
        dropout: rate of the three dropouts (0.5).
        attention_heads: 1 (multi-head attention is off in the reference; more heads raise).
        squeeze: squeeze-excitation (off; not implemented).
        residuals: residual blocks (off; not implemented).
        meta_features: width of the metadata branch (0 = none, as coded; not implemented otherwise).
        bn_numerics: BatchNorm training numerics (``infantjax.nn.norm``): ``"keras"`` (default, as coded: the
            reference's BatchNorms see 4-D float32 tensors, so Keras runs its fused kernel, whose moving variance
            averages the *unbiased* batch variance, × n/(n − 1) with n = videos × clips × time steps) or
            ``"flax"`` (the biased variance; what infantjax trained with before 2026-11-23). Evaluation with given
            statistics is the same for both.
        dtype: compute dtype: ``"auto"`` (default: the backend policy's, float32 on CPU and bfloat16 on accelerators,
            :func:`infantjax.nn.precision.resolve`), ``"float32"``, ``"bfloat16"`` or ``"float16"``; parameters stay float32.
    """

    num_features: int = 46
    clip_length: int = 128
    filters: int = 64
    kernel_size: int = 3
    num_blocks: int = 3
    pool: int = 4
    dense_units: int = 64
    num_dense: int = 1
    attention_units: int = 64
    attention: str = "sigmoid"
    dropout: float = 0.5
    attention_heads: int = 1
    squeeze: bool = False
    residuals: bool = False
    meta_features: int = 0
    bn_numerics: str = "keras"
    dtype: str = "auto"

    def __post_init__(self):
        object.__setattr__(self, "dtype", dtype_name(self.dtype, "PassmoreSpec.dtype"))
        check_positive_ints(self, ("num_features", "clip_length", "filters", "kernel_size", "num_blocks", "pool",
                                   "dense_units", "attention_units", "attention_heads"), "PassmoreSpec")
        if isinstance(self.num_dense, bool) or not isinstance(self.num_dense, int) or self.num_dense < 0:
            raise ConfigError(f"PassmoreSpec.num_dense must be an integer >= 0, got {self.num_dense!r}")
        if self.attention not in ("sigmoid", "softmax"):
            raise ConfigError(f"PassmoreSpec.attention must be 'sigmoid' (as coded) or 'softmax', got "
                              f"{self.attention!r}")
        if self.bn_numerics not in ("keras", "flax"):
            raise ConfigError(f"PassmoreSpec.bn_numerics must be 'keras' (as coded) or 'flax', got "
                              f"{self.bn_numerics!r}")
        if not 0.0 <= float(self.dropout) < 1.0:
            raise ConfigError(f"PassmoreSpec.dropout must be in [0, 1), got {self.dropout!r}")
        if self.clip_length // self.pool ** self.num_blocks < 1:
            raise ConfigError(f"PassmoreSpec: clips of {self.clip_length} samples are too short for "
                              f"{self.num_blocks} max-pools of {self.pool}; use longer clips or fewer blocks")
        for name, on in (("attention_heads", self.attention_heads != 1), ("squeeze", bool(self.squeeze)),
                         ("residuals", bool(self.residuals)), ("meta_features", self.meta_features != 0)):
            if on:
                raise ConfigError(f"PassmoreSpec.{name}={getattr(self, name)!r}: this option of the reference code "
                                  "is switched off in its config.yaml and not implemented in infantjax; leave it "
                                  "at its default")

    def build(self) -> PassmoreNet:
        """The Flax module."""
        return PassmoreNet(self)


def l2_kernels(params: dict) -> list[jax.Array]:
    """The weights the reference's L2 0.005 regularises: conv, dense and attention-W kernels (not biases, BatchNorm
    parameters or the attention context u; other_seeds_reference §1.10)."""
    out = []
    for name, layer in params.items():
        if name.startswith(("conv", "dense", "logit")):
            out.append(layer["kernel"])
        elif name == "attention":
            out.append(layer["W"])
    return out


def video_probability(logits: Float[Array, " *batch"]) -> Float[Array, " *batch"]:
    """σ(logit): a video's probability of abnormal movements (before calibration)."""
    return jax.nn.sigmoid(logits)
