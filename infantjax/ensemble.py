"""Fold ensembles: instances of one architecture as a leading axis, trained and run as one vmapped program.

The Ensemble-NAS-GCN of seed 002 is 10 architectures × 7 cross-validation folds = 70 instances. Here each
architecture's 7 fold instances are one stacked pytree (every leaf has a leading instance axis), trained together by
one jitted, vmapped step (:func:`infantjax.train.train_stack`) and run together by one jitted, vmapped call; the
ensemble is one stack per architecture. With several devices the instance axis is sharded over the mesh axis
``instance`` and the windows over ``data`` (padded and masked when the count does not divide).

    ens = infantjax.ensemble.train(specs, cohort, config)   # len(specs) × 7 folds
    prediction = ens.predict(sequence)                      # P(CP) (windows × instances), CAM scores
    result = infantjax.clinical.assess_prediction(prediction)   # risk, class, certainty colour, CAM
    ens.save("ens"); ens = infantjax.ensemble.load("ens")   # one Orbax checkpoint + specs and config as JSON

``infantjax.pipelines.cp.predict_risk(ens, sequence)`` does both steps. Networks trained with the reference code
(DeepInMotion/MovementOutcome) become an ensemble with :func:`from_movementoutcome`.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import functools
import json
import logging
import os
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from infantjax import backend, parallel
from infantjax.errors import CheckpointError, ConfigError, DataError
from infantjax.io.files import write_json
from infantjax.models.gcn.cam import joint_scores
from infantjax.sequence import Cohort, SkeletonSequence
from infantjax.train import cp as _cp
from infantjax.train.checkpoint import restore_tree, save_tree
from infantjax.train.config import compile_key
from infantjax.train.cp import NUM_JOINTS, CPConfig, CPData, CPTask, build, input_channels
from infantjax.train.engine import fit
from infantjax.train.losses import positive_probability

__all__ = ["FORMAT", "Ensemble", "EnsemblePrediction", "fold_data", "from_movementoutcome", "load",
           "orientation_warning", "train"]

log = logging.getLogger(__name__)

FORMAT = "infantjax-ensemble"
_META = "ensemble.json"
_VARIABLES = "variables"


# ------------------------------------------------------------------------------------------------------ specs
def _spec_to_dict(spec) -> dict:
    from infantjax.models.gcn import GCNSpec, STGCNSpec

    if isinstance(spec, (GCNSpec, STGCNSpec)):
        return {"type": type(spec).__name__, **spec.to_dict()}
    raise ConfigError(f"an ensemble can only save GCNSpec or STGCNSpec architectures, got {type(spec).__name__}")


def _spec_from_dict(data: dict):
    from infantjax.models.gcn import GCNSpec, STGCNSpec

    data = dict(data)
    kind = data.pop("type", None)
    classes = {"GCNSpec": GCNSpec, "STGCNSpec": STGCNSpec}
    if kind not in classes:
        raise CheckpointError(f"unknown architecture type {kind!r} in the ensemble file; expected one of "
                              f"{sorted(classes)}")
    return classes[kind].from_dict(data)


def _abstract_stack(spec, config: CPConfig, count: int):
    """Shapes and dtypes of ``count`` stacked instances of ``spec`` (no computation)."""
    model = build(spec, config)
    sample = jnp.zeros((1, config.window, NUM_JOINTS, input_channels(model)), jnp.float32)
    keys = jnp.zeros((count, 2), jnp.uint32)
    shapes = jax.eval_shape(jax.vmap(lambda k: model.init(k, sample, train=False)), keys)
    return {"params": shapes["params"], "batch_stats": shapes.get("batch_stats", {})}


# ------------------------------------------------------------------------------------------------------ inference
def orientation_warning(orientation: str, angle: float, config: CPConfig) -> str | None:
    """The warning for a recording whose spine is not upright, or None when the windows are rotated correctly.

    The reference window rotation (``CPConfig.window_rotation="reference"``, seed 002's ``arccos`` quirk) is exact
    only when the thorax lies above the pelvis: it mirrors the windows of a head-down recording and rotates those
    of a sideways one inexactly; without rotation (None, v1) the networks see the body at an angle they never saw.
    v2 aligns the trunk in every frame, and ``"corrected"`` rotates every orientation exactly.

    Arguments:
        orientation, angle: :func:`infantjax.preprocess.spine_orientation` of the recording.
        config: the config the recording is scored under.

    Returns:
        one sentence naming the orientation and the fix, or None.
    """
    if orientation not in ("inverted", "sideways") or config.preprocess_version != "v1" \
            or config.window_rotation == "corrected":
        return None
    how = "head-down" if orientation == "inverted" else "sideways"
    if config.window_rotation == "reference":
        fix = ("the reference window rotation mirrors or misaligns such windows, so the risk is unreliable; "
               "predict with window_rotation='corrected' (infantjax predict --window-rotation corrected)")
    else:
        fix = ("this ensemble does not rotate windows, so the networks see the body at an angle they were not "
               "trained on; rotate the recording upright (head at the top of the image) and predict again")
    return f"the spine is {orientation} ({how}, {angle:+.0f}° from head-up in the image): {fix}"


#: The smallest scoring call (windows): a recording's last few windows are padded up to it.
MIN_SCORING_CALL = 8


def scoring_calls(n_windows: int, step: int, multiple: int = 1) -> list[tuple[int, int]]:
    """(first window, windows in the call) of each scoring call for ``n_windows`` windows.

    Full calls of ``step`` windows, then the rest in power-of-two calls from the largest down, the last padded
    up to ``MIN_SCORING_CALL`` (rounded up to ``multiple``, the data-axis size) or, when fewer windows are left,
    to their next power of two. A recording of any length thus
    runs at most ⌈log2(step / 8)⌉ + 1 program shapes, shared by all recordings, and pads fewer than
    ``MIN_SCORING_CALL`` windows, where padding the whole recording to one power of two padded up to half of it
    (71 windows of a 3-minute recording → 128, 1.8× the work; here 64 + 8).
    """
    def round_up(x: int) -> int:
        return -(-x // multiple) * multiple

    minimum = min(step, round_up(MIN_SCORING_CALL))
    calls, lo = [], 0
    while lo < n_windows:
        rest = n_windows - lo
        if rest >= step:
            size = step
        elif rest <= minimum:  # the last call, padded to a power of two (a short recording: fewer than 8)
            size = min(minimum, round_up(1 << (rest - 1).bit_length()))
        else:  # the largest power of two of the rest (a multiple of the data axis: it may cover the rest)
            size = min(step, round_up(1 << (rest.bit_length() - 1)))
        calls.append((lo, size))
        lo += size
    return calls


@functools.lru_cache(maxsize=64)
def _scoring_program(task: CPTask, spec, mesh):
    """jit of: windows → (P(CP) (W,), joint CAM scores (W, V)) for every instance (vmapped or mapped over them,
    :func:`scoring_mode`); windows shared by all."""
    from infantjax.models.gcn import class_activation_map

    model = task.model

    def one(variables, positions):
        logits, features = model.apply(variables, task.inputs(positions), train=False)
        cam = joint_scores(class_activation_map(spec, variables, features))
        return positive_probability(logits), cam

    inst = parallel.instance_sharding(mesh)
    windows = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec(parallel.DATA))
    out = parallel.batch_sharding(mesh)
    if scoring_mode(mesh) == "map":
        def every(stack, positions):
            return jax.lax.map(lambda variables: one(variables, positions), stack)
    else:
        every = jax.vmap(one, in_axes=(0, None))
    return jax.jit(every, in_shardings=(inst, windows), out_shardings=(out, out))


def _concurrently(fn, items) -> list:
    """``[fn(i) for i in items]``, run in up to four threads when this is one process on a multi-core host.

    Used to compile the stacks' scoring programs: XLA compiles with the GIL released, so on 2 cores the 20 Table
    A.4 programs (10 stacks × 2 call sizes) compiled in 50 s instead of 74.5 s (docs/performance.md). Tracing is
    thread-safe in JAX and Flax (thread-local trace and module state); the multi-process case keeps one thread.
    """
    items = list(items)
    workers = min(len(items), os.cpu_count() or 1, 4)
    if workers < 2 or jax.process_count() > 1:
        return [fn(i) for i in items]
    with concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="infantjax-compile") as pool:
        return list(pool.map(fn, items))


def scoring_mode(mesh) -> str:
    """How a scoring program runs the instances of one device (:func:`infantjax.backend.instances`): ``"map"``
    (one after another, ``lax.map``) under the CPU policy when every instance is on one device, ``"vmap"`` (all at
    once) otherwise.

    On CPU a ``vmap`` over weights turns every convolution into a batch-grouped one or into batched tap products,
    while one instance at a time runs plain convolutions: scoring 64 windows with 7 Table A.4 #1 instances took
    0.55× the vmapped time (docs/performance.md, "inference convolutions"). Accelerators and meshes that spread
    instances over devices keep the vmap.
    """
    return backend.instances(mesh)


@dataclasses.dataclass(frozen=True, eq=False)
class EnsemblePrediction:
    """Every instance's prediction for every window of one recording (what :meth:`Ensemble.predict` returns).

    Attributes:
        probabilities: (W, I) P(CP) per window (rows) and instance (columns), instances in stack order.
        cam_scores: (I, W, V) per-instance, per-window joint CAM scores in [0, 1]
            (:func:`infantjax.models.gcn.cam.joint_scores`).
        window_starts: (W,) first frame of each window (at the model frame rate).
        instance_names: (I,) ``spec<k>/fold<f>``.
        threshold: the ensemble's default decision threshold.
        metadata: the recording's metadata plus fps, frame count, model frame rate and spine orientation.
        warnings: what may make these predictions wrong (:func:`orientation_warning`), each saying what to do.
    """

    probabilities: np.ndarray
    cam_scores: np.ndarray
    window_starts: np.ndarray
    instance_names: tuple[str, ...]
    threshold: float = 0.5
    metadata: dict = dataclasses.field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    @property
    def num_windows(self) -> int:
        return int(self.probabilities.shape[0])


@dataclasses.dataclass(eq=False)
class Ensemble:
    """Stacks of trained instances, one per architecture.

    Attributes:
        specs: the architectures (GCNSpec / STGCNSpec), one per stack.
        variables: per stack, Flax variables with a leading instance axis on every leaf (host numpy).
        config: the training recipe (:class:`~infantjax.train.CPConfig`; also fixes windowing, preprocessing and
            features at prediction time).
        threshold: default decision threshold of :meth:`predict`.
        fold_auc: per stack, the best validation AUC of each fold instance.
        metadata: free-form, JSON-serialisable information.
    """

    specs: list
    variables: list
    config: CPConfig
    threshold: float = 0.5
    fold_auc: list = dataclasses.field(default_factory=list)
    metadata: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        if len(self.specs) != len(self.variables) or not self.specs:
            raise ConfigError(f"an ensemble needs one variables stack per spec; got {len(self.specs)} specs and "
                              f"{len(self.variables)} stacks")
        self._device_cache: dict = {}
        self._chunks: dict = {}
        self._executables: dict = {}
        self._tasks: dict = {}

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
    def _task(self, k: int, config: CPConfig | None = None) -> CPTask:
        """The CP task of stack ``k`` under ``config`` (default the ensemble's; built once per stack and config:
        its model keys the compiled scoring program)."""
        config = self.config if config is None else config
        key = (k, compile_key(config))
        if key not in self._tasks:
            self._tasks[key] = CPTask(self.specs[k], config)
        return self._tasks[key]

    def _stack_on(self, k: int, mesh):
        key = (k, mesh)
        if key not in self._device_cache:
            padded = parallel.pad_leading(self.variables[k], parallel.padded_size(self.stack_sizes[k], mesh))
            # jnp.array copies, so the device stack never aliases host memory that may change later
            if jax.process_count() > 1:  # every process supplies its own devices' instances
                self._device_cache[key] = parallel.to_global(
                    jax.tree_util.tree_map(lambda x: np.array(x, copy=True), padded), parallel.instance_sharding(mesh))
            else:
                padded = jax.tree_util.tree_map(lambda x: jnp.array(x, copy=True), padded)
                self._device_cache[key] = jax.device_put(padded, parallel.instance_sharding(mesh))
        return self._device_cache[key]

    def _executable(self, k: int, mesh, program, windows: int, window_shape: tuple):
        """Stack ``k``'s scoring program compiled for calls of ``windows`` windows, kept: measuring its memory and
        running it use the same executable (a jit call after ``lower().compile()`` traces and lowers it again,
        seconds per Table A.4 stack, even when the executable comes from the persistent compilation cache)."""
        key = (k, mesh, program, int(windows), tuple(window_shape))
        if key not in self._executables:
            block = jax.ShapeDtypeStruct((int(windows),) + tuple(window_shape), jnp.float32)
            self._executables[key] = program.lower(self._stack_on(k, mesh), block).compile()
        return self._executables[key]

    def _scoring_chunk(self, k: int, mesh, program, chunk: int, window_shape: tuple, budget: int) -> int:
        """Windows per scoring call of stack ``k``: ``chunk``, halved until XLA's memory analysis of the compiled
        program fits ``budget`` bytes (measured once per stack, mesh, program, chunk and budget)."""
        key = (k, mesh, program, chunk, tuple(window_shape), budget)
        if key not in self._chunks:
            def measure(c: int) -> int:
                return parallel.compiled_bytes(self._executable(k, mesh, program, c, window_shape))

            step = parallel.budgeted_chunk(measure, chunk, multiple=mesh.shape[parallel.DATA], budget=budget)
            shape = tuple(window_shape)
            for unused in [e for e in list(self._executables) if e[:3] == (k, mesh, program) and e[4] == shape
                           and e[3] > step]:
                del self._executables[unused]  # measured, too big for the budget
            self._chunks[key] = step
        return self._chunks[key]

    def window_predictions(self, positions: np.ndarray, *, mesh=None, chunk: int | None = None,
                           config: CPConfig | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Score preprocessed windows with every instance.

        Arguments:
            positions: (W, window, 19, 2) preprocessed positions.
            mesh: an ``("instance", "data")`` mesh (default: all devices, see
                :func:`infantjax.parallel.instance_mesh`), one per stack size.
            chunk: windows per call at most (default ``config.eval_batch_size``; lowered to fit
                ``config.memory_budget``); the windows run in calls of power-of-two sizes
                (:func:`scoring_calls`), the last padded to at least ``MIN_SCORING_CALL`` windows.
            config: the config the windows are scored under (default the ensemble's; e.g. another window
                rotation).

        Returns:
            (P(CP) (W, I), joint CAM scores (I, W, V)) over all I instances in stack order.

        Raises:
            DataError: windows of another shape than (W, config.window, 19, 2), or with NaN/inf (which would give
                NaN probabilities without an error).
        """
        window = (config or self.config).window
        try:
            positions = np.asarray(positions, dtype=np.float32)
        except (TypeError, ValueError):
            raise DataError("window_predictions needs numeric (W, window, 19, 2) positions") from None
        if positions.ndim != 4 or positions.shape[1:] != (window, NUM_JOINTS, 2) or positions.shape[0] < 1:
            raise DataError(f"window_predictions needs (W, {window}, {NUM_JOINTS}, 2) positions (windows of this "
                            f"ensemble's {window} frames), got shape {positions.shape}; cut them with "
                            "infantjax.preprocess.windows or use Ensemble.predict")
        if not np.isfinite(positions).all():
            raise DataError("window_predictions: the windows hold NaN or inf positions; fill missing keypoints first "
                            "(Ensemble.predict preprocesses and fills them)")
        n_windows = positions.shape[0]
        chunk = chunk or self.config.eval_batch_size
        # recordings of any length reuse a few programs (scoring_calls): the largest call is the largest power of
        # two of the window count (the next one for fewer than MIN_SCORING_CALL windows), at most the chunk
        small = n_windows <= MIN_SCORING_CALL
        bucket = min(int(chunk), 1 << ((n_windows - 1).bit_length() if small else n_windows.bit_length() - 1))
        budget = parallel.memory_budget(self.config.memory_budget)
        window_shape = positions.shape[1:]

        def plan(k: int):
            """Stack k's mesh, program and call size, with every executable the calls need compiled."""
            m = mesh if mesh is not None else parallel.instance_mesh(self.stack_sizes[k])
            data = m.shape[parallel.DATA]
            program = _scoring_program(self._task(k, config), self.specs[k], m)
            step = self._scoring_chunk(k, m, program, -(-bucket // data) * data, window_shape, budget)
            for _, call in scoring_calls(n_windows, step, data):
                self._executable(k, m, program, call, window_shape)
            return m, program, step

        probs, cams = [], []
        for k, (m, program, step) in enumerate(_concurrently(plan, range(len(self.specs)))):
            size, data = self.stack_sizes[k], m.shape[parallel.DATA]
            variables = self._stack_on(k, m)
            p_parts, c_parts = [], []
            for lo, call in scoring_calls(n_windows, step, data):
                block = parallel.to_global(parallel.pad_axis(positions[lo:lo + call], call),
                                           jax.sharding.NamedSharding(m, jax.sharding.PartitionSpec(parallel.DATA)))
                p, c = parallel.to_host(self._executable(k, m, program, call, window_shape)(variables, block))
                keep = min(call, n_windows - lo)
                p_parts.append(p[:size, :keep])
                c_parts.append(c[:size, :keep])
            probs.append(np.concatenate(p_parts, axis=1))
            cams.append(np.concatenate(c_parts, axis=1))
        return np.concatenate(probs, axis=0).T, np.concatenate(cams, axis=0)

    def predict(self, sequence: SkeletonSequence, *, mesh=None, window_rotation: str | None = None
                ) -> EnsemblePrediction:
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
                ``"reference"`` on upright ones); None keeps the config's.

        Raises:
            SkeletonMismatchError: not In-Motion 19.  DataError: all keypoints missing or shorter than a window.
            ConfigError: an unknown window rotation, or one for a v2 ensemble (which has none).
        """
        from infantjax.preprocess import spine_orientation, window_starts, windows

        cfg = self.config
        if window_rotation is not None and window_rotation != cfg.window_rotation:
            if window_rotation not in ("reference", "corrected"):
                raise ConfigError(f"window_rotation must be 'reference', 'corrected' or None, got {window_rotation!r}")
            if cfg.window_rotation is None:
                raise ConfigError("this ensemble was trained without window rotation (CPConfig.window_rotation=None"
                                  "); predict without window_rotation=")
            cfg = cfg.replace(window_rotation=window_rotation)
        coords = _cp.prepare_sequence(sequence, cfg, where="predict: sequence")
        positions = windows(coords, length=cfg.window, hop=cfg.hop)
        starts = window_starts(coords.shape[0], cfg.window, cfg.hop)
        probs, scores = self.window_predictions(positions, mesh=mesh, config=cfg)
        orientation, angle = spine_orientation(sequence, y_up=not cfg.preprocess)
        warning = orientation_warning(orientation, angle, cfg)
        if warning:
            log.warning("%s: %s", sequence.metadata.get("source", "recording"), warning)
        meta = {**dict(sequence.metadata), "fps": sequence.fps, "num_frames": sequence.num_frames,
                "model_fps": 30.0 if cfg.preprocess else sequence.fps,
                "spine_orientation": {"orientation": orientation, "angle": None if np.isnan(angle) else angle},
                "window_rotation": cfg.window_rotation}
        meta = json.loads(json.dumps(meta, default=str))
        return EnsemblePrediction(probs, scores, np.asarray(starts), self.instance_names, float(self.threshold),
                                  meta, (warning,) if warning else ())

    def predict_cohort(self, cohort: Cohort, **kwargs) -> list[EnsemblePrediction]:
        """:meth:`predict` for every recording of a cohort."""
        return [self.predict(s, **kwargs) for s in cohort.sequences]

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike) -> str:
        """Write the ensemble to a directory: ``variables/`` (one Orbax checkpoint of all stacks) and
        ``ensemble.json`` (format, specs, config, threshold, fold AUCs). Both writes are atomic."""
        path = os.fspath(path)
        os.makedirs(path, exist_ok=True)
        record = {
            "format": FORMAT, "version": 1, "specs": [_spec_to_dict(s) for s in self.specs],
            "stack_sizes": self.stack_sizes, "config": self.config.to_dict(), "threshold": float(self.threshold),
            "fold_auc": [list(map(float, a)) for a in self.fold_auc], "metadata": self.metadata,
        }
        save_tree(os.path.join(path, _VARIABLES), {f"stack{k}": v for k, v in enumerate(self.variables)})
        write_json(os.path.join(path, _META), record, sort_keys=False, allow_nan=True, parents=True)
        return path


def load(path: str | os.PathLike) -> Ensemble:
    """Read an ensemble written by :meth:`Ensemble.save`.

    Raises:
        CheckpointError: missing files, a corrupt checkpoint, or variables that do not match the specs.
    """
    path = os.fspath(path)
    meta_path = os.path.join(path, _META)
    if not os.path.isfile(meta_path):
        raise CheckpointError(f"{path} is not a saved ensemble: {_META} is missing")
    try:
        with open(meta_path) as f:
            record = json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{meta_path} is corrupt ({err}); save the ensemble again") from None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise CheckpointError(f"{meta_path} is not an infantjax ensemble file (format {record.get('format')!r})"
                              if isinstance(record, dict) else f"{meta_path} is not an infantjax ensemble file")
    try:
        specs = [_spec_from_dict(s) for s in record["specs"]]
        config = CPConfig.from_dict(record["config"])
        sizes = [int(n) for n in record["stack_sizes"]]
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(f"{meta_path} is incomplete or invalid ({type(err).__name__}: {err})") from None
    if len(sizes) != len(specs):
        raise CheckpointError(f"{meta_path} lists {len(specs)} specs but {len(sizes)} stack sizes")
    threshold = record.get("threshold", 0.5)
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 <= threshold <= 1:
        raise CheckpointError(f"{meta_path}: threshold {threshold!r} is not a number in [0, 1]; correct the "
                              "'threshold' field (0.5 is the reference's) or save the ensemble again")
    like = {f"stack{k}": _abstract_stack(s, config, n) for k, (s, n) in enumerate(zip(specs, sizes))}
    tree = restore_tree(os.path.join(path, _VARIABLES), like)
    variables = [jax.tree_util.tree_map(np.asarray, tree[f"stack{k}"]) for k in range(len(specs))]
    return Ensemble(specs, variables, config, float(threshold), record.get("fold_auc", []),
                    record.get("metadata", {}))


# ------------------------------------------------------------------------------------------------------ training
def _subset(prepared: _cp.Prepared, indices: Sequence[int], name: str) -> _cp.Prepared:
    idx = list(indices)
    return _cp.Prepared(tuple(prepared.coords[i] for i in idx), prepared.labels[idx],
                        tuple(prepared.subjects[i] for i in idx), name)


def fold_data(cohort: Cohort, config: CPConfig, *, folds: int = 7, split_seed: int = 1433) -> list[CPData]:
    """Preprocess a cohort once and cut it into ``folds`` subject-level, class-stratified folds (gcn_reference
    A.9): fold f validates on its own subjects and trains on all the others.

    Raises:
        DataError: a fold would lack subjects of one class (too few subjects for this many folds).
    """
    prepared = _cp.prepare_cohort(cohort, config, role="training")
    split = cohort.split(test_fraction=0.0, folds=folds, seed=split_seed)
    out = []
    for f, val_subjects in enumerate(split.folds):
        val_set = set(val_subjects)
        val_idx = [i for i, s in enumerate(prepared.subjects) if s in val_set]
        train_idx = [i for i, s in enumerate(prepared.subjects) if s not in val_set]
        for role, idx in (("validation", val_idx), ("training", train_idx)):
            classes = set(prepared.labels[idx].tolist())
            if classes != {0, 1}:
                raise DataError(
                    f"fold {f} {role} set has only class(es) {sorted(classes)}: {folds} folds need at least "
                    f"{folds} subjects of each class (cohort {cohort.name!r} has "
                    f"{sum(1 for y in cohort.subject_labels().values() if y == 1)} with CP, "
                    f"{sum(1 for y in cohort.subject_labels().values() if y == 0)} without); use fewer folds"
                )
        val = _cp.validation_windows(_subset(prepared, val_idx, f"{cohort.name}/fold{f}"), config)
        out.append(CPData(_subset(prepared, train_idx, f"{cohort.name}/train{f}"), val))
    return out


def train(specs: Sequence, cohort: Cohort, config: CPConfig | None = None, *, folds: int = 7, seed: int = 0,
          split_seed: int = 1433, threshold: float = 0.5, checkpoint_dir: str | os.PathLike | None = None,
          mesh=None) -> Ensemble:
    """Train ``len(specs) × folds`` instances: per architecture one vmapped stack of its fold instances.

    Arguments:
        specs: the architectures (e.g. ``GCNSpec.table_a4()``, the 10 of the paper).
        cohort: the development cohort (In-Motion 19 recordings, 0/1 labels); hold the test set out yourself.
        config: the recipe (default :class:`~infantjax.train.CPConfig`, the reference recipe).
        folds: cross-validation folds (7 in seed 002).
        seed: base seed; instance (k, f) uses ``seed · 1000 + 10 · k + f``.
        split_seed: seed of the stratified subject split (1433 in the reference).
        threshold: default decision threshold of the ensemble's predictions.
        checkpoint_dir: checkpoint every epoch under ``checkpoint_dir/spec<k>`` and resume from there.
        mesh: optional ``("instance", "data")`` mesh (default: all devices).

    Returns:
        the trained :class:`Ensemble` (each instance at its best-validation-AUC epoch).
    """
    parallel.initialize()  # multi-process start-up when INFANTJAX_DISTRIBUTED=1 / $INFANTJAX_COORDINATOR
    config = CPConfig() if config is None else config
    if not isinstance(config, CPConfig):
        raise ConfigError(f"ensemble.train needs a CPConfig (infantjax.train.CPConfig), got {type(config).__name__}")
    specs = list(specs)
    if not specs:
        raise ConfigError("ensemble.train needs at least one spec")
    for s in specs:
        _spec_to_dict(s)  # only savable architectures
    data = fold_data(cohort, config, folds=folds, split_seed=split_seed)
    variables, aucs = [], []
    for k, spec in enumerate(specs):
        ck = None if checkpoint_dir is None else os.path.join(os.fspath(checkpoint_dir), f"spec{k}")
        res = fit(CPTask(spec, config), data, seeds=[seed * 1000 + 10 * k + f for f in range(folds)], mesh=mesh,
                  checkpoint_dir=ck, desc=f"spec {k + 1}/{len(specs)}")
        variables.append(res.variables)
        aucs.append(res.best_score)
        log.info("spec %d: fold AUCs %s", k, np.round(res.best_score, 3).tolist())
    return Ensemble(specs, variables, config, threshold, aucs,
                    {"folds": folds, "seed": seed, "split_seed": split_seed, "cohort": cohort.name,
                     "num_recordings": len(cohort)})


# ------------------------------------------------------------------------------------------------------ import
_MO_WEIGHTS = (".pt", ".pth", ".safetensors", ".npz")


def _read_json(path: str, what: str) -> dict:
    try:
        with open(path) as f:
            data = json.load(f)
    except FileNotFoundError:
        raise CheckpointError(f"{path} is missing: {what}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{path} is unreadable ({type(err).__name__}: {err})") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{path} does not hold a JSON object ({what})")
    return data


def _experiments_dir(folder: str) -> str:
    """``folder/experiments`` for a search folder (``searches/<name>``), or ``folder`` if it is that folder."""
    sub = os.path.join(folder, "experiments")
    if os.path.isdir(sub):
        return sub
    if os.path.isdir(folder) and any(n.startswith(("search_", "crossval_")) for n in os.listdir(folder)):
        return folder
    raise CheckpointError(f"{folder} is not a MovementOutcome search folder: it has no experiments/ with "
                          "search_<n>/ and crossval_<n>_val<f>/ folders (searches/<name> of a project)")


def _best_candidate(experiments: str) -> tuple[str, float]:
    """The candidate number with the highest ``best_auc`` among ``search_*`` (as prediction_ensemble.py picks)."""
    best, best_auc = None, -np.inf
    for name in sorted(os.listdir(experiments)):
        path = os.path.join(experiments, name, "validation_results.json")
        if name.startswith("search_") and os.path.isfile(path):
            auc = float(_read_json(path, "the search trial's results").get("best_auc", -np.inf))
            if auc > best_auc:
                best, best_auc = name.split("_", 1)[1], auc
    if best is None:
        # a folder with cross-validation runs only: they must all be of one candidate
        nums = {n.split("_")[1] for n in os.listdir(experiments) if n.startswith("crossval_")}
        if len(nums) != 1:
            raise CheckpointError(f"{experiments}: no search_<n>/validation_results.json to pick the best candidate "
                                  f"from, and cross-validation runs of {len(nums)} candidates")
        best = nums.pop()
    return best, best_auc


def _candidate_spec(path: str):
    """A GCNSpec from a MovementOutcome ``candidate.json`` (the 20 choices, spelled as infantjax spells them)."""
    from infantjax.models.gcn import CHOICES, GCNSpec

    data = _read_json(path, "the candidate's architecture")
    missing = [k for k in CHOICES if k not in data]
    if missing:
        raise CheckpointError(f"{path} lacks the choices {missing}; pass specs= explicitly")
    choices = {}
    for key in CHOICES:
        value = data[key]
        if isinstance(value, str) and value.isdigit():
            value = int(value)  # JSON written from string alternatives
        choices[key] = value
    try:
        return GCNSpec(**choices)
    except ConfigError as err:
        raise CheckpointError(f"{path}: {err}") from None


def _fold_weights(run: str) -> tuple[str, float]:
    """The weights file of a cross-validation run at its best-AUC epoch (the file name starts ``epoch-<e>+``)."""
    results = _read_json(os.path.join(run, "validation_results.json"), "the run's best epoch")
    try:
        epoch = int(results["best_auc_epoch"])
    except (KeyError, TypeError, ValueError):
        raise CheckpointError(f"{run}/validation_results.json has no best_auc_epoch") from None
    files = sorted(n for n in os.listdir(run) if n.startswith(f"epoch-{epoch}+") and n.lower().endswith(_MO_WEIGHTS))
    if not files:
        raise CheckpointError(f"{run}: no weights of the best epoch {epoch} (epoch-{epoch}+….pt); was the epoch "
                              "saved (crossval_save_interval)?")
    return os.path.join(run, files[0]), float(results.get("best_auc", float("nan")))


def from_movementoutcome(folders, specs: Sequence | None = None, *, config: CPConfig | None = None,
                         threshold: float = 0.5, mode: str = "reference") -> Ensemble:
    """An :class:`Ensemble` of the networks a MovementOutcome experiment trained (docs/gcn.md, "Saving layout").

    For each search folder (``projects/<p>/searches/<name>``) it takes, as the reference's
    ``predict/prediction_ensemble.py`` does, the candidate whose ``experiments/search_<n>/validation_results.json``
    has the highest ``best_auc``, then the weights of every ``experiments/crossval_<n>_val<f>`` run at its
    ``best_auc_epoch``, and stacks the folds into one vmapped instance stack.

    Arguments:
        folders: one search folder or a list of them (one architecture each; 10 for the paper's ensemble). The
            ``experiments`` folder itself is accepted too.
        specs: the architecture of each folder; default: read from the candidate's ``candidate.json``.
        config: the recipe that fixes preprocessing and windows at prediction time (default
            :class:`~infantjax.train.CPConfig`, the reference recipe).
        threshold: the ensemble's decision threshold.
        mode: the model mode (``"reference"`` computes what the reference code computes).

    Returns:
        the ensemble; save it with :meth:`Ensemble.save`.

    Raises:
        CheckpointError: missing or unreadable folders, JSON files or weights. StateDictError: weights that do
        not fit the architecture (names the keys and shapes).
    """
    from infantjax.io.state_dict import read_state_dict
    from infantjax.models.gcn import from_torch_state_dict

    folders = [folders] if isinstance(folders, (str, os.PathLike)) else list(folders)
    if not folders:
        raise ConfigError("from_movementoutcome needs at least one search folder")
    if specs is not None and len(specs) != len(folders):
        raise ConfigError(f"from_movementoutcome: {len(specs)} specs for {len(folders)} search folders; give one "
                          "spec per folder or none")
    config = CPConfig(model_mode=mode) if config is None else config
    out_specs, stacks, aucs, sources = [], [], [], []
    for k, folder in enumerate(folders):
        folder = os.fspath(folder)
        experiments = _experiments_dir(folder)
        cand, search_auc = _best_candidate(experiments)
        spec = specs[k] if specs is not None else _candidate_spec(
            os.path.join(experiments, f"search_{cand}", "candidate.json"))
        prefix = f"crossval_{cand}_val"
        runs = sorted((int(n[len(prefix):]), n) for n in os.listdir(experiments)
                      if n.startswith(prefix) and n[len(prefix):].isdigit())
        if not runs:
            raise CheckpointError(f"{experiments}: no cross-validation runs {prefix}<f>/ of the best candidate "
                                  f"{cand}; run the reference's cross-validation first")
        instances, fold_auc, files = [], [], []
        for _, run in runs:
            path, auc = _fold_weights(os.path.join(experiments, run))
            instances.append(from_torch_state_dict(spec, read_state_dict(path), mode=mode))
            fold_auc.append(auc)
            files.append(os.path.relpath(path, folder))
        stacks.append(jax.tree_util.tree_map(lambda *xs: np.stack(xs), *instances))
        out_specs.append(spec)
        aucs.append(fold_auc)
        sources.append({"folder": os.path.abspath(folder), "candidate": cand, "search_auc": float(search_auc),
                        "weights": files})
        log.info("%s: candidate %s, %d folds (AUC %s)", folder, cand, len(runs), np.round(fold_auc, 3).tolist())
    return Ensemble(out_specs, stacks, config, threshold, aucs,
                    {"source": "DeepInMotion/MovementOutcome", "searches": sources})
