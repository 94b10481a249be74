"""The outputs of an assessment over its folder: ``summary.csv`` (one row per video, whatever its state) and the
cohort page of the finished videos."""

from __future__ import annotations

import csv
import io
import json
import pathlib

from infantjax.errors import DataError, InfantJaxError
from infantjax.io import files
from infantjax.pipelines.assessment.models import Models

_SUMMARY_COLUMNS = ("video", "folder", "status", "risk", "classification", "colour", "quality",
                    "quality_reasons", "windows", "frames", "duration_s", "seconds", "dashboard", "error")


def _write_summary(out: pathlib.Path, videos, names, records, failed,
                   states: dict | None = None) -> pathlib.Path:
    """``summary.csv``: one row per video. ``status`` is ``done``, ``failed``, ``stale`` (an older result
    being redone: not current), ``pending`` (not reached yet) or ``running``; a withheld video is ``done``
    with the class "cannot be assessed", the colour grey and quality ``unreliable``."""
    errors = {f["folder"]: f for f in failed}
    states = states or {}
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=_SUMMARY_COLUMNS, lineterminator="\n")
    w.writeheader()
    for v, n, r in zip(videos, names, records):
        if r is None:
            f = errors.get(n)
            status = "failed" if f is not None else states.get(n, "pending")
            w.writerow({"video": v.name, "folder": n, "status": status,
                        "error": "" if f is None else f"{f['error']}: {f['message']}"})
            continue
        quality = r.get("quality") or {}
        w.writerow({"video": v.name, "folder": n, "status": "done", "risk": f"{r['risk']:.4f}",
                    "classification": r["classification"], "colour": r["colour"],
                    "quality": quality.get("state", ""),
                    "quality_reasons": "; ".join(quality.get("reasons") or ()),
                    "windows": len(r["windows"]), "frames": r["keypoints"]["frames"],
                    "duration_s": f"{r['video']['duration_s']:.2f}", "seconds": f"{r['seconds']:.2f}",
                    "dashboard": f"{n}/{r['files']['dashboard']}", "error": ""})
    return files.write_text(out / "summary.csv", buf.getvalue(), parents=True)


def _write_cohort(out: pathlib.Path, names, records, models: Models) -> pathlib.Path | None:
    """The cohort page of the finished videos (none: the page is removed, so it links nothing stale)."""
    from urllib.parse import quote

    from infantjax import report
    from infantjax.clinical import RiskResult

    done = [(n, r) for n, r in zip(names, records) if r is not None]
    if not done:
        (out / "cohort.html").unlink(missing_ok=True)
        return None
    results = []
    for n, r in done:
        try:
            results.append(RiskResult.from_dict(json.loads((out / n / r["files"]["result"]).read_text())))
        except (OSError, ValueError, KeyError, InfantJaxError) as err:
            raise DataError(f"{out / n / 'result.json'} is unreadable ({type(err).__name__}); delete {out / n} "
                            "and run again to redo that video") from None
    info = report.EnsembleInfo.from_ensemble(models.ensemble, checkpoint=models.ensemble_name)
    return report.cohort(results, names=[n for n, _ in done],
                         links=[f"{quote(n)}/dashboard.html" for n, _ in done], ensemble_info=info,
                         out=out / "cohort.html")
