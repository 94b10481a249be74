"""CP risk, classification and certainty from the (windows × instances) predictions of an ensemble.

Seed 002 (Paper III, "Group of artificial experts and uncertainty of decision"; thesis Fig. 3.11):

* the CP risk of a 5-second window is the **median over the instances** of their P(CP);
* the CP risk of the video is the **median over its windows** of the window risks;
* the infant is classified as CP when the risk reaches the decision threshold (``risk >= threshold``, the
  reference's rule, gcn_reference A.10; the same rule as :mod:`infantjax.metrics`);
* certainty is colour coded by the share of instances that predict CP: green (0–17 of 70, < 25 %), yellow
  (18–35, ≤ 50 %), orange (36–52, > 50 %), red (53–70, > 75 %). Green and yellow are certain and uncertain
  "no CP", orange and red uncertain and certain "CP". Per window an instance predicts CP when its window prediction
  reaches the threshold; per video when its own video risk (median over windows of its predictions) does.

The public reference code implements instead a binary inter-quartile rule (A.10): certain when positive and the
25th percentile of the instance risks is above the threshold, or negative and the 75th percentile below it. It is
available as ``certainty="interquartile"`` (certain → red/green, uncertain → orange/yellow).

With a tracking-quality verdict (:func:`infantjax.clinical.assess_tracking`, ``quality=``) the windows whose
keypoints are unreliable are left out of the risk, a recording whose tracking is doubtful is never shown as
certain (green becomes yellow, red orange), and one whose tracking is unreliable is **withheld**: its class
reads "cannot be assessed" and its colour is grey (the risk of its usable windows, or of all, is kept for
research only).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
from jaxtyping import Float

from infantjax.clinical.quality import TrackingQuality, assess_tracking, window_spans
from infantjax.errors import ConfigError, DataError
from infantjax.io import files
from infantjax.sequence import SkeletonSequence

__all__ = [
    "CERTAINTY_RULES",
    "COLOURS",
    "WITHHELD_COLOUR",
    "WITHHELD_LABEL",
    "RiskResult",
    "assess",
    "assess_prediction",
    "colour_from_count",
    "colour_from_share",
    "interquartile_colour",
    "prediction_quality",
    "write_json",
]

#: Certainty colours from certain "no CP" to certain "CP" (seed 002).
COLOURS = ("green", "yellow", "orange", "red")
#: The colour of a withheld result (tracking unreliable: no decision shown).
WITHHELD_COLOUR = "grey"
#: The class of a withheld result.
WITHHELD_LABEL = "cannot be assessed"
CERTAINTY_RULES = ("paper", "interquartile")
#: What a doubtful tracking makes of a certain colour: never shown as certain.
_UNCERTAIN = {"green": "yellow", "red": "orange"}


def colour_from_count(n_cp: int, n_instances: int) -> str:
    """The paper's colour for ``n_cp`` of ``n_instances`` instances predicting CP.

    Exact boundaries in integers (no float rounding): green if share < 25 %, yellow if ≤ 50 %, orange if ≤ 75 %,
    red if > 75 %. For 70 instances: green 0–17, yellow 18–35, orange 36–52, red 53–70 (seed 002, Paper III).
    """
    n_cp, n_instances = int(n_cp), int(n_instances)
    if n_instances < 1 or not 0 <= n_cp <= n_instances:
        raise DataError(f"colour_from_count: need 0 <= n_cp <= n_instances, n_instances >= 1; got {n_cp}, "
                        f"{n_instances}")
    if 4 * n_cp < n_instances:
        return "green"
    if 2 * n_cp <= n_instances:
        return "yellow"
    if 4 * n_cp <= 3 * n_instances:
        return "orange"
    return "red"


def colour_from_share(share: float) -> str:
    """The paper's colour for a share (0–1) of instances predicting CP (see :func:`colour_from_count`)."""
    share = float(share)
    if not 0.0 <= share <= 1.0:
        raise DataError(f"colour_from_share: share must be in [0, 1], got {share}")
    if share < 0.25:
        return "green"
    if share <= 0.5:
        return "yellow"
    if share <= 0.75:
        return "orange"
    return "red"


def interquartile_colour(instance_risks, risk: float, threshold: float) -> str:
    """The reference code's binary certainty (gcn_reference A.10) mapped onto the colours.

    Certain CP (red) if the risk reaches the threshold and the 25th percentile of the instance risks is above it;
    certain no CP (green) if the risk is below the threshold and the 75th percentile is below it; otherwise orange
    (CP) or yellow (no CP).
    """
    r = np.asarray(instance_risks, dtype=np.float64)
    q25, q75 = np.percentile(r, [25, 75])
    if risk >= threshold:
        return "red" if q25 > threshold else "orange"
    return "green" if q75 < threshold else "yellow"


@dataclasses.dataclass(frozen=True, eq=False)
class RiskResult:
    """One video's CP risk with its certainty and explanations.

    Attributes:
        risk: the video's CP risk (median over windows of the per-window medians over instances).
        cp: the classification, ``risk >= threshold``.
        colour: certainty colour of the video (green/yellow/orange/red).
        threshold: the decision threshold used.
        certainty: ``"paper"`` or ``"interquartile"``.
        predictions: (W, I) P(CP) of every window (rows) and instance (columns).
        window_starts: (W,) first frame of each window (at the model frame rate).
        window_risk: (W,) median over instances per window.
        window_colour: (W,) certainty colour per window.
        instance_risk: (I,) per-instance video risk (median over windows).
        share_cp: share of instances whose video risk reaches the threshold.
        cam: (J,) video-level class activation map toward CP (median over windows of the per-window CAM), or
            None.
        window_cam: (W, J) per-window CAM toward CP (median over instances), or None.
        instance_names: (I,) names of the instances (``spec<k>/fold<f>``).
        metadata: free-form information (source file, fps, ...).
        warnings: what the prediction noticed about the recording that may make the risk wrong (e.g. a head-down
            or sideways spine under the reference window rotation), each with what to do; shown by the CLI and
            the report.
        quality: the tracking-quality verdict the risk was gated with
            (:func:`infantjax.clinical.assess_tracking`), or None (not gated). When it withholds,
            :attr:`label` is "cannot be assessed" and :attr:`colour` grey; ``risk``, ``cp`` and
            ``instance_risk`` are then for research only. Otherwise they are computed from the windows it did
            not find unreliable.
        no_cp_cam, no_cp_window_cam: the same two maps toward no CP (the reference's computation with the two
            classes swapped), what explains a no-CP decision (:func:`infantjax.explain.decision_cam`), or
            None.
    """

    risk: float
    cp: bool
    colour: str
    threshold: float
    certainty: str
    predictions: np.ndarray
    window_starts: np.ndarray
    window_risk: np.ndarray
    window_colour: tuple[str, ...]
    instance_risk: np.ndarray
    share_cp: float
    cam: np.ndarray | None = None
    window_cam: np.ndarray | None = None
    instance_names: tuple[str, ...] = ()
    metadata: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    quality: TrackingQuality | None = None
    no_cp_cam: np.ndarray | None = None
    no_cp_window_cam: np.ndarray | None = None

    @property
    def withheld(self) -> bool:
        """The tracking-quality gate withheld the decision (the keypoints cannot be trusted)."""
        return self.quality is not None and self.quality.withheld

    @property
    def label(self) -> str:
        if self.withheld:
            return WITHHELD_LABEL
        return "CP" if self.cp else "no CP"

    @property
    def certain(self) -> bool:
        """Red or green: the instances agree (seed 002) and the tracking was not doubtful."""
        return self.colour in ("red", "green")

    @property
    def used_windows(self) -> np.ndarray:
        """(W,) bool: the windows the risk is computed from (all, unless the gate found some unreliable)."""
        n = int(self.predictions.shape[0])
        if self.quality is None:
            return np.ones(n, dtype=bool)
        usable = self.quality.usable
        return usable if usable.any() else np.ones(n, dtype=bool)

    def with_threshold(self, threshold: float, certainty: str | None = None) -> RiskResult:
        """The same predictions assessed at another decision threshold."""
        return assess(self.predictions, threshold, certainty=certainty or self.certainty,
                      window_starts=self.window_starts, cam=self.cam, window_cam=self.window_cam,
                      instance_names=self.instance_names, metadata=self.metadata, warnings=self.warnings,
                      quality=self.quality, no_cp_cam=self.no_cp_cam, no_cp_window_cam=self.no_cp_window_cam)

    def summary(self) -> str:
        if self.withheld:
            return (f"CP risk {WITHHELD_LABEL}: {self.quality.reasons[0]} (risk {self.risk:.3f} kept for "
                    "research only)")
        text = f"CP risk {self.risk:.3f} → {self.label} ({self.colour}; threshold {self.threshold:g})"
        if self.quality is not None and self.quality.state == "doubtful":
            text += "; tracking doubtful"
        return text

    def to_dict(self) -> dict:
        """A JSON-ready record of everything in the result."""
        def arr(x):
            return None if x is None else np.asarray(x).tolist()
        return {
            "risk": float(self.risk), "cp": bool(self.cp), "classification": self.label, "colour": self.colour,
            "certain": self.certain, "threshold": float(self.threshold), "certainty_rule": self.certainty,
            "share_cp": float(self.share_cp), "num_windows": int(self.predictions.shape[0]),
            "num_instances": int(self.predictions.shape[1]), "window_starts": arr(self.window_starts),
            "window_risk": arr(self.window_risk), "window_colour": list(self.window_colour),
            "instance_risk": arr(self.instance_risk), "instance_names": list(self.instance_names),
            "predictions": arr(self.predictions), "cam": arr(self.cam), "window_cam": arr(self.window_cam),
            "no_cp_cam": arr(self.no_cp_cam), "no_cp_window_cam": arr(self.no_cp_window_cam),
            "metadata": dict(self.metadata), "warnings": list(self.warnings), "withheld": self.withheld,
            "quality": None if self.quality is None else self.quality.to_json(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RiskResult:
        def opt(key):
            return None if data.get(key) is None else np.asarray(data[key])

        return assess(np.asarray(data["predictions"], np.float64), float(data["threshold"]),
                      certainty=data.get("certainty_rule", "paper"),
                      window_starts=np.asarray(data["window_starts"]),
                      cam=opt("cam"), window_cam=opt("window_cam"),
                      instance_names=tuple(data.get("instance_names", ())), metadata=data.get("metadata", {}),
                      warnings=tuple(data.get("warnings", ())),
                      quality=None if data.get("quality") is None
                      else TrackingQuality.from_json(data["quality"]),
                      no_cp_cam=opt("no_cp_cam"), no_cp_window_cam=opt("no_cp_window_cam"))

    def save_json(self, path: str | os.PathLike) -> None:
        """Write :meth:`to_dict` as JSON (atomic: temporary file + rename)."""
        write_json(path, self.to_dict())


def write_json(path: str | os.PathLike, record: Any) -> None:
    """Write a JSON record atomically (:func:`infantjax.io.files.write_json`), creating missing folders.

    Keys keep the record's order (a result reads risk, class and colour first); NaN is written as ``NaN``, which
    Python reads back (the AUC of a fold with one class is NaN).
    """
    files.write_json(path, record, sort_keys=False, allow_nan=True, parents=True)


def assess(predictions: Float[np.ndarray, "W I"], threshold: float = 0.5, *,
           certainty: Literal["paper", "interquartile"] = "paper", window_starts: Sequence[int] | None = None,
           cam: np.ndarray | None = None, window_cam: np.ndarray | None = None,
           instance_names: Sequence[str] = (), metadata: Mapping[str, Any] | None = None,
           warnings: Sequence[str] = (), quality: TrackingQuality | None = None,
           no_cp_cam: np.ndarray | None = None, no_cp_window_cam: np.ndarray | None = None) -> RiskResult:
    """Risk, class and certainty of one video from its (windows × instances) predictions.

    Arguments:
        predictions: (W, I) P(CP) per window and instance.
        threshold: decision threshold (CP when ``risk >= threshold``). The reference code uses 0.5; Paper III's
            operating point on its external test set was 0.35 (eTable 5).
        certainty: ``"paper"`` (colour by the share of instances predicting CP) or ``"interquartile"``.
        window_starts, cam, window_cam, instance_names, metadata, warnings, no_cp_cam, no_cp_window_cam:
            carried into the result.
        quality: the tracking-quality verdict (one state per window,
            :func:`infantjax.clinical.assess_tracking`): unreliable windows are left out of the risk, a
            doubtful recording is never certain, an unreliable one is withheld (see the module docstring).
            None: every window counts.

    Returns:
        a :class:`RiskResult`.
    """
    p = np.asarray(predictions, dtype=np.float64)
    if p.ndim != 2 or p.shape[0] < 1 or p.shape[1] < 1:
        raise DataError(f"predictions must be (windows, instances) with at least one of each, got shape {p.shape}")
    if not np.isfinite(p).all() or (p < 0).any() or (p > 1).any():
        raise DataError("predictions must be probabilities in [0, 1] without NaN")
    try:
        threshold = float(threshold)
    except (TypeError, ValueError):
        raise ConfigError(f"threshold must be a number in [0, 1], got {threshold!r}") from None
    if not 0.0 <= threshold <= 1.0:
        raise ConfigError(f"threshold must be in [0, 1], got {threshold}")
    if certainty not in CERTAINTY_RULES:
        raise ConfigError(f"certainty must be one of {CERTAINTY_RULES}, got {certainty!r}")
    n_windows, n_instances = p.shape
    if quality is not None and not isinstance(quality, TrackingQuality):
        raise DataError(f"quality must be a TrackingQuality (infantjax.clinical.assess_tracking), got "
                        f"{type(quality).__name__}")
    if quality is not None and len(quality.window_states) != n_windows:
        raise DataError(f"the tracking-quality verdict has {len(quality.window_states)} window states for "
                        f"{n_windows} windows; judge the windows the predictions are of")
    used = np.ones(n_windows, dtype=bool) if quality is None else quality.usable
    if not used.any():  # every window unreliable: withheld; the risk of all of them is kept for research
        used = np.ones(n_windows, dtype=bool)
    window_risk = np.median(p, axis=1)
    risk = float(np.median(window_risk[used]))
    cp = risk >= threshold
    instance_risk = np.median(p[used], axis=0)
    n_cp = int((instance_risk >= threshold).sum())
    if certainty == "paper":
        colour = colour_from_count(n_cp, n_instances)
        window_colour = tuple(colour_from_count(int(k), n_instances) for k in (p >= threshold).sum(axis=1))
    else:
        colour = interquartile_colour(instance_risk, risk, threshold)
        window_colour = tuple(interquartile_colour(row, float(r), threshold) for row, r in zip(p, window_risk))
    if quality is not None and quality.withheld:
        colour = WITHHELD_COLOUR
    elif quality is not None and quality.state == "doubtful":
        colour = _UNCERTAIN.get(colour, colour)
    starts = np.arange(n_windows) if window_starts is None else np.asarray(window_starts)
    if starts.shape != (n_windows,):
        raise DataError(f"window_starts must have one entry per window ({n_windows}), got {starts.shape}")
    names = tuple(instance_names) if instance_names else tuple(f"instance{i}" for i in range(n_instances))
    return RiskResult(risk=risk, cp=bool(cp), colour=colour, threshold=threshold, certainty=certainty,
                      predictions=p, window_starts=starts, window_risk=window_risk, window_colour=window_colour,
                      instance_risk=instance_risk, share_cp=n_cp / n_instances,
                      cam=None if cam is None else np.asarray(cam),
                      window_cam=None if window_cam is None else np.asarray(window_cam),
                      instance_names=names, metadata=dict(metadata or {}), warnings=tuple(warnings),
                      quality=quality, no_cp_cam=None if no_cp_cam is None else np.asarray(no_cp_cam),
                      no_cp_window_cam=None if no_cp_window_cam is None else np.asarray(no_cp_window_cam))


def assess_prediction(prediction, threshold: float | None = None, *,
                      certainty: Literal["paper", "interquartile"] = "paper",
                      quality: TrackingQuality | SkeletonSequence | None = None) -> RiskResult:
    """The clinical result of an ensemble's prediction for one recording
    (:meth:`infantjax.ensemble.Ensemble.predict`): risk, class and certainty colour (:func:`assess`) with the
    ensemble CAM (median over instances per window, then over windows;
    :func:`infantjax.explain.aggregate_cam`; toward CP, and toward no CP when the prediction carries those
    scores), gated by the tracking quality when given.

    Arguments:
        prediction: an :class:`~infantjax.ensemble.EnsemblePrediction`.
        threshold: decision threshold (default the ensemble's).
        certainty: ``"paper"`` colours or the reference's ``"interquartile"`` rule.
        quality: the keypoints the prediction was made from (a :class:`SkeletonSequence`, judged here with
            :func:`prediction_quality`), their verdict (a :class:`TrackingQuality`), or None (not gated).
    """
    from infantjax.explain.cam import aggregate_cam

    if isinstance(quality, SkeletonSequence):
        quality = prediction_quality(prediction, quality)
    window_cam, cam = aggregate_cam(prediction.cam_scores)
    no_cp = getattr(prediction, "no_cp_cam_scores", None)
    no_cp_window, no_cp_video = (None, None) if no_cp is None else aggregate_cam(no_cp)
    return assess(prediction.probabilities, prediction.threshold if threshold is None else threshold,
                  certainty=certainty, window_starts=prediction.window_starts, cam=cam, window_cam=window_cam,
                  instance_names=prediction.instance_names, metadata=prediction.metadata,
                  warnings=getattr(prediction, "warnings", ()), quality=quality, no_cp_cam=no_cp_video,
                  no_cp_window_cam=no_cp_window)


def prediction_quality(prediction, keypoints: SkeletonSequence, **kwargs) -> TrackingQuality:
    """:func:`~infantjax.clinical.assess_tracking` of the keypoints an ensemble's prediction was made from,
    over the prediction's windows (their starts at the model's frame rate and length, from its metadata),
    under the window rotation it was scored with.

    Arguments:
        prediction: an :class:`~infantjax.ensemble.EnsemblePrediction` (or a :class:`RiskResult`).
        keypoints: the In-Motion 19 recording the ensemble scored (as given to ``Ensemble.predict``).
        kwargs: passed on to ``assess_tracking`` (``thresholds=``).

    Raises:
        DataError: a prediction that does not say how long its windows are (``metadata["window"]``).
    """
    meta = dict(prediction.metadata or {})
    length = meta.get("window")
    if not isinstance(length, (int, float)) or length <= 0:
        raise DataError("the prediction does not say how long its windows are (metadata['window'], written "
                        "by Ensemble.predict); predict again with this version of infantjax")
    spans = window_spans(prediction.window_starts, int(length), float(meta.get("model_fps", 30.0)))
    kwargs.setdefault("window_rotation", meta.get("window_rotation"))
    kwargs.setdefault("preprocess_version", meta.get("preprocess_version", "v1"))
    kwargs.setdefault("steadied", bool((meta.get("camera") or {}).get("steadied", False)))
    return assess_tracking(keypoints, spans, **kwargs)
