"""Which keypoint format a file is (from its content, or the extension when writing) and the public
:func:`read_keypoints` / :func:`write_keypoints`, which hand the file to the format's module."""

from __future__ import annotations

import json
import math
import os
import pathlib

from infantjax.errors import DataError, KeypointFormatError
from infantjax.io.keypoints import coco, dlc_csv, dlc_mat, long_csv, npz, openpose, part_csv, sidecar
from infantjax.io.keypoints.common import csv_rows, decode_text, part_key, read_bytes
from infantjax.sequence import SkeletonSequence
from infantjax.skeleton import Skeleton

__all__ = ["FORMATS", "WRITE_SUFFIXES", "detect_format", "read_keypoints", "writable_format", "write_keypoints"]

# format name → the module with its read(path, skeleton, fps) and write(path, sequence)
_MODULES = {"dlc-csv": dlc_csv, "part-csv": part_csv, "long-csv": long_csv, "openpose": openpose, "coco": coco,
            "dlc-mat": dlc_mat, "npz": npz}
FORMATS = tuple(_MODULES)
#: formats whose frame times (and how the keypoints were made) live in a sidecar JSON beside the file
#: (:mod:`~infantjax.io.keypoints.sidecar`); ``npz`` and ``coco`` store them themselves, the others lose them
_SIDECAR = ("dlc-csv", "part-csv", "long-csv")
#: formats that store frame times themselves (COCO: a ``frame_time`` per image)
_KEEP_TIMES = ("npz", "coco")
_ALIASES = {
    "deeplabcut": "dlc-csv", "deeplabcut-csv": "dlc-csv", "dlc": "dlc-csv", "reference-csv": "part-csv",
    "cp-csv": "part-csv", "openpose-json": "openpose", "coco-json": "coco", "mat": "dlc-mat",
    "deeplabcut-mat": "dlc-mat",
}


def _canonical_format(fmt: str) -> str:
    key = str(fmt).lower().replace("_", "-")
    key = _ALIASES.get(key, key)
    if key not in FORMATS:
        raise KeypointFormatError(f"unknown keypoint format {fmt!r}; known formats: {', '.join(FORMATS)}")
    return key


def detect_format(path: str | os.PathLike) -> str:
    """Name of the keypoint format of ``path`` (from its content; the extension only breaks ties).

    Raises:
        KeypointFormatError: the file is missing, empty, binary of an unknown kind, not UTF-8, or none of
            :data:`FORMATS`.
    """
    path = pathlib.Path(path)
    if path.is_dir():
        if any(path.glob("*_keypoints.json")):
            return "openpose"
        raise KeypointFormatError(
            f"{path}: a folder is read as OpenPose output, but it holds no '*_keypoints.json' files"
        )
    data = read_bytes(path)
    if data[:4] == b"PK\x03\x04" or data[:4] == b"PK\x05\x06":
        return "npz"
    if data[:10] == b"MATLAB 5.0" or data[:6] == b"MATLAB":
        return "dlc-mat"
    if data[:8] == b"\x89HDF\r\n\x1a\n":
        raise KeypointFormatError(
            f"{path}: an HDF5 file (DeepLabCut .h5?); HDF5 keypoint files are not read — export the DeepLabCut "
            "CSV instead (deeplabcut.analyze_videos(..., save_as_csv=True))"
        )
    text = decode_text(path, data)
    head = text.lstrip()
    if head[:1] in "{[":
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as err:
            raise KeypointFormatError(
                f"{path}: invalid JSON at line {err.lineno}, column {err.colno} ({err.msg}); "
                "is the file truncated?"
            ) from None
        if isinstance(obj, dict) and "people" in obj:
            return "openpose"
        if isinstance(obj, dict) and "annotations" in obj:
            return "coco"
        raise KeypointFormatError(
            f"{path}: JSON that is neither OpenPose (a 'people' list) nor COCO keypoints ('annotations', "
            "'categories'); convert it to one of those or to a keypoint CSV"
        )
    rows = csv_rows(path, text[:200_000])
    if not rows:
        raise KeypointFormatError(f"{path}: the file is empty; it holds no keypoints")
    first = rows[0][0].strip().lower() if rows[0] else ""
    if first == "scorer":
        return "dlc-csv"
    header = {part_key(c) for c in rows[0]}
    cols = [c.strip() for c in rows[0]]
    if {"x", "y"} <= header and (header & {"jointname", "bodypart", "joint", "keypoint"}):
        return "long-csv"
    if any(c.endswith("_x") and (c[:-2] + "_y") in cols for c in cols):
        return "part-csv"
    raise KeypointFormatError(
        f"{path}: a CSV whose columns {cols[:8]}{' ...' if len(cols) > 8 else ''} are not a known keypoint "
        "layout: expected DeepLabCut header rows (scorer/bodyparts/coords), '<part>_x,<part>_y' columns, or "
        "'joint_name,x,y' rows"
    )


#: the suffixes :func:`write_keypoints` picks a format by (no suffix, or a folder: an OpenPose folder)
WRITE_SUFFIXES = {".csv": "dlc-csv", ".npz": "npz", ".json": "coco", ".mat": "dlc-mat"}


def _format_for_writing(path: pathlib.Path) -> str:
    suffix = path.suffix.lower()
    if suffix in WRITE_SUFFIXES:
        return WRITE_SUFFIXES[suffix]
    if suffix == "" or path.is_dir():
        return "openpose"
    raise KeypointFormatError(
        f"cannot write keypoints to {path}: the keypoint writers write {', '.join(WRITE_SUFFIXES)} (DeepLabCut "
        f"CSV, npz, COCO JSON, DeepLabCut MAT) or a folder without suffix (OpenPose JSON), not {suffix!r}; change "
        f"the suffix or pass the format (one of {', '.join(FORMATS)})"
    )


def writable_format(path: str | os.PathLike, format: str | None = None) -> str:
    """The keypoint format :func:`write_keypoints` would write ``path`` in: ``format`` (an alias is resolved) or the
    one its suffix says. Cheap; nothing is written: a command checks its output with it before it tracks a video.

    Raises:
        KeypointFormatError: an unknown ``format``, or (without one) a suffix no keypoint writer writes (the
            message names the suffixes they write).
    """
    return _canonical_format(format) if format is not None else _format_for_writing(pathlib.Path(path))


def read_keypoints(path: str | os.PathLike, format: str | None = None, *, skeleton: str | Skeleton | None = None,
                   fps: float | None = None) -> SkeletonSequence:
    """Read a keypoint file (or an OpenPose folder) into a :class:`SkeletonSequence`.

    Arguments:
        path: the file, or the folder of OpenPose ``*_keypoints.json`` files.
        format: one of :data:`FORMATS`; detected from the content when ``None``.
        skeleton: the keypoint set to read into; inferred from the body-part names when ``None`` (Passmore DLC
            names → ``passmore-18``, In-Motion names → ``in-motion-19``, BODY_25 → ``openpose-body-25`` ...).
        fps: frame rate; overrides the file's (``npz`` stores one, and a CSV's sidecar ``<file>.json``; others
            default to 30).

    Returns:
        SkeletonSequence with coords (T, J, D) float32 (NaN = missing), confidence (T, J) where the format has
        one, every frame's time where the file has them (``npz``, or a CSV's sidecar ``<file>.json`` written by
        :func:`write_keypoints`), and metadata naming the source file, the format, and, for per-image label sets,
        the images.

    Raises:
        KeypointFormatError, SkeletonMismatchError, DataError: see the module docstring.
    """
    path = pathlib.Path(path)
    fmt = _canonical_format(format) if format is not None else detect_format(path)
    if fps is not None:
        try:
            ok = math.isfinite(float(fps)) and float(fps) > 0
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise DataError(f"fps must be a positive number, got {fps!r}")
        fps = float(fps)
    seq = _MODULES[fmt].read(path, skeleton, fps)
    if fmt in _SIDECAR:
        seq = sidecar.apply(path, seq, fps)
    meta = dict(seq.metadata)
    meta.setdefault("source", str(path))
    meta["format"] = fmt
    return seq.replace(metadata=meta)


def write_keypoints(path: str | os.PathLike, sequence: SkeletonSequence, format: str | None = None) -> pathlib.Path:
    """Write a :class:`SkeletonSequence` atomically (temporary file + rename).

    Arguments:
        path: target file (a folder for ``openpose``).
        sequence: what to write.
        format: one of :data:`FORMATS`; from the extension when ``None`` (``.csv`` → dlc-csv, ``.json`` → coco,
            ``.mat`` → dlc-mat, ``.npz`` → npz, no extension → openpose folder).

    Frame times (a video's presentation times, :attr:`SkeletonSequence.times`) are kept: ``npz`` stores them, the
    CSV formats get a sidecar ``<file>.json`` beside the file (with the source video and the orientation of the
    keypoints; :mod:`~infantjax.io.keypoints.sidecar`), COCO a ``frame_time`` per image; the other formats lose
    them, with a warning when the frame rate is variable.

    Returns:
        The path written.
    """
    if not isinstance(sequence, SkeletonSequence):
        raise DataError(f"write_keypoints needs a SkeletonSequence, got {type(sequence).__name__}")
    path = pathlib.Path(path)
    fmt = _canonical_format(format) if format is not None else _format_for_writing(path)
    _MODULES[fmt].write(path, sequence)
    if fmt in _SIDECAR:
        sidecar.write(path, sequence)
    elif fmt not in _KEEP_TIMES:
        sequence.warn_if_variable_rate(f"writing {path} ({fmt}, which stores no frame times)")
    return path
