"""The offline model zoo: trained models shipped inside the package (never downloaded), an entry for every family.

Each entry is one pickle-free ``.npz`` file in the package, every one in the common trained-model format
(:meth:`infantjax.train.TrainedModel.save` to a ``.npz`` path): the pose networks (``infantjax/models/pose/weights/``:
the four official MPII EfficientPose models and one fine-tuned on synthetic infants) and one model of every other
family (``infantjax/models/weights/``, written by ``experiments/train_zoo.py``, trained on the synthetic infant
only). :func:`available` lists them with what a user needs to choose one — the family, what it was trained on,
its held-out figure on fresh synthetic data, its licence and source — and :func:`weights_file` is the one loader
every family's ``pretrained(name)`` opens its file with (``PosePredictor.pretrained``, ``Ensemble.pretrained``,
``SMAModel.pretrained``, ``SmartphoneModel.pretrained``, ``MamModel.pretrained``, ``DepthModel.pretrained``:
:meth:`infantjax.train.TrainedModel.pretrained`).

The models trained on synthetic data are for trying a family out (the demo, the tests, a first look at the API);
they have never seen a real infant and are not for clinical use. docs/zoo.md states how each was trained and its
figures.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterable, Iterator
from importlib import resources

from infantjax.errors import CheckpointError, ConfigError

__all__ = ["ZOO", "ZooEntry", "available", "default", "entry", "families", "weights_file"]

_MPII_SOURCE = "github.com/daniegr/EfficientPose @ 78e4bd19 (official Keras .h5, converted value for value)"
_MPII_NOTE = ("official MPII-trained weights (adult MPII Human Pose images, 16 keypoints); keypoints tracked with "
              "them reach infantjax.predict through sequence.map_to / `predict --map-skeleton approximate`")
_SYNTHETIC = "infantjax experiments/train_zoo.py"
_NOT_CLINICAL = "trained on the synthetic infant only: for trying the family out, not for clinical use"


@dataclasses.dataclass(frozen=True)
class ZooEntry:
    """One shipped model.

    Attributes:
        name: the name ``<Family>.pretrained`` (and ``infantjax pose --pose`` / ``infantjax export``) take.
        family: the ``kind`` of its trained model (the family registered for it,
            :func:`infantjax.infer.registry.family`).
        file: file name in the folder ``weights/`` of ``package``.
        licence: licence of the weights.
        source: where the weights come from.
        description: what the model is for, and what it is not for.
        trained_on: the data it was trained on.
        held_out: its figure on held-out data (for the synthetic models: fresh synthetic infants it never saw).
        package: the package whose ``weights/`` folder holds ``file``.
        variant, skeleton, resolution: pose models only: EfficientPose variant (``rt``, ``i``, ``rt_lite``,
            ``i_lite``), keypoint set of the heatmaps (``mpii-16`` or ``in-motion-19``), input size R.
    """

    name: str
    family: str
    file: str
    licence: str
    source: str
    description: str
    trained_on: str = ""
    held_out: str = ""
    package: str = "infantjax.models"
    variant: str | None = None
    skeleton: str | None = None
    resolution: int | None = None


def _pose(name: str, file: str, variant: str, skeleton: str, resolution: int, licence: str, source: str,
          description: str, trained_on: str, held_out: str = "") -> ZooEntry:
    return ZooEntry(name, "pose", file, licence, source, description, trained_on, held_out,
                    "infantjax.models.pose", variant, skeleton, resolution)


_MPII_DATA = "MPII Human Pose (adult images), by the EfficientPose authors"
_MPII_HELD = "heatmaps equal the official Keras outputs on the reference image to 1e-4"

ZOO: dict[str, ZooEntry] = {e.name: e for e in (
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
          "decoding and consistent sides; the default infant pose model, for synthetic videos, not for real "
          "infants",
          "8,192 region-of-interest crops of rendered synthetic infants with phone-like blur, noise, JPEG and "
          "lighting (infantjax.synth.pose.roi_examples, seed 0)",
          "PCKh@0.1 89.9 %, median error 3.9 % of a head length on 32 held-out rendered 640x480 videos "
          "(docs/assess.md)"),
)}


def _register(*entries: ZooEntry) -> None:
    for e in entries:
        ZOO[e.name] = e


# the synthetic entries of the other families; their held-out figures are the ones experiments/train_zoo.py measured
# on fresh synthetic infants (other seeds than training), also written into each file's header (docs/zoo.md)
_register(
    ZooEntry("cp-gcn-synthetic", "ensemble", "cp_gcn_synthetic.npz", "Apache-2.0", _SYNTHETIC,
             "the demo GCN (infantjax.models.gcn.presets.demo_spec) × 7 cross-validation folds × 4 seeds (28 "
             "instances), CP risk from In-Motion 19 skeleton sequences; " + _NOT_CLINICAL,
             "112 easy synthetic infants, 20 s at 30 fps, 40 % with CP (seed 101); the demo GCN × 7 folds × 4 "
             "seeds (28 instances), the demo recipe",
             "held-out AUC 0.87 on 60 fresh synthetic infants (seed 1000)"),
    ZooEntry("cp-gcn-synthetic-3folds", "ensemble", "cp_gcn_synthetic_3folds.npz", "Apache-2.0", _SYNTHETIC,
             "cp-gcn-synthetic as it was until 2026-11-26: the same recipe with 3 folds and one seed, kept so that "
             "the figures measured with it can be reproduced; " + _NOT_CLINICAL,
             "112 easy synthetic infants, 20 s at 30 fps, 40 % with CP (seed 101); the demo GCN × 3 folds, "
             "the demo recipe",
             "held-out AUC 0.89 on 60 fresh synthetic infants (seed 1000)"),
    ZooEntry("cp-gcn-tracked", "ensemble", "cp_gcn_tracked.npz", "Apache-2.0", _SYNTHETIC,
             "the demo GCN × 7 cross-validation folds × 4 seeds trained on the keypoints the default infant pose "
             "model (rt-synthetic-infant-roi) tracks in rendered videos, so that it reads the inputs infantjax assess "
             "gives it; CP risk from In-Motion 19 skeleton sequences; " + _NOT_CLINICAL,
             "112 easy synthetic infants, 20 s at 30 fps, 40 % with CP (seed 101), the keypoints "
             "rt-synthetic-infant-roi tracks in their rendered 640x480 videos; the demo GCN × 7 folds × 4 "
             "seeds (28 instances), the demo recipe",
             "held-out AUC 0.88 on 60 fresh synthetic infants' rendered videos, tracked (seed 1000)"),
    ZooEntry("mam-synthetic", "mam", "mam_synthetic.npz", "Apache-2.0", _SYNTHETIC,
             "MAM (Ref / Main / Info branches, width 32) × 2 folds: risk, FMs clips and FMs frequency from 3D "
             "keypoints at 25 fps; " + _NOT_CLINICAL,
             "36 synthetic infants of 40 s at 25 fps, 3D keypoints (seed 101); Ref pretraining clips of 12 "
             "others (seed 1101); MAM width 32, 2 blocks, quick recipe, 2 folds",
             "held-out AUC 0.97, FMs-frequency AUC 0.94, clip κ 0.88 on 24 fresh synthetic infants (seed "
             "2000)"),
    ZooEntry("sma-narrow-synthetic", "soran-sma", "sma_narrow_synthetic.npz", "Apache-2.0", _SYNTHETIC,
             "the narrow copy of Table 1's CNN (SMASpec.narrow()) × leave-one-subject-out folds: CHOP INTEND "
             "extremity score from Kinect limb tracks; " + _NOT_CLINICAL,
             "10 synthetic SMA-like infants × 2 Kinect recordings of 60 s (seed 101); SMASpec.narrow(), "
             "leave-one-subject-out, quick recipe 20 epochs",
             "held-out recording error 12.2 points of 72 (LASSO 12.6, the training mean 12.9) on 12 fresh "
             "synthetic recordings (seed 1000)"),
    ZooEntry("smartphone-synthetic", "passmore-smartphone", "smartphone_synthetic.npz", "Apache-2.0", _SYNTHETIC,
             "the seed 003 1D-CNN with clip attention × repeated splits, Platt-calibrated abnormal-movement "
             "probability from smartphone (DeepLabCut passmore-18) keypoints; " + _NOT_CLINICAL,
             "60 easy synthetic infants of 20 s, passmore-18 keypoints (seed 101); 8 repeated splits, the "
             "quick recipe (40 epochs)",
             "held-out AUC 0.86 (catch22 0.78) on 40 fresh synthetic infants (seed 1000)"),
    ZooEntry("depth-synthetic", "depth", "depth_synthetic.npz", "Apache-2.0", _SYNTHETIC,
             "the detection U-Net + asymmetric 3D regression pair of seed 004 (small widths, 48×32 px clips): limb "
             "pose from depth clips; " + _NOT_CLINICAL,
             "rendered synthetic depth clips of 24 preterm infants, 48×32 px (seed 101); the demo's "
             "detection U-Net and residual asymmetric regression, 40 + 20 epochs",
             "held-out median RMSD 1.0 px per limb (mean training pose 3.0 px; 0 % of joints not found) on "
             "16 clips of 4 fresh synthetic infants (seed 1000)"),
)


def available(family: str | None = None) -> list[ZooEntry]:
    """The shipped models in a stable order: all of them, or those of one ``family`` (the ``kind`` of
    its trained model; :func:`families` lists them).

    Raises:
        ConfigError: an unknown family.
    """
    if family is None:
        return list(ZOO.values())
    _check_family(family)
    return [e for e in ZOO.values() if e.family == family]


def families() -> tuple[str, ...]:
    """The families (``kind`` of their trained models) that have an entry in the zoo, in the zoo's order."""
    return tuple(dict.fromkeys(e.family for e in ZOO.values()))


def _check_family(family: str) -> None:
    if family not in families():
        raise ConfigError(f"unknown model family {family!r}; the zoo has {', '.join(families())}")


def default(family: str) -> str:
    """The name of a family's default entry: its last (the model trained on the synthetic infant; for the pose
    family ``rt-synthetic-infant-roi``, after ``rt-synthetic-infant-home``, which is asked for by name)."""
    entries = available(family)
    if not entries:
        raise ConfigError(f"the zoo has no {family} model")
    return entries[-1].name


def did_you_mean(name: str, names: Iterable[str]) -> str:
    """``" (did you mean 'a' or 'b'?)"`` naming the entries of ``names`` close to a misspelt ``name``
    (:func:`difflib.get_close_matches`), or ``""`` when none is close: the tail of an unknown-name message."""
    import difflib

    names = list(names)
    near = difflib.get_close_matches(str(name), names, n=3, cutoff=0.75)
    if near:  # the closest, and only those about as close (not every entry sharing a long prefix)
        score = {n: difflib.SequenceMatcher(None, str(name), n).ratio() for n in near}
        near = [n for n in near if score[n] >= score[near[0]] - 0.02]
    return f" (did you mean {' or '.join(repr(n) for n in near)}?)" if near else ""


def entry(name: str, family: str | None = None) -> ZooEntry:
    """The zoo entry called ``name`` (of ``family`` when given).

    Raises:
        ConfigError: an unknown name (the message lists the family's names), or an entry of another family (the
            message names the class that loads it).
    """
    if family is not None:
        _check_family(family)
    e = ZOO.get(name)
    if e is None:
        names = [x.name for x in available(family)]
        what = f"{family} model" if family else "model"
        raise ConfigError(f"unknown pretrained {what} {name!r}{did_you_mean(name, names)}; available: "
                          f"{', '.join(names)} (or pass the path of a saved model)")
    if family is not None and e.family != family:
        raise ConfigError(f"the zoo entry {name!r} is a {e.family} model, not a {family} model; load it with "
                          f"infantjax.load({name!r})")
    return e


@contextlib.contextmanager
def weights_file(name: str, family: str | None = None) -> Iterator[str]:
    """The path of the shipped file of ``name`` (a context: a zipped installation extracts it meanwhile): the one
    loader of every family's ``pretrained(name)``.

    Raises:
        ConfigError: an unknown name or another family's (:func:`entry`). CheckpointError: the file is missing from
            the installation.
    """
    e = entry(name, family)
    ref = resources.files(e.package).joinpath("weights", e.file)
    with resources.as_file(ref) as path:
        if not os.path.isfile(path):
            folder = e.package.replace(".", "/") + "/weights"
            raise CheckpointError(f"the packaged file {e.file!r} of {name!r} is missing from this installation "
                                  f"(package data {folder}/*.npz); reinstall infantjax")
        yield os.fspath(path)
