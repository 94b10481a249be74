"""The searchable GCN of Ensemble-NAS-GCN (seed 002, Appendix A; gcn_reference A.3–A.7), in Flax Linen.

One :class:`GCNSpec` (the 20 choices of Table A.1) describes the network: input BatchNorm over V·C, three input
branches (position, velocity, bone; two channels each) of ST-GCN modules, a 1×1 fusion conv, main-branch levels
starting with temporal stride 2, and a global or spatial head. Windows are channels-last (N, T, V, C).

``mode="reference"`` (the default) reproduces the reference code (DeepInMotion/MovementOutcome), quirks included:

* bias before aggregation: the graph conv adds its bias before the graph einsum (ST-GCN's design — kept in both
  modes, it is not a bug);
* the MBConv "depthwise" graph conv reads input channel ⌊(k·C + c)/K⌋ for partition k, channel c (a channel
  scramble);
* no outer SE when a temporal block has one scale (the layers are built but skipped);
* every MBConv temporal block has an outer SE of ratio max(1, int(r/e)) — of ratio 1 even when SE is off;
* the spatial-configuration partition with ST-GCN's ``max_hop=1`` truncation.

``mode="corrected"`` fixes the last four (true depthwise graph conv; outer SE also at one scale; MBConv outer SE
only when SE is chosen; true hop distances to the centre). Layers the reference builds but never runs (A.8) are
not built in either mode; :func:`~infantjax.models.gcn.counting.count_params` counts them analytically.

The uniform(±1e−6) noise the reference adds to disentangled adjacencies once at construction (``use_mask``) is
left out: it is untrained and below float32 resolution of the normalised entries that matter.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from infantjax import skeleton as skeleton_lib
from infantjax.errors import ConfigError, DataError, SkeletonMismatchError
from infantjax.models.gcn.counting import mbconv_outer_se_ratio
from infantjax.models.gcn.spec import MODES, GCNSpec, ModulePlan, STGCNSpec
from infantjax.nn.attention import ChannelAttention, FrameAttention, JointAttention
from infantjax.nn.graph import DepthwiseGraphConv, GraphConv
from infantjax.nn.se import SqueezeExcitation
from infantjax.nn.temporal import CONV_IMPLS, Pointwise, TemporalConv
from infantjax.nn.torch_compat import LINEAR_GAIN, RELU_GAIN, batch_norm, he_fan_out, torch_bias

__all__ = ["STGCNModule", "SearchableGCN", "activation", "adjacency", "build_model", "class_activation_map"]


def activation(name: str) -> Callable:
    """``relu`` or ``swish`` (x·sigmoid(x), seed 002 Table A.1); used everywhere, inside SE and attention too."""
    if name == "relu":
        return jax.nn.relu
    if name == "swish":
        return jax.nn.swish
    raise ConfigError(f"nonlinearity {name!r} is unknown; use 'relu' or 'swish'")


@functools.lru_cache(maxsize=64)
def adjacency(skeleton: str | skeleton_lib.Skeleton, scales: int | None, mode: str = "reference") -> np.ndarray:
    """Adjacency stack (K, V, V) of a graph choice: spatial configuration (``scales=None``, K = 3) or
    disentangled aggregation with ``scales`` hops (gcn_reference A.3). ``mode`` applies to the spatial one."""
    skel = skeleton_lib.get(skeleton)
    if scales is None:
        return skel.adjacency("spatial", mode=mode)
    return skel.adjacency("disentangled", scales=scales)


def _residual(x, features, stride, train, name):
    """1×1 conv (with stride) + BN, the projection residual of the reference."""
    y = Pointwise(features, stride=stride, gain=LINEAR_GAIN, name=name)(x)
    return batch_norm(train, name + "_bn")(y)


class SpatialBlock(nn.Module):
    """Graph-convolution block: basic, bottleneck (ResGCN) or MBConv (EfficientNet) (gcn_reference A.6)."""

    plan: ModulePlan
    partitions: int
    nonlinearity: str
    mode: str = "reference"

    @nn.compact
    def __call__(self, x, a, train: bool):
        p, act = self.plan, activation(self.nonlinearity)
        c_out, f = p.out_channels, p.factor
        res = 0.0
        if p.block_residual:
            res = x if p.in_channels == c_out else _residual(x, c_out, 1, train, "residual")
        if p.block_type == "mbconv":
            inter = max(12, p.in_channels * f)
            x = Pointwise(inter, use_bias=False, gain=RELU_GAIN, name="conv_expand")(x)
            x = act(batch_norm(train, "bn_expand")(x))
            x = DepthwiseGraphConv(self.partitions, mode=self.mode, gain=LINEAR_GAIN, name="gcn")(x, a)
            x = act(batch_norm(train, "bn")(x))
            if p.inner_se_ratio:
                x = SqueezeExcitation(p.inner_se_ratio, act, name="se")(x)
            x = Pointwise(c_out, use_bias=False, gain=RELU_GAIN, name="conv_project")(x)
            x = batch_norm(train, "bn_project")(x)  # no activation before the residual add
        elif p.block_type == "bottleneck":
            inter = c_out // f
            x = Pointwise(inter, gain=RELU_GAIN, name="conv_down")(x)
            x = act(batch_norm(train, "bn_down")(x))
            x = GraphConv(inter, self.partitions, name="gcn")(x, a)
            x = act(batch_norm(train, "bn")(x))
            x = Pointwise(c_out, gain=RELU_GAIN, name="conv_up")(x)
            x = batch_norm(train, "bn_up")(x)
            if p.inner_se_ratio:
                x = SqueezeExcitation(p.inner_se_ratio, act, name="se")(x)
        else:  # basic
            x = GraphConv(c_out, self.partitions, name="gcn")(x, a)
            x = batch_norm(train, "bn")(x)
            if p.inner_se_ratio:
                x = SqueezeExcitation(p.inner_se_ratio, act, name="se")(x)
        return act(x + res)


class TemporalBlock(nn.Module):
    """Multi-scale dilated temporal convolution (dilations 1..scales) with block/module residuals (A.5, A.6)."""

    plan: ModulePlan
    kernel_size: int
    nonlinearity: str
    mode: str = "reference"
    conv_impl: str = "auto"

    @nn.compact
    def __call__(self, x, module_residual, train: bool):
        p, act = self.plan, activation(self.nonlinearity)
        c, s, f, k = p.out_channels, p.stride, p.factor, self.kernel_size
        res = 0.0
        if p.block_residual:
            res = x if s == 1 else _residual(x, c, s, train, "residual")
        branches = []
        for d in range(1, p.temporal_scales + 1):
            name = f"branch{d}_"
            if p.block_type == "mbconv":
                inter = c * f
                y = Pointwise(inter, use_bias=False, gain=RELU_GAIN, name=name + "conv_expand")(x)
                y = act(batch_norm(train, name + "bn_expand")(y))
                y = TemporalConv(inter, k, stride=s, dilation=d, groups=inter, use_bias=False, gain=RELU_GAIN,
                                 impl=self.conv_impl, name=name + "conv")(y)
                y = act(batch_norm(train, name + "bn")(y))
                if p.inner_se_ratio:
                    y = SqueezeExcitation(p.inner_se_ratio, act, name=name + "se")(y)
                y = Pointwise(c, use_bias=False, gain=RELU_GAIN, name=name + "conv_project")(y)
                y = batch_norm(train, name + "bn_project")(y)
            elif p.block_type == "bottleneck":
                inter = c // f
                y = Pointwise(inter, gain=RELU_GAIN, name=name + "conv_down")(x)
                y = act(batch_norm(train, name + "bn_down")(y))
                y = TemporalConv(inter, k, stride=s, dilation=d, gain=RELU_GAIN, impl=self.conv_impl,
                                 name=name + "conv")(y)
                y = act(batch_norm(train, name + "bn")(y))
                y = Pointwise(c, gain=RELU_GAIN, name=name + "conv_up")(y)
                y = batch_norm(train, name + "bn_up")(y)
                if p.inner_se_ratio:
                    y = SqueezeExcitation(p.inner_se_ratio, act, name=name + "se")(y)
            else:  # basic
                y = TemporalConv(c, k, stride=s, dilation=d, gain=RELU_GAIN, impl=self.conv_impl,
                                 name=name + "conv")(x)
                y = batch_norm(train, name + "bn")(y)
                if p.inner_se_ratio:
                    y = SqueezeExcitation(p.inner_se_ratio, act, name=name + "se")(y)
            branches.append(y)
        if p.block_type == "mbconv":
            outer = mbconv_outer_se_ratio(p.outer_se_ratio, f, self.mode)
        else:
            outer = p.outer_se_ratio
        if len(branches) > 1:
            y = Pointwise(c, gain=LINEAR_GAIN, name="fusion")(jnp.concatenate(branches, axis=-1))
            y = batch_norm(train, "fusion_bn")(y)
            if outer:
                y = SqueezeExcitation(outer, act, name="outer_se")(y)
        else:
            y = branches[0]
            # reference quirk: no outer SE at one scale
            if outer and self.mode == "corrected":
                y = SqueezeExcitation(outer, act, name="outer_se")(y)
        return act(y + res + module_residual)


class STGCNModule(nn.Module):
    """One ST-GCN module of the searchable GCN: module residual, spatial block, temporal block, attention (A.5)."""

    plan: ModulePlan
    partitions: int
    kernel_size: int
    nonlinearity: str
    attention: str = "null"
    edge_importance: bool = True
    mode: str = "reference"
    conv_impl: str = "auto"

    @nn.compact
    def __call__(self, x, a, train: bool = False):
        p = self.plan
        if self.edge_importance:
            # learnable K×V×V mask per module, initialised to ones; the module uses A ⊙ mask
            a = a * self.param("edge_importance", nn.initializers.ones, a.shape, jnp.float32)
        module_res = 0.0
        if p.module_residual:
            if p.stride == 1 and p.in_channels == p.out_channels:
                module_res = x
            else:
                module_res = _residual(x, p.out_channels, p.stride, train, "residual")
        x = SpatialBlock(p, self.partitions, self.nonlinearity, self.mode, name="spatial")(x, a, train)
        x = TemporalBlock(p, self.kernel_size, self.nonlinearity, self.mode, self.conv_impl, name="temporal")(x, module_res, train)
        act = activation(self.nonlinearity)
        if self.attention == "channel":
            x = ChannelAttention(act, name="attention")(x, train)
        elif self.attention == "frame":
            x = FrameAttention(self.kernel_size, act, self.conv_impl, name="attention")(x, train)
        elif self.attention == "joint":
            x = JointAttention(act, name="attention")(x, train)
        return x


class SearchableGCN(nn.Module):
    """The 20-choice GCN of Ensemble-NAS-GCN.

    Attributes:
        spec: the architecture.
        skeleton: registry name (or :class:`~infantjax.skeleton.Skeleton`) whose graph the model uses.
        mode: ``"reference"`` (default) or ``"corrected"`` (module docstring).
        conv_impl: how temporal convolutions are computed, ``"auto"``, ``"conv"`` or ``"shift"``
            (:mod:`infantjax.nn.temporal`; same variables and, to float32 rounding, the same outputs).

    Call ``model.apply(variables, x, train=...)`` with x of shape (N, T, V, C): C = 6 channels in the order
    [position x, y | velocity x, y | bone x, y]. Returns ``(logits (N, num_classes), features (N, T', V, C'))``;
    ``features`` is the last feature map before the head (for :func:`class_activation_map`).
    """

    spec: GCNSpec
    skeleton: str | skeleton_lib.Skeleton = "in-motion-19"
    mode: str = "reference"
    conv_impl: str = "auto"

    @nn.compact
    def __call__(self, x: Float[Array, "N T V C"], train: bool = False):
        spec = self.spec
        skel = skeleton_lib.get(self.skeleton)
        v, per_branch = skel.num_keypoints, spec.in_channels_per_branch
        c_total = spec.num_input_branches * per_branch
        _check_input(x, v, c_total, skel.name)
        n, t = x.shape[:2]
        x = jnp.asarray(x, jnp.float32)
        # input normalisation: BatchNorm1d over V·C features, index v·C + c, before the branches split (A.4)
        x = batch_norm(train, "data_bn")(x.reshape(n, t, v * c_total)).reshape(n, t, v, c_total)
        scales_in, scales_main = spec.graph_scales
        a_in = jnp.asarray(adjacency(self.skeleton, scales_in, self.mode))
        a_main = jnp.asarray(adjacency(self.skeleton, scales_main, self.mode))
        k_in, k_main = spec.partitions
        common = {"kernel_size": int(spec.temporal_kernel_size), "nonlinearity": spec.nonlinearity,
                  "attention": spec.attention, "edge_importance": spec.edge_importance, "mode": self.mode,
                  "conv_impl": self.conv_impl}
        # three input branches of the same architecture, each with its own weights, masks and BN statistics
        outputs = []
        for b in range(spec.num_input_branches):
            y = x[..., b * per_branch:(b + 1) * per_branch]
            for i, plan in enumerate(spec.input_modules()):
                y = STGCNModule(plan, k_in, name=f"input{b}_module{i}", **common)(y, a_in, train)
            outputs.append(y)
        if len(outputs) > 1:
            # fusion: concatenate along channels (branch b, channel c -> b·W + c), 1×1 conv with bias, BN,
            # no nonlinearity (A.4)
            x = Pointwise(spec.fusion_channels[1], gain=LINEAR_GAIN, name="fusion")(
                jnp.concatenate(outputs, axis=-1))
            x = batch_norm(train, "fusion_bn")(x)
        else:
            x = outputs[0]
        for plan in spec.main_modules():
            x = STGCNModule(plan, k_main, name=f"main{plan.level}_module{plan.index}", **common)(x, a_main, train)
        return _head(x, spec.pool, spec.num_classes), x


def _check_input(x, v, c, skeleton_name):
    if x.ndim != 4:
        raise DataError(f"GCN input must be a window batch (N, T, V, C); got shape {tuple(x.shape)}")
    if x.shape[2] != v:
        raise SkeletonMismatchError(
            f"GCN input has {x.shape[2]} joints on axis 2 but the model's skeleton {skeleton_name!r} has {v}; "
            "map the keypoints (infantjax.skeleton.map_keypoints) or build the model for that skeleton"
        )
    if x.shape[3] != c:
        raise DataError(f"GCN input has {x.shape[3]} channels on axis 3; the model expects {c}")
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise DataError(f"GCN input must be floating point, got {x.dtype}")


def _head(x, pool: str, num_classes: int):
    """Global head: mean over (T, V) → 1×1 conv. Spatial head: mean over T, flatten channel-major (c·V + v),
    1×1 conv C·V → C (bias, no activation), 1×1 conv → classes (A.4)."""
    c = x.shape[-1]
    if pool == "spatial":
        v = x.shape[2]
        y = x.mean(axis=1).transpose(0, 2, 1).reshape(x.shape[0], c * v)
        y = nn.Dense(c, kernel_init=he_fan_out(LINEAR_GAIN), bias_init=torch_bias(c * v), name="head_pool")(y)
    else:
        y = x.mean(axis=(1, 2))
    return nn.Dense(num_classes, kernel_init=he_fan_out(LINEAR_GAIN), bias_init=torch_bias(c), name="head_fc")(y)


def build_model(spec: GCNSpec | STGCNSpec, *, num_joints: int = 19, mode: str = "reference",
                skeleton: str | skeleton_lib.Skeleton | None = None, conv_impl: str = "auto") -> nn.Module:
    """The Flax model of a spec.

    Arguments:
        spec: a :class:`GCNSpec` (searchable GCN, input C = 6) or :class:`STGCNSpec` (ST-GCN, input C = 2).
        num_joints: V; 19 selects the In-Motion skeleton. Another V needs ``skeleton``.
        mode: ``"reference"`` (default, the reference code's behaviour) or ``"corrected"`` (bugs fixed).
        skeleton: skeleton whose graph the model uses (default ``in-motion-19``).
        conv_impl: temporal convolutions by ``"conv"`` (XLA convolution), ``"shift"`` (sums of shifted slices
            times matmuls, which vmap over instances into batched matmuls) or ``"auto"`` (``shift`` on CPU, else
            ``conv``); the variables are the same (:mod:`infantjax.nn.temporal`).

    Returns:
        a ``flax.linen.Module``; ``model.init(rng, x, train=False)``, ``model.apply(variables, x, train=...,
        mutable=["batch_stats"])`` → ``(logits, features)``.
    """
    if mode not in MODES:
        raise ConfigError(f"mode {mode!r} is unknown; use one of {MODES}")
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
        return SearchableGCN(spec=spec, skeleton=name, mode=mode, conv_impl=conv_impl)
    if isinstance(spec, STGCNSpec):
        from infantjax.models.gcn.stgcn import STGCN

        return STGCN(spec=spec, skeleton=name, mode=mode, conv_impl=conv_impl)
    raise ConfigError(f"spec must be a GCNSpec or STGCNSpec, got {type(spec).__name__}")


def class_activation_map(spec: GCNSpec | STGCNSpec, variables, features: Float[Array, "N T V C"]
                         ) -> Float[Array, "N T V K"]:
    """Per-class activation maps from the classifier weights and the last feature map (EfficientGCN-style CAM,
    gcn_reference A.10).

    Global head: cam[n, t, v, k] = Σ_c features[n, t, v, c] · W_fc[c, k], so the logits are the mean of the
    map over (t, v) plus the classifier bias. Spatial head: the head is linear (mean over T, C·V → C conv,
    C → classes conv, no activation), so the map uses the composite weight of joint v and channel c,
    W[v, c, k] = Σ_j W_pool[c·V + v, j] · W_fc[j, k]; the logits are then the sum over joints of the time-mean of
    the map plus b_pool·W_fc + b_fc. Either way the map is each (frame, joint)'s exact additive contribution.

    Arguments:
        spec: the model's spec (decides the head type).
        variables: the model's variables (``{"params": ...}``) of one instance.
        features: the feature map returned by the model, (N, T', V, C').

    Returns:
        (N, T', V, num_classes).
    """
    params = variables.get("params", variables)
    w_fc = jnp.asarray(params["head_fc"]["kernel"])
    pool = spec.pool if isinstance(spec, GCNSpec) else "global"
    if features.ndim != 4 or features.shape[-1] != w_fc.shape[0]:
        raise DataError(f"features of shape {tuple(features.shape)} do not match the classifier "
                        f"({w_fc.shape[0]} channels)")
    if pool == "spatial":
        w_pool = jnp.asarray(params["head_pool"]["kernel"])  # (C·V, C)
        c, v = features.shape[-1], features.shape[2]
        w = jnp.einsum("cvj,jk->vck", w_pool.reshape(c, v, -1), w_fc)
        return jnp.einsum("ntvc,vck->ntvk", features, w)
    return jnp.einsum("ntvc,ck->ntvk", features, w_fc)
