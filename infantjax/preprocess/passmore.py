"""The smartphone preprocessing pipeline of seed 003 (Passmore et al.) as coded in ``epassmore/infant-movements``
(other_seeds_reference §1.2–1.4).

DeepLabCut keypoints of the 18-point ``passmore-18`` set (T, 18, 2) with likelihoods (T, 18) go through, in the
reference's order:

1. :func:`quality_control` — likelihood ≤ 0.2 → missing; keep the video if the mean over bodyparts of the % of
   frames labelled is ≥ 70;
2. :func:`align_torso` — per-frame rigid fit (Kabsch) of the 4 torso points onto one template torso whose
   mid-shoulder − mid-hip axis points along −x;
3. :func:`remove_outliers` — a body ellipse around the mid-hip (1.5 L × 1.0 L, L = median crown–mid-hip length),
   then a per-bodypart ellipse around each part's median (0.2 h × 0.3 w);
4. :func:`gap_fill` — pandas-style linear interpolation (``limit=5``) → centred Blackman rolling mean →
   ``IterativeImputer(max_iter=30, random_state=0)`` → replace only the originally missing values;
5. :func:`size_normalise` — subtract each frame's mid-hip, divide by L;
6. :func:`time_normalise` — cubic interpolation to 4500 samples whatever the duration or fps;

then :func:`passmore_features` builds the 46 classifier features (36 coordinates / 100, demeaned, plus 10 joint
angles in radians, demeaned; divided by their std and clipped to ±4) and :func:`clips` cuts 128-sample clips at
stride 8 (547 clips from 4500 samples).

**Frame size.** The reference reads ``height := CAP_PROP_FRAME_WIDTH`` and ``width := CAP_PROP_FRAME_HEIGHT``
(deliberately swapped, so its "h" follows the infant's long axis). Functions here take the true image size
``frame_size=(height, width)`` in pixels and apply the swap themselves: the torso ellipse has semi-axes
0.07 × image height along x and 0.10 × image width along y; the bodypart ellipse 0.2 × image width along x and
0.3 × image height along y.

Missing values are NaN throughout; only :func:`gap_fill` fills them (and :func:`align_torso` fills the torso
internally to fit its transforms, as the reference does, without writing those values out).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import warnings
from typing import Literal

import numpy as np
from jaxtyping import ArrayLike, Float
from scipy.interpolate import interp1d
from scipy.signal import get_window

from infantjax import skeleton as _skeleton
from infantjax.errors import ConfigError, DataError
from infantjax.metrics.classification import as_floats
from infantjax.preprocess.cp import _median_length
from infantjax.sequence import SkeletonSequence

__all__ = [
    "JOINT_ANGLES",
    "QualityReport",
    "align_torso",
    "blackman_rolling_mean",
    "clips",
    "gap_fill",
    "infant_length",
    "interpolate_limited",
    "iterative_impute",
    "joint_angles",
    "kabsch",
    "passmore_features",
    "preprocess_passmore",
    "quality_control",
    "remove_outliers",
    "size_normalise",
    "time_normalise",
    "torso_template",
]

log = logging.getLogger(__name__)

PASSMORE = _skeleton.get("passmore-18")
CROWN, L_SHOULDER, L_HIP, R_SHOULDER, R_HIP = 0, 4, 7, 11, 14
TORSO = (L_SHOULDER, R_SHOULDER, L_HIP, R_HIP)  # the reference's column order for the torso

# The 10 joint angles (a, b, c): the inner angle at b between b→a and b→c (utils.get_named_angles). Names follow
# the DLC order (4–10 left, 11–17 right); the reference's comments call them the other way round.
JOINT_ANGLES: tuple[tuple[str, tuple[int, int, int]], ...] = (
    ("left_shoulder", (11, 4, 5)),
    ("left_elbow", (6, 5, 4)),
    ("left_hip", (8, 7, 4)),
    ("left_knee", (7, 8, 9)),
    ("left_ankle", (10, 9, 8)),
    ("right_shoulder", (12, 11, 4)),
    ("right_elbow", (11, 12, 13)),
    ("right_hip", (11, 14, 15)),
    ("right_knee", (16, 15, 14)),
    ("right_ankle", (15, 16, 17)),
)


# ---------------------------------------------------------------------------------------------------- validation
def _coords(coords: ArrayLike, where: str, allow_nan: bool = True) -> np.ndarray:
    x = np.asarray(coords)
    if x.ndim != 3 or x.shape[1:] != (18, 2):
        raise DataError(f"{where} needs passmore-18 coordinates of shape (T, 18, 2), got {x.shape}; map other "
                        "keypoint sets with sequence.map_to('passmore-18')")
    if not np.issubdtype(x.dtype, np.number):
        raise DataError(f"{where} needs numeric coordinates, got dtype {x.dtype}")
    x = x.astype(np.float64)
    if np.isinf(x).any():
        raise DataError(f"{where}: coordinates contain inf; mark missing keypoints with NaN")
    if not allow_nan and np.isnan(x).any():
        raise DataError(f"{where} needs gap-free coordinates; run gap_fill first")
    if x.shape[0] == 0:
        raise DataError(f"{where}: the recording has no frames")
    return x


def _frame_size(frame_size) -> tuple[float, float]:
    try:
        h, w = (float(v) for v in frame_size)
    except (TypeError, ValueError):
        raise ConfigError(f"frame_size must be (height, width) in pixels, got {frame_size!r}") from None
    if not (h > 0 and w > 0 and math.isfinite(h) and math.isfinite(w)):
        raise ConfigError(f"frame_size must be two positive numbers (height, width), got {frame_size!r}")
    return h, w


def _window_frames(fps: float) -> int:
    try:
        fps = float(fps)
    except (TypeError, ValueError):
        fps = math.nan
    if not (math.isfinite(fps) and fps >= 1):
        raise ConfigError(f"fps must be a frame rate >= 1, got {fps!r}")
    return int(fps)  # the reference's rolling window is int(framerate) frames


def _ellipse_outside(dx: np.ndarray, dy: np.ndarray, ax: float, ay: float) -> np.ndarray:
    """True where (dx/ax)² + (dy/ay)² > 1 (NaN compares False, so missing points are never flagged)."""
    with np.errstate(invalid="ignore"):
        return (dx ** 2 / ax ** 2 + dy ** 2 / ay ** 2) > 1


# ---------------------------------------------------------------------------------------------------- 1. QC
@dataclasses.dataclass(frozen=True)
class QualityReport:
    """Outcome of :func:`quality_control`."""

    coords: np.ndarray            # (T, 18, 2) with low-likelihood points set to NaN
    labelled_percent: np.ndarray  # (18,) % of frames in which each bodypart is labelled
    mean_labelled: float          # mean of labelled_percent
    passed: bool                  # mean_labelled >= min_labelled


def quality_control(coords: Float[ArrayLike, "T 18 2"], likelihood: Float[ArrayLike, "T 18"] | None,
                    cutoff: float = 0.2, min_labelled: float = 70.0) -> QualityReport:
    """Drop low-confidence points and decide whether the video is usable (seed 003: > 70 % labelled).

    A point with likelihood ≤ ``cutoff`` becomes NaN. The video passes when the mean over the 18 bodyparts of the
    % of frames in which the part is labelled is ≥ ``min_labelled`` (the reference's test is ``>=``).
    """
    x = _coords(coords, "quality_control").copy()
    if likelihood is not None:
        lik = as_floats(likelihood, "likelihood")
        if lik.shape != x.shape[:2]:
            raise DataError(f"quality_control: likelihood must be (T, 18) = {x.shape[:2]}, got {lik.shape}")
        x[lik <= cutoff] = np.nan
    labelled = 100.0 * np.mean(~np.isnan(x[..., 0]), axis=0)
    mean = float(np.mean(labelled))
    return QualityReport(x, labelled, mean, mean >= min_labelled)


# ---------------------------------------------------------------------------------------------------- 2. torso
def torso_template(coords: Float[ArrayLike, "T 18 2"], mode: Literal["reference", "corrected"] = "reference"
                   ) -> tuple[int, np.ndarray]:
    """Pick the template frame and return ``(frame index, template (4, 2))`` in L/R shoulder, L/R hip order.

    ``mode="reference"`` reproduces ``nanargmin`` of the **signed** sum over the 8 torso coordinates of
    (points − median) — most likely meant as "closest to the median" (reference quirk). ``"corrected"`` takes the
    frame with the smallest squared distance to the median. The template is rotated so its mid-shoulder − mid-hip
    vector points along ``[−1, 0]`` and centred on the mean of its 4 points.
    """
    if mode not in ("reference", "corrected"):
        raise ConfigError(f"template mode must be 'reference' or 'corrected', got {mode!r}")
    x = _coords(coords, "torso_template")
    torso = x[:, TORSO, :].reshape(len(x), 8)
    torso[np.isnan(torso).any(axis=1)] = np.nan  # any missing torso coordinate voids the frame
    if np.isnan(torso).all():
        raise DataError("torso_template: no frame has all four torso points (shoulders and hips)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        med = np.nanmedian(torso, axis=0)
    dev = torso - med
    score = dev.sum(axis=1) if mode == "reference" else (dev ** 2).sum(axis=1)
    index = int(np.nanargmin(score))
    pts = torso[index].reshape(4, 2)
    axis = 0.5 * (pts[0] + pts[1]) - 0.5 * (pts[2] + pts[3])  # mid-shoulder − mid-hip
    target = np.array([-1.0, 0.0])
    angle = math.atan2(axis[0] * target[1] - axis[1] * target[0], axis @ target)
    c, s = math.cos(angle), math.sin(angle)
    rotated = pts @ np.array([[c, -s], [s, c]]).T
    return index, rotated - rotated.mean(axis=0)


def kabsch(source: Float[ArrayLike, "... N 2"], target: Float[ArrayLike, "N 2"],
           mode: Literal["reference", "corrected"] = "reference") -> tuple[np.ndarray, np.ndarray]:
    """Least-squares rigid transform (rotation with a reflection guard + translation) taking ``source`` onto
    ``target``: ``target ≈ source @ R.T + d``. Batched over leading axes of ``source``.

    The reference (``ls_fit``) computes ``R = U · diag(1, det(U·Vhᵀ)) · Vhᵀ`` from NumPy's ``svd`` of
    target/source cross-covariance, using ``Vhᵀ`` where Kabsch has ``Vh`` (``mode="reference"``). The two agree
    whenever LAPACK returns a symmetric (reflection) ``Vh``, which it does for nearly all near-rigid fits (a frame
    close to a rotated copy of the template: > 95 % of real torsos in the tests) but only about half of arbitrary
    point sets; otherwise the reference rotation is wrong. ``mode="corrected"`` is the textbook
    ``U · diag(1, det(U·Vh)) · Vh``.

    Returns:
        ``(R (..., 2, 2), d (..., 2))``.
    """
    if mode not in ("reference", "corrected"):
        raise ConfigError(f"kabsch mode must be 'reference' or 'corrected', got {mode!r}")
    src = as_floats(source, "source")
    tgt = as_floats(target, "target")
    src_c = src.mean(axis=-2, keepdims=True)
    tgt_c = tgt.mean(axis=-2, keepdims=True)
    # cross-covariance of target (rows: coordinates) with source, as the reference builds it
    cov = np.swapaxes(tgt - tgt_c, -1, -2) @ (src - src_c)  # (..., 2, 2)
    u, _, vh = np.linalg.svd(cov)
    v_used = np.swapaxes(vh, -1, -2) if mode == "reference" else vh
    det = np.linalg.det(u @ v_used)
    guard = np.zeros(det.shape + (2, 2))
    guard[..., 0, 0] = 1.0
    guard[..., 1, 1] = det
    rot = u @ guard @ v_used
    d = tgt_c[..., 0, :] - (rot @ src_c[..., 0, :, None])[..., 0]
    return rot, d


def align_torso(coords: Float[ArrayLike, "T 18 2"], frame_size: tuple[float, float], fps: float,
                mode: Literal["reference", "corrected"] = "reference") -> Float[np.ndarray, "T 18 2"]:
    """Remove camera motion: fit every frame's torso onto one template torso and move all 18 points with it.

    As coded (other_seeds_reference §1.2 step 2): torso frames with any missing point are voided; the template is
    picked by :func:`torso_template`; torso points outside an ellipse around their median (0.07 × image height
    along x, 0.10 × image width along y — the reference's swapped h/w) are masked; the masked torso is smoothed
    with a centred Blackman rolling mean (``int(fps)`` frames, ≥ 5 observations), interpolated (pandas linear,
    ``limit=5``) and imputed (``IterativeImputer``); that fills the *unmasked* torso's gaps (so masked outliers
    still take part in the fit, as in the reference); a rigid transform per frame (:func:`kabsch`) maps the torso
    onto the template and is applied to all points. Missing points stay missing.

    ``mode`` selects the reference or corrected template picker and Kabsch rotation.
    """
    x = _coords(coords, "align_torso")
    h, w = _frame_size(frame_size)
    window = _window_frames(fps)
    T = len(x)
    _, template = torso_template(x, mode)
    torso = x[:, TORSO, :].copy()  # (T, 4, 2)
    torso[np.isnan(torso).any(axis=(1, 2))] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        med = np.nanmedian(torso, axis=0)
    # reference: res_x = 0.07 * vid_res_w, res_y = 0.10 * vid_res_h with vid_res_w = image height, h = image width
    out = _ellipse_outside(torso[..., 0] - med[:, 0], torso[..., 1] - med[:, 1], 0.07 * h, 0.10 * w)
    masked = torso.copy()
    masked[out] = np.nan
    flat = blackman_rolling_mean(masked.reshape(T, 8), window)
    flat = interpolate_limited(flat, limit=5)
    flat = iterative_impute(flat, where="align_torso (torso)")
    filled = torso.reshape(T, 8).copy()
    gaps = np.isnan(filled)
    filled[gaps] = flat[gaps]
    rot, d = kabsch(filled.reshape(T, 4, 2), template, mode)
    moved = np.einsum("tij,tkj->tki", rot, x) + d[:, None, :]
    return moved  # NaN points stay NaN through the affine map


# ---------------------------------------------------------------------------------------------------- 3. outliers
def infant_length(coords: Float[ArrayLike, "T 18 2"]) -> float:
    """L: median over frames of the crown–mid-hip distance (the infant's unit length in seed 003)."""
    x = _coords(coords, "infant_length")
    mid_hip = 0.5 * (x[:, L_HIP] + x[:, R_HIP])
    dist = np.linalg.norm(x[:, CROWN] - mid_hip, axis=-1)
    return _median_length(dist, "infant_length: no frame has the crown and both hips",
                          "infant_length: the median crown–mid-hip distance is 0; the keypoints look degenerate")


def remove_outliers(coords: Float[ArrayLike, "T 18 2"], frame_size: tuple[float, float]
                    ) -> tuple[Float[np.ndarray, "T 18 2"], float]:
    """Two-stage ellipse test (reference ``remove_outliers``; seed 003 "ellipse envelope").

    1. Body: centre every point on its frame's mid-hip; mask points outside 1.5 L along x and 1.0 L along y
       (the body axis lies along x after :func:`align_torso`), L = :func:`infant_length`.
    2. Per bodypart: centre each part on its median; mask points outside 0.2 × image width along x and 0.3 ×
       image height along y (the reference's swapped "0.2 h × 0.3 w").

    Returns:
        ``(coords with outliers set to NaN, % of the labelled points removed)``.
    """
    x = _coords(coords, "remove_outliers").copy()
    h, w = _frame_size(frame_size)
    length = infant_length(x)
    before = int(np.sum(~np.isnan(x[..., 0])))
    mid_hip = 0.5 * (x[:, L_HIP] + x[:, R_HIP])
    rel = x - mid_hip[:, None, :]
    x[_ellipse_outside(rel[..., 0], rel[..., 1], 1.5 * length, 1.0 * length)] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        med = np.nanmedian(x, axis=0)  # (18, 2)
    rel = x - med
    x[_ellipse_outside(rel[..., 0], rel[..., 1], 0.2 * w, 0.3 * h)] = np.nan
    after = int(np.sum(~np.isnan(x[..., 0])))
    removed = 100.0 * (before - after) / before if before else 0.0
    log.debug("remove_outliers: %d of %d labelled points removed (%.2f %%)", before - after, before, removed)
    return x, removed


# ---------------------------------------------------------------------------------------------------- 4. gaps
def interpolate_limited(values: Float[ArrayLike, "T C"], limit: int = 5) -> Float[np.ndarray, "T C"]:
    """pandas ``DataFrame.interpolate(method='linear', limit=limit)`` per column (forward direction).

    The first ``limit`` missing values of every gap after the first observation are filled — including the first
    ``limit`` of a longer gap, so it is **not** "gaps of ≤ limit only" — linearly between the bracketing
    observations, or with the last observation after it; values before the first observation stay missing.
    """
    v = np.array(values, dtype=np.float64)
    if v.ndim != 2:
        raise DataError(f"interpolate_limited needs a (T, C) matrix, got shape {v.shape}")
    if isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit < 1:
        raise ConfigError(f"limit must be a positive integer, got {limit!r}")
    T = v.shape[0]
    t = np.arange(T)
    for c in range(v.shape[1]):
        ok = ~np.isnan(v[:, c])
        if ok.all() or not ok.any():
            continue
        last_obs = np.maximum.accumulate(np.where(ok, t, -1))  # index of the last observation at or before t
        fill = ~ok & (last_obs >= 0) & (t - last_obs <= limit)
        v[fill, c] = np.interp(t[fill], t[ok], v[ok, c])
    return v


def blackman_rolling_mean(values: Float[ArrayLike, "T C"], window: int, min_periods: int = 5
                          ) -> Float[np.ndarray, "T C"]:
    """pandas ``rolling(window, min_periods, center=True, win_type='blackman').mean()`` per column.

    Missing values are skipped: the weighted mean uses the symmetric Blackman weights of the observed values in
    the window, and is missing where fewer than ``min_periods`` values are observed. With ``center=True`` pandas
    places the window over ``[t − (window − 1 − (window − 1)//2), t + (window − 1)//2]``.
    """
    v = as_floats(values, "values")
    if v.ndim != 2:
        raise DataError(f"blackman_rolling_mean needs a (T, C) matrix, got shape {v.shape}")
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 1:
        raise ConfigError(f"window must be a positive integer, got {window!r}")
    weights = get_window("blackman", int(window), fftbins=False)
    T = v.shape[0]
    ahead = (window - 1) // 2
    behind = window - 1 - ahead
    ok = ~np.isnan(v)
    filled = np.where(ok, v, 0.0)
    padded_v = np.pad(filled, ((behind, ahead), (0, 0)))
    padded_ok = np.pad(ok.astype(np.float64), ((behind, ahead), (0, 0)))
    num = np.zeros_like(filled)
    den = np.zeros_like(filled)
    count = np.zeros_like(filled)
    for k in range(window):  # weight k applies to the k-th oldest value in the window
        num += weights[k] * padded_v[k:k + T]
        den += weights[k] * padded_ok[k:k + T]
        count += padded_ok[k:k + T]
    with np.errstate(invalid="ignore", divide="ignore"):
        out = num / den
    out[count < min_periods] = np.nan
    return out


def iterative_impute(values: Float[ArrayLike, "T C"], *, max_iter: int = 30, random_state: int = 0,
                     where: str = "iterative_impute") -> Float[np.ndarray, "T C"]:
    """scikit-learn ``IterativeImputer(max_iter, random_state)`` (BayesianRidge) fitted and applied to a matrix.

    A column with no observation cannot be imputed (scikit-learn would drop it) and is an error. The fit runs with
    one BLAS thread (see the comment below); a matrix without gaps is returned as it is, without a fit.
    """
    from sklearn.experimental import enable_iterative_imputer  # noqa: F401
    from sklearn.impute import IterativeImputer
    from threadpoolctl import threadpool_limits  # a scikit-learn dependency

    v = as_floats(values, "values")
    empty = np.flatnonzero(np.isnan(v).all(axis=0))
    if empty.size:
        raise DataError(f"{where}: column(s) {empty.tolist()} are never observed, so they cannot be imputed; "
                        "the keypoint is missing (or an outlier) in every frame")
    if not np.isnan(v).any():
        return v.copy()
    # One BLAS thread: the imputer runs hundreds of BayesianRidge fits, each an SVD of a small (T, C − 1) matrix;
    # a multi-threaded OpenBLAS spends most of that time synchronising its threads, 6–40× slower on a busy 2-core
    # machine (a 20-s video: 2.7 s with one thread, 17–100 s with two), for the same result.
    with warnings.catch_warnings(), threadpool_limits(limits=1, user_api="blas"):
        warnings.simplefilter("ignore")  # ConvergenceWarning after max_iter is expected
        return IterativeImputer(max_iter=max_iter, random_state=random_state).fit_transform(v)


def gap_fill(coords: Float[ArrayLike, "T 18 2"], fps: float) -> Float[np.ndarray, "T 18 2"]:
    """Fill missing points (reference ``gap_fill``): linear interpolation with pandas ``limit=5`` → centred
    Blackman rolling mean over ``int(fps)`` frames (≥ 5 observations) → ``IterativeImputer(max_iter=30,
    random_state=0)`` on the 36 columns → every **originally** missing value is taken from that smoothed, imputed
    matrix (observed values are untouched; the interpolated values themselves are never used directly)."""
    x = _coords(coords, "gap_fill")
    window = _window_frames(fps)
    T = len(x)
    flat = x.reshape(T, 36)
    smooth = blackman_rolling_mean(interpolate_limited(flat, 5), window)
    smooth = iterative_impute(smooth, where="gap_fill")
    out = flat.copy()
    gaps = np.isnan(out)
    out[gaps] = smooth[gaps]
    return out.reshape(T, 18, 2)


# ---------------------------------------------------------------------------------------------------- 5–6. normalise
def size_normalise(coords: Float[ArrayLike, "T 18 2"]) -> tuple[Float[np.ndarray, "T 18 2"], float]:
    """Centre every frame on its mid-hip and divide by L (median crown–mid-hip length). Returns ``(coords, L)``."""
    x = _coords(coords, "size_normalise")
    length = infant_length(x)
    mid_hip = 0.5 * (x[:, L_HIP] + x[:, R_HIP])
    return (x - mid_hip[:, None, :]) / length, length


def time_normalise(coords: Float[ArrayLike, "T 18 2"], num_samples: int = 4500,
                   times: Float[ArrayLike, " T"] | None = None) -> Float[np.ndarray, "S 18 2"]:
    """Cubic interpolation (``interp1d(kind='cubic')``) of every coordinate over the frame index onto
    ``linspace(0, T − 1, num_samples)`` — 4500 samples regardless of duration and fps (25 fps only for 3-minute
    videos). Needs gap-free input and at least 4 frames. With the frames' ``times`` (a phone's variable frame
    rate) the interpolation is over time instead, onto evenly spaced times from the first frame's to the last's."""
    x = _coords(coords, "time_normalise", allow_nan=False)
    if isinstance(num_samples, bool) or not isinstance(num_samples, (int, np.integer)) or num_samples < 2:
        raise ConfigError(f"num_samples must be an integer >= 2, got {num_samples!r}")
    T = len(x)
    if T < 4:
        raise DataError(f"time_normalise needs at least 4 frames for cubic interpolation, got {T}")
    axis = np.arange(T, dtype=np.float64) if times is None else np.asarray(times, dtype=np.float64)
    if axis.shape != (T,) or (np.diff(axis) <= 0).any():
        raise DataError(f"time_normalise needs one strictly increasing time per frame, got shape {axis.shape}")
    f = interp1d(axis, x.reshape(T, 36), kind="cubic", axis=0)
    return f(np.linspace(axis[0], axis[-1], num_samples)).reshape(num_samples, 18, 2)


# ---------------------------------------------------------------------------------------------------- features
def joint_angles(coords: Float[ArrayLike, "... 18 2"], degrees: bool = False) -> Float[np.ndarray, "... 10"]:
    """The 10 inner joint angles of :data:`JOINT_ANGLES`, in [0, π] (or [0°, 180°]).

    As coded (``angle_between``): the bearing of each arm of the angle is ``atan2(dx, dy)`` (x first) taken
    modulo 360°, and the inner angle is ``min(θ, 360° − θ)`` of their difference θ. Missing points give NaN.
    """
    x = as_floats(coords, "coords")
    if x.ndim < 2 or x.shape[-2:] != (18, 2):
        raise DataError(f"joint_angles needs (..., 18, 2) passmore-18 coordinates, got shape {x.shape}")
    idx = np.array([t for _, t in JOINT_ANGLES])  # (10, 3)
    a, b, c = x[..., idx[:, 0], :], x[..., idx[:, 1], :], x[..., idx[:, 2], :]
    bearing_a = np.degrees(np.arctan2(a[..., 0] - b[..., 0], a[..., 1] - b[..., 1])) % 360.0
    bearing_c = np.degrees(np.arctan2(c[..., 0] - b[..., 0], c[..., 1] - b[..., 1])) % 360.0
    theta = (bearing_c - bearing_a) % 360.0
    inner = np.minimum(theta, 360.0 - theta)
    return inner if degrees else np.deg2rad(inner)


def passmore_features(coords: Float[ArrayLike, "T 18 2"], scale: float = 100.0) -> Float[np.ndarray, "T 46"]:
    """The 46 classifier features of seed 003 (``utils.process_data`` with ``add_features``, no smoothing).

    36 coordinates (node-major x, y) divided by ``scale`` (the reference's /100) with each video's mean removed,
    then the 10 :func:`joint_angles` in radians with their mean removed; missing values → 0; every feature
    divided by its standard deviation over time and clipped to [−4, 4]. Means and stds ignore missing values (the
    reference's ``np.mean`` turns a feature with one missing value into NaN throughout: the mean is NaN, the
    demeaned column NaN, ``nan_to_num`` makes it 0 and the division by its standard deviation 0/0; on gap-filled
    input they agree); a constant feature stays 0 (the reference would divide 0 by 0).

    Arguments:
        coords: (T, 18, 2) passmore-18 coordinates (after :func:`time_normalise`: infant lengths), NaN = missing.
        scale: the reference's divisor of the coordinates (100).
    Returns:
        (T, 46) float32 features: 36 coordinates (node-major x, y), then the 10 joint angles.
    """
    x = _coords(coords, "passmore_features")
    if not (isinstance(scale, (int, float)) and scale > 0):
        raise ConfigError(f"scale must be a positive number, got {scale!r}")
    T = len(x)
    pos = x.reshape(T, 36) / scale
    ang = joint_angles(pos.reshape(T, 18, 2))
    feats = np.concatenate([pos, ang], axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        feats = feats - np.nanmean(feats, axis=0)
        feats = np.nan_to_num(feats, nan=0.0)
        std = feats.std(axis=0)
    constant = std == 0
    if constant.any():
        log.warning("passmore_features: %d constant feature(s) left at 0", int(constant.sum()))
    feats = np.where(constant, 0.0, feats / np.where(constant, 1.0, std))
    return np.clip(feats, -4.0, 4.0).astype(np.float32)


def clips(features: Float[ArrayLike, "T F"], length: int = 128, stride: int = 8) -> Float[np.ndarray, "N L F"]:
    """All ``length``-sample windows at stride 1, keeping every ``stride``-th (seed 003: 547 clips of 128 from 4500).

    Returns:
        (N, length, F) clips, channels last (the reference stores (N, F, length)).
    """
    f = np.asarray(features)
    if f.ndim != 2:
        raise DataError(f"clips needs a (T, F) feature matrix, got shape {f.shape}")
    for v, name in ((length, "length"), (stride, "stride")):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ConfigError(f"{name} must be a positive integer, got {v!r}")
    if f.shape[0] < length:
        raise DataError(f"clips: {f.shape[0]} samples are fewer than one clip of {length}")
    starts = np.arange(0, f.shape[0] - length + 1, stride)
    return f[starts[:, None] + np.arange(length)[None, :]]


# ---------------------------------------------------------------------------------------------------- pipeline
def preprocess_passmore(sequence: SkeletonSequence, frame_size: tuple[float, float], *, cutoff: float = 0.2,
                        min_labelled: float = 70.0, num_samples: int = 4500,
                        mode: Literal["reference", "corrected"] = "reference") -> SkeletonSequence:
    """Run steps 1–6 on one ``passmore-18`` recording (confidences are the DLC likelihoods).

    Arguments:
        sequence: (T, 18, 2) DLC keypoints in pixels, ``confidence`` = likelihoods (None: nothing is dropped).
        frame_size: (height, width) of the video in pixels.
        cutoff, min_labelled: quality-control thresholds (reference 0.2 and 70 %).
        num_samples: samples after time normalisation (reference 4500).
        mode: template picker and Kabsch rotation of :func:`align_torso` (reference quirks or corrected).
    Returns:
        A (num_samples, 18, 2) sequence in infant lengths, centred per frame on the mid-hip, with
        ``fps = num_samples / duration`` and metadata ``"preprocess"`` (QC %, infant length L in aligned pixels,
        % of outliers removed).
    Raises:
        DataError: when the video fails quality control (the message gives the % labelled).
    """
    if not isinstance(sequence, SkeletonSequence):
        raise DataError(f"preprocess_passmore needs a SkeletonSequence, got {type(sequence).__name__}")
    sequence.require("passmore-18", min_frames=4, where="preprocess_passmore")
    qc = quality_control(sequence.coords, sequence.confidence, cutoff, min_labelled)
    if not qc.passed:
        raise DataError(f"preprocess_passmore: only {qc.mean_labelled:.1f} % of body points are labelled on "
                        f"average (quality control needs >= {min_labelled:g} %); the video is not usable")
    x = align_torso(qc.coords, frame_size, sequence.fps, mode)
    x, removed = remove_outliers(x, frame_size)
    x = gap_fill(x, sequence.fps)
    x, length = size_normalise(x)
    # a phone's variable frame rate: normalise over the frames' times, not their indices
    x = time_normalise(x, num_samples, sequence.times if sequence.variable_frame_rate else None)
    info = {"pipeline": "passmore", "mean_labelled": qc.mean_labelled, "outliers_removed_percent": removed,
            "infant_length": length, "source_fps": sequence.fps, "source_frames": sequence.num_frames,
            "mode": mode}
    return SkeletonSequence(x.astype(np.float32), num_samples / sequence.duration, "passmore-18", None,
                            {**sequence.metadata, "preprocess": info})
