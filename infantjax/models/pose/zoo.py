"""The pose family of the offline model zoo (:mod:`infantjax.models.zoo`): pose network weights shipped inside the
package (never downloaded).

Every entry is a pickle-free ``.npz`` in ``infantjax/models/pose/weights/`` in the common trained-model format
(``__header__``: kind ``pose``, spec, skeleton name, storage dtype; the variables), as ``PosePredictor.save``
writes it; until 2026-11-24 they were in the predictor's older single-file format (``__meta__``), which
:mod:`infantjax.infer.pose` still reads. :func:`available` lists them with what a user needs
to choose: keypoint set, input resolution, licence and source. ``PosePredictor.pretrained(name)`` and
``infantjax pose VIDEO --pose NAME`` load them through :func:`infantjax.models.zoo.weights_file`, the one loader of
every family's shipped models.

The four official MPII models are the ``.h5`` files of the public EfficientPose repository (daniegr/EfficientPose,
commit 78e4bd19, Apache-2.0) converted once, value for value, by ``experiments/convert_mpii_zoo.py``; their heatmaps
equal the official Keras outputs on the reference image to 1e-4 (tests/test_pose_zoo.py).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from infantjax.models import zoo as _zoo
from infantjax.models.zoo import ZooEntry

__all__ = ["ZOO", "ZooEntry", "available", "entry", "weights_file"]

#: The pose entries of the zoo, by name.
ZOO: dict[str, ZooEntry] = {e.name: e for e in _zoo.available("pose")}


def available() -> list[ZooEntry]:
    """The shipped pose models (name, keypoints, resolution, licence, source), in a stable order."""
    return list(ZOO.values())


def entry(name: str) -> ZooEntry:
    """The pose zoo entry called ``name``; a :class:`~infantjax.errors.ConfigError` lists the names when it is
    unknown (or names the class that loads another family's entry)."""
    return _zoo.entry(name, "pose")


@contextlib.contextmanager
def weights_file(name: str) -> Iterator[str]:
    """The path of the shipped weights of ``name`` (a context: a zipped installation extracts it meanwhile)."""
    with _zoo.weights_file(name, "pose") as path:
        yield path
