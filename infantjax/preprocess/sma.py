"""Limb-track windows of seed 000 (Soran et al., §4.1–4.2) and the baselines' limb-correlation features (§5.1).

A recording is (T, 4, 3) Kinect limb tracks: left hand, left foot, right hand, right foot × x (head to toe), y
(across the body), z (up towards the camera), 30 Hz (:func:`infantjax.synth.kinect_tracks`). As in the paper:

1. frames where the tracking of any limb failed (NaN) are dropped ("we ignored the portions of data when the
   tracking of all four limbs are not available");
2. each recording is standardised to zero mean and unit standard deviation per tracking feature (12 features),
   not across recordings;
3. windows of K = 900 frames (30 s) slide by S = 50 frames: (M − K)/S + 1 windows of a recording of M frames
   (55 from a 2-minute recording of 3,600).

The baselines' feature (§5.1): "average correlation between coordinates of limb positions in each x, y, and z
domain separately" — per axis, the mean Pearson correlation over the 6 pairs of limbs in the window (3 features).
"""

from __future__ import annotations

import numpy as np
from jaxtyping import Float

from infantjax.errors import DataError

__all__ = ["FPS", "STRIDE", "WINDOW", "check_tracks", "correlation_features", "limb_windows", "standardise",
           "window_count"]

WINDOW = 900  # 30 s at 30 Hz (seed 000 §4.2)
STRIDE = 50
FPS = 30.0
LIMBS, AXES = 4, 3


def check_tracks(tracks, where: str = "limb tracks", *, allow_nan: bool = True) -> np.ndarray:
    """(T, 4, 3) float32 tracks, or a :class:`~infantjax.errors.DataError` naming what is wrong.

    Arguments:
        tracks: (T, 4, 3) limb positions (NaN where tracking failed).
        where: what to call them in an error.
        allow_nan: NaN marks a lost limb (True) or is an error (False); infinities are always an error.
    """
    x = np.asarray(tracks, np.float32)
    if x.ndim == 2 and x.shape[1] == LIMBS * AXES:
        x = x.reshape(len(x), LIMBS, AXES)  # the paper's 12 columns: x, y, z of each limb in turn
    if x.ndim != 3:
        raise DataError(f"{where}: expected (frames, 4 limbs, 3 coordinates), got shape {x.shape}")
    if x.shape[1] != LIMBS:
        raise DataError(f"{where}: {x.shape[1]} limbs per frame; seed 000 tracks 4 (left hand, left foot, right "
                        "hand, right foot — infantjax.synth.kinect_tracks order)")
    if x.shape[2] != AXES:
        raise DataError(f"{where}: {x.shape[2]} coordinates per limb; seed 000 tracks x, y, z (3)")
    if np.isinf(x).any():
        raise DataError(f"{where}: {int(np.isinf(x).sum())} infinite values; mark lost tracking with NaN")
    if not allow_nan and np.isnan(x).any():
        raise DataError(f"{where}: {int(np.isnan(x).any(axis=(1, 2)).sum())} frames contain NaN; drop the frames "
                        "where a limb was lost first (limb_windows does this)")
    return x


def window_count(frames: int, window: int = WINDOW, stride: int = STRIDE) -> int:
    """(M − K)/S + 1 windows of K frames at stride S from M frames (0 when M < K)."""
    return 0 if frames < window else (frames - window) // stride + 1


def standardise(tracks: np.ndarray) -> np.ndarray:
    """Zero mean and unit standard deviation per tracking feature over one recording (a feature that does not
    move keeps a unit scale, so it stays finite)."""
    x = np.asarray(tracks, np.float64)
    mean = x.mean(axis=0, keepdims=True)
    std = x.std(axis=0, keepdims=True)
    return ((x - mean) / np.where(std > 0, std, 1.0)).astype(np.float32)


def limb_windows(tracks: Float[np.ndarray, "T 4 3"], *, window: int = WINDOW, stride: int = STRIDE,
                 standardize: bool = True, where: str = "limb tracks") -> Float[np.ndarray, "W K 4 3"]:
    """The windows of one recording (module docstring: lost frames dropped, standardised, slid).

    Arguments:
        tracks: (T, 4, 3) limb positions of one recording (NaN where a limb was lost).
        window, stride: K = 900 and S = 50 frames.
        standardize: standardise the recording per feature first (seed 000; False keeps metres).
        where: what to call the recording in an error.

    Returns:
        (W, K, 4, 3) float32 windows, channels-last (time, limb, axis).
    """
    x = check_tracks(tracks, where)
    if window < 1 or stride < 1:
        raise DataError(f"{where}: window ({window}) and stride ({stride}) must be positive")
    kept = x[~np.isnan(x).any(axis=(1, 2))]
    if len(kept) < window:
        raise DataError(f"{where}: {len(kept)} frames with all four limbs tracked (of {len(x)}) are fewer than one "
                        f"window of {window} ({window / FPS:g} s at {FPS:g} Hz); seed 000 uses 2-minute recordings")
    if standardize:
        kept = standardise(kept)
    starts = np.arange(window_count(len(kept), window, stride)) * stride
    return np.ascontiguousarray(kept[starts[:, None] + np.arange(window)[None, :]])


def correlation_features(windows: Float[np.ndarray, "W K 4 3"]) -> Float[np.ndarray, "W 3"]:
    """The baselines' features: per window and axis, the mean Pearson correlation over the 6 limb pairs.

    Arguments:
        windows: (W, K, 4, 3) limb-track windows.

    Returns:
        (W, 3) float64: the x, y and z features (a limb that does not move correlates 0).
    """
    w = np.asarray(windows, np.float64)
    if w.ndim != 4 or w.shape[2:] != (LIMBS, AXES):
        raise DataError(f"correlation_features: expected windows (W, frames, 4, 3), got shape {w.shape}")
    if not np.isfinite(w).all():
        raise DataError("correlation_features: windows contain NaN/inf; build them with limb_windows")
    c = w - w.mean(axis=1, keepdims=True)
    norm = np.sqrt((c ** 2).sum(axis=1))  # (W, 4, 3)
    cov = np.einsum("wtia,wtja->wija", c, c)  # (W, 4, 4, 3)
    denom = norm[:, :, None, :] * norm[:, None, :, :]
    corr = np.divide(cov, denom, out=np.zeros_like(cov), where=denom > 0)
    i, j = np.triu_indices(LIMBS, 1)
    return corr[:, i, j, :].mean(axis=1)
