"""A tiny end-to-end run of the seed 004 pipeline on synthetic depth clips (for ``infantjax demo``): render clips
of synthetic preterm infants, train a small detection CNN and a small Asy-regression for a few epochs, link limbs on
held-out infants and report RMSD per limb. Sizes are a CPU toy (48x32 px, 1/16 of Table I's widths, a residual
Asy-regression), not Table II.
"""

from __future__ import annotations

import logging
import os
import pathlib
import time

import numpy as np

from infantjax.io.files import write_json
from infantjax.metrics.pose import LIMB_NAMES
from infantjax.models.depth.linking import LinkConfig
from infantjax.models.depth.regression import RegressionSpec
from infantjax.models.depth.unet import DetectionSpec
from infantjax.pipelines.depth import run_pipeline
from infantjax.preprocess.depth import prepare_clips
from infantjax.synth.depth_clips import synthetic_clips
from infantjax.train.depth import DepthConfig

__all__ = ["DEMO_SETTINGS", "demo_run"]

log = logging.getLogger(__name__)

# the toy configuration (see docs/depth.md, "Short runs", and docs/migliorelli2021_depth.md): 48x32 px with r = 3
# (6 px at 128x96 scaled by 3/8, rounded up), small widths, Adam lr 0.01 for both networks (the paper's SGD with
# momentum 0.98 needs thousands of steps), BatchNorm momentum 0.8 so the running statistics follow within a few
# dozen steps, a residual Asy-regression (refined maps = detection maps + its output: a short run refines the
# detector's maps instead of relearning them, so 24 steps suffice) and linking tuned to r = 3 (threshold 0.05: the
# maps of a short run are still faint; smoothing 1 px instead of 2 for discs of 3 px). Measured (seed 0, shared
# 2-core machine under load ~18): 45 s CPU, 10 % of the held-out joints missed (19 % from the detection maps alone)
DEMO_SETTINGS = {
    "height": 32, "width": 48, "radius": 3, "train_infants": 8, "test_infants": 2, "clips_per_infant": 4,
    "detection_widths": (4, 8), "regression_widths": (8, 8, 8, 8), "regression_head": 8, "residual": True,
    "detection_epochs": 12, "regression_epochs": 6, "batch_size": 8, "bn_momentum": 0.8,
    "detection_lr": 0.01, "regression_lr": 0.01, "link_threshold": 0.05, "link_smooth": 1.0,
}


def demo_run(out_dir: str | os.PathLike, seed: int = 0, progress: bool = False,
             zoo: str | None = "depth-synthetic") -> dict:
    """Render synthetic depth clips, train tiny detection + Asy-regression CNNs, link limbs, report RMSD.

    Arguments:
        out_dir: folder for ``depth_demo.json`` (created if missing).
        seed: data and training seed (held-out infants use ``seed + 1``).
        progress: show progress bars.
        zoo: also score this zoo model (trained on other synthetic infants, :mod:`infantjax.models.zoo`) on the
            held-out clips: ``record["zoo"]`` (median RMSD per limb, share of joints not found); None: not.
    Returns:
        {"rmsd_median": {limb: px}, "detection_only_rmsd_median": {limb: px}, "missing": fraction of held-out
        joints not found (``"detection_missing"``: linking the detection maps directly), "seconds": wall time,
        "cpu_seconds": CPU time of all threads, "settings": DEMO_SETTINGS, "json": path written}; RMSD in pixels
        of the 48x32 frames.
    """
    s = DEMO_SETTINGS
    start, cpu_start = time.perf_counter(), time.process_time()
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    clips, keypoints, _ = synthetic_clips(s["train_infants"], s["clips_per_infant"], s["height"], s["width"], seed)
    train = prepare_clips(clips, keypoints, radius=s["radius"])
    clips, keypoints, _ = synthetic_clips(s["test_infants"], s["clips_per_infant"], s["height"], s["width"],
                                          seed + 1)
    test = prepare_clips(clips, keypoints, radius=s["radius"])
    result = run_pipeline(
        train, test,
        detection=DetectionSpec(widths=s["detection_widths"], bn_momentum=s["bn_momentum"]),
        regressions={"asymmetric": RegressionSpec("asymmetric", widths=s["regression_widths"],
                                                  head_width=s["regression_head"], bn_momentum=s["bn_momentum"],
                                                  residual=s["residual"])},
        detection_training=DepthConfig(epochs=s["detection_epochs"], batch_size=s["batch_size"], optimizer="adam",
                                       learning_rate=s["detection_lr"]),
        regression_training=DepthConfig(epochs=s["regression_epochs"], batch_size=s["batch_size"],
                                        optimizer="adam", learning_rate=s["regression_lr"]),
        link=LinkConfig(threshold=s["link_threshold"], smooth=s["link_smooth"], radius=s["radius"],
                        min_distance=2.0),
        seed=seed, select="last", time_clips=False, progress=progress)
    reg = result.regressions["asymmetric"]
    record = {
        "rmsd_median": {n: reg["rmsd"][n]["median"] for n in LIMB_NAMES},
        "rmsd_iqr": {n: reg["rmsd"][n]["iqr"] for n in LIMB_NAMES},
        "detection_only_rmsd_median": {n: result.detection["rmsd"][n]["median"] for n in LIMB_NAMES},
        "missing": reg["missing"],
        "detection_missing": result.detection["missing"],
        "detection_seconds": result.detection["train_seconds"],
        "regression_seconds": reg["train_seconds"],
        "seconds": time.perf_counter() - start,
        "cpu_seconds": time.process_time() - cpu_start,
        "settings": {k: list(v) if isinstance(v, tuple) else v for k, v in s.items()},
        "seed": seed,
    }
    if zoo is not None:
        record["zoo"] = _score_zoo(zoo, test)
    path = out / "depth_demo.json"
    write_json(path, record, sort_keys=False, allow_nan=True)
    record["json"] = str(path)
    log.info("depth demo: median RMSD per limb %s px (48x32), %.0f s", record["rmsd_median"], record["seconds"])
    return record


def _score_zoo(name: str, test) -> dict:
    """The zoo depth model ``name`` on the held-out clips (it never saw these infants)."""
    from infantjax.metrics.pose import rmsd_per_limb, summarize_rmsd
    from infantjax.pipelines.depth import DepthModel

    started = time.perf_counter()
    model = DepthModel.pretrained(name)
    pose = model.predict(test.clips)
    rmsd = summarize_rmsd(rmsd_per_limb(pose.keypoints, test.keypoints))
    annotated = np.isfinite(test.keypoints[..., 0])
    return {"name": name, "rmsd_median": {n: rmsd[n]["median"] for n in LIMB_NAMES},
            "missing": float((np.isnan(pose.keypoints[..., 0]) & annotated).sum() / max(annotated.sum(), 1)),
            "trained_on": model.info.get("trained_on", ""), "seconds": time.perf_counter() - started}
