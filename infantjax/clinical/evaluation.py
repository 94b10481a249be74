"""Test-set evaluation of CP risks (seed 002, Paper III): fixed-sensitivity operating point with Clopper–Pearson
intervals, the eTable 5 threshold table with the certainty colours per class, ROC/AUC, Wilcoxon rank-sum tests
between subgroups and the Spearman correlation between risk and CAM. Built on :mod:`infantjax.metrics`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from infantjax import metrics
from infantjax.clinical.risk import RiskResult, colour_from_count, interquartile_colour
from infantjax.errors import DataError

__all__ = [
    "COLOUR_ORDER",
    "ETABLE5_THRESHOLDS",
    "Evaluation",
    "ThresholdRow",
    "cam_correlation",
    "compare_groups",
    "evaluate",
    "format_threshold_table",
    "risks_of",
    "threshold_table",
]

#: The decision thresholds of eTable 5 (seed 002, Paper III supplement).
ETABLE5_THRESHOLDS = (0.15, 0.20, 0.25, 0.30, 0.35)
#: Column order of the colour distributions in eTable 5: correct-and-certain first.
COLOUR_ORDER = {1: ("red", "orange", "yellow", "green"), 0: ("green", "yellow", "orange", "red")}


@dataclasses.dataclass(frozen=True)
class ThresholdRow:
    """One row of the eTable 5 table: metrics at a threshold and the colours of infants with and without CP."""

    threshold: float
    metrics: metrics.BinaryMetrics
    colours_cp: dict[str, int]
    colours_no_cp: dict[str, int]

    def as_dict(self) -> dict:
        return {"threshold": self.threshold, **self.metrics.as_dict(), "colours_cp": dict(self.colours_cp),
                "colours_no_cp": dict(self.colours_no_cp)}

    @classmethod
    def from_dict(cls, data) -> ThresholdRow:
        """Read back :meth:`as_dict` (e.g. a table stored in an ensemble's metadata).

        Raises:
            DataError: a field is missing or has the wrong type.
        """
        try:
            props = {name: metrics.Proportion(int(data[name]["k"]), int(data[name]["n"]), float(data[name]["value"]),
                                              float(data[name]["lower"]), float(data[name]["upper"]))
                     for name in ("sensitivity", "specificity", "ppv", "npv", "accuracy")}
            m = metrics.BinaryMetrics(int(data["tp"]), int(data["fp"]), int(data["tn"]), int(data["fn"]),
                                      alpha=float(data.get("alpha", 0.05)), **props)
            colours = {c: {k: int(data[key][k]) for k in COLOUR_ORDER[c]}
                       for c, key in ((1, "colours_cp"), (0, "colours_no_cp"))}
            return cls(float(data["threshold"]), m, colours[1], colours[0])
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise DataError(f"not a threshold-table row (ThresholdRow.as_dict): {type(err).__name__} {err}") from None


def risks_of(results: Sequence[RiskResult]) -> tuple[np.ndarray, np.ndarray]:
    """(N,) video risks and (N, I) per-instance video risks of a list of results (equal instance counts)."""
    if not results:
        raise DataError("no results given")
    sizes = {r.instance_risk.shape for r in results}
    if len(sizes) != 1:
        raise DataError(f"results have different instance counts {sorted(sizes)}; evaluate one ensemble at a time")
    return np.asarray([r.risk for r in results]), np.stack([r.instance_risk for r in results])


def _labels(labels, n: int) -> np.ndarray:
    y = np.asarray(labels)
    if y.shape != (n,) or not np.isin(y, (0, 1)).all():
        raise DataError(f"labels must be {n} values of 0 (no CP) or 1 (CP), got shape {y.shape}")
    return y.astype(int)


def threshold_table(labels, risks, instance_risks, thresholds: Sequence[float] = ETABLE5_THRESHOLDS, *,
                    certainty: str = "paper", alpha: float = 0.05) -> list[ThresholdRow]:
    """eTable 5: TP/FP/TN/FN, sensitivity, specificity, PPV, NPV, accuracy and colours per class per threshold.

    Arguments:
        labels: (N,) 0/1 outcome per infant.
        risks: (N,) video CP risks.
        instance_risks: (N, I) per-instance video risks (``RiskResult.instance_risk``), which decide the colours.
        thresholds: decision thresholds (CP when risk >= threshold).
        certainty: ``"paper"`` or ``"interquartile"``.
        alpha: 1 − confidence level of the Clopper–Pearson intervals.
    """
    r = np.asarray(risks, dtype=np.float64)
    ir = np.asarray(instance_risks, dtype=np.float64)
    y = _labels(labels, r.shape[0])
    if ir.ndim != 2 or ir.shape[0] != r.shape[0]:
        raise DataError(f"instance_risks must be (N, I) with N = {r.shape[0]}, got shape {ir.shape}")
    rows = []
    for t in thresholds:
        t = float(t)
        m = metrics.classification_metrics(y, r, t, alpha=alpha)
        if certainty == "paper":
            colours = [colour_from_count(int((row >= t).sum()), ir.shape[1]) for row in ir]
        else:
            colours = [interquartile_colour(row, risk, t) for row, risk in zip(ir, r)]
        counts = {c: {k: 0 for k in COLOUR_ORDER[c]} for c in (0, 1)}
        for label, colour in zip(y, colours):
            counts[int(label)][colour] += 1
        rows.append(ThresholdRow(t, m, counts[1], counts[0]))
    return rows


def format_threshold_table(rows: Sequence[ThresholdRow]) -> str:
    """Plain-text table in the layout of eTable 5 (percentages with one decimal)."""
    head = (f"{'thres.':>6} {'TP':>4} {'FP':>4} {'TN':>4} {'FN':>4} {'sens.%':>7} {'spec.%':>7} {'PPV%':>6} "
            f"{'NPV%':>6} {'acc.%':>6} | CP: {'R':>3} {'O':>3} {'Y':>3} {'G':>3} | no CP: {'G':>3} {'Y':>3} "
            f"{'O':>3} {'R':>3}")
    lines = [head]

    def pct(p):
        return "n/a" if p.n == 0 else f"{100 * p.value:.1f}"

    for row in rows:
        m = row.metrics
        cp = " ".join(f"{row.colours_cp[c]:>3}" for c in COLOUR_ORDER[1])
        no = " ".join(f"{row.colours_no_cp[c]:>3}" for c in COLOUR_ORDER[0])
        lines.append(f"{row.threshold:>6.2f} {m.tp:>4} {m.fp:>4} {m.tn:>4} {m.fn:>4} {pct(m.sensitivity):>7} "
                     f"{pct(m.specificity):>7} {pct(m.ppv):>6} {pct(m.npv):>6} {pct(m.accuracy):>6} | CP: {cp} | "
                     f"no CP: {no}")
    return "\n".join(lines)


@dataclasses.dataclass(frozen=True)
class Evaluation:
    """Test-set evaluation: AUC, ROC curve and the operating point (threshold and metrics with intervals)."""

    auc: float
    fpr: np.ndarray
    tpr: np.ndarray
    thresholds: np.ndarray
    operating_point: metrics.OperatingPoint

    def as_dict(self) -> dict:
        op = self.operating_point
        return {"auc": self.auc, "threshold": op.threshold, "target_sensitivity": op.target_sensitivity,
                **op.metrics.as_dict(),
                "roc": {"fpr": self.fpr.tolist(), "tpr": self.tpr.tolist(),
                        "thresholds": [None if not np.isfinite(t) else float(t) for t in self.thresholds]}}


def evaluate(labels, risks, *, sensitivity: float | None = 0.7, threshold: float | None = None,
             alpha: float = 0.05) -> Evaluation:
    """AUC, ROC and predictive values at a fixed sensitivity (seed 002 fixes it at GMA's 70 %) or a threshold.

    Arguments:
        labels: (N,) 0/1 outcomes.
        risks: (N,) video CP risks.
        sensitivity: choose the highest threshold reaching this sensitivity (ignored when ``threshold`` is given).
        threshold: a fixed decision threshold instead.
        alpha: 1 − confidence level of the Clopper–Pearson intervals.
    """
    r = np.asarray(risks, dtype=np.float64)
    y = _labels(labels, r.shape[0])
    fpr, tpr, thr = metrics.roc_curve(y, r)
    auc = metrics.roc_auc(y, r)
    if threshold is not None:
        op = metrics.OperatingPoint(float(threshold), float("nan"),
                                    metrics.classification_metrics(y, r, float(threshold), alpha=alpha))
    else:
        if sensitivity is None:
            raise DataError("evaluate needs a sensitivity or a threshold")
        op = metrics.operating_point(y, r, sensitivity, alpha=alpha)
    return Evaluation(float(auc), fpr, tpr, thr, op)


def compare_groups(risks, groups, a, b, alternative: str = "two-sided") -> metrics.TestResult:
    """Wilcoxon rank-sum test of the risks of group ``a`` against group ``b`` (e.g. non-ambulatory vs ambulatory
    CP, bilateral vs unilateral; seed 002)."""
    r = np.asarray(risks, dtype=np.float64)
    g = np.asarray(groups)
    if g.shape != r.shape:
        raise DataError(f"groups must have one entry per risk ({r.shape[0]}), got shape {g.shape}")
    for name in (a, b):
        if not (g == name).any():
            raise DataError(f"no infants in group {name!r}; groups present: {sorted(set(g.tolist()))}")
    return metrics.wilcoxon_rank_sum(r[g == a], r[g == b], alternative=alternative)


def cam_correlation(risks, cams) -> metrics.TestResult:
    """Spearman correlation between the video risks and the sum of each video's CAM over joints (seed 002 found
    0.946 on its test set)."""
    c = np.asarray(cams, dtype=np.float64)
    if c.ndim != 2:
        raise DataError(f"cams must be (N, J) video-level CAMs, got shape {c.shape}")
    return metrics.spearman(np.asarray(risks, dtype=np.float64), c.sum(axis=1))
