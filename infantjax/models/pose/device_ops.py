"""EfficientPose preprocessing and decoding as jit-able array functions, for whole batches of video frames.

:mod:`infantjax.preprocess.image` and :mod:`infantjax.models.pose.decode` reproduce the official code
bit for bit with float64 SciPy on the host, one image at a time (≈ 30 ms and ≈ 13 ms per 640×480 frame on one
core here). For videos the same operations run inside the jitted forward, batched, in float32:

* the scikit-image rescale (Gaussian anti-aliasing, then bilinear ``zoom``, both with 'mirror' boundaries) is a
  linear map along each image axis; :func:`resize_operator` builds it once per frame size by applying the SciPy
  functions themselves to the identity, and keeps it as a band (first row, taps), applied as small matrix
  products over contiguous windows of rows;
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

__all__ = [
    "SUBPIXEL_RADIUS",
    "Band",
    "FrameGeometry",
    "decode_peaks",
    "decode_subpixel",
    "frame_geometry",
    "preprocess_frames",
    "resize_operator",
]


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


@functools.lru_cache(maxsize=64)
def _band_blocks(n_in: int, n_out: int, block: int) -> tuple[tuple[int, int, np.ndarray], ...]:
    """``(lo, hi, weights)`` per block of ``block`` output rows of :func:`resize_operator` ``(n_in, n_out)``: the
    rows read one contiguous window ``[lo, hi)`` of the input, and ``weights`` is their (block, hi − lo) slice of
    the band matrix."""
    band = resize_operator(n_in, n_out)
    taps = band.weights.shape[1]
    blocks = []
    for i0 in range(0, n_out, block):
        i1 = min(i0 + block, n_out)
        lo = int(band.start[i0:i1].min())
        hi = int((band.start[i0:i1] + taps).max())
        w = np.zeros((i1 - i0, hi - lo), np.float32)
        for i in range(i0, i1):
            s0 = int(band.start[i]) - lo
            w[i - i0, s0:s0 + taps] = band.weights[i]
        blocks.append((lo, hi, w))
    return tuple(blocks)


def _resize_rows(x, n_out: int, block: int = 16):
    """Rescale axis 0 of ``x`` (any trailing shape) to ``n_out`` rows: one small matrix product per block of
    ``block`` output rows with its contiguous window of input rows (no gather, no transpose: XLA:CPU's gathers
    were 50× slower than these products, and products over a middle axis cost a transpose of every window)."""
    rest = x.shape[1:]
    x2 = x.reshape(x.shape[0], -1)
    outs = [jnp.dot(jnp.asarray(w), x2[lo:hi]) for lo, hi, w in _band_blocks(x.shape[0], n_out, block)]
    return jnp.concatenate(outs, axis=0).reshape(n_out, *rest)


def preprocess_frames(frames: UInt8[Array, "N H W 3"], geometry: FrameGeometry,
                      mode: str = "torch") -> Float[Array, "N R R 3"]:
    """The official network input of a batch of uint8 RGB frames (jit-able; float32, see the module docstring)."""
    if frames.shape[1:] != (geometry.height, geometry.width, 3):
        raise ConfigError(f"frames of shape {tuple(frames.shape)} do not match the geometry "
                          f"{geometry.height}x{geometry.width}")
    oh, ow = geometry.out_hw
    # frame by frame with the rows leading: rows (H, W·3) -> (oh, W·3), then the small (W, oh, 3) transpose and
    # the columns the same way (1.1 vs 1.7 ms/frame for batched products over the middle axes, 640x480 -> RT)
    outs = []
    for j in range(frames.shape[0]):
        y = _resize_rows(frames[j].astype(jnp.float32), oh)  # grey levels: exact integers in float32
        z = _resize_rows(jnp.transpose(y, (1, 0, 2)), ow)  # (ow, oh, 3)
        outs.append(jnp.transpose(z, (1, 0, 2)))
    y = jnp.stack(outs)
    lo = frames.min(axis=(1, 2, 3), keepdims=True).astype(jnp.float32)  # skimage clips to the input's range
    hi = frames.max(axis=(1, 2, 3), keepdims=True).astype(jnp.float32)
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


def _reflected(h, d: int, axis: int):
    """``h`` shifted by ``d`` along ``axis`` with SciPy 'reflect' boundaries (edge sample repeated), as slices
    and flips that XLA fuses into the consumer (a padded copy shared by all taps was written to memory)."""
    n = h.shape[axis]

    def part(a, b):
        return jax.lax.slice_in_dim(h, a, b, axis=axis)

    if d < 0:
        return jnp.concatenate([jnp.flip(part(0, -d), axis), part(0, n + d)], axis=axis)
    if d > 0:
        return jnp.concatenate([part(d, n), jnp.flip(part(n - d, n), axis)], axis=axis)
    return h


def _blur_axis(h, axis: int, taps: np.ndarray):
    radius = len(taps) // 2
    if h.shape[axis] <= radius:  # a reflection longer than the axis: numpy's repeated 'symmetric' pad
        pad = [(0, 0)] * h.ndim
        pad[axis] = (radius, radius)
        hp = jnp.pad(h, pad, mode="symmetric")
        terms = (jax.lax.slice_in_dim(hp, i, i + h.shape[axis], axis=axis) for i in range(len(taps)))
    else:
        terms = (_reflected(h, i - radius, axis) for i in range(len(taps)))
    out = None
    for term, w in zip(terms, taps):
        term = term * np.float32(w)
        out = term if out is None else out + term
    return out


def _first_maximum(h: Float[Array, "N R C K"]) -> tuple[Int[Array, "N K"], Int[Array, "N K"], Float[Array, "N K"]]:
    """Row, column and value of the first maximum of every (N, K) map in row-major order.

    One pass over the maps (the row maxima); the first row holding the peak and the first column within that
    row then come from (N, R, K) and (N, C, K) arrays — the same pixel as a flat first ``argmax``, whose
    variadic reduction is slow on XLA:CPU.
    """
    _, r, c, _ = h.shape
    row_max = h.max(axis=2)  # (N, R, K)
    peak = row_max.max(axis=1)  # (N, K)
    row = jnp.min(jnp.where(row_max == peak[:, None, :], jnp.arange(r, dtype=jnp.int32)[None, :, None], r), axis=1)
    line = jnp.take_along_axis(h, jnp.minimum(row, r - 1)[:, None, None, :], axis=1)[:, 0]  # (N, C, K)
    col = jnp.min(jnp.where(line == peak[:, None, :], jnp.arange(c, dtype=jnp.int32)[None, :, None], c), axis=1)
    return row, col, peak


def decode_peaks(heatmaps: Float[Array, "N R R K"], real_time: bool = False
                 ) -> tuple[Int[Array, "N K 2"], Float[Array, "N K"], Float[Array, "N K"]]:
    """Peak pixels of every heatmap channel (jit-able).

    Returns:
        (row, col) of the first maximum of each channel — after the σ = 1 Gaussian blur offline, of the raw
        heatmap in real time —, the value there (blurred offline), and the raw peak value (the confidence).
    """
    h = heatmaps
    if not real_time:
        taps = _gaussian_taps()
        h = _blur_axis(_blur_axis(h, 1, taps), 2, taps)
    row, col, peak = _first_maximum(h)
    raw_peak = peak if real_time else heatmaps.max(axis=(1, 2))
    return jnp.stack([row, col], axis=-1), peak, raw_peak


#: half-width (in pixels of the upscaled R × R heatmap) of the window :func:`decode_subpixel` averages over
SUBPIXEL_RADIUS = 8


def decode_subpixel(h: Float[Array, "N R C K"], radius: int = SUBPIXEL_RADIUS, floor: float = 0.4,
                    ) -> tuple[Float[Array, "N K 2"], Float[Array, "N K"]]:
    """Sub-pixel keypoints of upscaled heatmaps: the first maximum of each map, refined to the centroid of the
    map within ``radius`` pixels of it, weighted by how far each value rises above ``floor`` × the peak (so the
    tails of a neighbouring peak and the background do not pull it).

    Returns:
        keypoints (N, K, 2) x, y as fractions of the map's width and height (pixel centres at (col + 0.5) / C,
        as the official decoding), and the peak values (N, K).

    Dense masks and sums only (no gathers, which XLA:CPU runs slowly): jit-able on any backend.
    """
    _, r, c, _ = h.shape
    row, col, peak = _first_maximum(h)
    rows = jnp.arange(r, dtype=jnp.int32)[None, :, None]
    cols = jnp.arange(c, dtype=jnp.int32)[None, :, None]
    in_rows = (jnp.abs(rows - row[:, None, :]) <= radius).astype(h.dtype)  # (N, R, K)
    in_cols = (jnp.abs(cols - col[:, None, :]) <= radius).astype(h.dtype)  # (N, C, K)
    w = jnp.maximum(h - floor * peak[:, None, None, :], 0.0) * in_rows[:, :, None, :] * in_cols[:, None, :, :]
    total = jnp.maximum(w.sum(axis=(1, 2)), 1e-12)  # (N, K)
    y = (w.sum(axis=2) * (rows + 0.5)).sum(axis=1) / total
    x = (w.sum(axis=1) * (cols + 0.5)).sum(axis=1) / total
    # a flat peak (every weight zero) keeps the maximum's pixel
    flat = w.sum(axis=(1, 2)) <= 1e-12
    x = jnp.where(flat, col + 0.5, x)
    y = jnp.where(flat, row + 0.5, y)
    return jnp.stack([x / c, y / r], axis=-1), peak
