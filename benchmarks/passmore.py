"""The smartphone 1D-CNN of seed 003: training and inference throughput in clips/s, and the repeated-split protocol
as I stacked instances in one vmapped program vs the same I instances one after another.

Training runs the engine's own jitted, donated train step (``infantjax.train.fit`` runs exactly this program) on
batches of the coded recipe (8 videos × 1 random clip, warps on); inference runs every clip of a video (547 for
4500 samples). Both layouts are timed side by side in one run on the same inputs, medians after warm-up.

    python benchmarks/passmore.py                                  # 25 instances, 547 clips per video
    python benchmarks/passmore.py --instances 3 --clips 16 --videos 2 --repeats 2    # a tiny run
    python benchmarks/passmore.py --memory                         # bytes of one inference call, 25 instances

Prints one JSON record and a table.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time

import jax
import numpy as np

from infantjax import backend, parallel
from infantjax.bench import harness
from infantjax.models import count_parameters
from infantjax.models.passmore import PassmoreSpec
from infantjax.train import PassmoreConfig, PassmoreTask, programs_for
from infantjax.train.engine import train_step_within_budget
from infantjax.infer.predict import stacked_program, task_forward


def _median_time(fn, repeats: int, warmup: int) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def _batch(task: PassmoreTask, instances: int, rng) -> dict:
    c = task.config
    b = c.batch_size
    return {"x": rng.normal(size=(instances, b, c.train_clips, 46, c.clip_length)).astype(np.float32),
            "label": rng.integers(0, 2, (instances, b)).astype(np.int32),
            "magnitude": task.bank[rng.integers(0, c.num_curves, (instances, b))],
            "time": task.bank[rng.integers(0, c.num_curves, (instances, b, c.train_clips))]}


def bench(args) -> dict:
    config = PassmoreConfig(num_curves=1000, batch_size=args.batch, progress=False)
    task = PassmoreTask(PassmoreSpec(), config)
    rng = np.random.default_rng(0)
    I = args.instances
    device = jax.devices()[:1]
    stacked = programs_for(task, 100, parallel.instance_mesh(I, devices=device, batch_size=args.batch))
    single = programs_for(task, 100, parallel.instance_mesh(1, devices=device, batch_size=args.batch))
    keys = np.stack([np.asarray(jax.random.PRNGKey(s)) for s in range(I)])
    st = [stacked.init(keys)]
    one = [single.init(keys[i:i + 1]) for i in range(I)]
    batch = _batch(task, I, rng)
    batches = [jax.tree_util.tree_map(lambda a, i=i: a[i:i + 1], batch) for i in range(I)]
    active, active1 = np.ones(I, bool), np.ones(1, bool)

    # the step infantjax.train.fit runs: lax.map over the instances on CPU (PassmoreTask.cpu_instances), else vmap
    step = train_step_within_budget(stacked, st[0], batch, active, config)

    def train_stacked():
        st[0], loss, _ = step(st[0], batch, active)
        jax.block_until_ready(loss)

    def train_vmapped():
        st[0], loss, _ = stacked.train_step(st[0], batch, active)
        jax.block_until_ready(loss)

    def train_loop():
        for i in range(I):
            one[i], loss, _ = single.train_step(one[i], batches[i], active1)
        jax.block_until_ready(loss)

    x = rng.normal(size=(args.videos, args.clips, 46, config.clip_length)).astype(np.float32)
    variables = jax.tree_util.tree_map(np.asarray, stacked.variables(st[0]))
    singles = [jax.tree_util.tree_map(lambda a, i=i: a[i:i + 1], variables) for i in range(I)]
    forward = task_forward(task)
    mesh = parallel.instance_mesh(I, devices=device)
    # what SmartphoneModel.predict runs: the stacked-inference primitive, the videos shared by every instance (no
    # copy per instance), lax.map over the instances on CPU (the backend policy), else vmap
    apply = stacked_program(forward, mesh)
    vmapped = stacked_program(forward, mesh, mode="vmap")  # all instances at once (the accelerator choice)
    alone = stacked_program(forward, parallel.instance_mesh(1, devices=device))
    device_x = jax.device_put(x, device[0])

    def infer_stacked():
        jax.block_until_ready(apply(variables, device_x))

    def infer_vmapped():
        jax.block_until_ready(vmapped(variables, device_x))

    def infer_loop():
        for v in singles:
            out = alone(v, device_x)
        jax.block_until_ready(out)

    r, w = args.repeats, args.warmup
    t_train_s, t_train_l = _median_time(train_stacked, r, w), _median_time(train_loop, r, w)
    t_train_v = _median_time(train_vmapped, r, w)
    t_inf_s, t_inf_l = _median_time(infer_stacked, r, w), _median_time(infer_loop, r, w)
    t_inf_v = _median_time(infer_vmapped, r, w)
    train_clips = I * args.batch * config.train_clips
    infer_clips = I * args.videos * args.clips
    return {
        "parameters": count_parameters(PassmoreSpec()),
        "train_clips_per_s": {"stacked": train_clips / t_train_s, "one_by_one": train_clips / t_train_l,
                              "stacked_vmap": train_clips / t_train_v},
        "inference_clips_per_s": {"stacked": infer_clips / t_inf_s, "one_by_one": infer_clips / t_inf_l,
                                  "stacked_vmap": infer_clips / t_inf_v},
        "stacked_mode": backend.instances(),
        "stacked_speedup": {"train": t_train_l / t_train_s, "inference": t_inf_l / t_inf_s},
    }


def memory(args) -> dict:
    """Bytes of one inference call of ``--instances`` stacked instances on ``--videos`` videos of ``--clips`` clips
    (XLA's memory analysis of the compiled call: arguments + outputs + scratch): the shared-input call
    ``SmartphoneModel.predict`` runs, against the same instances each given its own copy of the videos (what it ran
    before the stacked-inference primitive). Independent of the machine's load."""
    config = PassmoreConfig(progress=False)
    task = PassmoreTask(PassmoreSpec(), config)
    I = args.instances
    device = jax.devices()[:1]
    mesh = parallel.instance_mesh(I, devices=device)
    variables = jax.eval_shape(jax.vmap(task.init), jax.ShapeDtypeStruct((I, 2), np.uint32))
    clips = (args.videos, args.clips, 46, config.clip_length)
    out = {}
    for name, shared, shape in (("shared", True, clips), ("copied", False, (I,) + clips)):
        program = stacked_program(task_forward(task), mesh, shared=shared)
        compiled = program.lower(variables, jax.ShapeDtypeStruct(shape, np.float32)).compile()
        m = compiled.memory_analysis()
        out[name] = {"bytes": parallel.compiled_bytes(compiled), "argument_bytes": int(m.argument_size_in_bytes),
                     "temp_bytes": int(m.temp_size_in_bytes)}
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--instances", type=int, default=25, help="stacked instances (the 25 repeated splits)")
    parser.add_argument("--batch", type=int, default=8, help="videos per training step (8), one clip each")
    parser.add_argument("--videos", type=int, default=4, help="videos per inference call")
    parser.add_argument("--clips", type=int, default=547, help="clips per video at inference (547)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--json", help="also write the JSON record to this file")
    parser.add_argument("--memory", action="store_true",
                        help="only the memory of one inference call, shared inputs vs a copy per instance")
    args = parser.parse_args(argv)
    if args.memory:
        result = memory(args)
        print(json.dumps({"benchmark": "passmore_inference_memory", "config": vars(args), "results": result}))
        for name, row in result.items():
            print(f"{name:<8}{row['bytes'] / 1e6:>10.1f} MB per call (arguments {row['argument_bytes'] / 1e6:.1f} MB, "
                  f"scratch {row['temp_bytes'] / 1e6:.1f} MB)")
        return 0
    load, matmul = harness.load_average(), harness.matmul_rate()
    result = bench(args)
    record = {"benchmark": "passmore_smartphone", "device": str(jax.devices()[0].device_kind),
              "platform": platform.platform(), "jax": jax.__version__, "config": vars(args), "results": result,
              "matmul_gflop_per_s": [matmul, harness.matmul_rate()],
              "load_average_1min": [load, harness.load_average()]}
    print(json.dumps(record))
    if args.json:
        from infantjax.io.files import write_json

        write_json(args.json, record, indent=2)
    print(f"{'phase':<12}{'stacked clips/s':>18}{'one by one clips/s':>21}{'ratio':>8}")
    for phase, key in (("train", "train_clips_per_s"), ("inference", "inference_clips_per_s")):
        s, l = result[key]["stacked"], result[key]["one_by_one"]
        print(f"{phase:<12}{s:>18.1f}{l:>21.1f}{s / l:>8.2f}")
    for phase, key in (("train", "train_clips_per_s"), ("inference", "inference_clips_per_s")):
        v = result[key]["stacked_vmap"]
        print(f"{phase + ', all instances vmapped':<33}{v:>10.1f} clips/s, ratio {v / result[key]['one_by_one']:.2f}")
    print(f"(stacked above: {result['stacked_mode']} over the instances inside one program)")
    print(f"{args.instances} instances, {result['parameters']:,} parameters each; matmul "
          f"{record['matmul_gflop_per_s'][0]:.1f} / {record['matmul_gflop_per_s'][1]:.1f} GFLOP/s; load average "
          f"(1 min) {record['load_average_1min'][0]:.2f} / {record['load_average_1min'][1]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
