"""The CP preprocessing pipeline of seed 002 (Paper III) as coded in the reference (gcn_reference A.9).

Two versions exist in the reference code, and both are here:

* **v1** (2022-09-27 → 2023-01-06, contemporary with the paper and matching its text: "30 Hz, 5-point median
  filter, centring, normalisation by trunk length"): medians of the raw recording (trunk length thorax–pelvis,
  pelvis position) → 5-frame median filter → subtract the median pelvis, divide by 4 × median trunk length → flip
  y → cut windows → rotate each window so its first frame's spine points down (:func:`rotate_windows`).
* **v2** (the reference HEAD from 2023-01-25): linear resampling to the target fps → optional 8th-order
  Butterworth low-pass (``butter(8, 0.5)``, zero-phase ``sosfiltfilt``) → flip y → per-frame trunk alignment
  (:func:`align_trunk`) → divide by 4 × median trunk length. No window rotation.

:func:`preprocess_cp` chains the steps; **v1 is the default** because it is the version the published results
were produced with. Each step is also a public function over (T, J, 2) arrays for other pipelines.

Missing keypoints are NaN. Every step keeps a missing value missing unless it says it fills it: only
:func:`fill_gaps` fills (linear interpolation in time). :func:`butterworth` needs gap-free input.
Coordinates are image-like on input (x right, y down); after :func:`flip_y` y points up, and "down" in
:func:`rotate_windows` and "above" in :func:`align_trunk` refer to that y-up frame.
"""

from __future__ import annotations

import functools
import logging
import math
import warnings
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float
from scipy import signal

from infantjax import skeleton as _skeleton
from infantjax.errors import ConfigError, DataError, SkeletonMismatchError
from infantjax.preprocess.windows import windows as _windows
from infantjax.sequence import SkeletonSequence

__all__ = [
    "CP_VERSIONS",
    "RESAMPLE_MODES",
    "align_trunk",
    "butterworth",
    "cp_windows",
    "fill_gaps",
    "flip_y",
    "mask_low_confidence",
    "median_filter",
    "median_pelvis",
    "mirror",
    "normalise",
    "preprocess_cp",
    "resample",
    "resample_times",
    "rotate_windows",
    "spine_orientation",
    "spine_rotation_angle",
    "trunk_length",
]

log = logging.getLogger(__name__)

CP_VERSIONS = ("v1", "v2")
ROTATION_MODES = ("reference", "corrected")


# ---------------------------------------------------------------------------------------------------- validation
def _coords(coords: ArrayLike, where: str, *, dims: int | None = 2, allow_nan: bool = True) -> np.ndarray:
    x = np.asarray(coords)
    if x.ndim != 3:
        raise DataError(f"{where} needs (T, J, D) coordinates, got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.number):
        raise DataError(f"{where} needs numeric coordinates, got dtype {x.dtype}")
    if dims is not None and x.shape[-1] != dims:
        raise DataError(f"{where} works on {dims}-D keypoints (x, y), got D = {x.shape[-1]}")
    x = x.astype(np.float64 if x.dtype == np.float64 else np.float32, copy=False)
    if np.isinf(x).any():
        raise DataError(f"{where}: coordinates contain inf; mark missing keypoints with NaN")
    if not allow_nan and np.isnan(x).any():
        raise DataError(f"{where} needs gap-free coordinates ({int(np.isnan(x).any(-1).sum())} missing "
                        "keypoint-frames); fill them first with infantjax.preprocess.fill_gaps")
    return x


def _trunk_indices(skeleton) -> tuple[int, int]:
    skel = _skeleton.get(skeleton)
    try:
        return skel.index("thorax"), skel.index("pelvis")
    except SkeletonMismatchError as err:
        raise SkeletonMismatchError(
            f"the CP pipeline needs thorax and pelvis keypoints, which {skel.name!r} lacks; map the keypoints to "
            "in-motion-19 first (sequence.map_to('in-motion-19') derives them from shoulders and hips)"
        ) from err


def _positive(value, name: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        v = math.nan
    if not math.isfinite(v) or v <= 0:
        raise ConfigError(f"{name} must be a positive number, got {value!r}")
    return v


# ---------------------------------------------------------------------------------------------------- time
RESAMPLE_MODES = ("reference", "inside")


def resample(coords: Float[ArrayLike, "T J D"], fps: float, target_fps: float = 30.0, *,
             mode: Literal["reference", "inside"] = "reference") -> Float[np.ndarray, "S J D"]:
    """Linear resampling in time to ``target_fps`` (reference v2: ``np.interp`` per coordinate).

    Output sample ``s`` lies at time ``s / target_fps``. A sample that falls between two frames is NaN if either is
    missing (the reference had no missing data); one that falls on a frame copies it.

    How many samples (``mode``):

    * ``"reference"`` (MovementOutcome HEAD, ``utils/process.py``): the grid is ``np.arange(0, T, fps /
      target_fps)`` in input frames, ``⌈T · target_fps / fps⌉`` samples. It runs past the last frame (up to one
      input frame interval), and the samples there hold the last frame, as ``np.interp`` does.
    * ``"inside"``: only the samples at or before the last frame, ``⌊(T − 1) · target_fps / fps⌋ + 1``.

    The two agree on every sample time they share; the reference has one sample more whenever a grid point falls
    strictly between the last frame and ``T``: for nearly every length at 15–31 fps, for 2 lengths in 5 at 50 fps,
    never at 60 fps.

    Arguments:
        coords: (T, J, D) coordinates, NaN = missing.
        fps: frame rate of ``coords``.
        target_fps: frame rate wanted (seed 002: 30 Hz).
        mode: ``"reference"`` or ``"inside"`` (above).
    Returns:
        (S, J, D) resampled coordinates (a copy of ``coords`` when the rates are equal).
    """
    x = _coords(coords, "resample", dims=None)
    fps, target_fps = _positive(fps, "fps"), _positive(target_fps, "target_fps")
    if mode not in RESAMPLE_MODES:
        raise ConfigError(f"resample mode must be one of {RESAMPLE_MODES}, got {mode!r}")
    if x.shape[0] == 0:
        raise DataError("resample: the sequence has no frames")
    if fps == target_fps:
        return x.copy()
    last = x.shape[0] - 1
    if mode == "reference":
        pos = np.arange(0, x.shape[0], fps / target_fps)  # the reference's grid, in input frames
    else:
        pos = np.arange(math.floor(last * target_fps / fps + 1e-9) + 1) * (fps / target_fps)
    i0 = np.minimum(np.floor(pos + 1e-9).astype(np.int64), last)
    i1 = np.minimum(i0 + 1, last)
    w = np.clip(pos - i0, 0.0, 1.0)[:, None, None]
    on_frame = (w < 1e-9) | (pos >= last)[:, None, None]  # past the last frame: hold it (np.interp)
    with np.errstate(invalid="ignore"):
        mixed = (1.0 - w) * x[i0] + w * x[i1]
    return np.where(on_frame, x[i0], mixed).astype(x.dtype)


def resample_times(coords: Float[ArrayLike, "T J D"], times: Float[ArrayLike, " T"], fps: float,
                   target_fps: float = 30.0, *, mode: Literal["reference", "inside"] = "reference",
                   ) -> Float[np.ndarray, "S J D"]:
    """:func:`resample` of frames at their presentation ``times`` (a phone's variable frame rate) to a constant rate.

    Output sample ``s`` lies at ``times[0] + s / target_fps``; it is interpolated linearly between the frames around
    that time (NaN if either is missing; a sample at a frame's time copies it). The number of samples is
    :func:`resample`'s for the same frame count at the average rate ``fps``, so evenly spaced times give what
    :func:`resample` gives (with the same ``mode``; samples past the last frame's time hold it).

    Arguments:
        coords: (T, J, D) coordinates, NaN = missing.
        times: (T,) strictly increasing frame times in seconds.
        fps: the recording's average frame rate (:attr:`SkeletonSequence.fps`).
        target_fps: frame rate wanted (seed 002: 30 Hz).
        mode: the sample count, as :func:`resample`'s ``mode``.
    Returns:
        (S, J, D) samples at ``target_fps``.
    """
    x = _coords(coords, "resample_times", dims=None)
    t = np.asarray(times, dtype=np.float64)
    if t.shape != x.shape[:1] or not np.isfinite(t).all() or (np.diff(t) <= 0).any():
        raise DataError(f"resample_times needs one finite, strictly increasing time per frame: {x.shape[0]} frames, "
                        f"times of shape {t.shape}")
    num = resample(np.zeros((x.shape[0], 1, 1), np.float32), fps, target_fps, mode=mode).shape[0]
    pos = np.interp(t[0] + np.arange(num) / _positive(target_fps, "target_fps"), t, np.arange(x.shape[0]))
    i0 = np.minimum(np.floor(pos + 1e-9).astype(np.int64), x.shape[0] - 1)
    i1 = np.minimum(i0 + 1, x.shape[0] - 1)
    w = np.clip(pos - i0, 0.0, 1.0)[:, None, None]
    with np.errstate(invalid="ignore"):
        mixed = (1.0 - w) * x[i0] + w * x[i1]
    return np.where(w < 1e-9, x[i0], mixed).astype(x.dtype)


def fill_gaps(coords: Float[ArrayLike, "T J D"], max_gap: int | None = None) -> Float[np.ndarray, "T J D"]:
    """Fill missing keypoints by linear interpolation in time, per joint (an infantjax step, not in the reference,
    whose tracker output had no gaps).

    Leading and trailing gaps take the nearest observed value. With ``max_gap`` only gaps of at most that many
    frames are filled (longer ones stay NaN entirely). A joint never observed stays NaN.
    """
    x = _coords(coords, "fill_gaps", dims=None).copy()
    if max_gap is not None and (isinstance(max_gap, bool) or not isinstance(max_gap, (int, np.integer))
                                or max_gap < 1):
        raise ConfigError(f"max_gap must be a positive integer number of frames or None, got {max_gap!r}")
    T = x.shape[0]
    t = np.arange(T)
    missing = np.isnan(x).any(axis=-1)  # a keypoint is missing when any coordinate is
    for j in np.flatnonzero(missing.any(axis=0)):
        ok = ~missing[:, j]
        if not ok.any():
            continue
        fill = ~ok
        if max_gap is not None:
            # run lengths of each gap
            edges = np.diff(np.r_[0, fill.astype(np.int8), 0])
            starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
            fill = np.zeros(T, dtype=bool)
            for s, e in zip(starts, ends):
                if e - s <= max_gap:
                    fill[s:e] = True
        for d in range(x.shape[-1]):
            x[fill, j, d] = np.interp(t[fill], t[ok], x[ok, j, d])
    return x


def median_filter(coords: Float[ArrayLike, "T J D"], half_width: int = 2) -> Float[np.ndarray, "T J D"]:
    """Temporal median filter (reference v1: half-width 2, i.e. 5 frames), shrunk symmetrically at the ends.

    Frame ``t`` takes the median over frames ``t−h .. t+h`` with ``h = min(half_width, t, T−1−t)``, so the first
    and last frames are kept as they are. Missing frames stay missing, and observed frames take the median of the
    observed values in their window (the reference had no missing data, where both rules coincide).
    """
    x = _coords(coords, "median_filter", dims=None)
    if isinstance(half_width, bool) or not isinstance(half_width, (int, np.integer)) or half_width < 0:
        raise ConfigError(f"half_width must be a non-negative integer, got {half_width!r}")
    T = x.shape[0]
    if half_width == 0 or T < 3:
        return x.copy()
    t = np.arange(T)
    h = np.minimum(half_width, np.minimum(t, T - 1 - t))  # (T,)
    offsets = np.arange(-half_width, half_width + 1)
    idx = np.clip(t[:, None] + offsets[None, :], 0, T - 1)  # (T, K)
    stack = x[idx]  # (T, K, J, D)
    outside = np.abs(offsets)[None, :] > h[:, None]
    if np.isnan(x).any():
        stack = np.where(outside[:, :, None, None], np.nan, stack)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices: missing stays missing
            out = np.nanmedian(stack, axis=1)
        out[np.isnan(x)] = np.nan
    else:
        # gap-free (the usual case): sort once; windows shrunk at the ends take the median of their 2h+1 frames
        out = np.median(stack, axis=1)
        for t_edge in np.flatnonzero(h < half_width):
            out[t_edge] = np.median(x[t_edge - h[t_edge]:t_edge + h[t_edge] + 1], axis=0)
    return out.astype(x.dtype)


# ---------------------------------------------------------------------------------------------------- space
def trunk_length(coords: Float[ArrayLike, "T J D"], skeleton="in-motion-19") -> float:
    """Median over frames of the thorax–pelvis distance (frames missing either are skipped)."""
    x = _coords(coords, "trunk_length", dims=None)
    th, pe = _trunk_indices(skeleton)
    d = np.linalg.norm(x[:, th] - x[:, pe], axis=-1)
    return _median_length(d, "trunk_length: no frame has both thorax and pelvis; cannot normalise this recording",
                          "trunk_length: the median thorax–pelvis distance is 0; the keypoints look degenerate")


def _median_length(distances: np.ndarray, missing: str, degenerate: str) -> float:
    """The median of the finite per-frame ``distances`` (a body's unit length): a DataError with the message
    ``missing`` when no frame has one, ``degenerate`` when the median is not positive."""
    d = distances[np.isfinite(distances)]
    if d.size == 0:
        raise DataError(missing)
    length = float(np.median(d))
    if length <= 0:
        raise DataError(degenerate)
    return length


def median_pelvis(coords: Float[ArrayLike, "T J D"], skeleton="in-motion-19") -> np.ndarray:
    """Median over frames of the pelvis position, (D,)."""
    x = _coords(coords, "median_pelvis", dims=None)
    _, pe = _trunk_indices(skeleton)
    p = x[:, pe]
    p = p[np.isfinite(p).all(-1)]
    if p.size == 0:
        raise DataError("median_pelvis: the pelvis is missing in every frame")
    return np.median(p, axis=0)


def normalise(coords: Float[ArrayLike, "T J D"], skeleton="in-motion-19", k: float = 4.0, *,
              centre: ArrayLike | None = None, scale: float | None = None) -> Float[np.ndarray, "T J D"]:
    """Subtract ``centre`` (default: the median pelvis) and divide by ``scale`` (default: k × median trunk length).

    The reference divides by 2 × 2 × median trunk length, i.e. ``k = 4`` (gcn_reference A.9; the paper calls it
    "2× trunk" normalisation of a centred body). Pass ``centre``/``scale`` computed on the raw recording to
    reproduce v1, which takes its medians before median filtering.
    """
    x = _coords(coords, "normalise", dims=None)
    k = _positive(k, "k")
    c = median_pelvis(x, skeleton) if centre is None else np.asarray(centre, dtype=np.float64)
    s = k * trunk_length(x, skeleton) if scale is None else _positive(scale, "scale")
    if c.shape != (x.shape[-1],):
        raise DataError(f"normalise: centre must have shape ({x.shape[-1]},), got {c.shape}")
    return ((x - c) / s).astype(x.dtype)


def flip_y(coords: Float[ArrayLike, "... D"]) -> np.ndarray:
    """``y := −y`` (image y points down; after the flip it points up, as in the reference)."""
    x = np.array(coords, copy=True)
    if x.ndim < 1 or x.shape[-1] < 2:
        raise DataError(f"flip_y needs coordinates with x, y on the last axis, got shape {x.shape}")
    x[..., 1] = -x[..., 1]
    return x


def mirror(coords: Float[ArrayLike, "... J D"], skeleton="in-motion-19", *, centre_x: float = 0.0,
           ) -> np.ndarray:
    """The mirror image of a body: ``x := 2·centre_x − x`` and every left keypoint swapped with its right
    counterpart (:meth:`infantjax.skeleton.Skeleton.flip_permutation`), so that the labels read the mirrored body
    as the pose network would label it in a mirrored video. Its own inverse; NaN stays NaN.

    ``Ensemble.predict(..., mirror="average")`` scores every window and its mirror image with it: the CP networks
    are not mirror-symmetric, and a mirrored video (a phone's front camera) should get the answer of the
    unmirrored one."""
    x = np.array(coords, copy=True)
    skel = _skeleton.get(skeleton)
    if x.ndim < 2 or x.shape[-1] < 2 or x.shape[-2] != skel.num_keypoints:
        raise DataError(f"mirror needs (..., {skel.num_keypoints}, D>=2) coordinates of {skel.name}, got shape "
                        f"{x.shape}")
    x = x[..., skel.flip_permutation(), :]
    x[..., 0] = 2.0 * centre_x - x[..., 0]
    return x


def butterworth(coords: Float[ArrayLike, "T J D"], order: int = 8, cutoff: float = 0.5) -> Float[np.ndarray, "T J D"]:
    """Zero-phase Butterworth low-pass in time (reference v2: ``butter(8, 0.5)``, SOS, ``sosfiltfilt``).

    ``cutoff`` is a fraction of the Nyquist frequency: 0.5 is 7.5 Hz at 30 fps. Needs gap-free input (run
    :func:`fill_gaps` first) and more frames than the filter's padding (27 for order 8).
    """
    x = _coords(coords, "butterworth", dims=None, allow_nan=False)
    if isinstance(order, bool) or not isinstance(order, (int, np.integer)) or order < 1:
        raise ConfigError(f"butterworth order must be a positive integer, got {order!r}")
    cutoff = _positive(cutoff, "cutoff")
    if cutoff >= 1:
        raise ConfigError(f"butterworth cutoff is a fraction of Nyquist and must be < 1, got {cutoff!r}")
    sos = signal.butter(order, cutoff, output="sos")
    padlen = 3 * (2 * len(sos) + 1 - min((sos[:, 2] == 0).sum(), (sos[:, 5] == 0).sum()))
    if x.shape[0] <= padlen:
        raise DataError(f"butterworth needs more than {padlen} frames for an order-{order} filter, got {x.shape[0]}")
    return signal.sosfiltfilt(sos, x, axis=0).astype(x.dtype)


def _rotate(points: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Rotate (..., J, 2) points counter-clockwise (y up) by ``angle`` (...,) radians about the origin."""
    c, s = np.cos(angle)[..., None], np.sin(angle)[..., None]
    x, y = points[..., 0], points[..., 1]
    return np.stack([c * x - s * y, s * x + c * y], axis=-1)


def align_trunk(coords: Float[ArrayLike, "T J 2"], skeleton="in-motion-19") -> Float[np.ndarray, "T J 2"]:
    """Per-frame trunk alignment (reference v2): subtract the trunk midpoint (thorax + pelvis)/2 and rotate so the
    thorax lies straight above it (y up, i.e. after :func:`flip_y`). Frames missing thorax or pelvis become NaN."""
    x = _coords(coords, "align_trunk")
    th, pe = _trunk_indices(skeleton)
    mid = 0.5 * (x[:, th] + x[:, pe])  # (T, 2)
    centred = x - mid[:, None, :]
    up = centred[:, th]
    angle = np.pi / 2 - np.arctan2(up[:, 1], up[:, 0])  # turns the thorax direction onto +y
    with np.errstate(invalid="ignore"):
        return _rotate(centred, angle).astype(x.dtype)


# ---------------------------------------------------------------------------------------------------- windows
@functools.partial(jax.jit, static_argnames=("thorax", "pelvis", "mode"))
def _spine_angle(w, thorax: int, pelvis: int, mode: str):
    spine_all = w[..., :, pelvis, :] - w[..., :, thorax, :]  # (..., T, 2)
    valid = jnp.isfinite(spine_all).all(-1)  # (..., T)
    first = jnp.argmax(valid, axis=-1)
    spine = jnp.take_along_axis(spine_all, first[..., None, None], axis=-2)[..., 0, :]
    spine = jnp.where(jnp.isfinite(spine), spine, 0.0)
    length = jnp.sqrt(jnp.sum(spine ** 2, axis=-1))
    if mode == "reference":
        # arccos(u_x) of the unit spine u is atan2(|u_y|, u_x) (the same reference quirk: the sign of u_y is lost),
        # written so: jnp.arccos lowers to a CHLO composite that the LiteRT converter cannot read (infantjax.deploy),
        # and atan2 is also the better-conditioned form near u_x = ±1
        from_x = jnp.where(length > 0, jnp.arctan2(jnp.abs(spine[..., 1]), spine[..., 0]), 0.0)
        angle = from_x - jnp.pi / 2
    else:
        angle = jnp.where(length > 0, -jnp.pi / 2 - jnp.arctan2(spine[..., 1], spine[..., 0]), 0.0)
    return jnp.where(valid.any(-1), angle, 0.0)


@functools.partial(jax.jit, static_argnames=("thorax", "pelvis", "mode"))
def _rotate_windows(w, thorax: int, pelvis: int, mode: str):
    angle = _spine_angle(w, thorax, pelvis, mode)[..., None, None]  # broadcast over T, J
    c, s = jnp.cos(angle), jnp.sin(angle)
    x, y = w[..., 0], w[..., 1]
    return jnp.stack([c * x - s * y, s * x + c * y], axis=-1)


def _window_args(windows, skeleton, mode: str, where: str):
    if mode not in ROTATION_MODES:
        raise ConfigError(f"rotation mode must be one of {ROTATION_MODES}, got {mode!r}")
    thorax, pelvis = _trunk_indices(skeleton)
    w = jnp.asarray(windows)
    if w.ndim < 3 or w.shape[-1] != 2:
        raise DataError(f"{where} needs (..., T, J, 2) windows, got shape {w.shape}")
    if w.shape[-2] != _skeleton.get(skeleton).num_keypoints:
        raise SkeletonMismatchError(f"{where}: windows have {w.shape[-2]} keypoints, skeleton "
                                    f"{_skeleton.get(skeleton).name!r} has {_skeleton.get(skeleton).num_keypoints}")
    return w, thorax, pelvis


def spine_rotation_angle(window: Float[ArrayLike, "... T J 2"], skeleton="in-motion-19",
                         mode: Literal["reference", "corrected"] = "reference") -> Float[Array, "*batch"]:
    """Counter-clockwise angle (radians) that turns a window's first-frame spine (pelvis − thorax) straight down.

    ``mode="reference"`` reproduces the reference (``get_rotation_angle``): the angle is ``arccos(u_x) − π/2`` with
    ``u`` the unit spine, which loses the sign of ``u_y`` and is exact only when the thorax starts above the pelvis
    (reference quirk). ``mode="corrected"`` uses ``atan2`` and is exact for every orientation. A zero-length spine
    gives ``−π/2`` in reference mode (the reference's ``arccos`` is replaced by 0) and 0 when corrected. The first
    frame where thorax and pelvis are both observed is used (frame 0 when nothing is missing); a window without
    one is not rotated. jit-able (the skeleton and mode are static).
    """
    w, thorax, pelvis = _window_args(window, skeleton, mode, "spine_rotation_angle")
    return _spine_angle(w, thorax, pelvis, mode)


def rotate_windows(windows: Float[ArrayLike, "... T J 2"], skeleton="in-motion-19",
                   mode: Literal["reference", "corrected"] = "reference") -> Float[Array, "... T J 2"]:
    """Rotate each window as a whole about the origin so its first frame's spine points down (reference v1,
    ``standardize_rotation``; applied to train and evaluation windows before augmentation). jit-able."""
    w, thorax, pelvis = _window_args(windows, skeleton, mode, "rotate_windows")
    return _rotate_windows(w, thorax, pelvis, mode)


# ---------------------------------------------------------------------------------------------------- orientation
SPINE_ORIENTATIONS = ("upright", "sideways", "inverted", "unknown")


def spine_orientation(sequence: SkeletonSequence, *, y_up: bool = False) -> tuple[str, float]:
    """How the recording's spine lies in the image: the direction pelvis → thorax, averaged over the frames.

    The reference window rotation (:func:`rotate_windows` with ``mode="reference"``) is exact only when the thorax
    lies above the pelvis; a head-down recording (rotated 180°) is mirrored by it and a sideways one (90°) is
    rotated inexactly, which the networks never saw in training. This tells such recordings apart.

    Arguments:
        sequence: a :class:`SkeletonSequence` with thorax and pelvis keypoints (In-Motion 19).
        y_up: the coordinates have y pointing up (after :func:`flip_y`, e.g. a preprocessed recording); default
            image coordinates (y down).

    Returns:
        (orientation, angle): ``"upright"`` (within 45° of head-up), ``"sideways"`` (45°–135°), ``"inverted"``
        (head-down, beyond 135°) or ``"unknown"`` (no frame with both keypoints), and the circular-mean angle of
        the spine from head-up in degrees (positive: head towards the image's right; NaN when unknown).
    """
    thorax, pelvis = _trunk_indices(sequence.skeleton)
    coords = np.asarray(sequence.coords, dtype=np.float64)[..., :2]
    spine = coords[:, thorax] - coords[:, pelvis]  # pelvis → thorax per frame
    if not y_up:
        spine[:, 1] = -spine[:, 1]  # image y points down
    length = np.linalg.norm(spine, axis=-1)
    ok = np.isfinite(length) & (length > 0)
    if not ok.any():
        return "unknown", math.nan
    unit = spine[ok] / length[ok, None]
    mean = unit.mean(axis=0)  # circular mean of the directions
    if np.linalg.norm(mean) < 1e-9:
        return "unknown", math.nan
    angle = math.degrees(math.atan2(mean[0], mean[1]))  # 0 = head up, +90 = head to the right
    size = abs(angle)
    return ("upright" if size <= 45 else "sideways" if size <= 135 else "inverted"), angle


def mask_low_confidence(sequence: SkeletonSequence, threshold: float | None) -> SkeletonSequence:
    """Mark keypoints whose detector confidence is below ``threshold`` as missing (NaN).

    DeepLabCut's p-cutoff convention: a keypoint with likelihood ``< threshold`` is not used; unknown (NaN)
    confidences are kept. ``threshold=None`` (or a sequence without confidences) returns the sequence unchanged.

    Arguments:
        sequence: any :class:`SkeletonSequence`.
        threshold: the cut-off in [0, 1] (DeepLabCut's default ``pcutoff`` is 0.6), or None.

    Returns:
        the sequence with low-confidence keypoints NaN (``metadata["confidence_threshold"]`` records the cut-off
        and how many keypoints it masked).
    """
    if threshold is None:
        return sequence
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 <= threshold <= 1:
        raise ConfigError(f"confidence_threshold must be a number in [0, 1] or None, got {threshold!r}")
    if sequence.confidence is None:
        log.warning("confidence_threshold %.2f: the recording has no confidences; nothing is masked", threshold)
        return sequence
    low = sequence.confidence < threshold  # NaN compares False: unknown confidences are kept
    coords = np.array(sequence.coords, copy=True)
    coords[low] = np.nan
    meta = {**sequence.metadata, "confidence_threshold": {"threshold": float(threshold), "masked": int(low.sum())}}
    return sequence.replace(coords=coords, metadata=meta)


# ---------------------------------------------------------------------------------------------------- pipeline
def preprocess_cp(sequence: SkeletonSequence, version: Literal["v1", "v2"] = "v1", target_fps: float | None = 30.0,
                  *, k: float = 4.0, median_half_width: int = 2, low_pass: bool = True, fill: bool = True,
                  resample_mode: Literal["reference", "inside"] = "reference") -> SkeletonSequence:
    """Preprocess one In-Motion 19 recording for the CP GCNs (seed 002; gcn_reference A.9).

    v1 (default — the version the published results were produced with; the reference assumed 30 fps and did not
    resample, which resampling to 30 leaves unchanged for 30 fps input):
    resample → medians of the raw recording → fill gaps → median filter → centre on the median pelvis and divide
    by k × median trunk length → flip y. Windows are then cut and rotated by :func:`cp_windows`.

    v2: resample → fill gaps → Butterworth low-pass (``low_pass``) → flip y → per-frame trunk alignment → divide
    by k × median trunk length.

    A recording with a variable frame rate (a phone video's keypoints with their frame times) is resampled by its
    frame times (:func:`resample_times`); otherwise by frame ÷ fps.

    Arguments:
        sequence: an ``in-motion-19`` :class:`SkeletonSequence` with 2-D keypoints.
        version: ``"v1"`` or ``"v2"``.
        target_fps: frame rate of the output (None keeps the input rate).
        k: normalisation factor in trunk lengths (reference 4 = 2 × 2).
        median_half_width: v1 median filter half-width (reference 2 → 5 frames).
        low_pass: v2 Butterworth ``butter(8, 0.5)`` on or off (reference main.py: on).
        fill: linearly interpolate missing keypoints (:func:`fill_gaps`) before filtering; an infantjax addition
            that is a no-op on gap-free data. With ``fill=False`` v2 with ``low_pass`` rejects gaps.
        resample_mode: how many samples :func:`resample` makes when the input is not at ``target_fps``:
            ``"reference"`` (MovementOutcome HEAD, ``⌈T · target_fps / fps⌉``, the samples past the last frame
            hold it) or ``"inside"`` (only samples up to the last frame).
    Returns:
        A new sequence at ``target_fps`` whose metadata gains ``"preprocess"`` (version, k, trunk length in input
        units, centre) — :func:`cp_windows` reads the version from there.
    """
    if not isinstance(sequence, SkeletonSequence):
        raise DataError(f"preprocess_cp needs a SkeletonSequence, got {type(sequence).__name__}")
    if version not in CP_VERSIONS:
        raise ConfigError(f"preprocess_cp version must be one of {CP_VERSIONS}, got {version!r}")
    sequence.require("in-motion-19", min_frames=2, where="preprocess_cp")
    if sequence.dims != 2:
        raise DataError(f"preprocess_cp works on 2-D keypoints, got D = {sequence.dims}")
    k = _positive(k, "k")
    fps = sequence.fps if target_fps is None else _positive(target_fps, "target_fps")
    x = _resample_sequence(sequence, sequence.coords, fps, resample_mode)
    conf = None
    if sequence.confidence is not None:
        conf = _resample_sequence(sequence, sequence.confidence[..., None], fps, resample_mode)[..., 0]
    skel = sequence.skeleton
    info = {"pipeline": "cp", "version": version, "fps": fps, "k": k, "fill": bool(fill)}
    if fps != sequence.fps:
        info["resample_mode"] = resample_mode
    if version == "v1":
        # the reference takes trunk length and pelvis medians of the raw recording, before filtering
        trunk, centre = trunk_length(x, skel), median_pelvis(x, skel)
        if fill:
            x = fill_gaps(x)
        x = median_filter(x, median_half_width)
        x = normalise(x, skel, k, centre=centre, scale=k * trunk)
        x = flip_y(x)
        info.update(median_half_width=int(median_half_width), centre=[float(c) for c in centre])
    else:
        if fill:
            x = fill_gaps(x)
        if low_pass:
            x = butterworth(x, 8, 0.5)
        x = align_trunk(flip_y(x), skel)
        trunk = trunk_length(x, skel)
        x = x / (k * trunk)
        info.update(low_pass=bool(low_pass))
    info["trunk_length"] = float(trunk)
    log.debug("preprocess_cp %s: %d frames at %g fps, trunk length %.3f", version, x.shape[0], fps, trunk)
    metadata = {**sequence.metadata, "preprocess": info}
    return SkeletonSequence(x.astype(np.float32), fps, skel, conf, metadata)


def _resample_sequence(sequence: SkeletonSequence, values: np.ndarray, fps: float,
                       mode: Literal["reference", "inside"]) -> np.ndarray:
    """(T, J, D) values of ``sequence`` at ``fps``: by the frame times when the frame rate is variable (a phone
    video), else by frame ÷ fps (:func:`resample`, the reference's rule); ``mode`` sets the sample count."""
    if sequence.variable_frame_rate:
        return resample_times(values, sequence.times, sequence.fps, fps, mode=mode)
    return resample(values, sequence.fps, fps, mode=mode)


def cp_windows(sequence: SkeletonSequence, length: int = 150, hop: int = 75, *,
               rotation: Literal["reference", "corrected"] | None = "reference") -> np.ndarray:
    """Evaluation windows of a preprocessed recording: (W, length, J, 2), rotated per window for v1.

    ``rotation`` picks the v1 window rotation mode (None: no rotation); v2 sequences are never rotated (the
    reference removed the window rotation with v2).
    """
    if not isinstance(sequence, SkeletonSequence):
        raise DataError(f"cp_windows needs a SkeletonSequence, got {type(sequence).__name__}")
    info = sequence.metadata.get("preprocess")
    if not isinstance(info, dict) or info.get("pipeline") != "cp":
        raise DataError("cp_windows needs a sequence from preprocess_cp (its metadata has no 'preprocess' entry)")
    w = _windows(sequence.coords, length, hop)
    if info.get("version") == "v1" and rotation is not None:
        w = np.asarray(rotate_windows(w, sequence.skeleton, rotation))
    return w
