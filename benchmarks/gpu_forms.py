"""The GPU forms measured: the programs of the cost model's goals, run on the GPU this process sees under today's
accelerator forms and under the forms before them, each beside the cost model's prediction of the very program that
ran (its kernels read from the executable the GPU compiled).

    python3 benchmarks/gpu_forms.py --json OUT/forms-a.json --rows a4-train a4-forward stgcn-train
    python3 benchmarks/gpu_forms.py --json OUT/forms-b.json --rows a4-7folds --hlo OUT/hlo-b.tgz
    python benchmarks/gpu_forms.py --compile-for h100x1 --forms today --json est.json   # no GPU: estimates only

Rows (:data:`ROWS`): the Table A.4 #1 training step and forward at batch 32, ST-GCN's, 7 folds of Table A.4 #1 in one
vmapped step, the 70-instance scoring of 512 windows a call (``infantjax compile --program cp-score --instances
70 --batch 512``) and the depth regression steps (asymmetric cascade and full 3×3×3), each under the forms of
:data:`FORMS` (``today``: the ``accelerator`` policy as it ships;
``before``: its stacked convolutions as feature groups and its graph convolutions factored, as the GPU runs of
2026-11-24 ran them; ``ungrouped`` and ``grouped``: its reductions over rows never or always grouped, where it
groups them in the training steps of stacked instances only; ``einsum-graph`` and ``matmul-graph``: its graph
convolutions factored, a 1×1 convolution and then the aggregation as an einsum or an explicit product, where it runs
one dense product with the combined weight). Every row is built as ``benchmarks/gpu_costmodel.py`` builds it for the abstract H100 (the same
builders), compiled on the real device with Triton GEMMs on (where the autotuner refuses one, again with them off,
and the record says so), its arguments filled with values (the optimizer state, BatchNorm statistics and windows
positive, so nothing is NaN), the batches passed as NumPy arrays as ``infantjax bench`` passes them, and timed as the
median of ``--repeats`` calls after ``--warmup`` (each call waited for with ``block_until_ready``).

The record (JSON, rewritten after every row, so a time limit keeps the rows measured) holds per row: the compile
time, the measured median and samples, the kernel summary of the compiled program, and the cost model's prediction
of that program (``infantjax.aot.costmodel``: the H100 calibration as shipped, and the same fractions under this
GPU's datasheet bandwidth and peak where it is another, ``CostModel.on``): predictions are estimates, the medians are
measurements. With ``--profile N`` it then traces N more calls and times each kernel in the trace beside the model's
prediction of it, totalled by the model's class (``benchmarks/kernel_profile.py``; the record's ``profile``). On the CPU (``--quick``) it checks itself at a small size; its figures there mean nothing for a GPU.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import pathlib
import sys
import tarfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

#: form set -> the accelerator policy's forms replaced (``backend.use(**forms)``)
FORMS = {
    "today": {},
    "before": {"graph_product": "matmul", "stacked_conv": "groups", "combined_weight": "einsum",
               "narrow_reductions": "as is"},
    "ungrouped": {"narrow_reductions": "as is"},
    "grouped": {"narrow_reductions": "grouped"},
    "einsum-graph": {"graph_product": "einsum"},
    "matmul-graph": {"graph_product": "matmul"},
}

#: row -> (label, builder, arguments): the builders of ``benchmarks/gpu_costmodel.py``, plus the scoring
ROWS = {
    "a4-train": ("Table A.4 #1 training step, batch 32", "gcn", {"net": "a4", "train": True}),
    "a4-forward": ("Table A.4 #1 forward, batch 32", "gcn", {"net": "a4", "train": False}),
    "stgcn-train": ("ST-GCN training step, batch 32", "gcn", {"net": "stgcn", "train": True}),
    "stgcn-forward": ("ST-GCN forward, batch 32", "gcn", {"net": "stgcn", "train": False}),
    "a4-7folds": ("7 folds of Table A.4 #1 in one vmapped step, batch 32", "gcn",
                  {"net": "a4", "train": True, "instances": 7}),
    "cp-score-70": ("70 x Table A.4 #1 scoring 512 windows a call", "score", {"instances": 70, "batch": 512}),
    "depth-asymmetric": ("depth regression step, asymmetric cascade, 16 clips", "depth", {"kind": "asymmetric"}),
    "depth-full": ("depth regression step, full 3x3x3, 16 clips", "depth", {"kind": "full"}),
}



def _score(devices, *, instances, batch):
    from infantjax.aot.catalogue import program

    return program("cp-score").build(devices, batch, instances, "paper"), (1,)


def _quick_gcn(devices, *, net, train, instances=1):
    """The CPU self-check: the small programs of ``infantjax compile --size small``."""
    from infantjax.aot.catalogue import program

    name = ("stgcn-train" if net == "stgcn" else "cp-train") if train else "cp-score"
    built = program(name).build(devices, 4, instances, "small")
    return built, ((1, 2) if train else (1,))


def builders(quick: bool) -> dict:
    import gpu_costmodel

    if quick:
        return {"gcn": _quick_gcn, "score": lambda d, *, instances, batch: _quick_gcn(d, net="a4", train=False,
                                                                                       instances=instances)}
    return {"gcn": gpu_costmodel.BUILDERS["gcn"], "score": _score, "depth": gpu_costmodel.BUILDERS["depth"]}


def fill(tree, host_indices, seed: int = 0):
    """Concrete arguments for abstract ones: floats uniform in [0.5, 1.5) (variances, Adam's moments and windows
    all positive), integers 0 except keys (uint32, random); the ``host_indices`` arguments as NumPy arrays, the others
    placed with their shardings."""
    import jax
    import numpy as np

    rng = np.random.default_rng(seed)

    def one(a, on_host):
        dtype = np.dtype(a.dtype)
        if np.issubdtype(dtype, np.floating) or dtype.name == "bfloat16":
            value = rng.uniform(0.5, 1.5, a.shape).astype(dtype)
        elif dtype == np.uint32:
            value = rng.integers(0, 2**32, a.shape, dtype=np.uint32)
        elif dtype == np.bool_:
            value = np.ones(a.shape, bool)
        else:
            value = np.zeros(a.shape, dtype)
        if on_host:
            return value
        sharding = getattr(a, "sharding", None)
        return jax.device_put(value, sharding) if sharding is not None else jax.device_put(value)

    return tuple(jax.tree_util.tree_map(lambda a, h=(i in host_indices): one(a, h), arg)
                 for i, arg in enumerate(tree))


def host_bytes(args, host_indices) -> int:
    import jax
    import numpy as np

    return int(sum(np.asarray(leaf).nbytes for i in host_indices for leaf in jax.tree_util.tree_leaves(args[i])))


def _predictions(listing, host: int, devices) -> dict:
    """The shipped cost model's prediction of a kernel listing on each of ``devices`` (estimates)."""
    from infantjax.aot import costmodel

    base = costmodel.load()
    out = {}
    for name in devices:
        p = base.on_device(name).predict(listing, host)
        out[name] = {"seconds": p.seconds, "launches": p.launches, "launch_s": p.launch_s, "memory_s": p.memory_s,
                     "compute_s": p.compute_s, "roofline_s": p.roofline_s, "estimate": True}
    return out


def measure(key: str, form: str, *, quick: bool, repeats: int, warmup: int, hlo: dict,
            compile_for: str | None = None, profile: int = 0) -> dict:
    import jax
    import numpy as np

    from infantjax import backend
    from infantjax.bench.kernels import kernels, summary

    label, builder, kwargs = ROWS[key]
    if compile_for is not None:  # an abstract device of the target: compiled, predicted, not run
        from infantjax import aot, targets

        for name, value in aot.COMPILE_ENV.items():
            os.environ.setdefault(name, value)
        devices = targets.devices(targets.target(compile_for))[:1]
    else:
        devices = jax.devices()[:1]
    record = {"key": key, "label": label, "forms": form, "forms_replaced": FORMS[form]}
    with backend.use("accelerator", compute_dtype="bfloat16", **FORMS[form]):
        built, host = builders(quick)[builder](devices, **kwargs)
        start = time.perf_counter()
        lowered = built.fn.lower(*built.args)
        record["lower_s"] = round(time.perf_counter() - start, 2)
        start = time.perf_counter()
        try:
            compiled = lowered.compile()
            record["triton_gemm"] = True
        except Exception as err:  # noqa: BLE001 - the autotuner refusing a Triton GEMM: say so, compile without
            record["triton_gemm"] = False
            record["triton_refusal"] = str(err).strip().splitlines()[0][:400]
            compiled = lowered.compile(compiler_options={"xla_gpu_enable_triton_gemm": False})
        record["compile_s"] = round(time.perf_counter() - start, 2)
    if compile_for is not None:
        listing = kernels(compiled.as_text())
        record["kernels"] = summary(listing)
        import gpu_costmodel

        record["host_bytes"] = gpu_costmodel._host_bytes(built, host)  # the abstract arguments' bytes
        record["compiled_for"] = compile_for
        record["predictions"] = _predictions(listing, record["host_bytes"], ("H100", "H200"))
        record["listing"] = listing  # to predict again under another calibration without compiling
        return record
    args = list(fill(built.args, host))
    train = 2 in host  # the engine's step: (state, batch, active), the state donated and returned first

    def call():
        out = compiled(*args)
        if train:
            args[0] = out[0]
        return out

    for _ in range(warmup):
        jax.block_until_ready(call())
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(call())
        samples.append(time.perf_counter() - start)
    record["median_s"] = float(np.median(samples))
    record["samples_s"] = samples
    record["items"] = built.items
    record["unit"] = built.unit
    text = compiled.as_text()
    hlo[f"{key}.{form}.hlo"] = text
    listing = kernels(text)
    record["kernels"] = summary(listing)
    record["host_bytes"] = host_bytes(args, host)
    from infantjax.aot.costmodel import DEVICES

    kind = str(devices[0].device_kind)
    names = [name for name in DEVICES if name in kind] or ["H100"]
    record["predictions"] = _predictions(listing, record["host_bytes"], names)
    if profile:  # each kernel timed in the profiler's trace beside the model's prediction of it
        import kernel_profile

        from infantjax.aot import costmodel

        try:
            record["profile"] = kernel_profile.compare(listing, kernel_profile.profile(call, calls=profile),
                                                       costmodel.load().on_device(names[0]))
        except Exception as err:  # noqa: BLE001 - a trace that cannot be read costs the profile, not the row
            record["profile_error"] = f"{type(err).__name__}: {err}"[:500]
    mem = compiled.memory_analysis()
    if mem is not None:
        record["peak_gb"] = (mem.argument_size_in_bytes + mem.output_size_in_bytes + mem.temp_size_in_bytes) / 1e9
    return record


def environment(quick: bool) -> dict:
    import platform

    import jax
    import jax.numpy as jnp

    from infantjax.bench.harness import load_average, matmul_rate

    device = jax.devices()[0]
    env = {"device": str(getattr(device, "device_kind", device.platform)), "platform": device.platform,
           "jax": jax.__version__, "python": platform.python_version(), "cpu_count": os.cpu_count(),
           "load_average_1min": load_average(), "date_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())}
    try:
        with open("/proc/cpuinfo") as f:
            env["cpu_model"] = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")),
                                    None)
    except OSError:
        env["cpu_model"] = None
    n = 1024 if quick else 8192
    env["matmul_bf16_tflops"] = matmul_rate(n, dtype=jnp.bfloat16) / 1e3
    env["matmul_n"] = n
    return env


def write(path: pathlib.Path, record: dict) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(record, indent=1, default=str))
    os.replace(tmp, path)


def write_hlo(path: pathlib.Path, hlo: dict) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, text in hlo.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(buffer.getvalue())
    os.replace(tmp, path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", required=True, type=pathlib.Path, help="the record (rewritten after every row)")
    parser.add_argument("--rows", nargs="+", default=list(ROWS), choices=list(ROWS))
    parser.add_argument("--forms", nargs="+", default=list(FORMS), choices=list(FORMS))
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--hlo", type=pathlib.Path, default=None, help="a .tgz of the compiled programs' HLO")
    parser.add_argument("--profile", type=int, default=0, metavar="CALLS",
                        help="after timing, trace CALLS more calls and time each kernel (benchmarks/kernel_profile.py)"
                             " beside the model's prediction of it")
    parser.add_argument("--quick", action="store_true", help="the small programs: a self-check on the CPU")
    parser.add_argument("--compile-for", default=None, metavar="TARGET",
                        help="compile for an abstract device of TARGET (e.g. h100x1; the aot extra) and print the "
                             "cost model's predictions (estimates) without running anything")
    a = parser.parse_args(argv)
    env = {"compiled_for": a.compile_for} if a.compile_for else environment(a.quick)
    record = {"benchmark": "benchmarks/gpu_forms.py", "environment": env, "rows": [],
              "hlo": a.hlo.name if a.hlo is not None else None,
              "estimate_note": "predictions are estimates of the cost model; median_s are measured"}
    print(json.dumps(record["environment"]), flush=True)
    write(a.json, record)
    hlo: dict = {}
    for key in a.rows:
        for form in a.forms:
            start = time.perf_counter()
            try:
                row = measure(key, form, quick=a.quick, repeats=a.repeats, warmup=a.warmup, hlo=hlo,
                              compile_for=a.compile_for, profile=a.profile)
            except Exception as err:  # noqa: BLE001 - a row that fails is a note, the next one still runs
                row = {"key": key, "forms": form, "error": f"{type(err).__name__}: {err}"[:1000]}
            row["wall_s"] = round(time.perf_counter() - start, 1)
            record["rows"].append(row)
            write(a.json, record)
            if a.hlo is not None:
                write_hlo(a.hlo, hlo)
            pred = row.get("predictions", {})
            line = "; ".join(f"{name}: {p['seconds'] * 1e3:.2f} ms" for name, p in pred.items())
            if "error" in row:
                print(f"{key} [{form}]: ERROR {row['error'][:300]}", flush=True)
            else:
                measured = f"measured {row['median_s'] * 1e3:.3f} ms" if "median_s" in row else "not run"
                print(f"{key} [{form}]: {measured} (compile {row['compile_s']} s, triton {row['triton_gemm']}, "
                      f"{row['kernels']['count']} launches, {row['kernels']['bytes'] / 1e9:.2f} GB); "
                      f"predicted (estimate) {line}", flush=True)
                if "profile" in row:
                    import kernel_profile

                    print(f"  {kernel_profile.line(row['profile'])}", flush=True)
                elif "profile_error" in row:
                    print(f"  profile: ERROR {row['profile_error'][:300]}", flush=True)
    if not a.compile_for:
        from infantjax.bench.harness import load_average

        record["environment"]["load_average_1min_end"] = load_average()
    write(a.json, record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
