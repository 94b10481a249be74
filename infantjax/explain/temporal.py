"""Temporal explanations: the distribution of the instances' predictions in each window (what the boxplots of
seed 002, Fig. 3.12a, show)."""

from __future__ import annotations

import dataclasses

import numpy as np

from infantjax.errors import DataError

__all__ = ["WindowDistribution", "decision_windows", "window_distributions"]


@dataclasses.dataclass(frozen=True)
class WindowDistribution:
    """Box-plot statistics of one window's instance predictions.

    ``whisker_low``/``whisker_high`` are the most extreme predictions within 1.5 IQR of the quartiles.
    """

    start: int
    median: float
    q1: float
    q3: float
    whisker_low: float
    whisker_high: float
    minimum: float
    maximum: float
    share_cp: float
    colour: str

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def window_distributions(result) -> list[WindowDistribution]:
    """Per-window statistics of a :class:`~infantjax.clinical.RiskResult` (predictions (W, I))."""
    p = np.asarray(result.predictions, dtype=np.float64)
    if p.ndim != 2:
        raise DataError(f"predictions must be (windows, instances), got shape {p.shape}")
    out = []
    for k, row in enumerate(p):
        q1, med, q3 = np.percentile(row, [25, 50, 75])
        iqr = q3 - q1
        inside = row[(row >= q1 - 1.5 * iqr) & (row <= q3 + 1.5 * iqr)]
        out.append(WindowDistribution(
            start=int(result.window_starts[k]), median=float(med), q1=float(q1), q3=float(q3),
            whisker_low=float(inside.min()), whisker_high=float(inside.max()), minimum=float(row.min()),
            maximum=float(row.max()), share_cp=float((row >= result.threshold).mean()),
            colour=result.window_colour[k]))
    return out


def decision_windows(result, count: int = 3) -> list[int]:
    """The windows that drove the decision: those whose risk (median over instances) lies on the side of the
    threshold the video was classified on, the farthest first, at most ``count``.

    The video's risk is the median of the window risks, so at least half of the windows lie on its side: a CP
    result lists its highest-risk windows (risk >= threshold), a no-CP result its lowest (risk < threshold). Ties
    keep window order.

    Arguments:
        result: a :class:`~infantjax.clinical.RiskResult`.
        count: how many windows at most (>= 1).

    Returns:
        window indices, most decisive first.
    """
    if int(count) < 1:
        raise DataError(f"count must be >= 1, got {count}")
    risk = np.asarray(result.window_risk, dtype=np.float64)
    if result.cp:
        side = np.flatnonzero(risk >= result.threshold)
        order = side[np.argsort(-risk[side], kind="stable")]
    else:
        side = np.flatnonzero(risk < result.threshold)
        order = side[np.argsort(risk[side], kind="stable")]
    return [int(k) for k in order[: int(count)]]
