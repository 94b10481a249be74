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
def test_every_group_command_without_its_subcommand_prints_its_help_and_exits_2(capsys):
    from infantjax.cli import group_commands

    groups = group_commands()
    assert {("search",), ("mam",)} <= {tuple(g) for g in groups}
    for argv in groups:
        with pytest.raises(SystemExit) as done:
            main(argv)
        assert done.value.code == 2, argv
        captured = capsys.readouterr()
        assert captured.out == "", argv
        group = build_parser()
        for word in argv:
            group = next(a for a in group._actions if isinstance(a, argparse._SubParsersAction)).choices[word]
        names = list(next(a for a in group._actions if isinstance(a, argparse._SubParsersAction)).choices)
        assert names, argv
        assert captured.err.startswith(f"usage: infantjax {' '.join(argv)}"), argv
        assert all(name in captured.err for name in names), (argv, captured.err)
        assert captured.err.strip().splitlines()[-1] == \
            f"infantjax {' '.join(argv)}: error: a subcommand is required: one of {', '.join(names)}"


def test_the_pose_model_is_pose_everywhere_and_the_old_spellings_warn():
    parser = build_parser()
    for argv in (["pose", "v.mp4", "--pose", "m", "--out", "k.csv"], ["assess", "v.mp4", "--pose", "m", "--out", "d"],
                 ["demo", "--pose", "m"], ["pose-frames", "v.mp4", "--out", "p", "--pose", "m"]):
        assert parser.parse_args(argv).pose == "m", argv
    for argv, old in ((["pose", "v.mp4", "--weights", "m", "--out", "k.csv"], "--weights"),
                      (["demo", "--pose-weights", "m"], "--pose-weights"),
                      (["pose-frames", "v.mp4", "--out", "p", "--model", "m"], "--model")):
        with pytest.warns(FutureWarning, match=f"{old} is deprecated.*use --pose"):
            assert parser.parse_args(argv).pose == "m", argv
    sub = next(a for a in parser._actions if a.dest == "command")
    for command in ("pose", "demo"):
        text = sub.choices[command].format_help()
        assert "--pose NAME|FILE" in text and "--weights" not in text and "--pose-weights" not in text


def test_an_old_spelling_warns_in_one_line_on_stderr():
    out = subprocess.run([sys.executable, "-m", "infantjax", "pose", "v.mp4", "--weights", "w", "--out", "k.csv",
                          "--help"], check=False, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "--pose NAME|FILE" in out.stdout
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "FutureWarning: --weights is deprecated" in lines[0] and "--pose" in lines[0]


def test_pose_without_a_pose_model_is_one_line_exit_2(tmp_path, capsys):
    assert main(["pose", str(tmp_path / "v.mp4"), "--out", str(tmp_path / "k.csv")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--pose NAME|FILE" in err[0]


def test_search_verbs_take_the_name_first_or_as_name_option(tmp_path, capsys):
    from infantjax.commands.search import _search_name

    parser = build_parser()
    for verb in ("run", "work", "status", "export"):
        for argv in (["search", verb, "s1"], ["search", verb, "--name", "s1"]):
            args = parser.parse_args(argv)
            assert _search_name(args) == "s1" and args.name == "s1", argv
    storage = str(tmp_path / "none.journal")
    for argv in (["search", "status", "--name", "s1", "--storage", storage], ["search", "status", "s1", "--storage",
                                                                              storage]):
        assert main(argv) == 2
        assert "no search named 's1'" in capsys.readouterr().err
    assert main(["search", "status", "--storage", storage]) == 2
    assert "needs the search's name" in capsys.readouterr().err
    assert main(["search", "export", "a", "--name", "b", "--storage", storage]) == 2
    assert "two search names" in capsys.readouterr().err


@pytest.mark.parametrize("argv, near", [
    (["assess", "{t}/none.mp4", "--out", "{t}/o", "--pose", "efficientpose-rt-mpi"], "efficientpose-rt-mpii"),
    (["assess", "{t}/none.mp4", "--out", "{t}/o", "--ensemble", "cp-gcn-trakced"], "cp-gcn-tracked"),
    (["pose", "{t}/none.mp4", "--pose", "rt-synthetic-infant-ro", "--out", "{t}/k.csv"], "rt-synthetic-infant-roi"),
    (["export", "cp-gcn-synthtic", "--format", "stablehlo", "--out", "{t}/m.stablehlo"], "cp-gcn-synthetic"),
])
def test_a_misspelt_zoo_name_suggests_the_near_names(argv, near, tmp_path, capsys):
    argv = [a.format(t=tmp_path) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"infantjax {argv[0]}: error:")
    assert f"did you mean {near!r}" in err[0], err[0]
    assert not (tmp_path / "o").exists()  # refused before anything was written


def test_load_of_a_misspelt_zoo_name_suggests_the_near_name():
    import infantjax
    from infantjax.errors import ConfigError
    from infantjax.models import zoo

    with pytest.raises(ConfigError, match="did you mean 'cp-gcn-synthetic'"):
        infantjax.load("cp-gcn-synthtic")
    with pytest.raises(ConfigError, match="did you mean 'efficientpose-rt-mpii'\\?"):
        zoo.entry("efficientpose-rt-mpi", "pose")
    assert zoo.did_you_mean("nothing-like-it", zoo.ZOO) == ""


def test_pose_refuses_an_output_it_cannot_write_before_tracking(tmp_path, capsys, monkeypatch):
    from infantjax.pipelines.pose import PosePredictor

    def never(*args, **kwargs):
        raise AssertionError("tracked before the output was checked")

    monkeypatch.setattr(PosePredictor, "track", never)
    monkeypatch.setattr(PosePredictor, "pretrained", never)
    code = main(["pose", str(tmp_path / "v.mp4"), "--pose", "rt-synthetic-infant", "--out", str(tmp_path / "x.xlsx")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert "x.xlsx" in err[0] and all(s in err[0] for s in (".csv", ".npz", ".json", ".mat")), err[0]


def test_export_warns_when_the_out_suffix_is_another_formats(tmp_path, capsys, monkeypatch):
    import types

    import infantjax
    import infantjax.deploy

    written = []
    monkeypatch.setattr(infantjax, "load", lambda name: object())
    monkeypatch.setattr(infantjax.deploy, "export", lambda model, fmt, out, **kw: written.append((fmt, out)) or
                        types.SimpleNamespace(summary=lambda: "exported", sidecar=f"{out}.json"))
    out = str(tmp_path / "x.stablehlo")
    assert main(["export", "cp-gcn-synthetic", "--format", "onnx", "--out", out, "--no-check"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert written == [("onnx", out)]  # warned, and written as asked
    assert len(err) == 1 and err[0].startswith("infantjax export: warning:"), err
    assert "x.stablehlo" in err[0] and "StableHLO" in err[0] and "ONNX" in err[0] and ".onnx" in err[0]
    for fmt, name in (("onnx", "x.onnx"), ("stablehlo", "x.stablehlo"), ("litert", "x.tflite"), ("onnx", "x.bin")):
        assert main(["export", "m", "--format", fmt, "--out", str(tmp_path / name), "--no-check"]) == 0
        assert capsys.readouterr().err == "", name
