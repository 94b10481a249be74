"""The CP family (seed 002, Ensemble-NAS-GCN) at prediction time: its inference inputs, the recording → positions
step and the GCN's scoring forward — what :class:`infantjax.ensemble.Ensemble` loads and predicts with, without
:mod:`infantjax.train`.

An In-Motion 19 skeleton sequence → (confidence masking) → ``preprocess_cp`` → (T, 19, 2) positions
(:func:`prepare_sequence`) → windows of ``window`` frames at hop ``hop`` → per window: the v1 window rotation, the
position / velocity / bone features, the GCN → P(CP) and the joint CAM scores (:class:`CPForward`).
The training task (:class:`infantjax.train.CPTask`) composes :class:`CPForward` (its ``predict`` gives the logits
of :meth:`CPForward.logits`); the training recipe (:class:`infantjax.train.CPConfig`) holds the same fields as
:class:`CPInputs` and more.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable

import numpy as np

from infantjax import skeleton as _skeleton
from infantjax._jsonconfig import check_positive_ints
from infantjax.errors import ConfigError, DataError
from infantjax.infer.forward import Forward, Inputs

__all__ = ["NUM_JOINTS", "SKELETON", "CPForward", "CPInputs", "build", "input_channels", "positive_probability",
           "prepare_sequence", "scoring_forward", "scoring_maps", "standardise_windows", "window_features"]

#: The keypoint set every Ensemble-NAS-GCN model is trained on (seed 002).
SKELETON = "in-motion-19"
NUM_JOINTS = 19


def _host(default):
    """A field that changes no compiled program (the host side: windowing, preprocessing, call sizes)."""
    return dataclasses.field(default=default, metadata={"host": True})


def check_preprocessing(owner: str, preprocess_version, window_rotation) -> None:
    """The checks :class:`CPInputs` and :class:`infantjax.train.CPConfig` (``owner``, the name the message gives)
    make of their fields ``preprocess_version`` and ``window_rotation``: a ConfigError for a value outside
    ``"v1"``/``"v2"`` and ``"reference"``/``"corrected"``/None."""
    if preprocess_version not in ("v1", "v2"):
        raise ConfigError(f"{owner}.preprocess_version must be 'v1' or 'v2', got {preprocess_version!r}")
    if window_rotation not in (None, "reference", "corrected"):
        raise ConfigError(f"{owner}.window_rotation must be 'reference', 'corrected' or None, got "
                          f"{window_rotation!r}")


@dataclasses.dataclass(frozen=True)
class CPInputs(Inputs):
    """What a CP model reads at prediction time (the same fields of :class:`infantjax.train.CPConfig`, whose
    docstring describes them).

    Attributes:
        window, hop: frames per window and the hop between windows (the last window aligned to the end).
        preprocess, preprocess_version, confidence_threshold: the recording → positions step
            (:func:`prepare_sequence`).
        window_rotation, feature_mode: the window rotation and the features inside the compiled forward.
        model_mode, bn_numerics, remat: how the network is built (:func:`build`; ``remat`` changes only the
            training step, and ``"auto"``, decided by the training task, builds the plain network here).
        eval_batch_size: windows per scoring call at most.
    """

    window: int = 150
    hop: int = _host(75)
    preprocess: bool = _host(True)
    preprocess_version: str = _host("v1")
    window_rotation: str | None = "reference"
    confidence_threshold: float | None = _host(None)
    feature_mode: str = "reference"
    model_mode: str = "reference"
    bn_numerics: str = "flax"
    remat: bool | str = False
    eval_batch_size: int = _host(256)
    memory_budget: int | None = _host(None)

    def __post_init__(self):
        check_positive_ints(self, ("window", "hop", "eval_batch_size"), "CPInputs")
        if self.window < 3:
            raise ConfigError(f"CPInputs.window must be at least 3 frames, got {self.window}")
        check_preprocessing("CPInputs", self.preprocess_version, self.window_rotation)

    def compile_key(self) -> tuple:
        """The values of the fields the compiled forward depends on (the host fields left out)."""
        return tuple((f.name, getattr(self, f.name)) for f in dataclasses.fields(self)
                     if not f.metadata.get("host", False))


# ------------------------------------------------------------------------------------------------------ the host side
_PLAUSIBLE_NORMALISED = 1e4  # after preprocess_cp coordinates are in trunk lengths: |x| of a few at most
_PLAUSIBLE_RAW = 1e9  # raw keypoints in any unit (io.keypoints.common.PLAUSIBLE_COORDINATE)


def prepare_sequence(sequence, config, *, where: str = "sequence") -> np.ndarray:
    """Preprocess one recording and return its 2-D positions (T, 19, 2) float32 without NaN.

    Arguments:
        sequence: an In-Motion 19 :class:`~infantjax.sequence.SkeletonSequence` (raw keypoints unless
            ``config.preprocess`` is False).
        config: the inputs (:class:`CPInputs`, or a :class:`infantjax.train.CPConfig`: window length,
            preprocessing on/off and version, confidence threshold).
        where: names the recording in error messages.

    Raises:
        SkeletonMismatchError: the sequence is not In-Motion 19.
        DataError: not a sequence, all keypoints missing, or shorter than one window after preprocessing.
    """
    from infantjax.sequence import SkeletonSequence

    if not isinstance(sequence, SkeletonSequence):
        raise DataError(f"{where}: expected a SkeletonSequence, got {type(sequence).__name__}")
    sequence.require(SKELETON, min_frames=1, where=where)
    if config.confidence_threshold is not None:
        from infantjax.preprocess import mask_low_confidence

        sequence = mask_low_confidence(sequence, config.confidence_threshold)
    if config.preprocess:
        from infantjax.preprocess import preprocess_cp

        sequence = preprocess_cp(sequence, version=config.preprocess_version)
    else:
        sequence.warn_if_variable_rate(f"{where} (windows cut from the frames as they are)")
    coords = np.asarray(sequence.coords, dtype=np.float32)[..., :2]
    if np.isnan(coords).all():
        raise DataError(f"{where}: every keypoint is missing (all NaN) after preprocessing; check the input file")
    far = float(np.nanmax(np.abs(coords)))
    if not np.isfinite(far) or far > (_PLAUSIBLE_NORMALISED if config.preprocess else _PLAUSIBLE_RAW):
        # a damaged keypoint far out (3e38) survives preprocessing as ~1e36 and overflows the networks into NaN
        raise DataError(f"{where}: a keypoint lies {far:.3g} {'trunk lengths' if config.preprocess else 'units'} "
                        "from the centre; the input holds implausible coordinates (a damaged file?): check it")
    if coords.shape[0] < config.window:
        raise DataError(
            f"{where}: {coords.shape[0]} frames after preprocessing, but one window needs {config.window} "
            f"({config.window / 30:.1f} s at 30 Hz); use a longer recording"
        )
    # keypoints still missing after preprocessing sit at the origin (the trunk centre after normalisation)
    return np.nan_to_num(coords, nan=0.0)


# ------------------------------------------------------------------------------------------------------ the network
def build(spec, config, num_joints: int = NUM_JOINTS):
    """The Flax module of ``spec``: a GCNSpec/STGCNSpec through :func:`infantjax.models.build`, or a ready
    ``flax.linen.Module`` with the same interface (``apply(variables, x, train=...) -> (logits, features)``);
    ``config`` (:class:`CPInputs` or a ``CPConfig``) gives ``model_mode``, ``bn_numerics`` and ``remat``."""
    import flax.linen as nn

    if isinstance(spec, nn.Module):
        return spec
    from infantjax import models

    return models.build(spec, num_joints=num_joints, mode=config.model_mode, bn_numerics=config.bn_numerics,
                        remat=config.remat is True)


def input_channels(model) -> int:
    """Input channels a model takes: the first C of [position | velocity | bone] (6 for the searchable GCN, 2 for
    the paper's ST-GCN baseline, which saw positions only; gcn_reference B.1)."""
    spec = getattr(model, "spec", None)
    for obj in (spec, model):
        if obj is None:
            continue
        if hasattr(obj, "num_input_branches") and hasattr(obj, "in_channels_per_branch"):
            return int(obj.num_input_branches * obj.in_channels_per_branch)
        if hasattr(obj, "in_channels"):
            return int(obj.in_channels)
    return 6


def standardise_windows(positions, config):
    """The v1 window rotation (first-frame spine straight down), before any augmentation (A.9); jit-able."""
    if config.window_rotation is None:
        return positions
    from infantjax.preprocess import rotate_windows

    return rotate_windows(positions, SKELETON, config.window_rotation)


def window_features(positions, config):
    """Positions (..., T, J, 2) → position, velocity and bone channels (..., T, J, 6) (jit-able)."""
    from infantjax.preprocess import features

    parents = _skeleton.get(SKELETON).parents
    return features(positions, parents, mode=config.feature_mode)


def positive_probability(logits):
    """Softmax probability of class 1 (CP) of two-logit outputs (..., 2) → (...), the score every evaluation uses."""
    import jax

    return jax.nn.softmax(logits, axis=-1)[..., 1]


# ------------------------------------------------------------------------------------------------------ the forward
class CPForward(Forward):
    """The GCN's forward on windows of positions (N, window, 19, 2): the window rotation, the features, the network.

    ``apply`` (the scoring forward of every ensemble stack) gives (P(CP) (N,), joint CAM scores (N, V));
    :meth:`logits` the network's (N, 2) logits (the training task's ``predict``).

    Arguments:
        spec: a GCNSpec / STGCNSpec, or a Flax module with the same interface.
        inputs: :class:`CPInputs` (a ``CPConfig`` or its dict is read by :meth:`Inputs.of`).
        num_joints: joints per frame (19, In-Motion).
    """

    inputs_type = CPInputs
    exports = False  # the ensemble exports one stack with its own graph (infantjax.ensemble.Ensemble.graph)

    def __init__(self, spec, inputs=None, num_joints: int = NUM_JOINTS):
        super().__init__(spec, inputs)
        self.num_joints = int(num_joints)

    @functools.cached_property
    def model(self):
        return build(self.spec, self.inputs, self.num_joints)

    @functools.cached_property
    def channels(self) -> int:
        return input_channels(self.model)

    def init(self, key) -> dict:
        """The network's variables (``batch_stats`` present, empty for a network without BatchNorm)."""
        import jax.numpy as jnp

        from infantjax import models

        sample = jnp.zeros((1, self.inputs.window, self.num_joints, self.channels), jnp.float32)
        variables = models.init_module(self.model, key, sample)
        variables.setdefault("batch_stats", {})
        return variables

    def network_inputs(self, positions):
        """Window positions → the network input (rotation standardised, features, the model's channels)."""
        return window_features(standardise_windows(positions, self.inputs), self.inputs)[..., :self.channels]

    def logits(self, variables, positions):
        """The network's (N, 2) logits of windows."""
        logits, _ = self.model.apply(variables, self.network_inputs(positions), train=False)
        return logits

    def apply(self, variables, positions):
        """(P(CP) (N,), signed joint CAM scores (N, V) in [-1, 1]) of windows (:func:`scoring_forward` of this
        forward)."""
        return scoring_forward(self)(variables, positions)

    def prepare(self, sequence, *, where: str = "sequence") -> np.ndarray:
        """A recording → its (T, 19, 2) positions (:func:`prepare_sequence`)."""
        return prepare_sequence(sequence, self.inputs, where=where)

    def compile_key(self) -> tuple:
        return (type(self), self.model, self.inputs.compile_key(), self.num_joints)


@functools.lru_cache(maxsize=64)
def scoring_forward(forward: CPForward) -> Callable:
    """One instance's scoring forward: windows → (P(CP) (W,), signed joint CAM scores (W, V) in [-1, 1]) (what
    every ensemble stack runs through :class:`~infantjax.infer.predict.StackedPredictor`, the windows shared
    by all its instances); one function per forward (equal forwards compile equal programs), so the compiled
    programs are shared by every ensemble of that architecture. The scores are
    :func:`infantjax.models.gcn.cam.joint_scores` with ``signed=True``: their positive part is the reference's
    CP score, their negative part the no-CP class's (:meth:`infantjax.ensemble.Ensemble.predict` splits
    them)."""
    from infantjax.models.gcn import class_activation_map
    from infantjax.models.gcn.cam import joint_scores

    model, spec = forward.model, forward.spec

    def one(variables, positions):
        logits, features = model.apply(variables, forward.network_inputs(positions), train=False)
        cam = joint_scores(class_activation_map(spec, variables, features), signed=True)
        return positive_probability(logits), cam

    one.program_key = f"cp-scoring {forward!r}"  # the traced program kept on disk (infantjax.infer.stored)
    return one


@functools.lru_cache(maxsize=64)
def scoring_maps(forward: CPForward) -> Callable:
    """One instance's scoring forward up to the class activation maps: windows → (P(CP) (W,), CAM maps
    (W, T', V, 2)), of which :func:`scoring_forward`'s joint CAM scores are
    :func:`infantjax.models.gcn.cam.joint_scores` (a median over T'). What the LiteRT files of ``infantjax assess
    --runtime litert`` compute (the TFLite converter has no sort for the median, which runs on the host there)."""
    from infantjax.models.gcn import class_activation_map

    model, spec = forward.model, forward.spec

    def maps(variables, positions):
        logits, features = model.apply(variables, forward.network_inputs(positions), train=False)
        return positive_probability(logits), class_activation_map(spec, variables, features)

    return maps
