"""The markdown table of a GPU run (benchmarks/gpu_suite.sh): every benchmark row with its fraction of the device's
peak, and the test suite's outcome.

    python benchmarks/gpu_table.py OUT/*.json --out OUT/figures.md     # benchmark records (infantjax.bench.Run)
    python benchmarks/gpu_table.py --tests OUT/tests.xml --out OUT/figures.md

Reads the JSON records the harness writes (``infantjax bench --json``, ``benchmarks/mam.py --json``, ...: a
``rows`` list; each row's ``fraction_of_peak`` / ``fraction_of_bandwidth`` come from :mod:`infantjax.bench.peaks`)
and pytest's JUnit XML; records without rows are listed by name. A partial record (``infantjax bench`` writes the
record so far after every row: the run stopped before its end) says which case it stopped in; a record's ``notes``
(PyTorch figures that could not be taken, with their error) follow its table, and the JAX row shows "error" in the
PyTorch column. Pure standard library: runs anywhere.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import re
import sys
import xml.etree.ElementTree as ET


def _pct(value) -> str:
    return f"{100 * value:.1f} %" if isinstance(value, (int, float)) else "–"


def _seconds(value) -> str:
    if not isinstance(value, (int, float)):
        return "–"
    return f"{value * 1e3:.2f} ms" if value < 1 else f"{value:.2f} s"


def bench_table(path: pathlib.Path) -> list[str]:
    """The rows of one JSON record as markdown lines."""
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        return [f"### {path.name}", "", f"unreadable: {err}", ""]
    env = record.get("environment", {}) if isinstance(record, dict) else {}
    title = record.get("benchmark", path.stem) if isinstance(record, dict) else path.stem
    lines = [f"### {title} ({path.name})", ""]
    if env:
        lines += [(f"device {env.get('device')} ({env.get('backend')}), jax {env.get('jax')}, load average "
                   f"{env.get('load_average_1min')}; peaks {record.get('device_peak')}; matmul precision "
                   f"{record.get('matmul_precision')}"), ""]
    partial = record.get("partial") if isinstance(record, dict) else None
    if isinstance(partial, dict):
        where = (f"failed in {partial['failed']} ({partial.get('error')})" if partial.get("failed")
                 else f"stopped in {partial['running']}" if partial.get("running") else "stopped before its end")
        lines += [f"**Partial record: the run {where}; cases done: {', '.join(partial.get('done') or []) or 'none'}.**",
                  ""]
    rows = record.get("rows") if isinstance(record, dict) else None
    if not isinstance(rows, list):
        return lines + ["(no rows: " + ", ".join(sorted(record)[:12] if isinstance(record, dict) else []) + ")", ""]
    lines += ["| work | median | rate | dtype | GFLOP/s | of peak | of BW (memory-bound) | vs PyTorch eager / compiled |",
              "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        rate = r.get("rate_per_s")
        rate = f"{rate:,.1f} {r.get('unit', '')}/s" if isinstance(rate, (int, float)) else "–"
        gflops = r.get("gflop_per_s")
        gflops = f"{gflops:,.0f}" if isinstance(gflops, (int, float)) else "–"
        bw = _pct(r.get("fraction_of_bandwidth")) if r.get("memory_bound") else "–"
        torch = " / ".join(f"{r[f'speedup_vs_torch_{form}']:.2f}×" if f"speedup_vs_torch_{form}" in r
                           else "error" if f"torch_error_{form}" in r else "–" for form in ("eager", "compiled"))
        name = r.get("name") or (f"{r['key']} [{r.get('forms')}]" if "key" in r else None)
        lines.append(f"| {name} | {_seconds(r.get('median_s'))} | {rate} | {r.get('dtype', '–')} | {gflops} "
                     f"| {_pct(r.get('fraction_of_peak'))} | {bw} | {torch} |")
    extra = [f"- {r['name']}: {k.replace('_', ' ')} {r[k]:.2f}" for r in rows
             for k in ("speedup_vs_sequential", "time_ratio_vs_full") if isinstance(r.get(k), (int, float))]
    notes = [f"- note: {n}" for n in record.get("notes") or []]
    profiles = [line for r in rows if isinstance(r.get("profile"), dict) for line in profile_table(r)]
    return lines + [""] + extra + ([""] if extra else []) + notes + ([""] if notes else []) + profiles


def profile_table(row: dict) -> list[str]:
    """A row's kernel profile (benchmarks/kernel_profile.py) by the cost model's class: measured beside predicted."""
    p = row["profile"]
    name = row.get("name") or f"{row.get('key')} [{row.get('forms')}]"
    lines = [f"#### {name}: each kernel in the profiler's trace ({p.get('source')}; model: {p.get('device')}, "
             f"an estimate)", "",
             f"kernels busy {_seconds(p.get('busy_s'))} of a {_seconds(p.get('span_s'))} span (idle between kernels "
             f"{_seconds(p.get('idle_s'))}); operations not in the listing {_seconds(p.get('other_ops_s'))}; "
             f"launches not in the trace {p.get('unmeasured_launches')}; the untraced call's median "
             f"{_seconds(row.get('median_s'))}", "",
             "| class | launches | measured | model (estimate) | measured ÷ model | GB | of bandwidth | TFLOP/s |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for cls, e in sorted(p.get("by_class", {}).items(), key=lambda kv: -(kv[1].get("measured_s") or 0)):
        ratio = e.get("measured_over_predicted")
        tflops = e.get("tflops")
        untraced = f" ({e['unmeasured']} not traced)" if e.get("unmeasured") else ""
        lines.append(f"| {cls} | {e.get('count')}{untraced} | {_seconds(e.get('measured_s'))} | {_seconds(e.get('predicted_s'))}"
                     f" | {f'{ratio:.2f}' if isinstance(ratio, (int, float)) else '–'} | "
                     f"{(e.get('bytes') or 0) / 1e9:.2f} | {_pct(e.get('bandwidth_fraction'))} | "
                     f"{f'{tflops:.1f}' if isinstance(tflops, (int, float)) and tflops else '–'} |")
    return lines + [""]


def tests_table(path: pathlib.Path) -> list[str]:
    """The outcome of a pytest JUnit XML report: counts and every failure."""
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as err:
        log = path.with_name("tests.log")
        if log.is_file():  # no report (the run was stopped): the outcomes pytest -v logged as they came
            return tests_from_log(log, f"no report ({path.name}: {err.__class__.__name__})")
        return ["## Tests", "", f"no report ({path}: {err}); see tests.log", ""]
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    counts = {k: sum(int(s.get(k, 0)) for s in suites) for k in ("tests", "failures", "errors", "skipped")}
    seconds = sum(float(s.get("time", 0)) for s in suites)
    lines = ["## Tests (JAX_PLATFORMS=cuda)", "",
             (f"{counts['tests']} tests: {counts['tests'] - counts['failures'] - counts['errors'] - counts['skipped']} "
              f"passed, {counts['failures']} failed, {counts['errors']} errors, {counts['skipped']} skipped in "
              f"{seconds:.0f} s"), ""]
    for case in root.iter("testcase"):
        for kind in ("failure", "error"):
            node = case.find(kind)
            if node is not None:
                message = (node.get("message") or "").splitlines()[0][:200] if node.get("message") else ""
                lines.append(f"- {kind}: `{case.get('classname')}::{case.get('name')}` {message}")
    return lines + [""]


_VERBOSE = re.compile(r"^\[gw\d+\] \[\s*\d+%\] (PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS) (\S+)")


def tests_from_log(log: pathlib.Path, why: str) -> list[str]:
    """Counts and failures from the lines ``pytest -v -n N`` writes as each test ends (``[gw3] [ 45%] FAILED
    tests/test_x.py::test_y``): what a run stopped at its time limit, before its JUnit report, still tells."""
    outcomes: dict[str, str] = {}
    for line in log.read_text(errors="replace").splitlines():
        m = _VERBOSE.match(line.strip())
        if m:
            outcomes[m.group(2)] = m.group(1) if outcomes.get(m.group(2)) in (None, "PASSED") else outcomes[m.group(2)]
    counts = {k: sum(v == k for v in outcomes.values()) for k in ("PASSED", "FAILED", "ERROR", "SKIPPED")}
    lines = ["## Tests (JAX_PLATFORMS=cuda)", "",
             (f"{why}; from {log.name}: {len(outcomes)} tests ended: {counts['PASSED']} passed, {counts['FAILED']} "
              f"failed, {counts['ERROR']} errors, {counts['SKIPPED']} skipped (tests not listed did not end)"), ""]
    lines += [f"- {v.lower()}: `{k}`" for k, v in outcomes.items() if v in ("FAILED", "ERROR")]
    return lines + [""]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("records", nargs="*", help="JSON records of benchmark runs")
    parser.add_argument("--tests", default=None, help="pytest's JUnit XML report")
    parser.add_argument("--out", default=None, help="write the markdown here (default: print it)")
    args = parser.parse_args(argv)
    lines = ["# GPU run (benchmarks/gpu_suite.sh)", ""]
    if args.tests:
        lines += tests_table(pathlib.Path(args.tests))
    if args.records:
        lines += ["## Benchmarks", ""]
        for name in args.records:
            lines += bench_table(pathlib.Path(name))
    text = "\n".join(lines)
    if args.out:
        tmp = pathlib.Path(args.out + ".tmp")
        tmp.write_text(text + "\n")
        tmp.replace(args.out)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
