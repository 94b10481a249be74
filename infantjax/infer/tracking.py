"""Following an infant through a video: the pose tracker's settings (:class:`Tracking`) and the tracker that crops
the network's input to a region of interest around the infant, decodes the heatmaps to sub-pixel keypoints and
smooths them in time (:func:`track_video`, what :meth:`PosePredictor.track` runs unless the official reference path
is asked for).

The reference path (``Tracking.reference()``, the official EfficientPose code) letterboxes the whole frame to the
network's R × R input and takes the integer arg-max of each heatmap: on a 640 × 480 phone video at R = 128 a
keypoint can only land on a 5-pixel lattice, and the infant fills a fraction of the input. The infant tracker
instead:

1. **region of interest** — crops the square around the keypoints of the previous frames
   (:func:`infantjax.preprocess.roi.box_around`: their bounding box grown by a margin) and resizes it to R × R
   (:func:`infantjax.preprocess.roi.crop_square`), so the infant fills the input; the first frames, and any batch
   where the infant is lost (too few confident keypoints), are found on the whole letterboxed frame;
2. **sub-pixel decoding** — the centroid of each heatmap around its maximum
   (:func:`infantjax.models.pose.device_ops.decode_subpixel`), inside the jitted forward;
3. **left and right kept consistent** — frames whose left/right pairs the network swapped are swapped back
   (:func:`infantjax.preprocess.sides.consistent_sides`);
4. **temporal smoothing** (optional) — a zero-phase low-pass filter of every keypoint's track
   (:func:`infantjax.preprocess.filters.lowpass`);
5. **head-up input** (``upright``) — when the keypoints say that the infant lies head-down (a phone filmed from
   the feet end of the mat) or sideways, the crops are turned by quarter turns so that the network sees the infant
   head-up, as in nearly all of its training images, and the keypoints are turned back (:func:`upright_turn`,
   :func:`unturn`); the batch where the turn changes is tracked again turned.

While it tracks it also measures the detail of the image around the hands and feet, and keeps in the keypoints'
``metadata["sharpness"]`` how much of it they lose in their fastest frames (:mod:`infantjax.preprocess.blur`): a
motion-blurred video smooths the movements themselves, which the tracking-quality gate can then say.

Each trained model carries the settings it was trained for (``info["tracking"]``); a call can override them.

The official path itself is here too (:func:`track_reference`): the pose family (:mod:`infantjax.infer.pose`) is
the network, its weights and formats and its per-frame calls; following a video through it, either way, is this
module's.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Iterator, Mapping

import jax
import jax.numpy as jnp
import numpy as np

from infantjax import backend, parallel
from infantjax.errors import ConfigError, DataError, VideoError
from infantjax.io.video import Prefetch
from infantjax.models.pose.decode import REALTIME_THRESHOLD
from infantjax.models.pose.device_ops import decode_peaks, decode_subpixel
from infantjax.models.pose.inference import default_options, efficientpose_heatmaps, map_microbatches
from infantjax.preprocess import blur as _blur
from infantjax.preprocess import roi as _roi
from infantjax.preprocess.image import TORCH_MEAN, TORCH_STD
from infantjax.preprocess.roi import SquareBox, crop_square, letterbox_box
from infantjax.sequence import SkeletonSequence

__all__ = ["DECODINGS", "SIDES", "Tracking", "batched", "crop_keypoints", "finish", "open_frames", "track_reference",
           "track_video"]

log = logging.getLogger(__name__)

#: ``reference``: the official integer arg-max (offline: of the σ = 1 blurred map); ``subpixel``: the centroid of
#: the map around its maximum
DECODINGS = ("reference", "subpixel")
#: ``as-detected``: each frame's left and right as the network labelled them; ``consistent``: swapped back where
#: the network swapped them (:func:`infantjax.preprocess.sides.consistent_sides`)
SIDES = ("as-detected", "consistent")


@dataclasses.dataclass(frozen=True)
class Tracking:
    """How a pose model follows an infant through a video.

    Arguments:
        decoding: ``"reference"`` (the official integer arg-max) or ``"subpixel"`` (the centroid around the
            maximum, :func:`~infantjax.models.pose.device_ops.decode_subpixel`).
        roi: crop the input to the square around the infant (True) or letterbox the whole frame (False).
        smoothing_hz: cut-off of the zero-phase low-pass filter applied to every keypoint's track (None: none).
        sides: ``"as-detected"`` or ``"consistent"`` (left/right swaps of single frames undone).
        margin: the region of interest's margin around the keypoints (fraction of their extent, each side).
        found: a keypoint counts as found when its heatmap peak is at least this.
        lost: a batch whose frames have fewer than this share of keypoints found (median over the batch) is
            searched again on the whole frame.
        upright: turn the network's input by quarter turns so that the infant lies head-up in it, whichever way
            the camera looked at the mat (head-down from the feet end, sideways), and turn the keypoints back
            (:func:`upright_turn`); False feeds the crops as the frame shows them (the reference).
    """

    decoding: str = "reference"
    roi: bool = False
    smoothing_hz: float | None = None
    sides: str = "as-detected"
    margin: float = _roi.MARGIN
    found: float = 0.2
    lost: float = 0.5
    upright: bool = False

    def __post_init__(self):
        if self.decoding not in DECODINGS:
            raise ConfigError(f"decoding must be one of {DECODINGS}, got {self.decoding!r}")
        if self.sides not in SIDES:
            raise ConfigError(f"sides must be one of {SIDES}, got {self.sides!r}")
        if self.smoothing_hz is not None and not (np.isfinite(self.smoothing_hz) and self.smoothing_hz > 0):
            raise ConfigError(f"smoothing_hz must be a positive frequency or None, got {self.smoothing_hz!r}")
        if not 0 <= self.margin <= 2:
            raise ConfigError(f"margin must be in [0, 2], got {self.margin!r}")
        if not (0 <= self.found <= 1 and 0 <= self.lost <= 1):
            raise ConfigError(f"found and lost must be in [0, 1], got {self.found!r} and {self.lost!r}")
        if not isinstance(self.upright, (bool, np.bool_)):
            raise ConfigError(f"upright must be True or False, got {self.upright!r}")

    @classmethod
    def reference(cls) -> Tracking:
        """The official EfficientPose path: the whole letterboxed frame, integer arg-max, no smoothing."""
        return cls()

    @classmethod
    def infant(cls, smoothing_hz: float | None = None) -> Tracking:
        """The infant tracker: region of interest, sub-pixel decoding, consistent sides (and smoothing when
        given)."""
        return cls(decoding="subpixel", roi=True, smoothing_hz=smoothing_hz, sides="consistent", upright=True)

    @property
    def is_reference(self) -> bool:
        """The official path, unchanged."""
        return (self.reference_network and self.smoothing_hz is None and self.sides == "as-detected"
                and not self.upright)

    @property
    def reference_network(self) -> bool:
        """The whole letterboxed frame through the official preprocessing and decoding."""
        return self.decoding == "reference" and not self.roi and not self.upright

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def of(cls, value: Tracking | Mapping | str | None, default: Tracking | None = None) -> Tracking:
        """A :class:`Tracking` from itself, ``"reference"``, ``"infant"``, None (``default``, else the reference)
        or a dict of settings (``to_json``, or some of them: the others are ``default``'s)."""
        if isinstance(value, Tracking):
            return value
        if value is None:
            return default if default is not None else cls.reference()
        if isinstance(value, str):
            if value == "reference":
                return cls.reference()
            if value == "infant":
                return cls.infant()
            raise ConfigError(f"tracking must be 'reference', 'infant', a Tracking or a dict, got {value!r}")
        if isinstance(value, Mapping):
            known = {f.name for f in dataclasses.fields(cls)}
            unknown = set(value) - known
            if unknown:
                raise ConfigError(f"unknown tracking settings {sorted(unknown)}; known: {sorted(known)}")
            return dataclasses.replace(default if default is not None else cls(), **dict(value))
        raise ConfigError(f"tracking must be 'reference', 'infant', a Tracking or a dict, got "
                          f"{type(value).__name__}")

    def replace(self, **changes) -> Tracking:
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})


# ------------------------------------------------------------------------------------------------ frames
def batched(frames: Iterator[np.ndarray], batch_size: int) -> Iterator[np.ndarray]:
    buf: list[np.ndarray] = []
    for frame in frames:
        buf.append(frame)
        if len(buf) == batch_size:
            yield np.stack(buf)
            buf = []
    if buf:
        yield np.stack(buf)


def open_frames(video_path, stride: int, max_frames: int | None, chunk: int = 64,
                 ) -> tuple[Iterator[np.ndarray], dict, int]:
    """Upright frames (H, W, 3) uint8 RGB of every ``stride``-th frame, decoded in chunks (bounded memory), what the
    video says about them (``fps``, ``size`` (H, W), ``rotation``, ``times`` of every frame) and the frame count."""
    from infantjax.io import open_video

    source = open_video(video_path)  # VideoError for missing / empty / undecodable files
    total = len(source) if max_frames is None else min(len(source), int(max_frames))
    if source.rotation:
        log.info("%s: display rotation %d° applied; keypoints refer to the upright %dx%d frames", video_path,
                 source.rotation, source.frame_size[1], source.frame_size[0])
    video = {"fps": float(source.fps), "size": tuple(source.frame_size), "rotation": source.rotation,
             "times": np.asarray(source.times)}

    def gen():
        try:
            for start, frames in source.iter_chunks(chunk, stop=total):
                for i, frame in enumerate(frames):
                    if (start + i) % stride == 0:
                        yield frame
        finally:
            source.close()

    return gen(), video, total


# ------------------------------------------------------------------------------------------------ the tracker
def _network_fn(predictor, decoding: str):
    """The jitted ``(folded, crops uint8 (N, R, R, 3)) -> (keypoints as fractions of the crop (N, K, 2), peaks
    (N, K))`` of a predictor, cached on it."""
    key = ("roi", decoding, predictor.normalisation)
    cache = predictor._frames_fns
    if key not in cache:
        spec, mode = predictor.spec, predictor.normalisation

        def fn(folded, crops):
            opts = default_options()
            inner = dataclasses.replace(opts, microbatch=None)

            def one(x):
                x = x.astype(jnp.float32)
                if mode == "torch":
                    x = (x / 255.0 - jnp.asarray(TORCH_MEAN, jnp.float32)) / jnp.asarray(TORCH_STD, jnp.float32)
                else:
                    x = x / 127.5 - 1.0
                h = efficientpose_heatmaps(folded, x, spec, inner)
                if decoding == "subpixel":
                    return decode_subpixel(h)
                rc, _, raw_peak = decode_peaks(h, real_time=False)
                r = h.shape[1]
                xy = jnp.stack([(rc[..., 1] + 0.5) / r, (rc[..., 0] + 0.5) / r], axis=-1)
                return xy, raw_peak

            return map_microbatches(one, crops, opts.microbatch)

        cache[key] = jax.jit(fn)
    return cache[key]


def crop_keypoints(predictor, crops: np.ndarray, decoding: str = "subpixel", pad_to: int | None = None,
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Keypoints (N, K, 2) as fractions of already cut crops (N, R, R, 3) uint8, and their peak values (N, K):
    the tracker's network call on its own (e.g. to evaluate a model on region-of-interest examples)."""
    crops = np.asarray(crops)
    if crops.ndim != 4 or crops.shape[1:] != (predictor.resolution, predictor.resolution, 3) \
            or crops.dtype != np.uint8:
        raise DataError(f"crops must be (N, {predictor.resolution}, {predictor.resolution}, 3) uint8, got "
                        f"{crops.shape} {crops.dtype}")
    n = len(crops)
    if pad_to is not None and n < pad_to:
        crops = np.concatenate([crops, np.zeros((pad_to - n, *crops.shape[1:]), np.uint8)])
    xy, peak = _network_fn(predictor, decoding)(predictor.inference_variables(), crops)
    return np.asarray(xy)[:n], np.asarray(peak)[:n]


def track_video(predictor, video_path: str | os.PathLike, tracking: Tracking, *, stride: int = 1,
                batch_size: int = 16, real_time: bool = False, progress=True, max_frames: int | None = None,
                ) -> SkeletonSequence:
    """The keypoints of every ``stride``-th frame of a video with the infant tracker (module docstring).

    Arguments:
        predictor: the pose model (:class:`~infantjax.infer.pose.PosePredictor`).
        video_path: a video file readable by :func:`infantjax.io.open_video`.
        tracking: the settings (:class:`Tracking`).
        stride, batch_size, real_time, max_frames: as :meth:`PosePredictor.track`.
        progress: True for a tqdm bar, False for none, or a function called with the number of frames of every
            batch as it is done (a caller's own progress bar).

    Returns:
        the :class:`SkeletonSequence` (pixels in the upright frame, peak confidences, times), its metadata naming
        the tracking settings, how many batches had to be searched again on the whole frame and the hands' and
        feet's sharpness when fast over when slow (``"sharpness"``, :func:`infantjax.preprocess.blur.summary`).
    """
    from tqdm.auto import tqdm

    frames_iter, video, total = open_frames(video_path, int(stride), max_frames)
    fps, (h, w) = video["fps"], video["size"]
    n_out = None if total is None else -(-total // int(stride))
    callback = progress if callable(progress) else None
    bar = tqdm(total=n_out, desc=f"pose {os.path.basename(os.fspath(video_path))}", unit="frame",
               disable=callback is not None or not progress)
    r = predictor.resolution
    bs = int(batch_size)
    fn = _network_fn(predictor, tracking.decoding)
    folded = predictor.inference_variables()
    k = predictor.spec.num_keypoints
    coords, confs, sharp = [], [], []
    names = list(predictor.skeleton.keypoints)
    blurred = [names.index(n) for n in _blur.BLUR_JOINTS if n in names]  # the hands and feet, where the model has them
    whole = letterbox_box(h, w)
    box: SquareBox | None = None
    searches = 0

    def run(frames: np.ndarray, b: SquareBox, turn: int = 0) -> tuple[np.ndarray, np.ndarray]:
        crops = crop_square(frames, b, r)
        if turn:
            crops = np.ascontiguousarray(np.rot90(crops, turn, axes=(1, 2)))
        n = len(crops)
        if n < bs:
            crops = np.concatenate([crops, np.zeros((bs - n, r, r, 3), np.uint8)])
        xy, peak = fn(folded, crops)
        xy = unturn(np.asarray(xy)[:n], turn)
        return b.to_pixels(xy), np.asarray(peak)[:n].astype(np.float32)

    def share_found(peak: np.ndarray) -> float:
        return float(np.median((peak >= tracking.found).mean(axis=1)))

    turn, turns = 0, []
    batches = Prefetch(batched(frames_iter, bs), depth=2)
    try:
        for frames in batches:
            if not tracking.roi or box is None:
                b = whole
                px, peak = run(frames, whole, turn)
            else:
                b = box
                px, peak = run(frames, box, turn)
                if share_found(peak) < tracking.lost:  # the infant left the region: find it on the whole frame
                    px2, peak2 = run(frames, whole, turn)
                    searches += 1
                    if share_found(peak2) >= share_found(peak):
                        px, peak, b = px2, peak2, whole
            if tracking.upright:
                new = upright_turn(px, peak >= max(tracking.found, UPRIGHT_CONFIDENCE), predictor.skeleton, turn)
                if new != turn:  # the infant lies another way: this batch again, turned head-up
                    px2, peak2 = run(frames, b, new)
                    if share_found(peak2) >= share_found(peak):
                        px, peak = px2, peak2
                    turn = new
                turns.append((turn, len(px)))
            if tracking.roi:
                recent = slice(max(0, len(px) - 4), len(px))
                ok = peak[recent] >= tracking.found
                box = _roi.box_around(px[recent], (h, w), margin=tracking.margin, valid=ok) \
                    if ok.sum() >= max(2, int(tracking.lost * k)) else None
            if real_time:
                px[peak < REALTIME_THRESHOLD] = np.nan
            if blurred:  # motion blur: the hands' and feet's detail, beside how fast they move (preprocess.blur)
                sharp.append(_blur.patch_sharpness(frames, px[:, blurred], _blur.patch_side(b.side)))
            coords.append(px.astype(np.float32))
            confs.append(np.clip(peak, 0.0, 1.0))
            if callback is not None:
                callback(len(px))
            bar.update(len(px))
    finally:
        batches.close()
        bar.close()
    coords_arr = np.concatenate(coords) if coords else np.zeros((0, k, 2), np.float32)
    conf_arr = np.concatenate(confs) if confs else np.zeros((0, k), np.float32)
    if len(coords_arr) == 0:
        raise VideoError(f"{os.fspath(video_path)!r} has no frames to track")
    times = video["times"][: len(coords_arr) * int(stride): int(stride)]
    meta = {"source": os.fspath(video_path), "model": f"efficientpose-{predictor.spec.variant}",
            "image_hw": [int(h), int(w)], "stride": int(stride), "units": "pixels",
            "decoding": ("real-time " if real_time else "") + tracking.decoding,
            "tracking": tracking.to_json(), "whole_frame_searches": int(searches),
            **({"upright_turns": _turn_summary(turns)} if tracking.upright else {}),
            "orientation": "upright", "rotation": int(video["rotation"])}
    if blurred:
        meta["sharpness"] = _blur.summary(coords_arr[:, blurred], np.concatenate(sharp),
                                          [names[j] for j in blurred])
    return finish(SkeletonSequence(coords_arr, fps=fps / int(stride), skeleton=predictor.skeleton,
                                   confidence=conf_arr, metadata=meta, times=times), tracking)


def unturn(xy: np.ndarray, turn: int) -> np.ndarray:
    """Keypoints found in a crop turned by ``turn`` quarter turns counter-clockwise (``np.rot90(crop, turn)``) as
    fractions (..., 2) of the crop as the frame shows it: a point at (x, y) of the turned crop lies at (1 - y, x)
    of the crop before one turn (pixel ``j`` spans [j, j + 1), so the map is exact)."""
    xy = np.asarray(xy)
    for _ in range(int(turn) % 4):
        xy = np.stack([1.0 - xy[..., 1], xy[..., 0]], axis=-1)
    return xy


#: a turn is changed when the infant's spine lies more than this many degrees from the current turn's head-up
UPRIGHT_HYSTERESIS = 60.0
#: the spine's keypoints count for the turn only from this heatmap peak (a hidden pelvis, e.g. under a blanket,
#: has a weak peak at a guessed place, which must not turn the input)
UPRIGHT_CONFIDENCE = 0.5


def upright_turn(px: np.ndarray, found: np.ndarray, skeleton, current: int = 0,
                 hysteresis: float = UPRIGHT_HYSTERESIS) -> int:
    """The quarter turns (counter-clockwise, 0–3) of the network's input that put the infant head-up.

    Arguments:
        px: (N, K, 2) keypoints of a batch in the frame's pixels (x right, y down).
        found: (N, K) the keypoints to read the spine from (the tracker passes those whose heatmap peak is at
            least :data:`UPRIGHT_CONFIDENCE`, stricter than :attr:`Tracking.found`).
        skeleton: the keypoints' :class:`~infantjax.skeleton.Skeleton` (thorax and pelvis, or neck, shoulders
            and hips, say where the spine is).
        current: the turn in use; it is kept while the spine lies within ``hysteresis`` degrees of its head-up.
        hysteresis: degrees (45–90).

    Returns:
        the turn: 1 when the head points to the frame's right, 2 head-down, 3 to the left; ``current`` when the
        spine cannot be told (too few frames with it found).
    """
    from infantjax.preprocess.sides import spine_direction

    xy = np.where(np.asarray(found, bool)[..., None], np.asarray(px, np.float64), np.nan)
    down = spine_direction(xy, skeleton)  # thorax → pelvis per frame, or None
    if down is None:
        return int(current)
    up = -down
    length = np.linalg.norm(up, axis=-1)
    ok = np.isfinite(length) & (length > 0)
    if ok.sum() < max(2, len(up) // 2):
        return int(current)
    unit = (up[ok] / length[ok, None]).mean(axis=0)
    if np.linalg.norm(unit) < 0.5:  # the spine's direction varies too much within the batch to trust
        return int(current)
    angle = np.degrees(np.arctan2(unit[0], -unit[1]))  # 0: head up, +90: head to the right (y points down)
    off = (angle - 90.0 * int(current) + 180.0) % 360.0 - 180.0
    if abs(off) <= hysteresis:
        return int(current)
    return int(round(angle / 90.0)) % 4


def _turn_summary(turns: list[tuple[int, int]]) -> dict:
    """Frames tracked at each turn of the network's input, by its degrees counter-clockwise."""
    counts: dict[str, int] = {}
    for turn, n in turns:
        counts[str(90 * turn)] = counts.get(str(90 * turn), 0) + int(n)
    return counts


def finish(sequence: SkeletonSequence, tracking: Tracking) -> SkeletonSequence:
    """The tracker's last steps on a tracked sequence: left and right made consistent over time (``sides``), then
    the tracks smoothed (``smoothing_hz``); what was done is recorded in the metadata (``sides_swapped``: the
    share of frames swapped back)."""
    from infantjax.preprocess.filters import lowpass
    from infantjax.preprocess.sides import consistent_sides

    coords, conf = sequence.coords, sequence.confidence
    meta = dict(sequence.metadata)
    meta["tracking"] = tracking.to_json()
    if tracking.sides == "consistent" and sequence.skeleton.flip_pairs:
        coords, conf, swapped = consistent_sides(coords, sequence.skeleton, conf)
        meta["sides_swapped"] = float(swapped.mean()) if len(swapped) else 0.0
    if tracking.smoothing_hz is not None and len(coords) > 3:
        coords = lowpass(coords, sequence.fps, tracking.smoothing_hz, times=sequence.times).astype(np.float32)
    return SkeletonSequence(np.asarray(coords, np.float32), fps=sequence.fps, skeleton=sequence.skeleton,
                            confidence=conf, metadata=meta, times=sequence.times)


def track_reference(predictor, video_path, *, stride: int = 1, batch_size: int = 16, real_time: bool = False,
                    progress=True, max_frames: int | None = None, fast: bool = False,
                    data_parallel: bool | None = None) -> SkeletonSequence:
    """The official path of :meth:`~infantjax.infer.pose.PosePredictor.track`: the whole letterboxed frame through
    ``predictor``'s network, integer arg-max (the options are :meth:`~infantjax.infer.pose.PosePredictor.track`'s)."""
    from tqdm.auto import tqdm

    frames_iter, video, total = open_frames(video_path, int(stride), max_frames)
    fps, size = video["fps"], video["size"]
    coords, confs = [], []
    n_out = None if total is None else -(-total // int(stride))
    bar = tqdm(total=n_out, desc=f"pose {os.path.basename(os.fspath(video_path))}", unit="frame",
               disable=callable(progress) or not progress)
    tick = progress if callable(progress) else bar.update

    def emit(xy, conf, hw):
        h, w = hw
        xy = np.asarray(xy)
        px = xy * np.array([w, h], dtype=np.float64)
        if real_time:
            px[conf < REALTIME_THRESHOLD] = np.nan
        coords.append(px.astype(np.float32))
        confs.append(np.clip(conf, 0.0, 1.0))
        tick(len(xy))

    bs = int(batch_size)
    mesh = _data_mesh(data_parallel)
    if mesh is not None:
        bs = -(-bs // mesh.size) * mesh.size  # every device gets an equal share of the batch
    if fast:
        batches = Prefetch(batched(frames_iter, bs), depth=2)
    else:  # decoding and the float64 preprocessing run in the background thread
        batches = Prefetch(((b.shape[1:3], len(b), predictor._prepare(b, bs)) for b in batched(frames_iter, bs)),
                            depth=2)
    try:
        pending = None  # one batch in flight: JAX dispatches asynchronously, the host decodes the previous
        folded = predictor.inference_variables()
        place = _identity
        if mesh is not None:  # parameters on every device, frames split over them (batch over `data`)
            folded = jax.device_put(folded, jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec()))
            batch = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec(parallel.DATA))

            def place(x):
                return jax.device_put(x, batch)
        for item in batches:
            if fast:
                hw, n = item.shape[1:3], len(item)
                frames = item
                if n < bs:
                    frames = np.concatenate([frames, np.zeros((bs - n, *frames.shape[1:]), np.uint8)])
                out = predictor._frames_fn(*hw, real_time)(folded, place(frames))
            else:
                hw, n, inputs = item
                out = predictor._heatmap_fn(folded, place(inputs))
            if pending is not None:
                emit(*predictor._finish(*pending))
            pending = (out, n, hw, fast, real_time)
        if pending is not None:
            emit(*predictor._finish(*pending))
    finally:
        batches.close()
        bar.close()
    k = predictor.spec.num_keypoints
    coords_arr = np.concatenate(coords) if coords else np.zeros((0, k, 2), np.float32)
    conf_arr = np.concatenate(confs) if confs else np.zeros((0, k), np.float32)
    if len(coords_arr) == 0:
        raise VideoError(f"{os.fspath(video_path)!r} has no frames to track")
    meta = {"source": os.fspath(video_path), "model": f"efficientpose-{predictor.spec.variant}",
            "image_hw": [int(size[0]), int(size[1])], "stride": int(stride), "units": "pixels",
            "decoding": "real-time" if real_time else "offline",
            # keypoints are in the upright frame: the video's display rotation was applied before tracking
            "orientation": "upright", "rotation": int(video["rotation"])}
    times = video["times"][: len(coords_arr) * int(stride): int(stride)]
    return SkeletonSequence(coords_arr, fps=fps / int(stride), skeleton=predictor.skeleton, confidence=conf_arr,
                            metadata=meta, times=times)


def _identity(x):
    return x


def _data_mesh(data_parallel: bool | None):
    """A 1-D ``data`` mesh over this process's devices for data-parallel inference, or None (one device)."""
    devices = jax.local_devices()
    if data_parallel is None:
        data_parallel = backend.current().data_parallel_inference
    if not data_parallel or len(devices) < 2:
        return None
    return parallel.build_mesh((len(devices),), (parallel.DATA,), devices)
