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


def load(name_or_path, *, kind=None):
    """A trained model of any family: a zoo name (``infantjax.models.zoo.available()``), a folder or ``.npz`` file
    written by a model's ``save``, or an older file its family recognises (a pose ``.npz`` weights file, an official
    EfficientPose Keras ``.h5``, an ensemble folder with ``ensemble.json``); a MovementOutcome import is a saved
    ensemble folder (``infantjax import-movementoutcome``). Its ``predict`` takes the family's recording and returns
    its typed result; neither the optimiser nor :mod:`infantjax.train` is needed to load it. ``kind`` (``"pose"``,
    ``"ensemble"``, ``"depth"``, ...) refuses a model of another family before its weights are read::

        pose = infantjax.load(args.pose, kind="pose")   # a CP ensemble's name here is a ConfigError, not a surprise

    Raises:
        ConfigError: neither an existing path nor a zoo name; a model of another family than ``kind``.
        CheckpointError: a file that is not a saved model.
    """
    from infantjax.infer.registry import load as _load  # here, not at the top: importing infantjax stays cheap

    return _load(name_or_path, kind=kind)
