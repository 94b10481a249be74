"""MAM (seed 001): the distance-matrix representation, the triplet and closeness losses against NumPy, shapes, bad
input, the synthetic ground truth and a tiny end-to-end train / predict."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from infantjax import synth
from infantjax.errors import DataError, InfantJaxError
from infantjax.metrics import cohen_kappa
from infantjax.models import count_parameters
from infantjax.models.mam import (
    TRIPLET_MARGIN,
    MamSpec,
    characteristics,
    closeness_loss,
    distance_matrix,
    fms_frequency,
    motion_features,
    triplet_loss,
)

TINY = MamSpec(clip_length=10, patch=5, width=8, depth=1, heads=2, mil_hidden=8, info_hidden=4)


def _l2(x):
    return x / np.sqrt((x ** 2).sum(-1, keepdims=True) + 1e-12)


def test_distance_matrix_equals_direct_numpy():
    k = np.random.default_rng(0).normal(size=(6, 5, 3))
    direct = [[np.sqrt(((k[t, i] - k[t, j]) ** 2).sum()) for i in range(5) for j in range(i + 1, 5)]
              for t in range(6)]
    np.testing.assert_allclose(distance_matrix(k), np.asarray(direct), rtol=1e-6)
    f = motion_features(k, "distance")
    d = np.asarray(direct)
    d = d - d.mean(0)
    np.testing.assert_allclose(f, d / np.sqrt((d ** 2).mean()), rtol=1e-5, atol=1e-6)
    assert distance_matrix(k[..., :2]).shape == (6, 10)  # 2D pose accepted


@pytest.mark.parametrize("kind,width", [("coordinates", 15), ("velocities", 15), ("accelerations", 15)])
def test_alternative_inputs_shapes(kind, width):
    k = np.random.default_rng(1).normal(size=(8, 5, 3))
    f = motion_features(k, kind)
    assert f.shape == (8, width) and abs(float(np.sqrt((f ** 2).mean())) - 1.0) < 1e-5


def test_triplet_loss_equals_numpy():
    rng = np.random.default_rng(2)
    e, c = rng.normal(size=(7, 4)), rng.normal(size=(2, 4))
    y = np.array([0, 1, 1, 0, 1, 0, 0])
    en, cn = _l2(e), _l2(c)
    d = np.linalg.norm(en[:, None] - cn[None], axis=-1)
    want = np.mean(np.maximum(0.0, d[np.arange(7), y] - d[np.arange(7), 1 - y] + 0.4))
    assert TRIPLET_MARGIN == 0.4
    np.testing.assert_allclose(float(triplet_loss(jnp.asarray(e), jnp.asarray(y), jnp.asarray(c))), want,
                               rtol=1e-5)


def test_closeness_loss_equals_numpy():
    rng = np.random.default_rng(3)
    e, c = rng.normal(size=(2, 5, 4)), rng.normal(size=(2, 4))
    logits = rng.normal(size=(2, 5))
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], np.float32)
    en, cn = _l2(e), _l2(c)
    d2 = ((en - cn[(logits > 0).astype(int)]) ** 2).sum(-1)
    want = (d2 * mask).sum() / mask.sum()
    got = closeness_loss(jnp.asarray(e), jnp.asarray(logits), jnp.asarray(c), jnp.asarray(mask))
    np.testing.assert_allclose(float(got), want, rtol=1e-5)


def test_network_shapes_and_parameter_count():
    """Shapes by abstract evaluation (nothing compiles); the attention values are checked in the slow tests."""
    model = TINY.build()
    x = jax.ShapeDtypeStruct((2, 3, 10, TINY.num_features), jnp.float32)
    variables = jax.eval_shape(model.init, jax.random.PRNGKey(0), x)
    out = jax.eval_shape(model.apply, variables, x, jax.ShapeDtypeStruct((2, 3), jnp.float32),
                         jax.ShapeDtypeStruct((2, 4), jnp.float32))
    assert out["risk_logit"].shape == (2,) and out["clip_logit"].shape == (2, 3)
    assert out["embedding"].shape == (2, 3, 8) and out["prototypes"].shape == (2, 8)
    assert out["attention"].shape == (2, 3)
    # the counts of these (ours) sizes, pinned so a change is deliberate
    assert count_parameters(variables) == count_parameters(TINY) == 3_605
    assert count_parameters(TINY.replace(use_info=False)) == 3_605 - (4 * 4 + 4 + 4 + 1)
    assert count_parameters(MamSpec()) == 249_253


@pytest.mark.slow
def test_attention_ignores_padding_clips():
    model = TINY.build()
    x = jnp.asarray(np.random.default_rng(4).normal(size=(2, 3, 10, TINY.num_features)), jnp.float32)
    out = model.apply(model.init(jax.random.PRNGKey(0), x), x, jnp.array([[1, 1, 0], [1, 1, 1]]), jnp.zeros((2, 4)))
    np.testing.assert_allclose(np.asarray(out["attention"]).sum(1), 1.0, rtol=1e-5)
    assert float(out["attention"][0, 2]) == 0.0


def test_fms_frequency_is_the_fraction_of_fms_clips():
    p = np.array([[0.9, 0.2, 0.7, 0.1], [0.6, 0.6, 0.0, 0.0]])
    np.testing.assert_allclose(fms_frequency(p, np.array([[1, 1, 1, 1], [1, 1, 0, 0]])), [0.5, 1.0])


def test_cohen_kappa_matches_definition():
    a, b = np.array([1, 1, 0, 0, 1, 0, 1, 1]), np.array([1, 0, 0, 0, 1, 1, 1, 1])
    po = np.mean(a == b)
    pe = a.mean() * b.mean() + (1 - a.mean()) * (1 - b.mean())
    assert cohen_kappa(a, b) == pytest.approx((po - pe) / (1 - pe))


def test_bad_input_raises_typed_errors():
    k = np.zeros((20, 17, 3))
    with pytest.raises(DataError, match="17 joints"):
        motion_features(k, num_joints=19)
    with pytest.raises(DataError, match="too short"):
        motion_features(np.zeros((2, 19, 3)))
    with pytest.raises(InfantJaxError, match="unknown MAM input"):
        motion_features(np.zeros((5, 19, 3)), "angles")
    with pytest.raises(DataError, match="missing"):
        characteristics(["M"], [float("nan")], [3000.0], [12.0])
    with pytest.raises(DataError, match="sex"):
        characteristics([None], [39.0], [3000.0], [12.0])
    from infantjax.protocols.mam import run_protocol
    from infantjax.train.mam import MamConfig

    short = [np.zeros((5, TINY.num_features), np.float32)] * 4
    with pytest.raises(DataError, match="shorter than one clip"):
        run_protocol(short, np.array([0, 1, 0, 1]), ["a", "b", "c", "d"], np.zeros((2, 10, 171)),
                     np.array([0, 1]), info=np.zeros((4, 4)), spec=TINY, config=MamConfig.quick(folds=2))


def test_synthetic_ground_truth_fields():
    c = synth.cohort("gma", 2, seed=3, duration_s=8.0, fps=25.0, keypoints_3d=True)
    assert np.all((c.metadata["birth_weight"] >= 400) & (c.metadata["birth_weight"] <= 5000))
    seq = c.sequences[0]
    frames = synth.fms_frames(seq.metadata["fms_intervals"], len(seq.coords), 25.0)
    assert abs(frames.mean() - c.metadata["fms_frequency"][0]) < 0.05
    labels, proportion = synth.fms_clip_labels(seq.metadata["fms_intervals"], len(seq.coords), 25.0, 50, 25)
    assert labels.shape == proportion.shape == (7,)
    np.testing.assert_array_equal(labels, proportion > 0.5)
    with pytest.raises(DataError):
        synth.fms_clip_labels([], 10, 25.0, 50, 25)


def _tiny_task_and_data():
    """The tiny MAM task and a 6-clip reference set + 4-recording main set of random features."""
    from infantjax.train.mam import MamConfig, MamData, MamTask

    rng = np.random.default_rng(0)
    config = MamConfig.quick(batch_size=2, ref_batch=4, bag_clips=3, clip_stride=5)
    data = MamData(rng.normal(size=(6, 10, TINY.num_features)), np.array([0, 1] * 3),
                   [rng.normal(size=(n, TINY.num_features)) for n in (20, 30, 12, 25)], np.array([0, 1, 1, 0]),
                   np.zeros((4, 4)))
    task = MamTask(TINY, config)
    return task, data


def test_task_batches_and_loss():
    """One epoch's batches draw both classes in halves; the loss is a scalar with its four parts logged."""
    task, data = _tiny_task_and_data()
    task.check_data(data)
    batches = task.epoch_batches(data, 1, np.random.default_rng([0, 1]))
    assert len(batches) == task.steps_per_epoch(data) == 2
    b = batches[0]
    assert b["bag_x"].shape == (2, 3, 10, TINY.num_features) and b["ref_x"].shape == (4, 10, TINY.num_features)
    np.testing.assert_array_equal(np.sort(b["bag_y"]), [0, 1])
    assert b["ref_y"].sum() == 2
    shapes = jax.eval_shape(task.loss, jax.eval_shape(task.init, jax.random.PRNGKey(0)), b, jax.random.PRNGKey(1), 0)
    assert shapes[0].shape == () and set(shapes[2]) == {"ref_ce", "triplet", "bag_ce", "closeness"}


@pytest.mark.slow
def test_task_loss_is_the_sum_of_the_four_losses():
    task, data = _tiny_task_and_data()
    b = task.epoch_batches(data, 1, np.random.default_rng([0, 1]))[0]
    loss, _, metrics = jax.jit(task.loss)(task.init(jax.random.PRNGKey(0)), b, jax.random.PRNGKey(1), 0)
    assert np.isfinite(float(loss)) and set(metrics) == {"ref_ce", "triplet", "bag_ce", "closeness"}
    total = sum(float(metrics[k]) for k in metrics)
    assert float(loss) == pytest.approx(total, rel=1e-5)  # the sum of the four losses (seed 001)


@pytest.mark.slow
def test_tiny_end_to_end_train_predict(tmp_path):
    from infantjax.pipelines.mam import MamModel, cohort_inputs, train_mam
    from infantjax.train.mam import MamConfig

    main = synth.cohort("gma", 8, seed=5, duration_s=2.0, fps=25.0, prevalence=0.5, keypoints_3d=True)
    main = type(main)(main.sequences, np.array([3, 0] * 4), main.subjects, main.metadata, name="tiny")  # FMs classes
    config = MamConfig.quick(epochs=1, batch_size=2, ref_batch=4, bag_clips=2, clip_stride=10, folds=2)
    inputs = cohort_inputs(main, TINY, clip_stride=config.clip_stride)
    assert inputs.info.shape == (8, 4) and len(inputs.fms_truth) == 8
    ref = (np.random.default_rng(0).normal(size=(8, 10, TINY.num_features)).astype(np.float32),
           np.array([0, 1] * 4))
    model, result = train_mam(inputs, ref, spec=TINY, config=config)
    assert model.num_instances == 2 and len(result.scores) == 2
    assert set(result.summary()) >= {"auc", "accuracy", "sensitivity", "specificity", "ppv", "npv",
                                     "fms_frequency_auc", "kappa"}
    out = MamModel.load(model.save(tmp_path / "mam")).predict(inputs.features[:2], inputs.info[:2])
    assert out["risk"].shape == (2,) and np.all((out["risk"] > 0) & (out["risk"] < 1))
    assert out["clip_fms"][0].shape == (5,) and out["fms_frequency"].shape == (2,)
    with pytest.raises(DataError, match="characteristics"):
        model.predict(inputs.features[:1])
    # the CLI verb reads 3D keypoints (.npy) and writes the CSV and the FMs plot
    from infantjax.cli import main as cli

    np.save(tmp_path / "infant.npy", main.metadata["keypoints_3d"][0])
    code = cli(["mam", "predict", str(tmp_path / "mam"), str(tmp_path / "infant.npy"), "--info", "1", "39", "3300",
                "13", "--out", str(tmp_path / "p.csv"), "--plots", str(tmp_path / "plots")])
    assert code == 0 and (tmp_path / "plots" / "infant_fms.png").exists()
    assert (tmp_path / "p.csv").read_text().startswith("file,risk,fms_frequency")
    assert cli(["mam", "predict", str(tmp_path / "mam"), str(tmp_path / "infant.npy")]) == 2  # no characteristics


def test_plot_fms_writes_a_png(tmp_path):
    from infantjax.explain import plot_fms

    path = plot_fms([0.1, 0.8, 0.6, 0.2], tmp_path / "fms.png", clip_starts=[0, 25, 50, 75], clip_length=50,
                    truth=[0, 1, 1, 0], risk=0.3)
    assert (tmp_path / "fms.png").stat().st_size > 1000 and path.endswith("fms.png")
    with pytest.raises(DataError):
        plot_fms([0.1, 0.2], tmp_path / "bad.png", truth=[1])
