"""Keypoint readers and writers: the real Passmore DLC labels, round trips, format detection, malformed input."""

from __future__ import annotations

import collections
import json
import sys

import numpy as np
import pytest

from infantjax import skeleton
from infantjax.errors import DataError, InfantJaxError, KeypointFormatError, SkeletonMismatchError
from infantjax.io import FORMATS, detect_format, read_keypoints, write_keypoints
from infantjax.sequence import SkeletonSequence

PASSMORE_MAT = "passmore-dlc-labels/BabyMoves_V1_Human195shuffle1.mat"
PASSMORE_LONG = "passmore-dlc-labels/labels_long.csv"


def _sequence(skel="in-motion-19", frames=7, dims=2, confidence=True, seed=0) -> SkeletonSequence:
    rng = np.random.default_rng(seed)
    k = skeleton.get(skel).num_keypoints
    coords = rng.uniform(0, 640, size=(frames, k, dims)).astype(np.float32)
    coords[1, 3] = np.nan
    coords[4, :2] = np.nan
    conf = rng.uniform(0.05, 1, size=(frames, k)).astype(np.float32) if confidence else None
    return SkeletonSequence(coords, 25.0, skel, conf, {"subject": "s1"})


# ------------------------------------------------------------------ the real annotations (README figures)
def test_dlc_mat_reproduces_passmore_label_counts(data_dir):
    seq = read_keypoints(data_dir / PASSMORE_MAT)
    assert seq.metadata["format"] == "dlc-mat" and seq.metadata["time_series"] is False
    assert seq.skeleton.name == "passmore-18"  # inferred from pose_cfg.yaml's joint names via Skeleton.labels
    assert seq.num_frames == 475
    videos = {image.split("/")[1] for image in seq.metadata["images"]}
    assert len(videos) == 100
    labelled = ~np.isnan(seq.coords).any(axis=-1)
    assert int(labelled.sum()) == 7346
    sizes = collections.Counter(tuple(s) for s in seq.metadata["image_sizes"])
    assert sizes == {(360, 480): 353, (480, 720): 114, (480, 640): 8}
    per_joint = dict(zip(seq.skeleton.labels, labelled.sum(axis=0).tolist()))
    assert per_joint["Crown"] == 472 and per_joint["LHeel"] == 239
    assert max(per_joint.values()) == 472 and min(per_joint.values()) == 239
    assert labelled.sum(axis=1).min() >= 1 and labelled.sum(axis=1).max() == 18
    # all labelled points lie inside their image
    hw = np.asarray(seq.metadata["image_sizes"], dtype=np.float32)
    x, y = seq.coords[..., 0], seq.coords[..., 1]
    assert np.all((x[labelled] >= 0) & (y[labelled] >= 0))
    assert np.all(x[labelled] < np.broadcast_to(hw[:, 1:2], x.shape)[labelled])
    assert np.all(y[labelled] < np.broadcast_to(hw[:, 0:1], y.shape)[labelled])
    # first frame, first joint as in the README's example
    assert seq.metadata["images"][0] == "labeled-data/Participant_162040_-_Video_1/img4383.png"
    np.testing.assert_array_equal(seq.coords[0, 0], [169, 266])


def test_labels_long_csv_agrees_with_mat_point_for_point(data_dir):
    mat = read_keypoints(data_dir / PASSMORE_MAT)
    long = read_keypoints(data_dir / PASSMORE_LONG)
    assert long.metadata["format"] == "long-csv" and long.skeleton.name == "passmore-18"
    assert long.metadata["images"] == mat.metadata["images"]
    assert long.metadata["image_sizes"] == mat.metadata["image_sizes"]
    np.testing.assert_array_equal(long.coords, mat.coords)  # NaN in the same places, every value identical


def test_passmore_round_trips_through_every_per_image_format(data_dir, tmp_path):
    mat = read_keypoints(data_dir / PASSMORE_MAT)
    for fmt, name in (("dlc-mat", "a.mat"), ("long-csv", "a.csv"), ("coco", "a.json"), ("dlc-csv", "b.csv"),
                      ("npz", "a.npz")):
        back = read_keypoints(write_keypoints(tmp_path / name, mat, format=fmt))
        assert back.skeleton.name == "passmore-18", fmt
        np.testing.assert_array_equal(back.coords, mat.coords, err_msg=fmt)
        assert back.metadata["images"] == mat.metadata["images"], fmt


# ------------------------------------------------------------------ round trips of every writable format
@pytest.mark.parametrize("fmt,name", [("dlc-csv", "x.csv"), ("part-csv", "x.csv"), ("long-csv", "x.csv"),
                                      ("openpose", "op"), ("coco", "x.json"), ("dlc-mat", "x.mat"),
                                      ("npz", "x.npz")])
def test_round_trip(tmp_path, fmt, name):
    seq = _sequence("in-motion-19")
    if fmt in ("dlc-mat", "coco", "openpose"):  # formats without a place for confidences lose them
        seq = seq.replace(confidence=None) if fmt != "openpose" else seq
    path = write_keypoints(tmp_path / name, seq, format=fmt)
    assert detect_format(path) == fmt
    back = read_keypoints(path, fps=25.0)
    assert back.metadata["format"] == fmt
    assert back.skeleton.name == "in-motion-19"  # In-Motion names → in-motion-19
    assert back.coords.dtype == np.float32 and back.coords.shape == seq.coords.shape
    np.testing.assert_array_equal(back.coords, seq.coords)
    if fmt in ("dlc-csv", "part-csv", "long-csv", "npz", "openpose"):
        present = ~np.isnan(seq.coords).any(axis=-1)
        np.testing.assert_array_equal(back.confidence[present], seq.confidence[present])
    assert not list(tmp_path.glob(".*.tmp")), "temporary files left behind"



def test_coco_round_trip_keeps_frame_times_and_image_sizes(tmp_path):
    """A video's keypoints written as COCO: every image has its width and height (the upright frame size) and its
    frame time, and reading the file back gives the recording with the same times, frame rate and size."""
    times = np.array([0.0, 0.033, 0.07, 0.1, 0.2, 0.233, 0.3])  # a phone's variable frame rate
    seq = _sequence(confidence=False).replace(times=times, metadata={"image_hw": [480, 640], "source": "v.mp4"})
    path = write_keypoints(tmp_path / "v.json", seq)
    doc = json.loads(path.read_text())
    assert all((im["height"], im["width"]) == (480, 640) for im in doc["images"])
    assert [im["frame_time"] for im in doc["images"]] == times.tolist()
    back = read_keypoints(path)
    np.testing.assert_array_equal(back.times, times)
    assert back.fps == seq.fps and back.metadata["image_hw"] == [480, 640]
    assert back.metadata.get("time_series") is not False  # a recording in time, not unrelated labelled images
    np.testing.assert_array_equal(back.coords, seq.coords)
    again = json.loads(write_keypoints(tmp_path / "again.json", back).read_text())
    assert again["images"] == doc["images"]

    # no size known: width and height are left out, not written as 0; evenly spaced frames keep their times too
    plain = write_keypoints(tmp_path / "plain.json", _sequence(confidence=False))
    images = json.loads(plain.read_text())["images"]
    assert not any("width" in im or "height" in im for im in images)
    np.testing.assert_allclose(read_keypoints(plain).frame_times, np.arange(7) / 25.0)
    # a per-image label set has no frame times and stays one
    labels = _sequence(confidence=False).replace(metadata={"time_series": False, "images": [f"i{t}.png" for t in
                                                                                            range(7)]})
    images = json.loads(write_keypoints(tmp_path / "labels.json", labels).read_text())["images"]
    assert not any("frame_time" in im for im in images)
    assert read_keypoints(tmp_path / "labels.json").metadata["time_series"] is False

def test_npz_keeps_everything(tmp_path):
    seq = _sequence("passmore-18", dims=3)
    seq = seq.replace(metadata={"subject": "s1", "age_weeks": 12, "nested": {"a": [1, 2]}})
    back = read_keypoints(write_keypoints(tmp_path / "s.npz", seq))
    assert back.fps == 25.0 and back.skeleton is skeleton.get("passmore-18")
    np.testing.assert_array_equal(back.coords, seq.coords)
    np.testing.assert_array_equal(back.confidence, seq.confidence)
    assert back.metadata["nested"] == {"a": [1, 2]} and back.metadata["age_weeks"] == 12
    with np.load(tmp_path / "s.npz", allow_pickle=False) as z:  # readable without pickle
        assert set(z.files) >= {"coords", "confidence", "fps", "skeleton", "metadata"}


def test_npz_round_trips_a_custom_skeleton(tmp_path, caplog):
    csv = tmp_path / "mouse.csv"
    csv.write_text("frame,snout_x,snout_y,tail_x,tail_y\n0,1,2,3,4\n1,5,6,,\n")
    seq = read_keypoints(csv)
    assert seq.skeleton.keypoints == ("snout", "tail")
    back = read_keypoints(write_keypoints(tmp_path / "m.npz", seq))
    assert back.skeleton.keypoints == ("snout", "tail")
    np.testing.assert_array_equal(back.coords, [[[1, 2], [3, 4]], [[5, 6], [np.nan, np.nan]]])


def test_dlc_csv_layout_and_likelihood(tmp_path):
    text = ("scorer,DLC_resnet50,DLC_resnet50,DLC_resnet50,DLC_resnet50,DLC_resnet50,DLC_resnet50\n"
            "bodyparts,Crown,Crown,Crown,LEye,LEye,LEye\n"
            "coords,x,y,likelihood,x,y,likelihood\n"
            "0,10.5,20.25,0.9,11,21,0.1\n"
            "1,12,22,0.8,,,0.0\n")
    path = tmp_path / "video1DLC_resnet50.csv"
    path.write_text(text)
    seq = read_keypoints(path, fps=30)
    assert seq.skeleton.name == "passmore-18"  # a subset of the Passmore names: the others are NaN
    assert seq.metadata["scorer"] == "DLC_resnet50"
    np.testing.assert_array_equal(seq.coords[:, 0], [[10.5, 20.25], [12, 22]])
    np.testing.assert_array_equal(seq.coords[1, 1], [np.nan, np.nan])
    np.testing.assert_allclose(seq.confidence[:, :2], [[0.9, 0.1], [0.8, 0.0]])
    assert np.isnan(seq.coords[:, 2:]).all()
    # a written file has the three DeepLabCut header rows and is read back identically
    out = write_keypoints(tmp_path / "out.csv", seq)
    lines = out.read_text().splitlines()
    assert lines[0].startswith("scorer,DLC_resnet50") and lines[1].startswith("bodyparts,Crown,Crown,Crown,LEye")
    assert lines[2].startswith("coords,x,y,likelihood,x,y,likelihood")
    np.testing.assert_array_equal(read_keypoints(out).coords, seq.coords)


def test_dlc_collected_data_with_image_index(tmp_path):
    text = ("scorer,,,me,me\nbodyparts,,,Crown,Crown\ncoords,,,x,y\n"
            "labeled-data,vid1,img001.png,5,6\nlabeled-data,vid1,img002.png,7,8\n")
    (tmp_path / "CollectedData_me.csv").write_text(text)
    seq = read_keypoints(tmp_path / "CollectedData_me.csv")
    assert seq.confidence is None
    assert seq.metadata["images"] == ["labeled-data/vid1/img001.png", "labeled-data/vid1/img002.png"]
    np.testing.assert_array_equal(seq.coords[:, 0], [[5, 6], [7, 8]])


def test_part_csv_reads_reference_layout_in_header_order(tmp_path):
    names = list(skeleton.get("in-motion-19").keypoints)
    shuffled = names[::-1] + ["extra"]  # any column order; unlisted parts are ignored with skeleton=
    header = ["frame"] + [f"{n}_{d}" for n in shuffled for d in "xy"]
    rows = [[str(t)] + [str(100 * t + i + 0.5 * (d == "y")) for i, n in enumerate(shuffled) for d in "xy"]
            for t in range(3)]
    path = tmp_path / "orgcoords_001.csv"
    path.write_text("\n".join(",".join(r) for r in [header] + rows) + "\n")
    seq = read_keypoints(path, skeleton="in-motion-19")
    assert seq.skeleton.name == "in-motion-19" and seq.num_frames == 3 and seq.confidence is None
    i = shuffled.index("thorax")
    np.testing.assert_array_equal(seq.coords[:, 8], [[100 * t + i, 100 * t + i + 0.5] for t in range(3)])
    with pytest.raises(SkeletonMismatchError, match="pelvis"):
        read_keypoints(_drop_column(tmp_path, path, "pelvis"), skeleton="in-motion-19")


def test_part_csv_is_written_as_movementoutcome_reads_it(tmp_path):
    """Frames numbered from 1 (the v1 reader stores frame f at row f − 1) and ``nan`` for a missing value (both
    reference readers reject an empty cell); reading it back gives frames from 0 again."""
    seq = _sequence("in-motion-19", frames=5).replace(confidence=None)  # keypoint 3 of frame 1 is missing
    path = write_keypoints(tmp_path / "orgcoords_001.csv", seq, format="part-csv")
    rows = [line.split(",") for line in path.read_text().splitlines()]
    assert rows[0][:3] == ["frame", "head_top_x", "head_top_y"]
    assert [r[0] for r in rows[1:]] == ["1", "2", "3", "4", "5"]
    assert rows[2][1 + 2 * 3:3 + 2 * 3] == ["nan", "nan"] and "" not in sum(rows, [])
    back = read_keypoints(path)
    assert "first_frame" not in back.metadata
    np.testing.assert_array_equal(back.coords, seq.coords)
    shifted = write_keypoints(tmp_path / "s.csv", seq.replace(metadata={"first_frame": 10}), format="part-csv")
    assert shifted.read_text().splitlines()[1].startswith("11,")
    assert read_keypoints(shifted).metadata["first_frame"] == 10


def _drop_column(tmp_path, path, part):
    lines = [line.split(",") for line in path.read_text().splitlines()]
    keep = [i for i, c in enumerate(lines[0]) if not c.startswith(part + "_")]
    out = tmp_path / "dropped.csv"
    out.write_text("\n".join(",".join(r[i] for i in keep) for r in lines) + "\n")
    return out


def test_openpose_folder_body25_picks_the_most_confident_person_and_fills_gaps(tmp_path):
    folder = tmp_path / "op"
    folder.mkdir()
    k = 25
    for frame in (0, 1, 3):  # frame 2 missing: a NaN frame keeps the time axis
        infant = np.column_stack([np.arange(k) + frame, np.arange(k) * 2.0, np.full(k, 0.9)])
        infant[5] = 0  # not detected
        adult = np.column_stack([np.zeros(k), np.zeros(k), np.full(k, 0.2)])
        doc = {"version": 1.3, "people": [{"pose_keypoints_2d": adult.reshape(-1).tolist()},
                                          {"pose_keypoints_2d": infant.reshape(-1).tolist()}]}
        (folder / f"clip_{frame:012d}_keypoints.json").write_text(json.dumps(doc))
    seq = read_keypoints(folder)
    assert seq.metadata["format"] == "openpose" and seq.skeleton.name == "openpose-body-25"
    assert seq.num_frames == 4 and seq.metadata["missing_frames"] == 1
    assert np.isnan(seq.coords[2]).all() and np.isnan(seq.coords[:, 5]).all()
    np.testing.assert_array_equal(seq.coords[3, 1], [4, 2])
    assert seq.confidence[0, 0] == pytest.approx(0.9)
    # BODY_25 maps onto In-Motion names (MidHip → pelvis)
    assert not np.isnan(seq.map_to("in-motion-19", approximate=True).coords[0, 12]).any()


def test_openpose_coco18_single_file(tmp_path):
    kp = np.column_stack([np.arange(18.0), np.arange(18.0), np.ones(18)])
    path = tmp_path / "x_000000000000_keypoints.json"
    path.write_text(json.dumps({"people": [{"pose_keypoints_2d": kp.reshape(-1).tolist()}]}))
    seq = read_keypoints(path)
    assert seq.skeleton.name == "coco-18" and seq.num_frames == 1


def test_coco_json_reads_visibility_and_standard_17(tmp_path):
    names = list(skeleton.get("coco-17").keypoints)
    kp = np.column_stack([np.arange(17.0), np.arange(17.0) + 1, np.full(17, 2)])
    kp[3] = [0, 0, 0]
    kp[4, 2] = 1
    doc = {"images": [{"id": 7, "file_name": "a.jpg", "height": 480, "width": 640}],
           "annotations": [{"id": 1, "image_id": 7, "category_id": 1, "keypoints": kp.reshape(-1).tolist()}],
           "categories": [{"id": 1, "name": "person", "keypoints": names, "skeleton": [[16, 14]]}]}
    (tmp_path / "ann.json").write_text(json.dumps(doc))
    seq = read_keypoints(tmp_path / "ann.json")
    assert seq.skeleton.name == "coco-17" and seq.metadata["images"] == ["a.jpg"]
    assert seq.metadata["image_sizes"] == [[480, 640]]
    assert np.isnan(seq.coords[0, 3]).all() and seq.metadata["visibility"][0][4] == 1
    back = read_keypoints(write_keypoints(tmp_path / "back.json", seq))
    np.testing.assert_array_equal(back.coords, seq.coords)
    assert back.metadata["visibility"] == seq.metadata["visibility"]


def test_formats_listed():
    assert set(FORMATS) == {"dlc-csv", "part-csv", "long-csv", "openpose", "coco", "dlc-mat", "npz"}


def test_write_is_atomic_when_it_fails(tmp_path):
    target = tmp_path / "keep.npz"
    write_keypoints(target, _sequence())
    before = target.read_bytes()
    bad = _sequence().replace(metadata={"obj": object()})
    with pytest.raises(DataError, match="JSON"):
        write_keypoints(target, bad)
    assert target.read_bytes() == before and not list(tmp_path.glob(".*.tmp"))


# ------------------------------------------------------------------ malformed input → the specific error
def _write(tmp_path, name, content):
    path = tmp_path / name
    (path.write_bytes if isinstance(content, bytes) else path.write_text)(content)
    return path


GOOD_DLC = ("scorer,s,s,s\nbodyparts,Crown,Crown,Crown\ncoords,x,y,likelihood\n0,1,2,0.5\n1,3,4,0.6\n")


@pytest.mark.parametrize("fmt", [None, "dlc-csv", "part-csv", "long-csv", "coco", "openpose", "dlc-mat", "npz"])
def test_empty_file(tmp_path, fmt):
    path = _write(tmp_path, "empty.csv", b"")
    with pytest.raises(KeypointFormatError, match="empty"):
        read_keypoints(path, format=fmt)


@pytest.mark.parametrize("name,content,fmt", [
    ("t.csv", GOOD_DLC + "2,5", None),  # last row cut
    ("p.csv", "frame,a_x,a_y,b_x,b_y\n0,1,2,3,4\n1,5,6", None),
    ("l.csv", "image,joint_name,x,y\na.png,Crown,1,2\na.png,LEye,3", None),
    ("t.json", '{"images": [], "annotations": [{"keypoints": [1, 2', None),
    ("t_keypoints.json", '{"people": [{"pose_keypoints_2d": [1.0, 2', "openpose"),
])
def test_truncated_text(tmp_path, name, content, fmt):
    with pytest.raises(KeypointFormatError, match="truncated"):
        read_keypoints(_write(tmp_path, name, content), format=fmt)


@pytest.mark.parametrize("name,fmt", [("t.npz", "npz"), ("t.mat", "dlc-mat")])
def test_truncated_binary(tmp_path, data_dir, name, fmt):
    full = tmp_path / ("full" + name[1:])
    if fmt == "npz":
        write_keypoints(full, _sequence())
    else:
        full.write_bytes((data_dir / PASSMORE_MAT).read_bytes())
    data = full.read_bytes()
    with pytest.raises(KeypointFormatError):
        read_keypoints(_write(tmp_path, name, data[: len(data) // 2]), format=fmt)
    with pytest.raises(KeypointFormatError):  # detection still works on the damaged file
        read_keypoints(_write(tmp_path, "x" + name, data[: len(data) // 2]))


def test_wrong_columns(tmp_path):
    with pytest.raises(KeypointFormatError, match="not a known keypoint layout"):
        read_keypoints(_write(tmp_path, "a.csv", "time,a,b\n0,1,2\n"))
    with pytest.raises(KeypointFormatError, match="bodyparts"):
        read_keypoints(_write(tmp_path, "b.csv", "scorer,s,s\nparts,A,A\ncoords,x,y\n0,1,2\n"))
    with pytest.raises(KeypointFormatError, match="x or y"):
        read_keypoints(_write(tmp_path, "c.csv", "scorer,s,s\nbodyparts,A,A\ncoords,x,likelihood\n0,1,2\n"))
    with pytest.raises(KeypointFormatError, match="unexpected 'coords'"):
        read_keypoints(_write(tmp_path, "d.csv", "scorer,s,s,s\nbodyparts,A,A,A\ncoords,x,y,w\n0,1,2,3\n"))
    with pytest.raises(KeypointFormatError, match="fields"):
        read_keypoints(_write(tmp_path, "e.csv", GOOD_DLC.replace("1,3,4,0.6", "1,3,4,0.6,9")))
    with pytest.raises(KeypointFormatError, match="column pairs"):
        read_keypoints(_write(tmp_path, "f.csv", "frame,a_x,b_y\n0,1,2\n"), format="part-csv")
    with pytest.raises(KeypointFormatError, match="not a number"):
        read_keypoints(_write(tmp_path, "g.csv", "frame,a_x,a_y\n0,1,oops\n"))


def test_wrong_keypoint_count(tmp_path):
    names = list(skeleton.get("coco-17").keypoints)
    doc = {"images": [{"id": 1, "file_name": "a.jpg"}],
           "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "keypoints": [1, 2, 2] * 16}],
           "categories": [{"id": 1, "name": "person", "keypoints": names}]}
    with pytest.raises(KeypointFormatError, match="3·17"):
        read_keypoints(_write(tmp_path, "c.json", json.dumps(doc)))
    op = {"people": [{"pose_keypoints_2d": [1, 2, 0.5] * 15}]}  # MPI-15: not a model infantjax knows
    with pytest.raises(SkeletonMismatchError, match="15 keypoints"):
        read_keypoints(_write(tmp_path, "m_keypoints.json", json.dumps(op)))
    op = {"people": [{"pose_keypoints_2d": [1, 2, 0.5] * 25}]}
    with pytest.raises(SkeletonMismatchError, match="coco-18"):
        read_keypoints(_write(tmp_path, "b_keypoints.json", json.dumps(op)), skeleton="coco-18")
    with pytest.raises(SkeletonMismatchError, match="in-motion-19"):  # a DLC file is not In-Motion 19
        read_keypoints(_write(tmp_path, "d.csv", GOOD_DLC), skeleton="in-motion-19")
    npz = write_keypoints(tmp_path / "s.npz", _sequence("in-motion-19"))
    with pytest.raises(SkeletonMismatchError, match="map_to"):
        read_keypoints(npz, skeleton="mpii-16")


def test_nan_is_missing_but_inf_raises(tmp_path):
    seq = read_keypoints(_write(tmp_path, "n.csv", GOOD_DLC.replace("1,3,4,0.6", "1,nan,NaN,0.6")))
    assert np.isnan(seq.coords[1, 0]).all() and not np.isnan(seq.coords[0, 0]).any()
    with pytest.raises(DataError, match="inf"):
        read_keypoints(_write(tmp_path, "i.csv", GOOD_DLC.replace("1,3,4,0.6", "1,inf,4,0.6")))
    with pytest.raises(DataError, match="inf"):
        read_keypoints(_write(tmp_path, "j.csv", "frame,a_x,a_y\n0,1,-inf\n"))
    with pytest.raises(DataError, match="inf"):
        read_keypoints(_write(tmp_path, "k.csv", GOOD_DLC.replace("0.6", "inf")))
    doc = "{\"people\": [{\"pose_keypoints_2d\": [Infinity, 1, 1" + ", 1, 1, 1" * 17 + "]}]}"
    with pytest.raises(DataError, match="inf"):
        read_keypoints(_write(tmp_path, "x_keypoints.json", doc))


def test_non_utf8_json(tmp_path):
    for name in ("c.json", "o_keypoints.json"):
        with pytest.raises(KeypointFormatError, match="UTF-8"):
            read_keypoints(_write(tmp_path, name, b'{"people": [], "note": "caf\xe9"}'))


def test_inf_in_coco_and_long_csv(tmp_path):
    names = list(skeleton.get("coco-17").keypoints)
    doc = ('{"images": [{"id": 1, "file_name": "a.jpg"}], "categories": [{"id": 1, "keypoints": %s}], '
           '"annotations": [{"id": 1, "image_id": 1, "category_id": 1, "keypoints": [Infinity, 1, 2%s]}]}'
           % (json.dumps(names), ", 1, 1, 2" * 16))
    with pytest.raises(DataError, match="inf"):
        read_keypoints(_write(tmp_path, "c.json", doc))
    with pytest.raises(DataError, match="inf"):
        read_keypoints(_write(tmp_path, "l.csv", "image,joint_name,x,y\na.png,Crown,inf,2\n"))
    seq = read_keypoints(_write(tmp_path, "m.csv", "image,joint_name,x,y\na.png,Crown,nan,2\nb.png,Crown,1,2\n"))
    assert np.isnan(seq.coords[0, 0]).all() and seq.num_frames == 2


def test_non_utf8_bytes(tmp_path):
    path = _write(tmp_path, "l.csv", GOOD_DLC.encode().replace(b"Crown", b"Cr\xe9own\xff"))
    with pytest.raises(KeypointFormatError, match="UTF-8"):
        read_keypoints(path)
    with pytest.raises(KeypointFormatError, match="UTF-8"):
        read_keypoints(path, format="dlc-csv")


def test_binary_file_passed_as_csv(tmp_path):
    path = _write(tmp_path, "video.csv", bytes(range(256)) * 8)
    with pytest.raises(KeypointFormatError, match="binary"):
        read_keypoints(path)
    with pytest.raises(KeypointFormatError, match="binary"):
        read_keypoints(path, format="part-csv")


def test_json_that_is_not_openpose_or_coco(tmp_path):
    path = _write(tmp_path, "config.json", json.dumps({"learning_rate": 0.1, "layers": [1, 2]}))
    with pytest.raises(KeypointFormatError, match="neither OpenPose"):
        read_keypoints(path)
    with pytest.raises(KeypointFormatError, match="COCO"):
        read_keypoints(path, format="coco")
    with pytest.raises(KeypointFormatError, match="OpenPose"):
        read_keypoints(path, format="openpose")


def test_missing_path_and_unknown_format(tmp_path):
    with pytest.raises(KeypointFormatError, match="no such file"):
        read_keypoints(tmp_path / "nope.csv")
    with pytest.raises(KeypointFormatError, match="unknown keypoint format"):
        read_keypoints(tmp_path / "nope.csv", format="xlsx")
    with pytest.raises(KeypointFormatError, match="folder"):
        write_keypoints(tmp_path / "no" / "dir.csv", _sequence())
    with pytest.raises(KeypointFormatError, match="HDF5"):
        read_keypoints(_write(tmp_path, "a.h5", b"\x89HDF\r\n\x1a\n" + b"\x00" * 64))


def test_mat_that_is_not_a_dlc_dataset(tmp_path):
    import scipy.io

    scipy.io.savemat(tmp_path / "other.mat", {"weights": np.ones((2, 2))})
    with pytest.raises(KeypointFormatError, match="dataset"):
        read_keypoints(tmp_path / "other.mat")


def test_every_error_is_an_infantjax_error(tmp_path):
    for content in (b"", b"\xff\xfe\x00", b"{}", b"a,b\n1,2\n"):
        with pytest.raises(InfantJaxError):
            read_keypoints(_write(tmp_path, "z.bin", content))


@pytest.mark.parametrize("fmt,name", [("dlc-csv", "f.csv"), ("part-csv", "f.csv"), ("long-csv", "f.csv"),
                                      ("openpose", "op"), ("coco", "f.json"), ("dlc-mat", "f.mat"),
                                      ("npz", "f.npz")])
def test_damaged_files_raise_infantjax_errors_only(tmp_path, fmt, name):
    """Random truncations and byte flips of a valid file: either a clean read or an InfantJaxError, nothing else."""
    seq = _sequence("in-motion-19", frames=6, confidence=fmt not in ("dlc-mat", "coco"))
    path = write_keypoints(tmp_path / name, seq, format=fmt)
    target = sorted(path.glob("*.json"))[0] if fmt == "openpose" else path
    data = target.read_bytes()
    rng = np.random.default_rng(0)
    for trial in range(40):
        damaged = bytearray(data)
        if trial % 2:
            damaged = damaged[: int(rng.integers(1, len(data)))]
        else:
            for pos in rng.integers(0, len(data), size=int(rng.integers(1, 6))):
                damaged[pos] = int(rng.integers(0, 256))
        target.write_bytes(bytes(damaged))
        try:
            read_keypoints(path, format=fmt)
        except InfantJaxError:
            pass


def test_load_efficientpose_h5_forwards_to_io_weights(monkeypatch):
    import types

    import infantjax.io as io

    fake = types.ModuleType("infantjax.io.weights")
    fake.load_efficientpose_h5 = lambda path, **kw: ("loaded", path, kw)
    monkeypatch.setitem(sys.modules, "infantjax.io.weights", fake)
    assert io.load_efficientpose_h5("w.h5", variant="I") == ("loaded", "w.h5", {"variant": "I"})


# ------------------------------------------------------------------ other tools' files (issue 29)
def _coco(categories, annotations, images=3):
    return {"images": [{"id": i, "file_name": f"{i:06d}.jpg", "height": 480, "width": 640} for i in range(images)],
            "annotations": annotations, "categories": categories}


def test_halpe_coco_file_without_keypoint_names_is_read_as_the_named_halpe_skeleton(tmp_path, caplog):
    """Halpe (mmpose's test_halpe.json): 136 keypoints per annotation, the category's keypoint list empty; they are
    Halpe full-body's 26 body (with feet), 68 face and 2 × 21 hand keypoints, in that order (issue 38)."""
    rng = np.random.default_rng(0)
    values = np.column_stack([rng.uniform(0, 640, 136), rng.uniform(0, 480, 136), rng.integers(0, 3, 136)])
    anns = [{"id": i + 1, "image_id": i, "category_id": 1, "keypoints": values.reshape(-1).tolist()}
            for i in range(3)]
    path = tmp_path / "halpe.json"
    path.write_text(json.dumps(_coco([{"id": 1, "name": "person", "keypoints": [], "skeleton": []}], anns)))
    with caplog.at_level("INFO"):
        seq = read_keypoints(path)
    assert seq.coords.shape == (3, 136, 2) and seq.skeleton is skeleton.get("halpe-136")
    assert "Halpe full-body" in caplog.text and not [r for r in caplog.records if r.levelname == "WARNING"]
    kp = seq.skeleton.keypoints
    assert kp[:5] == ("nose", "left_eye", "right_eye", "left_ear", "right_ear")
    assert kp[17:20] == ("head", "neck", "pelvis") and kp[20] == "left_big_toe" and kp[25] == "right_heel"
    assert kp[26] == "face_1" and kp[93] == "face_68"
    assert kp[94] == "left_hand_root" and kp[98] == "left_thumb_4" and kp[114] == "left_pinky_4"
    assert kp[115] == "right_hand_root" and kp[135] == "right_pinky_4"
    visible = values[:, 2] > 0
    np.testing.assert_allclose(seq.coords[0][visible], values[visible, :2], rtol=1e-6)
    assert np.isnan(seq.coords[0][~visible]).all()
    # it maps onto the other sets by name: BODY_25's 25 keypoints are all there (MidHip = Halpe's Hip)
    assert (skeleton.mapping("halpe-136", "openpose-body-25") >= 0).all()
    with pytest.raises(SkeletonMismatchError, match="136 keypoints"):
        read_keypoints(path, skeleton="coco-17")
    # another count without names is still read as numbered keypoints, with a warning
    anns = [{"id": 1, "image_id": 0, "category_id": 1, "keypoints": [5.0, 6.0, 2] * 4}]
    path.write_text(json.dumps(_coco([{"id": 1, "name": "person", "keypoints": []}], anns)))
    with caplog.at_level("WARNING"):
        seq = read_keypoints(path)
    assert seq.skeleton.name == "person-4" and seq.skeleton.keypoints[0] == "keypoint_1"
    assert "names none of its 4 keypoints" in caplog.text


def test_halpe_skeleton_is_one_tree_with_left_right_pairs():
    halpe = skeleton.get("halpe")
    assert halpe.name == "halpe-136" and halpe.keypoints[halpe.center] == "neck"
    assert np.isfinite(halpe.hop_distance()).all()  # the face and both hands hang on the body
    assert halpe.index("LBigToe") == 20 and halpe.index("Hip") == 19
    pairs = {(halpe.keypoints[a], halpe.keypoints[b]) for a, b in halpe.flip_pairs}
    assert ("left_heel", "right_heel") in pairs and ("left_pinky_4", "right_pinky_4") in pairs
    assert halpe.adjacency("spatial").shape == (3, 136, 136)


_AP10K = ["left_eye", "right_eye", "nose", "neck", "root_of_tail", "left_shoulder", "left_elbow", "left_front_paw",
          "right_shoulder", "right_elbow", "right_front_paw", "left_hip", "left_knee", "left_back_paw", "right_hip",
          "right_knee", "right_back_paw"]


def test_coco_file_of_animal_categories_is_refused_naming_them(tmp_path):
    """AP-10K: one category per species with animal keypoints; it was read as one 17-keypoint set (issue 38)."""
    cats = [{"id": c, "name": species, "supercategory": family, "keypoints": _AP10K}
            for c, species, family in ((1, "antelope", "Bovidae"), (2, "dog", "Canidae"))]
    anns = [{"id": i + 1, "image_id": i, "category_id": 1 + i % 2, "keypoints": [5.0, 6.0, 2] * 17} for i in range(3)]
    path = tmp_path / "ap10k.json"
    path.write_text(json.dumps(_coco(cats, anns)))
    with pytest.raises(KeypointFormatError) as info:
        read_keypoints(path)
    msg = str(info.value)
    assert "several categories" in msg and "not one person skeleton" in msg
    assert "'antelope' (supercategory 'Bovidae'): 2 annotation(s)" in msg and "'dog'" in msg
    assert "root_of_tail" in msg and "one category_id" in msg
    # one species alone is no person either
    path.write_text(json.dumps(_coco(cats[:1], anns[::2])))
    with pytest.raises(KeypointFormatError, match="'antelope' .* is not a person.*root_of_tail.*skeleton="):
        read_keypoints(path)
    cats[0]["keypoints"] = []
    path.write_text(json.dumps(_coco(cats[:1], anns[::2])))
    with pytest.raises(KeypointFormatError, match="is not a person, and its 17 keypoints \\(unnamed\\)"):
        read_keypoints(path)
    # unless they are asked for as a registered set
    assert read_keypoints(path, skeleton="coco-17").skeleton.name == "coco-17"


def test_coco_file_of_several_person_categories_is_refused_and_one_person_category_is_read(tmp_path):
    names = list(skeleton.get("coco-17").labels)
    cats = [{"id": c, "name": n, "supercategory": "person", "keypoints": names}
            for c, n in ((1, "person"), (2, "infant"))]
    anns = [{"id": i + 1, "image_id": i, "category_id": 1 + i % 2, "keypoints": [5.0, 6.0, 2] * 17} for i in range(3)]
    path = tmp_path / "two.json"
    path.write_text(json.dumps(_coco(cats, anns)))
    with pytest.raises(KeypointFormatError, match="annotations of several categories: category 1 'person'"):
        read_keypoints(path)
    # a single category that is not called a person but names a registered set of keypoints is read as that set
    cats[0].update(name="annotated", supercategory="object")
    path.write_text(json.dumps(_coco(cats[:1], anns[::2])))
    seq = read_keypoints(path)
    assert seq.skeleton.name == "coco-17" and seq.coords.shape == (2, 17, 2) and "categories" not in seq.metadata
    # a person category with its own keypoint names gets a custom skeleton, as before
    cats[0].update(name="person", supercategory="person", keypoints=["crown", "tail"])
    anns = [{"id": 1, "image_id": 0, "category_id": 1, "keypoints": [5.0, 6.0, 2] * 2}]
    path.write_text(json.dumps(_coco(cats[:1], anns)))
    assert read_keypoints(path).skeleton.name == "person-2"


def test_deeplabcut_evaluation_table_is_named_as_such(tmp_path):
    path = tmp_path / "dist_5.csv"
    path.write_text("scorer,s,s,s,s\nindividuals,m1,m1,m1,m1\nbodyparts,snout,snout,tail,tail\n"
                    "metrics,rmse,conf,rmse,conf\nlabeled-data/v/img1.png,1.0,0.9,2.0,0.8\n")
    with pytest.raises(KeypointFormatError, match="evaluation table") as info:
        read_keypoints(path)
    assert "multi-animal" not in str(info.value)


def _vfr(frames=30, seed=0):
    rng = np.random.default_rng(seed)
    times = np.concatenate([[0.0], np.cumsum(rng.choice([1 / 30, 1 / 24, 1 / 15], frames - 1))])
    meta = {"source": "phone.mp4", "orientation": "upright", "rotation": 270, "units": "pixels", "subject": "s1"}
    return _sequence(frames=frames).replace(times=times, metadata=meta)


@pytest.mark.parametrize("name", ["k.csv", "k_part.csv"])
def test_frame_times_travel_with_csv_keypoints_in_a_sidecar(tmp_path, name):
    seq = _vfr()
    assert seq.variable_frame_rate and "variable" in repr(seq)
    fmt = "part-csv" if "part" in name else None
    path = write_keypoints(tmp_path / name, seq, format=fmt)
    side = tmp_path / (name + ".json")
    assert side.is_file()
    back = read_keypoints(path)
    np.testing.assert_array_equal(back.times, seq.times)
    assert back.fps == seq.fps == 25.0  # the CSV alone would read as 30 fps: a 15-fps video scored at twice its pace
    assert read_keypoints(path, fps=20).fps == 20.0  # the reader's argument wins
    assert back.metadata["rotation"] == 270 and back.metadata["orientation"] == "upright"
    assert "subject" not in back.metadata  # only what the CSV loses and the sidecar keeps
    # the CSV alone is still a plain DeepLabCut / reference CSV
    assert not path.read_text().startswith("{") and "time" not in path.read_text().splitlines()[0]


def test_a_sidecar_of_another_version_of_the_csv_is_ignored_and_a_stale_one_removed(tmp_path, caplog):
    path = write_keypoints(tmp_path / "k.csv", _vfr())
    text = path.read_text().splitlines()
    path.write_text("\n".join(text[:-1]) + "\n")  # edited after writing: one frame fewer
    with caplog.at_level("WARNING"):
        back = read_keypoints(path)
    assert back.times is None and "another version" in caplog.text
    write_keypoints(path, _sequence())  # no times: the old sidecar goes
    assert not (tmp_path / "k.csv.json").exists()


def test_npz_keeps_frame_times_and_other_formats_warn_when_they_lose_them(tmp_path, caplog):
    seq = _vfr()
    back = read_keypoints(write_keypoints(tmp_path / "k.npz", seq))
    np.testing.assert_array_equal(back.times, seq.times)
    with caplog.at_level("WARNING"):
        write_keypoints(tmp_path / "k.mat", seq)
    assert "variable frame rate" in caplog.text and "stores no frame times" in caplog.text
    assert read_keypoints(tmp_path / "k.mat").times is None
    caplog.clear()
    with caplog.at_level("WARNING"):  # COCO keeps them: a frame_time per image
        back = read_keypoints(write_keypoints(tmp_path / "k.json", seq))
    assert "stores no frame times" not in caplog.text
    np.testing.assert_array_equal(back.times, seq.times)
