"""Losses and scores of the two-logit classifiers (gcn_reference A.4: CrossEntropy on 2 logits, P(class 1))."""

from __future__ import annotations

import jax.numpy as jnp
import optax
from jaxtyping import Array, Float, Int

from infantjax.infer.cp import positive_probability  # noqa: F401 - inference's score, re-exported

__all__ = ["balanced_window_loss", "cross_entropy", "positive_probability"]


def cross_entropy(logits: Float[Array, "N K"], labels: Int[Array, " N"]) -> Float[Array, " N"]:
    """Per-sample softmax cross-entropy (torch ``CrossEntropyLoss(reduction='none')``)."""
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels.astype(jnp.int32))


def balanced_window_loss(losses, labels) -> float:
    """Validation loss of the reference: mean of (mean positive-window CE, mean negative-window CE).

    Arguments:
        losses: (W,) per-window cross-entropies (numpy).
        labels: (W,) 0/1 window labels (the recording's label).
    """
    import numpy as np

    losses = np.asarray(losses, dtype=np.float64)
    labels = np.asarray(labels)
    parts = [losses[labels == c].mean() for c in (0, 1) if (labels == c).any()]
    return float(np.mean(parts)) if parts else float("nan")
