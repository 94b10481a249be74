"""``infantjax assess --runtime xla|litert`` in the default install (neither TensorFlow nor ai-edge-litert needed): an
unknown runtime, a missing ``litert`` extra named before any work (the CLI: one line, exit status 2), the LiteRT
cache's key, the scoring graph the LiteRT files are written from (run by XLA, equal to the ensemble's own scoring),
and the scorer's fixed-batch calls (the last one padded, the padding dropped, the stacks in order). The LiteRT files
themselves are tested where the extra is installed (tests/test_assess_litert.py)."""

from __future__ import annotations

import sys

import jax
import numpy as np
import pytest
from _assess_utils import CountingPose, assess_models, infant_video  # noqa: F401

from infantjax.errors import ConfigError, ExportExtraError

INSTALL = r'pip install "infantjax\[litert\]"'


def _relative(a, b) -> float:
    b = np.asarray(b, np.float64)
    return float(np.max(np.abs(np.asarray(a, np.float64) - b)) / np.max(np.abs(b)))


@pytest.fixture(scope="module")
def ensemble():
    from infantjax.ensemble import Ensemble

    return Ensemble.pretrained("cp-gcn-synthetic-3folds")


@pytest.fixture(scope="module")
def two_stacks(ensemble):
    """Two stacks of different sizes and weights: the zoo's folds, and 2 of them in reverse order."""
    from infantjax.ensemble import Ensemble

    second = jax.tree_util.tree_map(lambda a: np.asarray(a)[::-1][:2].copy(), ensemble.variables[0])
    return Ensemble([ensemble.specs[0]] * 2, [ensemble.variables[0], second], ensemble.config)


@pytest.fixture(scope="module")
def recording():
    from infantjax import synth

    return synth.cohort("cp", n_subjects=1, seed=77, duration_s=12.0).sequences[0]  # 4 windows of 5 s


def _hide_litert(monkeypatch):
    for name in ("ai_edge_litert", "ai_edge_litert.interpreter", "tensorflow"):
        monkeypatch.setitem(sys.modules, name, None)  # import → ImportError, find_spec → None


def test_an_unknown_runtime_is_a_config_error(tmp_path):
    from infantjax.pipelines.assessment import assess

    with pytest.raises(ConfigError, match="runtime must be one of xla, litert"):
        assess(tmp_path, tmp_path / "o", runtime="tpu")


@pytest.mark.needs("av")
def test_a_missing_litert_extra_is_named_before_any_work(tmp_path, monkeypatch, capsys, assess_models,
                                                         infant_video):
    from infantjax.cli import main
    from infantjax.pipelines import assessment

    _hide_litert(monkeypatch)
    pose = CountingPose(assess_models.pose)
    models = assessment.Models(pose, assess_models.ensemble, assess_models.pose_name, assess_models.ensemble_name)
    with pytest.raises(ExportExtraError, match=INSTALL):
        assessment.assess(infant_video, tmp_path / "o", models=models, runtime="litert", progress=False)
    assert pose.calls == [] and not (tmp_path / "o").exists()
    monkeypatch.setattr(assessment.run, "load_models", lambda ensemble=None, pose=None: models)
    assert main(["assess", str(infant_video), "--out", str(tmp_path / "o"), "--runtime", "litert"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and 'pip install "infantjax[litert]"' in err and "--runtime xla" in err
    assert pose.calls == []


def test_a_missing_converter_is_named_when_the_cache_lacks_a_stack(tmp_path, monkeypatch, ensemble):
    from infantjax.deploy import scoring

    scorer = scoring.LiteRTScorer(ensemble, cache_dir=tmp_path)
    assert scorer.missing() == [0]
    # the interpreter without TensorFlow (what ai-edge-litert alone installs): enough for cached files only
    monkeypatch.setattr(scoring, "_installed", lambda module: module.startswith("ai_edge_litert"))
    with pytest.raises(ExportExtraError, match=r"stack\(s\) 0 .*TensorFlow.*" + INSTALL):
        scorer.require()
    with pytest.raises(ExportExtraError, match=INSTALL):
        scorer.prepare()
    assert not any(tmp_path.iterdir())


def test_the_cache_key_follows_the_weights_the_inputs_and_the_batch(tmp_path, ensemble):
    from infantjax.deploy.scoring import LiteRTScorer
    from infantjax.ensemble import Ensemble

    a = LiteRTScorer(ensemble, cache_dir=tmp_path)
    assert a.key(0) == LiteRTScorer(Ensemble.pretrained("cp-gcn-synthetic-3folds"), cache_dir=tmp_path / "x").key(0)
    assert a.folder(0).parent == tmp_path
    assert a.key(0) != LiteRTScorer(ensemble, batch=a.batch + 1, cache_dir=tmp_path).key(0)
    other = "corrected" if ensemble.inputs.window_rotation != "corrected" else "reference"
    assert a.key(0) != a.key(0, ensemble.scoring_inputs(other))
    nudged = jax.tree_util.tree_map(lambda x: np.asarray(x).copy(), ensemble.variables[0])
    leaf = jax.tree_util.tree_leaves(nudged)[0]
    leaf.flat[0] = np.nextafter(leaf.flat[0], np.inf)  # one ulp of one weight
    changed = Ensemble(ensemble.specs, [nudged], ensemble.config)
    assert a.key(0) != LiteRTScorer(changed, cache_dir=tmp_path).key(0)
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ConfigError, match="batch"):
            LiteRTScorer(ensemble, batch=bad)


def test_the_scoring_graph_equals_the_ensembles_scoring(ensemble, recording):
    """What the LiteRT file is written from (the stack's instances unrolled, traced in the forms LiteRT gets), run by
    XLA, and the joint CAM scores the scorer computes from its maps on the host, against the ensemble's own stacked
    scoring: the graph is right before any converter sees it."""
    from infantjax import backend, preprocess
    from infantjax.deploy.scoring import joint_scores
    from infantjax.infer.cp import prepare_sequence
    from infantjax.models.gcn.cam import joint_scores as jax_joint_scores

    coords = prepare_sequence(recording, ensemble.inputs)
    windows = np.asarray(preprocess.windows(coords, length=ensemble.inputs.window, hop=ensemble.inputs.hop),
                         np.float32)
    d = ensemble.scoring_graph(0)
    assert d.output_names == ("probability", "cam_map")
    with backend.use("cpu", compute_dtype="float32"):
        probability, cam_map = (np.asarray(o) for o in jax.jit(d.graph("mobile"))(windows))
    want_p, want_c = ensemble.window_predictions(windows)
    want_c = np.swapaxes(want_c, 0, 1)  # (W, I, V)
    assert probability.shape == want_p.shape and cam_map.shape[:2] == want_p.shape and cam_map.shape[-2:] == (19, 2)
    assert _relative(probability, want_p) < 1e-5
    cam = joint_scores(cam_map, signed=True)  # the scoring keeps the sign: CP above 0, no CP below
    assert cam.dtype == np.float32 and cam.shape == want_c.shape
    assert _relative(cam, want_c) < 1e-5
    np.testing.assert_allclose(cam, np.asarray(jax_joint_scores(cam_map, signed=True)), rtol=0, atol=1e-6)
    np.testing.assert_allclose(joint_scores(cam_map), np.asarray(jax_joint_scores(cam_map)), rtol=0,
                               atol=1e-6)
    np.testing.assert_array_equal(joint_scores(cam_map), np.maximum(cam, 0))  # the reference's: clamped at 0
    ref_p, ref_map = d.reference(windows)
    np.testing.assert_allclose(ref_p, want_p, rtol=0, atol=1e-6)
    np.testing.assert_allclose(joint_scores(ref_map, signed=True), want_c, rtol=0, atol=1e-6)
    with pytest.raises(ConfigError, match="stack 3 does not exist"):
        ensemble.scoring_graph(3)


def test_the_scorer_runs_fixed_batches_pads_the_last_and_keeps_the_stack_order(tmp_path, monkeypatch, two_stacks,
                                                                               recording):
    """The scorer's own work around the files, with each stack's graph run by XLA in place of the interpreter: calls
    of exactly the batch, the last padded and its padding dropped, the stacks' instances in order, and
    ``Ensemble.predict(..., scorer=)`` equal to the XLA path."""
    from infantjax import backend
    from infantjax.deploy.scoring import LiteRTScorer

    scorer = LiteRTScorer(two_stacks, batch=3, cache_dir=tmp_path)
    calls = []

    def runner(stack, config=None):
        with backend.use("cpu", compute_dtype="float32"):
            fn = jax.jit(two_stacks.scoring_graph(stack, config).graph("mobile"))

        def run(x):
            calls.append((stack, x.shape[0]))
            return tuple(np.asarray(o) for o in fn(x))

        return run

    monkeypatch.setattr(scorer, "_runner", runner)
    got = two_stacks.predict(recording, scorer=scorer)
    want = two_stacks.predict(recording)
    n = want.num_windows
    assert n % 3 and got.probabilities.shape == want.probabilities.shape == (n, 5)
    assert got.cam_scores.shape == want.cam_scores.shape
    per_stack = -(-n // 3)  # the last call padded
    assert calls == [(0, 3)] * per_stack + [(1, 3)] * per_stack
    assert _relative(got.probabilities, want.probabilities) < 1e-5
    assert _relative(got.cam_scores, want.cam_scores) < 1e-5
    np.testing.assert_array_equal(got.window_starts, want.window_starts)
    assert got.instance_names == want.instance_names
    from infantjax.errors import DataError

    with pytest.raises(DataError, match=r"\(W, 150, 19, 2\)"):
        scorer(np.zeros((2, 10, 19, 2), np.float32))
    with pytest.raises(DataError, match="NaN"):
        scorer(np.full((1, 150, 19, 2), np.nan, np.float32))
