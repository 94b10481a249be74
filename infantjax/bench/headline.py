"""The headline benchmark set of ``infantjax bench``: the figures issue 20 targets, each beside the matmul rate.

* ``pose``: EfficientPose RT (batch 1 and 16) and I (batch 16) with the official MPII weights of the zoo, the
  folded inference graph that ``PosePredictor`` runs (ms/img);
* ``gcn``: the training engine's step (forward, backward, update) and the scoring forward of ST-GCN and Table A.4
  #1 and #7 at 150-frame windows of 19 joints (batch 32; ``--quick``: 8);
* ``ensemble``: 7 folds trained by one vmapped step vs the 7 folds one after another, and 7 instances scoring a
  3-minute 30 fps recording (71 windows);
* ``depth``: the asymmetric vs full 3D regression CNN train step (seed 004; quarter widths at 48×64 on CPU, the
  paper's on an accelerator).

The whole set takes about 8 minutes on an idle 2-core CPU (``--quick`` about 3). Figures of record belong to an idle
machine (load average < 1.5): the table prints the load average at the start and the end.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import numpy as np

from infantjax import backend, parallel
from infantjax.bench.harness import Row, Run, median_time, program_stats

__all__ = ["CASES", "run_headline"]

WINDOW, JOINTS = 150, 19


def _pose(run: Run, quick: bool) -> None:
    from infantjax.pipelines.pose import PosePredictor

    cases = [("efficientpose-rt-mpii", 1), ("efficientpose-rt-mpii", 16), ("efficientpose-i-mpii", 16)]
    if quick:
        cases = cases[:2]
    rng = np.random.default_rng(0)
    per_image: dict[str, float] = {}
    for name, batch in cases:
        p = PosePredictor.pretrained(name)
        variables = p.inference_variables()
        x = jax.device_put(rng.normal(size=(batch, p.resolution, p.resolution, 3)).astype(np.float32))
        if name not in per_image:  # XLA counts a micro-batch loop's body once: take the FLOPs of one image
            one = program_stats(p._heatmap_fn, variables, x[:1])
            per_image[name] = one.get("gflop", float("nan"))
        run.time(f"pose {p.spec.variant.upper()} forward, batch {batch}", p._heatmap_fn, variables, x,
                 repeats=5, warmup=2, items=batch, unit="img", budget_s=20, gflop=per_image[name] * batch)


def _engine_step(task, batch: int, seed: int = 0):
    """A closure running the training engine's step of ``task`` on one instance, and (jitted, args) for XLA."""
    from infantjax.train import programs_for

    mesh = parallel.instance_mesh(1, devices=jax.devices()[:1])
    programs = programs_for(task, 100, mesh)
    state = [programs.init(np.asarray(jax.random.PRNGKey(seed))[None])]
    rng = np.random.default_rng(seed)
    data = {"positions": rng.normal(0, 0.3, (1, batch, WINDOW, JOINTS, 2)).astype(np.float32),
            "labels": (np.arange(batch)[None] % 2).astype(np.int32)}
    active = np.ones(1, bool)

    def step():
        state[0], loss, _ = programs.train_step(state[0], data, active)
        return loss

    return step, programs, state, data, active


def _gcn(run: Run, quick: bool) -> None:
    from infantjax.models.gcn import GCNSpec, STGCNSpec
    from infantjax.train import CPConfig, CPTask

    batch = 8 if quick else 32
    a4 = GCNSpec.table_a4()
    specs = [("ST-GCN", STGCNSpec()), ("Table A.4 #1", a4[0]), ("Table A.4 #7", a4[6])]
    if quick:
        specs = specs[1:2]
    config = CPConfig(batch_size=batch, progress=False)
    for label, spec in specs:
        task = CPTask(spec, config)
        step, programs, state, data, active = _engine_step(task, batch)
        run.time(f"{label} train step, batch {batch}", step, repeats=3, warmup=1, items=batch, unit="windows",
                 budget_s=30, program=(programs.train_step, (state[0], data, active)))
        variables = programs.variables(state[0])
        windows = data["positions"]
        run.time(f"{label} forward, batch {batch}", programs.predict, variables, windows, repeats=3, warmup=1,
                 items=batch, unit="windows", budget_s=20)


def _ensemble(run: Run, quick: bool) -> None:
    from infantjax.ensemble import Ensemble
    from infantjax.models.gcn import GCNSpec
    from infantjax.train import CPConfig, CPTask, programs_for

    spec = GCNSpec.table_a4()[0]
    folds, batch = 7, (4 if quick else 8)
    config = CPConfig(batch_size=batch, progress=False)
    task = CPTask(spec, config)
    rng = np.random.default_rng(0)
    pos = rng.normal(0, 0.3, (folds, batch, WINDOW, JOINTS, 2)).astype(np.float32)
    lab = (rng.integers(0, 2, (folds, batch))).astype(np.int32)
    keys = np.stack([np.asarray(jax.random.PRNGKey(s)) for s in range(folds)])
    mesh = parallel.instance_mesh(folds, batch_size=batch)
    stacked = programs_for(task, 100, mesh)
    n_pad = parallel.padded_size(folds, mesh)
    state7 = [stacked.init(parallel.pad_leading(keys, n_pad))]
    batch7 = {"positions": parallel.pad_leading(pos, n_pad), "labels": parallel.pad_leading(lab, n_pad)}
    active7 = np.arange(n_pad) < folds
    single = programs_for(task, 100, parallel.instance_mesh(1, devices=jax.devices()[:1]))
    states1 = [single.init(keys[f:f + 1]) for f in range(folds)]

    def vmapped():
        state7[0], loss, _ = stacked.train_step(state7[0], batch7, active7)
        return loss

    def sequential():
        out = None
        for f in range(folds):
            states1[f], out, _ = single.train_step(states1[f], {"positions": pos[f:f + 1], "labels": lab[f:f + 1]},
                                                   np.ones(1, bool))
        return out

    v = run.time(f"7 folds, one vmapped step (A.4 #1, batch {batch})", vmapped, repeats=3, items=folds,
                 unit="fold-steps", budget_s=40, analyse=False)
    s = run.time(f"7 folds, one after another (A.4 #1, batch {batch})", sequential, repeats=3, items=folds,
                 unit="fold-steps", budget_s=40, analyse=False)
    v.extra["speedup_vs_sequential"] = s.seconds / v.seconds

    # scoring: 7 instances of A.4 #1, a 3-minute recording (5400 frames, 71 windows at hop 75)
    stack = jax.tree_util.tree_map(np.asarray, stacked.variables(state7[0]))
    stack = jax.tree_util.tree_map(lambda a: a[:folds], stack)
    ens = Ensemble([spec], [stack], dataclasses.replace(config, eval_batch_size=128))
    n_windows = 31 if quick else 71
    windows = rng.normal(0, 0.3, (n_windows, WINDOW, JOINTS, 2)).astype(np.float32)
    med, samples = median_time(lambda: ens.window_predictions(windows), repeats=3, warmup=1, budget_s=60)
    run.add(Row(f"score {n_windows} windows x 7 instances (A.4 #1)", med, samples, n_windows * folds,
                "window-inst"))


def _depth(run: Run, quick: bool) -> None:
    from infantjax.models.depth.regression import RegressionSpec
    from infantjax.train import DepthConfig, DepthTask, programs_for

    accelerator = backend.current().name == "accelerator"
    scale, height, width, batch = (1.0, 96, 128, 16) if accelerator else (0.25, 48, 64, 4)
    if quick:
        scale, batch = min(scale, 0.125), min(batch, 2)
    rows = {}
    for kind in ("asymmetric", "full"):
        widths = tuple(max(1, round(w * scale)) for w in (64, 128, 256, 256))
        spec = RegressionSpec(kind, widths=widths, head_width=max(1, round(256 * scale)))
        model = spec.build()
        shape = (batch, 3, height, width, 21)
        rng = np.random.default_rng(0)
        x = rng.normal(size=shape).astype(np.float32)
        y = rng.uniform(size=shape[:-1] + (20,)).astype(np.float32)
        task = DepthTask(model, DepthConfig(batch_size=batch, progress=False), shape[1:])
        mesh = parallel.instance_mesh(1, devices=jax.devices()[:1])
        programs = programs_for(task, 100, mesh)
        state = [programs.init(np.asarray(jax.random.PRNGKey(0))[None])]
        data = {"inputs": x[None], "targets": y[None]}
        active = np.ones(1, bool)

        def step(programs=programs, state=state, data=data, active=active):
            state[0], loss, _ = programs.train_step(state[0], data, active)
            return loss

        rows[kind] = run.time(f"depth {kind} 3D regression train step (x{scale:g} widths, {height}x{width}, "
                              f"batch {batch})", step, repeats=3, items=batch, unit="clips", budget_s=30,
                              program=(programs.train_step, (state[0], data, active)))
    rows["asymmetric"].extra["time_ratio_vs_full"] = rows["asymmetric"].seconds / rows["full"].seconds


CASES: dict[str, Callable[[Run, bool], None]] = {"pose": _pose, "gcn": _gcn, "ensemble": _ensemble, "depth": _depth}


def run_headline(only: list[str] | None = None, *, quick: bool = False, json_path=None, matmul: bool = True,
                 progress: Callable[[str], None] | None = None) -> tuple[dict, str]:
    """Run the headline set (or the ``only`` cases); return the record (also written to ``json_path``) and the
    printable table with the ratios underneath."""
    names = list(CASES) if not only else list(only)
    run = Run("infantjax bench" + (" --quick" if quick else ""), measure_matmul=matmul)
    for name in names:
        if progress is not None:
            progress(name)
        CASES[name](run, quick)
    record = run.finish(json_path)
    lines = [run.table()]
    for row in record["rows"]:
        for key in ("speedup_vs_sequential", "time_ratio_vs_full"):
            if key in row:
                lines.append(f"{row['name']}: {key.replace('_', ' ')} = {row[key]:.2f}")
    return record, "\n".join(lines)
