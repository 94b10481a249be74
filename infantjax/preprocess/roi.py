"""Regions of interest of the infant pose tracker: the square around the infant that its network sees instead of the
whole letterboxed frame.

:class:`SquareBox` is a square of a frame in whole pixels; :func:`letterbox_box` the square holding the whole frame
(the official letterbox); :func:`box_around` the square the tracker crops next from the keypoints it found (their
bounding box grown by a margin); :func:`crop_square` cuts a square out of frames and resizes it to the network's
input. Pure functions of arrays (no files).
"""

from __future__ import annotations

import threading

import numpy as np
from jaxtyping import UInt8

from infantjax.errors import ConfigError, DataError

__all__ = ["CROP_FRAMES_PER_THREAD", "CROP_THREADS", "MARGIN", "MIN_SIDE", "SquareBox", "box_around", "crop_square",
           "letterbox_box", "square"]


class SquareBox(tuple):
    """A square region of a frame in whole pixels: ``(x0, y0, side)``, its top-left corner (which may lie outside
    the frame) and its side. Pixel ``(row i, column j)`` of the frame covers ``[j, j + 1) × [i, i + 1)``, so a
    point at fraction ``f`` of the box lies at ``x0 + f · side`` (and likewise for y)."""

    __slots__ = ()

    def __new__(cls, x0: int, y0: int, side: int):
        if int(side) < 1:
            raise ConfigError(f"a region of interest needs a side of at least 1 pixel, got {side}")
        return super().__new__(cls, (int(x0), int(y0), int(side)))

    @property
    def x0(self) -> int:
        return self[0]

    @property
    def y0(self) -> int:
        return self[1]

    @property
    def side(self) -> int:
        return self[2]

    def to_pixels(self, xy_fraction: np.ndarray) -> np.ndarray:
        """Fractions (..., 2) of the box -> frame pixel coordinates (x, y), float64."""
        xy = np.asarray(xy_fraction, dtype=np.float64)
        return xy * float(self.side) + np.array([self.x0, self.y0], dtype=np.float64)

    def to_fraction(self, xy_pixels: np.ndarray) -> np.ndarray:
        """Frame pixel coordinates (..., 2) -> fractions of the box, float64."""
        xy = np.asarray(xy_pixels, dtype=np.float64)
        return (xy - np.array([self.x0, self.y0], dtype=np.float64)) / float(self.side)


def letterbox_box(height: int, width: int) -> SquareBox:
    """The square that holds the whole frame, centred (the letterbox of the official preprocessing: the shorter
    side padded by half the difference on each side, the odd pixel at the bottom or right)."""
    side = max(int(height), int(width))
    return SquareBox(-((side - int(width)) // 2), -((side - int(height)) // 2), side)


def crop_square(frames: UInt8[np.ndarray, "N H W 3"], box: SquareBox, resolution: int, *,
                threads: int | None = None) -> UInt8[np.ndarray, "N R R 3"]:
    """Cut the square ``box`` out of every frame (zeros where it leaves the frame) and resize it to
    ``resolution`` × ``resolution`` with Pillow's anti-aliased bilinear filter (its support widened by the
    reduction factor, so a large region is averaged rather than sampled).

    The region-of-interest input of the infant pose tracker (:meth:`PosePredictor.track` with ``roi``); a
    keypoint at fraction ``f`` of the output lies at ``box.to_pixels(f)`` in the frame. :func:`letterbox_box`
    gives the whole frame.

    ``threads``: how many host threads share the frames (Pillow resizes without holding Python's lock); default
    the process's cores (:func:`infantjax.backend.host_cores`), at most :data:`CROP_THREADS` and one per
    :data:`CROP_FRAMES_PER_THREAD` frames. Every frame is cut and resized alone, so the crops are the same bytes
    with any number of threads.
    """
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise DataError(f"frames must be (N, H, W, 3) uint8, got shape {frames.shape} and {frames.dtype}")
    n = frames.shape[0]
    r = int(resolution)
    out = np.empty((n, r, r, 3), np.uint8)
    if threads is None:
        from infantjax.backend import host_cores

        threads = min(host_cores(), CROP_THREADS)
    workers = max(1, min(int(threads), n // CROP_FRAMES_PER_THREAD))
    if workers == 1:
        _crop_into(out, frames, box, range(n))
        return out
    bounds = np.linspace(0, n, workers + 1).astype(int)
    futures = [_crop_pool().submit(_crop_into, out, frames, box, range(a, b)) for a, b in zip(bounds[:-1], bounds[1:])]
    for f in futures:
        f.result()
    return out


#: the most host threads :func:`crop_square` splits a batch over by default (the rest of the cores are the
#: network's and the video decoder's)
CROP_THREADS = 4
#: a thread of :func:`crop_square` gets at least this many frames (fewer are not worth a hand-over)
CROP_FRAMES_PER_THREAD = 4
_POOL = None
_POOL_LOCK = threading.Lock()


def _crop_pool():
    """The process's pool of crop threads, started on first use (daemon threads: they never keep a process alive)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            from concurrent.futures import ThreadPoolExecutor

            _POOL = ThreadPoolExecutor(CROP_THREADS, thread_name_prefix="infantjax-crop")
        return _POOL


def _crop_into(out: np.ndarray, frames: np.ndarray, box: SquareBox, indices: range) -> None:
    """:func:`crop_square` for ``frames[indices]``, written into ``out[indices]``."""
    from PIL import Image

    h, w = frames.shape[1:3]
    x0, y0, side = box
    r = out.shape[1]
    # the part of the box inside the frame, and where it lands in the box
    fx0, fy0, fx1, fy1 = max(x0, 0), max(y0, 0), min(x0 + side, w), min(y0 + side, h)
    inside = fx1 > fx0 and fy1 > fy0
    whole = (fx0, fy0, fx1, fy1) == (x0, y0, x0 + side, y0 + side)
    canvas = None if whole else np.zeros((side, side, 3), np.uint8)
    for i in indices:
        if whole:
            src = np.ascontiguousarray(frames[i, y0:y0 + side, x0:x0 + side])
        else:
            canvas[:] = 0
            if inside:
                canvas[fy0 - y0:fy1 - y0, fx0 - x0:fx1 - x0] = frames[i, fy0:fy1, fx0:fx1]
            src = canvas
        if side == r:
            out[i] = src
        else:
            out[i] = np.asarray(Image.fromarray(src).resize((r, r), Image.Resampling.BILINEAR))


#: the margin added on each side of the keypoints' bounding box, as a fraction of its longer side: the capsule
#: body reaches past its joints (head top, hands, feet) and the infant moves while the next frames are cropped
MARGIN = 0.25
#: the smallest side of the square, as a fraction of the frame's shorter side (a few clustered keypoints do not
#: zoom the network onto a hand)
MIN_SIDE = 0.25


def square(cx: float, cy: float, side: float) -> SquareBox:
    """The whole-pixel square of side ``round(side)`` (at least 8) centred on (cx, cy)."""
    s = max(int(round(float(side))), 8)
    return SquareBox(int(np.floor(cx - s / 2.0 + 0.5)), int(np.floor(cy - s / 2.0 + 0.5)), s)


def box_around(xy: np.ndarray, frame_hw: tuple[int, int], *, margin: float = MARGIN,
               min_side: float = MIN_SIDE, valid: np.ndarray | None = None) -> SquareBox:
    """The square around keypoints: their bounding box (over every frame given) grown by ``margin`` of its longer
    side on each side, at least ``min_side`` of the frame's shorter side, centred on the box.

    Arguments:
        xy: (..., K, 2) pixel coordinates (NaN: missing), one frame or several.
        frame_hw: (H, W) of the frame.
        margin: fraction of the longer side added on each side.
        min_side: smallest side as a fraction of min(H, W).
        valid: optional boolean mask of the keypoints to use (same leading shape as ``xy[..., 0]``).

    Returns:
        a :class:`~infantjax.preprocess.image.SquareBox`; the whole frame's letterbox when no keypoint is usable.
    """
    pts = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    ok = np.isfinite(pts).all(axis=1)
    if valid is not None:
        ok &= np.asarray(valid, bool).reshape(-1)
    h, w = int(frame_hw[0]), int(frame_hw[1])
    if ok.sum() < 2:
        return letterbox_box(h, w)
    lo, hi = pts[ok].min(axis=0), pts[ok].max(axis=0)
    extent = float((hi - lo).max())
    side = max(extent * (1.0 + 2.0 * float(margin)), float(min_side) * min(h, w))
    side = min(side, 2.0 * max(h, w))
    c = (lo + hi) / 2.0
    return square(c[0], c[1], side)
