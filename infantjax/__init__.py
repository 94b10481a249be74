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
    "augment", "backend", "cache", "clinical", "cli", "deploy", "ensemble", "errors", "explain", "infer", "io", "metrics",
    "models", "nas", "nn", "parallel", "pipelines", "preprocess", "protocols", "report", "sequence", "skeleton", "synth",
    "train",
)

__all__ = ["InfantJaxError", "__version__", "load", *_SUBMODULES]


def lazy_submodules(package: str, names: tuple[str, ...]):
    """The module ``__getattr__`` of ``package`` that imports its submodules ``names`` on first use (PEP 562), so
    importing a package does not start JAX; ``infantjax``, ``infantjax.pipelines`` and ``infantjax.protocols`` use it.

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


__getattr__ = lazy_submodules(__name__, _SUBMODULES)


def load(name_or_path):
    """A trained model of any family: a zoo name (``infantjax.models.zoo.available()``), a folder or ``.npz`` file
    written by a model's ``save``, or an older file its family recognises (a pose ``.npz`` weights file, an official
    EfficientPose Keras ``.h5``, an ensemble folder with ``ensemble.json``); a MovementOutcome import is a saved
    ensemble folder (``infantjax import-movementoutcome``). Its ``predict`` takes the family's recording and returns
    its typed result; neither the optimiser nor :mod:`infantjax.train` is needed to load it.

    Raises:
        ConfigError: neither an existing path nor a zoo name. CheckpointError: a file that is not a saved model.
    """
    from infantjax.infer.registry import load as _load  # here, not at the top: importing infantjax stays cheap

    return _load(name_or_path)
