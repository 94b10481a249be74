"""Kinect limb tracks → CHOP INTEND extremity score (seed 000, Soran et al.), end to end.

(T, 4, 3) limb tracks of a 2-minute recording → lost frames dropped, standardised, 900-frame windows at stride 50
(:func:`~infantjax.preprocess.sma.limb_windows`) → the Table 1 CNN → window scores → the recording's score by mean,
median and quartile analysis.

* :func:`train_sma`: leave-one-subject-out (:func:`infantjax.protocols.sma.run_loso`) → an :class:`SMAModel` (the fold
  networks) and the held-out results;
* :class:`SMAModel`: ``predict`` (each recording's score: the window scores averaged over the fold networks, then
  aggregated; an :class:`SMAPrediction`), ``window_scores`` beside it, ``save``, ``load`` (the common trained-model
  format, :mod:`infantjax.train.trained`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from infantjax.models.sma import AGGREGATIONS, SMASpec, aggregate_recording
from infantjax.preprocess.sma import limb_windows
from infantjax.protocols.sma import LOSOResult, run_loso
from infantjax.train.sma import SMAConfig, SMATask, recording_windows
from infantjax.infer.inputs import as_arrays
from infantjax.infer.registry import register_family
from infantjax.infer.trained import Prediction, TrainedModel

__all__ = ["SMAModel", "SMAPrediction", "train_sma"]


@dataclasses.dataclass(frozen=True)
class SMAPrediction(Prediction):
    """CHOP INTEND extremity scores of recordings (:meth:`SMAModel.predict`; also readable as a mapping).

    Attributes:
        mean, median, quartile: (recordings,) each recording's score aggregated over its windows by that method.
        windows: per recording, its (W,) window scores averaged over the fold networks.
    """

    mean: np.ndarray
    median: np.ndarray
    quartile: np.ndarray
    windows: list


@register_family(recording="Kinect limb tracks of one recording (a sequence of (T, 3) arrays)")
class SMAModel(TrainedModel):
    """The fold networks of a leave-one-subject-out run (a :class:`~infantjax.train.trained.TrainedModel`).

    Arguments:
        spec: the network.
        config: the recipe it was trained with (windowing, score normalisation).
        variables: stacked variables, leading instance axis.
    """

    kind, spec_type, config_type, task_type = "soran-sma", SMASpec, SMAConfig, SMATask
    title = "an SMA model written by `infantjax sma train`"

    def window_scores(self, windows: np.ndarray, *, chunk: int = 256) -> np.ndarray:
        """Scores of (N, 900, 4, 3) windows by every fold network: (instances, N) float64 (the lower-level call of
        :meth:`predict`; the windows are shared by the instances, never copied per instance)."""
        windows = np.asarray(windows, np.float32)
        return self.task.finish_scores(self.predictor()(windows, chunk=chunk))

    def predict(self, tracks: Sequence[np.ndarray], *, chunk: int = 256) -> SMAPrediction:
        """Scores of recordings.

        Arguments:
            tracks: per recording, (T, 4, 3) limb tracks (NaN where a limb was lost).
            chunk: windows per call at most.

        Returns:
            an :class:`SMAPrediction`: each recording's aggregated scores and its window scores (averaged over the
            fold networks).
        """
        tracks = as_arrays(tracks, (None, 4, 3), where="SMAModel.predict",
                           what="per recording, the (T, 4, 3) limb tracks")
        c = self.config
        windows = [limb_windows(t, window=c.window, stride=c.stride, standardize=c.standardize,
                                where=f"recording {i}") for i, t in enumerate(tracks)]
        if not windows:
            return SMAPrediction(*(np.zeros(0) for _ in AGGREGATIONS), [])
        scores = self.window_scores(np.concatenate(windows), chunk=chunk).mean(axis=0)
        per = np.split(scores, np.cumsum([len(w) for w in windows])[:-1])
        out = {m: np.asarray([aggregate_recording(s, m) for s in per]) for m in AGGREGATIONS}
        return SMAPrediction(out["mean"], out["median"], out["quartile"], per)


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
    spec = SMASpec() if spec is None else spec
    config = SMAConfig() if config is None else config
    windows = recording_windows(tracks, scores, subjects, window=config.window, stride=config.stride,
                                standardize=config.standardize)
    result = run_loso(windows, spec=spec, config=config, seed=seed, folds=folds, checkpoint_dir=checkpoint_dir)
    return SMAModel(spec, config, result.fit.variables), result
