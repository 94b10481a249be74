"""The depth family (seed 004) at prediction time: the detection and regression CNNs' inference, the linking of
limbs, the trained model and its registration — everything loading and predicting need, without
:mod:`infantjax.train`.

Mean-removed depth clips (N, T, H, W, 1) → the detection CNN (sigmoid maps) → the regression CNN on the clips and
the maps (refined maps) → limbs linked (:func:`~infantjax.models.depth.linking.link_clips`) → keypoints and
confidences (:class:`LimbPose`). :func:`infantjax.pipelines.depth.run_pipeline` trains a :class:`DepthModel`.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Literal

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import scipy.special
from jaxtyping import Float

from infantjax.infer.inputs import as_array
from infantjax.infer.predict import apply_in_batches
from infantjax.infer.registry import register_family
from infantjax.infer.trained import Prediction, TrainedModel
from infantjax.models.zoo import synthetic_entry
from infantjax.models.depth.linking import LinkConfig, link_clips
from infantjax.models.depth.regression import RegressionSpec
from infantjax.models.depth.unet import DetectionSpec
from infantjax.preprocess.depth import check_clips, regression_inputs

__all__ = ["DepthModel", "LimbPose", "estimate_limb_pose", "make_predict", "predict", "predict_maps"]


@functools.lru_cache(maxsize=32)
def make_predict(model: nn.Module) -> Callable:
    """A jitted ``predict(variables, x)`` in inference mode (running BatchNorm statistics), cached per model (Flax
    modules are hashable configurations), so that repeated predictions of one network compile once per shape."""
    return jax.jit(lambda variables, x: model.apply(variables, x, train=False))


def predict(model: nn.Module, variables: dict, inputs: np.ndarray, batch_size: int = 16,
            output: Literal["logits", "sigmoid", "identity"] = "identity") -> np.ndarray:
    """Model outputs for ``inputs`` (N, ...) in batches of ``batch_size`` (the last one padded: one compiled shape);
    ``output="sigmoid"`` turns the detection logits into maps."""
    out = apply_in_batches(make_predict(model), variables, np.asarray(inputs, np.float32), batch_size)
    return scipy.special.expit(out).astype(np.float32) if output == "sigmoid" else out


def predict_maps(detection, detection_variables: dict, regression, regression_variables: dict,
                 clips: Float[np.ndarray, "N T H W 1"], batch_size: int = 16
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Detection maps (sigmoid of the detection logits) and refined regression maps, both (N, T, H, W, 20).

    Arguments:
        detection, detection_variables: the detection CNN and its variables.
        regression, regression_variables: the regression CNN and its variables.
        clips: (N, T, H, W, 1) mean-removed depth clips (``prepare_clips``).
        batch_size: clips per forward pass.
    """
    clips = check_clips(clips)
    det = predict(detection, detection_variables, clips, batch_size, output="sigmoid")
    reg = predict(regression, regression_variables, regression_inputs(clips, det), batch_size)
    return det, reg


def estimate_limb_pose(detection, detection_variables: dict, regression, regression_variables: dict,
                       clips: Float[np.ndarray, "N T H W 1"], batch_size: int = 16, link_config=None
                       ) -> tuple[np.ndarray, np.ndarray]:
    """The whole pipeline of seed 004: clips -> detection -> regression -> linking.

    Returns:
        keypoints (N, T, 12, 2) (x, y) pixels of the clip frames, NaN = not found; confidence (N, T, 12).
    """
    _, maps = predict_maps(detection, detection_variables, regression, regression_variables, clips, batch_size)
    return link_clips(maps, config=link_config or LinkConfig())


@dataclasses.dataclass(frozen=True)
class LimbPose(Prediction):
    """The limb pose of depth clips (:meth:`DepthModel.predict`; also readable as a mapping).

    Attributes:
        keypoints: (N, T, 12, 2) x, y pixels of the clip frames, NaN = not found.
        confidence: (N, T, 12).
    """

    keypoints: np.ndarray
    confidence: np.ndarray


@register_family(recording="mean-removed depth clips (N, T, H, W, 1) of the model's clip_shape "
                           "(prepare_clips)",
                 zoo=(  # the family's shipped models (infantjax.models.zoo)
    synthetic_entry("depth-synthetic", "depth", "depth_synthetic.npz",
                    "the detection U-Net + asymmetric 3D regression pair of seed 004 (small widths, 48×32 px clips): limb "
                    "pose from depth clips",
                    "rendered synthetic depth clips of 24 preterm infants, 48×32 px (seed 101); the demo's "
                    "detection U-Net and residual asymmetric regression, 40 + 20 epochs",
                    "held-out median RMSD 1.0 px per limb (mean training pose 3.0 px; 0 % of joints not found) on "
                    "16 clips of 4 fresh synthetic infants (seed 1000)"),
))
class DepthModel(TrainedModel):
    """Seed 004's whole network: the detection CNN, a regression CNN and the linking settings (a
    :class:`~infantjax.infer.trained.TrainedModel` of one instance).

    Arguments:
        detection, regression: the two networks' specs.
        variables: ``{"detection": ..., "regression": ...}`` Flax variables (one instance each).
        link: the linking settings (default :class:`LinkConfig`).
        clip_shape: (T, H, W) of the clips the networks take (default the paper's 3 × 96 × 128).
    """

    kind, title = "depth", "a depth limb-pose model saved by DepthModel.save"
    #: the module of its training task (DepthTask, which trains the two networks one at a time)
    training_module = "infantjax.train.depth"

    def __init__(self, detection: DetectionSpec, regression: RegressionSpec, variables: dict, *,
                 link: LinkConfig | None = None, clip_shape: tuple[int, int, int] | None = None):
        super().__init__((detection, regression), None, dict(variables))
        self.detection, self.regression = detection, regression
        self.link = link or LinkConfig()
        self.clip_shape = tuple(int(d) for d in (clip_shape or (3, 96, 128)))

    @property
    def num_instances(self) -> int:
        return 1

    def maps(self, clips: Float[np.ndarray, "N T H W 1"], batch_size: int = 16) -> tuple[np.ndarray, np.ndarray]:
        """Detection and refined regression maps, both (N, T, H, W, 20) (the lower-level call of :meth:`predict`,
        :func:`predict_maps`)."""
        return predict_maps(self.detection.build(), self.variables["detection"], self.regression.build(),
                            self.variables["regression"], clips, batch_size)

    def example_input(self, seed: int = 0) -> tuple:
        """One random mean-removed depth clip of the model's ``clip_shape``."""
        rng = np.random.default_rng(seed)
        return (rng.normal(size=(1, *self.clip_shape, 1)).astype(np.float32),)

    def predict(self, clips: Float[np.ndarray, "N T H W 1"], batch_size: int = 16) -> LimbPose:
        """The limb pose of mean-removed depth clips (``prepare_clips``): detection → regression → linking."""
        t, h, w = self.clip_shape
        clips = as_array(clips, (None, t, h, w, 1), where="DepthModel.predict",
                         what=f"mean-removed depth clips (N, {t}, {h}, {w}, 1), the clips this model was "
                              "trained on (prepare_clips)")
        _, maps = self.maps(clips, batch_size)
        return LimbPose(*link_clips(maps, config=self.link))

    def header(self) -> dict:
        return {"detection": self.detection.to_dict(), "regression": self.regression.to_dict(), "instances": 1,
                "link": dataclasses.asdict(self.link), "clip_shape": list(self.clip_shape)}

    def saved_variables(self) -> dict:
        return jax.tree_util.tree_map(lambda a: np.asarray(a)[None], self.variables)

    @classmethod
    def abstract_variables(cls, header) -> dict:
        t, h, w = (int(d) for d in header["clip_shape"])
        out = {}
        for name, spec, channels in (("detection", DetectionSpec.from_dict(header["detection"]), 1),
                                     ("regression", RegressionSpec.from_dict(header["regression"]), 21)):
            model = spec.build()
            shapes = jax.eval_shape(lambda m=model, c=channels: m.init(jax.random.PRNGKey(0),
                                                                        jnp.zeros((1, t, h, w, c)), train=False))
            out[name] = jax.tree_util.tree_map(lambda s: jax.ShapeDtypeStruct((1, *s.shape), s.dtype), dict(shapes))
        return out

    @classmethod
    def from_saved(cls, header, variables) -> DepthModel:
        return cls(DetectionSpec.from_dict(header["detection"]), RegressionSpec.from_dict(header["regression"]),
                   jax.tree_util.tree_map(lambda a: a[0], variables), link=LinkConfig(**header["link"]),
                   clip_shape=tuple(header["clip_shape"]))
