"""Heatmap pose networks: EfficientPose RT–IV and Lite, EfficientHourglass B4, the OpenPose baseline, their
initialisation (from scratch or fine-tuning from the MPII weights) and heatmap decoding.

Seed 002 (Papers I and II); data/efficientpose/README.md for the exact official architecture, preprocessing,
decoding and weight format. Video → keypoints: :class:`infantjax.infer.pose.PosePredictor`; training:
:class:`infantjax.train.PoseTask`.
"""

from infantjax.models._registry import count_parameters
from infantjax.models.pose.efficientpose import (
    OFFICIAL_PARAMETER_COUNTS,
    VARIANTS,
    EfficientPose,
    EfficientPoseSpec,
)
from infantjax.models.pose.init import HEADS, finetune_variables, init_variables
from infantjax.models.pose.zoo import ZOO, ZooEntry, available

__all__ = [
    "HEADS",
    "OFFICIAL_PARAMETER_COUNTS",
    "VARIANTS",
    "ZOO",
    "EfficientPose",
    "EfficientPoseSpec",
    "ZooEntry",
    "available",
    "count_parameters",
    "finetune_variables",
    "init_variables",
]
