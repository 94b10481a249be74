"""Training of the smartphone-video classifier of seed 003 (Passmore et al.) as a task of the engine, with the
recipe as coded (other_seeds_reference §1.4, §1.6, §1.7).

* :class:`PassmoreConfig`: every constant of the recipe as a field with the coded value as default — BCE on logits
  with label smoothing 0.1, L2 0.005 on the conv / dense / attention-W kernels only, SGD 0.005 with Nesterov momentum
  0.9, batch 8, ×5 oversampling of positive videos per epoch, 250 epochs then early stopping on the validation
  loss (patience 100, best weights restored within that second phase), magnitude and time warps from a bank of
  10,000 precomputed cubic-spline curves, 25 repeated stratified participant-level splits (15 % test, 12 % of the
  rest for validation).
* :class:`PassmoreData`: one split's training and validation videos as (videos, T, 46) feature matrices; clips
  are cut on the host (one random 128-sample clip per video and draw in training, every clip at stride 8 in
  evaluation: (videos, clips, 46, 128)).
* :class:`PassmoreTask`: the task; augmentation runs inside the jitted step with curves drawn on the host.
The protocol (the 25 splits trained as one stacked, vmapped program, evaluated before and after Platt scaling),
its splits, Platt scaling and the catch22 baseline live in :mod:`infantjax.protocols`.

``calibration="reference"`` calibrates on the early-stopping (validation) set, as coded (optimistic);
``"corrected"`` holds out a separate calibration set of participants (``calibration_fraction`` of the training
participants) that neither trains nor stops the network.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from infantjax import models
from infantjax.augment import curve_bank, passmore_warp
from infantjax.errors import ConfigError, DataError
from infantjax.metrics import roc_auc
from infantjax.models.passmore import PassmoreSpec, l2_kernels
from infantjax.infer.passmore import (  # noqa: F401 - the family's inference helpers, re-exported here
    NUM_FEATURES,
    PassmoreForward,
    SmartphoneModel,
    clip_starts,
    video_clips,
    video_examples,
    video_logits,
)
from infantjax.train.config import TrainConfig, host_field
from infantjax.infer.predict import StackedPredictor, task_forward
from infantjax.train.task import Selection, Task, _argument

__all__ = [
    "NUM_FEATURES",
    "PassmoreConfig",
    "PassmoreData",
    "PassmoreTask",
    "check_features",
    "check_labels",
    "clip_starts",
    "predict_videos",
    "video_clips",
    "video_examples",
    "video_logits",
]

log = logging.getLogger(__name__)



@dataclasses.dataclass(frozen=True)
class PassmoreConfig(TrainConfig):
    """The recipe of seed 003 as coded. The run and optimizer fields are :class:`TrainConfig`'s.

    Arguments:
        epochs: the most epochs (250 + 9,750 in the reference).
        min_epochs: epochs before early stopping starts (250); the best weights are only kept from later epochs.
        patience: epochs without a lower validation loss before an instance stops (100).
        restore_best: keep the epoch with the lowest validation loss (True), or the last one.
        batch_size: videos per step (8), one clip each; the last incomplete batch is dropped.
        learning_rate, momentum, nesterov: SGD 0.005, Nesterov momentum 0.9, constant rate.
        label_smoothing: BCE targets y·(1 − s) + s/2 (0.1).
        l2: Keras L2 factor on the conv, dense and attention-W kernels (0.005: the loss gains 0.005·Σw²).
        oversample: copies of every positive video per epoch (5).
        train_clips: random clips per video and draw in training (1: the attention pools over one clip).
        clip_length, clip_stride: 128-sample clips at stride 8 (547 from 4500 samples).
        eval_clip_step: use every k-th clip in the per-epoch validation (1 = all; quick runs thin it to save time;
            the final predictions always use every clip).
        augment: magnitude warp (one curve per sample) and time warp (one curve per clip).
        num_curves, curve_sigma, curve_knots, curve_seed: the curve bank (10,000 curves, N(1, 1.0) knots, 3–14
            interior knots; :func:`infantjax.augment.curve_bank`).
        splits: repeated participant-level splits (25).
        test_fraction: participants held out per split (0.15), stratified.
        validation_fraction: share of the remaining participants for early stopping (0.12).
        calibration: ``"reference"`` (Platt scaling on the validation set) or ``"corrected"`` (on a separate
            calibration set).
        calibration_fraction: share of the non-test participants in the calibration set (``"corrected"`` only).
        split_seed: the splits use ``random_state = n·split_seed`` (outer) and ``n`` (inner), n = 0, 1, ...
    """

    epochs: int = host_field(10_000)
    min_epochs: int = host_field(250)
    patience: int = host_field(100)
    restore_best: bool = host_field(True)
    batch_size: int = host_field(8)
    optimizer: str = "sgd"
    learning_rate: float = 0.005
    momentum: float = 0.9
    nesterov: bool = True
    label_smoothing: float = 0.1
    l2: float = 0.005
    augment: bool = True
    oversample: int = host_field(5)
    train_clips: int = host_field(1)
    clip_length: int = host_field(128)
    clip_stride: int = host_field(8)
    eval_clip_step: int = host_field(1)
    eval_batch_size: int = host_field(8)
    num_curves: int = host_field(10_000)
    curve_sigma: float = host_field(1.0)
    curve_knots: tuple[int, int] = host_field((3, 14))
    curve_seed: int = host_field(0)
    splits: int = host_field(25)
    test_fraction: float = host_field(0.15)
    validation_fraction: float = host_field(0.12)
    calibration: str = host_field("reference")
    calibration_fraction: float = host_field(0.12)
    split_seed: int = host_field(12345)

    def __post_init__(self):
        super().__post_init__()
        object.__setattr__(self, "curve_knots", tuple(int(k) for k in self.curve_knots))
        for name in ("min_epochs", "patience", "oversample", "train_clips", "clip_length", "clip_stride",
                     "eval_clip_step", "num_curves", "splits"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < (0 if name == "min_epochs" else 1):
                raise ConfigError(f"PassmoreConfig.{name} must be a positive integer, got {value!r}")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ConfigError(f"PassmoreConfig.label_smoothing must be in [0, 1), got {self.label_smoothing!r}")
        if not self.l2 >= 0.0:
            raise ConfigError(f"PassmoreConfig.l2 must be >= 0, got {self.l2!r}")
        for name in ("test_fraction", "validation_fraction", "calibration_fraction"):
            if not 0.0 < getattr(self, name) < 1.0:
                raise ConfigError(f"PassmoreConfig.{name} must be in (0, 1), got {getattr(self, name)!r}")
        if self.calibration not in ("reference", "corrected"):
            raise ConfigError(f"PassmoreConfig.calibration must be 'reference' (Platt scaling on the early-stopping "
                              f"set, as coded) or 'corrected' (a separate set), got {self.calibration!r}")
        if not self.curve_sigma > 0:
            raise ConfigError(f"PassmoreConfig.curve_sigma must be > 0, got {self.curve_sigma!r}")

    @classmethod
    def quick(cls, **overrides) -> PassmoreConfig:
        """A short recipe for CPU runs: 60 epochs (early stopping from epoch 30, patience 15), validation on every
        8th clip, 2,000 curves; everything else as coded."""
        base = {"epochs": 60, "min_epochs": 30, "patience": 15, "eval_clip_step": 8, "num_curves": 2000,
                "progress": False}
        return cls(**{**base, **overrides})


# ------------------------------------------------------------------------------------------------------ clips
def check_features(features, where: str, length: int) -> np.ndarray:
    f = np.asarray(features, np.float32)
    if f.ndim != 3:
        raise DataError(f"{where}: features must be (videos, samples, {NUM_FEATURES}), got shape {f.shape}")
    if f.shape[2] != NUM_FEATURES:
        raise DataError(f"{where}: {f.shape[2]} features per sample, the model takes {NUM_FEATURES} (36 "
                        "coordinates + 10 joint angles of passmore_features)")
    if f.shape[1] < length:
        raise DataError(f"{where}: recordings of {f.shape[1]} samples are shorter than one clip of {length}; "
                        "time-normalise them to 4500 samples first (preprocess_passmore)")
    if not np.isfinite(f).all():
        raise DataError(f"{where}: features contain NaN/inf; build them with passmore_features (it fills missing "
                        "values with 0)")
    return f


@dataclasses.dataclass(frozen=True, eq=False)
class PassmoreData:
    """One instance's videos.

    Attributes:
        features: (videos, T, 46) training feature matrices (T = 4500 after preprocessing).
        labels: (videos,) 0/1 training labels (1 = abnormal movements).
        validation: optional (features, labels) of the early-stopping set.
    """

    features: np.ndarray
    labels: np.ndarray
    validation: tuple[np.ndarray, np.ndarray] | None = None

    def __post_init__(self):
        f = check_features(self.features, "PassmoreData", 1)
        y = check_labels(self.labels, len(f), "PassmoreData")
        object.__setattr__(self, "features", f)
        object.__setattr__(self, "labels", y)
        if self.validation is not None:
            vf = check_features(self.validation[0], "PassmoreData validation", 1)
            object.__setattr__(self, "validation", (vf, check_labels(self.validation[1], len(vf),
                                                                "PassmoreData validation")))


def check_labels(labels, n: int, where: str) -> np.ndarray:
    y = np.asarray(labels)
    if y.shape != (n,):
        raise DataError(f"{where}: {y.shape} labels for {n} videos")
    if not np.isin(y, (0, 1)).all():
        raise DataError(f"{where}: labels must be 0 (normal) or 1 (abnormal movements), got {np.unique(y)}")
    return y.astype(np.int32)


class _Batches:
    """The batches of one epoch: the oversampled, shuffled videos, a random clip and fresh curves per draw."""

    def __init__(self, task: PassmoreTask, data: PassmoreData, order: np.ndarray, rng):
        self.task, self.data, self.order = task, data, order
        size = task.config.batch_size
        n = len(order) // size * size
        c = task.config
        starts = clip_starts(data.features.shape[1], c.clip_length, c.clip_stride)
        # every draw of the epoch decided up front from the epoch's generator (resume is exact)
        self.starts = starts[rng.integers(0, len(starts), (n, c.train_clips))]
        self.magnitude = rng.integers(0, c.num_curves, n)
        self.time = rng.integers(0, c.num_curves, (n, c.train_clips))

    def __len__(self) -> int:
        return len(self.order) // self.task.config.batch_size

    def __getitem__(self, s: int) -> dict:
        if not 0 <= s < len(self):
            raise IndexError(s)
        c = self.task.config
        sl = slice(s * c.batch_size, (s + 1) * c.batch_size)
        videos = self.order[sl]
        idx = self.starts[sl][:, :, None] + np.arange(c.clip_length)  # (B, S, L)
        x = self.data.features[videos[:, None, None], idx]  # (B, S, L, F)
        batch = {"x": np.ascontiguousarray(np.swapaxes(x, -1, -2)), "label": self.data.labels[videos]}
        if c.augment:
            bank = self.task.bank
            batch["magnitude"] = bank[self.magnitude[sl]]
            batch["time"] = bank[self.time[sl]]
        return batch


class PassmoreTask(Task):
    """Train the seed 003 network (:class:`~infantjax.models.passmore.PassmoreSpec`) with the coded recipe.

    Evaluation runs every clip (thinned by ``eval_clip_step``) of the validation videos and scores ``val_loss``
    (label-smoothed BCE + the L2 term, as Keras reports it), ``val_auc`` and the early-stopping metric.

    Arguments:
        spec: the network (default: as coded).
        config: the recipe (default: as coded).
    """

    # 25 stacked instances of 8 single-clip videos: the vmapped step ran at 0.77x the speed of lax.map over the
    # instances on XLA:CPU (68 vs 47 ms, benchmarks/passmore.py); the small products and pooling batch poorly
    cpu_instances = "map"

    def __init__(self, spec: PassmoreSpec | None = None, config: PassmoreConfig | None = None):
        spec = _argument("PassmoreTask", spec, PassmoreSpec)
        config = _argument("PassmoreTask", config, PassmoreConfig)
        if spec.clip_length != config.clip_length or spec.num_features != NUM_FEATURES:
            raise ConfigError(f"PassmoreSpec.clip_length {spec.clip_length} and PassmoreConfig.clip_length "
                              f"{config.clip_length} must agree, and the spec must take {NUM_FEATURES} features")
        self.spec, self.config, self.model = spec, config, models.build(spec)
        self.forward = PassmoreForward(spec, config)  # the family's forward pass: prediction's logits are its

    @functools.cached_property
    def bank(self) -> np.ndarray:
        """The curve bank of the augmentation, (num_curves, clip_length)."""
        c = self.config
        return curve_bank(c.num_curves, c.clip_length, sigma=c.curve_sigma, knots=c.curve_knots, seed=c.curve_seed)

    # ------------------------------------------------------------------ compiled
    def init(self, key) -> dict:
        return self.forward.init(key)

    def _l2(self, params) -> jax.Array:
        return self.config.l2 * sum(jnp.sum(jnp.square(k)) for k in l2_kernels(params))

    def _smoothed(self, labels) -> jax.Array:
        s = self.config.label_smoothing
        return labels.astype(jnp.float32) * (1.0 - s) + 0.5 * s

    def loss(self, variables, batch, key, step):
        x = batch["x"]
        if self.config.augment:  # the warps work on (S, T, F): time before features
            x = jnp.swapaxes(jax.vmap(passmore_warp)(jnp.swapaxes(x, -1, -2), batch["magnitude"], batch["time"]),
                             -1, -2)
        (logits, _), updates = self.model.apply(variables, x, train=True, rngs={"dropout": key},
                                                mutable=["batch_stats"])
        bce = jnp.mean(optax.sigmoid_binary_cross_entropy(logits, self._smoothed(batch["label"])))
        return bce + self._l2(variables["params"]), dict(updates), {"bce": bce}

    def predict(self, variables, inputs):
        logits = self.forward.apply(variables, inputs)["logit"]
        return {"logit": logits, "l2": jnp.broadcast_to(self._l2(variables["params"]), logits.shape)}

    # ------------------------------------------------------------------ host
    def epoch_batches(self, data: PassmoreData, epoch: int, rng) -> _Batches:
        y = data.labels
        order = np.concatenate([np.flatnonzero(y == 0), np.repeat(np.flatnonzero(y == 1), self.config.oversample)])
        return _Batches(self, data, rng.permutation(order), rng)

    def steps_per_epoch(self, data: PassmoreData) -> int:
        n = int((data.labels == 0).sum() + self.config.oversample * (data.labels == 1).sum())
        return n // self.config.batch_size

    def eval_inputs(self, data: PassmoreData):
        if data.validation is None:
            return None
        c = self.config
        return np.stack([video_clips(f, c.clip_length, c.clip_stride, c.eval_clip_step) for f in data.validation[0]])

    def score(self, data: PassmoreData, outputs) -> dict[str, float]:
        labels = data.validation[1]
        logits = np.asarray(outputs["logit"], np.float64)
        s = self.config.label_smoothing
        target = labels * (1 - s) + 0.5 * s
        bce = np.mean(np.maximum(logits, 0) - logits * target + np.log1p(np.exp(-np.abs(logits))))
        val_loss = float(bce + outputs["l2"][0])
        auc = roc_auc(labels, logits) if 0 < labels.sum() < len(labels) else float("nan")
        return {"val_loss": val_loss, "val_auc": float(auc)}

    def selection(self) -> Selection:
        """Keras ``EarlyStopping`` after the first phase, as an engine feature: the validation loss selects from
        epoch ``min_epochs + 1`` on, an instance stops after ``patience`` epochs without a lower one (its counters
        are in the engine's checkpoint), the run ends when every instance has stopped; the best epoch is kept
        (``restore_best``) or the last."""
        c = self.config
        return Selection("val_loss", "min", start=c.min_epochs, patience=c.patience, restore=c.restore_best)

    def check_data(self, data) -> None:
        if not isinstance(data, PassmoreData):
            raise DataError(f"PassmoreTask trains on PassmoreData(features, labels, validation), got "
                            f"{type(data).__name__}")
        c = self.config
        for f in (data.features,) + ((data.validation[0],) if data.validation is not None else ()):
            check_features(f, "PassmoreTask", c.clip_length)
        if self.steps_per_epoch(data) < 1:
            raise DataError(f"PassmoreTask: {len(data.labels)} training videos give no batch of {c.batch_size}; "
                            "add videos or lower batch_size")

    @classmethod
    def example(cls, seed: int = 0) -> tuple[PassmoreTask, list[PassmoreData]]:
        """The coded network on random 160-sample videos whose label shows as an oscillation, with early stopping
        from epoch 2 and a patience of 1 (the task contract: a resume after early stopping started)."""
        config = PassmoreConfig(epochs=6, min_epochs=1, patience=1, num_curves=50, batch_size=4, eval_batch_size=4,
                                eval_clip_step=4, learning_rate=0.05, progress=False)
        rng = np.random.default_rng(seed)

        def videos(n: int):
            labels = np.arange(n) % 2
            f = rng.normal(size=(n, 160, NUM_FEATURES)).astype(np.float32) * 0.5
            f[labels == 1, :, :10] += 1.5 * np.sin(np.arange(160) / 3.0)[:, None].astype(np.float32)
            return f, labels

        data = [PassmoreData(*videos(8), validation=videos(4)) for _ in range(2)]
        return cls(PassmoreSpec(), config), data


# ------------------------------------------------------------------------------------------------------ inference
def predict_videos(task: PassmoreTask, variables: Any, features: Sequence[np.ndarray], *, chunk: int = 4,
                   clip_step: int = 1) -> list[np.ndarray]:
    """Logits of videos from stacked instances, every clip of every video (S = 547 for 4500 samples), instance i on
    ``features[i]`` (stacked inference, :class:`~infantjax.infer.predict.StackedPredictor`).

    Arguments:
        task: the task (its model and clip configuration).
        variables: stacked variables (leading instance axis), e.g. ``FitResult.variables``.
        features: per instance, (videos, T, 46) feature matrices (instances may have different video counts).
        chunk: videos per call and instance at most.
        clip_step: use every k-th clip (1 = all).

    Returns:
        per instance, (videos,) float logits.
    """
    predictor = StackedPredictor(task_forward(task), variables, memory_budget=task.config.memory_budget)
    inputs = [video_examples(f, task.config, clip_step) for f in features]
    return [video_logits(o) for o in predictor.per_instance(inputs, chunk=chunk)]


# ------------------------------------------------------------------------------------------------------ splits


# ------------------------------------------------------------------------------------------------------ Platt


# ------------------------------------------------------------------------------------------------------ protocol


# ------------------------------------------------------------------------------------------------------ baseline


SmartphoneModel.trained_with(PassmoreConfig, PassmoreTask)  # the family's training config and task
