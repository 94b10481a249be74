"""Plots of a :class:`~infantjax.clinical.RiskResult` (matplotlib, PNG, written atomically).

* :func:`plot_windows` — the temporal explanation of seed 002 (Fig. 3.12a): one boxplot of the instance predictions
  per 5-second window, coloured by certainty, with the decision threshold (dashed) and the video risk.
* :func:`plot_saliency` — seed 003's vanilla-gradient saliency per feature and per clip.
* :func:`plot_fms` — seed 001's localisation: MAM's FMs probability of every clip over a recording.
* :func:`plot_cam` — the spatial explanation (Fig. 3.12b): joint scores on a template infant skeleton,
  coloured score^¼ on the explanations' sequential scale (:func:`~infantjax.explain.cam_colour`).

No pyplot state is used (figures are created with ``matplotlib.figure.Figure``), so plotting is safe in threads and
never opens a window.
"""

from __future__ import annotations

import os

import numpy as np

from infantjax import skeleton as _skeleton
from infantjax.errors import DataError
from infantjax.explain.cam import cam_colour
from infantjax.io.files import atomic_path

__all__ = ["COLOUR_RGB", "TEMPLATE_POSE", "plot_cam", "plot_fms", "plot_saliency", "plot_windows"]

#: Display colours of the certainty code.
COLOUR_RGB = {"green": "#2e9e44", "yellow": "#e8c21a", "orange": "#ef8a17", "red": "#d7263d",
              "grey": "#8c8c8c"}  # grey: withheld (tracking unreliable), no decision

#: A supine infant in In-Motion 19 order (x right, y up), used to draw CAMs on a template skeleton.
TEMPLATE_POSE = np.array([
    [0.00, 1.05],   # head_top
    [0.00, 0.80],   # nose
    [-0.14, 0.84],  # right_ear
    [0.14, 0.84],   # left_ear
    [0.00, 0.62],   # upper_neck
    [-0.24, 0.52],  # right_shoulder
    [-0.42, 0.28],  # right_elbow
    [-0.50, 0.05],  # right_wrist
    [0.00, 0.50],   # thorax
    [0.24, 0.52],   # left_shoulder
    [0.42, 0.28],   # left_elbow
    [0.50, 0.05],   # left_wrist
    [0.00, 0.00],   # pelvis
    [-0.14, -0.04],  # right_hip
    [-0.26, -0.36],  # right_knee
    [-0.22, -0.70],  # right_ankle
    [0.14, -0.04],  # left_hip
    [0.26, -0.36],  # left_knee
    [0.22, -0.70],  # left_ankle
])


def _save(fig, path: str | os.PathLike) -> str:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    with atomic_path(path, parents=True) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    return os.fspath(path)


def plot_windows(result, path: str | os.PathLike, *, fps: float = 30.0, title: str | None = None) -> str:
    """Boxplots of the instance predictions per window with the threshold and the video risk.

    Arguments:
        result: a :class:`~infantjax.clinical.RiskResult`.
        path: the PNG file to write.
        fps: frame rate of ``result.window_starts`` (the model rate, 30 Hz) for the time axis.
        title: figure title (default: the result's summary).

    Returns:
        the path written.
    """
    from matplotlib.figure import Figure

    p = np.asarray(result.predictions)
    n_windows = p.shape[0]
    fig = Figure(figsize=(max(6.0, 0.28 * n_windows + 2.5), 3.6))
    ax = fig.add_subplot(1, 1, 1)
    positions = np.arange(n_windows)
    box = ax.boxplot(p.T, positions=positions, widths=0.7, patch_artist=True, showfliers=False,
                     medianprops={"color": "black"})
    for patch, colour in zip(box["boxes"], result.window_colour):
        patch.set_facecolor(COLOUR_RGB[colour])
        patch.set_alpha(0.85)
    ax.axhline(result.threshold, color="black", linestyle="--", linewidth=1, label=f"threshold {result.threshold:g}")
    ax.axhline(result.risk, color=COLOUR_RGB[result.colour], linewidth=2, label=f"video risk {result.risk:.2f}")
    ax.set_ylim(0, 1)
    ax.set_ylabel("P(CP) per instance")
    step = max(1, n_windows // 12)
    ax.set_xticks(positions[::step])
    ax.set_xticklabels([f"{s / fps:.0f}" for s in np.asarray(result.window_starts)[::step]])
    ax.set_xlabel("window start (s)")
    ax.legend(loc="upper right", fontsize=8)
    ax.set_title(title or result.summary(), fontsize=10)
    return _save(fig, path)


def plot_cam(cam, path: str | os.PathLike, *, skeleton: str = "in-motion-19", pose: np.ndarray | None = None,
             title: str | None = None) -> str:
    """Joint scores on a template skeleton, each joint coloured score^¼ on the sequential scale
    (:func:`~infantjax.explain.cam_colour`: light blue 0, purple 1).

    Arguments:
        cam: (J,) joint scores in [0, 1] (a video CAM), or (W, J) to draw one panel per window (at most 12).
        path: the PNG file to write.
        skeleton: the keypoint set (its edges are drawn).
        pose: (J, 2) template coordinates (default :data:`TEMPLATE_POSE` for In-Motion 19).
        title: figure title.

    Returns:
        the path written.
    """
    from matplotlib.figure import Figure

    skel = _skeleton.get(skeleton)
    c = np.asarray(cam, dtype=np.float64)
    if c.ndim == 1:
        c = c[None]
    if c.ndim != 2 or c.shape[1] != skel.num_keypoints:
        raise DataError(f"cam must be ({skel.num_keypoints},) or (windows, {skel.num_keypoints}) for {skel.name}, "
                        f"got shape {np.shape(cam)}")
    if pose is None:
        if skel.num_keypoints != len(TEMPLATE_POSE):
            raise DataError(f"no template pose for skeleton {skel.name!r}; pass pose=(J, 2) coordinates")
        pose = TEMPLATE_POSE
    c = c[:12]
    fig = Figure(figsize=(2.6 * len(c) + 0.8, 3.6))
    axes = []
    for k, scores in enumerate(c):
        ax = fig.add_subplot(1, len(c), k + 1)
        axes.append(ax)
        for a, b in skel.edges:
            ax.plot(pose[[a, b], 0], pose[[a, b], 1], color="0.6", linewidth=2, zorder=1)
        ax.scatter(pose[:, 0], pose[:, 1], c=cam_colour(scores), s=110, edgecolors="black", linewidths=0.5,
                   zorder=2)
        ax.set_aspect("equal")
        ax.axis("off")
        if len(c) > 1:
            ax.set_title(f"window {k}", fontsize=9)
    # the legend: the sequential scale with its ticks where score^¼ puts them
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import LinearSegmentedColormap, PowerNorm

    from infantjax.explain.colours import SEQUENTIAL_HEX

    scale = ScalarMappable(PowerNorm(0.25, vmin=0.0, vmax=1.0),
                           LinearSegmentedColormap.from_list("infantjax-sequential", list(SEQUENTIAL_HEX)))
    bar = fig.colorbar(scale, ax=axes, fraction=0.05, pad=0.02, ticks=[0, 0.01, 0.1, 0.5, 1])
    bar.ax.set_yticklabels(["0", "0.01", "0.1", "0.5", "1"], fontsize=8)
    bar.set_label("CAM", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    return _save(fig, path)


def plot_saliency(saliency, path: str | os.PathLike, *, names: list[str] | None = None, clip_stride: int = 8,
                  fps: float = 25.0, title: str | None = None) -> str:
    """Seed 003's saliency of one video: mean |∂p/∂x| per feature (bars) and per clip over time (line, with the
    attention weight of every clip).

    Arguments:
        saliency: an :class:`~infantjax.explain.saliency.Saliency`.
        path: the PNG to write.
        names: the 46 feature names (default :func:`~infantjax.explain.saliency.feature_names`).
        clip_stride, fps: place clips on a time axis (stride 8 samples of the 4500-sample, 25 fps recording).
        title: figure title.

    Returns:
        the path written.
    """
    from matplotlib.figure import Figure

    from infantjax.explain.saliency import feature_names

    names = feature_names() if names is None else list(names)
    per_feature, per_clip = np.asarray(saliency.per_feature), np.asarray(saliency.per_clip)
    if len(names) != len(per_feature):
        raise DataError(f"plot_saliency: {len(names)} names for {len(per_feature)} features")
    fig = Figure(figsize=(11, 7))
    ax1, ax2 = fig.subplots(2, 1, gridspec_kw={"height_ratios": [3, 2]})
    ax1.bar(np.arange(len(per_feature)), per_feature, color="#3b6fb6")
    ax1.set_xticks(np.arange(len(names)), names, rotation=90, fontsize=6)
    ax1.set_ylabel("mean |∂p/∂x|")
    t = np.arange(len(per_clip)) * clip_stride / fps
    ax2.plot(t, per_clip, color="#3b6fb6", label="saliency")
    ax2.set_xlabel("clip start (s)")
    ax2.set_ylabel("mean |∂p/∂x|")
    twin = ax2.twinx()
    twin.plot(t, np.asarray(saliency.attention), color="#d7263d", alpha=0.6, label="attention")
    twin.set_ylabel("attention weight")
    fig.suptitle(title or f"saliency (p = {saliency.probability:.2f})")
    fig.tight_layout()
    return _save(fig, path)


def plot_fms(clip_probability, path: str | os.PathLike, *, clip_starts=None, clip_length: int = 240,
             fps: float = 25.0, truth=None, threshold: float = 0.5, risk: float | None = None,
             title: str | None = None) -> str:
    """Seed 001's localisation: the FMs probability of every clip of one recording over time (MAM), the threshold
    above which a clip counts as FMs, the FMs frequency, and the FMs ground truth (shaded) when known.

    Arguments:
        clip_probability: (clips,) per-clip FMs probabilities (``MamModel.predict(...)["clip_fms"][i]``).
        path: the PNG to write.
        clip_starts: (clips,) first frame of every clip (default consecutive clips).
        clip_length, fps: a clip's length in frames and the frame rate (to place clips in seconds).
        truth: (clips,) 0/1 FMs ground truth of the clips, or None.
        threshold: FMs probability above which a clip is an FMs clip.
        risk: the recording's risk probability, shown in the title.
        title: figure title.

    Returns:
        the path written.
    """
    from matplotlib.figure import Figure

    p = np.asarray(clip_probability, np.float64).reshape(-1)
    if p.size == 0 or not np.isfinite(p).all():
        raise DataError("plot_fms: clip probabilities must be a non-empty finite vector")
    starts = np.arange(len(p)) * clip_length if clip_starts is None else np.asarray(clip_starts, np.float64)
    if starts.shape != p.shape:
        raise DataError(f"plot_fms: {starts.shape[0]} clip starts for {p.size} clips")
    if not fps > 0:
        raise DataError(f"plot_fms: fps must be > 0, got {fps!r}")
    centre = (starts + clip_length / 2.0) / fps
    fig = Figure(figsize=(10, 3.2))
    ax = fig.subplots()
    if truth is not None:
        t = np.asarray(truth).reshape(-1)
        if t.shape != p.shape:
            raise DataError(f"plot_fms: {t.size} ground-truth labels for {p.size} clips")
        half = (clip_length / fps) / 2.0
        for c, on in zip(centre, t):
            if on:
                ax.axvspan(c - half, c + half, color="#2e9e44", alpha=0.12, lw=0)
    ax.plot(centre, p, color="#3b6fb6", marker=".", label="FMs probability")
    ax.axhline(threshold, color="0.4", ls="--", lw=1)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("clip centre (s)")
    ax.set_ylabel("P(FMs)")
    frequency = float(np.mean(p > threshold))
    head = f"FMs frequency {frequency:.2f}" + ("" if risk is None else f", risk {risk:.2f}")
    ax.set_title(title or head)
    if title:
        fig.suptitle(head, fontsize=9)
    fig.tight_layout()
    return _save(fig, path)
