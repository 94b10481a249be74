"""The video path against the truth: render a held-out synthetic cohort with exact keypoints, track every video with
a pose model, score tracked and exact keypoints with the same CP ensemble, and report the pose precision (Paper II's
PCKh@τ and median error in head lengths, per joint), the answer's fidelity (|risk difference|, class and colour
agreement, AUC of both against the labels) and the speed of each stage (:mod:`infantjax.pipelines.fidelity`).

    python benchmarks/chain.py [--infants 32] [--seed 4242] [--duration 30] [--fps 30] [--size 640x480]
                               [--pose NAME|FILE] [--ensemble NAME|DIR] [--truth-ensemble NAME|DIR]
                               [--tracking model|reference|infant]
                               [--smoothing HZ] [--decoding reference|subpixel] [--roi on|off]
                               [--sides as-detected|consistent] [--out DIR] [--json FILE] [--quick]

The videos are rendered once into ``--out`` (default ``/tmp/infantjax-chain``) and reused. ``--quick`` checks that
it runs (4 infants of 8 s). Prints the table and writes the JSON record (``--json``) with the CPU model and the load
average before and after.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import platform
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))


def _cpu() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--infants", type=int, default=32)
    ap.add_argument("--seed", type=int, default=4242, help="the cohort's seed (the zoo was trained on 101)")
    ap.add_argument("--duration", type=float, default=30.0)
    ap.add_argument("--fps", type=float, default=30.0)
    ap.add_argument("--size", default="640x480", help="WIDTHxHEIGHT")
    ap.add_argument("--difficulty", default="default")
    ap.add_argument("--pose", default=None, help="a zoo pose model or a weights file (default the zoo's infant model)")
    ap.add_argument("--ensemble", default=None, help="a zoo CP ensemble or a folder (default the zoo's)")
    ap.add_argument("--truth-ensemble", default=None,
                    help="the ensemble that scores the exact keypoints (default --ensemble's): the true movements' "
                         "answer, e.g. cp-gcn-synthetic, trained on precise keypoints")
    ap.add_argument("--tracking", default="model", choices=("model", "reference", "infant"),
                    help="the pose model's own settings, the official path, or the infant tracker")
    ap.add_argument("--smoothing", type=float, default=None, help="low-pass cut-off of the tracks (Hz)")
    ap.add_argument("--decoding", default=None, choices=("reference", "subpixel"),
                    help="override the tracking's decoding (integer arg-max or sub-pixel)")
    ap.add_argument("--roi", default=None, choices=("on", "off"), help="override the region of interest")
    ap.add_argument("--sides", default=None, choices=("as-detected", "consistent"), help="override the sides")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--out", default="/tmp/infantjax-chain")
    ap.add_argument("--json", default=None)
    ap.add_argument("--quick", action="store_true", help="4 infants of 8 s: does it run")
    args = ap.parse_args(argv)
    if args.quick:
        args.infants, args.duration = 4, 8.0
    width, height = (int(v) for v in args.size.lower().split("x"))
    from infantjax.pipelines.fidelity import evaluate_chain, render_cohort

    load_before = os.getloadavg()
    t0 = time.time()
    folder = pathlib.Path(args.out) / f"seed{args.seed}-n{args.infants}-{args.duration:g}s-{width}x{height}"
    cohort = render_cohort(folder, n=args.infants, seed=args.seed, duration_s=args.duration, fps=args.fps,
                           size=(height, width), difficulty=args.difficulty)
    render_s = time.time() - t0
    tracking = None
    overrides = {k: v for k, v in (("decoding", args.decoding), ("sides", args.sides),
                                   ("roi", None if args.roi is None else args.roi == "on")) if v is not None}
    if args.tracking != "model" or args.smoothing is not None or overrides:
        from infantjax.infer.tracking import Tracking
        from infantjax.pipelines.assessment import load_models

        base = load_models(args.ensemble, args.pose).pose.tracking if args.tracking == "model" else \
            Tracking.of(args.tracking)
        tracking = base.replace(smoothing_hz=args.smoothing, **overrides)
    report = evaluate_chain(cohort, pose=args.pose, ensemble=args.ensemble, tracking=tracking,
                            batch_size=args.batch_size, truth_ensemble=args.truth_ensemble)
    record = {"benchmark": "chain", **report.to_json(), "render_s": render_s, "cpu": _cpu(),
              "cores": os.cpu_count(), "load_before": load_before, "load_after": os.getloadavg(),
              "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    print(report.table())
    print(f"CPU {record['cpu']}, {record['cores']} cores, load average {load_before[0]:.2f} before, "
          f"{record['load_after'][0]:.2f} after")
    if args.json:
        from infantjax.io import files

        files.write_json(args.json, record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
