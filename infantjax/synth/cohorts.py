"""Synthetic cohorts: subjects with known ground truth, one or more recordings each, labels and metadata.

``cohort(task="cp" | "sma" | "gma", ...)`` draws subjects independently (subject ``i`` depends only on ``seed`` and
``i``, so a larger cohort extends a smaller one), gives each a body, a clinical picture and a movement profile,
generates and records every video, and returns an :class:`infantjax.sequence.Cohort`.

Clinical distributions (sources in ``docs/synth.md``):

* CP subtypes of the infants with CP: spastic unilateral 34 %, spastic bilateral 54 %, dyskinetic 10 %, ataxic 2 %;
  GMFCS levels I–V depend on the subtype (unilateral mostly I–II) and pool to ≈ 30/17/8/18/27 % (seed 002,
  eTable 1: 21 unilateral, 33 bilateral, 6 dyskinetic, 1 ataxic; GMFCS I 18, II 10, III 5, IV 11, V 16).
* Gestational age: a mixture of the three source populations of seed 002 eTable 1 (heterogeneous high-risk
  31.7 ± 6.2 weeks, 79 %; perinatal stroke 34.8 ± 5.4, 7 %; neonatal encephalopathy 39.1 ± 1.4, 14 %).
* Corrected age at recording 12.2 ± 1.3 weeks in [9, 18]; 55 % male (eTable 1).
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, Mapping, Sequence

import numpy as np

from infantjax.errors import ConfigError, DataError
from infantjax.sequence import Cohort
from infantjax.synth.body import Body, infant
from infantjax.synth.depth import DepthClip
from infantjax.synth.movement import FMS_CLASSES, FMS_DUTY, MovementProfile, generate, movement_profile
from infantjax.synth.recording import RecordingConfig, record
from infantjax.synth.recording import keypoints_3d as _keypoints_3d

__all__ = ["Difficulty", "DIFFICULTIES", "Subject", "sample_subject", "cohort", "SyntheticVideo", "birth_weight",
           "fms_clip_labels", "fms_frames"]

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Difficulty:
    """How hard the classes are to tell apart.

    Arguments:
        overlap: 0–1; pulls the CP infants' abnormalities towards typical movement (severity × (1 − overlap);
            their FMs-class distribution mixed with the typical one by ``overlap``). 1 makes the classes identical.
        label_noise: probability that a subject's recorded label is wrong (flipped for CP; one FMs class off for
            GMA; Gaussian error with sd 72·label_noise for the SMA score).
        atypical_healthy: share of typically developing infants with one CP-like feature (sporadic or absent
            FMs, a one-sided reduction of movement, a quiet recording, or mild synchrony) — healthy infants that
            look at risk, as GMA's 11 % false positives do (seed 002: specificity 88.7 %).
    """

    overlap: float = 0.15
    label_noise: float = 0.02
    atypical_healthy: float = 0.08

    def __post_init__(self):
        for name in ("overlap", "label_noise", "atypical_healthy"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or not 0.0 <= v <= 1.0:
                raise ConfigError(f"Difficulty.{name} must be a number in [0, 1], got {v!r}")

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def of(cls, value: Difficulty | str | float | Mapping | None) -> Difficulty:
        """A Difficulty from an instance, a preset name (``easy``, ``default``, ``hard``), an overlap (float) or
        a mapping of fields."""
        if value is None:
            return cls()
        if isinstance(value, Difficulty):
            return value
        if isinstance(value, str):
            if value not in DIFFICULTIES:
                raise ConfigError(f"unknown difficulty {value!r}; use one of {', '.join(DIFFICULTIES)} or a number")
            return DIFFICULTIES[value]
        if isinstance(value, Mapping):
            known = [f.name for f in dataclasses.fields(cls)]
            unknown = sorted(map(str, set(value) - set(known)))
            if unknown:
                raise ConfigError(f"difficulty has no fields {unknown}; known fields: {known}")
            return cls(**dict(value))
        if isinstance(value, (int, float)):
            return dataclasses.replace(cls(), overlap=float(value))
        raise ConfigError(f"difficulty must be a Difficulty, a preset name or an overlap in [0, 1], got {value!r}")


DIFFICULTIES = {
    "easy": Difficulty(overlap=0.0, label_noise=0.0, atypical_healthy=0.0),
    "default": Difficulty(),
    "hard": Difficulty(overlap=0.45, label_noise=0.06, atypical_healthy=0.2),
}

_SUBTYPES = ("unilateral", "bilateral", "dyskinetic", "ataxic")
_SUBTYPE_P = (0.34, 0.54, 0.10, 0.02)
_GMFCS_P = {  # P(GMFCS I..V | subtype), pooling to ≈ eTable 1
    "unilateral": (0.6, 0.3, 0.1, 0.0, 0.0),
    "bilateral": (0.15, 0.12, 0.08, 0.28, 0.37),
    "dyskinetic": (0.1, 0.1, 0.1, 0.3, 0.4),
    "ataxic": (0.3, 0.4, 0.2, 0.1, 0.0),
}
# FMs class probabilities (absent, sporadic, intermittent, continual)
_FMS_TYPICAL = (0.01, 0.05, 0.44, 0.50)
_FMS_CP = (0.62, 0.28, 0.10, 0.0)
_FMS_ATYPICAL = (0.35, 0.65, 0.0, 0.0)


@dataclasses.dataclass(frozen=True)
class Subject:
    """One synthetic infant's ground truth (the label before label noise is ``cp``/``chop_intend``/FMs)."""

    id: str
    body: Body
    cp: bool
    subtype: str
    gmfcs: int
    severity: float
    fms_class: str
    cramped_synchronised: bool
    poor_repertoire: bool
    affected_side: str
    atypical: str
    chop_intend: float | None
    gestational_age: float
    profile_seed: int
    activity: float = 1.0
    movement_subtype: str = "none"  # the pattern the movement shows (an atypical healthy infant may look unilateral)

    def profile(self) -> MovementProfile:
        """The subject's movement profile (deterministic)."""
        return movement_profile(
            self.profile_seed, fms_class=self.fms_class, subtype=self.movement_subtype, severity=self.severity,
            cramped_synchronised=self.cramped_synchronised, poor_repertoire=self.poor_repertoire,
            affected_side=self.affected_side if self.affected_side in ("left", "right") else None,
            chop_intend=self.chop_intend, activity=self.activity,
        )


def _choice(rng, options, p):
    return options[int(rng.choice(len(options), p=np.asarray(p) / np.sum(p)))]


def sample_subject(task: str, index: int, seed: int, difficulty: Difficulty, prevalence: float) -> Subject:
    """Draw subject ``index`` of a cohort (depends only on ``task``, ``seed`` and ``index``)."""
    rng = np.random.default_rng([int(seed), int(index), {"cp": 0, "gma": 0, "sma": 1}[task]])
    body = infant(rng)
    ga_group = rng.choice(3, p=(0.79, 0.07, 0.14))
    ga = float(np.clip(rng.normal(*((31.7, 6.2), (34.8, 5.4), (39.1, 1.4))[ga_group]), 23.0, 42.0))
    o = difficulty.overlap
    sev_scale = 1.0 - o
    cp = False
    movement_subtype = "none"
    subtype, gmfcs, severity, side, atypical = "none", 0, 0.0, "none", ""
    cramped = poor = False
    chop = None
    activity = 1.0
    if task == "sma":
        chop = float(np.round(72.0 * rng.beta(2.0, 2.0), 1))
        fms = _choice(rng, FMS_CLASSES, _FMS_TYPICAL)
    else:
        cp = bool(rng.random() < prevalence)
        if cp:
            subtype = movement_subtype = _choice(rng, _SUBTYPES, _SUBTYPE_P)
            gmfcs = int(_choice(rng, (1, 2, 3, 4, 5), _GMFCS_P[subtype]))
            severity = float(np.clip((0.45 + 0.13 * (gmfcs - 1) + rng.normal(0, 0.05)) * sev_scale, 0.0, 1.0))
            p = (1 - o) * np.asarray(_FMS_CP) + o * np.asarray(_FMS_TYPICAL)
            fms = _choice(rng, FMS_CLASSES, p)
            p_cs = {"unilateral": 0.15, "ataxic": 0.3}.get(subtype, min(0.5 + 0.1 * (gmfcs - 1), 0.9))
            cramped = bool(rng.random() < p_cs * (1 - o))
            poor = bool(rng.random() < (0.8 if subtype == "dyskinetic" else 0.5) * (1 - o))
            if subtype == "unilateral":
                side = "left" if rng.random() < 0.5 else "right"
            else:
                side = "both"
        else:
            fms = _choice(rng, FMS_CLASSES, _FMS_TYPICAL)
            if rng.random() < difficulty.atypical_healthy:
                atypical = _choice(rng, ("fms", "asymmetry", "quiet", "synchrony"), (0.4, 0.25, 0.2, 0.15))
                if atypical == "fms":
                    fms = _choice(rng, FMS_CLASSES, _FMS_ATYPICAL)
                elif atypical == "asymmetry":  # e.g. a strong head-turning preference with a quieter side
                    movement_subtype = "unilateral"
                    side = "left" if rng.random() < 0.5 else "right"
                    severity = float(rng.uniform(0.2, 0.45))
                elif atypical == "quiet":
                    activity = float(rng.uniform(0.45, 0.7))
                else:
                    cramped = True
                    severity = float(rng.uniform(0.0, 0.2))
    profile_seed = int(rng.integers(2 ** 62))
    subject = Subject(
        id=f"s{index:04d}", body=body, cp=cp, subtype=subtype, gmfcs=gmfcs, severity=severity, fms_class=fms,
        cramped_synchronised=cramped, poor_repertoire=poor, affected_side=side, atypical=atypical,
        chop_intend=chop, gestational_age=round(ga, 1), profile_seed=profile_seed, activity=activity,
        movement_subtype=movement_subtype,
    )
    return subject


@dataclasses.dataclass(frozen=True)
class SyntheticVideo:
    """A recording's recipe: renders its RGB frames (or depth clip) on demand, deterministically.

    Nothing is rendered when a cohort is built; call :meth:`frames` (a generator of (B, H, W, 3) uint8 batches),
    :meth:`write` (MP4 through ``infantjax.io``) or :meth:`keypoints` (exact projections).
    """

    body: Body
    profile: MovementProfile
    duration_s: float
    fps: float
    motion_seed: int
    recording_seed: int
    config: RecordingConfig
    appearance_seed: int

    def motion(self):
        return generate(self.body, self.profile, self.duration_s, self.fps, self.motion_seed)

    def recording(self):
        return record(self.motion(), self.config, self.recording_seed)

    @property
    def num_frames(self) -> int:
        return max(int(round(self.duration_s * self.fps)), 2)

    def frames(self, batch: int = 8, *, width: int | None = None, height: int | None = None):
        """RGB frames in batches (B, H, W, 3) uint8 (at the recording's size unless width/height are given)."""
        from infantjax.synth.rendering import render, sample_appearance

        rec = self.recording()
        cam = rec.camera if width is None and height is None else rec.camera.resized(width or rec.camera.width,
                                                                                    height or rec.camera.height)
        motion = self.motion()
        for out in render(motion.points, self.body, cam, sample_appearance(self.appearance_seed),
                          jitter=rec.jitter, batch=batch):
            yield out.frames

    def write(self, path, *, width: int | None = None, height: int | None = None):
        """Render and encode the video as MP4 (through ``infantjax.io.write_video``); returns the path.

        The file is the same, byte for byte, on every run and every machine from the same seed: the renderer
        is deterministic and the encoder runs in its reproducible mode (``write_video(...,
        reproducible=True)``)."""
        from infantjax.io import write_video

        return write_video(path, self.frames(width=width, height=height), fps=self.fps, reproducible=True)


def _fps_for(fps, config: RecordingConfig, rng) -> float:
    if fps is None:
        lo, hi = config.fps_range
    elif isinstance(fps, (tuple, list)):
        if len(fps) != 2:
            raise ConfigError(f"fps range must be (low, high), got {fps!r}")
        lo, hi = float(fps[0]), float(fps[1])
    else:
        v = float(fps)
        if not np.isfinite(v) or v <= 0:
            raise ConfigError(f"fps must be positive, got {fps!r}")
        return v
    if not 0 < lo <= hi:
        raise ConfigError(f"fps range must satisfy 0 < low <= high, got ({lo}, {hi})")
    return float(np.round(rng.uniform(lo, hi), 2))


def cohort(task: str = "cp", n_subjects: int = 100, seed: int = 0, difficulty: Difficulty | str | float = "default",
           *, recordings_per_subject: int | Sequence[int] = 1, duration_s: float = 60.0,
           fps: float | tuple[float, float] | None = 30.0, prevalence: float = 0.3,
           skeleton: str = "in-motion-19", recording: RecordingConfig | None = None, videos: bool = False,
           depth: bool = False, keypoints_3d: bool = False, progress: bool = False) -> Cohort:
    """A synthetic cohort with known ground truth.

    Arguments:
        task: ``"cp"`` (label: CP yes/no, int), ``"sma"`` (label: CHOP INTEND extremity score 0–72, float) or
            ``"gma"`` (label: FMs class 0 absent, 1 sporadic, 2 intermittent, 3 continual, int).
        n_subjects: number of infants.
        seed: everything is deterministic from it.
        difficulty: a :class:`Difficulty`, a preset (``"easy"``, ``"default"``, ``"hard"``) or an overlap.
        recordings_per_subject: videos per infant (int, or a (low, high) range drawn per subject).
        duration_s: length of each recording in seconds (clinical GMA videos are 3–5 min; 60 s keeps cohorts
            fast).
        fps: frame rate: a number, a (low, high) range drawn per video, or None for the recording config's
            range (15–31 fps).
        prevalence: share of infants with CP (cp and gma tasks).
        skeleton: keypoint set of the sequences (``"in-motion-19"``, ``"passmore-18"``, ``"babypose-12"``, ...).
        recording: camera and detector distributions (:class:`RecordingConfig`).
        videos: add a ``video`` metadata column of :class:`SyntheticVideo` recipes (rendered on demand).
        depth: add a ``depth`` metadata column of ``infantjax.synth.depth.DepthClip`` recipes.
        keypoints_3d: add a ``keypoints_3d`` column of exact (T, J, 3) float32 body-frame keypoints in cm.
        progress: show a progress bar.

    Returns:
        an :class:`infantjax.sequence.Cohort`; sequences are 2D pixel keypoints of a nominal camera with NaN
        dropouts and confidences. Metadata columns: ``subtype``, ``severity`` (GMFCS-like 0 = no CP, 1–5),
        ``fms_class``, ``fms_frequency`` (true share of the recording with FMs, seed 001's quantitative score),
        ``gestational_age``, ``corrected_age`` (weeks), ``sex``, ``cp`` and ``true_label`` (before label noise),
        ``cramped_synchronised``, ``poor_repertoire``, ``affected_side``, ``atypical``, ``chop_intend``,
        ``recording``, ``fps``, ``width``, ``height``, ``birth_weight`` (g; :func:`birth_weight`) (+
        ``video``/``depth``/``keypoints_3d`` on request). Every sequence's metadata holds ``fms_intervals`` (the
        seconds with FMs): :func:`infantjax.synth.fms_clip_labels` turns them into per-clip FMs ground truth.
    """
    if task not in ("cp", "sma", "gma"):
        raise ConfigError(f"unknown task {task!r}; use 'cp', 'sma' or 'gma'")
    if isinstance(n_subjects, bool) or not isinstance(n_subjects, (int, np.integer)) or n_subjects < 1:
        raise ConfigError(f"n_subjects must be a positive integer, got {n_subjects!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        # numpy's seed sequences take non-negative integers only
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
    if not isinstance(prevalence, (int, float)) or not 0.0 <= prevalence <= 1.0:
        raise ConfigError(f"prevalence must be in [0, 1], got {prevalence!r}")
    if not isinstance(duration_s, (int, float)) or not np.isfinite(duration_s) or duration_s <= 0:
        raise ConfigError(f"duration_s must be a positive number of seconds, got {duration_s!r}")
    counts = recordings_per_subject if isinstance(recordings_per_subject, (tuple, list)) else \
        (recordings_per_subject, recordings_per_subject)
    if len(counts) != 2 or any(isinstance(c, bool) or not isinstance(c, (int, np.integer)) for c in counts):
        raise ConfigError(f"recordings_per_subject must be a whole number of recordings or a range (low, high) of "
                          f"them, got {recordings_per_subject!r}")
    lo_r, hi_r = int(counts[0]), int(counts[1])
    if not 1 <= lo_r <= hi_r:
        raise ConfigError(f"recordings_per_subject must be >= 1 (or a range (low, high)), got {recordings_per_subject!r}")
    diff = Difficulty.of(difficulty)
    config = recording or RecordingConfig()
    sequences, labels, subjects = [], [], []
    meta: dict[str, list[Any]] = {k: [] for k in (
        "subtype", "severity", "fms_class", "fms_frequency", "gestational_age", "corrected_age", "sex", "cp",
        "true_label", "cramped_synchronised", "poor_repertoire", "affected_side", "atypical", "chop_intend",
        "recording", "fps", "width", "height", "birth_weight")}
    extra: dict[str, list[Any]] = {}
    iterator = range(int(n_subjects))
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(iterator, desc=f"synthetic {task} cohort", unit="infant")
    for i in iterator:
        subject = sample_subject(task, i, seed, diff, prevalence)
        noise_rng = np.random.default_rng([int(seed), int(i), 7])
        true_label, label = _labels(task, subject, diff, noise_rng)
        base_profile = subject.profile()
        n_rec = int(noise_rng.integers(lo_r, hi_r + 1))
        weight = birth_weight(subject.gestational_age, np.random.default_rng([int(seed), int(i), 8]))
        for r in range(n_rec):
            rec_rng = np.random.default_rng([int(seed), int(i), 100 + r])
            rate = _fps_for(fps, config, rec_rng)
            lo, hi = FMS_DUTY[subject.fms_class]
            profile = base_profile.replace(fms_duty=float(rec_rng.uniform(lo, hi)))
            motion_seed = int(rec_rng.integers(2 ** 62))
            recording_seed = int(rec_rng.integers(2 ** 62))
            motion = generate(subject.body, profile, duration_s, rate, motion_seed)
            rec = record(motion, config, recording_seed)
            fms_frequency = float(motion.fms.mean())
            seq_meta = {"subject": subject.id, "recording": r, "task": task, "label": _json(label),
                        "fms_class": subject.fms_class, "fms_intervals": _intervals(motion.fms, rate),
                        "synthetic": True, "seed": int(seed)}
            sequences.append(rec.sequence(skeleton, metadata=seq_meta))
            labels.append(label)
            subjects.append(subject.id)
            for k, v in (("subtype", subject.subtype), ("severity", subject.gmfcs), ("fms_class", subject.fms_class),
                         ("fms_frequency", fms_frequency), ("gestational_age", subject.gestational_age),
                         ("corrected_age", round(subject.body.corrected_age, 1)), ("sex", subject.body.sex),
                         ("cp", int(subject.cp)), ("true_label", true_label),
                         ("cramped_synchronised", subject.cramped_synchronised),
                         ("poor_repertoire", subject.poor_repertoire), ("affected_side", subject.affected_side),
                         ("atypical", subject.atypical),
                         ("chop_intend", np.nan if subject.chop_intend is None else subject.chop_intend),
                         ("recording", r), ("fps", rate), ("width", rec.camera.width),
                         ("height", rec.camera.height), ("birth_weight", weight)):
                meta[k].append(v)
            if videos:
                extra.setdefault("video", []).append(SyntheticVideo(
                    subject.body, profile, float(duration_s), rate, motion_seed, recording_seed, config,
                    int(rec_rng.integers(2 ** 62))))
            if depth:
                extra.setdefault("depth", []).append(DepthClip(subject.body, profile, float(duration_s),
                                                               motion_seed, int(rec_rng.integers(2 ** 62))))
            if keypoints_3d:
                extra.setdefault("keypoints_3d", []).append(_keypoints_3d(motion, skeleton))
    labels_arr = np.asarray(labels, dtype=np.float32 if task == "sma" else np.int64)
    columns: dict[str, Any] = {k: np.asarray(v) for k, v in meta.items()}
    for k, v in extra.items():
        col = np.empty(len(v), dtype=object)
        col[:] = v
        columns[k] = col
    return Cohort(sequences, labels_arr, subjects, columns, name=f"synthetic-{task}-seed{seed}")


def birth_weight(gestational_age: float, rng: np.random.Generator) -> float:
    """A birth weight (g) for a gestational age (weeks): the median of a growth chart, 3500 g at 40 weeks falling
    about 10 % per week earlier (≈ 650 g at 24 weeks, 1,500 g at 32; an exponential fit of ours to Fenton-like
    medians), times log-normal spread (sd 0.12), clipped to 400–5,000 g.

    It is drawn from its own random stream (``[seed, index, 8]`` in :func:`cohort`), so adding it left every other
    value of existing cohorts unchanged; like gestational age it does not depend on the label (seed 001: basic
    characteristics did not differ between normal and risk infants).
    """
    weight = 3500.0 * np.exp(0.105 * (float(gestational_age) - 40.0)) * np.exp(rng.normal(0.0, 0.12))
    return float(np.round(np.clip(weight, 400.0, 5000.0)))


def _labels(task: str, subject: Subject, diff: Difficulty, rng: np.random.Generator):
    noisy = rng.random() < diff.label_noise
    if task == "cp":
        true = int(subject.cp)
        return true, (1 - true) if noisy else true
    if task == "gma":
        true = FMS_CLASSES.index(subject.fms_class)
        if noisy:
            step = 1 if true == 0 else -1 if true == 3 else int(rng.choice((-1, 1)))
            return true, true + step
        return true, true
    true = float(subject.chop_intend)
    noise = rng.normal(0.0, 72.0 * diff.label_noise)
    return true, float(np.clip(np.round(true + noise, 1), 0.0, 72.0))


def _intervals(mask: np.ndarray, fps: float) -> list[list[float]]:
    on = np.concatenate([[0], (mask > 0.5).astype(np.int8), [0]])
    d = np.diff(on)
    starts, stops = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
    return [[round(s / fps, 3), round(e / fps, 3)] for s, e in zip(starts, stops)]


def _json(v):
    return v.item() if hasattr(v, "item") else v


def fms_frames(intervals: Sequence[Sequence[float]], num_frames: int, fps: float) -> np.ndarray:
    """The frames with fidgety movements of a recording, from its ``fms_intervals`` metadata (seconds).

    Arguments:
        intervals: ``[[start_s, stop_s], ...]`` (a synthetic sequence's ``metadata["fms_intervals"]``).
        num_frames: frames of the recording.
        fps: its frame rate.

    Returns:
        (num_frames,) bool.
    """
    if isinstance(num_frames, bool) or int(num_frames) < 1 or not np.isfinite(fps) or fps <= 0:
        raise ConfigError(f"fms_frames needs num_frames >= 1 and fps > 0, got {num_frames!r} and {fps!r}")
    on = np.zeros(int(num_frames), bool)
    for interval in intervals:
        if len(interval) != 2:
            raise DataError(f"fms_intervals must be [start_s, stop_s] pairs, got {interval!r}")
        lo, hi = round(float(interval[0]) * fps), round(float(interval[1]) * fps)
        on[max(lo, 0):max(hi, 0)] = True
    return on


def fms_clip_labels(intervals: Sequence[Sequence[float]], num_frames: int, fps: float, clip_length: int,
                    stride: int, threshold: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Per-clip FMs ground truth as seed 001 annotated it: a clip is an FMs clip when more than ``threshold`` of its
    frames show FMs (seed 001: 9.6 s clips, FMs proportion > 0.5).

    Arguments:
        intervals: the recording's ``fms_intervals`` (seconds).
        num_frames, fps: its length and frame rate.
        clip_length, stride: clips start at 0, stride, ... (every clip that fits).

    Returns:
        (clips,) int labels (1 = FMs) and (clips,) float FMs proportions.
    """
    if int(clip_length) < 1 or int(stride) < 1:
        raise ConfigError(f"clip_length and stride must be positive, got {clip_length!r} and {stride!r}")
    if int(num_frames) < int(clip_length):
        raise DataError(f"a recording of {num_frames} frames is shorter than one clip of {clip_length}")
    on = fms_frames(intervals, num_frames, fps).astype(np.float64)
    starts = np.arange(0, int(num_frames) - int(clip_length) + 1, int(stride))
    csum = np.concatenate([[0.0], np.cumsum(on)])
    proportion = (csum[starts + int(clip_length)] - csum[starts]) / int(clip_length)
    return (proportion > threshold).astype(np.int64), proportion
