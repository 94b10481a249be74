"""Training of the depth limb-pose CNNs (seed 004, Sec. III-B).

* Detection CNN: per-pixel binary cross-entropy over the 20 maps, Adam.
* Regression CNN: mean squared error over the 20 maps, SGD with momentum 0.98.
* Both: initial learning rate 0.01 "with a learning decay of 10 % every 10 epochs" (a staircase factor 0.9 every
  10 epochs), batch 16, 150 (detection) / 100 (regression) epochs. The paper states the rate, decay and batch once
  for both networks; we read them as shared.
* Model selection: "the best model among the epochs as the one that maximized the detection accuracy and
  minimized the mean absolute error on the validation set, for the detection and the Asy-regression CNN" —
  ``fit`` keeps the variables of the best validation epoch (pixel accuracy of the thresholded maps, or MAE).

Everything here is plain optax + Flax; the training state is a pytree and the step is jitted.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import time
from collections.abc import Callable
from typing import Any, Literal

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import scipy.special
from tqdm.auto import tqdm

from infantjax._jsonconfig import JsonConfig
from infantjax.errors import ConfigError, DataError

__all__ = [
    "DETECTION_TRAINING",
    "REGRESSION_TRAINING",
    "FitResult",
    "TrainConfig",
    "bce_loss",
    "fit",
    "init_variables",
    "make_optimizer",
    "make_predict",
    "make_train_step",
    "mse_loss",
    "predict",
]

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class TrainConfig(JsonConfig):
    """Training settings (JSON round trip with ``to_json``/``from_json``).

    Arguments:
        epochs: passes over the training clips.
        batch_size: clips per step (16).
        learning_rate: initial rate (0.01).
        decay_rate: factor applied every ``decay_every`` epochs (0.9 = "decay of 10 %").
        decay_every: epochs between decays (10).
        optimizer: ``"adam"`` (detection) or ``"sgd"`` (regression).
        momentum: SGD momentum (0.98).
        seed: initialisation and shuffling seed.
    """

    epochs: int = 100
    batch_size: int = 16
    learning_rate: float = 0.01
    decay_rate: float = 0.9
    decay_every: int = 10
    optimizer: Literal["adam", "sgd"] = "sgd"
    momentum: float = 0.98
    seed: int = 0

    def __post_init__(self):
        if self.optimizer not in ("adam", "sgd"):
            raise ConfigError(f"TrainConfig.optimizer {self.optimizer!r} is unknown; use 'adam' or 'sgd'")
        if self.epochs < 1 or self.batch_size < 1 or self.decay_every < 1:
            raise ConfigError(f"TrainConfig epochs, batch_size and decay_every must be >= 1, got {self}")
        if not self.learning_rate > 0 or not 0 < self.decay_rate <= 1 or not 0 <= self.momentum < 1:
            raise ConfigError(f"TrainConfig needs learning_rate > 0, 0 < decay_rate <= 1, 0 <= momentum < 1; "
                              f"got {self}")
DETECTION_TRAINING = TrainConfig(epochs=150, optimizer="adam")
REGRESSION_TRAINING = TrainConfig(epochs=100, optimizer="sgd", momentum=0.98)


def bce_loss(logits: jax.Array, targets: jax.Array) -> jax.Array:
    """Per-pixel binary cross-entropy, averaged over pixels, maps, frames and clips."""
    return jnp.mean(optax.sigmoid_binary_cross_entropy(logits, targets))


def mse_loss(outputs: jax.Array, targets: jax.Array) -> jax.Array:
    """Mean squared error over pixels, maps, frames and clips."""
    return jnp.mean(jnp.square(outputs - targets))


_LOSSES = {"bce": bce_loss, "mse": mse_loss}


def make_optimizer(config: TrainConfig, steps_per_epoch: int) -> optax.GradientTransformation:
    """Adam or SGD+momentum with the staircase schedule lr * decay_rate ** floor(epoch / decay_every)."""
    schedule = optax.exponential_decay(config.learning_rate, transition_steps=config.decay_every * steps_per_epoch,
                                       decay_rate=config.decay_rate, staircase=True)
    if config.optimizer == "adam":
        return optax.adam(schedule)
    return optax.sgd(schedule, momentum=config.momentum)


def make_train_step(model: nn.Module, tx: optax.GradientTransformation, loss: str) -> Callable:
    """A jitted ``step(params, batch_stats, opt_state, x, y) -> (params, batch_stats, opt_state, loss)``."""
    loss_fn = _LOSSES[loss]

    def step(params, batch_stats, opt_state, x, y):
        def objective(p):
            out, updates = model.apply({"params": p, "batch_stats": batch_stats}, x, train=True,
                                       mutable=["batch_stats"])
            return loss_fn(out, y), updates["batch_stats"]

        (value, new_stats), grads = jax.value_and_grad(objective, has_aux=True)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), new_stats, opt_state, value

    return jax.jit(step, donate_argnums=(0, 1, 2))


def make_predict(model: nn.Module, output: Literal["logits", "sigmoid", "identity"] = "identity") -> Callable:
    """A jitted ``predict(variables, x)`` in inference mode (running BatchNorm statistics).

    Cached per (model, output) — Flax modules are hashable configurations — so that repeated predictions of one
    network (validation every epoch, training and test maps) compile once per input shape.
    """
    return _make_predict(model, "sigmoid" if output == "sigmoid" else "identity")


@functools.lru_cache(maxsize=32)
def _make_predict(model: nn.Module, output: str) -> Callable:

    def run(variables, x):
        out = model.apply(variables, x, train=False)
        return jax.nn.sigmoid(out) if output == "sigmoid" else out

    return jax.jit(run)


def predict(model: nn.Module, variables: dict, inputs: np.ndarray, batch_size: int = 16,
            output: Literal["logits", "sigmoid", "identity"] = "identity", fn: Callable | None = None) -> np.ndarray:
    """Model outputs for ``inputs`` (N, ...) in batches; ``output="sigmoid"`` turns logits into maps.

    ``fn`` (a ``make_predict`` function) must return the raw network output; by default the cached one.
    """
    # the sigmoid is applied here, so that one compiled network serves validation (logits) and maps
    fn = fn or make_predict(model, "identity")
    inputs = np.asarray(inputs, np.float32)
    batch_size = max(1, min(batch_size, len(inputs)))
    outs = []
    for i in range(0, len(inputs), batch_size):
        x = inputs[i:i + batch_size]
        n = len(x)
        if n < batch_size:  # pad the last batch: one compiled shape (inference mode, clips are independent)
            x = np.concatenate([x, np.zeros((batch_size - n, *x.shape[1:]), x.dtype)])
        outs.append(np.asarray(fn(variables, jnp.asarray(x)))[:n])
    out = np.concatenate(outs, axis=0)
    return scipy.special.expit(out).astype(np.float32) if output == "sigmoid" else out


@dataclasses.dataclass
class FitResult:
    """What ``fit`` returns.

    Attributes:
        variables: ``{"params", "batch_stats"}`` of the selected (best validation) epoch.
        history: per epoch ``{"epoch", "loss", "val_metric", "seconds"}``.
        best_epoch: 1-based epoch whose variables were kept.
        train_seconds: wall time of all epochs, compilation included.
        step_seconds: median wall time of one training step after the first (compiled) one.
        cpu_seconds: CPU time of this process over all epochs (all threads; compare it with ``train_seconds`` on
            a shared machine).
    """

    variables: dict
    history: list[dict] = dataclasses.field(default_factory=list)
    best_epoch: int = 0
    train_seconds: float = 0.0
    step_seconds: float = float("nan")
    cpu_seconds: float = 0.0


def _validation_metric(kind: str, outputs: np.ndarray, targets: np.ndarray) -> float:
    if kind == "accuracy":  # detection: pixel accuracy of the maps thresholded at 0.5 (logits at 0)
        return float(np.mean((outputs > 0) == (targets > 0.5)))
    return float(np.mean(np.abs(outputs - targets)))  # regression: mean absolute error


def fit(model: nn.Module, variables: dict, inputs: np.ndarray, targets: np.ndarray, config: TrainConfig,
        loss: Literal["bce", "mse"], validation: tuple[np.ndarray, np.ndarray] | None = None,
        select: Literal["accuracy", "mae", "last"] | None = None, progress: bool = True) -> FitResult:
    """Train ``model`` from ``variables`` on (inputs, targets) and keep the best validation epoch.

    Arguments:
        model: the detection or regression CNN.
        variables: initial ``{"params", "batch_stats"}``.
        inputs: (N, T, H, W, C) float32 clips (or clips stacked with detection maps).
        targets: (N, T, H, W, 20) maps (binary for ``"bce"``, Gaussian for ``"mse"``).
        config: training settings.
        loss: ``"bce"`` (detection) or ``"mse"`` (regression).
        validation: optional (inputs, targets) for model selection.
        select: ``"accuracy"`` (maximised) or ``"mae"`` (minimised), the paper's selection, default from ``loss``;
            or ``"last"``: keep the last epoch (the validation metric is still recorded, as the loss's default).
            In runs of a few dozen steps the MAE of sparse maps is lowest for the untrained all-zero output.
        progress: show a progress bar over epochs.
    Returns:
        FitResult.
    """
    if loss not in _LOSSES:
        raise ConfigError(f"loss {loss!r} is unknown; use 'bce' (detection) or 'mse' (regression)")
    select = select or ("accuracy" if loss == "bce" else "mae")
    if select not in ("accuracy", "mae", "last"):
        raise ConfigError(f"select {select!r} is unknown; use 'accuracy', 'mae' or 'last'")
    metric_kind = select if select != "last" else ("accuracy" if loss == "bce" else "mae")
    inputs = np.asarray(inputs, np.float32)
    targets = np.asarray(targets, np.float32)
    if inputs.shape[0] != targets.shape[0] or inputs.shape[:-1] != targets.shape[:-1]:
        raise DataError(f"inputs {inputs.shape} and targets {targets.shape} must agree on all axes but channels")
    if not (np.isfinite(inputs).all() and np.isfinite(targets).all()):
        raise DataError("training inputs or targets contain NaN/inf")
    n = inputs.shape[0]
    steps_per_epoch = -(-n // config.batch_size)
    tx = make_optimizer(config, steps_per_epoch)
    # copies: the jitted step donates its state buffers, the caller keeps theirs
    params = jax.tree.map(lambda a: jnp.array(a, copy=True), variables["params"])
    batch_stats = jax.tree.map(lambda a: jnp.array(a, copy=True), variables.get("batch_stats", {}))
    opt_state = tx.init(params)
    step = make_train_step(model, tx, loss)
    pred = make_predict(model) if validation is not None else None
    rng = np.random.default_rng(config.seed)
    result = FitResult(variables={"params": params, "batch_stats": batch_stats})
    best = None
    step_times = []
    start, cpu_start = time.perf_counter(), time.process_time()
    for epoch in tqdm(range(1, config.epochs + 1), desc=f"train {type(model).__name__}", disable=not progress,
                      leave=False):
        t0 = time.perf_counter()
        order = rng.permutation(n)
        losses = []
        for i in range(0, n, config.batch_size):
            idx = order[i:i + config.batch_size]
            s0 = time.perf_counter()
            params, batch_stats, opt_state, value = step(params, batch_stats, opt_state,
                                                         jnp.asarray(inputs[idx]), jnp.asarray(targets[idx]))
            value = float(value)  # blocks: the step is finished
            if len(idx) == config.batch_size:
                step_times.append(time.perf_counter() - s0)
            losses.append(value * len(idx))
        record = {"epoch": epoch, "loss": float(np.sum(losses) / n), "seconds": time.perf_counter() - t0}
        if not np.isfinite(record["loss"]):
            raise DataError(f"training diverged at epoch {epoch} (loss {record['loss']}); lower the learning rate")
        current = {"params": params, "batch_stats": batch_stats}
        if validation is not None:
            out = predict(model, current, validation[0], config.batch_size, fn=pred)
            metric = _validation_metric(metric_kind, out, np.asarray(validation[1]))
            record["val_metric"] = metric
            better = select == "last" or best is None or (metric > best if select == "accuracy" else metric < best)
        else:
            better = True
        if better:
            best = record.get("val_metric")
            # copy: the next step donates these buffers
            result.variables = jax.tree.map(lambda a: jnp.array(a, copy=True), current)
            result.best_epoch = epoch
        result.history.append(record)
        log.debug("epoch %d: %s", epoch, record)
    result.train_seconds = time.perf_counter() - start
    result.cpu_seconds = time.process_time() - cpu_start
    if len(step_times) > 1:
        result.step_seconds = float(np.median(step_times[1:]))
    return result


def init_variables(model: nn.Module, rng: jax.Array, sample: np.ndarray) -> dict[str, Any]:
    """``model.init`` on one sample batch (inference mode): ``{"params", "batch_stats"}``.

    Only the first clip of ``sample`` is used (the variables of these convolutional networks do not depend on
    the batch size). Jitted — one compilation instead of one per operation — with the sample as an argument (a
    closed-over constant would be constant-folded through every convolution by XLA, which takes minutes), and
    compiled with XLA's backend optimisation level 0: it runs once, and the compilation then takes ~40 % less CPU.
    """
    if any(isinstance(a, jax.core.Tracer) for a in (rng, sample)):  # inside a transformation (e.g. eval_shape)
        return dict(model.init(rng, jnp.asarray(sample, jnp.float32)[:1], train=False))
    x = jnp.asarray(np.asarray(sample, np.float32)[:1])
    lowered = jax.jit(lambda key, x: model.init(key, x, train=False)).lower(rng, x)
    try:
        compiled = lowered.compile({"xla_backend_optimization_level": 0})
    except Exception:  # noqa: BLE001 - an XLA without the option: the default compilation
        compiled = lowered.compile()
    return dict(compiled(rng, x))
