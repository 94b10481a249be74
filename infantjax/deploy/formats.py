"""The deployment formats: writing a traced function to StableHLO, ONNX or LiteRT, and running the file written.

* **StableHLO** (``.stablehlo``): ``jax.export`` serialises the lowered program with its weights as constants; it
  runs wherever JAX (or any StableHLO consumer: IREE, XLA's PJRT plugins) runs, on the platforms it was lowered for,
  reloaded with ``jax.export.deserialize``. No dependency beyond JAX.
* **ONNX** (``.onnx``): ``jax2onnx`` converts the traced function; ONNX Runtime (CPU, CUDA, TensorRT, OpenVINO,
  DirectML, mobile) runs it. Extra ``onnx``.
* **LiteRT** (``.tflite``): the route the LiteRT documentation gives for JAX models: ``jax2tf`` → a TensorFlow
  SavedModel → the LiteRT (TFLite) converter; the LiteRT interpreter (``ai-edge-litert``) runs it on phones and edge
  boxes. Extra ``litert`` (it brings TensorFlow, which the default and test installs never need).

Each writer takes a function of one float32 array (a leading batch axis, ``None`` = symbolic where the format allows)
returning a tuple of arrays, and raises :class:`~infantjax.errors.ExportError` naming the operation and the format for
what the format cannot express, or the extra to install when its converter is missing.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import re
import tempfile
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from infantjax.errors import ExportError, ExportExtraError
from infantjax.io.files import write_bytes

__all__ = ["FORMATS", "SUFFIXES", "Runner", "check_format", "load", "suffix_mismatch", "write"]

log = logging.getLogger(__name__)

#: The formats, in the order of the CLI's choices.
FORMATS = ("stablehlo", "onnx", "litert")
#: The file suffix of each format.
SUFFIXES = {"stablehlo": ".stablehlo", "onnx": ".onnx", "litert": ".tflite"}
_TITLES = {"stablehlo": "StableHLO", "onnx": "ONNX", "litert": "LiteRT"}


def check_format(fmt: str) -> str:
    """``fmt`` if it is one of :data:`FORMATS` (case-insensitive; ``tflite`` is LiteRT's old name).

    Raises:
        ExportError: an unknown format.
    """
    name = str(fmt).lower()
    name = {"tflite": "litert", "stable-hlo": "stablehlo", "hlo": "stablehlo"}.get(name, name)
    if name not in FORMATS:
        raise ExportError(f"unknown deployment format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return name


def _require(module: str, fmt: str, extra: str):
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ExportExtraError(f"exporting to {_TITLES[fmt]} needs the optional package {module.split('.')[0]!r} "
                          f"({type(err).__name__}: {err}); install it with pip install 'infantjax[{extra}]'") from None


# ---------------------------------------------------------------------------------------------------- StableHLO
def _stablehlo(fn: Callable, shape: tuple, path, platforms: Sequence[str]) -> None:
    spec = ", ".join("b" if d is None else str(int(d)) for d in shape)
    dims = jax.export.symbolic_shape(spec) if None in shape else tuple(int(d) for d in shape)
    try:
        exported = jax.export.export(jax.jit(fn), platforms=tuple(platforms))(
            jax.ShapeDtypeStruct(dims, jnp.float32))
    except Exception as err:  # noqa: BLE001 - jax raises several kinds for what it cannot lower or keep symbolic
        raise ExportError(f"StableHLO cannot express this model for input shape ({spec}) on {list(platforms)}: "
                          f"{type(err).__name__}: {_first_line(err)}; export with a fixed --batch") from None
    write_bytes(path, bytes(exported.serialize()))


# ---------------------------------------------------------------------------------------------------- ONNX
@contextlib.contextmanager
def _quiet(*names: str, level: int = logging.ERROR):
    """Silence the converters' own loggers (jax2onnx's IR serialiser warns on every constant it writes)."""
    loggers = [logging.getLogger(n) for n in names]
    before = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(level)
    try:
        yield
    finally:
        for lg, lvl in zip(loggers, before):
            lg.setLevel(lvl)


def _onnx(fn: Callable, shape: tuple, path, input_name: str, output_names: Sequence[str]) -> None:
    jax2onnx = _require("jax2onnx", "onnx", "onnx")
    spec = [tuple("N" if d is None else int(d) for d in shape)]
    try:
        with _quiet("onnx_ir", "jax2onnx"):
            model = jax2onnx.to_onnx(fn, spec, model_name="infantjax", input_names=[input_name],
                                     output_names=list(output_names))
    except NotImplementedError as err:
        found = re.search(r"primitive '([^']+)'", str(err))
        op = found.group(1) if found else _first_line(err)
        raise ExportError(f"ONNX cannot express the operation {op!r} of this model (jax2onnx "
                          f"{getattr(jax2onnx, '__version__', '')} has no conversion for it); export it to "
                          "StableHLO instead") from None
    # jax2onnx records shapes of intermediate values, some in the wrong layout (ONNX Runtime warns and infers its
    # own): keep the graph's inputs and outputs typed and let every runtime infer the rest
    del model.graph.value_info[:]
    write_bytes(path, model.SerializeToString())


# ---------------------------------------------------------------------------------------------------- LiteRT
def _tensorflow():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up banners
    return _require("tensorflow", "litert", "litert")


def _litert_error(err: Exception) -> ExportError:
    """The converter's error as the operation it could not express."""
    text = str(err)
    jax_op = re.search(r'loc\((?:callsite\()?"(?:jit\([^)]*\)/)?([\w.]+)"', text)
    mlir_op = (re.search(r"unregistered operation '([\w.]+)'", text)
               or re.search(r'see current operation: %\S+ = "([\w.]+)"', text)
               or re.search(r"'([\w.]+)' op is neither a custom op nor a flex op", text))
    where = re.search(r'"(/[^"]+\.py)":(\d+)', text)
    parts = [p for p in (jax_op and jax_op.group(1), mlir_op and mlir_op.group(1)) if p]
    what = " / ".join(dict.fromkeys(parts)) or _first_line(err)
    at = f" (at {where.group(1)}:{where.group(2)})" if where else ""
    return ExportError(f"LiteRT cannot express the operation {what}{at} of this model (the TFLite converter "
                       "refused it); LiteRT needs a fixed batch (--batch N), or export to StableHLO or ONNX")


def _litert(fn: Callable, shape: tuple, path, input_name: str, output_names: Sequence[str]) -> None:
    tf = _tensorflow()
    from jax.experimental import jax2tf

    poly = ["(b, ...)"] if None in shape else None
    converted = jax2tf.convert(lambda x: dict(zip(output_names, fn(x))), polymorphic_shapes=poly,
                               with_gradient=False)
    module = tf.Module()
    module.f = tf.function(converted, autograph=False,
                           input_signature=[tf.TensorSpec(list(shape), tf.float32, name=input_name)])
    with tempfile.TemporaryDirectory(prefix="infantjax-litert-") as folder:
        try:
            tf.saved_model.save(module, folder, signatures=module.f.get_concrete_function())
            blob = tf.lite.TFLiteConverter.from_saved_model(folder).convert()
        except Exception as err:  # noqa: BLE001 - the converter raises its own ConverterError (and others)
            raise _litert_error(err) from None
    write_bytes(path, blob)


def write(fmt: str, fn: Callable, shape: tuple, path, *, input_name: str, output_names: Sequence[str],
          platforms: Sequence[str] = ("cpu",)) -> None:
    """Write ``fn`` to ``path`` in format ``fmt`` (atomic).

    Arguments:
        fmt: one of :data:`FORMATS`.
        fn: ``fn(x)`` → a tuple of arrays, ``x`` float32 of ``shape``; traced (its weights become constants).
        shape: the input's shape; a ``None`` batch axis is symbolic (StableHLO, ONNX).
        path: the file to write.
        input_name, output_names: the names of the input and outputs in the file.
        platforms: the StableHLO lowering platforms (``cpu``, ``cuda``, ``rocm``, ``tpu``).

    Raises:
        ExportError: what the format cannot express, or a converter that is not installed.
    """
    fmt = check_format(fmt)
    if fmt == "stablehlo":
        _stablehlo(fn, shape, path, platforms)
    elif fmt == "onnx":
        _onnx(fn, shape, path, input_name, output_names)
    else:
        _litert(fn, shape, path, input_name, output_names)


# ---------------------------------------------------------------------------------------------------- running
class Runner:
    """An exported file loaded for inference: ``runner(x)`` → the tuple of its outputs as numpy arrays, in the
    order of ``output_names`` (what the on-the-spot check, the tests and ``benchmarks/export.py`` run).

    Arguments:
        path: the file.
        fmt: its format (default: from the suffix).
        output_names: the names of the outputs, in the order to return them (default: the order of the file's
            sidecar ``<path>.json`` written by :func:`~infantjax.deploy.export`, else the runtime's own order;
            StableHLO outputs are always in the graph's order).
        threads: intra-op threads of ONNX Runtime and the LiteRT interpreter (None: the runtime's default).
    """

    def __init__(self, path, fmt: str | None = None, output_names: Sequence[str] = (), threads: int | None = None):
        self.path = os.fspath(path)
        self.format = check_format(fmt or _format_of(self.path))
        self.output_names = tuple(output_names) or _sidecar_outputs(self.path)
        with open(self.path, "rb") as fh:
            data = fh.read()
        if self.format == "stablehlo":
            self.exported = jax.export.deserialize(bytearray(data))
        elif self.format == "onnx":
            ort = _require("onnxruntime", "onnx", "onnx")
            options = ort.SessionOptions()
            options.log_severity_level = 3
            if threads:
                options.intra_op_num_threads = int(threads)
            self._session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
            self._input = self._session.get_inputs()[0].name
            names = [o.name for o in self._session.get_outputs()]
            self.output_names = self.output_names or tuple(names)
        else:
            interpreter = _litert_interpreter()
            self._interpreter = interpreter(model_content=data, num_threads=threads)
            self._runner = self._interpreter.get_signature_runner()
            self._input = next(iter(self._runner.get_input_details()))
            self.output_names = self.output_names or tuple(self._runner.get_output_details())

    def __call__(self, x: np.ndarray) -> tuple[np.ndarray, ...]:
        x = np.ascontiguousarray(x, np.float32)
        if self.format == "stablehlo":
            return tuple(np.asarray(o) for o in self.exported.call(x))
        if self.format == "onnx":
            return tuple(self._session.run(list(self.output_names), {self._input: x}))
        out = self._runner(**{self._input: x})  # the signature runner resizes and allocates as needed
        return tuple(np.asarray(out[n]) for n in self.output_names)


def _sidecar_outputs(path: str) -> tuple[str, ...]:
    """The output names in the order ``export`` wrote them (its ``<file>.json`` sidecar); ``()`` without one (a LiteRT
    signature lists its outputs by name, not in the graph's order)."""
    import json

    try:
        with open(path + ".json", encoding="utf-8") as fh:
            return tuple(o["name"] for o in json.load(fh)["outputs"])
    except (OSError, ValueError, KeyError, TypeError):
        return ()


def _litert_interpreter():
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        tf = _tensorflow()
        Interpreter = tf.lite.Interpreter
    return Interpreter


def load(path, fmt: str | None = None, output_names: Sequence[str] = (), threads: int | None = None) -> Runner:
    """:class:`Runner` of an exported file."""
    return Runner(path, fmt, output_names, threads)


def suffix_mismatch(fmt: str, path: str | os.PathLike) -> str | None:
    """A sentence saying that ``path``'s suffix is another format's (``x.stablehlo`` for ONNX), or None when it is
    ``fmt``'s own or no format's: :func:`load` and other tools go by the suffix, so such a file is misread later.
    ``infantjax export`` prints it as a warning and writes the file as asked."""
    name = os.fspath(path).lower()
    other = next((f for f, suffix in SUFFIXES.items() if f != fmt and name.endswith(suffix)), None)
    if other is None or name.endswith(SUFFIXES[fmt]):
        return None
    return (f"{os.fspath(path)} has the suffix of the {_TITLES[other]} format ({SUFFIXES[other]}) but is written "
            f"as {_TITLES[fmt]}; tools that go by the suffix (infantjax.deploy.load too) will misread it: name it "
            f"*{SUFFIXES[fmt]}, or pass the format when loading")


def _format_of(path: str) -> str:
    for fmt, suffix in SUFFIXES.items():
        if path.lower().endswith(suffix):
            return fmt
    raise ExportError(f"{path}: cannot tell the format from the suffix; name it (one of {', '.join(FORMATS)})")


def _first_line(err: Exception) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
