"""Pipelines: the model families put to work end to end, above training, ensembles, clinical and explain.

* :mod:`~infantjax.pipelines.pose` — video → keypoints (:class:`~infantjax.pipelines.pose.PosePredictor`), and
  the same on rendered synthetic infants;
* :mod:`~infantjax.pipelines.depth` — depth clip → limb pose (detection → regression → linking), the Table II run;
* :mod:`~infantjax.pipelines.cp` — skeleton sequence → CP risk with an ensemble;
* :mod:`~infantjax.pipelines.sma`, :mod:`~infantjax.pipelines.passmore`, :mod:`~infantjax.pipelines.mam` — the
  SMA, smartphone and MAM trained models.

:func:`families` imports every family shipped with infantjax (each registers itself,
:mod:`infantjax.infer.registry`): what :func:`infantjax.load`, ``infantjax.deploy`` and the CLI call before they look
a family up.

Submodules are imported on first use (``infantjax.pipelines.pose``), so importing this package does not start
JAX.
"""

from __future__ import annotations

from infantjax import lazy_submodules

_SUBMODULES = ("cp", "depth", "mam", "passmore", "pose", "sma")

__all__ = [*_SUBMODULES, "families", "load"]


def families() -> tuple:
    """Every family shipped with infantjax, registered (their modules imported; each registers itself next to its
    definition): :func:`infantjax.infer.registry.families`."""
    from infantjax import ensemble  # noqa: F401 - registers the CP ensemble
    from infantjax.infer import registry
    from infantjax.infer import families as inference_families  # noqa: F401 - the families defined in infer/
    from infantjax.pipelines import depth, mam, passmore, pose, sma  # noqa: F401 - each registers its family

    return registry.families()


__getattr__ = lazy_submodules(__name__, _SUBMODULES)


def load(name_or_path):
    """:func:`infantjax.load`: :func:`infantjax.infer.registry.load` with the families of the inference layer
    registered, and the other shipped families (:func:`families`) imported only for a kind not found there."""
    from infantjax.infer import families as inference_families
    from infantjax.infer import registry

    inference_families.families()
    return registry.load(name_or_path, discover=families)
