"""Deploy (issue 32): the pose predictor, the smartphone model and a GCN stack written to StableHLO and ONNX, each
file run (jax.export.deserialize, ONNX Runtime) and held to the JAX model — official EfficientPose heatmaps to 1e-4,
GCN logits and the smartphone network's probability to 1e-5 relative (its Platt-calibrated ones plus the float32
rounding of Platt's logit, docs/deploy.md); typed errors for what a format cannot express; the CLI. LiteRT (the
optional extra, TensorFlow) is tested in tests/test_deploy_litert.py (slow)."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

import infantjax
from conftest import data_file
from infantjax.deploy import Deployable, ExportResult, deployable, export, load
from infantjax.errors import ConfigError, ExportError
from infantjax.pipelines.pose import PosePredictor

ONNX = pytest.mark.needs("jax2onnx", "onnxruntime")  # the extra onnx (in the test extra)
FORMATS = ("stablehlo", pytest.param("onnx", marks=ONNX))
REF = {"efficientpose-rt-mpii": "RT", "efficientpose-rt-lite-mpii": "RT_LITE"}


@pytest.fixture(scope="module")
def mpii_inputs():
    image = np.asarray(Image.open(data_file("efficientpose/MPII.jpg")).convert("RGB"))
    return image


# each network in one format and each format with one network by default; the other two pairs are slow (15-20 s of
# export and compiling each on 2 CPU cores)
_HEATMAP_CASES = [pytest.param("efficientpose-rt-mpii", "onnx", marks=ONNX),
                  ("efficientpose-rt-lite-mpii", "stablehlo"),
                  pytest.param("efficientpose-rt-mpii", "stablehlo", marks=pytest.mark.slow),
                  pytest.param("efficientpose-rt-lite-mpii", "onnx", marks=[ONNX, pytest.mark.slow])]


@pytest.mark.parametrize("name,fmt", _HEATMAP_CASES)
def test_official_heatmaps_through_the_format(name, fmt, mpii_inputs, tmp_path):
    """The shipped official MPII weights, exported with a symbolic batch, reproduce the official Keras heatmaps of
    MPII.jpg to 1e-4, and equal the JAX predictor's."""
    ref = np.load(data_file(f"efficientpose/reference/{REF[name]}_mpii.npz"))
    predictor = PosePredictor.pretrained(name)
    result = export(predictor, fmt, tmp_path / f"pose.{fmt}")
    assert isinstance(result, ExportResult) and result.input_shape[0] is None  # symbolic batch
    assert result.max_abs_diff < 1e-5, result.summary()  # the on-the-spot check, 2 random images
    x = predictor.preprocess(mpii_inputs)[None].astype(np.float32)
    (heatmaps,) = load(result.path)(np.concatenate([x, x]))  # another batch size than the check's
    official = ref["upscaled_confs"][0].transpose(1, 2, 0)
    np.testing.assert_allclose(heatmaps[0], official, atol=1e-4, rtol=0)
    np.testing.assert_allclose(heatmaps[1], predictor.heatmaps(mpii_inputs), atol=1e-5, rtol=0)
    sidecar = json.loads(result.sidecar.read_text())
    assert sidecar["input"]["name"] == "images" and sidecar["input"]["shape"] == [None, 224, 224, 3]
    assert sidecar["outputs"][0]["name"] == "heatmaps" and sidecar["metadata"]["skeleton"] == "mpii-16"


def _relative(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a, np.float64) - b)) / np.max(np.abs(b)))


@pytest.fixture(scope="module")
def smartphone():
    from infantjax.pipelines.passmore import SmartphoneModel

    return SmartphoneModel.pretrained("smartphone-synthetic")


def check_smartphone_outputs(model, outputs, want) -> None:
    """The exported smartphone outputs against ``SmartphoneModel.predict``: the network's (uncalibrated) probability
    to 1e-5 relative; the calibrated ones to 1e-5 relative plus what float32 rounding of Platt's logit α·p + β can
    move them by, σ'·|α|·ε₃₂ ≤ |α|·ε₃₂/4 (the reference calibrates in float64; seed 003's unpenalised Platt scaling
    has slopes |α| in the thousands where a calibration split was separable, as in the shipped model)."""
    probability, uncalibrated, instances = outputs
    assert _relative(uncalibrated, want.uncalibrated) < 1e-5
    rounding = np.abs(np.asarray(model.platt)[:, 0]) * np.finfo(np.float32).eps / 4  # per instance
    assert np.all(np.abs(instances - want.instances.T) <= 1e-5 * np.max(want.instances) + rounding)
    assert np.all(np.abs(probability - want.probability) <= 1e-5 * np.max(want.probability) + rounding.mean())


@pytest.mark.parametrize("fmt", FORMATS)
def test_smartphone_probabilities_through_the_format(smartphone, fmt, tmp_path):
    """Clips → the calibrated probability averaged over the split instances equals SmartphoneModel.predict on the
    same videos (the bounds of check_smartphone_outputs), with the per-instance and uncalibrated outputs."""
    from infantjax.train.passmore import video_clips

    rng = np.random.default_rng(3)
    features = rng.normal(0.0, 0.5, (3, 200, 46)).astype(np.float32)  # 10 clips of 128 at stride 8 per video
    features[1:, :, :8] += np.sin(np.arange(200) / 2.0)[:, None]
    clips = np.stack([video_clips(f) for f in features])
    result = export(smartphone, fmt, tmp_path / f"phone.{fmt}", clips=clips.shape[1])
    assert result.differences["uncalibrated"][1] < 1e-5, result.summary()  # the on-the-spot check
    outputs = load(result.path)(clips)
    check_smartphone_outputs(smartphone, outputs, smartphone.predict(features))
    assert outputs[2].shape == (3, smartphone.num_instances)


@pytest.fixture(scope="module")
def ensemble():
    from infantjax.ensemble import Ensemble

    return Ensemble.pretrained("cp-gcn-synthetic-3folds")  # 3 instances: every format unrolls them


@pytest.fixture(scope="module")
def windows(ensemble):
    from infantjax import preprocess, synth
    from infantjax.train import cp as _cp

    cohort = synth.cohort("cp", n_subjects=2, seed=77, duration_s=12.0)
    coords = _cp.prepare_sequence(cohort.sequences[1], ensemble.config, where="test")
    return np.asarray(preprocess.windows(coords, length=ensemble.config.window, hop=ensemble.config.hop), np.float32)


@pytest.mark.parametrize("fmt", FORMATS)
def test_gcn_logits_through_the_format(ensemble, windows, fmt, tmp_path):
    """One GCN stack: windows → P(CP) per instance equals Ensemble.window_predictions and the logits the task's
    forward, to 1e-5 relative, on the windows of a synthetic recording."""
    from infantjax.infer.predict import StackedPredictor, task_forward

    result = export(ensemble, fmt, tmp_path / f"gcn.{fmt}")
    assert result.max_rel_diff < 1e-5, result.summary()
    probability, logits = load(result.path)(windows)
    want_p, _ = ensemble.window_predictions(windows)
    want_logits = StackedPredictor(task_forward(ensemble.task(0)), ensemble.variables[0])(windows)
    assert probability.shape == want_p.shape == (len(windows), ensemble.num_instances)
    assert _relative(logits, np.swapaxes(want_logits, 0, 1)) < 1e-5
    assert _relative(probability, want_p) < 1e-5


def test_a_fixed_batch_is_kept(ensemble, tmp_path):
    result = export(ensemble, "stablehlo", tmp_path / "gcn.stablehlo", batch=3)
    assert result.input_shape[0] == 3 and result.sample_shape[0] == 3
    exported = jax.export.deserialize(bytearray(result.path.read_bytes()))  # what a user without infantjax runs
    assert exported.in_avals[0].shape == (3, ensemble.config.window, 19, 2)


def _custom_vmap_model() -> Deployable:
    @jax.custom_batching.custom_vmap
    def double(x):
        return 2.0 * x

    @double.def_vmap
    def _rule(axis_size, in_batched, x):
        return 2.0 * x, in_batched[0]

    def graph(forms):
        return lambda x: (double(x) + 1.0,)

    return Deployable("custom", "test", graph, "x", (4,), "(N, 4)", ("y",), ("(N, 4)",),
                      lambda x: (2.0 * x + 1.0,), lambda n, seed=0: np.ones((n, 4), np.float32))


@ONNX
def test_onnx_names_the_operation_it_cannot_express(tmp_path):
    with pytest.raises(ExportError, match=r"ONNX cannot express the operation 'custom_vmap_call'"):
        export(_custom_vmap_model(), "onnx", tmp_path / "x.onnx")
    assert not (tmp_path / "x.onnx").exists()


def test_stablehlo_says_what_a_symbolic_batch_cannot_express(tmp_path):
    def graph(forms):
        return lambda x: (x.reshape(3, -1),)  # needs the batch to be a multiple of 3

    bad = Deployable("reshape", "test", graph, "x", (4,), "(N, 4)", ("y",), ("(3, 4N/3)",),
                     lambda x: (x.reshape(3, -1),), lambda n, seed=0: np.ones((n, 4), np.float32))
    with pytest.raises(ExportError, match=r"StableHLO cannot express .*\(b, 4\).*--batch"):
        export(bad, "stablehlo", tmp_path / "x.stablehlo")
    result = export(bad, "stablehlo", tmp_path / "x.stablehlo", batch=3)  # a fixed batch can
    assert result.max_abs_diff == 0.0


def test_missing_converter_names_the_extra(monkeypatch, tmp_path, ensemble):
    import sys

    monkeypatch.setitem(sys.modules, "tensorflow", None)  # import tensorflow → ImportError
    with pytest.raises(ExportError, match=r"pip install 'infantjax\[litert\]'"):
        export(ensemble, "litert", tmp_path / "x.tflite")


def test_bad_arguments_are_typed_errors(ensemble, tmp_path):
    with pytest.raises(ExportError, match="unknown deployment format 'coreml'"):
        export(ensemble, "coreml", tmp_path / "x")
    with pytest.raises(ConfigError, match="stack 4 does not exist"):
        export(ensemble, "onnx", tmp_path / "x.onnx", stack=4)
    with pytest.raises(ConfigError, match="takes no export option 'clips'; it takes stack"):
        export(ensemble, "onnx", tmp_path / "x.onnx", clips=8)  # the smartphone model's option
    with pytest.raises(ConfigError, match="a Deployable takes no export option 'stack'; it takes none"):
        deployable(deployable(ensemble), stack=0)
    with pytest.raises(ConfigError, match="batch must be a positive integer"):
        export(ensemble, "onnx", tmp_path / "x.onnx", batch=0)
    with pytest.raises(ExportError, match="cannot export a mam model"):
        deployable(infantjax.load("mam-synthetic"))


def test_cli_export_prints_the_largest_difference(tmp_path, capsys):
    from infantjax.cli import main

    out = tmp_path / "gcn.stablehlo"
    assert main(["export", "cp-gcn-synthetic-3folds", "--format", "stablehlo", "--out", str(out), "--batch", "2",
                 "--option", "stack=0"]) == 0
    printed = capsys.readouterr().out
    assert "largest difference from the JAX model on a sample of 2×150×19×2: probability" in printed
    assert out.is_file() and (tmp_path / "gcn.stablehlo.json").is_file()
    assert main(["export", "mam-synthetic", "--format", "onnx", "--out", str(tmp_path / "m.onnx")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot export a mam model" in err[0]
    assert main(["export", str(tmp_path / "nothing"), "--format", "onnx", "--out", str(tmp_path / "n.onnx")]) == 2
    assert "neither a saved model" in capsys.readouterr().err
    for option, message in (("stack", "give NAME=VALUE"), ("clips=16", "takes no export option 'clips'")):
        assert main(["export", "cp-gcn-synthetic-3folds", "--format", "stablehlo", "--out", str(out),
                     "--option", option]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], err


def test_infantjax_load_opens_every_kind_of_path_export_takes(tmp_path, ensemble):
    folder = ensemble.save(tmp_path / "ens")
    file = ensemble.save(tmp_path / "ens.npz")
    for path in (folder, file):
        again = infantjax.load(path)
        assert type(again) is type(ensemble) and again.stack_sizes == ensemble.stack_sizes
    assert type(infantjax.load("efficientpose-rt-lite-mpii")) is PosePredictor
    pose = PosePredictor.pretrained("efficientpose-rt-lite-mpii").save(tmp_path / "pose.npz")
    assert infantjax.load(pose).spec.variant == "rt_lite"


def test_the_exported_graph_is_float32(ensemble, tmp_path):
    """What the file computes in is float32 whatever the backend policy's precision (the parity bounds need it)."""
    from infantjax import backend
    from infantjax.deploy.graphs import FORMS

    d = deployable(ensemble)
    for forms, policy in FORMS.items():
        with backend.use(policy):
            out = jax.eval_shape(d.graph(forms), jax.ShapeDtypeStruct((2, *d.input_shape), jnp.float32))
        assert [o.dtype for o in out] == [jnp.float32, jnp.float32], forms


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_mixed_precision_model_exports_in_float32_under_the_accelerator_policy(ensemble, windows, fmt, tmp_path):
    """A model whose spec follows the policy (dtype "auto": bfloat16 under the accelerator policy) is still exported
    and checked in float32: the file equals the float32 model to 1e-5 relative, not to bfloat16's 1e-2."""
    import dataclasses

    from infantjax import backend

    auto = dataclasses.replace(ensemble, specs=tuple(dataclasses.replace(s, dtype="auto") for s in ensemble.specs))
    with backend.use("accelerator"):
        assert backend.current().compute_dtype == "bfloat16"
        result = export(auto, fmt, tmp_path / f"gcn.{fmt}")  # stablehlo: lowered for the platform, in its forms
    assert result.max_rel_diff < 1e-5, result.summary()
    probability, _ = load(result.path)(windows)
    want_p, _ = ensemble.window_predictions(windows)
    assert _relative(probability, want_p) < 1e-5
