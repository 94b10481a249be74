"""Programs compiled for accelerators this machine does not have (infantjax.aot, `infantjax compile`; issue 37).

Each program is compiled, at small sizes, for one TPU target (v5e-8, XLA:TPU from libtpu) and one GPU target (h100x8,
XLA:GPU from the CUDA plugin): it compiles, fits the device's memory, holds exactly the expected collectives (none
at all where instances are stacked one per device: independent instances never exchange data; data-parallel
inference none either), and its FLOPs agree with the analytical count:

* the traced program's products and convolutions (``bench.readers.matrix_flops``, the GPU figure) within 5 % of
  ``models.gcn.count_flops(spec, "full")`` x batch (x 3 for a training step: forward and two backward products);
* XLA:TPU's count of the compiled program between 1.0 and 1.5 times the analytical one (it also counts
  elementwise operations, BatchNorm, the optimizer update); a TPU target compiles the ``tpu`` policy's forms, whose
  graph convolutions are dense products (``count_flops(..., graph_product="dense")``).

The wheels are the extra ``aot``; without them the tests skip with the reason, and under
``INFANTJAX_REQUIRE_AOT=1`` (the CI pass of .ci/run) they fail instead.
"""

from __future__ import annotations

import importlib.util
import os

import pytest

for _name, _value in {"JAX_SKIP_CUDA_CONSTRAINTS_CHECK": "1", "TPU_WORKER_HOSTNAMES": "localhost",
                      "TPU_ACCELERATOR_TYPE": "v5litepod-8", "ALLOW_MULTIPLE_LIBTPU_LOAD": "1"}.items():
    os.environ.setdefault(_name, _value)  # before JAX starts its backends (aot.COMPILE_ENV)

HAVE = {"tpu": importlib.util.find_spec("libtpu") is not None,
        "gpu": importlib.util.find_spec("jax_cuda12_plugin") is not None}
REQUIRED = os.environ.get("INFANTJAX_REQUIRE_AOT") == "1"

pytestmark = pytest.mark.aot

TPU, GPU = "v5e-8", "h100x8"
_RESULTS: dict = {}


def compiled(target: str, program: str, **kwargs):
    """One compile per (target, program, options) for the whole module."""
    platform = "tpu" if target.startswith("v") else "gpu"
    if not HAVE[platform]:
        wheel = "libtpu" if platform == "tpu" else "jax-cuda12-plugin"
        if REQUIRED:
            pytest.fail(f"INFANTJAX_REQUIRE_AOT=1 but {wheel} is not installed (pip install -e '.[aot,test]')")
        pytest.skip(f"{wheel} is not installed (the extra aot: pip install -e '.[aot]')")
    from infantjax import aot

    key = (target, program, tuple(sorted(kwargs.items())))
    if key not in _RESULTS:
        _RESULTS[key] = aot.compile_program(target, program, **{"size": "small", **kwargs})
    return _RESULTS[key]


@pytest.mark.parametrize("target", [TPU, GPU])
@pytest.mark.parametrize("program", ["cp-train", "cp-score"])
def test_instance_parallel_cp_programs_compile_fit_and_never_exchange_data(target, program):
    result = compiled(target, program)
    assert result.instance_parallel and result.mesh == {"instance": 8, "data": 1}
    assert result.fits and 0 < result.memory["peak"] < result.hbm_bytes
    assert result.collectives == {}  # one instance per device: no all-gather, no collective at all
    assert result.policy == ("tpu" if target == TPU else "accelerator")  # the TPU forms for a TPU target
    if target == TPU:  # XLA:TPU's layouts carry tiles: narrow dimensions are padded in them
        pad = result.padding
        assert pad["tiled"] >= pad["logical"] > 0 and pad["ratio"] == pytest.approx(pad["tiled"] / pad["logical"])
        assert "tile padding" in result.table() and result.record()["tile_padding"] == pad
        assert sum(pad["dtypes"].values()) == pad["logical"] and "buffers written by element type" in result.table()
    else:  # XLA:GPU's layouts have none
        assert result.padding is None and "tile padding" not in result.table()


@pytest.mark.parametrize("program", ["cp-train", "cp-score"])
def test_cp_flops_agree_with_the_analytical_count(program):
    gpu = compiled(GPU, program)
    # traced products and convolutions; a training step also combines each dense graph convolution's weight
    # (Σₖ Aₖ ⊗ Wₖ, the GPU policy's form) and its gradient once a step, which the per-sample count leaves out
    assert gpu.flops == pytest.approx(gpu.analytical_flops, rel=0.05 if program == "cp-score" else 0.10)
    if program == "cp-train":
        assert gpu.flops >= gpu.analytical_flops * 0.999
    tpu = compiled(TPU, program)
    assert tpu.flops_source.startswith("XLA")
    assert 1.0 <= tpu.flops / tpu.analytical_flops <= 1.5


def test_data_parallel_training_step_all_reduces_only():
    """Two instances on 8 GPUs: instance 2 x data 4. The data axis all-reduces gradients (and the BatchNorm
    statistics of the batch split over it, and the loss) — 16 all-reduces of 166 kB in all (one instance a device:
    the reductions as is; grouped, as a step of stacked instances has them, 15 of 301 kB: the statistics' partial
    sums cross the devices g·C wide); never an all-gather (the groups stay within a sample: ``nn.rows``)."""
    result = compiled(GPU, "cp-train", instances=2)
    assert result.mesh == {"instance": 2, "data": 4}
    assert set(result.collectives) == {"all-reduce"}
    assert result.collectives["all-reduce"]["count"] == 16
    assert result.collectives["all-reduce"]["bytes"] < 200_000
    assert result.flops == pytest.approx(result.analytical_flops, rel=0.10)  # the combined weights: above


@pytest.mark.parametrize("target", [TPU, GPU])
@pytest.mark.parametrize("program", ["pose-rt", "pose-i"])
def test_pose_inference_is_data_parallel_without_collectives(target, program):
    from infantjax import aot

    result = compiled(target, program)
    assert not result.instance_parallel and result.mesh == {"data": 8}
    assert result.fits and result.collectives == {}
    if target == TPU:  # XLA's count against the traced program's products and convolutions
        gpu = compiled(GPU, program)
        assert 1.0 <= result.flops / gpu.flops <= 1.5
    else:
        assert "matrix_flops" in result.flops_source and result.flops > 0
    assert aot.ESTIMATE in result.table()


def test_gpu_programs_list_their_kernels_and_stacked_instances_stay_plain_convolutions():
    """The kernels of a GPU program (bench.kernels) and the cost model's prediction come with the compile; two
    instances vmapped on one GPU run each temporal convolution as one plain convolution per instance (the GPU
    policy's ``stacked_conv="plain"``), not one convolution with the instances as feature groups."""
    import json

    one = compiled("h100x1", "cp-train", instances=1)
    two = compiled("h100x1", "cp-train", instances=2)
    for result in (one, two):
        s = result.kernel_summary
        assert s["count"] > 50 and s["by_kind"]["gemm"]["count"] > 0 and s["bytes"] > 0
        assert result.triton_gemm in (True, False) and (result.triton_gemm or result.triton_refusal)
        assert result.cost["seconds"] > result.bound_s and result.cost["launches"] == s["count"]
        assert "kernels per call" in result.table() and "cost model" in result.table()
        record = result.record()
        assert record["kernels"] and record["kernel_summary"]["count"] == s["count"]
        json.dumps(record)
    assert set(one.kernel_summary["conv_groups"]) == {1}
    assert set(two.kernel_summary["conv_groups"]) == {1}
    assert sum(two.kernel_summary["conv_groups"].values()) > 1.5 * sum(one.kernel_summary["conv_groups"].values())
    assert two.kernel_summary["bytes"] > 1.5 * one.kernel_summary["bytes"]
    assert compiled(TPU, "cp-train").kernel_summary is None  # TPU programs: tile padding instead


def test_a_target_gets_the_policy_its_devices_would_get(monkeypatch):
    """One rule for the backend policy of a target: what ``backend.policy("auto")`` picks on a device of the target's
    platform and kind is what a compile for the target runs under (``backend.auto_policy``)."""
    from infantjax import backend, targets

    monkeypatch.delenv(backend.ENV, raising=False)
    seen = {}
    for t in targets.TARGETS.values():
        monkeypatch.setattr(backend, "platform", lambda p=t.platform: p)
        monkeypatch.setattr(backend, "_tpu_kind", lambda k=t.peak.name: k)  # "TPU v6e", "TPU v5e", ...
        seen[t.name] = backend.policy("auto").name
        assert backend.auto_policy(t.platform, t.kind) == seen[t.name], t.name
    assert seen["v6e-16"] == "tpu-v6e" and seen["v5e-8"] == seen["v4-8"] == "tpu"
    assert seen["h100x8"] == seen["a100x8"] == "accelerator"


def test_the_program_readers_stay_importable_from_aot():
    from infantjax import aot
    from infantjax.bench import readers

    assert (aot.collectives, aot.tile_padding, aot.matrix_flops) == (readers.collectives, readers.tile_padding,
                                                                      readers.matrix_flops)


def test_unknown_names_are_typed_errors():
    from infantjax import aot, targets
    from infantjax.errors import ConfigError

    with pytest.raises(ConfigError, match="v5e-8"):
        targets.target("v7-1")
    with pytest.raises(ConfigError, match="cp-train"):
        aot.compile_program("v5e-8", "nope")


def test_a_missing_wheel_names_the_extra(monkeypatch):
    import dataclasses
    import importlib.util as util

    from infantjax import targets
    from infantjax.errors import AotExtraError

    real = util.find_spec
    monkeypatch.setattr(util, "find_spec", lambda name, *a: None if name in ("libtpu", "jax_cuda12_plugin")
                        else real(name, *a))
    for name in ("v5e-8", "h100x8"):
        fresh = dataclasses.replace(targets.TARGETS[name], name=f"{name}-test")  # not cached
        with pytest.raises(AotExtraError, match=r"infantjax\[aot\]"):
            targets.devices(fresh)


@pytest.mark.parametrize("program", ["depth-train", "depth-full-train", "smartphone-train", "sma-train", "mam-train"])
def test_every_family_s_stacked_step_keeps_its_instances_apart(program):
    """The engine's step of each family's contract example, 8 instances on 8 GPUs: no collective at all. (GPU only:
    the TPU compiles of these take minutes each on the CI's cores.)"""
    result = compiled(GPU, program)
    assert result.instance_parallel and result.mesh == {"instance": 8, "data": 1}
    assert result.fits and result.collectives == {}
    assert result.flops > 0


def test_the_family_steps_at_paper_size_on_one_h100():
    """The family steps at the papers' sizes (one instance on one H100; 5-10 s a compile): the SMA CNN of Table 1
    (35.9 M parameters, 400 windows), the smartphone model (8 videos) and the depth regression steps of Table I (16
    clips of 3 x 96 x 128), asymmetric and full: they fit, and the asymmetric cascade needs fewer FLOPs than the full
    3x3x3 convolutions (the seed's point; 4.6 vs 10.5 TFLOP)."""
    results = {p: compiled("h100x1", p, size="paper", instances=1)
               for p in ("sma-train", "smartphone-train", "depth-train", "depth-full-train")}
    for program, result in results.items():
        assert result.fits and result.collectives == {} and result.flops > 0, program
    assert results["sma-train"].batch == 400 and "35,939,169 parameters" in results["sma-train"].description
    assert results["depth-train"].items == 16 and results["depth-full-train"].items == 16
    ratio = results["depth-train"].flops / results["depth-full-train"].flops
    assert 0.3 < ratio < 0.6, ratio


def test_a_step_whose_batch_the_data_axis_does_not_divide_keeps_every_device():
    """MAM trains on 2 recordings a step: 2 folds on 8 GPUs would be instance 2 x data 4, which cannot split the
    batch. The engine shrinks the data axis until it divides the batch and grows the instance axis to keep every
    device (``instance_mesh(batch_size=...)``): instance 4 x data 2, two of the slots padding. Before, the engine
    left the other devices out, and XLA:TPU refuses that on a v5e slice ("device assignment should include all
    slice devices": 64 folds on a v5e-256). The data axis all-reduces gradients only. The task's contract example
    trains on 2 recordings a step too: the mesh is chosen from the batch, so it is compiled at that small size (the
    paper-size step compiles in the test below, for one H100)."""
    result = compiled(GPU, "mam-train", instances=2)
    assert result.mesh == {"instance": 4, "data": 2} and result.devices == 8
    assert result.fits and set(result.collectives) == {"all-reduce"}


def test_a_nas_trial_runs_on_one_chip_alone():
    """A search runs one trial per chip: the trial's step is compiled for one device of the host, whose figures
    are that device's (FLOPs not divided among the 8), with no collective."""
    from infantjax.models.gcn import count_flops
    from infantjax.models.gcn.presets import demo_spec

    result = compiled(GPU, "nas-trial")
    assert result.devices == 1 and result.mesh == {"instance": 1, "data": 1}
    assert not result.instance_parallel and result.fits and result.collectives == {}
    # counted as the GPU policy runs it: the graph convolutions as dense products
    expected = 3.0 * count_flops(demo_spec(temporal_kernel_size=3), "full", num_frames=30, graph_product="dense") * 32
    assert result.analytical_flops == pytest.approx(expected)
    assert result.flops == pytest.approx(expected, rel=0.10)  # and the combined weights once a step


def test_the_command_without_the_extra_is_one_line_and_exit_2(monkeypatch, capsys):
    import functools
    import importlib.util as util

    from infantjax import cli, targets

    # an empty device cache for this test: other tests of the module compile for h100x1 before it
    monkeypatch.setattr(targets, "_devices", functools.lru_cache(maxsize=None)(targets._devices.__wrapped__))

    real = util.find_spec
    monkeypatch.setattr(util, "find_spec", lambda name, *a: None if name in ("libtpu", "jax_cuda12_plugin")
                        else real(name, *a))
    assert cli.main(["compile", "--target", "h100x1", "--program", "pose-rt", "--size", "small"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "infantjax[aot]" in err[0]
    with pytest.raises(SystemExit):
        cli.main(["compile", "--target", "nope", "--program", "pose-rt"])


def test_largest_batch_doubles_then_bisects(monkeypatch):
    """--max-batch's search, on a stand-in compiler whose programs fit up to batch 100 (XLA:GPU's way: a result
    that does not fit) or refuse above 150 (XLA:TPU's way: an AotError)."""
    import types

    from infantjax import aot
    from infantjax.aot import compile as compiling
    from infantjax.errors import AotError

    tried = []

    def fake(target, program, *, batch, instances=None, size="paper"):
        tried.append(batch)
        if batch > 150:
            raise AotError(f"{program} (batch {batch}) does not fit {target}: RESOURCE_EXHAUSTED")
        return types.SimpleNamespace(batch=batch, fits=batch <= 100)

    monkeypatch.setattr(compiling, "compile_program", fake)
    batch, result = aot.largest_batch("h100x1", "pose-rt", start=16)
    assert 100 - 100 // 8 <= batch <= 100 and result.batch == batch and result.fits
    assert tried[:4] == [16, 32, 64, 128]


def test_every_named_target_builds_its_devices():
    from infantjax import targets

    for name, t in targets.TARGETS.items():
        if not HAVE[t.platform]:
            continue
        found = targets.devices(name)
        assert len(found) == t.chips and targets.lookup(found[0].device_kind) == t.peak, name
        assert t.hbm_bytes > 0
    if not any(HAVE.values()):
        compiled(TPU, "cp-train")  # skips (or fails under INFANTJAX_REQUIRE_AOT=1) with the reason



_TRITON_COMPILE = """
import sys
from infantjax import aot
aot.compile_program("h100x1", sys.argv[1], size=sys.argv[3], instances=int(sys.argv[2]), triton_gemm=True)
"""


def test_steps_that_broke_xla_gpu_compile_for_one_h100():
    """Two training steps XLA:GPU refused on a real H100 (jax 0.11.2; the same with 0.10.2 here), compiled as the
    GPU compiles them (Triton GEMM fusion on), each in a process of its own (both at once): an abort must not take
    pytest along.

    * ``stgcn-train``: ST-GCN's strided 1x1 residual (``nn.temporal.Pointwise``) slices frames of an array that has
      other users; the Triton GEMM fusion pulled the slice into the product and aborted the process ("Check failed:
      subdim_size_accumulator == dim_size (2400 vs. 150)").
    * ``mam-train`` at paper size, 2 folds: the attention pooling's weighted sum over the clips fused with the
      concatenation of embeddings and the 1-wide clip logit into a Triton block-level fusion that failed ("Reshape
      input and output shapes must be the same, got 1x16 -> 1x1x16x2"), with or without Triton GEMMs.
    """
    import subprocess
    import sys

    if not HAVE["gpu"]:
        compiled(GPU, "cp-train")  # skips (or fails under INFANTJAX_REQUIRE_AOT=1) with the reason
    from infantjax import aot

    env = {**os.environ, **aot.COMPILE_ENV}
    runs = {program: subprocess.Popen([sys.executable, "-c", _TRITON_COMPILE, program, str(instances), size],
                                      env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for program, instances, size in (("stgcn-train", 1, "small"), ("mam-train", 2, "paper"))}
    failed = {}
    for program, proc in runs.items():
        out, _ = proc.communicate(timeout=600)
        if proc.returncode != 0:
            failed[program] = (proc.returncode, "\n".join(out.strip().splitlines()[-15:]))
    assert not failed, "\n".join(f"{p} for h100x1 exited {rc}:\n{tail}" for p, (rc, tail) in failed.items())


def test_the_full_table_runs_one_process_a_row_and_resumes(tmp_path, capsys):
    """``benchmarks/compile_table.py`` (the slow full table of issue 37, every program on every target): a row is
    one ``infantjax compile`` in a process of its own, whose record lands beside the table; a second run compiles
    nothing again; a row that fails (here: out of its time) is recorded with its error and not retried unless
    asked."""
    if not HAVE["gpu"]:
        compiled(GPU, "cp-train")  # skips (or fails under INFANTJAX_REQUIRE_AOT=1) with the reason
    import json
    import pathlib

    path = pathlib.Path(__file__).resolve().parents[1] / "benchmarks" / "compile_table.py"
    spec = importlib.util.spec_from_file_location("compile_table", path)
    table = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(table)
    args = ["--out", str(tmp_path), "--targets", "h100x1", "--programs", "smartphone-train", "--size", "small"]
    assert table.main(args) == 0
    record = tmp_path / "h100x1__smartphone-train.json"
    row = json.loads(record.read_text())["rows"][0]
    assert row["target"] == "h100x1" and row["fits"] and row["collectives"] == {}
    text = (tmp_path / "table.md").read_text()
    assert "estimates, compiled for, not run on" in text and "| h100x1 | smartphone-train |" in text
    assert row["policy"] == "accelerator" and "†" not in text
    # a TPU row of a GCN program recorded before TPU targets got the tpu policy (no "policy" in its record) is
    # marked as such; other programs' forms are the same under both policies
    older = json.loads(record.read_text())
    for program in ("cp-train", "smartphone-train"):
        older["rows"][0] = {k: v for k, v in row.items() if k != "policy"} | {"target": "v5e-8", "program": program}
        (tmp_path / f"v5e-8__{program}.json").write_text(json.dumps(older))
    assert table.main(["--out", str(tmp_path), "--render"]) == 0
    text = (tmp_path / "table.md").read_text()
    assert "| v5e-8 | cp-train † |" in text and "† compiled before TPU targets got the `tpu` policy" in text
    assert "| v5e-8 | smartphone-train |" in text
    for program in ("cp-train", "smartphone-train"):
        (tmp_path / f"v5e-8__{program}.json").unlink()
    stamp = record.stat().st_mtime_ns
    capsys.readouterr()
    assert table.main(args) == 0 and record.stat().st_mtime_ns == stamp
    assert "h100x1 smartphone-train: skipped" in capsys.readouterr().out
    # a row that does not finish: its error recorded, the table lists it, the next run leaves it
    slow = ["--out", str(tmp_path), "--targets", "h100x1", "--programs", "pose-i", "--size", "small",
            "--timeout", "0.5"]
    assert table.main(slow) == 0
    error = json.loads((tmp_path / "h100x1__pose-i.error.json").read_text())
    assert error["returncode"] is None and "not finished in 0 s" in error["error"]
    assert "Rows that did not compile" in (tmp_path / "table.md").read_text()
    capsys.readouterr()
    assert table.main(slow) == 0 and "failed before (--retry-errors" in capsys.readouterr().out
