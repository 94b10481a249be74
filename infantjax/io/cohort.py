"""A cohort on disk: a folder of keypoint files plus a labels CSV.

The labels CSV has one row per recording with the columns ``file`` (path relative to the data folder), ``label``
(0/1 class or a numeric score), optionally ``subject`` (defaults to the file's stem) and ``fps`` (overrides the
file's frame rate); every other column becomes a metadata column of the :class:`~infantjax.sequence.Cohort`.
This is the layout ``infantjax synth --out DIR`` writes and ``infantjax train`` / ``infantjax search`` read.
"""

from __future__ import annotations

import csv
import io as _io
import os
import pathlib
from collections.abc import Sequence

import numpy as np

from infantjax.errors import DataError, InfantJaxError, KeypointFormatError
from infantjax.io.files import atomic_open
from infantjax.io.keypoints import read_keypoints, write_keypoints
from infantjax.sequence import Cohort

__all__ = ["read_labels", "read_cohort", "write_cohort"]

_RESERVED = ("file", "label", "subject", "fps")


def _number(text: str):
    try:
        value = float(text)
    except ValueError:
        return None
    return int(value) if value.is_integer() and "." not in text and "e" not in text.lower() else value


def read_labels(path: str | os.PathLike) -> list[dict[str, str]]:
    """Rows of a labels CSV as dicts; checks the header and that every row has a file and a label."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise DataError(f"labels file {path} does not exist; pass --labels with a CSV of file,subject,label rows")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise KeypointFormatError(f"labels file {path} is not UTF-8 text ({err.reason} at byte {err.start})") from None
    rows = list(csv.DictReader(_io.StringIO(text)))
    if not rows:
        raise DataError(f"labels file {path} has no rows; it needs a header file,subject,label and one row per file")
    header = list(rows[0].keys())
    missing = [c for c in ("file", "label") if c not in header]
    if missing:
        raise KeypointFormatError(
            f"labels file {path} lacks the column(s) {missing}; its header is {header}. "
            "Expected at least file,label (and optionally subject, fps and metadata columns)"
        )
    seen = set()
    for i, row in enumerate(rows, start=2):
        if not (row.get("file") or "").strip():
            raise DataError(f"labels file {path}, line {i}: empty 'file' cell")
        if _number((row.get("label") or "").strip()) is None:
            raise DataError(f"labels file {path}, line {i}: label {row.get('label')!r} is not a number")
        if row["file"] in seen:
            raise DataError(f"labels file {path}, line {i}: file {row['file']!r} is listed twice")
        seen.add(row["file"])
    return rows


def read_cohort(data: str | os.PathLike, labels: str | os.PathLike | None = None, *, skeleton=None,
                fps: float | None = None, name: str | None = None) -> Cohort:
    """Read a folder of keypoint files and its labels CSV into a :class:`Cohort`.

    Arguments:
        data: folder holding the keypoint files named in the labels CSV.
        labels: the labels CSV; defaults to ``DATA/labels.csv``.
        skeleton: keypoint set of the files when it cannot be inferred from them.
        fps: frame rate for formats that do not store one (an ``fps`` column overrides it per file).
        name: name of the cohort (defaults to the folder name).

    Returns:
        The cohort, recordings in the order of the CSV rows.
    """
    data = pathlib.Path(data)
    if not data.is_dir():
        raise DataError(f"data folder {data} does not exist")
    labels = pathlib.Path(labels) if labels is not None else data / "labels.csv"
    rows = read_labels(labels)
    extra = [c for c in rows[0] if c not in _RESERVED and c is not None]
    sequences, ys, subjects = [], [], []
    meta: dict[str, list] = {c: [] for c in extra}
    for i, row in enumerate(rows, start=2):
        path = data / row["file"].strip()
        if not path.exists():
            raise DataError(f"labels file {labels}, line {i}: {row['file']!r} does not exist in {data}")
        row_fps = _number((row.get("fps") or "").strip()) or fps
        try:
            seq = read_keypoints(path, skeleton=skeleton, fps=row_fps)
        except InfantJaxError as err:
            raise type(err)(f"{err} (listed in {labels}, line {i})") from None
        sequences.append(seq)
        ys.append(_number(row["label"].strip()))
        subjects.append((row.get("subject") or "").strip() or pathlib.Path(row["file"]).stem)
        for c in extra:
            cell = (row.get(c) or "").strip()
            value = _number(cell)
            meta[c].append(cell if value is None else value)
    columns = {}
    for c, values in meta.items():
        numeric = all(isinstance(v, (int, float)) for v in values)
        columns[c] = np.asarray(values, dtype=float if numeric else object)
    label_arr = np.asarray(ys)
    if label_arr.dtype.kind == "f" and np.all(label_arr == np.round(label_arr)) and set(np.unique(label_arr)) <= {0, 1}:
        label_arr = label_arr.astype(np.int64)
    return Cohort(sequences, label_arr, subjects, columns, name or data.name)


def write_cohort(cohort: Cohort, out: str | os.PathLike, *, format: str = "npz",
                 metadata: Sequence[str] | None = None) -> pathlib.Path:
    """Write a cohort as keypoint files plus ``labels.csv`` (readable by :func:`read_cohort`).

    Returns the path of the labels CSV. Files are named ``<subject>_<n>.<ext>``; writes are atomic per file.
    """
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    ext = {"npz": "npz", "dlc-csv": "csv", "part-csv": "csv"}.get(format, format)
    columns = list(metadata) if metadata is not None else [
        k for k, v in cohort.metadata.items() if np.asarray(v).ndim == 1
    ]
    counts: dict[str, int] = {}
    lines = []
    for seq, y, subject in zip(cohort.sequences, cohort.labels, cohort.subjects):
        n = counts.get(subject, 0)
        counts[subject] = n + 1
        fname = f"{subject}_{n}.{ext}"
        write_keypoints(out / fname, seq, format=format)
        lines.append((fname, subject, y, seq.fps))
    labels = out / "labels.csv"
    with atomic_open(labels, newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "subject", "label", "fps", *columns])
        for i, (fname, subject, y, f) in enumerate(lines):
            w.writerow([fname, subject, y.item() if hasattr(y, "item") else y, f,
                        *[_cell(cohort.metadata[c][i]) for c in columns]])
    return labels


def _cell(value):
    return value.item() if hasattr(value, "item") else value
