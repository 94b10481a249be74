"""Seed 003's protocol: 25 repeated participant-level splits trained as one stacked program, each evaluated on
its test videos before and after Platt scaling."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from infantjax.models.passmore import PassmoreSpec
from infantjax.protocols.calibration import calibrate, platt_scaling
from infantjax.protocols.evaluation import binary_scores
from infantjax.protocols.splits import Split, instance_seed, subject_splits
from infantjax.train.passmore import (
    PassmoreConfig,
    PassmoreData,
    PassmoreTask,
    check_features,
    check_labels,
    predict_videos,
)


@dataclasses.dataclass
class ProtocolResult:
    """The repeated-split protocol.

    Attributes:
        splits: the :class:`Split` of every repetition.
        before, after: per split, :func:`binary_scores` of the test videos before / after Platt scaling.
        test_probabilities: per split, (uncalibrated, calibrated) test probabilities.
        platt: per split, (slope, intercept).
        fit: the engine's :class:`~infantjax.train.engine.FitResult` (stacked variables of every split).
    """

    splits: list[Split]
    before: list[dict]
    after: list[dict]
    test_probabilities: list[tuple[np.ndarray, np.ndarray]]
    platt: list[tuple[float, float]]
    fit: Any

    def summary(self) -> dict[str, dict[str, tuple[float, float]]]:
        """Mean and standard deviation over splits of every metric, before and after calibration."""
        out = {}
        for name, rows in (("before", self.before), ("after", self.after)):
            out[name] = {k: (float(np.nanmean([r[k] for r in rows])), float(np.nanstd([r[k] for r in rows])))
                         for k in rows[0]}
        return out


def run_protocol(features: np.ndarray, labels: np.ndarray, subjects: Sequence[str], *,
                 spec: PassmoreSpec | None = None, config: PassmoreConfig | None = None,
                 strata: Sequence[int] | None = None, seed: int = 12345, checkpoint_dir=None) -> ProtocolResult:
    """Seed 003's protocol: ``config.splits`` repeated participant-level splits, trained as one stacked, vmapped
    program (:func:`~infantjax.train.fit`), each evaluated on its test videos before and after Platt scaling.

    Arguments:
        features: (videos, T, 46) feature matrices.
        labels: (videos,) 0/1.
        subjects: (videos,) participant ids.
        spec, config: network and recipe (defaults: as coded).
        strata: stratum per video (default the label).
        seed: instance n trains with seed ``seed + n`` (the reference sets 12345 once).
        checkpoint_dir: checkpoint and resume the stacked run there.

    Returns:
        a :class:`ProtocolResult`.
    """
    from infantjax.train.engine import fit

    config = PassmoreConfig() if config is None else config
    task = PassmoreTask(spec, config)
    features = check_features(features, "run_protocol", config.clip_length)
    labels = check_labels(labels, len(features), "run_protocol")
    strata = labels if strata is None else np.asarray(strata)
    corrected = config.calibration == "corrected"
    splits = subject_splits(subjects, strata, kind="repeated", splits=config.splits, test_fraction=config.test_fraction,
                            validation_fraction=config.validation_fraction,
                            calibration_fraction=config.calibration_fraction if corrected else None,
                            seed=config.split_seed)
    data = [PassmoreData(features[s.train], labels[s.train], (features[s.validation], labels[s.validation]))
            for s in splits]

    # early stopping (patience after the first phase) is the engine's: PassmoreTask.selection
    result = fit(task, data, seeds=[instance_seed(seed, n) for n in range(len(splits))], checkpoint_dir=checkpoint_dir,
                 desc="passmore splits")
    cal_sets = [s.calibration if corrected else s.validation for s in splits]
    cal_logits = predict_videos(task, result.variables, [features[c] for c in cal_sets])
    test_logits = predict_videos(task, result.variables, [features[s.test] for s in splits])
    before, after, probs, platt = [], [], [], []
    for s, c, lc, lt in zip(splits, cal_sets, cal_logits, test_logits):
        p_cal, p_test = _sigmoid(lc), _sigmoid(lt)
        slope, intercept = platt_scaling(p_cal, labels[c])
        q_test = calibrate(p_test, slope, intercept)
        before.append(binary_scores(labels[s.test], p_test))
        after.append(binary_scores(labels[s.test], q_test))
        probs.append((p_test, q_test))
        platt.append((slope, intercept))
    return ProtocolResult(splits, before, after, probs, platt, result)


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-np.asarray(z, np.float64)))

