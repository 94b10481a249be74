"""The protocols' one split helper and one seed rule (infantjax.protocols.splits)."""

from __future__ import annotations

import numpy as np
import pytest

from infantjax.errors import ConfigError, DataError
from infantjax.protocols.splits import instance_seed, participant_splits, subject_folds, subject_splits

SUBJECTS = [f"s{i // 2}" for i in range(40)]  # two recordings per subject
STRATA = np.array([(i // 2) % 2 for i in range(40)])


def test_every_kind_is_a_split_of_whole_subjects():
    for kind, options in (("repeated", {"splits": 3}), ("folds", {"folds": 4}), ("loso", {})):
        splits = subject_splits(SUBJECTS, STRATA, kind=kind, **options)
        for s in splits:
            parts = [set(np.asarray(SUBJECTS)[p]) for p in (s.train, s.validation, s.test, s.calibration)]
            assert all(not (a & b) for i, a in enumerate(parts) for b in parts[i + 1:])  # subjects on one side
            assert sum(len(p) for p in (s.train, s.validation, s.test, s.calibration)) == len(SUBJECTS)
    assert len(subject_splits(SUBJECTS, kind="loso")) == 20
    assert len(subject_splits(SUBJECTS, kind="loso", held_out=["s3"])) == 1


def test_the_kinds_are_the_papers_splits():
    a = subject_splits(SUBJECTS, STRATA, kind="repeated", splits=2, seed=7)
    b = participant_splits(SUBJECTS, STRATA, splits=2, seed=7)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.test, y.test)
        np.testing.assert_array_equal(x.validation, y.validation)
    for s, (train, test) in zip(subject_splits(SUBJECTS, STRATA, kind="folds", folds=4, seed=1),
                                subject_folds(SUBJECTS, STRATA, 4, 1)):
        np.testing.assert_array_equal(s.train, train)
        np.testing.assert_array_equal(s.test, test)


def test_unknown_kinds_and_too_few_subjects_are_typed_errors():
    with pytest.raises(ConfigError, match="kind must be one of"):
        subject_splits(SUBJECTS, STRATA, kind="bootstrap")
    with pytest.raises(DataError, match="at least 2 subjects"):
        subject_splits(["a", "a"], kind="loso")


def test_one_seed_rule():
    assert [instance_seed(12345, n) for n in range(3)] == [12345, 12346, 12347]
    assert instance_seed(2, 3, stack=4) == 2043  # the ensemble's seed · 1000 + 10 · k + f
