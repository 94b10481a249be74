"""The regression CNNs of seed 004: ``AsymmetricRegression`` (Asy-regression, Table I) and ``FullRegression``.

Both refine the detection maps. Input: the depth clip stacked with the 20 detection maps, (N, T=3, H, W, 21),
channels-last with axes (time, height, width). Output: 20 refined maps per frame, (N, T, H, W, 20) (Table I,
"3x20"). Layers (seed 004, Table I; "BN and ReLU after each convolutional layer", Sec. II-B):

* four levels of 64, 128, 256, 256 channels. In ``AsymmetricRegression`` each level is three cascaded
  asymmetric convolutions with kernels 1x3x1, 1x1x3, 3x1x1; in ``FullRegression`` (the regression of Moccia et al.
  2020, the paper's comparison) each level is one 3x3x3 convolution;
* a 1x1x1 convolution of 256 channels;
* the 1x1x1 output convolution of 20 maps.

**Axis convention.** Kernels are written (time, height, width), the order of Table I's "3x64" channel notation
(frames first) and of Keras/Flax ``Conv3D`` channels-last inputs (N, T, H, W, C). So 1x3x1 spans height, 1x1x3
width and 3x1x1 time: the cascade first mixes rows, then columns, then the three frames, and its receptive field
is the full 3x3x3 block (Fig. 3) — ``tests/test_depth_models.py`` checks this with input gradients.

All convolutions have stride 1, "same" padding (the three frames and the 128x96 size are kept) and a bias (Keras
default; the parameter arithmetic of other_seeds_reference §2 counts it). BatchNorm uses the Keras convention
(momentum 0.99, epsilon 1e-3; ``infantjax.nn.norm``), since the authors' code is Keras-style. ``dtype`` is the
compute dtype (parameters float32; the refined maps come back float32).

**Output layer.** Read literally, "BN and ReLU after each convolutional layer" puts BN + ReLU after the output
convolution too (``output_bn_relu=True``, the paper-literal mode, 40 more parameters). In our runs that output
collapses: the ReLU after a batch-normalised output makes about half the background pixels positive at the
start, and pushing them to zero kills the ReLU for good (the loss freezes at the all-zero value, see
docs/depth.md). The default is therefore a linear 1x1x1 output (``output_bn_relu=False``).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

import flax.linen as nn
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from infantjax._jsonconfig import JsonConfig
from infantjax.errors import ConfigError
from infantjax.models._registry import register
from infantjax.models.depth.init import init_network
from infantjax.nn.conv3d import ASYMMETRIC_KERNELS, BN_MOMENTUM, AsymmetricConv3D, ConvBNReLU
from infantjax.nn.precision import dtype_name, resolve

__all__ = [
    "ASYMMETRIC_KERNELS",
    "AsymmetricConv3D",
    "AsymmetricRegression",
    "ConvBNReLU",
    "FullRegression",
    "RegressionSpec",
]

class _Regression(nn.Module):
    """A regression CNN of ``spec`` (:class:`RegressionSpec`, the one declaration of its fields; build it with
    ``spec.build()`` or ``infantjax.models.build(spec)``)."""

    spec: RegressionSpec

    def level(self, features: int, name: str, dtype: Any) -> nn.Module:
        raise NotImplementedError

    @nn.compact
    def __call__(self, x: Float[Array, "N T H W 21"], train: bool = False) -> Float[Array, "N T H W 20"]:
        """Refined maps (N, T, H, W, num_maps) from the clip stacked with the detection maps (N, T, H, W, C).

        Arguments:
            x: float input, channels-last (time, height, width).
            train: use batch statistics and update the running averages (call with ``mutable=["batch_stats"]``).

        Returns:
            float32 maps, whatever ``dtype``.
        """
        spec = self.spec
        maps = x[..., x.shape[-1] - spec.num_maps:]  # the detection maps stacked after the depth
        dtype = resolve(spec.dtype)  # "auto": the backend policy's compute dtype
        x = jnp.asarray(x, dtype)
        for i, width in enumerate(spec.widths):
            x = self.level(width, f"layer{i + 1}", dtype)(x, train)
        x = ConvBNReLU(spec.head_width, (1, 1, 1), bn_momentum=spec.bn_momentum, dtype=dtype,
                       name=f"layer{len(spec.widths) + 1}")(x, train)
        zeros = spec.output_init == "zeros" or (spec.output_init == "auto" and not spec.output_bn_relu)
        init = nn.initializers.zeros if zeros else None
        out = ConvBNReLU(spec.num_maps, (1, 1, 1), bn_relu=spec.output_bn_relu, bn_momentum=spec.bn_momentum,
                         kernel_init=init, dtype=dtype, name="output")(x, train).astype(jnp.float32)
        return out + maps if spec.residual else out


class AsymmetricRegression(_Regression):
    """Asy-regression (seed 004, Table I): four levels of cascaded 1x3x1, 1x1x3, 3x1x1 convolutions."""

    def level(self, features: int, name: str, dtype: Any) -> nn.Module:
        return AsymmetricConv3D(features, self.spec.bn_momentum, dtype, name=name)


class FullRegression(_Regression):
    """The regression of Moccia et al. 2020 as compared in seed 004: the same layers with 3x3x3 convolutions."""

    def level(self, features: int, name: str, dtype: Any) -> nn.Module:
        return ConvBNReLU(features, (3, 3, 3), bn_momentum=self.spec.bn_momentum, dtype=dtype, name=name)


# the depth frame stacked with the detection maps: (1, T=3, H, W, 1 + num_maps); counts do not depend on H, W
@register(build=lambda spec: spec.build(), sample_input=lambda spec: (1, 3, 8, 8, 1 + spec.num_maps))
@dataclasses.dataclass(frozen=True)
class RegressionSpec(JsonConfig):
    """Configuration of a regression CNN (JSON round trip with ``to_json``/``from_json``).

    Arguments:
        kind: ``"asymmetric"`` (Asy-regression) or ``"full"`` (3x3x3).
        widths: channels of the four convolution levels (64, 128, 256, 256 in Table I).
        head_width: channels of the 1x1x1 layer (256).
        num_maps: output maps per frame (12 joints + 8 connections).
        output_bn_relu: BN + ReLU after the output convolution too (the paper-literal reading of "after each
            convolutional layer"); default False, a linear output (see the module docstring).
        bn_momentum: BatchNorm running-average decay (Keras' 0.99; lower it for runs of a few hundred steps,
            or the running statistics used at inference are still near their initial values).
        dtype: compute dtype: ``"auto"`` (default: the backend policy's, float32 on CPU and bfloat16 on accelerators,
            :func:`infantjax.nn.precision.resolve`), ``"float32"``, ``"bfloat16"`` or ``"float16"``; parameters stay float32.
    """

    kind: Literal["asymmetric", "full"] = "asymmetric"
    widths: tuple[int, ...] = (64, 128, 256, 256)
    head_width: int = 256
    num_maps: int = 20
    output_bn_relu: bool = False
    bn_momentum: float = BN_MOMENTUM
    output_init: Literal["auto", "zeros", "lecun"] = "auto"
    residual: bool = False
    dtype: str = "auto"

    def __post_init__(self):
        object.__setattr__(self, "dtype", dtype_name(self.dtype, "RegressionSpec.dtype"))
        if self.kind not in ("asymmetric", "full"):
            raise ConfigError(f"RegressionSpec.kind {self.kind!r} is unknown; use 'asymmetric' or 'full'")
        object.__setattr__(self, "widths", tuple(int(w) for w in self.widths))
        if not self.widths or any(w < 1 for w in self.widths) or self.head_width < 1 or self.num_maps < 1:
            raise ConfigError(f"RegressionSpec widths must be positive integers, got widths={self.widths}, "
                              f"head_width={self.head_width}, num_maps={self.num_maps}")
        if not 0 <= self.bn_momentum < 1:
            raise ConfigError(f"RegressionSpec.bn_momentum must be in [0, 1), got {self.bn_momentum}")
        if self.output_init not in ("auto", "zeros", "lecun"):
            raise ConfigError(f"RegressionSpec.output_init {self.output_init!r} is unknown; use 'auto', 'zeros' or "
                              "'lecun'")

    def build(self) -> _Regression:
        """The network (also ``infantjax.models.build(spec)``)."""
        return (AsymmetricRegression if self.kind == "asymmetric" else FullRegression)(self)


def init_regression(spec: RegressionSpec, rng: jax.Array, input_shape: tuple[int, ...]) -> dict:
    """Variables ``{"params", "batch_stats"}`` of a regression CNN for inputs of ``input_shape`` (N, T, H, W, C)."""
    return init_network(spec.build(), rng, input_shape)
