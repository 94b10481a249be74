"""The training engine: one jitted, donated, vmapped step trains a stack of instances of any :class:`Task`.

:func:`fit` trains I instances of one task at once, instance i on ``data[i]`` with seed ``seeds[i]``: every leaf of
the train state has a leading instance axis, each instance draws its own batches with its own RNG and keeps its own
BatchNorm statistics. Instances with fewer batches in an epoch (and the padding instances that make the count divide
the mesh) are masked: the step leaves their state unchanged.

Per epoch: the task's batches, one step each (the host builds the next batch while the device runs the last, and
waits for the device only every ``sync_every`` steps); then, when the task has evaluation inputs, the evaluation in
chunks, the task's scores and best-epoch selection. With a checkpoint directory every epoch is checkpointed (Orbax)
and a run resumes from the newest checkpoint (resume order: existing checkpoint > initial variables > init); the
result equals the uninterrupted run's. After its compiles and around each evaluation the host's freed memory is given
back to the operating system (:func:`infantjax.parallel.release_freed_memory`; docs/performance.md, "Memory").
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import gc
import logging
import math
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from tqdm.auto import tqdm

from infantjax import backend, parallel
from infantjax.errors import ConfigError, DataError
from infantjax.infer.predict import (  # noqa: F401 - apply_in_batches re-exported
    apply_in_batches,
    example_template,
    per_instance_calls,
    stack_instances,
)
from infantjax.nn.rows import stacked_training
from infantjax.train.checkpoint import RunCheckpointer
from infantjax.train.logging import ScalarLogger
from infantjax.train.optim import learning_rate_schedule, make_optimizer
from infantjax.train.state import TrainState
from infantjax.train.task import Task

__all__ = ["FitResult", "Hook", "HookContext", "Programs", "RunState", "apply_in_batches", "drop_programs", "fit",
           "precompile", "programs_for", "stack_instances", "train_step_within_budget"]

log = logging.getLogger(__name__)


# ------------------------------------------------------------------------------------------------------ programs
def _where(mask, new, old):
    """Per instance: ``new`` where ``mask`` else ``old`` (leading instance axis on every leaf)."""
    def one(n, o):
        return jnp.where(mask.reshape((-1,) + (1,) * (n.ndim - 1)), n, o)
    return jax.tree_util.tree_map(one, new, old)


class Programs:
    """The jitted, vmapped functions of one task (its compiled parts), schedule horizon and mesh.

    Arguments:
        task: the task (only its compiled parts are used: ``compile_key`` is the cache key).
        steps_per_epoch: steps per epoch, for the learning-rate schedule.
        mesh: a mesh with axes ``("instance", "data")`` (see :func:`infantjax.parallel.instance_mesh`).
    """

    def __init__(self, task: Task, steps_per_epoch: int, mesh):
        self.task, self.mesh = task, mesh
        self.eval_chunks: dict = {}  # measured chunk and group sizes (_eval_chunk, train_step_within_budget)
        base = make_optimizer(task.config, steps_per_epoch)
        if task.param_labels(jax.eval_shape(task.init, jax.random.PRNGKey(0))["params"]) is None:
            self.tx = base
        else:  # frozen parameters: zero updates and no optimizer state
            self.tx = optax.multi_transform({"train": base, "frozen": optax.set_to_zero()}, task.param_labels)
        inst = parallel.instance_sharding(mesh)
        batch = parallel.batch_sharding(mesh)

        # each device runs its own instances (parallel.per_instance): independent instances never exchange data
        own = functools.partial(parallel.per_instance, mesh=mesh)
        self.init = jax.jit(own(jax.vmap(self._init), in_axes=(0,)), in_shardings=(inst,), out_shardings=inst)
        self.init_from = jax.jit(own(jax.vmap(self._init_from, in_axes=(0, None)), in_axes=(0, None)),
                                 in_shardings=(inst, None), out_shardings=inst)
        self._shardings = (inst, batch)
        self._grouped: dict[int, Callable] = {}
        self.budgeted_steps: dict = {}  # the compiled step train_step_within_budget measured and chose, per key
        self.train_step = self.step_program()
        self.predict = jax.jit(own(jax.vmap(task.predict), in_axes=(0, 0)), in_shardings=(inst, batch),
                               out_shardings=batch)
        self.variables = jax.jit(own(jax.vmap(lambda st: task.eval_variables(st.variables, st.step)),
                                     in_axes=(0,)), in_shardings=(inst,), out_shardings=inst)
        self.copy = jax.jit(lambda tree: jax.tree_util.tree_map(jnp.copy, tree), in_shardings=(inst,),
                            out_shardings=inst)
        self.select = jax.jit(_where, in_shardings=(inst, inst, inst), out_shardings=inst, donate_argnums=(2,))

    def grouped_train_step(self, group: int) -> Callable:
        """The training step running the instances in sequential groups of ``group`` (``jax.lax.map`` with a
        batch size) inside one program: the memory of ``group`` instances, the same updates as the vmapped step."""
        if group not in self._grouped:
            self._grouped[group] = self.step_program(group)
        return self._grouped[group]

    def step_program(self, group: int | None = None) -> Callable:
        """A new jitted training step: the instances vmapped (``group=None``, :attr:`train_step`) or in sequential
        groups of ``group`` (:meth:`grouped_train_step`). Each call makes a new function, so JAX's caches keep its
        compiled executable only as long as the returned function lives: the budget's measurements compile
        programs that may never run, and drop them (:func:`train_step_within_budget`)."""
        inst, batch = self._shardings
        if group is None:
            @functools.wraps(self._train_step)  # the program keeps its name, jit(_train_step)
            def step(state, batch_, active):
                # two or more instances vmapped on this device: the GPU policy's grouped reductions (nn.rows)
                with stacked_training(np.shape(active)[0]):
                    return jax.vmap(self._train_step)(state, batch_, active)
        else:
            def step(state, batch_, active):
                with stacked_training(min(group, np.shape(active)[0])):
                    return jax.lax.map(lambda args: self._train_step(*args), (state, batch_, active),
                                       batch_size=group)

        step = parallel.per_instance(step, self.mesh, in_axes=(0, 0, 0))
        return jax.jit(step, in_shardings=(inst, batch, inst), out_shardings=(inst, inst, inst), donate_argnums=(0,))

    def _state(self, train_key, variables) -> TrainState:
        params = variables["params"]
        collections = {k: v for k, v in variables.items() if k != "params"}
        return TrainState(params=params, collections=collections, opt_state=self.tx.init(params),
                          step=jnp.zeros((), jnp.int32), rng=train_key)

    def _init(self, key) -> TrainState:
        init_key, train_key = jax.random.split(key)
        return self._state(train_key, self.task.init(init_key))

    def _init_from(self, key, variables) -> TrainState:
        _, train_key = jax.random.split(key)
        return self._state(train_key, jax.tree_util.tree_map(jnp.asarray, variables))

    def _train_step(self, state: TrainState, batch, active):
        key = jax.random.fold_in(state.rng, state.step)  # the step's key: resumable, never reused (big_vision)

        def objective(params):
            loss, updates, metrics = self.task.loss({**state.collections, "params": params}, batch, key, state.step)
            return loss, (updates, metrics)

        (loss, (updates, metrics)), grads = jax.value_and_grad(objective, has_aux=True)(state.params)
        updates_p, opt_state = self.tx.update(grads, state.opt_state, state.params)
        params = jax.tree_util.tree_map(lambda p, u: p + u, state.params, updates_p)
        new = state.replace(params=params, collections={**state.collections, **updates}, opt_state=opt_state,
                            step=state.step + 1)
        # masked instances (out of batches this epoch, or padding) keep their state unchanged
        new = jax.tree_util.tree_map(lambda n, o: jnp.where(active, n, o), new, state)
        metrics = {k: jnp.where(active, v, 0.0) for k, v in metrics.items()}
        return new, jnp.where(active, loss, 0.0), metrics


_CACHE: collections.OrderedDict = collections.OrderedDict()
CACHE_SIZE = 16  # compiled program sets kept (the least recently used beyond this are dropped)


def programs_for(task: Task, steps_per_epoch: int, mesh) -> Programs:
    """Cached :class:`Programs` (the 16 most recently used), keyed on what they compile: the task's
    :meth:`~Task.compile_key`, the schedule's horizon (only for non-constant schedules), the mesh and the backend
    policy (:func:`infantjax.backend.current`: its forms and compute dtype). Folds, NAS trials and repeated runs of
    one architecture compile once."""
    horizon = None if task.config.schedule == "constant" else (int(steps_per_epoch), int(task.config.epochs))
    key = (task.compile_key(), horizon, mesh, backend.current())  # the policy: forms and compute dtype
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    programs = _CACHE[key] = Programs(task, int(steps_per_epoch), mesh)
    while len(_CACHE) > CACHE_SIZE:
        _CACHE.popitem(last=False)
    return programs


def drop_programs(task: Task) -> int:
    """Drop the cached program sets of ``task``'s architecture (its :meth:`~Task.compile_key`, every horizon,
    mesh and policy), so that the host memory their executables hold can be freed; the next :func:`fit` of it
    compiles again. For a run that trains one architecture after another (``protocols.cp.train``) and will not
    come back to this one. Returns how many sets were dropped."""
    compile_key = task.compile_key()
    keys = [k for k in _CACHE if k[0] == compile_key]
    for k in keys:
        del _CACHE[k]
    if keys:
        gc.collect()  # a program set refers to itself (its jitted bound methods): freed by the collector only
        parallel.release_freed_memory()
    return len(keys)


# ------------------------------------------------------------------------------------------------------ host helpers
def _num_examples(tree) -> int:
    return int(np.shape(jax.tree_util.tree_leaves(tree)[0])[0])


def train_step_within_budget(programs: Programs, state, batch, active, config) -> Callable:
    """The vmapped training step, or, on a single device where XLA's memory analysis of it exceeds the config's
    memory budget, the step over sequential groups of instances that fits (measured once per program set)."""
    instances = int(np.shape(active)[0])
    if programs.mesh.shape[parallel.INSTANCE] != 1 or instances == 1:
        return programs.train_step  # sharded instances: each device holds its share already
    if programs.task.cpu_instances == "map" and backend.instances(programs.mesh) == "map":
        return programs.grouped_train_step(1)  # faster than the vmap for this task on XLA:CPU (Task.cpu_instances)
    budget = parallel.memory_budget(config.memory_budget)
    shapes = tuple((np.shape(a), str(a.dtype)) for a in jax.tree_util.tree_leaves(batch))
    key = ("train", shapes, budget)
    if key not in programs.eval_chunks:
        # Each candidate is compiled as a program of its own (Programs.step_program) and measured; the one chosen
        # is kept and runs (compiled once), the others are dropped with their executables: a vmapped step that
        # does not fit is never run, and kept for the process's life it held 0.6-0.8 GB of host memory (Table A.4
        # #2's 7 folds, docs/performance.md, "Memory").
        measured: dict[int, Any] = {}

        def measure(group: int) -> int:
            measured.clear()  # only the latest candidate is alive: budgeted_chunk returns it or a smaller one
            measured[group] = programs.step_program(None if group >= instances else group).lower(
                state, batch, active).compile()
            return parallel.compiled_bytes(measured[group])

        need = measure(instances)
        group = instances
        if need > budget:
            group = parallel.budgeted_chunk(measure, max(1, min(instances - 1, int(instances * budget / need))),
                                            budget=budget)
            log.info("training step of %d instances needs %.2f GB (budget %.2f GB): running them in groups of %d",
                     instances, need / 1e9, budget / 1e9, group)
        programs.eval_chunks[key] = group
        if group in measured:
            programs.budgeted_steps[key] = measured.pop(group)
        measured.clear()
        parallel.release_freed_memory()
    group = programs.eval_chunks[key]
    if key in programs.budgeted_steps:
        return programs.budgeted_steps[key]
    return programs.train_step if group >= instances else programs.grouped_train_step(group)


def _eval_chunk(programs: Programs, variables, inputs: Sequence[Any], n_pad: int, chunk: int, multiple: int,
                config) -> int:
    """Examples per evaluation call: at most ``chunk`` and the largest evaluation set (rounded to ``multiple``),
    halved until XLA's memory analysis of the compiled evaluation program fits the config's memory budget."""
    largest = max(_num_examples(x) for x in inputs)
    chunk = min(chunk, -(-max(largest, 1) // multiple) * multiple)
    template = inputs[0]

    def measure(c: int) -> int:
        struct = jax.tree_util.tree_map(
            lambda a: jax.ShapeDtypeStruct((n_pad, c) + np.shape(a)[1:], np.asarray(a).dtype), template)
        return parallel.program_bytes(programs.predict, variables, struct)

    budget = parallel.memory_budget(config.memory_budget)
    shapes = tuple((np.shape(a)[1:], str(np.asarray(a).dtype)) for a in jax.tree_util.tree_leaves(template))
    key = (chunk, multiple, n_pad, shapes, budget)
    if key not in programs.eval_chunks:
        programs.eval_chunks[key] = parallel.budgeted_chunk(measure, chunk, multiple=multiple, budget=budget)
    fitted = programs.eval_chunks[key]
    if fitted < chunk:
        log.info("evaluation chunk lowered from %d to %d examples to fit a memory budget of %.2f GB",
                 chunk, fitted, budget / 1e9)
    return fitted


def _evaluate(programs: Programs, variables, inputs: Sequence[Any], n_pad: int, chunk: int) -> list[Any]:
    """Outputs of :meth:`Task.predict` for every instance's evaluation inputs, in chunks of ``chunk`` examples:
    the stacked inference's pad-stack-keep loop (:func:`~infantjax.infer.predict.per_instance_calls`) over the
    engine's own vmapped evaluation program and its fixed-size chunks (one compiled shape per run)."""
    sizes = [_num_examples(x) for x in inputs]
    largest = max(sizes)
    sharding = parallel.batch_sharding(programs.mesh)

    def run(size: int, stacked):
        return parallel.to_host(programs.predict(variables, parallel.to_global(stacked, sharding)))

    calls = [(lo, chunk) for lo in range(0, largest, chunk)]
    return per_instance_calls(run, inputs, calls, n_pad, example_template(inputs[sizes.index(largest)]), sizes)


@dataclasses.dataclass
class HookContext:
    """What a step hook sees: the step count, the losses so far and (on request) the current variables.

    Attributes:
        step: training steps taken by the run so far (steps of the longest instance).
        epoch: the current epoch (1-based).
        losses: (steps, I) training loss of every step so far.
    """

    step: int
    epoch: int
    losses: np.ndarray
    _variables: Callable[[], Any]

    def variables(self, instance: int | None = 0):
        """The current (evaluation-view) variables on the host: of one instance, or stacked with ``None``."""
        tree = self._variables()
        return tree if instance is None else jax.tree_util.tree_map(lambda x: x[instance], tree)


@dataclasses.dataclass(frozen=True)
class Hook:
    """Call ``fn(HookContext)`` every ``every`` training steps (the host syncs with the device there)."""

    every: int
    fn: Callable[[HookContext], None]

    def __post_init__(self):
        if isinstance(self.every, bool) or not isinstance(self.every, int) or self.every < 1:
            raise ConfigError(f"Hook.every must be a positive integer, got {self.every!r}")


@dataclasses.dataclass
class FitResult:
    """Result of :func:`fit`.

    Attributes:
        variables: the kept variables of every instance, stacked on a leading axis (host numpy): the best epoch by
            the task's selection, or the last epoch.
        best_score: (I,) the selection metric of the kept epoch (NaN without a selection).
        best_epoch: (I,) the kept epoch (1-based).
        history: per instance, a list of per-epoch metric dicts.
        step_losses: (steps, I) the training loss of every step.
        stopped_early: whether ``on_epoch`` or early stopping (every instance stopped,
            :attr:`~infantjax.train.task.Selection.patience`) ended the run before its last epoch.
        train_seconds: wall time of the epochs run by this call (compilation included).
        cpu_seconds: CPU time of this process over those epochs (all threads).
        step_seconds: median wall time of one training step, measured between host syncs after the first.
    """

    variables: Any
    best_score: list[float]
    best_epoch: list[int]
    history: list[list[dict]]
    step_losses: np.ndarray
    stopped_early: bool = False
    train_seconds: float = 0.0
    cpu_seconds: float = 0.0
    step_seconds: float = float("nan")

    @property
    def num_instances(self) -> int:
        return len(self.best_epoch)

    def instance(self, i: int = 0) -> Any:
        """The kept variables of instance ``i`` (no leading axis)."""
        return jax.tree_util.tree_map(lambda x: x[i], self.variables)


# ------------------------------------------------------------------------------------------------------ fit
def precompile(task: Task, data: Sequence[Any], *, mesh=None) -> dict[str, float]:
    """Compile the programs :func:`fit` of ``task`` on ``data`` (one element per instance) will run, without running
    any: its initialisation, training step, evaluation (at the chunk :func:`fit` picks) and the small programs
    around them, each lowered from the shapes ``fit`` gives it and compiled ahead of time. They land in the cached
    program set (:func:`programs_for`) under the same key, so a :func:`fit` that follows in this process finds them
    compiled. Thread-safe: a NAS worker compiles the next trial's programs in a thread while the current trial trains
    (:class:`infantjax.nas.Worker`, ``prefetch``), so that on an accelerator the compile, which runs on the host, is
    hidden behind the training, which runs on the device.

    Arguments:
        task: the training problem.
        data: per instance, the task's data object (only its shapes are used: the first batch of epoch 1 and the
            evaluation inputs).
        mesh: the mesh :func:`fit` will be given (default, as there: every device).

    Returns:
        seconds of compiling, per program (``init``, ``variables``, ``evaluation``, ``train_step``, ``copy``,
        ``select``), and ``total``.
    """
    data = list(data)
    n = len(data)
    if n == 0:
        raise ConfigError("precompile: no data; give one data object per instance")
    config = task.config
    mesh = mesh if mesh is not None else parallel.instance_mesh(n, batch_size=config.batch_size)
    data_axis = mesh.shape[parallel.DATA]
    n_pad = parallel.padded_size(n, mesh)
    chunk = math.ceil(config.eval_batch_size / data_axis) * data_axis
    programs = programs_for(task, max(task.steps_per_epoch(d) for d in data), mesh)
    times: dict[str, float] = {}

    def compiled(name: str, fn, *args):
        start = time.perf_counter()
        fn.lower(*args).compile()
        times[name] = times.get(name, 0.0) + time.perf_counter() - start

    keys = jax.ShapeDtypeStruct((n_pad, 2), jnp.uint32)
    compiled("init", programs.init, keys)
    state = jax.eval_shape(programs.init, keys)
    compiled("variables", programs.variables, state)
    variables = jax.eval_shape(programs.variables, state)
    eval_inputs = [task.eval_inputs(d) for d in data]
    if all(x is not None for x in eval_inputs):
        start = time.perf_counter()
        chunk = _eval_chunk(programs, variables, eval_inputs, n_pad, chunk, data_axis, config)
        times["evaluation"] = time.perf_counter() - start  # the chunk's measurement compiles the program
        template = eval_inputs[0]
        struct = jax.tree_util.tree_map(
            lambda a: jax.ShapeDtypeStruct((n_pad, chunk) + np.shape(a)[1:], np.asarray(a).dtype), template)
        compiled("evaluation", programs.predict, variables, struct)
    first = task.epoch_batches(data[0], 1, np.random.default_rng([0, 1]))[0]
    batch = jax.tree_util.tree_map(lambda a: jax.ShapeDtypeStruct((n_pad,) + np.shape(a), np.asarray(a).dtype),
                                   first)
    active = jax.ShapeDtypeStruct((n_pad,), np.bool_)
    start = time.perf_counter()
    step = train_step_within_budget(programs, state, batch, active, config)
    if hasattr(step, "lower"):  # a step the memory budget measured comes compiled already
        step.lower(state, batch, active).compile()
    times["train_step"] = time.perf_counter() - start
    inst = parallel.instance_sharding(mesh)
    placed = jax.tree_util.tree_map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=inst), variables)
    compiled("copy", programs.copy, placed)
    compiled("select", programs.select, jax.ShapeDtypeStruct((n_pad,), np.bool_, sharding=inst), placed, placed)
    times["total"] = sum(times.values())
    return times


@dataclasses.dataclass
class RunState:
    """What a :func:`fit` run has done so far: the epoch and step reached, and per instance its metric history, the
    kept epoch and its metric, and the selection's counters (early stopping). Saved with every checkpoint as its
    metadata (:meth:`to_meta`, the same JSON keys as before this class) and restored from it (:meth:`from_meta`),
    so an interrupted run resumes exactly.

    Attributes:
        seeds: per instance, its seed (a checkpoint of other seeds is refused).
        epoch, steps: the last finished epoch and the training steps taken.
        history: per instance, one metrics dict per epoch.
        best, best_epoch: per instance, the kept epoch's metric (None until one) and that epoch.
        selection: per instance, :class:`~infantjax.train.task.Selection`'s counters.
        stopped: the run stopped early (pruning or every instance's patience spent).
        step_losses: per step, every instance's training loss.
    """

    seeds: list[int]
    epoch: int = 0
    steps: int = 0
    history: list[list[dict]] = dataclasses.field(default_factory=list)
    best: list[float | None] = dataclasses.field(default_factory=list)
    best_epoch: list[int] = dataclasses.field(default_factory=list)
    selection: list[dict] = dataclasses.field(default_factory=list)
    stopped: bool = False
    step_losses: list[np.ndarray] = dataclasses.field(default_factory=list)

    @classmethod
    def new(cls, seeds: Sequence[int]) -> RunState:
        n = len(seeds)
        return cls([int(s) for s in seeds], history=[[] for _ in range(n)], best=[None] * n, best_epoch=[0] * n,
                   selection=[{} for _ in range(n)])

    @classmethod
    def from_meta(cls, meta: dict) -> RunState:
        """The state of a checkpoint's metadata (one written before early stopping was an engine feature has no
        selection counters: they are made from its kept epochs)."""
        selection = meta.get("selection")
        if selection is None:
            selection = [{"best": b, "best_epoch": e, "kept": e} for b, e in zip(meta["best"], meta["best_epoch"])]
        return cls(list(meta.get("seeds") or []), int(meta["epoch"]), int(meta["steps"]), meta["history"],
                   list(meta["best"]), list(meta["best_epoch"]), selection, bool(meta["stopped"]),
                   [np.asarray(x, np.float32) for x in meta.get("step_losses", [])])

    def to_meta(self) -> dict:
        """The checkpoint's metadata (JSON)."""
        return {"epoch": self.epoch, "steps": self.steps, "history": self.history, "best": self.best,
                "best_epoch": self.best_epoch, "selection": self.selection, "stopped": self.stopped,
                "seeds": self.seeds, "step_losses": [np.asarray(x).tolist() for x in self.step_losses]}

    def record_epoch(self, epoch: int, train_loss: np.ndarray, epoch_metrics: list[dict], steps: Sequence[int],
                     scores: list[dict], selection, evaluates: bool, lr: float) -> tuple[list[dict], np.ndarray]:
        """Record a finished epoch: per instance its metrics (training loss and metrics, the task's scores, the
        selection's best so far, the kept epoch, learning rate, steps) appended to its history, and whether this
        epoch is kept (the selection's metric improved; every epoch without a selection or evaluation).

        Returns:
            the epoch's metrics per instance, and the (instances,) mask of those whose kept variables change.
        """
        n = len(self.history)
        improved = np.zeros(n, bool)
        metrics_list = []
        for i in range(n):
            m = {"epoch": epoch, "train_loss": float(train_loss[i])}
            for name in (epoch_metrics[0] if epoch_metrics else {}):
                m[f"train_{name}"] = float(np.sum([e[name][i] for e in epoch_metrics]) / steps[i])
            m.update(scores[i])
            if selection is not None and evaluates:
                value = float(scores[i][selection.metric])
                counters = self.selection[i]
                if selection.update(epoch, value, counters):
                    self.best[i], self.best_epoch[i] = value, epoch
                    improved[i] = True
                m[selection.key] = counters.get("best")
                if selection.patience is not None:
                    m["stopped"] = float(bool(counters.get("stopped")))
            else:
                self.best_epoch[i] = epoch
                improved[i] = True
            m.update({"best_epoch": self.best_epoch[i], "learning_rate": lr, "steps": int(steps[i])})
            metrics_list.append(m)
            self.history[i].append(m)
        self.epoch = epoch
        return metrics_list, improved

    def result(self, variables, started: float, cpu_started: float, timings: list[float]) -> FitResult:
        """The run's :class:`FitResult` with the kept ``variables`` (host copies)."""
        n = len(self.history)
        best_score = [float("nan") if b is None else float(b) for b in self.best]
        losses = np.asarray(self.step_losses, np.float32).reshape(-1, n)
        return FitResult(variables, best_score, list(self.best_epoch), self.history, losses, bool(self.stopped),
                         time.perf_counter() - started, time.process_time() - cpu_started,
                         float(np.median(timings[1:])) if len(timings) > 1 else float("nan"))


def fit(task: Task, data: Sequence[Any], *, seeds: Sequence[int], initial: Any = None, mesh=None,
        checkpoint_dir: str | os.PathLike | None = None, log_dir: str | os.PathLike | None = None,
        on_epoch: Callable[[int, list[dict]], bool | None] | None = None, hooks: Sequence[Hook] = (),
        desc: str | None = None) -> FitResult:
    """Train one instance of ``task`` per ``data`` element, all in one jitted, vmapped program.

    Arguments:
        task: the training problem (model, loss, batches, evaluation; :class:`~infantjax.train.task.Task`).
        data: per instance, the task's data object (e.g. one fold's training and validation sets).
        seeds: per instance, the seed of its initialisation, batches and augmentation.
        initial: start from these variables instead of ``task.init`` (one instance's, shared by all instances).
        mesh: a ``("instance", "data")`` mesh; default all devices (:func:`infantjax.parallel.instance_mesh`).
        checkpoint_dir: checkpoint every epoch here and resume from the newest checkpoint.
        log_dir: TensorBoard directory (default ``checkpoint_dir/tensorboard`` when checkpointing).
        on_epoch: ``on_epoch(epoch, [metrics of instance i])`` after each epoch; True stops the run (pruning).
        hooks: :class:`Hook` s called every N steps (e.g. validation during a long epoch).
        desc: label of the progress bar.

    Returns:
        a :class:`FitResult`.

    Raises:
        ConfigError: no data, seeds that do not match, a batch size the mesh cannot split, a checkpoint of other
            seeds. DataError: an epoch without a batch, or a diverged loss.
    """
    data = list(data)
    n = len(data)
    if n == 0 or len(seeds) != n:
        raise ConfigError(f"fit: {n} data sets but {len(seeds)} seeds; give one seed per instance")
    seeds = [int(s) for s in seeds]
    config = task.config
    for d in data:
        task.check_data(d)
    mesh = mesh if mesh is not None else parallel.instance_mesh(n, batch_size=config.batch_size)
    data_axis = mesh.shape[parallel.DATA]
    n_pad = parallel.padded_size(n, mesh)
    chunk = math.ceil(config.eval_batch_size / data_axis) * data_axis
    steps_per_epoch = max(task.steps_per_epoch(d) for d in data)
    programs = programs_for(task, steps_per_epoch, mesh)
    inst = parallel.instance_sharding(mesh)
    schedule = learning_rate_schedule(config, steps_per_epoch)
    selection = task.selection()
    eval_inputs = [task.eval_inputs(d) for d in data]
    evaluates = all(x is not None for x in eval_inputs)

    keys = parallel.pad_leading(np.stack([np.asarray(jax.random.PRNGKey(s)) for s in seeds]), n_pad)
    keys = parallel.to_global(keys, inst)
    if initial is None:
        state = programs.init(keys)
    else:
        state = programs.init_from(keys, parallel.to_global(initial, parallel.replicated(mesh)))
    if evaluates:
        chunk = _eval_chunk(programs, programs.variables(state), eval_inputs, n_pad, chunk, data_axis, config)
    best = programs.copy(programs.variables(state))  # its own buffers: the train step donates the state's
    parallel.release_freed_memory()  # what the start-up compiles freed (init, the evaluation chunk's measurement)
    run = RunState.new(seeds)

    ckpt = RunCheckpointer(checkpoint_dir) if checkpoint_dir is not None else None
    if ckpt is not None and ckpt.latest() is not None:  # resume order: existing checkpoint > initial > init
        like = jax.tree_util.tree_map(lambda x: x[:n], {"state": state, "best": best})
        try:
            tree, meta = ckpt.restore(ckpt.latest(), like)
        except BaseException:
            ckpt.close()
            raise
        if meta.get("seeds") != seeds:
            ckpt.close()
            raise ConfigError(f"checkpoint {checkpoint_dir} was written with seeds {meta.get('seeds')}, not "
                              f"{seeds}; use another checkpoint directory")
        run = RunState.from_meta(meta)
        tree = parallel.pad_leading(tree, n_pad)
        tree = parallel.to_global(tree, inst) if jax.process_count() > 1 else jax.device_put(tree, inst)
        state, best = tree["state"], tree["best"]
        log.info("resumed %s from epoch %d", desc or type(task).__name__, run.epoch)
    if log_dir is None and checkpoint_dir is not None:
        log_dir = os.path.join(os.fspath(checkpoint_dir), "tensorboard")

    step_losses = run.step_losses
    timings: list[float] = []
    started, cpu_started = time.perf_counter(), time.process_time()
    desc = desc or type(task).__name__
    bar = tqdm(total=config.epochs * steps_per_epoch, initial=run.steps if run.epoch else 0, desc=desc,
               disable=not config.progress, leave=False)
    try:
        with ScalarLogger(log_dir) as logger:
            step_fn = None  # the vmapped step, or a grouped one when it does not fit the memory budget
            for epoch in range(run.epoch + 1, config.epochs + 1):
                if run.stopped:
                    break
                plans = [task.epoch_batches(d, epoch, np.random.default_rng([seeds[i], epoch]))
                         for i, d in enumerate(data)]
                steps = [len(p) for p in plans]
                if min(steps) == 0:
                    i = int(np.argmin(steps))
                    raise DataError(f"{desc}: instance {i} has no training batch in epoch {epoch} (fewer examples "
                                    f"than one batch of {config.batch_size}); lower batch_size or add data")
                if epoch == run.epoch + 1:
                    size = _num_examples(plans[0][0])
                    if size % data_axis:
                        raise ConfigError(f"{desc}: batches of {size} cannot be split over the mesh's data axis "
                                          f"({data_axis} devices); choose a batch size divisible by it")
                pending: list = []  # (loss, metrics) device arrays of the steps since the last sync
                epoch_losses: list[np.ndarray] = []
                epoch_metrics: list[dict] = []
                clock = {"time": time.perf_counter(), "steps": run.steps}

                def sync():
                    """Fetch the pending losses (the only place the host waits for the device)."""
                    if not pending:
                        return
                    losses, metrics = parallel.to_host(([p[0] for p in pending], [p[1] for p in pending]))
                    pending.clear()
                    losses = np.stack(losses)[:, :n]
                    now = time.perf_counter()
                    timings.append((now - clock["time"]) / max(1, run.steps - clock["steps"]))
                    clock.update(time=now, steps=run.steps)
                    first = len(epoch_losses)  # epoch step of losses[0]
                    active = (first + np.arange(len(losses)))[:, None] < np.asarray(steps)[None, :]
                    bad = ~np.isfinite(losses) & active
                    if bad.any():
                        raise DataError(f"{desc}: training diverged in epoch {epoch} (loss {losses[bad][0]} at step "
                                        f"{first + int(np.argwhere(bad)[0, 0]) + 1}); lower the learning rate or "
                                        "check the inputs for NaN/inf")
                    epoch_losses.extend(losses)
                    step_losses.extend(losses)
                    epoch_metrics.extend(metrics)
                    bar.update(len(losses))
                    bar.set_postfix(loss=f"{float(np.mean(losses[-1])):.4g}")

                for s in range(max(steps)):
                    parts = [plans[i][s] if s < steps[i] else None for i in range(n)]
                    active = np.zeros(n_pad, bool)
                    active[:n] = [s < k for k in steps]
                    stacked = parallel.to_global(stack_instances(parts, n_pad), parallel.batch_sharding(mesh))
                    active = parallel.to_global(active, inst)
                    if step_fn is None:
                        step_fn = train_step_within_budget(programs, state, stacked, active, config)
                        state, loss, metrics = step_fn(state, stacked, active)
                        # before the step's scratch peaks: what the budget's measurement and the step's compile freed
                        parallel.release_freed_memory()
                    else:
                        state, loss, metrics = step_fn(state, stacked, active)
                    pending.append((loss, metrics))
                    run.steps += 1
                    due = [h for h in hooks if run.steps % h.every == 0]
                    if due or len(pending) >= config.sync_every:
                        sync()
                    for h in due:
                        h.fn(HookContext(run.steps, epoch, np.asarray(step_losses),
                                         lambda: parallel.to_host(jax.tree_util.tree_map(
                                             lambda x: x[:n], programs.variables(state)))))
                sync()

                sums = np.asarray(epoch_losses).sum(0)
                train_loss = sums / np.asarray(steps)
                lr = schedule if isinstance(schedule, float) else float(schedule(max(0, run.steps - 1)))
                current = programs.variables(state)
                scores: list[dict] = [{} for _ in range(n)]
                if evaluates:
                    parallel.release_freed_memory(1.0)  # the training steps' scratch, before the evaluation's
                    outputs = _evaluate(programs, current, eval_inputs, n_pad, chunk)
                    parallel.release_freed_memory(1.0)  # the evaluation's compile (seconds) and chunks
                    scores = [task.score(d, o) for d, o in zip(data, outputs)]
                metrics_list, kept = run.record_epoch(epoch, train_loss, epoch_metrics, steps, scores, selection,
                                                      evaluates, lr)
                for i, m in enumerate(metrics_list):
                    logger.scalars(epoch, _scalars(m), "" if n == 1 else f"instance{i}/")
                improved = np.zeros(n_pad, bool)
                improved[:n] = kept
                improved = parallel.to_global(improved, inst) if jax.process_count() > 1 else \
                    jax.device_put(improved, inst)
                best = programs.select(improved, current, best)
                stop = bool(on_epoch(epoch, metrics_list)) if on_epoch is not None else False
                if selection is not None and selection.patience is not None and evaluates:
                    stop = stop or all(c.get("stopped") for c in run.selection)  # every instance stopped
                run.stopped = stop
                # the epoch's scalars reach the disk before the checkpoint that marks the epoch done: a kill
                # between the two repeats the epoch (and rewrites its scalars) instead of losing them
                logger.flush()
                if ckpt is not None:
                    ckpt.save(epoch, jax.tree_util.tree_map(lambda x: x[:n], {"state": state, "best": best}),
                              run.to_meta())
                if selection is not None and evaluates:
                    bar.set_postfix(loss=f"{np.mean(train_loss):.4g}",
                                    **{selection.metric: f"{np.mean([m[selection.metric] for m in metrics_list]):.4g}"})
                if stop:
                    break
    finally:
        bar.close()
        if ckpt is not None:
            ckpt.close()
    # explicit host copies: never views of device buffers that a later donation could reuse
    variables = jax.tree_util.tree_map(lambda x: np.array(x[:n], copy=True), parallel.to_host(best))
    parallel.release_freed_memory()  # the run's freed memory, before the caller's next run (e.g. the next spec)
    return run.result(variables, started, cpu_started, timings)


def _scalars(metrics: dict) -> dict[str, float]:
    """TensorBoard tags of an epoch's metrics: ``train_loss`` → ``train/loss``, ``val_auc`` → ``val/auc``."""
    out = {}
    for name, value in metrics.items():
        if name in ("epoch", "steps", "best_epoch") or not isinstance(value, (int, float)) or value is None:
            continue
        head, _, tail = name.partition("_")
        out[f"{head}/{tail}" if tail and head in ("train", "val", "best") else name] = value
    return out


# ------------------------------------------------------------------------------------------------------ inference
