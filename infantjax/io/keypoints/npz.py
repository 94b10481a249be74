"""infantjax's own ``.npz`` (``npz``): coords, confidence, fps, frame times, the skeleton definition and the metadata
as JSON; written and read without pickle, so every metadata field round-trips."""

from __future__ import annotations

import json

import numpy as np

from infantjax import skeleton as _skeleton
from infantjax.errors import (
    ConfigError,
    DataError,
    KeypointFormatError,
    KeypointWriteError,
    SkeletonMismatchError,
)
from infantjax.io.files import json_default, save_npz
from infantjax.io.keypoints.common import check_finite, read_bytes
from infantjax.sequence import SkeletonSequence
from infantjax.skeleton import Skeleton

_NPZ_VERSION = 1


def _skeleton_to_json(skel: Skeleton) -> dict:
    return {"name": skel.name, "keypoints": list(skel.keypoints), "edges": [list(e) for e in skel.edges],
            "parents": list(skel.parents), "center": skel.center, "labels": list(skel.labels)}


def _skeleton_from_json(path, data: dict) -> Skeleton:
    try:
        skel = Skeleton(str(data["name"]), tuple(data["keypoints"]), tuple(tuple(e) for e in data["edges"]),
                        tuple(data["parents"]), data["center"], tuple(data["labels"]))
    except (KeyError, TypeError, ValueError) as err:
        raise KeypointFormatError(f"{path}: the stored skeleton is malformed ({err})") from None
    try:
        registered = _skeleton.get(skel.name)
    except ConfigError:  # not a registered name: the stored definition is the skeleton
        return skel
    same = (registered.keypoints == skel.keypoints and registered.edges == skel.edges
            and registered.parents == skel.parents and registered.center == skel.center)
    return registered if same else skel


def write(path, seq: SkeletonSequence) -> None:
    """Write ``seq`` with everything (metadata, skeleton definition) as an ``.npz``, atomically."""
    try:
        meta = json.dumps(dict(seq.metadata), default=json_default)
    except (TypeError, ValueError) as err:
        raise DataError(f"cannot write {path}: sequence metadata is not JSON-serialisable ({err})") from None
    arrays = {
        "format_version": np.array(_NPZ_VERSION),
        "coords": seq.coords,
        "fps": np.array(seq.fps, dtype=np.float64),
        "skeleton": np.array(json.dumps(_skeleton_to_json(seq.skeleton))),
        "metadata": np.array(meta),
    }
    if seq.confidence is not None:
        arrays["confidence"] = seq.confidence
    if seq.times is not None:
        arrays["times"] = seq.times
    save_npz(path, arrays, error=KeypointWriteError)


def read(path, skeleton, fps) -> SkeletonSequence:
    """Read an infantjax ``.npz`` (``skeleton``, ``fps``: as :func:`~infantjax.io.read_keypoints`)."""
    read_bytes(path)
    try:
        with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as z:  # our handle: closed even on errors
            files = set(z.files)
            needed = {"coords", "fps", "skeleton", "metadata"}
            if not needed <= files:
                raise KeypointFormatError(
                    f"{path}: not an infantjax keypoint .npz (missing arrays {sorted(needed - files)})"
                )
            coords = z["coords"]
            conf = z["confidence"] if "confidence" in files else None
            times = z["times"] if "times" in files else None
            stored_fps = float(z["fps"])
            skel_json = str(z["skeleton"])
            meta_json = str(z["metadata"])
    except KeypointFormatError:
        raise
    except Exception as err:  # zipfile/zlib/numpy raise many kinds (BadZipFile, zlib.error, NotImplementedError ...)
        raise KeypointFormatError(f"{path}: cannot read the .npz ({type(err).__name__}: {err}); is it truncated? "
                                  "(object arrays are refused: infantjax never unpickles)") from None
    try:
        skel = _skeleton_from_json(path, json.loads(skel_json))
        meta = json.loads(meta_json)
    except json.JSONDecodeError as err:
        raise KeypointFormatError(f"{path}: stored skeleton/metadata is not valid JSON ({err})") from None
    if skeleton is not None:
        want = _skeleton.get(skeleton)
        if want.name != skel.name:
            raise SkeletonMismatchError(
                f"{path}: holds {skel.name!r} keypoints, not {want.name!r}; read it without skeleton= and map "
                f"with sequence.map_to({want.name!r})"
            )
    if coords.ndim != 3 or coords.shape[1] != skel.num_keypoints:
        raise SkeletonMismatchError(
            f"{path}: coords of shape {coords.shape} do not fit skeleton {skel.name!r} ({skel.num_keypoints} keypoints)"
        )
    if not np.issubdtype(coords.dtype, np.number):
        raise KeypointFormatError(f"{path}: coords must be numeric, got {coords.dtype}")
    check_finite(path, coords.astype(np.float64), None if conf is None else conf.astype(np.float64), skel.labels)
    try:
        return SkeletonSequence(coords, fps if fps is not None else stored_fps, skel, conf, meta, times)
    except DataError as err:
        raise DataError(f"{path}: {err}") from None

