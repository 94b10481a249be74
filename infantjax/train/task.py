"""What a model family supplies to the training engine: the :class:`Task` interface.

A task splits a training problem into the part that is compiled (pure functions of one instance, which the engine
jits and vmaps over a stack of instances) and the part the host runs (batches of an epoch, evaluation inputs, the
scores of an evaluation). The engine (:func:`infantjax.train.fit`) owns everything else: the train state, the
optimizer and its schedule, the jitted and donated step, stacking, sharding and masking of instances, evaluation in
chunks, best-epoch selection, checkpoints and resume, TensorBoard scalars, the progress bar and host syncs.

Per-instance *data* is separate from the task: ``fit(task, [data_0, data_1, ...], seeds=[...])`` trains one
instance per data object (the folds of a cross-validation, the splits of a repeated hold-out) with one compiled
program, because the task (model and compiled configuration) is the same for all of them.

See ``docs/architecture.md`` for a 40-line toy task.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import numpy as np

from infantjax.errors import ConfigError, DataError
from infantjax.train.config import TrainConfig, compile_key

__all__ = ["Selection", "ShuffledBatches", "Task", "registered_tasks"]

_REGISTERED: list[type] = []


@dataclasses.dataclass(frozen=True)
class Selection:
    """Which epoch's variables a run keeps, and when an instance stops (early stopping, an engine feature).

    Attributes:
        metric: the evaluation metric (a key of :meth:`Task.score`'s result).
        mode: ``"max"`` or ``"min"``.
        best_name: the history key that carries the best value so far (default ``"best_" + metric``).
        start: epochs before selection and early stopping begin: until then every epoch is kept (the last one
            wins), afterwards only an epoch better than every later-than-``start`` epoch before it (seed 003: 250).
        patience: early stopping: an instance whose metric has not improved for this many epochs (after
            ``start``) stops — its kept epoch no longer changes, its history says ``stopped`` — and the run ends
            when every instance has stopped (Keras ``EarlyStopping``). None: no early stopping.
        restore: keep the best epoch (True) or the last one (False; early stopping still ends the run).

    The counters (best value and epoch, stopped) are per instance and part of the engine's checkpoint, so a run
    resumed after early stopping has started ends as the uninterrupted run does.
    """

    metric: str
    mode: str = "max"
    best_name: str | None = None
    start: int = 0
    patience: int | None = None
    restore: bool = True

    def __post_init__(self):
        if self.mode not in ("max", "min"):
            raise ConfigError(f"Selection.mode must be 'max' or 'min', got {self.mode!r}")
        if isinstance(self.start, bool) or not isinstance(self.start, int) or self.start < 0:
            raise ConfigError(f"Selection.start must be an integer >= 0, got {self.start!r}")
        if self.patience is not None and (isinstance(self.patience, bool) or not isinstance(self.patience, int)
                                          or self.patience < 1):
            raise ConfigError(f"Selection.patience must be a positive integer or None, got {self.patience!r}")

    @property
    def key(self) -> str:
        return self.best_name or f"best_{self.metric}"

    def better(self, value: float, best: float | None) -> bool:
        if best is None:
            return True
        return value > best if self.mode == "max" else value < best

    def update(self, epoch: int, value: float, state: dict) -> bool:
        """One instance's epoch: update its counters ``state`` (``best``, ``best_epoch``, ``stopped``, plus
        ``kept`` — the epoch whose variables it keeps) and say whether this epoch's variables are kept now.

        Arguments:
            epoch: the epoch (1-based).
            value: its metric.
            state: the instance's counters (changed in place; JSON-serialisable, saved in the checkpoint).

        Returns:
            True when the run keeps this epoch's variables for the instance.
        """
        if epoch <= self.start:
            state["kept"] = epoch
            return True
        if state.get("stopped"):
            return False
        improved = self.better(value, state.get("best"))
        if improved:
            state["best"], state["best_epoch"] = float(value), epoch
        elif self.patience is not None and epoch - state["best_epoch"] >= self.patience:
            state["stopped"] = True
        if improved and self.restore or not self.restore:
            state["kept"] = epoch
            return True
        return False


class Task(abc.ABC):
    """A model family's training problem. Subclasses set ``config`` (a :class:`TrainConfig` subclass) and ``model``.

    Compiled methods (:meth:`init`, :meth:`loss`, :meth:`predict`, :meth:`eval_variables`) see one instance; they
    must read only the compiled fields of ``config`` (never :func:`~infantjax.train.config.host_field` ones), since
    programs are shared between tasks with the same :meth:`compile_key`.
    """

    config: TrainConfig
    model: Any
    #: How one CPU device runs the stacked instances of a training step: ``"vmap"`` (all at once) or ``"map"`` (one
    #: after another inside the step, ``lax.map``, as :meth:`~infantjax.train.engine.Programs.grouped_train_step`).
    #: A task whose vmapped step XLA:CPU runs slower than its instances in sequence sets ``"map"``; meshes that
    #: spread instances over devices and accelerators always vmap.
    cpu_instances: str = "vmap"

    # ------------------------------------------------------------------ compiled (one instance, traced)
    @abc.abstractmethod
    def init(self, key: jax.Array) -> dict:
        """Flax variables of one instance at step 0 (``{"params", ...}``)."""

    @abc.abstractmethod
    def loss(self, variables: dict, batch: Any, key: jax.Array, step: jax.Array
             ) -> tuple[jax.Array, dict, dict]:
        """The training loss of one batch.

        Arguments:
            variables: ``{"params", **collections}`` (the engine differentiates with respect to ``params``).
            batch: one instance's batch (a pytree of arrays whose leading axis is the batch).
            key: this step's PRNG key (``fold_in(rng, step)``).
            step: the instance's step counter (for schedules inside the loss).

        Returns:
            (scalar loss, updated mutable collections e.g. ``{"batch_stats": ...}``, scalar metrics to log).
        """

    def predict(self, variables: dict, inputs: Any) -> Any:
        """Evaluation outputs for a chunk of evaluation inputs (inference mode)."""
        raise NotImplementedError(f"{type(self).__name__} has no evaluation")

    def eval_variables(self, variables: dict, step: jax.Array) -> dict:
        """The variables used for evaluation and kept as a result (default: the variables themselves)."""
        return variables

    def param_labels(self, params: Any) -> Any | None:
        """A pytree of ``"train"``/``"frozen"`` labels over ``params`` (frozen parameters get zero updates and no
        optimizer state), or None when everything trains."""
        return None

    # ------------------------------------------------------------------ host
    @abc.abstractmethod
    def epoch_batches(self, data: Any, epoch: int, rng) -> Sequence:
        """The batches of one epoch for one instance: a sequence (``len`` and indexing, built lazily) of host
        pytrees with identical shapes. ``rng`` is ``numpy.random.default_rng([seed, epoch])``, so an epoch's
        batches depend on the seed and the epoch only (resume is exact)."""

    def steps_per_epoch(self, data: Any) -> int:
        """Nominal steps per epoch (what the learning-rate schedules count epochs in)."""
        return len(self.epoch_batches(data, 1, np.random.default_rng(0)))

    def eval_inputs(self, data: Any) -> Any | None:
        """Evaluation inputs of one instance: a pytree of arrays with a leading example axis, or None."""
        return None

    def score(self, data: Any, outputs: Any) -> dict[str, float]:
        """Host-side metrics of one evaluation (``outputs``: :meth:`predict` over all of :meth:`eval_inputs`)."""
        return {}

    def selection(self) -> Selection | None:
        """The epoch a run keeps; None keeps the last epoch."""
        return None

    def check_data(self, data: Any) -> None:
        """Raise a typed error when ``data`` cannot be trained on (called once per instance before training)."""

    # ------------------------------------------------------------------ the contract
    @classmethod
    def example(cls, seed: int = 0) -> tuple[Task, list]:
        """A small task of this kind and the data of two instances, seeded: what the task contract checks every
        registered task with (``tests/test_task_contract.py``: exact resume, also after early stopping started;
        an instance stacked equals it alone; deterministic ``epoch_batches``; ``compile_key`` ignores host-only
        fields). A task class that defines ``example`` is registered (:func:`registered_tasks`); its config
        should evaluate, and, when its selection stops early, stop within a few epochs.

        Returns:
            (task, [data of instance 0, data of instance 1]).
        """
        raise NotImplementedError(f"{cls.__name__} defines no example()")

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "example" in cls.__dict__ and cls not in _REGISTERED:
            _REGISTERED.append(cls)

    # ------------------------------------------------------------------ identity
    def compile_key(self) -> tuple:
        """What the compiled programs depend on: the task type, the model and the compiled config fields."""
        return (type(self), self.model, compile_key(self.config))

    # tasks are equal when they compile the same programs (so caches of compiled functions can key on them)
    def __eq__(self, other) -> bool:
        return type(self) is type(other) and self.compile_key() == other.compile_key()

    def __hash__(self) -> int:
        return hash(self.compile_key())


def registered_tasks() -> tuple[type, ...]:
    """The task classes that define :meth:`Task.example` (those whose modules have been imported: a family's task
    when its training module, :attr:`~infantjax.infer.trained.TrainedModel.training_module`, is imported; importing
    :mod:`infantjax.train` imports every task of the package), in definition order."""
    return tuple(_REGISTERED)


def _argument(task: str, value, kind: type, default=None, article: str = "a", hint: str = ""):
    """A task's ``spec`` or ``config`` argument: ``value``, or ``default`` (``kind()`` when None) when it is None;
    a ConfigError (``"<task> needs a <kind>, got <type>"``, then ``hint``) when it is not a ``kind``."""
    if value is None:
        value = kind() if default is None else default
    if not isinstance(value, kind):
        raise ConfigError(f"{task} needs {article} {kind.__name__}, got {type(value).__name__}{hint}")
    return value


class ShuffledBatches(Sequence):
    """The batches of one epoch: a permutation of the examples cut into full batches (what
    :meth:`Task.epoch_batches` returns for tasks whose batch is a plain selection of examples).

    ``batches[s]`` is ``{name: array[order[s * size:(s + 1) * size]] for name, array in arrays.items()}``; the
    last, partial batch of the permutation is dropped (every batch has ``size`` examples, so the compiled step sees
    one shape), and ``batches[len(batches)]`` raises IndexError (so iteration stops). Batches are cut on demand.

        rng = np.random.default_rng([seed, epoch])
        batches = ShuffledBatches({"x": windows, "y": scores}, rng.permutation(len(scores)), 32)
        len(batches), batches[0]["x"].shape                             # N // 32, (32, ...)

    Arguments:
        arrays: named arrays whose leading axis is the example (all indexed by the same permutation).
        order: the epoch's order of examples, a 1-D integer array (``rng.permutation(n)``).
        size: examples per batch (a positive integer).
    """

    def __init__(self, arrays: Mapping[str, np.ndarray], order: np.ndarray, size: int):
        order = np.asarray(order)
        if order.ndim != 1 or not (order.size == 0 or np.issubdtype(order.dtype, np.integer)):
            raise DataError(f"ShuffledBatches needs a 1-D integer order (rng.permutation(n)), got {order.shape} "
                            f"{order.dtype}")
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
            raise ConfigError(f"ShuffledBatches needs a positive integer batch size, got {size!r}")
        self.arrays, self.order, self.size = dict(arrays), order, int(size)

    def __len__(self) -> int:
        return len(self.order) // self.size

    def __getitem__(self, s: int) -> dict:
        if not 0 <= s < len(self):
            raise IndexError(s)
        idx = self.order[s * self.size:(s + 1) * self.size]
        return {name: array[idx] for name, array in self.arrays.items()}
