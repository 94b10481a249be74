"""Messier recordings and the defects of issue 14 (parts 5 and 7): a head-down or sideways spine is detected and
reported with its fix, low-confidence keypoints can be masked (DeepLabCut p-cutoff), other keypoint sets reach
``predict`` through ``--map-skeleton``, and ``search`` names its workers stably, reports progress and survives a
concurrent database creation."""

from __future__ import annotations

import json
import subprocess
import sys

import jax
import numpy as np
import pytest
from _train_utils import SMALL, tiny_gcn_spec

from infantjax import ensemble
from infantjax.cli import main
from infantjax.clinical import RiskResult
from infantjax.errors import ConfigError, DataError, SkeletonMismatchError
from infantjax.pipelines.cp import predict_risk
from infantjax.preprocess import mask_low_confidence, spine_orientation
from infantjax.sequence import SkeletonSequence
from infantjax.skeleton import get as skeleton
from infantjax.train import CPConfig
from infantjax.train.cp import prepare_sequence

#: v1 preprocessing with the reference window rotation (the paper's), at the small test sizes
CONFIG = SMALL.replace(preprocess=True, window_rotation="reference")


def upright(frames: int = 60, seed: int = 0) -> SkeletonSequence:
    """An In-Motion 19 recording in image coordinates with the head at the top (thorax above the pelvis): a
    supine infant's body (the template the CAM plots draw on) that wanders a little, plausible to the
    tracking-quality gate: every joint seen (confidences 0.5–1, drawn independently per frame; drawn from 0.2, a
    knee or a foot falls below the gate's "hard to see" limit in more than 60 % of some short window by chance)."""
    from infantjax.explain.plots import TEMPLATE_POSE

    skel = skeleton("in-motion-19")
    rng = np.random.default_rng(seed)
    rest = TEMPLATE_POSE * [200.0, -200.0] + rng.normal(0, 4, (19, 2))  # image y points down
    assert rest[skel.index("thorax"), 1] < rest[skel.index("pelvis"), 1]
    coords = 300 + rest + np.cumsum(rng.normal(0, 0.6, (frames, 19, 2)), axis=0)
    return SkeletonSequence(coords.astype(np.float32), 30.0, skel,
                            rng.uniform(0.5, 1, (frames, 19)).astype(np.float32))


def rotated(seq: SkeletonSequence, degrees: int) -> SkeletonSequence:
    """``seq`` rotated by a multiple of 90° about its mean position (exact in float32)."""
    centre = np.nanmean(seq.coords, axis=(0, 1))
    x, y = np.moveaxis(seq.coords - centre, -1, 0)
    turns = {0: (x, y), 90: (-y, x), 180: (-x, -y), 270: (y, -x)}[degrees % 360]
    return seq.replace(coords=(np.stack(turns, -1) + centre).astype(np.float32))


@pytest.fixture(scope="module")
def untrained():
    """Two randomly initialised instances under the v1 config (predictions arbitrary but deterministic).

    The variables are drawn with numpy in the shapes ``jax.eval_shape`` gives: compiling the model's init costs
    tens of seconds on a loaded machine, and these tests only need some fixed, finite network."""
    from infantjax.train.cp import build, input_channels

    spec = tiny_gcn_spec()
    model = build(spec, CONFIG)
    sample = np.zeros((1, CONFIG.window, 19, input_channels(model)), np.float32)
    shapes = jax.eval_shape(lambda k: model.init(k, sample, train=False), jax.random.PRNGKey(0))
    rng = np.random.default_rng(3)

    def draw(path, leaf):
        name = str(path[-1].key)
        if name == "var":
            value = np.ones(leaf.shape)
        elif name == "mean":
            value = np.zeros(leaf.shape)
        elif name == "scale":
            value = 1 + 0.1 * rng.normal(size=(2, *leaf.shape))
            return value.astype(leaf.dtype)
        else:
            value = rng.normal(0, 0.3, (2, *leaf.shape))
            return value.astype(leaf.dtype)
        return np.broadcast_to(value, (2, *leaf.shape)).astype(leaf.dtype)

    stack = jax.tree_util.tree_map_with_path(draw, dict(shapes))
    return ensemble.Ensemble([spec], [stack], CONFIG)


# ------------------------------------------------------------------------------------------------ spine orientation
@pytest.mark.parametrize(("degrees", "expected"), [(0, "upright"), (90, "sideways"), (180, "inverted"),
                                                   (270, "sideways")])
def test_spine_orientation_tells_upright_sideways_and_head_down_apart(degrees, expected):
    orientation, angle = spine_orientation(rotated(upright(), degrees))
    assert orientation == expected
    assert abs(abs(angle) - min(degrees, 360 - degrees)) < 30


def test_spine_orientation_of_a_recording_without_trunk_is_unknown():
    seq = upright()
    coords = seq.coords.copy()
    coords[:, skeleton("in-motion-19").index("pelvis")] = np.nan
    assert spine_orientation(seq.replace(coords=coords))[0] == "unknown"


def test_head_down_recording_is_flagged_and_corrected_rotation_scores_it_as_upright(untrained):
    seq = upright()
    plain = predict_risk(untrained, seq)
    assert plain.warnings == ()
    assert untrained.predict(seq).metadata["spine_orientation"]["orientation"] == "upright"
    assert untrained.predict(seq).metadata["window_rotation"] == "reference"

    # the reference's answer, by name: the reference rotation mirrors a head-down recording's windows, and says so
    head_down = predict_risk(untrained, rotated(seq, 180), window_rotation="reference")
    assert len(head_down.warnings) == 1
    assert "inverted" in head_down.warnings[0] and "window_rotation='corrected'" in head_down.warnings[0]
    sideways = predict_risk(untrained, rotated(seq, 90), window_rotation=None)
    assert "sideways" in sideways.warnings[0]

    # by default ("auto") a head-down or sideways recording is scored with the corrected rotation: the upright
    # infant's answer, and the result says what was done
    for degrees, how in ((180, "inverted"), (90, "sideways"), (-90, "sideways")):
        auto = predict_risk(untrained, rotated(seq, degrees))
        assert len(auto.warnings) == 1 and how in auto.warnings[0], auto.warnings
        assert "scored with the corrected window rotation" in auto.warnings[0]
        assert auto.metadata["window_rotation"] == "corrected" and auto.metadata["window_rotation_asked"] == "auto"
        np.testing.assert_allclose(auto.predictions, plain.predictions, atol=2e-5)

    # the corrected rotation turns every window's spine straight down: the head-down recording is scored exactly
    # as the upright one, which both rotations score alike (the reference quirk is exact for upright spines)
    fixed = predict_risk(untrained, rotated(seq, 180), window_rotation="corrected")
    assert fixed.warnings == ()
    np.testing.assert_allclose(fixed.predictions, plain.predictions, atol=2e-5)
    np.testing.assert_allclose(predict_risk(untrained, seq, window_rotation="corrected").predictions,
                               plain.predictions, atol=2e-5)


def test_warnings_travel_with_the_result_record_and_report(untrained, tmp_path):
    from infantjax import report

    result = predict_risk(untrained, rotated(upright(), 180))
    again = RiskResult.from_dict(json.loads(json.dumps(result.to_dict())))
    assert again.warnings == result.warnings and result.with_threshold(0.3).warnings == result.warnings
    assert "scored with the corrected window rotation" in result.warnings[0]
    page = report.infant(result, rotated(upright(), 180), ensemble_info=untrained, out=tmp_path / "infant.html")
    assert "scored with the corrected window rotation" in page.read_text()


def test_window_rotation_override_is_checked(untrained):
    with pytest.raises(ConfigError, match="window_rotation"):
        untrained.predict(upright(), window_rotation="sideways")


# ------------------------------------------------------------------------------------------------ mirror images
def test_mirror_reflects_x_and_swaps_left_and_right_and_is_its_own_inverse():
    from infantjax.preprocess import mirror

    seq = upright()
    skel = skeleton("in-motion-19")
    np.testing.assert_array_equal(mirror(mirror(seq.coords)), seq.coords)
    np.testing.assert_allclose(mirror(mirror(seq.coords, centre_x=300.0), centre_x=300.0), seq.coords, rtol=1e-6)
    once = mirror(seq.coords, centre_x=300.0)
    left, right = skel.index("left_wrist"), skel.index("right_wrist")
    np.testing.assert_allclose(once[:, left, 0], 600.0 - seq.coords[:, right, 0], rtol=1e-6)
    np.testing.assert_array_equal(once[:, left, 1], seq.coords[:, right, 1])
    nose = skel.index("nose")
    np.testing.assert_array_equal(once[:, nose], seq.coords[:, nose] * [-1, 1] + [600, 0])
    holes = seq.coords.copy()
    holes[:5, right] = np.nan
    assert np.isnan(mirror(holes)[:5, left]).all() and not np.isnan(mirror(holes)[:5, right]).any()
    with pytest.raises(DataError, match="19"):
        mirror(np.zeros((10, 17, 2)))


def test_a_mirrored_recording_gets_the_same_risk_when_mirror_images_are_averaged(tmp_path, capsys):
    """A phone's front camera mirrors the video, which labels the body as its mirror image: x reflected, left and
    right swapped. The CP networks are not mirror-symmetric, so the reference's risk changes; averaged with the
    windows' mirror images (``mirror="average"``), every instance's P(CP) and joint scores are the same. (The
    zoo's 3-instance ensemble: trained networks read the movement, where random ones give nearly one value.)"""
    import infantjax
    from infantjax.io import write_keypoints
    from infantjax.preprocess import mirror

    zoo = infantjax.load("cp-gcn-synthetic-3folds")
    seq = upright(frames=240)
    flipped = seq.replace(coords=mirror(seq.coords, centre_x=250.0))
    ref, ref_flipped = zoo.predict(seq), zoo.predict(flipped)
    assert np.abs(ref.probabilities - ref_flipped.probabilities).max() > 1e-3  # not symmetric by itself
    avg, avg_flipped = zoo.predict(seq, mirror="average"), zoo.predict(flipped, mirror="average")
    np.testing.assert_allclose(avg.probabilities, avg_flipped.probabilities, atol=2e-6)
    # the mean of the recording's and of its mirror image's predictions (the preprocessing commutes with mirroring)
    np.testing.assert_allclose(avg.probabilities, 0.5 * (ref.probabilities + ref_flipped.probabilities), atol=2e-6)
    perm = skeleton("in-motion-19").flip_permutation()  # a mirror image's left wrist is the recording's right one
    np.testing.assert_allclose(avg.cam_scores, avg_flipped.cam_scores[..., perm], atol=1e-5)
    np.testing.assert_allclose(avg.no_cp_cam_scores, avg_flipped.no_cp_cam_scores[..., perm], atol=1e-5)
    assert avg.metadata["mirror"] == "average" and ref.metadata["mirror"] == "reference"
    assert avg.probabilities.shape == ref.probabilities.shape and avg.cam_scores.shape == ref.cam_scores.shape
    with pytest.raises(ConfigError, match="mirror"):
        zoo.predict(seq, mirror="both")

    risk = predict_risk(zoo, seq, mirror="average").risk
    assert predict_risk(zoo, flipped, mirror="average").risk == pytest.approx(risk, abs=1e-6)
    assert predict_risk(zoo, flipped).risk != pytest.approx(predict_risk(zoo, seq).risk, abs=1e-4)
    # the command line: --mirror average, with the ensemble named as assess names it (a zoo name needs --out)
    for name, recording in (("as_filmed", seq), ("mirrored", flipped)):
        rec = write_keypoints(tmp_path / f"{name}.csv", recording)
        assert main(["predict", "cp-gcn-synthetic-3folds", str(rec), "--no-plots", "--mirror", "average",
                     "--out", str(tmp_path / "p")]) == 0
    capsys.readouterr()
    assert main(["predict", "cp-gcn-synthetic-3folds", str(rec), "--no-plots"]) == 2
    assert "zoo ensemble, not a folder to write beside: give --out DIR" in capsys.readouterr().err
    assert main(["predict", "rt-synthetic-infant-roi", str(rec), "--no-plots", "--out", str(tmp_path / "q")]) == 2
    assert "not an ensemble model" in capsys.readouterr().err and not (tmp_path / "q").exists()
    risks = [json.loads((tmp_path / "p" / f"{n}.json").read_text())["risk"] for n in ("as_filmed", "mirrored")]
    assert risks == pytest.approx([risk, risk], abs=1e-6)


# ------------------------------------------------------------------------------------------------ camera shake
def shaken(seq: SkeletonSequence, amplitude: float = 30.0) -> SkeletonSequence:
    """``seq`` filmed by a hand-held camera: the whole view moving ±``amplitude`` px at 1.1 and 1.75 Hz."""
    t = seq.frame_times
    drift = amplitude * np.stack([np.sin(7 * t), np.sin(11 * t + 1)], axis=-1)
    return seq.replace(coords=(seq.coords + drift[:, None, :]).astype(np.float32))


def test_a_hand_held_camera_s_shake_is_taken_out_of_the_keypoints_and_said(untrained):
    from infantjax.preprocess.camera import SHAKE, camera_motion, steady

    seq = upright(frames=300)
    still, moving = camera_motion(seq), camera_motion(shaken(seq))
    assert not still.shaken and still.shake < SHAKE / 3
    assert moving.shaken and moving.shake > 1.5 * SHAKE
    # the median of the keypoints' displacements moves with a shift common to all of them, so steadying the shaken
    # recording gives the steadied still one, up to the part of the shake the 2-s filter lets through: under 3 %
    # a second away from the ends, under a third at the very ends (where it averages one side only)
    gap = np.abs(steady(shaken(seq), moving).coords - steady(seq, still).coords).max(axis=(1, 2))
    assert gap[30:-30].max() < 0.03 * 30.0 and gap.max() < 0.35 * 30.0
    assert steady(seq, still).metadata["camera"]["steadied"] is True

    plain = predict_risk(untrained, seq)
    assert plain.warnings == () and plain.metadata["camera"]["steadied"] is False  # a still camera: as given
    assert plain.quality.state == "good", plain.quality.reasons
    auto = predict_risk(untrained, shaken(seq))  # the default: taken out, and said
    assert auto.metadata["camera"]["steadied"] and auto.metadata["camera"]["asked"] == "auto"
    assert len(auto.warnings) == 1 and "the camera shook" in auto.warnings[0]
    assert auto.quality.state == "doubtful" and not auto.quality.withheld
    assert any("taken out of the keypoints before scoring" in r for r in auto.quality.reasons)
    assert all(any("camera shook" in r for r in w) for w in auto.quality.window_reasons)
    np.testing.assert_allclose(auto.predictions, predict_risk(untrained, seq, camera="steady").predictions,
                               atol=2e-3)
    # the reference's answer, by name: scored as tracked, the shake read as movement, and the gate says that
    ref = predict_risk(untrained, shaken(seq), camera="reference")
    assert "camera" not in ref.metadata and ref.warnings == ()
    assert ref.quality.state == "doubtful"
    assert any("read its movement as the infant's" in r for r in ref.quality.reasons)
    with pytest.raises(ConfigError, match="camera"):
        untrained.predict(seq, camera="still")


# ------------------------------------------------------------------------------------------------ confidence threshold
def test_confidence_threshold_masks_low_confidence_keypoints_before_preprocessing():
    seq = upright()
    masked = mask_low_confidence(seq, 0.6)
    low = seq.confidence < 0.6
    assert np.isnan(masked.coords[low]).all() and not np.isnan(masked.coords[~low]).any()
    assert masked.metadata["confidence_threshold"] == {"threshold": 0.6, "masked": int(low.sum())}
    assert mask_low_confidence(seq, None) is seq  # default off: the paper's behaviour
    # through the config, in training and prediction alike: masked keypoints are interpolated by preprocessing
    base = CONFIG.replace(window_rotation=None)
    plain = prepare_sequence(seq, base)
    cut = prepare_sequence(seq, base.replace(confidence_threshold=0.6))
    assert cut.shape == plain.shape and not np.allclose(cut, plain)
    np.testing.assert_array_equal(prepare_sequence(seq, base.replace(confidence_threshold=0.0)), plain)


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan"), "high", True])
def test_confidence_threshold_must_be_a_probability(bad):
    with pytest.raises(ConfigError, match="confidence_threshold"):
        CPConfig(confidence_threshold=bad)
    with pytest.raises(ConfigError, match="confidence_threshold"):
        mask_low_confidence(upright(), bad)


# ------------------------------------------------------------------------------------------------ predict CLI
def test_predict_maps_other_keypoint_sets_only_when_asked(untrained, tmp_path, capsys):
    from infantjax.io import write_keypoints

    ens_dir = tmp_path / "ens"
    untrained.save(ens_dir)
    mpii = upright().map_to("mpii-16", approximate=True)
    rec = write_keypoints(tmp_path / "mpii.csv", mpii)
    assert main(["predict", str(ens_dir), str(rec), "--no-plots"]) == 2
    assert "--map-skeleton approximate" in capsys.readouterr().err

    assert main(["predict", str(ens_dir), str(rec), "--no-plots", "--map-skeleton", "approximate",
                 "--out", str(tmp_path / "p")]) == 0
    out = capsys.readouterr().out
    assert "warning: mapped from mpii-16 (approximate)" in out
    record = json.loads((tmp_path / "p" / "mpii.json").read_text())
    missing = next(w for w in record["warnings"] if w.startswith("mapped from"))
    mapped = mpii.map_to("in-motion-19", approximate=True)
    never = [n for j, n in enumerate(mapped.skeleton.keypoints) if np.isnan(mapped.coords[:, j]).all()]
    assert never and all(n in missing for n in never)

    # a head-down recording: the CLI prints the warning; --window-rotation corrected removes it
    head_down = write_keypoints(tmp_path / "down.csv", rotated(upright(), 180))
    assert main(["predict", str(ens_dir), str(head_down), "--no-plots", "--out", str(tmp_path / "p")]) == 0
    assert "warning: the spine is inverted" in capsys.readouterr().out
    assert main(["predict", str(ens_dir), str(head_down), "--no-plots", "--out", str(tmp_path / "p"),
                 "--window-rotation", "corrected"]) == 0
    assert "warning" not in capsys.readouterr().out


def test_predict_reads_the_files_a_folders_labels_csv_lists(untrained, tmp_path, capsys):
    """``infantjax predict ens/ synth/`` as the README writes it: synth puts the files in synth/keypoints/."""
    from infantjax.io import write_keypoints

    ens_dir = tmp_path / "ens"
    untrained.save(ens_dir)
    (tmp_path / "synth" / "keypoints").mkdir(parents=True)
    for i in range(2):
        write_keypoints(tmp_path / "synth" / "keypoints" / f"s{i}.csv", upright(seed=i))
    (tmp_path / "synth" / "labels.csv").write_text("file,subject,label\nkeypoints/s0.csv,s0,0\nkeypoints/s1.csv,s1,1\n")
    assert main(["predict", str(ens_dir), str(tmp_path / "synth"), "--no-plots", "--report", str(tmp_path / "r"),
                 "--labels", str(tmp_path / "synth" / "labels.csv")]) == 0
    out = capsys.readouterr().out
    assert "s0.csv: CP risk" in out and "s1.csv: CP risk" in out
    assert (tmp_path / "r" / "cohort.html").is_file()


def test_mapping_that_fills_no_joint_is_an_error(tmp_path):
    from infantjax.skeleton import to_model_skeleton

    seq = SkeletonSequence(np.zeros((4, 1, 2), np.float32), 30.0,
                           __import__("infantjax.io.keypoints.common", fromlist=["x"]).custom_skeleton("c", ["x"]))
    with pytest.raises(SkeletonMismatchError, match="none of the in-motion-19 joints"):
        to_model_skeleton(seq, "approximate", tmp_path / "c.csv")
    with pytest.raises(ConfigError, match="mapping must be one of"):
        to_model_skeleton(seq, "closest", tmp_path / "c.csv")


# ------------------------------------------------------------------------------------------------ search
def test_default_worker_names_are_stable_per_host_slot(tmp_path):
    """A restarted worker gets its old name back (its slot was freed when it died); live workers never share."""
    from infantjax.nas.worker import default_worker_name

    storage = str(tmp_path / "s.journal")
    first = default_worker_name(storage, "s1")
    second = default_worker_name(storage, "s1")  # a second live worker of this host
    assert first.endswith("-w0") and second.endswith("-w1")
    assert default_worker_name(storage, "other").endswith("-w0")  # slots are per search
    code = ("from infantjax.nas.worker import default_worker_name as d; import sys; "
            f"print(d({storage!r}, 's1'))")
    names = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            check=True).stdout.strip() for _ in range(2)]
    assert names[0] == names[1] and names[0].endswith("-w2")  # the slot is free again after the process ends


def test_search_run_prints_a_line_per_trial(tmp_path, capsys):
    storage = str(tmp_path / "s.journal")
    assert main(["search", "run", "--name", "p", "--storage", storage, "--objective", "synthetic", "--sampler",
                 "random", "--max-trials", "3", "--epochs", "2", "--checkpoints", "none"]) == 0
    lines = [ln for ln in capsys.readouterr().out.splitlines() if "] trial " in ln]
    assert len(lines) == 3 and all("AUC" in ln for ln in lines)
    assert "-w0 " in lines[0]  # the stable default name


def test_concurrent_database_creation_is_retried(monkeypatch):
    import optuna

    from infantjax.nas import store

    calls = []

    def flaky(url, **kwargs):  # the store passes engine options (connection checks) as keywords
        calls.append(url)
        if len(calls) == 1:
            raise RuntimeError("(sqlite3.OperationalError) table studies already exists")
        return "storage"

    monkeypatch.setattr(optuna.storages, "RDBStorage", flaky)
    monkeypatch.setattr(store.time, "sleep", lambda s: None)
    assert store.open_storage("sqlite:///x.db") == "storage" and len(calls) == 2


@pytest.mark.needs("psycopg")  # without the driver the store refuses a postgresql:// URL before connecting
def test_an_unreachable_server_is_a_config_error(monkeypatch):
    import optuna

    from infantjax.nas import store

    monkeypatch.setattr(store.time, "sleep", lambda s: None)
    monkeypatch.setattr(optuna.storages, "RDBStorage", lambda url, **kw: (_ for _ in ()).throw(RuntimeError("no server")))
    with pytest.raises(ConfigError, match="no server"):
        store.open_storage("postgresql://nowhere/db")


# ------------------------------------------------------------------------------------------------ other tools' folders
def test_predict_reads_an_openpose_folder_as_one_recording_and_a_deeplabcut_folder_by_its_csv(untrained, tmp_path,
                                                                                              capsys):
    """Issue 29: OpenPose writes one JSON per frame (a folder is one recording), DeepLabCut writes the same keypoints
    as .csv and .h5 (with a pickle of metadata) beside each other."""
    from infantjax.io import write_keypoints

    ens_dir = tmp_path / "ens"
    untrained.save(ens_dir)
    openpose = write_keypoints(tmp_path / "openpose_output", upright(seed=1), format="openpose")
    assert len(list(openpose.glob("*_keypoints.json"))) == 60
    assert main(["predict", str(ens_dir), str(openpose), "--no-plots", "--out", str(tmp_path / "p")]) == 0
    out = capsys.readouterr().out
    assert out.count("CP risk") == 1 and "openpose_output: CP risk" in out

    dlc = tmp_path / "dlc"
    dlc.mkdir()
    write_keypoints(dlc / "infantDLC_resnet50_shuffle1_1000.csv", upright(seed=2))
    (dlc / "infantDLC_resnet50_shuffle1_1000.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(64))
    (dlc / "infantDLC_resnet50_shuffle1_1000_meta.pickle").write_bytes(b"\x80\x04N.")
    assert main(["predict", str(ens_dir), str(dlc), "--no-plots", "--out", str(tmp_path / "p")]) == 0
    out = capsys.readouterr().out
    assert out.count("CP risk") == 1 and "infantDLC_resnet50_shuffle1_1000.csv: CP risk" in out

    # a folder of OpenPose folders, one per recording, beside a keypoint CSV with its times sidecar
    many = tmp_path / "many"
    many.mkdir()
    for i in range(2):
        write_keypoints(many / f"baby{i}", upright(seed=i), format="openpose")
    timed = upright(seed=5).replace(times=np.arange(60) / 30.0)
    write_keypoints(many / "timed.csv", timed)
    assert (many / "timed.csv.json").is_file()
    assert main(["predict", str(ens_dir), str(many), "--no-plots", "--out", str(tmp_path / "p")]) == 0
    out = capsys.readouterr().out
    assert out.count("CP risk") == 3 and "timed.csv.json" not in out


def test_input_files_of_the_layouts_other_tools_write(tmp_path):
    from infantjax.commands._common import input_files
    from infantjax.errors import DataError
    from infantjax.io import write_keypoints

    dlc = tmp_path / "dlc"
    dlc.mkdir()
    write_keypoints(dlc / "a.csv", upright())
    (dlc / "a.h5").write_bytes(b"\x89HDF\r\n\x1a\n")
    (dlc / "b.h5").write_bytes(b"\x89HDF\r\n\x1a\n")
    with pytest.raises(DataError, match=r"b\.h5: a DeepLabCut HDF5 file without its CSV.*converth5_to_csv"):
        input_files(dlc, {".csv", ".h5", ".npz"}, "keypoint files")
    (dlc / "b.h5").unlink()
    assert input_files(dlc, {".csv", ".h5", ".npz"}, "keypoint files") == [dlc / "a.csv"]
    op = write_keypoints(tmp_path / "op", upright(), format="openpose")
    assert input_files(op, {".csv", ".json"}, "x") == [op]  # the folder itself is the recording
    assert input_files(tmp_path, {".csv", ".json"}, "x") == [op]  # OpenPose sub-folders are recordings
    with pytest.raises(DataError, match="holds no limb tracks"):  # ... where .json is an input kind
        input_files(tmp_path, {".csv", ".npz"}, "limb tracks")


@pytest.mark.parametrize("kind", ["coco", "dlc-mat"])
def test_per_image_label_sets_are_refused_by_the_verbs_that_window_time(kind, untrained, tmp_path, capsys):
    from infantjax.io import read_keypoints, write_keypoints

    seq = upright().replace(metadata={"time_series": False, "images": [f"img{i}.png" for i in range(60)]})
    path = write_keypoints(tmp_path / ("labels.json" if kind == "coco" else "labels.mat"), seq, format=kind)
    assert read_keypoints(path).metadata["time_series"] is False
    untrained.save(tmp_path / "ens")
    assert main(["predict", str(tmp_path / "ens"), str(path), "--no-plots"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and path.name in err[0] and "labelled images" in err[0]
    # the library refuses it too, naming the source, wherever time is windowed or filtered
    with pytest.raises(DataError, match="labelled images"):
        untrained.predict(read_keypoints(path))
    with pytest.raises(DataError, match=f"{path.name}.*labelled images"):
        from infantjax.preprocess import preprocess_cp

        preprocess_cp(read_keypoints(path))
