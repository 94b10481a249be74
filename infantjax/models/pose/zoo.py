"""The pose family of the offline model zoo (:mod:`infantjax.models.zoo`): pose network weights shipped inside the
package (never downloaded), declared here beside the network and its ``weights/`` folder; the pose family's
registration (:class:`infantjax.infer.pose.PosePredictor`) carries them into the zoo.

Every entry is a pickle-free ``.npz`` in ``infantjax/models/pose/weights/`` in the common trained-model format
(``__header__``: kind ``pose``, spec, skeleton name, storage dtype; the variables), as ``PosePredictor.save``
writes it; until 2026-11-24 they were in the predictor's older single-file format (``__meta__``), which
:mod:`infantjax.infer.pose` still reads. :func:`available` lists them with what a user needs
to choose: keypoint set, input resolution, licence and source (:class:`PoseZooEntry`: the fields only a pose entry
has). ``PosePredictor.pretrained(name)`` and ``infantjax pose VIDEO --pose NAME`` load them through
:func:`infantjax.models.zoo.weights_file`, the one loader of every family's shipped models.

The four official MPII models are the ``.h5`` files of the public EfficientPose repository (daniegr/EfficientPose,
commit 78e4bd19, Apache-2.0) converted once, value for value, by ``experiments/convert_mpii_zoo.py``; their heatmaps
equal the official Keras outputs on the reference image to 1e-4 (tests/test_pose_zoo.py).
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator

from infantjax.models import zoo as _zoo
from infantjax.models.zoo import ZooEntry

__all__ = ["ZOO", "PoseZooEntry", "ZooEntry", "available", "entry", "weights_file"]


@dataclasses.dataclass(frozen=True)
class PoseZooEntry(ZooEntry):
    """A shipped pose model: a :class:`~infantjax.models.zoo.ZooEntry` with what only a pose network has.

    Attributes:
        variant: EfficientPose variant (``rt``, ``i``, ``rt_lite``, ``i_lite``).
        skeleton: keypoint set of the heatmaps (``mpii-16`` or ``in-motion-19``).
        resolution: input size R.
    """

    package: str = "infantjax.models.pose"
    variant: str | None = None
    skeleton: str | None = None
    resolution: int | None = None


_MPII_SOURCE = "github.com/daniegr/EfficientPose @ 78e4bd19 (official Keras .h5, converted value for value)"
_MPII_NOTE = ("official MPII-trained weights (adult MPII Human Pose images, 16 keypoints); keypoints tracked with "
              "them reach infantjax.predict through sequence.map_to / `predict --map-skeleton approximate`")



def _pose(name: str, file: str, variant: str, skeleton: str, resolution: int, licence: str, source: str,
          description: str, trained_on: str, held_out: str = "") -> PoseZooEntry:
    return PoseZooEntry(name, "pose", file, licence, source, description, trained_on, held_out,
                        variant=variant, skeleton=skeleton, resolution=resolution)


_MPII_DATA = "MPII Human Pose (adult images), by the EfficientPose authors"
_MPII_HELD = "heatmaps equal the official Keras outputs on the reference image to 1e-4"

#: The pose entries of the zoo, by name, in their order (the last, rt-synthetic-infant-roi, is the default).
ZOO: dict[str, PoseZooEntry] = {e.name: e for e in (
    _pose("efficientpose-rt-mpii", "efficientpose_rt_mpii.npz", "rt", "mpii-16", 224, "Apache-2.0", _MPII_SOURCE,
          "EfficientPose RT, " + _MPII_NOTE, _MPII_DATA, _MPII_HELD),
    _pose("efficientpose-i-mpii", "efficientpose_i_mpii.npz", "i", "mpii-16", 256, "Apache-2.0", _MPII_SOURCE,
          "EfficientPose I, " + _MPII_NOTE, _MPII_DATA, _MPII_HELD),
    _pose("efficientpose-rt-lite-mpii", "efficientpose_rt_lite_mpii.npz", "rt_lite", "mpii-16", 224, "Apache-2.0",
          _MPII_SOURCE, "EfficientPose RT Lite, " + _MPII_NOTE, _MPII_DATA, _MPII_HELD),
    _pose("efficientpose-i-lite-mpii", "efficientpose_i_lite_mpii.npz", "i_lite", "mpii-16", 256, "Apache-2.0",
          _MPII_SOURCE, "EfficientPose I Lite, " + _MPII_NOTE, _MPII_DATA, _MPII_HELD),
    _pose("rt-synthetic-infant", "rt_synthetic_infant.npz", "rt", "in-motion-19", 128,
          "Apache-2.0 (derived from the official EfficientPose RT weights)",
          "infantjax experiments/train_infant_pose.py (fine-tuned from efficientpose-rt-mpii)",
          "EfficientPose RT (128 px, In-Motion 19 keypoints) fine-tuned from the official MPII weights on "
          "rendered synthetic infants only; for demos and tests on synthetic videos, not for real infants",
          "rendered synthetic infants (infantjax.synth.pose)", "PCKh@0.5 on held-out renders, docs/pose.md"),
    _pose("rt-synthetic-infant-home", "rt_synthetic_infant_home.npz", "rt", "in-motion-19", 128,
          "Apache-2.0 (derived from the official EfficientPose RT weights)",
          "infantjax experiments/train_infant_pose.py --recipe roi --occluders 0.3 --grey 0.15 --dim 0.15 "
          "--shake 0.15 (continued from rt-synthetic-infant-roi)",
          "rt-synthetic-infant-roi trained further on what home videos add: occluders (a blanket, a parent's "
          "hand, a toy) whose hidden joints have no target, so that it gives a hidden joint a low confidence "
          "instead of drawing it; grey (infrared), dim and shaken crops; tracks as rt-synthetic-infant-roi does; "
          "for synthetic videos, not for real infants",
          "4,096 region-of-interest crops of rendered synthetic infants (seed 0), 30 % occluded and 15 % each "
          "grey, dim and shaken, besides rt-synthetic-infant-roi's blur, noise, JPEG and lighting "
          "(infantjax.synth.pose.roi_examples)",
          "256 held-out crops (seed 10,000): PCKh@0.1 86.5 % clean, 79.6 % occluded, 81.0 % grey, 77.1 % dim; "
          "45 % of hidden joints drawn with confidence (rt-synthetic-infant-roi: 86.7, 73.2, 79.6, 68.7 %; "
          "87 %) (docs/pose.md)"),
    _pose("rt-synthetic-infant-roi", "rt_synthetic_infant_roi.npz", "rt", "in-motion-19", 128,
          "Apache-2.0 (derived from the official EfficientPose RT weights)",
          "infantjax experiments/train_infant_pose.py --recipe roi (continued from rt-synthetic-infant)",
          "EfficientPose RT (128 px, In-Motion 19 keypoints) trained on the infant tracker's region-of-interest "
          "crops of rendered synthetic infants, every layer; tracks with the region of interest, sub-pixel "
          "decoding, consistent sides and head-up input; the default infant pose model, for synthetic videos, "
          "not for real infants",
          "8,192 region-of-interest crops of rendered synthetic infants with phone-like blur, noise, JPEG and "
          "lighting (infantjax.synth.pose.roi_examples, seed 0)",
          "PCKh@0.1 89.9 %, median error 3.9 % of a head length on 32 held-out rendered 640x480 videos "
          "(docs/assess.md)"),
)}



def available() -> list[PoseZooEntry]:
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
