"""Neural architecture search over the 20-choice GCN space (seed 002, Appendix A.2): K-Best Search, Random Search
and TPE as pure functions of a trial log held in an Optuna study, run by crash-safe workers on many devices.

space.py (the 20 choices, probability tables), kbest.py / random.py / tpe.py (samplers), store.py (the Optuna trial
log), trial.py (a trial's budget and the worker–objective contract), objectives.py (what a trial computes),
worker.py (the loop that claims, heartbeats and runs trials; worker processes), results.py (summary, winner,
ensemble of winners). See docs/nas.md.
"""

from infantjax.nas.kbest import KBestConfig, KBestSearch, KBestState, good_alternatives, kbest_state
from infantjax.nas.objectives import GCNObjective, SyntheticObjective, build_objective, load_cohort
from infantjax.nas.random import RandomSearch
from infantjax.nas.results import best_spec, ensemble_from_searches, search_summary
from infantjax.nas.space import (
    SMALL_SPACE,
    Finished,
    Proposal,
    candidate_string,
    derive_seed,
    small_space,
    uniform_table,
)
from infantjax.nas.store import SearchSettings, SearchStore, audit, open_storage
from infantjax.nas.tpe import TPEConfig, TPESearch
from infantjax.nas.trial import PAPER_CHECKPOINTS, TrialConfig, TrialContext, TrialOutcome, should_stop
from infantjax.nas.worker import Worker, run_search, spawn_workers

__all__ = [
    "PAPER_CHECKPOINTS",
    "SMALL_SPACE",
    "Finished",
    "GCNObjective",
    "KBestConfig",
    "KBestSearch",
    "KBestState",
    "Proposal",
    "RandomSearch",
    "SearchSettings",
    "SearchStore",
    "SyntheticObjective",
    "TPEConfig",
    "TPESearch",
    "TrialConfig",
    "TrialContext",
    "TrialOutcome",
    "Worker",
    "audit",
    "best_spec",
    "build_objective",
    "candidate_string",
    "derive_seed",
    "ensemble_from_searches",
    "good_alternatives",
    "kbest_state",
    "load_cohort",
    "open_storage",
    "run_search",
    "search_summary",
    "should_stop",
    "small_space",
    "spawn_workers",
    "uniform_table",
]
