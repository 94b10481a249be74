"""What the keypoint formats share: reading and decoding files, CSV cells, matching body-part names to a skeleton,
building the :class:`~infantjax.sequence.SkeletonSequence`, and atomic writing."""

from __future__ import annotations

import contextlib
import csv
import io as _io
import json
import logging
import math
import pathlib
import re
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from infantjax import skeleton as _skeleton
from infantjax.errors import DataError, KeypointFormatError, KeypointWriteError, SkeletonMismatchError
from infantjax.io.files import atomic_open, write_json
from infantjax.sequence import SkeletonSequence
from infantjax.skeleton import Skeleton

log = logging.getLogger(__name__)


DEFAULT_FPS = 30.0  # the frame rate of a file that stores none


def read_bytes(path: pathlib.Path) -> bytes:
    """The bytes of a keypoint file; a missing, non-regular or empty file raises KeypointFormatError."""
    if not path.exists():
        raise KeypointFormatError(f"{path}: no such file; check the path")
    if not path.is_file():
        raise KeypointFormatError(f"{path}: not a regular file")
    data = path.read_bytes()
    if not data.strip():
        raise KeypointFormatError(f"{path}: the file is empty; it holds no keypoints")
    return data


def decode_text(path: pathlib.Path, data: bytes) -> str:
    """UTF-8 text (a byte-order mark is dropped); a binary or non-UTF-8 file raises KeypointFormatError."""
    if b"\x00" in data[:65536]:
        raise KeypointFormatError(
            f"{path}: this is a binary file, not a text keypoint file (CSV/JSON); pass the right file or format="
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise KeypointFormatError(
            f"{path}: not UTF-8 text (byte 0x{data[err.start]:02x} at offset {err.start}); "
            "re-save the file as UTF-8"
        ) from None


def part_key(name: str) -> str:
    """A body-part name compared case- and punctuation-insensitively (``Left_Ankle`` = ``leftankle``)."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def bone_parents(n: int, edges: Sequence[tuple[int, int]]) -> list[int]:
    """Each of ``n`` keypoints' parent from a breadth-first walk over the edges (a root is its own parent)."""
    parents = list(range(n))
    adj: dict[int, list[int]] = {i: [] for i in range(n)}
    for a, b in edges:
        adj[a].append(b)
        adj[b].append(a)
    seen: set[int] = set()
    for root in range(n):
        if root in seen:
            continue
        seen.add(root)
        queue = [root]
        while queue:
            u = queue.pop(0)
            for v in adj[u]:
                if v not in seen:
                    seen.add(v)
                    parents[v] = u
                    queue.append(v)
    return parents


def custom_skeleton(name: str, parts: Sequence[str], edges: Sequence[tuple[int, int]] = ()) -> Skeleton:
    """An unregistered skeleton for body parts no registered set covers (parents from a BFS over the edges)."""
    parents = bone_parents(len(parts), edges)
    return Skeleton(name, tuple(parts), tuple((int(a), int(b)) for a, b in edges), tuple(parents), None)


def match_skeleton(path, parts: Sequence[str], skeleton) -> tuple[Skeleton, np.ndarray]:
    """The skeleton for the file's body-part names and, for every file part, its keypoint index (-1 = unused).

    With ``skeleton`` given, every one of its keypoints must be in the file (extra file parts are ignored, as the
    reference does). Otherwise: a registered set whose names (canonical or source labels) equal the file's wins;
    then the smallest registered set containing all of them (absent keypoints are NaN); else a custom skeleton.
    """
    keys = [part_key(p) for p in parts]
    if len(set(keys)) != len(keys):
        dup = sorted({p for p, k in zip(parts, keys) if keys.count(k) > 1})
        raise KeypointFormatError(f"{path}: body part(s) {dup} appear more than once")

    def index_in(skel: Skeleton) -> np.ndarray:
        lookup = {}
        for i, (kp, lab) in enumerate(zip(skel.keypoints, skel.labels)):
            lookup[part_key(kp)] = i
            lookup[part_key(lab)] = i
        return np.array([lookup.get(k, -1) for k in keys], dtype=np.int64)

    if skeleton is not None:
        skel = _skeleton.get(skeleton)
        idx = index_in(skel)
        missing = sorted(set(range(skel.num_keypoints)) - set(idx[idx >= 0].tolist()))
        if missing:
            names = [skel.labels[i] for i in missing]
            raise SkeletonMismatchError(
                f"{path}: skeleton {skel.name!r} needs body parts {names} that the file does not have (the file has "
                f"{list(parts)}); pass a file with the {skel.name} body parts"
            )
        return skel, idx
    candidates = []
    for name in _skeleton.names():
        skel = _skeleton.get(name)
        idx = index_in(skel)
        if (idx >= 0).all() and len(set(idx.tolist())) == len(idx):
            candidates.append((skel.num_keypoints != len(parts), skel.num_keypoints, skel, idx))
    if candidates:
        _, _, skel, idx = min(candidates, key=lambda c: c[:2])
        if skel.num_keypoints != len(parts):
            log.info("%s: %d of the %d %s keypoints present; the others are NaN", path, len(parts),
                     skel.num_keypoints, skel.name)
        return skel, idx
    log.warning("%s: body parts %s match no registered skeleton; using a custom skeleton without edges "
                "(pass skeleton= to choose one)", path, list(parts))
    return custom_skeleton(f"custom-{len(parts)}", parts), np.arange(len(parts))


def place(values: np.ndarray, idx: np.ndarray, num_keypoints: int) -> np.ndarray:
    """Scatter (T, P, ...) file-order values into (T, J, ...) skeleton order (NaN where the file has no part)."""
    out = np.full((values.shape[0], num_keypoints) + values.shape[2:], np.nan, dtype=np.float64)
    used = idx >= 0
    out[:, idx[used]] = values[:, used]
    return out


def check_finite(path, coords: np.ndarray, confidence: np.ndarray | None, parts: Sequence[str]):
    """Raise DataError naming the first infinite value (NaN is fine: it means missing)."""
    for what, arr in (("coordinate", coords), ("confidence", confidence)):
        if arr is None:
            continue
        bad = np.argwhere(np.isinf(arr))
        if len(bad):
            t, j = int(bad[0][0]), int(bad[0][1])
            raise DataError(
                f"{path}: {len(bad)} infinite {what} value(s), first at frame {t}, body part {parts[j]!r}; "
                "mark a missing keypoint with an empty cell or NaN, never inf"
            )


def parse_numbers(path, rows: list[list[str]], first_line: int, columns: Sequence[str]) -> np.ndarray:
    """(R, C) float64 from CSV cells; empty and 'nan' cells are NaN; names the cell that is not a number."""
    if not rows:
        return np.zeros((0, len(columns)))
    cells = np.array([[c.strip() or "nan" for c in r] for r in rows], dtype=str)
    try:
        return cells.astype(np.float64)
    except ValueError:
        for r, row in enumerate(cells):
            for c, cell in enumerate(row):
                try:
                    float(cell)
                except ValueError:
                    raise KeypointFormatError(
                        f"{path}: line {first_line + r}, column {columns[c]!r}: {cell[:40]!r} is not a number"
                    ) from None
        raise  # pragma: no cover


def csv_rows(path, text: str) -> list[list[str]]:
    """The rows of a CSV text, trailing empty rows dropped."""
    try:
        rows = list(csv.reader(_io.StringIO(text)))
    except csv.Error as err:
        raise KeypointFormatError(f"{path}: not a valid CSV file ({err})") from None
    while rows and not any(c.strip() for c in rows[-1]):
        rows.pop()
    return rows


def read_csv(path: pathlib.Path) -> list[list[str]]:
    """The rows of a CSV keypoint file (UTF-8), trailing empty rows dropped."""
    return csv_rows(path, decode_text(path, read_bytes(path)))


def check_row_lengths(path, rows: list[list[str]], width: int, first_line: int):
    """Raise KeypointFormatError naming the first row whose field count differs from the header's."""
    for r, row in enumerate(rows):
        if len(row) != width:
            raise KeypointFormatError(
                f"{path}: line {first_line + r} has {len(row)} fields but the header has {width}"
                + (" (the file looks truncated)" if r == len(rows) - 1 else "")
            )


def frames_metadata(path, index_cells: list[list[str]]) -> dict:
    """Turn the index column(s) of a CSV into metadata: frame numbers or image names."""
    if not index_cells or not index_cells[0]:
        return {}
    joined = ["/".join(c for c in cells if c) for cells in index_cells]
    try:
        frames = [int(float(v)) for v in joined]
    except ValueError:
        return {"images": joined, "time_series": False}
    if frames != list(range(frames[0], frames[0] + len(frames))):
        return {"frame_index": frames}
    return {"first_frame": frames[0]} if frames and frames[0] else {}


def index_column(seq: SkeletonSequence) -> list[str]:
    """The index cell of every frame when writing: image names, frame numbers, or numbers from ``first_frame``."""
    images = seq.metadata.get("images")
    if isinstance(images, (list, tuple)) and len(images) == seq.num_frames:
        return [str(i) for i in images]
    frames = seq.metadata.get("frame_index")
    if isinstance(frames, (list, tuple)) and len(frames) == seq.num_frames:
        return [str(int(f)) for f in frames]
    first = int(seq.metadata.get("first_frame", 0) or 0)
    return [str(first + t) for t in range(seq.num_frames)]


def csv_number(v: float) -> str:
    """A CSV cell: the shortest exact decimal, empty for NaN (missing)."""
    return "" if not math.isfinite(v) else repr(float(v))


#: no keypoint coordinate of an image, in pixels or any other unit, lies this far out: beyond it a value is damage
#: (a coordinate near float32's limit overflows the preprocessing and the networks into NaN risks)
PLAUSIBLE_COORDINATE = 1e9


def make_sequence(path, coords, confidence, skel, fps, metadata, parts) -> SkeletonSequence:
    """The float32 SkeletonSequence of a file's values (a keypoint with any missing coordinate is missing)."""
    check_finite(path, coords, confidence, parts)
    coords = np.array(coords, dtype=np.float64)
    coords[np.isnan(coords).any(axis=-1)] = np.nan  # a keypoint with any missing coordinate is missing
    big = np.finfo(np.float32).max
    for what, arr in (("coordinate", coords), ("confidence", confidence)):
        if arr is not None and np.any(np.abs(np.nan_to_num(arr)) > big):
            raise DataError(f"{path}: a {what} value is too large for float32 (|x| > {big:.3g}); the file is damaged")
    far = np.argwhere(np.abs(np.nan_to_num(coords)) > PLAUSIBLE_COORDINATE)
    if len(far):
        t, j = int(far[0][0]), int(far[0][1])
        name = skel.labels[j] if j < len(skel.labels) else str(j)
        raise DataError(f"{path}: {len(far)} implausible coordinate value(s) beyond ±{PLAUSIBLE_COORDINATE:.0e}, first "
                        f"{coords[tuple(far[0])]:.3g} at frame {t}, body part {name!r}; the file is damaged (mark a "
                        "missing keypoint with an empty cell or NaN)")
    return SkeletonSequence(coords.astype(np.float32), float(fps if fps is not None else DEFAULT_FPS), skel,
                            None if confidence is None else confidence.astype(np.float32), metadata)


def sequence_of_parts(path, values: np.ndarray, confidence: np.ndarray | None, parts: Sequence[str], skeleton,
                      fps, metadata: dict) -> SkeletonSequence:
    """The SkeletonSequence of values given per body part of a file, (T, P, D) and (T, P): the skeleton is matched
    from the part names (:func:`match_skeleton`) and the values are placed in its keypoint order."""
    check_finite(path, values, confidence, parts)
    skel, idx = match_skeleton(path, parts, skeleton)
    return make_sequence(path, place(values, idx, skel.num_keypoints),
                         None if confidence is None else place(confidence, idx, skel.num_keypoints), skel, fps,
                         metadata, parts)


def load_json(path: pathlib.Path, data: bytes | None = None) -> Any:
    """A parsed JSON file; invalid or too deeply nested JSON raises KeypointFormatError."""
    text = decode_text(path, data if data is not None else read_bytes(path))
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise KeypointFormatError(
            f"{path}: invalid JSON at line {err.lineno}, column {err.colno} ({err.msg}); is the file truncated?"
        ) from None
    except RecursionError:
        raise KeypointFormatError(f"{path}: JSON nested too deeply to be a keypoint file") from None


def float_list(path, values, what: str) -> np.ndarray:
    """A flat JSON list of numbers (``null`` = NaN) as float64; anything else raises KeypointFormatError."""
    if not isinstance(values, list):
        raise KeypointFormatError(f"{path}: {what} must be a list of numbers, got {type(values).__name__}")
    try:
        arr = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    except (TypeError, ValueError):
        raise KeypointFormatError(f"{path}: {what} holds values that are not numbers") from None
    if arr.ndim != 1:
        raise KeypointFormatError(f"{path}: {what} must be a flat list of numbers")
    return arr


def open_for_writing(path: pathlib.Path, binary: bool = False):
    """:func:`~infantjax.io.files.atomic_open` for a keypoint file (text: UTF-8, no newline translation).

    Raises:
        KeypointWriteError: the folder does not exist or the path is a folder (a :class:`KeypointFormatError`, as
            the keypoint writers have always raised, and a :class:`~infantjax.errors.FileWriteError`).
    """
    return atomic_open(path, "wb" if binary else "w", newline="", error=KeypointWriteError)


@contextlib.contextmanager
def csv_writer(path: pathlib.Path) -> Iterator[Any]:
    """A ``csv.writer`` (``\\n`` line ends) on a keypoint file written atomically."""
    with open_for_writing(path) as fh:
        yield csv.writer(fh, lineterminator="\n")


def write_json_file(path: pathlib.Path, doc: Any) -> None:
    """Write a keypoint JSON document atomically as one line, keys in the document's order."""
    write_json(path, doc, indent=None, sort_keys=False, allow_nan=True, newline=False, error=KeypointWriteError)
