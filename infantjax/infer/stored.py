"""Traced programs kept on disk beside JAX's persistent compilation cache, so that a later process skips tracing.

JAX's persistent cache (:mod:`infantjax.cache`) keeps compiled executables, but it is looked up by the program
JAX traces and lowers first: a fresh process scoring the paper's 70-instance ensemble still traces and lowers the
ten Table A.4 networks at two call sizes (about 12 s on 2 CPU cores) before the cache can answer. This store keeps
each scoring program as JAX exported it (:mod:`jax.export`: StableHLO with its shardings), named by a hash of what
decides the program — the forward's architecture and inputs, the call's shapes, dtypes and shardings, the backend
policy's mode, the platform, JAX's numeric settings, the JAX versions and the infantjax source itself — and a later
process reads it back instead of tracing. The program compiled is the same either way (the stored one is always
what runs, so its compiled form is what the persistent cache holds).

The store is on wherever JAX's persistent compilation cache is (``<cache dir>/infantjax-programs``: the ``infantjax``
command turns both on, :func:`infantjax.cache.enable_compilation_cache` in a script);
``INFANTJAX_PROGRAM_STORE=off`` turns it off alone. A function opts in by carrying a ``program_key`` attribute (a
string that names what it computes as precisely as its compiled programs differ, e.g.
:func:`infantjax.infer.cp.scoring_forward`'s). Like the compilation cache the folder is trusted: never point it at a
folder others can write.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import pathlib
from collections.abc import Callable
from typing import Any

import jax

from infantjax import backend

__all__ = ["STORE_ENV", "lower", "source_tag", "store_dir"]

log = logging.getLogger(__name__)

STORE_ENV = "INFANTJAX_PROGRAM_STORE"
_OFF = ("0", "off", "false", "no", "none")


@functools.lru_cache(maxsize=1)
def source_tag() -> str:
    """A hash of every Python file of the installed infantjax package and of the JAX versions: a program stored by
    another version of either (or an edited source tree) is never read."""
    import importlib.metadata

    try:
        jaxlib = importlib.metadata.version("jaxlib")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - jax from a source tree
        jaxlib = "unknown"
    root = pathlib.Path(__file__).resolve().parents[1]
    digest = hashlib.sha256(f"jax {jax.__version__} jaxlib {jaxlib}".encode())
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def store_dir() -> pathlib.Path | None:
    """``<JAX's persistent compilation cache>/infantjax-programs``, or None where that cache is off,
    ``$INFANTJAX_PROGRAM_STORE`` says off, or JAX runs several processes (each traces its own)."""
    if os.environ.get(STORE_ENV, "").strip().lower() in _OFF or jax.process_count() > 1:
        return None
    cache = jax.config.jax_compilation_cache_dir
    return pathlib.Path(cache) / "infantjax-programs" if cache else None


def _abstract(tree) -> Any:
    return jax.tree_util.tree_map(
        lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=getattr(a, "sharding", None)), tree)


def _name(key: str, args) -> str:
    leaves, tree = jax.tree_util.tree_flatten(_abstract(args))
    devices = jax.devices()
    what = (key, source_tag(), str(tree), [(tuple(a.shape), str(a.dtype), str(a.sharding)) for a in leaves],
            backend.platform(), devices[0].device_kind, len(devices), bool(jax.config.jax_enable_x64),
            str(jax.config.jax_default_matmul_precision))
    return hashlib.sha256(repr(what).encode()).hexdigest()[:32]


def lower(program: Callable, fn: Callable, args: tuple, *, program_of: Any = (), in_shardings,
          out_shardings) -> jax.stages.Lowered:
    """``program.lower(*args)``, through the store when it is on and ``fn`` (the function ``program`` jits) has a
    ``program_key``: the stored export of the same program when there, else ``program`` exported and stored.

    Arguments:
        program: the jitted program (its shardings ``in_shardings`` and ``out_shardings``).
        fn: what it computes, carrying ``program_key``.
        args: concrete arrays or ``jax.ShapeDtypeStruct`` s, as ``program.lower`` takes them.
        program_of: what else decides the program ``program`` wraps ``fn`` in (its mapping over instances, the
            backend policy), part of the stored program's name.
    """
    key, store = getattr(fn, "program_key", None), store_dir()
    if key is None or store is None:
        return program.lower(*args)
    path = store / f"{_name(repr((str(key), program_of)), args)}.jaxexport"
    exported = None
    if path.is_file():
        try:
            exported = jax.export.deserialize(bytearray(path.read_bytes()))
        except Exception as err:  # noqa: BLE001 - a damaged or foreign file: trace again and replace it
            log.debug("stored program %s unreadable (%s: %s); tracing again", path.name, type(err).__name__, err)
    if exported is None:
        try:
            blob = jax.export.export(program)(*_abstract(args)).serialize()
            # what a later process reads back lowers to a module of its own (not the in-memory export's): compile
            # that one now, so the compilation cache holds what later processes look up
            exported = jax.export.deserialize(blob)
        except Exception as err:  # noqa: BLE001 - a program export cannot take (e.g. a host callback): as before
            log.debug("program not exportable (%s: %s); lowered as it is", type(err).__name__, err)
            return program.lower(*args)
        try:
            store.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.partial")
            tmp.write_bytes(blob)
            os.replace(tmp, path)
        except OSError as err:
            log.debug("could not store %s (%s)", path.name, err)
    return jax.jit(exported.call, in_shardings=in_shardings, out_shardings=out_shardings).lower(*args)
