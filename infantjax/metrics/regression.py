"""Regression metrics for motor scores (seed 000: CHOP INTEND extremity score from Kinect limb tracks).

Seed 000 reports two averages of the absolute error that differ "as the number of 30-second samples in each fold
are not equal" (Table 2: 6.9645 per subject vs 8.1287 overall for the CNN):

* **per-subject average** — the mean absolute error of each subject (one leave-one-subject-out fold), then the
  mean over subjects: every infant counts the same;
* **overall average** — the mean absolute error over all samples pooled: every sample counts the same.

For whole videos seed 000 first aggregates the window predictions of a video by their mean, median, or the mean
of the predictions inside the quartile fences ``[Q1 − 1.5·IQR, Q3 + 1.5·IQR]`` (:func:`aggregate_scores`), then
applies the same two averages (Table 3).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable, Sequence
from typing import Literal

import numpy as np
from jaxtyping import ArrayLike, Float

from infantjax.errors import DataError
from infantjax.metrics.classification import as_floats

__all__ = ["AGGREGATIONS", "MAESummary", "aggregate_scores", "mean_absolute_error", "subject_mae"]

AGGREGATIONS = ("mean", "median", "quartile")


def _vectors(pred: ArrayLike, target: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    p = as_floats(pred, "pred")
    t = as_floats(target, "target")
    if p.ndim != 1 or p.shape != t.shape or p.size == 0:
        raise DataError(f"predictions and targets must be non-empty 1-D arrays of equal length, got {p.shape} and "
                        f"{t.shape}")
    if not (np.isfinite(p).all() and np.isfinite(t).all()):
        raise DataError("predictions and targets must be finite (no NaN/inf)")
    return p, t


def mean_absolute_error(pred: Float[ArrayLike, " N"], target: Float[ArrayLike, " N"]) -> float:
    """Mean of |pred − target| over all samples."""
    p, t = _vectors(pred, target)
    return float(np.mean(np.abs(p - t)))


@dataclasses.dataclass(frozen=True)
class MAESummary:
    """Both averages of seed 000 and the per-subject errors they come from."""

    per_subject: dict[Hashable, float]  # subject -> MAE over that subject's samples
    counts: dict[Hashable, int]         # subject -> number of samples
    subject_average: float              # mean over subjects of per_subject ("average error per subject (fold)")
    overall: float                      # MAE over all samples ("overall average error")


def subject_mae(pred: Float[ArrayLike, " N"], target: Float[ArrayLike, " N"],
                subjects: Sequence[Hashable] | ArrayLike) -> MAESummary:
    """Per-subject and overall mean absolute error (seed 000, Tables 2 and 3).

    Arguments:
        pred, target: (N,) predicted and true scores, one per sample (window or video).
        subjects: (N,) subject id of every sample.
    """
    p, t = _vectors(pred, target)
    subj = np.asarray(subjects)
    if subj.shape != p.shape:
        raise DataError(f"subjects must give one id per sample ({p.size}), got shape {subj.shape}")
    err = np.abs(p - t)
    per, counts = {}, {}
    for s in dict.fromkeys(subj.tolist()):  # first-seen order
        m = subj == s
        per[s] = float(err[m].mean())
        counts[s] = int(m.sum())
    return MAESummary(per, counts, float(np.mean(list(per.values()))), float(err.mean()))


def aggregate_scores(scores: Float[ArrayLike, " W"], method: Literal["mean", "median", "quartile"] = "mean") -> float:
    """One score for a video from its window scores (seed 000, §5.2).

    ``"quartile"``: the mean of the scores between the fences ``Q1 − 1.5·IQR`` and ``Q3 + 1.5·IQR`` with linearly
    interpolated quartiles (inclusive fences).
    """
    s = as_floats(scores, "scores")
    if s.ndim != 1 or s.size == 0 or not np.isfinite(s).all():
        raise DataError(f"scores must be a non-empty 1-D array of finite values, got shape {s.shape}")
    if method == "mean":
        return float(s.mean())
    if method == "median":
        return float(np.median(s))
    if method == "quartile":
        q1, q3 = np.percentile(s, [25, 75])
        iqr = q3 - q1
        kept = s[(s >= q1 - 1.5 * iqr) & (s <= q3 + 1.5 * iqr)]
        return float(kept.mean())
    raise DataError(f"method must be one of {AGGREGATIONS}, got {method!r}")
