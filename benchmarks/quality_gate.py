"""Calibration of the tracking-quality gate (``infantjax.clinical.assess_tracking``) on rendered cohorts.

    python benchmarks/quality_gate.py [--good 60] [--faults 10] [--duration 10] [--fps 15] [--size 320x240]
                                      [--pose rt-synthetic-infant-roi] [--seed 0] [--cache DIR] [--json FILE]
                                      [--quick]

Renders synthetic infants (``infantjax.synth.faults.fault_video``): ``--good`` videos as the renderer makes
them and ``--faults`` of each failure kind (the infant turned 90°, an empty mattress, a noise stream, the
infant leaving the frame for 40 % of the video, heavy blur), tracks each with the pose model (default the
zoo's infant model) and runs the gate over the windows the zoo's CP ensemble scores (5 s, hop 2.5 s). Prints
and records (``--json``):

* the **false-withhold rate**: the share of the good videos that track well (90 % of their frames tracked
  well: 90 % of the keypoints within half a trunk length of the rendered truth, the thorax and the pelvis
  within a quarter; :func:`tracked_frames`) whose risk the gate withholds (the target: ≤ 2 %), the share it
  calls doubtful, and the share withheld of all good renders (those include the pose model's own failures);
* the **catches**: per failure kind, the share withheld and the share with at least one window left out;
* per video: kind, seed, PCKh@0.5 and the share of frames tracked well (where there is a truth), state, window
  states and reasons.

The thresholds are ``infantjax.clinical.quality.THRESHOLDS`` (one place, documented in ``docs/quality.md``);
rerun this after the pose model changes and adjust them there. ``--cache DIR`` keeps every video's tracked
keypoints (``.npz``), so a rerun after a threshold change only re-judges (seconds). ``--quick``: 4 good videos
and 1 of each failure, 6 s each (checks that the script runs; not a figure to quote).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pathlib
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import numpy as np


def windows_of(duration_s: float, window: int = 150, hop: int = 75, fps: float = 30.0
               ) -> list[tuple[float, float]]:
    """The (start, end) seconds of the windows the CP ensemble scores in a recording of ``duration_s``."""
    from infantjax.clinical import window_spans
    from infantjax.preprocess import window_starts

    frames = int(round(duration_s * fps))
    if frames < window:
        return []
    return window_spans(window_starts(frames, window, hop), window, fps, duration_s)


def track(kind: str, seed: int, args, predictor, cache: pathlib.Path | None) -> dict:
    """The tracked keypoints of one rendered video (from the cache when there)."""
    from infantjax.synth.faults import fault_video

    w, h = args.size
    settings = hashlib.sha256(json.dumps(predictor.tracking.to_json(), sort_keys=True).encode()).hexdigest()[:10]
    key = f"{kind}_s{seed}_{args.duration:g}s_{args.fps:g}fps_{w}x{h}_{args.pose}_{settings}.npz"  # tracked how
    if cache is not None and (cache / key).is_file():
        with np.load(cache / key) as d:
            return {k: d[k] for k in d.files}
    with tempfile.TemporaryDirectory() as tmp:
        video = fault_video(pathlib.Path(tmp) / "v.mp4", kind, seed=seed, duration_s=args.duration,
                            fps=args.fps, width=w, height=h)
        seq = predictor.track(video.path, progress=False)
    out = {"coords": seq.coords, "confidence": seq.confidence, "times": seq.frame_times,
           "fps": np.float64(seq.fps), "image_hw": np.asarray(seq.metadata["image_hw"]),
           "truth": video.truth if video.truth is not None else np.zeros((0,))}
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(cache / key, **out)
    return out


def judge(tracked: dict) -> dict:
    """The gate's verdict on one tracked video, and how well it tracked (PCKh@0.5 against the truth)."""
    from infantjax.clinical import assess_tracking
    from infantjax.metrics.pose import pose_metrics
    from infantjax.sequence import SkeletonSequence

    seq = SkeletonSequence(tracked["coords"], float(tracked["fps"]), "in-motion-19", tracked["confidence"],
                           {"image_hw": [int(v) for v in tracked["image_hw"]], "units": "pixels"},
                           times=tracked["times"])
    q = assess_tracking(seq, windows_of(seq.duration), window_rotation="reference")
    truth = tracked["truth"]
    pckh = well = None
    if truth.size and np.isfinite(truth).any():
        inside = np.isfinite(truth).all(axis=(1, 2))  # PCKh over the frames with the whole body in the frame
        if inside.any():
            pckh = float(pose_metrics(tracked["coords"][inside], truth[inside], "in-motion-19")["pckh@0.5"])
        well = tracked_frames(tracked["coords"], truth)
    return {"state": q.state, "withheld": q.withheld, "window_states": list(q.window_states),
            "reasons": list(q.reasons), "pckh@0.5": pckh, "tracked_frames": well,
            "implausible_frames": q.summary["implausible_frames"],
            "mean_confidence": q.summary["mean_confidence"]}


def tracked_frames(pred: np.ndarray, truth: np.ndarray) -> float:
    """The share of frames the pose model tracked well: at least 90 % of the keypoints within half a trunk
    length (thorax to pelvis, the recording's median in the truth) of the truth, and the thorax and the
    pelvis — which scale and turn every window the CP ensemble scores — within a quarter; frames without the
    trunk in view are not judged. A video *tracks well* when 90 % of its frames do. (PCKh normalises by the
    head segment, a few pixels in a 320 × 240 frame; a share of keypoints alone passes a video whose pelvis is
    1.5 trunk lengths off in every frame.)"""
    from infantjax import skeleton

    names = skeleton.get("in-motion-19").keypoints
    t, p = names.index("thorax"), names.index("pelvis")
    trunk = float(np.nanmedian(np.linalg.norm(truth[:, t] - truth[:, p], axis=-1)))
    seen = np.isfinite(truth).all(axis=-1)  # keypoints inside the frame (the truth is NaN outside)
    diff = np.asarray(pred, np.float64) - np.where(seen[..., None], truth, 0.0)
    err = np.linalg.norm(diff, axis=-1) / trunk
    err = np.where(np.isfinite(err), err, np.inf)
    judged = seen[:, [t, p]].all(axis=1) & (seen.sum(axis=1) > 0)  # frames with the trunk in view
    if not judged.any():
        return 0.0
    close = ((err <= 0.5) & seen).sum(axis=1) / np.maximum(seen.sum(axis=1), 1)
    good = (close >= 0.9) & (err[:, [t, p]] <= 0.25).all(axis=1)
    return float(good[judged].mean())


def main(argv=None) -> int:
    from infantjax.synth.faults import FAULTS

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--good", type=int, default=60, help="good videos (default: %(default)s)")
    ap.add_argument("--faults", type=int, default=10, help="videos of each failure kind (default: 10)")
    ap.add_argument("--duration", type=float, default=10.0, help="seconds per video (default: %(default)s)")
    ap.add_argument("--fps", type=float, default=15.0, help="frame rate (default: %(default)s)")
    ap.add_argument("--size", default="320x240", help="WIDTHxHEIGHT of the frames (default: 320x240)")
    ap.add_argument("--pose", default="rt-synthetic-infant-roi", help="pose model: a zoo name or a weights file")
    ap.add_argument("--seed", type=int, default=0, help="first seed (default: %(default)s)")
    ap.add_argument("--cache", default=None, help="keep the tracked keypoints here (a rerun only re-judges)")
    ap.add_argument("--json", default=None, help="write the record here")
    ap.add_argument("--quick", action="store_true", help="4 good videos, 1 of each failure, 6 s each")
    args = ap.parse_args(argv)
    if args.quick:
        args.good, args.faults, args.duration = 4, 1, 6.0
    args.size = tuple(int(v) for v in args.size.lower().split("x"))
    from infantjax import load
    from infantjax.clinical.quality import THRESHOLDS

    predictor = load(args.pose)
    cache = None if args.cache is None else pathlib.Path(args.cache)
    load_before = os.getloadavg()
    t0 = time.perf_counter()
    rows = []
    plan = [("good", args.seed + i) for i in range(args.good)]
    plan += [(kind, args.seed + i) for kind in FAULTS if kind != "good" for i in range(args.faults)]
    for n, (kind, seed) in enumerate(plan, 1):
        row = {"kind": kind, "seed": seed, **judge(track(kind, seed, args, predictor, cache))}
        rows.append(row)
        pck = "" if row["pckh@0.5"] is None else \
            f" PCKh@0.5 {row['pckh@0.5']:.2f}, frames tracked well {row['tracked_frames']:.2f}"
        states = ",".join(s[0] for s in row["window_states"])
        print(f"[{n}/{len(plan)}] {kind} seed {seed}: {row['state']}"
              f"{' (withheld)' if row['withheld'] else ''} windows {states}{pck}", flush=True)
    good = [r for r in rows if r["kind"] == "good"]
    well = [r for r in good if r["tracked_frames"] is not None and r["tracked_frames"] >= 0.9]
    summary = {
        "good_videos": len(good), "well_tracked": len(well),
        "false_withhold_rate": None if not well else sum(r["withheld"] for r in well) / len(well),
        "doubtful_rate": None if not well else sum(r["state"] == "doubtful" for r in well) / len(well),
        "withheld_of_all_good": None if not good else sum(r["withheld"] for r in good) / len(good),
        "catches": {kind: {"videos": len(rs), "withheld": sum(r["withheld"] for r in rs) / len(rs),
                           "window_left_out": sum("unreliable" in r["window_states"] for r in rs) / len(rs),
                           "not_good": sum(r["state"] != "good" for r in rs) / len(rs)}
                    for kind in FAULTS if kind != "good"
                    for rs in [[r for r in rows if r["kind"] == kind]] if rs},
    }
    print()
    if well:
        print(f"good videos: {len(good)}, withheld {100 * summary['withheld_of_all_good']:.1f} %; tracking "
              f"well (90 % of the frames, tracked_frames): {len(well)}; withheld "
              f"{100 * summary['false_withhold_rate']:.1f} % of those (target <= 2 %), doubtful "
              f"{100 * summary['doubtful_rate']:.1f} %")
    for kind, c in summary["catches"].items():
        print(f"{kind:8s}: withheld {100 * c['withheld']:5.1f} %, a window left out "
              f"{100 * c['window_left_out']:5.1f} %, flagged (not good) {100 * c['not_good']:5.1f} % of "
              f"{c['videos']}")
    seconds = time.perf_counter() - t0
    print(f"{seconds:.0f} s; load average {load_before[0]:.2f} before, {os.getloadavg()[0]:.2f} after")
    if args.json:
        record = {"summary": summary, "rows": rows, "thresholds": THRESHOLDS.to_dict(),
                  "settings": {k: v for k, v in vars(args).items() if k not in ("json", "cache")},
                  "seconds": seconds, "load_average": [list(load_before), list(os.getloadavg())]}
        pathlib.Path(args.json).write_text(json.dumps(record, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
