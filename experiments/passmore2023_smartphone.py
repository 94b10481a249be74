"""Seed 003 (Passmore et al., smartphone videos) end to end on a synthetic smartphone cohort.

    python experiments/passmore2023_smartphone.py --quick      # ≤ 20 min on 2 CPU cores; writes runs/passmore2023_smartphone/
    python experiments/passmore2023_smartphone.py --subjects 300 --duration 180 --out runs/p.md   # 4500 samples

The protocol (seed 003 Methods; other_seeds_reference §1.2–1.7):

1. a synthetic cohort of 18-point (``passmore-18``) recordings with DLC-like noise, dropouts and likelihoods; label
   = CP-like abnormal movements; through the whole preprocessing (quality control, torso alignment, outliers,
   gap filling, normalisation) to the 46 features;
2. ``--splits`` repeated stratified participant-level splits (15 % test, 12 % of the rest for early stopping and
   Platt scaling), all trained as one stacked, vmapped program;
3. test AUC, recall and precision at 0.5 and the Brier score, before and after Platt scaling, mean ± SD over
   splits; the catch22 + L2 logistic regression baseline on the same splits;
4. the saliency of one test video (plot in the work directory).

The quick budget (``--quick``) keeps the paper's sampling rate and clip span: 240 infants with recordings of 60 s
time-normalised to 1500 samples (25 samples/s as in the paper's 4500 samples for 3 minutes), so a 128-sample clip
spans 5.1 s as in the paper and each video gives 172 clips; 10 of the 25 repeated splits; ``PassmoreConfig.quick()``.
Feature extraction of the whole cohort takes well under a minute (the iterative imputer runs with one BLAS thread).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import pathlib
import sys
import time

import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from infantjax.io.files import save_npz, write_json, write_text  # after the path: runs from a checkout

log = logging.getLogger("passmore2023_smartphone")

# Seed 003, Results: 25 repeats, test set; mean ± SD. Video data alone / with metadata (age, birth cohort).
PAPER = {
    "cnn_video_only_auc": (0.749, 0.077),
    "cnn_with_metadata": {"auc": (0.795, 0.080), "recall": (0.755, 0.150), "precision": (0.277, 0.077)},
    "catch22_video_only_auc": (0.604, 0.106),
    "catch22_with_metadata_auc": (0.706, 0.098),
}


# The quick cohort (--quick): 240 infants with 60-s recordings at the paper's 25 samples/s (1500 samples, 172 clips
# of 5.1 s per video) and 10 of the 25 repeated splits, so that features, protocol and catch22 end within 20 minutes
# on 2 CPU cores. Without --quick: 80 infants, 20 s, 25 splits (pass --subjects/--duration for a larger cohort).
QUICK = {"subjects": 240, "duration": 60.0, "splits": 10}
FULL = {"subjects": 80, "duration": 20.0, "splits": 25}


def _fmt(pair) -> str:
    m, s = pair
    return "–" if not np.isfinite(m) else f"{m:.3f} ± {s:.3f}"


def _summary(rows: list[dict]) -> dict:
    return {k: (float(np.nanmean([r[k] for r in rows])), float(np.nanstd([r[k] for r in rows]))) for k in rows[0]}


def table(record: dict) -> str:
    """The results table in the paper's layout (mean ± SD over the repeated splits)."""
    lines = ["| model | AUC | recall (sensitivity) at 0.5 | precision (PPV) at 0.5 | Brier |",
             "| --- | --- | --- | --- | --- |"]
    for name, key in (("1D-CNN + attention, uncalibrated", "before"), ("1D-CNN + attention, Platt-calibrated",
                                                                      "after"),
                      ("catch22 + L2 logistic regression", "catch22")):
        s = record["summary"][key]
        lines.append(f"| {name} (synthetic) | {_fmt(s['auc'])} | {_fmt(s['recall'])} | {_fmt(s['precision'])} | "
                     f"{_fmt(s['brier'])} |")
    p = PAPER
    lines.append(f"| paper: 1D-CNN, video data only | {_fmt(p['cnn_video_only_auc'])} | – | – | – |")
    m = p["cnn_with_metadata"]
    lines.append(f"| paper: 1D-CNN with metadata (calibrated) | {_fmt(m['auc'])} | {_fmt(m['recall'])} | "
                 f"{_fmt(m['precision'])} | – |")
    lines.append(f"| paper: catch22 baseline, video only / with metadata | {_fmt(p['catch22_video_only_auc'])} / "
                 f"{_fmt(p['catch22_with_metadata_auc'])} | – | – | – |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="the ≤ 20-minute CPU budget (the QUICK cohort below)")
    ap.add_argument("--subjects", type=int, default=None, help="infants (default 80; --quick: QUICK)")
    ap.add_argument("--duration", type=float, default=None, help="seconds per synthetic recording (default 20)")
    ap.add_argument("--samples", type=int, default=None,
                    help="samples after time normalisation (paper: 4500; default 25 per second of --duration)")
    ap.add_argument("--difficulty", default="easy", help="synthetic difficulty preset")
    ap.add_argument("--dropout-burst", type=float, default=0.1,
                    help="seconds per detector dropout burst (synthetic default 0.5; 0.1 keeps most gaps within the "
                         "5-frame interpolation so the iterative imputer rarely runs)")
    ap.add_argument("--splits", type=int, default=None, help="repeated splits (default 25; --quick: QUICK)")
    ap.add_argument("--epochs", type=int, default=None, help="default: PassmoreConfig.quick's 60 (--quick) or 10,000")
    ap.add_argument("--learning-rate", type=float, default=None, help="default: the recipe's 0.005")
    ap.add_argument("--calibration", choices=("reference", "corrected"), default="reference")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workdir", default=str(REPO / "runs" / "passmore2023_smartphone"))
    ap.add_argument("--out", default=None, help="markdown report (default WORKDIR/report.md)")
    args = ap.parse_args(argv)
    for name, value in (QUICK if args.quick else FULL).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.samples is None:
        args.samples = int(round(25 * args.duration))  # 25 samples/s: the paper's 4500 for 3 minutes
    from infantjax import parallel

    parallel.initialize()  # multi-process JAX when INFANTJAX_DISTRIBUTED=1 or $INFANTJAX_COORDINATOR (docs/scale.md)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    from infantjax.pipelines.passmore import SmartphoneModel, synthetic_features, train_smartphone
    from infantjax.preprocess.catch22 import catch22_features
    from infantjax.protocols.baselines import catch22_baseline
    from infantjax.train.passmore import PassmoreConfig

    work = pathlib.Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    load = {"start": os.getloadavg()[0]}  # 1-minute load averages: timings are only comparable at similar loads
    cache = work / (f"features_s{args.subjects}_d{args.duration:g}_n{args.samples}_{args.difficulty}_"
                    f"b{args.dropout_burst:g}_{args.seed}.npz")
    cached = cache.exists()
    if cached:
        z = np.load(cache)
        features, labels, subjects = z["features"], z["labels"], list(z["subjects"])
    else:
        features, labels, subjects = synthetic_features(args.subjects, args.seed, duration_s=args.duration,
                                                        num_samples=args.samples, difficulty=args.difficulty,
                                                        dropout_burst_s=args.dropout_burst, progress=True,
                                                        exclude_failed=True)
        save_npz(cache, {"features": features, "labels": labels, "subjects": np.asarray(subjects)})
    t_features = time.perf_counter() - started
    load["features"] = os.getloadavg()[0]
    log.info("%d videos (%d abnormal), features in %.0f s", len(labels), int(labels.sum()), t_features)

    config = PassmoreConfig.quick() if args.quick else PassmoreConfig(progress=False)
    changes = {"splits": args.splits, "calibration": args.calibration}
    if args.epochs is not None:
        changes["epochs"] = args.epochs
    if args.learning_rate is not None:
        changes["learning_rate"] = args.learning_rate
    config = dataclasses.replace(config, **changes)
    t0 = time.perf_counter()
    model, result = train_smartphone(features, labels, subjects, config=config)
    t_train = time.perf_counter() - t0
    load["protocol"] = os.getloadavg()[0]
    log.info("protocol trained and evaluated in %.0f s", t_train)

    t0 = time.perf_counter()
    c22_cache = cache.with_name(cache.stem + "_catch22.npz")
    if c22_cache.exists():
        c22 = np.load(c22_cache)["catch22"]
    else:
        c22 = np.stack([catch22_features(f) for f in features])
        save_npz(c22_cache, {"catch22": c22})
    baseline = catch22_baseline(c22, labels, result.splits)
    t_c22 = time.perf_counter() - t0
    sys.path.insert(0, str(REPO / "experiments"))
    from passmore2023_diagnostics import paired

    comparison = paired([r["auc"] for r in result.before], [r["auc"] for r in baseline])
    load["catch22"] = os.getloadavg()[0]

    record = {
        "cohort": {"subjects": args.subjects, "videos": int(len(labels)), "excluded": args.subjects - len(labels),
                   "abnormal": int(labels.sum()),
                   "duration_s": args.duration, "samples": args.samples, "difficulty": args.difficulty,
                   "seed": args.seed},
        "config": config.to_json(),
        "summary": {"before": _summary(result.before), "after": _summary(result.after),
                    "catch22": _summary(baseline)},
        "per_split": {"before": result.before, "after": result.after, "catch22": baseline,
                      "platt": result.platt, "best_epoch": result.fit.best_epoch},
        "cnn_minus_catch22_auc": comparison,
        "brier_lower_after_platt": int(sum(a["brier"] < b["brier"] for a, b in zip(result.after, result.before))),
        "seconds": {"features": t_features, "protocol": t_train, "catch22": t_c22,
                    "total": time.perf_counter() - started},
        "features_cached": cached,
        "load_average": load,
        "paper": PAPER,
    }
    write_json(work / "record.json", record, allow_nan=True)
    model.save(work / "model")

    # saliency of the first test video of split 0
    from infantjax.explain.plots import plot_saliency
    from infantjax.pipelines.passmore import saliency

    test0 = int(result.splits[0].test[0])
    plot_saliency(saliency(SmartphoneModel.load(work / "model"), features[test0]), work / "saliency.png",
                  fps=args.samples / args.duration, title=f"synthetic video {test0} (label {labels[test0]})")

    s = record["seconds"]
    n_out = record["cohort"]["excluded"]
    excluded = f"(less {n_out} the pipeline rejected: a joint never detected) " if n_out else ""
    text = "\n".join([
        "# Passmore et al. 2023 (seed 003) on a synthetic smartphone cohort",
        "",
        f"Written by `python experiments/passmore2023_smartphone.py{' --quick' if args.quick else ''}` "
        f"({time.strftime('%Y-%m-%d')}).",
        "",
        f"Cohort: {record['cohort']['videos']} synthetic `passmore-18` recordings of {args.subjects} infants "
        f"{excluded}"
        f"({record['cohort']['abnormal']} with CP-like abnormal movements), difficulty `{args.difficulty}`, "
        f"{args.duration:g} s each (detector dropout bursts of {args.dropout_burst:g} s), time-normalised to "
        f"{args.samples} samples. {args.splits} repeated stratified "
        f"participant-level splits (15 % test, 12 % of the rest for early stopping and Platt scaling, calibration "
        f"`{args.calibration}`), trained as one stacked program; recipe `PassmoreConfig"
        f"{'.quick()' if args.quick else '()'}` (epochs {config.epochs}, early stopping after {config.min_epochs}, "
        f"patience {config.patience}, learning rate {config.learning_rate:g}).",
        "",
        "Test set, mean ± SD over splits (threshold 0.5):",
        "",
        table(record),
        "",
        f"Paired per split (CNN − catch22 test AUC): {', '.join(f'{d:+.3f}' for d in comparison['differences'])}; "
        f"the CNN wins {comparison['cnn_wins']} of {args.splits} splits ({comparison['ties']} ties), mean "
        f"{_fmt(comparison['mean_difference'])}, Wilcoxon signed-rank p = {comparison['wilcoxon_p']:.3f}.",
        "",
        f"The Brier score is lower after Platt scaling in {record['brier_lower_after_platt']} of {args.splits} "
        "splits. The paper's rows are its real cohort (484 videos, 12 % abnormal GMA); they are not comparable "
        "with the synthetic rows, only laid out the same.",
        "",
        f"Time: features {s['features']:.0f} s{' (read from the cache)' if cached else ''}, protocol "
        f"{s['protocol']:.0f} s, catch22 {s['catch22']:.0f} s, total {s['total'] / 60:.1f} min on this machine "
        f"({os.cpu_count()} CPUs); 1-minute load average at the start {load['start']:.1f}, after the features "
        f"{load['features']:.1f}, the protocol {load['protocol']:.1f}, catch22 {load['catch22']:.1f}. Best epochs "
        f"kept: {', '.join(str(e) for e in result.fit.best_epoch)} (of {config.epochs}).",
        "",
    ])
    out = pathlib.Path(args.out) if args.out else work / "report.md"  # docs/passmore2023_smartphone.md quotes it
    write_text(out, text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
