"""Why does the seed 003 network stay below the catch22 baseline on the synthetic quick cohort? Cheap checks on cached
feature matrices (docs/passmore2023_smartphone.md, "Why the network stays below 0.85").

    python experiments/passmore2023_diagnostics.py separability FEATURES.npz
    python experiments/passmore2023_diagnostics.py train FEATURES.npz '{"splits": 5, "epochs": 150}'
    python experiments/passmore2023_diagnostics.py catch22 FEATURES.npz
    python experiments/passmore2023_diagnostics.py catch22-clips FEATURES.npz

``FEATURES.npz`` is a feature cache of experiments/passmore2023_smartphone.py (``features``, ``labels``,
``subjects``); its catch22 cache ``FEATURES_catch22.npz`` sits beside it.

* ``separability``: is the label visible in the 46 features within one 5-s (128-sample) clip? Simple per-clip
  statistics (mean |first| and |second| differences per feature, std per feature, the mean absolute correlation
  between the 46 series of the clip): their univariate video-level AUCs, and a standardised, L2 logistic regression
  (C by inner CV) trained on clips and scored on the clips and videos (mean of clip probabilities) of held-out
  videos (5-fold, stratified by video).
* ``train``: the protocol on a few splits with ``PassmoreConfig.quick(**overrides)``: test AUC before/after Platt
  scaling, the kept epochs, and the test AUC when BatchNorm uses the batch statistics of the test clips instead of
  its moving averages (a stale moving average — Keras momentum 0.99 — would show as a gap). When the catch22
  cache exists, the baseline on the same splits and the paired comparison (:func:`paired`).
* ``catch22``: why the catch22 baseline is strong: the univariate video AUC of each of the 46 × 22 features, the
  best ones by series and by catch22 feature, the largest standardised coefficients of the baseline's logistic
  regression (fitted on all videos, C by the baseline's inner CV), the baseline's held-out AUC on the top-k
  features (chosen inside each training set) over 5 stratified folds, and what the best features read in the
  generator: their AUC for the generator's ground truth (FMs class absent/sporadic vs intermittent/continual,
  cramped-synchronised, poor repertoire, CP subtype), from :func:`infantjax.synth.cohorts.sample_subject` with the
  experiment's cohort arguments (seed 0, ``easy``, prevalence 0.4).
* ``catch22-clips``: does the baseline need whole recordings? catch22 of 128-sample clips (the network's 5.1-s
  window; 12 clips spread over each video), averaged over a video's clips, and of one clip per video, with the
  baseline's model, 5-fold CV AUC, against the same model on the whole-recording catch22.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))


def catch22_clips(path, clips: int = 12, length: int = 128) -> dict:
    """The baseline on clip-level catch22 (module docstring)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from infantjax.metrics import roc_auc
    from infantjax.preprocess.catch22 import catch22_features

    feats, y, _ = _load(path)
    starts = np.linspace(0, feats.shape[1] - length, clips).astype(int)
    t0 = time.perf_counter()
    per_clip = np.stack([np.stack([catch22_features(f[s:s + length]) for s in starts]) for f in feats])
    seconds = time.perf_counter() - t0
    per_clip = np.nan_to_num(per_clip, nan=0.0, posinf=0.0, neginf=0.0)  # (videos, clips, 1012)
    grid = {"logisticregression__C": list(10.0 ** np.arange(-3, 4))}

    def cv(x):
        p = np.zeros(len(y))
        for tr, te in StratifiedKFold(5, shuffle=True, random_state=0).split(x, y):
            m = GridSearchCV(make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)), grid,
                             cv=StratifiedKFold(5), scoring="neg_log_loss").fit(x[tr], y[tr])
            p[te] = m.predict_proba(x[te])[:, 1]
        return round(float(roc_auc(y, p)), 3)

    whole = _load_catch22(path)
    out = {"clips_per_video": clips, "clip_catch22_seconds": round(seconds),
           "mean_of_clip_catch22_cv_auc": cv(per_clip.mean(1)), "one_clip_catch22_cv_auc": cv(per_clip[:, clips // 2])}
    if whole is not None:
        out["whole_recording_catch22_cv_auc"] = cv(np.nan_to_num(np.asarray(whole, np.float64), nan=0.0, posinf=0.0,
                                                                  neginf=0.0))
    return out


def _load(path):
    z = np.load(path)
    return z["features"], z["labels"], list(z["subjects"])


def _load_catch22(path):
    c22 = pathlib.Path(path).with_name(pathlib.Path(path).stem + "_catch22.npz")
    return np.load(c22)["catch22"] if c22.exists() else None


def series_names() -> list[str]:
    """The 46 feature series of ``passmore_features``: 18 keypoints × (x, y), then the 10 joint angles."""
    from infantjax.preprocess.passmore import JOINT_ANGLES, PASSMORE

    return [f"{k} {c}" for k in PASSMORE.keypoints for c in "xy"] + [f"{n} angle" for n, _ in JOINT_ANGLES]


def paired(cnn_auc, catch22_auc) -> dict:
    """Per-split CNN − catch22 test AUC differences: the differences, CNN wins (ties counted apart), mean ± SD
    and the two-sided Wilcoxon signed-rank p (scipy; zero differences dropped, exact for few splits)."""
    from scipy.stats import wilcoxon

    a, b = np.asarray(cnn_auc, float), np.asarray(catch22_auc, float)
    d = a - b
    p = float(wilcoxon(a, b).pvalue) if np.any(d != 0) and len(d) > 1 else float("nan")
    return {"differences": [round(float(x), 3) for x in d], "cnn_wins": int((d > 0).sum()),
            "ties": int((d == 0).sum()), "mean_difference": (float(d.mean()), float(d.std())), "wilcoxon_p": p}


def generator_truth(n: int, seed: int = 0, difficulty: str = "easy", prevalence: float = 0.4) -> dict:
    """Ground truth of the experiment's synthetic infants (the cohort draws subject i from these arguments)."""
    from infantjax.synth.cohorts import Difficulty, sample_subject

    subs = [sample_subject("cp", i, seed, Difficulty.of(difficulty), prevalence) for i in range(n)]
    return {"cp": np.array([s.cp for s in subs]),
            "fms_low": np.array([s.fms_class in ("absent", "sporadic") for s in subs]),
            "fms_class": np.array([s.fms_class for s in subs]),
            "cramped": np.array([s.cramped_synchronised for s in subs]),
            "poor": np.array([s.poor_repertoire for s in subs]),
            "subtype": np.array([s.subtype for s in subs])}


def catch22_analysis(path, top: int = 10) -> dict:
    """Which catch22 features separate the classes, and what they read in the generator (module docstring)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from infantjax.metrics import roc_auc
    from infantjax.preprocess.catch22 import catch22_names

    _, y, _ = _load(path)
    x = _load_catch22(path)
    if x is None:
        raise SystemExit(f"no catch22 cache beside {path}: run experiments/passmore2023_smartphone.py first")
    x = np.nan_to_num(np.asarray(x, np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    series, c22 = series_names(), catch22_names()
    names = [f"{series[j // 22]} / {c22[j % 22]}" for j in range(x.shape[1])]
    raw = np.array([roc_auc(y, x[:, j]) if x[:, j].std() > 0 else 0.5 for j in range(x.shape[1])])
    uni = np.maximum(raw, 1 - raw)
    order = np.argsort(uni)[::-1]
    by_c22 = uni.reshape(46, 22)
    out = {"videos": len(y), "features_auc_ge_0.8": int((uni >= 0.8).sum()), "features_auc_ge_0.9": int((uni >= 0.9).sum()),
           "top_features": [(names[j], round(float(uni[j]), 3), "higher in abnormal" if raw[j] > 0.5 else
                             "lower in abnormal") for j in order[:top]],
           "best_series_per_catch22_feature": sorted(
               [(c22[k], round(float(by_c22[:, k].max()), 3), series[int(by_c22[:, k].argmax())],
                 round(float(np.median(by_c22[:, k])), 3)) for k in range(22)], key=lambda t: -t[1]),
           "best_catch22_feature_per_series_top": sorted(
               [(series[f], round(float(by_c22[f].max()), 3), c22[int(by_c22[f].argmax())]) for f in range(46)],
               key=lambda t: -t[1])[:top]}
    grid = {"logisticregression__C": list(10.0 ** np.arange(-3, 4))}

    def fit(xs, ys):
        return GridSearchCV(make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)), grid,
                            cv=StratifiedKFold(5), scoring="neg_log_loss").fit(xs, ys)

    full = fit(x, y)
    coef = full.best_estimator_[-1].coef_[0]
    big = np.argsort(np.abs(coef))[::-1][:top]
    out["logistic_C"] = float(full.best_params_["logisticregression__C"])
    out["logistic_largest_coefficients"] = [(names[j], round(float(coef[j]), 4)) for j in big]
    out["logistic_coefficient_mass_by_catch22_feature"] = sorted(
        [(c22[k], round(float(np.abs(coef.reshape(46, 22)[:, k]).sum() / np.abs(coef).sum()), 3)) for k in range(22)],
        key=lambda t: -t[1])[:6]
    def cv(xs, ys):  # out-of-fold probabilities, 5 stratified folds
        p = np.zeros(len(ys))
        for tr, te in StratifiedKFold(5, shuffle=True, random_state=0).split(xs, ys):
            p[te] = fit(xs[tr], ys[tr]).predict_proba(xs[te])[:, 1]
        return p

    topk = {}
    for k in (1, 3, 10, 50, x.shape[1]):
        p = np.zeros(len(y))
        for tr, te in StratifiedKFold(5, shuffle=True, random_state=0).split(x, y):
            r = np.array([roc_auc(y[tr], x[tr, j]) if x[tr, j].std() > 0 else 0.5 for j in range(x.shape[1])])
            keep = np.argsort(np.abs(r - 0.5))[::-1][:k]
            p[te] = fit(x[tr][:, keep], y[tr]).predict_proba(x[te][:, keep])[:, 1]
        topk[k] = round(float(roc_auc(y, p)), 3)
    out["top_k_logistic_cv_auc"] = topk
    # one catch22 feature on all 46 series at a time, and one series' 22 features at a time
    fam = [(c22[k], round(float(roc_auc(y, cv(x[:, k::22], y))), 3)) for k in range(22)]
    out["one_catch22_feature_all_series_cv_auc"] = sorted(fam, key=lambda t: -t[1])
    ser = [(series[f], round(float(roc_auc(y, cv(x[:, 22 * f:22 * f + 22], y))), 3)) for f in range(46)]
    out["one_series_all_catch22_cv_auc_top"] = sorted(ser, key=lambda t: -t[1])[:top]
    all_cv = cv(x, y)
    # the fidgety band (1.6-4 Hz at 25 samples/s) in the 46 features: share of each series' power, averaged
    feats, *_ = _load(path)
    spec = np.abs(np.fft.rfft(feats - feats.mean(1, keepdims=True), axis=1)) ** 2
    freq = np.fft.rfftfreq(feats.shape[1], 1 / 25.0)
    band = spec[:, (freq >= 1.5) & (freq <= 4.5)].sum(1) / spec[:, freq > 0].sum(1)  # (videos, 46)
    fms_share = band.mean(1)
    truth = generator_truth(len(y))
    if not np.array_equal(truth["cp"].astype(int), np.asarray(y).astype(int)):
        out["generator"] = "labels differ from the generator's cp flags: not the experiment's cohort arguments"
        return out
    cp = truth["cp"]
    gen = {"counts": {"cp": int(cp.sum()), "cp_fms_absent_or_sporadic": int((cp & truth["fms_low"]).sum()),
                      "healthy_fms_absent_or_sporadic": int((~cp & truth["fms_low"]).sum()),
                      "cp_cramped": int((cp & truth["cramped"]).sum()), "cp_poor": int((cp & truth["poor"]).sum()),
                      "cp_subtypes": {s: int((truth["subtype"] == s).sum()) for s in np.unique(truth["subtype"][cp])}},
           "label_auc_of_truth_flags": {k: round(float(roc_auc(y, truth[k].astype(float))), 3)
                                        for k in ("fms_low", "cramped", "poor")},
           "catch22_cv_auc_for_truth_flags": {k: round(float(roc_auc(truth[k].astype(int), cv(x, truth[k].astype(int)))), 3)
                                              for k in ("fms_low", "cramped", "poor")},
           "fms_band_power_share": {"label_auc": round(float(roc_auc(y, -fms_share)), 3),
                                    "fms_low_auc": round(float(roc_auc(truth["fms_low"].astype(int), -fms_share)), 3),
                                    "median_fms_normal_fms_low": (float(np.median(fms_share[~truth["fms_low"]])),
                                                                  float(np.median(fms_share[truth["fms_low"]])))}}
    strata = {}
    for stratum, m in (("fms_intermittent_or_continual", ~truth["fms_low"]), ("fms_absent_or_sporadic", truth["fms_low"])):
        strata[stratum] = {"videos": int(m.sum()), "abnormal": int(y[m].sum()),
                           "catch22_cv_auc": round(float(roc_auc(y[m], all_cv[m])), 3) if 0 < y[m].sum() < m.sum()
                           else None}
    gen["label_within_fms_strata"] = strata
    rows = []
    for j in order[:top]:
        v = x[:, j]
        row = {"feature": names[j], "label_auc": round(float(uni[j]), 3)}
        for k in ("fms_low", "cramped", "poor"):
            a = roc_auc(truth[k].astype(int), v)
            row[f"{k}_auc_all"] = round(float(max(a, 1 - a)), 3)
            if k != "fms_low" and 0 < truth[k][cp].sum() < cp.sum():
                a = roc_auc(truth[k][cp].astype(int), v[cp])
                row[f"{k}_auc_within_cp"] = round(float(max(a, 1 - a)), 3)
        # does the feature still separate CP within one FMs stratum?
        for stratum, m in (("fms_normal", ~truth["fms_low"]), ("fms_low", truth["fms_low"])):
            if 0 < y[m].sum() < m.sum():
                a = roc_auc(y[m], v[m])
                row[f"label_auc_within_{stratum}"] = round(float(max(a, 1 - a)), 3)
        rows.append(row)
    gen["top_features"] = rows
    out["generator"] = gen
    return out


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
    from infantjax.protocols.baselines import catch22_baseline
    from infantjax.protocols.evaluation import binary_scores
    from infantjax.protocols.passmore import run_protocol
    from infantjax.train import passmore as P

    feats, labels, subjects = _load(path)
    config, spec = P.PassmoreConfig.quick(**overrides), PassmoreSpec()
    t0 = time.perf_counter()
    result = run_protocol(feats, labels, subjects, spec=spec, config=config)
    seconds = time.perf_counter() - t0
    c22 = _load_catch22(path)
    baseline = None if c22 is None else catch22_baseline(c22, labels, result.splits)
    summary = result.summary()
    no_dropout = dataclasses.replace(spec, dropout=0.0).build()  # dropout off, BatchNorm on batch statistics
    batch_stat_auc = []
    for i, split in enumerate(result.splits):
        variables = jax.tree_util.tree_map(lambda a, i=i: a[i], result.fit.variables)
        x = np.stack([P.video_clips(f, config.clip_length, config.clip_stride) for f in feats[split.test]])
        (logits, _), _ = no_dropout.apply(variables, x, train=True, mutable=["batch_stats"])
        batch_stat_auc.append(binary_scores(labels[split.test], 1.0 / (1.0 + np.exp(-np.asarray(logits, np.float64))))["auc"])
    return {"overrides": overrides, "seconds": round(seconds), "auc_before": summary["before"]["auc"],
            "auc_after": summary["after"]["auc"], "brier": (summary["before"]["brier"][0],
                                                             summary["after"]["brier"][0]),
            "per_split_auc": [round(r["auc"], 3) for r in result.before], "best_epoch": result.fit.best_epoch,
            "auc_with_test_batch_statistics": (float(np.mean(batch_stat_auc)), float(np.std(batch_stat_auc))),
            "load_average_after": os.getloadavg()[0],
            **({} if baseline is None else {
                "catch22_auc": (float(np.mean([r["auc"] for r in baseline])), float(np.std([r["auc"] for r in baseline]))),
                "catch22_per_split_auc": [round(r["auc"], 3) for r in baseline],
                "paired": paired([r["auc"] for r in result.before], [r["auc"] for r in baseline])})}


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) < 2 or argv[0] not in ("separability", "train", "catch22", "catch22-clips"):
        print(__doc__)
        return 2
    if argv[0] == "separability":
        out = separability(argv[1])
    elif argv[0] == "catch22":
        out = catch22_analysis(argv[1])
    elif argv[0] == "catch22-clips":
        out = catch22_clips(argv[1])
    else:
        out = train(argv[1], json.loads(argv[2]) if len(argv) > 2 else {"splits": 5})
    print(json.dumps(out, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
