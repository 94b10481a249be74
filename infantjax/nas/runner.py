"""Workers that run a search from its trial store, on one device each, on one machine or many.

A :class:`Worker` loops: put stale trials back to WAITING; re-run a WAITING trial if there is one, else create the
next trial; decide its candidate from the log (unless a previous run of the trial already did); train it with a
heartbeat, reporting the best AUC per epoch; stop it at a failed early-stopping checkpoint; record the result. It
returns when the sampler says the search is over (or the trial budget is spent) and no trial is running anywhere.

:func:`run_search` starts ``workers`` such loops as separate processes (``infantjax search work``), each pinned to
one device: ``CUDA_VISIBLE_DEVICES=i`` on NVIDIA GPUs, otherwise ``INFANTJAX_DEVICE_INDEX=i`` which the worker turns
into ``jax.default_device(jax.local_devices()[i])``. Other machines join by running ``infantjax search work`` against
the same SQLAlchemy storage (docs/nas.md has the multi-host recipe).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import pathlib
import socket
import subprocess
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from infantjax.errors import ConfigError
from infantjax.nas.space import derive_seed
from infantjax.nas.store import SearchSettings, SearchStore, Snapshot
from infantjax.nas.trial import (
    GCNObjective,
    LeaseLost,
    SyntheticObjective,
    TrialContext,
    TrialOutcome,
    should_stop,
)

__all__ = [
    "Worker", "best_spec", "build_objective", "ensemble_from_searches", "run_search", "search_summary",
    "spawn_workers",
]

log = logging.getLogger(__name__)

DEVICE_ENV = "INFANTJAX_DEVICE_INDEX"


# ---------------------------------------------------------------------------------------------------- objectives
def build_objective(settings: SearchSettings):
    """The objective a worker evaluates, rebuilt from the search's stored settings.

    ``{"kind": "synthetic", **SyntheticObjective fields}``, or ``{"kind": "gcn", ...}`` with a cohort as
    :func:`load_cohort` reads it and an optional ``"split"`` (keyword arguments of ``Cohort.split`` for the 7 folds).
    """
    spec = dict(settings.objective)
    kind = spec.pop("kind", None)
    if kind == "synthetic":
        try:
            return SyntheticObjective(**spec)
        except TypeError as err:
            raise ConfigError(f"synthetic objective settings {spec} are invalid: {err}") from None
    if kind == "gcn":
        return GCNObjective(load_cohort(spec), settings.trial, spec.get("split"))
    raise ConfigError(f"objective kind {kind!r} is unknown; expected 'synthetic' or 'gcn'")


def load_cohort(spec: Mapping[str, Any]):
    """The development cohort a GCN search trains on.

    Arguments:
        spec: ``{"synthetic": N, "cohort_seed": s, "cohort_options": {...}}`` (``infantjax.synth.cohort`` of the
            CP task with keyword arguments such as ``duration_s``) or ``{"data": DIR, "labels": CSV}`` (recordings
            on disk), optionally with ``"hold_out_test": {"test_fraction": 0.25, "seed": 1433}``: the subjects of
            ``Cohort.split``'s test set are removed, so that every worker searches on the same development set.

    Raises:
        ConfigError: no cohort given, or invalid cohort options.
    """
    if spec.get("synthetic"):
        from infantjax import synth

        try:
            cohort = synth.cohort(task="cp", n_subjects=int(spec["synthetic"]), seed=int(spec.get("cohort_seed", 0)),
                                  **dict(spec.get("cohort_options") or {}))
        except TypeError as err:
            raise ConfigError(f"cohort_options {spec.get('cohort_options')} are invalid: {err}") from None
    elif spec.get("data"):
        from infantjax.io import read_cohort

        cohort = read_cohort(spec["data"], spec.get("labels"))
    else:
        raise ConfigError("a GCN search needs a cohort: --data DIR --labels CSV, or --synthetic N")
    hold_out = spec.get("hold_out_test")
    if hold_out:
        try:
            test = set(cohort.split(**{"folds": 7, **dict(hold_out)}).test)
        except TypeError as err:
            raise ConfigError(f"hold_out_test {hold_out} is invalid: {err}") from None
        cohort = cohort.select([s for s in cohort.subject_ids if s not in test], name=f"{cohort.name}/development")
    return cohort


# ------------------------------------------------------------------------------------------------------- leases
class _Lease:
    """Heartbeats a running trial from a thread and notices when another worker took it over."""

    def __init__(self, store: SearchStore, trial_id: int, token: str):
        self.store, self.trial_id, self.token = store, trial_id, token
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{trial_id}", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(self.store.settings.heartbeat_interval):
            try:
                if not self.store.owns(self.trial_id, self.token):
                    self.lost.set()
                    return
                self.store.heartbeat(self.trial_id)
            except Exception as err:  # noqa: BLE001 - a flaky database must not kill the trial; the next beat retries
                log.warning("heartbeat of trial %s failed: %s", self.trial_id, err)

    def check(self) -> None:
        if self.lost.is_set():
            raise LeaseLost(f"trial {self.trial_id} was taken over by another worker")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


# ------------------------------------------------------------------------------------------------------- worker
@dataclasses.dataclass
class WorkerReport:
    """What one worker did: trial numbers it finished, re-ran, skipped, and lost to others."""

    finished: list[int] = dataclasses.field(default_factory=list)
    reruns: list[int] = dataclasses.field(default_factory=list)
    skipped: list[int] = dataclasses.field(default_factory=list)
    lost: list[int] = dataclasses.field(default_factory=list)
    failed: list[int] = dataclasses.field(default_factory=list)


class Worker:
    """One search worker (one device).

    Arguments:
        store: the search.
        objective: ``objective(spec, context) -> TrialOutcome``; default: rebuilt from the stored settings.
        name: the worker's name. Give a fixed name (e.g. ``host-gpu0``) to let a restarted worker reclaim its own
            unfinished trial at once instead of waiting for the grace period; names must be unique among live
            workers. Default: ``host-pid-random``.
        device_index: run trials under ``jax.default_device(jax.local_devices()[i])``.
        poll_interval: seconds between looks at the store while waiting for other workers' trials.
        max_trials: stop after this many trials of this worker (``None``: until the search is over).
    """

    def __init__(self, store: SearchStore, objective: Callable[..., TrialOutcome] | None = None, *,
                 name: str | None = None, device_index: int | None = None, poll_interval: float | None = None,
                 max_trials: int | None = None):
        self.store = store
        self.objective = objective if objective is not None else build_objective(store.settings)
        self.fixed_name = name is not None
        self.name = name or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.device_index = device_index
        self.poll_interval = poll_interval or min(store.settings.heartbeat_interval, 2.0)
        self.max_trials = max_trials
        self.report = WorkerReport()
        self._tokens: set[str] = set()

    # ----------------------------------------------------------------------------------------------------- loop
    def search_over(self, snapshot: Snapshot) -> str | None:
        """Why no new trial should be created, or None."""
        if not self.store.budget_left(snapshot):
            return "budget"
        reason = snapshot.stop_reason()
        if reason:
            return reason
        state = getattr(self.store.sampler, "state", None)
        if state is not None and state(snapshot.finished()).phase == "stopped":
            return "stopped"
        return None

    def run(self) -> WorkerReport:
        """Work until the search is over and no trial runs anywhere; returns what this worker did."""
        done = 0
        while self.max_trials is None or done < self.max_trials:
            snapshot = self.store.snapshot()
            dead = [self.name] if self.fixed_name else []
            for t in self.store.stale(snapshot, dead_workers=dead, live_tokens=self._tokens):
                if self.store.requeue(t.trial_id):
                    log.info("trial %d of worker %s looks dead; queued to re-run", t.number, t.worker)
            snapshot = self.store.snapshot()
            trial_id = self.store.claim_waiting(snapshot)
            if trial_id is None:
                if self.search_over(snapshot):
                    if snapshot.count("running") or snapshot.count("waiting"):
                        time.sleep(self.poll_interval)  # stay to re-run trials of workers that die
                        continue
                    break
                trial_id = self.store.create_trial()
            self._run_trial(trial_id)
            done += 1
        return self.report

    def _run_trial(self, trial_id: int) -> None:
        token = uuid.uuid4().hex
        self._tokens.add(token)
        view = self.store.take_ownership(trial_id, token, self.name)
        number = view.number
        if view.runs > 1:
            self.report.reruns.append(number)
        lease = _Lease(self.store, trial_id, token)
        try:
            spec = view.spec
            if spec is None:
                snapshot = self.store.snapshot()
                if self.store.settings.max_trials is not None and number >= self.store.settings.max_trials:
                    self.store.fail(trial_id, skipped="budget")
                    self.report.skipped.append(number)
                    return
                proposal, decision = self.store.decide(number, snapshot)
                if proposal.spec is None:
                    self.store.fail(trial_id, skipped=proposal.reason or "stopped")
                    self.report.skipped.append(number)
                    return
                lease.check()
                spec = proposal.spec
                self.store.record_decision(trial_id, spec, {**decision, **dict(proposal.info)})
            outcome = self._evaluate(spec, number, trial_id, lease)
            lease.check()
            self.store.finish(trial_id, outcome.performance, outcome.epochs, outcome.pruned, outcome.info)
            self.report.finished.append(number)
            log.info("trial %d: AUC %.4f after %d epochs%s", number, outcome.performance, outcome.epochs,
                     " (stopped early)" if outcome.pruned else "")
        except LeaseLost as err:
            log.warning("%s; leaving it to that worker", err)
            self.report.lost.append(number)
        except Exception as err:  # noqa: BLE001 - the candidate failed to train: record it, the search goes on
            log.error("trial %d failed: %s", number, err)
            with contextlib.suppress(Exception):
                self.store.fail(trial_id, error="".join(traceback.format_exception_only(type(err), err)).strip())
            self.report.failed.append(number)
        finally:
            lease.close()
            self._tokens.discard(token)

    def _evaluate(self, spec, number: int, trial_id: int, lease: _Lease) -> TrialOutcome:
        settings = self.store.settings
        checkpoints = settings.trial.scaled_checkpoints()
        root = settings.checkpoint_root
        ckpt = None if root is None else str(pathlib.Path(root) / self.store.name / f"trial_{number:05d}")

        def report(epoch: int, metrics: Mapping[str, float]) -> bool:
            lease.check()
            best = float(metrics["best_auc"])
            self.store.report(trial_id, epoch, best)
            return should_stop(checkpoints, int(epoch), best)

        context = TrialContext(number, derive_seed(settings.seed, number), ckpt, report, self.device_index)
        with _device(self.device_index):
            return self.objective(spec, context)


@contextlib.contextmanager
def _device(index: int | None):
    if index is None:
        yield
        return
    import jax

    devices = jax.local_devices()
    with jax.default_device(devices[index % len(devices)]):
        yield


# ---------------------------------------------------------------------------------------------------- processes
def _gpu_count() -> int:
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return len([v for v in visible.split(",") if v.strip()])
    gpus = pathlib.Path("/proc/driver/nvidia/gpus")
    return len(list(gpus.iterdir())) if gpus.is_dir() else 0


def spawn_workers(storage: str, name: str, workers: int, *, pin: str = "auto", python: str | None = None,
                  extra_args: Sequence[str] = (), env: Mapping[str, str] | None = None,
                  names: Sequence[str] | None = None) -> list[subprocess.Popen]:
    """Start ``workers`` processes of ``infantjax search work`` on this machine, one per device.

    Arguments:
        storage: the storage URL (every worker opens it itself).
        name: the search name.
        workers: number of processes.
        pin: ``"cuda"`` (``CUDA_VISIBLE_DEVICES=i``), ``"index"`` (``jax.default_device`` of local device i),
            ``"none"``, or ``"auto"`` (cuda when NVIDIA GPUs are visible, else index).
        names: worker names (default ``<host>-w<i>``: fixed, so that a restarted worker reclaims its trial).

    Returns:
        the started processes.
    """
    if workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {workers}")
    if pin not in ("auto", "cuda", "index", "none"):
        raise ConfigError(f"pin {pin!r} is unknown; choose auto, cuda, index or none")
    gpus = _gpu_count()
    if pin == "auto":
        pin = "cuda" if gpus else "index"
    visible = [v for v in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if v.strip()] or \
        [str(i) for i in range(gpus)]
    package_root = str(pathlib.Path(__file__).resolve().parents[2])
    procs = []
    host = socket.gethostname()
    for i in range(workers):
        child = dict(os.environ if env is None else env)
        child["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, child.get("PYTHONPATH")) if p)
        if pin == "cuda":
            if not visible:
                raise ConfigError("pin='cuda' but no NVIDIA GPU is visible")
            child["CUDA_VISIBLE_DEVICES"] = visible[i % len(visible)]
        elif pin == "index":
            child[DEVICE_ENV] = str(i)
        worker_name = names[i] if names else f"{host}-w{i}"
        cmd = [python or sys.executable, "-m", "infantjax", "search", "work", "--storage", str(storage),
               "--name", name, "--worker-name", worker_name, *extra_args]
        procs.append(subprocess.Popen(cmd, env=child))
    return procs


def run_search(storage: str, name: str, settings: SearchSettings, *, workers: int = 1, objective=None,
               pin: str = "auto", worker_name: str | None = None) -> dict[str, Any]:
    """Create (or join) a search and run it to the end; returns :func:`search_summary`.

    With ``workers == 1`` the worker runs in this process (``objective`` may then be any callable); with more,
    worker processes are started (they rebuild the objective from the stored settings).
    """
    store = SearchStore(storage, name, settings, create=True)
    if workers == 1:
        Worker(store, objective, name=worker_name).run()
    else:
        if objective is not None:
            raise ConfigError("with workers > 1 the objective is rebuilt from the settings in each process; "
                              "pass objective only with workers=1")
        procs = spawn_workers(storage, name, workers, pin=pin)
        codes = [p.wait() for p in procs]
        if any(codes):
            log.warning("worker exit codes: %s", codes)
    return search_summary(store)


# ------------------------------------------------------------------------------------------------------ summary
def search_summary(store: SearchStore, snapshot: Snapshot | None = None) -> dict[str, Any]:
    """Population, temperature, U, trials by state, best AUC and throughput of a search (JSON-ready)."""
    snapshot = snapshot or store.snapshot()
    finished = snapshot.finished()
    states: dict[str, int] = {}
    for t in snapshot.trials:
        key = f"skipped ({t.skipped})" if t.skipped else t.state
        states[key] = states.get(key, 0) + 1
    best = snapshot.best()
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
        "trials_per_hour": None if not hours else len(finished) / hours,
        "sampler": store.sampler.describe(finished),
        "over": Worker.search_over(_Bare(store), snapshot),
    }
    return out


class _Bare:
    """Just enough of a Worker to call :meth:`Worker.search_over` without building an objective."""

    def __init__(self, store: SearchStore):
        self.store = store



# -------------------------------------------------------------------------------------------- after the search
def best_spec(store: SearchStore):
    """The winner of a search: argmax of the K-Best population (``population[-1]`` in the reference), or the best
    finished trial for the other samplers (and for a K-Best search whose population is still empty)."""
    snapshot = store.snapshot()
    state = getattr(store.sampler, "state", None)
    if state is not None:
        best = state(snapshot.finished()).best
        if best is not None:
            return best.spec
    top = snapshot.best()
    if top is None:
        raise ConfigError(f"search {store.name!r} has no finished trial yet")
    return top.spec


def ensemble_from_searches(storage, names: Sequence[str], cohort, config=None, **train_kwargs):
    """Cross-validate the winner of every search on all 7 folds and stack them into one ensemble.

    With the paper's 10 searches this is the 70-instance Ensemble-NAS-GCN (seed 002 A.3): each winner's 7 fold
    instances are trained as one vmapped stack by :func:`infantjax.ensemble.train`.

    Arguments:
        storage: the storage URL (or Optuna storage) holding the searches.
        names: search names.
        cohort: the development cohort (the searches' folds; test set held out).
        config: :class:`infantjax.train.CPConfig` of the cross-validation (the reference: 200 epochs, no
            early-stopping checkpoints).
        train_kwargs: passed on to :func:`infantjax.ensemble.train` (folds, seed, checkpoint_dir, mesh, …).

    Returns:
        the trained :class:`infantjax.ensemble.Ensemble`; ``metadata["searches"]`` names its sources.
    """
    from infantjax import ensemble

    if not names:
        raise ConfigError("ensemble_from_searches needs at least one search name")
    specs = [best_spec(SearchStore(storage, name)) for name in names]
    result = ensemble.train(specs, cohort, config, **train_kwargs)
    result.metadata["searches"] = list(names)
    return result
