"""Helpers of the SMA tests."""

import jax
import jax.numpy as jnp
import numpy as np

from infantjax.models import build


def numpy_variables(spec, seed=0):
    """Variables of ``spec`` drawn with NumPy (no PRNG program to compile: tests stay fast)."""
    shapes = jax.eval_shape(lambda k: build(spec).init(k, jnp.zeros((1, spec.window, 4, 3))), jax.random.PRNGKey(0))
    rng = np.random.default_rng(seed)
    return jax.tree_util.tree_map(lambda a: (0.1 * rng.normal(size=a.shape)).astype(np.float32), shapes)
