"""Class activation maps per joint, as the reference computes them (gcn_reference A.10, EfficientGCN-style).

For one instance and one window the model's CAM (T', V, classes) comes from
:func:`infantjax.models.gcn.class_activation_map`; :func:`~infantjax.models.gcn.cam.joint_scores` reduces it to a
score per joint. The reference takes the median over time per joint, the
CP-class map minus the no-CP-class map, divides by the largest absolute value over the joints and clamps at 0.
Over an ensemble: the median over instances per window, then the median over windows for the video.

That score explains a CP decision only: for an infant without CP the CP map rarely exceeds the no-CP map
anywhere and every joint scores 0. The ensemble therefore also keeps the **no-CP class's** score — the same
computation with the two classes swapped, on the same scale (the negative part of the signed difference) — and
:func:`decision_cam` picks the map of the class the infant was classified as (``docs/explain.md``).
"""

from __future__ import annotations

import dataclasses

import numpy as np
from jaxtyping import Float

from infantjax.errors import DataError
from infantjax.explain.colours import sequential_colour
from infantjax.models.gcn.cam import joint_scores

__all__ = ["DecisionCam", "aggregate_cam", "cam_colour", "decision_cam", "joint_scores"]


def aggregate_cam(scores: Float[np.ndarray, "I W V"]) -> tuple[np.ndarray, np.ndarray]:
    """Ensemble CAM: the median over instances per window, then the median over windows (reference order).

    Arguments:
        scores: (I, W, V) per-instance, per-window joint scores (:func:`joint_scores`).

    Returns:
        (window CAM (W, V), video CAM (V,)).
    """
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 3:
        raise DataError(f"CAM scores must be (instances, windows, joints), got shape {s.shape}")
    window = np.median(s, axis=0)
    return window, np.median(window, axis=0)


def cam_colour(score) -> np.ndarray:
    """RGB colour (in [0, 1], shape ``(..., 3)``) of a CAM score: score^¼ on the sequential scale
    (:mod:`infantjax.explain.colours`: light blue 0, purple 1). The ¼ power is the reference's: most joints of
    a window score near 0 and one scores 1, so the power spreads the small scores over the scale (0.01 is a
    third of the way up, 0.1 more than half)."""
    return sequential_colour(np.clip(np.asarray(score, dtype=np.float64), 0.0, 1.0) ** 0.25)


@dataclasses.dataclass(frozen=True)
class DecisionCam:
    """The class activation map that explains one result's class.

    Attributes:
        toward: ``"CP"`` or ``"no CP"``: the class whose map this is.
        cam: (J,) the video's map (median over windows), or None (the result carries none).
        window_cam: (W, J) the map per window (median over instances), or None.
        note: why the map is not the one of the result's class (an older result that carries only the CP
            map), or None.
    """

    toward: str
    cam: np.ndarray | None
    window_cam: np.ndarray | None
    note: str | None = None


def decision_cam(result) -> DecisionCam:
    """The CAM of the class the result's risk falls on: toward CP for a CP result (the reference's map),
    toward no CP for a no-CP result (the no-CP class's map, ``result.no_cp_cam``). A withheld result is
    explained by the class of its research-only risk. A no-CP result that carries only the CP map (assessed by
    an older version, or by :func:`infantjax.clinical.assess` without ``no_cp_cam``) gives that map with a
    note saying so.

    Arguments:
        result: a :class:`~infantjax.clinical.RiskResult`.
    """
    if result.cp:
        return DecisionCam("CP", result.cam, result.window_cam)
    if getattr(result, "no_cp_cam", None) is not None:
        return DecisionCam("no CP", result.no_cp_cam, getattr(result, "no_cp_window_cam", None))
    note = None if result.cam is None else (
        "This result carries only the CP class's map (it was assessed without the no-CP class's scores): it "
        "shows where the model saw CP-like movement, not what supports no CP.")
    return DecisionCam("CP", result.cam, result.window_cam, note)
