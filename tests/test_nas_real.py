"""A short real search: GCN candidates trained with ``infantjax.train.fit`` on a tiny synthetic cohort, through the
Optuna store and a worker, then ``search export`` and the cross-validated ensemble of the winner.

Budgets are tiny (2 epochs of a few batches, 3 trials in a restricted space of small candidates) because on a CPU
every candidate's compilation dominates; the full-space version is marked slow.
"""

from __future__ import annotations

import json

import jax
import numpy as np
import pytest

from infantjax import parallel
from infantjax.cli import main
from infantjax.errors import ConfigError, DataError
from infantjax.models.gcn.spec import CHOICES, GCNSpec
from infantjax.nas import (
    SMALL_SPACE,
    GCNObjective,
    SearchSettings,
    SearchStore,
    TrialConfig,
    TrialContext,
    Worker,
    audit,
    best_spec,
    ensemble_from_searches,
    load_cohort,
)
from infantjax.nas.space import normalise_space, uniform_table

TRAIN = {"batch_size": 8, "positive_copies": 2, "negative_copies": 2, "window": 60, "hop": 30, "eval_batch_size": 64,
         "learning_rate": 0.05}


@pytest.fixture
def quick_compile():
    """Most XLA optimisations off while the test compiles its candidates: on a CPU each new candidate's compilation
    dominates a 2-epoch trial, and this halves it (the programs only run a few steps)."""
    old = bool(jax.config.read("jax_disable_most_optimizations"))
    jax.config.update("jax_disable_most_optimizations", True)
    yield
    jax.config.update("jax_disable_most_optimizations", old)


COHORT = {"synthetic": 28, "cohort_seed": 3, "cohort_options": {"duration_s": 8.0, "prevalence": 0.5}}


def test_space_restriction_is_validated_and_samplers_stay_inside_it():
    space = normalise_space({"graph": ["dis2", "spatial"], "temporal_kernel_size": 5,
                             "input_temporal_scales": ["linear"]})
    assert space == {"graph": ("spatial", "dis2"), "temporal_kernel_size": (5,), "input_temporal_scales": ("linear",)}
    table = uniform_table(space)
    assert table["graph"] == {"spatial": 0.5, "dis2": 0.5} and table["pool"] == {"global": 0.5, "spatial": 0.5}
    for bad in ({"graph": ["dis3"]}, {"nope": [1]}, {"input_width": []}, {"pool": [True]}):
        with pytest.raises(ConfigError):
            normalise_space(bad)
    for sampler, config in (("kbest", {"k": 2, "threshold": 0.0}), ("random", {}), ("tpe", {"n_startup_trials": 2})):
        settings = SearchSettings(sampler=sampler, sampler_config=config, max_trials=6, space=SMALL_SPACE,
                                  objective={"kind": "synthetic", "seed": 1})
        assert SearchSettings.from_dict(json.loads(settings.to_json())) == settings
        from infantjax.nas.store import make_sampler

        search, finished = make_sampler(settings), []
        from infantjax.nas.space import Finished

        for n in range(6):
            proposal = search.propose(finished, seed=0, number=n)
            if proposal.spec is None:  # K-Best's guided space holds only the population's alternatives
                assert sampler == "kbest" and proposal.reason == "exhausted" and n >= 2
                break
            spec = proposal.spec
            assert all(getattr(spec, k) in settings.space.get(k, CHOICES[k]) for k in CHOICES)
            finished.append(Finished(n, spec, 0.5 + 0.01 * n))
        assert len({f.spec for f in finished}) == len(finished) >= (2 if sampler == "kbest" else 6)


def test_gcn_objective_rejects_cohorts_without_both_classes_in_the_validation_folds():
    cohort = load_cohort({**COHORT, "synthetic": 14, "cohort_options": {"duration_s": 6.0, "prevalence": 0.0}})
    with pytest.raises(DataError, match="only one class"):
        GCNObjective(cohort, TrialConfig(epochs=1))
    with pytest.raises(ConfigError, match="fold 9"):
        GCNObjective(load_cohort(COHORT), TrialConfig(epochs=1, val_folds=(9,)))
    dev = load_cohort({**COHORT, "hold_out_test": {"test_fraction": 0.25, "seed": 1433}})
    full = load_cohort(COHORT)
    test = set(full.split(test_fraction=0.25, seed=1433).test)
    assert set(dev.subject_ids) == set(full.subject_ids) - test and len(test) >= 6


def test_a_real_search_runs_end_to_end_and_its_winner_is_cross_validated(tmp_path, capsys, quick_compile):
    storage = str(tmp_path / "nas.journal")
    trial = TrialConfig(epochs=2, checkpoints=((1, 0.5),), train=TRAIN)  # pruned at epoch 1 if AUC < 0.5
    settings = SearchSettings(
        sampler="kbest", sampler_config={"k": 2, "threshold": 0.0}, seed=7, max_trials=3, trial=trial,
        objective={"kind": "gcn", **COHORT}, checkpoint_root=str(tmp_path / "ckpt"), space=SMALL_SPACE,
        heartbeat_interval=5.0, grace_period=120.0,
    )
    store = SearchStore(storage, "real", settings, create=True)
    worker = Worker(store, device_index=0, name="w0")  # the objective is rebuilt from the stored settings
    assert isinstance(worker.objective, GCNObjective)
    report = worker.run()
    assert report.finished == [0, 1, 2] and not report.failed, report

    snap = store.snapshot()
    trials = sorted((t for t in snap.trials if t.finished), key=lambda t: t.number)
    assert len(trials) == 3 and len({t.spec for t in trials}) == 3
    for t in trials:
        assert all(getattr(t.spec, k) in settings.space.get(k, CHOICES[k]) for k in CHOICES)
        assert 0.0 <= t.performance <= 1.0
        if t.state == "pruned":  # the early-stopping checkpoint stopped it after epoch 1
            assert t.epochs == 1 and t.performance < 0.5 and set(t.intermediate) == {1}
        else:
            assert t.state == "complete" and t.epochs == 2 and set(t.intermediate) == {1, 2}
        assert t.performance == pytest.approx(max(t.intermediate.values()))  # best AUC over the epochs
        assert (tmp_path / "ckpt" / "real" / f"trial_{t.number:05d}").is_dir()
    assert audit(store) == []
    # K = 2 with θ = 0: the third trial is drawn from GoodAlternatives of the two first
    assert trials[2].decision.get("phase") == "guided"

    # a re-run trial is the same trial: it resumes from its checkpoint (nothing left to train) with the same result
    t = trials[0]
    from infantjax.nas.space import derive_seed

    context = TrialContext(t.number, derive_seed(settings.seed, t.number),
                           str(tmp_path / "ckpt" / "real" / f"trial_{t.number:05d}"), lambda e, m: False, 0)
    again = worker.objective(t.spec, context)
    assert again.performance == pytest.approx(t.performance) and again.epochs == t.epochs
    assert again.info["resumed_from"] == t.epochs

    # export the winner and cross-validate it (2 folds here; 7 in the paper)
    assert main(["search", "export", "real", "--storage", storage, "--top", "1"]) == 0
    exported = GCNSpec.from_json(capsys.readouterr().out)
    assert exported == best_spec(store)
    assert max(trials, key=lambda t: t.performance).performance == pytest.approx(
        next(t.performance for t in trials if t.spec == exported))

    cohort = load_cohort(COHORT)
    mesh = parallel.instance_mesh(2, devices=jax.devices()[:1])
    from infantjax.pipelines.cp import predict_risk
    from infantjax.train import CPConfig

    ens = ensemble_from_searches(storage, ["real"], cohort, CPConfig(**{**TRAIN, "epochs": 1, "progress": False}),
                                 folds=2, mesh=mesh)
    assert ens.specs == [exported] and ens.num_instances == 2 and ens.metadata["searches"] == ["real"]
    assert all(0.0 <= a <= 1.0 for a in ens.fold_auc[0])
    result = predict_risk(ens, cohort.sequences[0], mesh=mesh)
    assert 0.0 <= result.risk <= 1.0 and result.instance_risk.shape == (2,)
    assert np.isfinite(result.cam).all()
