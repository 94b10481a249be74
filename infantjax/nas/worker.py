"""Workers that run a search from its trial store, on one device each, on one machine or many.

A :class:`Worker` loops: put stale trials back to WAITING; refuse a trial queued with Optuna's ``enqueue_trial``
(:meth:`~infantjax.nas.store.SearchStore.refuse_enqueued`); re-run a WAITING trial if there is one, else create the
next trial; decide its candidate from the log (unless a previous run of the trial already did); train it with a
heartbeat, reporting the best AUC per epoch; stop it at a failed early-stopping checkpoint; record the result. It
returns when the sampler says the search is over (or the trial budget is spent) and no trial is running anywhere.

:func:`run_search` starts ``workers`` such loops as separate processes (``infantjax search work``), each pinned to
one device: ``CUDA_VISIBLE_DEVICES=i`` on NVIDIA GPUs, otherwise ``INFANTJAX_DEVICE_INDEX=i`` which the worker turns
into ``jax.default_device(jax.local_devices()[i])``; with ``workers="auto"`` one process per local GPU, TPU chip
or CPU device, each started seeing only its own device (:func:`device_env`, docs/scale.md). Other machines join by
running ``infantjax search work`` against the same SQLAlchemy storage (docs/nas.md has the multi-host recipe).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import pathlib
import socket
import subprocess
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from infantjax.errors import ConfigError
from infantjax.nas.objectives import build_objective
from infantjax.nas.results import search_summary
from infantjax.nas.space import candidate_string, derive_seed
from infantjax.nas.store import SearchSettings, SearchStore, Snapshot
from infantjax.nas.trial import LeaseLost, TrialContext, TrialOutcome, should_stop

__all__ = ["DEVICE_ENV", "Worker", "WorkerReport", "default_worker_name", "device_env", "local_accelerators",
           "run_search", "spawn_workers"]

log = logging.getLogger(__name__)

DEVICE_ENV = "INFANTJAX_DEVICE_INDEX"


# ------------------------------------------------------------------------------------------------------- names
_SLOT_LOCKS: dict[str, Any] = {}  # slot lock files held open for the life of the process


def default_worker_name(storage: str | os.PathLike, name: str, *, max_slots: int = 256) -> str:
    """A stable worker name for this machine: ``<host>-w<slot>``, the lowest slot no live process on this host
    holds for this search.

    A worker restarted after a crash gets the same name back (its slot's lock died with it), so it reclaims its
    running trial at once (:meth:`Worker.run` treats its own name's running trials as dead) instead of waiting for
    the grace period; two workers running at the same time on one host get different slots. Slots are
    ``fcntl`` locks on files under the system's temporary folder, keyed by the storage and the search name;
    ``spawn_workers`` names its processes ``<host>-w<i>`` the same way.

    Arguments:
        storage: the storage URL or journal path of the search.
        name: the search name.
        max_slots: how many slots to try before giving up on a stable name.

    Returns:
        the name (``<host>-<pid>-<random>`` where file locks are unavailable).
    """
    import hashlib
    import tempfile

    host = socket.gethostname()
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        return f"{host}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    where = str(storage)
    if "://" not in where:
        where = str(pathlib.Path(where).expanduser().resolve())
    key = hashlib.sha256(f"{where}\0{name}".encode()).hexdigest()[:16]
    folder = pathlib.Path(tempfile.gettempdir()) / "infantjax-workers"
    try:
        folder.mkdir(exist_ok=True)
    except OSError:
        return f"{host}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    for slot in range(max_slots):
        lock = str(folder / f"{key}-w{slot}.lock")
        if lock in _SLOT_LOCKS:
            continue  # held by another worker of this process
        try:
            fh = open(lock, "a")  # noqa: SIM115 - held open until the process ends
        except OSError:
            break
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.close()
            continue
        _SLOT_LOCKS[lock] = fh
        return f"{host}-w{slot}"
    return f"{host}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


# ------------------------------------------------------------------------------------------------------- leases
class _Lease:
    """Heartbeats a running trial from a thread and notices when another worker took it over."""

    def __init__(self, store: SearchStore, trial_id: int, token: str):
        self.store, self.trial_id, self.token = store, trial_id, token
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{trial_id}", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(self.store.settings.heartbeat_interval):
            try:
                if not self.store.owns(self.trial_id, self.token):
                    self.lost.set()
                    return
                self.store.heartbeat(self.trial_id)
            except Exception as err:  # noqa: BLE001 - a flaky database must not kill the trial; the next beat retries
                log.warning("heartbeat of trial %s failed: %s", self.trial_id, err)

    def check(self) -> None:
        if self.lost.is_set():
            raise LeaseLost(f"trial {self.trial_id} was taken over by another worker")

    def close(self) -> None:
        """Stop beating and wait for a beat in progress (idempotent). Called before the trial is marked finished:
        a beat after that would write to a finished trial (Optuna refuses it: a spurious warning)."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=max(5.0, 2 * self.store.settings.heartbeat_interval))


# ------------------------------------------------------------------------------------------------------- worker
@dataclasses.dataclass
class WorkerReport:
    """What one worker did: trial numbers it finished, re-ran, skipped, and lost to others, and each compile ahead of
    a trial (``prefetch``: ``{"candidate", "seconds"}``)."""

    finished: list[int] = dataclasses.field(default_factory=list)
    reruns: list[int] = dataclasses.field(default_factory=list)
    skipped: list[int] = dataclasses.field(default_factory=list)
    lost: list[int] = dataclasses.field(default_factory=list)
    failed: list[int] = dataclasses.field(default_factory=list)
    prefetched: list[dict] = dataclasses.field(default_factory=list)


class Worker:
    """One search worker (one device).

    Arguments:
        store: the search.
        objective: ``objective(spec, context) -> TrialOutcome``; default: rebuilt from the stored settings.
        name: the worker's name. Give a fixed name (e.g. ``host-gpu0``) to let a restarted worker reclaim its own
            unfinished trial at once instead of waiting for the grace period; names must be unique among live
            workers. Default: ``host-pid-random`` (the CLI passes :func:`default_worker_name`).
        device_index: run trials under ``jax.default_device(jax.local_devices()[i])``.
        poll_interval: seconds between looks at the store while waiting for other workers' trials.
        max_trials: stop after this many trials of this worker (``None``: until the search is over).
        on_trial: called with one line of text per finished, failed or skipped trial (progress, e.g. ``print``).
        prefetch: while a trial trains, compile in a thread the programs of the candidate the search would propose
            next (:meth:`SearchStore.decide` for the next trial number, on the log as it is then), so that the next
            trial finds them compiled: on an accelerator the compile runs on the host while the trial trains on the
            device. The guess is exact for Random Search on one worker; for K-Best and TPE, whose proposals depend on
            the trial that is still running, and with other workers creating trials, it may miss (the compile is
            then wasted host time, never a wrong result). Needs an objective with ``precompile(spec,
            device_index)`` (the GCN objective); others are unaffected.
    """

    def __init__(self, store: SearchStore, objective: Callable[..., TrialOutcome] | None = None, *,
                 name: str | None = None, device_index: int | None = None, poll_interval: float | None = None,
                 max_trials: int | None = None, on_trial: Callable[[str], None] | None = None,
                 prefetch: bool = False):
        self.store = store
        self.objective = objective if objective is not None else build_objective(store.settings)
        self.fixed_name = name is not None
        self.name = name or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.device_index = device_index
        self.poll_interval = poll_interval or min(store.settings.heartbeat_interval, 2.0)
        self.max_trials = max_trials
        self.report = WorkerReport()
        self._tokens: set[str] = set()
        self._on_trial = on_trial
        self._started = time.time()
        self.prefetch = bool(prefetch) and hasattr(self.objective, "precompile")
        self._prefetched: dict[str, threading.Thread] = {}  # candidate string -> its compile's thread

    def _progress(self, text: str) -> None:
        if self._on_trial is not None:
            elapsed = time.time() - self._started
            try:
                self._on_trial(f"[{self.name} {elapsed / 60:.1f} min] {text}")
            except Exception as err:  # noqa: BLE001 - progress output must never fail a trial
                log.warning("progress callback failed: %s", err)

    # ----------------------------------------------------------------------------------------------------- loop
    def search_over(self, snapshot: Snapshot) -> str | None:
        """Why no new trial should be created, or None (:meth:`SearchStore.over`)."""
        return self.store.over(snapshot)

    def run(self) -> WorkerReport:
        """Work until the search is over and no trial runs anywhere; returns what this worker did."""
        done = 0
        while self.max_trials is None or done < self.max_trials:
            snapshot = self.store.snapshot()
            dead = [self.name] if self.fixed_name else []
            for t in self.store.stale(snapshot, dead_workers=dead, live_tokens=self._tokens):
                if self.store.requeue(self.store.trial_id(t.number)):
                    log.info("trial %d of worker %s looks dead; queued to re-run", t.number, t.worker)
            snapshot = self.store.snapshot()
            for number in snapshot.enqueued:  # queued with Optuna's enqueue_trial: refused, nobody waits for it
                self.store.refuse_enqueued(number)
            trial_id = self.store.claim_waiting(snapshot)
            if trial_id is None:
                if self.search_over(snapshot):
                    if snapshot.count("running") or snapshot.count("waiting"):
                        time.sleep(self.poll_interval)  # stay to re-run trials of workers that die
                        continue
                    break
                trial_id = self.store.create_trial()
            self._run_trial(trial_id)
            done += 1
        return self.report

    def _run_trial(self, trial_id: int) -> None:
        token = uuid.uuid4().hex
        self._tokens.add(token)
        view = self.store.take_ownership(trial_id, token, self.name)
        number = view.number
        if view.runs > 1:
            self.report.reruns.append(number)
        lease = _Lease(self.store, trial_id, token)
        try:
            spec = view.spec
            if spec is None:
                snapshot = self.store.snapshot()
                if self.store.beyond_budget(number, snapshot):
                    lease.close()
                    self.store.fail(trial_id, skipped="budget")
                    self.report.skipped.append(number)
                    self._progress(f"trial {number}: skipped (budget)")
                    return
                proposal, decision = self.store.decide(number, snapshot)
                if proposal.spec is None:
                    lease.close()
                    self.store.fail(trial_id, skipped=proposal.reason or "stopped")
                    self.report.skipped.append(number)
                    self._progress(f"trial {number}: skipped ({proposal.reason or 'stopped'})")
                    return
                lease.check()
                spec = proposal.spec
                self.store.record_decision(trial_id, spec, {**decision, **dict(proposal.info)})
            else:  # a re-run: its params, where its first worker died before writing them all
                self.store.record_params(trial_id, spec)
            self._await_prefetch(spec)
            if self.prefetch:
                self._prefetch_next()
            outcome = self._evaluate(spec, number, trial_id, lease)
            lease.close()  # no heartbeat after the trial is finished (a beat racing the finish would log a spurious "already finished")
            lease.check()
            self.store.finish(trial_id, outcome.performance, outcome.epochs, outcome.pruned, outcome.info)
            self.report.finished.append(number)
            log.info("trial %d: AUC %.4f after %d epochs%s", number, outcome.performance, outcome.epochs,
                     " (stopped early)" if outcome.pruned else "")
            self._progress(f"trial {number}: AUC {outcome.performance:.4f} after {outcome.epochs} epochs"
                           + (" (stopped early)" if outcome.pruned else ""))
        except LeaseLost as err:
            log.warning("%s; leaving it to that worker", err)
            self.report.lost.append(number)
        except Exception as err:  # noqa: BLE001 - the candidate failed to train: record it, the search goes on
            log.error("trial %d failed: %s", number, err)
            lease.close()
            with contextlib.suppress(Exception):
                self.store.fail(trial_id, error="".join(traceback.format_exception_only(type(err), err)).strip())
            self.report.failed.append(number)
            self._progress(f"trial {number}: failed ({type(err).__name__}: {err})")
        finally:
            lease.close()
            self._tokens.discard(token)

    # ------------------------------------------------------------------------------------------------- prefetch
    def _await_prefetch(self, spec) -> None:
        """Wait for a compile of this very candidate that is under way (the trial needs its programs anyway)."""
        thread = self._prefetched.pop(candidate_string(spec), None)
        if thread is not None and thread.is_alive():
            thread.join()

    def _prefetch_next(self) -> None:
        """Start compiling the programs of the candidate the next trial would get (``prefetch``)."""
        try:
            snapshot = self.store.snapshot()
            number = max((t.number for t in snapshot.trials), default=-1) + 1
            if self.store.over(snapshot) or self.store.beyond_budget(number, snapshot):
                return
            proposal, _ = self.store.decide(number, snapshot)
        except Exception as err:  # noqa: BLE001 - a guess ahead must never disturb the search
            log.warning("prefetch: could not guess the next candidate: %s", err)
            return
        if proposal.spec is None:
            return
        key = candidate_string(proposal.spec)
        if key in self._prefetched:
            return
        thread = threading.Thread(target=self._precompile, args=(proposal.spec,), daemon=True,
                                  name=f"prefetch-{number}")
        self._prefetched = {k: t for k, t in self._prefetched.items() if t.is_alive()}
        self._prefetched[key] = thread
        thread.start()

    def _precompile(self, spec) -> None:
        start = time.perf_counter()
        try:
            with _device(self.device_index):
                self.objective.precompile(spec, self.device_index)
        except Exception as err:  # noqa: BLE001 - the trial compiles its programs itself then
            log.warning("prefetch: compiling %s failed: %s", candidate_string(spec), err)
            return
        self.report.prefetched.append({"candidate": candidate_string(spec),
                                       "seconds": round(time.perf_counter() - start, 3)})
        log.info("prefetch: compiled the next candidate's programs in %.1f s", time.perf_counter() - start)

    def _evaluate(self, spec, number: int, trial_id: int, lease: _Lease) -> TrialOutcome:
        settings = self.store.settings
        checkpoints = settings.trial.scaled_checkpoints()
        root = settings.checkpoint_root
        ckpt = None if root is None else str(pathlib.Path(root) / self.store.name / f"trial_{number:05d}")

        def report(epoch: int, metrics: Mapping[str, float]) -> bool:
            lease.check()
            best = float(metrics["best_auc"])
            self.store.report(trial_id, epoch, best)
            return should_stop(checkpoints, int(epoch), best)

        context = TrialContext(number, derive_seed(settings.seed, number), ckpt, report, self.device_index)
        with _device(self.device_index):
            return self.objective(spec, context)


@contextlib.contextmanager
def _device(index: int | None):
    if index is None:
        yield
        return
    import jax

    devices = jax.local_devices()
    with jax.default_device(devices[index % len(devices)]):
        yield


# ---------------------------------------------------------------------------------------------------- processes
def _gpu_count() -> int:
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return len([v for v in visible.split(",") if v.strip()])
    gpus = pathlib.Path("/proc/driver/nvidia/gpus")
    return len(list(gpus.iterdir())) if gpus.is_dir() else 0


def _tpu_chips() -> list[str]:
    """The TPU chips of this host, without starting JAX (which would open them all in this process): the chips
    named by ``TPU_VISIBLE_CHIPS``, else one per ``/dev/accel<i>`` (v4, v5e) or ``/dev/vfio/<i>`` (v5p, v6e)."""
    visible = os.environ.get("TPU_VISIBLE_CHIPS")
    if visible:
        return [v.strip() for v in visible.split(",") if v.strip()]
    accel = sorted(int(p.name[5:]) for p in pathlib.Path("/dev").glob("accel[0-9]*") if p.name[5:].isdigit())
    if accel:
        return [str(i) for i in accel]
    vfio = pathlib.Path("/dev/vfio")
    return [str(i) for i in range(sum(p.name.isdigit() for p in vfio.iterdir()))] if vfio.is_dir() else []


def _cpu_device_count() -> int:
    """Host devices JAX will make on CPU: ``--xla_force_host_platform_device_count`` of $XLA_FLAGS, else 1."""
    import re

    found = re.findall(r"--xla_force_host_platform_device_count=(\d+)", os.environ.get("XLA_FLAGS", ""))
    return int(found[-1]) if found else 1


#: TPU_MESH_CONTROLLER_PORT of worker i is this + i (one per process on a host)
TPU_PORT_BASE = 8476


def local_accelerators() -> tuple[str, list[str]]:
    """This machine's accelerators, found without starting JAX: ``("cuda", GPU ids)``, ``("tpu", chip ids)`` or,
    with neither, ``("cpu", host device ids)`` (one, or as many as ``--xla_force_host_platform_device_count``)."""
    gpus = _gpu_count()
    if gpus:
        visible = [v for v in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if v.strip()]
        return "cuda", visible or [str(i) for i in range(gpus)]
    chips = _tpu_chips()
    if chips and os.environ.get("JAX_PLATFORMS", "tpu").split(",")[0] in ("", "tpu"):
        return "tpu", chips
    return "cpu", [str(i) for i in range(_cpu_device_count())]


def device_env(kind: str, device: str, slot: int) -> dict[str, str]:
    """Environment that makes a process see only one device (set before the process imports JAX).

    Arguments:
        kind: ``"cuda"``, ``"tpu"`` or ``"cpu"`` (:func:`local_accelerators`).
        device: the device's id on this host (a GPU index, a TPU chip index).
        slot: the worker's number on this host (TPU: its mesh-controller port is ``8476 + slot``).

    Returns:
        the variables to set: ``CUDA_VISIBLE_DEVICES=<gpu>``; on a TPU host libtpu's one-chip-per-process
        topology (``TPU_CHIPS_PER_PROCESS_BOUNDS=1,1,1``, ``TPU_PROCESS_BOUNDS=1,1,1``,
        ``TPU_VISIBLE_CHIPS=<chip>`` and its older name ``TPU_VISIBLE_DEVICES``, a mesh-controller port of its
        own); on CPU one host device (``--xla_force_host_platform_device_count=1``).
    """
    if kind == "cuda":
        return {"CUDA_VISIBLE_DEVICES": device}
    if kind == "tpu":
        port = str(TPU_PORT_BASE + slot)
        return {"TPU_CHIPS_PER_PROCESS_BOUNDS": "1,1,1", "TPU_PROCESS_BOUNDS": "1,1,1", "TPU_VISIBLE_CHIPS": device,
                "TPU_VISIBLE_DEVICES": device, "TPU_MESH_CONTROLLER_ADDRESS": f"localhost:{port}",
                "TPU_MESH_CONTROLLER_PORT": port}
    if kind == "cpu":
        import re

        flags = re.sub(r"--xla_force_host_platform_device_count=\d+", "", os.environ.get("XLA_FLAGS", "")).split()
        return {"XLA_FLAGS": " ".join([*flags, "--xla_force_host_platform_device_count=1"]), "JAX_PLATFORMS": "cpu"}
    raise ConfigError(f"device kind {kind!r} is unknown; expected cuda, tpu or cpu")


def spawn_workers(storage: str, name: str, workers: int | str, *, pin: str = "auto", python: str | None = None,
                  extra_args: Sequence[str] = (), env: Mapping[str, str] | None = None,
                  names: Sequence[str] | None = None) -> list[subprocess.Popen]:
    """Start ``workers`` processes of ``infantjax search work`` on this machine, one per device.

    Arguments:
        storage: the storage URL (every worker opens it itself).
        name: the search name.
        workers: number of processes, or ``"auto"``: one per local accelerator (GPU, TPU chip, or CPU host
            device), each process started seeing only its own (:func:`device_env`; ``pin`` is then ignored).
        pin: ``"cuda"`` (``CUDA_VISIBLE_DEVICES=i``), ``"index"`` (``jax.default_device`` of local device i),
            ``"none"``, or ``"auto"`` (cuda when NVIDIA GPUs are visible, else index).
        names: worker names (default :func:`default_worker_name`, ``<host>-w<slot>``: stable, so that a restarted
            worker reclaims its trial).

    Returns:
        the started processes.
    """
    one_each = workers == "auto"
    if one_each:
        kind, devices = local_accelerators()
        workers = len(devices)
        log.info("one worker per local device: %d %s device(s) %s", workers, kind, devices)
    elif isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ConfigError(f"--workers must be a number >= 1 or 'auto', got {workers!r}")
    if pin not in ("auto", "cuda", "index", "none"):
        raise ConfigError(f"pin {pin!r} is unknown; choose auto, cuda, index or none")
    gpus = _gpu_count()
    if pin == "auto":
        pin = "cuda" if gpus else "index"
    visible = [v for v in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if v.strip()] or \
        [str(i) for i in range(gpus)]
    package_root = str(pathlib.Path(__file__).resolve().parents[2])
    procs = []
    for i in range(workers):
        child = dict(os.environ if env is None else env)
        child["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, child.get("PYTHONPATH")) if p)
        for var in ("INFANTJAX_DISTRIBUTED", "INFANTJAX_COORDINATOR", "INFANTJAX_NUM_PROCESSES",
                    "INFANTJAX_PROCESS_ID"):
            child.pop(var, None)  # workers are independent processes, never one multi-process JAX job
        if one_each:
            child.update(device_env(kind, devices[i], i))
            child.pop(DEVICE_ENV, None)
        elif pin == "cuda":
            if not visible:
                raise ConfigError("pin='cuda' but no NVIDIA GPU is visible")
            child["CUDA_VISIBLE_DEVICES"] = visible[i % len(visible)]
        elif pin == "index":
            child[DEVICE_ENV] = str(i)
        # the lowest free slots of this host: a restarted `search run --workers N` gets the same names back
        worker_name = names[i] if names else default_worker_name(storage, name)
        cmd = [python or sys.executable, "-m", "infantjax", "search", "work", "--storage", str(storage),
               "--name", name, "--worker-name", worker_name, *extra_args]
        procs.append(subprocess.Popen(cmd, env=child))
    return procs


def run_search(storage: str, name: str, settings: SearchSettings, *, workers: int | str = 1, objective=None,
               pin: str = "auto", worker_name: str | None = None,
               on_trial: Callable[[str], None] | None = None, prefetch: bool = False) -> dict[str, Any]:
    """Create (or join) a search and run it to the end; returns :func:`search_summary`.

    With ``workers == 1`` the worker runs in this process (``objective`` may then be any callable); with more (or
    ``"auto"``: one per local accelerator, :func:`spawn_workers`), worker processes are started (they rebuild the
    objective from the stored settings and print a line per trial). ``on_trial`` receives one line per trial of the
    in-process worker. ``prefetch``: every worker compiles the next candidate's programs while a trial trains
    (:class:`Worker`).
    """
    store = SearchStore(storage, name, settings, create=True)
    if workers == 1:
        Worker(store, objective, name=worker_name, on_trial=on_trial, prefetch=prefetch).run()
    else:
        if objective is not None:
            raise ConfigError("with workers > 1 the objective is rebuilt from the settings in each process; "
                              "pass objective only with workers=1")
        procs = spawn_workers(storage, name, workers, pin=pin, extra_args=["--prefetch"] if prefetch else ())
        codes = [p.wait() for p in procs]
        if any(codes):
            log.warning("worker exit codes: %s", codes)
    return search_summary(store)
