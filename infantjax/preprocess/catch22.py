"""The catch22 features of seed 003's baseline: the 22 CAnonical Time-series CHaracteristics (Lubba et al. 2019) of
each of the 46 Passmore feature series of a video, through the optional ``pycatch22`` package
(``pip install infantjax[catch22]``; the test extra installs it).
"""

from __future__ import annotations

import numpy as np
from jaxtyping import ArrayLike, Float

from infantjax.errors import ConfigError, DataError

__all__ = ["NUM_CATCH22", "catch22_features", "catch22_names"]

NUM_CATCH22 = 22


def _pycatch22():
    try:
        import pycatch22
    except ImportError:
        raise ConfigError("the catch22 baseline needs the optional package pycatch22: pip install "
                          "'infantjax[catch22]' (or pip install pycatch22)") from None
    return pycatch22


def catch22_names() -> list[str]:
    """The 22 feature names, in the order of :func:`catch22_features`' inner axis."""
    return list(_pycatch22().catch22_all([0.0, 1.0, 0.0, 1.0, 2.0, 1.0, 0.0, 1.0])["names"])


def catch22_features(features: Float[ArrayLike, "T F"]) -> Float[np.ndarray, " F*22"]:
    """The 22 catch22 features of every column of a video's feature matrix, series-major (column f's features at
    ``22·f … 22·f + 21``).

    Arguments:
        features: (T, F) feature matrix (the 46 Passmore features of 4500 samples).

    Returns:
        (F · 22,) float64; a feature catch22 cannot compute (a constant series) is NaN.
    """
    catch22 = _pycatch22()
    x = np.asarray(features, np.float64)
    if x.ndim != 2 or len(x) < 10:
        raise DataError(f"catch22_features needs a (T, F) feature matrix with at least 10 samples, got {x.shape}")
    if not np.isfinite(x).all():
        raise DataError("catch22_features: the feature matrix contains NaN/inf; fill gaps first")
    out = np.empty((x.shape[1], NUM_CATCH22))
    for f in range(x.shape[1]):
        out[f] = catch22.catch22_all(x[:, f].tolist())["values"]
    return out.reshape(-1)
