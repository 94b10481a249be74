"""3D convolution blocks over (time, height, width), channels-last (N, T, H, W, C).

* ``ConvBNReLU``: a 3D convolution (stride 1, "same" padding, bias) followed by BatchNorm and ReLU.
* ``AsymmetricConv3D``: the cascade of three asymmetric convolutions 1x3x1 -> 1x1x3 -> 3x1x1 of seed 004
  (Migliorelli et al. 2021, Fig. 3 and Table I), each with BN + ReLU, whose receptive field is that of one
  3x3x3 convolution with 3 C_in C + 6 C^2 + 3 C weights and biases instead of 27 C_in C + C.

**Axis convention.** Kernels are written (time, height, width), the order of Flax/Keras ``Conv3D`` channels-last
inputs (N, T, H, W, C): 1x3x1 spans height, 1x1x3 width and 3x1x1 time. BatchNorm uses the Keras convention
(momentum 0.99, epsilon 1e-3; ``infantjax.nn.norm``), since seed 004's authors used Keras-style code; the momentum
can be overridden (``bn_momentum``). ``dtype`` is the compute dtype; parameters stay float32.

**Computation (ours).** ``Conv3D`` holds the kernel of a 3D convolution, (kt, kh, kw, C_in, C_out) like
``flax.linen.Conv``, and computes it as one 2D convolution over the frames: the kt frames a kernel spans are
stacked along the channels (time padded "same" with zeros) and the kernel is reshaped to (kh, kw, kt C_in, C_out).
A kernel that is 1 along two of the three axes (the asymmetric cascade's) is instead a sum of k shifted products
(N·T·H·W, C) @ (C, F), without the stacked copy (0.4–0.9× the time at Table I's widths) — on a CPU; on a GPU
(``Policy.conv3d == "native one-axis"``) it is XLA's own 3D convolution, one cuDNN call instead of k GEMMs and their
sums (the asymmetric regression step compiled for an H100: 412 → 352 kernels, 97.7 → 53.3 GB of kernel traffic,
55.1 → 32.2 ms by the GPU cost model as refitted on the H200 runs, estimates; the full 3×3×3 kernels keep the
frame stacking, 20.6 ms; docs/performance.md, "The depth finding"). The result is the same 3D convolution (to float
rounding; ``tests/test_depth_models.py`` compares it with ``jax.lax`` 3D convolution), but XLA's CPU backend runs
2D convolutions about 7 times faster than 3D ones (fused forward + backward of a 3x3x3 layer, 8 clips of
3x32x48x8: 0.014 s vs 0.099 s of CPU).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from infantjax.backend import current
from infantjax.nn.norm import CONVENTIONS, batch_norm

__all__ = ["ASYMMETRIC_KERNELS", "BN_MOMENTUM", "AsymmetricConv3D", "Conv3D", "ConvBNReLU", "conv3d_as_2d"]

# (time, height, width) kernels of the cascade, in seed 004 Table I's order
ASYMMETRIC_KERNELS = ((1, 3, 1), (1, 1, 3), (3, 1, 1))
BN_MOMENTUM = CONVENTIONS["keras"].momentum  # the default ``bn_momentum`` of the depth networks (0.99)


def conv3d_as_2d(x: Float[Array, "N T H W C"], kernel: Float[Array, "kt kh kw C F"]) -> Float[Array, "N T H W F"]:
    """3D convolution (stride 1, "same" zero padding) of channels-last clips, computed as one 2D convolution.

    The kt frames around each output frame are stacked along the channels and the kernel is reshaped to
    (kh, kw, kt C, F): the same sums as ``jax.lax.conv_general_dilated`` in 3D, in an order XLA runs faster on CPU.
    """
    n, t, h, w, c = x.shape
    kt, kh, kw = kernel.shape[:3]
    axes = [a for a, k in enumerate((kt, kh, kw), start=1) if k > 1]
    if len(axes) == 1 and current().conv3d == "native one-axis":  # GPUs: XLA's (cuDNN's) 3D convolution
        return jax.lax.conv_general_dilated(x, kernel, (1, 1, 1), "SAME",
                                            dimension_numbers=("NTHWC", "THWIO", "NTHWC"))
    if len(axes) == 1:  # a 1-D kernel (the asymmetric cascade's): a sum of shifted products, no stacked copy
        return _one_axis_conv(x, kernel, axes[0])
    if kt > 1:
        lo = (kt - 1) // 2  # XLA's "SAME": the extra padding goes to the end
        xp = jnp.pad(x, ((0, 0), (lo, kt - 1 - lo), (0, 0), (0, 0), (0, 0)))
        x = jnp.concatenate([xp[:, d:d + t] for d in range(kt)], axis=-1)
    k2 = jnp.transpose(kernel, (1, 2, 0, 3, 4)).reshape(kh, kw, kt * c, kernel.shape[-1])
    y = jax.lax.conv_general_dilated(x.reshape(n * t, h, w, kt * c), k2, (1, 1), "SAME",
                                     dimension_numbers=("NHWC", "HWIO", "NHWC"))
    return y.reshape(n, t, h, w, kernel.shape[-1])


def _one_axis_conv(x, kernel, axis: int):
    """``conv3d_as_2d`` for a kernel that is 1 along every axis but ``axis`` (1, 2 or 3): the k taps as k matmuls of
    shifted slices, (N·T·H·W, C) @ (C, F), summed. Forward + backward of the 3×1×1 time kernel at Table I's widths
    (3 × 48 × 64, AVX-512 CPU) took 0.27–0.54× the frame-stacking form's time (benchmarks/depth.py --layers)."""
    k, c, f = kernel.shape[axis - 1], kernel.shape[-2], kernel.shape[-1]
    lo = (k - 1) // 2  # XLA's "SAME": the extra padding goes to the end
    pad = [(0, 0)] * x.ndim
    pad[axis] = (lo, k - 1 - lo)
    xp = jnp.pad(x, pad)
    taps = kernel.reshape(k, c, f)
    y = None
    for d in range(k):
        part = jax.lax.slice_in_dim(xp, d, d + x.shape[axis], axis=axis)
        term = (part.reshape(-1, c) @ taps[d]).reshape(*x.shape[:-1], f)
        y = term if y is None else y + term
    return y


class Conv3D(nn.Module):
    """A 3D convolution over (time, height, width), stride 1, "same" padding, with bias — the parameters of
    ``flax.linen.Conv`` (``kernel`` (kt, kh, kw, C_in, C_out) with LeCun-normal init, ``bias`` zeros), computed
    with ``conv3d_as_2d``.

    Arguments:
        features: output channels.
        kernel_size: (time, height, width).
        use_bias: add a bias.
        kernel_init: kernel initialiser; None = LeCun normal (Flax's default).
        bias_init: bias initialiser; None = zeros.
        dtype: compute dtype (parameters are float32).
    """

    features: int
    kernel_size: tuple[int, int, int] = (3, 3, 3)
    use_bias: bool = True
    kernel_init: Callable | None = None
    bias_init: Callable | None = None
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: Float[Array, "N T H W C"]) -> Float[Array, "N T H W F"]:
        init = self.kernel_init or nn.initializers.lecun_normal()
        kernel = self.param("kernel", init, (*self.kernel_size, x.shape[-1], self.features), jnp.float32)
        x = jnp.asarray(x, self.dtype)
        y = conv3d_as_2d(x, kernel.astype(x.dtype))
        if self.use_bias:
            y = y + self.param("bias", self.bias_init or nn.initializers.zeros, (self.features,), jnp.float32).astype(x.dtype)
        return y


class ConvBNReLU(nn.Module):
    """3D convolution (stride 1, same padding, bias) followed by BatchNorm and ReLU.

    Arguments:
        features: output channels.
        kernel: (time, height, width) kernel size.
        bn_relu: apply BatchNorm and ReLU after the convolution (seed 004: after every convolution).
        bn_momentum: decay of the BatchNorm running averages (Keras default 0.99).
        kernel_init: initialiser of the convolution kernel; None = Flax's default (LeCun normal).
        dtype: compute dtype (parameters are float32).
    """

    features: int
    kernel: tuple[int, int, int] = (3, 3, 3)
    bn_relu: bool = True
    bn_momentum: float = BN_MOMENTUM
    kernel_init: Callable | None = None
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: Float[Array, "N T H W C"], train: bool = False) -> Float[Array, "N T H W F"]:
        x = Conv3D(self.features, tuple(self.kernel), True, self.kernel_init, dtype=self.dtype, name="conv")(x)
        if not self.bn_relu:
            return x
        x = batch_norm(train, "bn", convention="keras", momentum=self.bn_momentum, dtype=self.dtype)(x)
        return nn.relu(x)


class AsymmetricConv3D(nn.Module):
    """Three cascaded asymmetric 3D convolutions 1x3x1 -> 1x1x3 -> 3x1x1 (time, height, width), each with BN +
    ReLU: the receptive field of one 3x3x3 convolution (seed 004, Fig. 3).

    Arguments:
        features: output channels of each of the three convolutions.
        bn_momentum: BatchNorm running-average decay.
        dtype: compute dtype (parameters are float32).
    """

    features: int
    bn_momentum: float = BN_MOMENTUM
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: Float[Array, "N T H W C"], train: bool = False) -> Float[Array, "N T H W F"]:
        for i, kernel in enumerate(ASYMMETRIC_KERNELS):
            x = ConvBNReLU(self.features, kernel, bn_momentum=self.bn_momentum, dtype=self.dtype,
                           name=f"conv{i}")(x, train)
        return x
