"""The CP task of seed 002: a skeleton GCN learns P(CP) from 5-second windows (gcn_reference A.9).

* :class:`CPConfig`: the reference recipe (SGD 5e-4, Nesterov, batches of 32, 60/12 windows per CP/non-CP
  recording and epoch, rotation/scale/translation augmentation, position/velocity/bone features, validation AUC).
* Host-side data: preparing a cohort (:func:`prepare_cohort`), balanced stratified crops (:func:`epoch_crops`),
  validation windows (:func:`validation_windows`). Windows are cut on the host as positions (N, T, J, 2);
  augmentation and the features are computed inside the jitted step (A.9: features after augmentation).
* :class:`CPTask`: the task of the training engine; :class:`CPData` one instance's training and validation data.

    from infantjax.train import CPConfig, CPData, CPTask, fit
    task = CPTask(GCNSpec.table_a4()[0], CPConfig(epochs=100))
    result = fit(task, [CPData.from_cohorts(train_cohort, val_cohort, task.config)], seeds=[1])
    result.best_score[0], result.best_epoch[0], result.history[0], result.instance(0)
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import math
from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from infantjax import models
from infantjax import skeleton as _skeleton
from infantjax._jsonconfig import check_positive_ints
from infantjax.errors import ConfigError, DataError
from infantjax.metrics import roc_auc
from infantjax.sequence import Cohort
from infantjax.train.config import TrainConfig, host_field
from infantjax.infer.ensemble import Ensemble
from infantjax.infer.cp import (NUM_JOINTS, SKELETON, CPForward, build, check_preprocessing, input_channels,
                                prepare_sequence, standardise_windows, window_features)
from infantjax.train.losses import balanced_window_loss, cross_entropy, host_softmax_cross_entropy
from infantjax.train.state import debiased_batch_stats, zeroed_batch_stats
from infantjax.train.task import Selection, Task, _argument

__all__ = [
    "DEMO_CONFIG",
    "NUM_JOINTS",
    "SKELETON",
    "CPConfig",
    "CPData",
    "CPTask",
    "Prepared",
    "ValidationWindows",
    "augment_windows",
    "mirror_windows",
    "build",
    "crop_start_bounds",
    "epoch_crops",
    "gather_windows",
    "input_channels",
    "prepare_cohort",
    "prepare_sequence",
    "standardise_windows",
    "subject_scores",
    "validation_windows",
    "window_features",
]

log = logging.getLogger(__name__)

@dataclasses.dataclass(frozen=True)
class CPConfig(TrainConfig):
    """How a GCN learns CP from skeleton windows. Defaults are the reference recipe (gcn_reference A.9,
    MovementOutcome main.py). The run and optimizer fields are :class:`~infantjax.train.config.TrainConfig`'s.

    Arguments:
        epochs: epochs per run (the reference: 100 in the search, 200 in cross-validation).
        batch_size: windows per step (32; the reference drops the last incomplete batch).
        learning_rate: constant SGD learning rate (5e-4, no schedule).
        momentum: SGD momentum (0.9).
        nesterov: Nesterov momentum (True).
        weight_decay: decoupled L2 added to the gradient (0 in the reference).
        optimizer: ``"sgd"`` (the reference: SGD with ``momentum``/``nesterov``) or ``"adam"`` (Adam with
            ``learning_rate``, betas 0.9/0.999; not in the reference — for short demo/quick runs, which SGD at
            5e-4 cannot train in a few hundred steps).
        debias_batch_stats: BatchNorm running averages start at 0 and are bias-corrected when read (an infantjax
            correction, see docs/train.md). PyTorch/Flax start them at mean 0 / variance 1 and move them by 10 %
            per step (momentum 0.1), so after n steps 0.9ⁿ of the initial variance remains: after 30 steps the
            input BatchNorm's running variance of the velocity channels (true variance ≈ 1e-6 after v1
            normalisation) is still ≈ 0.04, and evaluation shrinks the velocities 200-fold. Debiased, the averages
            are the normalised weighted mean of the batch statistics, (1 − 0.9)·Σ 0.9^(n−k)·b_k / (1 − 0.9ⁿ);
            they equal the reference's to a relative 0.9ⁿ (< 3e-5 after 100 steps), i.e. for the paper's runs.
        positive_copies, negative_copies: training windows per epoch of each CP / non-CP recording (60 / 12:
            positives ×5, the reference's class balance).
        window: frames per window (150 = 5 s at 30 Hz).
        hop: hop between validation/test windows (75 = 50 % overlap; the last window is aligned to the end).
        roll_sequence: tile every training recording to the longest one before cropping (reference default).
        augment: random rotation/scale/translation of each training window (train only).
        mirror: the chance that a training window is replaced by its mirror image (x reflected about the window's
            median x, every left keypoint swapped with its right one: what a mirrored video gives), drawn per
            window before the window rotation and the other augmentation (train only). An ensemble trained with
            0.5 gives a mirrored video nearly the answer of the unmirrored one at no cost when scoring
            (``Ensemble.predict(mirror="average")`` makes it exact at twice the scoring work). 0 (default): the
            reference's training, which never mirrors.
        rotation: maximum rotation in whole degrees (integer angles in [-45, 45] in the reference).
        scale: (min, max) isotropic scale (0.70 … 1.30 in steps of 0.01).
        translation: maximum shift of x and y (-0.30 … 0.30 in steps of 0.01).
        preprocess_version: ``infantjax.preprocess.preprocess_cp`` version (``"v1"``, the published results, or
            ``"v2"``).
        window_rotation: rotate each window so its first frame's spine points down before augmentation, in
            training and evaluation (v1 ``standardize_rotation``; ``"reference"`` keeps the arccos sign quirk,
            ``"corrected"`` uses atan2, None turns it off; v2 has none). The reference quirk mirrors windows of a
            head-down (or rotates those of a sideways) recording; ``Ensemble.predict`` warns about such recordings
            and ``predict(..., window_rotation="corrected")`` scores them correctly (the two modes agree on upright
            recordings, so an ensemble trained with either can predict with ``"corrected"``).
        confidence_threshold: mask keypoints whose detector confidence is below this value before preprocessing
            (DeepLabCut's p-cutoff convention; docs/preprocess.md), in training and prediction; None (default,
            the paper's behaviour) uses every detected keypoint.
        feature_mode: ``infantjax.preprocess.features`` mode (``"reference"``: the last two velocity frames are 0).
        model_mode: ``infantjax.models.gcn.build_model`` mode.
        bn_numerics: BatchNorm training numerics of the model: ``"flax"`` (default, fastest) or ``"torch"``
            (two-pass batch variance, PyTorch's unbiased running variance: the reference's training numerics;
            ``infantjax.nn.norm``).
        remat: rematerialise every ST-GCN module in training (:mod:`infantjax.nn.remat`): the training step keeps
            only each module's input for the backward pass and computes the module again there — a fraction of the
            step's activation memory for about one more forward pass of time; the same values (docs/performance.md,
            "Memory"). ``"auto"`` (default): only a network whose training step would keep more activations for
            its backward pass than :func:`remat_limit` (4 GB on a CPU; half the device's memory on an
            accelerator when that is more) at ``batch_size`` windows — on a CPU five of the ten Table A.4 networks,
            whose quick tour otherwise peaks at 4.8–5.7 GB; ``True`` / ``False``: always / never.
        preprocess: run ``infantjax.preprocess.preprocess_cp`` on every recording before windowing; set False
            when the cohort is already preprocessed.
        eval_batch_size: windows per evaluation call.
        progress: show a tqdm progress bar.
    """

    epochs: int = host_field(200)
    batch_size: int = host_field(32)
    learning_rate: float = 5e-4
    nesterov: bool = True
    optimizer: str = "sgd"
    debias_batch_stats: bool = True
    positive_copies: int = host_field(60)
    negative_copies: int = host_field(12)
    window: int = 150
    hop: int = host_field(75)
    roll_sequence: bool = host_field(True)
    augment: bool = True
    mirror: float = 0.0
    rotation: int = 45
    scale: tuple[float, float] = (0.7, 1.3)
    translation: float = 0.3
    feature_mode: str = "reference"
    model_mode: str = "reference"
    bn_numerics: str = "flax"
    remat: bool | str = "auto"
    preprocess: bool = host_field(True)
    preprocess_version: str = host_field("v1")
    window_rotation: str | None = "reference"
    confidence_threshold: float | None = host_field(None)
    eval_batch_size: int = host_field(256)

    def __post_init__(self):
        try:
            if isinstance(self.scale, str):
                raise TypeError("a string")  # "12" would otherwise read as (1.0, 2.0)
            scale = tuple(float(s) for s in self.scale)
        except (TypeError, ValueError):
            raise ConfigError(f"CPConfig.scale must be (min, max) numbers, got {self.scale!r}") from None
        if not all(math.isfinite(s) for s in scale):
            raise ConfigError(f"CPConfig.scale must be finite, got {self.scale!r}")
        object.__setattr__(self, "scale", scale)
        super().__post_init__()
        check_positive_ints(self, ("positive_copies", "negative_copies", "window", "hop"), "CPConfig")
        if isinstance(self.rotation, bool) or not isinstance(self.rotation, int) or not 0 <= self.rotation <= 180:
            raise ConfigError(f"CPConfig.rotation must be whole degrees in [0, 180], got {self.rotation!r}")
        check_preprocessing("CPConfig", self.preprocess_version, self.window_rotation)
        if self.preprocess_version == "v2" and self.window_rotation is not None:
            raise ConfigError("CPConfig: preprocessing v2 has no window rotation (the reference removed it); "
                              "set window_rotation=None")
        if isinstance(self.mirror, bool) or not isinstance(self.mirror, (int, float)) or not 0 <= self.mirror <= 1:
            raise ConfigError(f"CPConfig.mirror must be a chance in [0, 1], got {self.mirror!r}")
        if not isinstance(self.translation, (int, float)) or isinstance(self.translation, bool) \
                or not self.translation >= 0:
            raise ConfigError(f"CPConfig.translation must be a number >= 0, got {self.translation!r}")
        if len(self.scale) != 2 or not 0 < self.scale[0] <= self.scale[1]:
            raise ConfigError(f"CPConfig.scale must be (min, max) with 0 < min <= max, got {self.scale!r}")
        if self.bn_numerics not in ("flax", "torch"):
            raise ConfigError(f"CPConfig.bn_numerics must be 'flax' or 'torch', got {self.bn_numerics!r}")
        if not isinstance(self.remat, bool) and self.remat != "auto":
            raise ConfigError(f"CPConfig.remat must be true, false or 'auto', got {self.remat!r}")
        if self.window < 3:
            raise ConfigError(f"CPConfig.window must be at least 3 frames, got {self.window}")
        threshold = self.confidence_threshold
        if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, (int, float))
                                      or not 0 <= threshold <= 1):
            raise ConfigError(f"CPConfig.confidence_threshold must be a number in [0, 1] or None, got {threshold!r}")


#: The demo's training recipe — NOT the paper's (docs/ensemble.md "Demo recipe"): SGD at lr 0.05 (paper 5e-4) and
#: batches of 16 (paper 32) so that ≈ 100 steps per instance learn the easy synthetic cohort in about two minutes
#: on 2 CPU cores; 6/4 windows per CP/non-CP recording and epoch (balances the classes at 40 % prevalence as the
#: paper's 60/12 does at 15 %). Everything else (150-frame windows, augmentation, v1 preprocessing) is the paper's;
#: the BatchNorm averages are debiased (``CPConfig.debias_batch_stats``), without which short runs evaluate
#: with the initial variance 1 still in the running averages and do not learn visibly.
DEMO_CONFIG = CPConfig(epochs=6, batch_size=16, learning_rate=0.05, positive_copies=6, negative_copies=4)


# ------------------------------------------------------------------------------------------------------ data
@dataclasses.dataclass(frozen=True)
class Prepared:
    """A cohort ready for training: positions (T_i, 19, 2) per recording, 0/1 labels, subject ids."""

    coords: tuple[np.ndarray, ...]
    labels: np.ndarray
    subjects: tuple[str, ...]
    name: str = "cohort"

    @property
    def lengths(self) -> np.ndarray:
        return np.asarray([c.shape[0] for c in self.coords], dtype=np.int64)


def prepare_cohort(cohort: Cohort, config: CPConfig, *, role: str = "train") -> Prepared:
    """Validate and preprocess a cohort for training or validation.

    Raises:
        DataError: empty cohort, labels that are not 0/1, only one class, or a recording that cannot be used.
    """
    if not isinstance(cohort, Cohort):
        raise DataError(f"{role} cohort: expected a Cohort, got {type(cohort).__name__}")
    if len(cohort) == 0:
        raise DataError(f"{role} cohort {cohort.name!r} is empty")
    labels = np.asarray(cohort.labels)
    if labels.dtype.kind not in "biuf" or not np.isin(labels, (0, 1)).all():
        raise DataError(f"{role} cohort {cohort.name!r}: CP labels must be 0 or 1, got values "
                        f"{sorted(set(np.unique(labels).tolist()))[:5]}")
    labels = labels.astype(np.int32)
    if len(np.unique(labels)) < 2:
        raise DataError(f"{role} cohort {cohort.name!r} has only class {int(labels[0])}; it needs both CP (1) and "
                        "no CP (0) subjects")
    coords = tuple(
        prepare_sequence(s, config, where=f"{role} cohort {cohort.name!r}, recording {i} (subject "
                                          f"{cohort.subjects[i]!r})")
        for i, s in enumerate(cohort.sequences)
    )
    return Prepared(coords, labels, tuple(cohort.subjects), cohort.name)


def crop_start_bounds(length: int, copies: int, window: int) -> tuple[np.ndarray, np.ndarray]:
    """The interval each copy of a recording draws its crop start from, as the reference's ``random_start``
    (MovementOutcome ``utils/helpers.py``; gcn_reference A.9).

    Copy p of n (1-based) covers part p of the recording, ``[(p−1)·⌊T/n⌋, p·⌊T/n⌋]``; both ends are clipped to the
    last window start ``T − window`` **first**, and the start is then drawn uniformly from the clipped interval
    (both ends included). So every start of a copy has probability ``1 / (hi − lo + 1)``, and a copy whose part
    lies wholly past ``T − window`` always takes the last window.

    Arguments:
        length: T, frames of the recording (the tiled length when ``roll_sequence``).
        copies: n, copies of the recording per epoch.
        window: frames per window.
    Returns:
        ``(lo, hi)``, two (n,) int64 arrays: copy p starts uniformly in ``[lo[p−1], hi[p−1]]``.
    """
    last = int(length) - int(window)
    part = int(length) // int(copies)
    p = np.arange(1, int(copies) + 1, dtype=np.int64)
    return np.minimum((p - 1) * part, last), np.minimum(p * part, last)


def epoch_crops(lengths: np.ndarray, labels: np.ndarray, config: CPConfig,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Class balancing by repetition with stratified random crops, shuffled (gcn_reference A.9).

    Recording i appears ``positive_copies`` (label 1) or ``negative_copies`` (label 0) times. Copy p of n draws its
    start uniformly from :func:`crop_start_bounds` — part p of T, clipped to T − window before the draw, as the
    reference does — where T is the longest recording's length when ``roll_sequence`` (recordings are tiled) and
    the recording's own length otherwise.

    Returns:
        (recording index, start frame) arrays of equal length, in shuffled order.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    t_max = int(lengths.max())
    rec, starts = [], []
    for i, (t_i, y) in enumerate(zip(lengths, labels)):
        n = config.positive_copies if y == 1 else config.negative_copies
        lo, hi = crop_start_bounds(t_max if config.roll_sequence else int(t_i), n, config.window)
        starts.append(rng.integers(lo, hi, endpoint=True))
        rec.append(np.full(n, i))
    rec = np.concatenate(rec)
    starts = np.concatenate(starts)
    order = rng.permutation(len(rec))
    return rec[order], starts[order]


def gather_windows(coords: tuple[np.ndarray, ...], rec: np.ndarray, starts: np.ndarray,
                   window: int) -> np.ndarray:
    """Cut windows (N, window, J, 2); frame indices wrap around (tiling, ``roll_sequence``)."""
    offsets = np.arange(window)
    out = np.empty((len(rec), window) + coords[0].shape[1:], dtype=np.float32)
    for k, (i, s) in enumerate(zip(rec, starts)):
        c = coords[int(i)]
        out[k] = c[(int(s) + offsets) % c.shape[0]]
    return out


@dataclasses.dataclass(frozen=True)
class ValidationWindows:
    """Every window of a validation cohort.

    Attributes:
        positions: (W, window, 19, 2) positions.
        subject: (W,) index into ``subject_ids`` of each window.
        labels: (W,) label of each window (its recording's label).
        subject_ids: the cohort's unique subjects.
        subject_labels: (S,) one label per subject.
    """

    positions: np.ndarray
    subject: np.ndarray
    labels: np.ndarray
    subject_ids: tuple[str, ...]
    subject_labels: np.ndarray

    def __len__(self) -> int:
        return int(self.positions.shape[0])


def validation_windows(prepared: Prepared, config: CPConfig) -> ValidationWindows:
    """Windows of ``config.window`` frames with hop ``config.hop``, the last aligned to the end (A.9)."""
    from infantjax.preprocess import windows

    subject_ids = tuple(dict.fromkeys(prepared.subjects))
    index = {s: k for k, s in enumerate(subject_ids)}
    pos, subj, labs = [], [], []
    for c, y, s in zip(prepared.coords, prepared.labels, prepared.subjects):
        w = np.asarray(windows(c, length=config.window, hop=config.hop), dtype=np.float32)
        pos.append(w)
        subj.append(np.full(len(w), index[s]))
        labs.append(np.full(len(w), y))
    subject_labels = np.zeros(len(subject_ids), dtype=np.int32)
    for s, y in zip(prepared.subjects, prepared.labels):
        subject_labels[index[s]] = max(subject_labels[index[s]], y)
    if len(np.unique(subject_labels)) < 2:
        raise DataError(f"validation cohort {prepared.name!r} needs subjects of both classes for the AUC")
    return ValidationWindows(np.concatenate(pos), np.concatenate(subj), np.concatenate(labs).astype(np.int32),
                             subject_ids, subject_labels)


# ------------------------------------------------------------------------------------------------------ windows
def augment_windows(key: jax.Array, positions: jax.Array, config: CPConfig) -> jax.Array:
    """Random rotation, scale and translation of each window (N, T, J, 2), one draw per window (A.9)."""
    from infantjax.augment import random_perturbation_batch

    return random_perturbation_batch(key, positions, max_angle=config.rotation, scale_range=config.scale,
                                     max_shift=config.translation)


def mirror_windows(key: jax.Array, positions: jax.Array, chance: float) -> jax.Array:
    """Each window (N, T, J, 2) of In-Motion 19 keypoints replaced, with probability ``chance`` (one draw per
    window), by its mirror image: x reflected about the window's median x and left and right keypoints swapped
    (:func:`infantjax.preprocess.mirror`, jit-able)."""
    perm = _skeleton.get(SKELETON).flip_permutation()
    if positions.shape[-2] != perm.size:
        raise ConfigError(f"CPConfig.mirror needs windows of the {perm.size} {SKELETON} keypoints, got "
                          f"{positions.shape[-2]} joints")
    x = positions[..., 0]
    centre = jnp.nanmedian(x.reshape(x.shape[0], -1), axis=1)[:, None, None]
    mirrored = jnp.stack([2.0 * centre - x, positions[..., 1]], axis=-1)[..., perm, :]
    pick = jax.random.bernoulli(key, chance, (positions.shape[0],))[:, None, None, None]
    return jnp.where(pick, mirrored, positions)


def subject_scores(probabilities: np.ndarray, windows: ValidationWindows) -> np.ndarray:
    """Subject score = median over the subject's windows of P(CP) (gcn_reference A.9)."""
    return np.asarray([np.median(probabilities[windows.subject == k]) for k in range(len(windows.subject_ids))])


# ------------------------------------------------------------------------------------------------------ the task
@dataclasses.dataclass(frozen=True, eq=False)
class CPData:
    """One instance's data: its training recordings and its validation windows."""

    train: Prepared
    validation: ValidationWindows

    @classmethod
    def from_cohorts(cls, train: Cohort, validation: Cohort, config: CPConfig) -> CPData:
        """Validate and preprocess a training and a validation cohort (:func:`prepare_cohort`)."""
        prepared = prepare_cohort(train, config, role="train")
        windows = validation_windows(prepare_cohort(validation, config, role="validation"), config)
        return cls(prepared, windows)


class _Crops(Sequence):
    """The batches of one epoch, cut on demand: ``batch[s]`` = {"positions" (B, T, J, 2), "labels" (B,)}."""

    def __init__(self, prepared: Prepared, rec: np.ndarray, start: np.ndarray, config: CPConfig):
        self.prepared, self.rec, self.start, self.config = prepared, rec, start, config
        self.size = config.batch_size

    def __len__(self) -> int:
        return len(self.rec) // self.size

    def __getitem__(self, s: int) -> dict:
        if not 0 <= s < len(self):
            raise IndexError(s)
        sl = slice(s * self.size, (s + 1) * self.size)
        return {"positions": gather_windows(self.prepared.coords, self.rec[sl], self.start[sl], self.config.window),
                "labels": self.prepared.labels[self.rec[sl]]}


#: ``CPConfig.remat="auto"`` rematerialises a network whose training step keeps more activations than this for its
#: backward pass (one instance, ``batch_size`` windows) on a CPU: a training process stays within about 4 GB then
#: (docs/performance.md, "Memory")
REMAT_ABOVE = 4_000_000_000


def remat_limit() -> int:
    """Bytes of activations one instance's training step may keep for its backward pass before ``CPConfig.remat=
    "auto"`` rematerialises its modules: :data:`REMAT_ABOVE` on a CPU; on an accelerator half the device's memory
    when that is more (:func:`infantjax.parallel.memory_budget`). Programs compiled for another target
    (:mod:`infantjax.aot`) say ``remat`` themselves: this is the memory of the machine running the code."""
    from infantjax import backend, parallel

    if backend.platform() == "cpu":
        return REMAT_ABOVE
    return max(REMAT_ABOVE, parallel.memory_budget(fraction=0.5))


def _backward_bytes(spec, config: CPConfig, num_joints: int) -> int:
    """Bytes of the activations one instance's training step keeps for its backward pass (the residuals of
    ``jax.vjp`` of its loss at ``config.batch_size`` windows, traced abstractly: nothing is compiled or run)."""
    # only what shapes the step's activations: a recipe's other fields (epochs, copies, ...) share the answer
    return _residual_bytes(spec, config.batch_size, config.window, num_joints, config.feature_mode,
                           config.model_mode, config.bn_numerics)


@functools.lru_cache(maxsize=64)
def _residual_bytes(spec, batch_size: int, window: int, num_joints: int, feature_mode: str, model_mode: str,
                    bn_numerics: str) -> int:
    config = CPConfig(batch_size=batch_size, window=window, feature_mode=feature_mode, model_mode=model_mode,
                      bn_numerics=bn_numerics, remat=False)
    task = CPTask(spec, config, num_joints)
    variables = jax.eval_shape(task.init, jax.random.PRNGKey(0))
    batch = {"positions": jax.ShapeDtypeStruct((config.batch_size, config.window, num_joints, 2), jnp.float32),
             "labels": jax.ShapeDtypeStruct((config.batch_size,), jnp.int32)}

    def pullback(variables, batch):
        def loss(params):
            return task.loss({**variables, "params": params}, batch, jax.random.PRNGKey(0), 0)[0]

        return jax.vjp(loss, variables["params"])[1]

    residuals = jax.eval_shape(pullback, variables, batch)
    return int(sum(math.prod(leaf.shape) * np.dtype(leaf.dtype).itemsize
                   for leaf in jax.tree_util.tree_leaves(residuals)))


class CPTask(Task):
    """Train a skeleton GCN on CP labels (the reference recipe of seed 002 by default).

    Arguments:
        spec: a GCNSpec / STGCNSpec, or a Flax module with the same interface.
        config: the recipe (:class:`CPConfig`; default the reference's).
        num_joints: joints per frame (19, In-Motion).
    """

    def __init__(self, spec, config: CPConfig | None = None, num_joints: int = NUM_JOINTS):
        config = _argument("CPTask", config, CPConfig, hint="; build one with infantjax.train.CPConfig(...)")
        self.spec, self.config, self.num_joints = spec, config, int(num_joints)
        if config.mirror and self.num_joints != NUM_JOINTS:
            raise ConfigError(f"CPConfig.mirror swaps the left and right keypoints of {SKELETON}; these windows "
                              f"have {self.num_joints} joints, not {NUM_JOINTS}: set mirror=0")
        # the family's forward pass (infer/cp.py): prediction is the forward's, the losses are this task's
        self.forward = CPForward(spec, config, self.num_joints)  # "auto" builds without rematerialising
        self.model = self.forward.model
        self.channels = self.forward.channels
        #: whether the training step rematerialises the network's modules (``config.remat``, "auto" resolved)
        self.remat = config.remat is True
        if config.remat == "auto" and not isinstance(spec, nn.Module):  # a ready module is built as given
            need, limit = _backward_bytes(spec, config, self.num_joints), remat_limit()
            if need > limit:
                log.info("the training step of %s would keep %.1f GB of activations for its backward pass "
                         "(more than %.1f GB): its modules are rematerialised (CPConfig.remat=False turns this "
                         "off)", getattr(spec, "name", type(spec).__name__), need / 1e9, limit / 1e9)
                self.remat = True
                self.forward = CPForward(spec, config.replace(remat=True), self.num_joints)
                self.model = self.forward.model

    def compile_key(self) -> tuple:
        return super().compile_key() + (self.num_joints,)

    def init(self, key):
        sample = jnp.zeros((1, self.config.window, self.num_joints, self.channels), jnp.float32)
        variables = models.init_module(self.model, key, sample)
        variables.setdefault("batch_stats", {})
        if self.config.debias_batch_stats:  # running averages from 0, bias-corrected when read (eval_variables)
            variables["batch_stats"] = zeroed_batch_stats(variables["batch_stats"])
        return variables

    def inputs(self, positions: jax.Array) -> jax.Array:
        """Window positions → the network input (rotation standardised, features, the model's channels)."""
        return self.forward.network_inputs(positions)

    def loss(self, variables, batch, key, step):
        cfg = self.config
        aug_key, dropout_key = jax.random.split(key)
        positions = batch["positions"]
        if cfg.mirror:  # its own key, so that the reference's draws stay those of a config without it
            positions = mirror_windows(jax.random.fold_in(aug_key, 1), positions, cfg.mirror)
        positions = standardise_windows(positions, cfg)
        if cfg.augment:
            positions = augment_windows(aug_key, positions, cfg)
        x = window_features(positions, cfg)[..., :self.channels]
        (logits, _), updates = self.model.apply(variables, x, train=True, mutable=["batch_stats"],
                                                rngs={"dropout": dropout_key})
        return cross_entropy(logits, batch["labels"]).mean(), dict(updates), {}

    def eval_variables(self, variables, step):
        if not self.config.debias_batch_stats:
            return variables
        return {**variables, "batch_stats": debiased_batch_stats(variables["batch_stats"], step)}

    def predict(self, variables, positions):
        return self.forward.logits(variables, positions)

    def epoch_batches(self, data: CPData, epoch: int, rng) -> _Crops:
        rec, start = epoch_crops(data.train.lengths, data.train.labels, self.config, rng)
        if len(rec) < self.config.batch_size:
            raise ConfigError(f"an epoch has fewer windows ({len(rec)}) than one batch ({self.config.batch_size}); "
                              "raise the copy counts or lower batch_size")
        return _Crops(data.train, rec, start, self.config)

    def steps_per_epoch(self, data: CPData) -> int:
        labels = data.train.labels
        count = int((labels == 1).sum()) * self.config.positive_copies + int((labels == 0).sum()) \
            * self.config.negative_copies
        return count // self.config.batch_size

    def eval_inputs(self, data: CPData):
        return data.validation.positions

    def score(self, data: CPData, logits) -> dict[str, float]:
        v = data.validation
        probs, losses = host_softmax_cross_entropy(logits, v.labels)  # NumPy: no program per fold's shape
        auc = float(roc_auc(v.subject_labels, subject_scores(probs[:, 1], v)))
        val_loss = balanced_window_loss(losses, v.labels)
        return {"val_auc": auc, "val_loss": val_loss}

    def selection(self) -> Selection:
        return Selection("val_auc", "max", "best_auc")

    def check_data(self, data) -> None:
        if not isinstance(data, CPData):
            raise DataError(f"CPTask trains on CPData (CPData.from_cohorts(train, validation, config)), got "
                            f"{type(data).__name__}")

    @classmethod
    def example(cls, seed: int = 0) -> tuple[CPTask, list[CPData]]:
        """The smallest GCN of the search space on random walks of 19 joints (the task contract)."""
        from infantjax.models.gcn.presets import demo_spec

        config = CPConfig(epochs=3, batch_size=8, positive_copies=4, negative_copies=2, window=30, hop=15,
                          preprocess=False, window_rotation=None, progress=False, learning_rate=0.05,
                          eval_batch_size=64)
        rng = np.random.default_rng(seed)

        def cohort(n: int, name: str) -> Prepared:
            coords = tuple((rng.normal(0, 0.3, (1, NUM_JOINTS, 2)) + 0.05 * rng.normal(size=(60, NUM_JOINTS, 2))
                            .cumsum(0)).astype(np.float32) for _ in range(n))
            return Prepared(coords, np.arange(n, dtype=np.int32) % 2, tuple(f"{name}{i}" for i in range(n)), name)

        data = [CPData(cohort(6, f"t{k}"), validation_windows(cohort(4, f"v{k}"), config)) for k in range(2)]
        return cls(demo_spec(temporal_kernel_size=3), config), data


Ensemble.trained_with(CPConfig, CPTask)  # the family's training config and task (infer/ensemble.py)
