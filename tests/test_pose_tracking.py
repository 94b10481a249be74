"""The infant tracker: region of interest, sub-pixel decoding, temporal smoothing, and the training forms that make
a CPU fine-tune of EfficientPose practical (the depthwise convolution's own gradient, the phase upscaling)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from infantjax.errors import ConfigError, DataError
from infantjax.infer.tracking import Tracking
from infantjax.models.pose.device_ops import decode_subpixel
from infantjax.preprocess import roi
from infantjax.preprocess.filters import lowpass
from infantjax.preprocess.roi import SquareBox, crop_square, letterbox_box

# videos tracked frame by frame: compiled as users do, where
# optimised code pays for its compile (tests/conftest.py)
pytestmark = pytest.mark.xla_optimised


def _gaussian_maps(centres, r=64, sigma=4.0):
    """(1, r, r, K) maps with Gaussian peaks at the given (x, y) positions (pixel centres at j + 0.5)."""
    q = np.arange(r) + 0.5
    maps = [np.exp(-((q[None, :] - x) ** 2 + (q[:, None] - y) ** 2) / (2 * sigma ** 2)) for x, y in centres]
    return jnp.asarray(np.stack(maps, axis=-1)[None], jnp.float32)


def test_subpixel_decoding_finds_the_peak_between_pixels_and_argmax_does_not():
    centres = [(20.3, 31.7), (40.85, 10.15), (33.5, 33.5)]
    xy, peak = jax.jit(decode_subpixel)(_gaussian_maps(centres))  # one program, as in the tracker's (eagerly ~40)
    got = np.asarray(xy)[0] * 64
    np.testing.assert_allclose(got, np.asarray(centres), atol=0.05)
    assert np.all(np.asarray(peak) > 0.9)
    # the integer arg-max is off by up to half a pixel on the same maps
    h = np.asarray(_gaussian_maps(centres))[0]
    flat = h.reshape(-1, 3).argmax(0)
    grid = np.stack([flat % 64 + 0.5, flat // 64 + 0.5], -1)
    assert np.abs(grid - np.asarray(centres)).max() > 0.3


def test_subpixel_decoding_ignores_a_second_peak_outside_its_window():
    one = np.asarray(_gaussian_maps([(20.0, 20.0)]))
    two = one + 0.6 * np.asarray(_gaussian_maps([(50.0, 50.0)]))
    xy, _ = jax.jit(decode_subpixel)(jnp.asarray(two))
    np.testing.assert_allclose(np.asarray(xy)[0, 0] * 64, [20.0, 20.0], atol=0.05)


def test_square_box_maps_fractions_to_frame_pixels_and_back():
    box = SquareBox(-10, 30, 200)
    pts = np.array([[0.0, 0.0], [0.5, 0.25], [1.0, 1.0]])
    px = box.to_pixels(pts)
    np.testing.assert_allclose(px, [[-10, 30], [90, 80], [190, 230]])
    np.testing.assert_allclose(box.to_fraction(px), pts)
    with pytest.raises(ConfigError):
        SquareBox(0, 0, 0)


def test_letterbox_box_centres_the_frame():
    assert letterbox_box(480, 640) == (0, -80, 640)
    assert letterbox_box(641, 480) == (-80, 0, 641)


def test_crop_square_cuts_and_pads_with_zeros():
    frame = np.full((1, 40, 60, 3), 200, np.uint8)
    frame[0, 10:20, 30:40] = (255, 0, 0)
    out = crop_square(frame, SquareBox(30, 10, 10), 10)  # exactly the red square, no resize
    assert (out[0] == (255, 0, 0)).all()
    out = crop_square(frame, SquareBox(-20, -20, 40), 20)  # half outside: zeros there
    assert out.shape == (1, 20, 20, 3)
    assert (out[0, :8, :8] == 0).all() and (out[0, 12:, 12:] == 200).all()
    with pytest.raises(DataError):
        crop_square(frame.astype(np.float32), SquareBox(0, 0, 10), 8)


@pytest.mark.parametrize("box", [SquareBox(5, 3, 30), SquareBox(-9, 20, 37)], ids=["inside", "half-outside"])
def test_crop_square_gives_the_same_bytes_on_any_number_of_threads(box):
    frames = np.random.default_rng(0).integers(0, 256, (13, 40, 60, 3), np.uint8)
    one = crop_square(frames, box, 16, threads=1)
    for threads in (2, 3, 8):  # 8: more than the frames allow (one thread per 4 frames)
        np.testing.assert_array_equal(crop_square(frames, box, 16, threads=threads), one)
    # each frame alone, as the tracker crops a frame searched again: the same crop as in the batch
    np.testing.assert_array_equal(crop_square(frames[7:8], box, 16), one[7:8])


def test_box_around_keypoints_grows_by_the_margin_and_respects_the_minimum():
    xy = np.array([[100.0, 100.0], [200.0, 150.0], [np.nan, np.nan]])
    box = roi.box_around(xy, (480, 640), margin=0.25)
    assert box.side == 150  # extent 100 × (1 + 2 × 0.25)
    cx, cy = box.x0 + box.side / 2, box.y0 + box.side / 2
    assert abs(cx - 150) <= 1 and abs(cy - 125) <= 1
    tiny = roi.box_around(np.array([[10.0, 10.0], [12.0, 11.0]]), (480, 640))
    assert tiny.side == round(roi.MIN_SIDE * 480)
    assert roi.box_around(np.full((3, 2), np.nan), (480, 640)) == letterbox_box(480, 640)


def test_lowpass_removes_high_frequency_noise_and_keeps_gaps_and_slow_motion():
    fps = 30.0
    t = np.arange(300) / fps
    slow = 50 * np.sin(2 * np.pi * 1.0 * t)
    rng = np.random.default_rng(0)
    x = np.stack([slow + rng.normal(0, 2, t.size), slow], -1)[:, None, :].repeat(2, axis=1)
    x[100:110, 1] = np.nan
    y = lowpass(x, fps, 6.0)
    assert np.isnan(y[100:110, 1]).all() and np.isfinite(y[:100]).all()
    noise_before = np.std(x[:, 0, 0] - slow)
    noise_after = np.std(y[:, 0, 0] - slow)
    assert noise_after < 0.6 * noise_before
    np.testing.assert_allclose(y[20:80, 0, 1], slow[20:80], atol=0.5)  # a 1 Hz movement passes
    with pytest.raises(ConfigError):
        lowpass(x, fps, 20.0)


def test_lowpass_on_a_variable_frame_rate_uses_the_frame_times():
    rng = np.random.default_rng(1)
    times = np.cumsum(rng.uniform(0.025, 0.045, 400))
    slow = 30 * np.sin(2 * np.pi * 0.8 * times)
    x = (slow + rng.normal(0, 2, times.size))[:, None, None].repeat(2, axis=2)
    y = lowpass(x, 28.0, 5.0, times=times)
    assert np.std(y[50:-50, 0, 0] - slow[50:-50]) < 0.6 * np.std(x[50:-50, 0, 0] - slow[50:-50])


def test_tracking_settings_round_trip_and_refuse_nonsense():
    t = Tracking.infant(smoothing_hz=6.0)
    assert Tracking.of(t.to_json()) == t and not t.is_reference
    assert Tracking.of(None).is_reference and Tracking.of("reference").is_reference
    assert Tracking.of("infant").roi and Tracking.of("infant").decoding == "subpixel"
    assert t.replace(roi=None, smoothing_hz=None) == t  # None keeps a setting
    assert t.upright and not Tracking.of("reference").upright and not Tracking.of({}).upright
    assert not Tracking(upright=True).reference_network  # turning the input is the infant tracker's
    for bad in ({"decoding": "soft"}, {"smoothing_hz": -1.0}, {"unknown": 1}, {"upright": "yes"}):
        with pytest.raises(ConfigError):
            Tracking.of(bad)
    with pytest.raises(ConfigError):
        Tracking.of("fast")


@pytest.mark.needs("av")
def test_infant_tracker_follows_a_rendered_infant_off_the_input_lattice(tmp_path, monkeypatch):
    """The same network through both paths of a 256 × 192 video: the infant tracker's keypoints follow the infant
    (as close to the truth as the reference path's, within a pixel) and leave the lattice of the letterboxed
    input; progress is reported frame by frame; the hands' and feet's sharpness is measured in every frame (a
    rendered video has no motion blur: about as sharp fast as slow)."""
    from infantjax.pipelines.fidelity import lattice_share, render_cohort
    from infantjax.pipelines.pose import PosePredictor
    from infantjax.preprocess import blur

    monkeypatch.setattr(blur, "MIN_FRAMES", 10)  # the video is 30 frames long

    cohort = render_cohort(tmp_path / "c", n=1, seed=5, duration_s=2.0, fps=15.0, size=(192, 256), progress=False)
    p = PosePredictor.pretrained("rt-synthetic-infant")
    ref = p.track(cohort.videos[0], tracking="reference", batch_size=8, progress=False)
    calls = []
    inf = p.track(cohort.videos[0], tracking="infant", batch_size=8, progress=calls.append)
    truth = cohort.truth[0]
    assert inf.coords.shape == ref.coords.shape == truth.shape
    assert inf.metadata["tracking"]["roi"] and inf.metadata["decoding"] == "subpixel"
    assert calls == [8, 8, 8, 6]  # frames of every batch, as they are done
    sharpness = inf.metadata["sharpness"]
    assert sharpness["frames"] == 30 and set(sharpness["joints"]) == set(blur.BLUR_JOINTS)
    assert 0.85 < sharpness["fast_over_slow"] < 1.2, sharpness
    assert "sharpness" not in ref.metadata  # the official path measures nothing beyond the reference
    err_ref = np.median(np.linalg.norm(ref.coords - truth, axis=-1))
    err_inf = np.median(np.linalg.norm(inf.coords - truth, axis=-1))
    assert err_inf < err_ref + 1.0
    assert lattice_share(ref.coords, (192, 256), p.resolution) > 0.99
    assert lattice_share(inf.coords, (192, 256), p.resolution) < 0.05
    np.testing.assert_allclose(inf.times, ref.times)


def test_a_turned_crop_maps_back_exactly_and_the_spine_chooses_the_turn():
    """``unturn`` undoes ``np.rot90`` of the crop for each quarter turn (a pixel's centre lands on its centre), and
    ``upright_turn`` turns the head up from each side, keeps its turn within the hysteresis and when the spine
    is not seen."""
    from infantjax.infer.tracking import unturn, upright_turn
    from infantjax.skeleton import get

    r = 8
    img = np.zeros((1, r, r), np.uint8)
    img[0, 2, 5] = 1
    for k in range(4):
        i, j = np.argwhere(np.rot90(img, k, axes=(1, 2))[0])[0]
        np.testing.assert_allclose(unturn(np.array([(j + 0.5) / r, (i + 0.5) / r]), k) * r, [5.5, 2.5])
    skel = get("in-motion-19")
    up = np.repeat(_POSE[None], 4, axis=0)  # head up in a 160 x 120 frame
    found = np.ones(up.shape[:2], bool)
    centre = np.array([80.0, 60.0])

    def turned(deg):  # the infant turned by deg counter-clockwise on the screen (y down)
        a = np.radians(deg)
        rot = np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]])
        return (up - centre) @ rot.T + centre

    assert upright_turn(up, found, skel) == 0
    assert upright_turn(turned(180), found, skel) == 2
    assert upright_turn(turned(-90), found, skel) == 1  # head to the right: one turn counter-clockwise
    assert upright_turn(turned(90), found, skel) == 3
    assert upright_turn(turned(-50), found, skel, current=0) == 0  # within the hysteresis: kept
    assert upright_turn(turned(-50), found, skel, current=1) == 1
    assert upright_turn(turned(-70), found, skel, current=0) == 1
    assert upright_turn(turned(180), np.zeros_like(found), skel, current=3) == 3  # no spine seen: kept


@pytest.mark.needs("av")
def test_upright_tracking_turns_a_head_down_infant_head_up(tmp_path):
    """A video filmed from the feet end (the frames turned 180°): the zoo's infant model turns its input head-up
    and tracks the infant as closely as in the upright video; the record says how the input was turned."""
    from infantjax.io import open_video, write_video
    from infantjax.pipelines.fidelity import render_cohort
    from infantjax.pipelines.pose import PosePredictor

    cohort = render_cohort(tmp_path / "c", n=1, seed=5, duration_s=2.0, fps=15.0, size=(192, 256), progress=False)
    with open_video(cohort.videos[0]) as video:
        frames = np.ascontiguousarray(video.get_batch(np.arange(len(video)))[:, ::-1, ::-1])
    down = tmp_path / "head_down.mp4"
    write_video(down, frames, fps=15.0)
    p = PosePredictor.pretrained("rt-synthetic-infant-roi")
    assert p.tracking.upright
    truth = cohort.truth[0]
    truth_down = np.array([256.0, 192.0]) - truth  # pixel j spans [j, j + 1): the turn maps x to W - x
    clean = p.track(cohort.videos[0], batch_size=8, progress=False)
    turned = p.track(down, batch_size=8, progress=False)
    assert clean.metadata["upright_turns"] == {"0": 30}
    assert turned.metadata["upright_turns"] == {"180": 30}
    err = lambda seq, want: float(np.nanmedian(np.linalg.norm(seq.coords - want, axis=-1)))  # noqa: E731
    assert err(turned, truth_down) < err(clean, truth) + 1.0
    as_shown = p.track(down, batch_size=8, progress=False, tracking={"upright": False})
    assert "upright_turns" not in as_shown.metadata and as_shown.metadata["tracking"]["upright"] is False


# an infant lying head-up in a 160 × 120 frame (In-Motion 19 order, pixels)
_POSE = np.array([[80, 10], [80, 20], [72, 20], [88, 20], [80, 28], [68, 34], [58, 48], [54, 60], [80, 36],
                  [92, 34], [102, 48], [106, 60], [80, 62], [72, 64], [70, 84], [68, 104], [88, 64], [90, 84],
                  [92, 104]], np.float32)


def test_an_occluder_covers_exactly_the_joints_it_calls_hidden_and_blankets_hide_legs_first():
    from infantjax.synth.pose import occlude

    frame = np.full((120, 160, 3), (1, 2, 3), np.uint8)
    rows, cols = np.rint(_POSE[:, 1]).astype(int), np.rint(_POSE[:, 0]).astype(int)
    hidden_count = np.zeros(19, int)
    for seed in range(40):
        out, hidden = occlude(frame, _POSE, np.random.default_rng(seed))
        changed = (out != frame).any(axis=-1)
        assert np.array_equal(changed[rows, cols], hidden), seed  # painted over ⇔ reported hidden
        assert not hidden.all() and changed.any()
        hidden_count += hidden
    assert frame.max() == 3  # the frame given is not painted on
    assert hidden_count[[15, 18]].min() > hidden_count[[0, 1]].max()  # ankles far more often than the head


def test_home_video_examples_hide_occluded_joints_and_change_only_the_pixels():
    from infantjax.synth.pose import roi_examples

    plain, kp, vis = roi_examples(16, 64, seed=3)
    assert np.isfinite(kp).all()
    grey, kp_grey, _ = roi_examples(16, 64, seed=3, grey=1.0)
    np.testing.assert_array_equal(kp_grey, kp)  # its own random stream: the same infants, crops and targets
    assert (grey[..., 0] == grey[..., 1]).all() and (grey[..., 1] == grey[..., 2]).all()
    assert not (plain[..., 0] == plain[..., 1]).all()
    covered, kp_cov, vis_cov = roi_examples(16, 64, seed=3, occluders=1.0)
    hidden = np.isnan(kp_cov).any(axis=-1)
    assert hidden.any(axis=1).mean() > 0.5 and not hidden.all(axis=1).any()
    np.testing.assert_array_equal(kp_cov[~hidden], kp[~hidden])  # a hidden joint loses its target, nothing else
    assert not vis_cov[hidden].any() and np.array_equal(vis_cov[~hidden], vis[~hidden])
    with pytest.raises(ConfigError, match="occluders is a share"):
        roi_examples(2, 64, occluders=1.5)


@pytest.mark.parametrize("h,w,k,stride", [(16, 16, 5, 1), (17, 13, 3, 2), (15, 16, 5, 2), (9, 10, 3, 1)])
def test_depthwise_shift_gradient_equals_the_convolution_gradient(h, w, k, stride):
    from infantjax.nn.efficientnet import depthwise_conv

    # random inputs drawn in NumPy and each gradient one jitted program: eagerly, the draws and the gradient's ops
    # compiled 20-50 programs a case
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, h, w, 6)).astype(np.float32)
    kernel = rng.standard_normal((k, k, 1, 6)).astype(np.float32)

    def grads(impl):
        return jax.jit(jax.grad(lambda a, b: jnp.sum(jnp.sin(depthwise_conv(a, b, stride, impl))),
                                argnums=(0, 1)))(x, kernel)

    for got, want in zip(grads("shift"), grads("conv")):
        np.testing.assert_allclose(got, want, atol=5e-5)


def test_phase_upscaling_equals_the_transposed_convolution_with_its_gradient():
    from infantjax.models.pose.efficientpose import BilinearUpscale

    x = np.random.default_rng(2).standard_normal((2, 5, 7, 4)).astype(np.float32)
    out = {}
    for impl in ("phases", "conv"):
        m = BilinearUpscale(4, impl=impl)

        def forward_and_gradient(a, m=m):  # one jitted program per form (eagerly ~45 in all)
            v = m.init(jax.random.PRNGKey(0), a)
            y, vjp = jax.vjp(lambda a: m.apply(v, a), a)
            return y, vjp(jnp.cos(y))[0]

        out[impl] = jax.jit(forward_and_gradient)(x)
    np.testing.assert_allclose(out["phases"][0], out["conv"][0], atol=1e-5)
    np.testing.assert_allclose(out["phases"][1], out["conv"][1], atol=1e-5)


def _supine_track(t=120, seed=0):
    """A supine infant's In-Motion 19 keypoints moving smoothly (head up, its left on the image's right)."""
    from infantjax import synth

    cohort = synth.cohort("cp", n_subjects=1, seed=seed, duration_s=t / 30.0, fps=30.0,
                          recording=synth.RecordingConfig.clean())
    return cohort.sequences[0].coords.astype(np.float64)


def test_consistent_sides_undoes_swaps_of_single_limbs():
    from infantjax.preprocess.sides import consistent_sides, side_chains
    from infantjax.skeleton import get

    skel = get("in-motion-19")
    truth = _supine_track()
    chains = side_chains(skel)
    assert [skel.keypoints[c[0]] for c in chains] == ["left_ear", "left_shoulder", "left_hip"]
    rng = np.random.default_rng(0)
    noisy = truth.copy()
    for left, right, pairs in chains[1:]:
        frames = rng.random(len(truth)) < 0.3  # a detector that swaps an arm or a leg in 30 % of the frames
        for a, b in pairs[1:] if left == chains[1][0] else pairs:  # the arms: only elbows and wrists swapped
            noisy[frames, a], noisy[frames, b] = truth[frames, b], truth[frames, a]
    fixed, _, swapped = consistent_sides(noisy, skel)
    np.testing.assert_allclose(fixed, truth)
    assert swapped.shape == (len(truth), 3) and 0.2 < swapped[:, 2].mean() < 0.4
    # the exact keypoints are left alone
    same, _, none = consistent_sides(truth, skel)
    np.testing.assert_allclose(same, truth) and not none.any()


def test_consistent_sides_keeps_missing_joints_missing_and_swaps_confidences_along():
    from infantjax.preprocess.sides import consistent_sides
    from infantjax.skeleton import get

    skel = get("in-motion-19")
    truth = _supine_track(60)
    conf = np.tile(np.linspace(0.1, 0.9, 19), (len(truth), 1))
    l, r = skel.index("left_knee"), skel.index("right_knee")
    noisy, nconf = truth.copy(), conf.copy()
    noisy[10:20, [l, r]] = truth[10:20, [r, l]]
    nconf[10:20, [l, r]] = conf[10:20, [r, l]]
    noisy[30:35, l] = np.nan
    fixed, fconf, _ = consistent_sides(noisy, skel, nconf)
    np.testing.assert_allclose(fixed[10:20], truth[10:20])
    np.testing.assert_allclose(fconf[10:20], conf[10:20])
    assert np.isnan(fixed[30:35, l]).all()
    with pytest.raises(DataError):
        consistent_sides(noisy[:, :10], skel)
    with pytest.raises(ConfigError):
        consistent_sides(noisy, skel, handedness="prone")


@pytest.mark.needs("av")
def test_the_chain_benchmark_scores_the_video_path_against_the_exact_keypoints(tmp_path):
    """``evaluate_chain`` on two rendered infants of one window each: Paper II's pose metrics against the renderer's
    exact keypoints and the risk from the video beside the risk from the exact keypoints, with the same ensemble or
    with another one for the truth (``truth_ensemble``); the figures agree with the per-infant rows.

    The zoo's 3-instance ensemble scores (the default's 28 instances would only make it slower), the other one is
    three of its folds; the two runs share one pose model, which tracks each video once (the second run is given the
    first run's keypoints, ``TrackOnce``): the video side of both runs is then one tracking scored twice."""
    from _assess_utils import TrackOnce

    from infantjax.ensemble import Ensemble
    from infantjax.pipelines.fidelity import evaluate_chain, render_cohort
    from infantjax.pipelines.pose import PosePredictor

    cohort = render_cohort(tmp_path / "c", n=2, seed=7, duration_s=5.5, fps=10.0, size=(120, 160), progress=False)
    pose = TrackOnce(PosePredictor.pretrained("rt-synthetic-infant-roi"))
    zoo = Ensemble.pretrained("cp-gcn-synthetic-3folds")
    # another ensemble of the same shape (the scoring programs compiled for the zoo's serve it): folds 1, 1 and 2
    folds = jax.tree_util.tree_map(lambda a: np.asarray(a)[[1, 1, 2]], zoo.variables[0])
    other_ensemble = Ensemble(zoo.specs, [folds], zoo.config, threshold=zoo.threshold)
    same = evaluate_chain(cohort, pose=pose, ensemble="cp-gcn-synthetic-3folds", progress=False)
    other = evaluate_chain(cohort, pose=pose, ensemble="cp-gcn-synthetic-3folds", truth_ensemble=other_ensemble,
                           progress=False)
    assert pose.tracked == [v.name for v in cohort.videos] and len(pose.calls) == 4  # each video tracked once
    for report in (same, other):
        assert 0.0 <= report.pose["pckh@0.1"] <= report.pose["pckh@0.2"] <= report.pose["pckh@0.5"] <= 1.0
        assert report.pose["median_px"] > 0 and report.speed["frames"] == sum(len(t) for t in cohort.truth)
        rows = report.per_infant
        assert len(rows) == 2 and report.fidelity["mean_abs_risk_diff"] == pytest.approx(
            np.mean([abs(r["risk_video"] - r["risk_truth"]) for r in rows]))
        assert "head length" in report.table() and "exact" in report.table()
    assert same.settings["truth_ensemble"] == same.settings["ensemble"] == "cp-gcn-synthetic-3folds"
    assert other.settings["truth_ensemble"] == "in memory (Ensemble, 3 instances)"
    # the video side is the same keypoints scored by the same ensemble; the truth side is scored by the other one
    assert [r["risk_video"] for r in same.per_infant] == pytest.approx([r["risk_video"] for r in other.per_infant])
    assert [r["risk_truth"] for r in same.per_infant] != pytest.approx([r["risk_truth"] for r in other.per_infant])


def test_held_out_home_video_crops_score_the_visible_joints_and_count_the_hidden_ones_drawn():
    """``evaluate_synthetic(home_video=...)``: PCKh over the joints no occluder hides, and how many hidden joints the
    model still gives a peak the quality gate would believe (the zoo's model, 16 held-out crops, the tracker's batch)."""
    from infantjax.pipelines import pose as S
    from infantjax.pipelines.pose import PosePredictor

    p = PosePredictor.pretrained("rt-synthetic-infant-roi")
    clean = S.evaluate_synthetic(p, 16, batch_size=16, examples="roi", decoding="subpixel")
    home = S.evaluate_synthetic(p, 16, batch_size=16, examples="roi", decoding="subpixel",
                                home_video={"occluders": 1.0})
    assert "hidden" not in clean and home["hidden"] > 16
    assert 0.0 <= home["hidden_found"] <= 1.0 and 0.0 <= home["hidden_peak"] < home["visible_peak"] <= 1.0
    assert 0.5 < home["pckh@0.2"] <= 1.0
    with pytest.raises(ConfigError, match="examples='roi'"):
        S.evaluate_synthetic(p, 16, home_video={"grey": 1.0})


def test_the_command_line_tracking_options_lay_over_the_model_s_settings():
    from infantjax.cli import build_parser
    from infantjax.commands.pose import tracking_overrides

    def over(*extra):
        return tracking_overrides(build_parser().parse_args(["assess", "v.mp4", "--out", "o", *extra]))

    assert over() is None  # the pose model's own settings
    assert over("--upright", "off") == {"upright": False}
    assert over("--sides", "as-detected", "--upright", "on") == {"sides": "as-detected", "upright": True}
    ref = Tracking.of(over("--tracking", "reference"))
    assert ref.is_reference and not ref.upright
    assert Tracking.of(over("--tracking", "infant", "--upright", "off")) == Tracking.infant().replace(upright=False)
