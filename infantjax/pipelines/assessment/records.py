"""A video's record (``OUT/<video>/record.json``) and resuming from it: the source file's fingerprint (size and
modification time), whether an earlier run finished or failed the video from the same source with the same
settings, an older result marked stale before it is redone, and a failure recorded so that it is not retried
unless asked."""

from __future__ import annotations

import json
import logging
import pathlib
import time

from infantjax.io import files
from infantjax.io.keypoints.sidecar import digest

#: the package's logger: whichever module logs, the records are named ``infantjax.pipelines.assessment``
log = logging.getLogger(__package__)

RECORD = "record.json"
FORMAT = "infantjax-assess"
_VERSION = 1


def _fingerprint(video: pathlib.Path) -> dict:
    st = video.stat()
    return {"path": str(video.resolve()), "size": int(st.st_size), "mtime_ns": int(st.st_mtime_ns)}


def _read_record(folder: pathlib.Path) -> dict | None:
    try:
        record = json.loads((folder / RECORD).read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and record.get("format") == FORMAT else None


def _same_run(record: dict, source: dict, settings: dict) -> bool:
    """Whether a record is of the same source file (size and modification time) under the same settings."""
    src = record.get("source") or {}
    if (src.get("size"), src.get("mtime_ns")) != (source["size"], source["mtime_ns"]):
        return False
    return {"runtime": "xla", **(record.get("settings") or {})} == settings  # records before the switch: XLA


def _finished(folder: pathlib.Path, source: dict, settings: dict) -> dict | None:
    """The record of a video finished from the same source with the same settings, or None."""
    record = _read_record(folder)
    if record is None or record.get("status") != "done" or not _same_run(record, source, settings):
        return None
    if not all((folder / f).is_file() for f in (record.get("files") or {}).values() if f):
        return None
    return record


def _failed_before(folder: pathlib.Path, source: dict, settings: dict) -> dict | None:
    """The record of a video that failed from the same source with the same settings, or None."""
    record = _read_record(folder)
    if record is None or record.get("status") != "failed" or not _same_run(record, source, settings):
        return None
    return record


#: the settings the tracked keypoints depend on (the others only change how they are scored)
TRACKING_SETTINGS = ("pose", "tracking", "max_frames")


def _tracked_before(folder: pathlib.Path, source: dict, settings: dict) -> pathlib.Path | None:
    """The keypoints file of an earlier finished run of the same source video with the same pose model, tracking
    and frame limit, while it is still the file that run wrote (the SHA-256 its record keeps), or None: a run that
    changes only how the keypoints are scored (the ensemble, threshold, rotation, camera, mirror, gate) reads them
    instead of tracking the video again."""
    record = _read_record(folder)
    if record is None:
        return None
    was = record.get("status") if record.get("status") != "stale" else (record.get("stale") or {}).get("was")
    src, old = record.get("source") or {}, record.get("settings") or {}
    if was != "done" or (src.get("size"), src.get("mtime_ns")) != (source["size"], source["mtime_ns"]) or \
            any(old.get(k) != settings.get(k) for k in TRACKING_SETTINGS):
        return None
    kept = record.get("keypoints") or {}
    path = folder / str(kept.get("file") or "")
    if not kept.get("sha256") or not path.is_file() or digest(path) != kept["sha256"]:
        return None
    return path


def _mark_stale(folder: pathlib.Path, source: dict, settings: dict) -> None:
    """A video about to be redone: its older record (finished or failed with another source or other settings,
    or interrupted) says so at once, ``status: "stale"``, so that nothing reads the older result as
    current."""
    record = _read_record(folder)
    if record is None or record.get("status") not in ("done", "failed"):
        return
    why = "the source video changed" if (record.get("source") or {}).get("size") != source["size"] or \
        (record.get("source") or {}).get("mtime_ns") != source["mtime_ns"] else "the settings changed"
    stale = {**record, "status": "stale", "stale": {"was": record.get("status"), "why": why,
                                                     "since": time.strftime("%Y-%m-%dT%H:%M:%S%z")}}
    files.write_json(folder / RECORD, stale, sort_keys=False)


def _write_failed(folder: pathlib.Path, failure: dict, source: dict, settings: dict) -> None:
    """A video that failed: its record says why, so a later run with the same source and settings does not
    redo it unless asked (``retry_failed``)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        files.write_json(folder / RECORD, {
            "format": FORMAT, "format_version": _VERSION, "status": "failed", "name": failure["folder"],
            "source": source, "settings": settings, "error": failure["error"], "message": failure["message"]},
            sort_keys=False)
    except OSError as err:  # the failure is still in the summary and the run record
        log.warning("%s: cannot record the failure (%s)", folder, err)
