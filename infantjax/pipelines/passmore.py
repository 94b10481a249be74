"""Smartphone keypoints → abnormal-movement probability (seed 003, Passmore et al.), end to end.

DeepLabCut ``passmore-18`` keypoints → :func:`~infantjax.preprocess.passmore.preprocess_passmore` → the 46
features (4500, 46) → 128-sample clips → the 1D causal CNN with clip attention → σ(logit) → Platt scaling.

* :func:`sequence_features`, :func:`cohort_features`: the feature matrices of recordings (input checks: the
  keypoint set, joints never detected, recordings too short for a clip);
* :func:`synthetic_features`: a synthetic smartphone cohort (``infantjax.synth``, 18-point recordings);
* :class:`SmartphoneModel`: the instances of the repeated-split protocol with their Platt scalings; ``save``,
  ``load``, ``predict`` (the mean calibrated probability over instances) and ``saliency``;
* :func:`train_smartphone`: the protocol (:func:`infantjax.protocols.passmore.run_protocol`) → a model and its
  held-out results.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from infantjax import skeleton as _skeleton
from infantjax.errors import ConfigError, DataError
from infantjax import models
from infantjax.models.passmore import PassmoreSpec
from infantjax.preprocess.passmore import passmore_features, preprocess_passmore
from infantjax.infer.passmore import SmartphoneModel, SmartphonePrediction, video_clips
from infantjax.sequence import Cohort, SkeletonSequence

import infantjax.train.passmore  # noqa: E402,F401 - binds the family's training config and task (model.config)

if TYPE_CHECKING:
    from infantjax.protocols.passmore import ProtocolResult
    from infantjax.train.passmore import PassmoreConfig

__all__ = ["SmartphoneModel", "SmartphonePrediction", "cohort_features", "saliency", "sequence_features",
           "synthetic_features", "train_smartphone"]

log = logging.getLogger(__name__)


def sequence_features(sequence: SkeletonSequence, frame_size: tuple[float, float], *, num_samples: int = 4500,
                      mode: str = "reference", clip_length: int = 128) -> np.ndarray:
    """The (num_samples, 46) feature matrix of one recording.

    Arguments:
        sequence: (T, 18, 2) ``passmore-18`` keypoints in pixels with DLC likelihoods.
        frame_size: (height, width) of the video in pixels.
        num_samples: samples after time normalisation (4500).
        mode: ``"reference"`` or ``"corrected"`` torso alignment (:func:`preprocess_passmore`).
        clip_length: the model's clip length (the recording must give at least one clip).

    Raises:
        DataError: another keypoint set, a joint never detected, a recording too short, failed quality control.
    """
    if not isinstance(sequence, SkeletonSequence):
        raise DataError(f"sequence_features needs a SkeletonSequence, got {type(sequence).__name__}")
    where = sequence.metadata.get("source", "recording")
    name = getattr(sequence.skeleton, "name", sequence.skeleton)
    if name != "passmore-18":
        raise DataError(f"{where}: keypoints of {name!r}; the smartphone model needs the 18 DLC points "
                        "of 'passmore-18' (read the file with skeleton='passmore-18')")
    if num_samples < clip_length:
        raise ConfigError(f"num_samples {num_samples} is shorter than one clip of {clip_length}")
    if sequence.num_frames < 2 * 5:
        raise DataError(f"{where}: {sequence.num_frames} frames are too short a recording (seed 003 uses videos of "
                        "minutes); record longer videos")
    missing = np.isnan(sequence.coords).any(-1).all(0)
    if sequence.confidence is not None:
        missing |= (np.nan_to_num(sequence.confidence, nan=0.0) <= 0.2).all(0)
    if missing.any():
        names = [_skeleton.get("passmore-18").keypoints[j] for j in np.flatnonzero(missing)]
        raise DataError(f"{where}: joint(s) {', '.join(names)} are never detected (all NaN or likelihood <= 0.2); "
                        "the gap filling cannot invent a joint: check the DeepLabCut output")
    pre = preprocess_passmore(sequence, frame_size, num_samples=num_samples, mode=mode)
    return passmore_features(pre.coords)


def _frame_size(cohort: Cohort, i: int, frame_size) -> tuple[float, float]:
    meta = cohort.metadata
    if "height" in meta and "width" in meta:
        return float(meta["height"][i]), float(meta["width"][i])
    if frame_size is None:
        raise ConfigError(f"recording {i} of {cohort.name!r}: no frame size; give height and width columns in the "
                          "labels CSV or a frame size (--frame-size HEIGHT WIDTH)")
    return float(frame_size[0]), float(frame_size[1])


def cohort_features(cohort: Cohort, *, frame_size: tuple[float, float] | None = None, num_samples: int = 4500,
                    mode: str = "reference", progress: bool = False, exclude_failed: bool = False
                    ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Feature matrices, 0/1 labels and subject ids of a cohort of ``passmore-18`` recordings.

    Arguments:
        cohort: recordings with 0/1 labels (``height``/``width`` metadata columns give each video's frame size).
        frame_size: (height, width) for recordings without those columns.
        exclude_failed: leave out the recordings :func:`sequence_features` rejects (a joint never detected, failed
            quality control), each named in a warning, as a study excludes the videos that fail its quality control;
            by default such a recording raises.

    Returns:
        (videos, num_samples, 46) float32 features, (videos,) int labels, subject ids (of the kept recordings).

    Raises:
        DataError: a rejected recording (``exclude_failed=False``), or every recording rejected.
    """
    labels = np.asarray(cohort.labels)
    if not np.isin(labels, (0, 1)).all():
        raise DataError(f"cohort {cohort.name!r}: labels must be 0 (normal) or 1 (abnormal movements)")
    iterator = range(len(cohort.sequences))
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(iterator, desc="passmore features", unit="video")
    feats, kept = [], []
    for i in iterator:
        try:
            feats.append(sequence_features(cohort.sequences[i], _frame_size(cohort, i, frame_size),
                                           num_samples=num_samples, mode=mode))
        except DataError as err:
            if not exclude_failed:
                raise
            log.warning("cohort %r: recording %d (subject %s) excluded: %s", cohort.name, i, cohort.subjects[i], err)
            continue
        kept.append(i)
    if not feats:
        raise DataError(f"cohort {cohort.name!r}: every recording was rejected (see the warnings); check the "
                        "keypoint files")
    subjects = list(cohort.subjects)
    return np.stack(feats), labels[kept].astype(np.int32), [subjects[i] for i in kept]


def synthetic_features(n_subjects: int = 60, seed: int = 0, *, duration_s: float = 20.0, fps: float = 25.0,
                       prevalence: float = 0.4, difficulty: str = "easy", num_samples: int = 4500,
                       dropout_burst_s: float | None = None, progress: bool = False, exclude_failed: bool = False
                       ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """A synthetic smartphone cohort (label: CP-like abnormal movements) through the whole preprocessing.

    The gap filling of seed 003 (an iterative imputer over all frames) dominates the time when detector dropouts
    last longer than its 5-frame linear interpolation: ``dropout_burst_s`` (default the synthetic detector's
    0.5 s) shortens them, e.g. 0.1 s keeps the imputer idle on most videos (a 20-s video then takes about 0.1 s,
    one with gaps about 2–3 s). ``exclude_failed``: leave out the few synthetic recordings whose detector never
    finds a joint (:func:`cohort_features`; e.g. infants 281 and 306 of seed 0's 60-s cohort).
    """
    from infantjax import synth

    recording = None
    if dropout_burst_s is not None:
        recording = dataclasses.replace(synth.RecordingConfig(), dropout_burst_s=float(dropout_burst_s))
    cohort = synth.cohort("cp", n_subjects=n_subjects, seed=seed, difficulty=difficulty, duration_s=duration_s,
                          fps=fps, prevalence=prevalence, skeleton="passmore-18", recording=recording)
    return cohort_features(cohort, num_samples=num_samples, progress=progress, exclude_failed=exclude_failed)


def train_smartphone(features: np.ndarray, labels: np.ndarray, subjects: Sequence[str], *,
                     spec: PassmoreSpec | None = None, config: PassmoreConfig | None = None, seed: int = 12345,
                     checkpoint_dir=None) -> tuple[SmartphoneModel, ProtocolResult]:
    """Run the repeated-split protocol and keep its instances as a model.

    Returns:
        (the model, the protocol's held-out results).
    """
    from infantjax.protocols.passmore import run_protocol
    from infantjax.train.passmore import PassmoreConfig

    spec = PassmoreSpec() if spec is None else spec
    config = PassmoreConfig() if config is None else config
    result = run_protocol(features, labels, subjects, spec=spec, config=config, seed=seed,
                          checkpoint_dir=checkpoint_dir)
    model = SmartphoneModel(spec, config, result.fit.variables, np.asarray(result.platt, np.float64))
    return model, result


def saliency(model: SmartphoneModel, features: np.ndarray, instance: int = 0):
    """Vanilla-gradient saliency of one video's (T, 46) features for one instance of a smartphone model
    (:func:`infantjax.explain.video_saliency`)."""
    from infantjax.explain.saliency import video_saliency

    c = model.inputs
    clips = video_clips(features, c.clip_length, c.clip_stride)
    return video_saliency(models.build(model.spec), model.instance_variables(instance), clips)
