"""Datasheet peaks of accelerators, and a benchmark row's place under them (the roofline).

A row of ``infantjax bench`` knows its FLOPs and the bytes it moves (XLA's ``cost_analysis`` of the compiled
program) and its median time. On a device in :data:`PEAKS` it is also given as a fraction of the device's peak:

* the **matrix peak** of the row's compute dtype — bfloat16/float16 rows against the bf16 tensor-core peak; float32
  rows against the TF32 peak where JAX's default matmul precision lets XLA use TF32 (NVIDIA Ampere and later, the
  default), against the FP32 peak under ``jax_default_matmul_precision="highest"``;
* where the row is **memory-bound** — its arithmetic intensity (FLOPs per byte) below the device's ridge point
  (peak FLOP/s ÷ memory bandwidth) — also the achieved bandwidth as a fraction of the HBM bandwidth, the roof that
  bounds it.

Dense figures from the vendors' datasheets (no sparsity): H100 SXM5 and H200 989 TFLOP/s bf16, 495 TF32, 67 FP32
(H100 3.35 TB/s, H200 4.8 TB/s HBM); H100 PCIe 756 / 378 / 51, 2.0 TB/s; A100 312 / 156 / 19.5 (40 GB 1.555 TB/s,
80 GB 2.039 TB/s); TPU v4 275 bf16 (1.2 TB/s), v5e 197 (0.819 TB/s), v5p 459 (2.765 TB/s), v6e 918 (1.64 TB/s).
TPUs have no TF32/FP32 matrix rate of their own (float32 products run as several bfloat16 passes): their float32
rows are given against the bf16 peak. A CPU has no entry: its rows stay beside the matmul rate measured in the same
run (:class:`~infantjax.bench.harness.Run`).
"""

from __future__ import annotations

import dataclasses
import math

# the one table of device figures lives with the compile targets (layer 2), which read it too
from infantjax.targets import PEAKS, DevicePeak, lookup

__all__ = ["PEAKS", "DevicePeak", "Roofline", "lookup", "matmul_precision", "peak_tflops", "roofline"]


LOW_PRECISION = ("bfloat16", "float16")


def matmul_precision() -> str:
    """JAX's default matmul precision as the peak lookup reads it: ``"highest"`` (float32 products in float32) or
    ``"default"`` (XLA may use TF32 for float32 on NVIDIA GPUs, bf16 passes on TPUs)."""
    import jax

    value = str(jax.config.jax_default_matmul_precision or "default").lower()
    return "highest" if value in ("highest", "float32") else "default"


def peak_tflops(peak: DevicePeak, dtype: str, precision: str = "default") -> tuple[float, str]:
    """The matrix peak (TFLOP/s) a row computing in ``dtype`` is held to, and its name.

    Arguments:
        peak: the device's peaks.
        dtype: the row's compute dtype (``"float32"``, ``"bfloat16"``, ``"float16"``).
        precision: :func:`matmul_precision`.

    Returns:
        (TFLOP/s, ``"bf16"`` / ``"tf32"`` / ``"fp32"``).
    """
    if dtype in LOW_PRECISION or (peak.tf32_tflops is None and peak.fp32_tflops is None):
        return peak.bf16_tflops, "bf16"
    if precision == "highest" and peak.fp32_tflops is not None:
        return peak.fp32_tflops, "fp32"
    if peak.tf32_tflops is not None:
        return peak.tf32_tflops, "tf32"
    return peak.fp32_tflops, "fp32"


@dataclasses.dataclass(frozen=True)
class Roofline:
    """A row under its device's roofline.

    Attributes:
        peak_name: which matrix peak (``"bf16"``, ``"tf32"``, ``"fp32"``).
        peak_tflops: that peak.
        fraction_of_peak: achieved FLOP/s ÷ the peak.
        intensity: FLOPs per byte moved (None without a byte count).
        ridge: the device's ridge point, peak FLOP/s ÷ bandwidth (FLOPs per byte).
        memory_bound: intensity below the ridge point.
        fraction_of_bandwidth: achieved bytes/s ÷ the HBM bandwidth (None without a byte count).
    """

    peak_name: str
    peak_tflops: float
    fraction_of_peak: float | None
    intensity: float | None
    ridge: float
    memory_bound: bool
    fraction_of_bandwidth: float | None

    def record(self) -> dict:
        return {"peak": self.peak_name, "peak_tflop_per_s": self.peak_tflops,
                "fraction_of_peak": self.fraction_of_peak, "flop_per_byte": self.intensity,
                "ridge_flop_per_byte": self.ridge, "memory_bound": self.memory_bound,
                "fraction_of_bandwidth": self.fraction_of_bandwidth}


def roofline(peak: DevicePeak, *, seconds: float, gflop: float | None, gbytes: float | None, dtype: str,
             precision: str = "default") -> Roofline:
    """Where one call of ``gflop`` GFLOPs moving ``gbytes`` GB in ``seconds`` sits under ``peak``.

    Arguments:
        peak: the device's peaks (:func:`lookup`).
        seconds: the call's median time.
        gflop: its FLOPs (GFLOP; XLA's count), or None.
        gbytes: the bytes it moves (GB; XLA's ``bytes accessed``), or None.
        dtype: its compute dtype.
        precision: :func:`matmul_precision`.

    Returns:
        a :class:`Roofline`.
    """
    tflops, name = peak_tflops(peak, dtype, precision)
    ridge = tflops * 1e12 / (peak.hbm_tb_s * 1e12)
    ok = seconds > 0 and math.isfinite(seconds)
    achieved = gflop * 1e9 / seconds if ok and gflop is not None else None
    fraction = achieved / (tflops * 1e12) if achieved is not None else None
    intensity = gflop / gbytes if gflop is not None and gbytes else None
    memory_bound = intensity is not None and intensity < ridge
    bandwidth = gbytes * 1e9 / seconds / (peak.hbm_tb_s * 1e12) if ok and gbytes else None
    return Roofline(name, tflops, fraction, intensity, ridge, memory_bound, bandwidth)
