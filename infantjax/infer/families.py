"""The families whose forward pass and trained model live in this layer, registered: importing this module
registers them (each registers itself next to its definition) without importing :mod:`infantjax.train`.

The pose family (:mod:`infantjax.infer.pose`) registers when its module is imported, a step of its own since it
imports EfficientPose's modules; the CP ensemble registers in :mod:`infantjax.ensemble`.
:func:`infantjax.pipelines.families` imports them all; :func:`infantjax.load` looks in this module first and
imports the others only for a kind not found here.
"""

from __future__ import annotations

from infantjax.infer import depth, mam, passmore, registry, sma  # noqa: F401 - each module registers its family

__all__ = ["families"]


def families() -> tuple:
    """The families registered so far (this layer's at least)."""
    return registry.families()
