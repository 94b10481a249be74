"""Target maps of seed 004: binary discs/bands for detection, Gaussian versions (sigma = 3 r) for regression."""

from __future__ import annotations

import numpy as np
import pytest

from infantjax.errors import ConfigError, DataError, SkeletonMismatchError
from infantjax.preprocess.depth_targets import connection_maps, joint_maps, limb_target_maps
from infantjax.skeleton import get

H, W = 96, 128


def _pose():
    # four limbs, all inside the 128x96 image (x, y)
    return np.array([[20, 30], [40, 30], [60, 30], [80, 20], [80, 40], [80, 60],
                     [10, 80], [20, 70], [30, 60], [100, 55], [100, 70], [100, 85]], dtype=np.float64)


def test_joint_disc_has_radius_r():
    maps = joint_maps(_pose()[None], H, W, radius=6)
    # lattice points in a disc of radius 6 (Gauss circle problem N(6) = 113), for every joint away from borders
    np.testing.assert_array_equal(maps.sum(axis=(1, 2))[0], np.full(12, 113.0))
    assert maps[0, 30, 20, 0] == 1 and maps[0, 30, 26, 0] == 1 and maps[0, 30, 27, 0] == 0


def test_connection_band_is_r_thick_between_the_joints():
    maps = connection_maps(_pose()[None], [(0, 1)], H, W, radius=6)[0, ..., 0]
    rows, cols = np.nonzero(maps)
    # horizontal segment from x=20 to x=40 at y=30: |y-30| <= r/2 = 3 -> 7 rows x 21 columns
    assert set(rows) == set(range(27, 34)) and set(cols) == set(range(20, 41))
    assert maps.sum() == 7 * 21


def test_gaussian_maps_are_the_binary_support_with_sigma_3r():
    pose = _pose()[None]
    binary = limb_target_maps(pose, H, W, kind="binary")
    gauss = limb_target_maps(pose, H, W, kind="gaussian")
    np.testing.assert_array_equal(gauss > 0, binary > 0)
    sigma = 18.0
    assert gauss[0, 30, 20, 0] == pytest.approx(1.0)
    assert gauss[0, 30, 26, 0] == pytest.approx(np.exp(-36 / (2 * sigma ** 2)), rel=1e-6)
    # connection 0 (joints 0 -> 1, horizontal): the profile runs across the segment, constant along it
    assert gauss[0, 33, 25, 12] == pytest.approx(np.exp(-9 / (2 * sigma ** 2)), rel=1e-6)
    assert gauss[0, 33, 35, 12] == pytest.approx(gauss[0, 33, 25, 12])


def test_channel_order_is_joints_then_skeleton_edges():
    maps = limb_target_maps(_pose()[None], H, W)
    skel = get("babypose-12")
    assert maps.shape == (1, H, W, 12 + len(skel.edges)) == (1, H, W, 20)
    for c, (a, b) in enumerate(skel.edges):
        mid = (_pose()[a] + _pose()[b]) / 2
        assert maps[0, round(mid[1]), round(mid[0]), 12 + c] == 1


def test_leading_dims_and_missing_joints_give_empty_maps():
    pose = np.broadcast_to(_pose(), (2, 3, 12, 2)).copy()
    pose[1, 2, 1] = np.nan  # right elbow missing in one frame
    maps = limb_target_maps(pose, H, W, kind="gaussian")
    assert maps.shape == (2, 3, H, W, 20) and maps.dtype == np.float32
    sums = maps.sum(axis=(2, 3))
    assert sums[1, 2, 1] == 0  # the joint map
    assert sums[1, 2, 12] == 0 and sums[1, 2, 13] == 0  # connections wrist-elbow and elbow-shoulder
    assert (np.delete(sums[1, 2], [1, 12, 13]) > 0).all()
    np.testing.assert_array_equal(maps[0, 0], maps[1, 1])


def test_coincident_joints_and_off_image_joints():
    pose = _pose()
    pose[1] = pose[0]
    pose[11] = [500.0, 500.0]  # outside the image: empty map, no error
    maps = limb_target_maps(pose, H, W)
    assert maps[..., 12].sum() > 0 and maps[..., 11].sum() == 0


@pytest.mark.parametrize("bad, error", [
    (np.zeros((1, 11, 2)), SkeletonMismatchError),
    (np.zeros((1, 12, 3)), DataError),
    (np.zeros(12), DataError),
    (np.array([["a", "b"]] * 12), DataError),
    (np.full((1, 12, 2), np.inf), DataError),
])
def test_bad_keypoints_raise(bad, error):
    with pytest.raises(error):
        limb_target_maps(bad, H, W)


def test_bad_settings_raise():
    with pytest.raises(ConfigError, match="kind"):
        limb_target_maps(_pose(), H, W, kind="soft")
    with pytest.raises(ConfigError, match="radius"):
        limb_target_maps(_pose(), H, W, radius=0)
    with pytest.raises(ConfigError, match="height"):
        limb_target_maps(_pose(), 0, W)
