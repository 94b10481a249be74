"""The data containers everything else passes around: :class:`SkeletonSequence` and :class:`Cohort`.

A :class:`SkeletonSequence` is one recording: keypoint coordinates (T, J, D) float32 with NaN where a keypoint is
missing, optional confidences (T, J), the frame rate, the skeleton and free-form metadata. It is validated on
construction, so code that receives one can trust its shapes.

A :class:`Cohort` is a list of recordings with one label each, the subject each belongs to, per-recording metadata
columns, and subject-level splits: the stratified test set + 7 stratified folds of seed 002 (gcn_reference A.9)
and leave-one-subject-out (seed 000). All of a subject's recordings always fall on one side of a split.
"""

from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from infantjax import skeleton as _skeleton
from infantjax.errors import DataError, SkeletonMismatchError

__all__ = ["SkeletonSequence", "Cohort", "CohortSplit"]


@dataclasses.dataclass(frozen=True, eq=False)
class SkeletonSequence:
    """One recording of keypoints.

    Arguments:
        coords: (T, J, D) coordinates, D = 2 (image x, y) or 3 (x, y, z); NaN marks a missing keypoint.
        fps: frames per second (> 0).
        skeleton: the keypoint set (a :class:`~infantjax.skeleton.Skeleton` or its registry name).
        confidence: optional (T, J) detector confidences in [0, 1] (NaN allowed where coords are NaN).
        metadata: free-form, JSON-serialisable information (source file, subject, age, ...).
    """

    coords: np.ndarray
    fps: float = 30.0
    skeleton: Any = "in-motion-19"
    confidence: np.ndarray | None = None
    metadata: Mapping[str, Any] = dataclasses.field(default_factory=dict)

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
    def missing(self) -> np.ndarray:
        """(T, J) boolean mask of missing keypoints."""
        return np.isnan(self.coords).any(axis=-1)

    @property
    def missing_fraction(self) -> float:
        return float(self.missing.mean()) if self.num_frames else 1.0

    def __repr__(self) -> str:
        return (f"SkeletonSequence({self.num_frames} frames × {self.num_keypoints} {self.skeleton.name} "
                f"keypoints × {self.dims}D, {self.fps:g} fps, {100 * self.missing_fraction:.1f}% missing)")

    # ------------------------------------------------------------------ transformations (return new objects)
    def replace(self, **changes) -> SkeletonSequence:
        """A copy with some fields replaced (validated again)."""
        return dataclasses.replace(self, **changes)

    def __getitem__(self, frames: slice) -> SkeletonSequence:
        if not isinstance(frames, slice):
            raise TypeError("index a SkeletonSequence with a slice of frames, e.g. seq[30:60]")
        conf = None if self.confidence is None else self.confidence[frames]
        return self.replace(coords=self.coords[frames], confidence=conf)

    def map_to(self, target, *, approximate: bool = False) -> SkeletonSequence:
        """The same recording on another keypoint set (missing keypoints NaN; see skeleton.map_keypoints)."""
        target = _skeleton.get(target)
        coords = _skeleton.map_keypoints(self.coords, self.skeleton, target, approximate=approximate)
        conf = None
        if self.confidence is not None:
            m = _skeleton.mapping(self.skeleton, target, approximate=approximate)
            conf = np.where(m >= 0, self.confidence[:, np.clip(m, 0, None)], np.nan).astype(np.float32)
        return SkeletonSequence(coords, self.fps, target, conf, self.metadata)

    def require(self, skeleton, *, min_frames: int = 1, where: str = "this function") -> SkeletonSequence:
        """Check the skeleton and length; raise a clear error naming ``where`` otherwise."""
        skel = _skeleton.get(skeleton)
        if self.skeleton.name != skel.name:
            raise SkeletonMismatchError(
                f"{where} needs {skel.name!r} keypoints but got {self.skeleton.name!r}; map them first with "
                f"sequence.map_to({skel.name!r})"
            )
        if self.num_frames < min_frames:
            raise DataError(
                f"{where} needs at least {min_frames} frames ({min_frames / self.fps:.1f} s at {self.fps:g} fps) "
                f"but the sequence has {self.num_frames}"
            )
        if self.num_frames and np.isnan(self.coords).all():
            raise DataError(f"{where}: every keypoint of the sequence is missing (all NaN)")
        return self


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
