"""``infantjax synth``: write a synthetic cohort — keypoint files, a labels CSV, optionally MP4 videos and depth clips."""

from __future__ import annotations

import csv
import pathlib


def register(sub) -> None:
    p = sub.add_parser("synth", help="write a synthetic infant cohort (keypoints, labels, optional videos/depth)")
    p.add_argument("--task", choices=("cp", "sma", "gma"), default="cp", help="label type (default: %(default)s)")
    p.add_argument("--subjects", type=int, default=50, help="number of infants (default: %(default)s)")
    p.add_argument("--out", required=True, help="output folder (created if missing)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    p.add_argument("--difficulty", default="default", help="easy, default, hard or an overlap in [0, 1]")
    p.add_argument("--duration", type=float, default=60.0, help="seconds per recording (default: %(default)s)")
    p.add_argument("--recordings", type=int, default=1, help="recordings per infant (default: %(default)s)")
    p.add_argument("--fps", default="30", help="frame rate, a range like 15-31, or 'vary' (default: %(default)s)")
    p.add_argument("--skeleton", default="in-motion-19", help="keypoint set (default: %(default)s)")
    p.add_argument("--format", default="dlc-csv", help="keypoint file format: dlc-csv, npz, long-csv, coco, ...")
    p.add_argument("--videos", action="store_true", help="also render MP4 videos")
    p.add_argument("--width", type=int, default=640, help="video width (default: %(default)s)")
    p.add_argument("--height", type=int, default=480, help="video height (default: %(default)s)")
    p.add_argument("--depth", action="store_true", help="also write depth clips (.npz, seed 004 set-up)")
    p.add_argument("--depth-frames", type=int, default=90, help="frames per depth clip (default: %(default)s)")
    p.set_defaults(func=run)


def _fps(text: str):
    from infantjax.errors import ConfigError

    if text == "vary":
        return None
    try:
        if "-" in text:
            lo, hi = (float(x) for x in text.split("-", 1))
            return (lo, hi)
        return float(text)
    except ValueError:
        raise ConfigError(f"--fps must be a number, a range like 15-31, or 'vary'; got {text!r}") from None


def _difficulty(text: str):
    try:
        return float(text)
    except ValueError:
        return text


_EXT = {"dlc-csv": ".csv", "part-csv": ".csv", "long-csv": ".csv", "coco": ".json", "dlc-mat": ".mat",
        "npz": ".npz", "openpose": ""}


def run(args) -> int:
    import numpy as np
    from tqdm.auto import tqdm

    from infantjax import synth
    from infantjax.errors import ConfigError, FileWriteError
    from infantjax.io import FORMATS, write_keypoints
    from infantjax.io.files import atomic_open
    from infantjax.synth.recording import RecordingConfig

    if args.format not in FORMATS:
        raise ConfigError(f"--format {args.format!r} is unknown; use one of {', '.join(FORMATS)}")
    if args.subjects < 1:
        raise ConfigError(f"--subjects must be >= 1, got {args.subjects}")
    if not args.duration > 0 or args.duration == float("inf"):
        raise ConfigError(f"--duration must be a positive number of seconds, got {args.duration}")
    out = pathlib.Path(args.out)
    if out.exists() and not out.is_dir():
        raise FileWriteError(f"--out {args.out!r} is a file; give a folder (created if missing)")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise FileWriteError(f"--out {args.out!r}: cannot create the folder ({err.strerror})") from None
    cohort = synth.cohort(args.task, n_subjects=args.subjects, seed=args.seed, difficulty=_difficulty(args.difficulty),
                          recordings_per_subject=args.recordings, duration_s=args.duration, fps=_fps(args.fps),
                          skeleton=args.skeleton, recording=RecordingConfig(width=args.width, height=args.height),
                          videos=args.videos, depth=args.depth, progress=True)
    (out / "keypoints").mkdir(exist_ok=True)
    if args.videos:
        (out / "videos").mkdir(exist_ok=True)
    if args.depth:
        (out / "depth").mkdir(exist_ok=True)
    columns = [k for k, v in cohort.metadata.items() if k not in ("video", "depth", "keypoints_3d")]
    rows = []
    for i, seq in enumerate(tqdm(cohort.sequences, desc="writing", unit="recording")):
        name = f"{cohort.subjects[i]}_r{int(cohort.metadata['recording'][i])}"
        kp_path = out / "keypoints" / (name + _EXT[args.format])
        write_keypoints(kp_path, seq, args.format)
        row = {"file": str(kp_path.relative_to(out)), "subject": cohort.subjects[i], "label": cohort.labels[i].item()}
        if args.videos:
            video_path = out / "videos" / (name + ".mp4")
            cohort.metadata["video"][i].write(video_path)
            row["video"] = str(video_path.relative_to(out))
        if args.depth:
            depth_path = out / "depth" / (name + ".npz")
            cohort.metadata["depth"][i].save(depth_path, frames=args.depth_frames, width=128, height=96)
            row["depth"] = str(depth_path.relative_to(out))
        for k in columns:
            v = cohort.metadata[k][i]
            row[k] = v.item() if isinstance(v, np.generic) else v
        rows.append(row)
    fields = list(rows[0].keys())
    with atomic_open(out / "labels.csv", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    n_pos = int((cohort.labels > 0).sum()) if args.task == "cp" else None
    print(f"wrote {len(cohort)} recordings of {len(cohort.subject_ids)} infants to {out}"
          + (f" ({n_pos} with CP)" if n_pos is not None else ""))
    print(f"labels: {out / 'labels.csv'}; keypoints: {out / 'keypoints'} ({args.format})")
    return 0
