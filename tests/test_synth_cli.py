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


@pytest.mark.needs("av")
def test_cli_videos_are_the_same_files_from_the_same_seed(tmp_path):
    """Three ``infantjax synth --videos`` runs with one seed, at once (a loaded machine), one of them on one
    core, write byte-identical videos. Left to itself libx264 picks its threads from the cores and its
    macroblock-tree rate control varies under load: before the encoder's reproducible mode, frames differed by
    up to 66 grey levels between such runs."""
    env = dict(os.environ, PYTHONPATH=_path())
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    runs = []
    for k in range(3):
        args = ["synth", "--subjects", "2", "--seed", "7", "--out", str(tmp_path / str(k)), "--duration", "3",
                "--fps", "15", "--videos", "--width", "320", "--height", "240"]
        # the third run pins itself to one core before anything is imported (no preexec_fn: a fork of this
        # multithreaded process must not run Python before its exec)
        pin = f"import os; os.sched_setaffinity(0, {{{cores[0]}}}); " if k == 2 and len(cores) > 1 else ""
        boot = (f"{pin}import runpy, sys; sys.argv = ['infantjax', *{args!r}]; "
                "runpy.run_module('infantjax', run_name='__main__')")
        runs.append(subprocess.Popen([sys.executable, "-c", boot], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=env))
    for run in runs:
        _, err = run.communicate(timeout=300)
        assert run.returncode == 0, err
    videos = [sorted((tmp_path / str(k) / "videos").iterdir()) for k in range(3)]
    assert [p.name for p in videos[0]] == ["s0000_r0.mp4", "s0001_r0.mp4"]
    for other in videos[1:]:
        assert [p.name for p in other] == [p.name for p in videos[0]]
        for a, b in zip(videos[0], other):
            assert a.read_bytes() == b.read_bytes(), f"{a.name} differs between two runs with the same seed"
