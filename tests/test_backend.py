"""The one backend policy (infantjax.backend): every backend-dependent form is decided there, the policy can be
overridden for a block and by $INFANTJAX_BACKEND_POLICY, the accelerator forms give the CPU forms' results, and no
other module asks JAX for its backend."""

from __future__ import annotations

import os
import pathlib
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from infantjax import backend, parallel
from infantjax.errors import ConfigError
from infantjax.models.pose.inference import default_options

REPO = pathlib.Path(__file__).resolve().parents[1]


def _native() -> str:
    """The policy "auto" picks on the platform the tests run on: "cpu" under tests/conftest.py's
    JAX_PLATFORMS=cpu, "accelerator" on the lent GPU (benchmarks/gpu_suite.sh)."""
    return {"cpu": "cpu", "tpu": "tpu"}.get(jax.devices()[0].platform, "accelerator")


def test_platform_is_jaxs_and_auto_is_its_policy(monkeypatch):
    monkeypatch.delenv(backend.ENV, raising=False)
    device = jax.devices()[0].platform
    assert backend.platform() == {"cuda": "gpu", "rocm": "gpu"}.get(device, device)
    if os.environ.get("JAX_PLATFORMS") == "cpu":  # tests/conftest.py's default: every CI run
        assert backend.platform() == "cpu"
    assert backend.current().name == _native() and backend.policy("auto") is backend.policy(_native())


def test_use_overrides_a_block_nests_and_restores(monkeypatch):
    monkeypatch.delenv(backend.ENV, raising=False)
    monkeypatch.delenv(backend.DTYPE_ENV, raising=False)  # a dtype override makes current() a fresh Policy
    native = "shift" if _native() == "cpu" else "conv"
    assert backend.form("auto", cpu="shift", other="conv") == native
    with backend.use("accelerator") as policy:
        assert policy.name == "accelerator" and backend.current() is policy
        assert backend.form("auto", cpu="shift", other="conv") == "conv"
        assert backend.instances() == "vmap"
        assert default_options() == default_options("gpu") and default_options().microbatch is None
        with backend.use("cpu"):
            assert backend.instances() == "map" and default_options().microbatch == 2
        assert backend.current().name == "accelerator"
    assert backend.current().name == _native()
    # an explicit choice is kept whatever the policy
    with backend.use("accelerator"):
        assert backend.form("shift", cpu="shift", other="conv") == "shift"
    with pytest.raises(ConfigError, match="depthwise impl must be one of"):
        backend.form("fft", cpu="shift", other="conv", what="depthwise impl")


def test_environment_variable_sets_the_policy(monkeypatch):
    monkeypatch.setenv(backend.ENV, "accelerator")
    assert backend.current().name == "accelerator" and backend.current().conv == "plain"
    with backend.use("cpu"):  # a block beats the environment
        assert backend.current().name == "cpu"
    monkeypatch.setenv(backend.ENV, "AUTO")
    assert backend.current().name == _native()
    monkeypatch.setenv(backend.ENV, "gpu-please")
    with pytest.raises(ConfigError, match="INFANTJAX_BACKEND_POLICY"):
        backend.current()
    with pytest.raises(ConfigError, match="not one of"), backend.use("tpu-v9"):
        pass


@pytest.mark.eight_devices  # a mesh over 4 devices
def test_instances_vmap_when_a_mesh_spreads_them():
    spread = parallel.build_mesh((4, 1), (parallel.INSTANCE, parallel.DATA))
    one = parallel.build_mesh((1, 1), (parallel.INSTANCE, parallel.DATA))
    with backend.use("cpu"):
        assert backend.instances(spread) == "vmap" and backend.instances(one) == "map"
        assert backend.instances(one, mode="vmap") == "vmap"
    with pytest.raises(ConfigError, match="instances mode"):
        backend.instances(mode="sometimes")


def test_memory_budget_is_the_policys_share_of_the_device():
    full = parallel.memory_budget(fraction=1.0)
    share = parallel.memory_budget(fraction=backend.current().memory_fraction)
    assert abs(share - full * backend.current().memory_fraction) <= 1
    # on the CPU the default is that share at most CPU_BUDGET (host memory is everything's memory there)
    assert parallel.memory_budget() == (min(share, parallel.CPU_BUDGET) if backend.platform() == "cpu" else share)
    assert parallel.memory_budget(1234) == 1234


def test_mixed_precision_is_on_for_accelerators_and_off_on_cpu():
    assert backend.policy("cpu").compute_dtype == "float32"
    assert backend.policy("accelerator").compute_dtype == "bfloat16"


def test_accelerator_forms_equal_the_cpu_forms():
    """The same layers traced under both policies: temporal conv, depthwise conv, graph aggregation, a GCN."""
    from infantjax.models import build
    from infantjax.models.gcn import GCNSpec
    from infantjax.nn.efficientnet import depthwise_conv
    from infantjax.nn.graph import aggregate
    from infantjax.nn.temporal import temporal_conv

    k = jax.random.split(jax.random.key(0), 6)
    x = jax.random.normal(k[0], (2, 12, 5, 4))
    kernel = jax.random.normal(k[1], (3, 1, 4, 6))
    img = jax.random.normal(k[2], (1, 9, 9, 5))
    dw = jax.random.normal(k[3], (3, 3, 1, 5))
    xg = jax.random.normal(k[4], (2, 3, 5, 2, 4))
    a = jax.random.normal(k[5], (2, 5, 5))
    # the paper's GCN (disentangled graph, bottleneck blocks, channel attention) with one input module instead of
    # three, on 30 frames instead of 150: the same layer kinds in both policies, a fifth of the compile and run
    spec = GCNSpec(dtype="float32", num_input_modules=1)
    model = build(spec, num_joints=19)
    window = jax.random.normal(k[0], (2, 30, 19, 6))
    # rbg: XLA compiles its initialisers faster than threefry's on CPU (the weights only need to be some weights)
    variables = jax.jit(lambda key: model.init(key, window, train=False))(jax.random.key(1, impl="rbg"))

    def run():
        return (jax.jit(lambda x, w: temporal_conv(x, w, padding=1))(x, kernel),
                jax.jit(lambda x, w: depthwise_conv(x, w, 2))(img, dw),
                jax.jit(aggregate)(xg, a),
                jax.jit(lambda v, x: model.apply(v, x, train=False)[0])(variables, window))

    with backend.use("cpu"):
        cpu = run()
    for name in ("accelerator", "tpu"):  # the TPU policy: the GCN's graph convolutions as dense products
        with backend.use(name):
            other = run()
        for c, g in zip(cpu, other):
            np.testing.assert_allclose(np.asarray(c), np.asarray(g), rtol=2e-4, atol=2e-4, err_msg=name)


def test_the_tpu_forms_train_as_the_other_forms():
    """A GCN's training gradient (BatchNorm on batch statistics, every parameter, the edge-importance masks that make
    the adjacency learnable) under the tpu policy's dense graph products: as close to the CPU forms' as the
    accelerator policy's is. Measured 2026-11-25: ‖Δ‖/‖g‖ = 2.3e-3 for both (the BatchNorms over a batch of 8
    amplify float32 rounding in either form); bound 1e-2."""
    from infantjax.models import build
    from infantjax.models.gcn import GCNSpec

    spec = GCNSpec(dtype="float32", num_input_modules=1, initial_block_type="basic")
    model = build(spec, num_joints=19)
    window = jax.random.normal(jax.random.key(0), (8, 30, 19, 6))
    variables = jax.jit(lambda key: model.init(key, window, train=False))(jax.random.key(1, impl="rbg"))

    def loss(params):
        (logits, _), _ = model.apply({**variables, "params": params}, window, train=True, mutable=["batch_stats"])
        return jnp.sum(jnp.tanh(logits))

    grads = {}
    for name in ("cpu", "accelerator", "tpu"):
        with backend.use(name):
            leaves = jax.tree_util.tree_leaves_with_path(jax.jit(jax.grad(loss))(variables["params"]))
        grads[name] = np.concatenate([np.ravel(np.asarray(g, np.float64)) for _, g in leaves])
        assert any("edge_importance" in jax.tree_util.keystr(path) for path, _ in leaves)
    reference = np.linalg.norm(grads["cpu"])
    for name in ("accelerator", "tpu"):
        assert grads[name].shape == grads["cpu"].shape
        assert np.linalg.norm(grads[name] - grads["cpu"]) / reference < 1e-2, name


def test_the_tpu_policy_is_the_accelerator_policy_with_its_own_layouts(monkeypatch):
    import dataclasses

    cpu, gpu, tpu = (backend.policy(name) for name in ("cpu", "accelerator", "tpu"))
    assert (cpu.graph_product, gpu.graph_product, tpu.graph_product) == ("matmul", "dense", "dense")
    assert (cpu.dense_operand, gpu.dense_operand, tpu.dense_operand) == ("flat", "flat", "as is")
    assert (cpu.stacked_conv, gpu.stacked_conv, tpu.stacked_conv) == ("groups", "per instance", "groups")
    assert (cpu.combined_weight, gpu.combined_weight, tpu.combined_weight) == ("einsum", "outer", "einsum")
    assert (cpu.conv3d, gpu.conv3d, tpu.conv3d) == ("stacked", "native one-axis", "stacked")
    assert (cpu.narrow_reductions, gpu.narrow_reductions, tpu.narrow_reductions) == (
        "as is", "stacked training", "as is")
    assert dataclasses.replace(tpu, name="accelerator", dense_operand="flat", stacked_conv="per instance",
                               combined_weight="outer", conv3d="native one-axis",
                               narrow_reductions="stacked training") == gpu
    assert tpu.accelerator and gpu.accelerator and not cpu.accelerator
    # auto: the platform's policy
    for platform, name in (("cpu", "cpu"), ("gpu", "accelerator"), ("tpu", "tpu")):
        monkeypatch.setattr(backend, "platform", lambda platform=platform: platform)
        assert backend.policy("auto").name == name
    monkeypatch.undo()
    monkeypatch.setenv(backend.ENV, "tpu")
    monkeypatch.delenv(backend.DTYPE_ENV, raising=False)  # a dtype override makes current() a fresh Policy
    assert backend.current() is tpu


# the package, its benchmarks and experiments; backend.py is the one reader
_READERS = re.compile(r"default_backend\s*\(|\.platform\s*[!=]=\s*[\"']cpu|[\"']cpu[\"']\s*[!=]=\s*\S*\.platform\b")


def test_no_other_module_asks_jax_for_its_backend():
    found = []
    for folder in ("infantjax", "benchmarks", "experiments"):
        for path in sorted((REPO / folder).rglob("*.py")):
            if path == REPO / "infantjax" / "backend.py":
                continue
            for n, line in enumerate(path.read_text().splitlines(), 1):
                if _READERS.search(line):
                    found.append(f"{path.relative_to(REPO)}:{n}: {line.strip()}")
    assert not found, "ask infantjax.backend (platform(), current()) instead:\n" + "\n".join(found)


def test_the_reader_check_finds_a_reader():
    assert _READERS.search("    if jax.default_backend() == 'cpu':")
    assert _READERS.search('    on_cpu = devices[0].platform == "cpu"')
    assert not _READERS.search("    backend.platform()")


def test_a_function_traced_under_one_policy_is_traced_again_under_the_other():
    """Switching the policy clears JAX's trace caches: a function traced under one policy runs the other's form."""
    from infantjax.nn.efficientnet import depthwise_conv

    f = jax.jit(lambda x, w: depthwise_conv(x, w, 1))
    x, w = jnp.ones((1, 5, 5, 2)), jnp.ones((3, 3, 1, 2))
    with backend.use("cpu"):
        text_cpu = f.lower(x, w).as_text()
    with backend.use("accelerator"):
        text_acc = f.lower(x, w).as_text()
    assert "convolution" in text_acc and "convolution" not in text_cpu


# the tests CI runs a second time under the accelerator policy (.ci/run, pass 4)
ACCELERATOR_FORMS = REPO / "tests" / "accelerator_forms.txt"


def accelerator_form_tests() -> list[str]:
    """The node ids of tests/accelerator_forms.txt (comments and blank lines dropped)."""
    lines = (line.split("#", 1)[0].strip() for line in ACCELERATOR_FORMS.read_text().splitlines())
    return [line for line in lines if line]


def test_accelerator_form_list_names_existing_tests():
    import ast

    entries = accelerator_form_tests()
    assert len(entries) == len(set(entries)) and len(entries) >= 10
    missing = []
    for entry in entries:
        path, _, name = entry.partition("::")
        file = REPO / path
        if not (file.is_file() and file.parent == REPO / "tests" and file.name.startswith("test_")):
            missing.append(f"{entry}: no test module {path}")
            continue
        if name:
            defined = {node.name for node in ast.walk(ast.parse(file.read_text()))
                       if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
            if name.split("[", 1)[0] not in defined:
                missing.append(f"{entry}: {path} defines no {name}")
    assert not missing, "tests/accelerator_forms.txt names tests that do not exist:\n" + "\n".join(missing)


def test_ci_runs_the_accelerator_form_list_under_the_accelerator_policy():
    ci = (REPO / ".ci" / "run").read_text()
    assert "tests/accelerator_forms.txt" in ci and "INFANTJAX_BACKEND_POLICY=accelerator" in ci
    # every family's training and forward, ensemble scoring, pose inference and the parity tests are in the list
    for needed in ("tests/test_task_contract.py", "tests/test_mixed_precision.py", "tests/test_ensemble.py",
                   "tests/test_pose_inference.py", "tests/test_pose_weights.py", "tests/test_gcn_torch_import.py"):
        assert any(entry.split("::", 1)[0] == needed for entry in accelerator_form_tests()), needed


def test_own_buffer_is_a_barrier_in_the_accelerator_forms_only():
    """``nn.fusion.own_buffer`` (the two XLA:GPU fusion workarounds, ST-GCN's strided residual and MAM's pooling
    input): an ``optimization_barrier`` where the policy picks the accelerator forms, the value itself on CPU."""
    from infantjax.nn.fusion import own_buffer

    x = jnp.arange(6.0)
    for name, barrier in (("cpu", False), ("accelerator", True)):
        with backend.use(name):
            assert ("optimization_barrier" in str(jax.make_jaxpr(own_buffer)(x))) is barrier, name
            assert (own_buffer(x) == x).all()


def test_a_v6e_gets_the_tpu_forms_with_factored_graph_convolutions(monkeypatch):
    """XLA:TPU for v6e crashed compiling the tpu policy's CP training step (found compiling for a v6e-16): ``auto``
    there is the tpu-v6e policy, the tpu forms but the graph convolutions'; other TPUs get the tpu forms; an
    explicit choice is kept."""
    import dataclasses

    monkeypatch.delenv(backend.ENV, raising=False)
    monkeypatch.setattr(backend, "platform", lambda: "tpu")
    for kind, expected in (("TPU v6 lite", "tpu-v6e"), ("TPU v5 lite", "tpu"), ("TPU v4", "tpu")):
        monkeypatch.setattr(backend, "_tpu_kind", lambda kind=kind: kind)
        assert backend.policy("auto").name == expected, kind
    assert backend.policy("tpu").name == "tpu"
    v6e, tpu = backend.policy("tpu-v6e"), backend.policy("tpu")
    assert v6e.graph_product == "einsum" and v6e.dense_operand == "as is" and v6e.accelerator
    assert dataclasses.replace(v6e, name="tpu", graph_product="dense") == tpu


def test_a_dense_layer_keeps_its_input_s_shape_under_the_tpu_policy_and_flattens_it_otherwise():
    """``FlatDense``: one (M, C) product under the CPU and GPU forms, the product on (N, T, V, C) as it is under the
    tpu policy (XLA:TPU otherwise lays the flat operand out with its channels on the lanes); the same variables
    and values."""
    from infantjax.nn.dense import FlatDense

    layer = FlatDense(5)
    x = jax.random.normal(jax.random.key(0), (2, 3, 4, 6))
    variables = layer.init(jax.random.key(1), x)
    shapes, outputs = {}, {}
    for name in ("cpu", "accelerator", "tpu"):
        with backend.use(name, compute_dtype="float32"):
            jaxpr = jax.make_jaxpr(lambda v, x: layer.apply(v, x))(variables, x)
            shapes[name] = [e.invars[0].aval.shape for e in jaxpr.jaxpr.eqns if e.primitive.name == "dot_general"]
            outputs[name] = np.asarray(layer.apply(variables, x))
    assert shapes == {"cpu": [(24, 6)], "accelerator": [(24, 6)], "tpu": [(2, 3, 4, 6)]}
    np.testing.assert_allclose(outputs["tpu"], outputs["cpu"], rtol=1e-6, atol=1e-6)
    assert jax.tree_util.tree_map(jnp.shape, variables) == {"params": {"kernel": (6, 5), "bias": (5,)}}
