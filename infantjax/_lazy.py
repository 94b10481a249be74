"""Lazily imported submodules (PEP 562): the ``__getattr__`` of a package whose submodules start JAX, so that
importing the package does not. Layer 0: every package may use it."""

from __future__ import annotations

import importlib

__all__ = ["lazy_submodules"]


def lazy_submodules(package: str, names: tuple[str, ...]):
    """The module ``__getattr__`` of ``package`` that imports its submodules ``names`` on first use (PEP 562), so
    importing a package does not start JAX; ``infantjax``, ``infantjax.infer``, ``infantjax.pipelines`` and
    ``infantjax.protocols`` use it.

    Arguments:
        package: the package's ``__name__``.
        names: its submodules.

    Returns:
        ``__getattr__(name)``: the submodule, imported and cached in the package's namespace; AttributeError else.
    """
    def __getattr__(name: str):
        if name in names:
            module = importlib.import_module(f"{package}.{name}")
            setattr(importlib.import_module(package), name, module)
            return module
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
