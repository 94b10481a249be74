"""The models of an assessment: the pose model and the CP ensemble a run uses, loaded once through
:func:`infantjax.load` (a zoo name or a saved path), the check of their names before anything is opened, and the
sentence saying which of them were trained on synthetic infants only."""

from __future__ import annotations

import dataclasses
import os
import pathlib

from infantjax.errors import ConfigError


@dataclasses.dataclass(frozen=True, eq=False)
class Models:
    """The pose model and the CP ensemble of a run, with the names the records give them."""

    pose: object
    ensemble: object
    pose_name: str
    ensemble_name: str


def check_model_names(ensemble=None, pose=None) -> None:
    """The ensemble and pose model named by a string are zoo entries of their family or existing paths (models
    given as objects, or None for the defaults, pass): cheap, before any video or model is opened.

    Raises:
        ConfigError: a name that is neither (the message lists the family's zoo names and suggests the near ones,
            "did you mean ...?").
    """
    from infantjax.infer.pose import PRETRAINED
    from infantjax.models import zoo

    if isinstance(ensemble, (str, os.PathLike)):
        name = os.fspath(ensemble)
        zoo_names = sorted(e.name for e in zoo.available("ensemble"))
        if name not in zoo_names and not pathlib.Path(name).exists():
            raise ConfigError(f"--ensemble {name!r} is neither a zoo ensemble ({', '.join(zoo_names)}) nor a "
                              f"saved ensemble folder{zoo.did_you_mean(name, zoo_names)}; give a zoo name "
                              "or a folder written by `infantjax train` or `infantjax import-movementoutcome`")
    if isinstance(pose, (str, os.PathLike)):
        name = os.fspath(pose)
        if name not in PRETRAINED and not pathlib.Path(name).exists():
            raise ConfigError(f"--pose {name!r} is neither a zoo pose model ({', '.join(PRETRAINED)}) nor a saved "
                              "pose model (the folder pose-train writes, a PosePredictor .npz or an official "
                              f"EfficientPose .h5){zoo.did_you_mean(name, PRETRAINED)}")


def load_models(ensemble=None, pose=None) -> Models:
    """The one place ``assess`` loads its models, through :func:`infantjax.load` (a zoo name or a saved path).

    Arguments:
        ensemble: a zoo entry name, a folder (or ``.npz``) saved by ``Ensemble.save`` or written by
            ``infantjax import-movementoutcome``, an :class:`~infantjax.ensemble.Ensemble`, or None (the zoo's CP
            ensemble).
        pose: a zoo pose entry name (``rt-synthetic-infant-roi``, ``efficientpose-rt-mpii`` ...), a predictor ``.npz`` or
            an official EfficientPose ``.h5``, a :class:`~infantjax.pipelines.pose.PosePredictor`, or None (the
            zoo's infant model ``rt-synthetic-infant-roi``).

    Raises:
        ConfigError: a name that is neither a zoo entry nor an existing path. CheckpointError, WeightsError: a
            damaged saved model.
    """
    from infantjax.infer.registry import load
    from infantjax.models import zoo

    check_model_names(ensemble, pose)  # both names before either model is loaded
    if ensemble is None or isinstance(ensemble, (str, os.PathLike)):
        name = zoo.default("ensemble") if ensemble is None else os.fspath(ensemble)
        ens = load(name, kind="ensemble")  # another family's model is refused before its weights are read
        ens_name = name if name in zoo.ZOO else str(pathlib.Path(name).resolve())
    else:
        ens, ens_name = ensemble, f"in memory ({type(ensemble).__name__}, {ensemble.num_instances} instances)"
    if pose is None or isinstance(pose, (str, os.PathLike)):
        name = zoo.default("pose") if pose is None else os.fspath(pose)
        predictor = load(name, kind="pose")
        pose_name = name if name in zoo.ZOO else str(pathlib.Path(name).resolve())
    else:
        predictor, pose_name = pose, f"in memory (EfficientPose {pose.spec.variant}, {pose.skeleton.name})"
    return Models(predictor, ens, pose_name, ens_name)


def _synthetic_models(*names: str) -> tuple[str, ...]:
    """The names among these that are zoo models trained on synthetic infants only (their ``trained_on``)."""
    from infantjax.models import zoo

    out = []
    for name in names:
        entry = zoo.ZOO.get(str(name))
        if entry is not None and "synthetic" in entry.trained_on.lower() and name not in out:
            out.append(name)
    return tuple(out)


def models_note(pose_name: str, ensemble_name: str) -> str | None:
    """The sentence the dashboard's research-use notice and the end of ``infantjax assess`` give about the
    models: which of them were trained on synthetic infants only (the defaults are), or None when neither was.

    Arguments:
        pose_name, ensemble_name: the models' names as the records give them (a zoo name or a path).
    """
    synthetic = _synthetic_models(ensemble_name, pose_name)
    if not synthetic:
        return None
    what = {ensemble_name: f"CP ensemble {ensemble_name}", pose_name: f"pose model {pose_name}"}
    names = ", ".join(what[n] for n in synthetic)
    plural = len(synthetic) > 1
    return (f"The {'models' if plural else 'model'} ({names}) {'were' if plural else 'was'} trained on "
            "synthetic infants only: a demonstration, not a risk for a real infant.")
