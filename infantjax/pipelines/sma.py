"""Kinect limb tracks → CHOP INTEND extremity score (seed 000, Soran et al.), end to end.

(T, 4, 3) limb tracks of a 2-minute recording → lost frames dropped, standardised, 900-frame windows at stride 50
(:func:`~infantjax.preprocess.sma.limb_windows`) → the Table 1 CNN → window scores → the recording's score by mean,
median and quartile analysis.

* :func:`train_sma`: leave-one-subject-out (:func:`infantjax.protocols.sma.run_loso`) → an :class:`SMAModel` (the fold
  networks) and the held-out results;
* :class:`SMAModel` (defined with its forward pass in :mod:`infantjax.infer.sma`): ``predict`` (each recording's score: the window scores averaged over the fold networks, then
  aggregated; an :class:`SMAPrediction`), ``window_scores`` beside it, ``save``, ``load`` (the common trained-model
  format, :mod:`infantjax.infer.trained`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from infantjax.infer.sma import SMAModel, SMAPrediction
from infantjax.models.sma import SMASpec

import infantjax.train.sma  # noqa: E402,F401 - binds the family's training config and task (model.config)

if TYPE_CHECKING:
    from infantjax.protocols.sma import LOSOResult
    from infantjax.train.sma import SMAConfig

__all__ = ["SMAModel", "SMAPrediction", "train_sma"]


def train_sma(tracks: Sequence[np.ndarray], scores: Sequence[float], subjects: Sequence[str], *,
              spec: SMASpec | None = None, config: SMAConfig | None = None, seed: int = 0,
              folds: Sequence[str] | None = None, checkpoint_dir=None) -> tuple[SMAModel, LOSOResult]:
    """Leave-one-subject-out on recordings, keeping the fold networks as a model.

    Arguments:
        tracks: per recording, (T, 4, 3) limb tracks.
        scores: (recordings,) CHOP INTEND extremity scores.
        subjects: (recordings,) subject ids.
        spec, config: network and recipe (defaults: Table 1 and the paper's).
        seed: fold k trains with seed ``seed + k``.
        folds: held-out subjects (default every subject).
        checkpoint_dir: checkpoint and resume the stacked run there.

    Returns:
        (the model, the held-out results).
    """
    from infantjax.protocols.sma import run_loso
    from infantjax.train.sma import SMAConfig, recording_windows

    spec = SMASpec() if spec is None else spec
    config = SMAConfig() if config is None else config
    windows = recording_windows(tracks, scores, subjects, window=config.window, stride=config.stride,
                                standardize=config.standardize)
    result = run_loso(windows, spec=spec, config=config, seed=seed, folds=folds, checkpoint_dir=checkpoint_dir)
    return SMAModel(spec, config, result.fit.variables), result
