"""A lab's own labelled frames through the pose model: fine-tune (:func:`pose_train`), evaluate
(:func:`pose_evaluate`), pick the next frames to label (:func:`pose_frames`) — the loop label → train → evaluate →
pick → label of ``docs/your-data.md``, each step also a command (``infantjax pose-train``, ``pose-evaluate``,
``pose-frames``).

    from infantjax.pipelines import labelled
    result = labelled.pose_train("my-infants-2026-11-27/", "models/pose-v1")       # a DeepLabCut project
    report = labelled.pose_evaluate("models/pose-v1", "my-infants-2026-11-27/")    # its held-out frames
    labelled.pose_frames("videos/", "my-infants-2026-11-27/", n=20, model="models/pose-v1")

Training (Paper II's recipe: Adam at 1e-3, every layer trained, flip with left/right swap, rotation ±45°, scale
0.75–1.25) starts from the official MPII weights of the variant by default, with new heatmap and PAF heads for the
project's body parts (PAFs along its skeleton's edges). The network sees what the infant tracker cuts: the square
around the infant (:func:`infantjax.preprocess.roi.box_around`, moved and resized at random as a lagging tracker
would), one crop in ten the whole letterboxed frame, where the tracker finds the infant first. Whole videos are
held out (no frame of a held-out video is trained on; single frames when the project has fewer than three videos,
said so), the epoch kept is the best on the held-out frames, a checkpoint is written every epoch (a killed run
resumes to the same weights, bit for bit), TensorBoard scalars go to ``OUT/checkpoints/tensorboard``. The output
folder is a saved pose model (``model.json`` + ``variables/``) that ``infantjax pose --pose``,
``infantjax assess --pose``, ``infantjax.load`` and ``infantjax export`` take; its ``info`` records the data (its
SHA-256, frames, videos, split), the recipe and the held-out figures.

Evaluation tracks every labelled frame as the tracker would see it on its own — the whole frame first, then the
square around what it found — and reports DeepLabCut's test error (the mean distance in pixels, which DeepLabCut
calls RMSE), the root-mean-square distance, and Paper II's PCKh@0.1/0.2/0.5 where the keypoints have a head segment
(else PCK at those fractions of the labels' box), per body part, with a PNG of the worst frames.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import pathlib
import re
import shutil
import time
from collections.abc import Callable, Sequence

import numpy as np

from infantjax import skeleton as _skeleton
from infantjax.errors import ConfigError, DataError, LabelledDataError
from infantjax.io.labelled import PIXEL_CENTRE, LabelledFrames, read_labelled

__all__ = ["EVALUATION", "MODES", "PoseTrainResult", "calibrate_gate", "evaluate_model", "evaluate_predictions",
           "format_table", "frame_implausibility", "labelled_examples", "load_frames", "pose_evaluate", "pose_frames",
           "pose_train", "predict_frames", "read_gate", "train_config"]

log = logging.getLogger(__name__)

#: the evaluation record a training run writes into its output folder
EVALUATION = "evaluation.json"
#: variants whose official MPII weights ship with infantjax (the others start from ``--init``)
MPII = {"rt": "efficientpose-rt-mpii", "i": "efficientpose-i-mpii", "rt_lite": "efficientpose-rt-lite-mpii",
        "i_lite": "efficientpose-i-lite-mpii"}
#: the PCK thresholds reported (head lengths for PCKh, else fractions of the labels' box)
TAUS = (0.1, 0.2, 0.5)


def load_frames(data: LabelledFrames | str | os.PathLike, *, individual: str | None = None,
                images: str | os.PathLike | None = None) -> LabelledFrames:
    """``data`` itself, or the project read by :func:`infantjax.io.labelled.read_labelled`."""
    if isinstance(data, LabelledFrames):
        return data
    if not isinstance(data, (str, os.PathLike)):
        raise DataError(f"labelled data is a DeepLabCut project folder, a COCO .json or LabelledFrames, got "
                        f"{type(data).__name__}")
    return read_labelled(data, individual=individual, images=images)


# ------------------------------------------------------------------------------------------------ examples
def labelled_examples(frames: LabelledFrames, resolution: int, *, copies: int = 4, seed: int = 0,
                      full_frame: float = 0.1, jitter: bool = True, margin: float | None = None,
                      ) -> tuple[np.ndarray, np.ndarray]:
    """The network's training inputs from labelled frames: ``copies`` crops of every frame, each the square the
    tracker would cut around the labels (:func:`~infantjax.preprocess.roi.box_around`), moved by up to ± 8 % and
    resized by 0.85–1.3 at random (``jitter``), or with probability ``full_frame`` the whole letterboxed frame;
    resized to ``resolution`` (:func:`~infantjax.preprocess.roi.crop_square`).

    Returns:
        inputs (N · copies, R, R, 3) uint8 and keypoints (N · copies, K, 2) as fractions of the input (NaN where
        not labelled), in the network's pixel convention (:data:`~infantjax.io.labelled.PIXEL_CENTRE`).
    """
    from infantjax.preprocess import roi as _roi

    r, copies = int(resolution), int(copies)
    if copies < 1:
        raise ConfigError(f"copies must be >= 1, got {copies}")
    margin = _roi.MARGIN if margin is None else float(margin)
    n, k = len(frames), frames.skeleton.num_keypoints
    inputs = np.zeros((n * copies, r, r, 3), np.uint8)
    kps = np.full((n * copies, k, 2), np.nan, np.float32)
    for i in range(n):
        image = frames.image(i)
        h, w = image.shape[:2]
        pts = frames.network_pixels(i).astype(np.float64)
        rng = np.random.default_rng([int(seed), i, 71])
        for c in range(copies):
            if jitter and rng.random() < full_frame:
                box = _roi.letterbox_box(h, w)
            else:
                box = _roi.box_around(pts, (h, w), margin=margin)
                if jitter:
                    side = box.side * float(np.exp(rng.uniform(np.log(0.85), np.log(1.3))))
                    cx = box.x0 + box.side / 2 + rng.uniform(-0.08, 0.08) * side
                    cy = box.y0 + box.side / 2 + rng.uniform(-0.08, 0.08) * side
                    box = _roi.square(cx, cy, side)
            inputs[i * copies + c] = _roi.crop_square(image[None], box, r)[0]
            kps[i * copies + c] = box.to_fraction(pts)
    return inputs, kps


# ------------------------------------------------------------------------------------------------ training
@dataclasses.dataclass(frozen=True)
class PoseTrainResult:
    """What :func:`pose_train` made.

    Attributes:
        out: the output folder (a saved pose model).
        predictor: the trained :class:`~infantjax.infer.pose.PosePredictor`.
        metrics: the held-out evaluation (:func:`evaluate_predictions`), or None without held-out frames.
        baseline: the same evaluation of the starting model where it shares body parts with the data (before
            fine-tuning), else None.
        split: which frames were held out (``by``: video or frame).
        seconds: wall time of the training (this call; a resumed run counts from the resume).
        resumed: the run went on from a checkpoint.
    """

    out: pathlib.Path
    predictor: object
    metrics: dict | None
    baseline: dict | None
    split: dict
    seconds: float
    resumed: bool


#: training steps of the default recipe: about 19 minutes of training at 128 px and batch 8 on 2 CPU cores
#: (EfficientPose RT, every layer: 0.8 s a step with the epochs' validation). Batches of 8 reached PCKh@0.1 81.7 %
#: on held-out rendered infants in the time 720 steps of 16 reached 77.5 % (docs/your-data.md, Figures): twice the
#: updates for the same images a second
DEFAULT_STEPS = 1400


def train_config(frames: int, *, epochs: int | None = None, batch_size: int = 8, learning_rate: float = 1e-3,
                 freeze_backbone: bool = False, progress: bool = True, copies: int = 4):
    """Paper II's fine-tuning recipe for a project of ``frames`` training frames: Adam from ``learning_rate`` with
    cosine decay, every layer trained (unless ``freeze_backbone``), flip with left/right swap, rotation ±45°,
    scale 0.75–1.25; ``epochs`` over the ``copies`` crops of every frame (default: about :data:`DEFAULT_STEPS` steps
    of ``batch_size``, between 4 and 200 epochs)."""
    from infantjax.train.pose import AugmentConfig, PoseConfig

    examples = max(1, int(frames) * int(copies))
    steps_per_epoch = max(1, examples // int(batch_size))
    if epochs is None:
        epochs = int(min(200, max(4, round(DEFAULT_STEPS / steps_per_epoch))))
    return PoseConfig(optimizer="adam", learning_rate=float(learning_rate), schedule="cosine", epochs=int(epochs),
                      batch_size=int(min(batch_size, examples)), sigma=1.0, freeze_backbone=bool(freeze_backbone),
                      augment=AugmentConfig(flip=0.5, rotation_deg=45.0, scale=(0.75, 1.25)), progress=progress,
                      selection_tau=0.2)


def _start_model(init: str | os.PathLike, variant: str | None):
    """The predictor training starts from: ``"mpii"`` (the variant's official MPII weights), a zoo name, a saved
    pose model or an official Keras ``.h5``."""
    from infantjax.infer.pose import PRETRAINED, PosePredictor
    from infantjax.models.pose.efficientpose import normalise_variant

    if str(init).lower() in ("mpii", "official"):
        v = normalise_variant(variant or "rt")
        if v not in MPII:
            raise ConfigError(f"no official MPII weights of EfficientPose {v} ship with infantjax (only "
                              f"{', '.join(MPII)}); pass --init with the official EfficientPose{v.upper()}.h5 "
                              "(daniegr/EfficientPose) or a saved pose model, or --init scratch")
        return PosePredictor.pretrained(MPII[v])
    if str(init).lower() == "scratch":
        return None
    if str(init) in PRETRAINED:
        return PosePredictor.pretrained(str(init))
    path = pathlib.Path(init)
    if not path.exists():
        from infantjax.models.zoo import did_you_mean

        raise ConfigError(f"--init {init!r} is neither 'mpii', 'scratch', a zoo pose model "
                          f"({', '.join(PRETRAINED)}) nor an existing file or folder"
                          f"{did_you_mean(str(init), [*PRETRAINED, 'mpii', 'scratch'])}")
    return PosePredictor.load(path)


def _same_parts(a: _skeleton.Skeleton, b: _skeleton.Skeleton) -> bool:
    return tuple(a.keypoints) == tuple(b.keypoints) and tuple(map(tuple, a.edges)) == tuple(map(tuple, b.edges))


def pose_train(data: LabelledFrames | str | os.PathLike, out: str | os.PathLike, *, variant: str | None = None,
               init: str | os.PathLike = "mpii", resolution: int = 128, epochs: int | None = None,
               batch_size: int = 8, learning_rate: float = 1e-3, held_out: float = 0.2,
               held_out_videos: Sequence[str] | None = None, copies: int = 4, freeze_backbone: bool = False,
               seed: int = 0, individual: str | None = None, images: str | os.PathLike | None = None,
               progress: bool = True, overwrite: bool = False, baseline: bool = True) -> PoseTrainResult:
    """Fine-tune EfficientPose on a lab's labelled frames (module docstring) and save it to ``out``.

    Arguments:
        data: a DeepLabCut project folder, a COCO keypoint ``.json`` or :class:`LabelledFrames`.
        out: the output folder: the saved model, ``checkpoints/`` (resume), ``evaluation.json``.
        variant: EfficientPose ``rt``, ``i`` … ``iv`` or a Lite variant (default the ``init`` model's, else
            ``rt``).
        init: ``"mpii"`` (the official MPII weights of the variant: RT, I, RT Lite, I Lite), a zoo pose model, a
            saved pose model (folder or ``.npz``), an official Keras ``.h5``, or ``"scratch"``.
        resolution: the network's input side in pixels (the tracker's square is resized to it).
        epochs: passes over the training crops (default :func:`train_config`'s).
        batch_size, learning_rate, freeze_backbone: the recipe (:func:`train_config`).
        held_out: the share of videos (or frames) held out; ``held_out_videos`` names them instead.
        copies: crops of every training frame per epoch (each moved and resized at random).
        seed: the split, the crops, the heads' initialisation and the augmentation.
        individual, images: as :func:`~infantjax.io.labelled.read_labelled`.
        progress: a progress bar with an ETA.
        overwrite: train again where ``out`` holds a finished model (default: refused).
        baseline: also evaluate the starting model on the held-out frames where it shares body parts with the data.

    Returns:
        a :class:`PoseTrainResult`.

    Raises:
        LabelledDataError: the data (see :mod:`infantjax.io.labelled`). ConfigError: a bad setting, an ``out``
            that holds a finished model (without ``overwrite``) or a run of other data or settings.
    """
    import jax

    from infantjax.infer.pose import PosePredictor
    from infantjax.infer.trained import HEADER
    from infantjax.models.pose.efficientpose import EfficientPoseSpec, normalise_variant
    from infantjax.models.pose.init import finetune_variables
    from infantjax.train import fit
    from infantjax.train.pose import PoseData, PoseTask

    out = pathlib.Path(out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file; pass a folder for the trained model")
    if (out / HEADER).exists() and not overwrite:
        raise ConfigError(f"{out} holds a trained model already ({HEADER}); pass another folder, or --overwrite to "
                          "train again")
    if int(resolution) < 32 or int(resolution) % 8:
        raise ConfigError(f"resolution must be a multiple of 8, at least 32, got {resolution}")
    frames = load_frames(data, individual=individual, images=images)
    if frames.skeleton.num_keypoints < 2:
        raise LabelledDataError(f"{frames.path} labels {frames.skeleton.num_keypoints} body part; a pose model needs "
                                "at least two (their part affinity fields join them)")
    train, test, split = frames.split(held_out, seed=seed, videos=held_out_videos)
    start = _start_model(init, variant)
    v = normalise_variant(variant) if variant is not None else (start.spec.variant if start is not None else "rt")
    if start is not None and start.spec.variant != v:
        raise ConfigError(f"--init holds EfficientPose {start.spec.variant}, not {v}; drop --variant or pass "
                          f"matching weights (--init mpii gives the {v} MPII weights where they ship)")
    skel = frames.skeleton
    spec = EfficientPoseSpec(v, num_keypoints=skel.num_keypoints, num_pafs=2 * len(skel.edges),
                             resolution=int(resolution))
    config = train_config(len(train), epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
                          freeze_backbone=freeze_backbone, progress=progress, copies=copies)
    recipe = {"variant": v, "init": str(init), "resolution": int(resolution), "epochs": config.epochs,
              "batch_size": config.batch_size, "learning_rate": float(learning_rate), "copies": int(copies),
              "freeze_backbone": bool(freeze_backbone), "seed": int(seed), "optimizer": "adam, cosine decay",
              "augmentation": config.augment.to_dict(), "examples": "region of interest (10 % whole frames)"}
    key = jax.random.PRNGKey(int(seed))
    if start is None:
        initial = None
    elif _same_parts(start.skeleton, skel) and start.spec.num_pafs == spec.num_pafs:
        initial = start.variables  # the same body parts and limbs: every layer goes on from the start model
        recipe["heads_from_start"] = list(skel.labels)
    else:  # new heads; the body parts the start model knows keep its heatmap channels
        shared = np.full(skel.num_keypoints, -1)
        for mi, dj in _common(start.skeleton, skel):
            shared[dj] = mi
        initial = finetune_variables(start.variables, spec, key, keypoints=shared)
        recipe["heads_from_start"] = [skel.labels[j] for j in np.nonzero(shared >= 0)[0]]
    fingerprint = frames.fingerprint()
    ckpt = out / "checkpoints"
    run_file = ckpt / "run.json"
    run_record = {"data_sha256": fingerprint, "recipe": recipe, "split": split}
    if run_file.exists():
        previous = json.loads(run_file.read_text())
        if previous != json.loads(json.dumps(run_record)):
            what = [k for k in run_record if previous.get(k) != json.loads(json.dumps(run_record[k]))]
            raise ConfigError(f"{ckpt} holds a run of other {' and '.join(what)}; pass another --out, or delete "
                              f"{ckpt} to start again")
    resumed = run_file.exists()
    from infantjax.io.files import write_json

    ckpt.mkdir(parents=True, exist_ok=True)
    write_json(run_file, run_record)
    t0 = time.perf_counter()
    inputs, kps = labelled_examples(train, spec.resolution, copies=copies, seed=seed)
    val_inputs, val_kps = labelled_examples(test, spec.resolution, copies=1, seed=seed, jitter=False)
    task = PoseTask(spec, config, skel)
    log.info("training EfficientPose %s at %d px on %d crops of %d frames (%d videos), %d held out (%s)", v,
             spec.resolution, len(inputs), len(train), len(train.videos), len(test), split["by"])
    result = fit(task, [PoseData(inputs, kps, validation=(val_inputs, val_kps))], seeds=[int(seed)],
                 initial=initial, checkpoint_dir=ckpt, desc=f"pose-train {v}")
    seconds = time.perf_counter() - t0
    predictor = PosePredictor(spec, result.instance(0), skel)
    predictor.info = {"tracking": _lab_tracking(skel)}
    metrics = evaluate_model(predictor, test)
    base = None
    if baseline and start is not None:
        try:
            base = evaluate_model(start, test)
        except DataError as err:  # no body part in common with the data
            log.info("no baseline of the starting model: %s", err)
    info = {
        "trained_on": {**frames.summary(), "sha256": fingerprint, "split": split,
                       "train_frames": len(train), "held_out_frames": len(test),
                       "train_videos": list(train.videos), "held_out_videos": list(test.videos)},
        "recipe": recipe, "held_out": _brief(metrics), "baseline": _brief(base) if base else None,
        "best_epoch": int(result.best_epoch[0]), "history": result.history[0],
        "train_seconds": round(seconds, 1), "tracking": _lab_tracking(skel),
        "skeleton_edges_from": frames.edges_from,
    }
    predictor.info = info
    write_json(out / EVALUATION, {"held_out": metrics, "baseline": base, "split": split}, allow_nan=True)
    predictor.save(out)
    return PoseTrainResult(out, predictor, metrics, base, split, seconds, resumed)


def _lab_tracking(skel: _skeleton.Skeleton) -> dict:
    """The tracking a lab model was trained for: the region of interest and sub-pixel decoding, left and right
    kept consistent where the body parts have sides."""
    from infantjax.infer.tracking import Tracking

    t = Tracking.infant()
    if not skel.flip_pairs:
        t = t.replace(sides="as-detected")
    return t.to_json()


def _brief(metrics: dict | None) -> dict | None:
    """The headline figures of an evaluation (for ``model.json``)."""
    if metrics is None:
        return None
    keys = ("frames", "mode", "test_error_px", "rmse_px", "metric",
            *[f"{metrics.get('metric', 'pck')}@{t}" for t in TAUS])
    out = {k: metrics[k] for k in keys if k in metrics}
    if isinstance(metrics.get("finding"), dict):
        out["finding"] = _brief(metrics["finding"])
    return out


def evaluate_model(predictor, frames: LabelledFrames, *, batch_size: int = 16, progress: bool = False,
                   return_predictions: bool = False):
    """:func:`evaluate_predictions` of a model on labelled frames ``"following"`` the subject (the headline
    figures), with the same figures ``"finding"`` it from the whole frame under ``"finding"`` (:func:`predict_frames`;
    one evaluation for a model without a region of interest, which sees the whole frame either way); with
    ``return_predictions``, (the record, the headline keypoints (N, K', 2))."""
    predictor = _as_predictor(predictor)
    pred, conf, skel = predict_frames(predictor, frames, batch_size=batch_size, progress=progress)
    record = evaluate_predictions(pred, conf, skel, frames)
    record["mode"] = "following" if predictor.tracking.roi else "whole frame"
    if predictor.tracking.roi:
        finding = evaluate_predictions(*predict_frames(predictor, frames, mode="finding", batch_size=batch_size,
                                                       progress=progress), frames)
        finding["mode"] = "finding"
        record["finding"] = {k: v for k, v in finding.items() if k not in ("images",)}
    return (record, pred) if return_predictions else record


# ------------------------------------------------------------------------------------------------ prediction
#: how a labelled frame is given to the network (:func:`predict_frames`)
MODES = ("following", "finding")
#: region-of-interest passes after the whole frame when finding the subject
FINDING_PASSES = 2


def predict_frames(predictor, frames: LabelledFrames, *, mode: str = "following", batch_size: int = 16,
                   roi: bool | None = None, decoding: str | None = None, progress: bool | Callable = False,
                   ) -> tuple[np.ndarray, np.ndarray, _skeleton.Skeleton]:
    """The predictor's keypoints on every labelled frame.

    Two ways to give a frame to a model that follows its subject with a region of interest (the infant tracker):

    * ``"following"`` — the square the tracker cuts when it follows the subject from the frames before: around the
      labelled body (:func:`~infantjax.preprocess.roi.box_around` of the labels, its margin): what it sees in
      every frame of a video but the first;
    * ``"finding"`` — the whole letterboxed frame, then twice the square around what it found there: what it does
      on a video's first frame, or after losing the subject.

    A model without the region of interest (the official MPII models) sees the whole letterboxed frame either way.

    Arguments:
        predictor: a :class:`~infantjax.infer.pose.PosePredictor` (or a name or path :func:`infantjax.load`
            reads).
        frames: the labelled frames.
        mode: ``"following"`` or ``"finding"``.
        roi, decoding: override the predictor's tracking settings (default its own).

    Returns:
        (keypoints (N, K', 2) in the frames' pixel convention, peak confidences (N, K'), the predictor's
        skeleton).
    """
    from tqdm.auto import tqdm

    from infantjax.infer.tracking import Tracking, crop_keypoints
    from infantjax.preprocess import roi as _roi

    if mode not in MODES:
        raise ConfigError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    predictor = _as_predictor(predictor)
    settings = Tracking.of(None, predictor.tracking).replace(roi=roi, decoding=decoding)
    bs, k = int(batch_size), predictor.spec.num_keypoints
    xy = np.full((len(frames), k, 2), np.nan, np.float32)
    conf = np.zeros((len(frames), k), np.float32)
    bar = tqdm(total=len(frames), desc=f"evaluate ({mode})", unit="frame",
               disable=callable(progress) or not progress)
    for s in range(0, len(frames), bs):
        idx = list(range(s, min(s + bs, len(frames))))
        images = [frames.image(i) for i in idx]
        if settings.roi and mode == "following":
            boxes = [_roi.box_around(frames.network_pixels(i), im.shape[:2], margin=settings.margin)
                     for i, im in zip(idx, images)]
            px, peak = _run_boxes(predictor, images, boxes, settings.decoding, bs, crop_keypoints)
        else:
            boxes = [_roi.letterbox_box(*im.shape[:2]) for im in images]
            px, peak = _run_boxes(predictor, images, boxes, settings.decoding, bs, crop_keypoints)
            for _ in range(FINDING_PASSES if settings.roi else 0):
                new = []
                for im, p, c in zip(images, px, peak):
                    ok = c >= settings.found
                    new.append(_roi.box_around(p, im.shape[:2], margin=settings.margin, valid=ok) if ok.sum() >= 2
                               else _roi.letterbox_box(*im.shape[:2]))
                px, peak = _run_boxes(predictor, images, new, settings.decoding, bs, crop_keypoints)
        xy[s:s + len(idx)] = px - PIXEL_CENTRE
        conf[s:s + len(idx)] = np.clip(peak, 0.0, 1.0)
        (progress if callable(progress) else bar.update)(len(idx))
    bar.close()
    return xy, conf, predictor.skeleton


def _run_boxes(predictor, images, boxes, decoding, batch, crop_keypoints):
    from infantjax.preprocess.roi import crop_square

    crops = np.stack([crop_square(im[None], b, predictor.resolution)[0] for im, b in zip(images, boxes)])
    frac, peak = crop_keypoints(predictor, crops, decoding, pad_to=batch)
    px = np.stack([b.to_pixels(f) for b, f in zip(boxes, frac)]).astype(np.float32)
    return px, peak.astype(np.float32)


def _as_predictor(model):
    from infantjax.infer.pose import PRETRAINED, PosePredictor

    if isinstance(model, PosePredictor):
        return model
    if isinstance(model, (str, os.PathLike)):
        if str(model) in PRETRAINED:
            return PosePredictor.pretrained(str(model))
        path = pathlib.Path(model)
        if not path.exists():
            from infantjax.models.zoo import did_you_mean

            raise ConfigError(f"{model} is neither a zoo pose model ({', '.join(PRETRAINED)}) nor a saved pose model "
                              f"(no such file or folder){did_you_mean(str(model), PRETRAINED)}")
        return PosePredictor.load(path)
    raise ConfigError(f"a pose model is a PosePredictor, a zoo name or a saved model's path, got "
                      f"{type(model).__name__}")


# ------------------------------------------------------------------------------------------------ evaluation
def _common(model_skel: _skeleton.Skeleton, data_skel: _skeleton.Skeleton) -> list[tuple[int, int]]:
    """(model keypoint, data keypoint) pairs of the body parts both name (canonical names, then the lab's)."""
    from infantjax.io.labelled import canonical_name, part_key

    def keys(s):
        out = {}
        for i, (kp, lab) in enumerate(zip(s.keypoints, s.labels)):
            for name in (kp, lab, canonical_name(lab)):
                out.setdefault(part_key(name), i)
        return out

    mk = keys(model_skel)
    pairs = []
    for j, (kp, lab) in enumerate(zip(data_skel.keypoints, data_skel.labels)):
        for name in (kp, lab, canonical_name(lab)):
            if part_key(name) in mk:
                pairs.append((mk[part_key(name)], j))
                break
    return pairs


def evaluate_predictions(pred: np.ndarray, conf: np.ndarray, model_skeleton: _skeleton.Skeleton,
                         frames: LabelledFrames) -> dict:
    """Predictions on labelled frames against their labels, on the body parts both name.

    Returns:
        a record: ``frames``, ``parts`` (evaluated), ``test_error_px`` (DeepLabCut's test error: the mean distance
        in pixels, which it calls RMSE), ``rmse_px`` (the root-mean-square distance), ``metric`` (``pckh`` with
        a head segment, else ``pck``: fractions of the labels' box), ``<metric>@τ`` for τ in 0.1, 0.2, 0.5,
        ``per_part`` (the same per body part), ``per_frame_error_px`` and ``images``.

    Raises:
        DataError: no body part in common.
    """
    from infantjax.metrics import pose as M

    pairs = _common(model_skeleton, frames.skeleton)
    if not pairs:
        raise DataError(f"the model's keypoints ({model_skeleton.name}: {', '.join(model_skeleton.labels[:6])} ...) "
                        f"and the labelled body parts ({', '.join(frames.parts[:6])} ...) have none in common")
    mi, dj = (np.asarray(v) for v in zip(*pairs))
    true = frames.keypoints.astype(np.float64)
    p = np.full_like(true, np.nan)
    p[:, dj] = pred[:, mi]
    sub_true, sub_pred = true[:, dj], p[:, dj]
    dist = np.linalg.norm(sub_pred - sub_true, axis=-1)  # (N, P); NaN: not labelled or not found
    labelled = np.isfinite(sub_true).all(-1)
    found = np.isfinite(sub_pred).all(-1)
    if not labelled.any():
        raise DataError("no labelled keypoint of the evaluated body parts")
    head = frames.skeleton.name in M.HEAD_SEGMENTS
    lengths = None
    if head:  # head lengths from the labels: PCKh of whichever parts the model names
        lengths = M.head_length(true, frames.skeleton)
        head = bool(np.isfinite(lengths).any() and (np.nan_to_num(lengths) > 0).any())
    metric = "pckh" if head else "pck"
    record: dict = {"frames": len(frames), "parts": [frames.parts[j] for j in dj], "metric": metric,
                    "labels": int(labelled.sum()), "missed": int((labelled & ~found).sum())}
    with np.errstate(invalid="ignore"):
        ok = labelled & found
        record["test_error_px"] = float(dist[ok].mean()) if ok.any() else float("nan")
        record["rmse_px"] = float(np.sqrt((dist[ok] ** 2).mean())) if ok.any() else float("nan")
    per_part = {}
    for t in TAUS:
        if head:
            value = M.pckh(sub_pred, sub_true, t, head_lengths=lengths)
            parts = M.pckh(sub_pred, sub_true, t, head_lengths=lengths, per_keypoint=True)
        else:
            value = M.pck(sub_pred, sub_true, t)
            parts = M.pck(sub_pred, sub_true, t, per_keypoint=True)
        record[f"{metric}@{t}"] = float(value)
        for name, v in zip(record["parts"], np.asarray(parts, np.float64)):
            per_part.setdefault(name, {})[f"{metric}@{t}"] = None if not np.isfinite(v) else float(v)
    for c, name in enumerate(record["parts"]):
        m = ok[:, c]
        per_part[name]["test_error_px"] = float(dist[m, c].mean()) if m.any() else None
        per_part[name]["labels"] = int(labelled[:, c].sum())
    record["per_part"] = per_part
    with np.errstate(invalid="ignore"):
        per_frame = np.where(labelled, np.where(found, dist, np.inf), np.nan)
        record["per_frame_error_px"] = [None if not np.isfinite(v) else float(v)
                                        for v in np.nanmean(np.where(np.isinf(per_frame), np.nan, per_frame), axis=1)]
    record["images"] = list(frames.images)
    record["pixel_convention"] = "DeepLabCut's: the centre of the top-left pixel at (0, 0)"
    return record


def pose_evaluate(model, data: LabelledFrames | str | os.PathLike, *, out: str | os.PathLike | None = None,
                  which: str = "held-out", worst: int = 8, individual: str | None = None,
                  images: str | os.PathLike | None = None, batch_size: int = 16, progress: bool = True) -> dict:
    """Evaluate a pose model on labelled frames (module docstring): the table, a JSON record and a PNG of the
    worst frames in ``out``.

    Arguments:
        model: a saved pose model (folder, ``.npz``, Keras ``.h5``), a zoo name or a PosePredictor.
        data: the labelled frames (a DeepLabCut project, a COCO ``.json``, :class:`LabelledFrames`).
        out: the folder for ``evaluation.json`` and ``worst-frames.png`` (default: nothing written).
        which: ``"held-out"`` (the frames the model's training held out, where it records them; else all),
            ``"train"`` (the frames it was trained on) or ``"all"``.
        worst: frames in the PNG.

    Returns:
        the record of :func:`evaluate_predictions`, with ``which``, ``model`` and the ``table`` as text.
    """
    predictor = _as_predictor(model)
    frames = load_frames(data, individual=individual, images=images)
    if which not in ("held-out", "train", "all"):
        raise ConfigError(f"which must be 'held-out', 'train' or 'all', got {which!r}")
    chosen, said = frames, "all"
    split = ((predictor.info or {}).get("trained_on") or {}).get("split")
    if which != "all" and split:
        held = set(split.get("held_out") or [])
        key = frames.groups if split.get("by") == "video" else frames.images
        mask = np.array([g in held for g in key])
        if which == "train":
            mask = ~mask
        if not mask.any():
            raise LabelledDataError(f"none of the {which} frames of the model's training are in {frames.path}; "
                                    "pass --frames all to evaluate on every frame")
        chosen, said = frames.subset(np.nonzero(mask)[0]), which
    elif which == "train":
        raise ConfigError("the model records no training split; evaluate --frames all")
    record, pred = evaluate_model(predictor, chosen, batch_size=batch_size, progress=progress,
                                  return_predictions=True)
    skel = predictor.skeleton
    record["which"] = said
    record["model"] = _model_name(model, predictor)
    record["table"] = format_table(record)
    if out is not None:
        from infantjax.io.files import write_json

        folder = pathlib.Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        write_json(folder / EVALUATION, {k: v for k, v in record.items() if k != "table"}, allow_nan=True)
        record["png"] = str(worst_frames_png(folder / "worst-frames.png", chosen, pred, skel, record, worst))
    return record


def _model_name(model, predictor) -> str:
    if isinstance(model, (str, os.PathLike)):
        return str(model)
    return f"EfficientPose {predictor.spec.variant} ({predictor.skeleton.name})"


def format_table(record: dict) -> str:
    """The evaluation as a text table: one row per body part, then all."""
    m = record["metric"]
    head = f"{'body part':<18} {'labels':>6} {'error px':>9} " + " ".join(f"{m.upper()}@{t:<4}" for t in TAUS)
    lines = [head, "-" * len(head)]

    def row(name, d, n):
        err = d.get("test_error_px")
        cells = [f"{name[:18]:<18}", f"{n:>6}", f"{err:9.2f}" if err is not None else f"{'-':>9}"]
        for t in TAUS:
            v = d.get(f"{m}@{t}")
            cells.append(f"{100 * v:7.1f} %" if v is not None else f"{'-':>9}")
        return " ".join(cells)

    for name, d in record["per_part"].items():
        lines.append(row(name, d, d.get("labels", 0)))
    lines.append("-" * len(head))
    lines.append(row("all", record, record["labels"]))
    mode = {"following": "following the subject (the square around the labelled body, as the tracker cuts it "
                         "from the frames before)",
            "whole frame": "the whole letterboxed frame"}.get(record.get("mode"), record.get("mode") or "")
    lines.append(f"{record['frames']} frames, {mode}; mean error {record['test_error_px']:.2f} px (DeepLabCut's test "
                 f"error), RMSE {record['rmse_px']:.2f} px; {record['missed']} labelled keypoints not found; "
                 + ("PCKh: head lengths" if m == "pckh" else "PCK: fractions of the longer side of the labels' box"))
    finding = record.get("finding")
    if isinstance(finding, dict):
        lines.append(f"finding the subject on the whole frame first (a video's first frame): mean error "
                     f"{finding['test_error_px']:.2f} px, " + ", ".join(
                         f"{m.upper()}@{t} {100 * finding[f'{m}@{t}']:.1f} %" for t in TAUS))
    return "\n".join(lines)


def worst_frames_png(path: str | os.PathLike, frames: LabelledFrames, pred: np.ndarray, skel, record: dict,
                     count: int = 8) -> pathlib.Path:
    """A PNG of the ``count`` frames with the largest mean error: labels as green discs, predictions as red crosses,
    a line from each label to its prediction (written atomically)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from infantjax.io.files import atomic_path

    errors = np.array([np.inf if e is None else e for e in record["per_frame_error_px"]], np.float64)
    order = [int(i) for i in np.argsort(-np.nan_to_num(errors, nan=-1.0))[:max(1, int(count))]]
    pairs = _common(skel, frames.skeleton)
    cols = min(4, len(order))
    rows = -(-len(order) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.4 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, i in zip(axes.ravel(), order):
        image = frames.image(i)
        ax.imshow(image)
        t = frames.keypoints[i]
        for mi, dj in pairs:
            if np.isfinite(t[dj]).all():
                ax.plot(t[dj, 0], t[dj, 1], "o", color="#2ca02c", ms=5, mec="white", mew=0.6)
                if np.isfinite(pred[i, mi]).all():
                    ax.plot([t[dj, 0], pred[i, mi, 0]], [t[dj, 1], pred[i, mi, 1]], "-", color="#ffdd57", lw=0.8)
            if np.isfinite(pred[i, mi]).all():
                ax.plot(pred[i, mi, 0], pred[i, mi, 1], "x", color="#d62728", ms=6, mew=1.6)
        e = errors[i]
        ax.set_title(f"{frames.images[i][-38:]}\nmean error {e:.1f} px" if np.isfinite(e) else frames.images[i][-38:],
                     fontsize=8)
    fig.suptitle("worst frames: labels (green) and predictions (red)", fontsize=10)
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=90)
    plt.close(fig)
    return pathlib.Path(path)


# ------------------------------------------------------------------------------------------------ frames to label
VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".m4v", ".webm", ".mpg", ".mpeg", ".wmv", ".3gp")


def _videos(source: str | os.PathLike) -> list[pathlib.Path]:
    p = pathlib.Path(source)
    if p.is_dir():
        found = sorted(q for q in p.iterdir() if q.is_file() and q.suffix.lower() in VIDEO_SUFFIXES)
        if not found:
            raise DataError(f"{p} holds no video ({', '.join(VIDEO_SUFFIXES)}); pass a video or a folder of them")
        return found
    if not p.exists():
        raise DataError(f"{p} does not exist; pass a video file or a folder of videos")
    return [p]


def _video_name(path: pathlib.Path) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", path.stem) or "video"


def pose_frames(source: str | os.PathLike, out: str | os.PathLike, *, n: int = 20, model=None,
                seed: int = 0, max_decoded: int = 1500, progress: bool = True, scorer: str | None = None,
                ) -> dict:
    """Frames worth labelling next, written into a DeepLabCut project (``labeled-data/<video>/imgNNNNN.png``):
    diverse frames (k-means on small grey copies of the frames, one frame per cluster, as DeepLabCut's
    ``extract_frames``) or, with ``model``, the frames it tracks least plausibly (low confidence, keypoints that
    jump, and the quality gate's frame score for In-Motion 19 models), whose ``CollectedData_<scorer>.csv`` is
    prefilled with the model's keypoints to correct in DeepLabCut's or napari's GUI.

    Arguments:
        source: a video or a folder of videos.
        out: the DeepLabCut project (created, or added to: frames already there and their labels are kept).
        n: frames to pick in all (shared among the videos by their length).
        model: a pose model (saved folder, zoo name, PosePredictor) to pick its least plausible frames.
        seed: k-means' seed.
        max_decoded: at most this many frames of a video are looked at (evenly spaced).
        scorer: the CSV's scorer (default the project's, else ``infantjax``).

    Returns:
        ``{"project": path, "frames": {video: [frame indices]}, "how": "kmeans"|"model"}``.
    """
    from infantjax.io import open_video
    from infantjax.io.labelled import read_config, write_deeplabcut

    if int(n) < 1:
        raise ConfigError(f"--n must be >= 1, got {n}")
    videos = _videos(source)
    predictor = _as_predictor(model) if model is not None else None
    root = pathlib.Path(out)
    cfg = read_config(root / "config.yaml") if (root / "config.yaml").is_file() else {}
    scorer = scorer or str(cfg.get("scorer") or "infantjax")
    if predictor is not None:
        parts = list(predictor.skeleton.labels)
        if cfg.get("bodyparts") and [str(p) for p in cfg["bodyparts"]] != parts:
            raise LabelledDataError(f"{root}/config.yaml labels {cfg['bodyparts']} but the model tracks {parts}; "
                                    "pick frames into a project of the model's body parts")
        edges = list(predictor.skeleton.edges)
    else:
        parts = [str(p) for p in (cfg.get("bodyparts") or _skeleton.get("in-motion-19").labels)]
        edges = []
    lengths = {}
    for v in videos:
        with open_video(v) as src:
            lengths[v] = len(src)
    total = sum(lengths.values())
    share = {v: max(1, round(int(n) * lengths[v] / max(total, 1))) for v in videos}
    picked: dict[str, list[int]] = {}
    written_images: dict[str, list[tuple[str, np.ndarray]]] = {}
    labels: dict[str, np.ndarray] = {}
    for v in videos:
        name = _video_name(v)
        existing = _existing_frames(root / "labeled-data" / name)
        if predictor is None:
            idx, frames = _kmeans_frames(v, share[v], seed=seed, max_decoded=max_decoded, skip=existing)
            kp = None
        else:
            idx, frames, kp = _implausible_frames(predictor, v, share[v], max_decoded=max_decoded, skip=existing,
                                                  progress=progress)
        digits = max(4, len(str(lengths[v])))
        names = [f"img{i:0{digits}d}.png" for i in idx]
        picked[name] = [int(i) for i in idx]
        written_images[name] = list(zip(names, frames))
        if kp is not None:
            labels[name] = _merged_labels(root / "labeled-data" / name, scorer, parts, names, kp)
            written_images[name] = _merged_images(root / "labeled-data" / name, scorer, names, frames)
    write_deeplabcut(root, written_images, parts, keypoints=labels or None, scorer=scorer, edges=edges,
                     task=str(cfg.get("Task") or root.name))
    return {"project": str(root), "frames": picked, "how": "model" if predictor is not None else "kmeans"}


def _existing_frames(folder: pathlib.Path) -> set[int]:
    out = set()
    if folder.is_dir():
        for q in folder.glob("img*.png"):
            m = re.match(r"img(\d+)$", q.stem)
            if m:
                out.add(int(m.group(1)))
    return out


def _sample(video, max_decoded: int):
    """Evenly spaced frames of a video: (indices, frames (M, H, W, 3) uint8), at most ``max_decoded``."""
    from infantjax.io import open_video

    with open_video(video) as src:
        total = len(src)
        step = max(1, -(-total // int(max_decoded)))
        idx, frames = [], []
        for start, chunk in src.iter_chunks(64):
            for i, f in enumerate(chunk):
                if (start + i) % step == 0:
                    idx.append(start + i)
                    frames.append(f)
    return np.asarray(idx), frames


def _kmeans_frames(video, count: int, *, seed: int, max_decoded: int, skip: set[int]):
    """DeepLabCut's ``kmeans`` frame extraction: frames shrunk to about 30 px on the short side, grey, clustered
    into ``count`` groups; the frame nearest each cluster's centre."""
    from PIL import Image
    from sklearn.cluster import KMeans

    idx, frames = _sample(video, max_decoded)
    keep = [i for i, f in enumerate(idx) if int(f) not in skip]
    if not keep:
        return [], []
    idx, frames = idx[keep], [frames[i] for i in keep]
    h, w = frames[0].shape[:2]
    scale = 30.0 / min(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = np.stack([np.asarray(Image.fromarray(f).convert("L").resize(size, Image.Resampling.BILINEAR),
                                 np.float32).ravel() for f in frames])
    count = min(int(count), len(frames))
    km = KMeans(n_clusters=count, n_init=3, random_state=int(seed)).fit(small)
    chosen = []
    for c in range(count):
        members = np.nonzero(km.labels_ == c)[0]
        d = np.linalg.norm(small[members] - km.cluster_centers_[c], axis=1)
        chosen.append(int(members[np.argmin(d)]))
    chosen = sorted(set(chosen))
    return [int(idx[i]) for i in chosen], [frames[i] for i in chosen]


def frame_implausibility(seq, scale: float | None = None) -> np.ndarray:
    """(T,) how implausibly a tracked sequence's frames look, 0 (fine) to about 3: one minus the mean confidence,
    plus the share of keypoints that jump more than a quarter of the body's size from the frame before or to the
    frame after, plus (In-Motion 19) one minus the quality gate's frame score."""
    coords = np.asarray(seq.coords, np.float64)[..., :2]
    conf = np.nan_to_num(np.asarray(seq.confidence, np.float64)) if seq.confidence is not None else \
        np.ones(coords.shape[:2])
    if scale is None:
        with np.errstate(invalid="ignore"):
            extent = np.nanmax(coords, axis=1) - np.nanmin(coords, axis=1)
        scale = float(np.nanmedian(np.nanmax(extent, axis=-1))) if np.isfinite(extent).any() else 1.0
    score = 1.0 - conf.mean(axis=1)
    if len(coords) > 1:
        step = np.linalg.norm(np.diff(coords, axis=0), axis=-1)
        with np.errstate(invalid="ignore"):
            jump = np.nan_to_num(step > 0.25 * max(scale, 1e-6)).astype(np.float64).mean(axis=1)
        j = np.zeros(len(coords))
        j[1:] = np.maximum(j[1:], jump)
        j[:-1] = np.maximum(j[:-1], jump)
        score = score + j
    score = score + np.isnan(coords).any(axis=-1).mean(axis=1)
    if seq.skeleton.name == "in-motion-19":
        from infantjax.clinical.quality import assess_tracking

        q = assess_tracking(seq)
        score = score + (1.0 - np.asarray(q.frame_score, np.float64))
    return score


def _implausible_frames(predictor, video, count: int, *, max_decoded: int, skip: set[int], progress):
    """The ``count`` frames the model tracks least plausibly, at least half a second apart."""
    from infantjax.io import open_video

    with open_video(video) as src:
        total, fps = len(src), float(src.fps)
    stride = max(1, -(-total // int(max_decoded)))
    seq = predictor.track(video, stride=stride, progress=progress)
    score = frame_implausibility(seq)
    order = np.argsort(-score, kind="stable")
    gap = max(1, round(0.5 * fps / stride))
    chosen: list[int] = []
    for t in order:
        f = int(t) * stride
        if f in skip or any(abs(int(t) - c) < gap for c in chosen):
            continue
        chosen.append(int(t))
        if len(chosen) == count:
            break
    chosen.sort()
    wanted = {c * stride: c for c in chosen}
    frames = {}
    with open_video(video) as src:
        for start, chunk in src.iter_chunks(64):
            for i, f in enumerate(chunk):
                if start + i in wanted:
                    frames[start + i] = f
    idx = sorted(frames)
    kp = np.stack([seq.coords[wanted[i], :, :2] for i in idx]).astype(np.float64) - PIXEL_CENTRE if idx else \
        np.zeros((0, predictor.spec.num_keypoints, 2))
    if idx:  # a keypoint the model put outside the frame is left for the labeller, not prefilled there
        h, w = frames[idx[0]].shape[:2]
        with np.errstate(invalid="ignore"):
            kp[(kp[..., 0] < 0) | (kp[..., 0] > w - 1) | (kp[..., 1] < 0) | (kp[..., 1] > h - 1)] = np.nan
    return idx, [frames[i] for i in idx], kp


def _merged_labels(folder: pathlib.Path, scorer: str, parts, names, kp) -> np.ndarray:
    """The labels of the frames already in a video's CSV (kept as they are: they may be corrected) followed by the
    model's keypoints for the new frames."""
    csv_path = folder / f"CollectedData_{scorer}.csv"
    if not csv_path.exists():
        return kp
    from infantjax.io.labelled import read_collected

    got, _, old, old_names = read_collected(csv_path)
    if list(got) != list(parts):
        raise LabelledDataError(f"{csv_path} labels {got}, not the model's {list(parts)}")
    keep = [i for i, nm in enumerate(old_names) if pathlib.PurePosixPath(nm).name not in set(names)]
    return np.concatenate([old[keep], kp]) if keep else kp


def _merged_images(folder: pathlib.Path, scorer: str, names, frames):
    """The rows of the merged CSV: the frames already labelled (their images untouched), then the new frames."""
    csv_path = folder / f"CollectedData_{scorer}.csv"
    new = list(zip(names, frames))
    if not csv_path.exists():
        return new
    from infantjax.io.labelled import read_collected

    _, _, _, old_names = read_collected(csv_path)
    kept = [pathlib.PurePosixPath(nm).name for nm in old_names if pathlib.PurePosixPath(nm).name not in set(names)]
    return [(nm, None) for nm in kept] + new


def remove_run(out: str | os.PathLike) -> None:
    """Delete a training run's checkpoints (the model and its evaluation stay)."""
    shutil.rmtree(pathlib.Path(out) / "checkpoints", ignore_errors=True)


# ------------------------------------------------------------------------------------------------ the gate
GATE_FORMAT = "infantjax-gate-thresholds"


def calibrate_gate(model, data: LabelledFrames | str | os.PathLike, out: str | os.PathLike, *,
                   tolerance: float = 0.5, max_false: float = 0.02, which: str = "all",
                   individual: str | None = None, images: str | os.PathLike | None = None,
                   progress: bool = True) -> dict:
    """Re-fit the tracking-quality gate (:data:`infantjax.clinical.quality.THRESHOLDS`) for a lab's pose model on
    its labelled frames, and write the thresholds file ``infantjax assess --gate`` and ``predict --gate`` take.

    The model tracks every labelled frame as :func:`predict_frames` does; a keypoint is right when it lies within
    ``tolerance`` head lengths of its label (PCKh's), a frame is right when at least 80 % of its labelled keypoints
    are. :func:`infantjax.clinical.calibrate_thresholds` then fits the per-frame thresholds so that at most
    ``max_false`` of the right frames are called implausible; the file records how well the fitted gate
    separates right from wrong frames, beside the shipped thresholds' figures on the same frames.

    Arguments:
        model: an In-Motion 19 pose model (the gate judges the keypoints the CP ensemble scores).
        data: labelled frames with the In-Motion 19 body parts.
        out: the thresholds file (``.json``), written atomically.
        which: the frames to use: ``"all"``, or ``"held-out"`` (those the model's training held out).

    Returns:
        the file's content.
    """
    from infantjax.clinical.quality import THRESHOLDS, calibrate_thresholds
    from infantjax.io.files import write_json
    from infantjax.metrics.pose import head_length

    predictor = _as_predictor(model)
    if predictor.skeleton.name != "in-motion-19":
        raise ConfigError(f"the gate judges In-Motion 19 keypoints (what the CP ensemble scores); this model tracks "
                          f"{predictor.skeleton.name}: train one on In-Motion 19 body parts")
    frames = load_frames(data, individual=individual, images=images)
    if frames.skeleton.name != "in-motion-19":
        raise LabelledDataError(f"{frames.path} labels {', '.join(frames.parts[:5])} ...: the gate is calibrated on "
                                "frames labelled with the In-Motion 19 body parts")
    if which == "held-out":
        split = ((predictor.info or {}).get("trained_on") or {}).get("split") or {}
        held = set(split.get("held_out") or [])
        key = frames.groups if split.get("by") == "video" else frames.images
        mask = np.array([g in held for g in key])
        if not mask.any():
            raise LabelledDataError("the model records no held-out frame of these data; calibrate on all frames")
        frames = frames.subset(np.nonzero(mask)[0])
    elif which != "all":
        raise ConfigError(f"which must be 'all' or 'held-out', got {which!r}")
    pred, conf, _ = predict_frames(predictor, frames, progress=progress)
    lengths = head_length(frames.keypoints, "in-motion-19")
    dist = np.linalg.norm(pred - frames.keypoints, axis=-1) / lengths[:, None]
    with np.errstate(invalid="ignore"):
        correct = np.isfinite(dist) & (dist <= float(tolerance))
    usable = np.isfinite(lengths) & (lengths > 0)
    if not usable.any():
        raise LabelledDataError("no frame has both head_top and upper_neck labelled: the tolerance is in head lengths")
    fitted, report = calibrate_thresholds(pred[usable] + PIXEL_CENTRE, conf[usable], frames.sizes[usable],
                                          correct[usable], max_false=max_false)
    doc = {"format": GATE_FORMAT, "thresholds": fitted.to_dict(), "shipped": THRESHOLDS.to_dict(),
           "calibration": {**report, "tolerance_head_lengths": float(tolerance), "frames_used": which,
                           "model": _model_name(model, predictor), "data": frames.summary(),
                           "data_sha256": frames.fingerprint()}}
    write_json(out, doc, allow_nan=True)
    return doc


def read_gate(path: str | os.PathLike):
    """The thresholds of a file :func:`calibrate_gate` wrote: (:class:`~infantjax.clinical.quality.Thresholds`,
    a one-line description of where they come from).

    Raises:
        DataError: a missing, unreadable or foreign file, or thresholds that are not positive numbers.
    """
    from infantjax.clinical.quality import Thresholds

    path = pathlib.Path(path)
    if not path.is_file():
        raise DataError(f"--gate {path} does not exist; write it with infantjax pose-gate MODEL DATA --out {path}")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataError(f"--gate {path} is not a thresholds file ({err}); write it with infantjax pose-gate") \
            from None
    if not isinstance(doc, dict) or doc.get("format") != GATE_FORMAT or not isinstance(doc.get("thresholds"), dict):
        raise DataError(f"--gate {path} is not a thresholds file written by infantjax pose-gate")
    thresholds = Thresholds.from_dict(doc["thresholds"])
    cal = doc.get("calibration") or {}
    data = (cal.get("data") or {}).get("path", "?")
    return thresholds, (f"calibrated for {cal.get('model', '?')} on {cal.get('frames', '?')} labelled frames of "
                        f"{data} ({path.name})")
