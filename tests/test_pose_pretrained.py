"""The shipped ``rt-synthetic-infant`` weights (package data): load, track a rendered synthetic video and recover
its keypoints; the float16 file format."""

from __future__ import annotations

import json

import numpy as np
import pytest

from infantjax.errors import CheckpointError, ConfigError
from infantjax.pipelines import pose as S
from infantjax.pipelines.pose import PRETRAINED, PosePredictor


@pytest.fixture(scope="module")
def shipped():
    return PosePredictor.pretrained("rt-synthetic-infant")


def test_shipped_weights_are_small_float16_with_provenance(shipped):
    from importlib import resources

    ref = resources.files("infantjax.models.pose").joinpath("weights", PRETRAINED["rt-synthetic-infant"][0])
    with resources.as_file(ref) as path, np.load(path, allow_pickle=False) as data:
        assert path.stat().st_size < 1.5 * 2 ** 20
        # the common single-file format (__header__), not the predictor's older one (__meta__, still read)
        key = "__header__"
        assert "__meta__" not in data.files
        meta = json.loads(str(data[key]))
        assert meta["kind"] == "pose" and meta.get("dtype", meta.get("storage_dtype")) == "float16"
        assert all(data[k].dtype == np.float16 for k in data.files if k != key)
    assert shipped.skeleton.name == "in-motion-19" and shipped.spec.variant == "rt"
    assert "synthetic" in shipped.info["warning"] and shipped.info["held_out"]["pckh@0.5"] >= 0.9
    notice = resources.files("infantjax.models.pose").joinpath("weights", "NOTICE").read_text()
    assert "EfficientPose" in notice and "Apache" in notice


@pytest.mark.needs("av")
def test_shipped_weights_track_a_rendered_video(shipped):
    result = S.track_synthetic_video(shipped, duration_s=2.0, fps=8.0, seed=3, batch_size=8)
    assert result.sequence.num_frames == 16 and result.sequence.confidence.shape == (16, 19)
    assert result.pckh >= 0.9, result.metrics


def test_float16_round_trip(shipped, tmp_path):
    path = tmp_path / "p.npz"
    shipped.save(path, dtype="float16", info={"note": "copy"})
    again = PosePredictor.load(path)
    assert again.info == {"note": "copy"}
    a = np.asarray(shipped.variables["params"]["pass3_detection2_confs"]["kernel"])
    b = np.asarray(again.variables["params"]["pass3_detection2_confs"]["kernel"])
    np.testing.assert_array_equal(a, b)  # the shipped values are float16 already: exact


def test_bad_names_and_dtypes(shipped, tmp_path):
    with pytest.raises(ConfigError, match="unknown pretrained"):
        PosePredictor.pretrained("hrnet")
    with pytest.raises(ConfigError, match="dtype"):
        shipped.save(tmp_path / "x.npz", dtype="int8")
    with pytest.raises(CheckpointError):
        PosePredictor.load(tmp_path / "missing.npz")
