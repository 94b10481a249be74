"""EfficientNet backbones (B0–B7 and Lite0–Lite4) built as the Keras port the EfficientPose authors used.

The blocks follow data/efficientpose/README.md §2.1 (seed 002, Paper I Table 1 and Fig. 3): an optional 1×1
expansion, a depthwise k×k convolution, squeeze-and-excitation sized ``max(1, int(0.25 · block input channels))``,
a linear 1×1 projection and, when the stride is 1 and the widths match, a residual add. Every convolution uses TF
"SAME" padding and every BatchNorm the Keras convention, ε = 1e-3 and momentum 0.99 (``infantjax.nn.norm``).
Sub-modules carry the Keras layer names (``stem_conv``, ``block2b_expand_conv`` ...) so that official weights map
onto them by name. ``dtype`` is the compute dtype (bfloat16 on accelerators); parameters stay float32.

Lite backbones (EfficientNet-Lite) drop SE, use ReLU6, and keep the stem width and the first stage's repeat count
unscaled (README §2.5: the ``blocks_0..blocks_6`` of Lite2 are 1 + 3 + 3 blocks).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from infantjax.backend import form
from infantjax.errors import ConfigError
from infantjax.nn import activations
from infantjax.nn.norm import batch_norm
from infantjax.nn.se import squeeze_excite

__all__ = [
    "BASE_STAGES",
    "COEFFICIENTS",
    "DEPTHWISE_IMPLS",
    "LITE_COEFFICIENTS",
    "DepthwiseConv",
    "EfficientNet",
    "EfficientNetSpec",
    "StageSpec",
    "conv_init",
    "depthwise_conv",
    "efficientnet_spec",
    "mbconv",
    "round_filters",
    "round_repeats",
]

DEPTHWISE_IMPLS = ("auto", "conv", "shift")

# EfficientNet's conv initialiser (He normal, fan-out) for layers that are trained from scratch.
conv_init = nn.initializers.variance_scaling(2.0, "fan_out", "truncated_normal")


@dataclasses.dataclass(frozen=True)
class StageSpec:
    """One EfficientNet stage: kernel, first-block stride, expansion ratio, output width and repeats."""

    kernel: int
    stride: int
    expand: int
    filters: int
    repeats: int


# EfficientNet-B0 (Tan & Le 2019, Table 1); seed 002 Paper I Table 1 lists the first three stages.
BASE_STAGES: tuple[StageSpec, ...] = (
    StageSpec(3, 1, 1, 16, 1),
    StageSpec(3, 2, 6, 24, 2),
    StageSpec(5, 2, 6, 40, 2),
    StageSpec(3, 2, 6, 80, 3),
    StageSpec(5, 1, 6, 112, 3),
    StageSpec(5, 2, 6, 192, 4),
    StageSpec(3, 1, 6, 320, 1),
)

# (width, depth) coefficients of the compound scaling.
COEFFICIENTS = {
    "b0": (1.0, 1.0), "b1": (1.0, 1.1), "b2": (1.1, 1.2), "b3": (1.2, 1.4),
    "b4": (1.4, 1.8), "b5": (1.6, 2.2), "b6": (1.8, 2.6), "b7": (2.0, 3.1),
}
LITE_COEFFICIENTS = {
    "lite0": (1.0, 1.0), "lite1": (1.0, 1.1), "lite2": (1.1, 1.2), "lite3": (1.2, 1.4), "lite4": (1.4, 1.8),
}


def round_filters(filters: int, width: float, divisor: int = 8) -> int:
    """EfficientNet's width rounding (multiple of 8, never more than 10 % below the scaled width)."""
    scaled = filters * width
    new = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    if new < 0.9 * scaled:
        new += divisor
    return int(new)


def round_repeats(repeats: int, depth: float) -> int:
    """EfficientNet's depth rounding (ceil)."""
    return int(math.ceil(depth * repeats))


@dataclasses.dataclass(frozen=True)
class EfficientNetSpec:
    """A (possibly truncated) EfficientNet backbone.

    Arguments:
        name: ``b0``..``b7`` or ``lite0``..``lite4``.
        stem: stem width.
        stages: the stages kept (already scaled).
        lite: Lite variant (ReLU6, no SE).
        final_add: keep the residual add of the last block (EfficientPose's low-resolution branch drops it,
            README §2.4).
    """

    name: str
    stem: int
    stages: tuple[StageSpec, ...]
    lite: bool = False
    final_add: bool = True

    @property
    def out_channels(self) -> int:
        return self.stages[-1].filters

    @property
    def stride(self) -> int:
        s = 2
        for st in self.stages:
            s *= st.stride
        return s


def efficientnet_spec(name: str, num_stages: int = 7, final_add: bool = True) -> EfficientNetSpec:
    """The spec of EfficientNet ``name`` truncated after ``num_stages`` stages."""
    name = name.lower()
    if not 1 <= num_stages <= 7:
        raise ConfigError(f"num_stages must be in 1..7, got {num_stages}")
    if name in COEFFICIENTS:
        width, depth = COEFFICIENTS[name]
        lite = False
    elif name in LITE_COEFFICIENTS:
        width, depth = LITE_COEFFICIENTS[name]
        lite = True
    else:
        raise ConfigError(
            f"unknown EfficientNet {name!r}; choose one of {', '.join([*COEFFICIENTS, *LITE_COEFFICIENTS])}"
        )
    stages = []
    for i, st in enumerate(BASE_STAGES[:num_stages]):
        repeats = st.repeats if (lite and i == 0) else round_repeats(st.repeats, depth)
        stages.append(dataclasses.replace(st, filters=round_filters(st.filters, width), repeats=repeats))
    stem = 32 if lite else round_filters(32, width)
    return EfficientNetSpec(name=name, stem=stem, stages=tuple(stages), lite=lite, final_add=final_add)


def depthwise_conv(x: Float[Array, "N H W C"], kernel: Float[Array, "k k 1 C"], stride: int,
                   impl: str = "auto") -> Float[Array, "N h w C"]:
    """Depthwise convolution with TF "SAME" padding.

    ``impl="conv"`` is XLA's grouped convolution; ``impl="shift"`` sums k² strided slices of the padded input times
    per-channel weights, which XLA:CPU runs 6–16× faster than its grouped convolution (forward and backward; same
    result up to float32 summation order, measured max |Δ| ≈ 6e-6). ``auto`` picks ``shift`` on CPU
    (:func:`infantjax.backend.form`). The shift form has its own gradient: the padded input and the cotangent are
    written once (``optimization_barrier``) and the input's gradient is the correlation of the cotangent with the
    flipped kernel, where XLA's derivative of k² slices fused the layer's producer into every tap (an
    EfficientPose RT training step at 128 px ran 1.6× faster with the barrier alone).
    """
    impl = form(impl, cpu="shift", other="conv", what="depthwise impl")
    c = x.shape[-1]
    if impl == "conv":
        return jax.lax.conv_general_dilated(x, kernel.astype(x.dtype), (stride, stride), "SAME",
                                            dimension_numbers=("NHWC", "HWIO", "NHWC"), feature_group_count=c)
    return _depthwise_shift(x, kernel.astype(x.dtype), int(stride))


def _same_padding(n: int, k: int, stride: int) -> tuple[int, int, int]:
    """Output length and (before, after) padding of TF "SAME" along an axis of ``n``."""
    out = -(-n // stride)
    total = max((out - 1) * stride + k - n, 0)
    return out, total // 2, total - total // 2


def _shift_sum(xp, kernel, oh: int, ow: int, stride: int):
    """Σ over the k × k taps of the strided window of ``xp`` at the tap times the tap's per-channel weight."""
    k = kernel.shape[0]
    out = None
    for i in range(k):
        for j in range(k):
            term = xp[:, i:i + (oh - 1) * stride + 1:stride, j:j + (ow - 1) * stride + 1:stride, :] * kernel[i, j, 0]
            out = term if out is None else out + term
    return out


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def _depthwise_shift(x, kernel, stride: int):
    return _depthwise_shift_fwd(x, kernel, stride)[0]


def _depthwise_shift_fwd(x, kernel, stride: int):
    k = kernel.shape[0]
    (oh, pt, pb), (ow, pl, pr) = (_same_padding(n, k, stride) for n in x.shape[1:3])
    # the padded input is written once: left to fusion, XLA recomputes the producer (BatchNorm, activation) of
    # every element once per tap (k² times)
    xp = jax.lax.optimization_barrier(jnp.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0))))
    # the input's (H, W) travels as the shape of an empty array: residuals are arrays
    return _shift_sum(xp, kernel, oh, ow, stride), (xp, kernel, jnp.zeros((0, *x.shape[1:3]), x.dtype))


def _depthwise_shift_bwd(stride: int, res, g):
    xp, kernel, size = res
    n, oh, ow, c = g.shape
    k = kernel.shape[0]
    h, w = size.shape[1:]
    (_, pt, _), (_, pl, _) = (_same_padding(m, k, stride) for m in (h, w))
    g = jax.lax.optimization_barrier(g)
    # input: the correlation of the (zero-inserted, for stride 2) cotangent with the flipped kernel
    if stride > 1:
        g = jnp.stack([g] + [jnp.zeros_like(g)] * (stride - 1), axis=2).reshape(n, oh * stride, ow, c)
        g = jnp.stack([g] + [jnp.zeros_like(g)] * (stride - 1), axis=3).reshape(n, oh * stride, ow * stride, c)
    gh, gw = g.shape[1:3]
    hp, wp = xp.shape[1:3]
    # dxp[u] = Σ_i g[u − i] · w_i for u over the padded input: pad g by k − 1 (and up to the padded length)
    gq = jax.lax.optimization_barrier(jnp.pad(g, ((0, 0), (k - 1, max(hp - gh, 0)), (k - 1, max(wp - gw, 0)),
                                                  (0, 0))))
    flipped = kernel[::-1, ::-1]
    dx = None
    for a in range(k):
        for b in range(k):
            term = gq[:, pt + a:pt + a + h, pl + b:pl + b + w, :] * flipped[a, b, 0]
            dx = term if dx is None else dx + term
    # kernel: tap (i, j) weighs xp[s·y + i, s·x + j] · g[y, x]; read as the whole padded input against the
    # cotangent's window shifted by the tap (slicing xp again would share the forward's slices, which XLA then
    # writes out one by one with the layer's producer recomputed in each)
    dk = jnp.stack([jnp.stack([jnp.sum(xp * gq[:, k - 1 - i:k - 1 - i + hp, k - 1 - j:k - 1 - j + wp, :],
                                       axis=(0, 1, 2)) for j in range(k)]) for i in range(k)])[:, :, None, :]
    return dx.astype(xp.dtype), dk.astype(kernel.dtype)


_depthwise_shift.defvjp(_depthwise_shift_fwd, _depthwise_shift_bwd)


class DepthwiseConv(nn.Module):
    """Depthwise k×k convolution, no bias, TF "SAME" padding; kernel (k, k, 1, C) like ``nn.Conv`` with
    ``feature_group_count=C`` (so weights load unchanged)."""

    kernel_size: int
    stride: int = 1
    impl: str = "auto"
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: Float[Array, "N H W C"]) -> Float[Array, "N h w C"]:
        c = x.shape[-1]
        kernel = self.param("kernel", conv_init, (self.kernel_size, self.kernel_size, 1, c), jnp.float32)
        return depthwise_conv(jnp.asarray(x, self.dtype), kernel, self.stride, self.impl)


def mbconv(x: Float[Array, "N H W Cin"], *, prefix: str, filters: int, kernel: int, stride: int, expand: int,
           se: bool, act: Callable, residual: bool, train: bool, dtype: Any = jnp.float32
           ) -> Float[Array, "N h w Cout"]:
    """One backbone MBConv block with Keras layer names ``{prefix}_expand_conv`` ... (README §2.1).

    Must be called inside a compact method: its layers are created in the calling module.
    """
    cin = x.shape[-1]
    h = x
    if expand != 1:
        h = nn.Conv(cin * expand, (1, 1), use_bias=False, kernel_init=conv_init, dtype=dtype,
                    name=f"{prefix}_expand_conv")(h)
        h = act(batch_norm(train, f"{prefix}_expand_bn", convention="keras", dtype=dtype)(h))
    h = DepthwiseConv(kernel, stride, dtype=dtype, name=f"{prefix}_dwconv")(h)
    h = act(batch_norm(train, f"{prefix}_bn", convention="keras", dtype=dtype)(h))
    if se:
        h = squeeze_excite(h, max(1, int(cin * 0.25)), act, names=(f"{prefix}_se_reduce", f"{prefix}_se_expand"),
                           layout="conv", use_bias=True, dtype=dtype)
    h = nn.Conv(filters, (1, 1), use_bias=False, kernel_init=conv_init, dtype=dtype,
                name=f"{prefix}_project_conv")(h)
    h = batch_norm(train, f"{prefix}_project_bn", convention="keras", dtype=dtype)(h)
    if residual and stride == 1 and cin == filters:
        h = h + x  # the Keras drop-connect Lambda before the add is an identity at inference (README §2.1)
    return h


class EfficientNet(nn.Module):
    """A truncated EfficientNet feature extractor (NHWC in, NHWC out).

    ``__call__`` returns the output of every stage kept (a tuple, last = deepest) so that multi-scale models
    (EfficientHourglass) can tap intermediate scales. ``dtype`` is the compute dtype (parameters float32).
    """

    spec: EfficientNetSpec
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: Float[Array, "N H W 3"], train: bool = False) -> tuple[Array, ...]:
        spec = self.spec
        act = activations.get("relu6" if spec.lite else "swish")
        h = nn.Conv(spec.stem, (3, 3), strides=(2, 2), padding="SAME", use_bias=False, kernel_init=conv_init,
                    dtype=self.dtype, name="stem_conv")(x)
        h = act(batch_norm(train, "stem_bn", convention="keras", dtype=self.dtype)(h))
        outs = []
        n_stages = len(spec.stages)
        for si, st in enumerate(spec.stages):
            for r in range(st.repeats):
                last = si == n_stages - 1 and r == st.repeats - 1
                h = mbconv(h, prefix=f"block{si + 1}{chr(ord('a') + r)}", filters=st.filters, kernel=st.kernel,
                           stride=st.stride if r == 0 else 1, expand=st.expand, se=not spec.lite, act=act,
                           residual=spec.final_add or not last, train=train, dtype=self.dtype)
            outs.append(h)
        return tuple(outs)
