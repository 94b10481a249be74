"""A corpus of damaged inputs, one row per reader, public function and CLI verb (issue 14 part 4).

Every row either raises a typed :class:`~infantjax.errors.InfantJaxError` subclass whose message names the file or
field that was wrong, or (CLI rows) exits with status 2 after printing one line without a traceback. Nothing may
crash with an untyped exception, hang, or give NaN output silently. Inputs are tiny so the whole file runs in
seconds; the CLI rows call ``main([...])`` in-process.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
from collections.abc import Callable

import h5py
import numpy as np
import pytest

from infantjax import errors
from infantjax.cli import main
from infantjax.errors import (
    CheckpointError,
    ConfigError,
    DataError,
    InfantJaxError,
    KeypointFormatError,
    SkeletonMismatchError,
    VideoError,
    WeightsError,
)


@dataclasses.dataclass(frozen=True)
class Case:
    """One damaged input: ``run(tmp_path)`` must raise ``error`` with every string of ``names`` in its message."""

    id: str
    run: Callable[[pathlib.Path], object]
    error: type[InfantJaxError]
    names: tuple[str, ...] = ()


CASES: list[Case] = []


def case(id: str, error: type[InfantJaxError], *names: str):
    def register(fn):
        CASES.append(Case(id, fn, error, names))
        return fn
    return register


def write(tmp: pathlib.Path, name: str, content: str | bytes) -> pathlib.Path:
    path = tmp / name
    path.parent.mkdir(parents=True, exist_ok=True)
    (path.write_bytes if isinstance(content, bytes) else path.write_text)(content)
    return path


def in_motion(frames: int = 40, seed: int = 0):
    """A small In-Motion 19 sequence (random walk around a rest pose, trunk upright)."""
    from infantjax.sequence import SkeletonSequence

    rng = np.random.default_rng(seed)
    base = rng.normal(0, 30, (19, 2)) + 200
    coords = base + np.cumsum(rng.normal(0, 1, (frames, 19, 2)), axis=0)
    return SkeletonSequence(coords.astype(np.float32), 30.0, "in-motion-19", np.ones((frames, 19), np.float32))


def dlc_csv(tmp: pathlib.Path, name: str = "rec.csv", frames: int = 40) -> pathlib.Path:
    from infantjax.io import write_keypoints

    tmp.mkdir(parents=True, exist_ok=True)
    return write_keypoints(tmp / name, in_motion(frames))


# ------------------------------------------------------------------------------------------------ keypoint files
def _read(path):
    from infantjax.io import read_keypoints

    return read_keypoints(path)


case("keypoints-missing-file", KeypointFormatError, "nope.csv")(lambda t: _read(t / "nope.csv"))
case("keypoints-empty-file", KeypointFormatError, "empty")(lambda t: _read(write(t, "e.csv", "")))
case("keypoints-garbage-bytes", KeypointFormatError, "binary")(
    lambda t: _read(write(t, "g.csv", bytes(range(256)) * 8)))
case("keypoints-latin1-text", KeypointFormatError, "UTF-8")(lambda t: _read(write(t, "l.csv", "a,b\n\xe9,1\n".encode("latin-1"))))
case("keypoints-csv-unknown-header", KeypointFormatError, "not a known keypoint layout")(
    lambda t: _read(write(t, "h.csv", "foo,bar\n1,2\n")))
case("keypoints-json-truncated", KeypointFormatError, "truncated")(lambda t: _read(write(t, "t.json", '{"people": [')))
case("keypoints-json-unknown-kind", KeypointFormatError, "neither OpenPose")(lambda t: _read(write(t, "u.json", '{"a": 1}')))
case("keypoints-hdf5", KeypointFormatError, "HDF5")(lambda t: _read(write(t, "k.h5", b"\x89HDF\r\n\x1a\n" + bytes(64))))


@case("keypoints-dlc-truncated-row", KeypointFormatError, "line")
def _(t):
    path = dlc_csv(t)
    text = path.read_text()
    return _read(write(t, "trunc.csv", text[: len(text) - 40]))


@case("keypoints-dlc-not-a-number", KeypointFormatError, "not a number")
def _(t):
    path = dlc_csv(t)
    lines = path.read_text().splitlines()
    cells = lines[5].split(",")
    cells[3] = "abc"
    lines[5] = ",".join(cells)
    return _read(write(t, "nan.csv", "\n".join(lines) + "\n"))


@case("keypoints-dlc-infinite", DataError, "infinite")
def _(t):
    path = dlc_csv(t)
    lines = path.read_text().splitlines()
    cells = lines[5].split(",")
    cells[2] = "inf"
    lines[5] = ",".join(cells)
    return _read(write(t, "inf.csv", "\n".join(lines) + "\n"))


@case("keypoints-dlc-duplicate-part", KeypointFormatError, "head_top")
def _(t):
    path = dlc_csv(t)
    lines = path.read_text().splitlines()
    parts = lines[1].split(",")
    parts[4:7] = [parts[1]] * 3  # the second body part renamed to the first
    lines[1] = ",".join(parts)
    return _read(write(t, "dup.csv", "\n".join(lines) + "\n"))


@case("keypoints-wrong-joint-count-for-skeleton", SkeletonMismatchError, "needs body parts")
def _(t):
    from infantjax.io import read_keypoints

    return read_keypoints(write(t, "p.csv", "head_x,head_y\n1,2\n3,4\n"), skeleton="in-motion-19")


@case("keypoints-coco-empty-keypoint-list", KeypointFormatError, "keypoints")
def _(t):
    doc = {"images": [{"id": 1, "file_name": "a.jpg"}], "annotations": [{"image_id": 1, "keypoints": []}],
           "categories": [{"id": 1, "keypoints": [], "skeleton": []}]}
    return _read(write(t, "c.json", json.dumps(doc)))


@case("keypoints-openpose-wrong-length", KeypointFormatError, "pose_keypoints_2d")
def _(t):
    return _read(write(t, "o_keypoints.json", json.dumps({"people": [{"pose_keypoints_2d": [1.0, 2.0]}]})))


@case("keypoints-npz-wrong-arrays", KeypointFormatError, "w.npz")
def _(t):
    np.savez(t / "w.npz", foo=np.zeros(3))
    return _read(t / "w.npz")


@case("keypoints-npz-wrong-shape", InfantJaxError, "b.npz")
def _(t):
    from infantjax.io import write_keypoints

    write_keypoints(t / "ok.npz", in_motion(5))
    with np.load(t / "ok.npz") as data:
        arrays = {k: data[k] for k in data.files}
    arrays["coords"] = arrays["coords"].reshape(5, -1)
    np.savez(t / "b.npz", **arrays)
    return _read(t / "b.npz")


@case("keypoints-mat-wrong-structure", KeypointFormatError, "m.mat")
def _(t):
    import scipy.io

    scipy.io.savemat(t / "m.mat", {"something": np.zeros((2, 2))})
    return _read(t / "m.mat")


@case("keypoints-mat-huge-joint-id", KeypointFormatError, "joint")
def _(t):
    import scipy.io

    from infantjax.io import write_keypoints

    write_keypoints(t / "ok.mat", in_motion(3))
    data = scipy.io.loadmat(t / "ok.mat")
    key = next(k for k in data if not k.startswith("__"))
    bump_joint_ids(data[key])
    scipy.io.savemat(t / "big.mat", {key: data[key]})
    return _read(t / "big.mat")


def bump_joint_ids(obj):
    """Set every joint id of a DeepLabCut training .mat structure to 1e9 (in place)."""
    if isinstance(obj, np.ndarray) and obj.dtype == object:
        for item in obj.flat:
            bump_joint_ids(item)
    elif isinstance(obj, np.ndarray) and obj.dtype.names:
        for name in obj.dtype.names:
            bump_joint_ids(obj[name])
    elif isinstance(obj, np.ndarray) and obj.ndim == 2 and obj.shape[1] == 3 and obj.dtype.kind in "iuf":
        obj[:, 0] = 1e9


@case("keypoints-implausible-coordinate", DataError, "implausible")
def _(t):
    path = dlc_csv(t)
    lines = path.read_text().splitlines()
    cells = lines[5].split(",")
    cells[2] = "3e38"  # finite in float32, but it overflows preprocessing and the networks into NaN
    lines[5] = ",".join(cells)
    return _read(write(t, "far.csv", "\n".join(lines) + "\n"))


@case("keypoints-dlc-evaluation-table", KeypointFormatError, "evaluation")
def _(t):
    # DeepLabCut's evaluation-results/.../dist_<iterations>.csv: per-image rmse and conf of every body part
    header = ["scorer,s,s,s,s", "individuals,mouse1,mouse1,mouse1,mouse1", "bodyparts,snout,snout,tail,tail",
              "metrics,rmse,conf,rmse,conf"]
    return _read(write(t, "dist_5.csv", "\n".join(header + ["labeled-data/v/img001.png,1.2,0.9,3.4,0.8"]) + "\n"))


@case("keypoints-sidecar-garbage", KeypointFormatError, "rec.csv.json")
def _(t):
    path = dlc_csv(t)
    write(t, "rec.csv.json", "{not json")
    return _read(path)


@case("keypoints-sidecar-wrong-frame-count", KeypointFormatError, "frame times")
def _(t):
    import hashlib

    path = dlc_csv(t)
    write(t, "rec.csv.json", json.dumps({"format": "infantjax-keypoint-sidecar-v1", "times": [0.0, 0.1],
                                         "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}))
    return _read(path)


case("keypoints-unknown-format-name", KeypointFormatError, "unknown keypoint format")(
    lambda t: __import__("infantjax.io", fromlist=["x"]).read_keypoints(dlc_csv(t), format="xls"))
case("keypoints-negative-fps", DataError, "fps")(
    lambda t: __import__("infantjax.io", fromlist=["x"]).read_keypoints(dlc_csv(t), fps=-3))


# ------------------------------------------------------------------------------------------------ sequences and arrays
def _seq(coords, fps=30.0, skeleton="in-motion-19", confidence=None):
    from infantjax.sequence import SkeletonSequence

    return SkeletonSequence(coords, fps, skeleton, confidence)


case("sequence-2d-array", DataError, "(T, J, D)")(lambda t: _seq(np.zeros((10, 19), np.float32)))
case("sequence-string-dtype", DataError, "numeric")(lambda t: _seq(np.full((4, 19, 2), "a")))
case("sequence-inf", DataError, "inf")(lambda t: _seq(np.full((4, 19, 2), np.inf, np.float32)))
case("sequence-wrong-joint-count", SkeletonMismatchError, "19")(lambda t: _seq(np.zeros((4, 17, 2), np.float32)))
case("sequence-zero-fps", DataError, "fps")(lambda t: _seq(np.zeros((4, 19, 2), np.float32), fps=0))
case("sequence-nan-fps", DataError, "fps")(lambda t: _seq(np.zeros((4, 19, 2), np.float32), fps=float("nan")))
case("sequence-times-not-increasing", DataError, "increase")(
    lambda t: __import__("infantjax.sequence", fromlist=["x"]).SkeletonSequence(
        np.zeros((3, 19, 2), np.float32), times=[0.0, 0.2, 0.1]))
case("sequence-times-wrong-length", DataError, "times")(
    lambda t: __import__("infantjax.sequence", fromlist=["x"]).SkeletonSequence(
        np.zeros((3, 19, 2), np.float32), times=[0.0, 0.1]))
case("sequence-times-not-numbers", DataError, "times")(
    lambda t: __import__("infantjax.sequence", fromlist=["x"]).SkeletonSequence(
        np.zeros((2, 19, 2), np.float32), times=["a", "b"]))
case("sequence-confidence-shape", DataError, "confidence")(
    lambda t: _seq(np.zeros((4, 19, 2), np.float32), confidence=np.ones((4, 3))))


@case("sequence-negative-confidence", DataError, "confidence")
def _(t):
    return _seq(np.zeros((4, 19, 2), np.float32), confidence=np.full((4, 19), -1e9, np.float32))


@case("preprocess-all-nan-sequence", DataError, "missing")
def _(t):
    from infantjax.preprocess import preprocess_cp

    return preprocess_cp(_seq(np.full((60, 19, 2), np.nan, np.float32)))


case("windows-zero-length", DataError, "length")(
    lambda t: __import__("infantjax.preprocess", fromlist=["x"]).windows(np.zeros((30, 19, 2)), length=0))
case("windows-non-numeric-hop", DataError, "hop")(
    lambda t: __import__("infantjax.preprocess", fromlist=["x"]).windows(np.zeros((30, 19, 2)), length=10, hop="a"))
case("windows-scalar", DataError, "(T, J, D)")(
    lambda t: __import__("infantjax.preprocess", fromlist=["x"]).windows(np.zeros(30), length=10))
case("windows-longer-than-recording", DataError, "shorter than one window")(
    lambda t: __import__("infantjax.preprocess", fromlist=["x"]).windows(np.zeros((7, 19, 2)), length=150))


def _prepare(seq, **config):
    from infantjax.train import CPConfig
    from infantjax.train.cp import prepare_sequence

    return prepare_sequence(seq, CPConfig(**config), where="predict: rec.csv")


case("predict-recording-shorter-than-window", DataError, "rec.csv")(
    lambda t: _prepare(in_motion(7), preprocess=False, window_rotation=None))
case("predict-all-nan-recording", DataError, "missing")(
    lambda t: _prepare(_seq(np.full((200, 19, 2), np.nan, np.float32))))
case("predict-wrong-skeleton", SkeletonMismatchError, "in-motion-19")(
    lambda t: _prepare(_seq(np.zeros((200, 16, 2), np.float32), skeleton="mpii-16")))


case("predict-per-image-labels", DataError, "labelled images")(
    lambda t: _prepare(in_motion(200).replace(metadata={"time_series": False, "source": "coco.json",
                                                       "images": ["a.jpg"] * 200})))


@case("predict-implausible-coordinates", DataError, "implausible")
def _(t):
    seq = in_motion(200)
    coords = seq.coords.copy()
    coords[5:40, 3, 0] = 3e38  # a damaged column: v1 preprocessing keeps it at ~1e36 trunk lengths
    return _prepare(seq.replace(coords=coords))


def _window_predictions(positions):
    """Ensemble.window_predictions of a stand-in ensemble (the input is checked before any network runs)."""
    from _train_utils import SMALL, tiny_gcn_spec

    from infantjax.ensemble import Ensemble

    return Ensemble([tiny_gcn_spec()], [{"params": {"w": np.zeros((2, 1), np.float32)}}], SMALL
                    ).window_predictions(positions)


case("ensemble-windows-too-short", DataError, "(W, 30, 19, 2)")(
    lambda t: _window_predictions(np.zeros((3, 7, 19, 2), np.float32)))
case("ensemble-windows-all-nan", DataError, "NaN")(
    lambda t: _window_predictions(np.full((3, 30, 19, 2), np.nan, np.float32)))
case("ensemble-windows-strings", DataError, "numeric")(lambda t: _window_predictions([["a"]]))


@case("assess-nan-probabilities", DataError, "NaN")
def _(t):
    from infantjax.clinical import assess

    return assess(np.full((3, 7), np.nan))


@case("assess-probabilities-out-of-range", DataError, "[0, 1]")
def _(t):
    from infantjax.clinical import assess

    return assess(np.full((3, 7), 3.0))


@case("assess-wrong-shape", DataError, "(windows, instances)")
def _(t):
    from infantjax.clinical import assess

    return assess(np.zeros(7))


@case("assess-nan-threshold", ConfigError, "threshold")
def _(t):
    from infantjax.clinical import assess

    return assess(np.full((3, 7), 0.2), threshold=float("nan"))


@case("cohort-nan-labels", DataError, "NaN")
def _(t):
    from infantjax.sequence import Cohort

    return Cohort([in_motion(5)], np.array([np.nan]), ["a"])


@case("cohort-non-binary-labels-for-cp-training", DataError, "label")
def _(t):
    from infantjax.protocols.cp import fold_data
    from infantjax.sequence import Cohort
    from infantjax.train import CPConfig

    cohort = Cohort([in_motion(40, s) for s in range(4)], np.array([0, 1, 2, 1]), ["a", "b", "c", "d"])
    return fold_data(cohort, CPConfig(window=10, hop=5, preprocess=False, window_rotation=None), folds=2)


# ------------------------------------------------------------------------------------------------ configs and specs
def _train_config(**kw):
    from infantjax.train import TrainConfig

    return TrainConfig(**kw)


case("trainconfig-unknown-field", ConfigError, "scale")(lambda t: _train_config(scale="ab"))
case("cpconfig-scale-not-numbers", ConfigError, "scale")(
    lambda t: __import__("infantjax.train", fromlist=["x"]).CPConfig(scale="ab"))
case("trainconfig-nan-learning-rate", ConfigError, "learning_rate")(lambda t: _train_config(learning_rate=float("nan")))
case("trainconfig-inf-learning-rate", ConfigError, "learning_rate")(lambda t: _train_config(learning_rate=float("inf")))
case("trainconfig-string-epochs", ConfigError, "epochs")(lambda t: _train_config(epochs="10"))
case("trainconfig-unknown-optimizer", ConfigError, "optimizer")(lambda t: _train_config(optimizer="lbfgs"))


@case("gcnspec-string-integer", ConfigError, "num_classes")
def _(t):
    from infantjax.models.gcn import GCNSpec

    return GCNSpec(num_classes="two")


@case("gcnspec-json-string-integer", ConfigError, "num_classes")
def _(t):
    from infantjax.models.gcn import GCNSpec

    return GCNSpec.from_json(json.dumps({**GCNSpec.table_a4()[0].to_dict(), "num_classes": "two"}))


@case("stgcnspec-string-channels", ConfigError, "channels")
def _(t):
    from infantjax.models.gcn import STGCNSpec

    return STGCNSpec.from_dict({"channels": "a"})


@case("synth-cohort-unknown-difficulty-field", ConfigError, "foo")
def _(t):
    from infantjax import synth

    return synth.cohort("cp", n_subjects=2, duration_s=2, difficulty={"foo": 1})


@case("synth-cohort-string-recordings", ConfigError, "recordings_per_subject")
def _(t):
    from infantjax import synth

    return synth.cohort("cp", n_subjects=2, duration_s=2, recordings_per_subject="x")


@case("cpconfig-json-unknown-key", ConfigError, "colour")
def _(t):
    from infantjax.train import CPConfig

    return CPConfig.from_json('{"colour": 1}')


@case("cpconfig-json-wrong-type", ConfigError, "window")
def _(t):
    from infantjax.train import CPConfig

    return CPConfig.from_json('{"window": "long"}')


@case("gcnspec-dict-unknown-key", ConfigError, "wings")
def _(t):
    from infantjax.models.gcn import GCNSpec

    return GCNSpec.from_dict({**GCNSpec.table_a4()[0].to_dict(), "wings": 2})


@case("gcnspec-dict-wrong-type", ConfigError, "GCNSpec")
def _(t):
    from infantjax.models.gcn import GCNSpec

    return GCNSpec.from_dict({**GCNSpec.table_a4()[0].to_dict(), "input_width": "wide"})


@case("synth-cohort-non-integer-size", ConfigError, "n_subjects")
def _(t):
    from infantjax import synth

    return synth.cohort("cp", n_subjects=2.5)


@case("synth-cohort-none-size", ConfigError, "n_subjects")
def _(t):
    from infantjax import synth

    return synth.cohort("cp", n_subjects=None)


@case("synth-cohort-negative-seed", ConfigError, "seed")
def _(t):
    from infantjax import synth

    return synth.cohort("cp", n_subjects=2, seed=-1, duration_s=2)


# ------------------------------------------------------------------------------------------------ weights and checkpoints
def _h5(t, name, build):
    path = t / name
    with h5py.File(path, "w") as fh:
        build(fh)
    return path


def _keras_config(layers):
    return json.dumps({"class_name": "Model", "config": {"layers": layers}})


def _load_h5(path):
    from infantjax.io import load_efficientpose_h5

    return load_efficientpose_h5(path)


case("h5-not-hdf5", WeightsError, "not an HDF5")(lambda t: _load_h5(write(t, "x.h5", b"garbage" * 10)))
case("h5-no-model-config", WeightsError, "model_config")(lambda t: _load_h5(_h5(t, "a.h5", lambda fh: fh.create_group("x"))))


@case("h5-layers-not-dicts", WeightsError, "b.h5")
def _(t):
    def build(fh):
        fh.attrs["model_config"] = _keras_config([1, 2, 3])
        fh.create_group("model_weights")
    return _load_h5(_h5(t, "b.h5", build))


@case("h5-missing-layer-group", WeightsError, "c.h5")
def _(t):
    names = ["upscaled_confs", "pass3_detection2_confs", "pass1_block1_mbconv1_skeleton_conv2"]
    layers = [{"class_name": "Conv2D", "config": {"name": n, "filters": 40}} for n in names]

    def build(fh):
        fh.attrs["model_config"] = _keras_config(layers)
        group = fh.create_group("model_weights")
        group.attrs["layer_names"] = [b"upscaled_confs"]
    return _load_h5(_h5(t, "c.h5", build))


@case("h5-odd-layer-config", WeightsError, "d.h5")
def _(t):
    names = ["upscaled_confs", "pass3_detection2_confs", "pass1_block1_mbconv1_skeleton_conv2"]
    layers = [{"class_name": "Conv2D", "config": {"name": n, "filters": "many"}} for n in names]

    def build(fh):
        fh.attrs["model_config"] = _keras_config(layers)
        fh.create_group("model_weights")
    return _load_h5(_h5(t, "d.h5", build))


@case("h5-nan-weights", WeightsError, "NaN")
def _(t):
    import shutil

    from conftest import data_file

    path = t / "nan.h5"
    shutil.copy(data_file("efficientpose/keras/EfficientPoseRT_LITE.h5"), path)
    with h5py.File(path, "r+") as fh:
        def poison(name, obj):
            if isinstance(obj, h5py.Dataset) and obj.dtype.kind == "f" and not poison.done:
                obj[...] = np.nan
                poison.done = True
        poison.done = False
        fh["model_weights"].visititems(poison)
    return _load_h5(path)


FORMAT = "infantjax-pose-predictor-v1"


def _predictor_npz(t, meta, arrays=None):
    from infantjax.pipelines.pose import PosePredictor

    path = t / "p.npz"
    np.savez(path, __meta__=np.array(meta if isinstance(meta, str) else json.dumps(meta)),
             **(arrays or {"params/x": np.zeros(3, np.float32)}))
    return PosePredictor.load(path)


case("predictor-npz-garbage", CheckpointError, "g.npz")(
    lambda t: __import__("infantjax.pipelines.pose", fromlist=["x"]).PosePredictor.load(write(t, "g.npz", b"xx" * 30)))
case("predictor-npz-meta-not-json-object", CheckpointError, "format")(lambda t: _predictor_npz(t, "[1, 2]"))
case("predictor-npz-wrong-format", CheckpointError, "format")(lambda t: _predictor_npz(t, {"format": "other"}))
case("predictor-npz-spec-unknown-key", CheckpointError, "metadata")(
    lambda t: _predictor_npz(t, {"format": FORMAT, "spec": {"colour": 1}, "skeleton": "mpii-16"}))
case("predictor-npz-no-skeleton", CheckpointError, "metadata")(
    lambda t: _predictor_npz(t, {"format": FORMAT, "spec": {"variant": "rt"}}))
case("predictor-npz-nan-weights", CheckpointError, "finite")(
    lambda t: _predictor_npz(t, {"format": FORMAT, "spec": {"variant": "rt"}, "skeleton": "mpii-16"},
                             {"params/x": np.full(3, np.nan, np.float32)}))
case("predictor-npz-unknown-pretrained", ConfigError, "nope")(
    lambda t: __import__("infantjax.pipelines.pose", fromlist=["x"]).PosePredictor.pretrained("nope"))


def _load_ensemble(path):
    from infantjax import ensemble

    return ensemble.Ensemble.load(path)


case("ensemble-folder-missing", CheckpointError, "ensemble.json")(lambda t: _load_ensemble(t / "none"))
case("ensemble-folder-empty", CheckpointError, "ensemble.json")(lambda t: _load_ensemble(t))
case("ensemble-json-garbage", CheckpointError, "corrupt")(lambda t: _load_ensemble(write(t, "e/ensemble.json", "{{").parent))
case("ensemble-json-foreign", CheckpointError, "not an infantjax ensemble")(
    lambda t: _load_ensemble(write(t, "e/ensemble.json", '{"format": "keras"}').parent))


# ------------------------------------------------------------------------------------------------ labels and cohorts
def _read_cohort(t, labels: str, files=("a.csv",)):
    from infantjax.io import read_cohort

    for f in files:
        dlc_csv(t, f)
    write(t, "labels.csv", labels)
    return read_cohort(t)


case("labels-missing-file-column", KeypointFormatError, "file")(lambda t: _read_cohort(t, "name,label\na.csv,1\n"))
case("labels-no-rows", DataError, "no rows")(lambda t: _read_cohort(t, "file,label\n"))
case("labels-non-numeric", DataError, "not a number")(lambda t: _read_cohort(t, "file,label\na.csv,yes\n"))
case("labels-missing-recording", DataError, "does not exist")(lambda t: _read_cohort(t, "file,label\nb.csv,1\n"))
case("labels-duplicate-row", DataError, "twice")(lambda t: _read_cohort(t, "file,label\na.csv,1\na.csv,0\n"))
case("labels-nan-label", DataError, "label")(lambda t: _read_cohort(t, "file,label\na.csv,nan\n"))


# ------------------------------------------------------------------------------------------------ videos
def _video(path):
    from infantjax.io import open_video

    return open_video(path)


case("video-missing", VideoError, "v.mp4")(lambda t: _video(t / "v.mp4"))
case("video-empty", VideoError, "e.mp4")(lambda t: _video(write(t, "e.mp4", b"")))
case("video-garbage", VideoError, "g.mp4")(lambda t: _video(write(t, "g.mp4", b"\x00\x01garbage" * 200)))


@case("video-truncated", VideoError, "tr.mp4")
def _(t):
    from infantjax.io import write_video

    write_video(t / "ok.mp4", np.zeros((8, 32, 32, 3), np.uint8), fps=10)
    data = (t / "ok.mp4").read_bytes()
    with _video(write(t, "tr.mp4", data[: len(data) // 3])) as v:
        return v.get_batch(list(range(len(v))))


case("video-upright-not-a-bool", VideoError, "upright")(
    lambda t: __import__("infantjax.io", fromlist=["x"]).open_video(t / "v.mp4", upright="yes"))
case("video-writer-odd-rotation", VideoError, "rotation")(
    lambda t: __import__("infantjax.io", fromlist=["x"]).write_video(t / "r.mp4", np.zeros((2, 8, 8, 3), np.uint8),
                                                                    10, rotation=45))
case("video-writer-rotation-in-avi", VideoError, "rotation")(
    lambda t: __import__("infantjax.io", fromlist=["x"]).write_video(t / "r.avi", np.zeros((2, 8, 8, 3), np.uint8),
                                                                    10, rotation=90))
case("video-unknown-backend", VideoError, "backend")(
    lambda t: __import__("infantjax.io", fromlist=["x"]).open_video(t / "v.mp4", backend="vlc"))


# ------------------------------------------------------------------------------------------------ search journals
@case("search-journal-garbage-lines", ConfigError, "damaged")
def _(t):
    from infantjax.nas.store import SearchStore

    return SearchStore(str(write(t, "j.journal", "garbage\n{not json\n")), "s1").snapshot()


@case("verb-inputs-deeplabcut-h5-without-csv", DataError, "HDF5")
def _(t):
    from infantjax.commands._common import input_files

    write(t, "dlc/videoDLC_resnet50.h5", b"\x89HDF\r\n\x1a\n" + bytes(64))
    return input_files(t / "dlc", {".csv", ".h5", ".npz"}, "keypoint files")  # smartphone predict's inputs


@case("verb-inputs-per-image-labels", DataError, "labelled images")
def _(t):
    from infantjax.commands._common import read_recording
    from infantjax.skeleton import get

    names = list(get("passmore-18").labels)
    doc = {"images": [{"id": i, "file_name": f"{i}.jpg"} for i in range(3)],
           "annotations": [{"id": i, "image_id": i, "category_id": 1, "keypoints": [9.0, 9.0, 2] * 18}
                           for i in range(3)],
           "categories": [{"id": 1, "name": "infant", "keypoints": names}]}
    return read_recording(write(t, "labels.json", json.dumps(doc)), skeleton="passmore-18")


@case("search-journal-unknown-op-code", ConfigError, "line 2")
def _(t):
    from infantjax.nas.store import SearchStore

    journal = write(t, "ops.journal", '{"op_code": 0, "worker_id": "w", "study_name": "s1", "directions": [1]}\n'
                                      '{"op_code": 99, "worker_id": "w"}\n')
    return SearchStore(str(journal), "s1").snapshot()


# ------------------------------------------------------------------------------------------------ the library cases
#: the cases whose file reaches FFmpeg (PyAV); the others are refused before it is imported
PYAV_CASES = {"video-garbage", "video-truncated"}


@pytest.mark.parametrize("entry", [
    pytest.param(c, id=c.id, marks=pytest.mark.needs("av") if c.id in PYAV_CASES else ()) for c in CASES])
def test_damaged_input_raises_a_typed_error_naming_it(entry: Case, tmp_path):
    with pytest.raises(InfantJaxError) as info:
        entry.run(tmp_path)
    assert isinstance(info.value, entry.error), f"{type(info.value).__name__}: {info.value}"
    for name in entry.names:
        assert name.lower() in str(info.value).lower(), str(info.value)


# ------------------------------------------------------------------------------------------------ the CLI cases
def fake_ensemble(folder: pathlib.Path, **changes) -> pathlib.Path:
    """An ensemble folder holding only a valid ``ensemble.json`` (no variables: an interrupted save), with
    ``changes`` applied to the record."""
    from _train_utils import SMALL, tiny_gcn_spec

    from infantjax.ensemble import FORMAT

    record = {"format": FORMAT, "version": 1, "specs": [{"type": "GCNSpec", **tiny_gcn_spec().to_dict()}],
              "stack_sizes": [2], "config": SMALL.to_dict(), "threshold": 0.5, "fold_auc": [[0.5, 0.5]],
              "metadata": {}, **changes}
    write(folder, "ensemble.json", json.dumps(record))
    return folder


#: (argv with {t} for the test's folder, {rec} for a valid keypoint file, {ens} for an ensemble whose variables are
#: missing), a word the one-line message must contain, and optionally environment variables to set
CLI_CASES = {
    "cli-predict-missing-ensemble": ("predict {t}/none {rec}", "ensemble.json"),
    "cli-predict-foreign-ensemble": ("predict {t}/foreign {rec}", "not an infantjax ensemble"),
    "cli-predict-half-written-ensemble": ("predict {ens} {rec}", "variables"),
    "cli-predict-non-numeric-threshold": ("predict {t}/thr {rec}", "threshold"),
    "cli-predict-nan-threshold-flag": ("predict {ens} {rec} --threshold nan", "--threshold"),
    "cli-predict-threshold-above-one": ("predict {ens} {rec} --threshold 3", "--threshold"),
    "cli-predict-out-onto-file": ("predict {ens} {rec} --out {rec}", "--out"),
    "cli-predict-report-onto-file": ("predict {ens} {rec} --report {rec}", "--report"),
    "cli-predict-garbage-input": ("predict {ens} {t}/bad.csv", "bad.csv"),
    "cli-predict-missing-input": ("predict {ens} {t}/none.csv", "none.csv"),
    "cli-predict-labels-non-binary": ("predict {ens} {t}/lab --report {t}/r --labels {t}/lab/labels.csv", "label"),
    "cli-predict-labels-missing-recording": (
        "predict {ens} {t}/lab2 --report {t}/r --labels {t}/other.csv", "no row"),
    "cli-predict-zero-fps": ("predict {ens} {rec} --fps 0", "--fps"),
    "cli-train-missing-data": ("train --data {t}/none --out {t}/o", "none"),
    "cli-train-specs-unknown-key": ("train --data {t} --specs {t}/specs.json --out {t}/o", "wings"),
    "cli-train-specs-wrong-type": ("train --data {t} --specs {t}/specs2.json --out {t}/o", "input_width"),
    "cli-train-specs-out-of-range": ("train --data {t} --specs table-a4:11 --out {t}/o", "table-a4"),
    "cli-train-zero-window": ("train --data {t} --window 0 --out {t}/o", "window"),
    "cli-train-nan-learning-rate": ("train --data {t} --learning-rate nan --out {t}/o", "learning_rate"),
    "cli-train-config-unknown-key": ("train --data {t} --config {t}/c.json --out {t}/o", "colour"),
    "cli-train-config-bad-scale": ("train --data {t} --config {t}/c2.json --out {t}/o", "scale"),
    "cli-train-zero-folds": ("train --data {t} --folds 0 --out {t}/o", "folds"),
    "cli-train-negative-seed": ("train --data {t} --seed -3 --out {t}/o", "seed"),
    "cli-train-labels-missing": ("train --data {t} --labels {t}/none.csv --out {t}/o", "none.csv"),
    "cli-synth-negative-seed": ("synth --subjects 2 --seed -1 --out {t}/s", "seed"),
    "cli-synth-zero-subjects": ("synth --subjects 0 --out {t}/s", "subjects"),
    "cli-synth-out-onto-file": ("synth --subjects 1 --duration 1 --out {rec}", "--out"),
    "cli-synth-zero-duration": ("synth --subjects 1 --duration 0 --out {t}/s", "duration"),
    "cli-synth-bad-fps": ("synth --subjects 1 --fps fast --out {t}/s", "--fps"),
    "cli-pose-missing-weights": ("pose {rec} --weights {t}/w.npz --out {t}/k.csv", "w.npz"),
    "cli-pose-zero-stride": ("pose {rec} --weights rt-synthetic-infant --stride 0 --out {t}/k.csv", "stride"),
    "cli-search-status-garbage-journal": ("search status s1 --storage {t}/j.journal", "damaged"),
    "cli-search-status-missing-journal": ("search status s1 --storage {t}/none.journal", "none.journal"),
    "cli-search-status-default-journal-absent": ("search status s1", "search.journal"),
    "cli-search-run-no-data": ("search run --storage {t}/n.journal --name x", "--data"),
    "cli-search-run-bad-train-json": (
        "search run --storage {t}/n.journal --name x --synthetic 4 --train [1", "--train"),
    "cli-search-run-storage-folder-missing": ("search run --storage {t}/no/n.journal --name x --synthetic 4",
                                              "does not exist"),
    "cli-search-export-zero-top": ("search export s1 --storage {t}/j.journal --top 0", "--top"),
    "cli-train-specs-string-channels": ("train --data {t} --specs {t}/specs3.json --out {t}/o", "channels"),
    "cli-train-specs-string-num-classes": ("train --data {t} --specs {t}/specs4.json --out {t}/o", "num_classes"),
    "cli-search-status-unknown-op-code": ("search status s1 --storage {t}/ops.journal", "line 2"),
    "cli-search-work-bad-device-index": ("search work --storage {t}/j.journal --name s1", "INFANTJAX_DEVICE_INDEX",
                                         {"INFANTJAX_DEVICE_INDEX": "abc"}),
    "cli-predict-per-image-labels": ("predict {ens} {t}/coco.json", "labelled images"),
    "cli-predict-lone-h5": ("predict {ens} {t}/h5only", "HDF5"),
    "cli-predict-h5-file": ("predict {ens} {t}/h5only/rec.h5", "HDF5"),
    "cli-predict-implausible-coordinate": ("predict {ens} {t}/far.csv", "implausible"),
    "cli-predict-dlc-evaluation-table": ("predict {ens} {t}/dist_5.csv", "evaluation"),
}


def _cli_files(t: pathlib.Path) -> dict[str, str]:
    rec = dlc_csv(t, "rec.csv")
    write(t, "bad.csv", b"\x00\x01" * 40)
    write(t, "specs.json", json.dumps([{"type": "STGCNSpec", "wings": 2}]))
    write(t, "specs2.json", json.dumps([{"type": "GCNSpec", "input_width": "wide"}]))
    write(t, "c.json", '{"colour": "ab"}')
    write(t, "c2.json", '{"scale": "ab"}')
    dlc_csv(t / "lab", "rec.csv")
    write(t, "lab/labels.csv", "file,label\nrec.csv,maybe\n")
    dlc_csv(t / "lab2", "rec.csv")
    write(t, "other.csv", "file,label\nsomething.csv,1\n")
    write(t, "j.journal", "garbage\n{not json\n")
    write(t, "ops.journal", '{"op_code": 0, "worker_id": "w", "study_name": "s1", "directions": [1]}\n'
                            '{"op_code": 99, "worker_id": "w"}\n')
    write(t, "specs3.json", json.dumps([{"type": "STGCNSpec", "channels": "a"}]))
    write(t, "specs4.json", json.dumps([{"type": "GCNSpec", "num_classes": "two"}]))
    coco = {"images": [{"id": i, "file_name": f"img{i}.jpg"} for i in range(3)],
            "annotations": [{"id": i, "image_id": i, "category_id": 1, "keypoints": [10.0, 20.0, 2] * 19}
                            for i in range(3)],
            "categories": [{"id": 1, "name": "infant", "keypoints": list(_in_motion_labels())}]}
    write(t, "coco.json", json.dumps(coco))
    write(t, "h5only/rec.h5", b"\x89HDF\r\n\x1a\n" + bytes(64))
    lines = rec.read_text().splitlines()
    cells = lines[5].split(",")
    cells[2] = "3e38"
    lines[5] = ",".join(cells)
    write(t, "far.csv", "\n".join(lines) + "\n")
    write(t, "dist_5.csv", "scorer,s,s\nindividuals,m,m\nbodyparts,snout,snout\nmetrics,rmse,conf\nimg.png,1.0,0.9\n")
    write(t, "foreign/ensemble.json", '{"format": "keras"}')
    fake_ensemble(t / "thr", threshold="high")
    return {"t": str(t), "rec": str(rec), "ens": str(fake_ensemble(t / "ens"))}


def _in_motion_labels():
    from infantjax.skeleton import get

    return get("in-motion-19").labels


@pytest.mark.parametrize("name", list(CLI_CASES))
def test_damaged_cli_input_exits_2_with_one_line(name, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("INFANTJAX_STORAGE", raising=False)
    command, word, *env = CLI_CASES[name]
    for key, value in (env[0] if env else {}).items():
        monkeypatch.setenv(key, value)
    argv = command.format(**_cli_files(tmp_path)).split()
    code = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2, err
    assert len(err) == 1 and err[0].startswith(f"infantjax {argv[0]}: error:"), err
    assert word.lower() in err[0].lower(), err[0]
    assert not (tmp_path / "search.journal").exists()  # reading verbs never create a journal


def test_debug_flag_shows_the_traceback(tmp_path, capsys):
    code = main(["--debug", "predict", str(tmp_path / "none"), str(dlc_csv(tmp_path))])
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" in err and "CheckpointError" in err
    assert err.strip().splitlines()[-1].startswith("infantjax predict: error:")


def test_the_corpus_covers_every_reader_and_verb():
    assert len(CASES) + len(CLI_CASES) >= 60
    verbs = {i.split("-")[1] for i in CLI_CASES}
    assert {"predict", "train", "synth", "pose", "search"} <= verbs
    assert all(issubclass(c.error, errors.InfantJaxError) for c in CASES)
