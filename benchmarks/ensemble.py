"""Fold ensembles as one vmapped program vs Python loops over instances.

Prints a JSON record and a table; medians of repeated runs after a warm-up (compilation excluded).

    python benchmarks/ensemble.py [--specs tiny|table-a4|table-a4:N] [--repeats 5] [--steps 5] [--batch 32]

* training: 7 fold instances of one architecture trained by one jitted, vmapped step (each fold its own batch)
  vs the 7 folds one after another with the single-instance step: fold-steps per second and the speed-up;
* scoring: a 3-minute 30 fps sequence (5400 frames → 71 windows of 150 frames, hop 75) scored by 70 instances
  (10 stacks × 7) with 10 vmapped calls vs a Python loop over the 70 instances (one jitted call each).

``--specs tiny`` (default on CPU) uses the smallest architecture of the search space; ``table-a4`` uses the
paper's 10 (slow on CPU; meant for an accelerator). ``--conv-impl`` lists the temporal-convolution
implementations to compare (default ``conv shift``; infantjax.nn.temporal): every measurement is made for each.

Measured 2026-11-21, 2-core CPU VM shared with other agents' jobs (load average 9–18), ``--repeats 3 --steps 3``,
medians after warm-up:

    task                                         conv impl    vmapped  one by one  speed-up
    train 7 folds (fold-steps/s)                      conv        0.5         0.7     0.71x
    score 3-min video, 71 windows x 70 inst. (s)      conv     88.374      71.356     0.81x
    train 7 folds (fold-steps/s)                     shift        0.9         1.0     0.86x
    score 3-min video, 71 windows x 70 inst. (s)     shift     53.207      93.376     1.75x

``conv`` = the models before (vmapped convolutions become batch-grouped convolutions, slow on XLA:CPU); ``shift``
= shifted-slice einsums, the CPU default now. Scoring is now faster vmapped; training still is not (docs/ensemble.md).

``--forms`` times what ``infantjax assess`` runs for its ensemble stage, ``Ensemble.window_predictions`` of a
3-minute recording (71 windows) with 10 stacks × 7 instances (``--specs``; every fold its own weights and perturbed
BatchNorm statistics), under the CPU policy's scoring forms as they are and under the forms before them
(``--before``: the backend policy's fields replaced, default ``temporal_fold=False graph_order='conv first'
scoring_windows=None``), interleaved (A B A B …, medians) in one process. It prints the first call of each (its
compiling included) and the milliseconds per window × instance of both side by side, the largest difference of their
P(CP) and CAM scores, and the float32 matmul rate and load average before and after (docs/performance.md, "CP
ensemble scoring on CPU").
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import jax
import jax.numpy as jnp
import numpy as np

from infantjax import backend, parallel
from infantjax.bench import harness  # the one harness: medians after warm-up, matmul rate, load average
from infantjax.ensemble import scoring_forward
from infantjax.models.gcn import GCNSpec, build_model, count_flops
from infantjax.models.gcn.presets import demo_spec
from infantjax.nn.temporal import CONV_IMPLS
from infantjax.train import CPConfig, CPTask, programs_for
from infantjax.train.cp import input_channels
from infantjax.infer.predict import stacked_program


def specs_for(name: str) -> list[GCNSpec]:
    if name == "tiny":
        return [demo_spec(temporal_kernel_size=3)] * 10  # the smallest network of the search space
    specs = list(GCNSpec.table_a4())
    if ":" in name:
        specs = specs[:int(name.split(":")[1])]
    return (specs * 10)[:10]


def build(spec, config: CPConfig, conv_impl: str):
    """The model of ``spec`` with its temporal convolutions computed by ``conv_impl`` (infantjax.nn.temporal)."""
    return build_model(spec, mode=config.model_mode, conv_impl=conv_impl)


def median_time(fn, repeats: int) -> float:
    """Median seconds of ``fn()`` after one warm-up call (the harness's, infantjax.bench)."""
    return harness.median_time(fn, repeats=repeats, warmup=1)[0]


def bench_training(spec, config: CPConfig, steps: int, repeats: int, mesh, conv_impl: str) -> dict:
    model = build(spec, config, conv_impl)
    rng = np.random.default_rng(0)
    folds = 7
    pos = rng.normal(0, 0.3, size=(folds, config.batch_size, config.window, 19, 2)).astype(np.float32)
    lab = rng.integers(0, 2, size=(folds, config.batch_size)).astype(np.int32)
    keys = np.stack([np.asarray(jax.random.PRNGKey(s)) for s in range(folds)])

    task = CPTask(model, config)
    stacked = programs_for(task, 1, mesh)
    n_pad = parallel.padded_size(folds, mesh)
    state7 = stacked.init(parallel.pad_leading(keys, n_pad))
    batch7 = {"positions": parallel.pad_leading(pos, n_pad), "labels": parallel.pad_leading(lab, n_pad)}
    active7 = np.arange(n_pad) < folds

    single = programs_for(task, 1, parallel.instance_mesh(1, devices=mesh.devices.flatten()[:1]))
    states1 = [single.init(keys[f:f + 1]) for f in range(folds)]

    def vmapped():
        nonlocal state7
        for _ in range(steps):
            state7, loss, _ = stacked.train_step(state7, batch7, active7)
        return loss

    def sequential():
        out = None
        for f in range(folds):
            batch = {"positions": pos[f:f + 1], "labels": lab[f:f + 1]}
            for _ in range(steps):
                states1[f], out, _ = single.train_step(states1[f], batch, np.ones(1, bool))
        return out

    t_v = median_time(vmapped, repeats)
    t_s = median_time(sequential, repeats)
    fold_steps = folds * steps
    return {"folds": folds, "steps_per_fold": steps, "vmapped_s": t_v, "sequential_s": t_s,
            "vmapped_fold_steps_per_s": fold_steps / t_v, "sequential_fold_steps_per_s": fold_steps / t_s,
            "speedup": t_s / t_v}


def bench_scoring(specs, config: CPConfig, repeats: int, mesh, conv_impl: str) -> dict:
    frames = 180 * 30
    from infantjax.preprocess import windows

    rng = np.random.default_rng(1)
    coords = np.cumsum(rng.normal(0, 0.01, size=(frames, 19, 2)), axis=0).astype(np.float32)
    positions = windows(coords, config.window, config.hop)
    stacks, models = [], []
    for k, spec in enumerate(specs):
        model = build(spec, config, conv_impl)
        sample = jnp.zeros((1, config.window, 19, input_channels(model)), jnp.float32)
        init = jax.jit(jax.vmap(lambda key, m=model, x=sample: m.init(key, x, train=False)))
        stacks.append(jax.tree_util.tree_map(np.asarray, init(jax.random.split(jax.random.PRNGKey(k), 7))))
        models.append(model)
    device_positions = jnp.asarray(positions)
    # what Ensemble.window_predictions runs (one jitted stacked program of ensemble.scoring_forward per stack, all 71
    # windows in one call), with the models built for ``conv_impl``
    n_pad = parallel.padded_size(7, mesh)
    data = mesh.shape[parallel.DATA]
    block = jnp.asarray(parallel.pad_axis(positions, -(-len(positions) // data) * data))
    program_of = functools.lru_cache(maxsize=None)(
        lambda m, spec, mesh: stacked_program(scoring_forward(CPTask(m, config), spec), mesh))
    programs = [(program_of(m, spec, mesh),
                 jax.device_put(parallel.pad_leading(stack, n_pad), parallel.instance_sharding(mesh)))
                for m, spec, stack in zip(models, specs, stacks)]

    def vmapped():
        return [np.asarray(program(v, block)[0])[:7, :len(positions)] for program, v in programs]

    one = parallel.instance_mesh(1, devices=mesh.devices.flatten()[:1])
    singles = []
    for model, spec, stack in zip(models, specs, stacks):
        program = program_of(model, spec, one)  # identical specs (--specs tiny) share one compiled program
        for i in range(7):
            singles.append((program, jax.tree_util.tree_map(lambda x, i=i: jnp.asarray(x[i:i + 1]), stack)))

    def loop():
        return [np.asarray(program(v, device_positions)[0]) for program, v in singles]

    t_v = median_time(vmapped, repeats)
    t_l = median_time(loop, repeats)
    gflop = sum(count_flops(spec, "reference") for spec in specs) * 7 * len(positions) / 1e9
    return {"windows": len(positions), "instances": 70, "vmapped_s": t_v, "loop_s": t_l, "speedup": t_l / t_v,
            "gflop_reference": gflop}


def _library_ensemble(specs, config: CPConfig):
    """An :class:`Ensemble` of 7 random-weight instances per spec and a 3-minute recording's 71 windows."""
    from infantjax.ensemble import Ensemble

    rng = np.random.default_rng(1)
    positions = rng.normal(0, 0.3, size=(71, config.window, 19, 2)).astype(np.float32)
    stacks = []
    for k, spec in enumerate(specs):
        model = build_model(spec, mode=config.model_mode)
        sample = jnp.zeros((1, config.window, 19, input_channels(model)), jnp.float32)
        init = jax.jit(jax.vmap(lambda key, m=model, x=sample: m.init(key, x, train=False)))
        stacks.append(jax.tree_util.tree_map(np.asarray, init(jax.random.split(jax.random.PRNGKey(k), 7))))
    return Ensemble(list(specs), stacks, config), positions


def first_call(specs, config: CPConfig, cache_dir: str) -> dict:
    """Only the first ``window_predictions`` call (compiling included), with the persistent compilation cache in
    ``cache_dir``: run it twice, the first process fills the cache (cold), the second loads from it (warm)."""
    import time

    from infantjax.cache import enable_compilation_cache

    directory = enable_compilation_cache(cache_dir)
    files_before = sum(1 for p in directory.rglob("*") if p.is_file())
    start = time.perf_counter()
    ens, positions = _library_ensemble(specs, config)
    build_s = time.perf_counter() - start
    start = time.perf_counter()
    ens.window_predictions(positions)
    return {"first_call_s": time.perf_counter() - start, "build_s": build_s, "cache_dir": str(directory),
            "cache_files_before": files_before, "cache_files_after": sum(1 for p in directory.rglob("*")
                                                                         if p.is_file())}


def bench_library_scoring(specs, config: CPConfig, repeats: int) -> dict:
    """What a user runs: ``Ensemble.window_predictions`` of a 3-minute recording (71 windows) with 10 stacks × 7
    instances (random weights), one compiled program per stack; against one compiled program for all ten stacks
    (the same per-stack programs called inside one ``jax.jit``). Compile and run times, and the FLOP bound."""
    import time

    from infantjax.infer.predict import call_plan as scoring_calls

    ens, positions = _library_ensemble(specs, config)
    n_windows = len(positions)
    start = time.perf_counter()
    ens.window_predictions(positions)  # compiles one program per stack and call size, measures memory
    first_s = time.perf_counter() - start
    per_stack_s = harness.median_time(lambda: ens.window_predictions(positions), repeats=repeats, warmup=0)[0]

    # one program for all ten stacks: the per-stack scoring programs traced into a single jit
    mesh = parallel.instance_mesh(7)
    programs = [stacked_program(scoring_forward(ens.task(k), spec), mesh) for k, spec in enumerate(specs)]
    device_stacks = [ens.stack_on(k, mesh) for k in range(len(specs))]
    combined = jax.jit(lambda stacks, block: [prog(v, block) for prog, v in zip(programs, stacks)])
    calls = scoring_calls(n_windows, int(config.eval_batch_size))
    blocks = [jnp.asarray(parallel.pad_axis(positions[lo:lo + size], size)) for lo, size in calls]
    start = time.perf_counter()
    compiled = [combined.lower(device_stacks, block).compile() for block in blocks]
    combined_compile_s = time.perf_counter() - start

    def one_program():
        return [np.asarray(out[0]) for block, program in zip(blocks, compiled)
                for out in program(device_stacks, block)]

    one_program_s = harness.median_time(one_program, repeats=repeats, warmup=1)[0]
    flops = {conv: sum(count_flops(spec, conv) for spec in specs) * 7 * n_windows / 1e9
             for conv in ("reference", "full")}
    return {"windows": n_windows, "instances": 7 * len(specs), "calls": calls, "first_call_s": first_s,
            "per_stack_programs_s": per_stack_s, "one_program_compile_s": combined_compile_s,
            "one_program_s": one_program_s, "gflop_reference": flops["reference"], "gflop_full": flops["full"]}


_BEFORE = {"temporal_fold": False, "graph_order": "conv first", "scoring_windows": None}


def _perturbed_ensemble(specs, config: CPConfig, folds: int = 7, seed: int = 1):
    """:func:`_library_ensemble` with every BatchNorm's statistics and affine parameters moved off their initial
    values (mean 0, variance 1, scale 1, bias 0), so that folding them into a convolution is not trivially exact."""
    ens, positions = _library_ensemble(specs, config)
    rng = np.random.default_rng(seed)

    def move(path, leaf):
        names = [str(getattr(p, "key", p)) for p in path]
        leaf = np.asarray(leaf)
        if names[-1] == "var":
            return (leaf * rng.uniform(0.5, 2.0, leaf.shape)).astype(leaf.dtype)
        if names[-1] in ("mean", "bias") and any("bn" in n for n in names):
            return (leaf + rng.normal(0.0, 0.1, leaf.shape)).astype(leaf.dtype)
        if names[-1] == "scale":
            return (leaf * rng.uniform(0.5, 1.5, leaf.shape)).astype(leaf.dtype)
        return leaf

    ens.variables = [jax.tree_util.tree_map_with_path(move, v) for v in ens.variables]
    return ens, positions


def parse_forms(items) -> dict:
    """``name=value`` items (value: an int, True/False, None or a string) → a dict of policy fields."""
    forms = {}
    for item in items:
        key, _, value = item.partition("=")
        if value in ("True", "False", "None"):
            forms[key] = {"True": True, "False": False, "None": None}[value]
        else:
            forms[key] = int(value) if value.lstrip("-").isdigit() else value
    return forms


def bench_forms(specs, config: CPConfig, repeats: int, before: dict) -> dict:
    """``Ensemble.window_predictions`` of a 3-minute recording under the CPU forms as they are ("after") and under
    ``before`` (the policy's fields replaced), interleaved; first calls (compiling) and medians."""
    import time

    ens, positions = _perturbed_ensemble(specs, config)
    forms = {"after": {}, "before": dict(before)}
    first, outputs, times = {}, {}, {name: [] for name in forms}
    for name, fields in forms.items():
        with backend.use("cpu", **fields):
            start = time.perf_counter()
            outputs[name] = ens.window_predictions(positions)
            first[name] = time.perf_counter() - start
    for _ in range(repeats):
        for name, fields in forms.items():
            with backend.use("cpu", **fields):
                start = time.perf_counter()
                ens.window_predictions(positions)
                times[name].append(time.perf_counter() - start)
    work = len(positions) * ens.num_instances
    med = {name: float(np.median(t)) for name, t in times.items()}
    return {"windows": len(positions), "instances": ens.num_instances, "before_forms": {k: v for k, v in before.items()},
            "first_call_s": first, "seconds": med, "all_seconds": times,
            "ms_per_window_instance": {name: 1e3 * t / work for name, t in med.items()},
            "speedup": med["before"] / med["after"],
            "max_abs_diff_probability": float(np.abs(outputs["after"][0] - outputs["before"][0]).max()),
            "max_abs_diff_cam": float(np.abs(outputs["after"][1] - outputs["before"][1]).max()),
            "gflop_reference": sum(count_flops(spec, "reference") for spec in specs) * 7 * len(positions) / 1e9}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--specs", default="tiny")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=5, help="train steps per fold per timed run")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--conv-impl", nargs="+", default=["conv", "shift"], choices=CONV_IMPLS,
                        help="temporal convolution implementations to compare (infantjax.nn.temporal)")
    parser.add_argument("--library", action="store_true",
                        help="only Ensemble.window_predictions of a 3-minute recording (per-stack programs) vs one "
                             "program for all stacks, with compile times and the FLOP bound")
    parser.add_argument("--forms", action="store_true",
                        help="only Ensemble.window_predictions of a 3-minute recording under the CPU forms as they are "
                             "and under --before, interleaved: ms per window x instance side by side")
    parser.add_argument("--before", nargs="*", default=None, metavar="FIELD=VALUE",
                        help="the backend policy's fields of the forms compared against (default: "
                             + " ".join(f"{k}={v}" for k, v in _BEFORE.items()) + ")")
    parser.add_argument("--first-call-cache", default=None, metavar="DIR",
                        help="only time the library's first scoring call with the persistent compilation cache in "
                             "DIR (infantjax.cache); run twice: cold, then warm")
    args = parser.parse_args(argv)
    specs = specs_for(args.specs)
    config = CPConfig(batch_size=args.batch, progress=False)
    if args.first_call_cache:
        load = harness.load_average()
        r = first_call(specs, config, args.first_call_cache)
        r.update(specs=args.specs, load_average_1min=[load, harness.load_average()])
        print(json.dumps(r))
        state = "warm" if r["cache_files_before"] else "cold"
        print(f"first Ensemble.window_predictions call ({args.specs}), {state} compilation cache: "
              f"{r['first_call_s']:.1f} s ({r['cache_files_before']} -> {r['cache_files_after']} cached programs; "
              f"initialising the random stacks before it {r['build_s']:.1f} s)")
        return 0
    if args.forms:
        load, matmul = harness.load_average(), harness.matmul_rate()
        before = _BEFORE if args.before is None else parse_forms(args.before)
        r = bench_forms(specs, config, args.repeats, before)
        r.update(specs=args.specs, load_average_1min=[load, harness.load_average()],
                 matmul_gflop_per_s=[matmul, harness.matmul_rate()])
        print(json.dumps(r))
        rate = sum(r["matmul_gflop_per_s"]) / 2
        print(f"score a 3-minute recording ({r['windows']} windows) with {r['instances']} instances ({args.specs}), "
              f"Ensemble.window_predictions, interleaved x {args.repeats}:")
        labels = {"before": "before: " + ", ".join(f"{k}={v}" for k, v in r["before_forms"].items()),
                  "after": "the CPU policy's forms"}
        width = max(len(label) for label in labels.values())
        print(f"{'forms':<{width}} {'first call':>11} {'warm':>9} {'ms / window x instance':>23}")
        for name in ("before", "after"):
            print(f"{labels[name]:<{width}} {r['first_call_s'][name]:>10.1f}s {r['seconds'][name]:>8.2f}s "
                  f"{r['ms_per_window_instance'][name]:>23.2f}")
        print(f"speed-up {r['speedup']:.2f}x; largest difference P(CP) {r['max_abs_diff_probability']:.1e}, "
              f"CAM {r['max_abs_diff_cam']:.1e}; {r['gflop_reference']:.0f} GFLOP (the paper's convention) / "
              f"{rate:.1f} GFLOP/s = {r['gflop_reference'] / rate:.1f} s at the matmul rate")
        print(f"float32 matmul (2048^3): {r['matmul_gflop_per_s'][0]:.1f} / {r['matmul_gflop_per_s'][1]:.1f} GFLOP/s "
              f"before / after; load average (1 min) {r['load_average_1min']}")
        return 0
    if args.library:
        load, matmul = harness.load_average(), harness.matmul_rate()
        r = bench_library_scoring(specs, config, args.repeats)
        r.update(specs=args.specs, load_average_1min=[load, harness.load_average()],
                 matmul_gflop_per_s=[matmul, harness.matmul_rate()])
        print(json.dumps(r))
        rate = sum(r["matmul_gflop_per_s"]) / 2
        bound = r["gflop_full"] / rate
        print(f"score a 3-minute recording ({r['windows']} windows, calls {r['calls']}) with {r['instances']} "
              f"instances ({args.specs}):")
        print(f"  per-stack programs (Ensemble.window_predictions): {r['per_stack_programs_s']:.2f} s "
              f"(first call, compiling: {r['first_call_s']:.1f} s)")
        print(f"  one program for all stacks: {r['one_program_s']:.2f} s (compile {r['one_program_compile_s']:.1f} s)")
        print(f"  FLOPs {r['gflop_full']:.0f} GFLOP (full count; the paper's convention {r['gflop_reference']:.0f}) "
              f"/ {rate:.1f} GFLOP/s matmul = {bound:.2f} s; measured / bound = "
              f"{r['per_stack_programs_s'] / bound:.2f}x (target <= 1.5x)")
        print(f"load average (1 min) {r['load_average_1min']}")
        return 0
    mesh = parallel.instance_mesh(7, batch_size=args.batch)
    record = {
        "benchmark": "ensemble", "specs": args.specs, "backend": backend.platform(),
        "devices": len(jax.devices()), "cpu_count": os.cpu_count(), "batch": args.batch, "window": config.window,
        "repeats": args.repeats, "load_average_1min_start": harness.load_average(), "results": {},
        "matmul_gflop_per_s_before": harness.matmul_rate(),
    }
    for impl in args.conv_impl:
        record["results"][impl] = {
            "training": bench_training(specs[0], config, args.steps, args.repeats, mesh, impl),
            "scoring_3min": bench_scoring(specs, config, args.repeats, mesh, impl),
        }
    record["load_average_1min_end"] = harness.load_average()
    record["matmul_gflop_per_s_after"] = harness.matmul_rate()
    print(json.dumps(record, indent=1))
    print()
    print(f"{'task':<44} {'conv impl':>9} {'vmapped':>10} {'one by one':>11} {'speed-up':>9}")
    for impl, r in record["results"].items():
        tr, sc = r["training"], r["scoring_3min"]
        print(f"{'train 7 folds (fold-steps/s)':<44} {impl:>9} {tr['vmapped_fold_steps_per_s']:>10.1f} "
              f"{tr['sequential_fold_steps_per_s']:>11.1f} {tr['speedup']:>8.2f}x")
        print(f"{'score 3-min video, 71 windows x 70 inst. (s)':<44} {impl:>9} {sc['vmapped_s']:>10.3f} "
              f"{sc['loop_s']:>11.3f} {sc['speedup']:>8.2f}x")
    matmul = (record["matmul_gflop_per_s_before"] + record["matmul_gflop_per_s_after"]) / 2
    for impl, r in record["results"].items():
        sc = r["scoring_3min"]
        bound = sc["gflop_reference"] / matmul
        print(f"scoring ({impl}): {sc['gflop_reference']:.0f} GFLOP (reference convention) / {matmul:.1f} GFLOP/s = "
              f"{bound:.2f} s at the matmul rate; measured {sc['vmapped_s']:.2f} s = {sc['vmapped_s'] / bound:.2f}x")
    print(f"float32 matmul (2048^3 on CPU): {record['matmul_gflop_per_s_before']:.1f} / "
          f"{record['matmul_gflop_per_s_after']:.1f} GFLOP/s before / after; load average (1 min) "
          f"{record['load_average_1min_start']:.2f} / {record['load_average_1min_end']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
