"""The Flax GCNs: forward/backward of every Table A.4 architecture and ST-GCN, each choice's effect, the reference
quirks and their corrections, initialisation, CAM and input validation (seed 002 Appendix A; gcn_reference A)."""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _train_utils import filled_variables
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infantjax import skeleton as skeleton_lib
from infantjax.errors import ConfigError, DataError, SkeletonMismatchError
from infantjax.models import count_parameters
from infantjax.models.gcn import (
    CHOICES,
    GCNSpec,
    STGCNSpec,
    build_model,
    class_activation_map,
    count_flops,
)
from infantjax.nn.graph import DepthwiseGraphConv, GraphConv, mbconv_source_channels

# Compile without backend optimisation: the tests run each program a few times, so compile time dominates.
FAST_COMPILE = {"xla_backend_optimization_level": 0}
V = 19


def _channels(spec):
    return 6 if isinstance(spec, GCNSpec) else spec.in_channels


def _window(spec, n=2, t=150, seed=0):
    rng = np.random.default_rng(seed)
    return jnp.asarray(rng.normal(size=(n, t, V, _channels(spec))).astype(np.float32))


def _shapes(model, x):
    return jax.eval_shape(lambda: model.init(jax.random.key(0), x, train=False))


def _random_variables(model, x, seed=0):
    """Variables with the model's structure filled from NumPy, every kernel and bias N(0, 0.2²)
    (:func:`_train_utils.filled_variables`; compiling the real initialisers is slow, and they are tested on their own
    below)."""
    return filled_variables(_shapes(model, x), np.random.default_rng(seed), scale=0.2)


def _train_step(model, variables, x, labels):
    def loss_fn(params, batch_stats):
        (logits, features), updates = model.apply({"params": params, "batch_stats": batch_stats}, x, train=True,
                                                  mutable=["batch_stats"])
        logp = jax.nn.log_softmax(logits)
        return -jnp.take_along_axis(logp, labels[:, None], axis=1).mean(), (updates, logits, features)

    step = jax.jit(jax.value_and_grad(loss_fn, has_aux=True))
    compiled = step.lower(variables["params"], variables["batch_stats"]).compile(FAST_COMPILE)
    return compiled(variables["params"], variables["batch_stats"])


def _check_forward_backward(spec, t=150):
    model = build_model(spec)
    x = _window(spec, t=t)
    variables = _random_variables(model, x)
    (loss, (updates, logits, features)), grads = _train_step(model, variables, x, jnp.array([0, 1]))
    assert logits.shape == (2, spec.num_classes)
    head = spec.head_channels if isinstance(spec, GCNSpec) else spec.channels[-1]
    levels = spec.num_main_levels if isinstance(spec, GCNSpec) else sum(s == 2 for s in spec.strides)
    t_out = t
    for _ in range(levels):
        t_out = (t_out - 1) // 2 + 1
    assert features.shape == (2, t_out, V, head)
    assert np.isfinite(float(loss))
    # checked in NumPy: eager jnp.isfinite(g).all() compiled two programs per gradient shape (~1 s a network)
    assert all(np.isfinite(np.asarray(g)).all() for g in jax.tree.leaves(grads))
    assert jax.tree.structure(grads) == jax.tree.structure(variables["params"])
    # training mode updates the BatchNorm statistics
    old = jax.tree.leaves(variables["batch_stats"])
    new = jax.tree.leaves(updates["batch_stats"])
    assert any(not np.allclose(a, b) for a, b in zip(old, new))
    assert count_parameters(variables["params"]) == count_parameters(spec, convention="live")


# ---------------------------------------------------------------------------------------- all eleven networks

_ALL = [*GCNSpec.table_a4(), STGCNSpec()]
_DEFAULT_RUN = {10}  # ST-GCN; the ten Table A.4 networks are slow (every alternative trains by default, below)


@pytest.mark.parametrize(
    "index",
    [i if i in _DEFAULT_RUN else pytest.param(i, marks=pytest.mark.slow) for i in range(len(_ALL))],
    ids=[f"kbest{i + 1}" for i in range(10)] + ["stgcn"],
)
def test_table_a4_and_stgcn_forward_backward(index):
    """Every Table A.4 architecture and ST-GCN trains one step on a (2, 150, 19, C) batch."""
    _check_forward_backward(_ALL[index])


@pytest.mark.parametrize("index", range(len(_ALL)), ids=[f"kbest{i + 1}" for i in range(10)] + ["stgcn"])
def test_flax_parameters_equal_live_count(index):
    spec = _ALL[index]
    model = build_model(spec)
    shapes = _shapes(model, _window(spec, t=150))
    assert count_parameters(shapes["params"]) == count_parameters(spec, convention="live")


#: Four specs (columns) in which every alternative of every choice (rows) occurs. The alternatives that size the
#: network are spread over the specs, so that none is large: the three input modules (in each of the three input
#: branches) have one temporal scale and no attention or SE, the linear scales go with two modules, and attention,
#: SE, MBConv and dense residuals, which add layers to every module, with the specs of fewest modules. Their training
#: steps hold 39 % fewer JAX operations to trace and compile than those of four specs of cyclically assigned
#: alternatives (the set used before).
_COVERING = {
    "graph": ("spatial", "dis2", "dis4", "dis42"),
    "input_width": (6, 8, 10, 12),
    "num_input_modules": (3, 2, 1, 1),
    "initial_block_type": ("basic", "bottleneck", "basic", "mbconv"),
    "initial_residual": ("null", "block", "module", "dense"),
    "input_temporal_scales": (1, "linear", 3, 2),
    "initial_main_width": (6, 8, 10, 12),
    "num_main_levels": (1, 1, 2, 1),
    "num_main_level_modules": (3, 2, 1, 1),
    "block_type": ("basic", "bottleneck", "basic", "mbconv"),
    "bottleneck_factor": (2, 4, 2, 4),
    "residual": ("null", "block", "module", "dense"),
    "main_temporal_scales": (1, "linear", 2, 3),
    "temporal_kernel_size": (3, 5, 7, 9),
    "se": ("null", "inner", "outer", "both"),
    "se_ratio": (2, 4, 2, 4),
    "se_type": ("relative", "absolute", "relative", "absolute"),
    "nonlinearity": ("relu", "swish", "relu", "swish"),
    "attention": ("null", "frame", "channel", "joint"),
    "pool": ("global", "spatial", "global", "spatial"),
}


def _covering_specs():
    """The four specs of ``_COVERING``, in which every alternative of every choice occurs."""
    return [GCNSpec(**{k: v[j] for k, v in _COVERING.items()}) for j in range(4)]


def test_covering_specs_hit_every_alternative():
    specs = _covering_specs()
    assert set(_COVERING) == set(CHOICES)
    for key, alternatives in CHOICES.items():
        assert {getattr(s, key) for s in specs} == set(alternatives), key


@pytest.mark.parametrize("j", range(4))
def test_every_alternative_trains(j):
    """Together these four specs use every alternative of every choice; each trains a step (short window)."""
    _check_forward_backward(_covering_specs()[j], t=24)


def test_frame_attention_gradients_finite_at_fast_compile():
    """Regression: with JAX's ``x.max`` in FrameAttention a GCN with frame attention gave a finite loss but non-finite
    gradients when compiled at ``FAST_COMPILE`` (the max's tie count came out 0); the argmax gather has no division.
    Found with frame attention, 3 temporal scales and MBConv blocks (189 of 195 gradient leaves non-finite); the
    smallest searchable GCN with frame attention, checked here, fails the same way with ``x.max`` (54 of 60)."""
    from infantjax.models.gcn.presets import demo_spec

    spec = demo_spec(temporal_kernel_size=3, attention="frame")
    _check_forward_backward(spec, t=24)


def test_frame_attention_max_pool_value_and_single_index_gradient():
    """The max pooling of FrameAttention equals ``x.max`` over (V, C) and, like PyTorch's max pooling, sends each
    (n, t) gradient to one element, the first maximum in (V, C) order, also when values tie (ReLU zeros)."""
    from infantjax.nn.attention import _max_over_joints_and_channels as pool_max

    x = np.random.default_rng(3).normal(size=(2, 5, V, 4)).astype(np.float32)
    x[1, 2] = 0.0  # an all-zero frame
    x[0, 4, 3, 1] = x[0, 4, 7, 2] = 9.0  # and a tie at 9
    # jitted (one program each; eagerly every op compiled on its own), compared with NumPy's max
    np.testing.assert_array_equal(np.asarray(jax.jit(pool_max)(x)), x.max(axis=(2, 3)))
    g = np.asarray(jax.jit(jax.grad(lambda z: pool_max(z).sum()))(x))
    assert np.isfinite(g).all()
    np.testing.assert_array_equal((g != 0).sum(axis=(2, 3)), np.ones((2, 5)))
    assert g[1, 2, 0, 0] == 1.0 and g[0, 4, 3, 1] == 1.0 and g[0, 4, 7, 2] == 0.0
    flat = x.reshape(2, 5, -1)
    np.testing.assert_array_equal(g.reshape(2, 5, -1).argmax(-1), flat.argmax(-1))


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.fixed_dictionaries({k: st.sampled_from(v) for k, v in CHOICES.items()}),
       st.sampled_from(["reference", "corrected"]))
def test_random_specs_shapes_and_live_counts(choices, mode):
    spec = GCNSpec(**choices)
    model = build_model(spec, mode=mode)
    x = _window(spec, n=3, t=40)
    shapes = _shapes(model, x)
    assert count_parameters(shapes["params"]) == count_parameters(spec, convention="live", mode=mode)
    if mode == "reference":
        assert count_parameters(spec, convention="reference") >= count_parameters(spec, convention="live")
    logits, features = jax.eval_shape(lambda v: model.apply(v, x, train=False), shapes)
    assert logits.shape == (3, 2)
    assert features.shape[:3] == (3, 20 if spec.num_main_levels == 1 else 10, V)
    assert features.shape[3] == spec.head_channels
    assert count_flops(spec, "full", mode=mode) > count_flops(spec, "reference", mode=mode) > 0


# ------------------------------------------------------------------------------- each choice in isolation

def _live(spec, mode="reference"):
    """Live parameter count, from the counter and from the Flax model (which must agree)."""
    model = build_model(spec, mode=mode)
    n = count_parameters(_shapes(model, _window(spec, n=2, t=16))["params"])
    assert n == count_parameters(spec, convention="live", mode=mode)
    return n


def _se(c, r):
    return 2 * c * (c // r)


_SE_BASE = GCNSpec(graph="dis2", input_width=6, num_input_modules=2, initial_block_type="basic",
                   input_temporal_scales=2, initial_main_width=6, num_main_levels=2, num_main_level_modules=1,
                   block_type="basic", bottleneck_factor=2, main_temporal_scales=2, temporal_kernel_size=3,
                   se="null", se_ratio=2, se_type="absolute", attention="null", pool="global")


def _modules(spec):
    return [*spec.input_modules()] * spec.num_input_branches + [*spec.main_modules()]


def test_se_inner_outer_both_add_exactly_their_layers():
    """gcn_reference A.6: inner = SE in the spatial block and in every temporal branch; outer = SE after the
    multi-scale fusion; both = both."""
    base = _live(_SE_BASE)
    mods = _modules(_SE_BASE)
    inner = sum(_se(m.out_channels, 2) * (1 + m.temporal_scales) for m in mods)
    outer = sum(_se(m.out_channels, 2) for m in mods)
    assert _live(dataclasses.replace(_SE_BASE, se="inner")) - base == inner
    assert _live(dataclasses.replace(_SE_BASE, se="outer")) - base == outer
    assert _live(dataclasses.replace(_SE_BASE, se="both")) - base == inner + outer


def test_outer_se_is_built_but_not_run_at_one_scale():
    """Reference quirk: with one temporal scale the outer SE (and the fusion conv) are counted but skipped;
    the corrected mode applies the outer SE."""
    one = dataclasses.replace(_SE_BASE, input_temporal_scales=1, main_temporal_scales=1)
    outer = dataclasses.replace(one, se="outer")
    se_params = sum(_se(m.out_channels, 2) for m in _modules(one))
    reference = functools.partial(count_parameters, convention="reference")
    assert reference(outer) - reference(one) == se_params
    assert _live(outer) == _live(one)
    assert _live(outer, "corrected") - _live(one, "corrected") == se_params


def test_relative_se_ratio_doubles_per_main_level():
    spec = dataclasses.replace(_SE_BASE, se="outer")
    level1 = [m for m in spec.main_modules() if m.level == 1]
    diff = sum(_se(m.out_channels, 2) - _se(m.out_channels, 4) for m in level1)
    assert _live(spec) - _live(dataclasses.replace(spec, se_type="relative")) == diff


def test_mbconv_outer_se_is_always_on_in_reference_mode():
    """Reference quirk: an MBConv temporal block gets an outer SE of ratio max(1, int(r/e)), ratio 1 with SE off."""
    spec = dataclasses.replace(_SE_BASE, block_type="mbconv")
    mbconv = [m for m in _modules(spec) if m.block_type == "mbconv" and m.temporal_scales > 1]
    assert _live(spec) - _live(spec, "corrected") == sum(_se(m.out_channels, 1) for m in mbconv)
    params = _shapes(build_model(spec), _window(spec, t=16))["params"]
    assert "outer_se" in params["main0_module0"]["temporal"]
    params = _shapes(build_model(spec, mode="corrected"), _window(spec, t=16))["params"]
    assert "outer_se" not in params["main0_module0"]["temporal"]


@pytest.mark.parametrize("attention", ["channel", "frame", "joint"])
def test_attention_adds_its_layers_to_every_module(attention):
    base = _live(_SE_BASE)
    k = _SE_BASE.temporal_kernel_size

    def params(c):
        if attention == "channel":
            h = c // 4
            return c * h + h + 2 * h + h * c + c + 2 * c
        if attention == "frame":
            return 2 * k + 1 + 2 * c
        h = V // 2
        return V * h + h + 2 * h + h * V + V + 2 * c

    expected = sum(params(m.out_channels) for m in _modules(_SE_BASE))
    assert _live(dataclasses.replace(_SE_BASE, attention=attention)) - base == expected


def test_edge_importance_is_one_mask_per_module():
    spec = dataclasses.replace(_SE_BASE, graph="dis42")
    k_in, k_main = spec.partitions
    n_in = spec.num_input_branches * spec.num_input_modules
    n_main = len(spec.main_modules())
    assert _live(spec) - _live(dataclasses.replace(spec, edge_importance=False)) == (
        n_in * k_in * V * V + n_main * k_main * V * V)


def test_temporal_kernel_size_and_width_rules():
    # basic temporal conv C→C with kernel k per scale: 9 vs 3 adds 6·C·C per branch
    spec = _SE_BASE
    wide = dataclasses.replace(spec, temporal_kernel_size=9)
    assert _live(wide) - _live(spec) == sum(6 * m.out_channels ** 2 * m.temporal_scales for m in _modules(spec))
    # width = base × bottleneck factor for basic/bottleneck modules, base for MBConv (gcn_reference A.4)
    assert GCNSpec.table_a4()[0].input_modules()[0].out_channels == 40
    mb = dataclasses.replace(spec, initial_block_type="mbconv", block_type="mbconv")
    assert [m.out_channels for m in mb.input_modules()] == [6, 6]
    assert [m.out_channels for m in mb.main_modules()] == [6, 12]


def test_spatial_head_adds_the_pooling_conv():
    c = _SE_BASE.head_channels
    assert _live(dataclasses.replace(_SE_BASE, pool="spatial")) - _live(_SE_BASE) == c * V * c + c


def test_linear_temporal_scales():
    spec = dataclasses.replace(_SE_BASE, num_input_modules=3, input_temporal_scales="linear",
                               main_temporal_scales="linear")
    assert spec.input_temporal_scale_list == (1, 2, 3)
    assert spec.main_temporal_scale_list == (1, 2)
    _live(spec)


def test_nonlinearity_changes_flops_not_parameters():
    swish = dataclasses.replace(_SE_BASE, nonlinearity="swish")
    assert _live(swish) == _live(_SE_BASE)
    assert count_flops(swish) > count_flops(_SE_BASE)


# ------------------------------------------------------------------------------------------- reference quirks

def test_graph_conv_adds_its_bias_before_aggregation():
    """Reference quirk: the bias becomes joint-dependent, b_k · Σ_v A[k, v, w]."""
    a = np.asarray(skeleton_lib.get("in-motion-19").adjacency("disentangled", scales=4), np.float32)
    layer = GraphConv(features=5, partitions=4)
    x = np.zeros((1, 3, V, 2), np.float32)
    # jitted, and the expectation in NumPy: eagerly every op compiled a program of its own
    variables = jax.jit(layer.init)(jax.random.key(0), x, a)
    bias = np.asarray(variables["params"]["conv"]["bias"]).reshape(4, 5)
    out = np.asarray(jax.jit(layer.apply)(variables, x, a))
    expected = np.einsum("kc,kw->wc", bias, a.sum(axis=1))
    np.testing.assert_allclose(out[0, 0], expected, rtol=1e-5, atol=1e-6)
    assert float(np.abs(out[0, 0] - out[0, 0].mean(axis=0)).max()) > 1e-3  # differs between joints


@pytest.mark.parametrize("use_bias", [True, False])
def test_dense_graph_conv_is_the_same_map_with_the_same_variables(use_bias):
    """The TPU form (``impl="dense"``, one product with the combined (V·C, V·F) weight) against the 1×1 conv +
    aggregation: the same variables and initial values, the same outputs and the same gradients (input, weights and
    the adjacency, which the edge-importance mask makes learnable), to float32 rounding."""
    from infantjax.nn.graph import combined_weight

    a = np.asarray(skeleton_lib.get("in-motion-19").adjacency("disentangled", scales=3), np.float32)
    x = np.random.default_rng(3).normal(size=(2, 7, V, 6)).astype(np.float32)
    out = {}
    # each form's init, and its output with the gradients, as one program each (eagerly every op compiled on its own)
    for impl in ("matmul", "einsum", "dense"):
        layer = GraphConv(features=5, partitions=3, use_bias=use_bias, impl=impl)
        variables = jax.jit(layer.init)(jax.random.key(0), x, a)

        def loss(v, x, a, layer=layer):
            return jnp.sum(jnp.sin(layer.apply(v, x, a)))

        out[impl] = (variables, *jax.jit(lambda v, x, a, layer=layer, loss=loss: (
            layer.apply(v, x, a), jax.grad(loss, argnums=(0, 1, 2))(v, x, a)))(variables, x, a))
    reference = out["matmul"]
    for impl in ("einsum", "dense"):
        variables, y, grads = out[impl]
        assert jax.tree_util.tree_structure(variables) == jax.tree_util.tree_structure(reference[0])
        assert all((np.asarray(p) == np.asarray(q)).all() for p, q in
                   zip(jax.tree_util.tree_leaves(variables), jax.tree_util.tree_leaves(reference[0])))
        np.testing.assert_allclose(np.asarray(y), np.asarray(reference[1]), rtol=1e-5, atol=1e-5, err_msg=impl)
        for g, r in zip(jax.tree_util.tree_leaves(grads), jax.tree_util.tree_leaves(reference[2])):
            np.testing.assert_allclose(np.asarray(g), np.asarray(r), rtol=1e-4, atol=1e-4, err_msg=impl)
    # the combined weight is the layer: a frame's (V·C) features times it, plus the joint-dependent bias
    params = out["dense"][0]["params"]["conv"]
    combined = jax.jit(combined_weight, static_argnums=3)
    weight, bias = combined(params["kernel"], params.get("bias"), a, "einsum")
    assert weight.shape == (V * 6, V * 5) and (bias is None) == (not use_bias)
    outer, outer_bias = combined(params["kernel"], params.get("bias"), a, "outer")  # the GPU's form
    np.testing.assert_allclose(np.asarray(outer), np.asarray(weight), rtol=1e-6, atol=1e-6)
    if use_bias:
        np.testing.assert_allclose(np.asarray(outer_bias), np.asarray(bias), rtol=1e-6, atol=1e-6)
    frame = x[1, 4].reshape(-1) @ np.asarray(weight) + (0 if bias is None else np.asarray(bias))
    np.testing.assert_allclose(frame.reshape(V, 5), np.asarray(out["dense"][1][1, 4]), rtol=1e-5,
                               atol=1e-5)


def test_graph_conv_form_follows_the_policy_and_wide_layers_keep_the_aggregation():
    from infantjax import backend
    from infantjax.nn.graph import DENSE_MAX

    a = jnp.asarray(skeleton_lib.get("in-motion-19").adjacency("spatial"))

    def products(features, channels, policy):
        x = jnp.zeros((1, 4, V, channels))
        layer = GraphConv(features=features, partitions=3)
        with backend.use(policy):
            variables = jax.eval_shape(lambda: layer.init(jax.random.key(0), x, a))
            jaxpr = jax.make_jaxpr(lambda v, x: layer.apply(v, x, a))(variables, x)
        return [tuple(e.outvars[0].aval.shape) for e in jaxpr.jaxpr.eqns if e.primitive.name == "dot_general"]

    # the accelerator policies: one product of the (V·C) features (the GPU's combined weight a sum of outer
    # products, no product of its own); the CPU: the conv, then the aggregation
    assert (1, 4, V * 8) in products(8, 6, "tpu") and len(products(8, 6, "tpu")) <= 3  # incl. the combined weight
    assert products(8, 6, "accelerator") == [(1, 4, V * 8)]
    assert (1, 4, V * 8) not in products(8, 6, "cpu")
    wide = DENSE_MAX // V + 1  # a combined weight wider than DENSE_MAX: the aggregation again
    assert (1, 4, V * wide) not in products(wide, 6, "tpu")
    with pytest.raises(ConfigError, match="graph conv impl"):
        GraphConv(features=4, partitions=3, impl="kron").init(jax.random.key(0), jnp.zeros((1, 4, V, 2)), a)


def test_mbconv_graph_conv_reproduces_the_grouped_conv_channel_scramble():
    """Reference quirk: PyTorch Conv2d(C, K·C, 1, groups=C) viewed as (K, C): partition k, channel c reads input
    channel ⌊(k·C + c)/K⌋; corrected mode reads channel c."""
    c, k = 5, 3
    assert list(mbconv_source_channels(c, k)) == [o // k for o in range(c * k)]
    assert list(mbconv_source_channels(c, k, "corrected")) == [o % c for o in range(c * k)]
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1, 2, V, c)).astype(np.float32)
    a = rng.normal(size=(k, V, V)).astype(np.float32)
    w = rng.normal(size=(c * k,)).astype(np.float32)
    # PyTorch semantics, channels first: grouped conv output o = g·K + j reads input g, then view(n, K, C, t, v)
    torch_out = np.stack([w[o] * x[..., o // k] for o in range(c * k)], axis=-1)  # (1, 2, V, K·C)
    torch_out = torch_out.reshape(1, 2, V, k, c)
    expected = np.einsum("ntvkc,kvw->ntwc", torch_out, a)
    layer = DepthwiseGraphConv(partitions=k)
    out = jax.jit(layer.apply)({"params": {"kernel": w[None]}}, x, a)  # one program (eagerly: one per op)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)
    corrected = jax.jit(DepthwiseGraphConv(partitions=k, mode="corrected").apply)(
        {"params": {"kernel": w[None]}}, x, a)
    expected = np.einsum("ntvkc,kvw->ntwc", w.reshape(k, c) * x[..., None, :], a)
    np.testing.assert_allclose(corrected, expected, rtol=1e-5, atol=1e-5)


def test_corrected_mode_changes_the_spatial_partition():
    """Reference: ST-GCN's max_hop=1 partition; corrected: true hop distances. Same parameters, other outputs."""
    spec = GCNSpec(graph="spatial", input_width=6, num_input_modules=1, initial_block_type="basic",
                   input_temporal_scales=1, initial_main_width=6, num_main_level_modules=1, block_type="basic",
                   bottleneck_factor=2, main_temporal_scales=1, temporal_kernel_size=3, attention="null")
    x = _window(spec, t=8)
    ref, cor = build_model(spec), build_model(spec, mode="corrected")
    variables = _random_variables(ref, x)
    out_ref = jax.jit(lambda v: ref.apply(v, x)[0])(variables)
    out_cor = jax.jit(lambda v: cor.apply(v, x)[0])(variables)
    assert not np.allclose(out_ref, out_cor)
    skel = skeleton_lib.get("in-motion-19")
    assert not np.allclose(skel.adjacency("spatial", mode="reference"), skel.adjacency("spatial", mode="corrected"))


# ---------------------------------------------------------------------------------------------------- init

def test_initialisation_is_he_normal_fan_out():
    """Kernels: N(0, gain/√fan_out), gain √2 for layers the reference initialises as ReLU layers, 1 for the
    graph/linear ones; biases: U(±1/√fan_in); BatchNorm 1/0; edge importance ones."""
    spec = GCNSpec(graph="dis2", input_width=12, num_input_modules=1, initial_block_type="basic",
                   input_temporal_scales=1, initial_main_width=12, num_main_level_modules=1, block_type="basic",
                   bottleneck_factor=4, main_temporal_scales=1, temporal_kernel_size=9, attention="null")
    model = build_model(spec)
    x = _window(spec, t=8)
    # an RBG key compiles faster than threefry; the initialisers are the same
    variables = jax.jit(lambda k: model.init(k, x, train=False))(jax.random.key(3, impl="rbg"))
    variables = jax.tree.map(np.asarray, variables)  # the statistics in NumPy (eagerly: a program per op and shape)
    params = variables["params"]["main0_module0"]
    tconv = params["temporal"]["branch1_conv"]["conv"]["kernel"]  # (9, 1, 48, 48), gain √2, fan_out 48·9
    assert tconv.shape == (9, 1, 48, 48)
    assert float(np.std(tconv)) == pytest.approx(math.sqrt(2 / (48 * 9)), rel=0.05)
    gconv = params["spatial"]["gcn"]["conv"]["kernel"]  # (48, 2·48), gain 1, fan_out 96
    assert float(np.std(gconv)) == pytest.approx(math.sqrt(1 / 96), rel=0.05)
    bias = params["temporal"]["branch1_conv"]["conv"]["bias"]
    assert float(np.abs(bias).max()) <= 1 / math.sqrt(48 * 9)
    assert bool((params["edge_importance"] == 1).all())
    bn = variables["params"]["main0_module0"]["spatial"]["bn"]
    assert bool((bn["scale"] == 1).all()) and bool((bn["bias"] == 0).all())
    stats = variables["batch_stats"]["data_bn"]
    assert stats["mean"].shape == (V * 6,)


# ------------------------------------------------------------------------------------------------------ CAM

@pytest.mark.parametrize("pool", ["global", "spatial"])
def test_class_activation_map_adds_up_to_the_logits(pool):
    spec = dataclasses.replace(_SE_BASE, pool=pool, num_main_levels=1, input_temporal_scales=1,
                               main_temporal_scales=1)
    model = build_model(spec)
    x = _window(spec, n=3, t=12)
    variables = _random_variables(model, x)
    logits, features = jax.jit(lambda v: model.apply(v, x, train=False))(variables)
    cam = np.asarray(class_activation_map(spec, variables, features))  # the sums below in NumPy
    assert cam.shape == (3, 6, V, 2)
    params = variables["params"]
    if pool == "global":
        recon = cam.mean(axis=(1, 2)) + params["head_fc"]["bias"]
    else:
        bias = params["head_pool"]["bias"] @ params["head_fc"]["kernel"] + params["head_fc"]["bias"]
        recon = cam.mean(axis=1).sum(axis=1) + bias
    np.testing.assert_allclose(recon, logits, rtol=1e-4, atol=1e-4)


def test_stgcn_class_activation_map_shape():
    spec = STGCNSpec(channels=(8, 16), strides=(1, 2))
    model = build_model(spec)
    x = _window(spec, t=10)
    variables = _random_variables(model, x)
    logits, features = jax.jit(lambda v: model.apply(v, x))(variables)
    cam = np.asarray(class_activation_map(spec, variables, features))  # the sums below in NumPy
    assert cam.shape == (2, 5, V, 2)
    np.testing.assert_allclose(cam.mean(axis=(1, 2)) + variables["params"]["head_fc"]["bias"], logits,
                               rtol=1e-4, atol=1e-4)


# ------------------------------------------------------------------------------------------- input and config

def test_batch_of_one_and_other_skeletons():
    spec = STGCNSpec(channels=(8,), strides=(1,))
    model = build_model(spec, num_joints=16, skeleton="mpii-16")
    x = jnp.ones((1, 6, 16, 2))
    variables = _random_variables(model, x)
    logits, features = jax.jit(model.apply)(variables, x)  # one program (eagerly: one per op)
    assert logits.shape == (1, 2) and features.shape == (1, 6, 16, 8)


def test_bad_input_and_config_raise_clear_errors():
    spec = _SE_BASE
    model = build_model(spec)
    shapes = _shapes(model, _window(spec, t=8))
    with pytest.raises(DataError, match="channels"):
        jax.eval_shape(lambda v: model.apply(v, jnp.zeros((2, 8, V, 2))), shapes)
    with pytest.raises(SkeletonMismatchError, match="joints"):
        jax.eval_shape(lambda v: model.apply(v, jnp.zeros((2, 8, 18, 6))), shapes)
    with pytest.raises(DataError, match="window batch"):
        jax.eval_shape(lambda v: model.apply(v, jnp.zeros((8, V, 6))), shapes)
    with pytest.raises(ConfigError, match="mode"):
        build_model(spec, mode="faithful")
    with pytest.raises(ConfigError, match="skeleton"):
        build_model(spec, num_joints=16)
    with pytest.raises(SkeletonMismatchError):
        build_model(spec, num_joints=19, skeleton="mpii-16")
    with pytest.raises(ConfigError, match="GCNSpec or STGCNSpec"):
        build_model("dis2")
    with pytest.raises(ConfigError, match="allowed"):
        GCNSpec(graph="dis3")
    with pytest.raises(ConfigError, match="strides"):
        STGCNSpec(channels=(64, 64), strides=(1,))
    with pytest.raises(ConfigError, match="odd"):
        STGCNSpec(temporal_kernel_size=4)


def test_spec_json_round_trip():
    for spec in GCNSpec.table_a4():
        assert GCNSpec.from_json(spec.to_json()) == spec
    stgcn = STGCNSpec(channels=(32, 64), strides=(1, 2), graph="dis4")
    assert STGCNSpec.from_json(stgcn.to_json()) == stgcn
    assert STGCNSpec.from_json(STGCNSpec().to_json()) == STGCNSpec()
    with pytest.raises(ConfigError, match="no fields"):
        STGCNSpec.from_dict({"width": 3})
