"""An assessment run over a video or a folder of videos (:func:`assess`): the options checked and the models
loaded before any work, each video finished before, failed before or to do, the videos processed in turn (a
folder's failures recorded while the others go on), and the summary, cohort page and run record
``OUT/assess.json`` written as the run goes and at its end."""

from __future__ import annotations

import dataclasses
import logging
import os
import pathlib
import time

from infantjax.errors import ConfigError, FileWriteError, InfantJaxError
from infantjax.io import files
from infantjax.pipelines.assessment.gate import _gate_version, gate_thresholds
from infantjax.pipelines.assessment.inputs import _folder_names, video_files
from infantjax.pipelines.assessment.models import Models, check_model_names, load_models
from infantjax.pipelines.assessment.progress import _frame_estimate, _Progress
from infantjax.pipelines.assessment.records import (_VERSION, FORMAT, _failed_before, _fingerprint, _finished,
                                                    _mark_stale, _read_record, _write_failed)
from infantjax.pipelines.assessment.summary import _write_cohort, _write_summary
from infantjax.pipelines.assessment.video import STAGES, _assess_video

#: the package's logger: whichever module logs, the records are named ``infantjax.pipelines.assessment``
log = logging.getLogger(__package__)

#: What scores the ensemble (:data:`infantjax.deploy.scoring.RUNTIMES`, repeated so that checking the option does not
#: start JAX).
_RUNTIMES = ("xla", "litert")


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
           window_rotation: str | None = "auto", camera: str = "auto", mirror: str = "reference",
           batch_size: int = 16,
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
        mirror: ``"average"``: every window is scored as tracked and as its mirror image and the two are averaged,
            so that a mirrored video (a phone's front camera) gets the risk of the unmirrored one; the ensemble
            stage does twice the work. ``"reference"`` (default): scored as tracked. Part of the settings.
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
    if mirror not in ("average", "reference"):
        raise ConfigError(f"mirror must be 'average' or 'reference', got {mirror!r}")
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
                "window_rotation": window_rotation, "camera": camera, "mirror": mirror, "max_frames": max_frames,
                "runtime": runtime,
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
