"""Multi-process JAX on one machine (issue 19): 2 and 4 CPU processes over loopback, each with 2 fake devices and
Gloo collectives, train a 7-fold ensemble stack and score a cohort exactly as one process with as many devices
does; and no host read of a sharded array is left outside ``parallel.to_host``."""

from __future__ import annotations

import os
import pathlib
import re
import socket
import subprocess
import sys

import numpy as np
import pytest

from infantjax import parallel

REPO = pathlib.Path(__file__).resolve().parents[1]
JOB = REPO / "tests" / "_multiprocess_job.py"
TIMEOUT = 900


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(devices: int) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INFANTJAX_", "PYTEST_"))}
    # XLA_FLAGS of the test process (8 devices) replaced: each process gets its own fake device count
    env.update(XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}", JAX_PLATFORMS="cpu",
               OMP_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p))
    return env


def _launch(out: pathlib.Path, processes: int, devices_per_process: int):
    """Start the job in ``processes`` processes (one coordinator on loopback); returns a function that waits for
    them and returns process 0's results."""
    args = [sys.executable, str(JOB), str(out)]
    if processes > 1:
        address = f"127.0.0.1:{_free_port()}"
        ranks = [["--coordinator", address, "--num-processes", str(processes), "--process-id", str(i)]
                 for i in range(processes)]
    else:
        ranks = [[]]
    procs = [subprocess.Popen(args + rank, env=_env(devices_per_process), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for rank in ranks]

    def wait() -> dict:
        outputs = []
        try:
            for p in procs:
                outputs.append(p.communicate(timeout=TIMEOUT)[0])
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
        for i, (p, text) in enumerate(zip(procs, outputs)):
            assert p.returncode == 0, f"process {i} of {processes} failed:\n{text[-4000:]}"
        with np.load(out) as data:
            return dict(data)

    return wait


def _compare(multi: dict, single: dict) -> None:
    assert set(multi) == set(single)
    for key in sorted(multi):
        if key == "devices":
            continue
        np.testing.assert_allclose(multi[key], single[key], rtol=2e-5, atol=2e-6, err_msg=key)


@pytest.mark.multiprocess
@pytest.mark.slow
@pytest.mark.parametrize("processes", [2, 4])
def test_processes_train_and_score_like_one_process(tmp_path, processes):
    """N processes × 2 devices give the parameters and predictions of 1 process × 2N devices (same seed)."""
    wait_multi = _launch(tmp_path / "multi.npz", processes, 2)
    wait_single = _launch(tmp_path / "single.npz", 1, 2 * processes)  # at the same time: the test's wall clock
    multi, single = wait_multi(), wait_single()
    assert multi["devices"].tolist() == [2 * processes, 2, processes]
    assert single["devices"].tolist() == [2 * processes, 2 * processes, 1]
    assert multi["probabilities"].shape == (2, 3, 7)  # 2 recordings × 3 windows × 7 fold instances
    _compare(multi, single)


def test_initialize_is_opt_in_and_checks_its_arguments(monkeypatch):
    for var in ("INFANTJAX_DISTRIBUTED", parallel.COORDINATOR_ENV, parallel.NUM_PROCESSES_ENV,
                parallel.PROCESS_ID_ENV):
        monkeypatch.delenv(var, raising=False)
    assert parallel.initialize() is False
    from infantjax.errors import ConfigError

    with pytest.raises(ConfigError, match="--num-processes and --process-id"):
        parallel.initialize(coordinator="127.0.0.1:1234")
    with pytest.raises(ConfigError, match="--process-id 3 must be in 0"):
        parallel.initialize(coordinator="127.0.0.1:1234", num_processes=2, process_id=3)


def test_cli_rejects_process_options_without_coordinator(capsys):
    from infantjax import cli

    assert cli.main(["--num-processes", "2", "info"]) == 2
    assert "--coordinator" in capsys.readouterr().err


def test_one_process_gathers_and_places_as_before():
    """With one process to_global is the identity and to_host a device_get (the single-process path unchanged)."""
    import jax

    mesh = parallel.instance_mesh(8)
    x = np.arange(16, dtype=np.float32).reshape(8, 2)
    assert parallel.to_global(x, parallel.instance_sharding(mesh)) is x
    placed = jax.device_put(x, parallel.instance_sharding(mesh))
    out = parallel.to_host({"a": placed})
    assert isinstance(out["a"], np.ndarray)
    np.testing.assert_array_equal(out["a"], x)


#: file → the functions where a host read is allowed, and why
_ALLOWED = {
    "infantjax/parallel.py": "to_host: the gather helper itself",
    "infantjax/infer/pose.py": "pose variables are replicated host parameters, never sharded",
}
_SHARDED_MODULES = ("infantjax/train/engine.py", "infantjax/infer/ensemble.py", "infantjax/ensemble.py")


def test_no_host_read_of_sharded_arrays_outside_the_gather_helpers():
    """The engine and the ensemble (whose programs are sharded over the mesh) read results only through
    parallel.to_host; elsewhere a host read is only in the files listed with their reason."""
    offenders = []
    for path in sorted((REPO / "infantjax").rglob("*.py")):
        rel = path.relative_to(REPO).as_posix()
        for number, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            if rel in _SHARDED_MODULES:
                # in the sharded modules no device_get at all, and np.asarray only of host data
                if "device_get(" in code or re.search(r"np\.asarray\((p|c|loss|losses|state|best|current)\)", code):
                    offenders.append(f"{rel}:{number}: {line.strip()}")
            elif "jax.device_get(" in code and rel not in _ALLOWED:
                offenders.append(f"{rel}:{number}: {line.strip()}")
    assert not offenders, "host reads of device arrays outside parallel.to_host:\n" + "\n".join(offenders)


@pytest.mark.multiprocess
@pytest.mark.slow  # well under a minute, but kept out of the default run's time budget; CI's multiprocess step runs it
def test_cli_global_options_start_one_multiprocess_job():
    """``infantjax --coordinator … --num-processes 2 --process-id i info`` in two processes: each sees the 4
    devices of the job (2 of its own) and a process count of 2."""
    address = f"127.0.0.1:{_free_port()}"
    procs = [subprocess.Popen([sys.executable, "-m", "infantjax", "--coordinator", address, "--num-processes", "2",
                               "--process-id", str(i), "info"], env=_env(2), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for i in range(2)]
    try:
        outputs = [p.communicate(timeout=300)[0] for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, text in zip(procs, outputs):
        assert p.returncode == 0, text[-3000:]
        devices = re.search(r"^devices\s+(.*)$", text, re.MULTILINE)
        assert devices and len(devices.group(1).split(", ")) == 4, text  # the job's devices, not only its own 2
        assert re.search(r"^process count\s+2$", text, re.MULTILINE), text
