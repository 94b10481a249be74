"""The SMA CNN of seed 000 (Table 1): training and inference throughput in windows/s, with the leave-one-subject-out
folds as I stacked instances of one program.

Training runs the engine's own jitted, donated train step (``infantjax.train.fit`` runs exactly this program) on
batches of the paper's recipe (400 windows of 900 × 12 per instance); inference runs the stacked prediction of
:func:`infantjax.train.sma.predict_windows` (:mod:`infantjax.infer.predict`). Medians after warm-up, with the harness's matmul calibration
(``infantjax.bench``).

    python benchmarks/sma.py                                   # Table 1's network, 15 folds, batch 400
    python benchmarks/sma.py --quick                           # narrow network, 2 folds, batch 8: proves it runs

Prints one JSON record and a table.
"""

from __future__ import annotations

import argparse
import json
import sys

import jax
import numpy as np

from infantjax import parallel
from infantjax.bench import harness
from infantjax.models import count_parameters
from infantjax.models.sma import SMASpec
from infantjax.train import programs_for
from infantjax.infer.predict import stacked_program, task_forward
from infantjax.train.sma import SMAConfig, SMATask


def bench(args) -> harness.Run:
    spec = SMASpec.narrow() if args.quick else SMASpec()
    config = SMAConfig(batch_size=args.batch, progress=False)
    task = SMATask(spec, config)
    I = args.instances
    rng = np.random.default_rng(0)
    programs = programs_for(task, 4, parallel.instance_mesh(I, devices=jax.devices()[:1], batch_size=args.batch))
    keys = np.stack([np.asarray(jax.random.PRNGKey(s)) for s in range(I)])
    state = [programs.init(keys)]
    batch = {"x": rng.normal(size=(I, args.batch, spec.window, 4, 3)).astype(np.float32),
             "y": rng.uniform(0, 72, (I, args.batch)).astype(np.float32)}
    active = np.ones(I, bool)

    def train_once():
        state[0], loss, _ = programs.train_step(state[0], batch, active)
        jax.block_until_ready(loss)

    # what the leave-one-subject-out protocol runs: each fold on its own windows, through the stacked-inference
    # primitive (lax.map over the instances on CPU, the backend policy; vmap elsewhere)
    predict = stacked_program(task_forward(task), programs.mesh, shared=False)
    variables = programs.variables(state[0])
    x = rng.normal(size=(I, args.windows, spec.window, 4, 3)).astype(np.float32)

    def infer_once():
        jax.block_until_ready(predict(variables, x))

    run = harness.Run("sma_cnn", measure_matmul=not args.quick)
    run.time(f"train step, {I} folds × {args.batch} windows", train_once, items=I * args.batch, unit="windows",
             repeats=args.repeats, warmup=args.warmup, analyse=False, parameters=count_parameters(spec))
    run.time(f"inference, {I} folds × {args.windows} windows", infer_once, items=I * args.windows, unit="windows",
             repeats=args.repeats, warmup=args.warmup, program=(predict, (variables, x)))
    return run


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="narrow network, 2 folds, batch 8, 16 windows")
    parser.add_argument("--instances", type=int, default=None, help="stacked folds (15, the paper's subjects)")
    parser.add_argument("--batch", type=int, default=None, help="windows per training step and fold (400)")
    parser.add_argument("--windows", type=int, default=None, help="windows per inference call and fold (55: one "
                                                                  "2-minute recording)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--json", help="also write the JSON record to this file")
    args = parser.parse_args(argv)
    defaults = (2, 8, 16) if args.quick else (15, 400, 55)
    args.instances = args.instances or defaults[0]
    args.batch = args.batch or defaults[1]
    args.windows = args.windows or defaults[2]
    if args.quick:
        args.repeats = min(args.repeats, 2)
    run = bench(args)
    record = run.finish(args.json)
    record["config"] = vars(args)
    print(json.dumps(record))
    print(run.table())
    return 0


if __name__ == "__main__":
    sys.exit(main())
