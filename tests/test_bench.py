"""The benchmark harness and ``infantjax bench``: medians after warm-up, XLA figures, the record's layout."""

from __future__ import annotations

import contextlib
import json
import pathlib
import re
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from infantjax.bench import Run, median_time, program_stats
from infantjax.bench.headline import CASES
from infantjax.commands.bench import CASE_NAMES

REPO = pathlib.Path(__file__).resolve().parents[1]


def test_median_time_warms_up_and_waits():
    calls = []

    def fn():
        calls.append(1)
        return jnp.ones(3) * len(calls)

    med, samples = median_time(fn, repeats=4, warmup=2)
    assert len(calls) == 6 and len(samples) == 4 and med > 0


def test_program_stats_counts_the_flops_of_a_matmul():
    f = jax.jit(lambda a, b: a @ b)
    a = jnp.ones((64, 32))
    stats = program_stats(f, a, a.T)
    assert stats["gflop"] == pytest.approx(2 * 64 * 32 * 64 / 1e9, rel=0.05)
    assert stats["peak_gb"] > 0


def test_program_stats_counts_the_convolutions_xla_gpu_leaves_out(monkeypatch):
    """XLA:GPU's cost analysis counts no FLOPs for cuDNN/cuBLAS calls (the first H100 run: pose RT 0.05 GFLOP an
    image of 0.6): where XLA's count is below the traced program's products and convolutions, those are used."""
    import jax.stages

    f = jax.jit(lambda x, w: jax.lax.conv_general_dilated(x, w, (1, 1), "SAME"))
    x, w = jnp.ones((2, 8, 16, 16)), jnp.ones((4, 8, 3, 3))
    analytical = 2 * 2 * 4 * 16 * 16 * 8 * 9 / 1e9
    own = program_stats(f, x, w)  # the platform's own count: XLA's on CPU; on a GPU (cuDNN) the traced one
    assert own["gflop"] == pytest.approx(analytical, rel=0.15)  # padding taps
    expected = {"cpu": "xla", "gpu": "library calls"}.get(jax.default_backend(), "")
    assert expected in own["flop_source"], own["flop_source"]
    monkeypatch.setattr(jax.stages.Compiled, "cost_analysis", lambda self: {"flops": 10.0, "bytes accessed": 1e3})
    gpu_like = program_stats(f, x, w)
    assert gpu_like["gflop"] == pytest.approx(analytical) and gpu_like["xla_gflop"] == pytest.approx(1e-8)
    assert "library calls" in gpu_like["flop_source"]


def test_run_record_and_table(tmp_path, capsys):
    run = Run("unit", matmul_n=128)
    f = jax.jit(lambda a: (a @ a).sum())
    row = run.time("square", f, jnp.ones((128, 128)), repeats=2, items=128, unit="rows")
    assert row.gflop is not None and row.rate > 0
    record = run.finish(tmp_path / "r.json")
    print(run.table())
    on_disk = json.loads((tmp_path / "r.json").read_text())
    assert on_disk["rows"][0]["name"] == "square" and on_disk == json.loads(json.dumps(record))
    assert 0 < on_disk["rows"][0]["fraction_of_matmul"]
    out = capsys.readouterr().out
    assert "float32 matmul 128^3" in out and "load average" in out and "square" in out


def test_cli_names_every_case_and_rejects_unknown_ones():
    from infantjax.cli import main

    assert set(CASE_NAMES) == set(CASES)
    assert main(["bench", "--only", "posture"]) == 2


@pytest.mark.slow
def test_bench_quick_depth_runs(capsys):
    from infantjax.cli import main

    assert main(["bench", "--quick", "--only", "depth"]) == 0
    assert "time ratio vs full" in capsys.readouterr().out


def test_depth_profile_attributes_op_time_to_every_table_i_level(capsys):
    """benchmarks/depth.py --profile maps traced XLA ops to the Table I levels through the HLO metadata."""
    import importlib.util
    import pathlib

    path = pathlib.Path(__file__).resolve().parents[1] / "benchmarks" / "depth.py"
    spec = importlib.util.spec_from_file_location("bench_depth", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--profile", "--scale", "0.05", "--height", "8", "--width", "8", "--batch", "1",
                        "--repeats", "1", "--warmup", "1"]) == 0
    record = json.loads(next(line for line in capsys.readouterr().out.splitlines() if line.startswith("{")))
    for kind in ("asymmetric", "full"):
        levels = record["results"][kind]["levels_ms"]
        table_i = {"layer1", "layer2", "layer3", "layer4", "layer5", "output"}
        if jax.devices()[0].platform == "cpu":
            assert table_i <= set(levels), levels
        else:  # XLA:GPU fuses across level boundaries: a level may get no kernel of its own (layer3, H100)
            assert set(levels) <= table_i | {"other (loss, Adam)"} and set(levels) & table_i, levels
        assert all(v > 0 for v in levels.values())
        assert record["results"][kind]["step_wall_s"] > 0


# ------------------------------------------------------------------ accelerator peaks and the roofline (issue 33)
@pytest.mark.parametrize("kind, name, bf16, tf32, fp32, hbm", [
    ("NVIDIA H100 80GB HBM3", "NVIDIA H100 SXM", 989, 495, 67, 3.35),
    ("NVIDIA H100 PCIe", "NVIDIA H100 PCIe", 756, 378, 51, 2.0),
    ("NVIDIA H200", "NVIDIA H200", 989, 495, 67, 4.8),
    ("NVIDIA A100-SXM4-80GB", "NVIDIA A100 80GB", 312, 156, 19.5, 2.039),
    ("NVIDIA A100-SXM4-40GB", "NVIDIA A100 40GB", 312, 156, 19.5, 1.555),
    ("TPU v4", "TPU v4", 275, None, None, 1.2),
    ("TPU v5 lite", "TPU v5e", 197, None, None, 0.819),
    ("TPU v5p", "TPU v5p", 459, None, None, 2.765),
])
def test_peak_lookup_by_device_kind(kind, name, bf16, tf32, fp32, hbm):
    from infantjax.bench.peaks import lookup

    peak = lookup(kind)
    assert (peak.name, peak.bf16_tflops, peak.tf32_tflops, peak.fp32_tflops, peak.hbm_tb_s) == \
        (name, bf16, tf32, fp32, hbm)


def test_no_peak_for_a_cpu_or_an_unknown_device():
    from infantjax.bench.peaks import lookup

    assert lookup("cpu") is None and lookup(None) is None and lookup("NVIDIA GeForce GT 710") is None
    device = jax.devices()[0]
    if device.platform == "cpu":  # the test machine's CPU (a GPU's peaks: tests/test_gpu.py)
        assert lookup(device.device_kind) is None


def test_matrix_peak_follows_the_dtype_and_the_matmul_precision():
    from infantjax.bench.peaks import lookup, peak_tflops

    h100, v5e = lookup("NVIDIA H100 80GB HBM3"), lookup("TPU v5 lite")
    assert peak_tflops(h100, "bfloat16") == (989, "bf16") and peak_tflops(h100, "float16") == (989, "bf16")
    assert peak_tflops(h100, "float32") == (495, "tf32")  # JAX's default precision lets XLA use TF32
    assert peak_tflops(h100, "float32", "highest") == (67, "fp32")
    assert peak_tflops(v5e, "float32") == (197, "bf16")  # a TPU's float32 products are bfloat16 passes


def test_roofline_fractions_and_the_memory_bound_rows():
    from infantjax.bench.peaks import lookup, roofline

    h100 = lookup("NVIDIA H100 80GB HBM3")
    # 494.5 GFLOP of bf16 work in 1 ms: 494.5 TFLOP/s = half the bf16 peak; 1 GB moved: 495 FLOP/byte, above the
    # ridge (989e12 / 3.35e12 = 295): compute-bound
    r = roofline(h100, seconds=1e-3, gflop=494.5, gbytes=1.0, dtype="bfloat16")
    assert r.fraction_of_peak == pytest.approx(0.5) and r.ridge == pytest.approx(989 / 3.35)
    assert r.intensity == pytest.approx(494.5) and not r.memory_bound
    assert r.fraction_of_bandwidth == pytest.approx(1e9 / 1e-3 / 3.35e12)
    # 2 GFLOP moving 2.68 GB in 1 ms: 0.75 FLOP/byte, memory-bound, at 2.68 TB/s = 80 % of 3.35 TB/s
    m = roofline(h100, seconds=1e-3, gflop=2.0, gbytes=2.68, dtype="float32")
    assert m.memory_bound and m.peak_name == "tf32" and m.fraction_of_bandwidth == pytest.approx(0.8)
    assert m.fraction_of_peak == pytest.approx(2e12 / 495e12)
    record = m.record()
    assert record["memory_bound"] and record["peak_tflop_per_s"] == 495
    # no byte count: a fraction of the peak, no bandwidth figure, never memory-bound
    n = roofline(h100, seconds=2.0, gflop=989e3, gbytes=None, dtype="bfloat16")
    assert n.fraction_of_peak == pytest.approx(0.5) and n.fraction_of_bandwidth is None and not n.memory_bound


def test_table_prints_fraction_of_peak_and_of_the_bandwidth_roofline(tmp_path):
    from infantjax.bench import Row
    from infantjax.bench.peaks import lookup

    run = Run("unit", measure_matmul=False, peak=lookup("NVIDIA H200"))
    run.add(Row("matmul-like", 1e-3, [1e-3], 64, "images", gflop=494.5, gbytes=1.0, dtype="bfloat16"))
    run.add(Row("elementwise", 1e-3, [1e-3], 32, "windows", gflop=2.0, gbytes=2.4, dtype="float32"))
    run.add(Row("host work", 0.5, [0.5], 1, "calls"))
    record = run.finish(tmp_path / "peak.json")
    text = run.table()
    lines = {line.split()[0]: line for line in text.splitlines()[2:5]}
    assert "50.0%" in lines["matmul-like"] and "64000.00" in lines["matmul-like"] and "images/s" in lines[
        "matmul-like"]
    # 2.4 GB in 1 ms = 2.4 TB/s of the H200's 4.8 TB/s: memory-bound, half the bandwidth roofline
    assert lines["elementwise"].rstrip().endswith("50.0%") and "windows/s" in lines["elementwise"]
    assert lines["host"].split()[-2:] == ["-", "-"]
    assert "peaks (NVIDIA H200, datasheet, dense): bf16 989 / tf32 495 / fp32 67 TFLOP/s, 4.8 TB/s" in text
    rows = {r["name"]: r for r in record["rows"]}
    assert rows["matmul-like"]["fraction_of_peak"] == pytest.approx(0.5) and not rows["matmul-like"]["memory_bound"]
    assert rows["elementwise"]["fraction_of_bandwidth"] == pytest.approx(0.5)
    assert "fraction_of_peak" not in rows["host work"] and record["device_peak"]["name"] == "NVIDIA H200"


def test_cpu_table_says_no_peak_is_known():
    run = Run("unit", matmul_n=64)
    run.time("tiny", jax.jit(lambda a: a @ a), jnp.ones((64, 64)), repeats=1)
    run.finish()
    from infantjax.bench.peaks import lookup

    device = jax.devices()[0]
    assert run.peak == lookup(device.device_kind)
    if device.platform == "cpu":  # a GPU's table and fractions of its peak: tests/test_gpu.py
        assert run.peak is None and "peaks: none known for this device" in run.table()
        assert "fraction_of_peak" not in run.record()["rows"][0]


def test_program_stats_counts_the_bytes_moved():
    f = jax.jit(lambda a: a * 2.0)
    stats = program_stats(f, jnp.ones((1000,), jnp.float32))
    assert stats["gbytes"] == pytest.approx(8e-6, rel=0.5)  # 4 kB in, 4 kB out


def test_compare_torch_options_are_checked(tmp_path, capsys):
    from infantjax.cli import main

    assert main(["bench", "--only", "gcn", "--stgcn-repo", str(tmp_path)]) == 2
    assert "need --compare-torch" in capsys.readouterr().err
    assert main(["bench", "--only", "gcn", "--compare-torch", "--torch-scripts", str(tmp_path),
                 "--stgcn-repo", str(tmp_path)]) == 2
    assert "has no pose_torch.py, gcn_torch.py" in capsys.readouterr().err
    assert main(["bench", "--only", "gcn", "--compare-torch", "--stgcn-repo", str(tmp_path / "missing")]) == 2
    assert "not a folder" in capsys.readouterr().err
    assert main(["bench", "--only", "gcn", "--compare-torch"]) == 2
    assert "needs at least one of" in capsys.readouterr().err


def test_torch_rows_sit_beside_their_jax_rows_with_the_speedup(tmp_path, monkeypatch):
    """--compare-torch: the official scripts' JSON lines become rows beside the JAX rows (no PyTorch needed: a
    stand-in script prints what pose_torch.py prints)."""
    import sys

    from infantjax.bench import Row
    from infantjax.bench.headline import TorchSide, _torch_row

    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "gcn_torch.py").write_text("")
    (scripts / "pose_torch.py").write_text(
        "import json, sys\n"
        "assert '--device' in sys.argv and '--dtype' in sys.argv and '--tf32' in sys.argv\n"
        "print(json.dumps({'model': 'rt', 'batch': 16, 'form': 'eager', 'seconds': 0.5, 'device': 'cpu',"
        " 'dtype': 'float32', 'torch': 'stand-in'}))\n")
    side = TorchSide(python=sys.executable, scripts=str(scripts), efficientpose_repo=str(tmp_path))
    assert side.device == ("cuda" if jax.devices()[0].platform == "gpu" else "cpu")  # JAX's platform
    records = side.run("pose_torch.py", ["--repo", str(tmp_path)])
    run = Run("unit", measure_matmul=False)
    jax_row = run.add(Row("pose RT forward, batch 16", 0.25, [0.25], 16, "images", gflop=10.0))
    _torch_row(run, jax_row, "PyTorch RT", records[0]["seconds"], "eager", records[0])
    assert jax_row.extra["speedup_vs_torch_eager"] == pytest.approx(2.0)
    torch_row = run.rows[-1]
    assert torch_row.items == 16 and torch_row.gflop == 10.0 and torch_row.extra["framework"] == "pytorch"


def test_gpu_sizes_cover_the_figures_of_record_of_part_2(capsys):
    """``infantjax bench --size gpu``: the sizes issue 33 part 2 asks for (nothing is run here)."""
    from infantjax.bench.headline import SIZES
    from infantjax.cli import main

    gpu = SIZES["gpu"]
    assert {b for _, b in gpu.pose} == {1, 16, 64, 256}
    assert {m for m, _ in gpu.pose} == {"efficientpose-rt-mpii", "efficientpose-i-mpii"}
    assert set(gpu.gcn_batches) == {32, 256} and {k for _, k, _ in gpu.gcn_specs} == {"stgcn", "1", "7", "8"}
    assert len(gpu.score_specs) * 7 == 70 and gpu.score_windows == 71_000  # 1,000 three-minute recordings
    assert SIZES["default"].gcn_batches == (32,) and SIZES["quick"].gcn_batches == (8,)
    assert main(["bench", "--quick", "--size", "gpu"]) == 2
    assert "ask for different sizes" in capsys.readouterr().err


def test_gpu_table_gives_every_row_its_fraction_of_peak(tmp_path):
    """benchmarks/gpu_table.py (the markdown table of benchmarks/gpu_suite.sh) on a record with peaks and on a
    JUnit report."""
    import importlib.util

    from infantjax.bench import Row
    from infantjax.bench.peaks import lookup

    spec = importlib.util.spec_from_file_location("gpu_table", REPO / "benchmarks" / "gpu_table.py")
    gpu_table = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gpu_table)
    run = Run("unit", measure_matmul=False, peak=lookup("NVIDIA H100 80GB HBM3"))
    run.add(Row("matmul-like", 1e-3, [1e-3], 64, "images", gflop=494.5, gbytes=1.0, dtype="bfloat16",
                extra={"speedup_vs_torch_eager": 1.8}))
    run.add(Row("elementwise", 1e-3, [1e-3], 32, "windows", gflop=2.0, gbytes=1.675, dtype="float32"))
    run.finish(tmp_path / "bench.json")
    (tmp_path / "tests.xml").write_text(
        '<testsuites><testsuite tests="3" failures="1" errors="0" skipped="1" time="12.5">'
        '<testcase classname="tests.test_a" name="test_ok"/>'
        '<testcase classname="tests.test_a" name="test_bad"><failure message="assert 1 == 2">x</failure></testcase>'
        '<testcase classname="tests.test_a" name="test_skip"><skipped/></testcase></testsuite></testsuites>')
    assert gpu_table.main([str(tmp_path / "bench.json"), "--tests", str(tmp_path / "tests.xml"),
                           "--out", str(tmp_path / "figures.md")]) == 0
    text = (tmp_path / "figures.md").read_text()
    lines = {line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith("| ")}
    assert "| 50.0 % |" in lines["matmul-like"] and "1.80×" in lines["matmul-like"]
    assert "64,000.0 images/s" in lines["matmul-like"]
    assert "| 50.0 % |" in lines["elementwise"]  # 1.675 GB in 1 ms of the H100's 3.35 TB/s: memory-bound
    assert "3 tests: 1 passed, 1 failed, 0 errors, 1 skipped" in text and "`tests.test_a::test_bad`" in text

    # a test run stopped before its JUnit report: the outcomes pytest -v -n N logged as they came
    stopped = tmp_path / "stopped"
    stopped.mkdir()
    (stopped / "tests.log").write_text(
        "[gw0] [  1%] PASSED tests/test_a.py::test_ok \n[gw1] [  2%] FAILED tests/test_b.py::test_bad[x] \n"
        "[gw1] [  3%] ERROR tests/test_b.py::test_bad[x] \n[gw2] [  4%] SKIPPED tests/test_c.py::test_gpu \n")
    assert gpu_table.main(["--tests", str(stopped / "tests.xml"), "--out", str(stopped / "figures.md")]) == 0
    text = (stopped / "figures.md").read_text()
    assert "3 tests ended: 1 passed, 1 failed, 0 errors, 1 skipped" in text and "- failed: `tests/test_b.py::test_bad[x]`" in text

    # a partial record (the run stopped in a later case) with a PyTorch figure that could not be taken
    run = Run("unit", measure_matmul=False, partial_json=tmp_path / "partial.json")
    run.add(Row("pose RT forward, batch 1", 1e-3, [1e-3], 1, "images", extra={"torch_error_eager": "boom"}))
    run.note("no figure for PyTorch (official) RT, batch 1 (eager): boom")
    run.checkpoint(done=["pose"], running="gcn")
    assert gpu_table.main([str(tmp_path / "partial.json"), "--out", str(tmp_path / "partial.md")]) == 0
    text = (tmp_path / "partial.md").read_text()
    assert "Partial record: the run stopped in gcn; cases done: pose." in text
    assert "| error / – |" in text and "- note: no figure for PyTorch (official) RT, batch 1 (eager): boom" in text


# ------------------------------------------------------- nothing measured or failed is dropped (the first H100 run)
def _fake_torch_side(tmp_path, pose: str = "", gcn: str = "", compile: bool = False):
    """A TorchSide whose pose_torch.py / gcn_torch.py are stand-ins printing the given lines (no PyTorch needed)."""
    import sys

    from infantjax.bench.headline import TorchSide

    scripts = tmp_path / "scripts"
    scripts.mkdir(exist_ok=True)
    (scripts / "pose_torch.py").write_text(pose)
    (scripts / "gcn_torch.py").write_text(gcn)
    return TorchSide(python=sys.executable, scripts=str(scripts), efficientpose_repo=str(tmp_path),
                     movementoutcome_repo=str(tmp_path), compile=compile)


def _printing(*records) -> str:
    return "import json\n" + "".join(f"print(json.dumps({r!r}))\n" for r in records)


def test_torch_error_records_become_notes_and_marked_jax_rows(tmp_path):
    """pose_torch.py's error records (what every CUDA forward of the official EfficientPose gave on the H100, before
    pose_torch.py built its CPU-made tensors on the device) name model, batch, form and error in the table and the
    record; a figure printed for one form still becomes its row."""
    from infantjax.bench import Row
    from infantjax.bench.headline import _pose_torch

    err = "RuntimeError: Expected all tensors to be on the same device, but found at least two devices, cuda:0 and cpu!"
    side = _fake_torch_side(tmp_path, compile=True, pose=_printing(
        {"model": "rt", "batch": 1, "form": "eager", "error": err},
        {"model": "rt", "batch": 16, "form": "eager", "error": err},
        {"model": "rt", "compile_error": "backend refused"},
        {"model": "i", "batch": 16, "form": "eager", "seconds": 0.5, "device": "cpu", "dtype": "float32"}))
    run = Run("unit", measure_matmul=False, partial_json=tmp_path / "partial.json")
    rows = {("rt", 1): run.add(Row("pose RT forward, batch 1", 0.1, [0.1], 1, "images")),
            ("rt", 16): run.add(Row("pose RT forward, batch 16", 0.2, [0.2], 16, "images")),
            ("i", 16): run.add(Row("pose I forward, batch 16", 0.25, [0.25], 16, "images"))}
    _pose_torch(run, side, rows)
    record = run.finish(tmp_path / "r.json")
    text = run.table()
    assert [r["name"] for r in record["rows"]][3:] == ["  PyTorch (official) I, batch 16 (eager)"]
    notes = record["notes"]
    assert len(notes) == 3 and all(n in text for n in notes)
    cuda = next(n for n in notes if "cuda:0 and cpu" in n)
    assert "RT, batch 1 (eager)" in cuda and "RT, batch 16 (eager)" in cuda  # one note per distinct error
    assert "RT, batch 1 (compiled); PyTorch (official) RT, batch 16 (compiled): torch.compile: backend refused" in \
        text
    assert "I, batch 16 (compiled): pose_torch.py printed no figure for it" in text
    by_name = {r["name"]: r for r in record["rows"]}
    assert by_name["pose RT forward, batch 1"]["torch_error_eager"] == err
    assert by_name["pose I forward, batch 16"]["speedup_vs_torch_eager"] == pytest.approx(2.0)
    assert "torch_error_compiled" in by_name["pose I forward, batch 16"]
    assert json.loads((tmp_path / "r.json").read_text())["notes"] == notes


def test_gcn_torch_errors_and_a_failing_script_are_visible(tmp_path):
    """gcn_torch.py: an error record for a model (no kind: both the step and the forward) and a script that exits
    non-zero (before: a ConfigError that ended the whole bench) become notes; the other rows stand."""
    from infantjax.bench import Row
    from infantjax.bench.headline import _gcn_torch

    specs = [("Table A.4 #1", "1", None), ("Table A.4 #7", "7", None)]
    side = _fake_torch_side(tmp_path, gcn=_printing(
        {"model": "1", "form": "eager", "batch": 8, "error": "OutOfMemoryError: CUDA out of memory"},
        {"model": "7", "kind": "train_step", "form": "eager", "batch": 8, "seconds": 0.3},
        {"model": "7", "kind": "forward", "form": "eager", "batch": 8, "seconds": 0.1}))
    run = Run("unit", measure_matmul=False)
    rows = {(k, kind): run.add(Row(f"{k} {kind}", 0.1, [0.1], 8, "windows"))
            for _, k, _ in specs for kind in ("train_step", "forward")}
    _gcn_torch(run, side, specs, 8, rows)
    assert len(run.rows) == 6 and run.notes == [
        ("no figure for PyTorch (official) Table A.4 #1 train step, batch 8 (eager); PyTorch (official) Table A.4 #1 "
         "forward, batch 8 (eager): OutOfMemoryError: CUDA out of memory")]
    assert rows[("7", "forward")].extra["speedup_vs_torch_eager"] == pytest.approx(1.0)

    broken = _fake_torch_side(tmp_path, gcn="import sys\nsys.exit('no module named torch')\n")
    run = Run("unit", measure_matmul=False)
    rows = {(k, kind): run.add(Row(f"{k} {kind}", 0.1, [0.1], 8, "windows"))
            for _, k, _ in specs for kind in ("train_step", "forward")}
    _gcn_torch(run, broken, specs, 8, rows)
    assert len(run.rows) == 4 and len(run.notes) == 1
    assert "gcn_torch.py failed (exit 1): no module named torch" in run.notes[0]
    assert all("torch_error_eager" in r.extra for r in rows.values())
    assert "note: no figure for PyTorch (official) Table A.4 #1 train step" in run.table()


def test_bench_json_keeps_the_rows_of_a_case_before_one_that_raises(tmp_path, monkeypatch):
    """run_headline writes the record after every row and case: a later case that raises (or aborts the process)
    leaves the earlier rows on disk, with what was running; a finished run writes the final record as before."""
    from infantjax.bench import Row
    from infantjax.bench.headline import CASES, run_headline

    def first(run, sizes, torch):
        run.add(Row("first case row", 0.1, [0.1], 1, "calls"))

    def second(run, sizes, torch):
        run.add(Row("second case row", 0.2, [0.2], 1, "calls"))
        on_disk = json.loads((tmp_path / "bench.json").read_text())  # flushed before the case ends
        assert [r["name"] for r in on_disk["rows"]] == ["first case row", "second case row"]
        assert on_disk["partial"] == {"done": ["pose"], "running": "gcn"}
        raise RuntimeError("compiler crash")

    monkeypatch.setitem(CASES, "pose", first)
    monkeypatch.setitem(CASES, "gcn", second)
    with pytest.raises(RuntimeError, match="compiler crash"):
        run_headline(["pose", "gcn"], json_path=tmp_path / "bench.json", matmul=False)
    on_disk = json.loads((tmp_path / "bench.json").read_text())
    assert [r["name"] for r in on_disk["rows"]] == ["first case row", "second case row"]
    assert on_disk["partial"] == {"done": ["pose"], "running": None, "failed": "gcn",
                                  "error": "RuntimeError: compiler crash"}

    monkeypatch.setitem(CASES, "gcn", first)
    record, _ = run_headline(["pose", "gcn"], json_path=tmp_path / "bench.json", matmul=False)
    on_disk = json.loads((tmp_path / "bench.json").read_text())
    assert "partial" not in on_disk and "notes" not in on_disk and on_disk == json.loads(json.dumps(record))
    assert len(on_disk["rows"]) == 2 and not list(tmp_path.glob("*.tmp*"))


def test_torch_figures_land_in_the_partial_record_while_the_script_runs(tmp_path, monkeypatch):
    """Each PyTorch figure is added (and the partial record written) as the script prints it: a script that later
    fails or is interrupted (the step's time limit) keeps the figures it printed, and the rest are noted."""
    from infantjax.bench import Row, headline

    partial = tmp_path / "partial.json"
    figure = {"model": "rt", "batch": 1, "form": "eager", "seconds": 0.2}
    side = _fake_torch_side(tmp_path, pose=_printing(figure) + (
        "import pathlib, sys, time\n"
        f"path = pathlib.Path({str(partial)!r})\n"
        "for _ in range(200):\n"
        "    if path.exists() and 'PyTorch (official) RT, batch 1' in path.read_text():\n"
        "        sys.exit('saw its row in the partial record')\n"
        "    time.sleep(0.05)\n"
        "sys.exit('its row never reached the partial record')\n"))
    run = Run("unit", measure_matmul=False, partial_json=partial)
    rows = {("rt", 1): run.add(Row("pose RT forward, batch 1", 0.1, [0.1], 1, "images")),
            ("rt", 16): run.add(Row("pose RT forward, batch 16", 0.2, [0.2], 16, "images"))}
    headline._pose_torch(run, side, rows)
    assert [r.name for r in run.rows][2:] == ["  PyTorch (official) RT, batch 1 (eager)"]
    assert run.notes == [("no figure for PyTorch (official) RT, batch 16 (eager): --compare-torch: pose_torch.py "
                          "failed (exit 1): saw its row in the partial record")]

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(headline, "_torch_row", interrupted)
    side = _fake_torch_side(tmp_path, pose=_printing(figure) + "import time\ntime.sleep(60)\n")
    run = Run("unit", measure_matmul=False, partial_json=partial)
    rows = {("rt", 1): run.add(Row("pose RT forward, batch 1", 0.1, [0.1], 1, "images")),
            ("rt", 16): run.add(Row("pose RT forward, batch 16", 0.2, [0.2], 16, "images"))}
    with pytest.raises(KeyboardInterrupt):
        headline._pose_torch(run, side, rows)  # the script (sleeping a minute) is ended, not waited for
    assert json.loads(partial.read_text())["notes"] == [
        "no figure for PyTorch (official) RT, batch 16 (eager): interrupted before it was measured"]


def test_collectives_are_read_from_hlo_text():
    from infantjax.bench.readers import collectives

    text = """
  %all-gather-start.1 = ((bf16[4,8]{1,0}), (bf16[32,8]{1,0})) all-gather-start(%p), dimensions={0}
  %all-gather-done.1 = bf16[32,8]{1,0} all-gather-done(%all-gather-start.1)
  %all-reduce.2 = f32[10]{0} all-reduce(%x), to_apply=%add
  ROOT %all-reduce-start = (f32[], f32[3]{0}) all-reduce-start(%a, %b), to_apply=%add
"""
    assert collectives(text) == {"all-gather": {"count": 1, "bytes": 512},
                                 "all-reduce": {"count": 2, "bytes": 40 + 4 + 12}}


def test_tile_padding_is_read_from_tpu_layouts():
    from infantjax.bench.readers import tile_padding

    text = """HloModule m

%fused_computation.1 (p: bf16[8,150,19,40]) -> bf16[8,150,19,40] {
  %p = bf16[8,150,19,40]{1,2,3,0:T(8,128)(2,1)} parameter(0)
  ROOT %inner = bf16[8,150,19,40]{1,2,3,0:T(8,128)(2,1)} negate(%p)
}

ENTRY %main (a: bf16[8,150,19,40]) -> (bf16[8,150,19,40], f32[10]) {
  %a = bf16[8,150,19,40]{1,2,3,0:T(8,128)(2,1)} parameter(0)
  %fusion.1 = bf16[8,150,19,40]{1,2,3,0:T(8,128)(2,1)} fusion(%a), kind=kLoop, calls=%fused_computation.1
  %conv = bf16[22800,40]{1,0:T(8,128)(2,1)} custom-call(%fusion.1)
  %vmem = f32[10]{0:T(128)S(1)} reduce(%conv)
  %small = f32[10]{0:T(128)} copy(%vmem)
  ROOT %t = (bf16[8,150,19,40]{1,2,3,0:T(8,128)(2,1)}, f32[10]{0:T(128)}) tuple(%fusion.1, %small)
}
"""
    pad = tile_padding(text)
    # (150 -> 256 lanes) x (19 -> 24 sublanes); 40 channels -> 128 lanes; 10 -> 128; the fusion body, the
    # parameter, the tuple and the on-chip (S(1)) buffer are not HBM buffers written by the program
    a = 2 * 8 * 150 * 19 * 40
    assert pad["logical"] == a + a + 40
    assert pad["tiled"] == 2 * 8 * 256 * 24 * 40 + 2 * 22800 * 128 + 4 * 128
    assert pad["largest"][0] == {"shape": "bf16[22800,40]{1,0:T(8,128)(2,1)}", "logical": a,
                                 "tiled": 2 * 22800 * 128, "count": 1}
    assert tile_padding(text.replace(":T(8,128)(2,1)", "").replace(":T(128)", "")) is None  # GPU/CPU layouts
    assert pad["opaque"] == 0
    assert pad["dtypes"] == {"bf16": a + a, "f32": 40}  # the logical bytes by element type
    # XLA:TPU for v6e packs arrays into flat byte buffers: their bytes are opaque, kept out of the ratio
    packed = text.replace("  %small =", "  %packed = s8[31457280]{0:T(1024)(128)(4,1)} custom-call(%conv)\n  %small =")
    assert tile_padding(packed) == {**pad, "opaque": 31457280}


def test_cost_analysis_reads_one_dict_or_none():
    """XLA's cost analysis as one dict: a jitted program's FLOPs, an older JAX's list (the first), an executable
    without a cost model (compile-only executables) ``{}``."""
    from infantjax.bench.readers import cost_analysis

    x = jnp.ones((8, 8))
    cost = cost_analysis(jax.jit(lambda a: a @ a).lower(x).compile())
    assert cost["flops"] == pytest.approx(2 * 8**3, rel=0.1)

    class Listed:
        def cost_analysis(self):
            return [{"flops": 3.0}, {"flops": 5.0}]

    class Refusing:
        def cost_analysis(self):
            raise NotImplementedError("compile-only")

    assert cost_analysis(Listed()) == {"flops": 3.0} and cost_analysis(Refusing()) == {}


@contextlib.contextmanager
def _benchmarks_on_path():
    """benchmarks/ on sys.path while a benchmark script runs (they import one another as scripts do)."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        yield
    finally:
        sys.path.remove(str(REPO / "benchmarks"))


def _benchmark(name: str):
    """A script of benchmarks/ loaded as a module."""
    import importlib.util

    with _benchmarks_on_path():
        spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return module


def test_gpu_probes_check_their_forms_and_derive_the_launch_cost(tmp_path):
    """benchmarks/gpu_probes.py (run by benchmarks/gpu_suite.sh goals) at its CPU size: every probe runs, every
    reduction form gives the sums of the form as written (in another order), and the record derives a launch cost
    with and without command buffers and each form's time relative to the form as written."""
    gpu_probes = _benchmark("gpu_probes")
    out = tmp_path / "probes.json"
    with _benchmarks_on_path():
        assert gpu_probes.main(["--quick", "--json", str(out), "--repeats", "2", "--warmup", "1"]) == 0
    record = json.loads(out.read_text())
    rows = {r["name"]: r for r in record["rows"]}
    assert set(rows) == set(gpu_probes.probes("quick")) and not [r for r in rows.values() if "error" in r]
    compared = {n: r["max_relative_difference"] for n, r in rows.items() if "equal_to" in r}
    assert set(compared) == {"bn-grouped-160", "bn-grouped-600", "bn-grouped-2560", "bn-channels-first",
                             "pool-grouped-600", "pool-two-levels", "pool-channels-first"}
    assert max(compared.values()) < 1e-5, compared
    assert rows["copy"]["bytes"] == 2 * 2 * (1 << 16)  # bfloat16 read and written once
    derived = record["derived"]
    assert {"launch_s", "launch_s_no_command_buffers", "bn_relative_time", "pool_relative_time"} <= set(derived)
    assert derived["bn_relative_time"]["bn-as-written"] == 1.0 and len(derived["pool_relative_time"]) == 4
    assert record["environment"]["load_average_1min_end"] is None or record["environment"]["load_average_1min_end"] >= 0


# A GPU trace as the profiler writes it, by hand: a derived "XLA Ops" line (one event per HLO operation) on one
# device, kernels annotated with their operation on another (XLA's thunk annotation, and an hlo_op stat)
_GPU_TRACE = """
planes { id: 1 name: "/device:GPU:0"
  lines { id: 1 name: "XLA Ops" timestamp_ns: 1000
    events { metadata_id: 1 offset_ps: 0 duration_ps: 4000000 }
    events { metadata_id: 2 offset_ps: 10000000 duration_ps: 2000000 } }
  event_metadata { key: 1 value { id: 1 name: "fusion.3" } }
  event_metadata { key: 2 value { id: 2 name: "cublas-gemm.1" } } }
"""
_ANNOTATED_TRACE = """
planes { id: 1 name: "/device:GPU:0"
  lines { id: 1 name: "Stream #13(Compute)" timestamp_ns: 1000
    events { metadata_id: 1 offset_ps: 0 duration_ps: 4000000 stats { metadata_id: 7 str_value:
      "Thunk:#hlo_op=fusion.3,hlo_module=jit_step,program_id=4#" } }
    events { metadata_id: 2 offset_ps: 10000000 duration_ps: 2000000 stats { metadata_id: 8 str_value:
      "cublas-gemm.1" } }
    events { metadata_id: 3 offset_ps: 13000000 duration_ps: 1000000 } }
  event_metadata { key: 1 value { id: 1 name: "loop_add_fusion_3" } }
  event_metadata { key: 2 value { id: 2 name: "sm90_xmma_gemm_bf16" } }
  event_metadata { key: 3 value { id: 3 name: "memset" } }
  stat_metadata { key: 7 value { id: 7 name: "kernel_annotation" } }
  stat_metadata { key: 8 value { id: 8 name: "hlo_op" } } }
"""


def test_kernel_profile_reads_device_traces_and_sets_each_kernel_beside_the_model():
    """benchmarks/kernel_profile.py on GPU traces written by hand: the operations come from the XLA Ops line where
    there is one, else from the kernels' annotations (an unannotated kernel is left out); joined to a listing by
    name, each class gets its measured time, bytes and the model's prediction, and the call its idle time."""
    from jax._src.lib import _profile_data

    from infantjax.aot import costmodel

    kp = _benchmark("kernel_profile")
    expected = [("fusion.3", 1000, 5000), ("cublas-gemm.1", 11000, 13000)]
    for text, source in ((_GPU_TRACE, "device: XLA Ops line"), (_ANNOTATED_TRACE, "device: kernel annotations")):
        got_source, events = kp.read_ops(_profile_data.ProfileData.from_text_proto(text))
        assert got_source == source and sorted(events) == sorted(expected)
    bare = _GPU_TRACE.replace('name: "XLA Ops"', 'name: "Stream #7"')  # kernels the profiler could not attribute
    assert kp.read_ops(_profile_data.ProfileData.from_text_proto(bare)) == ("device: no kernel events in the trace", [])
    ops = {"fusion.3": {"seconds": 4e-6, "events": 1}, "cublas-gemm.1": {"seconds": 2e-6, "events": 1},
           "copy.9": {"seconds": 1e-6, "events": 1}}
    traced = {"source": "device: XLA Ops line", "calls": 1, "ops": ops, "span_s": 12e-6, "busy_s": 7e-6}
    listing = [{"name": "fusion.3", "kind": "loop fusion", "bytes": 4e6, "shape": "bf16[1000,1000]"},
               {"name": "cublas-gemm.1", "kind": "gemm", "bytes": 1e6, "flops": 2e9, "shape": "bf16[500,500]"},
               {"name": "fusion.4", "kind": "loop fusion", "bytes": 1e6, "count": 2, "shape": "bf16[10]"}]
    model = costmodel.load().on_device("H200")
    table = kp.compare(listing, traced, model)
    gemm, elementwise = table["by_class"]["gemm"], table["by_class"]["elementwise"]
    assert gemm["measured_s"] == 2e-6 and gemm["tflops"] == pytest.approx(1000.0)
    assert elementwise["count"] == 3 and elementwise["unmeasured"] == 2 and elementwise["measured_s"] == 4e-6
    assert elementwise["bandwidth_fraction"] == pytest.approx(4e6 / (4e-6 * model.hbm_tb_s * 1e12))
    predicted = sum(model.kernel_seconds(k)[0] + max(model.kernel_seconds(k)[1:]) for k in listing[:2])
    assert gemm["predicted_s"] + elementwise["predicted_s"] == pytest.approx(
        predicted + 2 * (model.kernel_seconds(listing[2])[0] + max(model.kernel_seconds(listing[2])[1:])))
    assert table["other_ops"] == {"copy.9": 1e-6} and table["unmeasured_launches"] == 2
    assert table["idle_s"] == pytest.approx(5e-6) and [k["name"] for k in table["top"]] == ["fusion.3", "cublas-gemm.1"]
    assert "idle 0.01 ms" in kp.line(table)


def test_gpu_forms_profiles_its_program_and_the_table_shows_it(tmp_path):
    """benchmarks/gpu_forms.py --profile (run by benchmarks/gpu_suite.sh goals) at its CPU size: the program is
    traced, nearly all of its operations' time joins its kernel listing, and gpu_table.py renders the classes."""
    gpu_forms, gpu_table = _benchmark("gpu_forms"), _benchmark("gpu_table")
    out = tmp_path / "forms.json"
    with _benchmarks_on_path():
        assert gpu_forms.main(["--quick", "--rows", "a4-forward", "--forms", "today", "--repeats", "1",
                               "--warmup", "1", "--profile", "1", "--json", str(out),
                               "--hlo", str(tmp_path / "hlo-forms.tgz")]) == 0
    (row,) = json.loads(out.read_text())["rows"]
    assert "error" not in row, row.get("error")
    p = row["profile"]
    assert p["source"] == "host: XLA:CPU thunks" and p["matched_s"] > 0
    assert p["other_ops_s"] < 0.1 * p["matched_s"]
    assert sum(e["measured_s"] for e in p["by_class"].values()) == pytest.approx(p["matched_s"])
    assert p["span_s"] >= p["busy_s"] > 0 and p["top"][0]["measured_s"] >= p["top"][-1]["measured_s"]
    text = "\n".join(gpu_table.bench_table(out))
    assert "each kernel in the profiler's trace" in text and "| elementwise |" in text
    # the kernel fit of benchmarks/gpu_costmodel.py --profiles reads the record and its HLO archive (the CPU's
    # times stand in for a GPU's: only the plumbing is checked)
    record = json.loads(out.read_text())
    record["environment"]["device"] = "H100 (a CPU standing in)"
    out.write_text(json.dumps(record))
    gpu_costmodel = _benchmark("gpu_costmodel")
    with _benchmarks_on_path():
        assert gpu_costmodel.main(["--out", str(tmp_path / "fit"), "--profiles", str(out)]) == 0
    fit = json.loads((tmp_path / "fit" / "profile-fit.json").read_text())
    assert fit["kernels"] == len(p["measured"]) > 0
    assert fit["launch_s"]["kernel_fit"] == pytest.approx(fit["floor_s"] + fit["idle_per_launch_s"])
    (program,) = fit["programs"]
    assert program["measured_s"] == row["median_s"] and program["kernel_fit_s"] > 0


def test_flat_parameter_state_gives_the_engine_step_s_updates():
    """benchmarks/gpu_flat_params.py: the training step with the parameters held in one flat vector (the GPU
    experiment that puts the update in one kernel) changes the parameters exactly as the engine's step does."""
    gpu_flat_params = _benchmark("gpu_flat_params")
    difference, change = gpu_flat_params.check()
    assert change > 0 and difference <= 1e-6 * change


def test_what_if_changes_only_the_named_class_rates(tmp_path, capsys):
    """benchmarks/gpu_what_if.py: a program's kernels predicted under changed class rates move by exactly the
    kernels of those classes; an assignment the model cannot take is an error naming it."""
    from infantjax.aot import costmodel

    gpu_what_if = _benchmark("gpu_what_if")
    gemm = {"name": "dot", "kind": "gemm", "shape": "bf16[4096,760]", "bytes": 1e6, "flops": 1e12, "count": 1}
    narrow = {"name": "pool", "kind": "reduce", "shape": "f32[512,40]", "bytes": 8e9, "flops": 0.0,
              "reduce_width": 40, "count": 2}
    wide = {"name": "stats", "kind": "reduce", "shape": "f32[600]", "bytes": 8e9, "flops": 0.0, "reduce_width": 600}
    record = {"rows": [{"key": "x", "label": "a program", "forms": "today", "listing": [gemm, narrow, wide]},
                       {"key": "y", "forms": "today"}]}  # a measured row keeps no listing: left out
    model = costmodel.load().on_device("H100")
    lines, figures = gpu_what_if.report(record, ("H100",), ["gemm.compute=1", "reduce-narrow.bandwidth=reduce"],
                                        calls=10)
    shipped, fast_gemm, fast_pool = figures
    assert shipped["scenario"] is None and shipped["seconds"] == pytest.approx(model.predict(record["rows"][0]
                                                                                             ["listing"]).seconds)
    assert fast_gemm["by_class_s"]["gemm"] == pytest.approx(model.launch_s + 1e12 / (989e12), rel=1e-3)
    assert fast_gemm["by_class_s"]["reduce-narrow"] == shipped["by_class_s"]["reduce-narrow"]
    # the narrow reductions at the wide ones' rate: each costs what the wide reduction of the same bytes costs
    assert fast_pool["by_class_s"]["reduce-narrow"] == pytest.approx(2 * fast_pool["by_class_s"]["reduce"])
    assert fast_pool["by_class_s"]["reduce-narrow"] < shipped["by_class_s"]["reduce-narrow"]
    assert fast_pool["total_s"] == pytest.approx(10 * fast_pool["seconds"])
    assert all(f["estimate"] for f in figures) and any("as calibrated" in line for line in lines)
    for bad, words in (("gemm.speed=2", "CLASS.bandwidth"), ("tensor.compute=0.5", "no compute fraction"),
                       ("gemm.compute=1.5", "(0, 1]"), ("gemm.compute=fast", "neither a fraction")):
        with pytest.raises(ValueError, match=re.escape(words)):
            gpu_what_if.scenario(model, bad)
    path = tmp_path / "est.json"
    path.write_text(json.dumps({"rows": [{"key": "y"}]}))
    assert gpu_what_if.main([str(path)]) == 2
    assert "--compile-for" in capsys.readouterr().err


def test_what_if_takes_the_fixed_costs_in_seconds():
    """benchmarks/gpu_what_if.py: ``launch_s`` and ``call_s`` replace the model's fixed costs (the launches a CUDA
    graph might make cheap), and take seconds only."""
    from infantjax.aot import costmodel

    gpu_what_if = _benchmark("gpu_what_if")
    model = costmodel.load().on_device("H100")
    listing = [{"name": "add", "kind": "elementwise", "shape": "bf16[8]", "bytes": 16.0, "flops": 0.0, "count": 100}]
    cheap = gpu_what_if.scenario(model, "launch_s=1e-6, call_s=0")
    assert (cheap.launch_s, cheap.call_s) == (1e-6, 0.0)
    assert model.predict(listing).seconds - cheap.predict(listing).seconds == pytest.approx(
        100 * (model.launch_s - 1e-6) + model.call_s)
    for bad in ("launch_s=fast", "call_s=-1"):
        with pytest.raises(ValueError, match="launch_s|call_s"):
            gpu_what_if.scenario(model, bad)


# ------------------------------------------------------------------ the perturbation suite's videos
def test_perturbation_variants_do_to_the_pixels_what_their_names_say(tmp_path, ffmpeg):
    """benchmarks/perturb.py's FFmpeg variants of a video: head-down turns the pixels 180° (read as stored),
    the display tag turns them back for the reader, sideways swaps height and width, grey has no colour, 15 fps
    halves the frames, the blanket covers the lower 45 %; every variant is written whole or not at all."""
    import importlib.util

    from infantjax.io import open_video, write_video

    spec = importlib.util.spec_from_file_location("bench_perturb", REPO / "benchmarks" / "perturb.py")
    perturb = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(perturb)
    frames = np.zeros((30, 48, 64, 3), np.uint8)
    frames[:, :24, :32] = (220, 40, 40)  # a red top-left quarter
    frames[:, 24:, 32:] = (40, 200, 40)  # a green bottom-right quarter
    src = write_video(tmp_path / "src.mp4", frames, fps=30.0)

    def read(name):
        dst = tmp_path / name / "src.mp4"
        perturb.make_variant(src, dst, name)
        assert not list(dst.parent.glob(".*"))  # no temporary left
        with open_video(dst) as v:
            return np.concatenate([f for _, f in v.iter_chunks(30)]).astype(int), v

    down, _ = read("head-down")
    assert down[0, 40, 56, 0] > 150 and down[0, 8, 8, 1] > 150  # red now bottom-right, green top-left
    tagged, video = read("tag-180")
    assert video.rotation == 180 and tagged[0, 8, 8, 0] > 150  # the reader turns it upright again
    side, _ = read("sideways")
    assert side.shape[1:3] == (64, 48)
    grey, _ = read("grey")
    assert np.abs(grey[..., 0] - grey[..., 1]).max() <= 6
    slow, _ = read("fps15")
    assert 14 <= len(slow) <= 16
    covered, _ = read("blanket")
    assert np.ptp(covered[0, 30:, :, 1]) <= 12 and covered[0, 8, 8, 0] > 150  # lower part one colour
    assert set(perturb.PERTURBATIONS) >= {"mirrored", "grey", "compressed", "head-down", "blanket", "arm", "shake"}
