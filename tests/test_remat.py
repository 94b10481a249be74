"""Rematerialisation of the GCN modules (``CPConfig.remat``, ``infantjax.nn.remat``; issue 33 part 1 item 5).

A rematerialised network has the same variables, outputs, gradients and batch-statistics updates as the plain one,
and its training step's compiled program keeps less scratch memory (XLA's ``memory_analysis``: deterministic, no
timing).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _train_utils import filled_variables

from infantjax import models
from infantjax.errors import ConfigError
from infantjax.models.gcn import STGCNSpec, build_model
from infantjax.models.gcn.presets import demo_spec
from infantjax.nn.remat import recompute_in_backward
from infantjax.train import CPConfig, CPTask


def _loss_and_grads(model, variables, x, y):
    def loss(params):
        (logits, _), updates = model.apply({**variables, "params": params}, x, train=True, mutable=["batch_stats"],
                                           rngs={"dropout": jax.random.PRNGKey(3)})
        return jnp.mean((logits - y) ** 2), updates

    (value, updates), grads = jax.jit(jax.value_and_grad(loss, has_aux=True))(variables["params"])
    return value, grads, updates


def _filled(shapes, seed=0):
    """Variables of these shapes filled in NumPy at init's scales (:func:`_train_utils.filled_variables`): running
    init eagerly compiled ~100 programs a network, and remat's check only needs the same variables on both sides."""
    return filled_variables(shapes, np.random.default_rng(seed))


@pytest.mark.parametrize("spec", [demo_spec(temporal_kernel_size=3), STGCNSpec(channels=(8, 8, 16), strides=(1, 1, 2),
                                                                               temporal_kernel_size=3)],
                         ids=["searchable", "stgcn"])
def test_remat_changes_no_value(spec):
    channels = 2 if isinstance(spec, STGCNSpec) else 6
    x = jax.random.normal(jax.random.PRNGKey(1), (4, 24, 19, channels))
    y = jax.random.normal(jax.random.PRNGKey(2), (4, 2))
    plain, rematted = build_model(spec), build_model(spec, remat=True)
    shapes = jax.eval_shape(lambda: plain.init(jax.random.PRNGKey(0), x, train=False))
    assert jax.tree_util.tree_structure(jax.eval_shape(lambda: rematted.init(jax.random.PRNGKey(0), x, train=False))) \
        == jax.tree_util.tree_structure(shapes)  # the same variables: checkpoints load either way
    variables = _filled(shapes)
    for train in (False, True):  # jitted: eagerly every op compiled a program of its own
        a = jax.jit(lambda v, train=train: plain.apply(v, x, train=train, mutable=["batch_stats"] if train else False)
                    )(variables)
        b = jax.jit(lambda v, train=train: rematted.apply(v, x, train=train,
                                                         mutable=["batch_stats"] if train else False))(variables)
        for u, v in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
            np.testing.assert_allclose(np.asarray(u), np.asarray(v), rtol=1e-5, atol=1e-6)
    la, ga, ua = _loss_and_grads(plain, variables, x, y)
    lb, gb, ub = _loss_and_grads(rematted, variables, x, y)
    np.testing.assert_allclose(float(la), float(lb), rtol=1e-6)
    for u, v in zip(jax.tree_util.tree_leaves((ga, ua)), jax.tree_util.tree_leaves((gb, ub))):
        np.testing.assert_allclose(np.asarray(u), np.asarray(v), rtol=2e-4, atol=1e-6)


def test_recompute_in_backward_has_the_functions_derivatives():
    def f(w, x):
        return jnp.tanh(x @ w).sum(axis=-1) ** 2

    w, x = jax.random.normal(jax.random.PRNGKey(0), (5, 3)), jax.random.normal(jax.random.PRNGKey(1), (4, 5))
    np.testing.assert_allclose(recompute_in_backward(f)(w, x), f(w, x), rtol=1e-6)
    ga = jax.grad(lambda w, x: f(w, x).sum(), argnums=(0, 1))(w, x)
    gb = jax.grad(lambda w, x: recompute_in_backward(f)(w, x).sum(), argnums=(0, 1))(w, x)
    for u, v in zip(ga, gb):
        np.testing.assert_allclose(u, v, rtol=1e-5, atol=1e-6)


def _step_scratch(remat: bool) -> int:
    from infantjax import parallel
    from infantjax.train import programs_for

    # four main modules (two levels of two): rematerialising keeps only the inputs of each module
    spec = demo_spec(temporal_kernel_size=3, num_main_levels=2, num_main_level_modules=2)
    task = CPTask(spec, CPConfig(remat=remat, batch_size=4, window=60, progress=False))
    programs = programs_for(task, 10, parallel.instance_mesh(1, devices=jax.devices()[:1]))
    keys = jax.ShapeDtypeStruct((1, 2), jnp.uint32)
    state = jax.eval_shape(programs.init, keys)
    batch = {"positions": jax.ShapeDtypeStruct((1, 4, 60, 19, 2), jnp.float32),
             "labels": jax.ShapeDtypeStruct((1, 4), jnp.int32)}
    active = jax.ShapeDtypeStruct((1,), jnp.bool_)
    compiled = programs.train_step.lower(state, batch, active).compile(models.FAST_COMPILE)
    return compiled.memory_analysis().temp_size_in_bytes


def test_remat_lowers_the_training_steps_memory():
    # XLA's memory analysis of the engine's training step of a small searchable GCN with four main modules: 12.4 MB
    # of scratch plain, 6.7 MB rematerialised (a Table A.4 network at batch 32 and 150 frames: 3.82 GB and 1.92 GB;
    # docs/performance.md "Memory", which this test compiled before, for twice as long). The share saved grows with
    # the modules: the smallest GCN of the search space, one main module, keeps 0.77 of its scratch.
    plain, rematted = _step_scratch(False), _step_scratch(True)
    assert rematted < 0.75 * plain, (plain, rematted)


def test_remat_is_a_config_switch_and_part_of_the_compile_key():
    assert CPConfig().remat == "auto"
    a, b = CPTask(demo_spec(), CPConfig(progress=False)), CPTask(demo_spec(), CPConfig(remat=True, progress=False))
    assert a.model.remat is False and b.model.remat is True and (a.remat, b.remat) == (False, True)
    assert a.compile_key() != b.compile_key()
    with pytest.raises(ConfigError, match="remat"):
        CPConfig(remat="yes")


def test_auto_remat_rematerialises_only_a_step_that_would_keep_too_many_activations(monkeypatch, caplog):
    from infantjax.models.gcn import GCNSpec
    from infantjax.train import cp

    # at the defaults' batch of 32 windows: Table A.4 #4 keeps ~5.6 GB of activations on the CPU, #1 ~3.1 GB
    small, large = GCNSpec.table_a4()[0], GCNSpec.table_a4()[3]
    with caplog.at_level("INFO", logger="infantjax.train.cp"):
        assert CPTask(large, CPConfig(progress=False)).remat is True
    assert "rematerialised" in caplog.text and "CPConfig.remat=False" in caplog.text
    assert CPTask(small, CPConfig(progress=False)).remat is False
    assert CPTask(large, CPConfig(remat=False, progress=False)).remat is False  # asked by name: never
    assert CPTask(large, CPConfig(batch_size=8, progress=False)).remat is False  # a quarter of the activations
    assert cp._backward_bytes(large, CPConfig(), 19) > cp.REMAT_ABOVE > cp._backward_bytes(small, CPConfig(), 19)
    # the limit decides: a lower one rematerialises the small network too, with the same variables
    monkeypatch.setattr(cp, "REMAT_ABOVE", 1)
    tiny = CPTask(demo_spec(), CPConfig(progress=False))
    assert tiny.remat is True and tiny.model.remat is True
    plain = CPTask(demo_spec(), CPConfig(remat=False, progress=False))
    assert jax.tree_util.tree_structure(jax.eval_shape(tiny.init, jax.random.PRNGKey(0))) == \
        jax.tree_util.tree_structure(jax.eval_shape(plain.init, jax.random.PRNGKey(0)))


def test_train_command_switches_remat_and_the_memory_budget(tmp_path, capsys):
    from infantjax import cli
    from infantjax.commands.train import config_from_args

    args = cli.build_parser().parse_args(["train", "--data", str(tmp_path), "--out", str(tmp_path / "o"), "--remat",
                                          "--memory-budget", "2.5"])
    config = config_from_args(args)
    assert config.remat is True and config.memory_budget == 2_500_000_000
    plain = config_from_args(cli.build_parser().parse_args(["train", "--data", str(tmp_path), "--out", "o"]))
    assert plain.remat == "auto" and plain.memory_budget is None
    never = config_from_args(cli.build_parser().parse_args(["train", "--data", str(tmp_path), "--out", "o",
                                                            "--no-remat"]))
    assert never.remat is False
    assert cli.main(["train", "--data", str(tmp_path), "--out", str(tmp_path / "o"), "--memory-budget", "0"]) == 2
    assert "--memory-budget must be a positive number of GB" in capsys.readouterr().err
