"""What a report says about the model that produced a risk, and about the threshold table it places the risk on.

:class:`EnsembleInfo` is read off an :class:`~infantjax.ensemble.Ensemble` (architectures and their parameter
counts, instances per architecture, a hash of the training configuration, the checkpoint folder, the decision
threshold). :class:`ThresholdTable` is an eTable-5 table (seed 002, Paper III supplement) with the outcomes it was
computed from; an ensemble carries one when its ``metadata["threshold_table"]`` holds
:meth:`ThresholdTable.to_record` (``infantjax demo`` stores the table of its held-out infants there).
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
from collections.abc import Mapping, Sequence

import numpy as np

from infantjax.clinical import ThresholdRow
from infantjax.errors import DataError

__all__ = ["METADATA_KEY", "EnsembleInfo", "ThresholdTable"]

#: Where an ensemble's metadata keeps a stored threshold table (:meth:`ThresholdTable.to_record`).
METADATA_KEY = "threshold_table"


@dataclasses.dataclass(frozen=True)
class ThresholdTable:
    """An eTable-5 threshold table and where its outcomes came from.

    Attributes:
        rows: one :class:`~infantjax.clinical.ThresholdRow` per threshold, increasing.
        source: the infants with known outcomes it was computed on, in words ("this cohort: 28 infants with known
            outcomes").
    """

    rows: tuple[ThresholdRow, ...]
    source: str

    def __post_init__(self):
        rows = tuple(sorted(self.rows, key=lambda r: r.threshold))
        if not rows:
            raise DataError("a threshold table needs at least one row")
        object.__setattr__(self, "rows", rows)

    @property
    def num_cp(self) -> int:
        m = self.rows[0].metrics
        return m.tp + m.fn

    @property
    def num_no_cp(self) -> int:
        m = self.rows[0].metrics
        return m.tn + m.fp

    def row_at(self, threshold: float) -> ThresholdRow | None:
        """The row of ``threshold`` (to 1e-9), or None when the table has no such row."""
        for row in self.rows:
            if math.isclose(row.threshold, float(threshold), abs_tol=1e-9):
                return row
        return None

    def to_record(self) -> dict:
        """JSON-ready: ``{"source": ..., "rows": [ThresholdRow.as_dict(), ...]}``."""
        return {"source": self.source, "rows": [r.as_dict() for r in self.rows]}

    @classmethod
    def from_record(cls, record: Mapping) -> ThresholdTable:
        """Read :meth:`to_record` back.

        Raises:
            DataError: the record is not a stored threshold table.
        """
        if not isinstance(record, Mapping) or not isinstance(record.get("rows"), list):
            raise DataError("a stored threshold table must be {'source': text, 'rows': [ThresholdRow.as_dict(), ...]}"
                            f", got {type(record).__name__}")
        return cls(tuple(ThresholdRow.from_dict(r) for r in record["rows"]), str(record.get("source", "stored")))


def _num_params(tree) -> int:
    """Total size of the array leaves of a nested mapping of arrays."""
    if isinstance(tree, Mapping):
        return sum(_num_params(v) for v in tree.values())
    return int(np.size(tree))


def _describe(spec, params: int) -> str:
    """One line per architecture: its kind, parameter count and the choices that shape it most."""
    d = spec.to_dict()
    name = type(spec).__name__
    if name == "GCNSpec":
        return (f"searchable GCN (GCNSpec): {params:,} parameters; graph {d['graph']}, input width "
                f"{d['input_width']}, main width {d['initial_main_width']}, {d['block_type']} blocks, temporal "
                f"kernel {d['temporal_kernel_size']}, attention {d['attention']}")
    if name == "STGCNSpec":
        return f"ST-GCN (STGCNSpec): {params:,} parameters; channels {'-'.join(map(str, d['channels']))}"
    return f"{name}: {params:,} parameters"


@dataclasses.dataclass(frozen=True)
class EnsembleInfo:
    """Provenance of an ensemble's predictions, as the report shows it.

    Attributes:
        architectures: one line per architecture (kind, parameters per instance, main choices).
        stack_sizes: instances per architecture (cross-validation folds).
        config_hash: SHA-256 (hex) of the training configuration's JSON (``ensemble.config.to_json()``).
        checkpoint: the folder the ensemble was loaded from or saved to, or None when it was never on disk.
        threshold: the ensemble's default decision threshold.
        preprocessing: how recordings are preprocessed before windowing, in words (None: not preprocessed).
        fills_gaps: whether preprocessing fills missing keypoints by interpolation in time.
        training: the training recipe in a few words (optimizer, learning rate, epochs, window).
        fold_auc: per architecture, the best validation AUC of each fold instance.
        trained_on: the training cohort in words (name, recordings, folds, seed), or "".
        threshold_table: a threshold table stored with the ensemble, or None.
    """

    architectures: tuple[str, ...]
    stack_sizes: tuple[int, ...]
    config_hash: str
    checkpoint: str | None = None
    threshold: float = 0.5
    preprocessing: str | None = None
    fills_gaps: bool = True
    training: str = ""
    fold_auc: tuple[tuple[float, ...], ...] = ()
    trained_on: str = ""
    threshold_table: ThresholdTable | None = None

    @property
    def num_instances(self) -> int:
        return int(sum(self.stack_sizes))

    @classmethod
    def from_ensemble(cls, ensemble, *, checkpoint: str | os.PathLike | None = None) -> EnsembleInfo:
        """Read the provenance off a trained or loaded ensemble.

        Arguments:
            ensemble: an :class:`~infantjax.ensemble.Ensemble`.
            checkpoint: the folder it was saved to or loaded from (``Ensemble.load(path)``, ``infantjax.load(path)``).

        Raises:
            DataError: not an ensemble, or its stored threshold table is malformed.
        """
        from infantjax.ensemble import Ensemble

        if not isinstance(ensemble, Ensemble):
            raise DataError(f"ensemble_info needs an infantjax.ensemble.Ensemble or an EnsembleInfo, got "
                            f"{type(ensemble).__name__}")
        cfg = ensemble.config
        digest = hashlib.sha256(cfg.to_json().encode("utf-8")).hexdigest()
        archs = tuple(_describe(spec, _num_params(v["params"]) // max(n, 1))
                      for spec, v, n in zip(ensemble.specs, ensemble.variables, ensemble.stack_sizes))
        preprocessing = (f"infantjax.preprocess.preprocess_cp {cfg.preprocess_version} (resampled to 30 Hz, "
                         "gaps filled by linear interpolation in time, normalised by trunk length)"
                         if cfg.preprocess else None)
        training = (f"{cfg.optimizer.upper() if cfg.optimizer == 'sgd' else cfg.optimizer.capitalize()} learning "
                    f"rate {cfg.learning_rate:g}, {cfg.epochs} epochs, batch {cfg.batch_size}; windows of "
                    f"{cfg.window} frames ({cfg.window / 30:g} s at 30 Hz), hop {cfg.hop}")
        meta = dict(ensemble.metadata or {})
        trained_on = ""
        if "cohort" in meta:
            trained_on = f"cohort {meta['cohort']!s}"
            if "num_recordings" in meta:
                trained_on += f", {meta['num_recordings']} recordings"
            if "folds" in meta:
                trained_on += f", {meta['folds']} folds"
            if "seed" in meta:
                trained_on += f", seed {meta['seed']}"
        table = None
        stored = meta.get(METADATA_KEY)
        if stored is not None:
            table = ThresholdTable.from_record(stored)
        return cls(architectures=archs, stack_sizes=tuple(int(n) for n in ensemble.stack_sizes),
                   config_hash=digest, checkpoint=None if checkpoint is None else os.fspath(checkpoint),
                   threshold=float(ensemble.threshold), preprocessing=preprocessing, fills_gaps=bool(cfg.preprocess),
                   training=training,
                   fold_auc=tuple(tuple(float(a) for a in aucs) for aucs in (ensemble.fold_auc or ())),
                   trained_on=trained_on, threshold_table=table)


def as_info(value) -> EnsembleInfo | None:
    """``ensemble_info`` as given to the report functions: an EnsembleInfo, an Ensemble, or None."""
    if value is None or isinstance(value, EnsembleInfo):
        return value
    return EnsembleInfo.from_ensemble(value)


def instance_count_text(stack_sizes: Sequence[int]) -> str:
    """``"70 instances (10 architectures × 7 folds)"`` or ``"5 instances (3 + 2)"``."""
    sizes = [int(n) for n in stack_sizes]
    total = sum(sizes)
    if len(set(sizes)) == 1:
        return f"{total} instances ({len(sizes)} architecture{'s' if len(sizes) > 1 else ''} × {sizes[0]} folds)"
    return f"{total} instances ({' + '.join(map(str, sizes))})"
