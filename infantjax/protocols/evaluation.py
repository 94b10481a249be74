"""Held-out evaluation of the protocols: binary scores (seed 003), per-subject errors (seed 000), a fold's
metrics (seed 001)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from infantjax.errors import DataError
from infantjax.metrics import classification_metrics, cohen_kappa, roc_auc

METRICS = ("auc", "accuracy", "sensitivity", "specificity", "ppv", "npv", "fms_frequency_auc", "kappa")


def binary_scores(labels: np.ndarray, probabilities: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    """AUC, recall and precision at ``threshold`` and the Brier score (the paper's table, plus Brier)."""
    y = np.asarray(labels).astype(int)
    p = np.asarray(probabilities, np.float64)
    pred = p >= threshold
    tp, fp, fn = int((pred & (y == 1)).sum()), int((pred & (y == 0)).sum()), int((~pred & (y == 1)).sum())
    return {"auc": roc_auc(y, p) if 0 < y.sum() < len(y) else float("nan"),
            "recall": tp / (tp + fn) if tp + fn else float("nan"),
            "precision": tp / (tp + fp) if tp + fp else float("nan"),
            "brier": float(np.mean((p - y) ** 2))}



def per_subject_errors(predictions: np.ndarray, targets: np.ndarray, subjects: np.ndarray) -> dict[str, float]:
    """Table 2's two columns: the absolute error averaged per subject (fold) and then over subjects, and the
    average over all examples.

    Returns:
        ``{"per_subject": ..., "overall": ...}``.
    """
    err = np.abs(np.asarray(predictions, np.float64) - np.asarray(targets, np.float64))
    subjects = np.asarray(subjects)
    per = [err[subjects == s].mean() for s in np.unique(subjects)]
    return {"per_subject": float(np.mean(per)), "overall": float(err.mean())}



def fold_scores(labels: np.ndarray, outputs: dict, threshold: float = 0.5,
                fms_truth: Sequence[np.ndarray] | None = None) -> dict[str, float]:
    """One fold's held-out metrics: AUC, accuracy, sensitivity, specificity, PPV, NPV of the risk probability at
    ``threshold``; the AUC of the FMs frequency (low frequency = risk); Cohen's κ of the clips' FMs calls against
    the per-clip ground truth (all clips of the fold pooled) when ``fms_truth`` is given."""
    y = np.asarray(labels).astype(int)
    p = outputs["risk"]
    both = 0 < y.sum() < len(y)
    m = classification_metrics(y, p, threshold)
    out = {"auc": roc_auc(y, p) if both else float("nan"), "accuracy": m.accuracy.value,
           "sensitivity": m.sensitivity.value, "specificity": m.specificity.value, "ppv": m.ppv.value,
           "npv": m.npv.value,
           "fms_frequency_auc": roc_auc(y, -outputs["fms_frequency"]) if both else float("nan"),
           "kappa": float("nan")}
    if fms_truth is not None:
        truth = np.concatenate([np.asarray(t) for t in fms_truth])
        called = np.concatenate([q > threshold for q in outputs["clip_fms"]]).astype(int)
        if truth.shape != called.shape:
            raise DataError(f"fold_scores: {truth.shape} clip labels for {called.shape} predicted clips; cut the "
                            "ground truth with the model's clip length and stride")
        out["kappa"] = cohen_kappa(truth, called)
    return out

