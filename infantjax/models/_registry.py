"""The model registry: every spec type names the network it builds and an input to initialise it with.

A spec class registers itself where it is defined::

    @register(build="infantjax.models.gcn.build:build_model", sample_input=_window)
    @dataclasses.dataclass(frozen=True)
    class GCNSpec(JsonConfig): ...

``build`` is a callable ``(spec, **kwargs) -> flax.linen.Module`` or a ``"module:attribute"`` path to one, imported
on first use (so a spec module need not import its network); ``sample_input(spec, **kwargs)`` returns the shape of
a float32 input batch for ``init`` — counts never depend on its size, so it is small. This module imports neither
JAX nor any model: ``import infantjax.models`` stays cheap and a spec module can import it without a cycle.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import math
from collections.abc import Callable, Mapping
from typing import Any

from infantjax.errors import ConfigError

__all__ = ["FAST_COMPILE", "build", "count_parameters", "init", "init_module", "register", "registered",
           "sample_input"]


@dataclasses.dataclass(frozen=True)
class _Entry:
    build: str | Callable
    sample_input: Callable
    init: str | Callable | None = None
    conventions: Mapping[str, str | Callable] = dataclasses.field(default_factory=dict)


_ENTRIES: dict[type, _Entry] = {}


def register(*, build: str | Callable, sample_input: Callable, init: str | Callable | None = None,
             conventions: Mapping[str, str | Callable] | None = None) -> Callable[[type], type]:
    """Class decorator: register a spec type (module docstring).

    Arguments:
        build: ``(spec, **kwargs) -> Module`` or its ``"module:attribute"`` path.
        sample_input: ``(spec, **kwargs) -> shape`` of a float32 batch the network initialises on.
        init: ``(spec, key, **kwargs) -> variables`` when the family initialises otherwise than ``Module.init``
            on the sample input (e.g. the SMA network's one-draw initialisation), or its path; None: the default.
        conventions: a paper's own parameter-counting conventions, by name: ``(spec, **options) -> int`` or its
            path each; :func:`count_parameters` ``(spec, convention=name)`` counts with them.

    Returns:
        the decorator, which returns the class unchanged.
    """
    def decorate(cls: type) -> type:
        _ENTRIES[cls] = _Entry(build, sample_input, init, dict(conventions or {}))
        return cls

    return decorate


def registered() -> tuple[type, ...]:
    """The registered spec types (those whose modules have been imported)."""
    return tuple(_ENTRIES)


def _entry(spec: Any) -> _Entry | None:
    for cls in type(spec).__mro__:
        if cls in _ENTRIES:
            return _ENTRIES[cls]
    return None


def _require(spec: Any) -> _Entry:
    entry = _entry(spec)
    if entry is None:
        names = ", ".join(sorted(c.__name__ for c in _ENTRIES))
        raise ConfigError(f"no network is registered for {type(spec).__name__}; pass a spec of one of: {names}")
    return entry


def _resolve(target: str | Callable) -> Callable:
    if callable(target):
        return target
    module, _, attr = target.partition(":")
    obj = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def build(spec: Any, **kwargs):
    """The Flax module of ``spec`` (any registered spec: GCNSpec, STGCNSpec, EfficientPoseSpec,
    EfficientHourglassSpec, OpenPoseSpec, DetectionSpec, RegressionSpec).

    Arguments:
        spec: the configuration.
        kwargs: options of that family's builder (e.g. ``mode``, ``conv_impl``, ``skeleton`` for the GCNs).

    Returns:
        an unbound ``flax.linen.Module``; ``init(rng, x, train=False)`` / ``apply(variables, x, train=...)``.
    """
    return _resolve(_require(spec).build)(spec, **kwargs)


#: XLA:CPU options that make a one-off program (an initialisation) compile ~40 % faster (no expensive passes)
FAST_COMPILE = {"xla_backend_optimization_level": 0, "xla_llvm_disable_expensive_passes": True}


def init(spec: Any, key, *, input_shape: tuple[int, ...] | None = None, **kwargs) -> dict:
    """Initial variables of the network of ``spec``: the one construction rule every task, pipeline and counter
    uses (with :func:`build`).

    Outside a transformation the initialisation is one jitted program compiled cheaply — it runs once: under the
    CPU backend policy without XLA's expensive passes (:func:`infantjax.backend.current`,
    ``fast_init_compile``) — with the sample batch as an argument (a closed-over constant would be folded through
    every convolution by XLA, which takes minutes). Inside a transformation (a task's ``init`` in the engine's
    jitted, vmapped program; ``jax.eval_shape``) it is ``Module.init`` itself.

    Arguments:
        spec: a registered spec.
        key: PRNG key.
        input_shape: the shape of the float32 batch to initialise on (default the spec's registered sample input;
            variables do not depend on its batch size).
        kwargs: options of the family's builder (as for :func:`build`).

    Returns:
        the Flax variables, ``{"params", ...}``.
    """
    import jax.numpy as jnp

    entry = _require(spec)
    if entry.init is not None:
        return dict(_resolve(entry.init)(spec, key, **kwargs))
    model = _resolve(entry.build)(spec, **kwargs)
    x = jnp.zeros(tuple(input_shape) if input_shape is not None else sample_input(spec, **kwargs), jnp.float32)
    return init_module(model, key, x)


def init_module(model, key, x, *, options: dict | None = None) -> dict:
    """``model.init(key, x, train=False)`` compiled as :func:`init` compiles it (for modules built outside the
    registry, e.g. a task given a ready module).

    Arguments:
        model, key, x: the module, a PRNG key and the (zero) batch it initialises on.
        options: XLA compiler options under the CPU policy (default :data:`FAST_COMPILE`).
    """
    import jax

    from infantjax import backend

    if _traced(key) or _traced(x):
        return dict(model.init(key, x, train=False))
    lowered = jax.jit(lambda k, x: model.init(k, x, train=False)).lower(key, x)
    try:
        fast = FAST_COMPILE if options is None else options
        compiled = lowered.compile(fast if backend.current().fast_init_compile else None)
    except Exception:  # noqa: BLE001 - an XLA without these options: the default compilation
        compiled = lowered.compile()
    return dict(compiled(key, x))


def _traced(value) -> bool:
    """Whether ``value`` is abstract — an argument inside ``jit``, ``vmap`` or ``jax.eval_shape`` — rather than a
    concrete array: the host cannot read a traced value (``jax.errors.TracerArrayConversionError``), it can read a
    concrete one (here a PRNG key's two words or a small zero sample batch)."""
    import jax
    import numpy as np

    if not isinstance(value, jax.Array):
        return False
    if jax.dtypes.issubdtype(value.dtype, jax.dtypes.prng_key):
        value = jax.random.key_data(value)
    try:
        np.asarray(value)
    except jax.errors.TracerArrayConversionError:
        return True
    return False


def sample_input(spec: Any, **kwargs) -> tuple[int, ...]:
    """The shape of a small float32 batch the network of ``spec`` initialises on (its registered
    ``sample_input``; e.g. (1, T, V, C) for a GCN), so callers need not know each family's input channels."""
    return tuple(int(n) for n in _require(spec).sample_input(spec, **kwargs))


def count_parameters(variables_or_spec: Any, *, collections: tuple[str, ...] | None = None,
                     convention: str | None = None, **kwargs) -> int:
    """The number of scalars in a network's variables: the one parameter counter of every family.

    Arguments:
        variables_or_spec: a registered spec — its network is initialised shapes-only (``jax.eval_shape``, nothing
            allocated; cached per spec) — or a variables pytree (``{"params": ..., "batch_stats": ...}``, a bare
            parameter tree, arrays or ``jax.ShapeDtypeStruct`` leaves, stacked ensembles included).
        collections: count only these top-level collections (e.g. ``("params",)`` for the trained parameters;
            a collection the variables lack counts 0); None = every leaf.
        convention: a paper's counting convention registered for the spec's type (``register(conventions=...)``)
            instead of the network's variables: the GCNs' ``"reference"`` (every layer the reference code builds,
            Table A.4 of seed 002, e.g. 233,362 for architecture 1) and ``"live"`` (the layers that run), counted
            analytically; their options are ``num_joints`` and ``mode``.
        kwargs: with a spec, options of its builder (as for :func:`build`), or of the convention.

    Returns:
        the count. For a spec it does not depend on ``spec.dtype`` (parameters are always float32).
        EfficientPose's official count (its README §2.6) is every collection, the default.

    Raises:
        ConfigError: not a registered spec or a variables dict; a convention the spec's type does not register, or
            a convention with ``collections``.
    """
    if collections is not None:
        if isinstance(collections, str) or not all(isinstance(c, str) for c in collections):
            raise ConfigError(f"collections must be a tuple of collection names, got {collections!r}")
        collections = tuple(collections)
    entry = _entry(variables_or_spec)
    if convention is not None:
        return _count_convention(variables_or_spec, entry, convention, collections, kwargs)
    if entry is not None:
        try:
            return _count_spec(variables_or_spec, collections, tuple(sorted(kwargs.items())))
        except TypeError:  # an unhashable option (e.g. an unregistered skeleton object): count without the cache
            return _count_spec.__wrapped__(variables_or_spec, collections, tuple(sorted(kwargs.items())))
    if kwargs:
        raise ConfigError(f"count_parameters takes builder options only with a spec, got {sorted(kwargs)}")
    if not isinstance(variables_or_spec, Mapping):
        raise ConfigError(f"count_parameters needs a registered spec or a variables dict, got "
                          f"{type(variables_or_spec).__name__}")
    return _count_tree(variables_or_spec, collections)


def _count_convention(spec: Any, entry: _Entry | None, convention: str, collections, options: dict) -> int:
    """The count of ``spec`` under a registered convention (:func:`count_parameters`)."""
    if entry is None:
        raise ConfigError(f"a counting convention ({convention!r}) needs a registered spec, got "
                          f"{type(spec).__name__}")
    if collections is not None:
        raise ConfigError("count_parameters takes collections or a convention, not both: a convention counts the "
                          "paper's way, not the variables' collections")
    if convention not in entry.conventions:
        named = ", ".join(sorted(entry.conventions)) or "none"
        raise ConfigError(f"unknown counting convention {convention!r} for {type(spec).__name__} (its conventions: "
                          f"{named}); count_parameters without a convention counts the network's variables")
    return int(_resolve(entry.conventions[convention])(spec, **options))


def _count_tree(variables: Mapping, collections: tuple[str, ...] | None) -> int:
    import jax

    trees = [variables] if collections is None else [variables[c] for c in collections if c in variables]
    return sum(math.prod(getattr(leaf, "shape", ())) for tree in trees for leaf in jax.tree_util.tree_leaves(tree))


@functools.lru_cache(maxsize=256)
def _count_spec(spec: Any, collections: tuple[str, ...] | None, options: tuple) -> int:
    import jax
    import jax.numpy as jnp

    kwargs = dict(options)
    entry = _require(spec)
    model = _resolve(entry.build)(spec, **kwargs)
    shape = sample_input(spec, **kwargs)
    shapes = jax.eval_shape(lambda key, x: model.init(key, x, train=False), jax.random.key(0),
                            jax.ShapeDtypeStruct(shape, jnp.float32))
    return _count_tree(shapes, collections)
