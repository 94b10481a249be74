"""Class activation maps per joint, as the reference computes them (gcn_reference A.10, EfficientGCN-style).

For one instance and one window the model's CAM (T', V, classes) comes from
:func:`infantjax.models.gcn.class_activation_map`; :func:`~infantjax.models.gcn.cam.joint_scores` reduces it to a
score per joint. The reference takes the median over time per joint, the
CP-class map minus the no-CP-class map, divides by the largest absolute value over the joints and clamps at 0.
Over an ensemble: the median over instances per window, then the median over windows for the video.
"""

from __future__ import annotations

import numpy as np
from jaxtyping import Float

from infantjax.errors import DataError
from infantjax.models.gcn.cam import joint_scores

__all__ = ["aggregate_cam", "cam_colour", "joint_scores"]


def aggregate_cam(scores: Float[np.ndarray, "I W V"]) -> tuple[np.ndarray, np.ndarray]:
    """Ensemble CAM: the median over instances per window, then the median over windows (reference order).

    Arguments:
        scores: (I, W, V) per-instance, per-window joint scores (:func:`joint_scores`).

    Returns:
        (window CAM (W, V), video CAM (V,)).
    """
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 3:
        raise DataError(f"CAM scores must be (instances, windows, joints), got shape {s.shape}")
    window = np.median(s, axis=0)
    return window, np.median(window, axis=0)


def cam_colour(score) -> np.ndarray:
    """RGB colour of a CAM score as the reference plots it: (score^¼, 1 − score^¼, 0) — red high, green low."""
    s = np.clip(np.asarray(score, dtype=np.float64), 0.0, 1.0) ** 0.25
    return np.stack([s, 1.0 - s, np.zeros_like(s)], axis=-1)
