"""The smartphone family (seed 003, Passmore et al.) at prediction time: its forward pass, its inference inputs,
its trained model (the stacked split instances and their Platt scalings) and its registration — everything loading,
predicting and exporting need, without :mod:`infantjax.train`.

(videos, T, 46) Passmore features → every clip of 128 samples at stride 8 (547 from 4500 samples) → the 1D-CNN with
clip attention → one logit per video and instance → σ, each instance's Platt scaling, the mean over instances. The
training task (:class:`infantjax.train.PassmoreTask`) composes :class:`PassmoreForward`;
:func:`infantjax.pipelines.passmore.train_smartphone` trains a :class:`SmartphoneModel`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from infantjax import models
from infantjax.errors import ConfigError, DataError
from infantjax.infer.forward import Forward, Inputs
from infantjax.infer.graph import Deployable, instance
from infantjax.infer.inputs import as_array
from infantjax.infer.predict import Examples
from infantjax.infer.registry import register_family
from infantjax.infer.trained import Prediction, TrainedModel
from infantjax.models.zoo import synthetic_entry
from infantjax.models.passmore import PassmoreSpec

__all__ = ["NUM_FEATURES", "PassmoreForward", "PassmoreInputs", "SmartphoneModel", "SmartphonePrediction",
           "calibrate", "clip_starts", "video_clips", "video_examples", "video_logits"]

#: The Passmore features per sample.
NUM_FEATURES = 46


def calibrate(probabilities: np.ndarray, slope: float, intercept: float) -> np.ndarray:
    """σ(α·p + β): ``predict_proba(p)[:, 1]`` of the fitted Platt model."""
    z = slope * np.asarray(probabilities, np.float64) + intercept
    return 1.0 / (1.0 + np.exp(-z))


@dataclasses.dataclass(frozen=True)
class PassmoreInputs(Inputs):
    """What a smartphone model reads at prediction time (the same fields of :class:`infantjax.train.PassmoreConfig`).

    Attributes:
        clip_length, clip_stride: 128-sample clips at stride 8 (547 from 4500 samples).
    """

    clip_length: int = 128
    clip_stride: int = 8


class PassmoreForward(Forward):
    """The seed 003 1D-CNN's forward: clips (N, S, 46, L) → ``{"logit": (N,)}``."""

    inputs_type = PassmoreInputs

    def init(self, key) -> dict:
        return models.init(self.spec, key, input_shape=(1, 1, NUM_FEATURES, self.spec.clip_length))

    def apply(self, variables, clips):
        logits, _ = self.model.apply(variables, clips, train=False)
        return {"logit": logits}

    def prepare(self, features, clip_step: int = 1) -> Examples:
        """(videos, T, 46) features → the clips of every video, cut a chunk of videos at a time."""
        return video_examples(_features(features), self.inputs, clip_step)


def _features(features) -> np.ndarray:
    """The smartphone model's input checked: (videos, samples, 46) finite features, at least one video."""
    from infantjax.sequence import SkeletonSequence

    if isinstance(features, SkeletonSequence) or (isinstance(features, (list, tuple)) and features
                                                   and isinstance(features[0], SkeletonSequence)):
        raise DataError("SmartphoneModel.predict takes the 46 features of every sample of every video "
                        "(videos, samples, 46), not keypoints: compute them from a passmore-18 recording "
                        "with infantjax.pipelines.passmore.sequence_features(sequence, frame_size) (what "
                        "`infantjax smartphone predict` does with a DeepLabCut file)")
    return as_array(features, (None, None, NUM_FEATURES), where="SmartphoneModel.predict",
                    what="the 46 features of every sample of every video (videos, samples, 46)")


def clip_starts(num_samples: int, length: int = 128, stride: int = 8) -> np.ndarray:
    """First samples of the clips of a recording: 0, stride, ... (547 clips of 128 from 4500 samples at stride 8)."""
    if num_samples < length:
        raise DataError(f"a recording of {num_samples} samples is shorter than one clip of {length}; seed 003 "
                        f"time-normalises every video to 4500 samples (preprocess_passmore)")
    return np.arange(0, num_samples - length + 1, stride)


def video_clips(features: np.ndarray, length: int = 128, stride: int = 8, step: int = 1
                ) -> np.ndarray:
    """All clips of one video in the network's layout.

    Arguments:
        features: (T, 46) feature matrix (:func:`infantjax.preprocess.passmore.passmore_features`).
        length, stride: clip length and stride.
        step: keep every ``step``-th clip.

    Returns:
        (clips, 46, length) float32.
    """
    f = np.asarray(features, np.float32)
    starts = clip_starts(len(f), length, stride)[::step]
    return np.ascontiguousarray(np.swapaxes(f[starts[:, None] + np.arange(length)[None, :]], 1, 2))


def video_examples(features: Sequence[np.ndarray], config, clip_step: int = 1) -> Examples:
    """The clips of videos for stacked inference, cut a chunk of videos at a time: (videos, clips, 46, length).

    Arguments:
        features: (videos, T, 46) feature matrices (or a list of (T, 46)).
        config: the clip length and stride (:class:`PassmoreInputs`, or a training config with those fields).
        clip_step: use every k-th clip (1 = all).
    """
    c = config

    def fetch(lo: int, hi: int) -> np.ndarray:
        return np.stack([video_clips(v, c.clip_length, c.clip_stride, clip_step) for v in features[lo:hi]])

    return Examples(len(features), fetch)


def video_logits(outputs) -> np.ndarray:
    """The logits of :meth:`PassmoreForward.apply` outputs (and the training task's) as float64."""
    return np.asarray(outputs["logit"], np.float64)


@dataclasses.dataclass(frozen=True)
class SmartphonePrediction(Prediction):
    """Abnormal-movement probabilities of videos (:meth:`SmartphoneModel.predict`; also readable as a mapping).

    Attributes:
        probability: (videos,) the mean calibrated probability over instances.
        uncalibrated: (videos,) the mean σ(logit) over instances.
        instances: (instances, videos) the calibrated probability of each instance.
    """

    probability: np.ndarray
    uncalibrated: np.ndarray
    instances: np.ndarray


@register_family(recording="the 46 features of every sample of every video, (videos, samples, 46) "
                           "(infantjax.pipelines.passmore.sequence_features of a passmore-18 recording)",
                 zoo=(  # the family's shipped models (infantjax.models.zoo)
    synthetic_entry("smartphone-synthetic", "passmore-smartphone", "smartphone_synthetic.npz",
                    "the seed 003 1D-CNN with clip attention × repeated splits, Platt-calibrated abnormal-movement "
                    "probability from smartphone (DeepLabCut passmore-18) keypoints",
                    "60 easy synthetic infants of 20 s, passmore-18 keypoints (seed 101); 8 repeated splits, the "
                    "quick recipe (40 epochs)",
                    "held-out AUC 0.86 (catch22 0.78) on 40 fresh synthetic infants (seed 1000)"),
))
class SmartphoneModel(TrainedModel):
    """The instances of a trained protocol and their Platt scalings (a
    :class:`~infantjax.infer.trained.TrainedModel`).

    Arguments:
        spec: the network.
        config: the recipe it was trained with (an :class:`infantjax.train.PassmoreConfig`; a model loaded before
            :mod:`infantjax.train` is imported keeps the saved record as a dict until it is).
        variables: stacked variables, leading instance axis.
        platt: (instances, 2) slope and intercept of every instance's Platt scaling.
    """

    kind, spec_type, forward_type = "passmore-smartphone", PassmoreSpec, PassmoreForward
    training_module = "infantjax.train.passmore"
    title = "a smartphone model written by `infantjax smartphone train`"

    def __init__(self, spec: PassmoreSpec, config, variables, platt: np.ndarray):
        super().__init__(spec, config, variables)
        self.platt = np.asarray(platt, np.float64).reshape(-1, 2)

    def header(self) -> dict:
        return {**super().header(), "platt": self.platt.tolist()}

    @classmethod
    def from_saved(cls, header, variables) -> SmartphoneModel:
        return cls(cls.spec_from(header), cls.config_from(header), variables, np.asarray(header["platt"]))

    def logits(self, features: np.ndarray, *, chunk: int = 1) -> np.ndarray:
        """(instances, videos) logits of every instance on every clip of every video (the lower-level call of
        :meth:`predict`; the clips are shared by the instances, never copied per instance).

        One video per call by default: 25 instances × 547 clips take 53 MB (XLA's memory analysis of the call;
        4 videos: 198 MB at the same speed; 4 videos copied per instance, as before the stacked-inference primitive:
        1.42 GB; ``python benchmarks/passmore.py --memory --videos N``)."""
        f = _features(features)
        return video_logits(self.predictor()(video_examples(f, self.inputs), chunk=chunk))

    graph_options = ("clips",)

    def graph(self, clips: int = 547) -> Deployable:
        """The model as an export graph: clips (N, S, 46, L) of N videos → the calibrated probability (N,), its
        uncalibrated σ(logit) (N,) and every instance's calibrated probability (N, I) (each instance's logit, σ,
        its Platt scaling, then the mean over instances, as :meth:`predict` does).

        Arguments:
            clips: clips per video S (547: a recording time-normalised to 4500 samples, clips of 128 at stride 8).
        """
        return _smartphone_graph(self, clips)

    def example_input(self, seed: int = 0) -> tuple:
        """One video of 300 samples of random features (the 46 of a passmore-18 recording)."""
        rng = np.random.default_rng(seed)
        return (rng.normal(size=(1, 300, 46)).astype(np.float32),)

    def predict(self, features: np.ndarray, *, chunk: int = 1) -> SmartphonePrediction:
        """Probabilities of videos: every instance on every clip.

        Arguments:
            features: (videos, T, 46).
            chunk: videos per call at most (:meth:`logits`).

        Returns:
            a :class:`SmartphonePrediction`.
        """
        p = 1.0 / (1.0 + np.exp(-self.logits(features, chunk=chunk)))
        q = np.stack([calibrate(p[i], *self.platt[i]) for i in range(self.num_instances)])
        return SmartphonePrediction(q.mean(0), p.mean(0), q)

    def instance_variables(self, i: int) -> dict:
        """The variables of instance ``i`` (host arrays)."""
        return {k: _index(v, i) for k, v in self.variables.items()}


def _index(tree, i: int):
    return jax.tree_util.tree_map(lambda x: np.asarray(x)[i], tree)


def _smartphone_graph(model, clips: int = 547) -> Deployable:
    """A :class:`~infantjax.pipelines.passmore.SmartphoneModel` from clips to the calibrated probability (module
    docstring).

    Arguments:
        model: the smartphone model.
        clips: clips per video S (547: a recording time-normalised to 4500 samples, clips of 128 at stride 8).
    """
    forward, spec = model.forward, model.spec
    count = model.num_instances
    stack = [instance(model.variables, i) for i in range(count)]
    platt = np.asarray(model.platt, np.float32)
    if clips < 1:
        raise ConfigError(f"clips must be >= 1, got {clips}")

    def graph(forms: str) -> Callable:
        def fn(x):
            logits = [forward.apply(v, x)["logit"] for v in stack]  # the instances unrolled, (N,) each
            p = jnp.stack([jax.nn.sigmoid(z) for z in logits], axis=-1)  # (N, I)
            q = jax.nn.sigmoid(p * platt[:, 0] + platt[:, 1])  # Platt scaling of each instance
            return jnp.mean(q, axis=-1), jnp.mean(p, axis=-1), q

        return fn

    def reference(x: np.ndarray) -> tuple:
        logit = video_logits(model.predictor()(np.asarray(x, np.float32), chunk=1))  # (I, N)
        p = 1.0 / (1.0 + np.exp(-logit))
        q = np.stack([calibrate(p[i], *model.platt[i]) for i in range(count)])
        return q.mean(0), p.mean(0), q.T

    def sample(n: int, seed: int = 0) -> np.ndarray:
        rng = np.random.default_rng(seed)
        return rng.normal(0.0, 0.5, (n, clips, NUM_FEATURES, spec.clip_length)).astype(np.float32)

    return Deployable(
        f"smartphone model ({count} instances)", "smartphone", graph, "clips", (clips, NUM_FEATURES, spec.clip_length),
        f"(N, {clips}, {NUM_FEATURES}, {spec.clip_length}) float32: every clip of N videos (the 46 Passmore features "
        f"of infantjax.pipelines.passmore.sequence_features, cut by infantjax.infer.passmore.video_clips: "
        f"{spec.clip_length} samples at stride {model.inputs.clip_stride})",
        ("probability", "uncalibrated", "instances"),
        ("(N,) the mean calibrated probability of abnormal movements over the instances",
         "(N,) the mean σ(logit) over the instances", f"(N, {count}) each instance's calibrated probability"),
        reference, sample,
        {"model": "smartphone", "spec": spec.to_dict(), "instances": count, "platt": model.platt.tolist(),
         "info": dict(getattr(model, "info", {}) or {})})
