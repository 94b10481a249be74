"""MAM (seed 001): training and inference throughput in clips (windows) per second, stacked fold instances.

Training runs the engine's own jitted, donated, vmapped train step (``infantjax.train.fit`` runs exactly this
program) on batches of the recipe (``ref_batch`` pretraining clips + ``batch_size`` recordings × ``bag_clips``
instances per fold); inference runs the stacked prediction (:mod:`infantjax.infer.predict`) over every clip of ``--recordings`` recordings per fold.
Measured with the :mod:`infantjax.bench` harness (medians after warm-up, XLA FLOPs, the run's matmul rate).

    python benchmarks/mam.py                     # the paper's clip length (240) and MamSpec's sizes, 5 folds
    python benchmarks/mam.py --quick             # the quick recipe's network, 3 folds, tiny counts

Prints one JSON record and a table.
"""

from __future__ import annotations

import argparse
import pathlib
import sys

import jax
import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from infantjax import parallel
from infantjax.bench import Run
from infantjax.models import count_parameters
from infantjax.models.mam import MamSpec
from infantjax.train import programs_for
from infantjax.train.mam import MamConfig, MamTask
from infantjax.infer.predict import stacked_program, task_forward


def bench(args) -> Run:
    from infantjax.commands.mam import quick_spec

    spec = quick_spec() if args.quick else MamSpec()
    config = (MamConfig.quick() if args.quick else MamConfig()).replace(folds=args.folds)
    task = MamTask(spec, config)
    I, L, F = args.folds, spec.clip_length, spec.num_features
    rng = np.random.default_rng(0)
    mesh = parallel.instance_mesh(I, devices=jax.devices()[:1])
    programs = programs_for(task, 100, mesh)
    state = [programs.init(np.stack([np.asarray(jax.random.PRNGKey(s)) for s in range(I)]))]
    B, S, R = config.batch_size, config.bag_clips, config.ref_batch
    batch = {"bag_x": rng.normal(size=(I, B, S, L, F)).astype(np.float32),
             "bag_mask": np.ones((I, B, S), np.float32), "bag_y": np.tile([0.0, 1.0], (I, B // 2)),
             "bag_info": np.zeros((I, B, 4), np.float32), "ref_x": rng.normal(size=(I, R, L, F)).astype(np.float32),
             "ref_y": np.tile([0, 1], (I, R // 2)).astype(np.int32)}
    active = np.ones(I, bool)

    def step():
        state[0], loss, _ = programs.train_step(state[0], batch, active)
        return loss

    run = Run("mam", measure_matmul=not args.no_matmul)
    clips_per_step = I * (R + B * S)
    run.time(f"train step, {I} folds × ({R} ref + {B}×{S} instance clips)", step, repeats=args.repeats, warmup=1,
             items=clips_per_step, unit="windows", budget_s=60,
             program=(programs.train_step, (state[0], batch, active)))
    variables = programs.variables(state[0])
    n = args.recordings
    inputs = {"x": rng.normal(size=(I, n, args.clips, L, F)).astype(np.float32),
              "mask": np.ones((I, n, args.clips), np.float32), "info": np.zeros((I, n, 4), np.float32)}
    # what the protocol and MamModel run: the stacked-inference primitive (lax.map over the folds on CPU, the backend
    # policy; vmap elsewhere)
    predict = stacked_program(task_forward(task), mesh, shared=False)
    run.time(f"inference, {I} folds × {n} recordings × {args.clips} clips", predict, variables, inputs,
             repeats=args.repeats, warmup=1, items=I * n * args.clips, unit="windows", budget_s=60)
    run.rows[0].extra["parameters"] = count_parameters(spec)
    return run


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="the quick recipe's network and tiny counts")
    ap.add_argument("--folds", type=int, default=None, help="stacked fold instances (5; --quick 3)")
    ap.add_argument("--recordings", type=int, default=None, help="recordings per inference call (4; --quick 2)")
    ap.add_argument("--clips", type=int, default=None, help="clips per recording at inference (16; --quick 8)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--no-matmul", action="store_true", help="skip the matmul calibration")
    ap.add_argument("--json", help="also write the JSON record to this file")
    args = ap.parse_args(argv)
    defaults = {"folds": (5, 3), "recordings": (4, 2), "clips": (16, 8)}
    for k, (full, quick) in defaults.items():
        if getattr(args, k) is None:
            setattr(args, k, quick if args.quick else full)
    if args.quick:
        args.repeats = min(args.repeats, 2)
    run = bench(args)
    import json

    print(json.dumps(run.finish(json_path=args.json)))
    print(run.table())
    return 0


if __name__ == "__main__":
    sys.exit(main())
