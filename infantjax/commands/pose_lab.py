"""A lab's own labelled frames (:mod:`infantjax.pipelines.labelled`, docs/your-data.md):

* ``infantjax pose-train DATA --out DIR`` — fine-tune EfficientPose on a DeepLabCut project or a COCO keypoint file;
* ``infantjax pose-evaluate MODEL DATA`` — the held-out (or any) frames' errors, PCKh/PCK per body part, worst frames;
* ``infantjax pose-frames VIDEO|FOLDER --out PROJECT`` — frames worth labelling next, as a DeepLabCut project.
"""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("pose-train", help="fine-tune a pose model on labelled frames (DeepLabCut project, COCO JSON)",
                       description="Fine-tune EfficientPose on a lab's labelled frames: a DeepLabCut project folder "
                                   "(config.yaml + labeled-data/) or a COCO keypoint JSON with its images. Whole "
                                   "videos are held out; the best epoch on them is kept; a killed run resumes.")
    p.add_argument("data", help="DeepLabCut project folder, a CollectedData_*.csv, or a COCO keypoint .json")
    p.add_argument("--out", required=True, help="output folder: the trained model (model.json), checkpoints, "
                                                "evaluation.json, TensorBoard scalars")
    p.add_argument("--variant", default=None,
                   help="EfficientPose variant: rt, i, ii, iii, iv, rt_lite, i_lite, ii_lite (default rt, or the "
                        "--init model's)")
    p.add_argument("--init", default="mpii",
                   help="start from: mpii (the official MPII weights; default), a zoo pose model "
                        "(rt-synthetic-infant-roi ...), a saved pose model folder or .npz, an official .h5, or scratch")
    p.add_argument("--resolution", type=int, default=128,
                   help="network input in pixels: the square around the subject is resized to it (default: "
                        "%(default)s)")
    p.add_argument("--epochs", type=int, default=None,
                   help="passes over the training crops (default: about 1,400 steps, 4 to 200 epochs; ~19 min on 2 "
                        "CPU cores at 128 px)")
    p.add_argument("--batch-size", type=int, default=8, help="default: %(default)s")
    p.add_argument("--learning-rate", type=float, default=1e-3, help="Adam's, with cosine decay (default: 1e-3)")
    p.add_argument("--held-out", type=float, default=0.2,
                   help="share of videos held out (of frames when fewer than 3 videos; default: %(default)s)")
    p.add_argument("--held-out-videos", nargs="+", default=None, metavar="VIDEO",
                   help="hold out these videos (labeled-data folder names) instead of a random share")
    p.add_argument("--copies", type=int, default=4,
                   help="crops of every training frame, each moved and resized at random (default: %(default)s)")
    p.add_argument("--freeze-backbone", action="store_true",
                   help="train the detection passes and heads only (faster; Paper II trains every layer)")
    p.add_argument("--seed", type=int, default=0, help="split, crops, heads and augmentation (default: 0)")
    p.add_argument("--individual", default=None, help="the individual of a multi-animal DeepLabCut project")
    p.add_argument("--images", default=None, help="the image folder of a COCO file (default: found beside it)")
    p.add_argument("--overwrite", action="store_true", help="train again where --out holds a finished model")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=run_train)

    e = sub.add_parser("pose-evaluate", help="evaluate a pose model on labelled frames (errors, PCKh/PCK per part)",
                       description="A pose model on labelled frames: DeepLabCut's test error (mean pixels), the "
                                   "RMSE, Paper II's PCKh@0.1/0.2/0.5 (PCK of the labels' box without a head "
                                   "segment) per body part, a JSON record and a PNG of the worst frames.")
    e.add_argument("model", help="a trained model folder (pose-train --out), a .npz/.h5, or a zoo pose model name")
    e.add_argument("data", help="DeepLabCut project folder or COCO keypoint .json")
    e.add_argument("--frames", choices=("held-out", "train", "all"), default="held-out",
                   help="which frames: those the model's training held out (default; all for a model that records "
                        "no split), those it trained on, or all")
    e.add_argument("--out", default=None, help="folder for evaluation.json and worst-frames.png")
    e.add_argument("--worst", type=int, default=8, help="frames in the PNG (default: %(default)s)")
    e.add_argument("--individual", default=None, help="the individual of a multi-animal DeepLabCut project")
    e.add_argument("--images", default=None, help="the image folder of a COCO file")
    e.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    e.set_defaults(func=run_evaluate)

    f = sub.add_parser("pose-frames", help="pick frames worth labelling into a DeepLabCut project",
                       description="Frames worth labelling: diverse ones (k-means on small grey frames, as "
                                   "DeepLabCut's extract_frames) or, with --pose, the ones the model tracks least "
                                   "plausibly, written as labeled-data/<video>/imgNNNN.png of a DeepLabCut project "
                                   "(with --pose, a CollectedData CSV prefilled with its keypoints to correct).")
    f.add_argument("source", help="a video or a folder of videos")
    f.add_argument("--out", required=True, help="the DeepLabCut project to write (created, or added to)")
    f.add_argument("--n", type=int, default=20, help="frames to pick in all (default: %(default)s)")
    f.add_argument("--pose", default=None, metavar="NAME|FILE",
                   help="pick the frames this pose model tracks least plausibly (a zoo name or a saved model, as in "
                        "`infantjax pose --pose`)")
    from infantjax.commands._common import add_deprecated_alias

    add_deprecated_alias(f, "--model", "--pose", "pose", "pose-frames")  # the earlier spelling: still accepted
    f.add_argument("--seed", type=int, default=0, help="k-means seed (default: 0)")
    f.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    f.set_defaults(func=run_frames)

    g = sub.add_parser("pose-gate", help="calibrate the tracking-quality gate for a pose model on labelled frames",
                       description="Re-fit the tracking-quality gate's per-frame thresholds for a lab's In-Motion 19 "
                                   "pose model on its labelled frames (frames tracked within and outside a tolerance "
                                   "of the labels) and write the file infantjax assess --gate and predict --gate "
                                   "take.")
    g.add_argument("model", help="an In-Motion 19 pose model: a trained model folder, a .npz or a zoo name")
    g.add_argument("data", help="frames labelled with the In-Motion 19 body parts (DeepLabCut project or COCO)")
    g.add_argument("--out", required=True, help="the thresholds file to write (.json)")
    g.add_argument("--tolerance", type=float, default=0.5,
                   help="a keypoint is right within this many head lengths of its label (default: %(default)s)")
    g.add_argument("--max-false", type=float, default=0.02,
                   help="the share of well-tracked frames the gate may flag (default: %(default)s)")
    g.add_argument("--frames", choices=("all", "held-out"), default="all",
                   help="all labelled frames (default), or those the model's training held out")
    g.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    g.set_defaults(func=run_gate)


def _check_out_folder(out: str, what: str) -> None:
    import pathlib

    from infantjax.errors import ConfigError

    path = pathlib.Path(out)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{what} {out} is a file; pass a folder")
    if not path.parent.exists():
        raise ConfigError(f"{what} {out}: its folder {path.parent} does not exist")


def run_train(args) -> int:
    from infantjax.pipelines.labelled import pose_train

    _check_out_folder(args.out, "--out")
    result = pose_train(args.data, args.out, variant=args.variant, init=args.init, resolution=args.resolution,
                        epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.learning_rate,
                        held_out=args.held_out, held_out_videos=args.held_out_videos, copies=args.copies,
                        freeze_backbone=args.freeze_backbone, seed=args.seed, individual=args.individual,
                        images=args.images, progress=not args.no_progress, overwrite=args.overwrite)
    info = result.predictor.info
    trained = info["trained_on"]
    print(f"trained EfficientPose {result.predictor.spec.variant} on {trained['train_frames']} frames of "
          f"{len(trained['train_videos'])} video(s) in {result.seconds:.0f} s"
          + (" (resumed)" if result.resumed else "") + f"; best epoch {info['best_epoch']}")
    if result.split["by"] == "video":
        names = result.split["held_out"]
        held = f"{len(names)} videos: " + ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")
    else:
        held = "single frames: fewer than 3 videos, split by frame"
    print(f"held out: {trained['held_out_frames']} frames ({held})")
    if result.metrics is not None:
        from infantjax.pipelines.labelled import format_table

        print(format_table(result.metrics))
    if result.baseline is not None:
        b = result.baseline
        m = b["metric"]
        print(f"before fine-tuning ({args.init}, {len(b['parts'])} shared body parts): mean error "
              f"{b['test_error_px']:.2f} px, {m.upper()}@0.1 {100 * b[f'{m}@0.1']:.1f} %")
    print(f"model -> {result.out} (infantjax pose VIDEO --pose {result.out}; infantjax pose-evaluate "
          f"{result.out} {args.data})")
    return 0


def run_evaluate(args) -> int:
    from infantjax.pipelines.labelled import pose_evaluate

    if args.out is not None:
        _check_out_folder(args.out, "--out")
    record = pose_evaluate(args.model, args.data, out=args.out, which=args.frames, worst=args.worst,
                           individual=args.individual, images=args.images, progress=not args.no_progress)
    print(f"{record['model']} on {record['frames']} {record['which']} frames of {args.data}")
    print(record["table"])
    if args.out is not None:
        print(f"record -> {args.out}/evaluation.json, worst frames -> {record['png']}")
    return 0


def run_frames(args) -> int:
    from infantjax.pipelines.labelled import pose_frames

    _check_out_folder(args.out, "--out")
    done = pose_frames(args.source, args.out, n=args.n, model=args.pose, seed=args.seed,
                       progress=not args.no_progress)
    count = sum(len(v) for v in done["frames"].values())
    how = "tracked least plausibly by the model, keypoints prefilled" if done["how"] == "model" else \
        "diverse (k-means)"
    print(f"{count} frames ({how}) of {len(done['frames'])} video(s) -> {done['project']}/labeled-data/")
    print("label them in DeepLabCut's GUI or napari (deeplabcut.label_frames), then: infantjax pose-train "
          f"{done['project']} --out MODEL")
    return 0


def run_gate(args) -> int:
    import pathlib

    from infantjax.errors import ConfigError
    from infantjax.pipelines.labelled import calibrate_gate

    out = pathlib.Path(args.out)
    if out.is_dir() or out.suffix.lower() != ".json":
        raise ConfigError(f"--out {out}: the thresholds are written as a .json file")
    if not 0 < args.tolerance and args.tolerance == args.tolerance:
        raise ConfigError(f"--tolerance must be > 0 head lengths, got {args.tolerance}")
    if not 0 <= args.max_false < 1:
        raise ConfigError(f"--max-false must be in [0, 1), got {args.max_false}")
    doc = calibrate_gate(args.model, args.data, out, tolerance=args.tolerance, max_false=args.max_false,
                         which=args.frames, progress=not args.no_progress)
    cal = doc["calibration"]

    def rate(r):
        caught = "no wrong frame" if r["wrong_caught"] is None else f"{100 * r['wrong_caught']:.0f} % of wrong caught"
        return f"{100 * r['right_flagged']:.1f} % of right frames flagged, {caught}"

    print(f"{cal['frames']} frames: {cal['right']} tracked right (within {args.tolerance:g} head lengths), "
          f"{cal['wrong']} wrong")
    print(f"shipped thresholds: {rate(cal['base'])}")
    print(f"fitted thresholds:  {rate(cal['fitted'])}")
    changed = {k: v for k, v in doc["thresholds"].items() if v != doc["shipped"][k]}
    print("changed: " + ", ".join(f"{k} {doc['shipped'][k]:g} -> {v:.3g}" for k, v in changed.items()))
    print(f"thresholds -> {out} (infantjax assess VIDEO --pose {args.model} --gate {out})")
    return 0

