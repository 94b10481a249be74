"""What one search trial is: TrainEval of seed 002 A.2, its early-stopping checkpoints, and a cheap stand-in.

A trial trains a candidate on paper folds 1, 3, 4, 5, 6 and reports the subject-level AUC on folds 2 ∪ 7 after
every epoch, up to 100 epochs; its performance is the best AUC over the epochs. At epochs 10, 20, …, 90 it is
stopped if the best AUC so far is below 0.75, 0.775, …, 0.95 (gcn_reference C, "One trial"). Folds here are
0-based: paper fold f is index f − 1.

An *objective* is any callable ``objective(spec, context) -> TrialOutcome``. :class:`GCNObjective` trains a GCN
with :func:`infantjax.train.fit`; :class:`SyntheticObjective` scores a spec with a fixed formula (known optimum,
no training) for tests and benchmarks of the samplers.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import math
import os
import pathlib
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from infantjax._jsonconfig import JsonConfig
from infantjax.errors import ConfigError, DataError
from infantjax.models.gcn.spec import CHOICES, GCNSpec

__all__ = [
    "PAPER_CHECKPOINTS",
    "GCNObjective",
    "LeaseLost",
    "SyntheticObjective",
    "TrialConfig",
    "TrialContext",
    "TrialOutcome",
    "should_stop",
]

log = logging.getLogger(__name__)

# Early-stopping checkpoints of the search (seed 002 A.2): (epoch, minimum best AUC so far).
PAPER_CHECKPOINTS: tuple[tuple[int, float], ...] = (
    (10, 0.75), (20, 0.775), (30, 0.8), (40, 0.825), (50, 0.85), (60, 0.875), (70, 0.9), (80, 0.925), (90, 0.95),
)


@dataclasses.dataclass(frozen=True)
class TrialConfig(JsonConfig):
    """Budget and data of one trial.

    Attributes:
        epochs: training epochs (100 in the paper's search).
        checkpoints: ``(epoch, minimum best AUC)`` early-stopping checkpoints; ``()`` disables pruning.
        train_folds: 0-based folds trained on (paper folds 1, 3, 4, 5, 6).
        val_folds: 0-based folds validated on (paper folds 2 and 7).
        train: overrides of :class:`infantjax.train.CPConfig` fields (e.g. ``{"batch_size": 8}``).
    """

    epochs: int = 100
    checkpoints: tuple[tuple[int, float], ...] = PAPER_CHECKPOINTS
    train_folds: tuple[int, ...] = (0, 2, 3, 4, 5)
    val_folds: tuple[int, ...] = (1, 6)
    train: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        if int(self.epochs) != self.epochs or self.epochs < 1:
            raise ConfigError(f"TrialConfig.epochs must be an integer >= 1, got {self.epochs!r}")
        cps = tuple((int(e), float(a)) for e, a in self.checkpoints)
        if any(e < 1 for e, _ in cps) or list(cps) != sorted(cps):
            raise ConfigError(f"TrialConfig.checkpoints must be (epoch >= 1, auc) pairs in order, got {cps}")
        object.__setattr__(self, "checkpoints", cps)
        object.__setattr__(self, "train_folds", tuple(int(f) for f in self.train_folds))
        object.__setattr__(self, "val_folds", tuple(int(f) for f in self.val_folds))
        object.__setattr__(self, "train", dict(self.train))
        if not self.train_folds or not self.val_folds or set(self.train_folds) & set(self.val_folds):
            raise ConfigError(
                f"TrialConfig needs non-empty, disjoint train_folds and val_folds, got {self.train_folds} and "
                f"{self.val_folds}"
            )

    def scaled_checkpoints(self) -> tuple[tuple[int, float], ...]:
        """The checkpoints that fall inside ``epochs``."""
        return tuple((e, a) for e, a in self.checkpoints if e < self.epochs)
def should_stop(checkpoints: tuple[tuple[int, float], ...], epoch: int, best_auc: float) -> bool:
    """True if ``epoch`` is a checkpoint and the best AUC so far is below its criterion (gcn_reference C)."""
    for cp_epoch, criterion in checkpoints:
        if epoch == cp_epoch:
            return not (best_auc >= criterion)
    return False


class LeaseLost(Exception):
    """Raised inside a trial when another worker has taken it over (this worker was presumed dead)."""


@dataclasses.dataclass
class TrialContext:
    """What a running trial gets from the runner.

    Attributes:
        number: the trial number (its identity).
        seed: training seed, derived from (search seed, number): a re-run trial is the same trial.
        checkpoint_dir: where this trial checkpoints (keyed by the trial number), or None.
        report: ``report(epoch, metrics)`` after each epoch (1-based); ``metrics["best_auc"]`` is required.
            Returns True when the trial must stop (an early-stopping checkpoint failed).
        device_index: run the trial on this local device only (one trial per device); None: the objective's
            default (all devices).
    """

    number: int
    seed: int
    checkpoint_dir: str | None
    report: Callable[[int, Mapping[str, float]], bool]
    device_index: int | None = None


@dataclasses.dataclass(frozen=True)
class TrialOutcome:
    """Result of a trial: performance = best validation AUC; ``pruned`` if an early-stopping checkpoint failed."""

    performance: float
    epochs: int
    pruned: bool = False
    info: Mapping[str, Any] = dataclasses.field(default_factory=dict)


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
    ``seconds_per_epoch`` per epoch, honours the early-stopping checkpoints passed by the runner, and keeps a
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
            from infantjax.nas.space import candidate_string

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
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(".tmp")
                tmp.write_text(json.dumps({"epoch": epoch, "best_auc": best}))
                os.replace(tmp, path)
            if context.report(epoch, {"val_auc": auc, "best_auc": best}):
                return TrialOutcome(best, epoch, True, {"resumed_from": resumed_from})
        return TrialOutcome(best, self.epochs, False, {"resumed_from": resumed_from})


# ------------------------------------------------------------------------------------------------- GCN objective
class GCNObjective:
    """TrainEval (seed 002 A.2): train a candidate with :func:`infantjax.train.fit` on paper folds 1, 3, 4, 5, 6 and
    return its best subject-level AUC on folds 2 ∪ 7.

    The AUC of every epoch goes to the runner (``context.report``), which stops the trial at a failed early-stopping
    checkpoint (the pruner). With ``context.checkpoint_dir`` every epoch is checkpointed there (Orbax, by ``fit``),
    so a trial re-run after a crash resumes from its last epoch with the same seed and ends with the same result.
    With ``context.device_index`` the trial runs on that one local device; otherwise ``fit`` shards the batch over
    all devices (a sub-mesh for a large candidate).

    Arguments:
        cohort: the development cohort (hold the test set out first). Its subjects are cut into 7 stratified
            folds with ``cohort.split(test_fraction=0, folds=7, seed=1433)`` — the folds that
            :func:`infantjax.ensemble.train` cross-validates the winner on.
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

    def train_config(self):
        """The :class:`infantjax.train.CPConfig` of every trial (``config.train`` overrides, ``epochs``)."""
        from infantjax.train import CPConfig

        return CPConfig(**{"progress": False, **self.config.train, "epochs": self.config.epochs})

    def _cohorts(self):
        """The training and validation cohorts, preprocessed once for all trials (``fit`` then skips it)."""
        config = self.train_config()
        if not config.preprocess:
            return self.train, self.val, config
        if self._prepared is None:
            from infantjax.preprocess import preprocess_cp
            from infantjax.sequence import Cohort

            def prep(cohort):
                seqs = [preprocess_cp(s, version=config.preprocess_version) for s in cohort.sequences]
                return Cohort(seqs, cohort.labels, cohort.subjects, cohort.metadata, cohort.name)

            self._prepared = (prep(self.train), prep(self.val))
        return (*self._prepared, config.replace(preprocess=False))

    def __call__(self, spec: GCNSpec, context: TrialContext) -> TrialOutcome:
        from infantjax.train import CPData, CPTask, fit

        train, val, config = self._cohorts()
        mesh = None
        if context.device_index is not None:
            import jax

            from infantjax import parallel

            devices = jax.local_devices()
            mesh = parallel.instance_mesh(1, devices=[devices[context.device_index % len(devices)]])
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
