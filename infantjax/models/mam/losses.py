"""MAM's two metric-learning losses (seed 001): the Ref branch's triplet loss to the FMs / non-FMs prototypes and
the Main branch's closeness loss. The paper names both and the margin (0.4); the exact forms are ours (no code
exists, other_seeds_reference §3) and are written out here.

Both work on L2-normalised embeddings and prototypes, so distances lie in [0, 2] and the margin 0.4 has a fixed
meaning whatever the embedding width.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int

__all__ = ["TRIPLET_MARGIN", "closeness_loss", "l2_normalise", "triplet_loss"]

TRIPLET_MARGIN = 0.4  # seed 001, Methods


def l2_normalise(x: Float[Array, "... D"]) -> Float[Array, "... D"]:
    """x / ‖x‖ over the last axis (ε 1e-12 inside the root)."""
    x = jnp.asarray(x, jnp.float32)
    return x / jnp.sqrt(jnp.sum(x * x, axis=-1, keepdims=True) + 1e-12)


def triplet_loss(embeddings: Float[Array, "N D"], labels: Int[Array, " N"], prototypes: Float[Array, "2 D"],
                 margin: float = TRIPLET_MARGIN) -> Float[Array, ""]:
    """Triplet loss with the prototypes as positives and negatives: mean over clips of
    max(0, ‖e − c_y‖ − ‖e − c_(1−y)‖ + margin), e and c L2-normalised.

    Arguments:
        embeddings: (N, D) clip embeddings (the anchors).
        labels: (N,) 1 = FMs clip, 0 = non-FMs.
        prototypes: (2, D) [non-FMs, FMs] centres.
        margin: 0.4 (seed 001).

    Returns:
        the scalar loss.
    """
    e, c = l2_normalise(embeddings), l2_normalise(prototypes)
    d = jnp.sqrt(jnp.sum((e[:, None, :] - c[None]) ** 2, axis=-1) + 1e-12)  # (N, 2)
    y = jnp.asarray(labels, jnp.int32)
    positive = jnp.take_along_axis(d, y[:, None], axis=1)[:, 0]
    negative = jnp.take_along_axis(d, 1 - y[:, None], axis=1)[:, 0]
    return jnp.mean(jax.nn.relu(positive - negative + margin))


def closeness_loss(embeddings: Float[Array, "*B D"], clip_logits: Float[Array, " *B"],
                   prototypes: Float[Array, "2 D"], mask: Float[Array, " *B"] | None = None) -> Float[Array, ""]:
    """Closeness loss: the mean over valid instances of ‖e − c_k‖², k the class the clip classifier gives the
    instance (FMs when its logit > 0), e and c L2-normalised. The assignment and the prototypes are constants
    (stop-gradient): the Ref branch learns the centres, the loss moves the Main branch's instance embeddings
    towards them.

    Arguments:
        embeddings: (..., D) instance embeddings of the recordings' clips.
        clip_logits: (...) their FMs logits.
        prototypes: (2, D) [non-FMs, FMs] centres.
        mask: (...) 1 for a real instance, 0 for padding (default all real).

    Returns:
        the scalar loss.
    """
    e = l2_normalise(embeddings)
    c = jax.lax.stop_gradient(l2_normalise(prototypes))
    k = jax.lax.stop_gradient((jnp.asarray(clip_logits) > 0).astype(jnp.int32))
    d2 = jnp.sum((e - c[k]) ** 2, axis=-1)
    m = jnp.ones_like(d2) if mask is None else jnp.asarray(mask, jnp.float32)
    return jnp.sum(d2 * m) / jnp.maximum(jnp.sum(m), 1.0)
