"""The data containers everything else passes around: :class:`SkeletonSequence` and :class:`Cohort`.

A :class:`SkeletonSequence` is one recording: keypoint coordinates (T, J, D) float32 with NaN where a keypoint is
missing, optional confidences (T, J), the frame rate, the skeleton, free-form metadata and, for recordings from a
video, every frame's presentation time (phones record at a variable frame rate, so frame ÷ fps is not the time).
It is validated on construction, so code that receives one can trust its shapes.

A :class:`Cohort` is a list of recordings with one label each, the subject each belongs to, per-recording metadata
columns, and subject-level splits: the stratified test set + 7 stratified folds of seed 002 (gcn_reference A.9)
and leave-one-subject-out (seed 000). All of a subject's recordings always fall on one side of a split.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import random
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from infantjax import skeleton as _skeleton
from infantjax.errors import DataError, SkeletonMismatchError

__all__ = ["SkeletonSequence", "Cohort", "CohortSplit", "frame_jitter", "is_variable_rate"]

log = logging.getLogger(__name__)


def frame_jitter(times) -> float:
    """The largest deviation, in seconds, of a frame interval from the median interval (0 for < 3 frames)."""
    times = np.asarray(times, dtype=np.float64)
    if times.size < 3:
        return 0.0
    intervals = np.diff(times)
    return float(np.max(np.abs(intervals - np.median(intervals))))


def is_variable_rate(times, tick: float = 0.0) -> bool:
    """Whether frame times are uneven beyond timestamp rounding: a jitter above 2 ms or 5 % of the median frame
    interval (whichever is larger), plus one tick of the clock the times were stored in."""
    times = np.asarray(times, dtype=np.float64)
    if times.size < 3:
        return False
    tolerance = max(2e-3, 0.05 * float(np.median(np.diff(times)))) + float(tick)
    return frame_jitter(times) > tolerance


@dataclasses.dataclass(frozen=True, eq=False)
class SkeletonSequence:
    """One recording of keypoints.

    Arguments:
        coords: (T, J, D) coordinates, D = 2 (image x, y) or 3 (x, y, z); NaN marks a missing keypoint.
        fps: frames per second (> 0).
        skeleton: the keypoint set (a :class:`~infantjax.skeleton.Skeleton` or its registry name).
        confidence: optional (T, J) detector confidences in [0, 1] (NaN allowed where coords are NaN).
        metadata: free-form, JSON-serialisable information (source file, subject, age, ...).
        times: optional (T,) presentation time of every frame in seconds, strictly increasing (from a video:
            :attr:`infantjax.io.VideoSource.times`); None means evenly spaced at ``fps``.
    """

    coords: np.ndarray
    fps: float = 30.0
    skeleton: Any = "in-motion-19"
    confidence: np.ndarray | None = None
    metadata: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    times: np.ndarray | None = None

    def __post_init__(self):
        skel = _skeleton.get(self.skeleton)
        object.__setattr__(self, "skeleton", skel)
        coords = np.asarray(self.coords)
        if coords.ndim != 3:
            raise DataError(f"SkeletonSequence coords must be (T, J, D), got shape {coords.shape}")
        if coords.shape[1] != skel.num_keypoints:
            raise SkeletonMismatchError(
                f"coords have {coords.shape[1]} keypoints but skeleton {skel.name!r} has {skel.num_keypoints}; "
                "pass the matching skeleton or map the keypoints with infantjax.skeleton.map_keypoints"
            )
        if coords.shape[2] not in (2, 3):
            raise DataError(f"SkeletonSequence coords must have D = 2 or 3 on the last axis, got {coords.shape[2]}")
        if not np.issubdtype(coords.dtype, np.number):
            raise DataError(f"SkeletonSequence coords must be numeric, got dtype {coords.dtype}")
        coords = coords.astype(np.float32, copy=False)
        if np.isinf(coords).any():
            raise DataError("SkeletonSequence coords contain inf; mark missing keypoints with NaN instead")
        object.__setattr__(self, "coords", coords)
        try:
            fps = float(self.fps)
        except (TypeError, ValueError):
            raise DataError(f"SkeletonSequence fps must be a positive number, got {self.fps!r}") from None
        if not math.isfinite(fps) or fps <= 0:
            raise DataError(f"SkeletonSequence fps must be a positive number, got {self.fps!r}")
        object.__setattr__(self, "fps", fps)
        if self.confidence is not None:
            conf = np.asarray(self.confidence, dtype=np.float32)
            if conf.shape != coords.shape[:2]:
                raise DataError(f"confidence must be (T, J) = {coords.shape[:2]}, got {conf.shape}")
            if np.isinf(conf).any():
                raise DataError("confidence contains inf")
            if (conf < 0).any():
                # detector confidences (DeepLabCut likelihood, OpenPose, EfficientPose peaks) are >= 0; a negative
                # one is a damaged file, and it would pass any confidence threshold's comparison wrongly
                raise DataError(f"confidence must be >= 0 (NaN = unknown), got a minimum of {float(np.nanmin(conf))}; "
                                "the keypoint file's confidence column is damaged")
            object.__setattr__(self, "confidence", conf)
        object.__setattr__(self, "metadata", dict(self.metadata))
        if self.times is not None:
            object.__setattr__(self, "times", _check_times(self.times, coords.shape[0]))

    # ------------------------------------------------------------------ properties
    @property
    def num_frames(self) -> int:
        return int(self.coords.shape[0])

    def __len__(self) -> int:
        return self.num_frames

    @property
    def num_keypoints(self) -> int:
        return int(self.coords.shape[1])

    @property
    def dims(self) -> int:
        return int(self.coords.shape[2])

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.num_frames / self.fps

    @property
    def frame_times(self) -> np.ndarray:
        """(T,) time of every frame in seconds: :attr:`times` when known, else ``arange(T) / fps``."""
        return self.times if self.times is not None else np.arange(self.num_frames, dtype=np.float64) / self.fps

    @property
    def frame_jitter(self) -> float:
        """The largest deviation of a frame interval from the median one, in seconds (0 without times)."""
        return 0.0 if self.times is None else frame_jitter(self.times)

    @property
    def variable_frame_rate(self) -> bool:
        """Whether the frame times are uneven (a phone's variable frame rate), so frame ÷ fps is not the time."""
        return self.times is not None and is_variable_rate(self.times)

    def warn_if_variable_rate(self, where: str) -> bool:
        """Log a warning naming ``where`` and the jitter when the frames are unevenly spaced but ``where`` treats them
        as evenly spaced at :attr:`fps`; returns whether it warned."""
        if not self.variable_frame_rate:
            return False
        median = float(np.median(np.diff(self.times)))
        log.warning("%s: %s has a variable frame rate (frame intervals differ from their median %.1f ms by up to "
                    "%.1f ms) but is treated as evenly spaced at %.4g fps; its times are off by up to %.0f ms",
                    where, self.metadata.get("source", "the recording"), 1e3 * median, 1e3 * self.frame_jitter,
                    self.fps, 1e3 * float(np.max(np.abs(self.times - self.times[0]
                                                          - np.arange(self.num_frames) / self.fps))))
        return True

    @property
    def missing(self) -> np.ndarray:
        """(T, J) boolean mask of missing keypoints."""
        return np.isnan(self.coords).any(axis=-1)

    @property
    def missing_fraction(self) -> float:
        return float(self.missing.mean()) if self.num_frames else 1.0

    def __repr__(self) -> str:
        rate = f"{self.fps:g} fps" + (" variable" if self.variable_frame_rate else "")
        return (f"SkeletonSequence({self.num_frames} frames × {self.num_keypoints} {self.skeleton.name} "
                f"keypoints × {self.dims}D, {rate}, {100 * self.missing_fraction:.1f}% missing)")

    # ------------------------------------------------------------------ transformations (return new objects)
    def replace(self, **changes) -> SkeletonSequence:
        """A copy with some fields replaced (validated again)."""
        return dataclasses.replace(self, **changes)

    def __getitem__(self, frames: slice) -> SkeletonSequence:
        if not isinstance(frames, slice):
            raise TypeError("index a SkeletonSequence with a slice of frames, e.g. seq[30:60]")
        conf = None if self.confidence is None else self.confidence[frames]
        times = None if self.times is None else self.times[frames]
        return self.replace(coords=self.coords[frames], confidence=conf, times=times)

    def map_to(self, target, *, approximate: bool = False) -> SkeletonSequence:
        """The same recording on another keypoint set (missing keypoints NaN; see skeleton.map_keypoints)."""
        target = _skeleton.get(target)
        coords = _skeleton.map_keypoints(self.coords, self.skeleton, target, approximate=approximate)
        conf = None
        if self.confidence is not None:
            m = _skeleton.mapping(self.skeleton, target, approximate=approximate)
            conf = np.where(m >= 0, self.confidence[:, np.clip(m, 0, None)], np.nan).astype(np.float32)
        return SkeletonSequence(coords, self.fps, target, conf, self.metadata, self.times)

    def require(self, skeleton, *, min_frames: int = 1, where: str = "this function") -> SkeletonSequence:
        """Check the skeleton, that the frames are a recording in time and the length; raise a clear error naming
        ``where`` and the source file (``metadata["source"]``) otherwise.

        Every caller windows or filters time, so a per-image label set (COCO, a DeepLabCut training set:
        ``metadata["time_series"] = False``) is refused: its "frames" are unrelated images.
        """
        skel = _skeleton.get(skeleton)
        source = self.metadata.get("source")
        what = f"the recording {source}" if source else "the sequence"
        if self.skeleton.name != skel.name:
            raise SkeletonMismatchError(
                f"{where} needs {skel.name!r} keypoints but {what} has {self.skeleton.name!r}; map them first with "
                f"sequence.map_to({skel.name!r})"
            )
        if self.metadata.get("time_series") is False:
            images = self.metadata.get("images")
            count = f"{len(images)} labelled images" if isinstance(images, (list, tuple)) else "labelled images"
            raise DataError(
                f"{where} needs a recording (keypoints of consecutive video frames), but {source or 'the input'} "
                f"holds {count} (per-image labels, e.g. COCO or a DeepLabCut training set), which have no time "
                "axis; pass the keypoints tracked in a video"
            )
        if self.num_frames < min_frames:
            raise DataError(
                f"{where} needs at least {min_frames} frames ({min_frames / self.fps:.1f} s at {self.fps:g} fps) "
                f"but {what} has {self.num_frames}"
            )
        if self.num_frames and np.isnan(self.coords).all():
            raise DataError(f"{where}: every keypoint of {what} is missing (all NaN)")
        return self


def _check_times(times, num_frames: int) -> np.ndarray:
    """(T,) float64 frame times: finite and strictly increasing, one per frame (a read-only copy)."""
    try:
        t = np.array(times, dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError(f"SkeletonSequence times must be numbers (seconds), got {type(times).__name__}") from None
    if t.shape != (num_frames,):
        raise DataError(f"SkeletonSequence times must be (T,) = ({num_frames},), one per frame, got shape {t.shape}")
    if not np.isfinite(t).all():
        raise DataError("SkeletonSequence times contain NaN or inf; every frame needs its time in seconds")
    if num_frames > 1 and not (np.diff(t) > 0).all():
        bad = int(np.flatnonzero(np.diff(t) <= 0)[0])
        raise DataError(f"SkeletonSequence times must increase strictly: frame {bad + 1} is at {t[bad + 1]:.6g} s, not "
                        f"after frame {bad} at {t[bad]:.6g} s")
    t.setflags(write=False)
    return t


@dataclasses.dataclass(frozen=True)
class CohortSplit:
    """Subject-level split: a held-out test set and cross-validation folds (each a tuple of subject ids)."""

    test: tuple[str, ...]
    folds: tuple[tuple[str, ...], ...]

    def train_subjects(self, fold: int) -> tuple[str, ...]:
        """Subjects of every fold except ``fold`` (0-based)."""
        return tuple(s for f, subs in enumerate(self.folds) if f != fold for s in subs)

    def to_json(self) -> dict:
        return {"test": list(self.test), "folds": [list(f) for f in self.folds]}

    @classmethod
    def from_json(cls, data: Mapping) -> CohortSplit:
        return cls(tuple(data["test"]), tuple(tuple(f) for f in data["folds"]))


@dataclasses.dataclass(frozen=True, eq=False)
class Cohort:
    """Recordings with labels, subject ids and metadata.

    Arguments:
        sequences: the recordings.
        labels: (N,) one label per recording: int class (CP yes/no) or float score (SMA CHOP INTEND).
        subjects: (N,) subject id of every recording; several recordings may share one subject.
        metadata: per-recording columns, each of length N (e.g. ``severity``, ``fms_class``, ``corrected_age``).
        name: what the cohort is, for messages and reports.
    """

    sequences: Sequence[SkeletonSequence]
    labels: np.ndarray
    subjects: Sequence[str] | None = None
    metadata: Mapping[str, Sequence] = dataclasses.field(default_factory=dict)
    name: str = "cohort"

    def __post_init__(self):
        seqs = tuple(self.sequences)
        for i, s in enumerate(seqs):
            if not isinstance(s, SkeletonSequence):
                raise DataError(f"cohort {self.name!r}: item {i} is {type(s).__name__}, not a SkeletonSequence")
        n = len(seqs)
        labels = np.asarray(self.labels)
        if labels.shape != (n,):
            raise DataError(f"cohort {self.name!r}: {labels.shape[0] if labels.ndim else 0} labels for {n} recordings")
        if labels.dtype.kind == "f" and not np.isfinite(labels).all():
            raise DataError(f"cohort {self.name!r}: labels contain NaN or inf")
        subjects = tuple(str(s) for s in (self.subjects if self.subjects is not None else range(n)))
        if len(subjects) != n:
            raise DataError(f"cohort {self.name!r}: {len(subjects)} subject ids for {n} recordings")
        meta = {}
        for key, col in dict(self.metadata).items():
            col = np.asarray(col)
            if col.shape[:1] != (n,):
                raise DataError(f"cohort {self.name!r}: metadata column {key!r} has {len(col)} rows, expected {n}")
            meta[key] = col
        object.__setattr__(self, "sequences", seqs)
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "subjects", subjects)
        object.__setattr__(self, "metadata", meta)

    def __len__(self) -> int:
        return len(self.sequences)

    def __iter__(self) -> Iterator[SkeletonSequence]:
        return iter(self.sequences)

    def __repr__(self) -> str:
        return f"Cohort({self.name!r}, {len(self)} recordings of {len(self.subject_ids)} subjects)"

    @property
    def subject_ids(self) -> tuple[str, ...]:
        """Unique subject ids in first-appearance order."""
        return tuple(dict.fromkeys(self.subjects))

    def subject_labels(self) -> dict[str, Any]:
        """One label per subject (the maximum over the subject's recordings: a subject with CP is positive)."""
        out: dict[str, Any] = {}
        for s, y in zip(self.subjects, self.labels):
            out[s] = y if s not in out else max(out[s], y)
        return out

    def select(self, subjects: Sequence[str] | None = None, *, indices: Sequence[int] | None = None,
               name: str | None = None) -> Cohort:
        """A sub-cohort of the given subjects (all their recordings) or recording indices."""
        if indices is None:
            if subjects is None:
                raise DataError("Cohort.select needs subjects or indices")
            wanted = set(map(str, subjects))
            unknown = wanted - set(self.subjects)
            if unknown:
                raise DataError(f"cohort {self.name!r} has no subjects {sorted(unknown)[:5]}")
            indices = [i for i, s in enumerate(self.subjects) if s in wanted]
        idx = list(indices)
        return Cohort(
            [self.sequences[i] for i in idx], self.labels[idx], [self.subjects[i] for i in idx],
            {k: v[idx] for k, v in self.metadata.items()}, name or self.name,
        )

    def split(self, test_fraction: float = 0.25, folds: int = 7, seed: int = 1433) -> CohortSplit:
        """Stratified test set and ``folds`` stratified folds at subject level (gcn_reference A.9).

        Positive and negative subjects are shuffled separately with ``random.Random(seed)``; of each class
        ``floor((1 - test_fraction) · n)`` go to cross-validation and the rest to the test set; fold f then takes
        ``ceil(remaining / folds_left)`` subjects of each class. Labels other than 0/1 are stratified per value.
        """
        if not 0 <= test_fraction < 1:
            raise DataError(f"test_fraction must be in [0, 1), got {test_fraction}")
        if folds < 1:
            raise DataError(f"folds must be >= 1, got {folds}")
        by_class: dict[Any, list[str]] = {}
        for s, y in self.subject_labels().items():
            by_class.setdefault(y, []).append(s)
        rng = random.Random(seed)
        test: list[str] = []
        fold_lists: list[list[str]] = [[] for _ in range(folds)]
        for y in sorted(by_class, reverse=True):  # positives first, as the reference shuffles them first
            subs = list(by_class[y])
            rng.shuffle(subs)
            n_cv = math.floor((1 - test_fraction) * len(subs))
            test += subs[n_cv:]
            remaining = subs[:n_cv]
            for f in range(folds):
                take = math.ceil(len(remaining) / (folds - f))
                fold_lists[f] += remaining[:take]
                remaining = remaining[take:]
        return CohortSplit(tuple(test), tuple(tuple(f) for f in fold_lists))

    def leave_one_subject_out(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(train indices, test indices) over recordings, one subject held out at a time (seed 000)."""
        subjects = np.asarray(self.subjects)
        for s in self.subject_ids:
            held = subjects == s
            yield np.flatnonzero(~held), np.flatnonzero(held)
