"""Skeleton sequence → CP risk: an ensemble's predictions turned into the clinical result.

    from infantjax.pipelines.cp import predict_risk
    result = predict_risk(ensemble, sequence)     # RiskResult: risk, class, certainty colour, CAM

:meth:`infantjax.ensemble.Ensemble.predict` gives every instance's P(CP) and CAM scores per window;
:func:`infantjax.clinical.assess_prediction` aggregates them (seed 002: median over instances, then over windows;
certainty colour by the share of instances predicting CP). A recording of another skeleton is mapped first with
:func:`infantjax.skeleton.to_model_skeleton` (re-exported here).
"""

from __future__ import annotations

from typing import Literal

from infantjax.clinical.risk import RiskResult, assess_prediction
from infantjax.ensemble import Ensemble
from infantjax.sequence import Cohort, SkeletonSequence
from infantjax.skeleton import MODEL_SKELETON, to_model_skeleton  # re-exported: defined with the skeletons

__all__ = ["MODEL_SKELETON", "predict_cohort", "predict_risk", "to_model_skeleton"]

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
