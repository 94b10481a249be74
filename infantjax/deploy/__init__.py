"""Deploy: a trained model written to StableHLO, ONNX or LiteRT, checked on the spot against the JAX model.

    from infantjax.deploy import export
    result = export(PosePredictor.pretrained("efficientpose-rt-mpii"), "onnx", "rt.onnx")
    result.max_abs_diff            # the exported file against the JAX model on a sample input
    heatmaps, = load("rt.onnx")(images)

What is exported (:mod:`infantjax.deploy.graphs`): the pose predictor's folded inference graph, the smartphone model
from clips to its calibrated probability, one GCN stack of an ensemble from windows to P(CP) per instance. How
(:mod:`infantjax.deploy.formats`): StableHLO through ``jax.export`` (no dependency beyond JAX), ONNX through jax2onnx
(extra ``onnx``), LiteRT through jax2tf and the TFLite converter (extra ``litert``). ``infantjax export`` is the
command; docs/deploy.md says what each format is for and how to run a file without infantjax.

Each file gets a sidecar ``<file>.json``: the input's name, shape and layout, the outputs', the model's provenance and
the on-the-spot check.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from infantjax import backend
from infantjax.deploy.formats import FORMATS, SUFFIXES, Runner, check_format, load, write
from infantjax.deploy.graphs import FORM_OVERRIDES, FORMS, Deployable, deployable
from infantjax.errors import ConfigError, ExportError
from infantjax.io.files import write_json

__all__ = ["FORMATS", "SUFFIXES", "Deployable", "ExportResult", "Runner", "deployable", "export", "load"]

#: The forms (:data:`infantjax.deploy.graphs.FORMS`) each format's graph is traced in: ONNX runtimes serve XLA's
#: plain convolutions and einsums; the TFLite converter mistranslates dot products over two contracted axes (the
#: GCN's graph aggregation as one einsum; its CPU form is one plain matmul) and has native depthwise convolutions.
_FORMS = {"onnx": "portable", "litert": "mobile"}


@dataclasses.dataclass(frozen=True)
class ExportResult:
    """What :func:`export` wrote and how close it came to the JAX model.

    Attributes:
        path: the file written; sidecar: its ``.json`` description.
        format: ``stablehlo``, ``onnx`` or ``litert``.
        input_name, input_shape: the file's input (``None``: a symbolic batch).
        output_names: its outputs.
        differences: per output, (largest absolute difference, largest difference relative to the largest magnitude
            of the JAX output) between the file and the JAX model on the sample input; empty without a check.
        sample_shape: the shape of the sample input checked.
        seconds: time to export and check.
        bytes: the file's size.
    """

    path: pathlib.Path
    sidecar: pathlib.Path
    format: str
    input_name: str
    input_shape: tuple
    output_names: tuple[str, ...]
    differences: dict
    sample_shape: tuple
    seconds: float
    bytes: int

    @property
    def max_abs_diff(self) -> float:
        """The largest absolute difference over every output (NaN without a check)."""
        return max((d[0] for d in self.differences.values()), default=float("nan"))

    @property
    def max_rel_diff(self) -> float:
        """The largest relative difference over every output (NaN without a check)."""
        return max((d[1] for d in self.differences.values()), default=float("nan"))

    def summary(self) -> str:
        """One line: the file, and the largest difference of each output from the JAX model."""
        shape = "×".join("N" if d is None else str(d) for d in self.input_shape)
        line = f"{self.format} {self.path} ({self.bytes / 1e6:.2f} MB; input {self.input_name} {shape})"
        if not self.differences:
            return line + "; not checked"
        diffs = ", ".join(f"{n} {a:.2e} (relative {r:.2e})" for n, (a, r) in self.differences.items())
        sample = "×".join(str(d) for d in self.sample_shape)
        return f"{line}; largest difference from the JAX model on a sample of {sample}: {diffs}"


def _differences(got: Sequence[np.ndarray], want: Sequence[np.ndarray], names: Sequence[str]) -> dict:
    out = {}
    for name, a, b in zip(names, got, want):
        a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
        if a.shape != b.shape:
            raise ExportError(f"the exported {name} has shape {a.shape}, the JAX model's {b.shape}; the export is "
                              "wrong, please report it")
        diff = float(np.max(np.abs(a - b))) if a.size else 0.0
        scale = float(np.max(np.abs(b))) if b.size else 0.0
        out[name] = (diff, diff / scale if scale > 0 else diff)
    return out


def _platforms(platforms: Sequence[str] | str | None) -> tuple[str, ...]:
    if platforms is None:
        name = backend.platform()
        return ("cuda",) if name == "gpu" else (name,)
    if isinstance(platforms, str):
        platforms = [platforms]
    out = tuple(str(p).lower() for p in platforms)
    known = ("cpu", "cuda", "rocm", "tpu")
    bad = [p for p in out if p not in known]
    if bad or not out:
        raise ConfigError(f"unknown StableHLO platform(s) {bad}; choose from {', '.join(known)}")
    return out


def export(model: Any, format: str, out: str | os.PathLike, *, batch: int | None = None, check: bool = True,
           sample: np.ndarray | None = None, platforms: Sequence[str] | str | None = None,
           **graph_options: Any) -> ExportResult:
    """Write a model's inference to a deployment format and check the file against the JAX model.

    Arguments:
        model: a ``PosePredictor``, a ``SmartphoneModel``, an ``Ensemble`` (one GCN stack) or a :class:`Deployable`.
        format: ``stablehlo``, ``onnx`` or ``litert``.
        out: the file to write (atomic); a sidecar ``<out>.json`` describes it.
        batch: a fixed batch size; None = a symbolic batch for StableHLO and ONNX, 1 for LiteRT (whose converter
            cannot keep the batch symbolic through slicing).
        check: run the file on a sample input (``sample``, else :attr:`Deployable.sample` of 2 examples, or of
            ``batch``) and compare every output with the JAX model's.
        sample: the input of the check.
        platforms: the StableHLO lowering platforms (``cpu``, ``cuda``, ``rocm``, ``tpu``; default the platform JAX
            runs on). A program lowered for CPU alone is traced in infantjax's CPU forms, otherwise in the
            accelerators'.
        graph_options: the options of the model's family's graph (its ``graph_options``): ``stack`` (which
            GCN stack of a CP ensemble), ``clips`` (clips per video of a smartphone model's input, 547 for
            recordings of 4500 samples).

    Returns:
        an :class:`ExportResult` (``summary()`` is one line with the largest differences).

    Raises:
        ExportError: a model that does not export, an operation the format cannot express (named), a converter that
            is not installed (the extra is named). ConfigError: a bad batch or platform, an option the
            family's graph does not take, or a bad value of one it takes.
    """
    fmt = check_format(format)
    started = time.perf_counter()
    d = deployable(model, **graph_options)
    if batch is not None and (isinstance(batch, bool) or int(batch) < 1):
        raise ConfigError(f"batch must be a positive integer or None (symbolic), got {batch!r}")
    if batch is None and fmt == "litert":
        batch = 1
    shape = (None if batch is None else int(batch), *d.input_shape)
    lowering = _platforms(platforms) if fmt == "stablehlo" else ()
    forms = _FORMS.get(fmt) or ("cpu" if lowering == ("cpu",) else "portable")
    path = pathlib.Path(out)
    # Exported files compute in float32 whatever the policy's compute dtype (bfloat16 under the accelerator policy):
    # the parity bounds hold the file to the float32 JAX model, and a runtime picks its own precision.
    with backend.use(FORMS[forms], compute_dtype="float32", **FORM_OVERRIDES[forms]):
        write(fmt, d.graph(forms), shape, path, input_name=d.input_name, output_names=d.output_names,
              platforms=lowering or ("cpu",))
    differences, sample_shape = {}, ()
    if check:
        x = d.sample(batch or 2) if sample is None else np.asarray(sample, np.float32)
        if x.shape[1:] != tuple(d.input_shape) or (batch is not None and x.shape[0] != batch):
            raise ConfigError(f"the check's sample has shape {x.shape}; the file takes "
                              f"({'N' if batch is None else batch}, {', '.join(map(str, d.input_shape))})")
        got = Runner(path, fmt, d.output_names)(x)
        with backend.use(compute_dtype="float32"):  # the file computes in float32: so does what it is held to
            want = d.reference(x)
        differences = _differences(got, want, d.output_names)
        sample_shape = tuple(x.shape)
    seconds = time.perf_counter() - started
    sidecar = pathlib.Path(str(path) + ".json")
    write_json(sidecar, {
        "format": fmt, "file": path.name, "model": d.name, "kind": d.kind,
        "input": {"name": d.input_name, "shape": list(shape), "dtype": "float32", "layout": d.input_layout},
        "outputs": [{"name": n, "layout": lay} for n, lay in zip(d.output_names, d.output_layouts)],
        "forms": forms, "platforms": list(lowering),
        "check": {"sample_shape": list(sample_shape),
                  "differences": {n: {"max_abs": a, "max_rel": r} for n, (a, r) in differences.items()}},
        "metadata": d.metadata, "infantjax": _version()}, sort_keys=False, allow_nan=True)
    return ExportResult(path, sidecar, fmt, d.input_name, shape, d.output_names, differences, sample_shape, seconds,
                        path.stat().st_size)


def _version() -> str:
    from infantjax._version import __version__

    return __version__
