"""EfficientPose preprocessing and decoding as jit-able array functions, for whole batches of video frames.

:mod:`infantjax.preprocess.image` and :mod:`infantjax.models.pose.decode` reproduce the official code
bit for bit with float64 SciPy on the host, one image at a time (≈ 30 ms and ≈ 13 ms per 640×480 frame on one
core here). For videos the same operations run inside the jitted forward, batched, in float32:

* the scikit-image rescale (Gaussian anti-aliasing, then bilinear ``zoom``, both with 'mirror' boundaries) is a
  linear map along each image axis; :func:`resize_operator` builds it once per frame size by applying the SciPy
  functions themselves to the identity, and keeps it as a band (first row, taps) so that applying it is a
  gather and a weighted sum;
* the uint8 truncation and 'torch'/'tf' normalisation follow (README §1), computed in pixel units so that the
  truncation sees the same values as the reference up to float32 rounding;
* offline decoding blurs every heatmap with the σ = 1 Gaussian ('reflect', truncate 4) as a separable 9-tap
  filter, then takes the first maximum; the real-time path takes the maximum of the raw heatmap.

What differs from the float64 host path: a value within float32 rounding (≈ 1e-4 of a grey level) of an integer
can truncate to the other grey level, and a blurred maximum tied to float32 rounding can pick the other pixel.
The tests hold this path to the official heatmaps (1e-4) and keypoints (exactly) on the official test image.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int, UInt8
from scipy import ndimage as ndi

from infantjax.errors import ConfigError
from infantjax.preprocess.image import TORCH_MEAN, TORCH_STD

__all__ = ["Band", "FrameGeometry", "decode_peaks", "frame_geometry", "preprocess_frames", "resize_operator"]


@dataclasses.dataclass(frozen=True)
class Band:
    """A banded linear map along one axis: ``out[i] = Σ_t weights[i, t] · x[start[i] + t]``."""

    start: np.ndarray  # (out,) int32
    weights: np.ndarray  # (out, taps) float32


def _band(dense: np.ndarray) -> Band:
    nz = np.abs(dense) > 0
    first = nz.argmax(axis=1)
    last = dense.shape[1] - 1 - nz[:, ::-1].argmax(axis=1)
    taps = int((last - first).max()) + 1
    start = np.minimum(first, dense.shape[1] - taps)
    idx = start[:, None] + np.arange(taps)[None, :]
    return Band(start.astype(np.int32), np.take_along_axis(dense, idx, axis=1).astype(np.float32))


@functools.lru_cache(maxsize=32)
def resize_operator(n_in: int, n_out: int) -> Band:
    """The rescale of one image axis of length ``n_in`` to ``n_out`` as a band (scikit-image ``rescale``
    semantics: Gaussian pre-filter σ = (n_in/n_out − 1)/2 when downscaling, 'mirror'; bilinear ``zoom`` with
    ``grid_mode=True``, 'mirror'), built by applying the SciPy functions to the identity."""
    eye = np.eye(n_in, dtype=np.float64)
    factor = n_in / n_out
    if factor > 1:
        eye = ndi.gaussian_filter1d(eye, (factor - 1.0) / 2.0, axis=0, mode="mirror", truncate=4.0)
    dense = ndi.zoom(eye, (n_out / n_in, 1.0), order=1, mode="mirror", grid_mode=True)
    if dense.shape[0] != n_out:
        raise ConfigError(f"cannot resize an axis of {n_in} to {n_out} pixels")
    return _band(dense.astype(np.float64))


@dataclasses.dataclass(frozen=True)
class FrameGeometry:
    """How frames of one size map onto the R × R network input (README §1)."""

    height: int
    width: int
    resolution: int
    out_hw: tuple[int, int]  # rescaled size
    offset: tuple[int, int]  # (top, left) zero padding


def frame_geometry(height: int, width: int, resolution: int) -> FrameGeometry:
    """The rescale size and padding of an H × W frame (longer side -> R, ``round``; padding floor/remainder)."""
    scale = resolution / width if width >= height else resolution / height
    oh = max(int(np.round(scale * height)), 1)
    ow = max(int(np.round(scale * width)), 1)
    return FrameGeometry(int(height), int(width), int(resolution), (oh, ow),
                         ((resolution - oh) // 2, (resolution - ow) // 2))


def _apply_band(x, band: Band, axis: int, block: int = 16):
    """Apply a band along ``axis`` as a few small matrix products over static input windows.

    Output rows are taken ``block`` at a time; each block reads one contiguous window of input rows (a static
    slice) and multiplies it by its (block, window) slice of the band matrix. No gather: XLA:CPU's gathers were
    50× slower than these products here.
    """
    n_out, taps = band.weights.shape
    outs = []
    for i0 in range(0, n_out, block):
        i1 = min(i0 + block, n_out)
        lo = int(band.start[i0:i1].min())
        hi = int((band.start[i0:i1] + taps).max())
        w = np.zeros((i1 - i0, hi - lo), np.float32)
        for i in range(i0, i1):
            s0 = int(band.start[i]) - lo
            w[i - i0, s0:s0 + taps] = band.weights[i]
        window = jax.lax.slice_in_dim(x, lo, hi, axis=axis)
        y = jnp.tensordot(window, jnp.asarray(w), axes=([axis], [1]))  # window axis -> last
        outs.append(jnp.moveaxis(y, -1, axis))
    return jnp.concatenate(outs, axis=axis)


def preprocess_frames(frames: UInt8[Array, "N H W 3"], geometry: FrameGeometry,
                      mode: str = "torch") -> Float[Array, "N R R 3"]:
    """The official network input of a batch of uint8 RGB frames (jit-able; float32, see the module docstring)."""
    if frames.shape[1:] != (geometry.height, geometry.width, 3):
        raise ConfigError(f"frames of shape {tuple(frames.shape)} do not match the geometry "
                          f"{geometry.height}x{geometry.width}")
    x = frames.astype(jnp.float32)  # grey levels: exact integers
    oh, ow = geometry.out_hw
    y = _apply_band(x, resize_operator(geometry.height, oh), axis=1)
    y = _apply_band(y, resize_operator(geometry.width, ow), axis=2)
    lo = x.min(axis=(1, 2, 3), keepdims=True)  # skimage clips to the input's range
    hi = x.max(axis=(1, 2, 3), keepdims=True)
    y = jnp.floor(jnp.clip(y, lo, hi))  # np.uint8(255 · x): truncation (reference quirk)
    r = geometry.resolution
    top, left = geometry.offset
    y = jnp.pad(y, ((0, 0), (top, r - oh - top), (left, r - ow - left), (0, 0)))
    if mode == "torch":
        return (y / 255.0 - jnp.asarray(TORCH_MEAN, jnp.float32)) / jnp.asarray(TORCH_STD, jnp.float32)
    if mode == "tf":
        return y / 127.5 - 1.0
    raise ConfigError(f"normalisation mode must be 'torch' or 'tf', got {mode!r}")


def _gaussian_taps(sigma: float = 1.0, truncate: float = 4.0) -> np.ndarray:
    radius = int(truncate * sigma + 0.5)
    t = np.arange(-radius, radius + 1, dtype=np.float64)
    w = np.exp(-0.5 * (t / sigma) ** 2)
    return w / w.sum()


def _blur_axis(h, axis: int, taps: np.ndarray):
    radius = len(taps) // 2
    pad = [(0, 0)] * h.ndim
    pad[axis] = (radius, radius)
    hp = jnp.pad(h, pad, mode="symmetric")  # scipy 'reflect' = numpy 'symmetric' (edge sample repeated)
    n = h.shape[axis]
    out = None
    for i, w in enumerate(taps):
        term = jax.lax.slice_in_dim(hp, i, i + n, axis=axis) * np.float32(w)
        out = term if out is None else out + term
    return out


def decode_peaks(heatmaps: Float[Array, "N R R K"], real_time: bool = False
                 ) -> tuple[Int[Array, "N K 2"], Float[Array, "N K"], Float[Array, "N K"]]:
    """Peak pixels of every heatmap channel (jit-able).

    Returns:
        (row, col) of the first maximum of each channel — after the σ = 1 Gaussian blur offline, of the raw
        heatmap in real time —, the value there (blurred offline), and the raw peak value (the confidence).
    """
    n, r, _, k = heatmaps.shape
    raw_peak = heatmaps.max(axis=(1, 2))
    h = heatmaps
    if not real_time:
        taps = _gaussian_taps()
        h = _blur_axis(_blur_axis(h, 1, taps), 2, taps)
    # first maximum in row-major order as two plain reductions (XLA:CPU's variadic argmax reduce is slow)
    peak = h.max(axis=(1, 2))  # (N, K)
    pos = jnp.arange(r * r, dtype=jnp.int32).reshape(1, r, r, 1)
    idx = jnp.min(jnp.where(h == peak[:, None, None, :], pos, r * r), axis=(1, 2))
    return jnp.stack([idx // r, idx % r], axis=-1), peak, raw_peak
