"""The whole seed 004 pipeline on prepared clips: train the detection CNN, train regression CNNs on its maps, link
limbs on held-out clips and measure RMSD per limb, time per clip, training time and parameters.

Used by ``experiments/migliorelli2021_depth.py`` (Table II) and ``demo_run`` (a tiny CPU run); also the way to
reproduce the paper at full size on an accelerator (``DetectionSpec()``, ``RegressionSpec(kind)``,
``DETECTION_TRAINING``, ``REGRESSION_TRAINING``).
"""

from __future__ import annotations

import dataclasses
import logging

import jax
import numpy as np

from infantjax.errors import DataError
from infantjax.models.depth.data import DepthClips
from infantjax.models.depth.evaluate import regression_inputs, rmsd_per_limb, summarize_rmsd, time_per_clip
from infantjax.models.depth.linking import LinkConfig, link_clips
from infantjax.models.depth.regression import RegressionSpec
from infantjax.models.depth.train import (
    DETECTION_TRAINING,
    REGRESSION_TRAINING,
    TrainConfig,
    fit,
    init_variables,
    make_predict,
    predict,
)
from infantjax.models.depth.unet import DetectionSpec

__all__ = ["PipelineResult", "parameter_count", "run_pipeline"]

log = logging.getLogger(__name__)


def parameter_count(variables: dict) -> int:
    """Trainable parameters (``variables["params"]``)."""
    return int(sum(np.prod(a.shape) for a in jax.tree.leaves(variables["params"])))


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
    """

    detection: dict
    regressions: dict
    variables: dict


def _evaluate(maps: np.ndarray, truth: np.ndarray, link: LinkConfig) -> tuple[dict, np.ndarray, float]:
    pred, _ = link_clips(maps, config=link)
    annotated = np.isfinite(truth[..., 0])
    missing = np.isnan(pred[..., 0]) & annotated
    rmsd = rmsd_per_limb(pred, truth)
    # share of the annotated joints (inside the image) that linking did not find
    return summarize_rmsd(rmsd, missing=np.isnan(pred[..., 0])), rmsd, float(missing.sum() / max(annotated.sum(), 1))


def run_pipeline(train: DepthClips, test: DepthClips, *, detection: DetectionSpec | None = None,
                 regressions: dict[str, RegressionSpec] | None = None,
                 detection_training: TrainConfig = DETECTION_TRAINING,
                 regression_training: TrainConfig = REGRESSION_TRAINING, link: LinkConfig | None = None,
                 seed: int = 0, select: str | None = None, time_clips: bool = True,
                 progress: bool = True) -> PipelineResult:
    """Train detection, then each regression on the detection maps, and evaluate on held-out clips.

    Arguments:
        train, test: prepared clips (``prepare_clips``); ``test`` also serves for model selection, as the paper's
            validation set did (use a third set for unbiased numbers at scale).
        detection: the detection CNN (default ``DetectionSpec()``).
        regressions: {name: RegressionSpec}; default both Table II networks at Table I widths.
        detection_training, regression_training: settings of ``fit`` (the paper's by default).
        link: limb-linking settings (default ``LinkConfig()``; set ``radius`` to the target radius).
        seed: initialisation and shuffling seed.
        select: the regressions' model selection (``fit``): None = the paper's lowest validation MAE, ``"last"``
            = the last epoch (for short runs).
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
    det_model = detection.build()
    det_init = init_variables(det_model, jax.random.fold_in(key, 0), train.clips[:2])
    det_config = dataclasses.replace(detection_training, seed=seed)
    det = fit(det_model, det_init, train.clips, train.binary, det_config, "bce",
              validation=(test.clips, test.binary), progress=progress)
    det_train = predict(det_model, det.variables, train.clips, det_config.batch_size, output="sigmoid")
    det_test = predict(det_model, det.variables, test.clips, det_config.batch_size, output="sigmoid")
    summary, frames, missing = _evaluate(det_test, test.keypoints, link)
    detection_record = {
        "train_seconds": det.train_seconds, "train_cpu_seconds": det.cpu_seconds, "best_epoch": det.best_epoch,
        "best_val_accuracy": max(h["val_metric"] for h in det.history), "parameters": parameter_count(det_init),
        "final_loss": det.history[-1]["loss"], "rmsd": summary, "rmsd_frames": frames, "missing": missing,
    }
    log.info("detection: %s", {k: v for k, v in detection_record.items() if k != "rmsd_frames"})
    x_train = regression_inputs(train.clips, det_train)
    x_test = regression_inputs(test.clips, det_test)
    records, variables = {}, {"detection": det.variables}
    reg_config = dataclasses.replace(regression_training, seed=seed)
    for i, (name, spec) in enumerate(regressions.items()):
        model = spec.build()
        initial = init_variables(model, jax.random.fold_in(key, i + 1), x_train[:2])
        untrained, _, untrained_missing = _evaluate(predict(model, initial, x_test, reg_config.batch_size),
                                                    test.keypoints, link)
        reg = fit(model, initial, x_train, train.gaussian, reg_config, "mse", validation=(x_test, test.gaussian),
                  select=select, progress=progress)
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
            "initial_loss": reg.history[0]["loss"], "parameters": parameter_count(initial),
            "spec": dataclasses.asdict(spec),
        }
        variables[name] = reg.variables
        log.info("%s regression: %s", name, {k: v for k, v in records[name].items() if k != "rmsd_frames"})
    return PipelineResult(detection_record, records, variables)
