"""Subject-level splits of the protocols, and the one rule for the seeds of their instances.

:func:`subject_splits` is the one split helper: every split of a protocol is a :class:`Split` of recording indices
(training, validation, test, calibration) with all of a subject's recordings on one side, of one of three kinds —
``"repeated"``: repeated stratified hold-out (seed 003, :func:`participant_splits`); ``"folds"``: stratified k folds
over infants (seed 001, :func:`subject_folds`); ``"loso"``: leave one subject out (seed 000, :func:`loso_folds`). Each
kind keeps the random states its paper's code uses, so splits are those of the reference. (Seed 002's folds follow
the reference GCN code's own stratified split of a cohort, ``Cohort.split``, :func:`infantjax.protocols.cp.fold_data`.)

:func:`instance_seed` is the one seed rule: instance i of a protocol trains with ``seed + i``; stack k of a
protocol that trains several stacks (the ensemble's architectures) with ``seed · 1000 + 10 · k + i``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from infantjax.errors import ConfigError, DataError

SPLIT_KINDS = ("repeated", "folds", "loso")


def instance_seed(seed: int, instance: int, stack: int | None = None) -> int:
    """The seed of instance ``instance`` of a protocol run with base ``seed``: ``seed + instance``, or, for stack
    ``stack`` of several stacks (the ensemble's architectures), ``seed · 1000 + 10 · stack + instance``."""
    if stack is None:
        return int(seed) + int(instance)
    return int(seed) * 1000 + 10 * int(stack) + int(instance)


@dataclasses.dataclass(frozen=True)
class Split:
    """Recording indices of one split (validation and calibration may be empty)."""

    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray
    calibration: np.ndarray


def participant_splits(subjects: Sequence[str], strata: Sequence[int], *, splits: int = 25,
                       test_fraction: float = 0.15, validation_fraction: float = 0.12,
                       calibration_fraction: float | None = None, seed: int = 12345) -> list[Split]:
    """Repeated stratified participant-level splits (seed 003 as coded).

    Split n holds out ``test_fraction`` of the participants (stratified by the stratum of each participant's first
    video, ``random_state = n·seed``), then ``validation_fraction`` of the rest (``random_state = n``); with
    ``calibration_fraction`` a further share of the remaining participants forms a calibration set. All of a
    participant's videos go to one side.

    Arguments:
        subjects: (videos,) participant id of every video.
        strata: (videos,) stratum of every video (the label, or the reference's 3-class ``gma_vid_score``).

    Returns:
        one :class:`Split` per repetition.
    """
    from sklearn.model_selection import train_test_split

    subjects = np.asarray([str(s) for s in subjects])
    strata = np.asarray(strata)
    if subjects.shape != strata.shape or subjects.ndim != 1:
        raise DataError(f"participant_splits: {len(subjects)} subject ids for {len(strata)} strata")
    ids, first = np.unique(subjects, return_index=True)
    order = np.argsort(first)
    ids, first = ids[order], first[order]
    s = strata[first]
    stratum = dict(zip(ids, s))
    counts = np.unique(s, return_counts=True)[1]
    if len(ids) < 6 or counts.min() < 3:
        raise DataError(f"participant_splits: {len(ids)} participants with stratum counts {counts.tolist()}; a "
                        "stratified split needs at least 3 participants per stratum")
    out = []
    for n in range(int(splits)):
        rest, test = train_test_split(ids, test_size=test_fraction, stratify=s, random_state=n * seed)
        train, val = train_test_split(rest, test_size=validation_fraction,
                                      stratify=[stratum[r] for r in rest], random_state=n)
        cal = np.asarray([], dtype=ids.dtype)
        if calibration_fraction is not None:  # "corrected": a calibration set that neither trains nor stops
            train, cal = train_test_split(train, test_size=calibration_fraction,
                                          stratify=[stratum[r] for r in train], random_state=n + 1)
        out.append(Split(*(np.flatnonzero(np.isin(subjects, part)) for part in (train, val, test, cal))))
    return out



def subject_folds(subjects: Sequence[str], labels: np.ndarray, folds: int, seed: int = 0
                  ) -> list[tuple[np.ndarray, np.ndarray]]:
    """K folds over infants, stratified by each infant's first label; all of an infant's recordings on one side.

    Returns:
        per fold, (training recording indices, test recording indices).
    """
    from sklearn.model_selection import StratifiedKFold

    subjects = np.asarray([str(s) for s in subjects])
    y = np.asarray(labels)
    ids, first = np.unique(subjects, return_index=True)
    strata = y[first]
    counts = np.bincount(strata.astype(int), minlength=2)
    if counts.min() < folds:
        raise DataError(f"subject_folds: {counts.tolist()} infants per class cannot fill {folds} stratified folds; "
                        "add infants or lower folds")
    out = []
    for train, test in StratifiedKFold(folds, shuffle=True, random_state=seed).split(ids, strata):
        out.append((np.flatnonzero(np.isin(subjects, ids[train])), np.flatnonzero(np.isin(subjects, ids[test]))))
    return out



def subject_splits(subjects: Sequence[str], strata: Sequence[int] | None = None, *, kind: str, **options
                   ) -> list[Split]:
    """The splits of a protocol (module docstring): one :class:`Split` per instance.

    Arguments:
        subjects: (recordings,) subject id of every recording.
        strata: (recordings,) stratum of every recording (``"repeated"`` and ``"folds"``; ignored by ``"loso"``).
        kind: ``"repeated"`` (options of :func:`participant_splits`), ``"folds"`` (``folds``, ``seed`` of
            :func:`subject_folds`; test = the fold) or ``"loso"`` (test = one subject's recordings, in sorted order;
            ``held_out``: only these subjects).

    Raises:
        ConfigError: an unknown kind. DataError: too few subjects for the split.
    """
    if kind == "repeated":
        return participant_splits(subjects, strata, **options)
    empty = np.asarray([], dtype=np.int64)
    if kind == "folds":
        return [Split(train, empty, test, empty) for train, test in subject_folds(subjects, strata, **options)]
    if kind == "loso":
        subjects = np.asarray([str(s) for s in subjects])
        held = options.pop("held_out", None)
        if options:
            raise ConfigError(f"subject_splits(kind='loso') takes held_out only, got {sorted(options)}")
        held = loso_folds(subjects) if held is None else [str(h) for h in held]
        return [Split(np.flatnonzero(subjects != h), empty, np.flatnonzero(subjects == h), empty) for h in held]
    raise ConfigError(f"subject_splits: kind must be one of {SPLIT_KINDS}, got {kind!r}")


def loso_folds(subjects: np.ndarray) -> list[str]:
    """The held-out subject of each fold, in sorted order (needs at least 2 subjects)."""
    ids = [str(s) for s in np.unique(np.asarray(subjects))]
    if len(ids) < 2:
        raise DataError(f"leave-one-subject-out needs at least 2 subjects, got {len(ids)}")
    return ids

