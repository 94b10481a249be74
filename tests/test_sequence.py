import numpy as np
import pytest

from infantjax.errors import DataError, SkeletonMismatchError
from infantjax.sequence import Cohort, CohortSplit, SkeletonSequence


def _seq(t=10, j=19, fps=30.0, **kw):
    return SkeletonSequence(np.zeros((t, j, 2)), fps, **kw)


def test_sequence_validates_on_construction():
    s = _seq()
    assert s.coords.dtype == np.float32 and s.num_frames == 10 and s.duration == pytest.approx(1 / 3)
    with pytest.raises(SkeletonMismatchError, match="19"):
        _seq(j=18)
    with pytest.raises(DataError, match="fps"):
        _seq(fps=0)
    with pytest.raises(DataError, match="inf"):
        SkeletonSequence(np.full((3, 19, 2), np.inf))
    with pytest.raises(DataError, match="confidence"):
        SkeletonSequence(np.zeros((3, 19, 2)), confidence=np.zeros((3, 18)))
    with pytest.raises(DataError, match=r"\(T, J, D\)"):
        SkeletonSequence(np.zeros((3, 19)))


def test_sequence_missing_slicing_and_require():
    c = np.zeros((20, 19, 2), np.float32)
    c[3, 4] = np.nan
    s = SkeletonSequence(c, 25.0)
    assert s.missing.sum() == 1 and s[2:5].num_frames == 3
    with pytest.raises(DataError, match="at least 150 frames"):
        s.require("in-motion-19", min_frames=150, where="predict")
    with pytest.raises(DataError, match="all NaN"):
        SkeletonSequence(np.full((5, 19, 2), np.nan)).require("in-motion-19")
    with pytest.raises(SkeletonMismatchError, match="map them"):
        s.require("mpii-16")


def test_map_to_keeps_confidence_aligned():
    rng = np.random.default_rng(1)
    s = SkeletonSequence(rng.normal(size=(4, 16, 2)), 30, "mpii-16", confidence=rng.uniform(size=(4, 16)))
    m = s.map_to("in-motion-19")
    assert m.skeleton.name == "in-motion-19"
    assert np.isnan(m.confidence[:, 1]).all()  # nose
    np.testing.assert_allclose(m.confidence[:, 0], s.confidence[:, 0])


def _cohort(n_pos=12, n_neg=30, recordings=2):
    seqs, labels, subjects = [], [], []
    for i in range(n_pos + n_neg):
        for r in range(recordings):
            seqs.append(_seq(t=5))
            labels.append(int(i < n_pos))
            subjects.append(f"s{i}")
    return Cohort(seqs, np.array(labels), subjects, {"rec": np.arange(len(seqs))})


def test_split_is_stratified_subject_level_and_deterministic():
    c = _cohort()
    split = c.split()
    assert split == c.split()  # deterministic from the seed
    assert split != c.split(seed=7)
    # 25 % of each class to the test set, the cross-validation count floored: 12 -> 9 cv / 3 test, 30 -> 22 / 8
    lab = c.subject_labels()
    assert sum(lab[s] for s in split.test) == 3 and len(split.test) == 11
    assert len(split.folds) == 7
    cv = [s for f in split.folds for s in f]
    assert len(cv) == len(set(cv)) == 31 and not set(cv) & set(split.test)
    # fold f takes ceil(remaining / folds_left) of each class: positives 9 -> 2,2,1,1,1,1,1
    assert [sum(lab[s] for s in f) for f in split.folds] == [2, 2, 1, 1, 1, 1, 1]
    assert CohortSplit.from_json(split.to_json()) == split
    sub = c.select(split.folds[0])
    assert len(sub) == 2 * len(split.folds[0])  # both recordings of each subject


def test_leave_one_subject_out_keeps_recordings_together():
    c = _cohort(2, 3)
    parts = list(c.leave_one_subject_out())
    assert len(parts) == 5
    for train, test in parts:
        assert len(test) == 2 and len({c.subjects[i] for i in test}) == 1
        assert not {c.subjects[i] for i in train} & {c.subjects[i] for i in test}


def test_cohort_errors():
    with pytest.raises(DataError, match="labels"):
        Cohort([_seq()], np.array([0, 1]))
    with pytest.raises(DataError, match="no subjects"):
        _cohort(1, 1).select(["zzz"])


def test_frame_times_are_validated_sliced_mapped_and_tell_a_variable_rate(caplog):
    times = np.cumsum(np.r_[0.0, np.full(9, 1 / 30)])
    even = _seq(times=times)
    assert even.times.dtype == np.float64 and not even.times.flags.writeable
    assert not even.variable_frame_rate and even.frame_jitter < 1e-9
    np.testing.assert_array_equal(_seq().frame_times, np.arange(10) / 30.0)  # no times: frame ÷ fps
    uneven = times.copy()
    uneven[5:] += 0.05  # a 83 ms gap where 33 ms are expected: a phone dropping to a lower rate for a moment
    vfr = _seq(times=uneven, metadata={"source": "phone.mp4"})
    assert vfr.variable_frame_rate and vfr.frame_jitter == pytest.approx(0.05)
    np.testing.assert_array_equal(vfr[3:7].times, uneven[3:7])
    np.testing.assert_array_equal(vfr.map_to("mpii-16", approximate=True).times, uneven)
    with caplog.at_level("WARNING"):
        assert vfr.warn_if_variable_rate("somewhere") and not even.warn_if_variable_rate("somewhere")
    assert "somewhere: phone.mp4 has a variable frame rate" in caplog.text and "50.0 ms" in caplog.text
    with pytest.raises(DataError, match="increase strictly: frame 2"):
        _seq(times=[0, 0.1, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8])
    with pytest.raises(DataError, match="NaN or inf"):
        _seq(times=np.r_[times[:-1], np.nan])


def test_require_refuses_labelled_images_and_names_the_source():
    images = _seq(t=200, metadata={"time_series": False, "images": ["a.jpg"] * 200, "source": "train.mat"})
    with pytest.raises(DataError, match=r"preprocess_cp needs a recording .* train\.mat holds 200 labelled images"):
        images.require("in-motion-19", where="preprocess_cp")
    with pytest.raises(DataError, match=r"the recording rec\.csv has 10"):
        _seq(metadata={"source": "rec.csv"}).require("in-motion-19", min_frames=150, where="predict")
