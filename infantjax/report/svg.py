"""The report's figures as inline SVG: small, sharp at any zoom and in print, searchable, and with one element per
thing drawn so that a browser test can count them (one ``g.box`` per window, one ``circle.joint`` per joint).

Every function returns :class:`markupsafe.Markup` (safe to place in a template); every text that comes from outside
(recording names) is escaped. Each figure carries a ``<title>`` and ``aria-label`` and every coloured mark a
``<title>`` with its value in words, so colour is never the only carrier of meaning.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from markupsafe import Markup, escape

from infantjax.clinical import COLOURS
from infantjax.explain import COLOUR_RGB, TEMPLATE_POSE, cam_colour, window_distributions

__all__ = [
    "boxplots",
    "cam_heatmap",
    "cam_skeleton",
    "colour_bars",
    "hex_colour",
    "missing_bars",
    "roc",
]

#: Certainty colour → its letter, drawn with the colour wherever the colour is drawn (grey: withheld).
LETTER = {"green": "G", "yellow": "Y", "orange": "O", "red": "R", "grey": "–"}
_FONT = 'font-family="system-ui, sans-serif"'


def _f(x: float) -> str:
    """A coordinate with one decimal (keeps the files small)."""
    return f"{x:.1f}"


def hex_colour(rgb) -> str:
    """``#rrggbb`` of an RGB triple in [0, 1]."""
    r, g, b = (round(255 * float(np.clip(c, 0, 1))) for c in rgb)
    return f"#{r:02x}{g:02x}{b:02x}"


def _svg(width: float, height: float, label: str, body: Sequence[str], cls: str) -> Markup:
    label = escape(label)
    return Markup(f'<svg class="fig {cls}" viewBox="0 0 {_f(width)} {_f(height)}" role="img" aria-label="{label}" '
                  f'{_FONT} font-size="10"><title>{label}</title>' + "".join(body) + "</svg>")


def _text(x, y, s, *, anchor="start", size=None, cls=None, weight=None) -> str:
    extra = (f' font-size="{size}"' if size else "") + (f' class="{cls}"' if cls else "") + \
        (f' font-weight="{weight}"' if weight else "")
    return f'<text x="{_f(x)}" y="{_f(y)}" text-anchor="{anchor}"{extra}>{escape(s)}</text>'


def _ticks(n: int, most: int) -> range:
    return range(0, n, max(1, -(-n // most)))


# ------------------------------------------------------------------------------------------------ boxplots
def boxplots(result, fps: float = 30.0) -> Markup:
    """Per-window boxplots of the instances' P(CP) (seed 002, Fig. 3.12a), coloured by the window's certainty,
    with the decision threshold (dashed) and the video risk (solid).

    Arguments:
        result: a :class:`~infantjax.clinical.RiskResult` with at least one window.
        fps: frame rate of ``result.window_starts`` (the model rate).
    """
    stats = window_distributions(result)
    n = len(stats)
    width, height = 720.0, 250.0
    left, right, top, bottom = 46.0, 92.0, 10.0, 52.0
    pw, ph = width - left - right, height - top - bottom
    dx = pw / n
    bw = min(0.72 * dx, 26.0)

    def y(p: float) -> float:
        return top + (1.0 - float(p)) * ph

    body = []
    for v in (0.0, 0.25, 0.5, 0.75, 1.0):
        body.append(f'<line x1="{_f(left)}" x2="{_f(left + pw)}" y1="{_f(y(v))}" y2="{_f(y(v))}" stroke="#ddd"/>')
        body.append(_text(left - 5, y(v) + 3.5, f"{v:g}", anchor="end"))
    body.append(f'<text transform="translate(12 {_f(top + ph / 2)}) rotate(-90)" text-anchor="middle">'
                "P(CP) per instance</text>")
    letters = n <= 48
    for k, s in enumerate(stats):
        cx = left + (k + 0.5) * dx
        q_top, q_bot = y(s.q3), y(s.q1)
        title = (f"window {k + 1} at {s.start / fps:.1f} s: median {s.median:.3f}, quartiles {s.q1:.3f}–{s.q3:.3f}, "
                 f"{100 * s.share_cp:.0f} % of instances at or above the threshold, {s.colour}")
        body.append(
            f'<g class="box" data-window="{k}" data-colour="{s.colour}"><title>{escape(title)}</title>'
            f'<line x1="{_f(cx)}" x2="{_f(cx)}" y1="{_f(y(s.whisker_high))}" y2="{_f(y(s.whisker_low))}" '
            'stroke="#333"/>'
            f'<rect x="{_f(cx - bw / 2)}" y="{_f(q_top)}" width="{_f(bw)}" height="{_f(max(q_bot - q_top, 1.0))}" '
            f'fill="{COLOUR_RGB[s.colour]}" stroke="#333" stroke-width="0.8"/>'
            f'<line x1="{_f(cx - bw / 2)}" x2="{_f(cx + bw / 2)}" y1="{_f(y(s.median))}" y2="{_f(y(s.median))}" '
            'stroke="#000" stroke-width="1.5"/>'
            + (_text(cx, top + ph + 11, LETTER[s.colour], anchor="middle", size=9, cls="letter") if letters
               else "")
            + "</g>")
    for k in _ticks(n, 12):
        cx = left + (k + 0.5) * dx
        body.append(_text(cx, top + ph + (24 if letters else 14), f"{stats[k].start / fps:.0f}", anchor="middle"))
    body.append(_text(left + pw / 2, height - 6, "window start (s)" + ("; letter = certainty colour" if letters
                                                                        else ""), anchor="middle"))
    t, r = float(result.threshold), float(result.risk)
    body.append(f'<line class="threshold" x1="{_f(left)}" x2="{_f(left + pw)}" y1="{_f(y(t))}" y2="{_f(y(t))}" '
                'stroke="#000" stroke-dasharray="5 3"/>')
    body.append(f'<line class="risk" x1="{_f(left)}" x2="{_f(left + pw)}" y1="{_f(y(r))}" y2="{_f(y(r))}" '
                f'stroke="{COLOUR_RGB[result.colour]}" stroke-width="2.5"/>')
    # labels at the right margin, pushed apart when the two lines are close
    yt, yr = y(t) + 3.5, y(r) + 3.5
    if abs(yt - yr) < 12:
        yt, yr = (yt - 6, yr + 6) if t >= r else (yt + 6, yr - 6)
    body.append(_text(left + pw + 4, yt, f"threshold {t:.3g}"))
    body.append(_text(left + pw + 4, yr, f"risk {r:.3f}", weight="bold"))
    body.append(f'<rect x="{_f(left)}" y="{_f(top)}" width="{_f(pw)}" height="{_f(ph)}" fill="none" '
                'stroke="#888"/>')
    return _svg(width, height, f"Boxplots of the instances' CP predictions in each of {n} windows", body,
                "boxplots")


# ------------------------------------------------------------------------------------------------ CAM
def _cam_fill(score: float) -> str:
    return hex_colour(cam_colour(float(score)))


def cam_skeleton(cam, joints: Sequence[str], edges: Sequence[tuple[int, int]], *, label_top: int = 3) -> Markup:
    """The video CAM on the template infant (seed 002, Fig. 3.12b): each joint coloured s^¼ on the sequential
    scale (:func:`infantjax.explain.cam_colour`), the ``label_top`` highest joints labelled with their score.

    Arguments:
        cam: (19,) joint scores in [0, 1].
        joints: the 19 joint names; edges: the skeleton's edges.
    """
    c = np.asarray(cam, dtype=np.float64)
    width, height, scale = 240.0, 282.0, 140.0

    def xy(j: int) -> tuple[float, float]:
        return 120.0 + scale * TEMPLATE_POSE[j, 0], 20.0 + scale * (1.05 - TEMPLATE_POSE[j, 1])

    body = [_text(14, 14, "infant's right", size=9), _text(width - 14, 14, "left", anchor="end", size=9)]
    for a, b in edges:
        (x1, y1), (x2, y2) = xy(a), xy(b)
        body.append(f'<line x1="{_f(x1)}" y1="{_f(y1)}" x2="{_f(x2)}" y2="{_f(y2)}" stroke="#999" '
                    'stroke-width="4" stroke-linecap="round"/>')
    top = set(np.argsort(-c, kind="stable")[:label_top].tolist())
    for j, name in enumerate(joints):
        x, yy = xy(j)
        body.append(f'<circle class="joint" cx="{_f(x)}" cy="{_f(yy)}" r="7.5" fill="{_cam_fill(c[j])}" '
                    f'stroke="#000" stroke-width="0.8" data-joint="{escape(name)}" data-cam="{c[j]:.4f}">'
                    f"<title>{escape(name)}: CAM {c[j]:.2f}</title></circle>")
        if j in top and c[j] > 0:
            dx = 11 if TEMPLATE_POSE[j, 0] >= 0 else -11
            body.append(_text(x + dx, yy + 3.5, f"{c[j]:.2f}", anchor="start" if dx > 0 else "end", size=10,
                              weight="bold"))
    return _svg(width, height, "Class activation map per joint on the template infant skeleton", body,
                "cam-skeleton")


def cam_heatmap(window_cam, window_starts, joints: Sequence[str], fps: float = 30.0) -> Markup:
    """CAM over time: one row per joint, one column per window, coloured like the skeleton.

    Arguments:
        window_cam: (W, J) per-window CAM in [0, 1].
        window_starts: (W,) first frame of each window; fps: their frame rate.
        joints: the J joint names.
    """
    c = np.asarray(window_cam, dtype=np.float64)
    n, nj = c.shape
    starts = np.asarray(window_starts)
    width = 720.0
    left, right, top, bottom, row = 92.0, 10.0, 6.0, 34.0, 10.0
    pw = width - left - right
    height = top + nj * row + bottom
    dx = pw / n
    cell_titles = n * nj <= 1200
    body = []
    for j, name in enumerate(joints):
        yy = top + j * row
        hi = int(np.argmax(c[:, j]))
        body.append(f'<g class="cam-row" data-joint="{escape(name)}"><title>{escape(name)}: median CAM '
                    f"{np.median(c[:, j]):.2f}, highest {c[hi, j]:.2f} at {starts[hi] / fps:.0f} s</title>")
        body.append(_text(left - 4, yy + row - 2, name, anchor="end", size=9))
        for k in range(n):
            t = f"<title>{escape(name)} at {starts[k] / fps:.0f} s: {c[k, j]:.2f}</title>" if cell_titles else ""
            body.append(f'<rect x="{_f(left + k * dx)}" y="{_f(yy)}" width="{_f(dx + 0.3)}" height="{_f(row)}" '
                        f'fill="{_cam_fill(c[k, j])}">{t}</rect>')
        body.append("</g>")
    for k in _ticks(n, 12):
        body.append(_text(left + (k + 0.5) * dx, top + nj * row + 12, f"{starts[k] / fps:.0f}", anchor="middle"))
    body.append(_text(left + pw / 2, height - 6, "window start (s)", anchor="middle"))
    body.append(f'<rect x="{_f(left)}" y="{_f(top)}" width="{_f(pw)}" height="{_f(nj * row)}" fill="none" '
                'stroke="#888"/>')
    return _svg(width, height, f"Class activation map per joint over {n} windows", body, "cam-heatmap")


# ------------------------------------------------------------------------------------------------ data quality
def missing_bars(quality) -> Markup:
    """Share of frames in which each joint is missing, one bar per joint, the value written beside it; joints
    never observed say so."""
    nj = len(quality.joints)
    width, left, row, top = 340.0, 92.0, 11.0, 4.0
    bar = 170.0
    height = top + nj * row + 22
    body = []
    for j, name in enumerate(quality.joints):
        frac = float(quality.missing_per_joint[j])
        never = name in quality.never_observed
        yy = top + j * row
        body.append(f'<g class="missing" data-joint="{escape(name)}" data-missing="{frac:.4f}">'
                    f"<title>{escape(name)}: missing in {int(quality.missing_frames_per_joint[j])} of "
                    f"{quality.num_frames} frames</title>")
        body.append(_text(left - 4, yy + row - 2.5, name, anchor="end", size=9))
        body.append(f'<rect x="{_f(left)}" y="{_f(yy + 1.5)}" width="{_f(bar)}" height="{_f(row - 3)}" '
                    'fill="#eee"/>')
        if frac > 0:
            body.append(f'<rect x="{_f(left)}" y="{_f(yy + 1.5)}" width="{_f(max(bar * frac, 1.0))}" '
                        f'height="{_f(row - 3)}" fill="{"#333333" if never else "#4a6fa5"}"/>')
        body.append(_text(left + bar + 4, yy + row - 2.5, "never seen" if never else f"{100 * frac:.1f} %",
                          size=9, weight="bold" if never else None))
        body.append("</g>")
    body.append(_text(left + bar / 2, height - 6, "share of frames missing (before preprocessing)", anchor="middle",
                      size=9))
    return _svg(width, height, "Missing keypoints per joint", body, "missing-bars")


# ------------------------------------------------------------------------------------------------ cohort
def roc(fpr, tpr, auc: float, points: Sequence[tuple[float, float, str]] = ()) -> Markup:
    """ROC curve with its AUC; ``points`` marks operating points (1 − specificity, sensitivity, label)."""
    size, m = 300.0, 40.0
    p = size - m - 10

    def xy(fx: float, ty: float) -> tuple[float, float]:
        return m + p * float(fx), 10 + p * (1 - float(ty))

    body = []
    for v in (0.0, 0.5, 1.0):
        x, _ = xy(v, 0)
        _, yy = xy(0, v)
        body.append(f'<line x1="{_f(x)}" x2="{_f(x)}" y1="10" y2="{_f(10 + p)}" stroke="#eee"/>')
        body.append(f'<line x1="{_f(m)}" x2="{_f(m + p)}" y1="{_f(yy)}" y2="{_f(yy)}" stroke="#eee"/>')
        body.append(_text(x, 10 + p + 13, f"{v:g}", anchor="middle"))
        body.append(_text(m - 5, yy + 3.5, f"{v:g}", anchor="end"))
    body.append(f'<line x1="{_f(m)}" y1="{_f(10 + p)}" x2="{_f(m + p)}" y2="10" stroke="#aaa" '
                'stroke-dasharray="4 3"/>')
    pts = " ".join(f"{_f(x)},{_f(yy)}" for x, yy in (xy(a, b) for a, b in zip(fpr, tpr)))
    body.append(f'<polyline class="roc-curve" points="{pts}" fill="none" stroke="#1f4e99" stroke-width="2"/>')
    for fx, ty, label in points:
        x, yy = xy(fx, ty)
        body.append(f'<circle cx="{_f(x)}" cy="{_f(yy)}" r="4" fill="#000"><title>{escape(label)}</title></circle>')
        body.append(_text(x + 6, yy + 12, label, size=9))
    body.append(_text(m + p / 2, size - 4, "1 − specificity", anchor="middle"))
    body.append(f'<text transform="translate(11 {_f(10 + p / 2)}) rotate(-90)" text-anchor="middle">sensitivity'
                "</text>")
    body.append(_text(m + p - 4, 10 + p - 8, f"AUC {auc:.3f}", anchor="end", size=12, weight="bold"))
    body.append(f'<rect x="{_f(m)}" y="10" width="{_f(p)}" height="{_f(p)}" fill="none" stroke="#888"/>')
    return _svg(size, size, f"ROC curve, AUC {auc:.3f}", body, "roc")


def colour_bars(groups: Mapping[str, Mapping[str, int]]) -> Markup:
    """One stacked bar per group (e.g. "CP", "no CP") of its infants' certainty colours, each segment labelled
    with its count and letter."""
    width, left, bar, row = 320.0, 74.0, 238.0, 38.0
    height = 8 + row * len(groups) + 14
    body = []
    for g, (name, counts) in enumerate(groups.items()):
        total = sum(counts.values())
        yy = 8 + g * row
        body.append(_text(left - 6, yy + 15, f"{name} (n={total})", anchor="end", size=9))
        x = left
        for colour in COLOURS:
            k = int(counts.get(colour, 0))
            if not k:
                continue
            w = bar * k / total
            body.append(f'<g class="colour-count" data-group="{escape(name)}" data-colour="{colour}" '
                        f'data-count="{k}"><title>{escape(name)}: {k} {colour}</title>'
                        f'<rect x="{_f(x)}" y="{_f(yy)}" width="{_f(w)}" height="20" fill="{COLOUR_RGB[colour]}" '
                        'stroke="#fff"/>'
                        + (_text(x + w / 2, yy + 14, f"{LETTER[colour]} {k}", anchor="middle", size=9,
                                 weight="bold") if w >= 24 else "") + "</g>")
            x += w
        # every count in words too: a segment too narrow for its label is still named
        body.append(_text(left, yy + 31, " · ".join(f"{c} {int(counts.get(c, 0))}" for c in reversed(COLOURS)),
                          size=8.5, cls="counts"))
    body.append(_text(left, height - 4, "G green · Y yellow · O orange · R red", size=9))
    return _svg(width, height, "Certainty colours per group", body, "colour-bars")
