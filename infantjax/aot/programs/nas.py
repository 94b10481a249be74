"""The architecture search's program: one trial's training step on one chip (the search runs one trial per
chip, each its own program), a candidate drawn from the paper's search space (seed 002, Appendix A.2)."""

from __future__ import annotations

from infantjax.aot.catalogue import Built, engine_step, graph_product, register
from infantjax.aot.programs.cp import gcn_spec

__all__ = ["NAS_TRIAL"]

#: the NAS search space's candidate compiled by ``nas-trial`` (search seed, trial number of
#: :func:`infantjax.nas.space.rng_for`)
NAS_TRIAL = (0, 0)


def _nas_trial(devices, batch, instances, size) -> Built:
    """One NAS trial's training step on one chip: the candidate of :data:`NAS_TRIAL` drawn from the paper's
    search space (``nas.space.uniform_table``), the engine's step of one instance at the trials' batch.
    ``instances`` is not used: a trial is one network."""
    import jax.numpy as jnp

    from infantjax.models.gcn import count_flops
    from infantjax.nas.space import candidate_string, rng_for, sample_table, uniform_table
    from infantjax.train.cp import CPConfig, CPTask

    if size == "small":
        spec, name = gcn_spec("small")
        window = 30
    else:
        spec = sample_table(uniform_table(), rng_for(*NAS_TRIAL))
        name, window = f"search-space candidate {candidate_string(spec)}", 150
    task = CPTask(spec, CPConfig(window=window, batch_size=batch, preprocess=False, window_rotation=None, remat=False,
                                 progress=False))
    fn, args, mesh, _ = engine_step(task, devices[:1], 1, {"positions": ((batch, window, 19, 2), jnp.float32),
                                                            "labels": ((batch,), jnp.int32)})
    forward = count_flops(spec, "full", num_frames=window, graph_product=graph_product())
    return Built(fn, args, batch, "windows", f"one NAS trial's training step on one chip, {name}, {batch} "
                 f"windows of {window} frames", False, 3.0 * forward * batch, mesh, devices=1)


register("nas-trial", _nas_trial, batch=32,
         line="one NAS trial's training step on one chip (a search-space candidate)")
