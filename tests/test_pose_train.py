"""Pose training as a task of the engine: targets, augmentation, schedules, fine-tuning init and short runs."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from infantjax import skeleton as S
from infantjax.errors import ConfigError, DataError
from infantjax.models import count_parameters
from infantjax.models.pose.decode import decode_heatmaps
from infantjax.models.pose.efficientpose import EfficientPose, EfficientPoseSpec
from infantjax.models.pose.init import HEADS, finetune_variables, init_variables
from infantjax.preprocess.image import prepare_examples
from infantjax.preprocess.pose_targets import gaussian_heatmaps, limbs_from_skeleton, part_affinity_fields
from infantjax.train import Hook, PoseConfig, PoseData, PoseTask, fit
from infantjax.train.optim import cyclical_schedule
from infantjax.train.pose import AugmentConfig, augment_batch, sigma_schedule

R = 32
SPEC = EfficientPoseSpec("rt_lite", num_pafs=30, resolution=R)  # MPII skeleton: 15 edges


@pytest.fixture(scope="module")
def initial():
    """Fresh RT Lite variables at 32 px, initialised once for the module (the jitted initialiser takes 5-10 s to
    compile on CPU); fit never modifies them."""
    return init_variables(SPEC, jax.random.PRNGKey(0))


# The targets and the augmentation jitted, as the training step runs them: called eagerly they compiled a program per
# jax.numpy op and shape (~180 in this file)
_heatmaps = jax.jit(gaussian_heatmaps, static_argnums=(1, 2))
_pafs = jax.jit(part_affinity_fields, static_argnums=(1, 2, 3))
_augment = jax.jit(augment_batch, static_argnames="config")


def train_pose(spec, variables, images, keypoints, config, skeleton, **kwargs):
    """One pose network from ``variables``: (trained variables, the loss of every step)."""
    result = fit(PoseTask(spec, config, skeleton), [PoseData(images, keypoints)], seeds=[0], initial=variables,
                 **kwargs)
    return result.instance(0), result.step_losses[:, 0].tolist()


def test_gaussian_target_peaks_and_decodes_at_keypoint():
    kp = np.array([[0.25, 0.75], [32.5 / 64, 6.5 / 64]], np.float32)
    hm = np.asarray(_heatmaps(kp, 64, 2.0))
    assert hm.shape == (64, 64, 2) and hm.max() <= 1.0
    xy = decode_heatmaps(hm, (64, 64), real_time=True)
    np.testing.assert_allclose(xy, np.asarray(kp), atol=1.0 / 64)
    # Eq. (4): exp(-d^2 / sigma^2) one sigma away from the centre of a pixel-centred keypoint
    assert abs(hm[6, 32 + 2, 1] - np.exp(-1.0)) < 1e-6


def test_paf_target_is_unit_vector_along_limb():
    kp = np.array([[0.2, 0.5], [0.8, 0.5]], np.float32)
    paf = np.asarray(_pafs(kp, ((0, 1),), 32, 1.0))  # width 1.0
    assert paf.shape == (32, 32, 2)
    np.testing.assert_allclose(paf[16, 16], [1.0, 0.0])
    assert paf[5, 16].sum() == 0 and paf[16, 2].sum() == 0
    assert len(limbs_from_skeleton("in-motion-19")) == 18  # P = 36 PAF channels for In-Motion


def test_flip_swaps_left_and_right():
    skel = S.get("in-motion-19")
    perm = np.arange(19)
    for a, b in skel.flip_pairs:
        perm[a], perm[b] = b, a
    r = 32
    img = np.zeros((1, r, r, 3), np.float32)
    kp = np.random.default_rng(0).uniform(0.2, 0.8, (1, 19, 2)).astype(np.float32)
    cfg = AugmentConfig(flip=1.0, rotation_deg=0.0, scale=(1.0, 1.0))
    _, out = _augment(jax.random.PRNGKey(0), img, kp, perm.astype(np.int32), config=cfg)
    out = np.asarray(out)
    expected = kp[0][perm].copy()
    expected[:, 0] = 1.0 - expected[:, 0]
    np.testing.assert_allclose(np.asarray(out[0]), expected, atol=1e-5)
    left, right = skel.index("left_wrist"), skel.index("right_wrist")
    assert abs(float(out[0, left, 0]) - (1 - float(kp[0, right, 0]))) < 1e-5


def test_rotation_and_scale_move_image_and_keypoints_together():
    r = 48
    rng = np.random.default_rng(1)
    kp = rng.uniform(0.35, 0.65, (4, 1, 2)).astype(np.float32)
    imgs = np.zeros((4, r, r, 3), np.float32)
    for i in range(4):
        imgs[i] = np.asarray(_heatmaps(kp[i], r, 1.5))[..., [0, 0, 0]] * 255
    cfg = AugmentConfig(flip=0.5, rotation_deg=45.0, scale=(0.75, 1.25))
    out_img, out_kp = map(np.asarray, _augment(jax.random.PRNGKey(3), imgs, kp, np.zeros((1,), np.int32), config=cfg))
    for i in range(4):
        row, col = np.unravel_index(np.argmax(out_img[i, ..., 0]), (r, r))
        np.testing.assert_allclose([(col + 0.5) / r, (row + 0.5) / r], out_kp[i, 0], atol=1.5 / r)


def test_schedules():
    sched = cyclical_schedule(0.03, steps_per_epoch=10, cycle_epochs=3)
    lrs = np.array([float(sched(s)) for s in range(300)])
    assert lrs.max() <= 0.03 + 1e-9 and abs(lrs.min() - 0.03 / 3000) < 1e-6
    assert np.argmax(lrs[:30]) == 15  # triangular: peak mid-cycle (3 epochs x 10 steps)
    assert lrs[30:60].max() < lrs[:30].max()  # decaying peaks
    sig = sigma_schedule(4.0, 1.0, 100)
    assert sig(0) == 4.0 and sig(99) == 1.0 and sorted({sig(e) for e in range(100)}) == [1.0, 2.0, 3.0, 4.0]
    with pytest.raises(ConfigError):
        PoseConfig(optimizer="rmsprop")
    cfg = PoseConfig.paper_i(0.05, sigma=4.0, sigma_final=1.0, epochs=100)
    assert (cfg.optimizer, cfg.schedule, cfg.cycle_limit_scale) == ("sgd", "cyclical", 8.0)
    assert [cfg.sigma_at(e) for e in (1, 100)] == [4.0, 1.0]
    assert PoseConfig.from_json(cfg.to_json()) == cfg


def test_prepare_examples_letterbox_keypoints():
    frames = np.zeros((1, 60, 120, 3), np.uint8)
    frames[0, 30, 90] = 255
    inputs, kp = prepare_examples(frames, np.array([[[90.5, 30.5]]]), 64)
    assert inputs.shape == (1, 64, 64, 3)
    row, col = np.unravel_index(np.argmax(inputs[0, ..., 0]), (64, 64))
    np.testing.assert_allclose(kp[0, 0], [(col + 0.5) / 64, (row + 0.5) / 64], atol=1.0 / 64)
    with pytest.raises(DataError):
        prepare_examples(frames, np.zeros((2, 1, 2)), 64)


def test_finetune_init_copies_backbone_and_makes_new_heads():
    mpii = EfficientPoseSpec("rt_lite", graph="deployment", resolution=32)
    infant = EfficientPoseSpec("rt_lite", num_keypoints=19, num_pafs=36, resolution=32)
    rng = np.random.default_rng(0)
    # a "pretrained" MPII model: its variables' structure traced (no initialiser compiled), filled from numpy
    shapes = jax.eval_shape(EfficientPose(mpii).init, jax.random.PRNGKey(0), jnp.zeros((1, 32, 32, 3), jnp.float32))
    src = jax.tree_util.tree_map(lambda a: rng.normal(size=a.shape).astype(np.float32), shapes)
    dst = finetune_variables(src, infant, jax.random.PRNGKey(1))
    np.testing.assert_array_equal(dst["params"]["res1"]["stem_conv"]["kernel"],
                                  src["params"]["res1"]["stem_conv"]["kernel"])
    np.testing.assert_array_equal(dst["batch_stats"]["pass3_block1_mbconv3_detection2_conv2_bn"]["var"],
                                  src["batch_stats"]["pass3_block1_mbconv3_detection2_conv2_bn"]["var"])
    assert dst["params"]["pass3_detection2_confs"]["kernel"].shape == (1, 1, 120, 19)
    assert dst["params"]["pass2_detection1_confs"]["kernel"].shape == (1, 1, 120, 19)
    assert dst["params"]["pass1_skeleton_pafs"]["kernel"].shape == (1, 1, 120, 36)
    assert set(HEADS) <= set(dst["params"])
    assert count_parameters(dst) == count_parameters(infant)


def _blobs(n=8, r=R, seed=0):
    """n images of Gaussian blobs at n x 16 random MPII keypoints (uint8) and the keypoints."""
    rng = np.random.default_rng(seed)
    kp = rng.uniform(0.2, 0.8, (n, 16, 2)).astype(np.float32)
    imgs = np.zeros((n, r, r, 3), np.uint8)
    for i in range(n):
        hm = np.asarray(_heatmaps(kp[i], r, 1.0)).max(-1)
        imgs[i] = (np.stack([hm] * 3, -1) * 255).astype(np.uint8)
    return imgs, kp


@pytest.mark.slow  # about 30 s of compilation on 2 cores; the default run trains the detection passes (below)
def test_short_fit_reduces_loss(initial):
    """A few Adam steps (Paper II set-up) of the whole network, augmented, on blob images at 32 x 32 lower the MSE
    over passes."""
    skel = S.get("mpii-16")
    imgs, kp = _blobs()
    cfg = PoseConfig(epochs=6, batch_size=4, augment=AugmentConfig(), learning_rate=1e-3, progress=False)
    _, losses = train_pose(SPEC, initial, imgs, kp, cfg, skel)
    assert len(losses) == 12 and np.isfinite(losses).all()
    assert np.mean(losses[-3:]) < np.mean(losses[:3])


def test_pose_training_rejects_float_images_and_a_wrong_paf_count(initial):
    skel = S.get("mpii-16")
    imgs, kp = _blobs(n=4)
    cfg = PoseConfig(epochs=1, batch_size=4, progress=False)
    with pytest.raises(DataError, match="uint8"):
        train_pose(SPEC, initial, imgs.astype(np.float32), kp, cfg, skel)
    with pytest.raises(ConfigError, match="num_pafs=30"):
        train_pose(EfficientPoseSpec("rt_lite", resolution=R), initial, imgs, kp, cfg, skel)


def test_frozen_backbone_keeps_its_weights_and_statistics(initial):
    """``freeze_backbone`` (the Paper II fine-tune) trains the detection passes only, and Adam steps on blob images
    lower the MSE over passes; the backbone's BatchNorm runs in inference mode, so its moving statistics stay those
    of the pretrained model. Cosine decay and the validation callback run. On one device, as a CPU user's machine
    has (data-parallel pose training has its own tests: 25 s here against 55 s over the 8 fake devices)."""
    from infantjax import parallel

    skel = S.get("mpii-16")
    imgs, kp = _blobs()
    variables = initial
    seen = []
    cfg = PoseConfig(epochs=6, batch_size=4, freeze_backbone=True, schedule="cosine", augment=None, progress=False)
    out, losses = train_pose(SPEC, variables, imgs, kp, cfg, skel,
                             hooks=[Hook(4, lambda ctx: seen.append((ctx.step, sorted(ctx.variables()))))],
                             mesh=parallel.instance_mesh(1, devices=jax.devices()[:1]))
    assert len(losses) == 12 and [s for s, _ in seen] == [4, 8, 12] and seen[0][1] == sorted(out)
    assert np.isfinite(losses).all() and np.mean(losses[-3:]) < np.mean(losses[:3])
    same = jax.tree_util.tree_map(lambda a, b: bool(np.array_equal(a, b)), variables, out)
    assert all(jax.tree_util.tree_leaves(same["params"]["res1"]))
    assert all(jax.tree_util.tree_leaves(same["batch_stats"]["res1"]))
    heads = [k for k in out["params"] if k not in ("res1", "res2")]
    assert not all(jax.tree_util.tree_leaves({k: same["params"][k] for k in heads}))
    detection_stats = {k: same["batch_stats"][k] for k in out["batch_stats"] if k != "res1"}
    assert not all(jax.tree_util.tree_leaves(detection_stats))
    with pytest.raises(ConfigError, match="schedule"):
        PoseConfig(schedule="step")
    assert PoseConfig.from_json(cfg.to_json()) == cfg
