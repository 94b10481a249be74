"""Keypoint files → :class:`~infantjax.sequence.SkeletonSequence` and back.

Formats (``format=`` names; detected from the content when not given):

========== ======================================================================= ======= =====
name       what                                                                    read    write
========== ======================================================================= ======= =====
dlc-csv    DeepLabCut CSV: header rows scorer / bodyparts / coords, then one row    yes     yes
           per frame with ``x, y[, likelihood]`` per body part (other_seeds §1.1)
part-csv   the CP reference code's CSV: optional ``frame`` column, then             yes     yes
           ``<part>_x, <part>_y`` columns (gcn_reference A.9, In-Motion 19 names)
long-csv   one row per labelled point: ``image``/``frame``, ``joint_name``, x, y    yes     yes
openpose   a folder of per-frame ``*_keypoints.json`` files (BODY_25 or COCO-18)    yes     yes
coco       COCO keypoint JSON (images, annotations with 3·K keypoints, categories)  yes     yes
dlc-mat    DeepLabCut training-set ``.mat`` (struct array ``dataset``)              yes     yes
npz        infantjax's own ``.npz`` (everything, metadata included)                 yes     yes
========== ======================================================================= ======= =====

Per-image label sets (``coco``, ``dlc-mat``, ``long-csv`` keyed by image) come back as one SkeletonSequence with
one frame per labelled image (or per annotated person), ``metadata["time_series"] = False`` and
``metadata["images"]`` naming the image of every frame (``image_sizes`` as ``[height, width]`` where known).

Coordinates are pixels, x to the right and y down; NaN marks a missing keypoint. Errors: a file that cannot be
parsed raises :class:`~infantjax.errors.KeypointFormatError`; keypoints that do not fit the requested (or any
known) skeleton raise :class:`~infantjax.errors.SkeletonMismatchError`; parseable values that cannot be used
(``inf``) raise :class:`~infantjax.errors.DataError`.
"""

from infantjax.io.keypoints.dispatch import (
    FORMATS,
    WRITE_SUFFIXES,
    detect_format,
    read_keypoints,
    writable_format,
    write_keypoints,
)

__all__ = ["FORMATS", "WRITE_SUFFIXES", "detect_format", "read_keypoints", "writable_format", "write_keypoints"]
