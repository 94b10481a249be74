"""The GPU cost model's calibration: every program measured on an H100 compiled for one (abstract) H100 as that
run built it, its kernels read, the model fitted on the measured times and written to the package.

    python benchmarks/gpu_costmodel.py --compile --out runs/gpu-kernels        # one process a row, resumable
    python benchmarks/gpu_costmodel.py --fit --out runs/gpu-kernels            # fit, write the package's JSON
    python benchmarks/gpu_costmodel.py --table --out runs/gpu-kernels          # predicted vs measured (markdown)
    python benchmarks/gpu_costmodel.py --out runs/fit --profiles OUT/forms-*.json  # fitted on single kernels

The measured rows (:data:`ROWS`) are the two H100 runs of ``benchmarks/gpu_suite.sh`` (docs/performance.md, "GPU
figures of record" and "GPU figures — the second run"; jax 0.11.2, CUDA 13). Each is compiled here with XLA:GPU
of the installed jax (the ``aot`` extra) for ``h100x1``, with Triton GEMMs on as the GPU compiles; where that
compile refuses a Triton GEMM without a device to autotune it ("Couldn't find output tile sizes"), again with
Triton GEMMs off (cuBLAS), and the row says so. ``DIR/<row>.json`` holds the row's kernel listing
(:func:`infantjax.bench.kernels.kernels`); ``--fit`` fits :class:`infantjax.aot.costmodel.CostModel` on all rows
(:func:`infantjax.aot.costmodel.calibrate`) and writes ``infantjax/aot/gpu_costmodel.json``. Every prediction is an
estimate: compiled for, not run on, and calibrated on these rows only.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import time

#: key -> (label, measured seconds, dtype, builder, arguments, source): the H100 rows of docs/performance.md
ROWS: dict[str, tuple] = {}

#: the accelerator policy's forms as the two H100 runs of 2026-11-24 built the programs (``backend.use(**forms)``):
#: the GPU forms chosen with this model (dense graph products, per-instance convolutions, XLA's 3D convolutions for
#: a one-axis kernel) and the folded inference BatchNorm came after them
H100_FORMS = {"graph_product": "matmul", "stacked_conv": "groups", "combined_weight": "einsum", "conv3d": "stacked",
              "bn_inference": "exact"}


def _row(key, label, seconds, dtype, builder, source, **kwargs):
    ROWS[key] = (label, float(seconds), dtype, builder, kwargs, source)


_FIRST = "first H100 run (2026-11-24 17:15-17:41 UTC)"
_SECOND = "second H100 run (2026-11-24 20:47-21:25 UTC)"
for _v, _times in (("rt", (0.83e-3, 2.22e-3, 5.82e-3, 20.04e-3)), ("i", (1.04e-3, 3.28e-3, 10.46e-3, 38.23e-3))):
    for _b, _t in zip((1, 16, 64, 256), _times, strict=True):
        _row(f"pose-{_v}-f32-{_b}", f"EfficientPose {_v.upper()} forward, batch {_b}, float32 (TF32)", _t,
             "float32", "pose", _FIRST, variant=_v, batch=_b)
# bfloat16 pose: images/s of the second run; RT at batch 64 was measured while the host's load fell and is not of
# record there, so it is left out here too
for _v, _rates in (("rt", {1: 977, 16: 10_006, 256: 19_993}), ("i", {1: 690, 16: 5_256, 64: 9_293, 256: 10_880})):
    for _b, _r in _rates.items():
        _row(f"pose-{_v}-bf16-{_b}", f"EfficientPose {_v.upper()} forward, batch {_b}, bfloat16", _b / _r,
             "bfloat16", "pose", _SECOND, variant=_v, batch=_b)
_row("stgcn-train", "ST-GCN training step, batch 32", 9.07e-3, "bfloat16", "gcn", _SECOND, net="stgcn",
     train=True)
_row("stgcn-forward", "ST-GCN forward, batch 32", 2.61e-3, "bfloat16", "gcn", _SECOND, net="stgcn", train=False)
_row("a4-train", "Table A.4 #1 training step, batch 32", 9.12e-3, "bfloat16", "gcn", _SECOND, net="a4",
     train=True)
_row("a4-forward", "Table A.4 #1 forward, batch 32", 2.74e-3, "bfloat16", "gcn", _SECOND, net="a4", train=False)
_row("a4-7folds", "7 folds of Table A.4 #1 in one vmapped step, batch 32", 59.9e-3, "bfloat16", "gcn", _SECOND,
     net="a4", train=True, instances=7)
_row("depth-asymmetric", "depth regression step, asymmetric cascade, 16 clips", 45.85e-3, "bfloat16", "depth",
     _SECOND, kind="asymmetric")
_row("depth-full", "depth regression step, full 3x3x3, 16 clips", 30.60e-3, "bfloat16", "depth", _SECOND,
     kind="full")
_row("sma-train", "SMA CNN step, 15 folds x 400 windows", 75.7e-3, "bfloat16", "sma", _FIRST, train=True)
_row("sma-infer", "SMA CNN inference, 15 folds x 55 windows", 9.8e-3, "bfloat16", "sma", _FIRST, train=False)
_row("phone-train", "smartphone model step, 25 splits x 8 videos", 200 / 92_842, "bfloat16", "phone", _FIRST,
     train=True, instances=25)
_row("phone-train-1", "smartphone model step, one split (one call of 25)", 25 * 8 / 4_562 / 25, "bfloat16",
     "phone", _FIRST, train=True, instances=1)
_row("phone-infer", "smartphone model inference, 25 splits x 4 videos x 547 clips", 54_700 / 20.7e6, "bfloat16",
     "phone", _FIRST, train=False, instances=25)
_row("phone-infer-1", "smartphone model inference, one split (one call of 25)", 54_700 / 1.73e6 / 25,
     "bfloat16", "phone", _FIRST, train=False, instances=1)


#: rows left out of the fit, and why (they stay in the table, predicted by the model fitted on the others)
NOT_FITTED = {
    "phone-train-1": "one of 25 calls of a Python loop: the host's dispatch of each call bounds it",
    "phone-infer-1": "one of 25 calls of a Python loop, each copying its variables from NumPy: host-bound",
    "h200-cp-score-70-grouped": "the channel attentions' pooling grouped over 190 rows into f32[70, 512, 600] "
                                "partial sums ran about 60 ms a layer; no class of the model explains it (fitted, "
                                "it halved the convolutions' fitted bandwidth)",
}


# ---- the programs, built as the benchmarks that measured them build them, over an abstract H100 ----

def _pose(devices, *, variant, batch):
    from infantjax.aot.catalogue import program

    return program(f"pose-{variant}").build(devices, batch, 1, "paper"), ()


def _gcn(devices, *, net, train, instances=1):
    """``infantjax bench``'s GCN rows (``bench.headline._gcn``): CPConfig(batch_size=32) with its defaults (window
    rotation and augmentation in the step), the engine's step, or its ``predict`` on one instance's windows."""
    import jax
    import jax.numpy as jnp

    from infantjax.aot.catalogue import Built, abstract, engine_step
    from infantjax.models.gcn import GCNSpec, STGCNSpec
    from infantjax.train import CPConfig, CPTask

    spec = STGCNSpec() if net == "stgcn" else GCNSpec.table_a4()[0]
    task = CPTask(spec, CPConfig(batch_size=32, progress=False))
    leaves = {"positions": ((32, 150, 19, 2), jnp.float32), "labels": ((32,), jnp.int32)}
    fn, args, mesh, n = engine_step(task, devices, instances, leaves)
    if train:
        return Built(fn, args, 32 * instances, "windows", "", True, None, mesh), (1, 2)
    from infantjax import parallel
    from infantjax.train.engine import Programs

    mesh_ = parallel.instance_mesh(instances, devices=devices, batch_size=32)
    programs = Programs(task, 100, mesh_)
    state = args[0]
    variables = abstract(jax.eval_shape(programs.variables, state), parallel.instance_sharding(mesh_))
    x = jax.ShapeDtypeStruct((n, 32, 150, 19, 2), jnp.float32, sharding=parallel.batch_sharding(mesh_))
    return Built(programs.predict, (variables, x), 32, "windows", "", True, None, mesh), (1,)


def _depth(devices, *, kind):
    """``bench.headline._depth`` on an accelerator: Table I widths, 16 clips of 3 x 96 x 128 x 21."""
    import numpy as np

    from infantjax.aot.catalogue import Built, engine_step
    from infantjax.models.depth.regression import RegressionSpec
    from infantjax.train import DepthConfig, DepthTask

    spec = RegressionSpec(kind, widths=(64, 128, 256, 256), head_width=256)
    shape = (16, 3, 96, 128, 21)
    task = DepthTask(spec, DepthConfig(batch_size=16, progress=False), shape[1:])
    leaves = {"inputs": (shape, np.float32), "targets": (shape[:-1] + (20,), np.float32)}
    fn, args, mesh, _ = engine_step(task, devices, 1, leaves)
    return Built(fn, args, 16, "clips", "", True, None, mesh), (1, 2)


def _sma(devices, *, train):
    """``benchmarks/sma.py``: 15 folds, the engine's step at 400 windows, or the stacked prediction of 55."""
    import jax
    import numpy as np

    from infantjax import parallel
    from infantjax.aot.catalogue import Built, abstract, engine_step
    from infantjax.models.sma import SMASpec
    from infantjax.train.engine import Programs
    from infantjax.infer.predict import stacked_program, task_forward
    from infantjax.train.sma import SMAConfig, SMATask

    spec = SMASpec()
    task = SMATask(spec, SMAConfig(batch_size=400, progress=False))
    leaves = {"x": ((400, spec.window, 4, 3), np.float32), "y": ((400,), np.float32)}
    fn, args, mesh, n = engine_step(task, devices, 15, leaves)
    if train:
        return Built(fn, args, 15 * 400, "windows", "", True, None, mesh), (1, 2)
    mesh_ = parallel.instance_mesh(15, devices=devices, batch_size=400)
    programs = Programs(task, 4, mesh_)
    variables = abstract(jax.eval_shape(programs.variables, args[0]), parallel.instance_sharding(mesh_))
    predict = stacked_program(task_forward(task), mesh_, shared=False)
    x = jax.ShapeDtypeStruct((15, 55, spec.window, 4, 3), np.float32)
    return Built(predict, (variables, x), 15 * 55, "windows", "", True, None, mesh), (1,)


def _phone(devices, *, train, instances):
    """``benchmarks/passmore.py``: the stacked step of 8 videos, or the prediction of 4 videos x 547 clips shared
    by every split (``instances=1``: one split's call of the one-after-another rows)."""
    import jax
    import numpy as np

    from infantjax import parallel
    from infantjax.aot.catalogue import Built, abstract, engine_step
    from infantjax.models.passmore import PassmoreSpec
    from infantjax.train.engine import Programs
    from infantjax.train.passmore import PassmoreConfig, PassmoreTask
    from infantjax.infer.predict import stacked_program, task_forward

    task = PassmoreTask(PassmoreSpec(), PassmoreConfig(num_curves=1000, batch_size=8, progress=False))
    c, bank = task.config, np.asarray(task.bank)
    leaves = {"x": ((8, c.train_clips, 46, c.clip_length), np.float32), "label": ((8,), np.int32),
              "magnitude": ((8, *bank.shape[1:]), bank.dtype),
              "time": ((8, c.train_clips, *bank.shape[1:]), bank.dtype)}
    fn, args, mesh, _ = engine_step(task, devices, instances, leaves)
    if train:
        return Built(fn, args, instances * 8, "clips", "", True, None, mesh), (1, 2)
    mesh_ = parallel.instance_mesh(instances, devices=devices)
    programs = Programs(task, 100, mesh_)
    variables = abstract(jax.eval_shape(programs.variables, args[0]), parallel.instance_sharding(mesh_))
    predict = stacked_program(task_forward(task), mesh_)
    x = jax.ShapeDtypeStruct((4, 547, 46, c.clip_length), np.float32)
    # the variables are NumPy arrays there (the videos are on the device)
    return Built(predict, (variables, x), instances * 4 * 547, "clips", "", True, None, mesh), (0,)


#: builder -> ``builder(devices, **arguments) -> (Built, the arguments the benchmark passes as NumPy arrays)``:
#: those are copied to the GPU every call, and the model counts their bytes (``host_bytes``)
BUILDERS = {"pose": _pose, "gcn": _gcn, "depth": _depth, "sma": _sma, "phone": _phone}


def _host_bytes(built, indices) -> int:
    import jax
    import numpy as np

    leaves = [leaf for i in indices for leaf in jax.tree_util.tree_leaves(built.args[i])]
    return int(sum(np.dtype(a.dtype).itemsize * int(np.prod(a.shape)) for a in leaves))


def host_bytes_of(key: str) -> int:
    """The bytes row ``key``'s benchmark copies from the host every call (builds the program, compiles nothing)."""
    from infantjax import aot

    for name, value in aot.COMPILE_ENV.items():
        os.environ.setdefault(name, value)
    from infantjax import backend, targets

    _, _, dtype, builder, kwargs, _ = ROWS[key]
    with backend.use("accelerator", compute_dtype=dtype, **H100_FORMS):
        built, host = BUILDERS[builder](targets.devices(targets.target("h100x1")), **kwargs)
    return _host_bytes(built, host)


def compile_one(key: str, out: pathlib.Path) -> dict:
    """Compile one row for ``h100x1`` (Triton GEMMs on, else off) and write ``out/<key>.json``."""
    from infantjax import aot

    for name, value in aot.COMPILE_ENV.items():
        os.environ.setdefault(name, value)
    from infantjax import backend, targets
    from infantjax.bench.kernels import kernels, summary

    label, seconds, dtype, builder, kwargs, source = ROWS[key]
    target = targets.target("h100x1")
    devices = targets.devices(target)
    record = {"key": key, "label": label, "measured_s": seconds, "dtype": dtype, "source": source,
              "target": "h100x1", "estimate": aot.ESTIMATE, "forms": H100_FORMS}
    with backend.use("accelerator", compute_dtype=dtype, **H100_FORMS):
        built, host = BUILDERS[builder](devices, **kwargs)
        record["host_bytes"] = _host_bytes(built, host)
        lowered = built.fn.lower(*built.args)
        start = time.perf_counter()
        try:
            compiled = lowered.compile()
            record["triton_gemm"] = True
        except Exception as err:  # noqa: BLE001 - XLA:GPU without a device to autotune a Triton GEMM
            record["triton_gemm"] = False
            record["triton_refusal"] = str(err).strip().splitlines()[0][:400]
            compiled = lowered.compile(compiler_options={"xla_gpu_enable_triton_gemm": False})
        record["compile_s"] = round(time.perf_counter() - start, 1)
    import gzip

    from infantjax.io.files import write_bytes, write_json

    text = compiled.as_text()
    write_bytes(out / f"{key}.hlo.gz", gzip.compress(text.encode()))
    listing = kernels(text)
    record["summary"] = summary(listing)
    record["kernels"] = listing
    write_json(out / f"{key}.json", record)
    return record


def compile_all(out: pathlib.Path, keys, timeout: float) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for key in keys:
        if (out / f"{key}.json").is_file():
            continue
        start = time.perf_counter()
        run = subprocess.run([sys.executable, __file__, "--one", key, "--out", str(out)], capture_output=True,
                             text=True, timeout=timeout)
        ok = (out / f"{key}.json").is_file()
        tail = (run.stdout + run.stderr).strip().splitlines()[-3:] if not ok else []
        print(f"{key}: {'done' if ok else 'FAILED'} in {time.perf_counter() - start:.0f} s"
              + ("".join(f"\n    {line[:300]}" for line in tail)), flush=True)


def load_rows(out: pathlib.Path) -> list[dict]:
    """The compiled rows, their kernels read again from the stored HLO (``DIR/<row>.hlo.gz``) by today's reader."""
    import gzip

    from infantjax.bench.kernels import kernels, summary

    rows = []
    for key in ROWS:
        path = out / f"{key}.json"
        if not path.is_file():
            continue
        row = json.loads(path.read_text())
        hlo = out / f"{key}.hlo.gz"
        if hlo.is_file():
            row["kernels"] = kernels(gzip.decompress(hlo.read_bytes()).decode())
            row["summary"] = summary(row["kernels"])
        label, seconds, dtype, _, _, source = ROWS[key]
        row.update(label=label, measured_s=seconds, dtype=dtype, source=source)
        rows.append(row)
    return rows


def _device(name: str) -> str:
    from infantjax.aot import costmodel

    found = [short for short in costmodel.DEVICES if short in name]
    if not found:
        raise SystemExit(f"no datasheet in infantjax.aot.costmodel.DEVICES for the measured device {name!r}")
    return found[0]


def measured_rows(paths) -> list[dict]:
    """The rows ``benchmarks/gpu_forms.py`` measured on a GPU (its JSON records), each with the kernels of the
    executable the GPU compiled: read from the record's HLO archive (``--hlo``; by default ``hlo-X.tgz`` beside
    ``forms-X.json``) or from ``kernels.json.gz`` beside it (:func:`write_listings`)."""
    import gzip
    import tarfile

    from infantjax.bench.kernels import kernels, summary

    rows = []
    for path in map(pathlib.Path, paths):
        record = json.loads(path.read_text())
        device = _device(record["environment"]["device"])
        date = record["environment"].get("date_utc", "")[:10]
        listings_path = path.parent / "kernels.json.gz"
        listings = json.loads(gzip.decompress(listings_path.read_bytes())) if listings_path.is_file() else {}
        archive = path.parent / (record.get("hlo") or path.name.replace("forms-", "hlo-").replace(".json", ".tgz"))
        if archive.is_file():
            with tarfile.open(archive) as tar:
                for member in tar.getmembers():
                    listings[member.name] = kernels(tar.extractfile(member).read().decode())
        for r in record["rows"]:
            if "median_s" not in r:
                continue
            listing = listings.get(f"{r['key']}.{r['forms']}.hlo")
            if listing is None:
                raise SystemExit(f"{path}: no kernels for {r['key']} [{r['forms']}]: its HLO archive or "
                                 "kernels.json.gz is missing")
            rows.append({"key": f"{device.lower()}-{r['key']}-{r['forms']}",
                         "label": f"{r['label']} ({r['forms']} forms)", "measured_s": r["median_s"],
                         "dtype": "bfloat16", "source": f"{device} run ({date}, benchmarks/gpu_forms.py)",
                         "triton_gemm": r["triton_gemm"], "host_bytes": r["host_bytes"], "device": device,
                         "kernels": listing, "summary": summary(listing), "hlo": f"{r['key']}.{r['forms']}.hlo",
                         "profile": r.get("profile")})
    return rows


def profile_fit(paths) -> dict:
    """The model's fractions fitted on the single kernels of the profiled rows of ``benchmarks/gpu_forms.py``
    records (``--profile``; :func:`infantjax.aot.costmodel.calibrate_kernels`), the launch cost split into the
    kernels' floor and the gaps between them, beside the shipped calibration; and each profiled program predicted by
    both beside its measured median. Estimates, except the medians; the shipped calibration is not changed."""
    from infantjax.aot import costmodel

    rows = [r for r in measured_rows(paths) if r.get("profile")]
    if not rows:
        raise SystemExit("no profiled rows in these records: run benchmarks/gpu_forms.py with --profile 1")
    timed, idle, launches = [], 0.0, 0
    for r in rows:
        by_name = {k["name"]: k for k in r["kernels"]}
        measured = r["profile"].get("measured") or {}
        for name, seconds in measured.items():
            kernel = by_name.get(name)
            if kernel is not None and seconds > 0:
                timed.append((kernel, seconds / int(kernel.get("count", 1)), r["device"]))
                launches += int(kernel.get("count", 1))
        idle += r["profile"]["idle_s"]
    shipped = costmodel.load()
    model, fit = costmodel.calibrate_kernels(timed, idle_per_launch=idle / max(launches, 1), prior=shipped)
    programs = [{"key": r["key"], "measured_s": r["measured_s"], "traced_span_s": r["profile"]["span_s"],
                 "shipped_s": shipped.on_device(r["device"]).predict(r["kernels"], r["host_bytes"]).seconds,
                 "kernel_fit_s": model.on_device(r["device"]).predict(r["kernels"], r["host_bytes"]).seconds}
                for r in rows]
    return {"estimate_note": "fractions and predictions are estimates; measured_s and traced spans are measurements",
            "kernels": len(timed), "floor_s": fit["floor_s"], "idle_per_launch_s": idle / max(launches, 1),
            "launch_s": {"shipped": shipped.launch_s, "kernel_fit": model.launch_s},
            "bandwidth": {c: {"shipped": shipped.bandwidth[c], "kernel_fit": model.bandwidth[c]}
                          for c in costmodel.BANDWIDTH},
            "compute": {c: {"shipped": shipped.compute[c], "kernel_fit": model.compute[c]} for c in costmodel.MATRIX},
            "classes": fit["classes"], "programs": programs, "parameters": model.parameters()}


def write_listings(folder: pathlib.Path) -> None:
    """Every HLO archive of ``folder`` as one ``kernels.json.gz`` of kernel listings (what the fit reads; a
    fraction of the archives' size)."""
    import gzip

    listings = {}
    for path in sorted(folder.glob("forms-*.json")):
        for row in measured_rows([path]):
            listings[row["hlo"]] = row["kernels"]
    (folder / "kernels.json.gz").write_bytes(gzip.compress(json.dumps(listings).encode(), mtime=0))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="folder of the rows' kernel listings")
    parser.add_argument("--compile", action="store_true", help="compile every row still missing")
    parser.add_argument("--rows", nargs="*", default=None, help="only these rows (keys of ROWS)")
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--host-bytes", action="store_true",
                        help="add each compiled row's host input bytes to its record (rows compiled before them)")
    parser.add_argument("--fit", action="store_true", help="fit the model and write the package's JSON")
    parser.add_argument("--table", action="store_true", help="print predicted vs measured as markdown")
    parser.add_argument("--measured", nargs="*", default=[],
                        help="records of benchmarks/gpu_forms.py (another GPU's measured rows) to fit on too")
    parser.add_argument("--listings", default=None,
                        help="write the kernels of the HLO archives beside these records' folder to kernels.json.gz")
    parser.add_argument("--profiles", nargs="*", default=[],
                        help="records of benchmarks/gpu_forms.py --profile: fit the fractions on their single "
                             "kernels and print them beside the shipped calibration (writes DIR/profile-fit.json)")
    parser.add_argument("--timeout", type=float, default=900.0)
    args = parser.parse_args(argv)
    out = pathlib.Path(args.out)
    if args.one:
        compile_one(args.one, out)
        return 0
    if args.compile:
        compile_all(out, args.rows or list(ROWS), args.timeout)
    if args.host_bytes:
        from infantjax.io.files import write_json

        for key in args.rows or list(ROWS):
            path = out / f"{key}.json"
            if path.is_file():
                record = json.loads(path.read_text())
                record["host_bytes"] = host_bytes_of(key)
                write_json(path, record)
                print(f"{key}: {record['host_bytes']:,} bytes from the host a call")
    if args.listings:
        write_listings(pathlib.Path(args.listings))
    if args.profiles:
        from infantjax.io.files import write_json

        result = profile_fit(args.profiles)
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / "profile-fit.json", result, indent=1)
        ms = 1e3
        print(f"{result['kernels']} kernels timed; floor {result['floor_s'] * 1e6:.2f} us + gaps "
              f"{result['idle_per_launch_s'] * 1e6:.2f} us = launch {result['launch_s']['kernel_fit'] * 1e6:.2f} us "
              f"(shipped {result['launch_s']['shipped'] * 1e6:.2f} us)")
        for kind in ("bandwidth", "compute"):
            print(f"{kind}: " + ", ".join(f"{c} {v['shipped']:.2f} -> {v['kernel_fit']:.2f}"
                                          for c, v in result[kind].items()))
        for p in result["programs"]:
            print(f"{p['key']}: measured {p['measured_s'] * ms:.2f} ms (traced span {p['traced_span_s'] * ms:.2f}); "
                  f"shipped model {p['shipped_s'] * ms:.2f} ms, kernel fit {p['kernel_fit_s'] * ms:.2f} ms "
                  "(estimates)")
    if args.fit or args.table:
        from infantjax.aot import costmodel

        rows = [{**r, "device": "H100"} for r in load_rows(out)] + measured_rows(args.measured)
        if args.fit:
            fitted = [r for r in rows if r["key"] not in NOT_FITTED]
            model, _ = costmodel.calibrate([(r["kernels"], r["measured_s"], r["host_bytes"], r["device"])
                                            for r in fitted])
            calibration = [{"key": r["key"], "label": r["label"], "measured_s": r["measured_s"],
                            "source": r["source"], "triton_gemm": r["triton_gemm"], "device": r["device"],
                            "fitted": r["key"] not in NOT_FITTED, "note": NOT_FITTED.get(r["key"], ""),
                            **costmodel.row_figures(model, r["kernels"], r["host_bytes"], r["device"])}
                           for r in rows]
            costmodel.save(model, calibration)
        model = costmodel.load()
        print(costmodel.calibration_table(model))
    return 0


if __name__ == "__main__":
    sys.exit(main())
