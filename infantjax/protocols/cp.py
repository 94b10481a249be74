"""Seed 002's cross-validation: the development cohort cut into subject-level, class-stratified folds, each
architecture's fold instances trained as one vmapped stack, kept as an :class:`~infantjax.ensemble.Ensemble`."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

import numpy as np

from infantjax import parallel
from infantjax.ensemble import Ensemble, spec_to_dict
from infantjax.errors import ConfigError, DataError
from infantjax.protocols.splits import instance_seed
from infantjax.sequence import Cohort
from infantjax.train import cp as _cp
from infantjax.train.cp import CPConfig, CPData, CPTask
from infantjax.train.engine import drop_programs, fit

log = logging.getLogger(__name__)


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
        spec_to_dict(s)  # only savable architectures
    data = fold_data(cohort, config, folds=folds, split_seed=split_seed)
    variables, aucs = [], []
    for k, spec in enumerate(specs):
        ck = None if checkpoint_dir is None else os.path.join(os.fspath(checkpoint_dir), f"spec{k}")
        task = CPTask(spec, config)
        res = fit(task, data, seeds=[instance_seed(seed, f, stack=k) for f in range(folds)], mesh=mesh,
                  checkpoint_dir=ck, desc=f"spec {k + 1}/{len(specs)}")
        if k + 1 < len(specs) and spec not in specs[k + 1:]:
            # the next architecture's programs need the memory this one's executables hold (docs/performance.md,
            # "Memory"); the last one's stay cached for a repeated call
            drop_programs(task)
        variables.append(res.variables)
        aucs.append(res.best_score)
        log.info("spec %d: fold AUCs %s", k, np.round(res.best_score, 3).tolist())
    return Ensemble(specs, variables, config, threshold, aucs,
                    {"folds": folds, "seed": seed, "split_seed": split_seed, "cohort": cohort.name,
                     "num_recordings": len(cohort)})

