"""Clinical outputs of an ensemble: CP risk, classification, certainty colours, evaluation and JSON records.

    from infantjax.clinical import assess
    result = assess(predictions, threshold=0.5)      # predictions (windows × instances) of P(CP)
    result.risk, result.cp, result.colour, result.window_colour
    result.save_json("infant.json")

    from infantjax.clinical import assess_tracking             # the tracking-quality gate result =
    assess_prediction(prediction, quality=keypoints)   # unreliable windows out; withheld when too few

See ``docs/clinical.md`` and ``docs/quality.md``.
"""

from infantjax.clinical.evaluation import (
    COLOUR_ORDER,
    ETABLE5_THRESHOLDS,
    Evaluation,
    ThresholdRow,
    cam_correlation,
    compare_groups,
    evaluate,
    format_threshold_table,
    risks_of,
    threshold_table,
)
from infantjax.clinical.quality import (
    RECORDING_MIN_S,
    THRESHOLDS,
    Thresholds,
    TrackingQuality,
    assess_tracking,
    calibrate_thresholds,
    hidden_joints,
    recording_length_warning,
    window_spans,
)
from infantjax.clinical.risk import (
    CERTAINTY_RULES,
    COLOURS,
    WITHHELD_COLOUR,
    WITHHELD_LABEL,
    RiskResult,
    assess,
    assess_prediction,
    colour_from_count,
    colour_from_share,
    interquartile_colour,
    prediction_quality,
    write_json,
)

__all__ = [
    "CERTAINTY_RULES",
    "COLOURS",
    "COLOUR_ORDER",
    "ETABLE5_THRESHOLDS",
    "RECORDING_MIN_S",
    "THRESHOLDS",
    "WITHHELD_COLOUR",
    "WITHHELD_LABEL",
    "Evaluation",
    "RiskResult",
    "ThresholdRow",
    "Thresholds",
    "TrackingQuality",
    "assess",
    "assess_prediction",
    "assess_tracking",
    "calibrate_thresholds",
    "cam_correlation",
    "colour_from_count",
    "colour_from_share",
    "compare_groups",
    "evaluate",
    "format_threshold_table",
    "hidden_joints",
    "interquartile_colour",
    "prediction_quality",
    "recording_length_warning",
    "risks_of",
    "threshold_table",
    "window_spans",
    "write_json",
]
