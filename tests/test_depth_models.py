"""Detection and regression CNNs of seed 004: shapes, parameter counts from the layer list, receptive field."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from infantjax.errors import ConfigError
from infantjax.models import count_parameters
from infantjax.models.depth.regression import (
    ASYMMETRIC_KERNELS,
    AsymmetricConv3D,
    AsymmetricRegression,
    ConvBNReLU,
    FullRegression,
    RegressionSpec,
    init_regression,
)
from infantjax.models.depth.unet import DetectionSpec, init_detection


def _key(seed: int) -> jax.Array:
    # XLA compiles rbg initialisers several times faster than threefry ones on CPU
    return jax.random.key(seed, impl="rbg")


def _normal(shape, seed: int = 2) -> np.ndarray:
    """Arbitrary inputs, drawn in NumPy (a device draw compiles a program per shape)."""
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def _run_once(fn, *args):
    """``jax.jit(fn)(*args)`` compiled at XLA's backend optimisation level 0: these programs run once or a few
    times, so their compilation is what costs."""
    return jax.jit(fn).lower(*args).compile({"xla_backend_optimization_level": 0})


def _expected_params(kind: str, c_in: int, widths, head: int, maps: int, output_bn: bool = False) -> int:
    """Weights + biases of every convolution and BN scale + offset after each (seed 004, Table I)."""
    total = 0
    for c in widths:
        if kind == "asymmetric":  # 1x3x1 (c_in -> c), 1x1x3 (c -> c), 3x1x1 (c -> c), each + bias + BN
            total += 3 * c_in * c + c + 3 * c * c + c + 3 * c * c + c + 3 * 2 * c
        else:  # one 3x3x3 + bias + BN
            total += 27 * c_in * c + c + 2 * c
        c_in = c
    total += c_in * head + head + 2 * head  # Layer 5, 1x1x1
    total += head * maps + maps + (2 * maps if output_bn else 0)  # Output, 1x1x1 (+ BN in the literal mode)
    return total


def test_table_i_parameter_counts():
    # shapes only (jax.eval_shape): the paper-size networks are never run here
    def shapes(spec):
        return jax.eval_shape(lambda k: init_regression(spec, k, (1, 3, 8, 8, 21)), _key(0))

    asym = shapes(RegressionSpec("asymmetric", output_bn_relu=True))  # paper-literal: BN + ReLU after the output
    full = shapes(RegressionSpec("full", output_bn_relu=True))
    n_asym, n_full = count_parameters(asym["params"]), count_parameters(full["params"])
    assert n_asym == _expected_params("asymmetric", 21, (64, 128, 256, 256), 256, 20, True) == 1_310_652
    assert n_full == _expected_params("full", 21, (64, 128, 256, 256), 256, 20, True) == 2_985_276
    # default linear output: 40 fewer (the output BN's scale and offset)
    assert count_parameters(shapes(RegressionSpec("asymmetric"))["params"]) == 1_310_612
    assert count_parameters(shapes(RegressionSpec("full"))["params"]) == 2_985_236
    # convolutions alone match the arithmetic of other_seeds_reference §2 (3 Cin C + 6 C^2 + 3 C per level)
    conv_asym = sum(count_parameters(v["conv"]) for name in ("layer1", "layer2", "layer3", "layer4")
                    for v in asym["params"][name].values())
    assert conv_asym == 28_800 + 123_264 + 492_288 + 590_592
    # BN running statistics: mean + variance per BN channel
    assert count_parameters(asym["batch_stats"]) == 2 * (3 * (64 + 128 + 256 + 256) + 256 + 20)
    assert count_parameters(full["batch_stats"]) == 2 * (64 + 128 + 256 + 256 + 256 + 20)


@pytest.mark.parametrize("kind", ["asymmetric", "full"])
def test_small_regression_counts(kind):
    spec = RegressionSpec(kind, widths=(4, 6, 8, 8), head_width=5, num_maps=20)
    variables = jax.eval_shape(lambda k: init_regression(spec, k, (2, 3, 12, 16, 21)), _key(1))
    assert count_parameters(variables["params"]) == _expected_params(kind, 21, (4, 6, 8, 8), 5, 20)
    assert count_parameters(variables["params"]) == _expected_params(kind, 21, (4, 6, 8, 8), 5, 20)


def test_regression_runs_and_keeps_clip_shape():
    model = RegressionSpec("asymmetric", widths=(4, 6, 8, 8), head_width=5, output_bn_relu=True).build()
    x = _normal((2, 3, 12, 16, 21))
    out, variables = jax.jit(lambda k, x: model.init_with_output(k, x, train=False))(_key(1), x)
    assert out.shape == (2, 3, 12, 16, 20) and out.dtype == jnp.float32
    assert (np.asarray(out) >= 0).all()  # BN + ReLU after the output convolution too
    assert set(variables) == {"params", "batch_stats"}


def test_kernel_axes_are_time_height_width():
    spec = RegressionSpec("asymmetric", widths=(4, 4, 4, 4), head_width=4)
    variables = jax.eval_shape(lambda k: init_regression(spec, k, (1, 3, 8, 8, 21)), _key(0))
    layer = variables["params"]["layer1"]
    assert [layer[f"conv{i}"]["conv"]["kernel"].shape[:3] for i in range(3)] == list(ASYMMETRIC_KERNELS)
    assert ASYMMETRIC_KERNELS == ((1, 3, 1), (1, 1, 3), (3, 1, 1))  # height, width, then time (3 frames)


def _input_support(module, shape, position, seeds=3) -> np.ndarray:
    """Input voxels (T, H, W) that affect the output at ``position`` (t, h, w): non-zero input gradients."""
    init = (_key(0), jnp.zeros(shape))
    variables = _run_once(lambda k, x: module.init(k, x, train=False), *init)(*init)
    total = np.zeros(shape[1:4])

    def out_at(x):
        return module.apply(variables, x, train=False)[(0, *position)].sum()

    grad = _run_once(jax.grad(out_at), jnp.zeros(shape))  # one program for every seed
    for s in range(seeds):
        x = jax.random.normal(jax.random.key(10 + s), shape)
        g = grad(x)
        total += np.abs(np.asarray(g[0])).sum(axis=-1)
    return total > 0


def test_asymmetric_cascade_has_the_receptive_field_of_a_3x3x3_convolution():
    shape = (1, 3, 9, 9, 2)
    asym = _input_support(AsymmetricConv3D(16), shape, (1, 4, 4))
    full = _input_support(ConvBNReLU(16, (3, 3, 3)), shape, (1, 4, 4))
    box = np.zeros(shape[1:4], bool)
    box[0:3, 3:6, 3:6] = True
    np.testing.assert_array_equal(full, box)
    np.testing.assert_array_equal(asym, box)
    # one asymmetric kernel alone spans one axis only: 3x1x1 sees the three frames at one pixel
    t_only = _input_support(ConvBNReLU(4, (3, 1, 1)), shape, (1, 4, 4))
    assert t_only.sum() == 3 and t_only[:, 4, 4].all()


def test_whole_networks_see_the_same_9x9x3_window():
    shape = (1, 3, 13, 13, 21)
    # a random output layer: the default zero-initialised one has no input gradient before training
    kw = {"widths": (8, 8, 8, 8), "head_width": 8, "output_init": "lecun"}
    spec = RegressionSpec(**kw)
    box = np.zeros(shape[1:4], bool)
    box[:, 2:11, 2:11] = True  # four 3x3x3 levels: 1 + 4 * 2 = 9 pixels, all three frames
    for module in (AsymmetricRegression(spec), FullRegression(RegressionSpec(kind="full", **kw))):
        support = _input_support(module, shape, (1, 6, 6), seeds=2)
        assert not (support & ~box).any()
        # the extent along each axis is the full window (single corner voxels may be cut off by dead ReLUs)
        for axis in range(3):
            other = tuple(a for a in range(3) if a != axis)
            np.testing.assert_array_equal(support.any(axis=other), box.any(axis=other))


def test_detection_two_branches_shapes():
    spec = DetectionSpec(widths=(4, 8, 8))
    model = spec.build()
    x = _normal((2, 3, 16, 24, 1))
    out, variables = _run_once(lambda k, x: model.init_with_output(k, x, train=False), _key(0), x)(_key(0), x)
    assert set(variables["params"]) == {"joint_branch", "connection_branch"}
    assert out.shape == (2, 3, 16, 24, 20)
    # the joint branch alone gives 12 maps, the connection branch 8
    assert variables["params"]["joint_branch"]["logits"]["kernel"].shape == (1, 1, 1, 4, 12)
    assert variables["params"]["connection_branch"]["logits"]["kernel"].shape == (1, 1, 1, 4, 8)
    # every convolution is followed by BN (all but the output logits)
    convs = [k for k in variables["params"]["joint_branch"] if k != "logits"]
    assert all("bn" in variables["params"]["joint_branch"][k] or k.endswith(("_bn", "_t"))
               for k in convs)
    with pytest.raises(ConfigError, match="multiples of 4"):
        init_detection(spec, _key(0), (1, 3, 18, 24, 1))


def test_specs_round_trip_and_validate():
    spec = RegressionSpec("full", widths=(4, 4, 8, 8), head_width=16)
    assert RegressionSpec.from_json(spec.to_json()) == spec
    assert DetectionSpec.from_json(DetectionSpec().to_json()) == DetectionSpec()
    with pytest.raises(ConfigError, match="asymmetric"):
        RegressionSpec("separable")
    with pytest.raises(ConfigError):
        RegressionSpec.from_json('{"kind": "full", "depth": 3}')
    with pytest.raises(ConfigError, match="output_init"):
        RegressionSpec(output_init="ones")


def test_output_starts_at_the_all_zero_map():
    # default linear output initialised at zero (our choice, docs/depth.md): the first prediction is the all-zero
    # map, whose MSE on sparse targets is far below that of a random output layer
    x = _normal((2, 3, 8, 8, 21))
    for init, zero in (("auto", True), ("zeros", True), ("lecun", False)):
        model = RegressionSpec(widths=(4, 4, 4, 4), head_width=4, output_init=init).build()
        out, _ = _run_once(lambda k, x, m=model: m.init_with_output(k, x, train=False), _key(0), x)(_key(0), x)
        assert bool(np.all(np.asarray(out) == 0)) == zero
    literal = RegressionSpec(widths=(4, 4, 4, 4), head_width=4, output_bn_relu=True).build()  # auto -> random
    variables = jax.eval_shape(lambda k: literal.init(k, x, train=False), _key(0))
    assert "bn" in variables["params"]["output"]


def test_detection_starts_at_the_prior_map_value():
    # logits bias log(p / (1 - p)) (ours, docs/depth.md): untrained maps ~ the share of target pixels, not 0.5
    variables = init_detection(DetectionSpec(widths=(2, 2), prior=0.02), _key(0), (1, 3, 4, 4, 1))
    for branch in ("joint_branch", "connection_branch"):
        bias = np.asarray(variables["params"][branch]["logits"]["bias"])
        np.testing.assert_allclose(1 / (1 + np.exp(-bias)), 0.02, rtol=1e-5)
    zero = init_detection(DetectionSpec(widths=(2, 2), prior=None), _key(0), (1, 3, 4, 4, 1))
    assert not np.asarray(zero["params"]["joint_branch"]["logits"]["bias"]).any()
    with pytest.raises(ConfigError, match="prior"):
        DetectionSpec(prior=1.0)


@pytest.mark.parametrize("policy", ["cpu", "accelerator"])
@pytest.mark.parametrize("kernel", [(3, 3, 3), (1, 3, 1), (1, 1, 3), (3, 1, 1), (1, 1, 1), (2, 3, 3), (2, 1, 1), (1, 1, 4)])
def test_conv3d_via_2d_equals_the_3d_convolution(kernel, policy):
    # Conv3D computes a 3D convolution as one 2D convolution over frames stacked in channels, or a 1-D kernel as a
    # sum of shifted products (faster on CPU) or, under the GPU forms, XLA's own 3D convolution;
    # it must give XLA's 3D convolution with "same" padding, and have flax.linen.Conv's parameters
    from infantjax import backend
    from infantjax.nn.conv3d import Conv3D, conv3d_as_2d

    rng = np.random.default_rng([3, *kernel])  # drawn in NumPy: a device draw compiled a program per shape
    x = rng.normal(size=(2, 3, 7, 9, 5)).astype(np.float32)
    k = rng.normal(size=(*kernel, 5, 6)).astype(np.float32)
    expected = jax.lax.conv_general_dilated(x, k, (1, 1, 1), "SAME", dimension_numbers=("NDHWC", "DHWIO", "NDHWC"))
    with backend.use(policy, compute_dtype="float32"):
        # one program traced under the policy (a new function: JAX's caches never hand it another policy's trace);
        # eagerly each of its operations compiled a program of its own
        got = jax.jit(lambda x, k: conv3d_as_2d(x, k))(x, k)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)
    import flax.linen as nn

    ours = jax.eval_shape(lambda key: Conv3D(6, kernel).init(key, x), _key(0))
    flax = jax.eval_shape(lambda key: nn.Conv(6, kernel, padding="SAME").init(key, x), _key(0))
    assert jax.tree.map(lambda a: a.shape, ours) == jax.tree.map(lambda a: a.shape, flax)


@pytest.mark.parametrize("kind", ["asymmetric", "full"])
def test_residual_regression_starts_at_the_detection_maps(kind):
    # residual=True (ours, for short runs): refined maps = detection maps + the network's output, which starts at
    # zero, so the untrained regression returns exactly the maps it refines; the layer list is unchanged
    x = _normal((2, 3, 8, 8, 21))
    spec = RegressionSpec(kind, widths=(4, 4, 4, 4), head_width=4, residual=True)
    out, variables = jax.jit(lambda k, x: spec.build().init_with_output(k, x, train=False))(_key(0), x)
    np.testing.assert_array_equal(out, x[..., 1:])
    plain = jax.eval_shape(lambda k: init_regression(RegressionSpec(kind, widths=(4, 4, 4, 4), head_width=4), k,
                                                     (1, 3, 8, 8, 21)), _key(0))
    assert count_parameters(variables["params"]) == count_parameters(plain["params"])
    assert RegressionSpec.from_json(spec.to_json()) == spec
