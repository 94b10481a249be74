"""Training: one engine for every model family, each family a task of it.

    from infantjax.train import CPConfig, CPData, CPTask, fit
    task = CPTask(spec, CPConfig(epochs=100))                       # the reference recipe of seed 002
    result = fit(task, [CPData.from_cohorts(train, val, task.config)], seeds=[1], checkpoint_dir="runs/t1")
    result.best_score[0], result.best_epoch[0], result.history[0], result.instance(0)

The engine (:func:`fit`) trains a stack of instances (one per data object: the folds of a cross-validation) in one
jitted, vmapped, donated step; it owns optimizer and schedule, evaluation, best-epoch selection, Orbax checkpoints
with exact resume, TensorBoard scalars, the progress bar and host syncs. Tasks: :class:`CPTask` (skeleton GCNs,
seed 002), :class:`PoseTask` (EfficientPose, EfficientHourglass, OpenPose; seed 002 Papers I–II),
:class:`DepthTask` (the detection and regression CNNs of seed 004), :class:`PassmoreTask` (the smartphone 1D-CNN of
seed 003), :class:`SMATask` (seed 000), :class:`MamTask` (seed 001); every family alike. Re-exported from the
inference layer below (:mod:`infantjax.infer`): stacked inference (:class:`StackedPredictor`) and the trained-model
base (:class:`TrainedModel`); a task composes its family's forward pass (``task.forward``, where the family defines
one in :mod:`infantjax.infer`). The papers' protocols are in :mod:`infantjax.protocols`.
See ``docs/train.md`` and ``docs/architecture.md`` (how to add a family).
"""

from infantjax.train.checkpoint import RunCheckpointer, restore_tree, save_tree
from infantjax.train.config import TrainConfig, compile_key, host_field
from infantjax.train.cp import (
    CPConfig,
    CPData,
    CPTask,
    Prepared,
    ValidationWindows,
    prepare_cohort,
    prepare_sequence,
    subject_scores,
    validation_windows,
)
from infantjax.train.depth import DETECTION_TRAINING, REGRESSION_TRAINING, DepthConfig, DepthData, DepthTask
from infantjax.train.engine import (
    FitResult,
    Hook,
    HookContext,
    Programs,
    apply_in_batches,
    fit,
    programs_for,
    train_step_within_budget,
)
from infantjax.train.logging import ScalarLogger
from infantjax.train.mam import MamConfig, MamData, MamTask
from infantjax.train.optim import make_optimizer
from infantjax.train.passmore import PassmoreConfig, PassmoreData, PassmoreTask
from infantjax.train.pose import AugmentConfig, PoseConfig, PoseData, PoseTask
from infantjax.infer.predict import Examples, StackedPredictor, place_stack, stacked_program, task_forward
from infantjax.train.sma import SMAConfig, SMAData, SMATask
from infantjax.train.state import TrainState
from infantjax.train.task import Selection, ShuffledBatches, Task, registered_tasks
from infantjax.infer.trained import Prediction, TrainedModel

__all__ = [
    "DETECTION_TRAINING",
    "REGRESSION_TRAINING",
    "AugmentConfig",
    "CPConfig",
    "CPData",
    "CPTask",
    "DepthConfig",
    "DepthData",
    "DepthTask",
    "Examples",
    "FitResult",
    "Hook",
    "HookContext",
    "MamConfig",
    "MamData",
    "MamTask",
    "PassmoreConfig",
    "PassmoreData",
    "PassmoreTask",
    "PoseConfig",
    "PoseData",
    "PoseTask",
    "Prediction",
    "Prepared",
    "Programs",
    "RunCheckpointer",
    "SMAConfig",
    "SMAData",
    "SMATask",
    "ScalarLogger",
    "Selection",
    "ShuffledBatches",
    "StackedPredictor",
    "Task",
    "TrainConfig",
    "TrainState",
    "TrainedModel",
    "ValidationWindows",
    "apply_in_batches",
    "compile_key",
    "fit",
    "host_field",
    "make_optimizer",
    "place_stack",
    "prepare_cohort",
    "prepare_sequence",
    "programs_for",
    "registered_tasks",
    "restore_tree",
    "save_tree",
    "stacked_program",
    "subject_scores",
    "task_forward",
    "train_step_within_budget",
    "validation_windows",
]
