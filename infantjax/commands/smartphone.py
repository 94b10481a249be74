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

from infantjax.commands import _common as common
from infantjax.errors import ConfigError

_SUFFIXES = {".csv", ".h5", ".npz"}


def register(sub) -> None:
    p = sub.add_parser("smartphone", help="seed 003's smartphone-video model: train on DLC keypoints, predict")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)
    t = verbs.add_parser("train", help="train the repeated-split protocol on DLC keypoint files and save it")
    t.add_argument("--data", required=True, help="folder of DLC keypoint files (passmore-18 body parts)")
    t.add_argument("--labels", default=None, help="labels CSV (file,subject,label[,height,width]); default "
                                                  "DATA/labels.csv")
    common.add_model_out(t)
    common.add_config(t, "PassmoreConfig")
    t.add_argument("--quick", action="store_true", help="the short CPU recipe (PassmoreConfig.quick)")
    t.add_argument("--splits", type=int, default=None, help="repeated participant-level splits (25)")
    t.add_argument("--epochs", type=int, default=None, help="most epochs (10,000; early stopping after 250)")
    t.add_argument("--min-epochs", type=int, default=None, help="epochs before early stopping starts (250)")
    t.add_argument("--patience", type=int, default=None, help="early-stopping patience in epochs (100)")
    t.add_argument("--calibration", choices=("reference", "corrected"), default=None,
                   help="Platt scaling on the early-stopping set (reference) or on a separate set (corrected)")
    _keypoint_options(t)
    common.add_run_options(t, seed=12345)
    t.set_defaults(func=run_train)
    q = common.add_predict_verb(verbs, "smartphone", "abnormal-movement probability of DLC keypoint files",
                                "a DLC keypoint file or a folder of them", run_predict)
    q.add_argument("--saliency", default=None, metavar="DIR", help="write a saliency plot per file to DIR")
    _keypoint_options(q)


def _keypoint_options(p) -> None:
    """How DLC files are read and time-normalised (train and predict)."""
    p.add_argument("--frame-size", type=float, nargs=2, metavar=("HEIGHT", "WIDTH"), default=None,
                   help="video size in pixels for files without height/width in the labels CSV")
    p.add_argument("--fps", type=float, default=None, help="frame rate of files that do not store one")
    p.add_argument("--samples", type=int, default=4500, help="samples after time normalisation (4500)")


def _config(args):
    from infantjax.train.passmore import PassmoreConfig

    return common.train_config(PassmoreConfig, args, splits=args.splits, epochs=args.epochs,
                               min_epochs=args.min_epochs, patience=args.patience, calibration=args.calibration)


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
    summary = result.summary()
    for when in ("before", "after"):
        print(f"held-out, {when} Platt scaling: {common.metric_row(summary[when])}")
    common.save_model(model, args.out)
    return 0


def run_predict(args) -> int:
    import numpy as np

    from infantjax.pipelines.passmore import SmartphoneModel, sequence_features

    model = SmartphoneModel.load(args.model)
    if args.frame_size is None:
        raise ConfigError("smartphone predict needs the video size: --frame-size HEIGHT WIDTH")
    # a DeepLabCut output folder's CSV, not its .h5; recordings, not labelled images
    files = common.input_files(args.input, _SUFFIXES, f"keypoint files ({', '.join(sorted(_SUFFIXES))})")
    recordings = [common.read_recording(f, skeleton="passmore-18", fps=args.fps) for f in files]
    feats = np.stack([sequence_features(seq, tuple(args.frame_size), num_samples=args.samples)
                      for seq in recordings])
    out = model.predict(feats)
    common.report_predictions(
        args.out, files, {"probability": out["probability"], "uncalibrated": out["uncalibrated"]},
        lambda i, f: f"{f.name}: probability {out['probability'][i]:.3f} (uncalibrated {out['uncalibrated'][i]:.3f})")
    if args.saliency:
        from infantjax.explain.plots import plot_saliency
        from infantjax.pipelines.passmore import saliency

        for f, x in zip(files, feats):
            plot_saliency(saliency(model, x), pathlib.Path(args.saliency) / f"{f.stem}_saliency.png",
                          title=f"{f.name}: saliency")
    return 0
