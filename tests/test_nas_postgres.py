"""NAS across processes on a real PostgreSQL server (issue 19): the Optuna RDB store through psycopg 3, four worker
processes on one search with two SIGKILLed mid-trial and restarted, the CLI's ``search run`` and ``search status``
against the server. The server is a throw-away one started from the system binaries (tests/_postgres.py)."""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest
from _postgres import start_server

from infantjax import cli
from infantjax.nas import SearchSettings, SearchStore, TrialConfig, audit
from infantjax.nas.store import database_url

pytestmark = pytest.mark.postgres

REPO = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def postgres():
    server = start_server()
    try:
        yield server
    finally:
        server.stop()


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    return env


def _settings(**changes) -> SearchSettings:
    base = dict(sampler="kbest", sampler_config={"k": 3, "threshold": 0.8}, seed=5, max_trials=16,  # noqa: C408
                trial=TrialConfig(epochs=4, checkpoints=((2, 0.70),)),
                objective={"kind": "synthetic", "seed": 3, "epochs": 4, "seconds_per_epoch": 0.25},
                heartbeat_interval=0.2, grace_period=30.0)
    base.update(changes)
    return SearchSettings(**base)


def _work(url: str, name: str, worker: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "infantjax", "search", "work", "--storage", url, "--name", name,
                             "--worker-name", worker], env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _wait_for(condition, seconds: float, what: str):
    deadline = time.time() + seconds
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.needs("psycopg")
def test_postgresql_url_uses_psycopg3():
    assert database_url("postgresql://u@h:5432/db") == "postgresql+psycopg://u@h:5432/db"
    assert database_url("postgresql+psycopg2://u@h/db") == "postgresql+psycopg2://u@h/db"
    assert database_url("sqlite:///x.db") == "sqlite:///x.db"


@pytest.mark.slow  # about 40 s on 2 cores; CI runs it (-m "multiprocess or postgres")
def test_four_workers_two_killed_mid_trial_lose_and_duplicate_nothing(postgres):
    url, name = postgres.url, "killed"
    # epochs of 1.5 s: a worker is killed within a poll of its trial's first report, so its trial is still running
    # (with 0.25 s epochs a trial seen mid-way could end, or be pruned at epoch 2, before the kill landed)
    objective = {"kind": "synthetic", "seed": 3, "epochs": 4, "seconds_per_epoch": 1.5}
    store = SearchStore(url, name, _settings(objective=objective), create=True)
    procs = {f"w{i}": _work(url, name, f"w{i}") for i in range(4)}
    killed, finished_by_the_dead = {}, []
    try:
        def kill_each_mid_trial():  # each of w0 and w1 as soon as its trial has reported its first epoch
            for t in store.snapshot().trials:
                if t.state == "running" and t.worker in ("w0", "w1") and t.worker not in killed \
                        and len(t.intermediate) == 1:
                    os.kill(procs[t.worker].pid, signal.SIGKILL)
                    procs[t.worker].wait(timeout=30)
                    killed[t.worker] = t.number
                    snap = store.snapshot().by_number()
                    assert snap[t.number].state == "running"  # left behind by the dead worker
                    # what it finished before this trial: its report died with it
                    finished_by_the_dead.extend(n for n, u in snap.items()
                                                if u.worker == t.worker and u.state in ("complete", "pruned"))
                    # restarted under its name at once, it reclaims its own trial (restarted only after both were
                    # killed, the first one's trial could outlive the grace period and go to w2 or w3)
                    procs[t.worker] = _work(url, name, t.worker)
            return len(killed) == 2
        _wait_for(kill_each_mid_trial, 180, "workers w0 and w1 to be in the middle of a trial")
        outputs = {w: p.communicate(timeout=300) for w, p in procs.items()}
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
    assert {w: p.returncode for w, p in procs.items()} == {f"w{i}": 0 for i in range(4)}, outputs
    for w, (_, err) in outputs.items():
        assert "already finished" not in err, err  # the heartbeat stops before a trial is marked finished
    reports = {w: json.loads(out.strip().splitlines()[-1]) for w, (out, _) in outputs.items()}
    finished = sorted([*finished_by_the_dead, *(n for r in reports.values() for n in r["finished"])])
    snap = store.snapshot()
    real = [t for t in snap.trials if t.skipped is None]
    numbers = sorted(t.number for t in real)
    assert numbers == list(range(len(numbers))) and finished == numbers  # none lost, none finished twice
    assert all(t.state in ("complete", "pruned") for t in real)
    assert {n: snap.by_number()[n].runs for n in killed.values()} == {n: 2 for n in killed.values()}
    assert all(t.runs == 1 for t in real if t.number not in killed.values())
    assert sorted(n for w in ("w0", "w1") for n in reports[w]["reruns"]) == sorted(killed.values())
    assert audit(store) == []  # every K-Best decision recomputed from the log is the recorded one


@pytest.mark.slow  # about 20 s (two worker processes start JAX); CI runs it (-m "multiprocess or postgres")
def test_cli_runs_a_search_on_postgresql_and_status_shows_every_process_worker(postgres, capsys):
    url = postgres.url
    assert cli.main(["search", "run", "--storage", url, "--name", "cli", "--objective", "synthetic",
                     "--sampler", "random", "--max-trials", "4", "--epochs", "2", "--checkpoints", "none",
                     "--heartbeat", "0.2", "--grace", "30"]) == 0
    assert "trials: complete 4" in capsys.readouterr().out

    # live workers of two processes, seen by a third
    SearchStore(url, "live", _settings(sampler="random", sampler_config={}, max_trials=2,
                                       trial=TrialConfig(epochs=3, checkpoints=()),
                                       objective={"kind": "synthetic", "seed": 1, "epochs": 3,
                                                  "seconds_per_epoch": 1.0}), create=True)
    procs = [_work(url, "live", f"host{i}-w0") for i in range(2)]
    try:
        def status():
            assert cli.main(["search", "status", "live", "--storage", url]) == 0
            text = capsys.readouterr().out
            # a trial is RUNNING a moment before its worker's name lands in the store ("(being claimed)")
            named = "host0-w0: trial" in text and "host1-w0: trial" in text
            return text if "workers running a trial: 2" in text and named else None
        _wait_for(status, 120, "search status to show both workers by name")
        for p in procs:
            p.communicate(timeout=120)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert cli.main(["search", "status", "live", "--storage", url, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["trials"] == {"complete": 2} and summary["workers"] == []
