"""The clinical dashboard: the infant page made interactive around the video (thesis chapter 5).

    from infantjax import report
    report.dashboard(result, keypoints, video="video.mp4", window_s=5.0, ensemble_info=ens, out="dash/dashboard.html")

One self-contained HTML file beside its video (opened from disk, ``file://``; no server, no network: the CSS, the
script and the data are inside the file and the content security policy allows media from the page's own folder
only). Read from the top, as a physiotherapist reads it:

* **the decision** on the first screen (at 1366 × 768 and on a 390-px phone): the risk, the certainty colour
  with its letter and meaning, the class — or, when the tracking-quality gate withheld it, "cannot be
  assessed: tracking unreliable in N of M windows" in grey with no risk and no class — and the research-use
  notice (once), with a sentence on the models when they were trained on synthetic infants only;
* the video (or its labelled version: joints coloured by the detector's confidence, its legend beside it) in
  an HTML5 player; a source the browser cannot play is said on the page;
* the explanation of the selected window beside it: the current frame's keypoints on the skeleton, each joint
  coloured by the selected window's CAM toward the decided class (toward no CP for a no-CP decision,
  :func:`infantjax.explain.decision_cam`), with its legend;
* the risk over time: one column per scored window (bar height = the window's risk, colour and letter = its
  certainty; ★ the windows that drove the decision; ✕ and hatched the windows the tracking gate left out, ?
  the doubtful ones), and under it on the same axis the keypoint quality: the gate's per-frame plausibility,
  the mean detector confidence and the joints missing. **A click on a window selects it and plays it from its
  start; the video stops at the window's end**, and the window stays selected (its CAM on the skeleton) until
  another is chosen;
* the windows that drove the decision (:func:`infantjax.explain.decision_windows`), listed and clickable too;
* then everything the infant page shows (:func:`infantjax.report.infant`).

Every coloured element has its legend beside it: the certainty colours (green, yellow, orange, red; grey for a
withheld result) always with their letter, continuous quantities (CAM, confidence) on the one sequential,
colour-blind-safe scale of :mod:`infantjax.explain.colours`. On a narrow screen the panels stack and the
timeline keeps window targets of at least 24 px (it scrolls sideways when the windows do not fit). Printed,
the page gives the decision, the timeline with its letters and legend and the decisive windows, without the
player or the instructions for clicking.

The data the script reads are embedded as JSON (``<script type="application/json" id="dashboard-data">``) and are
:func:`dashboard_data` of the same arguments, so a test compares the page with the records.
"""

from __future__ import annotations

import json
import math
import os
import pathlib

import numpy as np
from markupsafe import Markup, escape

from infantjax import skeleton as _skeleton
from infantjax.errors import DataError
from infantjax.explain import COLOUR_RGB, SEQUENTIAL_HEX, decision_cam, decision_windows
from infantjax.io.files import write_text
from infantjax.report import svg
from infantjax.report.pages import _check_result, _infant_context, _render
from infantjax.report.provenance import as_info
from infantjax.sequence import SkeletonSequence

__all__ = ["MIN_TARGET_PX", "dashboard", "dashboard_data", "window_times"]

_SKELETON = "in-motion-19"
#: Width of the timeline and quality plots in SVG user units (they stretch to the page's width).
_UNITS = 1000.0
#: The narrowest a window's column may be on a phone (CSS px): a finger's target (WCAG 2.2 target size).
MIN_TARGET_PX = 26
#: ... and on a wide screen, where a mouse points: enough for the column's certainty letter.
_MIN_COLUMN_PX_WIDE = 11


def window_times(result, window_s: float, duration: float | None = None) -> list[dict]:
    """Every scored window in seconds: index, first frame (at the model's rate), start and end (s, from the
    first frame), risk (median over instances), certainty colour, share of instances predicting CP, its
    tracking state (``"good"``, ``"doubtful"``, ``"unreliable"``; None when the result was not gated) and its
    CAM per joint toward the decided class (:func:`infantjax.explain.decision_cam`: toward no CP for a no-CP
    result).

    Arguments:
        result: the :class:`~infantjax.clinical.RiskResult`.
        window_s: a window's length in seconds (the ensemble's ``config.window`` frames ÷ 30 Hz).
        duration: the recording's length in seconds; ends are clipped to it when given.
    """
    meta = dict(result.metadata or {})
    model_fps = float(meta.get("model_fps", 30.0))
    p = np.asarray(result.predictions, dtype=np.float64)
    share = (p >= result.threshold).mean(axis=1)
    explained = decision_cam(result)
    wcam = None if explained.window_cam is None else \
        np.clip(np.asarray(explained.window_cam, dtype=np.float64), 0, 1)
    states = None if result.quality is None else result.quality.window_states
    out = []
    for k, start_frame in enumerate(np.asarray(result.window_starts)):
        start = float(start_frame) / model_fps
        end = start + float(window_s)
        if duration is not None:
            end = min(end, float(duration))
        out.append({"index": k, "start_frame": int(start_frame), "start": round(start, 4), "end": round(end, 4),
                    "risk": float(result.window_risk[k]), "colour": result.window_colour[k],
                    "share_cp": float(share[k]), "tracking": None if states is None else states[k],
                    "cam": None if wcam is None or not np.isfinite(wcam[k]).all() else
                    [round(float(v), 4) for v in wcam[k]]})
    return out


def _frame_times(seq: SkeletonSequence) -> np.ndarray:
    times = getattr(seq, "times", None)
    if times is not None and len(times) == seq.num_frames:
        return np.asarray(times, dtype=np.float64) - float(times[0])
    return np.arange(seq.num_frames, dtype=np.float64) / float(seq.fps)


def _hidden(result, keypoints: SkeletonSequence) -> list[list[int]]:
    """Per frame the joints of the limbs the tracking-quality gate calls hidden (by the thresholds the result was
    gated with, else the shipped ones): places the pose model guessed, which the page draws faded."""
    from infantjax.clinical import Thresholds, hidden_joints

    values = getattr(getattr(result, "quality", None), "thresholds", None)
    try:
        thresholds = Thresholds.from_dict(values) if values else None
    except DataError:  # a verdict of another version's thresholds: the shipped ones tell hidden limbs
        thresholds = None
    flags = hidden_joints(keypoints, thresholds)
    if flags is None:
        return [[] for _ in range(keypoints.num_frames)]
    return [np.flatnonzero(row).tolist() for row in flags]


def dashboard_data(result, keypoints: SkeletonSequence, *, video: str | None, window_s: float,
                   video_note: str | None = None, decision_count: int = 3, labelled: bool = False) -> dict:
    """What the dashboard embeds and its script reads (the page's data, JSON-ready).

    Arguments:
        result: the :class:`~infantjax.clinical.RiskResult`.
        keypoints: the In-Motion 19 keypoints the ensemble scored, in the video's upright pixels, with their frame
            times (``SkeletonSequence.times``) and confidences.
        video: the video's path relative to the page, or None.
        window_s: a window's length in seconds.
        video_note: a sentence shown under the player (e.g. the source cannot be played by browsers).
        decision_count: how many decisive windows to mark.
        labelled: the video is the labelled video (keypoints drawn on it, coloured by confidence): the page
            puts the legend of its colours beside the player.

    Returns: ``{"video", "video_note", "labelled", "joints", "edges", "image", "frames": {"t", "xy", "conf",
        "missing", "hidden"}, "windows", "decision", "risk", "colour", "classification", "threshold", "duration",
        "withheld", "quality", "cam_toward", "scale"}``; ``xy`` holds per frame 2 × 19 pixel coordinates
        (0.1 px, None where missing), ``conf`` per frame 19 confidences (or None), ``hidden`` per frame the joints
        of the limbs the tracking-quality gate calls hidden (:func:`infantjax.clinical.quality.hidden_joints`:
        their places are the pose model's guesses; drawn faded); every window's ``cam`` is
        toward ``cam_toward`` (``"CP"`` or ``"no CP"``, :func:`infantjax.explain.decision_cam`); ``scale`` is
        the sequential colour scale (:data:`infantjax.explain.SEQUENTIAL_HEX`) the script colours joints with;
        ``quality`` is the tracking-quality verdict the result was gated with (None when it was not):
        ``{"state", "withheld", "headline", "reasons", "window_states", "window_reasons", "frame_score",
        "summary"}``, ``window_states``/``window_reasons`` one per window of ``windows``, ``frame_score`` one
        plausibility in [0, 1] per frame of ``frames`` (below 0.5: implausible; None where the gate could not
        judge the frame).
    """
    _check_result(result, "report.dashboard")
    if not isinstance(keypoints, SkeletonSequence):
        raise DataError(f"report.dashboard: keypoints must be a SkeletonSequence, got {type(keypoints).__name__}")
    if keypoints.skeleton.name != _SKELETON:
        raise DataError(f"report.dashboard: the keypoints are {keypoints.skeleton.name!r}; the dashboard draws the "
                        f"{_SKELETON!r} keypoints the ensemble scored (map them with "
                        "infantjax.skeleton.to_model_skeleton)")
    if not (isinstance(window_s, (int, float)) and math.isfinite(window_s) and window_s > 0):
        raise DataError(f"report.dashboard: window_s must be a positive number of seconds, got {window_s!r}")
    skel = _skeleton.get(_SKELETON)
    t = _frame_times(keypoints)
    n = keypoints.num_frames
    duration = float(t[-1] + 1.0 / float(keypoints.fps)) if n else 0.0
    xy = np.round(np.asarray(keypoints.coords, dtype=np.float64)[..., :2], 1)
    missing = np.isnan(xy).any(axis=-1)
    xy_list = [[None if missing[i, j] else float(v) for j in range(xy.shape[1]) for v in xy[i, j]]
               for i in range(n)]
    conf = None
    if keypoints.confidence is not None:
        c = np.round(np.clip(np.asarray(keypoints.confidence, dtype=np.float64), 0, 1), 3)
        conf = [[None if not np.isfinite(v) else float(v) for v in row] for row in c]
    hidden = _hidden(result, keypoints)
    hw = (keypoints.metadata or {}).get("image_hw")
    if hw:
        image = [int(hw[1]), int(hw[0])]
    else:  # no frame size recorded: the keypoints' extent
        finite = xy[~missing]
        image = [int(math.ceil(float(finite[:, 0].max()) + 10)) if finite.size else 100,
                 int(math.ceil(float(finite[:, 1].max()) + 10)) if finite.size else 100]
    return {
        "video": video, "video_note": video_note, "labelled": bool(labelled and video),
        "joints": list(skel.keypoints), "edges": [list(map(int, e)) for e in skel.edges], "image": image,
        "frames": {"t": [round(float(v), 4) for v in t], "xy": xy_list, "conf": conf,
                   "missing": [int(v) for v in missing.sum(axis=1)], "hidden": hidden},
        "windows": window_times(result, window_s, duration),
        "decision": decision_windows(result, decision_count),
        "risk": float(result.risk), "colour": result.colour, "classification": result.label,
        "threshold": float(result.threshold), "duration": round(duration, 4),
        "withheld": bool(result.withheld), "quality": _quality_data(result, n),
        "cam_toward": decision_cam(result).toward, "scale": list(SEQUENTIAL_HEX),
    }


def _quality_data(result, n_frames: int) -> dict | None:
    """The tracking-quality verdict of the result, as the page's script reads it."""
    q = result.quality
    if q is None:
        return None
    record = q.to_json()
    score = record["frame_score"]
    if len(score) != n_frames:
        raise DataError(f"report.dashboard: the tracking-quality verdict scores {len(score)} frames but the "
                        f"keypoints have {n_frames}; pass the keypoints the verdict was made from")
    return {"state": q.state, "withheld": bool(q.withheld), "headline": q.headline(),
            "reasons": list(q.reasons),
            "window_states": list(q.window_states), "window_reasons": [list(r) for r in q.window_reasons],
            "frame_score": score, "summary": record["summary"]}


def dashboard(result, keypoints: SkeletonSequence, *, video: str | None, window_s: float, ensemble_info=None,
              out: str | os.PathLike = "dashboard.html", sequence: SkeletonSequence | None = None,
              video_note: str | None = None, name: str | None = None, threshold_table=None,
              cohort_page: str | None = None, decision_count: int = 3, labelled: bool = False,
              models_note: str | None = None) -> pathlib.Path:
    """Write the interactive dashboard of one infant (see the module docstring); atomic.

    Arguments:
        result: the :class:`~infantjax.clinical.RiskResult`.
        keypoints: the In-Motion 19 keypoints the ensemble scored (video pixels, frame times, confidences).
        video: the video's path relative to ``out`` (it must lie in the page's folder or below it: the page's
            security policy loads media from there only), or None (the page says there is none).
        window_s: a window's length in seconds (``ensemble.config.window / 30``).
        ensemble_info: an :class:`~infantjax.report.EnsembleInfo`, an Ensemble, or None.
        out: the HTML file.
        sequence: the recording for the data-quality panel as read (default ``keypoints``).
        video_note: a sentence under the player (a source browsers cannot play, ...).
        name, threshold_table, cohort_page: as :func:`infantjax.report.infant`.
        decision_count: how many decisive windows to mark and list.
        labelled: ``video`` is the labelled video (:func:`infantjax.pipelines.pose.write_labelled_video`): its
            joints' colour legend is shown beside the player.
        models_note: a sentence about the models in the research-use notice (``infantjax assess`` says there
            when they were trained on synthetic infants only), or None.

    Returns:
        the path written.
    """
    data = dashboard_data(result, keypoints, video=video, window_s=window_s, video_note=video_note,
                          decision_count=decision_count, labelled=labelled)
    ctx = _infant_context(result, keypoints if sequence is None else sequence, as_info(ensemble_info),
                          threshold_table, name, cohort_page, models_note)
    ctx["title"] = ctx["title"].replace("CP risk report", "CP risk dashboard", 1)
    html = _render("dashboard.html.j2", **ctx, dash=data, data_json=_json_for_script(data),
                   timeline=_timeline(data), quality_time=_quality(data), live_skeleton=_live_skeleton(data),
                   decision=[data["windows"][k] for k in data["decision"]], axis=_axis_html(data["duration"]),
                   plot_min_width=_plot_min_width(data))
    return write_text(out, html, parents=True)


def _json_for_script(data: dict) -> Markup:
    """JSON that cannot end its <script> element early (``<``, ``>`` and ``&`` as \\u escapes)."""
    text = json.dumps(data, separators=(",", ":"), allow_nan=False)
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


# ------------------------------------------------------------------------------------------------ figures
# The timeline and the quality strip are drawn as SVG that stretches to the width of the page
# (preserveAspectRatio none: rectangles and lines only, strokes that do not scale) with their labels, letters
# and marks in HTML around it, placed in percent of the plot's width: the text keeps its size on a phone, the
# plot its width.
def _pct(sec: float, duration: float) -> float:
    return 100.0 * min(max(sec, 0.0), duration) / max(duration, 1e-6)


def _columns(data: dict) -> list[tuple[float, float]]:
    """Each window's column in seconds: from its start to the next window's start (the last to its end)."""
    windows = data["windows"]
    out = []
    for k, w in enumerate(windows):
        nxt = windows[k + 1]["start"] if k + 1 < len(windows) else w["end"]
        out.append((w["start"], max(nxt, w["start"])))
    return out


def _plot_min_width(data: dict) -> dict:
    """The plots' least widths in CSS px, on a phone and on a wide screen: the narrowest window column at
    least :data:`MIN_TARGET_PX` (a finger) or ``_MIN_COLUMN_PX_WIDE`` (a mouse, and room for its letter)."""
    duration = max(float(data["duration"]), 1e-6)
    narrowest = min((b - a for a, b in _columns(data)), default=duration)
    share = max(narrowest, 1e-3 * duration) / duration
    axis = 40  # the y-axis labels' column beside the plot (CSS .tl-row)
    return {"phone": axis + int(math.ceil(MIN_TARGET_PX / share)),
            "wide": axis + int(math.ceil(_MIN_COLUMN_PX_WIDE / share))}


def _ticks(duration: float) -> list[float]:
    span = max(duration, 1e-6)
    step = next(s for s in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1e9) if span / s <= 10)
    return [k * step for k in range(int(span // step) + 1)]


def _axis_html(duration: float) -> Markup:
    """The time axis under a plot: tick labels in seconds at their place."""
    spans = "".join(f'<span style="left:{_pct(s, duration):.3f}%">{s:g}</span>' for s in _ticks(duration))
    return Markup(f'<div class="axis-ticks" aria-hidden="true">{spans}</div>')


def _axis_row(duration: float) -> str:
    """The time axis as a row under a plot, aligned with it."""
    return ('<div class="tl-row"><div class="tl-y"></div>'
            f'<div class="tl-lane">{_axis_html(duration)}</div></div>')


#: How a window's aria label says its tracking state.
_TRACKING_WORDS = {"good": "", "doubtful": ", tracking doubtful",
                   "unreliable": ", left out: tracking unreliable"}


def _timeline(data: dict) -> Markup:
    """The risk over time: a column per window from its start to the next window's start (its click target,
    tinted with the window's certainty colour), the bar inside it as high as the window's risk; the certainty
    letter under every column, ★ over the decisive windows, ✕ (and hatching) over the windows the tracking
    gate left out and ? over the doubtful ones; the threshold dashed; a playhead."""
    duration, windows = data["duration"], data["windows"]
    decisive = set(data["decision"])
    q = data["quality"]
    rects, marks, letters = [], [], []
    body = ['<defs><pattern id="left-out" width="8" height="8" patternUnits="userSpaceOnUse" '
            'patternTransform="rotate(45)"><rect width="8" height="8" fill="#ffffff" fill-opacity="0.55"/>'
            '<line x1="0" y1="0" x2="0" y2="8" stroke="#333" stroke-width="3"/></pattern></defs>',
            f'<rect x="0" y="0" width="{_UNITS:g}" height="100" fill="#fff"/>',
            f'<line x1="0" x2="{_UNITS:g}" y1="50" y2="50" stroke="#ddd" '
            'vector-effect="non-scaling-stroke"/>']
    for k, ((a, b), w) in enumerate(zip(_columns(data), windows)):
        x0, x1 = _pct(a, duration), _pct(b, duration)
        width = max(x1 - x0, 0.05)
        colour = COLOUR_RGB[w["colour"]]
        state = w["tracking"] or "good"
        cls = "window" + (" decision" if k in decisive else "") + ("" if state == "good" else f" {state}")
        why = "" if q is None or not q["window_reasons"][k] else "; " + "; ".join(q["window_reasons"][k])
        tracking = _TRACKING_WORDS[state] + why
        label = (f"window {k + 1} of {len(windows)}: {w['start']:.1f}–{w['end']:.1f} s, "
                 f"risk {w['risk']:.3f}, {w['colour']} ({svg.LETTER[w['colour']]}), "
                 f"{100 * w['share_cp']:.0f} % of instances predict CP"
                 f"{tracking}{', drove the decision' if k in decisive else ''}")
        X0, W = _UNITS * x0 / 100, _UNITS * width / 100
        stroke = 'stroke="#000" stroke-width="2"' if k in decisive else 'stroke="#555" stroke-width="0.5"'
        rects.append(
            f'<rect class="{cls}" data-index="{k}" data-start="{w["start"]}" data-end="{w["end"]}" '
            f'data-risk="{w["risk"]:.6f}" data-colour="{w["colour"]}" data-tracking="{state}" tabindex="0" '
            f'role="button" aria-label="{escape(label)}; plays the window" x="{X0:.2f}" y="0" '
            f'width="{W:.2f}" height="100" fill="{colour}" fill-opacity="0.22" {stroke} '
            f'vector-effect="non-scaling-stroke"><title>{escape(label)}</title></rect>')
        h = max(100.0 * w["risk"], 1.0)
        rects.append(f'<rect class="risk-bar" x="{X0:.2f}" y="{100 - h:.2f}" width="{W:.2f}" '
                     f'height="{h:.2f}" fill="{colour}" stroke="#333" stroke-width="0.5" '
                     'vector-effect="non-scaling-stroke" pointer-events="none"/>')
        if state == "unreliable":
            rects.append(f'<rect class="left-out" x="{X0:.2f}" y="0" width="{W:.2f}" height="100" '
                         'fill="url(#left-out)" pointer-events="none"/>')
        place = f'style="left:{x0:.3f}%;width:{width:.3f}%"'
        mark = ("★" if k in decisive else "") + {"good": "", "doubtful": "?", "unreliable": "✕"}[state]
        if mark:
            marks.append(f'<span class="tl-mark" data-index="{k}" {place}>{mark}</span>')
        letters.append(f'<span class="tl-letter" data-index="{k}" data-colour="{w["colour"]}" {place}>'
                       f'{svg.LETTER[w["colour"]]}</span>')
    ty = 100 * (1 - data["threshold"])
    body += rects
    body.append(f'<line class="threshold" x1="0" x2="{_UNITS:g}" y1="{ty:.2f}" y2="{ty:.2f}" stroke="#000" '
                'stroke-width="1.5" stroke-dasharray="6 4" vector-effect="non-scaling-stroke" '
                'pointer-events="none"/>')
    label = f"CP risk over time: {len(windows)} windows of the video"
    figure = (f'<svg id="timeline" class="timeline" viewBox="0 0 {_UNITS:g} 100" preserveAspectRatio="none" '
              f'role="group" aria-label="{escape(label)}" data-duration="{duration}">'
              f'<title>{escape(label)}</title>' + "".join(body) + "</svg>")
    y_labels = '<span style="top:0%">1</span><span style="top:50%">0.5</span><span style="top:100%">0</span>'
    threshold = (f'<span class="thr-label" style="top:{ty:.2f}%">threshold {data["threshold"]:.3g}</span>')
    playhead = '<div class="playhead" aria-hidden="true"></div>'
    return Markup(
        '<div class="tl-row tl-marks" aria-hidden="true"><div class="tl-y"></div><div class="tl-lane">'
        + "".join(marks) + '</div></div>'
        f'<div class="tl-row tl-main"><div class="tl-y" aria-hidden="true">{y_labels}</div>'
        f'<div class="tl-lane tl-plot">{figure}{threshold}{playhead}</div></div>'
        '<div class="tl-row tl-letters" aria-hidden="true"><div class="tl-y">class</div><div class="tl-lane">'
        + "".join(letters) + '</div></div>' + _axis_row(duration))


def _quality(data: dict) -> Markup:
    """Keypoint quality over time on the timeline's axis: the gate's plausibility per frame (solid line, 0–1;
    a frame below the dotted 0.5 is implausible), the mean detector confidence (dashed line, 0–1) and the
    joints missing per frame (grey bars, 0–19), averaged into at most 500 columns."""
    duration, frames = data["duration"], data["frames"]
    nj = len(data["joints"])
    t = np.asarray(frames["t"], dtype=np.float64)
    missing = np.asarray(frames["missing"], dtype=np.float64)
    conf = plaus = None
    if frames["conf"] is not None:
        c = np.array([[np.nan if v is None else v for v in row] for row in frames["conf"]], dtype=np.float64)
        with np.errstate(invalid="ignore"):
            conf = np.where(np.isnan(c).all(axis=1), np.nan, np.nanmean(np.where(np.isnan(c), np.nan, c), axis=1)) \
                if c.size else np.zeros(0)
    if data["quality"] is not None:
        plaus = np.array([np.nan if v is None else v for v in data["quality"]["frame_score"]],
                         dtype=np.float64)
    bins = max(1, min(len(t), 500))
    edges = np.linspace(0, max(duration, 1e-6), bins + 1)
    idx = np.clip(np.searchsorted(edges, t, side="right") - 1, 0, bins - 1)
    bw = _UNITS / bins
    body = [f'<rect x="0" y="0" width="{_UNITS:g}" height="100" fill="#fff"/>',
            f'<line class="implausible-line" x1="0" x2="{_UNITS:g}" y1="50" y2="50" stroke="#999" '
            'stroke-dasharray="1 3" vector-effect="non-scaling-stroke"/>']
    lines = {"plausibility": [], "confidence": []}
    for b in range(bins):
        sel = idx == b
        if not sel.any():
            continue
        m = float(missing[sel].mean())
        if m > 0:
            h = 100 * m / nj
            body.append(f'<rect class="missing-t" x="{b * bw:.2f}" y="{100 - h:.2f}" '
                        f'width="{max(bw, 0.8):.2f}" height="{h:.2f}" fill="#8c8c8c"/>')
        for key, series in (("plausibility", plaus), ("confidence", conf)):
            if series is not None and np.isfinite(series[sel]).any():
                lines[key].append(f"{(b + 0.5) * bw:.2f},{100 * (1 - float(np.nanmean(series[sel]))):.2f}")
    if lines["confidence"]:
        body.append(f'<polyline class="confidence" points="{" ".join(lines["confidence"])}" fill="none" '
                    'stroke="#1f4e99" stroke-width="1.5" stroke-dasharray="5 3" '
                    'vector-effect="non-scaling-stroke"/>')
    if lines["plausibility"]:
        body.append(f'<polyline class="plausibility" points="{" ".join(lines["plausibility"])}" fill="none" '
                    'stroke="#111" stroke-width="2" vector-effect="non-scaling-stroke"/>')
    label = "Keypoint quality over time: plausibility, confidence and missing joints"
    figure = (f'<svg id="kp-quality" class="kp-quality" viewBox="0 0 {_UNITS:g} 100" '
              f'preserveAspectRatio="none" role="img" aria-label="{escape(label)}" '
              f'data-duration="{duration}">'
              f'<title>{escape(label)}</title>' + "".join(body) + "</svg>")
    return Markup(
        '<div class="tl-row tl-main kq"><div class="tl-y" aria-hidden="true"><span style="top:0%">1</span>'
        '<span style="top:50%">0.5</span><span style="top:100%">0</span></div>'
        f'<div class="tl-lane tl-plot">{figure}<div class="playhead" aria-hidden="true"></div></div></div>'
        + _axis_row(duration))


def _live_skeleton(data: dict) -> Markup:
    """The skeleton of the frame being played in the video's pixel frame; the script moves the joints and colours
    them by the selected window's CAM."""
    w, h = data["image"]
    r = max(w, h) / 60.0
    body = [f'<rect x="0" y="0" width="{w}" height="{h}" fill="#f2f2ee" stroke="#bbb"/>']
    for a, b in data["edges"]:
        body.append(f'<line class="bone" data-a="{a}" data-b="{b}" x1="0" y1="0" x2="0" y2="0" stroke="#777" '
                    f'stroke-width="{svg._f(r * 0.6)}" stroke-linecap="round"/>')
    for j, name in enumerate(data["joints"]):
        body.append(f'<circle class="live-joint" data-j="{j}" data-joint="{escape(name)}" cx="0" cy="0" '
                    f'r="{svg._f(r)}" fill="#8c8c8c" stroke="#000" stroke-width="{svg._f(r / 8)}">'
                    f'<title>{escape(name)}</title></circle>')
    label = ("Keypoints of the frame being played, joints coloured by the selected window's class "
             f"activation map toward {data['cam_toward']}")
    return Markup(f'<svg id="live-skeleton" class="fig live-skeleton" viewBox="0 0 {w} {h}" role="img" '
                  f'aria-label="{escape(label)}"><title>{escape(label)}</title>' + "".join(body) + "</svg>")
