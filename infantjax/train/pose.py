"""Training pose networks as a task of the engine: targets, augmentation, MSE over passes, the two optimisation
procedures of seed 002, fine-tuning from the MPII weights to the In-Motion 19 keypoints.

* Loss: the mean squared error of every supervised output against its target (Paper I App. B), summed over the
  passes: PAFs (pass 1) and heatmaps (passes 2 and 3) at R/8, the upscaled heatmaps at R (EfficientPose); every
  PAF/heatmap stage for OpenPose; the detection pass and the output for EfficientHourglass.
* Optimisation: Paper II fine-tuning — Adam, learning rate 1e-3 (the :class:`PoseConfig` default); Paper I
  from-scratch — SGD with momentum 0.9 and a decaying triangular cyclical learning rate with 3-epoch cycles,
  λ_min = λ_max/3000, converging to λ_∞ = 10^((log λ_max + log λ_min)/2) · 2^(σ_0 − σ_∞) (Eq. 5), with a stepwise σ
  schedule from σ_0 to σ_∞ (:meth:`PoseConfig.paper_i`).
* Augmentation (Papers I–II): horizontal flip with left/right keypoint swap (``Skeleton.flip_pairs``), rotation
  ±45°, scale 0.75–1.25, applied on the device inside the jitted step.
* Fine-tuning (Paper II): all backbone and detection-block weights from the MPII model
  (:func:`infantjax.models.pose.finetune_variables`); new PAF and heatmap heads for the target skeleton, whose limb
  list (the skeleton's edges) sets P = 2 · edges.

Examples are stored at the network resolution as uint8 after the official letterbox preprocessing
(:func:`infantjax.preprocess.image.prepare_examples`), with keypoints as fractions of the square network input.
"""

from __future__ import annotations

import dataclasses
import logging

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from infantjax import models
from infantjax import skeleton as _skeleton
from infantjax._jsonconfig import JsonConfig
from infantjax.errors import ConfigError, DataError
from infantjax.preprocess.image import TORCH_MEAN, TORCH_STD
from infantjax.preprocess.pose_targets import gaussian_heatmaps, part_affinity_fields
from infantjax.train.config import TrainConfig, host_field
from infantjax.train.task import Selection, Task, _argument

__all__ = [
    "BACKBONES",
    "AugmentConfig",
    "PoseConfig",
    "PoseData",
    "PoseTask",
    "augment_batch",
    "flip_permutation",
    "pose_loss",
    "default_finetune_config",
    "normalise_images",
    "sigma_schedule",
]

log = logging.getLogger(__name__)

#: Top-level parameter groups of the backbones (frozen by ``PoseConfig.freeze_backbone``).
BACKBONES = ("res1", "res2", "backbone")


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
class PoseConfig(TrainConfig):
    """How a pose network is trained (Paper II's fine-tuning by default: Adam at 1e-3).

    Arguments (besides :class:`~infantjax.train.config.TrainConfig`'s):
        sigma: heatmap σ in pixels of the R/8 maps (the upscaled target uses 8σ); the start σ_0 of a σ schedule.
        sigma_final: σ_∞ of Paper I's stepwise σ schedule (None: constant ``sigma``).
        paf_width: half-width of the PAF band in R/8 pixels.
        augment: the augmentation, or None for none.
        freeze_backbone: keep the EfficientNet backbone(s) fixed (BatchNorm in inference mode) and train the
            detection passes and heads only (a cheaper fine-tune; Paper II trains every layer, the default).
        selection_tau: the epoch kept is the one with the best validation PCKh at this τ (or, for keypoints
            without a head segment, PCK at this fraction of the keypoints' box).
    """

    epochs: int = host_field(100)
    batch_size: int = host_field(8)
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    eval_batch_size: int = host_field(32)
    sigma: float = host_field(1.0)
    sigma_final: float | None = host_field(None)
    paf_width: float = 1.0
    augment: AugmentConfig | None = AugmentConfig()
    freeze_backbone: bool = False
    selection_tau: float = host_field(0.5)

    def __post_init__(self):
        super().__post_init__()
        if isinstance(self.augment, dict):
            aug = dict(self.augment)
            if "scale" in aug:
                aug["scale"] = tuple(aug["scale"])
            object.__setattr__(self, "augment", AugmentConfig(**aug))
        if not (isinstance(self.sigma, (int, float)) and self.sigma > 0) or (
                self.sigma_final is not None and not self.sigma_final > 0):
            raise ConfigError(f"PoseConfig.sigma and sigma_final must be > 0, got {self.sigma!r} and "
                              f"{self.sigma_final!r}")
        if not self.paf_width > 0:
            raise ConfigError(f"PoseConfig.paf_width must be > 0, got {self.paf_width!r}")
        if not (isinstance(self.selection_tau, (int, float)) and self.selection_tau > 0):
            raise ConfigError(f"PoseConfig.selection_tau must be > 0, got {self.selection_tau!r}")

    @classmethod
    def paper_i(cls, learning_rate: float, sigma: float, sigma_final: float, **changes) -> PoseConfig:
        """Paper I's from-scratch recipe: SGD (momentum 0.9) with the decaying triangular cyclical rate (3-epoch
        cycles, peak ``learning_rate``) whose limit is scaled by 2^(σ_0 − σ_∞) (Eq. 5), and the stepwise σ
        schedule from ``sigma`` to ``sigma_final``."""
        return cls(**{"optimizer": "sgd", "momentum": 0.9, "schedule": "cyclical", "cycle_epochs": 3,
                      "learning_rate": learning_rate, "sigma": sigma, "sigma_final": sigma_final,
                      "cycle_limit_scale": 2.0 ** (sigma - sigma_final), **changes})

    def sigma_at(self, epoch: int) -> float:
        """σ of an epoch (1-based)."""
        if self.sigma_final is None:
            return float(self.sigma)
        return sigma_schedule(self.sigma, self.sigma_final, self.epochs)(epoch - 1)


def sigma_schedule(sigma0: float, sigma_final: float, epochs: int):
    """Stepwise σ: from σ_0 down to σ_∞ in equal epoch intervals (Paper I App. B, Fig. 6)."""
    steps = max(0, int(round(sigma0 - sigma_final)))

    def sigma(epoch: int) -> float:
        if steps == 0:
            return float(sigma0)
        k = min(steps, int(epoch * (steps + 1) / max(1, epochs)))
        return float(sigma0 - k * (sigma0 - sigma_final) / steps)

    return sigma


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


def pose_loss(outputs: dict[str, Array], keypoints: Float[Array, "B K 2"], limbs: tuple[tuple[int, int], ...],
              sigma: float | Float[Array, " B"], paf_width: float = 1.0) -> tuple[Array, dict[str, Array]]:
    """MSE over passes. Keys starting with ``paf`` are PAF outputs, all others heatmaps; each output's target is
    drawn at its own size with σ scaled from the R/8 maps (σ · size / (R/8)); ``sigma`` is one value or one per
    example. A keypoint given as NaN was not labelled: its heatmap target is all zero and the limbs it ends get no
    field (DeepLabCut's default for unlabelled joints).

    Returns:
        the summed loss and the per-output MSE.
    """
    sizes = [v.shape[1] for v in outputs.values()]
    base = min(sizes)
    sigmas = jnp.broadcast_to(jnp.asarray(sigma, jnp.float32), keypoints.shape[:1])  # one σ per example
    # a keypoint nobody labelled (NaN) has an all-zero heatmap and no limb field: nothing is there to find
    labelled = jnp.isfinite(keypoints).all(axis=-1)
    keypoints = jnp.where(labelled[..., None], keypoints, 0.0)
    terms = {}
    for name, pred in outputs.items():
        size = pred.shape[1]
        if name.startswith("paf"):
            tgt = jax.vmap(lambda kp, v, s=size: part_affinity_fields(kp, limbs, s, paf_width * s / base, v))(
                keypoints, labelled)
        else:
            tgt = jax.vmap(lambda kp, sg, v, s=size: gaussian_heatmaps(kp, s, sg * s / base, v))(
                keypoints, sigmas, labelled)
        terms[name] = jnp.mean((pred.astype(jnp.float32) - tgt) ** 2)
    return sum(terms.values()), terms


def normalise_images(x: Float[Array, "... 3"], mode: str) -> Float[Array, "... 3"]:
    """The official normalisation of float images in [0, 255] (jit-able): ``"tf"`` x/127.5 − 1, ``"torch"``
    (x/255 − mean)/std."""
    if mode == "tf":
        return x / 127.5 - 1.0
    return (x / 255.0 - jnp.asarray(TORCH_MEAN, jnp.float32)) / jnp.asarray(TORCH_STD, jnp.float32)


def flip_permutation(skeleton: _skeleton.Skeleton) -> np.ndarray:
    """(K,) permutation that swaps left and right keypoints (:meth:`infantjax.skeleton.Skeleton.flip_permutation`)."""
    return skeleton.flip_permutation()


@dataclasses.dataclass(frozen=True, eq=False)
class PoseData:
    """Training examples of one instance and optional validation examples.

    Attributes:
        inputs: (N, R, R, 3) uint8 letterboxed images (:func:`infantjax.preprocess.image.prepare_examples`).
        keypoints: (N, K, 2) fractions of the square input; NaN where a keypoint was not labelled (no target).
        validation: optional (inputs, keypoints) of the same kinds: the epoch with the best PCKh@0.5 is kept.
    """

    inputs: np.ndarray
    keypoints: np.ndarray
    validation: tuple[np.ndarray, np.ndarray] | None = None

    def __post_init__(self):
        pairs = [("", self.inputs, self.keypoints)]
        if self.validation is not None:
            if len(self.validation) != 2:
                raise DataError("PoseData.validation must be (inputs, keypoints)")
            pairs.append(("validation ", *self.validation))
        for role, inputs, keypoints in pairs:
            inputs, keypoints = np.asarray(inputs), np.asarray(keypoints, np.float32)
            if inputs.ndim != 4 or inputs.dtype != np.uint8 or inputs.shape[1] != inputs.shape[2] \
                    or inputs.shape[3] != 3:
                raise DataError(f"{role}inputs must be (N, R, R, 3) uint8 from prepare_examples, got "
                                f"{inputs.shape} {inputs.dtype}")
            if keypoints.ndim != 3 or keypoints.shape[0] != len(inputs) or keypoints.shape[2] != 2:
                raise DataError(f"{role}keypoints must be (N, K, 2) for {len(inputs)} inputs, got {keypoints.shape}")
            if np.isinf(keypoints).any():
                raise DataError(f"{role}keypoints contain inf; mark a keypoint nobody labelled with NaN")
            if not np.isfinite(keypoints).all(axis=-1).any(axis=-1).all():
                raise DataError(f"{role}keypoints: an example has no labelled keypoint (all NaN); drop it")
            if len(inputs) == 0:
                raise DataError(f"no {role}examples")
        object.__setattr__(self, "keypoints", np.asarray(self.keypoints, np.float32))
        if self.validation is not None:
            object.__setattr__(self, "validation", (np.asarray(self.validation[0]),
                                                    np.asarray(self.validation[1], np.float32)))


class _Examples:
    """The batches of one epoch: a permutation of the examples cut into full batches, with the epoch's σ."""

    def __init__(self, data: PoseData, order: np.ndarray, size: int, sigma: float):
        self.data, self.order, self.size, self.sigma = data, order, size, sigma

    def __len__(self) -> int:
        return max(1, len(self.order) // self.size)

    def __getitem__(self, s: int) -> dict:
        if not 0 <= s < len(self):
            raise IndexError(s)
        idx = self.order[s * self.size:(s + 1) * self.size]
        return {"images": self.data.inputs[idx], "keypoints": self.data.keypoints[idx],
                "sigma": np.full(len(idx), self.sigma, np.float32)}


class PoseTask(Task):
    """Train a heatmap pose network (EfficientPose, EfficientHourglass, OpenPose) on letterboxed examples.

    Arguments:
        spec: the network spec (full graph for intermediate supervision).
        config: the recipe (:class:`PoseConfig`).
        skeleton: the keypoint set (flip pairs and, as its edges, the PAF limbs).
        model: the Flax module (default ``infantjax.models.build(spec)``: EfficientPose, EfficientHourglass or
            OpenPose by the spec's type).
    """

    def __init__(self, spec, config: PoseConfig | None = None, skeleton: str | _skeleton.Skeleton = "in-motion-19",
                 model: nn.Module | None = None):
        config = _argument("PoseTask", config, PoseConfig)
        self.spec, self.config = spec, config
        self.skeleton = _skeleton.get(skeleton)
        self.limbs = tuple(tuple(int(j) for j in e) for e in self.skeleton.edges)
        num_pafs = getattr(spec, "num_pafs", None)
        if getattr(spec, "graph", "full") == "full" and num_pafs is not None and num_pafs != 2 * len(self.limbs):
            raise ConfigError(
                f"the network has {num_pafs} PAF channels but skeleton {self.skeleton.name!r} has {len(self.limbs)} "
                f"limbs (edges); build the spec with num_pafs={2 * len(self.limbs)}"
            )
        if getattr(spec, "num_keypoints", self.skeleton.num_keypoints) != self.skeleton.num_keypoints:
            raise ConfigError(f"the network has {spec.num_keypoints} heatmaps but skeleton {self.skeleton.name!r} "
                              f"has {self.skeleton.num_keypoints} keypoints")
        self.model = model or models.build(spec)  # EfficientPose, EfficientHourglass or OpenPose by its spec
        self.mode = "tf" if getattr(spec, "lite", False) else "torch"
        self.flip_perm = tuple(int(i) for i in flip_permutation(self.skeleton))

    @property
    def resolution(self) -> int:
        return int(self.spec.resolution)

    def compile_key(self) -> tuple:
        return super().compile_key() + (self.skeleton.name, self.limbs, self.flip_perm)

    def init(self, key) -> dict:
        return models.init_module(self.model, key, jnp.zeros((1, self.resolution, self.resolution, 3), jnp.float32))

    def param_labels(self, params):
        if not self.config.freeze_backbone:
            return None
        return {k: jax.tree_util.tree_map(lambda _, k=k: "frozen" if k in BACKBONES else "train", v)
                for k, v in params.items()}

    def _apply_kwargs(self) -> dict:
        # a frozen backbone normalises with its own moving statistics (BatchNorm in inference mode), so training
        # and inference see the same features; models without a separable backbone (OpenPose) train every layer
        if self.config.freeze_backbone and not isinstance(self.model, _openpose_type()):
            return {"train_backbone": False}
        return {}

    def loss(self, variables, batch, key, step):
        cfg = self.config
        x, kps = batch["images"].astype(jnp.float32), batch["keypoints"]
        if cfg.augment is not None:
            x, kps = augment_batch(key, x, kps, jnp.asarray(self.flip_perm), cfg.augment)
        x = normalise_images(x, self.mode)
        out, updates = self.model.apply(variables, x, train=True, mutable=["batch_stats"], **self._apply_kwargs())
        loss, _ = pose_loss(out, kps, self.limbs, batch["sigma"], cfg.paf_width)
        return loss, dict(updates), {}

    def predict(self, variables, images):
        """Keypoint fractions (B, K, 2) of the heatmap maxima (evaluation; no augmentation)."""
        out = self.model.apply(variables, normalise_images(images.astype(jnp.float32), self.mode), train=False)
        heatmaps = out["heatmaps"] if isinstance(out, dict) and "heatmaps" in out else list(out.values())[-1]
        b, h, w, k = heatmaps.shape
        flat = jnp.argmax(heatmaps.reshape(b, h * w, k), axis=1)
        xy = jnp.stack([flat % w, flat // w], axis=-1).astype(jnp.float32)  # (B, K, 2) pixel indices
        return (xy + 0.5) / jnp.asarray([w, h], jnp.float32)

    def epoch_batches(self, data: PoseData, epoch: int, rng) -> _Examples:
        n = len(data.inputs)
        return _Examples(data, rng.permutation(n), min(self.config.batch_size, n), self.config.sigma_at(epoch))

    def steps_per_epoch(self, data: PoseData) -> int:
        n = len(data.inputs)
        return max(1, n // min(self.config.batch_size, n))

    def eval_inputs(self, data: PoseData):
        return None if data.validation is None else data.validation[0]

    def score(self, data: PoseData, outputs) -> dict[str, float]:
        """PCKh@``config.selection_tau`` on the validation examples (``val_pckh``), or, for a keypoint set without
        a head segment (a lab's own body parts), PCK at that fraction of the keypoints' box (``val_pck``)."""
        from infantjax.metrics import pose as M

        r = self.resolution
        pred, true = np.asarray(outputs) * r, data.validation[1] * r
        tau = float(self.config.selection_tau)
        if self.skeleton.name in M.HEAD_SEGMENTS:
            return {"val_pckh": float(M.pckh(pred, true, tau, skeleton=self.skeleton))}
        return {"val_pck": float(M.pck(pred, true, tau))}

    def selection(self) -> Selection | None:
        from infantjax.metrics.pose import HEAD_SEGMENTS

        return Selection("val_pckh" if self.skeleton.name in HEAD_SEGMENTS else "val_pck", "max")

    def check_data(self, data) -> None:
        if not isinstance(data, PoseData):
            raise DataError(f"PoseTask trains on PoseData(inputs, keypoints), got {type(data).__name__}")
        if data.inputs.shape[1] != self.resolution:
            raise DataError(f"examples are {data.inputs.shape[1]} px but the network takes {self.resolution}; "
                            "prepare them with prepare_examples(..., resolution)")
        if data.keypoints.shape[1] != self.skeleton.num_keypoints:
            raise DataError(f"examples have {data.keypoints.shape[1]} keypoints but skeleton {self.skeleton.name!r} "
                            f"has {self.skeleton.num_keypoints}")

    @classmethod
    def example(cls, seed: int = 0) -> tuple[PoseTask, list[PoseData]]:
        """EfficientPose RT Lite at 32 px with its backbone frozen, on random images (the task contract)."""
        from infantjax.models.pose import EfficientPoseSpec

        # SGD: Adam's normalised steps turn float rounding of near-zero gradients into different updates
        config = PoseConfig(epochs=3, batch_size=4, freeze_backbone=True, augment=None, optimizer="sgd",
                            learning_rate=1e-3, progress=False)
        rng = np.random.default_rng(seed)

        def examples(n: int):
            return (rng.integers(0, 255, (n, 32, 32, 3)).astype(np.uint8),
                    rng.uniform(0.2, 0.8, (n, 16, 2)).astype(np.float32))

        data = [PoseData(*examples(8), validation=examples(2)) for _ in range(2)]
        return cls(EfficientPoseSpec("rt_lite", num_pafs=30, resolution=32), config, "mpii-16"), data


def _openpose_type():
    from infantjax.models.pose.openpose import OpenPose

    return OpenPose


def default_finetune_config(steps: int = 96, frames: int = 256, batch_size: int = 16) -> PoseConfig:
    """The CPU fine-tune used by the tests and ``experiments/train_infant_pose.py``: Adam from 1e-3 (Paper II)
    with cosine decay, the MPII backbone frozen, mild augmentation (flip, ±15°, scale 0.9–1.1) since the rendered
    recordings already vary in roll, size and position."""
    epochs = max(1, -(-int(steps) * int(batch_size) // int(frames)))
    return PoseConfig(optimizer="adam", learning_rate=1e-3, schedule="cosine", epochs=epochs,
                      batch_size=int(batch_size), sigma=1.0, freeze_backbone=True,
                      augment=AugmentConfig(flip=0.5, rotation_deg=15.0, scale=(0.9, 1.1)))
