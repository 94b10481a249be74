"""The families whose forward pass and trained model live in this layer, registered: importing this module
registers them (each registers itself next to its definition) without importing :mod:`infantjax.train`.

The SMA, smartphone, MAM and depth families and the CP ensemble register here; the pose family
(:mod:`infantjax.infer.pose`) registers when its module is imported, a step of its own since it imports
EfficientPose's modules. :func:`infantjax.load` imports this module first and the pose family's only for a kind not
found here (:data:`infantjax.infer.registry.SHIPPED`).
"""

from __future__ import annotations

from infantjax.infer import depth, ensemble, mam, passmore, registry, sma  # noqa: F401 - each registers its family

__all__ = ["families"]


def families() -> tuple:
    """The families registered so far (this layer's at least)."""
    return registry.families()
