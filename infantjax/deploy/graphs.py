"""What is exported of each model: its inference as one function of one float32 array (:class:`Deployable`,
defined in :mod:`infantjax.infer.graph`).

Every family gives its own graph (:meth:`infantjax.infer.trained.TrainedModel.graph`): the pose predictor's folded
inference graph, the smartphone model from clips to its calibrated probability, one GCN stack of an ensemble from
windows to P(CP) per instance. :func:`deployable` asks the model for it; this module knows no family.
"""

from __future__ import annotations

from typing import Any

from infantjax.errors import ExportError
from infantjax.infer.graph import Deployable

__all__ = ["FORMS", "Deployable", "deployable"]

#: The forms a graph is traced in, and the backend policy (:mod:`infantjax.backend`) each is traced under.
FORMS = {"portable": "accelerator", "cpu": "cpu", "mobile": "cpu"}


def deployable(model: Any, **options) -> Deployable:
    """The :class:`Deployable` of a trained model: its family's ``graph(**options)`` (e.g. ``stack`` for an
    ensemble, ``clips`` for the smartphone model; options the family does not take are ignored); a
    :class:`Deployable` is returned as it is.

    Raises:
        ExportError: a model whose family exports no graph (the message names the families that do).
    """
    if isinstance(model, Deployable):
        return model
    graph = getattr(model, "graph", None)
    if graph is None or not callable(graph):
        raise ExportError(f"cannot export a {type(model).__name__}: pass a trained model (infantjax.load) or a "
                          "Deployable")
    taken = getattr(model, "graph_options", ())
    return graph(**{k: v for k, v in options.items() if k in taken})
