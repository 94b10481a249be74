"""Initial variables of EfficientPose: from scratch, or from another EfficientPose's weights (fine-tuning).

Paper II fine-tunes the official MPII models to the In-Motion 19 keypoints: every backbone and detection-block
weight is copied, the PAF and heatmap heads (:data:`HEADS`) are new, and the fixed bilinear upscaling is rebuilt
for the new keypoint count.
"""

from __future__ import annotations

import logging

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from infantjax.errors import ConfigError
from infantjax.models._registry import init, init_module
from infantjax.models.pose.efficientpose import EfficientPose, EfficientPoseSpec, bilinear_kernel

__all__ = ["HEADS", "finetune_variables", "init_variables"]

log = logging.getLogger(__name__)

# layers that are replaced when fine-tuning to another keypoint set (Paper II: new heads)
HEADS = ("pass1_skeleton_pafs", "pass2_detection1_confs", "pass3_detection2_confs")


def init_variables(spec: EfficientPoseSpec, key: Array, model: nn.Module | None = None) -> dict:
    """Fresh variables for ``spec`` (``infantjax.models.init`` at the spec's resolution: one jitted init,
    compiled without expensive XLA passes: it runs once)."""
    r = int(spec.resolution)
    if model is None:
        return init(spec, key, input_shape=(1, r, r, 3))
    return init_module(model, key, jnp.zeros((1, r, r, 3), jnp.float32))


def _fresh_leaf(key: Array, path: tuple[str, ...], shape: tuple[int, ...]) -> Array:
    """Initial value of one new leaf, as Flax's defaults would make it (conv kernel LeCun normal, biases 0,
    BN scale 1, shift 0, mean 0, var 1)."""
    name = path[-1]
    if name == "kernel":
        return nn.initializers.lecun_normal()(key, shape, jnp.float32)
    if name in ("scale", "var"):
        return jnp.ones(shape, jnp.float32)
    return jnp.zeros(shape, jnp.float32)


#: the heatmap heads: their output channels are the keypoints (the PAF head's are limbs)
HEATMAP_HEADS = ("pass2_detection1_confs", "pass3_detection2_confs")


def finetune_variables(source: dict, spec: EfficientPoseSpec, key: Array,
                       keypoints: np.ndarray | list[int] | None = None) -> dict:
    """Variables for ``spec`` initialised from another EfficientPose's (e.g. the MPII weights): every layer with
    the same name and shape is copied, the heads in :data:`HEADS` are new, the upscaling is bilinear for K.

    Only shapes of the target are traced (``jax.eval_shape``); new leaves are initialised on their own, so no
    full-model initialisation is compiled.

    Arguments:
        source: Flax variables of the pretrained model (``params``, ``batch_stats``, ``fixed``).
        spec: the target network (new K / P; the same variant).
        key: PRNG key for the new heads.
        keypoints: for every target keypoint, the source keypoint it is (its heatmap channel), or -1 for a new
            one: the heatmap heads' channels of those keypoints start from the source's final heatmap head
            (``pass3_detection2_confs``; the official MPII files keep only that one) instead of from scratch, so
            a body part the source model finds already (an MPII wrist for an infant's wrist) is found from the
            first step. None: every head is new (Paper II).
    """
    model = EfficientPose(spec)
    shapes = jax.eval_shape(model.init, jax.random.PRNGKey(0), jnp.zeros((1, 32, 32, 3), jnp.float32))
    copied, fresh = [0], []

    def build(col, node, src, path):
        out = {}
        for name, value in node.items():
            sub = (*path, name)
            if hasattr(value, "items"):
                s = src.get(name, {}) if hasattr(src, "get") and not (path == () and name in HEADS) else {}
                out[name] = build(col, dict(value), s, sub)
            elif hasattr(src, "get") and name in src and tuple(np.shape(src[name])) == tuple(value.shape):
                out[name] = jnp.asarray(src[name], jnp.float32)
                copied[0] += 1
            else:
                out[name] = _fresh_leaf(jax.random.fold_in(key, len(fresh)), sub, tuple(value.shape))
                fresh.append("/".join((col, *sub)))
        return out

    result = {col: build(col, dict(shapes[col]), dict(source.get(col, {})) if col != "fixed" else {}, ())
              for col in ("params", "batch_stats")}
    k = spec.num_keypoints
    src_head = source.get("params", {}).get("pass3_detection2_confs")
    if keypoints is not None and src_head is not None:
        index = np.asarray(keypoints, dtype=np.int64).reshape(-1)
        if len(index) != k:
            raise ConfigError(f"keypoints maps {len(index)} keypoints; the network has {k}")
        kernel, bias = np.asarray(src_head["kernel"]), np.asarray(src_head["bias"])
        known = np.nonzero((index >= 0) & (index < kernel.shape[-1]))[0]
        for head in HEATMAP_HEADS:
            target = result["params"].get(head)
            if target is None or tuple(target["kernel"].shape[:-1]) != kernel.shape[:-1] or not len(known):
                continue
            target["kernel"] = target["kernel"].at[..., known].set(kernel[..., index[known]])
            target["bias"] = target["bias"].at[known].set(bias[index[known]])
        log.info("fine-tuning init: %d of %d keypoints' heatmap channels from the source's", len(known), k)
    result["fixed"] = {name: {"kernel": jnp.asarray(bilinear_kernel(k)), "bias": jnp.zeros((k,), jnp.float32)}
                       for name in shapes["fixed"]}
    log.info("fine-tuning init: %d arrays copied, %d new: %s", copied[0], len(fresh), ", ".join(fresh))
    return result
