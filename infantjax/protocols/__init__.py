"""Protocols: how the papers train, split, evaluate and calibrate — above the training engine and its tasks.

A task (``infantjax.train``) says how one instance of a model family learns; a protocol says which instances to
train on which subjects and how to score them on held-out ones. Each protocol trains its instances (folds, splits,
held-out subjects) as one stacked program with :func:`infantjax.train.fit` and scores them with the stacked
inference of :mod:`infantjax.infer.predict`.

* :mod:`~infantjax.protocols.splits` — subject-level splits: repeated stratified hold-out (seed 003), stratified
  folds over infants (seed 001), leave-one-subject-out (seed 000);
* :mod:`~infantjax.protocols.evaluation` — held-out metrics: binary scores, per-subject errors, a fold's metrics;
* :mod:`~infantjax.protocols.calibration` — Platt scaling;
* :mod:`~infantjax.protocols.baselines` — linear regression and LASSO (seed 000), catch22 (seed 003);
* :mod:`~infantjax.protocols.cp` — seed 002's cross-validation of GCN architectures → an ensemble;
* :mod:`~infantjax.protocols.sma` — seed 000's leave-one-subject-out;
* :mod:`~infantjax.protocols.passmore` — seed 003's 25 repeated splits with Platt scaling;
* :mod:`~infantjax.protocols.mam` — seed 001's cross-validation.

Submodules are imported on first use (``infantjax.protocols.cp``), so importing this package does not start JAX.
"""

from __future__ import annotations

from infantjax._lazy import lazy_submodules

_SUBMODULES = ("baselines", "calibration", "cp", "evaluation", "mam", "passmore", "sma", "splits")

__all__ = list(_SUBMODULES)


__getattr__ = lazy_submodules(__name__, _SUBMODULES)
