"""``TrainConfig``: the training recipe, by default the reference recipe of seed 002 (gcn_reference A.9)."""

from __future__ import annotations

import dataclasses

from infantjax._jsonconfig import JsonConfig
from infantjax.errors import ConfigError

__all__ = ["TrainConfig"]


@dataclasses.dataclass(frozen=True)
class TrainConfig(JsonConfig):
    """How a GCN is trained. Defaults are the reference recipe (gcn_reference A.9, MovementOutcome main.py).

    Arguments:
        epochs: epochs per run (the reference: 100 in the search, 200 in cross-validation).
        batch_size: windows per step (32; the reference drops the last incomplete batch).
        learning_rate: constant SGD learning rate (5e-4, no schedule).
        momentum: SGD momentum (0.9).
        nesterov: Nesterov momentum (True).
        weight_decay: decoupled L2 added to the gradient (0 in the reference).
        optimizer: ``"sgd"`` (the reference: SGD with ``momentum``/``nesterov``) or ``"adam"`` (Adam with
            ``learning_rate``, betas 0.9/0.999; not in the reference — for short demo/quick runs, which SGD at
            5e-4 cannot train in a few hundred steps).
        debias_batch_stats: BatchNorm running averages start at 0 and are bias-corrected when read (an infantjax
            correction, see docs/train.md). PyTorch/Flax start them at mean 0 / variance 1 and move them by 10 %
            per step (momentum 0.1), so after n steps 0.9ⁿ of the initial variance remains: after 30 steps the
            input BatchNorm's running variance of the velocity channels (true variance ≈ 1e-6 after v1
            normalisation) is still ≈ 0.04, and evaluation shrinks the velocities 200-fold. Debiased, the averages
            are the normalised weighted mean of the batch statistics, (1 − 0.9)·Σ 0.9^(n−k)·b_k / (1 − 0.9ⁿ);
            they equal the reference's to a relative 0.9ⁿ (< 3e-5 after 100 steps), i.e. for the paper's runs.
        window: frames per window (150 = 5 s at 30 Hz).
        hop: hop between validation/test windows (75 = 50 % overlap; the last window is aligned to the end).
        roll_sequence: tile every training recording to the longest one before cropping (reference default).
        augment: random rotation/scale/translation of each training window (train only).
        rotation: maximum rotation in whole degrees (integer angles in [-45, 45] in the reference).
        scale: (min, max) isotropic scale (0.70 … 1.30 in steps of 0.01).
        translation: maximum shift of x and y (-0.30 … 0.30 in steps of 0.01).
        preprocess_version: ``infantjax.preprocess.preprocess_cp`` version (``"v1"``, the published results, or
            ``"v2"``).
        window_rotation: rotate each window so its first frame's spine points down before augmentation, in
            training and evaluation (v1 ``standardize_rotation``; ``"reference"`` keeps the arccos sign quirk,
            ``"corrected"`` uses atan2, None turns it off; v2 has none).
        feature_mode: ``infantjax.preprocess.features`` mode (``"reference"``: the last two velocity frames are 0).
        model_mode: ``infantjax.models.gcn.build_model`` mode.
        preprocess: run ``infantjax.preprocess.preprocess_cp`` on every recording before windowing; set False
            when the cohort is already preprocessed.
        eval_batch_size: windows per evaluation call.
        progress: show a tqdm progress bar.
    """

    epochs: int = 200
    batch_size: int = 32
    learning_rate: float = 5e-4
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 0.0
    optimizer: str = "sgd"
    debias_batch_stats: bool = True
    positive_copies: int = 60
    negative_copies: int = 12
    window: int = 150
    hop: int = 75
    roll_sequence: bool = True
    augment: bool = True
    rotation: int = 45
    scale: tuple[float, float] = (0.7, 1.3)
    translation: float = 0.3
    feature_mode: str = "reference"
    model_mode: str = "reference"
    preprocess: bool = True
    preprocess_version: str = "v1"
    window_rotation: str | None = "reference"
    eval_batch_size: int = 256
    progress: bool = True

    def __post_init__(self):
        object.__setattr__(self, "scale", tuple(float(s) for s in self.scale))
        positive = ("epochs", "batch_size", "positive_copies", "negative_copies", "window", "hop", "eval_batch_size")
        for name in positive:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"TrainConfig.{name} must be a positive integer, got {value!r}")
        if isinstance(self.rotation, bool) or not isinstance(self.rotation, int) or not 0 <= self.rotation <= 180:
            raise ConfigError(f"TrainConfig.rotation must be whole degrees in [0, 180], got {self.rotation!r}")
        if self.optimizer not in ("sgd", "adam"):
            raise ConfigError(f"TrainConfig.optimizer must be 'sgd' or 'adam', got {self.optimizer!r}")
        if self.preprocess_version not in ("v1", "v2"):
            raise ConfigError(f"TrainConfig.preprocess_version must be 'v1' or 'v2', got {self.preprocess_version!r}")
        if self.window_rotation not in (None, "reference", "corrected"):
            raise ConfigError("TrainConfig.window_rotation must be 'reference', 'corrected' or None, got "
                              f"{self.window_rotation!r}")
        if self.preprocess_version == "v2" and self.window_rotation is not None:
            raise ConfigError("TrainConfig: preprocessing v2 has no window rotation (the reference removed it); "
                              "set window_rotation=None")
        for name in ("learning_rate", "momentum", "weight_decay", "translation"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                raise ConfigError(f"TrainConfig.{name} must be a number >= 0, got {value!r}")
        if self.learning_rate <= 0:
            raise ConfigError(f"TrainConfig.learning_rate must be > 0, got {self.learning_rate!r}")
        if len(self.scale) != 2 or not 0 < self.scale[0] <= self.scale[1]:
            raise ConfigError(f"TrainConfig.scale must be (min, max) with 0 < min <= max, got {self.scale!r}")
        if self.window < 3:
            raise ConfigError(f"TrainConfig.window must be at least 3 frames, got {self.window}")

    # ----------------------------------------------------------------------- serialisation