"""Explanations: CAM per joint as the reference computes it, ensemble aggregation, colours, boxplot statistics,
PNG plots."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest

from infantjax.clinical import assess
from infantjax.errors import DataError
from infantjax.explain import (
    aggregate_cam,
    cam_colour,
    decision_cam,
    joint_scores,
    plot_cam,
    plot_windows,
    sequential_colour,
    sequential_hex,
    window_distributions,
)


def test_joint_scores_follow_the_reference_steps():
    rng = np.random.default_rng(0)
    cam = rng.normal(size=(2, 5, 19, 2)).astype(np.float32)  # (windows, T', V, classes)
    got = np.asarray(joint_scores(cam))
    # reference (gcn_reference A.10): median over time per joint, CP minus no-CP, / max |·|, clamp at 0
    med = np.median(cam, axis=1)
    diff = med[..., 1] - med[..., 0]
    want = np.maximum(diff / np.abs(diff).max(axis=-1, keepdims=True), 0)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert got.max() <= 1.0 and got.min() >= 0.0
    assert np.isclose(got.max(axis=-1), 1.0).any()  # the strongest positive joint scores 1
    assert np.all(np.asarray(joint_scores(np.zeros((1, 3, 19, 2)))) == 0)  # no division by zero


def test_ensemble_cam_is_median_over_instances_then_windows():
    rng = np.random.default_rng(1)
    scores = rng.uniform(size=(7, 4, 19))
    window, video = aggregate_cam(scores)
    np.testing.assert_allclose(window, np.median(scores, axis=0))
    np.testing.assert_allclose(video, np.median(np.median(scores, axis=0), axis=0))
    with pytest.raises(DataError):
        aggregate_cam(scores[0])


def test_cam_colour_is_score_to_the_quarter_on_the_sequential_scale():
    # score^¼ on the explanations' one scale (ColorBrewer BuPu, classes 4-8): 0 light blue, 1 purple; 0.0625
    # is halfway up (the scale's middle colour, #8c6bb1)
    np.testing.assert_allclose(cam_colour([0.0, 1.0, 0.0625]) * 255, [[158, 188, 218], [129, 15, 124],
                                                                        [140, 107, 177]], atol=1e-9)
    np.testing.assert_allclose(cam_colour([-1.0, 2.0]), cam_colour([0.0, 1.0]))  # clipped to [0, 1]
    assert sequential_hex(0.0) == "#9ebcda" and sequential_hex(1.0) == "#810f7c"
    # no hue of the certainty colours: every colour of the scale has more blue than green
    rgb = sequential_colour(np.linspace(0, 1, 41))
    assert (rgb[:, 2] > rgb[:, 1]).all()
    grey = rgb @ [0.299, 0.587, 0.114]
    assert (np.diff(grey) < 0).all()  # darker as the score rises: it reads in greyscale


def test_a_no_cp_decision_is_explained_by_the_no_cp_class():
    """The CP-class CAM of an infant without CP is all zeros (the reference clamps at 0); the no-CP class's
    map is the negative part of the same signed difference, and decision_cam picks the map of the decided
    class."""
    rng = np.random.default_rng(4)
    maps = rng.normal(size=(3, 6, 5, 19, 2)).astype(np.float32)  # (instances, windows, T', V, classes)
    maps[..., 0] += 6.0  # the no-CP class dominates every joint: the CP score is 0 everywhere
    cp = np.asarray(joint_scores(maps))
    signed = np.asarray(joint_scores(maps, signed=True))
    assert (cp == 0).all() and (signed < 0).all() and np.isclose(signed.min(axis=-1), -1).all()
    # swapping the classes gives the negative part: the reference's computation toward no CP
    np.testing.assert_allclose(np.asarray(joint_scores(maps[..., ::-1])), np.maximum(-signed, 0), atol=1e-6)
    np.testing.assert_allclose(np.maximum(signed, 0), cp)
    window, video = aggregate_cam(np.maximum(-signed, 0))
    p = np.full((6, 3), 0.1)
    no = assess(p, 0.5, cam=np.zeros(19), window_cam=np.zeros((6, 19)), no_cp_cam=video,
                no_cp_window_cam=window)
    explained = decision_cam(no)
    assert explained.toward == "no CP" and explained.note is None
    np.testing.assert_allclose(explained.cam, video)
    np.testing.assert_allclose(explained.window_cam, window)
    assert explained.cam.max() > 0.5
    yes = assess(np.full((6, 3), 0.9), 0.5, cam=video, window_cam=window, no_cp_cam=np.zeros(19))
    assert decision_cam(yes).toward == "CP" and decision_cam(yes).cam is yes.cam
    # a result assessed without the no-CP scores says that it shows the CP map
    old = assess(p, 0.5, cam=np.zeros(19), window_cam=np.zeros((6, 19)))
    assert decision_cam(old).toward == "CP" and "only the CP class" in decision_cam(old).note
    # both maps survive the JSON round trip
    from infantjax.clinical import RiskResult

    back = RiskResult.from_dict(no.to_dict())
    np.testing.assert_allclose(back.no_cp_cam, no.no_cp_cam)
    np.testing.assert_allclose(back.no_cp_window_cam, no.no_cp_window_cam)


def test_window_distributions_and_plots(tmp_path):
    rng = np.random.default_rng(2)
    p = np.clip(rng.normal(0.6, 0.2, size=(6, 70)), 0, 1)
    cam = rng.uniform(size=19)
    r = assess(p, 0.5, window_starts=np.arange(6) * 75, cam=cam, window_cam=rng.uniform(size=(6, 19)))
    dists = window_distributions(r)
    assert [d.start for d in dists] == [0, 75, 150, 225, 300, 375]
    for d, row, colour in zip(dists, p, r.window_colour):
        assert d.median == pytest.approx(np.median(row)) and d.q1 <= d.median <= d.q3
        assert d.minimum <= d.whisker_low <= d.q1 and d.q3 <= d.whisker_high <= d.maximum
        assert d.colour == colour and d.share_cp == pytest.approx((row >= 0.5).mean())
    for path in (plot_windows(r, tmp_path / "w.png"), plot_cam(r.cam, tmp_path / "c.png"),
                 plot_cam(r.window_cam, tmp_path / "cw.png")):
        data = pathlib.Path(path).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 2000
    assert not list(tmp_path.glob(".tmp-*"))
    with pytest.raises(DataError, match="cam must be"):
        plot_cam(np.zeros(16), tmp_path / "bad.png")
