"""Each kernel of a compiled program timed on the device, beside the cost model's prediction of it.

The GPU cost model (``infantjax.aot.costmodel``) is fitted on whole programs: a launch cost and an achieved fraction
of the bandwidth or peak per kernel class, chosen so that the sum over a program's kernels meets its measured time.
A whole program cannot say which class is off when the sum is; a profile of one call can. :func:`profile` traces
calls of a compiled program with ``jax.profiler`` and reads the trace with jaxlib's own reader (private; benchmarks
only), and :func:`compare` joins the trace's operations to the program's kernel listing
(:func:`infantjax.bench.kernels.kernels`, by HLO instruction name) and totals, per class of the model:

* the measured time of its kernels, their bytes and FLOPs, and the fraction of the datasheet's bandwidth and peak
  that makes (``bandwidth_fraction`` counts the whole measured time, launch included);
* the model's prediction of the same kernels (an estimate);

and for the call: the span from its first kernel's start to its last one's end, the time in which some kernel ran
(``busy_s``) and the rest (``idle_s``: the gaps between kernels, where a launch-bound program spends its time). The
traced call is one call like the others, but the profiler may change how its kernels are launched (a runtime may
launch a command buffer's kernels one by one while a profiler listens): set the span beside the untraced median.

Where the trace's operations come from (``source``): on a GPU, the device planes, read from the ``XLA Ops`` line
where the profiler derived one (an event per HLO operation), else from the kernels' ``hlo_op`` annotations; on the
CPU (the self-check), the host thunks' ``hlo_op`` events. On an NVIDIA GPU the record also keeps XLA's own
per-instruction profile (``get_instructions_profile``, what its latency-hiding scheduler reads) as a cross-check.

    from kernel_profile import profile, compare
    ops = profile(lambda: compiled(*args), calls=1)
    table = compare(kernels(compiled.as_text()), ops, costmodel.load().on_device("H200"))
"""

from __future__ import annotations

import collections
import glob
import os
import re
import tempfile
from collections.abc import Callable, Mapping

_HLO_OP = re.compile(r"hlo_op=([^,#\s]+)")


def _stat(event, key: str):
    for name, value in event.stats:
        if name == key:
            return value
    return None


def _annotated_op(event) -> str | None:
    """The HLO operation a device event belongs to: its ``hlo_op`` stat, or an ``hlo_op=`` in an annotation."""
    op = _stat(event, "hlo_op")
    if op:
        return str(op)
    for _, value in event.stats:
        if isinstance(value, str):
            m = _HLO_OP.search(value)
            if m:
                return m.group(1)
    return None


def read_ops(data) -> tuple[str, list[tuple[str, int, int]]]:
    """(source, [(operation, start_ns, end_ns), ...]) of a ``_profile_data.ProfileData`` (module docstring)."""
    device = [p for p in data.planes if p.name.startswith("/device:") and "CPU" not in p.name]
    for plane in device:
        for line in plane.lines:
            if line.name == "XLA Ops":
                events = [(e.name, int(e.start_ns), int(e.end_ns)) for e in line.events]
                if events:
                    return "device: XLA Ops line", events
    events = []
    for plane in device:
        for line in plane.lines:
            if line.name in ("XLA Modules", "Steps", "Framework Ops", "Framework Name Scope"):
                continue
            for e in line.events:
                op = _annotated_op(e)
                if op:
                    events.append((op, int(e.start_ns), int(e.end_ns)))
    if events:
        return "device: kernel annotations", events
    if device:  # a device that ran the program but no kernel in the trace (no CUPTI, or another tracer)
        return "device: no kernel events in the trace", []
    for plane in data.planes:
        if plane.name != "/host:CPU":
            continue
        for line in plane.lines:
            for e in line.events:
                op = _stat(e, "hlo_op")
                if op and not e.name.startswith("end: "):
                    events.append((str(op), int(e.start_ns), int(e.end_ns)))
    return "host: XLA:CPU thunks", events


def union_length(intervals: list[tuple[int, int]]) -> int:
    """The length of the union of (start, end) intervals."""
    total, current = 0, None
    for s, e in sorted(intervals):
        if current is None or s > current[1]:
            total += 0 if current is None else current[1] - current[0]
            current = [s, e]
        else:
            current[1] = max(current[1], e)
    return total + (current[1] - current[0] if current else 0)


def profile(call: Callable, calls: int = 1) -> dict:
    """Trace ``calls`` calls of ``call`` (each waited for; warm it up first) and return the operations' times:
    ``{"source", "calls", "ops": {name: {"seconds", "events"}} (totals over the calls), "span_s", "busy_s",
    "xla_instructions_us": {name: µs} (XLA's own profile: NVIDIA GPUs only, else empty)}``."""
    import jax
    from jax._src.lib import _profile_data  # jaxlib's reader of profiler traces (private; benchmark only)

    with tempfile.TemporaryDirectory() as tmp:
        with jax.profiler.trace(tmp):
            for _ in range(calls):
                jax.block_until_ready(call())
        paths = sorted(glob.glob(os.path.join(tmp, "plugins", "profile", "*", "*.xplane.pb")))
        if not paths:
            return {"source": "no trace written", "calls": calls, "ops": {}, "span_s": 0.0, "busy_s": 0.0,
                    "xla_instructions_us": {}}
        source, events = read_ops(_profile_data.ProfileData.from_file(paths[-1]))
        xla = {}
        try:
            from jax._src.lib import _profiler

            xla = {str(n): float(us) for n, us in _profiler.get_instructions_profile(os.path.dirname(paths[-1]))}
        except Exception:  # noqa: BLE001 - absent in this jaxlib, or not an NVIDIA GPU: the cross-check is optional
            xla = {}
    ops: dict[str, dict] = {}
    for name, start, end in events:
        entry = ops.setdefault(name, {"seconds": 0.0, "events": 0})
        entry["seconds"] += (end - start) / 1e9
        entry["events"] += 1
    span = (max(e for _, _, e in events) - min(s for _, s, _ in events)) / 1e9 if events else 0.0
    return {"source": source, "calls": calls, "ops": ops, "span_s": span,
            "busy_s": union_length([(s, e) for _, s, e in events]) / 1e9, "xla_instructions_us": xla}


def compare(listing: list[Mapping], traced: Mapping, model=None, top: int = 25) -> dict:
    """Join a kernel listing to a :func:`profile`'s operations (per call) and total them by the cost model's class
    (module docstring). ``model``: a :class:`~infantjax.aot.costmodel.CostModel` for the predictions (estimates)
    and the datasheet rates; None: the shipped calibration on an H100. ``measured`` holds every joined kernel's
    time a call (what ``benchmarks/gpu_costmodel.py --profiles`` fits on), ``top`` the longest ``top`` in full."""
    from infantjax.aot import costmodel

    model = model or costmodel.load()
    calls = max(int(traced.get("calls", 1)), 1)
    ops = {name: dict(v) for name, v in traced["ops"].items()}
    by_class: dict[str, dict] = {}
    kernels, unmeasured = [], 0
    for k in listing:
        n = int(k.get("count", 1))
        lat, mem, comp = model.kernel_seconds(k)
        predicted = n * (lat + max(mem, comp))
        cls = costmodel.kernel_class(k)
        op = ops.pop(k["name"], None)
        measured = op["seconds"] / calls if op else None
        entry = by_class.setdefault(cls, {"count": 0, "measured_s": 0.0, "predicted_s": 0.0, "bytes": 0.0,
                                          "flops": 0.0, "unmeasured": 0})
        entry["count"] += n
        entry["predicted_s"] += predicted
        if measured is None:
            entry["unmeasured"] += n
            unmeasured += n
            continue
        entry["measured_s"] += measured
        entry["bytes"] += n * float(k["bytes"])
        entry["flops"] += n * float(k.get("flops") or 0.0)
        kernels.append({"name": k["name"], "kind": k["kind"], "class": cls, "shape": k.get("shape"),
                        "count": n, "events": op["events"] / calls, "measured_s": measured,
                        "predicted_s": predicted, "bytes": n * float(k["bytes"]),
                        "flops": n * float(k.get("flops") or 0.0)})
    for entry in by_class.values():
        t = entry["measured_s"]
        entry["bandwidth_fraction"] = entry["bytes"] / (t * model.hbm_tb_s * 1e12) if t else None
        entry["tflops"] = entry["flops"] / t / 1e12 if t else None
        entry["measured_over_predicted"] = t / entry["predicted_s"] if t and entry["predicted_s"] else None
    measured = sum(e["measured_s"] for e in by_class.values())
    other = {name: v["seconds"] / calls for name, v in ops.items()}
    kernels.sort(key=lambda r: -r["measured_s"])
    return {"source": traced.get("source"), "calls": calls, "device": model.device, "estimate_note":
            "predicted_s are estimates of the cost model; measured_s come from the profiler's trace",
            "matched_s": measured, "other_ops_s": sum(other.values()),
            "other_ops": dict(collections.Counter(other).most_common(top)),
            "unmeasured_launches": unmeasured, "span_s": traced["span_s"] / calls,
            "busy_s": traced["busy_s"] / calls, "idle_s": (traced["span_s"] - traced["busy_s"]) / calls,
            "by_class": by_class, "top": kernels[:top],
            "measured": {k["name"]: k["measured_s"] for k in kernels},
            "xla_instructions_us_total": sum(traced.get("xla_instructions_us", {}).values()),
            "xla_instructions_us": traced.get("xla_instructions_us", {})}


def line(table: Mapping) -> str:
    """A one-line summary of :func:`compare`."""
    ms = 1e3
    classes = ", ".join(f"{c} {e['measured_s'] * ms:.2f} ms (model {e['predicted_s'] * ms:.2f})"
                        for c, e in sorted(table["by_class"].items(), key=lambda kv: -kv[1]["measured_s"])
                        if e["measured_s"])
    return (f"profile ({table['source']}): kernels busy {table['busy_s'] * ms:.2f} ms of a {table['span_s'] * ms:.2f}"
            f" ms span (idle {table['idle_s'] * ms:.2f} ms); matched {table['matched_s'] * ms:.2f} ms, other ops "
            f"{table['other_ops_s'] * ms:.2f} ms, {table['unmeasured_launches']} launches not in the trace; "
            f"{classes}")
