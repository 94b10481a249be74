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

LEGACY = pathlib.Path(__file__).resolve().parent / "data" / "legacy-models"
KINDS = [f.kind for f in families()]


def test_every_zoo_family_is_registered_and_nothing_else_keeps_a_table():
    assert set(zoo.families()) == set(KINDS)
    for f in families():
        assert f.model.kind == f.kind and f.recording
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
