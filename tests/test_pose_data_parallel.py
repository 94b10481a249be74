"""Data-parallel pose inference and training (issue 19): batches split over the mesh axis ``data`` of the 8 fake
CPU devices give the keypoints and trained parameters of one device."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _pose_utils import rt_lite, rt_lite_video  # noqa: F401

from infantjax import parallel
from infantjax import skeleton as S
from infantjax.models.pose.efficientpose import EfficientPoseSpec
from infantjax.models.pose.init import init_variables
from infantjax.infer.tracking import _data_mesh
from infantjax.preprocess.pose_targets import gaussian_heatmaps
from infantjax.train import PoseConfig, PoseData, PoseTask, fit
from infantjax.train.pose import AugmentConfig


@pytest.mark.eight_devices
def test_data_mesh_only_where_asked_or_on_accelerators():
    from infantjax import backend

    assert len(jax.local_devices()) == 8
    with backend.use("cpu"):
        assert _data_mesh(None) is None  # CPU host devices share the cores: no split by default
        assert _data_mesh(False) is None
        assert _data_mesh(True).shape == {parallel.DATA: 8}
    with backend.use("accelerator"):  # the accelerator forms split a batch over the local devices by default
        assert _data_mesh(None).shape == {parallel.DATA: 8}
        assert _data_mesh(False) is None


@pytest.mark.slow  # about 20 s each on 2 loaded cores (two compilations of the network)
@pytest.mark.parametrize("fast", [False, True])
def test_track_split_over_eight_devices_equals_one_device(rt_lite, rt_lite_video, fast):
    video, _ = rt_lite_video
    # its first 5 frames: one batch of 4 and a short one on one device, one batch on eight
    one = rt_lite.track(video, batch_size=4, progress=False, fast=fast, data_parallel=False, max_frames=5)
    eight = rt_lite.track(video, batch_size=4, progress=False, fast=fast, data_parallel=True,
                          max_frames=5)  # batch 4 → 8
    np.testing.assert_allclose(eight.coords, one.coords, atol=1e-3)
    np.testing.assert_allclose(eight.confidence, one.confidence, rtol=1e-4, atol=1e-5)


@pytest.mark.slow  # minutes on 2 cores: the sharded training step of EfficientPose compiles slowly on 8 devices
def test_pose_training_split_over_the_data_axis_equals_one_device():
    """The engine's pose task on the default mesh (1 instance: its batch of 8 over data=8) trains the parameters
    one device trains."""
    skel = S.get("mpii-16")
    rng = np.random.default_rng(1)
    r = 32
    kp = rng.uniform(0.2, 0.8, (8, 16, 2)).astype(np.float32)
    imgs = np.zeros((8, r, r, 3), np.uint8)
    for i in range(8):
        hm = np.asarray(gaussian_heatmaps(jnp.asarray(kp[i]), r, 1.0)).max(-1)
        imgs[i] = (np.stack([hm] * 3, -1) * 255).astype(np.uint8)
    spec = EfficientPoseSpec("rt_lite", num_pafs=30, resolution=r)
    variables = init_variables(spec, jax.random.PRNGKey(0))
    # SGD: Adam divides by the gradient's own scale, which turns float32 summation-order noise of near-zero
    # gradients into whole learning-rate steps; SGD keeps the two runs' differences at rounding level
    cfg = PoseConfig(epochs=2, batch_size=8, augment=AugmentConfig(), learning_rate=1e-3, optimizer="sgd",
                     progress=False)
    task = PoseTask(spec, cfg, skel)
    data = [PoseData(imgs, kp)]
    split = parallel.instance_mesh(1, batch_size=8)
    assert split.shape == {parallel.INSTANCE: 1, parallel.DATA: 8}
    many = fit(task, data, seeds=[0], initial=variables, mesh=split)
    one = fit(task, data, seeds=[0], initial=variables, mesh=parallel.instance_mesh(1, devices=jax.devices()[:1]))
    np.testing.assert_allclose(many.step_losses, one.step_losses, rtol=1e-5)
    for a, b in zip(jax.tree_util.tree_leaves(many.variables), jax.tree_util.tree_leaves(one.variables)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
