"""The papers' non-neural baselines: linear regression and LASSO on limb correlations (seed 000), catch22 with
an L2 logistic regression (seed 003)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from infantjax.errors import DataError
from infantjax.preprocess.sma import correlation_features
from infantjax.protocols.evaluation import binary_scores
from infantjax.protocols.splits import Split, loso_folds
from infantjax.train.sma import Windows


def lasso_alpha(features: np.ndarray, targets: np.ndarray, *, num: int = 100, ratio: float = 1e-3) -> float:
    """The paper's LASSO coefficient: on a geometric sequence of ``num`` coefficients from the smallest that zeroes
    every weight (α_max) down to ``ratio``·α_max, the largest one that gives a non-null model."""
    from sklearn.linear_model import lasso_path

    x = np.asarray(features, np.float64)
    y = np.asarray(targets, np.float64)
    xc, yc = x - x.mean(0), y - y.mean()
    alpha_max = float(np.max(np.abs(xc.T @ yc)) / len(y))
    if alpha_max <= 0:
        return float(ratio)
    alphas = alpha_max * np.geomspace(1.0, ratio, num)
    _, coefs, _ = lasso_path(xc, yc, alphas=alphas)
    nonnull = np.flatnonzero(np.any(coefs != 0, axis=0))
    return float(alphas[nonnull[0]]) if len(nonnull) else float(alphas[-1])


def linear_baselines(windows: Windows, *, folds: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """The paper's baselines (§5.1): linear regression and LASSO on the limb-correlation features
    (:func:`~infantjax.preprocess.sma.correlation_features`), leave-one-subject-out.

    Returns:
        ``{"linear": (N,), "lasso": (N,)}`` held-out predictions of every window (NaN outside ``folds``).
    """
    from sklearn.linear_model import Lasso, LinearRegression

    x = correlation_features(windows.windows)
    y = np.asarray(windows.scores, np.float64)
    held = loso_folds(windows.subjects) if folds is None else [str(f) for f in folds]
    out = {"linear": np.full(len(y), np.nan), "lasso": np.full(len(y), np.nan)}
    for s in held:
        test = windows.subjects == s
        out["linear"][test] = LinearRegression().fit(x[~test], y[~test]).predict(x[test])
        alpha = lasso_alpha(x[~test], y[~test])
        out["lasso"][test] = Lasso(alpha=alpha).fit(x[~test], y[~test]).predict(x[test])
    return out



def catch22_baseline(catch22: np.ndarray, labels: np.ndarray, splits: Sequence[Split], *,
                     Cs: Sequence[float] = tuple(10.0 ** np.arange(-3, 4)), folds: int = 5) -> list[dict]:
    """Seed 003's comparison (Methods): an L2-regularised logistic regression on the catch22 features of every
    feature series, trained on each split's training and validation videos (85 %) and scored on its test videos,
    the regularisation strength chosen from 10^-3 … 10^3 by a nested stratified 5-fold cross-validation.

    Arguments:
        catch22: (videos, 46 · 22) features (:func:`infantjax.preprocess.catch22.catch22_features`).
        labels: (videos,) 0/1.
        splits: the protocol's splits.
        Cs: the grid of inverse L2 strengths (features are standardised first).
        folds: inner cross-validation folds (fewer when a class has fewer training videos).

    Returns:
        per split, :func:`binary_scores` of the test videos.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x = np.asarray(catch22, np.float64)
    y = np.asarray(labels).astype(int)
    if x.ndim != 2 or len(x) != len(y):
        raise DataError(f"catch22_baseline: features {x.shape} for {len(y)} labels")
    x = np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)
    out = []
    for s in splits:
        fit_idx = np.concatenate([s.train, s.validation])
        k = int(min(folds, np.bincount(y[fit_idx], minlength=2).min()))
        if k < 2:
            raise DataError("catch22_baseline: a split's training videos hold fewer than 2 of one class")
        model = GridSearchCV(make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)),
                             {"logisticregression__C": list(Cs)}, cv=StratifiedKFold(k), scoring="neg_log_loss")
        model.fit(x[fit_idx], y[fit_idx])
        out.append(binary_scores(y[s.test], model.predict_proba(x[s.test])[:, 1]))
    return out

