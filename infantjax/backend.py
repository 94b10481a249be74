"""The one backend policy: every choice that depends on the backend is made here, and nowhere else.

XLA:CPU and the accelerators (GPU, TPU) want different formulations of the same computation. Each such choice is
a field of a :class:`Policy`. There are four: ``cpu``, ``accelerator`` (GPUs), ``tpu``, which is the accelerator
policy with the forms XLA:TPU's tiled layouts want, and ``tpu-v6e``:

* ``conv`` — the convolution and product forms of ``infantjax.nn``: ``"cpu"`` runs temporal convolutions as
  im2col products, depthwise convolutions and graph aggregations as shifted sums and explicit matmuls, and low-
  precision products with a float32 result (each measured faster on XLA:CPU, docs/performance.md); ``"plain"`` runs
  XLA's own convolutions and einsums, what accelerators run best;
* ``graph_product`` — the GCN graph convolution (``infantjax.nn.graph.GraphConv``): ``"matmul"`` (CPU) and
  ``"einsum"`` (a v6e TPU) run its 1×1 convolution to K·F channels and then the aggregation over the K partitions
  and V joints; ``"dense"`` (GPUs, other TPUs) runs both as one product with the combined (V·C, V·F) weight
  Σₖ Aₖ ⊗ Wₖ: on a TPU the joints and channels share the 128-lane axis of XLA:TPU's (8, 128) tiles instead of
  padding a channel axis of 10–96 to 128 and relaying the activations out twice around the einsum (compiled for a
  v5e-8: docs/performance.md); on a GPU one GEMM replaces three kernels (the conv, a transpose, the aggregation). It
  computes V times more products than the aggregation saves, which memory- and launch-bound programs have to spare;
* ``graph_order`` — where a factored graph convolution widens (fewer input than output channels: a GCN's first
  layers read 2 channels), ``"narrow first"`` (CPU) aggregates the input over the graph and then runs the 1×1
  convolution (``infantjax.nn.graph.aggregate_first``), so the graph's transposes and products touch the narrow side;
  ``"conv first"`` (accelerators) keeps ST-GCN's order;
* ``stacked_conv``, ``combined_weight`` and ``narrow_reductions`` — GPU forms chosen with the GPU cost model
  (:class:`Policy`; docs/backend.md): stacked instances' temporal convolutions one plain convolution per instance
  rather than one with the instances as feature groups, the dense product's combined weight a sum of outer
  products, and — in a training step of two or more vmapped instances only — a training BatchNorm's statistics, a
  channel attention's pooling and the gradients' sums of biases and channel scales over rows grouped to at least
  512 elements (``infantjax.nn.rows``);
* ``instances`` — how the stacked instances of one device run in a compiled program (a training step of a task
  that asks for it, an ensemble's scoring, :func:`infantjax.infer.predict.predict_stacked`): ``"map"`` one after
  another (``lax.map``; a vmap over weights turns XLA:CPU's convolutions into slower batched ones) or ``"vmap"``;
* ``scoring_windows`` — windows per compiled call of an ensemble's scoring (``Ensemble.window_predictions``; the
  ensemble's ``eval_batch_size`` when it is smaller): 8 on CPU, where a call's activations then stay in the caches and
  one compiled program per stack serves a recording of any length (its last call padded); None (the
  ``eval_batch_size``, up to 256) on accelerators;
* ``scoring_stacks`` — an ensemble's stacks scored at once, each in a thread of its own (up to the host's cores, at
  most 4): on CPU an XLA:CPU call of the narrow GCNs keeps about 1.7 of 2 cores busy, so two stacks side by side
  scored the 70-instance ensemble's 71 windows in 36.5 s instead of 43 s; 1 on accelerators (one device, whose
  memory budget is for one call at a time);
* ``pose_microbatch``, ``pose_depthwise``, ``pose_se_fold`` — the EfficientPose inference graph
  (``infantjax.models.pose.inference``): two-image slices that stay in the CPU's caches, shifted depthwise sums
  and the SE gate folded into the projection on CPU; whole batches and XLA convolutions on accelerators;
* ``data_parallel_inference`` — spread pose inference batches over the local devices (accelerators; CPU
  "devices" share the same cores);
* ``fast_init_compile`` — compile one-off initialisations without XLA's expensive passes (CPU; the options are
  XLA:CPU's); ``fast_dropout_keys`` — rbg dropout keys where threefry compiles slowly (CPU, with its one-after-another
  instances);
* ``bn_inference`` — how a BatchNorm evaluates with its running averages when the network computes in bfloat16 or
  float16: ``"exact"`` normalises in float32 and rounds once (CPU; what the reference computes, to the compute
  dtype's rounding); ``"affine"`` applies the folded per-channel scale γ/√(σ²+ε) and shift β − μ·γ/√(σ²+ε) as one
  multiply-add in the compute dtype (accelerators), which XLA fuses into the preceding product's output: no float32
  copy of the activations is ever written (``infantjax.nn.norm``; docs/performance.md). Float32 networks and
  training are the same under both;
* ``temporal_fold`` — a basic GCN temporal block evaluated in float32 (``infantjax.models.gcn.searchable``): its
  parallel dilated convolutions, their BatchNorms and the 1×1 fusion after them are linear, so they are folded into
  one convolution over the union of their taps (CPU: one product in place of 2–3 convolutions, 2–3 BatchNorm passes,
  a concatenation and a fusion product; docs/performance.md). The same variables; the values to float32 rounding.
  Training and the accelerator forms run the branches as they are;
* ``compute_dtype`` — mixed precision: the dtype networks compute in when their spec's ``dtype`` is ``"auto"``
  (the default of every spec): ``"float32"`` on CPU (where bfloat16 is slower), ``"bfloat16"`` on accelerators.
  Parameters, optimizer state, BatchNorm statistics, softmax, losses and metrics stay float32 whatever it is
  (docs/backend.md, "Mixed precision"). A spec with an explicit ``dtype`` keeps it under every policy.

The memory budget of a compiled call (:func:`memory_fraction`, used by :func:`infantjax.parallel.memory_budget`)
is a share of the device's memory: physical RAM on CPU, the allocator's limit on an accelerator.

The policy in force is, in this order: the innermost :func:`use` block; the ``INFANTJAX_BACKEND_POLICY``
environment variable (``cpu``, ``accelerator``, ``tpu`` or ``auto``); ``auto``, which is the policy of the platform
JAX runs on (:func:`platform`: ``cpu``, ``accelerator`` on a GPU, ``tpu`` on a TPU). So a CPU machine can run the accelerator forms (``INFANTJAX_BACKEND_POLICY=accelerator``,
or ``with backend.use("accelerator"):``) and tests assert that both give the same results. The compute dtype is
switched on its own, in the same order: ``use(..., compute_dtype="float32")``, the ``INFANTJAX_COMPUTE_DTYPE``
environment variable (``float32``, ``bfloat16``, ``float16`` or ``auto``), the policy's.

    from infantjax import backend
    backend.current().instances                        # "map" on CPU, "vmap" on a GPU
    with backend.use("accelerator"):
        ...                                            # traced here: the forms a GPU runs, in bfloat16
    with backend.use("accelerator", compute_dtype="float32"):
        ...                                            # the accelerator forms in float32
    with backend.use("cpu", temporal_fold=False):
        ...                                            # the CPU forms with one form changed (e.g. to compare)

The policy is read when a function is traced. Caches of compiled programs key on :func:`current` (the package's
own do); entering or leaving a :func:`use` block that changes the policy clears JAX's trace caches, so a function
traced under one policy is traced again under the other.

:func:`platform` is the only place in the package that asks JAX for its backend (``tests/test_backend.py`` fails
on any other reader).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import threading
from collections.abc import Iterator

import jax

from infantjax.errors import ConfigError

__all__ = ["COMPUTE_DTYPES", "DTYPE_ENV", "ENV", "PLATFORMS", "POLICIES", "Policy", "auto_policy", "compute_dtype",
           "current", "form", "host_cores", "instances", "memory_fraction", "platform", "policy", "use"]

#: The environment variable that sets the policy for a whole process (``cpu``, ``accelerator``, ``tpu``, ``auto``).
ENV = "INFANTJAX_BACKEND_POLICY"
#: The platforms JAX runs on that the policy knows.
PLATFORMS = ("cpu", "gpu", "tpu")
#: The policy names :func:`use` and the environment variable accept.
POLICIES = ("auto", "cpu", "accelerator", "tpu", "tpu-v6e")
#: The environment variable that sets the compute dtype for a whole process (``float32``, ``bfloat16``,
#: ``float16``, ``auto`` = the policy's).
DTYPE_ENV = "INFANTJAX_COMPUTE_DTYPE"
#: The compute dtypes a policy may name (as ``infantjax.nn.precision.COMPUTE_DTYPES``).
COMPUTE_DTYPES = ("float32", "bfloat16", "float16")


@dataclasses.dataclass(frozen=True)
class Policy:
    """Every backend-dependent form (module docstring).

    Attributes:
        name: ``"cpu"``, ``"accelerator"``, ``"tpu"`` or ``"tpu-v6e"``.
        conv: ``"cpu"`` (the forms XLA:CPU runs fastest) or ``"plain"`` (XLA's convolutions and einsums).
        instances: ``"map"`` or ``"vmap"``: stacked instances on one device, in training (for tasks whose
            ``Task.cpu_instances`` is ``"map"``) and in inference.
        pose_microbatch: EfficientPose inference slices of this many images (None: the whole batch).
        pose_depthwise: ``"shift"`` or ``"conv"`` depthwise convolutions of the pose inference graph.
        pose_se_fold: fold the squeeze-and-excitation gate into the projection matrix.
        data_parallel_inference: spread inference batches over the local devices by default.
        fast_init_compile: compile one-off initialisations with XLA:CPU's cheap options.
        fast_dropout_keys: draw dropout masks from ``rbg`` keys where threefry compiles slowly (XLA:CPU; MAM); they
            differ under ``vmap``, so only where stacked instances run one after another.
        memory_fraction: share of a device's memory one compiled call may use by default.
        compute_dtype: the dtype networks whose spec says ``dtype="auto"`` compute in (mixed precision:
            parameters and optimizer state float32, compute in this dtype, BatchNorm statistics, softmax, losses
            and metrics float32).
        bn_inference: ``"exact"`` or ``"affine"``: a low-precision BatchNorm at inference (module docstring).
        graph_product: ``"matmul"``, ``"einsum"`` or ``"dense"``: the GCN graph convolution (module docstring).
        stacked_conv: ``"groups"`` or ``"per instance"``: a temporal convolution vmapped over per-instance kernels
            (stacked instances: ensemble folds, scoring stacks). ``"groups"`` leaves it to JAX's batching: one
            convolution with the instances as feature groups. ``"per instance"`` (GPUs) runs one plain convolution
            per instance (``infantjax.nn.temporal``): cuDNN's grouped convolutions of a GCN's 10–48 channels a group,
            and the transposes into the instance-interleaved layout around them, took an estimated 35 of the 51 ms
            of seven vmapped Table A.4 #1 folds on an H100 (docs/performance.md).
        combined_weight: ``"einsum"`` or ``"outer"``: how the dense graph product's combined weight is computed
            (``infantjax.nn.graph.combined_weight``; ``"outer"`` on GPUs, where a product contracting 2 partitions
            is a GEMM of its own).
        conv3d: ``"stacked"`` or ``"native one-axis"``: the depth networks' 3D convolutions
            (``infantjax.nn.conv3d``). ``"stacked"``: a 3×3×3 kernel as a 2D convolution over frames stacked along
            the channels, a kernel of one axis (the asymmetric cascade's) as k shifted products (XLA:CPU's fastest).
            ``"native one-axis"`` (GPUs): a kernel of one axis as XLA's 3D convolution (one cuDNN call).
        dense_operand: ``"flat"`` (a Dense layer's (..., C) input reshaped to (M, C) around its product: XLA:CPU's
            fastest form, and the GPUs', where XLA:GPU compiles both the same) or ``"as is"`` (the product on the
            input's own shape: XLA:TPU lays a flat (M, C) operand out with its C channels on the 128 lanes of its
            tiles and relays it out around the product; ``infantjax.nn.dense.FlatDense``).
        graph_order: ``"conv first"`` or ``"narrow first"``: the order of a widening graph convolution's two steps
            (module docstring).
        temporal_fold: evaluate a basic GCN temporal block's parallel convolutions, BatchNorms and fusion as one
            convolution (module docstring).
        scoring_windows: windows per compiled call of an ensemble's scoring at most (None: the ensemble's
            ``eval_batch_size``; module docstring).
        scoring_stacks: stacks of an ensemble scored at once, each in its own thread (module docstring).
        narrow_reductions: ``"as is"``, ``"grouped"`` or ``"stacked training"``: how a training BatchNorm's
            statistics, a channel attention's pooling and the gradients of the biases of convolutions and Dense
            layers and of a channel attention's scale reduce the rows of a narrow channels-last array
            (``infantjax.nn.rows``): ``"grouped"`` views the rows g at a time, (R, C) → (R/g, g·C), so that a GPU's
            column reductions read rows of at least 512 elements instead of C = 10–96 (the same values up to the
            order of the additions); ``"stacked training"`` (GPUs) groups them only in the trace of a training
            step that vmaps two or more instances on one device (``infantjax.nn.rows.stacked_training``), the one
            program an H200 ran faster grouped (docs/performance.md); the TPU policies keep ``"as is"``.
    """

    name: str
    conv: str
    instances: str
    pose_microbatch: int | None
    pose_depthwise: str
    pose_se_fold: bool
    data_parallel_inference: bool
    fast_init_compile: bool
    fast_dropout_keys: bool = False
    memory_fraction: float = 0.25
    compute_dtype: str = "float32"
    bn_inference: str = "exact"
    graph_product: str = "matmul"
    dense_operand: str = "flat"
    graph_order: str = "conv first"
    temporal_fold: bool = False
    scoring_windows: int | None = None
    scoring_stacks: int = 1
    stacked_conv: str = "groups"
    combined_weight: str = "einsum"
    conv3d: str = "stacked"
    narrow_reductions: str = "as is"

    @property
    def accelerator(self) -> bool:
        """True for the accelerator forms (the ``accelerator`` and ``tpu`` policies)."""
        return self.name != "cpu"


_POLICIES = {
    "cpu": Policy("cpu", conv="cpu", instances="map", pose_microbatch=2, pose_depthwise="shift", pose_se_fold=True,
                  data_parallel_inference=False, fast_init_compile=True, fast_dropout_keys=True,
                  graph_order="narrow first", temporal_fold=True, scoring_windows=8,
                  scoring_stacks=4),
    "accelerator": Policy("accelerator", conv="plain", instances="vmap", pose_microbatch=None,
                          pose_depthwise="conv", pose_se_fold=False, data_parallel_inference=True,
                          fast_init_compile=False, compute_dtype="bfloat16", bn_inference="affine",
                          graph_product="dense", stacked_conv="per instance", combined_weight="outer",
                          conv3d="native one-axis", narrow_reductions="stacked training"),
}
# the TPU forms keep XLA's grouped convolutions for stacked instances (their estimates are the TPU's own)
_POLICIES["tpu"] = dataclasses.replace(_POLICIES["accelerator"], name="tpu", graph_product="dense",
                                       dense_operand="as is", stacked_conv="groups", combined_weight="einsum",
                                       conv3d="stacked", narrow_reductions="as is")
# XLA:TPU for v6e crashes compiling the dense graph products of a GCN training step (docs/backend.md)
_POLICIES["tpu-v6e"] = dataclasses.replace(_POLICIES["tpu"], name="tpu-v6e", graph_product="einsum")

_local = threading.local()


def platform() -> str:
    """The platform jitted code runs on now: the platform of ``jax.default_device`` when one is set, else JAX's
    default backend (``"cpu"``, ``"gpu"``, ``"tpu"``; ``"cuda"``/``"rocm"`` are reported as ``"gpu"``)."""
    device = jax.config.jax_default_device
    if device is None:
        name = jax.default_backend()
    else:
        name = device if isinstance(device, str) else device.platform
    return "gpu" if name in ("cuda", "rocm") else name


def _check(name: str, where: str) -> str:
    if name not in POLICIES:
        raise ConfigError(f"{where}: backend policy {name!r} is not one of {POLICIES}; use 'cpu', 'accelerator', "
                          "'tpu', 'tpu-v6e' or 'auto' (the platform's own)")
    return name


@functools.lru_cache(maxsize=1)
def _tpu_kind() -> str:
    return str(jax.devices()[0].device_kind)


def policy(name: str = "auto") -> Policy:
    """The policy called ``name`` (``"auto"``: the policy of :func:`platform`).

    On a v6e TPU ``auto`` is the ``tpu-v6e`` policy, the ``tpu`` forms with the graph convolutions factored: XLA:TPU
    for v6e (libtpu of jax 0.10.2) crashed (SIGSEGV, in its instruction-migration pass) compiling the ``tpu``
    policy's CP training step for a v6e-16, in 6 of 7 compiles, and compiled the ``tpu-v6e`` one every time
    (docs/backend.md). ``use("tpu")`` still gives the ``tpu`` forms there.

    Raises:
        ConfigError: an unknown name.
    """
    _check(name, "backend.policy")
    if name == "auto":
        here = platform()
        name = auto_policy(here, _tpu_kind() if here == "tpu" else None)
    return _POLICIES[name]


def auto_policy(platform_name: str, device_kind: str | None = None) -> str:
    """The policy ``auto`` is on a platform's devices: ``cpu`` on a CPU, ``accelerator`` on a GPU, ``tpu`` on a TPU,
    ``tpu-v6e`` on a v6e TPU (``device_kind`` ``"TPU v6 lite"``; :func:`policy` says why). The one rule: the
    policy of the device this process runs on (:func:`policy`), and of a target compiled for without one
    (:mod:`infantjax.aot`, from the target's platform and device kind).

    Arguments:
        platform_name: ``"cpu"``, ``"gpu"`` (``"cuda"``, ``"rocm"``) or ``"tpu"``.
        device_kind: the devices' ``device_kind`` (or a target's kind, ``"tpu v6 lite"``); read on a TPU only.
    """
    name = {"cpu": "cpu", "tpu": "tpu"}.get(platform_name, "accelerator")
    if name == "tpu" and "v6" in (device_kind or "").lower():
        name = "tpu-v6e"
    return name


def _check_dtype(name: str, where: str) -> str:
    if name not in (*COMPUTE_DTYPES, "auto"):
        raise ConfigError(f"{where}: compute dtype {name!r} is not one of {(*COMPUTE_DTYPES, 'auto')}; use "
                          "'float32', 'bfloat16', 'float16' or 'auto' (the backend policy's)")
    return name


def _requested() -> tuple[str, str, dict]:
    """(policy name, compute dtype name or ``"auto"``, forms replaced) asked for: the innermost block that sets
    each (a form: the innermost block that names it), else the environment, else ``"auto"`` (no form replaced)."""
    stack = getattr(_local, "stack", None) or []
    name = dtype = None
    forms: dict = {}
    for block_name, block_dtype, block_forms in reversed(stack):  # "auto" in a block: the policy's
        name = name or block_name
        dtype = dtype or block_dtype
        forms = {**block_forms, **forms}
    if name is None:
        value = os.environ.get(ENV, "").strip().lower()
        name = _check(value, f"${ENV}") if value else "auto"
    if dtype is None:
        value = os.environ.get(DTYPE_ENV, "").strip().lower()
        dtype = _check_dtype(value, f"${DTYPE_ENV}") if value else "auto"
    return name, dtype, forms


def current() -> Policy:
    """The policy in force (innermost :func:`use` block > ``$INFANTJAX_BACKEND_POLICY`` > the platform's), with
    the compute dtype asked for (innermost block that names one > ``$INFANTJAX_COMPUTE_DTYPE`` > the policy's)."""
    name, dtype, forms = _requested()
    chosen = policy(name)
    if dtype != "auto" and dtype != chosen.compute_dtype:
        chosen = dataclasses.replace(chosen, compute_dtype=dtype)
    if any(getattr(chosen, field) != value for field, value in forms.items()):
        chosen = dataclasses.replace(chosen, **forms)
    return chosen


def compute_dtype() -> str:
    """The compute dtype in force (``Policy.compute_dtype`` of :func:`current`): what a network whose spec says
    ``dtype="auto"`` computes in."""
    return current().compute_dtype


@contextlib.contextmanager
def use(name: str | None = None, *, compute_dtype: str | None = None, **forms) -> Iterator[Policy]:
    """Run a block of code under the policy ``name`` (``"cpu"``, ``"accelerator"``, ``"tpu"``, ``"tpu-v6e"`` or
    ``"auto"``; None keeps the one in force), e.g. the accelerator forms on a CPU, and/or with the compute dtype
    ``compute_dtype`` (``"float32"``, ``"bfloat16"``, ``"float16"``, or ``"auto"``: the policy's), and/or with some
    of its forms replaced (``forms``: :class:`Policy` fields, e.g. ``temporal_fold=False``, to compare two forms in
    one process). Blocks nest; each thread has its own.

    Yields:
        the policy in force inside the block.

    Raises:
        ConfigError: an unknown policy or dtype name, or a form that is not a :class:`Policy` field.
    """
    if name is not None:
        _check(name, "backend.use")
    if compute_dtype is not None:
        _check_dtype(compute_dtype, "backend.use")
    known = {f.name for f in dataclasses.fields(Policy)} - {"name", "compute_dtype"}
    unknown = sorted(set(forms) - known)
    if unknown:
        raise ConfigError(f"backend.use: {unknown} are not forms of the backend policy; use some of {sorted(known)}")
    before = current()
    stack = getattr(_local, "stack", None)
    if stack is None:
        stack = _local.stack = []
    stack.append((name, compute_dtype, dict(forms)))
    new = current()
    if new != before:
        jax.clear_caches()  # traces made under the other policy must not be reused
    try:
        yield new
    finally:
        stack.pop()
        if current() != new:
            jax.clear_caches()


def form(impl: str, *, cpu: str, other: str, what: str = "impl") -> str:
    """The formulation a layer runs for its ``impl`` argument: ``"auto"`` is ``cpu`` under a policy with CPU
    forms (``Policy.conv == "cpu"``) and ``other`` otherwise; an explicit choice is kept.

    Arguments:
        impl: ``"auto"``, ``cpu`` or ``other``.
        cpu, other: the two formulations.
        what: the argument's name, for the error message.

    Returns:
        ``cpu`` or ``other``.

    Raises:
        ConfigError: ``impl`` is none of them.
    """
    if impl == "auto":
        return cpu if current().conv == "cpu" else other
    if impl in (cpu, other):
        return impl
    choices = ("auto", *dict.fromkeys((other, cpu)))
    raise ConfigError(f"{what} must be one of {choices}, got {impl!r}")


def instances(mesh=None, *, mode: str = "auto") -> str:
    """How the stacked instances of one program run: ``"map"`` (one after another inside the program) or
    ``"vmap"`` (all at once).

    Arguments:
        mesh: the program's mesh; when it spreads instances over several devices (its ``instance`` axis is
            longer than 1) each device holds its share already and the instances are vmapped.
        mode: ``"auto"`` (the policy's ``instances``), ``"map"`` or ``"vmap"``.

    Returns:
        ``"map"`` or ``"vmap"``.
    """
    if mode not in ("auto", "map", "vmap"):
        raise ConfigError(f"instances mode must be 'auto', 'map' or 'vmap', got {mode!r}")
    if mode != "auto":
        return mode
    if mesh is not None and mesh.shape.get("instance", 1) != 1:
        return "vmap"
    return current().instances


def memory_fraction() -> float:
    """The share of a device's memory one compiled call may use by default (:attr:`Policy.memory_fraction`)."""
    return current().memory_fraction


def host_cores() -> int:
    """The CPU cores this process may run on (its affinity mask where the OS has one, else every core): how many
    host threads the work that runs beside the device (image crops, scoring stacks) is split over."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1
