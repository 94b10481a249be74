"""Helpers shared by the report tests: clinical results with known numbers (no model needed) and recordings with
planted gaps."""

from __future__ import annotations

import numpy as np

from infantjax.clinical import assess
from infantjax.sequence import SkeletonSequence


def make_result(seed: int = 0, *, windows: int = 8, instances: int = 7, threshold: float = 0.5, cam: bool = True,
                name: str | None = None):
    """A RiskResult from random (windows × instances) predictions around a random level, with a random CAM."""
    rng = np.random.default_rng(seed)
    level = rng.uniform(0.1, 0.9)
    p = np.clip(level + rng.normal(0, 0.12, (windows, instances)), 0.0, 1.0)
    window_cam = rng.uniform(0, 1, (windows, 19)) ** 3 if cam else None
    meta = {"subject": name or f"s{seed:03d}", "fps": 30.0, "num_frames": 30 * (windows + 1), "model_fps": 30.0}
    return assess(p, threshold, window_starts=np.arange(windows) * 30, instance_names=[f"spec0/fold{i}" for i in
                                                                                      range(instances)],
                  cam=None if window_cam is None else np.median(window_cam, axis=0), window_cam=window_cam,
                  metadata=meta)


def make_sequence(result, seed: int = 0, *, gap_joint: int | None = 7, lost_joint: int | None = None,
                  confidence: bool = True) -> SkeletonSequence:
    """A recording of the result's length: random walks, a 20-frame gap in ``gap_joint`` and ``lost_joint`` missing
    in every frame."""
    rng = np.random.default_rng(seed + 1000)
    frames = int(result.metadata["num_frames"])
    coords = (rng.normal(0, 1, (1, 19, 2)) * 40 + 200 + np.cumsum(rng.normal(0, 1, (frames, 19, 2)), axis=0))
    coords = coords.astype(np.float32)
    if gap_joint is not None:
        coords[10:30, gap_joint] = np.nan
    if lost_joint is not None:
        coords[:, lost_joint] = np.nan
    conf = rng.uniform(0.5, 1.0, (frames, 19)).astype(np.float32) if confidence else None
    return SkeletonSequence(coords, fps=30.0, confidence=conf, metadata={"subject": result.metadata["subject"]})
