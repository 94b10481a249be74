"""Pipelines: the model families put to work end to end, above training, ensembles, clinical and explain.

* :mod:`~infantjax.pipelines.pose` — video → keypoints (:class:`~infantjax.pipelines.pose.PosePredictor`), and
  the same on rendered synthetic infants;
* :mod:`~infantjax.pipelines.depth` — depth clip → limb pose (detection → regression → linking), the Table II run;
* :mod:`~infantjax.pipelines.cp` — skeleton sequence → CP risk with an ensemble.

Submodules are imported on first use (``infantjax.pipelines.pose``), so importing this package does not start
JAX.
"""

from __future__ import annotations

from infantjax import lazy_submodules

_SUBMODULES = ("cp", "depth", "mam", "passmore", "pose", "sma")

__all__ = list(_SUBMODULES)


__getattr__ = lazy_submodules(__name__, _SUBMODULES)
