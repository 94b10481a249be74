"""The offline model zoo: pose network weights shipped inside the package (never downloaded).

Every entry is a pickle-free ``.npz`` in ``infantjax/models/pose/weights/`` written by ``PosePredictor.save`` (spec,
skeleton name and variables; see :mod:`infantjax.pipelines.pose`). :func:`available` lists them with what a user needs
to choose: keypoint set, input resolution, licence and source. ``PosePredictor.pretrained(name)`` and
``infantjax pose VIDEO --weights NAME`` load them.

The four official MPII models are the ``.h5`` files of the public EfficientPose repository (daniegr/EfficientPose,
commit 78e4bd19, Apache-2.0) converted once, value for value, by ``experiments/convert_mpii_zoo.py``; their heatmaps
equal the official Keras outputs on the reference image to 1e-4 (tests/test_pose_zoo.py).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterator
from importlib import resources

from infantjax.errors import CheckpointError, ConfigError

__all__ = ["ZooEntry", "ZOO", "available", "entry", "weights_file"]

_MPII_SOURCE = "github.com/daniegr/EfficientPose @ 78e4bd19 (official Keras .h5, converted value for value)"
_MPII_NOTE = ("official MPII-trained weights (adult MPII Human Pose images, 16 keypoints); keypoints tracked with "
              "them reach infantjax.predict through sequence.map_to / `predict --map-skeleton approximate`")


@dataclasses.dataclass(frozen=True)
class ZooEntry:
    """One shipped pose model.

    Attributes:
        name: the name ``PosePredictor.pretrained`` and ``--weights`` take.
        file: file name under ``infantjax/models/pose/weights/``.
        variant: EfficientPose variant (``rt``, ``i``, ``rt_lite``, ``i_lite``).
        skeleton: keypoint set of the heatmaps (``mpii-16`` or ``in-motion-19``).
        resolution: network input size R (images are rescaled and padded to R × R).
        licence: licence of the weights.
        source: where the weights come from.
        description: what the model is for, and what it is not for.
    """

    name: str
    file: str
    variant: str
    skeleton: str
    resolution: int
    licence: str
    source: str
    description: str


ZOO: dict[str, ZooEntry] = {e.name: e for e in (
    ZooEntry("efficientpose-rt-mpii", "efficientpose_rt_mpii.npz", "rt", "mpii-16", 224, "Apache-2.0",
             _MPII_SOURCE, "EfficientPose RT, " + _MPII_NOTE),
    ZooEntry("efficientpose-i-mpii", "efficientpose_i_mpii.npz", "i", "mpii-16", 256, "Apache-2.0",
             _MPII_SOURCE, "EfficientPose I, " + _MPII_NOTE),
    ZooEntry("efficientpose-rt-lite-mpii", "efficientpose_rt_lite_mpii.npz", "rt_lite", "mpii-16", 224,
             "Apache-2.0", _MPII_SOURCE, "EfficientPose RT Lite, " + _MPII_NOTE),
    ZooEntry("efficientpose-i-lite-mpii", "efficientpose_i_lite_mpii.npz", "i_lite", "mpii-16", 256,
             "Apache-2.0", _MPII_SOURCE, "EfficientPose I Lite, " + _MPII_NOTE),
    ZooEntry("rt-synthetic-infant", "rt_synthetic_infant.npz", "rt", "in-motion-19", 128,
             "Apache-2.0 (derived from the official EfficientPose RT weights)",
             "infantjax experiments/train_infant_pose.py (fine-tuned from efficientpose-rt-mpii)",
             "EfficientPose RT (128 px, In-Motion 19 keypoints) fine-tuned from the official MPII weights on "
             "rendered synthetic infants only; for demos and tests on synthetic videos, not for real infants"),
)}


def available() -> list[ZooEntry]:
    """The shipped pose models (name, keypoints, resolution, licence, source), in a stable order."""
    return list(ZOO.values())


def entry(name: str) -> ZooEntry:
    """The zoo entry called ``name``; a :class:`ConfigError` lists the names when it is unknown."""
    try:
        return ZOO[name]
    except KeyError:
        raise ConfigError(f"unknown pretrained pose model {name!r}; available: {', '.join(ZOO)} "
                          "(or pass the path of a weights file)") from None


@contextlib.contextmanager
def weights_file(name: str) -> Iterator[str]:
    """The path of the shipped weights of ``name`` (a context: a zipped installation extracts it meanwhile)."""
    e = entry(name)
    ref = resources.files("infantjax.models.pose").joinpath("weights", e.file)
    with resources.as_file(ref) as path:
        if not os.path.isfile(path):
            raise CheckpointError(f"the packaged weights {e.file!r} of {name!r} are missing from this installation "
                                  "(package data infantjax/models/pose/weights/*.npz); reinstall infantjax")
        yield os.fspath(path)
