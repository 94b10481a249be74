"""``infantjax predict``: CP risk, class and certainty colour of keypoint files with a saved ensemble.

    infantjax predict ENS INPUT [--out DIR] [--threshold T] [--certainty paper|interquartile]
                                [--report DIR [--labels CSV]] [--map-skeleton none|exact|approximate]
                                [--window-rotation auto|reference|corrected] [--camera auto|steady|reference]
                                [--mirror average|reference]

INPUT is a keypoint file or a folder of them (with a ``labels.csv``, as ``infantjax synth`` writes: the files
it lists). For each recording it prints one line (risk, class, colour) and writes ``<name>.json`` (the full
record), ``<name>_windows.png`` (per-window boxplots) and ``<name>_cam.png`` (CAM on the skeleton) to
``--out`` (default: beside the ensemble, ``ENS/predictions``; created with its parents if missing; ENS may also be
a zoo name, e.g. ``cp-gcn-tracked``, with ``--out``). With
``--report DIR`` it also writes the HTML report (:mod:`infantjax.report`): ``DIR/cohort.html`` and one page
per recording in ``DIR/infants/``; ``--labels`` (a CSV with ``file`` and 0/1 ``label`` columns, as ``infantjax
synth`` writes) adds the ROC curve and the threshold table. Warnings about a recording (a head-down or
sideways spine, joints a ``--map-skeleton`` mapping could not fill) are printed under its line and kept in its
JSON record and report page. The keypoints are judged first (the tracking-quality gate, ``docs/quality.md``):
windows whose keypoints cannot be trusted are left out of the risk, and a recording with too few windows left
is reported as "cannot be assessed" (grey) with the reasons.
"""

from __future__ import annotations

import dataclasses
import math
import pathlib

from infantjax.commands._common import add_scoring_options
from infantjax.errors import ConfigError, DataError, FileWriteError

_SUFFIXES = {".csv", ".json", ".npz", ".mat", ".h5"}


def register(sub) -> None:
    p = sub.add_parser("predict", help="CP risk with certainty colour and explanations for keypoint files")
    p.add_argument("ensemble", help="directory written by `infantjax train` (or Ensemble.save), or a zoo name "
                                    "(cp-gcn-tracked ...; then give --out)")
    p.add_argument("input", help="a keypoint file or a folder of keypoint files")
    p.add_argument("--out", default=None, help="folder for the JSON records and plots (default ENS/predictions)")
    p.add_argument("--fps", type=float, default=None, help="frame rate of files that do not store one")
    p.add_argument("--map-skeleton", choices=("none", "exact", "approximate"), default="none",
                   help="map keypoint files of other sets (e.g. mpii-16 from the official pose weights) to "
                        "In-Motion 19: exact names only, or also stand-ins (hand for wrist ...); joints that stay "
                        "missing are named in a warning (default: none, files must be In-Motion 19)")
    add_scoring_options(p, said="the result says so")
    p.add_argument("--gate", default=None, metavar="FILE",
                   help="the tracking-quality gate's thresholds calibrated for your pose model (infantjax pose-gate); "
                        "default: the shipped ones, calibrated on rendered infants")
    p.add_argument("--no-plots", action="store_true", help="write only the JSON records")
    p.add_argument("--report", default=None, metavar="DIR",
                   help="also write an HTML report: DIR/cohort.html and one page per recording in DIR/infants/")
    p.add_argument("--labels", default=None, metavar="CSV",
                   help="outcomes for the report (CSV with file and 0/1 label columns, file names relative to "
                        "INPUT): adds the ROC curve and the threshold table")
    p.set_defaults(func=run)


def input_files(path: str) -> list[pathlib.Path]:
    """The recordings named by INPUT: a file or an OpenPose folder; the files listed by a folder's ``labels.csv``
    (the layout ``infantjax synth`` and ``infantjax.io.write_cohort`` write); else the keypoint files and OpenPose
    folders of the folder, sorted (:func:`infantjax.commands._common.input_files`: a DeepLabCut output folder's
    CSV, not its ``.h5``)."""
    from infantjax.commands import _common as common

    p = pathlib.Path(path)
    if p.is_dir() and (p / "labels.csv").is_file():
        from infantjax.io.cohort import read_labels

        listed = [p / row["file"].strip() for row in read_labels(p / "labels.csv")]
        missing = [str(f) for f in listed if not f.exists()]
        if missing:
            raise DataError(f"{p / 'labels.csv'} lists files that do not exist: {', '.join(missing[:3])}"
                            f"{' …' if len(missing) > 3 else ''}")
        return listed
    return common.input_files(p, _SUFFIXES, f"keypoint files ({', '.join(sorted(_SUFFIXES))}) or OpenPose folders")


def report_labels(labels_csv: str, input_path: str, files: list[pathlib.Path]) -> list[int]:
    """The 0/1 label of every input file from a labels CSV (its ``file`` column relative to INPUT's folder)."""
    from infantjax.io.cohort import read_labels

    root = pathlib.Path(input_path)
    root = root if root.is_dir() else root.parent
    table = {pathlib.PurePath(row["file"].strip()).as_posix(): row["label"].strip() for row in read_labels(labels_csv)}
    labels, missing = [], []
    for f in files:
        key = f.relative_to(root).as_posix()
        if key not in table:
            missing.append(key)
            continue
        if table[key] not in ("0", "1"):
            raise DataError(f"labels file {labels_csv}: the label of {key} is {table[key]!r}; the report needs 0 (no "
                            "CP) or 1 (CP)")
        labels.append(int(table[key]))
    if missing:
        raise DataError(f"labels file {labels_csv} has no row for {', '.join(missing[:5])}"
                        f"{' …' if len(missing) > 5 else ''}; give every recording a label or leave --labels out")
    return labels


def run(args) -> int:
    import infantjax
    from infantjax import ensemble
    from infantjax.commands._common import read_recording
    from infantjax.explain import plot_cam, plot_windows
    from infantjax.io import detect_format
    from infantjax.models import zoo
    from infantjax.pipelines.cp import predict_risk
    from infantjax.pipelines.cp import to_model_skeleton

    if args.labels and not args.report:
        raise DataError("--labels only feeds the report; add --report DIR")
    if args.threshold is not None and not 0 <= args.threshold <= 1:
        raise ConfigError(f"--threshold must be a probability in [0, 1], got {args.threshold}")
    if args.fps is not None and not (math.isfinite(args.fps) and args.fps > 0):
        raise ConfigError(f"--fps must be a positive number, got {args.fps}")
    # everything that can be checked without the ensemble first: loading it takes seconds
    files = input_files(args.input)
    for path in files:
        detect_format(path)  # an empty, binary or unknown file fails now, not after the ensemble is loaded
    # read every recording now too (damaged values, per-image labels): loading the ensemble takes seconds
    recordings = [read_recording(path, fps=args.fps) for path in files]
    labels = report_labels(args.labels, args.input, files) if args.labels else None
    families = {e.name: e.family for e in zoo.available()}
    zoo_name = not pathlib.Path(args.ensemble).exists() and args.ensemble in families
    if zoo_name and families[args.ensemble] != "ensemble":  # refused by its name (ConfigError) before any file
        infantjax.load(args.ensemble, kind="ensemble")
    if zoo_name and args.out is None:
        raise ConfigError(f"{args.ensemble} is a zoo ensemble, not a folder to write beside: give --out DIR")
    out = pathlib.Path(args.out) if args.out else pathlib.Path(args.ensemble) / "predictions"
    for option, folder in (("--out", out), ("--report", None if args.report is None else pathlib.Path(args.report))):
        if folder is not None and folder.exists() and not folder.is_dir():
            raise FileWriteError(f"{option} {str(folder)!r} is a file; give a folder (created if missing)")
    gate = True
    if args.gate is not None:
        from infantjax.pipelines.labelled import read_gate

        gate, gate_text = read_gate(args.gate)
        print(f"tracking-quality gate: {gate_text}")
    ens = infantjax.load(args.ensemble, kind="ensemble") if zoo_name else ensemble.Ensemble.load(args.ensemble)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise FileWriteError(f"--out {str(out)!r}: cannot create the folder ({err.strerror})") from None
    results, sequences = [], []
    for path, seq in zip(files, recordings):
        seq, mapped = to_model_skeleton(seq, args.map_skeleton, path)
        result = predict_risk(ens, seq, threshold=args.threshold, certainty=args.certainty,
                              window_rotation=args.window_rotation, gate=gate, camera=args.camera, mirror=args.mirror,
                              fix="infantjax predict --window-rotation corrected")
        if mapped:
            result = dataclasses.replace(result, warnings=(mapped, *result.warnings))
        stem = path.stem
        result.save_json(out / f"{stem}.json")
        if not args.no_plots:
            plot_windows(result, out / f"{stem}_windows.png", title=f"{path.name}: {result.summary()}")
            plot_cam(result.cam, out / f"{stem}_cam.png", title=f"{path.name}: CAM")
        if result.withheld:
            print(f"{path.name}: {result.label} ({result.colour}): {'; '.join(result.quality.reasons)}")
        else:
            print(f"{path.name}: CP risk {result.risk:.3f}  class {result.label}  colour {result.colour}  "
                  f"({result.predictions.shape[0]} windows × {result.predictions.shape[1]} instances)")
            if result.quality is not None and result.quality.state == "doubtful":
                print(f"  tracking doubtful: {'; '.join(result.quality.reasons)}")
        for warning in result.warnings:
            print(f"  warning: {warning}")
        if args.report:
            results.append(result)
            sequences.append(seq)
    print(f"records and plots in {out}")
    if args.report:
        from infantjax import report

        info = report.EnsembleInfo.from_ensemble(ens, checkpoint=pathlib.Path(args.ensemble).resolve())
        page = report.write(results, sequences, ensemble_info=info, labels=labels, names=[f.stem for f in files],
                            out_dir=args.report)
        print(f"report: {page.resolve()}")
    return 0
