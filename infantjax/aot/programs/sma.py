"""The SMA family's program (seed 000, Table 1): the CNN's training step over its stacked folds, 30-s windows
of 900 samples x 4 limbs x 3 axes (400 a step); small: the task's contract example."""

from __future__ import annotations

from infantjax.aot.catalogue import register, task_step

__all__: list[str] = []


def _paper(batch: int):
    import numpy as np

    from infantjax.models import count_parameters
    from infantjax.models.sma import SMASpec
    from infantjax.train.sma import SMAConfig, SMATask

    spec = SMASpec()
    leaves = {"x": ((batch, spec.window, 4, 3), np.float32), "y": ((batch,), np.float32)}
    line = (f"the SMA CNN's training step (Table 1, {count_parameters(spec):,} parameters), {batch} windows "
            f"of {spec.window} samples")
    return SMATask(spec, SMAConfig(batch_size=batch, progress=False)), leaves, batch, "windows", line


def _example():
    from infantjax.train.sma import SMATask

    return SMATask.example(0)


register("sma-train", lambda d, b, i, s: task_step(d, b, i, s, paper=_paper, example=_example), batch=400,
         example=True, line="the SMA CNN's stacked folds' step (seed 000, Table 1; 400 windows)")
