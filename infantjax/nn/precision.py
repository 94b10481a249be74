"""Compute dtypes of the networks: mixed precision as the backend policy says, or as a spec says.

Every network has a ``dtype``: the dtype its layers compute in. Parameters (and BatchNorm statistics) stay float32
whatever it is; ``dtype="bfloat16"`` halves activation memory and is what accelerators run fast, and also runs on
CPU. Outputs that feed losses and decoding come back as float32; softmax is computed in float32.

Specs are JSON configs, so they hold the dtype by *name*: ``"auto"`` (every spec's default) or ``"float32"``,
``"bfloat16"``, ``"float16"``. :func:`dtype_name` turns what a user passes (a name, ``jnp.bfloat16``, a NumPy
dtype) into that name; :func:`resolve` turns a name into the dtype a network computes in when it is traced:
``"auto"`` is the backend policy's compute dtype (:func:`infantjax.backend.compute_dtype`: float32 on CPU,
bfloat16 on accelerators, switched by ``backend.use(compute_dtype=...)`` or ``$INFANTJAX_COMPUTE_DTYPE``), an
explicit name is kept under every policy. This module imports only NumPy at import time, so a spec can validate
its dtype without starting JAX.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from infantjax.errors import ConfigError

__all__ = ["AUTO", "COMPUTE_DTYPES", "DTYPE_NAMES", "dtype_name", "resolve"]

#: The floating dtypes a network can compute in.
COMPUTE_DTYPES = ("float32", "bfloat16", "float16")
#: The dtype name that follows the backend policy (mixed precision).
AUTO = "auto"
#: Every name a spec's ``dtype`` may hold.
DTYPE_NAMES = (AUTO, *COMPUTE_DTYPES)


def dtype_name(value: Any, owner: str = "dtype") -> str:
    """The name of a floating compute dtype.

    Arguments:
        value: ``"auto"`` (the backend policy's), ``"float32"``, ``"bfloat16"``, ``"float16"``, or a
            dtype/scalar type (``jnp.bfloat16``, ``np.float32``).
        owner: what the dtype belongs to, for the error message (e.g. ``"GCNSpec.dtype"``).

    Returns:
        the dtype's name, one of :data:`DTYPE_NAMES`.

    Raises:
        ConfigError: ``value`` is not one of those dtypes.
    """
    name = value if isinstance(value, str) else None
    if name is None:
        try:
            name = np.dtype(value).name
        except TypeError:
            name = repr(value)
    if name not in DTYPE_NAMES:
        raise ConfigError(f"{owner} must be one of {DTYPE_NAMES} (or the matching jnp dtype), got {value!r}")
    return name


def resolve(value: Any):
    """The dtype a network computes in for its spec's ``dtype`` (read when the network is traced).

    Arguments:
        value: a dtype name (``"auto"``: the backend policy's compute dtype, :func:`infantjax.backend.compute_dtype`)
            or a dtype.

    Returns:
        a ``jnp.dtype`` (float32, bfloat16 or float16).

    Raises:
        ConfigError: not a compute dtype.
    """
    import jax.numpy as jnp

    name = dtype_name(value)
    if name == AUTO:
        from infantjax import backend

        name = backend.compute_dtype()
    return jnp.dtype(name)
