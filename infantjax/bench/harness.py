"""The one benchmark harness: warm-up, ``block_until_ready``, medians, XLA's FLOP and memory figures, the matmul rate
and load average of the same run, and a JSON record + table.

Every script in ``benchmarks/`` and ``infantjax bench`` measure with it, so every figure is taken the same way:

    from infantjax.bench import Run
    run = Run("gcn")                                      # measures the matmul rate and reads the load average
    row = run.time("ST-GCN train step", step, *args, repeats=5, items=32, unit="windows")
    run.finish(json_path="gcn.json"); print(run.table())  # the JSON record, then the table

With ``Run(..., partial_json=path)`` the record so far is also written there (atomically) after every row and note,
with a ``partial`` entry saying what was running: a run that aborts later (a compiler crash, a time limit) leaves the
rows it measured; :meth:`Run.finish` then writes the final record in its place. :meth:`Run.note` records what a
figure could not be taken for (a reference implementation's error): under the table and in the record's ``notes``.

A row's ``fraction_of_matmul`` is its achieved FLOP rate (XLA ``cost_analysis`` of the compiled program, when ``fn``
is jitted) divided by the float32 matmul rate measured in the same run: how close the program is to what the
machine's matrix unit does. On an accelerator whose datasheet peaks :mod:`infantjax.bench.peaks` knows (H100, H200,
A100, TPU v4/v5e/v5p/v6e) a row also gets ``fraction_of_peak`` (of the matrix peak of its compute dtype) and, where
it is memory-bound (FLOPs per byte below the device's ridge point), ``fraction_of_bandwidth`` (of the HBM
bandwidth). Take figures of record only on an idle machine (load average < 1.5).
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
from infantjax.bench.peaks import DevicePeak, lookup, matmul_precision, roofline
from infantjax.bench.readers import cost_analysis, matrix_flops
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
    """XLA's figures for one call of ``jitted(*args)``: FLOPs (``gflop``), bytes moved (``gbytes``, XLA's
    ``bytes accessed``) and peak bytes (arguments + outputs + scratch).

    ``gflop`` is XLA's count unless the products and convolutions of the traced program
    (:func:`infantjax.bench.readers.matrix_flops`) add up to more than twice as much — XLA:GPU does not count
    cuDNN/cuBLAS calls — and then that count (``xla_gflop`` keeps XLA's); ``flop_source`` says which."""
    try:
        compiled = jitted.lower(*args).compile()
    except AttributeError:  # not a jitted function: nothing to analyse
        return {}
    out: dict = {}
    cost = cost_analysis(compiled)
    if cost.get("flops") is not None:
        out["gflop"] = float(cost["flops"]) / 1e9
        out["flop_source"] = "xla"
    # XLA:GPU counts no FLOPs for the library calls it makes (cuDNN convolutions, cuBLAS products are custom calls
    # to it): on the first H100 run EfficientPose RT counted 0.05 GFLOP an image of its 0.6. The traced program's
    # products and convolutions are close to the true count (XLA:CPU counts a padded convolution's taps on the
    # padding out, a few per cent less): where XLA's count is below half of it, XLA has left calls out; use it.
    try:
        products = matrix_flops(jitted, *args) / 1e9
    except Exception:  # noqa: BLE001 - a program the jaxpr walk cannot trace: XLA's count alone
        products = None
    if products is not None and products > 2.0 * out.get("gflop", 0.0):
        out["xla_gflop"] = out.get("gflop")
        out["gflop"] = products
        out["flop_source"] = "jaxpr products and convolutions (XLA's count misses library calls)"
    if cost.get("bytes accessed") is not None:
        out["gbytes"] = float(cost["bytes accessed"]) / 1e9
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
        gbytes: the bytes one call moves through device memory (GB; XLA's ``bytes accessed``), when known.
        dtype: the compute dtype of the work (which matrix peak it is held to).
    """

    name: str
    seconds: float
    samples: list[float]
    items: float = 1.0
    unit: str = "calls"
    gflop: float | None = None
    extra: dict = dataclasses.field(default_factory=dict)
    gbytes: float | None = None
    dtype: str = "float32"

    @property
    def rate(self) -> float:
        return self.items / self.seconds if self.seconds > 0 else math.nan

    @property
    def gflops(self) -> float | None:
        return None if self.gflop is None or self.seconds <= 0 else self.gflop / self.seconds

    def roofline(self, peak: DevicePeak | None, precision: str = "default"):
        """The row under ``peak`` (:func:`infantjax.bench.peaks.roofline`), or None without peaks or FLOPs."""
        if peak is None or self.gflop is None:
            return None
        return roofline(peak, seconds=self.seconds, gflop=self.gflop, gbytes=self.gbytes, dtype=self.dtype,
                        precision=precision)

    def record(self, matmul: float | None, peak: DevicePeak | None = None, precision: str = "default") -> dict:
        out = {"name": self.name, "median_s": self.seconds, "samples_s": self.samples, "items": self.items,
               "unit": self.unit, "rate_per_s": self.rate, "dtype": self.dtype, **self.extra}
        if self.gflop is not None:
            out["gflop"] = self.gflop
            out["gflop_per_s"] = self.gflops
            if matmul:
                out["fraction_of_matmul"] = self.gflops / matmul
        if self.gbytes is not None:
            out["gbytes"] = self.gbytes
        roof = self.roofline(peak, precision)
        if roof is not None:
            out.update(roof.record())
        return out


class Run:
    """One benchmark run: the environment and matmul rate at the start, rows, the matmul rate and load at the end.

    Arguments:
        title: the benchmark's name (first line of the table, ``benchmark`` in the JSON).
        matmul_n: size of the matmul that calibrates the run (default 2048 on CPU, 8192 on an accelerator).
        measure_matmul: measure the matmul rate (turn off only in tests).
        peak: the device's datasheet peaks (default: :func:`infantjax.bench.peaks.lookup` of the device; None on a
            CPU or an unknown device).
        partial_json: write the record so far here after every row and note (:meth:`checkpoint`).
    """

    def __init__(self, title: str, *, matmul_n: int | None = None, measure_matmul: bool = True,
                 peak: DevicePeak | None | str = "auto", partial_json: str | os.PathLike | None = None):
        self.title = title
        self.notes: list[str] = []
        self.partial_json = partial_json
        #: what the partial record says of the run's progress (``partial`` in it); callers update it
        self.status: dict = {}
        self.env = environment()
        self.peak = lookup(self.env["device"]) if peak == "auto" else peak
        self.precision = matmul_precision()
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
             program: tuple | None = None, gflop: float | None = None, gbytes: float | None = None,
             dtype: str | None = None, **extra) -> Row:
        """Time ``fn(*args)`` (median after warm-up) and add a row.

        XLA's FLOPs, bytes and scratch memory come from ``program = (jitted, args)`` when given (e.g. the train step
        inside a closure that threads donated state), else from ``fn`` itself when it is jitted and ``analyse`` is
        on; ``gflop``/``gbytes`` override them. ``dtype`` is the work's compute dtype (default: the backend policy's,
        :func:`infantjax.backend.compute_dtype`).
        """
        if program is not None:
            stats = program_stats(program[0], *program[1])
        else:
            stats = program_stats(fn, *args) if analyse else {}
        med, samples = median_time(lambda: fn(*args), repeats=repeats, warmup=warmup, budget_s=budget_s)
        if "scratch_gb" in stats:
            extra.setdefault("xla_scratch_gb", stats["scratch_gb"])
        row = Row(name, med, samples, float(items), unit, stats.get("gflop") if gflop is None else gflop, dict(extra),
                  stats.get("gbytes") if gbytes is None else gbytes, dtype or backend.compute_dtype())
        self.rows.append(row)
        self.checkpoint()
        return row

    def add(self, row: Row) -> Row:
        """Add a row measured elsewhere (e.g. a whole pipeline timed with :func:`median_time`)."""
        self.rows.append(row)
        self.checkpoint()
        return row

    def note(self, text: str) -> None:
        """Record what a figure could not be taken for (printed under the table, ``notes`` in the record)."""
        self.notes.append(text)
        self.checkpoint()

    def checkpoint(self, **status) -> None:
        """Write the record so far to ``partial_json`` (atomically; nothing without it), its ``partial`` entry
        :attr:`status` updated with ``status``: the rows measured survive a later abort."""
        self.status.update(status)
        if self.partial_json is not None:
            record = {**self.record(), "partial": dict(self.status)}
            write_text(self.partial_json, json.dumps(record, indent=1) + "\n")

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
        peak = dataclasses.asdict(self.peak) if self.peak is not None else None
        return {"benchmark": self.title, "environment": self.env, "matmul_n": self.matmul_n,
                "matmul_gflop_per_s_before": self.matmul_before, "matmul_gflop_per_s_after": self.matmul_after,
                "device_peak": peak, "matmul_precision": self.precision,
                "rows": [r.record(self.matmul, self.peak, self.precision) for r in self.rows],
                **({"notes": list(self.notes)} if self.notes else {})}

    def table(self) -> str:
        """The rows as a fixed-width table, with the run's matmul rate, the device's peaks and the load averages
        underneath. ``of peak``: achieved FLOP/s over the device's matrix peak for the row's dtype; ``of BW``: achieved
        bytes/s over the HBM bandwidth, for memory-bound rows (FLOPs per byte below the ridge point)."""
        width = max([len(r.name) for r in self.rows] + [20])
        lines = [(f"{self.title}: {self.env['device']} ({self.env['backend']}, {self.env['devices']} device(s), "
                  f"{self.env['cpu_count']} cores), jax {self.env['jax']}"),
                 (f"{'work':<{width}} {'median':>10} {'rate':>12} {'unit':<12} {'dtype':<8} {'GFLOP/s':>9} "
                  f"{'of matmul':>9} {'of peak':>8} {'of BW':>7}")]
        for r in self.rows:
            gflops = f"{r.gflops:9.1f}" if r.gflops is not None else f"{'-':>9}"
            frac = (f"{r.gflops / self.matmul:9.1%}" if r.gflops is not None and self.matmul
                    else f"{'-':>9}")
            roof = r.roofline(self.peak, self.precision)
            of_peak = (f"{roof.fraction_of_peak:8.1%}" if roof is not None and roof.fraction_of_peak is not None
                       else f"{'-':>8}")
            of_bw = (f"{roof.fraction_of_bandwidth:7.1%}" if roof is not None and roof.memory_bound
                     and roof.fraction_of_bandwidth is not None else f"{'-':>7}")
            lines.append(f"{r.name:<{width}} {_seconds(r.seconds):>10} {r.rate:12.2f} {r.unit + '/s':<12} "
                         f"{r.dtype:<8} {gflops} {frac} {of_peak} {of_bw}")
        before = f"{self.matmul_before:.1f}" if self.matmul_before else "-"
        after = f"{self.matmul_after:.1f}" if self.matmul_after else "-"
        lines.append(f"float32 matmul {self.matmul_n}^3: {before} / {after} GFLOP/s (start / end); load average "
                     f"(1 min) {self.env['load_average_1min']} / {self.env.get('load_average_1min_end')}")
        if self.peak is not None:
            p = self.peak
            tf32 = f"{p.tf32_tflops:g}" if p.tf32_tflops is not None else "-"
            fp32 = f"{p.fp32_tflops:g}" if p.fp32_tflops is not None else "-"
            lines.append(f"peaks ({p.name}, datasheet, dense): bf16 {p.bf16_tflops:g} / tf32 {tf32} / fp32 {fp32} "
                         f"TFLOP/s, {p.hbm_tb_s:g} TB/s; float32 rows held to the "
                         f"{'fp32' if self.precision == 'highest' else 'tf32'} peak (matmul precision "
                         f"{self.precision})")
        else:
            lines.append("peaks: none known for this device (a CPU): rows are given against the measured matmul rate")
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


def _seconds(s: float) -> str:
    return f"{s * 1e3:.1f} ms" if s < 1 else f"{s:.2f} s"
