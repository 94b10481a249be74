"""One place where layers choose between a CPU formulation and the plain one.

XLA:CPU runs some operations much faster when written differently: temporal convolutions as sums of shifted slices
(``nn.temporal``), depthwise image convolutions likewise (``nn.efficientnet``), the graph aggregation as one
explicit matmul (``nn.graph``). Each such layer takes an ``impl`` argument whose ``"auto"`` means "the CPU form on
the CPU backend, the plain form elsewhere"; :func:`resolve` turns it into a concrete choice and validates it. To
change how ``auto`` decides (e.g. to also use a form on GPU after measuring it), change it here.
"""

from __future__ import annotations

import jax

from infantjax.errors import ConfigError

__all__ = ["AUTO", "resolve"]

AUTO = "auto"


def resolve(impl: str, *, cpu: str, other: str, what: str = "impl") -> str:
    """The implementation to run for ``impl``.

    Arguments:
        impl: ``"auto"``, ``cpu`` or ``other``.
        cpu: the choice ``auto`` makes on the CPU backend.
        other: the choice ``auto`` makes on every other backend (GPU, TPU).
        what: the name of the argument, for the error message.

    Returns:
        ``cpu`` or ``other``. ``auto`` is decided from ``jax.default_backend()`` when the layer is traced.

    Raises:
        ConfigError: ``impl`` is not one of ``auto``, ``cpu``, ``other``.
    """
    if impl == AUTO:
        return cpu if jax.default_backend() == "cpu" else other
    if impl in (cpu, other):
        return impl
    choices = (AUTO, *dict.fromkeys((other, cpu)))
    raise ConfigError(f"{what} must be one of {choices}, got {impl!r}")
