"""The training loop: one jitted, vmapped step trains a stack of instances (folds) at once.

:func:`fit` trains one architecture on one train/validation split (what a NAS trial needs); :func:`train_stack`
trains I instances of one architecture, each on its own fold, in one program: every leaf of the train state has a
leading instance axis, each instance draws its own batches with its own RNG and keeps its own BatchNorm
statistics. Instances whose fold has fewer batches in an epoch (and the padding instances that make the count
divide the mesh) are masked: their state is left unchanged by the step.

Per epoch (gcn_reference A.9): balanced stratified crops, augmentation and features inside the step, then the
subject-level validation AUC (median over a subject's windows of P(CP)); the variables of the best-AUC epoch are
kept. With a checkpoint directory, every epoch is checkpointed (Orbax) and a run resumes from the newest
checkpoint (resume order: existing checkpoint > init); the result equals the uninterrupted run's.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import math
import os
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from infantjax import parallel
from infantjax import skeleton as _skeleton
from infantjax.errors import ConfigError
from infantjax.sequence import Cohort
from infantjax.train import data as _data
from infantjax.train.checkpoint import RunCheckpointer
from infantjax.train.config import TrainConfig
from infantjax.train.logging import ScalarLogger
from infantjax.train.losses import balanced_window_loss, cross_entropy, positive_probability
from infantjax.train.state import TrainState, init_stack, make_optimizer, variables_of, zeroed_batch_stats

__all__ = [
    "FitResult",
    "Programs",
    "StackResult",
    "augment_windows",
    "build",
    "fit",
    "input_channels",
    "programs_for",
    "standardise_windows",
    "subject_scores",
    "train_stack",
    "window_features",
]

log = logging.getLogger(__name__)

NUM_JOINTS = 19


def build(spec, config: TrainConfig, num_joints: int = NUM_JOINTS):
    """The Flax module of ``spec``: a GCNSpec/STGCNSpec through ``infantjax.models.gcn.build_model``, or a ready
    ``flax.linen.Module`` with the same interface (``apply(variables, x, train=...) -> (logits, features)``)."""
    import flax.linen as nn

    if isinstance(spec, nn.Module):
        return spec
    from infantjax.models.gcn import build_model

    return build_model(spec, num_joints=num_joints, mode=config.model_mode)


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


def augment_windows(key: jax.Array, positions: jax.Array, config: TrainConfig) -> jax.Array:
    """Random rotation, scale and translation of each window (N, T, J, 2), one draw per window (A.9)."""
    from infantjax.augment import random_perturbation_batch

    return random_perturbation_batch(key, positions, max_angle=config.rotation, scale_range=config.scale,
                                     max_shift=config.translation)


def standardise_windows(positions: jax.Array, config: TrainConfig) -> jax.Array:
    """The v1 window rotation (first-frame spine straight down), before any augmentation (A.9); jit-able."""
    if config.window_rotation is None:
        return positions
    from infantjax.preprocess import rotate_windows

    return rotate_windows(positions, _data.SKELETON, config.window_rotation)


def window_features(positions: jax.Array, config: TrainConfig) -> jax.Array:
    """Positions (..., T, J, 2) → position, velocity and bone channels (..., T, J, 6) (jit-able)."""
    from infantjax.preprocess import features

    parents = _skeleton.get(_data.SKELETON).parents
    return features(positions, parents, mode=config.feature_mode)


class Programs:
    """The jitted, vmapped functions of one model, configuration and mesh.

    Arguments:
        model: the Flax module.
        config: the training configuration.
        mesh: a mesh with axes ``("instance", "data")`` (see :func:`infantjax.parallel.instance_mesh`).
    """

    def __init__(self, model, config: TrainConfig, mesh):
        self.model, self.config, self.mesh = model, config, mesh
        self.tx = make_optimizer(config)
        inst = parallel.instance_sharding(mesh)
        batch = parallel.batch_sharding(mesh)
        self.channels = input_channels(model)
        sample = jnp.zeros((1, config.window, NUM_JOINTS, self.channels), jnp.float32)
        def init(keys):
            state = init_stack(model, self.tx, keys, sample)
            if config.debias_batch_stats:  # running averages from 0, bias-corrected when read (variables_of)
                state = state.replace(batch_stats=zeroed_batch_stats(state.batch_stats))
            return state

        self.init = jax.jit(init, out_shardings=inst)
        self.train_step = jax.jit(jax.vmap(self._train_step), in_shardings=(inst, batch, batch, inst),
                                  out_shardings=(inst, inst), donate_argnums=(0,))
        self.logits = jax.jit(jax.vmap(self._logits), in_shardings=(inst, batch), out_shardings=batch)
        self.copy = jax.jit(lambda tree: jax.tree_util.tree_map(jnp.copy, tree), in_shardings=(inst,),
                            out_shardings=inst)
        self.variables = jax.jit(jax.vmap(lambda st: variables_of(st, debias=config.debias_batch_stats)),
                                 in_shardings=(inst,), out_shardings=inst)
        self.select = jax.jit(_select, in_shardings=(inst, inst, inst), out_shardings=inst, donate_argnums=(1,))

    def _train_step(self, state: TrainState, positions, labels, active):
        cfg = self.config
        key = jax.random.fold_in(state.rng, state.step)  # the step's key: resumable, never reused (big_vision)
        aug_key, dropout_key = jax.random.split(key)
        positions = standardise_windows(positions, cfg)
        if cfg.augment:
            positions = augment_windows(aug_key, positions, cfg)
        x = window_features(positions, cfg)[..., :self.channels]

        def loss_fn(params):
            variables = {"params": params, "batch_stats": state.batch_stats}
            (logits, _), updates = self.model.apply(variables, x, train=True, mutable=["batch_stats"],
                                                    rngs={"dropout": dropout_key})
            return cross_entropy(logits, labels).mean(), updates.get("batch_stats", state.batch_stats)

        (loss, batch_stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
        updates, opt_state = self.tx.update(grads, state.opt_state, state.params)
        params = jax.tree_util.tree_map(lambda p, u: p + u, state.params, updates)
        new = state.replace(params=params, batch_stats=batch_stats, opt_state=opt_state, step=state.step + 1)
        # masked instances (fold out of batches this epoch, or padding) keep their state unchanged
        new = jax.tree_util.tree_map(lambda n, o: jnp.where(active, n, o), new, state)
        return new, jnp.where(active, loss, 0.0)

    def _logits(self, variables, positions):
        x = window_features(standardise_windows(positions, self.config), self.config)[..., :self.channels]
        logits, _ = self.model.apply(variables, x, train=False)
        return logits


@functools.lru_cache(maxsize=32)
def programs_for(model, config: TrainConfig, mesh) -> Programs:
    """Cached :class:`Programs`, so repeated runs of one architecture (folds, NAS trials) compile once."""
    return Programs(model, config, mesh)


def _select(mask, best, current):
    """Per instance: ``current`` where ``mask`` else ``best`` (leading instance axis on every leaf)."""
    def one(b, c):
        return jnp.where(mask.reshape((-1,) + (1,) * (c.ndim - 1)), c, b)
    return jax.tree_util.tree_map(one, best, current)


def subject_scores(probabilities: np.ndarray, windows: _data.ValidationWindows) -> np.ndarray:
    """Subject score = median over the subject's windows of P(CP) (gcn_reference A.9)."""
    return np.asarray([np.median(probabilities[windows.subject == k]) for k in range(len(windows.subject_ids))])


@dataclasses.dataclass
class StackResult:
    """Result of :func:`train_stack`.

    Attributes:
        variables: the best-epoch variables of every instance, stacked on a leading axis (host numpy).
        best_auc: (I,) best subject-level validation AUC per instance.
        best_epoch: (I,) the epoch (1-based) of that AUC.
        history: per instance, a list of per-epoch metric dicts.
        stopped_early: whether ``on_epoch`` stopped the run.
    """

    variables: Any
    best_auc: list[float]
    best_epoch: list[int]
    history: list[list[dict]]
    stopped_early: bool = False


@dataclasses.dataclass
class FitResult:
    """Result of :func:`fit`: the best-AUC epoch's variables and the per-epoch history."""

    best_auc: float
    best_epoch: int
    history: list[dict]
    variables: Any
    stopped_early: bool = False


def _eval_stack(programs: Programs, variables, val: Sequence[_data.ValidationWindows], n_pad: int,
                chunk: int) -> list[np.ndarray]:
    """Logits (W_i, 2) of every window of every instance's validation set, in chunks of ``chunk`` windows."""
    n = len(val)
    w_max = max(len(v) for v in val)
    out = [[] for _ in range(n)]
    shape = val[0].positions.shape[1:]
    for lo in range(0, w_max, chunk):
        block = np.zeros((n_pad, chunk) + shape, np.float32)
        for i, v in enumerate(val):
            part = v.positions[lo:lo + chunk]
            block[i, :len(part)] = part
        logits = np.asarray(programs.logits(variables, block))
        for i, v in enumerate(val):
            out[i].append(logits[i, :max(0, min(chunk, len(v) - lo))])
    return [np.concatenate(o) for o in out]


def train_stack(spec, folds: Sequence[tuple[_data.Prepared, _data.ValidationWindows]], config: TrainConfig, *,
                seeds: Sequence[int], mesh=None, checkpoint_dir: str | os.PathLike | None = None,
                log_dir: str | os.PathLike | None = None,
                on_epoch: Callable[[int, list[dict]], bool | None] | None = None,
                desc: str = "train") -> StackResult:
    """Train I instances of one architecture at once, instance i on ``folds[i]`` with seed ``seeds[i]``.

    Arguments:
        spec: a GCNSpec / STGCNSpec or a Flax module (see :func:`build`).
        folds: per instance, (prepared training data, validation windows).
        config: the recipe.
        seeds: per instance, the seed of its initialisation, batches and augmentation.
        mesh: a ``("instance", "data")`` mesh; default all devices (:func:`infantjax.parallel.instance_mesh`).
        checkpoint_dir: checkpoint every epoch here and resume from the newest checkpoint.
        log_dir: TensorBoard directory (default ``checkpoint_dir/tensorboard`` when checkpointing).
        on_epoch: called after each epoch as ``on_epoch(epoch, [metrics of instance i])``; True stops the run.
        desc: label of the progress bar.

    Returns:
        a :class:`StackResult`.
    """
    n = len(folds)
    if n == 0 or len(seeds) != n:
        raise ConfigError(f"train_stack: {n} folds but {len(seeds)} seeds; give one seed per fold")
    model = build(spec, config)
    mesh = mesh if mesh is not None else parallel.instance_mesh(n, batch_size=config.batch_size)
    if config.batch_size % mesh.shape[parallel.DATA]:
        raise ConfigError(f"batch_size {config.batch_size} must be divisible by the mesh's data axis "
                          f"({mesh.shape[parallel.DATA]})")
    n_pad = parallel.padded_size(n, mesh)
    chunk = math.ceil(config.eval_batch_size / mesh.shape[parallel.DATA]) * mesh.shape[parallel.DATA]
    # only the fields the compiled programs depend on form the cache key
    programs = programs_for(model, config.replace(epochs=1, positive_copies=1, negative_copies=1, progress=False),
                            mesh)
    inst = parallel.instance_sharding(mesh)

    keys = np.stack([np.asarray(jax.random.PRNGKey(int(s))) for s in seeds])
    state = programs.init(parallel.pad_leading(keys, n_pad))
    best = programs.copy(programs.variables(state))  # its own buffers: the train step donates the state's
    meta = {"epoch": 0, "history": [[] for _ in range(n)], "best_auc": [-1.0] * n, "best_epoch": [0] * n,
            "stopped": False, "seeds": [int(s) for s in seeds]}

    ckpt = RunCheckpointer(checkpoint_dir) if checkpoint_dir is not None else None
    if ckpt is not None and ckpt.latest() is not None:  # resume order: existing checkpoint > init
        like = jax.tree_util.tree_map(lambda x: x[:n], {"state": state, "best": best})
        try:
            tree, meta = ckpt.restore(ckpt.latest(), like)
        except BaseException:
            ckpt.close()
            raise
        if meta.get("seeds") != [int(s) for s in seeds]:
            ckpt.close()
            raise ConfigError(f"checkpoint {checkpoint_dir} was written with seeds {meta.get('seeds')}, not "
                              f"{list(seeds)}; use another checkpoint directory")
        tree = jax.device_put(parallel.pad_leading(tree, n_pad), inst)
        state, best = tree["state"], tree["best"]
        log.info("resumed %s from epoch %d", desc, meta["epoch"])
    if log_dir is None and checkpoint_dir is not None:
        log_dir = os.path.join(os.fspath(checkpoint_dir), "tensorboard")

    train_sets = [f[0] for f in folds]
    val_sets = [f[1] for f in folds]
    B = config.batch_size
    shape = (config.window, NUM_JOINTS, 2)
    try:
        with ScalarLogger(log_dir) as logger:
            bar = tqdm(range(meta["epoch"] + 1, config.epochs + 1), desc=desc, disable=not config.progress,
                       initial=meta["epoch"], total=config.epochs)
            for epoch in bar:
                if meta["stopped"]:
                    break
                crops = [_data.epoch_crops(t.lengths, t.labels, config, np.random.default_rng([int(seeds[i]), epoch]))
                         for i, t in enumerate(train_sets)]
                steps = [len(c[0]) // B for c in crops]
                if min(steps) == 0:
                    raise ConfigError(f"an epoch has fewer windows ({min(len(c[0]) for c in crops)}) than one batch "
                                      f"({B}); raise the copy counts or lower batch_size")
                losses = []
                for s in range(max(steps)):
                    pos = np.zeros((n_pad, B) + shape, np.float32)
                    lab = np.zeros((n_pad, B), np.int32)
                    active = np.zeros(n_pad, bool)
                    for i, (rec, start) in enumerate(crops):
                        if s < steps[i]:
                            sl = slice(s * B, (s + 1) * B)
                            pos[i] = _data.gather_windows(train_sets[i].coords, rec[sl], start[sl], config.window)
                            lab[i] = train_sets[i].labels[rec[sl]]
                            active[i] = True
                    state, loss = programs.train_step(state, pos, lab, active)
                    losses.append(loss)
                train_loss = np.asarray(jnp.stack(losses)).sum(0)[:n] / np.asarray(steps)

                current = programs.variables(state)
                logits = _eval_stack(programs, current, val_sets, n_pad, chunk)
                metrics, improved = [], np.zeros(n_pad, bool)
                from infantjax.metrics import roc_auc

                for i, (v, lg) in enumerate(zip(val_sets, logits)):
                    prob = np.asarray(positive_probability(jnp.asarray(lg)))
                    auc = float(roc_auc(v.subject_labels, subject_scores(prob, v)))
                    val_loss = balanced_window_loss(cross_entropy(jnp.asarray(lg), jnp.asarray(v.labels)), v.labels)
                    if auc > meta["best_auc"][i]:
                        meta["best_auc"][i], meta["best_epoch"][i] = auc, epoch
                        improved[i] = True
                    m = {"epoch": epoch, "train_loss": float(train_loss[i]), "val_loss": val_loss, "val_auc": auc,
                         "best_auc": meta["best_auc"][i], "best_epoch": meta["best_epoch"][i],
                         "learning_rate": config.learning_rate, "steps": int(steps[i])}
                    metrics.append(m)
                    meta["history"][i].append(m)
                    prefix = "" if n == 1 else f"fold{i}/"
                    logger.scalars(epoch, {"train/loss": m["train_loss"], "val/loss": val_loss, "val/auc": auc,
                                           "val/best_auc": m["best_auc"], "learning_rate": config.learning_rate},
                                   prefix)
                best = programs.select(jax.device_put(improved, inst), best, current)
                meta["epoch"] = epoch
                stop = bool(on_epoch(epoch, metrics)) if on_epoch is not None else False
                meta["stopped"] = stop
                if ckpt is not None:
                    saved = jax.tree_util.tree_map(lambda x: x[:n], {"state": state, "best": best})
                    ckpt.save(epoch, saved, meta)
                logger.flush()
                bar.set_postfix(loss=f"{np.mean(train_loss):.3f}",
                                auc=f"{np.mean([m['val_auc'] for m in metrics]):.3f}")
                if stop:
                    break
            bar.close()
    finally:
        if ckpt is not None:
            ckpt.close()
    # explicit host copies: never views of device buffers that a later donation could reuse
    variables = jax.tree_util.tree_map(lambda x: np.array(jax.device_get(x)[:n], copy=True), best)
    return StackResult(variables, list(meta["best_auc"]), list(meta["best_epoch"]), meta["history"],
                       bool(meta["stopped"]))


def fit(spec, train: Cohort, val: Cohort, config: TrainConfig, *, seed: int,
        checkpoint_dir: str | os.PathLike | None = None,
        on_epoch: Callable[[int, dict], bool | None] | None = None,
        log_dir: str | os.PathLike | None = None, mesh=None) -> FitResult:
    """Train one architecture on ``train`` and keep the epoch with the best subject-level AUC on ``val``.

    Arguments:
        spec: a GCNSpec / STGCNSpec (or a Flax module with the same interface).
        train: training cohort (In-Motion 19 recordings, labels 0/1).
        val: validation cohort (both classes present).
        config: the recipe (:class:`TrainConfig`, the reference recipe by default).
        seed: seed of initialisation, batches and augmentation.
        checkpoint_dir: checkpoint every epoch and resume from the newest checkpoint there.
        on_epoch: ``on_epoch(epoch, metrics)`` after each epoch, metrics with at least ``val_auc``, ``best_auc``,
            ``train_loss``; returning True stops training (pruning).
        log_dir: TensorBoard directory (default ``checkpoint_dir/tensorboard``).
        mesh: optional ``("instance", "data")`` mesh (default: the batch sharded over all devices).

    Returns:
        a :class:`FitResult` (best_auc, best_epoch, history, variables of the best epoch).
    """
    prepared = _data.prepare_cohort(train, config, role="train")
    windows = _data.validation_windows(_data.prepare_cohort(val, config, role="validation"), config)
    hook = None if on_epoch is None else (lambda epoch, ms: on_epoch(epoch, ms[0]))
    res = train_stack(spec, [(prepared, windows)], config, seeds=[seed], mesh=mesh, checkpoint_dir=checkpoint_dir,
                      log_dir=log_dir, on_epoch=hook, desc="fit")
    variables = jax.tree_util.tree_map(lambda x: x[0], res.variables)
    return FitResult(res.best_auc[0], res.best_epoch[0], res.history[0], variables, res.stopped_early)
