"""``infantjax smartphone``: seed 003's smartphone-video model (Passmore et al.) on DeepLabCut keypoint files.

    infantjax smartphone train --data DIR [--labels labels.csv] --out MODEL [--quick] [--splits 25] [--epochs N]
    infantjax smartphone predict MODEL INPUT [--out predictions.csv] [--saliency DIR]

``train`` reads the DLC CSVs (``passmore-18`` body parts) named in the labels CSV (columns file, subject, label 0/1;
``height``/``width`` columns or ``--frame-size`` give the video size the preprocessing needs), runs the
preprocessing and the repeated-split protocol, prints the held-out metrics before and after Platt scaling and saves
every split's network with its Platt scaling. ``predict`` prints, per file, the mean calibrated probability over
those networks; ``--saliency DIR`` writes a saliency plot per file.
"""

from __future__ import annotations

import pathlib

from infantjax.errors import ConfigError, DataError

_SUFFIXES = {".csv", ".h5", ".npz"}


def register(sub) -> None:
    p = sub.add_parser("smartphone", help="seed 003's smartphone-video model: train on DLC keypoints, predict")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)
    t = verbs.add_parser("train", help="train the repeated-split protocol on DLC keypoint files and save it")
    t.add_argument("--data", required=True, help="folder of DLC keypoint files (passmore-18 body parts)")
    t.add_argument("--labels", default=None, help="labels CSV (file,subject,label[,height,width]); default "
                                                  "DATA/labels.csv")
    t.add_argument("--out", required=True, help="directory to write the model to")
    t.add_argument("--config", default=None, help="PassmoreConfig JSON file (flags below override it)")
    t.add_argument("--quick", action="store_true", help="the short CPU recipe (PassmoreConfig.quick)")
    t.add_argument("--splits", type=int, default=None, help="repeated participant-level splits (25)")
    t.add_argument("--epochs", type=int, default=None, help="most epochs (10,000; early stopping after 250)")
    t.add_argument("--min-epochs", type=int, default=None, help="epochs before early stopping starts (250)")
    t.add_argument("--patience", type=int, default=None, help="early-stopping patience in epochs (100)")
    t.add_argument("--calibration", choices=("reference", "corrected"), default=None,
                   help="Platt scaling on the early-stopping set (reference) or on a separate set (corrected)")
    _common(t)
    t.add_argument("--seed", type=int, default=12345)
    t.add_argument("--checkpoint-dir", default=None, help="checkpoint every epoch here and resume from it")
    t.add_argument("--no-progress", action="store_true", help="no progress bars")
    t.set_defaults(func=run_train)
    q = verbs.add_parser("predict", help="abnormal-movement probability of DLC keypoint files")
    q.add_argument("model", help="directory written by `infantjax smartphone train`")
    q.add_argument("input", help="a DLC keypoint file or a folder of them")
    q.add_argument("--out", default=None, help="CSV of the predictions (default: print only)")
    q.add_argument("--saliency", default=None, metavar="DIR", help="write a saliency plot per file to DIR")
    _common(q)
    q.set_defaults(func=run_predict)


def _common(p) -> None:
    p.add_argument("--frame-size", type=float, nargs=2, metavar=("HEIGHT", "WIDTH"), default=None,
                   help="video size in pixels for files without height/width in the labels CSV")
    p.add_argument("--fps", type=float, default=None, help="frame rate of files that do not store one")
    p.add_argument("--samples", type=int, default=4500, help="samples after time normalisation (4500)")


def _config(args):
    from infantjax.train.passmore import PassmoreConfig

    config = PassmoreConfig.quick() if args.quick else PassmoreConfig()
    if args.config:
        try:
            config = PassmoreConfig.from_json(pathlib.Path(args.config).read_text())
        except OSError as err:
            raise ConfigError(f"--config {args.config}: {err}") from None
    changes = {k: v for k, v in {"splits": args.splits, "epochs": args.epochs, "min_epochs": args.min_epochs,
                                 "patience": args.patience, "calibration": args.calibration}.items()
               if v is not None}
    if args.no_progress:
        changes["progress"] = False
    return config.replace(**changes)


def run_train(args) -> int:
    from infantjax.io import read_cohort
    from infantjax.pipelines.passmore import cohort_features, train_smartphone

    config = _config(args)
    cohort = read_cohort(args.data, args.labels, skeleton="passmore-18", fps=args.fps)
    features, labels, subjects = cohort_features(cohort, frame_size=args.frame_size, num_samples=args.samples,
                                                 progress=config.progress)
    print(f"training {config.splits} split(s) on {cohort}")
    model, result = train_smartphone(features, labels, subjects, config=config, seed=args.seed,
                                     checkpoint_dir=args.checkpoint_dir)
    model.save(args.out)
    summary = result.summary()
    for when in ("before", "after"):
        row = " ".join(f"{k} {m:.3f} ± {s:.3f}" for k, (m, s) in summary[when].items())
        print(f"held-out, {when} Platt scaling: {row}")
    print(f"saved {model.num_instances} network(s) to {args.out}")
    return 0


def _inputs(path: pathlib.Path) -> list[pathlib.Path]:
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in _SUFFIXES and p.name != "labels.csv")
        if not files:
            raise DataError(f"{path} holds no keypoint files ({', '.join(sorted(_SUFFIXES))})")
        return files
    if not path.exists():
        raise DataError(f"input {path} does not exist")
    return [path]


def run_predict(args) -> int:
    import numpy as np

    from infantjax.io import read_keypoints
    from infantjax.io.files import write_text
    from infantjax.pipelines.passmore import SmartphoneModel, sequence_features

    model = SmartphoneModel.load(args.model)
    if args.frame_size is None:
        raise ConfigError("smartphone predict needs the video size: --frame-size HEIGHT WIDTH")
    files = _inputs(pathlib.Path(args.input))
    feats = np.stack([sequence_features(read_keypoints(f, skeleton="passmore-18", fps=args.fps),
                                        tuple(args.frame_size), num_samples=args.samples) for f in files])
    out = model.predict(feats)
    lines = ["file,probability,uncalibrated"]
    for f, p, u in zip(files, out["probability"], out["uncalibrated"]):
        print(f"{f.name}: probability {p:.3f} (uncalibrated {u:.3f})")
        lines.append(f"{f.name},{p:.6f},{u:.6f}")
    if args.out:
        write_text(args.out, "\n".join(lines) + "\n", parents=True)
    if args.saliency:
        from infantjax.explain.plots import plot_saliency

        for f, x in zip(files, feats):
            plot_saliency(model.saliency(x), pathlib.Path(args.saliency) / f"{f.stem}_saliency.png",
                          title=f"{f.name}: saliency")
    return 0
