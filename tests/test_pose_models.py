"""EfficientPose architecture: official parameter counts (seed 002 Table B.1, data/efficientpose/README.md §2.6)."""

from __future__ import annotations

import pytest

from infantjax.errors import ConfigError
from infantjax.models import count_parameters
from infantjax.models.pose.efficientpose import OFFICIAL_PARAMETER_COUNTS, EfficientPoseSpec


@pytest.mark.parametrize("variant", sorted(OFFICIAL_PARAMETER_COUNTS))
def test_parameter_counts_equal_official(variant):
    """K = 16, P = 28: full graph (all .h5 weights) and deployment graph (Table B.1) counts, exactly.

    Counting rule (README §2.6): conv kernels/biases + BN gamma/beta + BN moving mean/var + the fixed upscaling.
    """
    full, deployment = OFFICIAL_PARAMETER_COUNTS[variant]
    graph = "deployment" if "lite" in variant else "full"
    assert count_parameters(EfficientPoseSpec(variant, graph=graph)) == full
    assert count_parameters(EfficientPoseSpec(variant, graph="deployment")) == deployment


def test_ii_lite_parameter_count_from_table_b1():
    """EfficientPose II Lite (EfficientNet-Lite4 backbone, D = 2): 1,464,960 parameters (seed 002 Table B.1)."""
    assert count_parameters(EfficientPoseSpec("ii_lite", graph="deployment")) == 1_464_960


def test_trainable_only_counts():
    """Without BN statistics and the fixed upscaling: RT 441,000 and I 696,260 (README §2.6)."""
    assert count_parameters(EfficientPoseSpec("rt"), collections=("params",)) == 441_000
    assert count_parameters(EfficientPoseSpec("i"), collections=("params",)) == 696_260


@pytest.mark.parametrize("variant,c", [("rt", 120), ("ii", 168)])
def test_count_is_a_function_of_k_and_p(variant, c):
    """Only the heads (C·P + P, 2 × (C·K + K)) and the upscaling (3 × (16·K² + K)) depend on K and P (README §2.7)."""
    base = count_parameters(EfficientPoseSpec(variant, num_keypoints=16, num_pafs=28))
    for k, p in [(19, 36), (1, 2)]:
        expected = base + c * (p - 28) + (p - 28) + 2 * (c * (k - 16) + (k - 16)) + 3 * (16 * (k * k - 256) + k - 16)
        assert count_parameters(EfficientPoseSpec(variant, num_keypoints=k, num_pafs=p)) == expected


def test_infant_counts_of_obvious_substitution():
    """K = 19, P = 36 gives the README's figures (which differ from Paper II's infant counts, README §2.7)."""
    assert count_parameters(EfficientPoseSpec("rt", num_keypoints=19, num_pafs=36)) == 472_351
    assert count_parameters(EfficientPoseSpec("rt", num_keypoints=19, num_pafs=36, graph="deployment")) == 465_696


def test_spec_validation_and_json_round_trip():
    spec = EfficientPoseSpec("EfficientPose II", num_keypoints=19, num_pafs=36)
    assert spec.variant == "ii" and spec.resolution == 368 and spec.block_width == 56
    assert EfficientPoseSpec.from_json(spec.to_json()) == spec
    with pytest.raises(ConfigError, match="unknown EfficientPose variant"):
        EfficientPoseSpec("v")
    with pytest.raises(ConfigError, match="multiple of 8"):
        EfficientPoseSpec("rt", resolution=100)
    with pytest.raises(ConfigError, match="graph"):
        EfficientPoseSpec("rt", graph="tiny")


def test_one_parameter_counter_and_no_per_family_names():
    """``models.count_parameters`` is the one counter: the per-family counters and their deprecated aliases are
    gone; EfficientPose's official count (README §2.6) is every collection, OpenPose's trained one ``params``."""
    import importlib

    for module, name in [("infantjax.models.pose.efficientpose", "parameter_count"),
                         ("infantjax.models.pose", "parameter_count"),
                         ("infantjax.models.pose.hourglass", "hourglass_parameter_count"),
                         ("infantjax.models.pose.openpose", "openpose_parameter_count"),
                         ("infantjax.models.sma", "parameter_count"),
                         ("infantjax.pipelines.depth", "parameter_count")]:
        assert not hasattr(importlib.import_module(module), name), f"{module}.{name}"
    spec = EfficientPoseSpec("rt")
    assert count_parameters(spec) == count_parameters(spec, collections=("params", "batch_stats", "fixed"))
