"""Pipelines: the model families put to work end to end, above training, ensembles, clinical and explain.

* :mod:`~infantjax.pipelines.pose` — video → keypoints (:class:`~infantjax.pipelines.pose.PosePredictor`), and
  the same on rendered synthetic infants;
* :mod:`~infantjax.pipelines.depth` — depth clip → limb pose (detection → regression → linking), the Table II run;
* :mod:`~infantjax.pipelines.cp` — skeleton sequence → CP risk with an ensemble.

Submodules are imported on first use (``infantjax.pipelines.pose``), so importing this package does not start
JAX.
"""

from __future__ import annotations

import importlib

_SUBMODULES = ("cp", "depth", "mam", "passmore", "pose", "sma")

__all__ = list(_SUBMODULES)


def __getattr__(name: str):
    if name in _SUBMODULES:
        module = importlib.import_module(f"infantjax.pipelines.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'infantjax.pipelines' has no attribute {name!r}")
