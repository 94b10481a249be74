"""``GCNSpec``: one point of the 20-choice search space of Ensemble-NAS-GCN (seed 002, Table A.1).

Choice keys and alternatives are spelled as in the reference code (gcn_reference A.1); ``"null"`` means none.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from infantjax._jsonconfig import JsonConfig
from infantjax.errors import ConfigError
from infantjax.models._registry import register
from infantjax.nn.precision import dtype_name

__all__ = ["CHOICES", "MODES", "GCNSpec", "ModulePlan", "STGCNSpec"]

# ``reference`` reproduces the reference code, quirks included; ``corrected`` fixes the quirks that are bugs
# (docs/gcn.md lists them). The default everywhere is ``reference``.
MODES = ("reference", "corrected")

# The 20 architectural choices and their alternatives, in the reference's order (seed 002 Table A.1;
# gcn_reference A.1). The order of alternatives is the order of the probability tables of K-Best Search.
CHOICES: dict[str, tuple] = {
    "graph": ("spatial", "dis2", "dis4", "dis42"),
    "input_width": (6, 8, 10, 12),
    "num_input_modules": (1, 2, 3),
    "initial_block_type": ("basic", "bottleneck", "mbconv"),
    "initial_residual": ("null", "block", "module", "dense"),
    "input_temporal_scales": (1, 2, 3, "linear"),
    "initial_main_width": (6, 8, 10, 12),
    "num_main_levels": (1, 2),
    "num_main_level_modules": (1, 2, 3),
    "block_type": ("basic", "bottleneck", "mbconv"),
    "bottleneck_factor": (2, 4),
    "residual": ("null", "block", "module", "dense"),
    "main_temporal_scales": (1, 2, 3, "linear"),
    "temporal_kernel_size": (3, 5, 7, 9),
    "se": ("null", "inner", "outer", "both"),
    "se_ratio": (2, 4),
    "se_type": ("relative", "absolute"),
    "nonlinearity": ("relu", "swish"),
    "attention": ("null", "channel", "frame", "joint"),
    "pool": ("global", "spatial"),
}


def _window(spec: GCNSpec | STGCNSpec, *, num_joints: int = 19, skeleton=None, **_) -> tuple[int, ...]:
    """A (1, T, V, C) window for initialising the network of ``spec`` (``infantjax.models.count_parameters``)."""
    if skeleton is not None:
        from infantjax import skeleton as skeleton_lib

        num_joints = skeleton_lib.get(skeleton).num_keypoints
    channels = (spec.num_input_branches * spec.in_channels_per_branch if isinstance(spec, GCNSpec)
                else spec.in_channels)
    return (1, 16, int(num_joints), int(channels))


#: the paper's parameter-counting conventions (seed 002, Table A.4), ``count_parameters(spec, convention=...)``
_CONVENTIONS = {"reference": "infantjax.models.gcn.counting:_reference",
                "live": "infantjax.models.gcn.counting:_live"}


@register(build="infantjax.models.gcn.build:build_model", sample_input=_window, conventions=_CONVENTIONS)
@dataclasses.dataclass(frozen=True)
class GCNSpec(JsonConfig):
    """An architecture of the searchable GCN: the 20 choices of Table A.1 plus fixed settings.

    Defaults are K-Best Search architecture no. 1 of Table A.4. Fixed settings (not searched): three input
    branches (position, velocity, bone; 2 channels each), learnable edge-importance masks, two classes.
    ``dtype`` is the compute dtype of the network (``"auto"``, the default: the backend policy's, float32 on CPU and
    bfloat16 on accelerators; or ``"float32"``, ``"bfloat16"``, ``"float16"``; parameters stay float32); it changes
    neither the architecture nor its counts.
    """

    graph: str = "dis2"
    input_width: int = 10
    num_input_modules: int = 3
    initial_block_type: str = "bottleneck"
    initial_residual: str = "null"
    input_temporal_scales: Any = 1
    initial_main_width: int = 12
    num_main_levels: int = 1
    num_main_level_modules: int = 1
    block_type: str = "basic"
    bottleneck_factor: int = 4
    residual: str = "null"
    main_temporal_scales: Any = 1
    temporal_kernel_size: int = 9
    se: str = "null"
    se_ratio: int = 2
    se_type: str = "absolute"
    nonlinearity: str = "relu"
    attention: str = "channel"
    pool: str = "global"
    # fixed settings of seed 002
    num_input_branches: int = 3
    in_channels_per_branch: int = 2
    edge_importance: bool = True
    num_classes: int = 2
    dtype: str = "auto"

    def __post_init__(self):
        object.__setattr__(self, "dtype", dtype_name(self.dtype, "GCNSpec.dtype"))
        for key, allowed in CHOICES.items():
            value = getattr(self, key)
            if value not in allowed or isinstance(value, bool):
                raise ConfigError(
                    f"GCNSpec.{key} = {value!r} is not allowed; choose one of {', '.join(map(repr, allowed))}"
                )
        for key in ("num_input_branches", "in_channels_per_branch", "num_classes"):
            if int(getattr(self, key)) < 1:
                raise ConfigError(f"GCNSpec.{key} must be >= 1, got {getattr(self, key)!r}")

    # ----------------------------------------------------------------------- serialisation
    def choices(self) -> dict[str, Any]:
        """The 20 searched choices as a dict."""
        return {k: getattr(self, k) for k in CHOICES}

    @classmethod
    def sample(cls, rng: np.random.Generator | int | None = None) -> GCNSpec:
        """A uniformly random point of the search space."""
        rng = np.random.default_rng(rng)
        return cls(**{k: v[int(rng.integers(len(v)))] for k, v in CHOICES.items()})

    @classmethod
    def table_a4(cls) -> tuple[GCNSpec, ...]:
        """The ten architectures found by K-Best Search, in order (seed 002, Table A.4 = eTable 4 of Paper III).

        Where the table gives no SE ratio ("-", SE type None) the ratio is unused; the defaults (2, absolute)
        are filled in, which changes neither the model nor its counts (gcn_reference B.1).
        """
        return tuple(cls(**dict(zip(_TABLE_A4_KEYS, row))) for row in _TABLE_A4_ROWS)

    # ----------------------------------------------------------------------- derived structure
    def width(self, base: int, block_type: str) -> int:
        """Channels of a module of ``block_type`` with base width ``base`` (gcn_reference A.4: the bottleneck
        factor multiplies the width of basic and bottleneck modules, not of MBConv modules)."""
        return int(base) if block_type == "mbconv" else int(base) * int(self.bottleneck_factor)

    @property
    def graph_scales(self) -> tuple[int | None, int | None]:
        """Disentangled scales of the (input, main) graphs; ``None`` means the spatial configuration (K = 3)."""
        return {"spatial": (None, None), "dis2": (2, 2), "dis4": (4, 4), "dis42": (4, 2)}[self.graph]

    @property
    def partitions(self) -> tuple[int, int]:
        """Number of adjacency matrices K of the (input, main) graphs."""
        return tuple(3 if s is None else s for s in self.graph_scales)

    @property
    def input_temporal_scale_list(self) -> tuple[int, ...]:
        """Temporal scales of each input module; ``linear`` gives module i (1-based) i scales."""
        n = self.num_input_modules
        if self.input_temporal_scales == "linear":
            return tuple(range(1, n + 1))
        return (int(self.input_temporal_scales),) * n

    @property
    def main_temporal_scale_list(self) -> tuple[int, ...]:
        """Temporal scales of each main level; ``linear`` gives level j (1-based) j scales."""
        n = self.num_main_levels
        if self.main_temporal_scales == "linear":
            return tuple(range(1, n + 1))
        return (int(self.main_temporal_scales),) * n

    def _se_ratios(self, level: int) -> tuple[int, int]:
        ratio = int(self.se_ratio) * (2 ** level if self.se_type == "relative" else 1)
        inner = ratio if self.se in ("inner", "both") else 0
        outer = ratio if self.se in ("outer", "both") else 0
        return inner, outer

    def input_modules(self) -> tuple[ModulePlan, ...]:
        """The ST-GCN modules of one input branch (all three branches are alike), stride 1 (gcn_reference A.4)."""
        inner, outer = self._se_ratios(0)
        out = []
        c_in = int(self.in_channels_per_branch)
        for i, scales in enumerate(self.input_temporal_scale_list):
            block = self.initial_block_type if i == 0 else self.block_type
            c_out = self.width(self.input_width, block)
            out.append(ModulePlan(
                in_channels=c_in, out_channels=c_out, stride=1, block_type=block,
                residual=self.initial_residual if i == 0 else self.residual, temporal_scales=scales,
                inner_se_ratio=inner, outer_se_ratio=outer, graph="input", level=-1, index=i,
                factor=int(self.bottleneck_factor),
            ))
            c_in = c_out
        return tuple(out)

    @property
    def fusion_channels(self) -> tuple[int, int]:
        """(in, out) channels of the 1×1 fusion conv after the concatenated input branches."""
        last = self.input_modules()[-1].out_channels
        return last * int(self.num_input_branches), self.width(self.initial_main_width, self.block_type)

    def main_modules(self) -> tuple[ModulePlan, ...]:
        """The main-branch modules; each level starts with temporal stride 2 and later levels double the width."""
        width = self.fusion_channels[1]
        c_in, c_out = width, width
        out = []
        for level, scales in enumerate(self.main_temporal_scale_list):
            inner, outer = self._se_ratios(level)
            for j in range(int(self.num_main_level_modules)):
                out.append(ModulePlan(
                    in_channels=c_in if j == 0 else c_out, out_channels=c_out, stride=2 if j == 0 else 1,
                    block_type=self.block_type, residual=self.residual, temporal_scales=scales,
                    inner_se_ratio=inner, outer_se_ratio=outer, graph="main", level=level, index=j,
                    factor=int(self.bottleneck_factor),
                ))
            c_in, c_out = c_out, 2 * c_out
        return tuple(out)

    @property
    def head_channels(self) -> int:
        """Channels of the last feature map (input of the head)."""
        return self.main_modules()[-1].out_channels


@dataclasses.dataclass(frozen=True)
class ModulePlan:
    """One ST-GCN module of a :class:`GCNSpec` (pure structure; used by the model and the counters).

    ``inner_se_ratio``/``outer_se_ratio`` are the SE reduction ratios as the module receives them (0 = no SE);
    ``graph`` names which adjacency the module uses (``"input"`` or ``"main"``); ``level`` is -1 for input
    modules.
    """

    in_channels: int
    out_channels: int
    stride: int
    block_type: str
    residual: str
    temporal_scales: int
    inner_se_ratio: int
    outer_se_ratio: int
    graph: str
    level: int
    index: int
    factor: int = 4  # bottleneck reduction / MBConv expansion (the spec's bottleneck_factor)

    @property
    def module_residual(self) -> bool:
        """Whether the module has a module-spanning residual (gcn_reference A.5)."""
        return self.residual in ("module", "dense")

    @property
    def block_residual(self) -> bool:
        """Whether the spatial and temporal blocks have their own residuals (gcn_reference A.5)."""
        return self.residual in ("block", "dense")


# Table A.4 of seed 002 (cross-checked against eTable 4 of the Paper III supplement and against the exact
# parameter counts of the table, which every column affects).
_TABLE_A4_KEYS = (
    "num_input_modules", "input_width", "initial_block_type", "initial_residual", "input_temporal_scales",
    "num_main_levels", "num_main_level_modules", "initial_main_width", "main_temporal_scales", "pool", "graph",
    "block_type", "bottleneck_factor", "residual", "se", "se_ratio", "se_type", "attention", "nonlinearity",
    "temporal_kernel_size",
)
_TABLE_A4_ROWS = (
    (3, 10, "bottleneck", "null", 1, 1, 1, 12, 1, "global", "dis2", "basic", 4, "null", "null", 2, "absolute",
     "channel", "relu", 9),
    (2, 10, "basic", "dense", 3, 1, 3, 12, 2, "global", "dis42", "mbconv", 2, "block", "outer", 4, "absolute",
     "channel", "swish", 7),
    (3, 12, "basic", "null", 2, 1, 2, 8, 2, "global", "spatial", "basic", 2, "module", "inner", 2, "absolute",
     "null", "relu", 7),
    (3, 10, "basic", "block", 2, 1, 1, 8, "linear", "spatial", "dis4", "basic", 4, "dense", "null", 2,
     "absolute", "channel", "swish", 7),
    (2, 10, "bottleneck", "dense", 3, 2, 1, 6, 3, "global", "dis4", "basic", 2, "null", "outer", 2, "absolute",
     "channel", "relu", 7),
    (3, 12, "basic", "dense", 1, 2, 3, 10, "linear", "global", "dis2", "bottleneck", 4, "block", "null", 2,
     "absolute", "channel", "swish", 3),
    (1, 8, "basic", "module", 3, 2, 3, 12, 3, "spatial", "dis2", "basic", 4, "null", "null", 2, "absolute",
     "null", "swish", 9),
    (2, 6, "mbconv", "block", 2, 2, 2, 12, 1, "global", "dis4", "basic", 4, "dense", "outer", 4, "absolute",
     "null", "relu", 5),
    (3, 6, "bottleneck", "dense", 1, 2, 1, 12, "linear", "spatial", "dis2", "basic", 4, "null", "outer", 4,
     "absolute", "channel", "relu", 9),
    (2, 12, "basic", "dense", 2, 1, 3, 10, 3, "spatial", "spatial", "basic", 4, "null", "null", 2, "absolute",
     "channel", "swish", 7),
)


@register(build="infantjax.models.gcn.build:build_model", sample_input=_window, conventions=_CONVENTIONS)
@dataclasses.dataclass(frozen=True)
class STGCNSpec(JsonConfig):
    """The ST-GCN baseline of seed 002 (yysijie/st-gcn ``Model``; gcn_reference B.1).

    Defaults are the paper's baseline: ten modules 64-64-64-64-128-128-128-256-256-256 with temporal stride 2 at
    the 5th and 8th, temporal kernel 9, spatial-configuration partitions (K = 3), learnable edge importance,
    positions only (2 input channels), two classes. The first module has no residual. ``graph`` may also be a
    disentangled graph (``"dis2"``, ``"dis4"``) for experiments; the paper's baseline is ``"spatial"``.
    ``dtype`` is the compute dtype (parameters stay float32).
    """

    channels: tuple[int, ...] = (64, 64, 64, 64, 128, 128, 128, 256, 256, 256)
    strides: tuple[int, ...] = (1, 1, 1, 1, 2, 1, 1, 2, 1, 1)
    temporal_kernel_size: int = 9
    graph: str = "spatial"
    edge_importance: bool = True
    in_channels: int = 2
    num_classes: int = 2
    dtype: str = "auto"

    def __post_init__(self):
        object.__setattr__(self, "dtype", dtype_name(self.dtype, "STGCNSpec.dtype"))
        object.__setattr__(self, "channels", tuple(int(c) for c in self.channels))
        object.__setattr__(self, "strides", tuple(int(s) for s in self.strides))
        if not self.channels or any(c < 1 for c in self.channels):
            raise ConfigError(f"STGCNSpec.channels must be a non-empty list of positive widths, got {self.channels}")
        if len(self.strides) != len(self.channels) or any(s < 1 for s in self.strides):
            raise ConfigError(
                f"STGCNSpec.strides must give one positive stride per module ({len(self.channels)}), "
                f"got {self.strides}"
            )
        k = self.temporal_kernel_size
        if isinstance(k, bool) or int(k) != k or k < 1 or k % 2 == 0:
            raise ConfigError(f"STGCNSpec.temporal_kernel_size must be a positive odd integer, got {k!r}")
        if self.graph not in ("spatial", "dis2", "dis4"):
            raise ConfigError(f"STGCNSpec.graph = {self.graph!r} is not allowed; choose 'spatial', 'dis2' or 'dis4'")
        for key in ("in_channels", "num_classes"):
            v = getattr(self, key)
            if isinstance(v, bool) or int(v) != v or v < 1:
                raise ConfigError(f"STGCNSpec.{key} must be a positive integer, got {v!r}")

    @property
    def partitions(self) -> int:
        return {"spatial": 3, "dis2": 2, "dis4": 4}[self.graph]

    @property
    def graph_scales(self) -> int | None:
        return {"spatial": None, "dis2": 2, "dis4": 4}[self.graph]
