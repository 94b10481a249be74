"""The trained model: one base for every family's application object, with one versioned save format.

A trained model is a spec, the config it was trained with and stacked variables (a leading instance axis: the folds,
splits or held-out subjects of a protocol), plus whatever the family keeps beside them (Platt scalings, a
threshold). :class:`TrainedModel` gives every family the same

* ``save(dir)`` / ``load(dir)``: a folder with a JSON header ``model.json`` — ``format``
  (``"infantjax-model"``), ``kind``, ``format_version``, ``spec``, ``config``, ``instances``, ``info`` (provenance,
  when there is any) and the family's own fields — and the variables as one Orbax checkpoint ``variables/``; both
  writes are atomic. A folder written by an older version of the format is read (:meth:`TrainedModel.upgrade`) or
  refused with a :class:`~infantjax.errors.CheckpointError` naming its version; one written by a newer infantjax is
  refused likewise;
* ``save(file.npz)`` / ``load(file.npz)``: the same header and variables in one pickle-free file (the format of the
  models shipped in the package, float16 storage optional);
* ``pretrained(name)``: a model of the family shipped with the package (the offline zoo,
  :mod:`infantjax.models.zoo`, through its one loader);
* stacked inference (:meth:`TrainedModel.predictor`: the family's task forward over every instance,
  :class:`~infantjax.infer.predict.StackedPredictor`, compiled calls kept between predictions);
* ``predict(...)``: the family's unit in (a recording, a cohort), a typed result out; the lower-level call beside it.

A new family needs only its hooks: the task that computes its forward (``task_type``), its spec and config types,
``kind``, and ``predict``. The toy family of ``docs/architecture.md`` is a complete example in under 30 lines::

    class LineModel(TrainedModel):
        kind, spec_type, config_type, task_type = "line", LineSpec, LineConfig, LineTask

        def predict(self, x):
            return self.predictor()(np.asarray(x, np.float32)).mean(axis=0)
"""

from __future__ import annotations

import importlib
import json
import os
import pathlib
from collections.abc import Mapping
from typing import Any, ClassVar

import jax
import numpy as np

from infantjax import backend, parallel
from infantjax.errors import CheckpointError, ConfigError, ExportError
from infantjax.io.files import save_npz, write_json
from infantjax.infer.predict import StackedPredictor, task_forward
from infantjax.infer.store import flatten_tree, restore_tree, save_tree

__all__ = ["FORMAT", "FORMAT_VERSION", "HEADER", "VARIABLES", "ConfigRecord", "Prediction", "TrainedModel",
           "read_header"]

#: The ``format`` field of every header.
FORMAT = "infantjax-model"
#: The format version this infantjax writes (1: the per-family formats before the base; 2: this one).
FORMAT_VERSION = 2
#: The header file and the variables folder of a saved model.
HEADER = "model.json"
VARIABLES = "variables"
#: The header's key in a single-file (``.npz``) model; its arrays are ``variables/<path>``.
NPZ_HEADER = "__header__"


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


class ConfigRecord(dict):
    """The saved training config of a model loaded before its training module was imported: the header's record,
    its fields readable as attributes (``model.config.window``); ``to_dict()`` gives it back."""

    def __getattr__(self, name: str):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"the saved config has no field {name!r} (fields: {', '.join(sorted(self))})"
                                 ) from None

    def to_dict(self) -> dict:
        return dict(self)


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
    #: the module of the family's training task (in :mod:`infantjax.train` for the shipped families), which binds
    #: the family's training config and task where the model is built from them (:meth:`trained_with`), named here
    #: and imported on first use of :attr:`config` or :attr:`task`: loading and predicting never import it, and what
    #: :attr:`config` is does not depend on what was imported before; the task contract imports it to find the
    #: family's task (``tests/test_task_contract.py``)
    training_module: ClassVar[str | None] = None
    #: the family's forward pass (:class:`~infantjax.infer.forward.Forward`): when set, loading, stacked
    #: inference and the saved variables' shapes use it and never the training task
    forward_type: ClassVar[type | None] = None
    format_version: ClassVar[int] = FORMAT_VERSION

    spec: Any
    config: Any
    variables: Any
    #: provenance saved with the model (what it was trained on, its held-out figures, licence); ``{}`` when none
    info: dict

    def __init__(self, spec, config, variables):
        self.spec, self.config, self.variables = spec, config, variables
        self.info = {}

    # ------------------------------------------------------------------ the config and the forward pass
    @property
    def config(self):
        """The config the model was trained with. A model loaded without its training config class
        (:attr:`config_type` None, a family with a :attr:`forward_type`) keeps the saved record and builds the
        config on first use (:meth:`training_config_type`)."""
        config = self.__dict__.get("_config")
        if isinstance(config, Mapping):
            kind = self.training_config_type()
            if kind is not None:
                config = self.__dict__["_config"] = kind.from_dict(dict(config))
            elif not isinstance(config, ConfigRecord):
                config = self.__dict__["_config"] = ConfigRecord(config)
        return config

    @config.setter
    def config(self, value) -> None:
        self.__dict__["_config"] = value
        self.__dict__.pop("_forward_cache", None)

    @classmethod
    def _bind_training(cls) -> None:
        """Import :attr:`training_module` (which calls :meth:`trained_with`) when nothing is bound yet."""
        if cls.config_type is None and cls.training_module is not None:
            importlib.import_module(cls.training_module)

    @classmethod
    def training_config_type(cls) -> type | None:
        """The class of the training config: :attr:`config_type`, bound by the family's :attr:`training_module`
        (imported here on first use); None for a family that names neither."""
        cls._bind_training()
        return cls.config_type

    @classmethod
    def trained_with(cls, config_type: type, task_type: type) -> None:
        """Bind the family's training config and task (called by its module in :mod:`infantjax.train`, which
        composes the family's forward): loading and predicting never need them, training and ``model.task`` do."""
        cls.config_type, cls.task_type = config_type, task_type

    def _config_record(self) -> dict:
        config = self.__dict__.get("_config")
        return dict(config) if isinstance(config, Mapping) else config.to_dict()

    def _memo(self, store: str, key, build):
        """``build()``, made once and kept under ``key`` in the instance's cache ``store`` (a dict in its
        ``__dict__``; setting :attr:`config` drops ``_forward_cache``)."""
        cache = self.__dict__.setdefault(store, {})
        if key not in cache:
            cache[key] = build()
        return cache[key]

    @property
    def inputs(self):
        """The inference inputs (:class:`~infantjax.infer.forward.Inputs` of the forward's type) of the config."""
        if self.forward_type is None:
            raise ConfigError(f"{type(self).__name__} names no forward_type")
        return self._memo("_forward_cache", "inputs",
                          lambda: self.forward_type.inputs_type.of(self.__dict__.get("_config")))

    @property
    def forward(self):
        """The family's forward pass for this spec and inputs (built once)."""
        return self._memo("_forward_cache", "forward", lambda: self.forward_type(self.spec, self.inputs))

    # ------------------------------------------------------------------ sizes and the task
    @property
    def num_instances(self) -> int:
        """The number of stacked instances."""
        return int(jax.tree_util.tree_leaves(self.saved_variables())[0].shape[0])

    @property
    def task(self):
        """The family's task for this spec and config (built once)."""
        return self._memo("_task_cache", "task", lambda: self.make_task(self.spec, self.config))

    @classmethod
    def make_task(cls, spec, config):
        """``task_type(spec, config)``."""
        cls._bind_training()
        if cls.task_type is None:
            raise ConfigError(f"{cls.__name__} names no task_type; import its training module (infantjax.train) "
                              "first, or set task_type / override make_task")
        return cls.task_type(spec, config)

    def predictor(self, method: str = "predict", *, mesh=None) -> StackedPredictor:
        """The task's ``method`` over every instance (:class:`~infantjax.infer.predict.StackedPredictor`), kept
        per method, mesh and backend policy so its compiled calls serve every later prediction."""
        def build():
            if self.forward_type is not None:
                fn, budget = task_forward(self.forward, method), self.inputs.memory_budget
            else:
                fn, budget = task_forward(self.task, method), getattr(self.config, "memory_budget", None)
            return StackedPredictor(fn, self.variables, mesh=mesh, memory_budget=budget)

        return self._memo("_predictors", (method, mesh, backend.current()), build)

    def predict(self, *args, **kwargs):
        """The family's prediction (a recording or a cohort in, a typed result out)."""
        raise NotImplementedError(f"{type(self).__name__} does not define predict")

    def example_input(self, seed: int = 0) -> tuple:
        """A small made-up recording for :meth:`predict`, as its arguments: random values of the shapes this model
        takes, so that ``model.predict(*model.example_input())`` runs. For a quick check that a loaded model works
        (a serving health check, a notebook's first cell) and for the checks every family passes; each family makes
        it beside its ``predict``, so nothing else lists what a family's recording looks like.

        Raises:
            NotImplementedError: a family that does not make one."""
        raise NotImplementedError(f"{type(self).__name__} does not make an example input: define example_input "
                                  "beside its predict")

    # ------------------------------------------------------------------ export
    #: the keyword options :meth:`graph` takes (``infantjax.deploy.deployable`` passes only these)
    graph_options: ClassVar[tuple[str, ...]] = ()

    def graph(self, **options):
        """The model's inference as one function of one float32 array
        (:class:`~infantjax.infer.graph.Deployable`), what ``infantjax.deploy.export`` writes. A family with a
        :attr:`forward_type` exports its forward over every instance (unrolled) for free: the network's input
        (its registered sample input's per-example shape) → every instance's output, instances on axis 1; a
        family with its own graph overrides this.

        Raises:
            ExportError: the family has neither a forward pass nor its own graph.
        """
        if self.forward_type is None or not self.forward_type.exports:
            raise ExportError(f"cannot export a {self.kind or type(self).__name__} model: its family gives no "
                              "export graph (infantjax exports the families whose trained model defines graph() or "
                              "a forward_type); this one runs in infantjax")
        import jax.numpy as jnp

        from infantjax import models
        from infantjax.infer.graph import Deployable, instance

        forward, count = self.forward, self.num_instances
        stack = [instance(self.variables, i) for i in range(count)]
        shape = tuple(int(n) for n in models.sample_input(self.spec))[1:]

        def graph(forms: str):
            def fn(x):
                return (jnp.stack([forward.apply(v, x) for v in stack], axis=1),)

            return fn

        def reference(x: np.ndarray) -> tuple:
            return (np.moveaxis(np.asarray(self.predictor()(np.asarray(x, np.float32))), 0, 1),)

        def sample(n: int, seed: int = 0) -> np.ndarray:
            return np.random.default_rng(seed).normal(size=(n, *shape)).astype(np.float32)

        layout = ", ".join(map(str, shape))
        return Deployable(f"{self.kind} model ({count} instances)", self.kind, graph, "inputs", shape,
                          f"(N, {layout}) float32: the network's input ({type(self.forward).__name__}.prepare)",
                          ("outputs",), (f"every instance's output, instances on axis 1 (N, {count}, ...)",),
                          reference, sample,
                          {"model": self.kind, "spec": self.spec.to_dict(), "instances": count,
                           "info": dict(getattr(self, "info", {}) or {})})

    @classmethod
    def recognises(cls, path: pathlib.Path) -> bool:
        """Whether ``path`` (without the common header) is a model this family saved in an older form (default:
        a folder holding one of :attr:`legacy_headers`); :func:`infantjax.infer.registry.family_of` asks."""
        return path.is_dir() and any((path / name).is_file() for name in cls.legacy_headers)

    # ------------------------------------------------------------------ the saved form (hooks)
    def header(self) -> dict:
        """The header's family fields (besides ``format``, ``kind`` and ``format_version``)."""
        out = {"spec": self.spec.to_dict(), "config": self._config_record(), "instances": self.num_instances}
        if self.forward_type is not None:
            out["inputs"] = self.inputs.to_dict()
        return out

    def saved_variables(self) -> Any:
        """The pytree saved as ``variables/``."""
        return self.variables

    @classmethod
    def spec_from(cls, header: Mapping) -> Any:
        return cls.spec_type.from_dict(header["spec"])

    @classmethod
    def config_from(cls, header: Mapping) -> Any:
        if cls.config_type is None and cls.forward_type is not None:  # the record, until train/ binds the class
            return dict(header["config"])
        return cls.config_type.from_dict(header["config"])

    @classmethod
    def abstract_variables(cls, header: Mapping) -> Any:
        """Shapes and dtypes of the saved variables (what ``variables/`` is restored into): the task's ``init``
        stacked ``instances`` times, nothing computed."""
        if cls.forward_type is not None:
            init = cls.forward_type(cls.spec_from(header), cls.forward_type.inputs_from(header)).init
        else:
            init = cls.make_task(cls.spec_from(header), cls.config_from(header)).init
        shapes = jax.eval_shape(init, jax.random.PRNGKey(0))
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
        if path.suffix.lower() == ".npz":
            return self.save_file(path)
        path.mkdir(parents=True, exist_ok=True)
        save_tree(path / VARIABLES, self.saved_variables())
        write_json(path / HEADER, self._record(), indent=2, sort_keys=False, allow_nan=True)
        return path

    def _record(self) -> dict:
        record = {"format": FORMAT, "kind": self.kind, "format_version": self.format_version, **self.header()}
        if getattr(self, "info", None) and "info" not in record:
            record["info"] = self.info
        return record

    def save_file(self, path: str | os.PathLike, *, dtype: str = "float32", compress: bool = True) -> pathlib.Path:
        """Write the model as one ``.npz`` file (atomic, no pickle): the header of :meth:`save` as JSON under
        ``__header__`` and every variable under ``variables/<path>`` — the format of the models shipped in the
        package (:mod:`infantjax.models.zoo`).

        Arguments:
            path: the file (``.npz``).
            dtype: ``float32`` or ``float16`` storage of the floating-point variables (loading computes in their
                model's dtype again; float16 halves the file).
            compress: zip-deflate the arrays (smaller, slower to write and read).

        Returns:
            the path written.
        """
        if dtype not in ("float32", "float16"):
            raise ConfigError(f"dtype must be 'float32' or 'float16', got {dtype!r}")
        flat = flatten_tree(parallel.to_host(self.saved_variables()))  # gathered if sharded over processes
        arrays = {f"{VARIABLES}/{k}": (v.astype(dtype) if np.issubdtype(v.dtype, np.floating) else v)
                  for k, v in flat.items()}
        header = json.dumps({**self._record(), "storage_dtype": dtype}, allow_nan=True, default=_json_default)
        return save_npz(path, {NPZ_HEADER: np.array(header), **arrays}, compress=compress)

    @classmethod
    def load(cls, path: str | os.PathLike):
        """Read a model folder written by :meth:`save` (or by an older infantjax, :meth:`upgrade`), or a single
        ``.npz`` file written by :meth:`save_file`.

        Raises:
            CheckpointError: no model there, a header of another kind or of an unreadable version, a corrupt
                header or checkpoint, variables that do not match the spec.
        """
        folder = pathlib.Path(path)
        what = cls.title or f"a saved {cls.kind} model"
        if folder.suffix.lower() == ".npz" and not folder.is_dir():
            file, doc, flat = _read_npz(folder, what)
            doc, like = cls._checked_header(file, doc, what)
            tree = _restore_flat(file, flat, like)
        else:
            legacy = None if (folder / HEADER).is_file() else cls.legacy_header(folder)
            file, doc = legacy if legacy is not None else read_header(folder, names=(HEADER, *cls.legacy_headers),
                                                                      what=what)
            doc, like = cls._checked_header(file, doc, what)
            tree = restore_tree(folder / VARIABLES, like)
        try:
            model = cls.from_saved(doc, jax.tree_util.tree_map(np.asarray, tree))
        except (KeyError, TypeError, ValueError) as err:
            raise CheckpointError(f"{file} is incomplete or invalid ({type(err).__name__}: {err}); save the model "
                                  "again") from None
        if not getattr(model, "info", None):
            model.info = dict(doc.get("info") or {})
        return model

    @classmethod
    def pretrained(cls, name: str | None = None):
        """A model of this family shipped with the package (the offline zoo: :func:`infantjax.models.zoo.available`
        lists the entries, with what each was trained on and its held-out figure).

        Arguments:
            name: a zoo entry of this family (default: the family's model trained on the synthetic infant).

        Raises:
            ConfigError: an unknown name, or an entry of another family. CheckpointError: the packaged file is
                missing or damaged.
        """
        from infantjax.models import zoo

        name = zoo.default(cls.kind) if name is None else name
        with zoo.weights_file(name, cls.kind) as path:
            return cls.load(path)

    @classmethod
    def _checked_header(cls, file, doc: dict, what: str) -> tuple[dict, Any]:
        """The header (upgraded to this version) and the abstract variables it describes."""
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
        return doc, like


def _json_default(value):
    from infantjax.io.files import json_default

    return json_default(value)


def _read_npz(path: pathlib.Path, what: str) -> tuple[pathlib.Path, dict, dict[str, np.ndarray]]:
    """The header and the flat variables of a single-file model (:meth:`TrainedModel.save_file`)."""
    if not path.is_file():
        raise CheckpointError(f"{path} does not exist: it is not {what}")
    try:
        with np.load(path, allow_pickle=False) as data:
            if NPZ_HEADER not in data.files:
                raise CheckpointError(f"{path} is not {what}: it has no {NPZ_HEADER} record (a file written by "
                                      "TrainedModel.save to a .npz path has)")
            doc = json.loads(str(data[NPZ_HEADER]))
            prefix = VARIABLES + "/"
            flat = {k[len(prefix):]: data[k] for k in data.files if k.startswith(prefix)}
    except CheckpointError:
        raise
    except (OSError, ValueError, EOFError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{path} is corrupt or not {what} ({type(err).__name__}: {err})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        found = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
        raise CheckpointError(f"{path}: unknown format {found!r}, expected {FORMAT!r}; write the file with "
                              "TrainedModel.save")
    return path, doc, flat


def _restore_flat(file: pathlib.Path, flat: dict[str, np.ndarray], like) -> Any:
    """``flat`` as the pytree ``like`` describes (same paths and shapes; stored float16 widened to the dtype)."""
    leaves, treedef = jax.tree_util.tree_flatten_with_path(like)
    want = {"/".join(str(getattr(e, "key", e)) for e in path): s for path, s in leaves}
    missing, extra = sorted(set(want) - set(flat)), sorted(set(flat) - set(want))
    if missing or extra:
        raise CheckpointError(f"{file}: the variables do not match the model (missing {missing[:3]}, unexpected "
                              f"{extra[:3]}); save the model again")
    wrong = [k for k, s in want.items() if tuple(flat[k].shape) != tuple(s.shape)]
    if wrong:
        k = wrong[0]
        raise CheckpointError(f"{file}: variable {k} has shape {tuple(flat[k].shape)}, the model's is "
                              f"{tuple(want[k].shape)}; save the model again")
    bad = [k for k in want if np.issubdtype(flat[k].dtype, np.floating) and not np.isfinite(flat[k]).all()]
    if bad:
        raise CheckpointError(f"{file}: variables {bad[:3]} are not finite; the file is damaged, save the model "
                              "again")
    return jax.tree_util.tree_unflatten(treedef, [flat[k].astype(s.dtype) for k, s in want.items()])

