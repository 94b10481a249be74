"""Temporal filters of keypoint tracks (T, J, D) that keep missing values missing.

:func:`lowpass` is the pose tracker's optional smoothing (:class:`infantjax.infer.tracking.Tracking`): a
zero-phase Butterworth low-pass of every coordinate's track, run over each stretch without missing values (a stretch
too short for the filter is left as it is), on the frame times when they are uneven (a phone's variable frame rate:
the track is resampled to an even grid, filtered and read back at the frames' own times).
"""

from __future__ import annotations

import numpy as np
from jaxtyping import Float
from scipy import signal

from infantjax.errors import ConfigError, DataError

__all__ = ["lowpass"]


def lowpass(coords: Float[np.ndarray, "T J D"], fps: float, cutoff_hz: float, *, order: int = 2,
            times: np.ndarray | None = None) -> Float[np.ndarray, "T J D"]:
    """Zero-phase Butterworth low-pass of keypoint tracks.

    Arguments:
        coords: (T, J, D) positions; NaN where missing (kept missing).
        fps: the nominal frame rate (used when ``times`` is None or even).
        cutoff_hz: the cut-off frequency (at least a little below the Nyquist frequency fps / 2).
        order: the filter's order (applied forwards and backwards: twice the attenuation, no delay).
        times: optional (T,) frame times in seconds (a variable frame rate is filtered on its own clock).

    Returns:
        the filtered (T, J, D) float64 array.

    Raises:
        ConfigError: a cut-off at or above the Nyquist frequency, or not positive. DataError: a wrong shape.
    """
    x = np.asarray(coords, dtype=np.float64)
    if x.ndim != 3:
        raise DataError(f"keypoint tracks must be (T, J, D), got shape {x.shape}")
    fps = float(fps)
    if not (np.isfinite(cutoff_hz) and 0 < cutoff_hz < 0.5 * fps):
        raise ConfigError(f"the smoothing cut-off must be between 0 and the Nyquist frequency {0.5 * fps:g} Hz "
                          f"({fps:g} fps), got {cutoff_hz!r}")
    t = None
    if times is not None:
        t = np.asarray(times, dtype=np.float64)
        if t.shape != (len(x),):
            raise DataError(f"times must have one entry per frame ({len(x)}), got shape {t.shape}")
        steps = np.diff(t)
        if len(steps) and np.all(steps > 0) and np.ptp(steps) <= 1e-3 * np.median(steps):
            t = None  # an even clock: filter the samples as they are
    sos = signal.butter(int(order), float(cutoff_hz), fs=fps, output="sos")
    pad = 3 * (2 * len(sos) + 1)
    out = x.copy()
    ok = np.isfinite(x).all(axis=-1)  # (T, J)
    for j in range(x.shape[1]):
        for a, b in _runs(ok[:, j]):
            if b - a <= pad:
                continue
            seg = x[a:b, j]
            if t is None:
                out[a:b, j] = signal.sosfiltfilt(sos, seg, axis=0)
            else:
                ts = t[a:b]
                grid = np.arange(ts[0], ts[-1] + 0.5 / fps, 1.0 / fps)
                if len(grid) <= pad:
                    continue
                even = np.stack([np.interp(grid, ts, seg[:, d]) for d in range(seg.shape[1])], axis=-1)
                smooth = signal.sosfiltfilt(sos, even, axis=0)
                out[a:b, j] = np.stack([np.interp(ts, grid, smooth[:, d]) for d in range(seg.shape[1])], axis=-1)
    return out


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) of every run of True."""
    m = np.concatenate([[False], np.asarray(mask, bool), [False]])
    edges = np.flatnonzero(m[1:] != m[:-1])
    return list(zip(edges[0::2].tolist(), edges[1::2].tolist()))
