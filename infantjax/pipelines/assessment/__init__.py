"""From a video to the clinical dashboard in one call: ``infantjax assess`` (the package's modules: :mod:`.run`)."""

from __future__ import annotations

from infantjax.pipelines.assessment.run import (  # noqa: F401 - names other modules and the tests use
    FORMAT, RECORD, SHIPPED_GATE, STAGES, VIDEO_SUFFIXES, _VERSION, _WORK, AssessRun, Models, _assess_video,
    _Beside, _camera, _Cancelled, _Clock, _copy_video, _cpu_model, _environment, _failed_before, _fingerprint,
    _finished, _folder_names, _frame_estimate, _gate_version, _mark_stale, _Progress, _read_record,
    _rotation_advice, _run_entry, _safe_name, _same_run, _SUMMARY_COLUMNS, _synthetic_models, _too_short,
    _VideoProgress, _warm_up, _write_cohort, _write_failed, _write_summary, assess, check_model_names,
    gate_thresholds, load_models, models_note, playable_in_browsers, video_files, write_labelled)

__all__ = ["STAGES", "VIDEO_SUFFIXES", "AssessRun", "Models", "assess", "load_models", "models_note",
           "playable_in_browsers", "video_files"]
