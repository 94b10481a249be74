"""One search worker per accelerator (issue 19): ``search run --workers auto`` starts one process per local device,
each seeing only its own device (environment set before the process imports JAX)."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

from infantjax.nas.worker import TPU_PORT_BASE, device_env, local_accelerators

REPO = pathlib.Path(__file__).resolve().parents[1]


def test_device_env_shows_each_process_one_device():
    assert device_env("cuda", "3", 1) == {"CUDA_VISIBLE_DEVICES": "3"}
    tpu = device_env("tpu", "2", 2)
    assert tpu["TPU_VISIBLE_CHIPS"] == "2" and tpu["TPU_PROCESS_BOUNDS"] == "1,1,1"
    assert tpu["TPU_CHIPS_PER_PROCESS_BOUNDS"] == "1,1,1"
    assert tpu["TPU_MESH_CONTROLLER_PORT"] == str(TPU_PORT_BASE + 2)  # a port of its own per process
    assert device_env("cpu", "0", 0)["XLA_FLAGS"].endswith("--xla_force_host_platform_device_count=1")


def test_local_accelerators_without_starting_jax(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,5")
    assert local_accelerators() == ("cuda", ["4", "5"])
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    monkeypatch.setenv("TPU_VISIBLE_CHIPS", "0,1,2,3")
    monkeypatch.delenv("JAX_PLATFORMS", raising=False)
    assert local_accelerators() == ("tpu", ["0", "1", "2", "3"])
    monkeypatch.delenv("TPU_VISIBLE_CHIPS")
    monkeypatch.setenv("JAX_PLATFORMS", "cpu")
    monkeypatch.setenv("XLA_FLAGS", "--xla_force_host_platform_device_count=3")
    assert local_accelerators() == ("cpu", ["0", "1", "2"])


def test_workers_auto_starts_one_worker_per_cpu_device_each_seeing_one(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INFANTJAX_", "PYTEST_"))}
    # the repository first, then whatever path the packages come from (the lent GPU machine installs them into
    # a folder on PYTHONPATH: benchmarks/gpu_suite.sh)
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    env.update(XLA_FLAGS="--xla_force_host_platform_device_count=3", JAX_PLATFORMS="cpu", CUDA_VISIBLE_DEVICES="",
               PYTHONPATH=path)
    env.pop("TPU_VISIBLE_CHIPS", None)
    out = subprocess.run([sys.executable, "-m", "infantjax", "search", "run", "--storage",
                          str(tmp_path / "s.journal"), "--name", "auto", "--objective", "synthetic", "--sampler",
                          "random", "--max-trials", "6", "--epochs", "2", "--checkpoints", "none", "--workers",
                          "auto"], env=env, capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    reports = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    assert len(reports) == 3  # one worker per fake CPU device
    assert [r["devices"] for r in reports] == [["cpu:0"]] * 3  # each saw only its own device
    assert sorted(n for r in reports for n in r["finished"]) == list(range(6))
    assert "trials: complete 6" in out.stdout
