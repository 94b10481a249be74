"""The smartphone-video classifier of seed 003 (Passmore et al.): a 1D causal CNN over 128-sample clips of the 46
Passmore features, with sigmoid-gated attention pooling over a video's clips (multiple-instance learning).

Input ``(videos, clips, 46, 128)`` (the reference's layout: features before time) → one logit per video and the
attention weight of every clip. Preprocessing: :mod:`infantjax.preprocess.passmore`; training, Platt scaling and the
25 repeated splits: :mod:`infantjax.train.passmore`; saliency: :mod:`infantjax.explain.saliency`. See
docs/passmore2023_smartphone.md.
"""

from infantjax.models.passmore.network import (
    PARAMETERS,
    TRAINABLE_PARAMETERS,
    ClipAttention,
    PassmoreNet,
    PassmoreSpec,
    l2_kernels,
    video_probability,
)

__all__ = [
    "PARAMETERS",
    "TRAINABLE_PARAMETERS",
    "ClipAttention",
    "PassmoreNet",
    "PassmoreSpec",
    "l2_kernels",
    "video_probability",
]
