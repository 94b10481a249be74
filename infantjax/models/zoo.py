"""The offline model zoo: trained models shipped inside the package (never downloaded), an entry for every family.

Each entry is one pickle-free ``.npz`` file in the package, every one in the common trained-model format
(:meth:`infantjax.train.TrainedModel.save` to a ``.npz`` path): the pose networks (``infantjax/models/pose/weights/``:
the four official MPII EfficientPose models and one fine-tuned on synthetic infants) and one model of every other
family (``infantjax/models/weights/``, written by ``experiments/train_zoo.py``, trained on the synthetic infant
only). :func:`available` lists them with what a user needs to choose one — the family, what it was trained on,
its held-out figure on fresh synthetic data, its licence and source — and :func:`weights_file` is the one loader
every family's ``pretrained(name)`` opens its file with (``PosePredictor.pretrained``, ``Ensemble.pretrained``,
``SMAModel.pretrained``, ``SmartphoneModel.pretrained``, ``MamModel.pretrained``, ``DepthModel.pretrained``:
:meth:`infantjax.train.TrainedModel.pretrained`).

No entry is written here: a family declares its entries beside its definition and its registration carries them
(``@register_family(recording=..., zoo=(ZooEntry(...), ...))``, :mod:`infantjax.infer.registry`, which calls
:func:`register`), as timm's ``default_cfgs`` sit beside its models. This module collects what the registered
families declared; a question about an entry or a family not registered yet first registers the families shipped
with infantjax, one module at a time until it is answered (:func:`infantjax.infer.registry.discover`: the module of
the families' registration, a layer above this one, is named here, not imported). The entries are listed family by
family in the registry's order (:func:`infantjax.infer.registry.families`), each family's in the order it declared
them: its last is its default (:func:`default`).

The models trained on synthetic data are for trying a family out (the demo, the tests, a first look at the API);
they have never seen a real infant and are not for clinical use. docs/zoo.md states how each was trained and its
figures.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import os
from collections.abc import Callable, Iterable, Iterator, MutableMapping
from importlib import resources

from infantjax.errors import CheckpointError, ConfigError

__all__ = ["NOT_CLINICAL", "SYNTHETIC_SOURCE", "ZOO", "ZooEntry", "available", "default", "entry", "families",
           "register", "synthetic_entry", "weights_file"]

#: the source of the entries ``experiments/train_zoo.py`` trained on the synthetic infant
SYNTHETIC_SOURCE = "infantjax experiments/train_zoo.py"
#: what the description of every entry trained on the synthetic infant only says of its use
NOT_CLINICAL = "trained on the synthetic infant only: for trying the family out, not for clinical use"

#: the module of the families' registration (named, not imported: it is a layer above this one)
_REGISTRY = "infantjax.infer.registry"


@dataclasses.dataclass(frozen=True)
class ZooEntry:
    """One shipped model. A family whose entries say more subclasses it (the pose family's
    :class:`~infantjax.models.pose.zoo.PoseZooEntry`: variant, keypoint set, resolution).

    Attributes:
        name: the name ``<Family>.pretrained`` (and ``infantjax pose --pose`` / ``infantjax export``) take.
        family: the ``kind`` of its trained model (the family registered for it,
            :func:`infantjax.infer.registry.family`).
        file: file name in the folder ``weights/`` of ``package``.
        licence: licence of the weights.
        source: where the weights come from.
        description: what the model is for, and what it is not for.
        trained_on: the data it was trained on.
        held_out: its figure on held-out data (for the synthetic models: fresh synthetic infants it never saw).
        package: the package whose ``weights/`` folder holds ``file``.
    """

    name: str
    family: str
    file: str
    licence: str
    source: str
    description: str
    trained_on: str = ""
    held_out: str = ""
    package: str = "infantjax.models"


def synthetic_entry(name: str, family: str, file: str, description: str, trained_on: str,
                    held_out: str) -> ZooEntry:
    """An entry ``experiments/train_zoo.py`` trained on the synthetic infant: licence Apache-2.0, source
    :data:`SYNTHETIC_SOURCE`, and ``description`` followed by ``"; "`` and :data:`NOT_CLINICAL`."""
    return ZooEntry(name, family, file, "Apache-2.0", SYNTHETIC_SOURCE, f"{description}; {NOT_CLINICAL}",
                    trained_on, held_out)


#: family kind -> {name: entry}, as the families registered them
_BY_FAMILY: dict[str, dict[str, ZooEntry]] = {}


def register(family: str, entries: Iterable[ZooEntry]) -> None:
    """The zoo entries of ``family`` (the ``kind`` of its trained model), in the order they are given, replacing
    what the family registered before (a reloaded module). Called by the family's registration
    (:func:`infantjax.infer.registry.register_family`).

    Raises:
        ConfigError: an entry that is not a :class:`ZooEntry` of ``family``, or a name another family's entry has.
    """
    mine: dict[str, ZooEntry] = {}
    for e in entries:
        if not isinstance(e, ZooEntry) or e.family != family:
            raise ConfigError(f"the {family} family registers {e!r} as its zoo entry; give a ZooEntry whose "
                              f"family is {family!r}")
        owner = next((kind for kind, named in _BY_FAMILY.items() if kind != family and e.name in named), None)
        if owner is not None or e.name in mine:
            raise ConfigError(f"the zoo entry {e.name!r} is registered already (by the {owner or family} family); "
                              "give the new one another name")
        mine[e.name] = e
    if mine:
        _BY_FAMILY[family] = mine
    else:
        _BY_FAMILY.pop(family, None)


def _discover(done: Callable[[], bool] | None = None) -> None:
    """Register the shipped families one module at a time until ``done()`` (None: all of them)."""
    importlib.import_module(_REGISTRY).discover(done)


def _order() -> list[str]:
    """The families that registered entries, in the registry's order."""
    kinds = [f.kind for f in importlib.import_module(_REGISTRY).families()]
    return [k for k in kinds if k in _BY_FAMILY] + [k for k in _BY_FAMILY if k not in kinds]


def _find(name: str) -> ZooEntry | None:
    def found() -> ZooEntry | None:
        return next((named[name] for named in _BY_FAMILY.values() if name in named), None)

    _discover(lambda: found() is not None)
    return found()


class _Entries(MutableMapping):
    """Every entry by name (:data:`ZOO`): looking a name up registers the shipped families until one has it;
    listing them registers all of them. Setting an entry replaces the one of that name in its family's list."""

    def __getitem__(self, name: str) -> ZooEntry:
        e = _find(name) if isinstance(name, str) else None
        if e is None:
            raise KeyError(name)
        return e

    def __setitem__(self, name: str, e: ZooEntry) -> None:
        if e.name != name:
            raise ConfigError(f"the zoo entry {e.name!r} cannot be stored as {name!r}")
        _discover(lambda: e.family in _BY_FAMILY)
        _BY_FAMILY.setdefault(e.family, {})[name] = e

    def __delitem__(self, name: str) -> None:
        e = self[name]
        del _BY_FAMILY[e.family][name]

    def __iter__(self) -> Iterator[str]:
        _discover()
        return iter([name for kind in _order() for name in _BY_FAMILY[kind]])

    def __len__(self) -> int:
        _discover()
        return sum(len(named) for named in _BY_FAMILY.values())

    def __repr__(self) -> str:
        return f"ZOO({', '.join(self)})"


#: Every shipped model by name, family by family (a mapping that registers the shipped families on first use).
ZOO: MutableMapping[str, ZooEntry] = _Entries()


def available(family: str | None = None) -> list[ZooEntry]:
    """The shipped models in a stable order: all of them, or those of one ``family`` (the ``kind`` of
    its trained model; :func:`families` lists them).

    Raises:
        ConfigError: an unknown family.
    """
    if family is None:
        return list(ZOO.values())
    _check_family(family)
    return list(_BY_FAMILY[family].values())


def families() -> tuple[str, ...]:
    """The families (``kind`` of their trained models) that have an entry in the zoo, in the zoo's order."""
    _discover()
    return tuple(_order())


def _check_family(family: str) -> None:
    _discover(lambda: family in _BY_FAMILY)
    if family not in _BY_FAMILY:
        raise ConfigError(f"unknown model family {family!r}; the zoo has {', '.join(families())}")


def default(family: str) -> str:
    """The name of a family's default entry: its last (the model trained on the synthetic infant; for the pose
    family ``rt-synthetic-infant-roi``, after ``rt-synthetic-infant-home``, which is asked for by name)."""
    entries = available(family)
    if not entries:
        raise ConfigError(f"the zoo has no {family} model")
    return entries[-1].name


def did_you_mean(name: str, names: Iterable[str]) -> str:
    """``" (did you mean 'a' or 'b'?)"`` naming the entries of ``names`` close to a misspelt ``name``
    (:func:`difflib.get_close_matches`), or ``""`` when none is close: the tail of an unknown-name message."""
    import difflib

    names = list(names)
    near = difflib.get_close_matches(str(name), names, n=3, cutoff=0.75)
    if near:  # the closest, and only those about as close (not every entry sharing a long prefix)
        score = {n: difflib.SequenceMatcher(None, str(name), n).ratio() for n in near}
        near = [n for n in near if score[n] >= score[near[0]] - 0.02]
    return f" (did you mean {' or '.join(repr(n) for n in near)}?)" if near else ""


def entry(name: str, family: str | None = None) -> ZooEntry:
    """The zoo entry called ``name`` (of ``family`` when given).

    Raises:
        ConfigError: an unknown name (the message lists the family's names), or an entry of another family (the
            message names the class that loads it).
    """
    if family is not None:
        _check_family(family)
    e = ZOO.get(name)
    if e is None:
        names = [x.name for x in available(family)]
        what = f"{family} model" if family else "model"
        raise ConfigError(f"unknown pretrained {what} {name!r}{did_you_mean(name, names)}; available: "
                          f"{', '.join(names)} (or pass the path of a saved model)")
    if family is not None and e.family != family:
        raise ConfigError(f"the zoo entry {name!r} is a {e.family} model, not a {family} model; load it with "
                          f"infantjax.load({name!r})")
    return e


@contextlib.contextmanager
def weights_file(name: str, family: str | None = None) -> Iterator[str]:
    """The path of the shipped file of ``name`` (a context: a zipped installation extracts it meanwhile): the one
    loader of every family's ``pretrained(name)``.

    Raises:
        ConfigError: an unknown name or another family's (:func:`entry`). CheckpointError: the file is missing from
            the installation.
    """
    e = entry(name, family)
    ref = resources.files(e.package).joinpath("weights", e.file)
    with resources.as_file(ref) as path:
        if not os.path.isfile(path):
            folder = e.package.replace(".", "/") + "/weights"
            raise CheckpointError(f"the packaged file {e.file!r} of {name!r} is missing from this installation "
                                  f"(package data {folder}/*.npz); reinstall infantjax")
        yield os.fspath(path)
