"""Asymmetric vs full 3D regression CNN (seed 004): training-step and inference time per clip, parameters, FLOPs.

Seed 004 reports 66 % less training time and 0.03 vs 0.05 s per clip (RTX 2080) for the asymmetric network.
Both networks are timed side by side in one run, on the same inputs, medians after warm-up.

    python benchmarks/depth.py                      # paper widths at 128x96, batch 16 (for an accelerator)
    python benchmarks/depth.py --scale 0.25 --height 48 --width 64 --batch 4   # a CPU-sized run
    python benchmarks/depth.py --layers --batch 4   # per layer: where the asymmetric cascade's time goes
    python benchmarks/depth.py --profile --batch 2 --height 48 --width 64   # per level inside the whole step

Prints one JSON record and a table. ``--layers`` times one block of each kind at each Table I width on the same
input (forward + backward in training mode, as in a step): the full 3x3x3 convolution and each asymmetric
convolution (1x3x1, 1x1x3, 3x1x1) with and without its BatchNorm + ReLU, and the whole cascade, with FLOPs and
GFLOP/s, so the step ratio can be explained layer by layer (docs/performance.md, "The depth finding"). ``--profile`` traces one training step
of each whole network (forward, backward, Adam update; ``jax.profiler``) and sums the time of every XLA op by the
Table I level its HLO metadata names (layer1-4, the 1x1x1 head layer5, output): the per-level ratio inside the
step, the op time summed over the CPU threads and the step's wall time (how busy the threads were).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import platform
import sys

import jax
import numpy as np

from infantjax import parallel
from infantjax.bench import harness
from infantjax.models import count_parameters
from infantjax.models.depth.regression import ASYMMETRIC_KERNELS, RegressionSpec
from infantjax.pipelines.depth import make_predict
from infantjax.train import DepthConfig, DepthTask, programs_for

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from kernel_profile import union_length  # noqa: E402 - a sibling script


def conv_flops(spec: RegressionSpec, clips: int, frames: int, height: int, width: int, in_channels: int) -> int:
    """Forward FLOPs (2 per multiply-add, bias adds ignored) of the regression CNN on ``clips`` clips."""
    voxels = clips * frames * height * width
    macs = 0
    c_in = in_channels
    for c in spec.widths:
        if spec.kind == "asymmetric":
            sizes = [int(np.prod(k)) for k in ASYMMETRIC_KERNELS]
            macs += sizes[0] * c_in * c + sizes[1] * c * c + sizes[2] * c * c
        else:
            macs += 27 * c_in * c
        c_in = c
    macs += c_in * spec.head_width + spec.head_width * spec.num_maps
    return 2 * macs * voxels


def _median_time(fn, repeats: int, warmup: int) -> float:
    """Median seconds after ``warmup`` calls (the harness's, infantjax.bench)."""
    return harness.median_time(fn, repeats=repeats, warmup=warmup)[0]


def bench(kind: str, args) -> dict:
    widths = tuple(max(1, round(w * args.scale)) for w in (64, 128, 256, 256))
    spec = RegressionSpec(kind, widths=widths, head_width=max(1, round(256 * args.scale)))
    model = spec.build()
    shape = (args.batch, 3, args.height, args.width, 21)
    x = jax.random.normal(jax.random.key(0, impl="rbg"), shape)
    y = jax.random.uniform(jax.random.key(1, impl="rbg"), shape[:-1] + (20,))
    variables = jax.jit(lambda k, x: model.init(k, x, train=False))(jax.random.key(2, impl="rbg"), x)
    # the training engine's step (infantjax.train.fit runs exactly this program), one instance on one device
    task = DepthTask(model, DepthConfig(batch_size=args.batch), shape[1:])
    mesh = parallel.instance_mesh(1, devices=jax.devices()[:1])
    programs = programs_for(task, 100, mesh)
    state = [programs.init_from(np.asarray(jax.random.PRNGKey(0))[None], variables)]
    batch = {"inputs": np.asarray(x)[None], "targets": np.asarray(y)[None]}
    active = np.ones(1, bool)

    def train_once():
        state[0], loss, _ = programs.train_step(state[0], batch, active)
        jax.block_until_ready(loss)

    predict = make_predict(model)

    def infer_once():
        jax.block_until_ready(predict(variables, x))

    n_params = count_parameters(variables["params"])
    flops = conv_flops(spec, 1, 3, args.height, args.width, 21)
    xla_flops = None
    try:
        cost = predict.lower(variables, x).compile().cost_analysis()
        cost = cost[0] if isinstance(cost, (list, tuple)) else cost
        xla_flops = float(cost.get("flops", float("nan"))) / args.batch
    except (RuntimeError, NotImplementedError, AttributeError, KeyError, TypeError) as exc:
        print(f"XLA cost analysis unavailable: {exc}", file=sys.stderr)  # optional, backend dependent
    train_s = _median_time(train_once, args.repeats, args.warmup)
    infer_s = _median_time(infer_once, args.repeats, args.warmup)
    return {
        "kind": kind, "widths": list(widths), "head_width": spec.head_width, "parameters": n_params,
        "forward_gflops_per_clip": flops / 1e9, "xla_forward_gflops_per_clip": None if xla_flops is None else
        xla_flops / 1e9, "train_step_s": train_s, "train_s_per_clip": train_s / args.batch,
        "inference_s_per_clip": infer_s / args.batch,
    }


def bench_layers(args) -> list[dict]:
    """Forward + backward (training mode) of one block of each kind per Table I width (module docstring)."""
    import jax.numpy as jnp

    from infantjax.nn.conv3d import AsymmetricConv3D, ConvBNReLU

    rows = []
    for c in (64, 128, 256):
        c = max(1, round(c * args.scale))
        x = jax.random.normal(jax.random.key(0, impl="rbg"), (args.batch, 3, args.height, args.width, c))
        voxels = x.size // c
        blocks = [("full 3x3x3 + BN + ReLU", ConvBNReLU(c, (3, 3, 3)), 27)]
        for k in ASYMMETRIC_KERNELS:
            name = "x".join(map(str, k))
            blocks.append((f"{name} + BN + ReLU", ConvBNReLU(c, k), 3))
            blocks.append((f"{name} conv only", ConvBNReLU(c, k, bn_relu=False), 3))
        blocks.append(("asymmetric cascade", AsymmetricConv3D(c), 9))
        for name, block, taps in blocks:
            variables = jax.jit(lambda k, x, block=block: block.init(k, x, train=False))(
                jax.random.key(1, impl="rbg"), x)

            def loss(params, x, block=block, variables=variables):
                y, _ = block.apply({**variables, "params": params}, x, train=True, mutable=["batch_stats"])
                return jnp.mean(y * y)

            step = jax.jit(jax.value_and_grad(loss, argnums=(0, 1)))
            seconds = _median_time(lambda step=step, v=variables: step(v["params"], x), args.repeats, args.warmup)
            flops = 3 * 2 * taps * c * c * voxels  # forward + two gradient products
            rows.append({"width": c, "block": name, "ms": 1e3 * seconds, "gflop": flops / 1e9,
                         "gflop_per_s": flops / seconds / 1e9})
    return rows


def _traced_step(kind: str, args) -> tuple[dict, float, float]:
    """Op time (ms, summed over threads) per Table I level of one traced training step, the step's median wall
    time (s) and the ops' total (ms). XLA:CPU names each op in the trace; its compiled HLO maps the name to the
    Flax module path (``op_name`` metadata)."""
    import collections
    import glob
    import re
    import tempfile

    import jax.numpy as jnp
    import optax
    from jax._src.lib import _profile_data  # jaxlib's reader of profiler traces (private; benchmark only)

    widths = tuple(max(1, round(w * args.scale)) for w in (64, 128, 256, 256))
    model = RegressionSpec(kind, widths=widths, head_width=max(1, round(256 * args.scale))).build()
    shape = (args.batch, 3, args.height, args.width, 21)
    x = jax.random.normal(jax.random.key(0, impl="rbg"), shape)
    y = jax.random.uniform(jax.random.key(1, impl="rbg"), shape[:-1] + (20,))
    variables = jax.jit(lambda k, x: model.init(k, x, train=False))(jax.random.key(2, impl="rbg"), x)
    tx = optax.adam(1e-3)

    def step(params, stats, opt, x, y):
        def loss(p):
            out, upd = model.apply({"params": p, "batch_stats": stats}, x, train=True, mutable=["batch_stats"])
            return jnp.mean((out - y) ** 2), upd

        (value, upd), grads = jax.value_and_grad(loss, has_aux=True)(params)
        updates, opt = tx.update(grads, opt, params)
        return optax.apply_updates(params, updates), upd["batch_stats"], opt, value

    fn = jax.jit(step)
    # Adam's zero moments in one program, not one eager program per parameter shape
    inputs = (variables["params"], variables["batch_stats"], jax.jit(tx.init)(variables["params"]), x, y)
    scope = {}
    for line in fn.lower(*inputs).compile().as_text().splitlines():
        m = re.match(r"\s*(?:ROOT )?%?([\w.\-]+) = .*?op_name=\"([^\"]*)\"", line)
        if m:
            level = re.search(r"(layer\d+|output)", m.group(2))
            scope[m.group(1)] = level.group(1) if level else "other (loss, Adam)"
    wall = _median_time(lambda: jax.block_until_ready(fn(*inputs)), args.repeats, args.warmup)
    with tempfile.TemporaryDirectory() as tmp:
        with jax.profiler.trace(tmp):
            jax.block_until_ready(fn(*inputs))
        trace = _profile_data.ProfileData.from_file(glob.glob(f"{tmp}/plugins/profile/*/*.xplane.pb")[-1])
    per_level = collections.Counter()
    threads = {}  # XLA's worker threads: the intervals in which each ran anything (ops or thread-pool work)
    for plane in trace.planes:
        for line in plane.lines:
            for event in line.events:
                if event.name in scope:
                    per_level[scope[event.name]] += event.duration_ns / 1e6
                if "XLAEigen" in line.name and "wait" not in event.name.lower() and "Await" not in event.name:
                    threads.setdefault(line.name, []).append((event.start_ns, event.end_ns))
    return dict(per_level), wall, sum(per_level.values()), _busy(threads)


def _busy(threads: dict) -> list[float]:
    """Per worker thread, the share of the traced step (first to last event) in which it ran something."""
    if not threads:
        return []
    start = min(s for iv in threads.values() for s, _ in iv)
    end = max(e for iv in threads.values() for _, e in iv)
    return sorted((union_length(iv) / max(end - start, 1) for iv in threads.values()), reverse=True)


def profile_levels(args) -> dict:
    """Per level op time of the asymmetric and the full network's training step (``--profile``)."""
    out = {}
    for kind in ("asymmetric", "full"):
        levels, wall, total, busy = _traced_step(kind, args)
        out[kind] = {"levels_ms": levels, "step_wall_s": wall, "ops_ms": total, "threads_busy": busy}
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="width multiplier (1 = Table I widths)")
    parser.add_argument("--height", type=int, default=96)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--batch", type=int, default=16, help="clips per step (paper: 16)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--json", help="also write the JSON record to this file")
    parser.add_argument("--layers", action="store_true", help="time each block kind per width (P4 explanation)")
    parser.add_argument("--profile", action="store_true",
                        help="per Table I level op time inside each network's whole training step (P4)")
    args = parser.parse_args(argv)
    load_start, matmul = harness.load_average(), harness.matmul_rate()

    def record_of(kind: str, results) -> dict:
        """The JSON record of a --profile / --layers run, with the matmul rate and load at its start and end."""
        record = {"benchmark": kind, "config": vars(args), "results": results, "jax": jax.__version__,
                  "matmul_gflop_per_s": [matmul, harness.matmul_rate()],
                  "load_average_1min": [load_start, harness.load_average()]}
        print(json.dumps(record))
        return record

    if args.profile:
        res = profile_levels(args)
        record = record_of("depth_profile", res)
        asym, full = res["asymmetric"], res["full"]
        names = sorted(set(asym["levels_ms"]) | set(full["levels_ms"]))
        print(f"{'level':<20}{'asymmetric ms':>15}{'full ms':>10}{'ratio':>8}{'share of full':>15}")
        for n in names:
            a, f = asym["levels_ms"].get(n, 0.0), full["levels_ms"].get(n, 0.0)
            print(f"{n:<20}{a:>15.1f}{f:>10.1f}{a / f if f else float('nan'):>8.2f}{100 * f / full['ops_ms']:>14.0f}%")
        print(f"{'all ops':<20}{asym['ops_ms']:>15.1f}{full['ops_ms']:>10.1f}{asym['ops_ms'] / full['ops_ms']:>8.2f}")
        print(f"{'step wall (median)':<20}{1e3 * asym['step_wall_s']:>15.1f}{1e3 * full['step_wall_s']:>10.1f}"
              f"{asym['step_wall_s'] / full['step_wall_s']:>8.2f}")
        for kind, r in res.items():
            print(f"{kind}: ops summed over threads / wall = {r['ops_ms'] / (1e3 * r['step_wall_s']):.2f}; XLA worker "
                  f"threads busy {', '.join(f'{100 * b:.0f} %' for b in r['threads_busy'])} of the traced step")
        print(f"matmul {record['matmul_gflop_per_s'][0]:.1f} / {record['matmul_gflop_per_s'][1]:.1f} GFLOP/s; "
              f"load average (1 min) {record['load_average_1min']}; batch {args.batch} clips of 3 x "
              f"{args.height} x {args.width}")
        return 0
    if args.layers:
        rows = bench_layers(args)
        record = record_of("depth_layers", rows)
        print(f"{'width':>6}  {'block':<24}{'ms':>10}{'GFLOP':>9}{'GFLOP/s':>9}{'of matmul':>10}")
        for r in rows:
            print(f"{r['width']:>6}  {r['block']:<24}{r['ms']:>10.1f}{r['gflop']:>9.2f}{r['gflop_per_s']:>9.1f}"
                  f"{100 * r['gflop_per_s'] / matmul:>9.0f}%")
        print(f"matmul {record['matmul_gflop_per_s'][0]:.1f} / {record['matmul_gflop_per_s'][1]:.1f} GFLOP/s; "
              f"load average (1 min) {record['load_average_1min']}; batch {args.batch} clips of 3 x "
              f"{args.height} x {args.width}")
        return 0
    rows = [bench("asymmetric", args), bench("full", args)]
    asym, full = rows
    record = {
        "benchmark": "depth_regression", "device": str(jax.devices()[0].device_kind), "platform":
        platform.platform(), "jax": jax.__version__, "config": vars(args), "results": rows,
        "train_time_reduction": 1 - asym["train_step_s"] / full["train_step_s"],
        "inference_time_reduction": 1 - asym["inference_s_per_clip"] / full["inference_s_per_clip"],
        "parameter_ratio": asym["parameters"] / full["parameters"],
        "flop_ratio": asym["forward_gflops_per_clip"] / full["forward_gflops_per_clip"],
        "paper": {"train_time_reduction": 0.66, "inference_s_per_clip": {"asymmetric": 0.03, "full": 0.05}},
        "matmul_gflop_per_s": matmul, "load_average_1min": [load_start, harness.load_average()],
    }
    print(json.dumps(record))
    if args.json:
        import os
        import tempfile

        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(args.json)) or ".")
        with os.fdopen(fd, "w") as f:
            json.dump(record, f, indent=2)
        os.replace(tmp, args.json)
    header = f"{'network':<12}{'params':>12}{'GFLOP/clip':>12}{'train s/clip':>14}{'infer s/clip':>14}"
    print(header)
    for r in rows:
        print(f"{r['kind']:<12}{r['parameters']:>12,}{r['forward_gflops_per_clip']:>12.2f}"
              f"{r['train_s_per_clip']:>14.4f}{r['inference_s_per_clip']:>14.4f}")
    print(f"asymmetric vs full: training time -{100 * record['train_time_reduction']:.0f} % (paper -66 %), "
          f"inference -{100 * record['inference_time_reduction']:.0f} % (paper 0.03 vs 0.05 s), "
          f"parameters x{record['parameter_ratio']:.2f}, FLOPs x{record['flop_ratio']:.2f}")
    print(f"matmul {matmul:.1f} GFLOP/s; load average (1 min) {record['load_average_1min']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
