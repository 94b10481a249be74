"""A GPU cost model: a compiled program's time as the sum of its kernels' times, calibrated on measured GPU runs.

Each kernel of a program compiled for a GPU (:func:`infantjax.bench.kernels.kernels`, read from the optimized HLO)
costs

    launch + max(bytes ÷ (b_class × HBM bandwidth), FLOPs ÷ (c_class × matrix peak of its dtype))

where ``launch`` is what every kernel costs however small (its launch inside XLA's command buffers — XLA:GPU
records fusions, cuBLAS and cuDNN calls into CUDA graphs by default —, its ramp-up and tail, the dependency on the
kernel before it), and ``b_class`` / ``c_class`` the fractions of the datasheet bandwidth and peak that kernels of
its class achieve (:data:`CLASSES`: GEMMs, convolutions, grouped and depthwise convolutions, elementwise,
reduction and transpose fusions). Kernels run one after another (XLA:GPU runs one stream), so a program's time is
the sum, plus ``call`` once a call (the host's dispatch of the executable and the wait for its result, as the
benchmarks time a call) and, where a call's inputs come from the host, their bytes over ``host`` bandwidth (the
benchmarks pass NumPy batches: the SMA step copies 259 MB to the GPU every call). The parameters are fitted
(:func:`calibrate`) on the rows measured in ``docs/performance.md``: two H100 runs (pose at four batches in float32
and bfloat16, the GCN steps and forwards, the vmapped folds, depth, SMA, the smartphone model), each compiled here
for an H100 as its benchmark built it (``benchmarks/gpu_costmodel.py``), and an H200 run of the GCN programs under
two form sets, read from the executables the GPU compiled (``benchmarks/gpu_forms.py``). The fractions and the
launch cost are shared; each row is predicted under the datasheet of the GPU it ran on (:data:`DEVICES`). They ship
with the package (``gpu_costmodel.json``: the parameters and every calibration row's prediction beside its
measurement).

Every figure it gives is an **estimate** — of a program compiled for, not run on, the device, by a model calibrated
on those rows only. Another GPU (:meth:`CostModel.on`, :meth:`CostModel.on_device`) keeps the fractions and launch
cost under its own datasheet peak and bandwidth; for a GPU no row was measured on, an extrapolation.
:func:`calibrate_kernels` fits the same fractions on single kernels timed in a profiler's trace instead
(``benchmarks/kernel_profile.py``), the launch cost split into the kernels' floor and the gaps between them.

    from infantjax.aot import costmodel
    from infantjax.bench.kernels import kernels
    model = costmodel.load()
    p = model.predict(kernels(compiled.as_text()))
    p.seconds, p.launch_s, p.memory_s, p.compute_s
"""

from __future__ import annotations

import dataclasses
import json
import math
import pathlib
from collections.abc import Iterable, Mapping

from infantjax.errors import ConfigError

__all__ = ["BANDWIDTH", "CLASSES", "DEVICES", "MATRIX", "NARROW", "CostModel", "Prediction", "calibration", "calibration_table", "calibrate",
           "calibrate_kernels", "kernel_class", "load", "row_figures", "save"]

#: the model's kernel classes, and the kernel reader's kinds in each (a grouped convolution of fewer than
#: :data:`NARROW` output features a group is ``conv-grouped-narrow``; a column reduction whose rows are narrower
#: than :data:`NARROW`, ``reduce-narrow``: the listing's ``reduce_width``)
CLASSES: dict[str, tuple[str, ...]] = {
    "gemm": ("gemm",),
    "conv": ("conv",),
    "conv-grouped": ("conv-grouped",),
    "conv-grouped-narrow": (),
    "conv-depthwise": ("conv-depthwise",),
    "elementwise": ("elementwise", "collective", "other"),
    "reduce": ("reduce", "triton"),
    "reduce-narrow": (),
    "transpose": ("transpose", "copy"),
}
_CLASS_OF = {kind: cls for cls, kinds in CLASSES.items() for kind in kinds}
#: the classes with a bandwidth fraction of their own (a narrow grouped convolution moves its bytes as the other
#: grouped convolutions do; what sets it apart is its products: one compute fraction of its own)
BANDWIDTH = tuple(c for c in CLASSES if c != "conv-grouped-narrow")
#: the classes whose FLOPs run on the matrix units (a compute fraction each)
MATRIX = ("gemm", "conv", "conv-grouped", "conv-grouped-narrow", "conv-depthwise")
#: the GPUs calibration rows may be measured on: short name -> its key in the datasheet table
#: (:data:`infantjax.targets.PEAKS`). A row names its device; the model's fractions and launch cost are shared
DEVICES: dict[str, str] = {"H100": "h100", "H200": "h200"}
#: output features a group below which a grouped convolution is narrow: less than one tensor-core tile of 64 wide
#: (a vmapped GCN's temporal convolution: 7 instances of 40 features); and the minor dimension below which a
#: reduction is narrow: rows of fewer than 64 elements, under one 128-byte transaction in bfloat16 (a GCN
#: BatchNorm's statistics over 91,200 rows of 40 channels)
NARROW = 64
def kernel_class(kernel: Mapping) -> str:
    """The model's class of a kernel listing's entry."""
    cls = _CLASS_OF.get(kernel["kind"], "elementwise")
    if cls == "conv-grouped" and 0 < int(kernel.get("group_features") or NARROW) < NARROW:
        return "conv-grouped-narrow"
    if cls == "reduce" and 0 < int(kernel.get("reduce_width") or 0) < NARROW:
        return "reduce-narrow"
    return cls
_LOW = ("bf16", "f16")
PATH = pathlib.Path(__file__).with_name("gpu_costmodel.json")


def _dtype(kernel: Mapping) -> str:
    shape = str(kernel.get("shape") or "")
    return shape.split("[", 1)[0] if "[" in shape else ""


@dataclasses.dataclass(frozen=True)
class Prediction:
    """A program's predicted time (an estimate) and where it goes.

    Attributes:
        seconds: the call's cost plus the sum of its kernels' times (plus its host inputs' transfer, where given).
        call_s: the call's fixed cost.
        transfer_s: the host inputs' transfer (0 unless ``host_bytes`` were given).
        launches: kernel launches.
        launch_s: the launches' share (launches × launch cost).
        memory_s: the share of kernels whose bytes bound them (the time above the launch).
        compute_s: the share of kernels whose FLOPs bound them.
        roofline_s: the same kernels at the datasheet bandwidth and peak with no launch cost (the kernels' own
            roofline: what the program's kernels could take at best).
        by_class: class -> ``{"count", "seconds", "launch_s", "memory_s", "compute_s", "bytes", "flops"}``.
    """

    seconds: float
    call_s: float
    transfer_s: float
    launches: int
    launch_s: float
    memory_s: float
    compute_s: float
    roofline_s: float
    by_class: dict

    def record(self) -> dict:
        return dataclasses.asdict(self)

    def line(self) -> str:
        ms = 1e3
        transfer = f" + host inputs {self.transfer_s * ms:.3f} ms" if self.transfer_s else ""
        return (f"{self.seconds * ms:.3f} ms per call = call {self.call_s * ms:.3f} ms{transfer} + "
                f"{self.launches:,} launches "
                f"{self.launch_s * ms:.3f} ms + "
                f"memory-bound {self.memory_s * ms:.3f} ms + compute-bound {self.compute_s * ms:.3f} ms "
                f"(the kernels at the datasheet's rates, no launch cost: {self.roofline_s * ms:.3f} ms)")


@dataclasses.dataclass(frozen=True)
class CostModel:
    """The model's parameters (module docstring).

    Attributes:
        launch_s: every kernel's fixed cost (seconds).
        call_s: every call's fixed cost (seconds).
        host_gb_s: the bandwidth of a call's inputs copied from the host (GB/s).
        bandwidth: class -> achieved fraction of the HBM bandwidth.
        compute: class -> achieved fraction of the matrix peak (:data:`MATRIX` classes).
        hbm_tb_s: the device's HBM bandwidth (TB/s, datasheet).
        bf16_tflops: its bfloat16 / float16 matrix peak (TFLOP/s).
        tf32_tflops: its TF32 peak (float32 products at JAX's default precision on a GPU).
        device: the device's name.
    """

    launch_s: float
    call_s: float
    host_gb_s: float
    bandwidth: Mapping[str, float]
    compute: Mapping[str, float]
    hbm_tb_s: float = 3.35
    bf16_tflops: float = 989.0
    tf32_tflops: float = 495.0
    device: str = "NVIDIA H100 SXM"

    def __post_init__(self):
        if not (self.launch_s >= 0 and self.call_s >= 0 and self.host_gb_s > 0):
            raise ConfigError(f"cost model: launch and call costs must be >= 0 seconds and the host bandwidth > 0, "
                              f"got {self.launch_s}, {self.call_s}, {self.host_gb_s}")
        for name, table, keys in (("bandwidth", self.bandwidth, BANDWIDTH), ("compute", self.compute, MATRIX)):
            missing = [k for k in keys if k not in table]
            if missing:
                raise ConfigError(f"cost model: {name} fractions missing for {missing}")
            bad = {k: v for k, v in table.items() if not 0 < v <= 1}
            if bad:
                raise ConfigError(f"cost model: {name} fractions must lie in (0, 1], got {bad}")

    def kernel_seconds(self, kernel: Mapping) -> tuple[float, float, float]:
        """(launch, memory time, compute time) of one launch of ``kernel`` (a :func:`~infantjax.bench.kernels.
        kernels` entry); its time is launch + the larger of the other two."""
        cls = kernel_class(kernel)
        fraction = self.bandwidth.get(cls) or self.bandwidth["conv-grouped"]
        memory = float(kernel["bytes"]) / (fraction * self.hbm_tb_s * 1e12)
        compute = 0.0
        if kernel.get("flops"):
            peak = self.bf16_tflops if _dtype(kernel) in _LOW else self.tf32_tflops
            compute = float(kernel["flops"]) / (self.compute.get(cls, self.compute["gemm"]) * peak * 1e12)
        return self.launch_s, memory, compute

    def predict(self, listing: Iterable[Mapping], host_bytes: float = 0.0) -> Prediction:
        """The predicted time of one call of a program whose kernels are ``listing`` (an estimate); ``host_bytes``:
        the bytes of its inputs copied from the host every call (0: the inputs are on the device)."""
        transfer = float(host_bytes) / (self.host_gb_s * 1e9)
        total, launch, memory, compute, roofline = self.call_s + transfer, 0.0, 0.0, 0.0, 0.0
        launches = 0
        by_class: dict[str, dict] = {}
        for k in listing:
            n = int(k.get("count", 1))
            lat, mem, comp = self.kernel_seconds(k)
            cls = kernel_class(k)
            entry = by_class.setdefault(cls, {"count": 0, "seconds": 0.0, "launch_s": 0.0, "memory_s": 0.0,
                                              "compute_s": 0.0, "bytes": 0.0, "flops": 0.0})
            t = lat + max(mem, comp)
            entry["count"] += n
            entry["seconds"] += n * t
            entry["launch_s"] += n * lat
            entry["memory_s" if mem >= comp else "compute_s"] += n * max(mem, comp)
            entry["bytes"] += n * float(k["bytes"])
            entry["flops"] += n * float(k.get("flops") or 0.0)
            total += n * t
            launch += n * lat
            if mem >= comp:
                memory += n * mem
            else:
                compute += n * comp
            launches += n
            peak = self.bf16_tflops if _dtype(k) in _LOW else self.tf32_tflops
            roofline += n * max(float(k["bytes"]) / (self.hbm_tb_s * 1e12),
                                float(k.get("flops") or 0.0) / (peak * 1e12))
        return Prediction(total, self.call_s, transfer, launches, launch, memory, compute, roofline, by_class)

    def on(self, hbm_tb_s: float, bf16_tflops: float, tf32_tflops: float | None, device: str) -> CostModel:
        """The same fractions and launch cost under another GPU's datasheet figures (an extrapolation)."""
        return dataclasses.replace(self, hbm_tb_s=hbm_tb_s, bf16_tflops=bf16_tflops,
                                   tf32_tflops=tf32_tflops or bf16_tflops / 2, device=device)

    def on_device(self, name: str) -> CostModel:
        """The same fractions and launch cost under the datasheet of a GPU of :data:`DEVICES` (``"H100"``,
        ``"H200"``).

        Raises:
            ConfigError: a device :data:`DEVICES` does not know.
        """
        if name not in DEVICES:
            raise ConfigError(f"cost model: no datasheet for the device {name!r}; use one of {', '.join(DEVICES)}")
        from infantjax.targets import PEAKS

        peak = dict(PEAKS)[DEVICES[name]]
        return self.on(peak.hbm_tb_s, peak.bf16_tflops, peak.tf32_tflops, peak.name)

    def parameters(self) -> dict:
        return {"launch_s": self.launch_s, "call_s": self.call_s, "host_gb_s": self.host_gb_s, "bandwidth": dict(self.bandwidth), "compute": dict(self.compute),
                "hbm_tb_s": self.hbm_tb_s, "bf16_tflops": self.bf16_tflops, "tf32_tflops": self.tf32_tflops,
                "device": self.device}


#: the fit's starting point and weak prior (a kernel launch inside a CUDA graph costs microseconds; library
#: kernels reach about half the datasheet's rates on the GCN's shapes)
PRIOR = CostModel(3e-6, 5e-5, 10.0, {c: 0.6 for c in BANDWIDTH}, {c: 0.5 for c in MATRIX})


def _vector(model: CostModel) -> list[float]:
    return ([math.log(model.launch_s), math.log(model.call_s), math.log(model.host_gb_s)]
            + [math.log(model.bandwidth[c]) for c in BANDWIDTH]
            + [math.log(model.compute[c]) for c in MATRIX])


def _model(theta, base: CostModel) -> CostModel:
    n = len(BANDWIDTH)
    return dataclasses.replace(base, launch_s=math.exp(theta[0]), call_s=math.exp(theta[1]),
                               host_gb_s=math.exp(theta[2]),
                               bandwidth={c: min(1.0, math.exp(t)) for c, t in zip(BANDWIDTH, theta[3:3 + n])},
                               compute={c: min(1.0, math.exp(t)) for c, t in zip(MATRIX, theta[3 + n:])})


def calibrate(rows: Iterable[tuple], *, prior: CostModel = PRIOR, prior_weight: float = 0.002
              ) -> tuple[CostModel, list[float]]:
    """Fit the launch cost and the achieved fractions on measured programs.

    Minimises Σ log(predicted ÷ measured)² over the rows plus ``prior_weight`` × the squared log distance of each
    parameter from ``prior`` (a weak pull that keeps a class no row constrains at the prior's value), fractions in
    (0, 1].

    Arguments:
        rows: (kernel listing, measured seconds, bytes of its inputs copied from the host every call[, device])
            per program; ``device`` (a key of :data:`DEVICES`, default the prior's own datasheet) is the GPU it was
            measured on: its row is predicted under that GPU's bandwidth and peaks, with the shared fractions.
        prior: the starting point and prior.
        prior_weight: the prior's weight against one row.

    Returns:
        (the fitted model, each row's predicted ÷ measured).

    Raises:
        ConfigError: no rows, or a measured time that is not positive.
    """
    import numpy as np
    from scipy.optimize import least_squares

    rows = [(list(row[0]), float(row[1]), float(row[2]), row[3] if len(row) > 3 else None) for row in rows]
    if not rows:
        raise ConfigError("cost model fit: no measured rows")
    if any(not s > 0 for _, s, _, _ in rows):
        raise ConfigError("cost model fit: every measured time must be positive")
    for _, _, _, device in rows:
        if device is not None and device not in DEVICES:
            raise ConfigError(f"cost model fit: no datasheet for the device {device!r}; use one of "
                              f"{', '.join(DEVICES)}")
    start = np.array(_vector(prior))

    def on(model: CostModel, device: str | None) -> CostModel:
        return model if device is None else model.on_device(device)

    def residuals(theta):
        model = _model(theta, prior)
        out = [math.log(on(model, device).predict(listing, host).seconds / seconds)
               for listing, seconds, host, device in rows]
        out += list(math.sqrt(prior_weight) * (theta - start))
        return np.array(out)

    upper = np.concatenate([[math.log(1e-3), math.log(1e-2), math.log(100.0)],
                            np.zeros(len(BANDWIDTH) + len(MATRIX))])
    lower = np.concatenate([[math.log(1e-8), math.log(1e-7), math.log(0.1)],
                            np.full(len(BANDWIDTH) + len(MATRIX), math.log(1e-3))])
    # a kernel's time is the larger of its two terms, so a compute fraction the bytes hide has no gradient: the fit
    # starts again from low compute fractions (a class whose products are slow shows only from there) and keeps
    # the better of the two
    low = start.copy()
    low[3 + len(BANDWIDTH):] = math.log(0.02)
    result = min((least_squares(residuals, np.clip(x0, lower, upper - 1e-9), bounds=(lower, upper))
                  for x0 in (start, low)), key=lambda r: r.cost)
    model = _model(result.x, prior)
    return model, [on(model, device).predict(listing, host).seconds / seconds
                   for listing, seconds, host, device in rows]


def calibrate_kernels(kernels: Iterable[tuple], *, idle_per_launch: float | None = None,
                      prior: CostModel = PRIOR, prior_weight: float = 0.002) -> tuple[CostModel, dict]:
    """Fit the achieved fractions on single kernels timed in a profiler's trace (``benchmarks/kernel_profile.py``)
    rather than on whole programs.

    A kernel's duration in a trace is its execution alone: ``floor + max(bytes ÷ (b_class × bandwidth), FLOPs ÷
    (c_class × peak))``, where ``floor`` is what the smallest kernel takes on the device; the gaps between kernels
    (the trace's idle time) are the rest of what a launch costs. The fit minimises Σ wᵢ · log(predictedᵢ ÷
    measuredᵢ)² over the kernels, wᵢ the kernel's share of the measured time (the kernels that take the time weigh
    most), plus ``prior_weight`` × the squared log distance from ``prior`` (a class no kernel constrains keeps the
    prior's fractions). The model returned has the fitted fractions and ``launch_s = floor + idle_per_launch``
    (``None``: the prior's launch cost instead); its call cost and host bandwidth are the prior's.

    Arguments:
        kernels: (kernel listing entry, measured seconds of one launch[, device]) per kernel; ``device`` (a key of
            :data:`DEVICES`) the GPU it ran on, as in :func:`calibrate`.
        idle_per_launch: the traced calls' idle time between kernels divided by their launches.
        prior: the starting point and prior.
        prior_weight: the prior's weight against all kernels together.

    Returns:
        (the fitted model, per class ``{"count", "measured_s", "predicted_s"}`` of the kernels under it, without
        the gaps: ``predicted_s`` counts the floor, not the launch cost).

    Raises:
        ConfigError: no kernels, or a measured time that is not positive.
    """
    import numpy as np
    from scipy.optimize import least_squares

    rows = [(dict(k[0]), float(k[1]), k[2] if len(k) > 2 else None) for k in kernels]
    if not rows:
        raise ConfigError("cost model kernel fit: no timed kernels")
    if any(not s > 0 for _, s, _ in rows):
        raise ConfigError("cost model kernel fit: every measured time must be positive")
    for _, _, device in rows:
        if device is not None and device not in DEVICES:
            raise ConfigError(f"cost model kernel fit: no datasheet for the device {device!r}; use one of "
                              f"{', '.join(DEVICES)}")
    for kernel, _, _ in rows:
        kernel["count"] = 1  # one launch each
    total = sum(s for _, s, _ in rows)
    weights = np.sqrt(np.array([s / total for _, s, _ in rows]))
    fixed = [math.log(prior.call_s), math.log(prior.host_gb_s)]
    start = np.array([math.log(min(prior.launch_s, 5e-6))] + _vector(prior)[3:])

    def model_of(theta) -> CostModel:
        return _model(np.concatenate([[theta[0]], fixed, theta[1:]]), prior)

    def one(model: CostModel, kernel, device) -> float:
        lat, mem, comp = (model if device is None else model.on_device(device)).kernel_seconds(kernel)
        return lat + max(mem, comp)

    def residuals(theta):
        model = model_of(theta)
        out = [w * math.log(one(model, k, d) / s) for w, (k, s, d) in zip(weights, rows, strict=True)]
        return np.array(out + list(math.sqrt(prior_weight) * (theta - start)))

    n = len(BANDWIDTH) + len(MATRIX)
    lower = np.concatenate([[math.log(1e-8)], np.full(n, math.log(1e-3))])
    upper = np.concatenate([[math.log(1e-4)], np.zeros(n)])
    low = start.copy()
    low[1 + len(BANDWIDTH):] = math.log(0.02)
    result = min((least_squares(residuals, np.clip(x0, lower, upper - 1e-9), bounds=(lower, upper))
                  for x0 in (start, low)), key=lambda r: r.cost)
    fitted = model_of(result.x)
    by_class: dict[str, dict] = {}
    for kernel, seconds, device in rows:
        entry = by_class.setdefault(kernel_class(kernel), {"count": 0, "measured_s": 0.0, "predicted_s": 0.0})
        entry["count"] += 1
        entry["measured_s"] += seconds
        entry["predicted_s"] += one(fitted, kernel, device)
    floor = fitted.launch_s
    launch = floor + idle_per_launch if idle_per_launch is not None else prior.launch_s
    return (dataclasses.replace(fitted, launch_s=launch, call_s=prior.call_s, host_gb_s=prior.host_gb_s),
            {"floor_s": floor, "classes": by_class})


def row_figures(model: CostModel, listing: list[Mapping], host_bytes: float = 0.0, device: str | None = None) -> dict:
    """A calibration row's figures under ``model`` (on ``device``'s datasheet, a key of :data:`DEVICES`, where
    given): its prediction and kernel totals."""
    p = (model if device is None else model.on_device(device)).predict(listing, host_bytes)
    return {"predicted_s": p.seconds, "call_s": p.call_s, "transfer_s": p.transfer_s, "host_bytes": host_bytes,
            "launches": p.launches, "launch_s": p.launch_s, "memory_s": p.memory_s,
            "compute_s": p.compute_s, "bytes": sum(float(k["bytes"]) * k.get("count", 1) for k in listing),
            "flops": sum(float(k.get("flops") or 0) * k.get("count", 1) for k in listing)}


def save(model: CostModel, rows: list[dict], path: pathlib.Path | str = PATH) -> None:
    """Write the parameters and the calibration rows (each with ``measured_s`` and ``predicted_s``)."""
    from infantjax.io.files import write_json

    errors = sorted(abs(r["predicted_s"] / r["measured_s"] - 1) for r in rows)
    write_json(path, {"estimate": "a model of programs compiled for, not run on, the device; calibrated on the "
                                  "rows below only",
                      "parameters": model.parameters(), "rows": rows,
                      "median_abs_error": errors[len(errors) // 2] if errors else None,
                      "within_35_percent": sum(e <= 0.35 for e in errors)}, indent=1)


def load(path: pathlib.Path | str = PATH) -> CostModel:
    """The calibrated model shipped with the package (or another file written by :func:`save`)."""
    return _from(json.loads(pathlib.Path(path).read_text()))


def _from(record: dict) -> CostModel:
    p = record["parameters"]
    return CostModel(float(p["launch_s"]), float(p["call_s"]), float(p["host_gb_s"]), dict(p["bandwidth"]), dict(p["compute"]), float(p["hbm_tb_s"]),
                     float(p["bf16_tflops"]), float(p["tf32_tflops"]), str(p["device"]))


def calibration(path: pathlib.Path | str = PATH) -> dict:
    """The shipped calibration record: parameters, rows, median error."""
    return json.loads(pathlib.Path(path).read_text())


def calibration_table(model: CostModel | None = None, path: pathlib.Path | str = PATH) -> str:
    """The calibration rows as a markdown table: measured, predicted (an estimate), their ratio, and where the
    predicted time goes (the call and its host inputs, the launches, the memory- and compute-bound kernels); rows
    left out of the fit say why."""
    record = calibration(path)
    lines = ["| measured row | GPU | measured | predicted (estimate) | predicted ÷ measured | call + host inputs "
             "| launches | memory-bound | compute-bound |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    ms = 1e3
    for r in record["rows"]:
        label = r["label"] if r.get("fitted", True) else f"{r['label']} (not fitted: {r.get('note', '')})"
        lines.append(f"| {label} | {r.get('device', 'H100')} | {r['measured_s'] * ms:.2f} ms | "
                     f"{r['predicted_s'] * ms:.2f} ms | "
                     f"{r['predicted_s'] / r['measured_s']:.2f} | "
                     f"{(r['call_s'] + r.get('transfer_s', 0.0)) * ms:.2f} ms | {r['launches']:,}: "
                     f"{r['launch_s'] * ms:.2f} ms | {r['memory_s'] * ms:.2f} ms | {r['compute_s'] * ms:.2f} ms |")
    return "\n".join(lines)
