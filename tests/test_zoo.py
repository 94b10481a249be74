"""The offline model zoo (issue 32): one shipped entry per family, each loaded through the one loader
(``infantjax.models.zoo.weights_file``) by its family's ``pretrained(name)``, predicting, with its provenance; the
single-file model format every entry is written in."""

from __future__ import annotations

import os
from importlib import resources

import numpy as np
import pytest

from infantjax.errors import CheckpointError, ConfigError
from infantjax.models import zoo

# the zoo's models predict on cohorts: compiled as users do, where
# optimised code pays for its compile (tests/conftest.py)
pytestmark = pytest.mark.xla_optimised


SYNTHETIC = [e for e in zoo.available() if e.family != "pose"]


def _family(kind: str):
    from infantjax.infer import registry
    from infantjax.pipelines import families

    families()
    return registry.family(kind).model


def test_one_entry_per_family_within_the_size_budget():
    from infantjax.pipelines import families

    kinds = {e.family for e in zoo.available()}
    # every family shipped with infantjax has an entry (a family a test registers, e.g. the documented toy family
    # of test_engine in the same worker, is not shipped)
    shipped = {f.kind for f in families() if f.model.__module__.startswith("infantjax.")}
    assert kinds == set(zoo.families()) == shipped
    sizes = {}
    for e in SYNTHETIC:
        with zoo.weights_file(e.name) as path:
            sizes[e.name] = os.path.getsize(path)
        assert e.licence and e.trained_on and e.held_out and "not for clinical use" in e.description
    assert max(sizes.values()) <= 5_000_000, sizes  # each entry ≤ 5 MB
    assert sum(sizes.values()) <= 15_000_000, sizes  # the package grows by ≤ 15 MB


@pytest.mark.parametrize("entry", SYNTHETIC, ids=lambda e: e.name)
def test_pretrained_loads_through_the_zoo_with_its_provenance(entry):
    cls = _family(entry.family)
    model = cls.pretrained(entry.name)
    assert type(model) is cls and model.kind == entry.family
    info = model.info
    assert info["name"] == entry.name and info["licence"] == entry.licence
    assert "not for clinical use" in info["clinical_use"]
    assert info["trained_on"] == entry.trained_on and info["headline"] == entry.held_out  # the entry states them
    from infantjax.models import zoo

    default = cls.pretrained().info["name"]  # the family's default entry: its last, one of the synthetic ones
    assert default == zoo.default(entry.family) and default in {e.name for e in SYNTHETIC if e.family == entry.family}


@pytest.mark.parametrize("name", ["cp-gcn-synthetic", "cp-gcn-tracked"])
def test_ensemble_entry_predicts_above_chance(name):
    from infantjax import synth
    from infantjax.clinical import risks_of
    from infantjax.ensemble import Ensemble
    from infantjax.metrics import roc_auc
    from infantjax.pipelines.cp import predict_cohort

    ens = Ensemble.pretrained(name)
    cohort = synth.cohort("cp", n_subjects=16, seed=4242, duration_s=12.0, prevalence=0.5, difficulty="easy")
    risks, _ = risks_of(predict_cohort(ens, cohort))
    assert roc_auc(cohort.labels, risks) > 0.6  # fresh infants, easy cohort: well above chance
    assert ens.info["held_out"]["auc"] > 0.6


def test_smartphone_entry_predicts():
    from infantjax.pipelines.passmore import SmartphoneModel

    model = SmartphoneModel.pretrained("smartphone-synthetic")
    out = model.predict(np.random.default_rng(0).normal(0, 0.5, (2, 160, 46)).astype(np.float32))
    assert out.probability.shape == (2,) and np.all((out.probability > 0) & (out.probability < 1))
    assert model.info["held_out"]["auc"] > 0.5


def test_sma_entry_predicts_and_beats_the_training_mean():
    from infantjax import synth
    from infantjax.pipelines.sma import SMAModel

    model = SMAModel.pretrained("sma-narrow-synthetic")
    rec = synth.sma_recordings(2, 1, duration_s=35.0, seed=4242)
    out = model.predict(rec.tracks)
    assert out.mean.shape == (2,) and np.all(np.isfinite(out.mean)) and np.all((out.mean > -20) & (out.mean < 92))
    held = model.info["held_out"]
    assert held["cnn_recording_error"] < held["training_mean_error"]


def test_mam_entry_predicts():
    from infantjax.pipelines.mam import MamModel, cohort_inputs, synthetic_mam

    model = MamModel.pretrained("mam-synthetic")
    main, _ = synthetic_mam(2, 1, duration_s=8.0, seed=4242)
    inputs = cohort_inputs(main, model.spec, clip_stride=model.config.clip_stride)
    out = model.predict(inputs.features, inputs.info)
    assert out.risk.shape == (2,) and len(out.clip_fms) == 2
    assert model.info["held_out"]["auc"] > 0.5 and model.info["held_out"]["fms_frequency_auc"] > 0.5


def test_depth_entry_predicts_better_than_the_mean_pose():
    from infantjax.pipelines.depth import DepthModel
    from infantjax.preprocess.depth import prepare_clips
    from infantjax.synth.depth_clips import synthetic_clips

    model = DepthModel.pretrained("depth-synthetic")
    t, h, w = model.clip_shape
    clips = prepare_clips(*synthetic_clips(1, 2, h, w, 4242)[:2], radius=3)
    pose = model.predict(clips.clips)
    assert pose.keypoints.shape == (2, t, 12, 2)
    held = model.info["held_out"]
    assert np.mean(list(held["rmsd_median"].values())) < np.mean(list(held["mean_pose_rmsd_median"].values()))


def test_the_one_loader_refuses_other_families_and_unknown_names():
    from infantjax.pipelines.pose import PosePredictor
    from infantjax.pipelines.sma import SMAModel

    with pytest.raises(ConfigError, match=r"is a soran-sma model, not a pose model; load it with infantjax.load"):
        PosePredictor.pretrained("sma-narrow-synthetic")
    with pytest.raises(ConfigError, match="available: sma-narrow-synthetic"):
        SMAModel.pretrained("sma-wide")
    with pytest.raises(ConfigError, match="unknown model family"):
        zoo.available("gait")
    # infantjax.load(..., kind=): a model of another family is refused before its weights are read, by zoo name or
    # by path, the message listing the asked family's entries; a misspelt name gets that family's near names
    import infantjax

    with pytest.raises(ConfigError, match=r"sma-narrow-synthetic is a soran-sma model, not a pose model.*"
                                          r"rt-synthetic-infant-roi"):
        infantjax.load("sma-narrow-synthetic", kind="pose")
    with pytest.raises(ConfigError, match="did you mean 'cp-gcn-tracked'"):
        infantjax.load("cp-gcn-trackd", kind="ensemble")
    with pytest.raises(ConfigError, match="unknown model family 'gait'"):
        infantjax.load("sma-narrow-synthetic", kind="gait")
    assert type(infantjax.load("sma-narrow-synthetic", kind="soran-sma")) is SMAModel
    assert zoo.default("pose") == "rt-synthetic-infant-roi"


def test_a_missing_packaged_file_is_a_checkpoint_error(monkeypatch):
    e = zoo.ZOO["mam-synthetic"]
    monkeypatch.setitem(zoo.ZOO, "mam-synthetic", type(e)(**{**e.__dict__, "file": "gone.npz"}))
    with pytest.raises(CheckpointError, match="missing from this installation"):
        with zoo.weights_file("mam-synthetic"):
            pass


def test_single_file_model_round_trip(tmp_path):
    """TrainedModel.save to a .npz path: the header and variables in one file; float16 storage; damaged files."""
    from infantjax.pipelines.sma import SMAModel

    model = SMAModel.pretrained("sma-narrow-synthetic")
    windows = np.random.default_rng(1).normal(size=(3, 900, 4, 3)).astype(np.float32)
    want = model.window_scores(windows)
    path = model.save(tmp_path / "m.npz")
    again = SMAModel.load(path)
    np.testing.assert_array_equal(again.window_scores(windows), want)
    assert again.info == model.info and again.num_instances == model.num_instances
    half = SMAModel.load(model.save_file(tmp_path / "h.npz", dtype="float16"))
    np.testing.assert_allclose(half.window_scores(windows), want, atol=0.5)  # points of 72
    assert os.path.getsize(tmp_path / "h.npz") < os.path.getsize(path)
    with np.load(path) as data:
        arrays = dict(data)
    key = next(k for k in arrays if k.startswith("variables/"))
    np.savez(tmp_path / "bad.npz", **{**arrays, key: arrays[key][..., :1]})
    with pytest.raises(CheckpointError, match="has shape"):
        SMAModel.load(tmp_path / "bad.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(CheckpointError, match="corrupt or not"):
        SMAModel.load(tmp_path / "junk.npz")
    from infantjax.pipelines.mam import MamModel

    with pytest.raises(CheckpointError, match="kind 'soran-sma'"):
        MamModel.load(path)


def test_package_data_includes_the_zoo():
    files = {p.name for p in resources.files("infantjax.models").joinpath("weights").iterdir()}
    assert {e.file for e in SYNTHETIC} <= files


def test_demo_smartphone_stage_scores_the_zoo_model_beside_catch22(tmp_path):
    from infantjax.commands.demo.smartphone import demo_run, describe

    record = demo_run(tmp_path, seed=3, infants=10, duration_s=12.0)
    assert record["zoo"]["name"] == "smartphone-synthetic" and 0.0 <= record["zoo"]["auc"] <= 1.0
    assert 2 <= record["videos"] <= 10 and 0 < record["abnormal"] < record["videos"]
    assert record["catch22_auc"] is not None and 0.0 <= record["catch22_auc"] <= 1.0  # pycatch22: the test extra
    line = describe(record)
    assert line.startswith("zoo model smartphone-synthetic") and "catch22 baseline" in line
    assert (tmp_path / "smartphone_demo.json").is_file()
