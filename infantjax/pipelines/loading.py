"""Finding a trained model's family: the import steps that register every family shipped with infantjax (each
registers itself next to its definition, :mod:`infantjax.infer.registry`), cheapest first, and :func:`load`
(:func:`infantjax.load`), which stops at the step that registers the model's family. A module of its own so that
pipelines (``assessment``) load models without importing the package facade.
"""

from __future__ import annotations

__all__ = ["families", "load"]


def _pose() -> None:
    from infantjax.infer import pose  # noqa: F401 - registers the pose predictor (its own step: EfficientPose's modules)


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
    definition), in registration order. A family a user registered is in :func:`infantjax.infer.registry.families`
    (which :func:`infantjax.load` reads) but not here, whenever it was registered."""
    from infantjax.infer import registry

    for step in _STEPS:
        step()
    return tuple(f for f in registry.families() if f.model.__module__.split(".")[0] == "infantjax")


def load(name_or_path):
    """:func:`infantjax.load`: :func:`infantjax.infer.registry.load`, importing the shipped families' modules one
    step at a time (:data:`_STEPS`, cheapest first) until the model's family is registered."""
    from infantjax.infer import registry

    return registry.load(name_or_path, discover=_STEPS)
