"""Pipelines: the model families put to work end to end, above training, ensembles, clinical and explain.

* :mod:`~infantjax.pipelines.pose` — video → keypoints (:class:`~infantjax.pipelines.pose.PosePredictor`), and
  the same on rendered synthetic infants;
* :mod:`~infantjax.pipelines.depth` — depth clip → limb pose (detection → regression → linking), the Table II run;
* :mod:`~infantjax.pipelines.cp` — skeleton sequence → CP risk with an ensemble;
* :mod:`~infantjax.pipelines.assessment` — video (or a folder of videos) → keypoints → CP risk → the clinical
  dashboard: :func:`infantjax.pipelines.assess` (``infantjax assess``).
* :mod:`~infantjax.pipelines.sma`, :mod:`~infantjax.pipelines.passmore`, :mod:`~infantjax.pipelines.mam` — the
  SMA, smartphone and MAM trained models.

:func:`families` imports every family shipped with infantjax (each registers itself,
:func:`infantjax.infer.registry.shipped`); :func:`infantjax.load` finds a model's family through the same registry.

Submodules are imported on first use (``infantjax.pipelines.pose``), so importing this package does not start
JAX.
"""

from __future__ import annotations

from infantjax._lazy import lazy_submodules

_SUBMODULES = ("assessment", "cp", "depth", "mam", "passmore", "pose", "sma")

__all__ = ["assess", *_SUBMODULES, "families"]


def families() -> tuple:
    """Every family shipped with infantjax, registered: :func:`infantjax.infer.registry.shipped`."""
    from infantjax.infer.registry import shipped

    return shipped()


_submodule = lazy_submodules(__name__, _SUBMODULES)


def __getattr__(name: str):
    if name == "assess":  # the function, imported on first use like the submodules
        from infantjax.pipelines.assessment import assess

        return assess
    return _submodule(name)

