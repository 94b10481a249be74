"""The training engine on every task: the documented toy task, stacked instances sharded over the devices, what a
checkpoint directory accepts, exact resume of a PCKh-selected pose-style task from given initial variables, host
syncs, hooks and clear errors (the resume of every registered task from its own initialisation: the task contract,
tests/test_task_contract.py)."""

from __future__ import annotations

import functools
import pathlib
import re

import flax.linen as nn
import jax
import numpy as np
import pytest

from infantjax import parallel
from infantjax.errors import ConfigError, DataError
from infantjax.train import (
    Hook,
    PoseConfig,
    PoseData,
    PoseTask,
    TrainConfig,
    compile_key,
    fit,
)

DOC = pathlib.Path(__file__).resolve().parents[1] / "docs" / "architecture.md"


def one_device():
    return parallel.instance_mesh(1, devices=jax.devices()[:1])


@functools.lru_cache(maxsize=1)
def toy_family() -> dict:
    """The toy family of docs/architecture.md (spec and module registered in models, task, trained model),
    executed from the document itself, once per process (its task then registers for the contract test)."""
    block = re.search(r"```python\n(.*?)```", DOC.read_text(), re.S).group(1)
    namespace: dict = {}
    exec(compile(block, str(DOC), "exec"), namespace)  # noqa: S102 - our own documentation
    return namespace


@pytest.fixture(scope="module")
def toy():
    return toy_family()


def test_the_documented_toy_task_learns_its_line_with_three_instances_in_one_program(toy):
    result = toy["result"]
    assert result.num_instances == 3 and len(result.history[0]) == 30
    for i in range(3):
        params = result.instance(i)["params"]["Dense_0"]
        np.testing.assert_allclose(params["kernel"][0, 0], 3.0, atol=0.1)
        np.testing.assert_allclose(params["bias"][0], -1.0, atol=0.1)
        assert result.best_score[i] < 0.05  # the noise variance is 0.01
        assert result.history[i][result.best_epoch[i] - 1]["val_mse"] == result.best_score[i]
    # the instances saw different data: their variables differ
    k = result.variables["params"]["Dense_0"]["kernel"]
    assert not np.allclose(k[0], k[1])
    assert result.step_losses.shape == (30 * 8, 3)


def test_the_documented_toy_family_saves_loads_and_predicts(toy, tmp_path):
    """The whole toy family end to end: a trained model of the common format whose prediction is the line. (Its task
    resumes from a checkpoint to the uninterrupted result, without a warning: the task contract, which checks every
    registered task, the toy's LineTask too.)"""
    import infantjax
    from infantjax import deploy, models
    from infantjax.infer import registry
    from infantjax.train import TrainedModel, registered_tasks

    LineSpec, LineModel, LineTask = toy["LineSpec"], toy["LineModel"], toy["LineTask"]
    assert LineSpec in models.registered() and LineTask in registered_tasks()
    assert issubclass(LineModel, TrainedModel) and models.count_parameters(LineSpec()) == 2
    # one module and one registration: infantjax.load finds the family from the saved header
    assert registry.family("line").model is LineModel
    # registered beside the shipped families, not one of them (pipelines.families() lists what ships, whichever
    # test module registered the toy first: the GPU run's reversed file order found that)
    from infantjax.pipelines import families
    assert "line" in [f.kind for f in registry.families()] and "line" not in [f.kind for f in families()]
    loaded = infantjax.load(toy["folder"])
    assert type(loaded) is LineModel and loaded.num_instances == 3 and loaded.config == toy["config"]
    np.testing.assert_allclose(loaded.predict([[0.0], [1.0]]), [-1.0, 2.0], atol=0.1)
    np.testing.assert_allclose(loaded.predict([[0.5]]), toy["model"].predict([[0.5]]), rtol=1e-6)
    assert loaded.predict(*loaded.example_input()).shape == (4,)  # its own example recording
    file = loaded.save(tmp_path / "line.npz")
    assert type(infantjax.load(file)) is LineModel
    for bad in ("not a sequence", None, np.zeros(3, np.float32)):  # a typed error on a wrong input
        with pytest.raises(DataError):
            loaded.predict(bad)
    # stacked inference: every instance on the same inputs, (instances, N)
    assert loaded.predictor()(np.zeros((5, 1), np.float32)).shape == (3, 5)
    # export: the forward of every instance, unrolled, checked against the stacked inference on the spot
    exported = toy["exported"]
    assert exported.path.is_file() and max(a for a, _ in exported.differences.values()) < 1e-5
    again = deploy.load(exported.path)
    np.testing.assert_allclose(np.asarray(again(np.array([[0.0], [1.0]], np.float32))[0]).mean(axis=1),
                               [-1.0, 2.0], atol=0.1)


def test_a_finished_run_is_not_trained_again_and_its_checkpoint_refuses_other_seeds_and_models(toy, tmp_path):
    """A checkpoint directory holds one run: the finished run resumes to its result without training again (its
    TensorBoard scalars beside the checkpoints); another seed, or a model of other shapes, is refused rather than
    mixed into it."""
    from infantjax.errors import CheckpointError

    task = toy["LineTask"](toy["LineSpec"](), toy["config"].replace(epochs=2))
    data = [toy["line_data"](0)]
    done = fit(task, data, seeds=[3], mesh=one_device(), checkpoint_dir=tmp_path / "run")
    assert (tmp_path / "run" / "tensorboard").is_dir()
    again = fit(task, data, seeds=[3], mesh=one_device(), checkpoint_dir=tmp_path / "run",
                on_epoch=lambda e, m: pytest.fail("a finished run must not train again"))
    assert again.best_epoch == done.best_epoch and again.history == done.history
    for a, b in zip(jax.tree_util.tree_leaves(done.variables), jax.tree_util.tree_leaves(again.variables), strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ConfigError, match="seeds"):
        fit(task, data, seeds=[4], mesh=one_device(), checkpoint_dir=tmp_path / "run")
    wide = toy["LineTask"](toy["LineSpec"](features=2), task.config)
    rng = np.random.default_rng(0)
    wide_data = {"x": rng.uniform(-1, 1, (64, 2)).astype(np.float32), "y": data[0]["y"]}
    with pytest.raises(CheckpointError, match="has shape"):
        fit(wide, [wide_data], seeds=[3], mesh=one_device(), checkpoint_dir=tmp_path / "run")


def test_stacked_instances_equal_instances_trained_alone_and_sync_rate_changes_nothing(toy):
    task = toy["LineTask"](toy["LineSpec"](), toy["config"].replace(epochs=3))
    data = [toy["line_data"](s) for s in range(3)]
    stacked = fit(task, data, seeds=[5, 6, 7])
    for i in range(3):
        alone = fit(task, [data[i]], seeds=[5 + i], mesh=one_device())
        np.testing.assert_allclose(alone.step_losses[:, 0], stacked.step_losses[:, i], rtol=1e-6)
        for a, b in zip(jax.tree_util.tree_leaves(alone.variables), jax.tree_util.tree_leaves(stacked.variables)):
            np.testing.assert_allclose(a[0], b[i], rtol=1e-6, atol=1e-7)
    synced = fit(toy["LineTask"](toy["LineSpec"](), task.config.replace(sync_every=1)), data, seeds=[5, 6, 7])
    np.testing.assert_array_equal(synced.step_losses, stacked.step_losses)


def test_compile_key_ignores_host_fields_and_hooks_see_the_variables(toy):
    config = toy["config"]
    assert compile_key(config) == compile_key(config.replace(epochs=99, progress=True, sync_every=3))
    assert compile_key(config) != compile_key(config.replace(l2=0.5))
    seen = []
    fit(toy["LineTask"](toy["LineSpec"](), config.replace(epochs=2)), [toy["line_data"](0)], seeds=[0],
        hooks=[Hook(5, lambda ctx: seen.append((ctx.step, ctx.losses.shape, ctx.variables()["params"]["Dense_0"]["bias"])))])
    assert [s for s, _, _ in seen] == [5, 10, 15] and seen[1][1] == (10, 1) and seen[0][2].shape == (1,)
    with pytest.raises(ConfigError, match="every"):
        Hook(0, print)


def test_divergence_and_bad_inputs_raise_clear_errors(toy):
    config = toy["config"].replace(epochs=2, optimizer="sgd", learning_rate=1e6)
    with pytest.raises(DataError, match="diverged"):
        fit(toy["LineTask"](toy["LineSpec"](), config), [toy["line_data"](0)], seeds=[0])
    with pytest.raises(ConfigError, match="one seed per instance"):
        fit(toy["LineTask"](toy["LineSpec"](), config), [toy["line_data"](0)], seeds=[0, 1])
    with pytest.raises(DataError, match="no training batch"):
        fit(toy["LineTask"](toy["LineSpec"](), config.replace(batch_size=100)), [toy["line_data"](0)], seeds=[0])
    for bad in ({"epochs": 0}, {"learning_rate": float("nan")}, {"learning_rate": float("inf")},
                {"schedule": "linear"}, {"optimizer": "rmsprop"}, {"momentum": 1.0}):
        with pytest.raises(ConfigError):
            TrainConfig(**bad)


# ------------------------------------------------------------------------------------------------------ resume
def _interrupted_equals_uninterrupted(task, data, tmp_path, initial=None, epochs=3):
    ref = fit(task, [data], seeds=[3], initial=initial, mesh=one_device())

    class Crash(Exception):
        pass

    def crash(epoch, metrics):
        if epoch == 2:
            raise Crash  # dies before epoch 2 is checkpointed: the run resumes after epoch 1

    with pytest.raises(Crash):
        fit(task, [data], seeds=[3], initial=initial, mesh=one_device(), checkpoint_dir=tmp_path / "run",
            on_epoch=crash)
    resumed = []
    res = fit(task, [data], seeds=[3], initial=initial, mesh=one_device(), checkpoint_dir=tmp_path / "run",
              on_epoch=lambda e, m: resumed.append(e))
    assert resumed == list(range(2, epochs + 1))
    np.testing.assert_array_equal(res.step_losses, ref.step_losses)
    assert res.best_epoch == ref.best_epoch
    assert [h["train_loss"] for h in res.history[0]] == [h["train_loss"] for h in ref.history[0]]
    for a, b in zip(jax.tree_util.tree_leaves(res.variables), jax.tree_util.tree_leaves(ref.variables)):
        np.testing.assert_array_equal(a, b)  # bit-identical
    return res


class _TinyPose(nn.Module):
    """A pose network with EfficientPose's outputs at R/8 (PAFs and a heatmap pass) and BatchNorm statistics, small
    enough to compile in a second: the pose task's resume is tested without EfficientPose's compile time."""

    keypoints: int = 16
    pafs: int = 30

    @nn.compact
    def __call__(self, x, train: bool = False):
        x = nn.Conv(4, (3, 3), strides=(8, 8))(x)
        x = nn.relu(nn.BatchNorm(use_running_average=not train, momentum=0.9)(x))
        return {"pafs": nn.Conv(self.pafs, (1, 1))(x), "pass3": nn.Conv(self.keypoints, (1, 1))(x)}


def _drawn(model, x, rng):
    """Variables of ``model`` drawn from numpy (no initialiser compiled): BatchNorm at the identity, the other
    parameters normal."""
    def leaf(path, a):
        name = path[-1].key
        if name in ("scale", "var", "mean"):
            return np.full(a.shape, name != "mean", np.float32)
        return rng.normal(0.0, 0.2, a.shape).astype(np.float32)

    return jax.tree_util.tree_map_with_path(leaf, jax.eval_shape(model.init, jax.random.PRNGKey(0), x))


def test_pose_task_resumes_from_a_checkpoint_bit_identically(tmp_path):
    """The pose task's host state (the permutation and σ of each epoch), its augmentation keys, Adam's state,
    BatchNorm statistics and the PCKh selection survive an interruption of a run started from given variables (the
    checkpoint, not the initial variables, is what the run resumes from); a small network stands in for EfficientPose
    (below, slow). The contract (tests/test_task_contract.py) resumes every other task from its own initialisation;
    its EfficientPose resume is slow."""
    from infantjax.models.pose import EfficientPoseSpec

    rng = np.random.default_rng(0)
    r = 32
    images = rng.integers(0, 255, (8, r, r, 3), dtype=np.uint8)
    keypoints = rng.uniform(0.2, 0.8, (8, 16, 2)).astype(np.float32)
    spec = EfficientPoseSpec("rt_lite", num_pafs=30, resolution=r)
    config = PoseConfig(epochs=3, batch_size=4, learning_rate=1e-3, sigma=3.0, sigma_final=1.0, progress=False)
    assert config.augment is not None and config.sigma_at(1) != config.sigma_at(3) and config.optimizer == "adam"
    task = PoseTask(spec, config, "mpii-16", model=_TinyPose())
    data = PoseData(images, keypoints, validation=(images[:4], keypoints[:4]))
    initial = _drawn(_TinyPose(), np.zeros((1, r, r, 3), np.float32), rng)
    res = _interrupted_equals_uninterrupted(task, data, tmp_path, initial=initial)
    assert {"val_pckh", "best_val_pckh"} <= set(res.history[0][-1])
    assert "batch_stats" in res.variables


@pytest.mark.slow
def test_pose_training_resumes_from_a_checkpoint_bit_identically(tmp_path):
    """The same with EfficientPose RT Lite from fixed initial variables (about 45 s of compilation on 2 cores)."""
    from infantjax.models.pose import EfficientPoseSpec, init_variables

    rng = np.random.default_rng(0)
    r = 32
    images = rng.integers(0, 255, (8, r, r, 3), dtype=np.uint8)
    keypoints = rng.uniform(0.2, 0.8, (8, 16, 2)).astype(np.float32)
    spec = EfficientPoseSpec("rt_lite", num_pafs=30, resolution=r)
    config = PoseConfig(epochs=3, batch_size=4, learning_rate=1e-3, progress=False)
    task = PoseTask(spec, config, "mpii-16")
    data = PoseData(images, keypoints, validation=(images[:4], keypoints[:4]))
    res = _interrupted_equals_uninterrupted(task, data, tmp_path, initial=init_variables(spec, jax.random.PRNGKey(0)))
    assert {"val_pckh", "best_val_pckh"} <= set(res.history[0][-1])
