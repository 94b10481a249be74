"""What a program's texts say about it: the collectives and the tile padding of a compiled module's HLO, the
products' and convolutions' FLOPs of a traced program (its jaxpr), and XLA's cost analysis of an executable.

The benchmark harness (:mod:`infantjax.bench.harness`) reads programs it runs with them; the programs compiled
for accelerator targets (:mod:`infantjax.aot`) read programs compiled without the hardware. They run no
program.

    from infantjax.bench.readers import collectives, matrix_flops
    matrix_flops(jitted, *args)          # FLOPs of the products and convolutions over all devices
    collectives(compiled.as_text())      # {"all-reduce": {"count": 2, "bytes": 4096}, ...}
"""

from __future__ import annotations

import math
import re

__all__ = ["collectives", "cost_analysis", "matrix_flops", "tile_padding"]

_COLLECTIVES = ("all-gather", "all-reduce", "reduce-scatter", "all-to-all", "collective-permute",
                "collective-broadcast", "ragged-all-to-all")
_OP = re.compile(r"^\s*(?:ROOT\s+)?%?[\w.\-]+\s*=\s*(.*?)\s(" + "|".join(_COLLECTIVES) + r")(-start)?\(")
_SHAPE = re.compile(r"\b(pred|s4|s8|s16|s32|s64|u4|u8|u16|u32|u64|f8e4m3fn|f8e5m2|bf16|f16|f32|f64|c64|c128)"
                    r"\[([0-9,]*)\]")
_BYTES = {"pred": 1, "s4": 0.5, "u4": 0.5, "s8": 1, "u8": 1, "f8e4m3fn": 1, "f8e5m2": 1, "s16": 2, "u16": 2,
          "bf16": 2, "f16": 2, "s32": 4, "u32": 4, "f32": 4, "s64": 8, "u64": 8, "f64": 8, "c64": 8, "c128": 16}


def collectives(hlo_text: str) -> dict[str, dict]:
    """Every collective of a compiled module's HLO text: ``{op: {"count": n, "bytes": b}}``, the bytes being the
    sizes of the results (an asynchronous ``-start`` op counts once, by its result; its ``-done`` is not counted)."""
    out: dict[str, dict] = {}
    for line in hlo_text.splitlines():
        m = _OP.match(line)
        if not m:
            continue
        result, op, start = m.group(1), m.group(2), m.group(3)
        shapes = [(d, [int(x) for x in dims.split(",") if x]) for d, dims in _SHAPE.findall(result)]
        if start and op in ("all-gather", "collective-permute", "all-to-all") and len(shapes) % 2 == 0 \
                and len(shapes) > 1:
            shapes = shapes[len(shapes) // 2:]  # ((operands), (results)): the results
        size = sum(_BYTES[d] * math.prod(dims) for d, dims in shapes)
        entry = out.setdefault(op, {"count": 0, "bytes": 0})
        entry["count"] += 1
        entry["bytes"] += int(size)
    return out


_LAYOUT = re.compile(r"\b(pred|s4|s8|s16|s32|s64|u4|u8|u16|u32|u64|f8e4m3fn|f8e5m2|bf16|f16|f32|f64|c64|c128)"
                     r"\[([0-9,]*)\]\{([0-9,]*)(?::([^}]*))?\}")
_RESULT = re.compile(r"^\s*(?:ROOT\s+)?%?[\w.\-]+\s*=\s*(.*?)\s([a-z][\w\-]*)\(")
_COMPUTATION = re.compile(r"^(ENTRY\s+)?%?([\w.\-]+)\s.*\{\s*$")
_NOT_BUFFERS = frozenset({"parameter", "constant", "get-tuple-element", "tuple", "bitcast", "copy-start",
                          "copy-done", "after-all", "opt-barrier"})


def tile_padding(hlo_text: str, top: int = 5) -> dict | None:
    """How much of the buffers a compiled TPU program writes to HBM is tile padding.

    Every result of an instruction outside fusion bodies (a buffer XLA materialises; parameters, constants, tuples
    and bitcasts are not buffers, and buffers in another memory space — ``S(n)``, the TPU's on-chip memory — are
    left out) is sized twice from the layout in the HLO text: its elements, and its elements padded to the layout's
    first tile, ``T(a, b)`` over its two most minor dimensions (``T(128)`` over one). Returns ``{"logical": bytes,
    "tiled": bytes, "ratio": tiled / logical, "largest": [{"shape": layout text, "logical": bytes, "tiled": bytes,
    "count": n}, ...], "opaque": bytes, "dtypes": {dtype: logical bytes}}`` (the ``top`` layouts with the most tiled
    bytes; ``dtypes`` splits the logical bytes by element type: a bfloat16 program's float32 share is the
    activations it keeps in float32), or None where the layouts
    carry no tiles (XLA:GPU, XLA:CPU). It counts each buffer written once: reads, and the bytes XLA's cost analysis
    adds, scale with it but are not in it. One-dimensional byte buffers of 1 MiB or more (``s8[n]``: XLA:TPU for v6e
    packs arrays into them) hide the shapes and layouts of what they hold: their bytes are ``opaque``, left out of
    the ratio, which then describes only the rest.
    """
    fused: set[str] = set()
    for name in re.findall(r"\bfusion\([^\n]*?calls=%?([\w.\-]+)", hlo_text):
        fused.add(name)
    logical_total = tiled_total = opaque_total = 0
    by_dtype: dict[str, int] = {}
    seen_tiles = False
    shapes: dict[str, list[int]] = {}
    current = None
    for line in hlo_text.splitlines():
        if not line.startswith(" "):
            m = _COMPUTATION.match(line)
            current = m.group(2) if m else None
            continue
        if current is None or current in fused:
            continue
        m = _RESULT.match(line)
        if not m or m.group(2) in _NOT_BUFFERS:
            continue
        for dtype, dims_text, order_text, extra in _LAYOUT.findall(m.group(1)):
            if "S(" in extra:
                continue
            dims = [int(x) for x in dims_text.split(",") if x]
            logical = _BYTES[dtype] * math.prod(dims)
            if dtype in ("s8", "u8") and len(dims) == 1 and logical >= (1 << 20):
                opaque_total += logical  # arrays packed into one byte buffer (XLA:TPU for v6e): shapes not visible
                continue
            padded = list(dims)
            tile = re.match(r"T\(([0-9,]+)\)", extra)
            order = [int(x) for x in order_text.split(",") if x]
            if tile and dims:
                seen_tiles = True
                sizes = [int(x) for x in tile.group(1).split(",")]
                for k, size in enumerate(reversed(sizes)):  # the tile's last size pads the most minor dimension
                    if k < len(order):
                        d = order[k]
                        padded[d] = -(-padded[d] // size) * size
            tiled = _BYTES[dtype] * math.prod(padded)
            logical_total += logical
            tiled_total += tiled
            by_dtype[dtype] = by_dtype.get(dtype, 0) + int(logical)
            key = f"{dtype}[{dims_text}]{{{order_text}:{extra}}}" if extra else f"{dtype}[{dims_text}]{{{order_text}}}"
            entry = shapes.setdefault(key, [0, 0, 0])
            entry[0] += int(logical)
            entry[1] += int(tiled)
            entry[2] += 1
    if not seen_tiles or not logical_total:
        return None
    largest = sorted(shapes.items(), key=lambda kv: -kv[1][1])[:top]
    return {"logical": int(logical_total), "tiled": int(tiled_total), "ratio": tiled_total / logical_total,
            "opaque": int(opaque_total), "dtypes": dict(sorted(by_dtype.items(), key=lambda kv: -kv[1])),
            "largest": [{"shape": k, "logical": v[0], "tiled": v[1], "count": v[2]} for k, v in largest]}


def matrix_flops(fn, *args) -> float:
    """FLOPs of the products and convolutions of ``fn(*args)`` over all devices, counted on its traced program (the
    jaxpr, backward passes included): 2 x multiply-accumulates of every ``dot_general`` and
    ``conv_general_dilated`` (feature groups and batch groups counted as such), sub-programs entered (``scan`` bodies
    times their length, ``shard_map`` bodies times the devices they run on, the larger branch of a ``cond``).
    Elementwise operations are not counted: it is a lower bound of XLA's count and, for networks made of products
    and convolutions, within a few per cent of it."""
    import jax

    return _jaxpr_flops(jax.make_jaxpr(fn)(*args).jaxpr)


def _jaxpr_flops(jaxpr) -> float:
    from jax.extend.core import ClosedJaxpr, Jaxpr

    total = 0.0
    for eqn in jaxpr.eqns:
        name = eqn.primitive.name
        if name == "dot_general":
            (lc, _), (lb, _) = eqn.params["dimension_numbers"]
            lhs = eqn.invars[0].aval.shape
            out = eqn.outvars[0].aval.shape
            total += 2.0 * math.prod(out) * math.prod(lhs[d] for d in lc)
            continue
        if name == "conv_general_dilated":
            rhs = eqn.invars[1].aval.shape
            dn = eqn.params["dimension_numbers"]
            out = eqn.outvars[0].aval.shape
            in_features = rhs[dn.rhs_spec[1]]  # input features per group
            spatial = math.prod(rhs[d] for d in dn.rhs_spec[2:])
            total += 2.0 * math.prod(out) * in_features * spatial
            continue
        factor = 1.0
        if name == "scan":
            factor = float(eqn.params["length"])
        elif name == "shard_map":
            mesh = eqn.params["mesh"]
            manual = eqn.params.get("newly_manual_axes") or eqn.params.get("manual_axes") or mesh.axis_names
            factor = float(math.prod(mesh.shape[a] for a in manual))
        subs = [v for v in eqn.params.values() if isinstance(v, (Jaxpr, ClosedJaxpr))]
        subs += [b for v in eqn.params.values() if isinstance(v, (tuple, list)) for b in v
                 if isinstance(b, (Jaxpr, ClosedJaxpr))]
        counts = [_jaxpr_flops(getattr(sub, "jaxpr", sub)) for sub in subs]
        if not counts:
            continue
        total += factor * (max(counts) if name == "cond" else sum(counts))
    return total


def cost_analysis(compiled) -> dict:
    """XLA's cost analysis of a compiled executable as one dict (``flops``, ``bytes accessed``, ...; an older
    JAX gives one per program: the first), or ``{}`` where the executable gives none (compile-only executables
    may not implement it)."""
    try:
        cost = compiled.cost_analysis()
    except Exception:  # noqa: BLE001 - an executable without a cost model
        return {}
    if isinstance(cost, (list, tuple)):
        cost = cost[0] if cost else None
    return dict(cost or {})
