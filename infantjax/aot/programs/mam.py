"""The MAM family's program (seed 001): its training step over the stacked cross-validation folds, bags of 16
clips per recording (2 recordings a step) and 32 Ref clips; small: the task's contract example."""

from __future__ import annotations

from infantjax.aot.catalogue import register, task_step

__all__: list[str] = []


def _paper(batch: int):
    import numpy as np

    from infantjax.models.mam import MamSpec
    from infantjax.train.mam import MamConfig, MamTask

    spec = MamSpec()
    c = MamConfig(batch_size=batch, progress=False)
    L, F, S, R = spec.clip_length, spec.num_features, c.bag_clips, c.ref_batch
    f32 = np.float32
    leaves = {"bag_x": ((batch, S, L, F), f32), "bag_mask": ((batch, S), f32), "bag_y": ((batch,), f32),
              "bag_info": ((batch, 4), f32), "ref_x": ((R, L, F), f32), "ref_y": ((R,), np.int32)}
    line = f"MAM's training step (seed 001), {batch} recordings x {S} clips of {L} frames and {R} Ref clips"
    return MamTask(spec, c), leaves, batch, "recordings", line


def _example():
    from infantjax.train.mam import MamTask

    return MamTask.example(0)


register("mam-train", lambda d, b, i, s: task_step(d, b, i, s, paper=_paper, example=_example), batch=2,
         example=True, line="MAM's stacked folds' step (seed 001; 2 recordings)")
