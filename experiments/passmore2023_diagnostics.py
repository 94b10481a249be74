"""Why does the seed 003 network stay below the catch22 baseline on the synthetic quick cohort? Cheap checks on cached
feature matrices (docs/passmore2023_smartphone.md, "Why the network stays below 0.85").

    python experiments/passmore2023_diagnostics.py separability FEATURES.npz
    python experiments/passmore2023_diagnostics.py train FEATURES.npz '{"splits": 5, "epochs": 150}'

``FEATURES.npz`` is a feature cache of experiments/passmore2023_smartphone.py (``features``, ``labels``,
``subjects``).

* ``separability``: is the label visible in the 46 features within one 5-s (128-sample) clip? Simple per-clip
  statistics (mean |first| and |second| differences per feature, std per feature, the mean absolute correlation
  between the 46 series of the clip): their univariate video-level AUCs, and a standardised, L2 logistic regression
  (C by inner CV) trained on clips and scored on the clips and videos (mean of clip probabilities) of held-out
  videos (5-fold, stratified by video).
* ``train``: the protocol on a few splits with ``PassmoreConfig.quick(**overrides)``: test AUC before/after Platt
  scaling, the kept epochs, and the test AUC when BatchNorm uses the batch statistics of the test clips instead of
  its moving averages (a stale moving average — Keras momentum 0.99 — would show as a gap).
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))


def _load(path):
    z = np.load(path)
    return z["features"], z["labels"], list(z["subjects"])


def clip_statistics(clip: np.ndarray) -> np.ndarray:
    """(L, 46) clip → 46 mean |Δ|, 46 mean |Δ²|, the mean |correlation| of its 46 series, 46 stds."""
    corr = np.nan_to_num(np.corrcoef(clip.T))
    upper = np.triu_indices(clip.shape[1], 1)
    return np.concatenate([np.abs(np.diff(clip, axis=0)).mean(0), np.abs(np.diff(clip, 2, axis=0)).mean(0),
                           [np.abs(corr[upper]).mean()], clip.std(0)])


def separability(path, length: int = 128, stride: int = 8) -> dict:
    """Univariate and clip-level logistic-regression separability (module docstring)."""
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from infantjax.metrics import roc_auc

    feats, y, _ = _load(path)
    per_video = [np.stack([clip_statistics(f[s:s + length]) for s in range(0, len(f) - length + 1, stride)])
                 for f in feats]
    names = ([f"mean|d1| {j}" for j in range(46)] + [f"mean|d2| {j}" for j in range(46)] + ["mean|corr|"]
             + [f"std {j}" for j in range(46)])
    video_means = np.stack([v.mean(0) for v in per_video])
    uni = np.array([roc_auc(y, video_means[:, j]) for j in range(video_means.shape[1])])
    uni = np.maximum(uni, 1 - uni)
    top = [(names[j], round(float(uni[j]), 3)) for j in np.argsort(uni)[::-1][:5]]
    x = np.concatenate(per_video)
    yc = np.concatenate([[label] * len(v) for label, v in zip(y, per_video)])
    group = np.concatenate([[i] * len(v) for i, v in enumerate(per_video)])
    p = np.zeros(len(yc))
    for train, test in StratifiedKFold(5, shuffle=True, random_state=0).split(np.zeros(len(y)), y):
        fit, held = np.isin(group, train), np.isin(group, test)
        model = make_pipeline(StandardScaler(), LogisticRegressionCV(Cs=5, max_iter=3000)).fit(x[fit], yc[fit])
        p[held] = model.predict_proba(x[held])[:, 1]
    video_p = np.array([p[group == i].mean() for i in range(len(y))])
    return {"videos": len(y), "samples": feats.shape[1], "top_univariate_video_auc": top,
            "clip_lr_clip_auc": round(float(roc_auc(yc, p)), 3),
            "clip_lr_video_auc": round(float(roc_auc(y, video_p)), 3)}


def train(path, overrides: dict) -> dict:
    """A few splits of the protocol with the quick recipe and ``overrides`` (module docstring)."""
    import jax

    from infantjax.models.passmore import PassmoreSpec
    from infantjax.train import passmore as P

    feats, labels, subjects = _load(path)
    config, spec = P.PassmoreConfig.quick(**overrides), PassmoreSpec()
    t0 = time.perf_counter()
    result = P.run_protocol(feats, labels, subjects, spec=spec, config=config)
    seconds = time.perf_counter() - t0
    summary = result.summary()
    no_dropout = dataclasses.replace(spec, dropout=0.0).build()  # dropout off, BatchNorm on batch statistics
    batch_stat_auc = []
    for i, split in enumerate(result.splits):
        variables = jax.tree_util.tree_map(lambda a, i=i: a[i], result.fit.variables)
        x = np.stack([P.video_clips(f, config.clip_length, config.clip_stride) for f in feats[split.test]])
        (logits, _), _ = no_dropout.apply(variables, x, train=True, mutable=["batch_stats"])
        batch_stat_auc.append(P.binary_scores(labels[split.test], P._sigmoid(logits))["auc"])
    return {"overrides": overrides, "seconds": round(seconds), "auc_before": summary["before"]["auc"],
            "auc_after": summary["after"]["auc"], "brier": (summary["before"]["brier"][0],
                                                             summary["after"]["brier"][0]),
            "per_split_auc": [round(r["auc"], 3) for r in result.before], "best_epoch": result.fit.best_epoch,
            "auc_with_test_batch_statistics": (float(np.mean(batch_stat_auc)), float(np.std(batch_stat_auc)))}


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) < 2 or argv[0] not in ("separability", "train"):
        print(__doc__)
        return 2
    if argv[0] == "separability":
        out = separability(argv[1])
    else:
        out = train(argv[1], json.loads(argv[2]) if len(argv) > 2 else {"splits": 5})
    print(json.dumps(out, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
