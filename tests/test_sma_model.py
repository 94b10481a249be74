"""The seed 000 CNN (Table 1): every top shape, the parameter count, Caffe's ceil-mode pooling, the per-recording
aggregations (Table 3) against NumPy, and the limb-track windows and correlation features."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _sma_utils import numpy_variables

from infantjax.errors import ConfigError, DataError
from infantjax.models import build, count_parameters
from infantjax.models.sma import (
    PARAMETERS,
    TOP_SHAPES,
    SMASpec,
    aggregate_recording,
    aggregate_recordings,
    ceil_pool_padding,
    fc_kernels,
    init_variables,
    quartile_mean,
    top_shapes,
)
from infantjax.preprocess.sma import correlation_features, limb_windows, standardise, window_count


def test_table1_top_shapes_by_tracing_the_exact_network():
    spec = SMASpec()
    model = build(spec)
    x = jax.ShapeDtypeStruct((1, 900, 4, 3), jnp.float32)
    variables = jax.eval_shape(lambda k: model.init(k, jnp.zeros((1, 900, 4, 3))), jax.random.PRNGKey(0))
    score, tops = jax.eval_shape(lambda v, x: model.apply(v, x, capture=True), variables, x)
    # channels-last (N, H, W, C) → Table 1's C × H × W
    assert [(t.shape[3], t.shape[1], t.shape[2]) for t in tops] == list(TOP_SHAPES)
    assert TOP_SHAPES == ((48, 4, 300), (48, 4, 150), (128, 4, 150), (128, 4, 75), (256, 4, 69), (256, 4, 34))
    assert top_shapes(spec) == TOP_SHAPES
    assert score.shape == (1,)


def arithmetic_count(spec: SMASpec) -> int:
    """The parameters of the network by Table 1's arithmetic (what the coded network must have)."""
    flat = math.prod(top_shapes(spec)[-1])
    return (9 * spec.conv1 + spec.conv1) + (9 * spec.conv1 * spec.conv2 + spec.conv2) + \
        (7 * spec.conv2 * spec.conv3 + spec.conv3) + (flat * spec.fc + spec.fc) + (spec.fc + 1)


def test_parameter_count_of_table1():
    spec = SMASpec()
    assert count_parameters(spec) == PARAMETERS == 35_939_169
    assert arithmetic_count(spec) == PARAMETERS
    shapes = jax.eval_shape(lambda k: build(spec).init(k, jnp.zeros((1, 900, 4, 3))), jax.random.PRNGKey(0))
    p = shapes["params"]

    def size(layer):
        return sum(math.prod(v.shape) for v in p[layer].values())

    assert [size(n) for n in ("conv1", "conv2", "conv3", "fc1", "fc2")] == [480, 55_424, 229_632, 35_652_608, 1_025]
    assert [k.shape for k in fc_kernels(p)] == [(256 * 4 * 34, 1024), (1024, 1)]


def test_narrow_spec_keeps_the_geometry_and_counts_by_arithmetic():
    spec = SMASpec.narrow()
    assert [s[1:] for s in top_shapes(spec)] == [s[1:] for s in TOP_SHAPES]
    assert count_parameters(spec) == arithmetic_count(spec)


def test_ceil_mode_pooling_matches_caffe_arithmetic():
    for length in (300, 150, 69, 5, 3, 4):
        out = math.ceil((length - 3) / 2) + 1
        assert (length + ceil_pool_padding(length, 3, 2) - 3) // 2 + 1 == out
    # the last window of 69 starts at 66 and covers 66..68 (no padding needed); 150 needs one padded column
    assert ceil_pool_padding(69, 3, 2) == 0 and ceil_pool_padding(150, 3, 2) == 1


def test_padded_pool_column_never_wins_and_image_rows_are_limb_axis():
    spec = SMASpec.narrow(window=108, dropout=0.0)
    model = build(spec)
    x = -np.abs(np.asarray(jax.random.normal(jax.random.PRNGKey(1), (2, 108, 4, 3)))) - 5.0
    variables = numpy_variables(spec)
    _, tops = jax.jit(lambda v, x: model.apply(v, x, capture=True))(variables, x)
    assert np.isfinite(np.asarray(tops[1])).all()  # −inf padding never reaches the output
    # conv1 sees rows 3·limb + axis: a window that only moves limb 0's x reaches only the first output row
    k = np.asarray(variables["params"]["conv1"]["kernel"])  # (3, 3, 1, C)
    img = np.transpose(x, (0, 2, 3, 1)).reshape(2, 12, 108)
    expected = np.einsum("nhw,hwc->nc", img[:, 0:3, 0:3], k[:, :, 0, :]) + np.asarray(
        variables["params"]["conv1"]["bias"])
    np.testing.assert_allclose(np.asarray(tops[0])[:, 0, 0, :], np.maximum(expected, 0), rtol=1e-5, atol=1e-5)


def test_xavier_initialisation_from_one_draw():
    spec = SMASpec.narrow(fc=256)
    v = init_variables(spec, jax.random.PRNGKey(3))
    module_init = jax.eval_shape(lambda k: build(spec).init(k, jnp.zeros((1, 900, 4, 3))), jax.random.PRNGKey(0))
    assert jax.tree_util.tree_map(lambda a: a.shape, v) == jax.tree_util.tree_map(lambda a: a.shape, module_init)
    k = np.asarray(v["params"]["fc1"]["kernel"])  # fan-in 16·4·34 = 2176
    assert np.abs(k).max() <= np.sqrt(3 / 2176) * (1 + 1e-6)
    assert k.var() == pytest.approx(1 / 2176, rel=0.02)
    assert not np.any(np.asarray(v["params"]["conv2"]["bias"]))


def test_spec_rejects_bad_values():
    with pytest.raises(ConfigError, match="conv1"):
        SMASpec(conv1=0)
    with pytest.raises(ConfigError, match="too short"):
        SMASpec(window=20)
    with pytest.raises(ConfigError, match="dropout"):
        SMASpec(dropout=1.0)


# ------------------------------------------------------------------------------------------------ aggregation
SCORES = np.array([30.0, 31.5, 29.0, 33.0, 30.5, 70.0, 28.5, 32.0, 31.0, 2.0])


def test_aggregations_match_numpy_on_fixed_numbers():
    assert aggregate_recording(SCORES, "mean") == pytest.approx(SCORES.mean()) == pytest.approx(31.75)
    assert aggregate_recording(SCORES, "median") == pytest.approx(np.median(SCORES)) == pytest.approx(30.75)
    q1, q3 = np.percentile(SCORES, [25, 75])  # linear interpolation: 29.25, 31.875
    assert (q1, q3) == pytest.approx((29.25, 31.875))
    lo, hi = q1 - 1.5 * (q3 - q1), q3 + 1.5 * (q3 - q1)  # 25.3125 .. 35.8125: 70 and 2 are outliers
    kept = SCORES[(SCORES >= lo) & (SCORES <= hi)]
    assert len(kept) == 8
    assert aggregate_recording(SCORES, "quartile") == pytest.approx(kept.mean()) == pytest.approx(30.6875)
    assert quartile_mean(SCORES) == pytest.approx(30.6875)


def test_aggregate_recordings_groups_by_recording():
    scores = np.concatenate([SCORES, [10.0, 12.0, 14.0]])
    recs = np.array([7] * 10 + [3] * 3)
    ids, out = aggregate_recordings(scores, recs, "quartile")
    assert ids.tolist() == [7, 3]
    np.testing.assert_allclose(out, [30.6875, 12.0])
    with pytest.raises(ConfigError, match="aggregation"):
        aggregate_recording(SCORES, "mode")
    with pytest.raises(DataError, match="finite"):
        aggregate_recording([1.0, np.nan], "mean")


# ------------------------------------------------------------------------------------------------ windows
def _tracks(frames, seed=0):
    return np.random.default_rng(seed).normal(size=(frames, 4, 3)).astype(np.float32)


def test_windows_of_a_two_minute_recording():
    assert window_count(3600) == 55  # (3600 − 900)/50 + 1
    w = limb_windows(_tracks(3600))
    assert w.shape == (55, 900, 4, 3) and w.dtype == np.float32
    t = standardise(_tracks(3600))
    np.testing.assert_allclose(w[1], t[50:950], atol=1e-6)
    np.testing.assert_allclose(t.reshape(3600, 12).mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(t.reshape(3600, 12).std(0), 1, atol=1e-4)


def test_lost_frames_are_dropped_before_windowing():
    x = _tracks(1000)
    x[10:40, 2, :] = np.nan  # a hand under the head for 30 frames
    w = limb_windows(x, standardize=False)
    kept = np.concatenate([x[:10], x[40:]])
    assert w.shape == (2, 900, 4, 3)
    np.testing.assert_array_equal(w[1], kept[50:950])


def test_windows_reject_bad_tracks():
    with pytest.raises(DataError, match="5 limbs"):
        limb_windows(np.zeros((1000, 5, 3)))
    with pytest.raises(DataError, match="2 coordinates"):
        limb_windows(np.zeros((1000, 4, 2)))
    with pytest.raises(DataError, match="fewer than one window"):
        limb_windows(_tracks(899))
    x = _tracks(1000)
    x[::2, 0, 0] = np.nan
    with pytest.raises(DataError, match="fewer than one window"):
        limb_windows(x)
    x = _tracks(1000)
    x[3, 1, 1] = np.inf
    with pytest.raises(DataError, match="infinite"):
        limb_windows(x)


def test_correlation_features_against_numpy():
    w = np.random.default_rng(2).normal(size=(3, 50, 4, 3))
    w[1, :, 1] = w[1, :, 0]  # two limbs moving together
    f = correlation_features(w)
    expected = np.array([[np.mean([np.corrcoef(w[n, :, i, a], w[n, :, j, a])[0, 1]
                                   for i in range(4) for j in range(i + 1, 4)]) for a in range(3)]
                         for n in range(3)])
    np.testing.assert_allclose(f, expected, atol=1e-12)
    with pytest.raises(DataError, match="NaN"):
        correlation_features(np.full((1, 10, 4, 3), np.nan))


def test_strided_max_pool_equals_flax_max_pool_in_ceil_mode():
    import flax.linen as nn

    from infantjax.models.sma.network import _max_pool

    x = np.random.default_rng(0).normal(size=(2, 4, 300, 3)).astype(np.float32)
    for width in (300, 150, 69):
        pad = ceil_pool_padding(width, 3, 2)
        expected = nn.max_pool(jnp.asarray(x[:, :, :width]), (1, 3), strides=(1, 2), padding=((0, 0), (0, pad)))
        np.testing.assert_array_equal(_max_pool(jnp.asarray(x[:, :, :width]), 3, 2), expected)
