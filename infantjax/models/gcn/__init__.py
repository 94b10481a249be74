"""Skeleton graph convolutional networks of seed 002: the searchable GCN of Ensemble-NAS-GCN and ST-GCN.

``spec`` and ``counting`` are pure Python; the Flax models (``build_model``, ``SearchableGCN``, ``STGCN``,
``class_activation_map``) are imported on first use so that importing the spec does not start JAX. Modules:
``spec`` (GCNSpec, STGCNSpec), ``counting`` (paper-convention parameter and FLOP counts), ``common`` (graphs, head,
CAM, shared layers), ``searchable`` (SearchableGCN), ``stgcn`` (STGCN), ``build`` (``build_model``),
``torch_import`` (PyTorch state dicts of the reference code ↔ Flax variables).
"""

from __future__ import annotations

import importlib

from infantjax.models.gcn.counting import count_flops
from infantjax.models.gcn.spec import CHOICES, MODES, GCNSpec, ModulePlan, STGCNSpec

_LAZY = {
    "build_model": "infantjax.models.gcn.build",
    "class_activation_map": "infantjax.models.gcn.common",
    "SearchableGCN": "infantjax.models.gcn.searchable",
    "STGCN": "infantjax.models.gcn.stgcn",
    "from_torch_state_dict": "infantjax.models.gcn.torch_import",
    "to_torch_state_dict": "infantjax.models.gcn.torch_import",
}

__all__ = [
    "CHOICES",
    "MODES",
    "STGCN",
    "GCNSpec",
    "ModulePlan",
    "STGCNSpec",
    "SearchableGCN",
    "build_model",
    "class_activation_map",
    "count_flops",
    "from_torch_state_dict",
    "to_torch_state_dict",
]


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'infantjax.models.gcn' has no attribute {name!r}")
