"""What a home video does to the answer: a held-out rendered cohort, each video also made mirrored, grey, heavily
compressed, at 15 fps, at a variable frame rate, head-down, sideways, with a 180° display tag (valid: the answer must
not change), and dim, shaken, motion-blurred, filmed from afar, with the legs under a blanket, a toy held over the
mat, a parent's arm sweeping across or another infant at the edge (hard: right, or said) — every variant through
``infantjax assess`` with the zoo defaults, compared with its clean video.

    python benchmarks/perturb.py --out /tmp/perturb [--n 24] [--seed 5151] [--duration 60]
                                 [--only head-down,grey] [--pose NAME|FILE] [--ensemble NAME|DIR]
                                 [--mirror average|reference]

Per perturbation it prints (and writes to OUT/perturb.json) the videos, how many were withheld and flagged
(tracking doubtful), the median and largest |risk − the clean video's risk| over the videos not withheld, how many
stayed within 0.05, class flips, colour changes, the *silently wrong* ones (tracking judged good while the risk
moved more than 0.10), and how much of the video each check of the gate judged wrong (the share of frames each
per-frame check failed, each limb hidden and each face, hand or foot faint, averaged over the variant's videos). The cohort (``infantjax.pipelines.fidelity.render_cohort``) and every variant (FFmpeg over the clean encode)
are kept in OUT and reused; assess resumes per video. Needs FFmpeg on PATH.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import shutil
import subprocess
import sys
import time

#: name → (group, ffmpeg video filter or None, extra output options). "valid": the answer must not change;
#: "hard": right, or flagged/withheld.
PERTURBATIONS = {
    "mirrored": ("valid", "hflip", []),
    "grey": ("valid", "format=gray,format=yuv420p", []),
    "compressed": ("valid", None, ["-crf", "42"]),
    "fps15": ("valid", "fps=15", []),
    # a phone's variable frame rate: frames dropped irregularly (every 5th and 7th), each kept at its own time
    "vfr": ("valid", "select='not(eq(mod(n\\,5)\\,1))*not(eq(mod(n\\,7)\\,3))'", ["-fps_mode", "vfr"]),
    "head-down": ("valid", "hflip,vflip", []),
    "sideways": ("valid", "transpose=1", []),
    # pixels turned and a display rotation tag (what phones write): displayed, and read, upright
    "tag-180": ("valid", "hflip,vflip", ["-metadata:s:v:0", "rotate=180"]),
    "dim": ("hard", "eq=brightness=-0.25:gamma=0.7", []),
    # a hand-held phone: the view (zoomed 12 %) wanders by up to 6 % of the frame, several times a second
    "shake": ("hard", ("scale=trunc(iw*1.12/2)*2:trunc(ih*1.12/2)*2,crop=trunc(iw/1.12/2)*2:trunc(ih/1.12/2)*2:"
                       "'(iw-ow)/2*(1+sin(7*t))':'(ih-oh)/2*(1+sin(11*t+1))'"), []),
    "motion-blur": ("hard", "tmix=frames=5", []),
    "afar": ("hard", "scale=iw/2:ih/2,pad=iw*2:ih*2:(ow-iw)/2:(oh-ih)/2:color=0x9a9a9a", []),
    "blanket": ("hard", "drawbox=x=0:y=ih*0.55:w=iw:h=ih:color=0x7f9fbf@1:t=fill", []),  # the lower 45 %
    # a toy held over the middle of the mat (where the infants' hips, hands or knees are)
    "toy": ("hard", "drawbox=x=iw*0.30:y=ih*0.50:w=iw*0.15:h=ih*0.20:color=0xd23c3c@1:t=fill", []),
    # another infant (the cohort's next video at half size, its mat around it) at the right edge, partly outside
    "second-infant": ("hard", "[1:v]scale=iw/2:ih/2[s];[0:v][s]overlay=W-w*0.7:(H-h)/2:shortest=1", []),
    "arm": ("hard", "drawbox=x='-iw*0.3+mod(t*160\\,iw*1.6)':y=ih*0.35:w=iw*0.28:h=ih*0.13:color=0xd9a07a@1:t=fill",
            []),
}


def _cpu() -> str:
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def make_variant(src: pathlib.Path, dst: pathlib.Path, name: str) -> None:
    """``dst``: ``src`` through the perturbation ``name`` (atomic: a temporary file renamed)."""
    if dst.is_file():
        return
    _, vf, extra = PERTURBATIONS[name]
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.stem}.partial.mp4")
    tag = extra[:2] if extra[:1] == ["-metadata:s:v:0"] else []  # written by a stream copy (FFmpeg 5 and later)
    crf = extra if extra[:1] == ["-crf"] else ["-crf", "18"]
    options = [] if tag or extra[:1] == ["-crf"] else extra  # other output options (e.g. -fps_mode vfr)
    cmd = ["ffmpeg", "-v", "error", "-y", "-i", str(src)]
    if vf and "[1:v]" in vf:  # a second input: the next video of the same cohort
        videos = sorted(src.parent.glob(f"*{src.suffix}"))
        other = videos[(videos.index(src) + 1) % len(videos)]
        cmd += ["-i", str(other), "-filter_complex", vf]
    elif vf:
        cmd += ["-vf", vf]
    encoded = tmp.with_name(tmp.name + ".enc.mp4") if tag else tmp
    subprocess.run(cmd + ["-c:v", "libx264", "-pix_fmt", "yuv420p", *crf, *options, "-an", str(encoded)],
                   check=True)
    if tag:
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(encoded), "-c", "copy", *tag, str(tmp)], check=True)
        encoded.unlink()
    os.replace(tmp, dst)


def exact_orientation(cohort, ensemble) -> dict:
    """The renderer's exact keypoints turned head-down (180°) and sideways (90°) in the image, scored under the
    reference window rotation and under ``"auto"``, and mirrored (x reflected, left and right swapped) scored as
    given (``reference``) and averaged with their mirror images (``average``): the largest |risk − the upright
    keypoints' risk| of each."""
    import numpy as np

    from infantjax.clinical import assess_prediction
    from infantjax.preprocess import mirror
    from infantjax.sequence import SkeletonSequence

    h, w = cohort.size
    out = {"head-down": {"reference": 0.0, "auto": 0.0}, "sideways": {"reference": 0.0, "auto": 0.0},
           "mirrored": {"reference": 0.0, "average": 0.0}}
    for truth in cohort.truth:
        c = np.asarray(truth, np.float64)
        turned = {"head-down": np.stack([(w - 1) - c[..., 0], (h - 1) - c[..., 1]], -1),
                  "sideways": np.stack([(h - 1) - c[..., 1], c[..., 0]], -1)}

        def risk(coords, rotation, mirrored=None):
            seq = SkeletonSequence(coords.astype(np.float32), fps=cohort.fps, skeleton="in-motion-19")
            return float(assess_prediction(ensemble.predict(seq, window_rotation=rotation, mirror=mirrored)).risk)

        upright = risk(c, None)
        for name, coords in turned.items():
            for rotation in ("reference", "auto"):
                out[name][rotation] = max(out[name][rotation], abs(risk(coords, rotation) - upright))
        flipped = mirror(c, centre_x=(w - 1) / 2)
        out["mirrored"]["reference"] = max(out["mirrored"]["reference"], abs(risk(flipped, None) - upright))
        out["mirrored"]["average"] = max(out["mirrored"]["average"],
                                         abs(risk(flipped, None, "average") - risk(c, None, "average")))
    return out


def _judged(quality: dict) -> dict[str, float]:
    """The share of a video's frames each check of the gate failed (``quality.summary``: the per-frame checks,
    a limb hidden, a face, hand or foot faint), by the check's name."""
    summary = quality.get("summary") or {}
    out = {k: float(v) for k, v in (summary.get("checks") or {}).items()}
    for group, prefix in (("hidden", "hidden "), ("faint", "faint ")):
        out.update({prefix + k: float(v) for k, v in (summary.get(group) or {}).items()})
    return out


def _records(run) -> dict:
    return {r["name"]: r for r in run.records}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="folder for the cohort, its variants and the assess runs")
    ap.add_argument("--n", type=int, default=24, help="infants (default: %(default)s, half with CP)")
    ap.add_argument("--seed", type=int, default=5151, help="the cohort's seed (held out: not the zoo's 101)")
    ap.add_argument("--duration", type=float, default=60.0, help="seconds per video (default: %(default)s)")
    ap.add_argument("--only", default=None, help="comma-separated perturbations (default: all)")
    ap.add_argument("--pose", default=None, help="pose model (default: the zoo's)")
    ap.add_argument("--ensemble", default=None, help="CP ensemble (default: the zoo's)")
    ap.add_argument("--window-rotation", default="auto", choices=("auto", "reference", "corrected"),
                    help="assess's window rotation (default: %(default)s)")
    ap.add_argument("--mirror", default="reference", choices=("average", "reference"),
                    help="assess's mirror setting: average also scores every window's mirror image (default: "
                         "%(default)s)")
    args = ap.parse_args(argv)
    if shutil.which("ffmpeg") is None:
        print("perturb: needs ffmpeg on PATH", file=sys.stderr)
        return 2
    names = list(PERTURBATIONS) if not args.only else [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in PERTURBATIONS]
    if unknown:
        print(f"perturb: unknown perturbation(s) {', '.join(unknown)}; known: {', '.join(PERTURBATIONS)}",
              file=sys.stderr)
        return 2

    from infantjax.pipelines.assessment import assess, load_models
    from infantjax.pipelines.fidelity import render_cohort

    out = pathlib.Path(args.out)
    t0 = time.perf_counter()
    load = os.getloadavg()[0]
    cohort = render_cohort(out / "clean", n=args.n, seed=args.seed, duration_s=args.duration, prevalence=0.5)
    models = load_models(args.ensemble, args.pose)
    exact = exact_orientation(cohort, models.ensemble)
    for name, row in exact.items():
        if name == "mirrored":
            print(f"exact keypoints mirrored : max |risk − as filmed| {row['reference']:.3f} scored as given, "
                  f"{row['average']:.3f} averaged with the mirror images", flush=True)
            continue
        print(f"exact keypoints {name:9s}: max |risk − upright| {row['reference']:.3f} under the reference "
              f"rotation, {row['auto']:.3f} under auto", flush=True)
    settings = {"labelled": False, "progress": False, "models": models, "window_rotation": args.window_rotation,
                "mirror": args.mirror}
    clean = _records(assess(out / "clean", out / "assess" / "clean", **settings))
    clean_judged: dict[str, list[float]] = {}
    for rec in clean.values():
        for check, share in _judged(rec["quality"]).items():
            clean_judged.setdefault(check, []).append(share)
    clean_judged = {k: sum(v) / len(v) for k, v in clean_judged.items()}
    seen = [f"{k} {100 * v:.0f} %" for k, v in sorted(clean_judged.items(), key=lambda kv: -kv[1]) if v >= 0.01]
    print(f"clean        frames failing each check (mean over the videos): {', '.join(seen) or 'none'}", flush=True)
    rows = {}
    for name in names:
        folder = out / name
        for video in cohort.videos:
            make_variant(video, folder / video.name, name)
        got = _records(assess(folder, out / "assess" / name, **settings))
        diffs, flips, withheld, flagged, silent, within, colours = [], 0, 0, 0, 0, 0, 0
        judged: dict[str, list[float]] = {}
        for key, ref in clean.items():
            rec = got.get(key)
            if rec is None:
                continue
            q = rec["quality"]
            for check, share in _judged(q).items():
                judged.setdefault(check, []).append(share)
            if q["withheld"]:
                withheld += 1
                continue
            flagged += q["state"] != "good"
            if ref["quality"]["withheld"]:
                continue
            d = abs(rec["risk"] - ref["risk"])
            diffs.append(d)
            within += d <= 0.05
            flips += rec["cp"] != ref["cp"]
            colours += rec["colour"] != ref["colour"]
            silent += q["state"] == "good" and d > 0.10
        diffs.sort()
        rows[name] = {"group": PERTURBATIONS[name][0], "videos": len(got), "withheld": withheld, "flagged": flagged,
                      "compared": len(diffs), "within_0.05": within, "class_flips": flips,
                      "median_abs_risk_diff": diffs[len(diffs) // 2] if diffs else None,
                      "max_abs_risk_diff": diffs[-1] if diffs else None, "silently_wrong": silent,
                      "colour_changes": colours,
                      "judged": {k: sum(v) / len(v) for k, v in judged.items()}}
        r = rows[name]
        med = "—" if r["median_abs_risk_diff"] is None else f"{r['median_abs_risk_diff']:.3f}"
        big = "—" if r["max_abs_risk_diff"] is None else f"{r['max_abs_risk_diff']:.3f}"
        print(f"{name:12s} {r['group']:5s} videos {r['videos']:2d}  withheld {withheld:2d}  flagged {flagged:2d}  "
              f"|Δrisk| median {med} max {big}  within 0.05 {within}/{len(diffs)}  flips {flips}  "
              f"colour changes {colours}  silently wrong {silent}", flush=True)
        seen = [f"{k} {100 * v:.0f} %" for k, v in sorted(r["judged"].items(), key=lambda kv: -kv[1]) if v >= 0.01]
        print(f"{'':12s} frames failing each check (mean over its videos): {', '.join(seen) or 'none'}", flush=True)
    clean_withheld = sum(r["quality"]["withheld"] for r in clean.values())
    result = {"cohort": {"n": args.n, "seed": args.seed, "duration_s": args.duration, "prevalence": 0.5,
                         "clean_withheld": clean_withheld, "clean_judged": clean_judged},
              "models": {"pose": models.pose_name, "ensemble": models.ensemble_name},
              "window_rotation": args.window_rotation, "mirror": args.mirror, "perturbations": rows,
              "exact_orientation": exact,
              "machine": {"cpu": _cpu(), "cores": os.cpu_count(), "load_at_start": load},
              "seconds": time.perf_counter() - t0}
    (out / "perturb.json").write_text(json.dumps(result, indent=1))
    print(f"clean: {len(clean)} videos, {clean_withheld} withheld; {time.perf_counter() - t0:.0f} s on {_cpu()} "
          f"(load {load:.2f} at the start); written {out / 'perturb.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
