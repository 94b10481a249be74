"""Compute dtypes of the networks.

Every network has a ``dtype``: the dtype its layers compute in. Parameters (and BatchNorm statistics) stay float32
whatever it is; ``dtype="bfloat16"`` halves activation memory and is what accelerators run fast, and also runs on
CPU. Outputs that feed losses and decoding come back as float32.

Specs are JSON configs, so they hold the dtype by *name* (``"float32"``, ``"bfloat16"``, ``"float16"``);
:func:`dtype_name` turns what a user passes (a name, ``jnp.bfloat16``, a NumPy dtype) into that name. This module
imports only NumPy, so a spec can validate its dtype without starting JAX.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from infantjax.errors import ConfigError

__all__ = ["COMPUTE_DTYPES", "dtype_name"]

COMPUTE_DTYPES = ("float32", "bfloat16", "float16")


def dtype_name(value: Any, owner: str = "dtype") -> str:
    """The name of a floating compute dtype.

    Arguments:
        value: ``"float32"``, ``"bfloat16"``, ``"float16"``, or a dtype/scalar type (``jnp.bfloat16``,
            ``np.float32``).
        owner: what the dtype belongs to, for the error message (e.g. ``"GCNSpec.dtype"``).

    Returns:
        the dtype's name, one of :data:`COMPUTE_DTYPES`.

    Raises:
        ConfigError: ``value`` is not one of those dtypes.
    """
    name = value if isinstance(value, str) else None
    if name is None:
        try:
            name = np.dtype(value).name
        except TypeError:
            name = repr(value)
    if name not in COMPUTE_DTYPES:
        raise ConfigError(f"{owner} must be one of {COMPUTE_DTYPES} (or the matching jnp dtype), got {value!r}")
    return name
