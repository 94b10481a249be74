"""Depth frames of the preterm set-up of seed 004 and the babyPose joint / connection masks.

Seed 004 (Migliorelli et al.): an RGB-D camera ≈ 40 cm above the crib, 640×480 depth at 30 fps, frames resized
to 128×96 for the networks; 12 limb joints (babyPose order) and 8 joint connections; per frame 20 ground-truth
masks: **binary** — all pixels within a circle of radius r around a joint, and a rectangle of thickness r
centred on the line between two connected joints; **Gaussian** — the same regions with a Gaussian profile of
standard deviation 3·r (around the joint, and across the connection line); r = 6 px at 128×96.

:func:`limb_masks` uses the depth models' target maps (``infantjax.preprocess.depth_targets``): one implementation.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from infantjax import skeleton as _skeleton
from infantjax.errors import ConfigError
from infantjax.io.files import save_npz
from infantjax.synth.body import Body
from infantjax.synth.movement import MovementProfile, generate
from infantjax.synth.recording import Camera
from infantjax.synth.rendering import rasterize

__all__ = ["PRETERM_SCALE", "DepthClip", "depth_camera", "limb_masks", "render_depth"]

PRETERM_SCALE = 0.72  # a preterm infant in the NICU is ≈ 0.72 × the size of a 12-week-old (≈ 43 vs 60 cm)


def limb_masks(keypoints: np.ndarray, height: int, width: int, radius: float = 6.0, kind: str = "binary",
               edges=None) -> np.ndarray:
    """The 12 joint and 8 connection masks of seed 004 for babyPose-12 keypoints.

    One implementation in infantjax: this calls ``infantjax.preprocess.depth_targets.limb_target_maps`` (binary: disc
    of radius r, rectangle of thickness r; Gaussian: σ = 3·r across the same regions).

    Arguments:
        keypoints: (N, 12, 2) pixel (x, y) in babyPose order; NaN marks a missing joint.
        height, width: mask size.
        radius: r in pixels (seed 004: 6 at 128×96).
        kind: ``"binary"`` or ``"gaussian"``.
        edges: connections other than the 8 of ``babypose-12`` (optional).

    Returns:
        (N, H, W, 20) float32: channels 0–11 joints, 12–19 connections (channels-last).
    """
    from infantjax.preprocess.depth_targets import limb_target_maps

    kp = np.asarray(keypoints, dtype=np.float32)
    if kp.ndim != 3 or kp.shape[2] != 2:
        raise ConfigError(f"limb_masks needs keypoints of shape (N, J, 2), got {kp.shape}")
    if kind not in ("binary", "gaussian"):
        raise ConfigError(f"limb_masks kind must be 'binary' or 'gaussian', got {kind!r}")
    skel = _skeleton.get("babypose-12")
    if edges is not None:
        skel = dataclasses.replace(skel, name="babypose-12-custom", edges=tuple(tuple(e) for e in edges))
    return limb_target_maps(kp, height, width, radius, kind, skeleton=skel).astype(np.float32)


def depth_camera(width: int = 640, height: int = 480, distance: float = 40.0, body: Body | None = None) -> Camera:
    """The seed 004 camera: ≈ 40 cm above the crib, 640×480 (a 60° × 47° field of view: focal ≈ 555 px)."""
    focal = 0.5 * width / np.tan(np.deg2rad(30.0))
    translation = (0.0, 0.3 * (body.trunk_length if body is not None else 13.0))
    return Camera(width, height, focal, distance, 0.0, translation, (0.0, 0.0))


def render_depth(points: np.ndarray, body: Body, camera: Camera, *, noise_mm: float = 2.0, hole_rate: float = 0.002,
                 seed=0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Depth frames of body keypoints (N, K, 3) (body frame, cm).

    Returns:
        depth (N, H, W) uint16 in millimetres (0 = no reading, as structured-light cameras report holes),
        babyPose-12 keypoints (N, 12, 2) pixels, visibility (N, 12) bool.
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    out = rasterize(points, body, camera, colour=False)
    depth_cm = camera.distance - out.height  # the mattress is at the camera distance
    depth = depth_cm * 10.0 + rng.normal(0.0, noise_mm, depth_cm.shape)
    depth[rng.random(depth.shape) < hole_rate] = 0.0
    kp, vis = out.select("babypose-12")
    return np.clip(depth, 0, 65535).astype(np.uint16), kp.astype(np.float32), vis


@dataclasses.dataclass(frozen=True)
class DepthClip:
    """A depth recording's recipe (the cohort's ``depth`` column): preterm-sized body, seed 004 camera."""

    body: Body
    profile: MovementProfile
    duration_s: float
    motion_seed: int
    seed: int
    fps: float = 30.0

    def render(self, *, frames: int | None = None, width: int = 640, height: int = 480, radius: float | None = None,
               masks: str | None = "binary") -> dict[str, np.ndarray]:
        """Render the clip (or its first ``frames`` frames).

        Returns:
            ``depth`` (N, H, W) uint16 mm, ``keypoints`` (N, 12, 2), ``visibility`` (N, 12) and, unless
            ``masks`` is None, ``masks`` (N, H, W, 20) of that kind (r = 6 px at 128×96, scaled with the width).
        """
        body = self.body.scaled(PRETERM_SCALE)
        motion = generate(body, self.profile, self.duration_s, self.fps, self.motion_seed)
        pts = motion.points if frames is None else motion.points[:frames]
        cam = depth_camera(width, height, body=body)
        depth, kp, vis = render_depth(pts, body, cam, seed=self.seed)
        out = {"depth": depth, "keypoints": kp, "visibility": vis}
        if masks is not None:
            r = radius if radius is not None else 6.0 * width / 128.0
            out["masks"] = limb_masks(kp, height, width, r, masks)
        return out

    def save(self, path, **kwargs) -> str:
        """Render and write an ``.npz`` (depth, keypoints, visibility, masks) atomically; returns the path."""
        save_npz(path, self.render(**kwargs))
        return os.fspath(path)
