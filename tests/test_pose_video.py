"""Keypoints from video: chunked decoding, batched inference, SkeletonSequence output, the CLI, bad videos."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from infantjax.cli import main as cli_main
from infantjax.errors import ConfigError, VideoError
from infantjax.io import read_keypoints, write_video
from infantjax.pipelines.pose import PosePredictor

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def rt_lite(data_dir):
    return PosePredictor.from_keras_h5(data_dir / "efficientpose" / "keras" / "EfficientPoseRT_LITE.h5")


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    from infantjax import synth

    frames, _, _ = synth.render_frames(9, seed=3, height=96, width=128, skeleton="mpii-16")
    path = tmp_path_factory.mktemp("video") / "infant.mp4"
    write_video(path, frames, fps=30.0)
    return path, frames


def test_track_matches_frame_by_frame_keypoints(rt_lite, video):
    path, frames = video
    seq = rt_lite.track(path, stride=2, batch_size=2, progress=False)
    assert seq.num_frames == 5 and seq.fps == 15.0
    assert seq.coords.shape == (5, 16, 2) and seq.confidence.shape == (5, 16)
    assert seq.skeleton.name == "mpii-16"
    assert ((seq.confidence >= 0) & (seq.confidence <= 1)).all()
    from infantjax.io import open_video

    with open_video(path) as src:
        decoded = src.get_batch([0, 2, 4, 6, 8])
    for i, frame in enumerate(decoded):  # batching and chunking do not change the result
        np.testing.assert_allclose(seq.coords[i], rt_lite.keypoints(frame) * [128, 96], atol=1e-3)
    assert seq.metadata["image_hw"] == [96, 128] and seq.metadata["stride"] == 2


def test_cli_writes_keypoint_csv(data_dir, video, tmp_path, capsys):
    path, _ = video
    out = tmp_path / "keypoints.csv"
    weights = data_dir / "efficientpose" / "keras" / "EfficientPoseRT_LITE.h5"
    rc = cli_main(["pose", str(path), "--model", "rt_lite", "--weights", str(weights), "--out", str(out),
                   "--batch-size", "4", "--device", "cpu", "--no-progress"])
    assert rc == 0 and out.is_file()
    seq = read_keypoints(out, skeleton="mpii-16")
    assert seq.coords.shape == (9, 16, 2)
    assert "9 frames" in capsys.readouterr().out
    npz = tmp_path / "keypoints.npz"
    assert cli_main(["pose", str(path), "--weights", str(weights), "--out", str(npz), "--stride", "3",
                     "--no-progress"]) == 0
    assert read_keypoints(npz).coords.shape == (3, 16, 2)


def test_bad_inputs(rt_lite, data_dir, tmp_path, capsys):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"not a video at all" * 100)
    with pytest.raises(VideoError):
        rt_lite.track(bad, progress=False)
    with pytest.raises(VideoError):
        rt_lite.track(tmp_path / "missing.mp4", progress=False)
    with pytest.raises(ConfigError):
        rt_lite.track(bad, stride=0)
    weights = data_dir / "efficientpose" / "keras" / "EfficientPoseRT_LITE.h5"
    rc = cli_main(["pose", str(bad), "--weights", str(weights), "--out", str(tmp_path / "k.csv"), "--no-progress"])
    assert rc == 2 and not (tmp_path / "k.csv").exists()
    rc = cli_main(["pose", str(bad), "--model", "iv", "--weights", str(weights), "--out", str(tmp_path / "k.csv")])
    assert rc == 2 and "does not match" in capsys.readouterr().err


def test_cli_help_lists_options():
    out = subprocess.run([sys.executable, "-m", "infantjax", "pose", "--help"], check=False, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": REPO})
    assert out.returncode == 0
    for flag in ("--stride", "--batch-size", "--device", "--weights", "--model", "--out"):
        assert flag in out.stdout
