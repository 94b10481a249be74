"""A search's store is an Optuna study that others read and write: plain Optuna and optuna-dashboard read its
search space, trials plain Optuna adds are skipped by every verb, a study ``search run`` did not create is
left alone, "best" is Optuna's best trial, and a journal lock left by a killed worker does not stop the next
one."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading

import pytest

from infantjax.cli import main
from infantjax.models.gcn.spec import CHOICES, GCNSpec

SPACE = {"graph": ["spatial", "dis2"], "input_width": [6, 8], "residual": ["null", "block"]}


def _run(storage: str, name: str, *extra: str) -> int:
    return main(["search", "run", "--storage", storage, "--name", name, "--objective", "synthetic",
                 "--sampler", "random", "--epochs", "2", "--checkpoints", "none",
                 "--space", json.dumps(SPACE), *extra])


def _study(path, name: str):
    import optuna
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    return optuna.load_study(study_name=name, storage=JournalStorage(JournalFileBackend(str(path))))


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")  # Optuna's matplotlib plots
def test_plain_optuna_sees_the_space_and_its_trials_are_skipped_by_every_verb(tmp_path, capsys, caplog):
    import matplotlib
    import matplotlib.pyplot

    matplotlib.use("Agg")
    import optuna
    from optuna.distributions import CategoricalDistribution, FloatDistribution

    journal = tmp_path / "s.journal"
    assert _run(str(journal), "s", "--max-trials", "6") == 0
    study = _study(journal, "s")
    trials = study.get_trials()
    assert len(trials) == 6 and all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    for t in trials:  # the candidate is the trial's params, each with the search's distribution
        assert t.params == GCNSpec.from_dict(t.user_attrs["spec"]).choices()
        assert set(t.distributions) == set(CHOICES)
        assert t.distributions["graph"] == CategoricalDistribution(["spatial", "dis2"])
        assert t.distributions["block_type"] == CategoricalDistribution(list(CHOICES["block_type"]))
    frame = study.trials_dataframe()
    assert {f"params_{key}" for key in CHOICES} <= set(frame.columns) and len(frame) == 6
    assert sorted(frame["params_input_width"].unique()) == sorted({t.params["input_width"] for t in trials})
    importances = optuna.importance.get_param_importances(study)
    assert importances and set(importances) <= set(CHOICES)
    assert sum(importances.values()) == pytest.approx(1.0)
    axes = optuna.visualization.matplotlib.plot_param_importances(study)  # Optuna's plot finds the space
    assert {label.get_text() for label in axes.get_yticklabels()} == set(importances)
    matplotlib.pyplot.close("all")

    # plain Optuna writes into the study: a told trial and an added one, scoring above every candidate
    told = study.ask({"lr": FloatDistribution(1e-4, 1.0, log=True)})
    study.tell(told, 0.999)
    lr = FloatDistribution(1e-4, 1.0)
    study.add_trial(optuna.trial.create_trial(params={"lr": 0.1}, distributions={"lr": lr}, value=0.998))
    foreign = {told.number, 7}
    storage = ["--storage", str(journal)]
    capsys.readouterr()
    with caplog.at_level(logging.WARNING, logger="infantjax.nas"):
        assert main(["search", "status", "s", *storage]) == 0
        out = capsys.readouterr().out
        assert "skipped: 2 trial(s) not written by infantjax search (number 6, 7)" in out
        assert main(["search", "status", "s", *storage, "--json"]) == 0
        summary = json.loads(capsys.readouterr().out)
        assert summary["foreign_trials"] == [6, 7] and summary["best"]["number"] not in foreign
        assert summary["trials"] == {"complete": 6}
        assert main(["search", "export", "s", *storage, "--top", "8"]) == 0
        exported = json.loads(capsys.readouterr().out)
        assert len(exported) == 6 and not {e["number"] for e in exported} & foreign
        assert _run(str(journal), "s", "--max-trials", "8") == 0  # resumed: two more candidates
        assert main(["search", "work", *storage, "--name", "s", "--max-trials", "1"]) == 0
    assert "skipping 2 trial(s) not written by infantjax search" in caplog.text
    after = _study(journal, "s").get_trials()
    assert len(after) == 10
    assert [t.number for t in after if "spec" in t.user_attrs] == [0, 1, 2, 3, 4, 5, 8, 9]
    assert after[6].value == 0.999 and after[7].params == {"lr": 0.1}  # the foreign trials as they were


def test_search_run_leaves_a_study_it_did_not_create_alone(tmp_path, capsys):
    import optuna

    journal = tmp_path / "plain.journal"
    from infantjax.nas.store import open_storage

    study = optuna.create_study(study_name="plain", storage=open_storage(journal), direction="minimize")
    study.set_user_attr("owner", "someone else")
    study.enqueue_trial({"x": 1.0})
    before = journal.read_bytes()
    assert _run(str(journal), "plain", "--max-trials", "2") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "was not created by infantjax search" in err[0] and "--name" in err[0]
    assert journal.read_bytes() == before  # nothing written into it
    assert main(["search", "status", "plain", "--storage", str(journal)]) == 2
    assert "not created by infantjax search" in capsys.readouterr().err


def test_a_trial_queued_with_optunas_enqueue_trial_is_refused_with_its_reason_not_waited_for(tmp_path, caplog):
    import optuna

    from infantjax.nas.store import ENQUEUED_REFUSAL

    journal = tmp_path / "s.journal"
    assert _run(str(journal), "s", "--max-trials", "2") == 0
    study = _study(journal, "s")
    study.enqueue_trial(study.trials[0].params)  # a user asks for a candidate by hand
    with caplog.at_level(logging.WARNING, logger="infantjax.nas"):
        done = threading.Event()
        worker = threading.Thread(target=lambda: (_run(str(journal), "s", "--max-trials", "3"), done.set()),
                                  daemon=True)
        worker.start()
        assert done.wait(120), "the search waited for the enqueued trial"
    assert "queued with Optuna's enqueue_trial and is not run" in caplog.text
    trials = _study(journal, "s").get_trials()
    enqueued = trials[2]
    assert enqueued.state == optuna.trial.TrialState.FAIL  # nobody waits for it
    assert enqueued.user_attrs == {"infantjax_refused": ENQUEUED_REFUSAL} and "infantjax train --specs" in \
        ENQUEUED_REFUSAL
    # it stays outside the search: the budget of 3 is the search's own three candidates
    assert [t.number for t in trials if "spec" in t.user_attrs] == [0, 1, 3]
    assert [t.state for t in trials if "spec" in t.user_attrs] == [optuna.trial.TrialState.COMPLETE] * 3

def test_best_is_optunas_best_trial_and_a_pruned_trial_that_scored_higher_is_shown_beside_it(tmp_path,
                                                                                              capsys):
    from infantjax.nas.results import best_spec, search_summary
    from infantjax.nas.store import SearchSettings, SearchStore

    journal = tmp_path / "b.journal"
    settings = SearchSettings(sampler="random", max_trials=5, space=SPACE)
    store = SearchStore(str(journal), "b", settings, create=True)
    specs = [GCNSpec(graph=g, input_width=w) for g, w in (("spatial", 6), ("dis2", 8), ("dis2", 6))]

    def trial(spec, auc, pruned):
        tid = store.create_trial()
        store.take_ownership(tid, "token", "w")
        store.record_decision(tid, spec, {})
        store.finish(tid, auc, 3, pruned)

    trial(specs[0], 0.9, pruned=True)
    with pytest.raises(ValueError):
        _ = _study(journal, "b").best_trial  # Optuna: no complete trial
    snapshot = store.snapshot()
    assert snapshot.best() is None and snapshot.best_stopped_early().number == 0
    assert best_spec(store) == specs[0]  # the winner while none is complete, with a warning
    assert main(["search", "status", "b", "--storage", str(journal)]) == 0
    out = capsys.readouterr().out
    assert "best: none (no trial is complete" in out and "best stopped early: trial 0 AUC 0.9000" in out

    trial(specs[1], 0.8, pruned=False)
    summary = search_summary(store)
    assert summary["best"]["number"] == _study(journal, "b").best_trial.number == 1
    assert summary["best_stopped_early"]["number"] == 0  # it scored higher, and is not Optuna's best
    assert best_spec(store) == specs[1]
    assert main(["search", "status", "b", "--storage", str(journal)]) == 0
    out = capsys.readouterr().out
    assert "best: trial 1 AUC 0.8000" in out and "best stopped early: trial 0 AUC 0.9000 (pruned" in out

    trial(specs[2], 0.95, pruned=False)
    summary = search_summary(store)
    assert summary["best"]["number"] == _study(journal, "b").best_trial.number == 2
    assert summary["best_stopped_early"] is None


def _get(app, path: str):
    """``GET path`` of a WSGI app: (status code, JSON body)."""
    from wsgiref.util import setup_testing_defaults

    environ = {"PATH_INFO": path, "REQUEST_METHOD": "GET", "QUERY_STRING": ""}
    setup_testing_defaults(environ)
    status = {}

    def start_response(line, headers, exc_info=None):
        status["code"] = int(line.split()[0])

    body = b"".join(app(environ, start_response))
    return status["code"], json.loads(body)


@pytest.mark.needs("optuna_dashboard")
def test_optuna_dashboard_reads_a_search_its_space_and_importances(tmp_path):
    import optuna_dashboard

    from infantjax.nas.store import open_storage

    journal = tmp_path / "d.journal"
    assert _run(str(journal), "d", "--max-trials", "6") == 0
    app = optuna_dashboard.wsgi(open_storage(journal))
    code, studies = _get(app, "/api/studies")
    assert code == 200 and [s["study_name"] for s in studies["study_summaries"]] == ["d"]
    study_id = studies["study_summaries"][0]["study_id"]
    code, detail = _get(app, f"/api/studies/{study_id}")
    assert code == 200 and len(detail["trials"]) == 6
    space = {p["name"] for p in detail["union_search_space"]}
    assert space == set(CHOICES) and {p["name"] for p in detail["intersection_search_space"]} == set(CHOICES)
    assert all({p["name"] for p in t["params"]} == set(CHOICES) for t in detail["trials"])
    code, importances = _get(app, f"/api/studies/{study_id}/param_importances")
    assert code == 200
    names = {row["name"] for row in importances["param_importances"][0]}
    assert names and names <= set(CHOICES)


_HOLD_LOCK = """
import sys, time
from optuna.storages import journal
getattr(journal, sys.argv[2])(sys.argv[1]).acquire()  # as a process appending to the journal does
print("held", flush=True)
time.sleep(600)
"""


@pytest.mark.parametrize("kind", ["JournalFileSymlinkLock", "JournalFileOpenLock"])
def test_a_journal_lock_left_by_a_killed_worker_does_not_stop_the_next_one(tmp_path, monkeypatch, kind):
    """A process killed while it appended to the journal leaves Optuna's lock, ``<journal>.lock``: a symbolic
    link (a search's worker, plain Optuna) or a file (``JournalFileOpenLock``: optuna-dashboard). The next
    worker removes it after the grace period the store sets (Optuna before 4.3 never did: it waited
    forever)."""
    from infantjax.nas import store as store_module
    from infantjax.nas.store import SearchSettings, SearchStore

    journal = tmp_path / "k.journal"
    SearchStore(str(journal), "k", SearchSettings(sampler="random", max_trials=3), create=True)
    worker = subprocess.Popen([sys.executable, "-c", _HOLD_LOCK, str(journal), kind], stdout=subprocess.PIPE,
                              text=True)
    assert worker.stdout.readline().strip() == "held"
    worker.kill()  # SIGKILL: no finally, no release
    worker.wait(timeout=30)
    lock = f"{journal}.lock"
    assert os.path.lexists(lock) and os.path.islink(lock) == (kind == "JournalFileSymlinkLock")

    monkeypatch.setattr(store_module, "JOURNAL_LOCK_GRACE_S", 3)
    outcome = {}

    def next_worker():
        try:
            store = SearchStore(str(journal), "k")
            outcome["trial"] = store.create_trial()  # an append: takes the lock
            outcome["numbers"] = [t.number for t in store.snapshot().trials]
        except Exception as err:  # noqa: BLE001 - reported below
            outcome["error"] = err

    thread = threading.Thread(target=next_worker, daemon=True)
    thread.start()
    thread.join(timeout=120)
    assert not thread.is_alive(), "the next worker still waits for the killed process's lock"
    assert "error" not in outcome, outcome.get("error")
    assert outcome["numbers"] == [0] and not os.path.lexists(lock)
