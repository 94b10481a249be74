"""The SMA type-I regressor of seed 000 (Soran et al.): a CNN over 30-s windows of four Kinect limb tracks that
estimates the CHOP INTEND extremity score (0–72), and the per-recording aggregation of its window scores.

Input ``(N, 900, 4, 3)`` (time, limb, x/y/z) → one score per window (Table 1: 35,939,169 parameters). Windows:
:mod:`infantjax.preprocess.sma`; training, leave-one-subject-out CV and the baselines: :mod:`infantjax.train.sma`.
See docs/soran2016_sma.md.
"""

from infantjax.models.sma.aggregate import (
    AGGREGATIONS,
    aggregate_recording,
    aggregate_recordings,
    quartile_mean,
)
from infantjax.models.sma.network import (
    LIMBS,
    PARAMETERS,
    TOP_SHAPES,
    SMANet,
    SMASpec,
    ceil_pool_padding,
    fc_kernels,
    init_variables,
    top_shapes,
)

__all__ = [
    "AGGREGATIONS",
    "LIMBS",
    "PARAMETERS",
    "TOP_SHAPES",
    "SMANet",
    "SMASpec",
    "aggregate_recording",
    "aggregate_recordings",
    "ceil_pool_padding",
    "fc_kernels",
    "init_variables",
    "quartile_mean",
    "top_shapes",
]
