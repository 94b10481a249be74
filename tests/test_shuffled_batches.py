"""The shared epoch-batch sequence of the training tasks (infantjax.train.ShuffledBatches)."""

import numpy as np
import pytest

from infantjax.errors import ConfigError, DataError
from infantjax.train import ShuffledBatches


def _arrays(n=10):
    return {"x": np.arange(n * 3, dtype=np.float32).reshape(n, 3), "y": np.arange(n) * 10}


def test_length_drops_the_last_partial_batch():
    order = np.random.default_rng(0).permutation(10)
    assert len(ShuffledBatches(_arrays(), order, 3)) == 3       # 10 = 3 * 3 + 1: the 1 left over is dropped
    assert len(ShuffledBatches(_arrays(), order, 5)) == 2
    assert len(ShuffledBatches(_arrays(), order, 11)) == 0
    assert len(ShuffledBatches(_arrays(), order[:0], 2)) == 0


def test_batches_select_every_array_by_the_permutation():
    arrays, order = _arrays(), np.random.default_rng(1).permutation(10)
    batches = ShuffledBatches(arrays, order, 4)
    seen = []
    for s, batch in enumerate(batches):                          # iteration stops at the IndexError
        assert set(batch) == {"x", "y"}
        idx = order[s * 4:(s + 1) * 4]
        np.testing.assert_array_equal(batch["x"], arrays["x"][idx])
        np.testing.assert_array_equal(batch["y"], arrays["y"][idx])
        seen.extend(batch["y"] // 10)
    assert s == 1 and len(seen) == 8 and len(set(seen)) == 8   # no example twice, the last 2 left out
    assert sorted(seen) == sorted(order[:8])


def test_index_out_of_range_raises_index_error():
    batches = ShuffledBatches(_arrays(), np.arange(10), 5)
    batches[1]
    for s in (2, 3, -1):
        with pytest.raises(IndexError):
            batches[s]


def test_bad_arguments_raise_typed_errors():
    with pytest.raises(ConfigError, match="positive integer batch size"):
        ShuffledBatches(_arrays(), np.arange(10), 0)
    with pytest.raises(ConfigError, match="positive integer batch size"):
        ShuffledBatches(_arrays(), np.arange(10), 2.5)
    with pytest.raises(DataError, match="1-D integer order"):
        ShuffledBatches(_arrays(), np.arange(10).reshape(2, 5), 2)
    with pytest.raises(DataError, match="1-D integer order"):
        ShuffledBatches(_arrays(), np.linspace(0, 1, 10), 2)


def test_the_tasks_cut_their_epochs_with_it():
    """SMATask and DepthTask: one permutation of the seed's and epoch's generator, full batches."""
    from infantjax.train import DepthConfig, DepthData, DepthTask, SMAConfig, SMAData, SMATask

    rng = np.random.default_rng(3)
    sma = SMAData(rng.normal(size=(9, 8, 4, 3)), rng.uniform(0, 64, 9))
    got = SMATask(config=SMAConfig(batch_size=4)).epoch_batches(sma, 1, np.random.default_rng([5, 1]))
    want = np.random.default_rng([5, 1]).permutation(9)[:8]
    assert isinstance(got, ShuffledBatches) and len(got) == 2
    np.testing.assert_array_equal(np.concatenate([got[0]["y"], got[1]["y"]]), sma.scores[want])
    np.testing.assert_array_equal(got[1]["x"], sma.windows[want[4:]])

    from infantjax.models.depth import RegressionSpec

    depth = DepthData(rng.normal(size=(3, 2, 4, 4, 1)), rng.uniform(size=(3, 2, 4, 4, 20)))
    got = DepthTask(RegressionSpec(), DepthConfig(batch_size=8)).epoch_batches(depth, 2, np.random.default_rng([7, 2]))
    want = np.random.default_rng([7, 2]).permutation(3)
    assert len(got) == 1                                         # batch size capped at the 3 clips
    np.testing.assert_array_equal(got[0]["inputs"], depth.inputs[want])
    np.testing.assert_array_equal(got[0]["targets"], depth.targets[want])
