"""The demo's last stage: ``infantjax assess`` on one synthetic infant's video, from the MP4 to the dashboard."""

from __future__ import annotations

import pathlib


def demo_run(out: pathlib.Path, *, seed: int = 0, duration_s: float = 8.0, fps: float = 15.0,
             progress: bool = True):
    """Render one synthetic infant's video (``duration_s`` at ``fps``, 320×240 H.264 MP4) into ``out/videos`` and
    assess it with the zoo's pose model and CP ensemble into ``out``; returns the
    :class:`~infantjax.pipelines.assessment.AssessRun`."""
    from infantjax import synth
    from infantjax.pipelines.assessment import assess

    recipe = synth.cohort("cp", n_subjects=1, seed=seed + 7, duration_s=duration_s, fps=fps, videos=True).metadata[
        "video"][0]
    (out / "videos").mkdir(parents=True, exist_ok=True)
    video = recipe.write(out / "videos" / "synthetic_infant.mp4", width=320, height=240)
    return assess(video, out / "assessment", progress=progress)
