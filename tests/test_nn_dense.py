"""The CPU-friendly formulations of the GCN layers equal the plain ones: FlatDense vs flax Dense, the matmul graph
aggregation vs the ST-GCN einsum (values and gradients, with and without vmap over instances); bfloat16 products
accumulate in float32 on CPU, forward and backward."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from infantjax.nn.dense import FlatDense, matmul
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


def _bf16(rng, shape):
    return jnp.asarray(rng.normal(size=shape), jnp.bfloat16)


def test_bfloat16_matmul_accumulates_in_float32_forward_and_backward(cpu_policy):
    rng = np.random.default_rng(0)
    a, b, r = _bf16(rng, (64, 300)), _bf16(rng, (300, 16)), _bf16(rng, (64, 16))
    exact = np.asarray(a, np.float64) @ np.asarray(b, np.float64)
    got = matmul(a, b)
    assert got.dtype == jnp.bfloat16
    # one rounding of a float32 sum: within half a bfloat16 step (2^-8 relative) plus float32 summation noise
    np.testing.assert_allclose(np.asarray(got, np.float64), exact, rtol=2 ** -8 + 1e-5, atol=1e-4)
    # a bfloat16-accumulated product of 300 terms is further off than that on some element
    naive = np.asarray(jax.jit(lambda a, b: jnp.dot(a, b, preferred_element_type=jnp.bfloat16))(a, b), np.float64)
    assert np.abs(got - exact).max() <= np.abs(naive - exact).max()

    def loss(a, b):
        return (matmul(a, b).astype(jnp.float32) * r.astype(jnp.float32)).sum()

    text = str(jax.make_jaxpr(jax.grad(loss, argnums=(0, 1)))(a, b))
    assert text.count("preferred_element_type=float32") == 3  # forward and both gradient products
    ga, gb = jax.grad(loss, argnums=(0, 1))(a, b)
    r64 = np.asarray(r, np.float64)
    np.testing.assert_allclose(np.asarray(ga, np.float64), r64 @ np.asarray(b, np.float64).T, rtol=2 ** -8 + 1e-5,
                               atol=1e-3)
    np.testing.assert_allclose(np.asarray(gb, np.float64), np.asarray(a, np.float64).T @ r64, rtol=2 ** -8 + 1e-5,
                               atol=1e-3)


def test_float32_matmul_is_the_plain_product_and_vmap_batches_bfloat16():
    rng = np.random.default_rng(1)
    a = jnp.asarray(rng.normal(size=(8, 5)), jnp.float32)
    b = jnp.asarray(rng.normal(size=(5, 3)), jnp.float32)
    assert "custom_vjp" not in str(jax.make_jaxpr(matmul)(a, b))
    np.testing.assert_array_equal(matmul(a, b), a @ b)
    a3, b3 = _bf16(rng, (3, 8, 40)), _bf16(rng, (3, 40, 6))
    batched = jax.vmap(matmul)(a3, b3)
    assert batched.dtype == jnp.bfloat16 and batched.shape == (3, 8, 6)
    for i in range(3):
        np.testing.assert_array_equal(batched[i], matmul(a3[i], b3[i]))
    g = jax.grad(lambda a: jax.vmap(matmul)(a, b3).astype(jnp.float32).sum())(a3)
    for i in range(3):
        want = jax.grad(lambda a: matmul(a, b3[i]).astype(jnp.float32).sum())(a3[i])
        np.testing.assert_array_equal(g[i], want)


def test_bfloat16_flat_dense_runs_its_product_through_matmul(cpu_policy):
    x = _bf16(np.random.default_rng(2), (2, 5, 19, 6))
    layer = FlatDense(9, dtype=jnp.bfloat16)
    params = layer.init(jax.random.PRNGKey(0), x)
    assert "_low_precision_matmul" in str(jax.make_jaxpr(layer.apply)(params, x))
    y = layer.apply(params, x)
    assert y.dtype == jnp.bfloat16 and y.shape == (2, 5, 19, 9)
