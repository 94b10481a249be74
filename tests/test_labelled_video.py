"""The labelled video (issue 39 item 3): the skeleton drawn on every frame of a video, where the keypoints are, at the
source's frame times, upright, as H.264 MP4 that FFmpeg (and browsers) decode.

* the drawing (``explain.overlay.draw_keypoints``): confidence colours on the explanations' sequential scale
  (light blue 0 … purple 1, grey unknown), missing and low-confidence joints not drawn,
  bones only between drawn joints;
* the synthetic infant: the drawn joints are at the rendered ground truth of their own frame, and nowhere else;
* the decoding corpus (``tests/_video_corpus.py``): frame i of the labelled video is the source's frame i (its index
  code) with keypoint frame i drawn on it, at the source's time — constant and variable frame rates, MP4, MKV,
  MPEG-TS, a portrait phone video;
* the file: H.264, yuv420p, MP4 with the index at the front, decoded by the ffmpeg binary frame for frame;
* typed errors for keypoints of another video and bad output paths, on the CLI one line and exit 2.
"""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

import _video_corpus as corpus
from infantjax import skeleton as _skeleton
from infantjax.cli import main as cli_main
from infantjax.errors import DataError, InfantJaxError, VideoWriteError
from infantjax.explain.overlay import (
    BONE_COLOUR,
    UNKNOWN_COLOUR,
    confidence_colour,
    draw_keypoints,
    marker_sizes,
)
from infantjax.io import open_video, write_video
from infantjax.pipelines.pose import write_labelled_video
from infantjax.sequence import SkeletonSequence

SKEL = _skeleton.get("in-motion-19")


def decoded(path) -> np.ndarray:
    with open_video(path) as src:
        return np.concatenate([f for _, f in src.iter_chunks(64)])


def purple(frames: np.ndarray) -> np.ndarray:
    """Pixels of a joint drawn with confidence 1 (purple (129, 15, 124)), after H.264's 4:2:0 compression: red
    and blue well above green and close to each other (a blue or a red is not purple)."""
    f = frames.astype(np.int16)
    r, g, b = f[..., 0], f[..., 1], f[..., 2]
    return (g < 100) & (r - g > 25) & (b - g > 25) & (np.abs(r - b) < 50)


# ------------------------------------------------------------------------------------------------ drawing
def test_confidence_colour_scale():
    # the explanations' one sequential scale (ColorBrewer BuPu, classes 4-8): light blue 0, purple 1
    light, dark = [158, 188, 218], [129, 15, 124]
    np.testing.assert_array_equal(confidence_colour([0.0, 1.0, np.nan, 1.7, -1.0]),
                                  [light, dark, UNKNOWN_COLOUR, dark, light])
    np.testing.assert_array_equal(confidence_colour(0.25), [140, 150, 198])  # the scale's second colour
    # darker as the confidence rises (it reads in greyscale), never grey like an unknown joint
    grey = [float(np.dot(confidence_colour(c), [0.299, 0.587, 0.114])) for c in np.linspace(0, 1, 21)]
    assert all(a > b for a, b in zip(grey, grey[1:]))
    assert all(np.ptp(confidence_colour(c).astype(int)) > 40 for c in np.linspace(0, 1, 21))
    assert marker_sizes(480, 640) == (4, 2) and marker_sizes(64, 96) == (2, 1)


def test_missing_and_low_confidence_joints_and_their_bones_are_not_drawn():
    frames = np.full((2, 120, 160, 3), 100, np.uint8)
    coords = np.full((2, SKEL.num_keypoints, 2), np.nan, np.float32)
    conf = np.ones((2, SKEL.num_keypoints), np.float32)
    a, b = SKEL.edges[0]  # a bone of the skeleton
    coords[0, a], coords[0, b] = (40.5, 60.5), (100.5, 60.5)  # frame 0: both drawn, with the bone between them
    coords[1, a], coords[1, b] = (40.5, 60.5), (100.5, 60.5)
    conf[1, b] = 0.1  # frame 1: b below the threshold, so neither b nor the bone is drawn
    conf[0, a] = 0.5
    out = draw_keypoints(frames, coords, conf, SKEL, min_confidence=0.3)
    assert (frames == 100).all()  # drawn on a copy
    np.testing.assert_array_equal(out[0, 60, 40], [140, 107, 177])  # a: lavender (0.5)
    np.testing.assert_array_equal(out[0, 60, 100], [129, 15, 124])  # b: purple (1)
    np.testing.assert_array_equal(out[0, 60, 70], BONE_COLOUR)  # the bone, halfway
    np.testing.assert_array_equal(out[1, 60, 40], [129, 15, 124])
    changed = (out[1] != 100).any(-1)
    ys, xs = np.nonzero(changed)
    assert np.hypot(xs - 40, ys - 60).max() <= marker_sizes(120, 160)[0] + 1  # only joint a's disc and outline
    # no confidences: grey; min_confidence 0 draws every joint with coordinates; an all-NaN frame stays as is
    out = draw_keypoints(frames, coords, None, SKEL, min_confidence=0.3)
    np.testing.assert_array_equal(out[1, 60, 100], UNKNOWN_COLOUR)
    out = draw_keypoints(frames, coords, conf, SKEL, min_confidence=0.0)
    np.testing.assert_array_equal(out[1, 60, 100], confidence_colour(0.1))
    empty = draw_keypoints(frames, np.full_like(coords, np.nan), conf, SKEL)  # default: every joint with coords
    assert (empty == 100).all()
    # joints partly or wholly outside the frame are clipped, never an error
    coords[0, a] = (-3.0, 1e9)
    draw_keypoints(frames, coords, conf, SKEL)


def test_drawing_errors_are_typed():
    frames = np.zeros((1, 8, 8, 3), np.uint8)
    with pytest.raises(DataError, match="coords must be"):
        draw_keypoints(frames, np.zeros((1, 3, 2)), None, SKEL)
    with pytest.raises(DataError, match="uint8"):
        draw_keypoints(frames.astype(np.float32), np.zeros((1, 19, 2)), None, SKEL)
    with pytest.raises(InfantJaxError, match="min_confidence"):
        draw_keypoints(frames, np.zeros((1, 19, 2)), None, SKEL, min_confidence=2)


# ------------------------------------------------------------------------------------------------ synthetic infant
@pytest.fixture(scope="module")
def infant(tmp_path_factory):
    """Eight rendered infants, one per frame (so every frame's keypoints are far from the next frame's), with the
    exact In-Motion 19 keypoints in the pose pipeline's pixel convention."""
    from infantjax import synth
    from infantjax.synth.pose import PIXEL_OFFSET

    frames, truth, _ = synth.render_frames(8, seed=11, height=192, width=256, frames_per_infant=1,
                                           trunk_fraction=(0.25, 0.3))
    path = write_video(tmp_path_factory.mktemp("infant") / "infant.mp4", frames, 10.0)
    return path, truth + PIXEL_OFFSET


@pytest.mark.needs("av")
def test_drawn_joints_are_where_the_ground_truth_is_in_their_own_frame(infant, tmp_path):
    path, truth = infant
    seq = SkeletonSequence(truth, fps=10.0, skeleton=SKEL, confidence=np.ones(truth.shape[:2]))
    out = write_labelled_video(path, seq, tmp_path / "labelled.mp4", progress=False)
    source, labelled = decoded(path), decoded(out)
    assert labelled.shape == source.shape
    assert not purple(source).any()  # the renders hold no marker purple: what is found below was drawn
    radius = marker_sizes(*source.shape[1:3])[0]
    marks = purple(labelled)
    for i in range(len(labelled)):
        ys, xs = np.nonzero(marks[i])
        centres = np.stack([xs + 0.5, ys + 0.5], -1)  # pixel centres in the keypoints' convention
        for j, other in ((i, None), ((i + 1) % len(labelled), i)):
            d = np.linalg.norm(centres[:, None] - truth[j][None], axis=-1).min(1)  # to the nearest joint
            if other is None:  # within the marker's footprint: the disc and its one-pixel outline, into which
                # H.264's half-resolution chroma bleeds the purple (a pixel centre up to r + 1 + √½ away)
                assert d.max() <= radius + 1.75, f"frame {i}: marker pixels away from every joint of its own"
            else:
                assert np.mean(d > radius + 1.5) > 0.5, f"frame {i}'s markers also fit frame {j}'s joints"
        # every joint whose marker no other joint covers shows its colour at its own pixel
        sep = np.linalg.norm(truth[i][:, None] - truth[i][None], axis=-1) + np.eye(len(truth[i])) * 1e9
        h, w = labelled.shape[1:3]
        inside = (truth[i] >= 2).all(-1) & (truth[i][:, 0] < w - 2) & (truth[i][:, 1] < h - 2)
        alone = (sep.min(1) > 2 * radius + 3) & inside
        assert alone.sum() >= 8
        for x, y in truth[i][alone]:
            assert marks[i, int(y) - 1:int(y) + 2, int(x) - 1:int(x) + 2].any(), f"frame {i}: no marker at {x, y}"


@pytest.mark.needs("av")
def test_a_low_confidence_joint_is_not_drawn_on_the_infant(infant, tmp_path):
    path, truth = infant
    conf = np.ones(truth.shape[:2])
    conf[:, 9] = 0.2  # one joint below the threshold (0.3) in every frame
    coords = truth.copy()
    coords[:, 10] = np.nan  # one joint missing
    out = write_labelled_video(path, SkeletonSequence(coords, fps=10.0, skeleton=SKEL, confidence=conf),
                               tmp_path / "some.mp4", min_confidence=0.3, progress=False)
    labelled = decoded(out)
    full = decoded(write_labelled_video(path, SkeletonSequence(truth, fps=10.0, skeleton=SKEL,
                                                               confidence=np.ones(truth.shape[:2])),
                                        tmp_path / "all.mp4", progress=False))
    for i in range(len(labelled)):
        for j in (9, 10):
            x, y = truth[i, j]
            others = np.delete(truth[i], [9, 10], axis=0)
            if np.linalg.norm(others - truth[i, j], axis=-1).min() < 12:
                continue  # another joint's marker or a bone would be there anyway
            window = (slice(int(y) - 1, int(y) + 2), slice(int(x) - 1, int(x) + 2))
            assert purple(full[i][window]).any() and not purple(labelled[i][window]).any()


# ------------------------------------------------------------------------------------------------ corpus
@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    return corpus.build(tmp_path_factory.mktemp("corpus"))


def _moving_joint(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Keypoints with one joint drawn (confidence 1: purple), right of the index bars, at a height that jumps
    with the frame number, so every frame's marker is far from its neighbours'; the other joints are
    missing."""
    ys = 8.5 + (np.arange(n) * 7) % 48
    coords = np.full((n, SKEL.num_keypoints, 2), np.nan, np.float32)
    coords[:, 0, 0], coords[:, 0, 1] = 88.5, ys
    return coords, ys


@pytest.mark.needs("av")
@pytest.mark.parametrize("name", ["mp4-b-frames", "vfr.mp4", "vfr.mkv", "portrait", "mpeg-ts-long-gop",
                                  "mp4-edit-list-cut"])
def test_frame_i_shows_keypoint_frame_i_at_the_source_time(videos, name, tmp_path):
    entry = videos[name]
    n = len(entry.expected)
    coords, ys = _moving_joint(n)
    with open_video(entry.path) as src:
        seq = SkeletonSequence(coords, fps=src.fps, skeleton=SKEL,
                               confidence=np.ones((n, SKEL.num_keypoints)), times=src.times)
    out = write_labelled_video(entry.path, seq, tmp_path / "labelled.mp4", min_confidence=0.0, progress=False)
    with open_video(out) as lab:
        assert lab.num_frames == n and lab.rotation == 0  # upright: no rotation left to apply
        np.testing.assert_allclose(lab.times, entry.times, atol=1e-6)
        assert lab.variable_frame_rate == name.startswith("vfr")
        frames = decoded(out)
    assert frames.shape == (n, corpus.H, corpus.W, 3)
    np.testing.assert_array_equal([corpus.frame_code(f) for f in frames], entry.expected)  # the source's frame i
    marks = purple(frames[:, :, 80:])
    for i in range(n):
        yy, xx = np.nonzero(marks[i])
        assert len(yy), f"frame {i}: no marker"
        # the median, not the mean: one stray purple pixel of the encoder's ringing moved a mean by 1.2 px once in CI
        assert abs(np.median(yy) + 0.5 - ys[i]) <= 1.0 and abs(np.median(xx) + 80.5 - 88.5) <= 1.0, f"frame {i}"


@pytest.mark.needs("av")
def test_stride_draws_every_kth_frame_at_its_time(videos, tmp_path):
    entry = videos["vfr.mp4"]
    n = len(entry.expected[::3])
    coords, ys = _moving_joint(n)
    seq = SkeletonSequence(coords, fps=10.0, skeleton=SKEL, confidence=np.zeros((n, SKEL.num_keypoints)),
                           times=entry.times[::3])
    out = write_labelled_video(entry.path, seq, tmp_path / "every3.mp4", min_confidence=0.0, stride=3,
                               progress=False)
    with open_video(out) as lab:
        np.testing.assert_allclose(lab.times, entry.times[::3], atol=1e-6)
    frames = decoded(out)
    np.testing.assert_array_equal([corpus.frame_code(f) for f in frames], entry.expected[::3])


@pytest.mark.needs("av")
def test_the_file_is_h264_yuv420p_mp4_that_ffmpeg_decodes_frame_for_frame(videos, ffmpeg, tmp_path):
    entry = videos["vfr.mp4"]
    n = len(entry.expected)
    coords, _ = _moving_joint(n)
    seq = SkeletonSequence(coords, fps=20.0, skeleton=SKEL)
    out = write_labelled_video(entry.path, seq, tmp_path / "labelled.mp4", progress=False)
    run = subprocess.run([ffmpeg, "-hide_banner", "-v", "info", "-i", str(out), "-fps_mode", "passthrough",
                          "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], capture_output=True, check=True)
    info = run.stderr.decode()
    assert "Input #0, mov,mp4" in info and "Video: h264" in info and "yuv420p" in info, info
    ours = decoded(out)
    theirs = np.frombuffer(run.stdout, np.uint8).reshape(-1, corpus.H, corpus.W, 3)
    assert len(theirs) == n
    np.testing.assert_array_equal(theirs, ours)
    data = out.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")  # faststart: a browser plays it while it loads
    assert not list(tmp_path.glob(".*"))  # no temporary file left


@pytest.mark.needs("av")
def test_odd_frame_sizes_are_padded_to_even(tmp_path):
    frames = np.full((3, 33, 47, 3), 90, np.uint8)
    path = write_video(tmp_path / "odd.mkv", frames, 5.0, codec="ffv1", pix_fmt="yuv444p")
    coords = np.full((3, SKEL.num_keypoints, 2), np.nan, np.float32)
    coords[:, 0] = (20.5, 15.5)
    out = write_labelled_video(path, SkeletonSequence(coords, fps=5.0, skeleton=SKEL), tmp_path / "odd.mp4",
                               progress=False)
    with open_video(out) as lab:
        assert lab.frame_size == (34, 48) and lab.num_frames == 3


# ------------------------------------------------------------------------------------------------ errors
@pytest.mark.needs("av")
def test_keypoints_of_another_video_and_bad_paths_are_typed_errors(videos, tmp_path):
    entry = videos["vfr.mp4"]
    n = len(entry.expected)
    coords, _ = _moving_joint(n)
    with pytest.raises(DataError, match=r"\(89 frames\).*has 90 frames"):
        write_labelled_video(entry.path, SkeletonSequence(coords[:-1], fps=20.0, skeleton=SKEL), tmp_path / "a.mp4")
    with pytest.raises(DataError, match="keypoint frame .* is at"):
        write_labelled_video(entry.path, SkeletonSequence(coords, fps=20.0, skeleton=SKEL,
                                                          times=np.arange(n) / 20.0), tmp_path / "a.mp4")
    with pytest.raises(DataError, match="tracked in 640x480 frames"):
        write_labelled_video(entry.path, SkeletonSequence(coords, fps=20.0, skeleton=SKEL,
                                                          metadata={"image_hw": [480, 640]}), tmp_path / "a.mp4")
    seq = SkeletonSequence(coords, fps=20.0, skeleton=SKEL)
    with pytest.raises(VideoWriteError, match="must end in .mp4"):
        write_labelled_video(entry.path, seq, tmp_path / "a.avi")
    with pytest.raises(VideoWriteError, match="does not exist"):
        write_labelled_video(entry.path, seq, tmp_path / "nowhere" / "a.mp4")
    with pytest.raises(VideoWriteError, match="it is a folder"):
        (tmp_path / "dir.mp4").mkdir()
        write_labelled_video(entry.path, seq, tmp_path / "dir.mp4")
    with pytest.raises(VideoWriteError, match="that is the source video"):
        write_labelled_video(entry.path, seq, entry.path)
    with pytest.raises(DataError, match="not pixels"):
        write_labelled_video(entry.path, SkeletonSequence(coords, fps=20.0, skeleton=SKEL,
                                                          metadata={"units": "fractions"}), tmp_path / "a.mp4")
    with pytest.raises(InfantJaxError, match="min_confidence must be in"):
        write_labelled_video(entry.path, seq, tmp_path / "a.mp4", min_confidence=1.5)
    with pytest.raises(InfantJaxError, match="preset must be one of"):
        write_labelled_video(entry.path, seq, tmp_path / "a.mp4", preset="turbo")
    with pytest.raises(DataError, match="SkeletonSequence"):
        write_labelled_video(entry.path, coords, tmp_path / "a.mp4")
    assert [p.name for p in tmp_path.iterdir()] == ["dir.mp4"]  # nothing written, no temporary file left


@pytest.mark.needs("av")
def test_cli_bad_labelled_path_is_one_line_and_exit_2_before_tracking(videos, tmp_path, capsys):
    entry = videos["mp4-b-frames"]
    code = cli_main(["pose", str(entry.path), "--pose", "no-such-weights", "--out", str(tmp_path / "k.csv"),
                     "--labelled", str(tmp_path / "labelled.avi")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "must end in .mp4" in err  # not the weights error
    code = cli_main(["pose", str(entry.path), "--pose", "no-such-weights", "--out", str(tmp_path / "k.csv"),
                     "--min-confidence", "0.5"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "only applies to the --labelled video" in err


@pytest.mark.needs("av")
def test_cli_pose_writes_the_labelled_video_beside_the_keypoints(infant, tmp_path, capsys):
    from infantjax.io import read_keypoints

    path, truth = infant
    out, labelled = tmp_path / "k.csv", tmp_path / "infant.labelled.mp4"
    assert cli_main(["pose", str(path), "--weights", "rt-synthetic-infant", "--out", str(out), "--labelled",
                     str(labelled), "--batch-size", "8", "--no-progress"]) == 0
    assert "labelled video ->" in capsys.readouterr().out
    seq = read_keypoints(out)
    with open_video(labelled) as lab, open_video(path) as src:
        assert lab.num_frames == src.num_frames == seq.num_frames
        np.testing.assert_allclose(lab.times, src.times, atol=1e-9)


# ------------------------------------------------------------------------------------------------ timed writing
@pytest.mark.needs("av")
def test_write_video_keeps_every_frames_time_and_refuses_bad_times(tmp_path):
    import fractions

    from infantjax.errors import VideoError

    frames = corpus.indexed_frames(12)
    times = np.array([0, 0.033, 0.1, 0.117, 0.2, 0.25, 0.3, 0.367, 0.4, 0.45, 0.55, 0.6])
    for base in (None, fractions.Fraction(1, 1000)):
        path = write_video(tmp_path / f"t{base is None}.mp4", frames, 25.0, times=times, time_base=base)
        with open_video(path) as src:
            np.testing.assert_allclose(src.times, times, atol=1e-9)
            assert src.variable_frame_rate and src.time_base is not None
        np.testing.assert_array_equal([corpus.frame_code(f) for f in decoded(path)], np.arange(12))
    bad = {"not after the frame before": np.r_[times[:5], times[4], times[6:]],
           "finite number of seconds": np.r_[np.nan, times[1:]],
           "12 times for 11 frames": times}
    for why, t in bad.items():
        with pytest.raises(VideoError, match=why):
            write_video(tmp_path / "bad.mp4", frames[:11] if "11 frames" in why else frames, 25.0, times=t)
    with pytest.raises(VideoError, match="time_base must be"):
        write_video(tmp_path / "bad.mp4", frames, 25.0, times=times, time_base=-1)
    from infantjax.io import VideoWriter

    with pytest.raises(VideoError, match="has no time but the frames before had theirs"):
        with VideoWriter(tmp_path / "bad.mp4", 25.0) as writer:
            writer.write(frames[0], 0.0)
            writer.write(frames[1])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tFalse.mp4", "tTrue.mp4"]  # no partial file left
