"""Vanilla-gradient saliency of the smartphone model (seed 003): the gradient of a video's probability with respect
to the 46 × 128 input of every clip, aggregated per feature and per clip.

The paper explains its predictions this way; the public code has no saliency (other_seeds_reference §1.9), so this
follows the paper's description: |∂p/∂x| of the uncalibrated probability p = σ(logit) of the video, with all its
clips as one input (so the attention over clips is part of the gradient).
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Float

from infantjax import skeleton as _skeleton
from infantjax.errors import DataError

__all__ = ["Saliency", "feature_names", "video_saliency"]


def feature_names() -> list[str]:
    """The 46 Passmore feature names: ``<joint>_x``, ``<joint>_y`` for the 18 points, then the 10 joint angles."""
    from infantjax.preprocess.passmore import JOINT_ANGLES

    joints = _skeleton.get("passmore-18").keypoints
    return [f"{j}_{a}" for j in joints for a in ("x", "y")] + [f"{name}_angle" for name, _ in JOINT_ANGLES]


@dataclasses.dataclass(frozen=True)
class Saliency:
    """Saliency of one video.

    Attributes:
        gradient: (clips, 46, 128) ∂p/∂x.
        per_feature: (46,) mean |∂p/∂x| over clips and time.
        per_clip: (clips,) mean |∂p/∂x| over features and time.
        probability: the video's probability σ(logit).
        attention: (clips,) the attention weight of every clip.
    """

    gradient: np.ndarray
    per_feature: np.ndarray
    per_clip: np.ndarray
    probability: float
    attention: np.ndarray


@functools.lru_cache(maxsize=8)
def _gradient(model):
    def prob(variables, x):
        logits, attention = model.apply(variables, x[None], train=False)
        return jax.nn.sigmoid(logits[0]), attention[0]

    return jax.jit(jax.value_and_grad(prob, argnums=1, has_aux=True))


def video_saliency(model, variables: dict, clips: Float[np.ndarray, "S 46 L"]) -> Saliency:
    """Vanilla-gradient saliency of one video.

    Arguments:
        model: the network (``PassmoreSpec().build()``).
        variables: one instance's variables.
        clips: (clips, 46, clip length) every clip of the video (``infantjax.train.passmore.video_clips``).

    Returns:
        a :class:`Saliency`.
    """
    x = np.asarray(clips, np.float32)
    if x.ndim != 3 or x.shape[1] != 46:
        raise DataError(f"video_saliency needs (clips, 46, time) clips of one video, got shape {x.shape}")
    (p, attention), grad = _gradient(model)(variables, jnp.asarray(x))
    g = np.asarray(grad, np.float64)
    a = np.abs(g)
    return Saliency(g, a.mean(axis=(0, 2)), a.mean(axis=(1, 2)), float(p), np.asarray(attention, np.float64))
