"""What is exported of each model: its inference as one function of one float32 array (:class:`Deployable`).

* the pose predictor's folded inference graph (:func:`pose_graph`): preprocessed images (N, R, R, 3) → upscaled
  heatmaps (N, R, R, K), BatchNorm folded (:mod:`infantjax.models.pose.inference`);
* the smartphone model (:func:`smartphone_graph`): clips (N, S, 46, L) of N videos → the calibrated probability
  (N,), its uncalibrated σ(logit) (N,) and every instance's calibrated probability (N, I): each stacked split
  instance's logit, σ, its Platt scaling, then the mean over instances, as ``SmartphoneModel.predict`` does;
* one GCN stack of an ensemble (:func:`gcn_graph`): windows (W, T, 19, 2) of preprocessed positions → P(CP) (W, I)
  and the logits (W, I, 2) of every instance (the window rotation and the features are part of the graph).

The instances of a stack are unrolled (each instance's weights are constants of the file), so every runtime sees plain
convolutions and products. Each :class:`Deployable` also carries the library's own inference path for the same input
(``reference``) — what the on-the-spot check and the tests compare the exported file with — and a sample input.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from infantjax.errors import ConfigError, ExportError

__all__ = ["FORMS", "Deployable", "deployable", "gcn_graph", "pose_graph", "smartphone_graph"]

#: The forms a graph is traced in, and the backend policy (:mod:`infantjax.backend`) each is traced under.
FORMS = {"portable": "accelerator", "cpu": "cpu", "mobile": "cpu"}


@dataclasses.dataclass(frozen=True, eq=False)
class Deployable:
    """A model's inference as one function of one float32 input.

    Attributes:
        name: what the model is (messages, the file's description).
        kind: ``"pose"``, ``"smartphone"`` or ``"gcn-stack"``.
        graph: ``graph(forms)`` → ``fn(x)`` returning a tuple of arrays (traced for export under the backend policy
            of ``forms``; its weights become constants). ``forms`` is the format's choice (:data:`FORMS`):
            ``"portable"`` (the runtimes' own operators: XLA's convolutions and einsums, grouped depthwise
            convolutions), ``"cpu"`` (infantjax's XLA:CPU forms) or ``"mobile"`` (the CPU forms of the layers —
            plain two-axis products — with the pose graph's grouped depthwise convolutions).
        input_name, input_shape: the input's name and per-example shape (the batch axis comes first).
        input_layout: what the input is, for the sidecar and the docs.
        output_names, output_layouts: the outputs' names and what they are.
        reference: ``reference(x)`` → the same outputs (numpy) through the library's own inference path.
        sample: ``sample(n, seed)`` → a deterministic input of ``n`` examples (float32).
        metadata: provenance written into the sidecar (the model's kind, spec, info).
    """

    name: str
    kind: str
    graph: Callable[[str], Callable]
    input_name: str
    input_shape: tuple[int, ...]
    input_layout: str
    output_names: tuple[str, ...]
    output_layouts: tuple[str, ...]
    reference: Callable[[np.ndarray], tuple]
    sample: Callable[..., np.ndarray]
    metadata: dict = dataclasses.field(default_factory=dict)


def _instance(tree, i: int):
    return jax.tree_util.tree_map(lambda a: np.asarray(a)[i], tree)


def pose_graph(predictor) -> Deployable:
    """The folded inference graph of a :class:`~infantjax.pipelines.pose.PosePredictor` (module docstring).

    Preprocess images as ``predictor.preprocess`` does (the official rescaling, padding and normalisation) before
    running the exported file; decode its heatmaps with :func:`infantjax.models.pose.decode_heatmaps` or take the
    arg-max of each channel.
    """
    from infantjax.models.pose.inference import InferenceOptions, default_options, efficientpose_heatmaps

    spec, r = predictor.spec, predictor.resolution
    folded = jax.tree_util.tree_map(np.asarray, predictor.inference_variables())

    def graph(forms: str) -> Callable:
        if forms != "cpu":  # XLA's grouped depthwise convolution: Conv(group=C) / DEPTHWISE_CONV_2D natively
            options = InferenceOptions(depthwise="conv", microbatch=None, se_fold=False)
        else:  # the CPU forms, whole batches (a symbolic batch cannot be cut into microbatches)
            options = dataclasses.replace(default_options("cpu"), microbatch=None)

        def fn(x):
            return (efficientpose_heatmaps(folded, x, spec, options),)

        return fn

    def reference(x: np.ndarray) -> tuple:
        return (predictor.forward(x),)

    def sample(n: int, seed: int = 0) -> np.ndarray:
        rng = np.random.default_rng(seed)
        images = rng.integers(0, 256, (n, r, r * 3 // 4, 3), dtype=np.uint8)  # portrait: the padding is exercised
        return np.stack([predictor.preprocess(im) for im in images]).astype(np.float32)

    k = spec.num_keypoints
    return Deployable(
        f"EfficientPose {spec.variant} ({predictor.skeleton.name}, {r} px)", "pose", graph, "images", (r, r, 3),
        f"(N, {r}, {r}, 3) float32 images preprocessed as PosePredictor.preprocess does (rescaled and padded to "
        f"{r} × {r}, {'[-1, 1]' if spec.lite else 'ImageNet mean/std'} normalisation), channels last",
        ("heatmaps",), (f"(N, {r}, {r}, {k}) upscaled heatmaps of the {k} keypoints of {predictor.skeleton.name}",),
        reference, sample,
        {"model": "pose", "spec": spec.to_dict(), "skeleton": predictor.skeleton.name, "info": dict(predictor.info)})


def smartphone_graph(model, clips: int = 547) -> Deployable:
    """A :class:`~infantjax.pipelines.passmore.SmartphoneModel` from clips to the calibrated probability (module
    docstring).

    Arguments:
        model: the smartphone model.
        clips: clips per video S (547: a recording time-normalised to 4500 samples, clips of 128 at stride 8).
    """
    from infantjax.train.passmore import NUM_FEATURES

    task, spec = model.task, model.spec
    count = model.num_instances
    stack = [_instance(model.variables, i) for i in range(count)]
    platt = np.asarray(model.platt, np.float32)
    if clips < 1:
        raise ConfigError(f"clips must be >= 1, got {clips}")

    def graph(forms: str) -> Callable:
        def fn(x):
            logits = [task.predict(v, x)["logit"] for v in stack]  # the instances unrolled, (N,) each
            p = jnp.stack([jax.nn.sigmoid(z) for z in logits], axis=-1)  # (N, I)
            q = jax.nn.sigmoid(p * platt[:, 0] + platt[:, 1])  # Platt scaling of each instance
            return jnp.mean(q, axis=-1), jnp.mean(p, axis=-1), q

        return fn

    def reference(x: np.ndarray) -> tuple:
        from infantjax.protocols.calibration import calibrate
        from infantjax.train.passmore import video_logits

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
        f"of infantjax.pipelines.passmore.sequence_features, cut by infantjax.train.passmore.video_clips: "
        f"{spec.clip_length} samples at stride {model.config.clip_stride})",
        ("probability", "uncalibrated", "instances"),
        ("(N,) the mean calibrated probability of abnormal movements over the instances",
         "(N,) the mean σ(logit) over the instances", f"(N, {count}) each instance's calibrated probability"),
        reference, sample,
        {"model": "smartphone", "spec": spec.to_dict(), "instances": count, "platt": model.platt.tolist(),
         "info": dict(getattr(model, "info", {}) or {})})


def gcn_graph(ensemble, stack: int = 0) -> Deployable:
    """One GCN stack of an :class:`~infantjax.ensemble.Ensemble` from windows to P(CP) per instance (module
    docstring).

    Arguments:
        ensemble: the ensemble.
        stack: which architecture's stack (0 … ``len(ensemble.specs) - 1``).
    """
    from infantjax.train.cp import NUM_JOINTS
    from infantjax.train.losses import positive_probability
    from infantjax.train.predict import StackedPredictor, task_forward

    if not 0 <= int(stack) < len(ensemble.specs):
        raise ConfigError(f"stack {stack} does not exist: the ensemble has {len(ensemble.specs)} stack(s), "
                          f"0 … {len(ensemble.specs) - 1}")
    stack = int(stack)
    task, config = ensemble.task(stack), ensemble.config
    count = ensemble.stack_sizes[stack]
    instances = [_instance(ensemble.variables[stack], i) for i in range(count)]

    def graph(forms: str) -> Callable:
        def fn(x):
            logits = jnp.stack([task.model.apply(v, task.inputs(x), train=False)[0] for v in instances], axis=1)
            return positive_probability(logits), logits

        return fn

    def reference(x: np.ndarray) -> tuple:
        predictor = StackedPredictor(task_forward(task), ensemble.variables[stack],
                                     memory_budget=config.memory_budget)
        logits = np.asarray(predictor(np.asarray(x, np.float32)))  # (I, W, 2)
        logits = np.swapaxes(logits, 0, 1)
        shifted = np.exp(logits - logits.max(-1, keepdims=True))
        return (shifted / shifted.sum(-1, keepdims=True))[..., 1], logits

    def sample(n: int, seed: int = 0) -> np.ndarray:
        # a smooth random walk of every joint around a supine body outline: the value range of preprocessed windows
        rng = np.random.default_rng(seed)
        base = rng.normal(0.0, 0.3, (n, 1, NUM_JOINTS, 2))
        walk = np.cumsum(rng.normal(0.0, 0.01, (n, config.window, NUM_JOINTS, 2)), axis=1)
        return (base + walk).astype(np.float32)

    spec = ensemble.specs[stack]
    return Deployable(
        f"GCN stack {stack} of {ensemble!r}", "gcn-stack", graph, "windows", (config.window, NUM_JOINTS, 2),
        f"(W, {config.window}, {NUM_JOINTS}, 2) float32: W windows of {config.window} frames of preprocessed "
        "In-Motion 19 positions (infantjax.train.cp.prepare_sequence, then infantjax.preprocess.windows)",
        ("probability", "logits"),
        (f"(W, {count}) P(CP) of every window by every instance", f"(W, {count}, 2) the instances' logits"),
        reference, sample,
        {"model": "ensemble", "stack": stack, "spec": {"type": type(spec).__name__, **spec.to_dict()},
         "instances": count, "config": config.to_dict(), "threshold": float(ensemble.threshold),
         "info": dict(getattr(ensemble, "info", {}) or {})})


def deployable(model: Any, *, stack: int = 0, clips: int = 547) -> Deployable:
    """The :class:`Deployable` of a model: a ``PosePredictor``, a ``SmartphoneModel`` or an ``Ensemble`` (its
    ``stack``); a :class:`Deployable` is returned as it is.

    Raises:
        ExportError: a model of another kind (the message names the kinds that export).
    """
    from infantjax.ensemble import Ensemble
    from infantjax.pipelines.passmore import SmartphoneModel
    from infantjax.pipelines.pose import PosePredictor

    if isinstance(model, Deployable):
        return model
    if isinstance(model, PosePredictor):
        return pose_graph(model)
    if isinstance(model, SmartphoneModel):
        return smartphone_graph(model, clips)
    if isinstance(model, Ensemble):
        return gcn_graph(model, stack)
    kind = getattr(model, "kind", type(model).__name__)
    raise ExportError(f"cannot export a {kind} model: infantjax exports pose predictors, smartphone models and the "
                      "GCN stacks of CP ensembles (StableHLO, ONNX, LiteRT); its other families run in infantjax")
