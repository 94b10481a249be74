"""Writing video files atomically: RGB frames to MP4, MOV, MKV or AVI (PyAV), at a constant rate or at given
presentation times (a variable frame rate kept), renamed into place only when complete
(:class:`VideoWriter`, :func:`write_video`). Reading them is :mod:`infantjax.io.video`."""

from __future__ import annotations

import fractions
import math
import os
import pathlib
from collections.abc import Iterable, Sequence

import numpy as np
from jaxtyping import UInt8

from infantjax.errors import VideoError, VideoWriteError
from infantjax.io._pyav import _av, _describe
from infantjax.io.files import AtomicFile

__all__ = ["VideoWriter", "default_codec", "write_video"]

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
        rotation: display rotation stored in the file's metadata, counter-clockwise degrees (0, 90, 180, 270), as
            phones write it: the frames are stored as given and a reader turns them by ``rotation`` to show them
            upright (:attr:`VideoSource.rotation` reads it back). MP4, MOV and MKV only.
        time_base: the clock of the frames' timestamps when frames are written with their own times
            (``write(frame, time=...)``): default 1/90000 s (MPEG's clock). Pass the source's
            :attr:`VideoSource.time_base` to store a source's times exactly.
        reproducible: the same frames give the same bytes on every run and every machine. Left to itself
            libx264 picks its threads from the machine's cores, and its output changes with them (after
            decoding, pixels tens of grey levels apart on a machine or CPU affinity with another number of
            cores); and its macroblock-tree rate control gives other bytes from one run to the next on a
            loaded machine. This encodes with one thread and without the macroblock tree (files a little
            larger, slower on many cores); what the synthetic videos are written with.

    Frames are (H, W, 3) uint8 RGB; the first frame fixes the size. Leaving a ``with`` block by an exception leaves
    no file behind.

    **Frame times.** Without ``time``, frame k is shown at k / fps. With ``time`` (seconds, strictly increasing; the
    first call decides, and then every frame needs one) each frame keeps its own presentation time, so a phone's
    variable frame rate is written as it was recorded; ``fps`` is then only the nominal rate in the header.
    """

    def __init__(self, path: str | os.PathLike, fps: float, *, codec: str | None = None, crf: int = 18,
                 pix_fmt: str = "yuv420p", options: dict[str, str] | None = None,
                 container_options: dict[str, str] | None = None, rotation: int = 0,
                 time_base: fractions.Fraction | None = None, reproducible: bool = False):
        self.path = pathlib.Path(path)
        self.reproducible = bool(reproducible)
        if time_base is not None:
            try:
                tb = fractions.Fraction(time_base).limit_denominator(2**31 - 1)
            except (TypeError, ValueError, OverflowError):
                tb = fractions.Fraction(0)
            if tb <= 0 or tb.numerator >= 2**31:
                raise VideoError(f"time_base must be a positive fraction of a second such as Fraction(1, 90000), "
                                 f"got {time_base!r}")
            time_base = tb
        self.time_base = time_base
        if isinstance(rotation, bool) or not isinstance(rotation, (int, np.integer)) or rotation % 90:
            raise VideoError(f"rotation must be 0, 90, 180 or 270 degrees, got {rotation!r}")
        self.rotation = int(rotation) % 360
        if self.rotation and self.path.suffix.lower() not in (".mp4", ".m4v", ".mov", ".mkv"):
            raise VideoError(f"cannot write {self.path}: a display rotation is stored in MP4, MOV and MKV files only")
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
        self._timed: bool | None = None  # whether frames carry their own times (decided by the first write)
        self._last_pts: int | None = None
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
        if self._timed:
            stream.time_base = stream.codec_context.time_base = self.time_base
        if self.rotation:
            if not hasattr(stream, "set_display_rotation"):
                raise VideoError(f"{self.path}: writing a display rotation needs PyAV >= 17 (this is {av.__version__}); "
                                 "upgrade it with `pip install -U av`")
            stream.set_display_rotation(self.rotation)
        opts = dict(self.options)
        if self.reproducible:  # one thread: the output depends on neither the cores nor their timing
            opts["threads"] = "1"
            stream.codec_context.thread_count = 1
            if self.codec == "libx264":
                extra = opts.get("x264-params", "")
                opts["x264-params"] = f"{extra}:mbtree=0" if extra else "mbtree=0"
        if self.codec == "libx264":
            opts.setdefault("crf", str(self.crf))
            opts.setdefault("preset", "fast")
        elif "bit_rate" not in opts:
            stream.bit_rate = int(max(1_000_000, 0.3 * w * h * float(self.fps)))  # mpeg4's default is far too low
        opts.pop("bit_rate", None)
        stream.codec_context.options = opts
        self._stream = stream
        self.frame_size = (h, w)

    def write(self, frame: UInt8[np.ndarray, "H W 3"], time: float | Sequence[float] | None = None):
        """Append one (H, W, 3) uint8 RGB frame (or a chunk (N, H, W, 3) of frames).

        Arguments:
            frame: the frame, or a chunk of frames.
            time: its presentation time in seconds (a chunk: one time per frame), or None for k / fps; see
                "Frame times" in the class docstring.
        """
        av = _av()
        if self._closed:
            raise VideoError(f"{self.path}: the writer is closed")
        arr = np.asarray(frame)
        if arr.ndim == 4:
            if time is None:
                for f in arr:
                    self.write(f)
                return
            times = np.asarray(time, dtype=np.float64).reshape(-1)
            if times.shape != (len(arr),):
                raise VideoError(f"{self.path}: a chunk of {len(arr)} frames needs {len(arr)} times, got "
                                 f"{times.size}")
            for f, t in zip(arr, times):
                self.write(f, float(t))
            return
        pts = self._pts(time)
        if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8:
            raise VideoError(f"{self.path}: frames must be (H, W, 3) uint8 RGB arrays, got {arr.dtype} with shape "
                             f"{arr.shape}; convert with np.clip(x, 0, 255).astype(np.uint8)")
        if self._container is None:
            self._start(arr.shape[0], arr.shape[1])
        elif arr.shape[:2] != self.frame_size:
            raise VideoError(f"{self.path}: frame {self.frames_written} is {arr.shape[1]}x{arr.shape[0]} but the "
                             f"video is {self.frame_size[1]}x{self.frame_size[0]}; all frames need one size")
        vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(arr), format="rgb24")
        if pts is not None:
            vf.pts, vf.time_base = pts, self.time_base
        try:
            for packet in self._stream.encode(vf):
                self._container.mux(packet)
        except av.error.FFmpegError as err:
            raise VideoError(f"{self.path}: encoding failed ({_describe(err)})") from None
        self.frames_written += 1
        if pts is not None:
            self._last_pts = pts

    def _pts(self, time) -> int | None:
        """The timestamp of a frame shown at ``time`` seconds (None: untimed), checked against the frames before."""
        timed = time is not None
        if self._timed is None:
            self._timed = timed
            if timed and self.time_base is None:
                self.time_base = fractions.Fraction(1, 90000)
        elif timed != self._timed:
            raise VideoError(f"{self.path}: frame {self.frames_written} "
                             + ("has a time but the frames before had none" if timed else
                                "has no time but the frames before had theirs")
                             + "; give every frame a time or none")
        if not timed:
            return None
        try:
            t = float(time)
        except (TypeError, ValueError):
            t = float("nan")
        if not math.isfinite(t) or t < 0:
            raise VideoError(f"{self.path}: frame {self.frames_written}'s time must be a finite number of seconds "
                             f">= 0, got {time!r}")
        pts = round(fractions.Fraction(t) / self.time_base)
        if self._last_pts is not None and pts <= self._last_pts:
            raise VideoError(f"{self.path}: frame {self.frames_written} at {t:.6f} s is not after the frame before "
                             f"(at {float(self._last_pts * self.time_base):.6f} s) on the {self.time_base} s clock; "
                             "frame times must increase strictly (pass a finer time_base)")
        return pts

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
                container_options: dict[str, str] | None = None, rotation: int = 0,
                times: Sequence[float] | np.ndarray | None = None,
                time_base: fractions.Fraction | None = None, reproducible: bool = False) -> pathlib.Path:
    """Write frames to a video file atomically.

    Arguments:
        path: target file (``.mp4`` …).
        frames: (N, H, W, 3) uint8 RGB array, or an iterable of (H, W, 3) frames or (n, H, W, 3) chunks (e.g.
            ``(f for _, f in source.iter_chunks(64))``).
        fps: frames per second.
        codec, crf, pix_fmt, options, container_options, rotation, time_base, reproducible: see
            :class:`VideoWriter`.
        times: every frame's presentation time in seconds (strictly increasing; a variable frame rate), or None
            for k / fps.

    Returns:
        The path written.
    """
    all_times = None if times is None else np.asarray(times, dtype=np.float64).reshape(-1)
    with VideoWriter(path, fps, codec=codec, crf=crf, pix_fmt=pix_fmt, options=options,
                     container_options=container_options, rotation=rotation, time_base=time_base,
                     reproducible=reproducible) as writer:
        for frame in frames:
            arr = np.asarray(frame)
            if all_times is None:
                writer.write(arr)
                continue
            k = 1 if arr.ndim == 3 else len(arr)
            done = writer.frames_written
            if done + k > len(all_times):
                raise VideoError(f"{writer.path}: {len(all_times)} times for more frames than that; give one time "
                                 "per frame")
            writer.write(arr, all_times[done] if arr.ndim == 3 else all_times[done:done + k])
        if all_times is not None and writer.frames_written != len(all_times):
            raise VideoError(f"{writer.path}: {len(all_times)} times for {writer.frames_written} frames; give one "
                             "time per frame")
    return writer.path
