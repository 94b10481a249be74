"""PyTorch state dicts of the reference code ↔ Flax variables of the GCNs (``from_torch_state_dict``,
``to_torch_state_dict``).

The searchable GCN's reference is ``models/gcn_search_model.py`` of DeepInMotion/MovementOutcome, ST-GCN's is
``net/st_gcn.py`` of yysijie/st-gcn (gcn_reference A.4–A.8, B.1). A state dict is a mapping of PyTorch key → array
(what ``np.load`` of an ``.npz``, ``safetensors.numpy.load_file`` or :func:`infantjax.io.read_state_dict` gives);
reading files is :mod:`infantjax.io`'s job, not this module's.

Names (data/movementoutcome-parity/README.md, "Mapping the PyTorch keys"):

* ``st_gcn_input.{b}.{i}`` → ``input{b}_module{i}``; ``st_gcn_main.{m}`` → ``main{level}_module{j}`` with
  m = level·num_main_level_modules + j; ``bottleneck_conv``/``bottleneck_bn`` → ``fusion``/``fusion_bn``;
  ``fcn_pool``/``fcn`` → ``head_pool``/``head_fc``;
* edge importance: ``edge_importance_input.{b·n+i:05d}`` (input modules), ``edge_importance_main.{m:05d}`` (DA4+2)
  or ``edge_importance_input.{3·n+m:05d}`` (main modules of every other graph);
* in a module ``gcn.`` → ``spatial/``, ``tcn.`` → ``temporal/``; the names of a spatial layer depend on the block
  type (MBConv's ``conv_up``/``conv_down`` are the expansion/projection, bottleneck's the reduction/expansion);
  temporal branch d is ``tcn.temporal_branches.{d-1}.{index}``;
* layouts: 1×1 conv (O, I, 1, 1) and Linear (O, I) → Dense kernel (I, O); (k×1) conv (O, I/g, k, 1) → (k, 1, I/g, O);
  frame-attention conv (1, 2, k, 1) → (k, 2, 1); MBConv graph conv (K·C, 1, 1, 1) → (1, K·C); BatchNorm
  ``weight``/``bias`` → ``params`` ``scale``/``bias``, ``running_mean``/``running_var`` → ``batch_stats``
  ``mean``/``var``.

Keys the loader reads nothing from: ``num_batches_tracked``; the adjacency buffers (``A``, ``A_input``, ``A_main``;
infantjax builds the noise-free graph itself and only checks the stored one against it); and the layers the
reference builds but never runs (gcn_reference A.8: the bottleneck layers of basic blocks, the temporal fusion
and outer SE of one-scale blocks), which are logged at debug level.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Mapping

import jax
import jax.numpy as jnp
import numpy as np

from infantjax.errors import ConfigError, StateDictError
from infantjax.models.gcn.spec import MODES, GCNSpec, STGCNSpec

__all__ = ["from_torch_state_dict", "to_torch_state_dict", "torch_key_map"]

log = logging.getLogger(__name__)

# The stored noisy adjacency may differ from the clean one by the reference's uniform(±1e-6) noise (use_mask,
# gcn_reference A.3); anything beyond that means another graph.
_ADJACENCY_NOISE = 1.5e-6

# temporal branch layer → index in the reference's nn.Sequential (README mapping table)
_BRANCH_INDEX = {
    "plain": {"conv_down": 0, "bn_down": 1, "conv": 2, "bn": 3, "conv_up": 4, "bn_up": 5, "se": 7},
    "mbconv": {"conv_expand": 0, "bn_expand": 1, "conv": 2, "bn": 3, "se": 4, "conv_project": 5, "bn_project": 6},
}
# spatial block layer → reference name (MBConv's up/down are swapped relative to bottleneck)
_SPATIAL_NAME = {
    "plain": {"conv_down": "conv_down", "bn_down": "bn_down", "gcn": "conv", "bn": "bn", "conv_up": "conv_up",
              "bn_up": "bn_up", "se": "se", "residual": "residual.0", "residual_bn": "residual.1"},
    "mbconv": {"conv_expand": "conv_up", "bn_expand": "bn_up", "gcn": "depthwise_conv.conv", "bn": "bn",
               "se": "se", "conv_project": "conv_down", "bn_project": "bn_down", "residual": "residual.0",
               "residual_bn": "residual.1"},
}
_TEMPORAL_NAME = {"fusion": "conv", "fusion_bn": "bn", "outer_se": "outer_se", "residual": "residual.0",
                  "residual_bn": "residual.1"}
_ATTENTION_NAME = {"fc1": "fcn.1", "fc1_bn": "fcn.2", "fc2": "fcn.4", "bn": "bn", "conv": "conv"}
_SE_NAME = {"fc1": "fc.0", "fc2": "fc.2"}
_LEAF = {("params", "kernel"): "weight", ("params", "bias"): "bias", ("params", "scale"): "weight",
         ("batch_stats", "mean"): "running_mean", ("batch_stats", "var"): "running_var"}
_BUFFERS = re.compile(r"(^|\.)(A|A_input|A_main)$|\.num_batches_tracked$")


def _check(spec, mode: str) -> None:
    if not isinstance(spec, (GCNSpec, STGCNSpec)):
        raise ConfigError(f"spec must be a GCNSpec or STGCNSpec, got {type(spec).__name__}")
    if mode not in MODES:
        raise ConfigError(f"mode {mode!r} is unknown; use one of {MODES}")


def _abstract_variables(spec, mode: str, num_joints: int) -> dict:
    """Shapes of the Flax variables of ``spec`` (no computation)."""
    from infantjax.models.gcn.build import build_model

    model = build_model(spec, num_joints=num_joints, mode=mode)
    c = spec.num_input_branches * spec.in_channels_per_branch if isinstance(spec, GCNSpec) else spec.in_channels
    x = jnp.zeros((1, 16, num_joints, c), jnp.float32)
    return dict(jax.eval_shape(lambda k: model.init(k, x, train=False), jax.random.key(0)))


def _module_torch_prefix(spec: GCNSpec, module: str) -> tuple[str, str, str]:
    """(torch prefix, block type, edge-importance key) of a searchable-GCN module named ``module``."""
    n_in = len(spec.input_modules())
    m = re.fullmatch(r"input(\d+)_module(\d+)", module)
    if m:
        b, i = int(m[1]), int(m[2])
        return (f"st_gcn_input.{b}.{i}", spec.input_modules()[i].block_type,
                f"edge_importance_input.{b * n_in + i:05d}")
    m = re.fullmatch(r"main(\d+)_module(\d+)", module)
    level, j = int(m[1]), int(m[2])
    k = level * int(spec.num_main_level_modules) + j
    edge = (f"edge_importance_main.{k:05d}" if spec.graph == "dis42"
            else f"edge_importance_input.{spec.num_input_branches * n_in + k:05d}")
    return f"st_gcn_main.{k}", spec.block_type, edge


def _gcn_key(spec: GCNSpec, path: tuple[str, ...]) -> str:
    """Torch key of the Flax leaf at ``path`` (collection first) of a searchable GCN."""
    collection, *mods, leaf = path
    top = {"data_bn": "data_bn", "fusion": "bottleneck_conv", "fusion_bn": "bottleneck_bn", "head_pool": "fcn_pool",
           "head_fc": "fcn"}
    if mods[0] in top:
        return f"{top[mods[0]]}.{_LEAF[collection, leaf]}"
    prefix, block, edge = _module_torch_prefix(spec, mods[0])
    if len(mods) == 1 and leaf == "edge_importance":
        return edge
    kind = "mbconv" if block == "mbconv" else "plain"
    # a Pointwise or temporal-conv wrapper keeps its kernel in a sub-module named "conv"; PyTorch has no such level
    inner = mods[1:]
    if inner and inner[-1] == "conv" and len(inner) > 1 and not (inner[0] == "spatial" and inner[-2] == "gcn"):
        inner = inner[:-1]
    head, rest = inner[0], inner[1:]
    if head in ("residual", "residual_bn"):
        name = {"residual": "residual.0", "residual_bn": "residual.1"}[head]
    elif head == "spatial":
        name = "gcn." + _SPATIAL_NAME[kind][rest[0]] + _se_tail(rest)
        if rest[0] == "gcn" and kind == "plain":
            name = "gcn.conv.conv"
    elif head == "temporal":
        m = re.fullmatch(r"branch(\d+)_(\w+)", rest[0])
        if m:
            name = f"tcn.temporal_branches.{int(m[1]) - 1}.{_BRANCH_INDEX[kind][m[2]]}" + _se_tail(rest)
        else:
            name = "tcn." + _TEMPORAL_NAME[rest[0]] + _se_tail(rest)
    elif head == "attention":
        name = "attention." + _ATTENTION_NAME[rest[0]]
    else:  # pragma: no cover - a layer this table does not know (a new block in the network)
        raise KeyError("/".join(path))
    return f"{prefix}.{name}.{_LEAF[collection, leaf]}"


def _se_tail(rest) -> str:
    """``.fc.0``/``.fc.2`` for the two layers of a squeeze-excitation (``.../se/fc1`` → ``se.fc.0``)."""
    return "." + _SE_NAME[rest[1]] if len(rest) > 1 and rest[1] in _SE_NAME else ""


def _stgcn_key(path: tuple[str, ...]) -> str:
    """Torch key of the Flax leaf at ``path`` of ST-GCN."""
    collection, *mods, leaf = path
    if mods[0] in ("data_bn", "head_fc"):
        return f"{'fcn' if mods[0] == 'head_fc' else 'data_bn'}.{_LEAF[collection, leaf]}"
    i = int(re.fullmatch(r"module(\d+)", mods[0])[1])
    if len(mods) == 1 and leaf == "edge_importance":
        return f"edge_importance.{i}"
    name = {"gcn": "gcn.conv", "bn1": "tcn.0", "tcn": "tcn.2", "bn2": "tcn.3", "residual": "residual.0",
            "residual_bn": "residual.1"}[mods[1]]
    return f"st_gcn_networks.{i}.{name}.{_LEAF[collection, leaf]}"


def torch_key_map(spec: GCNSpec | STGCNSpec, *, mode: str = "reference", num_joints: int = 19
                  ) -> dict[tuple[str, ...], tuple[str, tuple[int, ...]]]:
    """Where every Flax leaf of ``spec``'s network lives in the reference's state dict.

    Returns:
        ``{flax path (collection, module, ..., leaf): (torch key, flax shape)}``, one entry per Flax leaf.
    """
    _check(spec, mode)
    return dict(_key_table(spec, mode, int(num_joints)))


@functools.lru_cache(maxsize=32)
def _key_table(spec, mode: str, num_joints: int) -> tuple:
    """:func:`torch_key_map` as a tuple of items, cached per architecture (tracing the network takes seconds, and
    an ensemble loads several folds of one architecture)."""
    shapes = _abstract_variables(spec, mode, num_joints)
    out = []
    for key_path, leaf in jax.tree_util.tree_flatten_with_path(shapes)[0]:
        path = tuple(str(getattr(k, "key", k)) for k in key_path)
        name = _gcn_key(spec, path) if isinstance(spec, GCNSpec) else _stgcn_key(path)
        out.append((path, (name, tuple(leaf.shape))))
    return tuple(out)


def _to_flax(w: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """A PyTorch tensor in the layout of a Flax leaf of ``shape`` (module docstring), or None if it cannot be."""
    if w.ndim == len(shape) and (w.ndim == 1 or w.ndim == 3 and shape == w.shape):
        return w if w.shape == shape else None  # biases, BN vectors, (K, V, V) edge-importance masks
    if len(shape) == 2:  # Dense kernel (I, O) ← 1×1 conv (O, I, 1, 1) or Linear (O, I)
        if w.ndim in (2, 4) and w.shape[2:] in ((), (1, 1)) and w.shape[0] * w.shape[1] == shape[0] * shape[1]:
            o, i = w.shape[:2]
            if (i, o) == shape:
                return w.reshape(o, i).T
            if i == 1 and shape == (1, o):  # MBConv graph conv (K·C, 1, 1, 1) → (1, K·C)
                return w.reshape(1, o)
        return None
    # temporal conv (k, 1.., I/g, O) ← (O, I/g, k, 1)
    if w.ndim == 4 and w.shape[3] == 1:
        t = np.transpose(w[..., 0], (2, 1, 0))
        if t.shape == (shape[0], shape[-2], shape[-1]) and int(np.prod(shape)) == t.size:
            return t.reshape(shape)
    return None


def _to_torch(w: np.ndarray, torch_key: str) -> np.ndarray:
    """A Flax leaf in the layout of its PyTorch tensor (inverse of :func:`_to_flax`)."""
    if w.ndim == 1 or w.ndim == 3 and torch_key.split(".")[0].startswith("edge_importance"):
        return w
    if w.ndim == 2:
        if re.search(r"\.fc\.[02]\.weight$", torch_key):  # SE: nn.Linear
            return np.ascontiguousarray(w.T)
        if torch_key.endswith("depthwise_conv.conv.weight"):
            return w.reshape(-1, 1, 1, 1)
        return np.ascontiguousarray(w.T)[:, :, None, None]
    k, i, o = w.shape[0], w.shape[-2], w.shape[-1]
    return np.ascontiguousarray(np.transpose(w.reshape(k, i, o), (2, 1, 0)))[..., None]


def _dead_patterns(spec) -> list[re.Pattern]:
    """Keys of layers the reference builds but never runs (gcn_reference A.8)."""
    if not isinstance(spec, GCNSpec):
        return []
    module = r"(st_gcn_input\.\d+\.\d+|st_gcn_main\.\d+)"
    return [re.compile(module + r"\.gcn\.(conv_down|bn_down|conv_up|bn_up)\."),
            re.compile(module + r"\.tcn\.temporal_branches\.\d+\.[0145]\."),
            re.compile(module + r"\.tcn\.(conv|bn|outer_se)\.")]


def _shape(a) -> tuple[int, ...]:
    return tuple(np.shape(a))


def from_torch_state_dict(spec: GCNSpec | STGCNSpec, state: Mapping[str, np.ndarray], *, mode: str = "reference",
                          num_joints: int = 19) -> dict:
    """Flax variables of ``spec``'s network from a PyTorch state dict of the reference code.

    Every Flax leaf is filled exactly once; each shape is checked. Keys left over must be buffers
    (``num_batches_tracked``, the adjacency ``A``/``A_input``/``A_main``, which is checked against infantjax's
    noise-free graph) or layers the reference builds but never runs; those are skipped with a debug log line.
    A leading ``module.`` (``nn.DataParallel``) is stripped from every key, as the reference does when it loads.

    Arguments:
        spec: the architecture the state dict was trained as (:class:`GCNSpec`, :class:`STGCNSpec`).
        state: PyTorch key → array (NumPy or anything ``np.asarray`` takes).
        mode: the model mode the variables are for (``"reference"``: the reference's computation; the
            MBConv graph-conv weights mean something else in ``"corrected"`` mode).
        num_joints: V (19: In-Motion).

    Returns:
        ``{"params": ..., "batch_stats": ...}`` of float32 NumPy arrays, ready for
        ``build_model(spec, mode=mode).apply(variables, x, train=False)``.

    Raises:
        StateDictError: a key is missing, a key is unexpected (e.g. the state dict of another architecture), or a
            tensor has the wrong shape; the message names the key(s) and the shapes.
    """
    _check(spec, mode)
    if not isinstance(state, Mapping):
        raise StateDictError(f"a state dict must be a mapping of PyTorch key → array, got {type(state).__name__}")
    arrays = {k.split("module.", 1)[-1] if k.startswith("module.") else k: v for k, v in state.items()}
    table = torch_key_map(spec, mode=mode, num_joints=num_joints)
    variables: dict = {}
    used: set[str] = set()
    missing, wrong = [], []
    for path, (key, shape) in table.items():
        if key not in arrays:
            missing.append(f"{key} (→ {'/'.join(path)}, expected {_torch_shape(key, shape)})")
            continue
        if key in used:  # pragma: no cover - two Flax leaves on one key would be a bug of the table
            raise StateDictError(f"internal: torch key {key} maps onto two Flax leaves")
        value = np.asarray(arrays[key])
        converted = _to_flax(value, shape) if value.dtype.kind == "f" else None
        if converted is None:
            wrong.append(f"{key}: shape {_shape(value)} ({value.dtype}), expected {_torch_shape(key, shape)} "
                         f"float (→ {'/'.join(path)} {shape})")
            continue
        used.add(key)
        node = variables
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = np.asarray(converted, np.float32)
    dead = _dead_patterns(spec)
    unexpected, skipped = [], []
    for key, value in arrays.items():
        if key in used:
            continue
        if _BUFFERS.search(key) or any(p.match(key) for p in dead):
            skipped.append(key)
        else:
            unexpected.append(f"{key} {_shape(value)}")
    problems = []
    for title, items in (("missing keys", missing), ("wrong shapes", wrong), ("unexpected keys", unexpected)):
        if items:
            problems.append(f"{title} ({len(items)}): " + "; ".join(items[:6]) + (" …" if len(items) > 6 else ""))
    if problems:
        raise StateDictError(
            f"the state dict does not fit {type(spec).__name__} {_describe(spec)}: " + " | ".join(problems)
            + ". Pass the spec the network was trained as (MovementOutcome: its candidate.json)")
    if mode == "reference":  # the corrected spatial partition differs from the reference's on purpose
        _check_adjacency(spec, arrays, mode)
    if skipped:
        log.debug("from_torch_state_dict: skipped %d keys the network does not use (buffers, and layers the "
                  "reference builds but never runs): %s", len(skipped), ", ".join(skipped))
    return variables


def _describe(spec) -> str:
    if isinstance(spec, GCNSpec):
        return "(" + ", ".join(f"{k}={v!r}" for k, v in spec.choices().items()) + ")"
    return f"(channels={spec.channels}, graph={spec.graph!r})"


def _torch_shape(key: str, flax_shape: tuple[int, ...]) -> tuple[int, ...]:
    return _shape(_to_torch(np.zeros(flax_shape, np.float32), key))


def _check_adjacency(spec, arrays: Mapping, mode: str) -> None:
    """The stored adjacency buffers must be infantjax's graph up to the reference's ±1e-6 noise."""
    from infantjax.models.gcn.common import adjacency

    if isinstance(spec, GCNSpec):
        pairs = (("A_input", spec.graph_scales[0]), ("A_main", spec.graph_scales[1]))
    else:
        pairs = (("A", spec.graph_scales),)
    for key, scales in pairs:
        if key not in arrays:
            continue
        ours = adjacency("in-motion-19", scales, mode)
        stored = np.asarray(arrays[key])
        if stored.shape != ours.shape:
            raise StateDictError(f"{key}: the stored adjacency has shape {stored.shape}, the spec's graph "
                                 f"{getattr(spec, 'graph', '')!r} has {ours.shape}; pass the spec of this network")
        diff = float(np.max(np.abs(stored.astype(np.float64) - ours)))
        if diff > _ADJACENCY_NOISE:
            raise StateDictError(f"{key}: the stored adjacency differs from the {getattr(spec, 'graph', '')!r} "
                                 f"graph of the In-Motion skeleton by {diff:.3g} (more than the reference's ±1e-6 "
                                 "noise); the network was trained on another graph or skeleton")
        log.debug("%s: stored adjacency within %.2g of the noise-free graph (the reference's use_mask noise)",
                  key, diff)


def to_torch_state_dict(spec: GCNSpec | STGCNSpec, variables, *, mode: str = "reference",
                        num_joints: int = 19) -> dict[str, np.ndarray]:
    """The inverse of :func:`from_torch_state_dict`: PyTorch key → float32 array for every variable that runs.

    The result holds the parameters and running statistics of the layers that run; it leaves out what the
    reference builds but never runs, ``num_batches_tracked`` and the adjacency buffers, so load it into the
    reference ``Model`` with ``load_state_dict(..., strict=False)``.

    Arguments:
        spec: the architecture.
        variables: ``{"params": ..., "batch_stats": ...}`` of one instance (arrays of any kind).
        mode, num_joints: as for :func:`from_torch_state_dict`.

    Returns:
        an ordered dict of NumPy arrays in the reference's layouts.

    Raises:
        StateDictError: ``variables`` lack a leaf of the network or have one of the wrong shape.
    """
    _check(spec, mode)
    out = {}
    for path, (key, shape) in torch_key_map(spec, mode=mode, num_joints=num_joints).items():
        node = variables
        try:
            for part in path:
                node = node[part]
        except (KeyError, TypeError):
            raise StateDictError(f"variables lack {'/'.join(path)} (shape {shape}) of the network") from None
        value = np.asarray(node, np.float32)
        if value.shape != shape:
            raise StateDictError(f"{'/'.join(path)} has shape {value.shape}, the network expects {shape}")
        out[key] = _to_torch(value, key)
    return out
