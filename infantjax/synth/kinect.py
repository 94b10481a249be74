"""Synthetic Kinect limb-track recordings of SMA type-I-like infants with CHOP INTEND ground truth (seed 000).

:func:`sma_recordings` draws the subjects of a ``cohort("sma")`` (same subjects, bodies and CHOP INTEND extremity
scores for the same seed), generates ``recordings_per_subject`` recordings of each at 30 Hz and renders the four
colour-marker limb tracks of each (:func:`~infantjax.synth.recording.kinect_tracks`: NaN where a hand goes under the
head or tracking fails at random). Weakness grades the limbs' amplitude, speed and anti-gravity posture
(:func:`~infantjax.synth.movement.movement_profile`, ``chop_intend``).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from infantjax.errors import ConfigError
from infantjax.synth.cohorts import Difficulty, _labels, sample_subject
from infantjax.synth.movement import FMS_DUTY, generate
from infantjax.synth.recording import kinect_tracks

__all__ = ["KinectRecordings", "sma_recordings"]


@dataclasses.dataclass(frozen=True)
class KinectRecordings:
    """Limb-track recordings with their labels.

    Attributes:
        tracks: per recording, (T, 4, 3) float32 tracks in metres (NaN where a limb was lost).
        labels: (recordings,) float32 CHOP INTEND extremity score as assessed (after label noise).
        true_labels: (recordings,) float32 score before label noise.
        subjects: (recordings,) subject id of each recording.
        recordings: (recordings,) recording number within its subject.
    """

    tracks: list[np.ndarray]
    labels: np.ndarray
    true_labels: np.ndarray
    subjects: np.ndarray
    recordings: np.ndarray

    def __len__(self) -> int:
        return len(self.tracks)


def sma_recordings(n_subjects: int = 15, recordings_per_subject: int = 5, *, duration_s: float = 120.0,
                   fps: float = 30.0, seed: int = 0, difficulty: Difficulty | str | float = "default",
                   noise_cm: float = 0.3, failure_rate: float = 0.002) -> KinectRecordings:
    """Kinect limb-track recordings of a synthetic SMA cohort (the paper: 70 two-minute recordings of 15 infants).

    Arguments:
        n_subjects: infants.
        recordings_per_subject: recordings (visits) per infant, each with the infant's score.
        duration_s: seconds per recording (120).
        fps: frame rate of the tracks (30).
        seed: everything is deterministic from it; subject ``i`` is subject ``i`` of ``cohort("sma", seed=seed)``.
        difficulty: label noise of the cohort (:class:`~infantjax.synth.Difficulty`).
        noise_cm, failure_rate: tracker noise and random losses (:func:`~infantjax.synth.kinect_tracks`).

    Returns:
        a :class:`KinectRecordings`.
    """
    for name, value in (("n_subjects", n_subjects), ("recordings_per_subject", recordings_per_subject)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
    if not np.isfinite(duration_s) or duration_s <= 0:
        raise ConfigError(f"duration_s must be a positive number of seconds, got {duration_s!r}")
    diff = Difficulty.of(difficulty)
    tracks, labels, true, subjects, numbers = [], [], [], [], []
    for i in range(int(n_subjects)):
        subject = sample_subject("sma", i, seed, diff, 0.0)
        true_label, label = _labels("sma", subject, diff, np.random.default_rng([int(seed), int(i), 7]))
        base = subject.profile()
        for r in range(int(recordings_per_subject)):
            rng = np.random.default_rng([int(seed), int(i), 300 + r])  # streams apart from cohort()'s videos
            lo, hi = FMS_DUTY[subject.fms_class]
            profile = base.replace(fms_duty=float(rng.uniform(lo, hi)))
            motion = generate(subject.body, profile, duration_s, fps, int(rng.integers(2 ** 62)))
            tracks.append(kinect_tracks(motion, fps=fps, noise_cm=noise_cm, failure_rate=failure_rate,
                                        seed=int(rng.integers(2 ** 62))))
            labels.append(label)
            true.append(true_label)
            subjects.append(subject.id)
            numbers.append(r)
    return KinectRecordings(tracks, np.asarray(labels, np.float32), np.asarray(true, np.float32),
                            np.asarray(subjects), np.asarray(numbers))
