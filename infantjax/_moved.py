"""Module paths that moved, in one table: importing an old path warns once (``DeprecationWarning``, naming the new
path) and gives the module at the new path itself, so old imports and monkeypatches keep working until the old
path is removed. A moved module leaves a two-line file at its old path that calls :func:`alias`."""

from __future__ import annotations

import importlib
import sys
import warnings

__all__ = ["MOVED", "alias"]

#: old module path → (new module path, the version that moved it)
MOVED = {
    "infantjax.train.predict": ("infantjax.infer.predict", "0.1.0"),
    "infantjax.train.trained": ("infantjax.infer.trained", "0.1.0"),
}


def alias(old: str) -> None:
    """Make the module being imported as ``old`` (a key of :data:`MOVED`) the module at its new path, with a
    ``DeprecationWarning`` saying where it went."""
    new, version = MOVED[old]
    warnings.warn(f"{old} moved to {new} in infantjax {version}; import it from there (the old path will be "
                  "removed)", DeprecationWarning, stacklevel=3)
    sys.modules[old] = importlib.import_module(new)
