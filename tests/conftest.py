"""Test set-up: 8 fake CPU devices for every test (set before JAX is imported), float32 values on an
accelerator, markers for what a test needs, and paths to ../shared data."""

from __future__ import annotations

import os
import pathlib

# The 8 fake devices share 2 cores; a sharded step's collectives wait at a rendezvous for every device's thread, and
# XLA:CPU aborts the process ("Termination timeout ... Exiting to ensure a consistent program state") when one waits
# longer than its termination timeout. Under a heavy load a long step can exceed the default; 30 minutes cannot.
os.environ["XLA_FLAGS"] = (
    os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8"
    " --xla_cpu_collective_call_terminate_timeout_seconds=1800"
).strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")
# Most of the default run's time is XLA:CPU compiling small programs that then run for milliseconds, and most of
# that is LLVM optimising the generated code (a Table A.4 training task's initialisation: 7.0 s to compile at XLA's
# default level, 1.3 s at 0). The tests therefore compile with most optimisations off (jax_disable_most_optimizations:
# backend optimisation level 0 and no expensive LLVM passes): the same HLO, unoptimised machine code. A test file whose
# programs run long enough that optimised code pays for its compile (tracking videos, scoring the zoo's ensembles:
# the pose network runs 5-6 times faster optimised) is marked `xla_optimised` and compiles with XLA's optimisations
# on, as users do (_xla_optimisation below; the fusion emitters are the exception, below). Values can differ from
# the optimised build in the last bit (LLVM contracts a multiply and an add into one FMA only when optimising; XLA
# never enables fast-math); the tests' tolerances hold at both levels. INFANTJAX_TEST_XLA_OPT=default compiles
# everything as users do: CI's reference (parity with the official outputs) and AOT passes set it (the
# accelerator-policy pass compiles as the default run does). Only for CPU runs: a GPU run (benchmarks/gpu_suite.sh)
# compiles at XLA's default. The switch is a JAX setting, so the processes tests start inherit it as an environment
# variable.
FAST_COMPILE = (os.environ["JAX_PLATFORMS"].split(",")[0].strip() == "cpu"
                and os.environ.get("INFANTJAX_TEST_XLA_OPT", "0").strip().lower() != "default")
if FAST_COMPILE:
    os.environ["JAX_DISABLE_MOST_OPTIMIZATIONS"] = "1"


def _xla_knows(flag: str) -> bool:
    """Whether the installed jaxlib's XLA has this flag (its name is in the library): XLA aborts the process on an
    unknown flag in XLA_FLAGS, and flags come and go between releases. Read without importing JAX."""
    import importlib.util
    import mmap

    spec = importlib.util.find_spec("jaxlib")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        library = pathlib.Path(folder) / "libjax_common.so"
        if library.is_file():
            with open(library, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
                return m.find(flag.encode()) >= 0
    return False


# The other half of a small program's compile is XLA:CPU's MLIR fusion emitters, which build an MLIR context and
# its rewrite patterns for every fusion: with them off (the older loop emitters) the default run spends 38 % less
# time compiling (445 -> 276 s of XLA compiles over the run; a MAM training step 4.0 -> 2.8 s) and the run took
# 651 -> 574 s on 2 cores. Process-wide (XLA reads XLA_FLAGS once), so it holds in files marked `xla_optimised`
# too, whose optimised programs run with the older emitters; INFANTJAX_TEST_XLA_OPT=default (CI's reference and
# AOT passes) compiles exactly as users do. A flag the caller set is kept.
if FAST_COMPILE and "xla_cpu_use_fusion_emitters" not in os.environ["XLA_FLAGS"] and _xla_knows(
        "xla_cpu_use_fusion_emitters"):
    os.environ["XLA_FLAGS"] += " --xla_cpu_use_fusion_emitters=false"
os.environ.setdefault("MPLBACKEND", "Agg")
# the CLI's persistent compilation cache stays out of ~/.cache during tests (tests/test_cache.py turns it on in tmp)
os.environ.setdefault("INFANTJAX_COMPILATION_CACHE", "off")
# One compilation cache for the whole test run: JAX's persistent cache in a temporary folder that the pytest
# process (the xdist controller, or the only process with -n 0) makes before its workers start and removes at the
# end. Its workers, and the fresh interpreters and CLI subprocesses tests start, inherit the folder, so a program
# compiles once per run however many test files, workers and processes build it, while the module fixture below
# still drops the compiled programs from memory between files. Every program is kept (no minimum compile time).
# INFANTJAX_TEST_COMPILATION_CACHE=off compiles everything in every process again; a JAX_COMPILATION_CACHE_DIR set
# by the caller is used as it is.
_RUN_CACHE: str | None = None
if ("JAX_COMPILATION_CACHE_DIR" not in os.environ
        and os.environ.get("INFANTJAX_TEST_COMPILATION_CACHE", "on").strip().lower() not in ("0", "off", "false")):
    import tempfile

    _RUN_CACHE = tempfile.mkdtemp(prefix="infantjax-test-xla-")
    os.environ["JAX_COMPILATION_CACHE_DIR"] = _RUN_CACHE
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")
# On a GPU or TPU (JAX_PLATFORMS=cuda, benchmarks/gpu_suite.sh) the platform's defaults are bfloat16 compute
# (the accelerator policy) and reduced-precision float32 products (TF32 on a GPU: JAX's default matmul
# precision there). The value tests compare with float32 references (NumPy, PyTorch, Keras, the CPU forms)
# to 1e-4 or finer, which only means something in float32: they run in float32 with full-precision products,
# as on CPU. The same holds for the accelerator policy on CPU (INFANTJAX_BACKEND_POLICY=accelerator, whose
# default is bfloat16; CI's pass sets float32 itself). An explicit INFANTJAX_COMPUTE_DTYPE is kept; tests
# about bfloat16 set the dtype themselves (tests/test_mixed_precision.py), and the tests marked `gpu` see the
# platform's defaults again (_platform_defaults_for_gpu_tests below).
ON_ACCELERATOR = os.environ["JAX_PLATFORMS"].split(",")[0].strip() != "cpu"
if ON_ACCELERATOR or os.environ.get("INFANTJAX_BACKEND_POLICY", "").strip().lower() == "accelerator":
    os.environ.setdefault("INFANTJAX_COMPUTE_DTYPE", "float32")

import pytest  # noqa: E402

if ON_ACCELERATOR:
    import jax  # noqa: E402

    jax.config.update("jax_default_matmul_precision", "highest")

REPO = pathlib.Path(__file__).resolve().parents[1]


def _find_shared() -> pathlib.Path:
    env = os.environ.get("INFANTJAX_SHARED")
    if env:
        return pathlib.Path(env)
    for base in (REPO, *REPO.parents):
        cand = base / "shared"
        if (cand / "data").is_dir():
            return cand
    return REPO.parent / "shared"


SHARED = _find_shared()
DATA = SHARED / "data"


#: The test data shipped with the repository (a subset of ``../shared/data`` in the same layout; tests/data/README.md).
LOCAL = REPO / "tests" / "data"

REFERENCE_REASON = (f"reference data: only in the project's shared folder ({DATA} not found); "
                    "set INFANTJAX_SHARED=/path/to/shared to run it")


def data_file(relative: str) -> pathlib.Path:
    """A test data file: ``tests/data/<relative>`` when the repository ships it, else ``../shared/data/<relative>``.

    Only tests marked ``reference`` may need the second: they are skipped (with :data:`REFERENCE_REASON`) where no
    shared folder exists; any other test missing a file fails."""
    local = LOCAL / relative
    if local.exists():
        return local
    return DATA / relative


@pytest.fixture(scope="session")
def data_dir() -> pathlib.Path:
    """The test data folder shipped in the repository (``tests/data``; a subset of ``../shared/data``)."""
    return LOCAL


GPU_REASON = ("gpu: checks that only mean something on a GPU; run with JAX_PLATFORMS=cuda on a machine with one "
              "(benchmarks/gpu_suite.sh)")


#: What each importable name a test may need (marker ``needs``) is, for the skip reason.
PACKAGES = {"av": "PyAV, a dependency of infantjax",
            "jax2onnx": "the extra onnx: pip install 'infantjax[onnx]'",
            "onnxruntime": "the extra onnx: pip install 'infantjax[onnx]'",
            "psycopg": "the extra postgres: pip install 'infantjax[postgres]'",
            "optuna_dashboard": "in the test extra: pip install -e '.[test]'"}


def _skip_missing_packages(items) -> None:
    """Tests marked ``needs("av", ...)`` are skipped, naming the package, where one is not importable (the
    lent GPU machine carries neither PyAV's wheel nor the onnx and postgres extras). Every install of the test
    extra has them: CI sets INFANTJAX_REQUIRE_PACKAGES=1, which makes a missing one an error instead."""
    import importlib.util

    missing: dict[str, bool] = {}
    for item in items:
        for marker in item.iter_markers("needs"):
            for name in marker.args:
                if name not in missing:
                    missing[name] = importlib.util.find_spec(name) is None
                if missing[name]:
                    what = PACKAGES.get(name, "")
                    reason = (f"needs the package {name!r}" + (f" ({what})" if what else "")
                              + ", not importable here")
                    if os.environ.get("INFANTJAX_REQUIRE_PACKAGES") == "1":
                        raise pytest.UsageError(f"INFANTJAX_REQUIRE_PACKAGES=1 but {item.nodeid} {reason}")
                    item.add_marker(pytest.mark.skip(reason=reason))
                    break


def pytest_collection_modifyitems(config, items):
    """Tests marked ``reference`` are skipped, with a reason, where the shared data is absent (a user's clone);
    tests marked ``gpu`` where JAX does not run on a GPU; tests marked ``needs`` where a package they need is
    missing; tests marked ``eight_devices`` where JAX has fewer than the 8 fake CPU devices set up above (a
    GPU).

    CI sets INFANTJAX_REQUIRE_REFERENCE=1, which makes the missing folder an error instead."""
    _skip_missing_packages(items)
    if any(item.get_closest_marker("eight_devices") is not None for item in items):
        import jax

        count = jax.device_count()
        if count < 8:
            skip = pytest.mark.skip(reason=f"needs the 8 fake CPU devices of tests/conftest.py; this run has "
                                           f"{count} ({jax.default_backend()})")
            for item in items:
                if item.get_closest_marker("eight_devices") is not None:
                    item.add_marker(skip)
    if any(item.get_closest_marker("gpu") is not None for item in items):
        from infantjax import backend

        if backend.platform() != "gpu":
            for item in items:
                if item.get_closest_marker("gpu") is not None:
                    item.add_marker(pytest.mark.skip(reason=GPU_REASON))
    if DATA.is_dir():
        return
    if os.environ.get("INFANTJAX_REQUIRE_REFERENCE") == "1":
        raise pytest.UsageError(f"INFANTJAX_REQUIRE_REFERENCE=1 but {DATA} does not exist; set INFANTJAX_SHARED")
    skip = pytest.mark.skip(reason=REFERENCE_REASON)
    for item in items:
        if item.get_closest_marker("reference") is not None:
            item.add_marker(skip)


@pytest.fixture(scope="module", autouse=True)
def _xla_optimisation(request):
    """A file marked ``xla_optimised`` compiles as users do (XLA's optimisations on, in this process and in the
    processes its tests start); the others with most optimisations off (see FAST_COMPILE above)."""
    if not FAST_COMPILE or request.node.get_closest_marker("xla_optimised") is None:
        yield
        return
    import jax

    os.environ["JAX_DISABLE_MOST_OPTIMIZATIONS"] = "0"
    jax.config.update("jax_disable_most_optimizations", False)
    try:
        yield
    finally:
        os.environ["JAX_DISABLE_MOST_OPTIMIZATIONS"] = "1"
        jax.config.update("jax_disable_most_optimizations", True)


@pytest.fixture(autouse=True)
def _platform_defaults_for_gpu_tests(request, monkeypatch):
    """The tests marked ``gpu`` check the platform's own defaults: no compute dtype or policy from the
    environment and JAX's default matmul precision (TF32 on a GPU), undoing the float32 pin above for them."""
    if request.node.get_closest_marker("gpu") is None:
        yield
        return
    import jax

    from infantjax import backend

    monkeypatch.delenv(backend.ENV, raising=False)
    monkeypatch.delenv(backend.DTYPE_ENV, raising=False)
    pinned = jax.config.jax_default_matmul_precision
    jax.config.update("jax_default_matmul_precision", None)
    try:
        yield
    finally:
        jax.config.update("jax_default_matmul_precision", pinned)


@pytest.fixture
def cpu_policy():
    """The CPU backend policy for a test about the CPU forms: CI's accelerator-policy pass
    (tests/accelerator_forms.txt) runs the same files under INFANTJAX_BACKEND_POLICY=accelerator."""
    from infantjax import backend

    with backend.use("cpu") as policy:
        yield policy


# ------------------------------------------------------------------------------------------------ browser
#: Flags Chromium needs on a machine without a network, a GPU or a sandbox (as root): no background traffic,
#: no component or sync downloads. Playwright gives every launch a fresh, empty profile of its own.
CHROMIUM_FLAGS = ("--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync")


def chromium_path() -> str | None:
    """The system Chromium: $INFANTJAX_CHROMIUM, else ``chromium`` or ``chromium-browser`` on PATH."""
    import shutil

    env = os.environ.get("INFANTJAX_CHROMIUM")
    if env:
        return env
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the whole test session, driven by Playwright (never a downloaded browser).

    Without Chromium the browser tests are skipped (a user's clone); CI sets INFANTJAX_REQUIRE_BROWSER=1, which
    turns the skip into a failure."""
    path = chromium_path()
    if path is None:
        reason = "no Chromium found: install Debian's package with `apt-get install chromium` to run the browser tests"
        if os.environ.get("INFANTJAX_REQUIRE_BROWSER"):
            pytest.fail(reason)
        pytest.skip(reason)
    try:
        from playwright import sync_api
    except ImportError:
        reason = "Playwright is missing: install the test extra, pip install -e '.[test]'"
        if os.environ.get("INFANTJAX_REQUIRE_BROWSER"):
            pytest.fail(reason)
        pytest.skip(reason)
    manager = sync_api.sync_playwright().start()
    try:
        chromium = manager.chromium.launch(executable_path=path, headless=True, args=list(CHROMIUM_FLAGS))
    except Exception:
        manager.stop()
        raise
    yield chromium
    chromium.close()
    manager.stop()


# ------------------------------------------------------------------------------------------------ ffmpeg
@pytest.fixture(scope="session")
def ffmpeg() -> str:
    """The ffmpeg binary (Debian's package), for checks against FFmpeg's own decode of a file.

    The decoding corpus itself is written with PyAV and needs no binary. Without one these checks are skipped (a
    user's clone); CI sets INFANTJAX_REQUIRE_FFMPEG=1 (and installs the package), which turns the skip into a
    failure."""
    import shutil

    path = os.environ.get("INFANTJAX_FFMPEG") or shutil.which("ffmpeg")
    if path is None:
        reason = "no ffmpeg binary found: install Debian's package with `apt-get install ffmpeg` to compare with it"
        if os.environ.get("INFANTJAX_REQUIRE_FFMPEG"):
            pytest.fail(reason)
        pytest.skip(reason)
    return path


# ------------------------------------------------------------------------------------------------ memory report
@pytest.fixture(scope="module", autouse=True)
def _drop_compiled_programs():
    """Each test module starts without the previous modules' compiled programs (JAX's caches, the engine's program
    sets, the ensemble's scoring programs): a worker's memory stays that of its largest module, not of all of them."""
    yield
    import gc

    drop_compiled_programs()
    gc.collect()


def drop_compiled_programs(every_cache: bool = False) -> None:
    """JAX's compiled programs, the engine's program sets and the ensemble's scoring programs (``every_cache``: also
    every other ``functools`` cache of the package, e.g. forms chosen under a backend policy)."""
    import functools
    import gc
    import sys

    import jax

    if every_cache:
        for obj in gc.get_objects():
            if isinstance(obj, functools._lru_cache_wrapper) and str(getattr(obj, "__module__", "")).startswith(
                    "infantjax"):
                obj.cache_clear()
    engine = sys.modules.get("infantjax.train.engine")
    if engine is not None:
        engine._CACHE.clear()
    predict = sys.modules.get("infantjax.infer.predict")
    if predict is not None:
        predict.clear_caches()
    cp = sys.modules.get("infantjax.infer.cp")
    if cp is not None:
        cp.scoring_forward.cache_clear()
        cp.scoring_maps.cache_clear()
    jax.clear_caches()



def _peak_rss_gb() -> float:
    import resource
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kB on Linux, bytes on macOS
    return peak / (1024**3 if sys.platform == "darwin" else 1024**2)


def pytest_configure(config):
    """INFANTJAX_RECORD_ACCELERATOR_FORMS=FILE records which tests the backend policy reaches and writes the list
    CI's accelerator-policy pass runs (tests/policy_record.py)."""
    if os.environ.get("INFANTJAX_RECORD_ACCELERATOR_FORMS"):
        import sys

        sys.path.insert(0, str(pathlib.Path(__file__).parent))
        import policy_record

        config.pluginmanager.register(policy_record.Recorder(config, drop_compiled_programs),
                                      "infantjax-policy-record")


def pytest_sessionfinish(session):
    """An xdist worker hands its peak RSS to the controller (reported in the terminal summary)."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["peak_rss_gb"] = _peak_rss_gb()


_WORKER_PEAKS: dict[str, float] = {}


@pytest.hookimpl(optionalhook=True)  # an xdist hook: unknown (and unused) when xdist is off
def pytest_testnodedown(node, error):
    peak = getattr(node, "workeroutput", {}).get("peak_rss_gb")
    if peak is not None:
        _WORKER_PEAKS[node.gateway.id] = peak


def pytest_terminal_summary(terminalreporter, config):
    """Peak resident memory of every test process (each stays under 3 GB)."""
    if getattr(config, "workeroutput", None) is not None:
        return
    parts = [f"{name} {gb:.2f} GB" for name, gb in sorted(_WORKER_PEAKS.items())]
    parts.append(f"controller {_peak_rss_gb():.2f} GB")
    terminalreporter.write_line("peak RSS per test process: " + ", ".join(parts))


def pytest_unconfigure(config):
    """The process that made the run's compilation cache removes it (its workers only use it)."""
    if _RUN_CACHE is not None and getattr(config, "workerinput", None) is None:
        import shutil

        shutil.rmtree(_RUN_CACHE, ignore_errors=True)
