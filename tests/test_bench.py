"""The benchmark harness and ``infantjax bench``: medians after warm-up, XLA figures, the record's layout."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import pytest

from infantjax.bench import Run, median_time, program_stats
from infantjax.bench.headline import CASES
from infantjax.commands.bench import CASE_NAMES


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
        assert {"layer1", "layer2", "layer3", "layer4", "layer5", "output"} <= set(levels), levels
        assert all(v > 0 for v in levels.values())
        assert record["results"][kind]["step_wall_s"] > 0
