"""The clinical report: one self-contained HTML page per infant and one per cohort (seed 002, Paper III Fig. 2–3).

    from infantjax import report
    info = report.EnsembleInfo.from_ensemble(ens, checkpoint="ens/")
    report.infant(result, sequence, ensemble_info=info, out="infant.html")     # one infant
    report.cohort(results, labels, sequences=sequences, out="cohort.html")     # the sortable cohort table
    report.write(results, sequences, ensemble_info=info, labels=labels, out_dir="report/")   # both, linked
    report.dashboard(result, keypoints, video="video.mp4", window_s=5.0, out="dash/dashboard.html")  # interactive

Pages need no network: CSS, the sorting script and every figure (SVG) are inside the file, and a content security
policy forbids any request. See ``docs/report.md``.
"""

from infantjax.report.dashboard import dashboard, dashboard_data, window_times
from infantjax.report.pages import (
    COLOUR_MEANING,
    DISCLAIMER,
    cohort,
    cohort_table,
    colour_rule,
    infant,
    page_names,
    write,
)
from infantjax.report.provenance import METADATA_KEY, EnsembleInfo, ThresholdTable
from infantjax.report.quality import DataQuality

__all__ = [
    "COLOUR_MEANING",
    "DISCLAIMER",
    "METADATA_KEY",
    "DataQuality",
    "EnsembleInfo",
    "ThresholdTable",
    "cohort",
    "cohort_table",
    "colour_rule",
    "dashboard",
    "dashboard_data",
    "infant",
    "page_names",
    "window_times",
    "write",
]
