"""``infantjax assess`` end to end on a phone-sized video: the thesis' "within 3 minutes".

    python benchmarks/assess.py [--quick] [--duration 180] [--fps 30] [--size 640x480] [--specs table-a4|table-a4:N|tiny]
                                [--folds 7] [--repeats 1] [--labelled] [--runtime xla|litert] [--out DIR] [--json FILE]

A synthetic infant's video (default 3 minutes, 30 fps, 640×480, H.264 MP4; rendered once into ``--out`` and reused)
goes through :func:`infantjax.pipelines.assess` with the zoo's infant pose model and an ensemble of the paper's
size: the 10 Table A.4 architectures × 7 folds = 70 instances (untrained weights: the time does not depend on them).
Prints each stage's seconds and share (decode, pose, ensemble, explain, labelled, dashboard, records), the total,
the CPU model, the core count and the load average before and after, and writes the JSON record (``--json``).

The first repeat includes compiling (what a user's first run pays; the persistent compilation cache is off unless
``--compilation-cache DIR`` is given); further repeats redo the same video in the same process.

``--runtime litert`` scores the ensemble with the LiteRT interpreter (extra ``litert``): the first repeat converts
every stack unless the LiteRT cache (``--litert-cache DIR``, default ``OUT/litert-cache``) has it, so run it twice, or
with ``--repeats 2``, for the warm figure; the record says how many stacks were converted and how long it took.

``--quick`` checks that the benchmark runs: 6 s of video at 320×240 and the smallest GCN × 2 folds (seconds, not a
figure to quote). Measure the real figure on an idle machine (the load average is in the record).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import shutil
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import jax
import numpy as np


def make_ensemble(specs_name: str, folds: int):
    """An untrained ensemble of ``folds`` instances per architecture: ``table-a4`` (the 10 of Table A.4),
    ``table-a4:N`` (the first N) or ``tiny`` (the smallest GCN). Each architecture is initialised once (eagerly on a
    CPU, one jitted program on an accelerator) and its folds are copies of it; the time of scoring does not depend on
    the weights."""
    from infantjax import backend
    from infantjax.ensemble import Ensemble
    from infantjax.models.gcn import GCNSpec
    from infantjax.models.gcn.presets import demo_spec
    from infantjax.train import CPConfig, CPTask

    if specs_name == "tiny":
        specs = [demo_spec(temporal_kernel_size=3)]
    else:
        specs = list(GCNSpec.table_a4())
        if ":" in specs_name:
            specs = specs[:int(specs_name.split(":")[1])]
    config = CPConfig(progress=False)
    stacks = []
    for k, spec in enumerate(specs):
        task = CPTask(spec, config)

        def init(key, task=task):
            # the variables an instance is evaluated with before any step (BatchNorm mean 0, variance 1)
            return task.eval_variables(task.init(key), 0)

        # eager on CPU (4.8 s for Table A.4 #1 against 7.0 s jitted); on a GPU eager init launches op by op
        # (34-43 s for #1 on an H200), one compiled program takes seconds
        one = (init if backend.platform() == "cpu" else jax.jit(init))(jax.random.PRNGKey(k))
        stacks.append(jax.tree_util.tree_map(lambda a: np.repeat(np.asarray(a)[None], folds, axis=0), one))
    return Ensemble(specs, stacks, config)


def render(path: pathlib.Path, duration: float, fps: float, width: int, height: int) -> pathlib.Path:
    from infantjax import synth

    if path.is_file():
        return path
    recipe = synth.cohort("cp", n_subjects=1, seed=3, duration_s=duration, fps=fps, videos=True).metadata["video"][0]
    path.parent.mkdir(parents=True, exist_ok=True)
    return pathlib.Path(recipe.write(path, width=width, height=height))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="a few seconds of video and a tiny ensemble: does it run")
    ap.add_argument("--duration", type=float, default=None, help="video seconds (default 180; --quick 6)")
    ap.add_argument("--fps", type=float, default=30.0)
    ap.add_argument("--size", default=None, help="WIDTHxHEIGHT (default 640x480; --quick 320x240)")
    ap.add_argument("--specs", default=None,
                    help="table-a4 (the 10 architectures), table-a4:N (the first N) or tiny (default table-a4; "
                         "--quick tiny)")
    ap.add_argument("--folds", type=int, default=None, help="instances per architecture (default 7; --quick 2)")
    ap.add_argument("--repeats", type=int, default=1, help="runs of assess in this process (the first compiles)")
    ap.add_argument("--labelled", action="store_true", help="also write the labelled video")
    ap.add_argument("--out", default="bench-assess", help="working folder (the rendered video is kept there)")
    ap.add_argument("--json", default=None, help="write the JSON record here too")
    ap.add_argument("--compilation-cache", default=None, metavar="DIR", help="use a persistent compilation cache")
    ap.add_argument("--runtime", choices=("xla", "litert"), default="xla",
                    help="what scores the ensemble (litert: the LiteRT interpreter, extra litert)")
    ap.add_argument("--litert-cache", default=None, metavar="DIR",
                    help="the LiteRT files' directory (default OUT/litert-cache, kept between runs)")
    args = ap.parse_args(argv)
    duration = args.duration if args.duration is not None else (6.0 if args.quick else 180.0)
    width, height = map(int, (args.size or ("320x240" if args.quick else "640x480")).lower().split("x"))
    specs = args.specs or ("tiny" if args.quick else "table-a4")
    folds = args.folds or (2 if args.quick else 7)

    from infantjax import backend
    from infantjax.bench import harness
    from infantjax.pipelines.assessment import Models, assess, load_models

    if args.compilation_cache:
        from infantjax import cache

        cache.enable_compilation_cache(args.compilation_cache)
    out = pathlib.Path(args.out)
    load_before = os.getloadavg()
    t = time.perf_counter()
    video = render(out / f"infant_{duration:g}s_{args.fps:g}fps_{width}x{height}.mp4", duration, args.fps, width,
                   height)
    render_s = time.perf_counter() - t
    t = time.perf_counter()
    ensemble = make_ensemble(specs, folds)
    init_s = time.perf_counter() - t
    t = time.perf_counter()
    zoo = load_models()  # the zoo pose model (the zoo ensemble is replaced by the paper-sized one)
    models = Models(zoo.pose, ensemble, zoo.pose_name, f"untrained {specs} × {folds} folds")
    load_s = time.perf_counter() - t
    litert_cache = pathlib.Path(args.litert_cache) if args.litert_cache else out / "litert-cache"
    runs, cpu = [], "?"
    for r in range(max(1, args.repeats)):
        shutil.rmtree(out / "assessment", ignore_errors=True)
        before = len(list(litert_cache.glob("*/scoring.json"))) if args.runtime == "litert" else 0
        run = assess(video, out / "assessment", models=models, labelled=args.labelled, progress=True,
                     runtime=args.runtime, litert_cache=litert_cache)
        rec = run.records[0]
        cpu = json.loads(run.run_record.read_text())["environment"]["cpu"]  # the run record names the CPU
        runs.append({"repeat": r, "seconds": run.seconds, "stages": run.stages, "shares": run.shares,
                     "frames": rec["video"]["frames"], "windows": len(rec["windows"]),
                     "litert_stacks_converted": (len(list(litert_cache.glob("*/scoring.json"))) - before
                                                 if args.runtime == "litert" else 0)})
        print(f"repeat {r}: {run.seconds:.1f} s — {run.shares_text()}", flush=True)
    record = {
        "benchmark": "assess", "video": {"seconds": duration, "fps": args.fps, "width": width, "height": height,
                                         "frames": runs[0]["frames"], "path": str(video)},
        "ensemble": {"specs": specs, "architectures": len(ensemble.specs), "folds": folds,
                     "instances": ensemble.num_instances},
        "pose": zoo.pose_name, "labelled": args.labelled, "runtime": args.runtime, "runs": runs,
        "setup_seconds": {"render_video": render_s, "init_ensemble": init_s, "load_pose": load_s},
        "cpu_model": cpu, "environment": harness.environment(), "backend": backend.platform(),
        "load_average_before": list(load_before), "load_average_after": list(os.getloadavg()),
        "quick": args.quick,
    }
    print(f"\n{duration:g} s of {width}x{height} video at {args.fps:g} fps ({runs[0]['frames']} frames, "
          f"{runs[0]['windows']} windows) × {ensemble.num_instances} instances ({specs}, {args.runtime}) on {cpu}, "
          f"{os.cpu_count()} cores, load average {load_before[0]:.2f} before / {os.getloadavg()[0]:.2f} after")
    print(f"{'stage':<10} " + " ".join(f"{'repeat ' + str(r['repeat']):>16}" for r in runs))
    for stage in runs[0]["stages"]:
        print(f"{stage:<10} " + " ".join(f"{r['stages'][stage]:8.1f} s {100 * r['shares'][stage]:4.0f} %"
                                         for r in runs))
    print(f"{'total':<10} " + " ".join(f"{r['seconds']:8.1f} s       " for r in runs))
    text = json.dumps(record, indent=1)
    print(text)
    if args.json:
        pathlib.Path(args.json).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
