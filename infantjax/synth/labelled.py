"""Rendered infants as a lab's labelled project: a DeepLabCut project or a COCO keypoint export whose labels are the
renderer's exact keypoints (In-Motion 19 names), so that every step of a lab's loop — read, fine-tune, evaluate, pick
frames — can be tried and tested where the truth is exact (``docs/your-data.md``).

    from infantjax.synth.labelled import labelled_project
    labelled_project("infants-synthetic", videos=30, frames_per_video=10)           # DeepLabCut
    labelled_project("infants-coco", videos=30, frames_per_video=10, format="coco")  # CVAT-like COCO

Each video is one rendered infant (body, movements, appearance, camera: a 640 × 480 phone or camcorder frame,
rolled up to ±30°, the trunk 14–36 % of the short side) seen at ``frames_per_video`` random moments of 20 s of its
movements. Every keypoint inside the frame is labelled, as In-Motion Poses' annotators labelled hidden joints too
(COCO marks the ones the renderer saw hidden with ``v = 1``); one outside the frame is not. Labels use DeepLabCut's pixel convention (the centre of the top-left
pixel at (0, 0)), the renderer's own.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Sequence

import numpy as np

from infantjax import skeleton as _skeleton
from infantjax.errors import ConfigError

__all__ = ["labelled_project"]


def labelled_project(out: str | os.PathLike, *, videos: int = 30, frames_per_video: int = 10,
                     size: tuple[int, int] = (480, 640), seed: int = 0, format: str = "deeplabcut",
                     scorer: str = "renderer", rotation_deg: Sequence[float] = (-30.0, 30.0),
                     trunk_fraction: Sequence[float] = (0.14, 0.36)) -> pathlib.Path:
    """Write rendered infants as a labelled project (module docstring).

    Arguments:
        out: the project folder (DeepLabCut) or the folder of ``annotations/`` and ``images/`` (COCO).
        videos: infants (one video each).
        frames_per_video: labelled frames of each.
        size: (height, width) of the frames.
        seed: everything is deterministic from it.
        format: ``"deeplabcut"`` or ``"coco"``.
        scorer: DeepLabCut's scorer name.

    Returns:
        the project folder (DeepLabCut) or the COCO ``.json``.
    """
    from infantjax.io.labelled import LabelledFrames, lab_skeleton, write_coco, write_deeplabcut
    from infantjax.synth.body import infant
    from infantjax.synth.movement import generate, movement_profile
    from infantjax.synth.recording import RecordingConfig, sample_camera
    from infantjax.synth.rendering import rasterize, sample_appearance

    if format not in ("deeplabcut", "coco"):
        raise ConfigError(f"format must be 'deeplabcut' or 'coco', got {format!r}")
    if int(videos) < 1 or int(frames_per_video) < 1:
        raise ConfigError(f"videos and frames_per_video must be >= 1, got {videos} and {frames_per_video}")
    skel = _skeleton.get("in-motion-19")
    h, w = int(size[0]), int(size[1])
    images: dict[str, list] = {}
    labels: dict[str, np.ndarray] = {}
    visible: dict[str, np.ndarray] = {}
    digits = 4
    for v in range(int(videos)):
        rng = np.random.default_rng([int(seed), v, 631])
        config = RecordingConfig(width=w, height=h, rotation_deg=tuple(rotation_deg),
                                 trunk_fraction=tuple(trunk_fraction))
        body = infant(rng)
        motion = generate(body, movement_profile(rng), duration_s=20.0, fps=15.0, seed=int(rng.integers(2 ** 31)))
        idx = np.sort(rng.choice(motion.num_frames, int(frames_per_video), replace=False))
        camera = sample_camera(config, body.trunk_length, rng)
        rendered = rasterize(motion.points[idx], body, camera, sample_appearance(rng))
        kp, vis = rendered.select(skel.name)
        name = f"infant{v:03d}"
        images[name] = [(f"img{int(i):0{digits}d}.png", rendered.frames[j]) for j, i in enumerate(idx)]
        xy = np.asarray(kp, np.float64)[..., :2].copy()
        outside = (xy[..., 0] < 0) | (xy[..., 0] > w - 1) | (xy[..., 1] < 0) | (xy[..., 1] > h - 1)
        xy[outside] = np.nan  # a keypoint outside the frame cannot be labelled
        labels[name] = xy
        visible[name] = np.asarray(vis, bool)
    root = pathlib.Path(out)
    if format == "deeplabcut":
        return write_deeplabcut(root, images, list(skel.keypoints), keypoints=labels, scorer=scorer,
                                edges=list(skel.edges), task="infants-synthetic")
    from PIL import Image

    from infantjax.io.files import atomic_path

    files, kps, vis, groups = [], [], [], []
    for name, frames in images.items():
        for j, (file, image) in enumerate(frames):
            rel = f"{name}_{pathlib.Path(file).stem}.png"
            (root / "images").mkdir(parents=True, exist_ok=True)
            with atomic_path(root / "images" / rel, suffix=".png") as tmp:
                Image.fromarray(image).save(tmp, format="PNG")
            files.append(rel)
            kps.append(labels[name][j])
            vis.append(visible[name][j])
            groups.append(name)
    lab, order, how = lab_skeleton(list(skel.keypoints), list(skel.edges), "infant")
    frames = LabelledFrames(root / "images", tuple(files), np.asarray(kps, np.float32)[:, order],
                            np.asarray(vis)[:, order], np.full((len(files), 2), (h, w)), tuple(groups), lab, how,
                            "coco", root)
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    return write_coco(root / "annotations" / "person_keypoints_default.json", frames)
