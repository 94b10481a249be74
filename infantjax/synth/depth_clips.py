"""Depth clips of synthetic preterm infants for the networks of seed 004 (:func:`synthetic_clips`).

It draws infants with ``infantjax.synth.cohort(..., depth=True)`` (body, clinical picture and movement profile per infant; the ``depth`` column holds ``infantjax.synth.depth.DepthClip`` recipes), generates
each infant's movement, picks clips of 3 consecutive frames (30 fps) at random moments and renders them with the
seed 004 set-up of ``infantjax.synth.depth`` (preterm-sized body, camera 40 cm above the crib, depth in mm with
sensor noise and holes = 0), directly at the network size (128x96 by default) — rendering 640x480 and resizing
gives the same geometry at 25 times the cost. Keypoints are the babyPose-12 projections; joints outside the image
are NaN (empty target maps). Unlike ``DepthClip.render`` (which renders a recording from its start), clips come
from anywhere in the recording, and each infant may lie rotated in the crib (``rotation`` degrees) and off centre
(``shift`` cm), so that poses and positions vary within a handful of infants.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from infantjax.errors import ConfigError
from infantjax.preprocess.depth import CLIP_LENGTH, HEIGHT, WIDTH
from infantjax.synth.cohorts import cohort as make_cohort
from infantjax.synth.depth import PRETERM_SCALE, depth_camera, render_depth
from infantjax.synth.movement import generate

__all__ = ["synthetic_clips"]


def synthetic_clips(n_infants: int, clips_per_infant: int, height: int = HEIGHT, width: int = WIDTH,
                    seed: int = 0, *, duration_s: float = 20.0, rotation: float = 15.0, shift: float = 1.5,
                    noise_mm: float = 2.0, hole_rate: float = 0.002
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Depth clips of synthetic preterm infants with babyPose-12 keypoints.

    Arguments:
        n_infants: infants (each a subject of ``make_cohort("cp", n_infants, seed, depth=True)``).
        clips_per_infant: clips of 3 consecutive frames drawn at random moments of each infant's recording.
        height, width: frame size in pixels (96 x 128 for seed 004's networks).
        seed: everything is deterministic from it; different seeds give different infants (held-out sets).
        duration_s: length of each infant's generated movement (clips are drawn from it).
        rotation: the infant lies rotated by up to +-``rotation`` degrees in the image (uniform).
        shift: the infant lies up to +-``shift`` cm off the camera axis, in x and y (uniform).
        noise_mm: depth noise (Gaussian sd, mm); hole_rate: share of pixels without a reading (depth 0).
    Returns:
        clips (N, 3, H, W) uint16 depth in mm, keypoints (N, 3, 12, 2) float32 (x, y) pixels (NaN = outside the
        image), subjects (N,) int64 infant index, with N = n_infants * clips_per_infant, infant by infant.
    """
    if int(n_infants) != n_infants or n_infants < 1 or int(clips_per_infant) != clips_per_infant \
            or clips_per_infant < 1:
        raise ConfigError(f"n_infants and clips_per_infant must be positive integers, got {n_infants!r} and "
                          f"{clips_per_infant!r}")
    if int(height) < 8 or int(width) < 8:
        raise ConfigError(f"height and width must be at least 8 pixels, got {height}x{width}")
    if not duration_s * 30.0 >= CLIP_LENGTH or rotation < 0 or shift < 0 or noise_mm < 0 or not 0 <= hole_rate < 1:
        raise ConfigError(f"invalid synthetic clip settings: duration_s={duration_s} (>= 0.1), rotation={rotation}, "
                          f"shift={shift}, noise_mm={noise_mm} (>= 0), hole_rate={hole_rate} (in [0, 1))")
    cohort = make_cohort("cp", int(n_infants), seed=seed, duration_s=float(duration_s), skeleton="babypose-12",
                          depth=True)
    rng = np.random.default_rng([seed, 4])
    clips, keypoints, subjects = [], [], []
    for i, recipe in enumerate(cohort.metadata["depth"]):
        body = recipe.body.scaled(PRETERM_SCALE)
        motion = generate(body, recipe.profile, recipe.duration_s, recipe.fps, recipe.motion_seed)
        frames = motion.points.shape[0]
        starts = rng.integers(0, frames - CLIP_LENGTH + 1, size=int(clips_per_infant))
        index = (starts[:, None] + np.arange(CLIP_LENGTH)[None]).reshape(-1)
        camera = depth_camera(int(width), int(height), body=body)
        camera = dataclasses.replace(
            camera, rotation=float(rng.uniform(-rotation, rotation)),
            translation=tuple(np.asarray(camera.translation) + rng.uniform(-shift, shift, 2)))
        depth, kp, _ = render_depth(motion.points[index], body, camera, noise_mm=noise_mm, hole_rate=hole_rate,
                                    seed=np.random.default_rng([recipe.seed % 2 ** 63, 4]))
        outside = (kp[..., 0] < -0.5) | (kp[..., 0] > width - 0.5) | (kp[..., 1] < -0.5) | (kp[..., 1] > height - 0.5)
        kp = np.where(outside[..., None], np.nan, kp)
        clips.append(depth.reshape(-1, CLIP_LENGTH, int(height), int(width)))
        keypoints.append(kp.reshape(-1, CLIP_LENGTH, 12, 2))
        subjects.append(np.full(int(clips_per_infant), i, dtype=np.int64))
    return (np.concatenate(clips), np.concatenate(keypoints).astype(np.float32), np.concatenate(subjects))
