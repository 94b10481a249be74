"""The offline model zoo: the shipped official MPII weights reproduce the official Keras outputs on MPII.jpg."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from conftest import data_file
from infantjax.errors import ConfigError
from infantjax.models.pose import available
from infantjax.models.pose.zoo import ZOO
from infantjax.pipelines.pose import PRETRAINED, PosePredictor

REF = {"efficientpose-rt-mpii": "RT", "efficientpose-i-mpii": "I", "efficientpose-rt-lite-mpii": "RT_LITE",
       "efficientpose-i-lite-mpii": "I_LITE"}
# RT and RT Lite references ship in tests/data; I and I Lite are in the shared folder (``reference``)
NAMES = [n if REF[n].startswith("RT") else pytest.param(n, marks=pytest.mark.reference) for n in REF]


def test_available_lists_every_shipped_model():
    names = [e.name for e in available()]
    assert set(REF) <= set(names) and "rt-synthetic-infant" in names
    assert set(PRETRAINED) == set(names)
    for e in available():
        assert e.licence and e.source and e.resolution in (128, 224, 256)
        assert e.skeleton in ("mpii-16", "in-motion-19")


@pytest.mark.parametrize("name", NAMES)
def test_shipped_mpii_weights_equal_official_outputs(name):
    ref = np.load(data_file(f"efficientpose/reference/{REF[name]}_mpii.npz"))
    image = np.asarray(Image.open(data_file("efficientpose/MPII.jpg")).convert("RGB"))
    p = PosePredictor.pretrained(name)
    entry = ZOO[name]
    assert p.spec.variant == entry.variant and p.resolution == entry.resolution == int(ref["resolution"])
    assert p.skeleton.name == entry.skeleton
    np.testing.assert_allclose(p.heatmaps(image), ref["upscaled_confs"][0].transpose(1, 2, 0), atol=1e-4, rtol=0)
    np.testing.assert_array_equal(p.keypoints(image), ref["keypoints_xy"])
    assert p.info["licence"] == "Apache-2.0" and len(p.info["sha256"]) == 64


def test_unknown_name_lists_the_zoo():
    with pytest.raises(ConfigError, match="efficientpose-rt-mpii"):
        PosePredictor.pretrained("efficientpose-xl")


def test_info_lists_the_zoo(capsys):
    from infantjax.cli import main

    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "pose weights efficientpose-i-mpii" in out and "Apache-2.0" in out
    json.dumps([e.name for e in available()])
