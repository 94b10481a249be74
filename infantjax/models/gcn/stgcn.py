"""ST-GCN, the baseline of seed 002 (yysijie/st-gcn ``Model``; gcn_reference B.1), in Flax Linen.

Ten modules 64-64-64-64-128-128-128-256-256-256 (temporal stride 2 at the 5th and 8th), each: graph conv (1×1
to K·C channels, aggregation over the spatial-configuration partitions, K = 3) → BN → ReLU → (9×1) temporal conv
→ BN, plus a residual (none in the first module, identity where shapes agree, otherwise a strided 1×1 conv + BN),
then ReLU; learnable edge importance per module; global average pool; 1×1 conv to the classes. The input is the
positions only (C = 2). Dropout is 0 (the reference trains without it).

Initialisation: He normal, fan-out (gain √2) for every conv kernel — the "backward case of He normal" that seed
002 selected for ST-GCN — PyTorch's default uniform biases, BatchNorm scale 1 / offset 0.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from infantjax import skeleton as skeleton_lib
from infantjax.models.gcn.common import (
    adjacency,
    bn,
    compute_dtype,
    head,
    normalised_input,
    output_dtype,
    temporal_conv_layer,
)
from infantjax.models.gcn.spec import STGCNSpec
from infantjax.nn.graph import GraphConv
from infantjax.nn.remat import remat_module
from infantjax.nn.temporal import Pointwise
from infantjax.nn.torch_compat import RELU_GAIN

__all__ = ["STGCN"]


class STGCN(nn.Module):
    """ST-GCN configured by an :class:`STGCNSpec`.

    ``model.apply(variables, x, train=...)`` with x (N, T, V, C = spec.in_channels) returns
    ``(logits (N, num_classes), features (N, T', V, C'))``, both float32. ``mode`` selects the reference
    (``max_hop=1``) or corrected spatial partition; ``conv_impl`` how the temporal convolutions are computed
    (:mod:`infantjax.nn.temporal`); ``spec.dtype`` the compute dtype (float64 for float64 input under
    ``jax_enable_x64``); ``bn_numerics`` the BatchNorm training numerics (``"flax"`` or ``"torch"``,
    :mod:`infantjax.nn.norm`); ``remat`` rematerialises every module under differentiation (as
    :class:`~infantjax.models.gcn.searchable.SearchableGCN`).
    """

    spec: STGCNSpec = STGCNSpec()
    skeleton: str | skeleton_lib.Skeleton = "in-motion-19"
    mode: str = "reference"
    conv_impl: str = "auto"
    bn_numerics: str = "flax"
    remat: bool = False

    @nn.compact
    def __call__(self, x: Float[Array, "N T V C"], train: bool = False):
        spec = self.spec
        dt = compute_dtype(spec.dtype, x)
        module = remat_module(_Module, self.remat)
        x = normalised_input(x, self.skeleton, spec.in_channels, dt, train, self.bn_numerics)
        a = jnp.asarray(adjacency(self.skeleton, spec.graph_scales, self.mode))
        for i, (c_out, stride) in enumerate(zip(spec.channels, spec.strides)):
            x = module(c_out, stride, int(spec.temporal_kernel_size), residual=i > 0,
                        edge_importance=spec.edge_importance, conv_impl=self.conv_impl, dtype=dt,
                        bn_numerics=self.bn_numerics, name=f"module{i}")(x, a, train)
        return head(x, "global", spec.num_classes, dt), x.astype(output_dtype(dt))


class _Module(nn.Module):
    features: int
    stride: int
    kernel_size: int
    residual: bool = True
    edge_importance: bool = True
    conv_impl: str = "auto"
    dtype: Any = jnp.float32
    bn_numerics: str = "flax"

    @nn.compact
    def __call__(self, x, a, train: bool):
        dt = self.dtype
        if self.edge_importance:
            a = a * self.param("edge_importance", nn.initializers.ones, a.shape, jnp.float32)
        if not self.residual:
            res = 0.0
        elif x.shape[-1] == self.features and self.stride == 1:
            res = x
        else:
            res = Pointwise(self.features, stride=self.stride, gain=RELU_GAIN, dtype=dt, name="residual")(x)
            res = bn(train, "residual_bn", dt, self.bn_numerics)(res)
        y = GraphConv(self.features, a.shape[0], gain=RELU_GAIN, dtype=dt, name="gcn")(x, a)
        y = jax.nn.relu(bn(train, "bn1", dt, self.bn_numerics)(y))
        y = temporal_conv_layer("tcn", self.features, self.kernel_size, stride=self.stride, gain=RELU_GAIN,
                                impl=self.conv_impl, dtype=dt)(y)
        y = bn(train, "bn2", dt, self.bn_numerics)(y)
        return jax.nn.relu(y + res)
