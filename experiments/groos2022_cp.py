"""Paper III of seed 002 (Groos et al. 2022, Ensemble-NAS-GCN) end to end on a synthetic cohort.

    python experiments/groos2022_cp.py --quick                # ≈ 10 min on 2 CPU cores; writes docs/groos2022_cp.md
    python experiments/groos2022_cp.py --subjects 600 --epochs 100 --cv-epochs 200 --out runs/groos2022_cp.md

The protocol (seed 002 §3.5 and Appendix A; Table D.1):

1. a synthetic cohort; a stratified test set (25 %) is held out, the rest is cut into 7 subject-level folds;
2. 10 K-Best searches (K, θ, T0=10, T∞=1, τ=3), each trial trained on folds 1, 3, 4, 5, 6 and validated on 2 ∪ 7
   with the early-stopping checkpoints — all searches in one Optuna journal, resumable (re-running the script with
   the same ``--workdir`` continues where it stopped);
3. the winner of each search cross-validated on all 7 folds: 10 × 7 = 70 instances (Ensemble-NAS-GCN);
4. test evaluation: median risk per video, AUC, the operating point at a fixed sensitivity (70 %, GMA's) with
   Clopper–Pearson intervals, the threshold table (eTable 5 layout) with the certainty colours;
5. CAM: mean video-level class activation per body part for infants with and without CP, and the Spearman
   correlation between CP risk and summed CAM (0.946 in the paper).

``--lanes N`` runs the searches (and then the cross-validations) in N worker processes on this machine, each on its
own device where there are several: the searches are shared out round-robin, every lane opens the same journal.
The output is a markdown report (tables next to the paper's figures); the JSON record and plots of one test infant
go to the work directory.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import pathlib
import subprocess
import sys
import time

import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from infantjax.io.files import write_json, write_text  # after the path: runs from a checkout
from infantjax.nas.space import small_space

log = logging.getLogger("groos2022_cp")

# Seed 002, Table D.1 (Paper III Table 1 / eFigure 2): Ensemble-NAS-GCN on the test set of 139 infants (21 CP),
# sensitivity fixed at GMA's 70 %; 95 % Clopper–Pearson intervals.
PAPER = {
    "test_infants": 139, "test_cp": 21, "auc": 0.921, "tp": 15, "fp": 7, "tn": 111, "fn": 6,
    "sensitivity": (71.4, 47.8, 88.7), "specificity": (94.1, 88.2, 97.6), "ppv": (68.2, 45.1, 86.1),
    "npv": (94.9, 89.2, 98.1), "accuracy": (90.6, 84.5, 94.9),
    "certain_cp": 66.7, "certain_no_cp": 88.1, "cam_spearman": 0.946,
    "searches": 10, "instances": 70, "val_auc_range": "0.932–0.956 (Table A.4)",
}

# Small candidates for --quick: two choices searched (2 × 2 = 4 candidates), the others fixed at their smallest
# alternative, so that each candidate compiles in seconds on a CPU and the searches share compilations.
QUICK_SPACE = small_space(graph=["spatial", "dis4"], nonlinearity=["relu", "swish"])


@dataclasses.dataclass(frozen=True)
class Protocol:
    """Everything that defines a run (the paper's protocol by default; :data:`QUICK` for 2 CPU cores)."""

    subjects: int = 600
    cohort_seed: int = 0
    duration_s: float = 60.0
    prevalence: float = 0.15
    difficulty: str = "default"
    test_fraction: float = 0.25
    searches: int = 10
    k: int = 5
    threshold: float = 0.9
    max_trials: int | None = None
    epochs: int = 100
    checkpoints: str = "paper"
    cv_epochs: int = 200
    folds: int = 7
    sensitivity: float = 0.7
    train: dict = dataclasses.field(default_factory=dict)
    space: dict | None = None
    lanes: int = 1
    fast_compile: bool = False


# The quick budgets (docs/train.md "Short runs"): SGD at lr 0.05 instead of 5e-4 and more windows per recording
# and epoch (6 per CP, 2 per non-CP recording instead of 4/1) so that each instance takes ≈ 30–40 steps; the
# debiased BatchNorm averages (CPConfig.debias_batch_stats) make such short runs evaluable at all.
QUICK = Protocol(
    subjects=56, duration_s=10.0, prevalence=0.3, difficulty="easy", searches=10, k=2, threshold=0.65,
    max_trials=3, epochs=3, checkpoints="2:0.55", cv_epochs=6, space=QUICK_SPACE, lanes=2, fast_compile=True,
    train={"batch_size": 16, "positive_copies": 6, "negative_copies": 2, "learning_rate": 0.05, "window": 75,
           "hop": 37, "eval_batch_size": 48},
)


def _objective(p: Protocol) -> dict:
    """The search objective as stored settings: every worker rebuilds the same development cohort from it."""
    return {"kind": "gcn", "synthetic": p.subjects, "cohort_seed": p.cohort_seed,
            "cohort_options": {"duration_s": p.duration_s, "prevalence": p.prevalence, "difficulty": p.difficulty},
            "hold_out_test": {"test_fraction": p.test_fraction, "seed": 1433}}


def _settings(p: Protocol, i: int, workdir: pathlib.Path):
    from infantjax.nas import SearchSettings, TrialConfig
    from infantjax.nas.trial import parse_checkpoints

    trial = TrialConfig(epochs=p.epochs, checkpoints=parse_checkpoints(p.checkpoints), train=p.train)
    return SearchSettings(
        sampler="kbest", sampler_config={"k": p.k, "threshold": p.threshold}, seed=i, max_trials=p.max_trials,
        trial=trial, objective=_objective(p), checkpoint_root=str(workdir / "checkpoints"), space=p.space,
        heartbeat_interval=10.0, grace_period=300.0,
    )


def _cv_config(p: Protocol):
    from infantjax.train import CPConfig

    return CPConfig(**{"progress": False, **p.train, "epochs": p.cv_epochs})


def _setup_jax(p: Protocol, workdir: pathlib.Path) -> None:
    import jax

    # compiled programs are shared between lanes and re-runs (each new candidate compiles once per machine)
    jax.config.update("jax_compilation_cache_dir", str(workdir / "xla_cache"))
    if p.fast_compile:  # tiny budgets: compilation dominates, so trade run-time optimisation for compile time
        jax.config.update("jax_disable_most_optimizations", True)


# ---------------------------------------------------------------------------------------------------- lane work
def run_lane(p: Protocol, workdir: pathlib.Path, lane: int, stage: str) -> None:
    """The share of lane ``lane`` of a stage: searches ``lane, lane + lanes, …`` or their cross-validations."""
    from infantjax import ensemble as ens_mod
    from infantjax.nas import SearchStore, Worker, best_spec, build_objective, load_cohort

    mine = list(range(lane, p.searches, p.lanes))
    storage = str(workdir / "searches.journal")
    if stage == "search":
        objective = None
        for i in mine:
            store = SearchStore(storage, f"search{i + 1}")
            objective = objective or build_objective(store.settings)  # one cohort, preprocessed once per lane
            report = Worker(store, objective, name=f"lane{lane}-search{i + 1}", device_index=lane).run()
            log.info("lane %d, search %d: trials %s", lane, i + 1, report.finished)
    elif stage == "crossval":
        dev = load_cohort(_objective(p))
        for i in mine:
            out = workdir / "crossval" / f"search{i + 1}"
            if (out / "ensemble.json").is_file():
                continue
            spec = best_spec(SearchStore(storage, f"search{i + 1}"))
            # instance (search i, fold f) has seed 1000·i + f
            ens = ens_mod.train([spec], dev, _cv_config(p), folds=p.folds, seed=i,
                                checkpoint_dir=str(workdir / "crossval" / f"search{i + 1}-checkpoints"))
            ens.save(out)
            log.info("lane %d, search %d: fold AUCs %s", lane, i + 1, np.round(ens.fold_auc[0], 3).tolist())
    else:
        raise ValueError(f"unknown stage {stage!r}")


def _run_stage(p: Protocol, workdir: pathlib.Path, stage: str) -> None:
    if p.lanes == 1:
        run_lane(p, workdir, 0, stage)
        return
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(x for x in (str(REPO), env.get("PYTHONPATH")) if x)
    procs = [subprocess.Popen([sys.executable, __file__, "--lane", str(j), "--stage", stage, "--workdir",
                               str(workdir)], env=env) for j in range(p.lanes)]
    codes = [proc.wait() for proc in procs]
    if any(codes):
        raise RuntimeError(f"{stage} lanes failed with exit codes {codes}; re-run to resume")


# ---------------------------------------------------------------------------------------------------- experiment
def run(p: Protocol, out: pathlib.Path, workdir: pathlib.Path) -> dict:
    from infantjax import ensemble as ens_mod
    from infantjax import synth
    from infantjax.clinical import ETABLE5_THRESHOLDS, cam_correlation, evaluate, risks_of, threshold_table
    from infantjax.explain import plot_cam, plot_windows
    from infantjax.nas import SearchStore, audit, best_spec, load_cohort, search_summary
    from infantjax.pipelines.cp import predict_cohort
    from infantjax.skeleton import get as get_skeleton

    times = {}
    t0 = time.perf_counter()
    write_json(workdir / "protocol.json", dataclasses.asdict(p), indent=None, sort_keys=False)
    full = synth.cohort("cp", n_subjects=p.subjects, seed=p.cohort_seed, duration_s=p.duration_s,
                        prevalence=p.prevalence, difficulty=p.difficulty)
    test_ids = set(full.split(test_fraction=p.test_fraction, folds=p.folds, seed=1433).test)
    test = full.select(sorted(test_ids, key=full.subject_ids.index), name="test")
    dev = load_cohort(_objective(p))  # exactly what the search workers train on
    assert not set(dev.subject_ids) & test_ids
    log.info("cohort: %d development and %d test infants", len(dev.subject_ids), len(test.subject_ids))

    # ---- 10 K-Best searches in one journal
    storage = str(workdir / "searches.journal")
    names = [f"search{i + 1}" for i in range(p.searches)]
    for i, name in enumerate(names):
        SearchStore(storage, name, _settings(p, i, workdir), create=True)
    t1 = time.perf_counter()
    _run_stage(p, workdir, "search")
    times["search"] = time.perf_counter() - t1
    searches = []
    for name in names:
        store = SearchStore(storage, name)
        summary = search_summary(store)
        snap = store.snapshot()
        searches.append({
            "name": name, "trials": summary["finished"], "states": summary["trials"],
            "best_auc": summary["best"]["performance"], "phase": summary["sampler"].get("phase"),
            "temperature": summary["sampler"].get("temperature"), "spec": best_spec(store).choices(),
            "epochs": sum(t.epochs or 0 for t in snap.trials if t.finished), "audit_mismatches": len(audit(store)),
        })

    # ---- cross-validate each winner on 7 folds → searches × 7 instances
    t1 = time.perf_counter()
    _run_stage(p, workdir, "crossval")
    parts = [ens_mod.load(workdir / "crossval" / name) for name in names]
    ensemble = ens_mod.Ensemble([e.specs[0] for e in parts], [e.variables[0] for e in parts], parts[0].config,
                                fold_auc=[e.fold_auc[0] for e in parts],
                                metadata={"searches": names, "folds": p.folds})
    times["cross_validation"] = time.perf_counter() - t1

    # ---- test evaluation at fixed sensitivity
    t1 = time.perf_counter()
    results = predict_cohort(ensemble, test)
    labels = np.asarray(test.labels, dtype=int)
    risks, instance_risks = risks_of(results)
    ev = evaluate(labels, risks, sensitivity=p.sensitivity)
    op = ev.operating_point.threshold
    thresholds = sorted({*ETABLE5_THRESHOLDS, float(op)})
    table = threshold_table(labels, risks, instance_risks, thresholds)
    at_op = threshold_table(labels, risks, instance_risks, [op])[0]
    cams = np.stack([r.cam for r in results])
    corr = cam_correlation(risks, cams)
    keypoints = get_skeleton("in-motion-19").keypoints
    chosen = int(np.argmax(np.where(labels == 1, risks, -1.0)))  # the CP infant with the highest risk
    result = results[chosen].with_threshold(op)
    plots = {"windows": plot_windows(result, workdir / "windows.png", title=f"{test.subjects[chosen]}: "
                                     f"{result.summary()}"),
             "cam": plot_cam(result.cam, workdir / "cam.png", title=f"{test.subjects[chosen]}: CAM")}
    times["test"] = time.perf_counter() - t1
    times["total"] = time.perf_counter() - t0
    times["cpu"] = _cpu_seconds()
    times = _accumulate(workdir, times)

    record = {
        "protocol": dataclasses.asdict(p),
        "cohort": {"development": len(dev.subject_ids), "test": len(test.subject_ids),
                   "test_cp": int(labels.sum()), "dev_cp": int(sum(dev.subject_labels().values()))},
        "searches": searches,
        "instances": ensemble.num_instances,
        "fold_auc": [list(map(float, a)) for a in ensemble.fold_auc],
        "test": {k: v for k, v in ev.as_dict().items() if k != "roc"},
        "certainty_at_operating_point": {"cp": at_op.colours_cp, "no_cp": at_op.colours_no_cp},
        "threshold_table": [row.as_dict() for row in table],
        "cam": {"cp": dict(zip(keypoints, cams[labels == 1].mean(0).tolist())),
                "no_cp": dict(zip(keypoints, cams[labels == 0].mean(0).tolist())),
                "spearman_risk_vs_cam": {"rho": corr.statistic, "p": corr.pvalue}},
        "plots": {k: str(v) for k, v in plots.items()},
        "seconds": times,
        "load_average": os.getloadavg()[0],
        "paper": PAPER,
    }
    write_report(record, out, workdir / "groos2022_cp.json")
    return record


# ------------------------------------------------------------------------------------------------------ report
def _pct(prop: dict) -> str:
    if not prop.get("n"):
        return "n/a"
    return f"{100 * prop['value']:.1f} [{100 * prop['lower']:.1f}, {100 * prop['upper']:.1f}]"


def _paper(triple) -> str:
    return f"{triple[0]:.1f} [{triple[1]:.1f}, {triple[2]:.1f}]"


def write_report(record: dict, out: pathlib.Path, record_path: pathlib.Path) -> None:
    """Write the markdown report ``out`` and the JSON record ``record_path`` (both atomically)."""
    p = record["protocol"]
    quick = {k: v for k, v in p.items() if k != "lanes"} == {k: v for k, v in dataclasses.asdict(QUICK).items()
                                                             if k != "lanes"}
    s = record["seconds"]
    c = record["cohort"]
    resumed = "" if s["invocations"] == 1 else f" (summed over {s['invocations']} invocations: a re-run resumes)"
    lines = [
        "# Paper III (Ensemble-NAS-GCN) on a synthetic cohort",
        "",
        (f"Generated by `python experiments/groos2022_cp.py{' --quick' if quick else ''}` "
        f"({p['lanes']} lane{'s' if p['lanes'] > 1 else ''}). The data are synthetic "
        "(`infantjax.synth`), so the numbers show that the whole protocol runs end to end — 10 K-Best searches, "
        "the searches × 7-fold ensemble, test evaluation at fixed sensitivity with Clopper–Pearson intervals, the "
        "threshold table and CAM — not the paper's clinical result. Paper figures: seed 002, Table D.1 (Paper III "
        "Table 1 / eFigure 2), Table A.4 and §4."),
        "",
        "## Configuration",
        "",
        (f"* cohort: {p['subjects']} synthetic infants ({p['duration_s']:.0f} s recordings, CP prevalence "
        f"{p['prevalence']:.0%}, difficulty {p['difficulty']}); development {c['development']} ({c['dev_cp']} CP), "
        f"held-out test {c['test']} ({c['test_cp']} CP). Paper: 557 infants, test 139 (21 CP)."),
        f"* {p['searches']} K-Best searches: K = {p['k']}, θ = {p['threshold']}, T0 = 10, T∞ = 1, τ = 3; "
        f"{p['epochs']} epochs per trial (paper 100), early-stopping checkpoints `{p['checkpoints']}`, trial budget "
        f"{p['max_trials'] or 'none (K-Best stops by itself)'} per search"
        + (f"; search space restricted to {_space_size(p['space'])} small candidates "
           f"(free choices: {', '.join(k for k, v in p['space'].items() if len(v) > 1)})" if p["space"] else "")
        + ".",
        (f"* cross-validation: each search's winner on {p['folds']} folds, {p['cv_epochs']} epochs (paper 200) → "
        f"{record['instances']} instances."),
        f"* training overrides: `{json.dumps(p['train'])}`"
        + ("; XLA optimisations mostly off (`jax_disable_most_optimizations`: compilation dominates tiny budgets)"
           if p["fast_compile"] else "") + ".",
        (f"* run time on this machine ({os.cpu_count()} CPU cores shared with other jobs, load average "
        f"{record['load_average']:.0f} at the end): search {s['search'] / 60:.1f} min, cross-validation "
        f"{s['cross_validation'] / 60:.1f} min, test evaluation {s['test']:.0f} s, total {s['total'] / 60:.1f} min "
        f"wall; {s['cpu'] / 60:.1f} min CPU in all processes{resumed}."),
        "",
    ]
    if quick:
        lines += [
            ("The quick configuration keeps the structure of the protocol and shrinks every budget so that it "
            f"finishes in under 20 minutes on 2 CPU cores: {p['max_trials']} trials per search instead of 49–85, "
            f"{p['epochs']} epochs per trial, {p['cv_epochs']} cross-validation epochs, "
            f"{p['train']['window'] / 30:.1f}-s windows ({p['train']['window']} frames; paper 5 s), "
            f"{p['duration_s']:.0f}-s recordings, a restricted space of {_space_size(p['space'])} small candidates "
            f"(the 10 searches share their compilations) and a {p['subjects']}-infant cohort; SGD at learning rate "
            f"{p['train']['learning_rate']} (paper 5e-4) with debiased BatchNorm averages (docs/train.md). "
            "With so little training the AUCs are far from the paper's."),
            "",
        ]
    lines += [
        "## Searches (Table A.4 form)",
        "",
        ("| search | trials | states | epochs trained | best val AUC (folds 2 ∪ 7) | end phase | T | graph | residual "
        "| kernel | nonlinearity | attention | pool | CV fold AUCs (mean) |"),
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for srch, aucs in zip(record["searches"], record["fold_auc"]):
        sp = srch["spec"]
        states = ", ".join(f"{k} {v}" for k, v in sorted(srch["states"].items()))
        lines.append(
            f"| {srch['name']} | {srch['trials']} | {states} | {srch['epochs']} | {srch['best_auc']:.3f} | "
            f"{srch['phase']} | {srch['temperature']:g} | {sp['graph']} | {sp['residual']} | "
            f"{sp['temporal_kernel_size']} | {sp['nonlinearity']} | {sp['attention']} | {sp['pool']} | "
            f"{np.mean(aucs):.3f} |")
    lines += ["", (f"Paper: {PAPER['searches']} searches of 49–85 trials; best validation AUCs "
              f"{PAPER['val_auc_range']}. Every recorded decision was recomputed from the journal "
              f"(`infantjax.nas.audit`): {sum(x['audit_mismatches'] for x in record['searches'])} mismatches."), ""]

    t = record["test"]
    lines += [
        f"## Test set at fixed sensitivity ({100 * p['sensitivity']:.0f} %; Table D.1 form, 95 % Clopper–Pearson)",
        "",
        ("| | infants (CP) | AUC | threshold | TP | FP | TN | FN | sensitivity % | specificity % | PPV % | NPV % "
        "| accuracy % |"),
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        (f"| this run | {c['test']} ({c['test_cp']}) | {t['auc']:.3f} | {t['threshold']:.3f} | {t['tp']} | {t['fp']} | "
        f"{t['tn']} | {t['fn']} | {_pct(t['sensitivity'])} | {_pct(t['specificity'])} | {_pct(t['ppv'])} | "
        f"{_pct(t['npv'])} | {_pct(t['accuracy'])} |"),
        (f"| paper | {PAPER['test_infants']} ({PAPER['test_cp']}) | {PAPER['auc']:.3f} | — | {PAPER['tp']} | "
        f"{PAPER['fp']} | {PAPER['tn']} | {PAPER['fn']} | {_paper(PAPER['sensitivity'])} | "
        f"{_paper(PAPER['specificity'])} | {_paper(PAPER['ppv'])} | {_paper(PAPER['npv'])} | "
        f"{_paper(PAPER['accuracy'])} |"),
        "",
    ]
    cert = record["certainty_at_operating_point"]
    n_cp, n_no = sum(cert["cp"].values()), sum(cert["no_cp"].values())
    certain_cp = 100 * cert["cp"].get("red", 0) / max(n_cp, 1)
    certain_no = 100 * cert["no_cp"].get("green", 0) / max(n_no, 1)
    lines += [
        (f"Certainty at that threshold: {certain_cp:.1f} % of the infants with CP were red (CP, high certainty) and "
        f"{certain_no:.1f} % of those without CP green (paper: {PAPER['certain_cp']} % and "
        f"{PAPER['certain_no_cp']} %)."),
        "",
        "## Threshold table (eTable 5 layout)",
        "",
        ("| threshold | TP | FP | TN | FN | sensitivity % | specificity % | PPV % | NPV % | CP: R/O/Y/G | "
        "no CP: G/Y/O/R |"),
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in record["threshold_table"]:
        cp = "/".join(str(row["colours_cp"].get(k, 0)) for k in ("red", "orange", "yellow", "green"))
        no = "/".join(str(row["colours_no_cp"].get(k, 0)) for k in ("green", "yellow", "orange", "red"))
        mark = " (operating point)" if abs(row["threshold"] - t["threshold"]) < 1e-3 else ""
        lines.append(f"| {row['threshold']:.3f}{mark} | {row['tp']} | {row['fp']} | {row['tn']} | {row['fn']} | "
                     f"{_pct(row['sensitivity'])} | {_pct(row['specificity'])} | {_pct(row['ppv'])} | "
                     f"{_pct(row['npv'])} | {cp} | {no} |")
    cam = record["cam"]
    rho = cam["spearman_risk_vs_cam"]
    lines += [
        "",
        "## CAM: mean video-level class activation per body part",
        "",
        (f"Spearman correlation between CP risk and summed CAM: ρ = {rho['rho']:.3f} (p = {rho['p']:.2g}); paper "
        f"{PAPER['cam_spearman']}. Plots of the highest-risk test infant with CP (per-window risks and CAM) are "
        f"written to the work directory (`windows.png`, `cam.png`)."),
        "",
        "| body part | CP | no CP |",
        "| --- | --- | --- |",
    ]
    for part, value in cam["cp"].items():
        lines.append(f"| {part} | {value:.3f} | {cam['no_cp'][part]:.3f} |")
    write_text(out, "\n".join(lines) + "\n", parents=True)
    write_json(record_path, record, sort_keys=False, allow_nan=True)


def _cpu_seconds() -> float:
    """User + system CPU seconds of this process and its finished children (the lanes)."""
    import resource

    return sum(getattr(resource.getrusage(who), f) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
               for f in ("ru_utime", "ru_stime"))


def _accumulate(workdir: pathlib.Path, times: dict) -> dict:
    """Stage times summed over every invocation on this work directory (a resumed run adds its own)."""
    path = workdir / "seconds.json"
    before = json.loads(path.read_text()) if path.is_file() else {}
    total = {k: float(before.get(k, 0.0)) + float(v) for k, v in times.items() if k != "invocations"}
    total["invocations"] = int(before.get("invocations", 0)) + 1
    write_json(path, total, indent=None, sort_keys=False)
    return total


def _space_size(space: dict) -> int:
    return int(np.prod([len(v) for v in space.values()]))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="tiny budgets: under 20 minutes on 2 CPU cores")
    ap.add_argument("--out", default=None, help="markdown report (default docs/groos2022_cp.md with --quick, else "
                                                "<workdir>/groos2022_cp.md); the JSON record goes to the workdir")
    ap.add_argument("--workdir", default="runs/groos2022_cp", help="journal, checkpoints, plots (re-run resumes)")
    ap.add_argument("--subjects", type=int, default=None)
    ap.add_argument("--searches", type=int, default=None)
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--cv-epochs", type=int, default=None)
    ap.add_argument("--max-trials", type=int, default=None)
    ap.add_argument("--lanes", type=int, default=None, help="worker processes (one per device)")
    ap.add_argument("--lane", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--stage", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    from infantjax import parallel

    parallel.initialize()  # multi-process JAX when INFANTJAX_DISTRIBUTED=1 or $INFANTJAX_COORDINATOR (docs/scale.md)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    for noisy in ("absl", "jax._src.xla_bridge", "jax._src.compilation_cache", "jax._src.compiler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    workdir = pathlib.Path(args.workdir).resolve()
    if args.lane is not None:  # a worker process started by _run_stage
        p = Protocol(**json.loads((workdir / "protocol.json").read_text()))
        _setup_jax(p, workdir)
        run_lane(p, workdir, args.lane, args.stage)
        return 0
    p = QUICK if args.quick else Protocol()
    changes = {k: v for k, v in (("subjects", args.subjects), ("searches", args.searches), ("epochs", args.epochs),
                                 ("cv_epochs", args.cv_epochs), ("max_trials", args.max_trials),
                                 ("lanes", args.lanes)) if v is not None}
    p = dataclasses.replace(p, **changes)
    if p.lanes < 1:
        ap.error("--lanes must be >= 1")
    workdir.mkdir(parents=True, exist_ok=True)
    out = pathlib.Path(args.out) if args.out else (REPO / "docs" / "groos2022_cp.md" if args.quick
                                                   else workdir / "groos2022_cp.md")
    _setup_jax(p, workdir)
    record = run(p, out, workdir)
    print(json.dumps({"test_auc": record["test"]["auc"], "instances": record["instances"],
                      "minutes": round(record["seconds"]["total"] / 60, 2), "report": str(out)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
