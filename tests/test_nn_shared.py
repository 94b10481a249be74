"""The shared layers exist once: one BatchNorm factory (PyTorch/Keras conventions), one activation lookup, one
squeeze-excitation block (two parameter layouts), one backend-dispatch helper; and the model registry: one
``build`` and one ``count_parameters`` for every spec type, with the networks-only import rules."""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from infantjax import backend, models
from infantjax.errors import ConfigError
from infantjax.models.depth.regression import RegressionSpec
from infantjax.models.depth.unet import DetectionSpec
from infantjax.models.gcn import GCNSpec, STGCNSpec
from infantjax.models.pose.efficientpose import EfficientPoseSpec
from infantjax.models.pose.hourglass import EfficientHourglassSpec
from infantjax.models.pose.openpose import OpenPoseSpec
from infantjax.nn import activations
from infantjax.nn.norm import CONVENTIONS, batch_norm
from infantjax.nn.precision import dtype_name
from infantjax.nn.se import SqueezeExcitation, squeeze_excite

PACKAGE = pathlib.Path(models.__file__).resolve().parents[1]


# ------------------------------------------------------------------------------------------------ BatchNorm

def test_batch_norm_conventions():
    torch, keras = batch_norm(True, "bn", convention="torch"), batch_norm(False, "bn", convention="keras")
    assert (torch.epsilon, torch.momentum, torch.use_running_average) == (1e-5, 0.9, False)  # PyTorch momentum 0.1
    assert (keras.epsilon, keras.momentum, keras.use_running_average) == (1e-3, 0.99, True)
    assert CONVENTIONS["keras"].epsilon == 1e-3  # the official EfficientPose weights (README §2.1)
    custom = batch_norm(True, "bn", convention="keras", momentum=0.9, epsilon=1e-4, use_fast_variance=False)
    assert (custom.epsilon, custom.momentum, custom.use_fast_variance) == (1e-4, 0.9, False)
    assert batch_norm(True, convention="torch").use_fast_variance is nn.BatchNorm.use_fast_variance  # Flax's default
    with pytest.raises(ConfigError, match="convention"):
        batch_norm(True, convention="caffe")
    with pytest.raises(ConfigError, match="momentum"):
        batch_norm(True, convention="torch", momentum=1.0)


def test_batch_norm_two_pass_variance_is_exact_for_a_large_mean():
    # E[x²] − E[x]² loses the variance of float32 data whose mean dwarfs its spread; the two-pass form keeps it
    x = jnp.asarray(1e4 + np.random.default_rng(0).normal(size=(256, 3)), jnp.float32)
    true_var = np.var(np.asarray(x, np.float64), axis=0)
    error = {}
    for fast in (False, True):
        layer = batch_norm(True, "bn", convention="torch", use_fast_variance=fast)
        variables = layer.init(jax.random.key(0), x)
        _, upd = layer.apply(variables, x, mutable=["batch_stats"])
        var = (np.asarray(upd["batch_stats"]["var"], np.float64) - 0.9) / 0.1  # the running var starts at 1
        error[fast] = float(np.abs(var / true_var - 1).max())
    assert error[False] < 1e-3 < error[True]


def test_batch_norm_keeps_float32_statistics_in_bfloat16():
    layer = batch_norm(True, "bn", convention="keras", dtype=jnp.bfloat16)
    x = jnp.ones((4, 3), jnp.bfloat16)
    variables = layer.init(jax.random.key(0), x)
    y, upd = layer.apply(variables, x, mutable=["batch_stats"])
    assert y.dtype == jnp.bfloat16
    assert {a.dtype for a in jax.tree.leaves((variables, upd))} == {jnp.dtype(jnp.float32)}


# ------------------------------------------------------------------------------------- activations, dispatch

def test_one_activation_lookup():
    x = jnp.linspace(-8.0, 8.0, 101)
    np.testing.assert_array_equal(activations.get("swish")(x), jax.nn.swish(x))  # what the GCN used before
    np.testing.assert_array_equal(activations.get("relu")(x), jax.nn.relu(x))
    np.testing.assert_allclose(activations.get("eswish")(x), 1.25 * x * jax.nn.sigmoid(x), rtol=1e-6)
    assert float(activations.get("relu6")(jnp.float32(9.0))) == 6.0
    with pytest.raises(ConfigError, match="unknown activation 'gelu'"):
        activations.get("gelu")


def test_form_resolves_auto_by_backend_and_validates():
    on_cpu = backend.current().conv == "cpu"
    assert backend.form("auto", cpu="shift", other="conv") == ("shift" if on_cpu else "conv")
    assert backend.form("conv", cpu="shift", other="conv") == "conv"
    assert backend.form("matmul", cpu="matmul", other="einsum") == "matmul"
    with pytest.raises(ConfigError, match="graph aggregation impl must be one of"):
        backend.form("fft", cpu="matmul", other="einsum", what="graph aggregation impl")
    assert not (PACKAGE / "nn" / "dispatch.py").exists()  # the alias nn.dispatch.resolve is gone: one reader


def test_dtype_names():
    assert dtype_name(jnp.bfloat16) == "bfloat16" and dtype_name(np.float32) == "float32"
    assert dtype_name("float16") == "float16"
    with pytest.raises(ConfigError, match="GCNSpec.dtype"):
        GCNSpec(dtype="int8")
    with pytest.raises(ConfigError, match="float32"):
        dtype_name("float64")


# ---------------------------------------------------------------------------------------- squeeze-excitation

def test_squeeze_excitation_layouts_and_names():
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=(2, 5, 7, 8)), jnp.float32)
    v = jax.eval_shape(lambda: SqueezeExcitation(2).init(jax.random.key(0), x))
    assert jax.tree.map(lambda a: a.shape, v) == {"params": {"fc1": {"kernel": (8, 4)}, "fc2": {"kernel": (4, 8)}}}

    class Image(nn.Module):
        @nn.compact
        def __call__(self, x):
            return squeeze_excite(x, 2, activations.swish, names=("b_se_reduce", "b_se_expand"), layout="conv",
                                  use_bias=True)

    w = jax.eval_shape(lambda: Image().init(jax.random.key(0), x))
    assert jax.tree.map(lambda a: a.shape, w) == {"params": {
        "b_se_reduce": {"kernel": (1, 1, 8, 2), "bias": (2,)}, "b_se_expand": {"kernel": (1, 1, 2, 8), "bias": (8,)}}}
    # both compute x · σ(W2 act(W1 mean(x))): with the same weights (and zero biases), the same output
    w1, w2 = (jnp.asarray(rng.normal(size=shape), jnp.float32) for shape in ((8, 2), (2, 8)))
    dense = {"params": {"fc1": {"kernel": w1}, "fc2": {"kernel": w2}}}
    conv = {"params": {"b_se_reduce": {"kernel": w1[None, None], "bias": jnp.zeros(2)},
                       "b_se_expand": {"kernel": w2[None, None], "bias": jnp.zeros(8)}}}
    out_dense = SqueezeExcitation(4, activations.swish).apply(dense, x)
    np.testing.assert_allclose(out_dense, Image().apply(conv, x), rtol=1e-5, atol=1e-6)
    assert not np.allclose(out_dense, x)
    with pytest.raises(ConfigError, match="layout"):
        squeeze_excite(x, 2, jax.nn.relu, names=("a", "b"), layout="1x1", use_bias=True)


# ------------------------------------------------------------------------------------------------ registry

# small networks of every spec type (tracing a network's init is most of these tests' time)
SMALL_GCN = GCNSpec(graph="dis2", input_width=6, num_input_modules=1, initial_block_type="basic",
                    initial_main_width=6, num_main_level_modules=1, block_type="basic", attention="null")
SPECS = [SMALL_GCN, STGCNSpec(channels=(8, 16), strides=(1, 2)), EfficientPoseSpec("rt_lite"),
         EfficientHourglassSpec(backbone="lite0", head_width=8), OpenPoseSpec(paf_passes=1, heatmap_passes=1, blocks=1),
         DetectionSpec(widths=(4, 8)), RegressionSpec(widths=(4, 4, 4, 4), head_width=4)]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: type(s).__name__)
def test_build_and_count_every_spec_type(spec):
    module = models.build(spec)
    assert isinstance(module, nn.Module)
    total = models.count_parameters(spec)
    trained = models.count_parameters(spec, collections=("params",))
    assert total > trained > 0
    # the dtype changes neither the network's variables nor their counts
    assert models.count_parameters(spec.replace(dtype="bfloat16")) == total


def test_every_spec_type_is_registered():
    assert {GCNSpec, STGCNSpec, EfficientPoseSpec, EfficientHourglassSpec, OpenPoseSpec, DetectionSpec,
            RegressionSpec} <= set(models.registered())


def test_count_parameters_of_variables_and_conventions():
    spec = SMALL_GCN.replace(graph="spatial", pool="spatial")
    model = models.build(spec, conv_impl="shift")
    shapes = jax.eval_shape(lambda: model.init(jax.random.key(0), jnp.zeros((1, 16, 19, 6)), train=False))
    assert models.count_parameters(shapes) == models.count_parameters(spec)  # every collection
    live = models.count_parameters(spec, convention="live")
    assert models.count_parameters(shapes, collections=("params",)) == live
    assert models.count_parameters(shapes["params"]) == live  # a bare tree
    assert models.count_parameters(shapes, collections=("fixed",)) == 0  # a collection it lacks
    # builder options travel with a spec
    assert models.count_parameters(spec, skeleton="in-motion-19", num_joints=19) == models.count_parameters(spec)
    # a stacked ensemble counts every instance
    stacked = jax.tree.map(lambda a: jax.ShapeDtypeStruct((3, *a.shape), a.dtype), shapes)
    assert models.count_parameters(stacked) == 3 * models.count_parameters(shapes)
    # the input the registry initialises on: six channels for the searchable GCN, the spec's for ST-GCN
    assert models.sample_input(spec) == (1, 16, 19, 6)
    assert models.sample_input(STGCNSpec(in_channels=3))[-1] == 3


def test_registry_errors():
    with pytest.raises(ConfigError, match="no network is registered for dict"):
        models.build({"graph": "dis2"})
    with pytest.raises(ConfigError, match="registered spec or a variables dict"):
        models.count_parameters([1, 2])
    with pytest.raises(ConfigError, match="collections"):
        models.count_parameters({"params": {}}, collections="params")
    with pytest.raises(ConfigError, match="builder options only with a spec"):
        models.count_parameters({"params": {}}, mode="reference")
    with pytest.raises(ConfigError, match="no network is registered for dict"):
        models.sample_input({"graph": "dis2"})


def test_importing_models_is_cheap():
    code = "import sys, infantjax.models, infantjax.models.gcn.spec; assert 'jax' not in sys.modules, 'jax'"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


# ------------------------------------------------------------------------------- networks-only import rules

#: every file of ``infantjax/models`` (networks only: issue 13; tests/test_layers.py checks the whole package)
NETWORK_FILES = sorted(str(p.relative_to(PACKAGE)) for p in (PACKAGE / "models").rglob("*.py"))
FORBIDDEN = ("infantjax.synth", "infantjax.io", "infantjax.clinical", "infantjax.train", "infantjax.ensemble",
             "infantjax.nas", "infantjax.commands", "infantjax.explain")


def _imports(path: pathlib.Path) -> set[str]:
    """Every module a file imports, at module level and inside functions."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{a.name}" for a in node.names}
    return names


@pytest.mark.parametrize("name", NETWORK_FILES)
def test_network_files_import_nothing_above_models(name):
    imported = _imports(PACKAGE / name)
    bad = sorted(m for m in imported if m.startswith(FORBIDDEN) or ".models.depth.train" in m
                 or ".models.pose.train" in m)
    assert not bad, f"{name} imports {bad}"


def test_searchable_gcn_and_stgcn_do_not_import_each_other():
    searchable = _imports(PACKAGE / "models/gcn/searchable.py")
    stgcn = _imports(PACKAGE / "models/gcn/stgcn.py")
    assert not any(m.startswith("infantjax.models.gcn.stgcn") for m in searchable)
    assert not any(m.startswith("infantjax.models.gcn.searchable") for m in stgcn)
