"""Mixed precision as a backend policy (issue 33, part 1 item 3).

The accelerator policy computes in bfloat16 (``Policy.compute_dtype``), the CPU policy in float32; a spec whose
``dtype`` is ``"auto"`` (every spec's default) follows the policy, an explicit one is kept. Parameters and optimizer
state stay float32, BatchNorm statistics, softmax, losses and metrics float32.

Every family's training step (the engine's: forward, backward, update) and forward, under the accelerator policy
on CPU, computed in bfloat16 and in float32 from the same state on the same batch (each family's contract example,
``Task.example``), stay within the tolerances below. Measured 2026-11-23 on CPU (seeds 0, 1, 2), bounds about twice
the worst seed (the cosine's bound: 1 − 2 · (1 − the worst seed's)); bfloat16 keeps 8 significant bits (~2.4 decimal
digits). The untrained pose network's update differs most (its heatmap head's gradients are small differences of
large terms) but still points the float32 update's way. The forward column was measured again on 2026-11-25, after
the accelerator policy's inference BatchNorm became the folded bfloat16 multiply-add (``Policy.bn_inference``): the
CP GCN's and the smartphone model's forwards moved (seed 2: 1.4e-02 → 1.1e-02; seed 0: 4.1e-03 → 1.6e-02), the
others' did not change, and every bound held.

The update is compared over the parameters whose float32 update is not zero to rounding (biases just before a
BatchNorm have a gradient of exactly 0, which bfloat16 cotangents turn into rounding noise).

| family (example) | loss: |Δ| / |f32| (seeds 0 / 1 / 2) | update: ‖Δ‖ / ‖f32‖ (cosine) | forward: max |Δ| / max |f32| |
| --- | --- | --- | --- |
| cp-gcn | 4.1e-04 / 5.5e-04 / 3.1e-04 | 0.056 / 0.055 / 0.054 (cos 0.998 / 0.999 / 0.999) | 5.8e-03 / 1.3e-03 / 1.1e-02 |
| pose | 1.8e-03 / 5.8e-03 / 1.8e-03 | 0.580 / 0.611 / 0.553 (cos 0.843 / 0.821 / 0.851) | 1.3e-02 / 1.3e-02 / 1.3e-02 |
| depth-detection | 2.0e-04 / 8.4e-05 / 7.7e-05 | 0.184 / 0.168 / 0.158 (cos 0.984 / 0.986 / 0.988) | 8.8e-04 / 1.1e-03 / 9.0e-04 |
| depth-regression | 1.7e-03 / 1.3e-03 / 1.4e-03 | 0.241 / 0.300 / 0.306 (cos 0.971 / 0.954 / 0.953) | 2.9e-02 / 3.2e-02 / 3.6e-02 |
| smartphone | 2.5e-03 / 1.4e-03 / 3.1e-04 | 0.120 / 0.076 / 0.063 (cos 0.993 / 0.997 / 0.998) | 1.6e-02 / 4.9e-03 / 3.1e-02 |
| sma | 6.3e-03 / 4.7e-03 / 4.8e-04 | 0.014 / 0.135 / 0.097 (cos 1.000 / 0.991 / 0.995) | 2.9e-03 / 4.2e-03 / 1.6e-03 |
| mam | 8.8e-05 / 5.8e-04 / 2.3e-04 | 0.007 / 0.006 / 0.006 (cos 1.000 / 1.000 / 1.000) | 1.4e-02 / 9.0e-03 / 1.2e-02 |
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from infantjax import backend, models, parallel
from infantjax.errors import ConfigError
from infantjax.nn.precision import resolve
from infantjax.train import programs_for
from infantjax.train.engine import stack_instances


def _task_class(path: str):
    import importlib

    module, name = path.split(":")
    return getattr(importlib.import_module(module), name)


def _relative(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a), 1e-30))


def _pose_heatmaps(task, variables, images):
    """The pose network's heatmaps (PoseTask.predict decodes their argmax, which ties on an untrained network turn
    into jumps of whole pixels)."""
    from infantjax.train.pose import normalise_images

    out = task.model.apply(variables, normalise_images(images.astype(jnp.float32), task.mode), train=False)
    return out["heatmaps"]


def _mam_recordings(task, data):
    """MAM's example has no evaluation set: two of its training recordings, every clip (its inference input)."""
    from infantjax.train.mam import recording_examples

    clips = max(len(r) for r in data.recordings[:2]) // task.config.clip_stride
    return recording_examples(task, data.recordings[:2], np.zeros((2, 4), np.float32), clips).fetch(0, 2)


#: what each family's forward is compared on (default: the task's evaluation output of its evaluation inputs)
FORWARD = {"pose": _pose_heatmaps}
INPUTS = {"mam": _mam_recordings}


def _depth_example(kind: str):
    """The depth family's two networks on the contract example's clips: the regression CNN (the example's own, whose
    output layer starts at zero — so its untrained output is 0 in any dtype — here LeCun-initialised) and the
    detection U-Net (binary cross-entropy on 1-channel clips)."""
    def make(seed: int = 0):
        from infantjax.models.depth import DetectionSpec, RegressionSpec
        from infantjax.train.depth import DepthConfig, DepthData, DepthTask

        task, data = DepthTask.example(seed)
        if kind == "regression":
            model = RegressionSpec("asymmetric", widths=(4, 4, 4, 4), head_width=4, output_init="lecun").build()
            return DepthTask(model, task.config, (3, 16, 16, 21)), data
        rng = np.random.default_rng(seed)

        def clips(n: int):
            return (rng.normal(size=(n, 3, 16, 16, 1)).astype(np.float32),
                    (rng.uniform(size=(n, 3, 16, 16, 20)) < 0.05).astype(np.float32))

        config = DepthConfig(epochs=3, batch_size=2, loss="bce", optimizer="sgd", learning_rate=1e-2, progress=False)
        model = DetectionSpec(widths=(4, 8)).build()
        return DepthTask(model, config, (3, 16, 16, 1)), [DepthData(*clips(4), validation=clips(2))]

    return make


# family: (task class path or example, bounds on the loss, update and forward differences and the update's
# cosine similarity: (loss, update, cosine, forward))
FAMILIES = {
    # cp-gcn's loss: 0.0001-0.0017 over seeds 0-2 and both reduction forms of the GPU policy (2026-11-26); the bound
    # is twice the worst (it was 0.0012, under the 0.0017 of seed 2 already)
    "cp-gcn": ("infantjax.train.cp:CPTask", (0.0035, 0.12, 0.995, 0.03)),
    "pose": ("infantjax.train.pose:PoseTask", (0.012, 1.25, 0.64, 0.03)),
    "depth-detection": (_depth_example("detection"), (0.0004, 0.37, 0.965, 0.0025)),
    "depth-regression": (_depth_example("regression"), (0.0035, 0.62, 0.9, 0.075)),
    "smartphone": ("infantjax.train.passmore:PassmoreTask", (0.005, 0.24, 0.985, 0.065)),
    "sma": ("infantjax.train.sma:SMATask", (0.013, 0.27, 0.98, 0.009)),
    "mam": ("infantjax.train.mam:MamTask", (0.0012, 0.015, 0.999, 0.03)),
}


def _compiled(jitted, *args):
    return jitted.lower(*args).compile(models.FAST_COMPILE)  # XLA:CPU's cheap passes: the same arithmetic


def step_and_forward(name: str, task, data, compute_dtype: str, seed: int = 0) -> dict:
    """One engine training step and one forward of ``task`` (one instance, ``data``) under the accelerator policy
    computing in ``compute_dtype``: loss, parameter update, forward outputs, and the dtypes of the state."""
    with backend.use("accelerator", compute_dtype=compute_dtype):
        mesh = parallel.instance_mesh(1, devices=jax.devices()[:1])
        programs = programs_for(task, 10, mesh)
        keys = np.asarray(jax.random.PRNGKey(seed))[None]
        state = _compiled(programs.init, keys)(keys)
        before = jax.tree_util.tree_map(np.asarray, state.params)
        variables = _compiled(programs.variables, state)(state)
        inputs = INPUTS[name](task, data) if name in INPUTS else task.eval_inputs(data)
        first = jax.tree_util.tree_map(lambda a: np.asarray(a)[:2][None], inputs)
        forward_fn = FORWARD.get(name, lambda task, v, x: task.predict(v, x))
        forward = jax.jit(jax.vmap(lambda v, x: forward_fn(task, v, x)))
        forward = jax.tree_util.tree_map(np.asarray, _compiled(forward, variables, first)(variables, first))
        batch = stack_instances([task.epoch_batches(data, 1, np.random.default_rng([seed, 1]))[0]], 1)
        active = np.ones(1, bool)
        state, loss, _ = _compiled(programs.train_step, state, batch, active)(state, batch, active)
        after = jax.tree_util.tree_map(np.asarray, state.params)
        dtypes = {str(x.dtype) for x in jax.tree_util.tree_leaves((state.params, state.opt_state))
                  if jnp.issubdtype(x.dtype, jnp.floating)}
        # the first instance on the host (an eager a[0] of a device array compiled a squeeze per leaf shape)
        one = (jax.tree_util.tree_map(lambda a: np.asarray(a)[0], variables),
               jax.tree_util.tree_map(lambda a: np.asarray(a)[0], first))
        jaxpr = str(jax.make_jaxpr(lambda v, x: forward_fn(task, v, x))(*one))
    update = jax.tree_util.tree_map(lambda a, b: b - a, before, after)
    return {"loss": float(np.asarray(loss)[0]), "update": update, "forward": forward, "state_dtypes": dtypes,
            "computes_bf16": "bf16[" in jaxpr}


def differences(name: str, seed: int = 0) -> tuple[float, float, float, float, dict, dict]:
    """(loss, update, update cosine, forward) differences of bfloat16 against float32 for one family's example,
    and the two runs."""
    make = FAMILIES[name][0]
    task, data = (make if callable(make) else _task_class(make).example)(seed)
    f32 = step_and_forward(name, task, data[0], "float32", seed)
    bf16 = step_and_forward(name, task, data[0], "bfloat16", seed)
    loss = abs(bf16["loss"] - f32["loss"]) / max(abs(f32["loss"]), 1e-30)
    # parameters whose float32 gradient is 0 up to rounding (a bias before a BatchNorm, which the normalisation
    # removes) get bfloat16 rounding noise instead of ~1e-9: harmless, and no measure of the step's precision
    u32, u16 = jax.tree_util.tree_leaves(f32["update"]), jax.tree_util.tree_leaves(bf16["update"])
    total = np.sqrt(sum(float(np.sum(np.square(u, dtype=np.float64))) for u in u32))
    live = [i for i, u in enumerate(u32) if np.linalg.norm(u) > 1e-5 * total]
    a = np.concatenate([np.ravel(u32[i]) for i in live]).astype(np.float64)
    b = np.concatenate([np.ravel(u16[i]) for i in live]).astype(np.float64)
    update = _relative(a, b)
    cosine = float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
    forward = max(float(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)).max()
                        / max(np.abs(np.asarray(a, np.float64)).max(), 1e-30))
                  for a, b in zip(jax.tree_util.tree_leaves(f32["forward"]), jax.tree_util.tree_leaves(bf16["forward"]))
                  if np.issubdtype(np.asarray(a).dtype, np.floating))
    return loss, update, cosine, forward, f32, bf16


# The bfloat16 pose, MAM and depth-regression steps compile for 25-60 s each on 2 CPU cores: slow. The pose forward in
# bfloat16 stays in the default run (test_models_dtype), and so do the GCN, depth-detection, smartphone and SMA steps.
_SLOW_FAMILIES = {"pose", "mam", "depth-regression"}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in _SLOW_FAMILIES else n
                                  for n in FAMILIES])
def test_bfloat16_policy_train_step_and_forward_stay_close_to_float32(name):
    loss, update, cosine, forward, f32, bf16 = differences(name)
    bounds = dict(zip(("loss", "update", "cosine", "forward"), FAMILIES[name][1]))
    # parameters and optimizer state stay float32; the bfloat16 policy really computes in bfloat16
    assert f32["state_dtypes"] == {"float32"} and bf16["state_dtypes"] == {"float32"}
    assert bf16["computes_bf16"] and not f32["computes_bf16"]
    # outputs that feed losses and metrics come back float32
    assert all(np.asarray(x).dtype == np.float32 for x in jax.tree_util.tree_leaves(bf16["forward"])
               if np.issubdtype(np.asarray(x).dtype, np.floating))
    assert np.isfinite(bf16["loss"])
    measured = {"loss": loss, "update": update, "cosine": cosine, "forward": forward}
    assert loss < bounds["loss"] and update < bounds["update"] and forward < bounds["forward"], measured
    assert cosine > bounds["cosine"], measured  # the bfloat16 step goes the float32 step's way


def test_auto_dtype_follows_the_policy_and_an_explicit_one_is_kept(monkeypatch):
    monkeypatch.delenv(backend.DTYPE_ENV, raising=False)
    monkeypatch.delenv(backend.ENV, raising=False)
    native = "float32" if jax.devices()[0].platform == "cpu" else "bfloat16"  # the platform's policy's
    assert resolve("auto") == jnp.dtype(native)  # CPU policy: float32
    with backend.use("accelerator"):
        assert backend.compute_dtype() == "bfloat16" and resolve("auto") == jnp.bfloat16
        assert resolve("float32") == jnp.float32  # explicit: kept
        with backend.use(compute_dtype="float32"):
            assert resolve("auto") == jnp.float32 and backend.current().conv == "plain"
        with backend.use(compute_dtype="auto"):
            assert resolve("auto") == jnp.bfloat16
    with backend.use("cpu", compute_dtype="bfloat16"):
        assert resolve("auto") == jnp.bfloat16 and resolve("float16") == jnp.float16
    monkeypatch.setenv(backend.DTYPE_ENV, "bfloat16")
    assert backend.compute_dtype() == "bfloat16"
    with backend.use(compute_dtype="auto"):  # a block's "auto" is the policy's, whatever the environment says
        assert backend.compute_dtype() == native
    monkeypatch.setenv(backend.DTYPE_ENV, "float64")
    with pytest.raises(ConfigError, match="INFANTJAX_COMPUTE_DTYPE"):
        backend.current()
    monkeypatch.delenv(backend.DTYPE_ENV)
    with pytest.raises(ConfigError, match="compute dtype"), backend.use(compute_dtype="int8"):
        pass


def test_every_spec_follows_the_policy_by_default():
    import dataclasses
    import importlib

    for family in ("depth", "gcn", "mam", "passmore", "pose", "pose.hourglass", "pose.openpose", "sma"):
        importlib.import_module(f"infantjax.models.{family}")  # every family registers its specs when imported

    fields = {cls: {f.name: f.default for f in dataclasses.fields(cls)} for cls in models.registered()}
    specs = {cls.__name__: f["dtype"] for cls, f in fields.items()
             if "dtype" in f and cls.__module__.startswith("infantjax.models.")}  # not a test's own specs
    assert len(specs) == 10 and set(specs.values()) == {"auto"}, specs


def test_the_policy_dtype_names_match_the_networks():
    from infantjax.nn.precision import COMPUTE_DTYPES

    assert backend.COMPUTE_DTYPES == COMPUTE_DTYPES
    assert backend.policy("cpu").compute_dtype == "float32"
    assert backend.policy("accelerator").compute_dtype == "bfloat16"


def test_cli_switches_set_the_policy_for_the_command_and_restore_it(monkeypatch):
    import argparse
    import os

    from infantjax import cli

    monkeypatch.delenv(backend.DTYPE_ENV, raising=False)
    monkeypatch.delenv(backend.ENV, raising=False)
    args = argparse.Namespace(backend_policy="accelerator", compute_dtype="float32")
    with cli._backend_policy(args):
        assert backend.current().name == "accelerator" and backend.compute_dtype() == "float32"
        assert os.environ[backend.DTYPE_ENV] == "float32"  # subprocesses (the PyTorch side of bench) see it too
    assert backend.ENV not in os.environ and backend.DTYPE_ENV not in os.environ
    if jax.devices()[0].platform == "cpu":  # else the accelerator policy and bfloat16 (tests/test_gpu.py)
        assert backend.current().name == "cpu" and backend.compute_dtype() == "float32"
    parsed = cli.build_parser().parse_args(["--compute-dtype", "bfloat16", "bench", "--quick"])
    assert parsed.compute_dtype == "bfloat16" and parsed.backend_policy is None
