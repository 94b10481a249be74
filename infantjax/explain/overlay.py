"""Keypoints drawn on video frames (the labelled video, :func:`infantjax.pipelines.pose.write_labelled_video`): a
pure function from frames and keypoints to frames, vectorised over a chunk of frames with NumPy.

What is drawn, in this order:

* **bones** — a white line (with a dark outline, so it shows on a white onesie or sheet) between the two joints of
  every edge of the skeleton whose joints are both drawn;
* **joints** — filled discs with a dark outline, coloured by the detector's confidence
  (:func:`confidence_colour`) on the explanations' one sequential scale (:mod:`infantjax.explain.colours`:
  light blue at 0, through lavender, to purple at 1, linear; the dashboard draws its legend beside the video);
  a joint without a confidence (a keypoint file without them, or NaN) is grey, the colour of "no value" in the
  reports too. The certainty colours (green … red) are kept for decisions.

A joint is **not drawn** when its coordinates are NaN (missing) or its confidence is below ``min_confidence``; a
bone is not drawn when either of its joints is not.

Coordinates are pixels as :meth:`PosePredictor.track <infantjax.pipelines.pose.PosePredictor.track>` reports them:
``x`` right, ``y`` down, pixel column ``j`` spanning ``j <= x < j + 1`` (its centre at ``j + 0.5``, the EfficientPose
convention; ``infantjax.synth.pose.PIXEL_OFFSET`` converts from the renderer's integer centres). Parts of a disc or
line outside the frame are clipped.
"""

from __future__ import annotations

import numpy as np
from jaxtyping import Float, UInt8

from infantjax import skeleton as _skeleton
from infantjax.errors import ConfigError, DataError
from infantjax.explain.colours import sequential_colour

__all__ = ["BONE_COLOUR", "OUTLINE_COLOUR", "UNKNOWN_COLOUR", "check_min_confidence", "confidence_colour", "draw_keypoints",
           "marker_sizes"]

#: colour of the bones
BONE_COLOUR = (255, 255, 255)
#: outline of joints and bones
OUTLINE_COLOUR = (20, 20, 20)
#: joints whose confidence is unknown (no confidences, or NaN): grey, off the sequential scale
UNKNOWN_COLOUR = (140, 140, 140)
_MAX_SAMPLES = 4096  # samples along one bone at most (a wild coordinate far outside the frame stays cheap)


def confidence_colour(confidence) -> UInt8[np.ndarray, "... 3"]:
    """The RGB colour (uint8) of a joint with this confidence on the sequential scale
    (:func:`infantjax.explain.sequential_colour`): (158, 188, 218) light blue at 0, (140, 107, 177) lavender
    at 0.5, (129, 15, 124) purple at 1, linear in between (values are clipped to [0, 1]); NaN gives
    :data:`UNKNOWN_COLOUR`."""
    c = np.asarray(confidence, dtype=np.float64)
    known = np.isfinite(c)
    out = np.rint(255.0 * sequential_colour(np.where(known, c, 0.0))).astype(np.uint8)
    out[~known] = UNKNOWN_COLOUR
    return out


def check_min_confidence(min_confidence) -> float:
    """``min_confidence`` as a float in [0, 1] (joints below it are not drawn).

    Raises:
        ConfigError: not a number in [0, 1].
    """
    try:
        threshold = float(min_confidence)
    except (TypeError, ValueError):
        threshold = float("nan")
    if not 0.0 <= threshold <= 1.0:
        raise ConfigError(f"min_confidence must be in [0, 1], got {min_confidence!r}")
    return threshold


def marker_sizes(height: int, width: int) -> tuple[int, int]:
    """Default joint radius and bone width in pixels for a frame of this size: radius ``max(2, min(H, W) / 120)``
    (4 px at 640x480), bone width ``max(1, min(H, W) / 240)`` (2 px at 640x480)."""
    side = min(int(height), int(width))
    return max(2, round(side / 120)), max(1, round(side / 240))


def _disc(radius: float) -> np.ndarray:
    """(K, 2) integer (dy, dx) offsets of the pixels within ``radius`` of a pixel centre."""
    r = int(np.ceil(radius))
    dy, dx = np.mgrid[-r:r + 1, -r:r + 1]
    inside = dy * dy + dx * dx <= radius * radius + 1e-9
    return np.stack([dy[inside], dx[inside]], axis=-1)


def _stamp(frames: np.ndarray, f: np.ndarray, py: np.ndarray, px: np.ndarray, footprint: np.ndarray,
           colour: np.ndarray):
    """Paint ``footprint`` around pixels (py, px) of frames ``f`` (all (M,)) with ``colour`` ((3,) or (M, 3))."""
    if not len(f):
        return
    n, h, w, _ = frames.shape
    ys = py[:, None] + footprint[None, :, 0]
    xs = px[:, None] + footprint[None, :, 1]
    ok = (ys >= 0) & (ys < h) & (xs >= 0) & (xs < w)
    ff = np.broadcast_to(f[:, None], ys.shape)[ok]
    colour = np.asarray(colour, np.uint8)
    if colour.ndim == 2:
        colour = np.broadcast_to(colour[:, None, :], (*ys.shape, 3))[ok]
    frames[ff, ys[ok], xs[ok]] = colour


def draw_keypoints(frames: UInt8[np.ndarray, "N H W 3"], coords: Float[np.ndarray, "N J 2"],
                   confidence: Float[np.ndarray, "N J"] | None = None, skeleton="in-motion-19", *,
                   min_confidence: float = 0.0, radius: int | None = None, bone_width: int | None = None,
                   copy: bool = True) -> UInt8[np.ndarray, "N H W 3"]:
    """Draw the skeleton of frame i's keypoints on frame i (see the module docstring for what is drawn).

    Arguments:
        frames: (N, H, W, 3) uint8 RGB frames (upright, as :class:`~infantjax.io.VideoSource` decodes them).
        coords: (N, J, 2) pixel x, y of every joint of every frame (NaN: missing); extra coordinates (z) are ignored.
        confidence: (N, J) detector confidences in [0, 1] (NaN: unknown), or None (all unknown: drawn grey).
        skeleton: the keypoint set (a :class:`~infantjax.skeleton.Skeleton` or its name): its edges are the bones.
        min_confidence: joints with a confidence below this are not drawn (0 draws every joint that has
            coordinates).
        radius: joint radius in pixels; bone_width: bone width in pixels (defaults: :func:`marker_sizes`).
        copy: draw on a copy (default) or on ``frames`` itself.

    Returns:
        the frames with the skeleton drawn, (N, H, W, 3) uint8.

    Raises:
        DataError: frames that are not (N, H, W, 3) uint8, or keypoints whose shapes do not match them.
        ConfigError: a threshold outside [0, 1] or a non-positive size.
    """
    skel = _skeleton.get(skeleton)
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise DataError(f"frames must be (N, H, W, 3) uint8 RGB, got {frames.dtype} with shape {frames.shape}")
    n, h, w, _ = frames.shape
    xy = np.asarray(coords, dtype=np.float64)
    if xy.ndim != 3 or xy.shape[0] != n or xy.shape[1] != skel.num_keypoints or xy.shape[2] < 2:
        raise DataError(f"coords must be (N, J, 2) = ({n}, {skel.num_keypoints}, 2) for {n} frames of skeleton "
                        f"{skel.name!r}, got shape {xy.shape}")
    xy = xy[..., :2]
    if confidence is not None:
        conf = np.asarray(confidence, dtype=np.float64)
        if conf.shape != xy.shape[:2]:
            raise DataError(f"confidence must be (N, J) = {xy.shape[:2]}, got shape {conf.shape}")
    else:
        conf = np.full(xy.shape[:2], np.nan)
    threshold = check_min_confidence(min_confidence)
    default_radius, default_width = marker_sizes(h, w)
    radius = default_radius if radius is None else radius
    bone_width = default_width if bone_width is None else bone_width
    for name, value in (("radius", radius), ("bone_width", bone_width)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ConfigError(f"{name} must be a positive whole number of pixels, got {value!r}")
    out = frames.copy() if copy else frames
    if n == 0:
        return out
    # drawn: coordinates present and not too far out (a wild value never makes an index overflow), confidence
    # unknown or at least the threshold
    limit = 4.0 * (h + w)
    drawn = np.isfinite(xy).all(-1) & (np.abs(xy) < limit).all(-1) & ~(conf < threshold)

    edges = np.asarray(skel.edges, dtype=np.int64).reshape(-1, 2)
    if len(edges):
        both = drawn[:, edges[:, 0]] & drawn[:, edges[:, 1]]  # (N, E)
        f, e = np.nonzero(both)
        p0, p1 = xy[f, edges[e, 0]], xy[f, edges[e, 1]]
        # one sample per pixel step along the longer axis (a connected line), the footprint gives it its width
        length = np.abs(p1 - p0).max(axis=-1)
        samples = np.minimum(np.ceil(length).astype(np.int64) + 1, _MAX_SAMPLES)
        seg = np.repeat(np.arange(len(f)), samples)
        first = np.cumsum(samples) - samples
        t = (np.arange(seg.size) - first[seg]) / np.maximum(samples[seg] - 1, 1)
        pts = p0[seg] + t[:, None] * (p1 - p0)[seg]
        py, px = np.floor(pts[:, 1]).astype(np.int64), np.floor(pts[:, 0]).astype(np.int64)
        half = bone_width / 2.0  # a disc of this radius swept along the bone: about bone_width pixels wide
        _stamp(out, f[seg], py, px, _disc(half + 1.0), OUTLINE_COLOUR)
        _stamp(out, f[seg], py, px, _disc(half), BONE_COLOUR)

    f, j = np.nonzero(drawn)
    py, px = np.floor(xy[f, j, 1]).astype(np.int64), np.floor(xy[f, j, 0]).astype(np.int64)
    _stamp(out, f, py, px, _disc(radius + 1.0), OUTLINE_COLOUR)
    _stamp(out, f, py, px, _disc(radius), confidence_colour(conf[f, j]))
    return out
