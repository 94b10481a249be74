"""The CP reference code's CSV (``part-csv``): an optional ``frame`` column, then ``<part>_x, <part>_y``
columns in header order (gcn_reference A.9, In-Motion 19 names); optional ``<part>_confidence`` /
``_likelihood`` and ``<part>_z``."""

from __future__ import annotations

import numpy as np

from infantjax.errors import KeypointFormatError
from infantjax.io.keypoints.common import (
    check_row_lengths,
    csv_number,
    csv_writer,
    frames_metadata,
    index_column,
    parse_numbers,
    read_csv,
    sequence_of_parts,
)
from infantjax.sequence import SkeletonSequence

_CONFIDENCE_SUFFIXES = ("_likelihood", "_confidence")


def read(path, skeleton, fps) -> SkeletonSequence:
    """Read a CP reference CSV (``skeleton``, ``fps``: as :func:`~infantjax.io.read_keypoints`)."""
    rows = read_csv(path)
    if not rows:
        raise KeypointFormatError(f"{path}: the file is empty; it holds no keypoints")
    header = [c.strip() for c in rows[0]]
    # the reference reads every '<part>_x' column (in header order) whose '<part>_y' exists (gcn_reference A.9)
    parts = [c[:-2] for c in header if c.endswith("_x") and c[:-2] + "_y" in header and c != "frame"]
    if not parts:
        raise KeypointFormatError(
            f"{path}: no '<part>_x,<part>_y' column pairs in the header {header[:8]}; the CP reference CSV has "
            "an optional 'frame' column and then one x and one y column per body part"
        )
    body = rows[1:]
    check_row_lengths(path, body, len(header), 2)
    col = {c: i for i, c in enumerate(header)}
    values = parse_numbers(path, body, 2, header) if body else np.zeros((0, len(header)))
    dims = ["x", "y", "z"] if all(f"{p}_z" in col for p in parts) else ["x", "y"]
    xyz = np.stack([np.stack([values[:, col[f"{p}_{d}"]] for p in parts], axis=1) for d in dims], axis=-1)
    xyz[np.isnan(xyz).any(axis=-1)] = np.nan
    conf = None
    for suffix in _CONFIDENCE_SUFFIXES:
        if all(p + suffix in col for p in parts):
            conf = np.stack([values[:, col[p + suffix]] for p in parts], axis=1)
            break
    meta = frames_metadata(path, [[r[col["frame"]]] for r in body]) if "frame" in col else {}
    return sequence_of_parts(path, xyz, conf, parts, skeleton, fps, meta)


def write(path, seq: SkeletonSequence) -> None:
    """Write ``seq`` as a CP reference CSV (In-Motion names, ``frame`` column), atomically."""
    names = seq.skeleton.keypoints
    dims = ["x", "y", "z"][: seq.dims]
    index = index_column(seq)

    with csv_writer(path) as w:
        header = ["frame"] + [f"{n}_{d}" for n in names for d in dims]
        if seq.confidence is not None:
            header += [f"{n}_confidence" for n in names]
        w.writerow(header)
        for t in range(seq.num_frames):
            row = [index[t]] + [csv_number(v) for v in seq.coords[t].reshape(-1)]
            if seq.confidence is not None:
                row += [csv_number(v) for v in seq.confidence[t]]
            w.writerow(row)

