"""The inference BatchNorm of the accelerator policy (``Policy.bn_inference``, issue 37 item 3).

Under the accelerator policy a network that computes in bfloat16 evaluates its BatchNorms as the folded per-channel
multiply-add in bfloat16 (:class:`infantjax.nn.norm.AffineBatchNorm`), so that no float32 copy of an activation
exists in its program: compiled for a v5e-8, the exact form's float32 upcast made XLA:TPU keep the preceding
products' results in float32 (docs/performance.md). Training, float32 networks and the CPU policy keep the exact form.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from infantjax import backend
from infantjax.models.gcn import GCNSpec, SearchableGCN
from infantjax.nn.norm import AffineBatchNorm, GroupedBatchNorm, TorchBatchNorm, batch_norm
from infantjax.nn.rows import stacked_training


def _perturbed(variables, seed: int = 2):
    """Variables with non-trivial statistics and affine parameters (variances kept positive)."""
    leaves, tree = jax.tree_util.tree_flatten_with_path(variables)
    keys = jax.random.split(jax.random.key(seed), len(leaves))
    out = []
    for (path, leaf), key in zip(leaves, keys):
        noise = jax.random.normal(key, leaf.shape)
        out.append(jnp.exp(noise) * 0.5 if "var" in jax.tree_util.keystr(path) else leaf + noise)
    return jax.tree_util.tree_unflatten(tree, out)


def test_the_policies_name_their_inference_batchnorm():
    assert backend.policy("cpu").bn_inference == "exact"
    assert backend.policy("accelerator").bn_inference == backend.policy("tpu").bn_inference == "affine"


@pytest.mark.parametrize("numerics", ["flax", "torch"])
def test_the_affine_form_is_chosen_only_for_low_precision_evaluation_under_the_accelerator_policy(numerics):
    chosen = {}
    for policy in ("cpu", "accelerator"):
        for train in (False, True):
            for dtype in (jnp.float32, jnp.bfloat16, jnp.float16):
                for stacked in (1, 7):
                    with backend.use(policy), stacked_training(stacked):
                        module = batch_norm(train, convention="torch", dtype=dtype, numerics=numerics)
                    chosen[policy, train, jnp.dtype(dtype).name, stacked] = type(module)
    affine = {key for key, kind in chosen.items() if kind is AffineBatchNorm}
    assert affine == {("accelerator", False, dtype, stacked) for dtype in ("bfloat16", "float16")
                      for stacked in (1, 7)}
    # training under the accelerator policy, in a step of 7 stacked instances: the grouped reductions' BatchNorm
    # (Policy.narrow_reductions "stacked training"); one instance's step keeps the plain one
    grouped = {key for key, kind in chosen.items() if kind is GroupedBatchNorm}
    assert grouped == {("accelerator", True, dtype, 7) for dtype in ("float32", "bfloat16", "float16")}
    exact = TorchBatchNorm if numerics == "torch" else nn.BatchNorm
    assert {kind for kind in chosen.values() if kind not in (AffineBatchNorm, GroupedBatchNorm)} == {exact}


@pytest.mark.parametrize("convention", ["torch", "keras"])
def test_the_affine_form_has_the_same_variables_and_evaluates_the_same_map(convention):
    x = jax.random.normal(jax.random.key(0), (64, 19, 40)) * 3.0 + 1.0
    with backend.use("cpu"):
        exact = batch_norm(False, convention=convention, dtype=jnp.bfloat16)
    with backend.use("accelerator"):
        affine = batch_norm(False, convention=convention, dtype=jnp.bfloat16)
    assert isinstance(affine, AffineBatchNorm) and not isinstance(exact, AffineBatchNorm)
    v_exact, v_affine = exact.init(jax.random.key(1), x), affine.init(jax.random.key(1), x)
    # the same variables, initial values included: a checkpoint trained in one form evaluates in the other
    assert jax.tree_util.tree_structure(v_exact) == jax.tree_util.tree_structure(v_affine)
    for a, b in zip(jax.tree_util.tree_leaves(v_exact), jax.tree_util.tree_leaves(v_affine)):
        assert a.dtype == b.dtype == jnp.float32 and (np.asarray(a) == np.asarray(b)).all()
    variables = _perturbed(v_exact)
    y_exact = np.asarray(exact.apply(variables, x), np.float64)
    y_affine = np.asarray(affine.apply(variables, x), np.float64)
    assert affine.apply(variables, x).dtype == jnp.bfloat16
    # float64 truth of the same map, from the same bfloat16 input
    stats, params = variables["batch_stats"], variables["params"]
    eps = 1e-5 if convention == "torch" else 1e-3
    xb = np.asarray(jnp.asarray(x, jnp.bfloat16), np.float64)
    m = np.asarray(params["scale"], np.float64) / np.sqrt(np.asarray(stats["var"], np.float64) + eps)
    truth = (xb - np.asarray(stats["mean"], np.float64)) * m + np.asarray(params["bias"], np.float64)
    scale = np.abs(truth).max()
    # bfloat16 keeps 8 significant bits (a rounding: ≤ 2⁻⁹ of a value); both forms stay within a few roundings of
    # the output's range: the exact form normalises in float32 and rounds the result, the affine form rounds m, the
    # shift, the product and the sum
    err_exact, err_affine = np.abs(y_exact - truth).max() / scale, np.abs(y_affine - truth).max() / scale
    print(f"max error / max |y|: exact {err_exact:.2e}, affine {err_affine:.2e}")
    assert err_exact <= 2.0 ** -7 and err_affine <= 2.0 ** -6
    assert np.abs(y_affine - truth).max() > 0  # it really computes in bfloat16


def test_the_affine_form_in_float32_is_the_exact_map_to_rounding():
    x = jax.random.normal(jax.random.key(0), (32, 19, 24)) * 2.0 - 0.5
    exact = batch_norm(False, convention="torch", dtype=jnp.float32)
    variables = _perturbed(exact.init(jax.random.key(1), x))
    y = AffineBatchNorm(epsilon=1e-5, dtype=jnp.float32).apply(variables, x)
    np.testing.assert_allclose(np.asarray(y), np.asarray(exact.apply(variables, x)), rtol=1e-5, atol=1e-5)


def _float32_in_batchnorms(fn, *args, floor: int):
    """(primitive, shape, layer) of the float32 arrays of at least ``floor`` elements that ``fn``'s jaxpr computes
    inside a BatchNorm layer (a layer whose name contains ``bn``; sub-jaxprs included)."""
    from jax.extend.core import jaxprs_in_params

    found = []

    def walk(jaxpr):
        for eqn in jaxpr.eqns:
            layers = str(eqn.source_info.name_stack).split("/")
            for var in eqn.outvars:
                aval = var.aval
                if (getattr(aval, "dtype", None) == jnp.float32 and np.prod(aval.shape, dtype=np.int64) >= floor
                        and any("bn" in layer for layer in layers)):
                    found.append((eqn.primitive.name, tuple(aval.shape), "/".join(layers)))
            for sub in jaxprs_in_params(eqn.params):
                walk(sub)

    walk(jax.make_jaxpr(fn)(*args).jaxpr)
    return found


def test_a_bfloat16_gcn_evaluates_its_batchnorms_without_float32_activations_under_the_accelerator_policy():
    """The whole Table A.4 #1 network in evaluation: under the accelerator policy no BatchNorm computes a float32
    array of activation size; under the CPU policy every one does (the exact form's upcast)."""
    spec = GCNSpec.table_a4()[0]
    model = SearchableGCN(spec)
    x = jnp.zeros((2, 30, 19, 6), jnp.float32)
    floor = 2 * 15 * 19 * 8  # the smallest activation (batch × frames after the first stride × joints × 8)
    found = {}
    for policy in ("cpu", "accelerator"):
        with backend.use(policy, compute_dtype="bfloat16"):
            variables = jax.eval_shape(lambda: model.init(jax.random.key(0), x, train=False))
            found[policy] = _float32_in_batchnorms(lambda v, x: model.apply(v, x, train=False), variables, x,
                                                   floor=floor)
            logits, features = jax.eval_shape(lambda v, x: model.apply(v, x, train=False), variables, x)
        assert logits.dtype == features.dtype == jnp.float32  # outputs stay float32 by contract
    assert found["accelerator"] == []
    normalised = {layer for _, _, layer in found["cpu"]}
    assert len(normalised) >= 20, normalised  # for contrast: every BatchNorm of the exact form upcasts
