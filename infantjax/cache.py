"""A persistent cache of compiled XLA programs, so that a later process skips compiling the same program.

A first 70-instance ensemble scoring compiles for about a minute on 2 CPU cores, a pose tracker or a training step
for seconds; JAX's persistent compilation cache (``jax_compilation_cache_dir``) keeps the executables on disk.
:func:`enable_compilation_cache` picks the directory (one per CPU type and JAX version, see
:func:`compilation_cache_dir`), checks that it is writable and turns the cache on. The ``infantjax`` command does
this for every subcommand except ``bench`` (whose first-call figures are meant to include compiling);
``--compilation-cache off`` or ``INFANTJAX_COMPILATION_CACHE=off`` turn it off, a directory there moves it::

    import infantjax
    infantjax.cache.enable_compilation_cache()          # ~/.cache/infantjax/xla/<jax>-<cpu>
    ensemble.window_predictions(recording)              # the second process loads instead of compiling

The directory is trusted code: JAX loads executables from it, so never point it at a directory others can write.
This module does not import JAX: called before JAX starts it sets JAX's environment variables, after it the config.

Beside the executables, ``infantjax-programs/`` keeps the ensemble's traced scoring programs
(:mod:`infantjax.infer.stored`), so that a later process does not trace them again either.

:func:`litert_cache_dir` is where ``infantjax assess --runtime litert`` keeps the LiteRT files of ensemble stacks
(:mod:`infantjax.deploy.scoring`), beside this cache.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import os
import pathlib
import platform
import sys

from infantjax.errors import ConfigError

__all__ = ["CACHE_ENV", "LITERT_CACHE_ENV", "cache_setting", "compilation_cache_dir", "enable_compilation_cache",
           "litert_cache_dir"]

log = logging.getLogger(__name__)

CACHE_ENV = "INFANTJAX_COMPILATION_CACHE"
#: Where ``infantjax assess --runtime litert`` keeps the LiteRT files of ensemble stacks (:func:`litert_cache_dir`).
LITERT_CACHE_ENV = "INFANTJAX_LITERT_CACHE"
_OFF = ("0", "off", "false", "no", "none")
_ON = ("", "1", "on", "true", "yes", "default")


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - jax from a source tree
        return "unknown"


def _machine_tag() -> str:
    """A short fingerprint of this machine's CPU (model and instruction-set flags) and the jax/jaxlib versions.

    JAX's cache key covers the program, the compile options and the platform name, but not the host CPU's
    instruction set: an XLA:CPU program compiled for AVX-512 would crash a machine without it that shares the
    directory (a home directory on a cluster's network file system). One sub-directory per fingerprint avoids that.
    """
    cpu = platform.machine() + platform.processor()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith(("model name", "flags", "Features", "CPU part")):
                    cpu += line
                if not line.strip():  # the first processor is enough
                    break
    except OSError:  # not Linux: the platform strings above
        pass
    digest = hashlib.sha256(cpu.encode()).hexdigest()[:12]
    return f"jax{_version('jax')}-jaxlib{_version('jaxlib')}-{digest}"


def cache_setting(value: str | None = None) -> tuple[bool, pathlib.Path | None]:
    """What a ``--compilation-cache`` value (or, when None, ``$INFANTJAX_COMPILATION_CACHE``) asks for:
    ``(False, None)`` for off ("off", "0", "false"), ``(True, None)`` for the default directory ("", "on", "1"),
    ``(True, path)`` for a directory."""
    raw = os.environ.get(CACHE_ENV, "") if value is None else value
    word = raw.strip().lower()
    if word in _OFF:
        return False, None
    if word in _ON:
        return True, None
    return True, pathlib.Path(raw).expanduser()


def compilation_cache_dir() -> pathlib.Path:
    """The default directory: ``$XDG_CACHE_HOME/infantjax/xla/<tag>`` (or ``~/.cache/…``), where the tag names
    the JAX versions and a fingerprint of the CPU (:func:`_machine_tag`)."""
    base = pathlib.Path(os.environ.get("XDG_CACHE_HOME") or pathlib.Path.home() / ".cache")
    return base / "infantjax" / "xla" / _machine_tag()


def litert_cache_dir() -> pathlib.Path:
    """Where the LiteRT files of ensemble stacks are kept (:mod:`infantjax.deploy.scoring`): ``$INFANTJAX_LITERT_CACHE``
    if set, else ``$XDG_CACHE_HOME/infantjax/litert`` (or ``~/.cache/…``), beside the compilation cache. One
    sub-directory per stack, named by a hash of its weights, architecture, inputs, batch and the infantjax and JAX
    versions; nothing there depends on the CPU (the interpreter picks its kernels when it loads a file)."""
    raw = os.environ.get(LITERT_CACHE_ENV, "").strip()
    if raw:
        return pathlib.Path(raw).expanduser()
    base = pathlib.Path(os.environ.get("XDG_CACHE_HOME") or pathlib.Path.home() / ".cache")
    return base / "infantjax" / "litert"


def enable_compilation_cache(path: str | os.PathLike | None = None, *,
                             min_compile_time_s: float = 1.0) -> pathlib.Path:
    """Turn JAX's persistent compilation cache on (see the module docstring).

    Arguments:
        path: the directory (None: a directory already set through JAX's own ``jax_compilation_cache_dir`` /
            ``$JAX_COMPILATION_CACHE_DIR``, else :func:`compilation_cache_dir`).
        min_compile_time_s: programs that compiled faster than this are not written.

    Returns:
        The directory in use.

    Raises:
        ConfigError: the directory cannot be created or written, or ``min_compile_time_s`` is negative.
    """
    if not float(min_compile_time_s) >= 0:
        raise ConfigError(f"min_compile_time_s must be >= 0 seconds, got {min_compile_time_s}")
    jax = sys.modules.get("jax")
    current = jax.config.jax_compilation_cache_dir if jax is not None else os.environ.get("JAX_COMPILATION_CACHE_DIR")
    if path is None and current:
        target = pathlib.Path(current)
    else:
        target = pathlib.Path(path).expanduser() if path is not None else compilation_cache_dir()
    try:
        target.mkdir(parents=True, exist_ok=True)
        probe = target / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise ConfigError(f"cannot use {str(target)!r} as the compilation cache ({err.strerror or err}); pass a "
                          f"writable directory, or turn the cache off ({CACHE_ENV}=off)") from None
    if jax is None:  # JAX reads these when it starts
        os.environ["JAX_COMPILATION_CACHE_DIR"] = str(target)
        os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = repr(float(min_compile_time_s))
    else:
        if current and pathlib.Path(current) != target:
            try:  # a cache already opened keeps its directory otherwise
                from jax._src import compilation_cache as _cc

                _cc.reset_cache()
            except (ImportError, AttributeError):  # pragma: no cover - a jax without it
                log.debug("could not reset the open compilation cache")
        jax.config.update("jax_compilation_cache_dir", str(target))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", float(min_compile_time_s))
    log.debug("persistent compilation cache at %s", target)
    return target
