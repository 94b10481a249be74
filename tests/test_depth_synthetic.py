"""Synthetic depth clips from the synthetic infant (seed 004 set-up) for the depth networks."""

from __future__ import annotations

import numpy as np
import pytest

from infantjax.errors import ConfigError
from infantjax.preprocess.depth import prepare_clips
from infantjax.synth.depth_clips import synthetic_clips


def test_synthetic_clips_are_deterministic_depth_with_babypose_keypoints():
    clips, keypoints, subjects = synthetic_clips(2, 3, 32, 48, seed=5)
    assert clips.shape == (6, 3, 32, 48) and clips.dtype == np.uint16
    assert keypoints.shape == (6, 3, 12, 2) and keypoints.dtype == np.float32
    np.testing.assert_array_equal(subjects, [0, 0, 0, 1, 1, 1])
    again = synthetic_clips(2, 3, 32, 48, seed=5)
    np.testing.assert_array_equal(clips, again[0])
    np.testing.assert_array_equal(keypoints, again[1])
    other = synthetic_clips(2, 3, 32, 48, seed=6)  # held-out sets: other infants
    assert not np.allclose(np.nan_to_num(keypoints), np.nan_to_num(other[1]))
    # the mattress ~40 cm from the camera, the infant closer to it (seed 004 set-up), holes read 0
    valid = clips[clips > 0]
    assert 380 <= np.median(valid) <= 420 and valid.min() < 370
    # consecutive frames of a clip move a little (30 fps), clips of one infant differ
    found = np.isfinite(keypoints[..., 0])
    step = np.linalg.norm(keypoints[:, 1] - keypoints[:, 0], axis=-1)[found[:, 0] & found[:, 1]]
    assert np.median(step) < 1.5
    # joints lie on the body: the depth there is closer than the mattress
    n, t, j = np.nonzero(found)
    x = np.clip(np.round(keypoints[n, t, j, 0]).astype(int), 0, 47)
    y = np.clip(np.round(keypoints[n, t, j, 1]).astype(int), 0, 31)
    depth = clips[n, t, y, x].astype(float)
    assert np.mean((depth > 0) & (depth < 390)) > 0.8
    # keypoints outside the image are NaN and give empty target maps
    assert np.all((keypoints[found] >= -0.5) & (keypoints[found][..., :1] <= 47.5))
    data = prepare_clips(clips, keypoints, radius=3)
    assert data.binary.shape == (6, 3, 32, 48, 20)


def test_bad_synthetic_settings_raise():
    with pytest.raises(ConfigError, match="positive integers"):
        synthetic_clips(0, 2)
    with pytest.raises(ConfigError, match="at least 8"):
        synthetic_clips(1, 1, 4, 4)
    with pytest.raises(ConfigError, match="hole_rate"):
        synthetic_clips(1, 1, 16, 16, hole_rate=1.5)
