"""The library's headline programs compiled for TPU slices and GPU hosts it lacks (``infantjax compile``).

Three rooms:

* :mod:`infantjax.aot.compile`: :func:`compile_program` compiles a program of the catalogue for a named target
  with the target's real compiler (XLA:TPU from libtpu, XLA:GPU from the CUDA plugin: the extra ``aot``) and
  reads its figures (:class:`CompiledProgram`: memory per device, FLOPs, bytes, collectives, tile padding, the
  roofline bound — estimates, compiled for, not run on the target); :func:`largest_batch` finds the largest
  batch that fits;
* :mod:`infantjax.aot.catalogue`: the catalogue of programs (:data:`PROGRAMS`), filled in by the families, one
  module each in :mod:`infantjax.aot.programs` — the CP ensemble's training step and scoring over
  :func:`infantjax.parallel.instance_mesh`, the EfficientPose inference graph data-parallel over the devices,
  one NAS trial on one chip, the depth, smartphone, SMA and MAM tasks' stacked steps;
* the readers of a program's HLO and jaxpr (collectives, tile padding, the FLOPs of its products) live with
  the benchmarks, which read the programs they run with them: :mod:`infantjax.bench.readers`.

    from infantjax import aot
    result = aot.compile_program("h100x8", "cp-train", batch=32)
    print(result.table())
"""

from __future__ import annotations

from infantjax.aot.catalogue import PROGRAMS, Built, Program, register
from infantjax.aot.compile import (
    COMPILE_ENV,
    ESTIMATE,
    CompiledProgram,
    compile_program,
    environment,
    largest_batch,
)
from infantjax.aot.programs.nas import NAS_TRIAL

__all__ = ["COMPILE_ENV", "ESTIMATE", "NAS_TRIAL", "PROGRAMS", "Built", "CompiledProgram", "Program",
           "collectives", "compile_program", "environment", "largest_batch", "matrix_flops", "register",
           "tile_padding"]


def __getattr__(name: str):
    """The program readers, where they were first imported from (:mod:`infantjax.bench.readers`)."""
    if name in ("collectives", "matrix_flops", "tile_padding"):
        from infantjax.bench import readers

        return getattr(readers, name)
    raise AttributeError(f"module 'infantjax.aot' has no attribute {name!r}")
