"""Compiling ahead: ``train.engine.precompile`` compiles what ``fit`` will run, and a NAS worker with ``prefetch``
compiles the next candidate's programs while a trial trains (docs/nas.md, "Compiling counted")."""

from __future__ import annotations

import jax
import pytest
from jax import monitoring

from infantjax.nas import SMALL_SPACE, GCNObjective, SearchSettings, SearchStore, TrialConfig, Worker, audit
from infantjax.nas.space import candidate_string
from infantjax.train import CPTask, fit
from infantjax.train.engine import precompile

TRAIN = {"batch_size": 8, "positive_copies": 2, "negative_copies": 2, "window": 60, "hop": 30, "eval_batch_size": 64,
         "learning_rate": 0.05}
COHORT = {"synthetic": 28, "cohort_seed": 3, "cohort_options": {"duration_s": 8.0, "prevalence": 0.5}}
_COMPILED: list[str] = []


def _listen(event: str, seconds: float, **kwargs) -> None:
    if event == "/jax/core/compile/backend_compile_duration":
        _COMPILED.append(str(kwargs.get("fun_name")))


monitoring.register_event_duration_secs_listener(_listen)


@pytest.fixture
def quick_compile():
    """Most XLA optimisations off: the tests compile GCN steps on CPU and run a few steps of them."""
    old = bool(jax.config.read("jax_disable_most_optimizations"))
    jax.config.update("jax_disable_most_optimizations", True)
    yield
    jax.config.update("jax_disable_most_optimizations", old)


def test_precompile_compiles_what_fit_runs(quick_compile):
    task, data = CPTask.example(0)
    data = data[:1]
    start = len(_COMPILED)
    times = precompile(task, data)
    ahead = set(_COMPILED[start:])
    assert {"init", "variables", "evaluation", "train_step", "copy", "select", "total"} <= set(times)
    assert times["total"] == pytest.approx(sum(v for k, v in times.items() if k != "total"))
    start = len(_COMPILED)
    result = fit(task, data, seeds=[0])
    during = set(_COMPILED[start:])
    assert result.history[0]
    # the engine's programs (initialisation, training step, evaluation, the variables' view and copy, the best
    # epoch's selection) are compiled ahead; fit compiles only small host-side operations of its own
    engine = {"jit(_init)", "jit(_train_step)", "jit(predict)", "jit(_where)", "jit(<lambda>)"}
    assert engine <= ahead
    assert not engine & during, f"fit compiled again what precompile had compiled: {engine & during}"


@pytest.mark.slow
def test_a_worker_compiles_the_next_candidate_while_a_trial_trains(tmp_path, quick_compile):
    trial = TrialConfig(epochs=1, checkpoints=(), train=TRAIN)
    settings = SearchSettings(sampler="random", seed=5, max_trials=2, trial=trial,
                              objective={"kind": "gcn", **COHORT}, space=SMALL_SPACE, heartbeat_interval=5.0,
                              grace_period=120.0)
    store = SearchStore(str(tmp_path / "nas.journal"), "ahead", settings, create=True)
    worker = Worker(store, device_index=0, name="w0", prefetch=True)
    assert isinstance(worker.objective, GCNObjective) and worker.prefetch
    report = worker.run()
    assert report.finished == [0, 1] and not report.failed
    trials = sorted((t for t in store.snapshot().trials if t.finished), key=lambda t: t.number)
    # one worker, Random Search: the guess made while trial 0 trained is trial 1's candidate, compiled once
    assert [p["candidate"] for p in report.prefetched] == [candidate_string(trials[1].spec)]
    assert report.prefetched[0]["seconds"] > 0
    assert audit(store) == []  # the decisions are the sampler's on the log, as without compiling ahead
