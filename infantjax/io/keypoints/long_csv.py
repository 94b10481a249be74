"""One row per labelled point (``long-csv``): ``image`` or ``frame``, ``joint_name`` (or ``bodypart``),
``x``, ``y`` [, ``joint_id``, ``height``, ``width``, ``confidence``], e.g. ``passmore-dlc-labels/labels_long.csv``."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from infantjax.errors import KeypointFormatError
from infantjax.io.keypoints import common
from infantjax.sequence import SkeletonSequence

_LONG_NAME_COLS = ("joint_name", "bodypart", "joint", "keypoint")
_LONG_KEY_COLS = ("image", "frame", "file_name", "filename")


def read(path, skeleton, fps) -> SkeletonSequence:
    """Read a long keypoint CSV (``skeleton``, ``fps``: as :func:`~infantjax.io.read_keypoints`)."""
    rows = common.read_csv(path)
    header = [c.strip().lower() for c in rows[0]] if rows else []
    col = {c: i for i, c in enumerate(header)}
    name_col = next((col[c] for c in _LONG_NAME_COLS if c in col), None)
    key_name = next((c for c in _LONG_KEY_COLS if c in col), None)
    if name_col is None or key_name is None or "x" not in col or "y" not in col:
        raise KeypointFormatError(
            f"{path}: a long keypoint CSV needs columns 'image' (or 'frame'), 'joint_name', 'x', 'y'; "
            f"found {header[:10]}"
        )
    body = rows[1:]
    common.check_row_lengths(path, body, len(header), 2)
    numeric = ["x", "y"] + (["z"] if "z" in col else [])
    conf_name = next((c for c in ("likelihood", "confidence") if c in col), None)
    if conf_name:
        numeric.append(conf_name)
    values = common.parse_numbers(path, [[r[col[c]] for c in numeric] for r in body], 2, numeric)
    names = [r[name_col].strip() for r in body]
    parts = list(dict.fromkeys(names))
    if skeleton is None and "joint_id" in col and parts:
        # keep the file's joint-id order so a skeleton is matched in its own order
        ids = {}
        for line, (r, n) in enumerate(zip(body, names), start=2):
            ids.setdefault(n, _int_cell(path, line, "joint_id", r[col["joint_id"]]))
        parts.sort(key=lambda n: ids[n])
    keys = [r[col[key_name]].strip() for r in body]
    frames = list(dict.fromkeys(keys))
    dims = len(numeric) - (1 if conf_name else 0)
    part_index = {p: i for i, p in enumerate(parts)}
    xyz = np.full((len(frames), len(parts), dims), np.nan)
    conf = np.full((len(frames), len(parts)), np.nan) if conf_name else None
    frame_index = {k: i for i, k in enumerate(frames)}
    for r, (k, n) in enumerate(zip(keys, names)):
        t, j = frame_index[k], part_index[n]
        if not np.isnan(xyz[t, j]).all():
            raise KeypointFormatError(f"{path}: line {r + 2}: a second row for {n!r} in {key_name} {k!r}")
        xyz[t, j] = values[r, :dims]
        if conf is not None:
            conf[t, j] = values[r, dims]
    meta: dict[str, Any] = {}
    if key_name == "frame":
        meta.update(common.frames_metadata(path, [[k] for k in frames]))
    else:
        meta.update({"images": frames, "time_series": False})
    if "height" in col and "width" in col:
        size = {}
        for line, (r, k) in enumerate(zip(body, keys), start=2):
            size.setdefault(k, [_int_cell(path, line, c, r[col[c]]) for c in ("height", "width")])
        meta["image_sizes"] = [size[k] for k in frames]
    return common.sequence_of_parts(path, xyz, conf, parts, skeleton, fps, meta)


def _int_cell(path, line: int, column: str, cell: str) -> int:
    try:
        value = float(cell)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value != int(value):
        raise KeypointFormatError(f"{path}: line {line}, column {column!r}: {cell[:40]!r} is not an integer")
    return int(value)


def write(path, seq: SkeletonSequence) -> None:
    """Write ``seq`` as one row per present keypoint, atomically."""
    images = seq.metadata.get("images")
    by_image = isinstance(images, (list, tuple)) and len(images) == seq.num_frames
    index = common.index_column(seq)
    sizes = seq.metadata.get("image_sizes")
    has_sizes = isinstance(sizes, (list, tuple)) and len(sizes) == seq.num_frames
    dims = ["x", "y", "z"][: seq.dims]

    with common.csv_writer(path) as w:
        header = ["image" if by_image else "frame"] + (["height", "width"] if has_sizes else [])
        header += ["joint_id", "joint_name"] + dims + (["confidence"] if seq.confidence is not None else [])
        w.writerow(header)
        for t in range(seq.num_frames):
            for j in range(seq.num_keypoints):
                if np.isnan(seq.coords[t, j]).any():
                    continue
                row = [index[t]] + ([int(sizes[t][0]), int(sizes[t][1])] if has_sizes else [])
                row += [j, seq.skeleton.labels[j]] + [common.csv_number(v) for v in seq.coords[t, j]]
                if seq.confidence is not None:
                    row.append(common.csv_number(seq.confidence[t, j]))
                w.writerow(row)

