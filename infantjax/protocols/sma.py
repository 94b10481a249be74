"""Seed 000's protocol: leave-one-subject-out, every held-out subject one instance of one vmapped program."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from infantjax.errors import DataError
from infantjax.models.sma import AGGREGATIONS, SMASpec, aggregate_recordings
from infantjax.protocols.evaluation import per_subject_errors
from infantjax.protocols.splits import instance_seed, loso_folds, subject_splits
from infantjax.train.sma import SMAConfig, SMAData, SMATask, Windows, predict_windows


@dataclasses.dataclass
class LOSOResult:
    """Leave-one-subject-out cross-validation.

    Attributes:
        subjects: the held-out subject of every fold (instance).
        windows: the windows of every recording (:class:`Windows`).
        predictions: (N,) held-out prediction of every window (by the fold that held its subject out).
        fit: the engine's :class:`~infantjax.train.engine.FitResult` (stacked variables of every fold), or None.
    """

    subjects: list[str]
    windows: Windows
    predictions: np.ndarray
    fit: Any = None

    def window_errors(self) -> dict[str, float]:
        """Table 2's row: per-subject and overall mean absolute error of the 30-s windows."""
        return per_subject_errors(self.predictions, self.windows.scores, self.windows.subjects)

    def recording_scores(self, method: str = "mean") -> tuple[np.ndarray, np.ndarray]:
        """(recording indices, aggregated predicted scores) by ``method`` (mean, median, quartile)."""
        return aggregate_recordings(self.predictions, self.windows.recordings, method)

    def recording_errors(self) -> dict[str, dict[str, float]]:
        """Table 3: per aggregation, the per-subject and overall mean absolute error of the recordings."""
        w = self.windows
        first = {int(r): i for i, r in reversed(list(enumerate(w.recordings)))}
        out = {}
        for method in AGGREGATIONS:
            ids, scores = self.recording_scores(method)
            idx = [first[int(r)] for r in ids]
            out[method] = per_subject_errors(scores, w.scores[idx], w.subjects[idx])
        return out


def run_loso(windows: Windows, *, spec: SMASpec | None = None, config: SMAConfig | None = None, seed: int = 0,
             folds: Sequence[str] | None = None, checkpoint_dir=None, mesh=None) -> LOSOResult:
    """Seed 000's protocol: one instance per held-out subject, every fold trained at once as one vmapped program
    (:func:`~infantjax.train.fit`; the engine runs the instances in groups when they do not fit its memory
    budget), each predicting its held-out subject's windows.

    Arguments:
        windows: the windows of every recording (:func:`recording_windows`).
        spec, config: network and recipe (defaults: Table 1 and the paper's).
        seed: fold k trains with seed ``seed + k``.
        folds: held-out subjects to run (default all: leave-one-subject-out); the windows of the others are only
            trained on.
        checkpoint_dir: checkpoint and resume the stacked run there.
        mesh: the engine's mesh (default all devices).

    Returns:
        a :class:`LOSOResult` (predictions NaN for windows of subjects not in ``folds``).
    """
    from infantjax.train.engine import fit

    task = SMATask(spec, config)
    all_ids = loso_folds(windows.subjects)
    held = all_ids if folds is None else [str(f) for f in folds]
    unknown = sorted(set(held) - set(all_ids))
    if unknown:
        raise DataError(f"run_loso: held-out subjects {unknown} have no windows")
    splits = subject_splits(windows.subjects, kind="loso", held_out=held)
    data = [SMAData(windows.windows[s.train], windows.scores[s.train]) for s in splits]
    result = fit(task, data, seeds=[instance_seed(seed, k) for k in range(len(held))], checkpoint_dir=checkpoint_dir,
                 mesh=mesh, desc="sma leave-one-subject-out")
    preds = predict_windows(task, result.variables, [windows.windows[s.test] for s in splits],
                            chunk=task.config.eval_batch_size)
    out = np.full(len(windows), np.nan)
    for s, p in zip(splits, preds):
        out[s.test] = p
    return LOSOResult(held, windows, out, result)

