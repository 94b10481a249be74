"""``infantjax sma``: seed 000's CHOP INTEND regressor (Soran et al.) on Kinect limb-track files.

    infantjax sma synth OUT [--subjects 15] [--recordings 5] [--duration 120] [--seed 0]
    infantjax sma train --data DIR [--labels labels.csv] --out MODEL [--quick] [--epochs N] [--folds N]
    infantjax sma predict MODEL INPUT [--out predictions.csv]

``synth`` writes a synthetic cohort's limb tracks (one CSV per recording, 12 columns) and ``labels.csv`` (columns
file, subject, score). ``train`` reads the files named in the labels CSV, runs leave-one-subject-out CV, prints the
held-out errors in the layout of Tables 2 and 3, and saves the fold networks. ``predict`` prints, per file, the
recording's score by mean, median and quartile analysis of its 30-s windows.
"""

from __future__ import annotations

import csv
import pathlib

from infantjax.commands import _common as common
from infantjax.errors import DataError


def register(sub) -> None:
    p = sub.add_parser("sma", help="seed 000's SMA CHOP INTEND regressor: synthetic tracks, train, predict")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)
    s = verbs.add_parser("synth", help="write a synthetic SMA cohort's Kinect limb tracks and labels.csv")
    s.add_argument("out", help="folder to write to")
    s.add_argument("--subjects", type=int, default=15, help="infants (15)")
    s.add_argument("--recordings", type=int, default=5, help="recordings per infant (5)")
    s.add_argument("--duration", type=float, default=120.0, help="seconds per recording (120)")
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(func=run_synth)
    t = verbs.add_parser("train", help="leave-one-subject-out on limb-track files; save the fold networks")
    t.add_argument("--data", required=True, help="folder of limb-track files (.csv with 12 columns, .npy, .npz)")
    t.add_argument("--labels", default=None, help="labels CSV (file,subject,score); default DATA/labels.csv")
    common.add_model_out(t)
    common.add_config(t, "SMAConfig")
    t.add_argument("--quick", action="store_true",
                   help="the short CPU recipe (SMAConfig.quick) with the narrow network (SMASpec.narrow)")
    t.add_argument("--epochs", type=int, default=None, help="epochs (286 ≈ the paper's 1,000 iterations)")
    t.add_argument("--batch-size", type=int, default=None, help="windows per step (400)")
    t.add_argument("--folds", type=int, default=None, help="hold out only the first N subjects (default all)")
    common.add_run_options(t, seed=0)
    t.set_defaults(func=run_train)
    common.add_predict_verb(verbs, "sma", "CHOP INTEND extremity score of limb-track files",
                            "a limb-track file or a folder of them", run_predict)


def run_synth(args) -> int:
    from infantjax import synth
    from infantjax.io.files import write_text
    from infantjax.io.kinect import write_limb_tracks

    out = pathlib.Path(args.out)
    rec = synth.sma_recordings(args.subjects, args.recordings, duration_s=args.duration, seed=args.seed)
    rows = ["file,subject,score"]
    for tracks, subject, number, score in zip(rec.tracks, rec.subjects, rec.recordings, rec.labels):
        name = f"{subject}_r{int(number)}.csv"
        write_limb_tracks(out / name, tracks, parents=True)
        rows.append(f"{name},{subject},{float(score):.1f}")
    write_text(out / "labels.csv", "\n".join(rows) + "\n", parents=True)
    print(f"wrote {len(rec)} recordings of {args.subjects} infants ({args.duration:g} s each) and labels.csv to {out}")
    return 0


def _labels(path: pathlib.Path) -> list[tuple[str, str, float]]:
    try:
        with open(path, newline="") as fh:
            rows = list(csv.DictReader(fh))
    except OSError as err:
        raise DataError(f"cannot read the labels CSV {path} ({err})") from None
    if not rows or not {"file", "subject", "score"} <= set(rows[0]):
        raise DataError(f"{path}: the labels CSV needs the columns file, subject, score")
    out = []
    for i, r in enumerate(rows):
        try:
            out.append((r["file"], r["subject"], float(r["score"])))
        except (TypeError, ValueError):
            raise DataError(f"{path}, row {i + 2}: score {r.get('score')!r} is not a number") from None
    return out


def _config(args):
    from infantjax.models.sma import SMASpec
    from infantjax.train.sma import SMAConfig

    config = common.train_config(SMAConfig, args, epochs=args.epochs, batch_size=args.batch_size)
    return (SMASpec.narrow() if args.quick else SMASpec()), config


def run_train(args) -> int:
    from infantjax.io.kinect import read_limb_tracks
    from infantjax.pipelines.sma import train_sma

    data = pathlib.Path(args.data)
    labels = _labels(pathlib.Path(args.labels) if args.labels else data / "labels.csv")
    spec, config = _config(args)
    tracks = [read_limb_tracks(data / f) for f, _, _ in labels]
    subjects = [s for _, s, _ in labels]
    ids = sorted(set(subjects))
    folds = None if args.folds is None else ids[:args.folds]
    print(f"training {len(folds or ids)} leave-one-subject-out fold(s) on {len(tracks)} recordings of {len(ids)} "
          "subjects")
    model, result = train_sma(tracks, [s for _, _, s in labels], subjects, spec=spec, config=config, seed=args.seed,
                              folds=folds, checkpoint_dir=args.checkpoint_dir)
    import numpy as np

    held = ~np.isnan(result.predictions)
    sub = type(result)(result.subjects, type(result.windows)(*(getattr(result.windows, f)[held] for f in
                                                               ("windows", "scores", "subjects", "recordings"))),
                       result.predictions[held])
    w = sub.window_errors()
    print(f"held-out 30-s windows: mean absolute error per subject {w['per_subject']:.2f}, overall "
          f"{w['overall']:.2f} (of 72)")
    for method, e in sub.recording_errors().items():
        print(f"held-out 2-minute recordings, {method}: per subject {e['per_subject']:.2f}, overall "
              f"{e['overall']:.2f}")
    common.save_model(model, args.out)
    return 0


def run_predict(args) -> int:
    from infantjax.io.kinect import LIMB_TRACK_SUFFIXES, read_limb_tracks
    from infantjax.pipelines.sma import SMAModel

    model = SMAModel.load(args.model)
    files = common.input_files(args.input, LIMB_TRACK_SUFFIXES,
                               f"limb-track files ({', '.join(LIMB_TRACK_SUFFIXES)})")
    out = model.predict([read_limb_tracks(f) for f in files])
    windows = [len(w) for w in out["windows"]]
    common.report_predictions(
        args.out, files, {"mean": out["mean"], "median": out["median"], "quartile": out["quartile"],
                          "windows": windows},
        lambda i, f: f"{f.name}: CHOP INTEND extremity score {out['mean'][i]:.1f} (median {out['median'][i]:.1f}, "
                     f"quartile analysis {out['quartile'][i]:.1f}; {windows[i]} windows)")
    return 0
