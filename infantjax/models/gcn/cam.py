"""Per-joint scores of a GCN's class activation map (gcn_reference A.10, EfficientGCN-style): the reduction that
runs inside the jitted scoring program of an ensemble; its aggregation over instances and windows is
:func:`infantjax.explain.aggregate_cam`."""

from __future__ import annotations

import jax.numpy as jnp
from jaxtyping import Array, Float

__all__ = ["joint_scores"]


def joint_scores(cam_map: Float[Array, "... T V K"], positive_class: int = 1, *,
                 signed: bool = False) -> Float[Array, "... V"]:
    """Per-joint CAM score of one window (any leading axes; jit-able).

    Arguments:
        cam_map: (..., T', V, classes) class activation maps.
        positive_class: the CP class (1); the other class is class 0.
        signed: keep the sign (scores in [-1, 1]) instead of clamping at 0. The positive part is the
            reference's CP score; the negative part, negated, is the same computation with the two classes
            swapped (the no-CP class's score), both on the one scale of the window's largest absolute
            difference.

    Returns:
        (..., V) scores in [0, 1]: median over time of (CP map − no-CP map), divided by its largest absolute value
        over the joints, clamped at 0 (all zeros where every joint scores 0); in [-1, 1] unclamped with
        ``signed=True``.
    """
    per_joint = jnp.median(cam_map, axis=-3)  # (..., V, K)
    diff = per_joint[..., positive_class] - per_joint[..., 1 - positive_class]
    scale = jnp.max(jnp.abs(diff), axis=-1, keepdims=True)
    scaled = jnp.where(scale > 0, diff / jnp.where(scale > 0, scale, 1.0), 0.0)
    return scaled if signed else jnp.maximum(scaled, 0.0)
