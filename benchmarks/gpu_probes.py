"""Small GPU probes that measure the cost model's constants directly, and the reduction forms a GCN could use.

    python3 benchmarks/gpu_probes.py --json OUT/probes.json          # on a GPU (benchmarks/gpu_suite.sh goals)
    python benchmarks/gpu_probes.py --quick --json /tmp/probes.json  # the CPU self-check; its figures mean nothing

The GPU cost model (``infantjax.aot.costmodel``) fits a launch cost and an achieved fraction of the bandwidth per
kernel class on whole programs. Two of its findings are the ones the GPU forms hinge on, and whole programs measure
them only through the fit: a launch costs about 3 µs, and a column reduction over rows narrower than 64 elements
(a GCN BatchNorm's statistics over 91,200 rows of 40 channels, a channel attention's pooling over 2,850 rows of 40)
reaches about a sixth of the bandwidth the others do. And one measurement no class of the model explains: the
attentions' pooling grouped to rows of 600 ran slower than as written. The probes measure each on its own:

* ``launch``: a chain of tiny dependent kernels (an ``optimization_barrier`` between them, so XLA cannot fuse them),
  400 against 1: the slope is the cost of one launch, with XLA's command buffers (CUDA graphs) on as it compiles by
  default and with them off (``xla_gpu_enable_command_buffer=""``);
* ``copy``: an elementwise pass over 1 GB in bfloat16, the bandwidth an ordinary kernel reaches;
* ``bn-*``: a training BatchNorm's statistics (the sum and the sum of squares, in float32) of a bfloat16 (91,200, 40)
  array, as written, grouped to rows of 160, 600 and 2,560 elements, and with the channels first (40, 91,200): a row
  reduction, what a channels-first layout would give;
* ``pool-*``: a channel attention's pooling of (N, 2,850, 40) to (N, 40): as written, grouped to rows of 600 (the
  form measured slow), in two levels (the 150 frames of rows of 19 × 40, then the 19 joints), and channels first.

Each probe: the median of ``--repeats`` calls after ``--warmup``, each waited for; the bytes it reads and writes, the
bandwidth that makes and its fraction of the datasheet's; the kernels of its compiled program (launches) and the
cost model's prediction of them (an estimate, beside the measurement); and its largest relative difference from the
form as written (the same sums in another order: a form that differs by more is wrong, and the record says so).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time
from collections.abc import Callable

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

#: size -> (rows of a BatchNorm, windows of a pooling, elements of the copy, the long launch chain)
SIZES = {"gpu": (91_200, 5_120, 1 << 29, 400), "quick": (1_920, 8, 1 << 16, 16)}
#: a GCN layer's channels and the frames × joints its attention pools over
CHANNELS, FRAMES, JOINTS = 40, 150, 19


def _launch_chain(n: int) -> Callable:
    import jax

    def chain(x):
        for _ in range(n):
            x = jax.lax.optimization_barrier(x * 1.0001 + 1.0)
        return x

    return chain


def _stats(x):
    """A BatchNorm's statistics of (rows, C): the sum and the sum of squares over the rows, in float32."""
    import jax.numpy as jnp

    x = x.astype(jnp.float32)
    return jnp.sum(x, axis=0), jnp.sum(x * x, axis=0)


def _grouped_stats(g: int) -> Callable:
    def stats(x):
        rows, c = x.shape
        s, q = _stats(x.reshape(rows // g, g * c))
        return s.reshape(g, c).sum(0), q.reshape(g, c).sum(0)

    return stats


def _channels_first_stats(x):
    import jax.numpy as jnp

    x = x.astype(jnp.float32)
    return jnp.sum(x, axis=1), jnp.sum(x * x, axis=1)


def _pool(x):
    import jax.numpy as jnp

    return jnp.sum(x.astype(jnp.float32), axis=1)


def _pool_grouped(x):
    import jax.numpy as jnp

    n, r, c = x.shape
    g = 15  # 2,850 rows of 40 -> 190 rows of 600: the form the second H200 run measured
    return jnp.sum(x.reshape(n, r // g, g * c).astype(jnp.float32), axis=1).reshape(n, g, c).sum(1)


def _pool_two_levels(x):
    import jax.numpy as jnp

    n, _, c = x.shape
    frames = jnp.sum(x.reshape(n, FRAMES, JOINTS * c).astype(jnp.float32), axis=1)
    return frames.reshape(n, JOINTS, c).sum(1)


def _pool_channels_first(x):
    import jax.numpy as jnp

    return jnp.sum(x.astype(jnp.float32), axis=2)


def probes(size: str) -> dict:
    """name -> (function, argument shape, its dtype, the name of the form it must equal (None: itself),
    a function turning that form's argument into this one's, compiler options)."""
    rows, windows, elements, chain = SIZES[size]
    bf16, f32 = "bfloat16", "float32"
    bn, pool = (rows, CHANNELS), (windows, FRAMES * JOINTS, CHANNELS)
    nocb = {"xla_gpu_enable_command_buffer": ""}
    out = {
        "launch-1": (_launch_chain(1), (1, 48), f32, None, None, {}),
        f"launch-{chain}": (_launch_chain(chain), (1, 48), f32, None, None, {}),
        "launch-1-no-command-buffers": (_launch_chain(1), (1, 48), f32, None, None, nocb),
        f"launch-{chain}-no-command-buffers": (_launch_chain(chain), (1, 48), f32, None, None, nocb),
        "copy": (lambda x: x * 2 + 1, (elements,), bf16, None, None, {}),
        "bn-as-written": (_stats, bn, bf16, None, None, {}),
    }
    for g in (4, 15, 64):
        out[f"bn-grouped-{g * CHANNELS}"] = (_grouped_stats(g), bn, bf16, "bn-as-written", None, {})
    out["bn-channels-first"] = (_channels_first_stats, bn[::-1], bf16, "bn-as-written", lambda a: a.T, {})
    out["pool-as-written"] = (_pool, pool, bf16, None, None, {})
    out["pool-grouped-600"] = (_pool_grouped, pool, bf16, "pool-as-written", None, {})
    out["pool-two-levels"] = (_pool_two_levels, pool, bf16, "pool-as-written", None, {})
    out["pool-channels-first"] = (_pool_channels_first, (windows, CHANNELS, FRAMES * JOINTS), bf16,
                                  "pool-as-written", lambda a: a.transpose(0, 2, 1), {})
    return out


def _max_relative(a, b) -> float:
    import jax
    import numpy as np

    worst = 0.0
    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b), strict=True):
        x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
        worst = max(worst, float(np.max(np.abs(x - y) / np.maximum(np.abs(y), 1e-6))))
    return worst


def measure(name: str, spec: tuple, *, repeats: int, warmup: int, inputs: dict, outputs: dict) -> dict:
    import jax
    import jax.numpy as jnp

    from infantjax.bench.harness import median_time
    from infantjax.bench.kernels import kernels, summary

    fn, shape, dtype, equal_to, from_reference, options = spec
    if equal_to is not None:
        x = from_reference(inputs[equal_to]) if from_reference is not None else inputs[equal_to]
        x = jax.block_until_ready(jnp.asarray(x))
    else:  # drawn on the device: a gigabyte drawn by NumPy and copied over would take the step's time
        x = jax.block_until_ready(jax.random.uniform(jax.random.key(0), shape, jnp.dtype(dtype), 0.5, 1.5))
    inputs[name] = x
    start = time.perf_counter()
    compiled = jax.jit(fn).lower(x).compile(compiler_options=options or None)
    record = {"name": name, "shape": list(x.shape), "dtype": dtype, "compiler_options": options,
              "compile_s": round(time.perf_counter() - start, 2)}
    median, samples = median_time(lambda: compiled(x), repeats=repeats, warmup=warmup)
    out = compiled(x)
    outputs[name] = out
    moved = x.nbytes + sum(leaf.nbytes for leaf in jax.tree_util.tree_leaves(out))
    record.update(median_s=median, samples_s=samples, bytes=moved, gb_s=moved / median / 1e9)
    if equal_to is not None:
        record["equal_to"] = equal_to
        record["max_relative_difference"] = _max_relative(out, outputs[equal_to])
    device = jax.devices()[0]
    if device.platform == "gpu":
        from infantjax import targets
        from infantjax.aot import costmodel

        listing = kernels(compiled.as_text())
        record["kernels"] = summary(listing)
        peak = targets.lookup(str(device.device_kind))
        if peak is not None:
            record["bandwidth_fraction"] = record["gb_s"] / (peak.hbm_tb_s * 1e3)
        known = [k for k in costmodel.DEVICES if k in str(device.device_kind)]
        if known:
            record["predicted_s"] = costmodel.load().on_device(known[0]).predict(listing).seconds  # an estimate
    return record


def derived(rows: list[dict]) -> dict:
    """The launch cost (the long chain's time less the one kernel's, per added kernel) with and without command
    buffers, and each reduction form's time relative to the form as written."""
    by = {r["name"]: r for r in rows if "median_s" in r}
    out: dict = {}
    for suffix, key in (("", "launch_s"), ("-no-command-buffers", "launch_s_no_command_buffers")):
        chains = {int(n.split("-")[1]): r for n, r in by.items()
                  if n.startswith("launch-") and n == f"launch-{n.split('-')[1]}{suffix}"}
        if 1 in chains and len(chains) > 1:
            n = max(chains)
            out[key] = (chains[n]["median_s"] - chains[1]["median_s"]) / (n - 1)
    for family in ("bn", "pool"):
        base = by.get(f"{family}-as-written")
        if base:
            out[f"{family}_relative_time"] = {n: by[n]["median_s"] / base["median_s"] for n in by
                                              if n.startswith(family + "-")}
    return out


def main(argv=None) -> int:
    import gpu_forms

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", required=True, type=pathlib.Path, help="the record (rewritten after every probe)")
    parser.add_argument("--quick", action="store_true", help="small sizes: the self-check on the CPU")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--only", nargs="+", default=None, metavar="PREFIX", help="the probes whose names start so")
    a = parser.parse_args(argv)
    size = "quick" if a.quick else "gpu"
    env = gpu_forms.environment(a.quick)
    record = {"benchmark": "benchmarks/gpu_probes.py", "size": size, "environment": env, "rows": [],
              "estimate_note": "predicted_s are estimates of the cost model; median_s are measured"}
    print(json.dumps(env), flush=True)
    inputs: dict = {}
    outputs: dict = {}
    for name, spec in probes(size).items():
        if a.only and not any(name.startswith(p) for p in a.only):
            continue
        if spec[3] is not None and spec[3] not in inputs:
            continue  # its reference form was left out
        try:
            row = measure(name, spec, repeats=a.repeats, warmup=a.warmup, inputs=inputs, outputs=outputs)
        except Exception as err:  # noqa: BLE001 - a probe that fails is a note, the next one still runs
            row = {"name": name, "error": f"{type(err).__name__}: {err}"[:1000]}
        record["rows"].append(row)
        record["derived"] = derived(record["rows"])
        gpu_forms.write(a.json, record)
        if "error" in row:
            print(f"{name}: ERROR {row['error'][:300]}", flush=True)
            continue
        extra = f", {row['kernels']['count']} launches" if "kernels" in row else ""
        frac = f" ({row['bandwidth_fraction']:.0%} of the datasheet)" if "bandwidth_fraction" in row else ""
        diff = f", max rel. diff {row['max_relative_difference']:.1e}" if "equal_to" in row else ""
        pred = f", predicted {row['predicted_s'] * 1e6:.1f} µs (estimate)" if "predicted_s" in row else ""
        print(f"{name}: {row['median_s'] * 1e6:.1f} µs, {row['gb_s']:.1f} GB/s{frac}{extra}{diff}{pred}", flush=True)
    from infantjax.bench.harness import load_average

    record["environment"]["load_average_1min_end"] = load_average()
    gpu_forms.write(a.json, record)
    print(json.dumps(record.get("derived", {})), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
