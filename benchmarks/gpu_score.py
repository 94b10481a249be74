"""The paper-size CP ensemble's scoring on one device: one 3-minute recording (what ``infantjax assess`` scores) and
1,000 of them (71,000 windows), with the time to compile.

    python benchmarks/gpu_score.py [--specs table-a4|table-a4:N|tiny] [--folds 7] [--batch 512]
                                   [--recordings 100] [--json FILE]

The ensemble is the one ``benchmarks/assess.py`` scores (10 Table A.4 architectures × 7 folds = 70 instances,
untrained weights: the time does not depend on them), scored by :meth:`Ensemble.window_predictions` with calls of
``--batch`` windows (the config's ``eval_batch_size``). Printed and written (``--json``):

* ``recording``: 71 windows (one 3-minute 30 fps recording, hop 75): the first call (every stack's programs
  compiled, concurrently) and the median of five after it — the ensemble stage of ``infantjax assess`` on this device;
* ``calls``: ``--batch`` windows a call: the first call (compiling) and the median of three;
* ``measured``: ``--recordings`` recordings' windows (default 100 = 7,100 windows) scored once, after the above;
* ``per_1000``: 1,000 recordings = ``1000 / --recordings`` × the measured figure, a linear extrapolation (an
  *estimate*; the calls are all of one size, so it is the same program run more often).

Also the device, the float32 and bfloat16 matmul rates (2048² on CPU, 8192² on an accelerator) of the same run, and the backend policy's dtype.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

WINDOWS_PER_RECORDING = 71


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    jax.block_until_ready(out)
    return time.perf_counter() - start


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--specs", default="table-a4")
    ap.add_argument("--folds", type=int, default=7)
    ap.add_argument("--batch", type=int, default=512, help="windows a call (eval_batch_size)")
    ap.add_argument("--recordings", type=int, default=100, help="recordings scored once for the measured figure")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)

    from assess import make_ensemble
    from infantjax import backend
    from infantjax.bench.harness import matmul_rate
    from infantjax.ensemble import Ensemble

    record = {"device": str(jax.devices()[0].device_kind), "backend": backend.platform(),
              "jax": jax.__version__, "dtype": str(backend.compute_dtype()),
              "matmul_f32_tflops": matmul_rate() / 1e3,
              "matmul_bf16_tflops": matmul_rate(dtype=jnp.bfloat16) / 1e3,
              "specs": args.specs, "folds": args.folds, "batch": args.batch}
    print(json.dumps(record), flush=True)
    start = time.perf_counter()
    built = make_ensemble(args.specs, args.folds)
    record["init_s"] = time.perf_counter() - start
    print(f"initialised in {record['init_s']:.1f} s", flush=True)
    ens = Ensemble(built.specs, built.variables, dataclasses.replace(built.config, eval_batch_size=args.batch))
    record["instances"] = sum(ens.stack_sizes)
    rng = np.random.default_rng(0)

    def windows(n):
        return rng.normal(0, 0.3, (n, 150, 19, 2)).astype(np.float32)

    one = windows(WINDOWS_PER_RECORDING)
    first = _timed(lambda: ens.window_predictions(one))
    times = [_timed(lambda: ens.window_predictions(one)) for _ in range(5)]
    record["recording"] = {"first_s": first, "median_s": float(np.median(times)), "samples_s": times}
    print("one recording (71 windows):", json.dumps(record["recording"]), flush=True)

    call = windows(args.batch)
    first = _timed(lambda: ens.window_predictions(call))
    times = [_timed(lambda: ens.window_predictions(call)) for _ in range(3)]
    record["calls"] = {"windows": args.batch, "first_s": first, "median_s": float(np.median(times)),
                       "samples_s": times}
    print(f"calls of {args.batch} windows:", json.dumps(record["calls"]), flush=True)

    bulk = windows(WINDOWS_PER_RECORDING * args.recordings)
    first = _timed(lambda: ens.window_predictions(bulk))  # the last call's smaller sizes compile here
    seconds = _timed(lambda: ens.window_predictions(bulk))
    record["measured"] = {"recordings": args.recordings, "windows": bulk.shape[0], "first_s": first, "seconds": seconds,
                          "window_instances_per_s": bulk.shape[0] * record["instances"] / seconds}
    record["per_1000"] = {"seconds": seconds * 1000 / args.recordings, "estimate": "linear extrapolation"}
    print(f"{args.recordings} recordings:", json.dumps(record["measured"]),
          f"-> 1,000 recordings ~ {record['per_1000']['seconds']:.1f} s (estimate)", flush=True)
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(record, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
