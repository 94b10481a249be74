"""Video files: frame-accurate reading in bounded memory (PyAV, or decord when installed) and an MP4 writer.

``open_video(path)`` returns a :class:`VideoSource`. Frames are (N, H, W, 3) uint8 RGB, channels-last. Frame ``i``
is the i-th frame in presentation order: at open the PyAV backend reads every packet header (no decoding) and sorts
the presentation timestamps, so an index means the same frame whether it is reached by a seek or by sequential
decoding. ``get_batch`` seeks to the keyframe at or before each wanted frame and decodes forward; ``iter_chunks``
decodes sequentially and holds one chunk at a time, so memory is bounded for any length.

Every failure a file can cause — missing, zero bytes, truncated, not a video, no decoder — raises
:class:`~infantjax.errors.VideoError` naming the file; decoding gives up after a bounded number of consecutive
errors, so a damaged file never hangs. The display-rotation metadata of phone videos is reported
(:attr:`VideoSource.rotation`) but not applied, as in decord.
"""

from __future__ import annotations

import bisect
import fractions
import logging
import math
import os
import pathlib
from collections.abc import Iterable, Iterator, Sequence

import numpy as np
from jaxtyping import UInt8

from infantjax.errors import VideoError, VideoWriteError
from infantjax.io.files import AtomicFile

__all__ = ["VideoSource", "VideoWriter", "open_video", "write_video", "BACKENDS", "default_codec"]

log = logging.getLogger(__name__)

BACKENDS = ("pyav", "decord")
MAX_CONSECUTIVE_ERRORS = 32  # decode errors in a row before a file is declared damaged
_SEEK_RETRIES = 3  # earlier keyframes tried when a seek lands after the wanted frame


def _check_path(path: pathlib.Path):
    if not path.exists():
        raise VideoError(f"{path}: no such video file; check the path")
    if not path.is_file():
        raise VideoError(f"{path}: not a regular file (a folder, device or pipe cannot be opened as a video)")
    if path.stat().st_size == 0:
        raise VideoError(f"{path}: the file is empty (0 bytes); the recording or copy did not complete")


def _av():
    import av  # deferred: importing PyAV loads FFmpeg

    return av


# ---------------------------------------------------------------------------------------------------- PyAV
class _PyAVBackend:
    """Frame-accurate random access and sequential decoding with PyAV."""

    name = "pyav"

    def __init__(self, path: pathlib.Path, threads: int = 0):
        av = _av()
        self.path = path
        try:
            self.container = av.open(str(path), "r")
        except av.error.FFmpegError as err:
            raise VideoError(f"{path}: not a readable video ({_describe(err)}); the file is damaged, truncated "
                             "or in a format FFmpeg does not know") from None
        try:
            self._probe(threads)
        except BaseException:
            self.container.close()
            raise

    def _probe(self, threads: int):
        av = _av()
        path, container = self.path, self.container
        if not container.streams.video:
            kinds = sorted({s.type for s in container.streams}) or ["none"]
            raise VideoError(f"{path}: no video stream (streams: {', '.join(kinds)}); pass a video file")
        stream = container.streams.video[0]
        self.stream = stream
        ctx = stream.codec_context
        if ctx is None or not ctx.width or not ctx.height:
            raise VideoError(f"{path}: the video stream has no decoder or no frame size (codec "
                             f"{getattr(ctx, 'name', None)!r} unsupported by this FFmpeg build)")
        self.frame_size = (int(ctx.height), int(ctx.width))
        stream.thread_type = "AUTO"
        if threads:
            ctx.thread_count = threads
        # Index every frame by its presentation timestamp, reading packet headers only (no decoding).
        pts, key_pts, no_pts = [], [], 0
        try:
            for packet in container.demux(stream):
                if packet.size == 0:  # the flush packet at the end
                    continue
                t = packet.pts if packet.pts is not None else packet.dts
                if t is None:
                    no_pts += 1
                    continue
                pts.append(int(t))
                if packet.is_keyframe:
                    key_pts.append(int(t))
        except av.error.FFmpegError as err:
            raise VideoError(f"{path}: reading the packets failed after {len(pts)} frames ({_describe(err)}); "
                             "the file is damaged or truncated") from None
        if no_pts and not pts:
            raise VideoError(f"{path}: the video packets carry no timestamps (a raw elementary stream?); remux "
                             "it into a container first, e.g. `ffmpeg -i in.h264 -c copy out.mp4`")
        if not pts:
            raise VideoError(f"{path}: the video stream holds no frames")
        pts.sort()
        if len(set(pts)) != len(pts):
            raise VideoError(f"{path}: several frames share one timestamp; remux the file (ffmpeg -i in -c copy)")
        self.pts = np.asarray(pts, dtype=np.int64)
        self.index_of = {p: i for i, p in enumerate(pts)}
        keys = sorted({self.index_of[p] for p in key_pts}) or [0]
        if keys[0] != 0:
            keys.insert(0, 0)  # decoding always starts somewhere: the stream start stands in for a keyframe
        self.keyframes = keys
        self.num_frames = len(pts)
        self.fps = self._frame_rate()
        self._check_complete()
        self._decoder: Iterator[tuple[int, object]] | None = None
        self._last = -1  # index of the frame the decoder returned last

    def _frame_rate(self) -> float:
        for rate in (self.stream.average_rate, self.stream.guessed_rate, self.stream.base_rate):
            if rate and float(rate) > 0 and math.isfinite(float(rate)):
                return float(rate)
        if self.num_frames > 1:
            span = float((self.pts[-1] - self.pts[0]) * self.stream.time_base)
            if span > 0:
                return (self.num_frames - 1) / span
        raise VideoError(f"{self.path}: the frame rate cannot be determined")

    def _check_complete(self):
        """Truncation shows as fewer packets than the header declares, or data ending before its duration.

        For intact files the counts agree (checked with x264 MP4s with B-frames, which carry an edit list); the
        duration check allows a quarter second (or 3 frames) for a long last frame of a variable-rate video.
        """
        declared = int(self.stream.frames or 0)
        if declared > self.num_frames:
            raise VideoError(f"{self.path}: the file is truncated: its header declares {declared} frames but only "
                             f"{self.num_frames} are present")
        tb = self.stream.time_base
        duration = float(self.stream.duration * tb) if self.stream.duration else None
        if duration is None and len(self.container.streams) == 1 and self.container.duration:
            duration = self.container.duration / 1e6
        if duration:
            start = float(self.pts[0] * tb)
            span = float(self.pts[-1] * tb) - start + 1.0 / self.fps
            if duration - span > max(0.25, 3.0 / self.fps):
                raise VideoError(f"{self.path}: the file is truncated: its header declares {duration:.2f} s but the "
                                 f"frames end after {span:.2f} s")

    # -- decoding
    def _frames_from(self, keyframe: int, container=None) -> Iterator[tuple[int, object]]:
        """Seek to frame ``keyframe`` (a keyframe index) and yield (index, frame) in presentation order."""
        av = _av()
        container = container or self.container
        stream = container.streams.video[0]
        try:
            container.seek(int(self.pts[keyframe]), stream=stream, backward=True, any_frame=False)
        except av.error.FFmpegError as err:
            raise VideoError(f"{self.path}: seeking to frame {keyframe} failed ({_describe(err)})") from None
        errors = 0
        packets = container.demux(stream)
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                return
            except av.error.FFmpegError as err:
                raise VideoError(f"{self.path}: reading packets failed ({_describe(err)}); the file is damaged") \
                    from None
            try:
                frames = packet.decode()
                errors = 0
            except av.error.FFmpegError as err:
                errors += 1
                if errors >= MAX_CONSECUTIVE_ERRORS:
                    raise VideoError(f"{self.path}: {errors} packets in a row failed to decode ({_describe(err)}); "
                                     "the file is damaged") from None
                continue
            for frame in frames:
                t = frame.pts if frame.pts is not None else frame.dts
                if t is None:
                    continue
                idx = self.index_of.get(int(t))
                if idx is None:  # a timestamp the index does not know: take the nearest indexed frame
                    idx = int(np.clip(np.searchsorted(self.pts, int(t)), 0, self.num_frames - 1))
                yield idx, frame

    def _restart(self, keyframe: int):
        if self._decoder is not None:
            self._decoder.close()
        self._decoder = self._frames_from(keyframe)
        self._last = -1

    def _to_array(self, frame) -> np.ndarray:
        h, w = self.frame_size
        if frame.height != h or frame.width != w:  # a resolution change mid-stream: keep one frame size
            return frame.to_ndarray(format="rgb24", width=w, height=h)
        return frame.to_ndarray(format="rgb24")

    def frame(self, target: int) -> np.ndarray:
        """Frame ``target`` as (H, W, 3) uint8: decode forward when it lies ahead in this GOP, else seek."""
        k = bisect.bisect_right(self.keyframes, target) - 1
        if self._decoder is None or self._last >= target or self.keyframes[k] > self._last + 1:
            self._restart(self.keyframes[k])
        for attempt in range(_SEEK_RETRIES + 1):
            decoded = 0
            limit = target - self.keyframes[k] + 256  # never decode without bound
            for idx, frame in self._decoder:
                self._last = idx
                decoded += 1
                if idx == target:
                    return self._to_array(frame)
                if idx > target or decoded > limit:
                    break
            else:
                self._decoder = None
                raise VideoError(f"{self.path}: frame {target} of {self.num_frames} could not be decoded (the "
                                 "file ends early: truncated or damaged)")
            # the seek landed after the target (inexact container index): start from an earlier keyframe
            k = max(k - 1, 0)
            self._restart(self.keyframes[k])
        raise VideoError(f"{self.path}: frame {target} could not be reached by seeking; the file's index is broken "
                         "(remux it: ffmpeg -i in -c copy out.mp4)")

    def get_batch(self, indices: Sequence[int]) -> np.ndarray:
        h, w = self.frame_size
        out = np.empty((len(indices), h, w, 3), dtype=np.uint8)
        for i, target in enumerate(indices):
            out[i] = self.frame(int(target))
        return out

    def iter_chunks(self, n: int, start: int, stop: int) -> Iterator[tuple[int, np.ndarray]]:
        h, w = self.frame_size
        av = _av()
        k = self.keyframes[bisect.bisect_right(self.keyframes, start) - 1]
        try:  # a container of its own, so get_batch calls between chunks do not move this one
            container = av.open(str(self.path), "r")
        except (av.error.FFmpegError, OSError) as err:
            raise VideoError(f"{self.path}: cannot reopen the video ({_describe(err)})") from None
        container.streams.video[0].thread_type = "AUTO"
        decoder = self._frames_from(k, container)
        nxt, fill, prev = start, 0, None
        buf = np.empty((min(n, stop - nxt), h, w, 3), np.uint8)
        try:
            for idx, frame in decoder:
                if idx < nxt:
                    continue
                arr = self._to_array(frame)
                if idx > nxt:  # frames that failed to decode: repeat the last good one to keep the time axis
                    log.warning("%s: frames %d-%d could not be decoded; repeating the frame before them",
                                self.path, nxt, idx - 1)
                while nxt <= min(idx, stop - 1):
                    buf[fill] = arr if (nxt == idx or prev is None) else prev
                    fill, nxt = fill + 1, nxt + 1
                    if fill == len(buf):
                        yield nxt - fill, buf
                        fill = 0
                        if nxt < stop:
                            buf = np.empty((min(n, stop - nxt), h, w, 3), np.uint8)
                prev = arr
                if nxt >= stop:
                    break
        finally:
            decoder.close()
            container.close()
        if fill:
            yield nxt - fill, buf[:fill]
        if nxt < stop:
            raise VideoError(f"{self.path}: only {nxt} of {self.num_frames} frames could be decoded; the file is "
                             "truncated or damaged")

    def close(self):
        if self._decoder is not None:
            self._decoder.close()
            self._decoder = None
        self.container.close()


def _describe(err: Exception) -> str:
    return f"{type(err).__name__}: {getattr(err, 'strerror', None) or err}"


def _rotation(path: pathlib.Path) -> int:
    """Display rotation in degrees (counter-clockwise) from the display matrix of the first frame (0 when none)."""
    av = _av()
    try:
        with av.open(str(path)) as container:
            for frame in container.decode(video=0):
                return int(round(float(getattr(frame, "rotation", 0) or 0))) % 360
    except av.error.FFmpegError:
        return 0
    return 0


# ---------------------------------------------------------------------------------------------------- decord
class _DecordBackend:
    """decord's VideoReader behind the same interface (optional: ``pip install 'infantjax[decord]'``)."""

    name = "decord"

    def __init__(self, path: pathlib.Path, threads: int = 0):
        try:
            import decord  # noqa: F401
        except ImportError as err:
            raise VideoError(
                f"the decord backend needs the decord package, which is not importable here ({err}); install it "
                "with `pip install 'infantjax[decord]'` (or `pip install decord`), or use backend='pyav'"
            ) from None
        # validate with PyAV first: decord can abort the process on some damaged files
        probe = _PyAVBackend(path, threads)
        num_frames = probe.num_frames
        probe.close()
        self.path, self.threads = path, threads
        self.reader = self._open()
        self.num_frames = len(self.reader)
        if self.num_frames != num_frames:
            log.warning("%s: decord counts %d frames, PyAV %d", path, self.num_frames, num_frames)
        self.fps = float(self.reader.get_avg_fps())
        first = self.reader[0].shape
        self.frame_size = (int(first[0]), int(first[1]))
        self.reader.seek(0)

    def get_batch(self, indices: Sequence[int]) -> np.ndarray:
        import decord

        try:
            frames = self.reader.get_batch(list(map(int, indices))).asnumpy()
            # decord keeps decoding ahead into an unbounded queue while idle; seeking back stops it
            # (dmlc/decord#208, #197: memory grows with the video length otherwise)
            self.reader.seek(0)
            return frames
        except (decord.DECORDError, RuntimeError) as err:
            raise VideoError(f"{self.path}: decord failed to decode frames ({err})") from None

    def _open(self):
        import decord

        try:
            return decord.VideoReader(str(self.path), ctx=decord.cpu(0), num_threads=self.threads)
        except (decord.DECORDError, RuntimeError) as err:
            raise VideoError(f"{self.path}: decord cannot open the video ({err})") from None

    def iter_chunks(self, n: int, start: int, stop: int) -> Iterator[tuple[int, np.ndarray]]:
        # decord's memory grows with every frame a reader decodes (dmlc/decord#208), so a sequential pass uses a
        # fresh reader per chunk: memory is then bounded by one chunk whatever the video's length
        main = self.reader
        try:
            for s in range(start, stop, n):
                self.reader = self._open()
                frames = self.get_batch(range(s, min(s + n, stop)))
                self.reader = None
                yield s, frames
        finally:
            self.reader = main

    def close(self):
        self.reader = None


# ---------------------------------------------------------------------------------------------------- public
class VideoSource:
    """A video opened for reading (use :func:`open_video`).

    Attributes:
        path: the file.
        backend: ``"pyav"`` or ``"decord"``.
        num_frames: number of frames (also ``len(source)``).
        fps: frames per second (average rate).
        frame_size: (H, W) in pixels.
        rotation: display rotation in degrees from the file's metadata (not applied to frames).
    """

    def __init__(self, path: str | os.PathLike, backend: str = "pyav", *, threads: int = 0):
        self.path = pathlib.Path(path)
        if backend not in BACKENDS:
            raise VideoError(f"unknown video backend {backend!r}; choose one of {', '.join(BACKENDS)}")
        _check_path(self.path)
        self.backend = backend
        impl = _PyAVBackend if backend == "pyav" else _DecordBackend
        self._impl = impl(self.path, threads)
        self.num_frames: int = self._impl.num_frames
        self.fps: float = self._impl.fps
        self.frame_size: tuple[int, int] = self._impl.frame_size
        self._rotation: int | None = None

    def __len__(self) -> int:
        return self.num_frames

    def __repr__(self) -> str:
        h, w = self.frame_size
        return f"VideoSource({str(self.path)!r}, {self.num_frames} frames, {w}x{h}, {self.fps:g} fps, {self.backend})"

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.num_frames / self.fps

    @property
    def rotation(self) -> int:
        """Display rotation in degrees from the file's metadata (phone videos); frames are returned unrotated."""
        if self._rotation is None:
            self._rotation = _rotation(self.path)
        return self._rotation

    def _live(self):
        if self._impl is None:
            raise VideoError(f"{self.path}: the video source is closed")
        return self._impl

    def get_batch(self, indices: Sequence[int] | np.ndarray) -> UInt8[np.ndarray, "N H W 3"]:
        """Frames at ``indices`` (any order, repeats allowed, negative counts from the end).

        Returns:
            (N, H, W, 3) uint8 RGB in the order asked for.
        """
        impl = self._live()
        idx = np.asarray(indices)
        if idx.ndim != 1 or (idx.size and not np.issubdtype(idx.dtype, np.integer)):
            raise VideoError(f"{self.path}: frame indices must be a 1-D sequence of integers, got {idx.dtype} "
                             f"with shape {idx.shape}")
        idx = idx.astype(np.int64)
        idx = np.where(idx < 0, idx + self.num_frames, idx)
        bad = idx[(idx < 0) | (idx >= self.num_frames)]
        if bad.size:
            raise VideoError(f"{self.path}: frame index {int(bad[0])} out of range; the video has "
                             f"{self.num_frames} frames (0..{self.num_frames - 1})")
        h, w = self.frame_size
        if not idx.size:
            return np.empty((0, h, w, 3), np.uint8)
        unique, inverse = np.unique(idx, return_inverse=True)  # decode each frame once, in ascending order
        return impl.get_batch(unique.tolist())[inverse.reshape(-1)]

    def __getitem__(self, index: int) -> UInt8[np.ndarray, "H W 3"]:
        return self.get_batch([index])[0]

    def iter_chunks(self, n: int = 64, *, start: int = 0,
                    stop: int | None = None) -> Iterator[tuple[int, UInt8[np.ndarray, "n H W 3"]]]:
        """Decode frames ``start..stop-1`` sequentially in chunks of ``n``; only one chunk is held at a time.

        Yields:
            (start_index, frames) with frames (k, H, W, 3) uint8 RGB, k = n except for the last chunk.
        """
        impl = self._live()
        if not isinstance(n, (int, np.integer)) or n < 1:
            raise VideoError(f"chunk size n must be a positive integer, got {n!r}")
        stop = self.num_frames if stop is None else int(stop)
        if not 0 <= start <= stop <= self.num_frames:
            raise VideoError(f"{self.path}: invalid frame range {start}..{stop} for {self.num_frames} frames")
        if start == stop:
            return
        yield from impl.iter_chunks(int(n), int(start), stop)

    def close(self):
        """Release the file (idempotent)."""
        if self._impl is not None:
            self._impl.close()
            self._impl = None

    def __enter__(self) -> VideoSource:
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


def open_video(path: str | os.PathLike, backend: str = "pyav", *, threads: int = 0) -> VideoSource:
    """Open a video for frame-accurate reading.

    Arguments:
        path: the video file.
        backend: ``"pyav"`` (default) or ``"decord"`` (optional dependency: ``pip install 'infantjax[decord]'``).
        threads: decoder threads (0 = FFmpeg's choice).

    Returns:
        A :class:`VideoSource`; use it as a context manager or call ``close()``.

    Raises:
        VideoError: missing, empty, truncated, damaged or non-video files, or an unavailable backend.
    """
    return VideoSource(path, backend, threads=threads)


# ---------------------------------------------------------------------------------------------------- writing
_CONTAINERS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".avi": "avi"}


def default_codec() -> str:
    """``libx264`` when this FFmpeg build has the encoder, else ``mpeg4``."""
    av = _av()
    for name in ("libx264", "mpeg4"):
        try:
            av.Codec(name, "w")
            return name
        except (ValueError, av.error.FFmpegError):  # UnknownCodecError is a ValueError
            continue
    raise VideoError("this FFmpeg build has neither the libx264 nor the mpeg4 encoder; reinstall PyAV")


class VideoWriter:
    """Write RGB frames to a video file, atomically: frames go to a temporary file renamed on :meth:`close`.

    Arguments:
        path: target file (``.mp4``, ``.mov``, ``.mkv`` or ``.avi``).
        fps: frames per second.
        codec: encoder name; default :func:`default_codec` (libx264 with yuv420p, else mpeg4).
        crf: libx264 quality (0 = lossless ... 51; 18 is visually lossless).
        pix_fmt: encoder pixel format.
        options: extra encoder options (strings), e.g. ``{"preset": "veryfast"}``.
        container_options: muxer options, e.g. ``{"movflags": "faststart"}`` (index at the front of an MP4).

    Frames are (H, W, 3) uint8 RGB; the first frame fixes the size. Leaving a ``with`` block by an exception leaves
    no file behind.
    """

    def __init__(self, path: str | os.PathLike, fps: float, *, codec: str | None = None, crf: int = 18,
                 pix_fmt: str = "yuv420p", options: dict[str, str] | None = None,
                 container_options: dict[str, str] | None = None):
        self.path = pathlib.Path(path)
        suffix = self.path.suffix.lower()
        if suffix not in _CONTAINERS:
            raise VideoError(f"cannot write {self.path}: unknown video container {suffix!r}; use one of "
                             f"{', '.join(_CONTAINERS)}")
        try:
            fps_f = float(fps)
        except (TypeError, ValueError):
            fps_f = float("nan")
        if not math.isfinite(fps_f) or fps_f <= 0:
            raise VideoError(f"fps must be a positive number, got {fps!r}")
        self.fps = fractions.Fraction(fps_f).limit_denominator(1001)
        self.codec = codec or default_codec()
        try:
            _av().Codec(self.codec, "w")
        except (ValueError, _av().error.FFmpegError):
            raise VideoError(f"this FFmpeg build has no {self.codec!r} encoder; try codec={default_codec()!r}") \
                from None
        self.crf, self.pix_fmt, self.options = crf, pix_fmt, dict(options or {})
        self.container_options = dict(container_options or {})
        self._file = AtomicFile(self.path, error=VideoWriteError)  # last: no temporary file if a check fails
        self._container = None
        self._stream = None
        self.frame_size: tuple[int, int] | None = None
        self.frames_written = 0
        self._closed = False

    def _start(self, h: int, w: int):
        av = _av()
        if self.pix_fmt in ("yuv420p", "nv12") and (h % 2 or w % 2):
            raise VideoError(f"{self.path}: {self.pix_fmt} needs an even frame width and height, got {w}x{h}; "
                             "crop or pad the frames by one pixel")
        self._container = av.open(str(self._file.tmp), "w", format=_CONTAINERS[self.path.suffix.lower()],
                                  options=self.container_options)
        stream = self._container.add_stream(self.codec, rate=self.fps)
        stream.width, stream.height, stream.pix_fmt = w, h, self.pix_fmt
        opts = dict(self.options)
        if self.codec == "libx264":
            opts.setdefault("crf", str(self.crf))
            opts.setdefault("preset", "fast")
        elif "bit_rate" not in opts:
            stream.bit_rate = int(max(1_000_000, 0.3 * w * h * float(self.fps)))  # mpeg4's default is far too low
        opts.pop("bit_rate", None)
        stream.codec_context.options = opts
        self._stream = stream
        self.frame_size = (h, w)

    def write(self, frame: UInt8[np.ndarray, "H W 3"]):
        """Append one (H, W, 3) uint8 RGB frame (or a chunk (N, H, W, 3) of frames)."""
        av = _av()
        if self._closed:
            raise VideoError(f"{self.path}: the writer is closed")
        arr = np.asarray(frame)
        if arr.ndim == 4:
            for f in arr:
                self.write(f)
            return
        if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8:
            raise VideoError(f"{self.path}: frames must be (H, W, 3) uint8 RGB arrays, got {arr.dtype} with shape "
                             f"{arr.shape}; convert with np.clip(x, 0, 255).astype(np.uint8)")
        if self._container is None:
            self._start(arr.shape[0], arr.shape[1])
        elif arr.shape[:2] != self.frame_size:
            raise VideoError(f"{self.path}: frame {self.frames_written} is {arr.shape[1]}x{arr.shape[0]} but the "
                             f"video is {self.frame_size[1]}x{self.frame_size[0]}; all frames need one size")
        vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(arr), format="rgb24")
        try:
            for packet in self._stream.encode(vf):
                self._container.mux(packet)
        except av.error.FFmpegError as err:
            raise VideoError(f"{self.path}: encoding failed ({_describe(err)})") from None
        self.frames_written += 1

    def close(self):
        """Flush the encoder and move the finished file into place."""
        if self._closed:
            return
        self._closed = True
        if self._container is None:
            self._file.discard()
            raise VideoError(f"{self.path}: no frames were written; the video was not created")
        av = _av()
        try:
            for packet in self._stream.encode():
                self._container.mux(packet)
            self._container.close()
        except av.error.FFmpegError as err:
            self._file.discard()
            raise VideoError(f"{self.path}: finishing the video failed ({_describe(err)})") from None
        self._file.commit()

    def abort(self):
        """Discard everything written so far."""
        self._closed = True
        if self._container is not None:
            try:
                self._container.close()
            except Exception:
                pass
        self._file.discard()

    def __enter__(self) -> VideoWriter:
        return self

    def __del__(self):
        if not getattr(self, "_closed", True):  # never finished: leave no temporary file behind
            self.abort()

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.abort()


def write_video(path: str | os.PathLike, frames: Iterable[np.ndarray] | np.ndarray, fps: float, *,
                codec: str | None = None, crf: int = 18, pix_fmt: str = "yuv420p",
                options: dict[str, str] | None = None,
                container_options: dict[str, str] | None = None) -> pathlib.Path:
    """Write frames to a video file atomically.

    Arguments:
        path: target file (``.mp4`` …).
        frames: (N, H, W, 3) uint8 RGB array, or an iterable of (H, W, 3) frames or (n, H, W, 3) chunks (e.g.
            ``(f for _, f in source.iter_chunks(64))``).
        fps: frames per second.
        codec, crf, pix_fmt, options, container_options: see :class:`VideoWriter`.

    Returns:
        The path written.
    """
    with VideoWriter(path, fps, codec=codec, crf=crf, pix_fmt=pix_fmt, options=options,
                     container_options=container_options) as writer:
        for frame in frames:
            writer.write(frame)
    return writer.path
