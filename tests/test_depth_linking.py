"""Limb linking (NMS + bipartite matching on connection maps) and RMSD / median / IQR of seed 004."""

from __future__ import annotations

import numpy as np
import pytest

from infantjax.errors import DataError
from infantjax.metrics.pose import LIMB_JOINTS, LIMB_NAMES, rmsd_per_limb, summarize_rmsd
from infantjax.models.depth.linking import LinkConfig, find_peaks, limbs_of, link_clips, link_frame
from infantjax.preprocess.depth_targets import joint_maps, limb_target_maps

H, W = 96, 128
POSE = np.array([[20, 30], [40, 30], [60, 30], [80, 20], [80, 40], [80, 60],
                 [10, 80], [20, 70], [30, 60], [100, 55], [100, 70], [100, 85]], dtype=np.float64)


def test_limbs_are_the_four_babypose_chains():
    assert limbs_of("babypose-12") == LIMB_JOINTS == ((0, 1, 2), (3, 4, 5), (6, 7, 8), (9, 10, 11))
    assert LIMB_NAMES == ("right_arm", "left_arm", "right_leg", "left_leg")


@pytest.mark.parametrize("kind", ["binary", "gaussian"])
def test_linking_recovers_known_limbs(kind):
    keypoints, confidence = link_frame(limb_target_maps(POSE, H, W, kind=kind))
    np.testing.assert_allclose(keypoints, POSE, atol=1e-6)
    assert (confidence > 0.5).all()


def test_nms_gives_one_candidate_per_blob_and_subpixel_centres():
    pose = POSE + 0.4  # off-grid joints
    maps = joint_maps(pose, H, W, kind="gaussian")
    peaks = find_peaks(maps[..., 0] + maps[..., 5])  # two blobs in one map
    assert len(peaks) == 2
    np.testing.assert_allclose(sorted(peaks[:, :2].tolist()), sorted([pose[0].tolist(), pose[5].tolist()]), atol=0.5)
    assert len(find_peaks(np.zeros((H, W)))) == 0


def test_decoy_candidates_are_rejected_by_the_connection_maps():
    maps = limb_target_maps(POSE, H, W, kind="gaussian")
    # swapped candidates: the right elbow map also fires, more strongly, at the left elbow, and the right wrist
    # map at the left wrist; only the connection maps tell which candidates belong to the right arm
    maps[..., 1] = 0.7 * maps[..., 1] + joint_maps(POSE[4:5], H, W, kind="gaussian")[..., 0]
    maps[..., 0] = 0.7 * maps[..., 0] + joint_maps(POSE[5:6], H, W, kind="gaussian")[..., 0]
    assert len(find_peaks(maps[..., 1])) == 2
    keypoints, _ = link_frame(maps)
    np.testing.assert_allclose(keypoints, POSE, atol=1e-6)
    # without linking (strongest candidate per map) the right arm would take the left elbow and wrist
    strongest = np.array([find_peaks(maps[..., j])[0, :2] for j in range(12)])
    np.testing.assert_allclose(strongest[[0, 1]], POSE[[5, 4]], atol=1e-6)


def test_swapped_limb_pairs_are_resolved():
    # both knee maps fire at both knees: matching along the thigh/shank connections assigns each to its leg
    maps = limb_target_maps(POSE, H, W, kind="gaussian")
    both = joint_maps(POSE[[7, 10]], H, W, kind="gaussian").max(axis=-1)
    maps[..., 7] = both
    maps[..., 10] = both
    keypoints, _ = link_frame(maps)
    np.testing.assert_allclose(keypoints, POSE, atol=1e-6)


def test_missing_candidates_give_nan_joints_and_keep_the_rest():
    maps = limb_target_maps(POSE, H, W, kind="gaussian")
    maps[..., 1] = 0  # no right elbow candidate at all
    maps[..., 12 + 6] = 0  # left hip-knee connection lost: the knee comes from the fallback
    keypoints, confidence = link_frame(maps)
    assert np.isnan(keypoints[1]).all() and confidence[1] == 0
    keep = np.arange(12) != 1
    np.testing.assert_allclose(keypoints[keep], POSE[keep], atol=1e-6)
    no_fallback, _ = link_frame(maps, config=LinkConfig(fallback=False))
    assert np.isnan(no_fallback[[1]]).all()
    # the right arm's best chain is a single joint (wrist or shoulder) without the elbow; the other is NaN
    assert np.isnan(no_fallback[[0, 2]]).any() and not np.isnan(no_fallback[[0, 2]]).all()


def test_link_clips_over_leading_axes_and_bad_maps():
    maps = np.broadcast_to(limb_target_maps(POSE, H, W), (2, 3, H, W, 20))
    keypoints, confidence = link_clips(maps)
    assert keypoints.shape == (2, 3, 12, 2) and confidence.shape == (2, 3, 12)
    with pytest.raises(DataError, match="20"):
        link_frame(np.zeros((H, W, 12)))
    with pytest.raises(DataError, match="NaN"):
        find_peaks(np.full((4, 4), np.nan))


def test_rmsd_per_limb_is_equation_1():
    truth = POSE.copy()
    pred = POSE.copy()
    pred[0] += [3, 4]  # 5 px off
    pred[1] += [0, 5]  # 5 px off
    pred[3] += [6, 8]  # 10 px off
    r = rmsd_per_limb(pred, truth)
    np.testing.assert_allclose(r, [np.sqrt((25 + 25 + 0) / 3), np.sqrt(100 / 3), 0, 0])
    # missing predictions or annotations leave the joint out of n
    pred[2] = np.nan
    truth[3] = np.nan
    np.testing.assert_allclose(rmsd_per_limb(pred, truth), [5.0, 0.0, 0.0, 0.0])
    pred[[6, 7, 8]] = np.nan
    assert np.isnan(rmsd_per_limb(pred, truth)[2])
    with pytest.raises(DataError):
        rmsd_per_limb(pred[:11], truth)


def test_median_and_iqr_as_table_ii():
    values = np.array([[1.0, 2, 3, np.nan], [2, 4, 6, np.nan], [3, 6, 9, np.nan], [4, 8, 12, np.nan],
                       [5, 10, 15, np.nan]])
    s = summarize_rmsd(values, missing=np.zeros((5, 12), bool))
    assert s["right_arm"]["median"] == 3.0 and s["right_arm"]["iqr"] == 2.0  # Q1 = 2, Q3 = 4 (linear)
    assert s["left_arm"]["median"] == 6.0 and s["left_arm"]["iqr"] == 4.0
    assert s["right_leg"]["q1"] == 6.0 and s["right_leg"]["q3"] == 12.0
    assert s["left_leg"]["n"] == 0 and np.isnan(s["left_leg"]["median"])
    assert s["right_arm"]["missing"] == 0.0
