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
:mod:`infantjax.infer.registry`): what :func:`infantjax.load`, ``infantjax.deploy`` and the CLI call before they look
a family up.

Submodules are imported on first use (``infantjax.pipelines.pose``), so importing this package does not start
JAX.
"""

from __future__ import annotations

from infantjax import lazy_submodules

_SUBMODULES = ("assessment", "cp", "depth", "mam", "passmore", "pose", "sma")

__all__ = ["assess", *_SUBMODULES, "families", "load"]


def _pose() -> None:
    from infantjax.pipelines import pose  # noqa: F401 - registers the pose predictor


def _other_pipelines() -> None:
    from infantjax.pipelines import cp, depth, mam, passmore, sma  # noqa: F401 - re-export or register their family


def _ensemble() -> None:
    from infantjax import ensemble  # noqa: F401 - registers the CP ensemble (its forward is infer/cp.py's)


def _infer() -> None:
    from infantjax.infer import families as inference_families  # noqa: F401 - the families defined in infer/


#: the import steps that register every shipped family, cheapest first (infantjax.load stops at its family's)
_STEPS = (_infer, _ensemble, _pose, _other_pipelines)


def families() -> tuple:
    """Every family shipped with infantjax, registered (their modules imported; each registers itself next to its
    definition): :func:`infantjax.infer.registry.families`."""
    from infantjax.infer import registry

    for step in _STEPS:
        step()
    return registry.families()


_submodule = lazy_submodules(__name__, _SUBMODULES)


def __getattr__(name: str):
    if name == "assess":  # the function, imported on first use like the submodules
        from infantjax.pipelines.assessment import assess

        return assess
    return _submodule(name)


def load(name_or_path):
    """:func:`infantjax.load`: :func:`infantjax.infer.registry.load`, importing the shipped families' modules one
    step at a time (:data:`_STEPS`, cheapest first) until the model's family is registered."""
    from infantjax.infer import registry

    return registry.load(name_or_path, discover=_STEPS)
