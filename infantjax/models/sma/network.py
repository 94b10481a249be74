"""The CNN regressor of seed 000 (Soran, Lowes, Steele: SMA type-I from Kinect limb tracks), Table 1 exactly.

Input: a 30-s window of the four limb tracks, (N, 900, 4, 3) channels-last (time, limb, x/y/z), which the network
reads as the paper's 1 × 12 × 900 image: row ``3·limb + axis`` (each three consecutive rows are one limb's x, y, z,
Fig. 2), column = frame. Then

    conv 48 3×3 stride 3 → ReLU → max-pool 1×3 stride 1×2 → conv 128 3×3 pad 1 → ReLU → max-pool →
    conv 256 1×7 → ReLU → max-pool → FC 1024 → ReLU → dropout → FC 1

with Caffe's ceil-mode pooling, which gives every top shape of Table 1: 48×4×300, 48×4×150, 128×4×150, 128×4×75,
256×4×69, 256×4×34 (:func:`top_shapes`), and 35,939,169 parameters (:data:`PARAMETERS`; our arithmetic from
Table 1: convs 480 + 55,424 + 229,632, FC 35,652,608 + 1,025; the paper states no count).

Ours, not the paper's: the initialisation ("randomly as suggested by [11]" and "a constant bias": we use Caffe's
``xavier`` filler, uniform with variance 1/fan-in, and bias 0), the dropout rate (0.5, Caffe's default), and the
channels-last flatten order before the first FC layer (Caffe flattens C×H×W; the order changes no count or result
distribution). Widths are spec fields so tests can train a narrow copy with the same geometry.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import flax.linen as nn
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from infantjax._jsonconfig import JsonConfig, check_positive_ints
from infantjax.errors import ConfigError
from infantjax.models._registry import register
from infantjax.nn.precision import dtype_name, resolve

__all__ = ["LIMBS", "PARAMETERS", "TOP_SHAPES", "SMANet", "SMASpec", "ceil_pool_padding", "fc_kernels",
           "init_variables", "top_shapes"]

LIMBS = 4  # left hand, left foot, right hand, right foot (seed 000 §4.1; infantjax.synth.kinect_tracks)
PARAMETERS = 35_939_169  # Table 1 of seed 000, counted by us (the paper gives no count)
# Table 1's top shapes (channels × height × width) after layers 1, 3, 4, 6, 7 and 9
TOP_SHAPES = ((48, 4, 300), (48, 4, 150), (128, 4, 150), (128, 4, 75), (256, 4, 69), (256, 4, 34))

xavier = nn.initializers.variance_scaling(1.0, "fan_in", "uniform")  # Caffe's "xavier" filler (ours: [11] unnamed)


def ceil_pool_padding(length: int, window: int, stride: int) -> int:
    """Right padding (with −inf) that makes a VALID max-pool give Caffe's ceil-mode output length
    ``ceil((length − window) / stride) + 1`` (Caffe pools without padding never start a window past the input)."""
    out = -(-(length - window) // stride) + 1
    return max(0, (out - 1) * stride + window - length)


def _max_pool(h, window: int, stride: int):
    """Max-pool 1×window stride 1×stride over the width (axis 2) of (N, H, W, C), in Caffe's ceil mode.

    Written as the maximum of ``window`` strided slices of the −inf-padded input: the same values as
    ``nn.max_pool``, but its gradient is a few elementwise selects instead of XLA's select-and-scatter, which is
    slow on CPU."""
    width = h.shape[2]
    pad = ceil_pool_padding(width, window, stride)
    out = (width + pad - window) // stride + 1
    h = jnp.pad(h, ((0, 0), (0, 0), (0, pad), (0, 0)), constant_values=-jnp.inf)
    return functools.reduce(jnp.maximum, [h[:, :, k:k + (out - 1) * stride + 1:stride] for k in range(window)])


class SMANet(nn.Module):
    """The Table 1 CNN (module docstring). Built from an :class:`SMASpec`."""

    spec: SMASpec

    @nn.compact
    def __call__(self, x: Float[Array, "N T J C"], train: bool = False, *, capture: bool = False):
        """CHOP INTEND extremity scores of limb-track windows.

        Arguments:
            x: (N, T, 4, 3) float windows (T = 900 frames; time, limb, x/y/z), standardised per recording.
            train: dropout on (needs the ``"dropout"`` rng).
            capture: also return the top of every layer of Table 1 (for the shape tests).

        Returns:
            (N,) float32 scores; with ``capture`` also a list of the six conv/pool tops in (N, H, W, C).
        """
        spec, dtype = self.spec, resolve(self.spec.dtype)
        n, t, j, c = x.shape
        # the paper's 12 × T image, channels-last: (N, 12, T, 1), row 3·limb + axis
        h = jnp.transpose(jnp.asarray(x, dtype), (0, 2, 3, 1)).reshape(n, j * c, t)[..., None]
        tops = []
        h = nn.relu(nn.Conv(spec.conv1, (3, 3), strides=(3, 3), padding="VALID", kernel_init=xavier,
                            dtype=dtype, name="conv1")(h))
        tops.append(h)
        h = _max_pool(h, spec.pool_window, spec.pool_stride)
        tops.append(h)
        h = nn.relu(nn.Conv(spec.conv2, (3, 3), padding=((1, 1), (1, 1)), kernel_init=xavier, dtype=dtype,
                            name="conv2")(h))
        tops.append(h)
        h = _max_pool(h, spec.pool_window, spec.pool_stride)
        tops.append(h)
        h = nn.relu(nn.Conv(spec.conv3, (1, 7), padding="VALID", kernel_init=xavier, dtype=dtype,
                            name="conv3")(h))
        tops.append(h)
        h = _max_pool(h, spec.pool_window, spec.pool_stride)
        tops.append(h)
        h = h.reshape(n, -1)
        h = nn.relu(nn.Dense(spec.fc, kernel_init=xavier, dtype=dtype, name="fc1")(h))
        h = nn.Dropout(spec.dropout, deterministic=not train)(h)
        score = nn.Dense(1, kernel_init=xavier, dtype=dtype, name="fc2")(h)[:, 0].astype(jnp.float32)
        return (score, tops) if capture else score


def _sample_input(spec: SMASpec) -> tuple[int, ...]:
    return (1, spec.window, LIMBS, 3)


@register(build=lambda spec: SMANet(spec), sample_input=_sample_input,
          init=lambda spec, key: init_variables(spec, key))
@dataclasses.dataclass(frozen=True)
class SMASpec(JsonConfig):
    """Configuration of the seed 000 CNN; the defaults are Table 1.

    Arguments:
        window: frames per window (900 = 30 s at 30 Hz).
        conv1, conv2, conv3: output channels of the three convolutions (48, 128, 256).
        fc: width of the first fully connected layer (1024).
        pool_window, pool_stride: the 1×3 stride 1×2 max-pools.
        dropout: rate of the dropout after FC 1024 (0.5; ours, Caffe's default — the paper gives none).
        dtype: compute dtype: ``"auto"`` (default: the backend policy's, float32 on CPU and bfloat16 on accelerators,
            :func:`infantjax.nn.precision.resolve`), ``"float32"``, ``"bfloat16"`` or ``"float16"``; parameters stay float32.
    """

    window: int = 900
    conv1: int = 48
    conv2: int = 128
    conv3: int = 256
    fc: int = 1024
    pool_window: int = 3
    pool_stride: int = 2
    dropout: float = 0.5
    dtype: str = "auto"

    def __post_init__(self):
        object.__setattr__(self, "dtype", dtype_name(self.dtype, "SMASpec.dtype"))
        check_positive_ints(self, ("window", "conv1", "conv2", "conv3", "fc", "pool_window", "pool_stride"), "SMASpec")
        if not 0.0 <= float(self.dropout) < 1.0:
            raise ConfigError(f"SMASpec.dropout must be in [0, 1), got {self.dropout!r}")
        if top_shapes(self)[-1][2] < 1:
            raise ConfigError(f"SMASpec.window {self.window} is too short for the three convolutions and pools "
                              "of Table 1; use at least 108 frames (900 in the paper)")

    @classmethod
    def narrow(cls, **overrides) -> SMASpec:
        """Table 1's geometry with narrow layers (8/16/16 channels, FC 32): for tests and quick CPU runs."""
        return cls(**{"conv1": 8, "conv2": 16, "conv3": 16, "fc": 32, **overrides})

    def build(self) -> SMANet:
        """The Flax module."""
        return SMANet(self)


def top_shapes(spec: SMASpec) -> tuple[tuple[int, int, int], ...]:
    """Table 1's top shapes (channels, height, width) after layers 1, 3, 4, 6, 7, 9 for ``spec``, by arithmetic.

    For the default spec this is :data:`TOP_SHAPES`."""
    height, width = (LIMBS * 3 - 3) // 3 + 1, (spec.window - 3) // 3 + 1

    def pool(w):
        return -(-(w - spec.pool_window) // spec.pool_stride) + 1 if w >= spec.pool_window else 0

    out = [(spec.conv1, height, width)]
    width = pool(width)
    out.append((spec.conv1, height, width))
    out.append((spec.conv2, height, width))
    width = pool(width)
    out.append((spec.conv2, height, width))
    width = width - 6
    out.append((spec.conv3, height, width))
    width = pool(width) if width > 0 else 0
    out.append((spec.conv3, height, width))
    return tuple(out)


def init_variables(spec: SMASpec, key: jax.Array) -> dict:
    """Variables of the network at step 0, as ``SMANet.init`` draws them (Caffe ``xavier`` kernels,
    U(±√(3/fan-in)), zero biases) but from one uniform draw split over the kernels: one random-bits program
    instead of one per layer, which keeps compilation short (XLA compiles each threefry draw separately).

    Arguments:
        spec: the network.
        key: PRNG key.

    Returns:
        ``{"params": ...}``.
    """
    model = spec.build()
    shapes = jax.eval_shape(model.init, jax.random.PRNGKey(0), jnp.zeros(_sample_input(spec), jnp.float32))
    kernels = [(name, layer["kernel"].shape) for name, layer in shapes["params"].items()]
    total = sum(math.prod(shape) for _, shape in kernels)
    bits = jax.random.uniform(key, (total,), jnp.float32, -1.0, 1.0)
    params, offset = {}, 0
    for name, shape in kernels:
        size = math.prod(shape)
        limit = math.sqrt(3.0 / math.prod(shape[:-1]))  # variance 1/fan-in (fan-in: every axis but the output)
        params[name] = {"kernel": bits[offset:offset + size].reshape(shape) * limit,
                        "bias": jnp.zeros(shapes["params"][name]["bias"].shape, jnp.float32)}
        offset += size
    return {"params": params}


def fc_kernels(params: dict) -> list[jax.Array]:
    """The weights the paper's increased weight decay acts on: the kernels of the two fully connected layers."""
    return [params[name]["kernel"] for name in ("fc1", "fc2")]
