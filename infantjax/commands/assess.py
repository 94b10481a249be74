"""``infantjax assess VIDEO|FOLDER --out DIR``: from a video to the clinical dashboard in one command.

    infantjax assess VIDEO|FOLDER --out DIR [--ensemble NAME|DIR] [--pose NAME|FILE] [--no-labelled]
                     [--threshold T] [--certainty paper|interquartile] [--map-skeleton exact|approximate|none]
                     [--window-rotation auto|reference|corrected] [--camera auto|steady|reference]
                     [--mirror average|reference]
                     [--batch-size N] [--max-frames N] [--no-progress]
                     [--runtime xla|litert] [--litert-cache DIR] [--retry-failed]

Decodes the video (frame-exact, upright, real timestamps), finds the infant's keypoints in every frame (the
zoo's infant pose model by default), judges the tracking (the quality gate: windows whose keypoints cannot be
trusted are left out of the risk, and the risk is withheld — "cannot be assessed", grey — when too few windows
remain), scores the keypoints with a CP ensemble (the zoo's by default; any folder ``infantjax train`` or
``infantjax import-movementoutcome`` wrote) and writes per video ``DIR/<video>/dashboard.html`` (the
interactive dashboard beside the labelled video), the keypoints, the result and a record; ``DIR/summary.csv``,
``DIR/cohort.html`` and the run record ``DIR/assess.json`` at the end. A folder resumes where it stopped; a
damaged video is named in the summary with its error and the others go on, and is not tried again by a later
run unless ``--retry-failed`` is given. ``--runtime litert`` scores the ensemble with the LiteRT interpreter
(each stack converted once and cached; extra ``litert``) instead of XLA. :mod:`infantjax.pipelines.assessment`
has the details.

Exit status: 0 done; 1 a video of the folder failed; 2 bad input or options (one line on stderr); 3 the single
video's risk was withheld (tracking unreliable: the dashboard says why).
"""

from __future__ import annotations

import argparse
import pathlib

from infantjax.commands._common import add_scoring_options


def register(sub) -> None:
    p = sub.add_parser("assess", help="video (or a folder of videos) → keypoints → CP risk → interactive dashboard")
    p.add_argument("input", help="a video file or a folder of videos (.mp4, .mov, .avi, .mkv, .webm ...)")
    p.add_argument("--out", required=True, help="output folder (created; a folder run resumes in it)")
    p.add_argument("--ensemble", default=None, metavar="NAME|DIR",
                   help="CP ensemble: a zoo name (`infantjax info` lists them) or a folder saved by `infantjax "
                        "train` / `infantjax import-movementoutcome` (default: the zoo's cp-gcn-tracked, trained on "
                        "synthetic infants only, not for clinical use)")
    p.add_argument("--pose", default=None, metavar="NAME|FILE",
                   help="pose model: a zoo name (rt-synthetic-infant-roi, efficientpose-rt-mpii ...) or a weights file "
                        "(PosePredictor .npz, official EfficientPose .h5); keypoints of another skeleton are mapped "
                        "to In-Motion 19 (default: rt-synthetic-infant-roi, synthetic renders only)")
    p.add_argument("--labelled", action=argparse.BooleanOptionalAction, default=True,
                   help="write <video>/<video>.labelled.mp4 (the skeleton drawn on every frame) and play it on the "
                        "dashboard (default); --no-labelled plays a copy of the source instead")
    p.add_argument("--map-skeleton", choices=("none", "exact", "approximate"), default="approximate",
                   help="how keypoints of a pose model that is not In-Motion 19 are mapped (default: %(default)s)")
    add_scoring_options(p, said="the dashboard says so")
    p.add_argument("--batch-size", type=int, default=16, help="frames per pose forward pass (default: %(default)s)")
    from infantjax.commands.pose import add_tracking_options

    add_tracking_options(p)
    p.add_argument("--max-frames", type=int, default=None, help="track at most this many frames of each video")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument("--runtime", choices=("xla", "litert"), default="xla",
                   help="what scores the ensemble: xla (default) or litert (the LiteRT interpreter; each stack is "
                        "converted the first time and cached, the same predictions to the export check's bound; "
                        'needs pip install "infantjax[litert]")')
    p.add_argument("--litert-cache", default=None, metavar="DIR",
                   help="where the LiteRT files of the ensemble are kept (default: $INFANTJAX_LITERT_CACHE, else "
                        "~/.cache/infantjax/litert)")
    p.add_argument("--gate", default=None, metavar="FILE",
                   help="the tracking-quality gate's thresholds calibrated for your pose model (infantjax pose-gate "
                        "MODEL DATA --out FILE); default: the shipped ones, calibrated on rendered infants")
    p.add_argument("--retry-failed", action="store_true",
                   help="in a folder, try again the videos that failed in an earlier run with the same "
                        "settings (by default they keep their error)")
    p.set_defaults(func=run)


#: The exit status of a run whose single video's risk was withheld (tracking unreliable).
WITHHELD = 3


def run(args) -> int:
    from infantjax.commands.pose import tracking_overrides
    from infantjax.pipelines.assessment import assess, models_note

    result = assess(args.input, args.out, ensemble=args.ensemble, pose=args.pose, labelled=args.labelled,
                    threshold=args.threshold, certainty=args.certainty, map_skeleton=args.map_skeleton,
                    window_rotation=args.window_rotation, camera=args.camera, mirror=args.mirror,
                    batch_size=args.batch_size,
                    max_frames=args.max_frames,
                    progress=not args.no_progress, runtime=args.runtime, litert_cache=args.litert_cache,
                    retry_failed=args.retry_failed, tracking=tracking_overrides(args), gate=args.gate)
    for record in result.records:
        resumed = " (finished before, not redone)" if record["name"] in result.skipped else ""
        quality = record.get("quality") or {}
        if quality.get("withheld"):
            print(f"{record['name']}: {record['classification']} ({record['colour']}): "
                  f"{'; '.join(quality.get('reasons') or ())}{resumed}")
        else:
            print(f"{record['name']}: CP risk {record['risk']:.3f}  class {record['classification']}  colour "
                  f"{record['colour']}  ({len(record['windows'])} windows){resumed}")
            if quality.get("state") == "doubtful":
                print(f"  tracking doubtful: {'; '.join(quality.get('reasons') or ())}")
        for warning in record["warnings"]:
            print(f"  warning: {warning}")
    for failure in result.failed:
        again = " (failed before, not tried again; --retry-failed tries it)" if failure.get("resumed") else ""
        print(f"{failure['folder']}: FAILED {failure['error']}: {failure['message']}{again}")
    if result.withheld:
        print(f"withheld: {len(result.withheld)} of {len(result.records)} videos cannot be assessed "
              "(tracking unreliable); their dashboards show why")
    names = {(r["keypoints"]["model"], r["ensemble"]["name"]) for r in result.records}
    notes = {models_note(pose, ens) for pose, ens in names} - {None}
    if not result.records and (args.ensemble is None or args.pose is None):
        notes = {"The default models were trained on synthetic infants only."}
    for note in sorted(notes):
        print(f"models: {note} Research software, not for clinical decisions.")
    gates = {(r.get("quality") or {}).get("gate") for r in result.records} - {None}
    for gate in sorted(gates):
        print(f"tracking-quality gate: {gate}")
    print(f"time per stage: {result.shares_text()}; {result.seconds:.1f} s in all")
    print(f"summary: {result.summary_csv.resolve()}; run record: {result.run_record.resolve()}")
    if result.cohort_page is not None:
        print(f"cohort: {result.cohort_page.resolve()}")
    if len(result.records) == 1:
        print(f"dashboard: {(pathlib.Path(result.out) / result.records[0]['name'] / 'dashboard.html').resolve()}")
    if result.failed:
        return 1
    single = pathlib.Path(args.input).is_file()
    return WITHHELD if single and result.withheld else 0
