"""Calibration of a protocol's probabilities: Platt scaling as seed 003 codes it."""

from __future__ import annotations

import numpy as np

from infantjax.errors import DataError
from infantjax.infer.passmore import calibrate  # noqa: F401 - σ(α·p + β), applied at prediction time


def platt_scaling(probabilities: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Platt scaling as coded (``calibrate_model``): an unpenalised, class-balanced logistic regression of the labels
    on the *probabilities*; a negative slope flips the signs of both coefficients.

    Returns:
        (slope α, intercept β): the calibrated probability is σ(α·p + β) (:func:`calibrate`).
    """
    from sklearn.linear_model import LogisticRegression

    p = np.asarray(probabilities, np.float64).reshape(-1, 1)
    y = np.asarray(labels)
    if len(p) != len(y) or len(np.unique(y)) < 2:
        raise DataError(f"platt_scaling needs probabilities and labels of both classes, got {len(p)} probabilities "
                        f"and classes {np.unique(y).tolist()}")
    # penalty='none' of the reference; C = inf is the same unpenalised fit in every scikit-learn version
    model = LogisticRegression(C=np.inf, class_weight="balanced", solver="lbfgs").fit(p, y)
    slope, intercept = float(model.coef_[0, 0]), float(model.intercept_[0])
    if slope < 0:  # the reference's sign rule
        slope, intercept = -slope, -intercept
    return slope, intercept

