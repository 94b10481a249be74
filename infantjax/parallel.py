"""Meshes, shardings and padding for stacked ensembles (DESIGN.md §3, "No pmap").

Ensemble instances are a leading axis on every leaf of a pytree. On several devices that axis is sharded over the
mesh axis ``instance`` and batches over the mesh axis ``data``; an instance count that the ``instance`` axis does
not divide is padded (the padding instances are masked: never updated, their outputs dropped).

    mesh = instance_mesh(num_instances=70)            # 8 devices → instance=8, data=1; 70 padded to 72
    tree = pad_leading(tree, padded_size(70, mesh))    # copies of instance 0 at the end
    tree = jax.device_put(tree, instance_sharding(mesh))

Multi-process start-up is opt-in: :func:`initialize` calls ``jax.distributed.initialize`` when asked (the CLI's
``--coordinator host:port --num-processes N --process-id i``) or when ``INFANTJAX_DISTRIBUTED=1``; every entry point
(the CLI, :func:`infantjax.protocols.cp.train`, the experiments) calls it. On a multi-process mesh the host never hands a
NumPy array to a sharded program, nor reads one back: arrays go in through :func:`to_global` (every process holds
the same host data and supplies the shards of its own devices) and results come out through :func:`to_host` (a
``process_allgather`` of arrays spanning other processes). These two are the only places data crosses between host
and a sharded program (tests/test_parallel_multiprocess.py checks the library for others). With one process both
are what they were before: :func:`to_global` returns its argument unchanged, :func:`to_host` is ``device_get``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
import math
import os
import time
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from infantjax import backend
from infantjax.errors import ConfigError

log = logging.getLogger(__name__)

__all__ = [
    "CPU_BUDGET",
    "DATA",
    "INSTANCE",
    "batch_sharding",
    "build_mesh",
    "budgeted_chunk",
    "compiled_bytes",
    "initialize",
    "instance_mesh",
    "instance_sharding",
    "memory_budget",
    "pad_axis",
    "pad_leading",
    "padded_size",
    "per_instance",
    "program_bytes",
    "release_freed_memory",
    "replicated",
    "to_global",
    "to_host",
]

INSTANCE = "instance"
DATA = "data"


def instance_mesh(num_instances: int, *, devices: Sequence[jax.Device] | None = None,
                  batch_size: int | None = None, instance_axis: int | None = None) -> Mesh:
    """A 2-D mesh ``(instance, data)`` over ``devices`` (default: all devices).

    Arguments:
        num_instances: how many stacked instances will be sharded over the ``instance`` axis.
        devices: the devices to use (default ``jax.devices()``).
        batch_size: if given, the ``data`` axis is shrunk until it divides the batch, and (unless
            ``instance_axis`` is given) the ``instance`` axis grows to keep every device in the mesh, its extra
            slots padding instances (3 folds at batch 3 on 8 devices: instance=8 × data=1, 5 of them padding; 64
            folds at batch 2 on 256 chips: instance=128 × data=2). XLA:TPU refuses a program that leaves chips
            of a v5e slice out ("device assignment should include all slice devices", compiled for a v5e-256),
            and on any machine a device left idle is a device the step does not use. With ``instance_axis``
            given, devices left over go unused.
        instance_axis: size of the ``instance`` axis; default the largest divisor of the device count that is
            not larger than ``num_instances`` (so 7 folds on 8 devices use instance=4 × data=2, padded to 8).

    Returns:
        a :class:`jax.sharding.Mesh` with axis names ``("instance", "data")``.
    """
    devices = list(jax.devices() if devices is None else devices)
    n = len(devices)
    if n == 0:
        raise ConfigError("instance_mesh: no devices given")
    if num_instances < 1:
        raise ConfigError(f"instance_mesh: num_instances must be >= 1, got {num_instances}")
    fill = instance_axis is None
    if fill:
        instance_axis = max(d for d in range(1, n + 1) if n % d == 0 and d <= max(num_instances, 1))
    if instance_axis < 1 or n % instance_axis:
        raise ConfigError(f"instance_mesh: instance_axis={instance_axis} must divide the {n} devices")
    data_axis = n // instance_axis
    if batch_size is not None:
        data_axis = math.gcd(data_axis, int(batch_size))
        if fill:
            instance_axis = n // data_axis
    return build_mesh((instance_axis, data_axis), (INSTANCE, DATA), devices[: instance_axis * data_axis])


def build_mesh(shape: Sequence[int], names: Sequence[str], devices: Sequence[jax.Device] | None = None) -> Mesh:
    """A mesh of ``shape`` over ``devices`` laid out by ``jax.make_mesh``: the device order follows the topology
    (a TPU slice's torus, a multi-GPU host's id order), never a hand-built array. Every mesh of the package is
    built here.

    The axes are ``AxisType.Auto`` (the compiler propagates the shardings that ``NamedSharding`` s and
    ``jax.jit``'s ``in_shardings`` give; ``jax.make_mesh`` defaults to ``Explicit`` axes since JAX 0.7, whose
    sharding-in-types rules the package's programs are not written for). The keyword form of ``axis_types`` and
    ``devices`` is the one JAX 0.10 – 0.12 share.

    Arguments:
        shape: the size of each axis; their product is the number of devices used.
        names: the axis names (``("instance", "data")``, ``("data",)``).
        devices: the devices, at least ``prod(shape)`` of them (the first ones are used; default ``jax.devices()``).

    Returns:
        a :class:`jax.sharding.Mesh`.

    Raises:
        ConfigError: fewer devices than the mesh needs, or a shape that does not match the names.
    """
    shape = tuple(int(s) for s in shape)
    names = tuple(names)
    devices = list(jax.devices() if devices is None else devices)
    if len(shape) != len(names) or any(s < 1 for s in shape):
        raise ConfigError(f"build_mesh: shape {shape} does not give one positive size per axis of {names}")
    need = math.prod(shape)
    if need > len(devices):
        raise ConfigError(f"build_mesh: a {shape} mesh needs {need} devices, only {len(devices)} given")
    auto = (jax.sharding.AxisType.Auto,) * len(shape)
    return jax.make_mesh(shape, names, axis_types=auto, devices=devices[:need])


def instance_sharding(mesh: Mesh) -> NamedSharding:
    """Leading (instance) axis sharded over ``instance``, everything else replicated."""
    return NamedSharding(mesh, P(INSTANCE))


def batch_sharding(mesh: Mesh) -> NamedSharding:
    """(instance, batch, ...) arrays: instances over ``instance``, the batch over ``data``."""
    return NamedSharding(mesh, P(INSTANCE, DATA))


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, P())


def per_instance(fn, mesh: Mesh, in_axes: Sequence[int | None]):
    """``fn`` (a function vmapped over stacked instances) run by each device on its own instances only.

    On a mesh whose ``instance`` axis spreads instances over several devices, ``fn`` is wrapped in a
    ``jax.shard_map`` that is manual over ``instance`` (the ``data`` axis stays with the compiler): every device
    applies ``fn`` to its shard of the instance axis, so independent instances never exchange data. Without it the
    compiler partitions the vmapped program as a whole, and a vmapped convolution whose kernel carries the instance
    axis (a convolution with the instances as feature groups) is all-gathered over the instance axis by XLA:GPU:
    every GPU computed every instance's convolutions (docs/performance.md "Compiled for
    accelerators"). The values are those of ``fn`` itself (each device runs ``fn`` on a slice of the instances).
    On a mesh with one instance shard (a CPU, one device) ``fn`` is returned as it is.

    Arguments:
        fn: the vmapped function; its outputs all carry the instance axis first.
        mesh: the program's mesh (axes ``("instance", "data")``).
        in_axes: per positional argument, 0 (stacked over instances) or None (shared by every instance).

    Returns:
        a function of the same arguments.
    """
    if mesh.shape.get(INSTANCE, 1) == 1:
        return fn
    specs = tuple(P(INSTANCE) if axis == 0 else P() for axis in in_axes)
    return jax.shard_map(fn, mesh=mesh, in_specs=specs, out_specs=P(INSTANCE), axis_names={INSTANCE},
                         check_vma=False)


def padded_size(count: int, mesh: Mesh, axis: str = INSTANCE) -> int:
    """``count`` rounded up to a multiple of the mesh axis size."""
    size = mesh.shape[axis]
    return -(-count // size) * size


def pad_leading(tree, size: int):
    """Pad the leading axis of every leaf to ``size`` with copies of element 0 (masked out by the caller)."""
    def pad(x):
        x = jnp.asarray(x) if not isinstance(x, np.ndarray) else x
        extra = size - x.shape[0]
        if extra < 0:
            raise ConfigError(f"pad_leading: leading axis {x.shape[0]} is longer than the target {size}")
        if extra == 0:
            return x
        lib = np if isinstance(x, np.ndarray) else jnp
        return lib.concatenate([x, lib.repeat(x[:1], extra, axis=0)], axis=0)
    return jax.tree_util.tree_map(pad, tree)


def pad_axis(x: np.ndarray, size: int, axis: int = 0, value: float = 0.0) -> np.ndarray:
    """Pad a numpy array along ``axis`` to ``size`` with ``value``."""
    extra = size - x.shape[axis]
    if extra <= 0:
        return x
    widths = [(0, 0)] * x.ndim
    widths[axis] = (0, extra)
    return np.pad(x, widths, constant_values=value)


#: the most one compiled call may use by default on the CPU (bytes), however much RAM the machine has: the
#: budget measured to keep training a Table A.4 network within 4 GB of peak RSS (3.2 GB with it, 7.0 GB with a
#: quarter of 24 GB; docs/performance.md, "Memory"). A larger ``memory_budget`` (``--memory-budget GB``) lifts it.
CPU_BUDGET = 1_500_000_000


def memory_budget(budget: int | None = None, *, fraction: float | None = None) -> int:
    """Bytes one evaluation or scoring call may use: ``budget`` when given, else ``fraction`` (default the backend
    policy's, :func:`infantjax.backend.memory_fraction`: a quarter) of the memory of the default backend's first
    device (its allocator limit on an accelerator; physical RAM on CPU, where the default is at most
    :data:`CPU_BUDGET`)."""
    if budget is not None:
        return int(budget)
    capped = fraction is None  # the default budget; an explicit fraction of the memory is taken as asked
    fraction = backend.memory_fraction() if fraction is None else float(fraction)
    device = jax.devices()[0]
    if backend.platform() != "cpu":
        try:
            limit = (device.memory_stats() or {}).get("bytes_limit")
        except Exception:  # noqa: BLE001 - backends without memory statistics fall back to host RAM
            limit = None
        if limit:
            return int(limit * fraction)
    try:
        ram = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # not a POSIX system: assume 8 GB
        ram = 8 << 30
    return min(int(ram * fraction), CPU_BUDGET) if capped else int(ram * fraction)


def program_bytes(jitted, *args) -> int:
    """Peak memory of one call of ``jitted(*args)`` from XLA's ``memory_analysis`` of its compiled program.

    ``args`` may be arrays or ``jax.ShapeDtypeStruct`` s. The figure is arguments + outputs + XLA scratch
    (less donated aliases); on CPU, where every (fake) device lives in host RAM, it is the sum over the devices the
    program spans. A following ``jitted(*args)`` does not compile again (JAX's cache) but traces and lowers again;
    callers that run the program themselves keep ``jitted.lower(*args).compile()`` and use :func:`compiled_bytes`.
    """
    return compiled_bytes(jitted.lower(*args).compile())


def compiled_bytes(compiled) -> int:
    """:func:`program_bytes` of an already compiled program (``jax.stages.Compiled``)."""
    m = compiled.memory_analysis()
    if m is None:  # a backend without memory analysis: nothing to go by
        return 0
    per_device = (m.argument_size_in_bytes + m.output_size_in_bytes + m.temp_size_in_bytes
                  - getattr(m, "alias_size_in_bytes", 0))
    devices = compiled.input_shardings[0]
    count = 1
    leaves = jax.tree_util.tree_leaves(devices)
    if leaves and backend.platform() == "cpu":
        count = max(len(getattr(s, "device_set", ())) for s in leaves)
    return int(per_device) * max(count, 1)


def budgeted_chunk(measure, chunk: int, *, multiple: int = 1, budget: int) -> int:
    """The largest chunk ≤ ``chunk`` (a multiple of ``multiple``, halving) whose call fits in ``budget`` bytes.

    Arguments:
        measure: ``measure(c)`` → bytes one call with a chunk of ``c`` examples needs (e.g. :func:`program_bytes`).
        chunk: the chunk asked for (``eval_batch_size``).
        multiple: chunks stay multiples of this (the mesh's ``data`` axis).
        budget: bytes allowed (:func:`memory_budget`).

    Returns:
        the chunk; ``multiple`` when even that does not fit (the smallest possible call; it may still run).
    """
    chunk = max(multiple, -(-int(chunk) // multiple) * multiple)
    while chunk > multiple:
        need = measure(chunk)
        if need <= budget:
            return chunk
        # scale down to the budget in one step where memory is linear in the chunk (fixed costs make it a little
        # short, so it is measured again), halving where the scaling would not shrink it
        scaled = int(chunk * budget / max(need, 1))
        smaller = scaled // multiple * multiple
        if smaller >= chunk:
            smaller = chunk // 2 // multiple * multiple
        chunk = max(multiple, smaller)
    return chunk


@functools.lru_cache(maxsize=1)
def _malloc_trim():
    """glibc's ``malloc_trim``, or None where the C library has none (musl, macOS, Windows)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


_LAST_TRIM = [float("-inf")]


def release_freed_memory(at_most_every_s: float = 0.0) -> bool:
    """Give the memory the process has freed back to the operating system (glibc ``malloc_trim(0)``).

    XLA:CPU's compiler and runtime free what they allocate, but glibc keeps freed heap memory (fragmented heaps and
    the per-thread arenas of the compiler's threads) resident: each large compile left 0.5–0.8 GB of RSS behind, of
    which ``malloc_trim`` returns about two thirds, and the training step's scratch stayed resident after the step
    (docs/performance.md, "Memory"). The training engine calls this after its compiles and evaluations (host
    memory: the compiler runs on the host whatever the backend); it takes milliseconds and changes no value. A
    no-op returning False where the C library has no ``malloc_trim``.

    Arguments:
        at_most_every_s: skip the call (return False) when the last one was less than this many seconds ago: the
            engine's per-epoch calls pass 1 s, so that tasks whose epochs take milliseconds (the smartphone
            model's thousands of epochs) do not pay half a millisecond twice an epoch.

    Returns:
        whether memory was returned (glibc's result).
    """
    now = time.monotonic()
    if now - _LAST_TRIM[0] < at_most_every_s:
        return False
    trim = _malloc_trim()
    _LAST_TRIM[0] = now
    return bool(trim(0)) if trim is not None else False


def to_global(tree, sharding):
    """Host arrays as the global arrays of ``sharding`` (the one place host data enters a sharded program).

    Every process holds the same host data (they load the same cohort and draw the same batches from the same
    seeds); each one supplies the shards of its own devices (``jax.make_array_from_callback``), so no process
    ships data to another. With one process the arrays are returned unchanged: the jitted program's
    ``in_shardings`` place them as before.

    Arguments:
        tree: a pytree of host (NumPy) arrays, or jax arrays already placed (passed through).
        sharding: a ``jax.sharding.Sharding`` for every leaf, or a pytree of them matching ``tree``'s leaves.

    Returns:
        the same pytree of global ``jax.Array`` s (multi-process) or ``tree`` itself (one process).
    """
    if jax.process_count() == 1:
        return tree

    def one(x, s):
        if isinstance(x, jax.Array):
            return x
        x = np.asarray(x)
        return jax.make_array_from_callback(x.shape, s, lambda index: x[index])

    if isinstance(sharding, jax.sharding.Sharding):
        return jax.tree_util.tree_map(lambda x: one(x, sharding), tree)
    return jax.tree_util.tree_map(one, tree, sharding)


def to_host(tree):
    """Every array of ``tree`` as a host numpy array (the one place results leave the devices).

    An array spanning devices of other processes is gathered first (``multihost_utils.process_allgather``, a
    collective: every process must call this at the same point); every process gets the whole value.
    """
    def one(x):
        if isinstance(x, jax.Array) and not x.is_fully_addressable:
            from jax.experimental import multihost_utils

            return np.asarray(multihost_utils.process_allgather(x, tiled=True))
        return np.asarray(jax.device_get(x))

    return jax.tree_util.tree_map(one, tree)


#: Environment variables that configure :func:`initialize` (read when no argument gives the value).
COORDINATOR_ENV = "INFANTJAX_COORDINATOR"
NUM_PROCESSES_ENV = "INFANTJAX_NUM_PROCESSES"
PROCESS_ID_ENV = "INFANTJAX_PROCESS_ID"


def initialize(force: bool = False, *, coordinator: str | None = None, num_processes: int | None = None,
               process_id: int | None = None, **kwargs) -> bool:
    """Start multi-process JAX (``jax.distributed.initialize``) when asked, once per process.

    It starts when ``force``, a ``coordinator`` address, ``INFANTJAX_DISTRIBUTED=1`` or ``$INFANTJAX_COORDINATOR``
    is given. Without a coordinator address JAX detects the cluster itself (Cloud TPU, SLURM, Open MPI);
    with one, ``num_processes`` and ``process_id`` (or ``$INFANTJAX_NUM_PROCESSES`` / ``$INFANTJAX_PROCESS_ID``)
    say who this process is. On CPU the cross-process collectives use Gloo
    (``jax_cpu_collectives_implementation``). Must run before the first JAX computation of the process.

    Arguments:
        force: start even without the environment variable.
        coordinator: ``host:port`` of process 0's coordination service.
        num_processes: how many processes take part.
        process_id: this process's rank, 0 … num_processes - 1.
        **kwargs: passed to ``jax.distributed.initialize`` (e.g. ``local_device_ids``).

    Returns:
        True if the distributed runtime runs (started now or before), False when not asked for.

    Raises:
        ConfigError: incomplete or inconsistent arguments, or JAX already computed in this process.
    """
    coordinator = coordinator or os.environ.get(COORDINATOR_ENV) or None
    asked = force or coordinator is not None or os.environ.get("INFANTJAX_DISTRIBUTED") == "1"
    if not asked:
        return False
    if _distributed_running():
        return True
    if num_processes is None and os.environ.get(NUM_PROCESSES_ENV):
        num_processes = int(os.environ[NUM_PROCESSES_ENV])
    if process_id is None and os.environ.get(PROCESS_ID_ENV):
        process_id = int(os.environ[PROCESS_ID_ENV])
    if coordinator is not None:
        if num_processes is None or process_id is None:
            raise ConfigError(f"a coordinator address ({coordinator}) needs --num-processes and --process-id "
                              f"(or ${NUM_PROCESSES_ENV} and ${PROCESS_ID_ENV})")
        if num_processes < 1 or not 0 <= process_id < num_processes:
            raise ConfigError(f"--process-id {process_id} must be in 0 … {num_processes - 1} "
                              f"(--num-processes {num_processes})")
        kwargs.update(coordinator_address=coordinator, num_processes=num_processes, process_id=process_id)
    _cpu_collectives()
    try:
        jax.distributed.initialize(**kwargs)
    except RuntimeError as err:
        raise ConfigError(f"cannot start multi-process JAX ({err}); call infantjax.parallel.initialize() before "
                          "any JAX computation in the process (the CLI and protocols.cp.train do)") from None
    return True


def _distributed_running() -> bool:
    is_initialized = getattr(jax.distributed, "is_initialized", None)
    if is_initialized is not None:
        return bool(is_initialized())
    from jax._src import distributed  # pragma: no cover - jax without the public query

    return distributed.global_state.client is not None


def _cpu_collectives() -> None:
    """Gloo for cross-process collectives on CPU (the default would refuse them), where JAX offers it."""
    platforms = os.environ.get("JAX_PLATFORMS", "") or str(getattr(jax.config, "jax_platforms", "") or "")
    if platforms and "cpu" not in platforms.split(","):
        return
    try:
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    except (AttributeError, ValueError, KeyError):  # pragma: no cover - a jax without the option
        log.debug("jax_cpu_collectives_implementation is not available; CPU collectives stay the default")
