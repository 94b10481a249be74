"""The CPU policy's scoring forms of the CP GCNs against the forms before them: the basic temporal block's branches,
BatchNorms and fusion folded into one convolution (``Policy.temporal_fold``), a widening graph convolution that
aggregates its input first (``Policy.graph_order``) and an ensemble scored in calls of 8 windows
(``Policy.scoring_windows``) — the same variables, the same values to float32 rounding, the accelerator policies
unchanged (docs/performance.md, "CP ensemble scoring on CPU")."""

from __future__ import annotations

import dataclasses
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _train_utils import filled_variables

from infantjax import backend
from infantjax import skeleton as skeleton_lib
from infantjax.errors import ConfigError
from infantjax.models.gcn import GCNSpec, build_model
from infantjax.nn.graph import GraphConv, aggregate_first

V = 19
BEFORE = {"temporal_fold": False, "graph_order": "conv first", "scoring_windows": None}


def _moved(variables, seed=0):
    """Every BatchNorm's statistics and affine parameters moved off their initial values, so that folding them is
    not trivially exact."""
    rng = np.random.default_rng(seed)

    def move(path, leaf):
        name = str(getattr(path[-1], "key", path[-1]))
        leaf = np.asarray(leaf)
        if name == "var":
            return (leaf * rng.uniform(0.5, 2.0, leaf.shape)).astype(leaf.dtype)
        if name in ("mean", "scale") or (name == "bias" and "bn" in str(getattr(path[-2], "key", ""))):
            return (leaf + rng.normal(0.0, 0.3, leaf.shape)).astype(leaf.dtype)
        return leaf

    return jax.tree_util.tree_map_with_path(move, variables)


def _variables(model, x, seed=0):
    """The model's variables (``jax.eval_shape`` of its ``init``, so the structure is init's) filled in NumPy at
    init's scales — kernels N(0, 1/fan-in), small biases, BatchNorms 1/0/0/1, edge importances 1 — then
    :func:`_moved`. Compiling ``init`` itself took 4 s a network (its random number generation) and running it
    eagerly ~150 programs; the forms compared below only need the same variables on both sides."""
    shapes = jax.eval_shape(lambda: model.init(jax.random.key(0), x, train=False))
    return _moved(filled_variables(shapes, np.random.default_rng(seed)), seed)


def test_the_cpu_policy_has_the_scoring_forms_and_the_accelerators_keep_theirs():
    cpu = backend.policy("cpu")
    assert (cpu.temporal_fold, cpu.graph_order, cpu.scoring_windows) == (True, "narrow first", 8)
    for name in ("accelerator", "tpu", "tpu-v6e"):
        other = backend.policy(name)
        assert (other.temporal_fold, other.graph_order, other.scoring_windows) == (False, "conv first", None), name


def test_use_replaces_forms_in_a_block_and_refuses_unknown_ones():
    with backend.use("cpu", temporal_fold=False) as policy:
        assert not policy.temporal_fold and policy.graph_order == "narrow first" and policy.name == "cpu"
        with backend.use(scoring_windows=None):  # the inner block adds a form, the outer one's stays
            assert backend.current().scoring_windows is None and not backend.current().temporal_fold
        with backend.use("cpu", temporal_fold=True):
            assert backend.current() == backend.policy("cpu")
        assert backend.current() == dataclasses.replace(backend.policy("cpu"), temporal_fold=False)
    with backend.use("accelerator", temporal_fold=True):
        assert backend.current().temporal_fold and backend.current().conv == "plain"
    with pytest.raises(ConfigError, match="not forms of the backend policy"), backend.use(temporal_flod=False):
        pass


@pytest.mark.parametrize("impl", ["matmul", "einsum"])
@pytest.mark.parametrize("use_bias", [True, False])
def test_a_widening_graph_conv_aggregates_its_input_first_to_the_same_values(impl, use_bias):
    """2 → 7 channels (a network's first layer) over the disentangled graph: the same variables and outputs under
    both orders, and :func:`aggregate_first` is the layer's map with the bias added before the aggregation."""
    a = jnp.asarray(skeleton_lib.get("in-motion-19").adjacency("disentangled", scales=4))
    x = jax.random.normal(jax.random.key(1), (2, 5, V, 2))
    layer = GraphConv(features=7, partitions=4, use_bias=use_bias, impl=impl)
    out = {}
    for order in ("narrow first", "conv first"):
        with backend.use("cpu", graph_order=order):  # jitted: eagerly every op compiled a program of its own
            variables = jax.jit(layer.init)(jax.random.key(0), x, a)
            jaxpr = jax.make_jaxpr(lambda v, x: layer.apply(v, x, a))(variables, x)
            out[order] = variables, jax.jit(layer.apply)(variables, x, a), jaxpr
    (v1, y1, j1), (v2, y2, j2) = out["narrow first"], out["conv first"]
    assert jax.tree_util.tree_structure(v1) == jax.tree_util.tree_structure(v2)
    assert all((np.asarray(p) == np.asarray(q)).all()
               for p, q in zip(jax.tree_util.tree_leaves(v1), jax.tree_util.tree_leaves(v2)))
    np.testing.assert_allclose(np.asarray(y1), np.asarray(y2), rtol=1e-5, atol=1e-5)
    if impl == "matmul":  # the aggregation touches the 2 input channels, not the 4 × 7 of the conv's output
        widest = {o: max(int(np.prod(e.outvars[0].aval.shape)) for e in j.jaxpr.eqns
                         if e.primitive.name == "dot_general") for o, j in (("narrow", j1), ("conv", j2))}
        assert widest["narrow"] < widest["conv"]
    params = v1["params"]["conv"]
    direct = jax.jit(aggregate_first, static_argnums=4)(x, a, params["kernel"], params.get("bias"), impl)
    np.testing.assert_allclose(np.asarray(direct), np.asarray(y2), rtol=1e-5, atol=1e-5)


# one architecture of each kind of basic temporal block: 1, 2 and 3 scales ("linear"), kernels 5 and 7, a stride-2
# level, an outer SE after the fusion (the reference skips it at one scale, corrected mode keeps it), block and
# module residuals, an inner SE (not folded: nonlinear between the convolution and the fusion) and a bottleneck net
_SPECS = {
    "basic, 1-3 scales": GCNSpec(graph="dis2", input_width=6, num_input_modules=2, initial_block_type="basic",
                                 initial_residual="block", input_temporal_scales="linear", initial_main_width=6,
                                 num_main_levels=2, num_main_level_modules=1, block_type="basic",
                                 bottleneck_factor=2, residual="module", main_temporal_scales=3,
                                 temporal_kernel_size=5, se="outer", attention="null", pool="global"),
    "kernel 7, spatial": GCNSpec(graph="spatial", input_width=6, num_input_modules=1, initial_block_type="basic",
                                 initial_residual="dense", input_temporal_scales=2, initial_main_width=6,
                                 num_main_levels=1, num_main_level_modules=1, block_type="basic",
                                 bottleneck_factor=2, residual="null", main_temporal_scales=1,
                                 temporal_kernel_size=7, se="null", attention="channel", pool="spatial"),
    "inner SE, bottleneck": GCNSpec(graph="dis4", input_width=6, num_input_modules=1, initial_block_type="basic",
                                    initial_residual="null", input_temporal_scales=2, initial_main_width=6,
                                    num_main_levels=1, num_main_level_modules=1, block_type="bottleneck",
                                    bottleneck_factor=2, residual="block", main_temporal_scales=2,
                                    temporal_kernel_size=3, se="inner", attention="null", pool="global"),
}


#: every block kind in the reference structure, and the corrected structure (which changes the temporal blocks'
#: wiring where a quirk is fixed) on the kind with the most branches: the fold reads the same block either way
#: (the second corrected case is slow: 25 s of compiling on 2 CPU cores for a wiring the first one already reads)
_FOLD_CASES = [(name, "reference") for name in sorted(_SPECS)] + [
    ("basic, 1-3 scales", "corrected"),
    pytest.param("inner SE, bottleneck", "corrected", marks=pytest.mark.slow)]


@pytest.mark.parametrize("name,mode", _FOLD_CASES)
def test_folded_temporal_blocks_score_as_the_branches_do(name, mode):
    """The network evaluated with its temporal blocks folded equals it evaluated branch by branch (logits and the
    feature map the CAM reads), with the same variables from ``init``; training runs the branches (the folded form
    is evaluation only: its outputs with batch statistics equal the unfolded ones exactly)."""
    spec = _SPECS[name].replace(dtype="float32")
    model = build_model(spec, mode=mode)
    x = jax.random.normal(jax.random.key(2), (3, 30, V, 6))
    with backend.use("cpu"):
        variables = _variables(model, x)
    out = {}
    for label, forms in (("folded", {}), ("branches", {"temporal_fold": False})):
        with backend.use("cpu", **forms):
            init = jax.eval_shape(lambda: model.init(jax.random.key(0), x, train=False))
            out[label] = init, jax.jit(lambda v, x: model.apply(v, x, train=False))(variables, x), \
                jax.jit(lambda v, x: model.apply(v, x, train=True, mutable=["batch_stats"])[0][0])(variables, x)
    assert jax.tree_util.tree_structure(out["folded"][0]) == jax.tree_util.tree_structure(out["branches"][0])
    for f, b in zip(out["folded"][1], out["branches"][1]):
        scale = float(np.abs(np.asarray(b)).max())
        np.testing.assert_allclose(np.asarray(f), np.asarray(b), rtol=1e-4, atol=2e-5 * max(scale, 1.0))
    np.testing.assert_array_equal(np.asarray(out["folded"][2]), np.asarray(out["branches"][2]))
    with backend.use("cpu", **BEFORE):  # and against the forms before this policy (the factored graph order too)
        before = jax.jit(lambda v, x: model.apply(v, x, train=False))(variables, x)
    for f, b in zip(out["folded"][1], before):
        scale = float(np.abs(np.asarray(b)).max())
        np.testing.assert_allclose(np.asarray(f), np.asarray(b), rtol=1e-4, atol=2e-5 * max(scale, 1.0))


def test_folded_temporal_blocks_compute_in_float64_under_x64():
    """Under x64 a float32 spec computes in float64 for float64 input, folded too (the kernel and bias are folded
    in the network's dtype). The branches' BatchNorms (Flax's) form their factor γ/√(σ²+ε) from the float32
    variables in float32, the fold in float64: the two agree to that factor's float32 rounding."""
    spec = _SPECS["basic, 1-3 scales"].replace(dtype="float32")
    model = build_model(spec)
    with jax.enable_x64(True):
        x = jax.random.normal(jax.random.key(2), (2, 30, V, 6), jnp.float64)
        with backend.use("cpu"):
            variables = _variables(model, x)
            folded = jax.jit(lambda v, x: model.apply(v, x, train=False)[0])(variables, x)
        with backend.use("cpu", temporal_fold=False):
            branches = jax.jit(lambda v, x: model.apply(v, x, train=False)[0])(variables, x)
    assert folded.dtype == jnp.float64
    np.testing.assert_allclose(np.asarray(folded), np.asarray(branches), rtol=1e-6, atol=1e-7)


def test_the_ensemble_scores_in_calls_of_eight_windows_to_the_same_values():
    """71 windows on CPU: nine calls of 8 (the last padded) through one compiled program per stack, the same P(CP)
    and CAM scores as the calls of 64 + 8 the ensemble's eval_batch_size gave before."""
    from infantjax.ensemble import Ensemble
    from infantjax.models.gcn.presets import demo_spec
    from infantjax.train import CPConfig, CPTask

    spec = demo_spec(temporal_kernel_size=3, input_temporal_scales=2)
    config = CPConfig(progress=False)
    task = CPTask(spec, config)
    one = task.eval_variables(task.init(jax.random.key(0)), 0)
    stack = jax.tree_util.tree_map(lambda a: np.stack([np.asarray(a)] * 2), _moved(one))
    ensemble = Ensemble([spec], [stack], config)
    rng = np.random.default_rng(0)
    positions = np.cumsum(rng.normal(0, 0.01, (71, config.window, V, 2)), axis=1).astype(np.float32)
    with backend.use("cpu"):
        p8, c8 = ensemble.window_predictions(positions)
        sizes = {key[1] for predictor in ensemble.predictors.values() for key in predictor.executables}
    assert sizes == {8}
    with backend.use("cpu", scoring_windows=None):
        p64, c64 = ensemble.window_predictions(positions)
        assert {key[1] for predictor in ensemble.predictors.values() for key in predictor.executables} >= {64, 8}
    assert p8.shape == (71, 2) and c8.shape == (2, 71, V)
    np.testing.assert_allclose(p8, p64, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(c8, c64, rtol=1e-5, atol=1e-6)


def test_the_stacks_are_scored_side_by_side_on_cpu_to_the_same_values_in_stack_order(monkeypatch):
    """``Policy.scoring_stacks``: on CPU the stacks run in threads of their own (a call of the narrow GCNs leaves
    part of the cores idle); the outputs are those of the stacks scored one after another, in stack order."""
    import threading

    from infantjax.ensemble import Ensemble
    from infantjax.infer.predict import StackedPredictor
    from infantjax.models.gcn.presets import demo_spec
    from infantjax.train import CPConfig, CPTask

    config = CPConfig(progress=False)
    # the first and last stacks are the architecture of the test above, whose programs (init and the call of 8
    # windows of a stack of 2) they reuse from the run's compilation cache; the middle one another architecture
    first = demo_spec(temporal_kernel_size=3, input_temporal_scales=2)
    specs = [first, demo_spec(temporal_kernel_size=5), first]
    stacks = []
    for seed, spec in enumerate(specs):
        task = CPTask(spec, config)
        one = _moved(task.eval_variables(task.init(jax.random.key(seed)), 0), seed)
        stacks.append(jax.tree_util.tree_map(lambda a: np.stack([np.asarray(a)] * 2), one))
    ensemble = Ensemble(specs, stacks, config)
    # 16 windows: two calls of 8, the one call size compiled (a padded last call, and its program, are the test
    # above's: 71 windows)
    positions = np.cumsum(np.random.default_rng(1).normal(0, 0.01, (16, config.window, V, 2)), axis=1
                          ).astype(np.float32)
    threads = set()
    call = StackedPredictor.__call__

    def counted(self, *args, **kwargs):
        threads.add(threading.current_thread().name)
        return call(self, *args, **kwargs)

    monkeypatch.setattr(StackedPredictor, "__call__", counted)
    assert backend.policy("cpu").scoring_stacks > 1 and backend.policy("accelerator").scoring_stacks == 1
    with backend.use("cpu", scoring_stacks=1):
        p1, c1 = ensemble.window_predictions(positions)
    assert threads == {threading.current_thread().name}
    threads.clear()
    with backend.use("cpu"):
        p4, c4 = ensemble.window_predictions(positions)
    if (os.cpu_count() or 1) > 1:  # each stack compiles for seconds: every worker thread takes one
        assert len(threads) == min(os.cpu_count(), 3) and threading.current_thread().name not in threads
    assert p4.shape == (16, 6) and c4.shape == (6, 16, V)
    np.testing.assert_array_equal(p4, p1)
    np.testing.assert_array_equal(c4, c1)
    assert not np.allclose(p1[:, :2], p1[:, 2:4])  # the stacks differ: their order is checked
