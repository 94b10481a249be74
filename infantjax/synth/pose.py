"""Pose-training examples from the rendered synthetic infant (:func:`synthetic_examples`).

Coordinates: the renderer (:mod:`infantjax.synth.rendering`) puts the centre of pixel column ``j`` at ``x = j``,
while the official EfficientPose decoding (and :func:`infantjax.preprocess.image.prepare_examples`) puts it at
``x = j + 0.5`` (``(col + 0.5) / R``). :data:`PIXEL_OFFSET` converts between the two; :func:`synthetic_examples`
applies it, so rendered truth and predictions compare in the same frame.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from infantjax.preprocess.image import prepare_examples
from infantjax.preprocess.roi import crop_square, letterbox_box
from infantjax.synth.rendering import render_frames

__all__ = ["PIXEL_OFFSET", "ROTATION", "SKELETON", "roi_examples", "synthetic_examples"]

SKELETON = "in-motion-19"
# renderer pixel centres are at integer coordinates, EfficientPose's at +0.5 (see the module docstring)
PIXEL_OFFSET = 0.5
# camera roll of the synthetic recordings (synth.RecordingConfig default)
ROTATION = (-30.0, 30.0)


def synthetic_examples(n: int, resolution: int, *, seed: int = 0, rotation_deg: Sequence[float] = ROTATION,
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rendered training/validation frames at the network resolution.

    Arguments:
        n: number of frames (8 per sampled infant, body/appearance/camera drawn per infant).
        resolution: R (frames are rendered R × R).
        seed: render seed (use disjoint seeds for training and held-out frames).
        rotation_deg: range of the in-plane camera roll.

    Returns:
        network inputs (N, R, R, 3) uint8, keypoints (N, 19, 2) as fractions of the input (:class:`infantjax.train.PoseData`),
        the rendered frames (N, R, R, 3) uint8 and their keypoints (N, 19, 2) in renderer pixels.
    """
    frames, kp, _ = render_frames(int(n), seed=int(seed), height=int(resolution), width=int(resolution),
                                        skeleton=SKELETON, rotation_deg=tuple(rotation_deg))
    inputs, frac = prepare_examples(frames, kp + PIXEL_OFFSET, int(resolution))
    return inputs, frac, frames, kp


def roi_examples(n: int, resolution: int, *, seed: int = 0, rotation_deg: Sequence[float] = (-45.0, 45.0),
                 upside_down: float = 0.1, sizes: Sequence[tuple[int, int]] = ((480, 640), (640, 480), (360, 480)),
                 trunk_fraction: Sequence[float] = (0.14, 0.36), full_frame: float = 0.1,
                 frames_per_infant: int = 8, margin: float | None = None, degrade: bool = True,
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Region-of-interest training frames: the crops the infant tracker feeds its network.

    Each group of ``frames_per_infant`` frames shows one sampled infant (body, movement, appearance, camera) at
    random moments, rendered at a camera's size (one of ``sizes``, (height, width)), then cut to the square the
    tracker would follow (:func:`infantjax.preprocess.roi.box_around`, with the tracker's ``margin``) moved and
    resized at random as a tracker that lags a few frames behind would (centre ± 8 % of the side, side × 0.85–1.3)
    — or, for a share ``full_frame`` of the frames, the whole letterboxed frame (how the tracker finds the infant
    first) — and resized to ``resolution`` by :func:`infantjax.preprocess.roi.crop_square`. With ``degrade``
    the crops get what phone videos add: Gaussian blur (half of them, σ up to 1.2 px of the source), sensor noise,
    JPEG compression (quality 35–95), brightness, contrast and colour shifts.

    Arguments:
        n: number of frames.
        resolution: R of the network input.
        seed: everything is deterministic from it (use disjoint seeds for training and held-out frames).
        rotation_deg: range of the camera roll; a share ``upside_down`` of the infants is turned by 180° more.
        upside_down: share of infants seen head-down.
        sizes: camera frame sizes (height, width) drawn from.
        trunk_fraction: range of the trunk length as a fraction of the frame's short side.
        full_frame: share of frames given as the whole letterboxed frame.
        frames_per_infant: frames per sampled infant.
        margin: the tracker's margin (default :data:`infantjax.models.pose.roi.MARGIN`).
        degrade: add blur, noise, compression and lighting changes.

    Returns:
        inputs (N, R, R, 3) uint8, keypoints (N, 19, 2) float32 as fractions of the input (in EfficientPose's
        pixel convention, :data:`PIXEL_OFFSET` applied) and the visibility (N, 19) bool.
    """
    from infantjax.preprocess import roi as _roi
    from infantjax.synth.body import infant
    from infantjax.synth.movement import generate, movement_profile
    from infantjax.synth.recording import RecordingConfig, sample_camera
    from infantjax.synth.rendering import rasterize, sample_appearance

    margin = _roi.MARGIN if margin is None else float(margin)
    r = int(resolution)
    inputs = np.zeros((n, r, r, 3), np.uint8)
    kps = np.zeros((n, 19, 2), np.float32)
    vis = np.zeros((n, 19), bool)
    for g, start in enumerate(range(0, n, frames_per_infant)):
        rng = np.random.default_rng([int(seed), g, 11])
        stop = min(start + frames_per_infant, n)
        h, w = sizes[int(rng.integers(len(sizes)))]
        roll = tuple(rotation_deg)
        if rng.random() < upside_down:
            roll = (roll[0] + 180.0, roll[1] + 180.0)
        config = RecordingConfig(width=int(w), height=int(h), rotation_deg=roll,
                                 trunk_fraction=tuple(trunk_fraction))
        body = infant(rng)
        kind = rng.random()
        profile = movement_profile(rng, chop_intend=float(rng.uniform(0, 72)) if kind < 0.15 else None)
        motion = generate(body, profile, duration_s=20.0, fps=15.0, seed=int(rng.integers(2 ** 31)))
        idx = np.sort(rng.choice(motion.num_frames, stop - start, replace=False))
        camera = sample_camera(config, body.trunk_length, rng)
        out = rasterize(motion.points[idx], body, camera, sample_appearance(rng))
        k, v = out.select(SKELETON)
        k = k + PIXEL_OFFSET
        for i in range(stop - start):
            if rng.random() < full_frame:
                box = letterbox_box(h, w)
            else:
                box = _roi.box_around(k[i], (h, w), margin=margin)
                side = box.side * float(np.exp(rng.uniform(np.log(0.85), np.log(1.3))))
                cx = box.x0 + box.side / 2 + rng.uniform(-0.08, 0.08) * side
                cy = box.y0 + box.side / 2 + rng.uniform(-0.08, 0.08) * side
                box = _roi.square(cx, cy, side)
            frame = out.frames[i:i + 1]
            if degrade:
                frame = _degrade(frame, rng)
            inputs[start + i] = crop_square(frame, box, r)[0]
            kps[start + i] = box.to_fraction(k[i])
            vis[start + i] = v[i]
    if degrade:
        inputs = _degrade_crops(inputs, np.random.default_rng([int(seed), 12]))
    return inputs, kps, vis


def _degrade(frame: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Blur and noise at the source's resolution (a phone's optics and sensor)."""
    from scipy import ndimage as ndi

    x = frame.astype(np.float32)
    if rng.random() < 0.5:
        x = ndi.gaussian_filter(x, (0, *(2 * [rng.uniform(0.3, 1.2)]), 0))
    if rng.random() < 0.5:
        x = x + rng.normal(0.0, rng.uniform(1.0, 6.0), x.shape).astype(np.float32)
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def _degrade_crops(inputs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Lighting and compression of the network inputs: brightness, contrast, colour balance, JPEG."""
    import io

    from PIL import Image

    out = inputs.copy()
    for i in range(len(out)):
        x = out[i].astype(np.float32)
        if rng.random() < 0.7:
            gain = rng.uniform(0.7, 1.25) * rng.uniform(0.92, 1.08, 3)
            x = (x - 128.0) * rng.uniform(0.75, 1.15) + 128.0 + rng.uniform(-20, 20)
            x = x * gain
        img = np.clip(np.rint(x), 0, 255).astype(np.uint8)
        if rng.random() < 0.5:
            buf = io.BytesIO()
            Image.fromarray(img).save(buf, format="JPEG", quality=int(rng.integers(35, 96)))
            img = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
        out[i] = img
    return out
