"""From a video to the clinical dashboard in one call: ``infantjax assess`` (issue 39, thesis chapter 5).

    from infantjax import pipelines
    run = pipelines.assess("video.mp4", out="assessment/")        # or a folder of videos (assessment.assess)
    run.records[0]["risk"], run.records[0]["files"]["dashboard"]

Per video: decode (frame-exact, upright, real timestamps: :mod:`infantjax.io.video`) → keypoints with a pose model
(the zoo's infant model ``rt-synthetic-infant`` by default, any :class:`~infantjax.pipelines.pose.PosePredictor`;
keypoints of another skeleton are mapped to In-Motion 19) → CP preprocessing and the ensemble (the zoo's CP ensemble
by default, any saved or imported one) → risk, class, certainty colour, temporal and spatial explanations
(:mod:`infantjax.clinical`, :mod:`infantjax.explain`) → the dashboard (:func:`infantjax.report.dashboard`).
The ensemble's windows are scored by XLA (the library's own path, ``runtime="xla"``) or by the LiteRT interpreter
(``runtime="litert"``: each stack exported once and cached, :mod:`infantjax.deploy.scoring`; the same predictions to
the export check's bound, extra ``litert``).

The output folder::

    OUT/assess.json           the run record: every video's status, stage times and their shares
    OUT/summary.csv           one row per video (risk, class, colour, windows, error)
    OUT/cohort.html           the cohort page, linked to every dashboard
    OUT/<video>/dashboard.html, video.mp4 (a copy of the source, or the labelled video), keypoints.csv (+ its
        sidecar with the frame times), result.json (the full RiskResult), record.json (written last: the video
        is finished)

A folder is processed video by video and resumes where it stopped: a video whose ``record.json`` says it was
finished from the same source file (size and modification time) with the same settings is not redone. A damaged
video gets its typed error in the summary and the run record and the others go on. Every file is written atomically.
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
import time
from collections.abc import Sequence

import numpy as np

from infantjax.errors import ConfigError, DataError, FileWriteError, InfantJaxError, VideoError
from infantjax.io import files

__all__ = ["STAGES", "VIDEO_SUFFIXES", "AssessRun", "Models", "assess", "load_models", "playable_in_browsers",
           "video_files"]

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


def load_models(ensemble=None, pose=None) -> Models:
    """The one place ``assess`` loads its models, through :func:`infantjax.load` (a zoo name or a saved path).

    Arguments:
        ensemble: a zoo entry name, a folder (or ``.npz``) saved by ``Ensemble.save`` or written by
            ``infantjax import-movementoutcome``, an :class:`~infantjax.ensemble.Ensemble`, or None (the zoo's CP
            ensemble).
        pose: a zoo pose entry name (``rt-synthetic-infant``, ``efficientpose-rt-mpii`` ...), a predictor ``.npz`` or
            an official EfficientPose ``.h5``, a :class:`~infantjax.pipelines.pose.PosePredictor`, or None (the
            zoo's infant model ``rt-synthetic-infant``).

    Raises:
        ConfigError: a name that is neither a zoo entry nor an existing path. CheckpointError, WeightsError: a
            damaged saved model.
    """
    from infantjax.ensemble import Ensemble
    from infantjax.models import zoo
    from infantjax.pipelines.loading import load
    from infantjax.pipelines.pose import PRETRAINED, PosePredictor

    if ensemble is None or isinstance(ensemble, (str, os.PathLike)):
        name = zoo.default("ensemble") if ensemble is None else os.fspath(ensemble)
        zoo_names = {e.name for e in zoo.available("ensemble")}
        if name not in zoo_names and not pathlib.Path(name).exists():
            raise ConfigError(f"--ensemble {name!r} is neither a zoo ensemble ({', '.join(sorted(zoo_names))}) nor a "
                              "saved ensemble folder; give a folder written by `infantjax train` or "
                              "`infantjax import-movementoutcome`")
        ens = load(name)
        if not isinstance(ens, Ensemble):
            raise ConfigError(f"--ensemble {name!r} is a {type(ens).__name__}, not a CP ensemble; give a zoo ensemble "
                              f"({', '.join(sorted(zoo_names))}) or a folder written by `infantjax train`")
        ens_name = name if name in zoo_names else str(pathlib.Path(name).resolve())
    else:
        ens, ens_name = ensemble, f"in memory ({type(ensemble).__name__}, {ensemble.num_instances} instances)"
    if pose is None or isinstance(pose, (str, os.PathLike)):
        name = zoo.default("pose") if pose is None else os.fspath(pose)
        if name not in PRETRAINED and not pathlib.Path(name).is_file():
            raise ConfigError(f"--pose {name!r} is neither a zoo pose model ({', '.join(PRETRAINED)}) nor a weights "
                              "file (a PosePredictor .npz or an official EfficientPose .h5)")
        predictor = load(name)
        if not isinstance(predictor, PosePredictor):
            raise ConfigError(f"--pose {name!r} is a {type(predictor).__name__}, not a pose model; give a zoo pose "
                              f"model ({', '.join(PRETRAINED)}) or a PosePredictor .npz / EfficientPose .h5")
        pose_name = name if name in PRETRAINED else str(pathlib.Path(name).resolve())
    else:
        predictor, pose_name = pose, f"in memory (EfficientPose {pose.spec.variant}, {pose.skeleton.name})"
    return Models(predictor, ens, pose_name, ens_name)


# ------------------------------------------------------------------------------------------------ the labelled video
def write_labelled(video: pathlib.Path, keypoints, out: pathlib.Path) -> pathlib.Path:
    """THE one call site of the labelled video (issue 39, item 3): the skeleton drawn on every frame of ``video``
    (H.264 MP4, :func:`infantjax.pipelines.pose.write_labelled_video`) at ``out``; the dashboard plays it instead of
    the source."""
    from infantjax.pipelines import pose

    return pathlib.Path(pose.write_labelled_video(video, keypoints, out, progress=False))


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


def _folder_names(videos: Sequence[pathlib.Path]) -> list[str]:
    """A file-safe, unique output folder name per video (its stem; the suffix added where two stems collide)."""
    stems = [re.sub(r"[^A-Za-z0-9._-]+", "_", v.stem).strip("._") or "video" for v in videos]
    out = []
    for v, s in zip(videos, stems):
        if stems.count(s) > 1:
            s = f"{s}_{v.suffix.lstrip('.').lower()}"
        out.append(s)
    seen: dict[str, int] = {}
    for i, s in enumerate(out):
        k = seen.get(s.lower(), 0)
        seen[s.lower()] = k + 1
        if k:
            out[i] = f"{s}-{k + 1}"
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


def _finished(folder: pathlib.Path, source: dict, settings: dict) -> dict | None:
    """The record of a video finished from the same source with the same settings, or None."""
    try:
        record = json.loads((folder / RECORD).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("format") != FORMAT or record.get("status") != "done":
        return None
    src = record.get("source") or {}
    if (src.get("size"), src.get("mtime_ns")) != (source["size"], source["mtime_ns"]):
        return None
    if {"runtime": "xla", **(record.get("settings") or {})} != settings:  # records before the switch: XLA
        return None
    if not all((folder / f).is_file() for f in (record.get("files") or {}).values() if f):
        return None
    return record


# ------------------------------------------------------------------------------------------------ the run
@dataclasses.dataclass(frozen=True)
class AssessRun:
    """What :func:`assess` did.

    Attributes:
        out: the output folder.
        records: the record of every finished video (``OUT/<video>/record.json``), in input order.
        failed: per video that failed: ``{"video", "folder", "error", "message"}``.
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

    def shares_text(self) -> str:
        """Each stage's share of the time, one line (``pose 71 % (12.3 s), ensemble 20 % ...``)."""
        parts = [f"{k} {100 * self.shares[k]:.0f} % ({v:.1f} s)" for k, v in self.stages.items() if v > 0]
        return ", ".join(parts) if parts else "nothing was processed (every video was finished before)"


def assess(source: str | os.PathLike, out: str | os.PathLike, *, ensemble=None, pose=None, labelled: bool = True,
           threshold: float | None = None, certainty: str = "paper", map_skeleton: str = "approximate",
           window_rotation: str | None = None, batch_size: int = 16, max_frames: int | None = None,
           progress: bool = True, models: Models | None = None, runtime: str = "xla",
           litert_cache: str | os.PathLike | None = None) -> AssessRun:
    """A video, or a folder of videos, through pose, the CP ensemble and the explanations to the dashboard.

    Arguments:
        source: a video file or a folder of videos (:data:`VIDEO_SUFFIXES`).
        out: the output folder (created; see the module docstring for its layout).
        ensemble: the CP ensemble: a zoo name, a saved folder, an Ensemble, or None (the zoo's; :func:`load_models`).
        pose: the pose model: a zoo name, a weights file, a PosePredictor, or None (``rt-synthetic-infant``).
        labelled: also write the labelled video (the skeleton drawn on every frame) and play it on the dashboard.
        threshold: decision threshold (default the ensemble's).
        certainty: ``"paper"`` colours or the reference's ``"interquartile"`` rule.
        map_skeleton: ``"exact"`` or ``"approximate"`` mapping of a pose model's keypoints that are not In-Motion 19
            (``"none"`` refuses them).
        window_rotation: score with another window rotation than the ensemble's (``"corrected"``), or None.
        batch_size: frames per pose forward pass.
        max_frames: track at most this many frames of each video (a quick look; None: all).
        progress: one tqdm progress bar over the stages of every video.
        models: already loaded models (:func:`load_models`); ``ensemble`` and ``pose`` are then ignored.
        runtime: what scores the ensemble's windows: ``"xla"`` (the library's own path) or ``"litert"`` (the LiteRT
            interpreter: each stack converted once, the first time, then read from the cache; P(CP) and CAM equal to
            the XLA path's within the export check's bound, :class:`infantjax.deploy.scoring.LiteRTScorer`). Part of
            the settings: a video finished with the other runtime is redone.
        litert_cache: the directory of the LiteRT files (default :func:`infantjax.cache.litert_cache_dir`).

    Returns:
        an :class:`AssessRun`.

    Raises:
        DataError: no video at ``source``. ConfigError: bad options, unknown models. FileWriteError: ``out`` is a
        file or cannot be written. ExportExtraError: ``runtime="litert"`` without the ``litert`` extra (checked
        before any video). ExportError: a stack LiteRT cannot express (a stack whose file is off the XLA path is
        scored by XLA). For a single video, the video's own error (VideoError, DataError ...): a folder records it
        and goes on.
    """
    if threshold is not None and not (isinstance(threshold, (int, float)) and 0 <= threshold <= 1):
        raise ConfigError(f"threshold must be a probability in [0, 1], got {threshold!r}")
    if certainty not in ("paper", "interquartile"):
        raise ConfigError(f"certainty must be 'paper' or 'interquartile', got {certainty!r}")
    if map_skeleton not in ("none", "exact", "approximate"):
        raise ConfigError(f"map_skeleton must be 'none', 'exact' or 'approximate', got {map_skeleton!r}")
    if window_rotation not in (None, "reference", "corrected"):
        raise ConfigError(f"window_rotation must be 'reference', 'corrected' or None, got {window_rotation!r}")
    if int(batch_size) < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
    if max_frames is not None and int(max_frames) < 1:
        raise ConfigError(f"max_frames must be >= 1, got {max_frames}")
    if runtime not in _RUNTIMES:
        raise ConfigError(f"runtime must be one of {', '.join(_RUNTIMES)}, got {runtime!r}")
    if runtime == "litert":  # a missing extra fails now, not after the pose stage
        from infantjax.deploy.scoring import require_interpreter

        require_interpreter()
    single = pathlib.Path(source).is_file()
    videos = video_files(source)
    out = pathlib.Path(out)
    if out.exists() and not out.is_dir():
        raise FileWriteError(f"--out {str(out)!r} is a file; give a folder (created if missing)")
    if single:  # a missing, empty or damaged video fails now, not after the models are loaded
        from infantjax.io import open_video

        open_video(videos[0]).close()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise FileWriteError(f"--out {str(out)!r}: cannot create the folder ({err.strerror})") from None
    names = _folder_names(videos)
    t_start = time.perf_counter()
    models = models or load_models(ensemble, pose)
    settings = {"ensemble": models.ensemble_name, "pose": models.pose_name, "labelled": bool(labelled),
                "threshold": threshold, "certainty": certainty, "map_skeleton": map_skeleton,
                "window_rotation": window_rotation, "max_frames": max_frames, "runtime": runtime}
    scorer = None
    if runtime == "litert":
        from infantjax.deploy.scoring import LiteRTScorer

        scorer = LiteRTScorer(models.ensemble, cache_dir=litert_cache)
        scorer.require(models.ensemble.scoring_inputs(window_rotation))  # TensorFlow, when a stack must be converted
    stages = {s: 0.0 for s in STAGES}
    if not labelled:
        stages.pop("labelled")
    from tqdm.auto import tqdm

    bar = tqdm(total=len(videos) * len(stages), desc="assess", unit="stage", disable=not progress)
    records: list[dict | None] = []
    failed, skipped = [], []
    try:
        for video, name in zip(videos, names):
            folder = out / name
            done = _finished(folder, _fingerprint(video), settings)
            if done is not None:
                skipped.append(name)
                records.append(done)
                bar.update(len(stages))
                continue
            at = bar.n
            try:
                record = _assess_video(video, folder, name, models, settings, stages, bar, batch_size=int(batch_size),
                                       scorer=scorer)
            except InfantJaxError as err:
                if single:
                    raise
                log.warning("%s: %s", video, err)
                failed.append({"video": str(video), "folder": name, "error": type(err).__name__, "message": str(err)})
                records.append(None)
                bar.update(at + len(stages) - bar.n)  # the stages it did not reach
                continue
            records.append(record)
    finally:
        bar.close()
    total = sum(stages.values())
    shares = {k: (v / total if total > 0 else 0.0) for k, v in stages.items()}
    summary = _write_summary(out, videos, names, records, failed)
    cohort = _write_cohort(out, names, records, models)
    elapsed = time.perf_counter() - t_start
    run_record = files.write_json(out / "assess.json", {
        "format": f"{FORMAT}-run", "format_version": _VERSION, "source": str(pathlib.Path(source).resolve()),
        "settings": settings, "videos": [
            {"video": str(v), "folder": n, "status": "failed" if r is None else ("resumed" if n in skipped else "done"),
             **({} if r is None else {"risk": r["risk"], "classification": r["classification"], "colour": r["colour"],
                                      "stages": r["stages"]}),
             **next(({"error": f["error"], "message": f["message"]} for f in failed if f["folder"] == n), {})}
            for v, n, r in zip(videos, names, records)],
        "stages": stages, "shares": shares, "seconds": elapsed,
        "summary_csv": summary.name, "cohort_page": None if cohort is None else cohort.name,
        "environment": _environment()}, sort_keys=False, parents=True)
    return AssessRun(out, tuple(r for r in records if r is not None), tuple(failed), tuple(skipped), stages, shares,
                     elapsed, summary, cohort, run_record)


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


class _Clock:
    """Times the stages of one video into its own record and the run's totals, advancing the progress bar."""

    def __init__(self, totals: dict, bar, video: str):
        self.totals, self.bar, self.video = totals, bar, video
        self.own: dict[str, float] = {}

    def stage(self, name: str):
        clock = self

        class _Stage:
            def __enter__(self):
                clock.bar.set_postfix_str(f"{clock.video}: {name}", refresh=True)
                self.t = time.perf_counter()

            def __exit__(self, exc_type, exc, tb):
                took = time.perf_counter() - self.t
                clock.own[name] = clock.own.get(name, 0.0) + took
                clock.totals[name] = clock.totals.get(name, 0.0) + took
                if exc_type is None:
                    clock.bar.update(1)

        return _Stage()


def _assess_video(video: pathlib.Path, folder: pathlib.Path, name: str, models: Models, settings: dict,
                  totals: dict, bar, *, batch_size: int, scorer=None) -> dict:
    from infantjax import report
    from infantjax.clinical import assess_prediction
    from infantjax.io import open_video, write_keypoints
    from infantjax.pipelines.cp import to_model_skeleton

    clock = _Clock(totals, bar, video.name)
    source = _fingerprint(video)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise FileWriteError(f"{folder}: cannot create the folder ({err.strerror})") from None
    stale = folder / RECORD
    if stale.exists():
        stale.unlink()  # this video is being redone: it is not finished until the new record is written
    with clock.stage("decode"):
        with open_video(video) as v:
            info = {"frames": len(v), "fps": float(v.fps), "duration_s": float(v.duration),
                    "size_hw": [int(v.frame_size[0]), int(v.frame_size[1])], "rotation": int(v.rotation),
                    "variable_frame_rate": bool(v.variable_frame_rate), "format": v.format}
        playable, why = playable_in_browsers(video)
        info["browser_playable"] = playable
    with clock.stage("pose"):
        raw = models.pose.track(video, batch_size=batch_size, progress=False,
                                max_frames=settings["max_frames"])
        keypoints_file = write_keypoints(folder / "keypoints.csv", raw)
    with clock.stage("ensemble"):
        seq, mapped = to_model_skeleton(raw, settings["map_skeleton"], video)
        prediction = models.ensemble.predict(seq, window_rotation=settings["window_rotation"], scorer=scorer)
    with clock.stage("explain"):
        result = assess_prediction(prediction, settings["threshold"], certainty=settings["certainty"])
        if mapped:
            result = dataclasses.replace(result, warnings=(mapped, *result.warnings))
        result = dataclasses.replace(result, metadata={**result.metadata, "name": name, "video": video.name})
        result.save_json(folder / "result.json")
    page_video, note = None, None
    if settings["labelled"]:
        with clock.stage("labelled"):
            page_video = write_labelled(video, raw, folder / f"{name}.labelled.mp4").name
    with clock.stage("dashboard"):
        if page_video is None:
            page_video = _copy_video(video, folder, playable)
            note = why
        window_s = float(models.ensemble.config.window) / float(result.metadata.get("model_fps", 30.0))
        from infantjax.report import EnsembleInfo

        ens_info = EnsembleInfo.from_ensemble(models.ensemble, checkpoint=settings["ensemble"])
        report.dashboard(result, seq, video=page_video, window_s=window_s, ensemble_info=ens_info,
                         out=folder / "dashboard.html", video_note=note, name=name, cohort_page="../cohort.html")
    with clock.stage("records"):
        data = report.dashboard_data(result, seq, video=page_video, window_s=window_s)
        windows = [{k: w[k] for k in ("index", "start_frame", "start", "end", "risk", "colour", "share_cp")}
                   | {"predictions": [float(x) for x in result.predictions[w["index"]]]} for w in data["windows"]]
        record = {
            "format": FORMAT, "format_version": _VERSION, "status": "done", "name": name,
            "source": source, "video": info, "settings": settings,
            "keypoints": {"file": keypoints_file.name, "skeleton": raw.skeleton.name, "frames": raw.num_frames,
                          "fps": float(raw.fps), "model": models.pose_name,
                          "missing_fraction": float(np.isnan(seq.coords[..., 0]).mean())},
            "ensemble": {"name": models.ensemble_name, "instances": int(models.ensemble.num_instances),
                         "window_s": window_s, "runtime": settings["runtime"]},
            "risk": float(result.risk), "cp": bool(result.cp), "classification": result.label,
            "colour": result.colour, "threshold": float(result.threshold), "certainty_rule": result.certainty,
            "share_cp": float(result.share_cp), "windows": windows, "decision_windows": data["decision"],
            "cam": None if result.cam is None else [float(c) for c in result.cam],
            "warnings": list(result.warnings),
            "files": {"dashboard": "dashboard.html", "video": page_video, "keypoints": keypoints_file.name,
                      "result": "result.json", "labelled": page_video if settings["labelled"] else None},
            "stages": dict(clock.own),
        }
    record["stages"]["records"] = clock.own.get("records", 0.0)
    record["seconds"] = float(sum(record["stages"].values()))
    files.write_json(folder / RECORD, record, sort_keys=False)  # last: the video is finished
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


_SUMMARY_COLUMNS = ("video", "folder", "status", "risk", "classification", "colour", "windows", "frames",
                    "duration_s", "seconds", "dashboard", "error")


def _write_summary(out: pathlib.Path, videos, names, records, failed) -> pathlib.Path:
    errors = {f["folder"]: f for f in failed}
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=_SUMMARY_COLUMNS, lineterminator="\n")
    w.writeheader()
    for v, n, r in zip(videos, names, records):
        if r is None:
            f = errors[n]
            w.writerow({"video": v.name, "folder": n, "status": "failed", "error": f"{f['error']}: {f['message']}"})
            continue
        w.writerow({"video": v.name, "folder": n, "status": "done", "risk": f"{r['risk']:.4f}",
                    "classification": r["classification"], "colour": r["colour"], "windows": len(r["windows"]),
                    "frames": r["keypoints"]["frames"], "duration_s": f"{r['video']['duration_s']:.2f}",
                    "seconds": f"{r['seconds']:.2f}", "dashboard": f"{n}/{r['files']['dashboard']}", "error": ""})
    return files.write_text(out / "summary.csv", buf.getvalue(), parents=True)


def _write_cohort(out: pathlib.Path, names, records, models: Models) -> pathlib.Path | None:
    from infantjax import report
    from infantjax.clinical import RiskResult

    done = [(n, r) for n, r in zip(names, records) if r is not None]
    if not done:
        return None
    results = []
    for n, r in done:
        try:
            results.append(RiskResult.from_dict(json.loads((out / n / r["files"]["result"]).read_text())))
        except (OSError, ValueError, KeyError) as err:
            raise DataError(f"{out / n / 'result.json'} is unreadable ({type(err).__name__}); delete {out / n} "
                            "and run again to redo that video") from None
    info = report.EnsembleInfo.from_ensemble(models.ensemble, checkpoint=models.ensemble_name)
    return report.cohort(results, names=[n for n, _ in done], links=[f"{n}/dashboard.html" for n, _ in done],
                         ensemble_info=info, out=out / "cohort.html")
