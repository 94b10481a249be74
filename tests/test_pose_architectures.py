"""EfficientPose II–IV, EfficientHourglass and OpenPose run forward and backward (small resolutions)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from infantjax.errors import ConfigError
from infantjax.models import count_parameters
from infantjax.models.pose.efficientpose import EfficientPose, EfficientPoseSpec
from infantjax.models.pose.hourglass import (
    PUBLISHED_PARAMETER_COUNTS as HOURGLASS_COUNTS,
)
from infantjax.models.pose.hourglass import EfficientHourglass, EfficientHourglassSpec
from infantjax.models.pose.openpose import OpenPose, OpenPoseSpec

# cheap XLA compilation: these tests check that gradients flow, not speed
_FAST_COMPILE = {"xla_backend_optimization_level": 0, "xla_llvm_disable_expensive_passes": True}


def _setup(model, size):
    # jax.device_put, not jnp.asarray: jnp.asarray of a NumPy array compiles a copy program per shape (jit_stage)
    x = jax.device_put(np.random.default_rng(1).normal(size=(2, size, size, 3)).astype(np.float32))
    key = jax.ShapeDtypeStruct((2,), jnp.uint32)  # a raw key abstractly: no seeding program
    shapes = jax.eval_shape(model.init, key, x)  # no compiled init: host-side weights
    rng = np.random.default_rng(0)
    variables = jax.device_put(jax.tree_util.tree_map(lambda a: rng.normal(0, 0.1, a.shape).astype(np.float32),
                                                      shapes))

    def loss(params):
        out, _ = model.apply({**variables, "params": params}, x, train=True, mutable=["batch_stats"])
        return sum(jnp.mean(v ** 2) for v in out.values()), out

    return variables, jax.value_and_grad(loss, has_aux=True)


def _forward_backward(model, size):
    """Compile and run forward + backward; gradients are finite and not all zero."""
    variables, grad_fn = _setup(model, size)
    compiled = jax.jit(grad_fn).lower(variables["params"]).compile(compiler_options=_FAST_COMPILE)
    (value, out), grads = compiled(variables["params"])
    leaves = jax.tree_util.tree_leaves(grads)
    assert np.isfinite(float(value))
    assert all(np.isfinite(np.asarray(g)).all() for g in leaves)
    assert sum(float(np.abs(np.asarray(g)).sum()) for g in leaves) > 0  # on the host: no program per leaf shape
    return out


def _forward_backward_traced(model, size):
    """Trace forward + backward abstractly (every layer's shapes and differentiability, no XLA compile)."""
    variables, grad_fn = _setup(model, size)
    (value, out), grads = jax.eval_shape(grad_fn, variables["params"])
    assert value.shape == ()
    assert jax.tree_util.tree_structure(grads) == jax.tree_util.tree_structure(variables["params"])
    return out


@pytest.mark.slow  # ~1 min on 2 cores; its shapes are checked traced below (the default run)
def test_efficientpose_ii_forward_backward():
    spec = EfficientPoseSpec("ii", num_keypoints=19, num_pafs=36, resolution=32)
    out = _forward_backward(EfficientPose(spec), 32)
    assert out["heatmaps"].shape == (2, 32, 32, 19)
    assert out["pass3"].shape == (2, 4, 4, 19)
    assert out["pafs"].shape == (2, 4, 4, 36)


# III and IV trace and compile for 20-25 s each on 2 CPU cores: slow (II and II Lite share their blocks by default)
@pytest.mark.parametrize("variant", ["ii", pytest.param("iii", marks=pytest.mark.slow),
                                     pytest.param("iv", marks=pytest.mark.slow), "ii_lite"])
def test_efficientpose_large_variants_forward_backward_traced(variant):
    spec = EfficientPoseSpec(variant, num_keypoints=19, num_pafs=36, resolution=32)
    out = _forward_backward_traced(EfficientPose(spec), 32)
    assert out["heatmaps"].shape == (2, 32, 32, 19)
    assert out["pafs"].shape == (2, 4, 4, 36)


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["iii", "iv", "ii_lite"])
def test_efficientpose_large_variants_forward_backward(variant):
    spec = EfficientPoseSpec(variant, num_keypoints=19, num_pafs=36, resolution=32)
    out = _forward_backward(EfficientPose(spec), 32)
    assert out["heatmaps"].shape == (2, 32, 32, 19)
    assert out["pass3"].shape == (2, 4, 4, 19)
    assert out["pafs"].shape == (2, 4, 4, 36)


def test_hourglass_forward_backward_traced():
    spec = EfficientHourglassSpec(num_keypoints=19, resolution=64)
    out = _forward_backward_traced(EfficientHourglass(spec), 64)
    assert out["heatmaps"].shape == (2, 64, 64, 19)
    assert out["pass1"].shape == (2, 16, 16, 19)


@pytest.mark.slow
def test_hourglass_forward_backward_and_resolution():
    spec = EfficientHourglassSpec(num_keypoints=19, resolution=64)
    out = _forward_backward(EfficientHourglass(spec), 64)
    assert out["heatmaps"].shape == (2, 64, 64, 19)
    assert out["pass1"].shape == (2, 16, 16, 19)  # detector at input/4 (152 x 152 for 608, Paper II §2.2)


def test_hourglass_keypoint_dependence_matches_published_counts():
    """Infant (K = 19) − MPII (K = 16) = 3,465 parameters in seed 002 (Tables B.1, C.1): a 32 → K head and two
    K → K bilinear upscalings reproduce that difference exactly."""
    diff = HOURGLASS_COUNTS[19] - HOURGLASS_COUNTS[16]
    ours = count_parameters(EfficientHourglassSpec(num_keypoints=19)) - count_parameters(
        EfficientHourglassSpec(num_keypoints=16))
    assert diff == ours == 3_465


def test_hourglass_total_within_0_1_percent_of_the_published_count():
    """Summing the upscaled coarse scale and the skip (every MBConv keeps its residual connection, thesis §3.3.3)
    gives 18,710,774 parameters for K = 16: +14,303 (0.077 %) over seed 002's 18,696,471. Concatenating them (the
    first reading) made each fusion MBConv6 twice as wide at its input: 1,008,926 more, +5.5 %."""
    ours = count_parameters(EfficientHourglassSpec())
    concat = count_parameters(EfficientHourglassSpec(merge="concat"))
    assert ours == 18_710_774 and concat == 19_719_700
    assert concat - ours == 862_120 + 109_550 + 37_256
    assert abs(ours - HOURGLASS_COUNTS[16]) / HOURGLASS_COUNTS[16] < 0.001
    with pytest.raises(ConfigError, match="merge"):
        EfficientHourglassSpec(merge="stack")


def test_openpose_forward_backward():
    spec = OpenPoseSpec(num_keypoints=19, num_pafs=36, resolution=32, blocks=1)
    out = _forward_backward(OpenPose(spec), 32)
    assert out["heatmaps"].shape == (2, 32, 32, 19)
    assert [k for k in out if k.startswith("paf")] == ["paf1", "paf2", "paf3", "paf4"]
    assert out["hm2"].shape == (2, 4, 4, 19)


def test_openpose_size_is_about_26_million():
    """Seed 002 reports 25.94 M (MPII); our body_25-layout port has 25,971,920 for K = 16, P = 28 (0.12 % more)."""
    n = count_parameters(OpenPoseSpec(), collections=("params",))
    assert n == 25_971_920
    assert abs(n - 25_939_664) / 25_939_664 < 0.002
