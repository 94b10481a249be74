"""A hand-held camera's shake, read from the keypoints, and keypoints steadied against it.

    from infantjax.preprocess.camera import camera_motion, steady
    motion = camera_motion(seq)          # per frame: how fast the whole body moved at once (trunk lengths/s)
    motion.shaken, motion.shake          # the recording's worst 5-s stretch, against SHAKE
    steadied = steady(seq, motion)       # the camera's shake taken out of every keypoint

A camera held in a parent's hand moves the whole picture: every keypoint moves by the same vector at the same
moment, one or two times a second. An infant's own movements move its limbs one by one while the trunk and head
stay nearly where they are, so the **median** of the keypoints' frame-to-frame displacements follows the trunk
when the camera is still and the camera when it is not (the median moves with every keypoint when the camera
adds the same vector to all of them). Its *fast* part — the median displacement's track minus its own moving
average, a one-second average taken twice — is the shake: on rendered infants (30 s, 8 infants, ``benchmarks/perturb.py``)
its worst 5 s stay at 0.15–1.3 trunk lengths a second in the clean videos and their valid variants (grey,
compressed, mirrored, dim, 15 fps, head-down, sideways; a parent's arm, filmed from afar) and are 1.9–2.6 in the
shaken ones (±6 % of the view at 1–2 Hz); a pose model drawing legs under a blanket can reach them too. A CP network reads that shake as movement: the shaken videos scored low risks
for infants whose clean video scored CP.

:func:`steady` subtracts the fast part from every keypoint, which leaves the slow movements (the infant shifting on
the mattress, a camera drifting slowly) where they were. It is a *translation* of the view: a camera that turns
or zooms while shaking is steadied only in its translation. In the first and last second of a recording the filter
has only one side to average, and part of the shake stays (up to a third of it at the very first and last frame, a
fifteenth two thirds of a second in).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from infantjax.errors import DataError
from infantjax.sequence import SkeletonSequence

__all__ = ["SHAKE", "CameraMotion", "camera_motion", "steady"]

#: A recording whose worst 5-s stretch has a shake above this many trunk lengths (thorax to pelvis) per second is
#: *shaken*: the camera moved under the infant (rendered infants, 8 × 30 s: the clean videos and their valid
#: variants at most 1.3 — the liveliest infant's liveliest 5 s —, a hand-held camera's ±6 % at 1–2 Hz 1.9–2.6).
SHAKE = 1.5
#: The stretch over which the shake is judged, in seconds (the CP ensemble's window).
STRETCH_S = 5.0


@dataclasses.dataclass(frozen=True)
class CameraMotion:
    """What the keypoints say about the camera.

    Attributes:
        track: (T, 2) the camera's fast movement in pixels (the keypoints' common displacement minus its
            moving average, one second wide, taken twice), what :func:`steady` subtracts.
        speed: (T,) how fast ``track`` moves in each frame, in trunk lengths per second.
        shake: the root mean square of ``speed`` over the recording's worst stretch of :data:`STRETCH_S` seconds.
        trunk_px: the recording's median trunk length (thorax to pelvis) in pixels, the unit of ``speed``.
    """

    track: np.ndarray
    speed: np.ndarray
    shake: float
    trunk_px: float

    @property
    def shaken(self) -> bool:
        """Whether the camera shook (``shake`` above :data:`SHAKE`)."""
        return bool(self.shake > SHAKE)

    def window_shake(self, times: np.ndarray, start: float, end: float) -> float:
        """The root mean square of ``speed`` over the frames at ``times`` in ``[start, end)`` (seconds)."""
        sel = (times >= start - 1e-9) & (times < end - 1e-9)
        return float(np.sqrt(np.mean(self.speed[sel] ** 2))) if sel.any() else 0.0

    def to_json(self) -> dict:
        return {"shake": round(float(self.shake), 4), "shaken": self.shaken, "threshold": SHAKE,
                "trunk_px": round(float(self.trunk_px), 2)}


def _moving_average(x: np.ndarray, k: int) -> np.ndarray:
    """The centred moving average of ``x`` (T, D) over ``k`` frames, the ends padded with their edge values."""
    if k <= 1 or len(x) == 0:
        return x.copy()
    pad = k // 2
    xp = np.concatenate([np.repeat(x[:1], pad, 0), x, np.repeat(x[-1:], k - 1 - pad, 0)])
    c = np.cumsum(np.concatenate([np.zeros((1, x.shape[1])), xp]), axis=0)
    return (c[k:] - c[:-k]) / k


def camera_motion(seq: SkeletonSequence) -> CameraMotion:
    """The camera's fast movement under the infant, from the keypoints alone (module docstring).

    Arguments:
        seq: keypoints of one recording in pixels, with a ``thorax`` and a ``pelvis`` (``in-motion-19``); missing
            keypoints (NaN) are left out of each frame's median.

    Returns:
        a :class:`CameraMotion`; a recording whose trunk cannot be measured has zero shake.

    Raises:
        DataError: a skeleton without thorax and pelvis, or not 2-D.
    """
    names = list(seq.skeleton.keypoints)
    if "thorax" not in names or "pelvis" not in names or seq.dims < 2:
        raise DataError(f"camera_motion needs 2-D keypoints with a thorax and a pelvis, got the "
                        f"{seq.skeleton.name!r} skeleton in {seq.dims} dimensions")
    coords = np.asarray(seq.coords, dtype=np.float64)[..., :2]
    t = coords.shape[0]
    with np.errstate(invalid="ignore"):
        trunk = np.linalg.norm(coords[:, names.index("thorax")] - coords[:, names.index("pelvis")], axis=-1)
    trunk_px = float(np.nanmedian(trunk)) if np.isfinite(trunk).any() else math.nan
    if t < 3 or not (math.isfinite(trunk_px) and trunk_px > 0):
        return CameraMotion(np.zeros((t, 2)), np.zeros(t), 0.0, trunk_px)
    step = np.diff(coords, axis=0)  # (T-1, J, 2)
    ok = np.isfinite(step).all(axis=-1)
    common = np.zeros((t - 1, 2))
    seen = ok.any(axis=1)
    if seen.any():
        with np.errstate(invalid="ignore"):
            common[seen] = np.nanmedian(np.where(ok[..., None], step, np.nan)[seen], axis=1)
    path = np.concatenate([np.zeros((1, 2)), np.cumsum(common, axis=0)])
    times = np.asarray(seq.frame_times, dtype=np.float64)
    dt = np.diff(times)
    fps = 1.0 / float(np.median(dt)) if len(dt) and np.median(dt) > 0 else float(seq.fps)
    k = max(1, int(round(fps)) | 1)  # an odd number of frames, one second
    track = path - _moving_average(_moving_average(path, k), k)  # a 2-s triangle: 1–2 Hz passes by 1–2 %
    moved = np.linalg.norm(np.diff(track, axis=0), axis=-1) / np.maximum(dt, 1e-6)
    speed = np.concatenate([[0.0], moved]) / trunk_px
    n = max(1, int(round(STRETCH_S * fps)))
    sq = np.concatenate([[0.0], np.cumsum(speed ** 2)])
    if t <= n:
        worst = sq[-1] / t
    else:
        worst = float(np.max(sq[n:] - sq[:-n])) / n
    return CameraMotion(track=track, speed=speed, shake=float(math.sqrt(max(worst, 0.0))), trunk_px=trunk_px)


def steady(seq: SkeletonSequence, motion: CameraMotion | None = None) -> SkeletonSequence:
    """``seq`` with the camera's fast movement (:attr:`CameraMotion.track`) subtracted from every keypoint.

    Arguments:
        seq: the keypoints :func:`camera_motion` read (or reads, when ``motion`` is None).
        motion: its camera motion.

    Returns:
        a new sequence (confidences, times and metadata kept; ``metadata["camera"]`` says it was steadied).
    """
    motion = camera_motion(seq) if motion is None else motion
    coords = np.asarray(seq.coords, dtype=np.float64).copy()
    if len(motion.track) != len(coords):
        raise DataError(f"steady: a camera motion of {len(motion.track)} frames for {len(coords)} frames")
    coords[..., :2] -= motion.track[:, None, :]
    meta = {**dict(seq.metadata), "camera": {**motion.to_json(), "steadied": True}}
    return seq.replace(coords=coords.astype(np.asarray(seq.coords).dtype), metadata=meta)
