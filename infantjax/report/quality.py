"""Keypoint tracking quality of one recording, as the report shows it: how much of each joint is missing in the
input (before preprocessing) and how many frames preprocessing had to fill.

CP preprocessing (:func:`infantjax.preprocess.preprocess_cp`) fills a missing keypoint by linear interpolation in
time from the same joint's observed frames (:func:`infantjax.preprocess.fill_gaps`); a joint that is never observed
cannot be filled and reaches the model at the origin, the trunk centre after normalisation. Both are worth a
clinician's attention, so the report counts them here from the raw :class:`~infantjax.sequence.SkeletonSequence`.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from infantjax.errors import DataError
from infantjax.sequence import SkeletonSequence

__all__ = ["DataQuality"]


@dataclasses.dataclass(frozen=True)
class DataQuality:
    """Missing keypoints of one recording before preprocessing.

    Attributes:
        joints: the keypoint names, in skeleton order.
        num_frames: frames of the recording.
        fps: its frame rate.
        missing_per_joint: (J,) fraction of frames in which each joint is missing (1.0 for a recording without
            frames).
        missing_frames_per_joint: (J,) number of frames in which each joint is missing.
        frames_interpolated: frames with at least one missing keypoint of a joint observed elsewhere in the
            recording (the frames gap filling changes).
        keypoints_interpolated: missing keypoint-frames of joints observed elsewhere (what gap filling fills).
        never_observed: names of the joints missing in every frame (gap filling cannot fill them).
        mean_confidence: (J,) mean detector confidence per joint over the frames where it was found, or None.
    """

    joints: tuple[str, ...]
    num_frames: int
    fps: float
    missing_per_joint: np.ndarray
    missing_frames_per_joint: np.ndarray
    frames_interpolated: int
    keypoints_interpolated: int
    never_observed: tuple[str, ...]
    mean_confidence: np.ndarray | None = None

    @classmethod
    def from_sequence(cls, sequence: SkeletonSequence) -> DataQuality:
        """Count the missing keypoints of a recording (before any preprocessing).

        Arguments:
            sequence: the recording as read from its keypoint file.

        Returns:
            its :class:`DataQuality`.
        """
        if not isinstance(sequence, SkeletonSequence):
            raise DataError(f"data quality needs a SkeletonSequence, got {type(sequence).__name__}; pass the "
                            "recording the result was predicted from")
        missing = sequence.missing
        n = sequence.num_frames
        joints = tuple(sequence.skeleton.keypoints)
        counts = missing.sum(axis=0).astype(np.int64)
        fraction = counts / n if n else np.ones(len(joints))
        observed = counts < n if n else np.zeros(len(joints), bool)
        fillable = missing & observed[None, :]
        conf = None
        if sequence.confidence is not None and n:
            c = np.where(missing, np.nan, sequence.confidence.astype(np.float64))
            with np.errstate(invalid="ignore"):
                conf = np.array([np.nanmean(col) if np.isfinite(col).any() else np.nan for col in c.T])
        return cls(joints=joints, num_frames=n, fps=sequence.fps, missing_per_joint=np.asarray(fraction, float),
                   missing_frames_per_joint=counts, frames_interpolated=int(fillable.any(axis=1).sum()),
                   keypoints_interpolated=int(fillable.sum()),
                   never_observed=tuple(j for j, ok in zip(joints, observed) if not ok), mean_confidence=conf)

    @property
    def duration(self) -> float:
        """Length of the recording in seconds."""
        return self.num_frames / self.fps

    @property
    def missing_fraction(self) -> float:
        """Share of all keypoint-frames that are missing."""
        return float(np.mean(self.missing_per_joint)) if self.num_frames else 1.0

    @property
    def frames_interpolated_fraction(self) -> float:
        return self.frames_interpolated / self.num_frames if self.num_frames else 0.0

    def worst_joints(self, k: int = 3) -> list[tuple[str, float]]:
        """The ``k`` joints missing most often (name, fraction), most missing first; joints never missing are left
        out."""
        order = np.argsort(-self.missing_per_joint, kind="stable")[:k]
        return [(self.joints[i], float(self.missing_per_joint[i])) for i in order if self.missing_per_joint[i] > 0]

    def summary(self) -> str:
        """One line for the cohort table: missing share and the joints never seen."""
        text = f"{100 * self.missing_fraction:.1f} % missing"
        if self.never_observed:
            text += f"; never seen: {', '.join(self.never_observed)}"
        return text

    def as_dict(self) -> dict:
        return {"joints": list(self.joints), "num_frames": self.num_frames, "fps": self.fps,
                "missing_per_joint": self.missing_per_joint.tolist(),
                "missing_frames_per_joint": self.missing_frames_per_joint.tolist(),
                "frames_interpolated": self.frames_interpolated, "keypoints_interpolated": self.keypoints_interpolated,
                "never_observed": list(self.never_observed),
                "mean_confidence": None if self.mean_confidence is None else
                [None if not np.isfinite(c) else float(c) for c in self.mean_confidence]}
