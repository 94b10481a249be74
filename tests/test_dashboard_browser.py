"""The dashboard as a physiotherapist reads it, in headless Chromium (Debian's ``chromium`` driven by
Playwright):

* the first screen — risk, certainty colour and class, or the withheld state ("cannot be assessed: tracking
  unreliable in N of M windows", grey, no risk), and the research-use notice, once — at 1366 × 768 and on a
  390-px phone, where the panels stack and the text and the window targets keep a usable size;
* one colour language: a legend beside every coloured element, the certainty colours always with their letter,
  CAM and keypoint confidence on the one sequential scale whose colours the legends show;
* a click on a window plays that window and stops at its end, and the window stays selected until another is
  chosen;
* a no-CP decision explained by the no-CP class's CAM;
* the print layout: the decision, the timeline and the decisive windows, without the player or the
  instructions.

The results are built from known numbers (no model runs); the video is a small H.264 MP4 written here."""

from __future__ import annotations

import re

import numpy as np
import pytest
from _report_utils import make_sequence
from test_assess import page_data
from test_report_browser import opened, pdf_pages

from infantjax import report
from infantjax.clinical import TrackingQuality, assess
from infantjax.explain import SEQUENTIAL_HEX, cam_colour, confidence_colour, sequential_hex

pytestmark = pytest.mark.browser

NOTE = ("The models (CP ensemble cp-gcn-synthetic, pose model rt-synthetic-infant) were trained on "
        "synthetic infants only: a demonstration, not a risk for a real infant.")
DESKTOP, PHONE = (1366, 768), (390, 844)
FILLS = "es => es.map(e => e.getAttribute('fill'))"


def quality(states, frames: int) -> TrackingQuality:
    """A tracking-quality verdict with these window states (withheld when fewer than half are usable)."""
    bad = sum(s == "unreliable" for s in states)
    doubt = sum(s == "doubtful" for s in states)
    withheld = len(states) - bad < len(states) / 2
    reasons = ([f"tracking unreliable in {bad} of {len(states)} windows"] if withheld else
               ([f"tracking unreliable in {bad} of {len(states)} windows: left out of the risk"] if bad
                else [])
               + ([f"tracking doubtful in {doubt} of {len(states)} windows"] if doubt else []))
    score = np.clip(np.random.default_rng(1).normal(0.8 if not withheld else 0.3, 0.1, frames), 0, 1)
    return TrackingQuality(
        state="unreliable" if withheld else ("doubtful" if reasons else "good"), withheld=withheld,
        reasons=tuple(reasons), window_states=tuple(states),
        window_reasons=tuple(() if s == "good" else ("45 % of frames implausible (edge)",) for s in states),
        frame_score=score)


def make(seed: int = 0, *, windows: int = 8, level: float | None = None, states=None, instances: int = 7):
    """A RiskResult with CAM toward both classes (known numbers) and optionally a tracking verdict."""
    rng = np.random.default_rng(seed)
    level = rng.uniform(0.1, 0.9) if level is None else level
    p = np.clip(level + rng.normal(0, 0.08, (windows, instances)), 0.0, 1.0)
    cp_cam, no_cp_cam = rng.uniform(0, 1, (windows, 19)) ** 3, rng.uniform(0, 1, (windows, 19)) ** 3
    frames = 30 * (windows + 1)
    meta = {"subject": f"s{seed:03d}", "fps": 30.0, "num_frames": frames, "model_fps": 30.0}
    return assess(p, 0.5, window_starts=np.arange(windows) * 30, cam=np.median(cp_cam, axis=0),
                  window_cam=cp_cam, no_cp_cam=np.median(no_cp_cam, axis=0), no_cp_window_cam=no_cp_cam,
                  metadata=meta, instance_names=[f"spec0/fold{i}" for i in range(instances)],
                  quality=None if states is None else quality(states, frames))


def write_page(tmp_path, result, *, video: bool = True, name: str = "dashboard.html", seq=None):
    """The dashboard of ``result`` beside a playable H.264 video as long as the result's recording (keypoints
    ``seq``, default :func:`make_sequence`'s)."""
    from infantjax.io import write_video

    seq = make_sequence(result, 0) if seq is None else seq
    frames = int(result.metadata["num_frames"])
    if video and not (tmp_path / "video.mp4").exists():
        ramp = np.arange(64)[None, :] + np.arange(48)[:, None]
        pictures = np.stack([np.stack([(ramp + i) % 256, ramp, np.full_like(ramp, 90)], -1)
                             for i in range(frames)])
        write_video(tmp_path / "video.mp4", pictures.astype(np.uint8), 30.0)
    return report.dashboard(result, seq, video="video.mp4" if video else None, window_s=5.0, labelled=video,
                            out=tmp_path / name, models_note=NOTE)


def box(page, selector) -> dict:
    return page.eval_on_selector(selector, "e => { const r = e.getBoundingClientRect(); "
                                           "return {x: r.x, y: r.y, w: r.width, h: r.height}; }")


def overflowing(page, container: str, width: int) -> list[str]:
    """The elements inside ``container`` that reach past the window's right edge (cut off on a phone)."""
    return page.evaluate("""([sel, w]) => Array.from(document.querySelectorAll(sel + ' *'))
        .filter(e => e.getClientRects().length && e.getBoundingClientRect().right > w + 0.5)
        .map(e => e.className || e.tagName)""", [container, width])


def on_first_screen(page, selector, height: int) -> bool:
    b = box(page, selector)
    return b["w"] > 0 and b["h"] > 0 and b["y"] >= 0 and b["y"] + b["h"] <= height


def rgb(hex_colour: str) -> str:
    return "rgb({}, {}, {})".format(*(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)))


def triples(colours) -> list[tuple[int, ...]]:
    """``rgb(r,g,b)`` or ``#rrggbb`` strings as integer triples."""
    out = []
    for c in colours:
        out.append(tuple(int(c[i:i + 2], 16) for i in (1, 3, 5)) if c.startswith("#") else
                   tuple(int(v) for v in re.findall(r"\d+", c)))
    return out


def wait_until(page, expression: str, timeout_s: float = 20.0) -> None:
    """Poll a JavaScript expression until it is true (the page's security policy forbids the string evaluation
    ``page.wait_for_function`` polls with)."""
    for _ in range(int(timeout_s / 0.05)):
        if page.evaluate(expression):
            return
        page.wait_for_timeout(50)
    raise AssertionError(f"not true within {timeout_s} s: {expression}")


#: the smallest text on the page in CSS px: HTML text by its font size, SVG text by its font size times the
#: figure's scale (only what is displayed)
SMALLEST_TEXT = """() => {
    let html = 1e9, svgText = 1e9, where = null;
    for (const el of document.querySelectorAll('body *')) {
        const own = Array.from(el.childNodes).some(n => n.nodeType === 3 && n.textContent.trim());
        if (!own || el.closest('title, script, style') || !el.getClientRects().length) continue;
        const style = getComputedStyle(el);
        if (style.visibility === 'hidden') continue;
        let size = parseFloat(style.fontSize);
        if (el instanceof SVGElement) {
            const m = el.getScreenCTM();
            size *= Math.hypot(m.a, m.b);
            if (size < svgText) { svgText = size; }
        } else if (size < html) { html = size; where = el.className || el.tagName; }
    }
    return {html, svgText, where};
}"""


# -------------------------------------------------------------------------------------------- first screen
@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["1366x768", "390x844"])
def test_the_decision_and_the_notice_are_on_the_first_screen(browser, tmp_path, size):
    result = make(3, windows=8, level=0.2)
    path = write_page(tmp_path, result)
    width, height = size
    with opened(browser, path, width=width, height=height) as (page, requests, errors):
        wait_until(page, "document.getElementById('dashboard').dataset.ready === '1'")
        assert page.inner_text("#risk") == f"{result.risk:.3f}"
        assert page.inner_text("#colour .colour-name") == result.colour
        assert page.inner_text("#classification") == result.label
        for selector in ("#risk", "#colour", "#classification", "#disclaimer"):
            assert on_first_screen(page, selector, height), (selector, box(page, selector))
        # the notice, once, with the sentence on the synthetic models
        text = page.inner_text("body")
        assert text.count("Research software") == 1 and text.count("not for clinical use") == 1
        assert page.inner_text("#models-note") == NOTE
        # the certainty colour carries its letter (drawn in the swatch)
        letter = page.eval_on_selector("#colour .swatch", "e => getComputedStyle(e, '::after').content")
        assert letter == f'"{report.svg.LETTER[result.colour]}"'
        assert page.evaluate("document.documentElement.scrollWidth") <= width  # no sideways page scroll
        assert overflowing(page, "#risk-panel", width) == []  # nothing of the decision cut off
        assert requests == [path.resolve().as_uri(), (tmp_path / "video.mp4").resolve().as_uri()] or \
            set(requests) <= {path.resolve().as_uri(), (tmp_path / "video.mp4").resolve().as_uri()}
        assert errors == []


def test_on_a_phone_the_panels_stack_and_nothing_is_tiny(browser, tmp_path):
    """390 px wide: one column, every text at least 10 px (figures at least 8 px), every window target at
    least 24 × 24 px, even for a long recording whose timeline then scrolls sideways (the page does not)."""
    result = make(4, windows=40, level=0.7)
    path = write_page(tmp_path, result)
    with opened(browser, path, width=PHONE[0], height=PHONE[1]) as (page, _, errors):
        wait_until(page, "document.getElementById('dashboard').dataset.ready === '1'")
        player, live = box(page, ".player-wrap"), box(page, ".live")
        assert live["y"] >= player["y"] + player["h"] - 1 and abs(live["x"] - player["x"]) < 2  # stacked
        risk, threshold = box(page, "#rule-panel"), box(page, "#threshold-panel")
        assert threshold["y"] >= risk["y"] + risk["h"] - 1
        sizes = page.evaluate("""() => Array.from(document.querySelectorAll('#timeline .window'))
            .map(e => { const r = e.getBoundingClientRect(); return [r.width, r.height]; })""")
        assert len(sizes) == 40, sizes
        assert min(w for w, _ in sizes) >= 24 and min(h for _, h in sizes) >= 24, sizes[:3]
        smallest = page.evaluate(SMALLEST_TEXT)
        assert smallest["html"] >= 10 and smallest["svgText"] >= 8, smallest
        for selector in (".tl-letter", ".axis-ticks span", ".tl-y span", ".scale-ticks span"):
            assert page.eval_on_selector(selector, "e => parseFloat(getComputedStyle(e).fontSize)") >= 11
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE[0]
        assert page.evaluate("document.getElementById('timeline-scroll').scrollWidth") > PHONE[0]
        # a window far right is reached by scrolling the timeline, and a click selects it
        page.click("#timeline .window[data-index='38']")
        assert page.get_attribute("#dashboard", "data-window") == "38"
        assert page.evaluate("document.getElementById('timeline-scroll').scrollLeft") > 0
        assert errors == []


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["1366x768", "390x844"])
def test_a_withheld_result_shows_no_risk_on_the_first_screen(browser, tmp_path, size):
    states = ["unreliable"] * 5 + ["good"] * 3
    result = make(5, windows=8, level=0.1, states=states)
    assert result.withheld and result.colour == "grey"
    path = write_page(tmp_path, result)
    width, height = size
    with opened(browser, path, width=width, height=height) as (page, _, errors):
        assert page.inner_text("#risk") == "cannot be assessed"
        assert page.get_attribute("#risk", "data-withheld") == "1"
        assert page.inner_text("#colour .colour-name") == "grey"
        assert page.inner_text("#classification") == "cannot be assessed"
        headline = "cannot be assessed: tracking unreliable in 5 of 8 windows"
        assert page.inner_text("#withheld").startswith(headline)
        for selector in ("#risk", "#colour", "#withheld", "#disclaimer"):
            assert on_first_screen(page, selector, height), selector
        assert overflowing(page, "#risk-panel", width) == []
        decision = page.inner_text("#risk-panel")
        assert f"{result.risk:.3f}" not in decision and "predict CP" not in decision  # no risk, no share
        # the timeline marks the windows left out: hatched, ✕, and said in words
        assert page.locator("#timeline .window.unreliable").count() == 5
        assert page.locator("#timeline .left-out").count() == 5
        assert [m.count("✕") for m in page.locator(".tl-mark").all_inner_texts()].count(1) == 5
        assert "left out: tracking unreliable" in page.get_attribute("#timeline .window[data-index='0']",
                                                                     "aria-label")
        assert errors == []


def test_a_doubtful_result_is_never_certain_and_says_why(browser, tmp_path):
    result = make(6, windows=8, level=0.05, states=["good"] * 6 + ["doubtful", "unreliable"])
    assert result.quality.state == "doubtful" and result.colour == "yellow"  # green made uncertain
    path = write_page(tmp_path, result)
    with opened(browser, path, width=DESKTOP[0], height=DESKTOP[1]) as (page, _, errors):
        assert page.inner_text("#colour .colour-name") == "yellow"
        assert "Tracking doubtful" in page.inner_text("#tracking")
        assert "7 windows (1 of 8 left out: tracking unreliable)" in page.inner_text("#instances-line")
        assert page.locator("#timeline .window.doubtful").count() == 1
        assert page.inner_text(".tl-mark[data-index='6']").endswith("?")
        assert on_first_screen(page, "#tracking", DESKTOP[1])
        assert errors == []


# ------------------------------------------------------------------------------------------------ colours
def test_every_coloured_element_has_its_legend_in_one_colour_language(browser, tmp_path):
    result = make(7, windows=8, level=0.8)  # CP: explained toward CP
    path = write_page(tmp_path, result)
    with opened(browser, path, width=DESKTOP[0], height=DESKTOP[1]) as (page, _, errors):
        wait_until(page, "document.getElementById('dashboard').dataset.ready === '1'")
        # every coloured element, its legend beside it (in the same panel) and visible
        coloured = {"player": "#player", "live-skeleton": "#live-skeleton", "timeline": "#timeline",
                    "kp-quality": "#kp-quality", "fig-windows": "#fig-windows svg", "fig-cam": "#fig-cam svg",
                    "fig-cam-time": "#fig-cam-time svg", "fig-missing": "#fig-missing svg"}
        for target, selector in coloured.items():
            legend = page.locator(f"[data-legend-for='{target}']")
            assert legend.count() == 1 and legend.is_visible(), target
            same = page.evaluate("([a, b]) => document.querySelector(a).closest('section') === "
                                 "document.querySelector(b).closest('section')",
                                 [selector, f"[data-legend-for='{target}']"])
            assert same, target
        # the sequential scale's legends show exactly the scale's colours
        gradient = page.eval_on_selector("[data-legend-for='live-skeleton'] .scale-bar",
                                         "e => getComputedStyle(e).backgroundImage")
        assert re.findall(r"rgb\([^)]*\)", gradient) == [rgb(h) for h in SEQUENTIAL_HEX]
        assert rgb(SEQUENTIAL_HEX[0]) == "rgb({}, {}, {})".format(*confidence_colour(0.0))  # the video's ends
        assert rgb(SEQUENTIAL_HEX[-1]) == "rgb({}, {}, {})".format(*confidence_colour(1.0))
        # the static CAM skeleton and the live one are coloured by cam_colour: the scale, score^¼
        fills = page.eval_on_selector_all("#fig-cam circle.joint", FILLS)
        assert fills == [report.svg.hex_colour(cam_colour(v)) for v in np.clip(result.cam, 0, 1)]
        page.click("#timeline .window[data-index='3']")
        page.evaluate("document.getElementById('player').pause()")
        live = page.eval_on_selector_all("#live-skeleton .live-joint", FILLS)
        cam = page_data(path)["windows"][3]["cam"]  # what the page holds (4 decimals)
        np.testing.assert_allclose(cam, result.window_cam[3], atol=5e-5)
        assert triples(live) == triples(report.svg.hex_colour(cam_colour(v)) for v in cam)
        # certainty colours: never alone — a letter under every column of the timeline, in the colours' order
        letters = page.locator(".tl-letter").all_inner_texts()
        assert letters == [report.svg.LETTER[c] for c in result.window_colour]
        assert page.locator("svg.boxplots .letter").all_text_contents() == letters
        # the sequential scale shares no colour with the certainty code
        from infantjax.explain import COLOUR_RGB

        scale = {sequential_hex(v) for v in np.linspace(0, 1, 101)}
        assert not {h.lower() for h in COLOUR_RGB.values()} & scale
        assert errors == []


# ------------------------------------------------------------------------------------------------ playback
def test_a_click_plays_the_window_and_stops_at_its_end_and_the_window_stays_selected(browser, tmp_path):
    result = make(8, windows=8, level=0.3)
    path = write_page(tmp_path, result)
    windows = report.dashboard_data(result, make_sequence(result, 0), video="video.mp4",
                                    window_s=5.0)["windows"]
    with opened(browser, path, width=DESKTOP[0], height=DESKTOP[1]) as (page, requests, errors):
        wait_until(page, "document.getElementById('player').readyState >= 1")
        page.evaluate("document.getElementById('player').playbackRate = 4")
        k = 2
        w = windows[k]
        page.click(f"#timeline .window[data-index='{k}']")
        assert page.get_attribute("#dashboard", "data-window") == str(k)
        # past the start of the next windows (which overlap it) the selection stays
        wait_until(page, f"document.getElementById('player').currentTime > {windows[k + 2]['start'] + 0.2}")
        assert page.get_attribute("#dashboard", "data-window") == str(k)
        assert "window 3 of 8" in page.inner_text("#live-window")
        # ... and the video stops at the window's end, on its last frame
        wait_until(page, f"document.getElementById('dashboard').dataset.stopped === '{k}'")
        page.wait_for_timeout(300)
        assert page.evaluate("document.getElementById('player').paused")
        t = page.evaluate("document.getElementById('player').currentTime")
        assert w["end"] - 0.05 <= t <= w["end"], (t, w)
        assert page.get_attribute("#dashboard", "data-window") == str(k)
        assert "played to its end" in page.inner_text("#live-window")
        active = page.eval_on_selector_all("#timeline .window.active", "es => es.map(e => e.dataset.index)")
        assert active == [str(k)]
        # another window is chosen from the list of decisive windows: it is selected and plays from its start
        other = int(page.get_attribute("#decision-windows .win-link >> nth=0", "data-index"))
        page.click(f"#decision-windows .win-link[data-index='{other}']")
        assert page.get_attribute("#dashboard", "data-window") == str(other)
        t = page.evaluate("document.getElementById('player').currentTime")
        assert windows[other]["start"] - 1e-3 <= t <= windows[other]["end"]
        page.evaluate("document.getElementById('player').pause()")
        active = page.eval_on_selector_all("#timeline .window.active", "es => es.map(e => e.dataset.index)")
        assert active == [str(other)]
        # the keyboard does the same
        page.focus("#timeline .window[data-index='5']")
        page.keyboard.press("Enter")
        page.evaluate("document.getElementById('player').pause()")
        assert page.get_attribute("#dashboard", "data-window") == "5"
        assert set(requests) <= {path.resolve().as_uri(), (tmp_path / "video.mp4").resolve().as_uri()}
        assert errors == []


def test_a_limb_the_pose_model_cannot_see_is_drawn_faded_and_said(browser, tmp_path):
    """The left leg under a blanket from 2 to 4 s: the pose model still places its knee and ankle, with a
    confidence far below the frame's best-seen joints'. The gate calls the limb hidden in those frames, and the
    skeleton draws its joints and bones faded there, with a note saying why; in the other frames nothing is."""
    from infantjax.skeleton import get

    names = get("in-motion-19").keypoints
    knee, ankle = names.index("left_knee"), names.index("left_ankle")
    result = make(9, windows=8, level=0.3)
    seq = make_sequence(result, 0)
    conf = seq.confidence.copy()
    conf[60:120, [knee, ankle]] = 0.05
    seq = seq.replace(confidence=conf)
    hidden = report.dashboard_data(result, seq, video=None, window_s=5.0)["frames"]["hidden"]
    assert [f for f, joints in enumerate(hidden) if joints] == list(range(60, 120))
    assert hidden[90] == sorted([knee, ankle])
    path = write_page(tmp_path, result, video=False, seq=seq)
    with opened(browser, path, width=PHONE[0], height=PHONE[1]) as (page, _, errors):
        faded = "es => es.filter(e => e.classList.contains('unseen')).map(e => e.dataset.joint)"
        page.click("#timeline .window[data-index='3']")  # starts at 3 s: frame 90
        assert page.get_attribute("#dashboard", "data-frame") == "90"
        assert sorted(page.eval_on_selector_all("#live-skeleton .live-joint", faded)) == ["left_ankle", "left_knee"]
        bones = page.eval_on_selector_all("#live-skeleton .bone.unseen", "es => es.map(e => [e.dataset.a, "
                                          "e.dataset.b])")
        assert bones and all(str(knee) in b or str(ankle) in b for b in bones)
        assert page.eval_on_selector("#live-skeleton .live-joint.unseen",
                                     "e => getComputedStyle(e).fillOpacity") == "0.2"
        assert "cannot see" in page.inner_text("#unseen-note")
        page.click("#timeline .window[data-index='5']")  # 5 s: every limb seen
        assert page.eval_on_selector_all("#live-skeleton .unseen", "es => es.length") == 0
        assert errors == []


# ------------------------------------------------------------------------------------------------ no CP
def test_a_no_cp_decision_is_explained_by_the_no_cp_class(browser, tmp_path):
    result = make(9, windows=8, level=0.1)
    assert not result.cp and result.no_cp_cam is not None
    result = assess(result.predictions, 0.5, window_starts=result.window_starts, cam=np.zeros(19),
                    window_cam=np.zeros((8, 19)), no_cp_cam=result.no_cp_cam,
                    no_cp_window_cam=result.no_cp_window_cam, metadata=result.metadata,
                    instance_names=result.instance_names)  # the CP map all zero, as for an infant without CP
    path = write_page(tmp_path, result)
    with opened(browser, path, width=DESKTOP[0], height=DESKTOP[1]) as (page, _, errors):
        wait_until(page, "document.getElementById('dashboard').dataset.ready === '1'")
        assert "toward no CP" in page.inner_text("#h-cam")
        assert "toward no CP" in page.inner_text("#h-cam-time")
        cams = page.eval_on_selector_all("#fig-cam circle.joint", "es => es.map(e => +e.dataset.cam)")
        np.testing.assert_allclose(cams, result.no_cp_cam, atol=1e-4)
        top = page.inner_text("#cam-top")
        best = int(np.argmax(result.no_cp_cam))
        assert f"{result.no_cp_cam[best]:.2f}" in top and float(re.findall(r"\d\.\d\d", top)[0]) > 0
        page.click("#decision-windows .win-link >> nth=0")
        k = int(page.get_attribute("#dashboard", "data-window"))
        assert "toward no CP" in page.inner_text("#live-top")
        live = page.eval_on_selector_all("#live-skeleton .live-joint", FILLS)
        cam = page_data(path)["windows"][k]["cam"]
        np.testing.assert_allclose(cam, result.no_cp_window_cam[k], atol=5e-5)
        assert triples(live) == triples(report.svg.hex_colour(cam_colour(v)) for v in cam)
        assert len(set(live)) > 3  # not one colour: the no-CP map has a shape
        assert errors == []


# ------------------------------------------------------------------------------------------------ print
def test_the_print_layout_gives_the_decision_the_timeline_and_the_decisive_windows(browser, tmp_path):
    result = make(10, windows=23, level=0.7)
    path = write_page(tmp_path, result)
    with opened(browser, path, width=DESKTOP[0], height=DESKTOP[1]) as (page, _, errors):
        wait_until(page, "document.getElementById('dashboard').dataset.ready === '1'")
        assert "window 1 of 23" in page.inner_text("#live-window")  # on screen
        page.emulate_media(media="print")
        for selector in ("#risk", "#colour", "#classification", "#disclaimer", "#timeline",
                         "#decision-windows", "[data-legend-for='timeline']", ".tl-letter"):
            assert page.locator(selector).first.is_visible(), selector
        for selector in ("#player", "#live-window", ".live", ".playhead"):
            assert not page.locator(selector).first.is_visible(), selector
        printed = page.inner_text("body")
        assert "window 1 of 23" not in printed.lower() and "click a window" not in printed
        assert "At the playhead" not in printed
        assert page.locator("#decision-windows .win-link").count() == 3
        assert box(page, "#timeline")["w"] > 400
        pages = pdf_pages(page.pdf(format="A4", print_background=True))
        assert 1 <= pages <= 2, pages
        assert errors == []
