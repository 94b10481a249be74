"""Keypoints from video: chunked decoding, batched inference, SkeletonSequence output, the CLI, bad videos."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from _pose_utils import rt_lite, rt_lite_video  # noqa: F401

from infantjax.cli import main as cli_main
from infantjax.errors import ConfigError, VideoError
from infantjax.io import read_keypoints, write_video
from infantjax.pipelines.pose import PosePredictor

# videos tracked frame by frame: compiled as users do, where
# optimised code pays for its compile (tests/conftest.py)
pytestmark = pytest.mark.xla_optimised


REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.needs("av")
def test_track_matches_frame_by_frame_keypoints(rt_lite, rt_lite_video):
    path, frames = rt_lite_video
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


@pytest.mark.needs("av")
def test_cli_writes_keypoint_csv(data_dir, rt_lite_video, tmp_path, capsys):
    path, _ = rt_lite_video
    out = tmp_path / "keypoints.csv"
    weights = data_dir / "efficientpose" / "keras" / "EfficientPoseRT_LITE.h5"
    rc = cli_main(["pose", str(path), "--model", "rt_lite", "--pose", str(weights), "--out", str(out),
                   "--batch-size", "4", "--device", "cpu", "--no-progress"])
    assert rc == 0 and out.is_file()
    seq = read_keypoints(out, skeleton="mpii-16")
    assert seq.coords.shape == (9, 16, 2)
    assert "9 frames" in capsys.readouterr().out
    npz = tmp_path / "keypoints.npz"
    assert cli_main(["pose", str(path), "--pose", str(weights), "--out", str(npz), "--stride", "3",
                     "--no-progress"]) == 0
    assert read_keypoints(npz).coords.shape == (3, 16, 2)


@pytest.mark.needs("av")
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
    rc = cli_main(["pose", str(bad), "--pose", str(weights), "--out", str(tmp_path / "k.csv"), "--no-progress"])
    assert rc == 2 and not (tmp_path / "k.csv").exists()
    rc = cli_main(["pose", str(bad), "--model", "iv", "--pose", str(weights), "--out", str(tmp_path / "k.csv")])
    assert rc == 2 and "does not match" in capsys.readouterr().err


def test_cli_help_lists_options():
    out = subprocess.run([sys.executable, "-m", "infantjax", "pose", "--help"], check=False, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(
                             p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)})
    assert out.returncode == 0
    for flag in ("--stride", "--batch-size", "--device", "--pose", "--model", "--out"):
        assert flag in out.stdout


# ------------------------------------------------------------------ phone rotation, camcorder containers, time
@pytest.fixture(scope="module")
def infant_videos(tmp_path_factory):
    """Twelve frames of one rendered infant (In-Motion 19 truth) written the ways phones and camcorders write them: a
    plain MP4, a portrait phone video (frames stored sideways, display rotation 270°), an upside-down one (180°), an
    AVCHD-like MPEG-TS and an AVI with H.264 B-frames. The upright frames are the same in all of them."""
    import _video_corpus as corpus

    from infantjax import synth
    from infantjax.synth.pose import PIXEL_OFFSET, ROTATION

    fps = 10.0
    frames, truth, _ = synth.render_frames(12, seed=5, height=128, width=96, frames_per_infant=12,
                                           rotation_deg=ROTATION)
    truth = truth + PIXEL_OFFSET
    d = tmp_path_factory.mktemp("infant_videos")
    x264 = {"crf": "18", "g": "6"}
    videos = {
        "plain": write_video(d / "plain.mp4", frames, fps),
        "portrait": write_video(d / "portrait.mp4", np.ascontiguousarray(np.rot90(frames, 1, axes=(1, 2))), fps,
                                rotation=270),
        "upside-down": write_video(d / "upside_down.mp4", np.ascontiguousarray(np.rot90(frames, 2, axes=(1, 2))),
                                   fps, rotation=180),
        "mpeg-ts": corpus._encode(d / "camcorder.mts", frames, codec="libx264", fmt="mpegts", rate=10,
                                  options={**x264, "bf": "2"}),
        "avi-b-frames": corpus._encode(d / "b_frames.avi", frames, codec="libx264", fmt="avi", rate=10,
                                       options={**x264, "bf": "3"}),
    }
    return videos, truth


@pytest.fixture(scope="module")
def infant_rt():
    return PosePredictor.pretrained("rt-synthetic-infant")


def mean_error(coords, truth) -> float:
    return float(np.nanmean(np.linalg.norm(coords - truth, axis=-1)))


@pytest.mark.needs("av")
def test_rotated_and_camcorder_videos_track_as_well_as_a_plain_mp4(infant_rt, infant_videos):
    videos, truth = infant_videos
    errors, rotations = {}, {}
    for name, path in videos.items():
        seq = infant_rt.track(path, batch_size=12, progress=False)
        assert seq.coords.shape == truth.shape and seq.metadata["orientation"] == "upright"
        assert seq.metadata["image_hw"] == [128, 96]
        np.testing.assert_allclose(seq.times, np.arange(12) / 10.0, atol=1e-6)
        errors[name], rotations[name] = mean_error(seq.coords, truth), seq.metadata["rotation"]
    assert rotations == {"plain": 0, "portrait": 270, "upside-down": 180, "mpeg-ts": 0, "avi-b-frames": 0}
    for name, err in errors.items():
        assert err <= errors["plain"] + 1.0, errors  # the same tolerance of the truth as the plain MP4
    # what tracking the stored (sideways) frames gave before: off by far more than a keypoint
    from infantjax.io import open_video

    with open_video(videos["portrait"], upright=False) as src:
        stored = np.concatenate([f for _, f in src.iter_chunks(16)])
    xy, _ = infant_rt.keypoints_batch(stored, pad_to=12)
    assert mean_error(xy * [stored.shape[2], stored.shape[1]], truth) > 5 * errors["plain"]


@pytest.mark.needs("av")
def test_cli_pose_on_a_portrait_phone_video_writes_upright_keypoints_with_times(infant_videos, tmp_path, capsys):
    videos, truth = infant_videos
    out = tmp_path / "portrait.csv"
    assert cli_main(["pose", str(videos["portrait"]), "--pose", "rt-synthetic-infant", "--out", str(out),
                     "--batch-size", "12", "--no-progress"]) == 0
    seq = read_keypoints(out)  # the DeepLabCut CSV, with its sidecar portrait.csv.json
    assert (tmp_path / "portrait.csv.json").is_file()
    assert seq.metadata["orientation"] == "upright" and seq.metadata["rotation"] == 270
    np.testing.assert_allclose(seq.times, np.arange(12) / 10.0, atol=1e-9)
    assert mean_error(seq.coords, truth) < 15.0
    out = capsys.readouterr().out
    assert "12 frames" in out and "display rotation (270°) was applied" in out
