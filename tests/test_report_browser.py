"""The report pages rendered in a real headless Chromium (Debian's ``chromium``, driven by Playwright): what the
browser shows equals the RiskResult, every figure has a size, nothing is fetched, the page fits a 1280×800 window
and prints on one A4 page, and a cohort page of 200 infants opens and sorts in under 2 s of the browser's clock.
Skipped without Chromium (``apt-get install chromium``); CI installs it."""

from __future__ import annotations

import contextlib
import io
import re

import numpy as np
import pytest
from _report_utils import make_result, make_sequence

from infantjax import report

pytestmark = pytest.mark.browser


@contextlib.contextmanager
def opened(browser, path, *, width: int = 1280, height: int = 800):
    """A page showing ``path`` in a fresh offline context; yields (page, requested URLs, console errors)."""
    context = browser.new_context(offline=True, viewport={"width": width, "height": height})
    requests: list[str] = []
    errors: list[str] = []
    context.on("request", lambda r: requests.append(r.url))
    page = context.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(path.resolve().as_uri(), wait_until="load")
        yield page, requests, errors
    finally:
        context.close()


def figure_sizes(page) -> list[tuple[float, float]]:
    return page.evaluate("""() => Array.from(document.querySelectorAll('svg.fig'))
        .map(s => { const r = s.getBoundingClientRect(); return [r.width, r.height]; })""")


def pixel_spread(png: bytes) -> float:
    """Standard deviation of the grey levels of a screenshot (a blank page gives ~0)."""
    from PIL import Image

    return float(np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=np.float64).std())


def pdf_pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page[^s]", pdf))


def test_infant_page_shows_the_result_and_prints_on_one_a4_page(browser, tmp_path):
    result = make_result(11, windows=9)
    seq = make_sequence(result, 11, gap_joint=3)
    path = report.infant(result, seq, ensemble_info=None, out=tmp_path / "infant.html")
    with opened(browser, path) as (page, requests, errors):
        assert page.inner_text("#risk") == f"{result.risk:.3f}"
        assert float(page.get_attribute("#risk", "data-risk")) == result.risk
        assert page.inner_text("#colour .colour-name") == result.colour
        assert page.inner_text("#classification") == result.label
        assert page.locator("svg.boxplots g.box").count() == result.predictions.shape[0]
        assert page.locator("svg.cam-skeleton circle.joint").count() == 19
        sizes = figure_sizes(page)
        assert len(sizes) == 4 and all(w > 50 and h > 20 for w, h in sizes), sizes  # the legends are HTML
        # the risk colour is shown with its name: the swatch beside the text has the certainty colour
        swatch = page.eval_on_selector("#colour .swatch", "e => getComputedStyle(e).backgroundColor")
        from infantjax.explain import COLOUR_RGB

        hexed = COLOUR_RGB[result.colour].lstrip("#")
        assert swatch == "rgb({}, {}, {})".format(*(int(hexed[i:i + 2], 16) for i in (0, 2, 4)))
        # readable at 1280×800 without horizontal scrolling
        assert page.evaluate("document.documentElement.scrollWidth") <= 1280
        shot = page.screenshot(full_page=True, path=str(tmp_path / "infant.png"))
        assert pixel_spread(shot) > 20
        assert pdf_pages(page.pdf(format="A4", print_background=True)) == 1
        assert requests == [path.resolve().as_uri()] and errors == []


def test_bad_input_pages_say_so_and_still_fit_one_a4_page(browser, tmp_path):
    """No CAM, a joint never observed, a long recording (120 windows) and a 70-instance provenance."""
    result = make_result(12, windows=120, instances=70, cam=False)
    seq = make_sequence(result, 12, lost_joint=15)
    seq = seq.replace(coords=np.where(np.random.default_rng(0).random(seq.coords.shape[:2])[..., None] < 0.35,
                                      np.nan, seq.coords))  # 35 % missing: a third warning
    info = report.EnsembleInfo(architectures=tuple(f"searchable GCN (GCNSpec): {k},000 parameters; graph dis2"
                                                   for k in range(10)), stack_sizes=(7,) * 10, config_hash="ab" * 32,
                               checkpoint="/data/ensembles/ensemble-nas-gcn", training="SGD learning rate 0.0005")
    path = report.infant(result, seq, ensemble_info=info, out=tmp_path / "bad.html")
    with opened(browser, path) as (page, requests, errors):
        assert "Not available" in page.inner_text("#cam-panel")
        warnings = page.inner_text("#warnings")
        assert "right_ankle" in warnings and "% of all keypoints are missing" in warnings
        assert page.locator("svg.boxplots g.box").count() == 120
        assert all(w > 50 and h > 20 for w, h in figure_sizes(page))
        assert page.evaluate("document.documentElement.scrollWidth") <= 1280
        assert pdf_pages(page.pdf(format="A4", print_background=True)) == 1
        assert requests == [path.resolve().as_uri()] and errors == []


def test_cohort_of_200_opens_and_sorts_within_2_s(browser, tmp_path):
    results = [make_result(s, windows=10) for s in range(200)]
    labels = np.array([int(r.risk > 0.5) ^ (s % 6 == 0) for s, r in enumerate(results)])
    sequences = [make_sequence(r, s) for s, r in enumerate(results[:3])] + [None] * 197
    names = report.page_names(results)
    for i in range(3):  # the first rows link to real pages
        report.infant(results[i], sequences[i], ensemble_info=None, out=tmp_path / "infants" / f"{names[i]}.html",
                      cohort_page="../cohort.html")
    path = report.cohort(results, labels, sequences=sequences, names=names, out=tmp_path / "cohort.html",
                         links=[f"infants/{n}.html" for n in names])
    with opened(browser, path) as (page, requests, errors):
        opened_ms = page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd")
        assert page.get_attribute("#infants", "data-sortable") == "ready"
        assert page.locator("#infants tbody tr").count() == 200
        assert page.inner_text("#n-infants") == "200"
        assert page.locator("svg.roc .roc-curve").count() == 1 and page.locator("#threshold-table tbody tr").count() == 6
        assert all(w > 50 and h > 20 for w, h in figure_sizes(page))
        click = """col => { const t0 = performance.now();
            document.querySelectorAll('#infants thead th')[col].querySelector('button').click();
            return performance.now() - t0; }"""
        risk_of_rows = "() => Array.from(document.querySelectorAll('#infants tbody tr')).map(r => +r.cells[1].dataset.sort)"
        sorted_ms = page.evaluate(click, 1)
        risks = page.evaluate(risk_of_rows)
        assert risks == sorted(r.risk for r in results)
        assert page.get_attribute("#infants thead th:nth-child(2)", "aria-sort") == "ascending"
        assert opened_ms + sorted_ms < 2000, (opened_ms, sorted_ms)
        page.evaluate(click, 1)
        assert page.evaluate(risk_of_rows) == sorted((r.risk for r in results), reverse=True)
        page.evaluate(click, 3)  # certainty colour: green → red, ties in page order
        order = {"green": 0, "yellow": 1, "orange": 2, "red": 3}
        colours = page.evaluate("() => Array.from(document.querySelectorAll('#infants tbody tr .colour-name'))"
                                ".map(e => e.textContent)")
        assert colours == sorted((r.colour for r in results), key=order.get)
        assert pixel_spread(page.screenshot(path=str(tmp_path / "cohort.png"))) > 20
        assert page.evaluate("document.documentElement.scrollWidth") <= 1280
        # a row's link opens that infant's page, which links back
        page.evaluate(click, 0)
        page.click("#infants tbody tr:first-child a")
        page.wait_for_load_state("load")
        assert page.url.endswith(f"infants/{min(names)}.html")
        assert page.inner_text("#risk") == f"{results[names.index(min(names))].risk:.3f}"
        assert all(u.startswith("file://") for u in requests) and errors == []
