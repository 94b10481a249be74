"""Reductions over grouped rows (``infantjax.nn.rows``, ``Policy.narrow_reductions = "grouped"``): a training
BatchNorm's statistics, a channel attention's pooling and scale, and the biases of convolutions and Dense layers
over rows viewed g at a time give the values of the plain forms up to the order of the float additions, with the
same variables and gradients."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _train_utils import filled_variables

from infantjax import backend
from infantjax.nn.norm import GroupedBatchNorm, batch_norm
from infantjax.nn.rows import add_bias, grouping, mean_rows, scale_rows


def test_grouping_widens_narrow_rows_with_a_divisor():
    assert grouping(91_200, 40) == 15  # a BatchNorm of Table A.4 #1's step at batch 32: 6,080 rows of 600
    assert grouping(2_850, 40) == 15  # a channel attention's pooling over 150 frames x 19 joints
    assert grouping(91_200, 64) == 1 and grouping(91_200, 256) == 1  # not narrow
    assert grouping(97, 40) == 1  # a prime number of rows: nothing divides it
    assert grouping(8, 40) == 8  # fewer rows than a wide row needs: all of them
    assert grouping(1, 10) == 1


def test_mean_rows_is_the_mean_over_the_rows_either_way():
    x = jax.random.normal(jax.random.key(0), (3, 30, 19, 12))
    plain = x.mean(axis=(1, 2))
    for form in ("as is", "grouped"):
        with backend.use("accelerator", narrow_reductions=form):
            out = mean_rows(x, 1)
        assert out.shape == (3, 12) and out.dtype == x.dtype
        np.testing.assert_allclose(np.asarray(out), np.asarray(plain), rtol=1e-5, atol=1e-6)
    with backend.use("accelerator", narrow_reductions="grouped"):
        low = mean_rows(x.astype(jnp.bfloat16), 1)
    assert low.dtype == jnp.bfloat16
    np.testing.assert_allclose(np.asarray(low, np.float32), np.asarray(plain), atol=2e-2)


def test_a_bias_and_a_scale_of_the_rows_are_the_same_and_differentiate_the_same():
    """Forward bit for bit (the same additions and products), gradients (the column sums) to rounding, and the
    compiled gradient of the grouped bias reduces (R/g, g·F), not (R, F)."""
    x = jax.random.normal(jax.random.key(4), (4, 30, 19, 10))
    b = jnp.linspace(-1.0, 1.0, 10)
    a = jax.random.uniform(jax.random.key(5), (4, 10))
    cot = jax.random.normal(jax.random.key(6), x.shape)

    def loss(x, b, a):
        return jnp.sum(add_bias(scale_rows(x, a, 1), b) * cot)

    results = {}
    for form in ("as is", "grouped"):
        with backend.use("accelerator", narrow_reductions=form):
            y = jax.jit(lambda x, b, a: add_bias(scale_rows(x, a, 1), b))(x, b, a)
            grads = jax.jit(jax.grad(loss, argnums=(0, 1, 2)))(x, b, a)
            hlo = jax.jit(jax.grad(lambda b: jnp.sum(add_bias(x, b) * cot))).lower(b).as_text()
        results[form] = y, grads, hlo
    (y1, g1, h1), (y2, g2, h2) = results["as is"], results["grouped"]
    np.testing.assert_array_equal(np.asarray(y2), np.asarray(y1))
    np.testing.assert_array_equal(np.asarray(y1), np.asarray(x * a[:, None, None, :] + b))
    for p, q in zip(g1, g2, strict=True):
        np.testing.assert_allclose(np.asarray(q), np.asarray(p), rtol=1e-5, atol=1e-4)
    # the bias's gradient: a sum over the 2,280 rows of 10 as is; grouped, over 4 samples x 10 rows of 57 x 10 (a
    # sample's 570 rows grouped, the batch axis kept whole), then 57 of 10
    assert "(tensor<4x30x19x10xf32>, tensor<f32>) -> tensor<10xf32>" in h1
    assert "(tensor<4x10x570xf32>, tensor<f32>) -> tensor<570xf32>" in h2 and "tensor<4x30x19x10xf32>, tensor<f32>" not in h2
    with backend.use("accelerator", narrow_reductions="grouped"):
        assert add_bias(jnp.ones((3, 64)), jnp.ones(64)).shape == (3, 64)  # 64 channels are not narrow: as is
        np.testing.assert_array_equal(np.asarray(add_bias(jnp.zeros(5), jnp.ones(5))), np.ones(5))  # one row


def test_grouped_rows_stay_within_a_devices_shard_of_the_batch():
    """The batch split over 4 devices (a data-parallel mesh): a grouped BatchNorm, bias, scale and pooling and their
    gradients compile without an all-gather (groups never span two samples, so the grouped view is a reshape of
    each device's shard; 48 rows a group over the 9,120 rows of the whole batch would span them)."""
    from jax.sharding import Mesh, NamedSharding, PartitionSpec

    mesh = Mesh(np.array(jax.devices()[:4]), ("data",))
    x = jnp.ones((32, 15, 19, 12))
    by_sample = NamedSharding(mesh, PartitionSpec("data"))
    with backend.use("accelerator", narrow_reductions="grouped"):
        bn = batch_norm(True, "bn", convention="torch", dtype=jnp.float32)
        variables = bn.init(jax.random.key(0), x)

        def loss(params, x, b, a):
            y, _ = bn.apply({**variables, "params": params}, x, mutable=["batch_stats"])
            y = add_bias(y, b)
            return jnp.sum(jnp.square(scale_rows(y, a, 1) + mean_rows(y, 1)[:, None, None, :]))

        step = jax.jit(jax.grad(loss, argnums=(0, 1, 2, 3)), in_shardings=(None, by_sample, None, by_sample))
        text = step.lower(variables["params"], x, jnp.ones(12), jnp.ones((32, 12))).compile().as_text()
    assert "all-reduce" in text and "all-gather" not in text


@pytest.mark.parametrize("numerics", ["flax", "flax two-pass", "torch"])
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_a_grouped_batchnorm_trains_as_the_plain_one(numerics, dtype):
    """Outputs, updated running statistics and gradients (input, scale, shift) of a training BatchNorm on a
    (N, T, V, 10) input with a mean far from zero, grouped against the plain module of the same numerics (Flax's
    fast or two-pass variance, PyTorch's)."""
    x = 3.0 + jax.random.normal(jax.random.key(1), (4, 30, 19, 10)) * jnp.linspace(0.5, 2.0, 10)
    x = x.astype(dtype)
    cot = jax.random.normal(jax.random.key(2), x.shape)
    results = {}
    for form in ("as is", "grouped"):
        with backend.use("accelerator", narrow_reductions=form):
            layer = batch_norm(True, "bn", convention="torch", dtype=dtype, numerics=numerics.split()[0],
                               use_fast_variance=numerics != "flax two-pass")
            assert isinstance(layer, GroupedBatchNorm) == (form == "grouped")
            variables = jax.jit(layer.init)(jax.random.key(0), x)  # eagerly: a program per op
            variables = {"params": {"scale": jnp.linspace(0.5, 1.5, 10), "bias": jnp.linspace(-1.0, 1.0, 10)},
                         "batch_stats": variables["batch_stats"]}

            def loss(params, x, layer=layer, variables=variables):
                y, updated = layer.apply({**variables, "params": params}, x, mutable=["batch_stats"])
                return jnp.sum(y.astype(jnp.float32) * cot), (y, updated["batch_stats"])

            (_, (y, stats)), grads = jax.jit(jax.value_and_grad(loss, argnums=(0, 1), has_aux=True))(
                variables["params"], x)
        results[form] = y, stats, grads
    (y1, s1, g1), (y2, s2, g2) = results["as is"], results["grouped"]
    assert y2.dtype == y1.dtype == jnp.dtype(dtype)
    tol = 1e-4 if dtype == "float32" else 4e-2
    np.testing.assert_allclose(np.asarray(y2, np.float32), np.asarray(y1, np.float32), rtol=tol, atol=tol)
    for name in ("mean", "var"):
        np.testing.assert_allclose(np.asarray(s2[name]), np.asarray(s1[name]), rtol=1e-4, atol=1e-5)
    for a, b in zip(jax.tree_util.tree_leaves(g2), jax.tree_util.tree_leaves(g1), strict=True):
        a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
        scale = float(np.abs(b).max())
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol * max(scale, 1.0))


def test_a_gcn_training_step_is_the_same_under_grouped_reductions():
    """A searchable GCN with channel attention, in training (batch statistics) and evaluation: logits, updated
    statistics and parameter gradients under grouped reductions: the same function as the plain reductions in
    float64, where only the order of the sums differs (float32 and bfloat16: the BatchNorm test above)."""
    from infantjax.models.gcn import GCNSpec, build_model

    spec = GCNSpec(graph="dis2", input_width=6, num_input_modules=1, initial_block_type="basic",
                   initial_residual="block", input_temporal_scales=2, initial_main_width=8, num_main_levels=1,
                   num_main_level_modules=1, block_type="basic", bottleneck_factor=2, residual="module",
                   main_temporal_scales=2, temporal_kernel_size=5, se="null", attention="channel",
                   pool="global", dtype="float32")
    model = build_model(spec)
    rng = np.random.default_rng(3)
    x = rng.normal(size=(4, 12, 19, 6))
    with backend.use("accelerator"):
        shapes = jax.eval_shape(lambda: model.init(jax.random.key(0), x.astype(np.float32), train=False))

    # init's structure filled in NumPy, in float64: running init eagerly compiled ~200 programs, and the forms only
    # need the same variables
    as64 = filled_variables(shapes, rng, np.float64)

    def run(form, x, variables):
        with backend.use("accelerator", narrow_reductions=form, compute_dtype="float32"):
            def loss(params):
                (logits, _), updated = model.apply({**variables, "params": params}, x, train=True,
                                                   mutable=["batch_stats"])
                return jnp.sum(jax.nn.log_softmax(logits)[:, 0]), (logits, updated["batch_stats"])

            (_, (logits, stats)), grads = jax.jit(jax.value_and_grad(loss, has_aux=True))(variables["params"])
            evaluated = jax.jit(lambda v: model.apply(v, x, train=False)[0])(variables)
        return [np.asarray(a, np.float64) for a in jax.tree_util.tree_leaves((logits, stats, grads, evaluated))]

    # in float64 the two forms are the same function: their sums differ in order only, which the fast variance
    # E[x²] − E[x]² amplifies by (mean ÷ spread)² (float32 would differ from float64 by 1e-4 here)
    with jax.enable_x64(True):
        plain, grouped = run("as is", x, as64), run("grouped", x, as64)
    for p, g in zip(plain, grouped, strict=True):
        np.testing.assert_allclose(g, p, rtol=1e-6, atol=1e-9 * max(float(np.abs(p).max()), 1.0))


def test_the_gpu_policy_groups_only_in_a_training_step_of_stacked_instances(monkeypatch):
    """``narrow_reductions = "stacked training"`` (the GPU policy): grouped inside a ``stacked_training`` block of
    two or more instances only. The engine opens it around the trace of its vmapped step: a step of 2 instances on
    one device traces grouped reductions, a step of 1 (and the forward of scoring) none."""
    import infantjax.nn.rows as rows
    from infantjax.aot.catalogue import program

    table = {}
    for mode in ("as is", "grouped", "stacked training"):
        with backend.use("accelerator", narrow_reductions=mode):
            outside = rows.grouped()
            with rows.stacked_training(1):
                one = rows.grouped()
            with rows.stacked_training(7):
                seven = rows.grouped()
                with rows.stacked_training(1):  # nested: still inside the stacked step
                    nested = rows.grouped()
            table[mode] = (outside, one, seven, nested)
    assert table == {"as is": (False,) * 4, "grouped": (True,) * 4, "stacked training": (False, False, True, True)}
    assert backend.policy("accelerator").narrow_reductions == "stacked training"

    widened = []
    sum_groups = rows.sum_groups

    def counted(v, g, channels):
        widened.append(g)
        return sum_groups(v, g, channels)

    monkeypatch.setattr(rows, "sum_groups", counted)
    traced = {}
    with backend.use("accelerator"):
        for instances in (1, 2):
            widened.clear()
            built = program("cp-train").build(jax.devices()[:1], 4, instances, "small")
            jax.eval_shape(built.fn, *built.args)  # traced, not compiled
            traced[instances] = sum(g > 1 for g in widened)
    assert traced[1] == 0 and traced[2] > 0
