"""Fine-tuning EfficientPose RT from the official MPII weights to the In-Motion 19 infant keypoints on rendered
synthetic infants, then tracking a rendered synthetic video (seed 002, Paper II protocol at a small CPU budget).

Slow: the module fine-tunes once (module fixture, shared by both tests) with
:func:`infantjax.pipelines.pose.finetune_synthetic` — 128 × 128 input, 256 rendered frames, Adam from 1e-3
with cosine decay, new PAF/heatmap heads for the 19 keypoints and 18 limbs, the MPII backbone frozen (BatchNorm in
inference mode), flip/±15°/scale augmentation — the recipe of the shipped ``rt-synthetic-infant`` weights at a
smaller step budget.
"""

from __future__ import annotations

import numpy as np
import pytest

from infantjax.io import load_efficientpose_h5
from infantjax.pipelines import pose as S
from infantjax.pipelines.pose import PosePredictor
from infantjax.train.pose import default_finetune_config

pytestmark = pytest.mark.slow

R = 128
FRAMES = 256
STEPS = 96


@pytest.fixture(scope="module")
def infant_rt(data_dir, tmp_path_factory):
    mpii = load_efficientpose_h5(data_dir / "efficientpose" / "keras" / "EfficientPoseRT.h5")
    config = default_finetune_config(steps=STEPS, frames=FRAMES)
    predictor, losses = S.finetune_synthetic(mpii.variables, resolution=R, frames=FRAMES, config=config,
                                             progress=False)
    assert len(losses) == STEPS
    assert np.mean(losses[-16:]) < 0.5 * np.mean(losses[:16])
    path = tmp_path_factory.mktemp("model") / "rt_infant.npz"
    predictor.save(path, dtype="float16")  # the shipped format
    return PosePredictor.load(path)  # the cached fine-tune, through the saved file


def test_finetuned_rt_reaches_pckh_on_held_out_frames(infant_rt):
    metrics = S.evaluate_synthetic(infant_rt, 96)  # seed 10,000: never rendered for training
    print({k: v for k, v in metrics.items() if not isinstance(v, list)})
    assert metrics["pckh@0.5"] >= 0.9
    assert metrics["pckh@1.0"] >= metrics["pckh@0.5"] >= metrics["pckh@0.1"]
    assert len(metrics["pckh_human_per_keypoint"]) == 19


def test_track_rendered_video_recovers_keypoints(infant_rt, tmp_path):
    result = S.track_synthetic_video(infant_rt, duration_s=3.0, fps=10.0, seed=7,
                                     video_path=str(tmp_path / "infant.mp4"), batch_size=8)
    seq = result.sequence
    assert seq.num_frames == 30 and seq.skeleton.name == "in-motion-19" and seq.fps == pytest.approx(10.0)
    assert result.truth.shape == seq.coords.shape and (tmp_path / "infant.mp4").is_file()
    print({k: v for k, v in result.metrics.items() if not isinstance(v, list)})
    assert result.pckh >= 0.9
