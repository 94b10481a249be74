"""Pieces shared by the searchable GCN and ST-GCN: graphs, input checks, BatchNorm, the projection residual, the
temporal-convolution layout, the classification head and its class activation maps.

Both networks import this module and nothing of each other.
"""

from __future__ import annotations

import functools
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from infantjax import skeleton as skeleton_lib
from infantjax.errors import DataError, SkeletonMismatchError
from infantjax.models.gcn.spec import GCNSpec, STGCNSpec
from infantjax.nn.norm import CONVENTIONS, batch_norm
from infantjax.nn.precision import resolve
from infantjax.nn.temporal import Pointwise, TemporalConv
from infantjax.nn.torch_compat import LINEAR_GAIN, he_fan_out, torch_bias

__all__ = ["adjacency", "bn", "bn_affine", "check_input", "class_activation_map", "compute_dtype",
           "folded_branches", "head", "normalised_input", "output_dtype", "projection", "temporal_conv_layer"]


@functools.lru_cache(maxsize=64)
def adjacency(skeleton: str | skeleton_lib.Skeleton, scales: int | None, mode: str = "reference") -> np.ndarray:
    """Adjacency stack (K, V, V) of a graph choice: spatial configuration (``scales=None``, K = 3) or
    disentangled aggregation with ``scales`` hops (gcn_reference A.3). ``mode`` applies to the spatial one."""
    skel = skeleton_lib.get(skeleton)
    if scales is None:
        return skel.adjacency("spatial", mode=mode)
    return skel.adjacency("disentangled", scales=scales)


def bn(train: bool, name: str, dtype: Any, numerics: str = "flax") -> nn.Module:
    """The GCNs' BatchNorm: PyTorch's ε = 1e-5 and momentum 0.1 (the reference is PyTorch; ``nn.norm``);
    ``numerics`` ``"flax"`` (fast) or ``"torch"`` (PyTorch's training numerics, :func:`~infantjax.nn.norm.batch_norm`)."""
    return batch_norm(train, name, convention="torch", dtype=dtype, numerics=numerics)


def bn_affine(variables: dict, name: str, dtype: Any = jnp.float32) -> tuple:
    """The evaluation of the GCN BatchNorm ``name`` (:func:`bn`) as a per-channel affine map y = x·m + s, from its
    variables in ``variables`` (a module's ``{"params": ..., "batch_stats": ...}``): m = γ/√(σ²+ε) and
    s = β − μ·m, computed in ``dtype`` (float32 or float64)."""
    params, stats = variables["params"][name], variables["batch_stats"][name]
    m = jax.lax.rsqrt(jnp.asarray(stats["var"], dtype) + CONVENTIONS["torch"].epsilon) * jnp.asarray(params["scale"],
                                                                                                     dtype)
    return m, jnp.asarray(params["bias"], dtype) - jnp.asarray(stats["mean"], dtype) * m


def folded_branches(variables: dict, scales: int, kernel_size: int, dtype: Any = jnp.float32) -> tuple:
    """A basic temporal block's branches as one convolution: branch d (dilation d = 1 … ``scales``) is a (k×1)
    convolution ``branch{d}_conv`` with bias and the BatchNorm ``branch{d}_bn``; with two or more, the branches are
    concatenated and mixed by the 1×1 convolution ``fusion`` and the BatchNorm ``fusion_bn``. All of it is linear in
    the block's input, so it is one convolution whose kernel holds branch d's tap j at offset (j − h)·d, h = (k−1)/2,
    multiplied through the BatchNorms and the fusion, summed where the branches' taps meet.

    Arguments:
        variables: the block's variables (``{"params": ..., "batch_stats": ...}``).
        scales: the number of branches.
        kernel_size: k (odd).
        dtype: the dtype the folded weights are computed in (float32, or float64 for a float64 network).

    Returns:
        (kernel (2·h·scales + 1, C, F), bias (F,)): the convolution of dilation 1 and padding h·scales with the same
        stride as the branches.
    """
    params = variables["params"]
    h = (kernel_size - 1) // 2
    kernel = bias = None
    for d in range(1, scales + 1):
        conv = params[f"branch{d}_conv"]["conv"]
        w = jnp.asarray(conv["kernel"], dtype)
        w = w.reshape(w.shape[0], *w.shape[-2:])  # (k, C, F)
        m, s = bn_affine(variables, f"branch{d}_bn", dtype)
        mix = jnp.diag(m)  # the branch's BatchNorm, then its rows of the fusion
        b = jnp.asarray(conv["bias"], dtype) * m + s
        if scales > 1:
            fusion = jnp.asarray(params["fusion"]["conv"]["kernel"], dtype)
            rows = fusion[(d - 1) * fusion.shape[1]:d * fusion.shape[1]]
            mix, b = mix @ rows, b @ rows
        w = jnp.einsum("kcf,fg->kcg", w, mix)
        # tap j at offset h·(scales − d) + j·d: the taps spread with d − 1 zeros between them, then padded to the
        # folded length (concatenations and pads, no scatter: exchange formats such as LiteRT take them)
        k = w.shape[0]
        if d > 1:
            w = jnp.concatenate([w[:, None], jnp.zeros((k, d - 1, *w.shape[1:]), dtype)], axis=1)
            w = w.reshape(k * d, *w.shape[2:])[:(k - 1) * d + 1]
        w = jnp.pad(w, ((h * (scales - d), h * (scales - d)), (0, 0), (0, 0)))
        kernel = w if kernel is None else kernel + w
        bias = b if bias is None else bias + b
    if scales > 1:
        m, s = bn_affine(variables, "fusion_bn", dtype)
        kernel = kernel * m
        bias = (bias + jnp.asarray(params["fusion"]["conv"]["bias"], dtype)) * m + s
    return kernel, bias


def projection(x, features: int, stride: int, train: bool, name: str, dtype: Any, numerics: str = "flax"):
    """1×1 conv (with temporal stride) + BN, the projection residual of the reference; layers ``name`` and
    ``name + "_bn"``."""
    y = Pointwise(features, stride=stride, gain=LINEAR_GAIN, dtype=dtype, name=name)(x)
    return bn(train, name + "_bn", dtype, numerics)(y)


def compute_dtype(spec_dtype: str, x) -> Any:
    """The dtype a GCN computes in: the spec's (``"auto"``: the backend policy's, :func:`infantjax.nn.precision.
    resolve`), except float64 for float64 input when JAX runs with x64 enabled
    (``jax.config.update("jax_enable_x64", True)``; float32 specs only), so that parity with a float64 reference can
    be checked far below float32 rounding. Without x64, float64 input cannot reach the model as float64."""
    dt = resolve(spec_dtype)
    if dt == jnp.float32 and jnp.dtype(x.dtype) == jnp.float64 and jax.config.jax_enable_x64:
        return jnp.dtype(jnp.float64)
    return dt


def output_dtype(dt: Any) -> Any:
    """Logits and features come back float32, or float64 when the network computes in float64."""
    return jnp.dtype(jnp.float64) if jnp.dtype(dt) == jnp.float64 else jnp.dtype(jnp.float32)


class _Conv(nn.Module):
    """Runs ``conv`` (adopted under that name): the variables of a GCN temporal convolution named ``n`` live at
    ``n/conv/{kernel,bias}``, as they have since these layers were a wrapper around an ``nn.Conv`` named
    ``conv`` — so checkpoints and initial values carry over."""

    conv: nn.Module

    def __call__(self, x):
        return self.conv(x)


def temporal_conv_layer(name: str, features: int, kernel_size: int, **kwargs) -> nn.Module:
    """A :class:`~infantjax.nn.temporal.TemporalConv` with the GCN variable layout ``name/conv/...``
    (``kwargs``: stride, dilation, groups, use_bias, gain, impl, dtype)."""
    return _Conv(TemporalConv(features, kernel_size, parent=None, **kwargs), name=name)


def check_input(x, v: int, c: int, skeleton_name: str) -> None:
    """Raise a DataError/SkeletonMismatchError unless ``x`` is a float window batch (N, T, v, c)."""
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


def normalised_input(x, skeleton: str | skeleton_lib.Skeleton, channels: int, dtype: Any, train: bool,
                     numerics: str = "flax"):
    """The prologue both networks share: the input checked against the skeleton's V joints and ``channels``
    channels (:func:`check_input`), cast to the compute dtype and normalised by one BatchNorm1d over its V·C
    features (index v·C + c; the reference's ``data_bn``, A.4), called inside the network's compact
    ``__call__`` (the BatchNorm is its submodule ``data_bn``).

    Returns:
        (N, T, V, C) normalised input.
    """
    skel = skeleton_lib.get(skeleton)
    v = skel.num_keypoints
    check_input(x, v, channels, skel.name)
    n, t = x.shape[:2]
    x = jnp.asarray(x, dtype)
    return bn(train, "data_bn", dtype, numerics)(x.reshape(n, t, v * channels)).reshape(n, t, v, channels)


def head(x, pool: str, num_classes: int, dtype: Any):
    """Global head: mean over (T, V) → 1×1 conv. Spatial head: mean over T, flatten channel-major (c·V + v),
    1×1 conv C·V → C (bias, no activation), 1×1 conv → classes (A.4). Logits come back float32 (float64 when the
    network computes in float64, :func:`compute_dtype`)."""
    c = x.shape[-1]
    if pool == "spatial":
        v = x.shape[2]
        y = x.mean(axis=1).transpose(0, 2, 1).reshape(x.shape[0], c * v)
        y = nn.Dense(c, kernel_init=he_fan_out(LINEAR_GAIN), bias_init=torch_bias(c * v), dtype=dtype,
                     name="head_pool")(y)
    else:
        y = x.mean(axis=(1, 2))
    logits = nn.Dense(num_classes, kernel_init=he_fan_out(LINEAR_GAIN), bias_init=torch_bias(c), dtype=dtype,
                      name="head_fc")(y)
    return logits.astype(output_dtype(dtype))


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
