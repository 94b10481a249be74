"""Helpers shared by the training/ensemble/clinical tests: small synthetic cohorts with a planted class signal."""

from __future__ import annotations

import numpy as np

from infantjax.sequence import Cohort, SkeletonSequence
from infantjax.train import CPConfig

LEFT_LIMBS = (9, 10, 11, 16, 17, 18)  # left arm and leg of In-Motion 19

#: One small configuration for every training test: the compiled programs are cached per (model, compiled config
#: fields, mesh), so the test modules share their compilations.
SMALL = CPConfig(epochs=2, batch_size=16, positive_copies=6, negative_copies=4, window=30, hop=15,
                    preprocess=False, window_rotation=None, progress=False, learning_rate=0.05, eval_batch_size=64)


def random_walk_cohort(n_subjects: int = 14, frames: int = 90, seed: int = 0, positive_share: float = 0.5,
                       name: str = "walks") -> Cohort:
    """Random-walk skeletons: a rest pose plus smooth random motion of every joint. Positives (CP-like) move
    their left arm and leg ten times less (unilateral reduced movement), which survives rotation/scale."""
    base = np.random.default_rng(1234).normal(0, 0.3, (19, 2)).astype(np.float32)  # one rest pose for all cohorts
    rng = np.random.default_rng(seed)
    seqs, labels, subjects = [], [], []
    n_pos = round(n_subjects * positive_share)
    for k in range(n_subjects):
        y = int(k < n_pos)
        steps = rng.normal(0, 0.03, (frames, 19, 2))
        walk = np.cumsum(steps, axis=0)
        walk -= walk.mean(axis=0)
        if y:
            walk[:, LEFT_LIMBS] *= 0.1
        coords = base + 0.05 * rng.normal(size=(1, 19, 2)) + walk
        seqs.append(SkeletonSequence(coords.astype(np.float32), fps=30.0))
        labels.append(y)
        subjects.append(f"s{k:03d}")
    order = rng.permutation(n_subjects)
    return Cohort([seqs[i] for i in order], np.asarray(labels)[order], [subjects[i] for i in order], name=name)


def tiny_gcn_spec(**changes):
    """The smallest searchable GCN of the Table A.1 space (one module per branch, one main module, 3-frame
    temporal kernels: fast to compile)."""
    from infantjax.models.gcn.presets import demo_spec

    return demo_spec(**{"temporal_kernel_size": 3, **changes})


def filled_variables(shapes, rng: np.random.Generator, dtype=None, *, scale: float | None = None):
    """Variables of ``shapes`` (a GCN's ``jax.eval_shape`` of its ``init``: init's structure) filled in NumPy at
    init's scales — kernels N(0, 1/fan-in), small biases, BatchNorms 1/0/0/1, edge importances 1 — each leaf in its
    own dtype or ``dtype``. For tests that compare two forms on the same variables: compiling ``init`` takes seconds
    a network (its random number generation), and running it eagerly compiles a program per op and shape.

    ``scale``: every kernel and bias (BatchNorm's bias too) N(0, scale²) instead, for tests that want values far
    from init's (ties and large activations); scales, variances and edge importances stay 1, means 0."""
    import jax

    def fill(path, sd):
        name, parent = str(getattr(path[-1], "key", path[-1])), str(getattr(path[-2], "key", ""))
        kind = dtype or sd.dtype
        if name in ("scale", "var", "edge_importance"):
            return np.ones(sd.shape, kind)
        if name == "mean":
            return np.zeros(sd.shape, kind)
        if scale is not None:
            return (rng.normal(size=sd.shape) * scale).astype(kind)
        if name == "bias" and "bn" in parent:
            return np.zeros(sd.shape, kind)
        if name == "bias":
            return rng.uniform(-0.1, 0.1, sd.shape).astype(kind)
        return (rng.normal(size=sd.shape) / np.sqrt(np.prod(sd.shape[:-1]))).astype(kind)

    return jax.tree_util.tree_map_with_path(fill, shapes)
