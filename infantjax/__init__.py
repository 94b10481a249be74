"""infantjax: video-based infant movement analysis in JAX/Flax.

Submodules are imported lazily, so ``import infantjax`` stays fast and does not start JAX until a model is used::

    import infantjax
    skel = infantjax.skeleton.get("in-motion-19")
"""

from __future__ import annotations

from infantjax._lazy import lazy_submodules
from infantjax._version import __version__
from infantjax.errors import InfantJaxError

_SUBMODULES = (
    "augment", "backend", "cache", "clinical", "cli", "deploy", "ensemble", "errors", "explain", "infer", "io", "metrics",
    "models", "nas", "nn", "parallel", "pipelines", "preprocess", "protocols", "report", "sequence", "skeleton", "synth",
    "train",
)

__all__ = ["InfantJaxError", "__version__", "load", *_SUBMODULES]


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
