"""Explanations of ensemble predictions: CAM per joint (spatial) and per-window distributions (temporal), plots;
vanilla-gradient saliency of the smartphone model (seed 003, :func:`video_saliency`); the FMs probability of MAM's
clips over a recording (seed 001, :func:`plot_fms`); keypoints drawn on video frames (:func:`draw_keypoints`, the
labelled video).

    from infantjax.explain import plot_windows, plot_cam
    plot_windows(result, "windows.png"); plot_cam(result.cam, "cam.png")

See ``docs/explain.md``.
"""

from infantjax.explain.cam import DecisionCam, aggregate_cam, cam_colour, decision_cam, joint_scores
from infantjax.explain.colours import SEQUENTIAL_HEX, sequential_colour, sequential_hex
from infantjax.explain.overlay import confidence_colour, draw_keypoints
from infantjax.explain.plots import COLOUR_RGB, TEMPLATE_POSE, plot_cam, plot_fms, plot_saliency, plot_windows
from infantjax.explain.saliency import Saliency, feature_names, video_saliency
from infantjax.explain.temporal import WindowDistribution, decision_windows, window_distributions

__all__ = [
           "COLOUR_RGB",
           "SEQUENTIAL_HEX",
           "TEMPLATE_POSE",
           "DecisionCam",
           "Saliency",
           "WindowDistribution",
           "aggregate_cam",
           "cam_colour",
           "confidence_colour",
           "draw_keypoints",
           "decision_cam",
           "decision_windows",
           "feature_names",
           "joint_scores",
           "plot_cam",
           "plot_fms",
           "plot_saliency",
           "plot_windows",
           "sequential_colour",
           "sequential_hex",
           "video_saliency",
           "window_distributions",
]
