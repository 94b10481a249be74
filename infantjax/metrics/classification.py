"""Classification metrics for CP prediction: ROC, AUC, operating points and exact confidence intervals.

Seed 002 (Paper III) reports predictive values at a sensitivity fixed a priori at the level of GMA (70 %), with
exact Clopper–Pearson 95 % intervals of sensitivity, specificity, PPV, NPV and accuracy (Table 1, eTable 2,
eTable 5), AUC from the ROC curve (eFigure 2), and 2-sided Wilcoxon rank-sum tests computed with SciPy.

Everything here is plain NumPy/SciPy on host arrays: metrics run after inference, never inside ``jit``. A case is
called positive when its score is **at or above** the threshold (gcn_reference A.10: "positive if the risk is
≥ 0.5").
"""

from __future__ import annotations

import dataclasses
import math
from typing import Literal

import numpy as np
from jaxtyping import ArrayLike
from scipy import stats

from infantjax.errors import DataError

__all__ = [
    "BinaryMetrics",
    "OperatingPoint",
    "Proportion",
    "TestResult",
    "auc",
    "binary_metrics",
    "classification_metrics",
    "clopper_pearson",
    "cohen_kappa",
    "confusion_counts",
    "operating_point",
    "roc_auc",
    "roc_curve",
    "spearman",
    "threshold_at_sensitivity",
    "wilcoxon_rank_sum",
]

def as_floats(value, name: str) -> np.ndarray:
    """``value`` as a float64 array, or a :class:`~infantjax.errors.DataError` naming the argument ``name`` (the
    check of every numeric argument of the metrics and of the smartphone preprocessing)."""
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError(f"{name} must be numeric, got {type(value).__name__} that NumPy cannot read as numbers") \
            from None


# ---------------------------------------------------------------------------------------------------- containers
@dataclasses.dataclass(frozen=True)
class Proportion:
    """A proportion ``k / n`` with its exact (Clopper–Pearson) confidence interval.

    ``value`` is NaN when ``n == 0`` (e.g. PPV when nothing was called positive); the interval is then [0, 1].
    """

    k: int
    n: int
    value: float
    lower: float
    upper: float

    def percent(self, digits: int = 1) -> str:
        """``"71.4 [58.7, 82.1]"`` — the way the papers print it."""
        if self.n == 0:
            return "n/a"
        return (f"{100 * self.value:.{digits}f} [{100 * self.lower:.{digits}f}, "
                f"{100 * self.upper:.{digits}f}]")


@dataclasses.dataclass(frozen=True)
class BinaryMetrics:
    """Confusion counts and the five predictive values of seed 002's tables, each with a 1−alpha interval."""

    tp: int
    fp: int
    tn: int
    fn: int
    sensitivity: Proportion
    specificity: Proportion
    ppv: Proportion
    npv: Proportion
    accuracy: Proportion
    alpha: float = 0.05

    def as_dict(self) -> dict:
        """JSON-ready: counts plus ``{"value", "lower", "upper", "k", "n"}`` per predictive value."""
        out: dict = {"tp": self.tp, "fp": self.fp, "tn": self.tn, "fn": self.fn, "alpha": self.alpha}
        for name in ("sensitivity", "specificity", "ppv", "npv", "accuracy"):
            out[name] = dataclasses.asdict(getattr(self, name))
        return out


@dataclasses.dataclass(frozen=True)
class OperatingPoint:
    """The decision threshold chosen on a ROC curve and the metrics it gives (score >= threshold is positive)."""

    threshold: float
    target_sensitivity: float
    metrics: BinaryMetrics


@dataclasses.dataclass(frozen=True)
class TestResult:
    """A test statistic and its p-value."""

    statistic: float
    pvalue: float


# ---------------------------------------------------------------------------------------------------- validation
def _binary_labels(labels: ArrayLike, name: str = "labels") -> np.ndarray:
    y = np.asarray(labels)
    if y.ndim != 1:
        raise DataError(f"{name} must be a 1-D array of 0/1 class labels, got shape {y.shape}")
    if y.dtype == bool:
        return y.astype(np.int64)
    if not np.issubdtype(y.dtype, np.number):
        raise DataError(f"{name} must be numeric 0/1 (or bool), got dtype {y.dtype}")
    if not np.isfinite(y).all() or not np.isin(y, (0, 1)).all():
        bad = np.unique(y[~np.isin(y, (0, 1))])[:5]
        raise DataError(f"{name} must contain only 0 (negative) and 1 (positive); found {bad.tolist()}")
    return y.astype(np.int64)


def _scores(scores: ArrayLike, n: int, name: str = "scores") -> np.ndarray:
    s = as_floats(scores, name)
    if s.ndim != 1 or s.shape[0] != n:
        raise DataError(f"{name} must be a 1-D array with one score per label ({n}), got shape {s.shape}")
    if not np.isfinite(s).all():
        raise DataError(f"{name} contain NaN or inf at positions {np.flatnonzero(~np.isfinite(s))[:5].tolist()}; "
                        "drop those cases or impute a score first")
    return s


def _both_classes(y: np.ndarray, what: str) -> None:
    n_pos = int(y.sum())
    if n_pos == 0 or n_pos == y.size:
        raise DataError(f"{what} needs both classes in labels, got {n_pos} positives of {y.size}")


def _count(value, name: str) -> int:
    try:
        ok = not isinstance(value, (bool, np.bool_)) and float(value).is_integer() and value >= 0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise DataError(f"{name} must be a non-negative integer count, got {value!r}")
    return int(value)


# ---------------------------------------------------------------------------------------------------- intervals
def clopper_pearson(k: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """Exact (Clopper–Pearson) two-sided 1−alpha confidence interval of a binomial proportion ``k / n``.

    The bounds are beta quantiles, ``B(alpha/2; k, n−k+1)`` and ``B(1−alpha/2; k+1, n−k)``, with the lower bound 0
    when ``k == 0`` and the upper bound 1 when ``k == n`` (seed 002 computed them with R's ``conf`` package).

    Arguments:
        k: successes, ``0 <= k <= n``.
        n: trials (``n == 0`` gives the uninformative interval [0, 1]).
        alpha: 1 − confidence level, in (0, 1).
    Returns:
        ``(lower, upper)`` as proportions in [0, 1].
    """
    k, n = _count(k, "k"), _count(n, "n")
    if k > n:
        raise DataError(f"clopper_pearson: k = {k} successes cannot exceed n = {n} trials")
    if not (isinstance(alpha, (int, float)) and 0.0 < alpha < 1.0):
        raise DataError(f"clopper_pearson: alpha must be in (0, 1), got {alpha!r} (0.05 gives a 95 % interval)")
    if n == 0:
        return 0.0, 1.0
    lower = 0.0 if k == 0 else float(stats.beta.ppf(alpha / 2, k, n - k + 1))
    upper = 1.0 if k == n else float(stats.beta.ppf(1 - alpha / 2, k + 1, n - k))
    return lower, upper


def _proportion(k: int, n: int, alpha: float) -> Proportion:
    lower, upper = clopper_pearson(k, n, alpha)
    return Proportion(k=k, n=n, value=k / n if n else math.nan, lower=lower, upper=upper)


# ---------------------------------------------------------------------------------------------------- counts
def confusion_counts(labels: ArrayLike, predictions: ArrayLike) -> tuple[int, int, int, int]:
    """``(TP, FP, TN, FN)`` of binary predictions against binary labels (1 = positive, e.g. CP)."""
    y = _binary_labels(labels)
    p = _binary_labels(predictions, "predictions")
    if p.shape != y.shape:
        raise DataError(f"predictions {p.shape} and labels {y.shape} must have the same length")
    tp = int(np.sum((p == 1) & (y == 1)))
    fp = int(np.sum((p == 1) & (y == 0)))
    tn = int(np.sum((p == 0) & (y == 0)))
    fn = int(np.sum((p == 0) & (y == 1)))
    return tp, fp, tn, fn


def cohen_kappa(a: ArrayLike, b: ArrayLike) -> float:
    """Cohen's κ of two raters' binary calls (e.g. predicted FMs clips against expert ones, seed 001):
    (p_o − p_e) / (1 − p_e); 1.0 when both raters give one and the same class throughout.

    Arguments:
        a, b: (N,) 0/1 calls of the two raters.

    Returns:
        κ in [−1, 1].
    """
    x = _binary_labels(a, "a")
    y = _binary_labels(b, "b")
    if x.shape != y.shape or x.size == 0:
        raise DataError(f"cohen_kappa needs two non-empty rating vectors of one length, got {x.shape} and {y.shape}")
    observed = float(np.mean(x == y))
    expected = float(np.mean(x) * np.mean(y) + (1 - np.mean(x)) * (1 - np.mean(y)))
    if expected >= 1.0:
        return 1.0 if observed >= 1.0 else 0.0
    return (observed - expected) / (1.0 - expected)


def binary_metrics(tp: int, fp: int, tn: int, fn: int, alpha: float = 0.05) -> BinaryMetrics:
    """Sensitivity, specificity, PPV, NPV and accuracy with exact Clopper–Pearson intervals (seed 002, Table 1).

    Arguments:
        tp, fp, tn, fn: confusion counts.
        alpha: 1 − confidence level of the intervals.
    Returns:
        :class:`BinaryMetrics`.
    """
    tp, fp, tn, fn = (_count(v, n) for v, n in ((tp, "tp"), (fp, "fp"), (tn, "tn"), (fn, "fn")))
    return BinaryMetrics(
        tp=tp, fp=fp, tn=tn, fn=fn,
        sensitivity=_proportion(tp, tp + fn, alpha),
        specificity=_proportion(tn, tn + fp, alpha),
        ppv=_proportion(tp, tp + fp, alpha),
        npv=_proportion(tn, tn + fn, alpha),
        accuracy=_proportion(tp + tn, tp + fp + tn + fn, alpha),
        alpha=float(alpha),
    )


def classification_metrics(labels: ArrayLike, scores: ArrayLike, threshold: float,
                           alpha: float = 0.05) -> BinaryMetrics:
    """:func:`binary_metrics` of ``scores >= threshold`` against ``labels``."""
    y = _binary_labels(labels)
    s = _scores(scores, y.size)
    if not math.isfinite(float(threshold)):
        raise DataError(f"threshold must be a finite number, got {threshold!r}")
    return binary_metrics(*confusion_counts(y, (s >= threshold).astype(np.int64)), alpha=alpha)


# ---------------------------------------------------------------------------------------------------- ROC
def _roc(y: np.ndarray, s: np.ndarray, drop_intermediate: bool):
    """scikit-learn's ROC curve of checked labels and scores: ``(fpr, tpr, thresholds)`` from threshold ``inf``."""
    from sklearn.metrics import roc_curve as sklearn_roc_curve

    return sklearn_roc_curve(y, s, drop_intermediate=drop_intermediate)


def roc_curve(labels: ArrayLike, scores: ArrayLike, *, drop_intermediate: bool = True):
    """Receiver operating characteristic: scikit-learn's ``roc_curve`` after the checks of this module.

    Each distinct score is a threshold (score >= threshold is positive); tied scores move together. The curve starts
    at (0, 0) with threshold ``inf``. With ``drop_intermediate`` points that lie on a straight segment between their
    neighbours are dropped (they do not change the curve or its area).

    Arguments:
        labels: (N,) 0/1 labels; both classes must be present.
        scores: (N,) finite scores, higher = more likely positive.
    Returns:
        ``(fpr, tpr, thresholds)``, each (M,), thresholds decreasing.

    Raises:
        DataError: labels other than 0/1, scores that are not one finite number per label, or one class only (a
            ROC curve needs both; scikit-learn would warn and return NaN).
    """
    y = _binary_labels(labels)
    s = _scores(scores, y.size)
    _both_classes(y, "roc_curve")
    return _roc(y, s, drop_intermediate)


def auc(x: ArrayLike, y: ArrayLike) -> float:
    """Area under a curve by the trapezoidal rule (scikit-learn's ``auc``); ``x`` must be monotonic (either
    direction)."""
    from sklearn.metrics import auc as sklearn_auc

    x, y = as_floats(x, "x"), as_floats(y, "y")
    if x.ndim != 1 or x.shape != y.shape or x.size < 2:
        raise DataError(f"auc needs two 1-D arrays of equal length >= 2, got {x.shape} and {y.shape}")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise DataError("auc: x and y must be finite")
    dx = np.diff(x)
    if not (np.all(dx <= 0) or np.all(dx >= 0)):
        raise DataError("auc: x is neither increasing nor decreasing; sort the curve by x first")
    return float(sklearn_auc(x, y))


def roc_auc(labels: ArrayLike, scores: ArrayLike) -> float:
    """Area under the ROC curve: scikit-learn's ``roc_auc_score`` (ties count one half) after the checks of
    :func:`roc_curve` (both classes needed)."""
    from sklearn.metrics import roc_auc_score

    y = _binary_labels(labels)
    s = _scores(scores, y.size)
    _both_classes(y, "roc_auc")
    return float(roc_auc_score(y, s))


# ---------------------------------------------------------------------------------------------------- operating points
def threshold_at_sensitivity(labels: ArrayLike, scores: ArrayLike, sensitivity: float = 0.7) -> float:
    """The highest threshold whose sensitivity is at least ``sensitivity``.

    Seed 002 fixes sensitivity a priori at the level of GMA (70.0 %) and reports the resulting specificity; the
    highest such threshold gives the best specificity among thresholds reaching the target.
    """
    y = _binary_labels(labels)
    s = _scores(scores, y.size)
    _both_classes(y, "threshold_at_sensitivity")
    if not (isinstance(sensitivity, (int, float)) and 0.0 < sensitivity <= 1.0):
        raise DataError(f"sensitivity must be in (0, 1], got {sensitivity!r} (e.g. 0.7 for 70 %)")
    _, tpr, thr = _roc(y, s, drop_intermediate=False)
    tpr, thr = tpr[1:], thr[1:]  # the curve's start (threshold inf) calls nothing positive
    # tpr is non-decreasing as the threshold falls; a tiny tolerance keeps 0.7 == 14/20 from failing on rounding
    idx = int(np.argmax(tpr >= sensitivity - 1e-12))
    return float(thr[idx])


def operating_point(labels: ArrayLike, scores: ArrayLike, sensitivity: float = 0.7,
                    alpha: float = 0.05) -> OperatingPoint:
    """Choose the threshold at a fixed sensitivity and report the predictive values there (seed 002, Table 1)."""
    threshold = threshold_at_sensitivity(labels, scores, sensitivity)
    return OperatingPoint(threshold=threshold, target_sensitivity=float(sensitivity),
                          metrics=classification_metrics(labels, scores, threshold, alpha=alpha))


# ---------------------------------------------------------------------------------------------------- tests
def _sample(x: ArrayLike, name: str, min_size: int) -> np.ndarray:
    a = as_floats(x, "x")
    if a.ndim != 1:
        raise DataError(f"{name} must be a 1-D sample, got shape {a.shape}")
    if a.size < min_size:
        raise DataError(f"{name} needs at least {min_size} values, got {a.size}")
    if not np.isfinite(a).all():
        raise DataError(f"{name} contains NaN or inf; remove missing values first")
    return a


def wilcoxon_rank_sum(x: ArrayLike, y: ArrayLike,
                      alternative: Literal["two-sided", "less", "greater"] = "two-sided") -> TestResult:
    """Wilcoxon rank-sum test of two independent samples (``scipy.stats.ranksums``, normal approximation).

    Seed 002 compares CP risk between ambulatory and non-ambulatory CP, and unilateral and bilateral CP, with the
    2-sided version computed with SciPy.
    """
    if alternative not in ("two-sided", "less", "greater"):
        raise DataError(f"alternative must be 'two-sided', 'less' or 'greater', got {alternative!r}")
    a, b = _sample(x, "x", 1), _sample(y, "y", 1)
    res = stats.ranksums(a, b, alternative=alternative)
    return TestResult(float(res.statistic), float(res.pvalue))


def spearman(x: ArrayLike, y: ArrayLike) -> TestResult:
    """Spearman rank correlation and its two-sided p-value (``scipy.stats.spearmanr``)."""
    a, b = _sample(x, "x", 3), _sample(y, "y", 3)
    if a.shape != b.shape:
        raise DataError(f"spearman: x and y must have the same length, got {a.size} and {b.size}")
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        raise DataError("spearman: a constant sample has no rank correlation; check the inputs")
    res = stats.spearmanr(a, b)
    return TestResult(float(res.statistic), float(res.pvalue))
