"""Ensemble scoring through LiteRT: each stack exported once to a ``.tflite`` file, kept on disk, run by the LiteRT
interpreter (``infantjax assess --runtime litert``, docs/assess.md "Speed").

    scorer = LiteRTScorer(ensemble)                           # files under infantjax.cache.litert_cache_dir()
    prediction = ensemble.predict(sequence, scorer=scorer)    # P(CP) and CAM scores from the interpreter

Each stack of an ensemble (one architecture's fold instances) is written as its scoring graph
(:meth:`infantjax.ensemble.Ensemble.scoring_graph`: windows → every instance's P(CP) and class activation maps, the
instances unrolled) through the library's LiteRT route (:mod:`infantjax.deploy.formats`: jax2tf → SavedModel → the
TFLite converter, traced in the ``mobile`` forms as ``infantjax export --format litert`` traces it) at a fixed batch
of :data:`DEFAULT_BATCH` windows. A recording's windows run in calls of that batch, the last padded with zero windows
whose outputs are dropped. The joint CAM scores, a median over time of the maps, are computed from the maps on the
host (:func:`joint_scores`, as :func:`infantjax.models.gcn.cam.joint_scores` computes them: the TFLite converter has
no sort).

A new file is checked on the spot against the XLA path — the stack's own stacked predictor on a sample batch of
random-walk windows — and refused when an output differs by more than the export check's bound, :data:`TOLERANCE`
relative to the largest magnitude of the XLA output (docs/deploy.md, "Parity"): the file is deleted, the refusal is
cached (the stack is not converted again) and that stack is scored by XLA, with a warning. Every stack is thus
scored either by a file that passed the check or by XLA itself.

The cache: one directory per stack, named by a hash of everything the file depends on — every byte of the stack's
weights, the architecture, the compiled inputs (window, rotation, features, model mode), the batch, the instance
count, the infantjax and JAX versions (:meth:`LiteRTScorer.key`). Each file is written atomically and the
directory's ``scoring.json`` last: a directory without it is incomplete and is converted again. A run that finds
every stack's file needs only the LiteRT interpreter (``ai-edge-litert``, or TensorFlow's ``tf.lite`` where that is
what is installed), not TensorFlow; converting needs TensorFlow (the ``litert`` extra brings both).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import pathlib
import time
from typing import Any

import jax
import numpy as np

from infantjax import backend
from infantjax.errors import ExportError, ExportExtraError
from infantjax.io.files import write_json

__all__ = ["DEFAULT_BATCH", "RUNTIMES", "TOLERANCE", "LiteRTScorer", "check_runtime", "joint_scores",
           "require_interpreter"]

log = logging.getLogger(__name__)

#: The runtimes that score an ensemble in ``infantjax assess``: XLA (the library's own path) or LiteRT.
RUNTIMES = ("xla", "litert")
#: Windows per LiteRT call (the file's fixed batch).
DEFAULT_BATCH = 8
#: The bound a LiteRT file is held to, relative to the largest magnitude of the XLA output: the export check's
#: bound for a GCN stack's P(CP) and logits (docs/deploy.md, "Parity").
TOLERANCE = 1e-5
#: The version of the cached files' layout and graph (part of every key).
_LAYOUT = 1
_FILE = "scoring.tflite"
_RECORD = "scoring.json"
_INSTALL = 'pip install "infantjax[litert]"'


def check_runtime(runtime: str) -> str:
    """``runtime`` if it is one of :data:`RUNTIMES` (case-insensitive).

    Raises:
        ConfigError: another name.
    """
    from infantjax.errors import ConfigError

    name = str(runtime).lower()
    if name not in RUNTIMES:
        raise ConfigError(f"runtime must be one of {', '.join(RUNTIMES)}, got {runtime!r}")
    return name


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package that is not installed, or a module set to None
        return False


def require_interpreter() -> None:
    """Check that a LiteRT interpreter can be loaded (``ai_edge_litert``, or TensorFlow's ``tf.lite``), without
    importing TensorFlow.

    Raises:
        ExportExtraError: neither is installed; the message names the extra.
    """
    if not (_installed("ai_edge_litert.interpreter") or _installed("tensorflow")):
        raise ExportExtraError(f"--runtime litert needs the LiteRT interpreter (ai-edge-litert) and, to convert an "
                               f"ensemble the first time, TensorFlow; install them with {_INSTALL}, or score with "
                               "--runtime xla")


def _require_converter(stacks) -> None:
    if not _installed("tensorflow"):
        raise ExportExtraError(f"--runtime litert converts stack(s) {', '.join(map(str, stacks))} of this ensemble "
                               f"to LiteRT the first time, which needs TensorFlow (not installed); install it with "
                               f"{_INSTALL}, or score with --runtime xla")


def _weights_digest(variables: Any) -> str:
    """SHA-256 of a stacked variables pytree: every leaf's path, dtype, shape and bytes."""
    digest = hashlib.sha256()
    for path, leaf in jax.tree_util.tree_flatten_with_path(variables)[0]:
        a = np.ascontiguousarray(np.asarray(leaf))
        digest.update(f"{jax.tree_util.keystr(path)}|{a.dtype.str}|{a.shape}|".encode())
        digest.update(a.tobytes())
    return digest.hexdigest()


def joint_scores(cam_map: np.ndarray, positive_class: int = 1, *, signed: bool = False) -> np.ndarray:
    """:func:`infantjax.models.gcn.cam.joint_scores` in NumPy: class activation maps (..., T', V, K) →
    per-joint scores (..., V) in [0, 1] (the median over time of the CP map minus the no-CP map, divided by
    its largest absolute value over the joints, clamped at 0; zeros where every joint scores 0), in float32 as
    the XLA path computes it; ``signed=True``: unclamped, in [-1, 1] (what the scorer returns, as the XLA
    path's scoring does)."""
    per_joint = np.median(np.asarray(cam_map, np.float32), axis=-3)  # (..., V, K)
    diff = per_joint[..., positive_class] - per_joint[..., 1 - positive_class]
    scale = np.max(np.abs(diff), axis=-1, keepdims=True)
    scaled = np.where(scale > 0, diff / np.where(scale > 0, scale, np.float32(1.0)), np.float32(0.0))
    return (scaled if signed else np.maximum(scaled, np.float32(0.0))).astype(np.float32)


def _versions() -> dict:
    from infantjax._version import __version__

    return {"infantjax": __version__, "jax": jax.__version__}


def _spec_record(spec) -> dict:
    """An architecture as a JSON-able record for the cache key: its type and fields (every spec has ``to_dict``;
    ``deploy`` names no family)."""
    return {"type": type(spec).__name__, **spec.to_dict()}

class LiteRTScorer:
    """An ensemble's scoring run by the LiteRT interpreter, one cached ``.tflite`` file per stack (module docstring).

    ``scorer(positions, config=inputs)`` → (P(CP) (W, I), signed joint CAM scores (I, W, V)), as
    :meth:`~infantjax.ensemble.Ensemble.window_predictions` returns them: pass it as ``Ensemble.predict(...,
    scorer=scorer)``. A stack's file is converted on the first call that needs it (or by :meth:`prepare`) unless
    the cache has it.

    Arguments:
        ensemble: the :class:`~infantjax.ensemble.Ensemble`.
        batch: windows per LiteRT call (the files' fixed batch).
        cache_dir: where the files are kept (default :func:`infantjax.cache.litert_cache_dir`).
        threads: the interpreter's threads (default: the cores this process may use).
        check: check a new file against the XLA path before it is cached (the module docstring).

    Attributes:
        converted: the stacks this scorer converted, ``(stack, directory, seconds)`` each (a cache hit converts
            none).
        xla_stacks: the stacks scored by XLA because their file was off the XLA path (the module docstring).
    """

    def __init__(self, ensemble, *, batch: int = DEFAULT_BATCH, cache_dir: str | os.PathLike | None = None,
                 threads: int | None = None, check: bool = True):
        from infantjax.errors import ConfigError

        if isinstance(batch, bool) or not isinstance(batch, (int, np.integer)) or int(batch) < 1:
            raise ConfigError(f"the LiteRT batch must be a positive integer, got {batch!r}")
        if threads is not None and (isinstance(threads, bool) or int(threads) < 1):
            raise ConfigError(f"threads must be a positive integer or None, got {threads!r}")
        if cache_dir is None:
            from infantjax.cache import litert_cache_dir

            cache_dir = litert_cache_dir()
        self.ensemble = ensemble
        self.batch = int(batch)
        self.cache_dir = pathlib.Path(cache_dir)
        self.threads = int(threads) if threads else backend.host_cores()
        self.check = bool(check)
        self.converted: list[tuple[int, pathlib.Path, float]] = []
        self._digests: dict[int, str] = {}
        self._runners: dict[tuple, Any] = {}
        self._xla: dict[int, Any] = {}
        self.xla_stacks: set[int] = set()

    # ------------------------------------------------------------------ the cache
    def _inputs(self, config):
        return self.ensemble._inputs_of(config)

    def key(self, stack: int, config=None) -> str:
        """The cache key of stack ``stack`` under ``config`` (default the ensemble's inputs): a SHA-256 of its
        weights, architecture, compiled inputs, batch, instance count and the infantjax and JAX versions."""
        if stack not in self._digests:
            self._digests[stack] = _weights_digest(self.ensemble.variables[stack])
        record = {"layout": _LAYOUT, "weights": self._digests[stack], "spec": _spec_record(self.ensemble.specs[stack]),
                  "inputs": dict(self._inputs(config).compile_key()), "batch": self.batch,
                  "instances": self.ensemble.stack_sizes[stack], **_versions()}
        return hashlib.sha256(json.dumps(record, sort_keys=True, default=str).encode()).hexdigest()

    def folder(self, stack: int, config=None) -> pathlib.Path:
        """The cache directory of stack ``stack`` under ``config``."""
        return self.cache_dir / self.key(stack, config)[:32]

    def _cached(self, stack: int, config=None) -> dict | None:
        """The stack's record in the cache: ``{"file": path}`` (a checked file) or ``{"file": None}`` (a file
        refused by the check: XLA scores the stack), or None (not converted yet)."""
        folder = self.folder(stack, config)
        try:
            record = json.loads((folder / _RECORD).read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(record, dict) or record.get("key") != self.key(stack, config):
            return None
        if record.get("refused"):
            return {"file": None}
        return {"file": folder / _FILE} if (folder / _FILE).is_file() else None

    def missing(self, config=None) -> list[int]:
        """The stacks whose file is not in the cache yet (converted on first use)."""
        return [k for k in range(len(self.ensemble.specs)) if self._cached(k, config) is None]

    def require(self, config=None) -> None:
        """Check, without converting anything, that this scorer can run: a LiteRT interpreter is installed, and
        TensorFlow too when a stack's file must be converted. What ``assess`` calls before its first video.

        Raises:
            ExportExtraError: what is missing, naming the ``litert`` extra.
        """
        require_interpreter()
        missing = self.missing(config)
        if missing:
            _require_converter(missing)

    def prepare(self, config=None) -> list[pathlib.Path | None]:
        """Every stack's file under ``config`` (default the ensemble's inputs), converting the ones the cache lacks;
        None for a stack whose file differed from the XLA path beyond :data:`TOLERANCE` (XLA scores it).

        Raises:
            ExportExtraError: TensorFlow (for converting) or the interpreter is not installed.
            ExportError: the converter refused a stack (an operation LiteRT cannot express), or the cache directory
                cannot be written.
        """
        return [self._file(k, config) for k in range(len(self.ensemble.specs))]

    def _file(self, stack: int, config=None) -> pathlib.Path | None:
        """The stack's checked file (converted if the cache lacks it), or None when its file was refused."""
        found = self._cached(stack, config)
        if found is None:
            _require_converter([stack])
            found = {"file": self._convert(stack, config)}
        if found["file"] is None:
            self.xla_stacks.add(stack)
        return found["file"]

    def _convert(self, stack: int, config=None) -> pathlib.Path | None:
        from infantjax.deploy import formats
        from infantjax.deploy.graphs import FORMS

        started = time.perf_counter()
        inputs = self._inputs(config)
        d = self.ensemble.scoring_graph(stack, inputs)
        folder = self.folder(stack, config)
        path = folder / _FILE
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise ExportError(f"cannot create the LiteRT cache directory {folder} ({err.strerror}); set "
                              f"INFANTJAX_LITERT_CACHE to a writable directory") from None
        log.info("converting stack %d of %r to LiteRT (batch %d) into %s", stack, self.ensemble, self.batch, folder)
        # the forms `infantjax export --format litert` traces in (infantjax.deploy), in float32 whatever the policy
        with backend.use(FORMS["mobile"], compute_dtype="float32"):
            formats.write("litert", d.graph("mobile"), (self.batch, *d.input_shape), path, input_name=d.input_name,
                          output_names=d.output_names)
        differences = self._check(d, path) if self.check else {}
        off = {n: r for n, (_, r) in differences.items() if not r <= TOLERANCE}
        refused = None
        if off:
            path.unlink(missing_ok=True)
            worst = ", ".join(f"{n} {r:.2e}" for n, r in off.items())
            refused = (f"the LiteRT file of stack {stack} differs from the XLA path by {worst} relative (the export "
                       f"check's bound is {TOLERANCE:g}): XLA scores this stack")
            log.warning("%s; %s", refused, folder)
        seconds = time.perf_counter() - started
        write_json(folder / _RECORD, {
            "format": "infantjax-litert-scoring", "key": self.key(stack, config),
            "file": None if refused else _FILE, "refused": refused,
            "stack": stack, "spec": d.metadata.get("spec"), "inputs": dict(inputs.compile_key()),
            "instances": self.ensemble.stack_sizes[stack], "batch": self.batch,
            "input": {"name": d.input_name, "shape": [self.batch, *d.input_shape], "layout": d.input_layout},
            "outputs": [{"name": n, "layout": lay} for n, lay in zip(d.output_names, d.output_layouts)],
            "check": {"tolerance": TOLERANCE, "differences": {n: {"max_abs": a, "max_rel": r}
                                                             for n, (a, r) in differences.items()}},
            "seconds": seconds, "tensorflow": _tf_version(), **_versions()}, sort_keys=False)
        self.converted.append((stack, folder, seconds))
        return None if refused else path

    def _check(self, d, path: pathlib.Path) -> dict:
        """The new file's outputs (and the joint CAM scores of its maps) against the XLA path on a sample batch:
        per output, (largest absolute difference, the same relative to the largest magnitude of the XLA output)."""
        from infantjax.deploy.formats import Runner

        x = d.sample(self.batch)
        got = Runner(path, "litert", d.output_names, threads=self.threads)(x)
        with backend.use(compute_dtype="float32"):  # the file computes in float32: so does what it is held to
            want = d.reference(x)
        differences = {}
        # the outputs of the file, and the joint CAM scores the scorer computes from its maps
        got, want = (*got, joint_scores(got[1], signed=True)), (*want, joint_scores(want[1], signed=True))
        for name, a, b in zip((*d.output_names, "cam"), got, want):
            a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
            diff = float(np.max(np.abs(a - b))) if a.shape == b.shape else float("inf")
            scale = float(np.max(np.abs(b))) if b.size else 0.0
            differences[name] = (diff, diff / scale if scale > 0 else diff)
        return differences

    # ------------------------------------------------------------------ scoring
    def _runner(self, stack: int, config=None):
        from infantjax.deploy.formats import Runner

        key = (stack, self.key(stack, config))
        if key not in self._runners:
            path = self._file(stack, config)
            if path is None:  # refused by the check: XLA scores this stack
                self._runners[key] = None
                return None
            try:
                self._runners[key] = Runner(path, "litert", ("probability", "cam_map"), threads=self.threads)
            except (ValueError, RuntimeError, OSError) as err:  # the interpreter's own errors for a damaged file
                why = (str(err).strip() or type(err).__name__).splitlines()[0]
                raise ExportError(f"{path} (the cached LiteRT file of stack {stack}) cannot be loaded ("
                                  f"{type(err).__name__}: {why}); delete {path.parent} and run again to convert it "
                                  "anew") from None
        return self._runners[key]

    def __call__(self, positions: np.ndarray, config=None) -> tuple[np.ndarray, np.ndarray]:
        """Score preprocessed windows with every instance through the LiteRT files.

        Arguments:
            positions: (W, window, 19, 2) preprocessed positions.
            config: the inputs (or training config) the windows are scored under (default the ensemble's).

        Returns:
            (P(CP) (W, I), signed joint CAM scores (I, W, V) in [-1, 1]) over all I instances in stack order.

        Raises:
            DataError: windows of another shape, or with NaN/inf. ExportExtraError, ExportError: as :meth:`prepare`.
        """
        positions = self.ensemble.check_windows(positions, config, "the LiteRT scorer")
        n = positions.shape[0]
        padded = -(-n // self.batch) * self.batch
        if padded > n:  # zero windows fill the last call; their outputs are dropped
            positions = np.concatenate([positions, np.zeros((padded - n, *positions.shape[1:]), np.float32)])
        probs, cams = [], []
        for k in range(len(self.ensemble.specs)):
            runner = self._runner(k, config)
            if runner is None:
                p, c = self._xla_stack(k).window_predictions(positions[:n], config=config)
                probs.append(p)
                cams.append(c)
                continue
            parts = [runner(positions[lo:lo + self.batch]) for lo in range(0, padded, self.batch)]
            probs.append(np.concatenate([p for p, _ in parts])[:n])  # (W, I_k)
            maps = np.concatenate([c[:n - lo] for lo, (_, c) in zip(range(0, padded, self.batch), parts)])
            # (W, I_k, T', V, 2) → (I_k, W, V)
            cams.append(np.swapaxes(joint_scores(maps, signed=True), 0, 1))
        return np.concatenate(probs, axis=1), np.concatenate(cams, axis=0)


    def _xla_stack(self, stack: int):
        """Stack ``stack`` alone as an ensemble, scored by XLA (its compiled programs kept by the scorer)."""
        if stack not in self._xla:
            ens = self.ensemble
            self._xla[stack] = type(ens)([ens.specs[stack]], [ens.variables[stack]], ens.config, ens.threshold)
        return self._xla[stack]


def _tf_version() -> str | None:
    import sys

    tf = sys.modules.get("tensorflow")
    return getattr(tf, "__version__", None)

