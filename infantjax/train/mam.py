"""Training of MAM (seed 001, Gao et al. 2023) as a task of the engine: the Ref, Main and Info branches trained
together, the cross-validation folds as stacked, vmapped instances.

* :class:`MamConfig`: the paper's recipe as defaults where it gives one (300 epochs, SGD lr 0.001, a step of 64
  clips: half pretraining clips, half instances of one normal and one risk recording; triplet margin 0.4; the loss
  the sum of the triplet, closeness and two cross-entropy losses) and ours elsewhere (stated per field).
* :class:`MamData`: one instance's pretraining clips (the Ref branch's cohort) and training recordings.
* :class:`MamTask`: the task. Per step, the Ref branch sees ``ref_batch`` clips (half FMs, half non-FMs), the Main
  branch ``batch_size`` recordings (half normal, half risk) of ``bag_clips`` random clips each.
* :func:`recording_clips`, :func:`predict_recordings` (every clip of every recording, stacked instances).

The cross-validation protocol (:func:`infantjax.protocols.mam.run_protocol`) lives in :mod:`infantjax.protocols`.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from infantjax import backend, models
from infantjax._jsonconfig import check_positive_ints
from infantjax.errors import ConfigError, DataError
from infantjax.models.mam import MamNet, MamSpec, closeness_loss, triplet_loss
from infantjax.infer.mam import (  # noqa: F401 - the family's inference helpers, re-exported here
    MamForward,
    MamModel,
    check_info,
    check_recordings,
    clip_slots,
    clip_starts,
    recording_clips,
    recording_examples,
    recording_outputs,
)
from infantjax.train.config import TrainConfig, host_field
from infantjax.infer.predict import StackedPredictor, task_forward
from infantjax.train.task import Task, _argument

__all__ = ["MamConfig", "MamData", "MamTask", "check_binary", "check_info", "check_recordings", "clip_slots", "clip_starts", "predict_recordings", "recording_clips",
           "recording_examples", "recording_outputs"]

log = logging.getLogger(__name__)

@dataclasses.dataclass(frozen=True)
class MamConfig(TrainConfig):
    """MAM's recipe. The run and optimizer fields are :class:`TrainConfig`'s.

    Arguments:
        epochs: 300 (seed 001). An epoch is one draw of every training recording, ``batch_size`` per step.
        batch_size: recordings per step, half normal and half risk (2: "one normal and one risk bag").
        ref_batch: pretraining clips per step, half FMs and half non-FMs (32: half of the batch of 64).
        bag_clips: instances drawn per recording and step (16: 2 × 16 = the other half of 64; ours).
        optimizer, learning_rate, momentum: SGD, 0.001 (seed 001; its CyclicLR schedule is not reproduced: ours
            is constant), momentum 0.9 (ours).
        margin: the triplet margin (0.4, seed 001).
        ref_weight, triplet_weight, bag_weight, closeness_weight: weights of the Ref cross-entropy, the triplet,
            the recording cross-entropy and the closeness loss (all 1: "the sum", seed 001). A zero weight is the
            paper's ablation without that loss.
        clip_stride: frames between the starts of a recording's clips (150: clips of 240 overlapping by 90).
        folds: cross-validation folds over infants, stratified by label (5, ours; the paper does not say).
        fold_seed: the folds' shuffle.
        threshold: risk probability above which a recording is called risk, and FMs probability above which a clip
            is an FMs clip (0.5).
    """

    epochs: int = host_field(300)
    batch_size: int = host_field(2)
    ref_batch: int = host_field(32)
    bag_clips: int = host_field(16)
    optimizer: str = "sgd"
    learning_rate: float = 1e-3
    momentum: float = 0.9
    margin: float = 0.4
    ref_weight: float = 1.0
    triplet_weight: float = 1.0
    bag_weight: float = 1.0
    closeness_weight: float = 1.0
    clip_stride: int = host_field(150)
    folds: int = host_field(5)
    fold_seed: int = host_field(0)
    threshold: float = host_field(0.5)
    eval_batch_size: int = host_field(4)

    def __post_init__(self):
        super().__post_init__()
        check_positive_ints(self, ("ref_batch", "bag_clips", "clip_stride", "folds"), "MamConfig")
        if self.batch_size % 2 or self.ref_batch % 2:
            raise ConfigError(f"MamConfig.batch_size ({self.batch_size}) and ref_batch ({self.ref_batch}) must be "
                              "even: half of each step is of either class")
        if self.ref_batch % self.batch_size:
            raise ConfigError(f"MamConfig.ref_batch {self.ref_batch} must be a multiple of batch_size "
                              f"{self.batch_size} (both are split over the mesh's data axis)")
        if self.folds < 2:
            raise ConfigError(f"MamConfig.folds must be >= 2, got {self.folds}")
        for name in ("margin", "ref_weight", "triplet_weight", "bag_weight", "closeness_weight"):
            if not float(getattr(self, name)) >= 0.0:
                raise ConfigError(f"MamConfig.{name} must be >= 0, got {getattr(self, name)!r}")
        if not 0.0 < self.threshold < 1.0:
            raise ConfigError(f"MamConfig.threshold must be in (0, 1), got {self.threshold!r}")

    @classmethod
    def quick(cls, **overrides) -> MamConfig:
        """A short CPU recipe (ours): Adam 3e-3, 10 epochs, 2 recordings of 8 clips and 32 pretraining clips per
        step, clips every 25 frames, 3 folds; losses as in the paper."""
        base = {"epochs": 10, "optimizer": "adam", "learning_rate": 3e-3, "batch_size": 2, "ref_batch": 32,
                "bag_clips": 8, "clip_stride": 25, "folds": 3, "progress": False}
        return cls(**{**base, **overrides})


# ------------------------------------------------------------------------------------------------------ clips
def check_binary(labels, n: int, where: str, what: str) -> np.ndarray:
    y = np.asarray(labels)
    if y.shape != (n,):
        raise DataError(f"{where}: {y.shape} {what} labels for {n} items")
    if not np.isin(y, (0, 1)).all():
        raise DataError(f"{where}: {what} labels must be 0 or 1, got {np.unique(y).tolist()}")
    return y.astype(np.int32)


@dataclasses.dataclass(frozen=True, eq=False)
class MamData:
    """One instance's training data.

    Attributes:
        ref_clips: (N_r, L, F) pretraining clips (the Ref branch's cohort), ref_labels: (N_r,) 1 = FMs.
        recordings: per training recording, its (T, F) motion features.
        labels: (N,) 1 = risk (sporadic or absent FMs), 0 = normal.
        info: (N, 4) :func:`~infantjax.models.mam.characteristics` (zeros when the Info branch is off).
    """

    ref_clips: np.ndarray
    ref_labels: np.ndarray
    recordings: Sequence[np.ndarray]
    labels: np.ndarray
    info: np.ndarray | None = None

    def __post_init__(self):
        x = np.asarray(self.ref_clips, np.float32)
        if x.ndim != 3:
            raise DataError(f"MamData: ref_clips must be (clips, frames, features), got shape {x.shape}")
        object.__setattr__(self, "ref_clips", x)
        object.__setattr__(self, "ref_labels", check_binary(self.ref_labels, len(x), "MamData", "FMs"))
        recordings = tuple(np.asarray(r, np.float32) for r in self.recordings)
        object.__setattr__(self, "recordings", recordings)
        object.__setattr__(self, "labels", check_binary(self.labels, len(recordings), "MamData", "risk"))
        object.__setattr__(self, "info", check_info(self.info, len(recordings), "MamData"))


class _Batches:
    """The batches of one epoch (every draw decided up front from the epoch's generator: resume is exact)."""

    def __init__(self, task: MamTask, data: MamData, rng):
        c, spec = task.config, task.spec
        self.task, self.data = task, data
        n = len(data.recordings)
        self.steps = max(1, n // c.batch_size)
        half = c.batch_size // 2
        by_class = [np.flatnonzero(data.labels == k) for k in (0, 1)]
        # half normal, half risk per step: each class cycled through in a fresh order
        self.bags = np.concatenate([_cycle(rng, by_class[k], self.steps * half).reshape(self.steps, half)
                                    for k in (0, 1)], axis=1)
        ref = [np.flatnonzero(data.ref_labels == k) for k in (0, 1)]
        rh = c.ref_batch // 2
        self.ref = np.concatenate([_cycle(rng, ref[k], self.steps * rh).reshape(self.steps, rh) for k in (0, 1)],
                                  axis=1)
        self.starts = []
        for step in self.bags:
            row = []
            for b in step:
                s = clip_starts(len(data.recordings[b]), spec.clip_length, c.clip_stride)
                pick = np.sort(rng.choice(len(s), min(len(s), c.bag_clips), replace=False))
                row.append(s[pick])
            self.starts.append(row)

    def __len__(self) -> int:
        return self.steps

    def __getitem__(self, s: int) -> dict:
        if not 0 <= s < self.steps:
            raise IndexError(s)
        c, L = self.task.config, self.task.spec.clip_length
        d = self.data
        x = np.zeros((c.batch_size, c.bag_clips, L, d.ref_clips.shape[2]), np.float32)
        mask = np.zeros((c.batch_size, c.bag_clips), np.float32)
        for i, (b, starts) in enumerate(zip(self.bags[s], self.starts[s])):
            x[i, :len(starts)] = d.recordings[b][starts[:, None] + np.arange(L)[None, :]]
            mask[i, :len(starts)] = 1.0
        return {"bag_x": x, "bag_mask": mask, "bag_y": d.labels[self.bags[s]].astype(np.float32),
                "bag_info": d.info[self.bags[s]], "ref_x": d.ref_clips[self.ref[s]],
                "ref_y": d.ref_labels[self.ref[s]]}


def _dropout_key(key: jax.Array) -> jax.Array:
    """The key of the dropout masks, drawn from the step's key: under the CPU backend policy an ``rbg`` key (XLA on
    CPU compiles the threefry bits of the encoder's dozen dropout layers about 4× slower — a tiny MAM's training
    step: minutes; rbg draws the same kind of masks from XLA's RngBitGenerator), elsewhere the threefry key itself.

    RngBitGenerator draws other bits under ``vmap`` than one instance alone, so with rbg keys an instance trained
    in a vmapped stack would differ from the same instance trained alone (found by the task contract); the CPU
    policy therefore runs MAM's stacked instances one after another (``cpu_instances = "map"``), and the
    accelerator policy, which vmaps them, keeps threefry keys (:attr:`infantjax.backend.Policy.fast_dropout_keys`).
    """
    if not backend.current().fast_dropout_keys:
        return key
    return jax.random.wrap_key_data(jax.random.bits(key, (4,), jnp.uint32), impl="rbg")


def _cycle(rng, items: np.ndarray, count: int) -> np.ndarray:
    """``count`` items: shuffled passes over ``items`` (every item once before any repeats)."""
    passes = -(-count // len(items))
    return np.concatenate([rng.permutation(items) for _ in range(passes)])[:count]


class MamTask(Task):
    """Train MAM (:class:`~infantjax.models.mam.MamSpec`) with the recipe of :class:`MamConfig`: one loss, the
    sum of the Ref clips' cross-entropy, the triplet loss (margin 0.4) to the prototypes, the recordings' fused
    cross-entropy and the closeness loss of their instances (:mod:`infantjax.models.mam.losses`).

    On CPU the stacked folds run one after another inside the step (``lax.map``): 0.31 vs 0.40–0.53 s per step of 3
    quick-recipe folds, and the only form in which the rbg dropout masks of a stacked fold equal the fold's alone
    (:func:`_dropout_key`).

    There is no per-epoch evaluation (the last epoch is kept, as a fixed 300-epoch recipe does); the folds are
    scored after training (:func:`infantjax.protocols.mam.run_protocol`).
    """

    cpu_instances = "map"

    def __init__(self, spec: MamSpec | None = None, config: MamConfig | None = None):
        spec = _argument("MamTask", spec, MamSpec)
        config = _argument("MamTask", config, MamConfig)
        self.spec, self.config, self.model = spec, config, models.build(spec)
        self.forward = MamForward(spec, config)  # the family's forward pass: prediction is the forward's

    # ------------------------------------------------------------------ compiled
    def init(self, key) -> dict:
        return models.init(self.spec, key)  # clips (1, 2, L, F), every clip real, zero characteristics

    def loss(self, variables, batch, key, step):
        c = self.config
        k_bag, k_ref = (_dropout_key(k) for k in jax.random.split(key))
        out = self.model.apply(variables, batch["bag_x"], batch["bag_mask"], batch["bag_info"], train=True,
                               rngs={"dropout": k_bag})
        ref_e, ref_logit = self.model.apply(variables, batch["ref_x"], train=True, rngs={"dropout": k_ref},
                                            method=MamNet.clips)
        ref_y = batch["ref_y"]
        prototypes = variables["params"]["prototypes"]
        ref_ce = jnp.mean(optax.sigmoid_binary_cross_entropy(ref_logit, ref_y.astype(jnp.float32)))
        triplet = triplet_loss(ref_e, ref_y, prototypes, c.margin)
        bag_ce = jnp.mean(optax.sigmoid_binary_cross_entropy(out["risk_logit"], batch["bag_y"]))
        close = closeness_loss(out["embedding"], out["clip_logit"], prototypes, batch["bag_mask"])
        total = (c.ref_weight * ref_ce + c.triplet_weight * triplet + c.bag_weight * bag_ce
                 + c.closeness_weight * close)
        return total, {}, {"ref_ce": ref_ce, "triplet": triplet, "bag_ce": bag_ce, "closeness": close}

    def predict(self, variables, inputs) -> dict:
        return self.forward.apply(variables, inputs)

    # ------------------------------------------------------------------ host
    def epoch_batches(self, data: MamData, epoch: int, rng) -> _Batches:
        return _Batches(self, data, rng)

    def steps_per_epoch(self, data: MamData) -> int:
        return max(1, len(data.recordings) // self.config.batch_size)

    def check_data(self, data) -> None:
        if not isinstance(data, MamData):
            raise DataError(f"MamTask trains on MamData(ref_clips, ref_labels, recordings, labels, info), got "
                            f"{type(data).__name__}")
        s, c = self.spec, self.config
        if data.ref_clips.shape[1:] != (s.clip_length, s.num_features):
            raise DataError(f"MamTask: pretraining clips of shape {data.ref_clips.shape[1:]}, the model takes "
                            f"({s.clip_length}, {s.num_features})")
        check_recordings(data.recordings, s, "MamTask")
        for what, y in (("training recordings", data.labels), ("pretraining clips", data.ref_labels)):
            counts = np.bincount(y, minlength=2)
            if counts.min() == 0:
                raise DataError(f"MamTask: the {what} hold only one class ({counts.tolist()}); each step draws "
                                "both classes")
        if len(data.recordings) < c.batch_size:
            raise DataError(f"MamTask: {len(data.recordings)} training recordings give no batch of "
                            f"{c.batch_size}; add recordings or lower batch_size")

    @classmethod
    def example(cls, seed: int = 0) -> tuple[MamTask, list[MamData]]:
        """A two-block MAM on random distance features of 6 joints (the task contract)."""
        spec = MamSpec(num_joints=6, clip_length=20, patch=5, width=16, depth=1, heads=2, mil_hidden=8,
                       use_info=False)
        config = MamConfig.quick(epochs=3, batch_size=2, ref_batch=4, bag_clips=2, clip_stride=10, optimizer="sgd",
                                 learning_rate=1e-2)
        rng = np.random.default_rng(seed)

        def data() -> MamData:
            f = spec.num_features
            return MamData(rng.normal(size=(8, 20, f)).astype(np.float32), np.arange(8) % 2,
                           [rng.normal(size=(40 + 10 * i, f)).astype(np.float32) for i in range(4)], np.arange(4) % 2)

        return cls(spec, config), [data(), data()]


# ------------------------------------------------------------------------------------------------------ inference
def predict_recordings(task: MamTask, variables: Any, recordings: Sequence[Sequence[np.ndarray]],
                       info: Sequence[np.ndarray | None], *, chunk: int | None = None) -> list[dict]:
    """Every clip (stride ``config.clip_stride``) of every recording, from stacked instances, instance i on
    ``recordings[i]`` (stacked inference, :class:`~infantjax.infer.predict.StackedPredictor`).

    Arguments:
        task: the task (model, clip length and stride).
        variables: stacked variables (leading instance axis), e.g. ``FitResult.variables``.
        recordings: per instance, its recordings' (T, F) motion features (instances may differ in count).
        info: per instance, (N, 4) characteristics (or None: zeros, for ``use_info=False``).
        chunk: recordings per call and instance at most (default ``config.eval_batch_size``).

    Returns:
        per instance ``{"risk", "main", "clip_fms" (list of (clips,)), "attention" (list), "fms_frequency",
        "clip_starts" (list)}`` with probabilities as float64.
    """
    c, spec = task.config, task.spec
    recordings = [check_recordings(r, spec, "predict_recordings") for r in recordings]
    infos = [check_info(i, len(r), "predict_recordings") for r, i in zip(recordings, info)]
    starts = [[clip_starts(len(x), spec.clip_length, c.clip_stride) for x in r] for r in recordings]
    slots = clip_slots(starts)
    predictor = StackedPredictor(task_forward(task), variables, memory_budget=c.memory_budget)
    inputs = [recording_examples(task, r, i, slots) for r, i in zip(recordings, infos)]
    outputs = predictor.per_instance(inputs, chunk=int(chunk or c.eval_batch_size))
    return [recording_outputs(task, o, st) for o, st in zip(outputs, starts)]


# ------------------------------------------------------------------------------------------------------ protocol


MamModel.trained_with(MamConfig, MamTask)  # the family's training config and task (infer/mam.py)
