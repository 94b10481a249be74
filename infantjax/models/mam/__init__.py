"""MAM, the quantitative General Movements Assessment model of seed 001 (Gao et al. 2023): 3D pose → per-frame
joint-distance matrices → a spatio-temporal Transformer over clips, shared by a Ref branch (FMs / non-FMs clip
classifier with a triplet loss to two prototypes), a Main branch (attention MIL over a recording's clips → normal
vs risk, closeness loss to the prototypes) and an Info branch (basic characteristics → MLP).

Outputs: the risk probability, the per-clip FMs probability (localisation) and the FMs frequency (the fraction of
clips classified FMs, the quantitative score). Training: :mod:`infantjax.train.mam`; end to end:
:mod:`infantjax.pipelines.mam`; the plot: :func:`infantjax.explain.plot_fms`. See docs/gao2023_mam.md.
"""

from infantjax.models.mam.losses import TRIPLET_MARGIN, closeness_loss, l2_normalise, triplet_loss
from infantjax.models.mam.network import (
    CHARACTERISTICS,
    AttentionMIL,
    ClipEncoder,
    MamNet,
    MamSpec,
    characteristics,
    fms_frequency,
)
from infantjax.models.mam.representation import (
    INPUTS,
    distance_matrix,
    features_per_joint,
    motion_features,
    normalise_recording,
    num_features,
    pair_indices,
)

__all__ = [
    "CHARACTERISTICS",
    "INPUTS",
    "TRIPLET_MARGIN",
    "AttentionMIL",
    "ClipEncoder",
    "MamNet",
    "MamSpec",
    "characteristics",
    "closeness_loss",
    "distance_matrix",
    "features_per_joint",
    "fms_frequency",
    "l2_normalise",
    "motion_features",
    "normalise_recording",
    "num_features",
    "pair_indices",
    "triplet_loss",
]
