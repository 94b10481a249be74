"""Training of the SMA CHOP INTEND regressor of seed 000 (Soran et al.) as a task of the engine.

* :class:`SMAConfig`: the recipe of §4.2 / §5.1 as fields — Euclidean (L2) loss ``1/(2N) Σ (ŷ − y)²``, Caffe-style
  SGD with momentum 0.95 at a constant learning rate of 1e-4, batch 400, an L2 regularisation factor of 0.9 on the
  fully connected layers only ("an increased weight-decay while learning the fully connected layers"; the paper
  does not give the convolutions' factor, ours: 0), 1,000 iterations ≈ 286 epochs, windows of 900 frames at stride
  50 from recordings standardised per feature.
* :class:`SMAData`: one fold's training windows and scores (and optional evaluation windows).
* :class:`SMATask`: the task.
* :func:`recording_windows`: the windows of many recordings, each labelled with its recording.

The leave-one-subject-out protocol and the linear baselines live in :mod:`infantjax.protocols`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from infantjax import models
from infantjax._jsonconfig import check_positive_ints
from infantjax.errors import ConfigError, DataError
from infantjax.models.sma import LIMBS, SMASpec, fc_kernels
from infantjax.preprocess.sma import STRIDE, WINDOW, limb_windows
from infantjax.infer.sma import SMAForward, SMAModel
from infantjax.train.config import TrainConfig, host_field
from infantjax.infer.predict import StackedPredictor, task_forward
from infantjax.train.task import Selection, ShuffledBatches, Task, _argument

__all__ = ["SMAConfig", "SMAData", "SMATask", "Windows", "euclidean_loss", "predict_windows", "recording_windows"]



@dataclasses.dataclass(frozen=True)
class SMAConfig(TrainConfig):
    """The recipe of seed 000 (§4.2, §5.1). The run and optimizer fields are :class:`TrainConfig`'s.

    Arguments:
        epochs: passes over the training windows (286: "1000 iterations (approximately 286 epochs)").
        batch_size: windows per step (400).
        learning_rate, momentum: SGD, constant 1e-4, momentum 0.95 (Caffe's update: v ← m·v + lr·g).
        fc_weight_decay: L2 factor on the two fully connected layers' kernels (0.9; the loss gains
            ``0.5·λ·Σw²``, Caffe's ``weight_decay``, whose gradient is ``λ·w``).
        conv_weight_decay: L2 factor on the convolution kernels (0: the brief and the paper regularise the FC
            layers; ours).
        window, stride: 900-frame windows slid by 50 frames.
        standardize: standardise every recording to zero mean and unit sd per feature before windowing.
        score_offset, score_scale: the network regresses ``(score − offset) / scale`` and predicts
            ``offset + scale·output`` (0 and 1: raw scores, as the paper's final model; it "tried normalizing the
            regression labels" without gain — the quick recipe uses 36 and 36, which starts the output at the
            middle of the scale instead of 1,000 iterations climbing to it).
        clip_predictions: clip predicted scores to [0, 72] (False, as the paper's regression; ours as an option).
    """

    epochs: int = host_field(286)
    batch_size: int = host_field(400)
    optimizer: str = "sgd"
    learning_rate: float = 1e-4
    momentum: float = 0.95
    nesterov: bool = False
    schedule: str = "constant"
    fc_weight_decay: float = 0.9
    conv_weight_decay: float = 0.0
    score_offset: float = 0.0
    score_scale: float = 1.0
    window: int = host_field(WINDOW)
    stride: int = host_field(STRIDE)
    standardize: bool = host_field(True)
    clip_predictions: bool = host_field(False)
    eval_batch_size: int = host_field(400)

    def __post_init__(self):
        super().__post_init__()
        for name in ("fc_weight_decay", "conv_weight_decay"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value) or value < 0:
                raise ConfigError(f"SMAConfig.{name} must be a finite number >= 0, got {value!r}")
        if not (isinstance(self.score_offset, (int, float)) and np.isfinite(self.score_offset)):
            raise ConfigError(f"SMAConfig.score_offset must be a finite number, got {self.score_offset!r}")
        if not (isinstance(self.score_scale, (int, float)) and np.isfinite(self.score_scale) and self.score_scale > 0):
            raise ConfigError(f"SMAConfig.score_scale must be a finite number > 0, got {self.score_scale!r}")
        check_positive_ints(self, ("window", "stride"), "SMAConfig")

    @classmethod
    def quick(cls, **overrides) -> SMAConfig:
        """A short recipe for CPU runs with :meth:`SMASpec.narrow`-sized networks (ours, not the paper's): 20 epochs
        of batch 32 at a learning rate of 1e-2 on scores normalised to (score − 36)/36, FC weight decay 1e-3 (the
        paper's 0.9 is relative to raw 0–72 targets, whose gradients are 36× larger, and to 1,000 iterations);
        momentum 0.95, constant rate and the Euclidean loss as the paper."""
        base = {"epochs": 20, "batch_size": 32, "learning_rate": 1e-2, "score_offset": 36.0, "score_scale": 36.0,
                "fc_weight_decay": 1e-3, "progress": False}
        return cls(**{**base, **overrides})


def euclidean_loss(predictions, targets) -> jax.Array:
    """Caffe's EuclideanLoss: ``1/(2N) Σ_n (ŷ_n − y_n)²`` over the batch."""
    diff = jnp.asarray(predictions, jnp.float32) - jnp.asarray(targets, jnp.float32)
    return 0.5 * jnp.mean(diff ** 2)


def _check_windows(windows, where: str, window: int | None = None) -> np.ndarray:
    w = np.asarray(windows, np.float32)
    if w.ndim != 4 or w.shape[2] != LIMBS or w.shape[3] != 3:
        raise DataError(f"{where}: windows must be (N, frames, 4 limbs, 3 coordinates), got shape {w.shape}")
    if window is not None and w.shape[1] != window:
        raise DataError(f"{where}: windows of {w.shape[1]} frames, the network takes {window} (SMASpec.window)")
    if not np.isfinite(w).all():
        raise DataError(f"{where}: windows contain NaN/inf; cut them with infantjax.preprocess.sma.limb_windows, "
                        "which drops the frames where a limb was lost")
    return w


def _check_scores(scores, n: int, where: str) -> np.ndarray:
    y = np.asarray(scores, np.float32)
    if y.shape != (n,):
        raise DataError(f"{where}: {y.shape} scores for {n} windows")
    if not np.isfinite(y).all():
        raise DataError(f"{where}: scores contain NaN/inf; every window needs its recording's CHOP INTEND score")
    return y


@dataclasses.dataclass(frozen=True, eq=False)
class SMAData:
    """One instance's windows.

    Attributes:
        windows: (N, 900, 4, 3) training windows.
        scores: (N,) CHOP INTEND extremity score of each window's recording.
        validation: optional (windows, scores) scored every epoch (``val_mae``; the paper has none).
    """

    windows: np.ndarray
    scores: np.ndarray
    validation: tuple[np.ndarray, np.ndarray] | None = None

    def __post_init__(self):
        w = _check_windows(self.windows, "SMAData")
        object.__setattr__(self, "windows", w)
        object.__setattr__(self, "scores", _check_scores(self.scores, len(w), "SMAData"))
        if self.validation is not None:
            vw = _check_windows(self.validation[0], "SMAData validation")
            object.__setattr__(self, "validation", (vw, _check_scores(self.validation[1], len(vw),
                                                                      "SMAData validation")))


class SMATask(Task):
    """Train the seed 000 CNN (:class:`~infantjax.models.sma.SMASpec`) with the paper's recipe.

    Arguments:
        spec: the network (default: Table 1).
        config: the recipe (default: the paper's).
    """

    def __init__(self, spec: SMASpec | None = None, config: SMAConfig | None = None):
        spec = _argument("SMATask", spec, SMASpec, article="an")
        config = _argument("SMATask", config, SMAConfig, article="an")
        if spec.window != config.window:
            raise ConfigError(f"SMASpec.window {spec.window} and SMAConfig.window {config.window} must agree")
        self.spec, self.config, self.model = spec, config, models.build(spec)
        self.forward = SMAForward(spec, config)  # the family's forward pass: prediction is the forward's

    # ------------------------------------------------------------------ compiled
    def init(self, key) -> dict:
        return models.init(self.spec, key)

    def _decay(self, params) -> jax.Array:
        c = self.config
        fc = sum(jnp.sum(jnp.square(k)) for k in fc_kernels(params))
        conv = sum(jnp.sum(jnp.square(params[n]["kernel"])) for n in ("conv1", "conv2", "conv3"))
        return 0.5 * (c.fc_weight_decay * fc + c.conv_weight_decay * conv)

    def loss(self, variables, batch, key, step):
        pred = self.model.apply(variables, batch["x"], train=True, rngs={"dropout": key})
        c = self.config
        l2 = euclidean_loss(pred, (batch["y"] - c.score_offset) / c.score_scale)
        return l2 + self._decay(variables["params"]), {}, {"euclidean": l2}

    def predict(self, variables, inputs):
        return self.forward.apply(variables, inputs)

    def finish_scores(self, scores) -> np.ndarray:
        """Predicted window scores on the host: float64, clipped to [0, 72] when the config says so."""
        return self.forward.finish_scores(scores)

    # ------------------------------------------------------------------ host
    def epoch_batches(self, data: SMAData, epoch: int, rng) -> ShuffledBatches:
        # the windows shuffled ("at each iteration we shuffled the samples")
        return ShuffledBatches({"x": data.windows, "y": data.scores}, rng.permutation(len(data.scores)),
                               self.config.batch_size)

    def steps_per_epoch(self, data: SMAData) -> int:
        return len(data.scores) // self.config.batch_size

    def eval_inputs(self, data: SMAData):
        return None if data.validation is None else data.validation[0]

    def score(self, data: SMAData, outputs) -> dict[str, float]:
        err = np.abs(np.asarray(outputs, np.float64) - data.validation[1])
        return {"val_mae": float(err.mean())}

    def selection(self) -> Selection | None:
        return None  # the paper has no validation set: the last iteration's network is kept

    def check_data(self, data) -> None:
        if not isinstance(data, SMAData):
            raise DataError(f"SMATask trains on SMAData(windows, scores, validation), got {type(data).__name__}")
        for w in (data.windows,) + ((data.validation[0],) if data.validation is not None else ()):
            _check_windows(w, "SMATask", self.spec.window)
        if self.steps_per_epoch(data) < 1:
            raise DataError(f"SMATask: {len(data.scores)} training windows give no batch of "
                            f"{self.config.batch_size}; add recordings or lower batch_size")

    @classmethod
    def example(cls, seed: int = 0) -> tuple[SMATask, list[SMAData]]:
        """The narrow Table 1 network on random 108-frame windows (the task contract)."""
        spec = SMASpec.narrow(window=108, dropout=0.0)
        config = SMAConfig.quick(window=108, epochs=3, batch_size=4)
        rng = np.random.default_rng(seed)

        def windows(n: int):
            return rng.normal(size=(n, 108, LIMBS, 3)).astype(np.float32), rng.uniform(0, 72, n).astype(np.float32)

        return cls(spec, config), [SMAData(*windows(8), validation=windows(4)) for _ in range(2)]


# ------------------------------------------------------------------------------------------------------ windows
@dataclasses.dataclass(frozen=True)
class Windows:
    """The windows of many recordings, each labelled with its recording.

    Attributes:
        windows: (N, K, 4, 3) float32.
        scores: (N,) float32 score of each window's recording.
        subjects: (N,) subject id of each window.
        recordings: (N,) recording index (into the recordings given) of each window.
    """

    windows: np.ndarray
    scores: np.ndarray
    subjects: np.ndarray
    recordings: np.ndarray

    def __len__(self) -> int:
        return len(self.scores)


def recording_windows(tracks: Sequence[np.ndarray], scores: Sequence[float], subjects: Sequence[str], *,
                      window: int = WINDOW, stride: int = STRIDE, standardize: bool = True) -> Windows:
    """Windows of every recording (:func:`~infantjax.preprocess.sma.limb_windows`), each labelled with its
    recording's score, subject and index.

    Arguments:
        tracks: per recording, (T, 4, 3) limb tracks (NaN where a limb was lost).
        scores: (recordings,) CHOP INTEND extremity score of each recording.
        subjects: (recordings,) subject id of each recording.
        window, stride, standardize: see :func:`~infantjax.preprocess.sma.limb_windows`.
    """
    scores = np.asarray(scores, np.float32)
    subjects = np.asarray([str(s) for s in subjects])
    if not (len(tracks) == len(scores) == len(subjects)) or len(tracks) == 0:
        raise DataError(f"recording_windows: {len(tracks)} recordings, {len(scores)} scores and {len(subjects)} "
                        "subject ids; give one of each per recording")
    parts = [limb_windows(t, window=window, stride=stride, standardize=standardize, where=f"recording {i}")
             for i, t in enumerate(tracks)]
    counts = [len(p) for p in parts]
    return Windows(np.concatenate(parts), np.repeat(scores, counts), np.repeat(subjects, counts),
                   np.repeat(np.arange(len(parts)), counts))


# ------------------------------------------------------------------------------------------------------ inference
def predict_windows(task: SMATask, variables: Any, windows: Sequence[np.ndarray], *, chunk: int = 256
                    ) -> list[np.ndarray]:
    """Window scores from stacked instances, instance i on ``windows[i]`` (stacked inference,
    :class:`~infantjax.infer.predict.StackedPredictor`).

    Arguments:
        task: the task (its model).
        variables: stacked variables (leading instance axis), e.g. ``FitResult.variables``.
        windows: per instance, (N_i, K, 4, 3) windows (counts may differ).
        chunk: windows per call and instance at most.

    Returns:
        per instance, (N_i,) float64 scores.
    """
    windows = [np.asarray(w, np.float32) for w in windows]
    predictor = StackedPredictor(task_forward(task), variables, memory_budget=task.config.memory_budget)
    return [task.finish_scores(r) for r in predictor.per_instance(windows, chunk=chunk)]


# ------------------------------------------------------------------------------------------------------ protocol


# ------------------------------------------------------------------------------------------------------ baselines


SMAModel.trained_with(SMAConfig, SMATask)  # the family's training config and task (infer/sma.py)
