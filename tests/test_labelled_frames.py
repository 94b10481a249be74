"""Labelled frames as labs keep them (infantjax.io.labelled): DeepLabCut projects (one and three index columns, a
multi-animal project), CVAT's COCO keypoint export, the split by video, the lab's own skeleton, and every bad input
ending in a LabelledDataError that names what to do. The fixtures in tests/data/labelled are written the way
DeepLabCut and CVAT write them (tests/data/README.md)."""

from __future__ import annotations

import dataclasses
import json
import shutil

import numpy as np
import pytest

from infantjax.errors import LabelledDataError
from infantjax.io.labelled import (
    PIXEL_CENTRE,
    lab_skeleton,
    read_labelled,
    write_coco,
    write_deeplabcut,
)
from infantjax.skeleton import get

LABELLED = "labelled"


@pytest.fixture
def project(data_dir, tmp_path):
    """A copy of the DeepLabCut fixture to change."""
    return shutil.copytree(data_dir / LABELLED / "dlc-project", tmp_path / "project")


def test_a_deeplabcut_project_with_one_and_three_index_columns(data_dir):
    frames = read_labelled(data_dir / LABELLED / "dlc-project")
    # baby01 (DeepLabCut 2.2: one index column) and baby02 (2.3: three); img042 has no label at all: left out
    assert frames.images == ("labeled-data/baby01/img000.png", "labeled-data/baby01/img017.png",
                             "labeled-data/baby02/img004.png", "labeled-data/baby02/img051.png")
    assert frames.videos == ("baby01", "baby02") and frames.groups[2] == "baby02"
    assert frames.parts == ("nose", "LShoulder", "RShoulder", "LWrist", "RWrist") and frames.scorer == "Ana"
    assert frames.skeleton.keypoints == ("nose", "left_shoulder", "right_shoulder", "left_wrist", "right_wrist")
    assert frames.edges_from == "project"
    assert {tuple(sorted(e)) for e in frames.skeleton.edges} == {(1, 3), (2, 4), (0, 1), (0, 2)}
    assert set(frames.skeleton.flip_pairs) == {(1, 2), (3, 4)}  # for the flip augmentation
    np.testing.assert_allclose(frames.keypoints[0, 0], [20.5, 8.25])
    # an empty cell is missing, never (0, 0)
    assert np.isnan(frames.keypoints[1, 2]).all() and frames.labelled[1].tolist() == [True, True, False, True, True]
    assert frames.sizes.tolist() == [[30, 40]] * 4
    assert frames.image(0).shape == (30, 40, 3) and frames.image(0).dtype == np.uint8
    np.testing.assert_allclose(frames.network_pixels(0), frames.keypoints[0] + PIXEL_CENTRE)


def test_a_multi_animal_project_with_one_individual(data_dir):
    frames = read_labelled(data_dir / LABELLED / "dlc-multianimal")
    assert frames.parts == ("head", "left_hand", "right_hand") and len(frames) == 2
    assert np.isnan(frames.keypoints[1, 1]).all()
    assert frames.edges_from == "project" and frames.skeleton.flip_pairs == ((1, 2),)


def test_cvat_coco_keypoints_with_visibility(data_dir):
    path = data_dir / LABELLED / "cvat-coco" / "annotations" / "person_keypoints_default.json"
    frames = read_labelled(path)
    assert frames.source == "coco" and len(frames) == 3
    assert frames.root == data_dir / LABELLED / "cvat-coco" / "images"  # found beside the annotations
    assert frames.videos == ("frame",)  # CVAT names frames frame_NNNNNN: one video
    assert np.isnan(frames.keypoints[1, 2]).all()  # v = 0: not labelled
    assert frames.visible[0].tolist() == [True, True, True, True, False]  # v = 1: labelled, hidden
    assert frames.labelled[0].all()
    np.testing.assert_allclose(frames.boxes[0], [12, 8, 16, 13])
    # the folder holding the file is read as the file
    assert read_labelled(data_dir / LABELLED / "cvat-coco").images == frames.images


def test_coco_round_trip_keeps_labels_visibility_and_skeleton(data_dir, tmp_path):
    frames = read_labelled(data_dir / LABELLED / "dlc-project")
    out = write_coco(tmp_path / "coco.json", frames)
    back = read_labelled(out, images=frames.root)
    np.testing.assert_allclose(back.keypoints, frames.keypoints, atol=1e-3)
    assert back.parts == frames.parts and back.visible.tolist() == frames.visible.tolist()
    assert {tuple(e) for e in back.skeleton.edges} == {tuple(e) for e in frames.skeleton.edges}
    doc = json.loads(out.read_text())
    assert all(im["width"] == 40 and im["height"] == 30 for im in doc["images"])
    unknown = dataclasses.replace(frames, sizes=np.zeros_like(frames.sizes))  # a size not known: left out, not 0
    doc = json.loads(write_coco(tmp_path / "unknown.json", unknown).read_text())
    assert not any("width" in im or "height" in im for im in doc["images"])


def test_written_project_reads_back(tmp_path):
    rng = np.random.default_rng(0)
    kp = np.array([[[5.0, 6.0], [20.0, 10.0], [np.nan, np.nan]], [[7.0, 8.0], [21.0, 11.0], [30.0, 20.0]]])
    images = [(f"img{i:04d}.png", rng.integers(0, 255, (24, 36, 3), dtype=np.uint8)) for i in range(2)]
    write_deeplabcut(tmp_path / "p", {"v1": images, "v2": images}, ["a", "b", "c"],
                     keypoints={"v1": kp, "v2": kp}, edges=[(0, 1)])
    frames = read_labelled(tmp_path / "p")
    assert frames.videos == ("v1", "v2") and len(frames) == 4 and frames.edges_from == "project"
    np.testing.assert_allclose(frames.keypoints[:2], kp)
    np.testing.assert_array_equal(frames.image(1), images[1][1])


def test_split_holds_out_whole_videos_or_says_it_splits_frames(tmp_path):
    rng = np.random.default_rng(1)
    kp = {f"v{i}": rng.uniform(2, 20, (3, 2, 2)) for i in range(10)}
    imgs = {v: [(f"img{j:03d}.png", np.zeros((24, 24, 3), np.uint8)) for j in range(3)] for v in kp}
    write_deeplabcut(tmp_path / "p", imgs, ["a", "b"], keypoints=kp)
    frames = read_labelled(tmp_path / "p")
    train, test, record = frames.split(0.2, seed=3)
    assert record["by"] == "video" and len(record["held_out"]) == 2
    assert not set(train.groups) & set(test.groups) and set(test.groups) == set(record["held_out"])
    assert frames.split(0.2, seed=3)[2] == record  # the same seed, the same split
    train, test, record = frames.split(videos=["v1"])
    assert set(test.groups) == {"v1"} and len(train) == 27
    one = frames.subset(np.nonzero(np.asarray(frames.groups) == "v0")[0])
    train, test, record = one.split(0.34)
    assert record["by"] == "frame" and "fewer than 3" in record["why"] and len(test) == 1
    with pytest.raises(LabelledDataError, match="not in"):
        frames.split(videos=["v99"])


def test_in_motion_19_names_are_put_in_in_motion_order():
    im19 = get("in-motion-19")
    names = [n.replace("_", " ").title().replace(" ", "") for n in reversed(im19.keypoints)]  # LeftAnkle ...
    skel, order, how = lab_skeleton(names, None, "lab")
    assert skel.name == "in-motion-19" and how == "in-motion-19" and skel.keypoints == im19.keypoints
    assert [names[i] for i in order] == list(skel.labels)


def test_edges_are_derived_when_the_project_has_none():
    kp = np.array([[[0.0, 0.0], [1.0, 0.0], [10.0, 0.0], [11.0, 0.0]]] * 3)
    skel, _, how = lab_skeleton(["a", "b", "c", "d"], None, "x", kp)
    assert how == "derived" and {tuple(e) for e in skel.edges} == {(0, 1), (1, 2), (2, 3)}


def _rewrite(path, old, new):
    path.write_text(path.read_text().replace(old, new))


@pytest.mark.parametrize("damage, message", [
    ("missing image", "does not exist"),
    ("label outside", "outside the 40x30 image"),
    ("parts differ", "labels body parts"),
    ("no labelled frame", "no labelled frame"),
    ("no labeled-data", "no frame has been labelled"),
    ("config parts", "not config.yaml's"),
    ("truncated", "looks truncated"),
    ("not a number", "is not a number"),
    ("only h5", "HDF5"),
    ("bad yaml", "not valid YAML"),
])
def test_a_damaged_deeplabcut_project_is_a_typed_error(project, damage, message):
    data = project / "labeled-data"
    csv1, csv2 = data / "baby01" / "CollectedData_Ana.csv", data / "baby02" / "CollectedData_Ana.csv"
    if damage == "missing image":
        (data / "baby01" / "img017.png").unlink()
    elif damage == "label outside":
        _rewrite(csv1, "28.5,21.0", "48.5,21.0")
    elif damage == "parts differ":
        _rewrite(csv2, "RWrist,RWrist", "RAnkle,RAnkle")
    elif damage == "no labelled frame":
        for f in (csv1, csv2):
            lines = f.read_text().splitlines()
            f.write_text("\n".join(lines[:3] + [",".join(c if i < (3 if f == csv2 else 1) else ""
                                                          for i, c in enumerate(line.split(",")))
                                                 for line in lines[3:]]) + "\n")
    elif damage == "no labeled-data":
        shutil.rmtree(data)
    elif damage == "config parts":
        _rewrite(project / "config.yaml", "- RWrist", "- RWrist\n- tail")
    elif damage == "truncated":
        csv1.write_text(csv1.read_text()[:-20])
    elif damage == "not a number":
        _rewrite(csv1, "20.5,8.25", "20.5,eight")
    elif damage == "only h5":
        for f in (csv1, csv2):
            f.rename(f.with_suffix(".h5"))
    elif damage == "bad yaml":
        (project / "config.yaml").write_text("bodyparts: [nose\n  - x: :")
    with pytest.raises(LabelledDataError, match=message):
        read_labelled(project)


def test_several_individuals_need_one_named(data_dir, tmp_path):
    project = shutil.copytree(data_dir / LABELLED / "dlc-multianimal", tmp_path / "ma")
    csv = project / "labeled-data" / "baby03" / "CollectedData_Ben.csv"
    lines = csv.read_text().splitlines()
    lines[0] += "," + ",".join(["Ben"] * 6)
    lines[1] += "," + ",".join(["sibling"] * 6)
    lines[2] += ",head,head,left_hand,left_hand,right_hand,right_hand"
    lines[3] += "," + ",".join(["x", "y"] * 3)
    lines[4] += ",5.0,5.0,,,9.0,9.0"
    lines[5] += ",6.0,6.0,,,,"
    csv.write_text("\n".join(lines) + "\n")
    _rewrite(project / "config.yaml", "- baby\n", "- baby\n- sibling\n")
    with pytest.raises(LabelledDataError, match="--individual"):
        read_labelled(project)
    baby, sibling = read_labelled(project, individual="baby"), read_labelled(project, individual="sibling")
    assert baby.parts == sibling.parts == ("head", "left_hand", "right_hand")
    np.testing.assert_allclose(baby.keypoints[0, 0], [20.0, 6.0])
    np.testing.assert_allclose(sibling.keypoints[0, 0], [5.0, 5.0])
    with pytest.raises(LabelledDataError, match="no individual 'cousin'"):
        read_labelled(project, individual="cousin")


@pytest.mark.parametrize("damage, message", [
    ("two skeletons", "two skeletons"),
    ("missing image", "pass the image folder"),
    ("nothing labelled", "no annotation labels a keypoint"),
    ("wrong count", "keypoint values"),
])
def test_a_damaged_coco_file_is_a_typed_error(data_dir, tmp_path, damage, message):
    src = data_dir / LABELLED / "cvat-coco"
    folder = shutil.copytree(src, tmp_path / "coco")
    path = folder / "annotations" / "person_keypoints_default.json"
    doc = json.loads(path.read_text())
    if damage == "two skeletons":
        doc["categories"].append({"id": 2, "name": "parent", "keypoints": ["a", "b"], "skeleton": []})
        doc["annotations"][1]["category_id"] = 2
        doc["annotations"][1]["keypoints"] = [1, 1, 2, 2, 2, 2]
    elif damage == "missing image":
        shutil.rmtree(folder / "images")
    elif damage == "nothing labelled":
        for a in doc["annotations"]:
            a["keypoints"] = [0] * 15
    elif damage == "wrong count":
        doc["annotations"][0]["keypoints"] = doc["annotations"][0]["keypoints"][:-3]
    path.write_text(json.dumps(doc))
    with pytest.raises(LabelledDataError, match=message):
        read_labelled(path)


def test_a_path_that_is_no_labelled_project(tmp_path):
    with pytest.raises(LabelledDataError, match="does not exist"):
        read_labelled(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(LabelledDataError, match="neither a DeepLabCut project"):
        read_labelled(tmp_path / "empty")
