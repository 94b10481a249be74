"""The library's headline programs compiled for TPU slices and GPU hosts it does not have (``infantjax compile``).

:func:`compile_program` builds a real program of the library — the engine's own jitted, vmapped training step
over :func:`infantjax.parallel.instance_mesh` for stacked tasks (the CP ensemble at Table A.4 size; the depth,
smartphone, SMA and MAM tasks' contract examples), the ensemble's scoring (the stacked predictor's program), the
EfficientPose inference graph data-parallel over the devices — lowers it with abstract arguments placed as the
library places them, on the abstract devices of a named target (:mod:`infantjax.targets`), under the backend
policy the target's platform gets (``accelerator`` for a GPU, ``tpu`` for a TPU: :mod:`infantjax.backend`), and
compiles it with the target's real compiler (XLA:TPU from libtpu, XLA:GPU from the CUDA
plugin: the extra ``aot``). The executable tells:

* memory per device (arguments, outputs, temporaries, peak = arguments + outputs + temporaries − aliased) against
  the device's HBM; XLA:TPU refuses a program that does not fit (an :class:`~infantjax.errors.AotError` saying
  so), XLA:GPU compiled without a device does not, so the comparison is made here;
* FLOPs and bytes per device: XLA's cost analysis of the compiled program where the compiler gives one (TPU).
  Compile-only CUDA executables give none (and XLA:GPU would not count cuDNN convolutions anyway), so on a GPU the
  FLOPs are the products and convolutions of the traced program (:func:`matrix_flops`) divided by the devices,
  and the bytes arguments + outputs + temporaries, each touched once (a lower bound); ``flops_source`` says which.
  Beside them the analytical count where the library has one (:func:`infantjax.models.gcn.count_flops`);
* every collective of the compiled HLO, with its count and bytes;
* on a TPU, how much of the activations' memory traffic is tile padding (:func:`tile_padding`): XLA:TPU lays each
  array out in tiles of (8, 128) on its two minor dimensions, so a dimension of 10 on the 128-lane axis occupies
  128 and one of 19 on the 8-sublane axis 24;
* a roofline lower bound on the step time, ``max(FLOPs / peak, bytes / bandwidth)`` per device, and the
  throughput it implies.

Every time and rate is an **estimate, compiled for, not run on** the target. XLA:GPU without a device does not
autotune, so its memory and schedule may differ slightly from a compile on the GPU; its Triton GEMM tiler is turned
off here (``xla_gpu_enable_triton_gemm=false``, cuBLAS GEMMs) because without autotuning it fails on some of the
GCN's small graph products (``Couldn't find output tile sizes``).

    from infantjax import aot
    result = aot.compile_program("h100x8", "cp-train", batch=32)
    print(result.table())
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import time
from collections.abc import Callable

from infantjax.errors import AotError, ConfigError

__all__ = ["COMPILE_ENV", "ESTIMATE", "PROGRAMS", "Built", "CompiledProgram", "collectives", "compile_program",
           "environment", "largest_batch", "matrix_flops", "tile_padding"]

#: The label every estimate carries.
ESTIMATE = "estimate, compiled for, not run on"

#: Set before JAX starts: the CUDA plugin registers on a machine without a GPU only when JAX skips its CUDA checks;
#: libtpu looks for a TPU VM's metadata unless told the workers, and lets one process at a time hold it (a lockfile
#: in /tmp) unless told otherwise: a compile opens no TPU, so several processes may compile at once.
COMPILE_ENV = {"JAX_SKIP_CUDA_CONSTRAINTS_CHECK": "1", "TPU_WORKER_HOSTNAMES": "localhost",
               "TPU_ACCELERATOR_TYPE": "v5litepod-8", "ALLOW_MULTIPLE_LIBTPU_LOAD": "1"}

_COLLECTIVES = ("all-gather", "all-reduce", "reduce-scatter", "all-to-all", "collective-permute",
                "collective-broadcast", "ragged-all-to-all")
_OP = re.compile(r"^\s*(?:ROOT\s+)?%?[\w.\-]+\s*=\s*(.*?)\s(" + "|".join(_COLLECTIVES) + r")(-start)?\(")
_SHAPE = re.compile(r"\b(pred|s4|s8|s16|s32|s64|u4|u8|u16|u32|u64|f8e4m3fn|f8e5m2|bf16|f16|f32|f64|c64|c128)"
                    r"\[([0-9,]*)\]")
_BYTES = {"pred": 1, "s4": 0.5, "u4": 0.5, "s8": 1, "u8": 1, "f8e4m3fn": 1, "f8e5m2": 1, "s16": 2, "u16": 2,
          "bf16": 2, "f16": 2, "s32": 4, "u32": 4, "f32": 4, "s64": 8, "u64": 8, "f64": 8, "c64": 8, "c128": 16}


def collectives(hlo_text: str) -> dict[str, dict]:
    """Every collective of a compiled module's HLO text: ``{op: {"count": n, "bytes": b}}``, the bytes being the
    sizes of the results (an asynchronous ``-start`` op counts once, by its result; its ``-done`` is not counted)."""
    out: dict[str, dict] = {}
    for line in hlo_text.splitlines():
        m = _OP.match(line)
        if not m:
            continue
        result, op, start = m.group(1), m.group(2), m.group(3)
        shapes = [(d, [int(x) for x in dims.split(",") if x]) for d, dims in _SHAPE.findall(result)]
        if start and op in ("all-gather", "collective-permute", "all-to-all") and len(shapes) % 2 == 0 \
                and len(shapes) > 1:
            shapes = shapes[len(shapes) // 2:]  # ((operands), (results)): the results
        size = sum(_BYTES[d] * math.prod(dims) for d, dims in shapes)
        entry = out.setdefault(op, {"count": 0, "bytes": 0})
        entry["count"] += 1
        entry["bytes"] += int(size)
    return out


_LAYOUT = re.compile(r"\b(pred|s4|s8|s16|s32|s64|u4|u8|u16|u32|u64|f8e4m3fn|f8e5m2|bf16|f16|f32|f64|c64|c128)"
                     r"\[([0-9,]*)\]\{([0-9,]*)(?::([^}]*))?\}")
_RESULT = re.compile(r"^\s*(?:ROOT\s+)?%?[\w.\-]+\s*=\s*(.*?)\s([a-z][\w\-]*)\(")
_COMPUTATION = re.compile(r"^(ENTRY\s+)?%?([\w.\-]+)\s.*\{\s*$")
_NOT_BUFFERS = frozenset({"parameter", "constant", "get-tuple-element", "tuple", "bitcast", "copy-start",
                          "copy-done", "after-all", "opt-barrier"})


def tile_padding(hlo_text: str, top: int = 5) -> dict | None:
    """How much of the buffers a compiled TPU program writes to HBM is tile padding.

    Every result of an instruction outside fusion bodies (a buffer XLA materialises; parameters, constants, tuples
    and bitcasts are not buffers, and buffers in another memory space — ``S(n)``, the TPU's on-chip memory — are
    left out) is sized twice from the layout in the HLO text: its elements, and its elements padded to the layout's
    first tile, ``T(a, b)`` over its two most minor dimensions (``T(128)`` over one). Returns ``{"logical": bytes,
    "tiled": bytes, "ratio": tiled / logical, "largest": [{"shape": layout text, "logical": bytes, "tiled": bytes,
    "count": n}, ...], "opaque": bytes, "dtypes": {dtype: logical bytes}}`` (the ``top`` layouts with the most tiled
    bytes; ``dtypes`` splits the logical bytes by element type: a bfloat16 program's float32 share is the
    activations it keeps in float32), or None where the layouts
    carry no tiles (XLA:GPU, XLA:CPU). It counts each buffer written once: reads, and the bytes XLA's cost analysis
    adds, scale with it but are not in it. One-dimensional byte buffers of 1 MiB or more (``s8[n]``: XLA:TPU for v6e
    packs arrays into them) hide the shapes and layouts of what they hold: their bytes are ``opaque``, left out of
    the ratio, which then describes only the rest.
    """
    fused: set[str] = set()
    for name in re.findall(r"\bfusion\([^\n]*?calls=%?([\w.\-]+)", hlo_text):
        fused.add(name)
    logical_total = tiled_total = opaque_total = 0
    by_dtype: dict[str, int] = {}
    seen_tiles = False
    shapes: dict[str, list[int]] = {}
    current = None
    for line in hlo_text.splitlines():
        if not line.startswith(" "):
            m = _COMPUTATION.match(line)
            current = m.group(2) if m else None
            continue
        if current is None or current in fused:
            continue
        m = _RESULT.match(line)
        if not m or m.group(2) in _NOT_BUFFERS:
            continue
        for dtype, dims_text, order_text, extra in _LAYOUT.findall(m.group(1)):
            if "S(" in extra:
                continue
            dims = [int(x) for x in dims_text.split(",") if x]
            logical = _BYTES[dtype] * math.prod(dims)
            if dtype in ("s8", "u8") and len(dims) == 1 and logical >= (1 << 20):
                opaque_total += logical  # arrays packed into one byte buffer (XLA:TPU for v6e): shapes not visible
                continue
            padded = list(dims)
            tile = re.match(r"T\(([0-9,]+)\)", extra)
            order = [int(x) for x in order_text.split(",") if x]
            if tile and dims:
                seen_tiles = True
                sizes = [int(x) for x in tile.group(1).split(",")]
                for k, size in enumerate(reversed(sizes)):  # the tile's last size pads the most minor dimension
                    if k < len(order):
                        d = order[k]
                        padded[d] = -(-padded[d] // size) * size
            tiled = _BYTES[dtype] * math.prod(padded)
            logical_total += logical
            tiled_total += tiled
            by_dtype[dtype] = by_dtype.get(dtype, 0) + int(logical)
            key = f"{dtype}[{dims_text}]{{{order_text}:{extra}}}" if extra else f"{dtype}[{dims_text}]{{{order_text}}}"
            entry = shapes.setdefault(key, [0, 0, 0])
            entry[0] += int(logical)
            entry[1] += int(tiled)
            entry[2] += 1
    if not seen_tiles or not logical_total:
        return None
    largest = sorted(shapes.items(), key=lambda kv: -kv[1][1])[:top]
    return {"logical": int(logical_total), "tiled": int(tiled_total), "ratio": tiled_total / logical_total,
            "opaque": int(opaque_total), "dtypes": dict(sorted(by_dtype.items(), key=lambda kv: -kv[1])),
            "largest": [{"shape": k, "logical": v[0], "tiled": v[1], "count": v[2]} for k, v in largest]}


def matrix_flops(fn, *args) -> float:
    """FLOPs of the products and convolutions of ``fn(*args)`` over all devices, counted on its traced program (the
    jaxpr, backward passes included): 2 x multiply-accumulates of every ``dot_general`` and
    ``conv_general_dilated`` (feature groups and batch groups counted as such), sub-programs entered (``scan`` bodies
    times their length, ``shard_map`` bodies times the devices they run on, the larger branch of a ``cond``).
    Elementwise operations are not counted: it is a lower bound of XLA's count and, for networks made of products
    and convolutions, within a few per cent of it."""
    import jax

    return _jaxpr_flops(jax.make_jaxpr(fn)(*args).jaxpr)


def _jaxpr_flops(jaxpr) -> float:
    from jax.extend.core import ClosedJaxpr, Jaxpr

    total = 0.0
    for eqn in jaxpr.eqns:
        name = eqn.primitive.name
        if name == "dot_general":
            (lc, _), (lb, _) = eqn.params["dimension_numbers"]
            lhs = eqn.invars[0].aval.shape
            out = eqn.outvars[0].aval.shape
            total += 2.0 * math.prod(out) * math.prod(lhs[d] for d in lc)
            continue
        if name == "conv_general_dilated":
            rhs = eqn.invars[1].aval.shape
            dn = eqn.params["dimension_numbers"]
            out = eqn.outvars[0].aval.shape
            in_features = rhs[dn.rhs_spec[1]]  # input features per group
            spatial = math.prod(rhs[d] for d in dn.rhs_spec[2:])
            total += 2.0 * math.prod(out) * in_features * spatial
            continue
        factor = 1.0
        if name == "scan":
            factor = float(eqn.params["length"])
        elif name == "shard_map":
            mesh = eqn.params["mesh"]
            manual = eqn.params.get("newly_manual_axes") or eqn.params.get("manual_axes") or mesh.axis_names
            factor = float(math.prod(mesh.shape[a] for a in manual))
        subs = [v for v in eqn.params.values() if isinstance(v, (Jaxpr, ClosedJaxpr))]
        subs += [b for v in eqn.params.values() if isinstance(v, (tuple, list)) for b in v
                 if isinstance(b, (Jaxpr, ClosedJaxpr))]
        counts = [_jaxpr_flops(getattr(sub, "jaxpr", sub)) for sub in subs]
        if not counts:
            continue
        total += factor * (max(counts) if name == "cond" else sum(counts))
    return total


@dataclasses.dataclass
class Built:
    """A program ready to lower: the jitted function, its abstract arguments (``jax.ShapeDtypeStruct`` with
    shardings) and what one call does.

    Attributes:
        fn: the jitted function.
        args: its abstract arguments.
        items: work items of one call (windows, images, recordings, steps).
        unit: their name.
        description: a line for the tables.
        instance_parallel: instances stacked over the mesh's ``instance`` axis (they must never exchange data).
        analytical_flops: the library's analytical FLOP count of one call over all devices, or None.
        mesh_shape: the mesh's axes and sizes.
        devices: the devices the program runs on, where fewer than the target's (one NAS trial: one chip).
    """

    fn: Callable
    args: tuple
    items: float
    unit: str
    description: str
    instance_parallel: bool
    analytical_flops: float | None
    mesh_shape: dict
    devices: int | None = None


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
               "tile_padding": self.padding, "policy": self.policy}
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
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------------------
# programs


def _abstract(tree, sharding):
    import jax

    return jax.tree_util.tree_map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=sharding), tree)


def _engine(task, devices, instances: int, batch_tree: dict, *, steps_per_epoch: int = 10):
    """The engine's training step over ``instance_mesh(instances)`` with abstract state and batch (``batch_tree``:
    name -> (shape of one instance's batch, dtype)). The mesh is the one the engine builds (``train.engine``): its
    ``data`` axis shrunk until it divides the task's batch, its ``instance`` axis grown to keep every device
    (MAM's 2 bags a step for 64 folds on a v5e-256: instance 128 x data 2, 64 of the slots padding)."""
    import jax
    import jax.numpy as jnp

    from infantjax import parallel
    from infantjax.train.engine import Programs

    batch_size = getattr(getattr(task, "config", None), "batch_size", None)
    mesh = parallel.instance_mesh(instances, devices=devices, batch_size=batch_size)
    n = parallel.padded_size(instances, mesh)
    programs = Programs(task, steps_per_epoch, mesh)
    inst, batch = parallel.instance_sharding(mesh), parallel.batch_sharding(mesh)
    stacked = {k: jax.ShapeDtypeStruct((n, *shape), dtype, sharding=batch) for k, (shape, dtype) in
               batch_tree.items()}
    state = _abstract(jax.eval_shape(programs.init, jax.ShapeDtypeStruct((n, 2), jnp.uint32)), inst)
    active = jax.ShapeDtypeStruct((n,), jnp.bool_, sharding=inst)
    return programs.train_step, (state, stacked, active), dict(mesh.shape), n


def _graph_product() -> str:
    """How the policy in force runs the GCN graph convolutions, as :func:`~infantjax.models.gcn.count_flops` names
    it (the analytical count of the program that is compiled)."""
    from infantjax import backend

    return "dense" if backend.current().graph_product == "dense" else "factored"


def _gcn_spec(size: str):
    from infantjax.models.gcn.spec import GCNSpec

    if size == "small":
        from infantjax.models.gcn.presets import demo_spec

        return demo_spec(temporal_kernel_size=3), "the demo GCN"
    return GCNSpec.table_a4()[0], "Table A.4 #1"


def _stgcn_spec(size: str):
    from infantjax.models.gcn.spec import STGCNSpec

    if size == "small":  # a strided module with a 1x1 residual, as ST-GCN's 5th and 8th (nn.temporal.Pointwise)
        return STGCNSpec(channels=(8, 8, 16), strides=(1, 1, 2)), "a small ST-GCN (8-8-16, stride 2 at the 3rd)"
    return STGCNSpec(), "ST-GCN"


def _cp(devices, batch, instances, size, *, train: bool, stgcn: bool = False) -> Built:
    import jax.numpy as jnp

    from infantjax.models.gcn import count_flops
    from infantjax.train.cp import CPConfig, CPTask

    spec, name = _stgcn_spec(size) if stgcn else _gcn_spec(size)
    window = 30 if size == "small" else 150
    task = CPTask(spec, CPConfig(window=window, batch_size=batch, preprocess=False, window_rotation=None,
                                 progress=False))
    forward = count_flops(spec, "full", num_frames=window, graph_product=_graph_product())
    if train:
        fn, args, mesh, n = _engine(task, devices, instances, {"positions": ((batch, window, 19, 2), jnp.float32),
                                                                "labels": ((batch,), jnp.int32)})
        return Built(fn, args, instances * batch, "windows",
                     f"CP ensemble training step, {name}, {instances} instances x {batch} windows of {window} frames",
                     True, 3.0 * forward * batch * n, mesh)
    import jax
    from jax.sharding import NamedSharding
    from jax.sharding import PartitionSpec as P

    from infantjax import parallel
    from infantjax.train.engine import Programs
    from infantjax.train.predict import stacked_program, task_forward

    # the ensemble's scoring (Ensemble.predict -> StackedPredictor): every instance scores the same windows
    mesh = parallel.instance_mesh(instances, devices=devices)
    n = parallel.padded_size(instances, mesh)
    programs = Programs(task, 10, mesh)
    state = jax.eval_shape(programs.init, jax.ShapeDtypeStruct((n, 2), jnp.uint32))
    variables = _abstract(jax.eval_shape(programs.variables, state), parallel.instance_sharding(mesh))
    x = jax.ShapeDtypeStruct((batch, window, 19, 2), jnp.float32, sharding=NamedSharding(mesh, P(parallel.DATA)))
    fn = stacked_program(task_forward(task), mesh, shared=True)
    return Built(fn, (variables, x), batch, "windows",
                 f"CP ensemble scoring (StackedPredictor), {name}, {instances} instances each scoring the same "
                 f"{batch} windows of {window} frames", True, float(forward) * batch * n, dict(mesh.shape))


#: the NAS search space's candidate compiled by ``nas-trial`` (search seed, trial number of :func:`nas.space.rng_for`)
NAS_TRIAL = (0, 0)


def _nas_trial(devices, batch, instances, size) -> Built:
    """One NAS trial's training step on one chip (the search runs one trial per chip, each its own program): the
    candidate of :data:`NAS_TRIAL` drawn from the paper's search space (``nas.space.uniform_table``), the engine's
    step of one instance at the trials' batch. ``instances`` is not used: a trial is one network."""
    import jax.numpy as jnp

    from infantjax.models.gcn import count_flops
    from infantjax.nas.space import candidate_string, rng_for, sample_table, uniform_table
    from infantjax.train.cp import CPConfig, CPTask

    if size == "small":
        spec, name = _gcn_spec("small")
        window = 30
    else:
        spec = sample_table(uniform_table(), rng_for(*NAS_TRIAL))
        name, window = f"search-space candidate {candidate_string(spec)}", 150
    task = CPTask(spec, CPConfig(window=window, batch_size=batch, preprocess=False, window_rotation=None,
                                 progress=False))
    fn, args, mesh, _ = _engine(task, devices[:1], 1, {"positions": ((batch, window, 19, 2), jnp.float32),
                                                        "labels": ((batch,), jnp.int32)})
    forward = count_flops(spec, "full", num_frames=window, graph_product=_graph_product())
    return Built(fn, args, batch, "windows", f"one NAS trial's training step on one chip, {name}, {batch} windows "
                 f"of {window} frames", False, 3.0 * forward * batch, mesh, devices=1)

def _pose(devices, batch, instances, size, *, variant: str) -> Built:
    import functools

    import jax
    import jax.numpy as jnp
    from jax.sharding import NamedSharding
    from jax.sharding import PartitionSpec as P

    from infantjax import models, parallel
    from infantjax.models.pose.efficientpose import EfficientPoseSpec
    from infantjax.models.pose.inference import efficientpose_heatmaps, fold_efficientpose

    spec = EfficientPoseSpec(variant=variant, graph="deployment", resolution=64 if size == "small" else None)
    mesh = parallel.build_mesh((len(devices),), (parallel.DATA,), devices)
    padded = -(-batch // mesh.size) * mesh.size  # every device an equal share (PosePredictor's rule)
    variables = jax.eval_shape(lambda k: models.init(spec, k), jax.random.PRNGKey(0))
    folded = _abstract(jax.eval_shape(functools.partial(fold_efficientpose, spec), variables),
                       NamedSharding(mesh, P()))
    r = spec.resolution
    x = jax.ShapeDtypeStruct((padded, r, r, 3), jnp.float32, sharding=NamedSharding(mesh, P(parallel.DATA)))
    fn = jax.jit(functools.partial(efficientpose_heatmaps, spec=spec),
                 out_shardings=NamedSharding(mesh, P(parallel.DATA)))
    return Built(fn, (folded, x), batch, "images",
                 f"EfficientPose {variant.upper()} inference at {r}x{r}, batch {batch} (padded to {padded}) "
                 f"data-parallel", False, None, dict(mesh.shape))


def _paper_batch(task: str, batch: int):
    """A family's training task at the papers' size and one instance's batch of it: (task, name -> (shape, dtype),
    items per instance, their unit, a line). The networks and inputs of the family benchmarks (benchmarks/sma.py,
    passmore.py, mam.py, depth.py)."""
    import numpy as np

    from infantjax.models import count_parameters

    f32, i32 = np.float32, np.int32
    if task == "sma.SMATask":  # seed 000, Table 1: 30-s windows of 900 x 4 limbs x 3 axes, 400 a step
        from infantjax.models.sma import SMASpec
        from infantjax.train.sma import SMAConfig, SMATask

        spec = SMASpec()
        leaves = {"x": ((batch, spec.window, 4, 3), f32), "y": ((batch,), f32)}
        return (SMATask(spec, SMAConfig(batch_size=batch, progress=False)), leaves, batch, "windows",
                f"the SMA CNN's training step (Table 1, {count_parameters(spec):,} parameters), {batch} windows of "
                f"{spec.window} samples")
    if task == "passmore.PassmoreTask":  # seed 003: videos of 46 curves x clip samples, 8 a step
        from infantjax.models.passmore import PassmoreSpec
        from infantjax.train.passmore import PassmoreConfig, PassmoreTask

        t = PassmoreTask(PassmoreSpec(), PassmoreConfig(num_curves=1000, batch_size=batch, progress=False))
        c, bank = t.config, np.asarray(t.bank)
        leaves = {"x": ((batch, c.train_clips, 46, c.clip_length), f32), "label": ((batch,), i32),
                  "magnitude": ((batch, *bank.shape[1:]), bank.dtype),
                  "time": ((batch, c.train_clips, *bank.shape[1:]), bank.dtype)}
        return (t, leaves, batch, "clips", f"the smartphone model's training step (seed 003), {batch} videos of "
                f"{c.train_clips} clip(s) of {c.clip_length} samples x 46 curves")
    if task == "mam.MamTask":  # seed 001: bags of 16 clips per recording, 2 recordings and 32 Ref clips a step
        from infantjax.models.mam import MamSpec
        from infantjax.train.mam import MamConfig, MamTask

        spec = MamSpec()
        c = MamConfig(batch_size=batch, progress=False)
        L, F, S, R = spec.clip_length, spec.num_features, c.bag_clips, c.ref_batch
        leaves = {"bag_x": ((batch, S, L, F), f32), "bag_mask": ((batch, S), f32), "bag_y": ((batch,), f32),
                  "bag_info": ((batch, 4), f32), "ref_x": ((R, L, F), f32), "ref_y": ((R,), i32)}
        return (MamTask(spec, c), leaves, batch, "recordings", f"MAM's training step (seed 001), {batch} recordings "
                f"x {S} clips of {L} frames and {R} Ref clips")
    if task in ("depth.DepthTask", "depth.DepthTask:full"):  # seed 004, Table I: 3 frames of 96 x 128, 16 a step
        from infantjax.models.depth.regression import RegressionSpec
        from infantjax.train.depth import DepthConfig, DepthTask

        kind = "full" if task.endswith(":full") else "asymmetric"
        shape = (3, 96, 128, 21)
        t = DepthTask(RegressionSpec(kind).build(), DepthConfig(batch_size=batch, progress=False), shape)
        leaves = {"inputs": ((batch, *shape), f32), "targets": ((batch, *shape[:-1], 20), f32)}
        return (t, leaves, batch, "clips", f"the {kind} depth regression step (Table I widths), {batch} clips of "
                f"3 x 96 x 128")
    raise ConfigError(f"no paper size for {task}")


def _task_step(devices, batch, instances, size, *, task: str) -> Built:
    """The engine's training step of a family's task, its instances stacked over the mesh's ``instance`` axis: at
    ``size="paper"`` the papers' network and batch (:func:`_paper_batch`), at ``"small"`` its contract example
    (``Task.example()``: a small network and input)."""
    import importlib

    import jax
    import numpy as np

    if size == "paper":
        task_obj, leaves, items, unit, line = _paper_batch(task, batch)
        fn, args, mesh, _ = _engine(task_obj, devices, instances, leaves)
        return Built(fn, args, instances * items, unit, f"{line}; {instances} instances", True, None, mesh)
    module, name = task.split(":")[0].rsplit(".", 1)
    task_cls = getattr(importlib.import_module(f"infantjax.train.{module}"), name)
    example, data = task_cls.example(0)
    if task.endswith(":full"):  # the example's narrow network in the full 3x3x3 form
        from infantjax.models.depth.regression import RegressionSpec

        example = task_cls(RegressionSpec("full", widths=(4, 4, 4, 4), head_width=4).build(), example.config,
                           example.input_shape)
    first = example.epoch_batches(data[0], 0, np.random.default_rng([0, 0]))[0]
    leaves = {f"leaf{i}": (np.shape(a), np.asarray(a).dtype) for i, a in enumerate(jax.tree_util.tree_leaves(first))}
    treedef = jax.tree_util.tree_structure(first)

    fn, args, mesh, n = _engine(example, devices, instances, leaves)
    state, stacked, active = args
    stacked = jax.tree_util.tree_unflatten(treedef, [stacked[f"leaf{i}"] for i in range(len(leaves))])
    items = int(np.shape(jax.tree_util.tree_leaves(first)[0])[0])
    return Built(fn, (state, stacked, active), instances * items, "examples",
                 f"{name} training step (its contract example), {instances} instances x {items} examples", True,
                 None, mesh)


#: program name -> (builder(devices, batch, instances, size), default batch, one line)
PROGRAMS: dict[str, tuple[Callable[..., Built], int, str]] = {
    "cp-train": (lambda d, b, i, s: _cp(d, b, i, s, train=True), 32, "the CP ensemble's training step (engine)"),
    "stgcn-train": (lambda d, b, i, s: _cp(d, b, i, s, train=True, stgcn=True), 32,
                    "ST-GCN (the baseline) trained as a CP ensemble (engine)"),
    "cp-score": (lambda d, b, i, s: _cp(d, b, i, s, train=False), 256,
                 "the CP ensemble's scoring (StackedPredictor, windows shared by every instance)"),
    "pose-rt": (lambda d, b, i, s: _pose(d, b, i, s, variant="rt"), 16, "EfficientPose RT inference"),
    "pose-i": (lambda d, b, i, s: _pose(d, b, i, s, variant="i"), 16, "EfficientPose I inference"),
    "nas-trial": (_nas_trial, 32, "one NAS trial's training step on one chip (a search-space candidate)"),
    "depth-train": (lambda d, b, i, s: _task_step(d, b, i, s, task="depth.DepthTask"), 16,
                    "the asymmetric depth regression step (seed 004, Table I; 16 clips)"),
    "depth-full-train": (lambda d, b, i, s: _task_step(d, b, i, s, task="depth.DepthTask:full"), 16,
                         "the full 3x3x3 depth regression step (seed 004's comparison; 16 clips)"),
    "smartphone-train": (lambda d, b, i, s: _task_step(d, b, i, s, task="passmore.PassmoreTask"), 8,
                         "the smartphone model's stacked splits' step (seed 003; 8 videos)"),
    "sma-train": (lambda d, b, i, s: _task_step(d, b, i, s, task="sma.SMATask"), 400,
                  "the SMA CNN's stacked folds' step (seed 000, Table 1; 400 windows)"),
    "mam-train": (lambda d, b, i, s: _task_step(d, b, i, s, task="mam.MamTask"), 2,
                  "MAM's stacked folds' step (seed 001; 2 recordings)"),
}

#: programs that run their task's contract example at ``size="small"`` (its own batch: no ``batch`` there)
_EXAMPLE_PROGRAMS = ("depth-train", "depth-full-train", "smartphone-train", "sma-train", "mam-train")


def _xla_cost(compiled) -> tuple[float | None, float | None]:
    """XLA's FLOPs and bytes of a compiled program (per device), or (None, None) where it gives none."""
    try:
        cost = compiled.cost_analysis()
    except Exception:  # noqa: BLE001 - compile-only executables may not implement it
        return None, None
    if isinstance(cost, (list, tuple)):
        cost = cost[0] if cost else None
    if not cost or not cost.get("flops"):
        return None, None
    return float(cost["flops"]), float(cost.get("bytes accessed") or 0.0) or None


def compile_program(target, program: str, *, batch: int | None = None, instances: int | None = None,
                    size: str = "paper", triton_gemm: bool = False) -> CompiledProgram:
    """Compile one of :data:`PROGRAMS` for a named target (:mod:`infantjax.targets`) and read its figures.

    Arguments:
        target: a target name (``"v5e-8"``, ``"h100x8"``, ...) or :class:`~infantjax.targets.Target`.
        program: a name of :data:`PROGRAMS`.
        batch: windows / images per instance and call (default: the program's).
        instances: stacked instances (default: one per device, at most 64).
        size: ``"paper"`` (the papers' networks and inputs) or ``"small"`` (small networks and inputs: tests).
        triton_gemm: on a GPU target, leave XLA:GPU's Triton GEMM fusion on, as it is on a real GPU (by default
            it is turned off here: module docstring). Its fusion pass runs before autotuning, so a program it
            cannot fuse fails (or aborts the process: compile in a subprocess) here as it would on the GPU.

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

    t = targets.target(target)
    if program not in PROGRAMS:
        raise ConfigError(f"unknown program {program!r}; use one of {', '.join(PROGRAMS)}")
    if size not in ("paper", "small"):
        raise ConfigError(f"size must be 'paper' or 'small', got {size!r}")
    build, default_batch, _ = PROGRAMS[program]
    example = size == "small" and program in _EXAMPLE_PROGRAMS
    if example:  # a task's contract example: its own batch
        if batch is not None:
            raise ConfigError(f"{program} at --size small runs its task's example batch; leave out --batch")
        batch = 1
    batch = int(default_batch if batch is None else batch)
    if batch < 1:
        raise ConfigError(f"batch must be at least 1, got {batch}")
    instances = int(instances if instances is not None else min(t.chips, 64))
    if instances < 1:
        raise ConfigError(f"instances must be at least 1, got {instances}")
    devices = targets.devices(t)
    options = {"xla_gpu_enable_triton_gemm": False} if t.platform == "gpu" and not triton_gemm else {}
    # the policy backend.policy("auto") picks on the target (v6e: its own, XLA:TPU for v6e crashed on the tpu forms)
    forms = ("tpu-v6e" if t.name.startswith("v6e") else "tpu") if t.platform == "tpu" else "accelerator"
    with backend.use(forms) as policy:
        built = build(devices, batch, instances, size)
        start = time.perf_counter()
        try:
            lowered = built.fn.lower(*built.args)
            compiled = lowered.compile(compiler_options=options)
        except Exception as err:  # noqa: BLE001 - the compiler's refusal, as one line
            text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            if "RESOURCE_EXHAUSTED" in str(err) or "exceeds" in str(err):
                raise AotError(f"{program} (batch {batch}) does not fit {t.name}: {text[:400]}") from err
            raise AotError(f"the {t.platform.upper()} compiler refused {program} for {t.name}: {text[:400]}") from err
        compile_s = time.perf_counter() - start
        dtype, policy_name = policy.compute_dtype, policy.name
    stats = compiled.memory_analysis()
    memory = {"argument": int(stats.argument_size_in_bytes), "output": int(stats.output_size_in_bytes),
              "temp": int(stats.temp_size_in_bytes), "alias": int(stats.alias_size_in_bytes)}
    memory["peak"] = memory["argument"] + memory["output"] + memory["temp"] - memory["alias"]
    flops, nbytes = _xla_cost(compiled)
    hlo = compiled.as_text()
    source = "XLA cost analysis of the compiled program"
    used = built.devices or len(devices)
    counted = matrix_flops(built.fn, *built.args) / used
    if flops is None:  # compile-only XLA:GPU gives none (and would not count cuDNN convolutions)
        flops, source = counted, ("products and convolutions of the traced program / devices (aot.matrix_flops; "
                                  "XLA:GPU compiled without a device gives no count)")
    if nbytes is None:  # every buffer read or written once: a lower bound
        nbytes = float(memory["argument"] + memory["output"] + memory["temp"])
        source += "; bytes: arguments + outputs + temporaries, each touched once (a lower bound)"
    analytical = built.analytical_flops / used if built.analytical_flops else None
    peak = t.peak
    tflops, peak_name = peak_tflops(peak, dtype)
    if example:
        batch = int(built.items // instances)
    return CompiledProgram(
        target=t.name, program=program, batch=batch, description=built.description, devices=used,
        device_kind=devices[0].device_kind, mesh=built.mesh_shape, compile_s=round(compile_s, 2), memory=memory,
        hbm_bytes=t.hbm_bytes, fits=memory["peak"] <= t.hbm_bytes, flops=flops, flops_source=source,
        analytical_flops=analytical, bytes=nbytes, collectives=collectives(hlo), padding=tile_padding(hlo),
        instance_parallel=built.instance_parallel, items=built.items, unit=built.unit, dtype=dtype, policy=policy_name,
        peak_tflops=tflops, peak_name=peak_name, hbm_tb_s=peak.hbm_tb_s)


def largest_batch(target, program: str, *, instances: int | None = None, size: str = "paper",
                  start: int | None = None, limit: int = 1 << 16) -> tuple[int, CompiledProgram]:
    """The largest batch (a power of two times the start, then bisected) whose program fits the target's HBM.

    Returns:
        (batch, the compiled program at that batch).

    Raises:
        AotError: not even the smallest batch fits.
    """
    if program not in PROGRAMS:
        raise ConfigError(f"unknown program {program!r}; use one of {', '.join(PROGRAMS)}")
    batch = int(start or PROGRAMS[program][1])

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
