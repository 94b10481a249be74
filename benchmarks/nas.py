"""NAS benchmark: trials per hour with 1 and 2 workers, and K-Best vs Random vs TPE in the form of Table A.3.

    python benchmarks/nas.py                       # both parts, synthetic objective (no training)
    python benchmarks/nas.py --part throughput --objective gcn --trials 8 --epochs 2 --repeats 1

Part 1 (throughput) runs the same Random Search with 1 and then 2 worker processes (``infantjax search work``)
against a journal file and reports finished trials per hour (median of ``--repeats`` runs). With ``--objective
synthetic`` each trial sleeps ``--seconds-per-epoch`` per epoch (it measures the store and worker overhead and the
scaling); with ``--objective gcn`` each trial trains a real GCN candidate (``--space small``: 8 small candidates;
``full``: Table A.1) on a small synthetic cohort, checkpointing every epoch — on a CPU its time is mostly the
compilation of each new candidate.

Part 3 (compile) counts compiling: the same Random Search (``--objective gcn``, one worker in this process's child)
run twice, each in a fresh process, once compiling each trial's programs when the trial starts and once with the
worker compiling the next candidate's programs while the current trial trains (``Worker(prefetch=True)``,
``infantjax search work --prefetch``). Every XLA compile is timed (``jax.monitoring``) and attributed to the trial's
own thread or the compile ahead; it reports compile and training seconds per trial and trials per hour end to end.

    python benchmarks/nas.py --part compile --trials 4 --epochs 6 --space full

Part 2 (samplers) repeats what seed 002 Table A.3 compares: 10 K-Best searches (K=5, θ=0.9, T0=10, T∞=1, τ=3) run
to their own stop, then Random Search and TPE with the same total number of trials, on the synthetic objective with
noise. It reports trials per AUC level, median AUC (IQR) and the highest AUC. Prints one JSON record and a table.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import statistics
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from infantjax.nas import (
    SMALL_SPACE,
    Finished,
    KBestConfig,
    KBestSearch,
    RandomSearch,
    SearchSettings,
    SyntheticObjective,
    TPESearch,
    TrialConfig,
)

LEVELS = (0.75, 0.775, 0.8, 0.825, 0.85, 0.875, 0.9, 0.925, 0.95)  # Table A.3 columns
PAPER_A3 = {  # seed 002 Table A.3, 675 trials each
    "random": {"below": 385, "levels": [290, 279, 266, 256, 242, 214, 144, 32, 0], "median": 0.720,
               "iqr": [0.640, 0.894], "highest": 0.944},
    "kbest": {"below": 236, "levels": [439, 428, 423, 417, 407, 390, 335, 158, 4], "median": 0.900,
              "iqr": [0.695, 0.925], "highest": 0.956},
}


# ----------------------------------------------------------------------------------------------- part 1: throughput


def throughput(args) -> dict:
    """Finished trials per hour of one search run by 1 and by 2 worker processes (``infantjax search work``).

    Both counts start worker processes the same way, so start-up (imports, cohort, compilation) is counted alike.
    """
    from infantjax.nas import SearchStore, search_summary, spawn_workers

    space = SMALL_SPACE if args.space == "small" else (None if args.space == "full" else json.loads(args.space))
    if args.objective == "synthetic":
        space = None  # the whole space: a few candidates would soon be exhausted
    results = {}
    for workers in (1, 2):
        rates, seconds = [], []
        for rep in range(args.warmup + args.repeats):  # warm-up runs (file caches) are dropped
            with tempfile.TemporaryDirectory() as tmp:
                if args.objective == "gcn":
                    objective = {"kind": "gcn", "synthetic": args.synthetic, "cohort_seed": 0,
                                 "cohort_options": json.loads(args.cohort_options)}
                else:
                    objective = {"kind": "synthetic", "seed": 0, "epochs": args.epochs,
                                 "seconds_per_epoch": args.seconds_per_epoch}
                settings = SearchSettings(
                    sampler="random", seed=rep, max_trials=args.trials,
                    trial=TrialConfig(epochs=args.epochs, checkpoints=(), train=json.loads(args.train)),
                    objective=objective, heartbeat_interval=5.0, grace_period=300.0, space=space,
                    checkpoint_root=str(pathlib.Path(tmp) / "ckpt") if args.objective == "gcn" else None,
                )
                storage = str(pathlib.Path(tmp) / "b.journal")
                store = SearchStore(storage, "bench", settings, create=True)
                start = time.perf_counter()
                pin = "none" if args.objective == "synthetic" else "auto"
                procs = spawn_workers(storage, "bench", workers, pin=pin)
                codes = [proc.wait() for proc in procs]
                elapsed = time.perf_counter() - start
                summary = search_summary(store)
            if any(codes) or summary["finished"] != args.trials:
                raise RuntimeError(f"benchmark run failed: exit codes {codes}, {summary['finished']} trials")
            if rep >= args.warmup:
                rates.append(summary["finished"] / elapsed * 3600)
                seconds.append(elapsed)
        results[f"{workers}_worker"] = {"trials_per_hour": statistics.median(rates), "runs": rates,
                                        "seconds": seconds}
    results["speedup_2_vs_1"] = results["2_worker"]["trials_per_hour"] / results["1_worker"]["trials_per_hour"]
    results["settings"] = {"objective": args.objective, "trials": args.trials, "epochs": args.epochs,
                           "seconds_per_epoch": args.seconds_per_epoch if args.objective == "synthetic" else None,
                           "space": args.space if args.objective == "gcn" else None,
                           "train": json.loads(args.train) if args.objective == "gcn" else None,
                           "cpu_count": os.cpu_count(), "load_average_at_end": os.getloadavg()}
    return results


# ---------------------------------------------------------------------------------------------- part 3: compiling
def compile_run(args) -> dict:
    """One search in this process (``--mode off`` or ``prefetch``): trials per hour with compiling counted."""
    import threading

    from jax import monitoring

    from infantjax.nas import SearchSettings, SearchStore, Worker

    compiles: list[tuple[str, float]] = []

    def listen(event: str, seconds: float, **kwargs) -> None:
        if event == "/jax/core/compile/backend_compile_duration":
            compiles.append((threading.current_thread().name, seconds))

    monitoring.register_event_duration_secs_listener(listen)
    space = SMALL_SPACE if args.space == "small" else (None if args.space == "full" else json.loads(args.space))
    objective = {"kind": "gcn", "synthetic": args.synthetic, "cohort_seed": 0,
                 "cohort_options": json.loads(args.cohort_options)}
    with tempfile.TemporaryDirectory() as tmp:
        settings = SearchSettings(sampler="random", seed=args.seed, max_trials=args.trials,
                                  trial=TrialConfig(epochs=args.epochs, checkpoints=(), train=json.loads(args.train)),
                                  objective=objective, heartbeat_interval=5.0, grace_period=600.0, space=space)
        store = SearchStore(str(pathlib.Path(tmp) / "c.journal"), "compile", settings, create=True)
        worker = Worker(store, name="bench", prefetch=args.mode == "prefetch")
        worker.objective.prepare()  # the cohort is preprocessed once per search: not a trial's time
        load = os.getloadavg()[0]
        start = time.perf_counter()
        report = worker.run()
        elapsed = time.perf_counter() - start
        trials = sorted((t for t in store.snapshot().trials if t.finished), key=lambda t: t.number)
    own = sum(s for name, s in compiles if not name.startswith("prefetch"))
    ahead = sum(s for name, s in compiles if name.startswith("prefetch"))
    seconds = [float((t.completed or 0.0) - (t.started or 0.0)) for t in trials]
    return {"mode": args.mode, "trials": len(trials), "elapsed_s": elapsed,
            "trials_per_hour": len(trials) / elapsed * 3600, "trial_seconds": seconds,
            "compile_s_in_trials": own, "compile_s_ahead": ahead, "prefetched": report.prefetched,
            "candidates": [str(t.spec) for t in trials], "load_average": [load, os.getloadavg()[0]]}


def compile_part(args) -> dict:
    """:func:`compile_run` without and with compiling ahead, each in a process of its own (fresh caches)."""
    import subprocess

    out = {}
    for mode in ("off", "prefetch"):
        command = [sys.executable, __file__, "--part", "compile-run", "--mode", mode, "--trials", str(args.trials),
                   "--epochs", str(args.epochs), "--space", args.space, "--synthetic", str(args.synthetic),
                   "--train", args.train, "--cohort-options", args.cohort_options, "--seed", str(args.seed)]
        run = subprocess.run(command, capture_output=True, text=True, check=True)
        out[mode] = json.loads(run.stdout.strip().splitlines()[-1])
    off = out["off"]
    per_trial = off["compile_s_in_trials"] / max(off["trials"], 1)
    out["compile_s_per_trial"] = per_trial
    out["train_s_per_trial"] = max(0.0, sum(off["trial_seconds"]) / max(off["trials"], 1) - per_trial)
    out["speedup_prefetch"] = out["prefetch"]["trials_per_hour"] / off["trials_per_hour"]
    out["cpu_count"] = os.cpu_count()
    return out


# ------------------------------------------------------------------------------------------------- part 2: samplers
def _run(sampler, objective, seed: int, budget: int | None) -> list[float]:
    finished: list[Finished] = []
    n = 0
    while budget is None or n < budget:
        proposal = sampler.propose(finished, seed=seed, number=n)
        if proposal.spec is None:
            break
        finished.append(Finished(n, proposal.spec, objective.performance(proposal.spec, n)))
        n += 1
    return [f.performance for f in finished]


def table_a3_row(aucs: list[float]) -> dict:
    a = np.asarray(aucs)
    return {
        "trials": int(a.size),
        "below": int((a < LEVELS[0]).sum()),
        "levels": [int((a >= lv).sum()) for lv in LEVELS],
        "median": float(np.median(a)),
        "iqr": [float(np.percentile(a, 25)), float(np.percentile(a, 75))],
        "highest": float(a.max()),
    }


def samplers(args) -> dict:
    def objective(s):
        return SyntheticObjective.table_a3(seed=s, noise=args.noise)

    kbest_trials, per_search = [], []
    for s in range(args.searches):
        aucs = _run(KBestSearch(KBestConfig()), objective(s), seed=s, budget=args.max_kbest_trials)
        kbest_trials += aucs
        per_search.append(len(aucs))
    total = len(kbest_trials)
    rows = {"kbest": table_a3_row(kbest_trials)}
    per = -(-total // args.searches)
    for name, factory in (("random", RandomSearch), ("tpe", TPESearch)):
        aucs = []
        for s in range(args.searches):  # same objectives, same total number of trials
            aucs += _run(factory(), objective(s), seed=1000 + s, budget=per)
        rows[name] = table_a3_row(aucs[:total])
    return {"searches": args.searches, "trials_per_kbest_search": per_search, "rows": rows, "paper": PAPER_A3}


def _print_table(record: dict) -> None:
    if "throughput" in record:
        t = record["throughput"]
        print("\nTrials per hour (median of repeats)")
        print("| workers | trials/hour |\n| --- | --- |")
        for w in (1, 2):
            print(f"| {w} | {t[f'{w}_worker']['trials_per_hour']:.0f} |")
        print(f"speed-up 2 vs 1: {t['speedup_2_vs_1']:.2f}×")
    if "compile" in record:
        c = record["compile"]
        print("\nCompiling counted (one worker, Random Search, the GCN objective)")
        print("| mode | trials/hour | seconds | compile in the trials | compile ahead | load average |")
        print("| --- | --- | --- | --- | --- | --- |")
        for mode in ("off", "prefetch"):
            r = c[mode]
            print(f"| {mode} | {r['trials_per_hour']:.1f} | {r['elapsed_s']:.0f} | {r['compile_s_in_trials']:.0f} s | "
                  f"{r['compile_s_ahead']:.0f} s | {r['load_average'][0]:.1f} / {r['load_average'][1]:.1f} |")
        print(f"compile {c['compile_s_per_trial']:.1f} s and training {c['train_s_per_trial']:.1f} s a trial; "
              f"with compiling ahead x{c['speedup_prefetch']:.2f}")
    if "samplers" in record:
        s = record["samplers"]
        head = "| search | < 0.75 | " + " | ".join(f"≥ {lv}" for lv in LEVELS) + " | median AUC (IQR) | highest |"
        print(f"\nTable A.3 form on the synthetic objective ({s['searches']} searches)")
        print(head + "\n|" + " --- |" * (len(LEVELS) + 4))
        rows = [(f"{k} (this run)", v) for k, v in s["rows"].items()]
        rows += [(f"{k} (paper)", {**v, "trials": 675}) for k, v in s["paper"].items()]
        for name, r in rows:
            n = r["trials"]
            cells = [f"{r['below']} ({100 * r['below'] / n:.1f}%)"]
            cells += [f"{c} ({100 * c / n:.1f}%)" for c in r["levels"]]
            print(f"| {name} | " + " | ".join(cells) +
                  f" | {r['median']:.3f} ([{r['iqr'][0]:.3f}, {r['iqr'][1]:.3f}]) | {r['highest']:.3f} |")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--part", choices=("all", "throughput", "samplers", "compile", "compile-run"), default="all")
    p.add_argument("--mode", choices=("off", "prefetch"), default="off", help=argparse.SUPPRESS)
    p.add_argument("--seed", type=int, default=0, help="search seed of the compile part")
    p.add_argument("--objective", choices=("synthetic", "gcn"), default="synthetic")
    p.add_argument("--synthetic", type=int, default=28, help="subjects of the GCN objective's cohort")
    p.add_argument("--train", default='{"batch_size": 8, "positive_copies": 2, "negative_copies": 2, "window": 60, '
                                      '"hop": 30, "learning_rate": 0.05}', help="TrainConfig overrides (GCN objective)")
    p.add_argument("--cohort-options", default='{"duration_s": 8.0, "prevalence": 0.5}',
                   help="infantjax.synth.cohort options of the GCN objective's cohort")
    p.add_argument("--space", default="small", help="GCN candidates: 'small' (8), 'full' (Table A.1) or JSON")
    p.add_argument("--trials", type=int, default=30, help="trials per throughput run")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--seconds-per-epoch", type=float, default=0.2)
    p.add_argument("--warmup", type=int, default=0, help="throughput runs dropped before the measured ones")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--searches", type=int, default=10)
    p.add_argument("--noise", type=float, default=0.01)
    p.add_argument("--max-kbest-trials", type=int, default=500)
    args = p.parse_args(argv)
    if args.part == "compile-run":
        print(json.dumps(compile_run(args)))
        return 0
    record = {"benchmark": "nas"}
    if args.part == "compile":
        record["compile"] = compile_part(args)
    if args.part in ("all", "throughput"):
        record["throughput"] = throughput(args)
    if args.part in ("all", "samplers"):
        record["samplers"] = samplers(args)
    print(json.dumps(record))
    _print_table(record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
