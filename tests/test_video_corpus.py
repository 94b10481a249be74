"""Frame-exact decoding of videos written the ways cameras and phones write them (issue 29), with both backends.

The corpus (``tests/_video_corpus.py``, written with PyAV at test time): an MPEG program stream with open groups of
pictures (camcorders, DVDs), MPEG transport streams with short and long groups of pictures (AVCHD ``.mts``) and with
MPEG-2 (HDV ``.m2ts``), an AVI with H.264 B-frames, MP4 and MKV with B-frames, an MP4 cut by an edit list that
discards frames, variable-frame-rate MP4 and MKV, and phone videos with a display rotation of 90, 180 and 270
degrees (one with a sound track). Every frame carries its index, so each test knows which frame must come back;
``test_frames_equal_ffmpegs_own_decode`` also compares every frame with what the ffmpeg binary decodes.
"""

from __future__ import annotations

import importlib.util
import logging
import subprocess

import _video_corpus as corpus
import numpy as np
import pytest

from infantjax.io import open_video

pytestmark = pytest.mark.needs("av")  # every test reads the corpus PyAV writes (tests/_video_corpus.py)

HAS_DECORD = importlib.util.find_spec("decord") is not None
BACKENDS = ["pyav"] + (["decord"] if HAS_DECORD else [])
NAMES = ["mpeg-ps", "mpeg-ts-short-gop", "mpeg-ts-long-gop", "mpeg-ts-mpeg2-open-gop", "avi-b-frames", "mp4-b-frames",
         "mp4-edit-list-cut", "mkv-b-frames", "vfr.mp4", "vfr.mkv", "portrait", "portrait-90", "upside-down"]


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    return corpus.build(tmp_path_factory.mktemp("corpus"))


def codes(frames) -> list[int]:
    return [corpus.frame_code(f) for f in frames]


def test_the_corpus_has_every_kind(videos):
    assert sorted(videos) == sorted(NAMES)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", NAMES)
def test_frame_i_is_the_same_frame_however_it_is_reached(videos, name, backend):
    entry = videos[name]
    expected = entry.expected
    with open_video(entry.path, backend=backend) as src:
        n = len(src)
        assert n == len(expected)
        assert src.frame_size == (corpus.H, corpus.W)  # upright
        assert src.rotation == entry.rotation
        sequential = np.concatenate([f for _, f in src.iter_chunks(32)])
        assert codes(sequential) == expected.tolist()
        # chunks from the middle, random access in any order with repeats, backwards: always the same frames
        middle = np.concatenate([f for _, f in src.iter_chunks(7, start=n // 2 + 1, stop=n - 3)])
        np.testing.assert_array_equal(middle, sequential[n // 2 + 1:n - 3])
        rng = np.random.default_rng(0)
        for _ in range(3):
            idx = rng.integers(0, n, 17)
            np.testing.assert_array_equal(src.get_batch(idx), sequential[idx])
        np.testing.assert_array_equal(src.get_batch(np.arange(n)[::-1]), sequential[::-1])
        assert src.get_batch([0]).shape == (1, corpus.H, corpus.W, 3)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", NAMES)
def test_presentation_times_and_frame_rate(videos, name, backend):
    entry = videos[name]
    with open_video(entry.path, backend=backend) as src:
        np.testing.assert_allclose(src.times, entry.times, atol=1e-6)
        assert src.fps == pytest.approx(entry.fps, rel=2e-3)
        assert src.variable_frame_rate == name.startswith("vfr")
        if name.startswith("vfr"):
            intervals = np.diff(entry.times)
            assert src.frame_jitter == pytest.approx(np.max(np.abs(intervals - np.median(intervals))), abs=1e-6)
        else:
            assert src.frame_jitter < 1e-6


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", ["portrait", "portrait-90", "upside-down"])
def test_stored_orientation_on_request(videos, name, backend):
    entry = videos[name]
    k = entry.rotation // 90
    with open_video(entry.path, backend=backend) as upright, \
            open_video(entry.path, backend=backend, upright=False) as stored:
        assert stored.rotation == upright.rotation == entry.rotation
        assert (stored.upright, upright.upright) == (False, True)
        assert stored.stored_size == stored.frame_size == (upright.frame_size[::-1] if k % 2 else upright.frame_size)
        idx = [0, 50, 119, 3]
        as_stored = stored.get_batch(idx)
        np.testing.assert_array_equal(np.rot90(as_stored, k, axes=(1, 2)), upright.get_batch(idx))
        chunk = next(stored.iter_chunks(5))[1]
        np.testing.assert_array_equal(chunk, stored.get_batch(range(5)))


@pytest.mark.skipif(not HAS_DECORD, reason="decord is not installed")
@pytest.mark.parametrize("name", ["mpeg-ps", "mpeg-ts-short-gop", "avi-b-frames", "mp4-edit-list-cut"])
def test_decord_hands_files_it_cannot_index_to_pyav(videos, name, caplog):
    with caplog.at_level(logging.WARNING, logger="infantjax.io.video"), \
            open_video(videos[name].path, backend="decord") as src:
        assert src.backend == "pyav"
    assert "decoding it with PyAV" in caplog.text


@pytest.mark.skipif(not HAS_DECORD, reason="decord is not installed")
def test_decord_keeps_the_files_it_reads_exactly(videos):
    for name in ("mp4-b-frames", "mkv-b-frames", "vfr.mp4", "portrait"):
        with open_video(videos[name].path, backend="decord") as src:
            assert src.backend == "decord", name


def ffmpeg_decode(ffmpeg: str, path, h: int, w: int) -> np.ndarray:
    """Every frame as FFmpeg's command line decodes it (display rotation applied, no frame dropped or repeated)."""
    out = subprocess.run([ffmpeg, "-nostdin", "-loglevel", "error", "-i", str(path), "-map", "0:v:0",
                          "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         capture_output=True, check=True).stdout
    return np.frombuffer(out, np.uint8).reshape(-1, h, w, 3)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", NAMES)
def test_frames_equal_ffmpegs_own_decode(videos, name, backend, ffmpeg):
    entry = videos[name]
    with open_video(entry.path, backend=backend) as src:
        reference = ffmpeg_decode(ffmpeg, entry.path, *src.frame_size)
        assert len(reference) == len(src)
        frames = np.concatenate([f for _, f in src.iter_chunks(40)])
        # the same decoder output; the RGB conversion of another FFmpeg build may round differently by 1-2
        assert np.abs(frames.astype(np.int16) - reference).max() <= 2
        idx = np.random.default_rng(1).permutation(len(src))[:25]
        assert np.abs(src.get_batch(idx).astype(np.int16) - reference[idx]).max() <= 2


@pytest.mark.parametrize("how", ["cut", "rotate"])
def test_files_made_by_ffmpeg_itself(videos, how, ffmpeg, tmp_path):
    """Files the ffmpeg binary writes (not PyAV): a cut without re-encoding and a legacy ``rotate`` tag."""
    source = videos["mp4-b-frames"].path
    out = tmp_path / f"{how}.mp4"
    options = ["-ss", "1.3", "-i", str(source)] if how == "cut" else ["-i", str(source), "-metadata:s:v:0",
                                                                        "rotate=90"]
    subprocess.run([ffmpeg, "-nostdin", "-loglevel", "error", *options, "-c", "copy", str(out)], check=True)
    for backend in BACKENDS:
        with open_video(out, backend=backend) as src:
            reference = ffmpeg_decode(ffmpeg, out, *src.frame_size)
            frames = np.concatenate([f for _, f in src.iter_chunks(32)])
            assert frames.shape == reference.shape
            assert np.abs(frames.astype(np.int16) - reference).max() <= 2
            if how == "cut":
                assert codes(frames)[0] > 25 and codes(frames) == list(range(codes(frames)[0], 120))
            else:
                assert src.rotation in (90, 270) and src.frame_size == (corpus.W, corpus.H)


@pytest.mark.skipif(not HAS_DECORD, reason="decord is not installed")
def test_decord_errors_are_video_errors_naming_the_file(videos, monkeypatch):
    import decord

    from infantjax.errors import VideoError

    def broken(*args, **kwargs):
        raise decord.DECORDError("[12:00:00] video_reader.cc:430: Unable to handle EOF")

    monkeypatch.setattr(decord, "VideoReader", broken)
    path = videos["mp4-b-frames"].path
    with pytest.raises(VideoError, match=rf"{path.name}: decord failed \(DECORDError: .*EOF"):
        open_video(path, backend="decord")
