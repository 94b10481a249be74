"""Preprocessing of skeleton sequences.

* :mod:`~infantjax.preprocess.windows` — 150-frame windows with a 75-frame hop, the last aligned to the end;
* :mod:`~infantjax.preprocess.features` — position, velocity and bone features (jit-able);
* :mod:`~infantjax.preprocess.cp` — the CP pipeline of seed 002 (reference v1 and v2): resampling, median filter,
  gap filling, centring and trunk normalisation, y flip, window rotation, per-frame trunk alignment, Butterworth;
* :mod:`~infantjax.preprocess.passmore` — the smartphone pipeline of seed 003 (quality control, torso alignment,
  outlier removal, gap filling, size normalisation, cubic resampling, 46 features, 128-frame clips).
"""

from infantjax.preprocess import passmore
from infantjax.preprocess.cp import (
    CP_VERSIONS,
    align_trunk,
    butterworth,
    cp_windows,
    fill_gaps,
    flip_y,
    mask_low_confidence,
    median_filter,
    median_pelvis,
    mirror,
    normalise,
    preprocess_cp,
    resample,
    resample_times,
    rotate_windows,
    spine_orientation,
    spine_rotation_angle,
    trunk_length,
)
from infantjax.preprocess.features import FEATURE_MODES, bones, features, velocity
from infantjax.preprocess.passmore import joint_angles, passmore_features, preprocess_passmore
from infantjax.preprocess.windows import WINDOW_MODES, window_starts, windows

__all__ = [
    "CP_VERSIONS",
    "FEATURE_MODES",
    "WINDOW_MODES",
    "align_trunk",
    "bones",
    "butterworth",
    "cp_windows",
    "features",
    "fill_gaps",
    "flip_y",
    "joint_angles",
    "mask_low_confidence",
    "median_filter",
    "median_pelvis",
    "mirror",
    "normalise",
    "passmore",
    "passmore_features",
    "preprocess_cp",
    "preprocess_passmore",
    "resample",
    "resample_times",
    "rotate_windows",
    "spine_orientation",
    "spine_rotation_angle",
    "trunk_length",
    "velocity",
    "window_starts",
    "windows",
]
