"""CPU inference speed of every deployment format beside the JAX path, on the same machine and inputs.

For each model — the pose predictor (official EfficientPose RT, batch 1 and 8 images), the smartphone model (the zoo
entry, one video of 547 clips) and a GCN stack (the zoo entry, one recording's 32 windows) — the library's own
inference (the JAX path: ``PosePredictor.forward``, the stacked predictors) and each exported file run by its
runtime (``jax.export`` for StableHLO, ONNX Runtime, the LiteRT interpreter; the runtimes with as many threads as
cores). Formats whose extra is not installed are left out (said in the record). Medians after warm-up, with the
harness's matmul calibration (``infantjax.bench``); take figures of record on an idle machine only.

    python benchmarks/export.py                        # every model, every installed format
    python benchmarks/export.py --models pose --repeats 10

Prints one JSON record and a table.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import tempfile

import jax

from infantjax.bench import harness
from infantjax.deploy import deployable, export, load

MODELS = ("pose", "smartphone", "gcn")


def _models(names):
    if "pose" in names:
        from infantjax.pipelines.pose import PosePredictor

        yield "pose RT", deployable(PosePredictor.pretrained("efficientpose-rt-mpii")), (1, 8), "images"
    if "smartphone" in names:
        from infantjax.pipelines.passmore import SmartphoneModel

        yield "smartphone", deployable(SmartphoneModel.pretrained()), (1,), "videos"
    if "gcn" in names:
        from infantjax.ensemble import Ensemble

        # the 3-instance entry the figures of record were measured with (docs/deploy.md)
        yield "GCN stack", deployable(Ensemble.pretrained("cp-gcn-synthetic-3folds")), (32,), "windows"


def _installed(fmt: str) -> bool:
    need = {"stablehlo": "jax", "onnx": "onnxruntime", "litert": "tensorflow"}[fmt]
    return importlib.util.find_spec(need) is not None and (fmt != "onnx" or importlib.util.find_spec("jax2onnx"))


def bench(args) -> tuple[harness.Run, dict]:
    run = harness.Run("export", measure_matmul=not args.quick)
    notes = {}
    threads = os.cpu_count()
    formats = [f for f in args.formats if _installed(f)]
    notes["left_out"] = [f for f in args.formats if f not in formats]
    with tempfile.TemporaryDirectory(prefix="infantjax-bench-export-") as folder:
        for title, d, batches, unit in _models(args.models):
            for n in batches:
                x = d.sample(n)
                run.time(f"{title}, JAX, batch {n}", lambda x=x, d=d: d.reference(x), items=n, unit=unit,
                         repeats=args.repeats, warmup=args.warmup, analyse=False)
                for fmt in formats:
                    path = os.path.join(folder, f"{title.replace(' ', '_')}_{n}.{fmt}")
                    result = export(d, fmt, path, batch=n, sample=x)
                    runner = load(path, fmt, d.output_names, threads=threads)
                    if fmt == "stablehlo":  # compiled once, as a deployment would
                        call = jax.jit(runner.exported.call)
                        fn = (lambda x=x, call=call: jax.block_until_ready(call(x)))
                    else:
                        fn = (lambda x=x, runner=runner: runner(x))
                    run.time(f"{title}, {fmt}, batch {n}", fn, items=n, unit=unit, repeats=args.repeats,
                             warmup=args.warmup, analyse=False, max_abs_diff=result.max_abs_diff,
                             file_mb=round(result.bytes / 1e6, 2))
    return run, notes


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--formats", nargs="+", choices=("stablehlo", "onnx", "litert"),
                        default=["stablehlo", "onnx", "litert"])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="2 repeats, 1 warm-up, no matmul calibration")
    parser.add_argument("--json", help="also write the JSON record to this file")
    args = parser.parse_args(argv)
    if args.quick:
        args.repeats, args.warmup = min(args.repeats, 2), 1
    run, notes = bench(args)
    record = run.finish(args.json)
    record["config"] = vars(args)
    record["notes"] = notes
    print(json.dumps(record))
    print(run.table())
    if notes["left_out"]:
        print(f"left out (extra not installed): {', '.join(notes['left_out'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
