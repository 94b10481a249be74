"""The one BatchNorm factory: PyTorch or Keras conventions for ε and the running-average momentum.

The networks of infantjax come from two code bases, and their BatchNorm defaults differ:

* ``"torch"`` — PyTorch ``BatchNorm{1,2}d``: ε = 1e-5 and running-average momentum 0.1, i.e. the new statistics
  weigh 0.1, which is Flax ``momentum=0.9`` (Flax's momentum is the weight of the *old* average). The skeleton
  GCNs of seed 002 (the reference is PyTorch).
* ``"keras"`` — Keras ``BatchNormalization``: ε = 1e-3, momentum 0.99 (the same meaning as Flax's). The
  EfficientPose family, whose official Keras weights were trained with ε = 1e-3 (data/efficientpose/README.md
  §2.1: "Every BN: epsilon 1e-3"), and the depth networks of seed 004 (Keras-style code).

Scale and offset are on; the statistics (``batch_stats``: ``mean``, ``var``) stay float32 whatever the compute
``dtype``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import flax.linen as nn
import jax.numpy as jnp

from infantjax.errors import ConfigError

__all__ = ["CONVENTIONS", "BatchNormConvention", "batch_norm"]


@dataclasses.dataclass(frozen=True)
class BatchNormConvention:
    """ε and Flax momentum (weight of the old running average) of a framework's BatchNorm defaults."""

    epsilon: float
    momentum: float


CONVENTIONS: dict[str, BatchNormConvention] = {
    "torch": BatchNormConvention(epsilon=1e-5, momentum=0.9),  # PyTorch momentum 0.1
    "keras": BatchNormConvention(epsilon=1e-3, momentum=0.99),
}


def batch_norm(train: bool, name: str | None = None, *, convention: str, momentum: float | None = None,
               epsilon: float | None = None, dtype: Any = jnp.float32, use_fast_variance: bool = True,
               ) -> nn.BatchNorm:
    """A BatchNorm over the last (channel) axis.

    In training it normalises with the batch statistics and updates ``batch_stats`` (call ``apply`` with
    ``mutable=["batch_stats"]``); otherwise it uses the running averages.

    Arguments:
        train: batch statistics (True) or running averages (False).
        name: the layer's name (its variables' path).
        convention: ``"torch"`` or ``"keras"`` (module docstring): the default ε and momentum.
        momentum: Flax momentum (weight of the old average, in [0, 1)) instead of the convention's.
        epsilon: ε instead of the convention's.
        dtype: compute dtype of the output; parameters and statistics stay float32.
        use_fast_variance: Flax's E[x²] − E[x]² (True, Flax's default) or the two-pass E[(x − E[x])²], which is what
            PyTorch computes and is more accurate when the mean is large against the spread.

    Returns:
        an unbound ``flax.linen.BatchNorm``.
    """
    try:
        conv = CONVENTIONS[convention]
    except KeyError:
        raise ConfigError(f"BatchNorm convention must be one of {tuple(CONVENTIONS)}, got {convention!r}") from None
    momentum = conv.momentum if momentum is None else float(momentum)
    if not 0.0 <= momentum < 1.0:
        raise ConfigError(f"BatchNorm momentum (the weight of the old running average) must be in [0, 1), "
                          f"got {momentum}")
    epsilon = conv.epsilon if epsilon is None else float(epsilon)
    if not epsilon > 0.0:
        raise ConfigError(f"BatchNorm epsilon must be positive, got {epsilon}")
    return nn.BatchNorm(use_running_average=not train, momentum=momentum, epsilon=epsilon, dtype=dtype,
                        param_dtype=jnp.float32, use_fast_variance=use_fast_variance, name=name)
