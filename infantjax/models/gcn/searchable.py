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
not built in either mode; ``infantjax.models.count_parameters(spec, convention="reference")`` counts them analytically.

The uniform(±1e−6) noise the reference adds to disentangled adjacencies once at construction (``use_mask``) is
left out, in both modes. It is not negligible: it is drawn from torch's global RNG (so it cannot be reproduced
here) and moves eval logits by up to 1.8e−4 of the largest |logit| on Table A.4 architecture 5 (2.7e−5 on
architecture 6; data/movementoutcome-parity/README.md), because the channel-attention BatchNorms, whose running
variance is about ε, amplify it. A network imported with :func:`~infantjax.models.gcn.from_torch_state_dict`
therefore computes what the reference computes with the noise-free graph (``use_mask=False``).

The nonlinearity (``relu`` or ``swish`` = x·sigmoid(x), seed 002 Table A.1) is used everywhere, inside SE and
attention too. ``spec.dtype`` is the compute dtype (parameters float32; logits and features come back float32).
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax.numpy as jnp
from jaxtyping import Array, Float

from infantjax import backend
from infantjax import skeleton as skeleton_lib
from infantjax.models.gcn.common import (
    adjacency,
    bn,
    compute_dtype,
    folded_branches,
    head,
    normalised_input,
    output_dtype,
    projection,
    temporal_conv_layer,
)
from infantjax.models.gcn.counting import mbconv_outer_se_ratio
from infantjax.models.gcn.spec import GCNSpec, ModulePlan
from infantjax.nn import activations
from infantjax.nn.attention import ChannelAttention, FrameAttention, JointAttention
from infantjax.nn.graph import DepthwiseGraphConv, GraphConv
from infantjax.nn.remat import remat_module
from infantjax.nn.se import SqueezeExcitation
from infantjax.nn.temporal import Pointwise, temporal_conv
from infantjax.nn.torch_compat import LINEAR_GAIN, RELU_GAIN

__all__ = ["STGCNModule", "SearchableGCN"]


class SpatialBlock(nn.Module):
    """Graph-convolution block: basic, bottleneck (ResGCN) or MBConv (EfficientNet) (gcn_reference A.6)."""

    plan: ModulePlan
    partitions: int
    nonlinearity: str
    mode: str = "reference"
    dtype: Any = jnp.float32
    bn_numerics: str = "flax"

    @nn.compact
    def __call__(self, x, a, train: bool):
        p, act, dt = self.plan, activations.get(self.nonlinearity), self.dtype
        c_out, f = p.out_channels, p.factor
        res = 0.0
        if p.block_residual:
            res = x if p.in_channels == c_out else projection(x, c_out, 1, train, "residual", dt,
                                                             self.bn_numerics)
        if p.block_type == "mbconv":
            inter = max(12, p.in_channels * f)
            x = Pointwise(inter, use_bias=False, gain=RELU_GAIN, dtype=dt, name="conv_expand")(x)
            x = act(bn(train, "bn_expand", dt, self.bn_numerics)(x))
            x = DepthwiseGraphConv(self.partitions, mode=self.mode, gain=LINEAR_GAIN, dtype=dt, name="gcn")(x, a)
            x = act(bn(train, "bn", dt, self.bn_numerics)(x))
            if p.inner_se_ratio:
                x = SqueezeExcitation(p.inner_se_ratio, act, dtype=dt, name="se")(x)
            x = Pointwise(c_out, use_bias=False, gain=RELU_GAIN, dtype=dt, name="conv_project")(x)
            x = bn(train, "bn_project", dt, self.bn_numerics)(x)  # no activation before the residual add
        elif p.block_type == "bottleneck":
            inter = c_out // f
            x = Pointwise(inter, gain=RELU_GAIN, dtype=dt, name="conv_down")(x)
            x = act(bn(train, "bn_down", dt, self.bn_numerics)(x))
            x = GraphConv(inter, self.partitions, dtype=dt, name="gcn")(x, a)
            x = act(bn(train, "bn", dt, self.bn_numerics)(x))
            x = Pointwise(c_out, gain=RELU_GAIN, dtype=dt, name="conv_up")(x)
            x = bn(train, "bn_up", dt, self.bn_numerics)(x)
            if p.inner_se_ratio:
                x = SqueezeExcitation(p.inner_se_ratio, act, dtype=dt, name="se")(x)
        else:  # basic
            x = GraphConv(c_out, self.partitions, dtype=dt, name="gcn")(x, a)
            x = bn(train, "bn", dt, self.bn_numerics)(x)
            if p.inner_se_ratio:
                x = SqueezeExcitation(p.inner_se_ratio, act, dtype=dt, name="se")(x)
        return act(x + res)


class TemporalBlock(nn.Module):
    """Multi-scale dilated temporal convolution (dilations 1..scales) with block/module residuals (A.5, A.6)."""

    plan: ModulePlan
    kernel_size: int
    nonlinearity: str
    mode: str = "reference"
    conv_impl: str = "auto"
    dtype: Any = jnp.float32
    bn_numerics: str = "flax"

    @nn.compact
    def __call__(self, x, module_residual, train: bool):
        p, act, dt = self.plan, activations.get(self.nonlinearity), self.dtype
        c, s, f, k = p.out_channels, p.stride, p.factor, self.kernel_size
        tconv = {"stride": s, "gain": RELU_GAIN, "impl": self.conv_impl, "dtype": dt}
        res = 0.0
        if p.block_residual:
            res = x if s == 1 else projection(x, c, s, train, "residual", dt, self.bn_numerics)
        if self._fold(train):
            # the branches, their BatchNorms and the fusion as one convolution (Policy.temporal_fold)
            kernel, bias = folded_branches(self.variables, p.temporal_scales, k, jnp.promote_types(dt, jnp.float32))
            kernel = kernel.reshape(kernel.shape[0], *(1,) * (x.ndim - 3), *kernel.shape[1:]).astype(dt)
            y = temporal_conv(jnp.asarray(x, dt), kernel, stride=s, padding=(k - 1) // 2 * p.temporal_scales,
                              impl=self.conv_impl) + bias.astype(dt)
            return act(self._outer_se(y, act, dt) + res + module_residual)
        branches = []
        for d in range(1, p.temporal_scales + 1):
            name = f"branch{d}_"
            if p.block_type == "mbconv":
                inter = c * f
                y = Pointwise(inter, use_bias=False, gain=RELU_GAIN, dtype=dt, name=name + "conv_expand")(x)
                y = act(bn(train, name + "bn_expand", dt, self.bn_numerics)(y))
                y = temporal_conv_layer(name + "conv", inter, k, dilation=d, groups=inter, use_bias=False,
                                        **tconv)(y)
                y = act(bn(train, name + "bn", dt, self.bn_numerics)(y))
                if p.inner_se_ratio:
                    y = SqueezeExcitation(p.inner_se_ratio, act, dtype=dt, name=name + "se")(y)
                y = Pointwise(c, use_bias=False, gain=RELU_GAIN, dtype=dt, name=name + "conv_project")(y)
                y = bn(train, name + "bn_project", dt, self.bn_numerics)(y)
            elif p.block_type == "bottleneck":
                inter = c // f
                y = Pointwise(inter, gain=RELU_GAIN, dtype=dt, name=name + "conv_down")(x)
                y = act(bn(train, name + "bn_down", dt, self.bn_numerics)(y))
                y = temporal_conv_layer(name + "conv", inter, k, dilation=d, **tconv)(y)
                y = act(bn(train, name + "bn", dt, self.bn_numerics)(y))
                y = Pointwise(c, gain=RELU_GAIN, dtype=dt, name=name + "conv_up")(y)
                y = bn(train, name + "bn_up", dt, self.bn_numerics)(y)
                if p.inner_se_ratio:
                    y = SqueezeExcitation(p.inner_se_ratio, act, dtype=dt, name=name + "se")(y)
            else:  # basic
                y = temporal_conv_layer(name + "conv", c, k, dilation=d, **tconv)(x)
                y = bn(train, name + "bn", dt, self.bn_numerics)(y)
                if p.inner_se_ratio:
                    y = SqueezeExcitation(p.inner_se_ratio, act, dtype=dt, name=name + "se")(y)
            branches.append(y)
        if len(branches) > 1:
            y = Pointwise(c, gain=LINEAR_GAIN, dtype=dt, name="fusion")(jnp.concatenate(branches, axis=-1))
            y = bn(train, "fusion_bn", dt, self.bn_numerics)(y)
        else:
            y = branches[0]
        return act(self._outer_se(y, act, dt) + res + module_residual)

    def _outer_se(self, y, act, dt):
        """The outer SE after the branches (after their fusion), where the block has one."""
        p = self.plan
        if p.block_type == "mbconv":
            outer = mbconv_outer_se_ratio(p.outer_se_ratio, p.factor, self.mode)
        else:
            outer = p.outer_se_ratio
        # reference quirk: no outer SE at one scale
        if outer and (p.temporal_scales > 1 or self.mode == "corrected"):
            y = SqueezeExcitation(outer, act, dtype=dt, name="outer_se")(y)
        return y

    def _fold(self, train: bool) -> bool:
        """Whether the branches run folded into one convolution: a basic block without inner SE (every step between
        its input and the fusion is linear), evaluated (running averages) in float32 or float64 under a policy with
        ``temporal_fold``, once its variables exist (initialisation creates them through the branches)."""
        p = self.plan
        return (not train and p.block_type == "basic" and not p.inner_se_ratio
                and backend.current().temporal_fold
                and jnp.dtype(self.dtype) in (jnp.dtype(jnp.float32), jnp.dtype(jnp.float64))
                and not self.is_initializing())


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
    dtype: Any = jnp.float32
    bn_numerics: str = "flax"

    @nn.compact
    def __call__(self, x, a, train: bool = False):
        p, dt = self.plan, self.dtype
        if self.edge_importance:
            # learnable K×V×V mask per module, initialised to ones; the module uses A ⊙ mask
            a = a * self.param("edge_importance", nn.initializers.ones, a.shape, jnp.float32)
        module_res = 0.0
        if p.module_residual:
            if p.stride == 1 and p.in_channels == p.out_channels:
                module_res = x
            else:
                module_res = projection(x, p.out_channels, p.stride, train, "residual", dt, self.bn_numerics)
        x = SpatialBlock(p, self.partitions, self.nonlinearity, self.mode, dt, self.bn_numerics,
                         name="spatial")(x, a, train)
        x = TemporalBlock(p, self.kernel_size, self.nonlinearity, self.mode, self.conv_impl, dt, self.bn_numerics,
                          name="temporal")(x, module_res, train)
        act = activations.get(self.nonlinearity)
        if self.attention == "channel":
            x = ChannelAttention(act, dtype=dt, bn_numerics=self.bn_numerics, name="attention")(x, train)
        elif self.attention == "frame":
            x = FrameAttention(self.kernel_size, act, self.conv_impl, dtype=dt, bn_numerics=self.bn_numerics,
                               name="attention")(x, train)
        elif self.attention == "joint":
            x = JointAttention(act, dtype=dt, bn_numerics=self.bn_numerics, name="attention")(x, train)
        return x


class SearchableGCN(nn.Module):
    """The 20-choice GCN of Ensemble-NAS-GCN.

    Attributes:
        spec: the architecture (``spec.dtype``: the compute dtype).
        skeleton: registry name (or :class:`~infantjax.skeleton.Skeleton`) whose graph the model uses.
        mode: ``"reference"`` (default) or ``"corrected"`` (module docstring).
        conv_impl: how temporal convolutions are computed, ``"auto"``, ``"conv"`` or ``"shift"``
            (:mod:`infantjax.nn.temporal`; same variables and, to float32 rounding, the same outputs).
        bn_numerics: BatchNorm training numerics, ``"flax"`` (default, fastest) or ``"torch"`` (two-pass batch
            variance and PyTorch's unbiased running variance, as the reference trains; :mod:`infantjax.nn.norm`).
        remat: rematerialise every ST-GCN module (``nn.remat``): under differentiation only the modules' inputs
            are kept for the backward pass and each module's activations are computed again there — a fraction
            of the training step's memory for about one more forward pass (docs/performance.md, "Memory").
            Variables, outputs and gradients are the same.

    Call ``model.apply(variables, x, train=...)`` with x of shape (N, T, V, C): C = 6 channels in the order
    [position x, y | velocity x, y | bone x, y]. Returns ``(logits (N, num_classes), features (N, T', V, C'))``,
    both float32 (float64 for float64 input under ``jax_enable_x64``, :func:`~infantjax.models.gcn.common.
    compute_dtype`); ``features`` is the last feature map before the head (for
    :func:`~infantjax.models.gcn.class_activation_map`).
    """

    spec: GCNSpec
    skeleton: str | skeleton_lib.Skeleton = "in-motion-19"
    mode: str = "reference"
    conv_impl: str = "auto"
    bn_numerics: str = "flax"
    remat: bool = False

    @nn.compact
    def __call__(self, x: Float[Array, "N T V C"], train: bool = False):
        spec = self.spec
        dt = compute_dtype(spec.dtype, x)
        module = remat_module(STGCNModule, self.remat)
        per_branch = spec.in_channels_per_branch
        # input normalisation: BatchNorm1d over V·C features, before the branches split (A.4)
        x = normalised_input(x, self.skeleton, spec.num_input_branches * per_branch, dt, train, self.bn_numerics)
        scales_in, scales_main = spec.graph_scales
        a_in = jnp.asarray(adjacency(self.skeleton, scales_in, self.mode))
        a_main = jnp.asarray(adjacency(self.skeleton, scales_main, self.mode))
        k_in, k_main = spec.partitions
        common = {"kernel_size": int(spec.temporal_kernel_size), "nonlinearity": spec.nonlinearity,
                  "attention": spec.attention, "edge_importance": spec.edge_importance, "mode": self.mode,
                  "conv_impl": self.conv_impl, "dtype": dt, "bn_numerics": self.bn_numerics}
        # three input branches of the same architecture, each with its own weights, masks and BN statistics
        outputs = []
        for b in range(spec.num_input_branches):
            y = x[..., b * per_branch:(b + 1) * per_branch]
            for i, plan in enumerate(spec.input_modules()):
                y = module(plan, k_in, name=f"input{b}_module{i}", **common)(y, a_in, train)
            outputs.append(y)
        if len(outputs) > 1:
            # fusion: concatenate along channels (branch b, channel c -> b·W + c), 1×1 conv with bias, BN,
            # no nonlinearity (A.4)
            x = Pointwise(spec.fusion_channels[1], gain=LINEAR_GAIN, dtype=dt, name="fusion")(
                jnp.concatenate(outputs, axis=-1))
            x = bn(train, "fusion_bn", dt, self.bn_numerics)(x)
        else:
            x = outputs[0]
        for plan in spec.main_modules():
            x = module(plan, k_main, name=f"main{plan.level}_module{plan.index}", **common)(x, a_main, train)
        return head(x, spec.pool, spec.num_classes, dt), x.astype(output_dtype(dt))
