"""Stacked inference: one compiled forward applied to a stack of instances, beside the training engine.

Every model family's inference runs here: the ensemble's scoring (a recording's windows through 70 GCN instances),
the SMA fold networks, the smartphone model's 25 split instances, MAM's fold instances — at prediction time and in
the protocols that score each fold on its held-out data. :class:`StackedPredictor` applies ``fn(variables, batch)``
(one instance's compiled forward, e.g. a task's ``predict``) to every instance of a stacked variables pytree
(a leading instance axis on every leaf):

* **shared inputs** (``shared=True``: every instance sees the same examples, e.g. the recording being scored) are
  passed once (``in_axes=(0, None)``), never copied per instance: the smartphone model's 25 instances score a
  chunk of 4 videos from one 52 MB block where one copy per instance took 1.3 GB;
* **per-instance inputs** (``shared=False``: fold i scores its own held-out examples) are stacked and padded to
  the longest instance's count;
* the examples run in calls of power-of-two sizes (:func:`call_plan`): the full chunk, then the rest from the
  largest power of two down, the last padded to at least :data:`MIN_CALL` examples; a recording (or a cohort) of
  any length thus reuses a handful of compiled programs instead of compiling one per length;
* the chunk is lowered (halving) until XLA's memory analysis of the compiled call fits the memory budget
  (:func:`infantjax.parallel.memory_budget`);
* instances run as the backend policy says (:func:`infantjax.backend.instances`): one after another inside the
  call (``lax.map``) on a CPU device, all at once (``vmap``) on accelerators and when a mesh spreads them over
  devices (instances sharded over the mesh axis ``instance``, examples over ``data``);
* compiled executables are kept: measuring a call's memory and running it use the same executable.

    predictor = StackedPredictor(task_forward(task), fit_result.variables)
    scores = predictor(windows)                      # shared: (I, N, ...) for every instance
    held_out = predictor.per_instance([w0, w1, w2])  # instance i on its own examples: [(N_i, ...), ...]

Inputs are a pytree of host arrays with a leading example axis, or :class:`Examples` that build a chunk on demand
(e.g. the 547 clips of each video of a cohort, which would not fit in memory at once).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import functools
import logging
import os
from collections.abc import Callable, Sequence
from typing import Any

import jax
import numpy as np

from infantjax import backend, parallel
from infantjax.errors import DataError
from infantjax.infer import stored

__all__ = ["MIN_CALL", "Examples", "StackedPredictor", "apply_in_batches", "call_plan", "clear_caches", "concurrently",
           "example_template", "largest_call", "per_instance_calls", "place_stack", "stack_instances",
           "stacked_program", "task_forward"]

log = logging.getLogger(__name__)

#: The smallest call (examples): the last few examples of an input are padded up to it.
MIN_CALL = 8


def stack_instances(parts: Sequence[Any | None], count: int, template: Any = None):
    """Stack per-instance host pytrees on a new leading axis of ``count`` (the engine's batches, stacked
    inference's blocks); None and the padding instances become zeros.

    Arguments:
        parts: one pytree per instance, or None.
        count: the rows of the stack (at least ``len(parts)``: padding instances).
        template: shapes and dtypes of one part (``jax.ShapeDtypeStruct`` leaves); default the first part's.
    """
    if template is None:
        template = next(p for p in parts if p is not None)
    leaves, treedef = jax.tree_util.tree_flatten(template)
    out = [np.zeros((count,) + tuple(np.shape(x)), np.dtype(x.dtype)) for x in leaves]
    for i, part in enumerate(parts):
        if part is None:
            continue
        for buf, x in zip(out, jax.tree_util.tree_leaves(part)):
            buf[i] = x
    return jax.tree_util.tree_unflatten(treedef, out)


def call_plan(n: int, step: int, multiple: int = 1) -> list[tuple[int, int]]:
    """(first example, examples in the call) of each call for ``n`` examples.

    Full calls of ``step`` examples, then the rest in power-of-two calls from the largest down, the last padded
    up to ``MIN_CALL`` (rounded up to ``multiple``, the data-axis size) or, when fewer examples are left,
    to their next power of two. An input of any length thus runs at most ⌈log2(step / 8)⌉ + 1 program shapes,
    shared by all inputs, and pads fewer than ``MIN_CALL`` examples, where padding the whole input to one power of
    two padded up to half of it (71 windows of a 3-minute recording → 128, 1.8× the work; here 64 + 8).
    """
    def round_up(x: int) -> int:
        return -(-x // multiple) * multiple

    minimum = min(step, round_up(MIN_CALL))
    calls, lo = [], 0
    while lo < n:
        rest = n - lo
        if rest >= step:
            size = step
        elif rest <= minimum:  # the last call, padded to a power of two (a short input: fewer than 8)
            size = min(minimum, round_up(1 << (rest - 1).bit_length()))
        else:  # the largest power of two of the rest (a multiple of the data axis: it may cover the rest)
            size = min(step, round_up(1 << (rest.bit_length() - 1)))
        calls.append((lo, size))
        lo += size
    return calls


def largest_call(n: int, chunk: int) -> int:
    """The largest call for ``n`` examples: the largest power of two of ``n`` (the next one for up to
    :data:`MIN_CALL` examples), at most ``chunk``."""
    small = n <= MIN_CALL
    return min(int(chunk), 1 << ((n - 1).bit_length() if small else n.bit_length() - 1))


@dataclasses.dataclass(frozen=True)
class Examples:
    """Inputs built a chunk at a time: ``fetch(lo, hi)`` returns the pytree of examples ``lo … hi - 1`` (host
    arrays with a leading example axis); ``count`` examples in all.

    Attributes:
        count: the number of examples.
        fetch: ``fetch(lo, hi)`` → a pytree of host arrays of ``hi - lo`` examples (``hi <= count``).
    """

    count: int
    fetch: Callable[[int, int], Any]

    def __len__(self) -> int:
        return int(self.count)


def _count(inputs) -> int:
    if isinstance(inputs, Examples):
        return len(inputs)
    leaves = jax.tree_util.tree_leaves(inputs)
    if not leaves:
        raise DataError("stacked inference: the inputs hold no arrays")
    counts = {int(np.shape(x)[0]) for x in leaves}
    if len(counts) != 1:
        raise DataError(f"stacked inference: the input arrays have different example counts {sorted(counts)}")
    return counts.pop()


def _slice(inputs, lo: int, hi: int):
    if isinstance(inputs, Examples):
        return inputs.fetch(lo, hi)
    return jax.tree_util.tree_map(lambda a: np.asarray(a)[lo:hi], inputs)


def example_template(inputs) -> Any:
    """Per-example shapes and dtypes of ``inputs`` (the first example)."""
    first = _slice(inputs, 0, 1)
    return jax.tree_util.tree_map(lambda a: jax.ShapeDtypeStruct(np.shape(a)[1:], np.asarray(a).dtype), first)


def _signature(template) -> tuple:
    leaves, treedef = jax.tree_util.tree_flatten(template)
    return (treedef, tuple((tuple(s.shape), str(s.dtype)) for s in leaves))


def place_stack(variables: Any, mesh) -> Any:
    """Stacked host variables on ``mesh``: padded to a multiple of its ``instance`` axis (copies of instance 0,
    whose outputs are dropped) and sharded over it. The device arrays are copies: they never alias host memory
    that may change later."""
    count = int(jax.tree_util.tree_leaves(variables)[0].shape[0])
    padded = parallel.pad_leading(variables, parallel.padded_size(count, mesh))
    if jax.process_count() > 1:  # every process supplies its own devices' instances
        return parallel.to_global(jax.tree_util.tree_map(lambda x: np.array(x, copy=True), padded),
                                  parallel.instance_sharding(mesh))
    # host copies placed straight onto the sharding (numpy slices per device): a device array resharded from one
    # device would compile a slicing program per leaf shape
    padded = jax.tree_util.tree_map(lambda x: np.array(x, copy=True), padded)
    return jax.device_put(padded, parallel.instance_sharding(mesh))


def stacked_program(fn: Callable, mesh, *, shared: bool = True, mode: str = "auto") -> Callable:
    """The jitted program a :class:`StackedPredictor` runs: ``(stacked variables, examples) → outputs (I, N, ...)``
    of ``fn`` on every instance, mapped or vmapped over the instances as the backend policy says (cached per
    ``fn``, mesh, input kind, mode and policy).

    Arguments:
        fn: one instance's forward ``fn(variables, batch)``.
        mesh: an ``("instance", "data")`` mesh; the stack is sharded over ``instance``, examples over ``data``.
        shared: examples (N, ...) shared by every instance, or per instance (I, N, ...).
        mode: ``"auto"``, ``"map"`` or ``"vmap"`` (:func:`infantjax.backend.instances`).
    """
    return _program(fn, mesh, bool(shared), backend.instances(mesh, mode=mode), backend.current())


@functools.lru_cache(maxsize=64)
def _program(fn: Callable, mesh, shared: bool, mode: str, policy) -> Callable:
    """jit of ``fn`` over every instance of a stack (mapped or vmapped), inputs shared or per instance."""
    inst = parallel.instance_sharding(mesh)
    out = parallel.batch_sharding(mesh)
    if shared:
        examples = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec(parallel.DATA))
        if mode == "map":
            def every(stack, x):
                return jax.lax.map(lambda variables: fn(variables, x), stack)
        else:
            every = jax.vmap(fn, in_axes=(0, None))
    else:
        examples = out
        if mode == "map":
            def every(stack, x):
                return jax.lax.map(lambda args: fn(*args), (stack, x))
        else:
            every = jax.vmap(fn)
    # each device runs its own instances: independent instances never exchange data (parallel.per_instance)
    every = parallel.per_instance(every, mesh, in_axes=(0, None if shared else 0))
    return jax.jit(every, in_shardings=(inst, examples), out_shardings=out)


@functools.lru_cache(maxsize=64)
def task_forward(task, method: str = "predict") -> Callable:
    """``task.<method>`` as a function that caches of compiled programs can key on: tasks that compile the same
    programs (equal :meth:`~infantjax.train.Task.compile_key`) give the same function, so a model's predictor
    built again (another call, a loaded model) reuses the compiled programs."""
    return getattr(task, method)


def clear_caches() -> None:
    """Forget the cached stacked programs and task forwards (their compiled executables go with them)."""
    _program.cache_clear()
    task_forward.cache_clear()


def concurrently(fn: Callable, items, limit: int = 4) -> list:
    """``[fn(i) for i in items]``, run in up to ``limit`` threads (and the host's cores) when this is one process
    on a multi-core host.

    Used to compile several stacks' programs: XLA compiles with the GIL released, so on 2 cores the 20 Table A.4
    programs (10 stacks × 2 call sizes) compiled in 50 s instead of 74.5 s (docs/performance.md); and to score
    them on CPU (:attr:`infantjax.backend.Policy.scoring_stacks`). Tracing is thread-safe in JAX and Flax
    (thread-local trace and module state); the multi-process case keeps one thread.
    """
    items = list(items)
    workers = min(len(items), os.cpu_count() or 1, int(limit))
    if workers < 2 or jax.process_count() > 1:
        return [fn(i) for i in items]
    with concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="infantjax-stacks") as pool:
        return list(pool.map(fn, items))


class StackedPredictor:
    """``fn`` applied to every instance of a stack (module docstring), its compiled calls kept.

    Arguments:
        fn: ``fn(variables, batch)`` → a pytree of outputs with the batch as leading axis, for one instance
            (traced; e.g. :func:`task_forward` of a task). Keep it the same object between predictors of one
            model (the compiled programs are cached on it).
        variables: stacked variables (a leading instance axis on every leaf) on the host, or already placed on
            ``mesh`` by :func:`place_stack` (then give ``num_instances``).
        mesh: an ``("instance", "data")`` mesh (default: all devices, :func:`infantjax.parallel.instance_mesh`).
        memory_budget: bytes one call may use (default :func:`infantjax.parallel.memory_budget`).
        mode: ``"auto"`` (the backend policy's), ``"map"`` or ``"vmap"`` over the instances of one device.
        num_instances: the number of instances of ``variables`` already placed (and padded) by
            :func:`place_stack`; None places host variables.

    Attributes:
        chunks: the measured largest call per (chunk asked for, input signature, shared).
        executables: the compiled calls per (shared, call size, input signature).
    """

    def __init__(self, fn: Callable, variables: Any, *, mesh=None, memory_budget: int | None = None,
                 mode: str = "auto", num_instances: int | None = None):
        leaves = jax.tree_util.tree_leaves(variables)
        if not leaves:
            raise DataError("StackedPredictor: the variables hold no arrays")
        self.fn, self.mode = fn, mode
        self.num_instances = int(leaves[0].shape[0] if num_instances is None else num_instances)
        self.mesh = mesh if mesh is not None else parallel.instance_mesh(self.num_instances)
        self.budget = parallel.memory_budget(memory_budget)
        self.variables = place_stack(variables, self.mesh) if num_instances is None else variables
        self.chunks: dict = {}
        self.executables: dict = {}

    @property
    def data_axis(self) -> int:
        return int(self.mesh.shape[parallel.DATA])

    def _program(self, shared: bool) -> Callable:
        return stacked_program(self.fn, self.mesh, shared=shared, mode=self.mode)

    def _examples_sharding(self, shared: bool):
        if shared:
            return jax.sharding.NamedSharding(self.mesh, jax.sharding.PartitionSpec(parallel.DATA))
        return parallel.batch_sharding(self.mesh)

    def executable(self, size: int, template, shared: bool = True):
        """The call of ``size`` examples of per-example shapes ``template`` compiled (kept; compiled once)."""
        program = self._program(shared)
        key = (bool(shared), int(size), _signature(template), program)
        if key not in self.executables:
            lead = (int(size),) if shared else (parallel.padded_size(self.num_instances, self.mesh), int(size))
            block = jax.tree_util.tree_map(lambda s: jax.ShapeDtypeStruct(lead + tuple(s.shape), s.dtype), template)
            self.executables[key] = stored.lower(
                program, self.fn, (self.variables, block),
                program_of=(bool(shared), backend.instances(self.mesh, mode=self.mode), repr(backend.current())),
                in_shardings=(parallel.instance_sharding(self.mesh), self._examples_sharding(shared)),
                out_shardings=parallel.batch_sharding(self.mesh)).compile()
        return self.executables[key]

    def plan(self, n: int, template, *, chunk: int = 256, shared: bool = True) -> list[tuple[int, int]]:
        """The calls for ``n`` examples of per-example shapes ``template``, every one compiled: the largest call
        (:func:`largest_call` of ``chunk``, a multiple of the data axis) lowered until it fits the budget, then
        :func:`call_plan`."""
        data = self.data_axis
        bucket = largest_call(int(n), int(chunk))
        bucket = -(-bucket // data) * data
        sig, program = _signature(template), self._program(shared)
        key = (bucket, sig, bool(shared), program)
        if key not in self.chunks:
            def measure(c: int) -> int:
                return parallel.compiled_bytes(self.executable(c, template, shared))

            step = parallel.budgeted_chunk(measure, bucket, multiple=data, budget=self.budget)
            for unused in [e for e in list(self.executables) if e[0] == bool(shared) and e[2] == sig
                           and e[3] is program and e[1] > step]:
                del self.executables[unused]  # measured, too big for the budget
            if step < bucket:
                log.info("inference calls lowered from %d to %d examples to fit a memory budget of %.2f GB",
                         bucket, step, self.budget / 1e9)
            self.chunks[key] = step
        calls = call_plan(int(n), self.chunks[key], data)
        for _, size in calls:
            self.executable(size, template, shared)
        return calls

    def __call__(self, inputs, *, chunk: int = 256) -> Any:
        """Every instance on the same examples (shared, never copied per instance).

        Arguments:
            inputs: a pytree of host arrays with a leading example axis (N, ...), or :class:`Examples`.
            chunk: examples per call at most (lowered to fit the memory budget; calls of power-of-two sizes).

        Returns:
            the outputs of every instance: the pytree of ``fn``'s outputs with leading axes (I, N).
        """
        n = _count(inputs)
        if n == 0:
            raise DataError("stacked inference: no examples to predict")
        template = example_template(inputs)
        calls = self.plan(n, template, chunk=chunk, shared=True)
        sharding = self._examples_sharding(True)
        parts = []
        for lo, size in calls:
            x = jax.tree_util.tree_map(lambda a, size=size: parallel.pad_axis(np.asarray(a), size),
                                       _slice(inputs, lo, min(n, lo + size)))
            out = parallel.to_host(self.executable(size, template, True)(self.variables,
                                                                         parallel.to_global(x, sharding)))
            keep = min(size, n - lo)
            parts.append(jax.tree_util.tree_map(lambda a, keep=keep: a[:self.num_instances, :keep], out))
        return jax.tree_util.tree_map(lambda *xs: np.concatenate(xs, axis=1), *parts)

    def per_instance(self, inputs: Sequence[Any], *, chunk: int = 256) -> list[Any]:
        """Every instance on its own examples (instance i on ``inputs[i]``; counts may differ).

        Arguments:
            inputs: one input per instance (a pytree of host arrays with a leading example axis, or
                :class:`Examples`); an instance with no examples gets empty outputs.
            chunk: examples per call and instance at most.

        Returns:
            per instance, the pytree of ``fn``'s outputs with a leading axis of its example count.
        """
        inputs = list(inputs)
        if len(inputs) != self.num_instances:
            raise DataError(f"stacked inference: {len(inputs)} inputs for {self.num_instances} instances; give one "
                            "per instance")
        counts = [_count(x) for x in inputs]
        n = max(counts)
        if n == 0:
            raise DataError("stacked inference: no instance has examples to predict")
        template = example_template(inputs[counts.index(n)])
        calls = self.plan(n, template, chunk=chunk, shared=False)
        sharding = self._examples_sharding(False)

        def run(size: int, stacked):
            return parallel.to_host(self.executable(size, template, False)(self.variables,
                                                                           parallel.to_global(stacked, sharding)))

        return per_instance_calls(run, inputs, calls, parallel.padded_size(self.num_instances, self.mesh),
                                  template, counts)


def per_instance_calls(run: Callable[[int, Any], Any], inputs: Sequence[Any], calls: Sequence[tuple[int, int]],
                       rows: int, template: Any, counts: Sequence[int] | None = None) -> list[Any]:
    """The pad-stack-keep loop of per-instance inference (:meth:`StackedPredictor.per_instance`, the training
    engine's evaluation): for each call ``(lo, size)``, instance i's examples ``lo … lo + size - 1`` (zero-padded to
    ``size``; zeros past its count and for the padding rows) stacked on ``rows`` rows, ``run(size, stacked)`` → the
    host outputs with leading axes (rows, size), of which each instance keeps its real examples.

    Arguments:
        run: one call: ``(size, stacked host inputs (rows, size, ...))`` → host outputs ``(rows, size, ...)``.
        inputs: one input per instance (a pytree of host arrays with a leading example axis, or :class:`Examples`).
        calls: (first example, examples in the call) of every call (:func:`call_plan`, or fixed-size chunks).
        rows: the rows of every stack (at least ``len(inputs)``: padding instances).
        template: per-example shapes and dtypes (``jax.ShapeDtypeStruct`` leaves).
        counts: the example count of every input (default counted).

    Returns:
        per instance, the pytree of outputs with a leading axis of its example count.
    """
    counts = [_count(x) for x in inputs] if counts is None else list(counts)
    outs: list[list] = [[] for _ in inputs]
    for lo, size in calls:
        block = [None] * rows
        for i, (x, c) in enumerate(zip(inputs, counts)):
            if lo < c:
                block[i] = jax.tree_util.tree_map(lambda a, size=size: parallel.pad_axis(np.asarray(a), size),
                                                  _slice(x, lo, min(c, lo + size)))
        shape = jax.tree_util.tree_map(lambda t, size=size: jax.ShapeDtypeStruct((size, *t.shape), t.dtype),
                                       template)
        out = run(size, stack_instances(block, rows, shape))
        for i, c in enumerate(counts):
            keep = max(0, min(size, c - lo))
            outs[i].append(jax.tree_util.tree_map(lambda a, i=i, keep=keep: a[i, :keep], out))
    return [jax.tree_util.tree_map(lambda *xs: np.concatenate(xs), *o) for o in outs]


def apply_in_batches(fn: Callable, variables: Any, inputs: np.ndarray, batch_size: int) -> np.ndarray:
    """``fn(variables, batch)`` over ``inputs`` (N, ...) in batches of a fixed size (the last one padded, so one
    compiled shape serves every call); the outputs concatenated on the host.

    Arguments:
        fn: a jitted function of (variables, batch) returning an array with the batch as leading axis.
        variables: its variables.
        inputs: (N, ...) host array.
        batch_size: examples per call.
    """
    inputs = np.asarray(inputs)
    if len(inputs) == 0:
        raise DataError("apply_in_batches: no inputs")
    batch_size = max(1, min(int(batch_size), len(inputs)))
    outs = []
    for lo in range(0, len(inputs), batch_size):
        x = inputs[lo:lo + batch_size]
        keep = len(x)
        outs.append(parallel.to_host(fn(variables, parallel.pad_axis(x, batch_size)))[:keep])
    return np.concatenate(outs, axis=0)
