"""The search lives in an Optuna journal: workers resume after SIGKILL, share one search, never lose or repeat a trial."""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest

from infantjax.errors import ConfigError
from infantjax.nas import SearchSettings, SearchStore, SyntheticObjective, TrialConfig, Worker, audit, search_summary
from infantjax.nas.store import open_storage

REPO = pathlib.Path(__file__).resolve().parents[1]


def _settings(**changes) -> SearchSettings:
    base = dict(
        sampler="kbest", sampler_config={"k": 3, "threshold": 0.8}, seed=11, max_trials=14,
        trial=TrialConfig(epochs=6, checkpoints=((2, 0.70),)),
        objective={"kind": "synthetic", "seed": 2, "epochs": 6},
        heartbeat_interval=0.3, grace_period=30.0,
    )
    base.update(changes)
    return SearchSettings(**base)


def _sequence(store: SearchStore):
    snap = store.snapshot()
    return [(t.number, t.spec, round(t.performance, 12), t.state)
            for t in sorted(snap.trials, key=lambda t: t.number) if t.finished]


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    return env


def test_one_worker_runs_a_search_and_every_decision_is_recomputable_from_the_log(tmp_path):
    store = SearchStore(str(tmp_path / "s.journal"), "s", _settings(), create=True)
    report = Worker(store).run()
    snap = store.snapshot()
    assert report.finished == list(range(14)) and not report.failed
    assert snap.count("complete") + snap.count("pruned") == 14
    pruned = [t for t in snap.trials if t.state == "pruned"]
    assert pruned and all(t.epochs == 2 and t.performance < 0.70 for t in pruned)  # early-stopping checkpoint
    assert all(t.intermediate[2] == pytest.approx(t.performance) for t in pruned)
    assert audit(store) == []
    summary = search_summary(store)
    assert summary["finished"] == 14 and summary["over"] == "budget"
    assert summary["best"]["performance"] == max(t.performance for t in snap.trials)
    assert summary["sampler"]["phase"] in ("random", "guided", "stopped")
    # a second worker joining a finished search has nothing to do
    assert Worker(store).run().finished == []


def test_settings_must_agree_and_bad_storage_is_a_clear_error(tmp_path):
    SearchStore(str(tmp_path / "s.journal"), "s", _settings(), create=True)
    with pytest.raises(ConfigError, match="already exists"):
        SearchStore(str(tmp_path / "s.journal"), "s", _settings(seed=12), create=True)
    with pytest.raises(ConfigError, match="no search named"):
        SearchStore(str(tmp_path / "s.journal"), "other")
    with pytest.raises(ConfigError, match="does not exist"):
        open_storage(str(tmp_path / "missing" / "s.journal"))
    with pytest.raises(ConfigError, match="never stops"):
        SearchSettings(sampler="random")


def test_a_stale_trial_is_rerun_as_the_same_trial_after_the_grace_period(tmp_path):
    settings = _settings(grace_period=1.0, heartbeat_interval=0.2, checkpoint_root=str(tmp_path / "ck"),
                         max_trials=3)
    store = SearchStore(str(tmp_path / "s.journal"), "s", settings, create=True)
    ghost = store.create_trial()  # a worker that claimed trial 0 and died before deciding it
    store.take_ownership(ghost, "dead-token", "ghost")
    assert store.stale(store.snapshot()) == []  # fresh heartbeat: not stale yet
    time.sleep(1.3)
    assert [t.number for t in store.stale(store.snapshot())] == [0]
    report = Worker(store, name="rescuer").run()
    assert report.reruns == [0] and report.finished == [0, 1, 2]
    views = store.snapshot().by_number()
    assert views[0].runs == 2 and views[0].worker == "rescuer" and views[0].state in ("complete", "pruned")


def test_a_worker_whose_trial_was_taken_over_abandons_it(tmp_path):
    store = SearchStore(str(tmp_path / "s.journal"), "s", _settings(max_trials=2), create=True)
    inner = SyntheticObjective(seed=2, epochs=6)

    def objective(spec, context):
        if context.number == 0 and not getattr(objective, "done", False):
            objective.done = True
            tid = store.trial_id(0)
            assert store.requeue(tid) and store.claim_waiting(store.snapshot()) == tid
            store.take_ownership(tid, "thief-token", "thief")  # another worker presumed us dead
            time.sleep(1.0)  # the heartbeat thread notices the foreign owner
        return inner(spec, context)

    report = Worker(store, objective, max_trials=1).run()
    assert report.lost == [0] and report.finished == []
    view = store.snapshot().by_number()[0]
    assert view.state == "running" and view.owner == "thief-token"


def _wait_for(predicate, timeout: float, what: str):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_sigkill_mid_search_then_restart_keeps_every_trial_and_the_same_decisions(tmp_path):
    # the uninterrupted run
    reference = SearchStore(str(tmp_path / "ref.journal"), "s", _settings(), create=True)
    Worker(reference).run()
    expected = _sequence(reference)

    # the same search, run by a worker process that is killed with SIGKILL in the middle of a trial
    settings = _settings(objective={"kind": "synthetic", "seed": 2, "epochs": 6, "seconds_per_epoch": 0.15},
                         checkpoint_root=str(tmp_path / "ck"))
    url = str(tmp_path / "crash.journal")
    store = SearchStore(url, "s", settings, create=True)
    cmd = [sys.executable, "-m", "infantjax", "search", "work", "--storage", url, "--name", "s",
           "--worker-name", "w0"]
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def mid_trial():
            snap = store.snapshot()
            running = [t for t in snap.trials if t.state == "running" and len(t.intermediate) >= 2]
            done = sum(t.finished for t in snap.trials)
            return done >= 3 and running and not any(e >= 5 for e in running[0].intermediate)
        _wait_for(mid_trial, 120, "the worker to be in the middle of its fourth trial")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    snap = store.snapshot()
    killed = [t for t in snap.trials if t.state == "running"]
    assert len(killed) == 1 and killed[0].worker == "w0"
    finished_before = {t.number: t.performance for t in snap.trials if t.finished}

    # restart the worker under the same name: it reclaims its trial at once and resumes from its checkpoint
    report = Worker(store, SyntheticObjective(seed=2, epochs=6), name="w0").run()  # same results, no sleeping
    assert report.reruns == [killed[0].number]
    after = store.snapshot().by_number()
    assert after[killed[0].number].runs == 2
    resumed = store.storage.get_trial(store.trial_id(killed[0].number)).user_attrs.get("info_resumed_from", 0)
    assert resumed >= 2  # resumed from the epoch it had checkpointed, not from scratch
    for number, perf in finished_before.items():  # nothing finished was lost or changed
        assert after[number].performance == perf
    assert _sequence(store) == expected  # same candidates, same results as the uninterrupted run
    assert audit(store) == []


def test_three_worker_processes_on_one_journal_lose_and_duplicate_nothing(tmp_path):
    settings = _settings(sampler="random", sampler_config={}, max_trials=18,
                         objective={"kind": "synthetic", "seed": 4, "epochs": 3, "seconds_per_epoch": 0.05})
    url = str(tmp_path / "shared.journal")
    store = SearchStore(url, "s", settings, create=True)
    procs = [subprocess.Popen([sys.executable, "-m", "infantjax", "search", "work", "--storage", url, "--name", "s",
                               "--worker-name", f"w{i}"], env=_env(), stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True) for i in range(3)]
    outputs = [p.communicate(timeout=240)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0]
    reports = [json.loads(out.strip().splitlines()[-1]) for out in outputs]
    finished = [n for r in reports for n in r["finished"]]
    assert sorted(finished) == list(range(18))  # every candidate exactly once, by exactly one worker
    assert sum(bool(r["finished"]) for r in reports) >= 2  # the work was actually shared
    snap = store.snapshot()
    real = [t for t in snap.trials if t.skipped is None]
    assert sorted(t.number for t in real) == list(range(18))
    assert all(t.state == "complete" and t.runs == 1 for t in real)
    assert len({t.spec for t in real}) == 18
    assert audit(store) == []


def test_a_clean_run_logs_no_heartbeat_warning(tmp_path, caplog):
    """The heartbeat stops before the trial is marked finished: no "heartbeat … failed: … already finished"
    warning from a beat racing the finish (issue 19), even with a heartbeat every millisecond."""
    settings = _settings(sampler="random", sampler_config={}, max_trials=40, heartbeat_interval=0.001,
                         trial=TrialConfig(epochs=2, checkpoints=()),
                         objective={"kind": "synthetic", "seed": 1, "epochs": 2, "seconds_per_epoch": 0.002})
    store = SearchStore(str(tmp_path / "s.journal"), "s", settings, create=True)
    with caplog.at_level("WARNING", logger="infantjax"):
        report = Worker(store).run()
    assert sorted(report.finished) == list(range(40))
    assert [r.getMessage() for r in caplog.records if r.levelname in ("WARNING", "ERROR")] == []
