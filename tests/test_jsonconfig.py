"""Every frozen dataclass config shares one JSON round trip (infantjax._jsonconfig.JsonConfig)."""

import dataclasses
import json

import pytest

from infantjax._jsonconfig import JsonConfig
from infantjax.errors import ConfigError
from infantjax.models.depth.regression import RegressionSpec
from infantjax.models.depth.unet import DetectionSpec
from infantjax.models.gcn.spec import GCNSpec, STGCNSpec
from infantjax.models.pose.efficientpose import EfficientPoseSpec
from infantjax.models.pose.hourglass import EfficientHourglassSpec
from infantjax.models.pose.openpose import OpenPoseSpec
from infantjax.nas.kbest import KBestConfig
from infantjax.nas.store import SearchSettings
from infantjax.nas.tpe import TPEConfig
from infantjax.nas.trial import TrialConfig
from infantjax.train import CPConfig, DepthConfig, PoseConfig, TrainConfig

CONFIGS = [
    GCNSpec(), GCNSpec.table_a4()[3],
    STGCNSpec(), CPConfig(), CPConfig(scale=(0.8, 1.2), epochs=3), KBestConfig(), TPEConfig(), TrialConfig(),
    SearchSettings(), SearchSettings(sampler="random", max_trials=5, space={"graph": ["spatial", "dis2"]}),
    DetectionSpec(), RegressionSpec(), RegressionSpec(kind="full"), DepthConfig(), DepthConfig(loss="bce"),
    EfficientPoseSpec(), EfficientHourglassSpec(), OpenPoseSpec(), PoseConfig(), PoseConfig(augment=None),
    PoseConfig.paper_i(0.05, sigma=4.0, sigma_final=1.0), TrainConfig(),
]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: type(c).__name__)
def test_round_trip(config):
    text = config.to_json()
    assert json.loads(text) == config.to_dict()  # to_dict is already plain JSON
    back = type(config).from_json(text)
    assert back == config
    assert type(config).from_dict(config.to_dict()) == config


@pytest.mark.parametrize("config", CONFIGS[:4], ids=lambda c: type(c).__name__)
def test_errors_name_the_problem(config):
    cls = type(config)
    with pytest.raises(ConfigError, match="no fields \\['bogus'\\]"):
        cls.from_dict({**config.to_dict(), "bogus": 1})
    with pytest.raises(ConfigError, match="JSON is invalid"):
        cls.from_json("{not json")
    with pytest.raises(ConfigError, match="JSON object"):
        cls.from_json("[1, 2]")


def test_missing_required_field_and_tuples():
    @dataclasses.dataclass(frozen=True)
    class Demo(JsonConfig):
        size: int
        pairs: tuple[tuple[int, int], ...] = ((1, 2),)

    with pytest.raises(ConfigError, match="missing the required fields \\['size'\\]"):
        Demo.from_dict({})
    d = Demo(3, ((4, 5), (6, 7)))
    assert d.to_dict() == {"size": 3, "pairs": [[4, 5], [6, 7]]}
    assert Demo.from_json(d.to_json()).pairs == ((4, 5), (6, 7))
    assert d.replace(size=4).size == 4
