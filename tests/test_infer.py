"""The inference layer (issue 38): one registration per family, ``infantjax.load`` of a zoo name, a saved folder, a
``.npz`` file or an older file of every family, and every family's ``predict`` refusing a wrong input with a typed
error."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest

import infantjax
from infantjax.errors import CheckpointError, ConfigError, InfantJaxError
from infantjax.infer import registry
from infantjax.models import zoo
from infantjax.pipelines import families

# zoo models load and predict in fresh interpreters: compiled as users do, where
# optimised code pays for its compile (tests/conftest.py)
pytestmark = pytest.mark.xla_optimised


LEGACY = pathlib.Path(__file__).resolve().parent / "data" / "legacy-models"
KINDS = [f.kind for f in families()]


def test_every_zoo_family_is_registered_and_nothing_else_keeps_a_table():
    assert set(zoo.families()) == set(KINDS)
    from infantjax.infer.trained import TrainedModel

    for f in families():
        assert f.model.kind == f.kind and f.recording
        # each family makes its own example recording (the fresh interpreter below predicts on it)
        assert f.model.example_input is not TrainedModel.example_input, f.kind
    with pytest.raises(NotImplementedError, match="example_input"):
        TrainedModel.example_input(object.__new__(TrainedModel))
    deploy = pathlib.Path(infantjax.__file__).parent / "deploy"
    classes = [f.model.__name__ for f in families()]
    for path in [*deploy.rglob("*.py"), pathlib.Path(zoo.__file__)]:
        imports = [line for line in path.read_text().splitlines() if line.lstrip().startswith(("import ", "from "))]
        for line in imports:  # deploy/ and the zoo loader import no family: they ask the registry
            assert "infantjax.ensemble" not in line and "infantjax.pipelines." not in line, f"{path}: {line}"
            assert not any(c in line for c in classes), f"{path}: {line}"
        assert "FAMILIES" not in path.read_text()
    with pytest.raises(CheckpointError, match="unknown kind"):
        registry.family("no-such-family")


@pytest.fixture(scope="module")
def models():
    """The default zoo model of every family, loaded by name."""
    return {kind: infantjax.load(zoo.default(kind)) for kind in KINDS}


@pytest.mark.parametrize("kind", KINDS)
def test_load_gives_the_family_class_from_a_name_a_folder_and_a_file(kind, models, tmp_path):
    model = models[kind]
    cls = registry.family(kind).model
    assert type(model) is cls
    folder = model.save(tmp_path / "folder")
    again = infantjax.load(folder)
    assert type(again) is cls and again.kind == kind
    file = model.save(tmp_path / "model.npz")
    assert type(infantjax.load(file)) is cls
    assert type(infantjax.load(str(file))) is cls


@pytest.mark.parametrize("name", ["ensemble", "sma", "smartphone", "mam"])
def test_load_reads_the_older_folders(name):
    kind = {"sma": "soran-sma", "smartphone": "passmore-smartphone"}.get(name, name)
    assert type(infantjax.load(LEGACY / f"{name}-v1")) is registry.family(kind).model


def test_load_refuses_what_is_not_a_model(tmp_path):
    with pytest.raises(ConfigError, match="neither a saved model"):
        infantjax.load("no-such-model")
    with pytest.raises(ConfigError, match="zoo name or the path"):
        infantjax.load(None)
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="not a saved model"):
        infantjax.load(tmp_path / "empty")
    (tmp_path / "model.json").write_text('{"format": "infantjax-model", "kind": "teapot"}')
    with pytest.raises(CheckpointError, match="unknown kind 'teapot'"):
        infantjax.load(tmp_path)


BAD_INPUTS = {"a string": "not a sequence", "None": None, "a wrong-shaped array": np.zeros(3, np.float32)}


@pytest.mark.parametrize("bad", list(BAD_INPUTS), ids=list(BAD_INPUTS))
@pytest.mark.parametrize("kind", KINDS)
def test_every_family_predict_refuses_a_wrong_input_with_a_typed_error(kind, bad, models):
    with pytest.raises(InfantJaxError):
        models[kind].predict(BAD_INPUTS[bad])


def family_inputs(kind: str, model) -> dict:
    """Per family, the arguments of ``predict`` that are NaN (every value, and some where the family takes
    none), empty (no recording, or a recording of no length) and of the wrong size (right rank, a size the
    model was not made for), each with the words its error must say."""
    from infantjax.sequence import SkeletonSequence

    if kind == "soran-sma":
        return {"nan": (([np.full((1000, 4, 3), np.nan, np.float32)],), "NaN"),
                "empty": (([],), "empty"), "empty recording": (([np.zeros((0, 4, 3), np.float32)],), "empty"),
                "wrong size": (([np.zeros((1000, 5, 3), np.float32)],), "(N, 4, 3)")}
    if kind == "passmore-smartphone":
        some = np.zeros((1, 300, 46), np.float32)
        some[0, 10, 3] = np.nan
        return {"nan": ((np.full((1, 300, 46), np.nan, np.float32),), "NaN"), "some nan": ((some,), "NaN"),
                "empty": ((np.zeros((0, 300, 46), np.float32),), "empty"),
                "wrong size": ((np.zeros((1, 300, 40), np.float32),), "46"),
                "keypoints": ((SkeletonSequence(np.zeros((300, 18, 2)), skeleton="passmore-18"),),
                              "sequence_features")}
    if kind == "mam":
        f, n = model.spec.num_features, 2 * model.spec.clip_length
        info = np.array([[1.0, 38.0, 3.0, 12.0]], np.float32)
        return {"nan": (([np.full((n, f), np.nan, np.float32)], info), "NaN"), "empty": (([], info), "empty"),
                "wrong size": (([np.zeros((n, f + 1), np.float32)], info), f"(N, {f})"),
                "nan info": (([np.zeros((n, f), np.float32)], np.full((1, 4), np.nan, np.float32)), "NaN"),
                "wrong info": (([np.zeros((n, f), np.float32)], np.zeros((2, 4), np.float32)), "(1, 4)")}
    if kind == "depth":
        t, h, w = model.clip_shape
        return {"nan": ((np.full((1, t, h, w, 1), np.nan, np.float32),), "NaN"),
                "empty": ((np.zeros((0, t, h, w, 1), np.float32),), "empty"),
                "wrong size": ((np.zeros((1, t, 64, 64, 1), np.float32),), f"(N, {t}, {h}, {w}, 1)")}
    if kind == "pose":
        return {"nan": ((float("nan"),), "path"), "empty": (("",), "empty path"),
                "wrong size": ((np.zeros((2, 8, 8, 3), np.uint8),), "keypoints_frames")}
    assert kind == "ensemble"
    return {"nan": ((SkeletonSequence(np.full((240, 19, 2), np.nan, np.float32)),), "missing"),
            "empty": ((SkeletonSequence(np.zeros((0, 19, 2), np.float32)),), "no frames"),
            "wrong size": ((SkeletonSequence(np.zeros((240, 16, 2), np.float32), skeleton="mpii-16"),),
                           "in-motion-19")}


@pytest.mark.parametrize("kind", KINDS)
def test_every_family_predict_refuses_nan_empty_and_wrongly_sized_inputs(kind, models):
    """The smartphone model once gave 0.659 for all-NaN features, the depth model took 64 × 64 clips for a
    48 × 32 model and the SMA model an empty list: every family now refuses each with a typed error that says
    what was wrong."""
    cases = family_inputs(kind, models[kind])
    assert {"nan", "empty", "wrong size"} <= set(cases)
    for case, (args, words) in cases.items():
        with pytest.raises(InfantJaxError) as err:
            models[kind].predict(*args)
        assert words in str(err.value), (kind, case, str(err.value))


def test_every_family_describes_what_its_predict_takes():
    described = {f.kind: f.recording for f in families()}
    assert "frames" not in described["pose"].split(";")[0] and "video file" in described["pose"]
    assert "(videos, samples, 46)" in described["passmore-smartphone"]
    assert "SkeletonSequence" not in described["passmore-smartphone"].split("(infantjax.pipelines")[0]
    assert "(T, 4, 3)" in described["soran-sma"] and "(N, T, H, W, 1)" in described["depth"]
    assert "(T, F)" in described["mam"] and "(N, 4)" in described["mam"]
    assert "SkeletonSequence" in described["ensemble"] and "In-Motion 19" in described["ensemble"]


#: The zoo entries a clinic's scoring service may load: every family's, and the default pose model.
SERVED = [e for e in zoo.available() if e.family != "pose" or e.name == zoo.default("pose")]

#: The checks that need a fresh interpreter, in one (each interpreter costs seconds of imports): the error path of
#: infantjax.load first, then every entry loaded and predicted in turn, the training modules imported so far
#: listed after each; last, with infantjax.train never imported (every list empty), the config of a loaded CP
#: ensemble is read. Each step prints one JSON line [what, name, value]; a step that fails prints its traceback and
#: the next goes on.
FRESH = """
import json, sys, tempfile, traceback, numpy as np, infantjax
from infantjax.errors import CheckpointError


def say(what, name, value):
    print(json.dumps([what, name, value]), flush=True)


def training_imports():
    return sorted(m for m in sys.modules if m == "optax" or m.startswith(("optax.", "infantjax.train")))


try:
    infantjax.load(tempfile.mkdtemp())
except CheckpointError as err:
    say("REFUSED", "wrong-path", "not a saved model" in str(err))
except Exception:
    say("FAILED", "wrong-path", traceback.format_exc())
say("IMPORTED", "wrong-path", training_imports())
{steps}
"""

#: one entry of FRESH: load by name and predict
ENTRY = """
try:
    model = infantjax.load({name!r})
    model.predict(*model.example_input(0))  # the family's own example of its recording
    say("IMPORTED", {name!r}, training_imports())
except Exception:
    say("FAILED", {name!r}, traceback.format_exc())
"""

#: the training config and task of a loaded model, their classes' full names (a step of FRESH, or a script of its own)
CONFIG_TYPE = """
try:
    model = infantjax.load({name!r})
    say("CONFIG", {name!r}, type(model.config).__module__ + "." + type(model.config).__name__)
    task = model.task(0) if hasattr(model, "specs") else model.task
    say("TASK", {name!r}, type(task).__module__ + "." + type(task).__name__)
except Exception:
    say("FAILED", "config " + {name!r}, traceback.format_exc())
"""


def _run(code: str) -> str:
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
                         cwd=pathlib.Path(__file__).resolve().parents[1])
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def _said(stdout: str) -> dict:
    """The JSON lines of a FRESH-like script: ``{what: {name: value}}``, with the whole output under ``"stdout"``."""
    import json

    said: dict = {"REFUSED": {}, "IMPORTED": {}, "FAILED": {}, "CONFIG": {}, "TASK": {}, "stdout": stdout}
    for line in stdout.splitlines():
        if line.startswith("["):
            what, name, value = json.loads(line)
            said[what][name] = value
    return said


def _entry_code(entry) -> str:
    return ENTRY.format(name=entry.name)


@pytest.fixture(scope="module")
def fresh() -> dict:
    """What FRESH said (:func:`_said`). A zoo pose model needs PyAV to write its video: where PyAV is missing it is
    left out (its test is skipped)."""
    import importlib.util

    served = [e for e in SERVED if e.family != "pose" or importlib.util.find_spec("av") is not None]
    steps = "".join(_entry_code(e) for e in served) + CONFIG_TYPE.format(name="cp-gcn-tracked")
    return _said(_run(FRESH.format(steps=steps)))


@pytest.mark.parametrize("entry", [
    pytest.param(e, id=e.name, marks=pytest.mark.needs("av") if e.family == "pose" else ())  # writes a video
    for e in SERVED])
def test_loading_and_predicting_imports_neither_optax_nor_train(entry, fresh):
    """A clinic's scoring service: load a zoo model by name and predict, in a fresh interpreter. One interpreter
    loads every entry in turn: modules only accumulate, so an empty list after an entry means that neither it nor
    any entry before it imported optax or infantjax.train."""
    assert entry.name not in fresh["FAILED"], fresh["FAILED"][entry.name]
    assert entry.name in fresh["IMPORTED"], fresh["stdout"]
    first = next((name for name, bad in fresh["IMPORTED"].items() if bad), None)
    assert fresh["IMPORTED"][entry.name] == [], f"first imported after {first}: {fresh['stdout']}"


def test_a_wrong_path_is_refused_without_importing_an_optimiser(fresh):
    """The error path of infantjax.load looks at every shipped family and imports none of the training code (the
    fresh interpreter's first step, before any model is loaded)."""
    assert "wrong-path" not in fresh["FAILED"], fresh["FAILED"]["wrong-path"]
    assert fresh["REFUSED"] == {"wrong-path": True} and fresh["IMPORTED"]["wrong-path"] == [], fresh["stdout"]


@pytest.mark.parametrize("name,config", [("sma-narrow-synthetic", "infantjax.train.sma.SMAConfig"),
                                         ("cp-gcn-tracked", "infantjax.train.cp.CPConfig")])
def test_the_config_of_a_loaded_model_does_not_depend_on_what_was_imported_before(name, config, fresh):
    """model.config is the family's training config whether or not infantjax.train was imported first: the family
    names its training module, and reading the config imports it (predicting never does). Reading one family's
    config imports all of infantjax.train, so each family is read where infantjax.train was never imported: the CP
    ensemble's as the fresh interpreter's last step (every zoo model loaded and predicted before it, infantjax.train
    imported by none), the SMA model's in an interpreter of its own. (With infantjax.train imported first the
    config class is bound when the model is loaded.)"""
    if name == "cp-gcn-tracked":
        said = fresh
        assert fresh["IMPORTED"] and all(bad == [] for bad in fresh["IMPORTED"].values()), fresh["stdout"]
    else:
        said = _said(_run("import json, traceback, infantjax\n"
                          "def say(what, name, value):\n    print(json.dumps([what, name, value]), flush=True)\n"
                          + CONFIG_TYPE.format(name=name)))
    assert f"config {name}" not in said["FAILED"], said["FAILED"][f"config {name}"]
    assert said["CONFIG"].get(name) == config, said["stdout"]
    assert said["TASK"].get(name, "").startswith("infantjax.train."), said["stdout"]


def test_a_family_defined_in_infer_exports_its_forward_without_export_code(models, tmp_path):
    """The SMA family gives no graph of its own: deploy.export writes its forward over every fold instance."""
    from infantjax import deploy

    model = models["soran-sma"]
    result = deploy.export(model, "stablehlo", tmp_path / "sma.stablehlo", batch=2)
    assert max(a for a, _ in result.differences.values()) < 1e-3
    assert result.input_shape[1:] == (model.spec.window, 4, 3)
