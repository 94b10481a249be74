"""Memory that fits: evaluation and scoring chunks follow XLA's memory analysis of the compiled program and the
config's budget; chunking changes how much runs at once, never the result."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _train_utils import SMALL, tiny_gcn_spec
from test_ensemble import random_stack

from infantjax import backend, ensemble, parallel
from infantjax.errors import ConfigError
from infantjax.infer.predict import MIN_CALL, call_plan
from infantjax.protocols import cp as cp_protocol
from infantjax.train import TrainConfig


def test_budgeted_chunk_halves_until_it_fits():
    calls = []

    def measure(c):  # 1 kB per example plus a fixed 10 kB
        calls.append(c)
        return 10_000 + 1_000 * c

    assert parallel.budgeted_chunk(measure, 256, multiple=8, budget=10**9) == 256
    assert parallel.budgeted_chunk(measure, 256, multiple=8, budget=75_000) == 64
    assert parallel.budgeted_chunk(measure, 250, multiple=8, budget=1) == 8  # never below one multiple
    assert all(c % 8 == 0 for c in calls)


def test_program_bytes_grows_with_the_chunk():
    f = jax.jit(lambda w, x: jnp.tanh(x @ w) @ w.T)
    w = jnp.ones((64, 64))
    small = parallel.program_bytes(f, w, jax.ShapeDtypeStruct((16, 64), jnp.float32))
    large = parallel.program_bytes(f, w, jax.ShapeDtypeStruct((4096, 64), jnp.float32))
    assert small >= 64 * 64 * 4 and large > small + 4096 * 64 * 4


def test_memory_budget_default_is_a_quarter_of_the_devices_memory_and_on_cpu_at_most_the_measured_budget():
    import os

    device = jax.devices()[0]
    if device.platform == "cpu":  # every (fake) CPU device lives in host RAM
        memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        assert parallel.memory_budget() == min(int(memory * 0.25), parallel.CPU_BUDGET)
        assert parallel.CPU_BUDGET == 1_500_000_000
    else:  # an accelerator: its allocator's limit
        memory = device.memory_stats()["bytes_limit"]
        assert parallel.memory_budget() == int(memory * 0.25)
    assert parallel.memory_budget(fraction=0.25) == int(memory * 0.25)
    assert parallel.memory_budget(123) == 123


@pytest.mark.parametrize("bad", [0, -5, 1.5, True, "1GB"])
def test_budget_is_validated(bad):
    with pytest.raises(ConfigError, match="memory_budget"):
        TrainConfig(memory_budget=bad)


def test_scoring_under_a_tiny_budget_equals_the_default():
    """A budget too small for any chunk scores one mesh-row of windows per call: same probabilities and CAMs."""
    spec = tiny_gcn_spec()
    # 2 instances, as the other scoring tests here: the calls of 8 and 4 windows compile once for the file
    # (instances padded to the mesh's instance axis: tests/test_ensemble.py)
    stack = random_stack(spec, 2, 1)
    windows = np.random.default_rng(0).normal(size=(5, SMALL.window, 19, 2)).astype(np.float32) * 0.1
    roomy = ensemble.Ensemble([spec], [stack], SMALL)
    tight = ensemble.Ensemble([spec], [stack], dataclasses.replace(SMALL, memory_budget=1))
    p1, c1 = roomy.window_predictions(windows)
    p2, c2 = tight.window_predictions(windows)
    np.testing.assert_allclose(p2, p1, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(c2, c1, rtol=1e-5, atol=1e-6)
    (roomy_scoring,), (tight_scoring,) = roomy.predictors.values(), tight.predictors.values()
    (roomy_chunk,), (tight_chunk,) = roomy_scoring.chunks.values(), tight_scoring.chunks.values()
    assert roomy_chunk == 8 and tight_chunk < roomy_chunk  # 5 windows → bucket 8; the tiny budget lowers it
    # one executable per call size actually run (the measured-and-refused larger ones are dropped), reused
    assert {key[1] for key in tight_scoring.executables} <= {tight_chunk, *range(1, tight_chunk + 1)}
    kept = dict(tight_scoring.executables)
    tight.window_predictions(windows)
    assert tight_scoring.executables == kept and all(tight_scoring.executables[k] is v for k, v in kept.items())


def test_training_over_budget_runs_instances_in_groups_with_the_same_result(caplog):
    """On one device a vmapped step above the budget runs the folds in sequential groups: same variables."""
    import logging

    from _train_utils import random_walk_cohort

    cohort = random_walk_cohort(8, 40, seed=3)
    mesh = parallel.instance_mesh(3, devices=jax.devices()[:1])
    config = dataclasses.replace(SMALL, epochs=1, batch_size=8, positive_copies=2, negative_copies=2)
    spec = tiny_gcn_spec()
    roomy = cp_protocol.train([spec], cohort, config, folds=3, mesh=mesh)
    with caplog.at_level(logging.INFO, logger="infantjax.train.engine"):
        tight = cp_protocol.train([spec], cohort, dataclasses.replace(config, memory_budget=1), folds=3, mesh=mesh)
    assert "running them in groups of 1" in caplog.text
    for a, b in zip(jax.tree_util.tree_leaves(roomy.variables), jax.tree_util.tree_leaves(tight.variables)):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6)


def test_the_budgets_measured_steps_run_or_are_dropped(monkeypatch):
    """The budget compiles each candidate training step to measure it: the candidate chosen is the step that runs
    (compiled once, kept with the program set), every other one is dropped with its executable (a vmapped step
    that does not fit held 0.6-0.8 GB for the process's life, docs/performance.md "Memory")."""
    import gc
    import weakref

    from infantjax.train import engine
    from infantjax.train.cp import CPTask

    task, data = CPTask.example()
    mesh = parallel.instance_mesh(3, devices=jax.devices()[:1])
    programs = engine.Programs(task, 4, mesh)  # a set of its own: the budget's keys are measured once per set
    keys = np.stack([np.asarray(jax.random.PRNGKey(s)) for s in range(3)])
    part = jax.tree_util.tree_map(np.asarray, task.epoch_batches(data[0], 1, np.random.default_rng(0))[0])
    batch = parallel.to_global(engine.stack_instances([part] * 3, 3), parallel.batch_sharding(mesh))
    active = parallel.to_global(np.ones(3, bool), parallel.instance_sharding(mesh))
    measured = []
    real = parallel.compiled_bytes
    monkeypatch.setattr(parallel, "compiled_bytes", lambda c: (measured.append(weakref.ref(c)), real(c))[1])

    def chosen(budget):
        measured.clear()
        config = dataclasses.replace(task.config, memory_budget=budget)
        step = engine.train_step_within_budget(programs, programs.init(keys), batch, active, config)
        gc.collect()
        return step, [r() for r in measured]

    roomy, alive = chosen(None)  # a quarter of the RAM: the vmapped step fits, is measured once and runs
    assert len(alive) == 1 and alive[0] is roomy and roomy is not programs.train_step
    state, loss, _ = roomy(programs.init(keys), batch, active)
    _, loss_jit, _ = programs.train_step(programs.init(keys), batch, active)
    np.testing.assert_array_equal(loss, loss_jit)  # the same program
    need = real(roomy)
    for budget in (int(0.8 * need), 1):  # a group of 2 or 1 instead: the vmapped candidate is dropped
        step, alive = chosen(budget)
        assert step is not roomy and alive[0] is None, budget
        assert all(c is None or c is step for c in alive)
        state, loss_grouped, _ = step(programs.init(keys), batch, active)
        np.testing.assert_allclose(loss_grouped, loss, rtol=1e-5)
    assert engine.train_step_within_budget(programs, programs.init(keys), batch, active,
                                           dataclasses.replace(task.config, memory_budget=None)) is roomy


def test_drop_programs_forgets_an_architecture():
    from infantjax.train import engine
    from infantjax.train.cp import CPTask

    example, _ = CPTask.example()
    task = CPTask(example.spec, dataclasses.replace(example.config, schedule="cosine"))  # one set per horizon
    other = CPTask(tiny_gcn_spec(temporal_kernel_size=5), task.config)  # another architecture
    mesh = parallel.instance_mesh(2, devices=jax.devices()[:1])
    mine = engine.programs_for(task, 4, mesh)
    engine.programs_for(task, 5, mesh)  # another horizon of the same architecture
    kept = engine.programs_for(other, 4, mesh)
    assert engine.drop_programs(task) == 2
    assert engine.programs_for(other, 4, mesh) is kept and engine.drop_programs(other) == 1
    assert engine.programs_for(task, 4, mesh) is not mine  # compiled again when it comes back
    assert engine.drop_programs(task) == 1 and engine.drop_programs(task) == 0


def test_scoring_calls_cover_every_window_once_with_little_padding():
    for multiple in (1, 2, 8):
        for step in (multiple, 8 * multiple, 128):
            for n in range(1, 300):
                calls = call_plan(n, step, multiple)
                starts = [lo for lo, _ in calls]
                assert starts == [0] + list(np.cumsum([size for _, size in calls])[:-1])  # contiguous
                assert all(size <= step and size % multiple == 0 for _, size in calls)
                padded = sum(size for _, size in calls) - n
                assert 0 <= padded < max(MIN_CALL, multiple)
    assert call_plan(71, 128) == [(0, 64), (64, 8)]  # a 3-minute recording: 72 windows, not 128


def test_scoring_in_power_of_two_calls_equals_equal_calls():
    spec = tiny_gcn_spec()
    stack = random_stack(spec, 2, 2)
    windows = np.random.default_rng(1).normal(size=(11, SMALL.window, 19, 2)).astype(np.float32) * 0.1
    ens = ensemble.Ensemble([spec], [stack], SMALL)
    p1, c1 = ens.window_predictions(windows)  # calls of 8 and 4 windows
    p2, c2 = ens.window_predictions(windows, chunk=4)  # calls of 4, 4 and 4 (the last padded by one)
    np.testing.assert_allclose(p1, p2, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(c1, c2, rtol=1e-5, atol=1e-6)


@pytest.mark.eight_devices  # a mesh over 2 devices
def test_scoring_one_instance_after_another_equals_all_at_once(cpu_policy):
    """On CPU with every instance on one device the scoring program maps over instances (plain convolutions);
    spread over devices it vmaps. Both give the same predictions."""
    spec = tiny_gcn_spec()
    stack = random_stack(spec, 2, 3)
    windows = np.random.default_rng(2).normal(size=(9, SMALL.window, 19, 2)).astype(np.float32) * 0.1
    ens = ensemble.Ensemble([spec], [stack], SMALL)
    one_device = parallel.instance_mesh(3, devices=jax.devices()[:1])
    spread = parallel.instance_mesh(3, devices=jax.devices()[:2], instance_axis=2)
    assert backend.instances(one_device) == "map" and backend.instances(spread) == "vmap"
    p1, c1 = ens.window_predictions(windows, mesh=one_device)
    p2, c2 = ens.window_predictions(windows, mesh=spread)
    np.testing.assert_allclose(p1, p2, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(c1, c2, rtol=1e-5, atol=1e-6)


def test_train_says_the_memory_budget_it_runs_under():
    from infantjax.commands.train import memory_line

    line = memory_line(None)
    assert line.startswith("memory budget: ") and "--memory-budget GB to change it" in line
    assert f"{parallel.memory_budget() / 1e9:.2f} GB" in line
    assert memory_line(2_500_000_000) == "memory budget: 2.50 GB a compiled call (--memory-budget)"
