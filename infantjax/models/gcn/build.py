"""``build_model``: the Flax module of a GCN spec (searchable GCN or ST-GCN), with the graph and mode checked."""

from __future__ import annotations

import flax.linen as nn

from infantjax import skeleton as skeleton_lib
from infantjax.errors import ConfigError, SkeletonMismatchError
from infantjax.models.gcn.searchable import SearchableGCN
from infantjax.models.gcn.spec import MODES, GCNSpec, STGCNSpec
from infantjax.models.gcn.stgcn import STGCN
from infantjax.nn.norm import NUMERICS
from infantjax.nn.temporal import CONV_IMPLS

__all__ = ["build_model"]


def build_model(spec: GCNSpec | STGCNSpec, *, num_joints: int = 19, mode: str = "reference",
                skeleton: str | skeleton_lib.Skeleton | None = None, conv_impl: str = "auto",
                bn_numerics: str = "flax", remat: bool = False) -> nn.Module:
    """The Flax model of a spec (also reached as ``infantjax.models.build(spec, ...)``).

    Arguments:
        spec: a :class:`GCNSpec` (searchable GCN, input C = 6) or :class:`STGCNSpec` (ST-GCN, input C = 2);
            ``spec.dtype`` is the compute dtype.
        num_joints: V; 19 selects the In-Motion skeleton. Another V needs ``skeleton``.
        mode: ``"reference"`` (default, the reference code's behaviour) or ``"corrected"`` (bugs fixed).
        skeleton: skeleton whose graph the model uses (default ``in-motion-19``).
        conv_impl: temporal convolutions by ``"conv"`` (XLA convolution), ``"shift"`` (sums of shifted slices
            times matmuls, which vmap over instances into batched matmuls) or ``"auto"`` (``shift`` on CPU, else
            ``conv``); the variables are the same (:mod:`infantjax.nn.temporal`).
        bn_numerics: BatchNorm numerics in training: ``"flax"`` (default, fastest: one-pass variance, biased
            running variance) or ``"torch"`` (two-pass variance, PyTorch's unbiased running variance: train-mode
            outputs and running statistics as the reference code computes them; :mod:`infantjax.nn.norm`).
            Evaluation is the same either way.
        remat: rematerialise every ST-GCN module in training (``nn.remat``, :mod:`infantjax.nn.remat`): the
            step keeps only the modules' inputs for the backward pass; same variables, outputs and gradients.

    Returns:
        a ``flax.linen.Module``; ``model.init(rng, x, train=False)``, ``model.apply(variables, x, train=...,
        mutable=["batch_stats"])`` → ``(logits, features)``.
    """
    if mode not in MODES:
        raise ConfigError(f"mode {mode!r} is unknown; use one of {MODES}")
    if bn_numerics not in NUMERICS:
        raise ConfigError(f"bn_numerics {bn_numerics!r} is unknown; use one of {NUMERICS}")
    if conv_impl not in CONV_IMPLS:
        raise ConfigError(f"conv_impl {conv_impl!r} is unknown; use one of {CONV_IMPLS}")
    skel = skeleton_lib.get(skeleton if skeleton is not None else "in-motion-19")
    if skel.num_keypoints != num_joints:
        if skeleton is None:
            raise ConfigError(f"num_joints={num_joints} needs a skeleton with that many joints; pass skeleton=...")
        raise SkeletonMismatchError(f"skeleton {skel.name!r} has {skel.num_keypoints} joints, not {num_joints}")
    # a registered skeleton travels by name (hashable, readable); an unregistered one as the object
    name = skel.name if skel.name in skeleton_lib.names() and skeleton_lib.get(skel.name) is skel else skel
    if isinstance(spec, GCNSpec):
        if spec.graph in ("spatial",) and skel.center is None:
            raise ConfigError(f"graph 'spatial' needs a centre joint; skeleton {skel.name!r} has none")
        return SearchableGCN(spec=spec, skeleton=name, mode=mode, conv_impl=conv_impl, bn_numerics=bn_numerics,
                             remat=bool(remat))
    if isinstance(spec, STGCNSpec):
        return STGCN(spec=spec, skeleton=name, mode=mode, conv_impl=conv_impl, bn_numerics=bn_numerics,
                     remat=bool(remat))
    raise ConfigError(f"spec must be a GCNSpec or STGCNSpec, got {type(spec).__name__}")
