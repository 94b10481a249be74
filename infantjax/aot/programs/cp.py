"""The CP ensemble's programs (seed 002): its training step and the baseline's (ST-GCN) through the engine,
its scoring through the stacked predictor. At the paper's size a Table A.4 network (or ST-GCN) on windows of
150 frames; small: the demo GCN (or a small strided ST-GCN) on windows of 30."""

from __future__ import annotations

from infantjax.aot.catalogue import Built, abstract, engine_step, graph_product, register

__all__ = ["gcn_spec"]


def gcn_spec(size: str):
    """The GCN compiled at ``size``, and its name: Table A.4's first network, or the demo GCN (small)."""
    from infantjax.models.gcn.spec import GCNSpec

    if size == "small":
        from infantjax.models.gcn.presets import demo_spec

        return demo_spec(temporal_kernel_size=3), "the demo GCN"
    return GCNSpec.table_a4()[0], "Table A.4 #1"


def _stgcn_spec(size: str):
    from infantjax.models.gcn.spec import STGCNSpec

    if size == "small":  # strided module with a 1x1 residual, as ST-GCN's 5th and 8th: nn.temporal.Pointwise
        small = STGCNSpec(channels=(8, 8, 16), strides=(1, 1, 2))
        return small, "a small ST-GCN (8-8-16, stride 2 at the 3rd)"
    return STGCNSpec(), "ST-GCN"


def _cp(devices, batch, instances, size, *, train: bool, stgcn: bool = False) -> Built:
    import jax.numpy as jnp

    from infantjax.models.gcn import count_flops
    from infantjax.train.cp import CPConfig, CPTask

    spec, name = _stgcn_spec(size) if stgcn else gcn_spec(size)
    window = 30 if size == "small" else 150
    task = CPTask(spec, CPConfig(window=window, batch_size=batch, preprocess=False, window_rotation=None, remat=False,
                                 progress=False))
    forward = count_flops(spec, "full", num_frames=window, graph_product=graph_product())
    if train:
        fn, args, mesh, n = engine_step(task, devices, instances,
                                        {"positions": ((batch, window, 19, 2), jnp.float32),
                                         "labels": ((batch,), jnp.int32)})
        line = (f"CP ensemble training step, {name}, {instances} instances x {batch} windows of "
                f"{window} frames")
        return Built(fn, args, instances * batch, "windows", line, True, 3.0 * forward * batch * n, mesh)
    import jax
    from jax.sharding import NamedSharding
    from jax.sharding import PartitionSpec as P

    from infantjax import parallel
    from infantjax.train.engine import Programs
    from infantjax.infer.predict import stacked_program, task_forward

    # the ensemble's scoring (Ensemble.predict -> StackedPredictor): every instance scores the same windows
    mesh = parallel.instance_mesh(instances, devices=devices)
    n = parallel.padded_size(instances, mesh)
    programs = Programs(task, 10, mesh)
    state = jax.eval_shape(programs.init, jax.ShapeDtypeStruct((n, 2), jnp.uint32))
    variables = abstract(jax.eval_shape(programs.variables, state), parallel.instance_sharding(mesh))
    windows = NamedSharding(mesh, P(parallel.DATA))
    x = jax.ShapeDtypeStruct((batch, window, 19, 2), jnp.float32, sharding=windows)
    fn = stacked_program(task_forward(task), mesh, shared=True)
    line = (f"CP ensemble scoring (StackedPredictor), {name}, {instances} instances each scoring the same "
            f"{batch} windows of {window} frames")
    flops = float(forward) * batch * n
    return Built(fn, (variables, x), batch, "windows", line, True, flops, dict(mesh.shape))


register("cp-train", lambda d, b, i, s: _cp(d, b, i, s, train=True), batch=32,
         line="the CP ensemble's training step (engine)")
register("stgcn-train", lambda d, b, i, s: _cp(d, b, i, s, train=True, stgcn=True), batch=32,
         line="ST-GCN (the baseline) trained as a CP ensemble (engine)")
register("cp-score", lambda d, b, i, s: _cp(d, b, i, s, train=False), batch=256,
         line="the CP ensemble's scoring (StackedPredictor, windows shared by every instance)")
