"""Inference: the layer between the networks (:mod:`infantjax.models`) and training (:mod:`infantjax.train`).

* :mod:`~infantjax.infer.predict` — stacked inference: one instance's compiled forward over every instance of a
  stack (:class:`~infantjax.infer.predict.StackedPredictor`), in memory-budgeted calls of power-of-two sizes;
* :mod:`~infantjax.infer.trained` — the trained-model base of every family (:class:`TrainedModel`) and its one
  versioned save format (a ``model.json`` folder or a single ``.npz``);
* :mod:`~infantjax.infer.store` — saved array pytrees (Orbax folders, the flat ``.npz`` layout);
* :mod:`~infantjax.infer.graph` — what a family exports (:class:`~infantjax.infer.graph.Deployable`);
* :mod:`~infantjax.infer.forward` — a family's forward pass (:class:`~infantjax.infer.forward.Forward`: its
  inference inputs, ``prepare``, ``apply``) that its trained model predicts with and its training task composes;
* :mod:`~infantjax.infer.sma`, :mod:`~infantjax.infer.passmore`, :mod:`~infantjax.infer.mam`, :mod:`~infantjax.infer.depth` — the SMA, smartphone, MAM and depth families defined here
  (forward, inference inputs, trained model, result, registration);
* :mod:`~infantjax.infer.pose` — the pose family: :class:`~infantjax.infer.pose.PosePredictor` (a video →
  keypoints; its older single-file format is still read);
* :mod:`~infantjax.infer.cp` — the CP GCN's forward, inference inputs and recording → positions step (its trained
  model, :class:`infantjax.ensemble.Ensemble`, registers in :mod:`infantjax.ensemble`);
  :mod:`~infantjax.infer.families` registers every shipped family (:data:`~infantjax.infer.registry.SHIPPED`);
* :mod:`~infantjax.infer.inputs` — the typed checks of every family's ``predict`` input;
* :mod:`~infantjax.infer.registry` — one registration per family (:func:`register_family`) and
  :func:`~infantjax.infer.registry.load`, which finds a saved model's family from its header.

Nothing here imports an optimiser or :mod:`infantjax.train`; the training engine composes this layer.
Submodules are imported on first use.
"""

from __future__ import annotations

from infantjax._lazy import lazy_submodules

_SUBMODULES = ("cp", "depth", "families", "forward", "graph", "inputs", "mam", "passmore", "pose", "predict", "registry", "sma", "store", "trained")

__all__ = list(_SUBMODULES)

__getattr__ = lazy_submodules(__name__, _SUBMODULES)
