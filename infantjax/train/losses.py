"""Losses and scores of the two-logit classifiers (gcn_reference A.4: CrossEntropy on 2 logits, P(class 1))."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, Float, Int

from infantjax.infer.cp import positive_probability  # noqa: F401 - inference's score, re-exported

__all__ = ["balanced_window_loss", "cross_entropy", "host_softmax_cross_entropy", "positive_probability"]


def cross_entropy(logits: Float[Array, "N K"], labels: Int[Array, " N"]) -> Float[Array, " N"]:
    """Per-sample softmax cross-entropy (torch ``CrossEntropyLoss(reduction='none')``)."""
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels.astype(jnp.int32))


def host_softmax_cross_entropy(logits, labels) -> tuple[np.ndarray, np.ndarray]:
    """The softmax probabilities (N, K) and per-sample cross-entropies (N,) of (N, K) logits, in NumPy: the formulas
    of ``jax.nn.softmax`` and :func:`cross_entropy` (the maximum subtracted first) in float32. For scores computed on
    the host after each epoch: JAX's eager ops would compile a program per op and per shape, and each fold's
    validation set has its own number of windows (0.8 s a new shape on 2 CPU cores, against well under a
    millisecond here).

    Arguments:
        logits: (N, K) logits (any array).
        labels: (N,) integer class labels.
    """
    z = np.asarray(logits, dtype=np.float32)
    shifted = z - z.max(axis=-1, keepdims=True)
    e = np.exp(shifted)
    total = e.sum(axis=-1, keepdims=True)
    picked = np.take_along_axis(shifted, np.asarray(labels, dtype=np.intp)[:, None], axis=-1)[:, 0]
    return e / total, np.log(total[:, 0]) - picked


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
