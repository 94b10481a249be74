"""Training of the depth limb-pose CNNs (seed 004, Sec. III-B) as a task of the engine.

* Detection CNN: per-pixel binary cross-entropy over the 20 maps, Adam.
* Regression CNN: mean squared error over the 20 maps, SGD with momentum 0.98.
* Both: initial learning rate 0.01 "with a learning decay of 10 % every 10 epochs" (a staircase factor 0.9 every
  10 epochs), batch 16, 150 (detection) / 100 (regression) epochs. The paper states the rate, decay and batch once
  for both networks; we read them as shared.
* Model selection: "the best model among the epochs as the one that maximized the detection accuracy and
  minimized the mean absolute error on the validation set, for the detection and the Asy-regression CNN" — the
  task selects the epoch with the best validation pixel accuracy (thresholded maps) or MAE.

Each epoch reshuffles the clips and drops the last incomplete batch (one compiled batch shape; every clip is seen
over the epochs).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from infantjax import models
from infantjax.errors import ConfigError, DataError
from infantjax.train.config import TrainConfig, host_field
from infantjax.train.task import Selection, ShuffledBatches, Task, _argument

__all__ = [
    "DETECTION_TRAINING",
    "LOSSES",
    "REGRESSION_TRAINING",
    "DepthConfig",
    "DepthData",
    "DepthTask",
    "bce_loss",
    "mse_loss",
]


def bce_loss(logits: jax.Array, targets: jax.Array) -> jax.Array:
    """Per-pixel binary cross-entropy, averaged over pixels, maps, frames and clips."""
    return jnp.mean(optax.sigmoid_binary_cross_entropy(logits, targets))


def mse_loss(outputs: jax.Array, targets: jax.Array) -> jax.Array:
    """Mean squared error over pixels, maps, frames and clips."""
    return jnp.mean(jnp.square(outputs - targets))


LOSSES = {"bce": bce_loss, "mse": mse_loss}


@dataclasses.dataclass(frozen=True)
class DepthConfig(TrainConfig):
    """How a depth CNN is trained (the paper's regression recipe by default; :data:`DETECTION_TRAINING`).

    Arguments (besides :class:`~infantjax.train.config.TrainConfig`'s):
        loss: ``"bce"`` (detection: logits against binary maps) or ``"mse"`` (regression: Gaussian maps).
        select: ``"accuracy"`` (maximised: pixel accuracy of the maps thresholded at 0.5) or ``"mae"``
            (minimised), the paper's selection, default from ``loss``; or ``"last"``: keep the last epoch (the
            validation metric is still recorded). In runs of a few dozen steps the MAE of sparse maps is lowest for
            the untrained all-zero output.
    """

    epochs: int = host_field(100)
    batch_size: int = host_field(16)
    learning_rate: float = 0.01
    momentum: float = 0.98
    schedule: str = "staircase"
    eval_batch_size: int = host_field(16)
    loss: str = "mse"
    select: str | None = host_field(None)

    def __post_init__(self):
        super().__post_init__()
        if self.loss not in LOSSES:
            raise ConfigError(f"DepthConfig.loss {self.loss!r} is unknown; use 'bce' (detection) or 'mse' "
                              "(regression)")
        if self.select not in (None, "accuracy", "mae", "last"):
            raise ConfigError(f"DepthConfig.select {self.select!r} is unknown; use 'accuracy', 'mae' or 'last'")

    @property
    def metric(self) -> str:
        """The validation metric: ``"accuracy"`` or ``"mae"``."""
        if self.select in ("accuracy", "mae"):
            return self.select
        return "accuracy" if self.loss == "bce" else "mae"


DETECTION_TRAINING = DepthConfig(epochs=150, optimizer="adam", loss="bce")
REGRESSION_TRAINING = DepthConfig(epochs=100, optimizer="sgd", momentum=0.98, loss="mse")


@dataclasses.dataclass(frozen=True, eq=False)
class DepthData:
    """Training clips and maps of one instance, and optional validation clips and maps.

    Attributes:
        inputs: (N, T, H, W, C) float32 clips (or clips stacked with detection maps for a regression).
        targets: (N, T, H, W, 20) maps (binary for ``"bce"``, Gaussian for ``"mse"``).
        validation: optional (inputs, targets) for model selection.
    """

    inputs: np.ndarray
    targets: np.ndarray
    validation: tuple[np.ndarray, np.ndarray] | None = None

    def __post_init__(self):
        arrays = {"inputs": self.inputs, "targets": self.targets}
        if self.validation is not None:
            if len(self.validation) != 2:
                raise DataError("DepthData.validation must be (inputs, targets)")
            arrays.update({"validation inputs": self.validation[0], "validation targets": self.validation[1]})
        for name, value in arrays.items():
            a = np.asarray(value, np.float32)
            if a.ndim != 5:
                raise DataError(f"DepthData {name} must be (clips, frames, height, width, channels), got {a.shape}")
            if not np.isfinite(a).all():
                raise DataError(f"DepthData {name} contain NaN/inf; fill depth holes and check the maps")
        pairs = [(self.inputs, self.targets)] + ([tuple(self.validation)] if self.validation is not None else [])
        for x, y in pairs:
            if np.shape(x)[0] != np.shape(y)[0] or np.shape(x)[:-1] != np.shape(y)[:-1]:
                raise DataError(f"inputs {np.shape(x)} and targets {np.shape(y)} must agree on all axes but "
                                "channels")
        object.__setattr__(self, "inputs", np.asarray(self.inputs, np.float32))
        object.__setattr__(self, "targets", np.asarray(self.targets, np.float32))
        if self.validation is not None:
            object.__setattr__(self, "validation", tuple(np.asarray(v, np.float32) for v in self.validation))


class DepthTask(Task):
    """Train the detection or a regression CNN of seed 004.

    Arguments:
        spec: the network (a :class:`~infantjax.models.depth.DetectionSpec` or
            :class:`~infantjax.models.depth.RegressionSpec`, built with :func:`infantjax.models.build`), as every
            task takes its spec; a ready Flax module with the same interface is used as it is.
        config: the recipe (:class:`DepthConfig`; :data:`DETECTION_TRAINING` / :data:`REGRESSION_TRAINING`).
        input_shape: (T, H, W, C) of one clip (for :meth:`init`).
    """

    def __init__(self, spec, config: DepthConfig | None = None, input_shape: tuple[int, ...] = (3, 96, 128, 1)):
        config = _argument("DepthTask", config, DepthConfig, REGRESSION_TRAINING)
        self.spec = spec
        self.model = spec if isinstance(spec, nn.Module) else models.build(spec)
        self.config, self.input_shape = config, tuple(int(d) for d in input_shape)

    def compile_key(self) -> tuple:
        return super().compile_key() + (self.input_shape,)

    def init(self, key) -> dict:
        return models.init_module(self.model, key, jnp.zeros((1, *self.input_shape), jnp.float32))

    def loss(self, variables, batch, key, step):
        out, updates = self.model.apply(variables, batch["inputs"], train=True, mutable=["batch_stats"])
        return LOSSES[self.config.loss](out, batch["targets"]), dict(updates), {}

    def predict(self, variables, inputs):
        return self.model.apply(variables, inputs, train=False)

    def epoch_batches(self, data: DepthData, epoch: int, rng) -> ShuffledBatches:
        n = len(data.inputs)
        return ShuffledBatches({"inputs": data.inputs, "targets": data.targets}, rng.permutation(n),
                               min(self.config.batch_size, n))

    def steps_per_epoch(self, data: DepthData) -> int:
        n = len(data.inputs)
        return n // min(self.config.batch_size, n)

    def eval_inputs(self, data: DepthData) -> Any:
        return None if data.validation is None else data.validation[0]

    def score(self, data: DepthData, outputs) -> dict[str, float]:
        targets = data.validation[1]
        if self.config.metric == "accuracy":  # pixel accuracy of the maps thresholded at 0.5 (logits at 0)
            value = float(np.mean((outputs > 0) == (targets > 0.5)))
        else:
            value = float(np.mean(np.abs(outputs - targets)))
        return {"val_metric": value}

    def selection(self) -> Selection | None:
        if self.config.select == "last":
            return None
        return Selection("val_metric", "max" if self.config.metric == "accuracy" else "min")

    def check_data(self, data) -> None:
        if not isinstance(data, DepthData):
            raise DataError(f"DepthTask trains on DepthData(inputs, targets, validation), got {type(data).__name__}")
        if data.inputs.shape[1:] != self.input_shape:
            raise DataError(f"clips of shape {data.inputs.shape[1:]} but the task was built for {self.input_shape}")
        if len(data.inputs) == 0:
            raise DataError("DepthData has no clips")

    @classmethod
    def example(cls, seed: int = 0) -> tuple[DepthTask, list[DepthData]]:
        """A narrow asymmetric regression CNN on random 3 × 16 × 16 clips (the task contract)."""
        from infantjax.models.depth.regression import RegressionSpec

        rng = np.random.default_rng(seed)

        def clips(n: int):
            return (rng.normal(size=(n, 3, 16, 16, 21)).astype(np.float32),
                    rng.uniform(size=(n, 3, 16, 16, 20)).astype(np.float32))

        config = DepthConfig(epochs=3, batch_size=2, loss="mse", optimizer="sgd", learning_rate=1e-2,
                             progress=False)
        spec = RegressionSpec("asymmetric", widths=(4, 4, 4, 4), head_width=4)
        return cls(spec, config, (3, 16, 16, 21)), [DepthData(*clips(4), validation=clips(2)) for _ in range(2)]
