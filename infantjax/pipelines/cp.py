"""Skeleton sequence → CP risk: an ensemble's predictions turned into the clinical result.

    from infantjax.pipelines.cp import predict_risk
    result = predict_risk(ensemble, sequence)     # RiskResult: risk, class, certainty colour, CAM

:meth:`infantjax.ensemble.Ensemble.predict` gives every instance's P(CP) and CAM scores per window;
:func:`infantjax.clinical.assess_prediction` aggregates them (seed 002: median over instances, then over windows;
certainty colour by the share of instances predicting CP).
"""

from __future__ import annotations

import pathlib
from typing import Literal

import numpy as np

from infantjax.clinical.risk import RiskResult, assess_prediction
from infantjax.ensemble import Ensemble
from infantjax.sequence import Cohort, SkeletonSequence

__all__ = ["MODEL_SKELETON", "predict_cohort", "predict_risk", "to_model_skeleton"]

#: The keypoints every CP ensemble reads.
MODEL_SKELETON = "in-motion-19"


def predict_risk(ensemble: Ensemble, sequence: SkeletonSequence, *, threshold: float | None = None,
                 certainty: Literal["paper", "interquartile"] = "paper", mesh=None,
                 window_rotation: Literal["reference", "corrected"] | None = None) -> RiskResult:
    """CP risk of one recording.

    Arguments:
        ensemble: a trained or loaded :class:`~infantjax.ensemble.Ensemble`.
        sequence: an In-Motion 19 :class:`SkeletonSequence` at least one window long (5 s).
        threshold: decision threshold (default the ensemble's).
        certainty: ``"paper"`` colours or the reference's ``"interquartile"`` rule.
        mesh: optional ``("instance", "data")`` mesh (default all devices).
        window_rotation: score with this window rotation instead of the ensemble's (``"corrected"`` for a
            head-down or sideways recording: ``RiskResult.warnings`` says when; see ``Ensemble.predict``).

    Raises:
        SkeletonMismatchError: not In-Motion 19.  DataError: all keypoints missing or shorter than a window.
    """
    return assess_prediction(ensemble.predict(sequence, mesh=mesh, window_rotation=window_rotation), threshold,
                             certainty=certainty)


def predict_cohort(ensemble: Ensemble, cohort: Cohort, **kwargs) -> list[RiskResult]:
    """:func:`predict_risk` for every recording of a cohort."""
    return [predict_risk(ensemble, s, **kwargs) for s in cohort.sequences]


def to_model_skeleton(seq: SkeletonSequence, how: str, path: str | pathlib.Path):
    """The recording on the ensemble's In-Motion 19 keypoints, and a warning naming the joints the mapping could
    not fill (or None).

    ``how`` is ``"none"`` (the file must already be In-Motion 19), ``"exact"`` (same-named keypoints; thorax and
    pelvis derived from shoulders and hips) or ``"approximate"`` (also stand-ins such as hand for wrist,
    :func:`infantjax.skeleton.mapping`).
    """
    from infantjax.errors import SkeletonMismatchError

    target = MODEL_SKELETON
    if seq.skeleton.name == target:
        return seq, None
    if how == "none":
        raise SkeletonMismatchError(
            f"{path}: keypoints of {seq.skeleton.name!r}, but the ensemble needs {target!r}; add --map-skeleton "
            "approximate (or exact) to map them, with the joints the file lacks treated as missing")
    mapped = seq.map_to(target, approximate=how == "approximate")
    never = [name for j, name in enumerate(mapped.skeleton.keypoints) if np.isnan(mapped.coords[:, j]).all()]
    if len(never) == mapped.num_keypoints:
        raise SkeletonMismatchError(f"{path}: none of the {target} joints can be mapped from {seq.skeleton.name!r}")
    if not never:
        return mapped, None
    return mapped, (f"mapped from {seq.skeleton.name} ({how}): {len(never)} of {mapped.num_keypoints} joints are "
                    f"missing and reach the model at the trunk centre ({', '.join(never)}); the risk is less "
                    "reliable than with In-Motion 19 keypoints")
