"""From a video to the clinical dashboard in one call: ``infantjax assess`` (thesis, chapter 5).

    from infantjax import pipelines
    run = pipelines.assess("video.mp4", out="assessment/")        # or a folder of videos (assessment.assess)
    run.records[0]["risk"], run.records[0]["files"]["dashboard"], run.withheld

Per video: decode (frame-exact, upright, real timestamps: :mod:`infantjax.io.video`; a still image, a damaged
file or a recording shorter than one window refused here) → keypoints with a pose model (the zoo's infant model
``rt-synthetic-infant-roi`` by default, any :class:`~infantjax.pipelines.pose.PosePredictor`; keypoints of another
skeleton are mapped to In-Motion 19) → CP preprocessing and the ensemble (the zoo's CP ensemble by default, any
saved or imported one) → the tracking-quality gate (:func:`infantjax.clinical.assess_tracking`: unreliable windows
left out, the risk withheld when too few remain), risk, class, certainty colour, temporal and spatial explanations
(:mod:`infantjax.clinical`, :mod:`infantjax.explain`) → the labelled video and the dashboard
(:func:`infantjax.report.dashboard`). The ensemble's windows are scored by XLA (the library's own path,
``runtime="xla"``) or by the LiteRT interpreter (``runtime="litert"``: each stack exported once and cached,
:mod:`infantjax.deploy.scoring`; the same predictions to the export check's bound, extra ``litert``).

The output folder::

    OUT/assess.json           the run record: every video's status and tracking state, stage times and shares
    OUT/summary.csv           one row per video (status, risk, class, colour, tracking state and reasons, error)
    OUT/cohort.html           the cohort page of the finished videos, linked to their dashboards
    OUT/<video>/dashboard.html, <video>.labelled.mp4 (or with labelled=False video.mp4, a copy of the source),
        keypoints.csv (+ its sidecar with the frame times), result.json (the full RiskResult), record.json
        (written last: the video is finished)

A folder is processed video by video and resumes where it stopped: a video whose ``record.json`` says it was
finished from the same source file (size and modification time) with the same settings is not redone; a video
being redone first loses the temporary files a killed run left in its folder; an older result of a video to redo
is marked stale when the run starts. A damaged video gets its typed error in its record, the summary and the run
record, the others go on, and a later run does not try it again unless ``retry_failed``. Every file is written
atomically.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import logging
import os
import pathlib
import re
import shutil
import threading
import time
from collections.abc import Sequence

import numpy as np

from infantjax.errors import ConfigError, DataError, FileWriteError, InfantJaxError
from infantjax.io import files

__all__ = ["STAGES", "VIDEO_SUFFIXES", "AssessRun", "Models", "assess", "load_models", "models_note",
           "playable_in_browsers", "video_files"]

log = logging.getLogger(__name__)

#: Files ``assess`` takes from a folder (case-insensitive).
VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".avi", ".mkv", ".webm", ".mts", ".m2ts", ".ts", ".3gp", ".mpg", ".mpeg",
                  ".wmv")
#: The stages of one video, in order, as the progress bar and the run record name them. ``pose`` decodes the frames
#: in a background thread while the network runs (the decode stage only opens and indexes the file).
STAGES = ("decode", "pose", "ensemble", "explain", "labelled", "dashboard", "records")
RECORD = "record.json"
FORMAT = "infantjax-assess"
_VERSION = 1
#: Codecs and containers Chromium, Firefox and Safari play in a <video> element.
_BROWSER_CODECS = {"h264", "vp8", "vp9", "av1"}
_BROWSER_CONTAINERS = ("mp4", "mov", "webm", "matroska")
#: What scores the ensemble (:data:`infantjax.deploy.scoring.RUNTIMES`, repeated so that checking the option does not
#: start JAX).
_RUNTIMES = ("xla", "litert")


# ------------------------------------------------------------------------------------------------ models
@dataclasses.dataclass(frozen=True, eq=False)
class Models:
    """The pose model and the CP ensemble of a run, with the names the records give them."""

    pose: object
    ensemble: object
    pose_name: str
    ensemble_name: str


def check_model_names(ensemble=None, pose=None) -> None:
    """The ensemble and pose model named by a string are zoo entries of their family or existing paths (models
    given as objects, or None for the defaults, pass): cheap, before any video or model is opened.

    Raises:
        ConfigError: a name that is neither (the message lists the family's zoo names and suggests the near ones,
            "did you mean ...?").
    """
    from infantjax.infer.pose import PRETRAINED
    from infantjax.models import zoo

    if isinstance(ensemble, (str, os.PathLike)):
        name = os.fspath(ensemble)
        zoo_names = sorted(e.name for e in zoo.available("ensemble"))
        if name not in zoo_names and not pathlib.Path(name).exists():
            raise ConfigError(f"--ensemble {name!r} is neither a zoo ensemble ({', '.join(zoo_names)}) nor a "
                              f"saved ensemble folder{zoo.did_you_mean(name, zoo_names)}; give a zoo name "
                              "or a folder written by `infantjax train` or `infantjax import-movementoutcome`")
    if isinstance(pose, (str, os.PathLike)):
        name = os.fspath(pose)
        if name not in PRETRAINED and not pathlib.Path(name).exists():
            raise ConfigError(f"--pose {name!r} is neither a zoo pose model ({', '.join(PRETRAINED)}) nor a saved "
                              "pose model (the folder pose-train writes, a PosePredictor .npz or an official "
                              f"EfficientPose .h5){zoo.did_you_mean(name, PRETRAINED)}")


def load_models(ensemble=None, pose=None) -> Models:
    """The one place ``assess`` loads its models, through :func:`infantjax.load` (a zoo name or a saved path).

    Arguments:
        ensemble: a zoo entry name, a folder (or ``.npz``) saved by ``Ensemble.save`` or written by
            ``infantjax import-movementoutcome``, an :class:`~infantjax.ensemble.Ensemble`, or None (the zoo's CP
            ensemble).
        pose: a zoo pose entry name (``rt-synthetic-infant-roi``, ``efficientpose-rt-mpii`` ...), a predictor ``.npz`` or
            an official EfficientPose ``.h5``, a :class:`~infantjax.pipelines.pose.PosePredictor`, or None (the
            zoo's infant model ``rt-synthetic-infant-roi``).

    Raises:
        ConfigError: a name that is neither a zoo entry nor an existing path. CheckpointError, WeightsError: a
            damaged saved model.
    """
    from infantjax.infer.registry import load
    from infantjax.models import zoo

    check_model_names(ensemble, pose)  # both names before either model is loaded
    if ensemble is None or isinstance(ensemble, (str, os.PathLike)):
        name = zoo.default("ensemble") if ensemble is None else os.fspath(ensemble)
        ens = load(name, kind="ensemble")  # another family's model is refused before its weights are read
        ens_name = name if name in zoo.ZOO else str(pathlib.Path(name).resolve())
    else:
        ens, ens_name = ensemble, f"in memory ({type(ensemble).__name__}, {ensemble.num_instances} instances)"
    if pose is None or isinstance(pose, (str, os.PathLike)):
        name = zoo.default("pose") if pose is None else os.fspath(pose)
        predictor = load(name, kind="pose")
        pose_name = name if name in zoo.ZOO else str(pathlib.Path(name).resolve())
    else:
        predictor, pose_name = pose, f"in memory (EfficientPose {pose.spec.variant}, {pose.skeleton.name})"
    return Models(predictor, ens, pose_name, ens_name)


def _synthetic_models(*names: str) -> tuple[str, ...]:
    """The names among these that are zoo models trained on synthetic infants only (their ``trained_on``)."""
    from infantjax.models import zoo

    out = []
    for name in names:
        entry = zoo.ZOO.get(str(name))
        if entry is not None and "synthetic" in entry.trained_on.lower() and name not in out:
            out.append(name)
    return tuple(out)


def models_note(pose_name: str, ensemble_name: str) -> str | None:
    """The sentence the dashboard's research-use notice and the end of ``infantjax assess`` give about the
    models: which of them were trained on synthetic infants only (the defaults are), or None when neither was.

    Arguments:
        pose_name, ensemble_name: the models' names as the records give them (a zoo name or a path).
    """
    synthetic = _synthetic_models(ensemble_name, pose_name)
    if not synthetic:
        return None
    what = {ensemble_name: f"CP ensemble {ensemble_name}", pose_name: f"pose model {pose_name}"}
    names = ", ".join(what[n] for n in synthetic)
    plural = len(synthetic) > 1
    return (f"The {'models' if plural else 'model'} ({names}) {'were' if plural else 'was'} trained on "
            "synthetic infants only: a demonstration, not a risk for a real infant.")


# ------------------------------------------------------------------------------------------------ the labelled video
def write_labelled(video: pathlib.Path, keypoints, out: pathlib.Path, progress=False) -> pathlib.Path:
    """THE one call site of the labelled video: the skeleton drawn on every frame of ``video`` (H.264 MP4,
    :func:`infantjax.pipelines.pose.write_labelled_video`) at ``out``; the dashboard plays it instead of the
    source. ``progress``: False, or a function called with the number of frames of every chunk written."""
    from infantjax.pipelines import pose

    return pathlib.Path(pose.write_labelled_video(video, keypoints, out, progress=progress))


# ------------------------------------------------------------------------------------------------ inputs
def video_files(path: str | os.PathLike) -> list[pathlib.Path]:
    """The videos named by ``path``: the file itself, or a folder's files with a video suffix
    (:data:`VIDEO_SUFFIXES`), sorted by name.

    Raises:
        DataError: the path does not exist, or the folder holds no video.
    """
    p = pathlib.Path(path)
    if not p.exists():
        raise DataError(f"{p} does not exist; give a video file or a folder of videos")
    if p.is_file():
        return [p]
    found = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in VIDEO_SUFFIXES
                   and not f.name.startswith("."))
    if not found:
        raise DataError(f"{p} holds no video ({', '.join(VIDEO_SUFFIXES)}); give a video file or a folder of them")
    return found


#: Names Windows refuses for a file or folder, with any extension (compared case-insensitively).
_WINDOWS_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)),
                     *(f"lpt{i}" for i in range(10)), "com¹", "com²", "com³", "lpt¹", "lpt²", "lpt³"}
#: Punctuation a folder name keeps besides letters, digits and combining marks of every script: safe in a file
#: name on Windows, macOS and Linux and in a link of the cohort page without escaping.
_NAME_PUNCTUATION = set("-_.()+,")
#: Longest folder name in UTF-8 bytes: the labelled video's name (``<name>.labelled.mp4``), a ``-N`` suffix
#: and the atomic writes' temporary names (``.<name>.<hex>.tmp.mp4``) stay within the 255 bytes of ext4, NTFS
#: (255 UTF-16 units) and APFS.
_NAME_BYTES = 160


def _safe_name(stem: str) -> str:
    """A video's file stem as a folder name: Unicode kept (composed, NFC: macOS decomposes names), every
    character that is not a letter, digit, combining mark or one of ``-_.()+,`` replaced by ``_`` (runs of
    them by one), no leading or trailing dot, underscore or space (Windows drops trailing dots and spaces), a
    Windows device name (``CON``, ``NUL``, ``COM1`` ...) suffixed with ``_``, at most :data:`_NAME_BYTES`
    bytes; ``video`` when nothing is left."""
    import unicodedata

    text = unicodedata.normalize("NFC", stem)
    out = []
    for c in text:
        keep = c in _NAME_PUNCTUATION or unicodedata.category(c)[0] in "LNM"
        if keep:
            out.append(c)
        elif not out or out[-1] != "_":
            out.append("_")
    name = re.sub(r"_+", "_", "".join(out)).strip("._ ")
    while len(name.encode("utf-8")) > _NAME_BYTES:
        name = name[:-1]
    name = unicodedata.normalize("NFC", name).rstrip("._ ")  # a cut may leave a lone combining mark
    if not name:
        return "video"
    if name.split(".")[0].casefold() in _WINDOWS_RESERVED:
        name += "_"
    return name


def _folder_names(videos: Sequence[pathlib.Path]) -> list[str]:
    """A unique output folder name per video (:func:`_safe_name` of its stem). Names are unique as
    case-insensitive, normalisation-insensitive file systems (Windows, macOS) compare them: where two stems
    give one name the video's suffix is added (``a_mov``), and where names still collide ``-2``, ``-3`` ..."""
    stems = [_safe_name(v.stem) for v in videos]
    keys = [s.casefold() for s in stems]
    out = []
    for v, s, k in zip(videos, stems, keys):
        group = [w.suffix.lower() for w, q in zip(videos, keys) if q == k]
        if len(group) > 1 and len(set(group)) == len(group):  # a.mp4 and a.mov: a_mp4 and a_mov
            s = _safe_name(f"{s}_{v.suffix.lstrip('.').lower()}")
        out.append(s)
    seen: dict[str, int] = {}
    taken = {s.casefold() for s in out}
    for i, s in enumerate(out):
        k = seen.get(s.casefold(), 0)
        seen[s.casefold()] = k + 1
        if k:
            n = k + 1
            while f"{s}-{n}".casefold() in taken:
                n += 1
            out[i] = f"{s}-{n}"
            taken.add(out[i].casefold())
    return out


def playable_in_browsers(path: str | os.PathLike) -> tuple[bool, str | None]:
    """Whether a browser's ``<video>`` plays the file (H.264, VP8/9 or AV1 in MP4/MOV/WebM/Matroska, 8-bit 4:2:0),
    and if not a sentence saying why and what to do."""
    import av

    try:
        with av.open(os.fspath(path)) as container:
            stream = container.streams.video[0]
            codec = stream.codec_context.name
            pix = stream.codec_context.pix_fmt or "?"
            fmt = container.format.name
    except (av.error.FFmpegError, IndexError, OSError) as err:
        return False, f"the video could not be probed for browser playback ({type(err).__name__})"
    ok_container = any(c in fmt.split(",") for c in _BROWSER_CONTAINERS)
    if codec in _BROWSER_CODECS and ok_container and pix in ("yuv420p", "yuvj420p", "nv12"):
        return True, None
    return False, (f"browsers cannot play this video ({codec}, {pix}, container {fmt.split(',')[0]}): the timeline, "
                   "keypoints and explanations work without it; for the player convert it to H.264 MP4 (ffmpeg -i "
                   "VIDEO -c:v libx264 -pix_fmt yuv420p video.mp4) or run infantjax assess with --labelled")


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


#: what the records say of the gate when no thresholds file is given
SHIPPED_GATE = ("the shipped thresholds, calibrated on rendered infants with the zoo's pose model (calibrate them "
                "for your pose model and videos with infantjax pose-gate)")


def _gate_version(thresholds=None) -> str:
    """The tracking-quality gate's thresholds, as a short digest: part of the settings, so a video finished
    under other thresholds (or before the gate) is redone."""
    import hashlib

    from infantjax.clinical.quality import THRESHOLDS

    text = json.dumps((thresholds or THRESHOLDS).to_dict(), sort_keys=True)
    return "gate-" + hashlib.sha256(text.encode()).hexdigest()[:10]


def gate_thresholds(gate) -> tuple:
    """(thresholds, what they are) of ``assess``'s ``gate``: None (the shipped ones), a
    :class:`~infantjax.clinical.quality.Thresholds`, or a file written by ``infantjax pose-gate``."""
    from infantjax.clinical.quality import THRESHOLDS, Thresholds

    if gate is None:
        return THRESHOLDS, SHIPPED_GATE
    if isinstance(gate, Thresholds):
        return gate, "thresholds given by the caller"
    if isinstance(gate, (str, os.PathLike)):
        from infantjax.pipelines.labelled import read_gate

        return read_gate(gate)
    raise ConfigError(f"gate must be None, Thresholds or the path of a thresholds file, got {type(gate).__name__}")


# ------------------------------------------------------------------------------------------------ the run
@dataclasses.dataclass(frozen=True)
class AssessRun:
    """What :func:`assess` did.

    Attributes:
        out: the output folder.
        records: the record of every finished video (``OUT/<video>/record.json``), in input order; a record
            whose ``quality.withheld`` is true holds no decision (tracking unreliable: "cannot be assessed").
        failed: per video that failed: ``{"video", "folder", "error", "message", "resumed"}`` (``resumed``: it
            failed in an earlier run with the same source and settings and was not retried).
        skipped: folder names of videos finished by an earlier run (not redone).
        stages: seconds per stage over the videos processed by this run; shares: the same as fractions.
        summary_csv, cohort_page, run_record: the paths written (cohort_page None when no video finished).
    """

    out: pathlib.Path
    records: tuple[dict, ...]
    failed: tuple[dict, ...]
    skipped: tuple[str, ...]
    stages: dict
    shares: dict
    seconds: float
    summary_csv: pathlib.Path
    cohort_page: pathlib.Path | None
    run_record: pathlib.Path

    @property
    def withheld(self) -> tuple[str, ...]:
        """Folder names of the finished videos whose risk was withheld (tracking unreliable)."""
        return tuple(r["name"] for r in self.records if (r.get("quality") or {}).get("withheld"))

    def shares_text(self) -> str:
        """Each stage's share of the time, one line (``pose 71 % (12.3 s), ensemble 20 % ...``)."""
        parts = [f"{k} {100 * self.shares[k]:.0f} % ({v:.1f} s)" for k, v in self.stages.items() if v > 0]
        return ", ".join(parts) if parts else "nothing was processed (every video was finished before)"


def assess(source: str | os.PathLike, out: str | os.PathLike, *, ensemble=None, pose=None, labelled: bool = True,
           threshold: float | None = None, certainty: str = "paper", map_skeleton: str = "approximate",
           window_rotation: str | None = "auto", camera: str = "auto", batch_size: int = 16,
           max_frames: int | None = None,
           progress: bool = True, models: Models | None = None, runtime: str = "xla",
           litert_cache: str | os.PathLike | None = None, retry_failed: bool = False, tracking=None,
           gate=None) -> AssessRun:
    """A video, or a folder of videos, through pose, the CP ensemble and the explanations to the dashboard.

    Arguments:
        source: a video file or a folder of videos (:data:`VIDEO_SUFFIXES`).
        out: the output folder (created; see the module docstring for its layout).
        ensemble: the CP ensemble: a zoo name, a saved folder, an Ensemble, or None (the zoo's; :func:`load_models`).
        pose: the pose model: a zoo name, a weights file, a PosePredictor, or None (``rt-synthetic-infant-roi``).
        labelled: also write the labelled video (the skeleton drawn on every frame) and play it on the dashboard.
        threshold: decision threshold (default the ensemble's).
        certainty: ``"paper"`` colours or the reference's ``"interquartile"`` rule.
        map_skeleton: ``"exact"`` or ``"approximate"`` mapping of a pose model's keypoints that are not In-Motion 19
            (``"none"`` refuses them).
        window_rotation: ``"auto"`` (default): the ensemble's own window rotation for an upright infant, the
            corrected one for an infant filmed head-down or sideways (``Ensemble.rotation_for``; the result says
            so); ``"reference"`` or ``"corrected"`` for every video; None: the ensemble's own for every video (the
            reference's answer, with a warning where it misaligns the windows).
        camera: ``"auto"`` (default): keypoints that say a hand-held camera shook are scored with the shake taken
            out (``infantjax.preprocess.camera.steady``; the dashboard says so, and the gate makes the shaken
            windows doubtful); ``"steady"`` for every video; ``"reference"``: scored as tracked. Part of the
            settings.
        batch_size: frames per pose forward pass.
        max_frames: track at most this many frames of each video (a quick look; None: all).
        progress: one tqdm progress bar over every video's work, counted in frames (the pose stage frame by
            frame): its remaining time follows the frames still to track.
        models: already loaded models (:func:`load_models`); ``ensemble`` and ``pose`` are then ignored.
        runtime: what scores the ensemble's windows: ``"xla"`` (the library's own path) or ``"litert"`` (the LiteRT
            interpreter: each stack converted once, the first time, then read from the cache; P(CP) and CAM equal to
            the XLA path's within the export check's bound, :class:`infantjax.deploy.scoring.LiteRTScorer`). Part of
            the settings: a video finished with the other runtime is redone.
        litert_cache: the directory of the LiteRT files (default :func:`infantjax.cache.litert_cache_dir`).
        retry_failed: in a folder, redo the videos that failed in an earlier run with the same source and
            settings (by default they keep their error and are not redone: a damaged file stays damaged).
        tracking: how the pose model follows the infant (:class:`~infantjax.infer.tracking.Tracking`, ``"reference"``,
            ``"infant"`` or a dict; default the pose model's own settings). Part of the settings.
        gate: the tracking-quality gate's thresholds: a file written by ``infantjax pose-gate`` (calibrated for a
            lab's pose model on its labelled frames), a :class:`~infantjax.clinical.quality.Thresholds`, or None
            (the shipped ones, calibrated on rendered infants; the records say which). Part of the settings.

    Returns:
        an :class:`AssessRun`.

    Raises:
        DataError: no video at ``source``. ConfigError: bad options, unknown models. FileWriteError: ``out``
            is a file or cannot be written. ExportExtraError: ``runtime="litert"`` without the ``litert``
            extra (checked before any video). ExportError: a stack LiteRT cannot express (a stack whose file
            is off the XLA path is scored by XLA). For a single video, the video's own error (VideoError,
            DataError ... : a still image, a damaged file, a recording shorter than one window of the
            ensemble): a folder records it and goes on.
    """
    if threshold is not None and not (isinstance(threshold, (int, float)) and 0 <= threshold <= 1):
        raise ConfigError(f"threshold must be a probability in [0, 1], got {threshold!r}")
    if certainty not in ("paper", "interquartile"):
        raise ConfigError(f"certainty must be 'paper' or 'interquartile', got {certainty!r}")
    if map_skeleton not in ("none", "exact", "approximate"):
        raise ConfigError(f"map_skeleton must be 'none', 'exact' or 'approximate', got {map_skeleton!r}")
    if window_rotation not in (None, "auto", "reference", "corrected"):
        raise ConfigError("window_rotation must be 'auto', 'reference', 'corrected' or None, got "
                          f"{window_rotation!r}")
    if camera not in ("auto", "steady", "reference"):
        raise ConfigError(f"camera must be 'auto', 'steady' or 'reference', got {camera!r}")
    if int(batch_size) < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
    if max_frames is not None and int(max_frames) < 1:
        raise ConfigError(f"max_frames must be >= 1, got {max_frames}")
    if runtime not in _RUNTIMES:
        raise ConfigError(f"runtime must be one of {', '.join(_RUNTIMES)}, got {runtime!r}")
    if runtime == "litert":  # a missing extra fails now, not after the pose stage
        from infantjax.deploy.scoring import require_interpreter

        require_interpreter()
    gate_th, gate_text = gate_thresholds(gate)  # a bad thresholds file fails before any video
    if models is None:
        check_model_names(ensemble, pose)  # a misspelt model name, too
    single = pathlib.Path(source).is_file()
    videos = video_files(source)
    out = pathlib.Path(out)
    if out.exists() and not out.is_dir():
        raise FileWriteError(f"--out {str(out)!r} is a file; give a folder (created if missing)")
    if single:  # a missing, empty, damaged or still video fails now, not after the models are loaded
        from infantjax.io import open_video

        open_video(videos[0]).close()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise FileWriteError(f"--out {str(out)!r}: cannot create the folder ({err.strerror})") from None
    files.remove_temporaries(out)  # of a run killed while writing its summary, cohort page or run record
    names = _folder_names(videos)
    t_start = time.perf_counter()
    models = models or load_models(ensemble, pose)
    from infantjax.infer.tracking import Tracking

    track_with = Tracking.of(tracking, models.pose.tracking)
    settings = {"ensemble": models.ensemble_name, "pose": models.pose_name, "labelled": bool(labelled),
                "threshold": threshold, "certainty": certainty, "map_skeleton": map_skeleton,
                "window_rotation": window_rotation, "camera": camera, "max_frames": max_frames, "runtime": runtime,
                "quality_gate": _gate_version(gate_th), "tracking": track_with.to_json()}
    scorer = None
    if runtime == "litert":
        from infantjax.deploy.scoring import LiteRTScorer

        scorer = LiteRTScorer(models.ensemble, cache_dir=litert_cache)
        for rotation in ((None, "corrected") if window_rotation == "auto" else (window_rotation,)):
            scorer.require(models.ensemble.scoring_inputs(rotation))  # TensorFlow, when a stack must be converted
    stages = {s: 0.0 for s in STAGES}
    if not labelled:
        stages.pop("labelled")
    # what each video is before this run does anything: finished (kept), failed before (kept unless asked), or
    # to do; an older result of a video to redo is marked stale now, so no page or table shows it as current
    plan = []
    for video, name in zip(videos, names):
        folder = out / name
        source_print = _fingerprint(video)
        done = _finished(folder, source_print, settings)
        failed_before = None if done is not None or single or retry_failed else \
            _failed_before(folder, source_print, settings)
        if done is None and failed_before is None:
            _mark_stale(folder, source_print, settings)
        plan.append((video, name, source_print, done, failed_before))
    records: list[dict | None] = [p[3] for p in plan]
    failed, skipped = [], []
    states = {name: ("done" if done is not None else "failed" if failed_before is not None else
                     "stale" if (_read_record(out / name) or {}).get("status") == "stale" else "pending")
              for _, name, _, done, failed_before in plan}
    earlier = {name: {"video": str(video), "folder": name, "error": fb.get("error", "Error"),
                      "message": fb.get("message", ""), "resumed": True}
               for video, name, _, _, fb in plan if fb is not None}
    _write_summary(out, videos, names, records, list(earlier.values()), states)
    if any(s == "stale" for s in states.values()):  # the cohort page links finished videos only
        _write_cohort(out, names, records, models)
    from tqdm.auto import tqdm

    work = _Progress([_frame_estimate(video, max_frames) for video in videos], labelled)
    # the average rate since the first tracked batch (smoothing 0: the stages after the pose stage come in
    # steps that a moving average would read as stalls)
    bar = tqdm(total=work.total, desc="assess", unit="frame", disable=not progress, smoothing=0)
    work.bar = bar
    try:
        for k, (video, name, source_print, done, failed_before) in enumerate(plan):
            folder = out / name
            if done is not None:
                skipped.append(name)
                work.skip(k)
                continue
            if failed_before is not None:
                failed.append(earlier[name])
                work.skip(k)
                continue
            states[name] = "running"
            track = work.video(k)
            try:
                record = _assess_video(video, folder, name, models, settings, stages, track,
                                       batch_size=int(batch_size), scorer=scorer, gate=(gate_th, gate_text))
            except InfantJaxError as err:
                track.abandon()
                if single:
                    raise
                log.warning("%s: %s", video, err)
                failure = {"video": str(video), "folder": name, "error": type(err).__name__,
                           "message": str(err), "resumed": False}
                failed.append(failure)
                _write_failed(folder, failure, source_print, settings)
                records[k] = None
                states[name] = "failed"
                _write_summary(out, videos, names, records, failed, states)
                continue
            records[k] = record
            states[name] = "done"
            _write_summary(out, videos, names, records, failed, states)
    finally:
        bar.close()
    total = sum(stages.values())
    shares = {k: (v / total if total > 0 else 0.0) for k, v in stages.items()}
    summary = _write_summary(out, videos, names, records, failed, states)
    cohort = _write_cohort(out, names, records, models)
    elapsed = time.perf_counter() - t_start
    run_record = files.write_json(out / "assess.json", {
        "format": f"{FORMAT}-run", "format_version": _VERSION, "source": str(pathlib.Path(source).resolve()),
        "settings": settings, "videos": [_run_entry(v, n, r, n in skipped, failed)
                                         for v, n, r in zip(videos, names, records)],
        "stages": stages, "shares": shares, "seconds": elapsed,
        "summary_csv": summary.name, "cohort_page": None if cohort is None else cohort.name,
        "environment": _environment()}, sort_keys=False, parents=True)
    return AssessRun(out, tuple(r for r in records if r is not None), tuple(failed), tuple(skipped), stages, shares,
                     elapsed, summary, cohort, run_record)


def _run_entry(video: pathlib.Path, name: str, record: dict | None, resumed: bool,
               failed: list[dict]) -> dict:
    """A video's entry in the run record ``assess.json``."""
    entry = {"video": str(video), "folder": name,
             "status": "failed" if record is None else ("resumed" if resumed else "done")}
    if record is not None:
        quality = record.get("quality") or {}
        entry.update({"risk": record["risk"], "classification": record["classification"],
                      "colour": record["colour"],
                      "quality": quality.get("state"), "withheld": bool(quality.get("withheld")),
                      "quality_reasons": list(quality.get("reasons") or ()), "stages": record["stages"]})
    for f in failed:
        if f["folder"] == name:
            entry.update({"error": f["error"], "message": f["message"],
                          "retried": not f.get("resumed", False)})
    return entry


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


def _frame_estimate(video: pathlib.Path, max_frames: int | None) -> int | None:
    """The number of frames ``video`` will give, from its header (no decoding; None when it cannot be
    read)."""
    import av

    try:
        with av.open(os.fspath(video)) as container:
            stream = container.streams.video[0]
            n = int(stream.frames or 0)
            if n <= 0 and stream.duration and stream.average_rate:
                n = int(round(float(stream.duration * stream.time_base) * float(stream.average_rate)))
            if n <= 0 and container.duration and stream.average_rate:
                n = int(round(container.duration / 1e6 * float(stream.average_rate)))
    except (av.error.FFmpegError, IndexError, OSError, ValueError, TypeError, ZeroDivisionError):
        return None
    if n <= 0:
        return None
    return n if max_frames is None else min(n, int(max_frames))


def _environment() -> dict:
    import platform

    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {"cpu": _cpu_model(), "cpus": os.cpu_count(), "load_average": None if load is None else list(load),
            "python": platform.python_version()}


def _cpu_model() -> str:
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine()


#: The work of each stage per frame of a video, in frames of the pose stage (what one frame costs there), as
#: measured with the default models on CPU (the stages' seconds in ``assess.json`` over the pose stage's: 40 s
#: of 320 × 240 video at 15 fps); a run refines them from the time its own finished videos' stages took.
_WORK = {"decode": 0.002, "pose": 1.0, "ensemble": 0.1, "explain": 0.002, "labelled": 0.1, "dashboard": 0.02,
         "records": 0.005}


class _Progress:
    """One progress bar over every video's work, counted in frames: each video's share is its frame count
    times the work of its stages (:data:`_WORK`, pose = 1); the pose stage and the labelled video advance it
    frame by frame, the other stages at their end. After each video the work of the stages is re-estimated
    from the time they took, and the remaining videos' shares with it, so the bar's remaining-time estimate
    follows the run."""

    def __init__(self, frames: list[int | None], labelled: bool):
        known = [f for f in frames if f]
        fallback = int(np.median(known)) if known else 300
        self.frames = [int(f) if f else fallback for f in frames]
        self.work = dict(_WORK)
        if not labelled:
            self.work.pop("labelled")
        self.done = [False] * len(frames)
        self.bar = None
        self.advanced = 0.0  # work counted so far (the bar shows it rounded down)
        self.lock = threading.Lock()  # the labelled video's thread advances the bar beside the ensemble stage
        self._ratios: list[dict] = []
        self._clock = False  # whether the bar's clock was restarted after the first tracked batch
        self.warmed = False  # whether the ensemble's programs were compiled before the first pose stage

    def restart_clock(self) -> None:
        """Time the bar's rate from now on: the first batch of the pose stage carries the models' loading and
        compilation, which no later frame pays, so the remaining-time estimate (tqdm's average rate since
        ``start_t`` over the work since ``initial``) starts after it."""
        if self._clock or self.bar is None:
            return
        self._clock = True
        if hasattr(self.bar, "start_t"):
            self.bar.start_t = getattr(self.bar, "_time", time.time)()
            self.bar.initial = self.bar.n

    def share(self, k: int) -> float:
        """Video ``k``'s work: its frames times the work of its stages."""
        return self.frames[k] * sum(self.work.values())

    @property
    def total(self) -> int:
        return self._total(0.0, range(len(self.frames)))

    def _total(self, counted: float, remaining) -> int:
        """The bar's total: the work counted so far plus the remaining videos' shares, rounded down as the
        bar's count is (``int(counted + rest)``, never ``int(counted) + round(rest)``, which can fall one short
        of the count the same shares reach), and exactly the count once nothing remains."""
        rest = sum(self.share(i) for i in remaining)
        if rest <= 0.0:
            return max(int(counted), 1)
        return max(int(counted + rest + 1e-6), 1)

    def _retotal(self) -> None:
        if self.bar is not None:
            remaining = [i for i in range(len(self.frames)) if not self.done[i]]
            self.bar.total = self._total(self.advanced, remaining)
            self.bar.refresh()

    def advance(self, n: float) -> None:
        if n <= 0:
            return
        with self.lock:
            before = int(self.advanced)
            self.advanced += n
            if self.bar is not None and int(self.advanced) > before:
                self.bar.update(int(self.advanced) - before)

    def skip(self, k: int) -> None:
        """A video with nothing to do in this run (finished, or failed before): its share at once."""
        self.done[k] = True
        self.advance(self.share(k))
        self._retotal()

    def video(self, k: int) -> _VideoProgress:
        return _VideoProgress(self, k)

    def learn(self, frames: int, seconds: dict) -> None:
        """Re-estimate the stages' work (per frame, in pose frames) from a finished video's times, and the
        bar's total from what is done and the remaining videos' shares."""
        pose = seconds.get("pose", 0.0)
        if frames > 0 and pose > 0:
            self._ratios.append({s: seconds.get(s, 0.0) / pose for s in self.work if s != "pose"})
            for s in self.work:
                if s != "pose":
                    self.work[s] = float(np.mean([r[s] for r in self._ratios]))
        self._retotal()


class _VideoProgress:
    """The progress of one video: the stage being run on the bar's line, frames as they are done."""

    def __init__(self, run: _Progress, k: int):
        self.run, self.k = run, k
        self.frames = run.frames[k]
        self.spent = 0.0  # of the video's share
        self.stage_spent: dict[str, float] = {}  # per stage: the labelled video runs beside the ensemble stage
        self.lock = threading.Lock()

    def begin(self, stage: str, video: str) -> None:
        self.stage_spent.setdefault(stage, 0.0)  # the labelled video's frames counted before its stage is waited on
        if self.run.bar is not None:
            self.run.bar.set_postfix_str(f"{video}: {stage}", refresh=True)

    def _step(self, stage: str, n: float) -> None:
        with self.lock:
            self.stage_spent[stage] = self.stage_spent.get(stage, 0.0) + n
            self.spent += n
        self.run.advance(n)

    def frames_done(self, stage: str, n: int) -> None:
        """``n`` more frames of a per-frame stage (pose, labelled) are done (at most the stage's share)."""
        room = self.frames * self.run.work.get(stage, 0.0) - self.stage_spent.get(stage, 0.0)
        self._step(stage, min(float(n) * self.run.work.get(stage, 0.0), max(room, 0.0)))
        if stage == "pose":
            self.run.restart_clock()

    def end(self, stage: str) -> None:
        """The stage is done: the rest of its share."""
        self._step(stage, max(self.frames * self.run.work.get(stage, 0.0) - self.stage_spent.get(stage, 0.0), 0.0))

    def finish(self, frames: int, seconds: dict) -> None:
        """The video is done: whatever is left of its share, then the stages' work re-estimated."""
        self.run.advance(max(self.run.share(self.k) - self.spent, 0.0))
        self.run.done[self.k] = True
        self.run.learn(frames, seconds)

    def abandon(self) -> None:
        """The video failed: the rest of its share (nothing more is done for it)."""
        self.run.advance(max(self.run.share(self.k) - self.spent, 0.0))
        self.run.done[self.k] = True
        self.run._retotal()


class _Cancelled(Exception):
    """Raised in a :class:`_Beside` thread's progress call to stop its work."""


class _Beside:
    """``fn(tick)`` run in a thread beside the next stages (the labelled video beside the ensemble): ``tick(n)``
    reports ``n`` more frames to ``progress``; :meth:`wait` gives its result or raises its error; :meth:`cancel`
    stops it at its next progress call (an aborted video writer leaves no file) and waits for it."""

    def __init__(self, fn, progress):
        self.cancelled = threading.Event()
        self.result, self.error, self.seconds = None, None, 0.0

        def tick(n: int) -> None:
            if self.cancelled.is_set():
                raise _Cancelled()
            progress(n)

        def run() -> None:
            t = time.perf_counter()
            try:
                self.result = fn(tick)
            except BaseException as err:  # re-raised by wait() in the caller's thread
                self.error = err
            finally:
                self.seconds = time.perf_counter() - t

        self.thread = threading.Thread(target=run, name="infantjax-beside", daemon=True)
        self.thread.start()

    def wait(self):
        self.thread.join()
        if self.error is not None:
            raise self.error
        return self.result

    def cancel(self) -> None:
        self.cancelled.set()
        self.thread.join()


class _Clock:
    """Times the stages of one video into its own record and the run's totals, and tells the progress bar."""

    def __init__(self, totals: dict, progress: _VideoProgress, video: str):
        self.totals, self.progress, self.video = totals, progress, video
        self.own: dict[str, float] = {}

    def stage(self, name: str):
        clock = self

        class _Stage:
            def __enter__(self):
                clock.progress.begin(name, clock.video)
                self.t = time.perf_counter()

            def __exit__(self, exc_type, exc, tb):
                took = time.perf_counter() - self.t
                clock.own[name] = clock.own.get(name, 0.0) + took
                clock.totals[name] = clock.totals.get(name, 0.0) + took
                if exc_type is None:
                    clock.progress.end(name)

        return _Stage()

    def frames(self, name: str):
        """The callback of a per-frame stage: ``n`` more frames done."""
        return lambda n: self.progress.frames_done(name, int(n))


def _too_short(info: dict, max_frames: int | None, window_s: float, name: str) -> None:
    """Refuse a recording shorter than one window of the ensemble before any frame is tracked."""
    frames = info["frames"] if max_frames is None else min(info["frames"], int(max_frames))
    seconds = frames / info["fps"] if info["fps"] > 0 else 0.0
    if seconds + 0.5 / max(info["fps"], 1.0) < window_s:
        cut = max_frames is not None and frames < info["frames"]
        what = f"its first {frames} frames last" if cut else "it lasts"
        raise DataError(f"{name}: {what} {seconds:.1f} s, shorter than one window of the CP ensemble "
                        f"({window_s:.1f} s); the ensemble scores windows of {window_s:.1f} s, so the "
                        "recording must be at least that long (the model was made for 1–9 minutes)")


def _camera(settings: dict) -> str | None:
    """What ``Ensemble.predict``'s ``camera=`` is for a run's settings (``"reference"``: None)."""
    camera = settings.get("camera", "auto")
    return None if camera == "reference" else camera


def _warm_up(models: Models, settings: dict, info: dict, clock: _Clock) -> None:
    """Compile the ensemble's programs for the first video's windows before its frames are tracked, so that
    the compilation, like the models' loading, happens before the progress bar starts timing the work (the
    time counts in the ensemble stage)."""
    from infantjax.preprocess import window_starts

    rotation = None if settings["window_rotation"] == "auto" else settings["window_rotation"]  # most are upright
    cfg = models.ensemble.scoring_inputs(rotation)
    frames = info["frames"] if settings["max_frames"] is None else \
        min(info["frames"], int(settings["max_frames"]))
    n30 = int(frames / info["fps"] * 30.0) if info["fps"] > 0 else cfg.window
    t = time.perf_counter()
    try:
        models.ensemble.compile_for(len(window_starts(max(n30, cfg.window), cfg.window, cfg.hop)),
                                    window_rotation=rotation)
    except (InfantJaxError, AttributeError, TypeError, ValueError) as err:  # compiled at its first use then
        log.info("the ensemble was not compiled ahead (%s)", err)
    took = time.perf_counter() - t
    clock.own["ensemble"] = clock.own.get("ensemble", 0.0) + took
    clock.totals["ensemble"] = clock.totals.get("ensemble", 0.0) + took


def _rotation_advice(models: Models, seq, prediction, result, settings: dict, scorer, quality_of) -> tuple:
    """Keep the orientation warning only where following it changes the outcome: the recording is scored again
    under the corrected window rotation, and the warning says what that gives, naming ``assess``'s own flag.
    Returns the warnings of the result."""
    from infantjax.clinical import assess_prediction

    kept = []
    for warning in result.warnings:
        if "window rotation" not in warning or settings["window_rotation"] is not None:
            kept.append(warning)
            continue
        corrected = models.ensemble.predict(seq, window_rotation="corrected", scorer=scorer,
                                            camera=_camera(settings))
        other = assess_prediction(corrected, settings["threshold"], certainty=settings["certainty"],
                                  quality=quality_of(corrected))
        if (other.label, other.colour) == (result.label, result.colour):
            log.info("%s; the corrected window rotation gives the same class and colour, so it is not "
                     "advised", warning)
            continue
        what = other.label if other.withheld else f"CP risk {other.risk:.3f}, {other.label}, {other.colour}"
        kept.append(f"{warning.split(': ', 1)[0]}: the reference window rotation mirrors or misaligns such "
                    f"windows; with infantjax assess --window-rotation corrected it gives {what} instead of "
                    f"{result.label} ({result.colour})")
    return tuple(kept)


def _assess_video(video: pathlib.Path, folder: pathlib.Path, name: str, models: Models, settings: dict,
                  totals: dict, progress: _VideoProgress, *, batch_size: int, scorer=None, gate=None) -> dict:
    from infantjax import report
    from infantjax.clinical import assess_prediction, prediction_quality, recording_length_warning
    from infantjax.io import open_video, write_keypoints
    from infantjax.pipelines.cp import to_model_skeleton

    clock = _Clock(totals, progress, video.name)
    source = _fingerprint(video)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise FileWriteError(f"{folder}: cannot create the folder ({err.strerror})") from None
    removed = files.remove_temporaries(folder)  # of an earlier run killed while writing this video's files
    if removed:
        log.info("%s: removed %d temporary file(s) of an interrupted run", folder, len(removed))
    window_s = float(models.ensemble.config.window) / 30.0
    with clock.stage("decode"):
        with open_video(video) as v:
            info = {"frames": len(v), "fps": float(v.fps), "duration_s": float(v.duration),
                    "size_hw": [int(v.frame_size[0]), int(v.frame_size[1])], "rotation": int(v.rotation),
                    "variable_frame_rate": bool(v.variable_frame_rate), "format": v.format}
        _too_short(info, settings["max_frames"], window_s, video.name)
        playable, why = playable_in_browsers(video)
        info["browser_playable"] = playable
    if not progress.run.warmed and scorer is None:
        _warm_up(models, settings, info, clock)
        progress.run.warmed = True
    with clock.stage("pose"):
        raw = models.pose.track(video, batch_size=batch_size, progress=clock.frames("pose"),
                                tracking=settings["tracking"],
                                max_frames=settings["max_frames"])
        keypoints_file = write_keypoints(folder / "keypoints.csv", raw)
    # the labelled video needs only the keypoints: it is written in a thread beside the ensemble and explain
    # stages (on 2 cores the two together took 55 s instead of 62 s one after the other)
    beside = _Beside(lambda tick: write_labelled(video, raw, folder / f"{name}.labelled.mp4", progress=tick),
                     clock.frames("labelled")) if settings["labelled"] else None
    try:
        with clock.stage("ensemble"):
            seq, mapped = to_model_skeleton(raw, settings["map_skeleton"], video)
            prediction = models.ensemble.predict(seq, window_rotation=settings["window_rotation"], scorer=scorer,
                                                 fix="infantjax assess --window-rotation corrected",
                                                 camera=_camera(settings))
        with clock.stage("explain"):
            gate_th, gate_text = gate if gate is not None else gate_thresholds(None)

            def quality_of(p):
                return prediction_quality(p, seq, thresholds=gate_th)

            result = assess_prediction(prediction, settings["threshold"], certainty=settings["certainty"],
                                       quality=quality_of(prediction))
            warnings = list(_rotation_advice(models, seq, prediction, result, settings, scorer, quality_of))
            length = recording_length_warning(seq.duration)
            if length:
                warnings.insert(0, length)
            if mapped:
                warnings.insert(0, mapped)
            result = dataclasses.replace(result, warnings=tuple(warnings),
                                         metadata={**result.metadata, "name": name, "video": video.name})
            result.save_json(folder / "result.json")
    except BaseException:
        if beside is not None:  # stopped and waited for: no file of a failed or interrupted video is left behind
            beside.cancel()
        raise
    page_video, note = None, None
    if beside is not None:
        with clock.stage("labelled"):  # the time waited for it after the explain stage
            page_video = beside.wait().name
    with clock.stage("dashboard"):
        if page_video is None:
            page_video = _copy_video(video, folder, playable)
            note = why
        from infantjax.report import EnsembleInfo

        window_s = float(models.ensemble.config.window) / float(result.metadata.get("model_fps", 30.0))
        ens_info = EnsembleInfo.from_ensemble(models.ensemble, checkpoint=settings["ensemble"])
        report.dashboard(result, seq, video=page_video, window_s=window_s, ensemble_info=ens_info,
                         out=folder / "dashboard.html", video_note=note, name=name,
                         cohort_page="../cohort.html", labelled=settings["labelled"],
                         models_note=models_note(models.pose_name, models.ensemble_name))
    with clock.stage("records"):
        data = report.dashboard_data(result, seq, video=page_video, window_s=window_s,
                                     labelled=settings["labelled"])
        quality = result.quality
        windows = [{k: w[k] for k in ("index", "start_frame", "start", "end", "risk", "colour", "share_cp")}
                   | {"predictions": [float(x) for x in result.predictions[w["index"]]],
                      "quality": quality.window_states[w["index"]],
                      "quality_reasons": list(quality.window_reasons[w["index"]])} for w in data["windows"]]
        record = {
            "format": FORMAT, "format_version": _VERSION, "status": "done", "name": name,
            "source": source, "video": info, "settings": settings,
            "keypoints": {"file": keypoints_file.name, "skeleton": raw.skeleton.name, "frames": raw.num_frames,
                          "fps": float(raw.fps), "model": models.pose_name,
                          "missing_fraction": float(np.isnan(seq.coords[..., 0]).mean())},
            "ensemble": {"name": models.ensemble_name, "instances": int(models.ensemble.num_instances),
                         "window_s": window_s, "runtime": settings["runtime"],
                         "window_rotation": prediction.metadata.get("window_rotation"),
                         "spine": prediction.metadata.get("spine_orientation"),
                         "camera": prediction.metadata.get("camera")},
            "risk": float(result.risk), "cp": bool(result.cp), "classification": result.label,
            "colour": result.colour, "threshold": float(result.threshold), "certainty_rule": result.certainty,
            "share_cp": float(result.share_cp),
            "quality": {"state": quality.state, "withheld": bool(quality.withheld),
                        "reasons": list(quality.reasons), "summary": data["quality"]["summary"],
                        "gate": gate_text},
            "windows": windows, "decision_windows": data["decision"],
            "cam": None if result.cam is None else [float(c) for c in result.cam],
            "warnings": list(result.warnings),
            "files": {"dashboard": "dashboard.html", "video": page_video, "keypoints": keypoints_file.name,
                      "result": "result.json", "labelled": page_video if settings["labelled"] else None},
            "stages": dict(clock.own),
        }
        if beside is not None:  # the labelled video's own time, beside the ensemble and explain stages
            record["labelled_seconds"] = beside.seconds
    record["stages"]["records"] = clock.own.get("records", 0.0)
    record["seconds"] = float(sum(record["stages"].values()))
    files.write_json(folder / RECORD, record, sort_keys=False)  # last: the video is finished
    progress.finish(raw.num_frames, record["stages"])
    return record


def _copy_video(video: pathlib.Path, folder: pathlib.Path, playable: bool) -> str:
    """The source copied into the video's folder (the dashboard's folder is self-contained), atomically."""
    suffix = ".mp4" if playable and video.suffix.lower() in (".mp4", ".mov", ".m4v") else video.suffix.lower()
    target = folder / f"video{suffix}"
    try:
        with files.atomic_path(target) as tmp:
            shutil.copyfile(video, tmp)
    except OSError as err:
        raise FileWriteError(f"{target}: cannot copy the video ({err.strerror})") from None
    return target.name


_SUMMARY_COLUMNS = ("video", "folder", "status", "risk", "classification", "colour", "quality",
                    "quality_reasons", "windows", "frames", "duration_s", "seconds", "dashboard", "error")


def _write_summary(out: pathlib.Path, videos, names, records, failed,
                   states: dict | None = None) -> pathlib.Path:
    """``summary.csv``: one row per video. ``status`` is ``done``, ``failed``, ``stale`` (an older result
    being redone: not current), ``pending`` (not reached yet) or ``running``; a withheld video is ``done``
    with the class "cannot be assessed", the colour grey and quality ``unreliable``."""
    errors = {f["folder"]: f for f in failed}
    states = states or {}
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=_SUMMARY_COLUMNS, lineterminator="\n")
    w.writeheader()
    for v, n, r in zip(videos, names, records):
        if r is None:
            f = errors.get(n)
            status = "failed" if f is not None else states.get(n, "pending")
            w.writerow({"video": v.name, "folder": n, "status": status,
                        "error": "" if f is None else f"{f['error']}: {f['message']}"})
            continue
        quality = r.get("quality") or {}
        w.writerow({"video": v.name, "folder": n, "status": "done", "risk": f"{r['risk']:.4f}",
                    "classification": r["classification"], "colour": r["colour"],
                    "quality": quality.get("state", ""),
                    "quality_reasons": "; ".join(quality.get("reasons") or ()),
                    "windows": len(r["windows"]), "frames": r["keypoints"]["frames"],
                    "duration_s": f"{r['video']['duration_s']:.2f}", "seconds": f"{r['seconds']:.2f}",
                    "dashboard": f"{n}/{r['files']['dashboard']}", "error": ""})
    return files.write_text(out / "summary.csv", buf.getvalue(), parents=True)


def _write_cohort(out: pathlib.Path, names, records, models: Models) -> pathlib.Path | None:
    """The cohort page of the finished videos (none: the page is removed, so it links nothing stale)."""
    from urllib.parse import quote

    from infantjax import report
    from infantjax.clinical import RiskResult

    done = [(n, r) for n, r in zip(names, records) if r is not None]
    if not done:
        (out / "cohort.html").unlink(missing_ok=True)
        return None
    results = []
    for n, r in done:
        try:
            results.append(RiskResult.from_dict(json.loads((out / n / r["files"]["result"]).read_text())))
        except (OSError, ValueError, KeyError, InfantJaxError) as err:
            raise DataError(f"{out / n / 'result.json'} is unreadable ({type(err).__name__}); delete {out / n} "
                            "and run again to redo that video") from None
    info = report.EnsembleInfo.from_ensemble(models.ensemble, checkpoint=models.ensemble_name)
    return report.cohort(results, names=[n for n, _ in done],
                         links=[f"{quote(n)}/dashboard.html" for n, _ in done], ensemble_info=info,
                         out=out / "cohort.html")
