"""Fold ensembles: the CP family's trained model (:class:`~infantjax.infer.ensemble.Ensemble`, defined in
:mod:`infantjax.infer.ensemble` like every family, re-exported here) and the import of networks trained with the
reference code (DeepInMotion/MovementOutcome), :func:`from_movementoutcome`.

    ens = infantjax.protocols.cp.train(specs, cohort, config)   # len(specs) × 7 folds
    prediction = ens.predict(sequence)                      # P(CP) (windows × instances), CAM scores
    ens = infantjax.ensemble.from_movementoutcome("search/")   # the reference's best candidate, every fold
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

import jax
import numpy as np

from infantjax.errors import CheckpointError, ConfigError
from infantjax.infer.ensemble import (
    FORMAT,
    Ensemble,
    EnsemblePrediction,
    orientation_warning,
    scoring_forward,
    spec_from_dict,
    spec_to_dict,
)

if TYPE_CHECKING:
    from infantjax.train.cp import CPConfig

__all__ = ["FORMAT", "Ensemble", "EnsemblePrediction", "from_movementoutcome", "orientation_warning",
           "scoring_forward", "spec_from_dict", "spec_to_dict"]

log = logging.getLogger(__name__)

#: the weights files of a MovementOutcome fold run
_MO_WEIGHTS = (".pt", ".pth", ".safetensors", ".npz")


def _read_json(path: str, what: str) -> dict:
    try:
        with open(path) as f:
            data = json.load(f)
    except FileNotFoundError:
        raise CheckpointError(f"{path} is missing: {what}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{path} is unreadable ({type(err).__name__}: {err})") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{path} does not hold a JSON object ({what})")
    return data


def _experiments_dir(folder: str) -> str:
    """``folder/experiments`` for a search folder (``searches/<name>``), or ``folder`` if it is that folder."""
    sub = os.path.join(folder, "experiments")
    if os.path.isdir(sub):
        return sub
    if os.path.isdir(folder) and any(n.startswith(("search_", "crossval_")) for n in os.listdir(folder)):
        return folder
    raise CheckpointError(f"{folder} is not a MovementOutcome search folder: it has no experiments/ with "
                          "search_<n>/ and crossval_<n>_val<f>/ folders (searches/<name> of a project)")


def _best_candidate(experiments: str) -> tuple[str, float]:
    """The candidate number with the highest ``best_auc`` among ``search_*`` (as prediction_ensemble.py picks)."""
    best, best_auc = None, -np.inf
    for name in sorted(os.listdir(experiments)):
        path = os.path.join(experiments, name, "validation_results.json")
        if name.startswith("search_") and os.path.isfile(path):
            auc = float(_read_json(path, "the search trial's results").get("best_auc", -np.inf))
            if auc > best_auc:
                best, best_auc = name.split("_", 1)[1], auc
    if best is None:
        # a folder with cross-validation runs only: they must all be of one candidate
        nums = {n.split("_")[1] for n in os.listdir(experiments) if n.startswith("crossval_")}
        if len(nums) != 1:
            raise CheckpointError(f"{experiments}: no search_<n>/validation_results.json to pick the best candidate "
                                  f"from, and cross-validation runs of {len(nums)} candidates")
        best = nums.pop()
    return best, best_auc


def _candidate_spec(path: str):
    """A GCNSpec from a MovementOutcome ``candidate.json`` (the 20 choices, spelled as infantjax spells them)."""
    from infantjax.models.gcn import CHOICES, GCNSpec

    data = _read_json(path, "the candidate's architecture")
    missing = [k for k in CHOICES if k not in data]
    if missing:
        raise CheckpointError(f"{path} lacks the choices {missing}; pass specs= explicitly")
    choices = {}
    for key in CHOICES:
        value = data[key]
        if isinstance(value, str) and value.isdigit():
            value = int(value)  # JSON written from string alternatives
        choices[key] = value
    try:
        return GCNSpec(**choices)
    except ConfigError as err:
        raise CheckpointError(f"{path}: {err}") from None


def _fold_weights(run: str) -> tuple[str, float]:
    """The weights file of a cross-validation run at its best-AUC epoch (the file name starts ``epoch-<e>+``)."""
    results = _read_json(os.path.join(run, "validation_results.json"), "the run's best epoch")
    try:
        epoch = int(results["best_auc_epoch"])
    except (KeyError, TypeError, ValueError):
        raise CheckpointError(f"{run}/validation_results.json has no best_auc_epoch") from None
    files = sorted(n for n in os.listdir(run) if n.startswith(f"epoch-{epoch}+") and n.lower().endswith(_MO_WEIGHTS))
    if not files:
        raise CheckpointError(f"{run}: no weights of the best epoch {epoch} (epoch-{epoch}+….pt); was the epoch "
                              "saved (crossval_save_interval)?")
    return os.path.join(run, files[0]), float(results.get("best_auc", float("nan")))


def from_movementoutcome(folders, specs: Sequence | None = None, *, config: CPConfig | None = None,
                         threshold: float = 0.5, mode: str = "reference") -> Ensemble:
    """An :class:`Ensemble` of the networks a MovementOutcome experiment trained (docs/gcn.md, "Saving layout").

    For each search folder (``projects/<p>/searches/<name>``) it takes, as the reference's
    ``predict/prediction_ensemble.py`` does, the candidate whose ``experiments/search_<n>/validation_results.json``
    has the highest ``best_auc``, then the weights of every ``experiments/crossval_<n>_val<f>`` run at its
    ``best_auc_epoch``, and stacks the folds into one vmapped instance stack.

    Arguments:
        folders: one search folder or a list of them (one architecture each; 10 for the paper's ensemble). The
            ``experiments`` folder itself is accepted too.
        specs: the architecture of each folder; default: read from the candidate's ``candidate.json``.
        config: the recipe that fixes preprocessing and windows at prediction time (default
            :class:`~infantjax.train.CPConfig`, the reference recipe).
        threshold: the ensemble's decision threshold.
        mode: the model mode (``"reference"`` computes what the reference code computes).

    Returns:
        the ensemble; save it with :meth:`Ensemble.save`.

    Raises:
        CheckpointError: missing or unreadable folders, JSON files or weights. StateDictError: weights that do
        not fit the architecture (names the keys and shapes).
    """
    from infantjax.io.state_dict import read_state_dict
    from infantjax.models.gcn import from_torch_state_dict

    folders = [folders] if isinstance(folders, (str, os.PathLike)) else list(folders)
    if not folders:
        raise ConfigError("from_movementoutcome needs at least one search folder")
    if specs is not None and len(specs) != len(folders):
        raise ConfigError(f"from_movementoutcome: {len(specs)} specs for {len(folders)} search folders; give one "
                          "spec per folder or none")
    if config is None:
        from infantjax.train.cp import CPConfig

        config = CPConfig(model_mode=mode)
    out_specs, stacks, aucs, sources = [], [], [], []
    for k, folder in enumerate(folders):
        folder = os.fspath(folder)
        experiments = _experiments_dir(folder)
        cand, search_auc = _best_candidate(experiments)
        spec = specs[k] if specs is not None else _candidate_spec(
            os.path.join(experiments, f"search_{cand}", "candidate.json"))
        prefix = f"crossval_{cand}_val"
        runs = sorted((int(n[len(prefix):]), n) for n in os.listdir(experiments)
                      if n.startswith(prefix) and n[len(prefix):].isdigit())
        if not runs:
            raise CheckpointError(f"{experiments}: no cross-validation runs {prefix}<f>/ of the best candidate "
                                  f"{cand}; run the reference's cross-validation first")
        instances, fold_auc, files = [], [], []
        for _, run in runs:
            path, auc = _fold_weights(os.path.join(experiments, run))
            instances.append(from_torch_state_dict(spec, read_state_dict(path), mode=mode))
            fold_auc.append(auc)
            files.append(os.path.relpath(path, folder))
        stacks.append(jax.tree_util.tree_map(lambda *xs: np.stack(xs), *instances))
        out_specs.append(spec)
        aucs.append(fold_auc)
        sources.append({"folder": os.path.abspath(folder), "candidate": cand, "search_auc": float(search_auc),
                        "weights": files})
        log.info("%s: candidate %s, %d folds (AUC %s)", folder, cand, len(runs), np.round(fold_auc, 3).tolist())
    return Ensemble(out_specs, stacks, config, threshold, aucs,
                    {"source": "DeepInMotion/MovementOutcome", "searches": sources})
