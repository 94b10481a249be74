"""Skeleton sequence → CP risk: an ensemble's predictions turned into the clinical result.

    from infantjax.pipelines.cp import predict_risk
    result = predict_risk(ensemble, sequence)     # RiskResult: risk, class, certainty colour, CAM

:meth:`infantjax.ensemble.Ensemble.predict` gives every instance's P(CP) and CAM scores per window;
:func:`infantjax.clinical.assess_prediction` aggregates them (seed 002: median over instances, then over windows;
certainty colour by the share of instances predicting CP). A recording of another skeleton is mapped first with
:func:`to_model_skeleton` (:func:`infantjax.skeleton.to_model_skeleton`, after the left/right swaps a per-frame
detector made are undone).
"""

from __future__ import annotations

from typing import Literal

from infantjax.clinical.risk import RiskResult, assess_prediction
from infantjax.ensemble import Ensemble
from infantjax.sequence import Cohort, SkeletonSequence
from infantjax.skeleton import MODEL_SKELETON
from infantjax.skeleton import to_model_skeleton as _map_skeleton

__all__ = ["MODEL_SKELETON", "predict_cohort", "predict_risk", "to_model_skeleton"]


def to_model_skeleton(seq: SkeletonSequence, how: str, path, *, target: str = MODEL_SKELETON,
                      sides: Literal["consistent", "as-detected"] = "consistent"):
    """A recording on the CP ensemble's In-Motion 19 keypoints, and a warning naming the joints the mapping could
    not fill (or None): :func:`infantjax.skeleton.to_model_skeleton`, after — for a recording of another skeleton
    (the MPII pose models', a DeepLabCut or OpenPose file) — the frames whose left and right joints the detector
    swapped are swapped back (:func:`infantjax.preprocess.sides.consistent_sides`; ``sides="as-detected"`` keeps
    them). A recording already on ``target`` is returned as it is.
    """
    from infantjax.preprocess.sides import consistent_sides
    from infantjax.skeleton import get

    if seq.skeleton.name != get(target).name and how != "none" and sides == "consistent" \
            and seq.skeleton.flip_pairs and not seq.metadata.get("tracking", {}).get("sides") == "consistent":
        coords, conf, swapped = consistent_sides(seq.coords, seq.skeleton, seq.confidence)
        if swapped.any():
            seq = SkeletonSequence(coords, fps=seq.fps, skeleton=seq.skeleton, confidence=conf,
                                   metadata={**seq.metadata, "sides_swapped": float(swapped.mean())},
                                   times=seq.times)
    return _map_skeleton(seq, how, path, target=target)

def predict_risk(ensemble: Ensemble, sequence: SkeletonSequence, *, threshold: float | None = None,
                 certainty: Literal["paper", "interquartile"] = "paper", mesh=None,
                 window_rotation: Literal["auto", "reference", "corrected"] | None = "auto", gate=True,
                 fix: str = "window_rotation='corrected'",
                 camera: Literal["auto", "steady", "reference"] | None = "auto",
                 mirror: Literal["average", "reference"] | None = "reference") -> RiskResult:
    """CP risk of one recording, gated by the tracking quality of its keypoints.

    Arguments:
        ensemble: a trained or loaded :class:`~infantjax.ensemble.Ensemble`.
        sequence: an In-Motion 19 :class:`SkeletonSequence` at least one window long (5 s).
        threshold: decision threshold (default the ensemble's).
        certainty: ``"paper"`` colours or the reference's ``"interquartile"`` rule.
        mesh: optional ``("instance", "data")`` mesh (default all devices).
        window_rotation: ``"auto"`` (default): the ensemble's window rotation for an upright recording, the
            corrected one for a head-down or sideways recording (``RiskResult.warnings`` says so); ``"reference"``
            or ``"corrected"`` always; None: the ensemble's always (see ``Ensemble.predict``).
        gate: judge the keypoints first (:func:`infantjax.clinical.assess_tracking`): unreliable windows are
            left out of the risk and a recording whose tracking is unreliable is withheld
            (``RiskResult.quality``).
            False: every window counts, as before the gate (e.g. to compare with published figures). A
            :class:`~infantjax.clinical.quality.Thresholds` gates with those thresholds (a lab's own,
            :func:`infantjax.pipelines.labelled.calibrate_gate`).
        fix: how the orientation warning names the corrected rotation (a command passes its own flag).
        camera: ``"auto"`` (default): keypoints that say a hand-held camera shook are scored with the shake taken
            out (``RiskResult.warnings`` says so, and the gate makes the shaken windows doubtful);
            ``"steady"``: always; ``"reference"`` or None: scored as given (see ``Ensemble.predict``).
        mirror: ``"average"``: every window scored as given and as its mirror image, the two averaged, so that a
            mirrored video gets the same risk (twice the scoring work); ``"reference"`` (default) or None: as
            given (see ``Ensemble.predict``).

    Raises:
        SkeletonMismatchError: not In-Motion 19.  DataError: all keypoints missing or shorter than a window.
    """
    from infantjax.clinical import prediction_quality
    from infantjax.clinical.quality import Thresholds

    prediction = ensemble.predict(sequence, mesh=mesh, window_rotation=window_rotation, fix=fix,
                                  camera=None if camera == "reference" else camera,
                                  mirror=None if mirror == "reference" else mirror)
    if isinstance(gate, Thresholds):
        quality = prediction_quality(prediction, sequence, thresholds=gate)
    else:
        quality = sequence if gate else None
    return assess_prediction(prediction, threshold, certainty=certainty, quality=quality)


def predict_cohort(ensemble: Ensemble, cohort: Cohort, **kwargs) -> list[RiskResult]:
    """:func:`predict_risk` for every recording of a cohort."""
    return [predict_risk(ensemble, s, **kwargs) for s in cohort.sequences]
