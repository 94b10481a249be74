"""OpenPose output (``openpose``): a folder of per-frame ``*_keypoints.json`` files (BODY_25 or COCO-18).

The most confident person of each frame is kept (one infant per video); frame numbers come from the file names
and missing frames are NaN."""

from __future__ import annotations

import pathlib
import re
from typing import Any

import numpy as np

from infantjax import skeleton as _skeleton
from infantjax.errors import DataError, InfantJaxError, KeypointFormatError, SkeletonMismatchError
from infantjax.io.keypoints.common import (
    check_finite,
    float_list,
    load_json,
    make_sequence,
    match_skeleton,
    write_json_file,
)
from infantjax.sequence import SkeletonSequence

_OPENPOSE_FILE = re.compile(r"^(?P<stem>.*?)_?(?P<frame>\d+)?_keypoints\.json$")
_OPENPOSE_SKELETONS = {25: "openpose-body-25", 18: "coco-18"}


def _openpose_files(path: pathlib.Path) -> list[tuple[int | None, pathlib.Path]]:
    if path.is_dir():
        files = sorted(path.glob("*_keypoints.json"))
        if not files:
            raise KeypointFormatError(f"{path}: the OpenPose folder holds no '*_keypoints.json' files")
    elif path.is_file():
        files = [path]
    else:
        raise KeypointFormatError(f"{path}: no such file or folder; check the path")
    out = []
    for f in files:
        m = re.search(r"(\d+)_keypoints\.json$", f.name)
        out.append((int(m.group(1)) if m else None, f))
    if all(n is not None for n, _ in out):
        out.sort(key=lambda nf: nf[0])
        numbers = [n for n, _ in out]
        if len(set(numbers)) != len(numbers):
            raise KeypointFormatError(f"{path}: two OpenPose files share one frame number")
    return out


def read(path, skeleton, fps) -> SkeletonSequence:
    """Read an OpenPose folder (or one ``*_keypoints.json``) (``skeleton``, ``fps``: as :func:`~infantjax.io.read_keypoints`)."""
    try:
        return _read_openpose_files(pathlib.Path(path), skeleton, fps)
    except InfantJaxError:
        raise
    except (TypeError, AttributeError) as err:
        raise KeypointFormatError(f"{path}: malformed OpenPose keypoint file ({type(err).__name__}: {err})") from None


def _read_openpose_files(path, skeleton, fps) -> SkeletonSequence:
    files = _openpose_files(path)
    per_frame: list[np.ndarray | None] = []
    num_people = []
    k_seen: int | None = None
    part_names = None
    for _, f in files:
        obj = load_json(f)
        if not isinstance(obj, dict) or not isinstance(obj.get("people"), list):
            raise KeypointFormatError(
                f"{f}: not an OpenPose keypoint file (expected an object with a 'people' list)"
            )
        best, best_score = None, -np.inf
        for person in obj["people"]:
            if not isinstance(person, dict):
                raise KeypointFormatError(f"{f}: every entry of 'people' must be an object")
            key = "pose_keypoints_2d" if "pose_keypoints_2d" in person else "pose_keypoints"
            if key not in person:
                raise KeypointFormatError(f"{f}: a person has no 'pose_keypoints_2d' list")
            arr = float_list(f, person[key], key)
            if len(arr) % 3:
                raise KeypointFormatError(
                    f"{f}: {key} has {len(arr)} values, not a multiple of 3 (x, y, confidence per keypoint)"
                )
            k = len(arr) // 3
            if k_seen is None:
                k_seen = k
            elif k != k_seen:
                raise KeypointFormatError(f"{f}: {k} keypoints per person, but earlier files have {k_seen}")
            arr = arr.reshape(k, 3)
            score = np.nansum(arr[:, 2])
            if score > best_score:  # the person OpenPose is most confident about (one infant per video)
                best, best_score = arr, score
        per_frame.append(best)
        num_people.append(len(obj["people"]))
        part_names = obj.get("part_names", part_names)  # written by infantjax for non-OpenPose keypoint sets
    if k_seen is None:
        raise KeypointFormatError(f"{path}: no person in any OpenPose file; nothing to read")
    if skeleton is not None:
        skel = _skeleton.get(skeleton)
        if skel.num_keypoints != k_seen:
            raise SkeletonMismatchError(
                f"{path}: OpenPose files have {k_seen} keypoints per person but skeleton {skel.name!r} has "
                f"{skel.num_keypoints}"
            )
    elif isinstance(part_names, list) and len(part_names) == k_seen:
        skel, order = match_skeleton(path, [str(n) for n in part_names], None)
        if not np.array_equal(order, np.arange(k_seen)):
            raise SkeletonMismatchError(f"{path}: part_names {part_names} are not in {skel.name!r} order")
    elif k_seen in _OPENPOSE_SKELETONS:
        skel = _skeleton.get(_OPENPOSE_SKELETONS[k_seen])
    else:
        raise SkeletonMismatchError(
            f"{path}: {k_seen} keypoints per person is not an OpenPose body model infantjax knows (BODY_25 has "
            "25, COCO 18); pass skeleton= with a matching keypoint set"
        )
    numbers = [n for n, _ in files]
    if all(n is not None for n in numbers):  # frame numbers from the file names; gaps become NaN frames
        first = numbers[0]
        slots = [n - first for n in numbers]
    else:
        first, slots = 0, list(range(len(files)))
    total = slots[-1] + 1
    xy = np.full((total, k_seen, 2), np.nan)
    conf = np.full((total, k_seen), np.nan)
    for s, arr in zip(slots, per_frame):
        if arr is None:
            continue
        present = arr[:, 2] > 0  # OpenPose writes 0, 0, 0 for a keypoint it did not find
        xy[s, present] = arr[present, :2]
        conf[s] = arr[:, 2]
    check_finite(path, xy, conf, skel.labels)
    meta: dict[str, Any] = {"people_per_frame": num_people}
    if first:
        meta["first_frame"] = int(first)
    if total != len(files):
        meta["missing_frames"] = total - len(files)
    stem = _OPENPOSE_FILE.match(files[0][1].name)
    if stem and stem.group("stem"):
        meta["stem"] = stem.group("stem")
    return make_sequence(path, xy, conf, skel, fps, meta, skel.labels)


def write(path, seq: SkeletonSequence) -> None:
    """Write ``seq`` as one ``<stem>_<frame>_keypoints.json`` per frame into the folder ``path``, atomically."""
    if seq.dims != 2:
        raise DataError(f"OpenPose JSON holds 2D keypoints; the sequence is {seq.dims}D")
    if path.exists() and not path.is_dir():
        raise KeypointFormatError(f"cannot write OpenPose output to {path}: it is a file, not a folder")
    path.mkdir(parents=True, exist_ok=True)
    stem = str(seq.metadata.get("stem") or "frame")
    first = int(seq.metadata.get("first_frame", 0) or 0)
    written = set()
    for t in range(seq.num_frames):
        xy = seq.coords[t]
        present = ~np.isnan(xy).any(axis=-1)
        if seq.confidence is not None:
            c = np.where(present, np.nan_to_num(seq.confidence[t], nan=0.0), 0.0)
        else:
            c = present.astype(np.float64)
        people = []
        if present.any():
            flat = np.column_stack([np.where(present, xy[:, 0], 0.0), np.where(present, xy[:, 1], 0.0), c])
            people.append({"person_id": [-1], "pose_keypoints_2d": [float(v) for v in flat.reshape(-1)]})
        name = f"{stem}_{first + t:012d}_keypoints.json"
        written.add(name)
        doc = {"version": 1.3, "people": people}
        if seq.skeleton.name not in _OPENPOSE_SKELETONS.values():
            doc["part_names"] = list(seq.skeleton.labels)
        write_json_file(path / name, doc)
    for old in path.glob(f"{stem}_*_keypoints.json"):  # frames of an earlier, longer sequence
        if old.name not in written and re.fullmatch(re.escape(stem) + r"_\d+_keypoints\.json", old.name):
            old.unlink()

