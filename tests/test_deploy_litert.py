"""LiteRT: the pose predictor, the smartphone model and a GCN stack through jax2tf → SavedModel → the TFLite
converter, run by the LiteRT interpreter and held to the same bounds as the other formats. Needs the optional extra
``litert`` (TensorFlow), which the default and test installs never bring: these tests are ``slow`` and run where the
extra is installed (``.ci/run`` adds the extra to its test environment for them, last)."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

from conftest import data_file
from test_deploy import check_smartphone_outputs

pytestmark = pytest.mark.slow

if os.environ.get("INFANTJAX_REQUIRE_LITERT") != "1":
    pytest.importorskip("tensorflow", reason="the LiteRT export needs the extra: pip install 'infantjax[litert]'")

from infantjax.deploy import export, load
from infantjax.errors import ExportError
from infantjax.pipelines.pose import PosePredictor

REF = {"efficientpose-rt-mpii": "RT", "efficientpose-rt-lite-mpii": "RT_LITE"}


def _relative(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a, np.float64) - b)) / np.max(np.abs(b)))


@pytest.mark.parametrize("name", list(REF))
def test_official_heatmaps_through_litert(name, tmp_path):
    ref = np.load(data_file(f"efficientpose/reference/{REF[name]}_mpii.npz"))
    image = np.asarray(Image.open(data_file("efficientpose/MPII.jpg")).convert("RGB"))
    predictor = PosePredictor.pretrained(name)
    result = export(predictor, "litert", tmp_path / "pose.tflite")
    assert result.input_shape[0] == 1 and result.max_abs_diff < 1e-5, result.summary()
    (heatmaps,) = load(result.path)(predictor.preprocess(image)[None])
    np.testing.assert_allclose(heatmaps[0], ref["upscaled_confs"][0].transpose(1, 2, 0), atol=1e-4, rtol=0)


def test_smartphone_probabilities_through_litert(tmp_path):
    from infantjax.pipelines.passmore import SmartphoneModel
    from infantjax.train.passmore import video_clips

    model = SmartphoneModel.pretrained()
    features = np.random.default_rng(3).normal(0.0, 0.5, (2, 200, 46)).astype(np.float32)
    clips = np.stack([video_clips(f) for f in features])
    result = export(model, "litert", tmp_path / "phone.tflite", batch=2, clips=clips.shape[1])
    check_smartphone_outputs(model, load(result.path)(clips), model.predict(features))


def test_gcn_logits_through_litert(tmp_path):
    from infantjax import preprocess, synth
    from infantjax.ensemble import Ensemble
    from infantjax.train import cp as _cp
    from infantjax.infer.predict import StackedPredictor, task_forward

    ens = Ensemble.pretrained()
    coords = _cp.prepare_sequence(synth.cohort("cp", n_subjects=1, seed=77, duration_s=12.0).sequences[0],
                                  ens.config, where="test")
    windows = np.asarray(preprocess.windows(coords, length=ens.config.window, hop=ens.config.hop), np.float32)
    result = export(ens, "litert", tmp_path / "gcn.tflite", batch=len(windows))
    probability, logits = load(result.path)(windows)
    want = np.swapaxes(StackedPredictor(task_forward(ens.task(0)), ens.variables[0])(windows), 0, 1)
    assert _relative(logits, want) < 1e-5
    assert _relative(probability, ens.window_predictions(windows)[0]) < 1e-5


def test_litert_names_what_a_symbolic_batch_cannot_express(tmp_path):
    """The TFLite converter cannot keep a symbolic batch through the pose graph's slicing: the writer's error names the
    operation and the format (``export`` asks LiteRT for a fixed batch for that reason)."""
    from infantjax import backend
    from infantjax.deploy import deployable, formats

    d = deployable(PosePredictor.pretrained("efficientpose-rt-lite-mpii"))
    with backend.use("cpu"), pytest.raises(ExportError, match=r"LiteRT cannot express the operation .*gather.*--batch"):
        formats.write("litert", d.graph("mobile"), (None, *d.input_shape), tmp_path / "pose.tflite",
                      input_name=d.input_name, output_names=d.output_names)
    assert not (tmp_path / "pose.tflite").exists()
