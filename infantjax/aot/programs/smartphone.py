"""The smartphone family's program (seed 003): the 1D-CNN's training step over its stacked repeated splits,
videos of 46 movement curves x clip samples (8 a step); small: the task's contract example."""

from __future__ import annotations

from infantjax.aot.catalogue import register, task_step

__all__: list[str] = []


def _paper(batch: int):
    import numpy as np

    from infantjax.models.passmore import PassmoreSpec
    from infantjax.train.passmore import PassmoreConfig, PassmoreTask

    task = PassmoreTask(PassmoreSpec(), PassmoreConfig(num_curves=1000, batch_size=batch, progress=False))
    c, bank = task.config, np.asarray(task.bank)
    leaves = {"x": ((batch, c.train_clips, 46, c.clip_length), np.float32), "label": ((batch,), np.int32),
              "magnitude": ((batch, *bank.shape[1:]), bank.dtype),
              "time": ((batch, c.train_clips, *bank.shape[1:]), bank.dtype)}
    line = (f"the smartphone model's training step (seed 003), {batch} videos of {c.train_clips} clip(s) of "
            f"{c.clip_length} samples x 46 curves")
    return task, leaves, batch, "clips", line


def _example():
    from infantjax.train.passmore import PassmoreTask

    return PassmoreTask.example(0)


register("smartphone-train", lambda d, b, i, s: task_step(d, b, i, s, paper=_paper, example=_example),
         batch=8, example=True, line="the smartphone model's stacked splits' step (seed 003; 8 videos)")
