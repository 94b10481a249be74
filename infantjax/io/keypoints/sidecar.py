"""What a CSV keypoint file cannot hold, beside it: every frame's presentation time and how the keypoints were made.

A DeepLabCut CSV (and the other CSV layouts) has no place for frame times — a phone's variable frame rate — or for
saying that the keypoints refer to the upright frame of a rotated phone video. :func:`write` puts them in a JSON
file named after the CSV with ``.json`` appended (``keypoints.csv`` → ``keypoints.csv.json``), so DeepLabCut and
other tools still read the CSV unchanged; :func:`apply` reads them back when the CSV is read. The sidecar records the
SHA-256 of the CSV it belongs to: when the CSV has been replaced or edited since, the sidecar is ignored, with a
warning, rather than attaching times to the wrong frames.
"""

from __future__ import annotations

import hashlib
import json
import logging
import pathlib

import numpy as np

from infantjax.errors import DataError, KeypointFormatError, KeypointWriteError
from infantjax.io.files import write_json
from infantjax.sequence import SkeletonSequence

log = logging.getLogger(__name__)

FORMAT = "infantjax-keypoint-sidecar-v1"
#: the metadata a sidecar keeps (what the CSV loses): where and how the keypoints were made
KEPT = ("source", "model", "image_hw", "stride", "units", "decoding", "orientation", "rotation", "sharpness")


def path_of(csv: str | pathlib.Path) -> pathlib.Path:
    """The sidecar of ``csv``: its name with ``.json`` appended."""
    csv = pathlib.Path(csv)
    return csv.with_name(csv.name + ".json")


def is_sidecar(path: str | pathlib.Path) -> bool:
    """Whether ``path`` is the sidecar of a file beside it (``x.csv.json`` next to ``x.csv``)."""
    path = pathlib.Path(path)
    return path.suffix.lower() == ".json" and path.with_suffix("").suffix != "" and path.with_suffix("").is_file()


def digest(path: pathlib.Path) -> str:
    """SHA-256 (hex) of a keypoints file: what its sidecar, and an assess record, keep to know it unchanged."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write(csv: pathlib.Path, sequence: SkeletonSequence) -> pathlib.Path | None:
    """Write the sidecar of the CSV just written (atomically); without frame times remove a stale one instead.

    Returns:
        The sidecar's path, or None when the sequence has no times.
    """
    side = path_of(csv)
    if sequence.times is None:
        if side.is_file():
            side.unlink()
        return None
    meta = {k: sequence.metadata[k] for k in KEPT if k in sequence.metadata}
    doc = {"format": FORMAT, "file": csv.name, "sha256": digest(csv), "frames": sequence.num_frames,
           "fps": sequence.fps, "times": [float(t) for t in sequence.times], "metadata": meta}
    try:
        return write_json(side, doc, indent=None, error=KeypointWriteError)
    except DataError as err:  # metadata that JSON cannot hold
        raise KeypointWriteError(f"cannot write {side}: {err}") from None


def apply(csv: pathlib.Path, sequence: SkeletonSequence, fps: float | None = None) -> SkeletonSequence:
    """``sequence`` read from ``csv`` with the frame rate, times and metadata of its sidecar, when it has a matching
    one; ``fps`` (the reader's argument) overrides the sidecar's frame rate.

    Raises:
        KeypointFormatError: the sidecar is not JSON or not an infantjax sidecar, or its times do not fit.
    """
    side = path_of(csv)
    if not side.is_file():
        return sequence
    try:
        doc = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise KeypointFormatError(f"{side}: the frame-times file beside {csv.name} is not readable JSON ({err}); "
                                  "delete it to read the CSV without frame times") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise KeypointFormatError(f"{side}: not an infantjax keypoint sidecar (format {FORMAT!r}); rename or "
                                  f"delete it, it is read as the frame times of {csv.name}")
    if doc.get("sha256") != digest(csv):
        log.warning("%s: the sidecar belongs to another version of %s (the CSV changed after it was written); its "
                    "frame times are ignored", side, csv.name)
        return sequence
    try:
        times = np.asarray(doc["times"], dtype=np.float64)
        meta = dict(doc.get("metadata") or {})
        rate = float(doc["fps"]) if fps is None and doc.get("fps") is not None else sequence.fps
    except (KeyError, TypeError, ValueError) as err:
        raise KeypointFormatError(f"{side}: malformed frame times ({type(err).__name__}: {err}); delete the file "
                                  "to read the CSV without them") from None
    if times.shape != (sequence.num_frames,):
        raise KeypointFormatError(f"{side}: {times.size} frame times for the {sequence.num_frames} frames of "
                                  f"{csv.name}; delete the sidecar or write the keypoints again")
    try:
        return sequence.replace(fps=rate, times=times, metadata={**meta, **sequence.metadata})
    except DataError as err:
        raise KeypointFormatError(f"{side}: {err}") from None
