"""Seed 001 (Gao et al. 2023, MAM) on synthetic cohorts: the internal cross-validation, the input ablation, the
Info-branch ablation, the FMs frequency and the localisation agreement.

    python experiments/gao2023_mam.py --quick          # the CPU budget; writes runs/gao2023_mam/
    python experiments/gao2023_mam.py --infants 300 --duration 180 --epochs 300 --paper-sizes

The protocol (seed 001 Methods; other_seeds_reference §3):

1. a main cohort (the paper's Cohort 1) and a separate pretraining cohort (Cohort 3) of synthetic infants at
   25 fps with exact 3D keypoints (``infantjax.synth``, task ``"gma"``); risk = sporadic or absent FMs, normal =
   intermittent or continual; the per-clip FMs ground truth (a clip is FMs when > 0.5 of its frames show FMs) of
   the pretraining cohort trains the Ref branch, that of the main cohort scores the localisation;
2. ``--folds`` cross-validation folds over infants, all trained as one stacked, vmapped program; the Ref, Main and
   Info branches trained together (the sum of the four losses);
3. per fold on its held-out infants: AUC, accuracy, sensitivity, specificity, PPV, NPV at 0.5 (mean ± SD over
   folds), the AUC of the FMs frequency (the fraction of clips called FMs) and Cohen's κ of the clip calls against
   the ground truth;
4. rows: MAM (distance matrices, with Info), MAM.w/o.info, coordinates, velocities (the paper's input ablation);
5. the FMs-probability plot of one held-out recording.

The quick recipe is ours (the paper's 240-frame clips, 300 epochs and sizes are beyond a CPU budget): 2-s clips of
50 frames every 25 frames, a 2-block Transformer of width 32, Adam 3e-3, 10 epochs, 3 folds.
"""

from __future__ import annotations

import argparse
import logging
import pathlib
import sys
import time

import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from infantjax.io.files import write_json, write_text  # after the path: runs from a checkout

log = logging.getLogger("gao2023_mam")

# Seed 001, Results (internal cross-validation on Cohort 1; external validation on Cohort 2), mean ± SD.
PAPER = {
    "internal": {"auc": (0.934, 0.014), "ppv": (0.526, 0.031), "npv": (0.900, 0.006)},
    "external": {"auc": (0.967, 0.005), "accuracy": (0.934, 0.003), "sensitivity": (0.925, 0.004),
                 "specificity": (0.936, 0.009), "ppv": (0.802, 0.022), "npv": (0.978, 0.008)},
    "fms_frequency_auc": 0.956,
    "kappa_median": (0.601, 0.620),
}
COLUMNS = ("auc", "accuracy", "sensitivity", "specificity", "ppv", "npv", "fms_frequency_auc", "kappa")
ROWS = (("MAM (distance matrix)", {"input": "distance"}), ("MAM.w/o.info", {"input": "distance", "use_info": False}),
        ("coordinates", {"input": "coordinates"}), ("velocities", {"input": "velocities"}))


def _fmt(pair) -> str:
    m, s = pair
    return "–" if not np.isfinite(m) else f"{m:.3f} ± {s:.3f}"


def table(record: dict) -> str:
    """The results in the paper's layout: one row per model, mean ± SD over folds."""
    head = "| model | AUC | accuracy | sensitivity | specificity | PPV | NPV | FMs-frequency AUC | κ (clips) |"
    lines = [head, "|" + "---|" * 9]
    for name, _ in ROWS:
        if name in record["rows"]:
            s = record["rows"][name]["summary"]
            lines.append(f"| {name} | " + " | ".join(_fmt(s[c]) for c in COLUMNS) + " |")
    p = PAPER["external"]
    lines.append("| paper, external validation | " + " | ".join(_fmt(p[c]) for c in COLUMNS[:6])
                 + f" | {PAPER['fms_frequency_auc']:.3f} | {PAPER['kappa_median'][0]:.3f}–"
                 f"{PAPER['kappa_median'][1]:.3f} (median) |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="the CPU budget (the defaults below)")
    ap.add_argument("--infants", type=int, default=45, help="infants of the main cohort")
    ap.add_argument("--reference-infants", type=int, default=16, help="infants of the pretraining cohort")
    ap.add_argument("--duration", type=float, default=60.0, help="seconds per synthetic recording")
    ap.add_argument("--difficulty", default="default", help="synthetic difficulty preset")
    ap.add_argument("--folds", type=int, default=None, help="default: MamConfig.quick's 3")
    ap.add_argument("--epochs", type=int, default=None, help="default: MamConfig.quick's 10")
    ap.add_argument("--reference-clips", type=int, default=400, help="pretraining clips per class (at most)")
    ap.add_argument("--paper-sizes", action="store_true", help="MamSpec's default sizes and MamConfig (slow)")
    ap.add_argument("--rows", nargs="*", default=None, help="only these rows (names of the table)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workdir", default=str(REPO / "runs" / "gao2023_mam"))
    ap.add_argument("--out", default=None, help="markdown report (default WORKDIR/report.md)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")

    from infantjax.commands.mam import quick_spec
    from infantjax.explain import plot_fms
    from infantjax.models.mam import MamSpec
    from infantjax.pipelines.mam import cohort_inputs, reference_clips, synthetic_mam, train_mam
    from infantjax.train.mam import MamConfig

    started = time.perf_counter()
    work = pathlib.Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    config = MamConfig() if args.paper_sizes else MamConfig.quick()
    config = config.replace(**{k: v for k, v in {"folds": args.folds, "epochs": args.epochs}.items()
                               if v is not None})
    main_cohort, ref_cohort = synthetic_mam(args.infants, args.reference_infants, duration_s=args.duration,
                                            seed=args.seed, difficulty=args.difficulty)
    log.info("cohorts ready (%.0f s): %s, %s", time.perf_counter() - started, main_cohort, ref_cohort)
    record = {"rows": {}, "config": config.to_json(), "infants": args.infants, "duration_s": args.duration,
              "difficulty": args.difficulty, "seed": args.seed}
    for name, changes in ROWS:
        if args.rows and name not in args.rows:
            continue
        t0 = time.perf_counter()
        spec = (MamSpec() if args.paper_sizes else quick_spec()).replace(**changes)
        inputs = cohort_inputs(main_cohort, spec, clip_stride=config.clip_stride)
        reference = reference_clips(cohort_inputs(ref_cohort, spec, clip_stride=config.clip_stride), spec,
                                    stride=config.clip_stride, per_class=args.reference_clips, seed=args.seed)
        _, result = train_mam(inputs, reference, spec=spec, config=config, seed=args.seed)
        summary = result.summary()
        record["rows"][name] = {"spec": spec.to_json(), "summary": summary, "folds": result.scores,
                                "seconds": time.perf_counter() - t0,
                                "risk_share": float(inputs.labels.mean())}
        log.info("%s (%.0f s): %s", name, time.perf_counter() - t0,
                 " ".join(f"{k} {_fmt(v)}" for k, v in summary.items()))
        if name == ROWS[0][0]:
            (_, test), out = result.folds[0], result.outputs[0]
            r = int(np.argmax(out["risk"] < 0.5)) if (out["risk"] < 0.5).any() else 0
            plot_fms(out["clip_fms"][r], work / "fms_probability.png", clip_starts=out["clip_starts"][r],
                     clip_length=spec.clip_length, fps=25.0, truth=inputs.fms_truth[test[r]],
                     risk=float(out["risk"][r]), title=f"held-out recording {test[r]}")
    record["seconds"] = time.perf_counter() - started
    report = (f"# Seed 001 (MAM) on synthetic cohorts\n\n{args.infants} infants × {args.duration:.0f} s at 25 fps "
              f"({args.difficulty}), {config.folds} folds, {config.epochs} epochs; wall time "
              f"{record['seconds'] / 60:.1f} min.\n\n{table(record)}\n")
    write_json(work / "record.json", record, allow_nan=True)
    write_text(pathlib.Path(args.out) if args.out else work / "report.md", report, parents=True)
    print(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
