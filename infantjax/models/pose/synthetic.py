"""Pose networks on rendered synthetic infants: training examples, fine-tuning EfficientPose from the MPII
weights to the In-Motion 19 keypoints (seed 002, Paper II protocol at a small budget), held-out evaluation and
tracking a rendered synthetic video against its exact keypoints.

Coordinates: the renderer (:mod:`infantjax.synth.rendering`) puts the centre of pixel column ``j`` at ``x = j``,
while the official EfficientPose decoding (and :func:`train.prepare_examples`) puts it at ``x = j + 0.5``
(``(col + 0.5) / R``). :data:`PIXEL_OFFSET` converts between the two; every function here applies it, so rendered
truth and predictions are compared in the same frame.

Everything here is synthetic: a network trained by :func:`finetune_synthetic` has seen rendered capsule infants
only and is not a detector for real infants.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import tempfile
from collections.abc import Callable, Sequence

import jax
import numpy as np

from infantjax.errors import ConfigError
from infantjax.models.pose import train as T
from infantjax.models.pose.efficientpose import EfficientPoseSpec
from infantjax.models.pose.predictor import PosePredictor
from infantjax.sequence import SkeletonSequence

__all__ = [
    "PIXEL_OFFSET",
    "SyntheticTrack",
    "default_finetune_config",
    "evaluate_synthetic",
    "finetune_synthetic",
    "infant_spec",
    "synthetic_examples",
    "track_synthetic_video",
]

log = logging.getLogger(__name__)

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
        network inputs (N, R, R, 3) uint8, keypoints (N, 19, 2) as fractions of the input (for :func:`train.fit`),
        the rendered frames (N, R, R, 3) uint8 and their keypoints (N, 19, 2) in renderer pixels.
    """
    from infantjax import synth

    frames, kp, _ = synth.render_frames(int(n), seed=int(seed), height=int(resolution), width=int(resolution),
                                        skeleton=SKELETON, rotation_deg=tuple(rotation_deg))
    inputs, frac = T.prepare_examples(frames, kp + PIXEL_OFFSET, int(resolution))
    return inputs, frac, frames, kp


def infant_spec(variant: str = "rt", resolution: int = 128) -> EfficientPoseSpec:
    """EfficientPose (full graph) for the In-Motion 19 keypoints: K = 19, P = 2 · 18 limbs."""
    from infantjax import skeleton as _skeleton

    limbs = len(_skeleton.get(SKELETON).edges)
    return EfficientPoseSpec(variant, num_keypoints=19, num_pafs=2 * limbs, resolution=int(resolution))


def default_finetune_config(steps: int = 96, frames: int = 256, batch_size: int = 16) -> T.TrainConfig:
    """The CPU fine-tune used by the tests and ``experiments/train_infant_pose.py``: Adam from 1e-3 (Paper II)
    with cosine decay, the MPII backbone frozen, mild augmentation (flip, ±15°, scale 0.9–1.1) since the rendered
    recordings already vary in roll, size and position."""
    epochs = max(1, -(-int(steps) * int(batch_size) // int(frames)))
    return T.TrainConfig(optimizer="adam", learning_rate=1e-3, decay="cosine", epochs=epochs,
                         batch_size=int(batch_size), sigma=1.0, freeze_backbone=True,
                         augment=T.AugmentConfig(flip=0.5, rotation_deg=15.0, scale=(0.9, 1.1)))


def finetune_synthetic(mpii_variables: dict, *, variant: str = "rt", resolution: int = 128, frames: int = 256,
                       config: T.TrainConfig | None = None, seed: int = 0, progress: bool = True,
                       callback: Callable[[int, dict], None] | None = None, callback_every: int = 0,
                       ) -> tuple[PosePredictor, list[float]]:
    """Fine-tune EfficientPose from MPII weights to the In-Motion 19 keypoints on rendered synthetic infants.

    Arguments:
        mpii_variables: Flax variables of the official model (``load_efficientpose_h5(path).variables``).
        variant: EfficientPose variant of those weights (``rt``, ``i``, ...).
        resolution: network input R (the official RT uses 224; 128 keeps a CPU fine-tune short).
        frames: rendered training frames (seed ``seed``).
        config: training configuration (default :func:`default_finetune_config`).
        seed: render and head-initialisation seed.
        progress: tqdm progress bar.
        callback, callback_every: passed to :func:`train.fit` (e.g. held-out validation during training).

    Returns:
        the fine-tuned :class:`PosePredictor` (skeleton ``in-motion-19``) and the loss of every step.
    """
    config = config or default_finetune_config(frames=frames)
    spec = infant_spec(variant, resolution)
    variables = T.finetune_variables(mpii_variables, spec, jax.random.PRNGKey(seed))
    inputs, frac, _, _ = synthetic_examples(frames, resolution, seed=seed)
    variables, losses = T.fit(spec, variables, inputs, frac, config, skeleton=SKELETON, progress=progress,
                              callback=callback, callback_every=callback_every)
    return PosePredictor(spec, variables, SKELETON), losses


def evaluate_synthetic(predictor: PosePredictor, n: int = 96, *, seed: int = 10_000,
                       rotation_deg: Sequence[float] = ROTATION, batch_size: int = 32) -> dict:
    """PCKh@τ, ME and PCKh@Human^0.95 (:func:`train.evaluate`) of a predictor on held-out rendered frames
    (rendered at the predictor's resolution; seeds ≥ 10,000 are never used for training here)."""
    r = predictor.resolution
    _, _, frames, kp = synthetic_examples(n, r, seed=seed, rotation_deg=rotation_deg)
    xy = np.concatenate([predictor.keypoints_batch(frames[s:s + batch_size], pad_to=batch_size)[0]
                         for s in range(0, len(frames), batch_size)])
    return T.evaluate(xy * r - PIXEL_OFFSET, kp, predictor.skeleton)


@dataclasses.dataclass(frozen=True, eq=False)
class SyntheticTrack:
    """Result of :func:`track_synthetic_video`.

    ``sequence``: the tracked :class:`SkeletonSequence` (pixels as ``PosePredictor.track`` reports them);
    ``truth``: (T, 19, 2) rendered keypoints in the same pixel frame; ``pckh``: PCKh@0.5 of the tracking against
    the truth; ``metrics``: all of :func:`train.evaluate`; ``video``: path of the rendered video (None when it was
    written to a temporary directory that is gone).
    """

    sequence: SkeletonSequence
    truth: np.ndarray
    pckh: float
    metrics: dict
    video: str | None


def track_synthetic_video(predictor: PosePredictor | None = None, *, duration_s: float = 10.0, fps: float = 15.0,
                          size: tuple[int, int] | None = None, seed: int = 0, video_path: str | None = None,
                          batch_size: int = 16, progress: bool = False) -> SyntheticTrack:
    """Render one synthetic infant video, track it and score the keypoints against the rendered truth.

    Arguments:
        predictor: an In-Motion 19 predictor (default ``PosePredictor.pretrained("rt-synthetic-infant")``).
        duration_s: video length in seconds.
        fps: frame rate.
        size: (height, width) of the video (default the predictor's square resolution).
        seed: the infant, its movements, camera and appearance.
        video_path: where to write the video (default a temporary file, deleted afterwards).
        batch_size: frames per forward pass.
        progress: progress bar while tracking.

    Returns:
        a :class:`SyntheticTrack` (sequence, truth, PCKh@0.5, metrics, video path).
    """
    from infantjax import synth
    from infantjax.io import write_video
    from infantjax.synth.rendering import render, sample_appearance

    predictor = predictor or PosePredictor.pretrained("rt-synthetic-infant")
    if predictor.skeleton.name != SKELETON:
        raise ConfigError(f"track_synthetic_video needs an {SKELETON} predictor, got {predictor.skeleton.name!r}")
    if not (duration_s > 0 and fps > 0):
        raise ConfigError(f"duration_s and fps must be > 0, got {duration_s} and {fps}")
    h, w = (predictor.resolution, predictor.resolution) if size is None else (int(size[0]), int(size[1]))
    rng = np.random.default_rng(seed)
    body = synth.infant(rng)
    motion = synth.generate(body, synth.typical_profile(rng), duration_s=float(duration_s), fps=float(fps),
                            seed=int(rng.integers(2 ** 31)))
    camera = synth.sample_camera(synth.RecordingConfig(width=w, height=h), body.trunk_length, rng)
    frames, truth = [], []
    for out in render(motion.points, body, camera, sample_appearance(rng), batch=16):
        frames.append(out.frames)
        truth.append(out.select(SKELETON)[0])
    truth_px = np.concatenate(truth).astype(np.float32) + PIXEL_OFFSET
    with tempfile.TemporaryDirectory() as tmp:
        path = video_path or os.path.join(tmp, "synthetic_infant.mp4")
        write_video(path, np.concatenate(frames), fps=float(fps))
        seq = predictor.track(path, batch_size=batch_size, progress=progress)
    metrics = T.evaluate(seq.coords, truth_px, SKELETON)
    log.info("tracked %d synthetic frames: PCKh@0.5 = %.3f", seq.num_frames, metrics["pckh@0.5"])
    return SyntheticTrack(seq, truth_px, float(metrics["pckh@0.5"]), metrics, video_path)
