"""The trained model: one base for every family's application object, with one versioned save format.

A trained model is a spec, the config it was trained with and stacked variables (a leading instance axis: the folds,
splits or held-out subjects of a protocol), plus whatever the family keeps beside them (Platt scalings, a
threshold). :class:`TrainedModel` gives every family the same

* ``save(dir)`` / ``load(dir)``: a folder with a JSON header ``model.json`` — ``format``
  (``"infantjax-model"``), ``kind``, ``format_version``, ``spec``, ``config``, ``instances`` and the family's own
  fields — and the variables as one Orbax checkpoint ``variables/``; both writes are atomic. A folder written by an
  older version of the format is read (:meth:`TrainedModel.upgrade`) or refused with a
  :class:`~infantjax.errors.CheckpointError` naming its version; one written by a newer infantjax is refused
  likewise;
* stacked inference (:meth:`TrainedModel.predictor`: the family's task forward over every instance,
  :class:`~infantjax.train.predict.StackedPredictor`, compiled calls kept between predictions);
* ``predict(...)``: the family's unit in (a recording, a cohort), a typed result out; the lower-level call beside it.

A new family needs only its hooks: the task that computes its forward (``task_type``), its spec and config types,
``kind``, and ``predict``. The toy family of ``docs/architecture.md`` is a complete example in under 30 lines::

    class LineModel(TrainedModel):
        kind, spec_type, config_type, task_type = "line", LineSpec, LineConfig, LineTask

        def predict(self, x):
            return self.predictor()(np.asarray(x, np.float32)).mean(axis=0)
"""

from __future__ import annotations

import json
import os
import pathlib
from collections.abc import Mapping
from typing import Any, ClassVar

import jax
import numpy as np

from infantjax import backend
from infantjax.errors import CheckpointError, ConfigError
from infantjax.io.files import write_json
from infantjax.train.checkpoint import restore_tree, save_tree
from infantjax.train.predict import StackedPredictor, task_forward

__all__ = ["FORMAT", "FORMAT_VERSION", "HEADER", "VARIABLES", "Prediction", "TrainedModel", "read_header"]

#: The ``format`` field of every header.
FORMAT = "infantjax-model"
#: The format version this infantjax writes (1: the per-family formats before the base; 2: this one).
FORMAT_VERSION = 2
#: The header file and the variables folder of a saved model.
HEADER = "model.json"
VARIABLES = "variables"


class Prediction:
    """Base of the typed prediction results: a frozen dataclass whose fields are also readable as a mapping
    (``result.probability`` or ``result["probability"]``, as the dictionaries the families returned before)."""

    def __getitem__(self, name: str):
        if name not in self.keys():
            raise KeyError(name)
        return getattr(self, name)

    def keys(self) -> tuple[str, ...]:
        import dataclasses

        return tuple(f.name for f in dataclasses.fields(self))

    def __contains__(self, name) -> bool:
        return name in self.keys()


def read_header(path: str | os.PathLike, *, names: tuple[str, ...] = (HEADER,), what: str = "a saved model"
                ) -> tuple[pathlib.Path, dict]:
    """The JSON header of a saved model folder: the first of ``names`` that exists, parsed.

    Raises:
        CheckpointError: no such file, or one that is not a JSON object.
    """
    folder = pathlib.Path(path)
    for name in names:
        file = folder / name
        if file.is_file():
            break
    else:
        listed = " (or the older ".join(names) + ")" * (len(names) - 1)
        raise CheckpointError(f"{folder} is not {what}: {listed} is missing; save the model with its save() "
                              "or pass the folder it wrote")
    try:
        doc = json.loads(file.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{file} is corrupt ({type(err).__name__}: {err}); save the model again") from None
    if not isinstance(doc, dict):
        raise CheckpointError(f"{file} is corrupt: it holds {type(doc).__name__}, not a JSON object; save the model "
                              "again")
    return file, doc


class TrainedModel:
    """Base of every family's trained model (module docstring).

    Subclasses set the class attributes and implement :meth:`predict`; those with more than one spec or more than
    one stack (the ensemble) or extra saved fields override :meth:`header`, :meth:`saved_variables`,
    :meth:`abstract_variables` and :meth:`from_saved`.

    Attributes:
        kind: the ``kind`` field of the header (one per family).
        spec_type, config_type: the spec and config classes (their ``to_dict`` / ``from_dict`` round trip).
        task_type: the task whose ``predict`` is the compiled forward and whose ``init`` gives the variables'
            shapes: ``task_type(spec, config)``.
        format_version: the header version this class writes.
    """

    kind: ClassVar[str] = ""
    #: what a folder of this kind is, for messages ("an SMA model written by `infantjax sma train`")
    title: ClassVar[str] = ""
    #: older header files the family wrote, named when none is found
    legacy_headers: ClassVar[tuple[str, ...]] = ()
    spec_type: ClassVar[type | None] = None
    config_type: ClassVar[type | None] = None
    task_type: ClassVar[type | None] = None
    format_version: ClassVar[int] = FORMAT_VERSION

    spec: Any
    config: Any
    variables: Any

    def __init__(self, spec, config, variables):
        self.spec, self.config, self.variables = spec, config, variables

    # ------------------------------------------------------------------ sizes and the task
    @property
    def num_instances(self) -> int:
        """The number of stacked instances."""
        return int(jax.tree_util.tree_leaves(self.saved_variables())[0].shape[0])

    @property
    def task(self):
        """The family's task for this spec and config (built once)."""
        cache = self.__dict__.setdefault("_task_cache", {})
        if "task" not in cache:
            cache["task"] = self.make_task(self.spec, self.config)
        return cache["task"]

    @classmethod
    def make_task(cls, spec, config):
        """``task_type(spec, config)``."""
        if cls.task_type is None:
            raise ConfigError(f"{cls.__name__} names no task_type; set it or override make_task")
        return cls.task_type(spec, config)

    def predictor(self, method: str = "predict", *, mesh=None) -> StackedPredictor:
        """The task's ``method`` over every instance (:class:`~infantjax.train.predict.StackedPredictor`), kept
        per method, mesh and backend policy so its compiled calls serve every later prediction."""
        cache = self.__dict__.setdefault("_predictors", {})
        key = (method, mesh, backend.current())
        if key not in cache:
            cache[key] = StackedPredictor(task_forward(self.task, method), self.variables, mesh=mesh,
                                          memory_budget=getattr(self.config, "memory_budget", None))
        return cache[key]

    def predict(self, *args, **kwargs):
        """The family's prediction (a recording or a cohort in, a typed result out)."""
        raise NotImplementedError(f"{type(self).__name__} does not define predict")

    # ------------------------------------------------------------------ the saved form (hooks)
    def header(self) -> dict:
        """The header's family fields (besides ``format``, ``kind`` and ``format_version``)."""
        return {"spec": self.spec.to_dict(), "config": self.config.to_dict(), "instances": self.num_instances}

    def saved_variables(self) -> Any:
        """The pytree saved as ``variables/``."""
        return self.variables

    @classmethod
    def spec_from(cls, header: Mapping) -> Any:
        return cls.spec_type.from_dict(header["spec"])

    @classmethod
    def config_from(cls, header: Mapping) -> Any:
        return cls.config_type.from_dict(header["config"])

    @classmethod
    def abstract_variables(cls, header: Mapping) -> Any:
        """Shapes and dtypes of the saved variables (what ``variables/`` is restored into): the task's ``init``
        stacked ``instances`` times, nothing computed."""
        task = cls.make_task(cls.spec_from(header), cls.config_from(header))
        shapes = jax.eval_shape(task.init, jax.random.PRNGKey(0))
        count = int(header["instances"])
        return jax.tree_util.tree_map(lambda s: jax.ShapeDtypeStruct((count,) + tuple(s.shape), s.dtype), shapes)

    @classmethod
    def from_saved(cls, header: Mapping, variables: Any):
        """The model from its header and restored variables."""
        return cls(cls.spec_from(header), cls.config_from(header), variables)

    @classmethod
    def upgrade(cls, header: dict, version: int) -> dict:
        """A header of an older ``format_version`` as the current one. Version 1 (the per-family model.json of
        SMA, smartphone and MAM models) stored spec and config as JSON strings and is read; a family without an
        older format refuses it."""
        if version == 1 and "kind" in header:
            out = dict(header)
            for name in ("spec", "config"):
                if isinstance(out.get(name), str):
                    out[name] = json.loads(out[name])
            if "instances" not in out and "platt" in out:
                out["instances"] = len(out["platt"])
            return out
        raise CheckpointError(f"{cls.__name__} cannot read format version {version} (this infantjax reads "
                              f"{FORMAT_VERSION}); save the model again with this version")

    @classmethod
    def legacy_header(cls, path: pathlib.Path) -> tuple[pathlib.Path, dict] | None:
        """The header of a folder saved before this format, when the family had one elsewhere (None: none)."""
        return None

    # ------------------------------------------------------------------ save / load
    def save(self, path: str | os.PathLike) -> pathlib.Path:
        """Write the model to the folder ``path``: ``variables/`` (one Orbax checkpoint of the stacked variables)
        and ``model.json`` (the header). Both writes are atomic; an existing model there is replaced.

        Returns:
            the folder.
        """
        path = pathlib.Path(path)
        path.mkdir(parents=True, exist_ok=True)
        record = {"format": FORMAT, "kind": self.kind, "format_version": self.format_version, **self.header()}
        save_tree(path / VARIABLES, self.saved_variables())
        write_json(path / HEADER, record, indent=2, sort_keys=False, allow_nan=True)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike):
        """Read a model folder written by :meth:`save` (or by an older infantjax, :meth:`upgrade`).

        Raises:
            CheckpointError: no model there, a header of another kind or of an unreadable version, a corrupt
                header or checkpoint, variables that do not match the spec.
        """
        folder = pathlib.Path(path)
        what = cls.title or f"a saved {cls.kind} model"
        legacy = None if (folder / HEADER).is_file() else cls.legacy_header(folder)
        file, doc = legacy if legacy is not None else read_header(folder, names=(HEADER, *cls.legacy_headers),
                                                                  what=what)
        kind = doc.get("kind")
        if kind != cls.kind:
            raise CheckpointError(f"{file} is not {what} (kind {kind!r}); load it with the class of its kind")
        version = doc.get("format_version", 1)
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise CheckpointError(f"{file}: format_version {version!r} is not a positive integer; save the model "
                                  "again")
        if version > cls.format_version:
            raise CheckpointError(f"{file} is format version {version}, written by a newer infantjax (this one reads "
                                  f"up to {cls.format_version}); upgrade infantjax")
        if version < cls.format_version:
            doc = cls.upgrade(doc, version)
        try:
            like = cls.abstract_variables(doc)
        except (KeyError, TypeError, ValueError, ConfigError) as err:
            raise CheckpointError(f"{file} is incomplete or invalid ({type(err).__name__}: {err}); save the model "
                                  "again") from None
        tree = restore_tree(folder / VARIABLES, like)
        try:
            return cls.from_saved(doc, jax.tree_util.tree_map(np.asarray, tree))
        except (KeyError, TypeError, ValueError) as err:
            raise CheckpointError(f"{file} is incomplete or invalid ({type(err).__name__}: {err}); save the model "
                                  "again") from None

