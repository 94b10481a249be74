"""The options and readers the mam, sma and smartphone commands share (infantjax.commands._common)."""

import argparse

import pytest

from infantjax.cli import main
from infantjax.commands import _common as common
from infantjax.errors import ConfigError, DataError
from infantjax.train.sma import SMAConfig


def _train_args(*argv):
    p = argparse.ArgumentParser()
    common.add_model_out(p)
    common.add_config(p, "SMAConfig")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--epochs", type=int, default=None)
    common.add_run_options(p, seed=7)
    return p.parse_args(["--out", "m", *argv])


def test_run_options_and_defaults():
    args = _train_args()
    assert (args.out, args.config, args.seed, args.checkpoint_dir, args.no_progress) == ("m", None, 7, None, False)
    args = _train_args("--seed", "3", "--checkpoint-dir", "ck", "--no-progress")
    assert (args.seed, args.checkpoint_dir, args.no_progress) == (3, "ck", True)


def test_train_config_layers_quick_file_and_flags(tmp_path):
    assert common.train_config(SMAConfig, _train_args()) == SMAConfig()
    assert common.train_config(SMAConfig, _train_args("--quick")) == SMAConfig.quick()
    got = common.train_config(SMAConfig, _train_args("--quick", "--epochs", "3", "--no-progress"),
                              epochs=3, batch_size=None)
    assert got == SMAConfig.quick(epochs=3, progress=False)
    path = tmp_path / "c.json"
    path.write_text(SMAConfig(epochs=9, batch_size=5).to_json())
    # the file replaces the --quick recipe; flags given still override its fields
    got = common.train_config(SMAConfig, _train_args("--quick", "--config", str(path)), epochs=4)
    assert got == SMAConfig(epochs=4, batch_size=5)


def test_unreadable_recipe_file_names_the_flag(tmp_path):
    with pytest.raises(ConfigError, match="--config .*missing.json"):
        common.train_config(SMAConfig, _train_args("--config", str(tmp_path / "missing.json")))
    with pytest.raises(ConfigError, match="--spec "):
        common.read_json(SMAConfig, tmp_path / "missing.json", "--spec")
    assert common.read_json(SMAConfig, None) is None


def test_input_files(tmp_path):
    for name in ("b.CSV", "a.npy", "labels.csv", "notes.txt"):
        (tmp_path / name).write_text("x")
    assert [p.name for p in common.input_files(tmp_path, (".csv", ".npy"), "tracks")] == ["a.npy", "b.CSV"]
    assert common.input_files(tmp_path / "a.npy", (".csv",), "tracks") == [tmp_path / "a.npy"]
    with pytest.raises(DataError, match="holds no limb tracks"):
        common.input_files(tmp_path, (".h5",), "limb tracks")
    with pytest.raises(DataError, match="does not exist"):
        common.input_files(tmp_path / "nothing", (".csv",), "tracks")


def test_write_predictions_and_metric_row(tmp_path):
    common.write_predictions(None, ["a,b"])                        # print only: nothing written
    common.write_predictions(tmp_path / "sub" / "p.csv", ["file,score", "x.csv,1.5"])
    assert (tmp_path / "sub" / "p.csv").read_text() == "file,score\nx.csv,1.5\n"
    assert common.metric_row({"auc": (0.81234, 0.05), "kappa": (0.5, 0.0)}) == "auc 0.812 ± 0.050 kappa 0.500 ± 0.000"


@pytest.mark.parametrize("command", ["sma", "smartphone", "mam"])
def test_commands_share_the_options(command, tmp_path, capsys):
    """Every train verb rejects an unreadable --config the same way (one line, status 2), every predict verb a
    missing input."""
    train = [command, "train", "--out", str(tmp_path / "m"), "--config", str(tmp_path / "missing.json")]
    if command != "mam":
        train += ["--data", str(tmp_path)]
        (tmp_path / "labels.csv").write_text("file,subject,score\nx.csv,s1,10\n")  # sma reads it first
    assert main(train) == 2
    err = capsys.readouterr().err
    assert f"infantjax {command}: error: --config " in err and "missing.json" in err
    assert main([command, "predict", str(tmp_path / "m"), str(tmp_path / "nothing")]) == 2
