"""Depth clip → limb pose (seed 004): detection CNN → regression CNN → NMS and bipartite limb linking, and the
whole training-and-evaluation run of Table II on prepared clips.

* :func:`predict` / :func:`predict_maps` / :func:`estimate_limb_pose`: inference in fixed-size batches.
* :func:`run_pipeline`: train the detection CNN, train regression CNNs on its maps (each a
  :class:`~infantjax.train.DepthTask` of the engine), link limbs on held-out clips and measure RMSD per limb, time
  per clip, training time and parameters. Used by ``experiments/migliorelli2021_depth.py`` (Table II) and the depth
  stage of ``infantjax demo``; also the way to reproduce the paper at full size on an accelerator
  (``DetectionSpec()``, ``RegressionSpec(kind)``, ``DETECTION_TRAINING``, ``REGRESSION_TRAINING``).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable

import flax.linen as nn
import jax
import numpy as np

from infantjax.errors import ConfigError, DataError
from infantjax.metrics.pose import rmsd_per_limb, summarize_rmsd
from infantjax import models
from infantjax.models import count_parameters
from infantjax.models.depth.init import init_variables
from infantjax.models.depth.linking import LinkConfig, link_clips
from infantjax.models.depth.regression import RegressionSpec
from infantjax.models.depth.unet import DetectionSpec
from infantjax.preprocess.depth import DepthClips, regression_inputs
from infantjax.infer.depth import (  # noqa: F401 - the family's inference, re-exported here
    DepthModel,
    LimbPose,
    estimate_limb_pose,
    make_predict,
    predict,
    predict_maps,
)
from infantjax.train.depth import DETECTION_TRAINING, REGRESSION_TRAINING, DepthConfig, DepthData, DepthTask
from infantjax.train.engine import fit

__all__ = [
    "PAPER_TABLE_II",
    "DepthModel",
    "LimbPose",
    "PipelineResult",
    "estimate_limb_pose",
    "init_variables",
    "make_predict",
    "predict",
    "predict_maps",
    "run_pipeline",
    "time_per_clip",
]

log = logging.getLogger(__name__)

# seed 004, Table II: median RMSD (IQR) in pixels of the 128x96 image, and testing time per clip in seconds
PAPER_TABLE_II = {
    "asymmetric": {"right_arm": (16.90, 2.71), "left_arm": (16.59, 2.43), "right_leg": (16.27, 2.97),
                   "left_leg": (13.99, 4.60), "seconds_per_clip": 0.03},
    "full": {"right_arm": (16.59, 3.49), "left_arm": (16.59, 3.45), "right_leg": (16.10, 3.49),
             "left_leg": (11.95, 5.76), "seconds_per_clip": 0.05},
    "training_time_reduction": 0.66,
}


# ------------------------------------------------------------------------------------------------------ inference
def time_per_clip(predict: Callable[[np.ndarray], object], clips: np.ndarray, batch_size: int = 1,
                  repeats: int = 5, warmup: int = 2) -> float:
    """Median seconds per clip of ``predict`` on batches of ``batch_size`` clips (after ``warmup`` calls).

    ``predict`` must block until its result is ready (e.g. end with ``jax.block_until_ready``).
    """
    clips = np.asarray(clips)
    if len(clips) < batch_size:
        raise DataError(f"need at least {batch_size} clips to time a batch, got {len(clips)}")
    batch = clips[:batch_size]
    for _ in range(warmup):
        predict(batch)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        predict(batch)
        times.append((time.perf_counter() - t0) / batch_size)
    return float(np.median(times))


# ------------------------------------------------------------------------------------------------------ Table II run
@dataclasses.dataclass
class PipelineResult:
    """What ``run_pipeline`` returns.

    Attributes:
        detection: {"train_seconds", "best_epoch", "best_val_accuracy", "parameters", "rmsd" (summary of linking
            the detection maps directly), "rmsd_frames" (M, 4)}.
        regressions: per kind {"rmsd", "rmsd_frames", "untrained_rmsd",
            "untrained_missing", "seconds_per_clip", "train_seconds",
            "train_step_seconds", "best_epoch", "final_loss", "parameters", "spec", "missing"}.
        variables: trained variables, {"detection": ..., kind: ...}.
        specs: the networks, {"detection": DetectionSpec, kind: RegressionSpec}.
        link: the linking settings the run evaluated with.
        clip_shape: (T, H, W) of the clips.
    """

    detection: dict
    regressions: dict
    variables: dict
    specs: dict = dataclasses.field(default_factory=dict)
    link: LinkConfig | None = None
    clip_shape: tuple[int, int, int] | None = None

    def model(self, kind: str) -> DepthModel:
        """The trained detection CNN with the regression CNN ``kind`` as a :class:`DepthModel` (save, load,
        predict)."""
        if kind not in self.regressions:
            raise ConfigError(f"this run trained the regressions {sorted(self.regressions)}, not {kind!r}")
        return DepthModel(self.specs["detection"], self.specs[kind],
                          {"detection": self.variables["detection"], "regression": self.variables[kind]},
                          link=self.link, clip_shape=self.clip_shape)


def _evaluate(maps: np.ndarray, truth: np.ndarray, link: LinkConfig) -> tuple[dict, np.ndarray, float]:
    pred, _ = link_clips(maps, config=link)
    annotated = np.isfinite(truth[..., 0])
    missing = np.isnan(pred[..., 0]) & annotated
    rmsd = rmsd_per_limb(pred, truth)
    # share of the annotated joints (inside the image) that linking did not find
    return summarize_rmsd(rmsd, missing=np.isnan(pred[..., 0])), rmsd, float(missing.sum() / max(annotated.sum(), 1))


@dataclasses.dataclass
class _Trained:
    variables: dict
    history: list[dict]
    best_epoch: int
    train_seconds: float
    cpu_seconds: float
    step_seconds: float


def _train(model: nn.Module, initial: dict, data: DepthData, config: DepthConfig, seed: int, name: str) -> _Trained:
    result = fit(DepthTask(model, config, data.inputs.shape[1:]), [data], seeds=[seed], initial=initial,
                 desc=f"train {name}")
    history = [{**h, "loss": h["train_loss"]} for h in result.history[0]]
    return _Trained(result.instance(0), history, result.best_epoch[0], result.train_seconds, result.cpu_seconds,
                    result.step_seconds)


def run_pipeline(train: DepthClips, test: DepthClips, *, detection: DetectionSpec | None = None,
                 regressions: dict[str, RegressionSpec] | None = None,
                 detection_training: DepthConfig = DETECTION_TRAINING,
                 regression_training: DepthConfig = REGRESSION_TRAINING, link: LinkConfig | None = None,
                 seed: int = 0, select: str | None = None, time_clips: bool = True,
                 progress: bool = True) -> PipelineResult:
    """Train detection, then each regression on the detection maps, and evaluate on held-out clips.

    Arguments:
        train, test: prepared clips (``prepare_clips``); ``test`` also serves for model selection, as the paper's
            validation set did (use a third set for unbiased numbers at scale).
        detection: the detection CNN (default ``DetectionSpec()``).
        regressions: {name: RegressionSpec}; default both Table II networks at Table I widths.
        detection_training, regression_training: the recipes (the paper's by default; their ``loss`` is set to
            ``"bce"`` and ``"mse"``).
        link: limb-linking settings (default ``LinkConfig()``; set ``radius`` to the target radius).
        seed: initialisation and shuffling seed.
        select: the regressions' model selection (``DepthConfig.select``): None = the paper's lowest validation
            MAE, ``"last"`` = the last epoch (for short runs).
        time_clips: measure prediction time per clip (batch 1, median after warm-up).
        progress: progress bars.
    Returns:
        PipelineResult.
    """
    if not isinstance(train, DepthClips) or not isinstance(test, DepthClips):
        raise DataError("run_pipeline needs DepthClips for train and test; build them with prepare_clips")
    if train.clips.shape[1:] != test.clips.shape[1:]:
        raise DataError(f"train clips {train.clips.shape[1:]} and test clips {test.clips.shape[1:]} differ in size")
    detection = detection or DetectionSpec()
    link = link or LinkConfig()
    regressions = regressions or {"asymmetric": RegressionSpec("asymmetric"), "full": RegressionSpec("full")}
    key = jax.random.key(seed, impl="rbg")  # rbg: XLA compiles its initialisers much faster on CPU
    det_model = models.build(detection)
    det_init = init_variables(det_model, jax.random.fold_in(key, 0), train.clips[:2])
    det_config = detection_training.replace(loss="bce", progress=progress)
    det = _train(det_model, det_init, DepthData(train.clips, train.binary, (test.clips, test.binary)), det_config,
                 seed, "detection")
    det_train = predict(det_model, det.variables, train.clips, det_config.batch_size, output="sigmoid")
    det_test = predict(det_model, det.variables, test.clips, det_config.batch_size, output="sigmoid")
    summary, frames, missing = _evaluate(det_test, test.keypoints, link)
    detection_record = {
        "train_seconds": det.train_seconds, "train_cpu_seconds": det.cpu_seconds, "best_epoch": det.best_epoch,
        "best_val_accuracy": max(h["val_metric"] for h in det.history), "parameters": count_parameters(det_init, collections=("params",)),
        "final_loss": det.history[-1]["loss"], "rmsd": summary, "rmsd_frames": frames, "missing": missing,
    }
    log.info("detection: %s", {k: v for k, v in detection_record.items() if k != "rmsd_frames"})
    x_train = regression_inputs(train.clips, det_train)
    x_test = regression_inputs(test.clips, det_test)
    records, variables = {}, {"detection": det.variables}
    reg_config = regression_training.replace(loss="mse", select=select, progress=progress)
    for i, (name, spec) in enumerate(regressions.items()):
        model = models.build(spec)
        initial = init_variables(model, jax.random.fold_in(key, i + 1), x_train[:2])
        untrained, _, untrained_missing = _evaluate(predict(model, initial, x_test, reg_config.batch_size),
                                                    test.keypoints, link)
        reg = _train(model, initial, DepthData(x_train, train.gaussian, (x_test, test.gaussian)), reg_config, seed,
                     name)
        summary, frames, missing = _evaluate(predict(model, reg.variables, x_test, reg_config.batch_size),
                                             test.keypoints, link)
        seconds = float("nan")
        if time_clips:
            fn = make_predict(model)
            seconds = time_per_clip(lambda b, fn=fn, v=reg.variables: jax.block_until_ready(fn(v, b)), x_test,
                                    batch_size=1)
        records[name] = {
            "rmsd": summary, "rmsd_frames": frames, "missing": missing, "untrained_rmsd": untrained,
            "untrained_missing": untrained_missing,
            "seconds_per_clip": seconds, "train_seconds": reg.train_seconds, "train_cpu_seconds": reg.cpu_seconds,
            "train_step_seconds": reg.step_seconds,
            "best_epoch": reg.best_epoch, "final_loss": reg.history[-1]["loss"],
            "initial_loss": reg.history[0]["loss"], "parameters": count_parameters(initial, collections=("params",)),
            "spec": dataclasses.asdict(spec),
        }
        variables[name] = reg.variables
        log.info("%s regression: %s", name, {k: v for k, v in records[name].items() if k != "rmsd_frames"})
    return PipelineResult(detection_record, records, variables, {"detection": detection, **regressions}, link,
                          tuple(int(d) for d in train.clips.shape[1:4]))
