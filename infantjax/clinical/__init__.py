"""Clinical outputs of an ensemble: CP risk, classification, certainty colours, evaluation and JSON records.

    from infantjax.clinical import assess
    result = assess(predictions, threshold=0.5)      # predictions (windows × instances) of P(CP)
    result.risk, result.cp, result.colour, result.window_colour
    result.save_json("infant.json")

See ``docs/clinical.md``.
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
from infantjax.clinical.risk import (
    CERTAINTY_RULES,
    COLOURS,
    RiskResult,
    assess,
    assess_prediction,
    colour_from_count,
    colour_from_share,
    interquartile_colour,
    write_json,
)

__all__ = [
    "CERTAINTY_RULES",
    "COLOURS",
    "COLOUR_ORDER",
    "ETABLE5_THRESHOLDS",
    "Evaluation",
    "RiskResult",
    "ThresholdRow",
    "assess",
    "assess_prediction",
    "cam_correlation",
    "colour_from_count",
    "colour_from_share",
    "compare_groups",
    "evaluate",
    "format_threshold_table",
    "interquartile_colour",
    "risks_of",
    "threshold_table",
    "write_json",
]
