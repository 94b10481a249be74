"""The kernel reader of compiled GPU programs (``infantjax.bench.kernels``) and the GPU cost model's arithmetic
(``infantjax.aot.costmodel``). No timings: the reader is checked on HLO text written as XLA:GPU prints it and on
programs XLA:CPU compiles here, the model on listings whose times follow by hand."""

from __future__ import annotations

import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from infantjax.aot import costmodel
from infantjax.bench.kernels import KINDS, kernels, summary
from infantjax.errors import ConfigError

# An optimized module as XLA:GPU prints it (the instructions the reader keys on, other attributes trimmed): a
# fusion reading a slice of its operand, a cuBLASLt GEMM with its scratch space, a grouped cuDNN convolution
# (7 groups of 40 channels: 7 instances vmapped), its filter gradient, a layout-changing copy, a loop of 3
# trips and a bitcast (no kernel).
HLO = """\
HloModule jit_step, entry_computation_layout={(bf16[4800,40]{1,0})->bf16[4800,80]{1,0}}

%fused_slice (param_0.1: bf16[4800,40]) -> bf16[2400,40] {
  %param_0.1 = bf16[4800,40]{1,0} parameter(0)
  ROOT %slice.1 = bf16[2400,40]{1,0} slice(%param_0.1), slice={[0:2400], [0:40]}
}

%fused_add (param_0.2: bf16[2400,40]) -> bf16[2400,40] {
  %param_0.2 = bf16[2400,40]{1,0} parameter(0)
  ROOT %add.1 = bf16[2400,40]{1,0} add(%param_0.2, %param_0.2)
}

%body (p: (s32[], bf16[2400,40])) -> (s32[], bf16[2400,40]) {
  %p = (s32[], bf16[2400,40]{1,0}) parameter(0)
  %gte.0 = s32[] get-tuple-element(%p), index=0
  %gte.1 = bf16[2400,40]{1,0} get-tuple-element(%p), index=1
  %loop_add_fusion = bf16[2400,40]{1,0} fusion(%gte.1), kind=kLoop, calls=%fused_add
  ROOT %t = (s32[], bf16[2400,40]{1,0}) tuple(%gte.0, %loop_add_fusion)
}

%cond (c: (s32[], bf16[2400,40])) -> pred[] {
  %c = (s32[], bf16[2400,40]{1,0}) parameter(0)
  ROOT %k = pred[] constant(true)
}

ENTRY %main.1 (x.1: bf16[4800,40], w.1: bf16[40,80], y.1: bf16[32,150,19,280], f.1: bf16[9,1,40,280]) -> bf16[4800,80] {
  %x.1 = bf16[4800,40]{1,0} parameter(0)
  %w.1 = bf16[40,80]{1,0} parameter(1)
  %y.1 = bf16[32,150,19,280]{3,2,1,0} parameter(2)
  %f.1 = bf16[9,1,40,280]{3,2,1,0} parameter(3)
  %loop_slice_fusion = bf16[2400,40]{1,0} fusion(%x.1), kind=kLoop, calls=%fused_slice, metadata={op_name="jit(step)/slice"}
  %cublas-lt-matmul.1 = (bf16[4800,80]{1,0}, s8[4194304]{0}) custom-call(%x.1, %w.1), custom_call_target="__cublas$lt$matmul", metadata={op_name="jit(step)/dot_general"}, backend_config={"operation_queue_id":"0","gemm_backend_config":{"dot_dimension_numbers":{"lhs_contracting_dimensions":["1"],"rhs_contracting_dimensions":["0"],"lhs_batch_dimensions":[],"rhs_batch_dimensions":[]},"epilogue":"DEFAULT"}}
  %gte.2 = bf16[4800,80]{1,0} get-tuple-element(%cublas-lt-matmul.1), index=0
  %cudnn-conv.1 = (bf16[32,150,19,280]{3,2,1,0}, u8[0]{0}) custom-call(%y.1, %f.1), window={size=9x1 pad=4_4x0_0}, dim_labels=b01f_01io->b01f, feature_group_count=7, custom_call_target="__cudnn$convForward"
  %cudnn-conv-bw-filter.1 = (bf16[9,1,40,280]{3,2,1,0}, u8[0]{0}) custom-call(%y.1, %y.1), window={size=9x1 pad=4_4x0_0}, dim_labels=b01f_01io->b01f, feature_group_count=7, custom_call_target="__cudnn$convBackwardFilter"
  %copy.1 = bf16[4800,80]{0,1} copy(%gte.2)
  %bitcast.1 = bf16[80,4800]{1,0} bitcast(%copy.1)
  %init = (s32[], bf16[2400,40]{1,0}) tuple(%gte.0.0, %loop_slice_fusion)
  %while.1 = (s32[], bf16[2400,40]{1,0}) while(%init), condition=%cond, body=%body, backend_config={"known_trip_count":{"n":"3"}}
  ROOT %out = bf16[4800,80]{1,0} copy(%gte.2)
}
"""


def test_kernels_of_a_gpu_module():
    listing = kernels(HLO)
    by_name = {k["name"]: k for k in listing}
    assert set(by_name) == {"loop_slice_fusion", "cublas-lt-matmul.1", "cudnn-conv.1", "cudnn-conv-bw-filter.1",
                            "copy.1", "loop_add_fusion", "out"}
    assert all(k["kind"] in KINDS for k in listing)
    # a fused slice reads only its window: half of x, then writes it
    assert by_name["loop_slice_fusion"]["bytes"] == 2 * (2400 * 40 * 2)
    gemm = by_name["cublas-lt-matmul.1"]
    assert gemm["kind"] == "gemm" and gemm["flops"] == 2 * 4800 * 80 * 40
    assert gemm["bytes"] == 2 * (4800 * 40 + 40 * 80 + 4800 * 80)  # the scratch space is not traffic
    assert gemm["shape"] == "bf16[4800,80]"
    conv = by_name["cudnn-conv.1"]
    assert conv["kind"] == "conv-grouped" and conv["groups"] == 7 and conv["group_channels"] == 40
    assert conv["group_features"] == 40 and costmodel.kernel_class(conv) == "conv-grouped-narrow"
    assert conv["flops"] == 2 * 32 * 150 * 19 * 280 * 9 * 40
    # the filter gradient counts the forward's products: output gradient elements x window x channels a group
    assert by_name["cudnn-conv-bw-filter.1"]["flops"] == conv["flops"]
    assert by_name["copy.1"]["kind"] == "transpose"  # {1,0} -> {0,1}: a layout change
    assert by_name["out"]["kind"] == "copy"
    assert by_name["loop_add_fusion"]["count"] == 3  # the loop's trips
    s = summary(listing)
    assert s["count"] == 9
    assert s["by_kind"]["elementwise"]["count"] == 4
    assert s["conv_groups"] == {7: 2}
    assert s["flops"] == pytest.approx(gemm["flops"] + 2 * conv["flops"])
    json.dumps(listing)  # the record's detail


def test_kernels_depthwise_and_empty():
    text = HLO.replace("feature_group_count=7", "feature_group_count=280").replace("bf16[9,1,40,280]",
                                                                                   "bf16[9,1,1,280]")
    conv = next(k for k in kernels(text) if k["name"] == "cudnn-conv.1")
    assert conv["kind"] == "conv-depthwise" and conv["group_channels"] == 1
    assert kernels("HloModule nothing\n") == []
    assert summary([])["count"] == 0


def test_kernels_of_a_program_compiled_here():
    """A product and an elementwise tail compiled by XLA:CPU: the reader finds the product and its FLOPs."""
    a = jnp.ones((64, 32), jnp.float32)
    b = jnp.ones((32, 48), jnp.float32)
    text = jax.jit(lambda a, b: jnp.tanh(a @ b) * 2.0).lower(a, b).compile().as_text()
    listing = kernels(text)
    assert listing
    assert sum(k["flops"] * k["count"] for k in listing) == 2 * 64 * 48 * 32
    assert summary(listing)["bytes"] >= 4 * (64 * 32 + 32 * 48 + 64 * 48)


def _model(**kw):
    return costmodel.CostModel(kw.get("launch", 2e-6), kw.get("call", 0.0), 10.0,
                               {c: kw.get("bw", 0.5) for c in costmodel.BANDWIDTH},
                               {c: kw.get("comp", 0.25) for c in costmodel.MATRIX})


def test_cost_model_arithmetic():
    model = _model()
    memory_kernel = {"kind": "elementwise", "bytes": 3.35e9, "flops": 0.0, "shape": "bf16[1]", "count": 2}
    compute_kernel = {"kind": "gemm", "bytes": 1e6, "flops": 989e12 * 1e-3, "shape": "bf16[8,8]", "count": 1}
    f32_kernel = {"kind": "conv", "bytes": 0.0, "flops": 495e12 * 1e-3, "shape": "f32[8,8]", "count": 1}
    p = model.predict([memory_kernel, compute_kernel, f32_kernel])
    # 3.35 GB at half of 3.35 TB/s: 2 ms a launch, twice; 1 ms of bf16 peak at a quarter: 4 ms; TF32 the same
    assert p.launches == 4
    assert p.memory_s == pytest.approx(4e-3)
    assert p.compute_s == pytest.approx(8e-3)
    assert p.launch_s == pytest.approx(8e-6)
    assert p.seconds == pytest.approx(12e-3 + 8e-6)
    assert p.roofline_s == pytest.approx(2e-3 + 1e-3 + 1e-3)
    assert p.by_class["elementwise"]["count"] == 2
    assert "launches" in p.line()
    moved = model.predict([memory_kernel], host_bytes=1e9)
    assert moved.transfer_s == pytest.approx(0.1) and moved.seconds == pytest.approx(0.1 + 4e-3 + 4e-6)
    faster = model.on(6.7, 1978.0, 990.0, "twice an H100")
    assert faster.predict([memory_kernel, compute_kernel]).seconds == pytest.approx((4e-3 + 4e-3) / 2 + 6e-6)


def test_cost_model_checks():
    with pytest.raises(ConfigError, match="fractions must lie"):
        costmodel.CostModel(1e-6, 0.0, 10.0, {c: 1.5 for c in costmodel.BANDWIDTH}, {c: 0.5 for c in costmodel.MATRIX})
    with pytest.raises(ConfigError, match="missing"):
        costmodel.CostModel(1e-6, 0.0, 10.0, {"gemm": 0.5}, {c: 0.5 for c in costmodel.MATRIX})
    with pytest.raises(ConfigError, match="no measured rows"):
        costmodel.calibrate([])


def test_cost_model_fit_recovers_its_parameters():
    """Programs timed by a known model: the fit finds its launch cost and fractions again."""
    truth = costmodel.CostModel(4e-6, 1e-4, 12.0, {"gemm": 0.7, "conv": 0.5, "conv-grouped": 0.3,
                                                  "conv-depthwise": 0.2,
                                                  "elementwise": 0.8, "reduce": 0.4, "reduce-narrow": 0.1,
                                                  "transpose": 0.6},
                                {"gemm": 0.5, "conv": 0.4, "conv-grouped": 0.05, "conv-grouped-narrow": 0.02,
                                 "conv-depthwise": 0.1})
    rng = np.random.default_rng(0)
    rows = []
    for i in range(40):
        listing = []
        for kind, features in (("gemm", None), ("conv", None), ("conv-grouped", 128), ("conv-grouped", 40),
                               ("conv-depthwise", 1), ("elementwise", None), ("reduce", None),
                               ("reduce", "narrow"), ("transpose", None)):
            n = int(rng.integers(1, 200))
            nbytes = float(10 ** rng.uniform(3, 8))
            flops = float(10 ** rng.uniform(6, 12)) if kind.startswith(("gemm", "conv")) else 0.0
            entry = {"kind": kind, "bytes": nbytes, "flops": flops, "shape": "bf16[1]", "count": n,
                     "group_features": features}
            if kind == "reduce":  # a BatchNorm's statistics: rows of 40 channels narrow, 256 not
                entry.update(group_features=None, reduce_width=40 if features == "narrow" else 256)
            listing.append(entry)
        host = float(10 ** rng.uniform(4, 8))
        rows.append((listing, truth.predict(listing, host).seconds, host))
    for n in (1, 3, 10):  # calls of a few small kernels: the call's own cost shows
        listing = [{"kind": "elementwise", "bytes": 1e4, "flops": 0.0, "shape": "f32[1]", "count": n}]
        rows.append((listing, truth.predict(listing).seconds, 0.0))
    model, ratios = costmodel.calibrate(rows, prior_weight=1e-6)
    assert max(abs(r - 1) for r in ratios) < 0.02
    assert model.launch_s == pytest.approx(truth.launch_s, rel=0.05)
    assert model.call_s == pytest.approx(truth.call_s, rel=0.2)
    assert model.host_gb_s == pytest.approx(truth.host_gb_s, rel=0.1)
    for cls in ("gemm", "elementwise", "reduce", "reduce-narrow", "transpose"):
        assert model.bandwidth[cls] == pytest.approx(truth.bandwidth[cls], rel=0.1)
    assert model.compute["conv-grouped"] == pytest.approx(0.05, rel=0.1)
    assert model.compute["conv-grouped-narrow"] == pytest.approx(0.02, rel=0.1)


def test_a_reduction_over_narrow_rows_is_its_own_class():
    """A column reduction (it keeps the minor dimension) whose rows are fewer than 64 elements (under one 128-byte
    transaction: a GCN BatchNorm's 40 channels) is ``reduce-narrow``, read from the reduce inside the fusion and
    after its reshapes; a row reduction, a wide one and a kernel that reduces nothing stay ``reduce``."""
    narrow, grouped, rows, concat = kernels(_reduce_hlo())[:4]
    assert (narrow["reduce_width"], grouped["reduce_width"], rows["reduce_width"], concat["reduce_width"]) == (
        40, 600, 0, None)
    assert [costmodel.kernel_class(k) for k in (narrow, grouped, rows, concat)] == [
        "reduce-narrow", "reduce", "reduce", "reduce"]
    assert costmodel.kernel_class({"kind": "triton", "reduce_width": 10}) == "reduce-narrow"
    assert costmodel.kernel_class({"kind": "reduce"}) == "reduce"  # a listing without widths: as before
    assert costmodel.kernel_class({"kind": "elementwise", "reduce_width": 10}) == "elementwise"


def _reduce_hlo() -> str:
    """Four kernels as XLA:GPU prints them: a BatchNorm's statistics (91,200 rows of 40 channels summed to 40), the
    same over the rows grouped 15 at a time (a reshape to 6,080 rows of 600 inside the fusion), a row reduction
    (each row's 40 channels summed) and a concatenation (an input fusion that reduces nothing)."""
    return """HloModule m, entry_computation_layout={(bf16[91200,40]{1,0})->f32[40]{0}}

%add (a: f32[], b: f32[]) -> f32[] {
  %a = f32[] parameter(0)
  %b = f32[] parameter(1)
  ROOT %s = f32[] add(%a, %b)
}

%fused_reduce (p: bf16[91200,40]) -> f32[40] {
  %p = bf16[91200,40]{1,0} parameter(0)
  %c = f32[91200,40]{1,0} convert(%p)
  %z = f32[] constant(0)
  ROOT %r = f32[40]{0} reduce(%c, %z), dimensions={0}, to_apply=%add
}

%fused_grouped (q: bf16[91200,40]) -> f32[600] {
  %q = bf16[91200,40]{1,0} parameter(0)
  %v = bf16[6080,600]{1,0} bitcast(%q)
  %w = f32[6080,600]{1,0} convert(%v)
  %z2 = f32[] constant(0)
  ROOT %r2 = f32[600]{0} reduce(%w, %z2), dimensions={0}, to_apply=%add
}

%fused_rows (u: bf16[91200,40]) -> f32[91200] {
  %u = bf16[91200,40]{1,0} parameter(0)
  %x3 = f32[91200,40]{1,0} convert(%u)
  %z3 = f32[] constant(0)
  ROOT %r3 = f32[91200]{0} reduce(%x3, %z3), dimensions={1}, to_apply=%add
}

%fused_concat (e: bf16[91200,40], f: bf16[91200,40]) -> bf16[91200,80] {
  %e = bf16[91200,40]{1,0} parameter(0)
  %f = bf16[91200,40]{1,0} parameter(1)
  ROOT %k = bf16[91200,80]{1,0} concatenate(%e, %f), dimensions={1}
}

ENTRY %main (x: bf16[91200,40]) -> f32[40] {
  %x = bf16[91200,40]{1,0} parameter(0)
  %input_reduce_fusion = f32[40]{0} fusion(%x), kind=kInput, calls=%fused_reduce
  %input_reduce_fusion.1 = f32[600]{0} fusion(%x), kind=kInput, calls=%fused_grouped
  %input_reduce_fusion.2 = f32[91200]{0} fusion(%x), kind=kInput, calls=%fused_rows
  %input_concatenate_fusion = bf16[91200,80]{1,0} fusion(%x, %x), kind=kInput, calls=%fused_concat
  ROOT %t = f32[40]{0} add(%input_reduce_fusion, %input_reduce_fusion)
}
"""


def test_shipped_calibration():
    """The package's calibration loads, and every row's stored prediction is the model's arithmetic."""
    model = costmodel.load()
    record = costmodel.calibration()
    assert record["rows"]
    for row in record["rows"]:
        assert row["measured_s"] > 0 and row["predicted_s"] > 0
        assert math.isclose(row["predicted_s"], row["call_s"] + row["transfer_s"] + row["launches"] * model.launch_s + row["memory_s"]
                            + row["compute_s"], rel_tol=1e-6)
    assert "| measured row | GPU |" in costmodel.calibration_table()


def test_cost_model_fit_on_two_gpus_shares_its_fractions():
    """Rows measured on an H100 and an H200 (another bandwidth, the same peaks): one fit of the shared launch cost and
    fractions explains both, each row predicted under its own GPU's datasheet; an unknown GPU is a clear error."""
    truth = costmodel.CostModel(3e-6, 5e-5, 8.0, {c: 0.3 if c in ("elementwise", "reduce") else 0.7
                                                  for c in costmodel.BANDWIDTH},
                                {c: 0.5 for c in costmodel.MATRIX})
    rng = np.random.default_rng(1)
    rows = []
    for i in range(30):
        listing = [{"kind": kind, "bytes": float(10 ** rng.uniform(5, 9)), "count": int(rng.integers(1, 100)),
                    "flops": float(10 ** rng.uniform(8, 12)) if kind == "gemm" else 0.0, "shape": "bf16[1]"}
                   for kind in ("gemm", "elementwise", "reduce", "transpose")]
        device = ("H100", "H200")[i % 2]
        rows.append((listing, truth.on_device(device).predict(listing).seconds, 0.0, device))
    model, ratios = costmodel.calibrate(rows, prior_weight=1e-6)
    assert max(abs(r - 1) for r in ratios) < 0.02
    assert model.bandwidth["reduce"] == pytest.approx(0.3, rel=0.1)
    assert model.bandwidth["gemm"] == pytest.approx(0.7, rel=0.1)
    # the same listing is faster on the H200 when its bytes bound it, by at most the bandwidths' ratio
    memory_bound = [{"kind": "reduce", "bytes": 1e9, "count": 1, "flops": 0.0, "shape": "bf16[1]"}]
    h100, h200 = (model.on_device(d).predict(memory_bound).seconds for d in ("H100", "H200"))
    assert 1.0 < h100 / h200 <= 4.8 / 3.35 + 1e-9
    with pytest.raises(ConfigError, match="H300"):
        costmodel.calibrate([(rows[0][0], 1e-3, 0.0, "H300")])
    with pytest.raises(ConfigError, match="H300"):
        model.on_device("H300")


def test_cost_model_kernel_fit_recovers_fractions_and_splits_the_launch_cost():
    """Single kernels timed in a trace (their execution only) under a known model: the kernel fit recovers its
    fractions and its per-kernel floor, adds the gaps between kernels to the launch cost, and keeps the prior where
    no kernel of a class was timed."""
    floor = 2e-6
    truth = costmodel.CostModel(floor, 5e-5, 8.0, {c: {"elementwise": 0.7, "reduce-narrow": 0.15}.get(c, 0.6)
                                                   for c in costmodel.BANDWIDTH},
                                {c: 0.45 if c == "gemm" else 0.5 for c in costmodel.MATRIX})
    rng = np.random.default_rng(3)
    kernels = []
    for i in range(120):
        kind = ("gemm", "elementwise", "reduce")[i % 3]
        k = {"kind": kind, "bytes": float(10 ** rng.uniform(4, 9)), "shape": "bf16[1]",
             "flops": float(10 ** rng.uniform(10, 12.5)) if kind == "gemm" else 0.0,
             "reduce_width": 40 if kind == "reduce" else None}
        device = ("H100", "H200")[i % 2]
        lat, mem, comp = truth.on_device(device).kernel_seconds(k)
        kernels.append((k, lat + max(mem, comp), device))
    model, fit = costmodel.calibrate_kernels(kernels, idle_per_launch=1.5e-6, prior_weight=1e-8)
    assert model.bandwidth["elementwise"] == pytest.approx(0.7, rel=0.05)
    assert model.bandwidth["reduce-narrow"] == pytest.approx(0.15, rel=0.05)
    assert model.compute["gemm"] == pytest.approx(0.45, rel=0.05)
    assert fit["floor_s"] == pytest.approx(floor, rel=0.1) and model.launch_s == pytest.approx(fit["floor_s"] + 1.5e-6)
    assert model.bandwidth["transpose"] == pytest.approx(costmodel.PRIOR.bandwidth["transpose"])  # none timed
    assert model.call_s == costmodel.PRIOR.call_s
    for entry in fit["classes"].values():
        assert entry["predicted_s"] == pytest.approx(entry["measured_s"], rel=0.03)
    assert costmodel.calibrate_kernels(kernels)[0].launch_s == costmodel.PRIOR.launch_s  # no idle time given
    with pytest.raises(ConfigError, match="positive"):
        costmodel.calibrate_kernels([(kernels[0][0], 0.0)])
    with pytest.raises(ConfigError, match="no timed kernels"):
        costmodel.calibrate_kernels([])
