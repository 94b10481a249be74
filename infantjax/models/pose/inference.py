"""EfficientPose inference graph: BatchNorm folded into the convolutions, CPU-friendly operators.

:func:`fold_efficientpose` is a pure function from the Flax variables of :class:`EfficientPose` to a smaller
pytree in which every inference-mode BatchNorm is folded into the convolution before it
(W' = W·γ/√(σ² + ε), b' = β − μ·γ/√(σ² + ε); exact up to float32 rounding), 1×1 kernels are plain matrices and
the fixed upscaling kernels are reduced to their diagonals. :func:`efficientpose_heatmaps` runs the deployment
graph (backbones -> three detection passes -> pass-3 heatmaps -> 8× upscaling) on that pytree. It is the same
network as :class:`EfficientPose` — the tests hold it to the module's outputs and to the official Keras outputs —
written for speed at inference:

* no BatchNorm arithmetic at run time, and each bias is added in the same fusion as the activation;
* sigmoid gates and swish/E-swish use tanh (σ(x) = (1 + tanh(x/2))/2), cheaper on XLA:CPU;
* 1×1 convolutions are matrix products over (N·H·W, C);
* the squeeze-and-excitation gate scales the rows of the projection matrix (one (C, C') matrix per image)
  instead of the expanded activation (N, H, W, C), saving a pass over the largest tensors;
* depthwise convolutions are sums of shifted multiplies, with stride 2 done on the four polyphase components
  of the input (contiguous slices only);
* the transposed bilinear upscaling is computed per output phase (four 2×2 products per input pixel instead of
  a stride-2 dilated 4×4 convolution, three quarters of whose products are with zeros);
* on CPU a batch is run as a sequence of ``microbatch``-image slices (two images by default), which keeps every
  activation of a slice in the L2/L3 cache (faster per image at batch 16 than the whole batch at once or one
  image at a time, docs/performance.md).

Training, the full graph (PAFs, pass 2) and gradients stay with :class:`EfficientPose`.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from infantjax import backend as _backend
from infantjax.errors import ConfigError
from infantjax.models.pose.efficientpose import EfficientPoseSpec, upscale_phases
from infantjax.nn.activations import ESWISH_BETA
from infantjax.nn.efficientnet import efficientnet_spec
from infantjax.nn.norm import CONVENTIONS
from infantjax.nn.precision import resolve

__all__ = [
    "InferenceOptions",
    "default_options",
    "efficientpose_heatmaps",
    "fold_efficientpose",
    "make_heatmap_fn",
    "map_microbatches",
]


@dataclasses.dataclass(frozen=True)
class InferenceOptions:
    """How the inference graph is computed (results equal to float32 rounding for every choice).

    Arguments:
        depthwise: ``shift`` (sum of shifted multiplies; stride 2 on polyphase components) or ``conv`` (XLA's
            grouped convolution, the better choice on accelerators).
        microbatch: run a batch as slices of this many images (``None``: the whole batch at once).
        se_fold: apply the SE gate to the projection matrix instead of the activation.
    """

    depthwise: str = "shift"
    microbatch: int | None = None
    se_fold: bool = True

    def __post_init__(self):
        if self.depthwise not in ("shift", "conv"):
            raise ConfigError(f"depthwise must be 'shift' or 'conv', got {self.depthwise!r}")
        if self.microbatch is not None and int(self.microbatch) < 1:
            raise ConfigError(f"microbatch must be None or >= 1, got {self.microbatch}")


def default_options(backend: str | None = None) -> InferenceOptions:
    """The measured-fastest options of a backend policy (:mod:`infantjax.backend`; ``cpu``: two images at a time —
    RT 11.3 vs 12.3 ms/img with one and 12.4 with four at batch 16, I 19.9 vs 21.5 / 24.0, idle AVX-512,
    docs/performance.md; ``accelerator``: whole batches, XLA's depthwise convolution).

    Arguments:
        backend: a policy name (``cpu``, ``accelerator``, ``tpu``, ``auto``) or a platform (``gpu``: the
            accelerator policy's); default the policy in force.
    """
    if backend is None:
        policy = _backend.current()
    else:
        policy = _backend.policy("accelerator" if backend == "gpu" else backend)
    return InferenceOptions(depthwise=policy.pose_depthwise, microbatch=policy.pose_microbatch,
                            se_fold=policy.pose_se_fold)


# ---------------------------------------------------------------------------------------------- folding
def _fold(kernel, bn_params, bn_stats):
    """Fold an inference BatchNorm into the preceding bias-free convolution (output channels last)."""
    scale = bn_params["scale"] * jax.lax.rsqrt(bn_stats["var"] + CONVENTIONS["keras"].epsilon)
    return kernel * scale, bn_params["bias"] - bn_stats["mean"] * scale


def _conv_bn(params, stats, conv: str, bn: str, matrix: bool) -> dict:
    k, b = _fold(params[conv]["kernel"], params[bn], stats[bn])
    if matrix:  # 1×1 kernel (1, 1, Cin, Cout) -> (Cin, Cout)
        k = k.reshape(k.shape[-2], k.shape[-1])
    return {"kernel": k, "bias": b}


def _dw_bn(params, stats, conv: str, bn: str) -> dict:
    k, b = _fold(params[conv]["kernel"], params[bn], stats[bn])  # (k, k, 1, C): C is last, as the BN axis
    return {"kernel": k[:, :, 0, :], "bias": b}


def _dense(params, name: str) -> dict:
    k = params[name]["kernel"]
    return {"kernel": k.reshape(k.shape[-2], k.shape[-1]), "bias": params[name]["bias"]}


def _fold_backbone(variables, scope: str, spec) -> dict:
    params, stats = variables["params"][scope], variables["batch_stats"][scope]
    out = {"stem": _conv_bn(params, stats, "stem_conv", "stem_bn", matrix=False)}
    for si, st in enumerate(spec.stages):
        for r in range(st.repeats):
            p = f"block{si + 1}{chr(ord('a') + r)}"
            blk = {}
            if st.expand != 1:
                blk["expand"] = _conv_bn(params, stats, f"{p}_expand_conv", f"{p}_expand_bn", matrix=True)
            blk["dw"] = _dw_bn(params, stats, f"{p}_dwconv", f"{p}_bn")
            if not spec.lite:
                blk["se_reduce"] = _dense(params, f"{p}_se_reduce")
                blk["se_expand"] = _dense(params, f"{p}_se_expand")
            blk["project"] = _conv_bn(params, stats, f"{p}_project_conv", f"{p}_project_bn", matrix=True)
            out[p] = blk
    return out


def _block_names(spec: EfficientPoseSpec):
    roles = {1: "skeleton", 2: "detection1", 3: "detection2"}
    for p in (1, 2, 3):
        for d in range(1, spec.info.depth + 1):
            for j in (1, 2, 3):
                yield p, d, j, f"pass{p}_block{d}_mbconv{j}_{roles[p]}"


def fold_efficientpose(spec: EfficientPoseSpec, variables: dict[str, Any]) -> dict[str, Any]:
    """The inference pytree of an EfficientPose network (pure function; jit-able).

    Arguments:
        spec: the network's spec (full or deployment graph; only the deployment part is kept).
        variables: its Flax variables ``{"params", "batch_stats", "fixed"}``.

    Returns:
        ``{"res1": ..., ["res2": ...,] "passes": {...}, "head": {...}, "upscale": [3 × {"kernel", "bias"}]}``
        with folded (kernel, bias) pairs, float32.
    """
    info = spec.info
    out: dict[str, Any] = {"res1": _fold_backbone(variables, "res1", efficientnet_spec(info.high, 3))}
    if info.low is not None:
        out["res2"] = _fold_backbone(variables, "res2", efficientnet_spec(info.low, 2, final_add=False))
    params, stats = variables["params"], variables["batch_stats"]
    passes = {}
    for _, _, _, pre in _block_names(spec):
        blk = {"conv1": _conv_bn(params, stats, f"{pre}_conv1", f"{pre}_conv1_bn", matrix=True),
               "dw": _dw_bn(params, stats, f"{pre}_dconv1", f"{pre}_dconv1_bn")}
        if not info.lite:
            blk["se_reduce"] = _dense(params, f"{pre}_se_se_squeeze_conv")
            blk["se_expand"] = _dense(params, f"{pre}_se_se_excite_conv")
        blk["conv2"] = _conv_bn(params, stats, f"{pre}_conv2", f"{pre}_conv2_bn", matrix=True)
        passes[pre] = blk
    out["passes"] = passes
    out["head"] = _dense(params, "pass3_detection2_confs")
    k = spec.num_keypoints
    idx = np.arange(k)
    out["upscale"] = [{"kernel": variables["fixed"][n]["kernel"][:, :, idx, idx], "bias": variables["fixed"][n]["bias"]}
                      for n in ("upscaled_deconv1", "upscaled_deconv2", "upscaled_confs")]
    return jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float32), out)


# ---------------------------------------------------------------------------------------------- operators
def _sigmoid(x):
    # σ(x) = (1 + tanh(x/2))/2: XLA:CPU's vectorised tanh is cheaper than its logistic (exp and divide); the
    # whole RT graph ran 10 % faster per image with it in the same measurement (docs/performance.md)
    return 0.5 * jnp.tanh(0.5 * x) + 0.5


def _swish(x):
    return x * _sigmoid(x)


def _eswish(x):
    return ESWISH_BETA * x * _sigmoid(x)


def _relu6(x):
    return jnp.clip(x, 0.0, 6.0)


def _matmul(x, kernel, bias):
    """1×1 convolution as a matrix product over the flattened pixels."""
    return jnp.einsum("nhwc,cd->nhwd", x, kernel) + bias


def _depthwise(x, kernel, bias, stride: int, impl: str):
    """Depthwise k×k convolution, TF "SAME" padding, plus bias. ``kernel`` (k, k, C)."""
    k = kernel.shape[0]
    c = x.shape[-1]
    if impl == "conv":
        y = jax.lax.conv_general_dilated(x, kernel[:, :, None, :], (stride, stride), "SAME",
                                         dimension_numbers=("NHWC", "HWIO", "NHWC"), feature_group_count=c)
        return y + bias
    h, w = x.shape[1:3]
    oh, ow = -(-h // stride), -(-w // stride)
    ph, pw = max((oh - 1) * stride + k - h, 0), max((ow - 1) * stride + k - w, 0)
    top, left = ph // 2, pw // 2
    if stride == 1:
        xp = jnp.pad(x, ((0, 0), (top, ph - top), (left, pw - left), (0, 0)))
        out = bias
        for i in range(k):
            for j in range(k):
                out = out + xp[:, i:i + oh, j:j + ow, :] * kernel[i, j]
        return out
    if stride != 2:
        raise ConfigError(f"depthwise stride must be 1 or 2, got {stride}")
    # polyphase: pad to an even size covering every tap, split rows and columns by parity; tap (i, j) of
    # output (r, s) reads padded pixel (2r + i, 2s + j) = phase (i % 2, j % 2) at (r + i // 2, s + j // 2)
    hp, wp = 2 * (oh + (k - 1) // 2), 2 * (ow + (k - 1) // 2)
    xp = jnp.pad(x, ((0, 0), (top, hp - h - top), (left, wp - w - left), (0, 0)))
    phases = xp.reshape(x.shape[0], hp // 2, 2, wp // 2, 2, c)
    out = bias
    for i in range(k):
        for j in range(k):
            ph_ = phases[:, i // 2:i // 2 + oh, i % 2, j // 2:j // 2 + ow, j % 2, :]
            out = out + ph_ * kernel[i, j]
    return out


def _se_project(h, blk, project: str, act, se_fold: bool):
    """SE gate (spatial mean -> reduce -> act -> expand -> sigmoid) followed by the projection 1×1 conv."""
    if "se_reduce" not in blk:
        return _matmul(h, blk[project]["kernel"], blk[project]["bias"])
    s = jnp.mean(h, axis=(1, 2))
    s = act(s @ blk["se_reduce"]["kernel"] + blk["se_reduce"]["bias"])
    g = _sigmoid(s @ blk["se_expand"]["kernel"] + blk["se_expand"]["bias"])  # (N, C)
    if se_fold:  # (h·g) W = h (diag(g) W): scale the projection matrix per image
        kernel = g[:, :, None] * blk[project]["kernel"]
        return jnp.einsum("nhwc,ncd->nhwd", h, kernel) + blk[project]["bias"]
    return _matmul(h * g[:, None, None, :], blk[project]["kernel"], blk[project]["bias"])


def _backbone(x, folded, spec, opts: InferenceOptions):
    act = _relu6 if spec.lite else _swish
    stem = folded["stem"]
    h = jax.lax.conv_general_dilated(x, stem["kernel"], (2, 2), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
    h = act(h + stem["bias"])
    n_stages = len(spec.stages)
    for si, st in enumerate(spec.stages):
        for r in range(st.repeats):
            blk = folded[f"block{si + 1}{chr(ord('a') + r)}"]
            stride = st.stride if r == 0 else 1
            last = si == n_stages - 1 and r == st.repeats - 1
            inp = h
            if "expand" in blk:
                h = act(_matmul(h, blk["expand"]["kernel"], blk["expand"]["bias"]))
            h = act(_depthwise(h, blk["dw"]["kernel"], blk["dw"]["bias"], stride, opts.depthwise))
            h = _se_project(h, blk, "project", act, opts.se_fold)
            if (spec.final_add or not last) and stride == 1 and inp.shape[-1] == h.shape[-1]:
                h = h + inp
    return h


def _forward(folded, x, spec: EfficientPoseSpec, opts: InferenceOptions):
    info = spec.info
    high = _backbone(x, folded["res1"], efficientnet_spec(info.high, 3), opts)
    if info.low is not None:
        n, hh, ww, c = x.shape
        if hh % 2 or ww % 2:  # 'SAME' 2×2 pooling without padding counted: only even sizes occur (R % 8 == 0)
            raise ConfigError(f"input size must be even, got {hh}x{ww}")
        low_in = x.reshape(n, hh // 2, 2, ww // 2, 2, c).mean(axis=(2, 4))
        low = _backbone(low_in, folded["res2"], efficientnet_spec(info.low, 2, final_add=False), opts)
        features = jnp.concatenate([high, low], axis=-1)
    else:
        features = high
    act = _relu6 if info.lite else _eswish
    blocks = folded["passes"]

    def e_mbconv(h, pre):
        blk = blocks[pre]
        h = act(_matmul(h, blk["conv1"]["kernel"], blk["conv1"]["bias"]))
        h = act(_depthwise(h, blk["dw"]["kernel"], blk["dw"]["bias"], 1, opts.depthwise))
        return _se_project(h, blk, "conv2", act, opts.se_fold)

    names = list(_block_names(spec))
    x_pass, dense = features, None
    for p in (1, 2, 3):
        if p > 1:
            x_pass = jnp.concatenate([dense, features], axis=-1)
        for d in range(1, info.depth + 1):
            pre = [n for (pp, dd, _, n) in names if pp == p and dd == d]
            out1 = e_mbconv(x_pass, pre[0])
            out2 = e_mbconv(out1, pre[1])
            dense2 = jnp.concatenate([out2, out1], axis=-1)
            out3 = e_mbconv(dense2, pre[2])
            dense = jnp.concatenate([out3, dense2], axis=-1)
            x_pass = dense
    y = _matmul(dense, folded["head"]["kernel"], folded["head"]["bias"])
    for up in folded["upscale"]:
        y = upscale_phases(y, up["kernel"], up["bias"])
    return y


def efficientpose_heatmaps(folded: dict[str, Any], x: Float[Array, "N R R 3"], spec: EfficientPoseSpec,
                           options: InferenceOptions | None = None) -> Float[Array, "N R R K"]:
    """Upscaled heatmaps (N, R, R, K) of normalised inputs (N, R, R, 3) from a :func:`fold_efficientpose` pytree.

    Arguments:
        folded: the folded variables.
        x: network input, NHWC float32 (see ``preprocess``).
        spec: the network's spec.
        options: :class:`InferenceOptions` (default: :func:`default_options` for the current backend).

    Returns:
        The same heatmaps as ``EfficientPose(spec).apply(variables, x)["heatmaps"]`` up to float32 rounding,
        float32; computed in the spec's compute dtype (``spec.dtype``, ``"auto"``: the backend policy's).
    """
    opts = options or default_options()
    if x.ndim != 4 or x.shape[-1] != 3:
        raise ConfigError(f"EfficientPose expects (N, H, W, 3) input, got shape {tuple(x.shape)}")
    inner = dataclasses.replace(opts, microbatch=None)
    dt = resolve(spec.dtype)  # "auto": the backend policy's compute dtype (bfloat16 on accelerators)
    if dt != jnp.float32:  # mixed precision: the folded float32 variables and the input cast once, maps float32
        folded = jax.tree_util.tree_map(lambda a: a.astype(dt), folded)
        x = x.astype(dt)
    heatmaps = map_microbatches(lambda xi: _forward(folded, xi, spec, inner), x, opts.microbatch)
    return heatmaps.astype(jnp.float32)


def map_microbatches(fn, x: Array, microbatch: int | None):
    """``fn`` over slices of ``microbatch`` items of ``x`` (``lax.map``), outputs concatenated along axis 0.

    A short last slice is zero-padded and its outputs dropped. ``None`` (or a slice as large as the batch) calls
    ``fn(x)`` once.
    """
    n = x.shape[0]
    if microbatch is None or microbatch >= n:
        return fn(x)
    pad = -n % microbatch
    if pad:
        x = jnp.concatenate([x, jnp.zeros((pad, *x.shape[1:]), x.dtype)])
    xs = x.reshape((n + pad) // microbatch, microbatch, *x.shape[1:])
    ys = jax.lax.map(fn, xs)
    return jax.tree_util.tree_map(lambda y: y.reshape(n + pad, *y.shape[2:])[:n], ys)


def make_heatmap_fn(spec: EfficientPoseSpec, options: InferenceOptions | None = None):
    """A jitted ``(folded, x) -> heatmaps`` for ``spec`` (``options=None``: :func:`default_options` of the policy
    it is traced under)."""
    return jax.jit(functools.partial(efficientpose_heatmaps, spec=spec, options=options))
