"""The SMA family (seed 000, Soran et al.) at prediction time: its forward pass, its inference inputs, its trained
model and its registration — everything loading and predicting needs, without :mod:`infantjax.train`.

(T, 4, 3) Kinect limb tracks of a recording → lost frames dropped, standardised, 900-frame windows at stride 50
(:func:`~infantjax.preprocess.sma.limb_windows`) → the Table 1 CNN → window scores (offset + scale × output) →
the recording's score by mean, median and quartile analysis. The training task
(:class:`infantjax.train.SMATask`) composes :class:`SMAForward`; :func:`infantjax.pipelines.sma.train_sma` trains
an :class:`SMAModel`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from infantjax.infer.forward import Forward, Inputs
from infantjax.infer.inputs import as_arrays
from infantjax.infer.registry import register_family
from infantjax.infer.trained import Prediction, TrainedModel
from infantjax.models.zoo import synthetic_entry
from infantjax.models.sma import AGGREGATIONS, SMASpec, aggregate_recording
from infantjax.preprocess.sma import STRIDE, WINDOW, limb_windows

__all__ = ["SCORE_RANGE", "SMAForward", "SMAInputs", "SMAModel", "SMAPrediction"]

SCORE_RANGE = (0.0, 72.0)  # the CHOP INTEND extremity score (9 items × 2 sides × 0–4)


@dataclasses.dataclass(frozen=True)
class SMAInputs(Inputs):
    """What an SMA model reads at prediction time (the same fields of :class:`infantjax.train.SMAConfig`).

    Attributes:
        window, stride, standardize: the windows of a recording (:func:`~infantjax.preprocess.sma.limb_windows`).
        score_offset, score_scale: a window's score is ``score_offset + score_scale ×`` the network's output.
        clip_predictions: clip window scores to [0, 72].
    """

    window: int = WINDOW
    stride: int = STRIDE
    standardize: bool = True
    score_offset: float = 0.0
    score_scale: float = 1.0
    clip_predictions: bool = False


class SMAForward(Forward):
    """The Table 1 CNN's forward: (N, window, 4, 3) windows → (N,) scores."""

    inputs_type = SMAInputs

    def apply(self, variables, windows):
        i = self.inputs
        return i.score_offset + i.score_scale * self.model.apply(variables, windows, train=False)

    def prepare(self, tracks) -> list[np.ndarray]:
        """Per recording, its (W, window, 4, 3) windows."""
        i = self.inputs
        tracks = as_arrays(tracks, (None, 4, 3), where="SMAModel.predict",
                           what="per recording, the (T, 4, 3) limb tracks", nan="partial")
        return [limb_windows(t, window=i.window, stride=i.stride, standardize=i.standardize,
                             where=f"recording {n}") for n, t in enumerate(tracks)]

    def finish_scores(self, scores) -> np.ndarray:
        """Predicted window scores on the host: float64, clipped to [0, 72] when the inputs say so."""
        scores = np.asarray(scores, np.float64)
        return np.clip(scores, *SCORE_RANGE) if self.inputs.clip_predictions else scores


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


@register_family(recording="Kinect limb tracks: per recording, a (T, 4, 3) array",
                 zoo=(  # the family's shipped models (infantjax.models.zoo)
    synthetic_entry("sma-narrow-synthetic", "soran-sma", "sma_narrow_synthetic.npz",
                    "the narrow copy of Table 1's CNN (SMASpec.narrow()) × leave-one-subject-out folds: CHOP INTEND "
                    "extremity score from Kinect limb tracks",
                    "10 synthetic SMA-like infants × 2 Kinect recordings of 60 s (seed 101); SMASpec.narrow(), "
                    "leave-one-subject-out, quick recipe 20 epochs",
                    "held-out recording error 12.2 points of 72 (LASSO 12.6, the training mean 12.9) on 12 fresh "
                    "synthetic recordings (seed 1000)"),
))
class SMAModel(TrainedModel):
    """The fold networks of a leave-one-subject-out run (a :class:`~infantjax.infer.trained.TrainedModel`).

    Arguments:
        spec: the network.
        config: the recipe it was trained with (an :class:`infantjax.train.SMAConfig`, which
            :mod:`infantjax.train.sma`, the family's ``training_module``, binds; a loaded model keeps the saved
            record until :attr:`config` is first read, which imports it: predicting never does).
        variables: stacked variables, leading instance axis.
    """

    kind, spec_type, forward_type = "soran-sma", SMASpec, SMAForward
    training_module = "infantjax.train.sma"
    title = "an SMA model written by `infantjax sma train`"

    def window_scores(self, windows: np.ndarray, *, chunk: int = 256) -> np.ndarray:
        """Scores of (N, 900, 4, 3) windows by every fold network: (instances, N) float64 (the lower-level call of
        :meth:`predict`; the windows are shared by the instances, never copied per instance)."""
        windows = np.asarray(windows, np.float32)
        return self.forward.finish_scores(self.predictor()(windows, chunk=chunk))

    def example_input(self, seed: int = 0) -> tuple:
        """One recording of 1,000 frames of random Kinect limb tracks (4 limbs × 3 coordinates)."""
        rng = np.random.default_rng(seed)
        return ([rng.normal(size=(1000, 4, 3)).astype(np.float32)],)

    def predict(self, tracks: Sequence[np.ndarray], *, chunk: int = 256) -> SMAPrediction:
        """Scores of recordings.

        Arguments:
            tracks: per recording, (T, 4, 3) limb tracks (NaN where a limb was lost).
            chunk: windows per call at most.

        Returns:
            an :class:`SMAPrediction`: each recording's aggregated scores and its window scores (averaged over the
            fold networks).

        Raises:
            DataError: not a list of (T, 4, 3) arrays, an empty list, a recording that is NaN everywhere,
                holds an infinity, or is shorter than a window.
        """
        windows = self.forward.prepare(tracks)  # at least one recording, each with something tracked
        scores = self.window_scores(np.concatenate(windows), chunk=chunk).mean(axis=0)
        per = np.split(scores, np.cumsum([len(w) for w in windows])[:-1])
        out = {m: np.asarray([aggregate_recording(s, m) for s in per]) for m in AGGREGATIONS}
        return SMAPrediction(out["mean"], out["median"], out["quartile"], per)
