"""What a search produced: its summary (population, temperature, trials by state, best AUC, throughput), its
winner, and the ensemble of several searches' winners (the 70-instance Ensemble-NAS-GCN, seed 002 A.3)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from infantjax.errors import ConfigError
from infantjax.nas.store import SearchStore, Snapshot

__all__ = ["best_spec", "ensemble_from_searches", "live_workers", "search_summary"]

log = logging.getLogger(__name__)


# ------------------------------------------------------------------------------------------------------ summary
def search_summary(store: SearchStore, snapshot: Snapshot | None = None) -> dict[str, Any]:
    """Population, temperature, U, trials by state, best AUC and throughput of a search (JSON-ready).

    ``best`` is Optuna's best trial (the best complete one; None while none is complete),
    ``best_stopped_early`` the trial stopped early (pruned) that scored higher than it, where there is one
    (:meth:`Snapshot.best`); ``foreign_trials`` the numbers of the study's trials that are not the search's
    (skipped)."""
    snapshot = snapshot or store.snapshot()
    finished = snapshot.finished()
    states: dict[str, int] = {}
    for t in snapshot.trials:
        key = f"skipped ({t.skipped})" if t.skipped else t.state
        states[key] = states.get(key, 0) + 1
    best, early = snapshot.best(), snapshot.best_stopped_early()
    times = [t.completed for t in snapshot.trials if t.finished and t.completed]
    starts = [t.started for t in snapshot.trials if t.started]
    hours = (max(times) - min(starts)) / 3600 if times and starts and max(times) > min(starts) else None
    out = {
        "name": store.name,
        "settings": store.settings.to_dict(),
        "trials": states,
        "finished": len(finished),
        "best": None if best is None else {"number": best.number, "performance": best.performance,
                                            "spec": best.spec.choices()},
        "best_stopped_early": None if early is None else {
            "number": early.number, "performance": early.performance, "spec": early.spec.choices()},
        "foreign_trials": list(snapshot.foreign),
        "trials_per_hour": None if not hours else len(finished) / hours,
        "sampler": store.sampler.describe(finished),
        "over": store.over(snapshot),
        "workers": live_workers(store, snapshot),
    }
    return out


def live_workers(store: SearchStore, snapshot: Snapshot) -> list[dict[str, Any]]:
    """The workers running a trial now, from every process and host (their heartbeats are in the store).

    Returns:
        one row per running trial, by worker name: ``worker``, ``trial`` (number), ``heartbeat_age`` (seconds
        since its last heartbeat) and ``alive`` (False once older than the grace period: it will be re-run).
    """
    rows = []
    for t in snapshot.trials:
        if t.state != "running":
            continue
        seen = max(x for x in (t.heartbeat, t.started, 0.0) if x is not None)
        age = max(0.0, snapshot.taken - seen)
        rows.append({"worker": t.worker, "trial": t.number, "heartbeat_age": round(age, 1),
                     "alive": age <= store.settings.grace_period})
    return sorted(rows, key=lambda r: (str(r["worker"]), r["trial"]))


def best_spec(store: SearchStore):
    """The winner of a search: argmax of the K-Best population (``population[-1]`` in the reference), or, for
    the other samplers (and a K-Best search whose population is still empty), Optuna's best trial — the best
    complete one; while none is complete, the best trial stopped early, with a warning saying so."""
    snapshot = store.snapshot()
    state = getattr(store.sampler, "state", None)
    if state is not None:
        best = state(snapshot.finished()).best
        if best is not None:
            return best.spec
    top = snapshot.best()
    if top is None:
        top = snapshot.best_stopped_early()
        if top is None:
            raise ConfigError(f"search {store.name!r} has no finished trial yet")
        log.warning("search %r: no trial is complete, so Optuna has no best trial; the winner is trial %d, "
                    "stopped early with AUC %.4f", store.name, top.number, top.performance or 0.0)
    return top.spec


def ensemble_from_searches(storage, names: Sequence[str], cohort, config=None, **train_kwargs):
    """Cross-validate the winner of every search on all 7 folds and stack them into one ensemble.

    With the paper's 10 searches this is the 70-instance Ensemble-NAS-GCN (seed 002 A.3): each winner's 7 fold
    instances are trained as one vmapped stack by :func:`infantjax.protocols.cp.train`.

    Arguments:
        storage: the storage URL (or Optuna storage) holding the searches.
        names: search names.
        cohort: the development cohort (the searches' folds; test set held out).
        config: :class:`infantjax.train.CPConfig` of the cross-validation (the reference: 200 epochs, no
            early-stopping checkpoints).
        train_kwargs: passed on to :func:`infantjax.protocols.cp.train` (folds, seed, checkpoint_dir, mesh, …).

    Returns:
        the trained :class:`infantjax.ensemble.Ensemble`; ``metadata["searches"]`` names its sources.
    """
    from infantjax.protocols import cp

    if not names:
        raise ConfigError("ensemble_from_searches needs at least one search name")
    specs = [best_spec(SearchStore(storage, name)) for name in names]
    result = cp.train(specs, cohort, config, **train_kwargs)
    result.metadata["searches"] = list(names)
    return result
