"""Smartphone keypoints → features: the input checks of seed 003's pipeline and its CLI (errors only; the
end-to-end CLI run is slow-marked)."""

import numpy as np
import pytest

from infantjax.cli import main
from infantjax.errors import DataError
from infantjax.pipelines.passmore import sequence_features
from infantjax.sequence import SkeletonSequence


def _dlc(T=60, seed=0):
    rng = np.random.default_rng(seed)
    from infantjax import synth

    seq = synth.cohort("cp", n_subjects=1, seed=seed, duration_s=T / 25, fps=25, skeleton="passmore-18").sequences[0]
    return seq, rng


def test_wrong_keypoint_set_too_short_and_undetected_joints_are_named():
    seq, _ = _dlc()
    other = SkeletonSequence(np.zeros((60, 19, 2), np.float32), 25.0, "in-motion-19")
    with pytest.raises(DataError, match="passmore-18"):
        sequence_features(other, (480, 640))
    short = SkeletonSequence(seq.coords[:5], 25.0, "passmore-18", seq.confidence[:5])
    with pytest.raises(DataError, match="too short"):
        sequence_features(short, (480, 640))
    coords = seq.coords.copy()
    coords[:, 9] = np.nan  # a heel never detected
    blind = SkeletonSequence(coords, 25.0, "passmore-18", seq.confidence)
    with pytest.raises(DataError, match="never detected"):
        sequence_features(blind, (480, 640))


def test_cli_names_a_labels_csv_without_its_videos(tmp_path, capsys):
    (tmp_path / "labels.csv").write_text("file,subject,label\nmissing.csv,s0,1\n")
    assert main(["smartphone", "train", "--data", str(tmp_path), "--out", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err
    assert "missing.csv" in err and "does not exist" in err
    assert main(["smartphone", "predict", str(tmp_path / "nothing"), str(tmp_path)]) == 2
    assert "not a smartphone model" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_trains_and_predicts_on_synthetic_dlc_csvs(tmp_path, capsys):
    data, model = tmp_path / "c", tmp_path / "m"
    assert main(["synth", "--task", "cp", "--subjects", "20", "--skeleton", "passmore-18", "--duration", "4",
                 "--fps", "25", "--difficulty", "easy", "--out", str(data)]) == 0
    assert main(["smartphone", "train", "--data", str(data), "--out", str(model), "--quick", "--splits", "2",
                 "--epochs", "2", "--min-epochs", "1", "--patience", "1", "--samples", "300", "--no-progress"]) == 0
    assert "after Platt scaling" in capsys.readouterr().out
    assert main(["smartphone", "predict", str(model), str(data / "keypoints"), "--frame-size", "480", "640",
                 "--samples", "300", "--out", str(tmp_path / "p.csv"), "--saliency", str(tmp_path / "s")]) == 0
    rows = (tmp_path / "p.csv").read_text().splitlines()
    assert rows[0] == "file,probability,uncalibrated" and len(rows) == 21
    assert len(list((tmp_path / "s").glob("*_saliency.png"))) == 20


def test_cohort_features_can_exclude_the_recordings_it_rejects(caplog):
    """A recording with a joint never detected raises by default; ``exclude_failed`` drops it (named in a warning)
    and keeps the labels and subjects of the other recordings aligned with their features."""
    from infantjax import synth
    from infantjax.pipelines.passmore import cohort_features
    from infantjax.sequence import Cohort

    cohort = synth.cohort("cp", n_subjects=3, seed=1, duration_s=6.0, fps=25, prevalence=0.5,
                          skeleton="passmore-18")
    seqs = list(cohort.sequences)
    coords = seqs[1].coords.copy()
    coords[:, 0] = np.nan  # the crown never detected in recording 1
    seqs[1] = SkeletonSequence(coords, seqs[1].fps, "passmore-18", seqs[1].confidence)
    broken = Cohort(seqs, cohort.labels, cohort.subjects, cohort.metadata, name="one blind")
    with pytest.raises(DataError, match="never detected"):
        cohort_features(broken, num_samples=128)
    full, _, _ = cohort_features(cohort, num_samples=128)
    with caplog.at_level("WARNING"):
        feats, labels, subjects = cohort_features(broken, num_samples=128, exclude_failed=True)
    assert "recording 1" in caplog.text and "excluded" in caplog.text
    subs = list(cohort.subjects)
    assert subjects == [subs[0], subs[2]]
    np.testing.assert_array_equal(labels, np.asarray(cohort.labels)[[0, 2]])
    np.testing.assert_array_equal(feats, full[[0, 2]])
    blind = Cohort([broken.sequences[1]], cohort.labels[:1], [subs[1]], {k: v[1:2] for k, v in cohort.metadata.items()},
                   name="all blind")
    with pytest.raises(DataError, match="every recording was rejected"):
        cohort_features(blind, num_samples=128, exclude_failed=True)
