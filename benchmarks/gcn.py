"""Throughput of the GCNs of seed 002: the ten Table A.4 architectures and ST-GCN.

For each network and a batch of windows (default 32 × 150 frames × 19 joints, the reference's training batch):
compile time and median time of the jitted forward pass (eval mode) and of one training step (forward, backward,
SGD with Nesterov momentum, BatchNorm update), and the achieved GFLOP/s — the paper's FLOPs (``count_flops``,
reference convention) × batch / time; a training step is counted as 3 × forward — next to the float32 matmul rate
of the same machine measured in the same run.

    python benchmarks/gcn.py                      # all eleven, JSON record + table on stdout
    python benchmarks/gcn.py --specs 1 2 stgcn --batch 8 --repeats 5 --out gcn.json
    python benchmarks/gcn.py --specs 1 8 stgcn --conv-impl conv shift   # temporal convs: XLA conv vs shifted slices
    python benchmarks/gcn.py --specs stgcn 1 --dtype float32 bfloat16   # compute dtypes side by side
    python benchmarks/gcn.py --specs 2 --remat off on --repeats 5   # rematerialised modules: step time and scratch
    python benchmarks/gcn.py --layers             # graph conv layer: einsum vs 2-D matmuls (infantjax.nn.dense)
    python benchmarks/gcn.py --products           # the step's product shapes: float32 vs bfloat16 GFLOP/s
    python benchmarks/gcn.py --temporal-layers --specs 1 7 --conv-impl conv im2col   # per temporal conv shape
    python benchmarks/gcn.py --specs 1 7 stgcn --repeats 3 --torch-python /tmp/torchvenv/bin/python \\
        --movementoutcome-repo /tmp/MovementOutcome --stgcn-repo /tmp/st-gcn   # side by side with PyTorch

``--torch-python`` runs the official PyTorch models (``benchmarks/gcn_torch.py``, in that interpreter's
environment, from checkouts of DeepInMotion/MovementOutcome and yysijie/st-gcn) right after each infantjax
figure, with the same batch and the reference optimiser, and prints the time ratio infantjax ÷ PyTorch (below 1:
infantjax is faster).

``--layers`` times the graph-convolution layer's two parts side by side, vmapped over ensemble instances as in
training (``--instances``, default 3 and 7, × ``--batch`` windows, 12 and 48 channels), forward and forward +
backward: the 1×1 conv as ``flax.linen.Dense`` on (N, T, V, C) vs :class:`infantjax.nn.dense.FlatDense`, and the
graph aggregation as the einsum ``ntvkc,kvw->ntwc`` vs the transposed matmul of :func:`infantjax.nn.graph.aggregate`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import pathlib
import platform
import statistics
import sys
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from tqdm import tqdm

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from infantjax import backend, models
from infantjax.bench import harness
from infantjax.models import count_parameters
from infantjax.models.gcn import GCNSpec, STGCNSpec, build_model, count_flops
from infantjax.nn.precision import COMPUTE_DTYPES
from infantjax.nn.temporal import CONV_IMPLS

V, T = 19, 150


def _timed(fn, *args, repeats: int) -> tuple[float, list[float]]:
    """Compile-inclusive first call time and the per-call times of ``repeats`` later calls."""
    t0 = time.perf_counter()
    jax.block_until_ready(fn(*args))
    first = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - t0)
    return first, times


def matmul_rate(n: int = 1024, repeats: int = 10) -> float:
    """Measured float32 matmul GFLOP/s (n×n @ n×n, jitted, median of ``repeats``): the harness's (infantjax.bench)."""
    return harness.matmul_rate(n, repeats)


def _variables(model, x):
    """Variables with the model's structure (values do not affect timing; compiling the initialisers would)."""
    shapes = jax.eval_shape(lambda: model.init(jax.random.key(0), x, train=False))
    rng = np.random.default_rng(0)

    def fill(path, sd):
        name = str(getattr(path[-1], "key", path[-1]))
        if name in ("scale", "var", "edge_importance"):
            return jnp.ones(sd.shape, sd.dtype)
        return jnp.asarray(rng.normal(size=sd.shape) * 0.05, sd.dtype)

    return jax.tree_util.tree_map_with_path(fill, shapes)


def _in_channels(spec) -> int:
    """Input channels of a window of ``spec``'s network (the model registry's sample input)."""
    return models.sample_input(spec)[-1]


def bench_one(name: str, spec, *, batch: int, repeats: int, conv_impl: str = "auto", dtype: str = "float32",
              remat: bool = False) -> dict:
    spec = dataclasses.replace(spec, dtype=dtype)
    model = build_model(spec, conv_impl=conv_impl, remat=remat)
    x = jnp.asarray(np.random.default_rng(1).normal(size=(batch, T, V, _in_channels(spec))), jnp.float32)
    labels = jnp.asarray(np.arange(batch) % 2)
    variables = _variables(model, x)
    # the reference optimiser: SGD, lr 5e-4, Nesterov momentum 0.9 (gcn_reference A.9)
    tx = optax.sgd(5e-4, momentum=0.9, nesterov=True)
    opt_state = tx.init(variables["params"])

    forward = jax.jit(lambda v, x: model.apply(v, x, train=False)[0])

    def train_step(params, batch_stats, opt_state, x, y):
        def loss_fn(p):
            (logits, _), upd = model.apply({"params": p, "batch_stats": batch_stats}, x, train=True,
                                           mutable=["batch_stats"])
            logp = jax.nn.log_softmax(logits)
            return -jnp.take_along_axis(logp, y[:, None], axis=1).mean(), upd

        (loss, upd), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), upd["batch_stats"], opt_state, loss

    step = jax.jit(train_step)

    t0 = time.perf_counter()
    fwd_c = forward.lower(variables, x).compile()
    fwd_compile = time.perf_counter() - t0
    t0 = time.perf_counter()
    step_c = step.lower(variables["params"], variables["batch_stats"], opt_state, x, labels).compile()
    step_compile = time.perf_counter() - t0

    _, fwd_times = _timed(fwd_c, variables, x, repeats=repeats)
    _, step_times = _timed(step_c, variables["params"], variables["batch_stats"], opt_state, x, labels,
                           repeats=repeats)
    flops = count_flops(spec, "reference")
    fwd_s, step_s = statistics.median(fwd_times), statistics.median(step_times)
    return {
        "name": name,
        "conv_impl": conv_impl,
        "dtype": dtype,
        "remat": remat,
        "train_step_scratch_gb": step_c.memory_analysis().temp_size_in_bytes / 1e9,
        "params_reference": count_parameters(spec, convention="reference"),
        "params_live": count_parameters(spec, convention="live"),
        "gflops_reference": flops / 1e9,
        "gflops_full": count_flops(spec, "full") / 1e9,
        "forward_compile_s": fwd_compile,
        "train_step_compile_s": step_compile,
        "forward_s": fwd_s,
        "train_step_s": step_s,
        "forward_windows_per_s": batch / fwd_s,
        "train_windows_per_s": batch / step_s,
        "forward_gflop_per_s": flops * batch / fwd_s / 1e9,
        "train_gflop_per_s": 3 * flops * batch / step_s / 1e9,
    }


def bench_torch(name: str, *, python: str, batch: int, repeats: int, movementoutcome_repo, stgcn_repo) -> dict:
    """The official PyTorch model's train step and forward (``benchmarks/gcn_torch.py`` in ``python``), seconds."""
    import subprocess

    cmd = [python, str(pathlib.Path(__file__).with_name("gcn_torch.py")), "--specs", name, "--batch", str(batch),
           "--repeats", str(repeats)]
    if movementoutcome_repo:
        cmd += ["--movementoutcome-repo", str(movementoutcome_repo)]
    if stgcn_repo:
        cmd += ["--stgcn-repo", str(stgcn_repo)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    rows = {r["kind"]: r for r in (json.loads(line) for line in out.splitlines() if line.startswith("{"))}
    return {"torch_train_step_s": rows["train_step"]["seconds"], "torch_forward_s": rows["forward"]["seconds"],
            "torch_matmul_gflop_per_s": rows["train_step"]["matmul_gflops"], "torch": rows["train_step"]["torch"]}


def _specs(selected):
    all_specs = {str(i + 1): s for i, s in enumerate(GCNSpec.table_a4())}
    all_specs["stgcn"] = STGCNSpec()
    if not selected:
        return all_specs
    unknown = [s for s in selected if s not in all_specs]
    if unknown:
        raise SystemExit(f"unknown specs {unknown}; choose from {', '.join(all_specs)}")
    return {k: all_specs[k] for k in selected}


def _table(record) -> str:
    head = (f"{'net':>6} {'conv':>6} {'dtype':>8} {'params':>10} {'GFLOPs':>7} {'fwd ms':>8} {'step ms':>8} {'fwd cmp s':>9} "
            f"{'step cmp s':>10} {'fwd GF/s':>8} {'step GF/s':>9}")
    lines = [head, "-" * len(head)]
    for r in record["results"]:
        lines.append(
            f"{r['name']:>6} {r.get('conv_impl', 'auto'):>6} {r.get('dtype', 'float32'):>8} {r['params_reference']:>10,} {r['gflops_reference']:>7.2f} {r['forward_s'] * 1e3:>8.1f} "
            f"{r['train_step_s'] * 1e3:>8.1f} {r['forward_compile_s']:>9.1f} {r['train_step_compile_s']:>10.1f} "
            f"{r['forward_gflop_per_s']:>8.1f} {r['train_gflop_per_s']:>9.1f}"
            + (f"  remat (step scratch {r['train_step_scratch_gb']:.2f} GB)" if r.get("remat") else
               f"  step scratch {r['train_step_scratch_gb']:.2f} GB" if "train_step_scratch_gb" in r else "")
            + (f"  torch step {r['torch_train_step_s'] * 1e3:,.0f} ms (ratio {r['train_step_s'] / r['torch_train_step_s']:.2f}),"
               f" fwd {r['torch_forward_s'] * 1e3:,.0f} ms (ratio {r['forward_s'] / r['torch_forward_s']:.2f})"
               if "torch_train_step_s" in r else ""))
    lines.append(f"float32 matmul ({record['matmul_n']}^3): {record['matmul_gflop_per_s']:.1f} GFLOP/s; "
                 f"batch {record['batch']} windows of {T}×{V}; {record['device']}")
    return "\n".join(lines)


def bench_layers(*, instances: list[int], batch: int, repeats: int) -> list[dict]:
    """Side by side per case: (Dense vs FlatDense) and (einsum vs matmul aggregation), fwd and fwd+bwd, ms."""
    import flax.linen as nn

    from infantjax.nn.dense import FlatDense
    from infantjax.nn.graph import aggregate

    def einsum_aggregate(y, a):
        return jnp.einsum("ntvkc,kvw->ntwc", y, a)

    rows = []
    rng = np.random.default_rng(0)
    for n_inst in instances:
        for c in (12, 48):
            k = 3
            x = jnp.asarray(rng.normal(size=(n_inst, batch, T, V, c)), jnp.float32)
            y = jnp.asarray(rng.normal(size=(n_inst, batch, T, V, k, c)), jnp.float32)
            a = jnp.asarray(rng.normal(size=(n_inst, k, V, V)), jnp.float32)
            cases = {}
            for label, layer in (("dense", nn.Dense(k * c)), ("flat_dense", FlatDense(k * c))):
                params = jax.vmap(lambda key: layer.init(key, x[0, :1]))(jax.random.split(jax.random.PRNGKey(0),
                                                                                          n_inst))
                fwd = jax.jit(jax.vmap(layer.apply))
                grad = jax.jit(jax.grad(lambda p, x: (jax.vmap(layer.apply)(p, x) ** 2).sum(), argnums=(0, 1)))
                cases[label] = (fwd, grad, (params, x))
            for label, fn in (("einsum_aggregate", einsum_aggregate), ("matmul_aggregate", aggregate)):
                fwd = jax.jit(jax.vmap(fn))
                grad = jax.jit(jax.grad(lambda y, a, fn=fn: (jax.vmap(fn)(y, a) ** 2).sum(), argnums=(0, 1)))
                cases[label] = (fwd, grad, (y, a))
            row = {"instances": n_inst, "batch": batch, "channels": c}
            for label, (fwd, grad, args) in cases.items():
                row[f"{label}_fwd_ms"] = 1e3 * statistics.median(_timed(fwd, *args, repeats=repeats)[1])
                row[f"{label}_fwd_bwd_ms"] = 1e3 * statistics.median(_timed(grad, *args, repeats=repeats)[1])
            for old, new in (("dense", "flat_dense"), ("einsum_aggregate", "matmul_aggregate")):
                for part in ("fwd", "fwd_bwd"):
                    row[f"{new}_{part}_speedup"] = row[f"{old}_{part}_ms"] / row[f"{new}_{part}_ms"]
            rows.append(row)
    return rows


PRODUCT_SHAPES = ((2048, 2048, 2048), (91200, 576, 64), (91200, 64, 192), (45600, 1152, 128), (23104, 2304, 256),
                  (576, 91200, 64))


def bench_products(*, repeats: int) -> list[dict]:
    """GFLOP/s of the GCN step's product shapes (batch 32 ST-GCN: im2col, graph conv, weight gradient) in float32,
    bfloat16 → bfloat16 and bfloat16 operands with a float32 result (what ``infantjax.nn.dense.matmul`` asks for)."""
    rng = np.random.default_rng(0)
    forms = {
        "float32": (jnp.float32, jax.jit(lambda a, b: a @ b)),
        "bf16_to_bf16": (jnp.bfloat16, jax.jit(lambda a, b: a @ b)),
        "bf16_f32_result": (jnp.bfloat16, jax.jit(lambda a, b: jnp.dot(a, b, preferred_element_type=jnp.float32))),
    }
    rows = []
    for m, k, n in PRODUCT_SHAPES:
        a64, b64 = rng.random((m, k)), rng.random((k, n))
        row = {"m": m, "k": k, "n": n}
        for name, (dtype, fn) in forms.items():
            a, b = jnp.asarray(a64, dtype), jnp.asarray(b64, dtype)
            _, times = _timed(fn, a, b, repeats=repeats)
            row[name + "_gflop_per_s"] = 2 * m * k * n / statistics.median(times) / 1e9
        rows.append(row)
    return rows


def temporal_shapes(specs: dict, batch: int) -> dict[str, dict[tuple, int]]:
    """Each network's dense temporal convolutions: {(frames in, C, F, k, stride, dilation): count}, recorded by
    wrapping ``infantjax.nn.temporal.temporal_conv`` (what ``TemporalConv`` calls) while shapes are evaluated."""
    from infantjax.nn import temporal

    seen: dict[tuple, int] = {}
    original = temporal.temporal_conv

    def record(x, kernel, *, stride=1, dilation=1, padding=0, groups=1, impl="auto"):
        if groups == 1 and kernel.shape[0] > 1:
            key = (x.shape[1], x.shape[-1], kernel.shape[-1], kernel.shape[0], stride, dilation)
            seen[key] = seen.get(key, 0) + 1
        return original(x, kernel, stride=stride, dilation=dilation, padding=padding, groups=groups, impl=impl)

    out = {}
    temporal.temporal_conv = record
    try:
        for name, spec in specs.items():
            seen.clear()
            model = build_model(spec)
            jax.eval_shape(lambda m=model, c=_in_channels(spec): m.init(jax.random.key(0), jnp.zeros((batch, T, V, c)),
                                                                           train=False))
            out[name] = dict(seen)
    finally:
        temporal.temporal_conv = original
    return out


def bench_temporal_layers(specs: dict, *, batch: int, repeats: int, impls: list[str]) -> dict:
    """Forward + backward time (ms) of every dense temporal convolution shape of ``specs`` per implementation, and
    each network's sum over its layers per implementation and for the faster of them per shape."""
    from infantjax.nn.temporal import temporal_conv

    per_net = temporal_shapes(specs, batch)
    shapes = sorted({shape for counts in per_net.values() for shape in counts})
    rng = np.random.default_rng(0)
    rows = []
    for t_in, c, f, k, stride, dilation in tqdm(shapes, desc="temporal layers", file=sys.stderr):
        x = jnp.asarray(rng.normal(size=(batch, t_in, V, c)), jnp.float32)
        w = jnp.asarray(rng.normal(size=(k, 1, c, f)) * 0.1, jnp.float32)
        row = {"frames": t_in, "channels": c, "features": f, "kernel": k, "stride": stride, "dilation": dilation}
        for impl in impls:
            def loss(x, w, impl=impl):
                y = temporal_conv(x, w, stride=stride, dilation=dilation, padding=(k - 1) // 2 * dilation, impl=impl)
                return jnp.sum(y * y)

            _, times = _timed(jax.jit(jax.grad(loss, argnums=(0, 1))), x, w, repeats=repeats)
            row[impl + "_ms"] = statistics.median(times) * 1e3
        rows.append(row)
    ms = {(r["frames"], r["channels"], r["features"], r["kernel"], r["stride"], r["dilation"]): r for r in rows}
    totals = {name: {**{impl: sum(n * ms[s][impl + "_ms"] for s, n in counts.items()) for impl in impls},
                     "best_per_shape": sum(n * min(ms[s][i + "_ms"] for i in impls) for s, n in counts.items())}
              for name, counts in per_net.items()}
    return {"shapes": rows, "network_totals_ms": totals}


def _layers_table(rows) -> str:
    lines = [f"{'instances':>9} {'C':>3} | {'Dense fwd':>9} {'Flat fwd':>9} {'x':>5} {'Dense f+b':>9} {'Flat f+b':>9} "
             f"{'x':>5} | {'einsum fwd':>10} {'matmul fwd':>10} {'x':>5} {'einsum f+b':>10} {'matmul f+b':>10} {'x':>5}"]
    for r in rows:
        lines.append(
            f"{r['instances']:>9} {r['channels']:>3} | {r['dense_fwd_ms']:9.1f} {r['flat_dense_fwd_ms']:9.1f} "
            f"{r['flat_dense_fwd_speedup']:5.2f} {r['dense_fwd_bwd_ms']:9.1f} {r['flat_dense_fwd_bwd_ms']:9.1f} "
            f"{r['flat_dense_fwd_bwd_speedup']:5.2f} | {r['einsum_aggregate_fwd_ms']:10.1f} "
            f"{r['matmul_aggregate_fwd_ms']:10.1f} {r['matmul_aggregate_fwd_speedup']:5.2f} "
            f"{r['einsum_aggregate_fwd_bwd_ms']:10.1f} {r['matmul_aggregate_fwd_bwd_ms']:10.1f} "
            f"{r['matmul_aggregate_fwd_bwd_speedup']:5.2f}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--specs", nargs="*", help="Table A.4 numbers (1-10) and/or 'stgcn'; default all")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=10, help="timed calls after the warm-up call")
    parser.add_argument("--matmul-n", type=int, default=1024)
    parser.add_argument("--out", type=pathlib.Path, help="also write the JSON record here")
    parser.add_argument("--conv-impl", nargs="+", default=["auto"], choices=CONV_IMPLS,
                        help="temporal convolution implementations to time side by side (infantjax.nn.temporal)")
    parser.add_argument("--dtype", nargs="+", default=["float32"], choices=COMPUTE_DTYPES,
                        help="compute dtypes to time side by side (the spec's dtype; parameters stay float32)")
    parser.add_argument("--remat", nargs="+", default=["off"], choices=("off", "on"),
                        help="rematerialised GCN modules (CPConfig.remat) off and/or on, side by side: step time and "
                             "XLA scratch of the training step")
    parser.add_argument("--layers", action="store_true",
                        help="time the graph conv layer's parts instead: Dense vs FlatDense, einsum vs matmul")
    parser.add_argument("--products", action="store_true",
                        help="time the step's product shapes in float32 and bfloat16 instead (GFLOP/s)")
    parser.add_argument("--temporal-layers", action="store_true",
                        help="time forward + backward of every dense temporal convolution shape of --specs under "
                             "each --conv-impl instead")
    parser.add_argument("--instances", nargs="+", type=int, default=[3, 7], help="vmapped instances (--layers)")
    parser.add_argument("--torch-python", help="a Python with PyTorch: time the official models side by side")
    parser.add_argument("--movementoutcome-repo", type=pathlib.Path, help="checkout of DeepInMotion/MovementOutcome")
    parser.add_argument("--stgcn-repo", type=pathlib.Path, help="checkout of yysijie/st-gcn")
    args = parser.parse_args(argv)
    if args.batch < 1 or args.repeats < 1:
        parser.error("--batch and --repeats must be positive")
    if args.products:
        rows = bench_products(repeats=args.repeats)
        lines = [f"{'M x K x N':>22} {'float32':>8} {'bf16->bf16':>10} {'bf16, f32 result':>16}   GFLOP/s"]
        lines += [f"{r['m']:>8} x {r['k']:>5} x {r['n']:>4} {r['float32_gflop_per_s']:>8.0f} "
                  f"{r['bf16_to_bf16_gflop_per_s']:>10.0f} {r['bf16_f32_result_gflop_per_s']:>16.0f}" for r in rows]
        return _report(args, {"benchmark": "gcn-products", "results": rows}, lines)
    if args.temporal_layers:
        impls = [i for i in args.conv_impl if i != "auto"] or ["conv", "im2col"]
        result = bench_temporal_layers(_specs(args.specs), batch=args.batch, repeats=args.repeats, impls=impls)
        lines = [f"T {r['frames']:>3} C {r['channels']:>3} F {r['features']:>3} k {r['kernel']} s {r['stride']} "
                 f"d {r['dilation']}: " + "  ".join(f"{i} {r[i + '_ms']:8.1f} ms" for i in impls)
                 for r in result["shapes"]]
        lines += [f"{name:>6}: " + "  ".join(f"{i} {v:8.0f} ms" for i, v in tot.items())
                  for name, tot in result["network_totals_ms"].items()]
        return _report(args, {"benchmark": "gcn-temporal-layers", "batch": args.batch, **result}, lines)
    if args.layers:
        rows = bench_layers(instances=args.instances, batch=args.batch, repeats=args.repeats)
        return _report(args, {"benchmark": "gcn-layers", "frames": T, "repeats": args.repeats, "results": rows},
                       [_layers_table(rows)])
    specs = _specs(args.specs)
    record = {
        "benchmark": "gcn",
        "device": f"{jax.devices()[0].device_kind} ({backend.platform()}), {os.cpu_count()} CPU cores, "
                  f"{platform.processor() or platform.machine()}",
        "load_average_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "jax": jax.__version__,
        "batch": args.batch,
        "frames": T,
        "repeats": args.repeats,
        "matmul_n": args.matmul_n,
        "matmul_gflop_per_s": matmul_rate(args.matmul_n),
        "results": [],
    }
    runs = [(name, spec, impl, dt, rm == "on") for name, spec in specs.items() for impl in args.conv_impl
            for dt in args.dtype for rm in args.remat]
    for name, spec, impl, dt, remat in tqdm(runs, desc="gcn benchmark", file=sys.stderr):
        row = bench_one(name, spec, batch=args.batch, repeats=args.repeats, conv_impl=impl, dtype=dt, remat=remat)
        if args.torch_python:
            row.update(bench_torch(name, python=args.torch_python, batch=args.batch, repeats=args.repeats,
                                   movementoutcome_repo=args.movementoutcome_repo, stgcn_repo=args.stgcn_repo))
        record["results"].append(row)
        if args.out:  # keep what is done so far: a long run on a busy machine may be stopped
            _write(args.out, record)
    record["matmul_gflop_per_s_after"] = matmul_rate(args.matmul_n)
    print(json.dumps(record, indent=2))
    print(_table(record))
    if args.out:
        _write(args.out, record)
    return 0


def _report(args, record: dict, lines: list[str]) -> int:
    """The part-measurement modes' output: the record (with device, load average and the matmul rate of this run)
    as JSON, then ``lines``, then the matmul rate and load; the record also goes to ``--out``."""
    record = {**record, "device": f"{jax.devices()[0].device_kind} ({backend.platform()}), {os.cpu_count()} CPU "
              "cores", "load_average_1min": os.getloadavg()[0], "jax": jax.__version__,
              "matmul_gflop_per_s": matmul_rate(args.matmul_n)}
    print(json.dumps(record, indent=2))
    print("\n".join(lines))
    print(f"float32 matmul ({args.matmul_n}^3): {record['matmul_gflop_per_s']:.1f} GFLOP/s, load average "
          f"{record['load_average_1min']:.2f}")
    if args.out:
        _write(args.out, record)
    return 0


def _write(path: pathlib.Path, record: dict) -> None:
    """Write the JSON record atomically (temporary file + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as f:
        f.write(json.dumps(record, indent=2))
    os.replace(f.name, path)


if __name__ == "__main__":
    raise SystemExit(main())
