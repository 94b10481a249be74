"""Meshes, shardings and padding for stacked ensembles (DESIGN.md §3, "No pmap").

Ensemble instances are a leading axis on every leaf of a pytree. On several devices that axis is sharded over the
mesh axis ``instance`` and batches over the mesh axis ``data``; an instance count that the ``instance`` axis does
not divide is padded (the padding instances are masked: never updated, their outputs dropped).

    mesh = instance_mesh(num_instances=70)            # 8 devices → instance=8, data=1; 70 padded to 72
    tree = pad_leading(tree, padded_size(70, mesh))    # copies of instance 0 at the end
    tree = jax.device_put(tree, instance_sharding(mesh))

Multi-host start-up is opt-in: :func:`initialize` calls ``jax.distributed.initialize`` only when asked or when
``INFANTJAX_DISTRIBUTED=1``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from infantjax.errors import ConfigError

__all__ = [
    "DATA",
    "INSTANCE",
    "batch_sharding",
    "budgeted_chunk",
    "initialize",
    "instance_mesh",
    "instance_sharding",
    "memory_budget",
    "program_bytes",
    "pad_axis",
    "pad_leading",
    "padded_size",
    "replicated",
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
        batch_size: if given, the ``data`` axis is shrunk until it divides the batch (devices left over go unused).
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
    if instance_axis is None:
        instance_axis = max(d for d in range(1, n + 1) if n % d == 0 and d <= max(num_instances, 1))
    if instance_axis < 1 or n % instance_axis:
        raise ConfigError(f"instance_mesh: instance_axis={instance_axis} must divide the {n} devices")
    data_axis = n // instance_axis
    if batch_size is not None:
        data_axis = math.gcd(data_axis, int(batch_size))
    used = np.asarray(devices[: instance_axis * data_axis], dtype=object).reshape(instance_axis, data_axis)
    return Mesh(used, (INSTANCE, DATA))


def instance_sharding(mesh: Mesh) -> NamedSharding:
    """Leading (instance) axis sharded over ``instance``, everything else replicated."""
    return NamedSharding(mesh, P(INSTANCE))


def batch_sharding(mesh: Mesh) -> NamedSharding:
    """(instance, batch, ...) arrays: instances over ``instance``, the batch over ``data``."""
    return NamedSharding(mesh, P(INSTANCE, DATA))


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, P())


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


def memory_budget(budget: int | None = None, *, fraction: float = 0.25) -> int:
    """Bytes one evaluation or scoring call may use: ``budget`` when given, else ``fraction`` of the memory of the
    default backend's first device (its allocator limit on an accelerator; physical RAM on CPU)."""
    if budget is not None:
        return int(budget)
    device = jax.devices()[0]
    if device.platform != "cpu":
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
    return int(ram * fraction)


def program_bytes(jitted, *args) -> int:
    """Peak memory of one call of ``jitted(*args)`` from XLA's ``memory_analysis`` of its compiled program.

    ``args`` may be arrays or ``jax.ShapeDtypeStruct`` s. The figure is arguments + outputs + XLA scratch
    (less donated aliases); on CPU, where every (fake) device lives in host RAM, it is the sum over the devices the
    program spans. The compiled executable stays in JAX's cache, so a following call with the same shapes does not
    compile again.
    """
    compiled = jitted.lower(*args).compile()
    m = compiled.memory_analysis()
    if m is None:  # a backend without memory analysis: nothing to go by
        return 0
    per_device = (m.argument_size_in_bytes + m.output_size_in_bytes + m.temp_size_in_bytes
                  - getattr(m, "alias_size_in_bytes", 0))
    devices = compiled.input_shardings[0]
    count = 1
    leaves = jax.tree_util.tree_leaves(devices)
    if leaves and jax.devices()[0].platform == "cpu":
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


def to_host(tree):
    """Every array of ``tree`` as a host numpy array (the one place results leave the devices)."""
    return jax.tree_util.tree_map(lambda x: np.asarray(jax.device_get(x)), tree)


def initialize(force: bool = False, **kwargs) -> bool:
    """Start multi-host JAX (``jax.distributed.initialize``) when ``force`` or ``INFANTJAX_DISTRIBUTED=1``.

    Returns:
        True if the distributed runtime was started.
    """
    if not (force or os.environ.get("INFANTJAX_DISTRIBUTED") == "1"):
        return False
    jax.distributed.initialize(**kwargs)
    return True
