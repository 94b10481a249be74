"""``infantjax sma``: limb-track files, the CLI verbs (synth → train → predict) and their typed errors."""

import numpy as np
import pytest

from infantjax.cli import main
from infantjax.errors import DataError
from infantjax.io.kinect import read_limb_tracks, write_limb_tracks


def test_limb_track_files_round_trip(tmp_path):
    x = np.random.default_rng(0).normal(size=(20, 4, 3)).astype(np.float32)
    x[3, 1] = np.nan
    back = read_limb_tracks(write_limb_tracks(tmp_path / "r.csv", x))
    np.testing.assert_allclose(back, x, rtol=1e-5, atol=1e-6)
    assert np.isnan(back[3, 1]).all()
    np.save(tmp_path / "r.npy", x.reshape(20, 12))
    np.testing.assert_array_equal(read_limb_tracks(tmp_path / "r.npy"), x)
    np.save(tmp_path / "bad.npy", np.zeros((20, 10)))
    with pytest.raises(DataError, match="12 columns"):
        read_limb_tracks(tmp_path / "bad.npy")
    with pytest.raises(DataError, match="not '.txt'"):
        read_limb_tracks(tmp_path / "r.txt")


def test_cli_errors_are_one_line_with_status_2(tmp_path, capsys):
    (tmp_path / "labels.csv").write_text("file,subject\nx.csv,a\n")
    assert main(["sma", "train", "--data", str(tmp_path), "--out", str(tmp_path / "m")]) == 2
    assert "file, subject, score" in capsys.readouterr().err
    assert main(["sma", "predict", str(tmp_path / "nothing"), str(tmp_path)]) == 2
    assert "not an SMA model" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_synth_train_predict(tmp_path, capsys):
    data, model = tmp_path / "data", tmp_path / "model"
    assert main(["sma", "synth", str(data), "--subjects", "3", "--recordings", "1", "--duration", "32"]) == 0
    assert len(list(data.glob("s*.csv"))) == 3
    assert main(["sma", "train", "--data", str(data), "--out", str(model), "--quick", "--epochs", "1",
                 "--batch-size", "2", "--folds", "2", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "held-out 30-s windows" in out and "quartile" in out and "saved 2 network(s)" in out
    assert main(["sma", "predict", str(model), str(data), "--out", str(tmp_path / "p.csv")]) == 0
    rows = (tmp_path / "p.csv").read_text().splitlines()
    assert rows[0] == "file,mean,median,quartile,windows" and len(rows) == 4


@pytest.mark.slow  # ~35 s of CPU: the demo's leave-one-subject-out toy
def test_demo_stage_trains_folds_and_reports_aggregations(tmp_path):
    from infantjax.commands.demo.sma import demo_run, describe

    record = demo_run(tmp_path, seed=0)
    assert record["parameters_table1"] == 35_939_169 and record["folds"] == 6
    assert set(record["recordings_error"]) == {"mean", "median", "quartile"}
    assert np.isfinite(record["cnn"]["overall"]) and (tmp_path / "sma.json").exists()
    assert "leave-one-subject-out" in describe(record)
    zoo = record["zoo"]  # the zoo model on the same recordings, first in the stage's output
    assert zoo["name"] == "sma-narrow-synthetic" and np.isfinite(zoo["recording_error"])
    assert describe(record).startswith("zoo model sma-narrow-synthetic")
