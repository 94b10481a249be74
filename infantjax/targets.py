"""Named accelerator targets: abstract TPU slices and GPU hosts to compile for, without the hardware.

JAX compiles a program for devices it does not have: ``jax.experimental.topologies.get_topology_desc`` describes a
TPU slice (with ``libtpu``) or a GPU host (with the CUDA plugin and an XLA GPU target configuration), and
``jax.jit(f).lower(...).compile()`` over a mesh of those abstract devices runs the real XLA:TPU or XLA:GPU compiler
(:mod:`infantjax.aot` compiles the library's programs so). The wheels are the optional extra ``aot``
(``pip install "infantjax[aot]"``), never part of the default install; a missing one raises
:class:`~infantjax.errors.AotExtraError` naming it.

Every device's datasheet figures are in one table, :data:`PEAKS` (also read by ``infantjax bench``'s roofline,
:mod:`infantjax.bench.peaks`): matrix peaks, HBM bandwidth and HBM size. Dense figures, no sparsity:

* NVIDIA H100 SXM5 80 GB and H200 141 GB: 989 TFLOP/s bf16, 495 TF32, 67 FP32; 3.35 / 4.8 TB/s (NVIDIA H100 and
  H200 datasheets); H100 PCIe 756 / 378 / 51, 2.0 TB/s; A100 SXM4 312 / 156 / 19.5, 40 GB at 1.555 TB/s, 80 GB at
  2.039 TB/s (NVIDIA A100 datasheet).
* TPU v4 275 TFLOP/s bf16, 32 GiB at 1.2 TB/s; v5e 197, 16 GiB at 0.819 TB/s; v5p 459, 95 GiB at 2.765 TB/s;
  v6e (Trillium) 918, 32 GiB at 1.64 TB/s (Google Cloud TPU system architecture pages), per chip.

The GPU target configurations (:data:`GPU_DEVICES`, written out by :func:`gpu_target_config` in the text format
of XLA's ``GpuTargetConfigProto``) are this project's, from public device facts: SM count, boost clock, L2 size,
shared memory per SM and per block (opt-in), registers, FP32 lanes per SM and compute capability from NVIDIA's
architecture whitepapers (NVIDIA H100 Tensor Core GPU Architecture, 2022; NVIDIA A100 Tensor Core GPU
Architecture, 2020) and the CUDA C++ Programming Guide's table of compute capabilities; memory size and bandwidth
from the datasheets above. H200 is the H100's GH100 die with 141 GB of HBM3e at 4.8 TB/s.

    from infantjax import targets
    t = targets.target("v5e-8")       # Target(platform="tpu", chips=8, peak=..., hbm_bytes=16 GiB)
    devices = targets.devices(t)      # 8 abstract TPU v5e devices (needs the aot extra)
"""

from __future__ import annotations

import dataclasses
import functools
import os

from infantjax.errors import AotError, AotExtraError, ConfigError

__all__ = ["GPU_DEVICES", "PEAKS", "TARGETS", "DevicePeak", "GpuDevice", "Target", "devices", "gpu_target_config",
           "lookup", "target"]

GIB = 1 << 30


@dataclasses.dataclass(frozen=True)
class DevicePeak:
    """One device's datasheet figures.

    Attributes:
        name: the device as the table names it.
        bf16_tflops: dense bfloat16 (and float16) matrix peak, TFLOP/s.
        tf32_tflops: dense TF32 matrix peak (None: the device has none).
        fp32_tflops: float32 peak without TF32 (None: none of its own).
        hbm_tb_s: memory bandwidth, TB/s.
        hbm_bytes: memory size per device (a GPU, a TPU chip), bytes (None: not in the table).
    """

    name: str
    bf16_tflops: float
    tf32_tflops: float | None
    fp32_tflops: float | None
    hbm_tb_s: float
    hbm_bytes: int | None = None


#: (substring of ``jax.Device.device_kind``, lower case; figures), most specific first.
PEAKS: tuple[tuple[str, DevicePeak], ...] = (
    ("h200", DevicePeak("NVIDIA H200", 989.0, 495.0, 67.0, 4.8, 141 * 10**9)),
    ("h100 pcie", DevicePeak("NVIDIA H100 PCIe", 756.0, 378.0, 51.0, 2.0, 80 * GIB)),
    ("h100", DevicePeak("NVIDIA H100 SXM", 989.0, 495.0, 67.0, 3.35, 80 * GIB)),
    ("a100-sxm4-40gb", DevicePeak("NVIDIA A100 40GB", 312.0, 156.0, 19.5, 1.555, 40 * GIB)),
    ("a100-pcie-40gb", DevicePeak("NVIDIA A100 40GB", 312.0, 156.0, 19.5, 1.555, 40 * GIB)),
    ("a100", DevicePeak("NVIDIA A100 80GB", 312.0, 156.0, 19.5, 2.039, 80 * GIB)),
    ("tpu v6 lite", DevicePeak("TPU v6e", 918.0, None, None, 1.64, 32 * GIB)),
    ("tpu v5 lite", DevicePeak("TPU v5e", 197.0, None, None, 0.819, 16 * GIB)),
    ("tpu v5e", DevicePeak("TPU v5e", 197.0, None, None, 0.819, 16 * GIB)),
    ("tpu v5p", DevicePeak("TPU v5p", 459.0, None, None, 2.765, 95 * GIB)),
    ("tpu v5", DevicePeak("TPU v5p", 459.0, None, None, 2.765, 95 * GIB)),
    ("tpu v4", DevicePeak("TPU v4", 275.0, None, None, 1.2, 32 * GIB)),
)


def lookup(device_kind: str | None) -> DevicePeak | None:
    """The figures of a device by its ``device_kind`` (e.g. ``"NVIDIA H100 80GB HBM3"``, ``"TPU v5 lite"``); None
    for a CPU or a device the table does not know."""
    kind = (device_kind or "").lower()
    for key, peak in PEAKS:
        if key in kind:
            return peak
    return None


@dataclasses.dataclass(frozen=True)
class GpuDevice:
    """The public facts of one GPU kind that XLA:GPU's cost model and scheduler read (module docstring: sources).

    Attributes:
        description: the device name as the CUDA driver reports it (also the ``device_kind`` of the devices).
        compute_capability: (major, minor).
        sm_count: streaming multiprocessors.
        fp32_lanes_per_sm: FP32 units per SM.
        clock_ghz: boost clock.
        l2_bytes: L2 cache.
        shared_per_sm, shared_per_block_optin: shared memory per SM and the most one block may opt in to.
        memory_bytes: device memory; bandwidth_bytes_s: its bandwidth.
    """

    description: str
    compute_capability: tuple[int, int]
    sm_count: int
    fp32_lanes_per_sm: int
    clock_ghz: float
    l2_bytes: int
    shared_per_sm: int
    shared_per_block_optin: int
    memory_bytes: int
    bandwidth_bytes_s: float


KIB, MIB = 1 << 10, 1 << 20

#: The GPU kinds of the named targets (the project's own figures; sources in the module docstring).
GPU_DEVICES: dict[str, GpuDevice] = {
    "h100": GpuDevice("NVIDIA H100 80GB HBM3", (9, 0), 132, 128, 1.98, 50 * MIB, 228 * KIB, 227 * KIB, 80 * GIB,
                      3.35e12),
    "h200": GpuDevice("NVIDIA H200", (9, 0), 132, 128, 1.98, 50 * MIB, 228 * KIB, 227 * KIB, 141 * 10**9, 4.8e12),
    "a100": GpuDevice("NVIDIA A100-SXM4-80GB", (8, 0), 108, 64, 1.41, 40 * MIB, 164 * KIB, 163 * KIB, 80 * GIB,
                      2.039e12),
}


def gpu_target_config(gpu: GpuDevice) -> str:
    """XLA's ``GpuTargetConfigProto`` (text format) for ``gpu``: the limits every CUDA device of compute capability
    8.x/9.x shares (1024 threads and 64 K registers per block, 2048 threads and 64 K registers per SM, 48 KiB of
    static shared memory per block, warps of 32; the CUDA C++ Programming Guide), the kind's own facts, and the
    CUDA 12.8 / cuDNN 9.8 versions the ``jax-cuda12`` wheels of JAX 0.10 are built against."""
    major, minor = gpu.compute_capability
    return f"""gpu_device_info {{
  threads_per_block_limit: 1024
  threads_per_warp: 32
  shared_memory_per_block: {48 * KIB}
  shared_memory_per_core: {gpu.shared_per_sm}
  threads_per_core_limit: 2048
  core_count: {gpu.sm_count}
  fpus_per_core: {gpu.fp32_lanes_per_sm}
  block_dim_limit_x: 2147483647
  block_dim_limit_y: 65535
  block_dim_limit_z: 65535
  memory_bandwidth: {int(gpu.bandwidth_bytes_s)}
  l2_cache_size: {gpu.l2_bytes}
  clock_rate_ghz: {gpu.clock_ghz}
  device_memory_size: {gpu.memory_bytes}
  shared_memory_per_block_optin: {gpu.shared_per_block_optin}
  cuda_compute_capability {{ major: {major} minor: {minor} }}
  registers_per_core_limit: 65536
  registers_per_block_limit: 65536
}}
platform_name: "CUDA"
dnn_version_info {{ major: 9 minor: 8 patch: 0 }}
runtime_version {{ major: 12 minor: 8 patch: 0 }}
device_description_str: "{gpu.description}"
"""


@dataclasses.dataclass(frozen=True)
class Target:
    """A named slice or host to compile for.

    Attributes:
        name: e.g. ``"v5e-8"``, ``"h100x8"``.
        platform: ``"tpu"`` or ``"gpu"``.
        chips: devices of the mesh (TPU chips, GPUs).
        kind: the device's key in :data:`PEAKS` (and :data:`GPU_DEVICES` for a GPU).
        topology: the TPU topology name (``"v5e:2x4"``) or the GPU ``slices x hosts x gpus`` string.
        chips_per_host_bounds: a TPU host's chip bounds where libtpu needs them (v4), else None.
        chip_config_name: ``"megacore"`` for TPU v4 (one device per chip, its two cores fused), else None.
        description: a line for the tables.
    """

    name: str
    platform: str
    chips: int
    kind: str
    topology: str
    chips_per_host_bounds: tuple[int, int, int] | None = None
    chip_config_name: str | None = None
    description: str = ""

    @property
    def peak(self) -> DevicePeak:
        """The device's datasheet figures (:data:`PEAKS`)."""
        return lookup(self.kind)

    @property
    def hbm_bytes(self) -> int:
        """Memory per device, bytes."""
        return self.peak.hbm_bytes


#: The named targets. A TPU name counts chips as Cloud TPU names them (v5p-128: 128 TensorCores = 64 chips).
TARGETS: dict[str, Target] = {t.name: t for t in (
    Target("v4-8", "tpu", 4, "tpu v4", "v4:2x2x1", (2, 2, 1), "megacore", "TPU v4-8: 4 chips (megacore), one host"),
    Target("v5e-8", "tpu", 8, "tpu v5 lite", "v5e:2x4", description="TPU v5e-8: 8 chips, one host"),
    Target("v5e-256", "tpu", 256, "tpu v5 lite", "v5e:16x16", description="TPU v5e-256: a 16x16 pod, 64 hosts"),
    Target("v5p-128", "tpu", 64, "tpu v5p", "v5p:4x4x4", description="TPU v5p-128: 64 chips (4x4x4), 16 hosts"),
    Target("v6e-16", "tpu", 16, "tpu v6 lite", "v6e:4x4", description="TPU v6e-16: 16 chips (4x4), 2 hosts"),
    Target("h100x1", "gpu", 1, "h100", "1x1x1", description="1 x NVIDIA H100 SXM 80 GB"),
    Target("h100x8", "gpu", 8, "h100", "1x1x8", description="8 x NVIDIA H100 SXM 80 GB, one host (NVLink)"),
    Target("h200x8", "gpu", 8, "h200", "1x1x8", description="8 x NVIDIA H200 141 GB, one host (NVLink)"),
    Target("a100x8", "gpu", 8, "a100", "1x1x8", description="8 x NVIDIA A100 SXM 80 GB, one host (NVLink)"),
)}


def target(name: str | Target) -> Target:
    """The target called ``name`` (a :class:`Target` is returned as it is).

    Raises:
        ConfigError: an unknown name (the message lists the known ones).
    """
    if isinstance(name, Target):
        return name
    if name not in TARGETS:
        raise ConfigError(f"unknown compile target {name!r}; use one of {', '.join(TARGETS)}")
    return TARGETS[name]


def _need(module: str, what: str) -> None:
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise AotExtraError(f"compiling for {what} needs the {module} wheel at the installed jax version, which is "
                            "not installed; install the extra: pip install \"infantjax[aot]\"")


def devices(t: str | Target) -> list:
    """The abstract devices of a target, in the topology's order (cached per target).

    On a TPU target this starts libtpu's compiler only (no device, no network); ``TPU_WORKER_HOSTNAMES`` and
    ``TPU_ACCELERATOR_TYPE`` are set if unset, so that it does not look for a TPU VM's metadata. A GPU target needs
    the CUDA plugin registered, which JAX does on a machine without a GPU only when it skips its CUDA checks:
    :mod:`infantjax.aot` and ``infantjax compile`` set ``JAX_SKIP_CUDA_CONSTRAINTS_CHECK=1`` before JAX starts.

    Raises:
        AotExtraError: the target's wheel (libtpu, jax-cuda12-plugin) is not installed.
        AotError: JAX started without the CUDA plugin (set ``JAX_SKIP_CUDA_CONSTRAINTS_CHECK=1`` before it starts).
    """
    return list(_devices(target(t)))


@functools.lru_cache(maxsize=None)
def _devices(t: Target) -> tuple:
    from jax.experimental import topologies

    if t.platform == "tpu":
        _need("libtpu", f"the TPU target {t.name}")
        os.environ.setdefault("TPU_WORKER_HOSTNAMES", "localhost")
        os.environ.setdefault("TPU_ACCELERATOR_TYPE", "v5litepod-8")
        os.environ.setdefault("ALLOW_MULTIPLE_LIBTPU_LOAD", "1")  # no TPU is opened: other processes may compile
        kwargs = {}
        if t.chips_per_host_bounds is not None:
            kwargs["chips_per_host_bounds"] = t.chips_per_host_bounds
        if t.chip_config_name is not None:
            kwargs["chip_config_name"] = t.chip_config_name
        try:
            topology = topologies.get_topology_desc(platform="tpu", topology_name=t.topology, **kwargs)
        except Exception as err:  # noqa: BLE001 - libtpu's refusal (a lockfile, a topology it does not know)
            raise AotError(f"the TPU target {t.name}: libtpu refused the topology {t.topology}: "
                           f"{str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__}") from err
    else:
        _need("jax_cuda12_plugin", f"the GPU target {t.name}")
        config = gpu_target_config(GPU_DEVICES[t.kind])
        try:
            topology = topologies.get_topology_desc(t.name, "cuda", target_config=config, topology=t.topology)
        except NotImplementedError as err:
            raise AotError(f"the GPU target {t.name}: JAX started without its CUDA plugin ({err}); set "
                           "JAX_SKIP_CUDA_CONSTRAINTS_CHECK=1 (or JAX_PLATFORMS=cpu) before JAX starts") from err
    found = tuple(topology.devices)
    if len(found) != t.chips:
        raise AotError(f"the target {t.name}: the compiler's topology {t.topology} has {len(found)} devices, "
                       f"the table says {t.chips}")
    return found
