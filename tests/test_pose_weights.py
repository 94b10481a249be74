"""Official EfficientPose weights: the Flax port reproduces the official outputs on MPII.jpg (README §1–4)."""

from __future__ import annotations

import json

import h5py
import jax
import numpy as np
import pytest
from PIL import Image

from infantjax.errors import DataError, WeightsError
from infantjax.io.weights import load_efficientpose_h5
from infantjax.models.pose.decode import decode_heatmaps, undo_padding
from infantjax.pipelines.pose import PosePredictor
from infantjax.preprocess.image import preprocess

from conftest import data_file

FILES = {"RT": "rt", "I": "i", "RT_LITE": "rt_lite", "I_LITE": "i_lite"}
#: RT and RT Lite ship in tests/data; I and I Lite are read from the shared folder (``reference``).
NAMES = [name if name.startswith("RT") else pytest.param(name, marks=pytest.mark.reference) for name in sorted(FILES)]


def h5(name: str):
    return data_file(f"efficientpose/keras/EfficientPose{name}.h5")


@pytest.fixture(scope="module")
def mpii(data_dir):
    return np.asarray(Image.open(data_dir / "efficientpose" / "MPII.jpg").convert("RGB"))


@pytest.fixture(scope="module")
def predictors():
    """Predictors loaded on first use (a user's clone has only the RT files)."""
    cache: dict[str, PosePredictor] = {}

    class Lazy(dict):
        def __missing__(self, name):
            cache[name] = PosePredictor.from_keras_h5(h5(name))
            return cache[name]

    return Lazy()


@pytest.mark.parametrize("name", NAMES)
def test_variant_recognised_from_file(name):
    w = load_efficientpose_h5(h5(name))
    assert w.variant == FILES[name]
    assert w.num_keypoints == 16
    assert w.graph == ("deployment" if "LITE" in name else "full")
    assert (w.num_pafs is None) == ("LITE" in name)


@pytest.mark.parametrize("name", NAMES)
def test_official_outputs_on_mpii(mpii, predictors, name):
    """Input exactly, upscaled heatmaps to 1e-4, keypoints (offline and real-time) exactly."""
    ref = np.load(data_file(f"efficientpose/reference/{name}_mpii.npz"))
    p = predictors[name]
    assert p.resolution == int(ref["resolution"])
    x = p.preprocess(mpii)
    np.testing.assert_array_equal(x, ref["input_nhwc"][0])
    hm = p.heatmaps(mpii)
    assert hm.dtype == np.float32 and hm.shape == (p.resolution, p.resolution, 16)
    np.testing.assert_allclose(hm, ref["upscaled_confs"][0].transpose(1, 2, 0), atol=1e-4, rtol=0)
    np.testing.assert_array_equal(p.keypoints(mpii), ref["keypoints_xy"])
    np.testing.assert_array_equal(p.keypoints(mpii, real_time=True), ref["keypoints_xy_realtime"])
    h, w = ref["image_hw"]
    np.testing.assert_allclose(p.keypoints(mpii) * [w, h], ref["keypoints_px"], rtol=0, atol=1e-9)
    assert list(p.skeleton.keypoints) == [str(b) for b in ref["body_parts"]]


def test_intermediate_passes_match(data_dir, mpii, predictors):
    """PAFs and pass-2/pass-3 heatmaps of RT match the official NCHW outputs too."""
    ref = np.load(data_dir / "efficientpose" / "reference" / "RT_mpii.npz")
    p = predictors["RT"]
    out = jax.jit(p.model.apply)(p.variables, ref["input_nhwc"])  # one program (eagerly: ~235, one per op)
    for key, rkey in [("pafs", "pass1_pafs"), ("pass2", "pass2_confs"), ("pass3", "pass3_confs")]:
        np.testing.assert_allclose(np.asarray(out[key][0]), ref[rkey][0].transpose(1, 2, 0), atol=1e-4, rtol=0)


@pytest.mark.parametrize("crop", [(slice(100, 800), slice(None)), (slice(None), slice(150, 700))])
def test_non_square_preprocessing_geometry(mpii, crop):
    """A landscape/portrait crop is rescaled so the long side is R and centred with zero padding (README §1)."""
    img = np.ascontiguousarray(mpii[crop])
    h, w = img.shape[:2]
    r = 224
    x = preprocess(img, r, "tf")
    long, short = max(h, w), min(h, w)
    content = round(short * r / long)
    lead = (r - content) // 2
    zero = np.float32(-1.0)  # 'tf' normalisation of a zero pixel
    if w > h:  # landscape: rows padded
        assert (x[:lead] == zero).all() and (x[lead + content:] == zero).all()
        assert not (x[lead] == zero).all() and not (x[lead + content - 1] == zero).all()
    else:
        assert (x[:, :lead] == zero).all() and (x[:, lead + content:] == zero).all()
        assert not (x[:, lead] == zero).all()


@pytest.mark.parametrize("hw", [(700, 1024), (1024, 550), (333, 500)])
def test_non_square_decoding_geometry(hw):
    """A peak placed where image point (u, v) lands in the padded input decodes back to (u, v) within 1 px of R."""
    h, w = hw
    r = 256
    long = max(h, w)
    rng = np.random.default_rng(0)
    for _ in range(5):
        u, v = rng.uniform(0.1, 0.9, size=2)
        # image fraction -> padded-input fraction (inverse of undo_padding)
        p = (long - min(h, w)) / (2 * long)
        px, py = u, v
        if w > h:
            py = p + v * (1 - 2 * p)
        elif h > w:
            px = p + u * (1 - 2 * p)
        hm = np.zeros((r, r, 1), np.float32)
        hm[int(py * r), int(px * r), 0] = 1.0
        xy = decode_heatmaps(hm, (h, w))
        assert abs(xy[0, 0] - u) <= 1.0 / r / (1 - 2 * p if h > w else 1) + 1e-9
        assert abs(xy[0, 1] - v) <= 1.0 / r / (1 - 2 * p if w > h else 1) + 1e-9
    assert undo_padding(np.array([[0.0, 0.0]]), (h, w), r).min() >= -0.5 / r


@pytest.mark.reference
def test_non_square_keypoints_consistent_with_full_image(mpii, predictors):
    """Keypoints on a crop agree with the full-image keypoints mapped into the crop (same person, same net)."""
    p = predictors["I"]
    full = p.keypoints(mpii) * [1024, 1024]
    top, bottom = 0, 900
    crop = np.ascontiguousarray(mpii[top:bottom, 112:912])  # portrait 900 x 800 containing the person
    kp = p.keypoints(crop) * [800, 900] + [112, top]
    err = np.linalg.norm(kp - full, axis=1)
    assert np.median(err) < 25.0  # pixels in a 1024 image (the network sees a different context/scale)


def test_real_time_missing_below_threshold():
    hm = np.full((32, 32, 2), 0.1, np.float32)
    hm[5, 7, 1] = 0.9
    xy = decode_heatmaps(hm, (32, 32), real_time=True)
    np.testing.assert_allclose(xy[0], [-0.5 / 32, -0.5 / 32])
    np.testing.assert_allclose(xy[1], [7.5 / 32, 5.5 / 32])


def test_bad_images_are_clear_errors(predictors):
    p = predictors["RT_LITE"]
    with pytest.raises(DataError, match="H, W, 3"):
        p.heatmaps(np.zeros((64, 64), np.uint8))
    with pytest.raises(DataError, match="uint8"):
        p.heatmaps(np.zeros((64, 64, 3), np.float32))
    with pytest.raises(DataError, match="3 colour channels"):
        p.heatmaps(np.zeros((64, 64, 4), np.uint8))
    with pytest.raises(DataError):
        p.keypoints("not an image")


def test_non_efficientpose_h5_is_rejected(tmp_path):
    plain = tmp_path / "plain.h5"
    with h5py.File(plain, "w") as f:
        f["x"] = np.zeros(3)
    with pytest.raises(WeightsError, match="not a Keras model"):
        load_efficientpose_h5(plain)
    keras = tmp_path / "other_keras.h5"
    with h5py.File(keras, "w") as f:
        f.attrs["model_config"] = json.dumps({"class_name": "Model", "config": {"layers": [
            {"class_name": "Dense", "config": {"name": "dense_1"}, "inbound_nodes": []}]}})
        f.create_group("model_weights")
    with pytest.raises(WeightsError, match="not EfficientPose"):
        PosePredictor.from_keras_h5(keras)
    text = tmp_path / "text.h5"
    text.write_text("hello")
    with pytest.raises(WeightsError, match="not an HDF5 file"):
        load_efficientpose_h5(text)
    with pytest.raises(WeightsError, match="does not exist"):
        load_efficientpose_h5(tmp_path / "missing.h5")


def test_save_and_load_round_trip(tmp_path, mpii, predictors):
    p = predictors["RT_LITE"]
    p.save(tmp_path / "rt_lite.npz")
    q = PosePredictor.load(tmp_path / "rt_lite.npz")
    assert q.spec == p.spec and q.skeleton.name == "mpii-16"
    np.testing.assert_array_equal(q.keypoints(mpii), p.keypoints(mpii))
