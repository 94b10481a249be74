"""One video through an assessment's stages: decode, pose, the CP ensemble, the explanations (with the
tracking-quality gate and the orientation advice), the labelled video beside them, the dashboard and the video's
record, written last."""

from __future__ import annotations

import dataclasses
import logging
import pathlib
import time

import numpy as np

from infantjax.errors import DataError, FileWriteError, InfantJaxError
from infantjax.io import files
from infantjax.pipelines.assessment.background import _Beside
from infantjax.pipelines.assessment.gate import gate_thresholds
from infantjax.pipelines.assessment.models import Models, models_note
from infantjax.pipelines.assessment.playback import _copy_video, playable_in_browsers, write_labelled
from infantjax.pipelines.assessment.progress import _Clock, _VideoProgress
from infantjax.io.keypoints.sidecar import digest
from infantjax.pipelines.assessment.records import _VERSION, FORMAT, RECORD, _fingerprint, _tracked_before

#: the package's logger: whichever module logs, the records are named ``infantjax.pipelines.assessment``
log = logging.getLogger(__package__)

#: The stages of one video, in order, as the progress bar and the run record name them. ``pose`` decodes the frames
#: in a background thread while the network runs (the decode stage only opens and indexes the file).
STAGES = ("decode", "pose", "ensemble", "explain", "labelled", "dashboard", "records")


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


def _mirror(settings: dict) -> str | None:
    """What ``Ensemble.predict``'s ``mirror=`` is for a run's settings (``"reference"``: None)."""
    mirror = settings.get("mirror", "reference")
    return None if mirror == "reference" else mirror


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
    copies = 2 if _mirror(settings) else 1  # the mirror images are scored in the same calls
    t = time.perf_counter()
    try:
        models.ensemble.compile_for(copies * len(window_starts(max(n30, cfg.window), cfg.window, cfg.hop)),
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
                                            camera=_camera(settings), mirror=_mirror(settings))
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
    from infantjax.io import open_video, read_keypoints, write_keypoints
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
    tracked = _tracked_before(folder, source, settings)
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
        if tracked is not None:  # the same video, pose model and tracking: only the scoring changed
            log.info("%s: the keypoints tracked by an earlier run with the same pose model and tracking are read "
                     "again (%s)", video.name, tracked.name)
            raw, keypoints_file = read_keypoints(tracked), tracked
        else:
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
                                                 camera=_camera(settings), mirror=_mirror(settings))
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
                          "sha256": digest(keypoints_file), "read_again": tracked is not None,
                          "missing_fraction": float(np.isnan(seq.coords[..., 0]).mean())},
            "ensemble": {"name": models.ensemble_name, "instances": int(models.ensemble.num_instances),
                         "window_s": window_s, "runtime": settings["runtime"],
                         "window_rotation": prediction.metadata.get("window_rotation"),
                         "spine": prediction.metadata.get("spine_orientation"),
                         "camera": prediction.metadata.get("camera"),
                         "mirror": prediction.metadata.get("mirror")},
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
    progress.finish(raw.num_frames, {} if tracked is not None else record["stages"])  # no pose time to learn from
    return record
