"""The limb-pose networks of seed 004 (Migliorelli et al. 2021; Moccia et al. 2020) and the functions that read
their outputs.

Clips of 3 depth frames (N, 3, 96, 128, 1) → detection CNN (two-branch 3D U-Net, 12 joint + 8 connection maps,
:class:`DetectionSpec`) → regression CNN refining the 20 maps with asymmetric or full 3D convolutions
(:class:`RegressionSpec`) → non-maximum suppression and bipartite limb linking (:mod:`~infantjax.models.depth.linking`)
→ four limbs of three joints. Clip preparation and target maps: :mod:`infantjax.preprocess.depth`; training:
:class:`infantjax.train.DepthTask`; the whole pipeline and Table II: :mod:`infantjax.pipelines.depth`; synthetic
clips: :func:`infantjax.synth.depth_clips.synthetic_clips`. See docs/depth.md.
"""

from infantjax.models.depth.init import init_network, init_variables
from infantjax.models.depth.linking import (
    LinkConfig,
    connection_score,
    find_peaks,
    limbs_of,
    link_clips,
    link_frame,
)
from infantjax.models.depth.regression import (
    ASYMMETRIC_KERNELS,
    AsymmetricConv3D,
    AsymmetricRegression,
    FullRegression,
    RegressionSpec,
    init_regression,
)
from infantjax.models.depth.unet import DetectionCNN, DetectionSpec, UNet3D, init_detection

__all__ = [
    "ASYMMETRIC_KERNELS",
    "AsymmetricConv3D",
    "AsymmetricRegression",
    "DetectionCNN",
    "DetectionSpec",
    "FullRegression",
    "LinkConfig",
    "RegressionSpec",
    "UNet3D",
    "connection_score",
    "find_peaks",
    "init_detection",
    "init_network",
    "init_regression",
    "init_variables",
    "limbs_of",
    "link_clips",
    "link_frame",
]
