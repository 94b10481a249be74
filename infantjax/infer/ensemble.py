"""The CP family: fold ensembles, instances of one architecture as a leading axis, run as one vmapped program.

The Ensemble-NAS-GCN of seed 002 is 10 architectures × 7 cross-validation folds = 70 instances. Here each
architecture's 7 fold instances are one stacked pytree (every leaf has a leading instance axis), trained together by
one jitted, vmapped step (:func:`infantjax.train.fit`, driven by :func:`infantjax.protocols.cp.train`) and run
together by one stacked-inference call (:mod:`infantjax.infer.predict`) of the family's forward
(:class:`infantjax.infer.cp.CPForward`). The family is defined here like every other: its training config and task
(:class:`infantjax.train.CPConfig`, :class:`~infantjax.train.cp.CPTask`) are bound by its ``training_module`` and
imported only when :attr:`Ensemble.config` or :meth:`Ensemble.task` is first used, so loading and predicting import
neither optax nor :mod:`infantjax.train`. The ensemble is one stack per architecture. With several devices the
instance axis is sharded over the mesh axis ``instance`` and the windows over ``data`` (padded and masked when the
count does not divide).

    ens = infantjax.protocols.cp.train(specs, cohort, config)   # len(specs) × 7 folds
    prediction = ens.predict(sequence)                      # P(CP) (windows × instances), CAM scores
    result = infantjax.clinical.assess_prediction(prediction)   # risk, class, certainty colour, CAM
    ens.save("ens"); ens = infantjax.load("ens")   # one Orbax checkpoint + specs and config as JSON

``infantjax.pipelines.cp.predict_risk(ens, sequence)`` does both steps. Networks trained with the reference code
(DeepInMotion/MovementOutcome) become an ensemble with :func:`infantjax.ensemble.from_movementoutcome`.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import pathlib
from collections.abc import Callable
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from infantjax import backend, parallel
from infantjax.errors import CheckpointError, ConfigError, DataError
from infantjax.sequence import Cohort, SkeletonSequence
from infantjax.infer import cp as _cp
from infantjax.infer.cp import NUM_JOINTS, CPForward, CPInputs, build, input_channels
from infantjax.infer.graph import Deployable, instance
from infantjax.infer.inputs import as_sequence
from infantjax.infer.predict import StackedPredictor, concurrently, place_stack
from infantjax.infer.registry import register_family
from infantjax.infer.trained import TrainedModel, read_header
from infantjax.models.zoo import synthetic_entry

__all__ = ["FORMAT", "MIRRORS", "Ensemble", "EnsemblePrediction", "orientation_warning", "scoring_forward",
           "spec_from_dict", "spec_to_dict"]

log = logging.getLogger(__name__)

#: The format of version 1 of the saved ensemble, ``ensemble.json`` (still read; version 2 is the common
#: ``model.json`` of :mod:`infantjax.infer.trained`).
FORMAT = "infantjax-ensemble"
_META = "ensemble.json"
#: how :meth:`Ensemble.predict` treats mirror images: None scores the windows as given (the reference);
#: ``"average"`` also scores their mirror images and averages the two (a mirrored video gets the same answer)
MIRRORS = (None, "average")

# ------------------------------------------------------------------------------------------------------ specs
def spec_to_dict(spec) -> dict:
    """A GCNSpec or STGCNSpec as the JSON record of a saved ensemble (its type name and fields)."""
    from infantjax.models.gcn import GCNSpec, STGCNSpec

    if isinstance(spec, (GCNSpec, STGCNSpec)):
        return {"type": type(spec).__name__, **spec.to_dict()}
    raise ConfigError(f"an ensemble can only save GCNSpec or STGCNSpec architectures, got {type(spec).__name__}")


def spec_from_dict(data: dict):
    """The spec of a saved ensemble's JSON record (:func:`spec_to_dict`)."""
    from infantjax.models.gcn import GCNSpec, STGCNSpec

    data = dict(data)
    kind = data.pop("type", None)
    classes = {"GCNSpec": GCNSpec, "STGCNSpec": STGCNSpec}
    if kind not in classes:
        raise CheckpointError(f"unknown architecture type {kind!r} in the ensemble file; expected one of "
                              f"{sorted(classes)}")
    return classes[kind].from_dict(data)


def _abstract_stack(spec, config: CPInputs, count: int):
    """Shapes and dtypes of ``count`` stacked instances of ``spec`` (no computation)."""
    model = build(spec, config)
    sample = jnp.zeros((1, config.window, NUM_JOINTS, input_channels(model)), jnp.float32)
    keys = jnp.zeros((count, 2), jnp.uint32)
    shapes = jax.eval_shape(jax.vmap(lambda k: model.init(k, sample, train=False)), keys)
    return {"params": shapes["params"], "batch_stats": shapes.get("batch_stats", {})}


# ------------------------------------------------------------------------------------------------------ inference
def orientation_warning(orientation: str, angle: float, config: Any,
                        fix: str = "window_rotation='corrected'") -> str | None:
    """The warning for a recording whose spine is not upright, or None when the windows are rotated correctly.

    The reference window rotation (``CPConfig.window_rotation="reference"``, seed 002's ``arccos`` quirk) is exact
    only when the thorax lies above the pelvis: it mirrors the windows of a head-down recording and rotates those
    of a sideways one inexactly; without rotation (None, v1) the networks see the body at an angle they never saw.
    v2 aligns the trunk in every frame, and ``"corrected"`` rotates every orientation exactly.

    Arguments:
        orientation, angle: :func:`infantjax.preprocess.spine_orientation` of the recording.
        config: the inputs (:class:`~infantjax.infer.cp.CPInputs`, or the training config, CPConfig) the
            recording is scored under.
        fix: how the caller's user asks for the corrected rotation (a keyword, a command's flag).

    Returns:
        one sentence naming the orientation and the fix, or None.
    """
    if orientation not in ("inverted", "sideways") or config.preprocess_version != "v1" \
            or config.window_rotation == "corrected":
        return None
    how = "head-down" if orientation == "inverted" else "sideways"
    if config.window_rotation == "reference":
        fix = ("the reference window rotation mirrors or misaligns such windows, so the risk is unreliable; "
               f"score it with the corrected window rotation ({fix})")
    else:
        fix = ("this ensemble does not rotate windows, so the networks see the body at an angle they were not "
               "trained on; rotate the recording upright (head at the top of the image) and predict again")
    return f"the spine is {orientation} ({how}, {angle:+.0f}° from head-up in the image): {fix}"


def scoring_forward(forward, spec=None) -> Callable:
    """One instance's scoring forward: windows → (P(CP) (W,), joint CAM scores (W, V)) of a
    :class:`~infantjax.infer.cp.CPForward` (or of a CP task: its ``forward``), what every stack runs through
    :class:`~infantjax.infer.predict.StackedPredictor`; :func:`infantjax.infer.cp.scoring_forward` gives one
    function per forward, so the compiled programs are shared by every ensemble of that architecture.

    Arguments:
        forward: the stack's forward (a CPTask gives its own).
        spec: ignored (the forward's spec is the architecture; kept for the callers of the older signature).
    """
    return _cp.scoring_forward(getattr(forward, "forward", forward))


scoring_forward.cache_clear = _cp.scoring_forward.cache_clear


@dataclasses.dataclass(frozen=True, eq=False)
class EnsemblePrediction:
    """Every instance's prediction for every window of one recording (what :meth:`Ensemble.predict` returns).

    Attributes:
        probabilities: (W, I) P(CP) per window (rows) and instance (columns), instances in stack order.
        cam_scores: (I, W, V) per-instance, per-window joint CAM scores in [0, 1] toward CP, as the reference
            computes them (:func:`infantjax.models.gcn.cam.joint_scores`).
        window_starts: (W,) first frame of each window (at the model frame rate).
        instance_names: (I,) ``spec<k>/fold<f>``.
        threshold: the ensemble's default decision threshold.
        metadata: the recording's metadata plus fps, frame count, model frame rate and spine orientation.
        warnings: what may make these predictions wrong (:func:`orientation_warning`), each saying what to do.
        no_cp_cam_scores: (I, W, V) the same toward no CP (the two classes swapped, on the same scale: what
            explains a no-CP decision, :func:`infantjax.explain.decision_cam`), or None (not computed).
    """

    probabilities: np.ndarray
    cam_scores: np.ndarray
    window_starts: np.ndarray
    instance_names: tuple[str, ...]
    threshold: float = 0.5
    metadata: dict = dataclasses.field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    no_cp_cam_scores: np.ndarray | None = None

    @property
    def num_windows(self) -> int:
        return int(self.probabilities.shape[0])


@dataclasses.dataclass(eq=False)
@register_family(recording="a skeleton sequence (infantjax.SkeletonSequence, In-Motion 19 keypoints)",
                 zoo=(  # the family's shipped models (infantjax.models.zoo)
    synthetic_entry("cp-gcn-synthetic", "ensemble", "cp_gcn_synthetic.npz",
                    "the demo GCN (infantjax.models.gcn.presets.demo_spec) × 7 cross-validation folds × 4 seeds (28 "
                    "instances), CP risk from In-Motion 19 skeleton sequences",
                    "112 easy synthetic infants, 20 s at 30 fps, 40 % with CP (seed 101); the demo GCN × 7 folds × 4 "
                    "seeds (28 instances), the demo recipe",
                    "held-out AUC 0.87 on 60 fresh synthetic infants (seed 1000)"),
    synthetic_entry("cp-gcn-synthetic-3folds", "ensemble", "cp_gcn_synthetic_3folds.npz",
                    "cp-gcn-synthetic as it was until 2026-11-26: the same recipe with 3 folds and one seed, kept so that "
                    "the figures measured with it can be reproduced",
                    "112 easy synthetic infants, 20 s at 30 fps, 40 % with CP (seed 101); the demo GCN × 3 folds, "
                    "the demo recipe",
                    "held-out AUC 0.89 on 60 fresh synthetic infants (seed 1000)"),
    synthetic_entry("cp-gcn-tracked-home", "ensemble", "cp_gcn_tracked_home.npz",
                    "cp-gcn-tracked trained the same way on the keypoints rt-synthetic-infant-home (the pose model "
                    "trained for home videos: hidden joints, infrared, dim light, shake) tracks in the same rendered "
                    "videos: the ensemble to score that pose model's keypoints with; CP risk from In-Motion 19 "
                    "skeleton sequences",
                    "112 easy synthetic infants, 20 s at 30 fps, 40 % with CP (seed 101), the keypoints "
                    "rt-synthetic-infant-home tracks in their rendered 640x480 videos; the demo GCN × 7 folds × 4 "
                    "seeds (28 instances), the demo recipe",
                    "held-out AUC 0.88 on 60 fresh synthetic infants' rendered videos, tracked (seed 1000)"),
    synthetic_entry("cp-gcn-tracked-mirror", "ensemble", "cp_gcn_tracked_mirror.npz",
                    "cp-gcn-tracked trained the same way with every training window mirrored with chance 0.5 "
                    "(CPConfig.mirror): a mirrored video (a phone's front camera) gets nearly the answer of the "
                    "unmirrored one without scoring twice; CP risk from In-Motion 19 skeleton sequences",
                    "112 easy synthetic infants, 20 s at 30 fps, 40 % with CP (seed 101), the keypoints "
                    "rt-synthetic-infant-roi tracks in their rendered 640x480 videos; the demo GCN × 7 folds × 4 "
                    "seeds (28 instances), the demo recipe, each training window mirrored with chance 0.5",
                    "held-out AUC 0.88 on 60 fresh synthetic infants' rendered videos, tracked (seed 1000)"),
    synthetic_entry("cp-gcn-tracked", "ensemble", "cp_gcn_tracked.npz",
                    "the demo GCN × 7 cross-validation folds × 4 seeds trained on the keypoints the default infant pose "
                    "model (rt-synthetic-infant-roi) tracks in rendered videos, so that it reads the inputs infantjax assess "
                    "gives it; CP risk from In-Motion 19 skeleton sequences",
                    "112 easy synthetic infants, 20 s at 30 fps, 40 % with CP (seed 101), the keypoints "
                    "rt-synthetic-infant-roi tracks in their rendered 640x480 videos; the demo GCN × 7 folds × 4 "
                    "seeds (28 instances), the demo recipe",
                    "held-out AUC 0.88 on 60 fresh synthetic infants' rendered videos, tracked (seed 1000)"),
))
class Ensemble(TrainedModel):
    """Stacks of trained instances, one per architecture (a :class:`~infantjax.infer.trained.TrainedModel`: saved
    and loaded as every family's models are).

    Attributes:
        specs: the architectures (GCNSpec / STGCNSpec), one per stack.
        variables: per stack, Flax variables with a leading instance axis on every leaf (host numpy).
        config: the training recipe (:class:`~infantjax.train.CPConfig`; also fixes windowing, preprocessing and
            features at prediction time).
        threshold: default decision threshold of :meth:`predict`.
        fold_auc: per stack, the best validation AUC of each fold instance.
        metadata: free-form, JSON-serialisable information.
    """

    kind: ClassVar[str] = "ensemble"
    #: binds CPConfig and CPTask (:meth:`~infantjax.infer.trained.TrainedModel.trained_with`) on first use
    training_module: ClassVar[str | None] = "infantjax.train.cp"
    title: ClassVar[str] = "a saved ensemble"
    legacy_headers: ClassVar[tuple[str, ...]] = (_META,)
    #: the family's forward pass (one per stack, :meth:`stack_forward`); its inputs (:class:`CPInputs`) are the
    #: fields of the config prediction reads
    forward_type: ClassVar[type] = CPForward

    specs: list
    variables: list
    config: Any  # CPConfig (infantjax.train.cp), bound by the training module
    threshold: float = 0.5
    fold_auc: list = dataclasses.field(default_factory=list)
    metadata: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        if len(self.specs) != len(self.variables) or not self.specs:
            raise ConfigError(f"an ensemble needs one variables stack per spec; got {len(self.specs)} specs and "
                              f"{len(self.variables)} stacks")
        self.info: dict = {}  # provenance saved with the model (TrainedModel.info)
        self._device_cache: dict = {}
        self._tasks: dict = {}
        self._forwards: dict = {}
        self.predictors: dict = {}  # (stack, mesh, compile key of the config) → StackedPredictor

    # ------------------------------------------------------------------ sizes
    @property
    def stack_sizes(self) -> list[int]:
        return [int(jax.tree_util.tree_leaves(v)[0].shape[0]) for v in self.variables]

    @property
    def num_instances(self) -> int:
        return sum(self.stack_sizes)

    @property
    def instance_names(self) -> tuple[str, ...]:
        return tuple(f"spec{k}/fold{f}" for k, n in enumerate(self.stack_sizes) for f in range(n))

    def __repr__(self) -> str:
        return (f"Ensemble({len(self.specs)} architectures × {self.stack_sizes} instances = {self.num_instances}, "
                f"threshold {self.threshold:g})")

    # ------------------------------------------------------------------ prediction
    def _inputs_of(self, config) -> CPInputs:
        return self.inputs if config is None else CPInputs.of(config)

    def stack_forward(self, k: int, config=None) -> CPForward:
        """The forward pass of stack ``k`` under ``config`` (inputs or a training config; default the ensemble's),
        built once per stack and compiled inputs."""
        inputs = self._inputs_of(config)
        key = (k, inputs)
        if key not in self._forwards:
            self._forwards[key] = CPForward(self.specs[k], inputs)
        return self._forwards[key]

    @property
    def forward(self) -> CPForward:
        """The forward pass of the only stack (:meth:`stack_forward` for an ensemble of several)."""
        if len(self.specs) != 1:
            raise ConfigError(f"an ensemble of {len(self.specs)} stacks has one forward per stack: use "
                              "stack_forward(k)")
        return self.stack_forward(0)

    def task(self, k: int, config=None):
        """The CP training task of stack ``k`` under ``config`` (default the ensemble's; built once per stack and
        config). Training only: it imports the family's ``training_module``; prediction uses
        :meth:`stack_forward`."""
        config = self.config if config is None else config
        key = (k, json.dumps(config.to_dict(), sort_keys=True, default=str))
        if key not in self._tasks:
            self._tasks[key] = self.make_task(self.specs[k], config)
        return self._tasks[key]

    def stack_on(self, k: int, mesh):
        """Stack ``k``'s variables on ``mesh`` (padded, sharded over ``instance``; placed once per mesh)."""
        key = (k, mesh)
        if key not in self._device_cache:
            self._device_cache[key] = place_stack(self.variables[k], mesh)
        return self._device_cache[key]

    def predictor(self, k: int, mesh, config=None) -> StackedPredictor:
        """Stack ``k``'s scoring (:func:`scoring_forward` of its forward under ``config``, inputs or a training
        config) on ``mesh``, its compiled calls kept."""
        forward = self.stack_forward(k, config)
        key = (k, mesh, forward.compile_key())
        if key not in self.predictors:
            self.predictors[key] = StackedPredictor(
                _cp.scoring_forward(forward), self.stack_on(k, mesh), mesh=mesh,
                memory_budget=self.inputs.memory_budget, num_instances=self.stack_sizes[k])
        return self.predictors[key]

    def check_windows(self, positions, config=None, caller: str = "window_predictions") -> np.ndarray:
        """``positions`` as the float32 (W, window, 19, 2) windows this ensemble scores under ``config`` (default
        its own inputs); ``caller`` names the function in the errors (the XLA path and the LiteRT scorer share it).

        Raises:
            DataError: not numeric, another shape, no window, or NaN/inf positions (which would give NaN
                probabilities without an error)."""
        window = self._inputs_of(config).window
        try:
            positions = np.asarray(positions, dtype=np.float32)
        except (TypeError, ValueError):
            raise DataError(f"{caller} needs numeric (W, window, 19, 2) positions") from None
        if positions.ndim != 4 or positions.shape[1:] != (window, NUM_JOINTS, 2) or positions.shape[0] < 1:
            raise DataError(f"{caller} needs (W, {window}, {NUM_JOINTS}, 2) positions (windows of this "
                            f"ensemble's {window} frames), got shape {positions.shape}; cut them with "
                            "infantjax.preprocess.windows or use Ensemble.predict")
        if not np.isfinite(positions).all():
            raise DataError(f"{caller}: the windows hold NaN or inf positions; fill missing keypoints first "
                            "(Ensemble.predict preprocesses and fills them)")
        return positions

    def window_predictions(self, positions: np.ndarray, *, mesh=None, chunk: int | None = None,
                           config=None) -> tuple[np.ndarray, np.ndarray]:
        """Score preprocessed windows with every instance.

        Arguments:
            positions: (W, window, 19, 2) preprocessed positions.
            mesh: an ``("instance", "data")`` mesh (default: all devices, see
                :func:`infantjax.parallel.instance_mesh`), one per stack size.
            chunk: windows per call at most (default ``config.eval_batch_size``, or the backend policy's
                ``scoring_windows`` when smaller: 8 on CPU; lowered to fit ``config.memory_budget``); the windows
                run in calls of power-of-two sizes
                (:func:`infantjax.infer.predict.call_plan`), the last padded to at least ``MIN_CALL`` windows.
            config: the inputs (or training config) the windows are scored under (default the ensemble's; e.g.
                another window rotation).

        Returns:
            (P(CP) (W, I), signed joint CAM scores (I, W, V) in [-1, 1]) over all I instances in stack order:
            the positive part is the reference's CP score, the negative part the no-CP class's
            (:func:`infantjax.models.gcn.cam.joint_scores` with ``signed=True``).

        Raises:
            DataError: windows of another shape than (W, config.window, 19, 2), or with NaN/inf (which would give
                NaN probabilities without an error).
        """
        positions = self.check_windows(positions, config, "window_predictions")
        n_windows = positions.shape[0]
        if not chunk:
            chunk = self.inputs.eval_batch_size
            if backend.current().scoring_windows:  # CPU: small calls, one program per stack
                chunk = min(chunk, backend.current().scoring_windows)
        chunk = int(chunk)
        template = jax.ShapeDtypeStruct(positions.shape[1:], positions.dtype)

        def plan(k: int) -> StackedPredictor:
            """Stack k's predictor with every call the windows need compiled (stacks compile concurrently)."""
            m = mesh if mesh is not None else parallel.instance_mesh(self.stack_sizes[k])
            predictor = self.predictor(k, m, config)
            predictor.plan(n_windows, template, chunk=chunk)
            return predictor

        def score(k: int):
            """Stack k's outputs: on CPU the stacks are scored side by side (``Policy.scoring_stacks``), each
            call of the narrow GCNs leaving part of the cores idle."""
            return plan(k)(positions, chunk=chunk)

        stacks = range(len(self.specs))
        at_once = backend.current().scoring_stacks
        if at_once > 1:
            outputs = concurrently(score, stacks, limit=at_once)
        else:  # compiled concurrently, run one after another (one device's memory budget is for one call)
            outputs = [predictor(positions, chunk=chunk) for predictor in concurrently(plan, stacks)]
        probs, cams = zip(*outputs)
        return np.concatenate(probs, axis=0).T, np.concatenate(cams, axis=0)

    def compile_for(self, n_windows: int, *, window_rotation: str | None = None, mesh=None,
                    chunk: int | None = None) -> None:
        """Compile now the programs :meth:`predict` runs for a recording of ``n_windows`` windows (what
        :meth:`window_predictions` compiles on its first call), e.g. to have the compilation done before a
        progress bar times the work that follows.

        Raises:
            ConfigError: an unknown window rotation.
        """
        cfg = self.scoring_inputs(window_rotation)
        template = jax.ShapeDtypeStruct((cfg.window, NUM_JOINTS, 2), jnp.float32)
        chunk = int(chunk or self.inputs.eval_batch_size)

        def plan(k: int) -> None:
            m = mesh if mesh is not None else parallel.instance_mesh(self.stack_sizes[k])
            self.predictor(k, m, cfg).plan(max(int(n_windows), 1), template, chunk=chunk)

        for _ in concurrently(plan, range(len(self.specs))):
            pass

    def rotation_for(self, sequence: SkeletonSequence) -> str | None:
        """The window rotation ``window_rotation="auto"`` scores ``sequence`` with: ``"corrected"`` when its spine
        is head-down or sideways (:func:`infantjax.preprocess.spine_orientation`) and the ensemble rotates its
        windows the reference way (v1, ``"reference"``), which would mirror or misalign them; else None (the
        ensemble's own, so an upright recording is scored exactly as the reference scores it)."""
        from infantjax.preprocess import spine_orientation

        sequence = as_sequence(sequence, where="rotation_for")
        return self._rotation_for(spine_orientation(sequence, y_up=not self.inputs.preprocess)[0])

    def _rotation_for(self, orientation: str) -> str | None:
        cfg = self.inputs
        if cfg.preprocess_version != "v1" or cfg.window_rotation != "reference":
            return None
        return "corrected" if orientation in ("inverted", "sideways") else None

    def scoring_inputs(self, window_rotation: str | None = None) -> CPInputs:
        """The inputs :meth:`predict` scores under: the ensemble's, with ``window_rotation`` (``"reference"`` or
        ``"corrected"``) in place of its own when given.

        Raises:
            ConfigError: an unknown window rotation, or one for an ensemble trained without rotation.
        """
        cfg = self.inputs
        if window_rotation is not None and window_rotation != cfg.window_rotation:
            if window_rotation not in ("reference", "corrected"):
                raise ConfigError(f"window_rotation must be 'reference', 'corrected' or None, got {window_rotation!r}")
            if cfg.window_rotation is None:
                raise ConfigError("this ensemble was trained without window rotation (CPConfig.window_rotation=None"
                                  "); predict without window_rotation=")
            cfg = dataclasses.replace(cfg, window_rotation=window_rotation)
        return cfg

    def example_input(self, seed: int = 0) -> tuple:
        """One recording of an In-Motion 19 skeleton wandering at random around a body of plausible size, 30 fps,
        two windows long (at least 8 s)."""
        rng = np.random.default_rng(seed)
        body = (200 + 40 * rng.normal(size=(1, NUM_JOINTS, 2))).astype(np.float32)
        frames = max(240, 2 * self.inputs.window)
        return (SkeletonSequence(body + rng.normal(size=(frames, NUM_JOINTS, 2)).cumsum(0), fps=30.0),)

    def predict(self, sequence: SkeletonSequence, *, mesh=None, window_rotation: str | None = None,
                scorer: Callable | None = None, fix: str = "window_rotation='corrected'",
                camera: str | None = None, mirror: str | None = None) -> EnsemblePrediction:
        """Every instance's P(CP) and CAM scores for every window of one recording.

        Runs ``preprocess_cp`` (unless the config says the input is preprocessed), cuts windows of
        ``config.window`` frames with hop ``config.hop`` (the last aligned to the end) and scores every window
        with every instance (one vmapped call per architecture). The clinical result (risk, class, certainty
        colour, aggregated CAM) is :func:`infantjax.clinical.assess_prediction` of this.

        The spine's orientation is checked first: under the reference window rotation a head-down or sideways
        recording is scored wrongly, and the prediction carries a warning saying so (:func:`orientation_warning`).

        Arguments:
            sequence: an In-Motion 19 :class:`SkeletonSequence` at least one window long (5 s).
            mesh: optional mesh (default all devices).
            window_rotation: ``"reference"`` or ``"corrected"`` to score with another window rotation than the
                ensemble's config (``"corrected"`` scores head-down and sideways recordings correctly; it equals
                ``"reference"`` on upright ones); ``"auto"``: ``"corrected"`` for a head-down or sideways
                recording, the config's for an upright one (:meth:`rotation_for`; what ``infantjax assess`` does by
                default); None keeps the config's.
            scorer: what scores the windows instead of :meth:`window_predictions` (the XLA path):
                ``scorer(positions, config=inputs)`` → (P(CP) (W, I), signed joint CAM scores (I, W, V)) as
                :meth:`window_predictions` returns them, e.g. :class:`infantjax.deploy.scoring.LiteRTScorer` (the
                stacks run by the LiteRT interpreter).
            fix: how the orientation warning names the corrected rotation to its reader (a command's flag).
            camera: ``"auto"``: when the keypoints say a hand-held camera shook
                (:func:`infantjax.preprocess.camera.camera_motion`), they are scored with the shake taken out
                (:func:`infantjax.preprocess.camera.steady`), and the prediction carries a warning saying so (what
                ``infantjax assess`` does by default); ``"steady"``: always taken out; None (default, the
                reference): scored as given. ``metadata["camera"]`` records the shake and what was done.
            mirror: ``"average"``: every window is scored twice, as given and as its mirror image
                (:func:`infantjax.preprocess.mirror`: x reflected, left and right swapped), and each instance's
                P(CP) and joint scores are the means of the two, so that a mirrored video (a phone's front camera,
                an app that flips the picture) gets the same answer as the unmirrored one (the CP networks are not
                mirror-symmetric: one rendered infant's risk moves 0.319 → 0.451 when its exact keypoints are
                mirrored). Doubles the scoring work. None (default, the reference): scored as given.
                ``metadata["mirror"]`` records which.

        Raises:
            SkeletonMismatchError: not In-Motion 19.  DataError: all keypoints missing or shorter than a window.
            ConfigError: an unknown window rotation, or one for a v2 ensemble (which has none).
        """
        from infantjax.preprocess import spine_orientation, window_starts, windows
        from infantjax.preprocess import mirror as mirror_body
        from infantjax.skeleton import get as get_skeleton

        sequence = as_sequence(sequence, where=f"{type(self).__name__}.predict")
        if camera not in (None, "auto", "steady"):
            raise ConfigError(f"camera must be 'auto', 'steady' or None, got {camera!r}")
        if mirror not in MIRRORS:
            raise ConfigError(f"mirror must be 'average' or None, got {mirror!r}")
        camera_record, camera_warning = None, None
        if camera is not None:
            from infantjax.preprocess.camera import camera_motion, steady

            motion = camera_motion(sequence)
            steadied = camera == "steady" or motion.shaken
            camera_record = {**motion.to_json(), "asked": camera, "steadied": steadied}
            if steadied:
                sequence = steady(sequence, motion)
                if motion.shaken:
                    camera_warning = (f"the camera shook ({motion.shake:.1f} trunk lengths a second at its worst, "
                                      "a hand-held camera?): scored with its shake taken out of the keypoints")
        asked = window_rotation
        orientation, angle = spine_orientation(sequence, y_up=not self.inputs.preprocess)
        if window_rotation == "auto":
            window_rotation = self._rotation_for(orientation)
        cfg = self.scoring_inputs(window_rotation)
        coords = _cp.prepare_sequence(sequence, cfg, where=f"predict: {sequence.metadata.get('source', 'sequence')}")
        positions = windows(coords, length=cfg.window, hop=cfg.hop)
        starts = window_starts(coords.shape[0], cfg.window, cfg.hop)
        n = positions.shape[0]
        if mirror == "average":  # the mirror images scored in the same calls as the windows
            centre = 0.0 if cfg.preprocess else float(np.nanmedian(coords[..., 0]))
            positions = np.concatenate([positions, mirror_body(positions, _cp.SKELETON, centre_x=centre)])
        if scorer is None:
            probs, scores = self.window_predictions(positions, mesh=mesh, config=cfg)
        else:
            probs, scores = scorer(positions, config=cfg)
        if mirror == "average":  # a mirror image's joint scores belong to the joints it swapped
            perm = get_skeleton(_cp.SKELETON).flip_permutation()
            probs = 0.5 * (np.asarray(probs[:n]) + np.asarray(probs[n:]))
            scores = np.asarray(scores)
            scores = 0.5 * (scores[:, :n] + scores[:, n:][..., perm])
        warning = orientation_warning(orientation, angle, cfg, fix)
        if asked == "auto" and window_rotation == "corrected":
            how = "head-down" if orientation == "inverted" else "sideways"
            warning = (f"the spine is {orientation} ({how}, {angle:+.0f}° from head-up in the image): scored with "
                       "the corrected window rotation, which turns every window head-up (the reference rotation "
                       "would mirror or misalign them)")
        warns = tuple(w for w in (warning, camera_warning) if w)
        for w in warns:  # returned with the prediction, which its callers show: logged once, not shown twice
            log.info("%s: %s", sequence.metadata.get("source", "recording"), w)
        meta = {**dict(sequence.metadata), "fps": sequence.fps, "num_frames": sequence.num_frames,
                "model_fps": 30.0 if cfg.preprocess else sequence.fps,
                "spine_orientation": {"orientation": orientation, "angle": None if np.isnan(angle) else angle},
                "window_rotation": cfg.window_rotation, "window_rotation_asked": asked,
                "window": int(cfg.window), "hop": int(cfg.hop),
                "preprocess_version": cfg.preprocess_version, "mirror": mirror or "reference"}
        if camera_record is not None:
            meta["camera"] = camera_record
        meta = json.loads(json.dumps(meta, default=str))
        signed = np.asarray(scores)
        return EnsemblePrediction(probs, np.maximum(signed, 0), np.asarray(starts), self.instance_names,
                                  float(self.threshold), meta, warns,
                                  no_cp_cam_scores=np.maximum(-signed, 0))

    graph_options: ClassVar[tuple[str, ...]] = ("stack",)

    def graph(self, stack: int = 0) -> Deployable:
        """One GCN stack of the ensemble as an export graph: windows (W, T, 19, 2) of preprocessed positions →
        P(CP) (W, I) and the logits (W, I, 2) of every instance (the window rotation and the features are part of
        the graph; the instances unrolled).

        Arguments:
            stack: which architecture's stack (0 … ``len(specs) - 1``).
        """
        return _gcn_graph(self, stack)

    def scoring_graph(self, stack: int = 0, config=None) -> Deployable:
        """One GCN stack's scoring as an export graph: windows (W, T, 19, 2) of preprocessed positions → P(CP)
        (W, I) and the class activation maps (W, I, T', V, 2) of every instance, the instances unrolled — what
        :meth:`window_predictions` computes for that stack but the last step, the joint CAM scores
        (:func:`infantjax.models.gcn.cam.joint_scores`, a median over T', which the TFLite converter cannot
        express); its ``reference`` is the stack's own stacked predictor (:func:`infantjax.infer.cp.scoring_maps`).
        What ``infantjax assess --runtime litert`` runs (:mod:`infantjax.deploy.scoring`).

        Arguments:
            stack: which architecture's stack (0 … ``len(specs) - 1``).
            config: the inputs (or training config) the windows are scored under (default the ensemble's; e.g.
                another window rotation).

        Raises:
            ConfigError: a stack that does not exist.
        """
        return _scoring_graph(self, stack, config)

    def predict_cohort(self, cohort: Cohort, **kwargs) -> list[EnsemblePrediction]:
        """:meth:`predict` for every recording of a cohort."""
        return [self.predict(s, **kwargs) for s in cohort.sequences]

    # ------------------------------------------------------------------ persistence (TrainedModel's save / load)
    def header(self) -> dict:
        return {"specs": [spec_to_dict(s) for s in self.specs], "stack_sizes": self.stack_sizes,
                "instances": self.num_instances, "config": self.config.to_dict(), "threshold": float(self.threshold),
                "fold_auc": [list(map(float, a)) for a in self.fold_auc], "metadata": self.metadata}

    def saved_variables(self):
        return {f"stack{k}": v for k, v in enumerate(self.variables)}

    @classmethod
    def abstract_variables(cls, header) -> dict:
        specs, config, sizes = cls._parts(header)
        inputs = CPInputs.of(config)
        return {f"stack{k}": _abstract_stack(s, inputs, n) for k, (s, n) in enumerate(zip(specs, sizes))}

    @classmethod
    def from_saved(cls, header, variables) -> Ensemble:
        specs, config, _ = cls._parts(header)
        return cls(specs, [variables[f"stack{k}"] for k in range(len(specs))], config, float(header.get("threshold", 0.5)),
                   header.get("fold_auc", []), header.get("metadata", {}))

    @classmethod
    def _parts(cls, header) -> tuple[list, dict, list[int]]:
        try:
            specs = [spec_from_dict(s) for s in header["specs"]]
            config = dict(header["config"])
            CPInputs.of(config)  # what prediction reads, checked now (CPConfig checks the rest when it is read)
            sizes = [int(n) for n in header["stack_sizes"]]
        except (KeyError, TypeError, ValueError, ConfigError) as err:
            raise CheckpointError(f"the saved ensemble's header is incomplete or invalid ({type(err).__name__}: "
                                  f"{err})") from None
        if len(sizes) != len(specs):
            raise CheckpointError(f"the saved ensemble lists {len(specs)} specs but {len(sizes)} stack sizes")
        threshold = header.get("threshold", 0.5)
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 <= threshold <= 1:
            raise CheckpointError(f"the saved ensemble's threshold {threshold!r} is not a number in [0, 1]; correct "
                                  "the 'threshold' field (0.5 is the reference's) or save the ensemble again")
        return specs, config, sizes

    @classmethod
    def legacy_header(cls, path: pathlib.Path):
        """Version 1: ``ensemble.json`` (format ``infantjax-ensemble``), written before the common format."""
        if not (path / _META).is_file():
            return None
        file, record = read_header(path, names=(_META,), what="a saved ensemble")
        if record.get("format") != FORMAT:
            raise CheckpointError(f"{file} is not an infantjax ensemble file (format {record.get('format')!r})")
        return file, {**record, "kind": cls.kind, "format_version": 1}

    @classmethod
    def upgrade(cls, header: dict, version: int) -> dict:
        if version == 1:  # the same fields as version 2
            return header
        return super().upgrade(header, version)


def _gcn_graph(ensemble, stack: int = 0) -> Deployable:
    """One GCN stack of an :class:`~infantjax.ensemble.Ensemble` from windows to P(CP) per instance (module
    docstring).

    Arguments:
        ensemble: the ensemble.
        stack: which architecture's stack (0 … ``len(ensemble.specs) - 1``).
    """
    from infantjax.infer.cp import positive_probability
    from infantjax.infer.predict import StackedPredictor, task_forward

    if not 0 <= int(stack) < len(ensemble.specs):
        raise ConfigError(f"stack {stack} does not exist: the ensemble has {len(ensemble.specs)} stack(s), "
                          f"0 … {len(ensemble.specs) - 1}")
    stack = int(stack)
    forward, config = ensemble.stack_forward(stack), ensemble.inputs
    count = ensemble.stack_sizes[stack]
    instances = [instance(ensemble.variables[stack], i) for i in range(count)]

    def graph(forms: str) -> Callable:
        def fn(x):
            logits = jnp.stack([forward.model.apply(v, forward.network_inputs(x), train=False)[0]
                                for v in instances], axis=1)
            return positive_probability(logits), logits

        return fn

    def reference(x: np.ndarray) -> tuple:
        predictor = StackedPredictor(task_forward(forward, "logits"), ensemble.variables[stack],
                                     memory_budget=config.memory_budget)
        logits = np.asarray(predictor(np.asarray(x, np.float32)))  # (I, W, 2)
        logits = np.swapaxes(logits, 0, 1)
        shifted = np.exp(logits - logits.max(-1, keepdims=True))
        return (shifted / shifted.sum(-1, keepdims=True))[..., 1], logits

    sample = functools.partial(_random_walk_windows, config.window)

    spec = ensemble.specs[stack]
    return Deployable(
        f"GCN stack {stack} of {ensemble!r}", "gcn-stack", graph, "windows", (config.window, NUM_JOINTS, 2),
        f"(W, {config.window}, {NUM_JOINTS}, 2) float32: W windows of {config.window} frames of preprocessed "
        "In-Motion 19 positions (infantjax.infer.cp.prepare_sequence, then infantjax.preprocess.windows)",
        ("probability", "logits"),
        (f"(W, {count}) P(CP) of every window by every instance", f"(W, {count}, 2) the instances' logits"),
        reference, sample,
        {"model": "ensemble", "stack": stack, "spec": {"type": type(spec).__name__, **spec.to_dict()},
         "instances": count, "config": ensemble.config.to_dict(), "threshold": float(ensemble.threshold),
         "info": dict(getattr(ensemble, "info", {}) or {})})


def _random_walk_windows(window: int, n: int, seed: int = 0) -> np.ndarray:
    """The export graphs' sample input: a smooth random walk of every joint around a supine body outline, the value
    range of preprocessed windows, (n, window, 19, 2) float32."""
    rng = np.random.default_rng(seed)
    base = rng.normal(0.0, 0.3, (n, 1, NUM_JOINTS, 2))
    walk = np.cumsum(rng.normal(0.0, 0.01, (n, window, NUM_JOINTS, 2)), axis=1)
    return (base + walk).astype(np.float32)

def _scoring_graph(ensemble, stack: int = 0, config=None) -> Deployable:
    """One stack's scoring up to the class activation maps (P(CP) and CAM maps per window and instance) as a
    :class:`Deployable` (:meth:`Ensemble.scoring_graph`)."""
    if not 0 <= int(stack) < len(ensemble.specs):
        raise ConfigError(f"stack {stack} does not exist: the ensemble has {len(ensemble.specs)} stack(s), "
                          f"0 … {len(ensemble.specs) - 1}")
    stack = int(stack)
    forward = ensemble.stack_forward(stack, config)
    inputs = forward.inputs
    count = ensemble.stack_sizes[stack]
    instances = [instance(ensemble.variables[stack], i) for i in range(count)]
    maps = _cp.scoring_maps(forward)

    def graph(forms: str) -> Callable:
        def fn(x):
            outs = [maps(v, x) for v in instances]
            return jnp.stack([p for p, _ in outs], axis=1), jnp.stack([c for _, c in outs], axis=1)

        return fn

    def reference(x: np.ndarray) -> tuple:
        predictor = StackedPredictor(maps, ensemble.variables[stack], memory_budget=inputs.memory_budget)
        probability, cam = predictor(np.asarray(x, np.float32))  # (I, W), (I, W, T', V, 2)
        return np.swapaxes(np.asarray(probability), 0, 1), np.swapaxes(np.asarray(cam), 0, 1)

    sample = functools.partial(_random_walk_windows, inputs.window)

    spec = ensemble.specs[stack]
    return Deployable(
        f"GCN stack {stack} of {ensemble!r}, scoring", "gcn-scoring", graph, "windows",
        (inputs.window, NUM_JOINTS, 2),
        f"(W, {inputs.window}, {NUM_JOINTS}, 2) float32: W windows of {inputs.window} frames of preprocessed "
        "In-Motion 19 positions (infantjax.infer.cp.prepare_sequence, then infantjax.preprocess.windows)",
        ("probability", "cam_map"),
        (f"(W, {count}) P(CP) of every window by every instance",
         f"(W, {count}, T', {NUM_JOINTS}, 2) every instance's class activation maps (infantjax.models.gcn."
         "class_activation_map); the joint CAM scores are infantjax.models.gcn.cam.joint_scores of them"),
        reference, sample,
        {"model": "ensemble", "stack": stack, "spec": {"type": type(spec).__name__, **spec.to_dict()},
         "instances": count, "inputs": dict(inputs.compile_key()), "threshold": float(ensemble.threshold)})
