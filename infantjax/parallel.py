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
    "initialize",
    "instance_mesh",
    "instance_sharding",
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
