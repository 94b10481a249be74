"""Fine-tune EfficientPose RT from the official MPII weights to the In-Motion 19 keypoints on rendered synthetic
infants and write a small weights file (the ``rt-synthetic-infant-roi`` and ``rt-synthetic-infant`` models shipped as package
data).

Two recipes:

* ``--recipe roi`` (``rt-synthetic-infant-roi``, the infant tracker's model): the network is trained on the crops the
  tracker feeds it (:func:`infantjax.synth.pose.roi_examples`: 640 × 480-like renders cut to the square around the
  infant, moved and resized as a lagging tracker would, 10 % whole letterboxed frames, phone-like blur, noise,
  JPEG and lighting), every layer trained (Adam 1e-3, cosine decay), starting from ``--init`` (default the
  ``rt-synthetic-infant`` weights); validated on held-out crops (seed 10,000) with sub-pixel decoding; the file
  records the tracking settings it was trained for (region of interest, sub-pixel decoding, consistent sides).
  ``--occluders``, ``--grey``, ``--dim`` and ``--shake`` add what home videos add to a share of the crops (a
  blanket, a parent's hand or a toy over the infant, whose hidden joints get no target; an infrared monitor's grey;
  a dark room; a hand-held camera's blur); the file then also records the held-out crops' figures under all four
  (``held_out["home video"]``: ``hidden_found``, the share of hidden joints the model still gives a confident peak).
* ``--recipe letterbox`` (``rt-synthetic-infant``, the earlier model): whole frames rendered at R × R, backbone
  frozen, as below.

The official weights are not part of infantjax: pass the path of ``EfficientPoseRT.h5`` from the EfficientPose
repository (daniegr/EfficientPose, Apache-2.0). Training follows :func:`infantjax.pipelines.pose
.finetune_synthetic` (Adam from 1e-3 with cosine decay, MPII backbone frozen, new PAF/heatmap heads, flip/±15°/scale
augmentation over rendered recordings that already vary in roll, size and position), validates on held-out rendered
frames (seed 10,000) every ``--validate-every`` steps, and writes a float16 ``.npz`` (no pickle) with the training
provenance in its metadata. The result has seen synthetic renders only: it is not a detector for real infants.

    python experiments/train_infant_pose.py --h5 ../shared/data/efficientpose/keras/EfficientPoseRT.h5 \
        [--out infantjax/models/pose/weights/rt_synthetic_infant.npz] [--steps 64] [--frames 256] [--resolution 128]
    python experiments/train_infant_pose.py --recipe roi --frames 8192 --steps 2000 \
        [--out infantjax/models/pose/weights/rt_synthetic_infant_roi.npz] [--validate-every 250]
"""

from __future__ import annotations

import argparse
import json
import pathlib
import resource
import sys
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--recipe", choices=("letterbox", "roi"), default="letterbox")
    ap.add_argument("--h5", default=None, help="official EfficientPoseRT.h5 (MPII weights; the letterbox recipe)")
    ap.add_argument("--out", default=str(REPO / "infantjax" / "models" / "pose" / "weights" /
                                         "rt_synthetic_infant.npz"))
    ap.add_argument("--steps", type=int, default=64, help="optimiser steps (the shipped file: 64)")
    ap.add_argument("--frames", type=int, default=256, help="rendered training frames")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--resolution", type=int, default=128)
    ap.add_argument("--validate-every", type=int, default=0, help="validate every N steps (0: at the end only)")
    ap.add_argument("--validation-frames", type=int, default=96)
    ap.add_argument("--seed", type=int, default=0, help="render seed of the training frames and head init")
    ap.add_argument("--learning-rate", type=float, default=1e-3)
    ap.add_argument("--init", default=None,
                    help="continue from a predictor .npz written by this script (e.g. with --seed 1 for new "
                         "infants and a lower --learning-rate) instead of the MPII weights with new heads; the "
                         "roi recipe starts from rt-synthetic-infant unless told otherwise")
    ap.add_argument("--sigma", type=float, default=1.0, help="heatmap σ in R/8 pixels")
    home = ap.add_argument_group("home video (roi recipe): shares of the training crops, "
                                 "infantjax.synth.pose.roi_examples")
    home.add_argument("--occluders", type=float, default=0.0,
                      help="a blanket, a parent's hand or a toy over the infant; the joints it hides get no target")
    home.add_argument("--grey", type=float, default=0.0, help="grey-scale (infrared) crops")
    home.add_argument("--dim", type=float, default=0.0, help="a dark room's gain and noise")
    home.add_argument("--shake", type=float, default=0.0, help="a hand-held camera's motion blur")
    args = ap.parse_args(argv)
    if args.recipe == "roi":
        return train_roi(args)
    if args.h5 is None:
        ap.error("the letterbox recipe starts from the official weights: pass --h5 EfficientPoseRT.h5")
    from infantjax import parallel

    parallel.initialize()  # multi-process JAX when INFANTJAX_DISTRIBUTED=1 or $INFANTJAX_COORDINATOR (docs/scale.md)

    from infantjax.io import load_efficientpose_h5
    from infantjax.pipelines import pose as S
    from infantjax.train.pose import default_finetune_config
    from infantjax.pipelines.pose import PosePredictor
    from infantjax.train import Hook

    mpii = load_efficientpose_h5(args.h5)
    if mpii.variant != "rt":
        print(f"error: {args.h5} holds EfficientPose {mpii.variant!r}; pass EfficientPoseRT.h5", file=sys.stderr)
        return 2
    config = default_finetune_config(args.steps, args.frames, args.batch_size).replace(
        learning_rate=args.learning_rate)
    history = []

    def validate(ctx):
        p = PosePredictor(S.infant_spec("rt", args.resolution), ctx.variables(), "in-motion-19")
        m = S.evaluate_synthetic(p, args.validation_frames)
        history.append({"step": ctx.step, "pckh@0.5": round(m["pckh@0.5"], 4), "pckh@0.2": round(m["pckh@0.2"], 4),
                        "wall_s": round(time.time() - t0, 1), "cpu_s": round(time.process_time() - c0, 1)})
        print(json.dumps(history[-1]), flush=True)

    hooks = [Hook(args.validate_every, validate)] if args.validate_every > 0 else []
    t0, c0 = time.time(), time.process_time()
    start = PosePredictor.load(args.init) if args.init else None
    predictor, losses = S.finetune_synthetic(mpii.variables, resolution=args.resolution, frames=args.frames,
                                             config=config, seed=args.seed, progress=True, start=start,
                                             hooks=hooks)
    previous = start.info if start is not None else None
    train_wall, train_cpu = time.time() - t0, time.process_time() - c0
    final = S.evaluate_synthetic(predictor, args.validation_frames)
    info = {
        "model": "EfficientPose RT fine-tuned on rendered synthetic infants (In-Motion 19 keypoints)",
        "warning": "trained on synthetic renders only; not for real infants",
        "source_weights": "EfficientPoseRT.h5 (MPII), daniegr/EfficientPose, Apache-2.0",
        "script": "experiments/train_infant_pose.py", "train_config": json.loads(config.to_json()),
        "steps": len(losses), "frames": args.frames, "resolution": args.resolution, "seed": args.seed,
        "held_out": {"frames": args.validation_frames, "seed": 10_000,
                     **{k: round(v, 4) for k, v in final.items() if not isinstance(v, list)}},
        "history": history, "train_wall_s": round(train_wall, 1), "train_cpu_s": round(train_cpu, 1),
    }
    if previous is not None:
        info["continued_from"] = {k: v for k, v in previous.items() if k not in ("warning", "source_weights")}
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    predictor.save(out, dtype="float16", info=info, compress=True)
    print(json.dumps({k: v for k, v in info.items() if k != "train_config"}, indent=1))
    print(f"wrote {out} ({out.stat().st_size / 2 ** 20:.2f} MiB); peak RSS "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    return 0


#: the held-out crops' home video: every crop occluded, a quarter each grey, dim and shaken
HELD_OUT_HOME = {"occluders": 1.0, "grey": 0.25, "dim": 0.25, "shake": 0.25}


def train_roi(args) -> int:
    """The region-of-interest recipe (module docstring)."""
    from infantjax import parallel

    parallel.initialize()
    from infantjax.infer.tracking import Tracking
    from infantjax.pipelines import pose as S
    from infantjax.pipelines.pose import PosePredictor
    from infantjax.synth.pose import roi_examples
    from infantjax.train import Hook
    from infantjax.train.pose import AugmentConfig, PoseConfig

    out = pathlib.Path(args.out if args.out != str(REPO / "infantjax" / "models" / "pose" / "weights" /
                                                      "rt_synthetic_infant.npz")
                       else REPO / "infantjax" / "models" / "pose" / "weights" / "rt_synthetic_infant_roi.npz")
    start = PosePredictor.load(args.init) if args.init else PosePredictor.pretrained("rt-synthetic-infant")
    if start.resolution != args.resolution:
        start = PosePredictor(S.infant_spec("rt", args.resolution), start.variables, "in-motion-19")
    t0, c0 = time.time(), time.process_time()
    home_video = {k: getattr(args, k) for k in ("occluders", "grey", "dim", "shake") if getattr(args, k)}
    data = roi_examples(args.frames, args.resolution, seed=args.seed, **home_video)[:2]
    render_s = time.time() - t0
    epochs = max(1, -(-args.steps * args.batch_size // args.frames))
    config = PoseConfig(optimizer="adam", learning_rate=args.learning_rate, schedule="cosine", epochs=epochs,
                        batch_size=args.batch_size, sigma=args.sigma, freeze_backbone=False,
                        augment=AugmentConfig(flip=0.5, rotation_deg=20.0, scale=(0.9, 1.1)))
    history = []

    def validate(ctx):
        p = PosePredictor(start.spec, ctx.variables(), "in-motion-19")
        m = S.evaluate_synthetic(p, args.validation_frames, examples="roi", decoding="subpixel")
        history.append({"step": ctx.step, **{k: round(m[k], 4) for k in ("pckh@0.1", "pckh@0.2", "pckh@0.5",
                                                                         "median_px")},
                        "wall_s": round(time.time() - t0, 1)})
        if home_video:  # the same held-out crops under occluders and the home video's light and camera
            h = S.evaluate_synthetic(p, args.validation_frames, examples="roi", decoding="subpixel",
                                     home_video=HELD_OUT_HOME)
            history[-1]["home"] = {k: round(h[k], 4) for k in ("pckh@0.1", "pckh@0.2", "hidden_found",
                                                               "hidden_peak", "visible_peak")}
        print(json.dumps(history[-1]), flush=True)

    hooks = [Hook(args.validate_every, validate)] if args.validate_every > 0 else []
    predictor, losses = S.finetune_synthetic(None, resolution=args.resolution, config=config, seed=args.seed,
                                             start=start, hooks=hooks, data=data)
    wall, cpu = time.time() - t0, time.process_time() - c0
    final = {d: S.evaluate_synthetic(predictor, args.validation_frames, examples="roi", decoding=d)
             for d in ("reference", "subpixel")}
    final["home video"] = S.evaluate_synthetic(predictor, args.validation_frames, examples="roi",
                                               decoding="subpixel", home_video=HELD_OUT_HOME)
    tracking = Tracking.infant()
    info = {
        "model": "EfficientPose RT trained on the infant tracker's region-of-interest crops of rendered synthetic "
                 "infants (In-Motion 19 keypoints)",
        "warning": "trained on synthetic renders only; not for real infants",
        "source_weights": "rt-synthetic-infant (itself fine-tuned from EfficientPoseRT.h5, MPII, "
                          "daniegr/EfficientPose, Apache-2.0)" if not args.init else str(args.init),
        "script": f"experiments/train_infant_pose.py --recipe roi --frames {args.frames} --steps {args.steps} "
                  f"--resolution {args.resolution} --seed {args.seed} --sigma {args.sigma}"
                  + "".join(f" --{k} {v}" for k, v in home_video.items()),
        "train_config": json.loads(config.to_json()), "steps": len(losses), "frames": args.frames,
        "resolution": args.resolution, "seed": args.seed, "tracking": tracking.to_json(),
        "held_out": {"frames": args.validation_frames, "seed": 10_000, "examples": "roi crops",
                     **{d: {k: round(v, 4) for k, v in m.items() if not isinstance(v, list)}
                        for d, m in final.items()}},
        "history": history, "render_s": round(render_s, 1), "train_wall_s": round(wall, 1),
        "train_cpu_s": round(cpu, 1),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    predictor.save(out, dtype="float16", info=info, compress=True)
    print(json.dumps({k: v for k, v in info.items() if k != "train_config"}, indent=1))
    print(f"wrote {out} ({out.stat().st_size / 2 ** 20:.2f} MiB); peak RSS "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
