"""``infantjax predict``: CP risk, class and certainty colour of keypoint files with a saved ensemble.

    infantjax predict ENS INPUT [--out DIR] [--threshold T] [--certainty paper|interquartile]

INPUT is a keypoint file or a folder of them. For each recording it prints one line (risk, class, colour) and
writes ``<name>.json`` (the full record), ``<name>_windows.png`` (per-window boxplots) and ``<name>_cam.png`` (CAM
on the skeleton) to ``--out`` (default: beside the ensemble, ``ENS/predictions``).
"""

from __future__ import annotations

import pathlib

from infantjax.errors import DataError

_SUFFIXES = {".csv", ".json", ".npz", ".mat", ".h5"}


def register(sub) -> None:
    p = sub.add_parser("predict", help="CP risk with certainty colour and explanations for keypoint files")
    p.add_argument("ensemble", help="directory written by `infantjax train` (or Ensemble.save)")
    p.add_argument("input", help="a keypoint file or a folder of keypoint files")
    p.add_argument("--out", default=None, help="folder for the JSON records and plots (default ENS/predictions)")
    p.add_argument("--threshold", type=float, default=None, help="decision threshold (default: the ensemble's)")
    p.add_argument("--certainty", choices=("paper", "interquartile"), default="paper",
                   help="colour rule: the paper's share of instances, or the reference code's inter-quartile rule")
    p.add_argument("--fps", type=float, default=None, help="frame rate of files that do not store one")
    p.add_argument("--no-plots", action="store_true", help="write only the JSON records")
    p.set_defaults(func=run)


def input_files(path: str) -> list[pathlib.Path]:
    """The keypoint files named by INPUT (a file, or the keypoint files of a folder, sorted)."""
    p = pathlib.Path(path)
    if p.is_file():
        return [p]
    if not p.is_dir():
        raise DataError(f"input {path} does not exist")
    files = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in _SUFFIXES
                   and f.name != "labels.csv")
    if not files:
        raise DataError(f"input folder {path} holds no keypoint files ({', '.join(sorted(_SUFFIXES))})")
    return files


def run(args) -> int:
    from infantjax import ensemble
    from infantjax.explain import plot_cam, plot_windows
    from infantjax.io import read_keypoints
    from infantjax.pipelines.cp import predict_risk

    ens = ensemble.load(args.ensemble)
    out = pathlib.Path(args.out) if args.out else pathlib.Path(args.ensemble) / "predictions"
    out.mkdir(parents=True, exist_ok=True)
    for path in input_files(args.input):
        seq = read_keypoints(path, fps=args.fps)
        result = predict_risk(ens, seq, threshold=args.threshold, certainty=args.certainty)
        stem = path.stem
        result.save_json(out / f"{stem}.json")
        if not args.no_plots:
            plot_windows(result, out / f"{stem}_windows.png", title=f"{path.name}: {result.summary()}")
            plot_cam(result.cam, out / f"{stem}_cam.png", title=f"{path.name}: CAM")
        print(f"{path.name}: CP risk {result.risk:.3f}  class {result.label}  colour {result.colour}  "
              f"({result.predictions.shape[0]} windows × {result.predictions.shape[1]} instances)")
    print(f"records and plots in {out}")
    return 0
