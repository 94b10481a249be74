"""Shared by the tests that track a rendered video with the official EfficientPose RT Lite weights
(tests/test_pose_video.py, tests/test_pose_inference.py, tests/test_pose_data_parallel.py): the predictor, read from
the Keras file once, and one video of nine rendered infants' frames (96 × 128, MPII 16 keypoints, 30 fps, H.264 MP4),
rendered once at one size (the files had a copy each, two of them at two sizes; the checks that need no more track
its first 5 frames, max_frames=5)."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest


@pytest.fixture(scope="session")
def rt_lite(data_dir):
    """The official EfficientPose RT Lite weights as a predictor (MPII 16 keypoints)."""
    from infantjax.pipelines.pose import PosePredictor

    return PosePredictor.from_keras_h5(data_dir / "efficientpose" / "keras" / "EfficientPoseRT_LITE.h5")


@pytest.fixture(scope="session")
def rt_lite_video(tmp_path_factory) -> tuple[pathlib.Path, np.ndarray]:
    """The video's path and its nine frames (9, 96, 128, 3) uint8."""
    from infantjax import synth
    from infantjax.io import write_video

    frames, _, _ = synth.render_frames(9, seed=3, height=96, width=128, skeleton="mpii-16")
    path = tmp_path_factory.mktemp("rt_lite_video") / "infant.mp4"
    write_video(path, frames, fps=30.0)
    return path, frames
