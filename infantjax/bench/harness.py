"""The one benchmark harness: warm-up, ``block_until_ready``, medians, XLA's FLOP and memory figures, the matmul rate
and load average of the same run, and a JSON record + table.

Every script in ``benchmarks/`` and ``infantjax bench`` measure with it, so every figure is taken the same way:

    from infantjax.bench import Run
    run = Run("gcn")                                      # measures the matmul rate and reads the load average
    row = run.time("ST-GCN train step", step, *args, repeats=5, items=32, unit="windows")
    run.finish(json_path="gcn.json"); print(run.table())  # the JSON record, then the table

A row's ``fraction_of_matmul`` is its achieved FLOP rate (XLA ``cost_analysis`` of the compiled program, when ``fn``
is jitted) divided by the float32 matmul rate measured in the same run: how close the program is to what the
machine's matrix unit does. Take figures of record only on an idle machine (load average < 1.5).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from infantjax import backend
from infantjax.io.files import write_text

__all__ = ["Row", "Run", "environment", "load_average", "matmul_rate", "median_time", "program_stats"]


def load_average() -> float | None:
    """The 1-minute load average (None where the OS has none)."""
    try:
        return round(os.getloadavg()[0], 2)
    except (OSError, AttributeError):
        return None


def median_time(fn: Callable[[], Any], *, repeats: int = 5, warmup: int = 1,
                budget_s: float | None = None) -> tuple[float, list[float]]:
    """Median wall time of ``fn()`` after ``warmup`` calls, waiting for every output (``block_until_ready``).

    Arguments:
        fn: the work; its return value (any pytree of arrays) is waited for.
        repeats: timed calls (fewer when ``budget_s`` runs out; at least one).
        warmup: untimed calls first (compilation, caches).
        budget_s: stop timing once this many seconds were spent (long steps on small machines).

    Returns:
        (median seconds, every timed call's seconds).
    """
    for _ in range(warmup):
        jax.block_until_ready(fn())
    times: list[float] = []
    while len(times) < max(1, repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - start)
        if budget_s is not None and sum(times) >= budget_s:
            break
    return statistics.median(times), times


def matmul_rate(n: int | None = None, repeats: int = 5, dtype=jnp.float32) -> float:
    """Measured GFLOP/s of an n×n @ n×n matrix product (jitted, median after warm-up) on the default device.

    ``n`` defaults to 2048 on CPU and 8192 on an accelerator, where a smaller product measures the launch, not the
    matrix unit (on a GPU JAX's default float32 precision may use TF32: the figure is what the programs get too).
    """
    if n is None:
        n = 2048 if backend.platform() == "cpu" else 8192
    a = jnp.asarray(np.random.default_rng(0).normal(size=(n, n)), dtype)
    f = jax.jit(lambda x, y: x @ y)
    med, _ = median_time(lambda: f(a, a), repeats=repeats, warmup=2)
    return 2 * n**3 / med / 1e9


def program_stats(jitted, *args) -> dict:
    """XLA's figures for one call of ``jitted(*args)``: FLOPs and peak bytes (arguments + outputs + scratch)."""
    try:
        compiled = jitted.lower(*args).compile()
    except AttributeError:  # not a jitted function: nothing to analyse
        return {}
    out: dict = {}
    cost = compiled.cost_analysis()
    if isinstance(cost, (list, tuple)):  # older JAX: one dict per program
        cost = cost[0] if cost else {}
    if cost and cost.get("flops") is not None:
        out["gflop"] = float(cost["flops"]) / 1e9
    mem = compiled.memory_analysis()
    if mem is not None:
        out["scratch_gb"] = mem.temp_size_in_bytes / 1e9
        out["peak_gb"] = (mem.argument_size_in_bytes + mem.output_size_in_bytes + mem.temp_size_in_bytes) / 1e9
    return out


def environment() -> dict:
    """Where a figure was taken: device, backend, versions, cores, load average."""
    device = jax.devices()[0]
    return {"device": getattr(device, "device_kind", device.platform), "backend": backend.platform(),
            "devices": jax.device_count(), "jax": jax.__version__, "python": platform.python_version(),
            "cpu_count": os.cpu_count(), "machine": platform.machine(), "load_average_1min": load_average()}


@dataclasses.dataclass
class Row:
    """One measured figure.

    Attributes:
        name: what was measured.
        seconds: median wall seconds of one call.
        samples: every timed call's seconds.
        items: work items per call (images, windows, fold-steps) for the rate column.
        unit: the items' name.
        gflop: XLA's FLOP count of one call (GFLOP), when known.
        extra: anything else the benchmark wants in the record (compile time, memory, ratios).
    """

    name: str
    seconds: float
    samples: list[float]
    items: float = 1.0
    unit: str = "calls"
    gflop: float | None = None
    extra: dict = dataclasses.field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.items / self.seconds if self.seconds > 0 else math.nan

    @property
    def gflops(self) -> float | None:
        return None if self.gflop is None or self.seconds <= 0 else self.gflop / self.seconds

    def record(self, matmul: float | None) -> dict:
        out = {"name": self.name, "median_s": self.seconds, "samples_s": self.samples, "items": self.items,
               "unit": self.unit, "rate_per_s": self.rate, **self.extra}
        if self.gflop is not None:
            out["gflop"] = self.gflop
            out["gflop_per_s"] = self.gflops
            if matmul:
                out["fraction_of_matmul"] = self.gflops / matmul
        return out


class Run:
    """One benchmark run: the environment and matmul rate at the start, rows, the matmul rate and load at the end.

    Arguments:
        title: the benchmark's name (first line of the table, ``benchmark`` in the JSON).
        matmul_n: size of the matmul that calibrates the run (default 2048 on CPU, 8192 on an accelerator).
        measure_matmul: measure the matmul rate (turn off only in tests).
    """

    def __init__(self, title: str, *, matmul_n: int | None = None, measure_matmul: bool = True):
        self.title = title
        self.env = environment()
        self.matmul_n = matmul_n or (2048 if backend.platform() == "cpu" else 8192)
        self.matmul_before = matmul_rate(matmul_n) if measure_matmul else None
        self.matmul_after: float | None = None
        self.rows: list[Row] = []
        self._measure = measure_matmul

    @property
    def matmul(self) -> float | None:
        """The run's matmul rate (GFLOP/s): the mean of the start and end measurements once finished."""
        values = [v for v in (self.matmul_before, self.matmul_after) if v]
        return statistics.fmean(values) if values else None

    def time(self, name: str, fn: Callable, *args, repeats: int = 5, warmup: int = 1, items: float = 1.0,
             unit: str = "calls", budget_s: float | None = None, analyse: bool = True,
             program: tuple | None = None, gflop: float | None = None, **extra) -> Row:
        """Time ``fn(*args)`` (median after warm-up) and add a row.

        XLA's FLOPs and scratch memory come from ``program = (jitted, args)`` when given (e.g. the train step inside a
        closure that threads donated state), else from ``fn`` itself when it is jitted and ``analyse`` is on.
        """
        if program is not None:
            stats = program_stats(program[0], *program[1])
        else:
            stats = program_stats(fn, *args) if analyse else {}
        med, samples = median_time(lambda: fn(*args), repeats=repeats, warmup=warmup, budget_s=budget_s)
        if "scratch_gb" in stats:
            extra.setdefault("xla_scratch_gb", stats["scratch_gb"])
        row = Row(name, med, samples, float(items), unit, stats.get("gflop") if gflop is None else gflop, dict(extra))
        self.rows.append(row)
        return row

    def add(self, row: Row) -> Row:
        """Add a row measured elsewhere (e.g. a whole pipeline timed with :func:`median_time`)."""
        self.rows.append(row)
        return row

    def finish(self, json_path: str | os.PathLike | None = None) -> dict:
        """Measure the matmul rate again, read the load average and (optionally) write the JSON record (atomically);
        :meth:`table` then gives the printable table."""
        if self._measure:
            self.matmul_after = matmul_rate(self.matmul_n)
        self.env["load_average_1min_end"] = load_average()
        record = self.record()
        if json_path is not None:
            write_text(json_path, json.dumps(record, indent=1) + "\n")
        return record

    def record(self) -> dict:
        return {"benchmark": self.title, "environment": self.env, "matmul_n": self.matmul_n,
                "matmul_gflop_per_s_before": self.matmul_before, "matmul_gflop_per_s_after": self.matmul_after,
                "rows": [r.record(self.matmul) for r in self.rows]}

    def table(self) -> str:
        """The rows as a fixed-width table, with the run's matmul rate and load averages underneath."""
        width = max([len(r.name) for r in self.rows] + [20])
        lines = [f"{self.title}: {self.env['device']} ({self.env['backend']}, {self.env['devices']} device(s), "
                 f"{self.env['cpu_count']} cores), jax {self.env['jax']}",
                 f"{'work':<{width}} {'median':>10} {'rate':>12} {'unit':<10} {'GFLOP/s':>8} {'of matmul':>9}"]
        for r in self.rows:
            gflops = f"{r.gflops:8.1f}" if r.gflops is not None else f"{'-':>8}"
            frac = (f"{r.gflops / self.matmul:9.1%}" if r.gflops is not None and self.matmul
                    else f"{'-':>9}")
            lines.append(f"{r.name:<{width}} {_seconds(r.seconds):>10} {r.rate:12.2f} {r.unit + '/s':<10} "
                         f"{gflops} {frac}")
        before = f"{self.matmul_before:.1f}" if self.matmul_before else "-"
        after = f"{self.matmul_after:.1f}" if self.matmul_after else "-"
        lines.append(f"float32 matmul {self.matmul_n}^3: {before} / {after} GFLOP/s (start / end); load average "
                     f"(1 min) {self.env['load_average_1min']} / {self.env.get('load_average_1min_end')}")
        return "\n".join(lines)


def _seconds(s: float) -> str:
    return f"{s * 1e3:.1f} ms" if s < 1 else f"{s:.2f} s"
