"""Video reading and writing: frame accuracy, bounded-memory chunks, decord parity, writer atomicity, bad files."""

from __future__ import annotations

import importlib.util
import pathlib
import sys
import tracemalloc

import numpy as np
import pytest

from infantjax.errors import InfantJaxError, VideoError
from infantjax.io import VideoWriter, open_video, write_video
from infantjax.io.video import default_codec

H, W = 48, 64
HAS_DECORD = importlib.util.find_spec("decord") is not None


def indexed_frames(n: int, h: int = H, w: int = W):
    """Frames that carry their own index: 8 vertical bars, bar b white when bit b of the index is set."""
    for i in range(n):
        f = np.zeros((h, w, 3), np.uint8)
        for b in range(8):
            if (i >> b) & 1:
                f[:, b * 8:(b + 1) * 8, 0] = 255
        f[..., 1] = (i * 37) % 256  # changing content so the encoder makes real P/B-frames
        f[h // 2:, :, 2] = np.arange(w, dtype=np.uint8)[None, :] * 3 + i
        yield f


def frame_code(frame: np.ndarray) -> int:
    return sum(1 << b for b in range(8) if frame[:, b * 8 + 2:(b + 1) * 8 - 2, 0].mean() > 128)


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    """150 frames, 30 fps, libx264 (or mpeg4) with B-frames and a 12-frame GOP: seeking has work to do."""
    path = tmp_path_factory.mktemp("video") / "indexed.mp4"
    opts = {"bf": "2", "g": "12"} if default_codec() == "libx264" else {"g": "12"}
    write_video(path, indexed_frames(150), 30, options=opts)
    return path


@pytest.fixture(scope="module")
def sequential(video):
    with open_video(video) as src:
        return np.concatenate([frames for _, frames in src.iter_chunks(32)])


@pytest.mark.needs("av")
def test_metadata_and_length(video):
    with open_video(video) as src:
        assert len(src) == src.num_frames == 150
        assert src.fps == pytest.approx(30.0)
        assert src.frame_size == (H, W)
        assert src.duration == pytest.approx(5.0)
        assert src.rotation == 0
        assert "150 frames" in repr(src)


@pytest.mark.needs("av")
def test_sequential_decoding_yields_every_frame_in_order(sequential):
    assert sequential.shape == (150, H, W, 3) and sequential.dtype == np.uint8
    assert [frame_code(f) for f in sequential] == list(range(150))


@pytest.mark.needs("av")
def test_random_access_is_frame_accurate(video, sequential):
    rng = np.random.default_rng(0)
    with open_video(video) as src:
        assert len(src._impl.keyframes) > 5  # several GOPs, so the batch below needs real seeks
        for _ in range(3):
            idx = rng.integers(0, 150, size=25)  # unsorted, with repeats
            batch = src.get_batch(idx)
            assert batch.shape == (25, H, W, 3)
            assert [frame_code(f) for f in batch] == idx.tolist()
            np.testing.assert_array_equal(batch, sequential[idx])  # bit-identical to sequential decoding
        backwards = src.get_batch([149, 100, 13, 12, 11, 0, -1])
        assert [frame_code(f) for f in backwards] == [149, 100, 13, 12, 11, 0, 149]
        np.testing.assert_array_equal(src[77], sequential[77])
        assert src.get_batch([]).shape == (0, H, W, 3)


@pytest.mark.needs("av")
def test_iter_chunks_sizes_ranges_and_interleaving(video, sequential):
    with open_video(video) as src:
        chunks = list(src.iter_chunks(64))
        assert [(s, f.shape[0]) for s, f in chunks] == [(0, 64), (64, 64), (128, 22)]
        part = list(src.iter_chunks(10, start=95, stop=121))
        assert [(s, f.shape[0]) for s, f in part] == [(95, 10), (105, 10), (115, 6)]
        np.testing.assert_array_equal(np.concatenate([f for _, f in part]), sequential[95:121])
        # random access in the middle of a sequential pass does not disturb it
        it = src.iter_chunks(50)
        first = next(it)
        np.testing.assert_array_equal(src.get_batch([3, 140]), sequential[[3, 140]])
        rest = list(it)
        np.testing.assert_array_equal(np.concatenate([first[1]] + [f for _, f in rest]), sequential)


@pytest.mark.needs("av")
def test_iter_chunks_memory_is_bounded_by_the_chunk(tmp_path):
    path = write_video(tmp_path / "long.mp4", indexed_frames(240), 30)
    chunk = 8
    chunk_bytes = chunk * H * W * 3
    with open_video(path) as src:
        tracemalloc.start()
        count = 0
        for _, frames in src.iter_chunks(chunk):
            count += len(frames)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert count == 240
    assert peak < 4 * chunk_bytes + 200_000, peak  # the whole video would be 30 chunks


@pytest.mark.needs("av")
@pytest.mark.parametrize("name,codec", [("a.avi", "mpeg4"), ("b.mkv", None), ("c.mov", None)])
def test_other_containers_and_codecs(tmp_path, name, codec):
    path = write_video(tmp_path / name, indexed_frames(40), 25, codec=codec, options={"g": "8"})
    with open_video(path) as src:
        assert len(src) == 40 and src.fps == pytest.approx(25.0)
        seq = np.concatenate([f for _, f in src.iter_chunks(16)])
        idx = [39, 5, 17, 17, 0]
        batch = src.get_batch(idx)
    assert [frame_code(f) for f in seq] == list(range(40))
    np.testing.assert_array_equal(batch, seq[idx])


# ------------------------------------------------------------------ decord
@pytest.mark.needs("av")
def test_decord_backend_gives_the_same_frames_or_a_clear_error(video, sequential):
    if HAS_DECORD:
        idx = [0, 149, 60, 61, 12, 12, 99]
        with open_video(video, backend="decord") as src:
            assert (len(src), src.frame_size) == (150, (H, W))
            assert src.fps == pytest.approx(30.0)
            batch = src.get_batch(idx)
            assert [frame_code(f) for f in batch] == idx
            assert np.abs(batch.astype(int) - sequential[idx]).max() <= 2  # same decoder output, maybe ±1 in RGB
            chunks = np.concatenate([f for _, f in src.iter_chunks(40)])
            assert [frame_code(f) for f in chunks] == list(range(150))
    else:
        with pytest.raises(VideoError, match="pip install"):
            open_video(video, backend="decord")


@pytest.mark.needs("av")
def test_decord_missing_raises_install_hint(video, monkeypatch):
    monkeypatch.setitem(sys.modules, "decord", None)  # what a machine without decord sees
    with pytest.raises(VideoError, match=r"pip install 'infantjax\[decord\]'"):
        open_video(video, backend="decord")


@pytest.mark.needs("av")
def test_unknown_backend(video):
    with pytest.raises(VideoError, match="backend"):
        open_video(video, backend="opencv")


# ------------------------------------------------------------------ writer
@pytest.mark.needs("av")
def test_default_codec_prefers_libx264():
    import av

    assert default_codec() == ("libx264" if "libx264" in av.codecs_available else "mpeg4")


@pytest.mark.needs("av")
def test_writer_context_manager_and_chunks(tmp_path, sequential):
    with VideoWriter(tmp_path / "w.mp4", 30) as w:
        w.write(sequential[:10])  # a chunk
        for f in sequential[10:15]:
            w.write(f)
        assert not (tmp_path / "w.mp4").exists()  # nothing at the target until close
    assert w.frames_written == 15
    with open_video(tmp_path / "w.mp4") as src:
        assert [frame_code(f) for f in src.get_batch(range(15))] == list(range(15))
    assert [p.name for p in tmp_path.iterdir()] == ["w.mp4"]


@pytest.mark.needs("av")
def test_writer_is_atomic_on_failure(tmp_path):
    target = tmp_path / "keep.mp4"
    write_video(target, indexed_frames(5), 30)
    before = target.read_bytes()
    with pytest.raises(RuntimeError):
        with VideoWriter(target, 30) as w:
            w.write(np.zeros((H, W, 3), np.uint8))
            raise RuntimeError("simulated crash while writing")
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.mp4"]


@pytest.mark.needs("av")
def test_writer_rejects_bad_input(tmp_path):
    with pytest.raises(VideoError, match="uint8"):
        write_video(tmp_path / "a.mp4", [np.zeros((H, W, 3), np.float32)], 30)
    with pytest.raises(VideoError, match=r"\(H, W, 3\)"):
        write_video(tmp_path / "b.mp4", [np.zeros((H, W), np.uint8)], 30)
    with pytest.raises(VideoError, match="even"):
        write_video(tmp_path / "c.mp4", [np.zeros((47, 64, 3), np.uint8)], 30)
    with pytest.raises(VideoError, match="one size"):
        write_video(tmp_path / "d.mp4", [np.zeros((H, W, 3), np.uint8), np.zeros((H + 2, W, 3), np.uint8)], 30)
    with pytest.raises(VideoError, match="no frames"):
        write_video(tmp_path / "e.mp4", [], 30)
    with pytest.raises(VideoError, match="fps"):
        write_video(tmp_path / "f.mp4", [np.zeros((H, W, 3), np.uint8)], 0)
    with pytest.raises(VideoError, match="container"):
        write_video(tmp_path / "g.gif", [np.zeros((H, W, 3), np.uint8)], 30)
    with pytest.raises(VideoError, match="encoder"):
        write_video(tmp_path / "h.mp4", [np.zeros((H, W, 3), np.uint8)], 30, codec="no-such-codec")
    with pytest.raises(VideoError, match="does not exist"):
        write_video(tmp_path / "missing" / "i.mp4", [np.zeros((H, W, 3), np.uint8)], 30)
    assert list(tmp_path.iterdir()) == []  # no partial or temporary files


# ------------------------------------------------------------------ bad files → VideoError
def _audio_only(path, codec: str = "pcm_s16le"):
    import av

    with av.open(str(path), "w") as c:
        s = c.add_stream(codec, rate=8000)
        s.layout = "mono"
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16", layout="mono")
        frame.sample_rate = 8000
        for p in s.encode(frame):
            c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


@pytest.mark.needs("av")
def test_missing_empty_and_non_video_files(tmp_path):
    cases = {
        "no such": tmp_path / "missing.mp4",
        "empty": tmp_path / "empty.mp4",
        "not a regular file": tmp_path,
        "not a readable video": tmp_path / "notes.mp4",
        "no video stream": tmp_path / "sound.wav",
    }
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "notes.mp4").write_text("this is a text file, not a video\n" * 20)
    _audio_only(tmp_path / "sound.wav")
    for message, path in cases.items():
        with pytest.raises(VideoError, match=message):
            open_video(path)
    with pytest.raises(VideoError, match="not a regular file"):
        open_video("/dev/null")
    # an MP4 (or a phone's .m4a) of sound only and an MP4 with no track at all are intact files: they say what
    # they lack, never that their index is damaged
    for name in ("voice.m4a", "sound-only.mp4"):
        with pytest.raises(VideoError, match="no video stream: the file holds only audio") as err:
            open_video(_audio_only(tmp_path / name, "aac"))
        assert "index" not in str(err.value)
    zero = pathlib.Path(__file__).parent / "data" / "videos" / "zero-frames.mp4"  # FFmpeg's `-frames:v 0`
    with pytest.raises(VideoError, match="no video stream and no frames") as err:
        open_video(zero)
    assert "index" not in str(err.value)
    rng = np.random.default_rng(1)
    (tmp_path / "noise.mkv").write_bytes(rng.integers(0, 256, 50_000, dtype=np.uint8).tobytes())
    with pytest.raises(VideoError):
        open_video(tmp_path / "noise.mkv")


@pytest.mark.needs("av")
@pytest.mark.parametrize("name,options", [("end.mp4", None), ("faststart.mp4", {"movflags": "faststart"}),
                                          ("stream.mkv", None)])
def test_truncated_files(tmp_path, name, options):
    full = write_video(tmp_path / ("full_" + name), indexed_frames(90), 30, container_options=options)
    data = full.read_bytes()
    for fraction in (0.02, 0.5, 0.9):
        cut = tmp_path / f"cut_{fraction}_{name}"
        cut.write_bytes(data[: int(len(data) * fraction)])
        with pytest.raises(VideoError, match="truncated|not a readable|no frames|damaged"):
            with open_video(cut) as src:
                for _ in src.iter_chunks(32):
                    pass


@pytest.mark.needs("av")
def test_damaged_middle_never_crashes_or_hangs(tmp_path):
    path = write_video(tmp_path / "d.mkv", indexed_frames(90), 30, options={"g": "10"})
    data = bytearray(path.read_bytes())
    rng = np.random.default_rng(3)
    middle = len(data) // 2
    data[middle:middle + 3000] = rng.integers(0, 256, 3000, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))
    try:
        with open_video(path) as src:
            n = sum(len(f) for _, f in src.iter_chunks(16))
            assert n == len(src)
            src.get_batch([0, len(src) - 1, len(src) // 2])
    except VideoError:
        pass  # a clear error is as good as a repaired read; anything else fails the test


@pytest.mark.needs("av")
def test_bad_arguments_and_closed_source(video):
    src = open_video(video)
    with pytest.raises(VideoError, match="out of range"):
        src.get_batch([0, 150])
    with pytest.raises(VideoError, match="out of range"):
        src.get_batch([-151])
    with pytest.raises(VideoError, match="integers"):
        src.get_batch([0.5])
    with pytest.raises(VideoError, match="positive"):
        next(src.iter_chunks(0))
    with pytest.raises(VideoError, match="range"):
        next(src.iter_chunks(4, start=10, stop=5))
    src.close()
    src.close()  # idempotent
    with pytest.raises(VideoError, match="closed"):
        src.get_batch([0])


def test_video_errors_are_infantjax_errors():
    assert issubclass(VideoError, InfantJaxError)
