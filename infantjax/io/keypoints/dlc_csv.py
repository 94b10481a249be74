"""DeepLabCut CSV (``dlc-csv``): header rows scorer / bodyparts / coords, then one row per frame with
``x, y[, likelihood]`` per body part (other_seeds §1.1); also ``CollectedData_*.csv`` (image-path index) and
single-individual multi-animal files."""

from __future__ import annotations

import numpy as np

from infantjax.errors import KeypointFormatError
from infantjax.io.keypoints import common
from infantjax.sequence import SkeletonSequence


def read(path, skeleton, fps) -> SkeletonSequence:
    """Read a DeepLabCut CSV (``skeleton``, ``fps``: as :func:`~infantjax.io.read_keypoints`)."""
    rows = common.read_csv(path)
    if len(rows) < 3 or not rows[0] or rows[0][0].strip().lower() != "scorer":
        raise KeypointFormatError(
            f"{path}: a DeepLabCut CSV starts with three header rows 'scorer', 'bodyparts', 'coords'; "
            f"found {len(rows)} row(s) starting {[r[0] if r else '' for r in rows[:3]]}"
        )
    header_names = [r[0].strip().lower() if r else "" for r in rows[:4]]
    if "metrics" in header_names or {c.strip().lower() for r in rows[1:4] for c in r[1:]} & {"rmse"}:
        # DeepLabCut's evaluation writes dist_<iterations>.csv with the same scorer/individuals/bodyparts header
        # and a 'metrics' row (rmse, conf per body part): a table of errors per labelled image, not keypoints
        raise KeypointFormatError(
            f"{path}: a DeepLabCut evaluation table (header rows {header_names}: per-image errors 'rmse' and "
            "confidences 'conf', e.g. evaluation-results/.../dist_<iterations>.csv), not keypoints; pass the CSV "
            "DeepLabCut writes when it analyses a video"
        )
    if header_names[1] == "individuals":
        individuals = {c for c in rows[1][1:] if c.strip()}
        if len(individuals) > 1:
            raise KeypointFormatError(
                f"{path}: a multi-animal DeepLabCut CSV with {len(individuals)} individuals "
                f"({sorted(individuals)[:4]}); split it into one file per individual"
            )
        rows = [rows[0]] + rows[2:]
        header_names = [r[0].strip().lower() if r else "" for r in rows[:3]]
    if header_names[1:3] != ["bodyparts", "coords"]:
        raise KeypointFormatError(
            f"{path}: DeepLabCut header rows must be 'scorer', 'bodyparts', 'coords', found {header_names[:3]}"
        )
    width = len(rows[0])
    common.check_row_lengths(path, rows[:3], width, 1)
    bodyparts, coords_row = rows[1], rows[2]
    value_cols = [c for c in range(1, width) if coords_row[c].strip().lower() in ("x", "y", "z", "likelihood")]
    if not value_cols:
        raise KeypointFormatError(f"{path}: the 'coords' header row names no x/y/likelihood columns")
    n_index = value_cols[0]
    if any(coords_row[c].strip() for c in range(1, n_index)) or value_cols != list(range(n_index, width)):
        bad = [coords_row[c] for c in range(1, width) if c not in value_cols]
        raise KeypointFormatError(
            f"{path}: unexpected 'coords' header entries {bad[:5]}; DeepLabCut columns are x, y[, likelihood]"
        )
    parts, columns = part_columns(path, bodyparts, coords_row, value_cols, KeypointFormatError)
    dims = ["x", "y", "z"] if all("z" in columns[p] for p in parts) else ["x", "y"]
    has_conf = all("likelihood" in columns[p] for p in parts)
    body = rows[3:]
    common.check_row_lengths(path, body, width, 4)
    col_names = [f"{bodyparts[c]}.{coords_row[c]}" for c in range(n_index, width)]
    values = common.parse_numbers(path, [r[n_index:] for r in body], 4, col_names)

    def pick(coord: str) -> np.ndarray:
        return np.stack([values[:, columns[p][coord] - n_index] for p in parts], axis=1)

    xyz = np.stack([pick(d) for d in dims], axis=-1) if body else np.zeros((0, len(parts), len(dims)))
    xyz[np.isnan(xyz).any(axis=-1)] = np.nan
    conf = pick("likelihood") if (has_conf and body) else None
    meta = {"scorer": rows[0][n_index].strip()} if width > n_index else {}
    meta.update(common.frames_metadata(path, [r[:n_index] for r in body]))
    return common.sequence_of_parts(path, xyz, conf, parts, skeleton, fps, meta)


def write(path, seq: SkeletonSequence) -> None:
    """Write ``seq`` as a DeepLabCut CSV, atomically."""
    labels = seq.skeleton.labels
    coords_names = ["x", "y", "z"][: seq.dims] + (["likelihood"] if seq.confidence is not None else [])
    scorer = str(seq.metadata.get("scorer") or "infantjax")
    index = common.index_column(seq)

    with common.csv_writer(path) as w:
        w.writerow(["scorer"] + [scorer] * (len(labels) * len(coords_names)))
        w.writerow(["bodyparts"] + [lab for lab in labels for _ in coords_names])
        w.writerow(["coords"] + coords_names * len(labels))
        for t in range(seq.num_frames):
            row = [index[t]]
            for j in range(seq.num_keypoints):
                row += [common.csv_number(v) for v in seq.coords[t, j]]
                if seq.confidence is not None:
                    row.append(common.csv_number(seq.confidence[t, j]))
            w.writerow(row)


def part_columns(path, part_row: list[str], coord_row: list[str], value_cols, error: type[Exception],
                 ) -> tuple[list[str], dict[str, dict[str, int]]]:
    """Group a DeepLabCut header's value columns by body part: the parts in file order and, for each, the column of
    every coordinate (``x``, ``y``, ``z``, ``likelihood``). ``error`` (the caller's typed error) names a column with
    no body part, a coordinate given twice, and a body part without its x or y column."""
    parts: list[str] = []
    columns: dict[str, dict[str, int]] = {}
    for c in value_cols:
        part, coord = part_row[c].strip(), coord_row[c].strip().lower()
        if not part:
            raise error(f"{path}: column {c + 1} has no body part name in the 'bodyparts' row")
        if part not in columns:
            parts.append(part)
            columns[part] = {}
        if coord in columns[part]:
            raise error(f"{path}: body part {part!r} has two {coord!r} columns")
        columns[part][coord] = c
    for p in parts:
        if "x" not in columns[p] or "y" not in columns[p]:
            raise error(f"{path}: body part {p!r} lacks an x or y column")
    return parts, columns
