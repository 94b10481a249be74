"""What is exported of each model: its inference as one function of one float32 array (:class:`Deployable`,
defined in :mod:`infantjax.infer.graph`).

Every family gives its own graph (:meth:`infantjax.infer.trained.TrainedModel.graph`): the pose predictor's folded
inference graph, the smartphone model from clips to its calibrated probability, one GCN stack of an ensemble from
windows to P(CP) per instance. :func:`deployable` asks the model for it; this module knows no family.
"""

from __future__ import annotations

from typing import Any

from infantjax.errors import ConfigError, ExportError
from infantjax.infer.graph import Deployable

__all__ = ["FORMS", "FORM_OVERRIDES", "Deployable", "deployable"]

#: The forms a graph is traced in, and the backend policy (:mod:`infantjax.backend`) each is traced under.
FORMS = {"portable": "accelerator", "cpu": "cpu", "mobile": "cpu"}
#: Forms of that policy replaced for a file: a portable graph keeps XLA's own grouped convolution for stacked
#: instances, since the GPU's one-convolution-per-instance form is a custom batching rule no exchange format
#: (ONNX, TensorFlow) can express.
FORM_OVERRIDES = {"portable": {"stacked_conv": "groups"}, "cpu": {}, "mobile": {}}


def deployable(model: Any, **options) -> Deployable:
    """The :class:`Deployable` of a trained model: its family's ``graph(**options)``, with the options the
    family declares (its ``graph_options``: e.g. ``stack`` for an ensemble, ``clips`` for the smartphone
    model); a :class:`Deployable` is returned as it is.

    Raises:
        ExportError: a model whose family exports no graph.
        ConfigError: an option the family's graph does not take (the message names those it takes).
    """
    taken = () if isinstance(model, Deployable) else tuple(getattr(model, "graph_options", ()))
    unknown = sorted(set(options) - set(taken))
    if unknown:
        what = "a Deployable" if isinstance(model, Deployable) else \
            f"a {getattr(model, 'kind', None) or type(model).__name__} model"
        raise ConfigError(f"{what} takes no export option {', '.join(map(repr, unknown))}; it takes "
                          f"{', '.join(taken) if taken else 'none'}")
    if isinstance(model, Deployable):
        return model
    graph = getattr(model, "graph", None)
    if graph is None or not callable(graph):
        raise ExportError(f"cannot export a {type(model).__name__}: pass a trained model (infantjax.load) or a "
                          "Deployable")
    return graph(**options)
