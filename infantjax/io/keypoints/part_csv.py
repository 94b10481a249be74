"""The CP reference code's CSV (``part-csv``): an optional ``frame`` column, then ``<part>_x, <part>_y``
columns in header order (gcn_reference A.9, In-Motion 19 names); optional ``<part>_confidence`` /
``_likelihood`` and ``<part>_z``.

Frames are numbered from 1 in this format: MovementOutcome's v1 reader (``utils/process.py`` before 2023-01-06)
stores frame ``f`` at row ``f − 1`` and its median filter assumes ``f ≥ 1``. A missing value is written ``nan``,
which both reference readers (v1 and HEAD) parse; they reject empty cells."""

from __future__ import annotations

import numpy as np

from infantjax.errors import KeypointFormatError
from infantjax.io.keypoints import common
from infantjax.sequence import SkeletonSequence

_CONFIDENCE_SUFFIXES = ("_likelihood", "_confidence")


def read(path, skeleton, fps) -> SkeletonSequence:
    """Read a CP reference CSV (``skeleton``, ``fps``: as :func:`~infantjax.io.read_keypoints`)."""
    rows = common.read_csv(path)
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
    common.check_row_lengths(path, body, len(header), 2)
    col = {c: i for i, c in enumerate(header)}
    values = common.parse_numbers(path, body, 2, header) if body else np.zeros((0, len(header)))
    dims = ["x", "y", "z"] if all(f"{p}_z" in col for p in parts) else ["x", "y"]
    xyz = np.stack([np.stack([values[:, col[f"{p}_{d}"]] for p in parts], axis=1) for d in dims], axis=-1)
    xyz[np.isnan(xyz).any(axis=-1)] = np.nan
    conf = None
    for suffix in _CONFIDENCE_SUFFIXES:
        if all(p + suffix in col for p in parts):
            conf = np.stack([values[:, col[p + suffix]] for p in parts], axis=1)
            break
    meta = {}
    if "frame" in col and body:
        cells = [r[col["frame"]] for r in body]
        by = -1 if _shift(cells[0], 0) != "0" else 0  # numbered from 1 (files written from 0 are read as they are)
        meta = common.frames_metadata(path, [[_shift(c, by)] for c in cells])
    return common.sequence_of_parts(path, xyz, conf, parts, skeleton, fps, meta)


def _shift(cell: str, by: int) -> str:
    """A frame number moved by ``by`` (the format counts from 1, infantjax from 0); other index cells unchanged."""
    try:
        return str(int(float(cell)) + by)
    except ValueError:
        return cell


def write(path, seq: SkeletonSequence) -> None:
    """Write ``seq`` as a CP reference CSV (In-Motion names, ``frame`` column from 1, ``nan`` for a missing value),
    atomically. MovementOutcome's v1 reader reads every column after ``frame`` as x, y pairs, so give it a sequence
    without confidences (``seq.replace(confidence=None)``); its HEAD reader skips the confidence columns."""
    names = seq.skeleton.keypoints
    dims = ["x", "y", "z"][: seq.dims]
    index = [_shift(cell, 1) for cell in common.index_column(seq)]

    with common.csv_writer(path) as w:
        header = ["frame"] + [f"{n}_{d}" for n in names for d in dims]
        if seq.confidence is not None:
            header += [f"{n}_confidence" for n in names]
        w.writerow(header)
        for t in range(seq.num_frames):
            row = [index[t]] + [common.csv_number(v) or "nan" for v in seq.coords[t].reshape(-1)]
            if seq.confidence is not None:
                row += [common.csv_number(v) or "nan" for v in seq.confidence[t]]
            w.writerow(row)

