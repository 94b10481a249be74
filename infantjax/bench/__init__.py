"""Benchmarks: one harness (:mod:`infantjax.bench.harness`) and the headline set of ``infantjax bench``
(:mod:`infantjax.bench.headline`). The scripts in ``benchmarks/`` measure with the same harness."""

from infantjax.bench.harness import Row, Run, environment, load_average, matmul_rate, median_time, program_stats

__all__ = ["Row", "Run", "environment", "load_average", "matmul_rate", "median_time", "program_stats"]
