"""The decoding corpus: small videos written the ways cameras and phones write them, each frame carrying its own
index, generated at test time with PyAV (which bundles FFmpeg's libraries, so no binary is needed).

Every entry knows what FFmpeg's decoder must give: ``expected[i]`` is the index of the source frame that is frame
``i`` (an edit list that discards 33 frames shifts them), ``times[i]`` its presentation time in seconds from the
first frame, and ``rotation`` the display rotation stored in the file (frames are stored turned by ``-rotation``, so
the upright frames are the source frames).
"""

from __future__ import annotations

import dataclasses
import fractions
import pathlib

import numpy as np

H, W = 64, 96  # the upright frame size
BITS = 10  # bars of the index code: frames 0..1023


def indexed_frames(n: int, h: int = H, w: int = W) -> np.ndarray:
    """(n, h, w, 3) uint8 frames that carry their index: 10 vertical bars in red, bar b white when bit b is set.

    The rest changes slowly (a gradient drifting by one grey level a frame) so that the encoders make real P- and
    B-frames instead of a key frame at every scene cut."""
    out = np.zeros((n, h, w, 3), np.uint8)
    ramp = (np.arange(w)[None, :] * 2 + np.arange(h)[:, None]).astype(np.int64)
    for i in range(n):
        for b in range(BITS):
            if (i >> b) & 1:
                out[i, :, b * 8:(b + 1) * 8, 0] = 255
        out[i, ..., 1] = (ramp + i) % 256
        out[i, h // 2:, :, 2] = 90 + (i % 64)
    return out


def frame_code(frame: np.ndarray) -> int:
    """The index an upright frame of :func:`indexed_frames` carries (the middle of each bar, away from edges)."""
    return sum(1 << b for b in range(BITS) if frame[4:-4, b * 8 + 2:(b + 1) * 8 - 2, 0].mean() > 128)


@dataclasses.dataclass(frozen=True)
class Entry:
    """One corpus video: its file, the source index of every decoded frame, their times and the rotation."""

    name: str
    path: pathlib.Path
    expected: np.ndarray
    times: np.ndarray
    rotation: int = 0
    fps: float = 25.0


def _encode(path, frames, *, codec, fmt=None, rate=25, options=None, times=None, rotation=0, audio=False,
            pix_fmt="yuv420p", time_base=None):
    """Encode ``frames`` (stored orientation) with PyAV; ``times`` (seconds) for a variable frame rate."""
    import av

    with av.open(str(path), "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=rate)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], pix_fmt
        if time_base is not None:
            stream.time_base = stream.codec_context.time_base = time_base
        stream.codec_context.options = dict(options or {})
        if rotation:
            stream.set_display_rotation(rotation)
        sound = container.add_stream("aac", rate=48000) if audio else None
        if sound is not None:
            sound.layout = "mono"
        for i, f in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")
            if times is not None:
                frame.pts = round(times[i] / time_base)
                frame.time_base = time_base
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
        if sound is not None:  # a second of silence: a phone video has a sound track
            chunk = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            chunk.sample_rate = 48000
            for k in range(47):
                chunk.pts = k * 1024
                for packet in sound.encode(chunk):
                    container.mux(packet)
            for packet in sound.encode():
                container.mux(packet)
    return path


def _cut(src: pathlib.Path, dst: pathlib.Path, frames: int) -> pathlib.Path:
    """Remux ``src`` with its first ``frames`` frames moved before time 0, as ``ffmpeg -ss T -i in -c copy`` cuts
    without re-encoding: the MP4 then has an edit list, and the packets before it are decoded but not shown."""
    import av

    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        ist = inp.streams.video[0]
        ost = out.add_stream_from_template(ist)
        shift = round(frames / float(ist.average_rate) / ist.time_base)
        for packet in inp.demux(ist):
            if packet.size == 0:
                continue
            packet.pts -= shift
            packet.dts -= shift
            packet.stream = ost
            out.mux(packet)
    return dst


def _rotated(frames: np.ndarray, rotation: int) -> np.ndarray:
    """Upright frames as a camera stores them with display rotation ``rotation``."""
    return np.ascontiguousarray(np.rot90(frames, -(rotation // 90), axes=(1, 2)))


def _vfr_times(n: int, seed: int = 0) -> np.ndarray:
    """Phone-like frame times: intervals of 1/30 to 1/15 s, whole milliseconds (so MKV stores them exactly)."""
    rng = np.random.default_rng(seed)
    intervals = rng.choice([0.033, 0.042, 0.050, 0.067], size=n - 1)
    return np.concatenate([[0.0], np.cumsum(intervals)])


def build(folder: pathlib.Path) -> dict[str, Entry]:
    """Write the corpus into ``folder`` (a second or two) and return its entries by name."""
    folder.mkdir(parents=True, exist_ok=True)
    n = 120
    src = indexed_frames(n)
    cfr = np.arange(n) / 25.0
    x264 = {"crf": "16", "preset": "veryfast"}
    closed_long = {**x264, "bf": "3", "g": "250", "x264-params": "scenecut=0"}
    entries: list[Entry] = []

    def add(name, path, expected=None, times=cfr, rotation=0, fps=25.0):
        expected = np.arange(n) if expected is None else expected
        entries.append(Entry(name, path, np.asarray(expected), np.asarray(times, np.float64), rotation, fps))

    mpeg2 = {"g": "12", "bf": "2", "qscale": "2", "sc_threshold": "1000000000"}
    add("mpeg-ps", _encode(folder / "camcorder.mpg", src, codec="mpeg2video", fmt="vob", options=mpeg2))
    add("mpeg-ts-short-gop", _encode(folder / "short_gop.ts", src, codec="libx264", fmt="mpegts",
                                     options={**x264, "bf": "2", "g": "12"}, audio=True))
    add("mpeg-ts-long-gop", _encode(folder / "long_gop.mts", src, codec="libx264", fmt="mpegts", options=closed_long))
    add("mpeg-ts-mpeg2-open-gop", _encode(folder / "hdv.m2ts", src, codec="mpeg2video", fmt="mpegts",
                                          options={**mpeg2, "g": "15"}))
    add("avi-b-frames", _encode(folder / "b_frames.avi", src, codec="libx264", fmt="avi",
                                options={**x264, "bf": "3", "g": "30"}))
    mp4 = _encode(folder / "b_frames.mp4", src, codec="libx264", options={**x264, "bf": "3", "g": "24"})
    add("mp4-b-frames", mp4)
    add("mp4-edit-list-cut", _cut(mp4, folder / "cut.mp4", 33), expected=np.arange(33, n), times=cfr[: n - 33])
    add("mkv-b-frames", _encode(folder / "b_frames.mkv", src, codec="libx264", options={**x264, "bf": "3", "g": "24"}))
    vfr = _vfr_times(90)
    for suffix, base in ((".mp4", fractions.Fraction(1, 90000)), (".mkv", fractions.Fraction(1, 1000))):
        add(f"vfr{suffix}", _encode(folder / f"vfr{suffix}", src[:90], codec="libx264", options={**x264, "bf": "2"},
                                    times=vfr, time_base=base), expected=np.arange(90), times=vfr,
            fps=89 / vfr[-1])
    for name, rotation in (("portrait", 270), ("portrait-90", 90), ("upside-down", 180)):
        add(name, _encode(folder / f"{name}.mp4", _rotated(src, rotation), codec="libx264",
                          options={**x264, "bf": "2", "g": "30"}, rotation=rotation, audio=name == "portrait"),
            rotation=rotation)
    return {e.name: e for e in entries}
