"""EfficientPose RT, I, II, III, IV and RT/I/II Lite (seed 002, Paper I §3; data/efficientpose/README.md §2).

Architecture as the official implementation builds it:

* high-resolution backbone: EfficientNet truncated after stage 3 (stride 8);
* low-resolution backbone (I–IV): a 2×2 average pool of the normalised input into an EfficientNet truncated after
  stage 2, whose last block keeps no residual add (README §2.4);
* cross-resolution features F = concat[high, low];
* three passes of Mobile DenseNets (three E-MBConv6 sub-blocks, 5×5 depthwise, E-swish β = 1.25, SE of B/4, dense
  concatenations with the newest output first): pass 1 (skeleton) -> PAF head; pass 2 (detection1) and pass 3
  (detection2) each take concat[previous pass's dense output, F] -> heatmap heads;
* three fixed bilinear 4×4 stride-2 transposed convolutions upscale the pass-3 heatmaps 8× to R×R.

Lite variants use EfficientNet-Lite backbones, ReLU6 everywhere and no SE (README §2.5).

Sub-module names are the Keras layer names (``pass1_block1_mbconv1_skeleton_conv1``, backbones under ``res1`` and
``res2``) so that :func:`infantjax.io.load_efficientpose_h5` maps official weights by name.

Parameter counting follows the README's rule (§2.6): convolution kernels and biases, BatchNorm γ/β *and* moving
mean/variance, and the fixed upscaling (16·K² + K per layer). The variables live in three collections:
``params`` (trained), ``batch_stats`` (BN moving statistics) and ``fixed`` (the bilinear upscaling, never trained),
so the official convention is "every collection": ``infantjax.models.count_parameters(spec)``.

BatchNorm follows the Keras convention (ε = 1e-3, momentum 0.99; ``infantjax.nn.norm``), which the official weights
were trained with. ``spec.dtype`` is the compute dtype; parameters stay float32 and every output is float32.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from infantjax._jsonconfig import JsonConfig
from infantjax.backend import form
from infantjax.errors import ConfigError
from infantjax.models._registry import register
from infantjax.nn import activations
from infantjax.nn.efficientnet import DepthwiseConv, EfficientNet, conv_init, efficientnet_spec
from infantjax.nn.norm import batch_norm
from infantjax.nn.precision import dtype_name, resolve
from infantjax.nn.se import squeeze_excite

__all__ = [
    "OFFICIAL_PARAMETER_COUNTS",
    "VARIANTS",
    "BilinearUpscale",
    "EfficientPose",
    "EfficientPoseSpec",
    "VariantInfo",
    "bilinear_kernel",
    "normalise_variant",
]


@dataclasses.dataclass(frozen=True)
class VariantInfo:
    """Fixed properties of one EfficientPose variant (README §2.5, Paper I Table 2)."""

    resolution: int
    high: str  # EfficientNet name of the high-resolution backbone (truncated after stage 3)
    low: str | None  # EfficientNet name of the low-resolution backbone (truncated after stage 2), or None
    lite: bool
    depth: int  # D, Mobile DenseNets per detection pass (Paper I Table 2: [MD(C)] × D)


VARIANTS: dict[str, VariantInfo] = {
    "rt": VariantInfo(224, "b0", None, False, 1),
    "i": VariantInfo(256, "b2", "b0", False, 1),
    "ii": VariantInfo(368, "b4", "b0", False, 2),
    "iii": VariantInfo(480, "b5", "b1", False, 3),
    "iv": VariantInfo(600, "b7", "b3", False, 4),
    "rt_lite": VariantInfo(224, "lite0", None, True, 1),
    "i_lite": VariantInfo(256, "lite2", None, True, 1),
    "ii_lite": VariantInfo(368, "lite4", None, True, 2),
}

# Official counts for K = 16, P = 28 (seed 002 Table B.1; README §2.6): (full graph, deployment graph).
OFFICIAL_PARAMETER_COUNTS: dict[str, tuple[int, int]] = {
    "rt": (465_608, 460_284),
    "i": (726_116, 719_736),
    "ii": (1_740_380, 1_732_944),
    "iii": (3_238_264, 3_229_772),
    "iv": (6_571_542, 6_560_938),
    "rt_lite": (404_608, 404_608),
    "i_lite": (591_632, 591_632),
}


def normalise_variant(variant: str) -> str:
    """A variant name as the specs spell it (``"EfficientPose-RT"``, ``"rt"`` → ``"rt"``)."""
    v = str(variant).strip().lower().replace(" ", "_").replace("-", "_")
    if v.startswith("efficientpose"):
        v = v[len("efficientpose"):].lstrip("_")
    if v not in VARIANTS:
        raise ConfigError(f"unknown EfficientPose variant {variant!r}; choose one of {', '.join(VARIANTS)}")
    return v


# counts do not depend on the input resolution: a small one is used for the shape trace
@register(build="infantjax.models.pose.efficientpose:EfficientPose", sample_input=lambda spec: (1, 32, 32, 3))
@dataclasses.dataclass(frozen=True)
class EfficientPoseSpec(JsonConfig):
    """Configuration of an EfficientPose network.

    Arguments:
        variant: ``rt``, ``i``, ``ii``, ``iii``, ``iv``, ``rt_lite``, ``i_lite`` or ``ii_lite``.
        num_keypoints: K, heatmap channels (16 for MPII, 19 for In-Motion).
        num_pafs: P, PAF channels (2 per limb; 28 for the 14 MPII limbs).
        graph: ``full`` builds the PAF and pass-2 heads (needed for training with intermediate supervision);
            ``deployment`` builds only what the upscaled output needs. Lite ``.h5`` files hold the deployment graph.
        resolution: input size R (defaults to the variant's: 224, 256, 368, 480, 600).
        dtype: compute dtype: ``"auto"`` (default: the backend policy's, float32 on CPU and bfloat16 on accelerators,
            :func:`infantjax.nn.precision.resolve`), ``"float32"``, ``"bfloat16"`` or ``"float16"``; parameters stay float32.
    """

    variant: str = "rt"
    num_keypoints: int = 16
    num_pafs: int = 28
    graph: Literal["full", "deployment"] = "full"
    resolution: int | None = None
    dtype: str = "auto"

    def __post_init__(self):
        object.__setattr__(self, "variant", normalise_variant(self.variant))
        object.__setattr__(self, "dtype", dtype_name(self.dtype, "EfficientPoseSpec.dtype"))
        if self.graph not in ("full", "deployment"):
            raise ConfigError(f"graph must be 'full' or 'deployment', got {self.graph!r}")
        if int(self.num_keypoints) < 1:
            raise ConfigError(f"num_keypoints must be >= 1, got {self.num_keypoints}")
        if int(self.num_pafs) < 1 and self.graph == "full":
            raise ConfigError(f"num_pafs must be >= 1 for the full graph, got {self.num_pafs}")
        if self.resolution is None:
            object.__setattr__(self, "resolution", VARIANTS[self.variant].resolution)
        if int(self.resolution) % 8 != 0 or int(self.resolution) < 16:
            raise ConfigError(f"resolution must be a multiple of 8 and at least 16, got {self.resolution}")

    @property
    def info(self) -> VariantInfo:
        return VARIANTS[self.variant]

    @property
    def lite(self) -> bool:
        return self.info.lite

    @property
    def block_width(self) -> int:
        """B: the high-resolution backbone's stage-3 width."""
        return efficientnet_spec(self.info.high, 3).out_channels
def bilinear_kernel(channels: int) -> np.ndarray:
    """The fixed 4×4 bilinear upscaling kernel, Flax ConvTranspose layout (4, 4, in, out), diagonal in channels.

    outer([1, 3, 3, 1]/4, [1, 3, 3, 1]/4) placed at [:, :, i, i] (README §2.1).
    """
    f = np.array([1.0, 3.0, 3.0, 1.0], dtype=np.float32) / 4.0
    k2 = np.outer(f, f).astype(np.float32)
    kernel = np.zeros((4, 4, channels, channels), dtype=np.float32)
    for i in range(channels):
        kernel[:, :, i, i] = k2
    return kernel


def upscale_phases(x: Float[Array, "N H W K"], kernel: Float[Array, "4 4 K"], bias) -> Float[Array, "N 2H 2W K"]:
    """Keras Conv2DTranspose(K, 4, strides=2, 'same') with a channel-diagonal kernel (4, 4, K), per phase.

    Output row 2i takes input rows i−1, i with kernel rows 3, 1; row 2i+1 takes rows i, i+1 with kernel rows 2, 0
    (columns alike), which is the dilated correlation of :class:`BilinearUpscale` without its zero products:
    XLA:CPU runs it (and its gradient) far faster than the grouped, input-dilated convolution.
    """
    n, h, w, c = x.shape
    xp = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    taps = {0: ((0, 3), (1, 1)), 1: ((1, 2), (2, 0))}  # phase -> ((offset into padded input, kernel index), ...)
    rows = []
    for a in (0, 1):
        cols = []
        for b in (0, 1):
            acc = bias
            for oi, ki in taps[a]:
                for oj, kj in taps[b]:
                    acc = acc + xp[:, oi:oi + h, oj:oj + w, :] * kernel[ki, kj]
            cols.append(acc)
        rows.append(jnp.stack(cols, axis=3))  # (n, h, w, 2, c)
    y = jnp.stack(rows, axis=2)  # (n, h, 2, w, 2, c)
    return y.reshape(n, 2 * h, 2 * w, c)


class BilinearUpscale(nn.Module):
    """Keras ``Conv2DTranspose(K, 4, strides=2, padding='same')`` held fixed at the bilinear kernel.

    The kernel (4, 4, K, K) and zero bias live in the ``fixed`` collection, so they are counted (README §2.6) and
    loaded but never trained. Because the kernel is diagonal, the transposed convolution is computed per channel
    (a depthwise dilated convolution), 16× cheaper than the dense K→K form and identical to it; under the CPU
    forms (``impl="auto"`` on CPU, :func:`infantjax.backend.form`) as four phase products
    (:func:`upscale_phases`), which trains about as fast as the rest of the network on XLA:CPU where the grouped
    dilated convolution took most of a training step.
    """

    features: int
    impl: str = "auto"

    @nn.compact
    def __call__(self, x: Float[Array, "N H W K"]) -> Float[Array, "N 2H 2W K"]:
        k = self.features
        kernel = self.variable("fixed", "kernel", lambda: jnp.asarray(bilinear_kernel(k))).value
        bias = self.variable("fixed", "bias", lambda: jnp.zeros((k,), jnp.float32)).value
        diag = jnp.stack([kernel[:, :, i, i] for i in range(k)], axis=-1)  # (4, 4, K)
        if form(self.impl, cpu="phases", other="conv", what="upscale impl") == "phases":
            return upscale_phases(x, diag.astype(x.dtype), bias.astype(x.dtype))
        # transposed conv = input dilated by the stride, padded (k - 1 - pad) = 2 each side (TF 'SAME', out = 2n),
        # correlated with the spatially flipped kernel
        w = diag[::-1, ::-1, None, :]  # (4, 4, 1, K)
        y = jax.lax.conv_general_dilated(
            x, w.astype(x.dtype), window_strides=(1, 1), padding=((2, 2), (2, 2)), lhs_dilation=(2, 2),
            dimension_numbers=("NHWC", "HWIO", "NHWC"), feature_group_count=k,
        )
        return y + bias.astype(x.dtype)


def _e_mbconv(x, *, prefix: str, width: int, act, se: bool, train: bool, dtype):
    """E-MBConv6 (Paper I Fig. 3e): 1×1 to 6B -> 5×5 depthwise -> SE(B/4) -> 1×1 to B, no residual."""
    h = nn.Conv(6 * width, (1, 1), use_bias=False, kernel_init=conv_init, dtype=dtype, name=f"{prefix}_conv1")(x)
    h = act(batch_norm(train, f"{prefix}_conv1_bn", convention="keras", dtype=dtype)(h))
    h = DepthwiseConv(5, 1, dtype=dtype, name=f"{prefix}_dconv1")(h)
    h = act(batch_norm(train, f"{prefix}_dconv1_bn", convention="keras", dtype=dtype)(h))
    if se:
        # SE of B/4 whatever the block input width; E-swish (not swish) after the squeeze (README §2.1)
        names = (f"{prefix}_se_se_squeeze_conv", f"{prefix}_se_se_excite_conv")
        h = squeeze_excite(h, width // 4, act, names=names, layout="conv", use_bias=True, dtype=dtype)
    h = nn.Conv(width, (1, 1), use_bias=False, kernel_init=conv_init, dtype=dtype, name=f"{prefix}_conv2")(h)
    return batch_norm(train, f"{prefix}_conv2_bn", convention="keras", dtype=dtype)(h)


def _mobile_densenet(x, *, p: int, d: int, role: str, **kw):
    """Mobile DenseNet: three E-MBConv6 with dense concatenations, newest output first (README §2.1)."""
    pre = f"pass{p}_block{d}_mbconv"
    out1 = _e_mbconv(x, prefix=f"{pre}1_{role}", **kw)
    out2 = _e_mbconv(out1, prefix=f"{pre}2_{role}", **kw)
    dense2 = jnp.concatenate([out2, out1], axis=-1)
    out3 = _e_mbconv(dense2, prefix=f"{pre}3_{role}", **kw)
    return jnp.concatenate([out3, dense2], axis=-1)


def _detection_pass(x, *, p: int, depth: int, role: str, **kw):
    """A detection pass: D Mobile DenseNets in sequence, each taking the previous one's dense output (3B).

    D = 1 (RT, I), 2 (II), 3 (III), 4 (IV) (Paper I Table 2); this chaining reproduces the official parameter
    counts exactly (README §2.6: II–IV). ``kw``: width, act, se, train, dtype of :func:`_e_mbconv`.
    """
    for d in range(1, depth + 1):
        x = _mobile_densenet(x, p=p, d=d, role=role, **kw)
    return x


class EfficientPose(nn.Module):
    """EfficientPose network. Input: normalised images (N, R, R, 3) float32 (see ``preprocess``).

    Returns a dict of float32 arrays (whatever ``spec.dtype``): ``heatmaps`` (N, R, R, K) the upscaled output;
    ``pass3`` (N, R/8, R/8, K); and in the full graph also ``pafs`` (N, R/8, R/8, P) and ``pass2``
    (N, R/8, R/8, K).
    """

    spec: EfficientPoseSpec

    @nn.compact
    def __call__(self, x: Float[Array, "N H W 3"], train: bool = False,
                 train_backbone: bool | None = None) -> dict[str, Array]:
        """``train`` puts BatchNorm in training mode (batch statistics, moving averages updated);
        ``train_backbone=False`` keeps the EfficientNet backbone(s) in inference mode while the detection passes
        train (a frozen backbone must normalise with its own moving statistics; default: ``train``)."""
        spec = self.spec
        bb_train = train if train_backbone is None else bool(train_backbone)
        info = spec.info
        if x.ndim != 4 or x.shape[-1] != 3:
            raise ConfigError(f"EfficientPose expects (N, H, W, 3) input, got shape {tuple(x.shape)}")
        dt = resolve(spec.dtype)
        act = activations.get("relu6" if info.lite else "eswish")
        se = not info.lite
        x = jnp.asarray(x, dt)
        high = EfficientNet(efficientnet_spec(info.high, 3), dtype=dt, name="res1")(x, bb_train)[-1]
        if info.low is not None:
            # low-resolution input: 2×2 average pool of the normalised input; stage-2 output without its last add
            low_in = nn.avg_pool(x, (2, 2), strides=(2, 2), padding="SAME", count_include_pad=False)
            low = EfficientNet(efficientnet_spec(info.low, 2, final_add=False), dtype=dt,
                               name="res2")(low_in, bb_train)[-1]
            features = jnp.concatenate([high, low], axis=-1)
        else:
            features = high
        width = high.shape[-1]  # B
        out: dict[str, Array] = {}
        kw = {"depth": info.depth, "width": width, "act": act, "se": se, "train": train, "dtype": dt}
        dense1 = _detection_pass(features, p=1, role="skeleton", **kw)
        if spec.graph == "full":
            out["pafs"] = nn.Conv(spec.num_pafs, (1, 1), use_bias=True, dtype=dt, name="pass1_skeleton_pafs")(dense1)
        dense2 = _detection_pass(jnp.concatenate([dense1, features], axis=-1), p=2, role="detection1", **kw)
        if spec.graph == "full":
            out["pass2"] = nn.Conv(spec.num_keypoints, (1, 1), use_bias=True, dtype=dt,
                                   name="pass2_detection1_confs")(dense2)
        dense3 = _detection_pass(jnp.concatenate([dense2, features], axis=-1), p=3, role="detection2", **kw)
        confs = nn.Conv(spec.num_keypoints, (1, 1), use_bias=True, dtype=dt, name="pass3_detection2_confs")(dense3)
        out["pass3"] = confs
        up = BilinearUpscale(spec.num_keypoints, name="upscaled_deconv1")(confs)
        up = BilinearUpscale(spec.num_keypoints, name="upscaled_deconv2")(up)
        out["heatmaps"] = BilinearUpscale(spec.num_keypoints, name="upscaled_confs")(up)
        return {k: v.astype(jnp.float32) for k, v in out.items()}
