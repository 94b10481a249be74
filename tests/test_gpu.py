"""Checks that only mean something on a GPU (marker ``gpu``; skipped with a reason elsewhere).

Run them with the default suite on the lent GPU machine (``JAX_PLATFORMS=cuda``, ``benchmarks/gpu_suite.sh``;
docs/performance.md, "GPU figures of record"): there the platform picks the accelerator policy by itself (no
``INFANTJAX_BACKEND_POLICY``), mixed precision is on by default (bfloat16 compute, float32 parameters and outputs),
the benchmark harness knows the device's peaks, and pose inference runs its accelerator forms in bfloat16 within
the stated tolerance of float32. Everything else of the issue is checked on CPU under the accelerator policy
(tests/accelerator_forms.txt).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from infantjax import backend

pytestmark = pytest.mark.gpu


@pytest.fixture(autouse=True)
def _no_policy_from_the_environment(monkeypatch):
    monkeypatch.delenv(backend.ENV, raising=False)
    monkeypatch.delenv(backend.DTYPE_ENV, raising=False)


def test_the_accelerator_policy_and_bfloat16_are_the_default_on_a_gpu():
    assert backend.platform() == "gpu" and jax.devices()[0].platform == "gpu"
    policy = backend.current()
    assert policy.name == "accelerator" and policy.instances == "vmap" and policy.conv == "plain"
    assert policy.compute_dtype == "bfloat16" and backend.compute_dtype() == "bfloat16"
    from infantjax.nn.precision import resolve

    assert resolve("auto") == jnp.bfloat16 and resolve("float32") == jnp.float32


def test_a_gcn_computes_in_bfloat16_on_the_gpu_and_returns_float32():
    from infantjax.models import build
    from infantjax.models.gcn import GCNSpec

    spec = GCNSpec.table_a4()[0]
    model = build(spec)
    x = jax.random.normal(jax.random.PRNGKey(1), (8, 150, 19, 6))
    variables = model.init(jax.random.PRNGKey(0), x, train=False)
    assert {str(a.dtype) for a in jax.tree_util.tree_leaves(variables)} == {"float32"}
    apply = jax.jit(lambda v, x: model.apply(v, x, train=False))
    assert "bf16[" in str(jax.make_jaxpr(lambda v, x: model.apply(v, x, train=False))(variables, x))
    logits, features = apply(variables, x)
    assert logits.dtype == jnp.float32 and features.dtype == jnp.float32
    assert logits.devices() == {jax.devices()[0]}
    with backend.use(compute_dtype="float32"):
        reference, _ = jax.jit(lambda v, x: model.apply(v, x, train=False))(variables, x)
    error = float(jnp.max(jnp.abs(logits - reference)) / jnp.max(jnp.abs(reference)))
    assert error < 0.05, error  # the forward bound of tests/test_mixed_precision.py (cp-gcn)


def test_the_engine_trains_in_bfloat16_with_float32_state_on_the_gpu():
    from infantjax import parallel
    from infantjax.train import CPTask, programs_for
    from infantjax.train.engine import stack_instances

    task, data = CPTask.example(0)
    mesh = parallel.instance_mesh(2, devices=jax.devices()[:1])
    programs = programs_for(task, 10, mesh)
    keys = jnp.stack([jax.random.PRNGKey(0), jax.random.PRNGKey(1)])
    state = programs.init(keys)
    batch = stack_instances([task.epoch_batches(d, 1, np.random.default_rng(i))[0] for i, d in enumerate(data)], 2)
    state, loss, _ = programs.train_step(state, batch, np.ones(2, bool))
    assert np.all(np.isfinite(np.asarray(loss)))
    assert {str(a.dtype) for a in jax.tree_util.tree_leaves((state.params, state.opt_state))
            if jnp.issubdtype(a.dtype, jnp.floating)} == {"float32"}


def test_the_peak_table_knows_this_gpu_and_bench_rows_get_their_fraction_of_peak():
    from infantjax.bench import Run, lookup

    kind = jax.devices()[0].device_kind
    peak = lookup(kind)
    assert peak is not None, f"no datasheet peaks for {kind!r}: add it to infantjax.bench.peaks.PEAKS"
    run = Run("gpu check", measure_matmul=False)
    a = jnp.ones((4096, 4096), jnp.bfloat16) * jax.random.normal(jax.random.PRNGKey(0), (4096, 4096), jnp.bfloat16)
    matmul = jax.jit(lambda a: a @ a)
    run.time("bf16 matmul 4096", lambda a: matmul(a).block_until_ready(), a, program=(matmul, (a,)), repeats=3,
             dtype="bfloat16")
    row = run.record()["rows"][0]
    assert row["peak"] == "bf16" and row["peak_tflop_per_s"] == peak.bf16_tflops
    assert np.isfinite(row["fraction_of_peak"]) and row["fraction_of_peak"] > 0
    assert "of peak" in run.table()


def test_pose_inference_in_bfloat16_stays_close_to_float32_on_the_gpu():
    from infantjax.models.pose.inference import efficientpose_heatmaps
    from infantjax.pipelines.pose import PosePredictor

    shipped = PosePredictor.pretrained("efficientpose-rt-mpii")
    p = PosePredictor(shipped.spec.replace(dtype="auto"), shipped.variables, shipped.skeleton)
    folded = p.inference_variables()
    x = jnp.asarray(np.random.default_rng(0).normal(size=(4, p.resolution, p.resolution, 3)), jnp.float32)
    maps = jax.jit(lambda f, x: efficientpose_heatmaps(f, x, p.spec))(folded, x)
    with backend.use(compute_dtype="float32"):
        reference = jax.jit(lambda f, x: efficientpose_heatmaps(f, x, p.spec))(folded, x)
    assert maps.dtype == jnp.float32
    error = float(jnp.max(jnp.abs(maps - reference)) / jnp.max(jnp.abs(reference)))
    assert error < 0.05, error
