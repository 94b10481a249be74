"""``infantjax mam``: seed 001's motor assessment model (MAM, Gao et al. 2023) — normal vs risk at the FMs age, FMs
clips and the FMs frequency.

    infantjax mam train --out MODEL [--data DIR] [--quick] [--input distance] [--no-info] [--folds 5] [--epochs N]
    infantjax mam predict MODEL INPUT [--out predictions.csv] [--plots DIR]

``train`` trains the cross-validation folds (one stacked program) on a synthetic 25 fps cohort with 3D keypoints
(default) or on a cohort folder (``--data``: keypoint files and a labels CSV with label 0/1 risk and the columns
sex, gestational_age, birth_weight, corrected_age), prints the held-out metrics and saves every fold's network.
The Ref branch's pretraining clips come from a separate synthetic cohort with FMs ground truth. ``predict`` prints,
per recording (an ``.npy`` array (T, J, 3) of 3D keypoints or a keypoint file), the risk probability and the FMs
frequency (mean over the folds' networks); ``--plots DIR`` writes the FMs probability of every clip over time.
"""

from __future__ import annotations

import pathlib

from infantjax.commands import _common as common
from infantjax.errors import DataError

_SUFFIXES = (".npy", ".csv", ".h5", ".json")


def register(sub) -> None:
    p = sub.add_parser("mam", help="seed 001's MAM: normal vs risk, FMs clips and FMs frequency from 3D pose")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)
    t = verbs.add_parser("train", help="train the cross-validation folds and save them")
    common.add_model_out(t)
    t.add_argument("--data", default=None, help="cohort folder (keypoint files + labels.csv with risk labels and "
                                                "the four characteristics); default a synthetic cohort")
    t.add_argument("--labels", default=None, help="labels CSV (default DATA/labels.csv)")
    t.add_argument("--infants", type=int, default=60, help="infants of the synthetic cohort (60)")
    t.add_argument("--duration", type=float, default=60.0, help="seconds per synthetic recording (60)")
    common.add_config(t, "MamConfig")
    t.add_argument("--spec", default=None, help="MamSpec JSON file (flags below override it)")
    t.add_argument("--quick", action="store_true", help="the short CPU recipe and the small network of the docs")
    t.add_argument("--input", choices=("distance", "coordinates", "velocities", "accelerations"), default=None,
                   help="motion representation (distance: the paper's)")
    t.add_argument("--no-info", action="store_true", help="without the Info branch (MAM.w/o.info)")
    t.add_argument("--folds", type=int, default=None, help="cross-validation folds (5)")
    t.add_argument("--epochs", type=int, default=None, help="epochs (300)")
    common.add_run_options(t, seed=0)
    t.set_defaults(func=run_train)
    q = common.add_predict_verb(
        verbs, "mam", "risk and FMs frequency of recordings",
        "a recording (.npy (T, J, 3) keypoints, or a keypoint file) or a folder of them", run_predict)
    q.add_argument("--info", type=float, nargs=4, default=None,
                   metavar=("MALE", "GA_WEEKS", "BIRTH_WEIGHT_G", "CORRECTED_AGE_WEEKS"),
                   help="the basic characteristics (one set for every input; needed with the Info branch)")
    q.add_argument("--fps", type=float, default=25.0, help="frame rate of .npy inputs (25)")
    q.add_argument("--plots", default=None, metavar="DIR", help="write the FMs probability plot per input to DIR")


def quick_spec(**overrides):
    """The small network of the quick recipe (ours): 2-second clips of 50 frames, patches of 10, width 32, 2
    blocks."""
    from infantjax.models.mam import MamSpec

    base = {"clip_length": 50, "patch": 10, "width": 32, "depth": 2, "heads": 4, "mil_hidden": 32}
    return MamSpec(**{**base, **overrides})


def run_train(args) -> int:
    from infantjax.models.mam import MamSpec
    from infantjax.pipelines.mam import cohort_inputs, reference_clips, synthetic_mam, train_mam
    from infantjax.train.mam import MamConfig

    spec = common.read_json(MamSpec, args.spec, "--spec") or (quick_spec() if args.quick else MamSpec())
    spec = spec.replace(**{k: v for k, v in {"input": args.input, "use_info": False if args.no_info else None
                                             }.items() if v is not None})
    config = common.train_config(MamConfig, args, folds=args.folds, epochs=args.epochs)
    main, ref = synthetic_mam(args.infants, max(8, args.infants // 3), duration_s=args.duration, seed=args.seed)
    if args.data:
        from infantjax.io import read_cohort

        main = read_cohort(args.data, args.labels)
        shape = main.sequences[0].coords.shape[1:]
        if shape != (spec.num_joints, spec.channels):
            raise DataError(f"{args.data}: keypoints of {shape[0]} joints in {shape[1]}D; the Ref branch pretrains on "
                            f"synthetic In-Motion-19 3D clips, so MAM trains on {spec.num_joints} joints in "
                            f"{spec.channels}D (3D pose estimation, e.g. VideoPose3D, then In-Motion 19)")
    inputs = cohort_inputs(main, spec, clip_stride=config.clip_stride)
    reference = reference_clips(cohort_inputs(ref, spec, clip_stride=config.clip_stride), spec,
                                stride=config.clip_stride, per_class=400, seed=args.seed)
    print(f"training {config.folds} fold(s) on {main} ({int(inputs.labels.sum())} risk), "
          f"{len(reference[1])} pretraining clips")
    model, result = train_mam(inputs, reference, spec=spec, config=config, seed=args.seed,
                              checkpoint_dir=args.checkpoint_dir)
    print(f"held-out: {common.metric_row(result.summary())}")
    common.save_model(model, args.out)
    return 0


def run_predict(args) -> int:
    import numpy as np

    from infantjax.models.mam import motion_features
    from infantjax.pipelines.mam import MamModel

    model = MamModel.load(args.model)
    spec = model.spec
    files = common.input_files(args.input, _SUFFIXES, "recordings (.npy keypoints or keypoint files)")
    features, rates = [], []
    for f in files:
        if f.suffix.lower() == ".npy":
            k, fps = np.load(f, allow_pickle=False), args.fps
        else:
            seq = common.read_recording(f)
            seq.warn_if_variable_rate(f"mam predict: {f}")
            k, fps = seq.coords, seq.fps
        features.append(motion_features(k, spec.input, num_joints=spec.num_joints))
        rates.append(fps)
    info = None
    if args.info is not None:
        from infantjax.models.mam import characteristics

        male, ga, bw, ca = args.info
        info = characteristics([male] * len(files), [ga] * len(files), [bw] * len(files), [ca] * len(files))
    out = model.predict(features, info)
    common.report_predictions(
        args.out, files, {"risk": out["risk"], "fms_frequency": out["fms_frequency"]},
        lambda i, f: f"{f.name}: risk {out['risk'][i]:.3f}, FMs frequency {out['fms_frequency'][i]:.3f}")
    if args.plots:
        from infantjax.explain import plot_fms

        for i, f in enumerate(files):
            plot_fms(out["clip_fms"][i], pathlib.Path(args.plots) / f"{f.stem}_fms.png",
                     clip_starts=out["clip_starts"][i], clip_length=spec.clip_length, fps=rates[i],
                     risk=float(out["risk"][i]), title=f.name)
    return 0
