"""Scores of a 2-minute recording from the scores of its 30-s windows (seed 000 §5.2, Table 3).

Three statistics over the window scores of one recording: the mean, the median, and the quartile analysis — the
quartiles by linear interpolation (NumPy's default percentile), the windows outside the fences Q1 − 1.5·IQR and
Q3 + 1.5·IQR dropped as outliers, then the mean of the rest.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from infantjax.errors import ConfigError, DataError

__all__ = ["AGGREGATIONS", "aggregate_recording", "aggregate_recordings", "quartile_mean"]

AGGREGATIONS = ("mean", "median", "quartile")


def quartile_mean(scores: np.ndarray, fence: float = 1.5) -> float:
    """The mean of the scores within the quartile fences [Q1 − fence·IQR, Q3 + fence·IQR] (fences inclusive)."""
    s = np.asarray(scores, np.float64)
    q1, q3 = np.percentile(s, [25.0, 75.0])
    iqr = q3 - q1
    keep = (s >= q1 - fence * iqr) & (s <= q3 + fence * iqr)
    return float(s[keep].mean())


def aggregate_recording(scores: Sequence[float], method: str = "mean") -> float:
    """One recording's score from its window scores.

    Arguments:
        scores: (windows,) predicted scores of the recording's windows.
        method: ``"mean"``, ``"median"`` or ``"quartile"`` (outliers outside the 1.5·IQR fences dropped, then the
            mean).

    Returns:
        the recording's score.
    """
    if method not in AGGREGATIONS:
        raise ConfigError(f"unknown aggregation {method!r}; use one of {AGGREGATIONS}")
    s = np.asarray(scores, np.float64).reshape(-1)
    if len(s) == 0 or not np.isfinite(s).all():
        raise DataError(f"aggregate_recording needs at least one finite window score, got {len(s)} "
                        f"({int((~np.isfinite(s)).sum())} not finite)")
    if method == "mean":
        return float(s.mean())
    if method == "median":
        return float(np.median(s))
    return quartile_mean(s)


def aggregate_recordings(scores: np.ndarray, recordings: np.ndarray, method: str = "mean"
                         ) -> tuple[np.ndarray, np.ndarray]:
    """Per-recording scores of windows labelled with their recording.

    Arguments:
        scores: (windows,) window scores.
        recordings: (windows,) recording id of each window (any hashable values).
        method: see :func:`aggregate_recording`.

    Returns:
        (ids, scores): the recordings in order of first appearance and their aggregated scores.
    """
    scores = np.asarray(scores, np.float64).reshape(-1)
    recordings = np.asarray(recordings)
    if recordings.shape != scores.shape:
        raise DataError(f"aggregate_recordings: {len(recordings)} recording ids for {len(scores)} window scores")
    _, first = np.unique(recordings, return_index=True)
    ids = recordings[np.sort(first)]
    return ids, np.asarray([aggregate_recording(scores[recordings == r], method) for r in ids])
