"""infantjax: video-based infant movement analysis in JAX/Flax.

Submodules are imported lazily, so ``import infantjax`` stays fast and does not start JAX until a model is used::

    import infantjax
    skel = infantjax.skeleton.get("in-motion-19")
"""

from __future__ import annotations

import importlib

from infantjax.errors import InfantJaxError

__version__ = "0.1.0"

_SUBMODULES = (
    "augment", "backend", "cache", "clinical", "cli", "deploy", "ensemble", "errors", "explain", "io", "metrics",
    "models", "nas", "nn", "parallel", "pipelines", "preprocess", "protocols", "report", "sequence", "skeleton", "synth",
    "train",
)

__all__ = ["InfantJaxError", "__version__", *_SUBMODULES]


def __getattr__(name: str):
    if name in _SUBMODULES:
        module = importlib.import_module(f"infantjax.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'infantjax' has no attribute {name!r}")
