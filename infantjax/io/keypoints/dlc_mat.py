"""DeepLabCut training-set ``.mat`` (``dlc-mat``): a struct array ``dataset`` with ``image``, ``size`` =
[channels, height, width] and ``joints`` = K×3 (joint id, x, y); joint names from a ``pose_cfg.yaml`` beside it."""

from __future__ import annotations

import pathlib

import numpy as np

from infantjax import skeleton as _skeleton
from infantjax.errors import DataError, KeypointFormatError, SkeletonMismatchError
from infantjax.io.keypoints.common import (
    check_finite,
    custom_skeleton,
    index_column,
    log,
    make_sequence,
    match_skeleton,
    open_for_writing,
    place,
    read_bytes,
)
from infantjax.sequence import SkeletonSequence

MAX_JOINT_ID = 999  # far above any body keypoint set (whole-body sets have 133); guards against damaged ids


def _pose_cfg_names(mat_path: pathlib.Path) -> list[str] | None:
    """``all_joints_names`` from a DeepLabCut ``pose_cfg.yaml`` beside the ``.mat`` (a plain YAML list)."""
    cfg = mat_path.parent / "pose_cfg.yaml"
    if not cfg.is_file():
        return None
    names, inside = [], False
    try:
        lines = cfg.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    for line in lines:
        if line.startswith("all_joints_names:"):
            inside = True
            continue
        if inside:
            if line.startswith("- "):
                names.append(line[2:].strip().strip("'\""))
            else:
                break
    return names or None


def read(path, skeleton, fps) -> SkeletonSequence:
    """Read a DeepLabCut training-set ``.mat`` (``skeleton``, ``fps``: as :func:`~infantjax.io.read_keypoints`)."""
    import scipy.io

    read_bytes(path)
    try:
        mat = scipy.io.loadmat(str(path))
    except Exception as err:  # scipy raises ValueError/TypeError/OSError/... on damaged files
        raise KeypointFormatError(f"{path}: cannot read the MATLAB file ({type(err).__name__}: {err}); "
                                  "is it truncated?") from None
    data = mat.get("dataset")
    if data is None or getattr(data, "dtype", None) is None or data.dtype.names is None \
            or not {"image", "size", "joints"} <= set(data.dtype.names):
        raise KeypointFormatError(
            f"{path}: not a DeepLabCut training-set .mat (expected a struct array 'dataset' with fields image, "
            f"size, joints; found variables {[k for k in mat if not k.startswith('__')]})"
        )
    entries = data.reshape(-1)
    images, sizes, joints = [], [], []
    for i, e in enumerate(entries):
        try:
            img = e["image"]
            while isinstance(img, np.ndarray) and img.dtype == object and img.size == 1:
                img = img.reshape(-1)[0]
            images.append(str(np.asarray(img).reshape(-1)[0]) if np.asarray(img).size else "")
            size = np.asarray(e["size"], dtype=np.float64).reshape(-1)
            j = e["joints"]
            while isinstance(j, np.ndarray) and j.dtype == object:
                j = j.reshape(-1)[0] if j.size else np.zeros((0, 3))
            j = np.asarray(j, dtype=np.float64)
        except (IndexError, TypeError, ValueError) as err:
            raise KeypointFormatError(f"{path}: entry {i} of 'dataset' is malformed ({err})") from None
        if j.size == 0:
            j = np.zeros((0, 3))
        if j.ndim != 2 or j.shape[1] != 3:
            raise KeypointFormatError(
                f"{path}: entry {i} ({images[-1]}): joints must be K×3 (joint_id, x, y), got shape {j.shape}"
            )
        if size.shape != (3,):
            raise KeypointFormatError(f"{path}: entry {i}: size must be [channels, height, width], got {size}")
        sizes.append([int(size[1]), int(size[2])])
        joints.append(j)
    all_ids = np.concatenate([j[:, 0] for j in joints]) if joints else np.zeros(0)
    if len(all_ids) and (not np.isfinite(all_ids).all() or np.any(all_ids < 0) or np.any(all_ids != np.round(all_ids))):
        raise KeypointFormatError(f"{path}: joint ids must be non-negative integers")
    num_ids = int(all_ids.max()) + 1 if len(all_ids) else 0
    if num_ids > MAX_JOINT_ID + 1:
        # checked before anything is sized by the ids: a damaged id of 1e9 would build a billion-entry table
        raise KeypointFormatError(f"{path}: joint id {num_ids - 1} is larger than any keypoint set "
                                  f"(at most {MAX_JOINT_ID}); the file is damaged")
    names = _pose_cfg_names(path)
    if "all_joints_names" in mat:  # written by infantjax beside the struct (DeepLabCut ignores it)
        names = [str(np.asarray(n).reshape(-1)[0]).strip() for n in np.asarray(mat["all_joints_names"]).reshape(-1)]
    if skeleton is not None:
        skel = _skeleton.get(skeleton)
        if num_ids > skel.num_keypoints:
            raise SkeletonMismatchError(
                f"{path}: joint ids go up to {num_ids - 1} but skeleton {skel.name!r} has {skel.num_keypoints} "
                "keypoints"
            )
        idx = np.arange(skel.num_keypoints)
        parts = list(skel.labels)
    elif names is not None:
        if num_ids > len(names):
            raise SkeletonMismatchError(f"{path}: joint ids go up to {num_ids - 1} but pose_cfg.yaml names "
                                        f"{len(names)} joints")
        parts = names
        skel, idx = match_skeleton(path, names, None)
    else:
        parts = [f"joint{i}" for i in range(num_ids)]
        skel, idx = custom_skeleton(f"custom-{num_ids}", parts), np.arange(num_ids)
        log.warning("%s: no pose_cfg.yaml beside the .mat names the joints; pass skeleton= to name them", path)
    xy = np.full((len(entries), len(parts), 2), np.nan)
    for t, j in enumerate(joints):
        ids = j[:, 0].astype(np.int64)
        if len(set(ids.tolist())) != len(ids):
            raise KeypointFormatError(f"{path}: entry {t} ({images[t]}) lists one joint id twice")
        xy[t, ids] = j[:, 1:]
    check_finite(path, xy, None, parts)
    meta = {"time_series": False, "images": images, "image_sizes": sizes}
    return make_sequence(path, place(xy, idx, skel.num_keypoints), None, skel, fps, meta, parts)


def write(path, seq: SkeletonSequence) -> None:
    """Write ``seq`` as a DeepLabCut training-set ``.mat``, atomically."""
    import scipy.io

    if seq.dims != 2:
        raise DataError(f"a DeepLabCut training .mat holds 2D keypoints; the sequence is {seq.dims}D")
    images = index_column(seq) if isinstance(seq.metadata.get("images"), (list, tuple)) else \
        [f"frame_{t:06d}.png" for t in range(seq.num_frames)]
    sizes = seq.metadata.get("image_sizes")
    if not (isinstance(sizes, (list, tuple)) and len(sizes) == seq.num_frames):
        sizes = [[0, 0]] * seq.num_frames
    integral = bool(np.all(np.isnan(seq.coords) | (seq.coords == np.round(seq.coords))))
    dataset = np.empty((1, seq.num_frames), dtype=[("image", "O"), ("size", "O"), ("joints", "O")])
    for t in range(seq.num_frames):
        present = np.flatnonzero(~np.isnan(seq.coords[t]).any(axis=-1))
        j = np.column_stack([present, seq.coords[t, present].astype(np.float64)])
        cell = np.empty((1, 1), dtype=object)
        cell[0, 0] = j.astype(np.int64) if integral else j
        dataset[0, t] = (images[t], np.array([[3, int(sizes[t][0]), int(sizes[t][1])]], dtype=np.int64), cell)
    names = np.empty((1, seq.num_keypoints), dtype=object)
    names[0, :] = list(seq.skeleton.labels)
    with open_for_writing(path, binary=True) as fh:
        scipy.io.savemat(fh, {"dataset": dataset, "all_joints_names": names})

