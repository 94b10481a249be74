import jax
import pytest


@pytest.mark.eight_devices  # checks tests/conftest.py's set-up itself: CI's runs
def test_eight_fake_cpu_devices():
    assert len(jax.devices()) == 8
    assert jax.default_backend() == "cpu"
