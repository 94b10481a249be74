"""The task contract, checked for every registered task (every ``Task`` subclass that defines ``example()``: the task
of every family shipped with infantjax, found from the registry — each family names its training module, whose
import registers its task — and the toy family of docs/architecture.md). A task registered tomorrow is checked here
without a line of new test code:

* a run resumed from its checkpoint (a crash after early stopping has started, for tasks that stop early) trains
  only the epoch the crash cut short, without a warning, and ends bit for bit as the uninterrupted run: variables,
  history, kept epochs, losses;
* an instance trained in a stack equals the same instance trained alone;
* ``epoch_batches`` depends on (seed, epoch) only: two task objects give the same batches, in any order of access;
* ``compile_key`` ignores host-only config fields and changes with a compiled one;
* a task keeps no host state between runs (early stopping is the engine's).
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import importlib
import logging
import warnings

import jax
import numpy as np
import pytest
from test_engine import toy_family

from infantjax import parallel
from infantjax.errors import ConfigError
from infantjax.infer import registry
from infantjax.train import fit, registered_tasks


def training_modules() -> dict[str, str | None]:
    """Every shipped family's training module (``TrainedModel.training_module``), imported: its task registers."""
    named = {f.kind: f.model.training_module for f in registry.shipped()}
    for module in named.values():
        if module:
            importlib.import_module(module)
    return named


SHIPPED_TASKS = training_modules()
toy_family()  # the docs' toy family registers its task
TASKS = registered_tasks()


class Crash(Exception):
    pass


def _mesh(n: int):
    return parallel.instance_mesh(n, devices=jax.devices()[:1])


def _leaves(tree):
    return [np.asarray(x) for x in jax.tree_util.tree_leaves(tree)]


def _cached_properties(cls) -> set[str]:
    return {name for klass in cls.__mro__ for name, value in vars(klass).items()
            if isinstance(value, functools.cached_property)}


def test_every_task_of_the_package_is_registered():
    """Every shipped family names its training module, and importing it registered a task (so the contract below
    checks it); the documented toy family's task too."""
    assert len(SHIPPED_TASKS) >= 6  # the CP, pose, depth, smartphone, SMA and MAM families at least
    for kind, module in SHIPPED_TASKS.items():
        assert module, f"the {kind} family names no training_module"
        assert [t for t in TASKS if t.__module__ == module], f"{module} (the {kind} family's) registers no task"
    assert toy_family()["LineTask"] in TASKS


# EfficientPose's four training programs compile for about a minute on 2 CPU cores: its resume contract is slow. The
# default run resumes a PCKh-selected pose-style task with a small network in its place (test_engine) and checks
# every other task here.
_SLOW_CONTRACT = {"PoseTask"}


@pytest.mark.parametrize("cls", [pytest.param(c, marks=pytest.mark.slow) if c.__name__ in _SLOW_CONTRACT else c
                                 for c in TASKS], ids=lambda c: c.__name__)
def test_resume_is_exact_and_a_stacked_instance_equals_it_alone(cls, tmp_path, caplog):
    task, data = cls.example()
    assert len(data) == 2
    before = set(vars(task))
    selection = task.selection()
    full = fit(task, data, seeds=[3, 4], mesh=_mesh(2))
    last = len(full.history[0])
    assert last >= 3, f"{cls.__name__}.example() should train at least 3 epochs"
    if selection is not None and selection.patience is not None:
        # the crash below comes after early stopping has started (the example must stop within its epochs)
        assert full.stopped_early and last - 1 > selection.start

    def crash(epoch, metrics):
        if epoch == last:
            raise Crash

    with pytest.raises(Crash):
        fit(task, data, seeds=[3, 4], mesh=_mesh(2), checkpoint_dir=tmp_path / "run", on_epoch=crash)
    trained = []
    caplog.clear()
    with caplog.at_level("WARNING"), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        resumed = fit(task, data, seeds=[3, 4], mesh=_mesh(2), checkpoint_dir=tmp_path / "run",
                      on_epoch=lambda e, m: trained.append(e))
    assert trained == [last]  # it did resume: the epochs before the crash come from the checkpoint
    # without a warning (Orbax's "Metadata file does not exist" for ``<step>/state`` was logged on every resume,
    # issue 38)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert [str(w.message) for w in caught] == []
    for a, b in zip(_leaves(full.variables), _leaves(resumed.variables), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_equal(resumed.history, full.history)
    np.testing.assert_array_equal(resumed.step_losses, full.step_losses)
    assert resumed.best_epoch == full.best_epoch and resumed.stopped_early == full.stopped_early

    alone = fit(task, data[1:], seeds=[4], mesh=_mesh(1))
    if selection is None:
        assert alone.best_epoch[0] == full.best_epoch[1]
    else:
        # the same epoch is chosen unless rounding moved the selection metric: a count-based metric (the pose
        # example's PCKh over 32 validation keypoints) can flip one hit when the stacked program rounds otherwise
        mine = np.array([h[selection.metric] for h in alone.history[0]])
        theirs = np.array([h[selection.metric] for h in full.history[1]])
        np.testing.assert_allclose(mine, theirs, rtol=1e-3, atol=1 / 32 + 1e-9)
        if np.allclose(mine, theirs, rtol=1e-6, atol=0):
            assert alone.best_epoch[0] == full.best_epoch[1]
    # the first epoch's losses agree to rounding; later ones drift as rounding grows over the steps
    np.testing.assert_allclose(alone.history[0][0]["train_loss"], full.history[1][0]["train_loss"], rtol=1e-4)
    # equal up to float rounding: a stacked program sums in another order, and parameters whose gradients cancel
    # (a BatchNorm bias) carry that rounding at a large relative size, so each collection is compared on its own
    # scale; another instance's variables (another seed) would be off by that whole scale. (Where a flipped hit
    # chose another epoch, the restored variables are that epoch's: the histories above agree to one hit.)
    if alone.best_epoch[0] == full.best_epoch[1]:
        for name, mine in alone.instance(0).items():
            scale = max(float(np.abs(x).max()) for x in _leaves(mine)) if _leaves(mine) else 0.0
            for a, b in zip(_leaves(mine), _leaves(full.instance(1)[name]), strict=True):
                np.testing.assert_allclose(a, b, rtol=0, atol=1e-2 * scale + 1e-7)
    # no host state: what the task holds after three runs is what it held before (cached properties aside)
    assert set(vars(task)) - before <= _cached_properties(cls)


@pytest.mark.parametrize("cls", TASKS, ids=lambda c: c.__name__)
def test_epoch_batches_depend_on_seed_and_epoch_only(cls):
    task, data = cls.example()
    twin, _ = cls.example()
    for epoch in (1, 2):
        a = task.epoch_batches(data[0], epoch, np.random.default_rng([7, epoch]))
        b = twin.epoch_batches(data[0], epoch, np.random.default_rng([7, epoch]))
        assert len(a) == len(b) >= 1
        for s in reversed(range(len(a))):  # lazily cut, in any order
            np.testing.assert_equal(jax.tree_util.tree_map(np.asarray, b[s]),
                                    jax.tree_util.tree_map(np.asarray, a[s]))
    first = task.epoch_batches(data[0], 1, np.random.default_rng([7, 1]))[0]
    other = task.epoch_batches(data[0], 1, np.random.default_rng([8, 1]))[0]
    assert any(not np.array_equal(x, y) for x, y in zip(_leaves(first), _leaves(other)))  # the seed matters


def _changed(value):
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, float):
        return value / 2 if 0 < value < 1 else value + 1
    if value is None:
        return 1 << 30
    return None


@pytest.mark.parametrize("cls", TASKS, ids=lambda c: c.__name__)
def test_compile_key_ignores_host_only_fields(cls):
    task, _ = cls.example()
    config = task.config
    changed = 0
    for field in dataclasses.fields(config):
        new = _changed(getattr(config, field.name))
        if new is None:
            continue
        try:
            other = config.replace(**{field.name: new})
        except ConfigError:
            continue
        twin = copy.copy(task)
        twin.config = other
        if field.metadata.get("host", False):
            assert twin.compile_key() == task.compile_key() and hash(twin) == hash(task) and twin == task, field.name
            changed += 1
        else:
            assert twin.compile_key() != task.compile_key(), field.name
    assert changed >= 3
