"""The clinical dashboard: the infant page made interactive around the video (issue 39, thesis chapter 5).

    from infantjax import report
    report.dashboard(result, keypoints, video="video.mp4", window_s=5.0, ensemble_info=ens, out="dash/dashboard.html")

One self-contained HTML file beside its video (opened from disk, ``file://``; no server, no network: the CSS, the
script and the data are inside the file and the content security policy allows media from the page's own folder
only). It shows everything the infant page shows (:func:`infantjax.report.infant`) and above it:

* the video (or its labelled version) in an HTML5 player; a source the browser cannot play is said on the page;
* the risk over time: one bar per scored window (height = the window's risk, colour = its certainty colour); a click
  plays the video from that window's start;
* the windows that drove the decision (:func:`infantjax.explain.decision_windows`) marked on the timeline and
  listed, clickable too;
* the spatial explanation of the window being played: the current frame's keypoints on the skeleton, each joint
  coloured by that window's CAM; it follows the video as it plays;
* keypoint quality over time under the timeline: mean detector confidence and missing joints per frame, so a poor
  tracking stretch is visible.

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
from infantjax.explain import COLOUR_RGB, decision_windows
from infantjax.io.files import write_text
from infantjax.report import svg
from infantjax.report.pages import _check_result, _infant_context, _render
from infantjax.report.provenance import as_info
from infantjax.sequence import SkeletonSequence

__all__ = ["dashboard", "dashboard_data", "window_times"]

_SKELETON = "in-motion-19"
#: Width of the timeline and quality figures (SVG user units); the plot area starts at _LEFT.
_WIDTH, _LEFT, _RIGHT = 900.0, 46.0, 12.0


def window_times(result, window_s: float, duration: float | None = None) -> list[dict]:
    """Every scored window in seconds: index, first frame (at the model's rate), start and end (s, from the first
    frame), risk (median over instances), certainty colour, share of instances predicting CP, and CAM per joint.

    Arguments:
        result: the :class:`~infantjax.clinical.RiskResult`.
        window_s: a window's length in seconds (the ensemble's ``config.window`` frames ÷ 30 Hz).
        duration: the recording's length in seconds; ends are clipped to it when given.
    """
    meta = dict(result.metadata or {})
    model_fps = float(meta.get("model_fps", 30.0))
    p = np.asarray(result.predictions, dtype=np.float64)
    share = (p >= result.threshold).mean(axis=1)
    wcam = None if result.window_cam is None else np.clip(np.asarray(result.window_cam, dtype=np.float64), 0, 1)
    out = []
    for k, start_frame in enumerate(np.asarray(result.window_starts)):
        start = float(start_frame) / model_fps
        end = start + float(window_s)
        if duration is not None:
            end = min(end, float(duration))
        out.append({"index": k, "start_frame": int(start_frame), "start": round(start, 4), "end": round(end, 4),
                    "risk": float(result.window_risk[k]), "colour": result.window_colour[k],
                    "share_cp": float(share[k]),
                    "cam": None if wcam is None or not np.isfinite(wcam[k]).all() else
                    [round(float(v), 4) for v in wcam[k]]})
    return out


def _frame_times(seq: SkeletonSequence) -> np.ndarray:
    times = getattr(seq, "times", None)
    if times is not None and len(times) == seq.num_frames:
        return np.asarray(times, dtype=np.float64) - float(times[0])
    return np.arange(seq.num_frames, dtype=np.float64) / float(seq.fps)


def dashboard_data(result, keypoints: SkeletonSequence, *, video: str | None, window_s: float,
                   video_note: str | None = None, decision_count: int = 3) -> dict:
    """What the dashboard embeds and its script reads (the page's data, JSON-ready).

    Arguments:
        result: the :class:`~infantjax.clinical.RiskResult`.
        keypoints: the In-Motion 19 keypoints the ensemble scored, in the video's upright pixels, with their frame
            times (``SkeletonSequence.times``) and confidences.
        video: the video's path relative to the page, or None.
        window_s: a window's length in seconds.
        video_note: a sentence shown under the player (e.g. the source cannot be played by browsers).
        decision_count: how many decisive windows to mark.

    Returns:
        ``{"video", "joints", "edges", "image", "frames": {"t", "xy", "conf", "missing"}, "windows", "decision",
        "risk", "colour", "classification", "threshold", "duration"}``; ``xy`` holds per frame 2 × 19 pixel
        coordinates (0.1 px, None where missing), ``conf`` per frame 19 confidences (or None).
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
    hw = (keypoints.metadata or {}).get("image_hw")
    if hw:
        image = [int(hw[1]), int(hw[0])]
    else:  # no frame size recorded: the keypoints' extent
        finite = xy[~missing]
        image = [int(math.ceil(float(finite[:, 0].max()) + 10)) if finite.size else 100,
                 int(math.ceil(float(finite[:, 1].max()) + 10)) if finite.size else 100]
    return {
        "video": video, "video_note": video_note,
        "joints": list(skel.keypoints), "edges": [list(map(int, e)) for e in skel.edges], "image": image,
        "frames": {"t": [round(float(v), 4) for v in t], "xy": xy_list, "conf": conf,
                   "missing": [int(v) for v in missing.sum(axis=1)]},
        "windows": window_times(result, window_s, duration),
        "decision": decision_windows(result, decision_count),
        "risk": float(result.risk), "colour": result.colour, "classification": result.label,
        "threshold": float(result.threshold), "duration": round(duration, 4),
    }


def dashboard(result, keypoints: SkeletonSequence, *, video: str | None, window_s: float, ensemble_info=None,
              out: str | os.PathLike = "dashboard.html", sequence: SkeletonSequence | None = None,
              video_note: str | None = None, name: str | None = None, threshold_table=None,
              cohort_page: str | None = None, decision_count: int = 3) -> pathlib.Path:
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

    Returns:
        the path written.
    """
    data = dashboard_data(result, keypoints, video=video, window_s=window_s, video_note=video_note,
                          decision_count=decision_count)
    ctx = _infant_context(result, keypoints if sequence is None else sequence, as_info(ensemble_info),
                          threshold_table, name, cohort_page)
    ctx["title"] = ctx["title"].replace("CP risk report", "CP risk dashboard", 1)
    html = _render("dashboard.html.j2", **ctx, dash=data, data_json=_json_for_script(data),
                   timeline=_timeline(data), quality_time=_quality(data), live_skeleton=_live_skeleton(data),
                   decision=[data["windows"][k] for k in data["decision"]])
    return write_text(out, html, parents=True)


def _json_for_script(data: dict) -> Markup:
    """JSON that cannot end its <script> element early (``<``, ``>`` and ``&`` as \\u escapes)."""
    text = json.dumps(data, separators=(",", ":"), allow_nan=False)
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def _axis(duration: float):
    pw = _WIDTH - _LEFT - _RIGHT
    span = max(duration, 1e-6)

    def x(sec: float) -> float:
        return _LEFT + pw * min(max(sec, 0.0), span) / span

    step = next(s for s in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1e9) if span / s <= 12)
    return x, pw, [k * step for k in range(int(span // step) + 1)]


def _attrs(duration: float) -> str:
    pw = _WIDTH - _LEFT - _RIGHT
    return f'data-left="{_LEFT}" data-plot-width="{pw}" data-duration="{duration}"'


def _timeline(data: dict) -> Markup:
    """The risk over time: a bar per window from its start to the next window's start (height = risk, fill = its
    certainty colour), the decisive windows outlined and starred, the threshold dashed, a playhead."""
    duration, windows = data["duration"], data["windows"]
    x, pw, ticks = _axis(duration)
    top, ph, height = 16.0, 90.0, 136.0

    def y(p: float) -> float:
        return top + ph * (1 - p)

    decisive = set(data["decision"])
    body = [f'<rect x="{_LEFT}" y="{top}" width="{svg._f(pw)}" height="{ph}" fill="#fff" stroke="#888"/>']
    for v in (0.0, 0.5, 1.0):
        body.append(svg._text(_LEFT - 4, y(v) + 3, f"{v:g}", anchor="end", size=9))
    for k, w in enumerate(windows):
        nxt = windows[k + 1]["start"] if k + 1 < len(windows) else w["end"]
        x0, x1 = x(w["start"]), x(max(nxt, w["start"]))
        h = max(ph * w["risk"], 1.5)
        width = max(x1 - x0 - 0.6, 1.0)
        colour = COLOUR_RGB[w["colour"]]
        cls = "window decision" if k in decisive else "window"
        stroke = 'stroke="#000" stroke-width="2"' if k in decisive else 'stroke="#333" stroke-width="0.5"'
        # the whole window's column is the click target (tinted with its colour); the bar's height is its risk
        body.append(
            f'<rect class="{cls}" data-index="{k}" data-start="{w["start"]}" data-end="{w["end"]}" '
            f'data-risk="{w["risk"]:.6f}" data-colour="{w["colour"]}" tabindex="0" role="button" '
            f'x="{svg._f(x0)}" y="{top}" width="{svg._f(width)}" height="{ph}" fill="{colour}" fill-opacity="0.25" '
            f'{stroke} style="cursor:pointer">'
            f'<title>window {k + 1}: {w["start"]:.1f}–{w["end"]:.1f} s, risk {w["risk"]:.3f}, {w["colour"]} '
            f'({100 * w["share_cp"]:.0f} % of instances predict CP); click to play from {w["start"]:.1f} s'
            '</title></rect>')
        body.append(f'<rect class="risk-bar" x="{svg._f(x0)}" y="{svg._f(top + ph - h)}" width="{svg._f(width)}" '
                    f'height="{svg._f(h)}" fill="{colour}" stroke="#333" stroke-width="0.5" '
                    'pointer-events="none"/>')
        if k in decisive:
            body.append(svg._text((x0 + x1) / 2, top - 4, "★", anchor="middle", size=11, cls="decision-mark"))
    ty = y(data["threshold"])
    body.append(f'<line class="threshold" x1="{_LEFT}" x2="{svg._f(_LEFT + pw)}" y1="{svg._f(ty)}" '
                f'y2="{svg._f(ty)}" stroke="#000" stroke-dasharray="5 3"/>')
    body.append(svg._text(_LEFT + pw - 2, ty - 3, f"threshold {data['threshold']:.3g}", anchor="end", size=9))
    for s in ticks:
        body.append(f'<line x1="{svg._f(x(s))}" x2="{svg._f(x(s))}" y1="{top + ph}" y2="{top + ph + 4}" '
                    'stroke="#555"/>')
        body.append(svg._text(x(s), top + ph + 15, f"{s:g}", anchor="middle", size=9))
    body.append(svg._text(_LEFT + pw / 2, height - 4, "time in the video (s); bar height = window risk, colour = "
                          "its certainty, ★ = windows that drove the decision; click a window to play it", anchor="middle",
                          size=9))
    body.append(f'<line class="playhead" x1="{_LEFT}" x2="{_LEFT}" y1="{top - 2}" y2="{top + ph + 2}" '
                'stroke="#1f4e99" stroke-width="2"/>')
    label = f"CP risk over time: {len(windows)} windows of the video"
    fig = svg._svg(_WIDTH, height, label, body, "timeline")
    return Markup(str(fig).replace('<svg class="fig timeline"', f'<svg id="timeline" class="fig timeline" '
                                   f'{_attrs(duration)}', 1))


def _quality(data: dict) -> Markup:
    """Keypoint quality over time on the timeline's axis: mean confidence (line, 0–1) and missing joints per frame
    (red bars, 0–19), averaged into at most one column per plot unit."""
    duration, frames = data["duration"], data["frames"]
    x, pw, ticks = _axis(duration)
    top, ph, height = 8.0, 56.0, 92.0
    nj = len(data["joints"])
    t = np.asarray(frames["t"], dtype=np.float64)
    missing = np.asarray(frames["missing"], dtype=np.float64)
    conf = None
    if frames["conf"] is not None:
        c = np.array([[np.nan if v is None else v for v in row] for row in frames["conf"]], dtype=np.float64)
        with np.errstate(invalid="ignore"):
            conf = np.where(np.isnan(c).all(axis=1), np.nan, np.nanmean(np.where(np.isnan(c), np.nan, c), axis=1)) \
                if c.size else np.zeros(0)
    bins = max(1, min(len(t), int(pw)))
    edges = np.linspace(0, max(duration, 1e-6), bins + 1)
    idx = np.clip(np.searchsorted(edges, t, side="right") - 1, 0, bins - 1)
    body = [f'<rect x="{_LEFT}" y="{top}" width="{svg._f(pw)}" height="{ph}" fill="#fff" stroke="#888"/>']
    bw = pw / bins
    worst = 0.0
    points = []
    for b in range(bins):
        sel = idx == b
        if not sel.any():
            continue
        m = float(missing[sel].mean())
        worst = max(worst, float(missing[sel].max()))
        if m > 0:
            h = ph * m / nj
            body.append(f'<rect class="missing-t" x="{svg._f(_LEFT + b * bw)}" y="{svg._f(top + ph - h)}" '
                        f'width="{svg._f(max(bw, 0.8))}" height="{svg._f(h)}" fill="#b2182b" opacity="0.75"/>')
        if conf is not None and np.isfinite(conf[sel]).any():
            points.append(f"{svg._f(_LEFT + (b + 0.5) * bw)},{svg._f(top + ph * (1 - float(np.nanmean(conf[sel]))))}")
    if points:
        body.append(f'<polyline class="confidence" points="{" ".join(points)}" fill="none" stroke="#1f4e99" '
                    'stroke-width="1.5"/>')
    body.append(svg._text(_LEFT - 4, top + 8, "1", anchor="end", size=9))
    body.append(svg._text(_LEFT - 4, top + ph, "0", anchor="end", size=9))
    for s in ticks:
        body.append(svg._text(x(s), top + ph + 13, f"{s:g}", anchor="middle", size=9))
    legend = ("blue line = mean keypoint confidence (0–1)" if conf is not None else "no confidences recorded") + \
        f"; red bars = joints missing (0–{nj} per frame; at most {worst:.0f})"
    body.append(svg._text(_LEFT + pw / 2, height - 4, legend, anchor="middle", size=9))
    body.append(f'<line class="playhead" x1="{_LEFT}" x2="{_LEFT}" y1="{top}" y2="{top + ph}" stroke="#1f4e99" '
                'stroke-width="2"/>')
    fig = svg._svg(_WIDTH, height, "Keypoint quality over time: confidence and missing joints", body, "kp-quality")
    return Markup(str(fig).replace('<svg class="fig kp-quality"', f'<svg id="kp-quality" class="fig kp-quality" '
                                   f'{_attrs(duration)}', 1))


def _live_skeleton(data: dict) -> Markup:
    """The skeleton of the frame being played in the video's pixel frame; the script moves the joints and colours
    them by the current window's CAM."""
    w, h = data["image"]
    r = max(w, h) / 60.0
    body = [f'<rect x="0" y="0" width="{w}" height="{h}" fill="#f2f2ee" stroke="#bbb"/>']
    for a, b in data["edges"]:
        body.append(f'<line class="bone" data-a="{a}" data-b="{b}" x1="0" y1="0" x2="0" y2="0" stroke="#777" '
                    f'stroke-width="{svg._f(r * 0.6)}" stroke-linecap="round"/>')
    for j, name in enumerate(data["joints"]):
        body.append(f'<circle class="live-joint" data-j="{j}" data-joint="{escape(name)}" cx="0" cy="0" '
                    f'r="{svg._f(r)}" fill="#999" stroke="#000" stroke-width="{svg._f(r / 8)}">'
                    f'<title>{escape(name)}</title></circle>')
    label = "Keypoints of the frame being played, joints coloured by the window's class activation map"
    return Markup(f'<svg id="live-skeleton" class="fig live-skeleton" viewBox="0 0 {w} {h}" role="img" '
                  f'aria-label="{escape(label)}"><title>{escape(label)}</title>' + "".join(body) + "</svg>")
