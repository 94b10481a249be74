"""``infantjax synth`` writes keypoint files the readers take, a labels CSV, MP4 videos and depth clips."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from infantjax.io import open_video, read_keypoints
from infantjax.synth import cohorts as C
from infantjax.synth import recording as R

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _path() -> str:
    """The repository first, then the caller's PYTHONPATH (where the lent GPU machine's packages are)."""
    return os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)


@pytest.mark.needs("av")
def test_cli_writes_keypoints_labels_videos_and_depth(tmp_path):
    env = dict(os.environ, PYTHONPATH=_path())
    cmd = [sys.executable, "-m", "infantjax", "synth", "--task", "cp", "--subjects", "3", "--out", str(tmp_path),
           "--duration", "1", "--fps", "12", "--videos", "--depth", "--width", "96", "--height", "64",
           "--depth-frames", "3"]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr
    labels = pd.read_csv(tmp_path / "labels.csv")
    assert list(labels.columns[:3]) == ["file", "subject", "label"]
    assert {"subtype", "severity", "fms_class", "gestational_age", "corrected_age", "sex"} <= set(labels.columns)
    assert len(labels) == 3
    seq = read_keypoints(tmp_path / labels.file[0])
    assert seq.num_keypoints == 19 and seq.num_frames == 12
    with open_video(tmp_path / labels.video[0]) as video:
        frames = np.concatenate([f for _, f in video.iter_chunks(8)])
    assert frames.shape == (12, 64, 96, 3)
    depth = np.load(tmp_path / labels.depth[0])
    assert depth["depth"].shape == (3, 96, 128) and depth["masks"].shape == (3, 96, 128, 20)


def test_cli_rejects_bad_arguments(tmp_path):
    env = dict(os.environ, PYTHONPATH=_path())
    res = subprocess.run([sys.executable, "-m", "infantjax", "synth", "--out", str(tmp_path), "--fps", "fast"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode != 0 and "--fps" in (res.stderr + res.stdout)


@pytest.mark.needs("av")
def test_video_write_and_read_back_matches_rendered_frames(tmp_path):
    co = C.cohort("cp", n_subjects=1, seed=5, duration_s=1.0, fps=10.0, videos=True,
                  recording=R.RecordingConfig(width=64, height=48))
    video = co.metadata["video"][0]
    path = video.write(tmp_path / "v.mp4")
    rendered = np.concatenate(list(video.frames()))
    with open_video(path) as src:
        decoded = np.concatenate([f for _, f in src.iter_chunks(16)])
    assert decoded.shape == rendered.shape
    assert np.abs(decoded.astype(float) - rendered.astype(float)).mean() < 8  # lossy H.264, same picture
