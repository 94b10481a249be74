"""What would it take: a compiled program's kernels predicted by the GPU cost model under the shipped calibration and
under changed rates of its kernel classes, by class.

    python benchmarks/gpu_forms.py --compile-for h100x1 --forms today einsum-graph --rows cp-score-70 --json est.json
    python benchmarks/gpu_what_if.py est.json --calls 138.67 \\
        --what-if gemm.compute=0.75 --what-if reduce-narrow.bandwidth=reduce \\
        --what-if gemm.compute=0.75,reduce-narrow.bandwidth=reduce

Reads a record of ``benchmarks/gpu_forms.py --compile-for`` (its rows keep the kernel listing of each compiled
program) and prints, for each row and device (``--device``; H100 and H200 by default), the time the model predicts
by class, then the program again under each ``--what-if``: comma-separated ``CLASS.KIND=VALUE`` assignments, KIND
``bandwidth`` (the class's achieved fraction of the HBM bandwidth) or ``compute`` (of the matrix peak), VALUE a
fraction in (0, 1] or the name of another class, whose fitted fraction of the same kind it takes (e.g.
``reduce-narrow.bandwidth=reduce``: the narrow reductions as fast as the wide ones), or ``launch_s=SECONDS`` and
``call_s=SECONDS``, the fixed costs of a kernel and of a call (e.g. ``launch_s=1e-6``: launches as cheap as a CUDA
graph might make them). ``--calls N`` also gives each figure times N (e.g. 71,000 windows ÷ 512 a call = 138.67
calls: 1,000 three-minute recordings).

Every figure is an **estimate** (a program compiled for the device, not run on it); the what-if figures are the
same estimate under rates nobody has measured: they say which class a goal depends on and how far it would have to
move, not what a form would give.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import pathlib
import sys

from infantjax.aot import costmodel


def scenario(model: costmodel.CostModel, spec: str) -> costmodel.CostModel:
    """``model`` with the class rates of ``spec`` (``CLASS.KIND=VALUE[,…]``, module docstring) replaced.

    Raises:
        ValueError: an assignment that names no class, kind or fraction the model has.
    """
    tables = {"bandwidth": dict(model.bandwidth), "compute": dict(model.compute)}
    fixed = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        target, _, value = part.partition("=")
        if target.strip() in ("launch_s", "call_s"):  # a fixed cost in seconds (e.g. launches under CUDA graphs)
            try:
                fixed[target.strip()] = float(value)
            except ValueError:
                raise ValueError(f"what-if {part!r}: {target.strip()} takes seconds, got {value!r}") from None
            if not fixed[target.strip()] >= 0:
                raise ValueError(f"what-if {part!r}: a cost is 0 seconds or more")
            continue
        cls, _, kind = target.strip().rpartition(".")
        if kind not in tables or not value:
            raise ValueError(f"what-if {part!r}: write CLASS.bandwidth=VALUE, CLASS.compute=VALUE, launch_s=SECONDS "
                             f"or call_s=SECONDS")
        table = tables[kind]
        if cls not in table:
            raise ValueError(f"what-if {part!r}: the model has no {kind} fraction for {cls!r}; it has "
                             f"{', '.join(sorted(table))}")
        value = value.strip()
        if value in table:
            fraction = table[value]
        else:
            try:
                fraction = float(value)
            except ValueError:
                raise ValueError(f"what-if {part!r}: {value!r} is neither a fraction nor a class with a {kind} "
                                 f"fraction ({', '.join(sorted(table))})") from None
        if not 0 < fraction <= 1:
            raise ValueError(f"what-if {part!r}: a fraction lies in (0, 1], got {fraction}")
        table[cls] = fraction
    return dataclasses.replace(model, bandwidth=tables["bandwidth"], compute=tables["compute"], **fixed)


def rows_of(record: dict) -> list[dict]:
    """The rows of a ``gpu_forms.py`` record that keep their kernel listing (the ``--compile-for`` rows)."""
    rows = [r for r in record.get("rows", []) if r.get("listing")]
    if not rows:
        raise ValueError("the record has no row with a kernel listing: make it with benchmarks/gpu_forms.py "
                         "--compile-for TARGET")
    return rows


def report(record: dict, devices=("H100", "H200"), what_ifs=(),
           calls: float | None = None) -> tuple[list[str], list[dict]]:
    """The printed lines and the figures (one dict per row, device and scenario; ``scenario`` None is the shipped
    calibration) of every listed row of ``record``."""
    base = costmodel.load()
    lines: list[str] = []
    figures: list[dict] = []
    for row in rows_of(record):
        name = f"{row.get('label', row.get('key'))} [{row.get('forms', '?')}]"
        for device in devices:
            shipped = base.on_device(device)
            lines.append(f"{name}, {device} (estimates):")
            for spec in (None, *what_ifs):
                m = shipped if spec is None else scenario(shipped, spec)
                p = m.predict(row["listing"])
                total = f"; x {calls:g} calls = {p.seconds * calls:.1f} s" if calls else ""
                classes = ", ".join(f"{c} {v['seconds'] * 1e3:.1f}" for c, v in
                                    sorted(p.by_class.items(), key=lambda kv: -kv[1]["seconds"]))
                lines.append(f"  {spec or 'as calibrated'}: {p.seconds * 1e3:.1f} ms a call{total} "
                             f"(by class, ms: {classes})")
                figures.append({"key": row.get("key"), "forms": row.get("forms"), "device": device,
                                "scenario": spec, "seconds": p.seconds,
                                "total_s": p.seconds * calls if calls else None,
                                "by_class_s": {c: v["seconds"] for c, v in p.by_class.items()}, "estimate": True})
    return lines, figures


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("record", type=pathlib.Path, help="a record of benchmarks/gpu_forms.py --compile-for")
    parser.add_argument("--device", nargs="+", default=["H100", "H200"], choices=list(costmodel.DEVICES))
    parser.add_argument("--what-if", action="append", default=[], metavar="CLASS.KIND=VALUE[,...]")
    parser.add_argument("--calls", type=float, default=None, help="also give each figure times this many calls")
    parser.add_argument("--json", type=pathlib.Path, default=None, help="also write the figures here")
    a = parser.parse_args(argv)
    try:
        lines, figures = report(json.loads(a.record.read_text()), a.device, a.what_if, a.calls)
    except (OSError, ValueError) as err:
        print(f"gpu_what_if: {err}", file=sys.stderr)
        return 2
    print("\n".join(lines))
    if a.json is not None:
        a.json.write_text(json.dumps({"benchmark": "benchmarks/gpu_what_if.py", "record": str(a.record),
                                      "estimate": True, "figures": figures}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
