"""Pose-network throughput on this machine: frames/s, peak memory and compile time of every EfficientPose
variant (and EfficientHourglass B4 / OpenPose) at batch 1 and 16, and the end-to-end time for a 3-minute 30 fps
video (decode + preprocessing + inference + decoding) with RT and I.

Each (model, batch) runs in its own subprocess so that the peak resident memory (``ru_maxrss``) belongs to that
configuration alone; XLA's own estimate (arguments + outputs + temporaries of the compiled forward) is reported
beside it. Timings are medians of up to ``--repeats`` calls after one warm-up call, stopping once the timed calls
took ``--budget-s``; a configuration whose warm-up call alone exceeds the budget (the big models at batch 16 on a
CPU) is reported from that single call (``warmup_only`` in the record), which keeps the whole run near 10 minutes
on a 2-core CPU. The video figure is measured on a shorter rendered synthetic video and extrapolated linearly to
5,400 frames (said so in the record).

    python benchmarks/pose.py                       # everything: 10 models x batch 1, 16; RT and I video
    python benchmarks/pose.py --models rt i --batches 1 16 --video-seconds 10
    python benchmarks/pose.py --compare --models rt i --batches 1 16 --video-models rt   # the CPU pose figures of record
    python benchmarks/pose.py --compare ... --torch-python /tmp/torchvenv/bin/python --torch-repo /tmp/EfficientPose

EfficientPose throughput is that of the folded inference graph ``PosePredictor`` runs (``--graph module``: the
Flax module graph, the earlier inference). ``--compare`` times the Flax module graph (``EfficientPose.apply``, the earlier inference) and the folded
inference graph (``models/pose/inference.py``, what ``PosePredictor`` runs) on the official weights, interleaved
in one process over ``--rounds`` rounds, each figure beside the 2048² float32 matmul rate and the load average
measured in the same round; GFLOP/s use XLA's FLOP count of the module graph (the model's FLOPs, BatchNorm
included). Its video part tracks a rendered 640×480 30 fps clip with the exact (float64 host preprocessing) and
the fast (``track(fast=True)``) paths.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

MODELS = ("rt", "i", "ii", "iii", "iv", "rt_lite", "i_lite", "ii_lite", "hourglass_b4", "openpose")


def _build(name: str):
    import jax
    import jax.numpy as jnp

    if name == "hourglass_b4":
        from infantjax.models.pose.hourglass import EfficientHourglass, EfficientHourglassSpec

        spec = EfficientHourglassSpec()
        model, res = EfficientHourglass(spec), spec.resolution
    elif name == "openpose":
        from infantjax.models.pose.openpose import OpenPose, OpenPoseSpec

        spec = OpenPoseSpec()
        model, res = OpenPose(spec), spec.resolution
    else:
        from infantjax.models.pose.efficientpose import EfficientPose, EfficientPoseSpec

        spec = EfficientPoseSpec(name, graph="deployment")
        model, res = EfficientPose(spec), spec.resolution
    x = jnp.zeros((1, res, res, 3), jnp.float32)
    import numpy as np

    shapes = jax.eval_shape(model.init, jax.random.PRNGKey(0), x)
    rng = np.random.default_rng(0)
    variables = jax.tree_util.tree_map(lambda a: jnp.asarray(rng.normal(0, 0.05, a.shape).astype(np.float32)),
                                       shapes)  # timing does not depend on the weights' values
    return model, variables, res


def worker(name: str, batch: int, repeats: int, budget_s: float, graph: str = "folded") -> dict:
    import jax
    import jax.numpy as jnp
    import numpy as np

    from infantjax import backend

    model, variables, res = _build(name)
    fwd = jax.jit(lambda v, x: model.apply(v, x)["heatmaps"])
    if graph == "folded" and name not in ("hourglass_b4", "openpose"):  # what PosePredictor runs
        from infantjax.models.pose.inference import fold_efficientpose, make_heatmap_fn

        variables = jax.jit(fold_efficientpose, static_argnums=0)(model.spec, variables)
        fwd = make_heatmap_fn(model.spec)
    x = jnp.asarray(np.random.default_rng(1).normal(size=(batch, res, res, 3)).astype(np.float32))
    t0 = time.perf_counter()
    compiled = fwd.lower(variables, x).compile()
    compile_s = time.perf_counter() - t0
    mem = compiled.memory_analysis()
    xla_bytes = None
    if mem is not None:
        xla_bytes = int(mem.argument_size_in_bytes + mem.output_size_in_bytes + mem.temp_size_in_bytes)
    t = time.perf_counter()
    jax.block_until_ready(compiled(variables, x))  # warm-up (the first call after compilation)
    first = time.perf_counter() - t
    times = []
    if first > budget_s:  # one call already exceeds the budget (big models at batch 16): report that call
        times = [first]
    else:
        while len(times) < repeats and (not times or sum(times) < budget_s):
            t = time.perf_counter()
            jax.block_until_ready(compiled(variables, x))
            times.append(time.perf_counter() - t)
    med = statistics.median(times)
    return {"model": name, "resolution": res, "batch": batch, "compile_s": round(compile_s, 2),
            "median_batch_s": round(med, 4), "frames_per_s": round(batch / med, 2), "timed_runs": len(times),
            "warmup_only": first > budget_s,
            "xla_memory_mb": None if xla_bytes is None else round(xla_bytes / 2 ** 20, 1),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "backend": backend.platform(), "graph": graph if name not in ("hourglass_b4", "openpose") else "module"}


def video_end_to_end(variant: str, weights_dir: pathlib.Path | None, seconds: float, batch: int,
                     fast: bool = False) -> dict:
    """Render a synthetic 640×480 30 fps video of ``seconds``, track it, extrapolate to 3 minutes."""

    from infantjax import backend, synth
    from infantjax.models.pose.efficientpose import EfficientPoseSpec
    from infantjax.pipelines.pose import PosePredictor

    files = {"rt": "EfficientPoseRT.h5", "i": "EfficientPoseI.h5"}
    if weights_dir is not None and (weights_dir / files[variant]).is_file():
        predictor = PosePredictor.from_keras_h5(weights_dir / files[variant])
        weights = "official"
    else:
        _, variables, _ = _build(variant)
        spec = EfficientPoseSpec(variant, graph="deployment")
        predictor = PosePredictor(spec, variables, "mpii-16")
        weights = "random (timing only)"
    video = synth.cohort("cp", n_subjects=1, seed=0, duration_s=seconds, fps=30.0, videos=True).metadata
    rec = video["video"][0] if "video" in video else None
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / "infant.mp4"
        if rec is not None:
            rec.write(path, width=640, height=480)
        else:  # fallback: render frames directly
            from infantjax.io import write_video

            frames, _, _ = synth.render_frames(int(seconds * 30), seed=0, height=480, width=640)
            write_video(path, frames, fps=30.0)
        # warm-up compile on a few frames, then the timed run
        t = time.perf_counter()
        predictor.track(path, batch_size=batch, progress=False, max_frames=batch, fast=fast)
        compile_s = time.perf_counter() - t
        load = os.getloadavg()[0]
        t = time.perf_counter()
        seq = predictor.track(path, batch_size=batch, progress=False, fast=fast)
        took = time.perf_counter() - t
    n = seq.num_frames
    per_frame = took / n
    return {"model": variant, "weights": weights, "frames_measured": n, "seconds_measured": round(took, 2),
            "frames_per_s": round(n / took, 2), "first_call_s": round(compile_s, 2),
            "three_minute_video_s": round(per_frame * 5400, 1), "extrapolated_from_frames": n,
            "batch": batch, "backend": backend.platform(), "path": "fast" if fast else "exact",
            "load_average": round(load, 2), "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                                                                 / 1024, 1)}


def matmul_rate(n: int = 2048, repeats: int = 5) -> float:
    """GFLOP/s of an n×n float32 matmul (median of ``repeats`` after a warm-up)."""
    import jax
    import jax.numpy as jnp

    a = jnp.asarray(np.random.default_rng(0).normal(size=(n, n)).astype(np.float32))
    f = jax.jit(lambda a: a @ a)
    jax.block_until_ready(f(a))
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(f(a))
        times.append(time.perf_counter() - t)
    return 2 * n ** 3 / statistics.median(times) / 1e9


def compare(models, batches, rounds: int, weights_dir: pathlib.Path, torch_python: str | None = None,
            torch_repo: str | None = None) -> list[dict]:
    """Module graph vs folded inference graph (and the official PyTorch code when ``torch_python`` and
    ``torch_repo`` are given, see pose_torch.py), interleaved; one row per (model, batch, graph, round)."""
    import jax
    import jax.numpy as jnp

    from infantjax.pipelines.pose import PosePredictor

    files = {"rt": "EfficientPoseRT.h5", "i": "EfficientPoseI.h5", "rt_lite": "EfficientPoseRT_LITE.h5",
             "i_lite": "EfficientPoseI_LITE.h5"}
    cases = []
    for name in models:
        p = PosePredictor.from_keras_h5(weights_dir / files[name])
        module_fn = jax.jit(lambda v, x, p=p: p.model.apply(v, x)["heatmaps"])
        for b in batches:
            x = jnp.asarray(np.random.default_rng(1).normal(size=(b, p.resolution, p.resolution, 3))
                            .astype(np.float32))
            compiled = {"module": (module_fn.lower(p.variables, x).compile(), p.variables),
                        "folded": (p._heatmap_fn.lower(p.inference_variables(), x).compile(),
                                   p.inference_variables())}
            cost = compiled["module"][0].cost_analysis()
            cost = cost[0] if isinstance(cost, list) else cost
            cases.append((name, b, x, compiled, float(cost["flops"]) / b))
    rows = []
    for rnd in range(rounds):
        rate, load = matmul_rate(), os.getloadavg()[0]
        for name, b, x, compiled, flops in cases:
            for graph, (fn, variables) in compiled.items():
                jax.block_until_ready(fn(variables, x))
                times = []
                for _ in range(5 if b == 1 else 3):
                    t = time.perf_counter()
                    jax.block_until_ready(fn(variables, x))
                    times.append(time.perf_counter() - t)
                med = statistics.median(times)
                gflops = flops * b / med / 1e9
                rows.append({"model": name, "batch": b, "graph": graph, "round": rnd,
                             "ms_per_img": round(med / b * 1e3, 2), "gflop_per_img": round(flops / 1e9, 3),
                             "gflop_s": round(gflops, 1), "matmul_gflop_s": round(rate, 1),
                             "fraction_of_matmul": round(gflops / rate, 3), "load_average": round(load, 2),
                             "load_average_after": round(os.getloadavg()[0], 2)})
                print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
        if torch_python and torch_repo:
            flops = {(name, b): f for name, b, _, _, f in cases}
            proc = subprocess.run([torch_python, str(REPO / "benchmarks" / "pose_torch.py"), "--repo", torch_repo,
                                   "--models", *[m.upper() for m in models], "--batches", *map(str, batches)],
                                  capture_output=True, text=True, check=False)
            for line in proc.stdout.splitlines():
                if line.startswith("{"):
                    row = json.loads(line)
                    f = flops.get((row["model"], row["batch"]))
                    if f is not None:
                        row["gflop_per_img"] = round(f / 1e9, 3)
                        row["gflop_s"] = round(f / (row["ms_per_img"] / 1e3) / 1e9, 1)
                        row["fraction_of_matmul"] = round(row["gflop_s"] / row["matmul_gflop_s"], 3)
                    rows.append({**row, "round": rnd, "load_average_after": round(os.getloadavg()[0], 2)})
                    print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
            if proc.returncode != 0:
                print(proc.stderr[-2000:], file=sys.stderr)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    ap.add_argument("--batches", nargs="+", type=int, default=[1, 16])
    ap.add_argument("--repeats", type=int, default=5, help="at most this many timed calls after the warm-up")
    ap.add_argument("--budget-s", type=float, default=10.0,
                    help="stop repeating once the timed calls of a configuration took this long; a configuration "
                         "whose warm-up call alone takes longer is reported from that one call")
    ap.add_argument("--video-seconds", type=float, default=5.0)
    ap.add_argument("--config-timeout-s", type=float, default=240.0,
                    help="give up on a (model, batch) after this long (compile included) and record it as timed out")
    ap.add_argument("--video-models", nargs="*", default=["rt", "i"])
    ap.add_argument("--weights-dir", default=str(REPO.parent / "shared" / "data" / "efficientpose" / "keras"))
    ap.add_argument("--out", default=None, help="also write the JSON record here")
    ap.add_argument("--compare", action="store_true",
                    help="module graph vs folded inference graph (interleaved rounds) and exact vs fast video")
    ap.add_argument("--rounds", type=int, default=2, help="--compare: interleaved rounds")
    ap.add_argument("--torch-python", default=None,
                    help="--compare: a Python with PyTorch to run benchmarks/pose_torch.py in, once per round")
    ap.add_argument("--torch-repo", default=None, help="--compare: a checkout of daniegr/EfficientPose")
    ap.add_argument("--graph", choices=("folded", "module"), default="folded",
                    help="EfficientPose throughput: the folded inference graph PosePredictor runs (default) or the "
                         "Flax module graph")
    ap.add_argument("--worker", nargs=2, metavar=("MODEL", "BATCH"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker[0], int(args.worker[1]), args.repeats, args.budget_s, args.graph)))
        return
    if args.compare:
        run_compare(args)
        return
    start_wall, rows = time.perf_counter(), []
    for name in args.models:
        for b in args.batches:
            try:
                proc = subprocess.run([sys.executable, __file__, "--worker", name, str(b), "--repeats",
                                       str(args.repeats), "--budget-s", str(args.budget_s), "--graph", args.graph],
                                      check=False,
                                      capture_output=True, text=True, timeout=args.config_timeout_s,
                                      env={**os.environ, "PYTHONPATH": str(REPO)})
            except subprocess.TimeoutExpired:
                rows.append({"model": name, "batch": b, "error": f"timed out after {args.config_timeout_s:.0f} s"})
                print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
                continue
            if proc.returncode != 0:
                rows.append({"model": name, "batch": b, "error": proc.stderr.strip().splitlines()[-1:]})
            else:
                rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    weights_dir = pathlib.Path(args.weights_dir) if args.weights_dir else None
    videos = [video_end_to_end(m, weights_dir, args.video_seconds, 16) for m in args.video_models]
    record = {"benchmark": "pose", "cpu_count": os.cpu_count(), "load_average_at_end": os.getloadavg(),
              "total_wall_s": round(time.perf_counter() - start_wall, 1), "throughput": rows, "video": videos,
              "note": "video times are measured on a shorter synthetic 640x480 30 fps clip and extrapolated "
                      "linearly to 5,400 frames (3 minutes); first_call_s includes compilation"}
    text = json.dumps(record, indent=1)
    print(text)
    if args.out:
        pathlib.Path(args.out).write_text(text)
    print(f"\n{'model':<13}{'res':>5}{'batch':>6}{'compile s':>11}{'frames/s':>10}{'runs':>6}{'XLA MB':>9}"
          f"{'RSS MB':>9}")
    for r in rows:
        if "error" in r:
            print(f"{r['model']:<13}{'':>5}{r['batch']:>6}  error: {r['error']}")
            continue
        print(f"{r['model']:<13}{r['resolution']:>5}{r['batch']:>6}{r['compile_s']:>11}{r['frames_per_s']:>10}"
              f"{r['timed_runs']:>6}{r['xla_memory_mb']!s:>9}{r['peak_rss_mb']:>9}")
    for v in videos:
        print(f"3-min 30 fps video, EfficientPose {v['model']}: {v['three_minute_video_s']} s "
              f"({v['frames_per_s']} frames/s end to end, extrapolated from {v['frames_measured']} frames)")


def run_compare(args) -> None:
    weights_dir = pathlib.Path(args.weights_dir)
    start = time.perf_counter()
    models = [m for m in args.models if m in ("rt", "i", "rt_lite", "i_lite")]
    rows = compare(models, args.batches, args.rounds, weights_dir, args.torch_python, args.torch_repo)
    videos = []
    for m in args.video_models:
        for fast in (False, True):
            videos.append(video_end_to_end(m, weights_dir, args.video_seconds, 16, fast=fast))
            print(json.dumps(videos[-1]), file=sys.stderr, flush=True)
    record = {"benchmark": "pose-compare", "cpu_count": os.cpu_count(), "total_wall_s":
              round(time.perf_counter() - start, 1), "throughput": rows, "video": videos,
              "load_average_at_end": os.getloadavg()}
    text = json.dumps(record, indent=1)
    print(text)
    if args.out:
        pathlib.Path(args.out).write_text(text)
    print(f"\n{'model':<8}{'batch':>6}{'graph':>9}{'round':>6}{'ms/img':>9}{'GFLOP/s':>9}{'matmul':>8}"
          f"{'frac':>7}{'load':>6}")
    for r in rows:
        print(f"{r['model']:<8}{r['batch']:>6}{r['graph']:>9}{r['round']:>6}{r['ms_per_img']:>9}"
              f"{r.get('gflop_s', '')!s:>9}{r['matmul_gflop_s']:>8}{r.get('fraction_of_matmul', '')!s:>7}"
              f"{r['load_average']:>6}")
    for v in videos:
        print(f"3-min 30 fps 640x480 video, EfficientPose {v['model']} ({v['path']}): {v['three_minute_video_s']} s "
              f"({v['frames_per_s']} frames/s, {v['frames_measured']} frames, load {v['load_average']}, "
              f"peak RSS {v['peak_rss_mb']} MB)")


if __name__ == "__main__":
    main()
