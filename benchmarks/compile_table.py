"""The full compiled-for table: every headline program compiled for every named target, one
``infantjax compile`` per row, each in a process of its own, resumable; a markdown table of the rows done.

    python benchmarks/compile_table.py --out runs/compile-table                  # all targets x all programs
    python benchmarks/compile_table.py --out DIR --targets v5e-8 h100x1 --programs cp-train sma-train
    python benchmarks/compile_table.py --out DIR --render                        # the table of what is done

Every figure in it is an **estimate, compiled for, not run on** the target (docs/compile.md). This is the slow run
of the issue: a TPU compile takes 3–11 minutes on 2 cores and a GPU one 10 s–2.5 min, so all 9 targets x 11
programs take hours here. It is resumable: each row is written as ``DIR/<target>__<program>.json`` (the record of
``infantjax compile --json``) or, when the compile fails or runs out of ``--timeout``, ``DIR/<target>__<program>
.error.json`` (the last lines of its output); rows with a record are not compiled again (``--retry-errors``
compiles the failed ones again), so an interrupted run goes on where it stopped. ``DIR/table.md`` is rewritten
after every row. Needs the ``aot`` extra (the TPU and GPU compile wheels).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import time

from infantjax.io.files import write_json, write_text

GB = 1e9
#: the programs whose TPU forms the tpu policy changed (GCN graph convolutions; the scoring's BatchNorm)
_GCN_PROGRAMS = ("cp-train", "stgcn-train", "cp-score", "nas-trial")


def _name(target: str, program: str, suffix: str = ".json") -> str:
    return f"{target}__{program}{suffix}"


def compile_row(out: pathlib.Path, target: str, program: str, *, size: str, timeout: float,
                python: str = sys.executable) -> str:
    """Compile one row in a process of its own; ``"done"`` (a record), ``"error"`` (an error record) or
    ``"skipped"`` (its record was there)."""
    record, error = out / _name(target, program), out / _name(target, program, ".error.json")
    if record.is_file():
        return "skipped"
    command = [python, "-m", "infantjax", "compile", "--target", target, "--program", program, "--size", size,
               "--json", str(record)]
    start = time.perf_counter()
    try:
        run = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=os.environ.copy())
        text, rc = run.stdout + run.stderr, run.returncode
    except subprocess.TimeoutExpired as err:  # its output is bytes whatever text= says
        text = "".join(v.decode(errors="replace") if isinstance(v, bytes) else (v or "")
                       for v in (err.stdout, err.stderr))
        text, rc = text + f"\nnot finished in {timeout:.0f} s", None
    seconds = time.perf_counter() - start
    if rc == 0 and record.is_file():
        error.unlink(missing_ok=True)
        return "done"
    lines = [line for line in text.splitlines() if line.strip()]
    write_json(error, {"target": target, "program": program, "size": size, "command": " ".join(command[1:]),
                         "returncode": rc, "seconds": seconds, "error": lines[-1] if lines else "no output",
                         "tail": lines[-15:]})
    return "error"


def _collectives(row: dict) -> str:
    found = row.get("collectives") or {}
    if not found:
        return "none"
    return ", ".join(f"{op} × {c['count']} ({c['bytes'] / 1e6:.2f} MB)" for op, c in sorted(found.items()))


def _g(value: float | None, unit: str = "") -> str:
    if value is None:
        return "–"
    for scale, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.3g} {prefix}{unit}"
    return f"{value:.3g} {unit}".strip()


def markdown(out: pathlib.Path) -> str:
    """The table of the rows in ``out`` (records, then errors), every figure labelled an estimate."""
    rows, errors = [], []
    for path in sorted(out.glob("*__*.json")):
        data = json.loads(path.read_text())
        if path.name.endswith(".error.json"):
            errors.append(data)
        else:
            rows += data.get("rows", [])
    lines = ["| target | program | batch | memory per device (peak of HBM) | FLOPs / device | bytes / device | "
             "FLOP/byte | collectives | bound per call (estimate) | implied rate (estimate) | compile |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    earlier = 0
    for r in rows:
        memory = r["memory_per_device_bytes"]
        # records without a policy were compiled before TPU targets got the tpu policy (and before the folded
        # inference BatchNorm): a TPU row of a GCN program among them ran the accelerator policy's graph
        # convolutions (the other programs' forms are the same under both)
        old = "policy" not in r and not r["target"].startswith(("h", "a")) and r["program"] in _GCN_PROGRAMS
        earlier += old
        cells = [r["target"], r["program"] + (" †" if old else ""), str(r["batch"]),
                 f"{_g(memory['peak'], 'B')} of {r['hbm_bytes'] / GB:.1f} GB"
                 + ("" if r.get("fits") else " — **does not fit**")]
        if r.get("flops_per_device") is None:
            cells += ["–", "–", "–", _collectives(r), "–", "–"]
        else:
            moved = _g(r.get("bytes_per_device"), "B")
            if r.get("tile_padding"):
                moved += f" (× {r['tile_padding']['ratio']:.2f} in tiles)"
            intensity = r.get("flop_per_byte")
            bound, rate = r.get("median_s"), r.get("rate_per_s")
            source = "traced" if "traced" in r.get("flops_source", "") else "XLA"
            cells += [f"{_g(r['flops_per_device'])} ({source})", moved,
                      f"{intensity:.3g}" if intensity else "–", _collectives(r),
                      f"{bound * 1e3:.3g} ms ({r.get('bound_by')}-bound)" if bound else "–",
                      f"≤ {rate:,.0f} {r['unit']}/s" if rate else "–"]
        cells.append(f"{r['compile_s']:.0f} s")
        lines.append("| " + " | ".join(cells) + " |")
    text = ["All figures: **estimates, compiled for, not run on** the target (`benchmarks/compile_table.py`). FLOPs:"
            " XLA's count of the compiled program, or (traced) the traced program's products and convolutions where"
            " XLA:GPU compiled without a device gives none; GPU bytes are then arguments + outputs + temporaries,"
            " each touched once (a lower bound); TPU bytes are XLA's, with their (8, 128) tile padding.", "",
            *lines, ""]
    if earlier:
        text += ["† compiled before TPU targets got the `tpu` policy (2026-11-25): the accelerator policy's forms — "
                 "graph convolutions as a 1×1 conv and an einsum (and, for the scoring, the exact inference "
                 "BatchNorm); compile the row again (delete its record) for today's forms.", ""]
    if errors:
        text += ["Rows that did not compile:", ""]
        text += [f"- {e['target']} / {e['program']} ({e['seconds']:.0f} s): {e['error']}" for e in errors]
        text.append("")
    return "\n".join(text)


def main(argv=None) -> int:
    from infantjax.aot import PROGRAMS
    from infantjax.targets import TARGETS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="the folder of the rows' records and table.md")
    parser.add_argument("--targets", nargs="*", default=list(TARGETS), choices=list(TARGETS))
    parser.add_argument("--programs", nargs="*", default=list(PROGRAMS), choices=list(PROGRAMS))
    parser.add_argument("--size", default="paper", choices=("paper", "small"))
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per row (default 1800)")
    parser.add_argument("--retry-errors", action="store_true", help="compile the rows that failed again")
    parser.add_argument("--render", action="store_true", help="only write the table of the rows done")
    args = parser.parse_args(argv)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table = out / "table.md"
    if not args.render:
        todo = [(t, p) for t in args.targets for p in args.programs]
        for i, (target, program) in enumerate(todo, 1):
            if args.retry_errors:
                (out / _name(target, program, ".error.json")).unlink(missing_ok=True)
            elif (out / _name(target, program, ".error.json")).is_file():
                print(f"[{i}/{len(todo)}] {target} {program}: failed before (--retry-errors to compile it again)")
                continue
            start = time.perf_counter()
            outcome = compile_row(out, target, program, size=args.size, timeout=args.timeout)
            print(f"[{i}/{len(todo)}] {target} {program}: {outcome} ({time.perf_counter() - start:.0f} s)",
                  flush=True)
            write_text(table, markdown(out))
    text = markdown(out)
    write_text(table, text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
