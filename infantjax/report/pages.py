"""The report pages: one self-contained HTML file per infant, one per cohort (Jinja2 templates shipped with the
package; figures inline as SVG; CSS and the sorting script inline; nothing fetched from a network).

    from infantjax import report
    info = report.EnsembleInfo.from_ensemble(ens, checkpoint="ens/")
    report.infant(result, sequence, ensemble_info=info, out="infant.html")
    report.cohort(results, labels, sequences=sequences, out="cohort.html")
    report.write(results, sequences, ensemble_info=info, labels=labels, out_dir="report/")   # both, linked

Every file is written atomically (:mod:`infantjax.io.files`): a reader sees the old page or the new one, never half
of one. See ``docs/report.md``.
"""

from __future__ import annotations

import datetime
import functools
import logging
import math
import os
import pathlib
import re
from collections.abc import Sequence

import numpy as np

from infantjax._version import __version__
from infantjax import skeleton as _skeleton
from infantjax.clinical import (
    COLOURS,
    ETABLE5_THRESHOLDS,
    WITHHELD_COLOUR,
    RiskResult,
    colour_from_count,
    evaluate,
    risks_of,
    threshold_table,
)
from infantjax.errors import DataError
from infantjax.explain import COLOUR_RGB, SEQUENTIAL_HEX, decision_cam
from infantjax.io.files import write_text
from infantjax.report import svg
from infantjax.report.provenance import EnsembleInfo, ThresholdTable, as_info, instance_count_text
from infantjax.report.quality import DataQuality
from infantjax.sequence import SkeletonSequence

__all__ = ["COLOUR_MEANING", "DISCLAIMER", "cohort", "cohort_table", "colour_rule", "infant", "page_names",
           "write"]

log = logging.getLogger(__name__)

#: What each certainty colour says (seed 002, Paper III).
COLOUR_MEANING = {"green": "certain no CP", "yellow": "uncertain no CP", "orange": "uncertain CP",
                  "red": "certain CP", "grey": "cannot be assessed: tracking unreliable"}
#: The research-use notice, after its bold first sentence "Research software, not for clinical use." (every
#: page shows it once).
DISCLAIMER = ("infantjax is a research library, not a medical device, and has not been validated for "
              "clinical use: do not base a diagnosis or a treatment decision on this page. A CP risk is a "
              "statistical estimate, not a diagnosis; the General Movement Assessment by a trained clinician "
              "and follow-up remain the standard. The model and the data it was trained on are named under "
              "provenance.")
#: Where a CAM score lies on the legend of the sequential scale: the colour is score^¼ (the reference's
#: power).
CAM_TICKS = (0.0, 0.01, 0.1, 0.5, 1.0)
#: The same for a linear quantity in [0, 1] (keypoint confidence).
LINEAR_TICKS = (0.0, 0.25, 0.5, 0.75, 1.0)
_SKELETON = "in-motion-19"


def _threshold_text(t: float) -> str:
    """A threshold in three significant digits (0.35, 0.448): chosen operating points are arbitrary reals."""
    return f"{float(t):.3g}"


@functools.lru_cache(maxsize=1)
def _environment():
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("infantjax.report", "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    # constants every template and macro may use (imported macros see globals, not the render context)
    env.filters["thr"] = _threshold_text
    env.globals.update(version=__version__, disclaimer=DISCLAIMER, colour_rgb=COLOUR_RGB,
                       colour_meaning=COLOUR_MEANING, letter=svg.LETTER, scale_css=_scale_css(),
                       cam_ticks=[(f"{v:g}", round(100 * v ** 0.25, 2)) for v in CAM_TICKS],
                       linear_ticks=[(f"{v:g}", round(100 * v, 2)) for v in LINEAR_TICKS])
    return env


def _scale_css() -> str:
    """The sequential scale as a CSS gradient from 0 (left) to 1 (right) (the legends' bar)."""
    return "linear-gradient(to right, " + ", ".join(SEQUENTIAL_HEX) + ")"


def _render(template: str, **context) -> str:
    return _environment().get_template(template).render(
        generated=datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"), **context)


# ------------------------------------------------------------------------------------------------ checks
def _check_result(result, where: str) -> None:
    if not isinstance(result, RiskResult):
        raise DataError(f"{where}: expected an infantjax.clinical.RiskResult, got {type(result).__name__}; get one "
                        "with infantjax.clinical.assess_prediction(ensemble.predict(sequence))")
    p = np.asarray(result.predictions)
    if p.ndim != 2 or p.shape[0] == 0 or p.shape[1] == 0:
        raise DataError(f"{where}: the result has no windows (predictions of shape {p.shape}), so it has no risk to "
                        "report; the recording must be at least one window (5 s) long")
    if result.colour not in (*COLOURS, WITHHELD_COLOUR) or \
            any(c not in COLOURS for c in result.window_colour):
        raise DataError(f"{where}: certainty colours must be among {COLOURS} (the video's also "
                        f"{WITHHELD_COLOUR!r}, withheld)")
    if len(result.window_colour) != p.shape[0] or np.shape(result.window_starts) != (p.shape[0],):
        raise DataError(f"{where}: the result's window colours/starts do not match its {p.shape[0]} windows")
    if not math.isfinite(result.risk):
        raise DataError(f"{where}: the risk is {result.risk}; a report needs a finite risk")


def _cam_state(result, joints: int) -> tuple[np.ndarray | None, np.ndarray | None, str | None]:
    """(video CAM, window CAM, why not) of the class the result is explained by
    (:func:`infantjax.explain.decision_cam`): the CAM to draw, or a sentence saying why there is none."""
    explained = decision_cam(result)
    if explained.cam is None:
        return None, None, ("No class activation map: this result was assessed without CAM scores (assess() "
                            "without cam=...). Results from infantjax.clinical.assess_prediction carry one.")
    cam = np.asarray(explained.cam, dtype=np.float64)
    if cam.shape != (joints,):
        raise DataError(f"the result's CAM has shape {cam.shape}; the report draws ({joints},) In-Motion 19 joint "
                        "scores")
    if not np.isfinite(cam).all():
        return None, None, "No class activation map: the CAM holds NaN (the instances gave no usable scores)."
    wcam = None if explained.window_cam is None else np.asarray(explained.window_cam, dtype=np.float64)
    if wcam is not None and (wcam.shape != (result.predictions.shape[0], joints) or not np.isfinite(wcam).all()):
        raise DataError(f"the result's window CAM has shape {wcam.shape}; expected ({result.predictions.shape[0]}, "
                        f"{joints}) finite scores")
    return np.clip(cam, 0, 1), None if wcam is None else np.clip(wcam, 0, 1), None


def _name_of(result, index: int | None = None) -> str:
    meta = result.metadata or {}
    for key in ("name", "recording_id", "file"):
        if meta.get(key):
            return str(meta[key])
    if meta.get("subject") is not None:
        rec = meta.get("recording")
        return f"{meta['subject']}" + (f"/{rec}" if rec not in (None, 0, "0") else "")
    return f"infant{index if index is not None else ''}"


# ------------------------------------------------------------------------------------------------ text helpers
def colour_rule(result) -> dict:
    """The certainty rule in words, with the instance counts of each colour for this ensemble size."""
    n = int(result.predictions.shape[1])
    if result.certainty == "interquartile":
        return {"name": "inter-quartile rule of the reference code (gcn_reference A.10)", "rows": [
            {"colour": "red", "text": "risk ≥ threshold and the 25th percentile of the instance risks above it"},
            {"colour": "orange", "text": "risk ≥ threshold, 25th percentile not above it"},
            {"colour": "yellow", "text": "risk < threshold, 75th percentile not below it"},
            {"colour": "green", "text": "risk < threshold and the 75th percentile below it"}]}
    ranges = {c: [k for k in range(n + 1) if colour_from_count(k, n) == c] for c in COLOURS}
    share = {"green": "< 25 %", "yellow": "≤ 50 %", "orange": "> 50 %", "red": "> 75 %"}
    rows = []
    for c in reversed(COLOURS):
        ks = ranges[c]
        count = "never with this ensemble size" if not ks else (
            f"{ks[0]}" if len(ks) == 1 else f"{ks[0]}–{ks[-1]}") + f" of {n}"
        rows.append({"colour": c, "text": f"{count} instances predict CP ({share[c]})"})
    return {"name": "share of instances predicting CP (seed 002, Paper III)", "rows": rows}


def _pct(p) -> str:
    return p.percent(1) if p.n else "n/a"


def _table_rows(table: ThresholdTable, risk: float | None, decision: float | None) -> list[dict]:
    rows = []
    for row in table.rows:
        m = row.metrics
        rows.append({
            "threshold": row.threshold, "tp": m.tp, "fp": m.fp, "tn": m.tn, "fn": m.fn,
            "sensitivity": _pct(m.sensitivity), "specificity": _pct(m.specificity), "ppv": _pct(m.ppv),
            "npv": _pct(m.npv), "accuracy": _pct(m.accuracy),
            "colours_cp": row.colours_cp, "colours_no_cp": row.colours_no_cp,
            "current": decision is not None and math.isclose(row.threshold, decision, abs_tol=1e-9),
            "call": None if risk is None else ("CP" if risk >= row.threshold else "no CP"),
        })
    return rows


def _placement(table: ThresholdTable | None, result) -> dict:
    """Where the infant's risk falls on the threshold table, in words."""
    if table is None:
        return {"available": False, "text": "Not available: no threshold table (no infants with known outcomes "
                                            "were given, and none is stored with the ensemble)."}
    t, r = float(result.threshold), float(result.risk)
    row = table.row_at(t)
    reached = [x.threshold for x in table.rows if r >= x.threshold]
    if reached:
        calls = (f"The risk {r:.3f} reaches {len(reached)} of the {len(table.rows)} thresholds of the table (up to "
                 f"{max(reached):.3g}).")
    else:
        calls = f"The risk {r:.3f} is below every threshold of the table (lowest {table.rows[0].threshold:.3g})."
    if row is not None:
        m = row.metrics
        at = (f"At the decision threshold {t:.3g} the table gives sensitivity {_pct(m.sensitivity)} % and "
              f"specificity {_pct(m.specificity)} % (95 % Clopper–Pearson intervals).")
    else:
        at = f"The decision threshold {t:.3g} is not a row of this table."
    return {"available": True, "text": f"{at} {calls}", "source": table.source,
            "rows": _table_rows(table, r, t)}


# ------------------------------------------------------------------------------------------------ infant page
def infant(result: RiskResult, sequence: SkeletonSequence | None, *, ensemble_info,
           out: str | os.PathLike = "report.html",
           threshold_table: ThresholdTable | None = None, name: str | None = None,
           cohort_page: str | None = None, models_note: str | None = None) -> pathlib.Path:
    """Write one self-contained HTML page for one infant (seed 002, Paper III Fig. 2–3 layout).

    The page holds: the recording (id, duration, fps), the CP risk with its certainty colour and the colour rule,
    the decision threshold and where the risk falls on the threshold table, per-window boxplots of the instance
    predictions, the CAM per joint on the 19-keypoint skeleton and over time, data quality (missing keypoints per
    joint, frames interpolated), the model's provenance, and a research-software disclaimer. A result without CAM,
    joints never observed and a missing threshold table are said on the page.

    Arguments:
        result: the :class:`~infantjax.clinical.RiskResult` (``assess_prediction(ensemble.predict(sequence))``).
        sequence: the recording it was predicted from, as read (before preprocessing), or None (no data quality).
        ensemble_info: an :class:`EnsembleInfo`, an :class:`~infantjax.ensemble.Ensemble`, or None (no
            provenance).
        out: the HTML file to write (folders are created).
        threshold_table: where to place the risk (default: the one stored with the ensemble, if any).
        name: the recording's id on the page (default from the result's metadata).
        cohort_page: a link back to the cohort page, relative to ``out``.
        models_note: a sentence about the models added to the research-use notice (e.g. that they were trained
            on synthetic infants only), or None.

    Returns:
        the path written.

    Raises:
        DataError: the result has no windows, or its CAM or colours do not match its predictions, or the
            sequence does not match the result.
    """
    return write_text(out, _infant_html(result, sequence, as_info(ensemble_info), threshold_table, name,
                                        cohort_page, models_note), parents=True)


def _infant_html(result, sequence, info: EnsembleInfo | None, threshold_table, name, cohort_page,
                 models_note=None) -> str:
    return _render("infant.html.j2", **_infant_context(result, sequence, info, threshold_table, name,
                                                       cohort_page, models_note))


def _tracking(result) -> dict:
    """The tracking-quality verdict as the pages say it (state good when the result was not gated)."""
    q = result.quality
    n = int(result.predictions.shape[0])
    if q is None:
        return {"gated": False, "state": None, "withheld": False, "headline": None, "reasons": (),
                "unreliable": 0, "doubtful": 0, "windows": n}
    return {"gated": True, "state": q.state, "withheld": bool(q.withheld), "headline": q.headline(),
            "reasons": tuple(q.reasons), "unreliable": sum(s == "unreliable" for s in q.window_states),
            "doubtful": sum(s == "doubtful" for s in q.window_states), "windows": n}


def _infant_context(result, sequence, info: EnsembleInfo | None, threshold_table, name, cohort_page,
                    models_note=None) -> dict:
    """What the infant page shows (the dashboard, :mod:`infantjax.report.dashboard`, shows it too)."""
    _check_result(result, "report.infant")
    skel = _skeleton.get(_SKELETON)
    joints = tuple(skel.keypoints)
    cam, wcam, no_cam = _cam_state(result, len(joints))
    quality = None
    if sequence is not None:
        quality = DataQuality.from_sequence(sequence)
        frames = (result.metadata or {}).get("num_frames")
        if frames is not None and int(frames) != sequence.num_frames:
            raise DataError(f"report.infant: the sequence has {sequence.num_frames} frames but the result was "
                            f"predicted from {frames}; pass the recording the result belongs to")
        if sequence.skeleton.name != _SKELETON:
            raise DataError(f"report.infant: the sequence has {sequence.skeleton.name!r} keypoints; CP reports need "
                            f"{_SKELETON!r}")
    table = threshold_table if threshold_table is not None else (info.threshold_table if info else None)
    meta = dict(result.metadata or {})
    model_fps = float(meta.get("model_fps", 30.0))
    fps = quality.fps if quality else meta.get("fps")
    n_frames = quality.num_frames if quality else meta.get("num_frames")
    duration = (n_frames / fps) if (fps and n_frames is not None) else None
    n_windows, n_instances = result.predictions.shape
    window_counts = {c: sum(1 for w in result.window_colour if w == c) for c in COLOURS}
    top_joints = [] if cam is None else [(joints[j], float(cam[j])) for j in np.argsort(-cam, kind="stable")[:5]]
    explained = decision_cam(result)
    warnings = list(result.warnings)  # what the prediction found (e.g. a head-down recording) first
    if no_cam:
        warnings.append(no_cam)
    elif explained.note:
        warnings.append(explained.note)
    if quality is not None and quality.never_observed:
        warnings.append(
            f"{len(quality.never_observed)} joint(s) never observed in this recording "
            f"({', '.join(quality.never_observed)}): they cannot be interpolated and reached the model at the trunk "
            "centre. The risk may be unreliable.")
    if quality is not None and quality.missing_fraction > 0.3:
        warnings.append(f"{100 * quality.missing_fraction:.0f} % of all keypoints are missing: the risk may be "
                        "unreliable.")
    return dict(
        title=f"CP risk report: {name or _name_of(result)}",
        name=name or _name_of(result), result=result, risk_text=f"{result.risk:.3f}",
        colour=result.colour, rule=colour_rule(result), fps=fps, n_frames=n_frames, duration=duration,
        n_windows=n_windows, n_used=int(result.used_windows.sum()), n_instances=n_instances,
        window_counts=window_counts,
        placement=_placement(table, result), info=info,
        instances_text=None if info is None else instance_count_text(info.stack_sizes),
        quality=quality, warnings=warnings, cohort_page=cohort_page,
        boxplots=svg.boxplots(result, model_fps),
        cam_skeleton=None if cam is None else svg.cam_skeleton(cam, joints, skel.edges),
        cam_heatmap=None if wcam is None else svg.cam_heatmap(wcam, result.window_starts, joints, model_fps),
        cam_toward=explained.toward,
        top_joints=top_joints, missing=None if quality is None else svg.missing_bars(quality),
        worst_joints=[] if quality is None else quality.worst_joints(3),
        tracking=_tracking(result), models_note=models_note,
    )


# ------------------------------------------------------------------------------------------------ cohort page
def _labels(labels, n: int) -> np.ndarray | None:
    if labels is None:
        return None
    y = np.asarray(labels)
    if y.shape != (n,) or not np.isin(y, (0, 1)).all():
        raise DataError(f"labels must be {n} values of 0 (no CP) or 1 (CP), one per result; got shape {y.shape}")
    return y.astype(int)


def _decision_threshold(results: Sequence[RiskResult]) -> float | None:
    ts = {round(float(r.threshold), 9) for r in results}
    return ts.pop() if len(ts) == 1 else None


def cohort_table(results: Sequence[RiskResult], labels, thresholds: Sequence[float] | None = None
                 ) -> ThresholdTable:
    """The eTable-5 threshold table of a cohort with known outcomes (Clopper–Pearson intervals).

    Arguments:
        results: one result per infant (one ensemble: equal instance counts).
        labels: 0/1 outcome per result.
        thresholds: rows of the table (default the paper's 0.15 … 0.35 plus the decision threshold).
    """
    y = _labels(labels, len(results))
    risks, instance_risks = risks_of(results)
    if thresholds is None:
        decision = _decision_threshold(results)
        thresholds = sorted(set(ETABLE5_THRESHOLDS) | ({decision} if decision is not None else set()))
    rule = {r.certainty for r in results}
    rows = threshold_table(y, risks, instance_risks, thresholds, certainty=rule.pop() if len(rule) == 1 else "paper")
    return ThresholdTable(tuple(rows), f"this cohort: {len(y)} infants with known outcomes ({int(y.sum())} with "
                                       f"CP, {int(len(y) - y.sum())} without)")


def page_names(results: Sequence[RiskResult], names: Sequence[str] | None = None) -> list[str]:
    """A unique, file-safe page name per result (``names`` or the results' metadata)."""
    raw = list(names) if names is not None else [_name_of(r, i) for i, r in enumerate(results)]
    if len(raw) != len(results):
        raise DataError(f"{len(raw)} names for {len(results)} results")
    out, seen = [], set()
    for i, n in enumerate(raw):
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", str(n)).strip("._") or f"infant{i}"
        cand, k = stem, 1
        while cand.lower() in seen:
            k += 1
            cand = f"{stem}-{k}"
        seen.add(cand.lower())
        out.append(cand)
    return out


def cohort(results: Sequence[RiskResult], labels=None, *, out: str | os.PathLike = "cohort.html",
           sequences: Sequence[SkeletonSequence | None] | None = None, names: Sequence[str] | None = None,
           links: Sequence[str | None] | None = None, thresholds: Sequence[float] | None = None,
           ensemble_info=None) -> pathlib.Path:
    """Write the cohort page: a sortable table of infants (risk, class, colour, data quality), and with labels the
    ROC curve, the eTable-5 threshold table with Clopper–Pearson intervals and the colour distribution per class.

    Arguments:
        results: one :class:`~infantjax.clinical.RiskResult` per infant.
        labels: optional 0/1 outcome per infant.
        out: the HTML file to write.
        sequences: the recordings (for the data-quality column), or None.
        names: the infants' ids (default from the results' metadata).
        links: per infant, the href of its page relative to ``out`` (:func:`write` fills this in).
        thresholds: rows of the threshold table (default the paper's plus the decision threshold).
        ensemble_info: an :class:`EnsembleInfo` or an Ensemble, for the provenance line; or None.

    Returns:
        the path written.
    """
    return write_text(out, _cohort_html(results, labels, sequences, names, links, thresholds,
                                        as_info(ensemble_info)), parents=True)


def _cohort_html(results, labels, sequences, names, links, thresholds, info: EnsembleInfo | None) -> str:
    results = list(results)
    if not results:
        raise DataError("report.cohort: no results given; a cohort page needs at least one infant")
    for i, r in enumerate(results):
        _check_result(r, f"report.cohort: result {i}")
    n = len(results)
    y = _labels(labels, n)
    shown = list(names) if names is not None else [_name_of(r, i) for i, r in enumerate(results)]
    if len(shown) != n:
        raise DataError(f"report.cohort: {len(shown)} names for {n} results")
    if sequences is not None and len(sequences) != n:
        raise DataError(f"report.cohort: {len(sequences)} sequences for {n} results")
    if links is not None and len(links) != n:
        raise DataError(f"report.cohort: {len(links)} links for {n} results")
    qualities = [None if sequences is None or sequences[i] is None else DataQuality.from_sequence(sequences[i])
                 for i in range(n)]
    order = {c: k for k, c in enumerate((*COLOURS, WITHHELD_COLOUR))}
    rows = []
    for i, r in enumerate(results):
        q = qualities[i]
        rows.append({"name": shown[i], "link": None if links is None else links[i], "risk": float(r.risk),
                     "label": r.label, "cp": int(r.cp), "colour": r.colour, "colour_rank": order[r.colour],
                     "quality": None if r.quality is None else r.quality.state,
                     "quality_reasons": () if r.quality is None else tuple(r.quality.reasons),
                     "windows": int(r.predictions.shape[0]), "instances": int(r.predictions.shape[1]),
                     "missing": None if q is None else q.missing_fraction,
                     "never": () if q is None else q.never_observed,
                     "outcome": None if y is None else ("CP" if y[i] else "no CP"), "outcome_value": None if y is None
                     else int(y[i])})
    decision = _decision_threshold(results)
    counts = {c: sum(r.colour == c for r in results) for c in COLOURS}
    evaluation = table = None
    notes = []
    groups = {"all infants": counts}
    if y is not None:
        groups = {name: {c: sum(1 for r, lab in zip(results, y) if lab == v and r.colour == c) for c in COLOURS}
                  for name, v in (("CP", 1), ("no CP", 0))}
        groups = {k: v for k, v in groups.items() if sum(v.values())}
        table = cohort_table(results, y, thresholds)
        if len(set(y.tolist())) == 2:
            risks = np.array([r.risk for r in results])
            evaluation = evaluate(y, risks, threshold=decision if decision is not None else 0.5)
        else:
            notes.append("ROC not available: the outcomes hold only one class.")
    roc_svg = None
    if evaluation is not None:
        points = []
        if table is not None and decision is not None and table.row_at(decision) is not None:
            m = table.row_at(decision).metrics
            if m.sensitivity.n and m.specificity.n:
                points.append((1 - m.specificity.value, m.sensitivity.value, f"threshold {decision:.3g}"))
        roc_svg = svg.roc(evaluation.fpr, evaluation.tpr, evaluation.auc, points)
    return _render(
        "cohort.html.j2", title=f"CP risk report: cohort of {n} infants", rows=rows, n=n,
        has_labels=y is not None, has_quality=any(q is not None for q in qualities), counts=counts,
        decision=decision, thresholds_text=", ".join(sorted({f"{r.threshold:.3g}" for r in results})),
        classes={"CP": sum(r.cp for r in results), "no CP": sum(not r.cp for r in results)},
        evaluation=evaluation, roc=roc_svg, colour_bars=svg.colour_bars(groups), notes=notes,
        table=None if table is None else {"source": table.source, "rows": _table_rows(table, None, decision)},
        info=info, instances_text=None if info is None else instance_count_text(info.stack_sizes),
    )


def write(results: Sequence[RiskResult], sequences: Sequence[SkeletonSequence | None] | None, *, ensemble_info,
          out_dir: str | os.PathLike, labels=None, names: Sequence[str] | None = None, thresholds: Sequence[float] | None = None
          ) -> pathlib.Path:
    """Write a cohort page and one page per infant, linked both ways: ``out_dir/cohort.html`` and
    ``out_dir/infants/<name>.html``.

    The infant pages place each risk on the cohort's threshold table when ``labels`` are given, otherwise on the
    one stored with the ensemble (if any).

    Arguments:
        results: one result per infant; sequences: their recordings (or None).
        ensemble_info: an :class:`EnsembleInfo`, an Ensemble, or None.
        out_dir: the folder to write to (created).
        labels: optional 0/1 outcomes; names: the infants' ids; thresholds: rows of the threshold table.

    Returns:
        the path of ``cohort.html``.
    """
    results = list(results)
    if not results:
        raise DataError("report.write: no results given")
    if sequences is not None and len(sequences) != len(results):
        raise DataError(f"report.write: {len(sequences)} sequences for {len(results)} results")
    info = as_info(ensemble_info)
    shown = list(names) if names is not None else [_name_of(r, i) for i, r in enumerate(results)]
    files = page_names(results, shown)
    table = None
    if labels is not None:
        table = cohort_table(results, labels, thresholds)
    # every page is rendered before the first is written: bad input anywhere leaves no partial report behind
    pages = {f"infants/{files[i]}.html": _infant_html(r, None if sequences is None else sequences[i], info, table,
                                                      shown[i], "../cohort.html")
             for i, r in enumerate(results)}
    main = _cohort_html(results, labels, sequences, shown, list(pages), thresholds, info)
    folder = pathlib.Path(out_dir)
    for rel, html in pages.items():
        write_text(folder / rel, html, parents=True)
    path = write_text(folder / "cohort.html", main, parents=True)
    log.info("report: %d infant pages and %s", len(results), path)
    return path

