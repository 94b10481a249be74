"""Seed 000's recipe as a task of the engine: the Euclidean loss and FC weight decay against NumPy, the
leave-one-subject-out folds as one stacked program (a narrow network, short windows), the linear baselines and the
synthetic Kinect cohort."""

import jax
import numpy as np
import pytest
from _sma_utils import numpy_variables

from infantjax import parallel, synth
from infantjax.errors import ConfigError, DataError
from infantjax.models.sma import SMASpec
from infantjax.protocols.baselines import lasso_alpha, linear_baselines
from infantjax.protocols.evaluation import per_subject_errors
from infantjax.protocols.sma import run_loso
from infantjax.train.sma import SMAConfig, SMAData, SMATask, Windows, euclidean_loss, recording_windows

WINDOW = 108  # the shortest window the three convolutions and pools take: tiny compiled programs


def test_paper_recipe_defaults():
    c = SMAConfig()
    assert (c.batch_size, c.learning_rate, c.momentum, c.schedule, c.optimizer) == (400, 1e-4, 0.95, "constant",
                                                                                     "sgd")
    assert (c.fc_weight_decay, c.conv_weight_decay, c.weight_decay) == (0.9, 0.0, 0.0)
    assert (c.window, c.stride, c.standardize) == (900, 50, True)
    with pytest.raises(ConfigError, match="fc_weight_decay"):
        SMAConfig(fc_weight_decay=-1.0)
    with pytest.raises(ConfigError, match="window"):
        SMATask(SMASpec.narrow(), SMAConfig(window=WINDOW))


def test_euclidean_loss_and_fc_decay_match_numpy():
    pred, y = np.array([1.0, 5.0, -2.0]), np.array([0.0, 7.0, 1.0])
    assert float(euclidean_loss(pred, y)) == pytest.approx(np.sum((pred - y) ** 2) / (2 * 3))
    spec = SMASpec.narrow(window=WINDOW, dropout=0.0)
    task = SMATask(spec, SMAConfig(window=WINDOW, fc_weight_decay=0.9, conv_weight_decay=0.1))
    variables = numpy_variables(spec)
    x = np.random.default_rng(0).normal(size=(4, WINDOW, 4, 3)).astype(np.float32)
    y = np.array([10.0, 20.0, 30.0, 40.0], np.float32)
    loss, _, metrics = jax.jit(task.loss)(variables, {"x": x, "y": y}, jax.random.PRNGKey(1), 0)
    out = np.asarray(jax.jit(task.predict)(variables, x), np.float64)
    p = jax.tree_util.tree_map(np.asarray, variables["params"])
    fc = sum(np.sum(p[n]["kernel"].astype(np.float64) ** 2) for n in ("fc1", "fc2"))
    conv = sum(np.sum(p[n]["kernel"].astype(np.float64) ** 2) for n in ("conv1", "conv2", "conv3"))
    expected_l2 = np.sum((out - y) ** 2) / 8
    assert float(metrics["euclidean"]) == pytest.approx(expected_l2, rel=1e-5)
    assert float(loss) == pytest.approx(expected_l2 + 0.5 * (0.9 * fc + 0.1 * conv), rel=1e-5)


def _windows(subjects=3, per=8, seed=0):
    """Windows whose score is set by their amplitude (unstandardised): a learnable toy."""
    rng = np.random.default_rng(seed)
    scores = rng.uniform(0, 72, subjects * per).astype(np.float32)
    base = rng.normal(size=(subjects * per, WINDOW, 4, 3)).astype(np.float32)
    w = base * (0.2 + scores[:, None, None, None] / 36.0)
    return Windows(w, scores, np.repeat([f"s{i}" for i in range(subjects)], per),
                   np.repeat(np.arange(subjects * 2), per // 2))


def test_loso_folds_are_instances_of_one_program():
    windows = _windows(subjects=2)
    spec = SMASpec.narrow(window=WINDOW)
    config = SMAConfig(window=WINDOW, epochs=2, batch_size=4, learning_rate=1e-4, progress=False)
    # one device: the folds are stacked in one program either way, and the unsharded program compiles faster
    mesh = parallel.instance_mesh(2, devices=jax.devices()[:1], batch_size=4)
    result = run_loso(windows, spec=spec, config=config, seed=0, mesh=mesh)
    assert result.subjects == ["s0", "s1"]
    assert result.fit.num_instances == 2
    assert result.fit.step_losses.shape == (2 * 2, 2)  # 8 training windows per fold → 2 steps of 4
    assert np.isfinite(result.predictions).all()
    # every fold's held-out predictions come from its own instance: fold 1's network scores subject s1
    task = SMATask(spec, config)
    mine = np.asarray(jax.jit(task.predict)(result.fit.instance(1), windows.windows[windows.subjects == "s1"]))
    np.testing.assert_allclose(result.predictions[windows.subjects == "s1"], mine, rtol=1e-4, atol=1e-4)
    errors = result.window_errors()
    assert set(errors) == {"per_subject", "overall"}
    table3 = result.recording_errors()
    assert set(table3) == {"mean", "median", "quartile"}
    assert all(np.isfinite(v["overall"]) for v in table3.values())


def test_per_subject_errors_weighting():
    pred, y = np.array([1.0, 1.0, 1.0, 5.0]), np.zeros(4)
    out = per_subject_errors(pred, y, np.array(["a", "a", "a", "b"]))
    assert out == {"per_subject": pytest.approx(3.0), "overall": pytest.approx(2.0)}


def test_linear_baselines_and_the_lasso_coefficient():
    from sklearn.linear_model import Lasso

    windows = _windows(per=6)
    out = linear_baselines(windows)
    assert set(out) == {"linear", "lasso"} and all(np.isfinite(v).all() for v in out.values())
    rng = np.random.default_rng(1)
    x = rng.normal(size=(60, 3))
    y = 2.0 * x[:, 0] + rng.normal(size=60)
    alpha = lasso_alpha(x, y)
    assert np.any(Lasso(alpha=alpha).fit(x, y).coef_ != 0)  # non-null
    assert not np.any(Lasso(alpha=alpha * 1.2).fit(x, y).coef_ != 0)  # the next larger one on the grid is null


def test_bad_windows_raise_typed_errors():
    w = np.zeros((4, WINDOW, 4, 3), np.float32)
    with pytest.raises(DataError, match="NaN"):
        SMAData(np.full_like(w, np.nan), np.zeros(4))
    with pytest.raises(DataError, match="4 limbs"):
        SMAData(np.zeros((4, WINDOW, 5, 3)), np.zeros(4))
    with pytest.raises(DataError, match="scores"):
        SMAData(w, np.zeros(3))
    task = SMATask(SMASpec.narrow(), SMAConfig(batch_size=2))
    with pytest.raises(DataError, match="900"):
        task.check_data(SMAData(w, np.zeros(4)))
    with pytest.raises(DataError, match="2 subjects"):
        run_loso(Windows(w, np.zeros(4, np.float32), np.array(["a"] * 4), np.zeros(4, int)),
                 spec=SMASpec.narrow(window=WINDOW), config=SMAConfig(window=WINDOW, batch_size=2))


def test_synthetic_kinect_cohort_has_chop_intend_ground_truth():
    rec = synth.sma_recordings(2, 2, duration_s=31.0, seed=3)
    assert len(rec) == 4 and rec.subjects.tolist() == ["s0000", "s0000", "s0001", "s0001"]
    assert rec.tracks[0].shape == (930, 4, 3)
    cohort = synth.cohort("sma", n_subjects=2, seed=3, duration_s=1.0)
    np.testing.assert_allclose(rec.true_labels[::2], cohort.metadata["chop_intend"], atol=1e-4)
    w = recording_windows(rec.tracks, rec.labels, rec.subjects)
    assert w.windows.shape[1:] == (900, 4, 3) and len(w) == len(w.scores) == len(w.recordings)
    assert set(w.recordings.tolist()) <= {0, 1, 2, 3}
