import argparse
import subprocess
import sys

import jax
import pytest

from infantjax import backend
from infantjax.cli import build_parser, main
from infantjax.commands.info import collect


def test_every_command_is_registered():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert {"info", "demo", "synth", "train", "predict", "search", "pose"} <= set(sub.choices)


def test_info_reports_versions_devices_and_backends():
    info = collect()
    assert info["jax backend"] == backend.platform()  # "cpu" under tests/conftest.py's JAX_PLATFORMS=cpu
    platform = jax.devices()[0].platform
    assert info["devices"].count(f"{platform}:") == jax.device_count()  # on CPU the conftest's 8 fake devices
    assert "video backend pyav" in info and "video backend decord" in info


def test_input_errors_exit_with_status_2_and_one_line(tmp_path, capsys):
    code = main(["predict", str(tmp_path / "no-ensemble"), str(tmp_path / "none.csv")])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("infantjax predict: error:")


def test_python_dash_m_runs_the_cli():
    out = subprocess.run([sys.executable, "-m", "infantjax", "--help"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "demo" in out.stdout


def test_version_prints_the_installed_version(capsys):
    import importlib.metadata

    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"infantjax {importlib.metadata.version('infantjax')}"


# ------------------------------------------------------------------------- conventions users bring from other tools
def test_load_of_a_misspelt_zoo_name_suggests_the_near_name():
    import infantjax
    from infantjax.errors import ConfigError
    from infantjax.models import zoo

    with pytest.raises(ConfigError, match="did you mean 'cp-gcn-synthetic'"):
        infantjax.load("cp-gcn-synthtic")
    with pytest.raises(ConfigError, match="did you mean 'efficientpose-rt-mpii'\\?"):
        zoo.entry("efficientpose-rt-mpi", "pose")
    assert zoo.did_you_mean("nothing-like-it", zoo.ZOO) == ""
