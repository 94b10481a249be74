"""Compiling a catalogue program for a target this machine does not have, and what the executable tells.

:func:`compile_program` builds a program of :data:`~infantjax.aot.catalogue.PROGRAMS` (each family's programs:
:mod:`infantjax.aot.programs`) with abstract arguments placed as the library places them, on the abstract
devices of a named target (:mod:`infantjax.targets`), under the backend policy the target gets
(:func:`infantjax.backend.auto_policy`: ``accelerator`` for a GPU, ``tpu`` for a TPU, ``tpu-v6e`` for a v6e),
and compiles it with the target's real compiler (XLA:TPU from libtpu, XLA:GPU from the CUDA plugin: the extra
``aot``). The executable tells:

* memory per device (arguments, outputs, temporaries, peak = arguments + outputs + temporaries − aliased)
  against the device's HBM; XLA:TPU refuses a program that does not fit (an
  :class:`~infantjax.errors.AotError` saying so), XLA:GPU compiled without a device does not, so the
  comparison is made here;
* FLOPs and bytes per device: XLA's cost analysis of the compiled program where the compiler gives one (TPU).
  Compile-only CUDA executables give none (and XLA:GPU would not count cuDNN convolutions anyway), so on a GPU
  the FLOPs are the products and convolutions of the traced program
  (:func:`~infantjax.bench.readers.matrix_flops`) divided by the devices, and the bytes arguments + outputs +
  temporaries, each touched once (a lower bound); ``flops_source`` says which. Beside them the analytical
  count where the library has one (:func:`infantjax.models.gcn.count_flops`);
* every collective of the compiled HLO, with its count and bytes
  (:func:`~infantjax.bench.readers.collectives`);
* on a TPU, how much of the activations' memory traffic is tile padding
  (:func:`~infantjax.bench.readers.tile_padding`): XLA:TPU lays each array out in tiles of (8, 128) on its two
  minor dimensions, so a dimension of 10 on the 128-lane axis occupies 128 and one of 19 on the 8-sublane axis
  24;
* a roofline lower bound on the step time, ``max(FLOPs / peak, bytes / bandwidth)`` per device, and the
  throughput it implies;
* on a GPU, the kernels one call launches (:func:`infantjax.bench.kernels.kernels`: fusions, cuBLAS and cuDNN
  calls, copies and transposes, each with its bytes, FLOPs, shapes and a convolution's feature groups) and the
  time the GPU cost model predicts from them (:mod:`infantjax.aot.costmodel`, calibrated on measured H100 and H200
  runs).

Every time and rate is an **estimate, compiled for, not run on** the target. XLA:GPU without a device does not
autotune, so its memory and schedule may differ slightly from a compile on the GPU. Its Triton GEMM fusions stay on
(as on the GPU) unless the compile refuses one: without a device to autotune, XLA:GPU gives each Triton GEMM its
default tiling, and refuses a product that tiling cannot cover (``Couldn't find output tile sizes``: Table A.4
#1's graph aggregation gradient, ``bf16[192000,38]``, whose 19 joints the default tile of 16 does not divide); the
GPU's autotuner tries other tilings and cuBLAS and took the same program (it ran on an H100). Such a program is
compiled again with Triton GEMMs off (cuBLAS GEMMs), and the result says so (``triton_gemm``).
"""

from __future__ import annotations

import dataclasses
import os
import time

import infantjax.aot.programs  # noqa: F401 - registers every family's programs in the catalogue
from infantjax.aot.catalogue import program as catalogue_program
from infantjax.errors import AotError, ConfigError

__all__ = ["COMPILE_ENV", "ESTIMATE", "CompiledProgram", "compile_program", "environment", "largest_batch"]

#: The label every estimate carries.
ESTIMATE = "estimate, compiled for, not run on"

#: Set before JAX starts: the CUDA plugin registers on a machine without a GPU only when JAX skips its CUDA checks;
#: libtpu looks for a TPU VM's metadata unless told the workers, and lets one process at a time hold it (a lockfile
#: in /tmp) unless told otherwise: a compile opens no TPU, so several processes may compile at once.
COMPILE_ENV = {"JAX_SKIP_CUDA_CONSTRAINTS_CHECK": "1", "TPU_WORKER_HOSTNAMES": "localhost",
               "TPU_ACCELERATOR_TYPE": "v5litepod-8", "ALLOW_MULTIPLE_LIBTPU_LOAD": "1"}

@dataclasses.dataclass
class CompiledProgram:
    """A program compiled for a target (module docstring); per-device figures, estimates labelled as such."""

    target: str
    program: str
    batch: int
    description: str
    devices: int
    device_kind: str
    mesh: dict
    compile_s: float
    memory: dict
    hbm_bytes: int
    fits: bool
    flops: float | None
    flops_source: str
    analytical_flops: float | None
    bytes: float | None
    collectives: dict
    instance_parallel: bool
    items: float
    unit: str
    dtype: str
    peak_tflops: float
    peak_name: str
    hbm_tb_s: float
    padding: dict | None = None
    policy: str = "accelerator"
    triton_gemm: bool | None = None
    triton_refusal: str | None = None
    kernels: list | None = None
    kernel_summary: dict | None = None
    cost: dict | None = None

    @property
    def intensity(self) -> float | None:
        """FLOPs per byte."""
        return self.flops / self.bytes if self.flops and self.bytes else None

    @property
    def bound_s(self) -> float | None:
        """The roofline lower bound on one call (seconds; an estimate)."""
        if self.flops is None:
            return None
        compute = self.flops / (self.peak_tflops * 1e12)
        memory = (self.bytes or 0.0) / (self.hbm_tb_s * 1e12)
        return max(compute, memory)

    @property
    def bound_by(self) -> str | None:
        if self.flops is None:
            return None
        compute = self.flops / (self.peak_tflops * 1e12)
        return "memory" if (self.bytes or 0.0) / (self.hbm_tb_s * 1e12) > compute else "compute"

    @property
    def rate(self) -> float | None:
        """Items per second at the bound (an estimate)."""
        bound = self.bound_s
        return self.items / bound if bound else None

    def record(self) -> dict:
        """A row as ``infantjax bench`` writes them (``median_s`` is the bound, labelled an estimate)."""
        bound = self.bound_s
        out = {"name": f"{self.program} on {self.target}, batch {self.batch}", "estimate": ESTIMATE,
               "median_s": bound, "samples_s": [], "items": self.items, "unit": self.unit,
               "rate_per_s": self.rate, "dtype": self.dtype, "target": self.target, "program": self.program,
               "batch": self.batch, "description": self.description, "devices": self.devices,
               "device_kind": self.device_kind, "mesh": self.mesh, "compile_s": self.compile_s,
               "memory_per_device_bytes": self.memory, "hbm_bytes": self.hbm_bytes, "fits": self.fits,
               "flops_per_device": self.flops, "flops_source": self.flops_source,
               "analytical_flops_per_device": self.analytical_flops, "bytes_per_device": self.bytes,
               "flop_per_byte": self.intensity, "collectives": self.collectives,
               "instance_parallel": self.instance_parallel, "bound_by": self.bound_by,
               "peak": self.peak_name, "peak_tflop_per_s": self.peak_tflops, "hbm_tb_per_s": self.hbm_tb_s,
               "tile_padding": self.padding, "policy": self.policy, "triton_gemm": self.triton_gemm,
               "triton_refusal": self.triton_refusal, "kernel_summary": self.kernel_summary,
               "kernels": self.kernels, "cost_model": self.cost}
        if self.flops is not None:
            out["gflop"] = self.flops * self.devices / 1e9
        if self.bytes is not None:
            out["gbytes"] = self.bytes * self.devices / 1e9
        return out

    def table(self) -> str:
        """The figures as lines of text, the estimates labelled."""
        gb = 1e9
        m = self.memory
        lines = [f"{self.program} ({self.description}) compiled for {self.target}: {self.devices} x "
                 f"{self.device_kind}, mesh {self.mesh}, batch {self.batch}, {self.dtype}, {self.policy} policy, "
                 f"compile {self.compile_s:.1f} s",
                 f"  memory per device: arguments {m['argument'] / gb:.3f} GB, outputs {m['output'] / gb:.3f} GB, "
                 f"temporaries {m['temp'] / gb:.3f} GB, peak {m['peak'] / gb:.3f} GB of {self.hbm_bytes / gb:.1f} GB HBM"
                 f" ({'fits' if self.fits else 'DOES NOT FIT'})"]
        if self.flops is not None:
            lines.append(f"  FLOPs per device: {self.flops / gb:.3f} GFLOP ({self.flops_source})"
                         + (f"; analytical {self.analytical_flops / gb:.3f} GFLOP" if self.analytical_flops else ""))
        if self.bytes is not None:
            lines.append(f"  bytes per device: {self.bytes / gb:.3f} GB; {self.intensity or 0:.1f} FLOP/byte")
        if self.collectives:
            parts = ", ".join(f"{op} x{c['count']} ({c['bytes'] / 1e6:.2f} MB)" for op, c in
                              sorted(self.collectives.items()))
            lines.append(f"  collectives: {parts}")
        else:
            lines.append("  collectives: none")
        if self.padding:
            p = self.padding
            big = p["largest"][0]
            scale, unit = (gb, "GB") if p["tiled"] >= 0.01 * gb else (1e6, "MB")
            lines.append(f"  tile padding: the buffers written to HBM hold {p['logical'] / scale:.3f} {unit}, "
                         f"{p['tiled'] / scale:.3f} {unit} in their TPU tiles (x{p['ratio']:.2f}); largest "
                         f"{big['shape']} x{big['tiled'] / big['logical']:.2f}")
            if p.get("dtypes"):
                lines.append("  buffers written by element type: " + ", ".join(
                    f"{dt} {n / scale:.3f} {unit}" for dt, n in p["dtypes"].items() if n >= 0.001 * p["logical"]))
            if p.get("opaque"):
                lines.append(f"  tile padding not visible in {p['opaque'] / scale:.3f} {unit} of untyped byte buffers "
                             "(arrays packed into s8[n]): the ratio describes the rest only")
        if self.bound_s is not None:
            lines.append(f"  roofline bound ({ESTIMATE} {self.target}): {self.bound_s * 1e3:.3f} ms per call "
                         f"({self.bound_by}-bound at {self.peak_tflops:g} TFLOP/s {self.peak_name}, "
                         f"{self.hbm_tb_s:g} TB/s) -> at most {self.rate:,.0f} {self.unit}/s")
        if self.kernel_summary is not None:
            lines.extend(self._kernel_lines())
        return "\n".join(lines)

    def _kernel_lines(self) -> list[str]:
        s = self.kernel_summary
        kinds = ", ".join(f"{k} {v['count']:,}" for k, v in s["by_kind"].items())
        groups = ", ".join(f"{g} group{'s' if int(g) > 1 else ''} x{n}" for g, n in s["conv_groups"].items())
        triton = ("on" if self.triton_gemm else
                  f"off (refused without a device to autotune: {(self.triton_refusal or '')[:160]})")
        lines = [f"  kernels per call: {s['count']:,} launches ({kinds}); {s['bytes'] / 1e9:.3f} GB read and "
                 f"written, {s['flops'] / 1e9:.2f} GFLOP in products and convolutions, median launch "
                 f"{s['median_bytes'] / 1e3:.1f} kB" + (f"; convolutions: {groups}" if groups else ""),
                 f"  Triton GEMM fusions: {triton}"]
        if self.cost:
            c = self.cost
            lines.append(f"  cost model ({ESTIMATE} {self.target}; {c['calibration']}): {c['line']}"
                         + (f"; {c['seconds'] / self.bound_s:.1f} x the roofline bound" if self.bound_s else ""))
        return lines


def compile_program(target, program: str, *, batch: int | None = None, instances: int | None = None,
                    size: str = "paper", triton_gemm: bool | None = None) -> CompiledProgram:
    """Compile a program of the catalogue (:data:`~infantjax.aot.catalogue.PROGRAMS`) for a named target
    (:mod:`infantjax.targets`) and read its figures.

    Arguments:
        target: a target name (``"v5e-8"``, ``"h100x8"``, ...) or :class:`~infantjax.targets.Target`.
        program: a name of :data:`~infantjax.aot.catalogue.PROGRAMS`.
        batch: windows / images per instance and call (default: the program's).
        instances: stacked instances (default: one per device, at most 64).
        size: ``"paper"`` (the papers' networks and inputs) or ``"small"`` (small networks and inputs: tests).
        triton_gemm: on a GPU target, XLA:GPU's Triton GEMM fusions: ``True`` on, as on a real GPU (its fusion
            pass runs before autotuning, so a program it cannot fuse fails, or aborts the process — compile in a
            subprocess —, here as it would on the GPU); ``False`` off (cuBLAS GEMMs); ``None`` (default) on, and
            off again where the compile refuses a Triton GEMM's default tiling (module docstring).

    Returns:
        a :class:`CompiledProgram`.

    Raises:
        ConfigError: an unknown program or size, a batch below 1.
        AotExtraError: the target's compile wheel is not installed (extra ``aot``).
        AotError: the compiler refused the program (e.g. XLA:TPU: it does not fit the HBM).
    """
    for name, value in COMPILE_ENV.items():  # before JAX starts its backends (no effect once they run)
        os.environ.setdefault(name, value)
    from infantjax import backend, targets
    from infantjax.bench.peaks import peak_tflops
    from infantjax.bench.readers import collectives, cost_analysis, matrix_flops, tile_padding

    t = targets.target(target)
    entry = catalogue_program(program)
    if size not in ("paper", "small"):
        raise ConfigError(f"size must be 'paper' or 'small', got {size!r}")
    example = size == "small" and entry.example
    if example:  # a task's contract example: its own batch
        if batch is not None:
            raise ConfigError(f"{program} at --size small runs its task's example batch; leave out --batch")
        batch = 1
    batch = int(entry.batch if batch is None else batch)
    if batch < 1:
        raise ConfigError(f"batch must be at least 1, got {batch}")
    instances = int(instances if instances is not None else min(t.chips, 64))
    if instances < 1:
        raise ConfigError(f"instances must be at least 1, got {instances}")
    devices = targets.devices(t)
    gpu = t.platform == "gpu"
    options = {"xla_gpu_enable_triton_gemm": False} if gpu and triton_gemm is False else {}
    refusal = None
    # the policy backend.policy("auto") picks on the target's devices (a v6e its own: XLA:TPU for v6e crashed
    # on the tpu forms)
    with backend.use(backend.auto_policy(t.platform, t.kind)) as policy:
        built = entry.build(devices, batch, instances, size)
        start = time.perf_counter()
        try:
            lowered = built.fn.lower(*built.args)
            try:
                compiled = lowered.compile(compiler_options=options)
            except Exception as err:  # noqa: BLE001 - a Triton GEMM's default tiling, without autotuning
                if not (gpu and triton_gemm is None and _TILING_REFUSAL in str(err)):
                    raise
                refusal = str(err).strip().splitlines()[0][:400]
                options = {"xla_gpu_enable_triton_gemm": False}
                compiled = lowered.compile(compiler_options=options)
        except Exception as err:  # noqa: BLE001 - the compiler's refusal, as one line
            text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            if "RESOURCE_EXHAUSTED" in str(err) or "exceeds" in str(err):
                raise AotError(f"{program} (batch {batch}) does not fit {t.name}: {text[:400]}") from err
            raise AotError(f"the {t.platform.upper()} compiler refused {program} for {t.name}: {text[:400]}") from err
        compile_s = time.perf_counter() - start
        dtype, policy_name = policy.compute_dtype, policy.name
        used = built.devices or len(devices)
        counted = matrix_flops(built.fn, *built.args) / used  # traced under the target's policy, as compiled
    stats = compiled.memory_analysis()
    memory = {"argument": int(stats.argument_size_in_bytes), "output": int(stats.output_size_in_bytes),
              "temp": int(stats.temp_size_in_bytes), "alias": int(stats.alias_size_in_bytes)}
    memory["peak"] = memory["argument"] + memory["output"] + memory["temp"] - memory["alias"]
    cost = cost_analysis(compiled)
    flops = nbytes = None
    if cost.get("flops"):  # compile-only executables may give none
        flops, nbytes = float(cost["flops"]), float(cost.get("bytes accessed") or 0.0) or None
    hlo = compiled.as_text()
    source = "XLA cost analysis of the compiled program"
    if flops is None:  # compile-only XLA:GPU gives none (and would not count cuDNN convolutions)
        flops, source = counted, ("products and convolutions of the traced program / devices "
                                  "(bench.readers.matrix_flops; XLA:GPU compiled without a device gives no count)")
    if nbytes is None:  # every buffer read or written once: a lower bound
        nbytes = float(memory["argument"] + memory["output"] + memory["temp"])
        source += "; bytes: arguments + outputs + temporaries, each touched once (a lower bound)"
    analytical = built.analytical_flops / used if built.analytical_flops else None
    peak = t.peak
    tflops, peak_name = peak_tflops(peak, dtype)
    if example:
        batch = int(built.items // instances)
    listing = summary = cost = None
    if gpu:
        from infantjax.bench.kernels import kernels, summary as kernel_summary

        listing = kernels(hlo)
        summary = kernel_summary(listing)
        cost = _cost(t, listing)
    return CompiledProgram(
        target=t.name, program=program, batch=batch, description=built.description, devices=used,
        device_kind=devices[0].device_kind, mesh=built.mesh_shape, compile_s=round(compile_s, 2), memory=memory,
        hbm_bytes=t.hbm_bytes, fits=memory["peak"] <= t.hbm_bytes, flops=flops, flops_source=source,
        analytical_flops=analytical, bytes=nbytes, collectives=collectives(hlo), padding=tile_padding(hlo),
        instance_parallel=built.instance_parallel, items=built.items, unit=built.unit, dtype=dtype, policy=policy_name,
        peak_tflops=tflops, peak_name=peak_name, hbm_tb_s=peak.hbm_tb_s,
        triton_gemm=(not options) if gpu else None, triton_refusal=refusal, kernels=listing,
        kernel_summary=summary, cost=cost)


#: XLA:GPU's refusal of a Triton GEMM whose default tiling does not fit (compiled without a device to autotune)
_TILING_REFUSAL = "Couldn't find output tile sizes"


def _cost(target, listing: list) -> dict:
    """The GPU cost model's prediction of one call (inputs on the device) on the target's GPU: the calibrated
    fractions and launch cost under the target GPU's datasheet peak and bandwidth (an extrapolation for a GPU no
    calibration row was measured on)."""
    from infantjax.aot import costmodel

    model = costmodel.load()
    record = costmodel.calibration()
    peak = target.peak
    fitted = [r for r in record["rows"] if r.get("fitted", True)]
    measured_on = sorted({r.get("device", "H100") for r in fitted})
    model = model.on(peak.hbm_tb_s, peak.bf16_tflops, peak.tf32_tflops, peak.name)
    name = "calibrated on"
    if target.kind.upper() not in measured_on:
        name = "the calibrated fractions and launch cost at this GPU's datasheet figures, calibrated on"
    errors = sorted(abs(r["predicted_s"] / r["measured_s"] - 1) for r in fitted)
    median = errors[len(errors) // 2] if errors else float("nan")
    p = model.predict(listing)
    counts = ", ".join(f"{sum(r.get('device', 'H100') == d for r in fitted)} {d}" for d in measured_on)
    return {**p.record(), "line": p.line(), "device": model.device,
            "calibration": f"{name} {len(fitted)} measured GPU rows ({counts}), median error {median:.0%}"}


def largest_batch(target, program: str, *, instances: int | None = None, size: str = "paper",
                  start: int | None = None, limit: int = 1 << 16) -> tuple[int, CompiledProgram]:
    """The largest batch (a power of two times the start, then bisected) whose program fits the target's HBM.

    Returns:
        (batch, the compiled program at that batch).

    Raises:
        AotError: not even the smallest batch fits.
    """
    batch = int(start or catalogue_program(program).batch)

    def fits(b: int) -> CompiledProgram | None:
        try:
            result = compile_program(target, program, batch=b, instances=instances, size=size)
        except AotError as err:
            if "does not fit" in str(err):
                return None
            raise
        return result if result.fits else None

    best = fits(batch)
    while best is None and batch > 1:
        batch //= 2
        best = fits(batch)
    if best is None:
        raise AotError(f"{program} does not fit {target} even at batch 1")
    lo, hi = batch, None
    while hi is None and lo * 2 <= limit:
        trial = fits(lo * 2)
        if trial is None:
            hi = lo * 2
        else:
            lo, best = lo * 2, trial
    while hi is not None and hi - lo > max(1, lo // 8):  # to within 1/8 of the batch
        mid = (lo + hi) // 2
        trial = fits(mid)
        if trial is None:
            hi = mid
        else:
            lo, best = mid, trial
    return lo, best


def environment(result: CompiledProgram) -> dict:
    """The ``environment`` of a record: the target compiled for (not this machine's device) and the versions."""
    import platform

    import jax

    from infantjax import targets

    t = targets.target(result.target)
    return {"device": result.device_kind, "target": t.name, "target_description": t.description,
            "backend": t.platform, "devices": result.devices, "compiled_for_not_run_on": True, "jax": jax.__version__,
            "python": platform.python_version(), "machine": platform.machine()}
