"""The folded EfficientPose inference graph equals the Flax module and the official Keras outputs in every path."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _pose_utils import rt_lite, rt_lite_video  # noqa: F401

from conftest import data_file
from infantjax.errors import ConfigError
from infantjax.models.pose.efficientpose import EfficientPose, EfficientPoseSpec, bilinear_kernel
from infantjax.models.pose.inference import (
    InferenceOptions,
    default_options,
    efficientpose_heatmaps,
    fold_efficientpose,
)
from infantjax.pipelines.pose import PosePredictor

# every execution path of the inference graph
PATHS = [
    InferenceOptions(depthwise="shift", microbatch=1, se_fold=True),
    InferenceOptions(depthwise="shift", microbatch=None, se_fold=False),
    InferenceOptions(depthwise="conv", microbatch=2, se_fold=True),
]


def _random_variables(spec: EfficientPoseSpec, res: int, seed: int = 0):
    """Module variables (host arrays) with He-scaled kernels and non-trivial BatchNorm statistics (so folding is
    exercised).

    Built from the shapes alone (``jax.eval_shape``): initialising the module eagerly costs more than the test.
    """
    model = EfficientPose(spec)
    shapes = jax.eval_shape(model.init, jax.random.PRNGKey(0), jnp.zeros((1, res, res, 3)))
    rng = np.random.default_rng(seed)

    def fill(path, leaf):
        col, name = str(path[0].key), str(path[-1].key)
        if col == "fixed":
            return np.asarray(bilinear_kernel(leaf.shape[-1]) if name == "kernel" else np.zeros(leaf.shape),
                              np.float32)
        if name == "kernel":
            fan_in = int(np.prod(leaf.shape[:-1]))
            value = rng.normal(0.0, 1.0 / np.sqrt(fan_in), leaf.shape)
        elif name == "var":
            value = rng.uniform(0.5, 1.5, leaf.shape)
        elif name == "scale":
            value = rng.normal(1.0, 0.2, leaf.shape)
        else:  # BN bias and mean, conv biases
            value = rng.normal(0.0, 0.2, leaf.shape)
        # host float32 arrays, for the jitted calls (a conversion or a copy to the device compiled one program a shape)
        return np.asarray(value, np.float32)

    return model, jax.tree_util.tree_map_with_path(fill, shapes)


@pytest.mark.parametrize("variant", ["rt", pytest.param("i", marks=pytest.mark.slow), "i_lite",
                                     pytest.param("ii", marks=pytest.mark.slow)])
def test_folded_graph_equals_module(variant):
    """Random weights and BN statistics, odd batch (a padded microbatch): every path equals the module."""
    res = 48
    spec = EfficientPoseSpec(variant, graph="full")
    model, variables = _random_variables(spec, res)
    x = jnp.asarray(np.random.default_rng(1).normal(size=(3, res, res, 3)).astype(np.float32))
    want = np.asarray(jax.jit(lambda v, x: model.apply(v, x)["heatmaps"])(variables, x))
    folded = jax.jit(fold_efficientpose, static_argnums=0)(spec, variables)
    scale = np.abs(want).max()
    assert scale > 1e-3  # a non-degenerate output
    for opts in PATHS if variant == "rt" else PATHS[:1]:
        got = np.asarray(jax.jit(functools.partial(efficientpose_heatmaps, spec=spec, options=opts))(folded, x))
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, atol=1e-5 * max(1.0, scale), rtol=0, err_msg=str(opts))


def test_fold_is_batchnorm_exactly():
    """conv → BN(inference) equals the folded kernel and bias on a single 1×1 layer, to float32 rounding."""
    spec = EfficientPoseSpec("rt", graph="deployment")
    _, variables = _random_variables(spec, 32)
    folded = jax.jit(fold_efficientpose, static_argnums=0)(spec, variables)  # as the predictor folds (eagerly ~100)
    p, s = variables["params"], variables["batch_stats"]
    name = "pass2_block1_mbconv1_detection1_conv1"
    x = np.random.default_rng(2).normal(size=(7, 160)).astype(np.float64)
    k = np.asarray(p[name]["kernel"], np.float64)[0, 0]
    bn, st = p[f"{name}_bn"], s[f"{name}_bn"]
    want = (x @ k - np.asarray(st["mean"])) / np.sqrt(np.asarray(st["var"], np.float64) + 1e-3) \
        * np.asarray(bn["scale"]) + np.asarray(bn["bias"])
    f = folded["passes"]["pass2_block1_mbconv1_detection1"]["conv1"]
    np.testing.assert_allclose(x @ np.asarray(f["kernel"], np.float64) + np.asarray(f["bias"]), want,
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["RT", pytest.param("I", marks=[pytest.mark.slow, pytest.mark.reference])])
def test_official_outputs_every_path(name):
    """Official weights on the official input: every inference path reproduces the Keras heatmaps to 1e-4.

    The predictor's default path (``PATHS[0]`` on CPU) is held to them for all four official files by
    tests/test_pose_weights.py; here the other paths."""
    ref = np.load(data_file(f"efficientpose/reference/{name}_mpii.npz"))
    p = PosePredictor.from_keras_h5(data_file(f"efficientpose/keras/EfficientPose{name}.h5"))
    want = ref["upscaled_confs"][0].transpose(1, 2, 0)
    x = jnp.asarray(np.concatenate([ref["input_nhwc"], ref["input_nhwc"][:, ::-1]]))  # batch 2
    folded = p.inference_variables()
    for opts in PATHS[1:]:
        got = np.asarray(jax.jit(functools.partial(efficientpose_heatmaps, spec=p.spec, options=opts))(folded, x))
        np.testing.assert_allclose(got[0], want, atol=1e-4, rtol=0, err_msg=str(opts))


def test_predictor_refolds_when_variables_change(data_dir):
    p = PosePredictor.from_keras_h5(data_dir / "efficientpose" / "keras" / "EfficientPoseRT_LITE.h5")
    first = p.inference_variables()
    assert p.inference_variables() is first  # cached
    p.variables = jax.tree_util.tree_map(np.array, p.variables)  # new arrays, equal values (copied on the host)
    assert p.inference_variables() is not first


def test_options_are_validated():
    with pytest.raises(ConfigError, match="depthwise"):
        InferenceOptions(depthwise="fft")
    with pytest.raises(ConfigError, match="microbatch"):
        InferenceOptions(microbatch=0)
    assert default_options("cpu").microbatch == 2
    assert default_options("gpu").depthwise == "conv"


@pytest.fixture(scope="module")
def mpii(data_dir):
    from PIL import Image

    return np.asarray(Image.open(data_dir / "efficientpose" / "MPII.jpg").convert("RGB"))


def test_device_preprocessing_matches_host_to_one_grey_level(mpii):
    """The float32 in-graph rescale equals the float64 SciPy one except for uint8 truncations of near-integers."""
    from infantjax.models.pose.device_ops import frame_geometry, preprocess_frames
    from infantjax.preprocess.image import TORCH_STD, preprocess

    for crop in (mpii, np.ascontiguousarray(mpii[100:800, 50:1000])):
        g = frame_geometry(*crop.shape[:2], 224)
        got = np.asarray(jax.jit(lambda f, g=g: preprocess_frames(f, g, "torch"))(crop[None]))[0]
        want = preprocess(crop, 224, "torch")
        grey = np.abs(got - want) * np.asarray(TORCH_STD) * 255.0
        assert grey.max() < 1.0 + 1e-3  # never more than one grey level
        assert np.mean(grey > 0.5) < 0.35  # the reference's near-integer values (flat regions) truncate either way


def test_device_decoding_equals_host_decoding():
    """In-graph blur + first argmax equals the SciPy decoding (offline and real time) on smooth heatmaps."""
    from infantjax.models.pose.decode import decode_heatmaps
    from infantjax.models.pose.device_ops import decode_peaks

    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[0:64, 0:64]
    hms = np.zeros((2, 64, 64, 5), np.float32)
    for n in range(2):
        for k in range(5):
            cy, cx, s = rng.uniform(5, 59), rng.uniform(5, 59), rng.uniform(1.5, 4)
            hms[n, :, :, k] = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * s * s)) * rng.uniform(0.2, 1)
    hms += rng.normal(0, 0.01, hms.shape).astype(np.float32)
    for real_time in (False, True):
        rc, _, peak = (np.asarray(a) for a in jax.jit(lambda h, rt=real_time: decode_peaks(h, rt))(hms))
        for n in range(2):
            want = decode_heatmaps(hms[n], (64, 64), real_time=real_time)
            got = np.stack([(rc[n, :, 1] + 0.5) / 64, (rc[n, :, 0] + 0.5) / 64], -1)
            if real_time:
                got[peak[n] < 0.3] = -0.5 / 64
            np.testing.assert_array_equal(got, want)
            np.testing.assert_array_equal(peak[n], hms[n].reshape(-1, 5).max(0))


def test_device_first_maximum_ties_and_small_maps():
    """Ties resolve to the first maximum in row-major order (as np.argmax), and the in-graph blur equals SciPy's
    'reflect' Gaussian also where the map is shorter than the filter radius."""
    from scipy import ndimage as ndi

    from infantjax.models.pose.device_ops import _blur_axis, _first_maximum, _gaussian_taps

    rng = np.random.default_rng(5)
    h = rng.integers(0, 3, size=(3, 7, 6, 4)).astype(np.float32)  # many ties at the maximum 2
    row, col, peak = (np.asarray(a) for a in jax.jit(_first_maximum)(h))
    for n in range(3):
        for k in range(4):
            flat = int(np.argmax(h[n, :, :, k]))
            assert (row[n, k], col[n, k]) == divmod(flat, 6)
            assert peak[n, k] == h[n, :, :, k].max()
    taps = _gaussian_taps()
    for size in (3, 4, 9, 12):
        m = rng.normal(size=(1, size, size + 1, 2)).astype(np.float32)
        got = np.asarray(jax.jit(lambda x: _blur_axis(_blur_axis(x, 1, taps), 2, taps))(m))
        want = ndi.gaussian_filter(m.astype(np.float64), (0, 1, 1, 0), mode="reflect", truncate=4.0)
        np.testing.assert_allclose(got, want, atol=1e-5)


def test_fast_keypoints_close_to_official(data_dir, mpii):
    """The fast path (in-graph preprocessing and decoding) on the official image: keypoints within 1.5 % of the
    image size of the official ones (the official decoding's resolution is 1/R = 0.45 % of it)."""
    ref = np.load(data_dir / "efficientpose" / "reference" / "RT_mpii.npz")
    p = PosePredictor.from_keras_h5(data_dir / "efficientpose" / "keras" / "EfficientPoseRT.h5")
    xy, conf = p.keypoints_frames(mpii[None])
    assert np.abs(xy[0] - ref["keypoints_xy"]).max() < 0.015
    xy_rt, _ = p.keypoints_frames(mpii[None], real_time=True)
    assert np.abs(xy_rt[0] - ref["keypoints_xy_realtime"]).max() < 0.015
    _, conf_host = p.keypoints_batch(mpii[None])
    np.testing.assert_allclose(conf, conf_host, atol=5e-3)


@pytest.mark.needs("av")
def test_fast_track_agrees_with_exact_track(rt_lite, rt_lite_video):
    """track(fast=True) gives the same sequence shape, and keypoints near the exact path's, on a rendered video."""
    path, _ = rt_lite_video
    exact = rt_lite.track(path, batch_size=2, progress=False, max_frames=5)  # its first 5 frames
    fast = rt_lite.track(path, batch_size=2, progress=False, fast=True, max_frames=5)
    assert fast.coords.shape == exact.coords.shape == (5, 16, 2)
    assert fast.metadata == exact.metadata and fast.fps == exact.fps
    err = np.linalg.norm(fast.coords - exact.coords, axis=-1)
    assert np.median(err) < 1.0 and np.mean(err < 2.0) > 0.9  # pixels of a 128-pixel-wide frame
    np.testing.assert_allclose(fast.confidence, exact.confidence, atol=0.02)
