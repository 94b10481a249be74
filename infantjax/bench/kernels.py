"""The kernels of a program compiled for a GPU, read from its optimized HLO (``compiled.as_text()``).

After XLA:GPU's fusion passes every instruction of the entry computation that is not bookkeeping (parameters,
tuples, bitcasts, ...) is one kernel launch: a fusion (XLA's own elementwise, reduction or transpose kernels, or a
Triton kernel), a library call (cuBLAS / cuBLASLt GEMMs, cuDNN convolutions), a copy, or a collective. Loops
(``while``) repeat their body's kernels by their known trip count; a ``conditional`` counts its largest branch.

:func:`kernels` lists them, each with its kind, shapes, bytes (its operands read once and its results written
once: the traffic a kernel cannot avoid; a fused slice reads only what it slices, an in-place update writes only
its update) and FLOPs (2 × multiply-accumulates of its products and convolutions; elementwise work is not
counted), and for a convolution its feature groups; :func:`summary` totals them by kind. Nothing is run: on a
program compiled for a device this machine does not have, every figure is read from the text.

    from infantjax.bench.kernels import kernels, summary
    listing = kernels(compiled.as_text())
    summary(listing)["count"]            # kernel launches of one call

Kinds (:data:`KINDS`):

* ``gemm``: a cuBLAS / cuBLASLt product, or a Triton GEMM fusion;
* ``conv``: a cuDNN convolution (forward, backward input or filter) with one feature group;
* ``conv-grouped``: a cuDNN convolution with feature (or batch) groups of several channels each — what a
  convolution vmapped over per-instance kernels becomes (one group an instance);
* ``conv-depthwise``: a grouped convolution of one input channel a group (EfficientPose's depthwise layers);
* ``elementwise``: a loop fusion (XLA's elementwise kernels, pads, slices, concatenations);
* ``reduce``: a reduction fusion (BatchNorm statistics, sums over windows, the loss);
* ``transpose``: a transpose fusion or a copy that changes the layout;
* ``copy``: a plain copy (parameters and optimizer state moved into place);
* ``triton``: a Triton block-level fusion (softmax-like normalisations, small reductions);
* ``collective``: an all-reduce, all-gather, ... (a device's share);
* ``other``: anything else that launches work (a sort, a scatter outside a fusion, a host callback).
"""

from __future__ import annotations

import json
import math
import re

__all__ = ["KINDS", "kernels", "summary"]

KINDS = ("gemm", "conv", "conv-grouped", "conv-depthwise", "elementwise", "reduce", "transpose", "copy", "triton", "collective",
         "other")

_DTYPES = r"(pred|s4|s8|s16|s32|s64|u4|u8|u16|u32|u64|f8e4m3fn|f8e5m2|bf16|f16|f32|f64|c64|c128)"
_SHAPE = re.compile(_DTYPES + r"\[([0-9,]*)\]")
_BYTES = {"pred": 1, "s4": 0.5, "u4": 0.5, "s8": 1, "u8": 1, "f8e4m3fn": 1, "f8e5m2": 1, "s16": 2, "u16": 2,
          "bf16": 2, "f16": 2, "s32": 4, "u32": 4, "f32": 4, "s64": 8, "u64": 8, "f64": 8, "c64": 8, "c128": 16}
_INSTR = re.compile(r"^\s*(ROOT\s+)?%?([\w.\-]+)\s*=\s*(.*?)\s([a-z][\w\-]*)\((.*)$")
_HEADER = re.compile(r"^(ENTRY\s+)?%?([\w.\-]+)\s.*\{\s*$")
_NOT_KERNELS = frozenset({"parameter", "constant", "get-tuple-element", "tuple", "bitcast", "after-all",
                          "opt-barrier", "partition-id", "replica-id", "copy-done", "add-dependency", "domain",
                          "send-done", "recv-done", "async-done", "async-update", "iota"})
_COLLECTIVES = ("all-gather", "all-reduce", "reduce-scatter", "all-to-all", "collective-permute",
                "collective-broadcast", "ragged-all-to-all")
_SLICING = frozenset({"slice", "dynamic-slice", "gather"})


class _Instr:
    __slots__ = ("name", "type", "op", "operands", "attrs", "root", "index")

    def __init__(self, name, type_, op, operands, attrs, root, index):
        self.name, self.type, self.op, self.operands, self.attrs, self.root = name, type_, op, operands, attrs, root
        self.index = index  # a parameter's number


def _split_call(rest: str) -> tuple[str, str]:
    """``a, b), attr=...`` -> (the operand text, the attributes after the closing parenthesis)."""
    depth = 1
    for i, ch in enumerate(rest):
        if ch in "({[":
            depth += 1
        elif ch in ")}]":
            depth -= 1
            if depth == 0:
                return rest[:i], rest[i + 1:]
    return rest, ""


def _parse(hlo_text: str) -> tuple[dict[str, list[_Instr]], str | None]:
    """Computation name -> its instructions, and the entry computation's name."""
    comps: dict[str, list[_Instr]] = {}
    entry = None
    current: list[_Instr] | None = None
    for line in hlo_text.splitlines():
        if not line.startswith(" "):
            m = _HEADER.match(line)
            if m:
                current = comps.setdefault(m.group(2), [])
                if m.group(1):
                    entry = m.group(2)
            elif line.startswith("}"):
                current = None
            continue
        if current is None:
            continue
        m = _INSTR.match(line)
        if not m:
            continue
        operands, attrs = _split_call(m.group(5))
        names = re.findall(r"%([\w.\-]+)", operands)
        index = int(operands) if m.group(4) == "parameter" and operands.strip().isdigit() else None
        current.append(_Instr(m.group(2), m.group(3), m.group(4), names, attrs, bool(m.group(1)), index))
    return comps, entry


def _shapes(type_text: str) -> list[tuple[str, list[int]]]:
    return [(d, [int(x) for x in dims.split(",") if x]) for d, dims in _SHAPE.findall(type_text)]


def _nbytes(shapes) -> float:
    return float(sum(_BYTES[d] * math.prod(dims) for d, dims in shapes))


def _attr(attrs: str, key: str) -> str | None:
    m = re.search(r"\b" + re.escape(key) + r"=([^,\s]+(?:\{[^}]*\})?)", attrs)
    return m.group(1) if m else None


def _backend_config(attrs: str) -> dict:
    i = attrs.find("backend_config=")
    if i < 0:
        return {}
    text = attrs[i + len("backend_config="):]
    if not text.startswith("{"):
        return {}
    depth = 0
    for j, ch in enumerate(text):
        depth += ch == "{"
        depth -= ch == "}"
        if depth == 0:
            try:
                return json.loads(text[:j + 1])
            except ValueError:
                return {}
    return {}


def _groups(attrs: str) -> int:
    feature = _attr(attrs, "feature_group_count")
    batch = _attr(attrs, "batch_group_count")
    return max(int(feature or 1), int(batch or 1))


def _window(attrs: str) -> int:
    m = re.search(r"window=\{size=([0-9x]+)", attrs)
    return math.prod(int(x) for x in m.group(1).split("x")) if m else 1


def _conv(kind: str, attrs: str, operand_shapes, result_shapes) -> tuple[float, int, int]:
    """(2 × multiply-accumulates, input channels a group, output features a group) of a convolution, in the
    forward convolution's terms: every output element of the forward sums window × (input features / feature
    groups) products. ``kind``: ``forward``, ``backward-input`` or ``backward-filter`` (cuDNN's custom calls carry
    the forward's window and dimension labels)."""
    labels = _attr(attrs, "dim_labels") or ""
    lhs_labels = labels.split("_")[0] if "_" in labels else ""
    out_labels = labels.split("->")[-1] if "->" in labels else ""
    if not lhs_labels or "f" not in lhs_labels or not operand_shapes or not result_shapes:
        return 0.0, 0, 0
    f = lhs_labels.index("f")
    window = _window(attrs)
    groups = _groups(attrs)
    if kind == "backward-filter" and len(operand_shapes) > 1:  # (input, output gradient) -> filter
        inputs, outputs = operand_shapes[0][1], operand_shapes[1][1]
    elif kind == "backward-input":  # (output gradient, filter) -> input gradient
        inputs, outputs = result_shapes[0][1], operand_shapes[0][1]
    else:
        inputs, outputs = operand_shapes[0][1], result_shapes[0][1]
    if len(inputs) <= f:
        return 0.0, 0, 0
    per_group = inputs[f] // groups if groups else inputs[f]
    o = out_labels.index("f") if "f" in out_labels else len(outputs) - 1
    features = outputs[o] // groups if groups and o < len(outputs) else 0
    return 2.0 * math.prod(outputs) * window * per_group, per_group, features


def _dot_flops(attrs: str, lhs_shape: list[int], result_shape: list[int]) -> float:
    m = re.search(r"lhs_contracting_dims=\{([0-9,]*)\}", attrs)
    dims = [int(x) for x in m.group(1).split(",") if x] if m else []
    return 2.0 * math.prod(result_shape) * math.prod(lhs_shape[d] for d in dims if d < len(lhs_shape))


def _gemm_flops(instr: _Instr, shapes: dict, config: dict) -> float:
    gemm = config.get("gemm_backend_config") or {}
    dims = (gemm.get("dot_dimension_numbers") or {}).get("lhs_contracting_dimensions") or []
    result = _shapes(instr.type)
    if not instr.operands or not result:
        return 0.0
    lhs = shapes.get(instr.operands[0])
    if not lhs:
        return 0.0
    lhs_dims = lhs[0][1]
    return 2.0 * math.prod(result[0][1]) * math.prod(lhs_dims[int(d)] for d in dims if int(d) < len(lhs_dims))


def _inner_flops(comps: dict, name: str, seen: set | None = None) -> tuple[float, int, int, int]:
    """Products and convolutions inside a fused computation: (FLOPs, the largest feature-group count, the input
    channels and output features a group of that convolution; 0 without one)."""
    seen = seen if seen is not None else set()
    if name in seen or name not in comps:
        return 0.0, 1, 0, 0
    seen.add(name)
    shapes = {i.name: _shapes(i.type) for i in comps[name]}
    flops, groups, per_group, features = 0.0, 1, 0, 0
    for i in comps[name]:
        if i.op == "dot" and i.operands and shapes.get(i.operands[0]):
            flops += _dot_flops(i.attrs, shapes[i.operands[0]][0][1], _shapes(i.type)[0][1])
        elif i.op == "convolution" and len(i.operands) > 1:
            f, c, o = _conv("forward", i.attrs, [(shapes.get(o) or [("f32", [])])[0] for o in i.operands],
                            _shapes(i.type))
            flops += f
            if _groups(i.attrs) >= groups:
                groups, per_group, features = _groups(i.attrs), c, o
        elif i.op in ("fusion", "call"):
            callee = _attr(i.attrs, "calls") or _attr(i.attrs, "to_apply")
            if callee:
                sub, g, c, o = _inner_flops(comps, callee.lstrip("%"), seen)
                flops += sub
                if g >= groups:
                    groups, per_group, features = g, c, o
    return flops, groups, per_group, features


def _fusion_reads(comps: dict, callee: str, operand_bytes: list[float]) -> list[float]:
    """The bytes a fusion reads of each operand: all of it, or only what it slices where every use of the
    parameter is a slice (a fused slice reads its window)."""
    body = comps.get(callee)
    if not body:
        return operand_bytes
    reads = list(operand_bytes)
    users: dict[str, list[_Instr]] = {}
    for i in body:
        for o in i.operands:
            users.setdefault(o, []).append(i)
    for i in body:
        if i.op != "parameter" or i.index is None or i.index >= len(reads):
            continue
        uses = users.get(i.name, [])
        if uses and all(u.op in _SLICING for u in uses):
            reads[i.index] = min(reads[i.index], sum(_nbytes(_shapes(u.type)) for u in uses))
    return reads


def _param_order(comps: dict, callee: str) -> list[str]:
    """The fused computation's parameters by number."""
    params = [i for i in comps.get(callee, []) if i.op == "parameter" and i.index is not None]
    return [i.name for i in sorted(params, key=lambda i: i.index)]


def _root(comps: dict, callee: str) -> _Instr | None:
    body = comps.get(callee) or []
    for i in body:
        if i.root:
            return i
    return body[-1] if body else None


def _column_width(instr: _Instr, shapes: dict) -> int:
    """The kept minor dimension of a ``reduce`` instruction that keeps its input's minor dimension (a column
    reduction: its rows that wide), 0 for one that reduces it (a row reduction)."""
    if not instr.operands:
        return 0
    dims = (shapes.get(instr.operands[0]) or [("", [])])[0][1]
    m = re.search(r"dimensions=\{([0-9,]*)\}", instr.attrs)
    reduced = {int(d) for d in m.group(1).split(",") if d} if m else set()
    return dims[-1] if dims and len(dims) - 1 not in reduced else 0


def _reduce_width(comps: dict, callee: str | None, instr: _Instr | None = None, shapes: dict | None = None):
    """The narrowest row of a kernel's column reductions (:func:`_column_width`), 0 when it has only row
    reductions, None when it reduces nothing (its own ``reduce`` for an unfused one)."""
    if instr is not None and instr.op == "reduce":
        return _column_width(instr, shapes or {})
    body = comps.get(callee or "") or []
    inner = {i.name: _shapes(i.type) for i in body}
    widths = [_column_width(i, inner) for i in body if i.op == "reduce"]
    if not widths:
        return None
    columns = [w for w in widths if w > 0]
    return min(columns) if columns else 0


def _conv_kind(groups: int, per_group: int) -> str:
    if groups <= 1:
        return "conv"
    return "conv-depthwise" if per_group == 1 else "conv-grouped"


def _kind(instr: _Instr, config: dict, groups: int, per_group: int) -> tuple[str, str]:
    """(kind, what: the library call or fusion it is)."""
    op = instr.op
    base = op[:-6] if op.endswith("-start") else op
    if base in _COLLECTIVES:
        return "collective", base
    if op == "custom-call":
        target = (_attr(instr.attrs, "custom_call_target") or "").strip('"')
        if "matmul" in target or "gemm" in target.lower():
            return "gemm", target
        if "conv" in target.lower():
            return _conv_kind(groups, per_group), target
        return "other", target
    if op == "fusion":
        fusion = (config.get("fusion_backend_config") or {}).get("kind", "")
        kind_attr = _attr(instr.attrs, "kind") or ""
        if fusion in ("__triton_gemm", "__cublas", "__triton_nested_gemm_fusion") or "gemm" in fusion:
            return "gemm", fusion
        if "cudnn" in fusion or "conv" in fusion:
            return _conv_kind(groups, per_group), fusion
        if fusion.startswith("__triton"):
            return "triton", fusion
        if fusion:
            return "other", fusion
        name = instr.name
        if "transpose" in name:
            return "transpose", kind_attr
        if kind_attr == "kInput" or "reduce" in name:
            return "reduce", kind_attr
        return "elementwise", kind_attr
    if op == "copy":
        return "copy", "copy"
    if op == "transpose":
        return "transpose", "transpose"
    if op == "convolution":
        return _conv_kind(groups, per_group), op
    if op == "dot":
        return "gemm", op
    if op in ("reduce", "reduce-window"):
        return "reduce", op
    return "other", op


def _op_name(attrs: str) -> str:
    m = re.search(r'op_name="([^"]*)"', attrs)
    return m.group(1) if m else ""


def _walk(comps: dict, name: str, repeat: int, out: list[dict], depth: int = 0) -> None:
    body = comps.get(name) or []
    shapes = {i.name: _shapes(i.type) for i in body}
    types = {i.name: i.type for i in body}
    for instr in body:
        op = instr.op
        if op in _NOT_KERNELS or op.endswith("-done"):
            continue
        if op == "while":
            config = _backend_config(instr.attrs)
            trips = int(((config.get("known_trip_count") or {}).get("n")) or 1)
            callee = _attr(instr.attrs, "body")
            if callee and depth < 8:
                _walk(comps, callee.lstrip("%"), repeat * trips, out, depth + 1)
            continue
        if op == "call" or op == "async-start":
            callee = _attr(instr.attrs, "to_apply") or _attr(instr.attrs, "calls")
            if callee and depth < 8:
                _walk(comps, callee.lstrip("%"), repeat, out, depth + 1)
            continue
        if op == "conditional":
            m = re.search(r"branch_computations=\{([^}]*)\}", instr.attrs)
            branches = re.findall(r"%?([\w.\-]+)", m.group(1)) if m else [
                b.lstrip("%") for b in (_attr(instr.attrs, "true_computation"),
                                        _attr(instr.attrs, "false_computation")) if b]
            best: list[dict] = []
            for branch in branches:
                trial: list[dict] = []
                _walk(comps, branch, repeat, trial, depth + 1)
                if sum(k["count"] for k in trial) > sum(k["count"] for k in best):
                    best = trial
            out.extend(best)
            continue
        config = _backend_config(instr.attrs)
        results = _shapes(instr.type)
        if op == "custom-call" and len(results) > 1 and results[-1][0] in ("s8", "u8") and len(results[-1][1]) == 1:
            results = results[:-1]  # the library call's scratch space
        operand_shapes = [shapes[o][0] if len(shapes.get(o, [])) == 1 else ("f32", [0]) for o in instr.operands]
        operand_bytes = [_nbytes(shapes.get(o, [])) for o in instr.operands]
        callee = _attr(instr.attrs, "calls")
        callee = callee.lstrip("%") if callee else None
        groups = _groups(instr.attrs)
        per_group = features = 0
        flops = 0.0
        written = _nbytes(results)
        if op == "fusion" and callee:
            flops, inner_groups, inner_per_group, inner_features = _inner_flops(comps, callee)
            if inner_groups >= groups:
                groups, per_group, features = inner_groups, inner_per_group, inner_features
            order = _param_order(comps, callee)
            reads = _fusion_reads(comps, callee, operand_bytes) if len(order) == len(operand_bytes) else operand_bytes
            root = _root(comps, callee)
            if root is not None and root.op == "dynamic-update-slice" and len(root.operands) > 1:
                inner = {i.name: _shapes(i.type) for i in comps[callee]}
                update = _nbytes(inner.get(root.operands[1], []))
                written = update  # in place: only the update is written (and its buffer not read)
                if order and root.operands[0] in order:
                    reads[order.index(root.operands[0])] = 0.0
            operand_bytes = reads
        elif op == "custom-call":
            target = (_attr(instr.attrs, "custom_call_target") or "").strip('"')
            if "matmul" in target or "gemm" in target.lower():
                flops = _gemm_flops(instr, shapes, config)
            elif "conv" in target.lower():
                which = ("backward-filter" if "BackwardFilter" in target else
                         "backward-input" if "BackwardInput" in target else "forward")
                flops, per_group, features = _conv(which, instr.attrs, operand_shapes, results)
        elif op == "convolution":
            flops, per_group, features = _conv("forward", instr.attrs, operand_shapes, results)
        elif op == "dot" and operand_shapes:
            flops = _dot_flops(instr.attrs, operand_shapes[0][1], results[0][1] if results else [])
        kind, what = _kind(instr, config, groups, per_group)
        width = _reduce_width(comps, callee, instr, shapes) if kind in ("reduce", "triton") else None
        if kind == "copy" and instr.operands:
            m_in = re.search(r"\]\{([0-9,]*)", types.get(instr.operands[0], ""))
            m_out = re.search(r"\]\{([0-9,]*)", instr.type)
            if m_in and m_out and m_in.group(1) != m_out.group(1):
                kind, what = "transpose", "copy (layout change)"
        out.append({"name": instr.name, "kind": kind, "what": what,
                    "shape": " ".join(f"{d}[{','.join(map(str, s))}]" for d, s in results),
                    "operands": [f"{d}[{','.join(map(str, s))}]" for d, s in operand_shapes],
                    "bytes": float(sum(operand_bytes) + written), "flops": float(flops),
                    "groups": int(groups) if kind.startswith("conv") else None,
                    "group_channels": int(per_group) if kind.startswith("conv") else None,
                    "group_features": int(features) if kind.startswith("conv") else None,
                    "reduce_width": width,
                    "count": int(repeat), "op_name": _op_name(instr.attrs)})


def kernels(hlo_text: str) -> list[dict]:
    """The kernels one call of a compiled GPU program launches, in program order.

    Arguments:
        hlo_text: the optimized HLO of a compiled executable (``compiled.as_text()``).

    Returns:
        one dict per kernel: ``name`` (the instruction), ``kind`` (:data:`KINDS`), ``what`` (the library call or
        the fusion's emitter), ``shape`` (its results), ``operands`` (their shapes), ``bytes`` (operands read and
        results written once; a library call's scratch space left out), ``flops`` (its products and
        convolutions), ``groups`` (a convolution's feature or batch groups; None for other kinds),
        ``group_channels`` and ``group_features`` (its input channels and output features a group),
        ``reduce_width`` (a reduction's narrowest column reduction: the width of the rows it sums, 0 when it only
        reduces rows' minor dimensions, None for other kinds or a kernel that reduces nothing), ``count`` (launches
        per call: a loop body's trip count) and ``op_name`` (the traced operation it came from).
    """
    comps, entry = _parse(hlo_text)
    out: list[dict] = []
    if entry is not None:
        _walk(comps, entry, 1, out)
    return out


def summary(listing: list[dict]) -> dict:
    """Totals of a kernel listing: ``count`` (launches), ``bytes``, ``flops``, and per kind ``{kind: {"count",
    "bytes", "flops"}}`` (``by_kind``), the convolutions' feature groups (``conv_groups``: {groups: launches}) and
    the median bytes of a launch (``median_bytes``)."""
    by_kind: dict[str, dict] = {}
    groups: dict[int, int] = {}
    sizes: list[float] = []
    for k in listing:
        entry = by_kind.setdefault(k["kind"], {"count": 0, "bytes": 0.0, "flops": 0.0})
        entry["count"] += k["count"]
        entry["bytes"] += k["bytes"] * k["count"]
        entry["flops"] += k["flops"] * k["count"]
        if k["groups"]:
            groups[k["groups"]] = groups.get(k["groups"], 0) + k["count"]
        sizes.extend([k["bytes"]] * k["count"])
    sizes.sort()
    order = {kind: i for i, kind in enumerate(KINDS)}
    return {"count": sum(v["count"] for v in by_kind.values()),
            "bytes": sum(v["bytes"] for v in by_kind.values()),
            "flops": sum(v["flops"] for v in by_kind.values()),
            "by_kind": dict(sorted(by_kind.items(), key=lambda kv: order.get(kv[0], 99))),
            "conv_groups": dict(sorted(groups.items())),
            "median_bytes": sizes[len(sizes) // 2] if sizes else 0.0}
