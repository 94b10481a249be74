"""Pose sequences → normal / risk, FMs clips and FMs frequency with MAM (seed 001, Gao et al. 2023), end to end.

3D keypoints (T, J, 3) at 25 fps (2D accepted) → :func:`~infantjax.models.mam.motion_features` (normalised
distance matrices by default) → clips → MAM (:mod:`infantjax.models.mam`).

* :class:`MamInputs`, :func:`cohort_inputs`: a cohort's motion features, risk labels, characteristics and (for a
  synthetic cohort) per-clip FMs ground truth; :func:`reference_clips`: the Ref branch's pretraining clips;
* :func:`synthetic_mam`: synthetic main and pretraining cohorts (``infantjax.synth``, 25 fps, 3D keypoints);
* :class:`MamModel`: the fold instances of the cross-validation; ``save``, ``load``, ``predict`` (the mean over
  instances of the risk probability and of the per-clip FMs probabilities);
* :func:`train_mam`: the protocol (:func:`infantjax.protocols.mam.run_protocol`) → a model and its held-out results.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np

from infantjax.errors import DataError
from infantjax.models.mam import MamSpec, characteristics, motion_features
from infantjax.sequence import Cohort
from infantjax.infer.mam import MamModel, MamPrediction, clip_starts

import infantjax.train.mam  # noqa: E402,F401 - binds the family's training config and task (model.config)

if TYPE_CHECKING:
    from infantjax.protocols.mam import MamResult
    from infantjax.train.mam import MamConfig

__all__ = ["MamInputs", "MamModel", "MamPrediction", "cohort_inputs", "reference_clips", "synthetic_mam", "train_mam"]

RISK_CLASSES = ("absent", "sporadic")  # seed 001: risk = sporadic or absent FMs; normal = intermittent/continual


@dataclasses.dataclass
class MamInputs:
    """A cohort prepared for MAM.

    Attributes:
        features: per recording, (T, F) motion features.
        labels: (N,) 1 = risk, 0 = normal.
        subjects: (N,) infant ids.
        info: (N, 4) characteristics, or None when the cohort lacks them (and they were not required).
        fms_truth: per recording, the FMs ground truth of its clips, or None (no ``fms_intervals`` metadata).
        fps: per recording, its frame rate.
    """

    features: list[np.ndarray]
    labels: np.ndarray
    subjects: np.ndarray
    info: np.ndarray | None
    fms_truth: list[np.ndarray] | None
    fps: np.ndarray


def _keypoints(cohort: Cohort, i: int) -> np.ndarray:
    column = cohort.metadata.get("keypoints_3d")
    if column is not None:  # the synthetic infant's exact 3D keypoints (seed 001's VideoPose3D output)
        return np.asarray(column[i], np.float32)
    return np.asarray(cohort.sequences[i].coords, np.float32)


def risk_labels(cohort: Cohort) -> np.ndarray:
    """1 = risk (sporadic or absent FMs), 0 = normal. Cohort labels that are FMs classes (0 absent … 3 continual:
    labels above 1, or the synthetic ``"gma"`` task) are mapped; other 0/1 labels are taken as risk labels."""
    y = np.asarray(cohort.labels)
    if np.issubdtype(y.dtype, np.floating) and not np.all(y == np.round(y)):
        raise DataError(f"{cohort.name}: MAM needs risk labels (0/1) or FMs classes (0–3), got scores")
    y = y.astype(int)
    if y.min() < 0 or y.max() > 3:
        raise DataError(f"{cohort.name}: labels must be 0/1 (normal/risk) or FMs classes 0–3, got "
                        f"{np.unique(y).tolist()}")
    gma = y.max() > 1 or any(s.metadata.get("task") == "gma" for s in cohort.sequences)
    return (y <= 1).astype(np.int32) if gma else y.astype(np.int32)


def cohort_inputs(cohort: Cohort, spec: MamSpec, *, clip_stride: int, require_info: bool | None = None
                  ) -> MamInputs:
    """Motion features, risk labels, characteristics and per-clip FMs ground truth of a cohort.

    Arguments:
        cohort: recordings (the ``keypoints_3d`` metadata column when present, else the sequences' coordinates),
            labels (:func:`risk_labels`) and the characteristic columns ``sex``, ``gestational_age``,
            ``birth_weight``, ``corrected_age``.
        spec: the model (input kind, joints, clip length).
        clip_stride: stride of the clips the ground truth is cut for.
        require_info: raise when a characteristic is missing (default ``spec.use_info``).

    Raises:
        DataError: wrong joint count or dimension, a recording shorter than a clip, missing characteristics.
    """
    require_info = spec.use_info if require_info is None else require_info
    features, truth, fps = [], [], []
    for i, seq in enumerate(cohort.sequences):
        k = _keypoints(cohort, i)
        if k.ndim != 3 or k.shape[2] != spec.channels:
            raise DataError(f"{cohort.name} recording {i}: keypoints of shape {k.shape}; the model takes "
                            f"{spec.channels}D keypoints of {spec.num_joints} joints")
        if len(k) < spec.clip_length:
            raise DataError(f"{cohort.name} recording {i}: {len(k)} frames, shorter than one clip of "
                            f"{spec.clip_length} ({spec.clip_length / seq.fps:.1f} s); MAM needs longer recordings")
        features.append(motion_features(k, spec.input, num_joints=spec.num_joints))
        fps.append(float(seq.fps))
        intervals = seq.metadata.get("fms_intervals")
        if intervals is not None:
            from infantjax.synth import fms_clip_labels

            truth.append(fms_clip_labels(intervals, len(k), seq.fps, spec.clip_length, clip_stride)[0])
    info = None
    names = ("sex", "gestational_age", "birth_weight", "corrected_age")
    missing = [n for n in names if n not in cohort.metadata]
    if missing and require_info:
        raise DataError(f"{cohort.name}: missing characteristics {missing}; MAM's Info branch needs sex, "
                        "gestational_age, birth_weight and corrected_age columns, or use_info=False")
    if not missing:
        try:
            info = characteristics(*(cohort.metadata[n] for n in names))
        except DataError:
            if require_info:
                raise
    subjects = np.asarray(cohort.subject_ids)
    return MamInputs(features, risk_labels(cohort), subjects, info,
                     truth if len(truth) == len(features) else None, np.asarray(fps))


def reference_clips(inputs: MamInputs, spec: MamSpec, *, stride: int, per_class: int | None = None, seed: int = 0
                    ) -> tuple[np.ndarray, np.ndarray]:
    """The Ref branch's pretraining clips: clips of the pretraining cohort's recordings with their FMs ground truth
    (seed 001's Cohort 3 of annotated FMs / non-FMs clips), at most ``per_class`` of each class.

    Returns:
        (clips (N_r, L, F) float32, labels (N_r,) 1 = FMs).
    """
    if inputs.fms_truth is None:
        raise DataError("reference_clips needs per-clip FMs ground truth (recordings with fms_intervals metadata)")
    L = spec.clip_length
    refs = [(i, s, y) for i, (f, t) in enumerate(zip(inputs.features, inputs.fms_truth))
            for s, y in zip(clip_starts(len(f), L, stride), t)]
    rng = np.random.default_rng(seed)
    keep = []
    for k in (0, 1):
        idx = [j for j, r in enumerate(refs) if r[2] == k]
        if not idx:
            raise DataError(f"reference_clips: no {'FMs' if k else 'non-FMs'} clip in the pretraining cohort")
        if per_class is not None and len(idx) > per_class:
            idx = list(rng.choice(idx, per_class, replace=False))
        keep.extend(idx)
    keep = sorted(keep)
    clips = np.stack([inputs.features[refs[j][0]][refs[j][1]:refs[j][1] + L] for j in keep]).astype(np.float32)
    return clips, np.asarray([refs[j][2] for j in keep], np.int32)


def synthetic_mam(n_infants: int = 60, n_reference: int = 24, *, duration_s: float = 60.0, seed: int = 0,
                  difficulty: str = "default", prevalence: float = 0.3):
    """Synthetic main and pretraining cohorts at 25 fps with exact 3D keypoints (``infantjax.synth``, task
    ``"gma"``: labels are FMs classes; :func:`risk_labels` maps them to normal / risk).

    Returns:
        (main cohort, pretraining cohort); the pretraining cohort uses other infants (seed + 1000).
    """
    from infantjax import synth

    main = synth.cohort("gma", n_infants, seed=seed, difficulty=difficulty, duration_s=duration_s, fps=25.0,
                        prevalence=prevalence, keypoints_3d=True)
    ref = synth.cohort("gma", n_reference, seed=seed + 1000, difficulty=difficulty, duration_s=duration_s,
                       fps=25.0, prevalence=prevalence, keypoints_3d=True)
    return main, ref


# ------------------------------------------------------------------------------------------------------ model
def train_mam(inputs: MamInputs, reference: tuple[np.ndarray, np.ndarray], *, spec: MamSpec,
              config: MamConfig, seed: int = 0, checkpoint_dir=None) -> tuple[MamModel, MamResult]:
    """The cross-validation protocol on prepared inputs → the model (every fold's instance) and its results."""
    from infantjax.protocols.mam import run_protocol

    result = run_protocol(inputs.features, inputs.labels, inputs.subjects, reference[0], reference[1],
                          info=inputs.info if spec.use_info else None, fms_truth=inputs.fms_truth, spec=spec,
                          config=config, seed=seed, checkpoint_dir=checkpoint_dir)
    return MamModel(spec, config, result.fit.variables), result
