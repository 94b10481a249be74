"""The depth family's programs (seed 004, Table I): the limb regression network's training step on clips of 3
frames of 96 x 128 (16 a step), in its asymmetric form and in the full 3x3x3 form of the paper's comparison;
small: the task's contract example (and its narrow network in the full form)."""

from __future__ import annotations

from infantjax.aot.catalogue import register, task_step

__all__: list[str] = []

#: the regression network's input clip: frames x height x width x input channels (seed 004, Table I)
CLIP = (3, 96, 128, 21)


def _paper(kind: str):
    def paper(batch: int):
        import numpy as np

        from infantjax.models.depth.regression import RegressionSpec
        from infantjax.train.depth import DepthConfig, DepthTask

        task = DepthTask(RegressionSpec(kind), DepthConfig(batch_size=batch, progress=False), CLIP)
        leaves = {"inputs": ((batch, *CLIP), np.float32), "targets": ((batch, *CLIP[:-1], 20), np.float32)}
        return (task, leaves, batch, "clips",
                f"the {kind} depth regression step (Table I widths), {batch} clips of 3 x 96 x 128")

    return paper


def _example(full: bool):
    def example():
        from infantjax.train.depth import DepthTask

        task, data = DepthTask.example(0)
        if full:  # the example's narrow network in the full 3x3x3 form
            from infantjax.models.depth.regression import RegressionSpec

            task = DepthTask(RegressionSpec("full", widths=(4, 4, 4, 4), head_width=4), task.config,
                             task.input_shape)
        return task, data

    return example


def _program(kind: str):
    paper, example = _paper(kind), _example(kind == "full")
    return lambda d, b, i, s: task_step(d, b, i, s, paper=paper, example=example)


register("depth-train", _program("asymmetric"), batch=16, example=True,
         line="the asymmetric depth regression step (seed 004, Table I; 16 clips)")
register("depth-full-train", _program("full"), batch=16, example=True,
         line="the full 3x3x3 depth regression step (seed 004's comparison; 16 clips)")
