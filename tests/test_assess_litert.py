"""``infantjax assess --runtime litert`` (issue 39, item 4): the ensemble's stacks converted once through the library's
LiteRT route, cached, and run by the LiteRT interpreter, with P(CP), CAM scores and risk equal to the XLA path within
the export check's bound (docs/deploy.md, "Parity"); a cache hit converts nothing and needs no TensorFlow; a file off
the XLA path is refused and not cached. Needs the optional extra ``litert`` (TensorFlow), which the default and test
installs never bring: these tests are ``slow`` and run where the extra is installed (``.ci/run``'s LiteRT pass). The
switch's checks that need no extra are in tests/test_assess_runtime.py."""

from __future__ import annotations

import os
import sys

import jax
import numpy as np
import pytest
from _assess_utils import assess_models, infant_video  # noqa: F401

pytestmark = pytest.mark.slow

if os.environ.get("INFANTJAX_REQUIRE_LITERT") != "1":
    pytest.importorskip("tensorflow", reason="the LiteRT runtime needs the extra: pip install 'infantjax[litert]'")

from infantjax.deploy import scoring
from infantjax.errors import ExportError


def _relative(a, b) -> float:
    b = np.asarray(b, np.float64)
    return float(np.max(np.abs(np.asarray(a, np.float64) - b)) / np.max(np.abs(b)))


@pytest.fixture(scope="module")
def two_stacks():
    """Two stacks of different sizes and weights: the zoo ensemble's folds, and 2 of them in reverse order."""
    from infantjax.ensemble import Ensemble

    zoo = Ensemble.pretrained("cp-gcn-synthetic-3folds")
    second = jax.tree_util.tree_map(lambda a: np.asarray(a)[::-1][:2].copy(), zoo.variables[0])
    return Ensemble([zoo.specs[0]] * 2, [zoo.variables[0], second], zoo.config)


@pytest.fixture(scope="module")
def recording():
    from infantjax import synth

    return synth.cohort("cp", n_subjects=1, seed=77, duration_s=12.0).sequences[0]  # 4 windows of 5 s


@pytest.fixture(scope="module")
def converted(tmp_path_factory, two_stacks, recording):
    """Both stacks converted into a fresh cache (batch 3: the 4 windows run as 2 calls, the last padded) and the
    recording scored through them: (scorer, its prediction)."""
    scorer = scoring.LiteRTScorer(two_stacks, batch=3, cache_dir=tmp_path_factory.mktemp("litert-cache"))
    return scorer, two_stacks.predict(recording, scorer=scorer)


def test_litert_scores_equal_the_xla_path_within_the_export_bound(converted, two_stacks, recording):
    from infantjax.clinical import assess_prediction

    scorer, got = converted
    want = two_stacks.predict(recording)
    assert [k for k, _, _ in scorer.converted] == [0, 1]
    assert got.probabilities.shape == want.probabilities.shape and got.probabilities.shape[1] == 5
    assert got.num_windows % scorer.batch  # the last call was padded
    assert _relative(got.probabilities, want.probabilities) < scoring.TOLERANCE
    assert _relative(got.cam_scores, want.cam_scores) < scoring.TOLERANCE
    risk_l, risk_x = assess_prediction(got), assess_prediction(want)
    assert abs(risk_l.risk - risk_x.risk) < scoring.TOLERANCE and risk_l.label == risk_x.label
    for _, folder, _ in scorer.converted:  # the on-the-spot check is recorded beside each file
        import json

        record = json.loads((folder / "scoring.json").read_text())
        assert record["batch"] == 3 and record["check"]["tolerance"] == scoring.TOLERANCE
        assert all(d["max_rel"] <= scoring.TOLERANCE for d in record["check"]["differences"].values())
        assert record["key"].startswith(folder.name)


def test_a_cache_hit_converts_nothing_and_needs_no_tensorflow(converted, two_stacks, recording, monkeypatch):
    scorer, first = converted
    files = sorted(scorer.cache_dir.glob("*/*"))
    stamps = [f.stat().st_mtime_ns for f in files]
    assert len(files) == 4  # scoring.tflite and scoring.json of each stack
    for name in ("tensorflow", "tensorflow.lite"):
        monkeypatch.setitem(sys.modules, name, None)  # no TensorFlow from here on: the interpreter alone
    again = scoring.LiteRTScorer(two_stacks, batch=3, cache_dir=scorer.cache_dir)
    assert again.missing() == []
    again.require()
    second = two_stacks.predict(recording, scorer=again)
    assert again.converted == []
    np.testing.assert_array_equal(second.probabilities, first.probabilities)
    np.testing.assert_array_equal(second.cam_scores, first.cam_scores)
    assert [f.stat().st_mtime_ns for f in sorted(scorer.cache_dir.glob("*/*"))] == stamps


def test_a_damaged_cached_file_is_a_typed_error_naming_what_to_delete(converted, two_stacks, recording, tmp_path):
    import shutil

    scorer, _ = converted
    cache = tmp_path / "cache"
    shutil.copytree(scorer.cache_dir, cache)
    damaged = scoring.LiteRTScorer(two_stacks, batch=scorer.batch, cache_dir=cache)
    path = damaged.folder(0) / "scoring.tflite"
    path.write_bytes(b"not a flatbuffer" * 64)
    with pytest.raises(ExportError, match=r"cannot be loaded .*delete .*run again"):
        two_stacks.predict(recording, scorer=damaged)


def test_a_file_off_the_xla_path_is_refused_and_that_stack_scored_by_xla(tmp_path, monkeypatch, two_stacks,
                                                                         recording):
    """A file beyond the bound is deleted, the refusal cached (not converted again), and XLA scores that stack: the
    result is the XLA path's."""
    monkeypatch.setattr(scoring, "TOLERANCE", -1.0)  # every difference is too large
    scorer = scoring.LiteRTScorer(two_stacks, batch=2, cache_dir=tmp_path)
    got = two_stacks.predict(recording, scorer=scorer)
    assert scorer.xla_stacks == {0, 1} and len(scorer.converted) == 2
    assert not list(tmp_path.glob("*/scoring.tflite")) and len(list(tmp_path.glob("*/scoring.json"))) == 2
    want = two_stacks.predict(recording)
    np.testing.assert_allclose(got.probabilities, want.probabilities, rtol=0, atol=1e-6)
    np.testing.assert_allclose(got.cam_scores, want.cam_scores, rtol=0, atol=1e-6)
    again = scoring.LiteRTScorer(two_stacks, batch=2, cache_dir=tmp_path)
    assert again.missing() == []
    again(np.zeros((3, 150, 19, 2), np.float32))
    assert again.converted == [] and again.xla_stacks == {0, 1}


def test_assess_with_litert_gives_the_xla_records(tmp_path, assess_models, infant_video):
    from infantjax import pipelines

    cache = tmp_path / "cache"
    xla = pipelines.assess(infant_video, tmp_path / "xla", models=assess_models, labelled=False, progress=False)
    lit = pipelines.assess(infant_video, tmp_path / "litert", models=assess_models, labelled=False, progress=False,
                           runtime="litert", litert_cache=cache)
    a, b = xla.records[0], lit.records[0]
    assert b["settings"]["runtime"] == "litert" and b["ensemble"]["runtime"] == "litert"
    assert a["settings"]["runtime"] == "xla"
    assert abs(a["risk"] - b["risk"]) < scoring.TOLERANCE and a["classification"] == b["classification"]
    want = np.array([w["predictions"] for w in a["windows"]])
    assert _relative([w["predictions"] for w in b["windows"]], want) < scoring.TOLERANCE
    np.testing.assert_allclose(b["cam"], a["cam"], rtol=0, atol=scoring.TOLERANCE)  # scores in [0, 1]
    stamps = {f: f.stat().st_mtime_ns for f in cache.glob("*/*")}
    assert len(stamps) == 2 * len(assess_models.ensemble.specs)
    # the same folder again: finished, not redone; another folder: scored from the cache, nothing converted
    assert pipelines.assess(infant_video, tmp_path / "litert", models=assess_models, labelled=False, progress=False,
                            runtime="litert", litert_cache=cache).skipped == ("baby_one",)
    pipelines.assess(infant_video, tmp_path / "litert2", models=assess_models, labelled=False, progress=False,
                     runtime="litert", litert_cache=cache)
    assert {f: f.stat().st_mtime_ns for f in cache.glob("*/*")} == stamps
