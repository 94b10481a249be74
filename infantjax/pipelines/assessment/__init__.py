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

The package, one idea a module, each importing only those before it:

* :mod:`.models` — the pose model and the CP ensemble: ``Models``, ``load_models``, ``check_model_names``,
  ``models_note``;
* :mod:`.inputs` — the videos a path names (``video_files``) and their output folders' names;
* :mod:`.records` — a video's ``record.json``, its source's fingerprint and resuming from it;
* :mod:`.gate` — the tracking-quality gate's thresholds of a run (``gate_thresholds``);
* :mod:`.playback` — the video a dashboard plays: the labelled video (``write_labelled``), a copy of the source,
  ``playable_in_browsers``;
* :mod:`.progress` — the progress bar over every video's work and the clock of a video's stages;
* :mod:`.background` — work run in a thread beside the next stages (the labelled video);
* :mod:`.summary` — ``summary.csv`` and the cohort page;
* :mod:`.video` — one video through the stages (``STAGES``) to its record;
* :mod:`.run` — the run over a video or a folder: :func:`assess` and its result :class:`AssessRun`.

Every name is imported from this package (``from infantjax.pipelines.assessment import assess``); a test that
replaces one for a run replaces it where it is looked up (``assess`` looks up ``load_models`` in :mod:`.run`,
the labelled video's ``write_labelled`` is looked up in :mod:`.video`).
"""

from __future__ import annotations

# the public names (__all__) and the private ones the package's users and tests import from here
from infantjax.pipelines.assessment.background import _Beside, _Cancelled  # noqa: F401
from infantjax.pipelines.assessment.gate import SHIPPED_GATE, _gate_version, gate_thresholds  # noqa: F401
from infantjax.pipelines.assessment.inputs import (  # noqa: F401
    VIDEO_SUFFIXES, _folder_names, _safe_name, video_files)
from infantjax.pipelines.assessment.models import (  # noqa: F401
    Models, _synthetic_models, check_model_names, load_models, models_note)
from infantjax.pipelines.assessment.playback import (  # noqa: F401
    _copy_video, playable_in_browsers, write_labelled)
from infantjax.pipelines.assessment.progress import (  # noqa: F401
    _WORK, _Clock, _frame_estimate, _Progress, _VideoProgress)
from infantjax.pipelines.assessment.records import (  # noqa: F401
    _VERSION, FORMAT, RECORD, _failed_before, _fingerprint, _finished, _mark_stale, _read_record, _same_run,
    _write_failed)
from infantjax.pipelines.assessment.run import AssessRun, _cpu_model, _environment, _run_entry, assess  # noqa: F401
from infantjax.pipelines.assessment.summary import (  # noqa: F401
    _SUMMARY_COLUMNS, _write_cohort, _write_summary)
from infantjax.pipelines.assessment.video import (  # noqa: F401
    STAGES, _assess_video, _camera, _rotation_advice, _too_short, _warm_up)

__all__ = ["STAGES", "VIDEO_SUFFIXES", "AssessRun", "Models", "assess", "load_models", "models_note",
           "playable_in_browsers", "video_files"]
