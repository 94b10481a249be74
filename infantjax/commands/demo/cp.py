"""The CP stage of ``infantjax demo``: a small fold ensemble trained on a synthetic cohort, evaluated on held-out
infants and explained for one of them (what a clinician would see)."""

from __future__ import annotations

import os
import time

import numpy as np

from infantjax import protocols, report, synth
from infantjax.clinical import evaluate, format_threshold_table, risks_of, threshold_table, write_json
from infantjax.explain import plot_cam, plot_windows
from infantjax.models.gcn.presets import demo_spec
from infantjax.pipelines.cp import predict_cohort
from infantjax.train.cp import DEMO_CONFIG, CPConfig

__all__ = ["demo_run"]


def demo_run(out_dir: str | os.PathLike, seed: int = 0, *, n_subjects: int = 112, duration_s: float = 20.0,
             epochs: int | None = None, folds: int = 3, config: CPConfig | None = None,
             progress: bool = True, zoo: str | None = "cp-gcn-synthetic") -> dict:
    """Train a small ensemble on a synthetic cohort and report what a clinician would see.

    Trains ``folds`` instances of :func:`~infantjax.models.gcn.presets.demo_spec` with
    :data:`~infantjax.train.cp.DEMO_CONFIG` on 75 % of an easy synthetic CP
    cohort (40 % prevalence), evaluates the held-out 25 % (AUC, the operating point at 70 % sensitivity, the
    eTable 5 threshold table at five thresholds around that operating point), explains one held-out infant
    with CP, correctly flagged where one is (per-window boxplots and CAM), names one correctly cleared infant and
    counts the misclassified ones. Writes ``out_dir/demo.json``, ``out_dir/windows.png``, ``out_dir/cam.png``,
    the ensemble with its threshold table (``out_dir/model``, for ``infantjax predict``) and the report of the
    held-out infants (``out_dir/report/cohort.html`` and one page per infant).

    Arguments:
        out_dir: output folder.
        seed: cohort, split and training seed.
        n_subjects: cohort size; duration_s: recording length in seconds.
        epochs: overrides ``config.epochs``.
        folds: fold instances (3 keeps the demo near two minutes on 2 CPU cores; the paper uses 7).
        config: the training recipe (default :data:`DEMO_CONFIG`).
        progress: show progress bars.
        zoo: also score this zoo ensemble (:mod:`infantjax.models.zoo`, trained on other synthetic infants) on the
            same held-out infants (``record["zoo"]``); None: not.

    Returns:
        the JSON record (AUC, threshold table, the flagged ``infant`` and the ``cleared`` one with risk, class and
        colour, ``misclassified`` counts, file paths, seconds);
        ``record["report"]`` is the path of the cohort page.
    """
    started = time.perf_counter()
    out = os.fspath(out_dir)
    os.makedirs(out, exist_ok=True)
    cohort = synth.cohort("cp", n_subjects=n_subjects, seed=seed, duration_s=duration_s, prevalence=0.4,
                          difficulty="easy")
    split = cohort.split(folds=folds, seed=seed)
    dev = cohort.select([s for f in split.folds for s in f], name="development")
    test = cohort.select(list(split.test), name="test")
    config = (config or DEMO_CONFIG).replace(progress=progress)
    if epochs is not None:
        config = config.replace(epochs=epochs)
    t1 = time.perf_counter()
    ens = protocols.cp.train([demo_spec()], dev, config, folds=folds, seed=seed)
    t2 = time.perf_counter()
    results = predict_cohort(ens, test)
    risks, instance_risks = risks_of(results)
    ev = evaluate(test.labels, risks, sensitivity=0.7)
    # the paper's thresholds (0.15 … 0.35) belong to its ensemble's risk scale; here: 5 around the operating point
    t0 = ev.operating_point.threshold
    # (the operating point itself unrounded, so that the tables' decision row is the threshold the results use)
    thresholds = sorted({round(float(np.clip(t0 + d, 0.0, 1.0)), 3) for d in (-0.1, -0.05, 0.05, 0.1)}
                        | {float(t0)})
    rows = threshold_table(test.labels, risks, instance_risks, thresholds)
    ens.threshold = float(t0)
    results = [r.with_threshold(t0) for r in results]
    # showcase a correctly flagged infant with CP (else any with CP) and a correctly cleared one, and say how many
    # the threshold gets wrong: a confident false negative must not pass as the example
    labels = np.asarray(test.labels).astype(int)
    flagged = [i for i, r in enumerate(results) if labels[i] == 1 and r.cp]
    cleared = [i for i, r in enumerate(results) if labels[i] == 0 and not r.cp]
    infant = flagged[0] if flagged else (int(np.argmax(labels == 1)) if (labels == 1).any() else 0)
    chosen = results[infant]
    false_negatives = sum(1 for i, r in enumerate(results) if labels[i] == 1 and not r.cp)
    false_positives = sum(1 for i, r in enumerate(results) if labels[i] == 0 and r.cp)
    windows_png = plot_windows(chosen, os.path.join(out, "windows.png"),
                               title=f"subject {test.subjects[infant]}: {chosen.summary()}")
    cam_png = plot_cam(chosen.cam, os.path.join(out, "cam.png"), title=f"subject {test.subjects[infant]}: CAM")
    # the held-out table travels with the saved ensemble, so reports of new infants can place their risks on it
    table = report.ThresholdTable(tuple(rows), f"held-out test set of the demo cohort: {len(test)} synthetic infants "
                                               f"({int(test.labels.sum())} with CP)")
    ens.metadata[report.METADATA_KEY] = table.to_record()
    model_dir = ens.save(os.path.join(out, "model"))
    t3 = time.perf_counter()
    cohort_page = report.write(results, test.sequences, ensemble_info=report.EnsembleInfo.from_ensemble(
        ens, checkpoint=model_dir), labels=test.labels, names=list(test.subjects), thresholds=thresholds,
        out_dir=os.path.join(out, "report"))
    t4 = time.perf_counter()
    record = {
        "cohort": {"subjects": n_subjects, "development": len(dev), "test": len(test), "seed": seed},
        "fold_auc": ens.fold_auc[0], "test_auc": ev.auc, "operating_point": ev.as_dict(),
        "threshold_table": [r.as_dict() for r in rows], "threshold_table_text": format_threshold_table(rows),
        "infant": {"subject": test.subjects[infant], "label": int(test.labels[infant]), **chosen.to_dict()},
        "cleared": None if not cleared else {"subject": test.subjects[cleared[0]], "label": 0,
                                             **results[cleared[0]].to_dict()},
        "misclassified": {"total": false_negatives + false_positives, "false_negatives": false_negatives,
                          "false_positives": false_positives},
        "plots": {"windows": windows_png, "cam": cam_png}, "model": str(model_dir), "report": str(cohort_page),
        "test_colours": {c: sum(r.colour == c for r in results) for c in ("green", "yellow", "orange", "red")},
        "config": config.to_dict(), "folds": folds,
        "seconds": {"cohort": t1 - started, "train": t2 - t1, "report": t4 - t3,
                    "total": time.perf_counter() - started},
    }
    if zoo is not None:
        record["zoo"] = _score_zoo(zoo, test)
    write_json(os.path.join(out, "demo.json"), record)
    return record


def _score_zoo(name: str, test) -> dict:
    """The zoo ensemble ``name`` on the held-out infants: AUC of the median risk (it never saw them)."""
    from infantjax.ensemble import Ensemble

    started = time.perf_counter()
    ens = Ensemble.pretrained(name)
    risks, _ = risks_of(predict_cohort(ens, test))
    return {"name": name, "auc": float(evaluate(test.labels, risks, sensitivity=0.7).auc),
            "trained_on": ens.info.get("trained_on", ""), "seconds": time.perf_counter() - started}
