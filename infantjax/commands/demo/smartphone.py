"""The smartphone stage of ``infantjax demo`` (seed 003): a synthetic smartphone cohort (DeepLabCut ``passmore-18``
keypoints) through the Passmore preprocessing and the 46 features, scored by the zoo model ``smartphone-synthetic``
(trained on other synthetic infants, docs/zoo.md) beside seed 003's catch22 baseline, which is fitted on one half of
the demo's infants and scored on the other (both halves in turn). No toy is trained here: the repeated-split
protocol takes minutes even at the quick recipe (``infantjax smartphone train --quick``)."""

from __future__ import annotations

import os
import pathlib
import time

import numpy as np

from infantjax.io.files import write_json

__all__ = ["demo_run", "describe"]


def demo_run(out_dir: str | os.PathLike, *, seed: int = 0, infants: int = 24, duration_s: float = 20.0,
             zoo: str = "smartphone-synthetic") -> dict:
    """Score the zoo smartphone model and the catch22 baseline on a fresh synthetic cohort.

    Arguments:
        out_dir: folder for ``smartphone_demo.json``.
        seed: the cohort's seed.
        infants, duration_s: the cohort's size and recording length.
        zoo: the zoo model.

    Returns:
        ``{"zoo": {"name", "auc"}, "catch22_auc" (None without pycatch22), "videos", "abnormal", "seconds", "json"}``.
    """
    from infantjax.metrics import roc_auc
    from infantjax.pipelines.passmore import SmartphoneModel, synthetic_features

    started = time.perf_counter()
    features, labels, _ = synthetic_features(infants, seed=seed, duration_s=duration_s, dropout_burst_s=0.1,
                                             exclude_failed=True)
    model = SmartphoneModel.pretrained(zoo)
    probability = model.predict(features).probability
    record = {"zoo": {"name": zoo, "auc": float(roc_auc(labels, probability)),
                      "trained_on": model.info.get("trained_on", "")},
              "catch22_auc": _catch22_auc(features, labels, seed), "videos": len(labels),
              "abnormal": int(labels.sum()), "seed": seed}
    record["seconds"] = time.perf_counter() - started
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    record["json"] = str(write_json(out / "smartphone_demo.json", record, allow_nan=True))
    return record


def _catch22_auc(features: np.ndarray, labels: np.ndarray, seed: int) -> float | None:
    """Seed 003's baseline (an L2 logistic regression on standardised catch22 features) cross-fitted over two
    stratified halves of the videos; the pooled held-out AUC. None when pycatch22 is not installed."""
    try:
        import pycatch22  # noqa: F401
    except ImportError:
        return None
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from infantjax.metrics import roc_auc
    from infantjax.preprocess.catch22 import catch22_features

    x = np.nan_to_num(np.stack([catch22_features(f) for f in features]), nan=0.0, posinf=0.0, neginf=0.0)
    scores = np.zeros(len(labels))
    for train, test in StratifiedKFold(2, shuffle=True, random_state=seed).split(x, labels):
        fit = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000)).fit(x[train], labels[train])
        scores[test] = fit.predict_proba(x[test])[:, 1]
    return float(roc_auc(labels, scores))


def describe(record: dict) -> str:
    """One line for the demo's output."""
    z = record["zoo"]
    c22 = record["catch22_auc"]
    baseline = ("catch22 baseline not run: pip install 'infantjax[catch22]'" if c22 is None
                else f"catch22 baseline {c22:.2f}, cross-fitted on halves of these infants")
    return (f"zoo model {z['name']} (trained on other synthetic infants): held-out AUC {z['auc']:.2f} on "
            f"{record['videos']} fresh synthetic infants ({record['abnormal']} with abnormal movements; {baseline}); "
            f"record {record['json']}")
