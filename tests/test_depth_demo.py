"""The tiny end-to-end depth demo (synthetic clips -> detection -> Asy-regression -> linking -> RMSD)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from infantjax.commands.demo.depth import demo_run
from infantjax.metrics.pose import LIMB_NAMES


@pytest.mark.slow  # ~45 s of CPU: trains two small 3D CNNs
def test_demo_run_trains_links_and_reports_rmsd_per_limb(tmp_path):
    record = demo_run(tmp_path / "demo", seed=0)
    saved = json.loads((tmp_path / "demo" / "depth_demo.json").read_text())
    assert set(saved["rmsd_median"]) == set(LIMB_NAMES) == set(record["detection_only_rmsd_median"])
    assert 0 <= record["missing"] < 0.25  # measured 10 % (seed 0)
    # the limbs it links lie within a few target radii of the truth (held-out infants, 48x32 px, r = 3)
    found = [v for v in record["rmsd_median"].values() if np.isfinite(v)]
    assert found and min(found) < 3 * 3
    zoo = saved["zoo"]  # the zoo model on the same held-out clips: better than the toy trained here
    assert zoo["name"] == "depth-synthetic" and zoo["missing"] < 0.05
    assert np.nanmean(list(zoo["rmsd_median"].values())) < 3
