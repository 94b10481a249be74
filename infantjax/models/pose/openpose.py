"""The OpenPose ConvNet baseline (Cao et al. 2019) as seed 002 describes it (Paper I §2 and Fig. 1; Paper II §2.2).

A 368 × 368 input; the first ten VGG-19 convolutions (to conv4_2) and two extra 3 × 3 convolutions (256, 128) as
the feature extractor at stride 8 (46 × 46); then the two-branch detection: four passes estimating part affinity
fields followed by two passes estimating heatmaps, each pass five dense blocks of three 3 × 3 convolutions with PReLU
(the three outputs concatenated), a 1 × 1 convolution and a linear 1 × 1 output. The first PAF pass sees the
features, later PAF passes concat[features, PAFs]; the first heatmap pass concat[features, PAFs], the second
concat[features, heatmaps, PAFs]. Block widths 96 in the first pass of each branch and 128 afterwards, 1 × 1 widths
256 / 512 (the OpenPose body_25 layout). Paper II evaluates OpenPose with its 46 × 46 output upscaled 8× by three
4 × 4 stride-2 transposed convolutions, as here (fixed bilinear).

Our count for K = 16, P = 28 is 25,971,920 (+ 12,336 for the upscaling); seed 002 reports 25,939,664 (MPII) and
26,011,743 (In-Motion). The published layer widths of the MPII/infant OpenPose are not given, so the exact count
is not reproduced (documented in docs/pose.md). ``spec.dtype`` is the compute dtype (parameters float32, outputs
float32).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import flax.linen as nn
import jax.numpy as jnp
from jaxtyping import Array, Float

from infantjax._jsonconfig import JsonConfig
from infantjax.errors import ConfigError
from infantjax.models._registry import register
from infantjax.models.pose.efficientpose import BilinearUpscale
from infantjax.nn.precision import dtype_name, resolve

__all__ = ["PUBLISHED_PARAMETER_COUNTS", "OpenPose", "OpenPoseSpec"]

PUBLISHED_PARAMETER_COUNTS = {"mpii": 25_939_664, "in-motion": 26_011_743}  # seed 002 Tables B.1 and C.1

_VGG = ((64, 64), (128, 128), (256, 256, 256, 256), (512, 512))  # VGG-19 to conv4_2 (pool after the first three)


@register(build="infantjax.models.pose.openpose:OpenPose", sample_input=lambda spec: (1, 32, 32, 3))
@dataclasses.dataclass(frozen=True)
class OpenPoseSpec(JsonConfig):
    """Configuration of the OpenPose ConvNet.

    Arguments:
        num_keypoints: K heatmaps.
        num_pafs: P PAF channels (2 per limb).
        resolution: input size (368); a multiple of 8.
        paf_passes, heatmap_passes: 4 and 2 (Paper I Fig. 1).
        blocks: dense blocks per pass (5).
        upscale: append the three fixed bilinear transposed convolutions (Paper II §2.3).
        dtype: compute dtype: ``"auto"`` (default: the backend policy's, float32 on CPU and bfloat16 on accelerators,
            :func:`infantjax.nn.precision.resolve`), ``"float32"``, ``"bfloat16"`` or ``"float16"``; parameters stay float32.
    """

    num_keypoints: int = 16
    num_pafs: int = 28
    resolution: int = 368
    paf_passes: int = 4
    heatmap_passes: int = 2
    blocks: int = 5
    upscale: bool = True
    dtype: str = "auto"

    def __post_init__(self):
        object.__setattr__(self, "dtype", dtype_name(self.dtype, "OpenPoseSpec.dtype"))
        if int(self.resolution) % 8 != 0 or int(self.resolution) < 16:
            raise ConfigError(f"OpenPose resolution must be a multiple of 8, got {self.resolution}")
        if self.paf_passes < 1 or self.heatmap_passes < 1 or self.blocks < 1:
            raise ConfigError("OpenPose needs at least one PAF pass, one heatmap pass and one block per pass")
class _PReLU(nn.Module):
    """Channel-wise PReLU (Caffe initialises the slopes at 0.25)."""

    @nn.compact
    def __call__(self, x):
        alpha = self.param("alpha", nn.initializers.constant(0.25), (x.shape[-1],))
        return jnp.where(x >= 0, x, alpha.astype(x.dtype) * x)


def _conv(x, features, k, name, dtype: Any, act=True):
    x = nn.Conv(features, (k, k), padding="SAME", dtype=dtype, name=name)(x)
    return _PReLU(name=f"{name}_prelu")(x) if act else x


def _pass(x, *, name: str, width: int, mid: int, out: int, blocks: int, dtype: Any):
    for b in range(blocks):
        c1 = _conv(x, width, 3, f"{name}_block{b + 1}_conv1", dtype)
        c2 = _conv(c1, width, 3, f"{name}_block{b + 1}_conv2", dtype)
        c3 = _conv(c2, width, 3, f"{name}_block{b + 1}_conv3", dtype)
        x = jnp.concatenate([c1, c2, c3], axis=-1)
    x = _conv(x, mid, 1, f"{name}_conv6", dtype)
    return nn.Conv(out, (1, 1), dtype=dtype, name=f"{name}_out")(x)


class OpenPose(nn.Module):
    """OpenPose ConvNet. Input (N, R, R, 3); output dict of float32 ``paf1``..``pafP`` and ``hm1``..``hmH`` at R/8
    and, with ``upscale``, ``heatmaps`` (N, R, R, K) (else ``heatmaps`` is the last R/8 heatmap pass)."""

    spec: OpenPoseSpec

    @nn.compact
    def __call__(self, x: Float[Array, "N H W 3"], train: bool = False) -> dict[str, Array]:
        spec = self.spec
        dt = resolve(spec.dtype)
        h = jnp.asarray(x, dt)
        for si, stage in enumerate(_VGG):
            for ci, f in enumerate(stage):
                h = nn.relu(nn.Conv(f, (3, 3), padding="SAME", dtype=dt, name=f"conv{si + 1}_{ci + 1}")(h))
            if si < 3:
                h = nn.max_pool(h, (2, 2), strides=(2, 2), padding="SAME")
        h = _conv(h, 256, 3, "conv4_3_CPM", dt)
        feats = _conv(h, 128, 3, "conv4_4_CPM", dt)
        out: dict[str, Array] = {}
        paf = None
        for p in range(spec.paf_passes):
            inp = feats if paf is None else jnp.concatenate([feats, paf], axis=-1)
            paf = _pass(inp, name=f"paf{p + 1}", width=96 if p == 0 else 128, mid=256 if p == 0 else 512,
                        out=spec.num_pafs, blocks=spec.blocks, dtype=dt)
            out[f"paf{p + 1}"] = paf
        hm = None
        for q in range(spec.heatmap_passes):
            inp = jnp.concatenate([feats, paf] if hm is None else [feats, hm, paf], axis=-1)
            hm = _pass(inp, name=f"heatmap{q + 1}", width=96 if q == 0 else 128, mid=256 if q == 0 else 512,
                       out=spec.num_keypoints, blocks=spec.blocks, dtype=dt)
            out[f"hm{q + 1}"] = hm
        if spec.upscale:
            up = hm
            for name in ("upscaled_deconv1", "upscaled_deconv2", "upscaled_confs"):
                up = BilinearUpscale(spec.num_keypoints, name=name)(up)
            out["heatmaps"] = up
        else:
            out["heatmaps"] = hm
        return {k: v.astype(jnp.float32) for k, v in out.items()}
