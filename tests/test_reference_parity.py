"""Parity with the reference code itself, stage by stage, beyond the networks (issue 30).

The fixtures in ``tests/data/reference-parity/`` were made by running MovementOutcome (v1 at ``dea8f98``, HEAD at
``36b95b0``) and ``epassmore/infant-movements`` on synthetic recordings (``make_fixtures.py`` beside them; the
README lists every key). Each test feeds infantjax the reference's input of that stage and compares with the
reference's output; float32 tolerances (≤ 1e-5 relative to the largest value) unless a test says otherwise. Where
infantjax deliberately differs (the corrected modes, gap filling where the reference yields NaN, the duplicated end
window) the test states the difference and checks the reference mode.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import data_file

from infantjax import preprocess as P
from infantjax import skeleton
from infantjax.augment import Perturbation, apply_perturbation
from infantjax.models import build
from infantjax.models.passmore import PassmoreSpec
from infantjax.preprocess import passmore as PM
from infantjax.sequence import SkeletonSequence
from infantjax.train.cp import crop_start_bounds, gather_windows


def _close(actual, expected, rtol=1e-5):
    """max |actual − expected| ≤ rtol · max |expected| (NaN where the other is NaN)."""
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected))
    ok = ~np.isnan(expected)
    scale = np.abs(expected[ok]).max()
    err = np.abs(actual[ok] - expected[ok]).max() / scale
    assert err <= rtol, f"relative error {err:.2e} > {rtol:g}"


@pytest.fixture(scope="module")
def inputs():
    return dict(np.load(data_file("reference-parity/inputs.npz")))


@pytest.fixture(scope="module")
def mo():
    return dict(np.load(data_file("reference-parity/movementoutcome.npz")))


@pytest.fixture(scope="module")
def im():
    return dict(np.load(data_file("reference-parity/infant_movements.npz")))


def _cp(inputs, name):
    return SkeletonSequence(inputs[f"{name}_coords"], float(inputs[f"{name}_fps"]), "in-motion-19")


# ============================================================================ MovementOutcome v1 (dea8f98)
def test_v1_median_filter(inputs, mo):
    _close(P.median_filter(inputs["cp30_coords"], 2), mo["v1_median_cp30"])


def test_v1_filter_centre_normalise_flip(inputs, mo):
    out = P.preprocess_cp(_cp(inputs, "cp30"), "v1", target_fps=None)
    _close(out.coords, mo["v1_cp30"])
    assert np.asarray(mo["bone_conns"]).tolist() == list(skeleton.get("in-motion-19").parents)


def _gaps_then_equal(out, ref):
    """Where the reference is NaN infantjax has a value; everywhere else the two agree."""
    assert np.isnan(ref).any() and np.isfinite(out).all()
    _close(np.where(np.isnan(ref), np.nan, out), ref)


def test_v1_missing_points_deliberate_difference(inputs, mo):
    """A missing keypoint is NaN in every 5-frame median window that holds it in the reference; infantjax fills
    the gaps (linear in time) first. Every other value agrees."""
    x = inputs["cp25gaps_coords"]
    missing = np.isnan(x).any(-1)  # (T, 19); thorax and pelvis are never missing here (else all would be NaN)
    assert missing.any() and not missing[:, [8, 12]].any()
    touched = np.stack([np.convolve(m, np.ones(5), "same") > 0 for m in missing.T], 1)
    touched[[0, -1]] = missing[[0, -1]]  # the window shrinks to one frame at the ends
    ref = mo["v1_cp25gaps"]
    np.testing.assert_array_equal(np.isnan(ref).any(-1), touched)
    out = P.preprocess_cp(_cp(inputs, "cp25gaps").replace(fps=30.0), "v1", target_fps=None)
    _gaps_then_equal(out.coords, ref)


def test_v1_window_rotation(mo):
    starts = mo["v1_rotation_starts"]
    windows = np.stack([mo["v1_cp30"][s:s + 150] for s in starts])
    _close(P.rotate_windows(windows, "in-motion-19", "reference"), mo["v1_rotated_cp30"])


# ============================================================================ MovementOutcome HEAD (36b95b0)
@pytest.mark.parametrize("name", ["cp30", "cp25"])
@pytest.mark.parametrize("butter", [False, True])
def test_head_resample_filter_align_normalise(inputs, mo, name, butter):
    ref = mo[f"head_{name}_{'butter' if butter else 'plain'}"]
    out = P.preprocess_cp(_cp(inputs, name), "v2", low_pass=butter)
    T = len(inputs[f"{name}_coords"])
    if name == "cp25":  # ⌈T · 30/25⌉ samples (np.arange grid), one more than the samples inside the recording
        assert len(ref) == int(np.ceil(T * 30 / 25)) == 225
        inside = P.preprocess_cp(_cp(inputs, name), "v2", low_pass=butter, resample_mode="inside")
        assert len(inside.coords) == 224
    _close(out.coords, ref)


def test_head_missing_points_deliberate_difference(inputs, mo):
    """np.interp carries a missing value into the samples beside it (and a missing thorax or pelvis would make the
    median trunk length, hence everything, NaN); infantjax fills the gaps first. Every other value agrees."""
    ref = mo["head_cp25gaps_plain"]
    assert len(ref) == int(np.ceil(173 * 30 / 25)) == 208
    out = P.preprocess_cp(_cp(inputs, "cp25gaps"), "v2", low_pass=False)
    _gaps_then_equal(out.coords, ref)


def test_head_evaluation_windows_and_features(mo):
    seqs = [mo["head_cp30_butter"], mo["head_cp25_butter"]]
    ref_starts = [mo["head_window_starts"][mo["head_window_ids"] == i].tolist() for i in range(2)]
    assert ref_starts == [[0, 61], [0, 75, 75]]  # EvalFeeder appends the end window again when T − 150 = k · 75
    for seq, starts in zip(seqs, ref_starts):
        assert P.window_starts(len(seq), 150, 75, mode="reference").tolist() == starts
        assert P.window_starts(len(seq), 150, 75).tolist() == sorted(set(starts))  # corrected: each window once
    windows = np.stack([seqs[0][0:150], seqs[1][75:225]])  # the first and the last window of the feeder
    parents = skeleton.get("in-motion-19").parents
    _close(P.features(windows, parents, mode="reference"), mo["head_window_features"])


def test_training_crop_start_probabilities(mo):
    """Exact probability of every start of every copy (random_start's randint bounds), not samples."""
    for i, (t, t_pad, copies, window, roll) in enumerate(mo["crop_cases"]):
        lo, hi = crop_start_bounds(t_pad if roll else t, copies, window)
        ref = mo[f"crop_bounds_{i}"]
        np.testing.assert_array_equal(np.stack([lo, hi], 1), ref)
        pmf = np.zeros((copies, (t_pad if roll else t) - window + 1))
        ref_pmf = np.zeros_like(pmf)
        for p in range(copies):
            pmf[p, lo[p]:hi[p] + 1] = 1 / (hi[p] - lo[p] + 1)
            ref_pmf[p, ref[p, 0]:ref[p, 1] + 1] = 1 / (ref[p, 1] - ref[p, 0] + 1)
        np.testing.assert_array_equal(pmf, ref_pmf)
        if (t, copies) == (5400, 12):  # the 3-min non-CP recording: its last window 1/301, not 151/451
            assert pmf[-1, -1] == pytest.approx(1 / 301)


def test_training_tiling(mo):
    """roll_sequence: TrainFeeder tiles each recording to the split's longest; gather_windows wraps the same."""
    short, tiled = mo["head_cp30_butter"], mo["head_tiled_cp30"]
    assert len(tiled) == len(mo["head_cp25_butter"]) > len(short)
    got = gather_windows((short,), np.array([0]), np.array([len(tiled) - 150]), 150)[0]
    np.testing.assert_array_equal(got, tiled[-150:])


def test_augmentation_given_the_same_draws(mo):
    for w, draws, ref, ref_feats in zip(mo["aug_windows"], mo["aug_draws"], mo["aug_perturbed"], mo["aug_features"]):
        angle, scale, dx, dy = (float(v) for v in draws)
        out = apply_perturbation(jnp.asarray(w), Perturbation(angle, scale, dx, dy))
        _close(out, ref)
        _close(P.features(out, skeleton.get("in-motion-19").parents, mode="reference"), ref_feats)


# ============================================================================ infant-movements (seed 003)
FRAME = (480, 640)


@pytest.mark.parametrize("name", ["pm25", "pm30"])
def test_smartphone_quality_control(inputs, im, name):
    qc = PM.quality_control(inputs[f"{name}_coords"], inputs[f"{name}_likelihood"], 0.2, 70)
    np.testing.assert_array_equal(np.isnan(qc.coords), np.isnan(im[f"{name}_qc"]))
    _close(qc.coords, im[f"{name}_qc"])
    _close(qc.labelled_percent, im[f"{name}_labelled_percent"], 1e-12)
    assert qc.mean_labelled == pytest.approx(float(im[f"{name}_mean_labelled"]), rel=1e-12)
    assert qc.passed == bool(im[f"{name}_include"])
    # the likelihood 0.2 of frame 10 was written from float32, 0.20000000298…: above the cut-off in both
    assert not np.isnan(qc.coords[10, 0]).any() and not np.isnan(qc.coords[11, 0]).any()


@pytest.mark.parametrize("name", ["pm25", "pm30"])
def test_smartphone_alignment_outliers_gaps_normalisation(inputs, im, name):
    fps = float(inputs[f"{name}_fps"])
    _close(PM.align_torso(im[f"{name}_qc"], FRAME, fps), im[f"{name}_aligned"])
    masked, removed = PM.remove_outliers(im[f"{name}_aligned"], FRAME)
    np.testing.assert_array_equal(np.isnan(masked), np.isnan(im[f"{name}_outliers"]))  # the same outlier masks
    assert removed == pytest.approx(float(im[f"{name}_outliers_removed_percent"]), rel=1e-9)
    _close(PM.gap_fill(im[f"{name}_outliers"], fps), im[f"{name}_gapfill"])
    normed, length = PM.size_normalise(im[f"{name}_gapfill"])
    _close(normed, im[f"{name}_sizenorm"])
    assert length == pytest.approx(float(im[f"{name}_infant_length"]), rel=1e-6)
    step = int(im["rows_step"])
    timed = PM.time_normalise(im[f"{name}_sizenorm"])
    _close(timed.reshape(4500, 36)[::step], im[f"{name}_timenorm_rows"])


@pytest.mark.parametrize("name", ["pm25", "pm30"])
def test_smartphone_chain_and_features(inputs, im, name):
    """The whole chain from the DLC values to the 46 features, as infantjax's pipeline runs it."""
    seq = SkeletonSequence(inputs[f"{name}_coords"], float(inputs[f"{name}_fps"]), "passmore-18",
                           inputs[f"{name}_likelihood"])
    out = PM.preprocess_passmore(seq, FRAME)
    step = int(im["rows_step"])
    _close(out.coords.reshape(4500, 36)[::step], im[f"{name}_timenorm_rows"])
    feats = PM.passmore_features(out.coords.astype(np.float64))
    _close(feats[::step], im[f"{name}_features_rows"])


def _keras_variables(im):
    params = {f"conv{i}": {"kernel": im[f"w_conv{i}_kernel"]} for i in (1, 2, 3)}
    stats = {}
    for i in (1, 2, 3):
        params[f"bn{i}"] = {"scale": im[f"w_bn{i}_gamma"], "bias": im[f"w_bn{i}_beta"]}
        stats[f"bn{i}"] = {"mean": im[f"w_bn{i}_mean"], "var": im[f"w_bn{i}_var"]}
    params["dense1"] = {"kernel": im["w_dense1_kernel"], "bias": im["w_dense1_bias"]}
    params["logit"] = {"kernel": im["w_logit_kernel"], "bias": im["w_logit_bias"]}
    # Keras AttentionWithContext keeps W as (units, features): u_s = x · Wᵀ
    params["attention"] = {"W": im["w_attention_W"].T, "b": im["w_attention_b"], "u": im["w_attention_u"]}
    return jax.tree_util.tree_map(jnp.asarray, {"params": params, "batch_stats": stats})


def test_smartphone_network_inference(im):
    variables = _keras_variables(im)
    x = im["net_input"].reshape(2, 4, 46, 128)
    logits, attention = build(PassmoreSpec()).apply(variables, x, train=False)
    _close(logits, im["net_logits"])
    _close(attention, im["net_attention"])


def test_smartphone_training_mode_batch_norm_equals_keras(im):
    """One training-mode pass of the coded batch (8 videos × 1 clip): batch-statistics logits (dropout off) and the
    moving statistics after it equal Keras's fused kernel (unbiased moving variance) to 1e-6."""
    variables = _keras_variables(im)
    x = im["net_input"]
    assert im["net_bn_fused"].all()
    (logits, _), _ = build(PassmoreSpec(dropout=0.0)).apply(variables, x, train=True, mutable=["batch_stats"])
    _close(logits, im["net_train_logits"])
    _, state = build(PassmoreSpec()).apply(variables, x, train=True, mutable=["batch_stats"],
                                           rngs={"dropout": jax.random.PRNGKey(0)})
    _, biased = build(PassmoreSpec(bn_numerics="flax")).apply(variables, x, train=True, mutable=["batch_stats"],
                                                              rngs={"dropout": jax.random.PRNGKey(0)})
    for i, n in zip((1, 2, 3), (8 * 128, 8 * 32, 8 * 8)):
        np.testing.assert_allclose(state["batch_stats"][f"bn{i}"]["mean"], im[f"net_bn{i}_mean_after"], atol=1e-6)
        np.testing.assert_allclose(state["batch_stats"][f"bn{i}"]["var"], im[f"net_bn{i}_var_after"], atol=1e-6)
        # the biased variance (bn_numerics="flax") misses Keras's update by exactly the factor n/(n − 1)
        update = im[f"net_bn{i}_var_after"] - 0.99 * im[f"w_bn{i}_var"]
        np.testing.assert_allclose(biased["batch_stats"][f"bn{i}"]["var"] - 0.99 * im[f"w_bn{i}_var"],
                                   update * (n - 1) / n, rtol=1e-4, atol=2e-7)
