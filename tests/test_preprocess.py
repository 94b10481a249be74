"""CP preprocessing (seed 002 / gcn_reference A.9): windows, features, resampling, filters, normalisation, rotation."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from infantjax import preprocess as P
from infantjax import skeleton as S
from infantjax.errors import ConfigError, DataError, SkeletonMismatchError
from infantjax.sequence import SkeletonSequence

IM19 = S.get("in-motion-19")


# ------------------------------------------------------------------------------------------------ windows
@pytest.mark.parametrize("T, expected", [
    (150, [0]),
    (225, [0, 75]),
    (300, [0, 75, 150]),
    (310, [0, 75, 150, 160]),     # last window aligned to the end
    (5400, list(range(0, 5251, 75))),  # 3 min at 30 fps: 71 windows, 5250 = 5400 - 150
])
def test_window_starts_hop_and_end_alignment(T, expected):
    assert P.window_starts(T).tolist() == expected


def test_window_starts_reference_duplicates_the_end_window():
    # EvalFeeder appends T - length whenever a hop start lies past it, even if a regular window already ends at T
    assert P.window_starts(300, mode="reference").tolist() == [0, 75, 150, 150]
    assert P.window_starts(150, mode="reference").tolist() == [0, 0]
    assert P.window_starts(310, mode="reference").tolist() == [0, 75, 150, 160]
    assert P.window_starts(300, 150, 150, mode="reference").tolist() == [0, 150]
    with pytest.raises(ConfigError):
        P.window_starts(300, mode="paper")


def test_windows_content_and_errors():
    x = np.arange(310 * 19 * 2, dtype=np.float32).reshape(310, 19, 2)
    w = P.windows(x)
    assert w.shape == (4, 150, 19, 2)
    np.testing.assert_array_equal(w[1], x[75:225])
    np.testing.assert_array_equal(w[-1], x[-150:])
    with pytest.raises(DataError, match="shorter than one window"):
        P.windows(x[:149])
    with pytest.raises(DataError, match="positive integer"):
        P.windows(x, length=0)
    with pytest.raises(DataError, match="positive integer"):
        P.window_starts(300, hop=7.5)
    assert P.windows(x, length=10, hop=10).shape == (31, 10, 19, 2)


# ------------------------------------------------------------------------------------------------ features
def _random_window(seed=0, T=150, J=19):
    return np.random.default_rng(seed).normal(size=(T, J, 2)).astype(np.float32)


def test_features_reference_velocity_last_two_frames_zero():
    p = _random_window()
    f = np.asarray(P.features(p, IM19.parents))
    assert f.shape == (150, 19, 6)
    np.testing.assert_array_equal(f[..., :2], p)
    np.testing.assert_allclose(f[:148, :, 2:4], p[1:149] - p[:148], rtol=1e-6)
    np.testing.assert_array_equal(f[148:, :, 2:4], 0.0)
    # bones: p[j] - p[parent(j)], thorax (its own parent) zero
    parents = np.array(IM19.parents)
    np.testing.assert_allclose(f[..., 4:], p - p[:, parents], rtol=1e-6)
    np.testing.assert_array_equal(f[:, 8, 4:], 0.0)
    np.testing.assert_allclose(f[:, 7, 4:], p[:, 7] - p[:, 6])  # right wrist minus right elbow


def test_features_corrected_velocity_only_last_frame_zero():
    p = _random_window(1)
    f = np.asarray(P.features(p, "in-motion-19", mode="corrected"))
    np.testing.assert_allclose(f[:149, :, 2:4], p[1:] - p[:-1], rtol=1e-6)
    np.testing.assert_array_equal(f[149, :, 2:4], 0.0)
    with pytest.raises(ConfigError):
        P.features(p, IM19.parents, mode="stride2")


def test_features_jit_and_batch_dims():
    batch = np.stack([_random_window(s) for s in range(4)])[None]  # (1, 4, T, J, 2)
    f = jax.jit(lambda x: P.features(x, IM19.parents))(batch)
    assert f.shape == (1, 4, 150, 19, 6)
    np.testing.assert_allclose(f[0, 2], P.features(batch[0, 2], IM19.parents), rtol=1e-6)
    # 3-D keypoints give 9 channels
    assert P.features(jnp.zeros((150, 19, 3)), IM19.parents).shape == (150, 19, 9)
    with pytest.raises(DataError, match="parent"):
        P.features(batch[0, 0], IM19.parents[:-1])
    with pytest.raises(DataError):
        P.features(np.zeros((150, 19)), IM19.parents)


# ------------------------------------------------------------------------------------------------ CP pipeline

# an In-Motion 19 body in image coordinates (x right, y down), thorax at the origin, trunk length 10
BODY = np.array([
    [0, -14], [0, -10], [-3, -10], [3, -10], [0, -4], [-5, 0], [-8, 5], [-9, 10], [0, 0], [5, 0], [8, 5],
    [9, 10], [0, 10], [-3, 10], [-4, 16], [-4, 22], [3, 10], [4, 16], [4, 22]], dtype=np.float64)


def _recording(T=300, seed=0, angle=0.3, scale=12.0, shift=(200.0, 150.0), wobble=0.5):
    rng = np.random.default_rng(seed)
    t = np.arange(T)[:, None, None]
    limbs = BODY[None] + wobble * np.sin(0.2 * t + rng.uniform(0, 6, (1, 19, 2)))
    limbs[:, [8, 12]] = BODY[[8, 12]]  # a rigid trunk of length 10
    c, s = np.cos(angle), np.sin(angle)
    rot = np.array([[c, -s], [s, c]])
    return (limbs @ rot.T * scale + np.asarray(shift)).astype(np.float32)


def test_resample_linear_and_nan_aware():
    T = 26
    x = np.stack([np.arange(T), 2 * np.arange(T)], -1)[:, None, :].repeat(3, 1).astype(np.float64)  # x = frame
    y = P.resample(x, fps=25, target_fps=30, mode="inside")
    assert y.shape == (31, 3, 2)  # 1 s at 25 fps -> 1 s at 30 fps
    np.testing.assert_allclose(y[:, 0, 0], np.arange(31) * 25 / 30, atol=1e-9)
    # the reference's np.arange(0, T, 25/30) grid: ⌈26 · 30/25⌉ = 32 samples, the one past frame 25 holds it
    ref = P.resample(x, fps=25, target_fps=30)
    assert ref.shape == (32, 3, 2)
    np.testing.assert_array_equal(ref[:31], y)
    np.testing.assert_array_equal(ref[31], x[25])
    with pytest.raises(ConfigError, match="resample mode"):
        P.resample(x, 25, 30, mode="floor")
    np.testing.assert_array_equal(P.resample(x, 30, 30), x)
    x[10, 1] = np.nan
    y = P.resample(x, 25, 50)  # sample 20 falls on frame 10; 19 and 21 straddle it
    assert np.isnan(y[19:22, 1]).all() and not np.isnan(y[[18, 22], 1]).any()
    assert not np.isnan(y[:, 0]).any()
    with pytest.raises(ConfigError):
        P.resample(x, 0, 30)
    with pytest.raises(DataError):
        P.resample(x[:, :, 0], 25, 30)


def test_fill_gaps_linear_edges_and_max_gap():
    x = np.zeros((10, 2, 2))
    x[:, 0, 0] = np.arange(10)
    x[[0, 3, 4, 5, 9], 0] = np.nan
    x[:, 1] = np.nan  # never observed
    y = P.fill_gaps(x)
    np.testing.assert_allclose(y[1:9, 0, 0], np.arange(1, 9))
    assert y[0, 0, 0] == 1 and y[9, 0, 0] == 8  # edges take the nearest observed value
    assert np.isnan(y[:, 1]).all()
    z = P.fill_gaps(x, max_gap=2)
    assert np.isnan(z[3:6, 0]).all() and z[0, 0, 0] == 1  # the 3-frame gap is too long
    with pytest.raises(ConfigError):
        P.fill_gaps(x, max_gap=0)


def test_median_filter_shrinks_symmetrically_at_the_ends():
    v = np.array([9.0, 1, 5, 2, 8, 3, 7, 0])
    x = v[:, None, None]
    y = P.median_filter(x)[:, 0, 0]
    expected = [9.0,                      # t=0: window {0}
                5.0,                      # t=1: median(9, 1, 5)
                np.median(v[0:5]), np.median(v[1:6]), np.median(v[2:7]), np.median(v[3:8]),
                np.median(v[5:8]),        # t=6: half-width 1
                0.0]                      # t=7: window {7}
    np.testing.assert_allclose(y, expected)
    from scipy.signal import medfilt
    long = np.random.default_rng(0).normal(size=(50, 19, 2))
    np.testing.assert_allclose(P.median_filter(long)[2:-2], medfilt(long, (5, 1, 1))[2:-2])
    x = long.copy()
    x[10, 3] = np.nan
    y = P.median_filter(x)
    assert np.isnan(y[10, 3]).all() and np.isfinite(y[9, 3]).all() and np.isfinite(y[11, 3]).all()


def test_normalise_by_four_trunk_lengths_around_median_pelvis():
    x = _recording()
    assert P.trunk_length(x) == pytest.approx(120.0, rel=1e-3)  # 10 body units x scale 12
    y = P.normalise(x, "in-motion-19", k=4)
    np.testing.assert_allclose(P.median_pelvis(y), 0.0, atol=1e-5)
    assert P.trunk_length(y) == pytest.approx(0.25, rel=1e-5)
    np.testing.assert_array_equal(P.flip_y(y)[..., 1], -y[..., 1])
    with pytest.raises(SkeletonMismatchError, match="thorax and pelvis"):
        P.trunk_length(np.zeros((5, 18, 2)), "passmore-18")
    with pytest.raises(DataError, match="no frame"):
        P.trunk_length(np.full((5, 19, 2), np.nan))


def test_rotate_windows_reference_quirk_and_corrected():
    # one window per direction of the spine (pelvis - thorax) in a y-up frame
    thetas = np.deg2rad([-150, -90, -30, 0, 45, 90, 135, 180])
    w = np.zeros((len(thetas), 4, 19, 2), np.float32)
    w[:, :, 8] = [1.0, 2.0]
    w[:, :, 12] = w[:, :, 8] + 0.5 * np.stack([np.cos(thetas), np.sin(thetas)], -1)[:, None]
    w[:, :, 0] = [3.0, -1.0]
    above = np.sin(thetas) <= 1e-9  # thorax starts above (or level with) the pelvis
    for mode in ("reference", "corrected"):
        r = np.asarray(P.rotate_windows(w, "in-motion-19", mode))
        spine = r[:, 0, 12] - r[:, 0, 8]
        # rotation about the origin preserves every length
        np.testing.assert_allclose(np.linalg.norm(r, axis=-1), np.linalg.norm(w, axis=-1), rtol=1e-5)
        down = np.isclose(spine, [0.0, -0.5], atol=1e-5).all(-1)
        if mode == "corrected":
            assert down.all()
        else:
            assert (down == above).all()  # reference quirk: arccos loses the sign of the spine's y
            quirk = thetas + np.arccos(np.cos(thetas)) - np.pi / 2  # where the reference sends the spine
            np.testing.assert_allclose(spine, 0.5 * np.stack([np.cos(quirk), np.sin(quirk)], -1), atol=1e-5)
    jitted = jax.jit(lambda a: P.rotate_windows(a, "in-motion-19"))(w)
    np.testing.assert_allclose(jitted, P.rotate_windows(w), atol=1e-6)
    with pytest.raises(ConfigError):
        P.rotate_windows(w, mode="v1")


def test_rotate_windows_uses_first_observed_frame():
    w = np.zeros((5, 19, 2), np.float32)
    w[:, 12] = [0.5, 0.0]  # spine pointing right (+x)
    w[0, 8] = np.nan
    r = np.asarray(P.rotate_windows(w, mode="corrected"))
    np.testing.assert_allclose(r[1, 12] - r[1, 8], [0.0, -0.5], atol=1e-6)
    assert np.isnan(r[0, 8]).all()


def test_align_trunk_puts_thorax_straight_above_the_midpoint():
    x = P.flip_y(_recording(angle=1.0))
    y = P.align_trunk(x)
    np.testing.assert_allclose(y[:, 8], np.tile([0.0, 60.0], (len(y), 1)), atol=1e-3)
    np.testing.assert_allclose(y[:, 12], np.tile([0.0, -60.0], (len(y), 1)), atol=1e-3)
    # per-frame rigid: pairwise distances are kept
    np.testing.assert_allclose(np.linalg.norm(y[:, 7] - y[:, 15], axis=-1),
                               np.linalg.norm(x[:, 7] - x[:, 15], axis=-1), rtol=1e-4)


def test_butterworth_is_scipy_butter_8_half_nyquist_zero_phase():
    from scipy import signal
    t = np.arange(300) / 30.0
    slow, fast = np.sin(2 * np.pi * 1.0 * t), np.sin(2 * np.pi * 12.0 * t)  # 1 Hz and 12 Hz at 30 fps
    x = np.broadcast_to((slow + fast)[:, None, None], (300, 19, 2)).copy()
    y = P.butterworth(x)
    np.testing.assert_allclose(y, signal.sosfiltfilt(signal.butter(8, 0.5, output="sos"), x, axis=0), atol=1e-5)
    np.testing.assert_allclose(y[50:-50, 0, 0], slow[50:-50], atol=0.02)  # 7.5 Hz cut-off keeps 1 Hz, drops 12 Hz
    x[5, 3, 0] = np.nan
    with pytest.raises(DataError, match="fill_gaps"):
        P.butterworth(x)
    with pytest.raises(DataError, match="more than 27 frames"):
        P.butterworth(np.zeros((20, 19, 2)))


def _sequence(T=300, fps=30.0, **kw):
    return SkeletonSequence(_recording(T, **kw), fps, "in-motion-19")


def test_preprocess_cp_v1_default_chain():
    seq = _sequence()
    out = P.preprocess_cp(seq)
    assert out.metadata["preprocess"]["version"] == "v1"
    x = out.coords
    # same as composing the steps by hand (medians from the raw recording, filter, normalise, flip)
    raw = seq.coords
    by_hand = P.flip_y(P.normalise(P.median_filter(raw), centre=P.median_pelvis(raw),
                                   scale=4 * P.trunk_length(raw)))
    np.testing.assert_allclose(x, by_hand, atol=1e-6)
    assert P.trunk_length(x) == pytest.approx(0.25, rel=1e-2)
    np.testing.assert_allclose(P.median_pelvis(x), 0.0, atol=0.01)
    w = P.cp_windows(out)
    assert w.shape == (3, 150, 19, 2)
    spine = w[:, 0, 12] - w[:, 0, 8]
    np.testing.assert_allclose(spine[:, 0], 0.0, atol=1e-5)  # first-frame spine straight down
    assert (spine[:, 1] < 0).all()


def test_preprocess_cp_v2_is_invariant_to_camera_similarity():
    a = P.preprocess_cp(_sequence(angle=0.2, scale=10, shift=(100, 50)), "v2", low_pass=False)
    b = P.preprocess_cp(_sequence(angle=-0.7, scale=17, shift=(300, 20)), "v2", low_pass=False)
    np.testing.assert_allclose(a.coords, b.coords, atol=1e-4)
    np.testing.assert_allclose(a.coords[:, 8, 0], 0.0, atol=1e-5)
    assert (a.coords[:, 8, 1] > 0).all()  # thorax above the trunk midpoint (y up)
    assert P.trunk_length(a.coords) == pytest.approx(0.25, rel=1e-4)
    c = P.preprocess_cp(_sequence(fps=25.0), "v2")  # resampled to 30 fps and low-pass filtered
    assert c.fps == 30.0 and c.num_frames == 360  # ⌈300 · 30/25⌉ as the reference (the last holds frame 299)
    assert c.metadata["preprocess"]["resample_mode"] == "reference"
    assert P.cp_windows(c).shape == (4, 150, 19, 2)  # starts 0, 75, 150, 210; no window rotation in v2
    inside = P.preprocess_cp(_sequence(fps=25.0), "v2", resample_mode="inside")
    assert inside.num_frames == 359


def test_preprocess_cp_missing_data_and_bad_input():
    x = _recording()
    x[40:45, 6] = np.nan
    seq = SkeletonSequence(x, 30.0, "in-motion-19")
    assert np.isfinite(P.preprocess_cp(seq).coords).all()  # gaps filled (the infantjax addition)
    kept = P.preprocess_cp(seq, fill=False)
    assert np.isnan(kept.coords[40:45, 6]).all() and np.isfinite(kept.coords[:40]).all()
    with pytest.raises(DataError, match="fill_gaps"):
        P.preprocess_cp(seq, "v2", fill=False)
    with pytest.raises(ConfigError, match="version"):
        P.preprocess_cp(seq, "v3")
    with pytest.raises(SkeletonMismatchError):
        P.preprocess_cp(SkeletonSequence(np.zeros((10, 16, 2)), 30.0, "mpii-16"))
    with pytest.raises(DataError, match="preprocess_cp"):
        P.cp_windows(seq)


def test_resample_times_follows_the_frame_times_of_a_variable_rate_recording():
    rng = np.random.default_rng(0)
    times = np.concatenate([[0.0], np.cumsum(rng.choice([1 / 30, 1 / 20, 1 / 15], 59))])
    signal = np.sin(2 * np.pi * 0.7 * times)  # a movement sampled unevenly in time
    x = np.stack([signal, np.cos(times)], -1)[:, None, :].repeat(19, axis=1)
    fps = 59 / times[-1]
    out = P.resample_times(x, times, fps, 30.0)
    t_out = np.arange(len(out)) / 30.0
    assert len(out) == len(P.resample(x, fps, 30.0))  # resample's rule for the sample count
    # the reference count runs up to one average frame interval past the last frame, holding it (np.interp)
    assert times[-1] < t_out[-1] < times[-1] + 1 / fps + 1e-9
    inside = P.resample_times(x, times, fps, 30.0, mode="inside")
    assert len(inside) == len(P.resample(x, fps, 30.0, mode="inside")) == len(out) - 1
    assert (len(inside) - 1) / 30.0 <= times[-1] + 1e-9
    np.testing.assert_array_equal(inside, out[:-1])
    np.testing.assert_allclose(out[:, 0, 0], np.interp(t_out, times, signal), atol=1e-12)
    # frame ÷ average fps puts the samples up to a frame or more off in time; the times do not
    # (compared on the samples inside the recording; the held sample past its end matches neither)
    by_index = P.resample(x, fps, 30.0)[:-1, 0, 0]
    truth = np.sin(2 * np.pi * 0.7 * t_out[:-1])
    assert np.abs(by_index - truth).max() > 5 * np.abs(out[:-1, 0, 0] - truth).max()
    # evenly spaced times give resample's samples, NaN-aware
    even = np.arange(60) / 25.0
    x[7, 2] = np.nan
    np.testing.assert_allclose(P.resample_times(x, even, 25.0, 30.0), P.resample(x, 25.0, 30.0), atol=1e-9)
    with pytest.raises(DataError, match="strictly increasing"):
        P.resample_times(x, even[::-1], 25.0)


def test_preprocess_cp_resamples_a_variable_rate_recording_by_its_times():
    rng = np.random.default_rng(1)
    times = np.concatenate([[0.0], np.cumsum(rng.choice([1 / 30, 1 / 20, 1 / 15], 119))])
    skel = S.get("in-motion-19")
    rest = rng.normal(0, 20, (19, 2))
    rest[skel.index("thorax")] = (0, -60)
    rest[skel.index("pelvis")] = (0, 40)
    coords = 300 + rest + 10 * np.sin(2 * np.pi * 0.5 * times)[:, None, None]
    seq = SkeletonSequence(coords.astype(np.float32), 119 / times[-1], skel, times=times)
    assert seq.variable_frame_rate
    # (mode "inside": the reference count's held sample past the end would differ from the continued truth)
    by_time = P.preprocess_cp(seq, resample_mode="inside")
    by_index = P.preprocess_cp(seq.replace(times=None), resample_mode="inside")
    assert P.preprocess_cp(seq).num_frames > by_time.num_frames  # the reference grid runs on to T
    assert by_time.num_frames == by_index.num_frames
    # the same recording sampled evenly: what preprocessing by the times must reproduce
    t = np.arange(by_time.num_frames) / 30.0
    truth = P.preprocess_cp(SkeletonSequence((300 + rest + 10 * np.sin(2 * np.pi * 0.5 * t)[:, None, None]
                                              ).astype(np.float32), 30.0, skel))
    assert np.abs(by_time.coords - truth.coords).max() < 0.2 * np.abs(by_index.coords - truth.coords).max()


def _moving_blob(blur_frames: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """A textured 12-px square moving across a grey frame, slowly (0.25 px a frame) and fast (4 px) in turns,
    each frame the mean of the last ``blur_frames`` instants (a long exposure): frames and its centre."""
    rng = np.random.default_rng(3)
    texture = rng.integers(0, 256, (12, 12, 3))
    steps = np.concatenate([np.full(20, s) for s in (0.25, 4.0, -0.25, -4.0) * 3])
    x = 40.0 + np.cumsum(steps)
    instants = np.zeros((len(x), 64, 160, 3))
    instants[:] = 128.0
    for t, xt in enumerate(x):
        a = int(round(xt)) - 6
        instants[t, 26:38, a:a + 12] = texture
    frames = np.stack([instants[max(0, t - blur_frames + 1):t + 1].mean(axis=0) for t in range(len(x))])
    return frames.round().astype(np.uint8), np.stack([x, np.full(len(x), 32.0)], -1)[:, None]


def test_motion_blur_takes_the_fast_frames_detail_and_sharp_frames_keep_it():
    from infantjax.preprocess import blur

    for frames_mixed, low, high in [(1, 0.95, 1.05), (5, 0.0, 0.8)]:
        frames, xy = _moving_blob(frames_mixed)
        sharp = blur.patch_sharpness(frames, xy, 16)
        assert sharp.shape == (len(frames), 1) and np.isfinite(sharp).all()
        s = blur.summary(xy, sharp, ["left_wrist"])
        assert low <= s["fast_over_slow"] <= high, (frames_mixed, s)
        assert s["joints"] == {"left_wrist": s["fast_over_slow"]} and s["frames"] == len(frames)
    # a square leaving the frame or a keypoint not found: no sharpness; too few frames: no ratio
    out = blur.patch_sharpness(frames[:3], np.array([[[2.0, 32.0]], [[np.nan, 1.0]], [[80.0, 32.0]]]), 16)
    assert np.isnan(out[:2]).all() and np.isfinite(out[2]).all()
    assert blur.summary(xy[:blur.MIN_FRAMES - 1], sharp[:blur.MIN_FRAMES - 1], ["left_wrist"]) is None
    with pytest.raises(DataError):
        blur.patch_sharpness(frames.astype(np.float32), xy, 16)
