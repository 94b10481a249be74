"""Peak memory (RSS) of the README's quick tour and of ``infantjax train`` with a Table A.4 network.

Each job runs in a fresh Python process and reports its own peak resident set size (``ru_maxrss``); the record
also gives the evaluation/scoring chunk the memory budget chose.

    python benchmarks/memory.py [--subjects 100] [--spec 1] [--epochs 1] [--copies 1] [--only train] [--remat auto|on|off]
        [--memory-budget GB] [--compilation-cache off|default|DIR] [--out memory.json]

The jobs compile everything by default (``INFANTJAX_COMPILATION_CACHE=off``, the reproducible case): the ``train``
job otherwise loads whatever earlier runs stored in the persistent compilation cache, and a program loaded leaves a
different amount of memory behind than one compiled, so the figure would depend on the cache's history.

Target: ≤ 4 GB for a Table A.4 network on a 100-infant folder. The figures of record are in
docs/performance.md ("Memory").
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]

REPORT = ("import resource, json, sys; "
          "print('PEAK_RSS_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)")

QUICK_TOUR = """
import infantjax
from infantjax import synth
from infantjax.models.gcn import GCNSpec
from infantjax.protocols import cp
cohort = synth.cohort("cp", n_subjects={subjects}, seed=11)
ens = cp.train(GCNSpec.table_a4()[{spec}:{spec_end}], cohort,
               infantjax.train.CPConfig(epochs={epochs}, positive_copies={copies}, negative_copies={copies},
                                        remat={remat}, progress=False))
prediction = ens.predict(cohort.sequences[0])
result = infantjax.clinical.assess_prediction(prediction)
print("risk", round(result.risk, 3))
"""

CLI_TRAIN = """
from infantjax.cli import main
rc = main(["train", "--data", {data!r}, "--labels", {labels!r}, "--specs", "table-a4:{spec_number}",
           "--epochs", "{epochs}", "--copies", "{copies}", "{copies}", "--out", {out!r}, "--no-progress", *{extra!r}])
assert rc == 0, rc
"""


def run(code: str, label: str, cache: str = "off") -> dict:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code + "\n" + REPORT], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT), "INFANTJAX_COMPILATION_CACHE": cache})
    took = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{label} failed:\n{proc.stderr[-3000:]}")
    peak_kb = int(next(line.split()[1] for line in proc.stderr.splitlines() if line.startswith("PEAK_RSS_KB")))
    row = {"job": label, "peak_rss_gb": round(peak_kb / 1024**2, 2), "seconds": round(took, 1)}
    print(json.dumps(row), file=sys.stderr, flush=True)  # each job as it finishes
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=100)
    parser.add_argument("--spec", type=int, default=1, help="Table A.4 row (1-based) of the network")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--copies", type=int, default=1,
                        help="training copies per recording and epoch (fewer steps; the memory of a step is the same)")
    parser.add_argument("--remat", choices=("auto", "on", "off"), default="auto",
                        help="CPConfig.remat of both jobs: auto (the default: only a step that would keep more than "
                             "4 GB of activations), on (--remat), off (--no-remat)")
    parser.add_argument("--memory-budget", type=float, default=None, metavar="GB",
                        help="train with --memory-budget GB")
    parser.add_argument("--compilation-cache", default="off", metavar="off|default|DIR",
                        help="the jobs' persistent compilation cache (default off: every program compiled, the "
                             "reproducible worst case; 'default' the user's cache)")
    parser.add_argument("--only", choices=("tour", "train"), default=None, help="run one of the two jobs")
    parser.add_argument("--out", default=None, help="also write the JSON record here")
    args = parser.parse_args()
    rows = []
    if args.only in (None, "tour"):
        code = QUICK_TOUR.format(subjects=args.subjects, spec=args.spec - 1, spec_end=args.spec, epochs=args.epochs,
                                 copies=args.copies, remat={"auto": '"auto"', "on": True, "off": False}[args.remat])
        rows.append(run(code, f"quick tour: protocols.cp.train(table_a4[{args.spec}], {args.subjects} infants, "
                              f"{args.epochs} epoch, remat {args.remat}) + predict",
                        args.compilation_cache))
    if args.only in (None, "train"):
        extra = {"auto": [], "on": ["--remat"], "off": ["--no-remat"]}[args.remat] + (
            ["--memory-budget", str(args.memory_budget)] if args.memory_budget is not None else [])
        with tempfile.TemporaryDirectory() as tmp:
            data = os.path.join(tmp, "synth")
            subprocess.run([sys.executable, "-m", "infantjax", "synth", "--task", "cp", "--subjects",
                            str(args.subjects), "--out", data], check=True, cwd=ROOT, capture_output=True,
                           env={**os.environ, "PYTHONPATH": str(ROOT)})
            code = CLI_TRAIN.format(data=data, labels=os.path.join(data, "labels.csv"), spec_number=args.spec,
                                    epochs=args.epochs, copies=args.copies, out=os.path.join(tmp, "ens"),
                                    extra=extra)
            rows.append(run(code, f"infantjax train --specs table-a4:{args.spec} --epochs {args.epochs} "
                                  f"{' '.join(extra)} ({args.subjects}-infant folder)".replace("  ", " "),
                            args.compilation_cache))
    record = {"load_average": os.getloadavg(), "compilation_cache": args.compilation_cache, "rows": rows}
    print(json.dumps(record, indent=1))
    print(f"\n{'job':<90} {'peak RSS (GB)':>14} {'wall (s)':>9}")
    for r in rows:
        print(f"{r['job']:<90} {r['peak_rss_gb']:>14.2f} {r['seconds']:>9.1f}")
    if args.out:
        pathlib.Path(args.out).write_text(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
