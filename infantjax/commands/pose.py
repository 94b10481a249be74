"""``infantjax pose VIDEO --pose NAME|FILE --out keypoints.csv``: keypoints of every frame of a video.

The video is decoded in chunks (bounded memory for any length), frames are batched through one jitted forward pass,
the heatmaps are decoded as the model's tracking settings say (the infant model: a region of interest that follows
the infant, sub-pixel decoding, consistent sides; the official MPII models: the official EfficientPose path;
``--tracking`` / ``--smoothing`` / ``--sides`` choose), and the result is written as a
:class:`~infantjax.sequence.SkeletonSequence` with confidences (CSV, npz or any ``infantjax.io`` format).
``--labelled OUT.mp4`` also writes the video with the keypoints drawn on every frame
(:func:`~infantjax.pipelines.pose.write_labelled_video`).
"""

from __future__ import annotations

import time


def register(sub) -> None:
    from infantjax.commands._common import add_deprecated_alias

    p = sub.add_parser("pose", help="estimate keypoints in every frame of a video (or a folder of videos)")
    p.add_argument("video", help="video file (anything PyAV decodes), or a folder of videos: each is tracked into "
                                 "--out DIR/<video>.csv (a run resumes: videos tracked already are skipped)")
    p.add_argument("--pose", default=None, metavar="NAME|FILE",
                   help="required: the pose model, as in `infantjax assess --pose`: a name of shipped weights (efficientpose-rt-mpii, efficientpose-i-mpii, "
                        "efficientpose-rt-lite-mpii, efficientpose-i-lite-mpii: official MPII models, 16 keypoints; "
                        "rt-synthetic-infant-roi: synthetic renders only, not for real infants; `infantjax info` lists "
                        "them), an official EfficientPose Keras .h5, a fine-tuned predictor .npz "
                        "(PosePredictor.save), or a model folder (infantjax pose-train --out)")
    add_deprecated_alias(p, "--weights", "--pose", "pose", "pose")  # the earlier spelling: still accepted, warns
    p.add_argument("--model", default=None,
                   help="expected variant (rt, i, ii, iii, iv, rt_lite, i_lite, ii_lite); checked against --pose")
    p.add_argument("--out", required=True, help="output keypoint file (.csv DeepLabCut CSV, .npz, .json COCO ...); "
                                                "for a folder of videos, the output folder")
    p.add_argument("--format", default=None, help="output format (default: from the extension)")
    p.add_argument("--labelled", default=None, metavar="OUT.mp4",
                   help="also write the video with the skeleton drawn on every frame (joints coloured by confidence: "
                        "light blue 0 to purple 1; missing or below --min-confidence not drawn), upright, at the "
                        "source's frame times, H.264 MP4 that browsers play")
    p.add_argument("--min-confidence", type=float, default=None,
                   help="joints below this confidence are not drawn in the --labelled video (default: 0, every joint the "
                        "CP model is given; 0.3: EfficientPose's real-time cut-off)")
    p.add_argument("--stride", type=int, default=1, help="use every N-th frame (default: %(default)s)")
    p.add_argument("--batch-size", type=int, default=16, help="frames per forward pass (default: %(default)s)")
    p.add_argument("--device", default=None, help="JAX platform to run on: cpu, gpu or tpu (default: JAX's default)")
    p.add_argument("--real-time", action="store_true",
                   help="real-time decoding (no blur; peaks below 0.3 are missing) instead of the offline one")
    p.add_argument("--max-frames", type=int, default=None, help="stop after this many frames")
    add_tracking_options(p)
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=run)


def add_tracking_options(p) -> None:
    """``--tracking``, ``--smoothing``, ``--sides`` and ``--upright``: how a pose model follows the infant (``pose``,
    ``assess``)."""
    p.add_argument("--tracking", choices=("model", "reference", "infant"), default="model",
                   help="model: the pose model's own settings (default); reference: the official EfficientPose "
                        "path (whole letterboxed frame, integer arg-max); infant: the infant tracker (region of "
                        "interest, sub-pixel decoding, consistent sides)")
    p.add_argument("--smoothing", type=float, default=None, metavar="HZ",
                   help="low-pass the keypoint tracks at this cut-off (zero-phase Butterworth; default: none)")
    p.add_argument("--sides", choices=("consistent", "as-detected"), default=None,
                   help="undo the left/right swaps of single frames (consistent) or keep them (as-detected); "
                        "default: the tracking settings'")
    p.add_argument("--upright", choices=("on", "off"), default=None,
                   help="turn the network's input by quarter turns so that the infant lies head-up in it (on: a "
                        "video filmed from the feet end or sideways) or feed the frames as they are (off); default: "
                        "the tracking settings' (on for the zoo's infant models)")


def tracking_overrides(args) -> dict | None:
    """``--tracking`` / ``--smoothing`` / ``--sides`` / ``--upright`` as the ``tracking`` argument of ``track`` and
    ``assess``: a dict of settings laid over the pose model's own, or None for the model's own."""
    from infantjax.infer.tracking import Tracking

    upright = args.upright
    if args.tracking == "model" and args.smoothing is None and args.sides is None and upright is None:
        return None
    base = {} if args.tracking == "model" else Tracking.of(args.tracking).to_json()
    changes = {"smoothing_hz": args.smoothing, "sides": args.sides,
               "upright": None if upright is None else upright == "on"}
    return {**base, **{k: v for k, v in changes.items() if v is not None}}


def check_pose_option(args, exists: bool = True) -> None:
    """``--pose`` was given (or its old spelling ``--weights``) and (with ``exists``) names a zoo pose model or an
    existing path.

    Raises:
        ConfigError: no ``--pose``; or a name that is neither a shipped pose model nor a file or folder (the
            message lists the shipped names and suggests the near ones: "did you mean ...?").
    """
    from infantjax.errors import ConfigError

    if args.pose is None:
        raise ConfigError("the pose model is required: --pose NAME|FILE (a shipped model such as "
                          "rt-synthetic-infant-roi, efficientpose-rt-mpii, or a weights file / model folder)")
    if exists:
        from infantjax.pipelines.assessment import check_model_names

        check_model_names(pose=args.pose)


def _predictor(args):
    from infantjax.errors import ConfigError
    from infantjax.models.pose.efficientpose import normalise_variant
    from infantjax.pipelines.pose import PRETRAINED, PosePredictor

    check_pose_option(args)
    predictor = PosePredictor.pretrained(args.pose) if args.pose in PRETRAINED else PosePredictor.load(args.pose)
    if args.model is not None and normalise_variant(args.model) != predictor.spec.variant:
        raise ConfigError(f"--model {args.model!r} does not match the weights in {args.pose!r} "
                          f"(EfficientPose {predictor.spec.variant}); drop --model or pass matching weights")
    return predictor


def run_folder(args) -> int:
    """``infantjax pose FOLDER --out DIR``: every video of a folder tracked into ``DIR/<video>.<ext>``, one progress
    bar over all their frames; a video whose keypoints exist already is skipped (a killed run resumes), a damaged
    one is reported and the others go on."""
    import pathlib

    from tqdm.auto import tqdm

    from infantjax.errors import ConfigError, InfantJaxError
    from infantjax.io import open_video, write_keypoints
    from infantjax.io.keypoints import FORMATS

    folder, out = pathlib.Path(args.video), pathlib.Path(args.out)
    if args.labelled is not None:
        raise ConfigError("--labelled writes one video's labelled copy; track the videos of a folder without it")
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file; for a folder of videos pass an output folder")
    if out.suffix.lower() in (".csv", ".npz", ".json", ".h5", ".mat"):
        raise ConfigError(f"--out {out} looks like a file name; for a folder of videos pass an output folder")
    fmt = args.format or "dlc-csv"
    if fmt not in FORMATS:
        raise ConfigError(f"--format {fmt!r} is not one of {', '.join(FORMATS)}")
    ext = {"dlc-csv": "csv", "part-csv": "csv", "long-csv": "csv", "npz": "npz", "coco": "json"}.get(fmt, fmt)
    suffixes = (".mp4", ".mov", ".avi", ".mkv", ".m4v", ".webm", ".mpg", ".mpeg", ".wmv", ".3gp")
    videos = sorted(v for v in folder.iterdir() if v.is_file() and v.suffix.lower() in suffixes)
    if not videos:
        raise ConfigError(f"{folder} holds no video ({', '.join(suffixes)})")
    out.mkdir(parents=True, exist_ok=True)
    todo, frames, done, failed = [], 0, [], []
    for v in videos:
        target = out / f"{v.stem}.{ext}"
        if target.exists() and target.stat().st_mtime >= v.stat().st_mtime:
            done.append(target)
            continue
        try:
            with open_video(v) as src:
                n = len(src)
        except InfantJaxError as err:
            failed.append((v.name, str(err)))
            continue
        if args.max_frames is not None:
            n = min(n, args.max_frames)
        todo.append((v, target))
        frames += -(-n // args.stride)
    predictor = _predictor(args) if todo else None
    bar = tqdm(total=frames, desc=f"pose {len(todo)} videos", unit="frame", disable=args.no_progress)
    tracked = []
    try:
        for v, target in todo:
            bar.set_postfix_str(v.name)
            try:
                seq = predictor.track(v, stride=args.stride, batch_size=args.batch_size, real_time=args.real_time,
                                      progress=bar.update, max_frames=args.max_frames,
                                      tracking=tracking_overrides(args))
            except InfantJaxError as err:
                failed.append((v.name, str(err)))
                continue
            write_keypoints(target, seq, format=fmt)
            tracked.append(target)
    finally:
        bar.close()
    print(f"{len(tracked)} video(s) tracked, {len(done)} already done -> {out}/")
    for name, err in failed:
        print(f"  failed: {name}: {err}")
    if tracked or done:
        print(f"next: a labels.csv (file,label) beside the keypoints, then infantjax train --data {out}")
    return 1 if failed else 0


def run(args) -> int:
    import contextlib
    import pathlib

    import jax

    from infantjax import backend
    from infantjax.errors import ConfigError
    from infantjax.io import write_keypoints
    from infantjax.io.keypoints import writable_format
    from infantjax.pipelines.pose import check_labelled_output, write_labelled_video

    check_pose_option(args, exists=False)  # the name's check comes with the model, after the cheaper ones
    if pathlib.Path(args.video).is_dir():
        if args.stride < 1 or args.batch_size < 1:
            raise ConfigError("--stride and --batch-size must be >= 1")
        return run_folder(args)
    # before the tracking: an output the keypoint writers cannot write fails at once, not after minutes
    writable_format(args.out, args.format)
    min_confidence = 0.0 if args.min_confidence is None else args.min_confidence
    if args.labelled is not None:  # before the tracking: a bad path fails at once, not after minutes
        check_labelled_output(args.labelled, args.video)
        if not 0.0 <= min_confidence <= 1.0:
            raise ConfigError(f"--min-confidence must be in [0, 1], got {min_confidence}")
    elif args.min_confidence is not None:
        raise ConfigError("--min-confidence only applies to the --labelled video; add --labelled OUT.mp4")
    if args.stride < 1:
        raise ConfigError(f"--stride must be >= 1, got {args.stride}")
    if args.batch_size < 1:
        raise ConfigError(f"--batch-size must be >= 1, got {args.batch_size}")
    if args.device is not None:
        try:
            device = jax.devices(args.device)[0]
        except RuntimeError as err:
            raise ConfigError(f"--device {args.device!r} is not available ({err}); try cpu") from None
        ctx = jax.default_device(device)
    else:
        ctx = contextlib.nullcontext()
    with ctx:
        predictor = _predictor(args)
        start = time.perf_counter()
        seq = predictor.track(args.video, stride=args.stride, batch_size=args.batch_size, real_time=args.real_time,
                              progress=not args.no_progress, max_frames=args.max_frames,
                              tracking=tracking_overrides(args))
    out = write_keypoints(args.out, seq, format=args.format)
    took = time.perf_counter() - start
    tracked = seq.metadata.get("tracking") or {}
    how = (f"region of interest, {tracked.get('decoding', 'reference')} decoding" if tracked.get("roi")
           else f"whole frame, {seq.metadata.get('decoding', 'offline')} decoding")
    print(f"{seq.num_frames} frames, {seq.skeleton.num_keypoints} keypoints ({seq.skeleton.name}) -> {out} "
          f"in {took:.1f} s ({seq.num_frames / max(took, 1e-9):.1f} frames/s) with EfficientPose "
          f"{predictor.spec.variant} at {predictor.resolution} px on {backend.platform()} ({how})")
    if args.labelled is not None:
        begin = time.perf_counter()
        labelled = write_labelled_video(args.video, seq, args.labelled, min_confidence=min_confidence,
                                        stride=args.stride, max_frames=args.max_frames,
                                        progress=not args.no_progress)
        took = time.perf_counter() - begin
        print(f"labelled video -> {labelled} in {took:.1f} s ({seq.num_frames / max(took, 1e-9):.1f} frames/s)")
    if seq.metadata.get("rotation"):
        print(f"the video's display rotation ({seq.metadata['rotation']}°) was applied: the keypoints refer to the "
              "upright frames")
    if seq.variable_frame_rate:
        print(f"variable frame rate (frame intervals vary by up to {1e3 * seq.frame_jitter:.0f} ms): every frame's "
              "time is kept with the keypoints")
    return 0
