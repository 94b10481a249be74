"""Motion blur read from the pixels around the hands and feet: is a limb less sharp when it moves fast?

A video whose frames each mix several instants (a long exposure in a dim room, a phone's frame blending, a
"motion blur" filter) smooths the infant's movements themselves: every keypoint stays plausible and well seen, and
the tracks are calmer than the infant was, which no check of the keypoints can tell from a calmer infant. The
pixels can. Around a wrist or an ankle, the image's detail (the mean squared difference of neighbouring pixels of
its grey image, :func:`patch_sharpness`) hardly depends on how fast the limb moves in a sharp video, and falls in
the limb's fastest frames in a blurred one. :func:`fast_over_slow` is that fall: the median sharpness of a joint
in its fastest quarter of frames over that in its slowest quarter, 1 where speed takes no detail away.

The infant tracker measures it while it tracks (:func:`infantjax.infer.tracking.track_video`, kept in the
keypoints' ``metadata["sharpness"]``) and the tracking-quality gate flags a video whose ratio falls below
:attr:`infantjax.clinical.Thresholds.blur_ratio` (``docs/quality.md``). Pure functions of arrays.
"""

from __future__ import annotations

import numpy as np
from jaxtyping import Float, UInt8

from infantjax.errors import DataError

__all__ = ["BLUR_JOINTS", "MIN_FRAMES", "PATCH", "fast_over_slow", "patch_sharpness", "summary"]

#: the joints whose sharpness is measured: the hands and feet move fastest and blur first
BLUR_JOINTS = ("left_wrist", "right_wrist", "left_ankle", "right_ankle")
#: the side of the square measured around a keypoint, as a fraction of the side of the tracker's region of
#: interest (about the size of a hand or foot), in pixels at least 12 and at most 64
PATCH = 0.07
#: the fewest frames with a sharpness a joint needs for its ratio
MIN_FRAMES = 40


def patch_side(box_side: float) -> int:
    """The side in pixels of the square measured around a keypoint in a region of interest of ``box_side``."""
    return int(np.clip(round(PATCH * float(box_side)), 12, 64))


def patch_sharpness(frames: UInt8[np.ndarray, "N H W 3"], xy: Float[np.ndarray, "N J 2"], side: int,
                    ) -> Float[np.ndarray, "N J"]:
    """The detail of the grey image in the ``side`` × ``side`` square centred on each keypoint: the mean squared
    difference of horizontally and vertically neighbouring pixels (0–255 grey levels). NaN where the keypoint is
    missing or the square does not lie wholly inside the frame."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise DataError(f"frames must be (N, H, W, 3) uint8, got shape {frames.shape} and {frames.dtype}")
    xy = np.asarray(xy, np.float64)
    n, h, w = frames.shape[:3]
    if xy.shape[0] != n or xy.ndim != 3 or xy.shape[-1] != 2:
        raise DataError(f"keypoints must be ({n}, J, 2), got {xy.shape}")
    side = int(side)
    out = np.full(xy.shape[:2], np.nan)
    half = side // 2
    with np.errstate(invalid="ignore"):
        x0 = np.floor(xy[..., 0]) - half
        y0 = np.floor(xy[..., 1]) - half
        inside = np.isfinite(x0) & np.isfinite(y0) & (x0 >= 0) & (y0 >= 0) & (x0 + side <= w) & (y0 + side <= h)
    i, j = np.nonzero(inside)
    if len(i):  # every square at once: (M, side, side, 3) gathered, its grey image's neighbour differences
        offsets = np.arange(side)
        rows = y0[i, j].astype(np.intp)[:, None] + offsets
        cols = x0[i, j].astype(np.intp)[:, None] + offsets
        patches = frames[i[:, None, None], rows[:, :, None], cols[:, None, :]]
        grey = patches.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
        dy = np.mean(np.square(np.diff(grey, axis=1)), axis=(1, 2))
        dx = np.mean(np.square(np.diff(grey, axis=2)), axis=(1, 2))
        out[i, j] = 0.5 * (dx + dy)
    return out


def fast_over_slow(xy: Float[np.ndarray, "T 2"], sharpness: Float[np.ndarray, " T"]) -> float:
    """One joint's median sharpness in its fastest quarter of frames over that in its slowest quarter (speed: the
    central difference of its positions); NaN with fewer than :data:`MIN_FRAMES` frames that have both."""
    xy = np.asarray(xy, np.float64)
    s = np.asarray(sharpness, np.float64)
    speed = np.full(len(s), np.nan)
    if len(s) >= 3:
        speed[1:-1] = np.linalg.norm(xy[2:] - xy[:-2], axis=-1) / 2.0
    ok = np.isfinite(speed) & np.isfinite(s) & (s > 0)
    if ok.sum() < MIN_FRAMES:
        return float("nan")
    v, s = speed[ok], s[ok]
    slow, fast = v <= np.quantile(v, 0.25), v >= np.quantile(v, 0.75)
    return float(np.median(s[fast]) / np.median(s[slow]))


def summary(xy: Float[np.ndarray, "T J 2"], sharpness: Float[np.ndarray, "T J"], names) -> dict | None:
    """What the tracker keeps: ``{"fast_over_slow": the median of the joints' ratios, "joints": {name: ratio},
    "frames": frames measured}``; None when no joint has enough frames."""
    ratios = {str(n): fast_over_slow(xy[:, j], sharpness[:, j]) for j, n in enumerate(names)}
    known = [r for r in ratios.values() if np.isfinite(r)]
    if not known:
        return None
    return {"fast_over_slow": round(float(np.median(known)), 4),
            "joints": {n: (round(r, 4) if np.isfinite(r) else None) for n, r in ratios.items()},
            "frames": int(np.isfinite(sharpness).any(axis=1).sum())}
