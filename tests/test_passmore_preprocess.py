"""Seed 003's smartphone pipeline (other_seeds_reference §1.2–1.4), checked on the real DeepLabCut infant
annotations in ../shared/data/passmore-dlc-labels (475 frames of 100 videos; per-frame, not a time series)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from infantjax.errors import ConfigError, DataError
from infantjax.preprocess import passmore as PM
from infantjax.sequence import SkeletonSequence


@pytest.fixture(scope="module")
def labels(data_dir):
    df = pd.read_csv(data_dir / "passmore-dlc-labels" / "labels_long.csv")
    images = list(dict.fromkeys(df["image"]))
    row = {im: i for i, im in enumerate(images)}
    coords = np.full((len(images), 18, 2), np.nan)
    coords[df["image"].map(row).to_numpy(), df["joint_id"].to_numpy()] = df[["x", "y"]].to_numpy(float)
    meta = df.drop_duplicates("image").set_index("image").loc[images]
    videos = meta.index.str.split("/").str[1].to_numpy()
    return coords, videos, meta[["height", "width"]].to_numpy(float)


def test_real_annotations_load(labels):
    coords, videos, _sizes = labels
    assert coords.shape == (475, 18, 2) and len(set(videos)) == 100
    assert int(np.isfinite(coords[..., 0]).sum()) == 7346


# ------------------------------------------------------------------------------------------------ joint angles
def _angle_between(p1, p2, p3):
    """The reference's formula, written out per point triple (atan2 of (dx, dy), bearings mod 360)."""
    deg1 = (360 + math.degrees(math.atan2(p1[0] - p2[0], p1[1] - p2[1]))) % 360
    deg2 = (360 + math.degrees(math.atan2(p3[0] - p2[0], p3[1] - p2[1]))) % 360
    return deg2 - deg1 if deg1 <= deg2 else 360 - (deg1 - deg2)


def test_joint_angles_on_real_frames_match_the_reference_formula(labels):
    coords = labels[0]
    got = PM.joint_angles(coords, degrees=True)
    assert got.shape == (475, 10)
    for f in range(0, 475, 5):
        for k, (_, (a, b, c)) in enumerate(PM.JOINT_ANGLES):
            pa, pb, pc = coords[f, a], coords[f, b], coords[f, c]
            if np.isnan([pa, pb, pc]).any():
                assert np.isnan(got[f, k])
                continue
            expected = min(_angle_between(pa, pb, pc), _angle_between(pc, pb, pa))
            assert got[f, k] == pytest.approx(expected, abs=1e-9)
    # the inner angle is the unsigned angle between the two arms
    idx = np.array([t for _, t in PM.JOINT_ANGLES])
    u = coords[:, idx[:, 0]] - coords[:, idx[:, 1]]
    v = coords[:, idx[:, 2]] - coords[:, idx[:, 1]]
    cos = (u * v).sum(-1) / np.linalg.norm(u, axis=-1) / np.linalg.norm(v, axis=-1)
    np.testing.assert_allclose(PM.joint_angles(coords), np.arccos(np.clip(cos, -1, 1)), atol=1e-7)
    ok = np.isfinite(got)
    assert ok.sum() > 3000 and (got[ok] >= 0).all() and (got[ok] <= 180).all()
    # the triplets of §1.3, including the shoulder used at the hips
    assert [t for _, t in PM.JOINT_ANGLES] == [(11, 4, 5), (6, 5, 4), (8, 7, 4), (7, 8, 9), (10, 9, 8),
                                                (12, 11, 4), (11, 12, 13), (11, 14, 15), (16, 15, 14), (15, 16, 17)]


# ------------------------------------------------------------------------------------------------ body length
def test_size_normalisation_on_real_frames(labels):
    coords, videos, sizes = labels
    measured = 0
    for video in dict.fromkeys(videos):
        x = coords[videos == video]
        if not np.isfinite(x[:, [PM.CROWN, PM.L_HIP, PM.R_HIP]]).all(axis=(1, 2)).any():
            with pytest.raises(DataError, match="crown and both hips"):
                PM.size_normalise(x)
            continue
        measured += 1
        out, length = PM.size_normalise(x)
        mid = 0.5 * (out[:, PM.L_HIP] + out[:, PM.R_HIP])
        ok = np.isfinite(mid).all(-1)
        np.testing.assert_allclose(mid[ok], 0.0, atol=1e-12)
        d = np.linalg.norm(out[:, PM.CROWN] - mid, axis=-1)
        assert np.nanmedian(d) == pytest.approx(1.0)
        # a real infant: crown–mid-hip spans a fair part of the image's long side
        long_side = sizes[videos == video].max()
        assert 0.1 * long_side < length < long_side
    assert measured >= 90


# ------------------------------------------------------------------------------------------------ torso alignment
def _rot(theta):
    return np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])


def test_kabsch_recovers_rigid_motion_of_real_torsos(labels):
    coords = labels[0]
    full = np.flatnonzero(np.isfinite(coords[:, PM.TORSO]).all(axis=(1, 2)))
    torsos = coords[full][:, PM.TORSO]  # (N, 4, 2) real shoulder/hip quadrilaterals
    rng = np.random.default_rng(0)
    thetas = rng.uniform(-np.pi, np.pi, len(torsos))
    shifts = rng.uniform(-200, 200, (len(torsos), 2))
    moved = np.einsum("nij,nkj->nki", np.stack([_rot(t) for t in thetas]), torsos) + shifts[:, None]
    for mode in ("reference", "corrected"):
        R, d = PM.kabsch(moved, torsos[0], mode)  # fit every moved torso onto the first real one
        np.testing.assert_allclose(np.linalg.det(R), 1.0, atol=1e-9)  # a rotation, never a reflection
    R, d = PM.kabsch(moved, torsos[0], "corrected")
    fitted = np.einsum("nij,nkj->nki", R, moved) + d[:, None]
    # optimal: no rotation of the fitted torso about its centroid lowers the residual
    for n in range(0, len(torsos), 10):
        base = np.sum((fitted[n] - torsos[0]) ** 2)
        c = fitted[n].mean(0)
        for eps in (-0.01, 0.01):
            alt = (fitted[n] - c) @ _rot(eps).T + c
            assert np.sum((alt - torsos[0]) ** 2) >= base - 1e-9
    # a torso fitted onto its own moved copy comes back exactly
    R, d = PM.kabsch(moved[:1], torsos[:1][0], "corrected")
    np.testing.assert_allclose(moved[0] @ R[0].T + d[0], torsos[0], atol=1e-8)


def test_kabsch_reference_uses_the_transpose_of_vh(labels):
    # near-rigid problems (a real torso seen rotated, plus a pixel of noise): the reference formula is right
    coords = labels[0]
    full = np.flatnonzero(np.isfinite(coords[:, PM.TORSO]).all(axis=(1, 2)))
    torso = coords[full[0]][list(PM.TORSO)]
    rng = np.random.default_rng(1)
    src = np.einsum("nij,kj->nki", np.stack([_rot(t) for t in rng.uniform(-np.pi, np.pi, 400)]), torso)
    src += rng.normal(scale=1.0, size=src.shape)
    Rr, _ = PM.kabsch(src, torso, "reference")
    Rc, _ = PM.kabsch(src, torso, "corrected")
    near_rigid_agree = np.isclose(Rr, Rc, atol=1e-9).all(axis=(1, 2)).mean()
    assert near_rigid_agree > 0.95
    # in general the two agree exactly when NumPy's Vh is symmetric (a reflection), and may differ otherwise
    src = rng.normal(size=(400, 4, 2))
    tgt = rng.normal(size=(4, 2))
    Rr, _ = PM.kabsch(src, tgt, "reference")
    Rc, _ = PM.kabsch(src, tgt, "corrected")
    same = np.isclose(Rr, Rc, atol=1e-9).all(axis=(1, 2))
    cov = np.einsum("ki,nkj->nij", tgt - tgt.mean(0), src - src.mean(1, keepdims=True))
    vh = np.linalg.svd(cov)[2]
    symmetric = np.isclose(vh, np.swapaxes(vh, 1, 2), atol=1e-12).all(axis=(1, 2))
    assert (same[symmetric]).all() and not same.all()


def _camera_motion_sequence(frame, T=60, seed=0, noise=0.0):
    """A real annotated frame seen through a hand-held camera: per-frame rotation and translation."""
    rng = np.random.default_rng(seed)
    thetas = 0.3 * np.sin(np.arange(T) / 7.0) + 0.05 * rng.normal(size=T)
    shifts = np.stack([30 * np.sin(np.arange(T) / 11.0), 20 * np.cos(np.arange(T) / 5.0)], -1)
    centre = np.nanmean(frame, axis=0)
    seq = np.stack([(frame - centre) @ _rot(t).T + centre + s for t, s in zip(thetas, shifts)])
    return seq + noise * rng.normal(size=seq.shape)


def test_align_torso_removes_camera_rotation_on_a_real_infant(labels):
    coords, _videos, sizes = labels
    complete = np.flatnonzero(np.isfinite(coords).all(axis=(1, 2)))
    frame, size = coords[complete[0]], sizes[complete[0]]
    seq = _camera_motion_sequence(frame)
    for mode in ("reference", "corrected"):
        out = PM.align_torso(seq, size, fps=30, mode=mode)
        # every frame lands on the same pose (the camera motion is gone) ...
        np.testing.assert_allclose(out, np.broadcast_to(out[:1], out.shape), atol=1e-6)
        # ... which is the real frame moved rigidly: all pairwise distances are kept
        dist = lambda p: np.linalg.norm(p[:, None] - p[None], axis=-1)
        np.testing.assert_allclose(dist(out[0]), dist(frame), atol=1e-6)
        # the torso axis (mid-shoulder - mid-hip) points along -x and the torso is centred
        axis = 0.5 * (out[0, PM.L_SHOULDER] + out[0, PM.R_SHOULDER]) - 0.5 * (out[0, PM.L_HIP] + out[0, PM.R_HIP])
        assert axis[0] < 0 and abs(axis[1]) < 1e-6 * abs(axis[0])
        np.testing.assert_allclose(out[0, PM.TORSO].mean(0), 0.0, atol=1e-6)
    # missing points stay missing
    seq[10:13, 6] = np.nan
    out = PM.align_torso(seq, size, fps=30)
    assert np.isnan(out[10:13, 6]).all() and np.isfinite(out[9, 6]).all()


def test_template_picker_reference_quirk():
    # the signed sum of deviations picks the frame with the most negative coordinates, not the median one
    base = np.zeros((5, 18, 2))
    base[:, PM.TORSO] = [[-10, -5], [-10, 5], [10, -5], [10, 5]]
    offsets = np.array([0.0, 3.0, -40.0, 1.0, 2.0])
    x = base + offsets[:, None, None]
    idx_ref, template = PM.torso_template(x, "reference")
    idx_cor, _ = PM.torso_template(x, "corrected")
    assert idx_ref == 2 and idx_cor == 3  # the median offset is 1 (frame 3)
    np.testing.assert_allclose(template.mean(0), 0.0, atol=1e-12)
    axis = template[:2].mean(0) - template[2:].mean(0)
    assert axis[0] < 0 and abs(axis[1]) < 1e-12


# ------------------------------------------------------------------------------------------------ quality control
def test_quality_control_threshold_and_likelihood_cutoff(labels):
    frame = labels[0][np.flatnonzero(np.isfinite(labels[0]).all(axis=(1, 2)))[0]]
    x = np.broadcast_to(frame, (100, 18, 2)).copy()
    lik = np.ones((100, 18))
    lik[:31, :] = 0.2  # 0.2 is dropped (<=)
    report = PM.quality_control(x, lik)
    assert report.mean_labelled == pytest.approx(69.0) and not report.passed
    assert np.isnan(report.coords[:31]).all() and np.isfinite(report.coords[31:]).all()
    lik[30, :] = 0.21
    assert PM.quality_control(x, lik).passed  # exactly 70 % passes
    with pytest.raises(DataError, match="likelihood"):
        PM.quality_control(x, lik[:, :5])
    seq = SkeletonSequence(x, 30.0, "passmore-18", confidence=np.where(lik > 0.3, 1.0, 0.0))
    with pytest.raises(DataError, match="quality control"):
        PM.preprocess_passmore(seq, (480, 720))


# ------------------------------------------------------------------------------------------------ outliers
def test_remove_outliers_keeps_real_points_and_drops_planted_ones(labels):
    coords, _videos, sizes = labels
    complete = np.flatnonzero(np.isfinite(coords).all(axis=(1, 2)))
    frame, size = coords[complete[1]], sizes[complete[1]]
    seq = PM.align_torso(_camera_motion_sequence(frame, T=40, noise=0.5), size, fps=30)
    L = PM.infant_length(seq)
    planted = seq.copy()
    planted[5, 6] = planted[5, 7] + [3.0 * L, 0.0]  # a "hand" three body lengths away from the hips
    out, removed = PM.remove_outliers(planted, size)
    assert np.isnan(out[5, 6]).all()
    assert np.isfinite(out).sum() == np.isfinite(planted).sum() - 2  # nothing else was touched
    assert removed == pytest.approx(100 / (40 * 18))
    # stage 2: a point far from its own median but inside the body ellipse
    planted = seq.copy()
    planted[7, 0] = seq[7, 0] + [0.0, 0.31 * size[0]]  # 0.3 x image height along y
    out, _ = PM.remove_outliers(planted, size)
    assert np.isnan(out[7, 0]).all() or np.linalg.norm(planted[7, 0] - 0.5 * (planted[7, 7] + planted[7, 14])) > L


# ------------------------------------------------------------------------------------------------ gap filling
def test_interpolate_limited_matches_pandas():
    rng = np.random.default_rng(0)
    v = rng.normal(size=(80, 6))
    v[rng.random(v.shape) < 0.3] = np.nan
    v[:4, 0] = np.nan  # leading gap
    v[20:32, 1] = np.nan  # long gap: only its first 5 are filled
    v[-7:, 2] = np.nan  # trailing gap
    expected = pd.DataFrame(v).interpolate(method="linear", limit=5).to_numpy()
    np.testing.assert_allclose(PM.interpolate_limited(v, 5), expected, equal_nan=True)


@pytest.mark.parametrize("window", [25, 30])
def test_blackman_rolling_mean_matches_pandas(window):
    rng = np.random.default_rng(window)
    v = np.cumsum(rng.normal(size=(120, 4)), axis=0)
    v[rng.random(v.shape) < 0.4] = np.nan
    v[50:90, 3] = np.nan
    expected = pd.DataFrame(v).rolling(window=window, min_periods=5, center=True, win_type="blackman").mean()
    np.testing.assert_allclose(PM.blackman_rolling_mean(v, window), expected.to_numpy(), rtol=1e-10,
                               equal_nan=True)


def test_gap_fill_replaces_only_missing_values(labels):
    frame = labels[0][np.flatnonzero(np.isfinite(labels[0]).all(axis=(1, 2)))[2]]
    seq = _camera_motion_sequence(frame, T=90, noise=1.0)
    holes = seq.copy()
    holes[10:14, 5] = np.nan  # short gap
    holes[40:60, 9] = np.nan  # long gap: imputed from the other columns
    out = PM.gap_fill(holes, fps=30)
    assert np.isfinite(out).all()
    observed = np.isfinite(holes)
    np.testing.assert_array_equal(out[observed], holes[observed])
    # the filled values are plausible: close to the truth relative to the body size
    L = PM.infant_length(seq)
    assert np.abs(out[10:14, 5] - seq[10:14, 5]).max() < 0.15 * L
    assert np.abs(out[40:60, 9] - seq[40:60, 9]).max() < 0.5 * L
    bad = holes.copy()
    bad[:, 3] = np.nan
    with pytest.raises(DataError, match="never observed"):
        PM.gap_fill(bad, fps=30)


def test_iterative_impute_is_scikit_learn_with_one_blas_thread(monkeypatch):
    """The imputer's fit runs under a one-thread BLAS limit (a multi-threaded OpenBLAS made a 20-s video take
    17-100 s on a busy 2-core machine) and returns exactly scikit-learn's IterativeImputer result."""
    from sklearn.experimental import enable_iterative_imputer  # noqa: F401
    from sklearn.impute import IterativeImputer
    from threadpoolctl import threadpool_info

    rng = np.random.default_rng(0)
    base = rng.normal(size=(200, 1))
    v = base @ rng.normal(size=(1, 6)) + 0.1 * rng.normal(size=(200, 6))
    v[rng.random(v.shape) < 0.1] = np.nan
    expected = IterativeImputer(max_iter=30, random_state=0).fit_transform(v)
    seen = []
    original = IterativeImputer.fit_transform

    def spy(self, *args, **kwargs):
        seen.append([d["num_threads"] for d in threadpool_info() if d["user_api"] == "blas"])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(IterativeImputer, "fit_transform", spy)
    out = PM.iterative_impute(v)
    np.testing.assert_array_equal(out, expected)
    assert seen and all(n == 1 for n in seen[0])
    full = np.nan_to_num(v)
    np.testing.assert_array_equal(PM.iterative_impute(full), full)  # no gap: no fit
    assert len(seen) == 1


# ------------------------------------------------------------------------------------------------ time, features, clips
def test_time_normalise_is_cubic_to_4500_samples():
    from scipy.interpolate import interp1d
    rng = np.random.default_rng(0)
    x = rng.normal(size=(100, 18, 2))
    out = PM.time_normalise(x)
    assert out.shape == (4500, 18, 2)
    np.testing.assert_allclose(out[0], x[0]) and np.testing.assert_allclose(out[-1], x[-1])
    f = interp1d(np.arange(100), x[:, 3, 1], kind="cubic")
    np.testing.assert_allclose(out[:, 3, 1], f(np.linspace(0, 99, 4500)), rtol=1e-10)
    with pytest.raises(DataError, match="gap-free"):
        PM.time_normalise(np.where(x > 2.5, np.nan, x))


def test_features_and_clips_shapes_and_scaling(labels):
    frame = labels[0][np.flatnonzero(np.isfinite(labels[0]).all(axis=(1, 2)))[3]]
    rng = np.random.default_rng(0)
    x = frame + np.cumsum(rng.normal(size=(4500, 18, 2)), axis=0) * 0.5
    f = PM.passmore_features(x)
    assert f.shape == (4500, 46) and f.dtype == np.float32
    assert np.abs(f).max() <= 4.0
    # demeaned and unit variance before clipping: columns without clipped values have std 1 and mean 0
    unclipped = (np.abs(f) < 4).all(axis=0)
    assert unclipped.sum() > 10
    np.testing.assert_allclose(f[:, unclipped].std(0), 1.0, rtol=1e-4)
    np.testing.assert_allclose(f[:, unclipped].mean(0), 0.0, atol=1e-4)
    # angle features are the demeaned joint angles over their std
    ang = PM.joint_angles(x)
    k = int(np.argmax(unclipped[36:])) + 36
    a = ang[:, k - 36] - ang[:, k - 36].mean()
    np.testing.assert_allclose(f[:, k], a / a.std(), rtol=1e-4, atol=1e-5)
    c = PM.clips(f)
    assert c.shape == (547, 128, 46)  # 4373 windows at stride 1, every 8th kept
    np.testing.assert_array_equal(c[1], f[8:136])
    np.testing.assert_array_equal(c[-1], f[4368:4496])
    with pytest.raises(DataError):
        PM.clips(f[:100])


def test_preprocess_passmore_end_to_end_on_a_real_infant(labels):
    coords, _videos, sizes = labels
    frame = coords[np.flatnonzero(np.isfinite(coords).all(axis=(1, 2)))[4]]
    seq = _camera_motion_sequence(frame, T=300, noise=0.8)  # 10 s at 30 fps
    lik = np.full((300, 18), 0.9)
    lik[100:110, 6] = 0.05  # a dropout of the left hand
    out = PM.preprocess_passmore(SkeletonSequence(seq, 30.0, "passmore-18", confidence=lik),
                                 tuple(sizes[0]), num_samples=600)
    assert out.coords.shape == (600, 18, 2) and np.isfinite(out.coords).all()
    assert out.fps == pytest.approx(60.0)  # 600 samples over 10 s
    info = out.metadata["preprocess"]
    assert info["mean_labelled"] == pytest.approx(100 - 100 * 10 / (300 * 18))
    mid = 0.5 * (out.coords[:, PM.L_HIP] + out.coords[:, PM.R_HIP])
    np.testing.assert_allclose(mid, 0.0, atol=1e-5)
    crown = np.linalg.norm(out.coords[:, PM.CROWN] - mid, axis=-1)
    assert np.median(crown) == pytest.approx(1.0, rel=0.02)
    with pytest.raises(ConfigError, match="frame_size"):
        PM.preprocess_passmore(SkeletonSequence(seq, 30.0, "passmore-18"), (480,))


def test_time_normalise_over_the_frame_times_of_a_variable_rate_recording():
    rng = np.random.default_rng(2)
    times = np.concatenate([[0.0], np.cumsum(rng.choice([1 / 30, 1 / 20, 1 / 15], 79))])
    x = np.stack([np.sin(times), np.cos(0.5 * times)], -1)[:, None, :].repeat(18, axis=1)
    out = PM.time_normalise(x, 200, times)
    grid = np.linspace(0, times[-1], 200)
    np.testing.assert_allclose(out[:, 0, 0], np.sin(grid), atol=2e-4)
    np.testing.assert_allclose(PM.time_normalise(x, 200, np.arange(80.0)), PM.time_normalise(x, 200), atol=1e-12)
    with pytest.raises(DataError, match="strictly increasing"):
        PM.time_normalise(x, 200, times[::-1])
