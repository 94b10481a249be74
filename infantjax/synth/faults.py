"""Rendered infant videos that a pose model tracks well, and the same videos spoiled the ways a clinic's
videos fail: what a tracking-quality gate is calibrated and tested on
(:func:`infantjax.clinical.assess_tracking`).

    from infantjax.synth.faults import FAULTS, fault_video
    video = fault_video("rotated.mp4", "rotated", seed=3, duration_s=10.0)   # the infant turned 90°
    video.path, video.kind, video.truth                                         # truth: (T, 19, 2) or None

The kinds (:data:`FAULTS`):

* ``"good"`` — a synthetic infant of :func:`infantjax.synth.cohort` as :meth:`SyntheticVideo.write` renders
  it;
* ``"rotated"`` — the same video turned 90° clockwise (a phone held sideways whose rotation flag was lost):
  the infant lies across a portrait frame, at an angle the pose model was not trained for;
* ``"empty"`` — the mattress without the infant (the camera moved away from the body: sheet, pattern,
  lighting);
* ``"noise"`` — every frame random noise (a covered lens on a noisy sensor, a broken stream);
* ``"leaving"`` — the infant slides out of the frame at 35 % of the video, stays out until 75 % and comes back
  (a carer picking the infant up, the camera knocked);
* ``"blurred"`` — every frame blurred with a Gaussian of 8 % of the short side (out of focus, a smeared lens);
* ``"shaken"`` — a hand-held camera: the view moving ±6 % of its width and height at 1.1 and 1.75 Hz (the infant
  tracks well, but the whole body moves with the camera).

Every kind is deterministic from its seed (written with ``reproducible=True``).
"""

from __future__ import annotations

import dataclasses
import os
import pathlib

import numpy as np

from infantjax.errors import ConfigError

__all__ = ["FAULTS", "FaultVideo", "fault_video"]

#: The kinds :func:`fault_video` renders: a well-tracked video first, then the failures.
FAULTS = ("good", "rotated", "empty", "noise", "leaving", "blurred", "shaken")
#: The blur of ``"blurred"``: a Gaussian with this standard deviation, as a share of the image's short side.
BLUR_FRACTION = 0.08
#: When the infant of ``"leaving"`` is out of the frame (shares of the video's length): sliding out over the
# first : second after ``start``, back over the last second before ``end``.
LEAVING = (0.35, 0.75)
#: The hand-held camera of ``"shaken"``: the view's shift as a share of its width (x) and height (y), at these
#: angular frequencies (rad/s) and phases.
SHAKE = ((0.06, 7.0, 0.0), (0.06, 11.0, 1.0))


@dataclasses.dataclass(frozen=True)
class FaultVideo:
    """A rendered video of one kind.

    Attributes:
        path: the MP4 written.
        kind: one of :data:`FAULTS`.
        seed: the infant, its movements, the camera and the appearance.
        truth: (T, 19, 2) In-Motion 19 pixel positions of the rendered keypoints in the written (upright)
            frames, NaN where the body is outside the frame; None for ``"empty"`` and ``"noise"`` (no infant).
        fps: the frame rate.
    """

    path: pathlib.Path
    kind: str
    seed: int
    truth: np.ndarray | None
    fps: float


def fault_video(path: str | os.PathLike, kind: str = "good", *, seed: int = 0, duration_s: float = 10.0,
                fps: float = 15.0, width: int = 320, height: int = 240) -> FaultVideo:
    """Render one synthetic infant video of ``kind`` (see the module docstring) and write it as H.264 MP4.

    Arguments:
        path: the ``.mp4`` to write.
        kind: one of :data:`FAULTS`.
        seed: the infant (subject 0 of ``synth.cohort("cp", seed=seed)``), its camera and appearance.
        duration_s, fps: the video's length and frame rate.
        width, height: the rendered frame size (``"rotated"`` writes height × width).

    Returns:
        a :class:`FaultVideo`.

    Raises:
        ConfigError: an unknown kind, a non-positive length or frame rate, a frame smaller than 32 pixels.
    """
    from infantjax.io import write_video
    from infantjax.synth.cohorts import cohort
    from infantjax.synth.pose import PIXEL_OFFSET
    from infantjax.synth.recording import RecordingConfig
    from infantjax.synth.rendering import render, sample_appearance

    if kind not in FAULTS:
        raise ConfigError(f"kind must be one of {', '.join(FAULTS)}, got {kind!r}")
    if not (duration_s > 0 and fps > 0):
        raise ConfigError(f"duration_s and fps must be positive, got {duration_s} and {fps}")
    if min(int(width), int(height)) < 32:
        raise ConfigError(f"the frame must be at least 32 × 32 pixels, got {width} × {height}")
    width, height = int(width), int(height)
    recipe = cohort("cp", n_subjects=1, seed=int(seed), duration_s=float(duration_s), fps=float(fps),
                    videos=True, recording=RecordingConfig(width=width, height=height)).metadata["video"][0]
    rec = recipe.recording()
    motion = recipe.motion()
    camera = rec.camera
    n = motion.num_frames
    jitter = np.zeros((n, 3)) if rec.jitter is None else np.array(rec.jitter, dtype=np.float64)
    if kind == "empty":  # the camera over the mattress beside the infant: three image widths away
        jitter[:, 1] += 3.0 * width * camera.distance / camera.focal
    elif kind == "leaving":
        jitter[:, 1] += _leaving_offset(n, fps, 1.6 * width * camera.distance / camera.focal)
    elif kind == "shaken":
        t = np.arange(n) / float(fps)
        for axis, ((share, omega, phase), size) in enumerate(zip(SHAKE, (width, height))):
            jitter[:, axis + 1] += share * size * camera.distance / camera.focal * np.sin(omega * t + phase)
    appearance = sample_appearance(recipe.appearance_seed)

    def frames():
        if kind == "noise":
            rng = np.random.default_rng([int(seed), 7])
            for s in range(0, n, 16):
                yield rng.integers(0, 256, (min(16, n - s), height, width, 3), dtype=np.uint8)
            return
        for out in render(motion.points, recipe.body, camera, appearance, jitter=jitter, batch=16):
            f = out.frames
            if kind == "rotated":
                f = np.ascontiguousarray(np.rot90(f, k=-1, axes=(1, 2)))
            elif kind == "blurred":
                f = _blur(f, BLUR_FRACTION * min(width, height))
            yield f

    truth = None
    if kind not in ("empty", "noise"):
        from infantjax.synth.body import keypoints_for

        exact, _ = camera.project(motion.points, jitter)
        truth = keypoints_for(exact, "in-motion-19").astype(np.float32) + PIXEL_OFFSET
        x, y = truth[..., 0], truth[..., 1]
        outside = (x < 0) | (x > width - 1) | (y < 0) | (y > height - 1)
        truth[outside] = np.nan
        if kind == "rotated":  # 90° clockwise: (x, y) -> (H - 1 - y, x)
            truth = np.stack([height - 1 - truth[..., 1], truth[..., 0]], axis=-1)
    written = write_video(path, frames(), fps=float(fps), reproducible=True)
    return FaultVideo(pathlib.Path(written), kind, int(seed), truth, float(fps))


def _leaving_offset(n: int, fps: float, distance: float) -> np.ndarray:
    """(n,) sideways camera shift (cm): 0, a one-second ramp to ``distance`` at :data:`LEAVING`'s start, held,
    and a one-second ramp back before its end."""
    t = np.arange(n) / float(fps)
    total = n / float(fps)
    start, end = LEAVING[0] * total, LEAVING[1] * total
    ramp_in = np.clip((t - start) / 1.0, 0.0, 1.0)
    ramp_out = np.clip((end - t) / 1.0, 0.0, 1.0)
    return distance * np.minimum(ramp_in, ramp_out)


def _blur(frames: np.ndarray, sigma: float) -> np.ndarray:
    """(N, H, W, 3) uint8 frames blurred in the image plane with a Gaussian of ``sigma`` pixels."""
    from scipy.ndimage import gaussian_filter

    out = gaussian_filter(frames.astype(np.float32), sigma=(0.0, sigma, sigma, 0.0), mode="nearest")
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)
