"""Write the saved-model folders of format version 1 (infantjax before the common trained-model format, commit
9dfd289) that tests/test_trained_models.py loads with today's code.

Run from a checkout of that commit (its tests/ beside it), e.g.::

    git worktree add /tmp/old 9dfd289 && cd /tmp/old
    python /path/to/tests/data/legacy-models/make_legacy_models.py /path/to/tests/data/legacy-models

Each model has two instances with seeded random (untrained) weights of a small network; ``expected.npz`` holds what
the old code predicted on seeded inputs, so a test checks that the loaded model predicts the same.
"""

from __future__ import annotations

import pathlib
import sys

import jax
import numpy as np

sys.path.insert(0, str(pathlib.Path.cwd() / "tests"))


def stacked(init, count: int = 2, seed: int = 0):
    keys = jax.random.split(jax.random.PRNGKey(seed), count)
    return jax.tree_util.tree_map(np.asarray, jax.jit(jax.vmap(init))(keys))


def main(out: pathlib.Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    expected = {}

    # the ensemble: one tiny GCN stack of two fold instances
    from _train_utils import SMALL, tiny_gcn_spec

    from infantjax.ensemble import Ensemble
    from infantjax.train.cp import CPTask

    spec = tiny_gcn_spec()
    ens = Ensemble([spec], [stacked(CPTask(spec, SMALL).init)], SMALL, 0.4, [[0.6, 0.7]], {"made_by": "9dfd289"})
    ens.save(out / "ensemble-v1")
    windows = rng.normal(0, 0.1, (5, SMALL.window, 19, 2)).astype(np.float32)
    expected["ensemble_probabilities"], expected["ensemble_cam"] = ens.window_predictions(windows)
    expected["ensemble_windows"] = windows

    # the SMA model
    from infantjax.models.sma import SMASpec
    from infantjax.pipelines.sma import SMAModel
    from infantjax.train.sma import SMAConfig, SMATask

    spec, config = SMASpec.narrow(window=108, dropout=0.0), SMAConfig.quick(window=108, stride=50)
    model = SMAModel(spec, config, stacked(SMATask(spec, config).init))
    model.save(out / "sma-v1")
    tracks = [rng.normal(size=(300, 4, 3)).astype(np.float32)]
    expected["sma_tracks"] = tracks[0]
    expected["sma_mean"] = model.predict(tracks)["mean"]

    # the smartphone model
    from infantjax.models.passmore import PassmoreSpec
    from infantjax.pipelines.passmore import SmartphoneModel
    from infantjax.train.passmore import PassmoreConfig, PassmoreTask

    spec, config = PassmoreSpec(), PassmoreConfig.quick()
    model = SmartphoneModel(spec, config, stacked(PassmoreTask(spec, config).init), np.array([[2.0, -1.0], [1.5, 0.2]]))
    model.save(out / "smartphone-v1")
    features = rng.normal(size=(2, 160, 46)).astype(np.float32)
    expected["smartphone_features"] = features
    expected["smartphone_probability"] = model.predict(features)["probability"]

    # the MAM model
    from infantjax.commands.mam import quick_spec
    from infantjax.pipelines.mam import MamModel
    from infantjax.train.mam import MamConfig, MamTask

    spec, config = quick_spec(use_info=False), MamConfig.quick()
    model = MamModel(spec, config, stacked(MamTask(spec, config).init))
    model.save(out / "mam-v1")
    recordings = [rng.normal(size=(120, spec.num_features)).astype(np.float32),
                  rng.normal(size=(90, spec.num_features)).astype(np.float32)]
    expected["mam_recording0"], expected["mam_recording1"] = recordings
    expected["mam_risk"] = model.predict(recordings)["risk"]

    np.savez(out / "expected.npz", **{k: np.asarray(v) for k, v in expected.items()})


if __name__ == "__main__":
    main(pathlib.Path(sys.argv[1]).resolve())
