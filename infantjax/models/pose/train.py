"""Training pose networks: targets, augmentation, MSE over passes, the two optimisation procedures of seed 002,
fine-tuning from the MPII weights to the In-Motion 19 keypoints, and evaluation with PCKh / ME / PCKh@Human^0.95.

* Loss: the mean squared error of every supervised output against its target (Paper I App. B), summed over the
  passes: PAFs (pass 1) and heatmaps (passes 2 and 3) at R/8, the upscaled heatmaps at R (EfficientPose); every
  PAF/heatmap stage for OpenPose; the detection pass and the output for EfficientHourglass.
* Optimisation: Paper II fine-tuning — Adam, learning rate 1e-3 (``optimizer="adam"``); Paper I from-scratch —
  SGD with momentum 0.9 and a decaying triangular cyclical learning rate with 3-epoch cycles, λ_min = λ_max/3000,
  converging to λ_∞ = 10^((log λ_max + log λ_min)/2) · 2^(σ_0 − σ_∞) (Eq. 5), with a stepwise σ schedule from
  σ_0 to σ_∞ (``optimizer="sgd_clr"``). The paper does not give the decay rate of the cycle peaks; we halve the
  distance of the peak to λ_∞ every cycle (documented choice).
* Augmentation (Papers I–II): horizontal flip with left/right keypoint swap (``Skeleton.flip_pairs``), rotation
  ±45°, scale 0.75–1.25, applied on the device inside the jitted step.
* Fine-tuning (Paper II): all backbone and detection-block weights from the MPII model; new PAF and heatmap heads
  (and bilinear upscaling) for the target skeleton, whose limb list (the skeleton's edges) sets P = 2 · edges.

Examples are stored at the network resolution as uint8 after the official letterbox preprocessing
(:func:`prepare_examples`), with keypoints as fractions of the square network input.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable
from typing import Any, Literal

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, Float, UInt8

from infantjax import skeleton as _skeleton
from infantjax._jsonconfig import JsonConfig
from infantjax.errors import ConfigError, DataError
from infantjax.models.pose.efficientpose import EfficientPose, EfficientPoseSpec, bilinear_kernel
from infantjax.models.pose.preprocess import TORCH_MEAN, TORCH_STD, check_image, pad_to_square, rescale
from infantjax.models.pose.targets import gaussian_heatmaps, part_affinity_fields

__all__ = [
    "HEADS",
    "AugmentConfig",
    "TrainConfig",
    "augment_batch",
    "clr_schedule",
    "evaluate",
    "finetune_variables",
    "fit",
    "init_variables",
    "pose_loss",
    "prepare_examples",
    "sigma_schedule",
]

log = logging.getLogger(__name__)

# layers that are replaced when fine-tuning to another keypoint set (Paper II: new heads)
HEADS = ("pass1_skeleton_pafs", "pass2_detection1_confs", "pass3_detection2_confs")


@dataclasses.dataclass(frozen=True)
class AugmentConfig(JsonConfig):
    """Augmentation of Papers I–II: horizontal flip, rotation ±45°, scale 0.75–1.25."""

    flip: float = 0.5
    rotation_deg: float = 45.0
    scale: tuple[float, float] = (0.75, 1.25)

    def __post_init__(self):
        if not 0.0 <= self.flip <= 1.0:
            raise ConfigError(f"augment flip probability must be in [0, 1], got {self.flip}")
        if self.rotation_deg < 0 or not (0 < self.scale[0] <= self.scale[1]):
            raise ConfigError(f"invalid augmentation rotation {self.rotation_deg} / scale {self.scale}")


@dataclasses.dataclass(frozen=True)
class TrainConfig(JsonConfig):
    """Training configuration (JSON round trip with ``to_json`` / ``from_json``).

    Arguments:
        optimizer: ``adam`` (Paper II fine-tuning, lr 1e-3) or ``sgd_clr`` (Paper I, SGD momentum 0.9 + CLR).
        learning_rate: Adam's rate, or λ_max of the cyclical schedule.
        epochs: passes over the training examples.
        batch_size: examples per step.
        sigma: heatmap σ in pixels of the R/8 maps (the upscaled target uses 8σ); with ``sgd_clr`` the start σ_0.
        sigma_final: σ_∞ of the stepwise schedule (``sgd_clr``; defaults to ``sigma``).
        paf_width: half-width of the PAF band in R/8 pixels.
        cycle_epochs: CLR cycle length (3 epochs in Paper I).
        momentum: SGD momentum (0.9).
        augment: the augmentation, or None for none.
        freeze_backbone: keep the EfficientNet backbone(s) fixed (BatchNorm in inference mode) and train the
            detection passes and heads only (a cheaper fine-tune; Paper II trains every layer, the default).
        decay: ``adam`` only: ``none`` keeps the rate constant (Paper II), ``cosine`` anneals it to 0 over the run
            (sharper heatmaps on short CPU budgets; our addition).
        seed: RNG seed.
    """

    optimizer: Literal["adam", "sgd_clr"] = "adam"
    learning_rate: float = 1e-3
    epochs: int = 100
    batch_size: int = 8
    sigma: float = 1.0
    sigma_final: float | None = None
    paf_width: float = 1.0
    cycle_epochs: int = 3
    momentum: float = 0.9
    augment: AugmentConfig | None = AugmentConfig()
    freeze_backbone: bool = False
    decay: Literal["none", "cosine"] = "none"
    seed: int = 0

    def __post_init__(self):
        if self.decay not in ("none", "cosine"):
            raise ConfigError(f"decay must be 'none' or 'cosine', got {self.decay!r}")
        if self.optimizer not in ("adam", "sgd_clr"):
            raise ConfigError(f"optimizer must be 'adam' or 'sgd_clr', got {self.optimizer!r}")
        if self.learning_rate <= 0 or self.epochs < 1 or self.batch_size < 1 or self.sigma <= 0:
            raise ConfigError("learning_rate and sigma must be > 0, epochs and batch_size >= 1")
        if isinstance(self.augment, dict):
            aug = dict(self.augment)
            aug["scale"] = tuple(aug.get("scale", (0.75, 1.25)))
            object.__setattr__(self, "augment", AugmentConfig(**aug))
def clr_schedule(lr_max: float, steps_per_epoch: int, epochs: int, cycle_epochs: int = 3,
                 sigma0: float = 1.0, sigma_final: float = 1.0):
    """Paper I's decaying triangular cyclical learning rate (App. B, Eq. 5) as an optax schedule."""
    lr_min = lr_max / 3000.0
    lr_inf = 10 ** ((math.log10(lr_max) + math.log10(lr_min)) / 2) * 2 ** (sigma0 - sigma_final)
    lr_inf = min(lr_inf, lr_max)
    cycle = max(1, cycle_epochs * steps_per_epoch)

    def schedule(step):
        step = jnp.asarray(step, jnp.float32)
        c = jnp.floor(step / cycle)
        phase = (step - c * cycle) / cycle  # 0..1 within a cycle
        tri = 1.0 - jnp.abs(2.0 * phase - 1.0)  # 0 -> 1 -> 0
        peak = lr_inf + (lr_max - lr_inf) * 0.5 ** c
        return lr_min + (peak - lr_min) * tri

    return schedule


def sigma_schedule(sigma0: float, sigma_final: float, epochs: int):
    """Stepwise σ: from σ_0 down to σ_∞ in equal epoch intervals (Paper I App. B, Fig. 6)."""
    steps = max(0, int(round(sigma0 - sigma_final)))

    def sigma(epoch: int) -> float:
        if steps == 0:
            return float(sigma0)
        k = min(steps, int(epoch * (steps + 1) / max(1, epochs)))
        return float(sigma0 - k * (sigma0 - sigma_final) / steps)

    return sigma


# ---------------------------------------------------------------------------------------------- data
def prepare_examples(frames: UInt8[np.ndarray, "N H W 3"], keypoints_px: Float[np.ndarray, "N K 2"],
                     resolution: int) -> tuple[np.ndarray, np.ndarray]:
    """Letterbox frames to the network input as the official code does (before normalisation).

    Arguments:
        frames: (N, H, W, 3) uint8 RGB, all the same size.
        keypoints_px: (N, K, 2) pixel x, y (the image spans [0, W] × [0, H]).
        resolution: R.

    Returns:
        inputs (N, R, R, 3) uint8 and keypoints (N, K, 2) float32 as fractions of the square input.
    """
    frames = np.asarray(frames)
    kp = np.asarray(keypoints_px, dtype=np.float64)
    if frames.ndim != 4 or kp.ndim != 3 or len(frames) != len(kp) or kp.shape[-1] != 2:
        raise DataError(f"frames (N, H, W, 3) and keypoints (N, K, 2) expected, got {frames.shape} and {kp.shape}")
    n, h, w = frames.shape[:3]
    out = np.zeros((n, resolution, resolution, 3), np.uint8)
    scale = resolution / w if w >= h else resolution / h
    for i in range(n):
        img = check_image(frames[i], f"frames[{i}]")
        padded, _ = pad_to_square(rescale(img, scale), resolution)
        out[i] = np.uint8(255 * padded)
    frac = kp / np.array([w, h], dtype=np.float64)
    long, short = max(h, w), min(h, w)
    p = (long - short) / (2.0 * long)
    if w > h:
        frac[..., 1] = p + frac[..., 1] * (1 - 2 * p)
    elif h > w:
        frac[..., 0] = p + frac[..., 0] * (1 - 2 * p)
    return out, frac.astype(np.float32)


def _normalise_jax(x: Array, mode: str) -> Array:
    if mode == "tf":
        return x / 127.5 - 1.0
    return (x / 255.0 - jnp.asarray(TORCH_MEAN, jnp.float32)) / jnp.asarray(TORCH_STD, jnp.float32)


def augment_batch(key: Array, images: Float[Array, "B R R 3"], keypoints: Float[Array, "B K 2"],
                  flip_perm: Array, config: AugmentConfig) -> tuple[Array, Array]:
    """Random flip (with left/right swap), rotation and scale about the image centre (jit-able).

    Arguments:
        key: PRNG key.
        images: (B, R, R, 3) float32 in [0, 255].
        keypoints: (B, K, 2) fractions of the input.
        flip_perm: (K,) int permutation that swaps left and right keypoints.
        config: the augmentation.

    Returns:
        augmented images and keypoints, same shapes.
    """
    b, r = images.shape[0], images.shape[1]
    k1, k2, k3 = jax.random.split(key, 3)
    flip = jax.random.bernoulli(k1, config.flip, (b,))
    theta = jnp.deg2rad(jax.random.uniform(k2, (b,), minval=-config.rotation_deg, maxval=config.rotation_deg))
    scale = jax.random.uniform(k3, (b,), minval=config.scale[0], maxval=config.scale[1])

    def one(img, kp, f, t, s):
        c = r / 2.0
        fx = jnp.where(f, -1.0, 1.0)
        cos, sin = jnp.cos(t), jnp.sin(t)
        m = s * jnp.array([[cos, -sin], [sin, cos]]) @ jnp.array([[fx, 0.0], [0.0, 1.0]])  # out = c + m (in - c)
        minv = jnp.linalg.inv(m)
        q = jnp.arange(r, dtype=jnp.float32) + 0.5
        qx, qy = jnp.meshgrid(q, q)  # (R, R) output pixel centres (x, y)
        src = jnp.einsum("ij,jhw->ihw", minv, jnp.stack([qx - c, qy - c])) + c
        coords = [src[1] - 0.5, src[0] - 0.5]  # row, col index space
        warped = jnp.stack([jax.scipy.ndimage.map_coordinates(img[..., ch], coords, order=1, mode="constant",
                                                              cval=0.0) for ch in range(3)], axis=-1)
        pts = kp * r
        new = (pts - c) @ m.T + c
        new = jnp.where(f, new[flip_perm], new)
        return warped, new / r

    return jax.vmap(one)(images, keypoints, flip, theta, scale)


def _flip_permutation(skeleton: _skeleton.Skeleton) -> np.ndarray:
    perm = np.arange(skeleton.num_keypoints)
    for a, b in skeleton.flip_pairs:
        perm[a], perm[b] = b, a
    return perm


# ---------------------------------------------------------------------------------------------- loss
def pose_loss(outputs: dict[str, Array], keypoints: Float[Array, "B K 2"], limbs: tuple[tuple[int, int], ...],
              sigma: float | Array, paf_width: float = 1.0) -> tuple[Array, dict[str, Array]]:
    """MSE over passes. Keys starting with ``paf`` are PAF outputs, all others heatmaps; each output's target is
    drawn at its own size with σ scaled from the R/8 maps (σ · size / (R/8)).

    Returns:
        the summed loss and the per-output MSE.
    """
    sizes = [v.shape[1] for v in outputs.values()]
    base = min(sizes)
    terms = {}
    for name, pred in outputs.items():
        size = pred.shape[1]
        if name.startswith("paf"):
            tgt = jax.vmap(lambda kp, s=size: part_affinity_fields(kp, limbs, s, paf_width * s / base))(keypoints)
        else:
            tgt = jax.vmap(lambda kp, s=size: gaussian_heatmaps(kp, s, sigma * s / base))(keypoints)
        terms[name] = jnp.mean((pred.astype(jnp.float32) - tgt) ** 2)
    return sum(terms.values()), terms


# ---------------------------------------------------------------------------------------------- variables
_FAST_COMPILE = {"xla_backend_optimization_level": 0, "xla_llvm_disable_expensive_passes": True}


def init_variables(spec: EfficientPoseSpec, key: Array, model: nn.Module | None = None) -> dict:
    """Fresh variables for ``spec`` (one jitted init, compiled without expensive XLA passes: it runs once)."""
    model = model or EfficientPose(spec)
    r = int(spec.resolution)
    x = jnp.zeros((1, r, r, 3), jnp.float32)
    return jax.jit(model.init).lower(key, x).compile(compiler_options=_FAST_COMPILE)(key, x)


def _fresh_leaf(key: Array, path: tuple[str, ...], shape: tuple[int, ...]) -> Array:
    """Initial value of one new leaf, as Flax's defaults would make it (conv kernel LeCun normal, biases 0,
    BN scale 1, shift 0, mean 0, var 1)."""
    name = path[-1]
    if name == "kernel":
        return nn.initializers.lecun_normal()(key, shape, jnp.float32)
    if name in ("scale", "var"):
        return jnp.ones(shape, jnp.float32)
    return jnp.zeros(shape, jnp.float32)


def finetune_variables(source: dict, spec: EfficientPoseSpec, key: Array) -> dict:
    """Variables for ``spec`` initialised from another EfficientPose's (e.g. the MPII weights): every layer with
    the same name and shape is copied, the heads in :data:`HEADS` are new, the upscaling is bilinear for K.

    Only shapes of the target are traced (``jax.eval_shape``); new leaves are initialised on their own, so no
    full-model initialisation is compiled.

    Arguments:
        source: Flax variables of the pretrained model (``params``, ``batch_stats``, ``fixed``).
        spec: the target network (new K / P; the same variant).
        key: PRNG key for the new heads.
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
    result["fixed"] = {name: {"kernel": jnp.asarray(bilinear_kernel(k)), "bias": jnp.zeros((k,), jnp.float32)}
                       for name in shapes["fixed"]}
    log.info("fine-tuning init: %d arrays copied, %d new: %s", copied[0], len(fresh), ", ".join(fresh))
    return result


# ---------------------------------------------------------------------------------------------- training
def fit(spec: EfficientPoseSpec, variables: dict, inputs: UInt8[np.ndarray, "N R R 3"],
        keypoints: Float[np.ndarray, "N K 2"], config: TrainConfig = TrainConfig(),
        skeleton: str | _skeleton.Skeleton = "in-motion-19", progress: bool = True,
        model: nn.Module | None = None, callback: Callable[[int, dict], None] | None = None,
        callback_every: int = 0) -> tuple[dict, list[float]]:
    """Train a pose network on prepared examples.

    Arguments:
        spec: network spec (full graph for intermediate supervision).
        variables: initial variables (:func:`finetune_variables` or :func:`init_variables`).
        inputs: (N, R, R, 3) uint8 from :func:`prepare_examples`.
        keypoints: (N, K, 2) fractions of the input.
        config: :class:`TrainConfig`.
        skeleton: the keypoint set (flip pairs and, as its edges, the PAF limbs).
        progress: tqdm progress bar.
        model: the Flax module (defaults to ``EfficientPose(spec)``; EfficientHourglass/OpenPose work as well).
        callback: called as ``callback(step, variables)`` every ``callback_every`` steps (e.g. to validate).
        callback_every: steps between callbacks (0: never).

    Returns:
        trained variables and the loss of every step.
    """
    from tqdm.auto import tqdm

    skel = _skeleton.get(skeleton)
    inputs = np.asarray(inputs)
    keypoints = np.asarray(keypoints, np.float32)
    if inputs.ndim != 4 or inputs.dtype != np.uint8 or inputs.shape[1] != inputs.shape[2]:
        raise DataError(f"inputs must be (N, R, R, 3) uint8 from prepare_examples, got {inputs.shape} {inputs.dtype}")
    if keypoints.shape != (len(inputs), skel.num_keypoints, 2):
        raise DataError(f"keypoints must be (N, {skel.num_keypoints}, 2), got {keypoints.shape}")
    limbs = tuple(tuple(e) for e in skel.edges)
    num_pafs = getattr(spec, "num_pafs", None)
    if getattr(spec, "graph", "full") == "full" and num_pafs is not None and num_pafs != 2 * len(limbs):
        raise ConfigError(
            f"the network has {num_pafs} PAF channels but skeleton {skel.name!r} has {len(limbs)} limbs "
            f"(edges); build the spec with num_pafs={2 * len(limbs)}"
        )
    n = len(inputs)
    bs = min(config.batch_size, n)
    steps_per_epoch = max(1, n // bs)
    total = steps_per_epoch * config.epochs
    model = model or EfficientPose(spec)
    mode = "tf" if getattr(spec, "lite", False) else "torch"
    flip_perm = jnp.asarray(_flip_permutation(skel))
    sigma_final = config.sigma if config.sigma_final is None else config.sigma_final
    if config.optimizer == "adam":
        lr = (optax.cosine_decay_schedule(config.learning_rate, total) if config.decay == "cosine"
              else config.learning_rate)
        tx = optax.adam(lr)
    else:
        tx = optax.sgd(clr_schedule(config.learning_rate, steps_per_epoch, config.epochs, config.cycle_epochs,
                                    config.sigma, sigma_final), momentum=config.momentum)
    sig = sigma_schedule(config.sigma, sigma_final, config.epochs) if config.optimizer == "sgd_clr" else (
        lambda e: config.sigma)
    frozen_keys = ("res1", "res2", "backbone") if config.freeze_backbone else ()
    frozen = {k: v for k, v in variables["params"].items() if k in frozen_keys}
    params = {k: v for k, v in variables["params"].items() if k not in frozen_keys}
    # the step donates its state: train on copies so that the caller's variables stay valid
    params = jax.tree_util.tree_map(lambda a: jnp.array(a, copy=True), params)
    state = {"params": params, "opt": tx.init(params),
             "batch_stats": jax.tree_util.tree_map(lambda a: jnp.array(a, copy=True), variables.get("batch_stats", {}))}
    fixed = {k: v for k, v in variables.items() if k not in ("params", "batch_stats")}
    # a frozen backbone normalises with its own moving statistics (BatchNorm in inference mode), so training and
    # inference see the same features; models without a separable backbone (OpenPose) train every layer
    apply_kw = {"train_backbone": False} if frozen else {}

    def step(state, images, kps, key, sigma):
        x = images.astype(jnp.float32)
        if config.augment is not None:
            x, kps = augment_batch(key, x, kps, flip_perm, config.augment)
        x = _normalise_jax(x, mode)

        def loss_fn(p):
            out, upd = model.apply({**fixed, "params": {**frozen, **p}, "batch_stats": state["batch_stats"]}, x,
                                   train=True, mutable=["batch_stats"], **apply_kw)
            loss, _ = pose_loss(out, kps, limbs, sigma, config.paf_width)
            return loss, upd

        (loss, upd), grads = jax.value_and_grad(loss_fn, has_aux=True)(state["params"])
        updates, opt = tx.update(grads, state["opt"], state["params"])
        return {"params": optax.apply_updates(state["params"], updates), "batch_stats": upd["batch_stats"],
                "opt": opt}, loss

    jstep = jax.jit(step, donate_argnums=(0,))
    rng = np.random.default_rng(config.seed)
    key = jax.random.PRNGKey(config.seed)
    losses: list[float] = []
    bar = tqdm(total=total, desc=f"train {getattr(spec, 'variant', type(model).__name__)}", disable=not progress)
    try:
        for epoch in range(config.epochs):
            order = rng.permutation(n)
            sigma = jnp.float32(sig(epoch))
            for s in range(steps_per_epoch):
                idx = order[s * bs:(s + 1) * bs]
                state, loss = jstep(state, jnp.asarray(inputs[idx]), jnp.asarray(keypoints[idx]),
                                    jax.random.fold_in(key, len(losses)), sigma)
                losses.append(float(loss))
                if not math.isfinite(losses[-1]):
                    raise DataError(f"training diverged at step {len(losses)} (loss {losses[-1]}); lower the "
                                    "learning rate")
                bar.update(1)
                bar.set_postfix(loss=f"{losses[-1]:.4g}")
                if callback is not None and callback_every > 0 and len(losses) % callback_every == 0:
                    callback(len(losses), {**fixed, "params": {**frozen, **state["params"]},
                                           "batch_stats": state["batch_stats"]})
    finally:
        bar.close()
    return {**fixed, "params": {**frozen, **state["params"]}, "batch_stats": state["batch_stats"]}, losses


# ---------------------------------------------------------------------------------------------- evaluation
def evaluate(pred_px: Float[np.ndarray, "N K 2"], true_px: Float[np.ndarray, "N K 2"],
             skeleton: str | _skeleton.Skeleton = "in-motion-19",
             taus: tuple[float, ...] = (1.0, 0.5, 0.3, 0.2, 0.1)) -> dict[str, Any]:
    """PCKh@τ, ME and (for In-Motion 19) PCKh@Human^0.95 per keypoint, via :mod:`infantjax.metrics.pose`.

    Arguments:
        pred_px, true_px: (N, K, 2) pixel positions (NaN prediction = miss).
        skeleton: the keypoint set (its head segment normalises the errors).
        taus: PCKh thresholds (Paper II: 1.0, 0.5, 0.3, 0.2, 0.1).

    Returns:
        ``pckh@τ``, ``me``, per-keypoint ME and PCKh@0.5, and for In-Motion 19 ``pckh_human`` (mean over keypoints)
        and ``pckh_human_per_keypoint``.
    """
    from infantjax.metrics import pose as M

    skel = _skeleton.get(skeleton)
    out: dict[str, Any] = {}
    for t in taus:
        out[f"pckh@{t}"] = float(M.pckh(pred_px, true_px, t, skeleton=skel))
    out["me"] = float(M.mean_error(pred_px, true_px, skeleton=skel))
    out["me_per_keypoint"] = np.asarray(M.mean_error(pred_px, true_px, skeleton=skel, per_keypoint=True)).tolist()
    out["pckh_per_keypoint@0.5"] = np.asarray(M.pckh(pred_px, true_px, 0.5, skeleton=skel, per_keypoint=True)
                                              ).tolist()
    if skel.name == "in-motion-19":  # Table 2's H_b^0.95 thresholds exist for the In-Motion set only
        out["pckh_human"] = float(M.pckh_human(pred_px, true_px, skeleton=skel))
        out["pckh_human_per_keypoint"] = np.asarray(
            M.pckh_human(pred_px, true_px, skeleton=skel, per_keypoint=True)).tolist()
    return out
