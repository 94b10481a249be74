"""The MAM family (seed 001, Gao et al. 2023) at prediction time: its forward pass, its inference inputs, its trained
model (the cross-validation's fold instances) and its registration — everything loading and predicting need,
without :mod:`infantjax.train`.

(T, F) motion features of a recording → every clip (``clip_stride`` apart, padded to a power of two of clips and
masked) → MAM → the risk, main-branch and per-clip FMs probabilities, the mean over instances. The training task
(:class:`infantjax.train.MamTask`) composes :class:`MamForward`; :func:`infantjax.pipelines.mam.train_mam` trains a
:class:`MamModel`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from infantjax.errors import DataError
from infantjax.infer.forward import Forward, Inputs
from infantjax.infer.inputs import as_array, as_arrays
from infantjax.infer.predict import Examples
from infantjax.infer.registry import register_family
from infantjax.infer.trained import Prediction, TrainedModel
from infantjax.models.zoo import synthetic_entry
from infantjax.models.mam import CHARACTERISTICS, MamSpec, fms_frequency

__all__ = ["MamForward", "MamModel", "MamPrediction", "MamSettings", "check_info", "check_recordings", "clip_slots",
           "clip_starts", "recording_clips", "recording_examples", "recording_outputs"]


@dataclasses.dataclass(frozen=True)
class MamSettings(Inputs):
    """What a MAM model reads at prediction time (the same fields of :class:`infantjax.train.MamConfig`; the name
    ``MamInputs`` is the cohort's prepared inputs in :mod:`infantjax.pipelines.mam`).

    Attributes:
        clip_stride: frames between the starts of a recording's clips (150: clips of 240 overlapping by 90).
        threshold: the FMs probability above which a clip is called FMs (the FMs frequency).
        eval_batch_size: recordings per inference call at most.
    """

    clip_stride: int = 150
    threshold: float = 0.5
    eval_batch_size: int = 4


class MamForward(Forward):
    """MAM's forward: ``{"x": (B, clips, L, F), "mask": (B, clips), "info": (B, 4)}`` → the risk, main and clip
    logits and the attention."""

    inputs_type = MamSettings
    exports = False  # three inputs (clips, mask, characteristics): no one-array export graph

    def apply(self, variables, inputs) -> dict:
        out = self.model.apply(variables, inputs["x"], inputs["mask"], inputs["info"])
        return {k: out[k] for k in ("risk_logit", "main_logit", "clip_logit", "attention")}


def _inputs_of(owner):
    """The clip stride and threshold of a forward (its inputs) or of a training task (its config)."""
    return owner.inputs if isinstance(owner, Forward) else owner.config


def clip_starts(num_frames: int, length: int, stride: int) -> np.ndarray:
    """First frames of a recording's clips: 0, stride, ... (every clip that fits)."""
    if num_frames < length:
        raise DataError(f"a recording of {num_frames} frames is shorter than one clip of {length} frames; MAM needs "
                        f"recordings of at least one clip ({length / 25:.1f} s at 25 fps)")
    return np.arange(0, num_frames - length + 1, stride)


def recording_clips(features: np.ndarray, length: int, stride: int) -> np.ndarray:
    """All clips of one recording: (T, F) → (clips, length, F) float32."""
    f = np.asarray(features, np.float32)
    starts = clip_starts(len(f), length, stride)
    return f[starts[:, None] + np.arange(length)[None, :]]


def check_recordings(recordings, spec: MamSpec, where: str) -> tuple[np.ndarray, ...]:
    out = []
    for i, r in enumerate(recordings):
        r = np.asarray(r, np.float32)
        if r.ndim != 2 or r.shape[1] != spec.num_features:
            raise DataError(f"{where}: recording {i} has shape {r.shape}; the model takes (frames, "
                            f"{spec.num_features}) {spec.input} features of {spec.num_joints} joints "
                            "(infantjax.models.mam.motion_features)")
        if len(r) < spec.clip_length:
            raise DataError(f"{where}: recording {i} has {len(r)} frames, shorter than one clip of "
                            f"{spec.clip_length}; MAM needs recordings of at least one clip")
        if not np.isfinite(r).all():
            raise DataError(f"{where}: recording {i} contains NaN/inf")
        out.append(r)
    if not out:
        raise DataError(f"{where}: no recordings")
    return tuple(out)


def check_info(info, n: int, where: str) -> np.ndarray:
    x = np.asarray(info, np.float32) if info is not None else np.zeros((n, len(CHARACTERISTICS)), np.float32)
    if x.shape != (n, len(CHARACTERISTICS)):
        raise DataError(f"{where}: characteristics must be ({n}, {len(CHARACTERISTICS)}) "
                        f"(infantjax.models.mam.characteristics), got {x.shape}")
    if not np.isfinite(x).all():
        raise DataError(f"{where}: characteristics are missing (NaN) for some recordings; seed 001 needs all four "
                        "or use_info=False")
    return x


def recording_examples(task, recordings: Sequence[np.ndarray], info: np.ndarray, clips: int
                       ) -> Examples:
    """Recordings for stacked inference, every clip (stride ``config.clip_stride``) cut a chunk at a time:
    ``{"x": (B, clips, L, F), "mask": (B, clips), "info": (B, 4)}``, shorter recordings' clips masked.

    Arguments:
        task: the forward (:class:`MamForward`) or the training task (clip length and stride).
        recordings: (T, F) motion features of each recording.
        info: (N, 4) characteristics.
        clips: clips per recording in the batch (at least the longest recording's; padding is masked out).
    """
    c, spec = _inputs_of(task), task.spec
    L, F = spec.clip_length, spec.num_features

    def fetch(lo: int, hi: int) -> dict:
        x = np.zeros((hi - lo, clips, L, F), np.float32)
        mask = np.zeros((hi - lo, clips), np.float32)
        for b, r in enumerate(recordings[lo:hi]):
            starts = clip_starts(len(r), L, c.clip_stride)
            x[b, :len(starts)] = r[starts[:, None] + np.arange(L)[None, :]]
            mask[b, :len(starts)] = 1.0
        return {"x": x, "mask": mask, "info": np.asarray(info[lo:hi], np.float32)}

    return Examples(len(recordings), fetch)


def recording_outputs(task, outputs: dict, starts: Sequence[np.ndarray]) -> dict:
    """Stacked-inference outputs of one instance's recordings as probabilities (float64): ``{"risk", "main",
    "clip_fms" (list of (clips,)), "attention" (list), "fms_frequency", "clip_starts" (list)}``."""
    clip_fms = [_sigmoid(outputs["clip_logit"][b, :len(s)]) for b, s in enumerate(starts)]
    return {"risk": _sigmoid(outputs["risk_logit"]), "main": _sigmoid(outputs["main_logit"]), "clip_fms": clip_fms,
            "attention": [np.asarray(outputs["attention"][b, :len(s)], np.float64) for b, s in enumerate(starts)],
            "fms_frequency": np.asarray([fms_frequency(p[None], threshold=_inputs_of(task).threshold)[0]
                                         for p in clip_fms]),
            "clip_starts": list(starts)}


def clip_slots(starts: Sequence[Sequence[np.ndarray]]) -> int:
    """Clips per recording of a stacked-inference batch: the most clips of any recording, rounded up to a power
    of two (recordings of other lengths reuse the compiled calls; the padding clips are masked out)."""
    most = max((len(s) for per in starts for s in per), default=1)
    return 1 << max(0, (most - 1).bit_length())


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-np.asarray(z, np.float64)))


@dataclasses.dataclass(frozen=True)
class MamPrediction(Prediction):
    """Risk, FMs clips and FMs frequency of recordings, the mean over instances (:meth:`MamModel.predict`; also
    readable as a mapping).

    Attributes:
        risk: (N,) the risk probability.
        clip_fms: per recording, (clips,) the FMs probability of each clip.
        fms_frequency: (N,) the fraction of clips called FMs.
        clip_starts: per recording, the first frame of each clip.
    """

    risk: np.ndarray
    clip_fms: list
    fms_frequency: np.ndarray
    clip_starts: list


@register_family(recording="per recording, the (T, F) motion features of its 3D keypoints (a list), and "
                           "the (N, 4) characteristics when the model has the Info branch",
                 zoo=(  # the family's shipped models (infantjax.models.zoo)
    synthetic_entry("mam-synthetic", "mam", "mam_synthetic.npz",
                    "MAM (Ref / Main / Info branches, width 32) × 2 folds: risk, FMs clips and FMs frequency from 3D "
                    "keypoints at 25 fps",
                    "36 synthetic infants of 40 s at 25 fps, 3D keypoints (seed 101); Ref pretraining clips of 12 "
                    "others (seed 1101); MAM width 32, 2 blocks, quick recipe, 2 folds",
                    "held-out AUC 0.97, FMs-frequency AUC 0.94, clip κ 0.88 on 24 fresh synthetic infants (seed "
                    "2000)"),
))
class MamModel(TrainedModel):
    """MAM's fold instances: stacked variables (leading instance axis), spec and recipe (a
    :class:`~infantjax.infer.trained.TrainedModel`)."""

    kind, spec_type, forward_type = "mam", MamSpec, MamForward
    training_module = "infantjax.train.mam"
    title = "a MAM model written by `infantjax mam train`"

    def instance_outputs(self, features: Sequence[np.ndarray], info: np.ndarray | None = None, *,
                         chunk: int | None = None) -> list[dict]:
        """Every instance's outputs on every clip of every recording (the lower-level call of :meth:`predict`; the
        recordings are shared by the instances, never copied per instance): per instance ``{"risk", "main",
        "clip_fms", "attention", "fms_frequency", "clip_starts"}``."""
        forward, spec = self.forward, self.spec
        recordings = check_recordings(features, spec, "MamModel.predict")
        info = check_info(info, len(recordings), "MamModel.predict")
        starts = [clip_starts(len(x), spec.clip_length, self.inputs.clip_stride) for x in recordings]
        inputs = recording_examples(forward, recordings, info, clip_slots([starts]))
        out = self.predictor()(inputs, chunk=int(chunk or self.inputs.eval_batch_size))
        return [recording_outputs(forward, {k: v[i] for k, v in out.items()}, starts)
                for i in range(self.num_instances)]

    def example_input(self, seed: int = 0) -> tuple:
        """One recording of two clips' worth of random motion features, and its characteristics when the model
        has the Info branch (sex 1, 38 weeks' gestation, 3.0 kg at birth, 12 weeks' corrected age)."""
        rng = np.random.default_rng(seed)
        features = [rng.normal(size=(2 * self.spec.clip_length, self.spec.num_features)).astype(np.float32)]
        if not self.spec.use_info:
            return (features,)
        return features, np.array([[1.0, 38.0, 3.0, 12.0]], np.float32)

    def predict(self, features: Sequence[np.ndarray], info: np.ndarray | None = None) -> MamPrediction:
        """Risk, FMs clips and FMs frequency of recordings: the mean over instances.

        Arguments:
            features: per recording, (T, F) motion features.
            info: (N, 4) characteristics (needed when the model has the Info branch).

        Returns:
            a :class:`MamPrediction`.
        """
        features = as_arrays(features, (None, self.spec.num_features), where="MamModel.predict",
                             what=f"per recording, the (T, {self.spec.num_features}) motion features")
        if self.spec.use_info and info is None:
            raise DataError("this MAM model has the Info branch: pass the characteristics (sex, gestational age, "
                            "birth weight, corrected age)")
        if info is not None:
            info = as_array(info, (len(features), 4), where="MamModel.predict",
                            what="the characteristics (sex, gestational age, birth weight, corrected age) "
                                 "of every recording, (N, 4)")
        outs = self.instance_outputs(features, info)
        clip = [np.mean([o["clip_fms"][r] for o in outs], axis=0) for r in range(len(features))]
        return MamPrediction(np.mean([o["risk"] for o in outs], axis=0), clip,
                             np.asarray([fms_frequency(p[None], threshold=self.inputs.threshold)[0] for p in clip]),
                             outs[0]["clip_starts"])
