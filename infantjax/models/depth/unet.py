"""The detection CNN of seed 004 (inherited from Moccia et al. 2020): a two-branch 3D encoder-decoder.

Seed 004 (Sec. II-B) describes it as "inspired by the classic encoder-decoder architecture of U-Net with a
two-branch architecture aimed at processing joints and joint connections separately", fed with a clip of 3 depth
frames, trained on 20 binary maps per frame with per-pixel binary cross-entropy and Adam, BN + ReLU after each
convolution. The layer list itself is in Moccia et al. 2020, which is not part of our sources, so the following
are our assumptions (documented in docs/depth.md):

* two independent U-Nets on the same clip: the joint branch outputs 12 maps, the connection branch 8;
* each U-Net has ``len(widths)`` levels; a level is two 3x3x3 convolutions (+ BN + ReLU); the encoder
  down-samples with 1x2x2 max pooling (space only: the clip has just 3 frames, which every layer keeps);
  the decoder up-samples with a 1x2x2 transposed convolution (+ BN + ReLU) and concatenates the skip
  connection of the same level, U-Net style;
* the output is a 1x1x1 convolution giving logits, without BN + ReLU (a sigmoid turns them into the maps, and
  the loss is binary cross-entropy on the logits).

Input (N, T, H, W, C) channels-last with H and W divisible by 2^(levels - 1) (96 x 128 with 4 levels). BatchNorm
follows the Keras convention (ε = 1e-3) with momentum ``bn_momentum``; ``dtype`` is the compute dtype (parameters
float32, logits float32).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from infantjax._jsonconfig import JsonConfig
from infantjax.errors import ConfigError
from infantjax.models._registry import register
from infantjax.models.depth.init import init_network
from infantjax.nn.conv3d import BN_MOMENTUM, Conv3D, ConvBNReLU
from infantjax.nn.norm import batch_norm
from infantjax.nn.precision import dtype_name, resolve

__all__ = ["DetectionCNN", "DetectionSpec", "UNet3D"]


class UNet3D(nn.Module):
    """A 3D U-Net over (time, height, width) that pools space only.

    Arguments:
        widths: channels of each level, shallow to deep.
        out_maps: output maps (logits) per frame.
        bn_momentum: BatchNorm running-average decay.
        prior: initial sigmoid output (the logits' bias is log(prior / (1 - prior))); None = zero bias (0.5).
        dtype: compute dtype (parameters float32; the logits come back float32).
    """

    widths: tuple[int, ...] = (32, 64, 128, 256)
    out_maps: int = 12
    bn_momentum: float = BN_MOMENTUM
    prior: float | None = None
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: Float[Array, "N T H W C"], train: bool = False) -> Float[Array, "N T H W M"]:
        conv = {"bn_momentum": self.bn_momentum, "dtype": self.dtype}
        x = jnp.asarray(x, self.dtype)
        skips = []
        for i, width in enumerate(self.widths):
            if i > 0:
                x = nn.max_pool(x, (1, 2, 2), strides=(1, 2, 2))
            x = ConvBNReLU(width, **conv, name=f"down{i}_a")(x, train)
            x = ConvBNReLU(width, **conv, name=f"down{i}_b")(x, train)
            skips.append(x)
        for i in range(len(self.widths) - 2, -1, -1):
            width = self.widths[i]
            x = nn.ConvTranspose(width, (1, 2, 2), strides=(1, 2, 2), dtype=self.dtype, name=f"up{i}_t")(x)
            x = batch_norm(train, f"up{i}_bn", convention="keras", momentum=self.bn_momentum, dtype=self.dtype)(x)
            x = nn.relu(x)
            x = jnp.concatenate([skips[i], x], axis=-1)
            x = ConvBNReLU(width, **conv, name=f"up{i}_a")(x, train)
            x = ConvBNReLU(width, **conv, name=f"up{i}_b")(x, train)
        bias = nn.initializers.zeros if self.prior is None else nn.initializers.constant(
            math.log(self.prior / (1.0 - self.prior)))
        logits = Conv3D(self.out_maps, (1, 1, 1), bias_init=bias, dtype=self.dtype, name="logits")(x)
        return logits.astype(jnp.float32)


class DetectionCNN(nn.Module):
    """Two-branch detection CNN: logits of 12 joint maps followed by 8 connection maps, (N, T, H, W, 20).

    Arguments:
        spec: the :class:`DetectionSpec` (U-Net widths, map counts, BatchNorm decay, the initial map value
            ``prior`` and the compute dtype; parameters float32, the logits come back float32) — the one source of
            every setting (``DetectionSpec.build()`` or ``infantjax.models.build(spec)``).
    """

    spec: DetectionSpec

    @nn.compact
    def __call__(self, x: Float[Array, "N T H W C"], train: bool = False) -> Float[Array, "N T H W 20"]:
        s = self.spec
        dtype = resolve(s.dtype)
        joints = UNet3D(s.widths, s.num_joints, s.bn_momentum, s.prior, dtype, name="joint_branch")(x, train)
        connections = UNet3D(s.widths, s.num_connections, s.bn_momentum, s.prior, dtype,
                             name="connection_branch")(x, train)
        return jnp.concatenate([joints, connections], axis=-1)


# one depth frame per clip frame, (1, T=3, H, W, 1) with H, W the smallest the poolings allow
@register(build=lambda spec: spec.build(), sample_input=lambda spec: (1, 3, spec.divisor, spec.divisor, 1))
@dataclasses.dataclass(frozen=True)
class DetectionSpec(JsonConfig):
    """Configuration of the detection CNN (JSON round trip with ``to_json``/``from_json``).

    ``prior`` (ours; the paper gives no initialisation): the logits' bias starts at log(p / (1 - p)), so the
    untrained maps are p everywhere — about the share of target pixels (~2 %) — instead of 0.5, whose
    cross-entropy (0.69 against ~0.1) short runs spend their steps undoing (the prior-probability initialisation
    of Lin et al. 2017 for sparse targets). None = Flax's zero bias. ``dtype``: the compute dtype (``"auto"``, the
    default: the backend policy's; ``"float32"``, ``"bfloat16"``, ``"float16"``; parameters stay float32).
    """

    widths: tuple[int, ...] = (32, 64, 128, 256)
    num_joints: int = 12
    num_connections: int = 8
    bn_momentum: float = BN_MOMENTUM
    prior: float | None = 0.02
    dtype: str = "auto"

    def __post_init__(self):
        object.__setattr__(self, "dtype", dtype_name(self.dtype, "DetectionSpec.dtype"))
        object.__setattr__(self, "widths", tuple(int(w) for w in self.widths))
        if not self.widths or any(w < 1 for w in self.widths) or self.num_joints < 1 or self.num_connections < 1:
            raise ConfigError(f"DetectionSpec sizes must be positive, got {self}")
        if not 0 <= self.bn_momentum < 1:
            raise ConfigError(f"DetectionSpec.bn_momentum must be in [0, 1), got {self.bn_momentum}")
        if self.prior is not None and not 0 < self.prior < 1:
            raise ConfigError(f"DetectionSpec.prior must be in (0, 1) or None, got {self.prior}")

    @property
    def divisor(self) -> int:
        """H and W of the input must be multiples of this (the 1x2x2 poolings)."""
        return 2 ** (len(self.widths) - 1)

    def build(self) -> DetectionCNN:
        """The network (also ``infantjax.models.build(spec)``)."""
        return DetectionCNN(self)
def init_detection(spec: DetectionSpec, rng: jax.Array, input_shape: tuple[int, ...]) -> dict:
    """Variables ``{"params", "batch_stats"}`` of the detection CNN for inputs of ``input_shape``."""
    h, w = input_shape[2], input_shape[3]
    if h % spec.divisor or w % spec.divisor:
        raise ConfigError(f"detection input height and width must be multiples of {spec.divisor} for "
                          f"{len(spec.widths)} U-Net levels, got {h}x{w}")
    return init_network(spec.build(), rng, input_shape)
