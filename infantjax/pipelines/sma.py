"""Kinect limb tracks → CHOP INTEND extremity score (seed 000, Soran et al.), end to end.

(T, 4, 3) limb tracks of a 2-minute recording → lost frames dropped, standardised, 900-frame windows at stride 50
(:func:`~infantjax.preprocess.sma.limb_windows`) → the Table 1 CNN → window scores → the recording's score by mean,
median and quartile analysis.

* :func:`train_sma`: leave-one-subject-out (:func:`infantjax.protocols.sma.run_loso`) → an :class:`SMAModel` (the fold
  networks) and the held-out results;
* :class:`SMAModel`: ``predict`` (each recording's score: the window scores averaged over the fold networks, then
  aggregated), ``save``, ``load``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
from collections.abc import Sequence

import numpy as np

from infantjax.errors import CheckpointError
from infantjax.io.files import write_json
from infantjax.models.sma import AGGREGATIONS, SMASpec, aggregate_recording
from infantjax.preprocess.sma import limb_windows
from infantjax.protocols.sma import LOSOResult, run_loso
from infantjax.train.sma import SMAConfig, SMATask, predict_windows, recording_windows

__all__ = ["SMAModel", "train_sma"]


@dataclasses.dataclass
class SMAModel:
    """The fold networks of a leave-one-subject-out run.

    Attributes:
        spec: the network.
        config: the recipe it was trained with (windowing, score normalisation).
        variables: stacked variables, leading instance axis.
    """

    spec: SMASpec
    config: SMAConfig
    variables: dict

    @property
    def num_instances(self) -> int:
        import jax

        return int(jax.tree_util.tree_leaves(self.variables)[0].shape[0])

    def predict(self, tracks: Sequence[np.ndarray], *, chunk: int = 256) -> dict[str, np.ndarray]:
        """Scores of recordings.

        Arguments:
            tracks: per recording, (T, 4, 3) limb tracks (NaN where a limb was lost).

        Returns:
            ``mean``, ``median``, ``quartile``: (recordings,) aggregated scores; ``windows``: per recording, its
            (W,) window scores (averaged over the fold networks).
        """
        c = self.config
        task = SMATask(self.spec, c)
        out: dict = {m: [] for m in AGGREGATIONS}
        out["windows"] = []
        for i, t in enumerate(tracks):
            w = limb_windows(t, window=c.window, stride=c.stride, standardize=c.standardize, where=f"recording {i}")
            scores = np.mean(predict_windows(task, self.variables, [w] * self.num_instances, chunk=chunk), axis=0)
            out["windows"].append(scores)
            for m in AGGREGATIONS:
                out[m].append(aggregate_recording(scores, m))
        return {k: (v if k == "windows" else np.asarray(v)) for k, v in out.items()}

    def save(self, path: str | os.PathLike) -> pathlib.Path:
        """Write ``model.json`` and the stacked variables (Orbax) to a directory."""
        from infantjax.train.checkpoint import save_tree

        path = pathlib.Path(path)
        path.mkdir(parents=True, exist_ok=True)
        save_tree(path / "variables", self.variables)
        doc = {"kind": "soran-sma", "spec": self.spec.to_json(), "config": self.config.to_json(),
               "instances": self.num_instances}
        write_json(path / "model.json", doc, indent=2)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> SMAModel:
        """Read a directory written by :meth:`save`."""
        import jax

        from infantjax.train.checkpoint import restore_tree

        path = pathlib.Path(path)
        try:
            doc = json.loads((path / "model.json").read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise CheckpointError(f"{path} is not an SMA model written by `infantjax sma train` ({err})") from None
        if doc.get("kind") != "soran-sma":
            raise CheckpointError(f"{path}/model.json is not an SMA model (kind {doc.get('kind')!r})")
        spec, config = SMASpec.from_json(doc["spec"]), SMAConfig.from_json(doc["config"])
        task = SMATask(spec, config)
        shapes = jax.eval_shape(task.init, jax.random.PRNGKey(0))
        like = jax.tree_util.tree_map(lambda s: np.zeros((int(doc["instances"]),) + s.shape, s.dtype), shapes)
        return cls(spec, config, restore_tree(path / "variables", like))


def train_sma(tracks: Sequence[np.ndarray], scores: Sequence[float], subjects: Sequence[str], *,
              spec: SMASpec | None = None, config: SMAConfig | None = None, seed: int = 0,
              folds: Sequence[str] | None = None, checkpoint_dir=None) -> tuple[SMAModel, LOSOResult]:
    """Leave-one-subject-out on recordings, keeping the fold networks as a model.

    Arguments:
        tracks: per recording, (T, 4, 3) limb tracks.
        scores: (recordings,) CHOP INTEND extremity scores.
        subjects: (recordings,) subject ids.
        spec, config: network and recipe (defaults: Table 1 and the paper's).
        seed: fold k trains with seed ``seed + k``.
        folds: held-out subjects (default every subject).
        checkpoint_dir: checkpoint and resume the stacked run there.

    Returns:
        (the model, the held-out results).
    """
    spec = SMASpec() if spec is None else spec
    config = SMAConfig() if config is None else config
    windows = recording_windows(tracks, scores, subjects, window=config.window, stride=config.stride,
                                standardize=config.standardize)
    result = run_loso(windows, spec=spec, config=config, seed=seed, folds=folds, checkpoint_dir=checkpoint_dir)
    return SMAModel(spec, config, result.fit.variables), result
