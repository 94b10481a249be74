"""The CPU-friendly formulations of the GCN layers equal the plain ones: FlatDense vs flax Dense, the matmul graph
aggregation vs the ST-GCN einsum (values and gradients, with and without vmap over instances)."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from infantjax.nn.dense import FlatDense
from infantjax.nn.graph import aggregate


def test_flat_dense_has_the_parameters_and_values_of_dense():
    x = jnp.asarray(np.random.default_rng(0).normal(size=(2, 5, 19, 6)), jnp.float32)
    dense, flat = nn.Dense(9, name="conv"), FlatDense(9, name="conv")
    params = dense.init(jax.random.PRNGKey(1), x)
    flat_params = flat.init(jax.random.PRNGKey(1), x)
    assert jax.tree_util.tree_structure(params) == jax.tree_util.tree_structure(flat_params)
    for a, b in zip(jax.tree_util.tree_leaves(params), jax.tree_util.tree_leaves(flat_params)):
        np.testing.assert_array_equal(a, b)  # same initialisers, same draws
    np.testing.assert_allclose(flat.apply(params, x), dense.apply(params, x), rtol=1e-6, atol=1e-6)
    assert flat.apply(params, x).shape == (2, 5, 19, 9)


def test_matmul_aggregation_equals_the_einsum_with_gradients_under_vmap():
    rng = np.random.default_rng(0)
    y = jnp.asarray(rng.normal(size=(3, 2, 7, 19, 3, 4)), jnp.float32)  # instances, N, T, V, K, C
    a = jnp.asarray(rng.normal(size=(3, 3, 19, 19)), jnp.float32)

    def reference(y, a):
        return jnp.einsum("ntvkc,kvw->ntwc", y, a)

    out = jax.vmap(aggregate)(y, a)
    np.testing.assert_allclose(out, jax.vmap(reference)(y, a), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(aggregate(y[0], a[0]), reference(y[0], a[0]), rtol=1e-5, atol=1e-5)
    loss = lambda f: (lambda y, a: (jax.vmap(f)(y, a) ** 2).sum())  # noqa: E731
    g = jax.grad(loss(aggregate), argnums=(0, 1))(y, a)
    g_ref = jax.grad(loss(reference), argnums=(0, 1))(y, a)
    for got, want in zip(g, g_ref):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
