"""EfficientHourglass (seed 002, thesis §3.3.3 and Fig. 3.6c; Paper II Fig. 2d).

What the papers fix: a single high-resolution input (608 × 608 for B4); an ImageNet-style EfficientNet backbone
(B4); multi-scale features from four scales joined with 4 × 4 transposed convolutions; MBConvs with SE and residual
connections throughout; a single detection pass; a resolution of at least input/4 (152 × 152) in the detector and
the output; the output upscaled with two fixed bilinear 4 × 4 transposed convolutions (×4 back to the input size).

What they do not fix (and so is our choice, documented): the four scales are the backbone outputs at strides 4, 8,
16 and 32 (B4 stages 2, 3, 5, 7); each coarser scale is upscaled by a learned 4 × 4 stride-2 transposed convolution
to the next scale's width, **added** to it and fused by one MBConv6 (3 × 3, SE 0.25); the detection pass is two
MBConv6 (5 × 5) blocks at stride 4 projecting to 32 channels, followed by a 1 × 1 head to K heatmaps. The head width
32 is what the published counts imply: infant (K = 19) − MPII (K = 16) = 18,699,936 − 18,696,471 = 3,465 =
3·(32 + 1) + 2·(16·(19² − 16²) + 3), i.e. a 32 → K head plus two K → K upscaling layers (Table B.1, C.1).

**Sum, not concatenation.** The thesis (§3.3.3) says EfficientHourglass "consistently employs MBConvs with
integrated SE and residual connection". A residual connection needs equal input and output widths, which the sum of
the upscaled coarse scale and the skip gives (C → C at every fusion, and the detection pass keeps the stride-4 width
32) and a concatenation (2C → C) does not. Concatenating, as infantjax first read the figure, makes every fusion
MBConv6 twice as wide at its input — at stride 16: 320 → 1920 → 160, whose expansion alone is 614,400 weights —
and totals 19,719,700 parameters for K = 16, 5.5 % more than the published 18,696,471. Summing removes
862,120 + 109,550 + 37,256 = 1,008,926 of them (the three fusions at strides 16, 8, 4) and gives 18,710,774,
+14,303 (0.077 %) over the published count; the rest lies in choices the papers do not state (several plausible
combinations of deconvolution bias or BatchNorm, fusion and detection kernel sizes and expansions land within a few
hundred parameters, none exactly). ``merge="concat"`` keeps the first reading. BatchNorm follows the Keras
convention of the EfficientNet backbone; ``spec.dtype`` is the compute dtype (parameters float32, outputs float32).
"""

from __future__ import annotations

import dataclasses

import flax.linen as nn
import jax.numpy as jnp
from jaxtyping import Array, Float

from infantjax._jsonconfig import JsonConfig
from infantjax.errors import ConfigError
from infantjax.models._registry import register
from infantjax.models.pose.efficientpose import BilinearUpscale
from infantjax.nn import activations
from infantjax.nn.efficientnet import EfficientNet, conv_init, efficientnet_spec, mbconv
from infantjax.nn.norm import batch_norm
from infantjax.nn.precision import dtype_name, resolve

__all__ = [
    "PUBLISHED_PARAMETER_COUNTS",
    "EfficientHourglass",
    "EfficientHourglassSpec",
]

# seed 002 Table B.1 (MPII, K = 16) and Table C.1 (In-Motion, K = 19)
PUBLISHED_PARAMETER_COUNTS = {16: 18_696_471, 19: 18_699_936}

# stage indices (0-based) of the four scales: strides 4, 8, 16, 32
_TAPS = (1, 2, 4, 6)


@register(build="infantjax.models.pose.hourglass:EfficientHourglass", sample_input=lambda spec: (1, 64, 64, 3))
@dataclasses.dataclass(frozen=True)
class EfficientHourglassSpec(JsonConfig):
    """Configuration of EfficientHourglass.

    Arguments:
        backbone: EfficientNet name (``b4`` for EfficientHourglass B4).
        num_keypoints: K.
        resolution: input size (608 for B4); a multiple of 32.
        head_width: channels entering the 1 × 1 heatmap head (32, implied by the published counts).
        merge: how a fusion joins the upscaled coarse scale and the skip: ``"add"`` (default; every MBConv then has
            its residual connection, as the thesis says, 18,710,774 parameters for K = 16) or ``"concat"`` (the
            first reading, 19,719,700; module docstring).
        dtype: compute dtype: ``"auto"`` (default: the backend policy's, float32 on CPU and bfloat16 on accelerators,
            :func:`infantjax.nn.precision.resolve`), ``"float32"``, ``"bfloat16"`` or ``"float16"``; parameters stay float32.
    """

    backbone: str = "b4"
    num_keypoints: int = 16
    resolution: int = 608
    head_width: int = 32
    merge: str = "add"
    dtype: str = "auto"

    def __post_init__(self):
        object.__setattr__(self, "dtype", dtype_name(self.dtype, "EfficientHourglassSpec.dtype"))
        efficientnet_spec(self.backbone)  # validates the name
        if int(self.resolution) % 32 != 0 or int(self.resolution) < 32:
            raise ConfigError(f"EfficientHourglass resolution must be a multiple of 32, got {self.resolution}")
        if self.merge not in ("add", "concat"):
            raise ConfigError(f"EfficientHourglassSpec.merge must be 'add' or 'concat', got {self.merge!r}")
        if int(self.num_keypoints) < 1:
            raise ConfigError(f"num_keypoints must be >= 1, got {self.num_keypoints}")
class EfficientHourglass(nn.Module):
    """EfficientHourglass. Input (N, R, R, 3) normalised ('torch' mode); output dict of float32 ``heatmaps``
    (N, R, R, K) and ``pass1`` (N, R/4, R/4, K)."""

    spec: EfficientHourglassSpec

    @nn.compact
    def __call__(self, x: Float[Array, "N H W 3"], train: bool = False,
                 train_backbone: bool | None = None) -> dict[str, Array]:
        spec = self.spec
        dt = resolve(spec.dtype)
        act = activations.get("swish")
        bb_train = train if train_backbone is None else bool(train_backbone)  # False: frozen backbone
        x = jnp.asarray(x, dt)
        feats = EfficientNet(efficientnet_spec(spec.backbone), dtype=dt, name="backbone")(x, bb_train)
        scales = [feats[i] for i in _TAPS]  # strides 4, 8, 16, 32
        h = scales[-1]
        block = {"stride": 1, "expand": 6, "se": True, "act": act, "residual": True, "train": train, "dtype": dt}
        for level in (2, 1, 0):  # 32 -> 16 -> 8 -> 4
            skip = scales[level]
            h = nn.ConvTranspose(skip.shape[-1], (4, 4), strides=(2, 2), padding="SAME", use_bias=False,
                                 kernel_init=conv_init, dtype=dt, name=f"up{level}_deconv")(h)
            h = act(batch_norm(train, f"up{level}_bn", convention="keras", dtype=dt)(h))
            h = h + skip if spec.merge == "add" else jnp.concatenate([h, skip], axis=-1)
            h = mbconv(h, prefix=f"fuse{level}", filters=skip.shape[-1], kernel=3, **block)
        # single detection pass at stride 4
        h = mbconv(h, prefix="detect1", filters=spec.head_width, kernel=5, **block)
        h = mbconv(h, prefix="detect2", filters=spec.head_width, kernel=5, **block)
        confs = nn.Conv(spec.num_keypoints, (1, 1), use_bias=True, dtype=dt, name="detection_confs")(h)
        up = BilinearUpscale(spec.num_keypoints, name="upscaled_deconv1")(confs)
        heatmaps = BilinearUpscale(spec.num_keypoints, name="upscaled_confs")(up)
        return {"pass1": confs.astype(jnp.float32), "heatmaps": heatmaps.astype(jnp.float32)}
