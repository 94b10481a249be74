"""Pose-training examples from the rendered synthetic infant (:func:`synthetic_examples`).

Coordinates: the renderer (:mod:`infantjax.synth.rendering`) puts the centre of pixel column ``j`` at ``x = j``,
while the official EfficientPose decoding (and :func:`infantjax.preprocess.image.prepare_examples`) puts it at
``x = j + 0.5`` (``(col + 0.5) / R``). :data:`PIXEL_OFFSET` converts between the two; :func:`synthetic_examples`
applies it, so rendered truth and predictions compare in the same frame.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from infantjax.errors import ConfigError
from infantjax.preprocess.image import prepare_examples
from infantjax.preprocess.roi import crop_square, letterbox_box
from infantjax.synth.rendering import render_frames

__all__ = ["PIXEL_OFFSET", "ROTATION", "SKELETON", "occlude", "roi_examples", "synthetic_examples"]

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
                 occluders: float = 0.0, grey: float = 0.0, dim: float = 0.0, shake: float = 0.0,
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

    What a home video adds beyond that, each for a share of the frames (none by default, so that the examples of
    a seed stay those the shipped model was trained on): ``occluders`` — a blanket over the legs side of the body
    (its edge anywhere from above the hips to below the knees), a parent's hand and arm reaching in from an edge,
    or a toy on a limb (:func:`occlude`); a joint an occluder hides gets NaN keypoints, PoseData's "no target", so
    that a network trained on them gives a hidden joint no heatmap peak (a low confidence) instead of drawing it
    where it guesses; ``grey`` — grey-scale crops (an infrared baby monitor, a black-and-white filter), with a
    gamma of 0.6–1.5; ``dim`` — a dark room (gain 0.2–0.5 and the stronger sensor noise of a phone at high ISO);
    ``shake`` — motion blur along a random direction (3–9 px of the crop), a hand-held camera.

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
        occluders: share of frames with an occluder over the infant (0 to 1).
        grey: share of crops made grey-scale (0 to 1).
        dim: share of crops darkened with high-ISO noise (0 to 1).
        shake: share of crops with motion blur (0 to 1).

    Returns:
        inputs (N, R, R, 3) uint8, keypoints (N, 19, 2) float32 as fractions of the input (in EfficientPose's
        pixel convention, :data:`PIXEL_OFFSET` applied; NaN where an occluder hides the joint) and the visibility
        (N, 19) bool (False where the infant's own body or an occluder hides the joint).

    Raises:
        ConfigError: a share outside [0, 1].
    """
    from infantjax.preprocess import roi as _roi
    from infantjax.synth.recording import RecordingConfig
    from infantjax.synth.rendering import _sampled_infant

    for name, share in (("occluders", occluders), ("grey", grey), ("dim", dim), ("shake", shake)):
        if not 0.0 <= float(share) <= 1.0:
            raise ConfigError(f"roi_examples: {name} is a share of the frames, between 0 and 1; got {share}")
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
        out = _sampled_infant(rng, config, stop - start)
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
            hidden = np.zeros(19, bool)
            if occluders:  # its own stream: the other draws of a seed stay as they were without occluders
                o_rng = np.random.default_rng([int(seed), start + i, 14])
                if o_rng.random() < occluders:
                    covered, hidden = occlude(frame[0], k[i], o_rng)
                    frame = covered[None]
            if degrade:
                frame = _degrade(frame, rng)
            inputs[start + i] = crop_square(frame, box, r)[0]
            kps[start + i] = box.to_fraction(k[i])
            kps[start + i, hidden] = np.nan
            vis[start + i] = v[i] & ~hidden
    if degrade:
        inputs = _degrade_crops(inputs, np.random.default_rng([int(seed), 12]))
    if grey or dim or shake:
        inputs = _home_video(inputs, np.random.default_rng([int(seed), 13]), grey=grey, dim=dim, shake=shake)
    return inputs, kps, vis


_LIMB_ENDS = (6, 7, 10, 11, 14, 15, 17, 18)  # elbows, wrists, knees, ankles: where a toy or a hand lands


def occlude(frame: np.ndarray, keypoints: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """An occluder drawn over a rendered frame, and the In-Motion 19 joints it hides.

    One of: a blanket (half of the draws) whose edge crosses the body between above the hips and below the knees,
    covering the legs side, with a wavy edge, a colour and a pattern of its own; a parent's hand and forearm
    (three in ten) reaching from a frame edge to a joint; a toy (the rest), an ellipse on a limb's end.

    Arguments:
        frame: (H, W, 3) uint8 frame.
        keypoints: (19, 2) In-Motion 19 pixel positions (x, y) in the frame.
        rng: the generator every choice is drawn from.

    Returns:
        the frame with the occluder (a copy) and (19,) bool: True where the occluder covers the joint's pixel.
    """
    h, w = frame.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    k = np.asarray(keypoints, np.float32)
    hips, knees = k[[13, 16]].mean(0), k[[14, 17]].mean(0)
    shoulders = k[[5, 9]].mean(0)
    trunk = max(float(np.linalg.norm(shoulders - hips)), 4.0)
    kind = rng.random()
    if kind < 0.5:  # a blanket: the half-plane beyond a line across the body, on the legs' side
        up = (shoulders - hips) / trunk
        edge = hips + rng.uniform(-0.35, 0.9) * (knees - hips)
        across = np.array([-up[1], up[0]], np.float32)
        along = (xx - edge[0]) * up[0] + (yy - edge[1]) * up[1]
        lateral = (xx - edge[0]) * across[0] + (yy - edge[1]) * across[1]
        wave = 0.06 * trunk * np.sin(lateral / (0.25 * trunk) + rng.uniform(0, 2 * np.pi))
        mask = along + wave < 0
        colour = rng.uniform(40, 235, 3)
        accent = np.clip(colour + rng.uniform(-60, 60, 3), 0, 255)
        period = rng.uniform(0.15, 0.4) * trunk
        stripes = (np.floor((lateral * np.cos(rng.uniform(0, np.pi)) + along) / period) % 2)[..., None]
        paint = colour * (1 - stripes) + accent * stripes if rng.random() < 0.6 else np.broadcast_to(colour, (h, w, 3))
    elif kind < 0.8:  # a hand and forearm from an edge to a joint
        target = k[int(rng.choice(_LIMB_ENDS + (0, 8, 12)))] + rng.normal(0, 0.1 * trunk, 2)
        side = int(rng.integers(4))
        start = np.array([(0.0, rng.uniform(0, h)), (w - 1.0, rng.uniform(0, h)),
                          (rng.uniform(0, w), 0.0), (rng.uniform(0, w), h - 1.0)][side], np.float32)
        d = target - start
        length = max(float(np.linalg.norm(d)), 1.0)
        d = d / length
        t = np.clip((xx - start[0]) * d[0] + (yy - start[1]) * d[1], 0, length)
        dist = np.hypot(xx - (start[0] + t * d[0]), yy - (start[1] + t * d[1]))
        width = rng.uniform(0.18, 0.3) * trunk
        mask = dist < width
        skin = np.array([rng.uniform(120, 240), rng.uniform(80, 190), rng.uniform(60, 160)])
        shade = 1.0 - 0.25 * (dist / width)[..., None]
        paint = skin * shade
    else:  # a toy on a limb's end
        centre = k[int(rng.choice(_LIMB_ENDS))] + rng.normal(0, 0.08 * trunk, 2)
        a, b = rng.uniform(0.15, 0.35, 2) * trunk
        angle = rng.uniform(0, np.pi)
        dx, dy = xx - centre[0], yy - centre[1]
        u = dx * np.cos(angle) + dy * np.sin(angle)
        v = -dx * np.sin(angle) + dy * np.cos(angle)
        mask = (u / a) ** 2 + (v / b) ** 2 < 1
        paint = np.broadcast_to(rng.uniform(0, 255, 3), (h, w, 3))
    out = frame.copy()
    out[mask] = np.clip(np.rint(np.asarray(paint, np.float32)[mask]), 0, 255).astype(np.uint8)
    col = np.clip(np.rint(k[:, 0]), 0, w - 1).astype(int)
    row = np.clip(np.rint(k[:, 1]), 0, h - 1).astype(int)
    inside = (k[:, 0] >= 0) & (k[:, 0] <= w - 1) & (k[:, 1] >= 0) & (k[:, 1] <= h - 1)
    hidden = mask[row, col] & inside
    if hidden.all():  # nothing left to find: no occluder (an example needs a labelled joint)
        return frame.copy(), np.zeros(len(k), bool)
    return out, hidden


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


def _home_video(inputs: np.ndarray, rng: np.random.Generator, *, grey: float, dim: float,
                shake: float) -> np.ndarray:
    """Grey-scale (infrared) crops, a dark room's gain and noise, a hand-held camera's motion blur."""
    from scipy import ndimage as ndi

    out = inputs.copy()
    for i in range(len(out)):
        x = out[i].astype(np.float32)
        if rng.random() < shake:
            n = int(rng.integers(3, 10))
            angle = rng.uniform(0, np.pi)
            kernel = np.zeros((n, n), np.float32)
            c = (n - 1) / 2
            for t in np.linspace(-c, c, 4 * n):
                kernel[int(round(c + t * np.sin(angle))), int(round(c + t * np.cos(angle)))] = 1.0
            kernel /= kernel.sum()
            x = ndi.convolve(x, kernel[..., None], mode="nearest")  # each colour channel on its own
        if rng.random() < dim:
            x = x * rng.uniform(0.2, 0.5) + rng.normal(0.0, rng.uniform(3.0, 10.0), x.shape)
        if rng.random() < grey:
            lum = np.clip(x @ np.array([0.299, 0.587, 0.114], np.float32), 0, 255) / 255.0
            x = np.repeat((255.0 * lum ** rng.uniform(0.6, 1.5))[..., None], 3, -1)
        out[i] = np.clip(np.rint(x), 0, 255).astype(np.uint8)
    return out
