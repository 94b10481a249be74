"""Everything that touches files: keypoint files, videos, pretrained weights.

* :func:`read_keypoints` / :func:`write_keypoints` — DeepLabCut CSV and training ``.mat``, the CP reference CSV,
  OpenPose and COCO JSON, infantjax ``.npz`` ↔ :class:`~infantjax.sequence.SkeletonSequence` (keypoints/, one
  module per format).
* :func:`open_video` → :class:`VideoSource` (PyAV by default, decord optional), :func:`write_video` /
  :class:`VideoWriter` (video.py).
* :func:`read_cohort` / :func:`write_cohort` — a folder of keypoint files + labels CSV ↔ Cohort (cohort.py).
* :func:`read_limb_tracks` / :func:`write_limb_tracks` — Kinect limb tracks of seed 000, (T, 4, 3) ↔ 12-column CSV,
  ``.npy``, ``.npz`` (kinect.py).
* :mod:`infantjax.io.files` — the atomic write every infantjax file writer uses (temporary file, fsync, rename).
* :func:`load_efficientpose_h5` — official EfficientPose Keras ``.h5`` → Flax variables (weights.py).
* :func:`read_state_dict` / :func:`write_state_dict` — PyTorch state dicts in ``.npz``, ``.safetensors`` and
  (with PyTorch installed) ``.pt``/``.pth`` files, never unpickled otherwise (state_dict.py).

``io`` imports nothing from infantjax but ``errors``, ``skeleton`` and ``sequence``.
"""

from __future__ import annotations

import importlib

from infantjax.errors import WeightsError
from infantjax.io.cohort import read_cohort, read_labels, write_cohort
from infantjax.io.keypoints import FORMATS, detect_format, read_keypoints, write_keypoints
from infantjax.io.kinect import read_limb_tracks, write_limb_tracks
from infantjax.io.state_dict import read_state_dict, write_state_dict
from infantjax.io.video import VideoSource, VideoWriter, open_video, write_video

__all__ = [
    "FORMATS", "detect_format", "read_keypoints", "write_keypoints",
    "VideoSource", "VideoWriter", "open_video", "write_video",
    "read_cohort", "read_labels", "write_cohort",
    "read_limb_tracks", "write_limb_tracks",
    "load_efficientpose_h5",
    "read_state_dict", "write_state_dict",
]


def load_efficientpose_h5(path, *args, **kwargs):
    """Official EfficientPose ``.h5`` weights → Flax variables (forwards to :mod:`infantjax.io.weights`)."""
    try:
        weights = importlib.import_module("infantjax.io.weights")
    except ModuleNotFoundError as err:
        if err.name != "infantjax.io.weights":
            raise
        raise WeightsError("this infantjax build has no infantjax.io.weights module (EfficientPose .h5 loader)") \
            from None
    return weights.load_efficientpose_h5(path, *args, **kwargs)
