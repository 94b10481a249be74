"""The pictures of docs/assess.md's "The dashboard" section and docs/report.md's infant page: a rendered
synthetic infant's video through ``infantjax assess`` (the zoo's default models, the labelled video), its
dashboard opened in headless Chromium with the most decisive window selected, and screenshots at a desktop's
1366 px and a phone's 390 px width; the same result's infant page (``report.infant``) at 1280 px.

    python experiments/dashboard_screenshots.py [--out docs/img] [--seed 0] [--duration 30]

Writes ``assess-dashboard.png`` (1366 px wide: the first screen and the timeline under it),
``assess-dashboard-phone.png`` (390 × 844: a phone's first screen) and ``report-infant.png`` (the whole infant
page), reduced to 256 colours to keep them small.
Needs Chromium (``apt-get install chromium``; ``$INFANTJAX_CHROMIUM`` names another) and Playwright.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import pathlib
import shutil
import sys
import tempfile

FLAGS = ("--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking")


def _chromium() -> str:
    path = (os.environ.get("INFANTJAX_CHROMIUM") or shutil.which("chromium")
            or shutil.which("chromium-browser"))
    if not path:
        sys.exit("no Chromium found: apt-get install chromium, or set INFANTJAX_CHROMIUM")
    return path


def _save(png: bytes, out: pathlib.Path, crop_height: int | None = None) -> None:
    from PIL import Image

    from infantjax.io.files import atomic_path

    image = Image.open(io.BytesIO(png)).convert("RGB")
    if crop_height is not None:
        image = image.crop((0, 0, image.width, min(crop_height, image.height)))
    image = image.quantize(colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    with atomic_path(out, parents=True) as tmp:
        image.save(tmp, format="PNG", optimize=True)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="docs/img")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--duration", type=float, default=30.0)
    args = p.parse_args(argv)

    from playwright.sync_api import sync_playwright

    from infantjax import pipelines, report, synth
    from infantjax.clinical import RiskResult
    from infantjax.io import read_keypoints
    from infantjax.skeleton import to_model_skeleton

    out = pathlib.Path(args.out)
    with tempfile.TemporaryDirectory() as tmp:
        recipe = synth.cohort("cp", n_subjects=1, seed=args.seed, duration_s=args.duration, fps=15.0,
                              videos=True).metadata["video"][0]
        video = pathlib.Path(recipe.write(pathlib.Path(tmp) / "infant.mp4", width=320, height=240))
        run = pipelines.assess(video, pathlib.Path(tmp) / "assessment", progress=False)
        record = run.records[0]
        folder = pathlib.Path(tmp) / "assessment" / record["name"]
        page_path = folder / "dashboard.html"
        first = record["decision_windows"][0]
        result = RiskResult.from_dict(json.loads((folder / "result.json").read_text()))
        tracked = read_keypoints(folder / "keypoints.csv", fps=record["keypoints"]["fps"])
        keypoints, _ = to_model_skeleton(tracked, "approximate", video)
        infant_page = report.infant(result, keypoints, ensemble_info=None, out=folder / "infant.html",
                                    name=record["name"])
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=_chromium(), headless=True, args=list(FLAGS))
            for (width, height), name, crop in (((1366, 768), "assess-dashboard.png", 1240),
                                                ((390, 844), "assess-dashboard-phone.png", None)):
                context = browser.new_context(offline=True, viewport={"width": width, "height": height})
                page = context.new_page()
                page.goto(page_path.resolve().as_uri(), wait_until="load")
                page.wait_for_function("document.getElementById('player').readyState >= 2")
                page.click(f"#timeline .window[data-index='{first}']")  # select the most decisive window
                page.evaluate("""t => { const v = document.getElementById('player'); v.pause();
                                        v.currentTime = t; }""", record["windows"][first]["start"] + 1.5)
                page.wait_for_timeout(800)
                page.evaluate("window.scrollTo(0, 0)")
                _save(page.screenshot(full_page=crop is not None), out / name, crop)
                page.context.close()
            page = browser.new_context(offline=True, viewport={"width": 1280, "height": 800}).new_page()
            page.goto(infant_page.resolve().as_uri(), wait_until="load")
            _save(page.screenshot(full_page=True), out / "report-infant.png")
            browser.close()
    print(f"{record['name']}: CP risk {record['risk']:.3f}, {record['classification']}, {record['colour']}; "
          f"window {first + 1} selected -> {out / 'assess-dashboard.png'}, "
          f"{out / 'assess-dashboard-phone.png'}, {out / 'report-infant.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
