"""Metrics: classification figures of seed 002 (Table 1, eTable 2, eTable 5, subgroup sensitivities), ROC/AUC
(scikit-learn's, behind the module's input checks), rank tests against SciPy, pose metrics (PCKh, ME, PCKh@Human^0.95, RMSD, ICC) and seed 000's MAEs."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pytest
from scipy import stats

from infantjax import skeleton as S
from infantjax.errors import DataError, SkeletonMismatchError
from infantjax.metrics import classification as C
from infantjax.metrics import pose as PO
from infantjax.metrics import regression as RG

# ------------------------------------------------------------------------------------------------ the paper's tables
# Seed 002, Paper III supplement, eTable 2 "Internal Validation of Deep Learning Method" (7-fold CV, sensitivity
# fixed at the level of GMA):
#   TP 45  FP 16  TN 339  FN 18 | Sens 71.4 [58.7, 82.1] | Spec 95.5 [92.8, 97.4] | PPV 73.8 [60.9, 84.2]
#                               | NPV 95.0 [92.2, 97.0]  | Acc 91.9 [88.8, 94.3]
ETABLE2 = {
    "counts": (45, 16, 339, 18),
    "sensitivity": (71.4, 58.7, 82.1), "specificity": (95.5, 92.8, 97.4), "ppv": (73.8, 60.9, 84.2),
    "npv": (95.0, 92.2, 97.0), "accuracy": (91.9, 88.8, 94.3),
}

# Seed 002, Paper III, Table 1 "Predictive values on external validation given a fixed sensitivity of 70.0%":
#   Deep Learning method            15  7 111 6 | 71.4 [47.8, 88.7] 94.1 [88.2, 97.6] 68.2 [45.1, 86.1]
#                                               | 94.9 [89.2, 98.1] 90.6 [84.5, 94.9]
#   General Movement Assessment     14 13 102 6 | 70.0 [45.7, 88.1] 88.7 [81.5, 93.8] 51.9 [32.0, 71.3]
#                                               | 94.4 [88.3, 97.9] 85.9 [78.9, 91.3]
#   Conventional Machine Learning   15 32  86 6 | 71.4 [47.8, 88.7] 72.9 [63.9, 80.7] 31.9 [19.1, 47.1]
#                                               | 93.5 [86.3, 97.6] 72.7 [64.5, 79.9]
# The Deep Learning row is the 0.35 row of eTable 5, so these are eTable 5's intervals at that threshold.
TABLE1 = {
    "deep learning": {
        "counts": (15, 7, 111, 6),
        "sensitivity": (71.4, 47.8, 88.7), "specificity": (94.1, 88.2, 97.6), "ppv": (68.2, 45.1, 86.1),
        "npv": (94.9, 89.2, 98.1), "accuracy": (90.6, 84.5, 94.9),
    },
    "GMA": {
        "counts": (14, 13, 102, 6),
        "sensitivity": (70.0, 45.7, 88.1), "specificity": (88.7, 81.5, 93.8), "ppv": (51.9, 32.0, 71.3),
        "npv": (94.4, 88.3, 97.9), "accuracy": (85.9, 78.9, 91.3),
    },
    "conventional ML": {
        "counts": (15, 32, 86, 6),
        "sensitivity": (71.4, 47.8, 88.7), "specificity": (72.9, 63.9, 80.7), "ppv": (31.9, 19.1, 47.1),
        "npv": (93.5, 86.3, 97.6), "accuracy": (72.7, 64.5, 79.9),
    },
}

# Seed 002, Paper III supplement, eTable 5 "Predictive Values of Decision Thresholds on External Validation"
# (point estimates only; the seed prints no intervals for this table — they are computed and checked for the
# 0.35 row via Table 1 above):
#   Thres.  TP FP  TN FN  Sens. Spec. PPV  NPV  Acc.
#   0.15    20 30  88  1  95.2  74.6  40.0 98.9 77.7
#   0.20    18 20  98  3  85.7  83.1  47.4 97.0 83.5
#   0.25    18 15 103  3  85.7  87.3  54.6 97.2 87.1
#   0.30    16 14 104  5  76.2  88.1  53.3 95.4 86.3
#   0.35    15  7 111  6  71.4  94.1  68.2 94.9 90.6
ETABLE5 = {
    0.15: ((20, 30, 88, 1), (95.2, 74.6, 40.0, 98.9, 77.7)),
    0.20: ((18, 20, 98, 3), (85.7, 83.1, 47.4, 97.0, 83.5)),
    0.25: ((18, 15, 103, 3), (85.7, 87.3, 54.6, 97.2, 87.1)),
    0.30: ((16, 14, 104, 5), (76.2, 88.1, 53.3, 95.4, 86.3)),
    0.35: ((15, 7, 111, 6), (71.4, 94.1, 68.2, 94.9, 90.6)),
}

# Seed 002, Paper III results: sensitivity in non-ambulatory CP 100.0% (95% CI 63.1-100.0), ambulatory CP 58.3%
# (27.7-84.8), spastic bilateral CP 92.3% (64.0-99.8), spastic unilateral CP 42.9% (9.9-81.6). Counts are the only
# k/n with those point estimates among the 21 infants with CP: 8/8, 7/12, 12/13, 3/7.
SUBGROUPS = {(8, 8): (100.0, 63.1, 100.0), (7, 12): (58.3, 27.7, 84.8), (12, 13): (92.3, 64.0, 99.8),
             (3, 7): (42.9, 9.9, 81.6)}

NAMES = ("sensitivity", "specificity", "ppv", "npv", "accuracy")


def _half_up(x: Decimal, quantum: str) -> Decimal:
    return x.quantize(Decimal(quantum), rounding=ROUND_HALF_UP)


def paper_estimate(p: float) -> float:
    """A point estimate as printed: percent, one decimal, half up."""
    return float(_half_up(Decimal(repr(float(p))) * 100, "0.1"))


def paper_bound(p: float) -> float:
    """An interval bound as printed: the proportion to 4 decimals (as R's ``conf`` prints it), then percent to one
    decimal, both half up. For 3 of the 48 published bounds this is 0.1 above rounding once: eTable 2's NPV lower
    bound 0.921483 -> 0.9215 -> 92.2, GMA's specificity lower bound 0.814451 -> 0.8145 -> 81.5 and GMA's PPV lower
    bound 0.319497 -> 0.3195 -> 32.0."""
    return float(_half_up(_half_up(Decimal(repr(float(p))), "0.0001") * 100, "0.1"))


# The one published figure no consistent rounding reproduces: eTable 5's PPV at threshold 0.25 is 18/33 = 54.545...%,
# printed as 54.6 (54.5 when rounded once; the same table prints 126/139 = 90.647...% as 90.6, so it is not a
# systematic double rounding). We compute 54.5 and check the published value is within 0.1.
PUBLISHED_SLIPS = {(0.25, "ppv"): 54.5}


def _check_row(row):
    m = C.binary_metrics(*row["counts"])
    for name in NAMES:
        prop = getattr(m, name)
        got = (paper_estimate(prop.value), paper_bound(prop.lower), paper_bound(prop.upper))
        assert got == row[name], (name, got, row[name])
        # and within 0.1 percentage point even when rounded once
        assert np.allclose(100 * np.array([prop.value, prop.lower, prop.upper]), row[name], atol=0.1 + 1e-9)


def test_etable2_intervals_reproduced_exactly():
    _check_row(ETABLE2)


@pytest.mark.parametrize("method", sorted(TABLE1))
def test_table1_intervals_reproduced_exactly(method):
    _check_row(TABLE1[method])


@pytest.mark.parametrize("threshold", sorted(ETABLE5))
def test_etable5_predictive_values_reproduced_exactly(threshold):
    counts, published = ETABLE5[threshold]
    m = C.binary_metrics(*counts)
    for n, value in zip(NAMES, published):
        got = paper_estimate(getattr(m, n).value)
        expected = PUBLISHED_SLIPS.get((threshold, n), value)
        assert got == expected, (n, got, value)
        assert abs(got - value) <= 0.1 + 1e-9
    # every interval is a valid exact interval around the estimate
    for n in NAMES:
        p = getattr(m, n)
        assert 0.0 <= p.lower < p.value < p.upper <= 1.0
    # external validation: 21 infants with CP and 118 without at every threshold
    tp, fp, tn, fn = counts
    assert (tp + fn, tn + fp) == (21, 118)


def test_subgroup_sensitivities_with_k_equal_n_edge():
    for (k, n), published in SUBGROUPS.items():
        lo, hi = C.clopper_pearson(k, n)
        assert (paper_estimate(k / n), paper_bound(lo), paper_bound(hi)) == published
    assert C.clopper_pearson(8, 8)[1] == 1.0
    # closed form at the edges: k = n gives lower (alpha/2)^(1/n); k = 0 gives upper 1 - (alpha/2)^(1/n)
    assert C.clopper_pearson(8, 8)[0] == pytest.approx(0.025 ** (1 / 8), rel=1e-12)
    assert C.clopper_pearson(0, 8) == pytest.approx((0.0, 1 - 0.025 ** (1 / 8)), rel=1e-12)


def test_clopper_pearson_coverage_is_at_least_nominal():
    n, p = 30, 0.3
    ks = np.arange(n + 1)
    pmf = stats.binom.pmf(ks, n, p)
    covered = [lo <= p <= hi for lo, hi in (C.clopper_pearson(k, n) for k in ks)]
    assert pmf[covered].sum() >= 0.95
    # a 90 % interval is narrower
    lo95, hi95 = C.clopper_pearson(9, 30)
    lo90, hi90 = C.clopper_pearson(9, 30, alpha=0.1)
    assert lo95 < lo90 < hi90 < hi95


@pytest.mark.parametrize("args", [(5, 4), (-1, 3), (1.5, 3), (1, 3, 0.0), (1, 3, 1.5), ("a", 3), (True, 3)])
def test_clopper_pearson_rejects_bad_input(args):
    with pytest.raises(DataError):
        C.clopper_pearson(*args)


def test_zero_denominator_gives_nan_value_and_uninformative_interval():
    m = C.binary_metrics(0, 0, 10, 2)
    assert np.isnan(m.ppv.value) and (m.ppv.lower, m.ppv.upper) == (0.0, 1.0)
    assert m.ppv.percent() == "n/a"
    assert C.binary_metrics(45, 16, 339, 18).sensitivity.percent() == "71.4 [58.7, 82.1]"
    assert m.as_dict()["npv"]["k"] == 10


# ------------------------------------------------------------------------------------------------ ROC and AUC
def _tied_data(seed=0, n=200):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    s = np.round(rng.normal(y * 0.8, 1.0) * 4) / 4  # coarse: many ties across classes
    return y, s


def test_roc_curve_groups_ties_and_starts_at_infinity():
    """A hand-counted curve: tied scores switch to positive together; with ``drop_intermediate`` the points on a
    straight segment go and the area stays."""
    y, s = [0, 1, 0, 1, 1], [0.1, 0.4, 0.4, 0.8, 0.2]
    fpr, tpr, thr = C.roc_curve(y, s, drop_intermediate=False)
    np.testing.assert_allclose(fpr, [0, 0, 0.5, 0.5, 1])
    np.testing.assert_allclose(tpr, [0, 1 / 3, 2 / 3, 1, 1])
    np.testing.assert_allclose(thr[1:], [0.8, 0.4, 0.2, 0.1])
    assert np.isinf(thr[0])
    fpr, tpr, _ = C.roc_curve([1, 1, 0, 0], [0.9, 0.8, 0.3, 0.2])  # (0.5, 1) lies on the segment to (1, 1)
    np.testing.assert_allclose(fpr, [0, 0, 0, 1])
    np.testing.assert_allclose(tpr, [0, 0.5, 1, 1])
    for seed in range(3):
        y, s = _tied_data(seed)
        full, dropped = C.roc_curve(y, s, drop_intermediate=False), C.roc_curve(y, s)
        assert dropped[0].size <= full[0].size
        assert C.auc(dropped[0], dropped[1]) == pytest.approx(C.auc(full[0], full[1]), abs=1e-12)


def test_roc_auc_is_the_mann_whitney_statistic():
    """Ties count one half: the AUC is U / (n+ n-)."""
    for seed in range(4):
        y, s = _tied_data(seed)
        a = C.roc_auc(y, s)
        u = stats.mannwhitneyu(s[y == 1], s[y == 0]).statistic
        assert a == pytest.approx(u / (y.sum() * (1 - y).sum()), abs=1e-12)
    assert C.roc_auc([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4]) == 1.0
    assert C.roc_auc([0, 1], [0.5, 0.5]) == 0.5
    assert C.auc([1.0, 0.5, 0.0], [1.0, 1.0, 1.0]) == 1.0


def test_roc_rejects_bad_input():
    with pytest.raises(DataError, match="both classes"):
        C.roc_curve([1, 1, 1], [0.1, 0.2, 0.3])
    with pytest.raises(DataError, match="roc_auc needs both classes"):  # scikit-learn would raise a ValueError
        C.roc_auc([0, 0, 0], [0.1, 0.2, 0.3])
    with pytest.raises(DataError, match="only 0"):
        C.roc_auc([0, 2, 1], [0.1, 0.2, 0.3])
    with pytest.raises(DataError, match="NaN"):
        C.roc_auc([0, 1, 1], [0.1, np.nan, 0.3])
    with pytest.raises(DataError, match="one score per label"):
        C.roc_auc([0, 1, 1], [0.1, 0.3])
    with pytest.raises(DataError, match="numeric"):
        C.roc_auc([0, 1, 1], ["low", "high", "high"])
    with pytest.raises(DataError, match="neither increasing"):
        C.auc([0, 1, 0.5], [0, 1, 1])


def test_operating_point_reaches_target_sensitivity_with_best_specificity():
    # 20 infants with CP, 100 without; sensitivity fixed at 70 % (the GMA level of seed 002)
    rng = np.random.default_rng(3)
    y = np.r_[np.ones(20, int), np.zeros(100, int)]
    s = np.r_[rng.uniform(0.2, 1.0, 20), rng.uniform(0.0, 0.6, 100)]
    op = C.operating_point(y, s, sensitivity=0.7)
    m = op.metrics
    assert m.sensitivity.value >= 0.7 and m.tp == 14  # exactly 14/20 reaches 70 %
    # any higher threshold drops below the target; the chosen one is a score of a positive case
    higher = s[s > op.threshold]
    for t in higher:
        assert C.classification_metrics(y, s, t).sensitivity.value < 0.7
    assert op.threshold in s[y == 1]
    # specificity equals the fraction of negatives strictly below the threshold
    assert m.specificity.value == pytest.approx(np.mean(s[y == 0] < op.threshold))
    # consistent with the ROC curve: the best fpr among points with tpr >= 0.7
    fpr, tpr, _ = C.roc_curve(y, s, drop_intermediate=False)
    assert 1 - m.specificity.value == pytest.approx(fpr[tpr >= 0.7 - 1e-12].min())
    with pytest.raises(DataError, match="sensitivity"):
        C.operating_point(y, s, sensitivity=70)


def test_confusion_counts_and_threshold_rule_at_or_above():
    assert C.confusion_counts([1, 1, 0, 0, 1], [1, 0, 0, 1, 1]) == (2, 1, 1, 1)
    m = C.classification_metrics([1, 0, 1], [0.5, 0.49, 0.7], 0.5)  # 0.5 >= 0.5 is positive (A.10)
    assert (m.tp, m.fp, m.tn, m.fn) == (2, 0, 1, 0)


# ------------------------------------------------------------------------------------------------ rank tests
def test_wilcoxon_and_spearman_match_scipy_and_validate():
    rng = np.random.default_rng(1)
    a, b = rng.normal(0.8, 0.2, 8), rng.normal(0.45, 0.3, 12)
    r = C.wilcoxon_rank_sum(a, b)
    e = stats.ranksums(a, b)
    assert (r.statistic, r.pvalue) == pytest.approx((e.statistic, e.pvalue))
    assert C.wilcoxon_rank_sum(a, b, alternative="greater").pvalue == pytest.approx(r.pvalue / 2)
    x = rng.normal(size=30)
    s = C.spearman(x, x ** 3)
    assert s.statistic == pytest.approx(1.0) and s.pvalue < 1e-6
    with pytest.raises(DataError):
        C.wilcoxon_rank_sum([], b)
    with pytest.raises(DataError):
        C.wilcoxon_rank_sum(a, [np.nan, 1.0])
    with pytest.raises(DataError):
        C.wilcoxon_rank_sum(a, b, alternative="bigger")
    with pytest.raises(DataError, match="same length"):
        C.spearman(x, x[:-1])
    with pytest.raises(DataError, match="constant"):
        C.spearman(x, np.ones_like(x))


# ------------------------------------------------------------------------------------------------ pose metrics

# Seed 002, Paper II, Table 2 (PCKh@Human^0.95 per body part; H_b and H_b^0.95 in head lengths):
#   b               H_b     H_b^0.95  OpenPose  CIMA-Pose  EfficientPose III  EfficientHourglass B4
#   Head top        0.0554  0.1158    60.39%    57.60%     81.59%             89.31%
#   Nose            0.0301  0.0574    32.03%    42.89%     74.48%             82.41%
#   Right ear       0.0603  0.1906    88.57%    92.40%     94.41%             92.00%
#   Left ear        0.0502  0.1364    73.31%    77.49%     88.54%             89.04%
#   Upper neck      0.0527  0.1212    80.67%    83.23%     88.77%             89.19%
#   Right shoulder  0.0531  0.1106    62.97%    73.14%     85.71%             86.63%
#   Right elbow     0.0429  0.0956    52.81%    71.00%     81.71%             86.73%
#   Right wrist     0.0386  0.0851    45.43%    60.93%     80.14%             82.60%
#   Upper chest     0.0643  0.1200    69.38%    72.44%     77.31%             79.42%
#   Left shoulder   0.0576  0.1204    63.25%    60.71%     88.07%             88.74%
#   Left elbow      0.0418  0.0959    48.19%    46.92%     82.50%             85.69%
#   Left wrist      0.0388  0.0901    48.83%    52.44%     79.08%             84.74%
#   Mid pelvis      0.0781  0.1587    82.75%    82.50%     86.43%             90.01%
#   Right pelvis    0.0812  0.1553    78.31%    80.89%     87.30%             88.72%
#   Right knee      0.0549  0.1119    66.58%    77.24%     86.63%             89.02%
#   Right ankle     0.0417  0.0902    51.07%    60.21%     75.47%             80.79%
#   Left pelvis     0.0828  0.1603    79.25%    77.53%     88.07%             90.31%
#   Left knee       0.0489  0.1049    49.06%    48.29%     88.22%             89.71%
#   Left ankle      0.0408  0.0861    45.75%    47.24%     75.70%             82.38%
#   All body parts  0.0534  0.1161    62.03%    66.58%     81.59%             86.71%
TABLE2 = {
    "OpenPose": ([60.39, 32.03, 88.57, 73.31, 80.67, 62.97, 52.81, 45.43, 69.38, 63.25, 48.19, 48.83, 82.75, 78.31,
                  66.58, 51.07, 79.25, 49.06, 45.75], 62.03),
    "CIMA-Pose": ([57.60, 42.89, 92.40, 77.49, 83.23, 73.14, 71.00, 60.93, 72.44, 60.71, 46.92, 52.44, 82.50, 80.89,
                   77.24, 60.21, 77.53, 48.29, 47.24], 66.58),
    "EfficientPose III": ([81.59, 74.48, 94.41, 88.54, 88.77, 85.71, 81.71, 80.14, 77.31, 88.07, 82.50, 79.08, 86.43,
                           87.30, 86.63, 75.47, 88.07, 88.22, 75.70], 81.59),
    "EfficientHourglass B4": ([89.31, 82.41, 92.00, 89.04, 89.19, 86.63, 86.73, 82.60, 79.42, 88.74, 85.69, 84.74,
                               90.01, 88.72, 89.02, 80.79, 90.31, 89.71, 82.38], 86.71),
}
IM19 = S.get("in-motion-19")
# EfficientPose III's "All body parts" entry (81.59 %) repeats its head-top entry: the mean of its 19 published
# per-keypoint values is 83.69 %, while the other three models' "All" entries are exactly their means. We check 83.69.
TABLE2_ALL_SLIPS = {"EfficientPose III": 83.69}


def test_table2_thresholds_and_all_body_parts_row():
    assert PO.IN_MOTION_H95.shape == (19,) and PO.IN_MOTION_H.shape == (19,)
    assert PO.IN_MOTION_H95[IM19.index("nose")] == 0.0574 and PO.IN_MOTION_H95[IM19.index("right_ear")] == 0.1906
    assert PO.IN_MOTION_H95[IM19.index("thorax")] == 0.1200  # "upper chest"
    assert round(PO.IN_MOTION_H.mean(), 4) == 0.0534 and round(PO.IN_MOTION_H95.mean(), 4) == 0.1161


def _infants(n, seed=0):
    """n annotated In-Motion 19 poses with head length 40 px (head top 40 px above the upper neck)."""
    rng = np.random.default_rng(seed)
    gt = rng.uniform(100, 400, (n, 19, 2))
    gt[:, IM19.index("head_top")] = gt[:, IM19.index("upper_neck")] + [0.0, -40.0]
    return gt


@pytest.mark.parametrize("model", sorted(TABLE2))
def test_pckh_human_reproduces_table2_from_per_keypoint_hits(model):
    per_keypoint, overall = TABLE2[model]
    n = 10000  # hits per keypoint = published % of 10000 images
    gt = _infants(n)
    pred = gt.copy()
    rng = np.random.default_rng(1)
    for b, pct in enumerate(per_keypoint):
        if b in (0, 4):
            continue  # head top and upper neck define the head length; shift their predictions only
        hits = round(pct * 100)
        d = np.where(np.arange(n) < hits, PO.IN_MOTION_H95[b] * 0.999, PO.IN_MOTION_H95[b] * 1.001)
        angle = rng.uniform(0, 2 * np.pi, n)
        pred[:, b] += (40.0 * d)[:, None] * np.stack([np.cos(angle), np.sin(angle)], -1)
    for b in (0, 4):
        hits = round(per_keypoint[b] * 100)
        pred[hits:, b, 0] += 40.0 * PO.IN_MOTION_H95[b] * 1.5
    got = PO.pckh_human(pred, gt, skeleton="in-motion-19", per_keypoint=True)
    np.testing.assert_allclose(100 * got, per_keypoint, atol=1e-9)
    expected = TABLE2_ALL_SLIPS.get(model, overall)
    assert round(100 * PO.pckh_human(pred, gt, skeleton="in-motion-19"), 2) == expected  # mean over keypoints


def test_pckh_and_mean_error_with_head_length_normalisation():
    gt = _infants(50)
    assert np.allclose(PO.head_length(gt, "in-motion-19"), 40.0)
    pred = gt.copy()
    pred[..., 0] += 0.29 * 40.0  # every keypoint 0.29 head lengths off
    pred[:, IM19.index("head_top")] = gt[:, IM19.index("head_top")] + [0.0, 0.29 * 40.0]
    for tau, expected in ((1.0, 1.0), (0.5, 1.0), (0.3, 1.0), (0.2, 0.0), (0.1, 0.0)):
        assert PO.pckh(pred, gt, tau, skeleton="in-motion-19") == expected
    assert PO.mean_error(pred, gt, skeleton="in-motion-19") == pytest.approx(0.29)
    # the threshold is inclusive (Eq. 4: d <= threshold): integer pixels, head length 10, error exactly 3
    exact_gt = np.zeros((1, 19, 2))
    exact_gt[0, IM19.index("head_top")] = [0.0, -10.0]
    exact_pred = exact_gt + [3.0, 0.0]
    assert PO.pckh(exact_pred, exact_gt, 0.3, skeleton="in-motion-19") == 1.0
    # missing annotation: excluded; missing prediction: a miss in PCKh, excluded from ME
    gt2, pred2 = gt.copy(), pred.copy()
    gt2[0, 7] = np.nan
    pred2[1, 7] = np.nan
    per = PO.pckh(pred2, gt2, 0.5, skeleton="in-motion-19", per_keypoint=True)
    assert per[7] == pytest.approx(48 / 49) and per[6] == 1.0
    assert PO.mean_error(pred2, gt2, skeleton="in-motion-19", per_keypoint=True)[7] == pytest.approx(0.29)
    # explicit head lengths (e.g. MPII head boxes) and other skeletons
    assert PO.pckh(pred, gt, 0.2, head_lengths=80.0) == 1.0
    coco = np.zeros((2, 18, 2))
    coco[:, 1] = [0.0, 10.0]
    assert np.allclose(PO.head_length(coco, "coco-18"), 19.8)  # nose-neck x 1.98 (Paper II, footnote 5)
    with pytest.raises(SkeletonMismatchError, match="head_lengths"):
        PO.head_length(np.zeros((2, 12, 2)), "babypose-12")
    with pytest.raises(DataError, match="same shape"):
        PO.pckh(pred[:, :5], gt, skeleton="in-motion-19")
    with pytest.raises(DataError, match="head_lengths"):
        PO.pckh(pred, gt, 0.2, head_lengths=[1.0, 2.0])
    with pytest.raises(DataError, match="tau"):
        PO.pckh(pred, gt, 0.0, skeleton="in-motion-19")


def test_inter_rater_spread_equation_1():
    gt = _infants(20, seed=3)
    rng = np.random.default_rng(4)
    # 10 raters, each off the consensus by exactly 0.05 head lengths in a random direction (offsets cancel out)
    angles = rng.uniform(0, 2 * np.pi, (5, 20, 19))
    offsets = 0.05 * 40.0 * np.stack([np.cos(angles), np.sin(angles)], -1)
    raters = gt[None] + np.concatenate([offsets, -offsets])
    H, H95 = PO.inter_rater_spread(raters, skeleton="in-motion-19")
    np.testing.assert_allclose(H, 0.05, rtol=1e-6)
    np.testing.assert_allclose(H95, 0.05, rtol=1e-6)
    with pytest.raises(DataError):
        PO.inter_rater_spread(raters[:1], skeleton="in-motion-19")


def test_rmsd_in_pixels():
    gt = np.zeros((4, 3, 2))
    pred = gt.copy()
    pred[:, 0] = [3.0, 4.0]  # 5 px
    assert PO.rmsd(pred, gt, per_keypoint=True).tolist() == [5.0, 0.0, 0.0]
    assert PO.rmsd(pred, gt) == pytest.approx(np.sqrt(25 / 3))


# Shrout & Fleiss (1979), Table 2: 6 targets rated by 4 judges. Their ICC(3,1) = .71 is McGraw & Wong's ICC(C,1)
# and ICC(2,1) = .29 is ICC(A,1); mean squares BMS 11.24, JMS 32.49, EMS 1.02. R psych::ICC gives the intervals
# ICC3 [0.34, 0.95], ICC2 [0.019, 0.76] and F = 11.0 on (5, 15), p = 0.00013.
SHROUT_FLEISS = np.array([[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]])


def test_icc_shrout_fleiss_worked_example():
    c = PO.icc(SHROUT_FLEISS, "C,1")
    a = PO.icc(SHROUT_FLEISS, "A,1")
    assert round(c.value, 2) == 0.71 and round(a.value, 2) == 0.29
    assert (round(c.lower, 2), round(c.upper, 2)) == (0.34, 0.95)
    assert (round(a.lower, 3), round(a.upper, 2)) == (0.019, 0.76)
    assert round(c.f, 1) == 11.0 and (c.df1, c.df2) == (5, 15) and round(c.pvalue, 5) == 0.00013
    assert c.value == pytest.approx((11.241666 - 1.019444) / (11.241666 + 3 * 1.019444), rel=1e-5)


def test_icc_consistency_versus_agreement_for_a_shifted_rater():
    # Paper II's use: k = 2 "raters" (a model's ME and the human spread H) over 19 body parts
    me = PO.IN_MOTION_H + 0.02  # consistently 0.02 head lengths worse than humans
    data = np.stack([me, PO.IN_MOTION_H], axis=1)
    assert PO.icc(data, "C,1").value == pytest.approx(1.0)
    agreement = PO.icc(data, "A,1")
    assert 0 < agreement.value < 1 and agreement.lower < agreement.value < agreement.upper
    with pytest.raises(DataError):
        PO.icc(data[:, :1])
    with pytest.raises(DataError):
        PO.icc(data, "ICC3")


# ------------------------------------------------------------------------------------------------ regression
def test_subject_and_overall_mae_differ_with_unequal_samples():
    # seed 000: "Average error and average per subject (fold) error differs as the number of 30-second samples
    # in each fold are not equal"
    target = np.array([40.0, 30.0, 30.0, 30.0, 50.0, 50.0])
    pred = np.array([42.0, 40.0, 20.0, 40.0, 50.0, 56.0])
    subjects = ["a", "b", "b", "b", "c", "c"]
    s = RG.subject_mae(pred, target, subjects)
    assert s.per_subject == {"a": 2.0, "b": 10.0, "c": 3.0} and s.counts == {"a": 1, "b": 3, "c": 2}
    assert s.subject_average == pytest.approx(5.0)
    assert s.overall == pytest.approx(38 / 6) == RG.mean_absolute_error(pred, target)
    with pytest.raises(DataError):
        RG.subject_mae(pred, target, subjects[:-1])
    with pytest.raises(DataError):
        RG.mean_absolute_error(pred, target[:-1])
    with pytest.raises(DataError, match="numeric"):
        RG.mean_absolute_error(["forty"], [40.0])


def test_video_score_aggregation():
    scores = [1.0, 2.0, 3.0, 4.0, 100.0]
    assert RG.aggregate_scores(scores, "mean") == 22.0
    assert RG.aggregate_scores(scores, "median") == 3.0
    assert RG.aggregate_scores(scores, "quartile") == 2.5  # Q1 2, Q3 4, fences [-1, 7] drop the 100
    with pytest.raises(DataError):
        RG.aggregate_scores(scores, "trimmed")
