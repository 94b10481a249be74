"""Reading video files: frame-exact, in bounded memory (PyAV, or decord when installed). Writing them is
:mod:`infantjax.io.video_write` (:class:`VideoWriter`, :func:`write_video`), decoding ahead in a thread
:mod:`infantjax.io.prefetch` (:class:`Prefetch`); both are re-exported here.

``open_video(path)`` returns a :class:`VideoSource`. Frames are (N, H, W, 3) uint8 RGB, channels-last, upright.

**What frame i is.** Frame ``i`` is the i-th frame FFmpeg's decoder puts out when it decodes the file from its
start: its i-th frame in presentation order, what ``ffmpeg -i FILE -fps_mode passthrough -f rawvideo -`` writes.
It is the same frame whichever way it is reached: sequential decoding (``iter_chunks``), chunks from the middle,
random access (``get_batch``). At open the PyAV backend reads every packet header (no decoding) and builds an
index from them:

* When every frame carries a presentation timestamp of its own (MP4, MOV, MKV, WebM, MPEG program and transport
  streams), a decoded frame is placed by its timestamp, so a frame that fails to decode leaves a gap that is
  reported instead of shifting the frames after it. When the timestamps only count packets in decode order (AVI
  with B-frames: FFmpeg cannot know their presentation time from the container), decoded frames are placed by
  counting the decoder's output, which is in presentation order.
* Packets an edit list discards (an MP4 cut without re-encoding) are not frames: FFmpeg's decoder drops them.
* Decoding from the start never seeks: MPEG program and transport streams start at a late timestamp, and a seek
  to it can land after the first group of pictures. Random access seeks to the key frame at or before the wanted
  frame, recognises the key frame's packet by its decode timestamp (or byte position), skips the packets before it
  without decoding them, drops the leading frames of an open group of pictures, and starts again from an earlier
  key frame (in the end from the start) when the container's seek lands after it.

**Rotation.** Phones store frames sideways or upside down with a display rotation in the file's metadata; frames
come out upright by default — the rotation applied once, as FFmpeg's player applies it (decord applies it
itself) — and as stored with ``upright=False``. :attr:`VideoSource.rotation` is the metadata's rotation either way.

**Time.** :attr:`VideoSource.times` holds every frame's presentation time in seconds from the first frame, and
:attr:`VideoSource.fps` the average frame rate. Phones record at a variable frame rate: then the times are uneven,
:attr:`VideoSource.variable_frame_rate` is true and :attr:`VideoSource.frame_jitter` says by how much.

Every failure a file can cause — missing, zero bytes, truncated, not a video, no decoder — raises
:class:`~infantjax.errors.VideoError` naming the file; decoding gives up after a bounded number of consecutive
errors, so a damaged file never hangs.
"""

from __future__ import annotations

import bisect
import dataclasses
import fractions
import itertools
import logging
import math
import os
import pathlib
from collections.abc import Iterator, Sequence

import numpy as np
from jaxtyping import UInt8

from infantjax.errors import VideoError
from infantjax.io._pyav import _av, _describe
from infantjax.io.prefetch import Prefetch
from infantjax.io.video_write import VideoWriter, default_codec, write_video
from infantjax.sequence import frame_jitter, is_variable_rate

__all__ = ["VideoSource", "VideoWriter", "Prefetch", "open_video", "write_video", "BACKENDS", "default_codec"]

log = logging.getLogger(__name__)

BACKENDS = ("pyav", "decord")
MAX_CONSECUTIVE_ERRORS = 32  # decode errors in a row before a file is declared damaged
_SEEK_RETRIES = 3  # earlier key frames tried when a seek lands after the wanted one, before decoding from the start
_FIRST_FRAME_PACKETS = 64  # packets decoded at most while indexing to read the first frame's display rotation
#: containers whose own index decord reads frame-exactly (in MPEG program/transport streams and AVI its frame i is
#: not FFmpeg's frame i, see docs/io.md): other files asked of decord are decoded with PyAV
_DECORD_EXACT = ("mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm")
#: containers whose demuxer interpolates the timestamps of most packets from where reading began (MPEG program
#: streams): after a seek they differ from the index's, so random access there decodes from the start
_INTERPOLATED_STAMPS = ("mpeg", "vob", "mpegvideo")


def _check_path(path: pathlib.Path):
    if not path.exists():
        raise VideoError(f"{path}: no such video file; check the path")
    if not path.is_file():
        raise VideoError(f"{path}: not a regular file (a folder, device or pipe cannot be opened as a video)")
    if path.stat().st_size == 0:
        raise VideoError(f"{path}: the file is empty (0 bytes); the recording or copy did not complete")


def _quarter_turns(rotation: int) -> int:
    """Counter-clockwise quarter turns (np.rot90's ``k``) that make a frame stored with ``rotation`` upright."""
    return (int(rotation) // 90) % 4


#: FFmpeg demuxers that read one picture, not a video (``jpeg_pipe``, ``png_pipe`` ... end in ``_pipe``).
_IMAGE_DEMUXERS = ("image2", "image2pipe")
#: Top-level box types of an ISO base media file (MP4, MOV, 3GP): what a walk of the file's boxes recognises.
_MP4_BOXES = {b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"uuid", b"pdin", b"moof", b"mfra",
              b"meta", b"styp", b"sidx", b"prft", b"emsg", b"pnot", b"junk"}


def _is_still(container) -> bool:
    """Whether FFmpeg opened the file as a single picture (a JPEG, PNG ... whatever its name says)."""
    name = str(container.format.name)
    return any(n in _IMAGE_DEMUXERS or n.endswith("_pipe") for n in name.split(","))


def _mp4_damage(path: pathlib.Path) -> str | None:
    """What is wrong with an MP4/MOV file FFmpeg cannot open, from its top-level boxes, or None when it is no
    such file or its boxes look intact.

    An MP4 keeps its frames in an ``mdat`` box and their index — where each frame lies, how long it lasts — in
    a ``moov`` box (at the end, or at the front of a streaming-ready file). A file cut short ends inside a
    box; a file of full size whose ``moov`` box is overwritten or missing has every frame and no way to find
    them.
    """
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(12)
            if len(head) < 8 or head[4:8] not in _MP4_BOXES:
                return None
            pos, boxes, mdat_end = 0, [], None
            while pos + 8 <= size:
                fh.seek(pos)
                header = fh.read(16)
                length = int.from_bytes(header[:4], "big")
                kind = header[4:8]
                if length == 1 and len(header) >= 16:
                    length = int.from_bytes(header[8:16], "big")
                elif length == 0:
                    length = size - pos
                if kind not in _MP4_BOXES or length < 8:
                    break  # not a box: overwritten bytes
                boxes.append(kind)
                if kind == b"mdat":
                    mdat_end = pos + length
                if pos + length > size:
                    what = "its media data" if kind == b"mdat" else f"its {kind.decode()} box"
                    return (f"the file is truncated: it ends inside {what} ({size:,} of {pos + length:,} "
                            "bytes); the recording or copy did not complete — copy it again from the camera "
                            "or phone")
                pos += length
            intact = pos == size
            moov = b"moov" in boxes
            mdat_whole = mdat_end is not None and mdat_end <= size
            if not mdat_whole:  # an overwritten box before the media data: find the media data by its tag
                fh.seek(0)
                data = fh.read(min(size, 64 << 20))
                at = data.find(b"mdat")
                if at >= 4:
                    length = int.from_bytes(data[at - 4:at], "big")
                    mdat_whole = length >= 8 and at - 4 + length <= size
                    if not mdat_whole and length >= 8:
                        return (f"the file is truncated: it ends inside its media data ({size:,} of "
                                f"{at - 4 + length:,} bytes); the recording or copy did not complete — copy "
                                "it again from the camera or phone")
    except OSError:
        return None
    if mdat_whole and (not moov or not intact):
        return ("its index is damaged: the MP4's moov box, which says where every frame lies, is "
                "overwritten or missing, although the file is full size and its media data complete; the "
                "frames cannot be found. Copy the file again from the camera or phone, or rebuild the index "
                "with a repair tool (e.g. untrunc, given an intact video from the same device)")
    if mdat_whole and moov:
        return ("its index is damaged: the MP4's moov box, which says where every frame lies, cannot be "
                "read although the file is full size; copy the file again from the camera or phone, or "
                "rebuild the index with a repair tool (e.g. untrunc, given an intact video from the same "
                "device)")
    return None


# ---------------------------------------------------------------------------------------------------- PyAV
@dataclasses.dataclass(frozen=True)
class _Key:
    """A point decoding can start from: the presentation index of its first frame, the timestamp to seek to
    (None: the stream start, reached without seeking) and its packet's decode-order position (:meth:`_order`)."""

    index: int
    seek: int | None
    order: int | None
    pts: int | None = None


class _LandedLate(Exception):
    """A seek put the demuxer after the wanted key frame (or failed): try an earlier one."""


class _Reader:
    """One open container of the file, and whether anything has been read from it yet."""

    def __init__(self, backend: _PyAVBackend, container=None):
        self.backend = backend
        self.container = container if container is not None else backend._open()
        self.fresh = container is None

    def rewind(self):
        """Be at the stream start: a new container unless nothing was read from this one (no seek, see above)."""
        if not self.fresh:
            self.container.close()
            self.container = self.backend._open()
        self.fresh = False

    def close(self):
        self.container.close()


class _PyAVBackend:
    """Frame-exact random access and sequential decoding with PyAV (see the module docstring)."""

    name = "pyav"

    def __init__(self, path: pathlib.Path, threads: int = 0, upright: bool = True):
        self.path, self.threads = path, threads
        container = self._open(first=True)
        try:
            self._probe(container)
        finally:
            container.close()
        self._main: _Reader | None = None  # the container of random access, opened by the first get_batch
        self.upright = bool(upright)
        self._turns = _quarter_turns(self.rotation) if self.upright else 0
        h, w = self.stored_size
        self.frame_size = (w, h) if self._turns % 2 else (h, w)
        self._decoder: Iterator[tuple[int, object]] | None = None
        self._last = -1  # index of the frame the decoder returned last

    def _open(self, first: bool = False):
        av = _av()
        try:
            container = av.open(str(self.path), "r")
        except (av.error.FFmpegError, OSError) as err:
            if first:
                why = _mp4_damage(self.path)
                if why:
                    raise VideoError(f"{self.path}: {why}") from None
                raise VideoError(f"{self.path}: not a readable video ({_describe(err)}); the file is damaged, "
                                 "truncated or in a format FFmpeg does not know") from None
            raise VideoError(f"{self.path}: cannot reopen the video ({_describe(err)})") from None
        if container.streams.video:
            stream = container.streams.video[0]
            # indexing decodes only the first frame (for its rotation): frame threads would first decode one frame
            # each; decoding proper uses them
            stream.thread_type = "SLICE" if first else "AUTO"
            if self.threads and stream.codec_context is not None:
                stream.codec_context.thread_count = self.threads
        return container

    def _probe(self, container):
        av = _av()
        path = self.path
        if not container.streams.video:
            # FFmpeg read the file's index: whatever it lacks, it is not a damaged index (that fails to open)
            kinds = sorted({str(s.type) for s in container.streams})
            if kinds:
                what = "an audio recording" if kinds == ["audio"] else "no recording of the infant"
                raise VideoError(f"{path}: no video stream: the file holds only {' and '.join(kinds)} ({what}, "
                                 "not a video); pass the video file")
            why = _mp4_damage(path)
            if why and why.startswith("the file is truncated"):
                raise VideoError(f"{path}: {why}")
            raise VideoError(f"{path}: no video stream and no frames: the file holds no recording at all (an "
                             "empty or unfinished export); record the video again or pass another file")
        if _is_still(container):
            stream = container.streams.video[0]
            kind = (stream.codec_context.name if stream.codec_context is not None else "image").upper()
            raise VideoError(f"{path}: a still image ({kind}), not a video; pass a video of the infant "
                             f"moving (its name says {path.suffix or 'nothing'}, its content is a picture)")
        stream = container.streams.video[0]
        ctx = stream.codec_context
        if ctx is None or not ctx.width or not ctx.height:
            raise VideoError(f"{path}: the video stream has no decoder or no frame size (codec "
                             f"{getattr(ctx, 'name', None)!r} unsupported by this FFmpeg build)")
        self.stored_size = (int(ctx.height), int(ctx.width))
        self.format = str(container.format.name)
        self.time_base = stream.time_base
        # Index every packet by its header (no decoding), and decode the first frame or two for the display
        # rotation, which FFmpeg attaches to decoded frames.
        packets: list[tuple[int | None, int | None, int | None, bool, bool]] = []
        rotation = None
        try:
            for packet in container.demux(stream):
                if rotation is None and len(packets) < _FIRST_FRAME_PACKETS:
                    try:
                        for frame in packet.decode():
                            rotation = round(float(getattr(frame, "rotation", 0) or 0)) % 360
                            break
                    except av.error.FFmpegError:
                        pass  # a damaged first packet: the rotation comes from a later frame
                if packet.size == 0:  # the flush packet at the end
                    continue
                packets.append((packet.pts, packet.dts, packet.pos, bool(packet.is_keyframe),
                                bool(getattr(packet, "is_discard", False))))
        except av.error.FFmpegError as err:
            raise VideoError(f"{path}: reading the packets failed after {len(packets)} frames ({_describe(err)}); "
                             "the file is damaged or truncated") from None
        self.rotation = rotation if rotation in (0, 90, 180, 270) else 0
        if packets and all(p[0] is None and p[1] is None for p in packets):
            raise VideoError(f"{path}: the video packets carry no timestamps (a raw elementary stream?); remux "
                             "it into a container first, e.g. `ffmpeg -i in.h264 -c copy out.mp4`")
        frames = [p for p in packets if not p[4]]  # an edit list's discarded packets are decoded, never shown
        if not frames:
            raise VideoError(f"{path}: the video stream holds no frames")
        self.num_frames = len(frames)
        self.discarded = len(packets) - len(frames)
        pts = [p[0] for p in frames]
        distinct = None not in pts and len(set(pts)) == len(pts)
        decode_ordered = distinct and all(a < b for a, b in itertools.pairwise(pts))
        # Frames are placed by their timestamps when those are presentation stamps: reordered in decode order
        # (B-frames with stamps of their own), or from a decoder that never reorders. Stamps that rise in decode
        # order while the decoder reorders are decode-order counters (AVI with B-frames): count the output instead.
        self.by_stamp = bool(distinct and (not decode_ordered or not ctx.has_b_frames))
        stamps = np.sort(np.asarray(pts, dtype=np.int64)) if distinct else None
        self._rank = {int(t): i for i, t in enumerate(stamps)} if self.by_stamp else {}
        self.fps = self._frame_rate(stream, stamps)
        if stamps is not None:
            self.start_time = float(stamps[0] * self.time_base)
            self.times = (stamps - stamps[0]).astype(np.float64) * float(self.time_base)
        else:
            log.info("%s: the frames carry no distinct timestamps; their times assume a constant %.6g fps", path,
                     self.fps)
            self.start_time = 0.0
            self.times = np.arange(self.num_frames, dtype=np.float64) / self.fps
        self.times.setflags(write=False)
        self._order_field = self._order_kind(packets)
        self._keys = self._key_points(packets)
        self._key_index = [k.index for k in self._keys]
        self._check_complete(stream, container, len(packets), stamps)

    @property
    def keyframes(self) -> list[int]:
        """Presentation indices decoding can start from (0, the stream start, first)."""
        return list(self._key_index)

    def _order_kind(self, packets) -> int | None:
        """Which packet field orders packets in decode order — 1 dts, 0 pts (presentation stamps only, see
        :meth:`_order`), 2 byte position — or None when none does (random access then decodes from the start)."""
        for field in (1, 2):
            values = [p[field] for p in packets]
            if None not in values and all(a < b for a, b in itertools.pairwise(values)):
                return field
        return 0 if self.by_stamp else None

    def _order(self, packet) -> int | None:
        field = self._order_field
        value = packet.dts if field == 1 else packet.pos if field == 2 else packet.pts
        return None if value is None or value < 0 and field == 2 else int(value)

    def _key_points(self, packets) -> list[_Key]:
        """The stream start, then every key frame that can be sought to (a packet position to recognise it by,
        a timestamp to seek to) and begins later in presentation order than the one before."""
        keys = [_Key(0, None, None)]
        if self._order_field is None or self.format in _INTERPOLATED_STAMPS:
            why = "no packet field orders the packets" if self._order_field is None else \
                f"the {self.format!r} demuxer interpolates timestamps, so they change after a seek"
            log.info("%s: %s; random access decodes from the start", self.path, why)
            return keys
        used = 0
        for pts, dts, pos, key, discard in packets:
            if discard:
                continue
            if key and used:
                order = (dts, pos, pts)[[1, 2, 0].index(self._order_field)]
                seek = dts if dts is not None else pts
                # by timestamp: the key frame's presentation rank; counting: closed groups of pictures, so the
                # frames before it in decode order are the frames before it in presentation order
                index = self._rank[pts] if self.by_stamp else used
                if seek is not None and order is not None and index > keys[-1].index:
                    keys.append(_Key(index, int(seek), int(order), pts))
            used += 1
        return keys

    def _frame_rate(self, stream, stamps: np.ndarray | None) -> float:
        """The container's average rate, unless the timestamps say otherwise by more than 1 % (a variable-rate
        Matroska file, whose header only has a nominal rate): then frames per second of the timestamps."""
        measured = None
        if stamps is not None and len(stamps) > 1:
            span = float((stamps[-1] - stamps[0]) * self.time_base)
            if span > 0:
                measured = (len(stamps) - 1) / span
        for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
            if rate and float(rate) > 0 and math.isfinite(float(rate)):
                if measured is None or abs(float(rate) - measured) <= 0.01 * measured:
                    return float(rate)
                break
        if measured is not None:
            return measured
        raise VideoError(f"{self.path}: the frame rate cannot be determined")

    def _check_complete(self, stream, container, packets: int, stamps: np.ndarray | None):
        """Truncation shows as fewer packets than the header declares, or data ending before its duration.

        For intact files the counts agree (checked with x264 MP4s with B-frames, which carry an edit list), except
        where an edit list cuts frames from the start: the demuxer then leaves out the samples before the key
        frame the cut needs, which the header still counts, and only the duration check applies. That allows a
        quarter second (or 3 frames) for a long last frame of a variable-rate video.
        """
        declared = int(stream.frames or 0)
        if declared > packets and not self.discarded:
            raise VideoError(f"{self.path}: the file is truncated: its header declares {declared} frames but only "
                             f"{packets} are present")
        tb = self.time_base
        duration = float(stream.duration * tb) if stream.duration else None
        if duration is None and len(container.streams) == 1 and container.duration:
            duration = container.duration / 1e6
        if duration and stamps is not None:
            span = float((stamps[-1] - stamps[0]) * tb) + 1.0 / self.fps
            if duration - span > max(0.25, 3.0 / self.fps):
                raise VideoError(f"{self.path}: the file is truncated: its header declares {duration:.2f} s but the "
                                 f"frames end after {span:.2f} s")

    # -- decoding
    def _frames(self, key: int, reader: _Reader) -> Iterator[tuple[int, object]]:
        """(index, frame) in presentation order from key point ``key`` on (indices from its index, rising)."""
        retries = 0
        while True:
            try:
                yield from self._decode_from(key, reader)
                return
            except _LandedLate:  # raised before anything was yielded
                retries += 1
                key = max(key - 1, 0)
                if retries > _SEEK_RETRIES and key:
                    # seeks do not find the indexed packets (timestamps that change after a seek): stop seeking
                    log.info("%s: seeking does not reach the indexed key frames; random access decodes from the "
                             "start from now on", self.path)
                    self._keys, self._key_index, key = self._keys[:1], [0], 0

    def _decode_from(self, key: int, reader: _Reader) -> Iterator[tuple[int, object]]:
        av = _av()
        k = self._keys[key]
        if k.seek is None:
            reader.rewind()
        container = reader.container
        stream = container.streams.video[0]
        if k.seek is not None:
            reader.fresh = False
            try:
                container.seek(k.seek, stream=stream, backward=True, any_frame=False)
            except av.error.FFmpegError:
                raise _LandedLate from None
        started = k.seek is None
        key_seen = k.seek is None  # counting after a seek starts at the key frame's own output
        count, last, errors = k.index, k.index - 1, 0
        by_stamp, rank = self.by_stamp, self._rank
        packets = container.demux(stream)
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                if not started:
                    raise _LandedLate from None
                return
            except av.error.FFmpegError as err:
                raise VideoError(f"{self.path}: reading packets failed ({_describe(err)}); the file is damaged") \
                    from None
            if not started:  # skip, undecoded, what lies before the key frame's packet
                order = self._order(packet) if packet.size else None
                if packet.size == 0:
                    raise _LandedLate
                if order is None or order < k.order:
                    continue
                if order > k.order or packet.pts != k.pts or not packet.is_keyframe:
                    raise _LandedLate  # after the key frame, or a packet that only shares its position
                started = True
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
                if by_stamp:
                    t = frame.pts
                    idx = last + 1 if t is None else rank.get(int(t))
                    if idx is None:  # a frame of a packet the edit list discards
                        continue
                else:
                    if not key_seen:
                        if not frame.key_frame:  # a leading frame of an open group of pictures
                            continue
                        key_seen = True
                    idx, count = count, count + 1
                if idx < k.index or idx <= last:  # leading frames, decoded without their references
                    continue
                last = idx
                yield idx, frame

    def _restart(self, key: int):
        if self._decoder is not None:
            self._decoder.close()
        if self._main is None:
            self._main = _Reader(self)
        self._decoder = self._frames(key, self._main)
        self._last = -1

    def _to_array(self, frame) -> np.ndarray:
        h, w = self.stored_size
        if frame.height != h or frame.width != w:  # a resolution change mid-stream: keep one frame size
            arr = frame.to_ndarray(format="rgb24", width=w, height=h)
        else:
            arr = frame.to_ndarray(format="rgb24")
        return np.rot90(arr, self._turns) if self._turns else arr

    def _missing(self, first: int, last: int):
        log.warning("%s: frames %d-%d could not be decoded; repeating the frame before them", self.path, first, last)

    def get_batch(self, indices: Sequence[int]) -> np.ndarray:
        """Frames at ascending, distinct ``indices``: decode forward within a group of pictures, else seek."""
        h, w = self.frame_size
        out = np.empty((len(indices), h, w, 3), dtype=np.uint8)
        i, n = 0, len(indices)
        while i < n:
            target = int(indices[i])
            key = bisect.bisect_right(self._key_index, target) - 1
            if self._decoder is None or self._last >= target or self._key_index[key] > self._last + 1:
                self._restart(key)
            prev = None
            for idx, frame in self._decoder:
                self._last = idx
                if idx >= indices[i]:
                    arr = self._to_array(frame)
                    if indices[i] < idx:
                        self._missing(indices[i], idx - 1)
                    while i < n and indices[i] <= idx:
                        out[i] = arr if (indices[i] == idx or prev is None) else self._to_array(prev)
                        i += 1
                    if i == n:
                        break
                    nxt = bisect.bisect_right(self._key_index, int(indices[i])) - 1
                    if self._key_index[nxt] > idx + 1:  # a key frame closer than decoding on: seek to it
                        break
                prev = frame
            else:
                self._decoder = None
                raise VideoError(f"{self.path}: frame {int(indices[i])} of {self.num_frames} could not be decoded "
                                 "(the file ends early: truncated or damaged)")
        return out

    def iter_chunks(self, n: int, start: int, stop: int) -> Iterator[tuple[int, np.ndarray]]:
        h, w = self.frame_size
        key = bisect.bisect_right(self._key_index, start) - 1
        reader = _Reader(self)  # a container of its own, so get_batch calls between chunks do not move this one
        decoder = self._frames(key, reader)
        nxt, fill, prev = start, 0, None
        buf = np.empty((min(n, stop - nxt), h, w, 3), np.uint8)
        try:
            for idx, frame in decoder:
                if idx < nxt:
                    continue
                arr = self._to_array(frame)
                if idx > nxt:  # frames that failed to decode: repeat the last good one to keep the time axis
                    self._missing(nxt, idx - 1)
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
            reader.close()
        if fill:
            yield nxt - fill, buf[:fill]
        if nxt < stop:
            raise VideoError(f"{self.path}: only {nxt} of {self.num_frames} frames could be decoded; the file is "
                             "truncated or damaged")

    def close(self):
        if self._decoder is not None:
            self._decoder.close()
            self._decoder = None
        if self._main is not None:
            self._main.close()
            self._main = None


# ---------------------------------------------------------------------------------------------------- decord
class _DecordBackend:
    """decord's VideoReader behind the same interface (optional: ``pip install 'infantjax[decord]'``).

    decord returns frames upright (it applies the display rotation itself) and numbers them by its own index,
    which is frame-exact in MP4/MOV and Matroska/WebM files whose frames carry presentation timestamps. Other files
    (MPEG program and transport streams, AVI, edit lists that discard packets) are decoded with the PyAV backend,
    with a warning, so that frame i is the same frame whichever backend is asked.
    """

    name = "decord"

    def __init__(self, path: pathlib.Path, threads: int = 0, upright: bool = True):
        try:
            import decord  # noqa: F401
        except ImportError as err:
            raise VideoError(
                f"the decord backend needs the decord package, which is not importable here ({err}); install it "
                "with `pip install 'infantjax[decord]'` (or `pip install decord`), or use backend='pyav'"
            ) from None
        # index (and validate) with PyAV first: decord can abort the process on some damaged files
        probe = _PyAVBackend(path, threads, upright)
        self.path, self.threads = path, threads
        for attr in ("num_frames", "fps", "times", "start_time", "rotation", "stored_size", "frame_size",
                     "upright", "format", "time_base"):
            setattr(self, attr, getattr(probe, attr))
        self._turns = _quarter_turns(self.rotation)
        self._pyav: _PyAVBackend | None = None
        self.reader = None
        why = self._inexact(probe)
        if why is None:
            self.reader = self._open()
            count = self._call(len, self.reader)
            shape = self._call(lambda r: r[0].shape, self.reader)
            upright_size = probe.frame_size if probe.upright else probe.stored_size[::-1] if self._turns % 2 \
                else probe.stored_size
            if count != self.num_frames:
                why = f"decord counts {count} frames where FFmpeg decodes {self.num_frames}"
            elif tuple(shape[:2]) != tuple(upright_size):
                why = f"decord's frames are {shape[1]}x{shape[0]}, FFmpeg's upright ones {upright_size[1]}x" \
                      f"{upright_size[0]}"
            else:
                self._call(lambda r: r.seek(0), self.reader)
        if why is not None:
            log.warning("%s: decord does not read this file frame-exactly (%s); decoding it with PyAV instead",
                        path, why)
            self.reader = None
            self._pyav = probe
            self.name = "pyav"
        else:
            probe.close()

    @staticmethod
    def _inexact(probe: _PyAVBackend) -> str | None:
        """Why decord's own index would not give FFmpeg's frame i for this file (None: it does)."""
        if probe.format not in _DECORD_EXACT:
            return f"the {probe.format!r} container; decord is frame-exact in MP4/MOV and Matroska/WebM only"
        if not probe.by_stamp:
            return "frame timestamps in decode order"
        if probe.discarded:
            return f"an edit list that discards {probe.discarded} packets"
        return None

    def _call(self, fn, *args):
        """``fn(*args)`` with decord's errors raised as VideoError naming the file."""
        try:
            return fn(*args)
        except VideoError:
            raise
        except Exception as err:  # noqa: BLE001 - decord raises DECORDError, RuntimeError, IndexError ...
            raise VideoError(f"{self.path}: decord failed ({type(err).__name__}: {str(err).splitlines()[0][:200]}); "
                             "try backend='pyav'") from None

    def _open(self):
        import decord

        return self._call(lambda: decord.VideoReader(str(self.path), ctx=decord.cpu(0), num_threads=self.threads))

    def _stored(self, frames: np.ndarray) -> np.ndarray:
        """decord's upright frames as asked: turned back to the stored orientation when ``upright`` is False."""
        if self.upright or not self._turns:
            return frames
        return np.ascontiguousarray(np.rot90(frames, -self._turns, axes=(1, 2)))

    def get_batch(self, indices: Sequence[int]) -> np.ndarray:
        if self._pyav is not None:
            return self._pyav.get_batch(indices)

        def batch(reader):
            frames = reader.get_batch(list(map(int, indices))).asnumpy()
            # decord keeps decoding ahead into an unbounded queue while idle; seeking back stops it
            # (dmlc/decord#208, #197: memory grows with the video length otherwise)
            reader.seek(0)
            return frames

        return self._stored(self._call(batch, self.reader))

    def iter_chunks(self, n: int, start: int, stop: int) -> Iterator[tuple[int, np.ndarray]]:
        if self._pyav is not None:
            yield from self._pyav.iter_chunks(n, start, stop)
            return
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
        if self._pyav is not None:
            self._pyav.close()
        self.reader = None


# ---------------------------------------------------------------------------------------------------- public
class VideoSource:
    """A video opened for reading (use :func:`open_video`).

    Attributes:
        path: the file.
        backend: ``"pyav"`` or ``"decord"`` — the one that decodes (decord hands files it cannot read
            frame-exactly to PyAV, with a warning).
        num_frames: number of frames (also ``len(source)``).
        fps: frames per second (the average rate).
        frame_size: (H, W) in pixels of the frames as returned (upright unless ``upright=False``).
        stored_size: (H, W) as stored in the file, before the display rotation.
        rotation: display rotation from the file's metadata, counter-clockwise degrees (0, 90, 180, 270).
        upright: whether the rotation is applied to the frames returned.
        times: (N,) float64 presentation time of every frame in seconds from the first frame (read-only).
        start_time: presentation time of the first frame in the file's own clock, seconds.
        format: FFmpeg's name of the container format (``"mpegts"``, ``"mov,mp4,m4a,3gp,3g2,mj2"`` ...).
    """

    def __init__(self, path: str | os.PathLike, backend: str = "pyav", *, threads: int = 0, upright: bool = True):
        self.path = pathlib.Path(path)
        if backend not in BACKENDS:
            raise VideoError(f"unknown video backend {backend!r}; choose one of {', '.join(BACKENDS)}")
        if not isinstance(upright, (bool, np.bool_)):
            raise VideoError(f"upright must be True or False, got {upright!r}")
        _check_path(self.path)
        impl = _PyAVBackend if backend == "pyav" else _DecordBackend
        self._impl = impl(self.path, threads, bool(upright))
        self.backend = self._impl.name
        self.num_frames: int = self._impl.num_frames
        self.fps: float = self._impl.fps
        self.frame_size: tuple[int, int] = tuple(self._impl.frame_size)
        self.stored_size: tuple[int, int] = tuple(self._impl.stored_size)
        self.rotation: int = self._impl.rotation
        self.upright: bool = bool(upright)
        self.times: np.ndarray = self._impl.times
        self.start_time: float = self._impl.start_time
        self.format: str = self._impl.format
        #: the stream's time base (seconds per timestamp tick), None when the container has none; :attr:`times` are
        #: whole multiples of it when the frames carry timestamps of their own
        self.time_base: fractions.Fraction | None = (fractions.Fraction(self._impl.time_base)
                                                     if self._impl.time_base else None)
        self._tick = float(self._impl.time_base) if self._impl.time_base else 0.0

    def __len__(self) -> int:
        return self.num_frames

    def __repr__(self) -> str:
        h, w = self.frame_size
        turned = f", rotation {self.rotation}° {'applied' if self.upright else 'not applied'}" if self.rotation else ""
        rate = f"{self.fps:g} fps" + (" variable" if self.variable_frame_rate else "")
        return (f"VideoSource({str(self.path)!r}, {self.num_frames} frames, {w}x{h}, {rate}{turned}, "
                f"{self.backend})")

    @property
    def duration(self) -> float:
        """Length in seconds (frames ÷ average rate)."""
        return self.num_frames / self.fps

    @property
    def frame_jitter(self) -> float:
        """The largest deviation of a frame interval from the median interval, in seconds (0 at a constant rate)."""
        return frame_jitter(self.times)

    @property
    def variable_frame_rate(self) -> bool:
        """Whether the frame times are uneven beyond timestamp rounding (phones record at a variable rate)."""
        return is_variable_rate(self.times, self._tick)

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
            (start_index, frames) with frames (k, H, W, 3) uint8 RGB, k = n except for the last chunk; the times of
            those frames are ``times[start_index:start_index + k]``.
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


def open_video(path: str | os.PathLike, backend: str = "pyav", *, threads: int = 0,
               upright: bool = True) -> VideoSource:
    """Open a video for frame-exact reading.

    Arguments:
        path: the video file.
        backend: ``"pyav"`` (default) or ``"decord"`` (optional dependency: ``pip install 'infantjax[decord]'``).
        threads: decoder threads (0 = FFmpeg's choice).
        upright: apply the display rotation of the file's metadata (phone videos), so frames come out as a player
            shows them; False gives the frames as stored.

    Returns:
        A :class:`VideoSource`; use it as a context manager or call ``close()``.

    Raises:
        VideoError: missing, empty, truncated, damaged or non-video files, or an unavailable backend.
    """
    return VideoSource(path, backend, threads=threads, upright=upright)

