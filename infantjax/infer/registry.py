"""One registration per model family: what the zoo, ``deploy`` and the CLI find a family through.

A family registers its trained-model class (a :class:`~infantjax.infer.trained.TrainedModel` subclass) once, next
to its definition, with what it predicts on and its shipped models (its zoo entries)::

    @register_family(recording="a skeleton sequence (infantjax.SkeletonSequence)",
                     zoo=(ZooEntry("cp-gcn-synthetic", "ensemble", "cp_gcn_synthetic.npz", ...),))
    class Ensemble(TrainedModel):
        kind = "ensemble"
        ...

The ``kind`` of the class is the ``kind`` field of every saved header (``model.json``, a ``.npz`` file's
``__header__``) and the ``family`` of its zoo entries (:mod:`infantjax.models.zoo`, which collects the entries the
families registered), so :func:`load` finds the class of any saved model from the file itself — as timm's
``register_model`` and keras-hub's ``from_preset`` find theirs from a saved config — and nothing else keeps a table
of the families. A file written before the common header is claimed by the family whose
:meth:`~infantjax.infer.trained.TrainedModel.recognises` says so (an ensemble folder with ``ensemble.json``, a pose
``.npz`` weights file or Keras ``.h5``).

This module imports no family: a family is registered when its module is imported. :data:`SHIPPED` names the
modules of the families shipped with infantjax, cheapest first — the one list of them: :func:`load`
(:func:`infantjax.load`) and the zoo import them one at a time (:func:`discover`) until the model's family (or the
zoo entry) is registered; :func:`shipped` imports them all.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import pathlib
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from infantjax.errors import CheckpointError, ConfigError

__all__ = ["SHIPPED", "Family", "discover", "families", "family", "family_of", "load", "register_family", "shipped"]

#: the modules that register the families shipped with infantjax (one family each), cheapest first: the CP
#: ensemble, MAM, SMA, smartphone and depth families, then the pose family (EfficientPose's modules). The one list
#: of the shipped families: the zoo lists its entries in this order, ``infer/families.py`` imports these modules,
#: and the families' training modules, which the task contract checks, are named by the families themselves. Named,
#: not imported: this module imports no family, and :func:`load` stops at the step that registers the model's.
SHIPPED = ("infantjax.infer.ensemble", "infantjax.infer.mam", "infantjax.infer.sma", "infantjax.infer.passmore",
           "infantjax.infer.depth", "infantjax.infer.pose")


@dataclasses.dataclass(frozen=True)
class Family:
    """One registered family.

    Attributes:
        kind: the ``kind`` of its saved models and zoo entries.
        model: its trained-model class (``load``, ``pretrained``, ``predict``, ``graph`` for export).
        recording: what its ``predict`` takes, for messages and docs.
    """

    kind: str
    model: type
    recording: str = ""

    @property
    def name(self) -> str:
        return f"{self.model.__module__}.{self.model.__qualname__}"


_FAMILIES: dict[str, Family] = {}


def register_family(model: type | None = None, *, recording: str = "", zoo: Iterable[Any] = ()) -> Any:
    """Register a trained-model class as its family (usable as ``@register_family`` or
    ``@register_family(recording=..., zoo=...)``); registering a class again (a reloaded module) replaces it.

    Arguments:
        recording: what its ``predict`` takes, for messages and docs.
        zoo: its shipped models (:class:`infantjax.models.zoo.ZooEntry`, of this family's ``kind``), in order:
            the last is the family's default (``pretrained()``); :mod:`infantjax.models.zoo` lists them.

    Raises:
        ConfigError: a class without a ``kind``, a second class for a kind already registered by another module, or
            a zoo entry of another family or of a name another family registered.
    """
    def decorate(cls: type) -> type:
        kind = getattr(cls, "kind", "")
        if not isinstance(kind, str) or not kind:
            raise ConfigError(f"{cls.__qualname__} has no kind: set the class attribute kind (the 'kind' of its "
                              "saved models) before registering it")
        old = _FAMILIES.get(kind)
        if old is not None and old.model is not cls and (old.model.__module__, old.model.__qualname__) != (
                cls.__module__, cls.__qualname__):
            raise ConfigError(f"the family {kind!r} is already registered by {old.name}; give {cls.__qualname__} "
                              "another kind")
        from infantjax.models import zoo as shipped_models

        shipped_models.register(kind, entries)
        _FAMILIES[kind] = Family(kind, cls, recording)
        return cls

    entries = tuple(zoo)

    return decorate(model) if model is not None else decorate


def _rank(f: Family) -> int:
    return SHIPPED.index(f.model.__module__) if f.model.__module__ in SHIPPED else len(SHIPPED)


def families() -> tuple[Family, ...]:
    """The registered families: the shipped ones in the order of :data:`SHIPPED` (whichever was imported first),
    then the others in registration order."""
    return tuple(sorted(_FAMILIES.values(), key=_rank))


def family(kind: str, *, source: object = None) -> Family:
    """The family of ``kind``.

    Raises:
        CheckpointError: no family of that kind is registered (``source``: the file that named it, for the message).
    """
    found = _FAMILIES.get(kind)
    if found is None:
        where = f"{source}: a saved model of" if source is not None else "no family is registered for"
        known = ", ".join(_FAMILIES) or "none (import infantjax.pipelines and call families())"
        raise CheckpointError(f"{where} unknown kind {kind!r}; the registered families are {known}")
    return found


def _header_kind(path: pathlib.Path) -> str | None:
    """The ``kind`` of a saved model's common header, or None when it has none."""
    from infantjax.infer.trained import HEADER, NPZ_HEADER, read_header

    if path.is_dir():
        if not (path / HEADER).is_file():
            return None
        file, doc = read_header(path)
        kind = doc.get("kind")
        if not isinstance(kind, str):
            raise CheckpointError(f"{file} names no model kind; save the model again with its save()")
        return kind
    if path.suffix.lower() != ".npz":
        return None
    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as data:
            if NPZ_HEADER not in data.files:
                return None
            doc = json.loads(str(data[NPZ_HEADER]))
    except (OSError, ValueError, EOFError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{path} is not a saved model ({type(err).__name__}: {err})") from None
    kind = doc.get("kind") if isinstance(doc, dict) else None
    if not isinstance(kind, str):
        raise CheckpointError(f"{path} names no model kind in its header; save the model again with its save()")
    return kind


def _import_step(module: str) -> Callable[[], Any]:
    return lambda: importlib.import_module(module)


def _shipped_steps() -> tuple[Callable[[], Any], ...]:
    return tuple(_import_step(m) for m in SHIPPED)


def _discover(steps: Sequence[Callable[[], Any]] | None, done: Callable[[], bool]) -> None:
    """Run the import steps one at a time until ``done()`` (None: the shipped families' modules)."""
    for step in _shipped_steps() if steps is None else steps:
        if done():
            return
        step()


def discover(done: Callable[[], bool] | None = None) -> None:
    """Import the modules of the shipped families (:data:`SHIPPED`) one at a time, cheapest first, until
    ``done()`` is true (None: all of them): how :func:`load` and the zoo (:mod:`infantjax.models.zoo`) find a
    family or an entry without importing the others."""
    _discover(None, done or (lambda: False))


def shipped() -> tuple[Family, ...]:
    """Every family shipped with infantjax, registered (their modules, :data:`SHIPPED`, imported), in the order of
    :data:`SHIPPED`. A family a user registered is in :func:`families` (which :func:`load` reads) but not here,
    whenever it was registered."""
    discover()
    return tuple(f for f in families() if f.model.__module__ in SHIPPED)


def _recognised(path: pathlib.Path) -> Family | None:
    for f in _FAMILIES.values():
        if f.model.recognises(path):
            return f
    return None


def family_of(path: str | os.PathLike, *, discover: Sequence[Callable[[], Any]] | None = None) -> Family:
    """The family of the saved model at ``path``: the ``kind`` of its header, or the family that recognises a file
    written before the common header.

    Arguments:
        path: the folder or file.
        discover: import steps (each registers more families), run one at a time until the family is found.

    Raises:
        CheckpointError: no such path, a header of an unknown kind, or a file no family recognises.
    """
    path = pathlib.Path(path)
    if not path.exists():
        raise CheckpointError(f"{path} does not exist: pass the folder or file a model's save() wrote")
    kind = _header_kind(path)
    if kind is not None:
        _discover(discover, lambda: kind in _FAMILIES)
        return family(kind, source=path)
    _discover(discover, lambda: _recognised(path) is not None)
    found = _recognised(path)
    if found is None:
        raise CheckpointError(f"{path} is not a saved model of any registered family ({', '.join(_FAMILIES)}): it "
                              "has no model.json / __header__ and no family recognises it")
    return found


def load(name_or_path: str | os.PathLike, *, kind: str | None = None,
         discover: Sequence[Callable[[], Any]] | None = None) -> Any:
    """The trained model named ``name_or_path``: a zoo entry (:func:`infantjax.models.zoo.available`), or the path
    of a saved model of any registered family (a folder or ``.npz`` written by its ``save``, or a file its family
    recognises). Its ``predict`` takes the family's recording and returns its typed result.

    Arguments:
        name_or_path: the zoo name or the path.
        kind: the family the model must be of (``"pose"``, ``"ensemble"``, ...: the ``kind`` of its saved
            models): a model of another family is refused before its weights are read, and the message lists
            that family's zoo entries. None: any family.
        discover: import steps run one at a time while the family is not registered yet (default: the shipped
            families' modules, :data:`SHIPPED`), so a family loads without importing the others; ``()`` looks
            only at the families registered already.

    Raises:
        ConfigError: neither an existing path nor a zoo name; a model of another family than ``kind``; an
            unknown ``kind``. CheckpointError: a file that is not a saved model.
    """
    from infantjax.models import zoo

    if not isinstance(name_or_path, (str, os.PathLike)):
        raise ConfigError(f"load takes a zoo name or the path of a saved model, got {type(name_or_path).__name__}")
    if kind is not None:
        _discover(discover, lambda: kind in _FAMILIES)
        if kind not in _FAMILIES:
            raise ConfigError(f"unknown model family {kind!r}; the families are {', '.join(_FAMILIES)}")

    def entries() -> list[str]:  # the names a message lists (every family registered for it: an error path)
        return [e.name for e in zoo.available() if kind is None or e.family == kind]

    def refuse(what: str, other: str):
        names = entries()
        listed = f"the {kind} zoo entries: {', '.join(names)}" if names else f"the zoo has no {kind} entry"
        raise ConfigError(f"{what} is {_a(other)} model, not {_a(kind)} model; give a saved {kind} model or a zoo "
                          f"name ({listed})")

    path = pathlib.Path(name_or_path)
    if path.exists():
        found = family_of(path, discover=discover)
        if kind is not None and found.kind != kind:
            refuse(str(path), found.kind)
        return found.model.load(path)
    name = os.fspath(name_or_path)
    entry = zoo.ZOO.get(name)  # registers the shipped families one at a time until one has the name
    if entry is not None:
        if kind is not None and entry.family != kind:
            refuse(name, entry.family)
        _discover(discover, lambda: entry.family in _FAMILIES)
        return family(entry.family).model.pretrained(name)
    what = "a zoo entry" if kind is None else f"{_a(kind)} zoo entry"
    names = entries()
    raise ConfigError(f"{name} is neither a saved model (no such file or folder) nor {what}"
                      f"{zoo.did_you_mean(name, names)}; available: {', '.join(names)}")


def _a(word: str) -> str:
    """``word`` with its indefinite article (``an ensemble``, ``a pose``)."""
    return f"{'an' if word[:1].lower() in 'aeiou' else 'a'} {word}"
