"""A tiny end-to-end run of seed 001's MAM (for ``infantjax demo``): synthetic 25 fps infants with 3D keypoints,
normalised distance matrices, the Ref / Main / Info branches trained together over 2 folds (one stacked program),
the held-out risk, FMs frequency and localisation κ, and the FMs-probability plot of one held-out recording.
Sizes are a CPU toy (width 16, one Transformer block, 2-s clips, 4 epochs of 3 steps), not the quick recipe of
docs/gao2023_mam.md: its figures show the machinery, not the method's accuracy (seed 0: AUC 0.10, κ 0.11 in the
run of docs/zoo.md; 102 s on the shared 2-core machine under a load average of 9–11, not measured idle). The stage's headline is the zoo model
``mam-synthetic`` (docs/zoo.md) scored on the same infants, which it never saw.
"""

from __future__ import annotations

import os
import pathlib
import time

import numpy as np

from infantjax.io.files import write_json

__all__ = ["DEMO_SETTINGS", "demo_run"]

DEMO_SETTINGS = {"infants": 12, "reference_infants": 6, "duration_s": 20.0, "folds": 2, "epochs": 4,
                 "clip_length": 50, "patch": 10, "width": 16, "depth": 1, "heads": 2, "reference_clips": 120}


def demo_run(out_dir: str | os.PathLike, seed: int = 0, zoo: str | None = "mam-synthetic") -> dict:
    """Train and evaluate the toy MAM, and score the zoo MAM on the same infants.

    Arguments:
        out_dir: folder for ``mam_demo.json`` and ``fms_probability.png`` (created if missing).
        seed: data and training seed.
        zoo: the zoo model (:mod:`infantjax.models.zoo`, trained on other synthetic infants) scored on every infant
            of the demo cohort (risk AUC, FMs-frequency AUC, clip κ: ``record["zoo"]``); None: not.

    Returns:
        ``{"summary": {metric: (mean, sd)}, "zoo", "seconds", "plot", "json", "settings"}``.
    """
    from infantjax.explain import plot_fms
    from infantjax.models.mam import MamSpec
    from infantjax.pipelines.mam import cohort_inputs, reference_clips, synthetic_mam, train_mam
    from infantjax.train.mam import MamConfig

    s = DEMO_SETTINGS
    start = time.perf_counter()
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    spec = MamSpec(clip_length=s["clip_length"], patch=s["patch"], width=s["width"], depth=s["depth"],
                   heads=s["heads"], mil_hidden=s["width"], info_hidden=8)
    config = MamConfig.quick(folds=s["folds"], epochs=s["epochs"])
    main, ref = synthetic_mam(s["infants"], s["reference_infants"], duration_s=s["duration_s"], seed=seed,
                              prevalence=0.5)
    inputs = cohort_inputs(main, spec, clip_stride=config.clip_stride)
    reference = reference_clips(cohort_inputs(ref, spec, clip_stride=config.clip_stride), spec,
                                stride=config.clip_stride, per_class=s["reference_clips"], seed=seed)
    _, result = train_mam(inputs, reference, spec=spec, config=config, seed=seed)
    (_, test), o = result.folds[0], result.outputs[0]
    plot = plot_fms(o["clip_fms"][0], out / "fms_probability.png", clip_starts=o["clip_starts"][0],
                    clip_length=spec.clip_length, fps=25.0, truth=inputs.fms_truth[test[0]],
                    risk=float(o["risk"][0]), title="held-out recording (toy MAM)")
    record = {"summary": result.summary(), "seconds": time.perf_counter() - start, "plot": plot,
              "settings": s, "risk_share": float(np.mean(inputs.labels))}
    if zoo is not None:
        record["zoo"] = _score_zoo(zoo, main)
    record["json"] = os.fspath(out / "mam_demo.json")
    write_json(record["json"], record, allow_nan=True)
    return record


def _score_zoo(name: str, cohort) -> dict:
    """The zoo MAM ``name`` on every infant of ``cohort`` (it never saw them): risk AUC, FMs-frequency AUC, κ."""
    from infantjax.pipelines.mam import MamModel, cohort_inputs
    from infantjax.protocols.evaluation import fold_scores

    started = time.perf_counter()
    model = MamModel.pretrained(name)
    inputs = cohort_inputs(cohort, model.spec, clip_stride=model.config.clip_stride)
    pred = model.predict(inputs.features, inputs.info)
    scores = fold_scores(inputs.labels, {"risk": pred.risk, "fms_frequency": pred.fms_frequency,
                                         "clip_fms": pred.clip_fms}, model.config.threshold, inputs.fms_truth)
    return {"name": name, "auc": scores["auc"], "fms_frequency_auc": scores["fms_frequency_auc"],
            "kappa": scores["kappa"], "infants": len(inputs.labels), "trained_on": model.info.get("trained_on", ""),
            "seconds": time.perf_counter() - started}
