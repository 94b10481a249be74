"""The GCN training step with its parameters held in one flat vector for the whole run, against the engine's step
with a pytree of parameters: the same updates, fewer kernels on a GPU.

    python benchmarks/gpu_flat_params.py --compile-for h100x1 --json est.json   # compiled for an H100, estimates
    python benchmarks/gpu_flat_params.py --check                                # CPU: the two forms agree

XLA:GPU gives every parameter leaf's update a kernel of its own (218 of the 1,209 launches of Table A.4 #1's step
compiled by an H200; docs/performance.md), and laying the parameters end to end for the update alone adds the
concatenations and the slices back as kernels of their own. Held flat for the whole run — the state's parameters
and optimizer moments one vector each, the network reading its leaves as slices of it — the gradient arrives as
one vector and the update is one kernel. :class:`FlatPrograms` is the engine's :class:`~infantjax.train.engine.
Programs` with that state: ``_state`` lays the parameters out (``jax.flatten_util.ravel_pytree``) and
``_train_step`` unravels them inside the loss. It changes nothing else (the optimizer is elementwise: Adam and
SGD with weight decay give the same update on a vector as on its leaves).

``--compile-for TARGET``: the Table A.4 #1 step (batch 32) and 7 folds of it vmapped, each in both forms, compiled
for an abstract device of TARGET (the ``aot`` extra), their kernels counted and predicted by the GPU cost model on
an H100 and an H200 (**estimates**: compiled for, not run on, the device). ``--check``: a small architecture's step
in both forms on the CPU from the same state; the parameters after it agree to float32 rounding.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from infantjax.train.engine import Programs
from infantjax.train.state import TrainState


class FlatPrograms(Programs):
    """:class:`~infantjax.train.engine.Programs` whose training state holds the parameters (and so the optimizer's
    moments) as one flat vector; :meth:`leaves` turns a state's vector back into the network's parameters."""

    def _state(self, train_key, variables) -> TrainState:
        flat, self._unravel = ravel_pytree(variables["params"])
        collections = {k: v for k, v in variables.items() if k != "params"}
        return TrainState(params=flat, collections=collections, opt_state=self.tx.init(flat),
                          step=jnp.zeros((), jnp.int32), rng=train_key)

    def leaves(self, flat):
        return self._unravel(flat)

    def _train_step(self, state: TrainState, batch, active):
        def loss_of(flat):
            loss, updates, metrics = self.task.loss({**state.collections, "params": self._unravel(flat)}, batch,
                                                    jax.random.fold_in(state.rng, state.step), state.step)
            return loss, (updates, metrics)

        (loss, (updates, metrics)), grads = jax.value_and_grad(loss_of, has_aux=True)(state.params)
        step_updates, opt_state = self.tx.update(grads, state.opt_state, state.params)
        new = state.replace(params=state.params + step_updates, collections={**state.collections, **updates},
                            opt_state=opt_state, step=state.step + 1)
        new = jax.tree_util.tree_map(lambda n, o: jnp.where(active, n, o), new, state)
        metrics = {k: jnp.where(active, v, 0.0) for k, v in metrics.items()}
        return new, jnp.where(active, loss, 0.0), metrics


def _task(spec, batch: int):
    from infantjax.train import CPConfig, CPTask

    return CPTask(spec, CPConfig(batch_size=batch, progress=False))


def step_of(cls, task, devices, instances: int, batch: int, frames: int):
    """The jitted step of ``cls`` (Programs or FlatPrograms) and its abstract arguments, as
    ``infantjax.aot.catalogue.engine_step`` builds the engine's."""
    from infantjax import parallel
    from infantjax.aot.catalogue import abstract

    mesh = parallel.instance_mesh(instances, devices=devices, batch_size=batch)
    n = parallel.padded_size(instances, mesh)
    programs = cls(task, 10, mesh)
    inst, data = parallel.instance_sharding(mesh), parallel.batch_sharding(mesh)
    state = abstract(jax.eval_shape(programs.init, jax.ShapeDtypeStruct((n, 2), jnp.uint32)), inst)
    stacked = {"positions": jax.ShapeDtypeStruct((n, batch, frames, 19, 2), jnp.float32, sharding=data),
               "labels": jax.ShapeDtypeStruct((n, batch), jnp.int32, sharding=data)}
    active = jax.ShapeDtypeStruct((n,), jnp.bool_, sharding=inst)
    return programs, (state, stacked, active)


def compile_for(target: str) -> list[dict]:
    from infantjax import aot, backend, targets
    from infantjax.aot import costmodel
    from infantjax.bench.kernels import kernels, summary
    from infantjax.models.gcn import GCNSpec

    for name, value in aot.COMPILE_ENV.items():
        os.environ.setdefault(name, value)
    devices = targets.devices(targets.target(target))[:1]
    model = costmodel.load()
    rows = []
    with backend.use("accelerator", compute_dtype="bfloat16"):
        task = _task(GCNSpec.table_a4()[0], 32)
        for instances in (1, 7):
            for cls in (Programs, FlatPrograms):
                programs, args = step_of(cls, task, devices, instances, 32, 150)
                start = time.perf_counter()
                compiled = programs.train_step.lower(*args).compile()
                listing = kernels(compiled.as_text())
                s = summary(listing)
                row = {"instances": instances, "form": "flat" if cls is FlatPrograms else "leaves",
                       "compile_s": round(time.perf_counter() - start, 1), "launches": s["count"],
                       "bytes": s["bytes"], "estimate": True,
                       **{f"{d}_s": model.on_device(d).predict(listing).seconds for d in ("H100", "H200")}}
                rows.append(row)
                print(f"{instances} instance(s), {row['form']}: {row['launches']:,} launches, "
                      f"{row['bytes'] / 1e9:.2f} GB; H100 {row['H100_s'] * 1e3:.2f} ms, H200 "
                      f"{row['H200_s'] * 1e3:.2f} ms (estimates; compiled in {row['compile_s']} s)", flush=True)
    return rows


def check(instances: int = 1) -> tuple[float, float]:
    """The largest difference between the parameters after one step of each form from the same state (CPU), and
    the largest change the step made to them (a step that changes nothing would compare nothing)."""
    from infantjax.models.gcn.presets import demo_spec

    task = _task(demo_spec(), 4)
    devices = jax.devices()[:1]
    plain, _ = step_of(Programs, task, devices, instances, 4, 32)
    flat, _ = step_of(FlatPrograms, task, devices, instances, 4, 32)
    keys = jax.random.split(jax.random.key(0), instances)
    keys = jax.random.key_data(keys) if jnp.issubdtype(keys.dtype, jax.dtypes.prng_key) else keys
    # the inputs made on the host and the differences taken there: eager jax.numpy compiles a program per op and
    # leaf shape (~40 of them, seconds on a loaded CPU), for the same float32 values
    rng = np.random.default_rng(0)
    batch = jax.device_put({"positions": rng.normal(size=(instances, 4, 32, 19, 2)).astype(np.float32),
                            "labels": rng.integers(0, 2, (instances, 4)).astype(np.int32)})
    active = jax.device_put(np.ones((instances,), bool))
    start = plain.init(keys)
    before = [np.asarray(x) for x in jax.tree_util.tree_leaves(start.params)]  # the step donates its state
    a = [np.asarray(x) for x in jax.tree_util.tree_leaves(plain.train_step(start, batch, active)[0].params)]
    b = [np.asarray(x) for x in jax.tree_util.tree_leaves(
        jax.jit(jax.vmap(flat.leaves))(flat.train_step(flat.init(keys), batch, active)[0].params))]
    moved = max(float(np.max(np.abs(x - y))) for x, y in zip(a, before, strict=True))
    if not moved > 0:
        raise RuntimeError("the step did not change the parameters: nothing was compared")
    return max(float(np.max(np.abs(x - y))) for x, y in zip(a, b, strict=True)), moved


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compile-for", default=None, metavar="TARGET")
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--json", type=pathlib.Path, default=None)
    a = parser.parse_args(argv)
    record: dict = {"benchmark": "benchmarks/gpu_flat_params.py"}
    if a.check:
        record["max_abs_difference"], record["max_abs_change"] = check()
        print(f"parameters after one step, flat vs leaves: largest difference {record['max_abs_difference']:.3g} "
              f"(the step changed them by up to {record['max_abs_change']:.3g})")
    if a.compile_for:
        record["compiled_for"] = a.compile_for
        record["rows"] = compile_for(a.compile_for)
    if a.json is not None:
        a.json.write_text(json.dumps(record, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
