"""Seed 001's internal cross-validation: folds over infants trained as one stacked program, each scored on its
held-out recordings."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from infantjax.errors import DataError
from infantjax.models.mam import MamSpec
from infantjax.protocols.evaluation import fold_scores
from infantjax.protocols.splits import instance_seed, subject_splits
from infantjax.train.mam import (
    MamConfig,
    MamData,
    MamTask,
    check_binary,
    check_info,
    check_recordings,
    predict_recordings,
)


@dataclasses.dataclass
class MamResult:
    """The cross-validation protocol.

    Attributes:
        folds: per fold, (training, test) recording indices.
        scores: per fold, :func:`fold_scores`.
        outputs: per fold, :func:`predict_recordings` of its test recordings.
        fit: the engine's :class:`~infantjax.train.engine.FitResult` (stacked variables of every fold).
    """

    folds: list[tuple[np.ndarray, np.ndarray]]
    scores: list[dict]
    outputs: list[dict]
    fit: Any

    def summary(self) -> dict[str, tuple[float, float]]:
        """Mean and standard deviation over folds of every metric (NaN-aware)."""
        return {k: (float(np.nanmean([s[k] for s in self.scores])), float(np.nanstd([s[k] for s in self.scores])))
                for k in self.scores[0]}


def run_protocol(recordings: Sequence[np.ndarray], labels: np.ndarray, subjects: Sequence[str],
                 ref_clips: np.ndarray, ref_labels: np.ndarray, *, info: np.ndarray | None = None,
                 fms_truth: Sequence[np.ndarray] | None = None, spec: MamSpec | None = None,
                 config: MamConfig | None = None, seed: int = 0, checkpoint_dir=None) -> MamResult:
    """Seed 001's internal cross-validation: ``config.folds`` folds over infants trained as one stacked, vmapped
    program (:func:`~infantjax.train.fit`), each scored on its held-out recordings (:func:`fold_scores`).

    Arguments:
        recordings: per recording, (T, F) motion features (:func:`~infantjax.models.mam.motion_features`).
        labels: (N,) 1 = risk, 0 = normal.
        subjects: (N,) infant ids.
        ref_clips, ref_labels: the pretraining clips (N_r, L, F) and their FMs labels (shared by every fold).
        info: (N, 4) characteristics (needed when ``spec.use_info``).
        fms_truth: per recording, the FMs ground truth of its clips (stride ``config.clip_stride``), for κ.
        spec, config: model and recipe.
        seed: fold n trains with seed ``seed + n``.
        checkpoint_dir: checkpoint and resume the stacked run there.

    Returns:
        a :class:`MamResult`.
    """
    from infantjax.train.engine import fit

    spec = MamSpec() if spec is None else spec
    config = MamConfig() if config is None else config
    task = MamTask(spec, config)
    recordings = check_recordings(recordings, spec, "run_protocol")
    labels = check_binary(labels, len(recordings), "run_protocol", "risk")
    if spec.use_info and info is None:
        raise DataError("run_protocol: the Info branch needs the basic characteristics (info); pass them or use "
                        "MamSpec(use_info=False)")
    info = check_info(info, len(recordings), "run_protocol")
    if fms_truth is not None and len(fms_truth) != len(recordings):
        raise DataError(f"run_protocol: {len(fms_truth)} clip ground truths for {len(recordings)} recordings")
    folds = [(s.train, s.test) for s in subject_splits(subjects, labels, kind="folds", folds=config.folds,
                                                       seed=config.fold_seed)]
    data = [MamData(ref_clips, ref_labels, [recordings[i] for i in train], labels[train], info[train])
            for train, _ in folds]
    result = fit(task, data, seeds=[instance_seed(seed, n) for n in range(len(folds))], checkpoint_dir=checkpoint_dir,
                 desc="mam folds")
    outputs = predict_recordings(task, result.variables, [[recordings[i] for i in test] for _, test in folds],
                                 [info[test] for _, test in folds])
    scores = [fold_scores(labels[test], o, config.threshold,
                          None if fms_truth is None else [fms_truth[i] for i in test])
              for (_, test), o in zip(folds, outputs)]
    return MamResult(folds, scores, outputs, result)

