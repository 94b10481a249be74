"""The pose family's programs: EfficientPose's inference graph (RT or I, the deployment graph with its batch
norms folded) data-parallel over the devices, at the variant's resolution (small: 64 x 64)."""

from __future__ import annotations

from infantjax.aot.catalogue import Built, abstract, register

__all__: list[str] = []


def _pose(devices, batch, instances, size, *, variant: str) -> Built:
    import functools

    import jax
    import jax.numpy as jnp
    from jax.sharding import NamedSharding
    from jax.sharding import PartitionSpec as P

    from infantjax import models, parallel
    from infantjax.models.pose.efficientpose import EfficientPoseSpec
    from infantjax.models.pose.inference import efficientpose_heatmaps, fold_efficientpose

    spec = EfficientPoseSpec(variant=variant, graph="deployment", resolution=64 if size == "small" else None)
    mesh = parallel.build_mesh((len(devices),), (parallel.DATA,), devices)
    padded = -(-batch // mesh.size) * mesh.size  # every device an equal share (PosePredictor's rule)
    variables = jax.eval_shape(lambda k: models.init(spec, k), jax.random.PRNGKey(0))
    folded = abstract(jax.eval_shape(functools.partial(fold_efficientpose, spec), variables),
                      NamedSharding(mesh, P()))
    r = spec.resolution
    x = jax.ShapeDtypeStruct((padded, r, r, 3), jnp.float32, sharding=NamedSharding(mesh, P(parallel.DATA)))
    fn = jax.jit(functools.partial(efficientpose_heatmaps, spec=spec),
                 out_shardings=NamedSharding(mesh, P(parallel.DATA)))
    return Built(fn, (folded, x), batch, "images",
                 f"EfficientPose {variant.upper()} inference at {r}x{r}, batch {batch} (padded to {padded}) "
                 f"data-parallel", False, None, dict(mesh.shape))


register("pose-rt", lambda d, b, i, s: _pose(d, b, i, s, variant="rt"), batch=16,
         line="EfficientPose RT inference")
register("pose-i", lambda d, b, i, s: _pose(d, b, i, s, variant="i"), batch=16,
         line="EfficientPose I inference")
