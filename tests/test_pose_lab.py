"""A lab's own labelled frames through the pose commands (infantjax.pipelines.labelled, docs/your-data.md): a short
fine-tune on rendered infants exported as a DeepLabCut project improves held-out PCKh over the MPII model it starts
from; the model folder is a saved pose model every command takes; a run killed after an epoch resumes to the same
weights bit for bit; pose-evaluate writes its table, record and worst frames; pose-frames writes a DeepLabCut
project (k-means, or the model's least plausible frames prefilled); pose-gate writes thresholds assess takes; the
commands' errors are one line with exit 2."""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest

from infantjax.errors import CheckpointError, ConfigError, DataError, LabelledDataError

#: training and tracking run long enough that compiling as users do pays (the fine-tune fixture 106 → 69 s, the
#: killed-and-resumed run 52 → 23 s)
pytestmark = pytest.mark.xla_optimised

#: the fine-tune of these tests: EfficientPose RT Lite at 128 px from its MPII weights, every layer trained, two
#: epochs of 8 steps (the trained fixture, and the killed and resumed run that must end with its weights)
QUICK = {"variant": "rt_lite", "resolution": 128, "batch_size": 8, "copies": 2, "epochs": 2, "progress": False}


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> pathlib.Path:
    """Rendered infants as a lab's DeepLabCut project: 5 videos of 8 labelled 120 × 160 frames."""
    from infantjax.synth.labelled import labelled_project

    return labelled_project(tmp_path_factory.mktemp("lab") / "infants", videos=5, frames_per_video=8,
                            size=(120, 160), seed=3)


@pytest.fixture(scope="module")
def trained(project, tmp_path_factory):
    from infantjax.pipelines.labelled import pose_train

    out = tmp_path_factory.mktemp("model") / "pose-v1"
    return pose_train(project, out, **QUICK)


def test_a_short_fine_tune_beats_the_mpii_model_it_starts_from_on_held_out_videos(trained):
    assert trained.split["by"] == "video" and len(trained.split["held_out"]) == 1
    m, base = trained.metrics, trained.baseline
    assert m["metric"] == "pckh" and len(m["parts"]) == 19 and m["mode"] == "following"
    assert base is not None and len(base["parts"]) == 16  # the MPII model names 16 of the In-Motion 19 parts
    assert base["mode"] == "whole frame"  # how the MPII model tracks
    assert m["pckh@0.5"] > base["pckh@0.5"] + 0.1
    assert m["test_error_px"] < base["test_error_px"]
    assert m["finding"]["mode"] == "finding" and 0 <= m["finding"]["pckh@0.5"] <= 1
    info = trained.predictor.info
    trained_on = info["trained_on"]
    assert trained_on["held_out_videos"] == trained.split["held_out"]
    assert not set(trained_on["held_out_videos"]) & set(trained_on["train_videos"])
    assert len(trained_on["sha256"]) == 64 and trained_on["frames"] == 40
    assert info["recipe"]["init"] == "mpii" and info["tracking"]["roi"] is True
    assert len(info["recipe"]["heads_from_start"]) == 16
    assert len(info["history"]) == 2 and 1 <= info["best_epoch"] <= 2


def test_the_model_folder_is_a_pose_model_every_command_takes(trained, project, tmp_path):
    import infantjax
    from infantjax.cli import main
    from infantjax.infer.pose import PosePredictor

    model = infantjax.load(trained.out)
    assert isinstance(model, PosePredictor) and model.skeleton.name == "in-motion-19"
    assert model.info["trained_on"]["sha256"] == trained.predictor.info["trained_on"]["sha256"]
    for a, b in zip(jax_leaves(model.variables), jax_leaves(trained.predictor.variables), strict=True):
        np.testing.assert_array_equal(a, b)
    # what assess --pose and the chain benchmark load
    from infantjax.pipelines.assessment import load_models

    assert load_models("cp-gcn-synthetic-3folds", trained.out).pose.info["trained_on"] == model.info["trained_on"]
    # a folder of videos tracked with it, resumably
    from _assess_utils import render_video

    videos = tmp_path / "videos"
    videos.mkdir()
    render_video(videos / "a.mp4", duration_s=1.0)
    render_video(videos / "b.mp4", seed=1, duration_s=1.0)
    (videos / "broken.mp4").write_bytes(b"not a video" * 20)
    out = tmp_path / "tracks"
    assert main(["pose", str(videos), "--pose", str(trained.out), "--out", str(out), "--no-progress"]) == 1
    assert sorted(p.name for p in out.glob("*.csv")) == ["a.csv", "b.csv"]
    before = (out / "a.csv").stat().st_mtime_ns
    assert main(["pose", str(videos), "--pose", str(trained.out), "--out", str(out), "--no-progress"]) == 1
    assert (out / "a.csv").stat().st_mtime_ns == before  # tracked already: not redone
    seq = infantjax.io.read_keypoints(out / "a.csv")
    assert seq.skeleton.name == "in-motion-19" and seq.num_frames == 15


def test_a_lab_skeleton_travels_with_the_model(data_dir, tmp_path):
    """A model of a lab's own body parts (not a registered keypoint set) saves its skeleton and loads it back."""
    import infantjax
    from infantjax.infer.pose import PosePredictor
    from infantjax.io.labelled import read_labelled
    from infantjax.models.pose.efficientpose import EfficientPoseSpec
    from infantjax.models.pose.init import finetune_variables

    frames = read_labelled(data_dir / "labelled" / "dlc-project")
    skel = frames.skeleton
    spec = EfficientPoseSpec("rt_lite", num_keypoints=5, num_pafs=2 * len(skel.edges), resolution=32)
    mpii = PosePredictor.pretrained("efficientpose-rt-lite-mpii")
    import jax

    p = PosePredictor(spec, finetune_variables(mpii.variables, spec, jax.random.PRNGKey(0)), skel)
    p.save(tmp_path / "m")
    back = infantjax.load(tmp_path / "m")
    assert back.skeleton.keypoints == skel.keypoints and back.skeleton.labels == skel.labels
    assert back.skeleton.flip_pairs == skel.flip_pairs
    header = json.loads((tmp_path / "m" / "model.json").read_text())
    header["skeleton_definition"]["edges"] = [[0, 9]]
    (tmp_path / "m" / "model.json").write_text(json.dumps(header))
    with pytest.raises(CheckpointError):
        PosePredictor.load(tmp_path / "m")


def test_a_run_killed_in_the_middle_of_an_epoch_resumes_to_the_same_weights(project, trained, tmp_path, monkeypatch):
    """Killed in its second epoch, four steps after the first epoch's checkpoint: the run leaves no model and no
    half-written file, and run again it goes on from that checkpoint (the steps of the unfinished epoch are done
    again, from the same batches) to the weights of the run that was never interrupted."""
    from infantjax.pipelines.labelled import pose_train
    from infantjax.train import engine
    from infantjax.train import pose as pose_training

    real_save, real_batch = engine.RunCheckpointer.save, pose_training._Examples.__getitem__
    saved = []

    def save(self, epoch, *args, **kwargs):
        real_save(self, epoch, *args, **kwargs)
        saved.append(epoch)

    def batch(self, s):
        if saved == [1] and s == 4:
            raise KeyboardInterrupt  # killed while the second epoch trains
        return real_batch(self, s)

    monkeypatch.setattr(engine.RunCheckpointer, "save", save)
    monkeypatch.setattr(pose_training._Examples, "__getitem__", batch)
    with pytest.raises(KeyboardInterrupt):
        pose_train(project, tmp_path / "killed", **QUICK, baseline=False)
    assert saved == [1]
    left = sorted(str(q.relative_to(tmp_path / "killed")) for q in (tmp_path / "killed").rglob("*") if q.is_file())
    assert not [name for name in left if "tmp" in name.lower() or name.endswith(".partial")], left
    assert not (tmp_path / "killed" / "model.json").exists()
    monkeypatch.setattr(engine.RunCheckpointer, "save", real_save)
    monkeypatch.setattr(pose_training._Examples, "__getitem__", real_batch)
    resumed = pose_train(project, tmp_path / "killed", **QUICK, baseline=False)
    assert resumed.resumed and not trained.resumed
    for a, b in zip(jax_leaves(trained.predictor.variables), jax_leaves(resumed.predictor.variables), strict=True):
        np.testing.assert_array_equal(a, b)
    # a finished model is not trained again unless asked; another recipe in the same folder is refused
    with pytest.raises(ConfigError, match="holds a trained model already"):
        pose_train(project, tmp_path / "killed", **QUICK)
    (tmp_path / "killed" / "model.json").unlink()
    with pytest.raises(ConfigError, match="holds a run of other recipe"):
        pose_train(project, tmp_path / "killed", **{**QUICK, "epochs": 3})


def jax_leaves(tree):
    import jax

    return [np.asarray(x) for x in jax.tree_util.tree_leaves(tree)]


def test_pose_evaluate_writes_the_table_the_record_and_the_worst_frames(trained, project, tmp_path, capsys):
    from infantjax.cli import main

    assert main(["pose-evaluate", str(trained.out), str(project), "--out", str(tmp_path / "eval"),
                 "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "head_top" in out and "PCKH@0.1" in out and "held-out frames" in out
    record = json.loads((tmp_path / "eval" / "evaluation.json").read_text())
    assert record["which"] == "held-out" and record["frames"] == 8
    assert record["pckh@0.5"] == pytest.approx(trained.metrics["pckh@0.5"])
    png = tmp_path / "eval" / "worst-frames.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the same call on the MPII model gives the before-fine-tuning figures, on the 16 parts it has
    from infantjax.pipelines.labelled import pose_evaluate

    before = pose_evaluate("efficientpose-rt-lite-mpii", project, which="all", progress=False)
    assert before["frames"] == 40 and len(before["parts"]) == 16 and before["metric"] == "pckh"


def test_pose_frames_writes_a_deeplabcut_project_to_label(trained, tmp_path):
    from _assess_utils import render_video

    from infantjax.io.labelled import read_labelled
    from infantjax.pipelines.labelled import pose_frames

    video = render_video(tmp_path / "baby.mp4", duration_s=3.0)
    done = pose_frames(video, tmp_path / "p", n=4)
    assert done["how"] == "kmeans" and len(done["frames"]["baby"]) == 4
    pngs = sorted((tmp_path / "p" / "labeled-data" / "baby").glob("img*.png"))
    assert len(pngs) == 4
    with pytest.raises(LabelledDataError, match="no frame has been labelled|no CollectedData"):
        read_labelled(tmp_path / "p")  # nothing labelled yet
    # with a model: its least plausible frames, prefilled with its keypoints, added beside the ones there
    done = pose_frames(video, tmp_path / "q", n=3, model=trained.out, progress=False)
    frames = read_labelled(tmp_path / "q")
    assert done["how"] == "model" and len(frames) == 3 and frames.skeleton.name == "in-motion-19"
    more = pose_frames(video, tmp_path / "q", n=2, model=trained.out, progress=False)
    again = read_labelled(tmp_path / "q")
    assert len(again) == 5 and not set(more["frames"]["baby"]) & set(done["frames"]["baby"])
    np.testing.assert_array_equal(again.keypoints[:3], frames.keypoints)  # the labels there are kept


def test_pose_gate_calibrates_thresholds_that_assess_takes(trained, project, tmp_path, capsys):
    from infantjax.cli import main
    from infantjax.pipelines.labelled import read_gate

    out = tmp_path / "gate.json"
    assert main(["pose-gate", str(trained.out), str(project), "--out", str(out), "--tolerance", "1.0",
                 "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "fitted thresholds" in printed and "shipped thresholds" in printed
    thresholds, text = read_gate(out)
    doc = json.loads(out.read_text())
    assert doc["calibration"]["frames"] == 40 and doc["calibration"]["right"] >= 1
    assert thresholds.to_dict() == doc["thresholds"] and "40 labelled frames" in text
    # a damaged file is refused before any video is read
    out.write_text('{"format": "infantjax-gate-thresholds", "thresholds": {"jump": -1}}')
    assert main(["assess", str(tmp_path), "--out", str(tmp_path / "o"), "--gate", str(out)]) == 2
    assert "positive numbers" in capsys.readouterr().err


def test_calibrated_thresholds_flag_few_right_frames_and_catch_wrong_ones():
    """calibrate_thresholds on made-up tracks: right frames keep their shape and confidence, wrong ones lose
    keypoints' confidence and stretch bones."""
    from infantjax.clinical import calibrate_thresholds
    from infantjax.skeleton import get

    rng = np.random.default_rng(0)
    im19 = get("in-motion-19")
    base = np.array([[0, -40], [0, -30], [-8, -30], [8, -30], [0, -20], [-15, -15], [-25, 0], [-30, 15], [0, -12],
                     [15, -15], [25, 0], [30, 15], [0, 20], [-10, 20], [-12, 40], [-14, 60], [10, 20], [12, 40],
                     [14, 60]], float) + [80, 60]
    assert len(base) == im19.num_keypoints
    n = 200
    coords = base[None] + rng.normal(0, 1.0, (n, 19, 2))
    conf = rng.uniform(0.3, 0.9, (n, 19))
    correct = np.ones((n, 19), bool)
    wrong = np.arange(n) >= 150
    coords[wrong, 14:16] += 40  # a leg thrown far away
    conf[wrong, :10] = rng.uniform(0.0, 0.05, (50, 10))
    correct[wrong, :10] = False
    correct[wrong, 14:16] = False
    fitted, report = calibrate_thresholds(coords, conf, np.full((n, 2), (120, 160)), correct)
    assert report["right"] == 150 and report["wrong"] == 50
    assert report["fitted"]["right_flagged"] <= 0.02 and report["fitted"]["wrong_caught"] >= 0.9
    assert 0.05 < fitted.low_confidence <= 0.3
    # the faint check: a model that draws feet as surely as the rest keeps the shipped ratio; one that draws them
    # at about half its best keypoints' confidence in every right frame gets a ratio below that
    from infantjax.clinical.quality import THRESHOLDS

    sure = np.where(wrong[:, None], conf, rng.uniform(0.75, 0.85, (n, 19)))
    assert calibrate_thresholds(coords, sure, np.full((n, 2), (120, 160)), correct)[0].faint_ratio == \
        THRESHOLDS.faint_ratio
    feet = [im19.keypoints.index(k) for k in ("left_ankle", "right_ankle")]
    sure[np.ix_(~wrong, feet)] = 0.4
    assert calibrate_thresholds(coords, sure, np.full((n, 2), (120, 160)), correct)[0].faint_ratio < 0.55
    with pytest.raises(DataError, match="nothing to calibrate"):
        calibrate_thresholds(coords, conf, np.full((n, 2), (120, 160)), np.zeros((n, 19), bool))


@pytest.mark.parametrize("argv, message", [
    (["pose-train", "{missing}", "--out", "{tmp}/m"], "does not exist"),
    (["pose-train", "{project}", "--out", "{file}"], "is a file"),
    (["pose-train", "{project}", "--out", "{tmp}/m", "--variant", "iv"], "no official MPII weights"),
    (["pose-train", "{project}", "--out", "{tmp}/m", "--resolution", "30"], "multiple of 8"),
    (["pose-train", "{project}", "--out", "{tmp}/m", "--init", "nothing-here"], "--init"),
    (["pose-evaluate", "nothing-here", "{project}"], "neither a zoo pose model"),
    (["pose-frames", "{missing}", "--out", "{tmp}/p"], "does not exist"),
    (["pose-gate", "efficientpose-rt-lite-mpii", "{project}", "--out", "{tmp}/g.json"], "In-Motion 19"),
    (["pose-gate", "rt-synthetic-infant-roi", "{project}", "--out", "{tmp}/g.txt"], ".json"),
])
def test_the_commands_errors_are_one_line_with_exit_2(argv, message, data_dir, tmp_path, capsys):
    from infantjax.cli import main

    (tmp_path / "file").write_text("x")
    values = {"missing": str(tmp_path / "nothing"), "tmp": str(tmp_path), "file": str(tmp_path / "file"),
              "project": str(data_dir / "labelled" / "dlc-project")}
    assert main([a.format(**values) for a in argv]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and message in err
