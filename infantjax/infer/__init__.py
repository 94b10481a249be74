"""Inference: the layer between the networks (:mod:`infantjax.models`) and training (:mod:`infantjax.train`).

* :mod:`~infantjax.infer.predict` — stacked inference: one instance's compiled forward over every instance of a
  stack (:class:`~infantjax.infer.predict.StackedPredictor`), in memory-budgeted calls of power-of-two sizes;
* :mod:`~infantjax.infer.trained` — the trained-model base of every family (:class:`TrainedModel`) and its one
  versioned save format (a ``model.json`` folder or a single ``.npz``);
* :mod:`~infantjax.infer.store` — saved array pytrees (Orbax folders, the flat ``.npz`` layout);
* :mod:`~infantjax.infer.graph` — what a family exports (:class:`~infantjax.infer.graph.Deployable`);
* :mod:`~infantjax.infer.registry` — one registration per family (:func:`register_family`) and
  :func:`~infantjax.infer.registry.load`, which finds a saved model's family from its header.

Nothing here imports an optimiser or :mod:`infantjax.train`; the training engine composes this layer.
Submodules are imported on first use.
"""

from __future__ import annotations

from infantjax import lazy_submodules

_SUBMODULES = ("graph", "predict", "registry", "store", "trained")

__all__ = list(_SUBMODULES)

__getattr__ = lazy_submodules(__name__, _SUBMODULES)
