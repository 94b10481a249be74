"""One trained-model base (infantjax.infer.trained): every family saves and loads the same versioned folder, folders
of the older formats still load and predict what they predicted, and stacked inference shares inputs between
instances instead of copying them."""

from __future__ import annotations

import json
import shutil

import jax
import numpy as np
import pytest
from conftest import LOCAL

from infantjax import parallel
from infantjax.errors import CheckpointError
from infantjax.infer.trained import FORMAT, FORMAT_VERSION, HEADER, TrainedModel

LEGACY = LOCAL / "legacy-models"


@pytest.fixture(scope="module")
def expected():
    with np.load(LEGACY / "expected.npz") as data:
        return {k: data[k] for k in data.files}


def _ensemble(path):
    from infantjax import ensemble

    return ensemble.Ensemble.load(path)


def _sma(path):
    from infantjax.pipelines.sma import SMAModel

    return SMAModel.load(path)


def _smartphone(path):
    from infantjax.pipelines.passmore import SmartphoneModel

    return SmartphoneModel.load(path)


def _mam(path):
    from infantjax.pipelines.mam import MamModel

    return MamModel.load(path)


def _predictions(name, model, expected):
    if name == "ensemble":
        return model.window_predictions(expected["ensemble_windows"])[0], expected["ensemble_probabilities"]
    if name == "sma":
        return model.predict([expected["sma_tracks"]]).mean, expected["sma_mean"]
    if name == "smartphone":
        return model.predict(expected["smartphone_features"]).probability, expected["smartphone_probability"]
    recordings = [expected["mam_recording0"], expected["mam_recording1"]]
    return model.predict(recordings).risk, expected["mam_risk"]


FAMILIES = {"ensemble": _ensemble, "sma": _sma, "smartphone": _smartphone, "mam": _mam}


@pytest.mark.parametrize("name", list(FAMILIES))
def test_version_1_folders_load_and_predict_as_before(name, expected, tmp_path):
    model = FAMILIES[name](LEGACY / f"{name}-v1")
    assert isinstance(model, TrainedModel) and model.num_instances == 2
    got, want = _predictions(name, model, expected)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    # saved again: the common format, version 2, the same predictions
    folder = model.save(tmp_path / name)
    header = json.loads((folder / HEADER).read_text())
    assert header["format"] == FORMAT and header["format_version"] == FORMAT_VERSION
    assert header["kind"] == model.kind and header["instances"] == 2 and (folder / "variables").is_dir()
    again = FAMILIES[name](folder)
    np.testing.assert_allclose(_predictions(name, again, expected)[0], want, rtol=1e-5, atol=1e-6)


def test_other_versions_and_kinds_are_refused_with_a_typed_error(tmp_path):
    folder = _sma(LEGACY / "sma-v1").save(tmp_path / "sma")
    header = json.loads((folder / HEADER).read_text())
    for version, words in ((FORMAT_VERSION + 1, "newer infantjax"), (0, "positive integer"), ("2", "positive")):
        bad = tmp_path / f"v{version}"
        shutil.copytree(folder, bad)
        (bad / HEADER).write_text(json.dumps({**header, "format_version": version}))
        with pytest.raises(CheckpointError, match=words):
            _sma(bad)
    with pytest.raises(CheckpointError, match="not a MAM model.*soran-sma"):
        _mam(folder)
    with pytest.raises(CheckpointError, match="model.json is missing"):
        _sma(tmp_path / "nowhere")


def test_an_unknown_older_version_names_it():
    from infantjax.pipelines.sma import SMAModel

    with pytest.raises(CheckpointError, match="format version 7"):
        SMAModel.upgrade({"spec": {}}, 7)


def test_shared_inputs_are_not_copied_per_instance():
    """The instances of a stack read one copy of the shared inputs: the compiled call's arguments are the
    variables plus the inputs once, however many instances there are."""
    from infantjax.infer.predict import StackedPredictor

    def fn(variables, x):
        return x.reshape(x.shape[0], -1) @ variables["w"]

    mesh = parallel.instance_mesh(1, devices=jax.devices()[:1])
    x = np.ones((64, 1024), np.float32)
    sizes = {}
    for count in (1, 16):
        predictor = StackedPredictor(fn, {"w": np.ones((count, 1024, 1), np.float32)}, mesh=mesh)
        template = jax.ShapeDtypeStruct(x.shape[1:], x.dtype)
        analysis = predictor.executable(64, template).memory_analysis()
        sizes[count] = analysis.argument_size_in_bytes - count * 1024 * 4  # less the variables
        out = predictor(x)
        assert out.shape == (count, 64, 1)
        np.testing.assert_allclose(out, 1024.0)
    assert sizes[16] == sizes[1] == x.nbytes


def test_pose_predictor_saves_the_common_folder_and_reads_the_zoo_network(tmp_path):
    """The pose predictor is a trained model of one instance: a folder round trip keeps its weights and info; the
    zoo's network-level reader gives spec, variables and skeleton by name."""
    from infantjax.pipelines.pose import PosePredictor, pretrained_network

    weights = pretrained_network("rt-synthetic-infant")
    assert weights.skeleton == "in-motion-19" and weights.spec.variant == "rt" and "params" in weights.variables
    shipped = PosePredictor.pretrained("rt-synthetic-infant")
    folder = shipped.save(tmp_path / "pose")
    header = json.loads((folder / HEADER).read_text())
    assert header["kind"] == "pose" and header["instances"] == 1 and header["skeleton"] == "in-motion-19"
    again = PosePredictor.load(folder)
    assert again.info == shipped.info and again.spec == shipped.spec
    for a, b in zip(jax.tree_util.tree_leaves(shipped.variables), jax.tree_util.tree_leaves(again.variables)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    image = np.random.default_rng(0).integers(0, 255, (64, 48, 3), np.uint8)
    np.testing.assert_allclose(again.keypoints(image), shipped.keypoints(image))


def test_pose_predictor_writes_the_common_file_and_reads_its_older_one(tmp_path):
    """A pose ``.npz`` is the common single file (``__header__``, kind ``pose``); a file of the pose predictor's
    older format (``__meta__``: the shipped zoo's, written here as the previous version wrote it) still loads, by
    the class and by ``infantjax.load``, to the same network."""
    import infantjax
    from infantjax.infer.pose import LEGACY_FORMAT, PosePredictor
    from infantjax.infer.store import flatten_tree
    from infantjax.infer.trained import NPZ_HEADER

    shipped = PosePredictor.pretrained("rt-synthetic-infant")
    file = shipped.save(tmp_path / "pose.npz", dtype="float16")
    with np.load(file, allow_pickle=False) as data:
        header = json.loads(str(data[NPZ_HEADER]))
        assert "__meta__" not in data.files
    assert header["format"] == FORMAT and header["kind"] == "pose" and header["skeleton"] == "in-motion-19"
    old = tmp_path / "old.npz"
    flat = {k: np.asarray(v, np.float16) for k, v in flatten_tree(jax.device_get(shipped.variables)).items()}
    meta = {"format": LEGACY_FORMAT, "spec": shipped.spec.to_dict(), "skeleton": "in-motion-19", "dtype": "float16",
            "info": {"note": "old"}}
    np.savez(old, __meta__=np.array(json.dumps(meta)), **flat)
    want = jax.tree_util.tree_leaves(shipped.variables)  # float16 values already: every file keeps them exactly
    for path in (file, old):
        for loaded in (PosePredictor.load(path), infantjax.load(path)):
            assert type(loaded) is PosePredictor and loaded.spec == shipped.spec
            assert loaded.skeleton.name == "in-motion-19"
            for a, b in zip(want, jax.tree_util.tree_leaves(loaded.variables), strict=True):
                np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert infantjax.load(old).info == {"note": "old"} and infantjax.load(file).info == shipped.info


def test_depth_model_saves_loads_and_predicts_the_pipeline(tmp_path):
    """Seed 004's detection + regression + linking as a trained model: the folder round trip predicts what the
    pipeline's own function does."""
    from infantjax.models.depth import DetectionSpec, RegressionSpec, init_variables
    from infantjax.models.depth.linking import LinkConfig
    from infantjax.pipelines.depth import DepthModel, estimate_limb_pose

    detection, regression = DetectionSpec(widths=(4, 8, 8)), RegressionSpec("asymmetric", widths=(4, 4, 4, 4),
                                                                             head_width=4)
    clips = np.random.default_rng(0).normal(size=(2, 3, 16, 16, 1)).astype(np.float32)
    key = jax.random.key(0, impl="rbg")
    variables = {"detection": init_variables(detection.build(), key, clips[:1]),
                 "regression": init_variables(regression.build(), key, np.zeros((1, 3, 16, 16, 21), np.float32))}
    link = LinkConfig(threshold=0.0, smooth=0.0, radius=0.0)
    model = DepthModel(detection, regression, variables, link=link, clip_shape=(3, 16, 16))
    want = estimate_limb_pose(detection.build(), variables["detection"], regression.build(), variables["regression"],
                              clips, link_config=link)
    loaded = DepthModel.load(model.save(tmp_path / "depth"))
    assert loaded.link == link and loaded.clip_shape == (3, 16, 16) and loaded.num_instances == 1
    got = loaded.predict(clips)
    np.testing.assert_allclose(got.keypoints, want[0])
    np.testing.assert_allclose(got["confidence"], want[1])
