"""Pose-estimation metrics: PCKh@τ, mean error (ME), PCKh@Human^0.95, inter-rater spread, RMSD and ICC.

Seed 002 (Paper II, §2.1 and §2.3):

* errors are Euclidean distances between predicted and annotated keypoints **normalised by the head length**
  ``l_i`` of image *i* — for the infant skeleton the distance from head top to upper neck;
* ``PCKh@τ`` is the fraction of keypoints within ``τ · l_i`` (coarse τ = 1.0, 0.5, 0.3; fine τ = 0.2, 0.1);
* ``ME`` is the mean normalised distance (Eq. 2);
* ``PCKh@Human^0.95`` is the fraction of predictions within the 95th percentile ``H_b^0.95`` of the human
  inter-rater spread of keypoint *b* (Eqs. 3–4); :data:`IN_MOTION_H95` holds Table 2's thresholds and
  :func:`inter_rater_spread` computes ``H_b`` (Eq. 1) and ``H_b^0.95`` for other annotator panels;
* ``ICC(C,1)`` (consistency) and ``ICC(A,1)`` (absolute agreement), two-way model (McGraw & Wong 1996), compare
  model ME with inter-rater spread across body parts (Table 3).

Seed 004 reports the **RMSD** in pixels per limb (:func:`rmsd_per_limb`, eq. 1: ``sqrt(sum_i (ŷ_i − y_i)² / n)``
over the n joints of one limb in one frame; joints missing in the annotation or not found by linking are left out
of n) as the median and inter-quartile range over frames (:func:`summarize_rmsd`, Table II); :func:`rmsd` is the
per-keypoint RMSD over frames.

Head segment per skeleton (:data:`HEAD_SEGMENTS`): ``in-motion-19`` and ``mpii-16`` head top – upper neck (Paper II;
keypoint-based, where MPII's own protocol uses 0.6 × the head box diagonal, which keypoints cannot give);
``passmore-18`` crown – chin; ``coco-18`` nose – neck × 1.98 (Paper II, footnote 5: the infant head length was on
average 1.98 times the nose–upper-neck distance). Other sets need explicit ``head_lengths``.

Arrays: predictions and ground truth are (N, J, 2) (or (N, J, D)); NaN in the ground truth excludes that keypoint;
a NaN prediction for an annotated keypoint counts as a miss in PCKh and is excluded from ME/RMSD (reported in
``missing``). Plain NumPy/SciPy; not jitted.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from typing import Any, Literal

import numpy as np
from jaxtyping import ArrayLike, Float
from scipy import stats

from infantjax import skeleton as _skeleton
from infantjax.errors import DataError, SkeletonMismatchError
from infantjax.metrics.classification import as_floats

__all__ = [
    "HEAD_SEGMENTS",
    "box_sizes",
    "IN_MOTION_H",
    "IN_MOTION_H95",
    "ICCResult",
    "head_length",
    "icc",
    "inter_rater_spread",
    "mean_error",
    "normalized_errors",
    "pck",
    "pckh",
    "pckh_human",
    "LIMB_JOINTS",
    "LIMB_NAMES",
    "pose_metrics",
    "rmsd",
    "rmsd_per_limb",
    "summarize_rmsd",
]

# (keypoint a, keypoint b, factor): head length = factor × |a − b|
HEAD_SEGMENTS: dict[str, tuple[str, str, float]] = {
    "in-motion-19": ("head_top", "upper_neck", 1.0),
    "mpii-16": ("head_top", "upper_neck", 1.0),
    "passmore-18": ("head_top", "chin", 1.0),
    "coco-18": ("nose", "neck", 1.98),
}

# Seed 002, Paper II, Table 2: mean inter-rater spread H_b and its 95th percentile H_b^0.95 (head lengths), 10
# annotators × 100 frames, in In-Motion 19 order: head top, nose, right ear, left ear, upper neck, right shoulder,
# right elbow, right wrist, upper chest (thorax), left shoulder, left elbow, left wrist, mid pelvis, right pelvis,
# right knee, right ankle, left pelvis, left knee, left ankle.
IN_MOTION_H = np.array([0.0554, 0.0301, 0.0603, 0.0502, 0.0527, 0.0531, 0.0429, 0.0386, 0.0643, 0.0576, 0.0418,
                        0.0388, 0.0781, 0.0812, 0.0549, 0.0417, 0.0828, 0.0489, 0.0408])
IN_MOTION_H95 = np.array([0.1158, 0.0574, 0.1906, 0.1364, 0.1212, 0.1106, 0.0956, 0.0851, 0.1200, 0.1204, 0.0959,
                          0.0901, 0.1587, 0.1553, 0.1119, 0.0902, 0.1603, 0.1049, 0.0861])

# ---------------------------------------------------------------------------------------------------- helpers
def _pair(pred: ArrayLike, gt: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    p = as_floats(pred, "pred")
    g = as_floats(gt, "gt")
    if g.ndim != 3:
        raise DataError(f"ground truth must be (N, J, D) keypoints, got shape {g.shape}")
    if p.shape != g.shape:
        raise DataError(f"predictions {p.shape} and ground truth {g.shape} must have the same shape")
    if np.isinf(p).any() or np.isinf(g).any():
        raise DataError("keypoints contain inf; mark missing keypoints with NaN")
    return p, g


def head_length(gt: Float[ArrayLike, "N J D"], skeleton: str | _skeleton.Skeleton) -> np.ndarray:
    """Per-image head length (N,) from annotated keypoints (see :data:`HEAD_SEGMENTS`)."""
    skel = _skeleton.get(skeleton)
    if skel.name not in HEAD_SEGMENTS:
        raise SkeletonMismatchError(
            f"no head segment is defined for {skel.name!r} (known: {', '.join(HEAD_SEGMENTS)}); "
            "pass head_lengths explicitly"
        )
    a, b, factor = HEAD_SEGMENTS[skel.name]
    g = as_floats(gt, "gt")
    if g.ndim != 3 or g.shape[1] != skel.num_keypoints:
        raise SkeletonMismatchError(f"keypoints of shape {g.shape} do not match {skel.name!r} "
                                    f"({skel.num_keypoints} keypoints)")
    return factor * np.linalg.norm(g[:, skel.index(a)] - g[:, skel.index(b)], axis=-1)


def _head(gt: np.ndarray, skeleton, head_lengths) -> np.ndarray:
    if head_lengths is None:
        if skeleton is None:
            raise DataError("pass the skeleton (to measure head lengths) or head_lengths")
        lengths = head_length(gt, skeleton)
    else:
        lengths = as_floats(head_lengths, "head_lengths")
        if lengths.ndim > 1 or lengths.size not in (1, gt.shape[0]):
            raise DataError(f"head_lengths must be one number or one per image ({gt.shape[0]}), got shape "
                            f"{lengths.shape}")
        lengths = np.broadcast_to(lengths, (gt.shape[0],)).copy()
    bad = ~np.isfinite(lengths) | (lengths <= 0)
    if bad.all():
        raise DataError("no image has a usable head length (head keypoints missing or coincident)")
    lengths[bad] = np.nan  # images without a head length are excluded
    return lengths


def normalized_errors(pred: Float[ArrayLike, "N J D"], gt: Float[ArrayLike, "N J D"],
                      skeleton: str | _skeleton.Skeleton | None = None,
                      head_lengths: Float[ArrayLike, " N"] | None = None) -> np.ndarray:
    """``d[i, b] = |pred − gt| / l_i`` (Paper II, below Eq. 2); NaN where the keypoint is not annotated, the
    prediction is missing or the image has no head length."""
    p, g = _pair(pred, gt)
    lengths = _head(g, skeleton, head_lengths)
    return np.linalg.norm(p - g, axis=-1) / lengths[:, None]


def _annotated(gt: np.ndarray, lengths_ok: np.ndarray) -> np.ndarray:
    return np.isfinite(gt).all(-1) & lengths_ok[:, None]


def pckh(pred: Float[ArrayLike, "N J D"], gt: Float[ArrayLike, "N J D"], tau: float = 0.5,
         skeleton: str | _skeleton.Skeleton | None = None, head_lengths: Float[ArrayLike, " N"] | None = None,
         per_keypoint: bool = False):
    """PCKh@τ: fraction of annotated keypoints predicted within ``τ · l_i`` (a missing prediction is a miss).

    Returns:
        a float in [0, 1], or (J,) per keypoint with ``per_keypoint=True``.
    """
    if not (isinstance(tau, (int, float)) and tau > 0):
        raise DataError(f"tau must be a positive fraction of the head length, got {tau!r}")
    return _fraction_within(pred, gt, tau, skeleton, head_lengths, per_keypoint)


def _fraction_within(pred, gt, threshold, skeleton, head_lengths, per_keypoint):
    p, g = _pair(pred, gt)
    d = normalized_errors(p, g, skeleton, head_lengths)
    lengths_ok = np.isfinite(_head(g, skeleton, head_lengths))
    valid = _annotated(g, lengths_ok)
    with np.errstate(invalid="ignore"):
        hit = (d <= np.asarray(threshold)) & valid  # NaN distance (missing prediction) is a miss
    if per_keypoint:
        with np.errstate(invalid="ignore", divide="ignore"):
            return hit.sum(0) / valid.sum(0)
    if not valid.any():
        raise DataError("no annotated keypoint to evaluate")
    return float(hit.sum() / valid.sum())


def mean_error(pred: Float[ArrayLike, "N J D"], gt: Float[ArrayLike, "N J D"],
               skeleton: str | _skeleton.Skeleton | None = None, head_lengths: Float[ArrayLike, " N"] | None = None,
               per_keypoint: bool = False):
    """ME: mean head-normalised distance (Paper II, Eq. 2), over all annotated keypoints or per keypoint."""
    d = normalized_errors(pred, gt, skeleton, head_lengths)
    if per_keypoint:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.nanmean(d, axis=0)
    if np.isnan(d).all():
        raise DataError("no keypoint has both a prediction and an annotation")
    return float(np.nanmean(d))


def box_sizes(gt: Float[ArrayLike, "N J D"]) -> np.ndarray:
    """(N,) the longer side of each image's box around its annotated keypoints (NaN with fewer than two)."""
    g = as_floats(gt, "gt")
    if g.ndim != 3:
        raise DataError(f"ground truth must be (N, J, D) keypoints, got shape {g.shape}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        extent = np.nanmax(g, axis=1) - np.nanmin(g, axis=1)  # (N, D)
        size = np.nanmax(extent, axis=-1)
    counts = np.isfinite(g).all(-1).sum(axis=1)
    return np.where((counts >= 2) & (size > 0), size, np.nan)


def pck(pred: Float[ArrayLike, "N J D"], gt: Float[ArrayLike, "N J D"], fraction: float = 0.2,
        per_keypoint: bool = False):
    """PCK@α for keypoint sets without a head segment: the fraction of annotated keypoints predicted within ``α``
    times the longer side of the box around the image's annotated keypoints (Yang & Ramanan's PCK with the
    keypoints' own box; a missing prediction is a miss)."""
    if not (isinstance(fraction, (int, float)) and fraction > 0):
        raise DataError(f"fraction must be a positive share of the keypoints' box, got {fraction!r}")
    return _fraction_within(pred, gt, fraction, None, box_sizes(gt), per_keypoint)


def pckh_human(pred: Float[ArrayLike, "N J D"], gt: Float[ArrayLike, "N J D"],
               thresholds: Float[ArrayLike, " J"] = IN_MOTION_H95, skeleton: str | _skeleton.Skeleton | None = None,
               head_lengths: Float[ArrayLike, " N"] | None = None, per_keypoint: bool = False):
    """PCKh@Human^0.95 (Paper II, Eqs. 3–4): per keypoint b, the fraction of predictions with ``d ≤ H_b^0.95``.

    The overall value is the **mean over keypoints** of the per-keypoint fractions — Table 2's "All body parts"
    row is that mean (86.71 % for EfficientHourglass B4). Defaults to In-Motion 19's thresholds
    (:data:`IN_MOTION_H95`); pass another panel's thresholds from :func:`inter_rater_spread`.
    """
    thr = as_floats(thresholds, "thresholds")
    g = np.asarray(gt)
    if thr.ndim != 1 or g.ndim != 3 or thr.shape[0] != g.shape[1]:
        raise DataError(f"thresholds must give one H_b^0.95 per keypoint ({g.shape[1] if g.ndim == 3 else '?'}), "
                        f"got shape {thr.shape}")
    if not (np.isfinite(thr).all() and (thr > 0).all()):
        raise DataError("thresholds must be positive head-length fractions")
    per = _fraction_within(pred, gt, thr[None, :], skeleton, head_lengths, per_keypoint=True)
    if per_keypoint:
        return per
    if np.isnan(per).all():
        raise DataError("no annotated keypoint to evaluate")
    return float(np.nanmean(per))


def inter_rater_spread(annotations: Float[ArrayLike, "R N J D"], skeleton: str | _skeleton.Skeleton | None = None,
                       head_lengths: Float[ArrayLike, " N"] | None = None, percentile: float = 95.0
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Mean inter-rater spread ``H_b`` (Paper II, Eq. 1) and its ``percentile``-th percentile ``H_b^0.95``.

    ``H_b`` is the mean over raters and frames of each annotation's distance to the frames' mean annotation,
    divided by the head length (by default measured on the mean annotation).

    Arguments:
        annotations: (R, N, J, D) — R raters × N frames (Paper II: 10 × 100).
    Returns:
        ``(H (J,), H_percentile (J,))``.
    """
    a = as_floats(annotations, "annotations")
    if a.ndim != 4 or a.shape[0] < 2:
        raise DataError(f"annotations must be (raters >= 2, N, J, D), got shape {a.shape}")
    if not np.isfinite(a).all():
        raise DataError("annotations must be complete (every rater annotates every keypoint, as in Paper II)")
    mean = a.mean(axis=0)
    lengths = _head(mean, skeleton, head_lengths)
    d = np.linalg.norm(a - mean[None], axis=-1) / lengths[None, :, None]  # (R, N, J)
    d = d.reshape(-1, d.shape[-1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(d, axis=0), np.nanpercentile(d, percentile, axis=0)


def rmsd(pred: Float[ArrayLike, "N J D"], gt: Float[ArrayLike, "N J D"], per_keypoint: bool = False):
    """Root-mean-square distance in input units (pixels): ``sqrt(mean |pred − gt|²)`` over annotated keypoints
    (seed 004 reports it per limb: pass the limb's keypoints, or use ``per_keypoint``)."""
    p, g = _pair(pred, gt)
    sq = np.sum((p - g) ** 2, axis=-1)
    if per_keypoint:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.sqrt(np.nanmean(sq, axis=0))
    if np.isnan(sq).all():
        raise DataError("no keypoint has both a prediction and an annotation")
    return float(np.sqrt(np.nanmean(sq)))


# ---------------------------------------------------------------------------------------------------- ICC
@dataclasses.dataclass(frozen=True)
class ICCResult:
    """An intraclass correlation, its 1 − alpha confidence interval and the F test of no row effect (F with df1,
    df2); ``ci_df2`` is the second degrees of freedom used for the interval (Satterthwaite's for A,1)."""

    kind: str
    value: float
    lower: float
    upper: float
    f: float
    df1: int
    df2: int
    pvalue: float
    ci_df2: float


def icc(data: Float[ArrayLike, "n k"], kind: Literal["C,1", "A,1"] = "C,1", alpha: float = 0.05) -> ICCResult:
    """Single-measure intraclass correlation, two-way model (McGraw & Wong 1996; Shrout & Fleiss 1979).

    With n targets rated by k raters and the mean squares of a two-way ANOVA without replication (rows MSR,
    columns MSC, error MSE):

    * ``ICC(C,1) = (MSR − MSE) / (MSR + (k − 1)·MSE)`` — consistency (Shrout & Fleiss ICC(3,1));
    * ``ICC(A,1) = (MSR − MSE) / (MSR + (k − 1)·MSE + k/n·(MSC − MSE))`` — absolute agreement (ICC(2,1)).

    Confidence intervals are McGraw & Wong's: exact F bounds for (C,1), and Satterthwaite's approximate degrees
    of freedom for (A,1). Paper II uses k = 2 "raters" (a model's ME and the human spread H) over 19 body parts.

    Arguments:
        data: (n, k) ratings, n >= 2 targets × k >= 2 raters, no missing values.
        kind: ``"C,1"`` or ``"A,1"``.
        alpha: 1 − confidence level.
    """
    x = as_floats(data, "data")
    if kind not in ("C,1", "A,1"):
        raise DataError(f"kind must be 'C,1' (consistency) or 'A,1' (absolute agreement), got {kind!r}")
    if x.ndim != 2 or x.shape[0] < 2 or x.shape[1] < 2:
        raise DataError(f"icc needs an (n targets >= 2, k raters >= 2) matrix, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise DataError("icc needs complete ratings (no NaN/inf)")
    if not 0 < alpha < 1:
        raise DataError(f"alpha must be in (0, 1), got {alpha!r}")
    n, k = x.shape
    grand = x.mean()
    ss_rows = k * np.sum((x.mean(axis=1) - grand) ** 2)
    ss_cols = n * np.sum((x.mean(axis=0) - grand) ** 2)
    ss_err = np.sum((x - grand) ** 2) - ss_rows - ss_cols
    msr, msc = ss_rows / (n - 1), ss_cols / (k - 1)
    mse = ss_err / ((n - 1) * (k - 1))
    if mse <= 0 and msr <= 0:
        raise DataError("icc: the ratings have no variance")
    df1, df2 = n - 1, (n - 1) * (k - 1)
    # relative tolerance: rounding leaves a tiny error term when one rater is an exact shift of another
    mse = 0.0 if mse <= 1e-12 * max(msr, msc, 1e-300) else mse
    f_obs = msr / mse if mse > 0 else math.inf
    pvalue = float(stats.f.sf(f_obs, df1, df2))
    if kind == "C,1":
        value = (msr - mse) / (msr + (k - 1) * mse)
        if math.isinf(f_obs):  # no error variance: perfect consistency
            lower = upper = 1.0
        else:
            f_lo = f_obs / stats.f.ppf(1 - alpha / 2, df1, df2)
            f_hi = f_obs * stats.f.ppf(1 - alpha / 2, df2, df1)
            lower, upper = (f_lo - 1) / (f_lo + k - 1), (f_hi - 1) / (f_hi + k - 1)
        return ICCResult(kind, float(value), float(lower), float(upper), float(f_obs), df1, df2, pvalue, float(df2))
    value = (msr - mse) / (msr + (k - 1) * mse + k / n * (msc - mse))
    a = k * value / (n * (1 - value))
    b = 1 + k * value * (n - 1) / (n * (1 - value))
    v = (a * msc + b * mse) ** 2 / ((a * msc) ** 2 / (k - 1) + (b * mse) ** 2 / df2)
    f_star = stats.f.ppf(1 - alpha / 2, df1, v)
    f_star2 = stats.f.ppf(1 - alpha / 2, v, df1)
    lower = n * (msr - f_star * mse) / (f_star * (k * msc + (k * n - k - n) * mse) + n * msr)
    upper = n * (f_star2 * msr - mse) / (k * msc + (k * n - k - n) * mse + n * f_star2 * msr)
    return ICCResult(kind, float(value), float(lower), float(upper), float(f_obs), df1, df2, pvalue, float(v))


# ------------------------------------------------------------------------------------------------------ limbs (seed 004)
# Table II order; babyPose joint indices (other_seeds_reference §2)
LIMB_NAMES = ("right_arm", "left_arm", "right_leg", "left_leg")
LIMB_JOINTS = ((0, 1, 2), (3, 4, 5), (6, 7, 8), (9, 10, 11))


def rmsd_per_limb(predicted: Float[np.ndarray, "*batch 12 2"], annotated: Float[np.ndarray, "*batch 12 2"],
                  limbs: tuple[tuple[int, ...], ...] = LIMB_JOINTS) -> Float[np.ndarray, "*batch L"]:
    """RMSD of every limb in every frame (seed 004, eq. 1).

    Arguments:
        predicted: (..., J, 2) predicted joints (x, y), NaN = not found.
        annotated: (..., J, 2) ground truth (x, y), NaN = not annotated.
        limbs: joint indices of each limb (babyPose's four limbs by default).
    Returns:
        (..., L) RMSD in pixels; NaN where a limb has no joint both predicted and annotated.
    """
    p = np.asarray(predicted, dtype=np.float64)
    a = np.asarray(annotated, dtype=np.float64)
    if p.shape != a.shape or p.ndim < 2 or p.shape[-1] != 2:
        raise DataError(f"predicted {p.shape} and annotated {a.shape} joints must both be (..., J, 2)")
    if max(max(limb) for limb in limbs) >= p.shape[-2]:
        raise DataError(f"limbs {limbs} refer to joints beyond the {p.shape[-2]} given")
    d2 = np.sum((p - a) ** 2, axis=-1)  # (..., J), NaN where either is missing
    out = []
    for limb in limbs:
        sub = d2[..., list(limb)]
        valid = np.isfinite(sub)
        n = valid.sum(axis=-1)
        total = np.where(valid, sub, 0.0).sum(axis=-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            out.append(np.where(n > 0, np.sqrt(total / np.maximum(n, 1)), np.nan))
    return np.stack(out, axis=-1)


def summarize_rmsd(rmsd: Float[np.ndarray, "M L"], names: tuple[str, ...] = LIMB_NAMES,
                   missing: np.ndarray | None = None) -> dict[str, dict[str, float]]:
    """Median and IQR (Q3 - Q1, linear percentiles) per limb over frames, as in Table II; NaN frames excluded.

    Arguments:
        rmsd: (M, L) per-frame RMSD (any leading axes are flattened).
        names: limb names.
        missing: optional (..., J) boolean "predicted joint missing" to report per limb.
    Returns:
        {limb: {"median", "iqr", "q1", "q3", "mean", "n"}} (+ "missing" fraction of joints when given).
    """
    r = np.asarray(rmsd, dtype=np.float64).reshape(-1, len(names))
    summary = {}
    for i, name in enumerate(names):
        v = r[:, i][np.isfinite(r[:, i])]
        if v.size:
            q1, med, q3 = np.percentile(v, [25, 50, 75])
            row = {"median": float(med), "iqr": float(q3 - q1), "q1": float(q1), "q3": float(q3),
                   "mean": float(v.mean()), "n": int(v.size)}
        else:
            row = {"median": float("nan"), "iqr": float("nan"), "q1": float("nan"), "q3": float("nan"),
                   "mean": float("nan"), "n": 0}
        if missing is not None and len(names) == len(LIMB_JOINTS):
            m = np.asarray(missing, dtype=bool).reshape(-1, np.shape(missing)[-1])
            row["missing"] = float(m[:, list(LIMB_JOINTS[i])].mean())
        summary[name] = row
    return summary


# ------------------------------------------------------------------------------------------------------ summary
def pose_metrics(pred_px: Float[np.ndarray, "N K 2"], true_px: Float[np.ndarray, "N K 2"],
                 skeleton: str | _skeleton.Skeleton = "in-motion-19",
                 taus: tuple[float, ...] = (1.0, 0.5, 0.3, 0.2, 0.1)) -> dict[str, Any]:
    """PCKh@τ, ME and (for In-Motion 19) PCKh@Human^0.95 per keypoint: the summary Paper II reports.

    Arguments:
        pred_px, true_px: (N, K, 2) pixel positions (NaN prediction = miss).
        skeleton: the keypoint set (its head segment normalises the errors).
        taus: PCKh thresholds (Paper II: 1.0, 0.5, 0.3, 0.2, 0.1).

    Returns:
        ``pckh@τ``, ``me``, per-keypoint ME and PCKh@0.5, and for In-Motion 19 ``pckh_human`` (mean over keypoints)
        and ``pckh_human_per_keypoint``.
    """
    skel = _skeleton.get(skeleton)
    out: dict[str, Any] = {}
    for t in taus:
        out[f"pckh@{t}"] = float(pckh(pred_px, true_px, t, skeleton=skel))
    out["me"] = float(mean_error(pred_px, true_px, skeleton=skel))
    out["me_per_keypoint"] = np.asarray(mean_error(pred_px, true_px, skeleton=skel, per_keypoint=True)).tolist()
    out["pckh_per_keypoint@0.5"] = np.asarray(pckh(pred_px, true_px, 0.5, skeleton=skel, per_keypoint=True)
                                              ).tolist()
    if skel.name == "in-motion-19":  # Table 2's H_b^0.95 thresholds exist for the In-Motion set only
        out["pckh_human"] = float(pckh_human(pred_px, true_px, skeleton=skel))
        out["pckh_human_per_keypoint"] = np.asarray(
            pckh_human(pred_px, true_px, skeleton=skel, per_keypoint=True)).tolist()
    return out
