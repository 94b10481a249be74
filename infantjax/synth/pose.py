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
from infantjax.synth.rendering import render_frames

__all__ = ["PIXEL_OFFSET", "ROTATION", "SKELETON", "synthetic_examples"]

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
