"""Benchmarks: one harness (:mod:`infantjax.bench.harness`), the datasheet peaks of accelerators and the roofline
(:mod:`infantjax.bench.peaks`), the readers of a program's HLO and jaxpr — collectives, tile padding, FLOPs of its
products — (:mod:`infantjax.bench.readers`), and the headline set of ``infantjax bench``
(:mod:`infantjax.bench.headline`). The scripts in ``benchmarks/`` measure with the same harness."""

from infantjax.bench.harness import (
    Row,
    Run,
    environment,
    load_average,
    matmul_rate,
    median_time,
    program_stats,
)
from infantjax.bench.peaks import PEAKS, DevicePeak, Roofline, lookup, roofline

__all__ = ["PEAKS", "DevicePeak", "Roofline", "Row", "Run", "environment", "load_average", "lookup", "matmul_rate",
           "median_time", "program_stats", "roofline"]
