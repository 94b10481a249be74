"""What a search trial computes: an *objective* is any callable ``objective(spec, context) -> TrialOutcome``.

* :class:`GCNObjective` — TrainEval of seed 002 A.2: train a candidate with :func:`infantjax.train.fit` on paper
  folds 1, 3, 4, 5, 6 and score its best subject-level AUC on folds 2 ∪ 7.
* :class:`SyntheticObjective` — scores a spec with a fixed formula (known optimum, no training), for tests and
  benchmarks of the samplers and workers.
* :func:`build_objective` rebuilds a search's objective from its stored settings (every worker process does), with
  :func:`load_cohort` for the development cohort of a GCN search.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import pathlib
import threading
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from infantjax.errors import ConfigError, DataError
from infantjax.io.files import write_json
from infantjax.models.gcn.spec import CHOICES, GCNSpec
from infantjax.nas.space import candidate_string
from infantjax.nas.store import SearchSettings
from infantjax.nas.trial import TrialConfig, TrialContext, TrialOutcome

__all__ = ["GCNObjective", "SyntheticObjective", "build_objective", "load_cohort"]


def build_objective(settings: SearchSettings):
    """The objective a worker evaluates, rebuilt from the search's stored settings.

    ``{"kind": "synthetic", **SyntheticObjective fields}``, or ``{"kind": "gcn", ...}`` with a cohort as
    :func:`load_cohort` reads it and an optional ``"split"`` (keyword arguments of ``Cohort.split`` for the 7 folds).
    """
    spec = dict(settings.objective)
    kind = spec.pop("kind", None)
    if kind == "synthetic":
        try:
            return SyntheticObjective(**spec)
        except TypeError as err:
            raise ConfigError(f"synthetic objective settings {spec} are invalid: {err}") from None
    if kind == "gcn":
        return GCNObjective(load_cohort(spec), settings.trial, spec.get("split"))
    raise ConfigError(f"objective kind {kind!r} is unknown; expected 'synthetic' or 'gcn'")


def load_cohort(spec: Mapping[str, Any]):
    """The development cohort a GCN search trains on.

    Arguments:
        spec: ``{"synthetic": N, "cohort_seed": s, "cohort_options": {...}}`` (``infantjax.synth.cohort`` of the
            CP task with keyword arguments such as ``duration_s``) or ``{"data": DIR, "labels": CSV}`` (recordings
            on disk), optionally with ``"hold_out_test": {"test_fraction": 0.25, "seed": 1433}``: the subjects of
            ``Cohort.split``'s test set are removed, so that every worker searches on the same development set.

    Raises:
        ConfigError: no cohort given, or invalid cohort options.
    """
    if spec.get("synthetic"):
        from infantjax import synth

        try:
            cohort = synth.cohort(task="cp", n_subjects=int(spec["synthetic"]), seed=int(spec.get("cohort_seed", 0)),
                                  **dict(spec.get("cohort_options") or {}))
        except TypeError as err:
            raise ConfigError(f"cohort_options {spec.get('cohort_options')} are invalid: {err}") from None
    elif spec.get("data"):
        from infantjax.io import read_cohort

        cohort = read_cohort(spec["data"], spec.get("labels"))
    else:
        raise ConfigError("a GCN search needs a cohort: --data DIR --labels CSV, or --synthetic N")
    hold_out = spec.get("hold_out_test")
    if hold_out:
        try:
            test = set(cohort.split(**{"folds": 7, **dict(hold_out)}).test)
        except TypeError as err:
            raise ConfigError(f"hold_out_test {hold_out} is invalid: {err}") from None
        cohort = cohort.select([s for s in cohort.subject_ids if s not in test], name=f"{cohort.name}/development")
    return cohort


# ------------------------------------------------------------------------------------------- synthetic objective
@functools.lru_cache(maxsize=64)
def _synthetic_tables(seed: int, concentration: float, active: int | None):
    rng = np.random.default_rng(np.random.SeedSequence([seed, 7919]))
    raw = rng.gamma(concentration, size=len(CHOICES)) + 1e-3
    if active is not None:  # only the `active` heaviest choices matter; the others weigh nothing
        raw[np.argsort(-raw)[int(active):]] = 0.0
    weights = dict(zip(CHOICES, (raw / raw.sum()).tolist()))
    scores = {}
    for key, alts in CHOICES.items():
        s = rng.uniform(0.0, 0.8, size=len(alts))
        s[int(rng.integers(len(alts)))] = 1.0
        scores[key] = dict(zip(alts, s.tolist()))
    return weights, scores


@dataclasses.dataclass(frozen=True)
class SyntheticObjective:
    """A cheap objective over the real search space with a known optimum (no training).

    Every choice has a weight and every alternative a score in [0, 1] (1 for the best alternative), drawn once from
    ``seed``; performance = ``base + span × Σ weight · score`` (with ``active=n`` only the n heaviest choices
    weigh anything, so every spec with their best alternatives is optimal; ``sigmoid=(centre, width)`` squashes the
    weighted score through a logistic curve first) plus optional deterministic noise per (spec, trial).
    With ``epochs > 0`` the trial reports a learning curve that reaches its performance at ``0.6 × epochs``, sleeps
    ``seconds_per_epoch`` per epoch, honours the early-stopping checkpoints passed by the worker, and keeps a
    one-line JSON checkpoint per epoch in the context's directory so that a re-run resumes.

    Example:
        >>> obj = SyntheticObjective(seed=0)
        >>> round(obj.performance(obj.optimum()), 3) == round(obj.base + obj.span, 3)
        True
    """

    seed: int = 0
    base: float = 0.55
    span: float = 0.42
    concentration: float = 0.5
    active: int | None = None
    sigmoid: tuple[float, float] | None = None
    noise: float = 0.0
    epochs: int = 0
    seconds_per_epoch: float = 0.0

    @classmethod
    def table_a3(cls, seed: int = 0, noise: float = 0.01, **changes) -> SyntheticObjective:
        """An objective whose Random Search AUCs look like seed 002 Table A.3's (median ≈ 0.72, IQR ≈ [0.62, 0.88],
        ≈ 20 % of trials ≥ 0.9, optimum 0.97)."""
        return cls(seed=seed, base=0.5, span=0.47, sigmoid=(0.62, 0.052), concentration=0.3, noise=noise,
                   **changes)

    def _tables(self) -> tuple[dict[str, float], dict[str, dict[Any, float]]]:
        return _synthetic_tables(int(self.seed), float(self.concentration), self.active)

    def optimum(self) -> GCNSpec:
        """The best spec (each choice at its score-1 alternative)."""
        _, scores = self._tables()
        return GCNSpec(**{k: max(v, key=v.get) for k, v in scores.items()})

    def performance(self, spec: GCNSpec, number: int = 0) -> float:
        """The performance of ``spec`` (noise, if any, depends on the trial number too)."""
        weights, scores = self._tables()
        score = sum(weights[k] * scores[k][getattr(spec, k)] for k in CHOICES)
        if self.sigmoid is not None:  # squash: many poor candidates, a plateau of good ones (like Table A.3)
            centre, width = self.sigmoid
            score = 1.0 / (1.0 + math.exp(-(score - centre) / width))
        value = self.base + self.span * score
        if self.noise:
            digest = np.frombuffer(candidate_string(spec).encode(), dtype=np.uint8).astype(np.uint64)
            rng = np.random.default_rng(np.random.SeedSequence([int(self.seed), int(number), *digest.tolist()]))
            value += self.noise * float(rng.normal())
        return float(min(value, 1.0))

    def to_dict(self) -> dict[str, Any]:
        return {"objective": "synthetic", **dataclasses.asdict(self)}

    def __call__(self, spec: GCNSpec, context: TrialContext) -> TrialOutcome:
        final = self.performance(spec, context.number)
        if self.epochs <= 0:
            return TrialOutcome(final, 0)
        path = pathlib.Path(context.checkpoint_dir) / "synthetic.json" if context.checkpoint_dir else None
        start, best = 0, -math.inf
        if path is not None and path.exists():
            state = json.loads(path.read_text())
            start, best = int(state["epoch"]), float(state["best_auc"])
        resumed_from = start
        for epoch in range(start + 1, self.epochs + 1):
            if self.seconds_per_epoch:
                time.sleep(self.seconds_per_epoch)
            auc = final * min(1.0, 0.7 + 0.3 * epoch / (0.6 * self.epochs))
            best = max(best, auc)
            if path is not None:
                write_json(path, {"epoch": epoch, "best_auc": best}, parents=True)
            if context.report(epoch, {"val_auc": auc, "best_auc": best}):
                return TrialOutcome(best, epoch, True, {"resumed_from": resumed_from})
        return TrialOutcome(best, self.epochs, False, {"resumed_from": resumed_from})


# ------------------------------------------------------------------------------------------------- GCN objective
class GCNObjective:
    """TrainEval (seed 002 A.2): train a candidate with :func:`infantjax.train.fit` on paper folds 1, 3, 4, 5, 6 and
    return its best subject-level AUC on folds 2 ∪ 7.

    The AUC of every epoch goes to the worker (``context.report``), which stops the trial at a failed early-stopping
    checkpoint (the pruner). With ``context.checkpoint_dir`` every epoch is checkpointed there (Orbax, by ``fit``),
    so a trial re-run after a crash resumes from its last epoch with the same seed and ends with the same result.
    With ``context.device_index`` the trial runs on that one local device; otherwise ``fit`` shards the batch over
    all devices (a sub-mesh for a large candidate).

    Arguments:
        cohort: the development cohort (hold the test set out first). Its subjects are cut into 7 stratified
            folds with ``cohort.split(test_fraction=0, folds=7, seed=1433)`` — the folds that
            :func:`infantjax.protocols.cp.train` cross-validates the winner on.
        config: the trial budget and folds.
        split: overrides of the keyword arguments of :meth:`infantjax.sequence.Cohort.split`.

    Raises:
        ConfigError: a fold of ``config`` that the split does not have.
        DataError: the validation folds hold one class only (no AUC).
    """

    def __init__(self, cohort, config: TrialConfig | None = None, split: Mapping[str, Any] | None = None):
        self.config = config or TrialConfig()
        self.split_kwargs = {"test_fraction": 0.0, "folds": 7, "seed": 1433, **dict(split or {})}
        folds = cohort.split(**self.split_kwargs).folds
        for f in (*self.config.train_folds, *self.config.val_folds):
            if not 0 <= f < len(folds):
                raise ConfigError(f"TrialConfig fold {f} does not exist: the cohort split has {len(folds)} folds")
        train_subjects = [s for f in self.config.train_folds for s in folds[f]]
        val_subjects = [s for f in self.config.val_folds for s in folds[f]]
        self.train = cohort.select(train_subjects, name=f"{cohort.name}/search-train")
        self.val = cohort.select(val_subjects, name=f"{cohort.name}/search-val")
        for role, part in (("training", self.train), ("validation", self.val)):
            if len({int(y) for y in part.labels}) < 2:
                folds_named = self.config.train_folds if role == "training" else self.config.val_folds
                raise DataError(
                    f"{role} folds {[f + 1 for f in folds_named]} (paper numbering) hold only one class; training "
                    f"and an AUC need both: use a larger cohort (at least 7 subjects of each class)"
                )
        self._prepared: tuple | None = None
        self._lock = threading.Lock()  # a worker's compile ahead (precompile) prepares the cohorts too

    def train_config(self):
        """The :class:`infantjax.train.CPConfig` of every trial (``config.train`` overrides, ``epochs``)."""
        from infantjax.train import CPConfig

        return CPConfig(**{"progress": False, **self.config.train, "epochs": self.config.epochs})

    def prepare(self) -> None:
        """Preprocess the cohorts now (once for all trials; the first trial does it otherwise)."""
        self._cohorts()

    def _cohorts(self):
        """The training and validation cohorts, preprocessed once for all trials (``fit`` then skips it)."""
        config = self.train_config()
        if not config.preprocess:
            return self.train, self.val, config
        with self._lock:
            return self._prepare(config)

    def _prepare(self, config):
        if self._prepared is None:
            from infantjax.preprocess import preprocess_cp
            from infantjax.sequence import Cohort

            def prep(cohort):
                seqs = [preprocess_cp(s, version=config.preprocess_version) for s in cohort.sequences]
                return Cohort(seqs, cohort.labels, cohort.subjects, cohort.metadata, cohort.name)

            self._prepared = (prep(self.train), prep(self.val))
        return (*self._prepared, config.replace(preprocess=False))

    @staticmethod
    def _mesh(device_index: int | None):
        if device_index is None:
            return None
        import jax

        from infantjax import parallel

        devices = jax.local_devices()
        return parallel.instance_mesh(1, devices=[devices[device_index % len(devices)]])

    def precompile(self, spec: GCNSpec, device_index: int | None = None) -> dict[str, float]:
        """Compile the programs a trial of ``spec`` runs, without training (:func:`infantjax.train.engine.precompile`):
        a worker calls it in a thread for the next candidate while the current trial trains. Returns the seconds
        of each program's compile."""
        from infantjax.train import CPData, CPTask
        from infantjax.train.engine import precompile

        train, val, config = self._cohorts()
        return precompile(CPTask(spec, config), [CPData.from_cohorts(train, val, config)],
                          mesh=self._mesh(device_index))

    def __call__(self, spec: GCNSpec, context: TrialContext) -> TrialOutcome:
        from infantjax.train import CPData, CPTask, fit

        train, val, config = self._cohorts()
        mesh = self._mesh(context.device_index)
        first: list[int] = []

        def on_epoch(epoch: int, metrics: Mapping[str, Any]) -> bool:
            if not first:
                first.append(int(epoch))
            return bool(context.report(int(epoch), metrics))

        t0 = time.perf_counter()
        result = fit(CPTask(spec, config), [CPData.from_cohorts(train, val, config)], seeds=[context.seed],
                     checkpoint_dir=context.checkpoint_dir, on_epoch=lambda e, ms: on_epoch(e, ms[0]), mesh=mesh,
                     desc="trial")
        history = result.history[0]
        info = {"best_epoch": int(result.best_epoch[0]), "seconds": round(time.perf_counter() - t0, 3),
                "resumed_from": first[0] - 1 if first else len(history),
                "val_auc": [round(float(m["val_auc"]), 6) for m in history]}
        return TrialOutcome(float(result.best_score[0]), len(history), bool(result.stopped_early), info)
