"""Temporal convolutions as sums of shifted slices (``impl="shift"``) vs XLA's convolution (``impl="conv"``):
same variables as the former ``nn.Conv`` layers, same outputs and gradients to float32 rounding, under jit, vmap
and grad, for single layers and whole GCNs (every choice of the search space, ST-GCN)."""

from __future__ import annotations

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from infantjax import backend
from infantjax.errors import ConfigError
from infantjax.models.gcn import CHOICES, GCNSpec, STGCNSpec, build_model
from infantjax.nn.attention import FrameAttention
from infantjax.nn.temporal import TemporalConv, resolve_impl, temporal_conv
from infantjax.nn.torch_compat import RELU_GAIN, he_fan_out, torch_bias

FAST_COMPILE = {"xla_backend_optimization_level": 0}
TOL = {"rtol": 1e-4, "atol": 1e-4}


def _nn_conv_temporal(features, kernel_size, stride=1, dilation=1, groups=1, use_bias=True, *, fan_in, name=None):
    """The ``nn.Conv`` that TemporalConv replaces, kept here as the reference."""
    pad = (kernel_size - 1) // 2 * dilation
    return nn.Conv(features, (kernel_size, 1), strides=(stride, 1), padding=((pad, pad), (0, 0)),
                   kernel_dilation=(dilation, 1), feature_group_count=groups, use_bias=use_bias,
                   kernel_init=he_fan_out(RELU_GAIN), bias_init=torch_bias(fan_in), name=name)


def _x(shape, seed=0):
    """float32 NumPy values (a NumPy array: the tests' eager slices of it compile nothing)."""
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


# (features, kernel, stride, dilation, groups, bias) on 8 input channels: full, strided, dilated, depthwise,
# depthwise with channel multiplier, grouped, even kernel
LAYERS = [(6, 9, 1, 1, 1, True), (5, 7, 2, 1, 1, True), (8, 5, 2, 3, 1, False), (8, 3, 1, 2, 8, False),
          (16, 3, 2, 1, 8, False), (4, 3, 1, 1, 2, True), (6, 4, 1, 1, 1, True)]


@pytest.mark.parametrize("layer", LAYERS, ids=lambda c: "f{}k{}s{}d{}g{}b{}".format(*c))
def test_temporal_conv_matches_nn_conv_variables_and_outputs(layer):
    features, k, s, d, g, bias = layer
    x = _x((2, 23, 5, 8))
    old = _nn_conv_temporal(features, k, s, d, g, bias, fan_in=8 // g * k)
    # jitted (eagerly every op of init's forward and of apply compiled a program of its own); the two inits are the
    # same program once their unused forwards are dropped, so their values still compare bit for bit
    ref_vars = jax.jit(old.init)(jax.random.key(3), x)
    ref = jax.jit(old.apply)(ref_vars, x)
    for impl in ("conv", "shift", "im2col"):
        new = TemporalConv(features, k, stride=s, dilation=d, groups=g, use_bias=bias, gain=RELU_GAIN, impl=impl)
        variables = jax.jit(new.init)(jax.random.key(3), x)
        # same names, shapes and initial values as the nn.Conv layer (checkpoints and weight maps carry over)
        assert jax.tree.structure(variables) == jax.tree.structure(ref_vars)
        for a, b in zip(jax.tree.leaves(variables), jax.tree.leaves(ref_vars)):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
        out = jax.jit(new.apply)(variables, x)
        assert out.shape == ref.shape
        np.testing.assert_allclose(np.asarray(out), np.asarray(ref), **TOL)


@pytest.mark.parametrize("groups", [1, 8])
def test_temporal_conv_gradients_and_vmap_agree(groups):
    """Under vmap over (kernel, input) — a fold ensemble — and grad, shift equals conv and the per-instance loop
    (dense and depthwise kernels)."""
    kernel = _x((4, 9, 1, 8 // groups, 8 if groups > 1 else 6), 1)
    x = _x((4, 3, 17, 5, 8), 2)

    def loss(impl):
        def f(w, xi):
            return (temporal_conv(xi, w, stride=2, dilation=2, padding=8, groups=groups, impl=impl) ** 2).mean()
        return jax.jit(jax.vmap(jax.value_and_grad(f, argnums=(0, 1))))

    (lc, gc), (ls, gs), (li, gi) = loss("conv")(kernel, x), loss("shift")(kernel, x), loss("im2col")(kernel, x)
    np.testing.assert_allclose(np.asarray(ls), np.asarray(lc), **TOL)
    np.testing.assert_allclose(np.asarray(li), np.asarray(lc), **TOL)
    for a, b, c in zip(gs, gc, gi):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), **TOL)
        np.testing.assert_allclose(np.asarray(c), np.asarray(b), **TOL)
    single = jax.jit(jax.value_and_grad(lambda w, xi: (temporal_conv(
        xi, w, stride=2, dilation=2, padding=8, groups=groups, impl="shift") ** 2).mean(), argnums=(0, 1)))
    l1, g1 = single(kernel[1], x[1])
    np.testing.assert_allclose(float(l1), float(ls[1]), **TOL)
    np.testing.assert_allclose(np.asarray(g1[0]), np.asarray(gs[0][1]), **TOL)


def test_per_instance_convolutions_of_stacked_instances_equal_the_grouped_one():
    """The GPU policy's stacked convolution (``Policy.stacked_conv == "per instance"``): vmapped over per-instance
    kernels it stays one plain convolution per instance, with the forward and both gradients of JAX's grouped
    form, under every vmap (shared inputs, shared weights, nested)."""
    import dataclasses

    from infantjax import backend

    # JAX arrays: the jitted cases below close over them (a NumPy constant is not canonical inside the custom vmap)
    kernel = jnp.asarray(_x((3, 5, 1, 8, 6), 5))
    x = jnp.asarray(_x((3, 2, 17, 5, 8), 6))

    def f(xi, w):
        return temporal_conv(xi, w, stride=2, padding=2, impl="conv")

    def step(xi, w):
        return jax.value_and_grad(lambda a, b: (f(a, b) ** 2).mean(), argnums=(0, 1))(xi, w)

    cases = [
        (lambda: jax.jit(jax.vmap(step))(x, kernel), "training step over instances"),
        (lambda: jax.vmap(f)(x, kernel), "vmap over weights and inputs"),
        (lambda: jax.vmap(f, in_axes=(None, 0))(x[0], kernel), "vmap over weights only"),
        (lambda: jax.vmap(f, in_axes=(0, None))(x, kernel[0]), "vmap over inputs only"),
        (lambda: jax.vmap(jax.vmap(f, in_axes=(0, None)), in_axes=(None, 0))(x, kernel), "nested"),
        (lambda: jax.vmap(step, in_axes=(0, None))(x, kernel[0]), "gradients with shared weights"),
    ]
    accelerator = backend.policy("accelerator")
    grouped = dataclasses.replace(accelerator, stacked_conv="groups")
    assert accelerator.stacked_conv == "per instance"
    # each case one jitted program (vmap's batching rules apply as they trace; eagerly every op compiled on its own)
    with backend.use("accelerator", compute_dtype="float32"):
        per_instance = [jax.jit(run)() for run, _ in cases]
        jaxpr = jax.make_jaxpr(jax.vmap(step))(x, kernel)
    groups = [e.params["feature_group_count"] for e in _eqns(jaxpr.jaxpr) if e.primitive.name == "conv_general_dilated"]
    assert groups and set(groups) == {1}  # one plain convolution per instance, none with instances as groups
    backend._POLICIES["accelerator"] = grouped
    try:
        with backend.use("accelerator", compute_dtype="float32"):
            reference = [jax.jit(run)() for run, _ in cases]
            jaxpr = jax.make_jaxpr(jax.vmap(step))(x, kernel)
        assert 3 in {e.params["feature_group_count"] for e in _eqns(jaxpr.jaxpr)
                     if e.primitive.name == "conv_general_dilated"}  # JAX's own batching: 3 instances as groups
    finally:
        backend._POLICIES["accelerator"] = accelerator
    for (_, what), a, b in zip(cases, per_instance, reference):
        for u, v in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
            np.testing.assert_allclose(np.asarray(u), np.asarray(v), **TOL, err_msg=what)


def _eqns(jaxpr):
    """Every equation of a jaxpr and of the jaxprs inside it."""
    from jax.extend.core import ClosedJaxpr, Jaxpr

    for e in jaxpr.eqns:
        yield e
        for v in e.params.values():
            for sub in (v if isinstance(v, (tuple, list)) else (v,)):
                if isinstance(sub, (Jaxpr, ClosedJaxpr)):
                    yield from _eqns(getattr(sub, "jaxpr", sub))


@pytest.mark.parametrize("stride", [1, 2])
def test_im2col_inference_under_every_vmap_equals_conv(stride):
    """Without a gradient, im2col runs XLA's convolution for one set of weights and batched tap products under a
    vmap over weights (a custom batching rule); with shared weights a vmap joins the batch. All equal ``conv``."""
    kernel = _x((3, 9, 1, 8, 6), 3)
    x = _x((3, 2, 17, 5, 8), 4)

    def conv(impl):
        return lambda xi, w: temporal_conv(xi, w, stride=stride, padding=4, impl=impl)

    cases = [
        (lambda f, x, kernel: f(x[0], kernel[0]), "single"),
        (lambda f, x, kernel: jax.jit(jax.vmap(f))(x, kernel), "vmap over weights and inputs"),
        (lambda f, x, kernel: jax.vmap(f, in_axes=(None, 0))(x[0], kernel), "vmap over weights only"),
        (lambda f, x, kernel: jax.vmap(f, in_axes=(0, None))(x, kernel[0]), "vmap over inputs only"),
        (lambda f, x, kernel: jax.vmap(jax.vmap(f, in_axes=(0, None)), in_axes=(None, 0))(x, kernel), "nested"),
        (lambda f, x, kernel: jax.lax.map(lambda a: f(a[0], a[1]), (x, kernel)), "lax.map"),
    ]
    # each case one jitted program (vmap's batching rules apply as they trace), the arrays its arguments (NumPy
    # constants closed over are refused by the custom batching rule under the accelerator policy)
    for run, what in cases:
        np.testing.assert_allclose(np.asarray(jax.jit(lambda x, k, run=run: run(conv("im2col"), x, k))(x, kernel)),
                                   np.asarray(jax.jit(lambda x, k, run=run: run(conv("conv"), x, k))(x, kernel)),
                                   **TOL, err_msg=what)


def test_frame_attention_keeps_the_nn_conv_variables():
    x = _x((2, 12, 5, 4))
    shapes = {}
    outputs = {}
    for impl in ("conv", "shift"):
        module = FrameAttention(5, conv_impl=impl)
        variables = jax.jit(module.init)(jax.random.key(0), x)  # jitted: eagerly a program per op
        shapes[impl] = jax.tree.map(lambda a: a.shape, variables)
        outputs[impl] = jax.jit(module.apply)(variables, x)
    assert shapes["conv"] == shapes["shift"]
    assert shapes["shift"]["params"]["conv"] == {"kernel": (5, 2, 1), "bias": (1,)}  # as nn.Conv(1, (5,)) had
    np.testing.assert_allclose(np.asarray(outputs["shift"]), np.asarray(outputs["conv"]), **TOL)


def _covering_specs(n=4, seed=7):
    """n specs in which every alternative of every choice occurs (as in test_gcn_models)."""
    rng = np.random.default_rng(seed)
    offsets = {k: int(rng.integers(len(v))) for k, v in CHOICES.items()}
    return [GCNSpec(**{k: v[(j + offsets[k]) % len(v)] for k, v in CHOICES.items()}) for j in range(n)]


def _random_variables(model, x, seed=0):
    """Variables with the model's structure filled from numpy (compiling the initialisers is slow; the layer tests
    above check that the initial values equal nn.Conv's)."""
    rng = np.random.default_rng(seed)

    # NumPy arrays: jnp.asarray(..., dtype) compiled a conversion per leaf shape
    def fill(path, sd):
        name = str(getattr(path[-1], "key", path[-1]))
        if name in ("var", "edge_importance"):
            return np.asarray(rng.uniform(0.5, 1.5, size=sd.shape), sd.dtype)
        return np.asarray(rng.normal(size=sd.shape) * 0.3, sd.dtype)

    return jax.tree_util.tree_map_with_path(fill, jax.eval_shape(lambda: model.init(jax.random.key(0), x)))


def _forward(model, variables, x):
    fn = jax.jit(lambda v, x: model.apply(v, x, train=False))
    return fn.lower(variables, x).compile(FAST_COMPILE)(variables, x)


def _step(model, variables, x, labels):
    def loss_fn(params):
        (logits, _), updates = model.apply({"params": params, "batch_stats": variables["batch_stats"]}, x,
                                           train=True, mutable=["batch_stats"])
        logp = jax.nn.log_softmax(logits)
        return -jnp.take_along_axis(logp, labels[:, None], axis=1).mean(), (logits, updates)

    fn = jax.jit(jax.value_and_grad(loss_fn, has_aux=True))
    return fn.lower(variables["params"]).compile(FAST_COMPILE)(variables["params"])


def _small_stgcn():
    return STGCNSpec(channels=(8, 8, 16), strides=(1, 2, 1))


def _small_cover2():
    """cover2 with one input and one main module instead of 2 and 3 (half the layers to compile): it keeps every
    temporal-conv flavour of cover2 — dense (bottleneck), depthwise (MBConv), dilations 1-2, stride 2, kernel 7 —
    and frame attention, since those are per-module choices."""
    return dataclasses.replace(_covering_specs()[2], num_input_modules=1, num_main_level_modules=1)


def _spec(which):
    if which == "stgcn":
        return _small_stgcn()
    return _small_cover2() if which == "cover2-small" else _covering_specs()[which]


# the whole covering specs are slow on a shared 2-core machine (each compiles a whole GCN three times); the default
# run has the small cover2 (every temporal-conv flavour) and ST-GCN
_WHOLE = [pytest.param(i, marks=pytest.mark.slow, id=f"cover{i}") for i in range(4)]


@pytest.mark.parametrize("which", [*_WHOLE, pytest.param("cover2-small", id="cover2-small"),
                                   pytest.param("stgcn", id="stgcn")])
def test_whole_models_agree_between_impls(which):
    spec = _spec(which)
    x = _x((2, 24, 19, 2 if which == "stgcn" else 6), 5)
    conv = build_model(spec, conv_impl="conv")
    variables = _random_variables(conv, x)
    logits_c, feat_c = _forward(conv, variables, x)
    for impl in ("shift", "im2col"):
        other = build_model(spec, conv_impl=impl)
        shapes = jax.eval_shape(lambda other=other: other.init(jax.random.key(0), x))
        assert jax.tree.map(lambda a: a.shape, shapes) == jax.tree.map(lambda a: a.shape, variables)
        logits_s, feat_s = _forward(other, variables, x)
        np.testing.assert_allclose(np.asarray(logits_s), np.asarray(logits_c), **TOL)
        np.testing.assert_allclose(np.asarray(feat_s), np.asarray(feat_c), **TOL)


@pytest.mark.parametrize("which", [pytest.param(2, id="cover2", marks=pytest.mark.slow),
                                   pytest.param("stgcn", id="stgcn")])
def test_whole_model_gradients_agree_between_impls(which):
    """A training step (BatchNorm on batch statistics): loss, logits, gradients and new statistics agree. (Specs
    with channel/joint attention are left out here: their BatchNorm over a batch of two pooled vectors maps
    rounding differences to O(1) changes, with either implementation.)"""
    spec = _spec(which)
    x = _x((2, 24, 19, 2 if which == "stgcn" else 6), 5)
    labels = jnp.array([0, 1])
    conv = build_model(spec, conv_impl="conv")
    variables = _random_variables(conv, x)
    (lc, (logits_c, upd_c)), grads_c = _step(conv, variables, x, labels)
    for impl in ("shift", "im2col"):
        (ls, (logits_s, upd_s)), grads_s = _step(build_model(spec, conv_impl=impl), variables, x, labels)
        np.testing.assert_allclose(float(ls), float(lc), **TOL)
        np.testing.assert_allclose(np.asarray(logits_s), np.asarray(logits_c), **TOL)
        for a, b in zip(jax.tree.leaves((grads_s, upd_s)), jax.tree.leaves((grads_c, upd_c))):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-3, atol=1e-4)


def test_vmapped_instances_equal_one_by_one():
    """A stack of 3 instances through jit(vmap(apply)) with the shift convolutions equals each instance alone."""
    model = build_model(_small_stgcn(), conv_impl="shift")
    x = _x((3, 2, 16, 19, 2), 7)
    # stacked and sliced in NumPy (eagerly: a program per leaf shape)
    stack = jax.tree.map(lambda *a: np.stack(a), *[_random_variables(model, x[0], seed=s) for s in range(3)])
    fn = jax.jit(lambda v, xi: model.apply(v, xi, train=False)[0])
    both = jax.jit(jax.vmap(fn)).lower(stack, x).compile(FAST_COMPILE)(stack, x)
    alone = fn.lower(jax.tree.map(lambda a: a[0], stack), x[0]).compile(FAST_COMPILE)  # one program, 3 instances
    for i in range(3):
        one = jax.tree.map(lambda a, i=i: a[i], stack)
        np.testing.assert_allclose(np.asarray(both[i]), np.asarray(alone(one, x[i])), **TOL)


def test_impl_choice_and_errors():
    assert resolve_impl("auto") == ("im2col" if backend.current().conv == "cpu" else "conv")
    assert resolve_impl("conv") == "conv"
    assert resolve_impl("shift") == "shift" and resolve_impl("im2col") == "im2col"
    with pytest.raises(ConfigError, match="impl"):
        resolve_impl("fft")
    with pytest.raises(ConfigError, match="conv_impl"):
        build_model(GCNSpec.table_a4()[0], conv_impl="fft")
    with pytest.raises(ConfigError, match="groups"):
        temporal_conv(_x((1, 5, 2, 6)), _x((3, 1, 4, 6)), groups=2)


def test_gcn_temporal_conv_layout_is_the_former_wrapped_nn_conv():
    """The GCNs keep their variables at ``<name>/conv/{kernel,bias}`` with the initial values of the former
    wrapper around an ``nn.Conv`` named ``conv`` (checkpoints carry over)."""
    from infantjax.models.gcn.common import temporal_conv_layer

    class FormerParent(nn.Module):
        @nn.compact
        def __call__(self, x):
            return _Wrapper(name="branch1_conv")(x)

    class _Wrapper(nn.Module):
        @nn.compact
        def __call__(self, x):
            return _nn_conv_temporal(6, 9, 2, fan_in=8 * 9, name="conv")(x)

    class New(nn.Module):
        @nn.compact
        def __call__(self, x):
            return temporal_conv_layer("branch1_conv", 6, 9, stride=2, gain=RELU_GAIN, impl="shift")(x)

    x = _x((2, 23, 5, 8))
    ref, new = FormerParent().init(jax.random.key(5), x), New().init(jax.random.key(5), x)
    assert jax.tree.map(lambda a: a.shape, new) == {"params": {"branch1_conv": {"conv": {
        "kernel": (9, 1, 8, 6), "bias": (6,)}}}}
    for a, b in zip(jax.tree.leaves(new), jax.tree.leaves(ref)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
