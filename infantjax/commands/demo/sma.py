"""A tiny end-to-end run of the seed 000 pipeline (for ``infantjax demo``): synthetic Kinect limb tracks of SMA-like
infants → 30-s windows → Table 1's CNN counted (35,939,169 parameters) and a narrow copy of it trained
leave-one-subject-out for a few epochs (every fold one instance of one program) → held-out window and recording
errors beside the LASSO baseline. Sizes are a CPU toy (6 infants, 2 recordings of 45 s each, windows at stride 25,
8/16/16-channel layers, 8 epochs of the quick recipe; about 35 s on the loaded 2-core machine), not
Table 2."""

from __future__ import annotations

import pathlib
import time

import numpy as np

from infantjax.io.files import write_json

__all__ = ["demo_run"]


def demo_run(out: str | pathlib.Path, *, seed: int = 0, subjects: int = 6, duration_s: float = 45.0,
             epochs: int = 8, zoo: str | None = "sma-narrow-synthetic") -> dict:
    """Run the toy and write ``sma.json`` to ``out``; returns the record. ``zoo``: also score this zoo model (trained
    on other synthetic infants) on the same recordings: ``record["zoo"]`` (window and recording errors)."""
    from infantjax import synth
    from infantjax.models import count_parameters
    from infantjax.models.sma import PARAMETERS, SMASpec
    from infantjax.protocols.baselines import linear_baselines
    from infantjax.protocols.evaluation import per_subject_errors
    from infantjax.protocols.sma import run_loso
    from infantjax.train.sma import SMAConfig, recording_windows

    started = time.perf_counter()
    rec = synth.sma_recordings(subjects, 2, duration_s=duration_s, seed=seed)
    windows = recording_windows(rec.tracks, rec.labels, rec.subjects, stride=25)
    spec = SMASpec.narrow()
    config = SMAConfig.quick(epochs=epochs)
    result = run_loso(windows, spec=spec, config=config, seed=seed)
    lasso = linear_baselines(windows)["lasso"]
    record = {
        "parameters_table1": PARAMETERS, "parameters_demo": count_parameters(spec),
        "recordings": len(rec), "windows": len(windows), "folds": len(result.subjects),
        "cnn": result.window_errors(), "lasso": per_subject_errors(lasso, windows.scores, windows.subjects),
        "recordings_error": result.recording_errors(),
        "scores": {"true": rec.labels.tolist(), "predicted_mean": result.recording_scores("mean")[1].tolist()},
        "seconds": time.perf_counter() - started,
    }
    if zoo is not None:
        from infantjax.pipelines.sma import SMAModel

        model = SMAModel.pretrained(zoo)
        window_scores = model.window_scores(windows.windows).mean(axis=0)
        recordings = model.predict(rec.tracks).mean
        record["zoo"] = {"name": zoo, "cnn": per_subject_errors(window_scores, windows.scores, windows.subjects),
                         "recording_error": float(np.mean(np.abs(recordings - np.asarray(rec.labels)))),
                         "trained_on": model.info.get("trained_on", "")}
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    record["json"] = str(write_json(out / "sma.json", record, allow_nan=True))
    return record


def describe(record: dict) -> str:
    """The demo's output: the zoo model's figures first (when scored), then the toy's."""
    r = record["recordings_error"]
    spread = np.ptp(record["scores"]["true"])
    head = ""
    if "zoo" in record:
        z = record["zoo"]
        head = (f"zoo model {z['name']} (trained on other synthetic infants): held-out window error "
                f"{z['cnn']['overall']:.1f} against LASSO's {record['lasso']['overall']:.1f}, recording error "
                f"{z['recording_error']:.1f} points of 72.\n    Toy: ")
    return head + (f"{record['recordings']} recordings → {record['windows']} windows (stride 25 in the demo); "
            f"Table 1's CNN has {record['parameters_table1']:,} parameters, the demo's narrow copy "
            f"{record['parameters_demo']:,}; {record['folds']} leave-one-subject-out folds in one program: "
            f"held-out window error {record['cnn']['overall']:.1f} (LASSO {record['lasso']['overall']:.1f}), "
            f"recording error by mean / median / quartile analysis {r['mean']['overall']:.1f} / "
            f"{r['median']['overall']:.1f} / {r['quartile']['overall']:.1f} points of 72 (true scores span "
            f"{spread:.0f}; a few epochs of a toy, not Table 2); record {record['json']}")
